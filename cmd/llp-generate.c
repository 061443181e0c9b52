/*
 * llp-generate — complete prompts with a model.
 *
 * Wiring only: flags (cli.h), the model (engine.h), the generation loop
 * (generate.h) and its record task (generate_task.h), the record loop and
 * store (batch.h). Three ways in:
 *   -p/--prompt and positional arguments   each is one prompt
 *   stdin or --files-from / --in           records: lines or JSONL (prompt/text)
 *   --prompt-ids "1 15043 3186"            the conformance hook: raw ids in,
 *                                          ids (--print-ids) and logits out
 * A single prompt written to a text output is streamed as it is produced.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "cli.h"
#include "engine.h"
#include "generate.h"
#include "generate_task.h"

static const char usage[] =
    "Usage: llp-generate -m MODEL [OPTIONS] [PROMPT...]\n"
    "\n"
    "Complete each prompt. Prompts come from -p, from the arguments, or from\n"
    "stdin (one per line, or JSONL with a `prompt` or `text` field). Each record\n"
    "gets `completion`, `tokens_in`, `tokens_out` and `stop` (eos, length,\n"
    "stop-string). One prompt printed as text is streamed token by token.\n"
    "\n"
    "Generation options:\n"
    "  -p, --prompt TEXT      a prompt (repeatable)\n"
    "      --chat             wrap prompts in the model's chat format\n"
    "      --no-chat          never wrap (default: wrap when the model is a chat model)\n"
    "      --system TEXT      system prompt for the chat format\n"
    "      --prompt-ids IDS   feed these token ids as they are (no BOS added)\n"
    "      --print-ids        print generated token ids instead of text\n"
    "      --logits-out FILE  write float32 logits after every consumed token\n"
    "\n"
    "Examples:\n"
    "  llp-generate -m llama-2-7b-chat.Q4_K_M.gguf -p 'Write a haiku about pipes'\n"
    "  printf 'The sky is\\nWater is\\n' | llp-generate -m M -n 16 --temp 0\n"
    "  llp-generate -m M --prompt-ids '1 15043 3186' -n 8 --temp 0 --print-ids \\\n"
    "      --logits-out out.f32\n";

enum { OPT_PROMPT = LLP_OPT_TOOL, OPT_CHAT, OPT_NO_CHAT, OPT_SYSTEM, OPT_PROMPT_IDS,
       OPT_PRINT_IDS, OPT_LOGITS_OUT };

typedef struct gen_opts {
    const char **prompts;
    int n_prompts;
    int chat;                   /* -1 auto, 0 no, 1 yes */
    const char *system;
    const char *prompt_ids;
    bool print_ids;
    const char *logits_out;
} gen_opts;

static int on_option(void *ctx, int id, const char *arg, llp_err *err)
{
    gen_opts *o = ctx;
    switch (id) {
    case 'p':
    case OPT_PROMPT:
        o->prompts = llp_realloc(o->prompts, sizeof(char *) * (size_t)(o->n_prompts + 1));
        o->prompts[o->n_prompts++] = arg;
        return 0;
    case OPT_CHAT: o->chat = 1; return 0;
    case OPT_NO_CHAT: o->chat = 0; return 0;
    case OPT_SYSTEM: o->system = arg; return 0;
    case OPT_PROMPT_IDS: o->prompt_ids = arg; return 0;
    case OPT_PRINT_IDS: o->print_ids = true; return 0;
    case OPT_LOGITS_OUT: o->logits_out = arg; return 0;
    }
    return llp_err_set(err, "unhandled option");
}

static const struct option long_options[] = {
    { "prompt", required_argument, NULL, OPT_PROMPT },
    { "chat", no_argument, NULL, OPT_CHAT },
    { "no-chat", no_argument, NULL, OPT_NO_CHAT },
    { "system", required_argument, NULL, OPT_SYSTEM },
    { "prompt-ids", required_argument, NULL, OPT_PROMPT_IDS },
    { "print-ids", no_argument, NULL, OPT_PRINT_IDS },
    { "logits-out", required_argument, NULL, OPT_LOGITS_OUT },
    { 0 },
};

/* ---- the conformance hook ---------------------------------------------- */

static int parse_ids(const char *s, llp_tokens *out, llp_err *err)
{
    const char *p = s;
    while (*p) {
        while (*p == ' ' || *p == ',' || *p == '\t' || *p == '\n') p++;
        if (!*p) break;
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || v < 0 || v > INT32_MAX)
            return llp_err_set(err, "--prompt-ids: expected token ids, got '%s'", p);
        llp_tokens_push(out, (int32_t)v);
        p = end;
    }
    if (out->n == 0) return llp_err_set(err, "--prompt-ids: no ids given");
    return 0;
}

static int run_prompt_ids(const llp_cli *cli, const gen_opts *o, llp_engine *e)
{
    llp_err err;
    llp_tokens ids = { 0 }, generated = { 0 };
    if (parse_ids(o->prompt_ids, &ids, &err)) {
        llp_tokens_free(&ids);
        return llp_cli_usage_error(cli, "%s", err.msg);
    }
    FILE *lf = NULL;
    if (o->logits_out && !(lf = fopen(o->logits_out, "wb")))
        llp_die(cli->tool, "%s: cannot open for writing: %s", o->logits_out, strerror(errno));
    llp_gen_params p = llp_gen_params_from_cli(cli, e, o->chat, o->system);
    llp_generator *g = llp_generator_new(e->ctx, e->tok, &p);
    llp_gen_hooks hooks = { .logits_out = lf, .ids_out = &generated };
    llp_gen_result res;
    int rc = llp_generate_ids(g, ids.ids, (int)ids.n, &hooks, &res, &err);
    if (rc == 0) {
        if (o->print_ids) {
            for (size_t i = 0; i < generated.n; i++)
                printf("%s%d", i ? " " : "", generated.ids[i]);
            printf("\n");
        } else {
            fwrite(res.text, 1, res.len, stdout);
            printf("\n");
        }
        llp_gen_result_free(&res);
    }
    if (lf && fclose(lf) != 0 && rc == 0)
        rc = llp_err_set(&err, "%s: write failed: %s", o->logits_out, strerror(errno));
    llp_generator_free(g);
    llp_tokens_free(&ids);
    llp_tokens_free(&generated);
    if (rc) llp_die(cli->tool, "%s", err.msg);
    return fflush(stdout) == 0 ? LLP_EXIT_OK : LLP_EXIT_FATAL;
}

int main(int argc, char **argv)
{
    llp_cli cli;
    gen_opts o = { .chat = -1 };
    llp_cli_init(&cli, "llp-generate");
    llp_cli_tool tool = { .groups = LLP_CLI_GENERATE, .usage = usage, .options = long_options, .short_options = "p:",
                          .on_option = on_option, .ctx = &o };
    int rc = llp_cli_parse(&cli, &tool, argc, argv, NULL);
    if (rc != LLP_CLI_RUN) {
        free(o.prompts);
        return rc;
    }

    /* positional arguments are prompts, like -p */
    for (int i = 0; i < cli.n_args; i++) on_option(&o, 'p', cli.args[i], NULL);
    cli.n_args = 0;
    if (o.prompt_ids && o.n_prompts) {
        rc = llp_cli_usage_error(&cli, "--prompt-ids cannot be combined with text prompts");
        free(o.prompts);
        llp_cli_free(&cli);
        return rc;
    }

    llp_err err;
    /* The conformance hook (--logits-out) keeps the cache in f32 unless
     * told otherwise: the reference logits were made that way, and f16
     * rows move random-weight models' logits past the f32 tolerance. */
    llp_kv_type kv = o.logits_out && !cli.kv_type_given ? LLP_KV_F32 : cli.kv_type;
    /* one prompt shown as text is streamed as it is produced, so it runs
     * alone; the conformance hook too */
    bool stream = o.n_prompts == 1 && (cli.out == LLP_FMT_AUTO || cli.out == LLP_FMT_TEXT);
    int n_seq = stream || o.prompt_ids ? 1 : cli.parallel ? cli.parallel : LLP_ENGINE_SEQ_AUTO;
    llp_engine_opts eo = { .model_path = cli.model, .n_ctx = cli.ctx_size, .n_seq = n_seq,
                           .n_threads = cli.threads, .kv_type = kv,
                           .lora = cli.lora, .lora_scale = cli.lora_scale,
                           .n_lora = cli.n_lora, .lora_merge = cli.lora_merge };
    llp_engine *e = llp_engine_open(&eo, &err);
    if (!e) llp_die(cli.tool, "%s", err.msg);
    if (o.prompt_ids) {
        rc = run_prompt_ids(&cli, &o, e);
        llp_engine_free(e);
        llp_cli_free(&cli);
        free(o.prompts);
        return rc;
    }

    llp_gen_params p = llp_gen_params_from_cli(&cli, e, o.chat, o.system);
    if (stream) cli.out = LLP_FMT_TEXT;
    if ((cli.verbose || cli.progress) && !cli.quiet)
        llp_engine_note_parallel(e, cli.tool, stream ? "one prompt streamed as it is made runs alone"
                                              : cli.parallel ? "as asked" : NULL);
    llp_gen_task t;
    llp_batch_tool bt = {
        .model_fp = e->fingerprint, .model_path = e->model->path, .model_size = e->file_size,
        .model_meta = e->meta, .texts = o.prompts, .n_texts = o.n_prompts,
    };
    llp_gen_task_init(&t, e->ctx, e->tok, &p, cli.into, stream, &bt);
    t.quiet = cli.quiet;
    rc = llp_batch_run(&cli, &bt, argc, argv);

    llp_gen_task_free(&t);
    llp_engine_free(e);
    llp_cli_free(&cli);
    free(o.prompts);
    return rc;
}
