/*
 * bench.c — pp and tg measurements (see bench.h).
 */
#include "bench.h"

#include <stdlib.h>
#include <string.h>

#include "quant.h"

uint64_t llp_bench_bytes_per_token(const llp_model *m)
{
    const llp_config *c = &m->cfg;
    uint64_t bytes = llp_row_size(m->token_embd.type, c->dim);
    bytes += (uint64_t)llp_row_size(m->output.type, c->dim) * (uint64_t)c->n_vocab;
    for (int l = 0; l < c->n_layers; l++) {
        const llp_layer *L = &m->layers[l];
        const llp_weight *ws[] = { &L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_up,
                                   &L->w_down };
        for (size_t i = 0; i < sizeof ws / sizeof ws[0]; i++)
            bytes += (uint64_t)llp_row_size(ws[i]->type, ws[i]->n_in) * (uint64_t)ws[i]->n_out;
    }
    return bytes;
}

static int by_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void summarise(double *rates, int reps, llp_bench_result *out)
{
    qsort(rates, (size_t)reps, sizeof *rates, by_double);
    out->tok_s_min = rates[0];
    out->tok_s_max = rates[reps - 1];
    out->tok_s_median = reps % 2 ? rates[reps / 2] : 0.5 * (rates[reps / 2 - 1] + rates[reps / 2]);
}

static int32_t random_token(uint64_t *s, int n_vocab)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return (int32_t)(3 + *s % (uint64_t)(n_vocab - 3));   /* past <unk>, <s>, </s> */
}

int llp_bench_pp(llp_context *ctx, int n_prompt, int reps, int threads, uint64_t seed,
                 llp_bench_result *out, llp_err *err)
{
    const llp_model *m = llp_context_model(ctx);
    if (n_prompt < 1 || n_prompt > llp_context_n_ctx(ctx))
        return llp_err_set(err, "pp %d does not fit the context of %d", n_prompt,
                           llp_context_n_ctx(ctx));
    int32_t *tokens = llp_malloc(sizeof(int32_t) * (size_t)n_prompt);
    float *logits = llp_malloc(sizeof(float) * (size_t)m->cfg.n_vocab);
    double *rates = llp_malloc(sizeof(double) * (size_t)(reps + 1));
    uint64_t rng = seed | 1;
    int rc = 0;
    for (int r = -1; r < reps && rc == 0; r++) {       /* r = -1: warm-up */
        tokens[0] = 1;
        for (int i = 1; i < n_prompt; i++) tokens[i] = random_token(&rng, m->cfg.n_vocab);
        double t0 = llp_now();
        rc = llp_decode_tokens(ctx, 0, 0, tokens, n_prompt, logits, err);
        double dt = llp_now() - t0;
        if (r >= 0) rates[r] = n_prompt / dt;
    }
    if (rc == 0) {
        memset(out, 0, sizeof *out);
        out->test = "pp";
        out->n_tokens = n_prompt;
        out->threads = threads;
        summarise(rates, reps, out);
    }
    free(tokens);
    free(logits);
    free(rates);
    return rc;
}

int llp_bench_tg(llp_context *ctx, int n_gen, int reps, int threads, uint64_t seed,
                 llp_bench_result *out, llp_err *err)
{
    const llp_model *m = llp_context_model(ctx);
    if (n_gen < 1 || n_gen + 1 > llp_context_n_ctx(ctx))
        return llp_err_set(err, "tg %d does not fit the context of %d", n_gen,
                           llp_context_n_ctx(ctx));
    float *logits = llp_malloc(sizeof(float) * (size_t)m->cfg.n_vocab);
    double *rates = llp_malloc(sizeof(double) * (size_t)(reps + 1));
    uint64_t rng = seed | 1;
    int rc = 0;
    for (int r = -1; r < reps && rc == 0; r++) {
        int32_t tok = 1;
        double t0 = llp_now();
        for (int i = 0; i < n_gen && rc == 0; i++) {
            rc = llp_decode_tokens(ctx, 0, i, &tok, 1, logits, err);
            tok = random_token(&rng, m->cfg.n_vocab);
        }
        double dt = llp_now() - t0;
        if (r >= 0) rates[r] = n_gen / dt;
    }
    if (rc == 0) {
        memset(out, 0, sizeof *out);
        out->test = "tg";
        out->n_tokens = n_gen;
        out->threads = threads;
        summarise(rates, reps, out);
        out->weight_bytes_s = (double)llp_bench_bytes_per_token(m) * out->tok_s_median;
    }
    free(logits);
    free(rates);
    return rc;
}
