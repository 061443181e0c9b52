/*
 * pipeline_load.c — a pipeline file to a validated plan (pipeline.h): the
 * YAML tree (pipeline_yaml.c) checked key by key, collecting every problem
 * rather than stopping at the first, so one run of llp-run shows all that
 * is wrong with a file. Step options become the command-line words of the
 * step's binary and are checked by its parsers (pipeline_schema.c).
 *
 * Not for: YAML syntax or ${VAR} expansion (pipeline_yaml.c), running
 * anything (pipeline_run.c).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lora.h"
#include "pipeline_internal.h"

typedef struct loader {
    const char *path;
    llp_pipeline_problems *problems;
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

/* ---- checking values -------------------------------------------------------------- */

static ynode *map_get(const ynode *map, const char *key)
{
    if (!map || map->kind != Y_MAP) return NULL;
    for (int i = 0; i + 1 < map->n; i += 2)
        if (!map->kids[i]->bad && !strcmp(map->kids[i]->str, key)) return map->kids[i + 1];
    return NULL;
}

static const ynode *map_key(const ynode *map, const char *key)
{
    for (int i = 0; i + 1 < map->n; i += 2)
        if (!map->kids[i]->bad && !strcmp(map->kids[i]->str, key)) return map->kids[i];
    return NULL;
}

/* Report every key of map not in names[] (with a suggestion). */
static void check_keys(loader *L, const ynode *map, const char *where,
                       const char *const *names, int n_names)
{
    for (int i = 0; i + 1 < map->n; i += 2) {
        const ynode *k = map->kids[i];
        if (k->bad) continue;
        bool known = false;
        for (int j = 0; j < n_names && !known; j++) known = !strcmp(k->str, names[j]);
        if (known) continue;
        const char *s = pl_suggest(k->str, names, n_names);
        char list[512] = "";
        for (int j = 0; j < n_names; j++)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", j ? ", " : "",
                     names[j]);
        if (s)
            problem(L, k->line, k->col, "%sunknown key '%s' (did you mean '%s'?)", where, k->str, s);
        else
            problem(L, k->line, k->col, "%sunknown key '%s' (expected one of: %s)", where, k->str,
                    list);
    }
}

/* True when map has an unknown key (not in names[]) that is a misspelling
 * of one of wanted[]: that key is already reported, so the wanted key is
 * not reported missing as well. */
static bool misspelt_as(const ynode *map, const char *const *names, int n_names,
                        const char *const *wanted, int n_wanted)
{
    for (int i = 0; i + 1 < map->n; i += 2) {
        const ynode *k = map->kids[i];
        if (k->bad) continue;
        bool known = false;
        for (int j = 0; j < n_names && !known; j++) known = !strcmp(k->str, names[j]);
        if (known) continue;
        const char *s = pl_suggest(k->str, names, n_names);
        for (int j = 0; s && j < n_wanted; j++)
            if (!strcmp(s, wanted[j])) return true;
    }
    return false;
}

/* A non-empty string value, or NULL after reporting. */
static const char *get_string(loader *L, const ynode *v, const char *what)
{
    if (v->kind == Y_SCALAR && v->bad) return NULL;
    if (v->kind != Y_SCALAR || v->null) {
        problem(L, v->line, v->col, "%s: expected a string, got %s", what, pl_node_kind(v));
        return NULL;
    }
    if (!*v->str) {
        problem(L, v->line, v->col, "%s: the value is empty", what);
        return NULL;
    }
    return v->str;
}

/* true/false (also yes/no, on/off). Returns 0/1, or -1 after reporting. */
static int parse_bool(const char *s)
{
    static const char *const yes[] = { "true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON" };
    static const char *const no[] = { "false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF" };
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        if (!strcmp(s, yes[i])) return 1;
        if (!strcmp(s, no[i])) return 0;
    }
    return -1;
}

static int get_bool(loader *L, const ynode *v, const char *what)
{
    if (v->kind == Y_SCALAR && v->bad) return -1;
    int b = v->kind == Y_SCALAR && !v->null ? parse_bool(v->str) : -1;
    if (b < 0) {
        if (v->kind == Y_SCALAR && !v->null)
            problem(L, v->line, v->col, "%s: expected true or false, got '%s'", what, v->str);
        else
            problem(L, v->line, v->col, "%s: expected true or false, got %s", what, pl_node_kind(v));
    }
    return b;
}

/* A path or a list of paths into *paths (appended). */
static void get_paths(loader *L, const ynode *v, const char *what, llp_pipeline *p,
                      llp_pipeline_input *in)
{
    if (v->kind == Y_MAP) {
        problem(L, v->line, v->col, "%s: expected a path or a list of paths, got a mapping", what);
        return;
    }
    int n = v->kind == Y_SEQ ? v->n : 1;
    if (v->kind == Y_SEQ && n == 0) problem(L, v->line, v->col, "%s: the list is empty", what);
    for (int i = 0; i < n; i++) {
        const ynode *item = v->kind == Y_SEQ ? v->kids[i] : v;
        const char *s = get_string(L, item, what);
        if (!s) continue;
        in->paths = llp_realloc(in->paths, sizeof *in->paths * (size_t)(in->n_paths + 1));
        in->paths[in->n_paths++] = llp_strdup(s);
        p->files = llp_realloc(p->files, sizeof *p->files * (size_t)(p->n_files + 1));
        p->files[p->n_files++] = (llp_pipeline_file){ llp_strdup(s), "input", true, item->line,
                                                      item->col };
    }
}

static void add_file(llp_pipeline *p, const char *path, const char *what, const ynode *at)
{
    p->files = llp_realloc(p->files, sizeof *p->files * (size_t)(p->n_files + 1));
    p->files[p->n_files++] = (llp_pipeline_file){ llp_strdup(path), what, false, at->line,
                                                  at->col };
}

/* An integer setting checked by the same parser as the command line's
 * (threads, ctx_size). Returns 0 and sets *out, or -1 after reporting. */
static int get_common_int(loader *L, const ynode *v, const char *key, int *out)
{
    const pl_option *o = pl_option_find(LLP_STEP_GENERATE, key);   /* every -t, -c tool */
    if (v->kind == Y_SCALAR && v->bad) return -1;
    if (v->kind != Y_SCALAR || v->null) {
        problem(L, v->line, v->col, "%s: expected an integer, got %s", key, pl_node_kind(v));
        return -1;
    }
    char flag[64];
    snprintf(flag, sizeof flag, "--%s", o->flag);
    char *words[2] = { flag, v->str };
    llp_err err;
    if (pl_check_option(LLP_STEP_GENERATE, o, words, 2, &err)) {
        problem(L, v->line, v->col, "%s", err.msg);
        return -1;
    }
    *out = atoi(v->str);
    return 0;
}

/* ---- sections ------------------------------------------------------------------- */

static const char *const input_sources[] = { "csv", "tsv", "jsonl", "lines", "files", "stdin" };
enum { N_SOURCES = 6 };

/* stdin: true (the format detected as the binaries do), or the format. */
static void load_stdin(loader *L, const ynode *v, llp_pipeline_input *in)
{
    static const struct { const char *name; llp_format f; } formats[] = {
        { "csv", LLP_FMT_CSV }, { "tsv", LLP_FMT_TSV }, { "jsonl", LLP_FMT_JSONL },
        { "lines", LLP_FMT_LINES },
    };
    in->stdin_format = LLP_FMT_AUTO;
    if (v->kind == Y_SCALAR && v->bad) return;
    if (v->kind == Y_SCALAR && !v->null) {
        for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++)
            if (strcmp(v->str, formats[i].name) == 0) {
                in->stdin_format = formats[i].f;
                return;
            }
        int b = parse_bool(v->str);
        if (b == 1) return;
        if (b == 0) {
            problem(L, v->line, v->col,
                    "stdin: false reads nothing; name a source (csv, jsonl, files...) instead");
            return;
        }
        problem(L, v->line, v->col,
                "stdin: expected true or a format (csv, tsv, jsonl, lines), got '%s'", v->str);
        return;
    }
    problem(L, v->line, v->col, "stdin: expected true or a format (csv, tsv, jsonl, lines), got %s",
            pl_node_kind(v));
}

static void load_input(loader *L, const ynode *v, llp_pipeline *p)
{
    llp_pipeline_input *in = &p->input;
    if (v->kind != Y_MAP) {
        if (!(v->kind == Y_SCALAR && v->bad))
            problem(L, v->line, v->col, "input: expected a mapping (e.g. csv: PATH), got %s",
                    pl_node_kind(v));
        return;
    }
    static const char *const keys[] = { "csv", "tsv", "jsonl", "lines", "files", "stdin",
                                        "column", "field", "id_column", "no_header", "documents" };
    check_keys(L, v, "input: ", keys, sizeof keys / sizeof keys[0]);
    const ynode *first = NULL;
    for (int i = 0; i + 1 < v->n; i += 2) {
        const ynode *k = v->kids[i], *val = v->kids[i + 1];
        int kind = -1;
        for (int j = 0; j < N_SOURCES; j++)
            if (!k->bad && !strcmp(k->str, input_sources[j])) kind = j;
        if (kind < 0) continue;
        if (first) {
            problem(L, k->line, k->col,
                    "input: give one source, got '%s' and '%s' (each pipeline reads one)",
                    first->str, k->str);
            continue;
        }
        first = k;
        in->kind = (llp_input_kind)kind;
        if (kind == LLP_INPUT_STDIN) {
            load_stdin(L, val, in);
        } else {
            get_paths(L, val, k->str, p, in);
        }
    }
    if (!first && !misspelt_as(v, keys, sizeof keys / sizeof keys[0], input_sources, N_SOURCES))
        problem(L, v->line, v->col,
                "input: no source; give one of csv, tsv, jsonl, lines, files, stdin");

    const ynode *col = map_get(v, "column"), *field = map_get(v, "field");
    if (col && field) {
        const ynode *k = map_key(v, "field");
        const ynode *kc = map_key(v, "column");
        const ynode *later = k->line > kc->line || (k->line == kc->line && k->col > kc->col) ? k : kc;
        problem(L, later->line, later->col,
                "input: column and field name the same thing (the text); give one");
    }
    const ynode *name = col ? col : field;
    const char *s;
    if (name && (s = get_string(L, name, col ? "column" : "field"))) in->text_name = llp_strdup(s);
    const ynode *id = map_get(v, "id_column");
    if (id && (s = get_string(L, id, "id_column"))) in->id_column = llp_strdup(s);
    const ynode *nh = map_get(v, "no_header");
    if (nh && get_bool(L, nh, "no_header") == 1) {
        in->no_header = true;
        bool table = in->kind == LLP_INPUT_CSV || in->kind == LLP_INPUT_TSV ||
                     (in->kind == LLP_INPUT_STDIN &&
                      (in->stdin_format == LLP_FMT_CSV || in->stdin_format == LLP_FMT_TSV));
        if (first && !table)
            problem(L, nh->line, nh->col, "no_header: only for csv and tsv input (csv: PATH, stdin: csv)");
    }
    const ynode *docs = map_get(v, "documents");
    if (docs && get_bool(L, docs, "documents") == 1) {
        in->documents = true;
        if (first && in->kind != LLP_INPUT_FILES &&
            !(in->kind == LLP_INPUT_STDIN && in->stdin_format == LLP_FMT_AUTO))
            problem(L, docs->line, docs->col, "documents: only for files and stdin: true input");
    }
}

static void load_output(loader *L, const ynode *v, llp_pipeline *p)
{
    llp_pipeline_output *out = &p->output;
    if (v->kind != Y_MAP) {
        if (!(v->kind == Y_SCALAR && v->bad))
            problem(L, v->line, v->col, "output: expected a mapping (e.g. jsonl: PATH), got %s",
                    pl_node_kind(v));
        return;
    }
    static const char *const keys[] = { "csv", "jsonl", "tsv", "stdout", "format" };
    check_keys(L, v, "output: ", keys, 5);
    const ynode *first = NULL;
    for (int i = 0; i + 1 < v->n; i += 2) {
        const ynode *k = v->kids[i], *val = v->kids[i + 1];
        if (k->bad || !strcmp(k->str, "format")) continue;
        int target = -1;
        for (int j = 0; j < 4; j++)
            if (!strcmp(k->str, keys[j])) target = j;
        if (target < 0) continue;
        if (first) {
            problem(L, k->line, k->col, "output: give one target, got '%s' and '%s'", first->str,
                    k->str);
            continue;
        }
        first = k;
        if (target == 3) {
            if (get_bool(L, val, "stdout") == 0)
                problem(L, val->line, val->col,
                        "stdout: false writes nothing; name a file (csv:, jsonl:, tsv:) instead");
            continue;
        }
        const char *s = get_string(L, val, k->str);
        if (s) out->path = llp_strdup(s);
        llp_format_parse_out(k->str, &out->format, NULL);
    }
    if (!first && !misspelt_as(v, keys, 5, keys, 4))
        problem(L, v->line, v->col, "output: no target; give one of csv, jsonl, tsv, stdout");
    const ynode *fmt = map_get(v, "format");
    if (fmt) {
        const char *s = get_string(L, fmt, "format");
        llp_err err;
        if (first && strcmp(first->str, "stdout") != 0)
            problem(L, fmt->line, fmt->col, "format: only with stdout: true (the file key names the format)");
        else if (s && llp_format_parse_out(s, &out->format, &err))
            problem(L, fmt->line, fmt->col, "format: %s", err.msg);
    }
}

/* One option of a step into words (see pl_option). */
static void option_words(loader *L, llp_step_tool t, const pl_option *o, const ynode *v,
                         llp_pipeline_step *st)
{
    const char *tool = llp_step_tool_name(t);
    static const char *const type_names[] = { "a string", "an integer", "a number",
                                              "true or false", "a list of strings" };
    char flag[64], flag_false[64];
    snprintf(flag, sizeof flag, "--%s", o->flag);
    snprintf(flag_false, sizeof flag_false, "--%s", o->flag_false ? o->flag_false : "");
    char *words[256];
    int n = 0;
    char *joined = NULL;
    if (v->kind == Y_SCALAR && v->bad) return;
    if (o->type != PL_LIST && (v->kind != Y_SCALAR || v->null)) {
        problem(L, v->line, v->col, "%s: %s: expected %s, got %s", tool, o->name,
                type_names[o->type], pl_node_kind(v));
        return;
    }
    switch (o->type) {
    case PL_STRING:
    case PL_INT:
    case PL_FLOAT:
        words[n++] = flag;
        words[n++] = v->str;
        break;
    case PL_BOOL: {
        int b = parse_bool(v->str);
        if (b < 0) {
            problem(L, v->line, v->col, "%s: %s: expected true or false, got '%s'", tool, o->name,
                    v->str);
            return;
        }
        if (b) words[n++] = flag;
        else if (o->flag_false) words[n++] = flag_false;     /* chat: false -> --no-chat */
        break;
    }
    case PL_LIST: {
        if (v->kind == Y_MAP || (v->kind == Y_SCALAR && v->null)) {
            problem(L, v->line, v->col, "%s: %s: expected a list of strings, got %s", tool,
                    o->name, pl_node_kind(v));
            return;
        }
        int items = v->kind == Y_SEQ ? v->n : 1;
        if (items == 0) {
            problem(L, v->line, v->col, "%s: %s: the list is empty", tool, o->name);
            return;
        }
        if (items > 120) {
            problem(L, v->line, v->col, "%s: %s: too many items (%d)", tool, o->name, items);
            return;
        }
        size_t len = 1;
        for (int i = 0; i < items; i++) {
            const ynode *it = v->kind == Y_SEQ ? v->kids[i] : v;
            if (it->kind == Y_SCALAR && it->bad) return;
            if (it->kind != Y_SCALAR || it->null) {
                problem(L, it->line, it->col, "%s: %s: expected a list of strings, item %d is %s",
                        tool, o->name, i + 1, pl_node_kind(it));
                return;
            }
            if (o->join && v->kind == Y_SEQ && strchr(it->str, ',')) {
                problem(L, it->line, it->col, "%s: %s: item %d ('%s') holds a comma", tool,
                        o->name, i + 1, it->str);
                return;
            }
            len += strlen(it->str) + 1;
        }
        if (o->join) {
            joined = llp_calloc(1, len);
            for (int i = 0; i < items; i++) {
                const ynode *it = v->kind == Y_SEQ ? v->kids[i] : v;
                if (i) strcat(joined, ",");
                strcat(joined, it->str);
            }
            words[n++] = flag;
            words[n++] = joined;
        } else {
            for (int i = 0; i < items; i++) {
                words[n++] = flag;
                words[n++] = (v->kind == Y_SEQ ? v->kids[i] : v)->str;
            }
        }
        break;
    }
    }
    llp_err err;
    if (pl_check_option(t, o, words, n, &err)) {
        problem(L, v->line, v->col, "%s: %s", tool, err.msg);
    } else {
        st->words = llp_realloc(st->words, sizeof *st->words * (size_t)(st->n_words + n));
        for (int i = 0; i < n; i++) st->words[st->n_words++] = llp_strdup(words[i]);
    }
    free(joined);
}

static void load_step(loader *L, const ynode *item, llp_pipeline *p)
{
    const ynode *key, *opts = NULL;
    if (item->kind == Y_SCALAR && !item->null && !item->bad) {
        key = item;                               /* "- tokenize": no options */
    } else if (item->kind == Y_MAP && item->n >= 2) {
        key = item->kids[0];
        opts = item->kids[1];
        for (int i = 2; i + 1 < item->n; i += 2)
            if (!item->kids[i]->bad)
                problem(L, item->kids[i]->line, item->kids[i]->col,
                        "a step names one tool, this one also names '%s' (make it a list item "
                        "of its own, '- %s:')",
                        item->kids[i]->str, item->kids[i]->str);
    } else {
        if (!(item->kind == Y_SCALAR && item->bad))
            problem(L, item->line, item->col,
                    "a step is a tool name with its options (e.g. '- classify: {labels: [a, b]}'), "
                    "got %s",
                    item->kind == Y_MAP ? "an empty mapping" : pl_node_kind(item));
        return;
    }
    if (key->bad) return;
    int tool = -1;
    const char *names[LLP_STEP_N_TOOLS];
    for (int t = 0; t < LLP_STEP_N_TOOLS; t++) {
        names[t] = llp_step_tool_name((llp_step_tool)t);
        if (!strcmp(key->str, names[t])) tool = t;
    }
    if (tool < 0) {
        const char *s = pl_suggest(key->str, names, LLP_STEP_N_TOOLS);
        if (s)
            problem(L, key->line, key->col, "unknown tool '%s' (did you mean '%s'?)", key->str, s);
        else
            problem(L, key->line, key->col,
                    "unknown tool '%s' (steps are tokenize, generate, embed, classify, summarize)",
                    key->str);
        return;
    }
    llp_step_tool t = (llp_step_tool)tool;
    const char *tname = names[t];
    p->steps = llp_realloc(p->steps, sizeof *p->steps * (size_t)(p->n_steps + 1));
    llp_pipeline_step *st = &p->steps[p->n_steps++];
    memset(st, 0, sizeof *st);
    st->tool = t;
    st->line = key->line;
    st->column = key->col;
    int before = L->problems->n;
    if (opts && !(opts->kind == Y_SCALAR && opts->null) && opts->kind != Y_MAP) {
        if (!(opts->kind == Y_SCALAR && opts->bad))
            problem(L, opts->line, opts->col, "%s: expected a mapping of options, got %s", tname,
                    pl_node_kind(opts));
        opts = NULL;
    }
    for (int i = 0; opts && opts->kind == Y_MAP && i + 1 < opts->n; i += 2) {
        const ynode *k = opts->kids[i], *v = opts->kids[i + 1];
        if (k->bad) continue;
        const pl_option *o = pl_option_find(t, k->str);
        if (!o) {
            const char *home = pl_option_misplaced(k->str);
            const char *known[64];
            int n_known = pl_option_names(t, known, 64);
            const char *s = pl_suggest(k->str, known, n_known);
            if (home)
                problem(L, k->line, k->col, "%s: '%s' is not a step option; it belongs %s", tname,
                        k->str, home);
            else if (s)
                problem(L, k->line, k->col, "%s: unknown option '%s' (did you mean '%s'?)", tname,
                        k->str, s);
            else
                problem(L, k->line, k->col, "%s: unknown option '%s' (see %s --help)", tname,
                        k->str, llp_step_tool_binary(t));
            continue;
        }
        if (!strcmp(o->name, "model")) {
            const char *m = get_string(L, v, "model");
            if (m) {
                free(st->model);
                st->model = llp_strdup(m);
                add_file(p, m, "model", v);
            }
            continue;
        }
        if (!strcmp(o->name, "field")) st->sets_field = true;
        if (!strcmp(o->name, "prompt_file") || !strcmp(o->name, "examples"))
            if (v->kind == Y_SCALAR && !v->null && !v->bad && *v->str)
                add_file(p, v->str, o->name, v);
        if (!strcmp(o->name, "lora"))       /* FILE or FILE:SCALE, one or a list */
            for (int j = 0; j < (v->kind == Y_SEQ ? v->n : 1); j++) {
                const ynode *it = v->kind == Y_SEQ ? v->kids[j] : v;
                char *path;
                float scale;
                llp_err e;
                if (it->kind == Y_SCALAR && !it->null && !it->bad && *it->str &&
                    llp_lora_parse_spec(it->str, &path, &scale, &e) == 0) {
                    add_file(p, path, "lora", it);
                    free(path);
                }
            }
        option_words(L, t, o, v, st);
    }
    if (L->problems->n > before) return;
    /* the whole command line once more, for rules across options */
    char **argv = llp_calloc((size_t)st->n_words + 1, sizeof *argv);
    argv[0] = (char *)llp_step_tool_binary(t);
    if (st->n_words) memcpy(argv + 1, st->words, sizeof *argv * (size_t)st->n_words);
    llp_cli cli;
    pl_step_opts so;
    llp_err err;
    if (pl_parse_step(t, st->n_words + 1, argv, &cli, &so, &err) == 0) {
        if (pl_check_step(&so, &err)) problem(L, key->line, key->col, "%s", err.msg);
        llp_cli_free(&cli);
    } else {
        problem(L, key->line, key->col, "%s: %s", tname, err.msg);
    }
    free(argv);
}

static void load_steps(loader *L, const ynode *v, llp_pipeline *p)
{
    if (v->kind == Y_SCALAR && v->bad) return;
    if (v->kind != Y_SEQ) {
        if (v->kind == Y_SCALAR && v->null)
            problem(L, v->line, v->col, "steps: the list is empty; a pipeline needs at least one step");
        else
            problem(L, v->line, v->col, "steps: expected a list of steps, got %s", pl_node_kind(v));
        return;
    }
    if (v->n == 0)
        problem(L, v->line, v->col, "steps: the list is empty; a pipeline needs at least one step");
    for (int i = 0; i < v->n; i++) load_step(L, v->kids[i], p);
}

/* The file's base name without its extension. */
static char *default_name(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *dot = strrchr(base, '.');
    size_t n = dot && dot != base ? (size_t)(dot - base) : strlen(base);
    return llp_strndup(base, n);
}

/* threads, ctx_size and db: at the top level, or under defaults:. */
static void load_settings(loader *L, const ynode *map, llp_pipeline *p)
{
    const ynode *v;
    const char *s;
    if ((v = map_get(map, "threads"))) get_common_int(L, v, "threads", &p->threads);
    if ((v = map_get(map, "ctx_size"))) get_common_int(L, v, "ctx_size", &p->ctx_size);
    if ((v = map_get(map, "db")) && (s = get_string(L, v, "db")) && !p->db) p->db = llp_strdup(s);
}

static void load_root(loader *L, const ynode *root, llp_pipeline *p)
{
    if (root->kind != Y_MAP) {
        problem(L, root->line, root->col,
                "expected a mapping at the top (version:, input:, steps:...), got %s",
                pl_node_kind(root));
        return;
    }
    static const char *const keys[] = { "version", "name", "model", "input", "steps", "output",
                                        "threads", "ctx_size", "db", "defaults" };
    check_keys(L, root, "", keys, sizeof keys / sizeof keys[0]);

    const int n_keys = sizeof keys / sizeof keys[0];
    const char *const want_version[] = { "version" }, *const want_input[] = { "input" },
                      *const want_steps[] = { "steps" };
    const ynode *v = map_get(root, "version");
    if (!v) {
        if (!misspelt_as(root, keys, n_keys, want_version, 1))
            problem(L, root->line, root->col, "missing required key 'version' (write version: 1)");
    } else if (!(v->kind == Y_SCALAR && v->bad)) {
        if (v->kind != Y_SCALAR || v->null)
            problem(L, v->line, v->col, "version: expected 1, got %s", pl_node_kind(v));
        else if (strcmp(v->str, "1") != 0)
            problem(L, v->line, v->col, "unsupported version '%s' (llp-run reads version 1)",
                    v->str);
    }
    const char *s;
    if ((v = map_get(root, "name")) && (s = get_string(L, v, "name"))) {
        if (strpbrk(s, "\n\r\t"))
            problem(L, v->line, v->col, "name: expected one line without tabs");
        p->name = llp_strdup(s);
    }
    if (!p->name) p->name = default_name(L->path);
    if ((v = map_get(root, "model")) && (s = get_string(L, v, "model"))) {
        p->model = llp_strdup(s);
        add_file(p, s, "model", v);
    }
    load_settings(L, root, p);
    if ((v = map_get(root, "defaults"))) {
        static const char *const setting_keys[] = { "threads", "ctx_size", "db" };
        if (v->kind != Y_MAP) {
            if (!(v->kind == Y_SCALAR && v->bad))
                problem(L, v->line, v->col, "defaults: expected a mapping (threads:, ctx_size:, "
                        "db:), got %s", pl_node_kind(v));
        } else {
            check_keys(L, v, "defaults: ", setting_keys, 3);
            for (int i = 0; i < 3; i++) {
                const ynode *k = map_key(v, setting_keys[i]);
                if (k && map_get(root, setting_keys[i]))
                    problem(L, k->line, k->col, "defaults: '%s' is also set at the top; give it once",
                            setting_keys[i]);
            }
            load_settings(L, v, p);
        }
    }

    if ((v = map_get(root, "input"))) load_input(L, v, p);
    else if (!misspelt_as(root, keys, n_keys, want_input, 1))
        problem(L, root->line, root->col, "missing required key 'input' (e.g. input: {csv: PATH})");
    if ((v = map_get(root, "steps"))) load_steps(L, v, p);
    else if (!misspelt_as(root, keys, n_keys, want_steps, 1))
        problem(L, root->line, root->col, "missing required key 'steps'");
    if ((v = map_get(root, "output"))) load_output(L, v, p);

    /* Every step needs a model: its own, the pipeline's, or $LLP_MODEL. A
     * model key already reported (bad value, misspelt key) is not reported
     * again as missing. */
    bool model_tried = map_key(root, "model") != NULL;
    for (int i = 0; i + 1 < root->n; i += 2) {
        const char *s2 = pl_suggest(root->kids[i]->str, keys, sizeof keys / sizeof keys[0]);
        if (s2 && !strcmp(s2, "model")) model_tried = true;
    }
    const char *env = getenv("LLP_MODEL");
    for (int i = 0; i < p->n_steps; i++) {
        llp_pipeline_step *st = &p->steps[i];
        if (!st->model && p->model) st->model = llp_strdup(p->model);
        if (!st->model && env && *env) st->model = llp_strdup(env);
        if (!st->model && !model_tried)
            problem(L, st->line, st->column,
                    "%s: no model; set model: at the top or in this step (or LLP_MODEL)",
                    llp_step_tool_name(st->tool));
    }
}

/* ---- entry points ------------------------------------------------------------------ */

static char *read_file(const char *path, size_t *len, llp_pipeline_problems *problems)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        llp_pipeline_problem_add(problems, 0, 0, "cannot open: %s", strerror(errno));
        return NULL;
    }
    size_t cap = 4096, n = 0;
    char *buf = llp_malloc(cap);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (cap - n - 1 == 0) buf = llp_realloc(buf, cap *= 2);
    }
    bool bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        llp_pipeline_problem_add(problems, 0, 0, "read error");
        return NULL;
    }
    buf[n] = 0;
    *len = n;
    return buf;
}

llp_pipeline *llp_pipeline_load(const char *path, llp_pipeline_problems *problems)
{
    size_t len;
    char *text = read_file(path, &len, problems);
    if (!text) return NULL;
    loader L = { .path = path, .problems = problems };
    bool empty;
    ynode *root = pl_yaml_parse(text, len, problems, &empty);
    free(text);
    llp_pipeline *p = llp_calloc(1, sizeof *p);
    p->file = llp_strdup(path);
    if (empty) problem(&L, 1, 1, "the file is empty; a pipeline needs version:, input: and steps:");
    if (root) load_root(&L, root, p);
    pl_node_free(root);
    if (problems->n > 0) {
        llp_pipeline_free(p);
        return NULL;
    }
    return p;
}

void llp_pipeline_words_free(char **words, int n)
{
    for (int i = 0; i < n; i++) free(words[i]);
    free(words);
}

void llp_pipeline_free(llp_pipeline *p)
{
    if (!p) return;
    free(p->file);
    free(p->name);
    free(p->model);
    llp_pipeline_words_free(p->input.paths, p->input.n_paths);
    free(p->input.text_name);
    free(p->input.id_column);
    for (int i = 0; i < p->n_steps; i++) {
        free(p->steps[i].model);
        llp_pipeline_words_free(p->steps[i].words, p->steps[i].n_words);
    }
    free(p->steps);
    free(p->output.path);
    free(p->db);
    for (int i = 0; i < p->n_files; i++) free(p->files[i].path);
    free(p->files);
    free(p);
}
