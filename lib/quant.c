/*
 * quant.c — the scalar reference for weight rows: decode (dequantize),
 * dot product and encode (quantize) for the float types (F32, F16, BF16)
 * and the legacy 32-value block types (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0); the
 * scale fitting all encoders share; and the row-level entry points of
 * quant.h, which dispatch on the type.
 *
 * Not for: the K-quant super-blocks (quant_k.c, split off by format
 * family), the type table (quant_types.c), or fast kernels (lib/kernels/,
 * which are tested against this file).
 *
 * Each block type has one decode function (block -> floats) that is the
 * single place knowing its bit layout; the dot product decodes a block at a
 * time and multiplies, so it is exactly "dot of the dequantized row". Dot
 * products accumulate in double so that the reference carries less rounding
 * error than any kernel it is compared with.
 *
 * Encoding is round-to-nearest under a well-chosen scale: a small grid of
 * candidate scales around "the extreme value on the end of the level
 * range", each scored by the least-squares error of its rounding (see
 * llp_fit_symmetric / llp_fit_affine), then the levels are re-rounded under
 * the scale as actually stored in fp16. Q8_0 uses plain amax / 127.
 */
#include "quant.h"
#include "quant_blocks.h"
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- decode: one block to floats -------------------------------------- */

void llp_decode_q4_0(const void *block, float *y)
{
    const block_q4_0 *b = block;
    float d = llp_fp16_to_f32(b->d);
    for (int j = 0; j < 16; j++) {
        y[j]      = d * ((b->qs[j] & 15) - 8);
        y[j + 16] = d * ((b->qs[j] >> 4) - 8);
    }
}

void llp_decode_q4_1(const void *block, float *y)
{
    const block_q4_1 *b = block;
    float d = llp_fp16_to_f32(b->d), m = llp_fp16_to_f32(b->m);
    for (int j = 0; j < 16; j++) {
        y[j]      = d * (b->qs[j] & 15) + m;
        y[j + 16] = d * (b->qs[j] >> 4) + m;
    }
}

/* The 32 high bits of a Q5 block, bit j belonging to value j. */
static uint32_t q5_high_bits(const uint8_t qh[4])
{
    return (uint32_t)qh[0] | (uint32_t)qh[1] << 8 |
           (uint32_t)qh[2] << 16 | (uint32_t)qh[3] << 24;
}

void llp_decode_q5_0(const void *block, float *y)
{
    const block_q5_0 *b = block;
    float d = llp_fp16_to_f32(b->d);
    uint32_t qh = q5_high_bits(b->qh);
    for (int j = 0; j < 16; j++) {
        int lo = (b->qs[j] & 15) | ((qh >> j) & 1) << 4;
        int hi = (b->qs[j] >> 4) | ((qh >> (j + 16)) & 1) << 4;
        y[j]      = d * (lo - 16);
        y[j + 16] = d * (hi - 16);
    }
}

void llp_decode_q5_1(const void *block, float *y)
{
    const block_q5_1 *b = block;
    float d = llp_fp16_to_f32(b->d), m = llp_fp16_to_f32(b->m);
    uint32_t qh = q5_high_bits(b->qh);
    for (int j = 0; j < 16; j++) {
        int lo = (b->qs[j] & 15) | ((qh >> j) & 1) << 4;
        int hi = (b->qs[j] >> 4) | ((qh >> (j + 16)) & 1) << 4;
        y[j]      = d * lo + m;
        y[j + 16] = d * hi + m;
    }
}

void llp_decode_q8_0(const void *block, float *y)
{
    const block_q8_0 *b = block;
    float d = llp_fp16_to_f32(b->d);
    for (int j = 0; j < 32; j++)
        y[j] = d * b->qs[j];
}

/* ---- scale fitting ----------------------------------------------------- */

/* Half-width of the scale search grid, in tenths of a quantization level:
 * 10 tries scales putting the extreme value anywhere from one level inside
 * to one level outside the end of the range. */
#define FIT_STEPS 10

float llp_fit_symmetric(const float *x, int n, int nmax, int8_t *q)
{
    float xmax = 0;                 /* the value of largest magnitude */
    for (int i = 0; i < n; i++)
        if (fabsf(x[i]) > fabsf(xmax)) xmax = x[i];
    if (xmax == 0) {
        if (q) memset(q, 0, (size_t)n);
        return 0;
    }
    /* For each candidate, round x * inv to levels; the least-squares scale
     * for those levels is sxq / sqq and leaves an error of
     * sum(x^2) - sxq^2 / sqq, so the best candidate maximises sxq^2 / sqq.
     * The extreme value is aimed at the long end (-nmax) or the short end
     * (nmax - 1) of the range. */
    double best_gain = -1, best_d = 0;
    float best_inv = 0;
    for (int end = 0; end < 2; end++) {
        for (int k = -FIT_STEPS; k <= FIT_STEPS; k++) {
            float level = end == 0 ? -(nmax + 0.1f * k) : (nmax - 1 + 0.1f * k);
            if (level == 0) continue;
            float inv = level / xmax;
            double sxq = 0, sqq = 0;
            for (int i = 0; i < n; i++) {
                int l = llp_round_clamp(inv * x[i], -nmax, nmax - 1);
                sxq += (double)x[i] * l;
                sqq += (double)l * l;
            }
            if (sqq > 0 && sxq * sxq / sqq > best_gain) {
                best_gain = sxq * sxq / sqq;
                best_d = sxq / sqq;
                best_inv = inv;
            }
        }
    }
    if (q)
        for (int i = 0; i < n; i++)
            q[i] = (int8_t)llp_round_clamp(best_inv * x[i], -nmax, nmax - 1);
    return (float)best_d;
}

float llp_fit_affine(const float *x, int n, int nmax, int min_nonpos,
                     float *m, uint8_t *q)
{
    float lo = x[0], hi = x[0];
    for (int i = 1; i < n; i++) {
        if (x[i] < lo) lo = x[i];
        if (x[i] > hi) hi = x[i];
    }
    if (min_nonpos && lo > 0) lo = 0;
    if (hi <= lo) {                  /* constant: all levels 0, value = m */
        *m = lo;
        if (q) memset(q, 0, (size_t)n);
        return 0;
    }
    /* Fallback and starting point: min on level 0, max on level nmax. */
    double best_d = (hi - lo) / nmax, best_m = lo, best_err = INFINITY;
    double sx = 0, sxx = 0;
    for (int i = 0; i < n; i++) {
        sx += x[i];
        sxx += (double)x[i] * x[i];
    }
    for (int k = -FIT_STEPS; k <= FIT_STEPS; k++) {
        float inv = (nmax + 0.1f * k) / (hi - lo);
        double sq = 0, sqq = 0, sxq = 0;
        for (int i = 0; i < n; i++) {
            int l = llp_round_clamp(inv * (x[i] - lo), 0, nmax);
            sq += l;
            sqq += (double)l * l;
            sxq += (double)x[i] * l;
        }
        /* Least squares for x ~ d * l + m over the two unknowns. */
        double det = n * sqq - sq * sq;
        if (det <= 0) continue;
        double d = (n * sxq - sq * sx) / det;
        double mm = (sqq * sx - sq * sxq) / det;
        if (min_nonpos && mm > 0) {
            mm = 0;
            d = sxq / sqq;
        }
        if (d <= 0) continue;
        double err = sxx - 2 * d * sxq - 2 * mm * sx + d * d * sqq
                   + 2 * d * mm * sq + n * mm * mm;
        if (err < best_err) {
            best_err = err;
            best_d = d;
            best_m = mm;
        }
    }
    *m = (float)best_m;
    if (q)
        for (int i = 0; i < n; i++)
            q[i] = (uint8_t)llp_round_clamp((x[i] - *m) / (float)best_d, 0, nmax);
    return (float)best_d;
}

/* ---- encode: 32 floats to one legacy block ------------------------------
 * Scales are fitted as above, stored as fp16, and the levels are then
 * rounded against the stored (fp16-rounded) scale so that each value takes
 * its nearest representable neighbour. */

/* Shared by Q4_0 and Q5_0: symmetric levels [-half, half-1], stored with a
 * +half bias; low nibbles into qs, fifth bits (if qh) into qh. */
static uint16_t encode_symmetric32(const float *x, int half, uint8_t qs[16], uint8_t qh[4])
{
    uint16_t dh = llp_f32_to_fp16(llp_fit_symmetric(x, 32, half, NULL));
    float id = llp_inverse(llp_fp16_to_f32(dh));
    uint32_t high = 0;
    for (int j = 0; j < 16; j++) {
        int lo = llp_round_clamp(x[j] * id, -half, half - 1) + half;
        int hi = llp_round_clamp(x[j + 16] * id, -half, half - 1) + half;
        qs[j] = (uint8_t)((lo & 15) | (hi & 15) << 4);
        high |= (uint32_t)(lo >> 4) << j | (uint32_t)(hi >> 4) << (j + 16);
    }
    if (qh)
        for (int k = 0; k < 4; k++) qh[k] = (uint8_t)(high >> (8 * k));
    return dh;
}

/* Shared by Q4_1 and Q5_1: levels [0, nmax] with a free fp16 offset m. */
static void encode_affine32(const float *x, int nmax, uint16_t *dh, uint16_t *mh,
                            uint8_t qs[16], uint8_t qh[4])
{
    float m;
    *dh = llp_f32_to_fp16(llp_fit_affine(x, 32, nmax, 0, &m, NULL));
    *mh = llp_f32_to_fp16(m);
    float id = llp_inverse(llp_fp16_to_f32(*dh)), mf = llp_fp16_to_f32(*mh);
    uint32_t high = 0;
    for (int j = 0; j < 16; j++) {
        int lo = llp_round_clamp((x[j] - mf) * id, 0, nmax);
        int hi = llp_round_clamp((x[j + 16] - mf) * id, 0, nmax);
        qs[j] = (uint8_t)((lo & 15) | (hi & 15) << 4);
        high |= (uint32_t)(lo >> 4) << j | (uint32_t)(hi >> 4) << (j + 16);
    }
    if (qh)
        for (int k = 0; k < 4; k++) qh[k] = (uint8_t)(high >> (8 * k));
}

void llp_encode_q4_0(const float *x, void *block)
{
    block_q4_0 *b = block;
    b->d = encode_symmetric32(x, 8, b->qs, NULL);
}

void llp_encode_q5_0(const float *x, void *block)
{
    block_q5_0 *b = block;
    b->d = encode_symmetric32(x, 16, b->qs, b->qh);
}

void llp_encode_q4_1(const float *x, void *block)
{
    block_q4_1 *b = block;
    encode_affine32(x, 15, &b->d, &b->m, b->qs, NULL);
}

void llp_encode_q5_1(const float *x, void *block)
{
    block_q5_1 *b = block;
    encode_affine32(x, 31, &b->d, &b->m, b->qs, b->qh);
}

/* Q8_0 keeps levels in [-127, 127] (as llama.cpp does, so kernels may take
 * absolute values of int8 safely); with 255 levels the plain amax / 127
 * scale is already within a hair of the best. */
void llp_encode_q8_0(const float *x, void *block)
{
    block_q8_0 *b = block;
    float amax = 0;
    for (int j = 0; j < 32; j++)
        if (fabsf(x[j]) > amax) amax = fabsf(x[j]);
    b->d = llp_f32_to_fp16(amax / 127);
    float id = llp_inverse(llp_fp16_to_f32(b->d));
    for (int j = 0; j < 32; j++)
        b->qs[j] = (int8_t)llp_round_clamp(x[j] * id, -127, 127);
}

/* ---- dispatch ---------------------------------------------------------- */

typedef void (*decode_fn)(const void *block, float *y);
typedef void (*encode_fn)(const float *x, void *block);

/* Block codecs of the quantized types; float types are handled inline. */
static const struct codec {
    decode_fn decode;
    encode_fn encode;
} codecs[LLP_TYPE_COUNT] = {
    [LLP_Q4_0] = { llp_decode_q4_0, llp_encode_q4_0 },
    [LLP_Q4_1] = { llp_decode_q4_1, llp_encode_q4_1 },
    [LLP_Q5_0] = { llp_decode_q5_0, llp_encode_q5_0 },
    [LLP_Q5_1] = { llp_decode_q5_1, llp_encode_q5_1 },
    [LLP_Q8_0] = { llp_decode_q8_0, llp_encode_q8_0 },
    [LLP_Q2_K] = { llp_decode_q2_k, llp_encode_q2_k },
    [LLP_Q3_K] = { llp_decode_q3_k, llp_encode_q3_k },
    [LLP_Q4_K] = { llp_decode_q4_k, llp_encode_q4_k },
    [LLP_Q5_K] = { llp_decode_q5_k, llp_encode_q5_k },
    [LLP_Q6_K] = { llp_decode_q6_k, llp_encode_q6_k },
};

/* Calling a row function with a type that has no block format is a bug in
 * the caller (files are checked against the supported flag on load). */
static const struct codec *codec_for(const char *fn, uint32_t type)
{
    if (type < LLP_TYPE_COUNT && codecs[type].decode) return &codecs[type];
    fprintf(stderr, "llamapipe: internal error: %s: no block format for %s\n",
            fn, llp_type_name(type));
    abort();
}

void llp_dequantize_row(uint32_t type, const void *src, float *dst, int64_t n)
{
    switch (type) {
    case LLP_F32:
        memcpy(dst, src, (size_t)n * sizeof(float));
        return;
    case LLP_F16: {
        const uint16_t *h = src;
        for (int64_t i = 0; i < n; i++) dst[i] = llp_fp16_to_f32(h[i]);
        return;
    }
    case LLP_BF16: {
        const uint16_t *h = src;
        for (int64_t i = 0; i < n; i++) dst[i] = llp_bf16_to_f32(h[i]);
        return;
    }
    }
    const struct codec *c = codec_for("llp_dequantize_row", type);
    const llp_type_info *t = llp_type_get(type);
    const uint8_t *block = src;
    for (int64_t i = 0; i < n; i += t->block_size) {
        c->decode(block, dst + i);
        block += t->type_size;
    }
}

float llp_dot_ref(uint32_t type, const void *row, const float *x, int64_t n)
{
    double sum = 0;
    switch (type) {
    case LLP_F32: {
        const float *w = row;
        for (int64_t i = 0; i < n; i++) sum += (double)w[i] * x[i];
        return (float)sum;
    }
    case LLP_F16: {
        const uint16_t *h = row;
        for (int64_t i = 0; i < n; i++) sum += (double)llp_fp16_to_f32(h[i]) * x[i];
        return (float)sum;
    }
    case LLP_BF16: {
        const uint16_t *h = row;
        for (int64_t i = 0; i < n; i++) sum += (double)llp_bf16_to_f32(h[i]) * x[i];
        return (float)sum;
    }
    }
    const struct codec *c = codec_for("llp_dot_ref", type);
    const llp_type_info *t = llp_type_get(type);
    const uint8_t *block = row;
    float w[QK_K];
    for (int64_t i = 0; i < n; i += t->block_size) {
        c->decode(block, w);
        for (int j = 0; j < t->block_size; j++) sum += (double)w[j] * x[i + j];
        block += t->type_size;
    }
    return (float)sum;
}

size_t llp_quantize_row(uint32_t type, const float *src, void *dst, int64_t n)
{
    switch (type) {
    case LLP_F32:
        memcpy(dst, src, (size_t)n * sizeof(float));
        return (size_t)n * sizeof(float);
    case LLP_F16: {
        uint16_t *h = dst;
        for (int64_t i = 0; i < n; i++) h[i] = llp_f32_to_fp16(src[i]);
        return (size_t)n * 2;
    }
    case LLP_BF16: {
        uint16_t *h = dst;
        for (int64_t i = 0; i < n; i++) h[i] = llp_f32_to_bf16(src[i]);
        return (size_t)n * 2;
    }
    }
    const struct codec *c = codec_for("llp_quantize_row", type);
    const llp_type_info *t = llp_type_get(type);
    uint8_t *block = dst;
    for (int64_t i = 0; i < n; i += t->block_size) {
        c->encode(src + i, block);
        block += t->type_size;
    }
    return llp_row_size(type, n);
}
