/*
 * pipeline.h — YAML pipelines (SPEC section 6): load a pipeline file into a
 * validated plan, print the plan and its equivalent shell pipeline of llp-*
 * commands, and run it in one process through the same library calls as the
 * binaries, recording one pipeline job with one child job per step.
 *
 * Not for: what a step computes (the task libraries: classify.h, embed.h,
 * generate.h, summarize.h, tokenizer.h), the record loop (batch.h), or
 * llp-run's own flags (cmd/llp-run.c).
 *
 * Files: pipeline_yaml.c (YAML -> a tree with positions, ${VAR} expansion),
 * pipeline_load.c (tree -> plan, every problem with its position),
 * pipeline_schema.c (the per-tool option schema, checked through the
 * binaries' parsers), pipeline_tasks.c (the step adapters that set up each
 * tool's record loop), pipeline_run.c (execution, dry run).
 *
 * A pipeline file, with everything documented in docs/pipelines.md:
 *
 *   version: 1
 *   name: reviews
 *   model: ${LLP_MODEL}
 *   input:
 *     csv: examples/reviews.csv
 *     column: review
 *   steps:
 *     - classify:
 *         labels: [positive, negative, neutral]
 *   output:
 *     jsonl: out/reviews.jsonl
 *
 * Problems are reported all at once, in file order, as
 *   FILE:LINE:COLUMN: message
 * with 1-based lines and columns (llp-run exits 2 when there are any).
 */
#ifndef LLP_PIPELINE_H
#define LLP_PIPELINE_H

#include <stdbool.h>
#include <stdio.h>

#include "records.h"

/* ---- problems ------------------------------------------------------------ */

typedef struct llp_pipeline_problem {
    int line, column;       /* 1-based; 0 when the problem has no position */
    char *message;          /* malloc'd */
} llp_pipeline_problem;

typedef struct llp_pipeline_problems {
    llp_pipeline_problem *items;
    int n, cap;
} llp_pipeline_problems;

/* Add a problem (printf-style message). */
void llp_pipeline_problem_add(llp_pipeline_problems *p, int line, int column,
                              const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Sort by position (stable) and print each as "FILE:LINE:COLUMN: message". */
void llp_pipeline_problems_print(llp_pipeline_problems *p, const char *file, FILE *out);
void llp_pipeline_problems_free(llp_pipeline_problems *p);

/* ---- the plan ------------------------------------------------------------ */

typedef enum llp_step_tool {
    LLP_STEP_TOKENIZE = 0,
    LLP_STEP_GENERATE,
    LLP_STEP_EMBED,
    LLP_STEP_CLASSIFY,
    LLP_STEP_SUMMARIZE,
    LLP_STEP_N_TOOLS
} llp_step_tool;

/* "tokenize", ... (static), and the binary "llp-tokenize". */
const char *llp_step_tool_name(llp_step_tool t);
const char *llp_step_tool_binary(llp_step_tool t);

/* A file the plan names, checked before running (not by --dry-run). */
typedef struct llp_pipeline_file {
    char *path;
    const char *what;       /* "input", "model", "prompt_file", "examples" */
    bool directory_ok;      /* inputs may be directories */
    int line, column;
} llp_pipeline_file;

typedef struct llp_pipeline_step {
    llp_step_tool tool;
    int line, column;       /* the tool's key in the file */
    char *model;            /* the step's model: its own `model:`, else the
                               pipeline's, else NULL ($LLP_MODEL at run time) */
    char **words;           /* the step's own options as command-line words,
                               in file order ("--labels", "a,b", "--chat") */
    int n_words;
    bool sets_field;        /* the step has its own `field:` */
} llp_pipeline_step;

typedef enum llp_input_kind {
    LLP_INPUT_CSV = 0,
    LLP_INPUT_TSV,
    LLP_INPUT_JSONL,
    LLP_INPUT_LINES,
    LLP_INPUT_FILES,
    LLP_INPUT_STDIN,
    LLP_INPUT_N_KINDS
} llp_input_kind;

typedef struct llp_pipeline_input {
    llp_input_kind kind;
    char **paths;           /* files or directories; none for stdin */
    int n_paths;
    char *text_name;        /* column (CSV/TSV) or field (JSONL): the text
                               every step reads unless it sets `field:` */
    char *id_column;
    bool no_header;
    bool documents;         /* each file is one record (--in doc) */
    llp_format stdin_format; /* `stdin: csv` (tsv, jsonl, lines): --in of the
                               first step; LLP_FMT_AUTO for `stdin: true`,
                               detected as the binaries do */
} llp_pipeline_input;

typedef struct llp_pipeline_output {
    char *path;             /* NULL: stdout */
    llp_format format;      /* LLP_FMT_AUTO: as the last tool decides */
} llp_pipeline_output;

typedef struct llp_pipeline {
    char *file;             /* as given to llp_pipeline_load */
    char *name;             /* `name:`, else the file's base name */
    char *model;            /* top-level `model:`, NULL if none */
    llp_pipeline_input input;
    llp_pipeline_step *steps;
    int n_steps;
    llp_pipeline_output output;
    int threads;            /* 0: not set */
    int ctx_size;           /* 0: not set */
    char *db;               /* NULL: not set */
    llp_pipeline_file *files;
    int n_files;
} llp_pipeline;

/* Read and validate the file at path. ${VAR} and ${VAR:-default} in
 * scalars are expanded from the environment. Returns the plan, or NULL
 * when the file cannot be read (one problem, no position) or has any
 * problem (all of them are in *problems). */
llp_pipeline *llp_pipeline_load(const char *path, llp_pipeline_problems *problems);
void llp_pipeline_free(llp_pipeline *p);

/* ---- running --------------------------------------------------------------- */

typedef struct llp_pipeline_run_opts {
    const char *db_path;    /* --db: overrides `db:` */
    bool no_db;
    bool no_cache;
    bool resume;            /* continue the last unfinished run of this plan */
    int threads;            /* -t: overrides `threads:`; 0 = not given */
    int shard_k, shard_n;   /* --shard K/N for the reading step; n = 1: all */
    bool quiet, progress;
    int argc;               /* llp-run's command line, for the job row */
    char **argv;
    FILE *out;              /* records for an output to stdout; NULL = stdout */
} llp_pipeline_run_opts;

/* The command line of step i (0-based) as the llp-* binary would take it:
 * argv words (malloc'd array of malloc'd strings; free with
 * llp_pipeline_words_free). Includes the model, common settings, the step's
 * options, the text field, and for the first step the input flags and
 * paths; for every step but the last `--out jsonl`; for the last the output
 * format. Never the output redirection. */
char **llp_pipeline_step_argv(const llp_pipeline *p, const llp_pipeline_run_opts *o,
                              int i, int *argc);
void llp_pipeline_words_free(char **words, int n);

/* The equivalent shell pipeline on one line, words quoted for sh:
 *   llp-classify -m M --labels a,b --column review in.csv --out jsonl | \
 *   llp-summarize -m M --field review --into gist > out.jsonl
 * malloc'd. */
char *llp_pipeline_shell(const llp_pipeline *p, const llp_pipeline_run_opts *o);

/* --dry-run: the plan in words, then the shell pipeline. */
void llp_pipeline_print_plan(const llp_pipeline *p, const llp_pipeline_run_opts *o, FILE *out);

/* Check the files the plan names (inputs, models, prompt files), printing
 * each missing one as "FILE:LINE:COLUMN: message" to err_out. Returns the
 * number of problems. */
int llp_pipeline_check_files(const llp_pipeline *p, FILE *err_out);

/* Run the plan. Messages go to stderr as "llp-run: ...". Returns the exit
 * code: 0 every record done, 1 fatal, 3 some records failed, 128+signal
 * when interrupted. */
int llp_pipeline_run(const llp_pipeline *p, const llp_pipeline_run_opts *o);

#endif
