/*
 * records_write.c — the record writer: JSONL, CSV/TSV with a fixed column
 * order that loses no field and keeps input bytes as they were, and a text
 * line for people; one flush per record; a closed pipe told apart from
 * other write errors.
 *
 * Not for: deciding what a tool adds (the tool passes its output columns) or
 * reading records (records_read.c).
 */
#include "records.h"
#include "records_internal.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

struct llp_writer {
    llp_format  format;
    FILE       *f;
    char       *name;          /* owned: "stdout" or the stream's name */
    char        delim;         /* CSV/TSV */
    char      **in_cols;       /* owned: input columns written, in order */
    size_t      n_in;
    bool        cols_fixed;    /* in_cols decided (given, or from first record) */
    char      **out_cols;      /* owned: the tool's output columns */
    size_t      n_out;
    json_t     *col_set;       /* owned: in_cols and out_cols as keys, for lookups */
    bool        header_done;
    llp_text_fn text_fn;
    void       *text_ctx;
};

/* Compact JSON with float32-exact reals: 9 significant digits reproduce any
 * float32 (embeddings, probabilities) without the noise of 17. Jansson keeps
 * insertion order (JSON_PRESERVE_ORDER is the default since 2.8 and kept
 * here for older versions). */
#define JSON_OUT_FLAGS (JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9))

static bool in_list(char **list, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i], s) == 0) return true;
    return false;
}

/* Input columns keep their order, minus `error` (always written last) and
 * minus the tool's own output columns (a re-run replaces them in place of
 * duplicating them). */
static void set_input_columns(llp_writer *w, const char *const *cols, size_t n)
{
    w->in_cols = llp_calloc(n ? n : 1, sizeof *w->in_cols);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(cols[i], "error") == 0 || in_list(w->out_cols, w->n_out, cols[i]) ||
            in_list(w->in_cols, w->n_in, cols[i]))
            continue;
        w->in_cols[w->n_in++] = llp_strdup(cols[i]);
    }
    w->cols_fixed = true;
}

llp_writer *llp_writer_open(const llp_writer_opts *o, llp_err *err)
{
    llp_writer *w = llp_calloc(1, sizeof *w);
    w->format = o->format;
    if (w->format == LLP_FMT_AUTO)
        w->format = o->input_format == LLP_FMT_CSV ? LLP_FMT_CSV
                  : o->input_format == LLP_FMT_TSV ? LLP_FMT_TSV : LLP_FMT_JSONL;
    if (w->format == LLP_FMT_LINES || w->format == LLP_FMT_DOC) {
        free(w);
        llp_err_set(err, "--out: '%s' is an input format; expected jsonl, csv, tsv or text",
                    llp_format_name(o->format));
        return NULL;
    }
    w->f = o->stream ? o->stream : stdout;
    w->name = llp_strdup(o->stream_name ? o->stream_name : "stdout");
    w->delim = w->format == LLP_FMT_TSV ? '\t' : ',';
    w->out_cols = llp_calloc(o->n_output_columns ? o->n_output_columns : 1, sizeof *w->out_cols);
    for (size_t i = 0; i < o->n_output_columns; i++)
        w->out_cols[w->n_out++] = llp_strdup(o->output_columns[i]);
    bool table = w->format == LLP_FMT_CSV || w->format == LLP_FMT_TSV;
    if (table && o->reader) {
        size_t n;
        char *const *cols = llp_reader_all_columns(o->reader, &n, err);
        if (!cols) {
            free(w->name);
            for (size_t i = 0; i < w->n_out; i++) free(w->out_cols[i]);
            free(w->out_cols);
            free(w);
            return NULL;
        }
        /* No input columns at all (an empty input): as without a reader. */
        if (n > 0) set_input_columns(w, (const char *const *)cols, n);
    } else if (o->input_columns) {
        set_input_columns(w, (const char *const *)o->input_columns, o->n_input_columns);
    }
    w->text_fn = o->text_fn;
    w->text_ctx = o->text_ctx;
    /* A tool killed by SIGPIPE mid-batch would leave its job open in the
     * store; with the signal ignored, the write fails with EPIPE and the tool
     * finishes cleanly (LLP_WRITE_CLOSED). */
    signal(SIGPIPE, SIG_IGN);
    return w;
}

llp_format llp_writer_format(const llp_writer *w) { return w->format; }

/* ---- CSV/TSV ---------------------------------------------------------- */

/* RFC 4180: quote a field only when it holds the delimiter, a quote or a
 * line break, doubling inner quotes. */
static void put_field(llp_writer *w, const char *s, size_t n)
{
    bool quote = false;
    for (size_t i = 0; i < n && !quote; i++)
        quote = s[i] == w->delim || s[i] == '"' || s[i] == '\n' || s[i] == '\r';
    if (!quote) {
        fwrite(s, 1, n, w->f);
        return;
    }
    fputc('"', w->f);
    const char *p = s, *end = s + n;
    while (p < end) {
        const char *q = memchr(p, '"', (size_t)(end - p));
        size_t k = q ? (size_t)(q - p) + 1 : (size_t)(end - p);
        fwrite(p, 1, k, w->f);
        if (q) fputc('"', w->f);
        p += k;
    }
    fputc('"', w->f);
}

/* A JSON value as CSV text: strings as they are, null as empty, everything
 * else as compact JSON. */
static void put_json(llp_writer *w, const json_t *v)
{
    if (!v || json_is_null(v)) return;
    if (json_is_string(v)) {
        put_field(w, json_string_value(v), json_string_length(v));
        return;
    }
    char *s = json_dumps(v, JSON_OUT_FLAGS | JSON_ENCODE_ANY);
    if (s) put_field(w, s, strlen(s));
    free(s);
}

/* Field `name` of r as CSV text: an input field that is not valid UTF-8 as
 * its bytes, strings as they are, null and missing as empty, everything
 * else as compact JSON. */
static void put_value(llp_writer *w, const llp_record *r, const char *name)
{
    const json_t *v = json_object_get(r->fields, name);
    if (!v || json_is_null(v)) return;
    const llp_raw_field *raw = record_raw(r, name, v);
    if (raw) {
        put_field(w, raw->bytes, raw->len);
        return;
    }
    put_json(w, v);
}

/* The first field of r that has no column, or NULL. */
static const char *field_without_column(llp_writer *w, const llp_record *r)
{
    if (!w->col_set) {
        w->col_set = json_object();
        for (size_t i = 0; i < w->n_in; i++) json_object_set_new(w->col_set, w->in_cols[i], json_true());
        for (size_t i = 0; i < w->n_out; i++) json_object_set_new(w->col_set, w->out_cols[i], json_true());
        json_object_set_new(w->col_set, "error", json_true());
    }
    const char *key;
    json_t *val;
    json_object_foreach(r->fields, key, val)
        if (!json_object_get(w->col_set, key)) return key;
    return NULL;
}

static void put_header(llp_writer *w)
{
    for (size_t i = 0; i < w->n_in; i++) {
        put_field(w, w->in_cols[i], strlen(w->in_cols[i]));
        fputc(w->delim, w->f);
    }
    for (size_t i = 0; i < w->n_out; i++) {
        put_field(w, w->out_cols[i], strlen(w->out_cols[i]));
        fputc(w->delim, w->f);
    }
    fputs("error\n", w->f);
    w->header_done = true;
}

static int put_csv(llp_writer *w, const llp_record *r, llp_err *err)
{
    if (!w->cols_fixed) {
        /* No header from the reader (JSONL in, CSV out): the first record's
         * keys decide the input columns. */
        size_t n = json_object_size(r->fields), i = 0;
        const char **keys = llp_calloc(n ? n : 1, sizeof *keys);
        const char *key;
        json_t *val;
        json_object_foreach(r->fields, key, val) keys[i++] = key;
        set_input_columns(w, keys, i);
        free(keys);
    }
    /* A failed record's message says what is wrong with it; a good one
     * must not lose a field to a header that cannot grow. */
    const char *lost = r->error ? NULL : field_without_column(w, r);
    if (lost) {
        llp_err_set(err, "%s: field '%s' has no column in the %s header, which was fixed "
                    "before this record (write --out jsonl to keep every field)",
                    r->where, lost, w->format == LLP_FMT_TSV ? "TSV" : "CSV");
        return -1;
    }
    if (!w->header_done) put_header(w);
    for (size_t i = 0; i < w->n_in; i++) {
        put_value(w, r, w->in_cols[i]);
        fputc(w->delim, w->f);
    }
    for (size_t i = 0; i < w->n_out; i++) {
        put_value(w, r, w->out_cols[i]);
        fputc(w->delim, w->f);
    }
    if (r->error) {
        json_t *e = llp_json_string(r->error, strlen(r->error));
        put_json(w, e);
        json_decref(e);
    }
    fputc('\n', w->f);
    return 0;
}

/* ---- JSONL and text --------------------------------------------------- */

static int put_jsonl(llp_writer *w, const llp_record *r)
{
    int rc;
    if (r->error) {
        /* A shallow copy shares the values (an embedding is not copied), so
         * the caller's record stays as it was. */
        json_t *copy = json_copy(r->fields);
        json_object_set_new(copy, "error", llp_json_string(r->error, strlen(r->error)));
        rc = json_dumpf(copy, w->f, JSON_OUT_FLAGS);
        json_decref(copy);
    } else {
        rc = json_dumpf(r->fields, w->f, JSON_OUT_FLAGS);
    }
    fputc('\n', w->f);
    return rc;
}

/* Strings with their line breaks shown as spaces, so one record stays on
 * one line. */
static void put_text_value(FILE *f, const json_t *v)
{
    if (!v || json_is_null(v)) return;
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        size_t n = json_string_length(v);
        for (size_t i = 0; i < n; i++)
            fputc(s[i] == '\n' || s[i] == '\r' || s[i] == '\t' ? ' ' : s[i], f);
        return;
    }
    char *s = json_dumps(v, JSON_OUT_FLAGS | JSON_ENCODE_ANY);
    if (s) fputs(s, f);
    free(s);
}

static void put_text(llp_writer *w, const llp_record *r)
{
    if (w->text_fn) {
        w->text_fn(w->f, r, w->text_ctx);
        return;
    }
    fputs(r->id, w->f);
    if (r->error) {
        fputs("\terror: ", w->f);
        json_t *e = llp_json_string(r->error, strlen(r->error));
        put_text_value(w->f, e);
        json_decref(e);
    } else if (w->n_out == 0) {
        fputc('\t', w->f);
        put_text_value(w->f, json_object_get(r->fields, "text"));
    } else {
        for (size_t i = 0; i < w->n_out; i++) {
            fputc('\t', w->f);
            put_text_value(w->f, json_object_get(r->fields, w->out_cols[i]));
        }
    }
    fputc('\n', w->f);
}

/* ---- public ----------------------------------------------------------- */

static int flush_result(llp_writer *w, int failed, llp_err *err)
{
    errno = 0;
    if (fflush(w->f) != 0 || ferror(w->f) || failed) {
        int e = errno;
        if (e == EPIPE) return LLP_WRITE_CLOSED;
        llp_err_set(err, "%s: write error: %s", w->name, e ? strerror(e) : "unknown error");
        return LLP_WRITE_FAILED;
    }
    return LLP_WRITE_OK;
}

int llp_writer_write(llp_writer *w, const llp_record *r, llp_err *err)
{
    int failed = 0;
    errno = 0;
    switch (w->format) {
    case LLP_FMT_CSV:
    case LLP_FMT_TSV:
        if (put_csv(w, r, err) < 0) return LLP_WRITE_FAILED;
        break;
    case LLP_FMT_TEXT: put_text(w, r); break;
    default: failed = put_jsonl(w, r) != 0; break;
    }
    /* stdio may already have failed while writing (a full buffer flushes
     * itself); errno then still says why. */
    if (ferror(w->f) && errno == EPIPE) return LLP_WRITE_CLOSED;
    return flush_result(w, failed, err);
}

int llp_writer_close(llp_writer *w, llp_err *err)
{
    if (!w) return LLP_WRITE_OK;
    /* An input with a header but no rows still gives a CSV with a header,
     * so the next tool in a pipe sees the columns. */
    if ((w->format == LLP_FMT_CSV || w->format == LLP_FMT_TSV) && w->cols_fixed &&
        !w->header_done)
        put_header(w);
    int rc = flush_result(w, 0, err);
    for (size_t i = 0; i < w->n_in; i++) free(w->in_cols[i]);
    for (size_t i = 0; i < w->n_out; i++) free(w->out_cols[i]);
    free(w->in_cols);
    free(w->out_cols);
    json_decref(w->col_set);
    free(w->name);
    free(w);
    return rc;
}
