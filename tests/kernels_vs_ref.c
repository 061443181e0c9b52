/*
 * kernels_vs_ref.c — every kernel set (scalar, avx2, avx512, as the CPU
 * allows) multiplies every weight type like llp_matmul_ref does, for
 * single tokens and batches, through the thread pool.
 *
 * Not for: speed (bench/matmul_bench.c) or the reference's own correctness
 * (tests/quant_*.c check decode/encode against the fixtures).
 *
 * Weights come two ways: random floats quantized with llp_quantize_row
 * (realistic codes) and random bytes with sane fp16 scales written over the
 * scale fields (every bit pattern of the codes, including ones a quantizer
 * never emits). Token 1 of each batch is all zeros (the zero-scale path).
 *
 * Tolerances. Quantized types multiply 8-bit activations x^ (each value
 * moved by up to d/2, d = max|x| / 127 over its block), which shifts outputs
 * by about 0.5-2% of their RMS depending on the weights. So each result is
 * checked twice:
 *   - against llp_matmul_ref applied to x^ (the activations dequantized from
 *     the kernel's own 8-bit blocks; for Q4_1/Q5_1 plus the effect of the
 *     fp16-rounded block sums s, see m_correction): the integer products
 *     are exact and only float summation order differs, so
 *     max|y - ref^| <= 1e-4 * rms(ref);
 *   - against llp_matmul_ref on the float x: |y - ref| must stay within the
 *     exact worst case sum_i |w_i| * |x_i - x^_i| of that output, plus the
 *     same 1e-4 * rms(ref). The observed max|y - ref| / rms(ref) is printed
 *     as a diagnostic (typically 0.5-3%).
 * Float types multiply the float x exactly, so both checks use 1e-4 * rms;
 * their batches run both through OpenBLAS SGEMM and (LLP_NO_BLAS=1) through
 * the kernel sets.
 * Every SIMD set must also give the scalar set's results: bit for bit for
 * quantized types (the activation quantizers are bit-identical across sets,
 * checked directly, integer dots are exact and the float steps per block go
 * in the same order, so a near-tie in a model's logits is decided the same
 * way by every set), within 1e-4 * rms(ref) for float types.
 */
#include "matmul.h"
#include "quant.h"
#include "quant_blocks.h"
#include "threads.h"
#include "util.h"
#include "tap.h"
#include "rng.h"
#include "kernels/kernels.h"

#include <stdint.h>

static uint16_t random_scale(float lo, float hi)
{
    float u = (rng_float() + 1) / 2;
    return llp_f32_to_fp16(lo + (hi - lo) * u);
}

/* Overwrite the fp16 scale fields of a random-byte block with sane values. */
static void fix_scales(uint32_t type, uint8_t *block)
{
    switch (type) {
    case LLP_Q4_0: ((block_q4_0 *)block)->d = random_scale(0.01f, 0.1f); break;
    case LLP_Q5_0: ((block_q5_0 *)block)->d = random_scale(0.01f, 0.1f); break;
    case LLP_Q8_0: ((block_q8_0 *)block)->d = random_scale(0.001f, 0.01f); break;
    case LLP_Q4_1: {
        block_q4_1 *b = (block_q4_1 *)block;
        b->d = random_scale(0.01f, 0.1f);
        b->m = random_scale(-0.5f, 0.5f);
        break;
    }
    case LLP_Q5_1: {
        block_q5_1 *b = (block_q5_1 *)block;
        b->d = random_scale(0.01f, 0.1f);
        b->m = random_scale(-0.5f, 0.5f);
        break;
    }
    case LLP_Q2_K: {
        block_q2_k *b = (block_q2_k *)block;
        b->d = random_scale(0.005f, 0.05f);
        b->dmin = random_scale(0.005f, 0.05f);
        break;
    }
    case LLP_Q3_K: ((block_q3_k *)block)->d = random_scale(0.001f, 0.02f); break;
    case LLP_Q4_K: {
        block_q4_k *b = (block_q4_k *)block;
        b->d = random_scale(0.001f, 0.01f);
        b->dmin = random_scale(0.001f, 0.01f);
        break;
    }
    case LLP_Q5_K: {
        block_q5_k *b = (block_q5_k *)block;
        b->d = random_scale(0.001f, 0.01f);
        b->dmin = random_scale(0.001f, 0.01f);
        break;
    }
    case LLP_Q6_K: ((block_q6_k *)block)->d = random_scale(0.0005f, 0.005f); break;
    }
}

/* n_out rows of n_in weights of `type`, either quantized random floats or
 * random codes with sane scales. Caller frees. */
static uint8_t *make_weights(uint32_t type, int64_t n_in, int64_t n_out, int random_codes)
{
    size_t row = llp_row_size(type, n_in);
    uint8_t *w = llp_malloc(row * (size_t)n_out);
    const llp_type_info *info = llp_type_get(type);
    if (random_codes && info->block_size > 1) {
        for (size_t i = 0; i < row * (size_t)n_out; i++) w[i] = (uint8_t)rng_u32();
        for (size_t off = 0; off < row * (size_t)n_out; off += (size_t)info->type_size)
            fix_scales(type, w + off);
        return w;
    }
    float *x = llp_malloc(sizeof(float) * (size_t)n_in);
    for (int64_t r = 0; r < n_out; r++) {
        for (int64_t i = 0; i < n_in; i++) x[i] = 0.05f * rng_normal();
        llp_quantize_row(type, x, w + (size_t)r * row, n_in);
    }
    free(x);
    return w;
}

static double rms(const float *y, int64_t n)
{
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += (double)y[i] * y[i];
    return sqrt(s / (double)(n > 0 ? n : 1));
}

/* max|a - b| and rms(a - b). */
static void diff(const float *a, const float *b, int64_t n, double *max_abs, double *rms_diff)
{
    double m = 0, s = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (!(d <= m)) m = d;           /* NaN propagates as a failure */
        s += d * d;
    }
    *max_abs = m;
    *rms_diff = sqrt(s / (double)(n > 0 ? n : 1));
}

/* X^: each token's activations quantized the way the kernels quantize them
 * (scalar quantizer) and dequantized again. Identity for float types. */
static void act_roundtrip(uint32_t type, const float *X, int64_t n_in, int64_t n_tok,
                          float *Xq)
{
    enum llp_act_format fmt = llp_act_format_for(type);
    if (fmt == LLP_ACT_F32) {
        memcpy(Xq, X, sizeof(float) * (size_t)(n_in * n_tok));
        return;
    }
    for (int64_t t = 0; t < n_tok; t++) {
        const float *x = X + t * n_in;
        float *xq = Xq + t * n_in;
        if (fmt == LLP_ACT_Q8_32) {
            llp_act_q8_32 b[n_in / 32];
            llp_kernels_scalar.quantize_q8_32(x, b, n_in);
            for (int64_t i = 0; i < n_in; i++) xq[i] = b[i / 32].d * b[i / 32].qs[i % 32];
        } else {
            llp_act_q8_256 b[n_in / 256];
            llp_kernels_scalar.quantize_q8_256(x, b, n_in);
            for (int64_t i = 0; i < n_in; i++) xq[i] = b[i / 256].d * b[i / 256].qs[i % 256];
        }
    }
}

/* Q4_1 and Q5_1 add each block's m times the activation block's s (an fp16
 * rounding of da * sum(a), as llama.cpp's Q8_1) rather than times the
 * dequantized activations' sum d * sum(a): corr[t * n_out + r] is the sum
 * of m * (s - d * sum) over the blocks of row r and token t (zero for other
 * types). */
static void m_correction(uint32_t type, const uint8_t *W, int64_t n_in, int64_t n_out,
                         const float *X, int64_t n_tok, float *corr)
{
    memset(corr, 0, sizeof(float) * (size_t)(n_out * n_tok));
    if (type != LLP_Q4_1 && type != LLP_Q5_1) return;
    size_t row = llp_row_size(type, n_in);
    size_t block = (size_t)llp_type_get(type)->type_size;
    llp_act_q8_32 b[n_in / 32];
    for (int64_t t = 0; t < n_tok; t++) {
        llp_kernels_scalar.quantize_q8_32(X + t * n_in, b, n_in);
        for (int64_t r = 0; r < n_out; r++) {
            double c = 0;
            for (int64_t ib = 0; ib < n_in / 32; ib++) {
                const uint8_t *p = W + (size_t)r * row + (size_t)ib * block;
                uint16_t m = type == LLP_Q4_1 ? ((const block_q4_1 *)p)->m
                                              : ((const block_q5_1 *)p)->m;
                c += (double)llp_fp16_to_f32(m) * (b[ib].s - (double)b[ib].d * b[ib].sum);
            }
            corr[t * n_out + r] = (float)c;
        }
    }
}

/* bound[t * n_out + r] = sum_i |W[r][i]| * |X - Xq|[t][i]. */
static void error_bound(uint32_t type, const uint8_t *W, int64_t n_in, int64_t n_out,
                        const float *X, const float *Xq, int64_t n_tok, float *bound)
{
    float *w = llp_malloc(sizeof(float) * (size_t)n_in);
    size_t row = llp_row_size(type, n_in);
    for (int64_t r = 0; r < n_out; r++) {
        llp_dequantize_row(type, W + (size_t)r * row, w, n_in);
        for (int64_t t = 0; t < n_tok; t++) {
            double s = 0;
            for (int64_t i = 0; i < n_in; i++)
                s += fabs((double)w[i]) * fabs((double)X[t * n_in + i] - Xq[t * n_in + i]);
            bound[t * n_out + r] = (float)s;
        }
    }
    free(w);
}

/* True when |y - ref| <= bound + slack everywhere. */
static int within_bound(const float *y, const float *ref, const float *bound, int64_t n,
                        double slack)
{
    for (int64_t i = 0; i < n; i++)
        if (!(fabs((double)y[i] - ref[i]) <= bound[i] + slack)) return 0;
    return 1;
}

/* The SIMD activation quantizers produce the scalar one's bytes exactly. */
static void check_quantizers(void)
{
    static float x[2048];
    for (int i = 0; i < 2048; i++) x[i] = rng_normal() * (i % 300 == 7 ? 100 : 1);
    for (int i = 256; i < 512; i++) x[i] = 0;   /* an all-zero block */
    x[600] = 0.5f * (1.0f / 127.0f);             /* values near ties */
    static llp_act_q8_32 a32[64], b32[64];
    static llp_act_q8_256 a256[8], b256[8];
    llp_kernels_scalar.quantize_q8_32(x, a32, 2048);
    llp_kernels_scalar.quantize_q8_256(x, a256, 2048);
    const char *names[] = { "avx2", "avx512" };
    for (int k = 0; k < 2; k++) {
        const llp_kernel_set *ks = llp_kernels_by_name(names[k]);
        if (!ks) continue;
        memset(b32, 0x55, sizeof b32);
        memset(b256, 0x55, sizeof b256);
        ks->quantize_q8_32(x, b32, 2048);
        ks->quantize_q8_256(x, b256, 2048);
        ok(memcmp(a32, b32, sizeof a32) == 0, "%s 32-block activation quantizer matches scalar",
           names[k]);
        ok(memcmp(a256, b256, sizeof a256) == 0,
           "%s 256-block activation quantizer matches scalar", names[k]);
    }
}

static const uint32_t types[] = {
    LLP_F32, LLP_F16, LLP_BF16, LLP_Q4_0, LLP_Q4_1, LLP_Q5_0, LLP_Q5_1,
    LLP_Q8_0, LLP_Q2_K, LLP_Q3_K, LLP_Q4_K, LLP_Q5_K, LLP_Q6_K,
};
static const char *sets[] = { "scalar", "avx2", "avx512" };
static const int n_toks[] = { 1, 3, 8, 33 };
static const int64_t n_ins[] = { 256, 512, 768 };

/* The softmax exponential against libm's expf (within 2 ulp-ish relative
 * error over the range it sees), and every set's softmax equal to the
 * scalar set's bit for bit, summing to 1, at lengths with and without a
 * tail of the 8-lane loop, with scores far below the max (underflow to 0). */
static void check_softmax(void)
{
    double worst = 0;
    int zero_ok = 1;
    for (int i = 0; i <= 200000; i++) {
        float x = -87.0f * (float)i / 200000.0f;
        double want = exp((double)x), got = llp_exp_poly(x);
        double rel = fabs(got - want) / want;
        if (rel > worst) worst = rel;
    }
    zero_ok = llp_exp_poly(-88.0f) == 0.0f && llp_exp_poly(-1e30f) == 0.0f &&
              llp_exp_poly(0.0f) == 1.0f;
    ok(worst < 3e-7, "exp_poly within %.2g relative of exp on [-87, 0] (bound 3e-7)", worst);
    ok(zero_ok, "exp_poly: 1 at 0, 0 below the smallest normal");
    static const int lens[] = { 1, 7, 8, 9, 25, 64, 161, 2048 };
    static float x[2048], want[2048], got[2048];
    const char *names[] = { "avx2", "avx512" };
    for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
        int n = lens[li];
        for (int i = 0; i < n; i++) x[i] = 4.0f * rng_normal() - (i % 97 == 5 ? 200.0f : 0.0f);
        memcpy(want, x, sizeof(float) * (size_t)n);
        llp_kernels_scalar.softmax(want, n);
        double sum = 0;
        for (int i = 0; i < n; i++) sum += want[i];
        ok(fabs(sum - 1) < 1e-5, "scalar softmax of %d sums to 1 (%.9f)", n, sum);
        for (int k = 0; k < 2; k++) {
            const llp_kernel_set *ks = llp_kernels_by_name(names[k]);
            if (!ks) continue;
            memcpy(got, x, sizeof(float) * (size_t)n);
            ks->softmax(got, n);
            ok(memcmp(got, want, sizeof(float) * (size_t)n) == 0,
               "%s softmax of %d equals the scalar set's bit for bit", names[k], n);
        }
    }
}

/* SwiGLU: llp_silu_poly against double-precision silu, and every set's
 * swiglu equal to the scalar set's bit for bit (lengths with and without a
 * tail; values from -200 to 200, signed zeros and tiny ones). */
static void check_swiglu(void)
{
    double worst = 0;
    for (int i = 0; i <= 400000; i++) {
        float x = -100.0f + 200.0f * (float)i / 400000.0f;
        double want = (double)x / (1.0 + exp(-(double)x)), got = llp_silu_poly(x);
        double err = fabs(got - want) / (fabs(want) + 1e-30);
        if (fabs(want) > 1e-30 && err > worst) worst = err;
    }
    ok(worst < 5e-7, "silu_poly within %.2g relative of silu on [-100, 100] (bound 5e-7)", worst);
    ok(llp_silu_poly(-200.0f) == 0.0f && signbit(llp_silu_poly(-200.0f)) &&
       llp_silu_poly(0.0f) == 0.0f && llp_silu_poly(200.0f) == 200.0f,
       "silu_poly: -0 far below zero, 0 at 0, x far above");
    double sg_worst = 0;
    for (int i = 0; i <= 2000; i++) {
        float x = -40.0f + 80.0f * (float)i / 2000.0f;
        double want = 1.0 / (1.0 + exp(-(double)x));
        double err = fabs(llp_sigmoid_poly(x) - want) / want;
        if (err > sg_worst) sg_worst = err;
    }
    ok(sg_worst < 5e-7, "sigmoid_poly within %.2g relative of sigmoid on [-40, 40]", sg_worst);
    static const int lens[] = { 1, 7, 8, 9, 64, 5633 };
    static float g[5633], u[5633], want[5633], got[5633];
    const char *names[] = { "avx2", "avx512" };
    for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
        int n = lens[li];
        for (int i = 0; i < n; i++) {
            g[i] = i % 13 == 3 ? 50.0f * rng_normal() : 3.0f * rng_normal();
            u[i] = rng_normal();
        }
        if (n > 8) { g[0] = -0.0f; g[1] = 0.0f; g[2] = 1e-40f; g[3] = -150.0f; g[4] = 100.0f; }
        memcpy(want, g, sizeof(float) * (size_t)n);
        llp_kernels_scalar.swiglu(want, u, (size_t)n);
        for (int k = 0; k < 2; k++) {
            const llp_kernel_set *ks = llp_kernels_by_name(names[k]);
            if (!ks) continue;
            memcpy(got, g, sizeof(float) * (size_t)n);
            ks->swiglu(got, u, (size_t)n);
            ok(memcmp(got, want, sizeof(float) * (size_t)n) == 0,
               "%s swiglu of %d equals the scalar set's bit for bit", names[k], n);
        }
    }
}

/* The grouped-query attention steps equal the per-head steps of the same
 * set bit for bit (f32 and f16 rows, head sizes with and without a tail of
 * 8 or 16, one head alone and groups wider than one pass of 8 heads,
 * position counts below, at and past the avx512 set's blocks of 8). */
static void check_attention_groups(void)
{
    enum { MAX_Q = 16, MAX_D = 136, MAX_N = 70, STRIDE = 2 * MAX_D };
    static float q[MAX_Q * MAX_D], Kf[MAX_N * STRIDE], Vf[MAX_N * STRIDE];
    static uint16_t Kh[MAX_N * STRIDE], Vh[MAX_N * STRIDE];
    static float s1[MAX_Q * MAX_N], s2[MAX_Q * MAX_N], o1[MAX_Q * MAX_D], o2[MAX_Q * MAX_D];
    for (int i = 0; i < MAX_Q * MAX_D; i++) q[i] = rng_normal();
    for (int i = 0; i < MAX_N * STRIDE; i++) {
        Kf[i] = rng_normal();
        Vf[i] = rng_normal();
        Kh[i] = llp_f32_to_fp16(Kf[i]);
        Vh[i] = llp_f32_to_fp16(Vf[i]);
    }
    const char *names[] = { "avx2", "avx512" };
    static const int ds[] = { 64, 100, 128, 136 }, nqs[] = { 1, 2, 8, 11, 16 };
    static const int ns[] = { 1, 5, 8, 37, 70 };
    enum { N_D = sizeof ds / sizeof ds[0], N_NQ = sizeof nqs / sizeof nqs[0],
           N_N = sizeof ns / sizeof ns[0] };
    for (int k = 0; k < 2; k++) {
        const llp_kernel_set *ks = llp_kernels_by_name(names[k]);
        if (!ks) continue;
        int bad = 0, cases = 0;
        for (int f16 = 0; f16 < 2; f16++)
            for (int a = 0; a < N_D; a++)
                for (int b = 0; b < N_NQ; b++)
                    for (int c = 0; c < N_N; c++) {
                        int d = ds[a], nq = nqs[b], n = ns[c];
                        const void *K = f16 ? (const void *)Kh : (const void *)Kf;
                        const void *V = f16 ? (const void *)Vh : (const void *)Vf;
                        for (int h = 0; h < nq; h++)
                            ks->attn_dot[f16](q + h * d, K, STRIDE, d, n, 0.125f, s1 + h * n);
                        ks->attn_dot_group[f16](q, nq, K, STRIDE, d, n, 0.125f, s2, (size_t)n);
                        bad += memcmp(s1, s2, sizeof(float) * (size_t)(nq * n)) != 0;
                        for (int i = 0; i < nq * d; i++) o1[i] = o2[i] = 0.01f * (float)i;
                        for (int h = 0; h < nq; h++)
                            ks->attn_mix[f16](s1 + h * n, V, STRIDE, d, n, o1 + h * d);
                        ks->attn_mix_group[f16](s1, (size_t)n, nq, V, STRIDE, d, n, o2);
                        bad += memcmp(o1, o2, sizeof(float) * (size_t)(nq * d)) != 0;
                        cases += 2;
                    }
        ok(bad == 0, "%s grouped attention equals the per-head kernels bit for bit "
           "(%d of %d cases differ)", names[k], bad, cases);
    }
}

int main(void)
{
    llp_pool *pool = llp_pool_new(2);
    const int64_t n_out = 67;   /* odd, so row chunks have remainders */
    int n_sets = 0;
    for (int s = 0; s < 3; s++) {
        if (llp_matmul_set_kernels(sets[s]) == 0) n_sets++;
        else diag("kernel set %s not available on this CPU", sets[s]);
    }
    ok(n_sets >= 1, "%d kernel sets available", n_sets);
    ok(llp_matmul_set_kernels("no-such-set") != 0, "unknown kernel set refused");
    check_quantizers();
    check_softmax();
    check_swiglu();
    check_attention_groups();

    for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
        uint32_t type = types[ti];
        ok(llp_matmul_supports(type), "%s supported", llp_type_name(type));
        int is_float = llp_type_get(type)->block_size == 1;
        for (int random_codes = 0; random_codes <= !is_float; random_codes++)
        for (size_t ii = 0; ii < sizeof n_ins / sizeof n_ins[0]; ii++) {
            int64_t n_in = n_ins[ii];
            uint8_t *W = make_weights(type, n_in, n_out, random_codes);
            for (size_t ki = 0; ki < sizeof n_toks / sizeof n_toks[0]; ki++) {
                int64_t n_tok = n_toks[ki];
                float *X = llp_malloc(sizeof(float) * (size_t)(n_in * n_tok));
                for (int64_t i = 0; i < n_in * n_tok; i++)
                    X[i] = (n_tok > 1 && i / n_in == 1) ? 0.0f : rng_normal();
                size_t ny = sizeof(float) * (size_t)(n_out * n_tok);
                float *ref = llp_malloc(ny), *ref_q = llp_malloc(ny), *bound = llp_malloc(ny);
                float *y = llp_malloc(ny), *y_scalar = llp_malloc(ny);
                float *Xq = llp_malloc(sizeof(float) * (size_t)(n_in * n_tok));
                llp_matmul_ref(type, W, n_in, n_out, X, n_tok, ref);
                act_roundtrip(type, X, n_in, n_tok, Xq);
                llp_matmul_ref(type, W, n_in, n_out, Xq, n_tok, ref_q);
                error_bound(type, W, n_in, n_out, X, Xq, n_tok, bound);
                float *corr = llp_malloc(ny);
                m_correction(type, W, n_in, n_out, X, n_tok, corr);
                for (int64_t i = 0; i < n_out * n_tok; i++) {
                    ref_q[i] += corr[i];
                    bound[i] += fabsf(corr[i]);
                }
                free(corr);
                double slack = 1e-4 * rms(ref, n_out * n_tok);
                char what[128];
                snprintf(what, sizeof what, "%s %s n_in %lld n_tok %lld", llp_type_name(type),
                         random_codes ? "random codes" : "quantized", (long long)n_in,
                         (long long)n_tok);

                /* Float batches also run through SGEMM unless LLP_NO_BLAS. */
                int n_modes = is_float && n_tok >= 8 ? 2 : 1;
                for (int mode = 0; mode < n_modes; mode++)
                for (int s = 0; s < 3; s++) {
                    if (llp_matmul_set_kernels(sets[s]) != 0) continue;
                    setenv("LLP_NO_BLAS", n_modes == 2 && mode == 0 ? "0" : "1", 1);
                    snprintf(what, sizeof what, "%s %s n_in %lld n_tok %lld%s",
                             llp_type_name(type),
                             random_codes ? "random codes" : "quantized", (long long)n_in,
                             (long long)n_tok, n_modes == 2 && mode == 0 ? " (sgemm)" : "");
                    memset(y, 0xff, ny);   /* NaN: unwritten outputs fail */
                    llp_matmul(pool, type, W, n_in, n_out, X, n_tok, y);
                    double m, r;
                    diff(y, ref_q, n_out * n_tok, &m, &r);
                    if (!(m <= slack)) diag("max|y - ref^| %.3g, allowed %.3g", m, slack);
                    ok(m <= slack, "%s %s: vs reference on quantized activations", sets[s], what);
                    int in_bound = within_bound(y, ref, bound, n_out * n_tok, slack);
                    diff(y, ref, n_out * n_tok, &m, &r);
                    ok(in_bound, "%s %s: vs reference within the quantization bound "
                       "(max|diff| = %.2g%% of rms)", sets[s], what,
                       100 * m / rms(ref, n_out * n_tok));
                    if (s == 0) {
                        memcpy(y_scalar, y, ny);
                    } else if (!is_float) {
                        ok(memcmp(y, y_scalar, ny) == 0, "%s %s: equals the scalar set bit "
                           "for bit", sets[s], what);
                    } else {
                        diff(y, y_scalar, n_out * n_tok, &m, &r);
                        if (!(m <= slack)) diag("max|diff| vs scalar %.3g", m);
                        ok(m <= slack, "%s %s: vs scalar set", sets[s], what);
                    }
                }
                free(ref); free(ref_q); free(bound); free(y); free(y_scalar); free(Xq);
                free(X);
            }
            free(W);
        }
    }

    /* Packed weights: every set's product on the packed copy equals the
     * scalar set's on the original rows, bit for bit (67 rows: a padded
     * last group). */
    {
        static const uint32_t packable[] = { LLP_Q4_0, LLP_Q4_1, LLP_Q5_0, LLP_Q5_1, LLP_Q8_0,
                                             LLP_Q2_K, LLP_Q3_K, LLP_Q4_K, LLP_Q5_K, LLP_Q6_K };
        for (size_t ti = 0; ti < sizeof packable / sizeof packable[0]; ti++) {
            uint32_t type = packable[ti];
            for (int random_codes = 0; random_codes <= 1; random_codes++) {
                int64_t n_in = 768;
                uint8_t *W = make_weights(type, n_in, n_out, random_codes);
                void *P = llp_matmul_pack(type, W, n_in, n_out);
                ok(P != NULL && llp_matmul_packed_bytes(type, n_in, n_out) ==
                   80 * llp_row_size(type, n_in), "%s packs 67 rows into 5 groups of 16",
                   llp_type_name(type));
                for (size_t ki = 0; ki < sizeof n_toks / sizeof n_toks[0]; ki++) {
                    int64_t n_tok = n_toks[ki];
                    float *X = llp_malloc(sizeof(float) * (size_t)(n_in * n_tok));
                    for (int64_t i = 0; i < n_in * n_tok; i++) X[i] = rng_normal();
                    size_t ny = sizeof(float) * (size_t)(n_out * n_tok);
                    float *want = llp_malloc(ny), *got = llp_malloc(ny);
                    llp_matmul_set_kernels("scalar");
                    llp_matmul(pool, type, W, n_in, n_out, X, n_tok, want);
                    for (int s = 0; s < 3; s++) {
                        if (llp_matmul_set_kernels(sets[s]) != 0) continue;
                        memset(got, 0xff, ny);
                        llp_matmul_packed(pool, type, P, n_in, n_out, X, n_tok, got);
                        ok(memcmp(got, want, ny) == 0, "%s %s%s n_tok %lld: packed weights "
                           "equal the scalar set on the original rows bit for bit", sets[s],
                           llp_type_name(type), random_codes ? " random codes" : "",
                           (long long)n_tok);
                    }
                    free(X); free(want); free(got);
                }
                free(P);
                free(W);
            }
        }
        ok(!llp_pack_supported(LLP_F16) && llp_matmul_pack(LLP_F16, NULL, 256, 16) == NULL,
           "a type without a packed layout is not packed");

        /* Generation reads up to 8 groups side by side (memory streams).
         * Without a pool one task takes 90% of the groups and a second the
         * rest (matmul.c), so 16g - 5 rows for g = 1 .. 10 (the last group
         * padded) give tasks of every group count from 1 to 9, and 1000
         * rows (63 groups) full sets of streams with remainders. */
        for (size_t ti = 0; ti < sizeof packable / sizeof packable[0]; ti++) {
            uint32_t type = packable[ti];
            for (int g = 1; g <= 11; g++) {
                int64_t n_in = 256, rows = g <= 10 ? 16 * g - 5 : 1000;
                uint8_t *W = make_weights(type, n_in, rows, 1);
                void *P = llp_matmul_pack(type, W, n_in, rows);
                float *X = llp_malloc(sizeof(float) * (size_t)n_in);
                for (int64_t i = 0; i < n_in; i++) X[i] = rng_normal();
                float *want = llp_malloc(sizeof(float) * (size_t)rows);
                float *got = llp_malloc(sizeof(float) * (size_t)rows);
                llp_matmul_set_kernels("scalar");
                llp_matmul(NULL, type, W, n_in, rows, X, 1, want);
                for (int s = 0; s < 3; s++) {
                    if (llp_matmul_set_kernels(sets[s]) != 0) continue;
                    memset(got, 0xff, sizeof(float) * (size_t)rows);
                    llp_matmul_packed(NULL, type, P, n_in, rows, X, 1, got);
                    ok(memcmp(got, want, sizeof(float) * (size_t)rows) == 0,
                       "%s %s %lld rows x 1 token: packed equals scalar bit for bit",
                       sets[s], llp_type_name(type), (long long)rows);
                }
                free(W); free(P); free(X); free(want); free(got);
            }
        }
    }

    /* Single-threaded (NULL pool) and a product larger than one task. */
    llp_matmul_set_kernels(sets[n_sets - 1]);
    {
        int64_t n_in = 512, rows = 1000, n_tok = 70;
        uint8_t *W = make_weights(LLP_Q4_0, n_in, rows, 0);
        float *X = llp_malloc(sizeof(float) * (size_t)(n_in * n_tok));
        for (int64_t i = 0; i < n_in * n_tok; i++) X[i] = rng_normal();
        float *a = llp_malloc(sizeof(float) * (size_t)(rows * n_tok));
        float *b = llp_malloc(sizeof(float) * (size_t)(rows * n_tok));
        llp_matmul(NULL, LLP_Q4_0, W, n_in, rows, X, n_tok, a);
        llp_matmul(pool, LLP_Q4_0, W, n_in, rows, X, n_tok, b);
        ok(memcmp(a, b, sizeof(float) * (size_t)(rows * n_tok)) == 0,
           "%s Q4_0 1000x512 x 70 tokens: pool and single thread agree bit for bit",
           llp_matmul_kernels());
        free(W); free(X); free(a); free(b);
    }
    llp_pool_free(pool);
    return done_testing();
}
