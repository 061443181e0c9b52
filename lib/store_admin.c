/*
 * store_admin.c — what llp-jobs does to a store: list and show jobs, export
 * a job's items as records, merge other stores in (with id remapping, as
 * often as you like), and garbage-collect.
 *
 * Not for: the record loop's writes (store_rows.c) or opening and
 * migrating (store.c).
 */
#include "store_internal.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- rows as JSON ---------------------------------------------------------- */

/* Column i of the current row as JSON. Columns named in `json_columns`
 * (space-separated, padded with spaces) hold JSON text and are decoded. */
static json_t *column_json(sqlite3_stmt *st, int i, const char *json_columns)
{
    switch (sqlite3_column_type(st, i)) {
    case SQLITE_INTEGER:
        return json_integer(sqlite3_column_int64(st, i));
    case SQLITE_FLOAT:
        return json_real(sqlite3_column_double(st, i));
    case SQLITE_NULL:
        return json_null();
    default: {
        const char *text = (const char *)sqlite3_column_text(st, i);
        char name[80];
        snprintf(name, sizeof name, " %s ", sqlite3_column_name(st, i));
        if (json_columns && strstr(json_columns, name)) {
            json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);
            if (v) return v;
        }
        json_t *v = json_string(text ? text : "");
        return v ? v : json_string("");
    }
    }
}

static json_t *row_json(sqlite3_stmt *st, const char *json_columns)
{
    json_t *o = json_object();
    int n = sqlite3_column_count(st);
    for (int i = 0; i < n; i++)
        json_object_set_new(o, sqlite3_column_name(st, i),
                            column_json(st, i, json_columns));
    return o;
}

#define JOB_COLUMNS \
    "j.id, j.uuid, j.tool, j.parent_job, j.status, j.started_at," \
    " j.finished_at, j.n_items, j.n_cached, j.n_failed, j.tokens_in," \
    " j.tokens_out, j.elapsed_ms, j.host, j.pid, j.params_hash," \
    " m.path AS model, m.fingerprint AS model_fp"

json_t *llp_store_jobs_list(llp_store *s, llp_err *err)
{
    if (!s) return json_array();
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(s->db,
        "SELECT " JOB_COLUMNS " FROM jobs j LEFT JOIN models m"
        " ON m.id = j.model_id ORDER BY j.id", -1, &st, NULL);
    if (rc != SQLITE_OK) {
        store_fail(s, err, rc, "listing jobs");
        return NULL;
    }
    json_t *a = json_array();
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        json_array_append_new(a, row_json(st, NULL));
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        json_decref(a);
        store_fail(s, err, rc, "listing jobs");
        return NULL;
    }
    return a;
}

json_t *llp_store_job_get(llp_store *s, int64_t job_id, llp_err *err)
{
    if (!s) {
        llp_err_set(err, "no store (--no-db)");
        return NULL;
    }
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(s->db,
        "SELECT " JOB_COLUMNS ", j.argv, j.params, m.metadata AS model_metadata"
        " FROM jobs j LEFT JOIN models m ON m.id = j.model_id WHERE j.id = ?1",
        -1, &st, NULL);
    if (rc != SQLITE_OK) {
        store_fail(s, err, rc, "reading a job");
        return NULL;
    }
    sqlite3_bind_int64(st, 1, job_id);
    json_t *o = NULL;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        o = row_json(st, " argv params model_metadata ");
    else if (rc == SQLITE_DONE)
        llp_err_set(err, "%s: no job %lld", s->path, (long long)job_id);
    else
        store_fail(s, err, rc, "reading a job");
    sqlite3_finalize(st);
    return o;
}

/* The first record of an item: its stored input fields with_input (when
 * the item has them), else {"id": record_id}. */
static json_t *item_record_base(sqlite3_stmt *st, bool with_input)
{
    if (with_input && sqlite3_column_type(st, 3) == SQLITE_TEXT) {
        json_t *in = json_loads((const char *)sqlite3_column_text(st, 3), 0,
                                NULL);
        if (json_is_object(in)) {
            /* "error" is the item's own (set after the added fields), not
             * the upstream one the input may carry. */
            json_object_del(in, "error");
            return in;
        }
        json_decref(in);
    }
    json_t *rec = json_object();
    json_object_set_new(rec, "id", column_json(st, 0, NULL));
    return rec;
}

int llp_store_job_items(llp_store *s, int64_t job_id, bool with_input,
                        llp_item_visitor visit, void *ctx, llp_err *err)
{
    if (!s) return 0;
    sqlite3_stmt *st;
    /* The job's records are its items of its own task (a summarize job's
     * chunk items are not records). A store read as it is may predate the
     * input column (version 1). */
#define JOB_RECORDS " FROM items WHERE job_id = ?1 AND task =" \
    " (SELECT tool FROM jobs WHERE id = ?1) ORDER BY id"
    int rc = sqlite3_prepare_v2(s->db, s->version >= 2
        ? "SELECT record_id, output, error, input" JOB_RECORDS
        : "SELECT record_id, output, error, NULL" JOB_RECORDS, -1, &st, NULL);
#undef JOB_RECORDS
    if (rc != SQLITE_OK) return store_fail(s, err, rc, "reading items");
    sqlite3_bind_int64(st, 1, job_id);
    int result = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *rec = item_record_base(st, with_input);
        const char *out = (const char *)sqlite3_column_text(st, 1);
        json_t *fields = out ? json_loads(out, 0, NULL) : NULL;
        if (json_is_object(fields)) json_object_update(rec, fields);
        json_decref(fields);
        if (sqlite3_column_type(st, 2) != SQLITE_NULL)
            json_object_set_new(rec, "error", column_json(st, 2, NULL));
        int stop = visit(ctx, rec);
        json_decref(rec);
        if (stop) break;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        result = store_fail(s, err, rc, "reading items");
    sqlite3_finalize(st);
    return result;
}

int64_t llp_store_job_output_job(llp_store *s, int64_t job_id, llp_err *err)
{
    if (!s) return llp_err_set(err, "no store (--no-db)");
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(s->db,
        "SELECT coalesce(max(id), ?1) FROM jobs WHERE parent_job = ?1", -1,
        &st, NULL);
    if (rc != SQLITE_OK) return store_fail(s, err, rc, "reading a job");
    sqlite3_bind_int64(st, 1, job_id);
    rc = sqlite3_step(st);
    int64_t id = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    if (rc != SQLITE_ROW) store_fail(s, err, rc, "reading a job");
    sqlite3_finalize(st);
    return id;
}

/* ---- merge ------------------------------------------------------------------ */

static int64_t changes(llp_store *s) { return sqlite3_changes64(s->db); }

/* Statements of one merge, run inside one transaction, in this order. The
 * attached input is `src`. Each is idempotent: rows already present (same
 * fingerprint, uuid, item key or embedding key) are left alone. */
static const char *const merge_models =
    "INSERT INTO main.models(fingerprint, path, size, metadata, first_seen,"
    "  last_seen)"
    " SELECT fingerprint, path, size, metadata, first_seen, last_seen"
    " FROM src.models WHERE true ORDER BY id"
    " ON CONFLICT(fingerprint) DO NOTHING";
static const char *const merge_jobs =
    "INSERT INTO main.jobs(uuid, tool, parent_job, argv, params, params_hash,"
    "  model_id, host, pid, started_at, finished_at, status, n_items,"
    "  n_cached, n_failed, tokens_in, tokens_out, elapsed_ms)"
    " SELECT j.uuid, j.tool, NULL, j.argv, j.params, j.params_hash,"
    "  (SELECT mm.id FROM main.models mm JOIN src.models sm"
    "     ON sm.fingerprint = mm.fingerprint WHERE sm.id = j.model_id),"
    "  j.host, j.pid, j.started_at, j.finished_at, j.status, j.n_items,"
    "  j.n_cached, j.n_failed, j.tokens_in, j.tokens_out, j.elapsed_ms"
    " FROM src.jobs j WHERE j.uuid NOT IN (SELECT uuid FROM main.jobs)"
    " ORDER BY j.id";
/* Parents are linked after every job exists, by uuid. */
static const char *const merge_parents =
    "UPDATE main.jobs SET parent_job ="
    "  (SELECT mp.id FROM src.jobs sj JOIN src.jobs sp ON sp.id = sj.parent_job"
    "     JOIN main.jobs mp ON mp.uuid = sp.uuid WHERE sj.uuid = main.jobs.uuid)"
    " WHERE parent_job IS NULL AND uuid IN"
    "  (SELECT uuid FROM src.jobs WHERE parent_job IS NOT NULL)";
/* A job merged while it was still running takes its final state when it
 * is merged again later. */
static const char *const merge_job_states =
    "UPDATE main.jobs SET (status, finished_at, n_items, n_cached, n_failed,"
    "  tokens_in, tokens_out, elapsed_ms) ="
    "  (SELECT status, finished_at, n_items, n_cached, n_failed, tokens_in,"
    "     tokens_out, elapsed_ms FROM src.jobs sj WHERE sj.uuid = main.jobs.uuid)"
    " WHERE status = 'running' AND uuid IN"
    "  (SELECT uuid FROM src.jobs WHERE status != 'running')";
/* Items and embeddings of an input of version 2, and of version 1 (read
 * as it is when it cannot be migrated in place: ordinal 0, no input, no
 * text, as its rows get when migrated). */
#define MERGE_ITEMS(ORDINAL, INPUT) \
    "INSERT OR IGNORE INTO main.items(job_id, record_id, task, model_fp," \
    "  params_hash, input_hash, output, error, cached, tokens_in, tokens_out," \
    "  ms, created_at, ordinal, input)" \
    " SELECT mj.id, i.record_id, i.task, i.model_fp, i.params_hash," \
    "  i.input_hash, i.output, i.error, i.cached, i.tokens_in, i.tokens_out," \
    "  i.ms, i.created_at, " ORDINAL ", " INPUT \
    " FROM src.items i JOIN src.jobs sj ON sj.id = i.job_id" \
    "  JOIN main.jobs mj ON mj.uuid = sj.uuid ORDER BY i.id"
#define MERGE_EMBEDDINGS(TEXT) \
    "INSERT INTO main.embeddings(collection, record_id, content_hash, dim," \
    "  vector, model_fp, created_at, text)" \
    " SELECT collection, record_id, content_hash, dim, vector, model_fp," \
    "  created_at, " TEXT " FROM src.embeddings WHERE true ORDER BY id" \
    " ON CONFLICT(collection, content_hash, model_fp) DO NOTHING"
static const char *const merge_items[] = {
    [1] = MERGE_ITEMS("0", "NULL"),
    [2] = MERGE_ITEMS("i.ordinal", "i.input"),
    [3] = MERGE_ITEMS("i.ordinal", "i.input"),
};
static const char *const merge_embeddings[] = {
    [1] = MERGE_EMBEDDINGS("NULL"),
    [2] = MERGE_EMBEDDINGS("text"),
    [3] = MERGE_EMBEDDINGS("text"),
};
/* Training steps (version 3 on): those of the jobs just merged. */
static const char *const merge_train_steps =
    "INSERT OR IGNORE INTO main.train_steps(job_id, step, epoch, loss, val_loss, lr,"
    "  grad_norm, tokens, ms, created_at)"
    " SELECT mj.id, t.step, t.epoch, t.loss, t.val_loss, t.lr, t.grad_norm, t.tokens,"
    "  t.ms, t.created_at FROM src.train_steps t JOIN src.jobs sj ON sj.id = t.job_id"
    "  JOIN main.jobs mj ON mj.uuid = sj.uuid ORDER BY t.id";
_Static_assert(sizeof merge_items / sizeof *merge_items ==
               LLP_STORE_SCHEMA_VERSION + 1, "merge SQL for every version");

static int attached_version(llp_store *s)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "PRAGMA src.user_version", -1, &st, NULL))
        return -1;
    int v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
    sqlite3_finalize(st);
    return v;
}

/* ATTACH in_path AS src, by URI with `query` ("" or "mode=ro..."). */
static int attach(llp_store *s, const char *in_path, const char *query,
                  llp_err *err)
{
    sqlite3_stmt *st;
    char *uri = store_file_uri(in_path, query);
    int rc = sqlite3_prepare_v2(s->db, "ATTACH ?1 AS src", -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, uri, -1, SQLITE_TRANSIENT);
        rc = sqlite3_step(st);
        if (rc == SQLITE_DONE) rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    free(uri);
    if (rc != SQLITE_OK)
        return llp_err_set(err, "%s: cannot attach: %s", in_path,
                           sqlite3_errmsg(s->db));
    return 0;
}

static void detach(llp_store *s);

/* Attach an input we may not write (another user's shard, a read-only
 * medium) read-only; as llp_store_open_readonly does, immutable when its
 * write-ahead log cannot be opened and holds nothing. Returns its schema
 * version, or -1 with err set. */
static int attach_read_only(llp_store *s, const char *in_path, llp_err *err)
{
    int v = -1;
    if (attach(s, in_path, "mode=ro", err) == 0) {
        v = attached_version(s);
        if (v < 0) detach(s);
    }
    if (v < 0 && !store_has_wal_data(in_path) &&
        attach(s, in_path, "mode=ro&immutable=1", err) == 0) {
        v = attached_version(s);
        if (v < 0) detach(s);
    }
    if (v < 0)
        llp_err_set(err, "%s: cannot read the store read-only%s", in_path,
                    store_has_wal_data(in_path)
                        ? ": its write-ahead log holds data, and the -shm file"
                          " SQLite needs to read it cannot be opened or"
                          " created here" : "");
    return v;
}

static void detach(llp_store *s)
{
    sqlite3_exec(s->db, "DETACH src", NULL, NULL, NULL);
}

int llp_store_merge(llp_store *s, const char *in_path, int64_t *jobs_added,
                    int64_t *items_added, llp_err *err)
{
    if (jobs_added) *jobs_added = 0;
    if (items_added) *items_added = 0;
    if (!s) return llp_err_set(err, "merge needs a store (not --no-db)");
    struct stat a, b;
    if (stat(in_path, &a) != 0)
        return llp_err_set(err, "%s: %s", in_path, strerror(errno));
    if (stat(s->path, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino)
        return llp_err_set(err, "%s: cannot merge a store into itself",
                           in_path);

    /* An input written by an older llamapipe is migrated first, by opening
     * it as a store; a newer one is refused by the same open. A store we
     * may not write (another user's shard) is read as it is, in any
     * version this build can read. */
    int v;
    if (access(in_path, W_OK) == 0) {
        llp_store *in = llp_store_open(in_path, err);
        if (!in) return -1;
        llp_store_close(in);
        if (attach(s, in_path, "", err)) return -1;
        v = attached_version(s);
    } else {
        v = attach_read_only(s, in_path, err);
        if (v < 0) return -1;
    }
    if (v < 1 || v > LLP_STORE_SCHEMA_VERSION) {
        detach(s);
        return llp_err_set(err, "%s: schema version %d, expected 1 to %d",
                           in_path, v, LLP_STORE_SCHEMA_VERSION);
    }
    if (llp_store_begin(s, err)) {
        detach(s);
        return -1;
    }
    int64_t n_jobs = 0, n_items = 0;
    int rc = store_exec(s, merge_models, "merging models", err);
    if (!rc) {
        rc = store_exec(s, merge_jobs, "merging jobs", err);
        n_jobs = changes(s);
    }
    if (!rc) rc = store_exec(s, merge_parents, "merging job parents", err);
    if (!rc) rc = store_exec(s, merge_job_states, "merging job states", err);
    if (!rc) {
        rc = store_exec(s, merge_items[v], "merging items", err);
        n_items = changes(s);
    }
    if (!rc)
        rc = store_exec(s, merge_embeddings[v], "merging embeddings", err);
    if (!rc && v >= 3)
        rc = store_exec(s, merge_train_steps, "merging training steps", err);
    if (rc) llp_store_rollback(s);
    else rc = llp_store_commit(s, err);
    detach(s);
    if (rc) {
        /* Name the input too: the error may be about either file. */
        if (!err) return -1;
        llp_err inner = *err;
        return llp_err_set(err, "merging %s: %s", in_path, inner.msg);
    }
    if (jobs_added) *jobs_added = n_jobs;
    if (items_added) *items_added = n_items;
    return 0;
}

/* ---- gc --------------------------------------------------------------------- */

/* Jobs left "running" by a process of this host that no longer exists. */
static int mark_dead_jobs(llp_store *s, int64_t *n, llp_err *err)
{
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    sqlite3_stmt *st, *up;
    int rc = sqlite3_prepare_v2(s->db, "SELECT id, pid FROM jobs WHERE"
                                " status = 'running' AND host = ?1", -1, &st,
                                NULL);
    if (rc != SQLITE_OK) return store_fail(s, err, rc, "finding stale jobs");
    rc = sqlite3_prepare_v2(s->db, "UPDATE jobs SET status = 'interrupted'"
                            " WHERE id = ?1", -1, &up, NULL);
    if (rc != SQLITE_OK) {
        sqlite3_finalize(st);
        return store_fail(s, err, rc, "marking stale jobs");
    }
    sqlite3_bind_text(st, 1, host, -1, SQLITE_TRANSIENT);
    int result = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        pid_t pid = (pid_t)sqlite3_column_int64(st, 1);
        if (pid > 0 && (kill(pid, 0) == 0 || errno != ESRCH)) continue;
        sqlite3_reset(up);
        sqlite3_bind_int64(up, 1, sqlite3_column_int64(st, 0));
        if (sqlite3_step(up) != SQLITE_DONE) {
            result = store_fail(s, err, sqlite3_errcode(s->db),
                                "marking stale jobs");
            break;
        }
        (*n)++;
    }
    sqlite3_finalize(st);
    sqlite3_finalize(up);
    return result;
}

static const char *const gc_deletes[] = {
    /* Failed items whose key later succeeded: the retry superseded them. */
    "DELETE FROM items WHERE error IS NOT NULL AND EXISTS"
    " (SELECT 1 FROM items later WHERE later.task = items.task"
    "   AND later.model_fp = items.model_fp AND later.params_hash = items.params_hash"
    "   AND later.input_hash = items.input_hash AND later.error IS NULL"
    "   AND later.id > items.id)",
    /* Items of jobs that no longer exist. */
    "DELETE FROM items WHERE job_id NOT IN (SELECT id FROM jobs)",
    "DELETE FROM train_steps WHERE job_id NOT IN (SELECT id FROM jobs)",
    /* Full-text rows whose item is gone. */
    "DELETE FROM items_fts WHERE rowid NOT IN (SELECT id FROM items)",
    /* Models no job, item or embedding refers to. */
    "DELETE FROM models WHERE id NOT IN (SELECT model_id FROM jobs WHERE"
    " model_id IS NOT NULL) AND fingerprint NOT IN (SELECT model_fp FROM items)"
    " AND fingerprint NOT IN (SELECT model_fp FROM embeddings)",
};

static const char *const gc_repairs[] = {
    "UPDATE jobs SET parent_job = NULL WHERE parent_job IS NOT NULL AND"
    " parent_job NOT IN (SELECT id FROM jobs)",
    "UPDATE jobs SET model_id = NULL WHERE model_id IS NOT NULL AND"
    " model_id NOT IN (SELECT id FROM models)",
};

int llp_store_gc(llp_store *s, int64_t *deleted, llp_err *err)
{
    int64_t n = 0;
    if (deleted) *deleted = 0;
    if (!s) return 0;
    if (llp_store_begin(s, err)) return -1;
    int64_t stale = 0;
    int rc = mark_dead_jobs(s, &stale, err);
    for (size_t i = 0; !rc && i < sizeof gc_deletes / sizeof *gc_deletes; i++) {
        rc = store_exec(s, gc_deletes[i], "collecting garbage", err);
        if (!rc) n += changes(s);
    }
    for (size_t i = 0; !rc && i < sizeof gc_repairs / sizeof *gc_repairs; i++)
        rc = store_exec(s, gc_repairs[i], "repairing references", err);
    if (!rc)
        rc = store_exec(s, "INSERT INTO items_fts(items_fts) VALUES('optimize')",
                        "optimizing the full-text index", err);
    if (rc) {
        llp_store_rollback(s);
        return -1;
    }
    if (llp_store_commit(s, err)) return -1;
    /* VACUUM rewrites the file; it cannot run inside a transaction. */
    if (store_exec(s, "VACUUM", "vacuuming", err)) return -1;
    if (deleted) *deleted = n;
    return 0;
}
