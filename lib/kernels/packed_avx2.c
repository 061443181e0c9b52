/*
 * packed_avx2.c — the avx2 set's products for the legacy 32-value block
 * types (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0) on packed weights (layout in
 * kernels.h: 16 rows side by side, one per 32-bit lane of a 64-byte line).
 * A line is two 256-bit vectors here, rows 0-7 and rows 8-15.
 *
 * Not for: packing (pack.c), unpacked weights (x86_legacy.inc), the
 * AVX-512 products (packed_avx512.c, the same arithmetic on 512-bit
 * vectors), or splitting work across threads (matmul.c). The Makefile
 * compiles this file with the AVX2 flags and kernels/dispatch.c only calls
 * it when the CPU has them.
 *
 * Products. Lane r of a token's integer accumulator gathers the exact dot
 * of row r's block with the token's codes: vpmaddubsw multiplies a line's
 * unsigned codes by the token's four activation codes broadcast to every
 * lane, and vpmaddwd by ones sums the pairs into 32 bits. The 16-bit pair
 * sums cannot saturate: nibbles and fifth bits make at most 31 * 127 * 2
 * per pair, and the low and high nibble products of a line are added in 16
 * bits before widening (at most 4 * 31 * 127). Q8_0's unsigned codes
 * q + 128 would saturate, so its lines are turned back into the signed
 * codes q, multiplied as |q| times the activation with q's sign (at most
 * 2 * 128 * 127), which gives sum(q * a) = sum((q + 128) * a) - 128 *
 * sum(a) directly. The float step per lane is the scalar set's, acc +
 * ((dw * da) * (float)dot + m * s), blocks in order, so results equal the
 * scalar set's and the avx512 set's bit for bit (tests/kernels_vs_ref.c).
 * Generation (one token) reads PW_STREAMS groups side by side, each one
 * sequential run of memory.
 */
#define LLP_ISA avx2
#include "kernels/x86_common.h"

#define PK_ROWS 16
/* Tokens per pass over a group's block: two accumulators a token. */
#define PK_TOKENS 4
#define PW_STREAMS 4
#define PW_PREFETCH 1024
/* The same for a batch pass over one group (several tokens per block: the
 * products take longer per byte, so the prefetch runs further ahead). */
#define PT_PREFETCH 2048

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

/* The integer offset k of w = dw * (u - k) for the nibble types (Q8_0's
 * is folded into its signed codes). */
INLINE int pk_k(enum pk_kind kind)
{
    switch (kind) {
    case P_Q4_0: return 8;
    case P_Q5_0: return 16;
    default:     return 0;
    }
}

INLINE int pk_has_m(enum pk_kind kind) { return kind == P_Q4_1 || kind == P_Q5_1; }
INLINE int pk_has_qh(enum pk_kind kind) { return kind == P_Q5_0 || kind == P_Q5_1; }

/* Offsets in a packed 16-row block (kernels.h). */
INLINE size_t pw_m_off(void) { return 2 * PK_ROWS; }
INLINE size_t pw_qh_off(enum pk_kind kind) { return pk_has_m(kind) ? 4 * PK_ROWS : 2 * PK_ROWS; }
INLINE size_t pw_qs_off(enum pk_kind kind)
{
    return pw_qh_off(kind) + (pk_has_qh(kind) ? 64 : 0);
}

INLINE __m256i bcast4(const int8_t *p)
{
    int32_t v;
    memcpy(&v, p, 4);
    return _mm256_set1_epi32(v);
}

/* 16 in every byte whose bit is set in the 32-bit mask (byte i: bit i). */
INLINE __m256i fifth_bits(uint32_t mask)
{
    const __m256i spread = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
                                            2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
    const __m256i bit = _mm256_set1_epi64x((long long)0x8040201008040201ULL);
    __m256i m = _mm256_shuffle_epi8(_mm256_set1_epi32((int32_t)mask), spread);
    m = _mm256_cmpeq_epi8(_mm256_and_si256(m, bit), bit);
    return _mm256_and_si256(m, _mm256_set1_epi8(16));
}

/* Block b of one packed group (at p) times nt tokens, added to acc[2t],
 * acc[2t+1] (rows 0-7, 8-15) in the scalar set's order. */
INLINE void pw_block(enum pk_kind kind, int nt, const uint8_t *p, int64_t b,
                     const llp_act_q8_32 *const *act, __m256 *acc)
{
    const __m256i ones = _mm256_set1_epi16(1), low4 = _mm256_set1_epi8(15);
    __m256i dot[2 * PK_TOKENS];
    const uint8_t *qs = p + pw_qs_off(kind);
    if (kind == P_Q8_0) {
        for (int t = 0; t < nt; t++) dot[2 * t] = dot[2 * t + 1] = _mm256_setzero_si256();
        const __m256i flip = _mm256_set1_epi8((char)0x80);
#pragma GCC unroll 8
        for (int g = 0; g < 8; g++) {
            __m256i w0 = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(qs + 64 * g)), flip);
            __m256i w1 = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(qs + 64 * g + 32)),
                                          flip);
            __m256i a0 = _mm256_sign_epi8(w0, w0), a1 = _mm256_sign_epi8(w1, w1);
#pragma GCC unroll 4
            for (int t = 0; t < nt; t++) {
                __m256i x = bcast4(act[t][b].qs + 4 * g);
                __m256i p0 = _mm256_maddubs_epi16(a0, _mm256_sign_epi8(x, w0));
                __m256i p1 = _mm256_maddubs_epi16(a1, _mm256_sign_epi8(x, w1));
                dot[2 * t] = _mm256_add_epi32(dot[2 * t], _mm256_madd_epi16(p0, ones));
                dot[2 * t + 1] = _mm256_add_epi32(dot[2 * t + 1], _mm256_madd_epi16(p1, ones));
            }
        }
    } else {
        const int k = pk_k(kind);
        for (int t = 0; t < nt; t++)
            dot[2 * t] = dot[2 * t + 1] = _mm256_set1_epi32(-k * act[t][b].sum);
#pragma GCC unroll 4
        for (int g = 0; g < 4; g++) {
            __m256i v0 = _mm256_loadu_si256((const __m256i *)(qs + 64 * g));
            __m256i v1 = _mm256_loadu_si256((const __m256i *)(qs + 64 * g + 32));
            __m256i lo0 = _mm256_and_si256(v0, low4);
            __m256i hi0 = _mm256_and_si256(_mm256_srli_epi16(v0, 4), low4);
            __m256i lo1 = _mm256_and_si256(v1, low4);
            __m256i hi1 = _mm256_and_si256(_mm256_srli_epi16(v1, 4), low4);
            if (pk_has_qh(kind)) {
                uint32_t mlo[2], mhi[2];
                memcpy(mlo, p + pw_qh_off(kind) + 8 * g, 8);
                memcpy(mhi, p + pw_qh_off(kind) + 8 * (g + 4), 8);
                lo0 = _mm256_or_si256(lo0, fifth_bits(mlo[0]));
                lo1 = _mm256_or_si256(lo1, fifth_bits(mlo[1]));
                hi0 = _mm256_or_si256(hi0, fifth_bits(mhi[0]));
                hi1 = _mm256_or_si256(hi1, fifth_bits(mhi[1]));
            }
#pragma GCC unroll 4
            for (int t = 0; t < nt; t++) {
                __m256i xl = bcast4(act[t][b].qs + 4 * g), xh = bcast4(act[t][b].qs + 16 + 4 * g);
                __m256i p0 = _mm256_add_epi16(_mm256_maddubs_epi16(lo0, xl),
                                              _mm256_maddubs_epi16(hi0, xh));
                __m256i p1 = _mm256_add_epi16(_mm256_maddubs_epi16(lo1, xl),
                                              _mm256_maddubs_epi16(hi1, xh));
                dot[2 * t] = _mm256_add_epi32(dot[2 * t], _mm256_madd_epi16(p0, ones));
                dot[2 * t + 1] = _mm256_add_epi32(dot[2 * t + 1], _mm256_madd_epi16(p1, ones));
            }
        }
    }
    __m256 d[2], m[2];
    for (int h = 0; h < 2; h++) {
        d[h] = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p + 16 * h)));
        m[h] = pk_has_m(kind)
            ? _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p + pw_m_off() + 16 * h)))
            : d[h];
    }
#pragma GCC unroll 4
    for (int t = 0; t < nt; t++) {
        __m256 da = _mm256_set1_ps(act[t][b].d), s = _mm256_set1_ps(act[t][b].s);
        for (int h = 0; h < 2; h++) {
            __m256 f = _mm256_mul_ps(_mm256_mul_ps(d[h], da), _mm256_cvtepi32_ps(dot[2 * t + h]));
            if (pk_has_m(kind)) f = _mm256_add_ps(f, _mm256_mul_ps(m[h], s));
            acc[2 * t + h] = _mm256_add_ps(acc[2 * t + h], f);
        }
    }
}

/* Rows r0 .. r0+15 of token t (acc[0], acc[1]) into Y; rows from n_rows on
 * (a padded last group) are not stored. */
INLINE void store_group(const __m256 *acc, int n_rows, int r0, float *y)
{
    if (n_rows - r0 >= PK_ROWS) {
        _mm256_storeu_ps(y + r0, acc[0]);
        _mm256_storeu_ps(y + r0 + 8, acc[1]);
        return;
    }
    float tmp[PK_ROWS];
    _mm256_storeu_ps(tmp, acc[0]);
    _mm256_storeu_ps(tmp + 8, acc[1]);
    memcpy(y + r0, tmp, sizeof(float) * (size_t)(n_rows - r0));
}

/* nt tokens times one packed group: acc[2t + h] lane r = dot(row 8h + r,
 * token t). */
INLINE void pw_tokens(enum pk_kind kind, int nt, int64_t nb, const uint8_t *group,
                      const llp_act_q8_32 *const *act, __m256 *acc)
{
    const size_t blk = PK_ROWS * pk_bytes(kind);
    for (int t = 0; t < 2 * nt; t++) acc[t] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *p = group + (size_t)b * blk;
        for (size_t off = 0; off < blk; off += 64)
            _mm_prefetch((const char *)p + PT_PREFETCH + off, _MM_HINT_T0);
        pw_block(kind, nt, p, b, act, acc);
    }
}

/* Generation: one token times ng (1..PW_STREAMS) groups read side by side. */
INLINE void pw_streams(enum pk_kind kind, int ng, int64_t nb, const uint8_t *const *group,
                       const llp_act_q8_32 *const *act, __m256 *acc)
{
    const size_t blk = PK_ROWS * pk_bytes(kind);
    for (int g = 0; g < 2 * ng; g++) acc[g] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
#pragma GCC unroll 4
        for (int g = 0; g < ng; g++) {
            const uint8_t *p = group[g] + (size_t)b * blk;
            for (size_t off = 0; off < blk; off += 64)
                _mm_prefetch((const char *)p + PW_PREFETCH + off, _MM_HINT_T0);
            pw_block(kind, 1, p, b, act, &acc[2 * g]);
        }
    }
}

INLINE void pw_gemm(enum pk_kind kind, int64_t n, const void *P, int n_rows, const void *A,
                    size_t a_stride, int n_tok, float *Y, int64_t y_stride)
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
            __m256 acc[2 * PW_STREAMS];
            switch (ng) {
            case 4: pw_streams(kind, 4, nb, group, act, acc); break;
            case 3: pw_streams(kind, 3, nb, group, act, acc); break;
            case 2: pw_streams(kind, 2, nb, group, act, acc); break;
            default: pw_streams(kind, 1, nb, group, act, acc); break;
            }
            for (int g = 0; g < ng; g++) store_group(&acc[2 * g], n_rows, r0 + g * PK_ROWS, Y);
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
            __m256 acc[2 * PK_TOKENS];
            switch (nt) {
            case 4: pw_tokens(kind, 4, nb, group, act, acc); break;
            case 3: pw_tokens(kind, 3, nb, group, act, acc); break;
            case 2: pw_tokens(kind, 2, nb, group, act, acc); break;
            default: pw_tokens(kind, 1, nb, group, act, acc); break;
            }
            for (int t = 0; t < nt; t++)
                store_group(&acc[2 * t], n_rows, r0, Y + (int64_t)(t0 + t) * y_stride);
        }
    }
}

#define PACKED_W_ENTRY(name, kind)                                                        \
    void llp_gemm_packed_##name##_avx2(int64_t n, const void *P, int n_rows, const void *A, \
                                       size_t a_stride, int n_tok, float *Y, int64_t y_stride) \
    {                                                                                     \
        pw_gemm(kind, n, P, n_rows, A, a_stride, n_tok, Y, y_stride);                     \
    }
PACKED_W_ENTRY(q4_0, P_Q4_0)
PACKED_W_ENTRY(q4_1, P_Q4_1)
PACKED_W_ENTRY(q5_0, P_Q5_0)
PACKED_W_ENTRY(q5_1, P_Q5_1)
PACKED_W_ENTRY(q8_0, P_Q8_0)
