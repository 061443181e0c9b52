/*
 * quant_roundtrip.c — quantize then dequantize keeps the values close.
 *
 * For every type llp_quantize_row writes: the RMS error of a round trip on
 * Gaussian rows, relative to the RMS of the data, stays under a measured
 * bound (table below); an all-zero row comes back all zero; a constant row
 * comes back as that constant; values already on a legacy block's grid come
 * back exactly; the returned size is llp_row_size.
 *
 * Not for: the bit layouts (quant_blocks.c).
 *
 * Measured relative RMS error (65536 values of N(0, sigma^2) from this
 * file's seeded generator; the larger of sigma = 1 and sigma = 0.02), and
 * for comparison the error of llama.cpp's own quantizer on the fxa-*
 * fixture models against fxa-f32 (same measure, mean over the tensors of
 * that type), next to ours re-quantizing the same f32 tensors:
 *
 *   type   Gaussian   bound      fxa: llama.cpp   fxa: ours
 *   F16    0.00021    0.00023    0.0002           -
 *   BF16   0.00166    0.00175    0.0017           -
 *   Q8_0   0.00534    0.0056     0.0053           0.0053
 *   Q6_K   0.01689    0.0178     0.0177           0.0168
 *   Q5_1   0.03392    0.0357     0.0378           0.0337
 *   Q5_K   0.03480    0.0366     0.0361           0.0347
 *   Q5_0   0.04014    0.0422     0.0426           0.0399
 *   Q4_1   0.06990    0.0734     0.0782           0.0698
 *   Q4_K   0.07055    0.0741     0.0713           0.0704
 *   Q4_0   0.08100    0.0851     0.0858           0.0807
 *   Q3_K   0.14362    0.1509     0.1509           0.1434
 *   Q2_K   0.26725    0.2807     0.2965           0.2673
 *
 * Bounds are the measurement plus 5 %, so a change to an encoder that makes
 * it worse fails here; a change that makes it better should lower them.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "quant.h"
#include "tap.h"
#include "util.h"

static const struct {
    uint32_t type;
    double bound;          /* relative RMS error on Gaussian data */
} bounds[] = {
    { LLP_F32,  0.0 },
    { LLP_F16,  0.00023 },
    { LLP_BF16, 0.00175 },
    { LLP_Q8_0, 0.0056 },
    { LLP_Q6_K, 0.0178 },
    { LLP_Q5_1, 0.0357 },
    { LLP_Q5_K, 0.0366 },
    { LLP_Q5_0, 0.0422 },
    { LLP_Q4_1, 0.0734 },
    { LLP_Q4_K, 0.0741 },
    { LLP_Q4_0, 0.0851 },
    { LLP_Q3_K, 0.1509 },
    { LLP_Q2_K, 0.2807 },
};
#define N_TYPES (sizeof bounds / sizeof bounds[0])

static uint64_t rng_state = 0x2545f4914f6cdd1dull;

static double rng_unit(void)          /* (0, 1) */
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return ((rng_state >> 11) + 0.5) / 9007199254740992.0;
}

static float rng_gauss(void)
{
    double u = rng_unit(), v = rng_unit();
    return (float)(sqrt(-2 * log(u)) * cos(6.283185307179586 * v));
}

/* Quantize and dequantize n values; returns the bytes quantize reported. */
static size_t round_trip(uint32_t type, const float *x, float *y, int64_t n)
{
    void *q = llp_malloc(llp_row_size(type, n));
    size_t bytes = llp_quantize_row(type, x, q, n);
    llp_dequantize_row(type, q, y, n);
    free(q);
    return bytes;
}

static double rel_rms_error(const float *x, const float *y, int64_t n)
{
    double e = 0, s = 0;
    for (int64_t i = 0; i < n; i++) {
        e += ((double)x[i] - y[i]) * ((double)x[i] - y[i]);
        s += (double)x[i] * x[i];
    }
    return s > 0 ? sqrt(e / s) : sqrt(e);
}

static void test_gaussian(uint32_t type, double bound)
{
    const int64_t n = 65536;            /* 256 rows of 256 in one call */
    float *x = llp_malloc(n * sizeof(float)), *y = llp_malloc(n * sizeof(float));
    static const float sigmas[] = { 1.0f, 0.02f };
    for (int s = 0; s < 2; s++) {
        for (int64_t i = 0; i < n; i++) x[i] = sigmas[s] * rng_gauss();
        size_t bytes = round_trip(type, x, y, n);
        double err = rel_rms_error(x, y, n);
        diag("%-5s sigma %-4g relative RMS error %.5f (bound %.5f)",
             llp_type_name(type), sigmas[s], err, bound);
        ok(err <= bound, "%s Gaussian sigma %g: relative RMS error %.5f <= %.5f",
           llp_type_name(type), sigmas[s], err, bound);
        if (s == 0)
            is_int(bytes, llp_row_size(type, n), "%s quantize returns the row size",
                   llp_type_name(type));
    }
    free(x);
    free(y);
}

static void test_zero_row(uint32_t type)
{
    float x[512] = { 0 }, y[512];
    for (int i = 0; i < 512; i++) y[i] = 1.0f;
    round_trip(type, x, y, 512);
    int all_zero = 1;
    for (int i = 0; i < 512; i++)
        if (y[i] != 0.0f) all_zero = 0;
    ok(all_zero, "%s all-zero row comes back all zero", llp_type_name(type));
}

static void test_constant_row(uint32_t type)
{
    static const float constants[] = { 0.7f, -1.3f, 0.02f, -0.05f };
    /* fp16 scales keep 11 significant bits; K-quants multiply two rounded
     * numbers; BF16 keeps 8. */
    double tol = type == LLP_BF16 ? 4e-3 : 1e-3;
    for (size_t c = 0; c < sizeof constants / sizeof constants[0]; c++) {
        float x[512], y[512];
        for (int i = 0; i < 512; i++) x[i] = constants[c];
        round_trip(type, x, y, 512);
        double worst = 0;
        for (int i = 0; i < 512; i++) {
            double rel = fabs((double)y[i] - x[i]) / fabs(x[i]);
            if (rel > worst) worst = rel;
        }
        ok(worst <= tol, "%s constant row %g survives (worst relative error %.2g)",
           llp_type_name(type), constants[c], worst);
    }
}

/* Rows built from a legacy block's own grid (scale 0.25 or so, every level
 * used) are representable exactly, and the scale search finds them. */
static void test_exact_grid(uint32_t type, int lo, int hi, float d, float m)
{
    float x[64], y[64];
    for (int i = 0; i < 64; i++) {
        int level = lo + (i * 7) % (hi - lo + 1);
        if (i % 32 == 0) level = lo;            /* each block spans its range */
        if (i % 32 == 1) level = hi;
        x[i] = d * level + m;
    }
    round_trip(type, x, y, 64);
    int same = 1;
    for (int i = 0; i < 64; i++)
        if (x[i] != y[i]) same = 0;
    ok(same, "%s values on a grid (d=%g, m=%g) survive exactly", llp_type_name(type), d, m);
}

int main(void)
{
    for (size_t t = 0; t < N_TYPES; t++) test_gaussian(bounds[t].type, bounds[t].bound);
    for (size_t t = 0; t < N_TYPES; t++) test_zero_row(bounds[t].type);
    for (size_t t = 0; t < N_TYPES; t++) test_constant_row(bounds[t].type);
    test_exact_grid(LLP_Q8_0, -127, 127, 0.5f, 0);
    test_exact_grid(LLP_Q4_0, -8, 7, 0.25f, 0);
    test_exact_grid(LLP_Q4_0, -8, 7, -0.125f, 0);
    test_exact_grid(LLP_Q5_0, -16, 15, 0.0625f, 0);
    test_exact_grid(LLP_Q4_1, 0, 15, 0.25f, -1.5f);
    test_exact_grid(LLP_Q5_1, 0, 31, 0.125f, 0.75f);
    return done_testing();
}
