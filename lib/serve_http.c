/*
 * serve_http.c — llp-serve's HTTP layer on libmicrohttpd: listening,
 * HTTP/1.1 keep-alive connections (one thread each, so a request may wait
 * for the engine), reading bodies within --max-body, the API key, the
 * per-connection request limit, turning a route's answer into a response
 * (JSON, raw bytes, or server-sent events), and, once a request is over,
 * its record in the store and its count in /metrics.
 *
 * Not for: what a route answers (serve_routes.c) or how errors look
 * (serve_api.c).
 *
 * Keys: every route but GET /health needs "Authorization: Bearer KEY" when
 * the server has a key. The comparison takes the same time whatever the
 * given key holds (it depends only on the server key's length).
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "cli.h"
#include "hash.h"
#include "serve_internal.h"
#include "util.h"

struct llp_serve_http {
    struct MHD_Daemon *d;
    llp_server *srv;
};

/* One request while MHD holds it (con_cls). */
typedef struct req_state {
    llp_serve_request r;
    size_t cap;
    bool oversize;              /* the body passed --max-body: read and dropped */
    bool answered;              /* a response is queued */
    bool close;                 /* close the connection after it */
} req_state;

/* ---- keys ------------------------------------------------------------------------ */

static bool key_equal(const char *given, const char *key)
{
    size_t glen = strlen(given), klen = strlen(key);
    unsigned char diff = glen != klen;
    for (size_t i = 0; i < klen; i++) diff |= (unsigned char)(key[i] ^ (i < glen ? given[i] : 0));
    return diff == 0;
}

static bool authorized(llp_server *srv, struct MHD_Connection *c, const char *path)
{
    const char *key = srv->o->api_key;
    if (!key || !*key || !strcmp(path, "/health")) return true;
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h || strncasecmp(h, "Bearer ", 7)) return false;
    h += 7;
    while (*h == ' ') h++;
    return key_equal(h, key);
}

/* ---- answering --------------------------------------------------------------------- */

static ssize_t stream_cb(void *cls, uint64_t pos, char *buf, size_t max)
{
    req_state *s = cls;
    long n = llp_serve_stream_read(&s->r, buf, max);
    if (n > 0) return n;
    return n == 0 ? MHD_CONTENT_READER_END_OF_STREAM : MHD_CONTENT_READER_END_WITH_ERROR;
}

static enum MHD_Result respond(struct MHD_Connection *c, req_state *s)
{
    llp_serve_request *r = &s->r;
    struct MHD_Response *resp;
    s->answered = true;
    if (r->stream) {
        resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_cb, s, NULL);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    } else if (r->raw) {
        resp = MHD_create_response_from_buffer(r->raw_len, r->raw, MHD_RESPMEM_MUST_COPY);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->raw_type);
    } else {
        if (!r->response) llp_serve_error(r, 500, "internal", NULL, "no answer");
        char *body = json_dumps(r->response, JSON_COMPACT | JSON_PRESERVE_ORDER);
        size_t n = strlen(body);
        body = llp_realloc(body, n + 2);
        body[n++] = '\n';
        resp = MHD_create_response_from_buffer(n, body, MHD_RESPMEM_MUST_FREE);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    }
    if (r->retry_after) MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, r->retry_after);
    if (r->status == 401) MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    if (r->status == 405)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW,
                                !strcmp(r->path, "/v1/models") || !strcmp(r->path, "/health") ||
                                        !strcmp(r->path, "/metrics")
                                    ? "GET"
                                    : "POST");
    if (s->close || __atomic_load_n(&r->srv->draining, __ATOMIC_RELAXED))
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result rc = MHD_queue_response(c, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    return rc;
}

/* ---- a request's end: record and count ---------------------------------------------- */

static void finish(llp_server *srv, req_state *s, enum MHD_RequestTerminationCode toe)
{
    llp_serve_request *r = &s->r;
    if (r->job) {
        /* a stream that did not run to its end: the client left */
        if (!r->stream_finished) {
            llp_serve_engine_cancel(srv->engine, r->job);
            llp_serve_error(r, 499, "client_closed", NULL,
                            "the client closed the connection during the stream");
        }
        llp_serve_job_free(r->job);
        r->job = NULL;
    }
    if (!r->status) llp_serve_error(r, 499, "client_closed", NULL, "the client closed the connection");
    double seconds = llp_now() - r->started;
    llp_serve_metrics_count(srv->metrics, r->route, r->status, r->tokens_in, r->tokens_out,
                            seconds);
    llp_serve_metrics_inflight(srv->metrics, -1);
    /* probes are counted, not recorded: a scraper must not fill the store */
    bool probe = !strcmp(r->route, "/health") || !strcmp(r->route, "/metrics");
    if (!probe) {
        llp_serve_item it = { .n = r->n, .route = r->route, .status = r->status,
                              .tokens_in = r->tokens_in, .tokens_out = r->tokens_out,
                              .ms = seconds * 1000 };
        if (!strcmp(r->route, "other") || !strcmp(r->route, "/pipelines")) it.route = r->path;
        llp_hash128(r->body ? r->body : "", r->len, it.input_hash);
        it.input = r->record_input ? json_incref(r->record_input)
                 : json_pack("{s:o}", "body", llp_json_string(r->body ? r->body : "",
                                                                r->len > 65536 ? 65536 : r->len));
        if (r->stream && r->status == 200)
            it.response = json_pack("{s:o,s:I,s:I}", "completion",
                                    llp_json_string(r->stream_text ? r->stream_text : "",
                                                    r->stream_text_len),
                                    "tokens_in", (json_int_t)r->tokens_in, "tokens_out",
                                    (json_int_t)r->tokens_out);
        else
            it.response = json_incref(r->record_response ? r->record_response : r->response);
        it.error = r->status >= 400 ? r->error : NULL;
        llp_serve_recorder_put(srv->rec, &it);
    }
    free((char *)r->method);
    free((char *)r->path);
    free((char *)r->content_type);
    free(r->body);
    json_decref(r->response);
    free(r->raw);
    free(r->error);
    json_decref(r->record_input);
    json_decref(r->record_response);
    free(r->pending);
    free(r->stream_text);
    free(s);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    llp_serve_http *h = cls;
    if (*con_cls) finish(h->srv, *con_cls, toe);
    *con_cls = NULL;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) *socket_context = llp_calloc(1, sizeof(int));
    else {
        free(*socket_context);
        *socket_context = NULL;
    }
}

/* ---- the handler ------------------------------------------------------------------- */

static req_state *begin(llp_serve_http *h, struct MHD_Connection *c, const char *url,
                        const char *method)
{
    llp_server *srv = h->srv;
    req_state *s = llp_calloc(1, sizeof *s);
    llp_serve_request *r = &s->r;
    r->srv = srv;
    r->n = __atomic_add_fetch(&srv->next_request, 1, __ATOMIC_RELAXED);
    r->method = llp_strdup(method);
    r->path = llp_strdup(url);
    r->route = "other";
    const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    r->content_type = ct ? llp_strdup(ct) : NULL;
    r->started = llp_now();
    r->deadline = r->started + srv->o->limits.request_timeout;
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    r->fd = ci ? ci->connect_fd : -1;
    r->body = llp_malloc(1);
    r->body[0] = 0;
    s->cap = 1;
    const union MHD_ConnectionInfo *sc = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    int *count = sc ? sc->socket_context : NULL;
    if (count && ++*count >= srv->o->limits.requests_per_connection) s->close = true;
    llp_serve_metrics_inflight(srv->metrics, 1);
    return s;
}

/* The route label of a path, for early answers (before routing). */
static const char *label_of(const char *path)
{
    static const char *const known[] = { "/predict", "/v1/completions", "/v1/chat/completions",
                                         "/v1/embeddings", "/v1/models", "/v1/classify",
                                         "/v1/summarize", "/health", "/metrics" };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (!strcmp(path, known[i])) return known[i];
    return !strncmp(path, "/pipelines/", 11) ? "/pipelines" : "other";
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload, size_t *upload_size, void **con_cls)
{
    llp_serve_http *h = cls;
    llp_server *srv = h->srv;
    req_state *s = *con_cls;
    if (!s) {
        s = begin(h, c, url, method);
        *con_cls = s;
        llp_serve_request *r = &s->r;
        if (!authorized(srv, c, url)) {
            r->route = label_of(url);
            s->close = true;
            llp_serve_error(r, 401, "invalid_api_key", NULL,
                            "missing or wrong API key: send 'Authorization: Bearer KEY'");
            return respond(c, s);
        }
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > srv->o->limits.max_body) {
            r->route = label_of(url);
            s->close = true;
            llp_serve_error(r, 413, "body_too_large", NULL,
                            "the request body of %s bytes is larger than the %zu allowed "
                            "(--max-body)",
                            cl, srv->o->limits.max_body);
            return respond(c, s);
        }
        return MHD_YES;
    }
    llp_serve_request *r = &s->r;
    if (*upload_size) {
        if (!s->answered && !s->oversize) {
            if (r->len + *upload_size > srv->o->limits.max_body) {
                s->oversize = true;
            } else {
                if (r->len + *upload_size + 1 > s->cap) {
                    s->cap = (r->len + *upload_size + 1) * 2;
                    if (s->cap > srv->o->limits.max_body + 1) s->cap = srv->o->limits.max_body + 1;
                    r->body = llp_realloc(r->body, s->cap);
                }
                memcpy(r->body + r->len, upload, *upload_size);
                r->len += *upload_size;
                r->body[r->len] = 0;
            }
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (s->answered) return MHD_YES;
    if (s->oversize) {
        r->route = label_of(url);
        s->close = true;
        llp_serve_error(r, 413, "body_too_large", NULL,
                        "the request body is larger than the %zu bytes allowed (--max-body)",
                        srv->o->limits.max_body);
        return respond(c, s);
    }
    llp_serve_route(r);
    return respond(c, s);
}

/* ---- the daemon --------------------------------------------------------------------- */

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && msg[n - 1] == '\n') msg[--n] = 0;
    llp_serve_http *h = cls;
    if (!h->srv->o->quiet) llp_note("llp-serve", "http: %s", msg);
}

llp_serve_http *llp_serve_http_start(llp_server *srv, int *port, llp_err *err)
{
    const llp_serve_opts *o = srv->o;
    struct addrinfo hints = { .ai_flags = AI_PASSIVE, .ai_socktype = SOCK_STREAM }, *ai = NULL;
    char portstr[16];
    snprintf(portstr, sizeof portstr, "%d", o->port);
    int gai = getaddrinfo(o->host, portstr, &hints, &ai);
    if (gai) {
        llp_err_set(err, "--host %s: %s", o->host, gai_strerror(gai));
        return NULL;
    }
    llp_serve_http *h = llp_calloc(1, sizeof *h);
    h->srv = srv;
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_ITC | MHD_USE_ERROR_LOG;
    if (ai->ai_family == AF_INET6) flags |= MHD_USE_IPv6;
    h->d = MHD_start_daemon(
        flags, (uint16_t)o->port, NULL, NULL, on_request, h, MHD_OPTION_EXTERNAL_LOGGER, mhd_log,
        h, MHD_OPTION_SOCK_ADDR, ai->ai_addr,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)o->limits.max_connections,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)o->limits.idle_timeout,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, h, MHD_OPTION_NOTIFY_CONNECTION,
        on_connection, h, MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!h->d) {
        llp_err_set(err, "cannot listen on %s port %d (in use, or not an address of this host)",
                    o->host, o->port);
        free(h);
        return NULL;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    *port = di ? di->port : o->port;
    return h;
}

void llp_serve_http_quiesce(llp_serve_http *h)
{
    MHD_socket fd = MHD_quiesce_daemon(h->d);
    if (fd != MHD_INVALID_SOCKET) close(fd);
}

void llp_serve_http_stop(llp_serve_http *h)
{
    if (!h) return;
    MHD_stop_daemon(h->d);
    free(h);
}
