/*
 * records_csv.c — splitting CSV/TSV input into rows of fields, byte for
 * byte, with the line each row starts on, and telling a malformed row from
 * a good one.
 *
 * Not for: headers, columns or records (records_read.c maps rows onto the
 * header and builds records), or writing CSV (records_write.c).
 *
 * The grammar is RFC 4180's, with ',' (CSV) or a tab (TSV) between fields:
 *   - a field that starts with '"' is quoted: it runs to the next '"' that
 *     is not doubled, and may hold delimiters, CR, LF and "" (one quote);
 *   - outside quotes a row ends at LF, CRLF or a lone CR; lines with nothing
 *     on them are no rows;
 *   - every other byte is kept as it is: no spaces trimmed (in RFC 4180
 *     they belong to the field), no line ends changed inside quotes, NUL
 *     and invalid UTF-8 passed on for the record layer to judge.
 *
 * A row that breaks the grammar comes back with csv_row.error set (and the
 * fields before the break); it is never merged into its neighbours:
 *   - a quoted field still open at the end of the input;
 *   - anything but a delimiter or a line end after a closing quote
 *     (`"abc"def`);
 *   - CSV only: a quote inside an unquoted field (`say "hi"`). TSV written
 *     by databases and `cut` holds such quotes as plain text, so in TSV it
 *     is an ordinary byte;
 *   - a row of more than LLP_CSV_MAX_RECORD bytes or LLP_CSV_MAX_FIELDS
 *     fields (records.h): an unclosed quote would otherwise take the rest
 *     of a large file into one field, in memory.
 * Reading then goes on from the line after the bad row's first line. The
 * usual cause is one stray or missing quote, and its neighbours are then
 * read as the rows they were written as; lines that really were the inside
 * of a field come out as rows that are checked like any other (most are
 * ragged, and reported). So one bad row costs no good ones, and nothing is
 * absorbed without a message.
 *
 * Why our own parser rather than libcsv (used before): libcsv's strict mode
 * is all or nothing (TSV needs a literal quote mid-field and still an error
 * for text after a closing quote), it does not say which rule a row broke,
 * and it cannot go back to a row's second line to read on.
 */
#include "records.h"
#include "records_internal.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

enum { CSV_CHUNK = 64 * 1024 };

/* Where the parser is inside the current row. */
enum csv_state {
    AT_FIELD_START,   /* before the first byte of a field */
    IN_UNQUOTED,      /* inside a field that did not start with a quote */
    IN_QUOTED,        /* inside a quoted field */
    AFTER_QUOTE,      /* just after a quote inside a quoted field: the end,
                         or the first of a doubled quote */
};

struct csv_input {
    llp_source *src;
    char   delim;
    bool   literal_quotes;  /* TSV: a quote inside an unquoted field is a byte */
    /* Raw bytes: buf[start..len) are not yet returned as rows, and
     * buf[start] is the first byte of the row being read, so a malformed
     * row can be read again from its second line. buf[pos] is the next byte
     * to look at. */
    char  *buf;
    size_t start, pos, len, cap;
    bool   eof;             /* src is exhausted */
    long   line;            /* line number of buf[pos], 1-based */
    /* The row being built: field bytes, each field followed by a NUL. */
    char   *data;
    size_t  data_len, data_cap;
    size_t *field_start;    /* offset in data of each complete field */
    size_t  n_fields, fields_cap;
    size_t  complete_len;   /* data[0..complete_len) are complete fields */
};

csv_input *csv_input_new(llp_source *src, char delim)
{
    csv_input *c = llp_calloc(1, sizeof *c);
    c->src = src;
    c->delim = delim;
    c->literal_quotes = delim == '\t';
    c->line = 1;
    return c;
}

void csv_row_free(csv_row *r)
{
    if (!r) return;
    free(r->data);
    free(r->values);
    free(r->lens);
    free(r->error);
    free(r);
}

void csv_input_free(csv_input *c)
{
    if (!c) return;
    free(c->buf);
    free(c->data);
    free(c->field_start);
    free(c);
}

/* Make buf[pos] available. Returns 1, 0 at the end of the input, -1 with
 * err on a read error. Bytes before `start` are dropped to make room;
 * buf[start..] are kept. */
static int fill(csv_input *c, llp_err *err)
{
    if (c->pos < c->len) return 1;
    if (c->eof) return 0;
    if (c->start > 0) {
        memmove(c->buf, c->buf + c->start, c->len - c->start);
        c->len -= c->start;
        c->pos -= c->start;
        c->start = 0;
    }
    if (c->cap - c->len < CSV_CHUNK) {
        c->cap = c->cap * 2 > c->len + CSV_CHUNK ? c->cap * 2 : c->len + CSV_CHUNK;
        c->buf = llp_realloc(c->buf, c->cap);
    }
    ssize_t got = source_read(c->src, c->buf + c->len, CSV_CHUNK, err);
    if (got < 0) return -1;
    if (got == 0) {
        c->eof = true;
        return 0;
    }
    c->len += (size_t)got;
    return 1;
}

static void put_byte(csv_input *c, char ch)
{
    if (c->data_len == c->data_cap) {
        c->data_cap = c->data_cap ? c->data_cap * 2 : 256;
        c->data = llp_realloc(c->data, c->data_cap);
    }
    c->data[c->data_len++] = ch;
}

/* Close the field being built. False when the row already holds
 * LLP_CSV_MAX_FIELDS fields. */
static bool end_field(csv_input *c, size_t *field_begin)
{
    if (c->n_fields == LLP_CSV_MAX_FIELDS) return false;
    put_byte(c, 0);
    if (c->n_fields == c->fields_cap) {
        c->fields_cap = c->fields_cap ? c->fields_cap * 2 : 16;
        c->field_start = llp_realloc(c->field_start, c->fields_cap * sizeof *c->field_start);
    }
    c->field_start[c->n_fields++] = *field_begin;
    *field_begin = c->complete_len = c->data_len;
    return true;
}

/* The complete fields built so far as a row starting on `line`. */
static csv_row *take_row(csv_input *c, long line)
{
    csv_row *r = llp_calloc(1, sizeof *r);
    r->line = line;
    r->n = c->n_fields;
    r->data = llp_malloc(c->complete_len ? c->complete_len : 1);
    memcpy(r->data, c->data, c->complete_len);
    r->values = llp_calloc(r->n ? r->n : 1, sizeof *r->values);
    r->lens = llp_calloc(r->n ? r->n : 1, sizeof *r->lens);
    for (size_t i = 0; i < r->n; i++) {
        r->values[i] = r->data + c->field_start[i];
        size_t end = i + 1 < r->n ? c->field_start[i + 1] : c->complete_len;
        r->lens[i] = end - c->field_start[i] - 1;   /* minus the NUL */
    }
    return r;
}

/* After a malformed row: move on to the line after the row's first line
 * (its first LF, CRLF or lone CR, quoted or not: the quoting is what
 * failed). Returns 0, or -1 with err on a read error. */
static int skip_first_line(csv_input *c, long row_line, llp_err *err)
{
    c->pos = c->start;
    c->line = row_line;
    for (;;) {
        int f = fill(c, err);
        if (f <= 0) return f;
        char ch = c->buf[c->pos++];
        if (ch == '\n') {
            c->line++;
            break;
        }
        if (ch == '\r') {
            int f = fill(c, err);
            if (f < 0) return -1;
            if (f > 0 && c->buf[c->pos] == '\n') {
                c->pos++;
                c->line++;
            }
            break;
        }
        /* A first line longer than the buffer holds: no need to keep it. */
        if (c->pos == c->len) c->start = c->pos;
    }
    c->start = c->pos;
    return 0;
}

/* A malformed row: the complete fields before the fault, and why; with
 * say_line, the line of the fault when the row began on an earlier one. */
static int malformed(csv_input *c, csv_row **row, long row_line, bool say_line,
                     llp_err *err, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static int malformed(csv_input *c, csv_row **row, long row_line, bool say_line,
                     llp_err *err, const char *fmt, ...)
{
    long fault_line = c->line;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (say_line && fault_line != row_line) {
        size_t n = strlen(msg);
        snprintf(msg + n, sizeof msg - n, " (on line %ld)", fault_line);
    }
    *row = take_row(c, row_line);
    (*row)->error = llp_strdup(msg);
    if (skip_first_line(c, row_line, err) < 0) {
        csv_row_free(*row);
        *row = NULL;
        return -1;
    }
    return 1;
}

int csv_input_next(csv_input *c, csv_row **row, llp_err *err)
{
    *row = NULL;
    enum csv_state state = AT_FIELD_START;
    bool begun = false;          /* a byte of the row seen: not a blank line */
    long row_line = c->line;
    size_t field_begin = 0;
    c->n_fields = 0;
    c->data_len = c->complete_len = 0;
    c->start = c->pos;

    for (;;) {
        int f = fill(c, err);
        if (f < 0) return -1;
        if (f == 0) {
            if (!begun) return 0;
            if (state == IN_QUOTED)
                return malformed(c, row, row_line, false, err,
                                 "quoted field %zu is never closed (the input ends inside it)",
                                 c->n_fields + 1);
            if (!end_field(c, &field_begin)) goto too_many;
            *row = take_row(c, row_line);
            c->start = c->pos;
            return 1;
        }
        if (c->pos - c->start >= LLP_CSV_MAX_RECORD)
            return malformed(c, row, row_line, false, err,
                             "record longer than %d MiB, the CSV limit (is a quote never closed?)",
                             LLP_CSV_MAX_RECORD >> 20);
        char ch = c->buf[c->pos++];
        if (ch == '\n') c->line++;
        bool line_end = ch == '\n' || ch == '\r';
        if (!begun) {
            if (line_end) {
                c->start = c->pos;
                row_line = c->line;
                continue;
            }
            begun = true;
        }

        switch (state) {
        case AT_FIELD_START:
            if (ch == '"') {
                state = IN_QUOTED;
                break;
            }
            /* Any other byte is the first of an unquoted field. */
            state = IN_UNQUOTED;
            /* fall through */
        case IN_UNQUOTED:
            if (ch == c->delim) {
                if (!end_field(c, &field_begin)) goto too_many;
                state = AT_FIELD_START;
            } else if (line_end) {
                if (!end_field(c, &field_begin)) goto too_many;
                *row = take_row(c, row_line);
                c->start = c->pos;
                return 1;
            } else if (ch == '"' && !c->literal_quotes) {
                return malformed(c, row, row_line, true, err,
                                 "quote inside unquoted field %zu (a field that holds quotes "
                                 "must be quoted whole, each quote doubled)", c->n_fields + 1);
            } else {
                put_byte(c, ch);
            }
            break;
        case IN_QUOTED:
            if (ch == '"') state = AFTER_QUOTE;
            else put_byte(c, ch);
            break;
        case AFTER_QUOTE:
            if (ch == '"') {
                put_byte(c, '"');
                state = IN_QUOTED;
            } else if (ch == c->delim) {
                if (!end_field(c, &field_begin)) goto too_many;
                state = AT_FIELD_START;
            } else if (line_end) {
                if (!end_field(c, &field_begin)) goto too_many;
                *row = take_row(c, row_line);
                c->start = c->pos;
                return 1;
            } else {
                return malformed(c, row, row_line, true, err,
                                 "text after the closing quote of field %zu", c->n_fields + 1);
            }
            break;
        }
    }
too_many:
    return malformed(c, row, row_line, false, err, "record has more than %d fields, the CSV limit",
                     LLP_CSV_MAX_FIELDS);
}
