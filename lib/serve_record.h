/*
 * serve_record.h — llp-serve's record in the store: one long-running job
 * (tool "serve", status "running" while the server runs, so `llp-jobs
 * list` shows it), and one item per answered request, written by a thread
 * of its own in small transactions (whatever arrived since the last
 * commit, at most 64 items each), so no request waits for the disk.
 *
 * Not for: the schema (store.h, docs/store.md) or what a request answers.
 *
 * An item: record_id "req-N" (N counts the server's requests from 1, also
 * its ordinal), task "serve" (the job's tool, so `llp-jobs export` lists
 * every request), the request
 * body's hash as input_hash, its JSON (or {"body": text} when it is not a
 * JSON object) as the item's input, and as output
 *   {"route": "/predict", "status": 200, "response": {...}}
 * with the error message of a 4xx/5xx as the item's error, tokens and ms.
 */
#ifndef LLP_SERVE_RECORD_H
#define LLP_SERVE_RECORD_H

#include <stdint.h>

#include <jansson.h>

#include "engine.h"
#include "serve.h"
#include "util.h"

typedef struct llp_serve_recorder llp_serve_recorder;

/* Open the store, record the model and begin the serve job (params: the
 * serving parameters, borrowed). NULL with err on failure; with
 * o->no_db, a recorder that records nothing. */
llp_serve_recorder *llp_serve_recorder_open(const llp_serve_opts *o, const llp_engine *e,
                                            const json_t *params, llp_err *err);

typedef struct llp_serve_item {
    int64_t n;                  /* the request's number (ordinal) */
    const char *route;          /* the route's path, or the URL for an unknown one
                                   and for /pipelines/NAME */
    int status;
    json_t *input;              /* taken */
    char input_hash[LLP_HASH_HEX];
    json_t *response;           /* taken; may be NULL */
    const char *error;          /* copied; NULL: success */
    int64_t tokens_in, tokens_out;
    double ms;
} llp_serve_item;

/* Queue an item for the next commit. Thread-safe. */
void llp_serve_recorder_put(llp_serve_recorder *r, llp_serve_item *it);

/* Commit what is queued, set the job's final status and counters, close
 * the store, free r. Returns 0, or -1 with err (the store failed). */
int llp_serve_recorder_close(llp_serve_recorder *r, const char *status, llp_err *err);

/* The job id and store path (for a second signal's last word:
 * llp_store_jobs_mark), 0 / NULL without a store. */
int64_t llp_serve_recorder_job(const llp_serve_recorder *r);
const char *llp_serve_recorder_path(const llp_serve_recorder *r);

/* Failures of the store so far (each also reported on stderr). */
int64_t llp_serve_recorder_failures(llp_serve_recorder *r);

#endif
