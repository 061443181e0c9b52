/*
 * records_read.c — the record reader: expands the inputs (files,
 * directories, --files-from, stdin), picks each input's format, and turns
 * JSONL lines, CSV/TSV rows, text lines and whole documents into records.
 *
 * Not for: the CSV grammar (records_csv.c), byte-level input handling
 * (records_source.c), or output (records_write.c).
 */
#include "records.h"
#include "records_internal.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

/* A directory entry is skipped as binary when its first BINARY_SAMPLE bytes
 * hold a NUL, or when more than 1 in BINARY_BAD_RATIO of them are not valid
 * UTF-8: text in a legacy 8-bit encoding has a few such bytes, compressed or
 * executable data about half. */
enum { BINARY_SAMPLE = 8192, BINARY_BAD_RATIO = 10 };

typedef struct input {
    char *path;       /* owned */
    bool  from_dir;   /* found by recursing: binary files are skipped */
} input;

struct llp_reader {
    /* options, with owned copies of the strings */
    llp_format format;
    char *text_field, *prefer_field, *text_column, *id_column, *tool;
    bool  id_column_given, no_header, documents, quiet;

    input  *inputs;           /* expanded file list; empty: stdin */
    size_t  n_inputs, cap_inputs, next_input;
    bool    use_stdin, stdin_done;

    /* the input being read */
    bool        open;
    llp_source  src;
    llp_format  cur_format;
    long        line;         /* lines read so far (JSONL, lines) */
    char       *linebuf;
    size_t      linecap;
    csv_input  *csv;
    char      **columns;      /* current CSV header (owned), n_columns of them */
    size_t      n_columns;
    long        text_col, id_col, error_col;   /* indexes, -1 = absent */
    csv_row    *pending_row;  /* --no-header: first row is data too */
    bool        doc_done;

    /* what the first input looked like, for the writer's defaults */
    bool        have_first;
    llp_format  first_format;
    char      **first_columns;
    size_t      n_first_columns;

    /* every input's columns, for a CSV/TSV writer (llp_reader_all_columns) */
    bool        all_known;
    char      **all_columns;  /* owned, n_all_columns of them, first seen first */
    size_t      n_all_columns;
    json_t     *column_set;   /* the same names as keys, for lookups */
    llp_record **ahead;       /* records read ahead to learn stdin's columns */
    size_t      n_ahead, ahead_pos;

    long ordinal, skipped;
};

static void note(const llp_reader *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void note(const llp_reader *r, const char *fmt, ...)
{
    if (r->quiet) return;
    va_list ap;
    fprintf(stderr, "%s: note: ", r->tool);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static char *dup_or_null(const char *s) { return s ? llp_strdup(s) : NULL; }

/* ---- input expansion -------------------------------------------------- */

static void add_input(llp_reader *r, const char *path, bool from_dir)
{
    if (r->n_inputs == r->cap_inputs) {
        r->cap_inputs = r->cap_inputs ? r->cap_inputs * 2 : 16;
        r->inputs = llp_realloc(r->inputs, r->cap_inputs * sizeof *r->inputs);
    }
    r->inputs[r->n_inputs].path = llp_strdup(path);
    r->inputs[r->n_inputs].from_dir = from_dir;
    r->n_inputs++;
}

static int skip_hidden(const struct dirent *d) { return d->d_name[0] != '.'; }

/* Byte order, not the locale's collation, so the order is the same on every
 * machine and records keep stable ordinals. */
static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static int walk_dir(llp_reader *r, const char *dir, int depth, llp_err *err)
{
    /* Symlinked directories are not followed, so no cycle can form; the
     * depth limit is a backstop against pathological trees. */
    if (depth > 64) return llp_err_set(err, "%s: directories nested too deep", dir);
    struct dirent **list;
    int n = scandir(dir, &list, skip_hidden, by_name);
    if (n < 0) return llp_err_set(err, "%s: %s", dir, strerror(errno));
    int rc = 0;
    for (int i = 0; i < n; i++) {
        char *path = llp_path_join(dir, list[i]->d_name);
        struct stat st;
        if (rc == 0) {
            if (lstat(path, &st) != 0) {
                rc = llp_err_set(err, "%s: %s", path, strerror(errno));
            } else if (S_ISDIR(st.st_mode)) {
                rc = walk_dir(r, path, depth + 1, err);
            } else if (S_ISLNK(st.st_mode)) {
                struct stat target;
                if (stat(path, &target) != 0)
                    note(r, "skipping broken symlink %s", path);
                else if (S_ISREG(target.st_mode))
                    add_input(r, path, true);
                else
                    note(r, "not following symlink %s", path);
            } else if (S_ISREG(st.st_mode)) {
                add_input(r, path, true);
            }
        }
        free(path);
        free(list[i]);
    }
    free(list);
    return rc;
}

static int add_path(llp_reader *r, const char *path, llp_err *err)
{
    struct stat st;
    if (stat(path, &st) != 0) return llp_err_set(err, "%s: %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode)) return walk_dir(r, path, 0, err);
    add_input(r, path, false);
    return 0;
}

static int read_files_from(llp_reader *r, const char *list, llp_err *err)
{
    llp_source s;
    if (source_open(&s, strcmp(list, "-") == 0 ? NULL : list, err) < 0) return -1;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int rc = 0;
    while (rc == 0 && (n = source_getline(&s, &line, &cap, err)) >= 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = 0;
        if (n > 0) rc = add_path(r, line, err);
    }
    if (n == -2) rc = -1;
    free(line);
    source_close(&s);
    return rc;
}

/* ---- opening one input ------------------------------------------------ */

static bool looks_binary(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return false;   /* opening it for real will report the error */
    char buf[BINARY_SAMPLE];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    if (memchr(buf, 0, n)) return true;
    return llp_utf8_invalid_bytes(buf, n) * BINARY_BAD_RATIO > n;
}

static bool has_suffix(const char *path, const char *suffix)
{
    size_t n = strlen(path), k = strlen(suffix);
    return n >= k && strcasecmp(path + n - k, suffix) == 0;
}

static llp_format detect_format(llp_reader *r, const char *path)
{
    if (r->format != LLP_FMT_AUTO) return r->format;
    if (path) {
        if (has_suffix(path, ".csv")) return LLP_FMT_CSV;
        if (has_suffix(path, ".tsv") || has_suffix(path, ".tab")) return LLP_FMT_TSV;
        if (has_suffix(path, ".jsonl") || has_suffix(path, ".ndjson")) return LLP_FMT_JSONL;
    } else if (source_peek_nonblank(&r->src) == '{') {
        return LLP_FMT_JSONL;
    }
    return r->documents ? LLP_FMT_DOC : LLP_FMT_LINES;
}

static void free_columns(char **cols, size_t n)
{
    for (size_t i = 0; i < n; i++) free(cols[i]);
    free(cols);
}

static long find_column(char **cols, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(cols[i], name) == 0) return (long)i;
    return -1;
}

static char *column_list(char **cols, size_t n)
{
    size_t len = 1;
    for (size_t i = 0; i < n; i++) len += strlen(cols[i]) + 2;
    char *s = llp_malloc(len);
    s[0] = 0;
    for (size_t i = 0; i < n; i++) {
        if (i) strcat(s, ", ");
        strcat(s, cols[i]);
    }
    return s;
}

/* The column names a CSV/TSV file's first row gives (n of them, owned):
 * the header, or col1..colN with --no-header. */
static char **header_names(const llp_reader *r, const csv_row *first)
{
    char **cols = llp_calloc(first->n ? first->n : 1, sizeof *cols);
    for (size_t i = 0; i < first->n; i++) {
        char name[32];
        if (r->no_header) {
            snprintf(name, sizeof name, "col%zu", i + 1);
            cols[i] = llp_strdup(name);
            continue;
        }
        char *clean = llp_utf8_sanitize(first->values[i], first->lens[i], NULL);
        /* JSON objects cannot hold a key twice: a repeated header becomes
         * name_2, name_3, ... so no column is lost. */
        if (find_column(cols, i, clean) >= 0) {
            size_t n = strlen(clean) + 24;
            char *renamed = llp_malloc(n);
            for (int k = 2;; k++) {
                snprintf(renamed, n, "%s_%d", clean, k);
                if (find_column(cols, i, renamed) < 0) break;
            }
            free(clean);
            clean = renamed;
        }
        cols[i] = clean;
    }
    return cols;
}

/* The first row of a CSV/TSV input: 1 with *first set, 0 for an empty
 * input, -1 with err on a read error or a malformed header (without the
 * header nothing in the file can be read). */
static int first_row(llp_reader *r, csv_input *csv, const char *name, csv_row **first,
                     llp_err *err)
{
    int rc = csv_input_next(csv, first, err);
    if (rc <= 0) return rc;
    if ((*first)->error) {
        if (r->no_header) return 1;   /* a data row: its record carries the error */
        llp_err_set(err, "%s:%ld: header: %s", name, (*first)->line, (*first)->error);
        csv_row_free(*first);
        *first = NULL;
        return -1;
    }
    return 1;
}

/* Read the header (or, with --no-header, look at the first row to count the
 * columns) and find the text, id and error columns. */
static int open_csv(llp_reader *r, llp_err *err)
{
    r->csv = csv_input_new(&r->src, r->cur_format == LLP_FMT_TSV ? '\t' : ',');
    csv_row *first;
    int rc = first_row(r, r->csv, r->src.name, &first, err);
    if (rc < 0) return -1;
    if (rc == 0) return 0;   /* empty file: no columns, no records */

    r->n_columns = first->n;
    r->columns = header_names(r, first);
    if (r->no_header) r->pending_row = first;
    else csv_row_free(first);

    const char *want = r->text_column ? r->text_column : r->text_field ? r->text_field : "text";
    r->text_col = find_column(r->columns, r->n_columns, want);
    if (r->text_col < 0) {
        char *list = column_list(r->columns, r->n_columns);
        llp_err_set(err, "%s: no column '%s' (columns: %s); pass --column NAME",
                    r->src.name, want, list);
        free(list);
        return -1;
    }
    r->id_col = find_column(r->columns, r->n_columns, r->id_column ? r->id_column : "id");
    if (r->id_col < 0 && r->id_column_given) {
        char *list = column_list(r->columns, r->n_columns);
        llp_err_set(err, "%s: no column '%s' for --id-column (columns: %s)",
                    r->src.name, r->id_column, list);
        free(list);
        return -1;
    }
    r->error_col = find_column(r->columns, r->n_columns, "error");
    return 0;
}

static void close_current(llp_reader *r)
{
    if (!r->open) return;
    source_close(&r->src);
    csv_input_free(r->csv);
    r->csv = NULL;
    csv_row_free(r->pending_row);
    r->pending_row = NULL;
    free_columns(r->columns, r->n_columns);
    r->columns = NULL;
    r->n_columns = 0;
    r->open = false;
}

/* Open the next input. Returns 1 when one is open, 0 when none is left, -1
 * on a fatal error. */
static int open_next(llp_reader *r, llp_err *err)
{
    for (;;) {
        const char *path;
        if (r->use_stdin) {
            if (r->stdin_done) return 0;
            r->stdin_done = true;
            path = NULL;
        } else {
            if (r->next_input == r->n_inputs) return 0;
            input *in = &r->inputs[r->next_input++];
            path = in->path;
            if (in->from_dir && looks_binary(path)) {
                note(r, "skipping binary file %s", path);
                r->skipped++;
                continue;
            }
        }
        if (source_open(&r->src, path, err) < 0) return -1;
        r->open = true;
        r->line = 0;
        r->doc_done = false;
        r->cur_format = detect_format(r, path);
        if ((r->cur_format == LLP_FMT_CSV || r->cur_format == LLP_FMT_TSV) && open_csv(r, err) < 0)
            return -1;
        if (!r->have_first) {
            r->have_first = true;
            r->first_format = r->cur_format;
            if (r->columns) {
                r->n_first_columns = r->n_columns;
                r->first_columns = llp_calloc(r->n_columns, sizeof *r->first_columns);
                for (size_t i = 0; i < r->n_columns; i++)
                    r->first_columns[i] = llp_strdup(r->columns[i]);
            }
        }
        return 1;
    }
}

/* ---- building records ------------------------------------------------- */

static llp_record *new_record(llp_reader *r, const char *where)
{
    llp_record *rec = llp_calloc(1, sizeof *rec);
    rec->ordinal = ++r->ordinal;
    rec->where = llp_strdup(where);
    return rec;
}

static char *ordinal_id(long ordinal)
{
    char s[32];
    snprintf(s, sizeof s, "%ld", ordinal);
    return llp_strdup(s);
}

static bool is_blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r' && s[i] != '\f' && s[i] != '\v')
            return false;
    return true;
}

/* Checks every format shares. Empty and whitespace-only text is left to the
 * task: " " has tokens, and what an empty text means differs per tool
 * (docs/errors.md). */
static void finish_record(llp_record *rec)
{
    if (!rec->text) rec->text = llp_strdup("");
    if (rec->error) return;
    if (memchr(rec->text, 0, rec->text_len)) llp_record_fail(rec, "NUL byte in text");
}

/* A record from a plain line or a whole document: {"id", "text"}. */
static llp_record *text_record(llp_reader *r, const char *where, char *id,
                               const char *text, size_t len)
{
    llp_record *rec = new_record(r, where);
    rec->id = id ? id : ordinal_id(rec->ordinal);
    rec->text = llp_strndup(text, len);
    rec->text_len = len;
    rec->fields = json_object();
    record_set_bytes(rec, "id", rec->id, strlen(rec->id));
    record_set_bytes(rec, "text", text, len);
    finish_record(rec);
    return rec;
}

static const char *json_type_name(const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: case JSON_REAL: return "a number";
    case JSON_TRUE: case JSON_FALSE: return "a boolean";
    default: return "null";
    }
}

/* Once the CSV/TSV columns are fixed (llp_reader_all_columns), a record
 * with a field outside them fails rather than lose the field. Only JSONL on
 * stdin meets this: files were read for their fields first. */
static void check_columns(const llp_reader *r, llp_record *rec)
{
    const char *key;
    json_t *value;
    json_object_foreach(rec->fields, key, value) {
        if (strcmp(key, "error") == 0 || json_object_get(r->column_set, key)) continue;
        llp_record_fail(rec, "field '%s' is not among the CSV columns (%s); pass the input "
                        "as a file, whose records' fields are collected first, or write "
                        "--out jsonl", key,
                        r->use_stdin ? "the first record on stdin set them"
                                     : "collected before the file changed");
        return;
    }
}

static llp_record *jsonl_record(llp_reader *r, const char *where, const char *line, size_t len)
{
    llp_record *rec = new_record(r, where);
    json_error_t jerr;
    json_t *obj = json_loadb(line, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (!obj || !json_is_object(obj)) {
        if (!obj) llp_record_fail(rec, "invalid JSON: %s (column %d)", jerr.text, jerr.column);
        else llp_record_fail(rec, "expected a JSON object, got %s", json_type_name(obj));
        json_decref(obj);
        rec->id = ordinal_id(rec->ordinal);
        rec->fields = json_object();
        json_object_set_new(rec->fields, "id", json_string(rec->id));
        finish_record(rec);
        return rec;
    }
    rec->fields = obj;
    if (r->all_known) check_columns(r, rec);

    const char *id_key = r->id_column ? r->id_column : "id";
    json_t *id = json_object_get(obj, id_key);
    if (json_is_string(id)) {
        rec->id = llp_strdup(json_string_value(id));
    } else if (json_is_integer(id)) {
        char s[32];
        snprintf(s, sizeof s, "%" JSON_INTEGER_FORMAT, json_integer_value(id));
        rec->id = llp_strdup(s);
    } else {
        rec->id = ordinal_id(rec->ordinal);
        if (r->id_column_given)
            llp_record_fail(rec, id ? "field '%s' is not a string or integer"
                                    : "no field '%s' (--id-column)", id_key);
    }

    json_t *upstream = json_object_get(obj, "error");
    if (!rec->error && json_is_string(upstream) && json_string_length(upstream) > 0)
        rec->error = llp_strdup(json_string_value(upstream));

    const char *key = r->text_field ? r->text_field : "text";
    if (!r->text_field && r->prefer_field && json_object_get(obj, r->prefer_field))
        key = r->prefer_field;
    json_t *text = json_object_get(obj, key);
    if (json_is_string(text)) {
        rec->text_len = json_string_length(text);
        rec->text = llp_strndup(json_string_value(text), rec->text_len);
    } else if (!rec->error) {
        if (text) llp_record_fail(rec, "field '%s' is %s, not a string", key, json_type_name(text));
        else llp_record_fail(rec, "no field '%s'%s", key, r->text_field ? "" : " (pass --field NAME)");
    }
    finish_record(rec);
    return rec;
}

static llp_record *csv_record(llp_reader *r, csv_row *row)
{
    char where[4096];
    snprintf(where, sizeof where, "%s:%ld", r->src.name, row->line);
    llp_record *rec = new_record(r, where);

    rec->fields = json_object();
    for (size_t i = 0; i < r->n_columns; i++) {
        const char *v = i < row->n ? row->values[i] : "";
        size_t n = i < row->n ? row->lens[i] : 0;
        record_set_bytes(rec, r->columns[i], v, n);
    }
    if (row->error) {
        llp_record_fail(rec, "%s", row->error);
    } else if (row->n != r->n_columns) {
        llp_record_fail(rec, "row has %zu field%s, %s has %zu", row->n, row->n == 1 ? "" : "s",
                        r->no_header ? "the first row" : "header", r->n_columns);
    } else {
        for (size_t i = 0; i < row->n && !rec->error; i++)
            if (memchr(row->values[i], 0, row->lens[i]))
                llp_record_fail(rec, "NUL byte in column '%s'", r->columns[i]);
    }

    if (r->id_col >= 0 && (size_t)r->id_col < row->n && row->lens[r->id_col] > 0) {
        size_t idlen;
        rec->id = llp_utf8_sanitize(row->values[r->id_col], row->lens[r->id_col], &idlen);
    } else {
        rec->id = ordinal_id(rec->ordinal);
    }
    if (!rec->error && r->error_col >= 0 && (size_t)r->error_col < row->n &&
        row->lens[r->error_col] > 0)
        rec->error = llp_utf8_sanitize(row->values[r->error_col], row->lens[r->error_col], NULL);

    if ((size_t)r->text_col < row->n) {
        rec->text = llp_strndup(row->values[r->text_col], row->lens[r->text_col]);
        rec->text_len = row->lens[r->text_col];
    }
    finish_record(rec);
    return rec;
}

/* Next record of the open input: 1, 0 at its end, -1 on error. */
static int next_in_current(llp_reader *r, llp_record **out, llp_err *err)
{
    char where[4096];
    switch (r->cur_format) {
    case LLP_FMT_CSV:
    case LLP_FMT_TSV: {
        if (!r->csv || !r->columns) return 0;
        csv_row *row = r->pending_row;
        r->pending_row = NULL;
        if (!row) {
            int rc = csv_input_next(r->csv, &row, err);
            if (rc <= 0) return rc;
        }
        *out = csv_record(r, row);
        csv_row_free(row);
        return 1;
    }
    case LLP_FMT_DOC: {
        if (r->doc_done) return 0;
        r->doc_done = true;
        size_t len = 0, cap = 64 * 1024;
        char *buf = llp_malloc(cap);
        for (;;) {
            if (cap - len < 64 * 1024) buf = llp_realloc(buf, cap *= 2);
            ssize_t got = source_read(&r->src, buf + len, cap - len, err);
            if (got < 0) { free(buf); return -1; }
            if (got == 0) break;
            len += (size_t)got;
        }
        *out = text_record(r, r->src.name, llp_strdup(r->src.name), buf, len);
        free(buf);
        return 1;
    }
    case LLP_FMT_JSONL:
    case LLP_FMT_LINES:
    default:
        for (;;) {
            ssize_t n = source_getline(&r->src, &r->linebuf, &r->linecap, err);
            if (n == -1) return 0;
            if (n < 0) return -1;
            r->line++;
            size_t len = (size_t)n;
            if (len > 0 && r->linebuf[len - 1] == '\n') len--;
            if (len > 0 && r->linebuf[len - 1] == '\r') len--;
            snprintf(where, sizeof where, "%s:%ld", r->src.name, r->line);
            if (r->cur_format == LLP_FMT_JSONL) {
                /* Blank lines separate nothing in JSONL; they are not records. */
                if (is_blank(r->linebuf, len)) continue;
                *out = jsonl_record(r, where, r->linebuf, len);
            } else {
                *out = text_record(r, where, NULL, r->linebuf, len);
            }
            return 1;
        }
    }
}

/* ---- every input's columns (llp_reader_all_columns) -------------------- */

static void add_column(llp_reader *r, const char *name)
{
    if (json_object_get(r->column_set, name)) return;
    json_object_set_new(r->column_set, name, json_true());
    r->all_columns = llp_realloc(r->all_columns, (r->n_all_columns + 1) * sizeof *r->all_columns);
    r->all_columns[r->n_all_columns++] = llp_strdup(name);
}

static void add_keys(llp_reader *r, json_t *obj)
{
    const char *key;
    json_t *value;
    json_object_foreach(obj, key, value) add_column(r, key);
}

/* The columns one input file adds: its header (CSV/TSV), the fields of
 * each of its records (JSONL: a first pass over the file), id and text
 * (lines, documents). */
static int file_columns(llp_reader *r, const char *path, llp_err *err)
{
    llp_format fmt = detect_format(r, path);
    if (fmt == LLP_FMT_LINES || fmt == LLP_FMT_DOC) {
        add_column(r, "id");
        add_column(r, "text");
        return 0;
    }
    llp_source src;
    if (source_open(&src, path, err) < 0) return -1;
    int rc = 0;
    if (fmt == LLP_FMT_CSV || fmt == LLP_FMT_TSV) {
        csv_input *csv = csv_input_new(&src, fmt == LLP_FMT_TSV ? '\t' : ',');
        csv_row *first = NULL;
        rc = first_row(r, csv, src.name, &first, err);
        if (rc > 0) {
            char **cols = header_names(r, first);
            for (size_t i = 0; i < first->n; i++) add_column(r, cols[i]);
            free_columns(cols, first->n);
            rc = 0;
        }
        csv_row_free(first);
        csv_input_free(csv);
    } else {
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        while ((n = source_getline(&src, &line, &cap, err)) >= 0) {
            json_t *obj = json_loadb(line, (size_t)n, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
            if (json_is_object(obj)) add_keys(r, obj);
            json_decref(obj);
        }
        if (n == -2) rc = -1;
        free(line);
    }
    source_close(&src);
    return rc;
}

/* Stdin is read once: its header (CSV/TSV), or the fields of its first
 * JSONL record, read ahead (with any unreadable lines before it). */
static int stdin_columns(llp_reader *r, llp_err *err)
{
    if (!r->open) return 0;
    if (r->cur_format == LLP_FMT_CSV || r->cur_format == LLP_FMT_TSV) {
        for (size_t i = 0; i < r->n_columns; i++) add_column(r, r->columns[i]);
        return 0;
    }
    if (r->cur_format != LLP_FMT_JSONL) {
        add_column(r, "id");
        add_column(r, "text");
        return 0;
    }
    for (;;) {
        llp_record *rec;
        int rc = next_in_current(r, &rec, err);
        if (rc <= 0) return rc;
        r->ahead = llp_realloc(r->ahead, (r->n_ahead + 1) * sizeof *r->ahead);
        r->ahead[r->n_ahead++] = rec;
        add_keys(r, rec->fields);
        /* A line that is no JSON object gives a record of just its id. */
        if (!rec->error || json_object_size(rec->fields) > 1) return 0;
    }
}

char *const *llp_reader_all_columns(llp_reader *r, size_t *n, llp_err *err)
{
    if (!r->all_known) {
        r->column_set = json_object();
        int rc = 0;
        if (r->use_stdin) {
            rc = stdin_columns(r, err);
        } else {
            for (size_t i = 0; rc == 0 && i < r->n_inputs; i++) {
                if (r->inputs[i].from_dir && looks_binary(r->inputs[i].path)) continue;
                rc = file_columns(r, r->inputs[i].path, err);
            }
        }
        if (rc < 0) {
            *n = 0;
            return NULL;
        }
        r->all_known = true;
    }
    static char *const no_columns[1] = {NULL};
    *n = r->n_all_columns;
    return r->n_all_columns ? r->all_columns : no_columns;
}

/* ---- public API ------------------------------------------------------- */

llp_reader *llp_reader_open(const llp_reader_opts *o, llp_err *err)
{
    llp_reader *r = llp_calloc(1, sizeof *r);
    r->format = o->format;
    r->text_field = dup_or_null(o->field);
    r->prefer_field = dup_or_null(o->prefer_field);
    r->text_column = dup_or_null(o->column);
    r->id_column = dup_or_null(o->id_column);
    r->id_column_given = o->id_column != NULL;
    r->tool = llp_strdup(o->tool ? o->tool : "llamapipe");
    r->no_header = o->no_header;
    r->documents = o->documents;
    r->quiet = o->quiet;
    r->text_col = r->id_col = r->error_col = -1;

    int rc = 0;
    for (int i = 0; rc == 0 && i < o->n_paths; i++) rc = add_path(r, o->paths[i], err);
    if (rc == 0 && o->files_from) rc = read_files_from(r, o->files_from, err);
    r->use_stdin = o->n_paths == 0 && !o->files_from;
    if (rc == 0 && open_next(r, err) < 0) rc = -1;
    if (rc < 0) {
        llp_reader_close(r);
        return NULL;
    }
    return r;
}

int llp_reader_next(llp_reader *r, llp_record **out, llp_err *err)
{
    *out = NULL;
    if (r->ahead_pos < r->n_ahead) {
        *out = r->ahead[r->ahead_pos++];
        return 1;
    }
    for (;;) {
        if (!r->open) {
            int rc = open_next(r, err);
            if (rc <= 0) return rc;
        }
        int rc = next_in_current(r, out, err);
        if (rc != 0) return rc;
        close_current(r);
    }
}

llp_format llp_reader_format(const llp_reader *r)
{
    return r->have_first ? r->first_format : LLP_FMT_JSONL;
}

char *const *llp_reader_columns(const llp_reader *r, size_t *n)
{
    *n = r->n_first_columns;
    return r->n_first_columns ? r->first_columns : NULL;
}

long llp_reader_count(const llp_reader *r) { return r->ordinal; }
long llp_reader_skipped(const llp_reader *r) { return r->skipped; }

void llp_reader_close(llp_reader *r)
{
    if (!r) return;
    close_current(r);
    for (size_t i = 0; i < r->n_inputs; i++) free(r->inputs[i].path);
    free(r->inputs);
    free_columns(r->first_columns, r->n_first_columns);
    free_columns(r->all_columns, r->n_all_columns);
    json_decref(r->column_set);
    for (size_t i = r->ahead_pos; i < r->n_ahead; i++) llp_record_free(r->ahead[i]);
    free(r->ahead);
    free(r->linebuf);
    free(r->text_field);
    free(r->prefer_field);
    free(r->text_column);
    free(r->id_column);
    free(r->tool);
    free(r);
}
