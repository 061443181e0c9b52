/*
 * matmul.h — weight-matrix times activations, the product that takes nearly
 * all of a forward pass's time: Y = X * W^T for a weight matrix stored in any
 * supported ggml type and float activations.
 *
 * Not for: attention (activation times activation), element-wise ops, or
 * quantizing weights (quant.h). The per-ISA kernels behind llp_matmul live in
 * lib/kernels/; this header is the only interface the engine needs.
 *
 * Shapes and units:
 *   W  n_out rows, each llp_row_size(type, n_in) bytes, rows contiguous
 *      (a GGUF tensor with ne = {n_in, n_out}). n_in is a multiple of the
 *      type's block size (32 or 256; 1 for F32/F16/BF16).
 *   X  n_tok x n_in floats, token-major: X[t * n_in + i].
 *   Y  n_tok x n_out floats, token-major: Y[t * n_out + r]
 *        = sum_i W[r][i] * X[t * n_in + i].
 *   Y must not overlap W or X.
 *
 * Precision: like llama.cpp, the fast path quantizes X once per call to 8-bit
 * blocks (32 values for Q4_0..Q8_0, 256 for K-quants) and multiplies in
 * integers, so results differ from llp_matmul_ref by roughly 0.5% of the
 * output's RMS. F32, F16 and BF16 weights are multiplied in float (products
 * exact, f32 accumulation), differing only by summation order.
 */
#ifndef LLP_MATMUL_H
#define LLP_MATMUL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "threads.h"

/* Y = X * W^T using the pool's threads (pool may be NULL: single thread).
 * Aborts with a message for a type llp_matmul_supports() rejects. */
void llp_matmul(llp_pool *pool, uint32_t type, const void *W, int64_t n_in,
                int64_t n_out, const float *X, int64_t n_tok, float *Y);

/* Packed weights (see lib/kernels/kernels.h): the same rows repacked once
 * so 16 rows lie side by side; products on them equal llp_matmul's on the
 * original rows bit for bit, and run faster (no transposition per call, one
 * sequential stream per 16 rows). llp_matmul_pack returns the packed copy
 * (free() it), or NULL when the type has no packed layout. */
void *llp_matmul_pack(uint32_t type, const void *W, int64_t n_in, int64_t n_out);
size_t llp_matmul_packed_bytes(uint32_t type, int64_t n_in, int64_t n_out);
/* True when the kernel set in use has a SIMD product on packed weights of
 * this type (the AVX-512 set has them); the others would multiply packed
 * weights with the scalar code, so models are packed only when this holds. */
bool llp_matmul_prefers_packed(uint32_t type);
/* Y = X * W^T with W given packed by llp_matmul_pack. */
void llp_matmul_packed(llp_pool *pool, uint32_t type, const void *P, int64_t n_in,
                       int64_t n_out, const float *X, int64_t n_tok, float *Y);

/* Several products of the same input X (n_in wide) in one pool run, so
 * threads meet once instead of once per product and X is quantized once:
 * the q, k and v projections, or the gate and up ones. Each op is W (packed
 * when `packed`) with n_out rows, written to Y; the results equal separate
 * llp_matmul / llp_matmul_packed calls bit for bit. */
#define LLP_MATMUL_MANY_MAX 4
typedef struct llp_matmul_op {
    uint32_t type;
    const void *W;
    bool packed;
    int64_t n_out;
    float *Y;
} llp_matmul_op;
void llp_matmul_many(llp_pool *pool, const llp_matmul_op *ops, int n_ops, int64_t n_in,
                     const float *X, int64_t n_tok);

/* The same product, single-threaded, one llp_dot_ref per output (float
 * activations, no quantization): the reference the kernels are tested
 * against. Slow. */
void llp_matmul_ref(uint32_t type, const void *W, int64_t n_in,
                    int64_t n_out, const float *X, int64_t n_tok, float *Y);

/* True when llp_matmul can multiply weights of this type. */
bool llp_matmul_supports(uint32_t type);

/* The kernel set in use: "scalar", "avx2" or "avx512". It is chosen on first
 * use from the CPU's features, or from the environment variable
 * LLP_KERNELS=scalar|avx2|avx512 when set (an unavailable choice is an error
 * reported on stderr, and the best available set is used). */
const char *llp_matmul_kernels(void);

/* Switch kernel sets by name (tests and benchmarks). Returns 0, or -1 when
 * the name is unknown or the CPU lacks the features (the set is unchanged).
 * Not thread-safe with concurrent llp_matmul calls. */
int llp_matmul_set_kernels(const char *name);

#endif
