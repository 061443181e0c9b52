/*
 * batch.c — the record loop of batch.h: groups of records through the
 * cache and the tool's process callback, output in input order, items
 * buffered in memory and committed to the store in short transactions,
 * signals, closed pipes, progress and the exit code.
 *
 * Not for: what a tool computes, record formats, or SQL.
 *
 * Why items are buffered rather than written inside an open transaction:
 * a transaction holds the store's write lock, and a process call can take
 * minutes (a long summary), which would stall every other process writing
 * the same store past its busy timeout. Buffering keeps the lock for the
 * few milliseconds a commit takes.
 */
#include "batch.h"

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "progress.h"

/* ---- signals -------------------------------------------------------------
 * The first SIGINT or SIGTERM sets stop_signal, which the loop and long
 * process callbacks poll (a generation at every token), and writes a notice
 * on stderr (write(2): the only output a handler may make). The second
 * wakes the watcher thread, which marks the job (and its pipeline job)
 * "interrupted" through a store connection of its own and then lets the
 * signal kill the process: the main thread may be anywhere, even inside a
 * transaction, so nothing else is done. A third signal, or a second one
 * before the watcher runs, kills at once (llp-jobs gc then marks the job). */

#define WATCHER_WAIT_MS 2000   /* most the watcher waits for the write lock */

static volatile sig_atomic_t stop_signal;    /* the first signal, 0 = none */
static volatile sig_atomic_t kill_signal;    /* the second */
static volatile sig_atomic_t watcher_ready;  /* the watcher waits on watcher_wake */
static volatile sig_atomic_t watcher_quit;
static sem_t watcher_wake;
static char notice[2][256];                  /* for SIGINT, SIGTERM */
static size_t notice_len[2];

bool llp_batch_stop_requested(void) { return stop_signal != 0; }

/* End the process by sig's default action, as if never caught. */
static void die_of(int sig)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, NULL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    raise(sig);
    _exit(128 + sig);
}

static void on_stop_signal(int sig)
{
    int saved_errno = errno;
    if (!stop_signal) {
        stop_signal = sig;
        int k = sig == SIGTERM;
        if (notice_len[k] && write(STDERR_FILENO, notice[k], notice_len[k]) < 0) {}
    } else if (kill_signal || !watcher_ready) {
        die_of(sig);
    } else {
        kill_signal = sig;
        sem_post(&watcher_wake);
    }
    errno = saved_errno;
}

typedef struct saved_signals {
    struct sigaction sigint, sigterm;
} saved_signals;

/* The notice of the first signal: what happens now, and how to stop at
 * once. Silent with -q. A terminal gets a line of its own (after "^C" or
 * the progress line). */
static void set_notices(const char *name, bool quiet)
{
    static const char *const what[2] = {
        "interrupted: finishing the current step and saving finished work; "
        "press Ctrl-C again to stop at once",
        "terminated: finishing the current step and saving finished work; "
        "a second SIGTERM stops at once",
    };
    const char *lead = isatty(STDERR_FILENO) ? "\n" : "";
    for (int k = 0; k < 2; k++) {
        int n = quiet ? 0 : snprintf(notice[k], sizeof notice[k], "%s%s: %s\n", lead, name,
                                     what[k]);
        notice_len[k] = n > 0 && (size_t)n < sizeof notice[k] ? (size_t)n : 0;
    }
}

/* No SA_RESTART: a read blocked on a quiet pipe returns so the loop can
 * stop. Each signal is blocked while the other's handler runs. */
static void install_signals(saved_signals *saved, const char *name, bool quiet)
{
    static bool sem_ready;
    if (!sem_ready) {
        sem_init(&watcher_wake, 0, 0);
        sem_ready = true;
    }
    set_notices(name, quiet);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGINT);
    sigaddset(&sa.sa_mask, SIGTERM);
    sa.sa_flags = 0;
    stop_signal = kill_signal = 0;
    watcher_ready = 0;
    sigaction(SIGINT, &sa, &saved->sigint);
    sigaction(SIGTERM, &sa, &saved->sigterm);
}

static void restore_signals(const saved_signals *saved)
{
    sigaction(SIGINT, &saved->sigint, NULL);
    sigaction(SIGTERM, &saved->sigterm, NULL);
}

/* What the watcher marks when the second signal comes. */
typedef struct watcher {
    pthread_t thread;
    bool started;
    const char *name;
    char *db_path;           /* NULL with --no-db: nothing to mark */
    int64_t jobs[2];         /* the job and its pipeline job (0 = none) */
} watcher;

static void *watch(void *arg)
{
    watcher *w = arg;
    for (;;) {
        while (sem_wait(&watcher_wake) != 0 && errno == EINTR) {}
        if (kill_signal) break;
        if (watcher_quit) return NULL;
    }
    llp_err err;
    if (w->db_path &&
        llp_store_jobs_mark(w->db_path, w->jobs, 2, LLP_JOB_INTERRUPTED, WATCHER_WAIT_MS, &err))
        fprintf(stderr, "%s: error: %s (the job stays 'running' until llp-jobs gc)\n", w->name,
                err.msg);
    die_of(kill_signal);
    return NULL;
}

/* Start the watcher with the signals blocked, so that they are always
 * handled by another thread and the watcher's sem_wait is never cut. */
static void watcher_start(watcher *w)
{
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    watcher_quit = 0;
    w->started = pthread_create(&w->thread, NULL, watch, w) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (w->started) watcher_ready = 1;
}

static void watcher_stop(watcher *w)
{
    if (!w->started) return;
    watcher_ready = 0;
    watcher_quit = 1;
    sem_post(&watcher_wake);
    pthread_join(w->thread, NULL);
    w->started = false;
}

/* ---- state --------------------------------------------------------------- */

/* One item waiting for the next commit. */
typedef struct pending_item {
    char *record_id;
    long ordinal;            /* the record's position in the input */
    char input_hash[LLP_HASH_HEX];
    json_t *input;           /* the input record's fields (a shallow copy) */
    json_t *output;          /* reference, NULL when failed */
    char *error;
    int64_t tokens_in, tokens_out;
    double ms;
    bool cached;
} pending_item;

/* One record of the current group, in input order. */
typedef struct group_entry {
    llp_record *rec;
    llp_cache_key key;
    bool compute;            /* goes to process (not cached, not failed) */
    json_t *cached_fields;   /* cache hit: the stored fields */
    int64_t cached_in, cached_out;
    llp_batch_result result;
    bool done;               /* continuous mode: the result is in */
    double t_start, ms;      /* continuous mode: handed to start, time in flight */
} group_entry;

struct llp_batch {
    const llp_cli *cli;
    const llp_batch_tool *tool;
    const char *name;                 /* "llp-tokenize" for messages */
    llp_store *store;
    int64_t job_id;
    json_t *params;                   /* the tool's params plus --into */
    char params_hash[LLP_HASH_HEX];
    const char *model_fp;
    llp_reader *reader;      /* NULL when the tool gives texts */
    llp_record *first;       /* the first record, read ahead to check its
                                fields before any work; NULL once taken */
    bool check_clash;        /* the output carries the input fields (not
                                --out text): an added field may not have
                                the name of an input field */
    bool usage;              /* b->err is a usage error (exit 2) */
    int next_text;           /* next of tool->texts to read */
    llp_writer *writer;
    llp_progress *progress;
    llp_job_counts counts;
    llp_job_counts committed;         /* counts as of the last commit */
    char *db_path;                    /* resolved --db, NULL with --no-db */
    double started, last_commit;
    double store_s, tool_s;           /* seconds in the store, in the tool (-v) */

    pending_item *pending;
    size_t n_pending, cap_pending;

    group_entry *group;
    int n_group, n_compute, max_group, max_batch;
    /* continuous mode: group[i] holds the record of ticket ticket_base + i;
     * n_in_flight of them are with the tool */
    long ticket_base;
    int n_in_flight;

    bool fatal, interrupted, pipe_closed;
    llp_err err;
    /* A later input failed to read (fatal, reported as read_err once the
     * records read before it are computed, written and recorded). */
    bool read_failed;
    llp_err read_err;
};

llp_store *llp_batch_store(llp_batch *b) { return b ? b->store : NULL; }
int64_t llp_batch_job_id(const llp_batch *b) { return b ? b->job_id : 0; }

void llp_batch_result_fail(llp_batch_result *r, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    free(r->error);
    r->error = llp_strdup(buf);
    json_decref(r->fields);
    r->fields = NULL;
}

/* ---- committing ---------------------------------------------------------- */

static void pending_clear(llp_batch *b)
{
    for (size_t i = 0; i < b->n_pending; i++) {
        free(b->pending[i].record_id);
        free(b->pending[i].error);
        json_decref(b->pending[i].input);
        json_decref(b->pending[i].output);
    }
    b->n_pending = 0;
}

/* Write the buffered items and the job's counters in one transaction. */
static int commit_items(llp_batch *b, const char *status);

static int commit(llp_batch *b, const char *status)
{
    double t0 = llp_now();
    int rc = commit_items(b, status);
    b->store_s += llp_now() - t0;
    return rc;
}

static int commit_items(llp_batch *b, const char *status)
{
    b->last_commit = llp_now();
    b->counts.elapsed_ms = (int64_t)((b->last_commit - b->started) * 1000);
    if (!b->store) {
        pending_clear(b);
        return 0;
    }
    llp_err *err = &b->err;
    if (llp_store_begin(b->store, err)) return -1;
    for (size_t i = 0; i < b->n_pending; i++) {
        pending_item *p = &b->pending[i];
        llp_cache_key key = { b->tool->task, b->model_fp, b->params_hash, "" };
        memcpy(key.input_hash, p->input_hash, LLP_HASH_HEX);
        llp_item item = { .record_id = p->record_id, .output = p->output,
                          .error = p->error, .tokens_in = p->tokens_in,
                          .tokens_out = p->tokens_out, .ms = p->ms,
                          .cached = p->cached, .ordinal = p->ordinal,
                          .input = p->input };
        if (llp_store_item_put(b->store, b->job_id, &key, &item, err)) {
            llp_store_rollback(b->store);
            return -1;
        }
    }
    if (llp_store_job_update(b->store, b->job_id, status, &b->counts, err) ||
        llp_store_commit(b->store, err)) {
        llp_store_rollback(b->store);
        return -1;
    }
    b->committed = b->counts;
    pending_clear(b);
    return 0;
}

/* -v: where the run's time went, on one line: the tool's work (its own
 * account, from tool->timing), the store (cache lookups, items, commits,
 * and the tool's own store work), and the rest (reading, writing, the
 * loop). */
static void report_time(llp_batch *b)
{
    double wall = llp_now() - b->started, store = b->store_s, tool = b->tool_s;
    char detail[768] = "";
    if (b->tool->timing) {
        double inner = b->tool->timing(b->tool->ctx, detail, sizeof detail);
        tool -= inner;
        store += inner;
    }
    double other = wall - tool - store;
    if (other < 0) other = 0;
    llp_note(b->name, "time: %.2f s in all: the model and the task %.2f s%s%s%s, the store %.2f s, "
             "reading, writing and the rest %.2f s", wall, tool, *detail ? " (" : "", detail,
             *detail ? ")" : "", store, other);
}

/* The final commit failed (a full disk, say): still record how the job
 * ended, with the counters of the last commit that succeeded, so it is
 * never left "running". */
static void record_final_status(llp_batch *b, const char *status)
{
    if (!b->store) return;
    llp_err err;
    b->committed.elapsed_ms = (int64_t)((llp_now() - b->started) * 1000);
    if (llp_store_job_update(b->store, b->job_id, status, &b->committed, &err))
        llp_error(b->name, "%s (the job stays 'running' until llp-jobs gc)", err.msg);
}

static int commit_if_due(llp_batch *b)
{
    if (b->n_pending >= LLP_BATCH_COMMIT_RECORDS ||
        (b->n_pending && llp_now() - b->last_commit >= LLP_BATCH_COMMIT_SECONDS))
        return commit(b, NULL);
    return 0;
}

/* Buffer the item of a finished record; `input` (the record's fields
 * before the tool's were added) is taken over. */
static void pending_add(llp_batch *b, const group_entry *e, json_t *input,
                        json_t *output, int64_t tokens_in, int64_t tokens_out,
                        double ms)
{
    if (b->n_pending == b->cap_pending) {
        b->cap_pending = b->cap_pending ? 2 * b->cap_pending : 32;
        b->pending = llp_realloc(b->pending,
                                 b->cap_pending * sizeof *b->pending);
    }
    pending_item *p = &b->pending[b->n_pending++];
    memset(p, 0, sizeof *p);
    p->record_id = llp_strdup(e->rec->id);
    p->ordinal = e->rec->ordinal;
    p->input = input;
    memcpy(p->input_hash, e->key.input_hash, LLP_HASH_HEX);
    p->error = e->rec->error ? llp_strdup(e->rec->error) : NULL;
    p->output = p->error ? NULL : json_incref(output);
    p->tokens_in = tokens_in;
    p->tokens_out = tokens_out;
    p->ms = ms;
    p->cached = e->cached_fields != NULL;
}

/* ---- one group ------------------------------------------------------------ */

/* Add every field of `fields` to the record, in their order. */
static void add_fields(llp_record *rec, json_t *fields)
{
    const char *name;
    json_t *value;
    json_object_foreach(fields, name, value)
        llp_record_add(rec, name, json_incref(value));
}

static void entry_free(group_entry *e)
{
    llp_record_free(e->rec);
    json_decref(e->cached_fields);
    json_decref(e->result.fields);
    free(e->result.error);
    memset(e, 0, sizeof *e);
}

static void progress_update(llp_batch *b, bool force)
{
    llp_progress_update(b->progress, (long)b->counts.n_items,
                        (long)b->counts.n_cached, (long)b->counts.n_failed,
                        force);
}

static void fail_clash(const llp_batch *b, llp_record *rec, const char *name)
{
    llp_record_fail(rec, "input field '%s' is also a field %s adds; pass --into NAME "
                    "to give the added fields other names", name, b->name);
}

/* The first output column the record already has as an input field. */
static const char *column_clash(const llp_batch *b, const llp_record *rec)
{
    if (!b->check_clash || rec->error) return NULL;
    return llp_record_field_clash(rec, b->tool->output_columns,
                                  b->tool->n_output_columns);
}

/* Finish one record: merge its fields or error, buffer its item, write it.
 * Once the pipe is closed, records are still buffered but not written. */
static void finish_entry(llp_batch *b, group_entry *e, double ms_each, bool write)
{
    llp_record *rec = e->rec;
    json_t *fields = NULL;
    int64_t tin = 0, tout = 0;
    if (e->cached_fields) {
        fields = e->cached_fields;
        tin = e->cached_in;
        tout = e->cached_out;
        b->counts.n_cached++;
    } else if (e->compute) {
        if (e->result.error) {
            llp_record_fail(rec, "%s", e->result.error);
        } else {
            if (!e->result.fields) e->result.fields = json_object();
            fields = e->result.fields;
        }
        tin = e->result.tokens_in;
        tout = e->result.tokens_out;
        b->counts.tokens_in += tin;
        b->counts.tokens_out += tout;
    }
    if (fields && !rec->error && b->check_clash) {
        /* The tool added a field its output columns do not list: the same
         * rule as take_record's, checked on what is really added. */
        const char *name;
        json_t *value;
        json_object_foreach(fields, name, value)
            if (json_object_get(rec->fields, name)) {
                fail_clash(b, rec, name);
                break;
            }
    }
    /* The input as it came, for the store: a shallow copy shares the
     * values, so this costs one small table, not the text. */
    json_t *input = json_copy(rec->fields);
    if (fields && !rec->error) add_fields(rec, fields);
    if (rec->error) b->counts.n_failed++;
    b->counts.n_items++;
    pending_add(b, e, input, fields, tin, tout, e->compute ? ms_each : 0);

    if (write && !b->pipe_closed && !b->fatal) {
        int w = llp_writer_write(b->writer, rec, &b->err);
        if (w == LLP_WRITE_CLOSED) b->pipe_closed = true;
        else if (w != LLP_WRITE_OK) b->fatal = true;
    }
}

static void flush_group(llp_batch *b)
{
    double ms_each = 0;
    if (b->n_compute > 0) {
        llp_record *recs[LLP_BATCH_MAX_GROUP];
        llp_batch_result results[LLP_BATCH_MAX_GROUP];
        int idx[LLP_BATCH_MAX_GROUP], n = 0;
        for (int i = 0; i < b->n_group; i++)
            if (b->group[i].compute) {
                idx[n] = i;
                recs[n++] = b->group[i].rec;
            }
        memset(results, 0, sizeof results[0] * (size_t)n);
        double t0 = llp_now();
        int rc = b->tool->process(b->tool->ctx, b, recs, n, results, &b->err);
        double spent = llp_now() - t0;
        b->tool_s += spent;
        ms_each = spent * 1000.0 / n;
        for (int j = 0; j < n; j++) b->group[idx[j]].result = results[j];
        if (rc == LLP_BATCH_STOPPED || rc != 0) {
            /* Records of this call are dropped, not recorded: the next run
             * recomputes them. A fatal error also drops those after. */
            if (rc == LLP_BATCH_STOPPED) b->interrupted = true;
            else b->fatal = true;
            int keep = idx[0];
            for (int i = 0; i < keep; i++) finish_entry(b, &b->group[i], 0, true);
            for (int i = 0; i < b->n_group; i++) entry_free(&b->group[i]);
            b->n_group = b->n_compute = 0;
            return;
        }
    }
    for (int i = 0; i < b->n_group; i++) {
        finish_entry(b, &b->group[i], ms_each, true);
        entry_free(&b->group[i]);
    }
    b->n_group = b->n_compute = 0;
    progress_update(b, false);
    if (commit_if_due(b)) b->fatal = true;
}

/* ---- reading -------------------------------------------------------------- */

static void input_hash(llp_batch *b, const llp_record *rec,
                       char out[LLP_HASH_HEX])
{
    llp_hasher *h = llp_hasher_new();
    llp_hasher_add(h, rec->text, rec->text_len);
    if (b->tool->input_extra) b->tool->input_extra(b->tool->ctx, rec, h);
    llp_hasher_finish(h, out);
}

/* Take one record into the group: look up the cache unless it failed in
 * the reader or --no-cache. Returns 0, or -1 on a store error. */
static int take_record(llp_batch *b, llp_record *rec)
{
    group_entry *e = &b->group[b->n_group++];
    memset(e, 0, sizeof *e);
    e->rec = rec;
    e->key.task = b->tool->task;
    e->key.model_fp = b->model_fp;
    e->key.params_hash = b->params_hash;
    input_hash(b, rec, e->key.input_hash);
    const char *clash = column_clash(b, rec);
    if (clash) fail_clash(b, rec, clash);
    if (rec->error) return 0;
    if (!b->cli->no_cache) {
        double t0 = llp_now();
        int hit = llp_store_cache_get(b->store, &e->key, &e->cached_fields,
                                      &e->cached_in, &e->cached_out, &b->err);
        b->store_s += llp_now() - t0;
        if (hit < 0) return -1;
        if (hit) return 0;
    }
    e->compute = true;
    b->n_compute++;
    return 0;
}

static bool group_full(const llp_batch *b)
{
    return b->n_compute >= b->max_batch || b->n_group >= b->max_group;
}

/* The reader's options: the same for the count and for the real pass, so
 * the progress total counts what the loop will read (documents, for a tool
 * that reads documents). */
static void reader_opts(const llp_batch *b, llp_reader_opts *ro)
{
    llp_cli_reader_opts(b->cli, ro);
    ro->documents = b->tool->documents;
    ro->prefer_field = b->tool->prefer_field;
    ro->tool = b->name;
}

/* Records in the current shard, counted by a second pass over the inputs
 * (only for the progress bar, and only when the inputs are files). */
static long count_records(llp_batch *b)
{
    const llp_cli *c = b->cli;
    if (b->tool->n_texts > 0) return b->tool->n_texts;
    bool from_stdin = c->files_from ? strcmp(c->files_from, "-") == 0
                                    : c->n_args == 0;
    if (from_stdin) return 0;
    for (int i = 0; i < c->n_args; i++)
        if (strcmp(c->args[i], "-") == 0) return 0;
    llp_reader_opts o;
    reader_opts(b, &o);
    o.quiet = true;
    llp_err err;
    llp_reader *r = llp_reader_open(&o, &err);
    if (!r) return 0;
    long n = 0;
    llp_record *rec;
    while (llp_reader_next(r, &rec, &err) == 1) {
        if (c->shard_n <= 1 || llp_shard_match(rec->id, c->shard_k, c->shard_n))
            n++;
        llp_record_free(rec);
    }
    llp_reader_close(r);
    return n;
}

/* ---- the run ------------------------------------------------------------- */

/* The tool's params plus --into (it renames what is stored in the cache)
 * and, for tools with a model, the KV cache type. */
static json_t *effective_params(const llp_cli *cli, const json_t *params, const char *model_fp)
{
    json_t *p = json_is_object(params) ? json_deep_copy(params)
                                       : json_object();
    if (params && !json_is_object(params))
        json_object_set_new(p, "params", json_deep_copy(params));
    if (cli->into) json_object_set_new(p, "into", json_string(cli->into));
    /* f16 and f32 caches give (slightly) different outputs */
    if (model_fp && *model_fp)
        json_object_set_new(p, "kv_type", json_string(llp_kv_type_name(cli->kv_type)));
    return p;
}

/* Read the first record ahead: if it has a field the tool would add (a
 * gold-labelled CSV's own `label`), the whole run is refused as a usage
 * error before anything is written, stored or computed. An --out text run
 * writes only what the tool adds, so nothing can be replaced there (auto
 * never resolves to text). */
static int check_first_record(llp_batch *b)
{
    b->check_clash = b->cli->out != LLP_FMT_TEXT;
    if (!b->reader) return 0;
    /* A CSV/TSV writer learns its columns from the reader before any
     * record is taken (from stdin: the first record's fields), so they are
     * learned before the record read ahead here. */
    llp_format in = llp_reader_format(b->reader), out = b->cli->out;
    if (out == LLP_FMT_CSV || out == LLP_FMT_TSV ||
        (out == LLP_FMT_AUTO && (in == LLP_FMT_CSV || in == LLP_FMT_TSV))) {
        size_t n;
        if (!llp_reader_all_columns(b->reader, &n, &b->err)) return -1;
    }
    if (llp_reader_next(b->reader, &b->first, &b->err) < 0) return -1;
    const char *clash = b->first ? column_clash(b, b->first) : NULL;
    if (!clash) return 0;
    llp_err_set(&b->err, "%s: input field '%s' is also a field %s adds; pass "
                "--into NAME to give the added fields other names",
                b->first->where, clash, b->name);
    b->usage = true;
    return -1;
}

static int open_inputs(llp_batch *b)
{
    const llp_cli *cli = b->cli;
    llp_writer_opts wo;
    memset(&wo, 0, sizeof wo);
    if (b->tool->n_texts > 0) {
        wo.input_format = LLP_FMT_LINES;
    } else {
        llp_reader_opts ro;
        reader_opts(b, &ro);
        b->reader = llp_reader_open(&ro, &b->err);
        if (!b->reader) return -1;
        wo.input_format = llp_reader_format(b->reader);
        wo.input_columns = llp_reader_columns(b->reader, &wo.n_input_columns);
        wo.reader = b->reader;   /* CSV/TSV out: every input's columns */
    }
    if (check_first_record(b)) return -1;
    wo.format = cli->out;
    wo.output_columns = b->tool->output_columns;
    wo.n_output_columns = b->tool->n_output_columns;
    wo.stream = b->tool->out;
    wo.text_fn = b->tool->text_fn;
    wo.text_ctx = b->tool->text_ctx;
    b->writer = llp_writer_open(&wo, &b->err);
    return b->writer ? 0 : -1;
}

static int open_store(llp_batch *b, int argc, char **argv)
{
    const llp_cli *cli = b->cli;
    if (cli->no_db) return 0;
    b->db_path = llp_store_resolve_path(cli->db_path, &b->err);
    if (!b->db_path) return -1;
    b->store = llp_store_open(b->db_path, &b->err);
    if (!b->store) return -1;

    int64_t model_id = 0;
    if (b->tool->model_fp && *b->tool->model_fp) {
        model_id = llp_store_model(b->store, b->tool->model_path,
                                   b->tool->model_fp, b->tool->model_size,
                                   b->tool->model_meta, &b->err);
        if (model_id < 0) return -1;
    }
    llp_job_spec spec = { b->tool->task, b->tool->parent_job, argc, argv,
                          b->params, model_id };
    b->job_id = llp_store_job_begin(b->store, &spec, &b->err);
    return b->job_id < 0 ? -1 : 0;
}

/* The next input record: from the tool's in-memory texts, else the reader. */
static int next_record(llp_batch *b, llp_record **rec)
{
    if (b->tool->n_texts <= 0) {
        if (b->first) {
            *rec = b->first;
            b->first = NULL;
            return 1;
        }
        return llp_reader_next(b->reader, rec, &b->err);
    }
    if (b->next_text >= b->tool->n_texts) return 0;
    int i = b->next_text++;
    char id[32], where[48];
    snprintf(id, sizeof id, "%d", i + 1);
    snprintf(where, sizeof where, "argument %d", i + 1);
    const char *text = b->tool->texts[i];
    *rec = llp_record_new(id, text, strlen(text), where);
    (*rec)->ordinal = i + 1;
    return 1;
}

static void read_loop(llp_batch *b)
{
    const llp_cli *cli = b->cli;
    for (;;) {
        if (b->fatal || b->pipe_closed || b->interrupted) return;
        if (stop_signal) {
            b->interrupted = true;
            return;
        }
        llp_record *rec = NULL;
        int rc = next_record(b, &rec);
        if (rc == 0) return;
        if (rc < 0) {
            /* A signal interrupting a blocked read is not a read error. */
            if (stop_signal) {
                b->interrupted = true;
            } else {
                b->read_failed = true;
                b->read_err = b->err;
            }
            return;
        }
        if (cli->shard_n > 1 &&
            !llp_shard_match(rec->id, cli->shard_k, cli->shard_n)) {
            llp_record_free(rec);
            continue;
        }
        if (take_record(b, rec)) {
            b->fatal = true;
            return;
        }
        /* A group with nothing to compute is written at once, so cached
         * records stream out as fast as they are read. */
        if (b->n_compute == 0 || group_full(b)) flush_group(b);
    }
}

/* ---- continuous mode ------------------------------------------------------
 * The group is a window of records in input order. Cached and failed
 * records are done when taken; the others are handed to the tool's start
 * and come back through llp_batch_finished, in any order. The done prefix
 * of the window is written, recorded and dropped after every step. */

void llp_batch_finished(llp_batch *b, long ticket, llp_batch_result *res)
{
    long i = ticket - b->ticket_base;
    if (i < 0 || i >= b->n_group || b->group[i].done || !b->group[i].compute) {
        /* a tool's bookkeeping error: never silently merge results */
        llp_error(b->name, "internal error: record ticket %ld finished twice or unknown", ticket);
        abort();
    }
    group_entry *e = &b->group[i];
    e->result = *res;
    memset(res, 0, sizeof *res);
    e->done = true;
    e->ms = (llp_now() - e->t_start) * 1000.0;
    b->n_in_flight--;
}

/* Write and record the done records at the head of the window. */
static void drain_window(llp_batch *b)
{
    int k = 0;
    while (k < b->n_group && b->group[k].done) {
        finish_entry(b, &b->group[k], b->group[k].ms, true);
        entry_free(&b->group[k]);
        k++;
    }
    if (k == 0) return;
    memmove(b->group, b->group + k, sizeof *b->group * (size_t)(b->n_group - k));
    b->n_group -= k;
    b->ticket_base += k;
    progress_update(b, false);
    if (commit_if_due(b)) b->fatal = true;
}

/* After a stop or a fatal error: the tool drops what is in flight; the
 * done head of the window is written as usual, and records finished after
 * the first unfinished one are recorded (the next run reuses them) but not
 * written, so the output stays a prefix of the input. */
static void abandon_window(llp_batch *b)
{
    if (b->n_in_flight > 0 && b->tool->cancel) b->tool->cancel(b->tool->ctx, b);
    b->n_in_flight = 0;
    bool head = true;
    for (int i = 0; i < b->n_group; i++) {
        group_entry *e = &b->group[i];
        if (!e->done) head = false;
        else if (!b->fatal || head) finish_entry(b, e, e->ms, head);
        entry_free(e);
    }
    b->ticket_base += b->n_group;
    b->n_group = 0;
}

static void stream_loop(llp_batch *b)
{
    const llp_batch_tool *t = b->tool;
    bool eof = false;
    for (;;) {
        if (b->fatal || b->pipe_closed || b->interrupted) break;
        if (stop_signal) {
            b->interrupted = true;
            break;
        }
        /* fill the tool first: a freed slot takes the next record at once */
        if (!eof && b->n_group < b->max_group && (b->n_in_flight == 0 || t->wants(t->ctx))) {
            llp_record *rec = NULL;
            int rc = next_record(b, &rec);
            if (rc == 0) {
                eof = true;
                continue;
            }
            if (rc < 0) {
                if (stop_signal) {
                    b->interrupted = true;
                } else {
                    b->read_failed = true;
                    b->read_err = b->err;
                }
                eof = true;
                continue;
            }
            if (b->cli->shard_n > 1 && !llp_shard_match(rec->id, b->cli->shard_k, b->cli->shard_n)) {
                llp_record_free(rec);
                continue;
            }
            if (take_record(b, rec)) {
                b->fatal = true;
                break;
            }
            group_entry *e = &b->group[b->n_group - 1];
            if (!e->compute) {
                e->done = true;
            } else {
                e->t_start = llp_now();
                b->n_in_flight++;
                int rc = t->start(t->ctx, b, rec, b->ticket_base + b->n_group - 1, &b->err);
                b->tool_s += llp_now() - e->t_start;
                if (rc) {
                    b->fatal = true;
                    break;
                }
            }
            drain_window(b);
            continue;
        }
        if (b->n_in_flight == 0) {
            drain_window(b);
            if (eof || b->n_group == 0) break;
            continue;
        }
        double t0 = llp_now();
        int rc = t->advance(t->ctx, b, &b->err);
        b->tool_s += llp_now() - t0;
        if (rc == LLP_BATCH_STOPPED) {
            b->interrupted = true;
            break;
        }
        if (rc) {
            b->fatal = true;
            break;
        }
        drain_window(b);
    }
    if (b->n_group > 0 && b->n_in_flight == 0 && !b->fatal && !b->interrupted) drain_window(b);
    if (b->n_group > 0) abandon_window(b);
}

static const char *final_status(const llp_batch *b)
{
    if (b->fatal) return LLP_JOB_FAILED;
    if (b->interrupted || b->pipe_closed) return LLP_JOB_INTERRUPTED;
    if (b->counts.n_failed) return LLP_JOB_PARTIAL;
    return LLP_JOB_DONE;
}

static void batch_free(llp_batch *b)
{
    for (int i = 0; i < b->n_group; i++) entry_free(&b->group[i]);
    pending_clear(b);
    llp_record_free(b->first);
    free(b->pending);
    free(b->group);
    llp_reader_close(b->reader);
    llp_store_close(b->store);
    free(b->db_path);
    json_decref(b->params);
}

int llp_batch_run(const llp_cli *cli, const llp_batch_tool *tool, int argc,
                  char **argv)
{
    llp_batch b;
    memset(&b, 0, sizeof b);
    b.cli = cli;
    b.tool = tool;
    b.name = cli->tool ? cli->tool : "llamapipe";
    b.model_fp = tool->model_fp ? tool->model_fp : "";
    b.max_batch = tool->max_batch < 1 ? 1
                  : tool->max_batch > LLP_BATCH_MAX_GROUP ? LLP_BATCH_MAX_GROUP
                  : tool->max_batch;
    b.max_group = LLP_BATCH_MAX_GROUP;
    b.group = llp_calloc((size_t)b.max_group, sizeof *b.group);
    b.params = effective_params(cli, tool->params, tool->model_fp);
    llp_hash_json(b.params, b.params_hash);
    b.started = b.last_commit = llp_now();

    /* Signals are caught from before the job row exists, so it is never
     * left "running" by one that comes while the store opens. */
    saved_signals saved;
    install_signals(&saved, b.name, cli->quiet);
    if (open_inputs(&b) || open_store(&b, argc, argv)) {
        restore_signals(&saved);
        int code = LLP_EXIT_FATAL;
        /* a signal while the first record was awaited is a stop, not a
         * read error: nothing was started */
        if (stop_signal) code = 128 + stop_signal;
        else if (b.usage) code = llp_cli_usage_error(cli, "%s", b.err.msg);
        else llp_error(b.name, "%s", b.err.msg);
        if (b.writer) llp_writer_close(b.writer, NULL);
        batch_free(&b);
        return code;
    }
    watcher guard = { .name = b.name, .db_path = b.db_path,
                      .jobs = { b.job_id, tool->parent_job } };
    watcher_start(&guard);
    if (cli->progress && !cli->quiet)
        b.progress = llp_progress_new(tool->progress, b.name,
                                      count_records(&b));
    progress_update(&b, false);         /* "0/N" before the first record */

    if (tool->start) {
        stream_loop(&b);
    } else {
        read_loop(&b);
        if (b.n_group > 0 && !b.fatal) flush_group(&b);
    }
    if (b.read_failed && !b.fatal) {
        b.fatal = true;
        b.err = b.read_err;
    }

    llp_err close_err;
    int w = llp_writer_close(b.writer, &close_err);
    /* Once the pipe is known closed, the stream stays in error: closing it
     * can only fail again, and that is not news. */
    if (w == LLP_WRITE_CLOSED) {
        b.pipe_closed = true;
    } else if (w != LLP_WRITE_OK && !b.fatal && !b.pipe_closed) {
        b.fatal = true;
        b.err = close_err;
    }
    if (b.progress) {
        progress_update(&b, true);
        llp_progress_finish(b.progress);
    }

    /* Whatever happened, what is finished gets committed. A fatal error's
     * message wins over a failure to commit after it. */
    llp_err fatal_err = b.err;
    bool was_fatal = b.fatal;
    const char *status = final_status(&b);
    if (commit(&b, status)) {
        if (!was_fatal) fatal_err = b.err;
        else if (strcmp(fatal_err.msg, b.err.msg) != 0)
            llp_error(b.name, "%s", b.err.msg);
        was_fatal = true;
        record_final_status(&b, LLP_JOB_FAILED);
    }
    watcher_stop(&guard);
    if (cli->verbose && !cli->quiet) report_time(&b);
    int sig = stop_signal;
    restore_signals(&saved);

    int code;
    if (was_fatal) {
        llp_error(b.name, "%s", fatal_err.msg);
        code = LLP_EXIT_FATAL;
    } else if (b.interrupted && sig) {
        code = 128 + sig;
    } else if (b.pipe_closed || b.interrupted) {
        code = LLP_EXIT_OK;
    } else {
        code = b.counts.n_failed ? LLP_EXIT_PARTIAL : LLP_EXIT_OK;
    }
    batch_free(&b);
    return code;
}
