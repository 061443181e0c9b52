/*
 * serve_engine.c — llp-serve's engine thread (serve_engine.h): the bounded
 * queue, admission of generations into the scheduler's slots, one forward
 * pass at a time, cancellation, and the embedding, classification and
 * summarization jobs on their own contexts.
 *
 * Locking: one mutex guards the queue, the slots table and every job's
 * answer fields; the forward pass and the task computations run without
 * it, so request threads can queue, cancel and read pieces meanwhile. The
 * streaming hook (called inside a pass) takes it briefly per piece.
 */
#include "serve_engine.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "classify.h"
#include "embed.h"
#include "gen_sched.h"
#include "gguf.h"
#include "records.h"
#include "summarize.h"
#include "util.h"

struct llp_serve_engine {
    llp_engine *e;
    llp_serve_engine_opts opts;
    llp_gen_sched *sched;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t wake;        /* work for the engine */
    llp_serve_job *head, *tail; /* the queue, first come first */
    int n_queued;
    llp_serve_job **active;     /* (n_slots) generations in a slot, or NULL */
    int n_slots;
    bool closed, stopping;
    /* task contexts, made on first use (engine thread only) */
    llp_context *embed_ctx;
    llp_embedder *embedder;
    llp_context *sum_ctx;
    llp_classifier *cls;        /* for the labels in cls_key */
    char *cls_key;
};

/* The task job running now, for the summarizer's stop poll. */
static llp_serve_job *volatile running_task;

static bool task_should_stop(void)
{
    llp_serve_job *j = running_task;
    return j && __atomic_load_n(&j->cancel, __ATOMIC_RELAXED);
}

llp_serve_job *llp_serve_job_new(llp_serve_job_kind kind)
{
    llp_serve_job *j = llp_calloc(1, sizeof *j);
    j->kind = kind;
    pthread_cond_init(&j->changed, NULL);
    return j;
}

void llp_serve_job_free(llp_serve_job *j)
{
    if (!j) return;
    llp_tokens_free(&j->ids);
    for (int i = 0; i < j->n_stops; i++) free(j->stops[i]);
    free(j->stops);
    for (int i = 0; i < j->n_texts; i++) free(j->texts[i]);
    free(j->texts);
    free(j->lens);
    for (int i = 0; i < j->n_labels; i++) free(j->labels[i]);
    free(j->labels);
    llp_gen_result_free(&j->res);
    json_decref(j->out);
    free(j->text);
    free(j->ends);
    pthread_cond_destroy(&j->changed);
    free(j);
}

/* ---- finishing a job (engine lock held) ------------------------------------------ */

static void job_done(llp_serve_job *j, int status, const char *msg)
{
    if (status && !j->status) {
        j->status = status;
        snprintf(j->error, sizeof j->error, "%s", msg);
    }
    j->state = LLP_SERVE_DONE;
    pthread_cond_broadcast(&j->changed);
}

/* Called inside a pass for each piece of a completion (engine thread, lock
 * not held). */
static void on_text(void *ctx, const char *bytes, size_t n)
{
    llp_serve_job *j = ctx;
    pthread_mutex_lock(&j->engine->mu);
    if (j->text_len + n + 1 > j->text_cap) {
        j->text_cap = (j->text_len + n + 1) * 2;
        j->text = llp_realloc(j->text, j->text_cap);
    }
    memcpy(j->text + j->text_len, bytes, n);
    j->text_len += n;
    j->text[j->text_len] = 0;
    if (j->n_pieces == j->cap_pieces) {
        j->cap_pieces = j->cap_pieces ? 2 * j->cap_pieces : 32;
        j->ends = llp_realloc(j->ends, sizeof *j->ends * j->cap_pieces);
    }
    j->ends[j->n_pieces++] = j->text_len;
    pthread_cond_broadcast(&j->changed);
    pthread_mutex_unlock(&j->engine->mu);
}

/* ---- the queue (lock held) ----------------------------------------------------------- */

static void unlink_job(llp_serve_engine *s, llp_serve_job *j)
{
    llp_serve_job **p = &s->head, *prev = NULL;
    while (*p && *p != j) {
        prev = *p;
        p = &(*p)->next;
    }
    if (!*p) return;
    *p = j->next;
    if (s->tail == j) s->tail = prev;
    j->next = NULL;
    s->n_queued--;
}

int llp_serve_engine_submit(llp_serve_engine *s, llp_serve_job *j)
{
    pthread_mutex_lock(&s->mu);
    int rc = 0;
    if (s->closed) rc = 2;
    else if (s->n_queued >= s->opts.max_queue) rc = 1;
    else {
        j->engine = s;
        j->state = LLP_SERVE_QUEUED;
        j->queued_at = llp_now();
        j->next = NULL;
        if (s->tail) s->tail->next = j;
        else s->head = j;
        s->tail = j;
        s->n_queued++;
        pthread_cond_signal(&s->wake);
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* ---- task jobs (engine thread, lock not held) ------------------------------------ */

static int run_embed(llp_serve_engine *s, llp_serve_job *j, llp_err *err)
{
    if (!s->embedder) {
        s->embed_ctx = llp_embed_context_new(s->e->model, s->opts.n_ctx, s->opts.n_threads,
                                             LLP_KV_F16, err);
        if (!s->embed_ctx) return -1;
        llp_embed_params p = { .pooling = LLP_POOL_MEAN, .normalize = LLP_EMBED_L2,
                               .long_mode = LLP_EMBED_TRUNCATE, .add_bos = -1 };
        s->embedder = llp_embedder_new(s->embed_ctx, s->e->tok, &p);
    }
    llp_embed_result *r = llp_calloc((size_t)j->n_texts, sizeof *r);
    int rc = llp_embed_texts(s->embedder, (const char *const *)j->texts, j->lens, j->n_texts, r,
                             err);
    if (rc == 0) {
        json_t *vecs = json_array();
        int tokens = 0, dim = llp_embedder_dim(s->embedder);
        for (int i = 0; i < j->n_texts && rc == 0; i++) {
            if (r[i].error) {
                rc = llp_err_set(err, "input[%d]: %s", i, r[i].error);
                break;
            }
            json_t *v = json_array();
            for (int k = 0; k < dim; k++) json_array_append_new(v, json_real(r[i].vec[k]));
            json_array_append_new(vecs, v);
            tokens += r[i].n_tokens;
        }
        j->out = json_pack("{s:o,s:i,s:i}", "vectors", vecs, "tokens", tokens, "dim", dim);
    }
    for (int i = 0; i < j->n_texts; i++) llp_embed_result_free(&r[i]);
    free(r);
    return rc;
}

static char *labels_key(const llp_serve_job *j)
{
    size_t n = 1;
    for (int i = 0; i < j->n_labels; i++) n += strlen(j->labels[i]) + 1;
    char *k = llp_calloc(1, n);
    for (int i = 0; i < j->n_labels; i++) {
        strcat(k, j->labels[i]);
        strcat(k, "\x1f");
    }
    return k;
}

static int run_classify(llp_serve_engine *s, llp_serve_job *j, llp_err *err)
{
    char *key = labels_key(j);
    if (!s->cls || strcmp(key, s->cls_key)) {
        llp_classifier_free(s->cls);
        free(s->cls_key);
        s->cls = NULL;
        s->cls_key = NULL;
        llp_classify_params p = { .labels = (const char *const *)j->labels,
                                  .n_labels = j->n_labels, .chat = -1, .n_ctx = s->opts.n_ctx,
                                  .n_threads = s->opts.n_threads };
        if (llp_classify_check(&p, err)) {
            free(key);
            return -1;
        }
        const char *tmpl = NULL;
        gguf_get_str(s->e->model->file, "tokenizer.chat_template", &tmpl, NULL);
        if (!(s->cls = llp_classifier_new(s->e->model, s->e->tok, tmpl, &p, err))) {
            free(key);
            return -1;
        }
        s->cls_key = key;
    } else {
        free(key);
    }
    int per = llp_classifier_max_rows(s->cls), tokens = 0, rc = 0;
    json_t *rows = json_array();
    llp_classify_result *r = llp_calloc((size_t)j->n_texts, sizeof *r);
    for (int at = 0; at < j->n_texts && rc == 0; at += per) {
        int n = j->n_texts - at < per ? j->n_texts - at : per;
        rc = llp_classify_rows(s->cls, (const char *const *)j->texts + at, j->lens + at, n, r + at,
                               err);
    }
    for (int i = 0; i < j->n_texts && rc == 0; i++) {
        if (r[i].error) {
            rc = llp_err_set(err, "input[%d]: %s", i, r[i].error);
            break;
        }
        json_t *probs = json_object();
        for (int l = 0; l < j->n_labels; l++)
            json_object_set_new(probs, j->labels[l], json_real(r[i].prob[l]));
        json_array_append_new(rows, json_pack("{s:i,s:s,s:f,s:o,s:b}", "index", i, "label",
                                              j->labels[r[i].label], "score",
                                              r[i].prob[r[i].label], "probs", probs,
                                              "truncated", r[i].truncated));
        tokens += r[i].n_prompt;
    }
    for (int i = 0; i < j->n_texts; i++) llp_classify_result_free(&r[i]);
    free(r);
    if (rc == 0) j->out = json_pack("{s:o,s:i}", "rows", rows, "tokens", tokens);
    else json_decref(rows);
    return rc;
}

static int run_summarize(llp_serve_engine *s, llp_serve_job *j, llp_err *err)
{
    if (!s->sum_ctx) {
        llp_context_params cp = { .n_ctx = s->opts.n_ctx, .n_threads = s->opts.n_threads };
        if (!(s->sum_ctx = llp_context_new(s->e->model, &cp, err))) return -1;
    }
    llp_sampling greedy = llp_sampling_default();
    greedy.temp = 0;
    llp_summarizer_params sp = { .max_tokens = j->max_tokens, .chat = llp_engine_chat(s->e, -1),
                                 .sampling = greedy };
    llp_summarizer *sum = llp_summarizer_new(s->sum_ctx, s->e->tok, &sp, err);
    if (!sum) return -1;
    llp_summary_tree tree = { 0 };
    int rc = llp_summarize_document(sum, NULL, task_should_stop, j->texts[0], j->lens[0], &tree,
                                    err);
    if (rc == 0) {
        const llp_summary_node *root = llp_summary_root(&tree);
        j->out = json_pack("{s:o,s:i,s:i,s:i,s:i}", "summary",
                           llp_json_string(root->summary, strlen(root->summary)), "chunks",
                           tree.n_leaves, "levels", tree.levels, "tokens_in", tree.tokens_in,
                           "tokens_out", tree.tokens_out);
    } else if (rc == LLP_SUMMARIZE_STOPPED) {
        rc = llp_err_set(err, "cancelled");
    } else {
        rc = -1;
    }
    llp_summary_tree_free(&tree);
    llp_summarizer_free(sum);
    return rc;
}

static void run_task(llp_serve_engine *s, llp_serve_job *j)
{
    llp_err err = { { 0 } };
    running_task = j;
    int rc;
    switch (j->kind) {
    case LLP_SERVE_EMBED: rc = run_embed(s, j, &err); break;
    case LLP_SERVE_CLASSIFY: rc = run_classify(s, j, &err); break;
    case LLP_SERVE_SUMMARIZE: rc = run_summarize(s, j, &err); break;
    default: rc = llp_err_set(&err, "not a task job");
    }
    running_task = NULL;
    pthread_mutex_lock(&s->mu);
    /* a failure of the input (an empty text) is the client's; the
     * classifier's own checks too (duplicate labels) */
    if (j->cancel) job_done(j, 499, "cancelled");
    else job_done(j, rc ? 400 : 0, err.msg);
    pthread_mutex_unlock(&s->mu);
}

/* ---- the loop ---------------------------------------------------------------------- */

static int free_slot_index(llp_serve_engine *s)
{
    for (int i = 0; i < s->n_slots; i++)
        if (!s->active[i]) return i;
    return -1;
}

static int active_count(llp_serve_engine *s)
{
    int n = 0;
    for (int i = 0; i < s->n_slots; i++) n += s->active[i] != NULL;
    return n;
}

/* Lock held. Drop cancelled jobs, admit queued generations into free
 * slots. Returns the first queued task job (taken off the queue), or NULL. */
static llp_serve_job *admit(llp_serve_engine *s)
{
    for (int i = 0; i < s->n_slots; i++) {
        llp_serve_job *j = s->active[i];
        if (j && j->cancel) {
            llp_gen_sched_cancel_tag(s->sched, j);
            s->active[i] = NULL;
            job_done(j, 499, "cancelled");
        }
    }
    for (llp_serve_job *j = s->head, *next; j; j = next) {
        next = j->next;
        if (j->cancel) {
            unlink_job(s, j);
            job_done(j, 499, "cancelled");
        }
    }
    llp_serve_job *task = NULL;
    for (llp_serve_job *j = s->head, *next; j; j = next) {
        next = j->next;
        if (j->kind != LLP_SERVE_GENERATE) {
            if (!task) {
                unlink_job(s, j);
                task = j;
            }
            continue;
        }
        int slot = free_slot_index(s);
        if (slot < 0) continue;
        llp_err err = { { 0 } };
        llp_gen_request r = { j->ids.ids, (int)j->ids.n, 0, j->seed, &j->hooks, j, &j->params };
        j->hooks.on_text = on_text;
        j->hooks.text_ctx = j;
        unlink_job(s, j);
        if (llp_gen_sched_submit(s->sched, &r, &err)) {
            job_done(j, 400, err.msg);
            continue;
        }
        j->state = LLP_SERVE_RUNNING;
        j->started_at = llp_now();
        s->active[slot] = j;
    }
    if (task) {
        task->state = LLP_SERVE_RUNNING;
        task->started_at = llp_now();
    }
    return task;
}

static void *engine_main(void *arg)
{
    llp_serve_engine *s = arg;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        llp_serve_job *task = admit(s);
        if (task) {
            pthread_mutex_unlock(&s->mu);
            run_task(s, task);
            pthread_mutex_lock(&s->mu);
            continue;
        }
        if (active_count(s) > 0) {
            pthread_mutex_unlock(&s->mu);
            llp_err err = { { 0 } };
            int rc = llp_gen_sched_step(s->sched, &err);
            pthread_mutex_lock(&s->mu);
            if (rc) {
                /* the pass failed: every active request is abandoned */
                for (int i = 0; i < s->n_slots; i++)
                    if (s->active[i]) {
                        job_done(s->active[i], 500, err.msg);
                        s->active[i] = NULL;
                    }
                continue;
            }
            void *tag;
            llp_gen_result res;
            while (llp_gen_sched_take(s->sched, &tag, &res)) {
                llp_serve_job *j = tag;
                for (int i = 0; i < s->n_slots; i++)
                    if (s->active[i] == j) s->active[i] = NULL;
                j->res = res;
                job_done(j, 0, "");
            }
            continue;
        }
        if (s->stopping && !s->head) break;
        pthread_cond_wait(&s->wake, &s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

llp_serve_engine *llp_serve_engine_start(llp_engine *e, const llp_serve_engine_opts *o,
                                         llp_err *err)
{
    llp_serve_engine *s = llp_calloc(1, sizeof *s);
    s->e = e;
    s->opts = *o;
    if (s->opts.max_queue < 1) s->opts.max_queue = 1;
    if (!s->opts.n_ctx) s->opts.n_ctx = llp_context_n_ctx(e->ctx);
    llp_gen_params p = { .sampling = llp_sampling_default(), .n_predict = 16 };
    s->sched = llp_gen_sched_new(e->ctx, e->tok, &p);
    s->n_slots = llp_gen_sched_n_slots(s->sched);
    s->active = llp_calloc((size_t)s->n_slots, sizeof *s->active);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->wake, NULL);
    if (pthread_create(&s->thread, NULL, engine_main, s)) {
        llp_err_set(err, "cannot start the engine thread");
        llp_gen_sched_free(s->sched);
        free(s->active);
        free(s);
        return NULL;
    }
    return s;
}

void llp_serve_engine_close(llp_serve_engine *s)
{
    pthread_mutex_lock(&s->mu);
    s->closed = true;
    pthread_mutex_unlock(&s->mu);
}

void llp_serve_engine_stop(llp_serve_engine *s)
{
    if (!s) return;
    pthread_mutex_lock(&s->mu);
    s->closed = s->stopping = true;
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    llp_gen_sched_free(s->sched);
    llp_embedder_free(s->embedder);
    llp_context_free(s->embed_ctx);
    llp_context_free(s->sum_ctx);
    llp_classifier_free(s->cls);
    free(s->cls_key);
    free(s->active);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->wake);
    free(s);
}

/* ---- waiting (request threads) --------------------------------------------------- */

static void cancel_locked(llp_serve_engine *s, llp_serve_job *j)
{
    if (j->state == LLP_SERVE_DONE) return;
    __atomic_store_n(&j->cancel, true, __ATOMIC_RELAXED);
    pthread_cond_signal(&s->wake);
    while (j->state != LLP_SERVE_DONE) pthread_cond_wait(&j->changed, &s->mu);
}

void llp_serve_engine_cancel(llp_serve_engine *s, llp_serve_job *j)
{
    pthread_mutex_lock(&s->mu);
    cancel_locked(s, j);
    pthread_mutex_unlock(&s->mu);
}

static void abs_after(struct timespec *ts, double seconds)
{
    clock_gettime(CLOCK_REALTIME, ts);
    long ns = ts->tv_nsec + (long)(seconds * 1e9);
    ts->tv_sec += ns / 1000000000L;
    ts->tv_nsec = ns % 1000000000L;
}

int llp_serve_engine_wait(llp_serve_engine *s, llp_serve_job *j, double deadline,
                          bool (*gone)(void *), void *gone_ctx)
{
    pthread_mutex_lock(&s->mu);
    int why = 0;
    while (j->state != LLP_SERVE_DONE) {
        if (llp_now() >= deadline) {
            why = 1;
            break;
        }
        pthread_mutex_unlock(&s->mu);
        bool left = gone && gone(gone_ctx);
        pthread_mutex_lock(&s->mu);
        if (left) {
            why = 2;
            break;
        }
        if (j->state == LLP_SERVE_DONE) break;
        struct timespec ts;
        abs_after(&ts, 0.05);
        pthread_cond_timedwait(&j->changed, &s->mu, &ts);
    }
    if (why) cancel_locked(s, j);
    pthread_mutex_unlock(&s->mu);
    return why;
}

int llp_serve_engine_next_piece(llp_serve_engine *s, llp_serve_job *j, double deadline,
                                char **piece, size_t *len)
{
    pthread_mutex_lock(&s->mu);
    int rc;
    for (;;) {
        if (j->pieces_taken < j->n_pieces) {
            size_t from = j->pieces_taken ? j->ends[j->pieces_taken - 1] : 0;
            size_t to = j->ends[j->pieces_taken++];
            *piece = llp_strndup(j->text + from, to - from);
            *len = to - from;
            rc = 1;
            break;
        }
        if (j->state == LLP_SERVE_DONE) {
            rc = 0;
            break;
        }
        if (llp_now() >= deadline) {
            rc = -1;
            break;
        }
        struct timespec ts;
        abs_after(&ts, 0.05);
        pthread_cond_timedwait(&j->changed, &s->mu, &ts);
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

void llp_serve_engine_abort(llp_serve_engine *s)
{
    pthread_mutex_lock(&s->mu);
    s->closed = true;
    for (llp_serve_job *j = s->head; j; j = j->next) __atomic_store_n(&j->cancel, true, __ATOMIC_RELAXED);
    for (int i = 0; i < s->n_slots; i++)
        if (s->active[i]) __atomic_store_n(&s->active[i]->cancel, true, __ATOMIC_RELAXED);
    if (running_task) __atomic_store_n(&running_task->cancel, true, __ATOMIC_RELAXED);
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->mu);
}

void llp_serve_engine_get_stats(llp_serve_engine *s, llp_serve_engine_stats *st)
{
    pthread_mutex_lock(&s->mu);
    st->slots = s->n_slots;
    st->slots_busy = active_count(s);
    st->queued = s->n_queued;
    st->passes = llp_gen_sched_passes(s->sched);
    st->tokens_fed = llp_gen_sched_tokens_fed(s->sched);
    pthread_mutex_unlock(&s->mu);
}
