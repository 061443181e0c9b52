/*
 * quant_blocks.c — the block formats decode to the documented values.
 *
 * For every supported type: hand-made blocks with known values (fp16 scales
 * like 1.0 and 0.5, chosen levels, literal packed scale bytes worked out by
 * hand from ENGINE-NOTES), "probes" that set one bit field at a time and
 * check which single value index it lands on (stated from the byte side,
 * the reverse of how the decoders read it), and rows of random blocks where
 * llp_dot_ref agrees with a dot of llp_dequantize_row's output.
 *
 * Not for: quantization quality (quant_roundtrip.c) or agreement with
 * llama.cpp-made files (checked against the shared fixtures elsewhere).
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "quant.h"
#include "quant_blocks.h"
#include "tap.h"
#include "util.h"

#define FP16_ONE  0x3c00
#define FP16_HALF 0x3800

/* ---- helpers ----------------------------------------------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t rng_u32(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

static float rng_uniform(float lo, float hi)
{
    return lo + (hi - lo) * (float)(rng_u32() >> 8) / (float)(1u << 24);
}

/* Decode one block of `type` (at most 256 values). */
static void decode(uint32_t type, const void *block, float *y)
{
    llp_dequantize_row(type, block, y, llp_type_get(type)->block_size);
}

static int all_equal_to(const float *y, int n, const float *expect, const char *what)
{
    for (int i = 0; i < n; i++)
        if (y[i] != expect[i]) {
            diag("%s: value %d is %g, expected %g", what, i, y[i], expect[i]);
            return 0;
        }
    return 1;
}

static void put_fp16(void *block, size_t offset, uint16_t h)
{
    memcpy((uint8_t *)block + offset, &h, 2);
}

/* Probe one bit field: `base` decodes to some values; setting `bits` at
 * byte `byte` (XOR) must change exactly the value at `expect`. Returns 1 on
 * success, else prints a diagnostic. */
static int probe(uint32_t type, const uint8_t *base, int byte, uint8_t bits, int expect)
{
    int bs = llp_type_get(type)->block_size;
    uint8_t block[QK_K * 4];
    float y0[QK_K], y1[QK_K];
    memcpy(block, base, (size_t)llp_type_get(type)->type_size);
    decode(type, block, y0);
    block[byte] ^= bits;
    decode(type, block, y1);
    int changed = -1, n_changed = 0;
    for (int i = 0; i < bs; i++)
        if (y0[i] != y1[i]) {
            changed = i;
            n_changed++;
        }
    if (n_changed == 1 && changed == expect) return 1;
    diag("%s: byte %d bits 0x%02x changed %d values (last %d), expected only value %d",
         llp_type_name(type), byte, bits, n_changed, changed, expect);
    return 0;
}

/* ---- float types ------------------------------------------------------- */

static void test_float_types(void)
{
    float f32[4] = { 1.5f, -2.25f, 0.0f, 1e-20f }, y[4];
    llp_dequantize_row(LLP_F32, f32, y, 4);
    ok(all_equal_to(y, 4, f32, "F32"), "F32 decodes to itself");

    uint16_t f16[6] = { 0x3c00, 0xc000, 0x3800, 0x7bff, 0x0001, 0x8000 };
    float f16_expect[6] = { 1.0f, -2.0f, 0.5f, 65504.0f, 5.9604645e-8f, -0.0f };
    float y6[6];
    llp_dequantize_row(LLP_F16, f16, y6, 6);
    ok(all_equal_to(y6, 6, f16_expect, "F16"),
       "F16 decodes 1, -2, 0.5, max, smallest subnormal, -0");

    uint16_t bf16[4] = { 0x3f80, 0xc040, 0x4049, 0x0000 };
    float bf16_expect[4] = { 1.0f, -3.0f, 3.140625f, 0.0f };
    llp_dequantize_row(LLP_BF16, bf16, y, 4);
    ok(all_equal_to(y, 4, bf16_expect, "BF16"), "BF16 decodes 1, -3, 3.140625, 0");

    float x[4] = { 2.0f, 1.0f, 5.0f, -1.0f };
    ok(llp_dot_ref(LLP_F32, f32, x, 4) == 3.0f - 2.25f + 0.0f - 1e-20f,
       "F32 dot of known values");
    ok(llp_dot_ref(LLP_F16, f16, x, 4) == 2.0f - 2.0f + 2.5f - 65504.0f,
       "F16 dot of known values");
    ok(llp_dot_ref(LLP_BF16, bf16, x, 4) == 2.0f - 3.0f + 5 * 3.140625f,
       "BF16 dot of known values");
}

/* ---- legacy 32-value blocks -------------------------------------------- */

static void test_q4_0(void)
{
    block_q4_0 b = { .d = FP16_ONE };
    float y[32], expect[32];
    for (int j = 0; j < 16; j++) {
        b.qs[j] = (uint8_t)(j | (15 - j) << 4);
        expect[j] = (float)(j - 8);            /* low nibble: value j */
        expect[j + 16] = (float)(7 - j);       /* high nibble: value j+16 */
    }
    decode(LLP_Q4_0, &b, y);
    ok(all_equal_to(y, 32, expect, "Q4_0"), "Q4_0 d=1: value = q - 8, low nibbles first");
    b.d = FP16_HALF;
    decode(LLP_Q4_0, &b, y);
    ok(y[0] == -4.0f && y[15] == 3.5f && y[16] == 3.5f && y[31] == -4.0f,
       "Q4_0 d=0.5 scales every value");

    int good = 1;
    for (int j = 0; j < 16; j++) {
        good &= probe(LLP_Q4_0, (uint8_t *)&b, 2 + j, 0x0f, j);
        good &= probe(LLP_Q4_0, (uint8_t *)&b, 2 + j, 0xf0, j + 16);
    }
    ok(good, "Q4_0 every nibble of qs lands on its documented value");
}

static void test_q4_1(void)
{
    block_q4_1 b = { .d = FP16_HALF, .m = 0xbc00 /* -1.0 */ };
    float y[32], expect[32];
    for (int j = 0; j < 16; j++) {
        b.qs[j] = (uint8_t)((15 - j) | j << 4);
        expect[j] = 0.5f * (15 - j) - 1.0f;
        expect[j + 16] = 0.5f * j - 1.0f;
    }
    decode(LLP_Q4_1, &b, y);
    ok(all_equal_to(y, 32, expect, "Q4_1"), "Q4_1 d=0.5 m=-1: value = d*q + m");
    int good = 1;
    for (int j = 0; j < 16; j++) {
        good &= probe(LLP_Q4_1, (uint8_t *)&b, 4 + j, 0x0f, j);
        good &= probe(LLP_Q4_1, (uint8_t *)&b, 4 + j, 0xf0, j + 16);
    }
    ok(good, "Q4_1 every nibble of qs lands on its documented value");
}

static void test_q5_0(void)
{
    /* qh = 0x80000001: fifth bit set for value 0 and value 31 only. */
    block_q5_0 b = { .d = FP16_ONE, .qh = { 0x01, 0x00, 0x00, 0x80 } };
    float y[32], expect[32];
    for (int j = 0; j < 16; j++) {
        b.qs[j] = (uint8_t)(j | (15 - j) << 4);
        expect[j] = (float)(j - 16);
        expect[j + 16] = (float)(15 - j - 16);
    }
    expect[0] += 16;
    expect[31] += 16;
    decode(LLP_Q5_0, &b, y);
    ok(all_equal_to(y, 32, expect, "Q5_0"),
       "Q5_0 d=1: value = q - 16, qh bit j is value j's fifth bit");
    int good = 1;
    for (int j = 0; j < 32; j++)
        good &= probe(LLP_Q5_0, (uint8_t *)&b, 2 + j / 8, (uint8_t)(1 << (j % 8)), j);
    for (int j = 0; j < 16; j++) {
        good &= probe(LLP_Q5_0, (uint8_t *)&b, 6 + j, 0x0f, j);
        good &= probe(LLP_Q5_0, (uint8_t *)&b, 6 + j, 0xf0, j + 16);
    }
    ok(good, "Q5_0 every qh bit and qs nibble lands on its documented value");
}

static void test_q5_1(void)
{
    block_q5_1 b = { .d = 0x3400 /* 0.25 */, .m = 0x4000 /* 2.0 */,
                     .qh = { 0xff, 0xff, 0x00, 0x00 } };
    float y[32], expect[32];
    for (int j = 0; j < 16; j++) {
        b.qs[j] = (uint8_t)(j | j << 4);
        expect[j] = 0.25f * (j + 16) + 2.0f;   /* low half: fifth bit set */
        expect[j + 16] = 0.25f * j + 2.0f;
    }
    decode(LLP_Q5_1, &b, y);
    ok(all_equal_to(y, 32, expect, "Q5_1"), "Q5_1 d=0.25 m=2: value = d*q + m, q 5-bit");
    int good = 1;
    for (int j = 0; j < 32; j++)
        good &= probe(LLP_Q5_1, (uint8_t *)&b, 4 + j / 8, (uint8_t)(1 << (j % 8)), j);
    for (int j = 0; j < 16; j++) {
        good &= probe(LLP_Q5_1, (uint8_t *)&b, 8 + j, 0x0f, j);
        good &= probe(LLP_Q5_1, (uint8_t *)&b, 8 + j, 0xf0, j + 16);
    }
    ok(good, "Q5_1 every qh bit and qs nibble lands on its documented value");
}

static void test_q8_0(void)
{
    block_q8_0 b = { .d = FP16_HALF };
    float y[32], expect[32];
    for (int j = 0; j < 32; j++) {
        b.qs[j] = (int8_t)(j * 8 - 128);       /* -128 .. 120 */
        expect[j] = 0.5f * (j * 8 - 128);
    }
    b.qs[31] = 127;
    expect[31] = 63.5f;
    decode(LLP_Q8_0, &b, y);
    ok(all_equal_to(y, 32, expect, "Q8_0"), "Q8_0 d=0.5: value = d * int8, including -128 and 127");
}

/* ---- K-quants ---------------------------------------------------------- */

static void test_q2_k(void)
{
    block_q2_k b;
    memset(&b, 0, sizeof b);
    b.d = FP16_ONE;
    b.dmin = FP16_HALF;
    for (int j = 0; j < 16; j++)
        b.scales[j] = (uint8_t)((j % 16) | ((15 - j) << 4));   /* scale j, min 15-j */
    memset(b.qs, 0xe4, sizeof b.qs);   /* bit pairs 0,1,2,3 from the bottom */
    float y[QK_K], expect[QK_K];
    for (int i = 0; i < QK_K; i++) {
        int sub = i / 16, q = (i / 32) % 4;      /* pair k of a byte: values 32k + ... */
        expect[i] = 1.0f * sub * q - 0.5f * (15 - sub);
    }
    decode(LLP_Q2_K, &b, y);
    ok(all_equal_to(y, QK_K, expect, "Q2_K"),
       "Q2_K d=1 dmin=0.5: value = d*(sc&15)*q - dmin*(sc>>4), sub-blocks of 16");

    /* Probes: with every scale 1 and min 0, a 2-bit field of qs byte b,
     * pair k is value (b/32)*128 + 32k + b%32. */
    memset(b.scales, 0x01, sizeof b.scales);
    memset(b.qs, 0, sizeof b.qs);
    int good = 1;
    for (int byte = 0; byte < 64; byte++)
        for (int k = 0; k < 4; k++)
            good &= probe(LLP_Q2_K, (uint8_t *)&b, 16 + byte, (uint8_t)(3 << (2 * k)),
                          (byte / 32) * 128 + 32 * k + byte % 32);
    ok(good, "Q2_K every 2-bit field of qs lands on its documented value");
}

/* Q3_K scales, worked out by hand: biased 6-bit values
 * v = 32 33 31 0 63 40 20 10 | 1 2 3 4 50 60 44 36 (scale = v - 32).
 * Bytes 0..7: low nibble v[i] & 15, high nibble v[i+8] & 15. Bytes 8..11:
 * byte 8+k holds v >> 4 of scales k, k+4, k+8, k+12 at bits 0, 2, 4, 6. */
static const uint8_t q3_k_scale_bytes[12] = {
    0x10, 0x21, 0x3f, 0x40, 0x2f, 0xc8, 0xc4, 0x4a, 0xce, 0xca, 0x85, 0x80,
};
static const int q3_k_scale_values[16] = {
    0, 1, -1, -32, 31, 8, -12, -22, -31, -30, -29, -28, 18, 28, 12, 4,
};

static void test_q3_k(void)
{
    block_q3_k b;
    memset(&b, 0, sizeof b);
    b.d = FP16_ONE;
    memcpy(b.scales, q3_k_scale_bytes, 12);
    memset(b.hmask, 0xff, sizeof b.hmask);     /* high bit set: no -4 */
    memset(b.qs, 0x55, sizeof b.qs);           /* every 2-bit field 1 */
    float y[QK_K], expect[QK_K];
    for (int i = 0; i < QK_K; i++) expect[i] = (float)q3_k_scale_values[i / 16];
    decode(LLP_Q3_K, &b, y);
    ok(all_equal_to(y, QK_K, expect, "Q3_K"),
       "Q3_K packed 6-bit scales decode to the hand-worked values (q = 1)");

    memset(b.hmask, 0x00, sizeof b.hmask);     /* high bit clear: q - 4 */
    memset(b.qs, 0x00, sizeof b.qs);
    b.d = FP16_HALF;
    for (int i = 0; i < QK_K; i++) expect[i] = 0.5f * q3_k_scale_values[i / 16] * -4;
    decode(LLP_Q3_K, &b, y);
    ok(all_equal_to(y, QK_K, expect, "Q3_K"),
       "Q3_K d=0.5, hmask clear, qs 0: value = d * scale * -4");

    /* Probes with every scale 1 (v = 33: low nibbles 1, high bits 2). */
    memset(b.scales, 0x11, 8);
    memset(b.scales + 8, 0xaa, 4);
    b.d = FP16_ONE;
    int good = 1;
    for (int byte = 0; byte < 64; byte++)
        for (int k = 0; k < 4; k++)
            good &= probe(LLP_Q3_K, (uint8_t *)&b, 32 + byte, (uint8_t)(3 << (2 * k)),
                          (byte / 32) * 128 + 32 * k + byte % 32);
    ok(good, "Q3_K every 2-bit field of qs lands on its documented value");
    good = 1;
    for (int byte = 0; byte < 32; byte++)
        for (int k = 0; k < 8; k++)
            good &= probe(LLP_Q3_K, (uint8_t *)&b, byte, (uint8_t)(1 << k), 32 * k + byte);
    ok(good, "Q3_K hmask byte l bit k is the high bit of value 32k + l");
    good = 1;
    for (int i = 0; i < 16; i++) {
        block_q3_k one = b;
        float yy[QK_K];
        memset(one.qs, 0x55, sizeof one.qs);
        memset(one.hmask, 0xff, sizeof one.hmask);
        /* raise scale i from 1 to 1 + 16: flip bit 4 of its biased value */
        one.scales[8 + i % 4] ^= (uint8_t)(1 << (2 * (i / 4)));
        decode(LLP_Q3_K, &one, yy);
        for (int v = 0; v < QK_K; v++)
            if (yy[v] != (v / 16 == i ? 17.0f : 1.0f)) {
                diag("Q3_K scale %d high bits: value %d is %g", i, v, yy[v]);
                good = 0;
                break;
            }
    }
    ok(good, "Q3_K high scale bits of scale i sit in byte 8 + i%%4 at bit 2*(i/4)");
}

/* Q4_K/Q5_K scales and mins, worked out by hand:
 * scales 1 2 3 4 33 47 63 16, mins 5 6 7 8 50 17 32 63. */
static const uint8_t k4_scale_bytes[12] = {
    0x81, 0x82, 0xc3, 0x44, 0xc5, 0x46, 0x87, 0xc8, 0x21, 0x1f, 0x0f, 0xf0,
};
static const int k4_scales[8] = { 1, 2, 3, 4, 33, 47, 63, 16 };
static const int k4_mins[8] = { 5, 6, 7, 8, 50, 17, 32, 63 };

static void test_q4_k(void)
{
    block_q4_k b;
    memset(&b, 0, sizeof b);
    b.d = FP16_ONE;
    b.dmin = FP16_HALF;
    memcpy(b.scales, k4_scale_bytes, 12);
    memset(b.qs, 0x31, sizeof b.qs);   /* low nibbles 1, high nibbles 3 */
    float y[QK_K], expect[QK_K];
    for (int i = 0; i < QK_K; i++) {
        int sub = i / 32, q = sub % 2 ? 3 : 1;   /* odd sub-blocks: high nibbles */
        expect[i] = 1.0f * k4_scales[sub] * q - 0.5f * k4_mins[sub];
    }
    decode(LLP_Q4_K, &b, y);
    ok(all_equal_to(y, QK_K, expect, "Q4_K"),
       "Q4_K packed scales/mins decode to the hand-worked values; value = d*sc*q - dmin*m");

    memset(b.scales, 0x01, 4);         /* every scale 1, every min 0 */
    memset(b.scales + 4, 0x00, 4);
    memset(b.scales + 8, 0x01, 4);
    memset(b.qs, 0, sizeof b.qs);
    int good = 1;
    for (int byte = 0; byte < 128; byte++) {
        good &= probe(LLP_Q4_K, (uint8_t *)&b, 16 + byte, 0x0f, (byte / 32) * 64 + byte % 32);
        good &= probe(LLP_Q4_K, (uint8_t *)&b, 16 + byte, 0xf0, (byte / 32) * 64 + 32 + byte % 32);
    }
    ok(good, "Q4_K every nibble of qs lands on its documented value");
}

static void test_q5_k(void)
{
    block_q5_k b;
    memset(&b, 0, sizeof b);
    b.d = FP16_HALF;
    b.dmin = FP16_ONE;
    memcpy(b.scales, k4_scale_bytes, 12);
    memset(b.qs, 0x2f, sizeof b.qs);   /* low nibbles 15, high nibbles 2 */
    memset(b.qh, 0x55, sizeof b.qh);   /* fifth bit set for even sub-blocks */
    float y[QK_K], expect[QK_K];
    for (int i = 0; i < QK_K; i++) {
        int sub = i / 32, q = sub % 2 ? 2 : 15 + 16;
        expect[i] = 0.5f * k4_scales[sub] * q - 1.0f * k4_mins[sub];
    }
    decode(LLP_Q5_K, &b, y);
    ok(all_equal_to(y, QK_K, expect, "Q5_K"),
       "Q5_K hand-worked scales/mins, fifth bit from qh: value = d*sc*q - dmin*m");

    memset(b.scales, 0x01, 4);
    memset(b.scales + 4, 0x00, 4);
    memset(b.scales + 8, 0x01, 4);
    memset(b.qs, 0, sizeof b.qs);
    memset(b.qh, 0, sizeof b.qh);
    int good = 1;
    for (int byte = 0; byte < 128; byte++) {
        good &= probe(LLP_Q5_K, (uint8_t *)&b, 48 + byte, 0x0f, (byte / 32) * 64 + byte % 32);
        good &= probe(LLP_Q5_K, (uint8_t *)&b, 48 + byte, 0xf0, (byte / 32) * 64 + 32 + byte % 32);
    }
    for (int byte = 0; byte < 32; byte++)
        for (int k = 0; k < 8; k++)
            good &= probe(LLP_Q5_K, (uint8_t *)&b, 16 + byte, (uint8_t)(1 << k), 32 * k + byte);
    ok(good, "Q5_K every qs nibble and qh bit (byte l bit k: value 32k + l) lands right");
}

static void test_q6_k(void)
{
    block_q6_k b;
    memset(&b, 0, sizeof b);
    b.d = FP16_HALF;
    for (int j = 0; j < 16; j++) b.scales[j] = (int8_t)(j * 16 - 128);   /* -128 .. 112 */
    b.scales[15] = 127;
    memset(b.ql, 0xff, sizeof b.ql);
    memset(b.qh, 0xff, sizeof b.qh);   /* q = 63 - 32 = 31 everywhere */
    float y[QK_K], expect[QK_K];
    for (int i = 0; i < QK_K; i++) expect[i] = 0.5f * b.scales[i / 16] * 31;
    decode(LLP_Q6_K, &b, y);
    ok(all_equal_to(y, QK_K, expect, "Q6_K"), "Q6_K d=0.5, int8 scales, q=31: value = d*sc*q");

    memset(b.ql, 0x00, sizeof b.ql);
    memset(b.qh, 0x00, sizeof b.qh);   /* q = -32 */
    for (int i = 0; i < QK_K; i++) expect[i] = 0.5f * b.scales[i / 16] * -32;
    decode(LLP_Q6_K, &b, y);
    ok(all_equal_to(y, QK_K, expect, "Q6_K"), "Q6_K all-zero levels decode to d*sc*-32");

    /* Probes: ql byte b (chunk n = b/64, r = b%64): low nibble is value
     * 128n + r, high nibble 128n + 64 + r; qh byte b (n = b/32, l = b%32)
     * bit pair k is value 128n + 32k + l. */
    memset(b.scales, 1, sizeof b.scales);
    b.d = FP16_ONE;
    int good = 1;
    for (int byte = 0; byte < 128; byte++) {
        int n = byte / 64, r = byte % 64;
        good &= probe(LLP_Q6_K, (uint8_t *)&b, byte, 0x0f, 128 * n + r);
        good &= probe(LLP_Q6_K, (uint8_t *)&b, byte, 0xf0, 128 * n + 64 + r);
    }
    for (int byte = 0; byte < 64; byte++)
        for (int k = 0; k < 4; k++)
            good &= probe(LLP_Q6_K, (uint8_t *)&b, 128 + byte, (uint8_t)(3 << (2 * k)),
                          128 * (byte / 32) + 32 * k + byte % 32);
    ok(good, "Q6_K every ql nibble and qh bit pair lands on its documented value");
}

/* ---- random blocks: dot_ref is the dot of the dequantized row ----------- */

/* Offsets of the fp16 scale fields of each block type, to overwrite random
 * bytes there with sane scales (so no inf/NaN and magnitudes stay sane). */
static void sane_scales(uint32_t type, uint8_t *block)
{
    static const struct { uint32_t type; int offsets[2]; } fields[] = {
        { LLP_Q4_0, { 0, -1 } }, { LLP_Q4_1, { 0, 2 } }, { LLP_Q5_0, { 0, -1 } },
        { LLP_Q5_1, { 0, 2 } },  { LLP_Q8_0, { 0, -1 } }, { LLP_Q2_K, { 80, 82 } },
        { LLP_Q3_K, { 108, -1 } }, { LLP_Q4_K, { 0, 2 } }, { LLP_Q5_K, { 0, 2 } },
        { LLP_Q6_K, { 208, -1 } },
    };
    for (size_t f = 0; f < sizeof fields / sizeof fields[0]; f++) {
        if (fields[f].type != type) continue;
        for (int k = 0; k < 2; k++)
            if (fields[f].offsets[k] >= 0)
                put_fp16(block, (size_t)fields[f].offsets[k],
                         llp_f32_to_fp16(rng_uniform(-0.05f, 0.05f)));
    }
}

static void random_row(uint32_t type, uint8_t *row, int64_t n)
{
    const llp_type_info *t = llp_type_get(type);
    if (type == LLP_F32) {
        for (int64_t i = 0; i < n; i++) ((float *)(void *)row)[i] = rng_uniform(-1, 1);
        return;
    }
    if (type == LLP_F16 || type == LLP_BF16) {
        uint16_t *h = (uint16_t *)(void *)row;
        for (int64_t i = 0; i < n; i++)
            h[i] = type == LLP_F16 ? llp_f32_to_fp16(rng_uniform(-1, 1))
                                   : llp_f32_to_bf16(rng_uniform(-1, 1));
        return;
    }
    size_t bytes = llp_row_size(type, n);
    for (size_t i = 0; i < bytes; i++) row[i] = (uint8_t)rng_u32();
    for (int64_t b = 0; b < n / t->block_size; b++)
        sane_scales(type, row + b * t->type_size);
}

static void test_random_dots(uint32_t type)
{
    const int64_t n = 4 * QK_K;       /* several blocks of every type */
    uint8_t *row = llp_malloc(llp_row_size(type, n));
    float *w = llp_malloc(n * sizeof(float)), *x = llp_malloc(n * sizeof(float));
    int good = 1, finite = 1, blocks_agree = 1;
    for (int trial = 0; trial < 20; trial++) {
        random_row(type, row, n);
        for (int64_t i = 0; i < n; i++) x[i] = rng_uniform(-2, 2);
        llp_dequantize_row(type, row, w, n);
        double dot = 0, mag = 0;
        float dot_f = 0;
        for (int64_t i = 0; i < n; i++) {
            if (!isfinite(w[i])) finite = 0;
            dot += (double)w[i] * x[i];
            dot_f += w[i] * x[i];
            mag += fabs((double)w[i] * x[i]);
        }
        float ref = llp_dot_ref(type, row, x, n);
        double tol = 1e-4 * (mag > 0 ? mag : 1);
        if (fabs(ref - dot) > tol || fabs(ref - (double)dot_f) > tol) {
            diag("%s trial %d: dot_ref %.9g, dot of dequantized %.9g (float %.9g)",
                 llp_type_name(type), trial, ref, dot, dot_f);
            good = 0;
        }
        /* Row decoding steps block by block: block b of the row decodes on
         * its own to the same values. */
        const llp_type_info *t = llp_type_get(type);
        float one[QK_K];
        int64_t b = trial % (n / t->block_size);
        llp_dequantize_row(type, row + b * t->type_size, one, t->block_size);
        if (memcmp(one, w + b * t->block_size, (size_t)t->block_size * sizeof(float)))
            blocks_agree = 0;
    }
    ok(finite, "%s random blocks with sane scales decode to finite values", llp_type_name(type));
    ok(good, "%s llp_dot_ref equals dot of llp_dequantize_row within 1e-4 relative",
       llp_type_name(type));
    ok(blocks_agree, "%s a block decodes the same alone as inside a row", llp_type_name(type));
    free(row);
    free(w);
    free(x);
}

static void test_row_sizes(void)
{
    is_int(llp_row_size(LLP_Q4_0, 4096), 4096 / 32 * 18, "Q4_0 row of 4096: 2304 bytes");
    is_int(llp_row_size(LLP_Q4_K, 4096), 4096 / 256 * 144, "Q4_K row of 4096: 2304 bytes");
    is_int(llp_row_size(LLP_Q6_K, 256), 210, "Q6_K row of 256: 210 bytes");
    is_int(llp_row_size(LLP_BF16, 10), 20, "BF16 row of 10: 20 bytes");
}

int main(void)
{
    static const uint32_t types[] = {
        LLP_F32, LLP_F16, LLP_BF16, LLP_Q8_0, LLP_Q4_0, LLP_Q4_1, LLP_Q5_0,
        LLP_Q5_1, LLP_Q2_K, LLP_Q3_K, LLP_Q4_K, LLP_Q5_K, LLP_Q6_K,
    };
    test_float_types();
    test_q4_0();
    test_q4_1();
    test_q5_0();
    test_q5_1();
    test_q8_0();
    test_q2_k();
    test_q3_k();
    test_q4_k();
    test_q5_k();
    test_q6_k();
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        test_random_dots(types[i]);
    test_row_sizes();
    return done_testing();
}
