/*
 * pipeline_internal.h — what the pipeline's files share and nothing else
 * uses: the YAML tree (pipeline_yaml.c), the per-tool option schema
 * (pipeline_schema.c), the step options a step's command line parses into,
 * and the step adapters that turn a parsed step into an llp_batch_tool
 * (pipeline_tasks.c).
 *
 * Not for: callers outside lib/pipeline_*.c (they use pipeline.h).
 */
#ifndef LLP_PIPELINE_INTERNAL_H
#define LLP_PIPELINE_INTERNAL_H

#include <stdbool.h>

#include "batch.h"
#include "cli.h"
#include "embed.h"
#include "engine.h"
#include "pipeline.h"

/* ---- the YAML tree (pipeline_yaml.c) ----------------------------------------- */

typedef enum { Y_SCALAR, Y_SEQ, Y_MAP } ykind;

typedef struct ynode {
    ykind kind;
    int line, col;            /* 1-based start of the node */
    char *str;                /* scalar: the value, ${...} expanded */
    bool null;                /* scalar: empty plain, ~ or null */
    bool bad;                 /* already reported (failed expansion, alias,
                                 duplicate key): check nothing more about it */
    struct ynode **kids;      /* seq: items; map: key, value, key, value... */
    int n;                    /* kids */
} ynode;

/* Parse text into its root node, reporting problems with positions.
 * Returns NULL on a syntax error (reported) or for an empty document
 * (*empty set, nothing reported). */
ynode *pl_yaml_parse(const char *text, size_t len, llp_pipeline_problems *problems, bool *empty);
void pl_node_free(ynode *n);

/* "a list", "a mapping", "a string", "nothing": for "expected X, got Y". */
const char *pl_node_kind(const ynode *n);

/* ---- the option schema ------------------------------------------------------ */

typedef enum pl_type {
    PL_STRING = 0,
    PL_INT,
    PL_FLOAT,
    PL_BOOL,
    PL_LIST,        /* list of strings (a single string is a list of one) */
} pl_type;

/* One option a step may take: its YAML key is the binary's long flag with
 * '_' for '-'. */
typedef struct pl_option {
    const char *name;        /* YAML key: "max_tokens" */
    const char *flag;        /* the binary's long flag without dashes */
    pl_type type;
    unsigned tools;          /* bit (1u << llp_step_tool) per tool taking it */
    const char *flag_false;  /* bool false: this flag ("no-chat"); NULL: no flag */
    bool join;               /* list: one comma-joined value (labels), else the
                                flag repeated per item (stop) */
} pl_option;

/* The common option groups (LLP_CLI_*) tool t's binary takes. */
unsigned pl_tool_groups(llp_step_tool t);

/* The option named `name` for tool t, or NULL. */
const pl_option *pl_option_find(llp_step_tool t, const char *name);

/* Names of the options tool t takes, for "did you mean" (at most cap). */
int pl_option_names(llp_step_tool t, const char **names, int cap);

/* Where a key that is not a step option belongs ("input:", ...), or NULL. */
const char *pl_option_misplaced(const char *name);

/* Check one option's command-line words through the same parsers the
 * binary uses (ranges, accepted values). Returns 0, or -1 with err holding
 * "KEY: message". */
int pl_check_option(llp_step_tool t, const pl_option *o, char **words, int n_words,
                    llp_err *err);

/* Names the closest to `word` among names[0..n-1] by edit distance, when
 * close enough to be a likely misspelling; NULL otherwise. */
const char *pl_suggest(const char *word, const char *const *names, int n);

/* ---- parsed steps ---------------------------------------------------------- */

/* Every tool's own options; each step uses the part for its tool. */
typedef struct pl_step_opts {
    llp_step_tool tool;
    bool pieces, count, no_bos, special;    /* tokenize (no_bos: embed too) */
    int chat;                               /* -1 auto, 0 --no-chat, 1 --chat */
    const char *system;                     /* generate, summarize */
    const char *labels;                     /* classify: "a,b,c" */
    const char *prompt_file;                /* classify, summarize */
    const char *examples;                   /* classify */
    int batch_rows;                         /* classify; 0 = library default */
    llp_embed_params embed;                 /* embed */
    const char *collection;                 /* embed */
    int max_tokens;                         /* summarize; 0 = its default */
} pl_step_opts;

/* Parse a step's full command line (argv[0] = "llp-TOOL") into the common
 * options and the tool's own, with the tool's defaults set first (greedy
 * sampling for classify and summarize). Returns 0, or -1 with err. */
int pl_parse_step(llp_step_tool t, int argc, char **argv, llp_cli *cli,
                  pl_step_opts *opts, llp_err *err);

/* Rules across options, after parsing (classify needs labels). Returns 0,
 * or -1 with err. */
int pl_check_step(const pl_step_opts *opts, llp_err *err);

/* ---- step adapters ------------------------------------------------------------ */

typedef struct pl_task pl_task;

/* Set up tool opts->tool on an open engine, as its binary does: fill *bt
 * (task, params, model, process callback, output columns...). The task
 * owns what bt points to until pl_task_free. Returns NULL with err. */
pl_task *pl_task_new(const pl_step_opts *opts, const llp_cli *cli, llp_engine *e,
                     llp_batch_tool *bt, llp_err *err);
void pl_task_free(pl_task *t);

#endif
