/*
 * finetune.c — one llp-finetune run (see finetune.h): data, trainer, the
 * step loop with its schedule of evaluations and checkpoints, the store's
 * job and train_steps rows, the progress line, SIGINT.
 *
 * Order of the data: epoch e visits the training sequences in a
 * permutation drawn from (seed, e); step s takes sequences
 * [s * batch, (s + 1) * batch) of its epoch's order (the last step of an
 * epoch may take fewer). So a run is a function of (data, seed, flags) and
 * a checkpoint needs only the step count besides the adapter and Adam's
 * moments.
 */
#include "finetune.h"

#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "engine.h"
#include "hash.h"
#include "quant.h"
#include "store.h"

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
    stop_signal = sig;
    signal(sig, SIG_DFL);       /* a second one ends the process at once */
}

typedef struct run {
    const llp_finetune_opts *o;
    llp_engine *e;
    llp_classifier *cls;
    llp_train_set train, val;
    llp_lora *adapter;
    llp_trainer *tr;
    llp_store *store;
    int64_t job_id;
    json_t *params;
    char params_hash[LLP_HASH_HEX];
    char *ckpt;
    int steps_per_epoch, total_steps;
    int *order;             /* (train.n) the current epoch's permutation */
    int order_epoch;
    bool shown;             /* the progress line is on screen */
} run;

static void report_row(void *ctx, const char *msg)
{
    const run *r = ctx;
    llp_error(r->o->tool, "%s", msg);
}

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void epoch_order(run *r, int epoch)
{
    if (r->order_epoch == epoch) return;
    int n = r->train.n;
    for (int i = 0; i < n; i++) r->order[i] = i;
    uint64_t s = r->o->seed ^ (0xD1B54A32D192ED03ull * (uint64_t)(epoch + 1));
    for (int i = n - 1; i > 0; i--) {
        int j = (int)(splitmix64(&s) % (uint64_t)(i + 1));
        int t = r->order[i];
        r->order[i] = r->order[j];
        r->order[j] = t;
    }
    r->order_epoch = epoch;
}

/* Mean loss per target token of a set (no gradients). */
static double set_loss(run *r, const llp_train_set *set, llp_err *err)
{
    double sum = 0;
    int64_t n = 0;
    for (int i = 0; i < set->n; i++) {
        const llp_train_example *x = &set->ex[i];
        double l = llp_trainer_sequence(r->tr, x->tokens, x->target, x->n, 1.0, false, NULL, err);
        if (l < 0) return -1;
        sum += l;
        n += x->n_targets;
    }
    return n ? sum / (double)n : NAN;
}

static int load_set(run *r, const llp_reader_opts *ro, llp_train_set *set, llp_err *err)
{
    const llp_finetune_opts *o = r->o;
    llp_train_data_opts d = {
        .reader = *ro, .shape = r->cls ? LLP_DATA_LABELED : LLP_DATA_AUTO,
        .tok = r->e->tok, .chat = llp_engine_chat(r->e, o->chat), .classifier = r->cls,
        .label_column = o->label_column, .n_ctx = o->n_ctx, .on_error = report_row, .ctx = r,
    };
    return llp_train_data_load(&d, set, err);
}

/* What must match for --resume: the parameters and the data's tokens. */
static void make_params(run *r)
{
    const llp_finetune_opts *o = r->o;
    json_t *p = json_object();
    json_object_set_new(p, "rank", json_integer(o->rank));
    json_object_set_new(p, "alpha", json_real(o->alpha));
    json_object_set_new(p, "targets", json_string(o->targets));
    json_object_set_new(p, "epochs", json_integer(o->epochs));
    json_object_set_new(p, "batch", json_integer(o->batch));
    json_object_set_new(p, "lr", json_real(o->lr));
    json_object_set_new(p, "weight_decay", json_real(o->weight_decay));
    json_object_set_new(p, "clip", json_real(o->clip));
    json_object_set_new(p, "warmup", json_integer(o->warmup));
    static const char *const sched[] = { "cosine", "linear", "constant" };
    json_object_set_new(p, "schedule", json_string(sched[o->schedule]));
    json_object_set_new(p, "seed", json_integer((json_int_t)o->seed));
    json_object_set_new(p, "n_ctx", json_integer(o->n_ctx));
    json_object_set_new(p, "train_rows", json_integer(r->train.n));
    json_object_set_new(p, "train_tokens", json_integer(r->train.n_tokens));
    llp_hasher *h = llp_hasher_new();
    for (int i = 0; i < r->train.n; i++) {
        llp_hasher_add(h, r->train.ex[i].tokens, sizeof(int32_t) * (size_t)r->train.ex[i].n);
        llp_hasher_add(h, r->train.ex[i].target, (size_t)r->train.ex[i].n);
    }
    char data_hash[LLP_HASH_HEX];
    llp_hasher_finish(h, data_hash);
    json_object_set_new(p, "data_hash", json_string(data_hash));
    if (r->cls) json_object_set_new(p, "classify", llp_classifier_params_json(r->cls));
    json_object_set_new(p, "model_fp", json_string(r->e->fingerprint));
    r->params = p;
    llp_hash_json(p, r->params_hash);
}

static int write_checkpoint(run *r, llp_err *err)
{
    gguf_writer *w = gguf_writer_new();
    llp_lora_to_writer(r->adapter, w, LLP_F32);
    gguf_set_str(w, "llp.train.params_hash", r->params_hash);
    llp_trainer_save_state(r->tr, w);
    int rc = gguf_writer_write(w, r->ckpt, err);
    gguf_writer_free(w);
    return rc;
}

static int resume_from(run *r, llp_err *err)
{
    gguf_file *f = gguf_open(r->ckpt, err);
    if (!f) return -1;
    const char *h = NULL;
    if (gguf_get_str(f, "llp.train.params_hash", &h, NULL) != 0 || strcmp(h, r->params_hash)) {
        llp_err_set(err, "%s: the checkpoint was made with other parameters or data; resume "
                    "with the same flags and files, or start again without --resume", r->ckpt);
        gguf_close(f);
        return -1;
    }
    gguf_close(f);
    llp_lora *a = llp_lora_load(r->ckpt, err);
    if (!a) return -1;
    if (a->n != r->adapter->n) {
        llp_lora_free(a);
        return llp_err_set(err, "%s: the checkpoint's adapter has other matrices", r->ckpt);
    }
    for (int i = 0; i < a->n; i++) {
        llp_lora_tensor *d = &r->adapter->t[i], *s = &a->t[i];
        if (strcmp(d->name, s->name) || d->rank != s->rank) {
            llp_lora_free(a);
            return llp_err_set(err, "%s: the checkpoint's adapter has other matrices", r->ckpt);
        }
        memcpy(d->a, s->a, sizeof(float) * (size_t)(d->rank * d->n_in));
        memcpy(d->b, s->b, sizeof(float) * (size_t)(d->rank * d->n_out));
    }
    llp_lora_free(a);
    f = gguf_open(r->ckpt, err);
    if (!f) return -1;
    int rc = llp_trainer_load_state(r->tr, f, err);
    gguf_close(f);
    return rc;
}

static void human_time(double s, char *buf, size_t n)
{
    if (!(s >= 0) || s > 1e7) snprintf(buf, n, "?");
    else if (s < 60) snprintf(buf, n, "%.0fs", s);
    else if (s < 3600) snprintf(buf, n, "%dm%02ds", (int)s / 60, (int)s % 60);
    else snprintf(buf, n, "%dh%02dm", (int)s / 3600, (int)s % 3600 / 60);
}

static void draw_progress(run *r, int step, int epoch, double loss, double val, double tok_s,
                          double eta, bool final)
{
    static double last;
    bool tty = isatty(STDERR_FILENO);
    double now = llp_now();
    if (!final && !tty && now - last < 1.0) return;
    if (!final && tty && now - last < 0.1) return;
    last = now;
    char e[32], v[32] = "";
    human_time(eta, e, sizeof e);
    if (!isnan(val)) snprintf(v, sizeof v, " val %.4f", val);
    fprintf(stderr, "%s%s: step %d/%d epoch %d/%d loss %.4f%s %.0f tok/s ETA %s%s",
            tty ? "\r" : "", r->o->tool, step, r->total_steps, epoch, r->o->epochs, loss, v,
            tok_s, e, tty ? "\033[K" : "\n");
    r->shown = tty;
    fflush(stderr);
}

static void end_progress(run *r)
{
    if (r->shown) fputc('\n', stderr);
    r->shown = false;
}

static void free_run(run *r)
{
    llp_trainer_free(r->tr);
    llp_lora_free(r->adapter);
    llp_train_set_free(&r->train);
    llp_train_set_free(&r->val);
    llp_classifier_free(r->cls);
    llp_engine_free(r->e);
    llp_store_close(r->store);
    if (r->params) json_decref(r->params);
    free(r->ckpt);
    free(r->order);
}

int llp_finetune_run(const llp_finetune_opts *o)
{
    run r = { .o = o, .order_epoch = -1 };
    llp_err err;
    int status = LLP_EXIT_FATAL;
    const char *job_status = LLP_JOB_FAILED;
    llp_engine_opts eo = { .model_path = o->model_path, .n_ctx = 16, .n_batch = 16,
                           .n_threads = 1 };
    if (!(r.e = llp_engine_open(&eo, &err))) goto fatal;
    const llp_config *c = &r.e->model->cfg;
    llp_finetune_opts local = *o;
    if (local.n_ctx <= 0) local.n_ctx = c->n_ctx_train < 4096 ? c->n_ctx_train : 4096;
    o = &local;
    r.o = o;
    if (o->labels) {
        const char *tmpl = NULL;
        gguf_get_str(r.e->model->file, "tokenizer.chat_template", &tmpl, NULL);
        llp_classify_params cp = {
            .labels = (const char *const *)o->labels, .n_labels = o->n_labels,
            .prompt_template = o->prompt_template, .examples_path = o->examples_path,
            .chat = o->chat, .n_ctx = o->n_ctx, .n_threads = 1, .max_rows = 1,
        };
        if (!(r.cls = llp_classifier_new(r.e->model, r.e->tok, tmpl, &cp, &err))) goto fatal;
    }

    /* the data */
    if (load_set(&r, &o->train, &r.train, &err)) goto fatal;
    if (o->val_path) {
        llp_reader_opts vo = o->train;
        char *paths[] = { (char *)o->val_path };
        vo.paths = paths;
        vo.n_paths = 1;
        vo.files_from = NULL;
        if (load_set(&r, &vo, &r.val, &err)) goto fatal;
        if (r.val.n == 0) {
            llp_err_set(&err, "%s: no usable validation rows", o->val_path);
            goto fatal;
        }
    }
    if (r.train.n == 0) {
        llp_err_set(&err, "no usable training rows (%ld left out)", r.train.n_bad);
        goto fatal;
    }
    r.steps_per_epoch = (r.train.n + o->batch - 1) / o->batch;
    r.total_steps = r.steps_per_epoch * o->epochs;
    if (o->max_steps > 0 && o->max_steps < r.total_steps) r.total_steps = o->max_steps;
    int warmup = o->warmup >= 0 ? o->warmup : r.total_steps / 10;
    int longest = 2;
    for (int i = 0; i < r.train.n; i++) longest = r.train.ex[i].n > longest ? r.train.ex[i].n : longest;
    for (int i = 0; i < r.val.n; i++) longest = r.val.ex[i].n > longest ? r.val.ex[i].n : longest;

    /* the adapter and the trainer */
    if (!(r.adapter = llp_lora_new(r.e->model, o->targets, o->rank, (float)o->alpha, &err)))
        goto fatal;
    llp_lora_init_random(r.adapter, o->seed);
    llp_train_params tp = { .n_ctx = longest, .n_threads = o->n_threads, .lr = o->lr,
                            .weight_decay = o->weight_decay, .clip = o->clip, .warmup = warmup,
                            .total_steps = r.total_steps, .schedule = o->schedule };
    if (!(r.tr = llp_trainer_new(r.e->model, r.adapter, &tp, &err))) goto fatal;
    make_params(&r);
    if (o->checkpoint_path) {
        r.ckpt = llp_strdup(o->checkpoint_path);
    } else {
        r.ckpt = llp_malloc(strlen(o->out_path) + 6);
        sprintf(r.ckpt, "%s.ckpt", o->out_path);
    }
    if (o->resume && resume_from(&r, &err)) goto fatal;
    r.order = llp_malloc(sizeof(int) * (size_t)r.train.n);

    /* the store */
    if (!o->no_db) {
        char *path = llp_store_resolve_path(o->db_path, &err);
        if (!path || !(r.store = llp_store_open(path, &err))) {
            free(path);
            goto fatal;
        }
        free(path);
        int64_t model_id = llp_store_model(r.store, r.e->model->path, r.e->fingerprint,
                                           r.e->file_size, r.e->meta, &err);
        llp_job_spec js = { .tool = "finetune", .argc = o->argc, .argv = o->argv,
                            .params = r.params, .model_id = model_id > 0 ? model_id : 0 };
        if (model_id < 0 || (r.job_id = llp_store_job_begin(r.store, &js, &err)) < 0) goto fatal;
    }
    long long n_params = 0;
    for (int i = 0; i < r.adapter->n; i++)
        n_params += (long long)r.adapter->t[i].rank * (r.adapter->t[i].n_in + r.adapter->t[i].n_out);
    if (!o->quiet)
        llp_note(o->tool, "%d sequences (%lld tokens, %lld trained on)%s, %d steps of %d, "
                 "rank %d on %s (%lld parameters)%s", r.train.n, (long long)r.train.n_tokens,
                 (long long)r.train.n_targets, r.train.n_bad ? ", some rows left out" : "",
                 r.total_steps, o->batch, o->rank, o->targets, n_params,
                 o->resume ? "; resuming" : "");

    struct sigaction sa = { 0 }, old_int, old_term;
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);

    double t_start = llp_now(), val = NAN, first_loss = NAN, last_loss = NAN;
    int64_t tokens_done = 0, steps_done = 0;
    int step = llp_trainer_step_count(r.tr);
    for (; step < r.total_steps && !stop_signal; step++) {
        int epoch = step / r.steps_per_epoch, in_epoch = step % r.steps_per_epoch;
        epoch_order(&r, epoch);
        int from = in_epoch * o->batch, to = from + o->batch;
        if (to > r.train.n) to = r.train.n;
        int64_t n_tgt = 0, n_tok = 0;
        for (int i = from; i < to; i++) {
            n_tgt += r.train.ex[r.order[i]].n_targets;
            n_tok += r.train.ex[r.order[i]].n;
        }
        double t0 = llp_now(), loss = 0;
        llp_trainer_zero_grad(r.tr);
        for (int i = from; i < to; i++) {
            const llp_train_example *x = &r.train.ex[r.order[i]];
            double l = llp_trainer_sequence(r.tr, x->tokens, x->target, x->n,
                                            n_tgt ? 1.0 / (double)n_tgt : 0, true, NULL, &err);
            if (l < 0) goto fatal_signals;
            loss += l;
        }
        loss = n_tgt ? loss / (double)n_tgt : 0;
        double gn;
        double lr = llp_trainer_update(r.tr, &gn);
        double ms = (llp_now() - t0) * 1000;
        tokens_done += n_tok;
        steps_done++;
        if (isnan(first_loss)) first_loss = loss;
        last_loss = loss;
        bool epoch_end = in_epoch == r.steps_per_epoch - 1 || step + 1 == r.total_steps;
        double v = NAN;
        if (r.val.n && ((o->eval_every > 0 && (step + 1) % o->eval_every == 0) ||
                        (o->eval_every <= 0 && epoch_end) || step + 1 == r.total_steps)) {
            if ((v = set_loss(&r, &r.val, &err)) < 0) goto fatal_signals;
            val = v;
        }
        if (r.store) {
            llp_train_step_row row = { step + 1, epoch + 1, loss, v, lr, gn, n_tok, ms };
            if (llp_store_train_step_put(r.store, r.job_id, &row, &err)) goto fatal_signals;
        }
        if (o->save_every > 0 && (step + 1) % o->save_every == 0 && step + 1 < r.total_steps &&
            write_checkpoint(&r, &err))
            goto fatal_signals;
        if (o->progress) {
            double el = llp_now() - t_start, tok_s = el > 0 ? tokens_done / el : 0;
            double eta = steps_done ? el / steps_done * (r.total_steps - step - 1) : NAN;
            draw_progress(&r, step + 1, epoch + 1, loss, val, tok_s, eta,
                          step + 1 == r.total_steps);
        }
    }
    end_progress(&r);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    double elapsed = llp_now() - t_start;
    llp_job_counts counts = { .n_items = steps_done, .tokens_in = tokens_done,
                              .elapsed_ms = (int64_t)(elapsed * 1000) };
    if (stop_signal) {
        if (write_checkpoint(&r, &err)) goto fatal;
        if (!o->quiet)
            llp_note(o->tool, "interrupted at step %d of %d; checkpoint %s (continue with "
                     "--resume)", step, r.total_steps, r.ckpt);
        if (r.store) llp_store_job_update(r.store, r.job_id, LLP_JOB_INTERRUPTED, &counts, &err);
        status = 128 + (int)stop_signal;
        free_run(&r);
        return status;
    }
    if (llp_lora_write(r.adapter, o->out_path, o->adapter_type, &err)) goto fatal;
    if (write_checkpoint(&r, &err)) goto fatal;
    if (!o->quiet) {
        double f, b, p;
        llp_trainer_times(r.tr, &f, &b, &p);
        double sum = f + b + p > 0 ? f + b + p : 1;
        char v[48] = "";
        if (!isnan(val)) snprintf(v, sizeof v, ", validation %.4f", val);
        llp_note(o->tool, "wrote %s: %lld steps in %.1f s, %.1f tok/s; loss %.4f -> %.4f%s; "
                 "time: forward %.0f%%, backward %.0f%%, optimizer %.0f%%", o->out_path,
                 (long long)steps_done, elapsed, elapsed > 0 ? tokens_done / elapsed : 0,
                 first_loss, last_loss, v, 100 * f / sum, 100 * b / sum, 100 * p / sum);
    }
    status = r.train.n_bad || r.val.n_bad ? LLP_EXIT_PARTIAL : LLP_EXIT_OK;
    job_status = status == LLP_EXIT_OK ? LLP_JOB_DONE : LLP_JOB_PARTIAL;
    counts.n_failed = r.train.n_bad + r.val.n_bad;
    if (r.store && llp_store_job_update(r.store, r.job_id, job_status, &counts, &err)) goto fatal;
    free_run(&r);
    return status;

fatal_signals:
    end_progress(&r);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
fatal:
    end_progress(&r);
    llp_error(o->tool, "%s", err.msg);
    if (r.store && r.job_id > 0) {
        llp_err e2;
        llp_job_counts none = { 0 };
        llp_store_job_update(r.store, r.job_id, job_status, &none, &e2);
    }
    free_run(&r);
    return LLP_EXIT_FATAL;
}

void llp_train_curve_print(const json_t *steps, FILE *out, int rows)
{
    size_t n = json_array_size(steps);
    if (n == 0) return;
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        double l = json_real_value(json_object_get(json_array_get(steps, i), "loss"));
        lo = l < lo ? l : lo;
        hi = l > hi ? l : hi;
    }
    fprintf(out, "\nloss curve (%zu steps):\n", n);
    fprintf(out, "%8s %6s %10s %10s %10s %8s  %s\n", "step", "epoch", "loss", "val_loss", "lr",
            "ms", "");
    size_t shown = n < (size_t)rows ? n : (size_t)rows;
    for (size_t k = 0; k < shown; k++) {
        size_t i = shown > 1 ? k * (n - 1) / (shown - 1) : n - 1;
        const json_t *s = json_array_get(steps, i);
        double l = json_real_value(json_object_get(s, "loss"));
        const json_t *v = json_object_get(s, "val_loss");
        char vb[32] = "-";
        if (v) snprintf(vb, sizeof vb, "%.4f", json_real_value(v));
        int bar = hi > lo ? (int)(40 * (l - lo) / (hi - lo) + 0.5) : 0;
        char b[48];
        memset(b, '#', (size_t)bar);
        b[bar] = 0;
        fprintf(out, "%8lld %6lld %10.4f %10s %10.3g %8.0f  |%s\n",
                (long long)json_integer_value(json_object_get(s, "step")),
                (long long)json_integer_value(json_object_get(s, "epoch")), l, vb,
                json_real_value(json_object_get(s, "lr")),
                json_real_value(json_object_get(s, "ms")), b);
    }
}
