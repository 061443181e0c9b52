/*
 * serve_pipeline.c — POST /pipelines/NAME: a YAML pipeline (pipeline.h)
 * given with --pipeline, run on the records of the request's body, the
 * answer being exactly the records llp-run writes for them.
 *
 * How: the plan loaded at startup is run as it is, through the pipeline
 * runner itself (llp_pipeline_run), with two things changed: its input is
 * the request's records, written to a file of the server's own private
 * directory (JSON Lines, or the CSV body as it came), and its output goes
 * to a temporary file read back as the response, in the format the plan's
 * output names (CSV for `csv:`, JSON Lines for `jsonl:`, as the last tool
 * decides for stdout). Every step, option, cache entry and job in the store
 * is therefore the same as llp-run's: the run is a pipeline job in the
 * serve's store. One pipeline request runs at a time; it loads the plan's
 * models for the run, as llp-run does.
 *
 * No file named by a request is read or written: NAME selects one of the
 * loaded plans, and the paths are the server's.
 *
 * Not for: the runner (pipeline_run.c) or the routes of the model itself
 * (serve_routes.c).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "pipeline.h"
#include "serve_internal.h"
#include "utf8.h"
#include "util.h"

struct llp_serve_pipelines {
    llp_pipeline **plans;
    int n;
    char dir[4096];             /* private (0700) scratch directory */
    pthread_mutex_t run;        /* one run at a time */
    llp_server *srv;
};

llp_serve_pipelines *llp_serve_pipelines_load(const char *const *files, int n, llp_err *err)
{
    llp_serve_pipelines *p = llp_calloc(1, sizeof *p);
    pthread_mutex_init(&p->run, NULL);
    for (int i = 0; i < n; i++) {
        llp_pipeline_problems probs = { 0 };
        llp_pipeline *plan = llp_pipeline_load(files[i], &probs);
        if (!plan) {
            llp_pipeline_problems_print(&probs, files[i], stderr);
            llp_pipeline_problems_free(&probs);
            llp_err_set(err, "%s: not a valid pipeline (problems above)", files[i]);
            llp_serve_pipelines_free(p);
            return NULL;
        }
        llp_pipeline_problems_free(&probs);
        for (int k = 0; k < p->n; k++)
            if (!strcmp(p->plans[k]->name, plan->name)) {
                llp_err_set(err, "%s: a pipeline named '%s' is already served (from %s)",
                            files[i], plan->name, p->plans[k]->file);
                llp_pipeline_free(plan);
                llp_serve_pipelines_free(p);
                return NULL;
            }
        p->plans = llp_realloc(p->plans, sizeof *p->plans * (size_t)(p->n + 1));
        p->plans[p->n++] = plan;
    }
    if (n) {
        const char *tmp = getenv("TMPDIR");
        snprintf(p->dir, sizeof p->dir, "%s/llp-serve-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(p->dir)) {
            llp_err_set(err, "%s: cannot create a directory: %s", p->dir, strerror(errno));
            p->dir[0] = 0;
            llp_serve_pipelines_free(p);
            return NULL;
        }
    }
    return p;
}

void llp_serve_pipelines_free(llp_serve_pipelines *p)
{
    if (!p) return;
    for (int i = 0; i < p->n; i++) llp_pipeline_free(p->plans[i]);
    free(p->plans);
    if (p->dir[0]) rmdir(p->dir);
    pthread_mutex_destroy(&p->run);
    free(p);
}

int llp_serve_pipelines_count(const llp_serve_pipelines *p) { return p ? p->n : 0; }
const char *llp_serve_pipelines_name(const llp_serve_pipelines *p, int i)
{
    return p->plans[i]->name;
}

/* The request's records as JSON Lines: a JSON array of objects, one
 * object, or JSON Lines. Returns the text (malloc'd) and the count, or
 * NULL having answered r. */
static char *records_jsonl(llp_serve_request *r, int *n_records)
{
    if (!llp_utf8_valid(r->body, r->len)) {
        llp_serve_error(r, 400, "invalid_utf8", NULL, "the request body is not valid UTF-8");
        return NULL;
    }
    json_t *all = json_array();
    json_error_t je;
    json_t *v = json_loadb(r->body, r->len, 0, &je);
    if (v && json_is_array(v)) {
        json_decref(all);
        all = v;
    } else if (v) {
        json_array_append_new(all, v);
    } else {
        /* JSON Lines: one object per non-empty line */
        const char *s = r->body, *end = r->body + r->len;
        int line = 0;
        while (s < end) {
            const char *nl = memchr(s, '\n', (size_t)(end - s));
            const char *e = nl ? nl : end;
            line++;
            const char *t = s;
            while (t < e && (*t == ' ' || *t == '\t' || *t == '\r')) t++;
            if (t < e) {
                json_t *rec = json_loadb(s, (size_t)(e - s), 0, &je);
                if (!rec) {
                    llp_serve_error(r, 400, "invalid_json", NULL,
                                    "the request body is neither JSON nor JSON Lines: line %d: %s",
                                    line, je.text);
                    json_decref(all);
                    return NULL;
                }
                json_array_append_new(all, rec);
            }
            s = nl ? nl + 1 : end;
        }
    }
    size_t count = json_array_size(all);
    if (count == 0 || count > (size_t)r->srv->o->limits.max_inputs) {
        llp_serve_error(r, 400, "invalid_value", NULL, "expected 1 to %d records, got %zu",
                        r->srv->o->limits.max_inputs, count);
        json_decref(all);
        return NULL;
    }
    size_t i, len = 0, cap = 1024;
    char *out = llp_malloc(cap);
    json_t *rec;
    json_array_foreach(all, i, rec) {
        if (!json_is_object(rec)) {
            llp_serve_error(r, 400, "invalid_value", NULL,
                            "record %zu: expected a JSON object", i + 1);
            json_decref(all);
            free(out);
            return NULL;
        }
        char *line = json_dumps(rec, JSON_COMPACT | JSON_PRESERVE_ORDER);
        size_t k = strlen(line);
        if (len + k + 2 > cap) {
            cap = (len + k + 2) * 2;
            out = llp_realloc(out, cap);
        }
        memcpy(out + len, line, k);
        len += k;
        out[len++] = '\n';
        out[len] = 0;
        free(line);
    }
    *n_records = (int)count;
    r->record_input = json_pack("{s:O}", "records", all);
    json_decref(all);
    return out;
}

static int write_file(const char *path, const char *s, size_t n, llp_err *err)
{
    FILE *f = fopen(path, "wb");
    if (!f) return llp_err_set(err, "%s: %s", path, strerror(errno));
    size_t w = fwrite(s, 1, n, f);
    if (fclose(f) != 0 || w != n) return llp_err_set(err, "%s: write failed", path);
    return 0;
}

static const char *content_type(llp_format f)
{
    switch (f) {
    case LLP_FMT_CSV: return "text/csv; charset=utf-8";
    case LLP_FMT_TSV: return "text/tab-separated-values; charset=utf-8";
    case LLP_FMT_TEXT: return "text/plain; charset=utf-8";
    default: return "application/x-ndjson";
    }
}

void llp_serve_pipeline_route(llp_serve_request *r, const char *name)
{
    llp_serve_pipelines *ps = r->srv->pipes;
    llp_pipeline *plan = NULL;
    for (int i = 0; ps && i < ps->n; i++)
        if (!strcmp(ps->plans[i]->name, name)) plan = ps->plans[i];
    if (!plan) {
        llp_serve_error(r, 404, "not_found", NULL, "no pipeline named '%s' is served", name);
        return;
    }
    bool csv = r->content_type && !strncasecmp(r->content_type, "text/csv", 8);
    int n_records = 0;
    char *jsonl = NULL;
    if (csv) {
        if (r->len == 0) {
            llp_serve_error(r, 400, "invalid_value", NULL, "empty CSV body");
            return;
        }
        r->record_input = json_pack("{s:o}", "csv", llp_json_string(r->body, r->len));
    } else if (!(jsonl = records_jsonl(r, &n_records))) {
        return;
    }

    pthread_mutex_lock(&ps->run);
    char in_path[4200], out_path[4200];
    snprintf(in_path, sizeof in_path, "%s/in-%lld.%s", ps->dir, (long long)r->n,
             csv ? "csv" : "jsonl");
    snprintf(out_path, sizeof out_path, "%s/out-%lld", ps->dir, (long long)r->n);
    llp_err err = { { 0 } };
    if (write_file(in_path, csv ? r->body : jsonl, csv ? r->len : strlen(jsonl), &err)) {
        pthread_mutex_unlock(&ps->run);
        free(jsonl);
        llp_serve_error(r, 500, "io_error", NULL, "%s", err.msg);
        return;
    }
    free(jsonl);
    FILE *out = fopen(out_path, "w+b");
    if (!out) {
        unlink(in_path);
        pthread_mutex_unlock(&ps->run);
        llp_serve_error(r, 500, "io_error", NULL, "%s: %s", out_path, strerror(errno));
        return;
    }
    /* the plan as loaded, reading the request's records and writing here */
    llp_pipeline run = *plan;
    char *paths[1] = { in_path };
    run.input.kind = csv ? LLP_INPUT_CSV : LLP_INPUT_JSONL;
    run.input.paths = paths;
    run.input.n_paths = 1;
    run.input.documents = false;
    run.output.path = NULL;
    llp_format fmt = plan->output.format != LLP_FMT_AUTO ? plan->output.format
                   : csv ? LLP_FMT_CSV : LLP_FMT_JSONL;
    run.output.format = plan->output.format;
    char *argv[] = { "llp-serve", "--pipeline", plan->file, NULL };
    llp_pipeline_run_opts o = { .db_path = r->srv->o->db_path, .no_db = r->srv->o->no_db,
                                .no_cache = r->srv->o->no_cache,
                                .threads = r->srv->o->n_threads, .shard_n = 1, .quiet = true,
                                .argc = 3, .argv = argv, .out = out };
    int code = llp_pipeline_run(&run, &o);
    unlink(in_path);
    long size = fflush(out) == 0 && fseek(out, 0, SEEK_END) == 0 ? ftell(out) : -1;
    char *bytes = size >= 0 ? llp_malloc((size_t)size + 1) : NULL;
    if (bytes) {
        rewind(out);
        if (fread(bytes, 1, (size_t)size, out) != (size_t)size) size = -1;
        bytes[size > 0 ? size : 0] = 0;
    }
    fclose(out);
    unlink(out_path);
    pthread_mutex_unlock(&ps->run);
    if (code != LLP_EXIT_OK && code != LLP_EXIT_PARTIAL) {
        free(bytes);
        llp_serve_error(r, code == LLP_EXIT_USAGE ? 400 : 500, "pipeline_failed", NULL,
                        "pipeline '%s' failed (exit %d; its messages are in the server's log)",
                        name, code);
        return;
    }
    if (size < 0) {
        free(bytes);
        llp_serve_error(r, 500, "io_error", NULL, "cannot read the pipeline's output");
        return;
    }
    r->status = 200;
    r->raw = bytes;
    r->raw_len = (size_t)size;
    r->raw_type = content_type(fmt);
    r->record_response = json_pack("{s:s,s:i,s:o}", "pipeline", name, "exit", code, "output",
                                   llp_json_string(bytes, (size_t)size));
}
