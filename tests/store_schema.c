/*
 * store_schema.c — the store's schema and plumbing: migrations from empty,
 * user_version, WAL, idempotent reopen, refusing newer or foreign files,
 * path resolution, the NULL store, models, embeddings, FTS5, hashes and
 * fingerprints, error messages that name the database, and a store of
 * schema version 1: read as it is (read-only), migrated to version 2, and
 * merged.
 *
 * Not for: the record loop and cache behaviour (store_cache.c) or several
 * processes at once (store_concurrency.c).
 */
#include <errno.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hash.h"
#include "store.h"
#include "store_internal.h"   /* store_open_at_version: stores of version 1 */
#include "tap.h"

static char dir[1024];

static const char *path_in(const char *name)
{
    static char buf[2048];
    snprintf(buf, sizeof buf, "%s/%.500s", dir, name);
    return buf;
}

static char *query_text(llp_store *s, const char *sql)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(llp_store_sqlite(s), sql, -1, &st, NULL)) return NULL;
    char *r = NULL;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
        r = strdup((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return r;
}

static long long query_int(llp_store *s, const char *sql)
{
    char *t = query_text(s, sql);
    long long v = t ? atoll(t) : -1;
    free(t);
    return v;
}

static void test_open_and_migrate(void)
{
    llp_err err = { "" };
    char path[2048];
    snprintf(path, sizeof path, "%s/a/b/c/new.db", dir);
    llp_store *s = llp_store_open(path, &err);
    ok(s != NULL, "open creates parent directories and the file (%s)", err.msg);
    if (!s) return;
    is_int(llp_store_user_version(s), LLP_STORE_SCHEMA_VERSION,
           "user_version is the schema version after migrating from empty");
    char *mode = query_text(s, "PRAGMA journal_mode");
    ok(mode && strcmp(mode, "wal") == 0, "journal mode is WAL (%s)",
       mode ? mode : "?");
    free(mode);
    const char *tables[] = { "models", "jobs", "items", "embeddings",
                             "items_fts" };
    for (size_t i = 0; i < sizeof tables / sizeof *tables; i++) {
        char sql[256];
        snprintf(sql, sizeof sql,
                 "SELECT count(*) FROM sqlite_master WHERE name = '%s'",
                 tables[i]);
        is_int(query_int(s, sql), 1, "table %s exists", tables[i]);
    }
    is_int(query_int(s, "SELECT count(*) FROM sqlite_master WHERE name = "
                        "'items_cache_key'"), 1, "cache key index exists");
    ok(strcmp(llp_store_path(s), path) == 0, "store remembers its path");

    llp_job_spec spec = { "tokenize", 0, 0, NULL, NULL, 0 };
    int64_t job = llp_store_job_begin(s, &spec, &err);
    ok(job > 0, "a job row is created");
    llp_store_close(s);

    s = llp_store_open(path, &err);
    ok(s != NULL, "reopen succeeds");
    if (!s) return;
    is_int(llp_store_user_version(s), LLP_STORE_SCHEMA_VERSION,
           "reopen keeps the version");
    is_int(query_int(s, "SELECT count(*) FROM jobs"), 1,
           "reopen keeps the rows and migrates nothing twice");
    llp_store_close(s);
}

static void test_refusals(void)
{
    llp_err err = { "" };
    /* A store from a newer llamapipe. */
    const char *newer = path_in("newer.db");
    sqlite3 *db;
    sqlite3_open(newer, &db);
    sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL);
    sqlite3_close(db);
    llp_store *s = llp_store_open(newer, &err);
    ok(s == NULL && strstr(err.msg, newer) && strstr(err.msg, "newer"),
       "a newer schema is refused, naming the file: %s", err.msg);
    llp_store_close(s);

    /* Not a database at all. */
    const char *junk = path_in("junk.db");
    FILE *f = fopen(junk, "w");
    fputs("this is not an sqlite database, not even close; it is a text file "
          "long enough to have a header the library will inspect\n", f);
    fclose(f);
    s = llp_store_open(junk, &err);
    ok(s == NULL && strstr(err.msg, junk), "a foreign file is refused: %s",
       err.msg);
    llp_store_close(s);

    /* A path under a regular file cannot be created. */
    char bad[4096];
    snprintf(bad, sizeof bad, "%s/sub/x.db", junk);
    s = llp_store_open(bad, &err);
    ok(s == NULL && strstr(err.msg, bad), "an impossible path is refused: %s",
       err.msg);
    llp_store_close(s);

    /* Read-only file (root ignores permissions, so only as non-root). */
    if (geteuid() != 0) {
        const char *ro = path_in("ro.db");
        s = llp_store_open(ro, &err);
        llp_store_close(s);
        char wal[4200];
        snprintf(wal, sizeof wal, "%s-wal", ro);
        chmod(ro, 0444);
        s = llp_store_open(ro, &err);
        ok(s == NULL && strstr(err.msg, ro) && strstr(err.msg, "read-only"),
           "a read-only store is refused: %s", err.msg);
        llp_store_close(s);
    } else {
        ok(1, "# SKIP read-only check: running as root");
    }
}

static void test_disk_full(void)
{
    llp_err err = { "" };
    const char *path = path_in("full.db");
    llp_store *s = llp_store_open(path, &err);
    if (!ok(s != NULL, "open for the disk-full test")) return;
    llp_job_spec spec = { "t", 0, 0, NULL, NULL, 0 };
    int64_t job = llp_store_job_begin(s, &spec, &err);
    llp_cache_key key = { "t", "", "p", "" };
    llp_item item = { .record_id = "1" };
    json_t *out = json_pack("{s:s}", "text", "committed before the disk filled");
    item.output = out;
    llp_hash128("first", 5, key.input_hash);
    llp_store_item_put(s, job, &key, &item, &err);
    long long pages = query_int(s, "PRAGMA page_count");
    char sql[128];
    snprintf(sql, sizeof sql, "PRAGMA max_page_count = %lld", pages + 2);
    sqlite3_exec(llp_store_sqlite(s), sql, NULL, NULL, NULL);

    json_t *big = json_object();
    char *blob = malloc(200000);
    memset(blob, 'x', 199999);
    blob[199999] = 0;
    json_object_set_new(big, "text", json_string(blob));
    free(blob);
    int rc = llp_store_begin(s, &err);
    item.output = big;
    for (int i = 0; rc == 0 && i < 50; i++) {
        char id[32];
        snprintf(id, sizeof id, "big%d", i);
        item.record_id = id;
        llp_hash128(id, strlen(id), key.input_hash);
        rc = llp_store_item_put(s, job, &key, &item, &err);
    }
    ok(rc != 0 && strstr(err.msg, path) && strstr(err.msg, "disk full"),
       "a full disk is reported naming the store: %s", err.msg);
    llp_store_rollback(s);
    is_int(query_int(s, "SELECT count(*) FROM items WHERE record_id = '1'"), 1,
           "work committed before the disk filled is kept");
    json_decref(big);
    json_decref(out);
    llp_store_close(s);
}

static void test_resolve_path(void)
{
    llp_err err;
    char *p = llp_store_resolve_path("x/y.db", &err);
    ok(p && strcmp(p, "x/y.db") == 0, "--db wins");
    free(p);
    setenv("LLP_DB", "/env/store.db", 1);
    p = llp_store_resolve_path(NULL, &err);
    ok(p && strcmp(p, "/env/store.db") == 0, "then $LLP_DB");
    free(p);
    setenv("LLP_DB", "", 1);
    setenv("XDG_DATA_HOME", "/xdg", 1);
    p = llp_store_resolve_path(NULL, &err);
    ok(p && strcmp(p, "/xdg/llamapipe/llamapipe.db") == 0,
       "then $XDG_DATA_HOME/llamapipe/llamapipe.db");
    free(p);
    unsetenv("XDG_DATA_HOME");
    setenv("HOME", "/home/u", 1);
    p = llp_store_resolve_path(NULL, &err);
    ok(p && strcmp(p, "/home/u/.local/share/llamapipe/llamapipe.db") == 0,
       "then ~/.local/share/llamapipe/llamapipe.db");
    free(p);
    unsetenv("HOME");
    p = llp_store_resolve_path(NULL, &err);
    ok(p == NULL && strstr(err.msg, "--no-db"), "no HOME: error suggests "
       "--no-db: %s", err.msg);
    free(p);
}

static void test_null_store(void)
{
    llp_err err = { "" };
    llp_job_spec spec = { "t", 0, 0, NULL, NULL, 0 };
    llp_cache_key key = { "t", "", "p", "0" };
    llp_item item = { .record_id = "1" };
    json_t *out = (json_t *)1;
    float v[2] = { 1, 2 };
    ok(llp_store_begin(NULL, &err) == 0 && llp_store_commit(NULL, &err) == 0,
       "NULL store: transactions succeed");
    is_int(llp_store_job_begin(NULL, &spec, &err), 0, "NULL store: job id 0");
    is_int(llp_store_model(NULL, "m", "fp", 1, NULL, &err), 0,
           "NULL store: model id 0");
    is_int(llp_store_item_put(NULL, 0, &key, &item, &err), 0,
           "NULL store: item put succeeds");
    is_int(llp_store_cache_get(NULL, &key, &out, NULL, NULL, &err), 0,
           "NULL store: cache misses");
    ok(out == NULL, "NULL store: no output on a miss");
    is_int(llp_store_embedding_put(NULL, "c", "1", "t", 1, "h", v, 2, "", &err), 0,
           "NULL store: embedding put succeeds");
    llp_store_close(NULL);
}

static int count_vec(void *ctx, const char *id, const char *text,
                     const float *v, int dim)
{
    int *n = ctx;
    if (strcmp(id, "doc2") == 0 && dim == 3 && v[0] == 0.5f && v[2] == -3.25f
        && text && strcmp(text, "second text") == 0)
        n[1]++;
    n[0]++;
    return 0;
}

static void test_rows(void)
{
    llp_err err = { "" };
    llp_store *s = llp_store_open(path_in("rows.db"), &err);
    if (!ok(s != NULL, "open rows.db")) return;
    json_t *meta = json_pack("{s:s,s:i}", "arch", "llama", "n_layer", 2);
    int64_t m1 = llp_store_model(s, "/a/m.gguf", "fp1", 1000, meta, &err);
    int64_t m2 = llp_store_model(s, "/b/m.gguf", "fp1", 1000, meta, &err);
    ok(m1 > 0 && m1 == m2, "a model is keyed by fingerprint (%lld %lld)",
       (long long)m1, (long long)m2);
    char *path = query_text(s, "SELECT path FROM models");
    ok(path && strcmp(path, "/b/m.gguf") == 0, "a moved model updates path");
    free(path);
    char *arch = query_text(s, "SELECT metadata->>'arch' FROM models");
    ok(arch && strcmp(arch, "llama") == 0, "metadata is queryable JSON");
    free(arch);
    json_decref(meta);

    float a[3] = { 1, 2, 3 }, b[3] = { 0.5f, 0, -3.25f };
    llp_store_embedding_put(s, "docs", "doc1", "first", 5, "h1", a, 3, "fp1", &err);
    llp_store_embedding_put(s, "docs", "doc1", "second", 6, "h2", a, 3, "fp1", &err);
    llp_store_embedding_put(s, "docs", "doc2", "second text", 11, "h2", b, 3, "fp1", &err);
    llp_store_embedding_put(s, "other", "x", NULL, 0, "h1", a, 3, "fp1", &err);
    int n[2] = { 0, 0 };
    llp_store_embeddings_each(s, "docs", NULL, count_vec, n, &err);
    is_int(n[0], 2, "same content again replaces the row");
    is_int(n[1], 1, "vectors round-trip as float32, with their text");
    n[0] = 0;
    llp_store_embeddings_each(s, "docs", "other-model", count_vec, n, &err);
    is_int(n[0], 0, "model filter applies");
    is_int(query_int(s, "SELECT length(vector) FROM embeddings LIMIT 1"), 12,
           "vector BLOB is 4 bytes per dimension");

    llp_job_spec spec = { "summarize", 0, 0, NULL, NULL, m1 };
    int64_t job = llp_store_job_begin(s, &spec, &err);
    llp_cache_key key = { "summarize", "fp1", "p", "" };
    json_t *o1 = json_pack("{s:s,s:i}", "summary", "the quick brown fox",
                           "chunks", 1);
    llp_item it = { .record_id = "r1", .output = o1, .tokens_in = 3, .tokens_out = 5, .ms = 1.5 };
    llp_hash128("a", 1, key.input_hash);
    llp_store_item_put(s, job, &key, &it, &err);
    it.record_id = "r2";
    it.cached = true;
    llp_hash128("b", 1, key.input_hash);
    llp_store_item_put(s, job, &key, &it, &err);
    is_int(query_int(s, "SELECT count(*) FROM items_fts WHERE items_fts "
                        "MATCH 'brown'"), 1,
           "FTS5 finds computed outputs; cached copies are not indexed twice");
    char *rid = query_text(s, "SELECT i.record_id FROM items_fts f JOIN items"
                              " i ON i.id = f.rowid WHERE items_fts MATCH 'fox'");
    ok(rid && strcmp(rid, "r1") == 0, "FTS rows join back to items");
    free(rid);
    sqlite3_exec(llp_store_sqlite(s), "DELETE FROM items", NULL, NULL, NULL);
    is_int(query_int(s, "SELECT count(*) FROM items_fts"), 0,
           "deleting items deletes their FTS rows");
    json_decref(o1);

    llp_job_counts c = { 10, 2, 1, 100, 50, 1234 };
    llp_store_job_update(s, job, LLP_JOB_PARTIAL, &c, &err);
    json_t *j = llp_store_job_get(s, job, &err);
    ok(j && json_integer_value(json_object_get(j, "n_items")) == 10 &&
           strcmp(json_string_value(json_object_get(j, "status")), "partial")
               == 0 &&
           json_is_string(json_object_get(j, "finished_at")),
       "job counters, status and finished_at are stored");
    json_decref(j);
    llp_store_close(s);
}

static void test_hashes(void)
{
    char h1[LLP_HASH_HEX], h2[LLP_HASH_HEX];
    json_t *a = json_pack("{s:i,s:s}", "k", 1, "labels", "x");
    json_t *b = json_pack("{s:s,s:i}", "labels", "x", "k", 1);
    llp_hash_json(a, h1);
    llp_hash_json(b, h2);
    ok(strcmp(h1, h2) == 0 && strlen(h1) == 32,
       "JSON hash ignores key order (%s)", h1);
    json_object_set_new(b, "k", json_integer(2));
    llp_hash_json(b, h2);
    ok(strcmp(h1, h2) != 0, "JSON hash sees values");
    json_decref(a);
    json_decref(b);

    llp_hasher *h = llp_hasher_new();
    llp_hasher_add_str(h, "ab");
    llp_hasher_add_str(h, "c");
    llp_hasher_finish(h, h1);
    h = llp_hasher_new();
    llp_hasher_add_str(h, "a");
    llp_hasher_add_str(h, "bc");
    llp_hasher_finish(h, h2);
    ok(strcmp(h1, h2) != 0, "string parts are length-prefixed");
    llp_hash128("", 0, h1);
    ok(strcmp(h1, "99aa06d3014798d86001c324468d497f") == 0,
       "XXH3-128 of the empty string is the published value (%s)", h1);

    size_t size = 1 << 20, off = 4096;
    unsigned char *file = calloc(size, 1);
    for (size_t i = 0; i < size; i++) file[i] = (unsigned char)(i * 7);
    llp_err err;
    llp_model_fingerprint("m.gguf", file, size, off, h1, &err);
    llp_model_fingerprint("other/name.gguf", file, size, off, h2, &err);
    ok(strcmp(h1, h2) == 0, "fingerprint does not depend on the path");
    file[100] ^= 1;
    llp_model_fingerprint("m.gguf", file, size, off, h2, &err);
    ok(strcmp(h1, h2) != 0, "fingerprint sees the header and tables");
    file[100] ^= 1;
    file[size - 1] ^= 1;
    llp_model_fingerprint("m.gguf", file, size, off, h2, &err);
    ok(strcmp(h1, h2) != 0, "fingerprint sees the last data block");
    file[size - 1] ^= 1;
    llp_model_fingerprint("m.gguf", file, size - 1, off, h2, &err);
    ok(strcmp(h1, h2) != 0, "fingerprint sees the file size");
    ok(llp_model_fingerprint("m.gguf", file, 10, 20, h2, &err) != 0 &&
           strstr(err.msg, "m.gguf"),
       "a data offset past the end is an error naming the file: %s", err.msg);
    llp_model_fingerprint("m.gguf", file, 5000, off, h2, &err);
    ok(strlen(h2) == 32, "a small data section is hashed whole");
    free(file);
}

/* A store as llamapipe wrote it at schema version 1: one job, two items
 * (the second a repeat of the first's id with another text), one vector. */
static void make_v1_store(const char *path)
{
    llp_err err = { "" };
    llp_store *s = store_open_at_version(path, 1, &err);
    if (!s) {
        diag("version 1 store %s: %s", path, err.msg);
        return;
    }
    llp_job_spec spec = { "fake", 0, 0, NULL, NULL, 0 };
    llp_store_job_begin(s, &spec, &err);
    sqlite3_exec(llp_store_sqlite(s),
        "INSERT INTO items(job_id, record_id, task, model_fp, params_hash,"
        "  input_hash, output, created_at) VALUES"
        " (1, 'r1', 'fake', '', 'p', 'h1', '{\"upper\":\"A\"}', 'then'),"
        " (1, 'r1', 'fake', '', 'p', 'h2', '{\"upper\":\"B\"}', 'then');"
        "INSERT INTO embeddings(collection, record_id, content_hash, dim,"
        "  vector, model_fp, created_at) VALUES"
        " ('c', 'r1', 'h1', 1, x'0000803f', 'fp', 'then');",
        NULL, NULL, NULL);
    llp_store_close(s);
}

static int collect_record(void *ctx, json_t *record)
{
    char *t = json_dumps(record, JSON_COMPACT);
    size_t n = strlen(ctx);
    snprintf((char *)ctx + n, 512 - n, "%s;", t ? t : "?");
    free(t);
    return 0;
}

static int null_text_vec(void *ctx, const char *id, const char *text,
                         const float *v, int dim)
{
    *(int *)ctx = text == NULL && dim == 1 && v[0] == 1.0f;
    return 0;
}

static void test_version_1(void)
{
    llp_err err = { "" };
    char v1[2048], v1b[2048], out[2048];
    snprintf(v1, sizeof v1, "%s", path_in("v1.db"));
    snprintf(v1b, sizeof v1b, "%s", path_in("v1b.db"));
    snprintf(out, sizeof out, "%s", path_in("v1merged.db"));
    make_v1_store(v1);
    make_v1_store(v1b);

    /* Read as it is: nothing migrated, fields it lacks are absent. */
    llp_store *s = llp_store_open_readonly(v1, &err);
    if (!ok(s != NULL, "a version 1 store opens read-only (%s)", err.msg)) return;
    is_int(llp_store_user_version(s), 1, "read-only: the store stays at version 1");
    char recs[512] = "";
    ok(llp_store_job_items(s, 1, true, collect_record, recs, &err) == 0 &&
           strcmp(recs, "{\"id\":\"r1\",\"upper\":\"A\"};"
                        "{\"id\":\"r1\",\"upper\":\"B\"};") == 0,
       "read-only: a version 1 job's items export as id and outputs (%s)", recs);
    int null_text = 0;
    llp_store_embeddings_each(s, "c", NULL, null_text_vec, &null_text, &err);
    ok(null_text, "read-only: a version 1 vector has no text");
    ok(llp_store_begin(s, &err) != 0 && strstr(err.msg, "read-only"),
       "read-only: a transaction is refused: %s", err.msg);
    llp_job_spec spec = { "fake", 0, 0, NULL, NULL, 0 };
    ok(llp_store_job_begin(s, &spec, &err) < 0 && strstr(err.msg, v1) &&
           strstr(err.msg, "database is read-only"),
       "read-only: a write is refused, naming the store: %s", err.msg);
    llp_store_close(s);

    /* Migrated by a writing open. */
    s = llp_store_open(v1, &err);
    if (!ok(s != NULL, "a version 1 store opens and migrates (%s)", err.msg)) return;
    is_int(llp_store_user_version(s), LLP_STORE_SCHEMA_VERSION, "migrated to the current version");
    is_int(query_int(s, "SELECT count(*) FROM sqlite_master WHERE name = 'train_steps'"), 1,
           "migrated: the train_steps table (version 3) exists");
    is_int(query_int(s, "SELECT count(*) FROM items WHERE ordinal = 0 AND"
                        " input IS NULL"), 2,
           "migrated: the version 1 items are kept, ordinal 0, no input");
    char *cols = query_text(s, "SELECT group_concat(name) FROM"
                               " pragma_index_info('items_job_record')");
    ok(cols && strcmp(cols, "job_id,ordinal,record_id,task,input_hash") == 0,
       "migrated: an item is identified by job, ordinal, id, task and input "
       "(%s)", cols ? cols : "?");
    free(cols);
    is_int(query_int(s, "SELECT count(*) FROM embeddings WHERE text IS NULL"), 1,
           "migrated: the vector is kept, without text");
    llp_cache_key key = { "fake", "", "p", "h1" };
    json_t *in = json_pack("{s:s,s:s}", "id", "r1", "text", "a");
    llp_item a1 = { .record_id = "r1", .ordinal = 1, .input = in };
    llp_item a2 = { .record_id = "r1", .ordinal = 2, .input = in };
    llp_store_item_put(s, 1, &key, &a1, &err);
    llp_store_item_put(s, 1, &key, &a2, &err);
    llp_store_item_put(s, 1, &key, &a1, &err);
    json_decref(in);
    is_int(query_int(s, "SELECT count(*) FROM items"), 4,
           "the same id and text at two positions are two items; the same "
           "position again is none");
    char *input = query_text(s, "SELECT input FROM items WHERE ordinal = 2");
    ok(input && strcmp(input, "{\"id\":\"r1\",\"text\":\"a\"}") == 0,
       "an item keeps its input record (%s)", input ? input : "?");
    free(input);
    llp_store_close(s);

    /* Merged: an older input is migrated first; merging twice adds nothing. */
    s = llp_store_open(out, &err);
    int64_t jobs = 0, items = 0;
    ok(llp_store_merge(s, v1b, &jobs, &items, &err) == 0 && jobs == 1 &&
           items == 2,
       "a version 1 store merges: 1 job, 2 items (%s)", err.msg);
    ok(llp_store_merge(s, v1b, &jobs, &items, &err) == 0 && jobs == 0 &&
           items == 0,
       "merging it again adds nothing");
    llp_store_close(s);
}

int main(void)
{
    snprintf(dir, sizeof dir, "%s/store_schema.XXXXXX", tmp_dir());
    if (!mkdtemp(dir)) {
        printf("1..1\nnot ok 1 - mkdtemp %s: %s\n", dir, strerror(errno));
        return 1;
    }
    test_open_and_migrate();
    test_refusals();
    test_disk_full();
    test_null_store();
    test_rows();
    test_hashes();
    test_resolve_path();
    test_version_1();
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) diag("could not remove %s", dir);
    return done_testing();
}
