/*
 * file.c - res_file: a file as the answer, with single byte ranges (RFC 9233).
 *
 * libh2o 2.2.5's h2o_file_send does not look at Range (only its file handler's own
 * on_req does, which serves a directory, not an authorised file), so this is a small
 * generator of our own: it reads the next 64 KiB with pread each time h2o asks for more
 * (proceed), so a slow client holds one buffer, never the file.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "http/internal.h"

#define HTTP_FILE_CHUNK (64 * 1024)

struct http_file_gen {
    h2o_generator_t super;
    int fd;
    int64_t off, left;
    char *buf; /* HTTP_FILE_CHUNK bytes in the request's pool */
};

static void http_file_close(struct http_file_gen *g)
{
    if (g->fd >= 0) {
        close(g->fd);
        g->fd = -1;
    }
}

static void http_file_proceed(h2o_generator_t *self, h2o_req_t *h)
{
    struct http_file_gen *g = (struct http_file_gen *)self;
    size_t want = g->left < HTTP_FILE_CHUNK ? (size_t)g->left : HTTP_FILE_CHUNK;
    ssize_t n;
    do
        n = pread(g->fd, g->buf, want, (off_t)g->off);
    while (n < 0 && errno == EINTR);
    if (n <= 0) {
        /* The file shrank or the disk failed: the promised length cannot be kept. */
        log_event(LOG_ERROR, "file_read_failed", "error", n < 0 ? strerror(errno) : "short file", NULL);
        http_file_close(g);
        h2o_send(h, NULL, 0, H2O_SEND_STATE_ERROR);
        return;
    }
    g->off += n;
    g->left -= n;
    h2o_iovec_t v = h2o_iovec_init(g->buf, (size_t)n);
    if (g->left == 0) {
        http_file_close(g);
        h2o_send(h, &v, 1, H2O_SEND_STATE_FINAL);
    } else {
        h2o_send(h, &v, 1, H2O_SEND_STATE_IN_PROGRESS);
    }
}

static void http_file_stop(h2o_generator_t *self, h2o_req_t *h)
{
    (void)h;
    http_file_close((struct http_file_gen *)self);
}

void res_file(struct req *r, int fd, int64_t size, const char *content_type)
{
    h2o_req_t *h = r->h;
    int64_t start = 0, len = size;
    const char *range = req_header(r, "range");
    int rr = http_range_parse(range, size, &start, &len);
    char *cr = h2o_mem_alloc_pool(&h->pool, 80);

    if (rr < 0) {
        close(fd);
        int n = snprintf(cr, 80, "bytes */%lld", (long long)size);
        http_res_header_static(r, "content-range", 13, cr, (size_t)n);
        res_error(r, TG_E_RANGE_NOT_SATISFIABLE, NULL, NULL);
        return;
    }
    http_res_header_static(r, "accept-ranges", 13, "bytes", 5);
    if (rr > 0) {
        int n = snprintf(cr, 80, "bytes %lld-%lld/%lld", (long long)start, (long long)(start + len - 1),
                         (long long)size);
        http_res_header_static(r, "content-range", 13, cr, (size_t)n);
    }
    if (http_res_begin(r, rr > 0 ? 206 : 200, content_type, strlen(content_type), 0) != 0) {
        close(fd);
        return;
    }
    h->res.content_length = (size_t)len;
    if (r->is_head || len == 0) {
        static h2o_generator_t none = {NULL, NULL};
        close(fd);
        h2o_start_response(h, &none);
        h2o_send(h, NULL, 0, H2O_SEND_STATE_FINAL);
        return;
    }
    struct http_file_gen *g = h2o_mem_alloc_pool(&h->pool, sizeof *g);
    g->super.proceed = http_file_proceed;
    g->super.stop = http_file_stop;
    g->fd = fd;
    g->off = start;
    g->left = len;
    g->buf = h2o_mem_alloc_pool(&h->pool, HTTP_FILE_CHUNK);
    h2o_start_response(h, &g->super);
    http_file_proceed(&g->super, h);
}
