/*
 * packed_avx512.c — the avx512 set's products for the legacy 32-value block
 * types (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0) on packed weights (layout in
 * kernels.h: 16 rows side by side, one per 32-bit lane), and its batch
 * entry for unpacked weights, which packs the call's rows and uses them.
 *
 * Not for: packing itself (pack.c), small batches of unpacked weights (the
 * lane kernels of lanes_avx512.c), or splitting work across threads
 * (matmul.c). The Makefile compiles this file with the AVX-512 flags and
 * kernels/dispatch.c only calls it when the CPU has them.
 *
 * Products. For up to PK_TOKENS tokens and one packed block b of a group:
 * each token's integer accumulator starts at -k * sum(a) (the weights'
 * integer offset); eight vpdpbusd add the group's code vectors (nibbles
 * split by a mask and a shift, Q5 fifth bits added under the stored masks)
 * times the token's activation codes 4g .. 4g+3 broadcast to all lanes, so
 * lane r holds the exact integer dot of row r and the token. The float step
 * is the scalar set's, per lane: acc + ((dw * da) * (float)dot + m * s) (no
 * m term for the types without m), blocks in order, so results equal the
 * scalar set's bit for bit (tests/kernels_vs_ref.c checks it). Generation
 * (one token) reads PW_STREAMS groups side by side: each is one sequential
 * run of memory, and several keep more misses in flight per core.
 */
#define LLP_ISA avx512
#include "kernels/x86_common.h"

#include <stdio.h>
#include <stdlib.h>

/* Batches of unpacked weights from this many tokens are packed per call
 * (the packing then costs less than the products it speeds up). */
#define PK_MIN_TOKENS 8
/* Rows per group (one per 32-bit lane) and tokens per pass over a block. */
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
/* The same for a batch pass over one group (several tokens per block: the
 * products take longer per byte, so the prefetch runs further ahead). */
#define PT_PREFETCH 2048
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
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *p = group + (size_t)b * blk;
        for (size_t off = 0; off < blk; off += 64)
            _mm_prefetch((const char *)p + PT_PREFETCH + off, _MM_HINT_T0);
        pw_block(kind, nt, p, b, act, acc);
    }
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
                store_row_group(1, &acc[g], n_rows, r0 + g * PK_ROWS, 0, Y, y_stride);
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
            store_row_group(nt, acc, n_rows, r0, t0, Y, y_stride);
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

/* Unpacked weights (LLP_NO_PACK=1, or callers of llp_matmul): a batch of
 * PK_MIN_TOKENS or more packs the call's rows once (llp_pack_rows) and runs
 * the packed product over them; smaller ones, or rows not laid out
 * contiguously, go to the lane kernels. */
INLINE void pk_gemm(enum pk_kind kind, uint32_t type, int64_t n, const void *W,
                    size_t w_stride, int n_rows, const void *A, size_t a_stride, int n_tok,
                    float *Y, int64_t y_stride)
{
    size_t bytes = llp_packed_bytes(type, n, n_rows);
    void *P = NULL;
    if (posix_memalign(&P, 64, bytes) != 0) {
        fprintf(stderr, "llamapipe: out of memory (%zu bytes of kernel scratch)\n", bytes);
        abort();
    }
    llp_pack_rows(type, W, n, n_rows, P);
    pw_gemm(kind, n, P, n_rows, A, a_stride, n_tok, Y, y_stride);
    free(P);
}

#define PACKED_ENTRY(name, kind, type)                                         \
    void llp_gemm_##name##_packed512(int64_t n, const void *W, size_t w_stride, \
                                     int n_rows, const void *A, size_t a_stride, \
                                     int n_tok, float *Y, int64_t y_stride)     \
    {                                                                          \
        if (n_tok < PK_MIN_TOKENS || w_stride != llp_row_size(type, n))        \
            llp_gemm_##name##_lanes512(n, W, w_stride, n_rows, A, a_stride,    \
                                       n_tok, Y, y_stride);                    \
        else                                                                   \
            pk_gemm(kind, type, n, W, w_stride, n_rows, A, a_stride, n_tok, Y, \
                    y_stride);                                                 \
    }
PACKED_ENTRY(q4_0, P_Q4_0, LLP_Q4_0)
PACKED_ENTRY(q4_1, P_Q4_1, LLP_Q4_1)
PACKED_ENTRY(q5_0, P_Q5_0, LLP_Q5_0)
PACKED_ENTRY(q5_1, P_Q5_1, LLP_Q5_1)
PACKED_ENTRY(q8_0, P_Q8_0, LLP_Q8_0)
