/*
 * serve_metrics.c — the counters behind GET /metrics (serve_metrics.h) and
 * their Prometheus text. One mutex; a request takes it once, at its end.
 */
#include "serve_metrics.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* Upper bounds of the latency buckets, seconds (+Inf is implied). */
static const double bucket_le[] = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                    1, 2.5, 5, 10, 30, 60, 120 };
#define N_BUCKETS ((int)(sizeof bucket_le / sizeof bucket_le[0]))
#define MAX_ROUTES 16
#define MAX_STATUS 24

typedef struct route_stats {
    const char *route;
    int status[MAX_STATUS];
    int64_t count[MAX_STATUS];
    int n_status;
    int64_t buckets[N_BUCKETS + 1];     /* non-cumulative; the last is +Inf */
    double sum;
    int64_t n;
} route_stats;

struct llp_serve_metrics {
    pthread_mutex_t mu;
    route_stats routes[MAX_ROUTES];
    int n_routes;
    int64_t tokens_in, tokens_out;
    int inflight;
};

llp_serve_metrics *llp_serve_metrics_new(void)
{
    llp_serve_metrics *m = llp_calloc(1, sizeof *m);
    pthread_mutex_init(&m->mu, NULL);
    return m;
}

void llp_serve_metrics_free(llp_serve_metrics *m)
{
    if (!m) return;
    pthread_mutex_destroy(&m->mu);
    free(m);
}

static route_stats *route_of(llp_serve_metrics *m, const char *route)
{
    for (int i = 0; i < m->n_routes; i++)
        if (!strcmp(m->routes[i].route, route)) return &m->routes[i];
    if (m->n_routes == MAX_ROUTES) return &m->routes[MAX_ROUTES - 1];
    route_stats *r = &m->routes[m->n_routes++];
    r->route = route;
    return r;
}

void llp_serve_metrics_count(llp_serve_metrics *m, const char *route, int status,
                             int64_t tokens_in, int64_t tokens_out, double seconds)
{
    pthread_mutex_lock(&m->mu);
    route_stats *r = route_of(m, route);
    int k = 0;
    while (k < r->n_status && r->status[k] != status) k++;
    if (k == r->n_status && r->n_status < MAX_STATUS) r->status[r->n_status++] = status;
    if (k < MAX_STATUS) r->count[k]++;
    int b = 0;
    while (b < N_BUCKETS && seconds > bucket_le[b]) b++;
    r->buckets[b]++;
    r->sum += seconds;
    r->n++;
    m->tokens_in += tokens_in;
    m->tokens_out += tokens_out;
    pthread_mutex_unlock(&m->mu);
}

void llp_serve_metrics_inflight(llp_serve_metrics *m, int delta)
{
    pthread_mutex_lock(&m->mu);
    m->inflight += delta;
    pthread_mutex_unlock(&m->mu);
}

int llp_serve_metrics_inflight_now(llp_serve_metrics *m)
{
    pthread_mutex_lock(&m->mu);
    int n = m->inflight;
    pthread_mutex_unlock(&m->mu);
    return n;
}

typedef struct out_buf {
    char *s;
    size_t len, cap;
} out_buf;

static void outf(out_buf *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void outf(out_buf *o, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(o->s + o->len, o->cap - o->len, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < o->cap - o->len) {
            o->len += (size_t)n;
            return;
        }
        o->cap = o->cap * 2 + (size_t)(n > 0 ? n : 0) + 256;
        o->s = llp_realloc(o->s, o->cap);
    }
}

char *llp_serve_metrics_text(llp_serve_metrics *m, const llp_serve_engine_stats *st, size_t *len)
{
    out_buf o = { llp_malloc(4096), 0, 4096 };
    pthread_mutex_lock(&m->mu);
    outf(&o, "# HELP llp_requests_total HTTP requests answered, by route and status.\n"
             "# TYPE llp_requests_total counter\n");
    for (int i = 0; i < m->n_routes; i++)
        for (int k = 0; k < m->routes[i].n_status; k++)
            outf(&o, "llp_requests_total{route=\"%s\",status=\"%d\"} %lld\n", m->routes[i].route,
                 m->routes[i].status[k], (long long)m->routes[i].count[k]);
    outf(&o, "# HELP llp_tokens_in_total Prompt tokens of the answered requests.\n"
             "# TYPE llp_tokens_in_total counter\nllp_tokens_in_total %lld\n"
             "# HELP llp_tokens_out_total Tokens generated for the answered requests.\n"
             "# TYPE llp_tokens_out_total counter\nllp_tokens_out_total %lld\n",
         (long long)m->tokens_in, (long long)m->tokens_out);
    outf(&o, "# HELP llp_request_duration_seconds Time from a request's headers to its answer.\n"
             "# TYPE llp_request_duration_seconds histogram\n");
    for (int i = 0; i < m->n_routes; i++) {
        const route_stats *r = &m->routes[i];
        int64_t cum = 0;
        for (int b = 0; b < N_BUCKETS; b++) {
            cum += r->buckets[b];
            outf(&o, "llp_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %lld\n",
                 r->route, bucket_le[b], (long long)cum);
        }
        cum += r->buckets[N_BUCKETS];
        outf(&o, "llp_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %lld\n"
                 "llp_request_duration_seconds_sum{route=\"%s\"} %.6f\n"
                 "llp_request_duration_seconds_count{route=\"%s\"} %lld\n",
             r->route, (long long)cum, r->route, r->sum, r->route, (long long)r->n);
    }
    int inflight = m->inflight;
    pthread_mutex_unlock(&m->mu);
    outf(&o, "# HELP llp_requests_in_flight Requests being served now.\n"
             "# TYPE llp_requests_in_flight gauge\nllp_requests_in_flight %d\n"
             "# HELP llp_queue_depth Jobs waiting for the engine.\n"
             "# TYPE llp_queue_depth gauge\nllp_queue_depth %d\n"
             "# HELP llp_slots Sequence slots decoded together.\n"
             "# TYPE llp_slots gauge\nllp_slots %d\n"
             "# HELP llp_slots_busy Slots holding a generation.\n"
             "# TYPE llp_slots_busy gauge\nllp_slots_busy %d\n"
             "# HELP llp_forward_passes_total Forward passes of the scheduler.\n"
             "# TYPE llp_forward_passes_total counter\nllp_forward_passes_total %lld\n",
         inflight, st->queued, st->slots, st->slots_busy, (long long)st->passes);
    *len = o.len;
    return o.s;
}
