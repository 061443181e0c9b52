/*
 * llp-serve — one model behind an HTTP API: /predict, the OpenAI-compatible
 * /v1 routes, classification, summarization and YAML pipelines.
 *
 * Wiring only: flags (cli.h) into llp_serve_opts, then llp_serve_run
 * (serve.h), where everything else lives.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "serve.h"

static const char usage[] =
    "Usage: llp-serve -m MODEL [--host 127.0.0.1] [--port 8080] [--parallel N]\n"
    "                 [--api-key KEY] [--pipeline FILE.yaml]... [OPTIONS]\n"
    "\n"
    "Serve the model over HTTP until SIGTERM or SIGINT: POST /predict, the\n"
    "OpenAI-compatible POST /v1/completions, /v1/chat/completions (stream: true\n"
    "for server-sent events), /v1/embeddings and GET /v1/models, POST\n"
    "/v1/classify and /v1/summarize, POST /pipelines/NAME for each --pipeline,\n"
    "GET /health and GET /metrics (Prometheus). Concurrent generations are\n"
    "decoded together in --parallel slots (default: up to 16, as the\n"
    "memory allows; -v prints the choice). Every request is recorded as an item\n"
    "of one serve job in the store (--no-db: not recorded). docs/serve.md has\n"
    "the routes, fields, errors and limits.\n"
    "\n"
    "Service options:\n"
    "      --host ADDR        address to listen on (default 127.0.0.1); any\n"
    "                         non-loopback address needs --api-key or --no-auth\n"
    "      --port N           TCP port (default 8080; 0: any free port)\n"
    "      --port-file FILE   write the port listened on to FILE once listening\n"
    "      --parallel N       generations decoded together (default 4)\n"
    "      --api-key KEY      require 'Authorization: Bearer KEY' (default\n"
    "                         $LLP_API_KEY); GET /health stays open\n"
    "      --no-auth          allow a non-loopback --host without a key\n"
    "      --chat / --no-chat wrap /predict texts in the model's chat format or\n"
    "                         never (default: when the model is a chat model)\n"
    "      --system TEXT      system prompt for /predict's chat format\n"
    "      --pipeline FILE    serve a YAML pipeline as POST /pipelines/NAME\n"
    "                         (repeatable)\n"
    "      --grace SECONDS    time in-flight requests get to finish at a stop\n"
    "                         (default 30)\n"
    "Limits (a request past one gets a 4xx answer):\n"
    "      --max-body BYTES   request body size (default 1048576)\n"
    "      --max-prompt-tokens N  prompt tokens (default and at most: the\n"
    "                         context less one)\n"
    "      --max-tokens N     largest max_tokens a request may ask (default 2048)\n"
    "      --max-inputs N     texts per embeddings/classify request, records per\n"
    "                         pipeline request (default 256)\n"
    "      --queue N          requests waiting for the engine; more get 503 with\n"
    "                         Retry-After (default 64)\n"
    "      --max-connections N  open connections (default 128)\n"
    "      --max-requests-per-connection N  then the connection is closed\n"
    "                         (default 1000)\n"
    "      --timeout SECONDS  time one request may take (default 300)\n"
    "      --idle-timeout SECONDS  an idle connection is closed (default 30)\n"
    "Sampling flags set the defaults a request's own fields override; -n is\n"
    "/predict's default max_tokens (default 128).\n"
    "\n"
    "Examples:\n"
    "  llp-serve -m llama-2-7b-chat.Q4_K_M.gguf --parallel 8\n"
    "  curl -s localhost:8080/predict -d '{\"text\": \"The capital of France is\"}'\n"
    "  LLP_API_KEY=s3cret llp-serve -m M --host 0.0.0.0 --pipeline pipelines/sentiment.yaml\n";

enum { OPT_HOST = LLP_OPT_TOOL, OPT_PORT, OPT_PORT_FILE, OPT_API_KEY, OPT_NO_AUTH,
       OPT_CHAT, OPT_NO_CHAT, OPT_SYSTEM, OPT_PIPELINE, OPT_GRACE, OPT_MAX_BODY,
       OPT_MAX_PROMPT, OPT_MAX_TOKENS, OPT_MAX_INPUTS, OPT_QUEUE, OPT_MAX_CONN, OPT_MAX_REQ,
       OPT_TIMEOUT, OPT_IDLE };

static const struct option long_options[] = {
    { "host", required_argument, NULL, OPT_HOST },
    { "port", required_argument, NULL, OPT_PORT },
    { "port-file", required_argument, NULL, OPT_PORT_FILE },
    { "api-key", required_argument, NULL, OPT_API_KEY },
    { "no-auth", no_argument, NULL, OPT_NO_AUTH },
    { "chat", no_argument, NULL, OPT_CHAT },
    { "no-chat", no_argument, NULL, OPT_NO_CHAT },
    { "system", required_argument, NULL, OPT_SYSTEM },
    { "pipeline", required_argument, NULL, OPT_PIPELINE },
    { "grace", required_argument, NULL, OPT_GRACE },
    { "max-body", required_argument, NULL, OPT_MAX_BODY },
    { "max-prompt-tokens", required_argument, NULL, OPT_MAX_PROMPT },
    { "max-tokens", required_argument, NULL, OPT_MAX_TOKENS },
    { "max-inputs", required_argument, NULL, OPT_MAX_INPUTS },
    { "queue", required_argument, NULL, OPT_QUEUE },
    { "max-connections", required_argument, NULL, OPT_MAX_CONN },
    { "max-requests-per-connection", required_argument, NULL, OPT_MAX_REQ },
    { "timeout", required_argument, NULL, OPT_TIMEOUT },
    { "idle-timeout", required_argument, NULL, OPT_IDLE },
    { 0 },
};

typedef struct serve_flags {
    llp_serve_opts o;
    const char **pipelines;
    int n_pipelines;
} serve_flags;

static int on_option(void *ctx, int id, const char *arg, llp_err *err)
{
    serve_flags *f = ctx;
    llp_serve_opts *o = &f->o;
    llp_serve_limits *l = &o->limits;
    long v;
    double d;
    switch (id) {
    case OPT_HOST:
        if (!*arg) return llp_err_set(err, "--host: empty address");
        o->host = arg;
        return 0;
    case OPT_PORT: return llp_opt_int("--port", arg, 0, 65535, &o->port, err);
    case OPT_PORT_FILE: o->port_file = arg; return 0;
    case OPT_API_KEY:
        if (!*arg) return llp_err_set(err, "--api-key: empty key");
        o->api_key = arg;
        return 0;
    case OPT_NO_AUTH: o->no_auth = true; return 0;
    case OPT_CHAT: o->chat = 1; return 0;
    case OPT_NO_CHAT: o->chat = 0; return 0;
    case OPT_SYSTEM: o->system = arg; return 0;
    case OPT_PIPELINE:
        f->pipelines = realloc(f->pipelines, sizeof *f->pipelines * (size_t)(f->n_pipelines + 1));
        f->pipelines[f->n_pipelines++] = arg;
        return 0;
    case OPT_GRACE:
        if (llp_opt_double("--grace", arg, 0, 86400, &d, err)) return -1;
        o->grace = d;
        return 0;
    case OPT_MAX_BODY:
        if (llp_opt_long("--max-body", arg, 1, 1L << 30, &v, err)) return -1;
        l->max_body = (size_t)v;
        return 0;
    case OPT_MAX_PROMPT:
        return llp_opt_int("--max-prompt-tokens", arg, 1, 1 << 20, &l->max_prompt_tokens, err);
    case OPT_MAX_TOKENS: return llp_opt_int("--max-tokens", arg, 1, 1 << 20, &l->max_tokens, err);
    case OPT_MAX_INPUTS: return llp_opt_int("--max-inputs", arg, 1, 100000, &l->max_inputs, err);
    case OPT_QUEUE: return llp_opt_int("--queue", arg, 1, 100000, &l->max_queue, err);
    case OPT_MAX_CONN:
        return llp_opt_int("--max-connections", arg, 1, 100000, &l->max_connections, err);
    case OPT_MAX_REQ:
        return llp_opt_int("--max-requests-per-connection", arg, 1, 1 << 30,
                           &l->requests_per_connection, err);
    case OPT_TIMEOUT:
        return llp_opt_double("--timeout", arg, 0.001, 86400, &l->request_timeout, err);
    case OPT_IDLE: return llp_opt_int("--idle-timeout", arg, 1, 86400, &l->idle_timeout, err);
    }
    return llp_err_set(err, "unhandled option");
}

int main(int argc, char **argv)
{
    llp_cli cli;
    serve_flags f = { .o = { .host = "127.0.0.1", .port = 8080, .chat = -1,
                             .grace = 30, .limits = llp_serve_default_limits() } };
    llp_cli_init(&cli, "llp-serve");
    cli.sampling.n_predict = INT_MIN;    /* not given: 128, at most --max-tokens */
    llp_cli_tool tool = { .groups = LLP_CLI_MODEL | LLP_CLI_THREADS | LLP_CLI_CONTEXT |
                                    LLP_CLI_STORE | LLP_CLI_SAMPLING | LLP_CLI_N_PREDICT |
                                    LLP_CLI_PARALLEL | LLP_CLI_LORA,
                          .usage = usage, .options = long_options, .on_option = on_option,
                          .ctx = &f };
    int rc = llp_cli_parse(&cli, &tool, argc, argv, NULL);
    if (rc != LLP_CLI_RUN) {
        free(f.pipelines);
        return rc;
    }
    llp_serve_opts *o = &f.o;
    bool n_given = cli.sampling.n_predict != INT_MIN;
    if (!n_given)
        cli.sampling.n_predict = o->limits.max_tokens < 128 ? o->limits.max_tokens : 128;
    if (cli.n_args) rc = llp_cli_usage_error(&cli, "unexpected argument '%s'", cli.args[0]);
    else if (!cli.model) rc = llp_cli_usage_error(&cli, "no model: pass -m MODEL or set LLP_MODEL");
    else if (cli.db_path && cli.no_db) rc = llp_cli_usage_error(&cli, "--db and --no-db exclude each other");
    else if (n_given && cli.sampling.n_predict > o->limits.max_tokens)
        rc = llp_cli_usage_error(&cli, "-n %d is more than --max-tokens %d",
                                 cli.sampling.n_predict, o->limits.max_tokens);
    if (rc != LLP_CLI_RUN) {
        free(f.pipelines);
        llp_cli_free(&cli);
        return rc;
    }
    if (!o->api_key) {
        const char *env = getenv("LLP_API_KEY");
        if (env && *env) o->api_key = env;
    }
    o->model_path = cli.model;
    o->n_ctx = cli.ctx_size;
    o->parallel = cli.parallel;
    o->lora = cli.lora;
    o->lora_scale = cli.lora_scale;
    o->n_lora = cli.n_lora;
    o->lora_merge = cli.lora_merge;
    o->n_threads = cli.threads;
    o->kv_type = cli.kv_type;
    o->db_path = cli.db_path;
    o->no_db = cli.no_db;
    o->no_cache = cli.no_cache;
    o->sampling = llp_cli_sampling(&cli);
    o->n_predict = cli.sampling.n_predict;
    o->stop = (const char *const *)cli.sampling.stop;
    o->n_stop = cli.sampling.n_stop;
    o->pipelines = f.pipelines;
    o->n_pipelines = f.n_pipelines;
    o->quiet = cli.quiet;
    /* the command line goes into the serve job: never the key */
    char **job_argv = calloc((size_t)argc + 1, sizeof *job_argv);
    for (int i = 0; i < argc; i++) {
        job_argv[i] = argv[i];
        if (i > 0 && !strcmp(argv[i - 1], "--api-key")) job_argv[i] = "(hidden)";
        else if (!strncmp(argv[i], "--api-key=", 10)) job_argv[i] = "--api-key=(hidden)";
    }
    o->argc = argc;
    o->argv = job_argv;
    rc = llp_serve_run(o);
    free(job_argv);
    free(f.pipelines);
    llp_cli_free(&cli);
    return rc;
}
