/*
 * llp-quantize — convert a GGUF model to another weight type or llama.cpp
 * mix: `llp-quantize IN.gguf OUT.gguf TYPE`.
 *
 * Wiring only: flags, a progress line per tensor and the summary on stderr.
 * The type rules and the conversion are in lib/quantize.c.
 *
 * Not for: anything another tool needs. This tool reads no records, so it
 * takes none of the record options the other tools share (cli.h); it uses
 * the shared number parsing and message printers.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "quant.h"
#include "quantize.h"
#include "lora.h"
#include "threads.h"

static const char tool[] = "llp-quantize";

static const char usage_head[] =
    "Usage: llp-quantize [OPTIONS] IN.gguf OUT.gguf TYPE\n"
    "\n"
    "Write the model IN in another weight type to OUT. TYPE is a llama.cpp file\n"
    "type; the mixes choose a type per tensor as llama.cpp's quantizer does (a\n"
    "Q4_K_M file from llamapipe has the same tensor types as a published one):\n"
    "norms stay as they are, output.weight gets Q6_K (Q8_0 for Q8_0), and\n"
    "attn_v/ffn_down get more bits in some layers. Rows that are not a multiple\n"
    "of a K-quant's 256 values fall back to Q4_0/Q5_0/Q5_1/Q8_0.\n"
    "\n"
    "Types: ";

static const char usage_tail[] =
    "\n"
    "\n"
    "Options:\n"
    "  -t, --threads N        threads converting rows (default: physical cores)\n"
    "  -q, --quiet            no progress line per tensor, no summary\n"
    "      --pure             every matrix in TYPE's base type: no mix rules, no\n"
    "                         Q6_K output (fallback still applies)\n"
    "      --allow-requantize convert tensors that are already quantized (their\n"
    "                         error adds up; by default only F32/F16/BF16 sources)\n"
    "  -h, --help             print this help\n"
    "      --version          print the version\n"
    "\n"
    "Exit status: 0 done, 1 a bad input file or a write error, 2 a usage error.\n"
    "\n"
    "Examples:\n"
    "  llp-quantize llama-2-7b.f16.gguf llama-2-7b.Q4_K_M.gguf Q4_K_M\n"
    "  llp-quantize -t 8 model-f32.gguf model-q8_0.gguf Q8_0\n"
    "  llp-quantize --pure model-f16.gguf model-q4_k.gguf Q4_K\n"
    "  llp-quantize --lora sentiment.gguf base.Q4_0.gguf tuned.Q4_0.gguf Q4_0\n";

enum { OPT_PURE = 1000, OPT_REQUANT, OPT_VERSION, OPT_LORA };

static const struct option options[] = {
    { "threads", required_argument, NULL, 't' },
    { "quiet", no_argument, NULL, 'q' },
    { "pure", no_argument, NULL, OPT_PURE },
    { "allow-requantize", no_argument, NULL, OPT_REQUANT },
    { "lora", required_argument, NULL, OPT_LORA },
    { "help", no_argument, NULL, 'h' },
    { "version", no_argument, NULL, OPT_VERSION },
    { 0 },
};

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "%s: error: ", tool);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry '%s --help'.\n", tool);
    return LLP_EXIT_USAGE;
}

/* Bytes for people: "512 B", "18.00 KiB", "3.80 GiB". */
static void mib(uint64_t bytes, char *buf, size_t size)
{
    static const char *units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
    double v = (double)bytes;
    int u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        u++;
    }
    snprintf(buf, size, u ? "%.2f %s" : "%.0f %s", v, units[u]);
}

static void on_tensor(void *ctx, const llp_quant_tensor_report *r)
{
    char shape[64] = "", before[32], after[32];
    size_t len = 0;
    for (uint32_t d = 0; d < r->n_dims && len < sizeof shape - 24; d++)
        len += (size_t)snprintf(shape + len, sizeof shape - len, "%s%lld", d ? " x " : "",
                                (long long)r->ne[d]);
    mib(r->src_bytes, before, sizeof before);
    mib(r->dst_bytes, after, sizeof after);
    fprintf(stderr, "[%*d/%d] %-28s %-14s %-5s -> %-5s %11s -> %11s%s%s\n",
            r->count >= 100 ? 3 : 2, r->index, r->count, r->name, shape,
            llp_type_name(r->src_type), llp_type_name(r->dst_type), before, after,
            r->converted ? "" : " (copied)", r->fallback ? " (fallback: rows not a multiple "
                                                           "of the block)" : "");
}

static void print_summary(const char *out, uint32_t ftype, const llp_quantize_stats *st,
                          double seconds)
{
    char a[32], b[32];
    fprintf(stderr, "%s: wrote %s as %s: %d tensors (%d converted, %d copied", tool, out,
            llp_ftype_name(ftype), st->n_tensors, st->n_converted,
            st->n_tensors - st->n_converted);
    if (st->n_fallback) fprintf(stderr, ", %d by fallback", st->n_fallback);
    fprintf(stderr, ") in %.1f s\n", seconds);
    for (uint32_t t = 0; t < LLP_TYPE_COUNT; t++) {
        if (!st->n_by_type[t]) continue;
        mib(st->bytes_by_type[t], a, sizeof a);
        fprintf(stderr, "  %-5s %4d tensors %12s\n", llp_type_name(t), st->n_by_type[t], a);
    }
    mib(st->src_bytes, a, sizeof a);
    mib(st->dst_bytes, b, sizeof b);
    fprintf(stderr, "  weights: %s -> %s", a, b);
    if (st->n_params)
        fprintf(stderr, " (%.2f -> %.2f bits per weight)",
                8.0 * (double)st->src_bytes / (double)st->n_params,
                8.0 * (double)st->dst_bytes / (double)st->n_params);
    mib(st->src_file_bytes, a, sizeof a);
    mib(st->dst_file_bytes, b, sizeof b);
    fprintf(stderr, "\n  file:    %s -> %s\n", a, b);
}

int main(int argc, char **argv)
{
    llp_quantize_opts o = { 0 };
    llp_lora **loras = NULL;
    float *scales = NULL;
    int n_lora = 0;
    bool quiet = false;
    llp_err err = { "" };
    int c;

    opterr = 0;
    while ((c = getopt_long(argc, argv, ":t:qh", options, NULL)) != -1) {
        switch (c) {
        case 't':
            if (llp_opt_int("--threads", optarg, 1, 1024, &o.n_threads, &err))
                return usage_error("%s", err.msg);
            break;
        case 'q': quiet = true; break;
        case OPT_PURE: o.pure = true; break;
        case OPT_REQUANT: o.allow_requantize = true; break;
        case OPT_LORA: {
            char *path;
            float scale;
            if (llp_lora_parse_spec(optarg, &path, &scale, &err))
                return usage_error("%s", err.msg);
            llp_lora *a = llp_lora_load(path, &err);
            free(path);
            if (!a) {
                llp_error(tool, "%s", err.msg);
                return LLP_EXIT_FATAL;
            }
            loras = llp_realloc(loras, sizeof *loras * (size_t)(n_lora + 1));
            scales = llp_realloc(scales, sizeof *scales * (size_t)(n_lora + 1));
            loras[n_lora] = a;
            scales[n_lora++] = scale;
            break;
        }
        case 'h':
            printf("%s%s%s", usage_head, llp_ftype_target_names(), usage_tail);
            return LLP_EXIT_OK;
        case OPT_VERSION:
            printf("%s (llamapipe) %s\n", tool, LLP_VERSION);
            return LLP_EXIT_OK;
        case ':':
            return usage_error("option '%s' needs an argument", argv[optind - 1]);
        default:
            return usage_error("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (argc - optind != 3)
        return usage_error("expected IN.gguf OUT.gguf TYPE, got %s",
                           argc - optind < 3 ? "too few arguments" : "too many arguments");
    const char *in = argv[optind], *out = argv[optind + 1], *type = argv[optind + 2];
    int ftype = llp_ftype_from_name(type);
    if (ftype < 0) {
        fprintf(stderr, "%s: error: unknown type '%s' (types: %s)\nTry '%s --help'.\n", tool,
                type, llp_ftype_target_names(), tool);
        return LLP_EXIT_USAGE;
    }
    if (strcmp(in, out) == 0)
        return usage_error("the output '%s' is the input: choose another file", out);
    o.ftype = (uint32_t)ftype;
    o.lora = (const llp_lora *const *)loras;
    o.lora_scale = scales;
    o.n_lora = n_lora;
    if (!quiet) o.on_tensor = on_tensor;

    llp_quantize_stats st;
    double t0 = llp_now();
    int rc = LLP_EXIT_OK;
    if (llp_quantize_file(in, out, &o, &st, &err) != 0) {
        llp_error(tool, "%s", err.msg);
        rc = LLP_EXIT_FATAL;
    } else if (!quiet) {
        print_summary(out, o.ftype, &st, llp_now() - t0);
    }
    for (int i = 0; i < n_lora; i++) llp_lora_free(loras[i]);
    free(loras);
    free(scales);
    return rc;
}
