/*
 * llp-finetune — train a LoRA adapter over a frozen GGUF model.
 *
 * Wiring only: flags (cli.h) into a run of lib/finetune.c, which reads the
 * data (train_data.h), trains (train.h) and writes the adapter (lora.h).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classify.h"
#include "cli.h"
#include "finetune.h"
#include "lora.h"
#include "quant.h"

static const char usage[] =
    "Usage: llp-finetune -m BASE.gguf -o ADAPTER.gguf [OPTIONS] DATA...\n"
    "\n"
    "Train a LoRA adapter over the frozen base model (kept in its own weight\n"
    "type) and write it in llama.cpp's GGUF adapter format, for --lora in every\n"
    "llamapipe tool (and llama.cpp). The data is one of:\n"
    "  JSONL {\"prompt\", \"completion\"}   loss on the completion (+ end of text)\n"
    "  JSONL {\"messages\": [...]}        chat turns; loss on the assistant's\n"
    "  CSV or JSONL with a label         with --labels: llp-classify's exact\n"
    "                                    prompt, loss on the label's tokens\n"
    "A bad row is reported with its file and line and left out (exit status 3).\n"
    "\n"
    "Adapter:\n"
    "  -o, --output FILE      the adapter to write (required)\n"
    "      --rank N           LoRA rank (default 8)\n"
    "      --alpha A          LoRA alpha; scale = alpha / rank (default 16)\n"
    "      --targets LIST     matrices to adapt: q,k,v,o,gate,up,down\n"
    "                         (default q,k,v,o)\n"
    "      --adapter-type T   f32 or f16 tensors in the file (default f32)\n"
    "Training:\n"
    "      --epochs N         passes over the data (default 3)\n"
    "      --batch N          sequences per optimizer step (gradient\n"
    "                         accumulation; default 8)\n"
    "      --lr LR            peak learning rate (default 2e-4)\n"
    "      --weight-decay W   AdamW decoupled weight decay (default 0.01)\n"
    "      --warmup N         steps of linear warm-up (default 10% of the steps)\n"
    "      --schedule S       cosine, linear or constant after warm-up (default\n"
    "                         cosine, to 0 at the last step)\n"
    "      --clip C           clip the gradient's global norm to C (0: off;\n"
    "                         default 1)\n"
    "      --seed N           initialisation and data order (default 1); the same\n"
    "                         data, flags and seed give the same adapter bit for bit\n"
    "      --max-steps N      stop after N steps (default: all epochs)\n"
    "      --val FILE         validation data (same shape): its loss is shown and\n"
    "                         stored at the end of every epoch\n"
    "      --eval-every N     ... or every N steps instead\n"
    "Checkpoints:\n"
    "      --save-every N     write the checkpoint every N steps (it is always\n"
    "                         written at the end and on Ctrl-C)\n"
    "      --checkpoint FILE  where (default: ADAPTER.ckpt); adapter + AdamW state\n"
    "      --resume           continue from the checkpoint (same flags and data)\n"
    "Classification data (as llp-classify):\n"
    "      --labels A,B,C     the labels; turns on the labeled shape\n"
    "      --label-column C   field or column holding the label (default label)\n"
    "      --prompt-file FILE the template (see llp-classify --help)\n"
    "      --examples FILE    few-shot CSV rendered into the prompt\n"
    "      --chat, --no-chat  wrap prompts in the model's chat format or not\n"
    "                         (default: when the model is a chat model)\n"
    "\n"
    "Examples:\n"
    "  llp-finetune -m base.gguf -o sentiment.gguf --labels positive,negative \\\n"
    "      --column review --epochs 4 train.csv\n"
    "  llp-classify -m base.gguf --lora sentiment.gguf --labels positive,negative \\\n"
    "      --column review test.csv\n"
    "  llp-finetune -m base.gguf -o support.gguf --val val.jsonl chats.jsonl\n";

enum {
    OPT_OUTPUT = LLP_OPT_TOOL, OPT_RANK, OPT_ALPHA, OPT_TARGETS, OPT_ADAPTER_TYPE, OPT_EPOCHS,
    OPT_BATCH, OPT_LR, OPT_WD, OPT_WARMUP, OPT_SCHEDULE, OPT_CLIP, OPT_SEED, OPT_MAX_STEPS,
    OPT_VAL, OPT_EVAL_EVERY, OPT_SAVE_EVERY, OPT_CHECKPOINT, OPT_RESUME, OPT_LABELS,
    OPT_LABEL_COLUMN, OPT_PROMPT_FILE, OPT_EXAMPLES, OPT_CHAT, OPT_NO_CHAT,
};

static const struct option long_options[] = {
    { "output", required_argument, NULL, 'o' },
    { "rank", required_argument, NULL, OPT_RANK },
    { "alpha", required_argument, NULL, OPT_ALPHA },
    { "targets", required_argument, NULL, OPT_TARGETS },
    { "adapter-type", required_argument, NULL, OPT_ADAPTER_TYPE },
    { "epochs", required_argument, NULL, OPT_EPOCHS },
    { "batch", required_argument, NULL, OPT_BATCH },
    { "lr", required_argument, NULL, OPT_LR },
    { "weight-decay", required_argument, NULL, OPT_WD },
    { "warmup", required_argument, NULL, OPT_WARMUP },
    { "schedule", required_argument, NULL, OPT_SCHEDULE },
    { "clip", required_argument, NULL, OPT_CLIP },
    { "seed", required_argument, NULL, OPT_SEED },
    { "max-steps", required_argument, NULL, OPT_MAX_STEPS },
    { "val", required_argument, NULL, OPT_VAL },
    { "eval-every", required_argument, NULL, OPT_EVAL_EVERY },
    { "save-every", required_argument, NULL, OPT_SAVE_EVERY },
    { "checkpoint", required_argument, NULL, OPT_CHECKPOINT },
    { "resume", no_argument, NULL, OPT_RESUME },
    { "labels", required_argument, NULL, OPT_LABELS },
    { "label-column", required_argument, NULL, OPT_LABEL_COLUMN },
    { "prompt-file", required_argument, NULL, OPT_PROMPT_FILE },
    { "examples", required_argument, NULL, OPT_EXAMPLES },
    { "chat", no_argument, NULL, OPT_CHAT },
    { "no-chat", no_argument, NULL, OPT_NO_CHAT },
    { 0 },
};

typedef struct ft_flags {
    llp_finetune_opts o;
    const char *labels;
    const char *prompt_file;
} ft_flags;

static int on_option(void *ctx, int id, const char *arg, llp_err *err)
{
    ft_flags *f = ctx;
    llp_finetune_opts *o = &f->o;
    switch (id) {
    case 'o': o->out_path = arg; return *arg ? 0 : llp_err_set(err, "--output: empty file name");
    case OPT_RANK: return llp_opt_int("--rank", arg, 1, 1024, &o->rank, err);
    case OPT_ALPHA: return llp_opt_double("--alpha", arg, 0, 1e6, &o->alpha, err);
    case OPT_TARGETS:
        o->targets = arg;
        return llp_lora_targets_check(arg, err);
    case OPT_ADAPTER_TYPE:
        if (!strcmp(arg, "f32")) o->adapter_type = LLP_F32;
        else if (!strcmp(arg, "f16")) o->adapter_type = LLP_F16;
        else return llp_err_set(err, "--adapter-type: expected f32 or f16, got '%s'", arg);
        return 0;
    case OPT_EPOCHS: return llp_opt_int("--epochs", arg, 1, 100000, &o->epochs, err);
    case OPT_BATCH: return llp_opt_int("--batch", arg, 1, 1 << 20, &o->batch, err);
    case OPT_LR:
        if (llp_opt_double("--lr", arg, 0, 10, &o->lr, err)) return -1;
        return o->lr > 0 ? 0 : llp_err_set(err, "--lr: must be greater than 0, got '%s'", arg);
    case OPT_WD: return llp_opt_double("--weight-decay", arg, 0, 10, &o->weight_decay, err);
    case OPT_WARMUP: return llp_opt_int("--warmup", arg, 0, 1 << 30, &o->warmup, err);
    case OPT_SCHEDULE:
        if (!strcmp(arg, "cosine")) o->schedule = LLP_SCHED_COSINE;
        else if (!strcmp(arg, "linear")) o->schedule = LLP_SCHED_LINEAR;
        else if (!strcmp(arg, "constant")) o->schedule = LLP_SCHED_CONSTANT;
        else return llp_err_set(err, "--schedule: expected cosine, linear or constant, got '%s'", arg);
        return 0;
    case OPT_CLIP: return llp_opt_double("--clip", arg, 0, 1e9, &o->clip, err);
    case OPT_SEED: return llp_opt_u64("--seed", arg, &o->seed, err);
    case OPT_MAX_STEPS: return llp_opt_int("--max-steps", arg, 1, 1 << 30, &o->max_steps, err);
    case OPT_VAL: o->val_path = arg; return 0;
    case OPT_EVAL_EVERY: return llp_opt_int("--eval-every", arg, 1, 1 << 30, &o->eval_every, err);
    case OPT_SAVE_EVERY: return llp_opt_int("--save-every", arg, 1, 1 << 30, &o->save_every, err);
    case OPT_CHECKPOINT: o->checkpoint_path = arg; return 0;
    case OPT_RESUME: o->resume = true; return 0;
    case OPT_LABELS: f->labels = arg; return 0;
    case OPT_LABEL_COLUMN: o->label_column = arg; return 0;
    case OPT_PROMPT_FILE: f->prompt_file = arg; return 0;
    case OPT_EXAMPLES: o->examples_path = arg; return 0;
    case OPT_CHAT: o->chat = 1; return 0;
    case OPT_NO_CHAT: o->chat = 0; return 0;
    }
    return llp_err_set(err, "unhandled option");
}

int main(int argc, char **argv)
{
    ft_flags f = { .o = {
        .tool = "llp-finetune", .rank = 8, .alpha = 16, .targets = "q,k,v,o",
        .adapter_type = LLP_F32, .epochs = 3, .batch = 8, .lr = 2e-4, .weight_decay = 0.01,
        .clip = 1.0, .warmup = -1, .schedule = LLP_SCHED_COSINE, .seed = 1, .chat = -1,
    } };
    llp_cli cli;
    llp_cli_init(&cli, "llp-finetune");
    llp_cli_tool tool = { .groups = LLP_CLI_MODEL | LLP_CLI_THREADS | LLP_CLI_CONTEXT |
                                    LLP_CLI_STORE | LLP_CLI_RECORDS,
                          .usage = usage, .options = long_options, .short_options = "o:",
                          .on_option = on_option, .ctx = &f };
    int rc = llp_cli_parse(&cli, &tool, argc, argv, NULL);
    if (rc != LLP_CLI_RUN) return rc;
    llp_finetune_opts *o = &f.o;
    llp_err err;
    /* common options that mean nothing to training are refused, not ignored */
    if (cli.out != LLP_FMT_AUTO || cli.into || cli.shard_n != 1 || cli.id_column ||
        cli.no_cache || cli.kv_type_given)
        return llp_cli_usage_error(&cli, "--out, --into, --shard, --id-column, --no-cache and "
                                   "--kv-type do not apply to training");
    if (!o->out_path) return llp_cli_usage_error(&cli, "-o ADAPTER.gguf is required");
    if (cli.n_args == 0 && !cli.files_from)
        return llp_cli_usage_error(&cli, "no training data (give DATA files)");
    if (!f.labels && (o->label_column || f.prompt_file || o->examples_path))
        return llp_cli_usage_error(&cli, "--label-column, --prompt-file and --examples need "
                                   "--labels");
    char *template = NULL;
    if (f.labels) {
        if (llp_classify_parse_labels(f.labels, &o->labels, &o->n_labels, &err))
            return llp_cli_usage_error(&cli, "%s", err.msg);
        if (f.prompt_file && !(template = llp_classify_read_template(f.prompt_file, &err)))
            llp_die(cli.tool, "%s", err.msg);
        o->prompt_template = template;
        llp_classify_params cp = { .labels = (const char *const *)o->labels,
                                   .n_labels = o->n_labels, .prompt_template = template };
        if (llp_classify_check(&cp, &err)) return llp_cli_usage_error(&cli, "%s", err.msg);
    }
    o->model_path = cli.model;
    if (!o->model_path) return llp_cli_usage_error(&cli, "no model: pass -m MODEL or set LLP_MODEL");
    llp_cli_reader_opts(&cli, &o->train);
    o->train.tool = cli.tool;
    o->n_ctx = cli.ctx_size;
    o->n_threads = cli.threads;
    o->db_path = cli.db_path;
    o->no_db = cli.no_db;
    o->quiet = cli.quiet;
    o->progress = cli.progress;
    o->argc = argc;
    o->argv = argv;
    rc = llp_finetune_run(o);
    free(template);
    llp_classify_labels_free(o->labels, o->n_labels);
    llp_cli_free(&cli);
    return rc;
}
