/*
 * quant.h — weight types and their block formats: sizes, names,
 * dequantization, a plain scalar dot product (the reference every fast
 * kernel is tested against) and quantization (for llp-quantize).
 *
 * Not for: SIMD kernels (lib/kernels/), choosing types per tensor
 * (quantize.c), or anything about files.
 */
#ifndef LLP_QUANT_H
#define LLP_QUANT_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

/* ggml type ids, as stored in GGUF tensor infos. */
enum llp_type {
    LLP_F32 = 0, LLP_F16 = 1, LLP_Q4_0 = 2, LLP_Q4_1 = 3,
    LLP_Q5_0 = 6, LLP_Q5_1 = 7, LLP_Q8_0 = 8, LLP_Q8_1 = 9,
    LLP_Q2_K = 10, LLP_Q3_K = 11, LLP_Q4_K = 12, LLP_Q5_K = 13,
    LLP_Q6_K = 14, LLP_Q8_K = 15,
    LLP_BF16 = 30,
    LLP_TYPE_COUNT = 42,
};

typedef struct llp_type_info {
    const char *name;      /* "Q4_K", "IQ2_XXS", ... */
    int block_size;        /* values per block */
    int type_size;         /* bytes per block */
    bool supported;        /* weights of this type can be loaded */
} llp_type_info;

/* Info for a ggml type id, including ids llamapipe knows by name but does
 * not support (IQ*, TQ*, ...). NULL for ids no ggml version defines. */
const llp_type_info *llp_type_get(uint32_t type);
const char *llp_type_name(uint32_t type);       /* "type 99" style if unknown */
int llp_type_from_name(const char *name);       /* case-insensitive; -1 if none */

/* Bytes of a row of n values (n must be a multiple of the block size). */
size_t llp_row_size(uint32_t type, int64_t n);

/* Scalar reference implementations. n is a multiple of the block size. */
void  llp_dequantize_row(uint32_t type, const void *src, float *dst, int64_t n);
float llp_dot_ref(uint32_t type, const void *row, const float *x, int64_t n);

/* Quantize n floats into dst (llp_row_size(type, n) bytes). Returns the bytes
 * written. `imatrix` is unused (NULL). Values should be finite (inf/NaN give
 * meaningless blocks, never a crash). Scales are chosen by a small search
 * for the least squared error (quant.c, quant_k.c); measured errors per type
 * are in tests/quant_roundtrip.c.
 *
 * The block layouts themselves, as C structs with per-block decode/encode
 * functions for kernels to share, are in quant_blocks.h. */
size_t llp_quantize_row(uint32_t type, const float *src, void *dst, int64_t n);

#endif
