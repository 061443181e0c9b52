/*
 * serve.h — llp-serve: one model behind an HTTP API (docs/serve.md). The
 * /predict route, the OpenAI-compatible /v1 routes, classification,
 * summarization, YAML pipelines, /health and /metrics, with API keys,
 * limits, a record of every request in the store, and a graceful stop.
 *
 * Not for: flags (cmd/llp-serve.c). The pieces, one concern each:
 *   serve_run.c       this call: startup, signals, draining, shutdown
 *   serve_http.c      libmicrohttpd: connections, bodies, auth, limits, routing
 *   serve_routes.c    each route: request JSON -> engine job -> response JSON
 *   serve_api.c       OpenAI-style shapes: errors, fields, chat messages, chunks
 *   serve_engine.c    the model's thread: queue, scheduler, task contexts
 *   serve_pipeline.c  /pipelines/NAME through the pipeline runner
 *   serve_record.c    the serve job and its items in the store
 *   serve_metrics.c   counters and the Prometheus text
 */
#ifndef LLP_SERVE_H
#define LLP_SERVE_H

#include <stdbool.h>
#include <stddef.h>

#include "kv_cache.h"
#include "sampler.h"

/* Limits, each with a flag (docs/serve.md lists them). */
typedef struct llp_serve_limits {
    size_t max_body;            /* bytes of a request body (--max-body) */
    int max_prompt_tokens;      /* --max-prompt-tokens; 0: the context less one */
    int max_tokens;             /* largest max_tokens a request may ask (--max-tokens) */
    int max_inputs;             /* texts per embeddings/classify request (--max-inputs) */
    int max_queue;              /* jobs waiting for the engine (--queue) */
    int max_connections;        /* open connections (--max-connections) */
    int requests_per_connection;/* then the connection is closed (--max-requests-per-connection) */
    double request_timeout;     /* seconds a request may take (--timeout) */
    int idle_timeout;           /* seconds a connection may sit idle (--idle-timeout) */
} llp_serve_limits;

typedef struct llp_serve_opts {
    const char *model_path;
    const char *host;           /* address to bind; default 127.0.0.1 */
    int port;                   /* 0: any free port (see port_file) */
    const char *port_file;      /* write the bound port here once listening */
    int parallel;               /* sequence slots decoded together; 0: chosen
                                   from the memory (llp_engine_auto_parallel) */
    char *const *lora;          /* (n_lora) adapters applied (lora.h) */
    const float *lora_scale;
    int n_lora;
    bool lora_merge;            /* merge them at load */
    int n_ctx;                  /* per slot; 0: the model's, at most 4096 */
    int n_threads;
    llp_kv_type kv_type;
    const char *api_key;        /* NULL: none */
    bool no_auth;               /* allow a non-loopback bind without a key */
    const char *db_path;        /* NULL: the default store */
    bool no_db;
    int chat;                   /* /predict's chat wrapping: -1 auto, 0 no, 1 yes */
    const char *system;         /* system prompt for /predict */
    llp_sampling sampling;      /* defaults a request's fields override */
    int n_predict;              /* default max_tokens of /predict */
    const char *const *stop;    /* stop strings of a request that gives none */
    int n_stop;
    bool no_cache;              /* pipelines: recompute cached records */
    double grace;               /* seconds in-flight requests get at a stop */
    const char *const *pipelines;   /* --pipeline FILE.yaml, repeatable */
    int n_pipelines;
    llp_serve_limits limits;
    bool quiet;
    int argc;                   /* the command line, for the serve job */
    char **argv;
} llp_serve_opts;

/* The defaults of every limit. */
llp_serve_limits llp_serve_default_limits(void);

/* Run the server until SIGTERM or SIGINT. Returns the exit code: 0 after a
 * graceful stop, 1 on a fatal error (message on stderr), 2 for a refused
 * configuration (a non-loopback address without a key), 128+signal when a
 * second signal cut the drain short. */
int llp_serve_run(const llp_serve_opts *o);

#endif
