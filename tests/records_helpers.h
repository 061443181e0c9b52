/*
 * records_helpers.h — scaffolding shared by the record-layer tests
 * (records_*.c): writing corpus files under $LLP_TMP, reading every record
 * of an input, and capturing a writer's output in memory.
 *
 * Not for: assertions (tap.h) or anything the library itself needs.
 */
#ifndef LLP_RECORDS_HELPERS_H
#define LLP_RECORDS_HELPERS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "records.h"
#include "tap.h"

/* A fresh scratch directory for this test program: $LLP_TMP/NAME.PID. */
static inline const char *scratch_dir(const char *name)
{
    static char dir[4096];
    snprintf(dir, sizeof dir, "%s/%s.%d", tmp_dir(), name, (int)getpid());
    mkdir(dir, 0755);
    return dir;
}

/* Path of a file in the scratch directory (static storage, 8 rotating slots
 * so a test can hold a few at once). */
static inline const char *scratch_path(const char *dir, const char *rel)
{
    static char bufs[8][4096];
    static int next;
    char *b = bufs[next++ % 8];
    snprintf(b, 4096, "%s/%s", dir, rel);
    return b;
}

static inline void write_bytes(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, n, f) != n || fclose(f) != 0) {
        printf("Bail out! cannot write %s\n", path);
        exit(1);
    }
}

static inline void write_text(const char *path, const char *s) { write_bytes(path, s, strlen(s)); }

/* All records of an input. Returns the count (records in *out, free with
 * free_records), or -1 with err when opening or reading failed fatally. */
static inline long read_all(const llp_reader_opts *o, llp_record ***out, llp_err *err)
{
    llp_reader *r = llp_reader_open(o, err);
    *out = NULL;
    if (!r) return -1;
    long n = 0, cap = 0;
    llp_record *rec;
    int rc;
    while ((rc = llp_reader_next(r, &rec, err)) == 1) {
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            *out = llp_realloc(*out, (size_t)cap * sizeof **out);
        }
        (*out)[n++] = rec;
    }
    llp_reader_close(r);
    return rc < 0 ? -1 : n;
}

static inline void free_records(llp_record **recs, long n)
{
    for (long i = 0; i < n; i++) llp_record_free(recs[i]);
    free(recs);
}

/* Options reading the given paths (NULL-terminated list), quiet. */
static inline llp_reader_opts paths_opts(char **paths)
{
    llp_reader_opts o = {0};
    o.paths = paths;
    while (paths && paths[o.n_paths]) o.n_paths++;
    o.quiet = true;
    o.tool = "llp-test";
    return o;
}

/* A string field of a record's object, or "" when absent. */
static inline const char *field_str(const llp_record *r, const char *key)
{
    const char *s = json_string_value(json_object_get(r->fields, key));
    return s ? s : "";
}

/* Read an input and write all its records with the given writer options
 * into a newly allocated string (the caller frees it); each record first
 * gets the fields in `add` (name, JSON text pairs; NULL-terminated). */
static inline char *transcode(const llp_reader_opts *ro, llp_writer_opts wo, const char *const *add)
{
    llp_err err = {{0}};
    llp_reader *r = llp_reader_open(ro, &err);
    if (!r) {
        diag("open: %s", err.msg);
        return NULL;
    }
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    wo.stream = mem;
    wo.input_format = llp_reader_format(r);
    wo.input_columns = llp_reader_columns(r, &wo.n_input_columns);
    llp_writer *w = llp_writer_open(&wo, &err);
    llp_record *rec;
    while (w && llp_reader_next(r, &rec, &err) == 1) {
        for (const char *const *a = add; a && a[0]; a += 2)
            if (!rec->error) llp_record_add(rec, a[0], json_loads(a[1], JSON_DECODE_ANY, NULL));
        llp_writer_write(w, rec, &err);
        llp_record_free(rec);
    }
    llp_writer_close(w, &err);
    llp_reader_close(r);
    fclose(mem);
    return buf;
}

#endif
