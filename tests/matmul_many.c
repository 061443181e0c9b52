/*
 * matmul_many.c — llp_matmul_many (several products of one input in one
 * pool run) gives exactly what separate llp_matmul / llp_matmul_packed calls
 * give: mixed activation formats (32- and 256-value blocks), packed and
 * plain weights, float weights (not fused), generation and batch sizes;
 * and which kernel sets have models packed (llp_matmul_prefers_packed).
 *
 * Not for: the kernels' arithmetic (tests/kernels_vs_ref.c).
 */
#include "matmul.h"
#include "quant.h"
#include "threads.h"
#include "util.h"
#include "tap.h"
#include "rng.h"
#include "kernels/kernels.h"

#include <stdlib.h>
#include <string.h>

static void *quantized(uint32_t type, int64_t n_in, int64_t n_out)
{
    size_t row = llp_row_size(type, n_in);
    uint8_t *w = llp_malloc(row * (size_t)n_out);
    float *x = llp_malloc(sizeof(float) * (size_t)n_in);
    for (int64_t r = 0; r < n_out; r++) {
        for (int64_t i = 0; i < n_in; i++) x[i] = 0.05f * rng_float();
        llp_quantize_row(type, x, w + (size_t)r * row, n_in);
    }
    free(x);
    return w;
}

int main(void)
{
    llp_pool *pool = llp_pool_new(2);
    const int64_t n_in = 512;
    static const struct { uint32_t type; int64_t n_out; bool pack; } mats[] = {
        { LLP_Q4_0, 67, true }, { LLP_Q6_K, 40, false }, { LLP_Q8_0, 33, false },
        { LLP_Q4_K, 16, false },
    };
    const int n_mats = (int)(sizeof mats / sizeof mats[0]);
    void *W[4], *P[4];
    for (int i = 0; i < n_mats; i++) {
        W[i] = quantized(mats[i].type, n_in, mats[i].n_out);
        P[i] = mats[i].pack ? llp_matmul_pack(mats[i].type, W[i], n_in, mats[i].n_out) : NULL;
        ok(!mats[i].pack || P[i] != NULL, "%s packed", llp_type_name(mats[i].type));
    }
    static const int n_toks[] = { 1, 2, 9, 70 };
    for (size_t k = 0; k < sizeof n_toks / sizeof n_toks[0]; k++) {
        int64_t n_tok = n_toks[k];
        float *X = llp_malloc(sizeof(float) * (size_t)(n_in * n_tok));
        for (int64_t i = 0; i < n_in * n_tok; i++) X[i] = rng_float();
        llp_matmul_op ops[4];
        float *want[4];
        for (int i = 0; i < n_mats; i++) {
            size_t ny = sizeof(float) * (size_t)(mats[i].n_out * n_tok);
            want[i] = llp_malloc(ny);
            if (P[i])
                llp_matmul_packed(pool, mats[i].type, P[i], n_in, mats[i].n_out, X, n_tok,
                                  want[i]);
            else
                llp_matmul(pool, mats[i].type, W[i], n_in, mats[i].n_out, X, n_tok, want[i]);
            ops[i] = (llp_matmul_op){ mats[i].type, P[i] ? P[i] : W[i], P[i] != NULL,
                                      mats[i].n_out, llp_malloc(ny) };
            memset(ops[i].Y, 0xff, ny);
        }
        llp_matmul_many(pool, ops, n_mats, n_in, X, n_tok);
        for (int i = 0; i < n_mats; i++) {
            size_t ny = sizeof(float) * (size_t)(mats[i].n_out * n_tok);
            ok(memcmp(ops[i].Y, want[i], ny) == 0,
               "n_tok %lld: fused %s%s equals its own product bit for bit", (long long)n_tok,
               llp_type_name(mats[i].type), P[i] ? " (packed)" : "");
            free(ops[i].Y);
            free(want[i]);
        }
        free(X);
    }

    /* Float weights are not fused, but give the same answers. */
    {
        int64_t n_tok = 9, n_out = 24;
        float *Wf = llp_malloc(sizeof(float) * (size_t)(n_in * n_out));
        for (int64_t i = 0; i < n_in * n_out; i++) Wf[i] = rng_float();
        float *X = llp_malloc(sizeof(float) * (size_t)(n_in * n_tok));
        for (int64_t i = 0; i < n_in * n_tok; i++) X[i] = rng_float();
        size_t ny = sizeof(float) * (size_t)(n_out * n_tok);
        float *a = llp_malloc(ny), *b = llp_malloc(ny);
        float *c = llp_malloc(sizeof(float) * (size_t)(67 * n_tok));
        llp_matmul(pool, LLP_F32, Wf, n_in, n_out, X, n_tok, a);
        llp_matmul_op ops[2] = {
            { LLP_F32, Wf, false, n_out, b },
            { LLP_Q4_0, W[0], false, 67, llp_malloc(sizeof(float) * (size_t)(67 * n_tok)) },
        };
        llp_matmul_many(pool, ops, 2, n_in, X, n_tok);
        llp_matmul(pool, LLP_Q4_0, W[0], n_in, 67, X, n_tok, c);
        ok(memcmp(a, b, ny) == 0, "F32 beside Q4_0: same as its own product");
        ok(memcmp(ops[1].Y, c, sizeof(float) * (size_t)(67 * n_tok)) == 0,
           "Q4_0 beside F32: same as its own product");
        free(ops[1].Y); free(a); free(b); free(c); free(X); free(Wf);
    }
    for (int i = 0; i < n_mats; i++) {
        free(W[i]);
        free(P[i]);
    }

    /* Models are packed only for a kernel set with packed products. */
    const char *was = llp_matmul_kernels();
    if (llp_matmul_set_kernels("scalar") == 0)
        ok(!llp_matmul_prefers_packed(LLP_Q4_0), "scalar set: weights are left as stored");
    if (llp_matmul_set_kernels("avx2") == 0) {
        ok(llp_matmul_prefers_packed(LLP_Q4_K) && llp_matmul_prefers_packed(LLP_Q4_0),
           "avx2 set: Q4_K and Q4_0 weights are packed (its packed products)");
        ok(!llp_matmul_prefers_packed(LLP_F32), "avx2 set: F32 weights are left as stored");
    }
    if (llp_matmul_set_kernels("avx512") == 0)
        ok(llp_matmul_prefers_packed(LLP_Q4_0) && llp_matmul_prefers_packed(LLP_Q6_K) &&
           !llp_matmul_prefers_packed(LLP_F16), "avx512 set: quantized weights are packed");
    llp_matmul_set_kernels(was);
    llp_pool_free(pool);
    return done_testing();
}
