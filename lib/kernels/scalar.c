/*
 * scalar.c — the portable kernel set: the same quantized-activation
 * arithmetic as the SIMD sets (see kernels.h), in plain C, for CPUs without
 * AVX2 and as a readable statement of what the SIMD code computes.
 *
 * Not for: speed (x86 machines use the avx2/avx512 sets) or the float
 * reference (quant.c's llp_dot_ref, which the tests compare against).
 *
 * Every weight block is first unpacked to unsigned integer codes with its
 * scales (unpack_* below); one generic loop then forms the integer dot
 * products and applies the scales and offset corrections, for up to
 * TOKENS_PER_PASS tokens per unpacked block.
 */
#include "kernels/kernels.h"
#include "util.h"

#include <math.h>
#include <string.h>

#define TOKENS_PER_PASS 8

/* ---- activation quantization -------------------------------------------- */

/* 32 values -> codes in -127..127: x / d rounded to nearest even, d =
 * amax / 127 (multiplying by id = 1 / d, as llama.cpp does); returns d,
 * unrounded. */
static float quantize_block32(const float *x, int8_t *q)
{
    float amax = 0;
    for (int i = 0; i < 32; i++) amax = fmaxf(amax, fabsf(x[i]));
    float d = amax / 127.0f, id = d > 0 ? 1.0f / d : 0.0f;
    for (int i = 0; i < 32; i++) q[i] = (int8_t)lrintf(x[i] * id);
    return d;
}

static float fp16_round(float f)
{
    return llp_fp16_to_f32(llp_f32_to_fp16(f));
}

static void quantize_q8_32_scalar(const float *x, void *dst, int64_t n)
{
    llp_act_q8_32 *b = dst;
    for (int64_t i = 0; i < n / 32; i++, x += 32) {
        float d = quantize_block32(x, b[i].qs);
        int sum = 0;
        for (int j = 0; j < 32; j++) sum += b[i].qs[j];
        b[i].d = fp16_round(d);
        b[i].s = fp16_round(d * (float)sum);
        b[i].sum = sum;
    }
}

static void quantize_q8_256_scalar(const float *x, void *dst, int64_t n)
{
    llp_act_q8_256 *b = dst;
    for (int64_t i = 0; i < n / 256; i++, x += 256) {
        float amax = 0;
        for (int j = 0; j < 256; j++) amax = fmaxf(amax, fabsf(x[j]));
        float id = amax > 0 ? 127.0f / amax : 0.0f;
        for (int j = 0; j < 256; j++) b[i].qs[j] = (int8_t)lrintf(x[j] * id);
        b[i].d = amax > 0 ? 1.0f / id : 0.0f;
        for (int j = 0; j < 16; j++) {
            int sum = 0;
            for (int k = 0; k < 16; k++) sum += b[i].qs[16 * j + k];
            b[i].bsums[j] = (int16_t)sum;
        }
    }
}

/* ---- legacy 32-value blocks ---------------------------------------------- */

/* A legacy block as codes: w_i = dw * (u_i - k) + m, with k an integer
 * and m a float constant per block:
 * dot = dw * da * (sum(u a) - k sum(a)) + m * s, s ~ da * sum(a). */
typedef struct {
    uint8_t u[32];
    int k;
    float dw, m;
} legacy_codes;

typedef void (*legacy_unpack_fn)(const void *block, legacy_codes *c);

static void nibbles32(const uint8_t qs[16], uint8_t u[32])
{
    for (int j = 0; j < 16; j++) {
        u[j] = qs[j] & 15;
        u[j + 16] = qs[j] >> 4;
    }
}

static void fifth_bits32(const uint8_t qh[4], uint8_t u[32])
{
    uint32_t h = (uint32_t)qh[0] | (uint32_t)qh[1] << 8 |
                 (uint32_t)qh[2] << 16 | (uint32_t)qh[3] << 24;
    for (int j = 0; j < 32; j++) u[j] |= (uint8_t)(((h >> j) & 1) << 4);
}

static void unpack_q4_0(const void *block, legacy_codes *c)
{
    const block_q4_0 *b = block;
    nibbles32(b->qs, c->u);
    c->dw = llp_fp16_to_f32(b->d);
    c->k = 8;
    c->m = 0;
}

static void unpack_q4_1(const void *block, legacy_codes *c)
{
    const block_q4_1 *b = block;
    nibbles32(b->qs, c->u);
    c->dw = llp_fp16_to_f32(b->d);
    c->k = 0;
    c->m = llp_fp16_to_f32(b->m);
}

static void unpack_q5_0(const void *block, legacy_codes *c)
{
    const block_q5_0 *b = block;
    nibbles32(b->qs, c->u);
    fifth_bits32(b->qh, c->u);
    c->dw = llp_fp16_to_f32(b->d);
    c->k = 16;
    c->m = 0;
}

static void unpack_q5_1(const void *block, legacy_codes *c)
{
    const block_q5_1 *b = block;
    nibbles32(b->qs, c->u);
    fifth_bits32(b->qh, c->u);
    c->dw = llp_fp16_to_f32(b->d);
    c->k = 0;
    c->m = llp_fp16_to_f32(b->m);
}

static void unpack_q8_0(const void *block, legacy_codes *c)
{
    const block_q8_0 *b = block;
    for (int j = 0; j < 32; j++) c->u[j] = (uint8_t)(b->qs[j] + 128);
    c->dw = llp_fp16_to_f32(b->d);
    c->k = 128;
    c->m = 0;
}

static void gemm_legacy(legacy_unpack_fn unpack, size_t block_bytes,
                        int64_t n, const void *W, size_t w_stride, int n_rows,
                        const void *A, size_t a_stride, int n_tok,
                        float *Y, int64_t y_stride)
{
    for (int t0 = 0; t0 < n_tok; t0 += TOKENS_PER_PASS) {
        int nt = n_tok - t0 < TOKENS_PER_PASS ? n_tok - t0 : TOKENS_PER_PASS;
        for (int r = 0; r < n_rows; r++) {
            const uint8_t *row = (const uint8_t *)W + (size_t)r * w_stride;
            float acc[TOKENS_PER_PASS] = { 0 };
            for (int64_t ib = 0; ib < n / 32; ib++) {
                legacy_codes c;
                unpack(row + (size_t)ib * block_bytes, &c);
                for (int t = 0; t < nt; t++) {
                    const llp_act_q8_32 *a = (const llp_act_q8_32 *)
                        ((const char *)A + (size_t)(t0 + t) * a_stride) + ib;
                    int32_t isum = 0;
                    for (int j = 0; j < 32; j++) isum += c.u[j] * a->qs[j];
                    isum -= c.k * a->sum;
                    acc[t] += c.dw * a->d * (float)isum + c.m * a->s;
                }
            }
            for (int t = 0; t < nt; t++) Y[(int64_t)(t0 + t) * y_stride + r] = acc[t];
        }
    }
}

#define LEGACY_GEMM(name, block_type)                                          \
    static void gemm_##name##_scalar(int64_t n, const void *W, size_t w_stride, \
                                     int n_rows, const void *A, size_t a_stride, \
                                     int n_tok, float *Y, int64_t y_stride)     \
    {                                                                          \
        gemm_legacy(unpack_##name, sizeof(block_type), n, W, w_stride, n_rows, \
                    A, a_stride, n_tok, Y, y_stride);                          \
    }
LEGACY_GEMM(q4_0, block_q4_0)
LEGACY_GEMM(q4_1, block_q4_1)
LEGACY_GEMM(q5_0, block_q5_0)
LEGACY_GEMM(q5_1, block_q5_1)
LEGACY_GEMM(q8_0, block_q8_0)

/* ---- K-quant 256-value super-blocks -------------------------------------- */

/* A super-block as codes: for sub-block j (16 values),
 * w_i = d * sc[j] * u_i - dm * mn[j]. */
typedef struct {
    uint8_t u[256];
    int sc[16], mn[16];
    float d, dm;
} k_codes;

typedef void (*k_unpack_fn)(const void *block, k_codes *c);

/* 2-bit fields of Q2_K/Q3_K: per 128 values 32 bytes, 4 fields each. */
static void two_bit_fields(const uint8_t qs[64], uint8_t u[256])
{
    for (int i = 0; i < 256; i++)
        u[i] = (qs[(i / 128) * 32 + i % 32] >> (2 * ((i / 32) % 4))) & 3;
}

/* Nibbles of Q4_K/Q5_K: per 64 values 32 bytes, low nibbles first. */
static void k_nibbles(const uint8_t qs[128], uint8_t u[256])
{
    for (int i = 0; i < 256; i++)
        u[i] = (qs[(i / 64) * 32 + i % 32] >> (4 * ((i / 32) % 2))) & 15;
}

/* Q4_K/Q5_K scales: sub-blocks of 32 expressed as pairs of 16. */
static void k4_codes_scales(const uint8_t s[12], k_codes *c)
{
    uint8_t sc[8], mn[8];
    llp_k4_scales(s, sc, mn);
    for (int j = 0; j < 16; j++) {
        c->sc[j] = sc[j / 2];
        c->mn[j] = mn[j / 2];
    }
}

static void unpack_q2_k(const void *block, k_codes *c)
{
    const block_q2_k *b = block;
    two_bit_fields(b->qs, c->u);
    for (int j = 0; j < 16; j++) {
        c->sc[j] = b->scales[j] & 15;
        c->mn[j] = b->scales[j] >> 4;
    }
    c->d = llp_fp16_to_f32(b->d);
    c->dm = llp_fp16_to_f32(b->dmin);
}

static void unpack_q3_k(const void *block, k_codes *c)
{
    const block_q3_k *b = block;
    int8_t sc[16];
    two_bit_fields(b->qs, c->u);
    for (int i = 0; i < 256; i++)
        c->u[i] |= (uint8_t)(((b->hmask[i % 32] >> (i / 32)) & 1) << 2);
    llp_q3_k_scales(b->scales, sc);
    for (int j = 0; j < 16; j++) {
        c->sc[j] = sc[j];
        c->mn[j] = 4 * sc[j];
    }
    c->d = c->dm = llp_fp16_to_f32(b->d);
}

static void unpack_q4_k(const void *block, k_codes *c)
{
    const block_q4_k *b = block;
    k_nibbles(b->qs, c->u);
    k4_codes_scales(b->scales, c);
    c->d = llp_fp16_to_f32(b->d);
    c->dm = llp_fp16_to_f32(b->dmin);
}

static void unpack_q5_k(const void *block, k_codes *c)
{
    const block_q5_k *b = block;
    k_nibbles(b->qs, c->u);
    for (int i = 0; i < 256; i++)
        c->u[i] |= (uint8_t)(((b->qh[i % 32] >> (i / 32)) & 1) << 4);
    k4_codes_scales(b->scales, c);
    c->d = llp_fp16_to_f32(b->d);
    c->dm = llp_fp16_to_f32(b->dmin);
}

static void unpack_q6_k(const void *block, k_codes *c)
{
    const block_q6_k *b = block;
    for (int i = 0; i < 256; i++) {
        int h = i / 128, k = (i % 128) / 32, l = i % 32;
        int low = (b->ql[h * 64 + l + (k % 2) * 32] >> (4 * (k / 2))) & 15;
        int high = (b->qh[h * 32 + l] >> (2 * k)) & 3;
        c->u[i] = (uint8_t)(low | high << 4);
    }
    for (int j = 0; j < 16; j++) {
        c->sc[j] = b->scales[j];
        c->mn[j] = 32 * b->scales[j];
    }
    c->d = c->dm = llp_fp16_to_f32(b->d);
}

static void gemm_k(k_unpack_fn unpack, size_t block_bytes,
                   int64_t n, const void *W, size_t w_stride, int n_rows,
                   const void *A, size_t a_stride, int n_tok,
                   float *Y, int64_t y_stride)
{
    for (int t0 = 0; t0 < n_tok; t0 += TOKENS_PER_PASS) {
        int nt = n_tok - t0 < TOKENS_PER_PASS ? n_tok - t0 : TOKENS_PER_PASS;
        for (int r = 0; r < n_rows; r++) {
            const uint8_t *row = (const uint8_t *)W + (size_t)r * w_stride;
            float acc[TOKENS_PER_PASS] = { 0 };
            for (int64_t ib = 0; ib < n / 256; ib++) {
                k_codes c;
                unpack(row + (size_t)ib * block_bytes, &c);
                for (int t = 0; t < nt; t++) {
                    const llp_act_q8_256 *a = (const llp_act_q8_256 *)
                        ((const char *)A + (size_t)(t0 + t) * a_stride) + ib;
                    int32_t isum = 0, msum = 0;
                    for (int j = 0; j < 16; j++) {
                        int32_t s = 0;
                        for (int k = 0; k < 16; k++)
                            s += c.u[16 * j + k] * a->qs[16 * j + k];
                        isum += c.sc[j] * s;
                        msum += c.mn[j] * a->bsums[j];
                    }
                    acc[t] += a->d * (c.d * (float)isum - c.dm * (float)msum);
                }
            }
            for (int t = 0; t < nt; t++) Y[(int64_t)(t0 + t) * y_stride + r] = acc[t];
        }
    }
}

#define K_GEMM(name, block_type)                                               \
    static void gemm_##name##_scalar(int64_t n, const void *W, size_t w_stride, \
                                     int n_rows, const void *A, size_t a_stride, \
                                     int n_tok, float *Y, int64_t y_stride)     \
    {                                                                          \
        gemm_k(unpack_##name, sizeof(block_type), n, W, w_stride, n_rows,     \
               A, a_stride, n_tok, Y, y_stride);                               \
    }
K_GEMM(q2_k, block_q2_k)
K_GEMM(q3_k, block_q3_k)
K_GEMM(q4_k, block_q4_k)
K_GEMM(q5_k, block_q5_k)
K_GEMM(q6_k, block_q6_k)

/* ---- float weights --------------------------------------------------------- */

/* Weight value i of a float row of the given type. */
static inline float float_weight(uint32_t type, const void *row, int64_t i)
{
    switch (type) {
    case LLP_F16:  return llp_fp16_to_f32(((const uint16_t *)row)[i]);
    case LLP_BF16: return llp_bf16_to_f32(((const uint16_t *)row)[i]);
    default:       return ((const float *)row)[i];
    }
}

static void gemm_float(uint32_t type, int64_t n, const void *W, size_t w_stride,
                       int n_rows, const void *A, size_t a_stride, int n_tok,
                       float *Y, int64_t y_stride)
{
    for (int r = 0; r < n_rows; r++) {
        const void *row = (const char *)W + (size_t)r * w_stride;
        for (int t = 0; t < n_tok; t++) {
            const float *x = (const float *)((const char *)A + (size_t)t * a_stride);
            float sum = 0;
            for (int64_t i = 0; i < n; i++) sum += float_weight(type, row, i) * x[i];
            Y[(int64_t)t * y_stride + r] = sum;
        }
    }
}

#define FLOAT_GEMM(name, type)                                                 \
    static void gemm_##name##_scalar(int64_t n, const void *W, size_t w_stride, \
                                     int n_rows, const void *A, size_t a_stride, \
                                     int n_tok, float *Y, int64_t y_stride)     \
    {                                                                          \
        gemm_float(type, n, W, w_stride, n_rows, A, a_stride, n_tok, Y,        \
                   y_stride);                                                  \
    }
FLOAT_GEMM(f32, LLP_F32)
FLOAT_GEMM(f16, LLP_F16)
FLOAT_GEMM(bf16, LLP_BF16)

/* Attention steps (kernels.h): the plain loops, in position and element
 * order, as the reference path runs them. */
static void attn_dot_f32_scalar(const float *q, const void *Kv, size_t stride, int d, int n,
                                float scale, float *s)
{
    const float *K = Kv;
    for (int p = 0; p < n; p++) {
        float sum = 0;
        for (int i = 0; i < d; i++) sum += q[i] * K[(size_t)p * stride + i];
        s[p] = sum * scale;
    }
}

static void attn_dot_f16_scalar(const float *q, const void *Kv, size_t stride, int d, int n,
                                float scale, float *s)
{
    const uint16_t *K = Kv;
    for (int p = 0; p < n; p++) {
        float sum = 0;
        for (int i = 0; i < d; i++) sum += q[i] * llp_fp16_to_f32(K[(size_t)p * stride + i]);
        s[p] = sum * scale;
    }
}

static void attn_mix_f32_scalar(const float *a, const void *Vv, size_t stride, int d, int n,
                                float *out)
{
    const float *V = Vv;
    for (int p = 0; p < n; p++)
        for (int i = 0; i < d; i++) out[i] += a[p] * V[(size_t)p * stride + i];
}

static void attn_mix_f16_scalar(const float *a, const void *Vv, size_t stride, int d, int n,
                                float *out)
{
    const uint16_t *V = Vv;
    for (int p = 0; p < n; p++)
        for (int i = 0; i < d; i++) out[i] += a[p] * llp_fp16_to_f32(V[(size_t)p * stride + i]);
}

/* softmax (kernels.h): exp_poly per score, the sum in eight double lanes
 * joined in the vector sets' order. */
static void softmax_scalar(float *x, int n)
{
    float max = x[0];
    for (int i = 1; i < n; i++)
        if (x[i] > max) max = x[i];
    double lane[8] = { 0 };
    for (int i = 0; i < n; i++) {
        x[i] = llp_exp_poly(x[i] - max);
        lane[i % 8] += (double)x[i];
    }
    double sum = ((lane[0] + lane[1]) + (lane[2] + lane[3])) +
                 ((lane[4] + lane[5]) + (lane[6] + lane[7]));
    float inv = (float)(1.0 / sum);
    for (int i = 0; i < n; i++) x[i] *= inv;
}

/* SwiGLU (kernels.h): llp_silu_poly per value. */
static void swiglu_scalar(float *g, const float *u, size_t n)
{
    for (size_t i = 0; i < n; i++) g[i] = llp_silu_poly(g[i]) * u[i];
}

const llp_kernel_set llp_kernels_scalar = {
    .name = "scalar",
    .quantize_q8_32 = quantize_q8_32_scalar,
    .quantize_q8_256 = quantize_q8_256_scalar,
    .gemm = {
        [LLP_F32] = gemm_f32_scalar,   [LLP_F16] = gemm_f16_scalar,
        [LLP_BF16] = gemm_bf16_scalar,
        [LLP_Q4_0] = gemm_q4_0_scalar, [LLP_Q4_1] = gemm_q4_1_scalar,
        [LLP_Q5_0] = gemm_q5_0_scalar, [LLP_Q5_1] = gemm_q5_1_scalar,
        [LLP_Q8_0] = gemm_q8_0_scalar,
        [LLP_Q2_K] = gemm_q2_k_scalar, [LLP_Q3_K] = gemm_q3_k_scalar,
        [LLP_Q4_K] = gemm_q4_k_scalar, [LLP_Q5_K] = gemm_q5_k_scalar,
        [LLP_Q6_K] = gemm_q6_k_scalar,
    },
    .gemm_packed = {   /* pack.c */
        [LLP_Q4_0] = llp_gemm_packed_q4_0_scalar, [LLP_Q4_1] = llp_gemm_packed_q4_1_scalar,
        [LLP_Q5_0] = llp_gemm_packed_q5_0_scalar, [LLP_Q5_1] = llp_gemm_packed_q5_1_scalar,
        [LLP_Q8_0] = llp_gemm_packed_q8_0_scalar,
        [LLP_Q2_K] = llp_gemm_packed_q2_k_scalar, [LLP_Q3_K] = llp_gemm_packed_q3_k_scalar,
        [LLP_Q4_K] = llp_gemm_packed_q4_k_scalar, [LLP_Q5_K] = llp_gemm_packed_q5_k_scalar,
        [LLP_Q6_K] = llp_gemm_packed_q6_k_scalar,
    },
    .attn_dot = { attn_dot_f32_scalar, attn_dot_f16_scalar },
    .attn_mix = { attn_mix_f32_scalar, attn_mix_f16_scalar },
    .softmax = softmax_scalar,
    .swiglu = swiglu_scalar,
};
