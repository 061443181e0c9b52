/*
 * serve_record.c — the serve job and its items (serve_record.h): a queue
 * filled by request threads and a writer thread that commits it.
 */
#include "serve_record.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "store.h"

#define BATCH 64

typedef struct queued {
    llp_serve_item it;
    char *error;
    char task[300];             /* the route (copied) */
    char record_id[32];
    struct queued *next;
} queued;

struct llp_serve_recorder {
    llp_store *store;           /* NULL: --no-db */
    char *path;
    int64_t job_id;
    const char *model_fp;
    char params_hash[LLP_HASH_HEX];
    llp_job_counts counts;
    double started;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t wake;
    queued *head, *tail;
    bool closing;
    int64_t failures;
};

static void free_queued(queued *q)
{
    json_decref(q->it.input);
    json_decref(q->it.response);
    free(q->error);
    free(q);
}

/* Write up to BATCH items in one transaction. Lock not held. */
static void write_batch(llp_serve_recorder *r, queued *batch)
{
    llp_err err = { { 0 } };
    int rc = llp_store_begin(r->store, &err);
    for (queued *q = batch; q && rc == 0; q = q->next) {
        json_t *out = json_pack("{s:s,s:i,s:O?}", "route", q->it.route, "status", q->it.status,
                                "response", q->it.response);
        llp_cache_key key = { "serve", r->model_fp, r->params_hash, { 0 } };
        memcpy(key.input_hash, q->it.input_hash, LLP_HASH_HEX);
        llp_item item = { .record_id = q->record_id, .output = out, .error = q->error,
                          .tokens_in = q->it.tokens_in, .tokens_out = q->it.tokens_out,
                          .ms = q->it.ms, .ordinal = q->it.n, .input = q->it.input };
        rc = llp_store_item_put(r->store, r->job_id, &key, &item, &err);
        json_decref(out);
        if (rc == 0) {
            r->counts.n_items++;
            if (q->error) r->counts.n_failed++;
            r->counts.tokens_in += q->it.tokens_in;
            r->counts.tokens_out += q->it.tokens_out;
        }
    }
    r->counts.elapsed_ms = (int64_t)((llp_now() - r->started) * 1000);
    if (rc == 0) rc = llp_store_job_update(r->store, r->job_id, NULL, &r->counts, &err);
    if (rc == 0) rc = llp_store_commit(r->store, &err);
    if (rc) {
        llp_store_rollback(r->store);
        llp_error("llp-serve", "%s (requests not recorded)", err.msg);
        pthread_mutex_lock(&r->mu);
        r->failures++;
        pthread_mutex_unlock(&r->mu);
    }
}

static void *writer_main(void *arg)
{
    llp_serve_recorder *r = arg;
    pthread_mutex_lock(&r->mu);
    for (;;) {
        if (!r->head) {
            if (r->closing) break;
            pthread_cond_wait(&r->wake, &r->mu);
            continue;
        }
        queued *batch = r->head, *last = batch;
        for (int n = 1; n < BATCH && last->next; n++) last = last->next;
        r->head = last->next;
        if (!r->head) r->tail = NULL;
        last->next = NULL;
        pthread_mutex_unlock(&r->mu);
        write_batch(r, batch);
        while (batch) {
            queued *next = batch->next;
            free_queued(batch);
            batch = next;
        }
        pthread_mutex_lock(&r->mu);
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

llp_serve_recorder *llp_serve_recorder_open(const llp_serve_opts *o, const llp_engine *e,
                                            const json_t *params, llp_err *err)
{
    llp_serve_recorder *r = llp_calloc(1, sizeof *r);
    r->started = llp_now();
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->wake, NULL);
    if (o->no_db) return r;
    if (!(r->path = llp_store_resolve_path(o->db_path, err))) goto fail;
    if (!(r->store = llp_store_open(r->path, err))) goto fail;
    r->model_fp = e->fingerprint;
    llp_hash_json(params, r->params_hash);
    int64_t model_id = llp_store_model(r->store, e->model->path, e->fingerprint, e->file_size,
                                       e->meta, err);
    if (model_id < 0) goto fail;
    llp_job_spec spec = { "serve", 0, o->argc, o->argv, params, model_id };
    if ((r->job_id = llp_store_job_begin(r->store, &spec, err)) < 0) goto fail;
    if (pthread_create(&r->thread, NULL, writer_main, r)) {
        llp_err_set(err, "cannot start the store writer thread");
        goto fail;
    }
    return r;
fail:
    llp_store_close(r->store);
    free(r->path);
    free(r);
    return NULL;
}

void llp_serve_recorder_put(llp_serve_recorder *r, llp_serve_item *it)
{
    if (!r->store) {
        json_decref(it->input);
        json_decref(it->response);
        return;
    }
    queued *q = llp_calloc(1, sizeof *q);
    q->it = *it;
    q->error = it->error ? llp_strdup(it->error) : NULL;
    q->it.error = NULL;
    snprintf(q->task, sizeof q->task, "%.290s", it->route);
    q->it.route = q->task;
    snprintf(q->record_id, sizeof q->record_id, "req-%lld", (long long)it->n);
    pthread_mutex_lock(&r->mu);
    if (r->tail) r->tail->next = q;
    else r->head = q;
    r->tail = q;
    pthread_cond_signal(&r->wake);
    pthread_mutex_unlock(&r->mu);
}

int llp_serve_recorder_close(llp_serve_recorder *r, const char *status, llp_err *err)
{
    if (!r) return 0;
    int rc = 0;
    if (r->store) {
        pthread_mutex_lock(&r->mu);
        r->closing = true;
        pthread_cond_signal(&r->wake);
        pthread_mutex_unlock(&r->mu);
        pthread_join(r->thread, NULL);
        r->counts.elapsed_ms = (int64_t)((llp_now() - r->started) * 1000);
        rc = llp_store_job_update(r->store, r->job_id, status, &r->counts, err);
        llp_store_close(r->store);
    }
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->wake);
    free(r->path);
    free(r);
    return rc;
}

int64_t llp_serve_recorder_job(const llp_serve_recorder *r) { return r ? r->job_id : 0; }
const char *llp_serve_recorder_path(const llp_serve_recorder *r) { return r ? r->path : NULL; }

int64_t llp_serve_recorder_failures(llp_serve_recorder *r)
{
    pthread_mutex_lock(&r->mu);
    int64_t n = r->failures;
    pthread_mutex_unlock(&r->mu);
    return n;
}
