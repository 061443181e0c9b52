/*
 * x86_common.h — helpers shared by the x86 kernel bodies (x86_legacy.inc,
 * x86_kquants.inc): horizontal sums, the unsigned-by-signed byte dot
 * product, the naming macro that gives each compiled copy its ISA suffix,
 * and (AVX-512 files) the store of 16-row results of the packed products.
 *
 * Not for: inclusion outside the lib/kernels/ files ending _avx2.c and
 * _avx512.c (they get the target flags). Each of those files defines LLP_ISA (avx2 or avx512)
 * and includes a body; the body is written once with 256-bit vectors and
 * compiled twice. With AVX-512 VNNI the byte dot product is one vpdpbusd
 * instead of vpmaddubsw + vpmaddwd.
 */
#ifndef LLP_X86_COMMON_H
#define LLP_X86_COMMON_H

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "kernels/kernels.h"

#ifndef LLP_ISA
#error "define LLP_ISA (avx2 or avx512) before including x86_common.h"
#endif

#define LLP_CAT2(a, b) a##_##b
#define LLP_CAT(a, b) LLP_CAT2(a, b)
#define ISA(name) LLP_CAT(name, LLP_ISA)

#define INLINE static inline __attribute__((always_inline))

/* Tokens whose activations are multiplied with one unpacked weight block. */
#define TILE_TOKENS 4

INLINE float hsum_ps(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

INLINE int hsum_epi32(__m256i v)
{
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm_cvtsi128_si32(s);
}

INLINE float hmax_ps(__m256 v)
{
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* acc + per 4-byte group sum(u * s): u unsigned bytes, s signed bytes.
 * The AVX2 form goes through 16-bit pair sums, which saturate only when
 * u * s pairs exceed 32767 (u <= 127 keeps them exact for |s| <= 127). */
INLINE __m256i dot_u8s8_acc(__m256i acc, __m256i u, __m256i s)
{
#ifdef __AVX512VNNI__
    return _mm256_dpbusd_epi32(acc, u, s);
#else
    __m256i p = _mm256_maddubs_epi16(u, s);
    return _mm256_add_epi32(acc, _mm256_madd_epi16(p, _mm256_set1_epi16(1)));
#endif
}

INLINE float fp16_to_f32(uint16_t h)
{
    return _cvtsh_ss(h);
}

INLINE __m256 abs_ps(__m256 v)
{
    return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v);
}

/* 32 floats -> 32 int8 codes (x * id rounded to nearest even), in order;
 * returns their int32 sums per 16 in *sum_lo, *sum_hi. */
INLINE __m256i quantize32(const float *x, __m256 id, int *sum_lo, int *sum_hi)
{
    __m256i i0 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x), id));
    __m256i i1 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + 8), id));
    __m256i i2 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + 16), id));
    __m256i i3 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + 24), id));
    *sum_lo = hsum_epi32(_mm256_add_epi32(i0, i1));
    *sum_hi = hsum_epi32(_mm256_add_epi32(i2, i3));
    /* packs work within 128-bit lanes; the permute restores value order. */
    __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(i0, i1), _mm256_packs_epi32(i2, i3));
    return _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

#ifdef __AVX512F__
/* The packed products' results (kernels.h: 16 rows per group, one per
 * lane): acc[t] holds rows r0 .. r0+15 of token t0 + t; rows from n_rows on
 * (a padded last group) are not stored. */
INLINE void store_row_group(int nt, const __m512 *acc, int n_rows, int r0, int t0, float *Y,
                            int64_t y_stride)
{
    __mmask16 keep = n_rows - r0 >= LLP_PACK_ROWS ? (__mmask16)0xffff
                                                  : (__mmask16)((1u << (n_rows - r0)) - 1);
    for (int t = 0; t < nt; t++)
        _mm512_mask_storeu_ps(Y + (int64_t)(t0 + t) * y_stride + r0, keep, acc[t]);
}
#endif

#endif
