/*
 * lanes_avx512.c — the avx512 set's kernels for the legacy 32-value block
 * types (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0): 512-bit vectors, VNNI byte dots, and
 * one output per 32-bit lane, 16 (row, token) pairs per pass: 16 rows x 1
 * token for generation, 8 x 2 or 4 x 4 for prompt batches.
 *
 * Not for: the avx2 set or the other weight types (x86_legacy.inc,
 * x86_kquants.inc), or splitting work across threads (matmul.c). The
 * Makefile compiles this file with the AVX-512 flags and kernels/dispatch.c
 * only calls it when the CPU has them.
 *
 * One pass handles two consecutive blocks b, b+1 of every row of the tile:
 *   - weights: the 64 codes of the two blocks in one zmm (nibble types
 *     ordered b values 0-15, b+1 values 0-15, b values 16-31, b+1 values
 *     16-31, which is what a 16-byte load, a shift and an insert give;
 *     Q8_0 in natural order), decoded once per row and used for every token
 *     of the tile;
 *   - activations: the same 64 values of a token, permuted to that order
 *     once per token and used for every row;
 *   - per (row, token) pair one vpdpbusd, then a transposing reduction that
 *     turns 16 such vectors into one vector of 16 integer block dots for b
 *     and one for b+1;
 *   - the float step in the scalar set's order, per lane,
 *     acc += (dw * da) * (float)(dot - k * sum) + m * s, first for b, then
 *     for b+1, so results equal the scalar set's bit for bit (see
 *     kernels.h and tests/kernels_vs_ref.c).
 * Each row's two blocks come in one 64-byte load (Q8_0: plus one of 32);
 * word permutes take the codes out of it, and a tree of two-source word
 * permutes collects the fp16 scales of all rows of the tile into lanes
 * (a gather would cost more than the whole block's dot). The activation
 * scales, sums and s of the tile's tokens are laid out per block
 * once per token tile (token_table) so each block reads them with one
 * broadcast load.
 */
#define LLP_ISA avx512
#include "kernels/x86_common.h"

enum lane_kind { L_Q4_0, L_Q4_1, L_Q5_0, L_Q5_1, L_Q8_0 };

INLINE size_t lk_bytes(enum lane_kind kind)
{
    switch (kind) {
    case L_Q4_0: return sizeof(block_q4_0);
    case L_Q4_1: return sizeof(block_q4_1);
    case L_Q5_0: return sizeof(block_q5_0);
    case L_Q5_1: return sizeof(block_q5_1);
    default:     return sizeof(block_q8_0);
    }
}

/* Offset of the codes in a block, and of qh for the 5-bit types. */
INLINE size_t lk_qs_offset(enum lane_kind kind)
{
    switch (kind) {
    case L_Q4_0: return offsetof(block_q4_0, qs);
    case L_Q4_1: return offsetof(block_q4_1, qs);
    case L_Q5_0: return offsetof(block_q5_0, qs);
    case L_Q5_1: return offsetof(block_q5_1, qs);
    default:     return offsetof(block_q8_0, qs);
    }
}

INLINE size_t lk_qh_offset(enum lane_kind kind)
{
    return kind == L_Q5_0 ? offsetof(block_q5_0, qh) : offsetof(block_q5_1, qh);
}

/* The integer offset k of w = dw * (u - k); 0 for the types with m. */
INLINE int lk_k(enum lane_kind kind)
{
    switch (kind) {
    case L_Q4_0: return 8;
    case L_Q5_0: return 16;
    case L_Q8_0: return 128;
    default:     return 0;
    }
}

INLINE int lk_has_m(enum lane_kind kind)
{
    return kind == L_Q4_1 || kind == L_Q5_1;
}

/* Blocks b and b+1 of a row (or b alone, the rest zero, when single) as
 * one 64-byte window loaded from the start of b: every type but Q8_0 fits
 * two blocks in 64 bytes; Q8_0's second block's codes are read apart
 * (*tail). Masked loads never touch bytes past the blocks. */
INLINE __m512i lk_window(enum lane_kind kind, const uint8_t *p, int single, __m512i *tail)
{
    const size_t bytes = lk_bytes(kind);
    if (kind == L_Q8_0) {
        *tail = single ? _mm512_setzero_si512()
                       : _mm512_castsi256_si512(_mm256_loadu_si256(
                             (const __m256i *)(p + bytes + offsetof(block_q8_0, qs))));
        return _mm512_maskz_loadu_epi8(single ? 0x3ffffffffULL : 0xfffffffffULL, p);
    }
    size_t n = single ? bytes : 2 * bytes;
    return _mm512_maskz_loadu_epi8(~0ULL >> (64 - n), p);
}

/* The 16-bit word index permutation that takes the codes of both blocks
 * out of a window: nibble types as [b, b+1, b, b+1] (16 bytes each; the
 * upper half is shifted to the high nibbles afterwards), Q8_0 as [b, b+1]
 * (32 bytes each, the second from the tail). */
INLINE __m512i lk_code_index(enum lane_kind kind)
{
    uint16_t idx[32];
    const int w = (int)(lk_bytes(kind) / 2), q = (int)(lk_qs_offset(kind) / 2);
    for (int i = 0; i < 32; i++) {
        if (kind == L_Q8_0) idx[i] = (uint16_t)(i < 16 ? q + i : 32 + i - 16);
        else idx[i] = (uint16_t)((i / 8) % 2 * w + q + i % 8);
    }
    return _mm512_loadu_si512(idx);
}

/* The 64 unsigned codes of the window's two blocks, in the lane order
 * described above. */
INLINE __m512i lk_codes(enum lane_kind kind, __m512i win, __m512i tail, __m512i code_index,
                        const uint8_t *p, int single)
{
    if (kind == L_Q8_0) {
        __m512i z = _mm512_permutex2var_epi16(win, code_index, tail);
        /* dpbusd wants unsigned weights: q + 128, offset k = 128. */
        return _mm512_xor_si512(z, _mm512_set1_epi8((char)0x80));
    }
    __m512i z = _mm512_permutexvar_epi16(code_index, win);
    z = _mm512_mask_srli_epi16(z, 0xffff0000u, z, 4);
    z = _mm512_and_si512(z, _mm512_set1_epi8(15));
    if (kind == L_Q5_0 || kind == L_Q5_1) {
        const size_t bytes = lk_bytes(kind);
        uint32_t h0, h1 = 0;
        memcpy(&h0, p + lk_qh_offset(kind), 4);
        if (!single) memcpy(&h1, p + bytes + lk_qh_offset(kind), 4);
        __mmask64 fifth = (uint64_t)(h0 & 0xffff) | (uint64_t)(h1 & 0xffff) << 16 |
                          (uint64_t)(h0 >> 16) << 32 | (uint64_t)(h1 >> 16) << 48;
        z = _mm512_mask_add_epi8(z, fifth, z, _mm512_set1_epi8(16));
    }
    return z;
}

/* Index vectors of lk_scale_words, built once per tile. */
typedef struct {
    __m512i first[2];   /* word d (or m) of b and b+1 from two windows */
    __m512i level[3];   /* merge two halves of 2, 4, 8 rows */
    __m512i spread;     /* rows to lanes (fewer than 16 rows) */
} scale_index;

INLINE void lk_scale_index(enum lane_kind kind, int nt, scale_index *si)
{
    const int nr = 16 / nt, w = (int)(lk_bytes(kind) / 2);
    uint16_t ix[32];
    for (int word = 0; word < 2; word++) {
        memset(ix, 0, sizeof ix);
        ix[0] = (uint16_t)word;
        ix[1] = (uint16_t)(32 + word);
        ix[2] = (uint16_t)(w + word);
        ix[3] = (uint16_t)(32 + w + word);
        si->first[word] = _mm512_loadu_si512(ix);
    }
    for (int g = 2, lv = 0; lv < 3; g *= 2, lv++) {
        memset(ix, 0, sizeof ix);
        for (int i = 0; i < g; i++) {
            ix[i] = (uint16_t)i;
            ix[g + i] = (uint16_t)(32 + i);
            ix[2 * g + i] = (uint16_t)(g + i);
            ix[3 * g + i] = (uint16_t)(32 + g + i);
        }
        si->level[lv] = _mm512_loadu_si512(ix);
    }
    for (int j = 0; j < 32; j++) ix[j] = (uint16_t)(j < 16 ? j / nt : nr + (j - 16) / nt);
    si->spread = _mm512_loadu_si512(ix);
}

/* Word `word` of block b and of block b+1 of every window (the scale d at
 * word 0, m at word 1 for Q4_1/Q5_1), as 16 fp16 values per block in lane
 * order (lane j: row j / nt): the low 256 bits for b, the high for b+1.
 * A tree of two-source word permutes, one level per doubling of rows. */
INLINE __m512i lk_scale_words(int nt, const __m512i *win, const scale_index *si, int word)
{
    const int nr = 16 / nt;
    __m512i v[8];
#pragma GCC unroll 8
    for (int r = 0; r < nr / 2; r++)
        v[r] = _mm512_permutex2var_epi16(win[2 * r], si->first[word], win[2 * r + 1]);
    int n = nr / 2;
#pragma GCC unroll 3
    for (int lv = 0; lv < 3 && n > 1; lv++, n /= 2) {
#pragma GCC unroll 4
        for (int r = 0; r < n / 2; r++)
            v[r] = _mm512_permutex2var_epi16(v[2 * r], si->level[lv], v[2 * r + 1]);
    }
    if (nr == 16) return v[0];
    /* v[0] = [b rows 0..nr-1, b+1 rows 0..nr-1]: spread row j / nt to lane j. */
    return _mm512_permutexvar_epi16(si->spread, v[0]);
}

/* A token's 64 activation codes of blocks b and b+1 (a points at b), in
 * the order of lk_codes. */
INLINE __m512i lk_acts(enum lane_kind kind, const llp_act_q8_32 *a, int single)
{
    __m256i x0 = _mm256_loadu_si256((const __m256i *)a[0].qs);
    __m256i x1 = single ? _mm256_setzero_si256()
                        : _mm256_loadu_si256((const __m256i *)a[1].qs);
    __m512i z = _mm512_inserti64x4(_mm512_castsi256_si512(x0), x1, 1);
    if (kind == L_Q8_0) return z;
    return _mm512_shuffle_i64x2(z, z, _MM_SHUFFLE(3, 1, 2, 0));
}

/* Four vectors of per-lane partial dots (pairs 4k .. 4k+3) -> one vector
 * whose 128-bit quarter q holds, in lane i, the sum over quarter q of
 * vector i. */
INLINE __m512i lk_reduce4(__m512i d0, __m512i d1, __m512i d2, __m512i d3)
{
    __m512i p0 = _mm512_add_epi32(_mm512_unpacklo_epi32(d0, d1), _mm512_unpackhi_epi32(d0, d1));
    __m512i p1 = _mm512_add_epi32(_mm512_unpacklo_epi32(d2, d3), _mm512_unpackhi_epi32(d2, d3));
    return _mm512_add_epi32(_mm512_unpacklo_epi64(p0, p1), _mm512_unpackhi_epi64(p0, p1));
}

/* Quarter sums q[0..3] (pairs 0-3, 4-7, 8-11, 12-15) -> the 16 block dots
 * of b (*i0) and b+1 (*i1), lane j for pair j. Nibble types hold b in
 * quarters 0 and 2, Q8_0 in quarters 0 and 1. */
INLINE void lk_reduce_blocks(enum lane_kind kind, const __m512i q[4], __m512i *i0, __m512i *i1)
{
    __m512i s01, s23;
    if (kind == L_Q8_0) {
        s01 = _mm512_add_epi32(_mm512_shuffle_i32x4(q[0], q[1], _MM_SHUFFLE(2, 0, 2, 0)),
                               _mm512_shuffle_i32x4(q[0], q[1], _MM_SHUFFLE(3, 1, 3, 1)));
        s23 = _mm512_add_epi32(_mm512_shuffle_i32x4(q[2], q[3], _MM_SHUFFLE(2, 0, 2, 0)),
                               _mm512_shuffle_i32x4(q[2], q[3], _MM_SHUFFLE(3, 1, 3, 1)));
    } else {
        s01 = _mm512_add_epi32(_mm512_shuffle_i32x4(q[0], q[1], _MM_SHUFFLE(1, 0, 1, 0)),
                               _mm512_shuffle_i32x4(q[0], q[1], _MM_SHUFFLE(3, 2, 3, 2)));
        s23 = _mm512_add_epi32(_mm512_shuffle_i32x4(q[2], q[3], _MM_SHUFFLE(1, 0, 1, 0)),
                               _mm512_shuffle_i32x4(q[2], q[3], _MM_SHUFFLE(3, 2, 3, 2)));
    }
    /* s01 = [pairs 0-3 of b, of b+1, pairs 4-7 of b, of b+1], s23 alike. */
    *i0 = _mm512_shuffle_i32x4(s01, s23, _MM_SHUFFLE(2, 0, 2, 0));
    *i1 = _mm512_shuffle_i32x4(s01, s23, _MM_SHUFFLE(3, 1, 3, 1));
}

/* Per block, for the nt tokens of a tile: da, s and k * sum of each token
 * (lane-ready: nt consecutive values per block). */
typedef struct {
    float *da, *s;
    int32_t *ksum;
} token_table;

/* nt consecutive values broadcast so lane j gets value j % nt. */
INLINE __m512 lane_broadcast(int nt, const float *v)
{
    switch (nt) {
    case 1:  return _mm512_set1_ps(v[0]);
    case 2: {
        double d;
        memcpy(&d, v, 8);
        return _mm512_castpd_ps(_mm512_set1_pd(d));
    }
    default: return _mm512_broadcast_f32x4(_mm_loadu_ps(v));
    }
}

/* The float step for block b: acc + ((dw * da) * (dot - k * sum) + m * s). */
INLINE __m512 lk_float(enum lane_kind kind, int nt, __m512 acc, __m512i dot, __m512 dw,
                       __m512 m, const token_table *tt, int64_t b)
{
    __m512 da = lane_broadcast(nt, tt->da + b * nt);
    if (lk_k(kind) != 0)
        dot = _mm512_sub_epi32(dot, _mm512_castps_si512(
            lane_broadcast(nt, (const float *)(tt->ksum + b * nt))));
    __m512 f = _mm512_mul_ps(_mm512_mul_ps(dw, da), _mm512_cvtepi32_ps(dot));
    if (lk_has_m(kind))
        f = _mm512_add_ps(f, _mm512_mul_ps(m, lane_broadcast(nt, tt->s + b * nt)));
    return _mm512_add_ps(acc, f);
}

/* Blocks b (and b+1 unless single) of the tile's 16 / nt rows times its nt
 * tokens, then the float step of each: acc updated in block order. */
INLINE __m512 lk_blocks(enum lane_kind kind, int nt, const uint8_t *const *row,
                        const llp_act_q8_32 *const *act, int64_t b, int single,
                        __m512i code_index, const scale_index *si,
                        const token_table *tt, __m512 acc)
{
    const size_t bytes = lk_bytes(kind);
    const int nr = 16 / nt;
    __m512i a[4], q[4], d[4], win[16], tail[16], u = _mm512_setzero_si512();
    /* Fully unrolled, so the arrays live in registers. */
#pragma GCC unroll 16
    for (int r = 0; r < nr; r++)
        win[r] = lk_window(kind, row[r] + (size_t)b * bytes, single, &tail[r]);
#pragma GCC unroll 4
    for (int t = 0; t < nt; t++) a[t] = lk_acts(kind, act[t] + b, single);
#pragma GCC unroll 4
    for (int k = 0; k < 4; k++) {
#pragma GCC unroll 4
        for (int i = 0; i < 4; i++) {
            int j = 4 * k + i, r = j / nt, t = j % nt;
            if (t == 0)
                u = lk_codes(kind, win[r], tail[r], code_index, row[r] + (size_t)b * bytes,
                             single);
            d[i] = _mm512_dpbusd_epi32(_mm512_setzero_si512(), u, a[t]);
        }
        q[k] = lk_reduce4(d[0], d[1], d[2], d[3]);
    }
    __m512i i0, i1;
    lk_reduce_blocks(kind, q, &i0, &i1);
    __m512i dws = lk_scale_words(nt, win, si, 0);
    __m512i ms = lk_has_m(kind) ? lk_scale_words(nt, win, si, 1) : dws;
    acc = lk_float(kind, nt, acc, i0, _mm512_cvtph_ps(_mm512_castsi512_si256(dws)),
                   _mm512_cvtph_ps(_mm512_castsi512_si256(ms)), tt, b);
    if (!single)
        acc = lk_float(kind, nt, acc, i1, _mm512_cvtph_ps(_mm512_extracti64x4_epi64(dws, 1)),
                       _mm512_cvtph_ps(_mm512_extracti64x4_epi64(ms, 1)), tt, b + 1);
    return acc;
}

/* Bytes of each row a Q8_0 generation tile prefetches ahead. */
#define LK_PREFETCH_AHEAD 512

/* One tile: rows r0 .. r0 + 16/nt - 1 (clamped to n_rows; extra lanes are
 * computed on the last row and not stored) times tokens t0 .. t0 + nt - 1
 * (likewise clamped to n_tok). While a generation tile (one token) runs,
 * the next tile's rows, contiguous in memory, are prefetched line by line
 * spread over its block pairs: sixteen rows read side by side are more
 * streams than the hardware prefetchers follow. Q8_0 instead prefetches
 * each row LK_PREFETCH_AHEAD bytes ahead: its whole next tile (34 KB at
 * 2048 values, 95 KB at 5632) with the current one overflows L1, and the
 * short distance measured 25-35% faster; for the nibble types the two
 * schemes measured alike. Prefetches never fault, so those past the
 * matrix's end are harmless. */
INLINE void lk_tile(enum lane_kind kind, int nt, int64_t nb, const uint8_t *W,
                    size_t w_stride, int n_rows, int r0, const uint8_t *A,
                    size_t a_stride, int n_tok, int t0, const token_table *tt,
                    float *Y, int64_t y_stride)
{
    const int nr = 16 / nt;
    const uint8_t *row[16];
    const llp_act_q8_32 *act[4];
    for (int r = 0; r < nr; r++) {
        int rr = r0 + r < n_rows ? r0 + r : n_rows - 1;
        row[r] = W + (size_t)rr * w_stride;
    }
    for (int t = 0; t < nt; t++) {
        int tt_ = t0 + t < n_tok ? t0 + t : n_tok - 1;
        act[t] = (const llp_act_q8_32 *)(A + (size_t)tt_ * a_stride);
    }
    const __m512i code_index = lk_code_index(kind);
    scale_index si;
    lk_scale_index(kind, nt, &si);
    /* Prefetch: next tile's [pf, pf_end), pf_step bytes per block pair. */
    const char *pf = (const char *)W + (size_t)(r0 + nr) * w_stride;
    const char *pf_end = (const char *)W + (size_t)n_rows * w_stride;
    if (pf + (size_t)nr * w_stride < pf_end) pf_end = pf + (size_t)nr * w_stride;
    size_t pf_step = nt == 1 && nb >= 2 ? ((size_t)nr * w_stride / (size_t)(nb / 2) + 63) & ~(size_t)63
                                        : 0;
    __m512 acc = _mm512_setzero_ps();
    int64_t b = 0;
    for (; b + 2 <= nb; b += 2) {
        if (kind == L_Q8_0 && nt == 1) {
            /* Q8_0: each row LK_PREFETCH_AHEAD bytes (whole block pairs)
             * ahead, past its end into the next tile's same row. */
            const size_t pair = 2 * lk_bytes(kind);
            int64_t ia = b + 2 * (int64_t)((LK_PREFETCH_AHEAD + pair - 1) / pair);
            size_t o = ia < nb ? (size_t)ia * lk_bytes(kind)
                               : (size_t)nr * w_stride + (size_t)(ia - nb) * lk_bytes(kind);
#pragma GCC unroll 16
            for (int r = 0; r < nr; r++)
#pragma GCC unroll 2
                for (size_t l = 0; l < pair; l += 64)
                    _mm_prefetch((const char *)row[r] + o + l, _MM_HINT_T0);
        } else {
            for (size_t off = 0; off < pf_step && pf < pf_end; off += 64, pf += 64)
                _mm_prefetch(pf, _MM_HINT_T0);
        }
        acc = lk_blocks(kind, nt, row, act, b, 0, code_index, &si, tt, acc);
    }
    if (b < nb) acc = lk_blocks(kind, nt, row, act, b, 1, code_index, &si, tt, acc);
    float out[16];
    _mm512_storeu_ps(out, acc);
    for (int j = 0; j < 16; j++) {
        int r = r0 + j / nt, t = t0 + j % nt;
        if (r < n_rows && t < n_tok) Y[(int64_t)t * y_stride + r] = out[j];
    }
}

/* Fill the token table of tokens t0 .. t0 + nt - 1 (clamped). */
static void fill_token_table(int k, int nt, int64_t nb, const uint8_t *A, size_t a_stride,
                             int n_tok, int t0, token_table *tt)
{
    for (int t = 0; t < nt; t++) {
        int tt_ = t0 + t < n_tok ? t0 + t : n_tok - 1;
        const llp_act_q8_32 *a = (const llp_act_q8_32 *)(A + (size_t)tt_ * a_stride);
        for (int64_t b = 0; b < nb; b++) {
            tt->da[b * nt + t] = a[b].d;
            tt->s[b * nt + t] = a[b].s;
            tt->ksum[b * nt + t] = k * a[b].sum;
        }
    }
}

INLINE void lk_gemm(enum lane_kind kind, int64_t n, const void *W, size_t w_stride,
                    int n_rows, const void *A, size_t a_stride, int n_tok,
                    float *Y, int64_t y_stride)
{
    const int64_t nb = n / 32;
    float da[4 * nb], s[4 * nb];
    int32_t ksum[4 * nb];
    token_table tt = { da, s, ksum };
    for (int t0 = 0; t0 < n_tok; ) {
        int left = n_tok - t0, nt = left >= 3 ? 4 : left;
        fill_token_table(lk_k(kind), nt, nb, A, a_stride, n_tok, t0, &tt);
        for (int r0 = 0; r0 < n_rows; r0 += 16 / nt) {
            switch (nt) {
            case 4:
                lk_tile(kind, 4, nb, W, w_stride, n_rows, r0, A, a_stride, n_tok, t0, &tt,
                        Y, y_stride);
                break;
            case 2:
                lk_tile(kind, 2, nb, W, w_stride, n_rows, r0, A, a_stride, n_tok, t0, &tt,
                        Y, y_stride);
                break;
            default:
                lk_tile(kind, 1, nb, W, w_stride, n_rows, r0, A, a_stride, n_tok, t0, &tt,
                        Y, y_stride);
                break;
            }
        }
        t0 += nt;
    }
}

#define LANES_ENTRY(name, kind)                                                \
    void llp_gemm_##name##_lanes512(int64_t n, const void *W, size_t w_stride, \
                                    int n_rows, const void *A, size_t a_stride, \
                                    int n_tok, float *Y, int64_t y_stride)     \
    {                                                                          \
        lk_gemm(kind, n, W, w_stride, n_rows, A, a_stride, n_tok, Y, y_stride); \
    }
LANES_ENTRY(q4_0, L_Q4_0)
LANES_ENTRY(q4_1, L_Q4_1)
LANES_ENTRY(q5_0, L_Q5_0)
LANES_ENTRY(q5_1, L_Q5_1)
LANES_ENTRY(q8_0, L_Q8_0)
