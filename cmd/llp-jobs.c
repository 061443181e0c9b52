/*
 * llp-jobs — look into the store: list jobs, show one, export a job's
 * outputs as records, merge shard stores, garbage-collect.
 *
 * Not for: any SQL or store logic (lib/store_admin.c does list, show,
 * export, merge and gc; this file parses flags and prints).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "records.h"
#include "finetune.h"
#include "store.h"

static const char *const TOOL = "llp-jobs";

static const char USAGE[] =
    "Usage: llp-jobs [--db PATH] [--out jsonl|csv|tsv|text] COMMAND [ARGS]\n"
    "\n"
    "Look into the llamapipe store (--db PATH, else $LLP_DB, else\n"
    "$XDG_DATA_HOME/llamapipe/llamapipe.db).\n"
    "\n"
    "Commands:\n"
    "  list               every job, oldest first (default --out text)\n"
    "  show JOB           one job: argv, parameters, model, counts (text);\n"
    "                     a training job's loss curve too (JSON: \"steps\")\n"
    "  export JOB         the job's records as the tool wrote them (input\n"
    "                     fields, then the fields it added, then error), in\n"
    "                     input order (default --out jsonl); JOB is an id or\n"
    "                     'last'; a pipeline job exports its last step's\n"
    "                     records\n"
    "  merge OUT IN...    copy the jobs, items, models and embeddings of each\n"
    "                     IN store into OUT (created if needed); merging the\n"
    "                     same store again adds nothing\n"
    "  gc                 mark jobs whose process died as interrupted, drop\n"
    "                     failed items a later run redid and orphan rows, VACUUM\n"
    "\n"
    "Options:\n"
    "      --db PATH      the store to read (list, show, export, gc); list,\n"
    "                     show and export only read it, so a store on a\n"
    "                     read-only medium works\n"
    "      --out FORMAT   jsonl, csv, tsv or text\n"
    "      --added        export: only the id, the fields the tool added and\n"
    "                     error, without the input record's fields\n"
    "  -q, --quiet        no notes or summary on stderr (export, merge, gc)\n"
    "  -h, --help         this help\n"
    "      --version      print the version\n"
    "\n"
    "Examples:\n"
    "  llp-jobs list\n"
    "  llp-jobs list --out jsonl | jq 'select(.status != \"done\")'\n"
    "  llp-jobs show last\n"
    "  llp-jobs export 12 --out csv > labels.csv\n"
    "  llp-jobs merge all.db shard-*.db      # after an sbatch --array run\n"
    "  llp-jobs --db all.db gc\n"
    "\n"
    "Exit status: 0 success, 1 error (store missing or unreadable, no such\n"
    "job), 2 usage error.\n";

enum { OPT_DB = 1000, OPT_OUT, OPT_ADDED, OPT_VERSION };

typedef struct jobs_opts {
    const char *db;
    llp_format out;
    bool quiet;
    bool added;          /* export: without the input fields */
} jobs_opts;

static int usage_error(const char *msg, const char *arg)
{
    fprintf(stderr, "%s: error: %s%s%s\nTry 'llp-jobs --help'.\n", TOOL, msg,
            arg ? ": " : "", arg ? arg : "");
    return LLP_EXIT_USAGE;
}

/* Open the store: it must exist already. Reading commands (list, show,
 * export) open it read-only, so archived stores on read-only media work. */
static llp_store *open_existing(const jobs_opts *o, bool for_writing)
{
    llp_err err;
    char *path = llp_store_resolve_path(o->db, &err);
    if (!path) {
        llp_error(TOOL, "%s", err.msg);
        return NULL;
    }
    if (access(path, F_OK) != 0) {
        llp_error(TOOL, "%s: no such store (run a tool first, or pass --db)",
                  path);
        free(path);
        return NULL;
    }
    llp_store *s = for_writing ? llp_store_open(path, &err)
                               : llp_store_open_readonly(path, &err);
    if (!s) llp_error(TOOL, "%s", err.msg);
    free(path);
    return s;
}

/* ---- output ---------------------------------------------------------------- */

/* Columns of `list` and `show` in CSV/TSV, in this order. */
static const char *const JOB_COLUMNS[] = {
    "id", "uuid", "tool", "parent_job", "status", "started_at", "finished_at",
    "n_items", "n_cached", "n_failed", "tokens_in", "tokens_out",
    "elapsed_ms", "host", "pid", "params_hash", "model", "model_fp",
};
#define N_JOB_COLUMNS (sizeof JOB_COLUMNS / sizeof *JOB_COLUMNS)

/* A record holding a JSON object as its fields (borrowed reference taken). */
static llp_record *record_of(json_t *obj)
{
    json_t *id = json_object_get(obj, "id");
    char buf[32];
    const char *ids = json_is_string(id) ? json_string_value(id) : buf;
    snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(id));
    llp_record *r = llp_record_new(ids, "", 0, "store");
    json_decref(r->fields);
    r->fields = json_incref(obj);
    json_t *e = json_object_get(obj, "error");
    if (json_is_string(e)) {
        r->error = llp_strdup(json_string_value(e));
        json_object_del(obj, "error");
    }
    return r;
}

static llp_writer *open_writer(llp_format fmt, const char *const *cols,
                               size_t n_cols)
{
    llp_writer_opts wo;
    memset(&wo, 0, sizeof wo);
    wo.format = fmt;
    wo.input_format = LLP_FMT_JSONL;
    wo.input_columns = (char *const *)cols;
    wo.n_input_columns = n_cols;
    llp_err err;
    llp_writer *w = llp_writer_open(&wo, &err);
    if (!w) llp_error(TOOL, "%s", err.msg);
    return w;
}

/* Write one object; returns 0, 1 when downstream closed, -1 on error. */
static int write_object(llp_writer *w, json_t *obj)
{
    llp_record *r = record_of(obj);
    llp_err err;
    int rc = llp_writer_write(w, r, &err);
    llp_record_free(r);
    if (rc == LLP_WRITE_FAILED) llp_error(TOOL, "%s", err.msg);
    return rc == LLP_WRITE_OK ? 0 : rc == LLP_WRITE_CLOSED ? 1 : -1;
}

static int finish_writer(llp_writer *w, int rc)
{
    llp_err err;
    int c = llp_writer_close(w, &err);
    /* after downstream closed the pipe (rc 1) the final flush fails too:
     * that is the expected end, not an error */
    if (c == LLP_WRITE_FAILED && rc == 0) {
        llp_error(TOOL, "%s", err.msg);
        return LLP_EXIT_FATAL;
    }
    return rc < 0 ? LLP_EXIT_FATAL : LLP_EXIT_OK;
}

static const char *str_or(json_t *o, const char *key, const char *dflt)
{
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : dflt;
}

static long long int_of(json_t *o, const char *key)
{
    return json_integer_value(json_object_get(o, key));
}

/* ---- commands ---------------------------------------------------------------- */

static int cmd_list(const jobs_opts *o)
{
    llp_store *s = open_existing(o, false);
    if (!s) return LLP_EXIT_FATAL;
    llp_err err;
    json_t *jobs = llp_store_jobs_list(s, &err);
    llp_store_close(s);
    if (!jobs) {
        llp_error(TOOL, "%s", err.msg);
        return LLP_EXIT_FATAL;
    }
    size_t i;
    json_t *job;
    if (o->out == LLP_FMT_TEXT || o->out == LLP_FMT_AUTO) {
        /* The tool column as wide as its longest name ("pipeline:NAME"). */
        int tool_w = 12;
        json_array_foreach(jobs, i, job) {
            int len = (int)strlen(str_or(job, "tool", "?"));
            if (len > tool_w) tool_w = len;
        }
        printf("%-6s %-*s %-11s %-24s %8s %8s %8s %10s %10s %10s\n", "ID", tool_w,
               "TOOL", "STATUS", "STARTED", "ITEMS", "CACHED", "FAILED",
               "TOK_IN", "TOK_OUT", "SECONDS");
        json_array_foreach(jobs, i, job)
            printf("%-6lld %-*s %-11s %-24s %8lld %8lld %8lld %10lld %10lld "
                   "%10.1f\n", int_of(job, "id"), tool_w, str_or(job, "tool", "?"),
                   str_or(job, "status", "?"), str_or(job, "started_at", ""),
                   int_of(job, "n_items"), int_of(job, "n_cached"),
                   int_of(job, "n_failed"), int_of(job, "tokens_in"),
                   int_of(job, "tokens_out"),
                   (double)int_of(job, "elapsed_ms") / 1000.0);
        json_decref(jobs);
        return fflush(stdout) == 0 ? LLP_EXIT_OK : LLP_EXIT_FATAL;
    }
    llp_writer *w = open_writer(o->out, JOB_COLUMNS, N_JOB_COLUMNS);
    int rc = 0;
    json_array_foreach(jobs, i, job)
        if (w && (rc = write_object(w, job)) != 0) break;
    json_decref(jobs);
    return w ? finish_writer(w, rc) : LLP_EXIT_FATAL;
}

/* JOB as an id, or "last" for the newest job. Returns 0 when invalid. */
static int64_t job_id_of(llp_store *s, const char *arg)
{
    if (strcmp(arg, "last") == 0) {
        json_t *jobs = llp_store_jobs_list(s, NULL);
        size_t n = jobs ? json_array_size(jobs) : 0;
        int64_t id = n ? int_of(json_array_get(jobs, n - 1), "id") : 0;
        json_decref(jobs);
        return id;
    }
    long v;
    llp_err err;
    if (llp_opt_long("JOB", arg, 1, __LONG_MAX__, &v, &err)) return 0;
    return v;
}

static int cmd_show(const jobs_opts *o, const char *arg)
{
    llp_store *s = open_existing(o, false);
    if (!s) return LLP_EXIT_FATAL;
    llp_err err;
    int64_t id = job_id_of(s, arg);
    json_t *job = id > 0 ? llp_store_job_get(s, id, &err) : NULL;
    if (!job) {
        if (id > 0) llp_error(TOOL, "%s", err.msg);
        else llp_error(TOOL, "%s: no job '%s'", llp_store_path(s), arg);
        llp_store_close(s);
        return LLP_EXIT_FATAL;
    }
    /* a training job's loss curve (train_steps, schema version 3) */
    json_t *steps = llp_store_train_steps(s, id, &err);
    llp_store_close(s);
    if (!steps) {
        llp_error(TOOL, "%s", err.msg);
        json_decref(job);
        return LLP_EXIT_FATAL;
    }
    if (json_array_size(steps) && o->out != LLP_FMT_TEXT && o->out != LLP_FMT_AUTO)
        json_object_set(job, "steps", steps);
    if (o->out == LLP_FMT_TEXT || o->out == LLP_FMT_AUTO) {
        const char *key;
        json_t *v;
        json_object_foreach(job, key, v) {
            if (json_is_string(v)) {
                printf("%-16s %s\n", key, json_string_value(v));
            } else {
                /* 9 digits: what the store keeps, so 0.8 prints as 0.8 */
                char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(9));
                printf("%-16s %s\n", key, t ? t : "");
                free(t);
            }
        }
        llp_train_curve_print(steps, stdout, 20);
        json_decref(steps);
        json_decref(job);
        return fflush(stdout) == 0 ? LLP_EXIT_OK : LLP_EXIT_FATAL;
    }
    json_decref(steps);
    llp_writer *w = open_writer(o->out, NULL, 0);
    int rc = w ? write_object(w, job) : -1;
    json_decref(job);
    return w ? finish_writer(w, rc) : LLP_EXIT_FATAL;
}

typedef struct export_ctx {
    llp_writer *w;
    int rc;
} export_ctx;

static int export_one(void *ctx, json_t *record)
{
    export_ctx *e = ctx;
    e->rc = write_object(e->w, record);
    return e->rc != 0;
}

static int collect_columns(void *ctx, json_t *record)
{
    const char *key;
    json_t *v;
    json_object_foreach(record, key, v)
        if (strcmp(key, "error") != 0) json_object_set(ctx, key, json_true());
    return 0;
}

static int cmd_export(const jobs_opts *o, const char *arg)
{
    llp_store *s = open_existing(o, false);
    if (!s) return LLP_EXIT_FATAL;
    llp_err err;
    int64_t id = job_id_of(s, arg);
    json_t *job = id > 0 ? llp_store_job_get(s, id, &err) : NULL;
    if (!job) {
        if (id > 0) llp_error(TOOL, "%s", err.msg);
        else llp_error(TOOL, "%s: no job '%s'", llp_store_path(s), arg);
        llp_store_close(s);
        return LLP_EXIT_FATAL;
    }
    json_decref(job);
    /* A pipeline job has no items of its own: its output is its last step's. */
    int64_t from = llp_store_job_output_job(s, id, &err);
    if (from < 0) {
        llp_error(TOOL, "%s", err.msg);
        llp_store_close(s);
        return LLP_EXIT_FATAL;
    }
    if (from != id && !o->quiet)
        llp_note(TOOL, "job %lld is a pipeline: exporting its last step, job "
                 "%lld", (long long)id, (long long)from);
    id = from;
    llp_format fmt = o->out == LLP_FMT_AUTO ? LLP_FMT_JSONL : o->out;
    /* CSV/TSV columns: every field any item has, in first-seen order. */
    json_t *names = json_object();
    if ((fmt == LLP_FMT_CSV || fmt == LLP_FMT_TSV) &&
        llp_store_job_items(s, id, !o->added, collect_columns, names, &err)) {
        llp_error(TOOL, "%s", err.msg);
        json_decref(names);
        llp_store_close(s);
        return LLP_EXIT_FATAL;
    }
    size_t n_cols = 0;
    const char **cols = llp_calloc(json_object_size(names) + 1, sizeof *cols);
    const char *key;
    json_t *v;
    json_object_foreach(names, key, v) cols[n_cols++] = key;
    export_ctx e = { open_writer(fmt, n_cols ? cols : NULL, n_cols), 0 };
    free(cols);
    json_decref(names);
    if (!e.w) {
        llp_store_close(s);
        return LLP_EXIT_FATAL;
    }
    int rc = llp_store_job_items(s, id, !o->added, export_one, &e, &err);
    if (rc) llp_error(TOOL, "%s", err.msg);
    llp_store_close(s);
    return finish_writer(e.w, rc ? -1 : e.rc);
}

static int cmd_merge(const jobs_opts *o, int n, char **args)
{
    if (n < 2) return usage_error("merge needs OUT and at least one IN", NULL);
    llp_err err;
    llp_store *out = llp_store_open(args[0], &err);
    if (!out) {
        llp_error(TOOL, "%s", err.msg);
        return LLP_EXIT_FATAL;
    }
    int code = LLP_EXIT_OK;
    for (int i = 1; i < n; i++) {
        int64_t jobs = 0, items = 0;
        if (llp_store_merge(out, args[i], &jobs, &items, &err)) {
            llp_error(TOOL, "%s", err.msg);
            code = LLP_EXIT_FATAL;
            break;
        }
        if (!o->quiet)
            fprintf(stderr, "%s: merged %s: %lld jobs, %lld items added\n",
                    TOOL, args[i], (long long)jobs, (long long)items);
    }
    llp_store_close(out);
    return code;
}

static int cmd_gc(const jobs_opts *o)
{
    llp_store *s = open_existing(o, true);
    if (!s) return LLP_EXIT_FATAL;
    llp_err err;
    int64_t deleted = 0;
    int rc = llp_store_gc(s, &deleted, &err);
    if (rc) llp_error(TOOL, "%s", err.msg);
    else if (!o->quiet)
        fprintf(stderr, "%s: %s: %lld rows deleted\n", TOOL,
                llp_store_path(s), (long long)deleted);
    llp_store_close(s);
    return rc ? LLP_EXIT_FATAL : LLP_EXIT_OK;
}

int main(int argc, char **argv)
{
    static const struct option options[] = {
        { "db", required_argument, NULL, OPT_DB },
        { "out", required_argument, NULL, OPT_OUT },
        { "added", no_argument, NULL, OPT_ADDED },
        { "quiet", no_argument, NULL, 'q' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, OPT_VERSION },
        { 0 },
    };
    jobs_opts o = { NULL, LLP_FMT_AUTO, false, false };
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "qh", options, NULL)) != -1) {
        llp_err err;
        switch (c) {
        case OPT_DB: o.db = optarg; break;
        case OPT_OUT:
            if (llp_format_parse_out(optarg, &o.out, &err))
                return usage_error(err.msg, NULL);
            break;
        case 'q': o.quiet = true; break;
        case OPT_ADDED: o.added = true; break;
        case 'h': fputs(USAGE, stdout); return LLP_EXIT_OK;
        case OPT_VERSION: printf("llp-jobs %s\n", LLP_VERSION); return 0;
        default:
            return usage_error("unknown option", argv[optind - 1]);
        }
    }
    int n = argc - optind;
    char **args = argv + optind;
    if (n == 0) return usage_error("no command (list, show, export, merge, gc)",
                                   NULL);
    const char *cmd = args[0];
    if (o.added && strcmp(cmd, "export") != 0)
        return usage_error("--added is an option of export, not of", cmd);
    if (strcmp(cmd, "list") == 0 || strcmp(cmd, "gc") == 0) {
        if (n != 1) return usage_error("unexpected argument", args[1]);
        return cmd[0] == 'l' ? cmd_list(&o) : cmd_gc(&o);
    }
    if (strcmp(cmd, "show") == 0 || strcmp(cmd, "export") == 0) {
        if (n != 2) return usage_error(n < 2 ? "missing JOB" :
                                       "unexpected argument",
                                       n < 2 ? cmd : args[2]);
        return cmd[0] == 's' ? cmd_show(&o, args[1]) : cmd_export(&o, args[1]);
    }
    if (strcmp(cmd, "merge") == 0) return cmd_merge(&o, n - 1, args + 1);
    return usage_error("unknown command", cmd);
}
