/*
 * store_rows.c — writing and reading the store's rows: models, jobs, items
 * (and the cache lookup over them), embeddings.
 *
 * Not for: opening, migrations and transactions (store.c), or listing,
 * merging and garbage collection for llp-jobs (store_admin.c).
 */
#include "store_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

/* ---- statement helpers --------------------------------------------------- */

sqlite3_stmt *store_stmt(llp_store *s, enum store_stmt which, const char *sql,
                         llp_err *err)
{
    sqlite3_stmt *st = s->stmts[which];
    if (!st) {
        int rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT,
                                    &st, NULL);
        if (rc != SQLITE_OK) {
            store_fail(s, err, rc, "preparing a statement");
            return NULL;
        }
        s->stmts[which] = st;
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return st;
}

int store_step_write(sqlite3_stmt *st)
{
    double give_up = llp_now() + 300;
    for (;;) {
        int rc = sqlite3_step(st);
        if ((rc & 0xff) != SQLITE_BUSY || llp_now() > give_up) return rc;
        sqlite3_reset(st);
        struct timespec ts = { 0, 20 * 1000000L };
        nanosleep(&ts, NULL);
    }
}

void store_finalize_statements(llp_store *s)
{
    for (int i = 0; i < N_STORE_STMTS; i++) {
        sqlite3_finalize(s->stmts[i]);
        s->stmts[i] = NULL;
    }
}

/* Prepare a one-off statement; NULL with err set on failure. */
static sqlite3_stmt *prepare(llp_store *s, const char *sql, llp_err *err)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK) {
        store_fail(s, err, rc, "preparing a statement");
        return NULL;
    }
    return st;
}

static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
    if (v) sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
    else sqlite3_bind_null(st, i);
}

static void bind_id(sqlite3_stmt *st, int i, int64_t id)
{
    if (id > 0) sqlite3_bind_int64(st, i, id);
    else sqlite3_bind_null(st, i);
}

/* JSON text of v (compact, keys in their order); NULL v gives `dflt`. */
static char *json_text(const json_t *v, const char *dflt)
{
    if (!v) return llp_strdup(dflt);
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY |
                                JSON_REAL_PRECISION(9));
    return s ? s : llp_strdup(dflt);
}

/* ---- models -------------------------------------------------------------- */

int64_t llp_store_model(llp_store *s, const char *path,
                        const char *fingerprint, int64_t size,
                        const json_t *metadata, llp_err *err)
{
    if (!s) return 0;
    sqlite3_stmt *st = prepare(s,
        "INSERT INTO models(fingerprint, path, size, metadata, first_seen,"
        "  last_seen) VALUES (?1, ?2, ?3, ?4, " STORE_NOW ", " STORE_NOW ")"
        " ON CONFLICT(fingerprint) DO UPDATE SET path = excluded.path,"
        "  metadata = excluded.metadata, last_seen = excluded.last_seen"
        " RETURNING id", err);
    if (!st) return -1;
    char *meta = json_text(metadata, "{}");
    bind_text(st, 1, fingerprint);
    bind_text(st, 2, path ? path : "");
    sqlite3_bind_int64(st, 3, size);
    bind_text(st, 4, meta);
    free(meta);
    int rc = store_step_write(st);
    int64_t id = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    if (rc == SQLITE_ROW) rc = sqlite3_step(st);
    if (rc != SQLITE_DONE) {
        store_fail(s, err, rc, "recording the model");
        id = -1;
    }
    sqlite3_finalize(st);
    return id;
}

/* ---- jobs ---------------------------------------------------------------- */

/* A random (version 4) UUID: jobs keep their identity when stores merge. */
static void make_uuid(char out[37])
{
    unsigned char b[16];
    if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b) {
        /* No entropy source: mix time, pid and a counter instead. */
        static unsigned counter;
        char seed[128], hex[LLP_HASH_HEX];
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        snprintf(seed, sizeof seed, "%lld.%ld.%d.%u", (long long)ts.tv_sec,
                 ts.tv_nsec, (int)getpid(), counter++);
        llp_hash128(seed, strlen(seed), hex);
        for (int i = 0; i < 16; i++) {
            unsigned v;
            sscanf(hex + 2 * i, "%2x", &v);
            b[i] = (unsigned char)v;
        }
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
             "%02x%02x%02x%02x%02x%02x",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9],
             b[10], b[11], b[12], b[13], b[14], b[15]);
}

/* argv as a JSON array of strings; bytes that are not valid UTF-8 make
 * jansson refuse a string, so such an argument is kept with '?' for every
 * non-ASCII byte. */
static json_t *argv_json(int argc, char **argv)
{
    json_t *a = json_array();
    for (int i = 0; i < argc && argv && argv[i]; i++) {
        json_t *v = json_string(argv[i]);
        if (!v) {
            char *copy = llp_strdup(argv[i]);
            for (char *p = copy; *p; p++)
                if ((unsigned char)*p >= 0x80) *p = '?';
            v = json_string(copy);
            free(copy);
        }
        json_array_append_new(a, v ? v : json_string(""));
    }
    return a;
}

int64_t llp_store_job_begin(llp_store *s, const llp_job_spec *spec,
                            llp_err *err)
{
    if (!s) return 0;
    sqlite3_stmt *st = prepare(s,
        "INSERT INTO jobs(uuid, tool, parent_job, argv, params, params_hash,"
        "  model_id, host, pid, started_at, status)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, " STORE_NOW
        ", 'running')", err);
    if (!st) return -1;
    char uuid[37], params_hash[LLP_HASH_HEX], host[256] = "";
    make_uuid(uuid);
    llp_hash_json(spec->params, params_hash);
    if (gethostname(host, sizeof host - 1) != 0) strcpy(host, "unknown");
    json_t *args = argv_json(spec->argc, spec->argv);
    char *argv_text = json_text(args, "[]");
    char *params_text = json_text(spec->params, "{}");
    json_decref(args);
    bind_text(st, 1, uuid);
    bind_text(st, 2, spec->tool ? spec->tool : "unknown");
    bind_id(st, 3, spec->parent_job);
    bind_text(st, 4, argv_text);
    bind_text(st, 5, params_text);
    bind_text(st, 6, params_hash);
    bind_id(st, 7, spec->model_id);
    bind_text(st, 8, host);
    sqlite3_bind_int64(st, 9, (int64_t)getpid());
    free(argv_text);
    free(params_text);
    int rc = store_step_write(st);
    int64_t id = sqlite3_last_insert_rowid(s->db);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return store_fail(s, err, rc, "recording the job");
    return id;
}

int llp_store_job_update(llp_store *s, int64_t job_id, const char *status,
                         const llp_job_counts *c, llp_err *err)
{
    if (!s || job_id <= 0) return 0;
    sqlite3_stmt *st = prepare(s,
        "UPDATE jobs SET n_items = ?2, n_cached = ?3, n_failed = ?4,"
        "  tokens_in = ?5, tokens_out = ?6, elapsed_ms = ?7,"
        "  status = coalesce(?8, status),"
        "  finished_at = CASE WHEN ?8 IS NOT NULL AND ?8 != 'running'"
        "    THEN " STORE_NOW " ELSE finished_at END"
        " WHERE id = ?1", err);
    if (!st) return -1;
    llp_job_counts zero = { 0 };
    if (!c) c = &zero;
    sqlite3_bind_int64(st, 1, job_id);
    sqlite3_bind_int64(st, 2, c->n_items);
    sqlite3_bind_int64(st, 3, c->n_cached);
    sqlite3_bind_int64(st, 4, c->n_failed);
    sqlite3_bind_int64(st, 5, c->tokens_in);
    sqlite3_bind_int64(st, 6, c->tokens_out);
    sqlite3_bind_int64(st, 7, c->elapsed_ms);
    bind_text(st, 8, status);
    int rc = store_step_write(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return store_fail(s, err, rc, "updating the job");
    return 0;
}

int llp_store_jobs_mark(const char *path, const int64_t *ids, int n,
                        const char *status, int wait_ms, llp_err *err)
{
    llp_store tmp = { .path = (char *)path };
    int rc = sqlite3_open_v2(path, &tmp.db, SQLITE_OPEN_READWRITE, NULL);
    if (rc != SQLITE_OK) {
        store_fail(&tmp, err, rc, "marking the job");
        sqlite3_close(tmp.db);
        return -1;
    }
    sqlite3_busy_timeout(tmp.db, wait_ms);
    sqlite3_stmt *st = NULL;
    rc = sqlite3_prepare_v2(tmp.db,
        "UPDATE jobs SET status = ?2, finished_at = " STORE_NOW
        " WHERE id = ?1 AND status = 'running'", -1, &st, NULL);
    for (int i = 0; rc == SQLITE_OK && i < n; i++) {
        if (ids[i] <= 0) continue;
        sqlite3_bind_int64(st, 1, ids[i]);
        sqlite3_bind_text(st, 2, status, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        if (rc == SQLITE_DONE) rc = SQLITE_OK;
        sqlite3_reset(st);
    }
    if (rc != SQLITE_OK) store_fail(&tmp, err, rc, "marking the job");
    sqlite3_finalize(st);
    sqlite3_close(tmp.db);
    return rc == SQLITE_OK ? 0 : -1;
}

/* ---- items and the cache ------------------------------------------------- */

int llp_store_item_put(llp_store *s, int64_t job_id, const llp_cache_key *key,
                       const llp_item *item, llp_err *err)
{
    if (!s) return 0;
    /* OR IGNORE: the same record (id and input) twice in one job, or a
     * merge bringing a row that is already here, is recorded once. */
    sqlite3_stmt *st = store_stmt(s, STMT_ITEM_PUT,
        "INSERT OR IGNORE INTO items(job_id, record_id, task, model_fp,"
        "  params_hash, input_hash, output, error, cached, tokens_in,"
        "  tokens_out, ms, created_at)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, "
        STORE_NOW ")", err);
    if (!st) return -1;
    char *output = item->error && !item->output ? NULL
                                                : json_text(item->output, "{}");
    sqlite3_bind_int64(st, 1, job_id);
    bind_text(st, 2, item->record_id ? item->record_id : "");
    bind_text(st, 3, key->task ? key->task : "");
    bind_text(st, 4, key->model_fp ? key->model_fp : "");
    bind_text(st, 5, key->params_hash ? key->params_hash : "");
    bind_text(st, 6, key->input_hash);
    bind_text(st, 7, output);
    bind_text(st, 8, item->error);
    sqlite3_bind_int(st, 9, item->cached ? 1 : 0);
    sqlite3_bind_int64(st, 10, item->tokens_in);
    sqlite3_bind_int64(st, 11, item->tokens_out);
    sqlite3_bind_double(st, 12, item->ms);
    free(output);
    int rc = store_step_write(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) return store_fail(s, err, rc, "recording an item");
    return 0;
}

int llp_store_cache_get(llp_store *s, const llp_cache_key *key,
                        json_t **output, int64_t *tokens_in,
                        int64_t *tokens_out, llp_err *err)
{
    *output = NULL;
    if (!s) return 0;
    sqlite3_stmt *st = store_stmt(s, STMT_CACHE_GET,
        "SELECT output, tokens_in, tokens_out FROM items"
        " WHERE task = ?1 AND model_fp = ?2 AND params_hash = ?3"
        "   AND input_hash = ?4 AND error IS NULL AND output IS NOT NULL"
        " ORDER BY id DESC LIMIT 1", err);
    if (!st) return -1;
    bind_text(st, 1, key->task ? key->task : "");
    bind_text(st, 2, key->model_fp ? key->model_fp : "");
    bind_text(st, 3, key->params_hash ? key->params_hash : "");
    bind_text(st, 4, key->input_hash);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        sqlite3_reset(st);
        return 0;
    }
    if (rc != SQLITE_ROW) {
        sqlite3_reset(st);
        return store_fail(s, err, rc, "looking up the cache");
    }
    const char *text = (const char *)sqlite3_column_text(st, 0);
    json_error_t jerr;
    json_t *v = text ? json_loads(text, JSON_DECODE_ANY, &jerr) : NULL;
    if (tokens_in) *tokens_in = sqlite3_column_int64(st, 1);
    if (tokens_out) *tokens_out = sqlite3_column_int64(st, 2);
    sqlite3_reset(st);
    if (!json_is_object(v)) {
        /* A row we cannot read back is treated as a miss: recomputing is
         * always correct, and the new item supersedes it. */
        json_decref(v);
        return 0;
    }
    *output = v;
    return 1;
}

/* ---- embeddings ---------------------------------------------------------- */

/* Vectors are stored little-endian whatever the host's byte order. */
static void float_to_le(const float *src, unsigned char *dst, int n)
{
    for (int i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &src[i], 4);
        for (int b = 0; b < 4; b++) dst[4 * i + b] = (unsigned char)(u >> (8 * b));
    }
}

static void le_to_float(const unsigned char *src, float *dst, int n)
{
    for (int i = 0; i < n; i++) {
        uint32_t u = 0;
        for (int b = 0; b < 4; b++) u |= (uint32_t)src[4 * i + b] << (8 * b);
        memcpy(&dst[i], &u, 4);
    }
}

int llp_store_embedding_put(llp_store *s, const char *collection,
                            const char *record_id, const char *content_hash,
                            const float *vec, int dim, const char *model_fp,
                            llp_err *err)
{
    if (!s) return 0;
    if (dim <= 0)
        return llp_err_set(err, "%s: embedding of record %s has dimension %d",
                           s->path, record_id ? record_id : "?", dim);
    sqlite3_stmt *st = store_stmt(s, STMT_EMBEDDING_PUT,
        "INSERT INTO embeddings(collection, record_id, content_hash, dim,"
        "  vector, model_fp, created_at)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, " STORE_NOW ")"
        " ON CONFLICT(collection, content_hash, model_fp) DO UPDATE SET"
        "  record_id = excluded.record_id, dim = excluded.dim,"
        "  vector = excluded.vector, created_at = excluded.created_at", err);
    if (!st) return -1;
    unsigned char *blob = llp_malloc((size_t)dim * 4);
    float_to_le(vec, blob, dim);
    bind_text(st, 1, collection ? collection : "");
    bind_text(st, 2, record_id ? record_id : "");
    bind_text(st, 3, content_hash ? content_hash : "");
    sqlite3_bind_int(st, 4, dim);
    sqlite3_bind_blob(st, 5, blob, dim * 4, SQLITE_TRANSIENT);
    bind_text(st, 6, model_fp ? model_fp : "");
    free(blob);
    int rc = store_step_write(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return store_fail(s, err, rc, "recording an embedding");
    return 0;
}

int llp_store_embeddings_each(llp_store *s, const char *collection,
                              const char *model_fp,
                              llp_embedding_visitor visit, void *ctx,
                              llp_err *err)
{
    if (!s) return 0;
    sqlite3_stmt *st = prepare(s,
        "SELECT record_id, dim, vector FROM embeddings"
        " WHERE collection = ?1 AND (?2 IS NULL OR model_fp = ?2)"
        " ORDER BY id", err);
    if (!st) return -1;
    bind_text(st, 1, collection ? collection : "");
    bind_text(st, 2, model_fp);
    float *vec = NULL;
    int cap = 0, rc, result = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *rid = (const char *)sqlite3_column_text(st, 0);
        int dim = sqlite3_column_int(st, 1);
        const unsigned char *blob = sqlite3_column_blob(st, 2);
        int bytes = sqlite3_column_bytes(st, 2);
        if (dim <= 0 || bytes != dim * 4 || !blob) {
            result = llp_err_set(err, "%s: embedding of record %s in "
                                 "collection %s has %d bytes for dimension %d",
                                 s->path, rid ? rid : "?", collection, bytes,
                                 dim);
            break;
        }
        if (dim > cap) {
            cap = dim;
            vec = llp_realloc(vec, (size_t)cap * sizeof *vec);
        }
        le_to_float(blob, vec, dim);
        if (visit(ctx, rid ? rid : "", vec, dim)) break;
    }
    if (result == 0 && rc != SQLITE_ROW && rc != SQLITE_DONE)
        result = store_fail(s, err, rc, "reading embeddings");
    free(vec);
    sqlite3_finalize(st);
    return result;
}
