/*
 * server.c - worker threads, listening sockets and graceful shutdown.
 *
 * Shutdown: the main thread collects SIGTERM/SIGINT with sigtimedwait (they are blocked in
 * every thread) and sends each worker a message over its h2o_multithread queue. A worker
 * then closes its listener, asks h2o to close idle connections
 * (h2o_context_request_shutdown), and leaves its loop once no request is in flight, no
 * deferred job, store write or outbound call (net/net.h) is outstanding and its connections
 * are gone - or at the deadline. The process's net client is started before the workers and
 * stopped only after every worker thread has been joined, so no worker can submit to it, or
 * be handed a completion, once it is gone.
 *
 * Connections: at most TG_MAX_CONNECTIONS client connections are open per process (one
 * atomic count over the workers, taken before accept(2) so that workers accepting together
 * never pass it). At the cap, or when accept(2) fails for want of descriptors or memory
 * (EMFILE, ENFILE, ENOBUFS, ENOMEM), a worker first closes its oldest idle HTTP/1
 * connection and accepts in its place, so that a new client - a health checker - is still
 * served while idle clients hold every slot. With nothing idle to close it stops reading
 * its listener (the kernel's backlog holds new connections), asks the other workers to
 * close idle ones, and tries again when one of its connections closes or after
 * HTTP_ACCEPT_BACKOFF_MS. Without this a listener that stays readable while accept(2)
 * fails with EMFILE spins the loop at 100% CPU (measured: 103% of a core, /health timing
 * out, with 100 idle connections and RLIMIT_NOFILE 64).
 */
#include "http/server.h"

#include <errno.h>
#include <fcntl.h>
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
#include "http/static.h"
#include "store/call.h"
#include "store/store.h"
#include "store/writer.h"
#include "worker/pool.h"

/* Accepts per readiness event: bounded so that one busy listener cannot starve requests. */
#define HTTP_ACCEPT_BATCH 32
/* How long a worker leaves its listener alone when it can accept nothing (at the cap with no
 * idle connection to close, or out of descriptors): short enough that new clients barely
 * notice, long enough that retrying costs nothing (10 wake-ups a second). */
#define HTTP_ACCEPT_BACKOFF_MS 100
/* A connection that has sent nothing yet is not closed as idle before this much time after
 * its accept: a client's first request normally follows the handshake within a round trip,
 * and often is already waiting in the socket when we accept. */
#define HTTP_IDLE_GRACE_MS 250
/* Idle connections a worker closes when another worker at the cap asks. */
#define HTTP_EVICT_REMOTE 8
/* Accept limits hit again within this time belong to the same episode: logged once. */
#define HTTP_ACCEPT_EPISODE_GAP_MS 10000
/* Lingering close: how long the rest of a refused request is read and discarded. Enough for
 * the client to read our answer (nginx's lingering_timeout is 5 s between reads); bounded so
 * that a client that never stops sending holds the descriptor briefly. */
#define HTTP_LINGER_MS 2000
/* Reads of 16 KiB per readiness event while lingering (1 MiB): one socket cannot hog the loop. */
#define HTTP_LINGER_READS 64
/* Access-log flush and shutdown-check period (ms). */
#define HTTP_TICK_MS 100

struct http_server *http_srv;

/* Open client connections of the process, and TG_MAX_CONNECTIONS. */
static _Atomic int http_nconns;
static int http_max_conns = 1;
/* When accepting last hit a limit (ms), for logging one line per episode. */
static _Atomic int64_t http_limit_last_ms;

/* A connection we accepted: counted until h2o closes its socket (sock->on_close). */
struct http_conn {
    h2o_linklist_t link; /* in w->conns, oldest accepted first */
    h2o_socket_t *sock;
    struct http_worker *w;
    int64_t accepted_ms;
    int linger_fd; /* a dup of the socket kept for a lingering close, or -1 */
};

/* A connection h2o has closed that we still drain (http_conn_linger); it keeps its slot. */
struct http_linger {
    h2o_linklist_t link; /* in w->lingering */
    h2o_socket_t *sock;
    struct http_worker *w;
    h2o_timeout_entry_t timeout;
};

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

void http_writer_metrics_render(struct sbuf *out)
{
    struct http_server *s = http_srv;
    struct store_writer_stats st;
    if (s == NULL || s->writer == NULL)
        return;
    store_writer_stats(s->writer, &st);
    const struct {
        const char *name, *type, *help;
        uint64_t value;
    } rows[] = {
        {"tollgate_store_write_batches_total", "counter", "Write transactions (group commits) attempted.", st.batches},
        {"tollgate_store_write_calls_total", "counter", "Write operations completed by the writer.", st.calls},
        {"tollgate_store_busy_retries_total", "counter", "Waits for another process's write lock.", st.busy_retries},
        {"tollgate_store_failed_commits_total", "counter", "Write transactions that did not commit.",
         st.failed_commits},
        {"tollgate_store_write_queue", "gauge", "Write operations waiting for the writer.", st.queued},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        sbuf_printf(out, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", rows[i].name, rows[i].help, rows[i].name,
                    rows[i].type, rows[i].name, (unsigned long long)rows[i].value);
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
    if (w->in_flight == 0 && w->pending_jobs == 0 && w->exec.inflight == 0 && w->net.inflight == 0 &&
        !http_worker_conns_open(w))
        w->stop = 1;
}

static http_job_fn http_job;
static int http_job_interval_ms;

void http_server_set_job(http_job_fn fn, int interval_ms)
{
    http_job = fn;
    http_job_interval_ms = interval_ms > 0 ? interval_ms : 1000;
}

static http_service_start_fn http_service_start;
static http_service_stop_fn http_service_stop;

void http_server_set_service(http_service_start_fn start, http_service_stop_fn stop)
{
    http_service_start = start;
    http_service_stop = stop;
}

static void http_on_job(h2o_timeout_entry_t *e)
{
    struct http_worker *w = H2O_STRUCT_FROM_MEMBER(struct http_worker, job_entry, e);
    if (w->shutting_down || w->stop)
        return; /* no new work once shutdown began */
    http_job(&w->exec, &w->net, time_now_ms());
    h2o_timeout_link(w->loop, &w->job_timeout, &w->job_entry);
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

/* ---- accepting under limits ---- */

static void http_on_accept(h2o_socket_t *listener, const char *err);

/* Logs the first limit hit of an episode (none within HTTP_ACCEPT_EPISODE_GAP_MS before). */
static void http_accept_limit_log(const char *reason, int err)
{
    int64_t now = time_now_ms();
    int64_t prev = atomic_exchange(&http_limit_last_ms, now);
    if (now - prev < HTTP_ACCEPT_EPISODE_GAP_MS)
        return;
    char nbuf[16], mbuf[16], ebuf[16];
    snprintf(nbuf, sizeof nbuf, "%d", atomic_load(&http_nconns));
    snprintf(mbuf, sizeof mbuf, "%d", http_max_conns);
    snprintf(ebuf, sizeof ebuf, "%d", err);
    const char *e = err == EMFILE    ? "EMFILE"
                    : err == ENFILE  ? "ENFILE"
                    : err == ENOBUFS ? "ENOBUFS"
                    : err == ENOMEM  ? "ENOMEM"
                    : err != 0       ? ebuf
                                     : NULL;
    log_event(LOG_WARN, "accept_limited", "reason", reason, "connections", nbuf, "max_connections", mbuf,
              "errno", e, NULL);
}

static int http_conn_is_idle(const struct http_conn *c, h2o_socket_cb h1_read, int64_t now_ms)
{
    const h2o_socket_t *s = c->sock;
    /*
     * libh2o 2.2.5's HTTP/1 connection reads with one callback (reqread_on_read) from the
     * first byte of a request to the end of its body, and stops reading while the request
     * is handled; its input buffer is consumed when the response is done. So "reading with
     * that callback and nothing buffered" is exactly "waiting for the next request". HTTP/2
     * connections read with another callback and are never taken for idle.
     */
    if (h1_read == NULL || s->_cb.read != h1_read || s->input->size != 0)
        return 0;
    /* bytes_read is what the last read returned (2.2.5's evloop): 0 only until data came */
    return s->bytes_read != 0 || now_ms - c->accepted_ms >= HTTP_IDLE_GRACE_MS;
}

size_t http_conns_evict_idle(struct http_worker *w, size_t max, int64_t now_ms)
{
    size_t n = 0;
    while (n < max) {
        struct http_conn *victim = NULL;
        for (h2o_linklist_t *l = w->conns.next; l != &w->conns; l = l->next) {
            struct http_conn *c = H2O_STRUCT_FROM_MEMBER(struct http_conn, link, l);
            if (http_conn_is_idle(c, w->h1_read_cb, now_ms)) {
                victim = c;
                break;
            }
        }
        if (victim == NULL)
            break;
        /* What h2o's event loop does when a read fails: the reader closes the connection
         * (close_connection in lib/http1.c), which closes the socket and runs
         * http_on_conn_close, which frees victim. */
        h2o_socket_t *sock = victim->sock;
        sock->_cb.read(sock, "connection closed to make room");
        n++;
    }
    return n;
}

/*
 * Asks every other worker to close a few idle connections (at most one request queued each):
 * with SO_REUSEPORT a connection waits in the backlog of the worker the kernel chose, so
 * that worker must get the slot even when the idle connections belong to others. Every
 * worker's receiver is registered before any worker thread starts.
 */
static void http_accept_ask_others(struct http_worker *w)
{
    struct http_server *s = http_srv;
    for (size_t i = 0; s != NULL && i < s->nworkers; i++) {
        struct http_worker *o = &s->workers[i];
        if (o == w || atomic_exchange(&o->evict_queued, 1))
            continue;
        h2o_multithread_send_message(&o->evict, &o->evict_msg);
    }
}

/* Stops reading the listener until a connection of ours closes or the back-off ends. */
static void http_accept_stop(struct http_worker *w)
{
    if (w->listener == NULL || w->accept_paused)
        return;
    h2o_socket_read_stop(w->listener);
    w->accept_paused = 1;
    h2o_timeout_link(w->loop, &w->accept_backoff, &w->accept_backoff_entry);
}

/* Pauses accepting because nothing could be accepted or made room for, and asks for help. */
static void http_accept_pause(struct http_worker *w)
{
    http_accept_stop(w);
    http_accept_ask_others(w);
}

static void http_on_evict(h2o_multithread_receiver_t *r, h2o_linklist_t *messages)
{
    struct http_worker *w = H2O_STRUCT_FROM_MEMBER(struct http_worker, evict, r);
    while (!h2o_linklist_is_empty(messages))
        h2o_linklist_unlink(messages->next);
    atomic_store(&w->evict_queued, 0);
    /* The slots (or descriptors) freed here are meant for the worker that asked, whose
     * back-off timer is already running: this worker leaves its own listener alone for one
     * back-off period so that it does not take them back for its own backlog first. */
    if (http_conns_evict_idle(w, HTTP_EVICT_REMOTE, time_now_ms()) > 0)
        http_accept_stop(w);
}

static void http_accept_resume(struct http_worker *w)
{
    if (!w->accept_paused)
        return;
    w->accept_paused = 0;
    if (h2o_timeout_is_linked(&w->accept_backoff_entry))
        h2o_timeout_unlink(&w->accept_backoff_entry);
    if (w->listener != NULL)
        h2o_socket_read_start(w->listener, http_on_accept);
}

static void http_on_accept_backoff(h2o_timeout_entry_t *e)
{
    struct http_worker *w = H2O_STRUCT_FROM_MEMBER(struct http_worker, accept_backoff_entry, e);
    http_accept_resume(w);
}

/* ---- lingering close ---- */

static void http_linger_close(struct http_linger *l)
{
    struct http_worker *w = l->w;
    if (h2o_timeout_is_linked(&l->timeout))
        h2o_timeout_unlink(&l->timeout);
    h2o_linklist_unlink(&l->link);
    h2o_socket_close(l->sock);
    free(l);
    atomic_fetch_sub(&http_nconns, 1);
    http_accept_resume(w);
}

static void http_on_linger_read(h2o_socket_t *sock, const char *err)
{
    struct http_linger *l = sock->data;
    /*
     * The socket is created with H2O_SOCKET_FLAG_DONT_READ: h2o only tells us it is readable
     * and we read into a small buffer, because h2o's own reader grows its input buffer for
     * as long as reads fill it (measured: 16 MB more peak RSS for eight clients sending
     * 20 MB). At most HTTP_LINGER_READS reads per event; epoll (level-triggered in h2o)
     * reports the socket again when more is waiting.
     */
    char buf[16384];
    int fd = h2o_socket_get_fd(sock);
    for (int i = 0; err == NULL && i < HTTP_LINGER_READS; i++) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n > 0)
            continue;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        err = "closed"; /* the client has closed its side (0) or reset (-1): done */
    }
    if (err != NULL)
        http_linger_close(l);
}

static void http_on_linger_timeout(h2o_timeout_entry_t *e)
{
    http_linger_close(H2O_STRUCT_FROM_MEMBER(struct http_linger, timeout, e));
}

/* Drains fd, a dup of a socket h2o has just closed, until the client closes or HTTP_LINGER_MS. */
static void http_linger_start(struct http_worker *w, int fd)
{
    /* FIN after the answer h2o wrote: the client sees the end of the response */
    (void)shutdown(fd, SHUT_WR);
    struct http_linger *l = xcalloc(1, sizeof *l);
    l->w = w;
    l->sock = h2o_evloop_socket_create(w->loop, fd, H2O_SOCKET_FLAG_DONT_READ);
    l->sock->data = l;
    l->timeout.cb = http_on_linger_timeout;
    h2o_timeout_link(w->loop, &w->linger_timeout, &l->timeout);
    h2o_linklist_insert(&w->lingering, &l->link);
    h2o_socket_read_start(l->sock, http_on_linger_read);
}

static void http_on_conn_close(void *data);

void http_conn_linger(h2o_req_t *h)
{
    if (h->version >= 0x200 || h->http1_is_persistent)
        return;
    h2o_socket_t *sock =
        h->conn->callbacks->get_socket != NULL ? h->conn->callbacks->get_socket(h->conn) : NULL;
    if (sock == NULL || sock->on_close.cb != http_on_conn_close)
        return;
    struct http_conn *c = sock->on_close.data;
    if (c->linger_fd >= 0)
        return;
    /*
     * h2o closes its descriptor when the answer is written (close_connection in lib/http1.c
     * has a "TODO use lingering close"). A second descriptor keeps the socket open past that
     * close - without a FIN or a reset - until http_on_conn_close hands it to
     * http_linger_start. h2o removes its descriptor from epoll before closing it, so the
     * event loop never sees the socket twice. When dup fails (out of descriptors) the close
     * stays abrupt.
     */
    c->linger_fd = fcntl(h2o_socket_get_fd(sock), F_DUPFD_CLOEXEC, 0);
}

static void http_on_conn_close(void *data)
{
    struct http_conn *c = data;
    struct http_worker *w = c->w;
    int linger_fd = c->linger_fd;
    h2o_linklist_unlink(&c->link);
    free(c);
    if (linger_fd >= 0 && !w->shutting_down) {
        http_linger_start(w, linger_fd); /* keeps the slot until it ends */
        return;
    }
    if (linger_fd >= 0)
        close(linger_fd);
    atomic_fetch_sub(&http_nconns, 1);
    /* a slot or a descriptor is free again: retry now rather than at the back-off's end */
    http_accept_resume(w);
}

static void http_on_accept(h2o_socket_t *listener, const char *err)
{
    struct http_worker *w = listener->data;
    if (err != NULL)
        return;
    for (int i = 0; i < HTTP_ACCEPT_BATCH; i++) {
        /* take the slot before accepting, so that workers accepting at once never pass the cap */
        if (atomic_fetch_add(&http_nconns, 1) >= http_max_conns) {
            atomic_fetch_sub(&http_nconns, 1);
            http_accept_limit_log("max_connections", 0);
            if (http_conns_evict_idle(w, 1, time_now_ms()) == 0) {
                http_accept_pause(w);
                return;
            }
            continue;
        }
        h2o_socket_t *sock = h2o_evloop_socket_accept(listener);
        if (sock == NULL) {
            int e = errno; /* h2o returns right after accept4(2) failed */
            atomic_fetch_sub(&http_nconns, 1);
            switch (e) {
            case EAGAIN:
#if EWOULDBLOCK != EAGAIN
            case EWOULDBLOCK:
#endif
                return; /* nothing more to accept */
            case EMFILE:
            case ENFILE:
            case ENOBUFS:
            case ENOMEM:
                /* the connection stays in the backlog; an idle one of ours makes room */
                http_accept_limit_log("descriptors", e);
                if (http_conns_evict_idle(w, 1, time_now_ms()) == 0) {
                    http_accept_pause(w);
                    return;
                }
                continue;
            case EINTR:
            case ECONNABORTED:
            case EPROTO:
            case EPERM:
            case ENETDOWN:
            case ENOPROTOOPT:
            case EHOSTDOWN:
            case ENONET:
            case EHOSTUNREACH:
            case EOPNOTSUPP:
            case ENETUNREACH:
                continue; /* that connection failed (accept(2): to be treated like EAGAIN and retried) */
            default:
                /* unexpected: a readable listener that keeps failing must not spin the loop */
                http_accept_limit_log("accept_error", e);
                http_accept_pause(w);
                return;
            }
        }
        struct http_conn *c = xcalloc(1, sizeof *c); /* zeroed: h2o links only unlinked nodes */
        c->sock = sock;
        c->linger_fd = -1;
        c->w = w;
        c->accepted_ms = time_now_ms();
        h2o_linklist_insert(&w->conns, &c->link);
        sock->on_close.cb = http_on_conn_close;
        sock->on_close.data = c;
        h2o_accept(&w->accept_ctx, sock);
        /* h2o_http1_accept has started reading a plain connection with its request reader
         * (nothing is buffered yet, so nothing ran that could have closed it) */
        if (w->h1_read_cb == NULL)
            w->h1_read_cb = sock->_cb.read;
    }
}

static void http_worker_begin_shutdown(struct http_worker *w)
{
    if (w->shutting_down)
        return;
    w->shutting_down = 1;
    w->deadline_ms = time_now_ms() + (int64_t)tg_cfg->shutdown_timeout_s * 1000;
    if (w->listener != NULL) {
        if (!w->accept_paused)
            h2o_socket_read_stop(w->listener);
        h2o_socket_close(w->listener); /* closes the fd: the kernel stops routing us connections */
        w->listener = NULL;
        w->listen_fd = -1;
    }
    w->accept_paused = 0;
    if (h2o_timeout_is_linked(&w->accept_backoff_entry))
        h2o_timeout_unlink(&w->accept_backoff_entry);
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
    /* A stream never ends by itself: without this, one open event stream would hold the
     * shutdown until TG_SHUTDOWN_TIMEOUT. Its client reconnects to another instance. */
    http_streams_shutdown(w);
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

/* Runs on the writer thread: completions were queued for this worker's loop. */
static void http_store_wake(void *arg)
{
    struct http_worker *w = arg;
    h2o_multithread_send_message(&w->store_rcv, &w->store_msg);
}

static void http_on_store_done(h2o_multithread_receiver_t *rcv, h2o_linklist_t *messages)
{
    struct http_worker *w = H2O_STRUCT_FROM_MEMBER(struct http_worker, store_rcv, rcv);
    /* Unlinked before the queue is taken: the writer may send the message again as soon as
     * store_exec_drain has taken the queue. */
    while (!h2o_linklist_is_empty(messages))
        h2o_linklist_unlink(messages->next);
    store_exec_drain(&w->exec);
    http_worker_check_drained(w);
}

/* Runs on the net client's thread: finished outbound calls were queued for this loop. */
static void http_net_wake(void *arg)
{
    struct http_worker *w = arg;
    h2o_multithread_send_message(&w->net_rcv, &w->net_msg);
}

static void http_on_net_done(h2o_multithread_receiver_t *rcv, h2o_linklist_t *messages)
{
    struct http_worker *w = H2O_STRUCT_FROM_MEMBER(struct http_worker, net_rcv, rcv);
    /* Unlinked before the queue is taken, as for the store (http_on_store_done). */
    while (!h2o_linklist_is_empty(messages))
        h2o_linklist_unlink(messages->next);
    net_exec_drain(&w->net);
    http_worker_check_drained(w);
}

static void http_worker_setup_loop(struct http_server *s, struct http_worker *w);
static void http_worker_dispose_loop(struct http_worker *w);
static int http_phase_wait(struct http_server *s, const int *flag, const int *value);

static void *http_worker_main(void *arg)
{
    struct http_worker *w = arg;
    struct http_server *s = http_srv;
    http_worker_setup_loop(s, w);
    atomic_store(&w->ready, 1);
    /* Accept only once every worker is ready: workers message each other (eviction at the
     * connection cap, shutdown), which needs their receivers. */
    if (http_phase_wait(s, &s->go, &s->run))
        h2o_socket_read_start(w->listener, http_on_accept);
    else
        w->stop = 1;
    while (!w->stop)
        h2o_evloop_run(w->loop, INT32_MAX);
    http_accesslog_flush(&w->alog);
    atomic_store(&w->exited, 1);
    /* The loop's memory is freed here, on its own thread, and only once every worker has
     * stopped (nobody can message this loop any more) and nothing was left in flight. */
    if (http_phase_wait(s, &s->dispose, &s->clean))
        http_worker_dispose_loop(w);
    return NULL;
}

/* ---- listening sockets ---- */

/*
 * Opens a listening socket on host:port with SO_REUSEPORT. *port_out receives the bound
 * port (useful with port 0). Returns the fd or -1 with *err set (caller frees).
 *
 * probe: only binds, without SO_REUSEPORT, and does not listen. The kernel lets every socket
 * of the same user with SO_REUSEPORT share a port, so a second Tollgate (or anything else
 * of that user's) started on a port already served would bind without error and silently
 * take part of its connections; a socket without the option is refused with EADDRINUSE
 * while any listener holds the port, so a probe bound first makes that a start-up error.
 */
static int http_listen_open(const char *host, int port, int *port_out, int probe, char **err)
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
        (!probe && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)) {
        *err = xasprintf("setsockopt: %s", strerror(errno));
        goto cleanup;
    }
    /* inherited by accepted sockets: small JSON replies must not wait for Nagle */
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (bind(fd, res->ai_addr, res->ai_addrlen) != 0) {
        if (errno == EADDRINUSE)
            *err = xasprintf("TG_LISTEN %s:%d is already in use (is another tollgate running?)", host, port);
        else
            *err = xasprintf("bind %s:%d: %s", host, port, strerror(errno));
        goto cleanup;
    }
    if (probe) {
        *port_out = port;
        ret = 0;
        goto cleanup; /* closes the probe */
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
    /* h2o enforces the body limit while reading: a Content-Length over it is refused before
     * any of the body is read, a chunked body as soon as it reaches the limit (lib/http1.c
     * compares with >=, so a chunked body may be one byte shorter than a sized one), both
     * with 413 and the connection closed; fallback.c makes that 413 our JSON envelope. It
     * is one process-wide number in libh2o 2.2.5, which holds a whole body in memory before
     * a handler runs (lib/http1.c compares the Content-Length, or the chunked size so far,
     * and lib/http2/connection.c the DATA received, with globalconf->max_request_entity_size
     * before any handler sees the path). So the uploads' limit (TG_MAX_UPLOAD_BYTES, PUT
     * /files/...) has to be the process-wide one, and every other route refuses a body over
     * TG_MAX_BODY_BYTES in dispatch.c once it has arrived - with 413 still, but after it was
     * buffered. The cost and its remedy (nginx's client_max_body_size per location) are in
     * docs/OPERATIONS.md. */
    s->gconf.max_request_entity_size = (size_t)(tg_cfg->max_upload_bytes > tg_cfg->max_body_bytes
                                                    ? tg_cfg->max_upload_bytes
                                                    : tg_cfg->max_body_bytes);
    /* Cleartext HTTP/2 (h2c): libh2o 2.2.5 reaches it from HTTP/1 in two ways, both behind
     * this one flag (lib/http1.c): an "Upgrade: h2c" request (process_request) and the
     * prior-knowledge preface "PRI * HTTP/2.0" (handle_incoming_request); h2o's default is
     * on. HTTP/2 over TLS (ALPN) needs an SSL context, which we never set. */
    s->gconf.http1.upgrade_to_http2 = tg_cfg->http2_cleartext ? 1 : 0;
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

/*
 * The part of a worker set up on the main thread: what can fail with a message (the store
 * connection) and what the writer needs (the executor).
 */
static int http_worker_init(struct http_server *s, struct http_worker *w, unsigned index, char **err)
{
    w->index = index;
    http_accesslog_init(&w->alog, 2);
    w->alog_on = s->access_log;
    w->metrics = s->metrics.w[index];
    w->store = store_open(tg_cfg->database_url, err);
    if (w->store == NULL)
        return -1;
    /* A loop never sleeps on a lock: a read that meets one answers 503 at once. */
    store_set_nowait(w->store);
    store_exec_init(&w->exec, w->store, s->writer, http_store_wake, w);
    return 0;
}

/*
 * The h2o side of a worker, created on the worker's own thread. libh2o 2.2.5 keeps socket
 * buffers in per-thread recycling lists and every socket remembers the list of the thread
 * that created it: a context created on the main thread gives each worker's
 * multithread-queue socket the main thread's list, and two workers then recycle buffers
 * through one unsynchronized list - under a steady stream of writer completions, two
 * sockets end up reading into the same buffer (found with ThreadSanitizer and ASan under
 * write load).
 */
static void http_worker_setup_loop(struct http_server *s, struct http_worker *w)
{
    w->loop = h2o_evloop_create();
    h2o_context_init(&w->ctx, w->loop, &s->gconf);
    w->accept_ctx.ctx = &w->ctx;
    w->accept_ctx.hosts = s->gconf.hosts;
    pool_receiver_init(w->ctx.queue, &w->jobs);
    h2o_multithread_register_receiver(w->ctx.queue, &w->control, http_on_control);
    h2o_multithread_register_receiver(w->ctx.queue, &w->store_rcv, http_on_store_done);
    h2o_multithread_register_receiver(w->ctx.queue, &w->net_rcv, http_on_net_done);
    net_exec_init(&w->net, s->net, http_net_wake, w);
    h2o_timeout_init(w->loop, &w->tick, HTTP_TICK_MS);
    w->tick_entry.cb = http_on_tick;
    h2o_linklist_init_anchor(&w->conns);
    h2o_linklist_init_anchor(&w->streams);
    h2o_timeout_init(w->loop, &w->accept_backoff, HTTP_ACCEPT_BACKOFF_MS);
    w->accept_backoff_entry.cb = http_on_accept_backoff;
    h2o_multithread_register_receiver(w->ctx.queue, &w->evict, http_on_evict);
    h2o_linklist_init_anchor(&w->lingering);
    h2o_timeout_init(w->loop, &w->linger_timeout, HTTP_LINGER_MS);
    w->listener = h2o_evloop_socket_create(w->loop, w->listen_fd, H2O_SOCKET_FLAG_DONT_READ);
    w->listener->data = w;
    h2o_timeout_init(w->loop, &w->job_timeout, (uint64_t)(http_job_interval_ms > 0 ? http_job_interval_ms : 1000));
    w->job_entry.cb = http_on_job;
    if (http_job != NULL && w->index == 0)
        h2o_timeout_link(w->loop, &w->job_timeout, &w->job_entry);
}

/* Releases a worker's h2o loop and context, on the worker's own thread (see
 * http_worker_setup_loop), once it has stopped with nothing left in flight. */
static void http_worker_dispose_loop(struct http_worker *w)
{
    if (h2o_timeout_is_linked(&w->job_entry))
        h2o_timeout_unlink(&w->job_entry);
    h2o_timeout_dispose(w->loop, &w->job_timeout);
    if (h2o_timeout_is_linked(&w->tick_entry))
        h2o_timeout_unlink(&w->tick_entry);
    h2o_timeout_dispose(w->loop, &w->tick);
    if (h2o_timeout_is_linked(&w->accept_backoff_entry))
        h2o_timeout_unlink(&w->accept_backoff_entry);
    h2o_timeout_dispose(w->loop, &w->accept_backoff);
    while (!h2o_linklist_is_empty(&w->lingering))
        http_linger_close(H2O_STRUCT_FROM_MEMBER(struct http_linger, link, w->lingering.next));
    h2o_timeout_dispose(w->loop, &w->linger_timeout);
    if (w->listener != NULL)
        h2o_socket_close(w->listener);
    else if (w->listen_fd >= 0)
        close(w->listen_fd);
    w->listener = NULL;
    w->listen_fd = -1;
    /* h2o_context_request_shutdown arms a one-second timer that re-sends HTTP/2 GOAWAYs; no
     * connection is left to send one to, and h2o_context_dispose asserts that no timer is. */
    if (h2o_timeout_is_linked(&w->ctx.http2._graceful_shutdown_timeout))
        h2o_timeout_unlink(&w->ctx.http2._graceful_shutdown_timeout);
    pool_receiver_dispose(w->ctx.queue, &w->jobs);
    h2o_multithread_unregister_receiver(w->ctx.queue, &w->control);
    h2o_multithread_unregister_receiver(w->ctx.queue, &w->store_rcv);
    h2o_multithread_unregister_receiver(w->ctx.queue, &w->net_rcv);
    net_exec_dispose(&w->net);
    h2o_multithread_unregister_receiver(w->ctx.queue, &w->evict);
    h2o_multithread_queue_t *queue = w->ctx.queue;
    h2o_context_dispose(&w->ctx);
    /* libh2o 2.2.5's h2o_multithread_destroy_queue (called by h2o_context_dispose) closes the
     * queue's socket but never frees the queue itself; checked under ASan: no double free. */
    free(queue);
    h2o_evloop_destroy(w->loop);
    w->loop = NULL;
}

/* Releases the rest of a worker (main thread, after its thread was joined). */
static void http_worker_dispose(struct http_worker *w)
{
    if (w->listen_fd >= 0)
        close(w->listen_fd); /* its thread never started */
    w->listen_fd = -1;
    if (w->store) {
        store_exec_dispose(&w->exec);
        store_close(w->store);
    }
    w->store = NULL;
}

/* Sets a phase flag under the lock and wakes every worker waiting for it. */
static void http_phase_set(struct http_server *s, int *flag, int *value, int v)
{
    pthread_mutex_lock(&s->phase_mu);
    *value = v;
    *flag = 1;
    pthread_cond_broadcast(&s->phase_cv);
    pthread_mutex_unlock(&s->phase_mu);
}

/* Waits (on a worker thread, outside its loop) for a phase flag; returns its value. */
static int http_phase_wait(struct http_server *s, const int *flag, const int *value)
{
    pthread_mutex_lock(&s->phase_mu);
    while (!*flag)
        pthread_cond_wait(&s->phase_cv, &s->phase_mu);
    int v = *value;
    pthread_mutex_unlock(&s->phase_mu);
    return v;
}

/* Waits until the first n workers have created their loops (main thread: may sleep). */
static void http_workers_wait_ready(struct http_server *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        while (!atomic_load(&s->workers[i].ready)) {
            struct timespec pause = {0, 1000 * 1000};
            nanosleep(&pause, NULL);
        }
}

int http_server_run(void)
{
    int ret = 1;
    char *err = NULL;
    size_t nw = (size_t)(tg_cfg->workers > 0 ? tg_cfg->workers : 1);
    struct http_server *s = xcalloc(1, sizeof *s);
    sigset_t sigs;
    pthread_mutex_init(&s->phase_mu, NULL);
    pthread_cond_init(&s->phase_cv, NULL);
    int port = tg_cfg->listen_port, clean = 1, started = 0, service_started = 0;

    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    json_object_seed(0); /* once, before threads: jansson's hash seed */

    if (http_router_compile(&s->router, api_routes, api_routes_count, &err) != 0)
        goto cleanup;
    if (http_static_init(&err) != 0)
        goto cleanup;
    {
        /* the API's routes, then the web UI's page paths and its assets */
        size_t nweb = web_page_patterns_count + 1;
        s->metric_labels = xcalloc(s->router.n + nweb, sizeof *s->metric_labels);
        for (size_t i = 0; i < s->router.n; i++)
            s->metric_labels[i] = s->router.labels[i];
        nweb = http_static_labels(s->metric_labels + s->router.n);
        http_metrics_init(&s->metrics, s->router.n + nweb, s->metric_labels, nw);
    }
    s->max_body = (size_t)tg_cfg->max_body_bytes;
    s->max_upload = (size_t)tg_cfg->max_upload_bytes;
    http_max_conns = tg_cfg->max_connections > 0 ? tg_cfg->max_connections : 1;
    s->access_log = tg_cfg->access_log && log_enabled(LOG_INFO);
    s->nworkers = nw;
    s->workers = xcalloc(nw, sizeof *s->workers);
    for (size_t i = 0; i < nw; i++)
        s->workers[i].listen_fd = -1;
    {
        /* Password hashing has threads and a short queue of its own: argon2id costs 64 MiB
         * and ~100 ms of CPU, so a flood of logins can occupy only those threads (memory
         * bounded by their number) and beyond the queue is answered 503 at once, while the
         * general threads (other blocking work; outbound calls have the net client) stay free.
         * As many hashing threads as cores: more would only queue on the CPU. */
        unsigned bt = (unsigned)(tg_cfg->blocking_threads > 0 ? tg_cfg->blocking_threads : 1);
        unsigned pw = bt;
        s->pool = pool_create(bt, HTTP_POOL_QUEUE_MAX, &err);
        if (s->pool == NULL)
            goto cleanup;
        s->pw_pool = pool_create(pw, HTTP_PW_QUEUE_MAX, &err);
        if (s->pw_pool == NULL)
            goto cleanup;
    }
    s->writer = store_writer_start(tg_cfg->database_url, &err);
    if (s->writer == NULL)
        goto cleanup;
    s->net = net_client_start(HTTP_NET_MAX_INFLIGHT, &err);
    if (s->net == NULL)
        goto cleanup;
    http_server_configure(s);
    http_srv = s;
    if (http_service_start != NULL) {
        if (http_service_start(s->writer, s->net, &err) != 0)
            goto cleanup;
        service_started = 1;
    }

    if (port != 0) {
        int probed = 0;
        if (http_listen_open(tg_cfg->listen_host, port, &probed, 1, &err) != 0)
            goto cleanup;
    }
    for (size_t i = 0; i < nw; i++) {
        int bound = 0;
        s->workers[i].listen_fd = http_listen_open(tg_cfg->listen_host, port, &bound, 0, &err);
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
    http_workers_wait_ready(s, (size_t)started);
    http_phase_set(s, &s->go, &s->run, 1);
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
        /* workers that started leave before their loops run anything */
        http_workers_wait_ready(s, (size_t)started);
        http_phase_set(s, &s->go, &s->run, 0);
    }
    uint64_t drained = 0, abandoned = 0;
    for (size_t i = 0; s->workers && i < nw; i++) {
        struct http_worker *w = &s->workers[i];
        while (w->started && !atomic_load(&w->exited)) {
            struct timespec pause = {0, 10 * 1000 * 1000};
            nanosleep(&pause, NULL);
        }
        drained += w->drained;
        abandoned += w->in_flight + w->pending_jobs + w->exec.inflight + w->net.inflight;
        if (w->in_flight + w->pending_jobs + w->exec.inflight + w->net.inflight > 0 ||
            (w->loop && http_worker_conns_open(w)))
            clean = 0;
    }
    http_phase_set(s, &s->dispose, &s->clean, clean);
    for (size_t i = 0; s->workers && i < nw; i++)
        if (s->workers[i].started)
            pthread_join(s->workers[i].tid, NULL);
    /* The service stops once nothing of the workers' is left, before the client and the
     * writer it uses. */
    if (service_started)
        http_service_stop();
    /*
     * Every worker thread is gone: nothing submits any more. Stopped even when calls
     * outlived TG_SHUTDOWN_TIMEOUT (not clean): they complete with NET_SHUTDOWN into
     * executors nobody drains any more (their loops are kept, not freed), and no thread of
     * ours is left touching libcurl when main calls net_global_cleanup.
     */
    net_client_stop(s->net);
    s->net = NULL;
    http_srv = NULL;
    if (clean) {
        /* Everything ended: release it all so that leak checkers stay quiet. */
        pool_destroy(s->pool);
        pool_destroy(s->pw_pool);
        store_writer_stop(s->writer);
        for (size_t i = 0; s->workers && i < nw; i++)
            http_worker_dispose(&s->workers[i]);
        if (s->gconf.hosts != NULL)
            h2o_config_dispose(&s->gconf);
        http_metrics_free(&s->metrics);
        http_router_free(&s->router);
        http_static_free();
        free(s->metric_labels);
        pthread_cond_destroy(&s->phase_cv);
        pthread_mutex_destroy(&s->phase_mu);
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
