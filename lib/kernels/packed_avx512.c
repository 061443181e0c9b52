/*
 * packed_avx512.c — the avx512 set's prompt-batch kernels for the legacy
 * 32-value block types (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0): weights repacked
 * per tile of 16 rows so that one 32-bit lane is one row, then every token
 * of the batch multiplied against the repacked tile with no horizontal
 * reductions at all.
 *
 * Not for: generation or small batches (fewer than PK_MIN_TOKENS tokens go
 * to the lane kernels of lanes_avx512.c, which need no repacking), or
 * splitting work across threads (matmul.c). The Makefile compiles this file
 * with the AVX-512 flags and kernels/dispatch.c only calls it when the CPU
 * has them.
 *
 * Repacking. For 16 rows r0 .. r0+15, each block b is unpacked to its 32
 * unsigned codes u (as lanes_avx512.c and the scalar set define them) and
 * transposed so that 64-byte vector (b, g), g = 0..7, holds in lane r the
 * codes 4g .. 4g+3 of row r. The block scales dw (and m) go to a float
 * table, 16 per block. A tile costs about 40 vector operations per block to
 * repack and is then used by every token of the call.
 *
 * Products. For a group of PK_TOKENS tokens and one block b: each token's
 * integer accumulator starts at -k * sum(a) (the weights' integer offset),
 * then eight vpdpbusd add the repacked vector (b, g) times the token's
 * activation codes 4g .. 4g+3 broadcast to all lanes; lane r then holds the
 * exact integer dot of row r and the token. The float step is the scalar
 * set's, per lane: acc + ((dw * da) * (float)dot + m * s) (no m term for
 * the types without m), blocks in order, so results equal the scalar set's
 * bit for bit (tests/kernels_vs_ref.c checks it).
 *
 * Per block and token group that is 8 weight loads, 64 vpdpbusd with
 * broadcast memory operands and about 4 float operations per token, against
 * a reduction tree per 16 (row, token) pairs in the lane kernels.
 */
#define LLP_ISA avx512
#include "kernels/x86_common.h"

#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>

/* The lane kernels (lanes_avx512.c), used below PK_MIN_TOKENS. */
#define LANES_GEMM(name) \
    void llp_gemm_##name##_lanes512(int64_t, const void *, size_t, int, const void *, size_t, int, float *, int64_t);
LANES_GEMM(q4_0)
LANES_GEMM(q4_1)
LANES_GEMM(q5_0)
LANES_GEMM(q5_1)
LANES_GEMM(q8_0)

/* Batches from this many tokens are repacked (a tile's repacking then costs
 * less than one token's products). */
#define PK_MIN_TOKENS 8
/* Rows per tile (one per 32-bit lane) and tokens per pass over a block. */
#define PK_ROWS 16
#define PK_TOKENS 8

enum pk_kind { P_Q4_0, P_Q4_1, P_Q5_0, P_Q5_1, P_Q8_0 };

INLINE size_t pk_bytes(enum pk_kind kind)
{
    switch (kind) {
    case P_Q4_0: return sizeof(block_q4_0);
    case P_Q4_1: return sizeof(block_q4_1);
    case P_Q5_0: return sizeof(block_q5_0);
    case P_Q5_1: return sizeof(block_q5_1);
    default:     return sizeof(block_q8_0);
    }
}

/* The integer offset k of w = dw * (u - k); 0 for the types with m. */
INLINE int pk_k(enum pk_kind kind)
{
    switch (kind) {
    case P_Q4_0: return 8;
    case P_Q5_0: return 16;
    case P_Q8_0: return 128;
    default:     return 0;
    }
}

INLINE int pk_has_m(enum pk_kind kind)
{
    return kind == P_Q4_1 || kind == P_Q5_1;
}

/* The 32 unsigned codes of one block, in value order, and its scales. */
INLINE __m256i pk_block_codes(enum pk_kind kind, const uint8_t *p, float *dw, float *m)
{
    const __m128i low4 = _mm_set1_epi8(15);
    __m128i qs;
    uint32_t qh = 0;
    switch (kind) {
    case P_Q4_0: {
        const block_q4_0 *b = (const block_q4_0 *)p;
        *dw = fp16_to_f32(b->d);
        qs = _mm_loadu_si128((const __m128i *)b->qs);
        break;
    }
    case P_Q4_1: {
        const block_q4_1 *b = (const block_q4_1 *)p;
        *dw = fp16_to_f32(b->d);
        *m = fp16_to_f32(b->m);
        qs = _mm_loadu_si128((const __m128i *)b->qs);
        break;
    }
    case P_Q5_0: {
        const block_q5_0 *b = (const block_q5_0 *)p;
        *dw = fp16_to_f32(b->d);
        memcpy(&qh, b->qh, 4);
        qs = _mm_loadu_si128((const __m128i *)b->qs);
        break;
    }
    case P_Q5_1: {
        const block_q5_1 *b = (const block_q5_1 *)p;
        *dw = fp16_to_f32(b->d);
        *m = fp16_to_f32(b->m);
        memcpy(&qh, b->qh, 4);
        qs = _mm_loadu_si128((const __m128i *)b->qs);
        break;
    }
    default: {
        const block_q8_0 *b = (const block_q8_0 *)p;
        *dw = fp16_to_f32(b->d);
        /* Unsigned codes q + 128 (offset k = 128). */
        return _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)b->qs),
                                _mm256_set1_epi8((char)0x80));
    }
    }
    __m128i lo = _mm_and_si128(qs, low4);
    __m128i hi = _mm_and_si128(_mm_srli_epi16(qs, 4), low4);
    __m256i u = _mm256_inserti128_si256(_mm256_castsi128_si256(lo), hi, 1);
    if (kind == P_Q5_0 || kind == P_Q5_1)
        u = _mm256_mask_add_epi8(u, (__mmask32)qh, u, _mm256_set1_epi8(16));
    return u;
}

/* Index vectors of the 16 x 8 dword transpose (see pk_transpose). */
typedef struct {
    __m512i l1[2], l2[2], l3[2];
} pk_index;

static void pk_make_index(pk_index *ix)
{
    alignas(64) uint32_t v[16];
    /* Level 1: two vectors of 2 rows x 8 groups (rows 4m..4m+3) -> groups
     * 4h..4h+3 of the 4 rows, position 4 * g + rr. */
    for (int h = 0; h < 2; h++) {
        for (int p = 0; p < 16; p++) {
            int g = 4 * h + p / 4, rr = p % 4;
            v[p] = (uint32_t)(rr < 2 ? rr * 8 + g : 16 + (rr - 2) * 8 + g);
        }
        ix->l1[h] = _mm512_load_si512(v);
    }
    /* Level 2: two level-1 vectors (rows 8j..8j+3 and 8j+4..8j+7, groups
     * 4h..4h+3) -> groups 4h+2q, 4h+2q+1 of the 8 rows, position 8 * gg + rr. */
    for (int q = 0; q < 2; q++) {
        for (int p = 0; p < 16; p++) {
            int g = 2 * q + p / 8, rr = p % 8;
            v[p] = (uint32_t)(rr < 4 ? g * 4 + rr : 16 + g * 4 + rr - 4);
        }
        ix->l2[q] = _mm512_load_si512(v);
    }
    /* Level 3: two level-2 vectors (rows 0..7 and 8..15) -> one group of
     * all 16 rows, position r. */
    for (int gg = 0; gg < 2; gg++) {
        for (int p = 0; p < 16; p++)
            v[p] = (uint32_t)(p < 8 ? gg * 8 + p : 16 + gg * 8 + p - 8);
        ix->l3[gg] = _mm512_load_si512(v);
    }
}

/* 16 rows' codes of one block (u[r]: 8 dwords, groups 0..7) -> out[g]:
 * 16 dwords, lane r = group g of row r. */
INLINE void pk_transpose(const __m256i u[16], const pk_index *ix, __m512i out[8])
{
    __m512i z[8], a[8], c[8];
#pragma GCC unroll 8
    for (int k = 0; k < 8; k++)
        z[k] = _mm512_inserti64x4(_mm512_castsi256_si512(u[2 * k]), u[2 * k + 1], 1);
    /* a[2m + h]: rows 4m..4m+3, groups 4h..4h+3. */
#pragma GCC unroll 4
    for (int m = 0; m < 4; m++)
#pragma GCC unroll 2
        for (int h = 0; h < 2; h++)
            a[2 * m + h] = _mm512_permutex2var_epi32(z[2 * m], ix->l1[h], z[2 * m + 1]);
    /* c[4j + 2h + q]: rows 8j..8j+7, groups 4h+2q, 4h+2q+1. */
#pragma GCC unroll 2
    for (int j = 0; j < 2; j++)
#pragma GCC unroll 2
        for (int h = 0; h < 2; h++)
#pragma GCC unroll 2
            for (int q = 0; q < 2; q++)
                c[4 * j + 2 * h + q] = _mm512_permutex2var_epi32(
                    a[2 * (2 * j) + h], ix->l2[q], a[2 * (2 * j + 1) + h]);
    /* out[4h + 2q + gg]: all 16 rows. */
#pragma GCC unroll 2
    for (int h = 0; h < 2; h++)
#pragma GCC unroll 2
        for (int q = 0; q < 2; q++)
#pragma GCC unroll 2
            for (int gg = 0; gg < 2; gg++)
                out[4 * h + 2 * q + gg] = _mm512_permutex2var_epi32(
                    c[2 * h + q], ix->l3[gg], c[4 + 2 * h + q]);
}

/* Repack rows r0 .. r0+15 (clamped to n_rows) into codes (nb * 8 vectors)
 * and the scale tables dw and m (nb * 16 floats each). */
INLINE void pk_repack(enum pk_kind kind, int64_t nb, const uint8_t *W, size_t w_stride,
                      int n_rows, int r0, const pk_index *ix, __m512i *codes,
                      float *dw, float *m)
{
    const uint8_t *row[PK_ROWS];
    for (int r = 0; r < PK_ROWS; r++) {
        int rr = r0 + r < n_rows ? r0 + r : n_rows - 1;
        row[r] = W + (size_t)rr * w_stride;
    }
    const size_t bytes = pk_bytes(kind);
    for (int64_t b = 0; b < nb; b++) {
        __m256i u[PK_ROWS];
        float mm = 0;
#pragma GCC unroll 16
        for (int r = 0; r < PK_ROWS; r++) {
            u[r] = pk_block_codes(kind, row[r] + (size_t)b * bytes, &dw[b * PK_ROWS + r], &mm);
            if (pk_has_m(kind)) m[b * PK_ROWS + r] = mm;
        }
        pk_transpose(u, ix, codes + b * 8);
    }
}

/* nt (1..PK_TOKENS) tokens starting at act[0..nt-1] times the repacked
 * tile: acc[t] lane r = dot(row r, token t). */
INLINE void pk_tokens(enum pk_kind kind, int nt, int64_t nb, const __m512i *codes,
                      const float *dw, const float *m,
                      const llp_act_q8_32 *const *act, __m512 *acc)
{
    const int k = pk_k(kind);
#pragma GCC unroll 8
    for (int t = 0; t < nt; t++) acc[t] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        __m512i dot[PK_TOKENS];
#pragma GCC unroll 8
        for (int t = 0; t < nt; t++)
            dot[t] = _mm512_set1_epi32(-k * act[t][b].sum);
#pragma GCC unroll 8
        for (int g = 0; g < 8; g++) {
            __m512i w = _mm512_load_si512(codes + b * 8 + g);
#pragma GCC unroll 8
            for (int t = 0; t < nt; t++) {
                int32_t a4;
                memcpy(&a4, act[t][b].qs + 4 * g, 4);
                dot[t] = _mm512_dpbusd_epi32(dot[t], w, _mm512_set1_epi32(a4));
            }
        }
        __m512 d = _mm512_load_ps(dw + b * PK_ROWS);
        __m512 mv = pk_has_m(kind) ? _mm512_load_ps(m + b * PK_ROWS) : d;
#pragma GCC unroll 8
        for (int t = 0; t < nt; t++) {
            __m512 f = _mm512_mul_ps(_mm512_mul_ps(d, _mm512_set1_ps(act[t][b].d)),
                                     _mm512_cvtepi32_ps(dot[t]));
            if (pk_has_m(kind))
                f = _mm512_add_ps(f, _mm512_mul_ps(mv, _mm512_set1_ps(act[t][b].s)));
            acc[t] = _mm512_add_ps(acc[t], f);
        }
    }
}

INLINE void pk_store(int nt, const __m512 *acc, int n_rows, int r0, int t0, float *Y,
                     int64_t y_stride)
{
    __mmask16 keep = n_rows - r0 >= PK_ROWS ? (__mmask16)0xffff
                                            : (__mmask16)((1u << (n_rows - r0)) - 1);
    for (int t = 0; t < nt; t++)
        _mm512_mask_storeu_ps(Y + (int64_t)(t0 + t) * y_stride + r0, keep, acc[t]);
}

INLINE void pk_gemm(enum pk_kind kind, int64_t n, const void *W, size_t w_stride,
                    int n_rows, const void *A, size_t a_stride, int n_tok,
                    float *Y, int64_t y_stride)
{
    const int64_t nb = n / 32;
    pk_index ix;
    pk_make_index(&ix);
    /* The tile: nb * 8 vectors of codes (16 rows x n bytes) and the scale
     * tables; at most about 220 KB for the widest Llama-2 rows. */
    __m512i *codes = NULL;
    float *dw = NULL, *m = NULL;
    size_t code_bytes = (size_t)nb * 8 * sizeof(__m512i);
    size_t scale_bytes = (size_t)nb * PK_ROWS * sizeof(float);
    if (posix_memalign((void **)&codes, 64, code_bytes + 2 * scale_bytes) != 0) {
        fprintf(stderr, "llamapipe: out of memory (%zu bytes of kernel scratch)\n",
                code_bytes + 2 * scale_bytes);
        abort();
    }
    dw = (float *)((char *)codes + code_bytes);
    m = dw + nb * PK_ROWS;
    for (int r0 = 0; r0 < n_rows; r0 += PK_ROWS) {
        pk_repack(kind, nb, W, w_stride, n_rows, r0, &ix, codes, dw, m);
        for (int t0 = 0; t0 < n_tok; t0 += PK_TOKENS) {
            int nt = n_tok - t0 < PK_TOKENS ? n_tok - t0 : PK_TOKENS;
            const llp_act_q8_32 *act[PK_TOKENS];
            for (int t = 0; t < PK_TOKENS; t++)
                act[t] = (const llp_act_q8_32 *)((const char *)A +
                         (size_t)(t0 + (t < nt ? t : nt - 1)) * a_stride);
            __m512 acc[PK_TOKENS];
            switch (nt) {
            case 8: pk_tokens(kind, 8, nb, codes, dw, m, act, acc); break;
            case 7: pk_tokens(kind, 7, nb, codes, dw, m, act, acc); break;
            case 6: pk_tokens(kind, 6, nb, codes, dw, m, act, acc); break;
            case 5: pk_tokens(kind, 5, nb, codes, dw, m, act, acc); break;
            case 4: pk_tokens(kind, 4, nb, codes, dw, m, act, acc); break;
            case 3: pk_tokens(kind, 3, nb, codes, dw, m, act, acc); break;
            case 2: pk_tokens(kind, 2, nb, codes, dw, m, act, acc); break;
            default: pk_tokens(kind, 1, nb, codes, dw, m, act, acc); break;
            }
            pk_store(nt, acc, n_rows, r0, t0, Y, y_stride);
        }
    }
    free(codes);
}

/* ---- products on weights packed at load (kernels.h, pack.c) ------------- */

/* Offsets in a packed 16-row block (kernels.h). */
INLINE size_t pw_m_off(void) { return 2 * PK_ROWS; }
INLINE size_t pw_qh_off(enum pk_kind kind)
{
    return pk_has_m(kind) ? 4 * PK_ROWS : 2 * PK_ROWS;
}
INLINE size_t pw_qs_off(enum pk_kind kind)
{
    size_t at = pk_has_m(kind) ? 4 * PK_ROWS : 2 * PK_ROWS;
    if (kind == P_Q5_0 || kind == P_Q5_1) at += 64;
    return at;
}

/* How far ahead a group's stream is prefetched, in bytes. */
#define PW_PREFETCH 1024
/* Groups a generation pass reads side by side (separate memory streams:
 * more misses in flight per core than one stream keeps). */
#define PW_STREAMS 8

/* Block b of one packed group (at p) times nt tokens, added to acc[t] in
 * the scalar set's order. */
INLINE void pw_block(enum pk_kind kind, int nt, const uint8_t *p, int64_t b,
                     const llp_act_q8_32 *const *act, __m512 *acc)
{
    const int k = pk_k(kind);
    const __m512i low4 = _mm512_set1_epi8(15), sixteen = _mm512_set1_epi8(16);
    __m512i dot[PK_TOKENS];
#pragma GCC unroll 8
    for (int t = 0; t < nt; t++)
        dot[t] = _mm512_set1_epi32(-k * act[t][b].sum);
    const uint8_t *qs = p + pw_qs_off(kind);
    if (kind == P_Q8_0) {
#pragma GCC unroll 8
        for (int g = 0; g < 8; g++) {
            __m512i w = _mm512_loadu_si512(qs + 64 * g);
#pragma GCC unroll 8
            for (int t = 0; t < nt; t++) {
                int32_t a4;
                memcpy(&a4, act[t][b].qs + 4 * g, 4);
                dot[t] = _mm512_dpbusd_epi32(dot[t], w, _mm512_set1_epi32(a4));
            }
        }
    } else {
#pragma GCC unroll 4
        for (int g = 0; g < 4; g++) {
            __m512i v = _mm512_loadu_si512(qs + 64 * g);
            __m512i lo = _mm512_and_si512(v, low4);
            __m512i hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), low4);
            if (kind == P_Q5_0 || kind == P_Q5_1) {
                uint64_t mlo, mhi;
                memcpy(&mlo, p + pw_qh_off(kind) + 8 * g, 8);
                memcpy(&mhi, p + pw_qh_off(kind) + 8 * (g + 4), 8);
                lo = _mm512_mask_add_epi8(lo, (__mmask64)mlo, lo, sixteen);
                hi = _mm512_mask_add_epi8(hi, (__mmask64)mhi, hi, sixteen);
            }
#pragma GCC unroll 8
            for (int t = 0; t < nt; t++) {
                int32_t a_lo, a_hi;
                memcpy(&a_lo, act[t][b].qs + 4 * g, 4);
                memcpy(&a_hi, act[t][b].qs + 16 + 4 * g, 4);
                dot[t] = _mm512_dpbusd_epi32(dot[t], lo, _mm512_set1_epi32(a_lo));
                dot[t] = _mm512_dpbusd_epi32(dot[t], hi, _mm512_set1_epi32(a_hi));
            }
        }
    }
    __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p));
    __m512 mv = pk_has_m(kind)
        ? _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(p + pw_m_off()))) : d;
#pragma GCC unroll 8
    for (int t = 0; t < nt; t++) {
        __m512 f = _mm512_mul_ps(_mm512_mul_ps(d, _mm512_set1_ps(act[t][b].d)),
                                 _mm512_cvtepi32_ps(dot[t]));
        if (pk_has_m(kind))
            f = _mm512_add_ps(f, _mm512_mul_ps(mv, _mm512_set1_ps(act[t][b].s)));
        acc[t] = _mm512_add_ps(acc[t], f);
    }
}

/* nt tokens times one packed group of 16 rows: acc[t] lane r = dot(row r,
 * token t). */
INLINE void pw_tokens(enum pk_kind kind, int nt, int64_t nb, const uint8_t *group,
                      const llp_act_q8_32 *const *act, __m512 *acc)
{
    const size_t blk = PK_ROWS * pk_bytes(kind);
#pragma GCC unroll 8
    for (int t = 0; t < nt; t++) acc[t] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; b++)
        pw_block(kind, nt, group + (size_t)b * blk, b, act, acc);
}

/* Generation: one token times ng (1..PW_STREAMS) groups read side by side,
 * block b of every group in turn; acc[g] lane r = dot(row r of group g). */
INLINE void pw_streams(enum pk_kind kind, int ng, int64_t nb, const uint8_t *const *group,
                       const llp_act_q8_32 *const *act, __m512 *acc)
{
    const size_t blk = PK_ROWS * pk_bytes(kind);
#pragma GCC unroll 8
    for (int g = 0; g < ng; g++) acc[g] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
#pragma GCC unroll 8
        for (int g = 0; g < ng; g++) {
            const uint8_t *p = group[g] + (size_t)b * blk;
            for (size_t off = 0; off < blk; off += 64)
                _mm_prefetch((const char *)p + PW_PREFETCH + off, _MM_HINT_T0);
            pw_block(kind, 1, p, b, act, &acc[g]);
        }
    }
}

INLINE void pw_gemm(enum pk_kind kind, int64_t n, const void *P, int n_rows,
                    const void *A, size_t a_stride, int n_tok, float *Y, int64_t y_stride)
{
    const int64_t nb = n / 32;
    const size_t group_bytes = (size_t)nb * PK_ROWS * pk_bytes(kind);
    if (n_tok == 1) {
        const llp_act_q8_32 *act[1] = { A };
        for (int r0 = 0; r0 < n_rows; r0 += PW_STREAMS * PK_ROWS) {
            int ng = (n_rows - r0 + PK_ROWS - 1) / PK_ROWS;
            if (ng > PW_STREAMS) ng = PW_STREAMS;
            const uint8_t *group[PW_STREAMS];
            for (int g = 0; g < ng; g++)
                group[g] = (const uint8_t *)P + (size_t)(r0 / PK_ROWS + g) * group_bytes;
            __m512 acc[PW_STREAMS];
            switch (ng) {
            case 8: pw_streams(kind, 8, nb, group, act, acc); break;
            case 7: pw_streams(kind, 7, nb, group, act, acc); break;
            case 6: pw_streams(kind, 6, nb, group, act, acc); break;
            case 5: pw_streams(kind, 5, nb, group, act, acc); break;
            case 4: pw_streams(kind, 4, nb, group, act, acc); break;
            case 3: pw_streams(kind, 3, nb, group, act, acc); break;
            case 2: pw_streams(kind, 2, nb, group, act, acc); break;
            default: pw_streams(kind, 1, nb, group, act, acc); break;
            }
            for (int g = 0; g < ng; g++)
                pk_store(1, &acc[g], n_rows, r0 + g * PK_ROWS, 0, Y, y_stride);
        }
        return;
    }
    for (int r0 = 0; r0 < n_rows; r0 += PK_ROWS) {
        const uint8_t *group = (const uint8_t *)P + (size_t)(r0 / PK_ROWS) * group_bytes;
        for (int t0 = 0; t0 < n_tok; t0 += PK_TOKENS) {
            int nt = n_tok - t0 < PK_TOKENS ? n_tok - t0 : PK_TOKENS;
            const llp_act_q8_32 *act[PK_TOKENS];
            for (int t = 0; t < PK_TOKENS; t++)
                act[t] = (const llp_act_q8_32 *)((const char *)A +
                         (size_t)(t0 + (t < nt ? t : nt - 1)) * a_stride);
            __m512 acc[PK_TOKENS];
            switch (nt) {
            case 8: pw_tokens(kind, 8, nb, group, act, acc); break;
            case 7: pw_tokens(kind, 7, nb, group, act, acc); break;
            case 6: pw_tokens(kind, 6, nb, group, act, acc); break;
            case 5: pw_tokens(kind, 5, nb, group, act, acc); break;
            case 4: pw_tokens(kind, 4, nb, group, act, acc); break;
            case 3: pw_tokens(kind, 3, nb, group, act, acc); break;
            case 2: pw_tokens(kind, 2, nb, group, act, acc); break;
            default: pw_tokens(kind, 1, nb, group, act, acc); break;
            }
            pk_store(nt, acc, n_rows, r0, t0, Y, y_stride);
        }
    }
}

#define PACKED_W_ENTRY(name, kind)                                             \
    void llp_gemm_packed_##name##_avx512(int64_t n, const void *P, int n_rows, \
                                         const void *A, size_t a_stride,       \
                                         int n_tok, float *Y, int64_t y_stride) \
    {                                                                          \
        pw_gemm(kind, n, P, n_rows, A, a_stride, n_tok, Y, y_stride);          \
    }
PACKED_W_ENTRY(q4_0, P_Q4_0)
PACKED_W_ENTRY(q4_1, P_Q4_1)
PACKED_W_ENTRY(q5_0, P_Q5_0)
PACKED_W_ENTRY(q5_1, P_Q5_1)
PACKED_W_ENTRY(q8_0, P_Q8_0)

#define PACKED_ENTRY(name, kind)                                               \
    void llp_gemm_##name##_packed512(int64_t n, const void *W, size_t w_stride, \
                                     int n_rows, const void *A, size_t a_stride, \
                                     int n_tok, float *Y, int64_t y_stride)     \
    {                                                                          \
        if (n_tok < PK_MIN_TOKENS)                                             \
            llp_gemm_##name##_lanes512(n, W, w_stride, n_rows, A, a_stride,    \
                                       n_tok, Y, y_stride);                    \
        else                                                                   \
            pk_gemm(kind, n, W, w_stride, n_rows, A, a_stride, n_tok, Y,       \
                    y_stride);                                                 \
    }
PACKED_ENTRY(q4_0, P_Q4_0)
PACKED_ENTRY(q4_1, P_Q4_1)
PACKED_ENTRY(q5_0, P_Q5_0)
PACKED_ENTRY(q5_1, P_Q5_1)
PACKED_ENTRY(q8_0, P_Q8_0)
