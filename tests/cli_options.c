/*
 * cli_options.c — the shared command line: defaults, every common option,
 * strict number parsing, usage errors in the "llp-NAME: error:" form with
 * exit code 2, --shard validation, tool options through the callback,
 * --help/--version, and the reader options built from the command line.
 *
 * Not for: what tools do with their options.
 */
#include <fcntl.h>
#include <limits.h>

#include "cli.h"
#include "tap.h"

/* Run llp_cli_parse on a NULL-terminated argument list (argv[0] added). */
static int parse(llp_cli *c, const llp_cli_tool *t, llp_err *err, const char *const *args)
{
    static char *argv[64];
    int argc = 0;
    argv[argc++] = (char *)"llp-test";
    while (*args && argc < 63) argv[argc++] = (char *)*args++;
    argv[argc] = NULL;
    llp_cli_init(c, "llp-test");
    return llp_cli_parse(c, t, argc, argv, err);
}

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})

/* Parse expecting a usage error whose message contains `want`. */
static void expect_error(const char *const *args, const char *want, const char *name)
{
    llp_cli c;
    llp_err err = {{0}};
    int rc = parse(&c, NULL, &err, args);
    ok(rc == LLP_EXIT_USAGE && strstr(err.msg, want) != NULL, "%s: %s", name, err.msg);
    llp_cli_free(&c);
}

/* Redirect fd (1 or 2) into a file while running the parse; returns what
 * was written (static storage). */
static const char *captured(int fd, llp_cli *c, const llp_cli_tool *t, const char *const *args, int *rc)
{
    static char buf[16384];
    char path[4096];
    snprintf(path, sizeof path, "%s/cli_options.%d.out", tmp_dir(), (int)getpid());
    fflush(stdout);
    fflush(stderr);
    int saved = dup(fd);
    int tmp = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    dup2(tmp, fd);
    *rc = parse(c, t, NULL, args);
    fflush(stdout);
    fflush(stderr);
    dup2(saved, fd);
    close(saved);
    ssize_t n = pread(tmp, buf, sizeof buf - 1, 0);
    buf[n > 0 ? n : 0] = 0;
    close(tmp);
    unlink(path);
    return buf;
}

static void test_defaults(void)
{
    setenv("LLP_MODEL", "/models/env.gguf", 1);
    llp_cli c;
    llp_err err = {{0}};
    int rc = parse(&c, NULL, &err, ARGS("-q"));
    is_int(rc, LLP_CLI_RUN, "no options: run");
    ok(c.model && strcmp(c.model, "/models/env.gguf") == 0, "model defaults to $LLP_MODEL");
    ok(c.threads >= 1, "threads default to the physical cores (%d)", c.threads);
    ok(c.shard_k == 0 && c.shard_n == 1, "shard defaults to 0/1");
    ok(c.in == LLP_FMT_AUTO && c.out == LLP_FMT_AUTO, "formats default to auto");
    ok(c.sampling.n_predict == -1 && c.sampling.top_k == 40 && c.sampling.temp > 0.79 &&
       c.sampling.temp < 0.81, "sampling defaults");
    ok(!c.progress, "-q: no progress");
    llp_cli_free(&c);
    unsetenv("LLP_MODEL");
    rc = parse(&c, NULL, &err, ARGS("-q"));
    ok(rc == LLP_CLI_RUN && c.model == NULL, "no $LLP_MODEL: no model");
    llp_cli_free(&c);
}

static void test_all_common(void)
{
    llp_cli c;
    llp_err err = {{0}};
    int rc = parse(&c, NULL, &err, ARGS(
        "a.csv", "-m", "m.gguf", "-t", "3", "-c", "2048", "--db", "x.db", "--no-db", "--no-cache",
        "--in", "csv", "--out=tsv", "--field", "summary", "--into", "gist", "--column", "review",
        "--id-column", "key", "--no-header", "--files-from", "-", "--progress", "--shard", "2/5",
        "--temp", "0", "--top-k", "10", "--top-p", "0.5", "--min-p", "0.1", "--repeat-penalty", "1.3",
        "--seed", "18446744073709551615", "-n", "64", "--stop", "\n\n", "--stop", "END", "b.csv"));
    is_int(rc, LLP_CLI_RUN, "every common option parses: %s", err.msg);
    ok(strcmp(c.model, "m.gguf") == 0 && c.threads == 3 && c.ctx_size == 2048, "model, threads, ctx");
    ok(strcmp(c.db_path, "x.db") == 0 && c.no_db && c.no_cache, "store options");
    ok(c.in == LLP_FMT_CSV && c.out == LLP_FMT_TSV, "--in, --out=VALUE");
    ok(strcmp(c.field, "summary") == 0 && strcmp(c.into, "gist") == 0 && strcmp(c.column, "review") == 0 &&
       strcmp(c.id_column, "key") == 0 && c.no_header && strcmp(c.files_from, "-") == 0, "record options");
    ok(c.progress, "--progress forces progress");
    ok(c.shard_k == 2 && c.shard_n == 5, "--shard 2/5");
    ok(c.sampling.temp == 0 && c.sampling.top_k == 10 && c.sampling.top_p == 0.5 &&
       c.sampling.min_p == 0.1 && c.sampling.repeat_penalty == 1.3 && c.sampling.n_predict == 64,
       "sampling flags");
    ok(c.sampling.seed == UINT64_MAX, "--seed takes the full u64 range");
    ok(c.sampling.n_stop == 2 && strcmp(c.sampling.stop[0], "\n\n") == 0 &&
       strcmp(c.sampling.stop[1], "END") == 0, "--stop is repeatable");
    ok(c.n_args == 2 && strcmp(c.args[0], "a.csv") == 0 && strcmp(c.args[1], "b.csv") == 0,
       "positional arguments before and after options");

    llp_reader_opts o;
    llp_cli_reader_opts(&c, &o);
    ok(o.n_paths == 2 && o.format == LLP_FMT_CSV && strcmp(o.column, "review") == 0 &&
       strcmp(o.field, "summary") == 0 && o.no_header && strcmp(o.tool, "llp-test") == 0,
       "reader options from the command line");
    llp_cli_free(&c);

    rc = parse(&c, NULL, &err, ARGS("--top-k", "5", "--", "--not-an-option"));
    ok(rc == LLP_CLI_RUN && c.n_args == 1 && strcmp(c.args[0], "--not-an-option") == 0,
       "'--' ends the options; parsing twice in one process works");
    llp_cli_free(&c);
}

static void test_strict_numbers(void)
{
    expect_error(ARGS("--top-k", "abc"), "--top-k: expected an integer, got 'abc'", "letters for an integer");
    expect_error(ARGS("--top-k", "5x"), "--top-k: expected an integer, got '5x'", "trailing junk");
    expect_error(ARGS("--top-k", ""), "--top-k: expected an integer, got ''", "empty value");
    expect_error(ARGS("--top-k", " 5"), "expected an integer, got ' 5'", "leading space");
    expect_error(ARGS("--top-k", "-1"), "--top-k: must be between 0 and", "negative top-k");
    expect_error(ARGS("--top-k", "99999999999999999999"), "--top-k: must be between", "overflow");
    expect_error(ARGS("-t", "0"), "--threads: must be between 1 and 1024, got '0'", "zero threads (short flag named long)");
    expect_error(ARGS("-c", "8"), "--ctx-size: must be 0 (the model's) or at least 16", "tiny context");
    expect_error(ARGS("--temp", "-0.5"), "--temp: must be between 0 and 100", "negative temperature");
    expect_error(ARGS("--temp", "nan"), "--temp: expected a number, got 'nan'", "nan refused");
    expect_error(ARGS("--temp", "inf"), "--temp: expected a number, got 'inf'", "inf refused");
    expect_error(ARGS("--temp", "0.7.1"), "--temp: expected a number", "two dots");
    expect_error(ARGS("--top-p", "1.5"), "--top-p: must be between 0 and 1, got '1.5'", "top-p above 1");
    expect_error(ARGS("--repeat-penalty", "0"), "--repeat-penalty: must be greater than 0", "zero penalty");
    expect_error(ARGS("--seed", "-1"), "--seed: expected a non-negative integer, got '-1'", "negative seed");
    expect_error(ARGS("--seed", "18446744073709551616"), "--seed: must be at most", "seed overflow");
    expect_error(ARGS("-n", "-2"), "--n-predict: must be between -1 and", "n-predict below -1");
    expect_error(ARGS("--stop", ""), "--stop: the stop string is empty", "empty stop");
    expect_error(ARGS("--column", ""), "--column: expected a name", "empty column name");

    long v;
    llp_err err = {{0}};
    ok(llp_opt_long("--x", "+7", 0, 10, &v, &err) == 0 && v == 7, "explicit plus sign accepted");
    double d;
    ok(llp_opt_double("--x", "1e-3", 0, 1, &d, &err) == 0 && d == 1e-3, "exponent form accepted");
}

static void test_shard(void)
{
    expect_error(ARGS("--shard", "4/4"), "--shard: K must be less than N (0 <= K < N), got '4/4'", "shard K = N");
    expect_error(ARGS("--shard", "1/0"), "--shard: expected K/N with integers 0 <= K < N", "shard N = 0");
    expect_error(ARGS("--shard", "-1/2"), "--shard: expected K/N with integers", "negative K");
    expect_error(ARGS("--shard", "3"), "--shard: expected K/N (for example 0/4), got '3'", "no slash");
    expect_error(ARGS("--shard", "a/b"), "--shard: expected K/N", "letters");
    expect_error(ARGS("--shard", "1/2/3"), "--shard: expected K/N", "two slashes");
    expect_error(ARGS("--shard", "/2"), "--shard: expected K/N", "empty K");
    int k, n;
    llp_err err = {{0}};
    ok(llp_opt_shard("0/1", &k, &n, &err) == 0 && k == 0 && n == 1, "shard 0/1");
    ok(llp_opt_shard("15/16", &k, &n, &err) == 0 && k == 15 && n == 16, "shard 15/16");
}

static void test_usage_errors(void)
{
    expect_error(ARGS("--bogus"), "unknown or ambiguous option '--bogus'", "unknown long option");
    expect_error(ARGS("-Z"), "unknown option '-Z'", "unknown short option");
    expect_error(ARGS("--no-db", "-Z"), "unknown option '-Z'", "unknown short option after a long one");
    expect_error(ARGS("--top-k"), "--top-k: missing value", "missing value");
    expect_error(ARGS("-m"), "--model: missing value", "missing value, short flag");
    expect_error(ARGS("--quiet=yes"), "--quiet: takes no value", "value for a flag");
    expect_error(ARGS("--in", "xml"), "--in: expected jsonl, csv, tsv, lines or doc, got 'xml'", "bad --in");
    expect_error(ARGS("--out", "doc"), "--out: expected jsonl, csv, tsv or text, got 'doc'", "bad --out");

    llp_cli c;
    int rc;
    const char *text = captured(2, &c, NULL, ARGS("--top-k", "abc"), &rc);
    is_int(rc, LLP_EXIT_USAGE, "printed usage error: exit code 2");
    ok(strcmp(text, "llp-test: error: --top-k: expected an integer, got 'abc'\nTry 'llp-test --help'.\n") == 0,
       "usage error printed on stderr in the llp-NAME form");
    llp_cli_free(&c);

    text = captured(1, &c, NULL, ARGS("--help"), &rc);
    ok(rc == LLP_EXIT_OK && strstr(text, "Common options:") && strstr(text, "--shard K/N"),
       "--help prints the common options and exits 0");
    llp_cli_free(&c);
    text = captured(1, &c, NULL, ARGS("--version"), &rc);
    ok(rc == LLP_EXIT_OK && strcmp(text, "llp-test (llamapipe) " LLP_VERSION "\n") == 0, "--version");
    llp_cli_free(&c);

    parse(&c, NULL, NULL, ARGS("-q"));
    fflush(stderr);
    int saved = dup(2), null = open("/dev/null", O_WRONLY);
    dup2(null, 2);
    rc = llp_cli_usage_error(&c, "--labels is required");
    dup2(saved, 2);
    close(saved);
    close(null);
    is_int(rc, LLP_EXIT_USAGE, "llp_cli_usage_error returns 2");
    llp_cli_free(&c);
}

/* A tool with its own options, as llp-embed has -k and --collection. */
struct tool_opts { long k; const char *collection; bool flag; };
enum { OPT_COLLECTION = LLP_OPT_TOOL, OPT_FLAG, OPT_VAGUE };

static int on_tool_option(void *ctx, int id, const char *arg, llp_err *err)
{
    struct tool_opts *o = ctx;
    switch (id) {
    case 'k': return llp_opt_long("-k", arg, 1, 1000, &o->k, err);
    case OPT_COLLECTION: o->collection = arg; return 0;
    case OPT_FLAG: o->flag = true; return 0;
    case OPT_VAGUE: return -1;   /* no message: the parser supplies one */
    }
    return -1;
}

static void test_tool_options(void)
{
    static const struct option extra[] = {
        {"collection", required_argument, NULL, OPT_COLLECTION},
        {"flag", no_argument, NULL, OPT_FLAG},
        {"vague", required_argument, NULL, OPT_VAGUE},
        {0}};
    struct tool_opts o = {0};
    llp_cli_tool t = {.usage = "Usage: llp-test [OPTION]...\n", .options = extra,
                      .short_options = "k:", .on_option = on_tool_option, .ctx = &o};
    llp_cli c;
    llp_err err = {{0}};
    int rc = parse(&c, &t, &err, ARGS("-k", "5", "--collection", "docs", "--flag", "--top-k", "3", "in.txt"));
    ok(rc == LLP_CLI_RUN && o.k == 5 && strcmp(o.collection, "docs") == 0 && o.flag && c.sampling.top_k == 3 &&
       c.n_args == 1, "tool options and common options together");
    llp_cli_free(&c);
    rc = parse(&c, &t, &err, ARGS("-k", "0"));
    ok(rc == LLP_EXIT_USAGE && strcmp(err.msg, "-k: must be between 1 and 1000, got '0'") == 0,
       "tool callback's message is the usage error");
    llp_cli_free(&c);
    rc = parse(&c, &t, &err, ARGS("--vague", "x"));
    ok(rc == LLP_EXIT_USAGE && strcmp(err.msg, "--vague: invalid value 'x'") == 0,
       "callback without a message: a generic one naming the option (%s)", err.msg);
    llp_cli_free(&c);
    rc = parse(&c, &t, &err, ARGS("--coll", "abbrev"));
    ok(rc == LLP_CLI_RUN && strcmp(o.collection, "abbrev") == 0, "unique abbreviations work");
    llp_cli_free(&c);
    const char *text = captured(1, &c, &t, ARGS("-h"), &rc);
    ok(rc == LLP_EXIT_OK && strncmp(text, "Usage: llp-test [OPTION]...\n\nCommon options:", 44) == 0,
       "-h prints the tool's usage, then the common options");
    llp_cli_free(&c);
}

int main(void)
{
    test_defaults();
    test_all_common();
    test_strict_numbers();
    test_shard();
    test_usage_errors();
    test_tool_options();
    return done_testing();
}
