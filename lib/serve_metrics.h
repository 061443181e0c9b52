/*
 * serve_metrics.h — llp-serve's counters and their Prometheus text format
 * (GET /metrics): requests by route and status, tokens in and out, a
 * latency histogram per route, and the gauges the engine reports (queue
 * depth, slots busy).
 *
 * Not for: deciding a request's status (serve_http.c) or the engine's own
 * bookkeeping (serve_engine.h).
 *
 * Routes are counted under a fixed set of names (the route table's, or
 * "other" for an unknown path), so a client cannot grow the label set.
 */
#ifndef LLP_SERVE_METRICS_H
#define LLP_SERVE_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "serve_engine.h"

typedef struct llp_serve_metrics llp_serve_metrics;

llp_serve_metrics *llp_serve_metrics_new(void);
void llp_serve_metrics_free(llp_serve_metrics *m);

/* One finished request: its route label (static string), HTTP status,
 * tokens and duration in seconds. Thread-safe. */
void llp_serve_metrics_count(llp_serve_metrics *m, const char *route, int status,
                             int64_t tokens_in, int64_t tokens_out, double seconds);

/* Requests being served now (+1 when one starts, -1 when it ends). */
void llp_serve_metrics_inflight(llp_serve_metrics *m, int delta);
int llp_serve_metrics_inflight_now(llp_serve_metrics *m);

/* The Prometheus text exposition (version 0.0.4), malloc'd, *len set. */
char *llp_serve_metrics_text(llp_serve_metrics *m, const llp_serve_engine_stats *st, size_t *len);

#endif
