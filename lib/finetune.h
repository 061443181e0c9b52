/*
 * finetune.h — a whole llp-finetune run: open the base, read and tokenize
 * the data (train_data.h), train a LoRA adapter (train.h) for some epochs
 * with checkpoints and --resume, record the job and its loss curve in the
 * store, draw the progress line, write the adapter (lora.h).
 *
 * Not for: parsing flags (cmd/llp-finetune.c) or the passes themselves.
 */
#ifndef LLP_FINETUNE_H
#define LLP_FINETUNE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "records.h"
#include "train.h"
#include "train_data.h"

typedef struct llp_finetune_opts {
    const char *tool;               /* "llp-finetune", for messages */
    const char *model_path;
    const char *out_path;           /* the adapter */
    const char *checkpoint_path;    /* NULL: OUT.ckpt */
    bool resume;                    /* continue from the checkpoint */
    llp_reader_opts train;          /* training files (format, field, column...) */
    const char *val_path;           /* validation file, or NULL */
    /* classification (labels non-NULL): llp-classify's prompt */
    char **labels;
    int n_labels;
    const char *prompt_template;    /* NULL: the default */
    const char *examples_path;
    const char *label_column;       /* NULL: "label" */
    int chat;                       /* -1 the model's, 0 none, 1 forced */
    /* the adapter */
    int rank;
    double alpha;
    const char *targets;            /* "q,k,v,o" */
    uint32_t adapter_type;          /* F32 or F16 */
    /* training */
    int epochs;
    int batch;                      /* sequences per optimizer step */
    double lr, weight_decay, clip;
    int warmup;                     /* steps; -1: 10% of all steps */
    int schedule;                   /* enum llp_schedule */
    uint64_t seed;
    int save_every;                 /* checkpoint every N steps; 0: at the end only */
    int eval_every;                 /* validation loss every N steps; 0: each epoch's end */
    int max_steps;                  /* stop after N steps (0: all epochs); for tests */
    int n_ctx;                      /* longest sequence; 0: the model's (at most 4096) */
    int n_threads;
    /* operations */
    const char *db_path;            /* NULL: the default store */
    bool no_db;
    bool quiet, progress;
    int argc;                       /* the command line, for the job row */
    char **argv;
} llp_finetune_opts;

/* Run it; returns the exit status (0, 1 fatal with the message printed,
 * 3 finished with some rows left out, 130 interrupted by SIGINT after a
 * checkpoint). */
int llp_finetune_run(const llp_finetune_opts *o);

/* The loss curve of a job's steps (llp_store_train_steps) for people: a
 * table of up to `rows` evenly spaced steps with a bar per loss. */
void llp_train_curve_print(const json_t *steps, FILE *out, int rows);

#endif
