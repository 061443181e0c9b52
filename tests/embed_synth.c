/*
 * embed_synth.c — embedding behaviour on a random-weight model, with no
 * fixtures: every pooling mode and normalization against a plain
 * computation from llp_decode's hidden rows; several texts per forward call
 * (and texts spanning several calls) equal to one text at a time;
 * truncation and chunking of texts longer than the context; empty texts;
 * and cosine search over a stored collection (a text's nearest neighbour is
 * itself, best first, model filter, k).
 *
 * Not for: agreement with llama.cpp (tests/embed_vectors.c) or the command
 * line (tests/cli_embed.t).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "embed.h"
#include "engine.h"
#include "quant.h"
#include "synth.h"
#include "tap.h"

static const char *texts[] = {
    "The quick brown fox jumps over the lazy dog.",
    "A stitch in time saves nine.",
    "Pipes connect small programs into larger ones.",
    "x",
    "Every record is written to the store, one transaction per batch.",
    "Bread needs flour, water, salt, yeast and patience.",
};
enum { N_TEXTS = sizeof texts / sizeof texts[0] };

static llp_engine *eng;
static int dim;

static llp_context *new_ctx(int n_ctx, int n_seq, int n_batch)
{
    llp_err err;
    llp_context_params cp = { .n_ctx = n_ctx, .n_seq = n_seq, .n_batch = n_batch,
                              .n_threads = 2 };
    llp_context *c = llp_context_new(eng->model, &cp, &err);
    if (!c) diag("%s", err.msg);
    return c;
}

/* The pooled hidden states of ids (no normalization), computed plainly:
 * one sequence, every row wanted, then the pooling by hand. */
static void plain_pool(const int32_t *ids, int n, llp_pooling p, double *out)
{
    llp_context *c = new_ctx(n, 1, n);
    int32_t *pos = malloc(sizeof(int32_t) * (size_t)n);
    bool *want = malloc(sizeof(bool) * (size_t)n);
    float *h = malloc(sizeof(float) * (size_t)n * dim);
    for (int i = 0; i < n; i++) {
        pos[i] = i;
        want[i] = true;
    }
    llp_batch b = { n, ids, pos, NULL, want };
    llp_err err;
    if (llp_decode(c, &b, NULL, h, &err)) diag("%s", err.msg);
    for (int d = 0; d < dim; d++) {
        double s = 0;
        if (p == LLP_POOL_MEAN) {
            for (int t = 0; t < n; t++) s += h[(size_t)t * dim + d];
            s /= n;
        } else {
            s = h[(size_t)(p == LLP_POOL_CLS ? 0 : n - 1) * dim + d];
        }
        out[d] = s;
    }
    free(pos);
    free(want);
    free(h);
    llp_context_free(c);
}

static llp_tokens bos_tokens(const char *text)
{
    llp_tokens t = { 0 };
    llp_tokens_push(&t, llp_tokenizer_bos(eng->tok));
    llp_tokenize(eng->tok, text, strlen(text), false, false, &t, NULL);
    return t;
}

static double max_diff(const float *a, const double *b)
{
    double m = 0;
    for (int d = 0; d < dim; d++) m = fmax(m, fabs(a[d] - b[d]));
    return m;
}

static double max_diff_f(const float *a, const float *b)
{
    double m = 0;
    for (int d = 0; d < dim; d++) m = fmax(m, fabs((double)a[d] - b[d]));
    return m;
}

static void normalize_d(double *v)
{
    double ss = 0;
    for (int d = 0; d < dim; d++) ss += v[d] * v[d];
    for (int d = 0; d < dim; d++) v[d] /= sqrt(ss);
}

static int embed(llp_context *c, const llp_embed_params *p, const char *const *tv, int n,
                 llp_embed_result *out)
{
    size_t lens[16];
    for (int i = 0; i < n; i++) lens[i] = strlen(tv[i]);
    llp_embedder *e = llp_embedder_new(c, eng->tok, p);
    llp_err err;
    int rc = llp_embed_texts(e, tv, lens, n, out, &err);
    if (rc) diag("%s", err.msg);
    llp_embedder_free(e);
    return rc;
}

static void test_pooling(void)
{
    llp_context *c = new_ctx(256, 8, 512);
    for (int p = 0; p < 3; p++)
        for (int nm = 0; nm < 2; nm++) {
            llp_embed_params ep = { .pooling = (llp_pooling)p, .normalize = (llp_embed_norm)nm,
                                    .add_bos = -1 };
            llp_embed_result r[N_TEXTS] = { 0 };
            ok(embed(c, &ep, texts, N_TEXTS, r) == 0, "%s/%s: embeds %d texts",
               llp_pooling_name(ep.pooling), llp_embed_norm_name(ep.normalize), N_TEXTS);
            double worst = 0, norm_err = 0;
            for (int i = 0; i < N_TEXTS; i++) {
                llp_tokens t = bos_tokens(texts[i]);
                double want[1024];
                plain_pool(t.ids, (int)t.n, ep.pooling, want);
                if (ep.normalize == LLP_EMBED_L2) normalize_d(want);
                if (r[i].vec) worst = fmax(worst, max_diff(r[i].vec, want));
                else worst = INFINITY;
                double ss = 0;
                for (int d = 0; r[i].vec && d < dim; d++) ss += (double)r[i].vec[d] * r[i].vec[d];
                norm_err = fmax(norm_err, fabs(sqrt(ss) - 1));
                if (r[i].n_tokens != (int)t.n) worst = INFINITY;
                llp_tokens_free(&t);
                llp_embed_result_free(&r[i]);
            }
            ok(worst < 1e-4, "%s/%s: equals the plain pooling (max diff %.2g)",
               llp_pooling_name(ep.pooling), llp_embed_norm_name(ep.normalize), worst);
            if (ep.normalize == LLP_EMBED_L2)
                ok(norm_err < 1e-5, "%s/l2: unit length (max error %.2g)",
                   llp_pooling_name(ep.pooling), norm_err);
            else
                ok(norm_err > 1e-3, "%s/none: not rescaled (length differs from 1 by %.3g)",
                   llp_pooling_name(ep.pooling), norm_err);
        }
    llp_context_free(c);
}

static void test_batching(void)
{
    llp_embed_params ep = { .add_bos = -1 };
    llp_context *big = new_ctx(256, 8, 512), *narrow = new_ctx(256, 3, 7), *one = new_ctx(256, 1, 512);
    llp_embed_result all[N_TEXTS] = { 0 }, split[N_TEXTS] = { 0 };
    embed(big, &ep, texts, N_TEXTS, all);
    embed(narrow, &ep, texts, N_TEXTS, split);
    double worst = 0, worst_split = 0;
    for (int i = 0; i < N_TEXTS; i++) {
        llp_embed_result alone = { 0 };
        embed(one, &ep, &texts[i], 1, &alone);
        if (alone.vec && all[i].vec && split[i].vec) {
            worst = fmax(worst, max_diff_f(alone.vec, all[i].vec));
            worst_split = fmax(worst_split, max_diff_f(alone.vec, split[i].vec));
        } else {
            worst = INFINITY;
        }
        llp_embed_result_free(&alone);
        llp_embed_result_free(&all[i]);
        llp_embed_result_free(&split[i]);
    }
    ok(worst < 1e-5, "%d texts in one call equal one at a time (max diff %.2g)", N_TEXTS, worst);
    ok(worst_split < 1e-5,
       "3 sequences, 7 tokens per call (texts across calls) equal one at a time (max diff %.2g)",
       worst_split);
    llp_context_free(big);
    llp_context_free(narrow);
    llp_context_free(one);
}

static const char long_text[] =
    "Splitting a long text into windows keeps every token in play. The first window "
    "starts with the beginning of sequence token, and so does every window after it. "
    "Each window is pooled on its own and the pooled vectors are averaged, weighted by "
    "how many tokens each window held.";

static void test_long(void)
{
    const int n_ctx = 16;
    llp_context *c = new_ctx(n_ctx, 4, 512);
    llp_tokens t = bos_tokens(long_text);
    int content = (int)t.n - 1;
    const char *tv[] = { long_text };

    llp_embed_params trunc = { .normalize = LLP_EMBED_NONE, .add_bos = -1 };
    llp_embed_result r = { 0 };
    embed(c, &trunc, tv, 1, &r);
    ok(r.truncated && r.n_tokens == n_ctx && r.n_chunks == 1,
       "truncate: %d tokens to a context of %d: truncated, %d tokens fed", (int)t.n, n_ctx,
       r.n_tokens);
    double want[1024];
    plain_pool(t.ids, n_ctx, LLP_POOL_MEAN, want);
    ok(r.vec && max_diff(r.vec, want) < 1e-4, "truncate: the mean of the first %d tokens", n_ctx);
    llp_embed_result_free(&r);

    for (int p = 0; p < 3; p++) {
        llp_embed_params chunk = { .pooling = (llp_pooling)p, .normalize = LLP_EMBED_NONE,
                                   .long_mode = LLP_EMBED_CHUNK, .add_bos = -1 };
        embed(c, &chunk, tv, 1, &r);
        int per = n_ctx - 1, n_win = (content + per - 1) / per;
        ok(!r.truncated && r.n_chunks == n_win && r.n_tokens == content + n_win,
           "chunk/%s: %d windows, %d tokens, not truncated", llp_pooling_name(chunk.pooling),
           r.n_chunks, r.n_tokens);
        /* expected: windows [BOS + 15 content tokens], pooled, weighted by size */
        double acc[1024] = { 0 }, w = 0;
        for (int s = 0; s < content; s += per) {
            int take = content - s < per ? content - s : per;
            int32_t ids[64];
            ids[0] = t.ids[0];
            memcpy(ids + 1, t.ids + 1 + s, sizeof(int32_t) * (size_t)take);
            double pooled[1024];
            plain_pool(ids, take + 1, chunk.pooling, pooled);
            for (int d = 0; d < dim; d++) acc[d] += pooled[d] * (take + 1);
            w += take + 1;
        }
        for (int d = 0; d < dim; d++) acc[d] /= w;
        double diff = r.vec ? max_diff(r.vec, acc) : INFINITY;
        ok(diff < 1e-4, "chunk/%s: token-weighted average of the windows (max diff %.2g)",
           llp_pooling_name(chunk.pooling), diff);
        llp_embed_result_free(&r);
    }
    llp_embed_params l2 = { .long_mode = LLP_EMBED_CHUNK, .add_bos = -1 };
    embed(c, &l2, tv, 1, &r);
    double ss = 0;
    for (int d = 0; r.vec && d < dim; d++) ss += (double)r.vec[d] * r.vec[d];
    ok(fabs(sqrt(ss) - 1) < 1e-5, "chunk/l2: normalized after averaging");
    llp_embed_result_free(&r);
    llp_tokens_free(&t);
    llp_context_free(c);
}

static void test_errors(void)
{
    llp_context *c = new_ctx(64, 4, 512);
    llp_embed_params ep = { .add_bos = -1 };
    const char *tv[] = { "one", "", "three" };
    llp_embed_result r[3] = { 0 };
    ok(embed(c, &ep, tv, 3, r) == 0, "an empty text does not stop the call");
    ok(r[0].vec && !r[1].vec && r[1].error && strcmp(r[1].error, "empty text") == 0 && r[2].vec,
       "the empty text alone carries 'empty text'");
    for (int i = 0; i < 3; i++) llp_embed_result_free(&r[i]);
    llp_embed_params nobos = { .add_bos = 0 };
    embed(c, &nobos, tv, 1, r);
    llp_embed_result with = { 0 };
    embed(c, &ep, tv, 1, &with);
    ok(r[0].n_tokens + 1 == with.n_tokens, "no BOS: %d tokens, with BOS %d", r[0].n_tokens,
       with.n_tokens);
    llp_embed_result_free(&r[0]);
    llp_embed_result_free(&with);
    llp_err err;
    llp_pooling pl;
    ok(llp_pooling_parse("max", &pl, &err) == -1 &&
           strcmp(err.msg, "--pooling: expected one of mean, cls, last, got 'max'") == 0,
       "bad --pooling names the choices: %s", err.msg);
    float a[3] = { 1, 0, 0 }, b[3] = { 2, 0, 0 }, z[3] = { 0 };
    ok(fabsf(llp_cosine(a, b, 3) - 1) < 1e-7 && llp_cosine(a, z, 3) == 0,
       "cosine: parallel 1, zero vector 0");
    llp_context_free(c);
}

static void test_search(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/embed_synth_%d.db", tmp_dir(), (int)getpid());
    unlink(path);
    llp_err err;
    llp_store *s = llp_store_open(path, &err);
    if (!ok(s != NULL, "store opens")) {
        diag("%s", err.msg);
        return;
    }
    llp_context *c = new_ctx(256, 8, 512);
    llp_embed_params ep = { .add_bos = -1 };
    llp_embed_result r[N_TEXTS] = { 0 };
    embed(c, &ep, texts, N_TEXTS, r);
    for (int i = 0; i < N_TEXTS; i++) {
        char id[16], h[LLP_HASH_HEX];
        snprintf(id, sizeof id, "t%d", i);
        llp_hash128(texts[i], strlen(texts[i]), h);
        llp_store_embedding_put(s, "col", id, texts[i], strlen(texts[i]), h, r[i].vec, dim, eng->fingerprint, &err);
    }
    float other[1024];
    memcpy(other, r[0].vec, sizeof(float) * (size_t)dim);
    llp_store_embedding_put(s, "col", "other-model", NULL, 0, "h-other", other, dim, "fp-other", &err);
    llp_store_embedding_put(s, "col", "short", NULL, 0, "h-short", other, 8, eng->fingerprint, &err);
    int self_first = 0, ordered = 1;
    for (int i = 0; i < N_TEXTS; i++) {
        llp_neighbor hits[N_TEXTS + 2];
        int n = 0;
        llp_embed_search(s, "col", eng->fingerprint, r[i].vec, dim, N_TEXTS + 2, hits, &n, &err);
        char id[16];
        snprintf(id, sizeof id, "t%d", i);
        if (n == N_TEXTS && strcmp(hits[0].record_id, id) == 0 && fabsf(hits[0].score - 1) < 1e-5
            && hits[0].text && strcmp(hits[0].text, texts[i]) == 0)
            self_first++;
        for (int j = 0; j < n; j++) {
            if (j > 0 && hits[j].score > hits[j - 1].score) ordered = 0;
            if (!strcmp(hits[j].record_id, "other-model") || !strcmp(hits[j].record_id, "short"))
                ordered = 0;
            free(hits[j].record_id);
            free(hits[j].text);
        }
    }
    is_int(self_first, N_TEXTS, "each text's nearest neighbour is itself with score 1, with its stored text");
    ok(ordered, "hits best first; other models' and other dimensions' vectors left out");
    llp_neighbor two[2];
    int n = 0;
    llp_embed_search(s, "col", eng->fingerprint, r[1].vec, dim, 2, two, &n, &err);
    ok(n == 2 && strcmp(two[0].record_id, "t1") == 0, "k = 2 gives two hits");
    for (int j = 0; j < n; j++) {
        free(two[j].record_id);
        free(two[j].text);
    }
    n = 0;
    llp_neighbor all[20];
    llp_embed_search(s, "col", NULL, r[0].vec, dim, 20, all, &n, &err);
    is_int(n, N_TEXTS + 1, "without a model filter every vector of the dimension is searched");
    for (int j = 0; j < n; j++) {
        free(all[j].record_id);
        free(all[j].text);
    }
    llp_embed_search(s, "none", NULL, r[0].vec, dim, 3, all, &n, &err);
    is_int(n, 0, "an empty collection gives no hits");
    for (int i = 0; i < N_TEXTS; i++) llp_embed_result_free(&r[i]);
    llp_context_free(c);
    llp_store_close(s);
    unlink(path);
}

int main(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/embed_synth_%d.gguf", tmp_dir(), (int)getpid());
    llp_synth_spec spec = { 0 };
    llp_synth_shape("tiny", &spec);
    spec.type = LLP_F32;
    spec.output_type = LLP_TYPE_COUNT;
    spec.seed = 11;
    llp_err err;
    if (llp_synth_write(&spec, path, &err)) {
        diag("%s", err.msg);
        ok(0, "synthetic model written");
        return done_testing();
    }
    llp_engine_opts eo = { .model_path = path, .n_ctx = 64, .n_threads = 2 };
    eng = llp_engine_open(&eo, &err);
    if (!ok(eng != NULL, "synthetic model opens")) {
        diag("%s", err.msg);
        return done_testing();
    }
    dim = eng->model->cfg.dim;
    test_pooling();
    test_batching();
    test_long();
    test_errors();
    test_search();
    llp_engine_free(eng);
    unlink(path);
    return done_testing();
}
