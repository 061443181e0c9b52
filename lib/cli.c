/*
 * cli.c — common option parsing on getopt_long, strict numbers, messages
 * and the physical core count (see cli.h).
 *
 * Not for: any tool's own options beyond passing them to its callback, or
 * the meaning of the options (the tools and lib/ modules decide that).
 */
#include "cli.h"
#include "lora.h"
#include "threads.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <inttypes.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

/* Ids of the common long-only options; below LLP_OPT_TOOL, above any char. */
enum {
    OPT_DB = 1000, OPT_NO_DB, OPT_NO_CACHE, OPT_IN, OPT_OUT, OPT_FIELD, OPT_INTO,
    OPT_COLUMN, OPT_ID_COLUMN, OPT_NO_HEADER, OPT_FILES_FROM, OPT_PROGRESS,
    OPT_SHARD, OPT_VERSION, OPT_TEMP, OPT_TOP_K, OPT_TOP_P, OPT_MIN_P,
    OPT_REPEAT_PENALTY, OPT_SEED, OPT_STOP, OPT_KV_TYPE, OPT_PARALLEL, OPT_LORA, OPT_LORA_MERGE,
};

/* Every common option with its group (cli.h); a tool's table holds the
 * groups it takes. */
static const struct common_option {
    struct option opt;
    unsigned group;
} common_options[] = {
    {{"model", required_argument, NULL, 'm'}, LLP_CLI_MODEL},
    {{"threads", required_argument, NULL, 't'}, LLP_CLI_THREADS},
    {{"ctx-size", required_argument, NULL, 'c'}, LLP_CLI_CONTEXT},
    {{"kv-type", required_argument, NULL, OPT_KV_TYPE}, LLP_CLI_CONTEXT},
    {{"parallel", required_argument, NULL, OPT_PARALLEL}, LLP_CLI_PARALLEL},
    {{"lora", required_argument, NULL, OPT_LORA}, LLP_CLI_LORA},
    {{"lora-merge", no_argument, NULL, OPT_LORA_MERGE}, LLP_CLI_LORA},
    {{"db", required_argument, NULL, OPT_DB}, LLP_CLI_STORE},
    {{"no-db", no_argument, NULL, OPT_NO_DB}, LLP_CLI_STORE},
    {{"no-cache", no_argument, NULL, OPT_NO_CACHE}, LLP_CLI_STORE},
    {{"in", required_argument, NULL, OPT_IN}, LLP_CLI_RECORDS},
    {{"out", required_argument, NULL, OPT_OUT}, LLP_CLI_RECORDS},
    {{"field", required_argument, NULL, OPT_FIELD}, LLP_CLI_RECORDS},
    {{"into", required_argument, NULL, OPT_INTO}, LLP_CLI_RECORDS},
    {{"column", required_argument, NULL, OPT_COLUMN}, LLP_CLI_RECORDS},
    {{"id-column", required_argument, NULL, OPT_ID_COLUMN}, LLP_CLI_RECORDS},
    {{"no-header", no_argument, NULL, OPT_NO_HEADER}, LLP_CLI_RECORDS},
    {{"files-from", required_argument, NULL, OPT_FILES_FROM}, LLP_CLI_RECORDS},
    {{"quiet", no_argument, NULL, 'q'}, LLP_CLI_BASIC},
    {{"progress", no_argument, NULL, OPT_PROGRESS}, LLP_CLI_RECORDS},
    {{"shard", required_argument, NULL, OPT_SHARD}, LLP_CLI_RECORDS},
    {{"help", no_argument, NULL, 'h'}, LLP_CLI_BASIC},
    {{"version", no_argument, NULL, OPT_VERSION}, LLP_CLI_BASIC},
    {{"temp", required_argument, NULL, OPT_TEMP}, LLP_CLI_SAMPLING},
    {{"top-k", required_argument, NULL, OPT_TOP_K}, LLP_CLI_SAMPLING},
    {{"top-p", required_argument, NULL, OPT_TOP_P}, LLP_CLI_SAMPLING},
    {{"min-p", required_argument, NULL, OPT_MIN_P}, LLP_CLI_SAMPLING},
    {{"repeat-penalty", required_argument, NULL, OPT_REPEAT_PENALTY}, LLP_CLI_SAMPLING},
    {{"seed", required_argument, NULL, OPT_SEED}, LLP_CLI_SAMPLING},
    {{"verbose", no_argument, NULL, 'v'}, LLP_CLI_SAMPLING},
    {{"n-predict", required_argument, NULL, 'n'}, LLP_CLI_N_PREDICT},
    {{"stop", required_argument, NULL, OPT_STOP}, LLP_CLI_SAMPLING},
};
enum { N_COMMON = sizeof common_options / sizeof common_options[0] };

/* The --help lines of each group, in the order they print. */
static const struct {
    unsigned group;
    const char *text;
} common_help[] = {
    {LLP_CLI_MODEL, "  -m, --model PATH       GGUF model (default: $LLP_MODEL)\n"},
    {LLP_CLI_THREADS, "  -t, --threads N        worker threads (default: physical cores)\n"},
    {LLP_CLI_CONTEXT, "  -c, --ctx-size N       context size in tokens (default: the model's)\n"
                      "      --kv-type f16|f32  KV cache element type (default: f16)\n"},
    {LLP_CLI_PARALLEL,
     "      --parallel N       records decoded together, 1-64 (default: up to 16, as\n"
     "                         memory for N full contexts allows; -v prints it)\n"},
    {LLP_CLI_LORA,
     "      --lora FILE[:SCALE]  apply a LoRA adapter (GGUF) with SCALE (default 1;\n"
     "                         repeatable; applied on the fly)\n"
     "      --lora-merge       merge the adapters into the weights at load instead\n"},
    {LLP_CLI_STORE,
     "      --db PATH          store (default: $LLP_DB, else\n"
     "                         $XDG_DATA_HOME/llamapipe/llamapipe.db)\n"
     "      --no-db            run without recording in the store\n"
     "      --no-cache         recompute items the store already has\n"},
    {LLP_CLI_RECORDS,
     "      --in FORMAT        jsonl, csv, tsv, lines or doc (default: by suffix;\n"
     "                         stdin starting with '{' is jsonl)\n"
     "      --out FORMAT       jsonl, csv, tsv or text (default: csv for csv\n"
     "                         input, tsv for tsv, else jsonl)\n"
     "      --field NAME       read this field instead of 'text'\n"
     "      --into NAME        name the added field(s) NAME, NAME_... (an added field\n"
     "                         never replaces an input field: a clash is refused)\n"
     "      --column NAME      CSV/TSV column holding the text\n"
     "      --id-column NAME   field or column holding the record id\n"
     "      --no-header        CSV/TSV without a header row (columns col1..colN)\n"
     "      --files-from FILE  read input paths from FILE, one a line ('-': stdin)\n"},
    {LLP_CLI_BASIC, "  -q, --quiet            no progress, no notes (nor the Ctrl-C notice)\n"},
    {LLP_CLI_RECORDS,
     "      --progress         progress on stderr even when it is not a terminal\n"
     "                         (there: one line a second, not redrawn)\n"
     "      --shard K/N        only records whose id hashes to K modulo N\n"},
    {LLP_CLI_SAMPLING,
     "      --temp T           sampling temperature, 0 = greedy\n"
     "      --top-k K          keep the K likeliest tokens (0 = off)\n"
     "      --top-p P          nucleus sampling (1 = off)\n"
     "      --min-p P          drop tokens below P x the top probability (0 = off)\n"
     "      --repeat-penalty R penalty for repeated tokens (1 = off)\n"
     "      --seed N           random seed (same seed, same output; default: drawn\n"
     "                         at random when --temp > 0, and stored with the job)\n"
     "  -v, --verbose          say the seed drawn, the --parallel chosen and, at\n"
     "                         the end, where the time went\n"},
    {LLP_CLI_N_PREDICT, "  -n, --n-predict N      tokens to generate (-1 = until end of text)\n"},
    {LLP_CLI_SAMPLING, "      --stop STR         stop when STR is generated (repeatable)\n"},
    {LLP_CLI_BASIC,
     "  -h, --help             this help\n"
     "      --version          print the version\n"},
};

/* Short option letters of each group, in getopt syntax. */
static const struct {
    unsigned group;
    const char *letters;
} common_short[] = {
    {LLP_CLI_MODEL, "m:"}, {LLP_CLI_THREADS, "t:"}, {LLP_CLI_CONTEXT, "c:"},
    {LLP_CLI_BASIC, "qh"}, {LLP_CLI_N_PREDICT, "n:"}, {LLP_CLI_SAMPLING, "v"},
};

static const char exit_status_records[] =
    "\n"
    "Exit status: 0 all records done, 1 fatal error, 2 usage error,\n"
    "3 finished but some records failed (they carry an 'error' field).\n";
static const char exit_status_other[] = "\nExit status: 0 done, 1 fatal error, 2 usage error.\n";

static void print_common_help(FILE *out, unsigned groups)
{
    fputs("Common options:\n", out);
    for (size_t i = 0; i < sizeof common_help / sizeof common_help[0]; i++)
        if (groups & common_help[i].group) fputs(common_help[i].text, out);
    fputs(groups & LLP_CLI_RECORDS ? exit_status_records : exit_status_other, out);
}

const char *llp_cli_common_help(void)
{
    static char text[4096];
    if (!text[0]) {
        FILE *f = fmemopen(text, sizeof text - 1, "w");
        if (f) {
            print_common_help(f, LLP_CLI_ALL);
            fclose(f);
        }
    }
    return text;
}

/* ---- messages --------------------------------------------------------- */

static void vmessage(const char *tool, const char *kind, const char *fmt, va_list ap)
{
    fprintf(stderr, "%s: %s: ", tool ? tool : "llamapipe", kind);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void llp_die(const char *tool, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmessage(tool, "error", fmt, ap);
    va_end(ap);
    exit(LLP_EXIT_FATAL);
}

void llp_error(const char *tool, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmessage(tool, "error", fmt, ap);
    va_end(ap);
}

void llp_warn(const char *tool, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmessage(tool, "warning", fmt, ap);
    va_end(ap);
}

void llp_note(const char *tool, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmessage(tool, "note", fmt, ap);
    va_end(ap);
}

int llp_cli_usage_error(const llp_cli *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmessage(c->tool, "error", fmt, ap);
    va_end(ap);
    fprintf(stderr, "Try '%s --help'.\n", c->tool);
    return LLP_EXIT_USAGE;
}

/* ---- strict numbers --------------------------------------------------- */

int llp_opt_long(const char *flag, const char *arg, long min, long max,
                 long *out, llp_err *err)
{
    char *end;
    errno = 0;
    /* strtol skips leading space and stops at junk; both are refused here. */
    long v = arg[0] && !isspace((unsigned char)arg[0]) ? strtol(arg, &end, 10) : 0;
    if (!arg[0] || isspace((unsigned char)arg[0]) || *end)
        return llp_err_set(err, "%s: expected an integer, got '%s'", flag, arg);
    if (errno == ERANGE || v < min || v > max)
        return llp_err_set(err, "%s: must be between %ld and %ld, got '%s'", flag, min, max, arg);
    *out = v;
    return 0;
}

int llp_opt_int(const char *flag, const char *arg, int min, int max, int *out, llp_err *err)
{
    long v;
    if (llp_opt_long(flag, arg, min, max, &v, err) < 0) return -1;
    *out = (int)v;
    return 0;
}

int llp_opt_u64(const char *flag, const char *arg, uint64_t *out, llp_err *err)
{
    char *end;
    /* strtoull would turn "-1" into 2^64-1; a sign is refused instead. */
    if (!isdigit((unsigned char)arg[0]))
        return llp_err_set(err, "%s: expected a non-negative integer, got '%s'", flag, arg);
    errno = 0;
    unsigned long long v = strtoull(arg, &end, 10);
    if (*end) return llp_err_set(err, "%s: expected a non-negative integer, got '%s'", flag, arg);
    if (errno == ERANGE)
        return llp_err_set(err, "%s: must be at most %llu, got '%s'", flag,
                           (unsigned long long)UINT64_MAX, arg);
    *out = (uint64_t)v;
    return 0;
}

int llp_opt_double(const char *flag, const char *arg, double min, double max,
                   double *out, llp_err *err)
{
    char *end = NULL;
    errno = 0;
    double v = arg[0] && !isspace((unsigned char)arg[0]) ? strtod(arg, &end) : NAN;
    if (!end || *end || !isfinite(v))
        return llp_err_set(err, "%s: expected a number, got '%s'", flag, arg);
    if (v < min || v > max)
        return llp_err_set(err, "%s: must be between %g and %g, got '%s'", flag, min, max, arg);
    *out = v;
    return 0;
}

int llp_opt_shard(const char *arg, int *k, int *n, llp_err *err)
{
    const char *slash = strchr(arg, '/');
    long kv, nv;
    llp_err ignored;
    if (!slash)
        return llp_err_set(err, "--shard: expected K/N (for example 0/4), got '%s'", arg);
    char *kpart = llp_strndup(arg, (size_t)(slash - arg));
    int bad = llp_opt_long("--shard", kpart, 0, INT_MAX - 1, &kv, &ignored) < 0 ||
              llp_opt_long("--shard", slash + 1, 1, INT_MAX, &nv, &ignored) < 0;
    free(kpart);
    if (bad)
        return llp_err_set(err, "--shard: expected K/N with integers 0 <= K < N, got '%s'", arg);
    if (kv >= nv)
        return llp_err_set(err, "--shard: K must be less than N (0 <= K < N), got '%s'", arg);
    *k = (int)kv;
    *n = (int)nv;
    return 0;
}

/* ---- parsing ---------------------------------------------------------- */

void llp_cli_init(llp_cli *c, const char *tool)
{
    memset(c, 0, sizeof *c);
    c->tool = tool;
    const char *model = getenv("LLP_MODEL");
    c->model = model && *model ? model : NULL;
    c->threads = llp_physical_cores();
    c->in = LLP_FMT_AUTO;
    c->out = LLP_FMT_AUTO;
    c->shard_k = 0;
    c->shard_n = 1;
    c->sampling.temp = 0.8;
    c->sampling.top_k = 40;
    c->sampling.top_p = 0.95;
    c->sampling.min_p = 0.05;
    c->sampling.repeat_penalty = 1.1;
    c->sampling.seed = 0;
    c->sampling.n_predict = -1;
}

void llp_cli_free(llp_cli *c)
{
    for (int i = 0; i < c->sampling.n_stop; i++) free(c->sampling.stop[i]);
    free(c->sampling.stop);
    c->sampling.stop = NULL;
    c->sampling.n_stop = 0;
    for (int i = 0; i < c->n_lora; i++) free(c->lora[i]);
    free(c->lora);
    free(c->lora_scale);
    c->lora = NULL;
    c->lora_scale = NULL;
    c->n_lora = 0;
}

/* The string-valued options: an empty name can only be a mistake. */
static int set_name(const char **dst, const char *flag, const char *arg, llp_err *err)
{
    if (!*arg) return llp_err_set(err, "%s: expected a name, got ''", flag);
    *dst = arg;
    return 0;
}

/* Handle one common option; 0 or -1 with err. */
static int common_option(llp_cli *c, int id, const char *arg, llp_err *err)
{
    llp_sampling_opts *s = &c->sampling;
    switch (id) {
    case 'm': c->model = arg; return 0;
    case 't': return llp_opt_int("--threads", arg, 1, 1024, &c->threads, err);
    case 'c':
        if (llp_opt_int("--ctx-size", arg, 0, 1 << 20, &c->ctx_size, err) < 0) return -1;
        if (c->ctx_size > 0 && c->ctx_size < 16)
            return llp_err_set(err, "--ctx-size: must be 0 (the model's) or at least 16, got '%s'", arg);
        return 0;
    case OPT_PARALLEL:
        return llp_opt_int("--parallel", arg, 1, LLP_PARALLEL_MAX, &c->parallel, err);
    case OPT_KV_TYPE:
        c->kv_type_given = true;
        return llp_kv_type_parse(arg, &c->kv_type, err);
    case OPT_DB: c->db_path = arg; return 0;
    case OPT_NO_DB: c->no_db = true; return 0;
    case OPT_NO_CACHE: c->no_cache = true; return 0;
    case OPT_IN: return llp_format_parse_in(arg, &c->in, err);
    case OPT_OUT: return llp_format_parse_out(arg, &c->out, err);
    case OPT_FIELD: return set_name(&c->field, "--field", arg, err);
    case OPT_INTO: return set_name(&c->into, "--into", arg, err);
    case OPT_COLUMN: return set_name(&c->column, "--column", arg, err);
    case OPT_ID_COLUMN: return set_name(&c->id_column, "--id-column", arg, err);
    case OPT_NO_HEADER: c->no_header = true; return 0;
    case OPT_FILES_FROM: return set_name(&c->files_from, "--files-from", arg, err);
    case 'q': c->quiet = true; return 0;
    case 'v': c->verbose = true; return 0;
    case OPT_PROGRESS: c->progress = true; return 0;
    case OPT_SHARD: return llp_opt_shard(arg, &c->shard_k, &c->shard_n, err);
    case OPT_TEMP: return llp_opt_double("--temp", arg, 0, 100, &s->temp, err);
    case OPT_TOP_K: return llp_opt_int("--top-k", arg, 0, INT_MAX, &s->top_k, err);
    case OPT_TOP_P: return llp_opt_double("--top-p", arg, 0, 1, &s->top_p, err);
    case OPT_MIN_P: return llp_opt_double("--min-p", arg, 0, 1, &s->min_p, err);
    case OPT_REPEAT_PENALTY:
        if (llp_opt_double("--repeat-penalty", arg, 0, 100, &s->repeat_penalty, err) < 0)
            return -1;
        if (s->repeat_penalty <= 0)
            return llp_err_set(err, "--repeat-penalty: must be greater than 0, got '%s'", arg);
        return 0;
    case OPT_SEED: return llp_opt_u64("--seed", arg, &s->seed, err);
    case 'n': return llp_opt_int("--n-predict", arg, -1, 1 << 24, &s->n_predict, err);
    case OPT_STOP:
        if (!*arg) return llp_err_set(err, "--stop: the stop string is empty");
        s->stop = llp_realloc(s->stop, (size_t)(s->n_stop + 1) * sizeof *s->stop);
        s->stop[s->n_stop++] = llp_strdup(arg);
        return 0;
    case OPT_LORA: {
        char *path;
        float scale;
        if (llp_lora_parse_spec(arg, &path, &scale, err)) return -1;
        c->lora = llp_realloc(c->lora, (size_t)(c->n_lora + 1) * sizeof *c->lora);
        c->lora_scale = llp_realloc(c->lora_scale, (size_t)(c->n_lora + 1) * sizeof(float));
        c->lora[c->n_lora] = path;
        c->lora_scale[c->n_lora++] = scale;
        return 0;
    }
    case OPT_LORA_MERGE: c->lora_merge = true; return 0;
    default: return llp_err_set(err, "internal error: unhandled option %d", id);
    }
}

/* The common short letters of these groups, getopt syntax ("m:t:qh"). */
static void group_shorts(unsigned groups, char *out, size_t n)
{
    out[0] = 0;
    for (size_t i = 0; i < sizeof common_short / sizeof common_short[0]; i++)
        if (groups & common_short[i].group) strncat(out, common_short[i].letters, n - strlen(out) - 1);
}

static bool is_common(int id, const char *shorts)
{
    if (id > 0 && id < 256) return id != ':' && strchr(shorts, id) != NULL;
    return id >= OPT_DB && id < LLP_OPT_TOOL;
}

/* A seed for a run that samples without --seed: from the kernel, else from
 * the clock and the process id. 32 bits, as llama.cpp draws them: short to
 * type back, and exact in any JSON reader (the store keeps it in params). */
static uint64_t random_seed(void)
{
    uint32_t s = 0;
    if (getrandom(&s, sizeof s, 0) == (ssize_t)sizeof s) return s;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint32_t)((uint64_t)ts.tv_sec * 1000003u ^ (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 16));
}

/* The long name of an option id, for messages ("--top-k"). */
static const char *option_name(const struct option *opts, int id, char *buf, size_t n)
{
    for (const struct option *o = opts; o->name; o++)
        if (o->val == id) {
            snprintf(buf, n, "--%s", o->name);
            return buf;
        }
    snprintf(buf, n, "-%c", id > 0 && id < 256 ? id : '?');
    return buf;
}

int llp_cli_parse(llp_cli *c, const llp_cli_tool *tool, int argc, char **argv, llp_err *err)
{
    size_t n_extra = 0;
    if (tool && tool->options)
        while (tool->options[n_extra].name) n_extra++;
    unsigned groups = (tool && tool->groups ? tool->groups : LLP_CLI_ALL) | LLP_CLI_BASIC;
    struct option *opts = llp_calloc(N_COMMON + n_extra + 1, sizeof *opts);
    size_t n_opts = 0;
    for (size_t i = 0; i < N_COMMON; i++)
        if (groups & common_options[i].group) opts[n_opts++] = common_options[i].opt;
    if (n_extra) memcpy(opts + n_opts, tool->options, n_extra * sizeof *opts);

    /* ':' first: a missing argument is returned as ':' rather than '?'. */
    char mine[32];
    group_shorts(groups, mine, sizeof mine);
    size_t sl = 1 + strlen(mine) + (tool && tool->short_options ? strlen(tool->short_options) : 0) + 1;
    char *shorts = llp_malloc(sl);
    snprintf(shorts, sl, ":%s%s", mine, tool && tool->short_options ? tool->short_options : "");

    llp_err local;
    llp_err *e = err ? err : &local;
    e->msg[0] = 0;
    int result = LLP_CLI_RUN;
    bool help = false, version = false, seed_given = false;

    /* optind = 0 makes glibc start over, so parsing twice in one process
     * (tests, the pipeline runner) works; opterr = 0 silences getopt's own
     * messages, which do not follow our "llp-NAME: error:" form. */
    optind = 0;
    opterr = 0;
    for (;;) {
        int idx = -1;
        int id = getopt_long(argc, argv, shorts, opts, &idx);
        if (id == -1) break;
        char name[128];
        if (id == '?') {
            /* getopt leaves little to go on: optopt is the option's id for a
             * value given to an option that takes none ("--quiet=x") and for
             * an unknown short option, 0 for an unknown long one. */
            const char *bad = argv[optind - 1];
            bool is_long = strncmp(bad, "--", 2) == 0;
            if (is_long && optopt && strchr(bad, '='))
                llp_err_set(e, "%s: takes no value, got '%s'",
                            option_name(opts, optopt, name, sizeof name), bad);
            else if (optopt > 0 && optopt < 256)
                llp_err_set(e, "unknown option '-%c'", optopt);
            else
                llp_err_set(e, "unknown or ambiguous option '%s'", bad);
            result = LLP_EXIT_USAGE;
            break;
        }
        if (id == ':') {
            llp_err_set(e, "%s: missing value", option_name(opts, optopt, name, sizeof name));
            result = LLP_EXIT_USAGE;
            break;
        }
        if (id == 'h') { help = true; continue; }
        if (id == OPT_VERSION) { version = true; continue; }
        if (id == OPT_SEED) seed_given = true;
        int rc;
        if (is_common(id, mine)) {
            rc = common_option(c, id, optarg, e);
        } else if (tool && tool->on_option) {
            e->msg[0] = 0;
            rc = tool->on_option(tool->ctx, id, optarg, e);
            if (rc < 0 && !e->msg[0])
                llp_err_set(e, "%s: invalid value '%s'", option_name(opts, id, name, sizeof name),
                            optarg ? optarg : "");
        } else {
            rc = llp_err_set(e, "%s: not handled by this tool", option_name(opts, id, name, sizeof name));
        }
        if (rc < 0) {
            result = LLP_EXIT_USAGE;
            break;
        }
    }
    free(opts);
    free(shorts);

    if (result == LLP_CLI_RUN) {
        if (help) {
            if (tool && tool->usage) fputs(tool->usage, stdout);
            else printf("Usage: %s [OPTION]... [FILE|DIR]...\n", c->tool);
            fputc('\n', stdout);
            print_common_help(stdout, groups);
            fflush(stdout);
            return LLP_EXIT_OK;
        }
        if (version) {
            printf("%s (llamapipe) %s\n", c->tool, LLP_VERSION);
            fflush(stdout);
            return LLP_EXIT_OK;
        }
        if (c->lora_merge && c->n_lora == 0) {
            llp_err_set(e, "--lora-merge: no --lora adapter to merge");
            if (!err) {
                fprintf(stderr, "%s: error: %s\n", c->tool, e->msg);
                fprintf(stderr, "Try '%s --help'.\n", c->tool);
            }
            return LLP_EXIT_USAGE;
        }
        c->args = argv + optind;
        c->n_args = argc - optind;
        c->progress = !c->quiet && (c->progress || isatty(STDERR_FILENO));
        if ((groups & LLP_CLI_SAMPLING) && c->sampling.temp > 0 && !seed_given) {
            c->sampling.seed = random_seed();
            c->sampling.seed_drawn = true;
            if (c->verbose)
                llp_note(c->tool, "seed %" PRIu64 " (drawn at random; --seed %" PRIu64
                         " repeats this run)", c->sampling.seed, c->sampling.seed);
        }
        return LLP_CLI_RUN;
    }
    if (!err) {
        fprintf(stderr, "%s: error: %s\n", c->tool, e->msg);
        fprintf(stderr, "Try '%s --help'.\n", c->tool);
    }
    return result;
}

void llp_cli_reader_opts(const llp_cli *c, llp_reader_opts *o)
{
    memset(o, 0, sizeof *o);
    o->format = c->in;
    o->paths = c->args;
    o->n_paths = c->n_args;
    o->files_from = c->files_from;
    o->field = c->field;
    o->column = c->column;
    o->id_column = c->id_column;
    o->no_header = c->no_header;
    o->quiet = c->quiet;
    o->tool = c->tool;
}

llp_sampling llp_cli_sampling(const llp_cli *c)
{
    llp_sampling s = llp_sampling_default();
    s.temp = (float)c->sampling.temp;
    s.top_k = c->sampling.top_k;
    s.top_p = (float)c->sampling.top_p;
    s.min_p = (float)c->sampling.min_p;
    s.repeat_penalty = (float)c->sampling.repeat_penalty;
    s.seed = c->sampling.seed;
    return s;
}
