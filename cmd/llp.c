/*
 * llp — the front door: `llp TOOL ARGS` runs `llp-TOOL ARGS`, `llp help`
 * lists the tools, `llp info MODEL [--json]` describes a model file.
 *
 * Wiring only: the tool is looked up next to this binary first (the
 * directory of /proc/self/exe, else of argv[0]), then in PATH, and
 * exec'd in place, so its exit status and signals are the caller's. The
 * model description is gathered by lib/info.c.
 *
 * Not for: anything a tool does itself, or running tools in one process
 * (that is llp-run's pipeline runner).
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "info.h"

static const char tool[] = "llp";

static const struct { const char *name, *what; } tools[] = {
    { "tokenize", "text to token ids and back with a model's vocabulary" },
    { "embed", "embedding vectors of texts; store and search collections" },
    { "generate", "complete prompts (chat template, sampling, stop strings)" },
    { "summarize", "summarize documents, map-reduce past the context" },
    { "classify", "label texts by scoring each label's probability" },
    { "run", "run a YAML pipeline of tools" },
    { "serve", "the model behind HTTP: /predict and OpenAI-compatible routes" },
    { "finetune", "train a LoRA adapter on labeled rows or prompt/completion pairs" },
    { "jobs", "list, show, export, merge and clean up the job store" },
    { "bench", "prompt and generation speed of a model or a shape" },
    { "quantize", "convert a GGUF model to another weight type or mix" },
    { "convert", "a Hugging Face Llama directory or PEFT adapter to GGUF" },
    { "mkmodel", "write a random-weight model for tests and demos" },
    { "info", "describe a model file (built into llp)" },
};
#define N_TOOLS (sizeof tools / sizeof tools[0])

static const char usage[] =
    "Usage: llp TOOL [ARGS]...\n"
    "       llp info [--json] MODEL\n"
    "       llp help [TOOL]\n"
    "       llp --version\n"
    "\n"
    "Run the llamapipe tool llp-TOOL with ARGS (the binary next to llp, else\n"
    "the one in PATH). 'llp help TOOL' prints that tool's --help.\n"
    "\n"
    "Tools:\n";

static const char usage_tail[] =
    "\n"
    "Examples:\n"
    "  llp info llama-2-7b.Q4_K_M.gguf\n"
    "  llp info --json model.gguf | jq .weights\n"
    "  llp generate -m model.gguf -p 'Once upon a time'\n"
    "  llp quantize model-f16.gguf model-q4_k_m.gguf Q4_K_M\n";

static const char info_usage[] =
    "Usage: llp info [--json] MODEL\n"
    "\n"
    "Describe a GGUF model from its header: architecture, shape (dim, layers,\n"
    "heads, KV heads, head dim, feed-forward, vocabulary), parameters, file\n"
    "type, tensors and bytes per weight type, bits per weight, context length,\n"
    "RoPE base, tokenizer (model, size, BOS/EOS), chat template, GGUF version\n"
    "and alignment. Tensor data is not read. MODEL may also come from -m or\n"
    "LLP_MODEL.\n"
    "\n"
    "Options:\n"
    "      --json             one JSON object on stdout, for scripts\n"
    "  -m, --model PATH       the model (instead of the argument)\n"
    "  -h, --help             print this help\n";

/* The directory this binary lives in (with a trailing '/'), or "" when it
 * cannot be known. */
static void self_dir(const char *argv0, char *dir, size_t size)
{
    char path[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
    if (n > 0) {
        path[n] = 0;
    } else if (argv0 && strchr(argv0, '/') && strlen(argv0) < sizeof path) {
        strcpy(path, argv0);
    } else {
        dir[0] = 0;
        return;
    }
    char *slash = strrchr(path, '/');
    slash[1] = 0;
    snprintf(dir, size, "%s", path);
}

/* Path of llp-NAME next to llp, or NULL when there is none there. */
static const char *sibling(const char *dir, const char *name, char *buf, size_t size)
{
    if (!*dir) return NULL;
    snprintf(buf, size, "%sllp-%s", dir, name);
    return access(buf, X_OK) == 0 ? buf : NULL;
}

/* Whether llp-NAME can be found in PATH. */
static bool in_path(const char *name)
{
    const char *path = getenv("PATH");
    char buf[PATH_MAX];
    while (path && *path) {
        const char *end = strchr(path, ':');
        size_t len = end ? (size_t)(end - path) : strlen(path);
        if (len > 0 && len < sizeof buf - 64) {
            snprintf(buf, sizeof buf, "%.*s/llp-%s", (int)len, path, name);
            if (access(buf, X_OK) == 0) return true;
        }
        path = end ? end + 1 : NULL;
    }
    return false;
}

static bool known(const char *name)
{
    for (size_t i = 0; i < N_TOOLS; i++)
        if (strcmp(tools[i].name, name) == 0) return true;
    return false;
}

static int print_help(const char *dir)
{
    char buf[PATH_MAX];
    printf("%s", usage);
    for (size_t i = 0; i < N_TOOLS; i++) {
        bool here = strcmp(tools[i].name, "info") == 0 || sibling(dir, tools[i].name, buf, sizeof buf) ||
                    in_path(tools[i].name);
        printf("  %-10s %s%s\n", tools[i].name, tools[i].what, here ? "" : " (not installed)");
    }
    printf("%s", usage_tail);
    return LLP_EXIT_OK;
}

/* Replace this process with llp-NAME ARGS. Returns only on failure. */
static int run_tool(const char *dir, const char *name, char **args)
{
    char buf[PATH_MAX], prog[256];
    for (const char *p = name; *p; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_')) {
            fprintf(stderr, "%s: error: '%s' is not a tool name\nTry 'llp help'.\n", tool, name);
            return LLP_EXIT_USAGE;
        }
    }
    snprintf(prog, sizeof prog, "llp-%s", name);
    args[0] = prog;
    const char *path = sibling(dir, name, buf, sizeof buf);
    if (path) execv(path, args);
    else execvp(prog, args);
    if (errno == ENOENT && !known(name)) {
        fprintf(stderr, "%s: error: unknown tool '%s' (no %s next to llp or in PATH)\n"
                "Try 'llp help'.\n", tool, name, prog);
        return LLP_EXIT_USAGE;
    }
    llp_error(tool, "cannot run %s: %s", path ? path : prog, strerror(errno));
    return LLP_EXIT_FATAL;
}

static int info_main(int argc, char **argv)
{
    static const struct option options[] = {
        { "json", no_argument, NULL, 'j' },
        { "model", required_argument, NULL, 'm' },
        { "help", no_argument, NULL, 'h' },
        { 0 },
    };
    const char *model = NULL;
    bool json = false;
    int c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":m:h", options, NULL)) != -1) {
        switch (c) {
        case 'j': json = true; break;
        case 'm': model = optarg; break;
        case 'h': printf("%s", info_usage); return LLP_EXIT_OK;
        case ':':
            fprintf(stderr, "%s: error: option '%s' needs an argument\nTry 'llp info --help'.\n",
                    tool, argv[optind - 1]);
            return LLP_EXIT_USAGE;
        default:
            fprintf(stderr, "%s: error: unknown option '%s'\nTry 'llp info --help'.\n", tool,
                    argv[optind - 1]);
            return LLP_EXIT_USAGE;
        }
    }
    if (argc - optind > 1 || (model && argc - optind == 1)) {
        fprintf(stderr, "%s: error: info takes one model\nTry 'llp info --help'.\n", tool);
        return LLP_EXIT_USAGE;
    }
    if (argc - optind == 1) model = argv[optind];
    if (!model) model = getenv("LLP_MODEL");
    if (!model || !*model) {
        fprintf(stderr, "%s: error: no model: pass MODEL, -m MODEL or set LLP_MODEL\n"
                "Try 'llp info --help'.\n", tool);
        return LLP_EXIT_USAGE;
    }
    llp_err err = { "" };
    json_t *info = llp_model_info(model, &err);
    if (!info) {
        llp_error(tool, "%s", err.msg);
        return LLP_EXIT_FATAL;
    }
    if (json) {
        json_dumpf(info, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9));
        putchar('\n');
    } else {
        llp_model_info_print(info, stdout);
    }
    json_decref(info);
    return fflush(stdout) == 0 ? LLP_EXIT_OK : LLP_EXIT_FATAL;
}

int main(int argc, char **argv)
{
    char dir[PATH_MAX];
    self_dir(argv[0], dir, sizeof dir);
    if (argc < 2) {
        fprintf(stderr, "%s: error: no tool given\nTry 'llp help'.\n", tool);
        return LLP_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("%s (llamapipe) %s\n", tool, LLP_VERSION);
        return LLP_EXIT_OK;
    }
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        if (argc > 2 && strcmp(cmd, "help") == 0) {
            if (strcmp(argv[2], "info") == 0) {
                printf("%s", info_usage);
                return LLP_EXIT_OK;
            }
            char *args[] = { NULL, "--help", NULL };
            return run_tool(dir, argv[2], args);
        }
        return print_help(dir);
    }
    if (strcmp(cmd, "info") == 0) return info_main(argc - 1, argv + 1);
    if (cmd[0] == '-') {
        fprintf(stderr, "%s: error: unknown option '%s'\nTry 'llp help'.\n", tool, cmd);
        return LLP_EXIT_USAGE;
    }
    return run_tool(dir, cmd, argv + 1);
}
