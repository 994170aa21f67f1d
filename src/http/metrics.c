/*
 * metrics.c - per-worker HTTP counters and their Prometheus rendering.
 */
#include "http/metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Upper bounds in nanoseconds; the last (+Inf) catches everything. */
static const uint64_t http_metrics_bounds_ns[HTTP_METRICS_NBUCKETS - 1] = {
    500000ull,    1000000ull,   2500000ull,   5000000ull,    10000000ull,   25000000ull,  50000000ull,
    100000000ull, 250000000ull, 500000000ull, 1000000000ull, 2500000000ull, 5000000000ull,
};
static const char *const http_metrics_le[HTTP_METRICS_NBUCKETS] = {
    "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "+Inf",
};

/* Single-writer increment: a relaxed load and store compile to a plain add, unlike
 * atomic_fetch_add which would lock the bus for nothing. */
#define HM_ADD(a, v) atomic_store_explicit(&(a), atomic_load_explicit(&(a), memory_order_relaxed) + (v), memory_order_relaxed)
#define HM_GET(a) atomic_load_explicit(&(a), memory_order_relaxed)

void http_metrics_init(struct http_metrics *m, size_t nroutes, char *const *labels, size_t nworkers)
{
    memset(m, 0, sizeof *m);
    m->nroutes = nroutes;
    m->labels = labels;
    m->nworkers = nworkers;
    m->w = xcalloc(nworkers ? nworkers : 1, sizeof *m->w);
    size_t sz = sizeof(struct http_metrics_worker) + (nroutes + 1) * sizeof(struct http_metrics_route);
    sz = (sz + 63) & ~(size_t)63; /* aligned_alloc wants a multiple of the alignment */
    for (size_t i = 0; i < nworkers; i++) {
        struct http_metrics_worker *w = aligned_alloc(64, sz);
        if (w == NULL) {
            fputs("tollgate: out of memory\n", stderr); /* as xmalloc: OOM is not recoverable */
            abort();
        }
        memset(w, 0, sz);
        w->nroutes = nroutes + 1;
        m->w[i] = w;
    }
}

void http_metrics_free(struct http_metrics *m)
{
    for (size_t i = 0; i < m->nworkers; i++)
        free(m->w[i]);
    free(m->w);
    memset(m, 0, sizeof *m);
}

void http_metrics_observe(struct http_metrics_worker *w, size_t route, int status, uint64_t duration_ns)
{
    if (route >= w->nroutes - 1)
        route = w->nroutes - 1;
    struct http_metrics_route *r = &w->routes[route];
    if (status >= HTTP_METRICS_STATUS_MIN && status < HTTP_METRICS_STATUS_MIN + HTTP_METRICS_NSTATUS)
        HM_ADD(r->status[status - HTTP_METRICS_STATUS_MIN], 1);
    size_t b = 0;
    while (b < HTTP_METRICS_NBUCKETS - 1 && duration_ns > http_metrics_bounds_ns[b])
        b++;
    HM_ADD(r->bucket[b], 1);
    HM_ADD(r->sum_ns, duration_ns);
    HM_ADD(r->count, 1);
}

void http_metrics_inflight_add(struct http_metrics_worker *w, int64_t delta)
{
    HM_ADD(w->in_flight, delta);
}

/* Label values escape backslash, double quote and newline (text format 0.0.4). */
static void http_metrics_label(struct sbuf *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\')
            sbuf_append(out, "\\\\", 2);
        else if (*s == '"')
            sbuf_append(out, "\\\"", 2);
        else if (*s == '\n')
            sbuf_append(out, "\\n", 2);
        else
            sbuf_append(out, s, 1);
    }
}

void http_metrics_render_from(const struct http_metrics *m, struct sbuf *out)
{
    size_t nslots = m->nroutes + 1;
    sbuf_puts(out, "# HELP tollgate_http_requests_total HTTP requests answered, by route and status.\n"
                   "# TYPE tollgate_http_requests_total counter\n");
    for (size_t r = 0; r < nslots; r++) {
        const char *label = r < m->nroutes ? m->labels[r] : "unmatched";
        for (size_t s = 0; s < HTTP_METRICS_NSTATUS; s++) {
            uint64_t n = 0;
            for (size_t i = 0; i < m->nworkers; i++)
                n += HM_GET(m->w[i]->routes[r].status[s]);
            if (n == 0)
                continue;
            sbuf_puts(out, "tollgate_http_requests_total{route=\"");
            http_metrics_label(out, label);
            sbuf_printf(out, "\",status=\"%zu\"} %llu\n", s + HTTP_METRICS_STATUS_MIN, (unsigned long long)n);
        }
    }
    sbuf_puts(out, "# HELP tollgate_http_request_duration_seconds Time from the start of a request to its end, by route.\n"
                   "# TYPE tollgate_http_request_duration_seconds histogram\n");
    for (size_t r = 0; r < nslots; r++) {
        const char *label = r < m->nroutes ? m->labels[r] : "unmatched";
        uint64_t buckets[HTTP_METRICS_NBUCKETS] = {0}, sum_ns = 0, count = 0;
        for (size_t i = 0; i < m->nworkers; i++) {
            const struct http_metrics_route *x = &m->w[i]->routes[r];
            for (size_t b = 0; b < HTTP_METRICS_NBUCKETS; b++)
                buckets[b] += HM_GET(x->bucket[b]);
            sum_ns += HM_GET(x->sum_ns);
            count += HM_GET(x->count);
        }
        if (count == 0)
            continue;
        uint64_t cum = 0;
        for (size_t b = 0; b < HTTP_METRICS_NBUCKETS; b++) {
            cum += buckets[b];
            sbuf_puts(out, "tollgate_http_request_duration_seconds_bucket{route=\"");
            http_metrics_label(out, label);
            sbuf_printf(out, "\",le=\"%s\"} %llu\n", http_metrics_le[b], (unsigned long long)cum);
        }
        /* +Inf must equal _count: buckets and count are read separately, so use the bucket sum */
        sbuf_puts(out, "tollgate_http_request_duration_seconds_sum{route=\"");
        http_metrics_label(out, label);
        sbuf_printf(out, "\"} %.6f\n", (double)sum_ns / 1e9);
        sbuf_puts(out, "tollgate_http_request_duration_seconds_count{route=\"");
        http_metrics_label(out, label);
        sbuf_printf(out, "\"} %llu\n", (unsigned long long)cum);
    }
    int64_t inflight = 0;
    for (size_t i = 0; i < m->nworkers; i++)
        inflight += HM_GET(m->w[i]->in_flight);
    sbuf_printf(out,
                "# HELP tollgate_http_requests_in_flight Requests received and not yet ended.\n"
                "# TYPE tollgate_http_requests_in_flight gauge\n"
                "tollgate_http_requests_in_flight %lld\n",
                (long long)(inflight < 0 ? 0 : inflight));
}
