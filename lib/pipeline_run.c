/*
 * pipeline_run.c — running a plan (pipeline.h) in one process, and showing
 * it (--dry-run, the equivalent shell pipeline).
 *
 * How a run goes. Every step is given the command line its binary would get
 * in the equivalent shell pipeline (llp_pipeline_step_argv), parsed by the
 * same option code, set up by its adapter (pipeline_tasks.c) on a model
 * opened once per distinct path, and run through llp_batch_run with the
 * pipeline job as parent. Steps run one after another: step k reads the
 * JSON Lines step k-1 wrote to a private temporary directory, exactly the
 * bytes a pipe between the binaries would carry, so records, field names,
 * errors flowing downstream and cache keys are those of the shell
 * pipeline. The last step writes the output (a file is written beside its
 * final name and renamed when the run finishes). Every path the run writes
 * (that file, the store, the temporary directory) is opened before the
 * models are loaded, so a bad one fails the run before anything is done.
 *
 * Resume: every step's items are cached in the store, so a run after an
 * interruption recomputes only records without a finished item; --resume
 * also continues the interrupted pipeline job itself instead of starting a
 * new one.
 *
 * Not for: loading or validating the file (pipeline_load.c), option
 * schemas (pipeline_schema.c), per-tool setup (pipeline_tasks.c).
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pipeline_internal.h"

#define TOOL "llp-run"

/* ---- command lines ------------------------------------------------------------ */

typedef struct words {
    char **v;
    int n;
} words;

static void push(words *w, const char *s)
{
    w->v = llp_realloc(w->v, sizeof *w->v * (size_t)(w->n + 2));
    w->v[w->n++] = llp_strdup(s);
    w->v[w->n] = NULL;
}

static bool has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* The --in a binary needs to read the input as the plan says, or NULL when
 * its own detection (by suffix) already does. */
static const char *input_format_flag(const llp_pipeline_input *in)
{
    static const char *const suffix[] = { ".csv", ".tsv", ".jsonl" };
    switch (in->kind) {
    case LLP_INPUT_CSV:
    case LLP_INPUT_TSV:
    case LLP_INPUT_JSONL:
        for (int i = 0; i < in->n_paths; i++)
            if (!has_suffix(in->paths[i], suffix[in->kind])) return llp_format_name(
                in->kind == LLP_INPUT_CSV ? LLP_FMT_CSV
                : in->kind == LLP_INPUT_TSV ? LLP_FMT_TSV : LLP_FMT_JSONL);
        return NULL;
    case LLP_INPUT_LINES: return "lines";
    case LLP_INPUT_STDIN:
        if (in->stdin_format != LLP_FMT_AUTO) return llp_format_name(in->stdin_format);
        return in->documents ? "doc" : NULL;
    default: return in->documents ? "doc" : NULL;
    }
}

static const char *effective_db(const llp_pipeline *p, const llp_pipeline_run_opts *o)
{
    return o->db_path ? o->db_path : p->db;
}

char **llp_pipeline_step_argv(const llp_pipeline *p, const llp_pipeline_run_opts *o, int i,
                              int *argc)
{
    const llp_pipeline_step *st = &p->steps[i];
    const llp_pipeline_input *in = &p->input;
    bool first = i == 0, last = i == p->n_steps - 1;
    char num[32];
    words w = { 0 };
    push(&w, llp_step_tool_binary(st->tool));
    if (st->model) {
        push(&w, "-m");
        push(&w, st->model);
    }
    /* -t and -c go to the steps whose binary takes them (not tokenize) */
    unsigned groups = pl_tool_groups(st->tool);
    int threads = o->threads > 0 ? o->threads : p->threads;
    if (threads > 0 && (groups & LLP_CLI_THREADS)) {
        snprintf(num, sizeof num, "%d", threads);
        push(&w, "-t");
        push(&w, num);
    }
    if (p->ctx_size > 0 && (groups & LLP_CLI_CONTEXT)) {
        snprintf(num, sizeof num, "%d", p->ctx_size);
        push(&w, "-c");
        push(&w, num);
    }
    if (o->no_db) {
        push(&w, "--no-db");
    } else if (effective_db(p, o)) {
        push(&w, "--db");
        push(&w, effective_db(p, o));
    }
    if (o->no_cache) push(&w, "--no-cache");
    for (int k = 0; k < st->n_words; k++) push(&w, st->words[k]);
    if (in->text_name && !st->sets_field) {
        bool column = first && (in->kind == LLP_INPUT_CSV || in->kind == LLP_INPUT_TSV ||
                                in->stdin_format == LLP_FMT_CSV ||
                                in->stdin_format == LLP_FMT_TSV);
        push(&w, column ? "--column" : "--field");
        push(&w, in->text_name);
    }
    if (in->id_column) {
        push(&w, "--id-column");
        push(&w, in->id_column);
    }
    if (first) {
        const char *fmt = input_format_flag(in);
        if (fmt) {
            push(&w, "--in");
            push(&w, fmt);
        }
        if (in->no_header) push(&w, "--no-header");
        if (o->shard_n > 1) {
            snprintf(num, sizeof num, "%d/%d", o->shard_k, o->shard_n);
            push(&w, "--shard");
            push(&w, num);
        }
    }
    if (!last) {
        push(&w, "--out");
        push(&w, "jsonl");
    } else if (p->output.format != LLP_FMT_AUTO) {
        push(&w, "--out");
        push(&w, llp_format_name(p->output.format));
    }
    if (first)
        for (int k = 0; k < in->n_paths; k++) {
            /* a path starting with '-' would read as an option */
            if (in->paths[k][0] == '-' && strcmp(in->paths[k], "-") != 0) {
                char *dot = llp_malloc(strlen(in->paths[k]) + 3);
                sprintf(dot, "./%s", in->paths[k]);
                push(&w, dot);
                free(dot);
            } else {
                push(&w, in->paths[k]);
            }
        }
    *argc = w.n;
    return w.v;
}

/* A word as sh reads it back: bare when safe, else in single quotes. */
static void shell_quote(char **buf, size_t *len, size_t *cap, const char *s)
{
    bool safe = *s != 0;
    for (const char *c = s; *c && safe; c++)
        safe = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
               strchr("_./:=,@%+-", *c);
    size_t need = *len + 4 * strlen(s) + 8;
    if (need > *cap) {
        while (need > *cap) *cap *= 2;
        *buf = llp_realloc(*buf, *cap);
    }
    char *o = *buf + *len;
    if (safe) {
        o += sprintf(o, "%s", s);
    } else {
        *o++ = '\'';
        for (const char *c = s; *c; c++) {
            if (*c == '\'') {
                memcpy(o, "'\\''", 4);
                o += 4;
            } else {
                *o++ = *c;
            }
        }
        *o++ = '\'';
        *o = 0;
    }
    *len = (size_t)(o - *buf);
}

static void append(char **buf, size_t *len, size_t *cap, const char *s)
{
    size_t n = strlen(s);
    if (*len + n + 1 > *cap) {
        while (*len + n + 1 > *cap) *cap *= 2;
        *buf = llp_realloc(*buf, *cap);
    }
    memcpy(*buf + *len, s, n + 1);
    *len += n;
}

char *llp_pipeline_shell(const llp_pipeline *p, const llp_pipeline_run_opts *o)
{
    size_t cap = 256, len = 0;
    char *buf = llp_malloc(cap);
    buf[0] = 0;
    for (int i = 0; i < p->n_steps; i++) {
        int argc;
        char **argv = llp_pipeline_step_argv(p, o, i, &argc);
        if (i) append(&buf, &len, &cap, " | ");
        for (int k = 0; k < argc; k++) {
            if (k) append(&buf, &len, &cap, " ");
            shell_quote(&buf, &len, &cap, argv[k]);
        }
        llp_pipeline_words_free(argv, argc);
    }
    if (p->output.path) {
        append(&buf, &len, &cap, " > ");
        shell_quote(&buf, &len, &cap, p->output.path);
    }
    return buf;
}

static const char *const input_kind_names[] = { "csv", "tsv", "jsonl", "lines", "files", "stdin" };

void llp_pipeline_print_plan(const llp_pipeline *p, const llp_pipeline_run_opts *o, FILE *out)
{
    const llp_pipeline_input *in = &p->input;
    fprintf(out, "pipeline: %s (%s), %d step%s\n", p->name, p->file, p->n_steps,
            p->n_steps == 1 ? "" : "s");
    fprintf(out, "input: %s", input_kind_names[in->kind]);
    if (in->kind == LLP_INPUT_STDIN && in->stdin_format != LLP_FMT_AUTO)
        fprintf(out, " (%s)", llp_format_name(in->stdin_format));
    for (int i = 0; i < in->n_paths; i++) fprintf(out, " %s", in->paths[i]);
    if (in->text_name) fprintf(out, ", text from '%s'", in->text_name);
    if (in->id_column) fprintf(out, ", ids from '%s'", in->id_column);
    if (in->no_header) fprintf(out, ", no header");
    if (in->documents) fprintf(out, ", one record per file");
    if (o->shard_n > 1) fprintf(out, ", shard %d/%d", o->shard_k, o->shard_n);
    fputc('\n', out);
    for (int i = 0; i < p->n_steps; i++) {
        const llp_pipeline_step *st = &p->steps[i];
        fprintf(out, "step %d: %s (model %s)", i + 1, llp_step_tool_name(st->tool),
                st->model ? st->model : "$LLP_MODEL");
        for (int k = 0; k < st->n_words; k++) fprintf(out, " %s", st->words[k]);
        fputc('\n', out);
    }
    if (p->output.path)
        fprintf(out, "output: %s %s\n", llp_format_name(p->output.format), p->output.path);
    else if (p->output.format != LLP_FMT_AUTO)
        fprintf(out, "output: stdout (%s)\n", llp_format_name(p->output.format));
    else
        fprintf(out, "output: stdout\n");
    const char *db = effective_db(p, o);
    fprintf(out, "store: %s\n", o->no_db ? "none (--no-db)" : db ? db : "default");
    char *sh = llp_pipeline_shell(p, o);
    fprintf(out, "shell:\n%s\n", sh);
    free(sh);
}

int llp_pipeline_check_files(const llp_pipeline *p, FILE *err_out)
{
    llp_pipeline_problems probs = { 0 };
    for (int i = 0; i < p->n_files; i++) {
        const llp_pipeline_file *f = &p->files[i];
        struct stat sb;
        if (stat(f->path, &sb) != 0)
            llp_pipeline_problem_add(&probs, f->line, f->column, "%s '%s': %s", f->what, f->path,
                                     strerror(errno));
        else if (S_ISDIR(sb.st_mode) && !f->directory_ok)
            llp_pipeline_problem_add(&probs, f->line, f->column, "%s '%s' is a directory",
                                     f->what, f->path);
    }
    int n = probs.n;
    llp_pipeline_problems_print(&probs, p->file, err_out);
    llp_pipeline_problems_free(&probs);
    return n;
}

/* ---- the pipeline job ------------------------------------------------------------- */

/* What identifies a plan for --resume: every step's command line (less
 * llp-run's -t, which changes no output). */
static json_t *plan_params(const llp_pipeline *p, const llp_pipeline_run_opts *o)
{
    llp_pipeline_run_opts same = *o;
    same.threads = 0;
    json_t *steps = json_array();
    for (int i = 0; i < p->n_steps; i++) {
        int argc;
        char **argv = llp_pipeline_step_argv(p, &same, i, &argc);
        json_t *a = json_array();
        for (int k = 0; k < argc; k++) json_array_append_new(a, json_string(argv[k]));
        json_array_append_new(steps, a);
        llp_pipeline_words_free(argv, argc);
    }
    return json_pack("{s:s,s:o,s:s?}", "name", p->name, "steps", steps, "output",
                     p->output.path);
}

/* A job of this host whose process is gone, or one that finished unfinished. */
static bool unfinished(const json_t *job)
{
    const char *status = json_string_value(json_object_get(job, "status"));
    if (!status) return false;
    if (!strcmp(status, LLP_JOB_INTERRUPTED) || !strcmp(status, LLP_JOB_FAILED)) return true;
    if (strcmp(status, LLP_JOB_RUNNING) != 0) return false;
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    const char *job_host = json_string_value(json_object_get(job, "host"));
    pid_t pid = (pid_t)json_integer_value(json_object_get(job, "pid"));
    if (!job_host || strcmp(job_host, host) != 0) return false;
    return pid > 0 && kill(pid, 0) != 0 && errno == ESRCH;
}

/* The last unfinished pipeline job of the same plan, or 0. */
static int64_t find_resumable(llp_store *s, const char *tool, const char *params_hash,
                              llp_err *err)
{
    json_t *jobs = llp_store_jobs_list(s, err);
    if (!jobs) return -1;
    int64_t found = 0;
    for (size_t i = json_array_size(jobs); i-- > 0 && !found;) {
        json_t *j = json_array_get(jobs, i);
        const char *t = json_string_value(json_object_get(j, "tool"));
        const char *h = json_string_value(json_object_get(j, "params_hash"));
        if (t && h && !strcmp(t, tool) && !strcmp(h, params_hash) && unfinished(j))
            found = json_integer_value(json_object_get(j, "id"));
    }
    json_decref(jobs);
    return found;
}

/* Counters of the pipeline job from its child jobs made in this run (ids
 * above first_child - 1): records of the last step, tokens of all. */
static void child_counts(llp_store *s, int64_t job_id, int64_t after, llp_job_counts *c)
{
    llp_err err;
    json_t *jobs = llp_store_jobs_list(s, &err);
    if (!jobs) return;
    size_t i;
    json_t *j;
    json_array_foreach(jobs, i, j) {
        if (json_integer_value(json_object_get(j, "parent_job")) != job_id) continue;
        if (json_integer_value(json_object_get(j, "id")) <= after) continue;
        c->tokens_in += json_integer_value(json_object_get(j, "tokens_in"));
        c->tokens_out += json_integer_value(json_object_get(j, "tokens_out"));
        c->n_items = json_integer_value(json_object_get(j, "n_items"));
        c->n_cached = json_integer_value(json_object_get(j, "n_cached"));
        c->n_failed = json_integer_value(json_object_get(j, "n_failed"));
    }
    json_decref(jobs);
}

static int64_t last_job_id(llp_store *s)
{
    llp_err err;
    json_t *jobs = llp_store_jobs_list(s, &err);
    int64_t id = 0;
    size_t n = jobs ? json_array_size(jobs) : 0;
    if (n) id = json_integer_value(json_object_get(json_array_get(jobs, n - 1), "id"));
    json_decref(jobs);
    return id;
}

/* ---- running ------------------------------------------------------------------------ */

typedef struct model_slot {
    const char *path;
    char *lora_key;         /* the step's adapters and scales, "" for none */
    llp_engine *engine;
} model_slot;

typedef struct run_state {
    const llp_pipeline *p;
    const llp_pipeline_run_opts *o;
    model_slot *models;
    int n_models;
    char tmpdir[4096];
    char part[4200];        /* output.path + ".part", opened before any step */
    FILE *final;            /* open on part; renamed to output.path at the end */
    llp_store *store;
    int64_t job_id;
} run_state;

/* What tells apart two engines of one model file: the step's lora: and
 * lora_merge: (malloc'd). */
static char *lora_key(const llp_cli *c)
{
    size_t n = 16;
    for (int i = 0; i < c->n_lora; i++) n += strlen(c->lora[i]) + 40;
    char *k = llp_calloc(1, n);
    if (c->n_lora) strcat(k, c->lora_merge ? "merge" : "fly");
    for (int i = 0; i < c->n_lora; i++)
        snprintf(k + strlen(k), n - strlen(k), "\n%s:%.9g", c->lora[i], (double)c->lora_scale[i]);
    return k;
}

static llp_engine *engine_for(run_state *r, const char *path, const llp_cli *c)
{
    char *key = lora_key(c);
    llp_engine *e = NULL;
    for (int i = 0; i < r->n_models && !e; i++)
        if (!strcmp(r->models[i].path, path) && !strcmp(r->models[i].lora_key, key))
            e = r->models[i].engine;
    free(key);
    return e;
}

/* Open every distinct model of the plan, once. Only the model and its
 * tokenizer are shared; each step makes the context its tool needs. */
static int open_models(run_state *r, llp_err *err)
{
    const char *env = getenv("LLP_MODEL");
    for (int i = 0; i < r->p->n_steps; i++) {
        const char *path = r->p->steps[i].model ? r->p->steps[i].model : env;
        if (!path || !*path) return llp_err_set(err, "no model: set model: or LLP_MODEL");
        /* the step's adapters (lora:, lora_merge:) belong to its engine */
        int argc;
        char **argv = llp_pipeline_step_argv(r->p, r->o, i, &argc);
        llp_cli cli;
        pl_step_opts so;
        llp_err perr;
        int parsed = pl_parse_step(r->p->steps[i].tool, argc, argv, &cli, &so, &perr);
        llp_pipeline_words_free(argv, argc);
        if (parsed) continue;       /* run_step reports it */
        if (engine_for(r, path, &cli)) {
            llp_cli_free(&cli);
            continue;
        }
        llp_engine_opts eo = { .model_path = path, .n_ctx = 16, .n_batch = 16, .n_threads = 1,
                               .lora = cli.lora, .lora_scale = cli.lora_scale,
                               .n_lora = cli.n_lora, .lora_merge = cli.lora_merge };
        llp_engine *e = llp_engine_open(&eo, err);
        char *key = lora_key(&cli);
        llp_cli_free(&cli);
        if (!e) {
            free(key);
            return -1;
        }
        r->models = llp_realloc(r->models, sizeof *r->models * (size_t)(r->n_models + 1));
        r->models[r->n_models++] = (model_slot){ path, key, e };
    }
    return 0;
}

static int make_parent_dirs(const char *path, llp_err *err)
{
    char *dir = llp_strdup(path);
    for (char *s = dir + 1; *s; s++) {
        if (*s != '/') continue;
        *s = 0;
        if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
            llp_err_set(err, "%s: cannot create directory: %s", dir, strerror(errno));
            free(dir);
            return -1;
        }
        *s = '/';
    }
    free(dir);
    return 0;
}

/* Run step i from `in` (NULL: the plan's input) into `out`. Returns the
 * step's exit code. */
static int run_step(run_state *r, int i, const char *in_path, FILE *out)
{
    const llp_pipeline_step *st = &r->p->steps[i];
    int argc;
    char **argv = llp_pipeline_step_argv(r->p, r->o, i, &argc);
    /* what the step parses: its shell words plus, after the first, the
     * previous step's output as its input file */
    char **parse_argv = llp_calloc((size_t)argc + 2, sizeof *parse_argv);
    memcpy(parse_argv, argv, sizeof *argv * (size_t)argc);
    int parse_argc = argc;
    if (in_path) parse_argv[parse_argc++] = (char *)in_path;

    llp_cli cli;
    pl_step_opts opts;
    llp_err err;
    int rc = LLP_EXIT_FATAL;
    pl_task *task = NULL;
    if (pl_parse_step(st->tool, parse_argc, parse_argv, &cli, &opts, &err)) {
        llp_error(TOOL, "step %d (%s): %s", i + 1, llp_step_tool_name(st->tool), err.msg);
        goto done_noparse;
    }
    /* llp-tokenize --count prints counts unless an output format is asked for */
    if (opts.tool == LLP_STEP_TOKENIZE && opts.count && cli.out == LLP_FMT_AUTO)
        cli.out = LLP_FMT_TEXT;
    cli.quiet = r->o->quiet;
    cli.progress = !r->o->quiet && (r->o->progress || isatty(STDERR_FILENO));
    llp_engine *e = cli.model ? engine_for(r, cli.model, &cli) : NULL;
    llp_batch_tool bt;
    if (!e) {
        llp_error(TOOL, "step %d (%s): no model", i + 1, llp_step_tool_name(st->tool));
        goto done;
    }
    if (!(task = pl_task_new(&opts, &cli, e, &bt, &err))) {
        llp_error(TOOL, "step %d (%s): %s", i + 1, llp_step_tool_name(st->tool), err.msg);
        goto done;
    }
    bt.parent_job = r->job_id;
    bt.out = out;
    rc = llp_batch_run(&cli, &bt, argc, argv);
done:
    pl_task_free(task);
    llp_cli_free(&cli);
done_noparse:
    free(parse_argv);
    llp_pipeline_words_free(argv, argc);
    return rc;
}

static void cleanup_tmp(run_state *r)
{
    if (!r->tmpdir[0]) return;
    for (int i = 0; i < r->p->n_steps; i++) {
        char path[4200];
        snprintf(path, sizeof path, "%s/step%d.jsonl", r->tmpdir, i + 1);
        unlink(path);
    }
    rmdir(r->tmpdir);
}

/* Everything the run writes, opened before any step computes, so a path that
 * cannot be written fails the run at once, named: the output (its
 * directories made, its .part file created and held open; a directory
 * there is refused, since the final rename would fail) and the temporary
 * directory of the steps' intermediate records. The store is opened next
 * (open_store), also before the models and any step. */
static int open_outputs(run_state *r, llp_err *err)
{
    const llp_pipeline *p = r->p;
    if (p->output.path) {
        struct stat sb;
        if (stat(p->output.path, &sb) == 0 && S_ISDIR(sb.st_mode))
            return llp_err_set(err, "%s: cannot write the output: Is a directory", p->output.path);
        if (make_parent_dirs(p->output.path, err)) return -1;
        snprintf(r->part, sizeof r->part, "%s.part", p->output.path);
        if (!(r->final = fopen(r->part, "wb")))
            return llp_err_set(err, "%s: cannot open for writing: %s", r->part, strerror(errno));
    }
    const char *tmp = getenv("TMPDIR");
    snprintf(r->tmpdir, sizeof r->tmpdir, "%s/llp-run-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(r->tmpdir)) {
        llp_err_set(err, "%s: cannot create a temporary directory: %s", r->tmpdir, strerror(errno));
        r->tmpdir[0] = 0;
        return -1;
    }
    return 0;
}

static int run_steps(run_state *r)
{
    const llp_pipeline *p = r->p;
    int code = LLP_EXIT_OK;
    char prev[4200] = "";
    const char *part = r->part;
    for (int i = 0; i < p->n_steps; i++) {
        bool last = i == p->n_steps - 1;
        char cur[4200];
        FILE *out;
        if (!last) {
            snprintf(cur, sizeof cur, "%s/step%d.jsonl", r->tmpdir, i + 1);
            out = fopen(cur, "wb");
            if (!out) {
                llp_error(TOOL, "%s: %s", cur, strerror(errno));
                return LLP_EXIT_FATAL;
            }
        } else if (r->final) {
            out = r->final;
            r->final = NULL;    /* closed below, like every step's output */
        } else {
            out = r->o->out ? r->o->out : stdout;
        }
        int rc = run_step(r, i, i ? prev : NULL, out);
        if (out != stdout && out != r->o->out && fclose(out) != 0 && rc <= LLP_EXIT_OK) {
            llp_error(TOOL, "%s: write failed: %s", last ? part : cur, strerror(errno));
            rc = LLP_EXIT_FATAL;
        }
        if (i) unlink(prev);
        if (rc == LLP_EXIT_PARTIAL) code = LLP_EXIT_PARTIAL;
        else if (rc != LLP_EXIT_OK) {
            if (!last) unlink(cur);
            return rc;
        }
        if (!last) snprintf(prev, sizeof prev, "%s", cur);
    }
    if (p->output.path && rename(part, p->output.path) != 0) {
        llp_error(TOOL, "%s: cannot rename to %s: %s", part, p->output.path, strerror(errno));
        unlink(part);
        return LLP_EXIT_FATAL;
    }
    return code;
}

static int open_store(run_state *r, llp_err *err)
{
    char *path = llp_store_resolve_path(effective_db(r->p, r->o), err);
    if (!path) return -1;
    r->store = llp_store_open(path, err);
    free(path);
    return r->store ? 0 : -1;
}

static int begin_job(run_state *r, json_t *params, int64_t *first_child, llp_err *err)
{
    const llp_pipeline_run_opts *o = r->o;
    char tool[512];
    snprintf(tool, sizeof tool, "pipeline:%s", r->p->name);
    char hash[LLP_HASH_HEX];
    llp_hash_json(params, hash);
    if (o->resume) {
        int64_t id = find_resumable(r->store, tool, hash, err);
        if (id < 0) return -1;
        if (id > 0) {
            llp_job_counts c = { 0 };
            if (llp_store_job_update(r->store, id, LLP_JOB_RUNNING, &c, err)) return -1;
            r->job_id = id;
            if (!o->quiet) llp_note(TOOL, "resuming pipeline job %lld", (long long)id);
        } else if (!o->quiet) {
            llp_note(TOOL, "nothing to resume for pipeline '%s'; starting a new run", r->p->name);
        }
    }
    if (!r->job_id) {
        llp_job_spec spec = { tool, 0, o->argc, o->argv, params, 0 };
        r->job_id = llp_store_job_begin(r->store, &spec, err);
        if (r->job_id < 0) return -1;
    }
    *first_child = last_job_id(r->store);
    return 0;
}

int llp_pipeline_run(const llp_pipeline *p, const llp_pipeline_run_opts *o)
{
    run_state r = { .p = p, .o = o };
    llp_err err;
    int code = LLP_EXIT_FATAL;
    double started = llp_now();
    json_t *params = plan_params(p, o);
    int64_t first_child = 0;

    /* every path the run writes first, then the models: a bad output path
     * fails at once, before any model is loaded or record computed */
    if (open_outputs(&r, &err) || (!o->no_db && open_store(&r, &err)) || open_models(&r, &err) ||
        (!o->no_db && begin_job(&r, params, &first_child, &err))) {
        llp_error(TOOL, "%s", err.msg);
        goto out;
    }
    code = run_steps(&r);
    if (r.store) {
        llp_job_counts c = { 0 };
        child_counts(r.store, r.job_id, first_child, &c);
        c.elapsed_ms = (int64_t)((llp_now() - started) * 1000);
        const char *status = code == LLP_EXIT_OK ? LLP_JOB_DONE
                           : code == LLP_EXIT_PARTIAL ? LLP_JOB_PARTIAL
                           : code == LLP_EXIT_FATAL ? LLP_JOB_FAILED : LLP_JOB_INTERRUPTED;
        if (llp_store_job_update(r.store, r.job_id, status, &c, &err)) {
            llp_error(TOOL, "%s", err.msg);
            if (code == LLP_EXIT_OK || code == LLP_EXIT_PARTIAL) code = LLP_EXIT_FATAL;
        }
    }
out:
    if (r.final) fclose(r.final);
    if (r.part[0] && code != LLP_EXIT_OK && code != LLP_EXIT_PARTIAL) unlink(r.part);
    cleanup_tmp(&r);
    llp_store_close(r.store);
    for (int i = 0; i < r.n_models; i++) {
        llp_engine_free(r.models[i].engine);
        free(r.models[i].lora_key);
    }
    free(r.models);
    json_decref(params);
    return code;
}
