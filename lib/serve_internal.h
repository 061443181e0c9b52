/*
 * serve_internal.h — what the serve_*.c files share: the server, one
 * request as the routes see it, and the calls between the HTTP layer
 * (serve_http.c), the routes (serve_routes.c), the OpenAI shapes
 * (serve_api.c) and the pipelines (serve_pipeline.c).
 *
 * Not for: llp-serve's users (serve.h is the public face).
 */
#ifndef LLP_SERVE_INTERNAL_H
#define LLP_SERVE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

#include "engine.h"
#include "serve.h"
#include "serve_engine.h"
#include "serve_metrics.h"
#include "serve_record.h"

typedef struct llp_serve_pipelines llp_serve_pipelines;

typedef struct llp_server {
    const llp_serve_opts *o;
    llp_engine *e;
    llp_serve_engine *engine;
    llp_serve_recorder *rec;
    llp_serve_metrics *metrics;
    llp_serve_pipelines *pipes;
    char model_name[256];       /* the id /v1/models lists: the file's base name */
    int n_ctx;                  /* positions per slot */
    int max_prompt;             /* prompt tokens a request may bring */
    llp_chat_format predict_chat;   /* /predict's wrapping */
    llp_chat_format chat_format;    /* /v1/chat/completions' template */
    time_t started;
    int64_t next_request;       /* atomic: request numbers */
    int draining;               /* atomic: a stop was asked for */
} llp_server;

/* How a streamed answer is shaped. */
typedef enum llp_stream_kind {
    LLP_STREAM_NONE = 0,
    LLP_STREAM_COMPLETION,      /* text_completion chunks */
    LLP_STREAM_CHAT,            /* chat.completion.chunk chunks */
} llp_stream_kind;

/* One request: filled by serve_http.c (method, path, headers, body),
 * answered by a route (status and a JSON body, or raw bytes, or a
 * stream), then recorded and counted by serve_http.c. */
typedef struct llp_serve_request {
    llp_server *srv;
    int64_t n;                  /* the request's number */
    const char *method;
    const char *path;           /* the URL's path */
    const char *content_type;   /* NULL: none */
    char *body;                 /* NUL-terminated, len bytes (owned) */
    size_t len;
    int fd;                     /* the client's socket, for departure checks */
    double started, deadline;   /* llp_now() */
    const char *route;          /* label for /metrics and the record (static) */
    /* the answer */
    int status;
    json_t *response;           /* JSON body (owned), or NULL */
    char *raw;                  /* or raw bytes (owned) of raw_type */
    size_t raw_len;
    const char *raw_type;
    const char *retry_after;    /* a Retry-After value, or NULL */
    char *error;                /* the error message of a 4xx/5xx (owned) */
    int64_t tokens_in, tokens_out;
    json_t *record_input;       /* what the item stores as input (owned; NULL: the body) */
    json_t *record_response;    /* what it stores as response (owned; NULL: response) */
    /* streaming (serve_routes.c fills, serve_http.c drives) */
    llp_stream_kind stream;
    llp_serve_job *job;         /* owned while streaming */
    bool include_usage;
    bool stream_started, stream_finished;
    char *pending;              /* bytes of events not yet handed out */
    size_t pending_len, pending_at;
    char carry[8];              /* an incomplete UTF-8 sequence held back */
    size_t n_carry;
    char *stream_text;          /* the whole completion, for the record */
    size_t stream_text_len;
} llp_serve_request;

/* ---- serve_api.c: shapes ----------------------------------------------------- */

/* Answer r with an OpenAI-style error:
 *   {"error": {"message": msg, "type": type, "param": param|null, "code": code}}
 * type: "invalid_request_error" (4xx), "authentication_error" (401),
 * "server_error" (5xx); the type follows from the status. */
void llp_serve_error(llp_serve_request *r, int status, const char *code, const char *param,
                     const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Field readers for a request object: each returns 0 (absent: *out
 * untouched; present: set) or -1 having answered r with a 400 naming the
 * field ("max_tokens: expected an integer"). Ranges are inclusive. */
int llp_serve_field_int(llp_serve_request *r, json_t *obj, const char *name, long min,
                        long max, long *out);
int llp_serve_field_num(llp_serve_request *r, json_t *obj, const char *name, double min,
                        double max, double *out);
int llp_serve_field_bool(llp_serve_request *r, json_t *obj, const char *name, bool *out);
/* A string field (*out borrowed from obj). */
int llp_serve_field_str(llp_serve_request *r, json_t *obj, const char *name, const char **out);
/* "stop": a string or an array of at most 8 non-empty strings; copies. */
int llp_serve_field_stop(llp_serve_request *r, json_t *obj, char ***out, int *n);
/* A string or a non-empty array of strings (at most max), copied with
 * lengths; an empty string is refused. */
int llp_serve_field_texts(llp_serve_request *r, json_t *obj, const char *name, int max,
                          char ***texts, size_t **lens, int *n);
/* "messages" of a chat request, rendered with fmt (llp_chat_format_messages).
 * *prompt malloc'd. */
int llp_serve_field_messages(llp_serve_request *r, json_t *obj, llp_chat_format fmt,
                             char **prompt);

/* finish_reason for a generation's stop ("eos", "stop-string": "stop";
 * "length": "length"). */
const char *llp_serve_finish_reason(const char *stop);

/* Base64 of n bytes (malloc'd, NUL-terminated). */
char *llp_serve_base64(const void *data, size_t n);

/* Valid UTF-8 prefix handling for streams: append bytes to r's stream text
 * and return the longest complete UTF-8 text ready to send (malloc'd, its
 * invalid bytes as U+FFFD), keeping an incomplete sequence at the end in
 * r->carry. */
char *llp_serve_stream_utf8(llp_serve_request *r, const char *bytes, size_t n, bool final);

/* ---- serve_routes.c --------------------------------------------------------- */

/* Dispatch r (method, path, body known; auth already checked) to its route
 * and answer it. */
void llp_serve_route(llp_serve_request *r);

/* For a stream: the next bytes to send (up to max) into buf. Returns the
 * count, 0 when the stream ended (everything sent), -1 when the client is
 * gone or the stream failed. Blocks until there is something. */
long llp_serve_stream_read(llp_serve_request *r, char *buf, size_t max);

/* Whether the client of r closed its connection (a non-blocking peek). */
bool llp_serve_client_gone(void *request);

/* ---- serve_pipeline.c ------------------------------------------------------- */

/* Load every --pipeline file (problems printed to stderr). NULL with err. */
llp_serve_pipelines *llp_serve_pipelines_load(const char *const *files, int n, llp_err *err);
void llp_serve_pipelines_free(llp_serve_pipelines *p);
/* The names served, for /v1/models-like listings and messages. */
int llp_serve_pipelines_count(const llp_serve_pipelines *p);
const char *llp_serve_pipelines_name(const llp_serve_pipelines *p, int i);
/* POST /pipelines/NAME. */
void llp_serve_pipeline_route(llp_serve_request *r, const char *name);

/* ---- serve_http.c ----------------------------------------------------------- */

typedef struct llp_serve_http llp_serve_http;

/* Listen on o->host:o->port (the port bound is *port). NULL with err. */
llp_serve_http *llp_serve_http_start(llp_server *srv, int *port, llp_err *err);
/* Stop accepting connections (open ones are served on). */
void llp_serve_http_quiesce(llp_serve_http *h);
/* Close every connection and free. */
void llp_serve_http_stop(llp_serve_http *h);

#endif
