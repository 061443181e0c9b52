/*
 * kernels.h — the contract between lib/matmul.c and the per-ISA kernel sets:
 * the quantized activation formats, the tile-product signature, the table of
 * one kernel set, and small scale-unpacking helpers every set shares.
 *
 * Not for: the public API (matmul.h), thread splitting (matmul.c) or weight
 * block layouts (lib/quant_blocks.h, which the kernels read).
 *
 * The arithmetic, as in llama.cpp: each token's activations are quantized
 * once per product to 8-bit blocks, and every weight block is multiplied in
 * integers as unsigned weight codes u (0..255) times signed activation codes
 * a (-127..127), with the weights' offsets folded in through precomputed
 * activation block sums:
 *
 *   legacy 32-blocks   w = dw * (u - k)  or  dw * u + m
 *     dot = dw * da * (sum(u * a) - k * sum(a))   (or + m * s, s ~ da * sum(a))
 *   K-quant 256-blocks, sub-blocks of 16 (or 32) values with integer scale sc
 *   and integer offset mn:  w = d * sc * u - dm * mn
 *     dot = da * (d * sum_sub sc * sum(u * a)  -  dm * sum_sub mn * bsum)
 *
 * Per type (u, k or m, sc, mn):
 *   Q4_0 u = nibble, k = 8      Q4_1 u = nibble, + m
 *   Q5_0 u = 5 bits, k = 16     Q5_1 u = 5 bits, + m
 *   Q8_0 u = q + 128, k = 128 (x86 sets multiply |q| by sign-adjusted a
 *        instead, as maddubs saturates on 255 * 127 * 2)
 *   Q2_K u = 2 bits, sc = scale & 15, dm = dmin, mn = scale >> 4
 *   Q3_K u = 3 bits (low | high << 2), sc = 6-bit scale - 32, dm = d,
 *        mn = 4 * sc
 *   Q4_K u = nibble, sub-blocks of 32, 6-bit sc, dm = dmin, 6-bit mn
 *   Q5_K u = 5 bits, otherwise as Q4_K
 *   Q6_K u = 6 bits, sc = int8 scale, dm = d, mn = 32 * sc
 * F32, F16 and BF16 weights take float activations and multiply in float.
 */
#ifndef LLP_KERNELS_H
#define LLP_KERNELS_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "quant.h"
#include "quant_blocks.h"

/* Activations of one token, 32 values: a_i = d * qs[i]; sum = sum(qs).
 * Rounded as llama.cpp's Q8_0 / Q8_1 activation blocks are, so products
 * agree with it to float rounding (near-ties in logits depend on this):
 * the codes are x * (1 / (amax / 127)) rounded to nearest even, d is
 * amax / 127 rounded through fp16 after the codes are made, and
 * s = fp16(amax / 127 * sum) with the unrounded scale. Q4_0, Q5_0 and Q8_0 weights fold their
 * integer offset in with the exact integer sum; Q4_1 and Q5_1 weights add
 * m * s, as llama.cpp's Q8_1 path does. */
typedef struct {
    float d;
    float s;
    int32_t sum;
    int8_t qs[32];
} llp_act_q8_32;

/* Activations of one token, 256 values: a_i = d * qs[i]; bsums[j] is the
 * sum of qs[16j .. 16j+15]. As llama.cpp's Q8_K: id = 127 / amax, codes
 * x * id rounded to nearest even, d = 1 / id kept as a float. */
typedef struct {
    float d;
    int16_t bsums[16];
    int8_t qs[256];
} llp_act_q8_256;

_Static_assert(sizeof(llp_act_q8_32) == 44, "llp_act_q8_32 size");
_Static_assert(sizeof(llp_act_q8_256) == 292, "llp_act_q8_256 size");

/* Which activation format a weight type multiplies with. */
enum llp_act_format {
    LLP_ACT_NONE = 0,   /* type not supported */
    LLP_ACT_F32,        /* the float activations as given */
    LLP_ACT_Q8_32,      /* llp_act_q8_32 blocks */
    LLP_ACT_Q8_256,     /* llp_act_q8_256 blocks */
};

/* The format for a weight type (the same for every kernel set). */
static inline enum llp_act_format llp_act_format_for(uint32_t type)
{
    switch (type) {
    case LLP_F32: case LLP_F16: case LLP_BF16:
        return LLP_ACT_F32;
    case LLP_Q4_0: case LLP_Q4_1: case LLP_Q5_0: case LLP_Q5_1: case LLP_Q8_0:
        return LLP_ACT_Q8_32;
    case LLP_Q2_K: case LLP_Q3_K: case LLP_Q4_K: case LLP_Q5_K: case LLP_Q6_K:
        return LLP_ACT_Q8_256;
    default:
        return LLP_ACT_NONE;
    }
}

/* Quantize one token's n activations (n a multiple of 32 or 256) into
 * n / 32 llp_act_q8_32 or n / 256 llp_act_q8_256 blocks. */
typedef void (*llp_quantize_act_fn)(const float *x, void *dst, int64_t n);

/* A tile of the product: for r < n_rows and t < n_tok,
 *   Y[t * y_stride + r] = dot(row r of W, activations of token t)
 * where row r starts at (const char *)W + r * w_stride, token t's
 * activations (in the type's format) at (const char *)A + t * a_stride, and
 * each row holds n values. n_rows and n_tok may be any positive numbers;
 * kernels tile them internally so a weight block is unpacked once for
 * several tokens. */
typedef void (*llp_gemm_fn)(int64_t n, const void *W, size_t w_stride,
                            int n_rows, const void *A, size_t a_stride,
                            int n_tok, float *Y, int64_t y_stride);

/* ---- packed weights -------------------------------------------------------
 *
 * A weight matrix of a type with llp_pack_supported() may be repacked once
 * (at model load) so that the 16 rows of a group lie side by side, one row
 * per 32-bit lane of a 512-bit vector: the products then need no
 * transposition or horizontal sums, and one group streams from memory as
 * one sequential run. Rows come in groups of LLP_PACK_ROWS (the last group
 * padded by repeating the last row); a group is its blocks in order, and a
 * packed block holds the 16 rows' block b as (offsets in bytes):
 *
 *   d[16]    fp16 scales, row r at 2r
 *   m[16]    fp16 minimums (Q4_1, Q5_1 only)
 *   qh[8]    Q5_0, Q5_1: 64-bit masks, bit 4r + j of mask g = bit 4 of
 *            code 4g + j of row r
 *   qs       nibble types: 4 x 64 bytes, bytes 4g .. 4g+3 of row r's qs at
 *            64g + 4r (low nibbles: codes 4g.., high nibbles: 16 + 4g..);
 *            Q8_0: 8 x 64 bytes, codes 4g .. 4g+3 of row r plus 128 (as
 *            unsigned bytes) at 64g + 4r
 *
 * in that order, so a packed block is exactly 16 original blocks long and a
 * packed matrix is llp_packed_bytes() long.
 *
 * K-quants: a group is its 256-value super-blocks in order, a packed
 * super-block exactly 16 original ones long, holding (offsets in bytes):
 *
 *   Q4_K, Q5_K
 *     d[16], dmin[16]   fp16, row r at 2r and 32 + 2r
 *     scales   3 x 64 bytes at 64: bytes 4k .. 4k+3 of row r's scales[12]
 *              at 64 + 64k + 4r (the 6-bit scales and mins still packed)
 *     qh       Q5_K only, 8 x 64 bytes at 256: bytes 4g .. 4g+3 of row r's
 *              qh at 256 + 64g + 4r
 *     qs       32 x 64 bytes at 256 (Q4_K) or 768 (Q5_K): bytes
 *              32p + 4g .. 32p + 4g + 3 of row r's qs at 64 (8p + g) + 4r
 *              (low nibbles: codes 64p + 4g .., sub-block 2p; high nibbles:
 *              codes 64p + 32 + 4g .., sub-block 2p + 1)
 *   Q2_K, Q3_K
 *     d[16]    fp16, row r at 2r
 *     dmin[16] Q2_K only, fp16, row r at 32 + 2r
 *     scales   Q2_K: 4 x 64 bytes at 64, scales[4k .. 4k+3] of row r at
 *              64 + 64k + 4r; Q3_K: 3 x 64 bytes at 32, bytes 4k .. 4k+3 of
 *              row r's scales[12] at 32 + 64k + 4r
 *     hmask    Q3_K only, 8 x 64 bytes at 224: bytes 4g .. 4g+3 of row r's
 *              hmask at 224 + 64g + 4r
 *     qs       16 x 64 bytes at 320 (Q2_K) or 736 (Q3_K): bytes
 *              32h + 4g .. 32h + 4g + 3 of row r's qs at 64 (8h + g) + 4r
 *              (bit pair k of byte l: value 128h + 32k + 4g + l)
 *   Q6_K
 *     d[16]    fp16, row r at 2r
 *     scales   4 x 64 bytes at 32: scales[4k .. 4k+3] of row r at
 *              32 + 64k + 4r
 *     codes    per sub-block j (16 values) 3 x 64 bytes at 288 + 192j:
 *              byte l of row r's dword at 288 + 192j + 64i + 4r (i < 3)
 *              = code 16j + 4i + l (6 bits, in value order, ql and qh
 *              merged) | bits 2i, 2i+1 of code 16j + 12 + l in its top
 *              two bits */
#define LLP_PACK_ROWS 16

/* The product on packed weights: P points at the group holding row 0 (n_rows
 * rows from there, any number); otherwise as llp_gemm_fn. */
typedef void (*llp_gemm_packed_fn)(int64_t n, const void *P, int n_rows,
                                   const void *A, size_t a_stride, int n_tok,
                                   float *Y, int64_t y_stride);

bool llp_pack_supported(uint32_t type);
size_t llp_packed_bytes(uint32_t type, int64_t n_in, int64_t n_out);
/* Repack rows 0 .. n_out-1 of W (n_in values each) into dst
 * (llp_packed_bytes long). */
void llp_pack_rows(uint32_t type, const void *W, int64_t n_in, int64_t n_out, void *dst);
/* The scalar set's products on packed weights (pack.c), one per type. */
#define LLP_DECLARE_PACKED(name, suffix) \
    void llp_gemm_packed_##name##_##suffix(int64_t, const void *, int, const void *, size_t, int, float *, int64_t);
#define LLP_DECLARE_PACKED_ALL(suffix)                                         \
    LLP_DECLARE_PACKED(q4_0, suffix) LLP_DECLARE_PACKED(q4_1, suffix)          \
    LLP_DECLARE_PACKED(q5_0, suffix) LLP_DECLARE_PACKED(q5_1, suffix)          \
    LLP_DECLARE_PACKED(q8_0, suffix) LLP_DECLARE_PACKED(q2_k, suffix)          \
    LLP_DECLARE_PACKED(q3_k, suffix) LLP_DECLARE_PACKED(q4_k, suffix)          \
    LLP_DECLARE_PACKED(q5_k, suffix) LLP_DECLARE_PACKED(q6_k, suffix)
LLP_DECLARE_PACKED_ALL(scalar)

/* ---- attention over the KV cache (lib/kv_cache.c) ------------------------
 * One token and one query head at a time, over cache rows of d values
 * `stride` elements apart, f32 or f16 (index [0] f32, [1] f16):
 *   dot  s[p] = scale * sum_i q[i] * K[p][i]          for p < n
 *   mix  out[i] += sum_p a[p] * V[p][i], p ascending   for i < d
 * Each result is one fixed chain of operations that depends on d and n
 * only, so attention is the same whatever else shares the forward pass. */
typedef void (*llp_attn_dot_fn)(const float *q, const void *K, size_t stride, int d, int n,
                                float scale, float *s);
typedef void (*llp_attn_mix_fn)(const float *a, const void *V, size_t stride, int d, int n,
                                float *out);
/* The same two steps for the n_q query heads that share one KV head
 * (grouped-query attention), head h's query at q + h * d, its scores at
 * s + h * s_stride (weights at a + h * a_stride), its output at out + h * d:
 * each K and V row is read once for all of them. Every score and output
 * element is the per-head kernel's own chain of operations, so results
 * equal n_q calls of attn_dot / attn_mix bit for bit. */
#define LLP_ATTN_MAX_D 512   /* widest head the group kernels take (model.h's LLP_MAX_HEAD_DIM) */
typedef void (*llp_attn_dot_group_fn)(const float *q, int n_q, const void *K, size_t stride,
                                      int d, int n, float scale, float *s, size_t s_stride);
typedef void (*llp_attn_mix_group_fn)(const float *a, size_t a_stride, int n_q, const void *V,
                                      size_t stride, int d, int n, float *out);

/* softmax  x[p] = e^(x[p] - max) / sum over p < n, in place. Every set
 * computes the same values bit for bit: each exponential is exp_poly()'s
 * sequence of float operations (no fused multiply-add), and the sum runs
 * in double in eight lanes (lane p % 8), joined in one fixed order. */
typedef void (*llp_softmax_fn)(float *x, int n);

/* e^x for x <= 0 as every set's softmax computes it: x = k ln 2 + r with k
 * rounded to nearest (the 1.5 * 2^23 shift), ln 2 in two parts (Cody and
 * Waite), Cephes' degree-6 polynomial for e^r on |r| <= ln 2 / 2 (about 1
 * ulp), times 2^k built in the exponent bits; 0 below -87.3 (under the
 * smallest normal float). */
#define LLP_EXP_MIN    -87.33654f
#define LLP_EXP_LOG2E  1.44269504088896341f
#define LLP_EXP_SHIFT  12582912.0f
#define LLP_EXP_LN2_HI 0.693359375f
#define LLP_EXP_LN2_LO -2.12194440e-4f
#define LLP_EXP_P0 1.9875691500e-4f
#define LLP_EXP_P1 1.3981999507e-3f
#define LLP_EXP_P2 8.3334519073e-3f
#define LLP_EXP_P3 4.1665795894e-2f
#define LLP_EXP_P4 1.6666665459e-1f
#define LLP_EXP_P5 5.0000001201e-1f
static inline float llp_exp_poly(float x)
{
    if (!(x >= LLP_EXP_MIN)) return 0.0f;
    float k = (x * LLP_EXP_LOG2E + LLP_EXP_SHIFT) - LLP_EXP_SHIFT;
    float r = (x - k * LLP_EXP_LN2_HI) - k * LLP_EXP_LN2_LO;
    float p = LLP_EXP_P0;
    p = p * r + LLP_EXP_P1;
    p = p * r + LLP_EXP_P2;
    p = p * r + LLP_EXP_P3;
    p = p * r + LLP_EXP_P4;
    p = p * r + LLP_EXP_P5;
    p = (p * (r * r) + r) + 1.0f;
    uint32_t bits = (uint32_t)((int32_t)k + 127) << 23;
    float two_k;
    memcpy(&two_k, &bits, sizeof two_k);
    return p * two_k;
}

/* silu(x) = x * sigmoid(x) as every set computes it, from e = exp_poly(-|x|)
 * (always in exp_poly's range): (x >= 0 ? x : x * e) / (1 + e). Below
 * -87.3 e is 0 and the result -0. */
static inline float llp_silu_poly(float x)
{
    float e = llp_exp_poly(-fabsf(x));
    float num = x >= 0.0f ? x : x * e;
    return num / (1.0f + e);
}

/* sigmoid(x) = 1 / (1 + e^-x) from the same e: (x >= 0 ? 1 : e) / (1 + e)
 * (training's backward pass of silu). */
static inline float llp_sigmoid_poly(float x)
{
    float e = llp_exp_poly(-fabsf(x));
    return (x >= 0.0f ? 1.0f : e) / (1.0f + e);
}

/* SwiGLU  g[i] = llp_silu_poly(g[i]) * u[i] for n values; every set
 * computes the same values bit for bit (the vector sets do
 * llp_silu_poly's float operations eight at a time). */
typedef void (*llp_swiglu_fn)(float *g, const float *u, size_t n);

#define LLP_DECLARE_ATTN(isa)                                                      \
    void llp_softmax_##isa(float *, int);                                         \
    void llp_swiglu_##isa(float *, const float *, size_t);                        \
    void llp_attn_dot_group_f32_##isa(const float *, int, const void *, size_t, int, int, \
                                      float, float *, size_t);                         \
    void llp_attn_dot_group_f16_##isa(const float *, int, const void *, size_t, int, int, \
                                      float, float *, size_t);                         \
    void llp_attn_mix_group_f32_##isa(const float *, size_t, int, const void *, size_t, int, \
                                      int, float *);                                    \
    void llp_attn_mix_group_f16_##isa(const float *, size_t, int, const void *, size_t, int, \
                                      int, float *);                                    \
    void llp_attn_dot_f32_##isa(const float *, const void *, size_t, int, int, float, float *); \
    void llp_attn_dot_f16_##isa(const float *, const void *, size_t, int, int, float, float *); \
    void llp_attn_mix_f32_##isa(const float *, const void *, size_t, int, int, float *);        \
    void llp_attn_mix_f16_##isa(const float *, const void *, size_t, int, int, float *);

typedef struct llp_kernel_set {
    const char *name;                      /* "scalar", "avx2", "avx512" */
    llp_quantize_act_fn quantize_q8_32;
    llp_quantize_act_fn quantize_q8_256;
    llp_gemm_fn gemm[LLP_TYPE_COUNT];      /* NULL: type not handled */
    llp_gemm_packed_fn gemm_packed[LLP_TYPE_COUNT];   /* NULL: the scalar set's */
    llp_attn_dot_fn attn_dot[2];           /* [0] f32 cache rows, [1] f16 */
    llp_attn_mix_fn attn_mix[2];
    llp_softmax_fn softmax;
    llp_swiglu_fn swiglu;                  /* the feed-forward's silu(gate) * up */
    llp_attn_dot_group_fn attn_dot_group[2];   /* NULL: attn_dot per head */
    llp_attn_mix_group_fn attn_mix_group[2];   /* NULL: attn_mix per head */
} llp_kernel_set;

extern const llp_kernel_set llp_kernels_scalar;   /* kernels/scalar.c */
extern const llp_kernel_set llp_kernels_avx2;     /* x86 only, dispatch.c */
extern const llp_kernel_set llp_kernels_avx512;   /* x86 only, dispatch.c */

/* The set in use: chosen on first call from LLP_KERNELS or the CPU. */
const llp_kernel_set *llp_kernels_current(void);
/* The set of that name if the CPU can run it, else NULL. */
const llp_kernel_set *llp_kernels_by_name(const char *name);
/* Make the named set current; -1 (and no change) if unavailable. */
int llp_kernels_select(const char *name);

/* Tiles of the avx2 and avx512 sets live in several files; the tables are
 * assembled in kernels/dispatch.c from these. */
#define LLP_DECLARE_GEMMS(isa) \
    void llp_gemm_q4_0_##isa(int64_t, const void *, size_t, int, const void *, size_t, int, float *, int64_t); \
    void llp_gemm_q4_1_##isa(int64_t, const void *, size_t, int, const void *, size_t, int, float *, int64_t); \
    void llp_gemm_q5_0_##isa(int64_t, const void *, size_t, int, const void *, size_t, int, float *, int64_t); \
    void llp_gemm_q5_1_##isa(int64_t, const void *, size_t, int, const void *, size_t, int, float *, int64_t); \
    void llp_gemm_q8_0_##isa(int64_t, const void *, size_t, int, const void *, size_t, int, float *, int64_t); \
    void llp_gemm_q2_k_##isa(int64_t, const void *, size_t, int, const void *, size_t, int, float *, int64_t); \
    void llp_gemm_q3_k_##isa(int64_t, const void *, size_t, int, const void *, size_t, int, float *, int64_t); \
    void llp_gemm_q4_k_##isa(int64_t, const void *, size_t, int, const void *, size_t, int, float *, int64_t); \
    void llp_gemm_q5_k_##isa(int64_t, const void *, size_t, int, const void *, size_t, int, float *, int64_t); \
    void llp_gemm_q6_k_##isa(int64_t, const void *, size_t, int, const void *, size_t, int, float *, int64_t); \
    void llp_gemm_f32_##isa(int64_t, const void *, size_t, int, const void *, size_t, int, float *, int64_t); \
    void llp_gemm_f16_##isa(int64_t, const void *, size_t, int, const void *, size_t, int, float *, int64_t); \
    void llp_gemm_bf16_##isa(int64_t, const void *, size_t, int, const void *, size_t, int, float *, int64_t); \
    void llp_quantize_q8_32_##isa(const float *, void *, int64_t); \
    void llp_quantize_q8_256_##isa(const float *, void *, int64_t);

/* The avx512 set's entry points beyond LLP_DECLARE_GEMMS: lane kernels
 * (lanes_avx512.c, klanes_avx512.c), batch entries for unpacked legacy
 * weights (packed_avx512.c), and products on packed weights
 * (packed_avx512.c, kpacked_avx512.c). */
#define LLP_DECLARE_AVX512_GEMM(name, suffix) \
    void llp_gemm_##name##_##suffix(int64_t, const void *, size_t, int, const void *, size_t, int, float *, int64_t);
#define LLP_DECLARE_AVX512_LEGACY(suffix)                                      \
    LLP_DECLARE_AVX512_GEMM(q4_0, suffix) LLP_DECLARE_AVX512_GEMM(q4_1, suffix) \
    LLP_DECLARE_AVX512_GEMM(q5_0, suffix) LLP_DECLARE_AVX512_GEMM(q5_1, suffix) \
    LLP_DECLARE_AVX512_GEMM(q8_0, suffix)
LLP_DECLARE_AVX512_LEGACY(lanes512)
LLP_DECLARE_AVX512_LEGACY(packed512)
LLP_DECLARE_AVX512_GEMM(q2_k, klanes512)
LLP_DECLARE_AVX512_GEMM(q4_k, klanes512)
LLP_DECLARE_AVX512_GEMM(q5_k, klanes512)
LLP_DECLARE_AVX512_GEMM(q6_k, klanes512)
LLP_DECLARE_PACKED_ALL(avx512)

/* The avx2 set's products on packed weights (packed_avx2.c for the legacy
 * types, kpacked_avx2.c for Q4_K, Q5_K and Q6_K). */
#define LLP_DECLARE_PACKED_AVX2                                                \
    LLP_DECLARE_PACKED(q4_0, avx2) LLP_DECLARE_PACKED(q4_1, avx2)              \
    LLP_DECLARE_PACKED(q5_0, avx2) LLP_DECLARE_PACKED(q5_1, avx2)              \
    LLP_DECLARE_PACKED(q8_0, avx2) LLP_DECLARE_PACKED(q4_k, avx2)              \
    LLP_DECLARE_PACKED(q5_k, avx2) LLP_DECLARE_PACKED(q6_k, avx2)
LLP_DECLARE_PACKED_AVX2

/* ---- scale unpacking shared by all sets -------------------------------- */

/* Q4_K / Q5_K: the 8 6-bit scales and 8 6-bit mins of scales[12]. */
static inline void llp_k4_scales(const uint8_t s[12], uint8_t sc[8], uint8_t mn[8])
{
    for (int j = 0; j < 4; j++) {
        sc[j] = s[j] & 63;
        mn[j] = s[j + 4] & 63;
        sc[j + 4] = (uint8_t)((s[j + 8] & 15) | (s[j] >> 6) << 4);
        mn[j + 4] = (uint8_t)((s[j + 8] >> 4) | (s[j + 4] >> 6) << 4);
    }
}

/* Q3_K: the 16 signed scales (-32..31) of scales[12]. */
static inline void llp_q3_k_scales(const uint8_t s[12], int8_t sc[16])
{
    for (int i = 0; i < 16; i++) {
        int low = i < 8 ? s[i] & 15 : s[i - 8] >> 4;
        int high = (s[8 + i % 4] >> (2 * (i / 4))) & 3;
        sc[i] = (int8_t)((low | high << 4) - 32);
    }
}

#endif
