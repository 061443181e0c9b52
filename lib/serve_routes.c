/*
 * serve_routes.c — llp-serve's routes (docs/serve.md): each reads its
 * request's JSON fields, hands a job to the engine (serve_engine.h), waits
 * or streams, and shapes the answer: /predict, the OpenAI-compatible
 * /v1/completions, /v1/chat/completions, /v1/embeddings and /v1/models,
 * /v1/classify, /v1/summarize, /health and /metrics. /pipelines/NAME is
 * serve_pipeline.c's.
 *
 * Not for: HTTP, keys and body limits (serve_http.c), field readers and
 * error bodies (serve_api.c).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "chat.h"
#include "records.h"
#include "serve_internal.h"
#include "utf8.h"
#include "util.h"

bool llp_serve_client_gone(void *request)
{
    llp_serve_request *r = request;
    if (r->fd < 0) return false;
    char c;
    ssize_t n = recv(r->fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0;
}

/* ---- generations --------------------------------------------------------------- */

typedef enum gen_route { GEN_PREDICT, GEN_COMPLETION, GEN_CHAT } gen_route;

/* Refuse the OpenAI fields this server does not implement when they ask
 * for something other than their default. */
static int unsupported(llp_serve_request *r, json_t *body)
{
    long n = 1;
    if (llp_serve_field_int(r, body, "n", 1, 1, &n)) return -1;
    if (llp_serve_field_int(r, body, "best_of", 1, 1, &n)) return -1;
    json_t *v;
    if ((v = json_object_get(body, "logprobs")) && !json_is_null(v) && !json_is_false(v)) {
        llp_serve_error(r, 400, "unsupported", "logprobs", "logprobs: not supported by llp-serve");
        return -1;
    }
    if ((v = json_object_get(body, "echo")) && json_is_true(v)) {
        llp_serve_error(r, 400, "unsupported", "echo", "echo: not supported by llp-serve");
        return -1;
    }
    if ((v = json_object_get(body, "suffix")) && !json_is_null(v)) {
        llp_serve_error(r, 400, "unsupported", "suffix", "suffix: not supported by llp-serve");
        return -1;
    }
    const char *model = NULL;
    return llp_serve_field_str(r, body, "model", &model);
}

/* The prompt text of a generation request (malloc'd), its parameter name,
 * and whether chat markers in it are special tokens. */
static char *gen_prompt(llp_serve_request *r, json_t *body, gen_route route, const char **param,
                        bool *special)
{
    llp_server *srv = r->srv;
    if (route == GEN_CHAT) {
        char *prompt = NULL;
        *param = "messages";
        *special = true;
        if (llp_serve_field_messages(r, body, srv->chat_format, &prompt)) return NULL;
        return prompt;
    }
    const char *name = route == GEN_PREDICT ? "text" : "prompt";
    *param = name;
    json_t *v = json_object_get(body, name);
    if (route == GEN_COMPLETION && json_is_array(v)) {
        if (json_array_size(v) != 1 || !json_is_string(json_array_get(v, 0))) {
            llp_serve_error(r, 400, "unsupported", name,
                            "%s: one prompt string per request (got an array of %zu)", name,
                            json_array_size(v));
            return NULL;
        }
        v = json_array_get(v, 0);
    }
    if (!v || json_is_null(v)) {
        llp_serve_error(r, 400, "missing_field", name, "%s: required", name);
        return NULL;
    }
    if (!json_is_string(v)) {
        llp_serve_error(r, 400, "invalid_type", name, "%s: expected a string", name);
        return NULL;
    }
    if (!json_string_length(v)) {
        llp_serve_error(r, 400, "invalid_value", name, "%s: empty text", name);
        return NULL;
    }
    const char *text = json_string_value(v);
    if (route == GEN_PREDICT) {
        *special = srv->predict_chat != LLP_CHAT_NONE;
        return llp_chat_format_prompt(srv->predict_chat, srv->o->system, text);
    }
    *special = false;
    return llp_strndup(text, json_string_length(v));
}

/* Build the engine job of a generation request, or NULL having answered r. */
static llp_serve_job *gen_job(llp_serve_request *r, json_t *body, gen_route route, bool *stream)
{
    llp_server *srv = r->srv;
    const llp_serve_opts *o = srv->o;
    if (route != GEN_PREDICT && unsupported(r, body)) return NULL;
    long max_tokens = route == GEN_PREDICT ? o->n_predict : route == GEN_COMPLETION ? 16 : -1;
    double temp = o->sampling.temp, top_p = o->sampling.top_p;
    long seed = -1;
    *stream = false;
    if (llp_serve_field_int(r, body, "max_tokens", 1, o->limits.max_tokens, &max_tokens) ||
        (route == GEN_CHAT && llp_serve_field_int(r, body, "max_completion_tokens", 1,
                                                  o->limits.max_tokens, &max_tokens)) ||
        llp_serve_field_num(r, body, "temperature", 0, 2, &temp) ||
        llp_serve_field_num(r, body, "top_p", 0, 1, &top_p) ||
        llp_serve_field_int(r, body, "seed", 0, LONG_MAX,
                            &seed) ||
        (route != GEN_PREDICT && llp_serve_field_bool(r, body, "stream", stream)))
        return NULL;
    if (route != GEN_PREDICT) {
        json_t *so = json_object_get(body, "stream_options");
        if (so && !json_is_null(so)) {
            if (!json_is_object(so)) {
                llp_serve_error(r, 400, "invalid_type", "stream_options",
                                "stream_options: expected an object");
                return NULL;
            }
            if (llp_serve_field_bool(r, so, "include_usage", &r->include_usage)) return NULL;
        }
    }
    if (top_p <= 0) {
        llp_serve_error(r, 400, "invalid_value", "top_p", "top_p: must be above 0");
        return NULL;
    }
    char **stops = NULL;
    int n_stops = 0;
    if (llp_serve_field_stop(r, body, &stops, &n_stops)) return NULL;
    if (!json_object_get(body, "stop") && o->n_stop) {
        n_stops = o->n_stop;
        stops = llp_calloc((size_t)n_stops, sizeof *stops);
        for (int i = 0; i < n_stops; i++) stops[i] = llp_strdup(o->stop[i]);
    }
    const char *param;
    bool special;
    char *prompt = gen_prompt(r, body, route, &param, &special);
    llp_serve_job *j = llp_serve_job_new(LLP_SERVE_GENERATE);
    j->stops = stops;
    j->n_stops = n_stops;
    if (!prompt) {
        llp_serve_job_free(j);
        return NULL;
    }
    llp_err err = { { 0 } };
    int rc = llp_tokenize(srv->e->tok, prompt, strlen(prompt), true, special, &j->ids, &err);
    free(prompt);
    if (rc) {
        llp_serve_error(r, 400, "invalid_value", param, "%s: %s", param, err.msg);
        llp_serve_job_free(j);
        return NULL;
    }
    if ((int)j->ids.n > srv->max_prompt) {
        llp_serve_error(r, 400, "context_length_exceeded", param,
                        "%s: %zu tokens, more than the %d a prompt may have (context of %d "
                        "tokens per request)",
                        param, j->ids.n, srv->max_prompt, srv->n_ctx);
        llp_serve_job_free(j);
        return NULL;
    }
    j->params.sampling = o->sampling;
    j->params.sampling.temp = (float)temp;
    j->params.sampling.top_p = (float)top_p;
    j->params.n_predict = (int)max_tokens;
    j->params.stop = (const char *const *)j->stops;
    j->params.n_stop = j->n_stops;
    char rid[32];
    snprintf(rid, sizeof rid, "req-%lld", (long long)r->n);
    j->seed = seed >= 0 ? (uint64_t)seed : llp_gen_record_seed(o->sampling.seed, rid);
    r->tokens_in = (int64_t)j->ids.n;
    return j;
}

/* Submit j; on refusal answer r (503) and free j. Returns 0 when queued. */
static int submit(llp_serve_request *r, llp_serve_job *j)
{
    int rc = llp_serve_engine_submit(r->srv->engine, j);
    if (rc == 0) return 0;
    if (rc == 1) {
        r->retry_after = "1";
        llp_serve_error(r, 503, "queue_full", NULL,
                        "the server is busy: %d requests are waiting already; retry later",
                        r->srv->o->limits.max_queue);
    } else {
        llp_serve_error(r, 503, "shutting_down", NULL, "the server is shutting down");
    }
    llp_serve_job_free(j);
    return -1;
}

/* Wait for a non-streamed job. Returns 0 when it finished fine, else -1
 * having answered r. */
static int wait_job(llp_serve_request *r, llp_serve_job *j)
{
    int why = llp_serve_engine_wait(r->srv->engine, j, r->deadline, llp_serve_client_gone, r);
    if (why == 1) {
        llp_serve_error(r, 504, "timeout", NULL, "the request took longer than %g s (--timeout)",
                        r->srv->o->limits.request_timeout);
        return -1;
    }
    if (why == 2) {
        llp_serve_error(r, 499, "client_closed", NULL, "the client closed the connection");
        return -1;
    }
    if (j->status) {
        llp_serve_error(r, j->status, j->status >= 500 ? "engine_error" : "invalid_value", NULL,
                        "%s", j->error);
        return -1;
    }
    return 0;
}

static char *response_id(llp_serve_request *r, const char *prefix)
{
    char id[64];
    snprintf(id, sizeof id, "%s-%llx-%lld", prefix, (unsigned long long)r->srv->started,
             (long long)r->n);
    return llp_strdup(id);
}

static json_t *usage(int64_t in, int64_t out)
{
    return json_pack("{s:I,s:I,s:I}", "prompt_tokens", (json_int_t)in, "completion_tokens",
                     (json_int_t)out, "total_tokens", (json_int_t)(in + out));
}

static void generation(llp_serve_request *r, json_t *body, gen_route route)
{
    bool stream;
    llp_serve_job *j = gen_job(r, body, route, &stream);
    if (!j || submit(r, j)) return;
    if (stream) {
        r->stream = route == GEN_CHAT ? LLP_STREAM_CHAT : LLP_STREAM_COMPLETION;
        r->job = j;
        r->status = 200;
        return;
    }
    if (wait_job(r, j)) {
        llp_serve_job_free(j);
        return;
    }
    const llp_gen_result *res = &j->res;
    r->tokens_in = res->tokens_in;
    r->tokens_out = res->tokens_out;
    r->status = 200;
    json_t *text = llp_json_string(res->text, res->len);
    if (route == GEN_PREDICT) {
        r->response = json_pack("{s:o,s:i,s:i,s:s,s:I}", "completion", text, "tokens_in",
                                res->tokens_in, "tokens_out", res->tokens_out, "stop", res->stop,
                                "ms", (json_int_t)((llp_now() - r->started) * 1000 + 0.5));
    } else {
        char *id = response_id(r, route == GEN_CHAT ? "chatcmpl" : "cmpl");
        json_t *choice = route == GEN_CHAT
            ? json_pack("{s:i,s:{s:s,s:o},s:n,s:s}", "index", 0, "message", "role", "assistant",
                        "content", text, "logprobs", "finish_reason",
                        llp_serve_finish_reason(res->stop))
            : json_pack("{s:o,s:i,s:n,s:s}", "text", text, "index", 0, "logprobs",
                        "finish_reason", llp_serve_finish_reason(res->stop));
        r->response = json_pack("{s:s,s:s,s:I,s:s,s:[o],s:o}", "id", id, "object",
                                route == GEN_CHAT ? "chat.completion" : "text_completion",
                                "created", (json_int_t)time(NULL), "model", r->srv->model_name,
                                "choices", choice, "usage",
                                usage(res->tokens_in, res->tokens_out));
        free(id);
    }
    llp_serve_job_free(j);
}

/* ---- streaming ------------------------------------------------------------------- */

static void pend(llp_serve_request *r, const char *s, size_t n)
{
    r->pending = llp_realloc(r->pending, r->pending_len + n + 1);
    memcpy(r->pending + r->pending_len, s, n);
    r->pending_len += n;
}

static void pend_event(llp_serve_request *r, json_t *ev)
{
    char *s = json_dumps(ev, JSON_COMPACT);
    pend(r, "data: ", 6);
    pend(r, s, strlen(s));
    pend(r, "\n\n", 2);
    free(s);
    json_decref(ev);
}

/* One chunk: text (may be NULL: the delta is empty) and finish reason. */
static json_t *chunk(llp_serve_request *r, const char *text, const char *finish, bool role)
{
    char *id = response_id(r, r->stream == LLP_STREAM_CHAT ? "chatcmpl" : "cmpl");
    json_t *choice;
    if (r->stream == LLP_STREAM_CHAT) {
        json_t *delta = json_object();
        if (role) json_object_set_new(delta, "role", json_string("assistant"));
        if (text) json_object_set_new(delta, "content", json_string(text));
        choice = json_pack("{s:i,s:o,s:n,s:s?}", "index", 0, "delta", delta, "logprobs",
                           "finish_reason", finish);
    } else {
        choice = json_pack("{s:s,s:i,s:n,s:s?}", "text", text ? text : "", "index", 0,
                           "logprobs", "finish_reason", finish);
    }
    if (!finish) json_object_set_new(choice, "finish_reason", json_null());
    json_t *c = json_pack("{s:s,s:s,s:I,s:s,s:[o]}", "id", id, "object",
                          r->stream == LLP_STREAM_CHAT ? "chat.completion.chunk"
                                                       : "text_completion",
                          "created", (json_int_t)time(NULL), "model", r->srv->model_name,
                          "choices", choice);
    free(id);
    return c;
}

static void stream_end(llp_serve_request *r)
{
    llp_serve_job *j = r->job;
    char *rest = llp_serve_stream_utf8(r, "", 0, true);
    if (*rest) pend_event(r, chunk(r, rest, NULL, false));
    free(rest);
    if (j->status) {
        /* the job failed after the headers went out: an error event */
        llp_serve_error(r, j->status, "engine_error", NULL, "%s", j->error);
        pend_event(r, json_incref(r->response));
    } else {
        r->tokens_in = j->res.tokens_in;
        r->tokens_out = j->res.tokens_out;
        json_t *last = chunk(r, NULL, llp_serve_finish_reason(j->res.stop), false);
        json_object_set_new(last, "usage", usage(j->res.tokens_in, j->res.tokens_out));
        pend_event(r, last);
        if (r->include_usage) {
            json_t *u = chunk(r, NULL, NULL, false);
            json_object_set_new(u, "choices", json_array());
            json_object_set_new(u, "usage", usage(j->res.tokens_in, j->res.tokens_out));
            pend_event(r, u);
        }
    }
    pend(r, "data: [DONE]\n\n", 14);
    r->stream_finished = true;
}

long llp_serve_stream_read(llp_serve_request *r, char *buf, size_t max)
{
    while (r->pending_at == r->pending_len) {
        free(r->pending);
        r->pending = NULL;
        r->pending_len = r->pending_at = 0;
        if (r->stream_finished) return 0;
        if (!r->stream_started) {
            r->stream_started = true;
            if (r->stream == LLP_STREAM_CHAT) {
                pend_event(r, chunk(r, "", NULL, true));
                continue;
            }
        }
        char *piece;
        size_t n;
        double slice = llp_now() + 0.1;
        int rc = llp_serve_engine_next_piece(r->srv->engine, r->job,
                                             slice < r->deadline ? slice : r->deadline, &piece,
                                             &n);
        if (rc == 1) {
            char *text = llp_serve_stream_utf8(r, piece, n, false);
            if (*text) pend_event(r, chunk(r, text, NULL, false));
            free(text);
            free(piece);
        } else if (rc == 0) {
            stream_end(r);
        } else if (llp_now() >= r->deadline) {
            llp_serve_engine_cancel(r->srv->engine, r->job);
            llp_serve_error(r, 504, "timeout", NULL, "the request took longer than %g s (--timeout)",
                            r->srv->o->limits.request_timeout);
            pend_event(r, json_incref(r->response));
            pend(r, "data: [DONE]\n\n", 14);
            r->stream_finished = true;
        } else if (llp_serve_client_gone(r)) {
            return -1;
        }
    }
    size_t n = r->pending_len - r->pending_at;
    if (n > max) n = max;
    memcpy(buf, r->pending + r->pending_at, n);
    r->pending_at += n;
    return (long)n;
}

/* ---- embeddings, classification, summaries -------------------------------------- */

static void embeddings(llp_serve_request *r, json_t *body)
{
    const char *format = "float", *model = NULL;
    long dims = 0;
    if (llp_serve_field_str(r, body, "encoding_format", &format) ||
        llp_serve_field_str(r, body, "model", &model) ||
        llp_serve_field_int(r, body, "dimensions", 1, 1 << 20, &dims))
        return;
    if (strcmp(format, "float") && strcmp(format, "base64")) {
        llp_serve_error(r, 400, "invalid_value", "encoding_format",
                        "encoding_format: 'float' or 'base64', got '%s'", format);
        return;
    }
    int dim = r->srv->e->model->cfg.dim;
    if (dims && dims != dim) {
        llp_serve_error(r, 400, "unsupported", "dimensions",
                        "dimensions: this model's embeddings have %d, got %ld", dim, dims);
        return;
    }
    llp_serve_job *j = llp_serve_job_new(LLP_SERVE_EMBED);
    if (llp_serve_field_texts(r, body, "input", r->srv->o->limits.max_inputs, &j->texts, &j->lens,
                              &j->n_texts)) {
        llp_serve_job_free(j);
        return;
    }
    if (submit(r, j)) return;
    if (wait_job(r, j)) {
        llp_serve_job_free(j);
        return;
    }
    json_t *vecs = json_object_get(j->out, "vectors"), *data = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(vecs, i, v) {
        json_t *emb;
        if (!strcmp(format, "base64")) {
            size_t n = json_array_size(v);
            float *f = llp_malloc(sizeof(float) * (n ? n : 1));
            for (size_t k = 0; k < n; k++) f[k] = (float)json_real_value(json_array_get(v, k));
            /* little-endian float32, as the OpenAI clients decode it */
            char *b64 = llp_serve_base64(f, sizeof(float) * n);
            emb = json_string(b64);
            free(b64);
            free(f);
        } else {
            emb = json_incref(v);
        }
        json_array_append_new(data, json_pack("{s:s,s:i,s:o}", "object", "embedding", "index",
                                              (int)i, "embedding", emb));
    }
    int tokens = (int)json_integer_value(json_object_get(j->out, "tokens"));
    r->tokens_in = tokens;
    r->status = 200;
    r->response = json_pack("{s:s,s:o,s:s,s:{s:i,s:i}}", "object", "list", "data", data, "model",
                            r->srv->model_name, "usage", "prompt_tokens", tokens,
                            "total_tokens", tokens);
    /* the store keeps the vectors as floats, whatever the encoding */
    r->record_response = json_pack("{s:s,s:O}", "encoding_format", format, "vectors", vecs);
    llp_serve_job_free(j);
}

static void classify(llp_serve_request *r, json_t *body)
{
    json_t *labels = json_object_get(body, "labels");
    if (!labels) {
        llp_serve_error(r, 400, "missing_field", "labels", "labels: required");
        return;
    }
    if (!json_is_array(labels) || json_array_size(labels) < 2 || json_array_size(labels) > 64) {
        llp_serve_error(r, 400, json_is_array(labels) ? "invalid_value" : "invalid_type", "labels",
                        "labels: expected an array of 2 to 64 strings");
        return;
    }
    size_t i;
    json_t *l;
    json_array_foreach(labels, i, l) {
        if (!json_is_string(l) || !json_string_length(l)) {
            llp_serve_error(r, 400, "invalid_value", "labels",
                            "labels[%zu]: expected a non-empty string", i);
            return;
        }
    }
    llp_serve_job *j = llp_serve_job_new(LLP_SERVE_CLASSIFY);
    if (llp_serve_field_texts(r, body, "input", r->srv->o->limits.max_inputs, &j->texts, &j->lens,
                              &j->n_texts)) {
        llp_serve_job_free(j);
        return;
    }
    j->n_labels = (int)json_array_size(labels);
    j->labels = llp_calloc((size_t)j->n_labels, sizeof *j->labels);
    json_array_foreach(labels, i, l) j->labels[i] = llp_strdup(json_string_value(l));
    if (submit(r, j)) return;
    if (wait_job(r, j)) {
        llp_serve_job_free(j);
        return;
    }
    int tokens = (int)json_integer_value(json_object_get(j->out, "tokens"));
    r->tokens_in = tokens;
    r->status = 200;
    r->response = json_pack("{s:s,s:O,s:s,s:{s:i,s:i}}", "object", "list", "data",
                            json_object_get(j->out, "rows"), "model", r->srv->model_name,
                            "usage", "prompt_tokens", tokens, "total_tokens", tokens);
    llp_serve_job_free(j);
}

static void summarize(llp_serve_request *r, json_t *body)
{
    long max_tokens = 128;
    if (llp_serve_field_int(r, body, "max_tokens", 16, r->srv->o->limits.max_tokens, &max_tokens))
        return;
    json_t *in = json_object_get(body, "input");
    if (in && !json_is_string(in)) {
        llp_serve_error(r, 400, "invalid_type", "input", "input: expected a string");
        return;
    }
    llp_serve_job *j = llp_serve_job_new(LLP_SERVE_SUMMARIZE);
    j->max_tokens = (int)max_tokens;
    if (llp_serve_field_texts(r, body, "input", 1, &j->texts, &j->lens, &j->n_texts)) {
        llp_serve_job_free(j);
        return;
    }
    if (submit(r, j)) return;
    if (wait_job(r, j)) {
        llp_serve_job_free(j);
        return;
    }
    json_t *o = j->out;
    r->tokens_in = json_integer_value(json_object_get(o, "tokens_in"));
    r->tokens_out = json_integer_value(json_object_get(o, "tokens_out"));
    r->status = 200;
    r->response = json_pack("{s:O,s:O,s:O,s:s,s:{s:I,s:I,s:I}}", "summary",
                            json_object_get(o, "summary"), "chunks", json_object_get(o, "chunks"),
                            "levels", json_object_get(o, "levels"), "model", r->srv->model_name,
                            "usage", "prompt_tokens", (json_int_t)r->tokens_in,
                            "completion_tokens", (json_int_t)r->tokens_out, "total_tokens",
                            (json_int_t)(r->tokens_in + r->tokens_out));
    llp_serve_job_free(j);
}

/* ---- the rest ---------------------------------------------------------------------- */

static void models(llp_serve_request *r)
{
    r->status = 200;
    r->response = json_pack("{s:s,s:[{s:s,s:s,s:I,s:s}]}", "object", "list", "data", "id",
                            r->srv->model_name, "object", "model", "created",
                            (json_int_t)r->srv->started, "owned_by", "llamapipe");
}

static void health(llp_serve_request *r)
{
    llp_serve_engine_stats st;
    llp_serve_engine_get_stats(r->srv->engine, &st);
    bool draining = __atomic_load_n(&r->srv->draining, __ATOMIC_RELAXED);
    r->status = draining ? 503 : 200;
    r->response = json_pack("{s:s,s:s,s:i,s:i,s:i}", "status", draining ? "draining" : "ok",
                            "model", r->srv->model_name, "slots", st.slots, "slots_busy",
                            st.slots_busy, "queue", st.queued);
}

static void metrics(llp_serve_request *r)
{
    llp_serve_engine_stats st;
    llp_serve_engine_get_stats(r->srv->engine, &st);
    r->status = 200;
    r->raw = llp_serve_metrics_text(r->srv->metrics, &st, &r->raw_len);
    r->raw_type = "text/plain; version=0.0.4; charset=utf-8";
}

typedef struct route {
    const char *method, *path;
    int kind;                   /* what to call */
} route;

enum { R_PREDICT, R_COMPLETIONS, R_CHAT, R_EMBEDDINGS, R_MODELS, R_CLASSIFY, R_SUMMARIZE,
       R_HEALTH, R_METRICS };

static const route routes[] = {
    { "POST", "/predict", R_PREDICT },
    { "POST", "/v1/completions", R_COMPLETIONS },
    { "POST", "/v1/chat/completions", R_CHAT },
    { "POST", "/v1/embeddings", R_EMBEDDINGS },
    { "GET", "/v1/models", R_MODELS },
    { "POST", "/v1/classify", R_CLASSIFY },
    { "POST", "/v1/summarize", R_SUMMARIZE },
    { "GET", "/health", R_HEALTH },
    { "GET", "/metrics", R_METRICS },
};
#define N_ROUTES ((int)(sizeof routes / sizeof routes[0]))

/* Parse the body as a JSON object, or answer r. */
static json_t *json_body(llp_serve_request *r)
{
    if (!llp_utf8_valid(r->body, r->len)) {
        size_t at = 0;
        while (at < r->len && llp_utf8_valid(r->body, at + 1)) at++;
        llp_serve_error(r, 400, "invalid_utf8", NULL,
                        "the request body is not valid UTF-8 (at byte %zu)", at);
        return NULL;
    }
    json_error_t je;
    json_t *body = json_loadb(r->body, r->len, JSON_REJECT_DUPLICATES, &je);
    if (!body) {
        llp_serve_error(r, 400, "invalid_json", NULL,
                        "the request body is not valid JSON: %s (line %d, column %d)", je.text,
                        je.line, je.column);
        return NULL;
    }
    if (!json_is_object(body)) {
        llp_serve_error(r, 400, "invalid_json", NULL, "the request body must be a JSON object");
        json_decref(body);
        return NULL;
    }
    return body;
}

void llp_serve_route(llp_serve_request *r)
{
    const route *match = NULL;
    bool path_known = false;
    for (int i = 0; i < N_ROUTES; i++)
        if (!strcmp(r->path, routes[i].path)) {
            path_known = true;
            r->route = routes[i].path;
            if (!strcmp(r->method, routes[i].method)) match = &routes[i];
        }
    if (!strncmp(r->path, "/pipelines/", 11)) {
        r->route = "/pipelines";
        if (strcmp(r->method, "POST")) {
            llp_serve_error(r, 405, "method_not_allowed", NULL, "%s %s: use POST", r->method,
                            r->path);
            return;
        }
        llp_serve_pipeline_route(r, r->path + 11);
        return;
    }
    if (!match) {
        if (path_known)
            llp_serve_error(r, 405, "method_not_allowed", NULL, "%s %s: method not allowed",
                            r->method, r->path);
        else {
            r->route = "other";
            llp_serve_error(r, 404, "not_found", NULL, "%s %s: no such route", r->method, r->path);
        }
        return;
    }
    if (match->kind == R_MODELS) return models(r);
    if (match->kind == R_HEALTH) return health(r);
    if (match->kind == R_METRICS) return metrics(r);
    json_t *body = json_body(r);
    if (!body) return;
    switch (match->kind) {
    case R_PREDICT: generation(r, body, GEN_PREDICT); break;
    case R_COMPLETIONS: generation(r, body, GEN_COMPLETION); break;
    case R_CHAT: generation(r, body, GEN_CHAT); break;
    case R_EMBEDDINGS: embeddings(r, body); break;
    case R_CLASSIFY: classify(r, body); break;
    case R_SUMMARIZE: summarize(r, body); break;
    }
    if (!r->record_input) r->record_input = json_incref(body);
    json_decref(body);
}
