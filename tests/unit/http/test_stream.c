/*
 * test_stream.c - streamed answers (src/http/stream.c) on a real h2o loop: a client socket
 * in this thread talks HTTP/1.1 to an h2o context whose handler opens streams, and the loop
 * is run step by step between the client's moves.
 */
#include "http/stream.c"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../test.h"

/* ---- what stream.c needs from the rest of src/http (req.c), reduced ---- */

void http_hdr_push(h2o_req_t *h, h2o_iovec_t *name, const char *v, size_t vlen)
{
    h2o_add_header_by_str(&h->pool, &h->res.headers, name->base, name->len, 1, NULL, v, vlen);
}

int http_res_begin(struct req *r, int status, const char *ctype, size_t ctype_len, int json)
{
    (void)json;
    if (r->replied)
        return -1;
    r->replied = 1;
    r->status = status;
    r->h->res.status = status;
    r->h->res.reason = "OK";
    h2o_add_header(&r->h->pool, &r->h->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, ctype, ctype_len);
    return 0;
}

static int errors_sent;
void res_error(struct req *r, enum tg_err e, const char *message, json_t *details)
{
    (void)e;
    (void)message;
    json_decref(details);
    errors_sent++;
    http_res_begin(r, 503, H2O_STRLIT("application/json"), 1);
    static h2o_generator_t none = {NULL, NULL};
    h2o_start_response(r->h, &none);
    h2o_send(r->h, NULL, 0, H2O_SEND_STATE_FINAL);
}

const char *req_client_ip(const struct req *r)
{
    (void)r;
    return "127.0.0.1";
}

/* ---- the server side ---- */

static h2o_globalconf_t gconf;
static struct http_worker w;
static h2o_socket_t *listener;
static int port;
static struct http_stream *cur; /* the stream the last request opened */
static int closes;              /* on_close calls */

static void on_close(void *arg)
{
    (void)arg;
    closes++;
    cur = NULL;
}

static int on_req(h2o_handler_t *self, h2o_req_t *h)
{
    (void)self;
    struct req *r = h2o_mem_alloc_pool(&h->pool, sizeof *r);
    memset(r, 0, sizeof *r);
    r->h = h;
    r->w = &w;
    strcpy(r->id, "req_test");
    r->is_head = h2o_memis(h->method.base, h->method.len, H2O_STRLIT("HEAD"));
    cur = res_stream_start(r, "text/event-stream", on_close, NULL);
    return 0;
}

static void on_accept(h2o_socket_t *l, const char *err)
{
    if (err != NULL)
        return;
    h2o_socket_t *sock = h2o_evloop_socket_accept(l);
    if (sock == NULL)
        return;
    h2o_accept(&w.accept_ctx, sock);
    if (w.h1_read_cb == NULL)
        w.h1_read_cb = sock->_cb.read;
}

static void server_start(void)
{
    h2o_config_init(&gconf);
    h2o_hostconf_t *host = h2o_config_register_host(&gconf, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *path = h2o_config_register_path(host, "/", 0);
    h2o_handler_t *hd = h2o_create_handler(path, sizeof *hd);
    hd->on_req = on_req;
    w.loop = h2o_evloop_create();
    h2o_context_init(&w.ctx, w.loop, &gconf);
    w.accept_ctx.ctx = &w.ctx;
    w.accept_ctx.hosts = gconf.hosts;
    h2o_linklist_init_anchor(&w.streams);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 16) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &al) != 0)
        abort();
    port = ntohs(a.sin_port);
    listener = h2o_evloop_socket_create(w.loop, fd, H2O_SOCKET_FLAG_DONT_READ);
    h2o_socket_read_start(listener, on_accept);
}

/* ---- the client side ---- */

struct client {
    int fd;
    char buf[1 << 20];
    size_t len;
    int eof;
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Runs the loop for about ms, reading what the client c (may be NULL) receives. */
static void pump(struct client *c, int ms)
{
    int64_t end = now_ms() + ms;
    do {
        h2o_evloop_run(w.loop, 5);
        while (c != NULL && !c->eof && c->len < sizeof c->buf) {
            ssize_t n = read(c->fd, c->buf + c->len, sizeof c->buf - c->len);
            if (n > 0)
                c->len += (size_t)n;
            else {
                if (n == 0 || (errno != EAGAIN && errno != EINTR))
                    c->eof = 1;
                break;
            }
        }
    } while (now_ms() < end);
}

static void client_open(struct client *c, const char *method, int rcvbuf)
{
    memset(c, 0, sizeof *c);
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (rcvbuf > 0)
        setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(c->fd, (struct sockaddr *)&a, sizeof a) != 0)
        abort();
    char req[128];
    int n = snprintf(req, sizeof req, "%s /events HTTP/1.1\r\nHost: x\r\n\r\n", method);
    if (write(c->fd, req, (size_t)n) != n)
        abort();
    fcntl(c->fd, F_SETFL, O_NONBLOCK);
}

/* The body of a chunked answer in c (after the head), de-chunked into out; 1 when the
 * last chunk (0) was seen. */
static int dechunk(const struct client *c, char *out, size_t cap, size_t *outlen)
{
    *outlen = 0;
    const char *p = memmem(c->buf, c->len, "\r\n\r\n", 4);
    if (p == NULL)
        return 0;
    p += 4;
    const char *end = c->buf + c->len;
    while (p < end) {
        char *e;
        unsigned long sz = strtoul(p, &e, 16);
        if (e + 2 > end || e[0] != '\r')
            return 0;
        if (sz == 0)
            return 1;
        p = e + 2;
        if (p + sz + 2 > end || *outlen + sz > cap)
            return 0;
        memcpy(out + *outlen, p, sz);
        *outlen += sz;
        p += sz + 2;
    }
    return 0;
}

static int has(const struct client *c, const char *s)
{
    return memmem(c->buf, c->len, s, strlen(s)) != NULL;
}

static struct client c1;
static char body[1 << 20];

static void test_stream_in_order(void)
{
    closes = 0;
    client_open(&c1, "GET", 0);
    pump(&c1, 50);
    CHECK(cur != NULL, "the handler opened a stream");
    CHECK_INT_EQ(http_stream_write(cur, "retry: 1\n\n", 10), 0, "a first write");
    pump(&c1, 50);
    CHECK(has(&c1, "HTTP/1.1 200"), "the head goes out with the first write");
    CHECK(has(&c1, "transfer-encoding: chunked"), "HTTP/1.1: chunked");
    CHECK(has(&c1, "content-type: text/event-stream"), "content type");
    CHECK(has(&c1, "cache-control: no-store"), "no-store");
    CHECK(has(&c1, "x-accel-buffering: no"), "X-Accel-Buffering: no");
    CHECK_INT_EQ(w.nstreams, 1, "one stream open on the loop");

    /* Many writes at once: the first goes out, the rest wait behind it, in order. */
    char expect[8192];
    size_t elen = 10;
    memcpy(expect, "retry: 1\n\n", 10);
    for (int i = 0; i < 500; i++) {
        char piece[16];
        int n = snprintf(piece, sizeof piece, "e%03d\n", i);
        memcpy(expect + elen, piece, (size_t)n);
        elen += (size_t)n;
        int rc = http_stream_write(cur, piece, (size_t)n);
        if (i % 100 == 0)
            CHECK_INT_EQ(rc, 0, "write %d accepted", i);
    }
    pump(&c1, 100);
    size_t blen;
    int ended = dechunk(&c1, body, sizeof body, &blen);
    CHECK(!ended, "not ended yet");
    CHECK(blen == elen && memcmp(body, expect, elen) == 0, "every byte arrived, in order (%zu of %zu)", blen, elen);
    CHECK_INT_EQ(closes, 0, "on_close not called while the stream lasts");

    http_stream_write(cur, "last\n", 5);
    http_stream_end(cur);
    CHECK_INT_EQ(closes, 1, "http_stream_end runs on_close before it returns");
    CHECK_INT_EQ(w.nstreams, 0, "no stream left on the loop");
    pump(&c1, 50);
    ended = dechunk(&c1, body, sizeof body, &blen);
    CHECK(ended, "the last chunk arrived");
    CHECK(blen == elen + 5 && memcmp(body + elen, "last\n", 5) == 0, "what was written before the end arrived");
    CHECK_INT_EQ(closes, 1, "on_close ran once");
    close(c1.fd);
    pump(NULL, 20);
}

static void test_client_goes_away(void)
{
    closes = 0;
    client_open(&c1, "GET", 0);
    pump(&c1, 30);
    CHECK(cur != NULL, "stream open");
    http_stream_write(cur, "retry: 1\n\n", 10);
    pump(&c1, 30);
    CHECK(has(&c1, "retry: 1"), "first write arrived");
    close(c1.fd);
    pump(NULL, 50);
    CHECK_INT_EQ(closes, 1, "a client that closes is noticed without a write (on_close once)");
    CHECK_INT_EQ(w.nstreams, 0, "and the stream is freed");
}

static void test_client_sends_while_streaming(void)
{
    closes = 0;
    client_open(&c1, "GET", 0);
    pump(&c1, 30);
    http_stream_write(cur, "retry: 1\n\n", 10);
    pump(&c1, 30);
    CHECK(cur != NULL && closes == 0, "stream open");
    if (write(c1.fd, "GET / HTTP/1.1\r\n", 16) != 16)
        abort();
    pump(&c1, 50);
    CHECK_INT_EQ(closes, 1, "a client sending while its stream lasts is cut off (on_close once)");
    CHECK(c1.eof, "its connection is closed");
    close(c1.fd);
    pump(NULL, 20);
}

static void test_client_not_reading(void)
{
    closes = 0;
    client_open(&c1, "GET", 4096);
    pump(NULL, 30);
    CHECK(cur != NULL, "stream open");
    char piece[4096];
    memset(piece, 'x', sizeof piece);
    int rc = 0;
    size_t sent = 0;
    /* The kernel's buffers take a few MB; then our bound must cut the client off. */
    while (rc == 0 && sent < (size_t)256 << 20) {
        rc = http_stream_write(cur, piece, sizeof piece);
        sent += sizeof piece;
        h2o_evloop_run(w.loop, 0);
    }
    CHECK_INT_EQ(rc, -1, "a write fails once the client stopped reading (after %zu bytes)", sent);
    CHECK(sent < (size_t)64 << 20, "well before memory grows (%zu bytes written)", sent);
    CHECK_INT_EQ(closes, 1, "on_close ran once");
    CHECK_INT_EQ(w.nstreams, 0, "the stream is gone from the loop");
    pump(NULL, 20);
    CHECK_INT_EQ(closes, 1, "and never again");
    close(c1.fd);
    pump(NULL, 20);
}

static void test_shutdown(void)
{
    closes = 0;
    client_open(&c1, "GET", 0);
    pump(&c1, 30);
    struct http_stream *a = cur;
    static struct client c2s;
    client_open(&c2s, "GET", 0);
    pump(&c2s, 30);
    CHECK(a != NULL && cur != NULL && a != cur, "two streams open");
    http_stream_write(a, "hello\n", 6);
    http_streams_shutdown(&w);
    CHECK_INT_EQ(closes, 2, "shutdown ends both streams (on_close each)");
    CHECK_INT_EQ(w.nstreams, 0, "none left");
    for (int i = 0; i < 20 && !(c1.eof && c2s.eof); i++) {
        pump(&c1, 10);
        pump(&c2s, 10);
    }
    size_t blen;
    CHECK(dechunk(&c1, body, sizeof body, &blen) && blen == 6, "the first got what was queued, then the end");
    CHECK(c1.eof && c2s.eof, "and both connections are closed");
    close(c1.fd);
    close(c2s.fd);
    pump(NULL, 20);
}

static void test_head(void)
{
    closes = 0;
    client_open(&c1, "HEAD", 0);
    pump(&c1, 50);
    CHECK(cur == NULL, "HEAD opens no stream");
    CHECK(has(&c1, "HTTP/1.1 200"), "HEAD gets the head");
    CHECK_INT_EQ(closes, 0, "no on_close without a stream");
    close(c1.fd);
    pump(NULL, 20);
}

static void test_shutting_down_refuses(void)
{
    closes = 0;
    errors_sent = 0;
    w.shutting_down = 1;
    client_open(&c1, "GET", 0);
    pump(&c1, 50);
    w.shutting_down = 0;
    CHECK(cur == NULL, "no stream opens while shutting down");
    CHECK_INT_EQ(errors_sent, 1, "answered with an error (503)");
    close(c1.fd);
    pump(NULL, 20);
}

static int fires;
static struct http_timer *tmr;
static void on_timer(void *arg)
{
    (void)arg;
    if (++fires == 3)
        http_timer_stop(tmr); /* from within its own callback */
}

static void test_timer(void)
{
    struct req r = {0};
    r.w = &w;
    tmr = http_timer_start(&r, 100, on_timer, NULL);
    pump(NULL, 550);
    CHECK_INT_EQ(fires, 3, "a 100 ms timer fired until it stopped itself");
    struct http_timer *t2 = http_timer_start(&r, 1000, on_timer, NULL);
    http_timer_stop(t2);
    pump(NULL, 20);
    CHECK_INT_EQ(fires, 3, "a stopped timer never fires");
}

int main(void)
{
    server_start();
    test_stream_in_order();
    test_client_goes_away();
    test_client_sends_while_streaming();
    test_client_not_reading();
    test_shutdown();
    test_head();
    test_shutting_down_refuses();
    test_timer();
    /* everything released, for the leak checker */
    h2o_socket_read_stop(listener);
    h2o_socket_close(listener);
    pump(NULL, 20);
    h2o_context_dispose(&w.ctx);
    h2o_evloop_destroy(w.loop);
    h2o_config_dispose(&gconf);
    return test_done();
}
