/*
 * llp-run — run a YAML pipeline (SPEC section 6).
 *
 * Wiring only: llp-run's own flags, then lib/pipeline.h: load and validate
 * the file (every problem printed as FILE:LINE:COLUMN: message, exit 2),
 * print the plan (--dry-run), check the files it names, run it. Not for:
 * YAML, option schemas, or running steps (all in lib/pipeline_*.c).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "pipeline.h"

static const char usage[] =
    "Usage: llp-run [OPTIONS] PIPELINE.yaml\n"
    "\n"
    "Run a pipeline file: records from its input flow through its steps\n"
    "(tokenize, generate, embed, classify, summarize) in order, in one process,\n"
    "each model loaded once; the run is one job in the store and each step a\n"
    "child job. The whole file is checked first; every problem is printed as\n"
    "FILE:LINE:COLUMN: message (exit status 2). See docs/pipelines.md.\n"
    "\n"
    "Options:\n"
    "      --dry-run          print the plan and the equivalent shell pipeline of\n"
    "                         llp-* commands; run nothing\n"
    "      --resume           continue the last interrupted run of this pipeline\n"
    "                         (finished records come from the store)\n"
    "      --db PATH          store (default: db: in the file, $LLP_DB, else\n"
    "                         $XDG_DATA_HOME/llamapipe/llamapipe.db)\n"
    "      --no-db            run without recording (and without the cache)\n"
    "      --no-cache         recompute records the store already has\n"
    "  -t, --threads N        worker threads (default: threads: in the file, else\n"
    "                         physical cores)\n"
    "      --shard K/N        only records whose id hashes to K modulo N\n"
    "  -q, --quiet            no progress, no notes\n"
    "      --progress         progress on stderr even when it is not a terminal\n"
    "  -h, --help             this help\n"
    "      --version          print the version\n"
    "\n"
    "Environment: ${VAR} and ${VAR:-default} in the file are expanded;\n"
    "LLP_MODEL is the model of steps without one.\n"
    "\n"
    "Exit status: 0 all records done, 1 fatal error, 2 usage error or an invalid\n"
    "pipeline file, 3 finished but some records failed.\n"
    "\n"
    "Examples:\n"
    "  LLP_MODEL=llama-2-7b-chat.Q4_K_M.gguf llp-run pipelines/sentiment.yaml\n"
    "  llp-run --dry-run pipelines/summarize.yaml\n"
    "  llp-run --resume --db runs.db pipelines/sentiment.yaml\n";

enum { OPT_DRY_RUN = 1000, OPT_RESUME, OPT_DB, OPT_NO_DB, OPT_NO_CACHE, OPT_SHARD, OPT_PROGRESS,
       OPT_VERSION };

static const struct option options[] = {
    { "dry-run", no_argument, NULL, OPT_DRY_RUN },
    { "resume", no_argument, NULL, OPT_RESUME },
    { "db", required_argument, NULL, OPT_DB },
    { "no-db", no_argument, NULL, OPT_NO_DB },
    { "no-cache", no_argument, NULL, OPT_NO_CACHE },
    { "threads", required_argument, NULL, 't' },
    { "shard", required_argument, NULL, OPT_SHARD },
    { "quiet", no_argument, NULL, 'q' },
    { "progress", no_argument, NULL, OPT_PROGRESS },
    { "help", no_argument, NULL, 'h' },
    { "version", no_argument, NULL, OPT_VERSION },
    { 0 },
};

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "llp-run: error: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry 'llp-run --help'.\n");
    return LLP_EXIT_USAGE;
}

int main(int argc, char **argv)
{
    llp_pipeline_run_opts o = { .shard_n = 1, .argc = argc, .argv = argv };
    bool dry_run = false;
    llp_err err;
    opterr = 0;
    int id;
    while ((id = getopt_long(argc, argv, ":t:qh", options, NULL)) != -1) {
        switch (id) {
        case OPT_DRY_RUN: dry_run = true; break;
        case OPT_RESUME: o.resume = true; break;
        case OPT_DB: o.db_path = optarg; break;
        case OPT_NO_DB: o.no_db = true; break;
        case OPT_NO_CACHE: o.no_cache = true; break;
        case OPT_PROGRESS: o.progress = true; break;
        case 'q': o.quiet = true; break;
        case 't':
            if (llp_opt_int("--threads", optarg, 1, 1024, &o.threads, &err))
                return usage_error("%s", err.msg);
            break;
        case OPT_SHARD:
            if (llp_opt_shard(optarg, &o.shard_k, &o.shard_n, &err))
                return usage_error("%s", err.msg);
            break;
        case 'h':
            fputs(usage, stdout);
            return LLP_EXIT_OK;
        case OPT_VERSION:
            printf("llp-run (llamapipe) %s\n", LLP_VERSION);
            return LLP_EXIT_OK;
        case ':': return usage_error("%s: missing value", argv[optind - 1]);
        default: return usage_error("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc - 1)
        return usage_error("%s", optind == argc ? "expected one pipeline file"
                                                : "expected one pipeline file, got more");
    if (o.resume && o.no_db) return usage_error("%s", "--resume needs the store; drop --no-db");
    if (o.resume && o.no_cache)
        return usage_error("%s", "--resume reuses finished records; drop --no-cache");
    if (o.db_path && o.no_db) return usage_error("%s", "--db and --no-db exclude each other");

    const char *file = argv[optind];
    llp_pipeline_problems problems = { 0 };
    llp_pipeline *p = llp_pipeline_load(file, &problems);
    if (!p) {
        llp_pipeline_problems_print(&problems, file, stderr);
        llp_pipeline_problems_free(&problems);
        return LLP_EXIT_USAGE;
    }
    int rc;
    if (dry_run) {
        llp_pipeline_print_plan(p, &o, stdout);
        rc = fflush(stdout) == 0 ? LLP_EXIT_OK : LLP_EXIT_FATAL;
    } else if (llp_pipeline_check_files(p, stderr) > 0) {
        rc = LLP_EXIT_FATAL;
    } else {
        rc = llp_pipeline_run(p, &o);
    }
    llp_pipeline_free(p);
    return rc;
}
