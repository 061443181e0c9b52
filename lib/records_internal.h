/*
 * records_internal.h — pieces shared by the record layer's files
 * (records.c, records_read.c, records_csv.c, records_write.c). Not a public
 * API: tools use records.h.
 */
#ifndef LLP_RECORDS_INTERNAL_H
#define LLP_RECORDS_INTERNAL_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

#include "records.h"
#include "util.h"

/* ---- fields with their bytes (records.c) ---- */

/* Set field `name` of r to the bytes s (n of them) as a JSON string. When
 * they are not valid UTF-8 the string has U+FFFD, and the bytes are kept in
 * r->raw for the CSV/TSV writer. */
void record_set_bytes(llp_record *r, const char *name, const char *s, size_t n);

/* The bytes of field `name` of r when it is a raw field still holding
 * `value`, else NULL. */
const llp_raw_field *record_raw(const llp_record *r, const char *name, const json_t *value);

/* One open input: a file or stdin. Bytes already read to look at the start
 * of the input (the BOM check, the first non-blank byte of stdin) wait in
 * `pre` and are handed out before the rest of the stream, because stdin
 * cannot seek back. */
typedef struct llp_source {
    FILE  *f;
    bool   is_stdin;      /* f is stdin: not closed */
    char  *name;          /* owned: the path, or "stdin" */
    char  *pre;           /* owned: bytes read ahead, pre[pre_pos..pre_len) unread */
    size_t pre_len, pre_pos, pre_cap;
} llp_source;

/* Open path (NULL: stdin) and drop a leading UTF-8 byte order mark. */
int source_open(llp_source *s, const char *path, llp_err *err);

/* The first byte that is not ASCII white space, without consuming it; -1 at
 * end of input or on a read error. Reads at most 64 KiB ahead. */
int source_peek_nonblank(llp_source *s);

/* Like getline(3): the next line including its '\n' (if any) in *buf,
 * NUL-terminated, growing *buf as needed. Returns its length, -1 at end of
 * input, -2 on a read error (err set). */
ssize_t source_getline(llp_source *s, char **buf, size_t *cap, llp_err *err);

/* Up to n bytes into buf: the count, 0 at end of input, -1 on error. */
ssize_t source_read(llp_source *s, void *buf, size_t n, llp_err *err);

void source_close(llp_source *s);

/* ---- CSV/TSV rows (records_csv.c) ---- */

typedef struct csv_row {
    char  **values;    /* each NUL-terminated (may also hold NULs), in data */
    size_t *lens;      /* byte length of each value */
    size_t  n;         /* fields in this row (a malformed row: those before
                          the fault) */
    long    line;      /* 1-based line where the row starts */
    char   *error;     /* owned, NULL for a good row: why the row breaks the
                          CSV grammar, without the location */
    char   *data;      /* owned: the bytes values point into */
} csv_row;

typedef struct csv_input csv_input;

/* A parser over src with the given delimiter (',' or '\t'). */
csv_input *csv_input_new(llp_source *src, char delim);

/* Next row: 1 with *row set (caller frees with csv_row_free), 0 at the end,
 * -1 with err on a read error. Blank lines are skipped. A malformed row
 * comes back with ->error set, and reading goes on at its second line (the
 * rules are in records_csv.c). */
int csv_input_next(csv_input *c, csv_row **row, llp_err *err);

void csv_row_free(csv_row *r);
void csv_input_free(csv_input *c);

#endif
