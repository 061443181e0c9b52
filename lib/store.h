/*
 * store.h — the SQLite store: models, jobs, items (every record's output,
 * which is also the cache), embeddings, and full-text search over outputs.
 * The schema and the cache key are documented for sqlite3 users in
 * docs/store.md.
 *
 * Not for: the record loop itself (batch.h drives it: cache lookups, one
 * transaction per batch, job status), hashing (hash.h), or reading records
 * (records.h).
 *
 * A NULL llp_store * is a valid store everywhere (--no-db): every call
 * succeeds, records nothing, and every cache lookup misses.
 *
 * Concurrency: the database runs in WAL mode with a busy timeout; writes go
 * in IMMEDIATE transactions retried while another process holds the write
 * lock, so several processes can write one store at once. Work is durable
 * once llp_store_commit returns; a crash loses at most the open transaction.
 *
 * Errors name the database path: "out.db: database is read-only",
 * "out.db: disk full (database or disk is full)".
 */
#ifndef LLP_STORE_H
#define LLP_STORE_H

#include <stdint.h>
#include <stdbool.h>
#include <jansson.h>
#include "util.h"
#include "hash.h"

typedef struct llp_store llp_store;
typedef struct sqlite3 sqlite3;

/* Schema version this build writes (PRAGMA user_version after migrating). */
#define LLP_STORE_SCHEMA_VERSION 3

/* Job statuses (jobs.status). "partial": finished, some records failed. */
#define LLP_JOB_RUNNING     "running"
#define LLP_JOB_DONE        "done"
#define LLP_JOB_FAILED      "failed"
#define LLP_JOB_INTERRUPTED "interrupted"
#define LLP_JOB_PARTIAL     "partial"

/* ---- opening ------------------------------------------------------------ */

/* The store path for a run: `explicit_path` (--db) when non-NULL, else
 * $LLP_DB when set and non-empty, else $XDG_DATA_HOME/llamapipe/llamapipe.db,
 * else $HOME/.local/share/llamapipe/llamapipe.db. Returns a malloc'd string;
 * NULL with err set when no path can be formed (no HOME). */
char *llp_store_resolve_path(const char *explicit_path, llp_err *err);

/* Open (creating the file and its parent directories) and migrate the
 * schema to LLP_STORE_SCHEMA_VERSION. Refuses a store whose user_version is
 * newer than this build knows. Returns NULL with err set. */
llp_store *llp_store_open(const char *path, llp_err *err);

/* Open an existing store for reading only (llp-jobs list, show, export;
 * llp-embed --similar): never creates, migrates or writes, so a store on a
 * read-only medium, or one this user may not write, can be read. An older
 * schema is read as it is (fields it lacks read as absent); a newer one is
 * refused. When SQLite cannot open the write-ahead log read-only (no -shm
 * and no way to create one), the file is opened immutable, which is safe
 * because then no -wal data exists; a non-empty -wal that cannot be read is
 * refused with a message saying so. Writes on the handle fail with
 * "PATH: database is read-only". Returns NULL with err set. */
llp_store *llp_store_open_readonly(const char *path, llp_err *err);

/* Close; rolls back a transaction left open. NULL is fine. */
void llp_store_close(llp_store *s);

const char *llp_store_path(const llp_store *s);   /* NULL store: NULL */
sqlite3 *llp_store_sqlite(llp_store *s);          /* for llp-jobs queries */

/* PRAGMA user_version of the open store; -1 on error. */
int llp_store_user_version(llp_store *s);

/* ---- transactions --------------------------------------------------------
 * One writer transaction at a time per store handle. begin takes the write
 * lock (BEGIN IMMEDIATE), waiting and retrying while another process holds
 * it. commit makes everything since begin durable. rollback discards it. */
int llp_store_begin(llp_store *s, llp_err *err);
int llp_store_commit(llp_store *s, llp_err *err);
void llp_store_rollback(llp_store *s);
bool llp_store_in_transaction(const llp_store *s);

/* ---- models -------------------------------------------------------------- */

/* Record a model (upsert keyed by fingerprint: a moved file updates path).
 * metadata: an object (arch, shape, type, ...), borrowed. Returns the
 * models.id (> 0), 0 for a NULL store, -1 on error. */
int64_t llp_store_model(llp_store *s, const char *path,
                        const char *fingerprint, int64_t size,
                        const json_t *metadata, llp_err *err);

/* ---- jobs ---------------------------------------------------------------- */

typedef struct llp_job_spec {
    const char *tool;        /* "tokenize", "classify", or a pipeline step */
    int64_t parent_job;      /* pipeline job id, 0 = none */
    int argc;                /* command line, stored as a JSON array */
    char **argv;
    const json_t *params;    /* parameters that shape the output (borrowed) */
    int64_t model_id;        /* from llp_store_model, 0 = none */
} llp_job_spec;

/* Counters of a job (jobs.n_items ... elapsed_ms). */
typedef struct llp_job_counts {
    int64_t n_items, n_cached, n_failed;
    int64_t tokens_in, tokens_out;
    int64_t elapsed_ms;
} llp_job_counts;

/* Insert a job row with status "running", a fresh uuid, host, pid and start
 * time. Runs in its own transaction unless one is open. Returns the job id
 * (> 0), 0 for a NULL store, -1 on error. */
int64_t llp_store_job_begin(llp_store *s, const llp_job_spec *spec,
                            llp_err *err);

/* Update a job's counters (and status when non-NULL; finished_at is set
 * for any status other than "running"). Part of the open transaction if
 * there is one, else its own. */
int llp_store_job_update(llp_store *s, int64_t job_id, const char *status,
                         const llp_job_counts *c, llp_err *err);

/* For a process about to die (a second Ctrl-C): set status on those of
 * the jobs ids[0..n) (ids <= 0 skipped) that are still "running", with
 * finished_at, through a connection of its own (the store's handle may be
 * busy in another thread), waiting at most wait_ms for the write lock.
 * Counters stay as last committed. Returns 0 or -1 with err. */
int llp_store_jobs_mark(const char *path, const int64_t *ids, int n,
                        const char *status, int wait_ms, llp_err *err);

/* ---- items and the cache --------------------------------------------------
 * Cache key: (task, model_fp, params_hash, input_hash). An item with that
 * key and no error is a finished result any later run may reuse. */

typedef struct llp_cache_key {
    const char *task;          /* tool or step name */
    const char *model_fp;      /* "" when the task uses no model */
    const char *params_hash;   /* llp_hash_json(params) */
    char input_hash[LLP_HASH_HEX];
} llp_cache_key;

typedef struct llp_item {
    const char *record_id;
    const json_t *output;      /* fields the tool added (object), or NULL */
    const char *error;         /* NULL = success */
    int64_t tokens_in, tokens_out;
    double ms;                 /* time spent on this record */
    bool cached;               /* output reused from an earlier item */
    int64_t ordinal;           /* the record's 1-based position in the run's
                                  input (llp_record.ordinal); 0 for an item
                                  that is not an input record */
    const json_t *input;       /* the input record's fields (object), or
                                  NULL; stored for llp-jobs export */
} llp_item;

/* Record one item of a job. Call inside a transaction (llp_store_begin) for
 * batching; outside one it commits on its own. An item is identified by
 * (job, ordinal, record_id, task, input_hash): every input record is its own
 * item, duplicate ids and texts included; putting the same identity again
 * (a merge bringing a row already here) adds nothing. */
int llp_store_item_put(llp_store *s, int64_t job_id, const llp_cache_key *key,
                       const llp_item *item, llp_err *err);

/* Look up a finished result. Returns 1 on a hit (*output: a new reference
 * the caller owns; tokens may be NULL), 0 on a miss, -1 on error. */
int llp_store_cache_get(llp_store *s, const llp_cache_key *key,
                        json_t **output, int64_t *tokens_in,
                        int64_t *tokens_out, llp_err *err);

/* ---- embeddings -----------------------------------------------------------
 * Vectors in named collections, stored as little-endian float32 BLOBs with
 * the text they were made from (text_len bytes, as read; NULL = none);
 * unique per (collection, content_hash, model_fp): storing the same content
 * again replaces the row (and its record_id). */
int llp_store_embedding_put(llp_store *s, const char *collection,
                            const char *record_id, const char *text,
                            size_t text_len, const char *content_hash,
                            const float *vec, int dim, const char *model_fp,
                            llp_err *err);

/* Visit every vector of a collection (only those of model_fp when it is
 * non-NULL). The visitor returns non-zero to stop early. Returns 0, or -1
 * with err set. vec and text are valid only during the call; text is NULL
 * for vectors stored without one (before schema version 2). */
typedef int (*llp_embedding_visitor)(void *ctx, const char *record_id,
                                     const char *text, const float *vec,
                                     int dim);
int llp_store_embeddings_each(llp_store *s, const char *collection,
                              const char *model_fp,
                              llp_embedding_visitor visit, void *ctx,
                              llp_err *err);

/* ---- training (llp-finetune) ----------------------------------------------- */

/* One optimizer step of a training job (table train_steps). */
typedef struct llp_train_step_row {
    int64_t step;          /* 1-based */
    int64_t epoch;         /* 1-based epoch the step's batch came from */
    double loss;           /* mean cross-entropy per target token, nats */
    double val_loss;       /* on --val after this step; NAN when not measured */
    double lr;             /* learning rate used */
    double grad_norm;      /* before clipping */
    int64_t tokens;        /* tokens of the step's sequences */
    double ms;             /* wall time of the step */
} llp_train_step_row;

/* Record a step (the same step of the same job recorded again replaces the
 * row; a --resume run is a job of its own). Returns 0 or -1 with err. A store older than version 3 opened
 * read-only has no such table: a write is refused there anyway. */
int llp_store_train_step_put(llp_store *s, int64_t job_id, const llp_train_step_row *r,
                             llp_err *err);
/* The steps of a job in order as JSON objects {step, epoch, loss, val_loss
 * (absent when not measured), lr, grad_norm, tokens, ms}; an empty array
 * for a job without steps or a store older than version 3. */
json_t *llp_store_train_steps(llp_store *s, int64_t job_id, llp_err *err);

/* ---- administration (llp-jobs) ------------------------------------------- */

/* Jobs as JSON objects (id, uuid, tool, parent_job, status, started_at,
 * finished_at, n_items, n_cached, n_failed, tokens_in, tokens_out,
 * elapsed_ms, host, pid, model fields...). list: all jobs, oldest first.
 * Returns a new array, NULL with err set. */
json_t *llp_store_jobs_list(llp_store *s, llp_err *err);

/* One job with argv and params decoded; NULL with err "no job N". */
json_t *llp_store_job_get(llp_store *s, int64_t job_id, llp_err *err);

/* Visit a job's records (its items of its own task: not a summarize job's
 * chunk items) in insertion order, each as a record. With
 * with_input, the record as the tool wrote it: the input record's fields,
 * then the fields the tool added, then "error" when it failed (items stored
 * without their input, before schema version 2, start from {"id":
 * record_id} instead). Without, {"id": record_id, ...added fields,
 * "error": ...}. Visitor returns non-zero to stop. Returns 0 or -1. */
typedef int (*llp_item_visitor)(void *ctx, json_t *record);
int llp_store_job_items(llp_store *s, int64_t job_id, bool with_input,
                        llp_item_visitor visit, void *ctx, llp_err *err);

/* The job whose items stand for job_id's output: job_id itself, or for a
 * pipeline job (one with child jobs) its newest child, the last step run.
 * Returns the id (> 0), or -1 with err set. */
int64_t llp_store_job_output_job(llp_store *s, int64_t job_id, llp_err *err);

/* Copy every model, job, item and embedding of the store at in_path into
 * s, remapping ids. Idempotent: jobs are matched by uuid, items by (job,
 * ordinal, record, task, input hash), models by fingerprint, embeddings by
 * their unique key. An input this process cannot write is read as it is
 * (read-only; schema version 1 or 2), any other is migrated first. Counts of rows added go to *jobs_added / *items_added
 * (either may be NULL). One transaction per input store. */
int llp_store_merge(llp_store *s, const char *in_path, int64_t *jobs_added,
                    int64_t *items_added, llp_err *err);

/* Garbage-collect: mark "running" jobs of this host whose process is gone
 * as "interrupted"; delete failed items superseded by a later success of the
 * same key; delete orphan rows (items of missing jobs, FTS rows without
 * items, models nothing refers to) and clear dangling parent_job/model_id
 * links; VACUUM. Rows deleted are counted in *deleted. */
int llp_store_gc(llp_store *s, int64_t *deleted, llp_err *err);

#endif
