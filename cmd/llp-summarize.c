/*
 * llp-summarize — one summary per document, map-reduce for documents longer
 * than the context, every intermediate summary recorded in the store.
 *
 * Wiring only: flags (cli.h), the model (engine.h), the tree of summaries
 * and its store items (summarize.h), the record loop (batch.h). Not for:
 * splitting, prompts or budgets (lib/summarize.c, lib/split.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "cli.h"
#include "engine.h"
#include "summarize.h"
#include "summarize_task.h"

static const char usage[] =
    "Usage: llp-summarize -m MODEL [OPTIONS] [FILE|DIR...]\n"
    "\n"
    "Summarize documents: each file is one document (directories are recursed;\n"
    "--files-from names them; all of stdin is one document; JSONL and CSV give\n"
    "one document per record). Each record gets `summary`, `chunks` (pieces the\n"
    "document was split into) and `levels` (1 when it fit in one piece).\n"
    "A document longer than the context is split on paragraphs, then sentences,\n"
    "into chunks that fit; each chunk is summarized and the summaries combined\n"
    "the same way until one remains. Every summary on the way is recorded in\n"
    "the store as an item 'DOC#L<level>.<index>' (task summarize-chunk), and a\n"
    "later run reuses those of unchanged chunks. Greedy (--temp 0) by default.\n"
    "\n"
    "Summary options:\n"
    "      --max-tokens N     summary budget in tokens, 16 or more (default 128;\n"
    "                         lowered when the context is too small for it)\n"
    "      --prompt-file FILE prompt template with {text} where the text goes\n"
    "      --chat             wrap prompts in the model's chat format\n"
    "      --no-chat          never wrap (default: wrap when it is a chat model)\n"
    "      --system TEXT      system prompt for the chat format\n"
    "\n"
    "Examples:\n"
    "  llp-summarize -m llama-2-13b-chat.Q4_K_M.gguf examples/docs/ > summaries.jsonl\n"
    "  find docs -name '*.md' | llp-summarize -m M --files-from - --max-tokens 64\n"
    "  llp-summarize -m M --prompt-file tldr.txt < report.txt\n";

enum { OPT_MAX_TOKENS = LLP_OPT_TOOL, OPT_PROMPT_FILE, OPT_CHAT, OPT_NO_CHAT, OPT_SYSTEM };

static const struct option long_options[] = {
    { "max-tokens", required_argument, NULL, OPT_MAX_TOKENS },
    { "prompt-file", required_argument, NULL, OPT_PROMPT_FILE },
    { "chat", no_argument, NULL, OPT_CHAT },
    { "no-chat", no_argument, NULL, OPT_NO_CHAT },
    { "system", required_argument, NULL, OPT_SYSTEM },
    { 0 },
};

typedef struct sum_opts {
    int max_tokens;
    const char *prompt_file;
    int chat;                   /* -1 auto, 0 no, 1 yes */
    const char *system;
} sum_opts;

static int on_option(void *ctx, int id, const char *arg, llp_err *err)
{
    sum_opts *o = ctx;
    switch (id) {
    case OPT_MAX_TOKENS: return llp_opt_int("--max-tokens", arg, LLP_SUMMARY_MIN_TOKENS, 1 << 20,
                                          &o->max_tokens, err);
    case OPT_PROMPT_FILE: o->prompt_file = arg; return 0;
    case OPT_CHAT: o->chat = 1; return 0;
    case OPT_NO_CHAT: o->chat = 0; return 0;
    case OPT_SYSTEM: o->system = arg; return 0;
    }
    return llp_err_set(err, "unhandled option");
}

int main(int argc, char **argv)
{
    llp_cli cli;
    sum_opts o = { .max_tokens = 128, .chat = -1 };
    llp_cli_init(&cli, "llp-summarize");
    cli.sampling.temp = 0;
    llp_cli_tool tool = { .groups = LLP_CLI_SUMMARIZE, .usage = usage, .options = long_options, .on_option = on_option,
                          .ctx = &o };
    int rc = llp_cli_parse(&cli, &tool, argc, argv, NULL);
    if (rc != LLP_CLI_RUN) return rc;

    llp_err err;
    char *template = NULL;
    if (o.prompt_file && !(template = llp_summary_read_template(o.prompt_file, &err)))
        llp_die(cli.tool, "%s", err.msg);
    if (template && llp_summary_template_check(template, &err)) {
        free(template);
        return llp_cli_usage_error(&cli, "%s: %s", o.prompt_file, err.msg);
    }
    int n_seq = cli.parallel ? cli.parallel : LLP_ENGINE_SEQ_AUTO;
    llp_engine_opts eo = { .model_path = cli.model, .n_ctx = cli.ctx_size, .n_seq = n_seq,
                           .n_threads = cli.threads, .kv_type = cli.kv_type,
                           .lora = cli.lora, .lora_scale = cli.lora_scale,
                           .n_lora = cli.n_lora, .lora_merge = cli.lora_merge };
    llp_engine *e = llp_engine_open(&eo, &err);
    if (!e) llp_die(cli.tool, "%s", err.msg);

    llp_summarizer_params sp = {
        .max_tokens = o.max_tokens, .prompt = template, .system = o.system,
        .stop = (const char *const *)cli.sampling.stop, .n_stop = cli.sampling.n_stop,
    };
    sp.chat = llp_engine_chat(e, o.chat);
    sp.sampling = llp_cli_sampling(&cli);
    llp_summarizer *summarizer = llp_summarizer_new(e->ctx, e->tok, &sp, &err);
    if (!summarizer) {
        if (template) llp_error(cli.tool, "%s: %s", o.prompt_file, err.msg);
        else llp_error(cli.tool, "%s", err.msg);
        llp_engine_free(e);
        free(template);
        return LLP_EXIT_FATAL;
    }
    if (llp_summarizer_budget(summarizer) < o.max_tokens && !cli.quiet)
        llp_note(cli.tool, "summary budget lowered to %d tokens to fit a context of %d",
                 llp_summarizer_budget(summarizer), llp_context_n_ctx(e->ctx));

    llp_summarize_task t;
    llp_batch_tool bt = {
        .model_fp = e->fingerprint, .model_path = e->model->path, .model_size = e->file_size,
        .model_meta = e->meta,
    };
    if ((cli.verbose || cli.progress) && !cli.quiet)
        llp_engine_note_parallel(e, cli.tool, cli.parallel ? "as asked" : NULL);
    llp_summarize_task_init(&t, summarizer, e->tok, e->fingerprint, cli.no_cache, cli.into, &bt);
    rc = llp_batch_run(&cli, &bt, argc, argv);

    llp_summarize_task_free(&t);
    llp_summarizer_free(summarizer);
    llp_engine_free(e);
    llp_cli_free(&cli);
    free(template);
    return rc;
}
