/*
 * server.c - worker threads, listening sockets and graceful shutdown.
 *
 * Shutdown: the main thread collects SIGTERM/SIGINT with sigtimedwait (they are blocked in
 * every thread) and sends each worker a message over its h2o_multithread queue. A worker
 * then closes its listener, asks h2o to close idle connections
 * (h2o_context_request_shutdown), and leaves its loop once no request is in flight, no
 * deferred job is outstanding and its connections are gone - or at the deadline.
 */
#include "http/server.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/config.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "http/internal.h"
#include "store/store.h"
#include "worker/pool.h"

/* h2o refuses bodies above this itself (413 without our JSON); up to it, our code decides
 * (TG_MAX_BODY_BYTES), so an oversized JSON body still gets a JSON 413. */
#define HTTP_ENTITY_CEILING (32u * 1024u * 1024u)
/* Accepts per readiness event: bounded so that one busy listener cannot starve requests. */
#define HTTP_ACCEPT_BATCH 32
/* Access-log flush and shutdown-check period (ms). */
#define HTTP_TICK_MS 100

struct http_server *http_srv;

#if defined(__SANITIZE_ADDRESS__)
/*
 * LeakSanitizer reads its default suppressions from this hook. libh2o keeps per-thread
 * recycle caches of memory-pool chunks and socket buffers (h2o_mem_alloc_recycle) in
 * thread-local storage and offers no call to empty them in 2.2.5, so each worker thread
 * leaves a few chunks behind when it exits. They are bounded (a handful per thread) and
 * not ours; everything else must still be leak-free.
 */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:h2o_mem_alloc_recycle\n";
}
#endif

void http_metrics_render(struct sbuf *out)
{
    struct http_server *s = http_srv;
    if (s != NULL) {
        http_metrics_render_from(&s->metrics, out);
        return;
    }
    struct http_metrics empty = {0};
    http_metrics_render_from(&empty, out);
}

/* ---- per worker ---- */

static int http_worker_conns_open(struct http_worker *w)
{
    return !h2o_linklist_is_empty(&w->ctx.http1._conns) || !h2o_linklist_is_empty(&w->ctx.http2._conns);
}

void http_worker_check_drained(struct http_worker *w)
{
    if (!w->shutting_down || w->stop)
        return;
    if (w->in_flight == 0 && w->pending_jobs == 0 && !http_worker_conns_open(w))
        w->stop = 1;
}

static void http_on_tick(h2o_timeout_entry_t *e)
{
    struct http_worker *w = H2O_STRUCT_FROM_MEMBER(struct http_worker, tick_entry, e);
    if (w->alog.len)
        http_accesslog_flush(&w->alog);
    if (!w->shutting_down)
        return;
    http_worker_check_drained(w);
    if (!w->stop && time_now_ms() >= w->deadline_ms)
        w->stop = 1;
    if (!w->stop)
        h2o_timeout_link(w->loop, &w->tick, &w->tick_entry);
}

static void http_on_accept(h2o_socket_t *listener, const char *err)
{
    struct http_worker *w = listener->data;
    if (err != NULL)
        return;
    for (int i = 0; i < HTTP_ACCEPT_BATCH; i++) {
        h2o_socket_t *sock = h2o_evloop_socket_accept(listener);
        if (sock == NULL)
            break;
        h2o_accept(&w->accept_ctx, sock);
    }
}

static void http_worker_begin_shutdown(struct http_worker *w)
{
    if (w->shutting_down)
        return;
    w->shutting_down = 1;
    w->deadline_ms = time_now_ms() + (int64_t)tg_cfg->shutdown_timeout_s * 1000;
    if (w->listener != NULL) {
        h2o_socket_read_stop(w->listener);
        h2o_socket_close(w->listener); /* closes the fd: the kernel stops routing us connections */
        w->listener = NULL;
        w->listen_fd = -1;
    }
    h2o_context_request_shutdown(&w->ctx);
    /*
     * libh2o 2.2.5's HTTP/1 has no request_shutdown hook, so an idle keep-alive connection
     * would hold the shutdown until its idle timeout (TG_HTTP_TIMEOUT). Zeroing the
     * context's own request/idle timeouts makes every connection waiting for its next
     * request due now, and h2o's timeout path closes it. A connection whose request is
     * being handled has no request timeout armed, so it finishes and is then closed
     * because shutdown was requested.
     */
    w->ctx.http1.req_timeout.timeout = 0;
    w->ctx.http2.idle_timeout.timeout = 0;
    if (!h2o_timeout_is_linked(&w->tick_entry))
        h2o_timeout_link(w->loop, &w->tick, &w->tick_entry);
    http_worker_check_drained(w);
}

static void http_on_control(h2o_multithread_receiver_t *r, h2o_linklist_t *messages)
{
    struct http_worker *w = H2O_STRUCT_FROM_MEMBER(struct http_worker, control, r);
    while (!h2o_linklist_is_empty(messages))
        h2o_linklist_unlink(messages->next);
    http_worker_begin_shutdown(w);
}

static void *http_worker_main(void *arg)
{
    struct http_worker *w = arg;
    w->listener = h2o_evloop_socket_create(w->loop, w->listen_fd, H2O_SOCKET_FLAG_DONT_READ);
    w->listener->data = w;
    h2o_socket_read_start(w->listener, http_on_accept);
    while (!w->stop)
        h2o_evloop_run(w->loop, INT32_MAX);
    http_accesslog_flush(&w->alog);
    atomic_store(&w->exited, 1);
    return NULL;
}

/* ---- listening sockets ---- */

/*
 * Opens a listening socket on host:port with SO_REUSEPORT. *port_out receives the bound
 * port (useful with port 0). Returns the fd or -1 with *err set (caller frees).
 */
static int http_listen_open(const char *host, int port, int *port_out, char **err)
{
    int fd = -1, ret = -1;
    struct addrinfo hints = {0}, *res = NULL;
    char portstr[16], hostbuf[256];
    snprintf(portstr, sizeof portstr, "%d", port);
    /* "[::1]" as written in TG_LISTEN for IPv6 */
    size_t hl = strlen(host);
    if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']' && hl - 2 < sizeof hostbuf) {
        memcpy(hostbuf, host + 1, hl - 2);
        hostbuf[hl - 2] = '\0';
        host = hostbuf;
    }
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int gai = getaddrinfo(host[0] ? host : NULL, portstr, &hints, &res);
    if (gai != 0) {
        *err = xasprintf("TG_LISTEN %s:%d: %s", host, port, gai_strerror(gai));
        goto cleanup;
    }
    fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        *err = xasprintf("socket: %s", strerror(errno));
        goto cleanup;
    }
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
        *err = xasprintf("setsockopt: %s", strerror(errno));
        goto cleanup;
    }
    /* inherited by accepted sockets: small JSON replies must not wait for Nagle */
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (bind(fd, res->ai_addr, res->ai_addrlen) != 0) {
        *err = xasprintf("bind %s:%d: %s", host, port, strerror(errno));
        goto cleanup;
    }
    if (listen(fd, SOMAXCONN) != 0) {
        *err = xasprintf("listen: %s", strerror(errno));
        goto cleanup;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    *port_out = port;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
        *port_out = h2o_socket_getport((struct sockaddr *)&ss);
    ret = fd;
    fd = -1;
cleanup:
    if (fd >= 0)
        close(fd);
    if (res)
        freeaddrinfo(res);
    return ret;
}

/* ---- the server ---- */

static void http_server_configure(struct http_server *s)
{
    h2o_config_init(&s->gconf);
    s->gconf.server_name = h2o_iovec_init(H2O_STRLIT("tollgate"));
    s->gconf.max_request_entity_size = HTTP_ENTITY_CEILING;
    s->gconf.http1.req_timeout = (uint64_t)tg_cfg->http_timeout_s * 1000;
    s->gconf.http2.idle_timeout = (uint64_t)tg_cfg->http_timeout_s * 1000;
    s->gconf.http2.graceful_shutdown_timeout = (uint64_t)tg_cfg->shutdown_timeout_s * 1000;
    h2o_hostconf_t *host = h2o_config_register_host(&s->gconf, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *path = h2o_config_register_path(host, "/", 0);
    h2o_handler_t *handler = h2o_create_handler(path, sizeof *handler);
    handler->on_req = http_dispatch_on_req;
    h2o_logger_t *logger = h2o_create_logger(path, sizeof *logger);
    logger->log_access = http_dispatch_on_log;
    http_fallback_register(host);
}

static int http_worker_init(struct http_server *s, struct http_worker *w, unsigned index, char **err)
{
    w->index = index;
    w->loop = h2o_evloop_create();
    h2o_context_init(&w->ctx, w->loop, &s->gconf);
    w->accept_ctx.ctx = &w->ctx;
    w->accept_ctx.hosts = s->gconf.hosts;
    pool_receiver_init(w->ctx.queue, &w->jobs);
    h2o_multithread_register_receiver(w->ctx.queue, &w->control, http_on_control);
    h2o_timeout_init(w->loop, &w->tick, HTTP_TICK_MS);
    w->tick_entry.cb = http_on_tick;
    http_accesslog_init(&w->alog, 2);
    w->alog_on = s->access_log;
    w->metrics = s->metrics.w[index];
    w->store = store_open(tg_cfg->database_url, err);
    return w->store ? 0 : -1;
}

/* Releases a worker whose loop has stopped with nothing left in flight. */
static void http_worker_dispose(struct http_worker *w)
{
    if (w->loop == NULL) {
        if (w->listen_fd >= 0)
            close(w->listen_fd);
        w->listen_fd = -1;
        return;
    }
    if (h2o_timeout_is_linked(&w->tick_entry))
        h2o_timeout_unlink(&w->tick_entry);
    h2o_timeout_dispose(w->loop, &w->tick);
    if (w->listener != NULL)
        h2o_socket_close(w->listener);
    else if (w->listen_fd >= 0)
        close(w->listen_fd);
    /* h2o_context_request_shutdown arms a one-second timer that re-sends HTTP/2 GOAWAYs; no
     * connection is left to send one to, and h2o_context_dispose asserts that no timer is. */
    if (h2o_timeout_is_linked(&w->ctx.http2._graceful_shutdown_timeout))
        h2o_timeout_unlink(&w->ctx.http2._graceful_shutdown_timeout);
    pool_receiver_dispose(w->ctx.queue, &w->jobs);
    h2o_multithread_unregister_receiver(w->ctx.queue, &w->control);
    h2o_multithread_queue_t *queue = w->ctx.queue;
    h2o_context_dispose(&w->ctx);
    /* libh2o 2.2.5's h2o_multithread_destroy_queue (called by h2o_context_dispose) closes the
     * queue's socket but never frees the queue itself; checked under ASan: no double free. */
    free(queue);
    h2o_evloop_destroy(w->loop);
    w->loop = NULL;
    if (w->store)
        store_close(w->store);
    w->store = NULL;
}

int http_server_run(void)
{
    int ret = 1;
    char *err = NULL;
    size_t nw = (size_t)(tg_cfg->workers > 0 ? tg_cfg->workers : 1);
    struct http_server *s = xcalloc(1, sizeof *s);
    sigset_t sigs;
    int port = tg_cfg->listen_port, clean = 1, started = 0;

    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    json_object_seed(0); /* once, before threads: jansson's hash seed */

    if (http_router_compile(&s->router, api_routes, api_routes_count, &err) != 0)
        goto cleanup;
    http_metrics_init(&s->metrics, s->router.n, s->router.labels, nw);
    s->max_body = (size_t)tg_cfg->max_body_bytes;
    s->access_log = tg_cfg->access_log && log_enabled(LOG_INFO);
    s->nworkers = nw;
    s->workers = xcalloc(nw, sizeof *s->workers);
    for (size_t i = 0; i < nw; i++)
        s->workers[i].listen_fd = -1;
    s->pool = pool_create((unsigned)(tg_cfg->blocking_threads > 0 ? tg_cfg->blocking_threads : 1),
                          HTTP_POOL_QUEUE_MAX, &err);
    if (s->pool == NULL)
        goto cleanup;
    http_server_configure(s);
    http_srv = s;

    for (size_t i = 0; i < nw; i++) {
        int bound = 0;
        s->workers[i].listen_fd = http_listen_open(tg_cfg->listen_host, port, &bound, &err);
        if (s->workers[i].listen_fd < 0)
            goto cleanup;
        port = bound; /* with port 0 the first bind picks one and the others share it */
        if (http_worker_init(s, &s->workers[i], (unsigned)i, &err) != 0)
            goto cleanup;
    }
    for (size_t i = 0; i < nw; i++) {
        int rc = pthread_create(&s->workers[i].tid, NULL, http_worker_main, &s->workers[i]);
        if (rc != 0) {
            err = xasprintf("pthread_create: %s", strerror(rc));
            goto cleanup;
        }
        s->workers[i].started = 1;
        started++;
    }
    {
        char addr[300], nbuf[16];
        snprintf(addr, sizeof addr, "%s:%d", tg_cfg->listen_host, port);
        snprintf(nbuf, sizeof nbuf, "%zu", nw);
        log_event(LOG_INFO, "listening", "addr", addr, "workers", nbuf, NULL);
    }

    /* Wait for a signal, then for the workers to drain. */
    int signalled = 0;
    for (;;) {
        size_t exited = 0;
        for (size_t i = 0; i < nw; i++)
            exited += (size_t)atomic_load(&s->workers[i].exited);
        if (exited == nw)
            break;
        struct timespec ts = {0, 100 * 1000 * 1000};
        int sig = sigtimedwait(&sigs, NULL, &ts);
        if (sig != SIGTERM && sig != SIGINT)
            continue;
        if (signalled) {
            log_event(LOG_WARN, "shutdown_forced", "signal", sig == SIGTERM ? "SIGTERM" : "SIGINT", NULL);
            _exit(1);
        }
        signalled = 1;
        log_event(LOG_INFO, "shutdown_started", "signal", sig == SIGTERM ? "SIGTERM" : "SIGINT", NULL);
        for (size_t i = 0; i < nw; i++)
            h2o_multithread_send_message(&s->workers[i].control, &s->workers[i].control_msg);
    }
    ret = 0;

cleanup:
    if (err != NULL) {
        log_event(LOG_ERROR, "server_start_failed", "error", err, NULL);
        free(err);
        /* workers that started must stop before anything is freed */
        for (size_t i = 0; i < (size_t)started; i++)
            h2o_multithread_send_message(&s->workers[i].control, &s->workers[i].control_msg);
    }
    uint64_t drained = 0, abandoned = 0;
    for (size_t i = 0; s->workers && i < nw; i++) {
        struct http_worker *w = &s->workers[i];
        if (w->started)
            pthread_join(w->tid, NULL);
        drained += w->drained;
        abandoned += w->in_flight + w->pending_jobs;
        if (w->in_flight + w->pending_jobs > 0 || (w->loop && http_worker_conns_open(w)))
            clean = 0;
    }
    http_srv = NULL;
    if (clean) {
        /* Everything ended: release it all so that leak checkers stay quiet. */
        pool_destroy(s->pool);
        for (size_t i = 0; s->workers && i < nw; i++)
            http_worker_dispose(&s->workers[i]);
        if (s->gconf.hosts != NULL)
            h2o_config_dispose(&s->gconf);
        http_metrics_free(&s->metrics);
        http_router_free(&s->router);
        free(s->workers);
        free(s);
    }
    /* else: requests or jobs outlived TG_SHUTDOWN_TIMEOUT; the process is about to exit and
     * freeing memory they may still touch would be worse than leaving it. */
    if (ret == 0) {
        char dbuf[24], abuf[24];
        snprintf(dbuf, sizeof dbuf, "%llu", (unsigned long long)drained);
        snprintf(abuf, sizeof abuf, "%llu", (unsigned long long)abandoned);
        log_event(LOG_INFO, "shutdown", "drained", dbuf, "abandoned", abuf, "timed_out", abandoned ? "true" : "false",
                  NULL);
    }
    return ret;
}
