/*
 * pipeline_yaml.c — the YAML side of pipeline files: libyaml's event API
 * into a small tree (pipeline_internal.h: ynode) that keeps every node's
 * line and column, with ${VAR} and ${VAR:-default} expanded in scalar
 * values, duplicate keys and syntax errors reported with their positions
 * (a tab in the indentation named as such); and the list of problems every
 * part of the loader adds to.
 *
 * Not for: what the keys mean (pipeline_load.c checks them).
 *
 * Why a tree of our own rather than libyaml's document API: the document
 * API keeps marks too, but it resolves nothing we need, and building the
 * tree ourselves lets a duplicate key be reported with both positions and
 * an expansion problem at its scalar as the tree is built.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "pipeline_internal.h"

/* ---- problems ---------------------------------------------------------------- */

void llp_pipeline_problem_add(llp_pipeline_problems *p, int line, int column, const char *fmt,
                              ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (p->n == p->cap) {
        p->cap = p->cap ? 2 * p->cap : 8;
        p->items = llp_realloc(p->items, sizeof *p->items * (size_t)p->cap);
    }
    p->items[p->n++] = (llp_pipeline_problem){ line, column, llp_strdup(buf) };
}

void llp_pipeline_problems_print(llp_pipeline_problems *p, const char *file, FILE *out)
{
    /* insertion sort: stable, and files have few problems */
    for (int i = 1; i < p->n; i++) {
        llp_pipeline_problem x = p->items[i];
        int j = i;
        while (j > 0 && (p->items[j - 1].line > x.line ||
                         (p->items[j - 1].line == x.line && p->items[j - 1].column > x.column))) {
            p->items[j] = p->items[j - 1];
            j--;
        }
        p->items[j] = x;
    }
    for (int i = 0; i < p->n; i++) {
        if (p->items[i].line > 0)
            fprintf(out, "%s:%d:%d: %s\n", file, p->items[i].line, p->items[i].column,
                    p->items[i].message);
        else
            fprintf(out, "%s: %s\n", file, p->items[i].message);
    }
}

void llp_pipeline_problems_free(llp_pipeline_problems *p)
{
    for (int i = 0; i < p->n; i++) free(p->items[i].message);
    free(p->items);
    memset(p, 0, sizeof *p);
}
/* ---- the YAML tree ------------------------------------------------------------- */

typedef struct loader {
    llp_pipeline_problems *problems;
    yaml_parser_t parser;
    bool syntax_error;
} loader;

static void problem(loader *L, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void problem(loader *L, int line, int col, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    llp_pipeline_problem_add(L->problems, line, col, "%s", buf);
}

void pl_node_free(ynode *n)
{
    if (!n) return;
    for (int i = 0; i < n->n; i++) pl_node_free(n->kids[i]);
    free(n->kids);
    free(n->str);
    free(n);
}

static void node_push(ynode *parent, ynode *kid)
{
    parent->kids = llp_realloc(parent->kids, sizeof *parent->kids * (size_t)(parent->n + 1));
    parent->kids[parent->n++] = kid;
}

const char *pl_node_kind(const ynode *n)
{
    if (n->kind == Y_SEQ) return "a list";
    if (n->kind == Y_MAP) return "a mapping";
    return n->null ? "nothing" : "a string";
}

/* ${VAR} and ${VAR:-default} (the default also when VAR is empty, as in
 * sh); $${ is a literal ${. Returns the expansion, or NULL after reporting
 * the problem at the scalar's position. */
static char *expand(loader *L, const char *s, int line, int col)
{
    size_t cap = strlen(s) + 1, n = 0;
    char *out = llp_malloc(cap);
#define PUT(p, len) do { \
        size_t len_ = (len); \
        while (n + len_ + 1 > cap) { cap *= 2; out = llp_realloc(out, cap); } \
        memcpy(out + n, (p), len_); n += len_; } while (0)
    for (const char *p = s; *p;) {
        if (p[0] == '$' && p[1] == '$' && p[2] == '{') {
            PUT("${", 2);
            p += 3;
            continue;
        }
        if (!(p[0] == '$' && p[1] == '{')) {
            PUT(p, 1);
            p++;
            continue;
        }
        const char *name = p + 2, *q = name;
        if (isalpha((unsigned char)*q) || *q == '_')
            while (isalnum((unsigned char)*q) || *q == '_') q++;
        size_t name_len = (size_t)(q - name);
        const char *def = NULL;
        size_t def_len = 0;
        if (name_len > 0 && q[0] == ':' && q[1] == '-') {
            def = q + 2;
            const char *close = strchr(def, '}');
            if (!close) goto unterminated;
            def_len = (size_t)(close - def);
            q = close;
        }
        if (name_len == 0 || *q != '}') {
            if (!strchr(p, '}')) goto unterminated;
            problem(L, line, col, "bad ${...}: expected ${NAME} or ${NAME:-default}, got '%.*s'",
                    (int)(strchr(p, '}') - p + 1), p);
            free(out);
            return NULL;
        }
        char var[256];
        snprintf(var, sizeof var, "%.*s", (int)name_len, name);
        const char *value = getenv(var);
        if (value && *value) PUT(value, strlen(value));
        else if (def) PUT(def, def_len);
        else if (value) PUT("", 0);
        else {
            problem(L, line, col,
                    "undefined environment variable '%s' (set it, or write ${%s:-default})", var,
                    var);
            free(out);
            return NULL;
        }
        p = q + 1;
    }
#undef PUT
    out[n] = 0;
    return out;
unterminated:
    problem(L, line, col, "unterminated ${ (expected ${NAME} or ${NAME:-default})");
    free(out);
    return NULL;
}

static void syntax_problem(loader *L)
{
    const yaml_parser_t *p = &L->parser;
    L->syntax_error = true;
    int line = (int)p->problem_mark.line + 1, col = (int)p->problem_mark.column + 1;
    if (p->error == YAML_READER_ERROR) {
        problem(L, 1, 1, "not readable as YAML text: %s", p->problem ? p->problem : "bad bytes");
        return;
    }
    if (p->context)
        problem(L, line, col, "YAML syntax error: %s (%s at line %d, column %d)", p->problem,
                p->context, (int)p->context_mark.line + 1, (int)p->context_mark.column + 1);
    else
        problem(L, line, col, "YAML syntax error: %s", p->problem ? p->problem : "unknown");
}

static bool next_event(loader *L, yaml_event_t *ev)
{
    if (yaml_parser_parse(&L->parser, ev)) return true;
    syntax_problem(L);
    return false;
}

static bool is_null_scalar(const yaml_event_t *ev)
{
    if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) return false;
    const char *v = (const char *)ev->data.scalar.value;
    return !*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") ||
           !strcmp(v, "NULL");
}

/* Build the node starting with event ev (consumed). Keys are not expanded:
 * they are names, and a key that looks like ${X} is simply unknown. Returns
 * NULL on a syntax error. */
static ynode *build(loader *L, yaml_event_t *ev, bool is_key)
{
    ynode *n = llp_calloc(1, sizeof *n);
    n->line = (int)ev->start_mark.line + 1;
    n->col = (int)ev->start_mark.column + 1;
    switch (ev->type) {
    case YAML_SCALAR_EVENT: {
        n->kind = Y_SCALAR;
        n->null = is_null_scalar(ev);
        const char *v = (const char *)ev->data.scalar.value;
        n->str = is_key ? llp_strdup(v) : expand(L, v, n->line, n->col);
        if (!n->str) {
            n->bad = true;
            n->str = llp_strdup(v);
        }
        yaml_event_delete(ev);
        return n;
    }
    case YAML_ALIAS_EVENT:
        problem(L, n->line, n->col, "aliases (*name) are not supported in pipeline files");
        n->kind = Y_SCALAR;
        n->bad = true;
        n->str = llp_strdup("");
        yaml_event_delete(ev);
        return n;
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT: {
        bool map = ev->type == YAML_MAPPING_START_EVENT;
        yaml_event_type_t end = map ? YAML_MAPPING_END_EVENT : YAML_SEQUENCE_END_EVENT;
        n->kind = map ? Y_MAP : Y_SEQ;
        yaml_event_delete(ev);
        for (bool key = map;; key = map ? !key : false) {
            yaml_event_t e;
            if (!next_event(L, &e)) goto fail;
            if (e.type == end) {
                yaml_event_delete(&e);
                break;
            }
            if (key && e.type != YAML_SCALAR_EVENT)
                problem(L, (int)e.start_mark.line + 1, (int)e.start_mark.column + 1,
                        "keys must be plain names, not lists or mappings");
            ynode *kid = build(L, &e, key);
            if (!kid) goto fail;
            if (key && kid->kind != Y_SCALAR) kid->bad = true;
            if (key && kid->kind == Y_SCALAR)
                for (int i = 0; i < n->n; i += 2)
                    if (n->kids[i]->kind == Y_SCALAR && !strcmp(n->kids[i]->str, kid->str)) {
                        problem(L, kid->line, kid->col,
                                "duplicate key '%s' (first at line %d, column %d)", kid->str,
                                n->kids[i]->line, n->kids[i]->col);
                        kid->bad = true;
                        break;
                    }
            node_push(n, kid);
        }
        return n;
    }
    default:
        break;
    }
    yaml_event_delete(ev);
fail:
    pl_node_free(n);
    return NULL;
}

/* Lines whose indentation holds a tab: libyaml stops at the first with a
 * message about tokens; this names the cause, for every such line. */
static int report_tabs(loader *L, const char *text, size_t len)
{
    int found = 0, line = 1;
    for (size_t i = 0; i < len;) {
        size_t j = i;
        while (j < len && (text[j] == ' ' || text[j] == '\t')) {
            if (text[j] == '\t') {
                problem(L, line, (int)(j - i) + 1,
                        "tab character in indentation (YAML indents with spaces)");
                found++;
                break;
            }
            j++;
        }
        while (i < len && text[i] != '\n') i++;
        i++;
        line++;
    }
    return found;
}

ynode *pl_yaml_parse(const char *text, size_t len, llp_pipeline_problems *problems, bool *empty)
{
    loader state = { .problems = problems };
    loader *L = &state;
    *empty = false;
    yaml_parser_initialize(&L->parser);
    yaml_parser_set_input_string(&L->parser, (const unsigned char *)text, len);
    ynode *root = NULL;
    yaml_event_t ev;
    bool done = false;
    while (!done) {
        if (!next_event(L, &ev)) break;
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            done = true;
            yaml_event_delete(&ev);
            break;
        case YAML_DOCUMENT_START_EVENT:
            if (root) {
                problem(L, (int)ev.start_mark.line + 1, (int)ev.start_mark.column + 1,
                        "a pipeline file holds one YAML document, this is a second");
                done = true;
            }
            yaml_event_delete(&ev);
            break;
        case YAML_SCALAR_EVENT:
        case YAML_ALIAS_EVENT:
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT:
            root = build(L, &ev, false);
            if (!root) done = true;
            break;
        default:
            yaml_event_delete(&ev);
        }
    }
    yaml_parser_delete(&L->parser);
    if (L->syntax_error) {
        /* A tab in the indentation is the usual cause; say so instead. */
        llp_pipeline_problems saved = *L->problems;
        memset(L->problems, 0, sizeof *L->problems);
        if (report_tabs(L, text, len) > 0) {
            llp_pipeline_problems_free(&saved);
        } else {
            llp_pipeline_problems_free(L->problems);
            *L->problems = saved;
        }
        pl_node_free(root);
        return NULL;
    }
    if (!root) *empty = true;
    return root;
}
