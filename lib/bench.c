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
        out->parallel = 1;
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
        out->parallel = 1;
        summarise(rates, reps, out);
        out->weight_bytes_s = (double)llp_bench_bytes_per_token(m) * out->tok_s_median;
    }
    free(logits);
    free(rates);
    return rc;
}

/* One repetition: returns the pp and tg seconds. */
static int parallel_once(llp_context *ctx, int n_seq, int n_prompt, int n_gen, uint64_t *rng,
                         double *t_pp, double *t_tg, llp_err *err)
{
    const llp_model *m = llp_context_model(ctx);
    int n_vocab = m->cfg.n_vocab, n_batch = llp_context_n_batch(ctx);
    int cap = n_batch > n_seq ? n_batch : n_seq;
    int32_t *tok = llp_malloc(sizeof(int32_t) * (size_t)cap);
    int32_t *pos = llp_malloc(sizeof(int32_t) * (size_t)cap);
    int32_t *seq = llp_malloc(sizeof(int32_t) * (size_t)cap);
    bool *want = llp_malloc(sizeof(bool) * (size_t)cap);
    float *logits = llp_malloc(sizeof(float) * (size_t)cap * (size_t)n_vocab);
    int rc = 0;
    /* prompts: sequence after sequence, cut into forward calls of n_batch */
    double t0 = llp_now();
    long total = (long)n_seq * n_prompt;
    for (long done = 0; done < total && rc == 0;) {
        int n = total - done < n_batch ? (int)(total - done) : n_batch;
        for (int i = 0; i < n; i++) {
            long k = done + i;
            seq[i] = (int32_t)(k / n_prompt);
            pos[i] = (int32_t)(k % n_prompt);
            tok[i] = pos[i] == 0 ? 1 : random_token(rng, n_vocab);
            want[i] = pos[i] == n_prompt - 1;
        }
        llp_batch b = { n, tok, pos, seq, want };
        rc = llp_decode(ctx, &b, logits, NULL, err);
        done += n;
    }
    *t_pp = llp_now() - t0;
    /* generation: one token of every sequence per call */
    t0 = llp_now();
    for (int step = 0; step < n_gen && rc == 0; step++) {
        for (int s = 0; s < n_seq; s++) {
            seq[s] = s;
            pos[s] = n_prompt + step;
            tok[s] = pos[s] == 0 ? 1 : random_token(rng, n_vocab);
            want[s] = true;
        }
        llp_batch b = { n_seq, tok, pos, seq, want };
        rc = llp_decode(ctx, &b, logits, NULL, err);
    }
    *t_tg = llp_now() - t0;
    free(tok);
    free(pos);
    free(seq);
    free(want);
    free(logits);
    return rc;
}

int llp_bench_parallel(llp_context *ctx, int n_seq, int n_prompt, int n_gen, int reps,
                       int threads, uint64_t seed, llp_bench_result *pp, llp_bench_result *tg,
                       llp_err *err)
{
    if (n_seq < 1 || n_seq > llp_context_n_seq(ctx))
        return llp_err_set(err, "%d sequences do not fit a context of %d", n_seq,
                           llp_context_n_seq(ctx));
    if (n_prompt + n_gen > llp_context_n_ctx(ctx))
        return llp_err_set(err, "pp %d + tg %d do not fit the context of %d", n_prompt, n_gen,
                           llp_context_n_ctx(ctx));
    double *pp_rates = llp_malloc(sizeof(double) * (size_t)(reps + 1));
    double *tg_rates = llp_malloc(sizeof(double) * (size_t)(reps + 1));
    uint64_t rng = seed | 1;
    int rc = 0;
    for (int r = -1; r < reps && rc == 0; r++) {       /* r = -1: warm-up */
        double t_pp, t_tg;
        rc = parallel_once(ctx, n_seq, n_prompt, n_gen, &rng, &t_pp, &t_tg, err);
        if (r >= 0) {
            pp_rates[r] = t_pp > 0 ? (double)n_seq * n_prompt / t_pp : 0;
            tg_rates[r] = t_tg > 0 ? (double)n_seq * n_gen / t_tg : 0;
        }
    }
    if (rc == 0) {
        llp_bench_result *outs[2] = { pp, tg };
        double *rates[2] = { pp_rates, tg_rates };
        for (int k = 0; k < 2; k++) {
            memset(outs[k], 0, sizeof *outs[k]);
            outs[k]->test = k ? "tg" : "pp";
            outs[k]->n_tokens = k ? n_gen : n_prompt;
            outs[k]->threads = threads;
            outs[k]->parallel = n_seq;
            summarise(rates[k], reps, outs[k]);
        }
        /* each step reads the weights once for n_seq tokens */
        tg->weight_bytes_s = (double)llp_bench_bytes_per_token(llp_context_model(ctx)) *
                             tg->tok_s_median / n_seq;
    }
    free(pp_rates);
    free(tg_rates);
    return rc;
}
