/*
 * serve_run.c — llp_serve_run (serve.h): the order things start and stop
 * in. Startup: check the address against the key, open the model (one
 * context, --parallel sequences), load the pipelines, begin the serve job,
 * start the engine thread, listen, write the port file. Then the main
 * thread waits for SIGTERM or SIGINT (blocked in every thread, taken with
 * sigtimedwait here, so no handler runs inside a request thread).
 *
 * The stop: stop accepting connections and jobs; let in-flight requests
 * finish for --grace seconds; cancel what is left (those requests get an
 * error answer); close the connections, stop the engine, commit the store
 * and mark the serve job done; exit 0. A second signal during the drain
 * marks the serve job interrupted (committed items stay; the transaction
 * the writer may have open is rolled back by SQLite) and exits at once
 * with 128+signal.
 *
 * Not for: HTTP (serve_http.c), the engine (serve_engine.c), flags
 * (cmd/llp-serve.c).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "serve_internal.h"
#include "store.h"
#include "util.h"

#define TOOL "llp-serve"

llp_serve_limits llp_serve_default_limits(void)
{
    return (llp_serve_limits){
        .max_body = 1 << 20,
        .max_prompt_tokens = 0,
        .max_tokens = 2048,
        .max_inputs = 256,
        .max_queue = 64,
        .max_connections = 128,
        .requests_per_connection = 1000,
        .request_timeout = 300,
        .idle_timeout = 30,
    };
}

/* Whether every address host resolves to is a loopback one. */
static int is_loopback(const char *host, llp_err *err)
{
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE }, *ai, *p;
    int rc = getaddrinfo(host, NULL, &hints, &ai);
    if (rc) return llp_err_set(err, "--host %s: %s", host, gai_strerror(rc));
    int loop = 1;
    for (p = ai; p; p = p->ai_next) {
        if (p->ai_family == AF_INET) {
            const struct sockaddr_in *a = (const void *)p->ai_addr;
            if ((ntohl(a->sin_addr.s_addr) >> 24) != 127) loop = 0;
        } else if (p->ai_family == AF_INET6) {
            const struct sockaddr_in6 *a = (const void *)p->ai_addr;
            if (!IN6_IS_ADDR_LOOPBACK(&a->sin6_addr)) loop = 0;
        } else {
            loop = 0;
        }
    }
    freeaddrinfo(ai);
    return loop;
}

static void model_name(const char *path, char *out, size_t cap)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    snprintf(out, cap, "%s", base);
    size_t n = strlen(out);
    if (n > 5 && !strcmp(out + n - 5, ".gguf")) out[n - 5] = 0;
}

static int write_port_file(const char *path, int port, llp_err *err)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return llp_err_set(err, "--port-file %s: %s", path, strerror(errno));
    fprintf(f, "%d\n", port);
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        unlink(tmp);
        return llp_err_set(err, "--port-file %s: %s", path, strerror(errno));
    }
    return 0;
}

static json_t *serve_params(const llp_serve_opts *o, const llp_server *srv)
{
    const llp_serve_limits *l = &o->limits;
    return json_pack("{s:i,s:i,s:s,s:s,s:f,s:f,s:i,s:{s:I,s:i,s:i,s:i,s:i,s:f}}", "parallel",
                     llp_context_n_seq(srv->e->ctx), "n_ctx", srv->n_ctx, "chat",
                     llp_chat_format_name(srv->predict_chat), "chat_template",
                     llp_chat_format_name(srv->chat_format), "temp",
                     llp_f32_decimal(o->sampling.temp), "top_p",
                     llp_f32_decimal(o->sampling.top_p), "n_predict", o->n_predict, "limits",
                     "max_body", (json_int_t)l->max_body, "max_prompt_tokens", srv->max_prompt,
                     "max_tokens", l->max_tokens, "max_inputs", l->max_inputs, "queue",
                     l->max_queue, "timeout", l->request_timeout);
}

/* Wait for a signal for at most seconds (forever when < 0). Returns the
 * signal, or 0 on timeout. */
static int wait_signal(const sigset_t *set, double seconds)
{
    for (;;) {
        int sig;
        if (seconds < 0) {
            if (sigwait(set, &sig) == 0) return sig;
            continue;
        }
        struct timespec ts = { (time_t)seconds, (long)((seconds - (time_t)seconds) * 1e9) };
        sig = sigtimedwait(set, NULL, &ts);
        if (sig > 0) return sig;
        if (errno == EAGAIN) return 0;
    }
}

int llp_serve_run(const llp_serve_opts *o)
{
    llp_err err = { { 0 } };
    bool has_key = o->api_key && *o->api_key;
    int loop = is_loopback(o->host, &err);
    if (loop < 0) {
        llp_error(TOOL, "%s", err.msg);
        return LLP_EXIT_USAGE;
    }
    if (!loop && !has_key && !o->no_auth) {
        llp_error(TOOL, "refusing to listen on %s without an API key: give --api-key KEY (or "
                        "LLP_API_KEY), or --no-auth to serve it open",
                  o->host);
        return LLP_EXIT_USAGE;
    }

    /* every thread started from here on inherits the blocked signals; the
     * main thread takes them with sigtimedwait */
    sigset_t stop_set;
    sigemptyset(&stop_set);
    sigaddset(&stop_set, SIGINT);
    sigaddset(&stop_set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_set, NULL);
    signal(SIGPIPE, SIG_IGN);

    llp_server srv = { .o = o, .started = time(NULL) };
    int code = LLP_EXIT_FATAL;
    llp_serve_http *http = NULL;
    json_t *params = NULL;
    llp_engine_opts eo = { .model_path = o->model_path, .n_ctx = o->n_ctx,
                           .n_seq = o->parallel > 0 ? o->parallel : LLP_ENGINE_SEQ_AUTO,
                           .n_threads = o->n_threads, .kv_type = o->kv_type, .lora = o->lora,
                           .lora_scale = o->lora_scale, .n_lora = o->n_lora,
                           .lora_merge = o->lora_merge };
    /* the pipelines first: a bad file fails before the model loads. One
     * without `model:` runs on the served model, as llp-run would with
     * LLP_MODEL set to it */
    if (o->n_pipelines && !getenv("LLP_MODEL")) setenv("LLP_MODEL", o->model_path, 1);
    if (!(srv.pipes = llp_serve_pipelines_load(o->pipelines, o->n_pipelines, &err))) goto fail;
    if (!(srv.e = llp_engine_open(&eo, &err))) goto fail;
    srv.n_ctx = llp_context_n_ctx(srv.e->ctx);
    srv.max_prompt = srv.n_ctx - 1;
    if (o->limits.max_prompt_tokens > 0 && o->limits.max_prompt_tokens < srv.max_prompt)
        srv.max_prompt = o->limits.max_prompt_tokens;
    srv.predict_chat = llp_engine_chat(srv.e, o->chat);
    srv.chat_format = llp_engine_chat(srv.e, 1);
    model_name(o->model_path, srv.model_name, sizeof srv.model_name);
    srv.metrics = llp_serve_metrics_new();
    params = serve_params(o, &srv);
    if (!(srv.rec = llp_serve_recorder_open(o, srv.e, params, &err))) goto fail;
    llp_serve_engine_opts eng = { .max_queue = o->limits.max_queue, .n_threads = o->n_threads };
    if (!(srv.engine = llp_serve_engine_start(srv.e, &eng, &err))) goto fail;
    int port = 0;
    if (!(http = llp_serve_http_start(&srv, &port, &err))) goto fail;
    if (o->port_file && write_port_file(o->port_file, port, &err)) goto fail;
    if (!o->quiet) {
        llp_note(TOOL, "listening on http://%s%s%s:%d/ (model %s, %d slots of %d tokens%s%s)",
                 strchr(o->host, ':') ? "[" : "", o->host, strchr(o->host, ':') ? "]" : "", port,
                 srv.model_name, llp_context_n_seq(srv.e->ctx), srv.n_ctx,
                 has_key ? ", API key required" : "",
                 llp_serve_recorder_job(srv.rec)
                     ? ""
                     : ", not recording");
        if (llp_serve_recorder_job(srv.rec))
            llp_note(TOOL, "requests are recorded as items of job %lld in %s",
                     (long long)llp_serve_recorder_job(srv.rec), llp_serve_recorder_path(srv.rec));
    }

    int sig = wait_signal(&stop_set, -1);
    if (!o->quiet)
        llp_note(TOOL, "%s: stopping; in-flight requests have %g s (--grace); a second signal "
                       "exits at once",
                 strsignal(sig), o->grace);
    __atomic_store_n(&srv.draining, 1, __ATOMIC_RELAXED);
    llp_serve_http_quiesce(http);
    llp_serve_engine_close(srv.engine);
    double until = llp_now() + o->grace;
    const char *status = LLP_JOB_DONE;
    while (llp_serve_metrics_inflight_now(srv.metrics) > 0) {
        double left = until - llp_now();
        if (left <= 0) {
            if (!o->quiet)
                llp_note(TOOL, "grace period over: cancelling %d request(s)",
                         llp_serve_metrics_inflight_now(srv.metrics));
            llp_serve_engine_abort(srv.engine);
            break;
        }
        int again = wait_signal(&stop_set, left < 0.05 ? left : 0.05);
        if (again) {
            int64_t id = llp_serve_recorder_job(srv.rec);
            if (id > 0 && llp_store_jobs_mark(llp_serve_recorder_path(srv.rec), &id, 1,
                                              LLP_JOB_INTERRUPTED, 1000, &err))
                llp_error(TOOL, "%s", err.msg);
            llp_error(TOOL, "%s again: exiting now", strsignal(again));
            _exit(128 + again);
        }
    }
    llp_serve_http_stop(http);
    http = NULL;
    llp_serve_engine_stop(srv.engine);
    srv.engine = NULL;
    code = LLP_EXIT_OK;
    if (llp_serve_recorder_close(srv.rec, status, &err)) {
        llp_error(TOOL, "%s", err.msg);
        code = LLP_EXIT_FATAL;
    }
    srv.rec = NULL;
    if (!o->quiet && code == LLP_EXIT_OK) llp_note(TOOL, "stopped");
    goto out;
fail:
    llp_error(TOOL, "%s", err.msg);
out:
    llp_serve_http_stop(http);
    llp_serve_engine_stop(srv.engine);
    if (srv.rec) llp_serve_recorder_close(srv.rec, LLP_JOB_FAILED, &err);
    llp_serve_pipelines_free(srv.pipes);
    llp_serve_metrics_free(srv.metrics);
    llp_engine_free(srv.e);
    json_decref(params);
    return code;
}
