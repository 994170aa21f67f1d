/*
 * metrics.h - HTTP counters kept per worker, summed only when /metrics is scraped.
 *
 * Each worker owns one cache-line-aligned block and is its only writer, so the request path
 * does plain (relaxed atomic) loads and stores: no lock, no lock-prefixed instruction, no
 * cache line bouncing between cores. The scraper reads the blocks with relaxed loads; a
 * scrape may see one request counted in requests_total and not yet in the histogram,
 * which Prometheus tolerates.
 */
#ifndef TG_HTTP_METRICS_H
#define TG_HTTP_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "core/mem.h"

/* Prometheus' default buckets from 0.5 ms to 5 s, plus +Inf (in seconds). */
#define HTTP_METRICS_NBUCKETS 14
/* Status codes 100..599 are counted individually. */
#define HTTP_METRICS_STATUS_MIN 100
#define HTTP_METRICS_NSTATUS 500

struct http_metrics_route {
    _Atomic uint64_t status[HTTP_METRICS_NSTATUS];
    _Atomic uint64_t bucket[HTTP_METRICS_NBUCKETS]; /* not cumulative; +Inf last */
    _Atomic uint64_t sum_ns;
    _Atomic uint64_t count;
};

struct http_metrics_worker {
    _Alignas(64) _Atomic int64_t in_flight;
    size_t nroutes; /* route slots, the last one is "unmatched" */
    struct http_metrics_route routes[];
};

struct http_metrics {
    size_t nroutes;              /* table routes; slot nroutes is "unmatched" */
    char *const *labels;         /* labels[i] = "GET /api/v1/credits" (borrowed) */
    size_t nworkers;
    struct http_metrics_worker **w;
};

/* Allocates the blocks for nworkers workers and nroutes routes (labels borrowed). */
void http_metrics_init(struct http_metrics *m, size_t nroutes, char *const *labels, size_t nworkers);
void http_metrics_free(struct http_metrics *m);
/* Counts one answered request on worker block w. route == (size_t)-1 for unmatched. */
void http_metrics_observe(struct http_metrics_worker *w, size_t route, int status, uint64_t duration_ns);
/* In-flight gauge of block w: +1 / -1. */
void http_metrics_inflight_add(struct http_metrics_worker *w, int64_t delta);
/* Renders the sums over all workers of m as Prometheus text 0.0.4 into out. */
void http_metrics_render_from(const struct http_metrics *m, struct sbuf *out);

#endif
