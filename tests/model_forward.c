/*
 * model_forward.c — the forward pass, checked against itself.
 *
 * A tiny random model (written with the project's own GGUF writer) is run
 * through the plain scalar reference path and the fast path (threads and
 * kernels); their logits must agree. Then: a prompt fed as one batch gives
 * the same logits as fed token by token (KV cache correctness); two
 * sequences decoded together in one call give what each gives alone; a KV
 * copy of a shared prefix continues like a fresh computation; tied output
 * works; bad tokens and positions are refused. Every check runs with an f32
 * and an f16 KV cache; for quantized weights the batch checks are exact
 * (batch invariance: kv_cache.h, gen_sched.h).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "quant.h"
#include "synth.h"
#include "tap.h"

/* rms(a - b) / rms(a): the typical error, for quantized activations whose
 * rounding moves every logit a little */
static float rms_rel_diff(const float *a, const float *b, size_t n)
{
    double ss = 0, sd = 0;
    for (size_t i = 0; i < n; i++) {
        ss += (double)a[i] * a[i];
        sd += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
    }
    return (float)sqrt(sd / (ss > 0 ? ss : 1));
}

static float max_rel_diff(const float *a, const float *b, size_t n)
{
    double ss = 0, md = 0;
    for (size_t i = 0; i < n; i++) {
        ss += (double)a[i] * a[i];
        double d = fabs((double)a[i] - b[i]);
        if (d > md) md = d;
    }
    double rms = sqrt(ss / n);
    return (float)(md / (rms > 0 ? rms : 1));
}

static const char *make_model(const char *name, uint32_t type, bool tied, int heads_kv)
{
    static char path[4][512];
    static int next;
    char *p = path[next++ % 4];
    snprintf(p, 512, "%s/%s", tmp_dir(), name);
    llp_synth_spec s = { 0 };
    llp_synth_shape("small", &s);
    s.n_heads_kv = heads_kv;
    s.type = type;
    s.output_type = LLP_TYPE_COUNT;
    s.tied = tied;
    s.seed = 7;
    llp_err err;
    if (llp_synth_write(&s, p, &err)) {
        diag("%s", err.msg);
        return NULL;
    }
    return p;
}

/* The KV cache type of the contexts check_type makes. */
static llp_kv_type kv_now = LLP_KV_F32;

static llp_context *new_ctx(const llp_model *m, bool reference, int n_seq)
{
    llp_err err;
    llp_context_params cp = { .n_ctx = 64, .n_seq = n_seq, .n_batch = 32, .n_threads = 2,
                              .reference = reference, .kv_type = kv_now };
    llp_context *c = llp_context_new(m, &cp, &err);
    if (!c) diag("%s", err.msg);
    return c;
}

static const int32_t prompt[] = { 1, 300, 301, 400, 302, 17, 258, 350, 351, 352, 290, 2 };
enum { N_PROMPT = sizeof prompt / sizeof prompt[0] };

/* logits after every prompt token, the whole prompt in one batch */
static void all_logits(llp_context *c, const llp_model *m, float *out)
{
    int32_t pos[N_PROMPT];
    bool want[N_PROMPT];
    for (int i = 0; i < N_PROMPT; i++) { pos[i] = i; want[i] = true; }
    llp_batch b = { N_PROMPT, prompt, pos, NULL, want };
    llp_err err;
    if (llp_decode(c, &b, out, NULL, &err)) diag("%s", err.msg);
    (void)m;
}

static void check_type(uint32_t type, bool tied, int heads_kv)
{
    char name[64];
    snprintf(name, sizeof name, "fwd-%s-%d-%d.gguf", llp_type_name(type), tied, heads_kv);
    const char *path = make_model(name, type, tied, heads_kv);
    snprintf(name + strlen(name), sizeof name - strlen(name), " kv %s", llp_kv_type_name(kv_now));
    llp_err err;
    llp_model *m = path ? llp_model_load(path, &err) : NULL;
    if (!ok(m != NULL, "%s: synthetic model loads", name)) {
        if (path) diag("%s", err.msg);
        return;
    }
    int nv = m->cfg.n_vocab;
    size_t rows = (size_t)N_PROMPT * nv;
    float *ref = llp_malloc(sizeof(float) * rows), *fast = llp_malloc(sizeof(float) * rows);
    float *step = llp_malloc(sizeof(float) * rows);

    llp_context *cr = new_ctx(m, true, 1), *cf = new_ctx(m, false, 1);
    all_logits(cr, m, ref);
    all_logits(cf, m, fast);
    bool finite = true;
    for (size_t i = 0; i < rows; i++) finite = finite && isfinite(ref[i]);
    ok(finite, "%s: reference logits are finite", name);
    /* float weights multiply float activations: only summation order
     * differs. Quantized weights multiply 8-bit activations (as llama.cpp
     * does), which moves each logit by about 1% of the logits' spread. */
    bool float_weights = type == LLP_F32 || type == LLP_F16 || type == LLP_BF16;
    float d = float_weights ? max_rel_diff(ref, fast, rows) : rms_rel_diff(ref, fast, rows);
    /* an f16 cache rounds the slightly different keys of the two paths to
     * different halves now and then */
    float tol = !float_weights ? 3e-2f : kv_now == LLP_KV_F16 ? 1e-3f : 1e-4f;
    ok(d <= tol, "%s: fast path matches the scalar reference (%s %.2e <= %.0e)", name,
       float_weights ? "max|d|/rms" : "rms(d)/rms", d, tol);

    /* token by token through the KV cache, fast path */
    llp_context *cs = new_ctx(m, false, 1);
    for (int i = 0; i < N_PROMPT; i++)
        llp_decode_tokens(cs, 0, i, &prompt[i], 1, step + (size_t)i * nv, &err);
    /* Batch invariance: with quantized weights every row of a product and
     * every token's attention is computed the same way whatever shares the
     * pass, so these agree bit for bit; float weights go through SGEMM for
     * batches and agree to rounding. */
    float same_tol = !float_weights ? 0.0f : kv_now == LLP_KV_F16 ? 1e-3f : 1e-4f;
    d = max_rel_diff(fast, step, rows);
    ok(d <= same_tol, "%s: one batch equals token-by-token decoding (%.2e)", name, d);

    /* two sequences in one call: seq 0 gets the prompt's first half, seq 1
     * the whole prompt; each must match its own single-sequence logits */
    llp_context *cm = new_ctx(m, false, 3);
    int half = N_PROMPT / 2, n = half + N_PROMPT;
    int32_t tok[2 * N_PROMPT], pos[2 * N_PROMPT], seq[2 * N_PROMPT];
    bool want[2 * N_PROMPT];
    for (int i = 0; i < half; i++) { tok[i] = prompt[i]; pos[i] = i; seq[i] = 0; want[i] = true; }
    for (int i = 0; i < N_PROMPT; i++) {
        tok[half + i] = prompt[i]; pos[half + i] = i; seq[half + i] = 1; want[half + i] = true;
    }
    float *multi = llp_malloc(sizeof(float) * (size_t)n * nv);
    llp_batch b = { n, tok, pos, seq, want };
    int rc = llp_decode(cm, &b, multi, NULL, &err);
    ok(rc == 0, "%s: a two-sequence batch decodes", name);
    float d0 = max_rel_diff(fast, multi, (size_t)half * nv);
    float d1 = max_rel_diff(fast, multi + (size_t)half * nv, rows);
    ok(d0 <= same_tol && d1 <= same_tol, "%s: batched sequences equal one-by-one (%.2e, %.2e)",
       name, d0, d1);

    /* a copied prefix continues like the original: copy seq 0's first half
     * to seq 2, feed the rest there */
    llp_kv_copy(cm, 0, 2, half);
    float *last = llp_malloc(sizeof(float) * nv);
    llp_decode_tokens(cm, 2, half, prompt + half, N_PROMPT - half, last, &err);
    d = max_rel_diff(fast + (size_t)(N_PROMPT - 1) * nv, last, nv);
    ok(d <= same_tol, "%s: a KV prefix copy continues exactly (%.2e)", name, d);

    /* hidden states come out with the logits */
    float *hidden = llp_malloc(sizeof(float) * m->cfg.dim);
    int32_t p0 = 0, t0 = 1;
    llp_batch one = { 1, &t0, &p0, NULL, NULL };
    llp_decode(cs, &one, last, hidden, &err);
    double norm = 0;
    for (int i = 0; i < m->cfg.dim; i++) norm += hidden[i] * hidden[i];
    ok(norm > 0 && isfinite(norm), "%s: hidden states are returned", name);

    free(hidden);
    free(last);
    free(multi);
    free(ref);
    free(fast);
    free(step);
    llp_context_free(cr);
    llp_context_free(cf);
    llp_context_free(cs);
    llp_context_free(cm);
    llp_model_free(m);
}

static void check_errors(void)
{
    const char *path = make_model("fwd-errors.gguf", LLP_F32, false, 2);
    llp_err err;
    llp_model *m = llp_model_load(path, &err);
    llp_context *c = new_ctx(m, false, 1);
    int32_t bad = m->cfg.n_vocab, pos = 0;
    llp_batch b = { 1, &bad, &pos, NULL, NULL };
    ok(llp_decode(c, &b, NULL, NULL, &err) == -1 && strstr(err.msg, "out of range"),
       "a token id past the vocabulary is refused: %s", err.msg);
    int32_t tok = 1, far = 64;
    llp_batch b2 = { 1, &tok, &far, NULL, NULL };
    ok(llp_decode(c, &b2, NULL, NULL, &err) == -1 && strstr(err.msg, "context"),
       "a position past the context is refused: %s", err.msg);
    llp_context_free(c);
    llp_model_free(m);

    ok(llp_model_load("/nonexistent/model.gguf", &err) == NULL &&
       strstr(err.msg, "/nonexistent/model.gguf"), "a missing file names the path: %s", err.msg);
}

int main(void)
{
    for (int kv = 0; kv < 2; kv++) {
        kv_now = kv ? LLP_KV_F16 : LLP_KV_F32;
        check_type(LLP_F32, false, 2);
        check_type(LLP_F32, true, 4);
        check_type(LLP_F16, false, 1);
        check_type(LLP_BF16, false, 2);
        check_type(LLP_Q8_0, false, 2);
        check_type(LLP_Q4_0, false, 2);
        check_type(LLP_Q4_K, false, 2);
        check_type(LLP_Q6_K, false, 1);
    }
    check_errors();
    return done_testing();
}
