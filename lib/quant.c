/*
 * quant.c — the scalar reference for weight rows: decode (dequantize),
 * dot product and encode (quantize) for the float types (F32, F16, BF16)
 * and the legacy 32-value block types (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0), and
 * the row-level entry points of quant.h that dispatch on the type.
 *
 * Not for: the K-quant super-blocks (quant_k.c), the type table
 * (quant_types.c), or fast kernels (lib/kernels/, tested against this file).
 *
 * Each block type has one decode function (block -> floats) that is the
 * single place knowing its bit layout; the dot product decodes a block at a
 * time and multiplies, so it is exactly "dot of the dequantized row". Dot
 * products accumulate in double so that the reference carries less rounding
 * error than any kernel it is compared with.
 */
#include "quant.h"
#include "quant_blocks.h"
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- decode: one block to floats -------------------------------------- */

static void decode_q4_0(const void *block, float *y)
{
    const block_q4_0 *b = block;
    float d = llp_fp16_to_f32(b->d);
    for (int j = 0; j < 16; j++) {
        y[j]      = d * ((b->qs[j] & 15) - 8);
        y[j + 16] = d * ((b->qs[j] >> 4) - 8);
    }
}

static void decode_q4_1(const void *block, float *y)
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

static void decode_q5_0(const void *block, float *y)
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

static void decode_q5_1(const void *block, float *y)
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

static void decode_q8_0(const void *block, float *y)
{
    const block_q8_0 *b = block;
    float d = llp_fp16_to_f32(b->d);
    for (int j = 0; j < 32; j++)
        y[j] = d * b->qs[j];
}

/* ---- dispatch ---------------------------------------------------------- */

typedef void (*decode_fn)(const void *block, float *y);

/* The block decoder of a quantized type; NULL for float types and for
 * types without a decoder. */
static decode_fn block_decoder(uint32_t type)
{
    switch (type) {
    case LLP_Q4_0: return decode_q4_0;
    case LLP_Q4_1: return decode_q4_1;
    case LLP_Q5_0: return decode_q5_0;
    case LLP_Q5_1: return decode_q5_1;
    case LLP_Q8_0: return decode_q8_0;
    default:       return NULL;
    }
}

/* Calling a row function with a type that has no block format is a bug in
 * the caller (files are checked against the supported flag on load). */
static void no_format(const char *fn, uint32_t type)
{
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
    decode_fn decode = block_decoder(type);
    if (!decode) no_format("llp_dequantize_row", type);
    const llp_type_info *t = llp_type_get(type);
    const uint8_t *block = src;
    for (int64_t i = 0; i < n; i += t->block_size) {
        decode(block, dst + i);
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
    decode_fn decode = block_decoder(type);
    if (!decode) no_format("llp_dot_ref", type);
    const llp_type_info *t = llp_type_get(type);
    const uint8_t *block = row;
    float w[QK_K];
    for (int64_t i = 0; i < n; i += t->block_size) {
        decode(block, w);
        for (int j = 0; j < t->block_size; j++) sum += (double)w[j] * x[i + j];
        block += t->type_size;
    }
    return (float)sum;
}
