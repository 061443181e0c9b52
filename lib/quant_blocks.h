/*
 * quant_blocks.h — the byte layout of every supported weight block, as C
 * structs, plus the per-block decode/encode functions that quant.c and
 * quant_k.c share. Fast kernels (lib/kernels/) include this to read blocks
 * the same way the scalar reference does.
 *
 * Not for: the public row-level API (quant.h) or the type table
 * (quant_types.c).
 *
 * All multi-byte fields are little-endian as stored in GGUF; fp16 scales are
 * raw IEEE half bits (convert with llp_fp16_to_f32). Every struct has the
 * exact size ggml gives it, checked below, so a row of blocks can be read in
 * place from a mapped file (block sizes are all even and rows start 32-byte
 * aligned, so the uint16_t fields are always aligned).
 */
#ifndef LLP_QUANT_BLOCKS_H
#define LLP_QUANT_BLOCKS_H

#include <math.h>
#include <stdint.h>

#define QK_LEGACY 32    /* values per Q4_0 ... Q8_0 block */
#define QK_K      256   /* values per K-quant super-block */

/* ---- legacy 32-value blocks (quant.c) --------------------------------- */

typedef struct {            /* value j = d * (q_j - 8) */
    uint16_t d;
    uint8_t qs[16];         /* byte j: value j (low nibble), j+16 (high) */
} block_q4_0;

typedef struct {            /* value j = d * q_j + m */
    uint16_t d, m;
    uint8_t qs[16];
} block_q4_1;

typedef struct {            /* value j = d * (q_j - 16), q_j 5-bit */
    uint16_t d;
    uint8_t qh[4];          /* bit j of the little-endian u32: bit 4 of q_j */
    uint8_t qs[16];         /* low 4 bits, laid out as Q4_0 */
} block_q5_0;

typedef struct {            /* value j = d * q_j + m, q_j 5-bit */
    uint16_t d, m;
    uint8_t qh[4];
    uint8_t qs[16];
} block_q5_1;

typedef struct {            /* value j = d * qs[j] */
    uint16_t d;
    int8_t qs[32];
} block_q8_0;

/* ---- K-quant 256-value super-blocks (quant_k.c) ----------------------- */

typedef struct {            /* 16 sub-blocks of 16; 2-bit q */
    uint8_t scales[16];     /* low nibble: scale, high nibble: min */
    uint8_t qs[64];         /* per 128 values: 32 bytes, 4 bit-pairs each */
    uint16_t d, dmin;
} block_q2_k;

typedef struct {            /* 16 sub-blocks of 16; 3-bit q */
    uint8_t hmask[32];      /* bit k of byte l: high bit of value 32k + l */
    uint8_t qs[64];         /* low 2 bits, laid out as Q2_K */
    uint8_t scales[12];     /* 16 6-bit scales, stored with a +32 bias */
    uint16_t d;
} block_q3_k;

typedef struct {            /* 8 sub-blocks of 32; 4-bit q */
    uint16_t d, dmin;
    uint8_t scales[12];     /* 8 6-bit scales and 8 6-bit mins */
    uint8_t qs[128];        /* per 64 values: low nibbles, then high */
} block_q4_k;

typedef struct {            /* 8 sub-blocks of 32; 5-bit q */
    uint16_t d, dmin;
    uint8_t scales[12];     /* as Q4_K */
    uint8_t qh[32];         /* bit 2i / 2i+1 of byte l: sub-blocks 2i, 2i+1 */
    uint8_t qs[128];        /* as Q4_K */
} block_q5_k;

typedef struct {            /* 16 sub-blocks of 16; 6-bit q, minus 32 */
    uint8_t ql[128];        /* low 4 bits */
    uint8_t qh[64];         /* high 2 bits */
    int8_t scales[16];
    uint16_t d;
} block_q6_k;

/* ---- per-block decode and encode ---------------------------------------
 * decode: one block to its block_size floats. encode: block_size floats to
 * one block, choosing scales to keep the squared error small (see the
 * comments at each encoder). These are the scalar reference: the only
 * places that know each bit layout. Q* legacy in quant.c, K-quants in
 * quant_k.c. */

void llp_decode_q4_0(const void *block, float *y);
void llp_decode_q4_1(const void *block, float *y);
void llp_decode_q5_0(const void *block, float *y);
void llp_decode_q5_1(const void *block, float *y);
void llp_decode_q8_0(const void *block, float *y);
void llp_decode_q2_k(const void *block, float *y);
void llp_decode_q3_k(const void *block, float *y);
void llp_decode_q4_k(const void *block, float *y);
void llp_decode_q5_k(const void *block, float *y);
void llp_decode_q6_k(const void *block, float *y);

void llp_encode_q4_0(const float *x, void *block);
void llp_encode_q4_1(const float *x, void *block);
void llp_encode_q5_0(const float *x, void *block);
void llp_encode_q5_1(const float *x, void *block);
void llp_encode_q8_0(const float *x, void *block);
void llp_encode_q2_k(const float *x, void *block);
void llp_encode_q3_k(const float *x, void *block);
void llp_encode_q4_k(const float *x, void *block);
void llp_encode_q5_k(const float *x, void *block);
void llp_encode_q6_k(const float *x, void *block);

/* ---- scale fitting shared by the encoders (quant.c) --------------------
 *
 * llp_fit_symmetric: x[0..n) ~ d * q with integer q in [-nmax, nmax-1].
 * Tries a small grid of scales around "largest-magnitude value maps to an
 * end of the range", rounds to nearest for each, takes the least-squares d
 * for those q and keeps the candidate with the least squared error. Writes
 * q (may be NULL) and returns d (0 when x is all zero).
 *
 * llp_fit_affine: x[0..n) ~ d * q + m with integer q in [0, nmax]. The same
 * search over scales spanning [min, max], with (d, m) fitted by least
 * squares for each rounding. With min_nonpos, m is kept <= 0 (K-quants store
 * a non-negative min that is subtracted). Writes q (may be NULL) and *m,
 * returns d (>= 0). */
float llp_fit_symmetric(const float *x, int n, int nmax, int8_t *q);
float llp_fit_affine(const float *x, int n, int nmax, int min_nonpos,
                     float *m, uint8_t *q);

/* Round x to the nearest integer (ties away from zero) and clamp it to
 * [lo, hi]; NaN gives lo. */
static inline int llp_round_clamp(float x, int lo, int hi)
{
    if (!(x > (float)lo)) return lo;
    if (x >= (float)hi) return hi;
    return (int)(x < 0 ? x - 0.5f : x + 0.5f);   /* truncating cast: cheap */
}

/* 1 / d, or 0 when d is 0 (then x * inverse rounds every value to the level
 * nearest 0, and every level decodes to the same value anyway). Encoders
 * multiply by it rather than dividing in their inner loops. */
static inline float llp_inverse(float d)
{
    return d != 0 ? 1.0f / d : 0.0f;
}

/* Nearest level in [lo, hi] of x under scale d. */
static inline int llp_level_for(float x, float d, int lo, int hi)
{
    return llp_round_clamp(x * llp_inverse(d), lo, hi);
}

_Static_assert(sizeof(block_q4_0) == 18, "Q4_0 block size");
_Static_assert(sizeof(block_q4_1) == 20, "Q4_1 block size");
_Static_assert(sizeof(block_q5_0) == 22, "Q5_0 block size");
_Static_assert(sizeof(block_q5_1) == 24, "Q5_1 block size");
_Static_assert(sizeof(block_q8_0) == 34, "Q8_0 block size");
_Static_assert(sizeof(block_q2_k) == 84, "Q2_K block size");
_Static_assert(sizeof(block_q3_k) == 110, "Q3_K block size");
_Static_assert(sizeof(block_q4_k) == 144, "Q4_K block size");
_Static_assert(sizeof(block_q5_k) == 176, "Q5_K block size");
_Static_assert(sizeof(block_q6_k) == 210, "Q6_K block size");

#endif
