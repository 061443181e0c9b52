/*
 * kpacked_avx512.c — the avx512 set's products on K-quant weights packed at
 * load (Q2_K ... Q6_K; layouts in kernels.h, packing in pack.c): one
 * row per 32-bit lane, 16 rows per vector, so no transposition and no
 * horizontal sums, for generation and prompt batches alike.
 *
 * Not for: unpacked K-quant weights (klanes_avx512.c, x86_kquants.inc),
 * the legacy types (packed_avx512.c) or splitting work across threads
 * (matmul.c). The Makefile compiles this file with the AVX-512 flags and
 * kernels/dispatch.c only calls it when the CPU has them.
 *
 * Per packed super-block (16 rows x 256 values) and group of up to
 * KP_TOKENS tokens:
 *   - codes: each stored vector gives one or two vectors of unsigned codes
 *     (lane r: 4 codes of row r) with a few and/shift/ternlog operations,
 *     shared by every token of the group;
 *   - per token and sub-block: vpdpbusd of those code vectors with the
 *     token's matching 4 activation codes broadcast, into a zeroed int32
 *     accumulator (lane r: the sub-block's exact dot for row r), then
 *     isum += dot * sc with vpmulld, sc the lane's sub-block scale;
 *   - per token: msum = sum_sub mn * bsum with vpdpwssd, the rows' mins (or
 *     Q3_K's and Q6_K's scales) as word pairs against the token's block
 *     sums as word pairs broadcast;
 *   - the float step of the scalar set's gemm_k, per lane and in its order,
 *     acc += da * (d * (float)isum - dm * (float)msum),
 *     so results equal the scalar set's bit for bit (tests/kernels_vs_ref.c).
 * A group of rows streams from memory as one sequential run. For one or two
 * tokens every cache line of a super-block is requested at its start,
 * before the code that reads them (faster than prefetching 256 bytes to a
 * super-block further ahead, and than no software prefetch); generation
 * reads KP_STREAMS groups side by side.
 */
#define LLP_ISA avx512
#include "kernels/x86_common.h"

enum kp_kind { KP_Q2_K, KP_Q3_K, KP_Q4_K, KP_Q5_K, KP_Q6_K };

/* Rows per group (one per 32-bit lane) and tokens per pass over a group. */
#define KP_ROWS 16
#define KP_TOKENS 8

/* Offsets in a packed super-block (kernels.h). */
#define KP_DMIN   (2 * KP_ROWS)
#define KP4_SC    (4 * KP_ROWS)
#define KP5_QH    (KP4_SC + 3 * 64)
#define KP6_SC    (2 * KP_ROWS)
#define KP6_CODES (KP6_SC + 4 * 64)
#define KP2_SC    (4 * KP_ROWS)
#define KP2_QS    (KP2_SC + 4 * 64)
#define KP3_SC    (2 * KP_ROWS)
#define KP3_HMASK (KP3_SC + 3 * 64)
#define KP3_QS    (KP3_HMASK + 8 * 64)

INLINE size_t kp_bytes(enum kp_kind kind)
{
    switch (kind) {
    case KP_Q2_K: return sizeof(block_q2_k);
    case KP_Q3_K: return sizeof(block_q3_k);
    case KP_Q4_K: return sizeof(block_q4_k);
    case KP_Q5_K: return sizeof(block_q5_k);
    default:      return sizeof(block_q6_k);
    }
}

/* Four activation codes q[0..3] in every lane. */
INLINE __m512i kp_a4(const int8_t *q)
{
    int32_t v;
    memcpy(&v, q, 4);
    return _mm512_set1_epi32(v);
}

INLINE __m512i kp_load(const uint8_t *p)
{
    return _mm512_loadu_si512((const void *)p);
}

/* A ? B : C per bit. */
INLINE __m512i kp_select(__m512i a, __m512i b, __m512i c)
{
    return _mm512_ternarylogic_epi32(a, b, c, 0xca);
}

/* vpshufb index moving bytes b[0..3] (-1: zero) of each dword to its bytes
 * 0..3. Straight-line so that, inlined with constant arguments, it folds to
 * a constant: built with a loop it was recomputed on every call, a dozen
 * times per super-block (the Q4_K product for one token, 1 thread, weights
 * in L2: 30 -> 47 GB/s). */
#define KP_IDX_BYTE(b, q) ((uint32_t)((b) < 0 ? 0x80 : 4 * (q) + (b)))
#define KP_IDX_DWORD(b0, b1, b2, b3, q)                                       \
    (int32_t)(KP_IDX_BYTE(b0, q) | KP_IDX_BYTE(b1, q) << 8 |                  \
              KP_IDX_BYTE(b2, q) << 16 | KP_IDX_BYTE(b3, q) << 24)
INLINE __m512i kp_byte_index(int b0, int b1, int b2, int b3)
{
    return _mm512_broadcast_i32x4(_mm_setr_epi32(KP_IDX_DWORD(b0, b1, b2, b3, 0),
                                                 KP_IDX_DWORD(b0, b1, b2, b3, 1),
                                                 KP_IDX_DWORD(b0, b1, b2, b3, 2),
                                                 KP_IDX_DWORD(b0, b1, b2, b3, 3)));
}

/* Byte i of each dword, sign-extended. */
INLINE __m512i kp_sbyte(__m512i v, int i)
{
    return _mm512_srai_epi32(_mm512_slli_epi32(v, 24 - 8 * i), 24);
}

/* Signed byte scales sc[0..3] of each dword as the word pairs (sc[0],
 * sc[2]) and (sc[1], sc[3]), sign-extended. */
INLINE void kp_sc_pairs(__m512i v, __m512i *even, __m512i *odd)
{
    *even = _mm512_srai_epi16(_mm512_slli_epi16(v, 8), 8);
    *odd = _mm512_srai_epi16(v, 8);
}

/* For the types with 16 sub-blocks of 16: sum_j mn[j] * bsums[j] of one
 * token, given the rows' mn as word pairs pairs[2k] = (mn[4k], mn[4k+2])
 * and pairs[2k+1] = (mn[4k+1], mn[4k+3]) (the token's sums are shuffled
 * into the same pairs). */
INLINE __m512i kp_msum16(const __m512i pairs[8], const llp_act_q8_256 *a)
{
    __m256i s16 = _mm256_loadu_si256((const __m256i *)a->bsums);
    s16 = _mm256_shufflehi_epi16(_mm256_shufflelo_epi16(s16, 0xd8), 0xd8);
    int32_t bs[8];
    _mm256_storeu_si256((__m256i *)bs, s16);
    __m512i m = _mm512_setzero_si512();
#pragma GCC unroll 8
    for (int k = 0; k < 8; k++)
        m = _mm512_dpwssd_epi32(m, pairs[k], _mm512_set1_epi32(bs[k]));
    return m;
}

/* The float step of gemm_k for nt tokens. */
INLINE void kp_finish(int nt, __m512 d, __m512 dm, const __m512i *isum, const __m512i *msum,
                      const llp_act_q8_256 *const *act, int64_t b, __m512 *acc)
{
#pragma GCC unroll 8
    for (int t = 0; t < nt; t++) {
        __m512 f = _mm512_sub_ps(_mm512_mul_ps(d, _mm512_cvtepi32_ps(isum[t])),
                                 _mm512_mul_ps(dm, _mm512_cvtepi32_ps(msum[t])));
        acc[t] = _mm512_add_ps(acc[t], _mm512_mul_ps(_mm512_set1_ps(act[t][b].d), f));
    }
}

/* fp16 values of 16 rows at p as floats. */
INLINE __m512 kp_half(const uint8_t *p)
{
    return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p));
}

/* Q4_K / Q5_K: one super-block of nt tokens; acc[t] lane r += row r's
 * contribution. p: the packed super-block, b: its index in the row. */
INLINE void kp_k4_block(enum kp_kind kind, int nt, const uint8_t *p, int64_t b,
                        const llp_act_q8_256 *const *act, __m512 *acc)
{
    const __m512i m4 = _mm512_set1_epi8(15), m6 = _mm512_set1_epi8(63);
    const uint8_t *qs = p + (kind == KP_Q5_K ? KP5_QH + 8 * 64 : KP5_QH);

    /* The 6-bit scales and mins of scales[12] (llp_k4_scales), per lane:
     * byte j of sc_lo / mn_lo = sc[j] / mn[j], of sc_hi / mn_hi = sc[4+j] /
     * mn[4+j]. */
    __m512i s0 = kp_load(p + KP4_SC), s1 = kp_load(p + KP4_SC + 64);
    __m512i s2 = kp_load(p + KP4_SC + 128);
    __m512i sc_lo = _mm512_and_si512(s0, m6), mn_lo = _mm512_and_si512(s1, m6);
    __m512i sc_hi = _mm512_and_si512(kp_select(m4, s2, _mm512_srli_epi32(s0, 2)), m6);
    __m512i mn_hi = _mm512_and_si512(
        kp_select(m4, _mm512_srli_epi32(s2, 4), _mm512_srli_epi32(s1, 2)), m6);

    /* msum: mins as word pairs (mn[2k], mn[2k+1]) against the token's
     * 32-value block sums as word pairs (bs[2k], bs[2k+1]). */
    const __m512i pair01 = kp_byte_index(0, -1, 1, -1), pair23 = kp_byte_index(2, -1, 3, -1);
    __m512i mn_pair[4] = {
        _mm512_shuffle_epi8(mn_lo, pair01), _mm512_shuffle_epi8(mn_lo, pair23),
        _mm512_shuffle_epi8(mn_hi, pair01), _mm512_shuffle_epi8(mn_hi, pair23),
    };
    __m512i msum[KP_TOKENS], isum[KP_TOKENS];
#pragma GCC unroll 8
    for (int t = 0; t < nt; t++) {
        __m256i s16 = _mm256_loadu_si256((const __m256i *)act[t][b].bsums);
        __m256i s32 = _mm256_madd_epi16(s16, _mm256_set1_epi16(1));
        int32_t bs[4];
        _mm_storeu_si128((__m128i *)bs, _mm256_cvtepi32_epi16(s32));
        __m512i m = _mm512_setzero_si512();
#pragma GCC unroll 4
        for (int k = 0; k < 4; k++)
            m = _mm512_dpwssd_epi32(m, mn_pair[k], _mm512_set1_epi32(bs[k]));
        msum[t] = m;
        isum[t] = _mm512_setzero_si512();
    }

    /* Sub-blocks 2q and 2q+1 (low and high nibbles of the same bytes).
     * Q4_K multiplies the high nibbles in place (16 times the codes, no
     * shift per vector) and so accumulates 16 * isum, with the low
     * sub-block's scale times 16; one exact shift per token undoes it. */
    const int k4_times16 = kind == KP_Q4_K;
#pragma GCC unroll 4
    for (int q = 0; q < 4; q++) {
        __m512i dlo[KP_TOKENS], dhi[KP_TOKENS];
#pragma GCC unroll 8
        for (int t = 0; t < nt; t++) dlo[t] = dhi[t] = _mm512_setzero_si512();
#pragma GCC unroll 8
        for (int g = 0; g < 8; g++) {
            __m512i v = kp_load(qs + 64 * (8 * q + g));
            __m512i lo = _mm512_and_si512(v, m4);
            __m512i hi = k4_times16 ? _mm512_andnot_si512(m4, v)
                                    : _mm512_and_si512(_mm512_srli_epi16(v, 4), m4);
            if (kind == KP_Q5_K) {
                /* Fifth bits: bit 2q (2q+1) of each qh byte to bit 4. */
                const __m512i b4 = _mm512_set1_epi8(16);
                __m512i h = kp_load(p + KP5_QH + 64 * g);
                __m512i hl = 2 * q <= 4 ? _mm512_slli_epi16(h, 4 - 2 * q)
                                        : _mm512_srli_epi16(h, 2 * q - 4);
                __m512i hh = 2 * q + 1 <= 4 ? _mm512_slli_epi16(h, 3 - 2 * q)
                                            : _mm512_srli_epi16(h, 2 * q - 3);
                lo = _mm512_ternarylogic_epi32(lo, hl, b4, 0xf8);   /* lo | (hl & 16) */
                hi = _mm512_ternarylogic_epi32(hi, hh, b4, 0xf8);
            }
#pragma GCC unroll 8
            for (int t = 0; t < nt; t++) {
                const int8_t *a = act[t][b].qs + 64 * q + 4 * g;
                dlo[t] = _mm512_dpbusd_epi32(dlo[t], lo, kp_a4(a));
                dhi[t] = _mm512_dpbusd_epi32(dhi[t], hi, kp_a4(a + 32));
            }
        }
        __m512i sc4 = q < 2 ? sc_lo : sc_hi;
        __m512i sc_a = _mm512_shuffle_epi8(sc4, kp_byte_index((2 * q) % 4, -1, -1, -1));
        __m512i sc_b = _mm512_shuffle_epi8(sc4, kp_byte_index((2 * q + 1) % 4, -1, -1, -1));
        if (k4_times16) sc_a = _mm512_slli_epi32(sc_a, 4);
#pragma GCC unroll 8
        for (int t = 0; t < nt; t++)
            isum[t] = _mm512_add_epi32(isum[t],
                                       _mm512_add_epi32(_mm512_mullo_epi32(dlo[t], sc_a),
                                                        _mm512_mullo_epi32(dhi[t], sc_b)));
    }
    if (k4_times16)
#pragma GCC unroll 8
        for (int t = 0; t < nt; t++) isum[t] = _mm512_srai_epi32(isum[t], 4);

    kp_finish(nt, kp_half(p), kp_half(p + KP_DMIN), isum, msum, act, b, acc);
}

/* Q6_K: one super-block of nt tokens, as kp_k4_block. */
INLINE void kp_q6_k_block(int nt, const uint8_t *p, int64_t b,
                          const llp_act_q8_256 *const *act, __m512 *acc)
{
    const __m512i m2 = _mm512_set1_epi8(3), m4 = _mm512_set1_epi8(15);
    const __m512i m6 = _mm512_set1_epi8(63);
    __m512i sc[4];
#pragma GCC unroll 4
    for (int k = 0; k < 4; k++) sc[k] = kp_load(p + KP6_SC + 64 * k);

    /* msum = 32 * sum_j sc[j] * bsums[j]: scales as word pairs (sc[4k],
     * sc[4k+2]) and (sc[4k+1], sc[4k+3]), sign-extended, against the
     * token's block sums in the same pairs. */
    __m512i sc_pair[8];
#pragma GCC unroll 4
    for (int k = 0; k < 4; k++) kp_sc_pairs(sc[k], &sc_pair[2 * k], &sc_pair[2 * k + 1]);
    __m512i msum[KP_TOKENS], isum[KP_TOKENS];
#pragma GCC unroll 8
    for (int t = 0; t < nt; t++) {
        msum[t] = _mm512_slli_epi32(kp_msum16(sc_pair, act[t] + b), 5);
        isum[t] = _mm512_setzero_si512();
    }

#pragma GCC unroll 16
    for (int j = 0; j < 16; j++) {
        /* Codes 16j + 4i .. of every row: three stored dwords, and the
         * fourth assembled from their top two bits (kernels.h). */
        const uint8_t *c = p + KP6_CODES + 192 * j;
        __m512i v0 = kp_load(c), v1 = kp_load(c + 64), v2 = kp_load(c + 128);
        __m512i u[4];
        u[0] = _mm512_and_si512(v0, m6);
        u[1] = _mm512_and_si512(v1, m6);
        u[2] = _mm512_and_si512(v2, m6);
        __m512i x = kp_select(m2, _mm512_srli_epi16(v0, 6), _mm512_srli_epi16(v1, 4));
        u[3] = _mm512_and_si512(kp_select(m4, x, _mm512_srli_epi16(v2, 2)), m6);
        __m512i s = kp_sbyte(sc[j / 4], j % 4);
#pragma GCC unroll 8
        for (int t = 0; t < nt; t++) {
            const int8_t *a = act[t][b].qs + 16 * j;
            __m512i dot = _mm512_dpbusd_epi32(_mm512_setzero_si512(), u[0], kp_a4(a));
            dot = _mm512_dpbusd_epi32(dot, u[1], kp_a4(a + 4));
            dot = _mm512_dpbusd_epi32(dot, u[2], kp_a4(a + 8));
            dot = _mm512_dpbusd_epi32(dot, u[3], kp_a4(a + 12));
            isum[t] = _mm512_add_epi32(isum[t], _mm512_mullo_epi32(dot, s));
        }
    }

    __m512 d = kp_half(p);
    kp_finish(nt, d, d, isum, msum, act, b, acc);
}

/* Q2_K / Q3_K: one super-block of nt tokens, as kp_k4_block. */
INLINE void kp_k2_block(enum kp_kind kind, int nt, const uint8_t *p, int64_t b,
                        const llp_act_q8_256 *const *act, __m512 *acc)
{
    const __m512i m2 = _mm512_set1_epi8(3), m4 = _mm512_set1_epi8(15);
    /* sc[k]: scales 4k .. 4k+3 as bytes (Q3_K: signed), and the mins (Q3_K:
     * the scales) as word pairs for kp_msum16. */
    __m512i sc[4], pairs[8];
    if (kind == KP_Q2_K) {
#pragma GCC unroll 4
        for (int k = 0; k < 4; k++) {
            __m512i v = kp_load(p + KP2_SC + 64 * k);
            sc[k] = _mm512_and_si512(v, m4);
            pairs[2 * k] = _mm512_and_si512(_mm512_srli_epi16(v, 4),
                                            _mm512_set1_epi32(0x000f000f));
            pairs[2 * k + 1] = _mm512_srli_epi16(v, 12);
        }
    } else {
        /* llp_q3_k_scales in lanes: low nibbles from scales[0..7], top two
         * bits from scales[8..11], minus 32. */
        const __m512i m6 = _mm512_set1_epi8(63), bias = _mm512_set1_epi8(32);
        __m512i s0 = kp_load(p + KP3_SC), s1 = kp_load(p + KP3_SC + 64);
        __m512i s2 = kp_load(p + KP3_SC + 128);
        sc[0] = kp_select(m4, s0, _mm512_slli_epi16(s2, 4));
        sc[1] = kp_select(m4, s1, _mm512_slli_epi16(s2, 2));
        sc[2] = kp_select(m4, _mm512_srli_epi16(s0, 4), s2);
        sc[3] = kp_select(m4, _mm512_srli_epi16(s1, 4), _mm512_srli_epi16(s2, 2));
#pragma GCC unroll 4
        for (int k = 0; k < 4; k++) {
            sc[k] = _mm512_sub_epi8(_mm512_and_si512(sc[k], m6), bias);
            kp_sc_pairs(sc[k], &pairs[2 * k], &pairs[2 * k + 1]);
        }
    }
    __m512i msum[KP_TOKENS], isum[KP_TOKENS];
#pragma GCC unroll 8
    for (int t = 0; t < nt; t++) {
        msum[t] = kp_msum16(pairs, act[t] + b);
        if (kind == KP_Q3_K) msum[t] = _mm512_slli_epi32(msum[t], 2);   /* mn = 4 sc */
        isum[t] = _mm512_setzero_si512();
    }

    const uint8_t *qs = p + (kind == KP_Q2_K ? KP2_QS : KP3_QS);
    /* Bit pair k of qs dword (h, g): codes 128h + 32k + 4g ..; g < 4 in
     * sub-block 8h + 2k, g >= 4 in 8h + 2k + 1. */
#pragma GCC unroll 2
    for (int h = 0; h < 2; h++) {
#pragma GCC unroll 4
        for (int k = 0; k < 4; k++) {
            __m512i dot[2][KP_TOKENS];
#pragma GCC unroll 8
            for (int t = 0; t < nt; t++) dot[0][t] = dot[1][t] = _mm512_setzero_si512();
#pragma GCC unroll 8
            for (int g = 0; g < 8; g++) {
                __m512i v = kp_load(qs + 64 * (8 * h + g));
                __m512i u = _mm512_and_si512(k ? _mm512_srli_epi16(v, 2 * k) : v, m2);
                if (kind == KP_Q3_K) {
                    /* Third bit: bit 4h + k of each hmask byte to bit 2. */
                    const int bit = 4 * h + k;
                    __m512i hm = kp_load(p + KP3_HMASK + 64 * g);
                    hm = bit > 2 ? _mm512_srli_epi16(hm, bit - 2)
                       : bit < 2 ? _mm512_slli_epi16(hm, 2 - bit) : hm;
                    u = _mm512_ternarylogic_epi32(u, hm, _mm512_set1_epi8(4), 0xf8);
                }
#pragma GCC unroll 8
                for (int t = 0; t < nt; t++)
                    dot[g / 4][t] = _mm512_dpbusd_epi32(
                        dot[g / 4][t], u, kp_a4(act[t][b].qs + 128 * h + 32 * k + 4 * g));
            }
            const int j = 8 * h + 2 * k;
            __m512i sa, sb;
            if (kind == KP_Q2_K) {
                sa = _mm512_shuffle_epi8(sc[j / 4], kp_byte_index(j % 4, -1, -1, -1));
                sb = _mm512_shuffle_epi8(sc[j / 4], kp_byte_index(j % 4 + 1, -1, -1, -1));
            } else {
                sa = kp_sbyte(sc[j / 4], j % 4);
                sb = kp_sbyte(sc[j / 4], j % 4 + 1);
            }
#pragma GCC unroll 8
            for (int t = 0; t < nt; t++)
                isum[t] = _mm512_add_epi32(isum[t],
                                           _mm512_add_epi32(_mm512_mullo_epi32(dot[0][t], sa),
                                                            _mm512_mullo_epi32(dot[1][t], sb)));
        }
    }

    __m512 d = kp_half(p);
    kp_finish(nt, d, kind == KP_Q2_K ? kp_half(p + KP_DMIN) : d, isum, msum, act, b, acc);
}

/* nt tokens times one packed group of 16 rows: acc[t] lane r = dot(row r,
 * token t). Three or more tokens request the next super-block's lines
 * while multiplying this one (several sequences decoded together: the
 * products are slower per byte, so the request runs ahead). */
INLINE void kp_tokens(enum kp_kind kind, int nt, int64_t nb, const uint8_t *group,
                      const llp_act_q8_256 *const *act, __m512 *acc)
{
    const size_t blk = KP_ROWS * kp_bytes(kind);
#pragma GCC unroll 8
    for (int t = 0; t < nt; t++) acc[t] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *p = group + (size_t)b * blk;
        if (nt <= 2)
            for (size_t off = 0; off < blk; off += 64)
                _mm_prefetch((const char *)p + off, _MM_HINT_T0);
        else
            for (size_t off = 0; off < blk; off += 64)
                _mm_prefetch((const char *)p + blk + off, _MM_HINT_T0);
        if (kind == KP_Q6_K)
            kp_q6_k_block(nt, p, b, act, acc);
        else if (kind == KP_Q2_K || kind == KP_Q3_K)
            kp_k2_block(kind, nt, p, b, act, acc);
        else
            kp_k4_block(kind, nt, p, b, act, acc);
    }
}

/* Groups a generation pass reads side by side, and where each
 * super-block's lines are requested: all of every group's super-block b,
 * before any is multiplied. Measured on 1.1B shapes, 2 threads, tg32, once
 * the products ran at 40-47 GB/s per core from L2 (kp_byte_index folded):
 * Q4_K_M 2 streams 41.6-42.6 tok/s, 3 42.0-45.9, 4 44.1-45.3, 6 45.5-46.3,
 * 8 44.2-46.3; pure Q6_K best at 4-6. Requesting the next super-block's
 * lines instead of the current one's measured 38.4-39.9 (4 and 2 streams),
 * and earlier trials of 1-2 KB ahead, into L1 or L2, were slower too. */
#define KP_STREAMS 6
_Static_assert(KP_STREAMS >= 1 && KP_STREAMS <= 6, "kp_gemm dispatches 1 to 6 streams");

/* Generation: one token times ng (1..KP_STREAMS) groups read side by side,
 * super-block b of every group in turn; acc[g] lane r = dot(row r of
 * group g). */
INLINE void kp_streams(enum kp_kind kind, int ng, int64_t nb, const uint8_t *const *group,
                       const llp_act_q8_256 *const *act, __m512 *acc)
{
    const size_t blk = KP_ROWS * kp_bytes(kind);
#pragma GCC unroll 8
    for (int g = 0; g < ng; g++) acc[g] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
#pragma GCC unroll 8
        for (int g = 0; g < ng; g++)
            for (size_t off = 0; off < blk; off += 64)
                _mm_prefetch((const char *)group[g] + (size_t)b * blk + off, _MM_HINT_T0);
#pragma GCC unroll 8
        for (int g = 0; g < ng; g++) {
            const uint8_t *p = group[g] + (size_t)b * blk;
            if (kind == KP_Q6_K)
                kp_q6_k_block(1, p, b, act, &acc[g]);
            else if (kind == KP_Q2_K || kind == KP_Q3_K)
                kp_k2_block(kind, 1, p, b, act, &acc[g]);
            else
                kp_k4_block(kind, 1, p, b, act, &acc[g]);
        }
    }
}

INLINE void kp_gemm(enum kp_kind kind, int64_t n, const void *P, int n_rows,
                    const void *A, size_t a_stride, int n_tok, float *Y, int64_t y_stride)
{
    const int64_t nb = n / 256;
    const size_t group_bytes = (size_t)nb * KP_ROWS * kp_bytes(kind);
    if (n_tok == 1) {
        const llp_act_q8_256 *act[1] = { A };
        for (int r0 = 0; r0 < n_rows; r0 += KP_STREAMS * KP_ROWS) {
            int ng = (n_rows - r0 + KP_ROWS - 1) / KP_ROWS;
            if (ng > KP_STREAMS) ng = KP_STREAMS;
            const uint8_t *group[KP_STREAMS];
            for (int g = 0; g < ng; g++)
                group[g] = (const uint8_t *)P + (size_t)(r0 / KP_ROWS + g) * group_bytes;
            __m512 acc[KP_STREAMS];
            switch (ng) {
            case 6: kp_streams(kind, 6, nb, group, act, acc); break;
            case 5: kp_streams(kind, 5, nb, group, act, acc); break;
            case 4: kp_streams(kind, 4, nb, group, act, acc); break;
            case 3: kp_streams(kind, 3, nb, group, act, acc); break;
            case 2: kp_streams(kind, 2, nb, group, act, acc); break;
            default: kp_streams(kind, 1, nb, group, act, acc); break;
            }
            for (int g = 0; g < ng; g++)
                store_row_group(1, &acc[g], n_rows, r0 + g * KP_ROWS, 0, Y, y_stride);
        }
        return;
    }
    for (int r0 = 0; r0 < n_rows; r0 += KP_ROWS) {
        const uint8_t *group = (const uint8_t *)P + (size_t)(r0 / KP_ROWS) * group_bytes;
        for (int t0 = 0; t0 < n_tok; t0 += KP_TOKENS) {
            int nt = n_tok - t0 < KP_TOKENS ? n_tok - t0 : KP_TOKENS;
            const llp_act_q8_256 *act[KP_TOKENS];
            for (int t = 0; t < KP_TOKENS; t++)
                act[t] = (const llp_act_q8_256 *)((const char *)A +
                         (size_t)(t0 + (t < nt ? t : nt - 1)) * a_stride);
            __m512 acc[KP_TOKENS];
            switch (nt) {
            case 8: kp_tokens(kind, 8, nb, group, act, acc); break;
            case 7: kp_tokens(kind, 7, nb, group, act, acc); break;
            case 6: kp_tokens(kind, 6, nb, group, act, acc); break;
            case 5: kp_tokens(kind, 5, nb, group, act, acc); break;
            case 4: kp_tokens(kind, 4, nb, group, act, acc); break;
            case 3: kp_tokens(kind, 3, nb, group, act, acc); break;
            case 2: kp_tokens(kind, 2, nb, group, act, acc); break;
            default: kp_tokens(kind, 1, nb, group, act, acc); break;
            }
            store_row_group(nt, acc, n_rows, r0, t0, Y, y_stride);
        }
    }
}

#define KPACKED_ENTRY(name, kind)                                              \
    void llp_gemm_packed_##name##_avx512(int64_t n, const void *P, int n_rows, \
                                         const void *A, size_t a_stride,       \
                                         int n_tok, float *Y, int64_t y_stride) \
    {                                                                          \
        kp_gemm(kind, n, P, n_rows, A, a_stride, n_tok, Y, y_stride);          \
    }
KPACKED_ENTRY(q2_k, KP_Q2_K)
KPACKED_ENTRY(q3_k, KP_Q3_K)
KPACKED_ENTRY(q4_k, KP_Q4_K)
KPACKED_ENTRY(q5_k, KP_Q5_K)
KPACKED_ENTRY(q6_k, KP_Q6_K)
