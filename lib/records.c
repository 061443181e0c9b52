/*
 * records.c — the record value itself: construction, added fields, errors,
 * format names, --into naming and --shard membership.
 *
 * Not for: reading (records_read.c, records_csv.c) or writing
 * (records_write.c) records.
 */
#include "records.h"
#include "records_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

static const struct { llp_format fmt; const char *name; bool in, out; } formats[] = {
    {LLP_FMT_JSONL, "jsonl", true, true},
    {LLP_FMT_CSV, "csv", true, true},
    {LLP_FMT_TSV, "tsv", true, true},
    {LLP_FMT_LINES, "lines", true, false},
    {LLP_FMT_DOC, "doc", true, false},
    {LLP_FMT_TEXT, "text", false, true},
};

const char *llp_format_name(llp_format f)
{
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++)
        if (formats[i].fmt == f) return formats[i].name;
    return "auto";
}

static int parse_format(const char *s, bool input, llp_format *out, llp_err *err)
{
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++) {
        if ((input ? formats[i].in : formats[i].out) && strcmp(s, formats[i].name) == 0) {
            *out = formats[i].fmt;
            return 0;
        }
    }
    return llp_err_set(err, "%s: expected %s, got '%s'", input ? "--in" : "--out",
                       input ? "jsonl, csv, tsv, lines or doc" : "jsonl, csv, tsv or text", s);
}

int llp_format_parse_in(const char *s, llp_format *out, llp_err *err)
{
    return parse_format(s, true, out, err);
}

int llp_format_parse_out(const char *s, llp_format *out, llp_err *err)
{
    return parse_format(s, false, out, err);
}

json_t *llp_json_string(const char *s, size_t n)
{
    json_t *j;
    if (llp_utf8_valid(s, n)) {
        j = json_stringn_nocheck(s, n);
    } else {
        size_t len;
        char *clean = llp_utf8_sanitize(s, n, &len);
        j = json_stringn_nocheck(clean, len);
        free(clean);
    }
    if (!j) {   /* jansson fails here only when out of memory, like llp_malloc */
        fputs("llamapipe: error: out of memory (JSON string)\n", stderr);
        abort();
    }
    return j;
}

void record_set_bytes(llp_record *r, const char *name, const char *s, size_t n)
{
    json_t *value = llp_json_string(s, n);
    json_object_set_new(r->fields, name, value);
    if (llp_utf8_valid(s, n)) return;
    r->raw = llp_realloc(r->raw, (r->n_raw + 1) * sizeof *r->raw);
    llp_raw_field *f = &r->raw[r->n_raw++];
    f->name = llp_strdup(name);
    /* Holding a reference keeps the address from being reused by a value a
     * tool puts in its place, so "still holds value" cannot be fooled. */
    f->value = json_incref(value);
    f->bytes = llp_strndup(s, n);
    f->len = n;
}

const llp_raw_field *record_raw(const llp_record *r, const char *name, const json_t *value)
{
    for (size_t i = 0; i < r->n_raw; i++)
        if (r->raw[i].value == value && strcmp(r->raw[i].name, name) == 0) return &r->raw[i];
    return NULL;
}

void llp_record_add(llp_record *r, const char *name, json_t *value)
{
    json_object_set_new(r->fields, name, value);
}

void llp_record_fail(llp_record *r, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);

    size_t n = strlen(r->where) + 2 + strlen(msg) + 1;
    char *e = llp_malloc(n);
    snprintf(e, n, "%s: %s", r->where, msg);
    free(r->error);
    r->error = e;
}

llp_record *llp_record_new(const char *id, const char *text, size_t text_len,
                           const char *where)
{
    llp_record *r = llp_calloc(1, sizeof *r);
    r->fields = json_object();
    r->id = llp_strdup(id);
    r->text = llp_strndup(text, text_len);
    r->text_len = text_len;
    r->where = llp_strdup(where);
    record_set_bytes(r, "id", id, strlen(id));
    record_set_bytes(r, "text", text, text_len);
    return r;
}

void llp_record_free(llp_record *r)
{
    if (!r) return;
    json_decref(r->fields);
    for (size_t i = 0; i < r->n_raw; i++) {
        free(r->raw[i].name);
        json_decref(r->raw[i].value);
        free(r->raw[i].bytes);
    }
    free(r->raw);
    free(r->id);
    free(r->text);
    free(r->where);
    free(r->error);
    free(r);
}

char *llp_output_name(const char *into, const char *primary, const char *field)
{
    if (!into || !*into) return llp_strdup(field);
    if (primary && strcmp(primary, field) == 0) return llp_strdup(into);
    size_t n = strlen(into) + 1 + strlen(field) + 1;
    char *s = llp_malloc(n);
    snprintf(s, n, "%s_%s", into, field);
    return s;
}

const char *llp_record_field_clash(const llp_record *r, const char *const *names,
                                  size_t n)
{
    if (!r || !json_is_object(r->fields)) return NULL;
    for (size_t i = 0; i < n; i++)
        if (names[i] && json_object_get(r->fields, names[i])) return names[i];
    return NULL;
}

bool llp_shard_match(const char *id, int k, int n)
{
    if (n <= 1) return true;
    uint64_t h = XXH64(id, strlen(id), 0);
    return (int)(h % (uint64_t)n) == k;
}
