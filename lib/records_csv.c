/*
 * records_csv.c — splitting CSV/TSV input into rows of fields, with line
 * numbers for messages.
 *
 * Not for: headers, columns or records (records_read.c maps rows onto the
 * header and builds records), or writing CSV (records_write.c).
 *
 * Why libcsv: it is a small, long-stable C library in Debian (libcsv-dev)
 * that implements RFC 4180 fully — quoted fields holding delimiters, doubled
 * quotes and newlines, CR/LF/CRLF row ends — through a streaming callback API
 * with no limit on field or row length, which is exactly what a filter over
 * large files needs. Strict mode stays off so that the sloppy CSV found in
 * the wild (a stray quote inside an unquoted field, text after a closing
 * quote) is read as best it can be rather than rejected; a row that comes
 * out with the wrong number of fields is then reported on that record.
 * libcsv's default of trimming spaces and tabs around unquoted fields is
 * turned off: in RFC 4180 spaces are part of the field, and in TSV a tab is
 * the delimiter.
 *
 * TSV is the same parser with a tab delimiter, so quoted fields work there
 * too (as spreadsheets and Python's csv module write them).
 */
#include "records_internal.h"

#include <csv.h>
#include <stdlib.h>
#include <string.h>

/* libcsv's parser state when it sits between rows (ROW_NOT_BEGUN in
 * libcsv.c). The field is public in struct csv_parser; we read it to learn on
 * which line a row begins. */
#define CSV_STATE_BETWEEN_ROWS 0

struct csv_input {
    llp_source *src;
    struct csv_parser parser;
    bool   eof;             /* src exhausted and csv_fini called */
    /* the row being assembled by the callbacks */
    csv_row *cur;
    size_t   cur_cap;
    /* finished rows, oldest first: queue[head..n) */
    csv_row **queue;
    size_t   head, n, cap;
    /* read buffer: buf[pos..len) not yet fed to the parser */
    char    *buf;
    size_t   pos, len;
    long     line;          /* line number of the next byte fed */
    long     row_line;      /* line where the row being assembled began */
};

enum { CSV_CHUNK = 64 * 1024 };

static int no_space(unsigned char c) { (void)c; return 0; }

csv_input *csv_input_new(llp_source *src, char delim)
{
    csv_input *c = llp_calloc(1, sizeof *c);
    c->src = src;
    /* CSV_APPEND_NULL: every field handed to us is NUL-terminated. */
    if (csv_init(&c->parser, CSV_APPEND_NULL) != 0) {
        fputs("llamapipe: error: out of memory (CSV parser)\n", stderr);
        abort();
    }
    csv_set_delim(&c->parser, (unsigned char)delim);
    csv_set_space_func(&c->parser, no_space);
    c->buf = llp_malloc(CSV_CHUNK);
    c->line = 1;
    c->row_line = 1;
    return c;
}

void csv_row_free(csv_row *r)
{
    if (!r) return;
    for (size_t i = 0; i < r->n; i++) free(r->values[i]);
    free(r->values);
    free(r->lens);
    free(r);
}

void csv_input_free(csv_input *c)
{
    if (!c) return;
    csv_free(&c->parser);
    csv_row_free(c->cur);
    for (size_t i = c->head; i < c->n; i++) csv_row_free(c->queue[i]);
    free(c->queue);
    free(c->buf);
    free(c);
}

/* libcsv callback: one field is complete. */
static void on_field(void *s, size_t len, void *data)
{
    csv_input *c = data;
    if (!c->cur) {
        c->cur = llp_calloc(1, sizeof *c->cur);
        c->cur->line = c->row_line;
        c->cur_cap = 0;
    }
    csv_row *r = c->cur;
    if (r->n == c->cur_cap) {
        c->cur_cap = c->cur_cap ? c->cur_cap * 2 : 8;
        r->values = llp_realloc(r->values, c->cur_cap * sizeof *r->values);
        r->lens = llp_realloc(r->lens, c->cur_cap * sizeof *r->lens);
    }
    /* s is NULL for an empty field at the very end of input in some libcsv
     * versions; treat it as "". */
    r->values[r->n] = llp_strndup(s ? s : "", s ? len : 0);
    r->lens[r->n] = s ? len : 0;
    r->n++;
}

/* libcsv callback: the row is complete. */
static void on_row(int term, void *data)
{
    (void)term;
    csv_input *c = data;
    if (!c->cur) return;   /* libcsv reports no fields for blank lines, but be safe */
    if (c->n == c->cap) {
        /* Reuse the consumed front of the queue before growing it. */
        if (c->head > 0) {
            memmove(c->queue, c->queue + c->head, (c->n - c->head) * sizeof *c->queue);
            c->n -= c->head;
            c->head = 0;
        }
        if (c->n == c->cap) {
            c->cap = c->cap ? c->cap * 2 : 16;
            c->queue = llp_realloc(c->queue, c->cap * sizeof *c->queue);
        }
    }
    c->queue[c->n++] = c->cur;
    c->cur = NULL;
}

/* Feed the parser one line's worth of buffered bytes (up to and including
 * the next '\n'), so that line numbers stay exact: a row that begins while
 * the parser is between rows begins on the current line. */
static int feed_line(csv_input *c, llp_err *err)
{
    char *start = c->buf + c->pos;
    size_t avail = c->len - c->pos;
    char *nl = memchr(start, '\n', avail);
    size_t n = nl ? (size_t)(nl - start) + 1 : avail;

    if (c->parser.pstate == CSV_STATE_BETWEEN_ROWS) c->row_line = c->line;
    if (csv_parse(&c->parser, start, n, on_field, on_row, c) != n)
        return llp_err_set(err, "%s:%ld: %s", c->src->name, c->line,
                           csv_strerror(csv_error(&c->parser)));
    c->pos += n;
    if (nl) c->line++;
    return 0;
}

int csv_input_next(csv_input *c, csv_row **row, llp_err *err)
{
    while (c->head == c->n) {
        if (c->eof) return 0;
        if (c->pos == c->len) {
            ssize_t got = source_read(c->src, c->buf, CSV_CHUNK, err);
            if (got < 0) return -1;
            if (got == 0) {
                /* A last row without a newline is completed by csv_fini. */
                csv_fini(&c->parser, on_field, on_row, c);
                c->eof = true;
                continue;
            }
            c->pos = 0;
            c->len = (size_t)got;
        }
        if (feed_line(c, err) < 0) return -1;
    }
    *row = c->queue[c->head++];
    return 1;
}
