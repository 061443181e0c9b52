/*
 * cli.h — the command-line layer every llp-* binary shares: the common
 * options (model, threads, store, input/output formats, sampling, sharding),
 * strict number parsing, --help/--version, exit codes and the
 * "llp-NAME: error: ..." printers.
 *
 * Not for: what a tool does with its options, or reading records (records.h;
 * llp_cli_reader_opts() bridges the two). Built on getopt_long from libc:
 * it already gives GNU-style long options, `--opt=value`, abbreviations and
 * argument permutation, which is all the binaries need, so no argument
 * library is worth another dependency.
 *
 * A tool's main:
 *
 *   static const struct option extra[] = {
 *       {"labels", required_argument, NULL, OPT_LABELS},   // ids >= LLP_OPT_TOOL
 *       {0}};
 *   static int on_opt(void *ctx, int id, const char *arg, llp_err *err) {
 *       struct classify_opts *o = ctx;
 *       switch (id) {
 *       case OPT_LABELS: o->labels = arg; return 0;
 *       case 'k': return llp_opt_long("-k", arg, 1, 1000, &o->k, err);
 *       }
 *       return llp_err_set(err, "unhandled option");
 *   }
 *   llp_cli cli;
 *   llp_cli_init(&cli, "llp-classify");
 *   cli.sampling.temp = 0;                          // tool defaults go here
 *   llp_cli_tool t = {.usage = USAGE, .options = extra, .short_options = "k:",
 *                     .on_option = on_opt, .ctx = &o};
 *   int rc = llp_cli_parse(&cli, &t, argc, argv, NULL);
 *   if (rc != LLP_CLI_RUN) return rc;               // --help, --version, usage error
 *   ...
 *   llp_cli_free(&cli);
 */
#ifndef LLP_CLI_H
#define LLP_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>

#include "kv_cache.h"
#include "records.h"
#include "sampler.h"
#include "util.h"

#define LLP_VERSION "0.1.0"

/* Most sequences --parallel accepts. */
#define LLP_PARALLEL_MAX 64

/* Exit codes a script can trust (SPEC section 4). */
enum {
    LLP_EXIT_OK      = 0,   /* every record done */
    LLP_EXIT_FATAL   = 1,   /* fatal error, message on stderr */
    LLP_EXIT_USAGE   = 2,   /* bad command line */
    LLP_EXIT_PARTIAL = 3,   /* finished, but some records carry an error */
};

/* llp_cli_parse() result meaning "options are fine, run the tool"; every
 * other result is the exit status main should return. */
#define LLP_CLI_RUN (-1)

/* Tools number their own long-only options from here up (common options use
 * the range below it; short options use their character). */
#define LLP_OPT_TOOL 2000

/* Sampling flags. generate samples; summarize and classify accept the flags
 * but default to greedy (temp 0), which they set before parsing. */
typedef struct llp_sampling_opts {
    double   temp;            /* --temp, >= 0; 0 = greedy. default 0.8 */
    int      top_k;           /* --top-k, >= 0; 0 = off. default 40 */
    double   top_p;           /* --top-p, 0..1; 1 = off. default 0.95 */
    double   min_p;           /* --min-p, 0..1; 0 = off. default 0.05 */
    double   repeat_penalty;  /* --repeat-penalty, > 0; 1 = off. default 1.1 */
    uint64_t seed;            /* --seed, any u64. Without --seed, a run that
                                 samples (temp > 0) draws one at random */
    bool     seed_drawn;      /* the seed was drawn, not given. The sampling
                                 tools keep the seed in their params, so an
                                 unseeded run never matches another's items
                                 in the cache; --seed N repeats (and reuses) it */
    int      n_predict;       /* -n/--n-predict; -1 = until EOS or context full */
    char   **stop;            /* --stop STR, repeatable; owned copies */
    int      n_stop;
} llp_sampling_opts;

/* Every option all tools accept. Strings point into argv or the environment
 * unless said otherwise; they live as long as those do. */
typedef struct llp_cli {
    const char *tool;         /* "llp-classify", for messages */
    const char *model;        /* -m/--model, default $LLP_MODEL; NULL if neither */
    int         threads;      /* -t/--threads, 1..1024, default physical cores */
    int         ctx_size;     /* -c/--ctx-size; 0 = the model's own, else 16..1048576 */
    llp_kv_type kv_type;      /* --kv-type f16|f32, default f16 */
    bool        kv_type_given;
    int         parallel;     /* --parallel N, 1..LLP_PARALLEL_MAX; 0 = the
                                 default the model and memory allow
                                 (llp_engine_auto_parallel) */
    const char *db_path;      /* --db PATH; NULL = the store's default ($LLP_DB...) */
    bool        no_db;        /* --no-db: run without recording */
    bool        no_cache;     /* --no-cache: recompute cached items */
    llp_format  in;           /* --in, default LLP_FMT_AUTO */
    llp_format  out;          /* --out, default LLP_FMT_AUTO */
    const char *field;        /* --field NAME: read another field than text */
    const char *into;         /* --into NAME: rename what the tool adds */
    const char *column;       /* --column NAME: CSV text column */
    const char *id_column;    /* --id-column NAME */
    bool        no_header;    /* --no-header */
    const char *files_from;   /* --files-from FILE|- */
    bool        quiet;        /* -q/--quiet: no progress, no notes */
    bool        verbose;      /* -v/--verbose: say the seed drawn */
    bool        progress;     /* progress bar on stderr: --progress, or stderr
                                 is a terminal and not -q */
    int         shard_k;      /* --shard K/N: 0 <= K < N; default 0/1 */
    int         shard_n;
    char      **lora;         /* --lora FILE[:SCALE], repeatable: owned paths */
    float      *lora_scale;   /* (n_lora) the SCALE of each (default 1) */
    int         n_lora;
    bool        lora_merge;   /* --lora-merge: merge the adapters at load */
    llp_sampling_opts sampling;
    char      **args;         /* positional arguments (into argv) */
    int         n_args;
} llp_cli;

/* Groups of common options. A tool names the groups it uses; the options of
 * the others are left out of its --help and refused as unknown, so no flag
 * is accepted and then ignored. */
enum {
    LLP_CLI_BASIC     = 1u << 0,  /* -q, -h, --version: every tool has them */
    LLP_CLI_MODEL     = 1u << 1,  /* -m */
    LLP_CLI_THREADS   = 1u << 2,  /* -t */
    LLP_CLI_CONTEXT   = 1u << 3,  /* -c */
    LLP_CLI_STORE     = 1u << 4,  /* --db, --no-db, --no-cache */
    LLP_CLI_RECORDS   = 1u << 5,  /* --in, --out, --field, --into, --column,
                                     --id-column, --no-header, --files-from,
                                     --shard, --progress */
    LLP_CLI_SAMPLING  = 1u << 6,  /* --temp, --top-k, --top-p, --min-p,
                                     --repeat-penalty, --seed, --stop, -v */
    LLP_CLI_N_PREDICT = 1u << 7,  /* -n */
    LLP_CLI_PARALLEL  = 1u << 8,  /* --parallel */
    LLP_CLI_LORA      = 1u << 9,  /* --lora, --lora-merge: tools that run the model */
    LLP_CLI_ALL       = 0x3ffu,
};

/* The groups of each record tool, shared by its binary and llp-run's steps
 * (pipeline_schema.c) so the two accept the same options. */
#define LLP_CLI_RECORD_TOOL (LLP_CLI_MODEL | LLP_CLI_STORE | LLP_CLI_RECORDS)
#define LLP_CLI_TOKENIZE    LLP_CLI_RECORD_TOOL
#define LLP_CLI_EMBED       (LLP_CLI_RECORD_TOOL | LLP_CLI_THREADS | LLP_CLI_CONTEXT | LLP_CLI_LORA)
#define LLP_CLI_CLASSIFY    LLP_CLI_EMBED
#define LLP_CLI_SUMMARIZE   (LLP_CLI_EMBED | LLP_CLI_SAMPLING | LLP_CLI_PARALLEL)
#define LLP_CLI_GENERATE    (LLP_CLI_SUMMARIZE | LLP_CLI_N_PREDICT)

/* What a tool adds to the common options. Every member may be NULL/0. */
typedef struct llp_cli_tool {
    unsigned groups;                 /* LLP_CLI_* groups it takes; 0: all */
    const char *usage;               /* --help text: synopsis, the tool's own
                                        options, examples; the common options
                                        are printed after it */
    const struct option *options;    /* extra long options, {0}-terminated */
    const char *short_options;       /* extra short options, getopt syntax ("k:p:") */
    /* Called for each extra option with its id (val of struct option, or the
     * short option character) and its argument (NULL for no_argument).
     * Returns 0, or -1 with err set: it is reported as a usage error. */
    int (*on_option)(void *ctx, int id, const char *arg, llp_err *err);
    void *ctx;
} llp_cli_tool;

/* Defaults: $LLP_MODEL, physical cores, sampling defaults above, shard 0/1. */
void llp_cli_init(llp_cli *c, const char *tool);

/* Parse argv (argv[0] is skipped). Returns LLP_CLI_RUN when the tool should
 * run; LLP_EXIT_OK after printing --help or --version to stdout; or
 * LLP_EXIT_USAGE for a bad command line. A usage error message looks like
 *   llp-classify: error: --top-k: expected an integer, got 'abc'
 *   Try 'llp-classify --help'.
 * and is printed to stderr when err is NULL, else only stored in err (for
 * callers such as the pipeline runner that report it their own way).
 * getopt's own messages are silenced and replaced by messages in this form.
 * The tool may be NULL (common options only). Safe to call once per llp_cli.
 * A tool with LLP_CLI_SAMPLING run with --temp above 0 and no --seed gets a
 * random seed (sampling.seed_drawn); -v prints it as a note. */
int llp_cli_parse(llp_cli *c, const llp_cli_tool *tool, int argc, char **argv,
                  llp_err *err);

/* The sampler settings the sampling flags give (sampler.h). */
llp_sampling llp_cli_sampling(const llp_cli *c);

/* Frees what parsing allocated (the --stop and --lora copies). */
void llp_cli_free(llp_cli *c);

/* The common options section of --help (static text). */
const char *llp_cli_common_help(void);

/* Reader options from the common options: positional args as paths,
 * --files-from, --in, --field, --column, --id-column, --no-header, -q. The
 * tool sets o->documents itself (llp-summarize). Pointers refer into c. */
void llp_cli_reader_opts(const llp_cli *c, llp_reader_opts *o);

/* Report a usage error found after parsing (a missing --labels, two flags
 * that exclude each other): prints the two-line usage message and returns
 * LLP_EXIT_USAGE, so `return llp_cli_usage_error(&cli, "...")` works. */
int llp_cli_usage_error(const llp_cli *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- strict numbers ----------------------------------------------------
 * The whole string must be the number (no trailing junk, no empty string, no
 * leading space), in range. On failure err holds
 *   "FLAG: expected an integer, got 'abc'"  or
 *   "FLAG: must be between MIN and MAX, got 'VALUE'"
 * and the result is -1; on success 0 and *out is set. Integers are decimal;
 * doubles accept what strtod accepts except inf and nan. */
int llp_opt_long(const char *flag, const char *arg, long min, long max,
                 long *out, llp_err *err);
int llp_opt_int(const char *flag, const char *arg, int min, int max,
                int *out, llp_err *err);
int llp_opt_u64(const char *flag, const char *arg, uint64_t *out, llp_err *err);
int llp_opt_double(const char *flag, const char *arg, double min, double max,
                   double *out, llp_err *err);

/* --shard K/N with 0 <= K < N, N >= 1. Returns 0 or -1 with err. */
int llp_opt_shard(const char *arg, int *k, int *n, llp_err *err);

/* ---- messages -----------------------------------------------------------
 * stderr only; stdout is data. `tool` is the full name ("llp-embed"). */
void llp_die(const char *tool, const char *fmt, ...)    /* "tool: error: ...", exit 1 */
    __attribute__((format(printf, 2, 3), noreturn));
void llp_error(const char *tool, const char *fmt, ...)  /* "tool: error: ...", no exit */
    __attribute__((format(printf, 2, 3)));
void llp_warn(const char *tool, const char *fmt, ...)   /* "tool: warning: ..." */
    __attribute__((format(printf, 2, 3)));
void llp_note(const char *tool, const char *fmt, ...)   /* "tool: note: ..." */
    __attribute__((format(printf, 2, 3)));

/* Physical cores: llp_physical_cores() in threads.h, the home of the pool. */

#endif
