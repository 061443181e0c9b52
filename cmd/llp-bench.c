/*
 * llp-bench — prompt-processing and generation speed of a model, or of a
 * random-weight model of a named shape written for the occasion.
 *
 * Wiring only: measurement in lib/bench.c, models in lib/synth.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "matmul.h"
#include "cli.h"
#include "lora.h"
#include "quant.h"
#include "quantize.h"
#include "synth.h"
#include "threads.h"

static const char usage[] =
    "Usage: llp-bench [-m MODEL | --shape 1.1b|7b|13b --type TYPE] [OPTIONS]\n"
    "\n"
    "Measure prompt processing (pp: N tokens after BOS in one batch) and\n"
    "generation (tg: N single-token steps) in tokens per second: median, min\n"
    "and max over the repetitions, after one warm-up run. For tg also the\n"
    "weight bytes read per second (generation is bound by memory bandwidth).\n"
    "\n"
    "Options:\n"
    "  -p N            prompt tokens (default 128; 0 skips pp)\n"
    "  -n N            generated tokens (default 32; 0 skips tg)\n"
    "  -r N            repetitions (default 3)\n"
    "  -t N            threads (default: physical cores)\n"
    "      --shape S   write a random-weight model of shape S (tiny, small, 1.1b,\n"
    "                  7b, 13b) to a temporary file and measure it\n"
    "      --type T    its weight type or mix: F32, F16, BF16, Q8_0, Q4_0, Q4_1,\n"
    "                  Q5_0, Q5_1, Q2_K, Q3_K_M, Q4_K_M, Q5_K_M, Q6_K (default Q4_0)\n"
    "      --parallel LIST  sequences decoded together, e.g. 1,4,8,16: for each\n"
    "                  B, B prompts of -p tokens, then -n steps of B tokens, as\n"
    "                  llama-batched-bench; rates are aggregate tokens/s\n"
    "      --csv       a header line, then one row per test (pp first); with\n"
    "                  --parallel a `parallel` column after `test`\n"
    "\n"
    "Examples:\n"
    "  llp-bench -m llama-2-7b.Q4_0.gguf -p 64 -n 16 -t 2 -r 3\n"
    "  llp-bench --shape 1.1b --type Q4_K_M -p 128 -n 32 --csv\n"
    "  llp-bench --shape 1.1b -p 128 -n 32 --parallel 1,4,8,16 --csv\n";

enum { OPT_SHAPE = LLP_OPT_TOOL, OPT_TYPE, OPT_CSV, OPT_PARALLEL };

#define MAX_PARALLEL_LIST 16

typedef struct bench_opts {
    int n_prompt, n_gen, reps;
    const char *shape, *type;
    bool csv;
    int parallel[MAX_PARALLEL_LIST];   /* --parallel values; n_parallel 0: none */
    int n_parallel;
} bench_opts;

/* "1,4,8,16": 1..LLP_BENCH_MAX_PARALLEL each, at most MAX_PARALLEL_LIST. */
static int parse_parallel(bench_opts *o, const char *arg, llp_err *err)
{
    o->n_parallel = 0;
    const char *p = arg;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char item[16];
        if (len == 0 || len >= sizeof item || o->n_parallel == MAX_PARALLEL_LIST)
            return llp_err_set(err, "--parallel: expected a list of up to %d counts such as "
                               "1,4,8,16, got '%s'", MAX_PARALLEL_LIST, arg);
        memcpy(item, p, len);
        item[len] = 0;
        if (llp_opt_int("--parallel", item, 1, 256, &o->parallel[o->n_parallel], err)) return -1;
        o->n_parallel++;
        if (!comma) return 0;
        p = comma + 1;
    }
}

static int on_option(void *ctx, int id, const char *arg, llp_err *err)
{
    bench_opts *o = ctx;
    switch (id) {
    case 'p': return llp_opt_int("-p", arg, 0, 1 << 20, &o->n_prompt, err);
    case 'r': return llp_opt_int("-r", arg, 1, 1000, &o->reps, err);
    case OPT_SHAPE: o->shape = arg; return 0;
    case OPT_TYPE: o->type = arg; return 0;
    case OPT_CSV: o->csv = true; return 0;
    case OPT_PARALLEL: return parse_parallel(o, arg, err);
    }
    return llp_err_set(err, "unhandled option");
}

static const struct option long_options[] = {
    { "shape", required_argument, NULL, OPT_SHAPE },
    { "type", required_argument, NULL, OPT_TYPE },
    { "csv", no_argument, NULL, OPT_CSV },
    { "parallel", required_argument, NULL, OPT_PARALLEL },
    { 0 },
};

/* A synthetic spec for --shape/--type. */
static int shape_spec(const bench_opts *o, llp_synth_spec *s, llp_err *err)
{
    memset(s, 0, sizeof *s);
    if (llp_synth_shape(o->shape, s))
        return llp_err_set(err, "--shape: unknown shape '%s' (tiny, small, 1.1b, 7b, 13b)",
                           o->shape);
    const char *type = o->type ? o->type : "Q4_0";
    int ft = llp_ftype_from_name(type);
    if (ft < 0) return llp_err_set(err, "--type: unknown weight type '%s'", type);
    s->mix = true;
    s->ftype = (uint32_t)ft;
    s->type = llp_ftype_base_type((uint32_t)ft);
    s->output_type = LLP_TYPE_COUNT;
    s->seed = 1;
    return 0;
}

static void print_result(const bench_opts *o, const llp_bench_result *r, const char *model,
                         const char *kernels)
{
    char test[32];
    snprintf(test, sizeof test, "%s%d", r->test, r->n_tokens);
    if (o->csv) {
        printf("%s,", test);
        if (o->n_parallel) printf("%d,", r->parallel);
        printf("%d,%.2f,%.2f,%.2f,%.2f,%s,%s\n", r->threads, r->tok_s_median, r->tok_s_min,
               r->tok_s_max, r->weight_bytes_s / 1e9, model, kernels);
    } else {
        printf("%-6s", test);
        if (o->n_parallel) printf(" x%-3d", r->parallel);
        printf(" %4d threads  %9.2f tok/s  (min %.2f, max %.2f)", r->threads,
               r->tok_s_median, r->tok_s_min, r->tok_s_max);
        if (r->weight_bytes_s > 0) printf("  %.1f GB/s of weights", r->weight_bytes_s / 1e9);
        printf("\n");
    }
    fflush(stdout);
}

int main(int argc, char **argv)
{
    llp_cli cli;
    bench_opts o = { .n_prompt = 128, .n_gen = 32, .reps = 3 };
    llp_cli_init(&cli, "llp-bench");
    llp_cli_tool tool = { .groups = LLP_CLI_MODEL | LLP_CLI_THREADS | LLP_CLI_N_PREDICT |
                                    LLP_CLI_LORA,
                          .usage = usage, .options = long_options, .short_options = "p:r:",
                          .on_option = on_option, .ctx = &o };
    int rc = llp_cli_parse(&cli, &tool, argc, argv, NULL);
    if (rc != LLP_CLI_RUN) return rc;
    if (cli.sampling.n_predict >= 0) o.n_gen = cli.sampling.n_predict;   /* -n is common */
    if (o.shape && cli.n_args == 0 && getenv("LLP_MODEL") && cli.model == getenv("LLP_MODEL"))
        cli.model = NULL;   /* --shape wins over $LLP_MODEL */
    if (!o.shape && !cli.model)
        return llp_cli_usage_error(&cli, "give -m MODEL or --shape SHAPE");
    if (o.shape && cli.model && cli.model != getenv("LLP_MODEL"))
        return llp_cli_usage_error(&cli, "-m and --shape exclude each other");

    llp_err err;
    char tmp_path[] = "/tmp/llp-bench-XXXXXX.gguf";
    const char *path = cli.model, *label = cli.model;
    char shape_label[64];
    if (o.shape) {
        llp_synth_spec spec;
        if (shape_spec(&o, &spec, &err)) return llp_cli_usage_error(&cli, "%s", err.msg);
        int fd = mkstemps(tmp_path, 5);
        if (fd < 0) llp_die(cli.tool, "cannot create a temporary model file in /tmp");
        close(fd);
        if (!cli.quiet)
            llp_note(cli.tool, "writing a random-weight %s %s model to %s", o.shape,
                     o.type ? o.type : "Q4_0", tmp_path);
        if (llp_synth_write(&spec, tmp_path, &err)) {
            unlink(tmp_path);
            llp_die(cli.tool, "%s", err.msg);
        }
        path = tmp_path;
        snprintf(shape_label, sizeof shape_label, "%s-%s", o.shape, o.type ? o.type : "Q4_0");
        label = shape_label;
    }

    llp_model *m = llp_model_load(path, &err);
    if (o.shape) unlink(tmp_path);      /* the mapping keeps the data alive */
    if (!m) llp_die(cli.tool, "%s", err.msg);
    /* --lora: the cost of adapters on the fly (or merged) */
    llp_lora **loras = llp_calloc((size_t)cli.n_lora + 1, sizeof *loras);
    for (int i = 0; i < cli.n_lora; i++) {
        if (!(loras[i] = llp_lora_load(cli.lora[i], &err)) ||
            llp_model_add_lora(m, loras[i], cli.lora_scale[i], cli.lora_merge, &err))
            llp_die(cli.tool, "%s", err.msg);
    }
    int need = (o.n_prompt > o.n_gen + 1 ? o.n_prompt : o.n_gen + 1);
    int max_par = 1;
    for (int i = 0; i < o.n_parallel; i++)
        if (o.parallel[i] > max_par) max_par = o.parallel[i];
    int n_batch = o.n_prompt > 0 ? o.n_prompt : 1;
    if (o.n_parallel) {
        /* as llama-batched-bench: prompts go in calls of up to 2048 tokens */
        need = o.n_prompt + o.n_gen;
        long all = (long)max_par * o.n_prompt;
        n_batch = all > 2048 ? 2048 : all > max_par ? (int)all : max_par;
    }
    llp_context_params cp = { .n_ctx = need > 16 ? need : 16, .n_batch = n_batch,
                              .n_seq = max_par, .n_threads = cli.threads,
                              .kv_type = cli.kv_type };
    llp_context *ctx = llp_context_new(m, &cp, &err);
    if (!ctx) llp_die(cli.tool, "%s", err.msg);
    int threads = llp_pool_size(llp_context_pool(ctx));
    const char *kernels = llp_matmul_kernels();

    if (o.csv)
        printf("test,%sthreads,tok_s_median,tok_s_min,tok_s_max,weight_gb_s,model,kernels\n",
               o.n_parallel ? "parallel," : "");
    else
        printf("model %s: %.2f B params, %.2f GB of weights per token, kernels %s\n", label,
               m->n_params / 1e9, llp_bench_bytes_per_token(m) / 1e9, kernels);
    llp_bench_result r;
    rc = LLP_EXIT_OK;
    for (int i = 0; i < o.n_parallel; i++) {
        llp_bench_result pp, tg;
        if (llp_bench_parallel(ctx, o.parallel[i], o.n_prompt, o.n_gen, o.reps, threads, 1,
                               &pp, &tg, &err))
            llp_die(cli.tool, "%s", err.msg);
        if (o.n_prompt > 0) print_result(&o, &pp, label, kernels);
        if (o.n_gen > 0) print_result(&o, &tg, label, kernels);
    }
    if (o.n_prompt > 0 && !o.n_parallel) {
        if (llp_bench_pp(ctx, o.n_prompt, o.reps, threads, 1, &r, &err)) llp_die(cli.tool, "%s", err.msg);
        print_result(&o, &r, label, kernels);
    }
    if (o.n_gen > 0 && !o.n_parallel) {
        if (llp_bench_tg(ctx, o.n_gen, o.reps, threads, 2, &r, &err)) llp_die(cli.tool, "%s", err.msg);
        print_result(&o, &r, label, kernels);
    }
    llp_context_free(ctx);
    llp_model_free(m);
    for (int i = 0; i < cli.n_lora; i++) llp_lora_free(loras[i]);
    free(loras);
    llp_cli_free(&cli);
    return rc;
}
