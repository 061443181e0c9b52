/*
 * batch_fake.h — a fake tool for the batch-loop tests (header-only): its
 * process callback upper-cases the text, can sleep per record, fails records
 * whose text contains "FAIL", and counts how many records it computed (in
 * memory and, across processes, by appending to a file).
 *
 * Not for: real tools, or tests of a particular tool's output.
 */
#ifndef LLP_TEST_BATCH_FAKE_H
#define LLP_TEST_BATCH_FAKE_H

#include <ctype.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "batch.h"
#include "cli.h"

typedef struct fake_tool {
    long calls;              /* process invocations */
    long computed;           /* records computed */
    int max_seen;            /* largest n passed to process */
    int sleep_ms;            /* per record (a signal cuts it short) */
    int busy_ms;             /* per record, signals or not: a long step
                                that does not poll the stop flag */
    long fatal_at;           /* return a fatal error at this computed count
                                (1-based), 0 = never */
    const char *count_file;  /* append one line per computed record */
    const char *tag;         /* added to params, so it changes the cache key */
} fake_tool;

static inline int fake_process(void *ctx, llp_batch *b, llp_record *const *recs,
                        int n, llp_batch_result *res, llp_err *err)
{
    fake_tool *f = ctx;
    f->calls++;
    if (n > f->max_seen) f->max_seen = n;
    for (int i = 0; i < n; i++) {
        if (f->fatal_at && f->computed + 1 == f->fatal_at)
            return llp_err_set(err, "fake: fatal error at record %s",
                               recs[i]->id);
        if (f->sleep_ms) {
            struct timespec ts = { f->sleep_ms / 1000,
                                   (long)(f->sleep_ms % 1000) * 1000000L };
            nanosleep(&ts, NULL);
        }
        if (f->busy_ms) {
            double until = llp_now() + f->busy_ms / 1000.0;
            struct timespec ts = { 0, 5 * 1000000L };
            while (llp_now() < until) nanosleep(&ts, NULL);
        }
        f->computed++;
        if (f->count_file) {
            FILE *cf = fopen(f->count_file, "a");
            if (cf) {
                fprintf(cf, "%s\n", recs[i]->id);
                fclose(cf);
            }
        }
        if (strstr(recs[i]->text, "FAIL")) {
            llp_batch_result_fail(&res[i], "fake: refused text");
            continue;
        }
        char *up = llp_strdup(recs[i]->text);
        for (char *p = up; *p; p++) *p = (char)toupper((unsigned char)*p);
        res[i].fields = json_pack("{s:s,s:i}", "upper", up, "len",
                                  (int)recs[i]->text_len);
        res[i].tokens_in = (int64_t)recs[i]->text_len;
        res[i].tokens_out = 1;
        free(up);
    }
    return 0;
}

/* Run the fake tool with command line `args` (NULL-terminated, without
 * argv[0]); output to out_path, progress to progress_path (either NULL =
 * stdout/stderr). max_batch as for llp_batch_tool. Returns the exit code. */
static inline int fake_run_stream(fake_tool *f, int max_batch, const char *out_path,
                                  FILE *prog, const char *const *args);

static inline int fake_run(fake_tool *f, int max_batch, const char *out_path,
                    const char *progress_path, const char *const *args)
{
    FILE *prog = progress_path ? fopen(progress_path, "w") : NULL;
    int rc = fake_run_stream(f, max_batch, out_path, prog, args);
    if (prog) fclose(prog);
    return rc;
}

/* The same with the progress stream given (NULL = stderr). */
static inline int fake_run_stream(fake_tool *f, int max_batch, const char *out_path,
                                  FILE *prog, const char *const *args)
{
    char *argv[64];
    int argc = 0;
    argv[argc++] = (char *)"llp-fake";
    for (int i = 0; args[i] && argc < 63; i++) argv[argc++] = (char *)args[i];
    argv[argc] = NULL;
    llp_cli cli;
    llp_cli_init(&cli, "llp-fake");
    llp_err perr;
    int rc = llp_cli_parse(&cli, NULL, argc, argv, &perr);
    if (rc != LLP_CLI_RUN) {
        llp_cli_free(&cli);
        return rc;
    }
    FILE *out = out_path ? fopen(out_path, "w") : NULL;
    json_t *params = json_pack("{s:s}", "tag", f->tag ? f->tag : "");
    static const char *const cols[] = { "upper", "len" };
    llp_batch_tool t = { 0 };
    t.task = "fake";
    t.params = params;
    t.model_fp = "fake-model-fp";
    t.model_path = "/models/fake.gguf";
    t.model_size = 1234;
    t.process = fake_process;
    t.ctx = f;
    t.max_batch = max_batch;
    t.output_columns = cols;
    t.n_output_columns = 2;
    t.out = out;
    t.progress = prog;
    rc = llp_batch_run(&cli, &t, argc, argv);
    json_decref(params);
    if (out) fclose(out);
    llp_cli_free(&cli);
    return rc;
}

/* Write n JSONL records {"id": "r<i>", "text": "record number <i>"}; the
 * record numbered `changed` (1-based, 0 = none) gets `changed_text`. */
static inline void write_input(const char *path, int n, int changed,
                        const char *changed_text)
{
    FILE *f = fopen(path, "w");
    for (int i = 1; i <= n; i++) {
        if (i == changed)
            fprintf(f, "{\"id\":\"r%d\",\"text\":\"%s\"}\n", i, changed_text);
        else
            fprintf(f, "{\"id\":\"r%d\",\"text\":\"record number %d\"}\n", i, i);
    }
    fclose(f);
}

/* Whole file as a malloc'd string ("" when missing). */
static inline char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return llp_strdup("");
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = llp_malloc((size_t)n + 1);
    size_t got = fread(s, 1, (size_t)n, f);
    s[got] = '\0';
    fclose(f);
    return s;
}

static inline long count_lines(const char *path)
{
    char *s = slurp(path);
    long n = 0;
    for (char *p = s; *p; p++) n += *p == '\n';
    free(s);
    return n;
}

/* One integer from a query on the store at path (-1 on error). */
static inline long long db_int(const char *path, const char *sql)
{
    sqlite3 *db;
    long long v = -1;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
            if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int64(st, 0);
            sqlite3_finalize(st);
        }
    }
    sqlite3_close(db);
    return v;
}

/* One text value (malloc'd, "" when none). */
static inline char *db_text(const char *path, const char *sql)
{
    sqlite3 *db;
    char *v = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
            if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
                v = llp_strdup((const char *)sqlite3_column_text(st, 0));
            sqlite3_finalize(st);
        }
    }
    sqlite3_close(db);
    return v ? v : llp_strdup("");
}

#endif
