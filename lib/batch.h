/*
 * batch.h — the record loop every tool runs: read records, skip other
 * shards, reuse cached outputs, call the tool for the rest, write records in
 * input order, record everything in the store one transaction per batch,
 * show progress, stop cleanly on signals and closed pipes, and return the
 * exit code.
 *
 * Not for: parsing flags (cli.h), record formats (records.h), SQL (store.h),
 * or what a tool computes (its process callback).
 *
 * A tool fills an llp_batch_tool and calls llp_batch_run:
 *
 *   static int tokenize(void *ctx, llp_batch *b, llp_record *const *recs,
 *                       int n, llp_batch_result *res, llp_err *err) {
 *       for (int i = 0; i < n; i++) {
 *           ...
 *           if (bad) { llp_batch_result_fail(&res[i], "text too long"); continue; }
 *           res[i].fields = json_pack("{s:o,s:i}", "tokens", ids, "n_tokens", k);
 *           res[i].tokens_in = k;
 *       }
 *       return 0;                       // -1 + err: fatal, the job stops
 *   }
 *   llp_batch_tool t = { .task = "tokenize", .params = params,
 *                        .model_fp = fp, .process = tokenize, .ctx = &tk,
 *                        .output_columns = cols, .n_output_columns = 2 };
 *   return llp_batch_run(&cli, &t, argc, argv);
 *
 * Cache key of a record: (task, model_fp, params_hash, input_hash) where
 * params_hash hashes the tool's params plus --into, and input_hash hashes the
 * record's text plus whatever input_extra adds. A record whose key matches a
 * finished item in the store is not passed to process: the stored fields are
 * added and the record counts as cached (not with --no-cache). Failed
 * records are recorded with their error but never reused, so the next run
 * retries them.
 *
 * Progress (--progress): the total counts what the reader will give
 * (documents for a tool with .documents), from a second pass over files.
 *
 * Durability: items are committed every LLP_BATCH_COMMIT_RECORDS records or
 * LLP_BATCH_COMMIT_SECONDS seconds, whichever comes first, and counters are
 * updated with each commit. A killed run loses at most the uncommitted
 * records, which the next run recomputes; its output is then identical to
 * an uninterrupted run's (for deterministic tools).
 *
 * Signals: the first SIGINT or SIGTERM prints a notice on stderr (not with
 * -q: "llp-NAME: interrupted: finishing the current step and saving
 * finished work; press Ctrl-C again to stop at once"), lets the records in
 * progress finish (or stop: a process callback polling
 * llp_batch_stop_requested, e.g. a generation at every token, returns
 * LLP_BATCH_STOPPED), commits, marks the job "interrupted" and returns 130
 * (SIGINT) or 143 (SIGTERM). A second one kills the process at once, after
 * a watcher thread has marked the job (and tool->parent_job) "interrupted"
 * through its own store connection (waiting at most 2 s for the lock). A
 * final commit that fails still marks the job "failed" (with the counters
 * of the last commit), so only SIGKILL or a crash leaves it "running".
 * Downstream closing the pipe (EPIPE): commit what is done, mark the job
 * "interrupted", return 0 without a message.
 *
 * Exit codes: LLP_EXIT_OK (every record done), LLP_EXIT_FATAL (message
 * printed as "llp-NAME: error: ..."), LLP_EXIT_PARTIAL (some records carry an
 * error field), 128+signal as above. Job status: done, failed, partial,
 * interrupted.
 */
#ifndef LLP_BATCH_H
#define LLP_BATCH_H

#include <stdio.h>
#include <jansson.h>
#include "cli.h"
#include "hash.h"
#include "records.h"
#include "store.h"
#include "util.h"

#define LLP_BATCH_COMMIT_RECORDS 16
#define LLP_BATCH_COMMIT_SECONDS 2.0
#define LLP_BATCH_MAX_GROUP 256      /* upper bound on llp_batch_tool.max_batch */

/* Returned by process to say it stopped early because
 * llp_batch_stop_requested() turned true: the records of that call are
 * neither written nor recorded (the next run does them). */
#define LLP_BATCH_STOPPED (-2)

typedef struct llp_batch llp_batch;

/* What process reports for one record. All zero on entry. */
typedef struct llp_batch_result {
    json_t *fields;      /* object of added fields (named after --into
                            already: see llp_output_name); the batch takes
                            this reference. NULL = nothing added */
    char *error;         /* malloc'd message; set with llp_batch_result_fail */
    int64_t tokens_in, tokens_out;
} llp_batch_result;

/* Mark a result failed ("empty text", "prompt is 5000 tokens, context is
 * 4096"); the record's location is prefixed when it is written. Replaces an
 * earlier error and drops any fields. */
void llp_batch_result_fail(llp_batch_result *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Compute records[0..n-1] (n <= max_batch). Records that failed in the
 * reader never reach process. Return 0, -1 with err set for a fatal error
 * (no further records are processed; the job is marked failed), or
 * LLP_BATCH_STOPPED. */
typedef int (*llp_batch_process_fn)(void *ctx, llp_batch *b,
                                    llp_record *const *records, int n,
                                    llp_batch_result *results, llp_err *err);

/* Add what besides the text decides the output of this record (a per-record
 * system prompt, say) to its input hash. */
typedef void (*llp_batch_input_fn)(void *ctx, const llp_record *r,
                                   llp_hasher *h);

typedef struct llp_batch_tool {
    const char *task;              /* "tokenize": cache namespace and jobs.tool */
    const json_t *params;          /* what shapes the output; borrowed */
    const char *model_fp;          /* llp_model_fingerprint, NULL = no model */
    const char *model_path;        /* recorded in models when model_fp is set */
    int64_t model_size;
    const json_t *model_meta;      /* arch, shape, type... borrowed */
    int64_t parent_job;            /* pipeline job, 0 = none */

    llp_batch_process_fn process;  /* required unless start is set */
    void *ctx;
    int max_batch;                 /* records per process call; 0 = 1 */

    /* Continuous tools (generation over many sequences): instead of
     * process, the loop hands records over one at a time with start while
     * wants says the tool has room, and calls advance (one forward pass,
     * say) while any is in flight; the tool reports each finished record,
     * in any order, with llp_batch_finished. Output stays in input order:
     * a record is written once every record before it is (streaming as
     * soon as the next in order is done). advance returns 0, -1 with err
     * (fatal) or LLP_BATCH_STOPPED; after either, or a signal, cancel
     * drops what is still in flight (those records are not recorded; the
     * next run does them). start returns 0 or -1 with err (fatal). */
    int (*start)(void *ctx, llp_batch *b, llp_record *rec, long ticket, llp_err *err);
    int (*advance)(void *ctx, llp_batch *b, llp_err *err);
    void (*cancel)(void *ctx, llp_batch *b);
    bool (*wants)(void *ctx);      /* room for one more record now */
    bool documents;                /* undetected inputs are whole documents
                                      (llp_reader_opts.documents) */
    /* -v: the tool's account of its time, written into buf (where it went:
     * prompts, generation, levels); returns the seconds of that spent on
     * store work of its own (counted as the store's). NULL: none. */
    double (*timing)(void *ctx, char *buf, size_t size);
    llp_batch_input_fn input_extra;

    /* Writer setup: the added columns in order (CSV/TSV output), and the
     * text-mode printer (NULL = the writer's default). */
    const char *const *output_columns;
    size_t n_output_columns;
    llp_text_fn text_fn;
    void *text_ctx;

    /* Records made from in-memory texts instead of the reader (llp-generate
     * -p PROMPT): record i has id "i+1", text texts[i], location "argument
     * i+1". Used when n_texts > 0; the command-line inputs are then ignored. */
    const char *prefer_field;      /* reader: JSONL field preferred to "text" */
    const char *const *texts;
    int n_texts;
    /* Streams; NULL = stdout and stderr. Tests redirect them. */
    FILE *out;
    FILE *progress;
} llp_batch_tool;

/* Run the loop over the inputs named by cli (reader options, --db,
 * --no-db, --no-cache, --shard, -q/--progress, --out, --into). argc/argv
 * are recorded in the job row. Returns the exit code. */
int llp_batch_run(const llp_cli *cli, const llp_batch_tool *tool, int argc,
                  char **argv);

/* For continuous tools: record `ticket` (given to start) is done; the
 * batch takes over res's contents. May be called from start (a record
 * that fails at once) or advance. */
void llp_batch_finished(llp_batch *b, long ticket, llp_batch_result *res);

/* For process callbacks: the store (NULL with --no-db) and job id (0), e.g.
 * to write embeddings in the same transaction as the items. */
llp_store *llp_batch_store(llp_batch *b);
int64_t llp_batch_job_id(const llp_batch *b);

/* True once SIGINT or SIGTERM arrived during llp_batch_run; a long process
 * callback may poll it and return LLP_BATCH_STOPPED. */
bool llp_batch_stop_requested(void);

#endif
