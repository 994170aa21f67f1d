/*
 * server.h - the HTTP server: workers, listeners, graceful shutdown, HTTP metrics.
 *
 * TG_WORKERS threads each run their own h2o event loop with their own listening socket on
 * TG_LISTEN (SO_REUSEPORT: the kernel spreads connections) and their own store connection.
 * Work that may block goes to TG_BLOCKING_THREADS pool threads (req_defer).
 */
#ifndef TG_HTTP_SERVER_H
#define TG_HTTP_SERVER_H

#include <stdint.h>

#include "core/mem.h"

/*
 * Serves the routes of api_routes with the global configuration tg_cfg (config_load() and
 * ratelimit_init() must have succeeded; the database must be migrated) until SIGTERM or
 * SIGINT. On the first signal: stop accepting, let in-flight requests (including ones
 * waiting on the blocking pool) finish and be answered, then return 0 once none is left or
 * after TG_SHUTDOWN_TIMEOUT seconds, logging {"event":"shutdown","drained":N,...}.
 * A second signal ends the process at once with status 1 (_exit).
 * Call it from the main thread before any other thread exists: it blocks SIGTERM/SIGINT in
 * the calling thread so that every thread it starts inherits the mask and the signals are
 * collected in one place.
 * Returns the process exit status: 0 after a clean shutdown, 1 when start-up failed
 * (bad route table, address in use, store unavailable; already logged).
 */
int http_server_run(void);

/*
 * The Content-Security-Policy of documents (the web UI's index.html, the sandbox pages)
 * with these origins ("https://bucket.s3.example.com") added to img-src, media-src and
 * connect-src: the storage buckets the browser uploads to and plays outputs from. Call once
 * before http_server_run (without it, the policy has no storage origin). Returns 0, or -1
 * with *err set (caller frees) for an origin that is not "http(s)://host[:port]".
 */
int http_page_csp_set(const char *const *origins, size_t n, char **err);

struct store_exec;
struct net_exec;
/*
 * The periodic job (jobs/jobs.h): fn runs on the first worker's loop every interval_ms,
 * with that loop's store and outbound executors, until shutdown begins. It must not block:
 * it starts asynchronous calls and returns; shutdown waits for the calls it started, like a
 * request's. Set before http_server_run (NULL: none).
 */
typedef void (*http_job_fn)(struct store_exec *ex, struct net_exec *nx, int64_t now_ms);
void http_server_set_job(http_job_fn fn, int interval_ms);

struct store_writer;
struct net_client;
/*
 * A background service with a thread of its own (the generation dispatcher): start runs once
 * the group-commit writer and the net client are up, before any worker accepts; stop runs at
 * shutdown once the workers have drained, before the writer and the client stop. start
 * returns 0, or -1 with *err set (the server then does not start). Set before
 * http_server_run (NULL: none).
 */
typedef int (*http_service_start_fn)(struct store_writer *writer, struct net_client *client, char **err);
typedef void (*http_service_stop_fn)(void);
void http_server_set_service(http_service_start_fn start, http_service_stop_fn stop);

/*
 * Appends the HTTP metrics in Prometheus text format 0.0.4 to out:
 * tollgate_http_requests_total{route,status}, tollgate_http_request_duration_seconds
 * (histogram by route) and tollgate_http_requests_in_flight, summed over the workers.
 * Thread-safe; renders zero in-flight and no samples when the server is not running.
 */
void http_metrics_render(struct sbuf *out);

/*
 * Appends the group-commit writer's counters (tollgate_store_write_batches_total,
 * tollgate_store_write_calls_total, tollgate_store_busy_retries_total,
 * tollgate_store_failed_commits_total, tollgate_store_write_queue). Thread-safe; nothing when
 * the server is not running.
 */
void http_writer_metrics_render(struct sbuf *out);

#endif
