/*
 * llp-classify — label each record's text with one of --labels, by scoring.
 *
 * Wiring only: flags (cli.h), the model (engine.h), the scoring
 * (classify.h: shared prefix, batched rows, exact label probabilities), the
 * record loop and store (batch.h). Not for: how labels are scored or how
 * the prompt is built; both live in lib/classify*.c for llp-run as well.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "classify.h"
#include "classify_task.h"
#include "cli.h"
#include "engine.h"

static const char usage[] =
    "Usage: llp-classify -m MODEL --labels A,B[,C...] [OPTIONS] [FILE|DIR...]\n"
    "\n"
    "Label each record's text with the most probable of the labels. The model\n"
    "scores every label after a prompt built around the text (no sampling); each\n"
    "record gets `label`, `score` (its probability) and `p_<label>` for every\n"
    "label (probabilities over the labels, summing to 1), and `truncated` when\n"
    "the text was cut to fit the context. CSV in gives CSV out with every\n"
    "original column first; JSONL in gives JSONL out.\n"
    "\n"
    "Classification options:\n"
    "      --labels A,B,C     the labels (required; at least 2, distinct)\n"
    "      --prompt-file FILE a template holding {text} (once) and optionally\n"
    "                         {labels} and {examples}; default:\n"
    "                           Classify the text as exactly one of these labels: {labels}.\n"
    "\n"
    "                           Text: {text}\n"
    "                           Label:\n"
    "      --examples FILE    few-shot CSV with columns text,label, rendered into\n"
    "                         the prompt before the text (computed once per job)\n"
    "      --chat             wrap the prompt in the model's chat format\n"
    "      --no-chat          never wrap (default: wrap when the model is a chat model)\n"
    "      --batch-rows N     rows scored together per forward pass (1..64, default 16)\n"
    "\n"
    "Examples:\n"
    "  llp-classify -m M --labels positive,negative,neutral --column review \\\n"
    "      examples/reviews.csv > labeled.csv\n"
    "  llp-classify -m M --labels urgent,routine --field summary < summaries.jsonl\n"
    "  llp-classify -m M --labels spam,ham --examples shots.csv --into verdict mail.jsonl\n";

enum { OPT_LABELS = LLP_OPT_TOOL, OPT_PROMPT_FILE, OPT_EXAMPLES, OPT_CHAT, OPT_NO_CHAT,
       OPT_BATCH_ROWS };

static const struct option long_options[] = {
    { "labels", required_argument, NULL, OPT_LABELS },
    { "prompt-file", required_argument, NULL, OPT_PROMPT_FILE },
    { "examples", required_argument, NULL, OPT_EXAMPLES },
    { "chat", no_argument, NULL, OPT_CHAT },
    { "no-chat", no_argument, NULL, OPT_NO_CHAT },
    { "batch-rows", required_argument, NULL, OPT_BATCH_ROWS },
    { 0 },
};

typedef struct classify_opts {
    const char *labels;
    const char *prompt_file;
    const char *examples;
    int chat;                   /* -1 auto, 0 no, 1 yes */
    int batch_rows;             /* 0: the library's default */
} classify_opts;

static int on_option(void *ctx, int id, const char *arg, llp_err *err)
{
    classify_opts *o = ctx;
    switch (id) {
    case OPT_LABELS: o->labels = arg; return 0;
    case OPT_PROMPT_FILE: o->prompt_file = arg; return 0;
    case OPT_EXAMPLES: o->examples = arg; return 0;
    case OPT_CHAT: o->chat = 1; return 0;
    case OPT_NO_CHAT: o->chat = 0; return 0;
    case OPT_BATCH_ROWS:
        return llp_opt_int("--batch-rows", arg, 1, LLP_CLASSIFY_MAX_ROWS, &o->batch_rows, err);
    }
    return llp_err_set(err, "unhandled option");
}

int main(int argc, char **argv)
{
    llp_cli cli;
    classify_opts o = { .chat = -1 };
    llp_cli_init(&cli, "llp-classify");
    llp_cli_tool tool = { .groups = LLP_CLI_CLASSIFY, .usage = usage, .options = long_options, .on_option = on_option,
                          .ctx = &o };
    int rc = llp_cli_parse(&cli, &tool, argc, argv, NULL);
    if (rc != LLP_CLI_RUN) return rc;

    llp_err err;
    if (!o.labels) return llp_cli_usage_error(&cli, "--labels is required (e.g. --labels yes,no)");
    char **labels = NULL;
    int n_labels = 0;
    if (llp_classify_parse_labels(o.labels, &labels, &n_labels, &err))
        return llp_cli_usage_error(&cli, "%s", err.msg);
    char *template = NULL;
    if (o.prompt_file && !(template = llp_classify_read_template(o.prompt_file, &err)))
        llp_die(cli.tool, "%s", err.msg);
    llp_classify_params p = {
        .labels = (const char *const *)labels, .n_labels = n_labels,
        .prompt_template = template, .examples_path = o.examples, .chat = o.chat,
        .n_ctx = cli.ctx_size, .n_threads = cli.threads, .kv_type = cli.kv_type,
        .max_rows = o.batch_rows,
    };
    if (llp_classify_check(&p, &err)) {
        rc = llp_cli_usage_error(&cli, "%s", err.msg);
        goto out_labels;
    }

    /* The classifier makes its own context, sized for its sequences; the
     * engine's stays minimal. */
    llp_engine_opts eo = { .model_path = cli.model, .n_ctx = 16, .n_batch = 16,
                           .n_threads = 1,
                           .lora = cli.lora, .lora_scale = cli.lora_scale,
                           .n_lora = cli.n_lora, .lora_merge = cli.lora_merge };
    llp_engine *e = llp_engine_open(&eo, &err);
    if (!e) llp_die(cli.tool, "%s", err.msg);
    const char *chat_template = NULL;
    gguf_get_str(e->model->file, "tokenizer.chat_template", &chat_template, NULL);
    llp_classify_task t = { .into = cli.into };
    t.cls = llp_classifier_new(e->model, e->tok, chat_template, &p, &err);
    if (!t.cls) llp_die(cli.tool, "%s", err.msg);

    int n_cols;
    char **cols = llp_classify_columns(t.cls, cli.into, &n_cols);
    json_t *params = llp_classifier_params_json(t.cls);
    llp_batch_tool bt = {
        .task = "classify", .params = params, .model_fp = e->fingerprint,
        .model_path = e->model->path, .model_size = e->file_size, .model_meta = e->meta,
        .process = llp_classify_task_process, .ctx = &t, .max_batch = llp_classifier_max_rows(t.cls),
        .output_columns = (const char *const *)cols, .n_output_columns = (size_t)n_cols,
    };
    rc = llp_batch_run(&cli, &bt, argc, argv);

    json_decref(params);
    llp_classify_labels_free(cols, n_cols);
    llp_classifier_free(t.cls);
    llp_engine_free(e);
out_labels:
    free(template);
    llp_classify_labels_free(labels, n_labels);
    llp_cli_free(&cli);
    return rc;
}
