/*
 * kpacked_avx2.c — the avx2 set's products on K-quant weights packed at
 * load, for Q4_K, Q5_K and Q6_K (the types of Q4_K_M / Q5_K_M files;
 * layouts in kernels.h, packing in pack.c). One row per 32-bit lane, so
 * no transposition and no horizontal sums; a 64-byte line of a packed
 * super-block is two 256-bit halves (rows 0-7, rows 8-15), each
 * multiplied on its own.
 *
 * Not for: Q2_K and Q3_K (the avx2 set multiplies those unpacked,
 * x86_kquants.inc), the legacy types (packed_avx2.c), the AVX-512 products
 * (kpacked_avx512.c: the same arithmetic with vpdpbusd) or splitting work
 * (matmul.c). The Makefile compiles this file with the AVX2 flags and
 * kernels/dispatch.c only calls it when the CPU has them.
 *
 * Per half super-block (8 rows x 256 values) and group of up to KP_TOKENS
 * tokens:
 *   - codes: each stored half line gives a vector of unsigned codes (lane
 *     r: 4 codes of row r), shared by every token;
 *   - per token and sub-block: vpmaddubsw of those codes with the token's
 *     4 matching activation codes broadcast; the 16-bit pair sums of a
 *     few lines are added (exact: at most 8 lines of 2 x 15 x 127 for
 *     Q4_K, 4 of 2 x 31 x 127 for Q5_K, 2 of 2 x 63 x 127 for Q6_K), then
 *     one vpmaddwd against the sub-block's scale in both words of the lane
 *     multiplies and widens them: isum += dot * sc, exactly;
 *   - per token: msum = sum_sub mn * bsum with vpmaddwd over word pairs;
 *   - the float step of the scalar set's gemm_k, per lane and in its order,
 *     acc += da * (d * (float)isum - dm * (float)msum),
 *     so results equal the scalar and avx512 sets' bit for bit
 *     (tests/kernels_vs_ref.c).
 * Generation reads KP_STREAMS groups side by side, every line of each
 * group's super-block requested before it is multiplied.
 */
#define LLP_ISA avx2
#include "kernels/x86_common.h"

enum kp_kind { KP_Q4_K, KP_Q5_K, KP_Q6_K };

#define KP_ROWS 16
#define KP_TOKENS 4
#define KP_STREAMS 4

/* Offsets in a packed super-block (kernels.h). */
#define KP_DMIN   (2 * KP_ROWS)
#define KP4_SC    (4 * KP_ROWS)
#define KP5_QH    (KP4_SC + 3 * 64)
#define KP6_SC    (2 * KP_ROWS)
#define KP6_CODES (KP6_SC + 4 * 64)

INLINE size_t kp_bytes(enum kp_kind kind)
{
    switch (kind) {
    case KP_Q4_K: return sizeof(block_q4_k);
    case KP_Q5_K: return sizeof(block_q5_k);
    default:      return sizeof(block_q6_k);
    }
}

INLINE __m256i kp_a4(const int8_t *q)
{
    int32_t v;
    memcpy(&v, q, 4);
    return _mm256_set1_epi32(v);
}

/* Half h (rows 8h .. 8h+7) of the 64-byte line at p. */
INLINE __m256i kp_load(const uint8_t *p, int h)
{
    return _mm256_loadu_si256((const __m256i *)(p + 32 * h));
}

/* A ? B : C per bit. */
INLINE __m256i kp_select(__m256i a, __m256i b, __m256i c)
{
    return _mm256_or_si256(_mm256_and_si256(a, b), _mm256_andnot_si256(a, c));
}

/* vpshufb index moving bytes b[0..3] (-1: zero) of each dword to its bytes
 * 0..3 (straight-line, so it folds to a constant when inlined). */
#define KP_IDX_BYTE(b, q) ((uint32_t)((b) < 0 ? 0x80 : 4 * (q) + (b)))
#define KP_IDX_DWORD(b0, b1, b2, b3, q)                                       \
    (int32_t)(KP_IDX_BYTE(b0, q) | KP_IDX_BYTE(b1, q) << 8 |                  \
              KP_IDX_BYTE(b2, q) << 16 | KP_IDX_BYTE(b3, q) << 24)
INLINE __m256i kp_byte_index(int b0, int b1, int b2, int b3)
{
    __m128i x = _mm_setr_epi32(KP_IDX_DWORD(b0, b1, b2, b3, 0), KP_IDX_DWORD(b0, b1, b2, b3, 1),
                               KP_IDX_DWORD(b0, b1, b2, b3, 2), KP_IDX_DWORD(b0, b1, b2, b3, 3));
    return _mm256_broadcastsi128_si256(x);
}

/* Byte i of each dword, sign-extended. */
INLINE __m256i kp_sbyte(__m256i v, int i)
{
    return _mm256_srai_epi32(_mm256_slli_epi32(v, 24 - 8 * i), 24);
}

/* u * a per byte, u unsigned, summed in 16-bit pairs (vpmaddubsw), with
 * the token's 4 activation codes at a in every lane. */
INLINE __m256i kp_pairs(__m256i u, const int8_t *a) { return _mm256_maddubs_epi16(u, kp_a4(a)); }

/* The float step of gemm_k for nt tokens. */
INLINE void kp_finish(int nt, __m256 d, __m256 dm, const __m256i *isum, const __m256i *msum,
                      const llp_act_q8_256 *const *act, int64_t b, __m256 *acc)
{
    for (int t = 0; t < nt; t++) {
        __m256 f = _mm256_sub_ps(_mm256_mul_ps(d, _mm256_cvtepi32_ps(isum[t])),
                                 _mm256_mul_ps(dm, _mm256_cvtepi32_ps(msum[t])));
        acc[t] = _mm256_add_ps(acc[t], _mm256_mul_ps(_mm256_set1_ps(act[t][b].d), f));
    }
}

/* fp16 values of rows 8h .. 8h+7 at p as floats. */
INLINE __m256 kp_half(const uint8_t *p, int h)
{
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p + 16 * h)));
}

/* Q4_K / Q5_K: half h of one super-block times nt tokens; acc[t] lane r +=
 * row 8h + r's contribution. */
INLINE void kp_k4_half(enum kp_kind kind, int nt, const uint8_t *p, int h, int64_t b,
                       const llp_act_q8_256 *const *act, __m256 *acc)
{
    const __m256i m4 = _mm256_set1_epi8(15), m6 = _mm256_set1_epi8(63);
    const uint8_t *qs = p + (kind == KP_Q5_K ? KP5_QH + 8 * 64 : KP5_QH);

    /* The 6-bit scales and mins (llp_k4_scales), per lane: byte j of
     * sc_lo / mn_lo = sc[j] / mn[j], of sc_hi / mn_hi = sc[4+j] / mn[4+j]. */
    __m256i s0 = kp_load(p + KP4_SC, h), s1 = kp_load(p + KP4_SC + 64, h);
    __m256i s2 = kp_load(p + KP4_SC + 128, h);
    __m256i sc_lo = _mm256_and_si256(s0, m6), mn_lo = _mm256_and_si256(s1, m6);
    __m256i sc_hi = _mm256_and_si256(kp_select(m4, s2, _mm256_srli_epi32(s0, 2)), m6);
    __m256i mn_hi = _mm256_and_si256(
        kp_select(m4, _mm256_srli_epi32(s2, 4), _mm256_srli_epi32(s1, 2)), m6);

    /* Sub-blocks 2q and 2q+1: low and high nibbles of the same bytes. The
     * 16-bit pair sums of up to `span` lines (at most 8 x 2 x 15 x 127
     * for Q4_K, 4 x 2 x 31 x 127 for Q5_K's five-bit codes) are multiplied
     * by the sub-block's scale and widened in one vpmaddwd. */
    const int span = kind == KP_Q5_K ? 4 : 8;
    __m256i isum[KP_TOKENS];
    for (int t = 0; t < nt; t++) isum[t] = _mm256_setzero_si256();
#pragma GCC unroll 4
    for (int q = 0; q < 4; q++) {
        __m256i sc4 = q < 2 ? sc_lo : sc_hi;
        const int ja = (2 * q) % 4, jb = (2 * q + 1) % 4;
        __m256i sc_a = _mm256_shuffle_epi8(sc4, kp_byte_index(ja, -1, ja, -1));
        __m256i sc_b = _mm256_shuffle_epi8(sc4, kp_byte_index(jb, -1, jb, -1));
        __m256i plo[KP_TOKENS], phi[KP_TOKENS];
#pragma GCC unroll 8
        for (int g = 0; g < 8; g++) {
            if (g % span == 0)
                for (int t = 0; t < nt; t++) plo[t] = phi[t] = _mm256_setzero_si256();
            __m256i v = kp_load(qs + 64 * (8 * q + g), h);
            __m256i lo = _mm256_and_si256(v, m4);
            __m256i hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
            if (kind == KP_Q5_K) {
                /* Fifth bits: bit 2q (2q+1) of each qh byte to bit 4. */
                const __m256i b4 = _mm256_set1_epi8(16);
                __m256i qh = kp_load(p + KP5_QH + 64 * g, h);
                __m256i hl = 2 * q <= 4 ? _mm256_slli_epi16(qh, 4 - 2 * q)
                                        : _mm256_srli_epi16(qh, 2 * q - 4);
                __m256i hh = 2 * q + 1 <= 4 ? _mm256_slli_epi16(qh, 3 - 2 * q)
                                            : _mm256_srli_epi16(qh, 2 * q - 3);
                lo = _mm256_or_si256(lo, _mm256_and_si256(hl, b4));
                hi = _mm256_or_si256(hi, _mm256_and_si256(hh, b4));
            }
            for (int t = 0; t < nt; t++) {
                const int8_t *a = act[t][b].qs + 64 * q + 4 * g;
                plo[t] = _mm256_add_epi16(plo[t], kp_pairs(lo, a));
                phi[t] = _mm256_add_epi16(phi[t], kp_pairs(hi, a + 32));
            }
            if (g % span == span - 1)
                for (int t = 0; t < nt; t++)
                    isum[t] = _mm256_add_epi32(isum[t],
                                               _mm256_add_epi32(_mm256_madd_epi16(plo[t], sc_a),
                                                                _mm256_madd_epi16(phi[t], sc_b)));
        }
    }

    /* msum: the mins as word pairs (mn[2k], mn[2k+1]) against the token's
     * 32-value block sums as word pairs. */
    const __m256i pair01 = kp_byte_index(0, -1, 1, -1), pair23 = kp_byte_index(2, -1, 3, -1);
    __m256i mn_pair[4] = {
        _mm256_shuffle_epi8(mn_lo, pair01), _mm256_shuffle_epi8(mn_lo, pair23),
        _mm256_shuffle_epi8(mn_hi, pair01), _mm256_shuffle_epi8(mn_hi, pair23),
    };
    __m256i msum[KP_TOKENS];
    for (int t = 0; t < nt; t++) {
        const int16_t *bs = act[t][b].bsums;
        __m256i m = _mm256_setzero_si256();
        for (int k = 0; k < 4; k++) {
            int32_t s_even = bs[4 * k] + bs[4 * k + 1], s_odd = bs[4 * k + 2] + bs[4 * k + 3];
            int32_t w = (int32_t)((uint32_t)(uint16_t)s_even | (uint32_t)(uint16_t)s_odd << 16);
            m = _mm256_add_epi32(m, _mm256_madd_epi16(mn_pair[k], _mm256_set1_epi32(w)));
        }
        msum[t] = m;
    }
    kp_finish(nt, kp_half(p, h), kp_half(p + KP_DMIN, h), isum, msum, act, b, acc);
}

/* Q6_K: half h of one super-block times nt tokens, as kp_k4_half. */
INLINE void kp_q6_k_half(int nt, const uint8_t *p, int h, int64_t b,
                         const llp_act_q8_256 *const *act, __m256 *acc)
{
    const __m256i m2 = _mm256_set1_epi8(3), m4 = _mm256_set1_epi8(15);
    const __m256i m6 = _mm256_set1_epi8(63);
    __m256i sc[4];
    for (int k = 0; k < 4; k++) sc[k] = kp_load(p + KP6_SC + 64 * k, h);

    /* msum = 32 * sum_j sc[j] * bsums[j]: the scales as word pairs (sc[4k],
     * sc[4k+2]) and (sc[4k+1], sc[4k+3]), sign-extended, against the
     * token's block sums in the same pairs. */
    __m256i sc_pair[8];
    for (int k = 0; k < 4; k++) {
        sc_pair[2 * k] = _mm256_srai_epi16(_mm256_slli_epi16(sc[k], 8), 8);
        sc_pair[2 * k + 1] = _mm256_srai_epi16(sc[k], 8);
    }
    __m256i msum[KP_TOKENS], isum[KP_TOKENS];
    for (int t = 0; t < nt; t++) {
        const int16_t *bs = act[t][b].bsums;
        __m256i m = _mm256_setzero_si256();
        for (int k = 0; k < 4; k++) {
            int32_t even = (int32_t)((uint32_t)(uint16_t)bs[4 * k] |
                                     (uint32_t)(uint16_t)bs[4 * k + 2] << 16);
            int32_t odd = (int32_t)((uint32_t)(uint16_t)bs[4 * k + 1] |
                                    (uint32_t)(uint16_t)bs[4 * k + 3] << 16);
            m = _mm256_add_epi32(m, _mm256_madd_epi16(sc_pair[2 * k], _mm256_set1_epi32(even)));
            m = _mm256_add_epi32(m, _mm256_madd_epi16(sc_pair[2 * k + 1], _mm256_set1_epi32(odd)));
        }
        msum[t] = _mm256_slli_epi32(m, 5);
        isum[t] = _mm256_setzero_si256();
    }

#pragma GCC unroll 16
    for (int j = 0; j < 16; j++) {
        /* Codes 16j + 4i .. of every row: three stored dwords, and the
         * fourth assembled from their top two bits (kernels.h). */
        const uint8_t *c = p + KP6_CODES + 192 * j;
        __m256i v0 = kp_load(c, h), v1 = kp_load(c + 64, h), v2 = kp_load(c + 128, h);
        __m256i u0 = _mm256_and_si256(v0, m6), u1 = _mm256_and_si256(v1, m6);
        __m256i u2 = _mm256_and_si256(v2, m6);
        __m256i x = kp_select(m2, _mm256_srli_epi16(v0, 6), _mm256_srli_epi16(v1, 4));
        __m256i u3 = _mm256_and_si256(kp_select(m4, x, _mm256_srli_epi16(v2, 2)), m6);
        /* the sub-block's signed scale in both words of each lane: the
         * pair sums are multiplied and widened in one vpmaddwd */
        __m256i s = kp_sbyte(sc[j / 4], j % 4);
        s = _mm256_or_si256(_mm256_and_si256(s, _mm256_set1_epi32(0xffff)),
                            _mm256_slli_epi32(s, 16));
        for (int t = 0; t < nt; t++) {
            const int8_t *a = act[t][b].qs + 16 * j;
            __m256i d01 = _mm256_add_epi16(kp_pairs(u0, a), kp_pairs(u1, a + 4));
            __m256i d23 = _mm256_add_epi16(kp_pairs(u2, a + 8), kp_pairs(u3, a + 12));
            isum[t] = _mm256_add_epi32(isum[t], _mm256_add_epi32(_mm256_madd_epi16(d01, s),
                                                                 _mm256_madd_epi16(d23, s)));
        }
    }
    __m256 d = kp_half(p, h);
    kp_finish(nt, d, d, isum, msum, act, b, acc);
}

/* Super-block b (at p) of one group times nt tokens: acc[2t + h] lane r +=
 * row 8h + r's contribution. */
INLINE void kp_block(enum kp_kind kind, int nt, const uint8_t *p, int64_t b,
                     const llp_act_q8_256 *const *act, __m256 *acc)
{
    for (int h = 0; h < 2; h++) {
        __m256 part[KP_TOKENS];
        for (int t = 0; t < nt; t++) part[t] = acc[2 * t + h];
        if (kind == KP_Q6_K) kp_q6_k_half(nt, p, h, b, act, part);
        else kp_k4_half(kind, nt, p, h, b, act, part);
        for (int t = 0; t < nt; t++) acc[2 * t + h] = part[t];
    }
}

/* Rows r0 .. r0+15 (acc[0], acc[1]) into y; rows from n_rows on (a padded
 * last group) are not stored. */
INLINE void store_group(const __m256 *acc, int n_rows, int r0, float *y)
{
    if (n_rows - r0 >= KP_ROWS) {
        _mm256_storeu_ps(y + r0, acc[0]);
        _mm256_storeu_ps(y + r0 + 8, acc[1]);
        return;
    }
    float tmp[KP_ROWS];
    _mm256_storeu_ps(tmp, acc[0]);
    _mm256_storeu_ps(tmp + 8, acc[1]);
    memcpy(y + r0, tmp, sizeof(float) * (size_t)(n_rows - r0));
}

/* nt tokens times one packed group; three or more tokens request the next
 * super-block's lines while multiplying this one (several sequences decoded
 * together: the products are slower per byte, so the request runs ahead). */
INLINE void kp_tokens(enum kp_kind kind, int nt, int64_t nb, const uint8_t *group,
                      const llp_act_q8_256 *const *act, __m256 *acc)
{
    const size_t blk = KP_ROWS * kp_bytes(kind);
    for (int t = 0; t < 2 * nt; t++) acc[t] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *p = group + (size_t)b * blk;
        if (nt <= 2)
            for (size_t off = 0; off < blk; off += 64)
                _mm_prefetch((const char *)p + off, _MM_HINT_T0);
        else
            for (size_t off = 0; off < blk; off += 64)
                _mm_prefetch((const char *)p + blk + off, _MM_HINT_T0);
        kp_block(kind, nt, p, b, act, acc);
    }
}

INLINE void kp_streams(enum kp_kind kind, int ng, int64_t nb, const uint8_t *const *group,
                       const llp_act_q8_256 *const *act, __m256 *acc)
{
    const size_t blk = KP_ROWS * kp_bytes(kind);
    for (int g = 0; g < 2 * ng; g++) acc[g] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        for (int g = 0; g < ng; g++)
            for (size_t off = 0; off < blk; off += 64)
                _mm_prefetch((const char *)group[g] + (size_t)b * blk + off, _MM_HINT_T0);
        for (int g = 0; g < ng; g++)
            kp_block(kind, 1, group[g] + (size_t)b * blk, b, act, &acc[2 * g]);
    }
}

INLINE void kp_gemm(enum kp_kind kind, int64_t n, const void *P, int n_rows, const void *A,
                    size_t a_stride, int n_tok, float *Y, int64_t y_stride)
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
            __m256 acc[2 * KP_STREAMS];
            switch (ng) {
            case 4: kp_streams(kind, 4, nb, group, act, acc); break;
            case 3: kp_streams(kind, 3, nb, group, act, acc); break;
            case 2: kp_streams(kind, 2, nb, group, act, acc); break;
            default: kp_streams(kind, 1, nb, group, act, acc); break;
            }
            for (int g = 0; g < ng; g++) store_group(&acc[2 * g], n_rows, r0 + g * KP_ROWS, Y);
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
            __m256 acc[2 * KP_TOKENS];
            switch (nt) {
            case 4: kp_tokens(kind, 4, nb, group, act, acc); break;
            case 3: kp_tokens(kind, 3, nb, group, act, acc); break;
            case 2: kp_tokens(kind, 2, nb, group, act, acc); break;
            default: kp_tokens(kind, 1, nb, group, act, acc); break;
            }
            for (int t = 0; t < nt; t++)
                store_group(&acc[2 * t], n_rows, r0, Y + (int64_t)(t0 + t) * y_stride);
        }
    }
}

#define KPACKED_ENTRY(name, kind)                                                         \
    void llp_gemm_packed_##name##_avx2(int64_t n, const void *P, int n_rows, const void *A, \
                                       size_t a_stride, int n_tok, float *Y, int64_t y_stride) \
    {                                                                                     \
        kp_gemm(kind, n, P, n_rows, A, a_stride, n_tok, Y, y_stride);                     \
    }
KPACKED_ENTRY(q4_k, KP_Q4_K)
KPACKED_ENTRY(q5_k, KP_Q5_K)
KPACKED_ENTRY(q6_k, KP_Q6_K)
