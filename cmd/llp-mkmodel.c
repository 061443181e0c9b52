/*
 * llp-mkmodel — write a random-weight Llama model of a named shape and
 * weight type, for trying the tools, for tests and for benchmarks when no
 * real model is at hand. Its output is noise by construction.
 *
 * Wiring only: the model is built by lib/synth.c.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "quant.h"
#include "synth.h"

static const char usage[] =
    "Usage: llp-mkmodel [OPTIONS] OUT.gguf\n"
    "\n"
    "Write a random-weight Llama model. Everything it generates is noise: it\n"
    "exercises the machinery (tokenizer, engine, store, pipelines) without a\n"
    "real model. Point the tools at a real GGUF file with -m or LLP_MODEL.\n"
    "\n"
    "Options:\n"
    "      --shape NAME    tiny (default), small, 1.1b, 7b or 13b\n"
    "      --type TYPE     weight type of the matrices: F32 (default), F16, BF16,\n"
    "                      Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K\n"
    "      --ctx N         context length recorded in the file\n"
    "      --chat          record a Llama-2 chat template\n"
    "      --tied          no output.weight: the head reuses the embeddings\n"
    "      --seed N        random seed (default 1)\n"
    "\n"
    "Examples:\n"
    "  llp-mkmodel /tmp/tiny.gguf\n"
    "  llp-mkmodel --shape 1.1b --type Q4_0 /tmp/tl-q4_0.gguf\n";

enum { OPT_SHAPE = LLP_OPT_TOOL, OPT_TYPE, OPT_CTX, OPT_CHAT, OPT_TIED, OPT_SEED };

typedef struct mk_opts {
    llp_synth_spec spec;
    const char *shape;
} mk_opts;

static int on_option(void *ctx, int id, const char *arg, llp_err *err)
{
    mk_opts *o = ctx;
    int v;
    switch (id) {
    case OPT_SHAPE:
        o->shape = arg;
        if (llp_synth_shape(arg, &o->spec))
            return llp_err_set(err, "--shape: unknown shape '%s' (tiny, small, 1.1b, 7b, 13b)", arg);
        return 0;
    case OPT_TYPE:
        v = llp_type_from_name(arg);
        if (v < 0 || !llp_type_get((uint32_t)v)->supported)
            return llp_err_set(err, "--type: unknown or unsupported weight type '%s'", arg);
        o->spec.type = (uint32_t)v;
        return 0;
    case OPT_CTX: return llp_opt_int("--ctx", arg, 16, 1 << 20, &o->spec.n_ctx, err);
    case OPT_CHAT: o->spec.chat_template = true; return 0;
    case OPT_TIED: o->spec.tied = true; return 0;
    case OPT_SEED: return llp_opt_u64("--seed", arg, &o->spec.seed, err);
    }
    return llp_err_set(err, "unhandled option");
}

static const struct option long_options[] = {
    { "shape", required_argument, NULL, OPT_SHAPE },
    { "type", required_argument, NULL, OPT_TYPE },
    { "ctx", required_argument, NULL, OPT_CTX },
    { "chat", no_argument, NULL, OPT_CHAT },
    { "tied", no_argument, NULL, OPT_TIED },
    { "seed", required_argument, NULL, OPT_SEED },
    { 0 },
};

int main(int argc, char **argv)
{
    llp_cli cli;
    mk_opts o = { 0 };
    llp_synth_shape("tiny", &o.spec);
    o.spec.type = 0;
    o.spec.seed = 1;
    o.spec.output_type = LLP_TYPE_COUNT;
    llp_cli_init(&cli, "llp-mkmodel");
    llp_cli_tool tool = { .groups = LLP_CLI_BASIC, .usage = usage, .options = long_options, .on_option = on_option,
                          .ctx = &o };
    int rc = llp_cli_parse(&cli, &tool, argc, argv, NULL);
    if (rc != LLP_CLI_RUN) return rc;
    if (cli.n_args != 1) return llp_cli_usage_error(&cli, "expected one output path");
    /* published K-quant files keep the output head at Q6_K */
    if (o.spec.type >= LLP_Q2_K && o.spec.type <= LLP_Q6_K) o.spec.output_type = LLP_Q6_K;
    llp_err err;
    if (llp_synth_write(&o.spec, cli.args[0], &err)) llp_die(cli.tool, "%s", err.msg);
    if (!cli.quiet)
        llp_note(cli.tool, "wrote %s: random weights, shape %s, %s (output is noise)", cli.args[0],
                 o.shape ? o.shape : "tiny", llp_type_name(o.spec.type));
    llp_cli_free(&cli);
    return LLP_EXIT_OK;
}
