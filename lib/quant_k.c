/*
 * quant_k.c — decode and encode of the K-quant 256-value super-blocks
 * (Q2_K, Q3_K, Q4_K, Q5_K, Q6_K): the scalar reference for their bit
 * layouts.
 *
 * Not for: the row-level API and the legacy 32-value blocks (quant.c), or
 * fast kernels (lib/kernels/). Split from quant.c by format family.
 *
 * Every K-quant block is a two-level scheme: the 256 values form sub-blocks
 * of 16 or 32, each with a small integer scale (and, for Q2_K/Q4_K/Q5_K, an
 * integer min), and those integers are multiplied by fp16 super-block
 * scales d (and dmin). Decoders are written per value index i in 0..255 so
 * the layout of each bit can be read off directly; where a float expression
 * matters they evaluate it in the same order as llama.cpp
 * ((d * scale) * q - dmin * min), so decoded values match it bit for bit.
 *
 * Encoding (all types): fit each sub-block on its own with the small scale
 * search of llp_fit_symmetric / llp_fit_affine (quant.c), quantize the
 * sub-block scales and mins against an fp16 super-block scale picked from a
 * few candidates near "largest one on the end of its integer range" by the
 * block's squared error, then round every value to its nearest level under
 * the final stored scales. This follows llama.cpp's reference quantizer
 * without an importance matrix, plus the super-scale search; errors are
 * measured in tests/quant_roundtrip.c.
 */
#include "quant.h"
#include "quant_blocks.h"
#include "util.h"

#include <math.h>
#include <string.h>

/* ---- layout helpers shared by decode and encode ------------------------ */

/* Q2_K and Q3_K keep 2-bit fields: per 128 values 32 bytes, value i in byte
 * (i / 128) * 32 + i % 32 at bit 2 * ((i / 32) % 4). */
static int two_bit_byte(int i)  { return (i / 128) * 32 + i % 32; }
static int two_bit_shift(int i) { return 2 * ((i / 32) % 4); }

/* Q3_K hmask and Q5_K qh: bit i / 32 of byte i % 32 belongs to value i. */
static int high_bit_byte(int i)  { return i % 32; }
static int high_bit_shift(int i) { return i / 32; }

/* Q4_K and Q5_K nibbles: per 64 values 32 bytes, low nibbles first. */
static int nibble_byte(int i)  { return (i / 64) * 32 + i % 32; }
static int nibble_shift(int i) { return 4 * ((i / 32) % 2); }

/* Q3_K: 16 6-bit scales in 12 bytes. Low 4 bits: bytes 0..7, low nibble for
 * scales 0..7 and high nibble for 8..15. High 2 bits: byte 8 + i % 4 at bit
 * 2 * (i / 4). Stored with a +32 bias. */
static int q3_k_scale(const uint8_t s[12], int i)
{
    int low = i < 8 ? s[i] & 15 : s[i - 8] >> 4;
    int high = (s[8 + i % 4] >> (2 * (i / 4))) & 3;
    return (low | high << 4) - 32;
}

static void q3_k_pack_scales(uint8_t s[12], const int8_t scale[16])
{
    memset(s, 0, 12);
    for (int i = 0; i < 16; i++) {
        int v = scale[i] + 32;                       /* 0 .. 63 */
        if (i < 8) s[i] |= (uint8_t)(v & 15);
        else       s[i - 8] |= (uint8_t)((v & 15) << 4);
        s[8 + i % 4] |= (uint8_t)((v >> 4) << (2 * (i / 4)));
    }
}

/* Q4_K and Q5_K: 8 6-bit scales and 8 6-bit mins in 12 bytes. Sub-blocks
 * 0..3 use the low 6 bits of bytes 0..3 (scale) and 4..7 (min); sub-blocks
 * 4..7 keep their low 4 bits in bytes 8..11 (scale low nibble, min high
 * nibble) and their top 2 bits in the top bits of bytes 0..3 (scale) and
 * 4..7 (min). */
static void k4_scale_min(const uint8_t s[12], int j, int *scale, int *min)
{
    if (j < 4) {
        *scale = s[j] & 63;
        *min = s[j + 4] & 63;
    } else {
        *scale = (s[j + 4] & 15) | (s[j - 4] >> 6) << 4;
        *min = (s[j + 4] >> 4) | (s[j] >> 6) << 4;
    }
}

static void k4_pack_scales(uint8_t s[12], const uint8_t scale[8], const uint8_t min[8])
{
    for (int j = 0; j < 4; j++) {
        s[j] = (uint8_t)(scale[j] | (scale[j + 4] >> 4) << 6);
        s[j + 4] = (uint8_t)(min[j] | (min[j + 4] >> 4) << 6);
        s[j + 8] = (uint8_t)((scale[j + 4] & 15) | (min[j + 4] & 15) << 4);
    }
}

/* Q6_K: per 128 values 64 bytes of ql and 32 of qh. Within those, quarter
 * k = (i % 128) / 32 and l = i % 32: the low 4 bits are in ql[l] (k = 0, 2)
 * or ql[l + 32] (k = 1, 3), low nibble for k < 2, high for k >= 2; the high
 * 2 bits are bits 2k, 2k+1 of qh[l]. */
static int q6_ql_byte(int i)  { return (i / 128) * 64 + i % 32 + ((i / 32) % 2) * 32; }
static int q6_ql_shift(int i) { return 4 * ((i % 128) / 64); }
static int q6_qh_byte(int i)  { return (i / 128) * 32 + i % 32; }
static int q6_qh_shift(int i) { return 2 * ((i % 128) / 32); }

/* ---- decode ------------------------------------------------------------ */

/* value = d * (scale & 15) * q - dmin * (scale >> 4), q in 0..3, sub-blocks
 * of 16. */
void llp_decode_q2_k(const void *block, float *y)
{
    const block_q2_k *b = block;
    float d = llp_fp16_to_f32(b->d), dmin = llp_fp16_to_f32(b->dmin);
    for (int i = 0; i < QK_K; i++) {
        int q = (b->qs[two_bit_byte(i)] >> two_bit_shift(i)) & 3;
        int sc = b->scales[i / 16];
        y[i] = d * (sc & 15) * q - dmin * (sc >> 4);
    }
}

/* value = d * scale * (q - 4), q 3-bit: low 2 from qs, high from hmask;
 * sub-blocks of 16. */
void llp_decode_q3_k(const void *block, float *y)
{
    const block_q3_k *b = block;
    float d = llp_fp16_to_f32(b->d);
    for (int i = 0; i < QK_K; i++) {
        int low = (b->qs[two_bit_byte(i)] >> two_bit_shift(i)) & 3;
        int high = (b->hmask[high_bit_byte(i)] >> high_bit_shift(i)) & 1;
        int q = low - (high ? 0 : 4);
        y[i] = d * q3_k_scale(b->scales, i / 16) * q;
    }
}

/* value = d * scale * q - dmin * min, q in 0..15, sub-blocks of 32. */
void llp_decode_q4_k(const void *block, float *y)
{
    const block_q4_k *b = block;
    float d = llp_fp16_to_f32(b->d), dmin = llp_fp16_to_f32(b->dmin);
    for (int i = 0; i < QK_K; i++) {
        int q = (b->qs[nibble_byte(i)] >> nibble_shift(i)) & 15;
        int sc, mn;
        k4_scale_min(b->scales, i / 32, &sc, &mn);
        y[i] = d * sc * q - dmin * mn;
    }
}

/* As Q4_K with a fifth bit of q from qh: q in 0..31. */
void llp_decode_q5_k(const void *block, float *y)
{
    const block_q5_k *b = block;
    float d = llp_fp16_to_f32(b->d), dmin = llp_fp16_to_f32(b->dmin);
    for (int i = 0; i < QK_K; i++) {
        int q = (b->qs[nibble_byte(i)] >> nibble_shift(i)) & 15;
        q |= ((b->qh[high_bit_byte(i)] >> high_bit_shift(i)) & 1) << 4;
        int sc, mn;
        k4_scale_min(b->scales, i / 32, &sc, &mn);
        y[i] = d * sc * q - dmin * mn;
    }
}

/* value = d * scale * (q - 32), q 6-bit, int8 scales, sub-blocks of 16. */
void llp_decode_q6_k(const void *block, float *y)
{
    const block_q6_k *b = block;
    float d = llp_fp16_to_f32(b->d);
    for (int i = 0; i < QK_K; i++) {
        int low = (b->ql[q6_ql_byte(i)] >> q6_ql_shift(i)) & 15;
        int high = (b->qh[q6_qh_byte(i)] >> q6_qh_shift(i)) & 3;
        int q = (low | high << 4) - 32;
        y[i] = d * b->scales[i / 16] * q;
    }
}

/* ---- encode ------------------------------------------------------------ */

/* The super-block scale is searched over a few candidates: the largest
 * sub-block scale aimed at the end of the integer range, or up to
 * SUPER_STEPS - 1 levels inside it. Which is best depends on how the fp16
 * rounding of the super-scale and the integer rounding of each sub-block
 * scale fall together (it matters most when the super-scale is an fp16
 * subnormal, as it is for typical Llama weights); each candidate is judged
 * by the squared error of the whole block. */
#define SUPER_STEPS 8

/* Q2_K, Q4_K, Q5_K: given the fitted sub-block scales sub_d[] (>= 0) and
 * mins sub_min[] (>= 0, subtracted) and the super-scales d and dmin, round
 * the integer scales and mins to [0, smax] and the levels to [0, nmax];
 * return the block's squared error. */
static double affine_levels(const float *x, int n_sub, int nmax, int smax,
                            const float *sub_d, const float *sub_min,
                            float d, float dmin,
                            uint8_t *scale, uint8_t *min, uint8_t *q)
{
    int sub = QK_K / n_sub;
    double err = 0;
    for (int j = 0; j < n_sub; j++) {
        scale[j] = (uint8_t)llp_level_for(sub_d[j], d, 0, smax);
        min[j] = (uint8_t)llp_level_for(sub_min[j], dmin, 0, smax);
        float sd = d * scale[j], sm = dmin * min[j], id = llp_inverse(sd);
        for (int i = j * sub; i < (j + 1) * sub; i++) {
            q[i] = (uint8_t)llp_round_clamp((x[i] + sm) * id, 0, nmax);
            double e = (double)(sd * q[i] - sm) - x[i];
            err += e * e;
        }
    }
    return err;
}

/* Q2_K, Q4_K, Q5_K: n_sub sub-blocks of QK_K / n_sub values, levels
 * [0, nmax], each sub-block value = d * scale * q - dmin * min with integer
 * scale and min in [0, smax]. Fills the fp16 super-scales, the integer
 * scales and mins, and the 256 levels. The two super-scales are searched
 * one after the other (d with dmin at its plain value, then dmin). */
static void encode_k_affine(const float *x, int n_sub, int nmax, int smax,
                            uint16_t *dh, uint16_t *dminh,
                            uint8_t *scale, uint8_t *min, uint8_t *q)
{
    int sub = QK_K / n_sub;
    float sub_d[16], sub_min[16], max_d = 0, max_min = 0;
    for (int j = 0; j < n_sub; j++) {
        float m;
        sub_d[j] = llp_fit_affine(x + j * sub, sub, nmax, 1, &m, NULL);
        sub_min[j] = -m;                             /* >= 0 */
        if (sub_d[j] > max_d) max_d = sub_d[j];
        if (sub_min[j] > max_min) max_min = sub_min[j];
    }
    uint16_t best_d = llp_f32_to_fp16(max_d / smax);
    uint16_t best_dmin = llp_f32_to_fp16(max_min / smax);
    double best_err = INFINITY;
    for (int pass = 0; pass < 2; pass++) {
        uint16_t fixed_d = best_d, fixed_dmin = best_dmin;
        for (int k = 0; k < SUPER_STEPS; k++) {
            uint16_t cd = fixed_d, cdmin = fixed_dmin;
            if (pass == 0) cd = llp_f32_to_fp16(max_d / (smax - k));
            else           cdmin = llp_f32_to_fp16(max_min / (smax - k));
            double err = affine_levels(x, n_sub, nmax, smax, sub_d, sub_min,
                                       llp_fp16_to_f32(cd), llp_fp16_to_f32(cdmin),
                                       scale, min, q);
            if (err < best_err) {
                best_err = err;
                best_d = cd;
                best_dmin = cdmin;
            }
        }
    }
    *dh = best_d;
    *dminh = best_dmin;
    affine_levels(x, n_sub, nmax, smax, sub_d, sub_min, llp_fp16_to_f32(best_d),
                  llp_fp16_to_f32(best_dmin), scale, min, q);
}

/* Q3_K, Q6_K: for super-scale d, round the 16 integer scales to
 * [-smax, smax-1] and the levels to [-nmax, nmax-1]; return the squared
 * error. */
static double symmetric_levels(const float *x, int nmax, int smax,
                               const float *sub_d, float d, int8_t *scale, int8_t *q)
{
    double err = 0;
    for (int j = 0; j < 16; j++) {
        scale[j] = (int8_t)llp_level_for(sub_d[j], d, -smax, smax - 1);
        float sd = d * scale[j], id = llp_inverse(sd);
        for (int i = 16 * j; i < 16 * (j + 1); i++) {
            q[i] = (int8_t)llp_round_clamp(x[i] * id, -nmax, nmax - 1);
            double e = (double)(sd * q[i]) - x[i];
            err += e * e;
        }
    }
    return err;
}

/* Q3_K, Q6_K: 16 sub-blocks of 16, levels [-nmax, nmax-1], value =
 * d * scale * q with integer scale in [-smax, smax-1]. The sub-block scale
 * of largest magnitude is aimed at -smax (or a few levels inside it). */
static uint16_t encode_k_symmetric(const float *x, int nmax, int smax,
                                   int8_t scale[16], int8_t *q)
{
    float sub_d[16], extreme = 0;
    for (int j = 0; j < 16; j++) {
        sub_d[j] = llp_fit_symmetric(x + 16 * j, 16, nmax, NULL);
        if (fabsf(sub_d[j]) > fabsf(extreme)) extreme = sub_d[j];
    }
    uint16_t best = 0;
    double best_err = INFINITY;
    for (int k = 0; k < SUPER_STEPS; k++) {
        uint16_t dh = llp_f32_to_fp16(extreme / -(smax - k));
        double err = symmetric_levels(x, nmax, smax, sub_d, llp_fp16_to_f32(dh), scale, q);
        if (err < best_err) {
            best_err = err;
            best = dh;
        }
    }
    symmetric_levels(x, nmax, smax, sub_d, llp_fp16_to_f32(best), scale, q);
    return best;
}

void llp_encode_q2_k(const float *x, void *block)
{
    block_q2_k *b = block;
    uint8_t scale[16], min[16], q[QK_K];
    encode_k_affine(x, 16, 3, 15, &b->d, &b->dmin, scale, min, q);
    for (int j = 0; j < 16; j++)
        b->scales[j] = (uint8_t)(scale[j] | min[j] << 4);
    memset(b->qs, 0, sizeof b->qs);
    for (int i = 0; i < QK_K; i++)
        b->qs[two_bit_byte(i)] |= (uint8_t)(q[i] << two_bit_shift(i));
}

void llp_encode_q3_k(const float *x, void *block)
{
    block_q3_k *b = block;
    int8_t scale[16], q[QK_K];
    b->d = encode_k_symmetric(x, 4, 32, scale, q);
    q3_k_pack_scales(b->scales, scale);
    memset(b->qs, 0, sizeof b->qs);
    memset(b->hmask, 0, sizeof b->hmask);
    for (int i = 0; i < QK_K; i++) {
        int v = q[i] + 4;                            /* 0 .. 7 */
        b->qs[two_bit_byte(i)] |= (uint8_t)((v & 3) << two_bit_shift(i));
        b->hmask[high_bit_byte(i)] |= (uint8_t)((v >> 2) << high_bit_shift(i));
    }
}

void llp_encode_q4_k(const float *x, void *block)
{
    block_q4_k *b = block;
    uint8_t scale[8], min[8], q[QK_K];
    encode_k_affine(x, 8, 15, 63, &b->d, &b->dmin, scale, min, q);
    k4_pack_scales(b->scales, scale, min);
    memset(b->qs, 0, sizeof b->qs);
    for (int i = 0; i < QK_K; i++)
        b->qs[nibble_byte(i)] |= (uint8_t)(q[i] << nibble_shift(i));
}

void llp_encode_q5_k(const float *x, void *block)
{
    block_q5_k *b = block;
    uint8_t scale[8], min[8], q[QK_K];
    encode_k_affine(x, 8, 31, 63, &b->d, &b->dmin, scale, min, q);
    k4_pack_scales(b->scales, scale, min);
    memset(b->qs, 0, sizeof b->qs);
    memset(b->qh, 0, sizeof b->qh);
    for (int i = 0; i < QK_K; i++) {
        b->qs[nibble_byte(i)] |= (uint8_t)((q[i] & 15) << nibble_shift(i));
        b->qh[high_bit_byte(i)] |= (uint8_t)((q[i] >> 4) << high_bit_shift(i));
    }
}

void llp_encode_q6_k(const float *x, void *block)
{
    block_q6_k *b = block;
    int8_t q[QK_K];
    b->d = encode_k_symmetric(x, 32, 128, b->scales, q);
    memset(b->ql, 0, sizeof b->ql);
    memset(b->qh, 0, sizeof b->qh);
    for (int i = 0; i < QK_K; i++) {
        int v = q[i] + 32;                           /* 0 .. 63 */
        b->ql[q6_ql_byte(i)] |= (uint8_t)((v & 15) << q6_ql_shift(i));
        b->qh[q6_qh_byte(i)] |= (uint8_t)((v >> 4) << q6_qh_shift(i));
    }
}
