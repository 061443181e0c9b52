/*
 * pipeline_schema.c — which options each pipeline step takes, and their
 * parsing through the same code as the binaries' command lines: a step's
 * YAML options become the words `--flag value`, and those words go through
 * llp_cli_parse (cli.c: ranges and messages of the common options) with a
 * tool table whose handlers apply the checks the binary applies (the task
 * libraries' own parsers: llp_classify_parse_labels, llp_pooling_parse...).
 * So a value llp-run accepts is exactly one its binary accepts.
 *
 * Not for: reading YAML (pipeline_load.c) or running a step
 * (pipeline_tasks.c).
 */
#include <stdlib.h>
#include <string.h>

#include "classify.h"
#include "pipeline_internal.h"
#include "summarize.h"

#define T(x) (1u << (x))
#define ALL_TOOLS (T(LLP_STEP_N_TOOLS) - 1)
#define GENERATING (T(LLP_STEP_GENERATE) | T(LLP_STEP_CLASSIFY) | T(LLP_STEP_SUMMARIZE))
#define SAMPLING (T(LLP_STEP_GENERATE) | T(LLP_STEP_SUMMARIZE))
#define COMPUTING (ALL_TOOLS & ~T(LLP_STEP_TOKENIZE))   /* tokenize has no -t, -c */

/* The common option groups (cli.h) of each tool's binary. */
static const unsigned tool_groups[LLP_STEP_N_TOOLS] = {
    LLP_CLI_TOKENIZE, LLP_CLI_GENERATE, LLP_CLI_EMBED, LLP_CLI_CLASSIFY, LLP_CLI_SUMMARIZE,
};

unsigned pl_tool_groups(llp_step_tool t) { return tool_groups[t]; }

/* Summary budgets the pipeline accepts; llp-summarize checks the same range. */
#define PL_MAX_TOKENS_MAX (1 << 20)

static const char *const tool_names[LLP_STEP_N_TOOLS] = {
    "tokenize", "generate", "embed", "classify", "summarize",
};
static const char *const tool_binaries[LLP_STEP_N_TOOLS] = {
    "llp-tokenize", "llp-generate", "llp-embed", "llp-classify", "llp-summarize",
};

const char *llp_step_tool_name(llp_step_tool t) { return tool_names[t]; }
const char *llp_step_tool_binary(llp_step_tool t) { return tool_binaries[t]; }

/* The table. "model" is listed for completeness of names; the loader takes
 * it out of the words (it becomes the step's model). */
static const pl_option options[] = {
    { "model", "model", PL_STRING, ALL_TOOLS, NULL, false },
    { "threads", "threads", PL_INT, COMPUTING, NULL, false },
    { "ctx_size", "ctx-size", PL_INT, COMPUTING, NULL, false },
    { "kv_type", "kv-type", PL_STRING, GENERATING | T(LLP_STEP_EMBED), NULL, false },
    { "parallel", "parallel", PL_INT, T(LLP_STEP_GENERATE) | T(LLP_STEP_SUMMARIZE), NULL, false },
    { "lora", "lora", PL_LIST, COMPUTING, NULL, false },
    { "lora_merge", "lora-merge", PL_BOOL, COMPUTING, NULL, false },
    { "field", "field", PL_STRING, ALL_TOOLS, NULL, false },
    { "into", "into", PL_STRING, ALL_TOOLS, NULL, false },
    { "no_cache", "no-cache", PL_BOOL, ALL_TOOLS, NULL, false },
    /* sampling: generate and summarize sample (classify scores, no sampling) */
    { "temp", "temp", PL_FLOAT, SAMPLING, NULL, false },
    { "top_k", "top-k", PL_INT, SAMPLING, NULL, false },
    { "top_p", "top-p", PL_FLOAT, SAMPLING, NULL, false },
    { "min_p", "min-p", PL_FLOAT, SAMPLING, NULL, false },
    { "repeat_penalty", "repeat-penalty", PL_FLOAT, SAMPLING, NULL, false },
    { "seed", "seed", PL_INT, SAMPLING, NULL, false },
    { "n_predict", "n-predict", PL_INT, T(LLP_STEP_GENERATE), NULL, false },
    { "stop", "stop", PL_LIST, SAMPLING, NULL, false },
    /* tokenize */
    { "pieces", "pieces", PL_BOOL, T(LLP_STEP_TOKENIZE), NULL, false },
    { "count", "count", PL_BOOL, T(LLP_STEP_TOKENIZE), NULL, false },
    { "special", "special", PL_BOOL, T(LLP_STEP_TOKENIZE), NULL, false },
    { "no_bos", "no-bos", PL_BOOL, T(LLP_STEP_TOKENIZE) | T(LLP_STEP_EMBED), NULL, false },
    /* generate, classify, summarize */
    { "chat", "chat", PL_BOOL, GENERATING, "no-chat", false },
    { "system", "system", PL_STRING, T(LLP_STEP_GENERATE) | T(LLP_STEP_SUMMARIZE), NULL, false },
    /* embed */
    { "pooling", "pooling", PL_STRING, T(LLP_STEP_EMBED), NULL, false },
    { "normalize", "normalize", PL_STRING, T(LLP_STEP_EMBED), NULL, false },
    { "long", "long", PL_STRING, T(LLP_STEP_EMBED), NULL, false },
    { "collection", "collection", PL_STRING, T(LLP_STEP_EMBED), NULL, false },
    /* classify */
    { "labels", "labels", PL_LIST, T(LLP_STEP_CLASSIFY), NULL, true },
    { "examples", "examples", PL_STRING, T(LLP_STEP_CLASSIFY), NULL, false },
    { "batch_rows", "batch-rows", PL_INT, T(LLP_STEP_CLASSIFY), NULL, false },
    { "prompt_file", "prompt-file", PL_STRING, T(LLP_STEP_CLASSIFY) | T(LLP_STEP_SUMMARIZE), NULL,
      false },
    /* summarize */
    { "max_tokens", "max-tokens", PL_INT, T(LLP_STEP_SUMMARIZE), NULL, false },
};
enum { N_OPTIONS = sizeof options / sizeof options[0] };

const pl_option *pl_option_find(llp_step_tool t, const char *name)
{
    for (int i = 0; i < N_OPTIONS; i++)
        if ((options[i].tools & T(t)) && strcmp(options[i].name, name) == 0) return &options[i];
    return NULL;
}

int pl_option_names(llp_step_tool t, const char **names, int cap)
{
    int n = 0;
    for (int i = 0; i < N_OPTIONS && n < cap; i++)
        if (options[i].tools & T(t)) names[n++] = options[i].name;
    return n;
}

/* Command-line options with a home elsewhere in the file. */
const char *pl_option_misplaced(const char *name)
{
    static const struct { const char *name, *home; } homes[] = {
        { "column", "under input:" }, { "id_column", "under input:" },
        { "no_header", "under input:" },
        { "in", "under input:, as the source's key (csv: PATH) or stdin's value (stdin: csv)" },
        { "files_from", "under input: (files:)" }, { "out", "under output:" },
        { "db", "at the top level (db:) or on the llp-run command line" },
        { "no_db", "on the llp-run command line (--no-db)" },
        { "shard", "on the llp-run command line (--shard K/N)" },
        { "quiet", "on the llp-run command line (-q)" },
        { "progress", "on the llp-run command line (--progress)" },
    };
    for (size_t i = 0; i < sizeof homes / sizeof homes[0]; i++)
        if (strcmp(homes[i].name, name) == 0) return homes[i].home;
    return NULL;
}

/* ---- "did you mean" ----------------------------------------------------------- */

/* Optimal string alignment distance: insertions, deletions, substitutions
 * and swaps of two neighbours each cost 1 ("lables" is 1 from "labels"). */
static int edit_distance(const char *a, const char *b)
{
    size_t n = strlen(a), m = strlen(b);
    if (n > 64 || m > 64) return 1000;
    int d[65][65];
    for (size_t i = 0; i <= n; i++) d[i][0] = (int)i;
    for (size_t j = 0; j <= m; j++) d[0][j] = (int)j;
    for (size_t i = 1; i <= n; i++)
        for (size_t j = 1; j <= m; j++) {
            int cost = a[i - 1] != b[j - 1];
            int best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best) best = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < best) best = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    return d[n][m];
}

const char *pl_suggest(const char *word, const char *const *names, int n)
{
    const char *best = NULL;
    int best_d = 1000;
    if (!word) return NULL;   /* a key that is not a scalar has no spelling */
    for (int i = 0; i < n; i++) {
        int dist = edit_distance(word, names[i]);
        if (dist < best_d) {
            best_d = dist;
            best = names[i];
        }
    }
    /* Close enough to be a slip of the keyboard: a third of the word, at
     * least one edit; and never the whole word. */
    int len = (int)strlen(word);
    int limit = len / 3 > 1 ? len / 3 : 1;
    if (len <= 2 || best_d > limit || best_d >= len) return NULL;
    return best;
}

/* ---- parsing a step's command line ------------------------------------------- */

enum {
    PL_OPT_PIECES = LLP_OPT_TOOL, PL_OPT_COUNT, PL_OPT_SPECIAL, PL_OPT_NO_BOS, PL_OPT_CHAT,
    PL_OPT_NO_CHAT, PL_OPT_SYSTEM, PL_OPT_POOLING, PL_OPT_NORMALIZE, PL_OPT_LONG,
    PL_OPT_COLLECTION, PL_OPT_LABELS, PL_OPT_EXAMPLES, PL_OPT_BATCH_ROWS, PL_OPT_PROMPT_FILE,
    PL_OPT_MAX_TOKENS,
};

/* Each tool's own long options, as its binary declares them. */
static const struct option tokenize_options[] = {
    { "pieces", no_argument, NULL, PL_OPT_PIECES },
    { "count", no_argument, NULL, PL_OPT_COUNT },
    { "special", no_argument, NULL, PL_OPT_SPECIAL },
    { "no-bos", no_argument, NULL, PL_OPT_NO_BOS },
    { 0 },
};
static const struct option generate_options[] = {
    { "chat", no_argument, NULL, PL_OPT_CHAT },
    { "no-chat", no_argument, NULL, PL_OPT_NO_CHAT },
    { "system", required_argument, NULL, PL_OPT_SYSTEM },
    { 0 },
};
static const struct option embed_options[] = {
    { "pooling", required_argument, NULL, PL_OPT_POOLING },
    { "normalize", required_argument, NULL, PL_OPT_NORMALIZE },
    { "long", required_argument, NULL, PL_OPT_LONG },
    { "no-bos", no_argument, NULL, PL_OPT_NO_BOS },
    { "collection", required_argument, NULL, PL_OPT_COLLECTION },
    { 0 },
};
static const struct option classify_options[] = {
    { "labels", required_argument, NULL, PL_OPT_LABELS },
    { "prompt-file", required_argument, NULL, PL_OPT_PROMPT_FILE },
    { "examples", required_argument, NULL, PL_OPT_EXAMPLES },
    { "chat", no_argument, NULL, PL_OPT_CHAT },
    { "no-chat", no_argument, NULL, PL_OPT_NO_CHAT },
    { "batch-rows", required_argument, NULL, PL_OPT_BATCH_ROWS },
    { 0 },
};
static const struct option summarize_options[] = {
    { "max-tokens", required_argument, NULL, PL_OPT_MAX_TOKENS },
    { "prompt-file", required_argument, NULL, PL_OPT_PROMPT_FILE },
    { "chat", no_argument, NULL, PL_OPT_CHAT },
    { "no-chat", no_argument, NULL, PL_OPT_NO_CHAT },
    { "system", required_argument, NULL, PL_OPT_SYSTEM },
    { 0 },
};
static const struct option *const tool_options[LLP_STEP_N_TOOLS] = {
    tokenize_options, generate_options, embed_options, classify_options, summarize_options,
};

static int name_arg(const char **dst, const char *flag, const char *arg, llp_err *err)
{
    if (!*arg) return llp_err_set(err, "--%s: expected a name, got ''", flag);
    *dst = arg;
    return 0;
}

static int on_option(void *ctx, int id, const char *arg, llp_err *err)
{
    pl_step_opts *o = ctx;
    switch (id) {
    case PL_OPT_PIECES: o->pieces = true; return 0;
    case PL_OPT_COUNT: o->count = true; return 0;
    case PL_OPT_SPECIAL: o->special = true; return 0;
    case PL_OPT_NO_BOS: o->no_bos = true; o->embed.add_bos = 0; return 0;
    case PL_OPT_CHAT: o->chat = 1; return 0;
    case PL_OPT_NO_CHAT: o->chat = 0; return 0;
    case PL_OPT_SYSTEM: o->system = arg; return 0;
    case PL_OPT_POOLING: return llp_pooling_parse(arg, &o->embed.pooling, err);
    case PL_OPT_NORMALIZE: return llp_embed_norm_parse(arg, &o->embed.normalize, err);
    case PL_OPT_LONG: return llp_embed_long_parse(arg, &o->embed.long_mode, err);
    case PL_OPT_COLLECTION:
        if (!*arg) return llp_err_set(err, "--collection: the name is empty");
        o->collection = arg;
        return 0;
    case PL_OPT_LABELS: {
        char **labels;
        int n;
        if (llp_classify_parse_labels(arg, &labels, &n, err)) return -1;
        llp_classify_labels_free(labels, n);
        o->labels = arg;
        return 0;
    }
    case PL_OPT_EXAMPLES: return name_arg(&o->examples, "examples", arg, err);
    case PL_OPT_PROMPT_FILE: return name_arg(&o->prompt_file, "prompt-file", arg, err);
    case PL_OPT_BATCH_ROWS:
        return llp_opt_int("--batch-rows", arg, 1, LLP_CLASSIFY_MAX_ROWS, &o->batch_rows, err);
    case PL_OPT_MAX_TOKENS:
        return llp_opt_int("--max-tokens", arg, LLP_SUMMARY_MIN_TOKENS, PL_MAX_TOKENS_MAX,
                           &o->max_tokens, err);
    }
    return llp_err_set(err, "unhandled option");
}

int pl_parse_step(llp_step_tool t, int argc, char **argv, llp_cli *cli, pl_step_opts *opts,
                  llp_err *err)
{
    memset(opts, 0, sizeof *opts);
    opts->tool = t;
    opts->chat = -1;
    opts->embed.add_bos = -1;
    llp_cli_init(cli, tool_binaries[t]);
    if (t == LLP_STEP_SUMMARIZE) cli->sampling.temp = 0;
    llp_cli_tool spec = { .groups = tool_groups[t], .options = tool_options[t],
                          .on_option = on_option, .ctx = opts };
    /* getopt permutes its argv: parse a copy so the caller's stays in order */
    char **copy = llp_calloc((size_t)argc + 1, sizeof *copy);
    memcpy(copy, argv, sizeof *copy * (size_t)argc);
    int rc = llp_cli_parse(cli, &spec, argc, copy, err);
    if (rc == LLP_CLI_RUN) {
        /* positional words (input paths) now sit at the end of the copy; keep
         * them in the caller's array, which lives as long as the step */
        int first = argc - cli->n_args;
        for (int i = 0; i < cli->n_args; i++) argv[first + i] = cli->args[i];
        cli->args = argv + first;
        free(copy);
        return 0;
    }
    free(copy);
    llp_cli_free(cli);
    if (rc != LLP_EXIT_USAGE) return llp_err_set(err, "--help and --version are not step options");
    return -1;
}

int pl_check_step(const pl_step_opts *o, llp_err *err)
{
    if (o->tool == LLP_STEP_CLASSIFY && !o->labels)
        return llp_err_set(err, "classify: missing required option 'labels' (e.g. labels: [yes, no])");
    return 0;
}

/* "--top-k: must be ..." -> "top_k: must be ...": messages name the YAML key. */
static void rename_flag(llp_err *err, const pl_option *o)
{
    char flag[64];
    snprintf(flag, sizeof flag, "--%s", o->flag);
    size_t fl = strlen(flag);
    char buf[sizeof err->msg];
    if (strncmp(err->msg, flag, fl) == 0 && (err->msg[fl] == ':' || err->msg[fl] == ' '))
        snprintf(buf, sizeof buf, "%s%.900s", o->name, err->msg + fl);
    else
        snprintf(buf, sizeof buf, "%s: %.900s", o->name, err->msg);
    memcpy(err->msg, buf, sizeof buf);
}

int pl_check_option(llp_step_tool t, const pl_option *o, char **words, int n_words, llp_err *err)
{
    if (n_words == 0) return 0;
    /* lora_merge: true means something only beside lora:, which the check of
     * the whole step (load_step) sees; alone it would always be refused */
    if (!strcmp(o->name, "lora_merge")) return 0;
    char **argv = llp_calloc((size_t)n_words + 2, sizeof *argv);
    argv[0] = (char *)tool_binaries[t];
    memcpy(argv + 1, words, sizeof *argv * (size_t)n_words);
    llp_cli cli;
    pl_step_opts opts;
    int rc = pl_parse_step(t, n_words + 1, argv, &cli, &opts, err);
    if (rc == 0) {
        if (cli.n_args > 0)
            rc = llp_err_set(err, "unexpected value '%s'", cli.args[0]);
        llp_cli_free(&cli);
    }
    free(argv);
    if (rc) rename_flag(err, o);
    return rc;
}
