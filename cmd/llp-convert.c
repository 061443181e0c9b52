/*
 * llp-convert — a Hugging Face Llama directory to a GGUF model, or a PEFT
 * LoRA adapter to a GGUF adapter:
 *   llp-convert HF_DIR -o OUT.gguf [--type T]
 *   llp-convert --lora PEFT_DIR --base BASE.gguf -o ADAPTER.gguf
 *
 * Wiring only: flags, a progress line per tensor on stderr. The conversion
 * is lib/convert.c (models) and lib/convert_lora.c (adapters).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "convert.h"
#include "quant.h"
#include "quantize.h"

static const char usage[] =
    "Usage: llp-convert HF_DIR -o OUT.gguf [--type TYPE]\n"
    "       llp-convert --lora PEFT_DIR --base BASE.gguf -o ADAPTER.gguf\n"
    "\n"
    "Convert a Hugging Face Llama model directory (config.json, *.safetensors\n"
    "with model.safetensors.index.json when sharded, tokenizer.model or a\n"
    "SentencePiece-style tokenizer.json, tokenizer_config.json) to a GGUF file\n"
    "every llamapipe tool reads. Q/K rows are permuted from the Hugging Face\n"
    "rotary layout to GGUF's. With --lora, convert a PEFT adapter\n"
    "(adapter_config.json, adapter_model.safetensors) to a GGUF LoRA adapter for\n"
    "--lora FILE, checked against the base model it was trained on.\n"
    "No Python is needed. The output is written to OUT.tmp and renamed at the\n"
    "end; a failed or interrupted conversion leaves no file.\n"
    "\n"
    "Options:\n"
    "  -o FILE             the GGUF file to write (required)\n"
    "      --type TYPE     weight type of the matrices: F32, F16, BF16 (exact when\n"
    "                      the source has that type), or a llama.cpp mix as in\n"
    "                      llp-quantize (Q8_0, Q4_K_M, Q5_K_M, Q6_K, ...). Default:\n"
    "                      the source's own type (F32 for a mix), so nothing is lost\n"
    "      --lora DIR      convert the PEFT adapter in DIR (needs --base)\n"
    "      --base FILE     the base model (GGUF) of the adapter\n"
    "\n"
    "Examples:\n"
    "  llp-convert ~/hf/Llama-2-7b-hf -o llama-2-7b.Q4_K_M.gguf --type Q4_K_M\n"
    "  llp-classify -m llama-2-7b.Q4_K_M.gguf --labels positive,negative reviews.csv\n"
    "  llp-convert --lora ./my-adapter --base llama-2-7b.f16.gguf -o my-adapter.gguf\n";

/* -o has no long form: "--output" would make "--out", the other tools'
 * format option, an accepted abbreviation here. */
enum { OPT_OUTPUT = 'o', OPT_TYPE = LLP_OPT_TOOL, OPT_LORA, OPT_BASE };

typedef struct convert_args {
    const char *out, *type, *lora, *base;
} convert_args;

static int on_option(void *ctx, int id, const char *arg, llp_err *err)
{
    convert_args *a = ctx;
    switch (id) {
    case OPT_OUTPUT: a->out = arg; return 0;
    case OPT_TYPE: a->type = arg; return 0;
    case OPT_LORA: a->lora = arg; return 0;
    case OPT_BASE: a->base = arg; return 0;
    }
    return llp_err_set(err, "unhandled option");
}

static const struct option long_options[] = {
    { "type", required_argument, NULL, OPT_TYPE },
    { "lora", required_argument, NULL, OPT_LORA },
    { "base", required_argument, NULL, OPT_BASE },
    { 0 },
};

/* The writer's temporary file (OUT.tmp, gguf.h), removed when a signal
 * stops the conversion, so that no partial output is left behind. */
static char *tmp_path;

static void on_signal(int sig)
{
    if (tmp_path) unlink(tmp_path);
    signal(sig, SIG_DFL);
    raise(sig);
}

static void on_tensor(void *ctx, const llp_convert_report *r)
{
    fprintf(stderr, "[%*d/%d] %-28s %-5s -> %-5s %6.2f s%s\n", r->count >= 100 ? 3 : 2, r->index,
            r->count, r->name, llp_type_name(r->src_type), llp_type_name(r->dst_type), r->seconds,
            r->permuted ? "  (Q/K rows permuted)" : "");
}

static void on_note(void *ctx, const char *note)
{
    llp_note(ctx, "%s", note);
}

int main(int argc, char **argv)
{
    llp_cli cli;
    convert_args a = { 0 };
    llp_cli_init(&cli, "llp-convert");
    llp_cli_tool tool = { .groups = LLP_CLI_BASIC | LLP_CLI_THREADS, .usage = usage,
                          .options = long_options, .short_options = "o:", .on_option = on_option,
                          .ctx = &a };
    int rc = llp_cli_parse(&cli, &tool, argc, argv, NULL);
    if (rc != LLP_CLI_RUN) return rc;
    if (!a.out) return llp_cli_usage_error(&cli, "-o OUT.gguf is required");
    if (a.lora && !a.base) return llp_cli_usage_error(&cli, "--lora needs --base BASE.gguf");
    if (a.base && !a.lora) return llp_cli_usage_error(&cli, "--base is for --lora PEFT_DIR");
    if (a.lora && a.type) return llp_cli_usage_error(&cli, "--type is for models; an adapter keeps its F32/F16 type");
    if (a.lora ? cli.n_args != 0 : cli.n_args != 1)
        return llp_cli_usage_error(&cli, a.lora ? "--lora takes the adapter directory; no other argument"
                                                : "expected one Hugging Face model directory");
    llp_convert_opts o = { .ftype = -1, .n_threads = cli.threads, .on_note = on_note,
                           .ctx = (void *)cli.tool };
    if (a.type) {
        o.ftype = llp_ftype_from_name(a.type);
        if (o.ftype < 0)
            return llp_cli_usage_error(&cli, "--type: unknown type '%s' (types: %s)", a.type,
                                       llp_ftype_target_names());
    }
    if (!cli.quiet) o.on_tensor = on_tensor;
    size_t len = strlen(a.out);
    tmp_path = malloc(len + 5);
    if (tmp_path) {
        memcpy(tmp_path, a.out, len);
        memcpy(tmp_path + len, ".tmp", 5);
    }
    struct sigaction sa = { .sa_handler = on_signal };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    llp_err err;
    double t0 = llp_now();
    if (a.lora ? llp_convert_lora(a.lora, a.base, a.out, &o, &err)
               : llp_convert_model(cli.args[0], a.out, &o, &err))
        llp_die(cli.tool, "%s", err.msg);
    if (!cli.quiet) llp_note(cli.tool, "wrote %s in %.1f s", a.out, llp_now() - t0);
    free(tmp_path);
    llp_cli_free(&cli);
    return LLP_EXIT_OK;
}
