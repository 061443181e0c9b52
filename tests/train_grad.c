/*
 * train_grad.c — the LoRA trainer (lib/train.c): every gradient of a tiny
 * model against central finite differences, loss on a memorizable set,
 * and a run resumed from a checkpoint equal to an uninterrupted one.
 *
 * Finite differences: F32 base (its products are plain float, so the loss
 * is smooth), forward in f32 with the loss summed in double, step h = 1e-2
 * on parameters of size ~0.1-0.3. Truncation error is O(h^2 f''') and
 * rounding error about eps_f32 * |loss| / h ~ 2e-5; the bound checked for
 * every parameter is
 *     |g_fd - g| <= 1e-3 * max(|g|, |g_fd|) + 1e-3 * max_j |g_j|
 * (the second term, relative to the largest gradient of the same tensor,
 * covers entries whose gradient is near zero, where only rounding is left).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lora.h"
#include "model.h"
#include "quant.h"
#include "synth.h"
#include "tap.h"
#include "train.h"

static llp_model *tiny_model(const char *name, bool tied, uint32_t type, int dim)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", tmp_dir(), name);
    llp_synth_spec s = { 0 };
    llp_synth_shape("tiny", &s);
    s.n_vocab = 300;
    s.dim = dim;
    s.ffn_dim = 2 * dim;
    s.n_heads = 4;
    s.n_heads_kv = 2;
    s.type = type;
    s.output_type = LLP_TYPE_COUNT;
    s.tied = tied;
    s.seed = 11;
    llp_err err;
    if (llp_synth_write(&s, path, &err)) {
        diag("%s", err.msg);
        return NULL;
    }
    llp_model *m = llp_model_load(path, &err);
    if (!m) diag("%s", err.msg);
    return m;
}

static uint64_t rng = 99;
static float urand(void)   /* [-1, 1) */
{
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(rng >> 11) / 9007199254740992.0 * 2 - 1);
}

static double lr = 1e-2;

static llp_trainer *new_trainer(llp_model *m, llp_lora *a, int steps)
{
    llp_train_params p = { .n_ctx = 32, .n_threads = 2, .lr = lr, .weight_decay = 0.01,
                           .clip = 1.0, .warmup = 2, .total_steps = steps,
                           .schedule = LLP_SCHED_COSINE };
    llp_err err;
    llp_trainer *tr = llp_trainer_new(m, a, &p, &err);
    if (!tr) diag("%s", err.msg);
    return tr;
}

static const int32_t seq[] = { 1, 40, 77, 3, 250, 12, 99, 180, 5, 61, 200, 33 };
static const uint8_t tgt[] = { 0, 0, 0, 0, 1, 0, 1, 1, 0, 1, 0, 1 };
#define SEQ_N (int)(sizeof seq / sizeof seq[0])

static double loss_of(llp_trainer *tr)
{
    llp_err err;
    return llp_trainer_sequence(tr, seq, tgt, SEQ_N, 1.0, false, NULL, &err);
}

static void check_gradients(const char *what, bool tied)
{
    llp_model *m = tiny_model(tied ? "tg_tied.gguf" : "tg_untied.gguf", tied, LLP_F32, 32);
    if (!ok(m != NULL, "%s: tiny model loads", what)) return;
    llp_err err;
    llp_lora *a = llp_lora_new(m, "q,k,v,o,gate,up,down", 2, 4.0f, &err);
    llp_lora_init_random(a, 5);
    for (int i = 0; i < a->n; i++)        /* B != 0, or A's gradients are all zero */
        for (int64_t j = 0; j < a->t[i].rank * a->t[i].n_out; j++) a->t[i].b[j] = 0.2f * urand();
    llp_trainer *tr = new_trainer(m, a, 10);
    llp_trainer_zero_grad(tr);
    double loss = llp_trainer_sequence(tr, seq, tgt, SEQ_N, 1.0, true, NULL, &err);
    ok(loss > 0 && isfinite(loss), "%s: loss %.4f is finite", what, loss);
    const float h = 1e-2f;
    int n_params = 0, n_bad = 0;
    double worst = 0;
    for (int i = 0; i < a->n; i++) {
        llp_lora_tensor *t = &a->t[i];
        for (int ab = 0; ab < 2; ab++) {
            float *w = ab ? t->b : t->a;
            const float *g = ab ? llp_trainer_grad_b(tr, i) : llp_trainer_grad_a(tr, i);
            int64_t n = (int64_t)t->rank * (ab ? t->n_out : t->n_in);
            double gmax = 0;
            for (int64_t j = 0; j < n; j++) gmax = fmax(gmax, fabs(g[j]));
            for (int64_t j = 0; j < n; j++) {
                float keep = w[j];
                w[j] = keep + h;
                double lp = loss_of(tr);
                w[j] = keep - h;
                double lm = loss_of(tr);
                w[j] = keep;
                double fd = (lp - lm) / (2.0 * h);
                double d = fabs(fd - g[j]);
                double bound = 1e-3 * fmax(fabs(g[j]), fabs(fd)) + 1e-3 * gmax;
                if (d / bound > worst) worst = d / bound;
                if (d > bound) {
                    if (n_bad < 5)
                        diag("%s %s[%lld]: analytic %.6g, finite difference %.6g", t->name,
                             ab ? "lora_b" : "lora_a", (long long)j, g[j], fd);
                    n_bad++;
                }
                n_params++;
            }
        }
    }
    diag("%s: %d parameters, worst |error| / bound = %.3f", what, n_params, worst);
    ok(n_bad == 0, "%s: every one of %d LoRA gradients within the bound (%d outside)", what,
       n_params, n_bad);
    llp_trainer_free(tr);
    llp_lora_free(a);
    llp_model_free(m);
}

/* Four short sequences; loss on every token from the third (the second
 * follows BOS alone, the same context in all four). */
static int32_t mem_seq[4][10];
static uint8_t mem_tgt[10] = { 0, 0, 1, 1, 1, 1, 1, 1, 1, 1 };

static double train_steps(llp_trainer *tr, int from, int to)
{
    llp_err err;
    double loss = 0;
    for (int s = from; s < to; s++) {
        llp_trainer_zero_grad(tr);
        loss = 0;
        for (int k = 0; k < 4; k++)
            loss += llp_trainer_sequence(tr, mem_seq[k], mem_tgt, 10, 1.0 / 32, true, NULL, &err);
        llp_trainer_update(tr, NULL);
    }
    return loss / 32;
}

static void check_memorize_and_resume(void)
{
    llp_model *m = tiny_model("tg_q8.gguf", false, LLP_Q8_0, 128);
    if (!ok(m != NULL, "Q8_0 tiny model loads")) return;
    for (int k = 0; k < 4; k++)
        for (int t = 0; t < 10; t++) mem_seq[k][t] = t == 0 ? 1 : 3 + (int)((k * 37 + t * 11) % 290);
    llp_err err;
    const int steps = 60;

    /* memorize */
    llp_lora *a = llp_lora_new(m, "q,k,v,o,gate,up,down", 8, 16.0f, &err);
    llp_lora_init_random(a, 1);
    lr = 1e-2;
    llp_trainer *tr = new_trainer(m, a, steps);
    lr = 1e-2;
    double first = train_steps(tr, 0, 1);
    double last = train_steps(tr, 1, steps);
    diag("memorize: mean loss per token %.4f at step 1, %.4f at step %d", first, last, steps);
    ok(first > 4.0, "the base's loss is near chance (ln 300 = 5.70): %.3f", first);
    ok(last < 0.05, "loss on the memorizable set falls below 0.05 nats/token: %.4f", last);

    /* resume: 7 steps, checkpoint, a fresh trainer from it, 5 more == 12 straight */
    llp_lora *b = llp_lora_new(m, "q,k,v,o,gate,up,down", 8, 16.0f, &err);
    llp_lora_init_random(b, 2);
    llp_trainer *tb = new_trainer(m, b, 12);
    train_steps(tb, 0, 12);

    llp_lora *c = llp_lora_new(m, "q,k,v,o,gate,up,down", 8, 16.0f, &err);
    llp_lora_init_random(c, 2);
    llp_trainer *tc = new_trainer(m, c, 12);
    train_steps(tc, 0, 7);
    char ck[512];
    snprintf(ck, sizeof ck, "%s/tg_checkpoint.gguf", tmp_dir());
    gguf_writer *w = gguf_writer_new();
    llp_lora_to_writer(c, w, LLP_F32);
    llp_trainer_save_state(tc, w);
    ok(gguf_writer_write(w, ck, &err) == 0, "checkpoint written");
    gguf_writer_free(w);
    llp_trainer_free(tc);
    llp_lora_free(c);

    llp_lora *d = llp_lora_load(ck, &err);
    if (!ok(d != NULL, "checkpoint loads as an adapter")) diag("%s", err.msg);
    llp_trainer *td = d ? new_trainer(m, d, 12) : NULL;
    gguf_file *f = gguf_open(ck, &err);
    ok(td && f && llp_trainer_load_state(td, f, &err) == 0, "optimizer state restored");
    gguf_close(f);
    is_int(td ? llp_trainer_step_count(td) : -1, 7, "resumed at step 7");
    if (td) train_steps(td, 7, 12);
    bool same = d != NULL;
    for (int i = 0; same && i < b->n; i++)
        same = memcmp(b->t[i].a, d->t[i].a, sizeof(float) * (size_t)(b->t[i].rank * b->t[i].n_in)) == 0 &&
               memcmp(b->t[i].b, d->t[i].b, sizeof(float) * (size_t)(b->t[i].rank * b->t[i].n_out)) == 0;
    ok(same, "7 steps + checkpoint + 5 resumed steps equal 12 uninterrupted steps bit for bit");

    /* the same seed and data give the same adapter again */
    llp_lora *e = llp_lora_new(m, "q,k,v,o,gate,up,down", 8, 16.0f, &err);
    llp_lora_init_random(e, 2);
    llp_trainer *te = new_trainer(m, e, 12);
    train_steps(te, 0, 12);
    same = true;
    for (int i = 0; same && i < b->n; i++)
        same = memcmp(b->t[i].b, e->t[i].b, sizeof(float) * (size_t)(b->t[i].rank * b->t[i].n_out)) == 0;
    ok(same, "a second run with the same seed gives the same adapter bit for bit");

    llp_trainer_free(te);
    llp_lora_free(e);
    llp_trainer_free(td);
    llp_lora_free(d);
    llp_trainer_free(tb);
    llp_lora_free(b);
    llp_trainer_free(tr);
    llp_lora_free(a);
    llp_model_free(m);
}

int main(void)
{
    check_gradients("untied head", false);
    check_gradients("tied head", true);
    check_memorize_and_resume();
    return done_testing();
}
