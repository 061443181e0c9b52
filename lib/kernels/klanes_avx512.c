/*
 * klanes_avx512.c — the avx512 set's kernels for the K-quant types Q2_K,
 * Q4_K, Q5_K and Q6_K (the Q4_K_M and Q5_K_M mixes, and Q2_K): 512-bit
 * vectors, one output per 32-bit lane,
 * 16 (row, token) pairs per pass: 16 rows x 1 token for generation, 8 x 2
 * or 4 x 4 for prompt batches.
 *
 * Not for: the legacy types (lanes_avx512.c), Q3_K or the avx2 set
 * (x86_kquants.inc), or splitting work across threads (matmul.c).
 * The Makefile compiles this file with the AVX-512 flags and
 * kernels/dispatch.c only calls it when the CPU has them.
 *
 * Per super-block (256 values) and tile:
 *   - codes: the 256 unsigned codes of a row in four zmm, decoded once per
 *     row and used for every token of the tile. Q2_K and Q6_K give them in
 *     value order; Q4_K and Q5_K (fifth bits or-ed in from qh), read as 64-byte
 *     loads of qs, as 32-value chunks 0,2 | 1,3 | 4,6 | 5,7, so their
 *     activations are copied once per token tile into that order (kl_fill);
 *   - per (row, token) pair: vpmaddubsw (pair sums, exact: codes <= 63,
 *     |a| <= 127) then vpdpwssd with the row's sub-block scales as words,
 *     accumulating sum_sub sc * dot in 16 int32 lanes; a transposing tree
 *     turns 16 such vectors into one vector of the 16 integer isums;
 *   - the rows' headers (d, dmin, the packed scales and mins), loaded as 16
 *     bytes per row and transposed so lane j holds the header of the row of
 *     pair j; from them, in lanes: d, dm, and msum = sum_sub mn * bsum
 *     (vpdpwssd against a per-token table of bsums as word pairs);
 *   - the float step in the scalar set's order, per lane,
 *     acc += da * (d * (float)isum - dm * (float)msum),
 *     so results equal the scalar set's bit for bit (kernels.h,
 *     tests/kernels_vs_ref.c).
 */
#define LLP_ISA avx512
#include "kernels/x86_common.h"

#include <stdlib.h>

enum kl_kind { KL_Q2_K, KL_Q4_K, KL_Q5_K, KL_Q6_K };

/* Q4_K and Q5_K share headers, scales, code order and activation copy. */
INLINE int kl_k4(enum kl_kind kind)
{
    return kind == KL_Q4_K || kind == KL_Q5_K;
}

INLINE size_t kl_bytes(enum kl_kind kind)
{
    switch (kind) {
    case KL_Q2_K: return sizeof(block_q2_k);
    case KL_Q4_K: return sizeof(block_q4_k);
    case KL_Q5_K: return sizeof(block_q5_k);
    default:      return sizeof(block_q6_k);
    }
}

/* Byte offset of the 16 header bytes transposed into lanes: Q4_K d, dmin,
 * scales[12]; Q2_K and Q6_K scales[16]. Their d (and Q2_K's dmin) come
 * from a second window ending at the block end (dword 3: Q6_K sc14, sc15,
 * d; Q2_K d, dmin). */
INLINE size_t kl_head(enum kl_kind kind)
{
    return kind == KL_Q6_K ? offsetof(block_q6_k, scales) : 0;
}

/* Word pairs of the msum table per token and super-block. */
INLINE int kl_mpairs(enum kl_kind kind)
{
    return kl_k4(kind) ? 4 : 8;
}

/* Per token tile and super-block: da per token, and the msum word pairs
 * (lane-ready: nt consecutive values per entry). */
typedef struct {
    float *da;          /* [ib * nt + t] */
    int32_t *bs;        /* [(ib * mpairs + k) * nt + t] */
    size_t astep;       /* bytes from one super-block's codes to the next */
} kl_table;

INLINE int32_t word_pair(int lo, int hi)
{
    return (int32_t)((uint32_t)(uint16_t)lo | (uint32_t)(uint16_t)hi << 16);
}

/* Fill the table for tokens t0 .. t0 + nt - 1 (clamped to n_tok). */
static void kl_fill(enum kl_kind kind, int nt, int64_t nb, const uint8_t *A, size_t a_stride,
                    int n_tok, int t0, kl_table *tb, int8_t *act)
{
    const int mp = kl_mpairs(kind);
    for (int t = 0; t < nt; t++) {
        int tc = t0 + t < n_tok ? t0 + t : n_tok - 1;
        const llp_act_q8_256 *a = (const llp_act_q8_256 *)(A + (size_t)tc * a_stride);
        for (int64_t ib = 0; ib < nb; ib++) {
            const int16_t *s = a[ib].bsums;
            tb->da[ib * nt + t] = a[ib].d;
            int32_t *o = tb->bs + ib * mp * nt + t;
            if (kl_k4(kind)) {
                /* Sums per 32 values, paired as the mins unpack: (0,2) (1,3)
                 * (4,6) (5,7). */
                int s2[8];
                for (int j = 0; j < 8; j++) s2[j] = s[2 * j] + s[2 * j + 1];
                o[0 * nt] = word_pair(s2[0], s2[2]);
                o[1 * nt] = word_pair(s2[1], s2[3]);
                o[2 * nt] = word_pair(s2[4], s2[6]);
                o[3 * nt] = word_pair(s2[5], s2[7]);
                /* 32-value chunks in the order 0,2,1,3 per 128 values. */
                static const int order[8] = { 0, 2, 1, 3, 4, 6, 5, 7 };
                int8_t *dst = act + (size_t)t * (size_t)nb * 256 + (size_t)ib * 256;
                for (int c = 0; c < 8; c++) memcpy(dst + 32 * c, a[ib].qs + 32 * order[c], 32);
            } else {
                /* Per header dword q (scales 4q..4q+3): (4q, 4q+2), (4q+1, 4q+3). */
                for (int q = 0; q < 4; q++) {
                    o[(2 * q) * nt] = word_pair(s[4 * q], s[4 * q + 2]);
                    o[(2 * q + 1) * nt] = word_pair(s[4 * q + 1], s[4 * q + 3]);
                }
            }
        }
    }
}

/* nt consecutive 32-bit values broadcast so lane j gets value j % nt. */
INLINE __m512 kl_bcast(int nt, const void *v)
{
    switch (nt) {
    case 1: {
        float f;
        memcpy(&f, v, 4);
        return _mm512_set1_ps(f);
    }
    case 2: {
        double d;
        memcpy(&d, v, 8);
        return _mm512_castpd_ps(_mm512_set1_pd(d));
    }
    default: return _mm512_broadcast_f32x4(_mm_loadu_ps((const float *)v));
    }
}

INLINE __m512i kl_bcasti(int nt, const int32_t *v)
{
    return _mm512_castps_si512(kl_bcast(nt, v));
}

/* Dword q of the 16-byte headers of the tile's rows, lane j for row j / nt:
 * z[g] holds rows 4g .. 4g+3 in its 128-bit quarters. */
INLINE __m512i kl_lanes(int nt, const __m512i *z, __m512i idx)
{
    if (nt == 4) return _mm512_permutexvar_epi32(idx, z[0]);
    if (nt == 2) return _mm512_permutex2var_epi32(z[0], idx, z[1]);
    __m512i lo = _mm512_permutex2var_epi32(z[0], idx, z[1]);
    __m512i hi = _mm512_permutex2var_epi32(z[2], idx, z[3]);
    return _mm512_mask_blend_epi32(0xff00, lo, hi);
}

/* 16 bytes at p + off of each of the tile's rows (super-block ib), four
 * rows per zmm. */
INLINE void kl_gather(int nt, const uint8_t *const *row, size_t off, __m512i *z)
{
    const int nr = 16 / nt;
#pragma GCC unroll 4
    for (int g = 0; g < nr / 4; g++) {
        __m512i v = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)(row[4 * g] + off)));
        v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(row[4 * g + 1] + off)), 1);
        v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(row[4 * g + 2] + off)), 2);
        v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(row[4 * g + 3] + off)), 3);
        z[g] = v;
    }
}

/* Four vectors of per-lane partial sums (pairs 4k .. 4k+3) -> one vector
 * whose quarter Q holds, in lane i, the sum over quarter Q of vector i. */
INLINE __m512i kl_reduce4(__m512i d0, __m512i d1, __m512i d2, __m512i d3)
{
    __m512i p0 = _mm512_add_epi32(_mm512_unpacklo_epi32(d0, d1), _mm512_unpackhi_epi32(d0, d1));
    __m512i p1 = _mm512_add_epi32(_mm512_unpacklo_epi32(d2, d3), _mm512_unpackhi_epi32(d2, d3));
    return _mm512_add_epi32(_mm512_unpacklo_epi64(p0, p1), _mm512_unpackhi_epi64(p0, p1));
}

/* The four results of kl_reduce4 -> lane 4k + i = total of pair 4k + i. */
INLINE __m512i kl_reduce16(const __m512i q[4])
{
    __m512i x01 = _mm512_add_epi32(_mm512_shuffle_i32x4(q[0], q[1], _MM_SHUFFLE(1, 0, 1, 0)),
                                   _mm512_shuffle_i32x4(q[0], q[1], _MM_SHUFFLE(3, 2, 3, 2)));
    __m512i x23 = _mm512_add_epi32(_mm512_shuffle_i32x4(q[2], q[3], _MM_SHUFFLE(1, 0, 1, 0)),
                                   _mm512_shuffle_i32x4(q[2], q[3], _MM_SHUFFLE(3, 2, 3, 2)));
    return _mm512_add_epi32(_mm512_shuffle_i32x4(x01, x23, _MM_SHUFFLE(2, 0, 2, 0)),
                            _mm512_shuffle_i32x4(x01, x23, _MM_SHUFFLE(3, 1, 3, 1)));
}

/* Constants of a tile, built once per tile. */
typedef struct {
    __m512i head[4];    /* kl_lanes index of header dword q */
    __m512i sw[4];      /* byte shuffles giving code vector v's scale words */
} kl_consts;

INLINE void kl_make_consts(enum kl_kind kind, int nt, kl_consts *k)
{
    int32_t ix[16];
    for (int q = 0; q < 4; q++) {
        for (int p = 0; p < 16; p++) ix[p] = nt == 1 ? (p % 8) * 4 + q : (p / nt) * 4 + q;
        k->head[q] = _mm512_loadu_si512(ix);
    }
    uint8_t b[64];
    for (int v = 0; v < 4; v++) {
        for (int i = 0; i < 64; i++) {
            int quarter = i / 16;
            if (kl_k4(kind)) {
                /* Code vector v holds sub-blocks (0,2) (1,3) (4,6) (5,7):
                 * quarters 0-1 the first, 2-3 the second; words (sc, 0). */
                static const int first[4] = { 0, 1, 4, 5 };
                int sub = first[v] + (quarter < 2 ? 0 : 2);
                b[i] = i % 2 ? 0x80 : (uint8_t)sub;
            } else {
                /* Sub-blocks of 16: quarter Q of code vector v is 4v + Q;
                 * both bytes sc, shifted right by 8 afterwards to sign-extend. */
                b[i] = (uint8_t)(4 * v + quarter);
            }
        }
        k->sw[v] = _mm512_loadu_si512(b);
    }
}

/* The four code vectors of a row's super-block p. */
INLINE void kl_codes(enum kl_kind kind, const uint8_t *p, __m512i c[4])
{
    const __m512i m4 = _mm512_set1_epi8(15);
    if (kl_k4(kind)) {
        const uint8_t *qs = kind == KL_Q4_K ? ((const block_q4_k *)p)->qs
                                            : ((const block_q5_k *)p)->qs;
        __m512i l0 = _mm512_loadu_si512(qs), l1 = _mm512_loadu_si512(qs + 64);
        c[0] = _mm512_and_si512(l0, m4);
        c[1] = _mm512_and_si512(_mm512_srli_epi16(l0, 4), m4);
        c[2] = _mm512_and_si512(l1, m4);
        c[3] = _mm512_and_si512(_mm512_srli_epi16(l1, 4), m4);
        if (kind == KL_Q5_K) {
            /* Fifth bits: bit k of qh byte l for value 32k + l. With qh in
             * both halves, the high half shifted right by 2, bits 0, 1, 4, 5
             * hold sub-blocks (0,2) (1,3) (4,6) (5,7): moved to bit 4. */
            const __m512i hs = _mm512_inserti64x4(_mm512_setzero_si512(),
                                                  _mm256_set1_epi16(2), 1);
            const __m512i b4 = _mm512_set1_epi8(0x10);
            __m512i h = _mm512_broadcast_i64x4(
                _mm256_loadu_si256((const __m256i *)((const block_q5_k *)p)->qh));
            h = _mm512_srlv_epi16(h, hs);
            c[0] = _mm512_ternarylogic_epi32(c[0], _mm512_slli_epi16(h, 4), b4, 0xf8);
            c[1] = _mm512_ternarylogic_epi32(c[1], _mm512_slli_epi16(h, 3), b4, 0xf8);
            c[2] = _mm512_ternarylogic_epi32(c[2], h, b4, 0xf8);
            c[3] = _mm512_ternarylogic_epi32(c[3], _mm512_srli_epi16(h, 1), b4, 0xf8);
        }
        return;
    }
    if (kind == KL_Q2_K) {
        /* Value 128h + 32k + l: bits 2k of qs[32h + l]; the 32 bytes in
         * both halves, shifted by 0 | 2 (k = 0, 1) and 4 | 6 (k = 2, 3). */
        const __m512i s02 = _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_set1_epi16(2), 1);
        const __m512i s46 = _mm512_add_epi16(s02, _mm512_set1_epi16(4));
        const __m512i m3 = _mm512_set1_epi8(3);
        const uint8_t *qs = ((const block_q2_k *)p)->qs;
#pragma GCC unroll 2
        for (int h = 0; h < 2; h++) {
            __m512i v = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(qs + 32 * h)));
            c[2 * h] = _mm512_and_si512(_mm512_srlv_epi16(v, s02), m3);
            c[2 * h + 1] = _mm512_and_si512(_mm512_srlv_epi16(v, s46), m3);
        }
        return;
    }
    const block_q6_k *b = (const block_q6_k *)p;
    const __m512i m2 = _mm512_set1_epi8(0x30);
    /* Word shifts 0 for the low 256 bits, 2 for the high. */
    const __m512i hs = _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_set1_epi16(2), 1);
#pragma GCC unroll 2
    for (int h = 0; h < 2; h++) {
        __m512i ql = _mm512_loadu_si512(b->ql + 64 * h);
        __m512i qh = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(b->qh + 32 * h)));
        qh = _mm512_srlv_epi16(qh, hs);
        /* (ql & 15) | ((qh << 4) & 0x30); (ql >> 4 & 15) | (qh & 0x30). */
        c[2 * h] = _mm512_ternarylogic_epi32(_mm512_and_si512(ql, m4), _mm512_slli_epi16(qh, 4),
                                             m2, 0xf8);
        c[2 * h + 1] = _mm512_ternarylogic_epi32(_mm512_and_si512(_mm512_srli_epi16(ql, 4), m4),
                                                 qh, m2, 0xf8);
    }
}

/* One super-block ib of the tile: acc updated with its float step. */
INLINE __m512 kl_block(enum kl_kind kind, int nt, const uint8_t *const *row,
                       const int8_t *const *aq, int64_t ib, const kl_consts *k,
                       const kl_table *tb, __m512 acc)
{
    const int nr = 16 / nt;
    const size_t bytes = kl_bytes(kind), off = (size_t)ib * bytes;
    __m512i z[4], q[4], part[4];
    kl_gather(nt, row, off + kl_head(kind), z);

    /* Headers in lanes: d, dm, msum; and per-row packed scales. */
    __m512i h0 = kl_lanes(nt, z, k->head[0]), h1 = kl_lanes(nt, z, k->head[1]);
    __m512i h2 = kl_lanes(nt, z, k->head[2]), h3 = kl_lanes(nt, z, k->head[3]);
    const int mp = kl_mpairs(kind);
    const int32_t *bs = tb->bs + ib * mp * nt;
    __m512i msum = _mm512_setzero_si512(), sc_lo = h0, sc_hi = h0;
    __m512 d, dm;
    if (kl_k4(kind)) {
        const __m512i m6 = _mm512_set1_epi8(63), m4 = _mm512_set1_epi8(15),
                      m2 = _mm512_set1_epi8(0x30);
        /* scales[12] = a | b | c: sc 0-3 = a & 63, mn 0-3 = b & 63,
         * sc 4-7 = (c & 15) | (a >> 6) << 4, mn 4-7 = (c >> 4) | (b >> 6) << 4. */
        sc_lo = _mm512_and_si512(h1, m6);
        sc_hi = _mm512_ternarylogic_epi32(_mm512_and_si512(h3, m4), _mm512_srli_epi32(h1, 2), m2, 0xf8);
        __m512i mn_lo = _mm512_and_si512(h2, m6);
        __m512i mn_hi = _mm512_ternarylogic_epi32(_mm512_and_si512(_mm512_srli_epi32(h3, 4), m4),
                                                  _mm512_srli_epi32(h2, 2), m2, 0xf8);
        const __m512i w8 = _mm512_set1_epi32(0x00ff00ff);
        msum = _mm512_dpwssd_epi32(msum, _mm512_and_si512(mn_lo, w8), kl_bcasti(nt, bs + 0 * nt));
        msum = _mm512_dpwssd_epi32(msum, _mm512_and_si512(_mm512_srli_epi32(mn_lo, 8), w8),
                                   kl_bcasti(nt, bs + 1 * nt));
        msum = _mm512_dpwssd_epi32(msum, _mm512_and_si512(mn_hi, w8), kl_bcasti(nt, bs + 2 * nt));
        msum = _mm512_dpwssd_epi32(msum, _mm512_and_si512(_mm512_srli_epi32(mn_hi, 8), w8),
                                   kl_bcasti(nt, bs + 3 * nt));
        d = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(h0));
        dm = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_srli_epi32(h0, 16)));
    } else if (kind == KL_Q2_K) {
        __m512i hv[4] = { h0, h1, h2, h3 };
        const __m512i w4 = _mm512_set1_epi32(0x000f000f);
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++) {
            /* Mins (high nibbles of m0 m1 m2 m3) as words (m0, m2), (m1, m3). */
            msum = _mm512_dpwssd_epi32(msum, _mm512_and_si512(_mm512_srli_epi32(hv[j], 4), w4),
                                       kl_bcasti(nt, bs + (2 * j) * nt));
            msum = _mm512_dpwssd_epi32(msum, _mm512_and_si512(_mm512_srli_epi32(hv[j], 12), w4),
                                       kl_bcasti(nt, bs + (2 * j + 1) * nt));
        }
        __m512i zd[4];
        kl_gather(nt, row, off + sizeof(block_q2_k) - 16, zd);
        __m512i dd = kl_lanes(nt, zd, k->head[3]);
        d = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(dd));
        dm = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_srli_epi32(dd, 16)));
    } else {
        __m512i hv[4] = { h0, h1, h2, h3 };
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++) {
            /* Signed scale bytes (s0 s1 s2 s3) as words (s0, s2), (s1, s3). */
            __m512i e = _mm512_srai_epi16(_mm512_slli_epi16(hv[j], 8), 8);
            __m512i o = _mm512_srai_epi16(hv[j], 8);
            msum = _mm512_dpwssd_epi32(msum, e, kl_bcasti(nt, bs + (2 * j) * nt));
            msum = _mm512_dpwssd_epi32(msum, o, kl_bcasti(nt, bs + (2 * j + 1) * nt));
        }
        msum = _mm512_slli_epi32(msum, 5);   /* mn = 32 * sc */
        __m512i zd[4];
        kl_gather(nt, row, off + offsetof(block_q6_k, scales) + 2, zd);
        d = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_srli_epi32(kl_lanes(nt, zd, k->head[3]), 16)));
        dm = d;
    }

    /* Integer isums, pair j = r * nt + t. */
#pragma GCC unroll 16
    for (int r = 0; r < nr; r++) {
        const uint8_t *p = row[r] + off;
        __m512i c[4], s[4];
        kl_codes(kind, p, c);
        __m512i rs;
        if (kl_k4(kind)) {
            /* Row r's 8 scales (sc_lo, sc_hi dwords of its first lane) in
             * every quarter. */
            int64_t lane = r * nt;
            rs = _mm512_permutex2var_epi32(sc_lo, _mm512_set1_epi64((16 + lane) << 32 | lane),
                                           sc_hi);
        } else {
            rs = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)(p + kl_head(kind))));
        }
#pragma GCC unroll 4
        for (int v = 0; v < 4; v++) {
            s[v] = _mm512_shuffle_epi8(rs, k->sw[v]);
            if (kind == KL_Q6_K) s[v] = _mm512_srai_epi16(s[v], 8);
            if (kind == KL_Q2_K) s[v] = _mm512_and_si512(s[v], _mm512_set1_epi16(15));
        }
#pragma GCC unroll 4
        for (int t = 0; t < nt; t++) {
            const int8_t *a = aq[t] + (size_t)ib * tb->astep;
            __m512i sum = _mm512_setzero_si512();
#pragma GCC unroll 4
            for (int v = 0; v < 4; v++)
                sum = _mm512_dpwssd_epi32(sum, _mm512_maddubs_epi16(c[v], _mm512_loadu_si512(a + 64 * v)),
                                          s[v]);
            int j = r * nt + t;
            part[j % 4] = sum;
            if (j % 4 == 3) q[j / 4] = kl_reduce4(part[0], part[1], part[2], part[3]);
        }
    }
    __m512i isum = kl_reduce16(q);
    __m512 da = kl_bcast(nt, tb->da + ib * nt);
    __m512 f = _mm512_sub_ps(_mm512_mul_ps(d, _mm512_cvtepi32_ps(isum)),
                             _mm512_mul_ps(dm, _mm512_cvtepi32_ps(msum)));
    return _mm512_add_ps(acc, _mm512_mul_ps(da, f));
}

/* Super-blocks a generation tile prefetches ahead of the one it reads. */
#define KL_PREFETCH_AHEAD 3

/* One tile: rows r0 .. r0 + 16/nt - 1 (clamped to n_rows; extra lanes are
 * computed on the last row and not stored) times the table's nt tokens.
 * A generation tile prefetches, for each of its rows, the super-block
 * KL_PREFETCH_AHEAD ahead (past the row's end: the same row of the next
 * tile, which is contiguous): sixteen rows read side by side are more
 * streams than the hardware prefetchers follow, and a short distance keeps
 * what is in flight well inside L1 (a whole next tile of wide rows, 50 KB
 * for Q4_K at 5632 values, would not fit). Prefetches never fault, so
 * those past the matrix's end are harmless. */
INLINE void kl_tile(enum kl_kind kind, int nt, int64_t nb, const uint8_t *W, size_t w_stride,
                    int n_rows, int r0, const int8_t *const *aq, const kl_table *tb,
                    int n_tok, int t0, float *Y, int64_t y_stride)
{
    const int nr = 16 / nt;
    const size_t bytes = kl_bytes(kind);
    const uint8_t *row[16];
    for (int r = 0; r < nr; r++) {
        int rr = r0 + r < n_rows ? r0 + r : n_rows - 1;
        row[r] = W + (size_t)rr * w_stride;
    }
    kl_consts k;
    kl_make_consts(kind, nt, &k);
    __m512 acc = _mm512_setzero_ps();
    for (int64_t ib = 0; ib < nb; ib++) {
        if (nt == 1) {
            int64_t ia = ib + KL_PREFETCH_AHEAD;
            size_t o = ia < nb ? (size_t)ia * bytes
                               : (size_t)nr * w_stride + (size_t)(ia - nb) * bytes;
#pragma GCC unroll 16
            for (int r = 0; r < nr; r++)
#pragma GCC unroll 4
                for (size_t l = 0; l < bytes; l += 64)
                    _mm_prefetch((const char *)row[r] + o + l, _MM_HINT_T0);
        }
        acc = kl_block(kind, nt, row, aq, ib, &k, tb, acc);
    }
    float out[16];
    _mm512_storeu_ps(out, acc);
    for (int j = 0; j < 16; j++) {
        int r = r0 + j / nt, t = t0 + j % nt;
        if (r < n_rows && t < n_tok) Y[(int64_t)t * y_stride + r] = out[j];
    }
}

INLINE void kl_gemm(enum kl_kind kind, int64_t n, const void *W, size_t w_stride, int n_rows,
                    const void *A, size_t a_stride, int n_tok, float *Y, int64_t y_stride)
{
    const int64_t nb = n / 256;
    const int mp = kl_mpairs(kind);
    float da[4 * nb];
    int32_t bs[4 * nb * mp];
    int8_t *act = NULL;
    if (kl_k4(kind)) {
        act = aligned_alloc(64, (size_t)(4 * nb * 256));
        if (!act) abort();
    }
    kl_table tb = { da, bs, kl_k4(kind) ? 256 : sizeof(llp_act_q8_256) };
    for (int t0 = 0; t0 < n_tok; ) {
        int left = n_tok - t0, nt = left >= 3 ? 4 : left;
        kl_fill(kind, nt, nb, A, a_stride, n_tok, t0, &tb, act);
        const int8_t *aq[4];
        for (int t = 0; t < nt; t++) {
            int tc = t0 + t < n_tok ? t0 + t : n_tok - 1;
            /* Q4_K reads its copy; Q6_K the codes in place (tb.astep). */
            aq[t] = kl_k4(kind) ? act + (size_t)t * (size_t)nb * 256
                                    : (const int8_t *)((const llp_act_q8_256 *)
                                          ((const uint8_t *)A + (size_t)tc * a_stride))->qs;
        }
        for (int r0 = 0; r0 < n_rows; r0 += 16 / nt) {
            switch (nt) {
            case 4:
                kl_tile(kind, 4, nb, W, w_stride, n_rows, r0, aq, &tb, n_tok, t0, Y, y_stride);
                break;
            case 2:
                kl_tile(kind, 2, nb, W, w_stride, n_rows, r0, aq, &tb, n_tok, t0, Y, y_stride);
                break;
            default:
                kl_tile(kind, 1, nb, W, w_stride, n_rows, r0, aq, &tb, n_tok, t0, Y, y_stride);
                break;
            }
        }
        t0 += nt;
    }
    free(act);
}

void llp_gemm_q2_k_klanes512(int64_t n, const void *W, size_t w_stride, int n_rows,
                             const void *A, size_t a_stride, int n_tok, float *Y, int64_t y_stride)
{
    kl_gemm(KL_Q2_K, n, W, w_stride, n_rows, A, a_stride, n_tok, Y, y_stride);
}

void llp_gemm_q4_k_klanes512(int64_t n, const void *W, size_t w_stride, int n_rows,
                             const void *A, size_t a_stride, int n_tok, float *Y, int64_t y_stride)
{
    kl_gemm(KL_Q4_K, n, W, w_stride, n_rows, A, a_stride, n_tok, Y, y_stride);
}

void llp_gemm_q5_k_klanes512(int64_t n, const void *W, size_t w_stride, int n_rows,
                             const void *A, size_t a_stride, int n_tok, float *Y, int64_t y_stride)
{
    kl_gemm(KL_Q5_K, n, W, w_stride, n_rows, A, a_stride, n_tok, Y, y_stride);
}

void llp_gemm_q6_k_klanes512(int64_t n, const void *W, size_t w_stride, int n_rows,
                             const void *A, size_t a_stride, int n_tok, float *Y, int64_t y_stride)
{
    kl_gemm(KL_Q6_K, n, W, w_stride, n_rows, A, a_stride, n_tok, Y, y_stride);
}
