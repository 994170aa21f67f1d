/*
 * stream.c - streamed answers (res_stream_start, http.h) over h2o's generator interface.
 *
 * h2o lets one h2o_send be in flight per response: the bytes handed over must stay valid
 * until h2o calls the generator's proceed (written, or copied into HTTP/2's buffers), and
 * the next h2o_send waits for that. So a stream keeps two buffers: `out`, owned by h2o
 * until proceed, and `pend`, where writes made meanwhile are gathered, to go out together
 * at the next proceed. A client that does not read never lets proceed come: its `pend`
 * grows to HTTP_STREAM_BUF_MAX and the connection is closed.
 *
 * h2o calls the generator's stop when the request is disposed before the final h2o_send:
 * the client reset the stream or the connection closed. That is where a stream learns
 * that its client went away. HTTP/2 connections are read all the time, so a closed one is
 * seen at once. libh2o 2.2.5's HTTP/1 stops reading a connection while its request is
 * answered (lib/http1.c), which would leave a vanished client unnoticed until a write
 * fails; so while a stream lasts on HTTP/1 its socket is read by http_stream_on_h1_read,
 * which closes the connection through h2o's own reader on EOF - or as soon as the client
 * sends anything, which an event-stream client never does.
 *
 * That read must not move h2o's input buffer: the request's headers still point into it
 * (libh2o 2.2.5 does not copy them), and h2o_buffer_reserve compacts or reallocates the
 * buffer when fewer than 4096 bytes are free at its end (lib/common/memory.c). So the
 * watch starts only when that much is free - the read that finds EOF then reserves
 * nothing - and only after the response's head has been built from the request (the first
 * proceed); any byte read closes the connection before anything looks at the request
 * again, and the client address is worked out at the start, for the access log.
 *
 * Neither h2o's HTTP/1 request timeout (not armed while a response is written) nor its
 * HTTP/2 idle timeout (armed only with no stream open) ends a stream; idle proxies in
 * between are kept away by the handler's own heartbeats.
 */
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/mem.h"
#include "http/internal.h"

/* What each read of libh2o 2.2.5's event loop reserves in the input buffer (on_read_core
 * in lib/common/socket/evloop.c.h). */
#define HTTP_STREAM_H1_READ_RESERVE 4096

struct http_stream {
    h2o_generator_t gen; /* first: h2o hands it back to proceed and stop */
    h2o_linklist_t link; /* in w->streams while the handler holds the stream */
    struct req *r;
    struct http_worker *w;
    http_stream_close_fn on_close;
    void *arg;
    char *out;           /* handed to h2o: valid until proceed or stop */
    char *pend;          /* gathered meanwhile */
    size_t out_cap, pend_cap, pend_len; /* grown on demand: an idle stream holds ~1 KiB */
    unsigned sending : 1; /* an h2o_send is in flight */
    unsigned ending : 1;  /* the final h2o_send goes at the next proceed */
    unsigned closed : 1;  /* on_close has run */
    unsigned h1_read : 1; /* we read the HTTP/1 socket (EOF detection) */
    unsigned h1_tried : 1; /* whether to watch was decided (first proceed) */
};

static void http_stream_free(struct http_stream *st)
{
    free(st->out);
    free(st->pend);
    free(st);
}

/* The HTTP/1 socket of r, or NULL (HTTP/2, or no socket). */
static h2o_socket_t *http_stream_h1_sock(struct req *r)
{
    h2o_req_t *h = r->h;
    if (h->version >= 0x200 || h->conn->callbacks->get_socket == NULL)
        return NULL;
    return h->conn->callbacks->get_socket(h->conn);
}

/*
 * Runs the handler's on_close once and detaches the stream from its loop's list: from
 * here on only h2o may still hold it (until proceed or stop).
 */
static void http_stream_detach(struct http_stream *st)
{
    if (st->closed)
        return;
    st->closed = 1;
    h2o_linklist_unlink(&st->link);
    st->w->nstreams--;
    st->on_close(st->arg);
}

/*
 * Closes the connection under st the way h2o does when a read fails (lib/http1.c
 * close_connection, lib/http2/connection.c on_read), which disposes of the request and
 * calls our stop. Used when the client stopped reading: the write in flight would never
 * complete. 0 when done (st is gone), -1 when there is no reader to go through.
 */
static int http_stream_close_conn(struct http_stream *st, const char *why)
{
    h2o_req_t *h = st->r->h;
    h2o_socket_t *sock = h->conn->callbacks->get_socket != NULL ? h->conn->callbacks->get_socket(h->conn) : NULL;
    if (sock == NULL)
        return -1;
    h2o_socket_cb reader = sock->_cb.read;
    if (st->h1_read)
        reader = st->w->h1_read_cb; /* our EOF watcher stands in for h2o's reader */
    if (reader == NULL)
        return -1;
    reader(sock, why);
    return 0;
}

/* Hands what is pending to h2o: the last piece (final) or one more. */
static void http_stream_flush(struct http_stream *st, int final)
{
    h2o_req_t *h = st->r->h;
    if (final) {
        h2o_socket_t *sock = st->h1_read ? http_stream_h1_sock(st->r) : NULL;
        if (sock != NULL)
            h2o_socket_read_stop(sock); /* h2o's reader takes over after the last write */
        st->h1_read = 0;
        /* The last bytes live in the request's pool, which h2o keeps until the response
         * is written; the stream itself is freed now. */
        h2o_iovec_t buf = h2o_iovec_init(NULL, 0);
        if (st->pend_len > 0) {
            buf.base = h2o_mem_alloc_pool(&h->pool, st->pend_len);
            memcpy(buf.base, st->pend, st->pend_len);
            buf.len = st->pend_len;
        }
        http_stream_free(st);
        h2o_send(h, &buf, buf.len ? 1 : 0, H2O_SEND_STATE_FINAL);
        return;
    }
    char *t = st->out;
    size_t tc = st->out_cap;
    st->out = st->pend;
    st->out_cap = st->pend_cap;
    st->pend = t;
    st->pend_cap = tc;
    h2o_iovec_t buf = h2o_iovec_init(st->out, st->pend_len);
    st->pend_len = 0;
    st->sending = 1;
    h2o_send(h, &buf, 1, H2O_SEND_STATE_IN_PROGRESS);
}

static void http_stream_on_h1_read(h2o_socket_t *sock, const char *err);

/* Starts watching an HTTP/1 stream's socket for the client going away, when that is safe
 * (see the top of this file). */
static void http_stream_h1_watch(struct http_stream *st)
{
    st->h1_tried = 1;
    h2o_socket_t *sock = http_stream_h1_sock(st->r);
    if (sock == NULL || st->w->h1_read_cb == NULL || sock->_cb.read != NULL)
        return;
    const h2o_buffer_t *in = sock->input;
    if (in->bytes != NULL && in->capacity - in->size - (size_t)(in->bytes - in->_buf) < HTTP_STREAM_H1_READ_RESERVE)
        return; /* a vanished client is then found by the next write (heartbeats) */
    h2o_socket_read_start(sock, http_stream_on_h1_read);
    st->h1_read = 1;
}

static void http_stream_on_proceed(h2o_generator_t *gen, h2o_req_t *h)
{
    (void)h;
    struct http_stream *st = (struct http_stream *)gen;
    st->sending = 0;
    if (!st->h1_tried && !st->ending)
        http_stream_h1_watch(st);
    if (st->ending)
        http_stream_flush(st, 1);
    else if (st->pend_len > 0)
        http_stream_flush(st, 0);
}

static void http_stream_on_stop(h2o_generator_t *gen, h2o_req_t *h)
{
    (void)h;
    struct http_stream *st = (struct http_stream *)gen;
    /* The request is being disposed of: h2o holds none of our bytes any more. */
    http_stream_detach(st);
    http_stream_free(st);
}

/* Reads an HTTP/1 stream's socket only to learn that the client went away. Touches no
 * stream: it may run after the stream's last write, until h2o's reader takes over. */
static void http_stream_on_h1_read(h2o_socket_t *sock, const char *err)
{
    if (err == NULL && sock->bytes_read == 0)
        return; /* woken without data */
    /* libh2o 2.2.5's HTTP/1 connection (sock->data) starts with its h2o_conn_t, whose
     * context is our worker's; its reader, called with an error, closes the connection. */
    h2o_conn_t *conn = sock->data;
    struct http_worker *w = H2O_STRUCT_FROM_MEMBER(struct http_worker, ctx, conn->ctx);
    w->h1_read_cb(sock, err != NULL ? err : "input while streaming");
}

struct http_stream *res_stream_start(struct req *r, const char *content_type, http_stream_close_fn on_close,
                                     void *arg)
{
    h2o_req_t *h = r->h;
    struct http_worker *w = r->w;
    if (w->shutting_down) {
        res_error(r, TG_E_UNAVAILABLE, NULL, NULL);
        return NULL;
    }
    size_t ctlen = strlen(content_type);
    char *ct = h2o_mem_alloc_pool(&h->pool, ctlen + 1);
    memcpy(ct, content_type, ctlen + 1);
    if (h2o_find_header(&h->res.headers, H2O_TOKEN_CACHE_CONTROL, -1) < 0)
        http_hdr_push(h, &H2O_TOKEN_CACHE_CONTROL->buf, H2O_STRLIT("no-store"));
    static h2o_iovec_t hn_accel = {"x-accel-buffering", 17};
    http_hdr_push(h, &hn_accel, H2O_STRLIT("no"));
    if (http_res_begin(r, 200, ct, ctlen, 0) != 0)
        return NULL;
    h->res.content_length = SIZE_MAX;
    if (r->is_head) {
        static h2o_generator_t none = {NULL, NULL};
        h2o_start_response(h, &none);
        h2o_send(h, NULL, 0, H2O_SEND_STATE_FINAL);
        return NULL;
    }
    struct http_stream *st = xcalloc(1, sizeof *st);
    st->gen.proceed = http_stream_on_proceed;
    st->gen.stop = http_stream_on_stop;
    st->r = r;
    st->w = w;
    st->on_close = on_close;
    st->arg = arg;
    h2o_linklist_insert(&w->streams, &st->link);
    w->nstreams++;
    (void)req_client_ip(r); /* worked out now, from headers that will not move (see above) */
    h2o_start_response(h, &st->gen);
    /* The head goes with the first write: libh2o 2.2.5 sends nothing for an empty
     * h2o_send (checked: it calls proceed without writing), so a handler that wants the
     * client to see the stream open writes something at once (an SSE `retry:` line). */
    return st;
}

int http_stream_write(struct http_stream *st, const void *data, size_t len)
{
    if (NEVER(st->closed))
        return -1;
    if (len > HTTP_STREAM_BUF_MAX - st->pend_len) {
        char ip[HTTP_IP_MAX];
        snprintf(ip, sizeof ip, "%s", req_client_ip(st->r));
        log_event(LOG_WARN, "stream_client_not_reading", "request_id", st->r->id, "ip", ip, NULL);
        http_stream_detach(st);
        st->ending = 1;
        st->pend_len = 0;
        if (http_stream_close_conn(st, "client not reading the stream") != 0 && !st->sending)
            http_stream_flush(st, 1); /* cannot happen with a send in flight past the bound */
        return -1;
    }
    if (st->pend_len + len > st->pend_cap) {
        size_t cap = st->pend_cap ? st->pend_cap : 1024;
        while (cap < st->pend_len + len)
            cap *= 2;
        st->pend_cap = cap < HTTP_STREAM_BUF_MAX ? cap : HTTP_STREAM_BUF_MAX;
        st->pend = xrealloc(st->pend, st->pend_cap);
    }
    memcpy(st->pend + st->pend_len, data, len);
    st->pend_len += len;
    if (!st->sending)
        http_stream_flush(st, 0);
    return 0;
}

void http_stream_end(struct http_stream *st)
{
    if (NEVER(st->closed))
        return;
    http_stream_detach(st);
    st->ending = 1;
    if (!st->sending)
        http_stream_flush(st, 1);
}

void http_streams_shutdown(struct http_worker *w)
{
    while (!h2o_linklist_is_empty(&w->streams)) {
        struct http_stream *st = H2O_STRUCT_FROM_MEMBER(struct http_stream, link, w->streams.next);
        st->r->h->http1_is_persistent = 0; /* the connection closes after the last chunk */
        http_stream_end(st);
    }
}

/* ---- loop timers ---- */

struct http_timer {
    h2o_timeout_entry_t entry;
    h2o_timeout_t *timeout; /* one of the context's shared ones: nothing to set up per timer */
    h2o_evloop_t *loop;
    unsigned every, count;  /* fn runs every `every` expiries */
    void (*fn)(void *arg);
    void *arg;
    unsigned in_fn : 1, stopped : 1;
};

static void http_timer_on_fire(h2o_timeout_entry_t *e)
{
    struct http_timer *t = H2O_STRUCT_FROM_MEMBER(struct http_timer, entry, e);
    if (++t->count >= t->every) {
        t->count = 0;
        t->in_fn = 1;
        t->fn(t->arg);
        t->in_fn = 0;
    }
    if (t->stopped) {
        free(t);
        return;
    }
    h2o_timeout_link(t->loop, t->timeout, &t->entry);
}

struct http_timer *http_timer_start(struct req *r, unsigned interval_ms, void (*fn)(void *arg), void *arg)
{
    h2o_context_t *ctx = &r->w->ctx;
    struct http_timer *t = xcalloc(1, sizeof *t);
    t->entry.cb = http_timer_on_fire;
    t->loop = ctx->loop;
    /* h2o's context keeps 1 s and 100 ms timeouts for everyone; a whole number of either. */
    if (interval_ms >= 1000) {
        t->timeout = &ctx->one_sec_timeout;
        t->every = (interval_ms + 999) / 1000;
    } else {
        t->timeout = &ctx->hundred_ms_timeout;
        t->every = interval_ms < 100 ? 1 : (interval_ms + 99) / 100;
    }
    t->fn = fn;
    t->arg = arg;
    h2o_timeout_link(t->loop, t->timeout, &t->entry);
    return t;
}

void http_timer_stop(struct http_timer *t)
{
    if (t == NULL)
        return;
    if (t->in_fn) {
        t->stopped = 1; /* freed by http_timer_on_fire once fn returns */
        return;
    }
    if (h2o_timeout_is_linked(&t->entry))
        h2o_timeout_unlink(&t->entry);
    free(t);
}
