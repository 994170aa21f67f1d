/*
 * accesslog.h - one JSON line per answered request, batched per worker.
 *
 *   {"ts":"...","level":"info","event":"http","request_id":"req_...","method":"GET",
 *    "path":"/api/v1/credits","route":"/api/v1/credits","status":200,"bytes_sent":57,
 *    "duration_us":312,"ip":"127.0.0.1","user_id":null}
 *
 * At tens of thousands of requests per second a write(2) per line costs more than the
 * request itself, so each worker formats lines into its own 4096-byte buffer and writes whole
 * lines in one write(2) when the buffer is full, on a 100 ms timer of its loop, and at
 * shutdown. 4096 bytes is PIPE_BUF on Linux: such a write to a pipe is atomic, so batches
 * from different threads (and log.c's single lines) never interleave mid-line.
 * The query string is never logged: it may carry tokens.
 */
#ifndef TG_HTTP_ACCESSLOG_H
#define TG_HTTP_ACCESSLOG_H

#include <stddef.h>
#include <stdint.h>

#define HTTP_ACCESSLOG_BUF 4096
/* Upper bound of one formatted line; every field is capped so that this holds. */
#define HTTP_ACCESSLOG_LINE_MAX 3072
/* Escaped path bytes kept in a line; a longer path is cut at a character boundary. */
#define HTTP_ACCESSLOG_PATH_MAX 2048

struct http_accesslog {
    int fd;            /* normally 2 */
    size_t len;
    int64_t ts_sec;    /* second of the cached timestamp prefix */
    char ts_prefix[24]; /* "2026-11-22T02:43:17." */
    char buf[HTTP_ACCESSLOG_BUF];
};

struct http_accesslog_fields {
    int64_t ts_ms;
    const char *request_id;
    const char *method;
    size_t method_len;
    const char *path;        /* without the query string */
    size_t path_len;
    const char *route;       /* matched pattern, or NULL */
    int status;
    uint64_t bytes_sent;
    int64_t duration_us;
    const char *ip;          /* may be NULL */
    const char *user_id;     /* NULL when anonymous */
};

/* Prepares an empty buffer writing to fd. */
void http_accesslog_init(struct http_accesslog *l, int fd);
/*
 * Formats one line (with its trailing '\n') into out, which must have room for
 * HTTP_ACCESSLOG_LINE_MAX bytes. The timestamp prefix cache in l is used and updated.
 * Returns the length. Strings are escaped so that the line is valid JSON even for
 * control characters or invalid UTF-8 (replaced by U+FFFD).
 */
size_t http_accesslog_format(struct http_accesslog *l, char *out, const struct http_accesslog_fields *f);
/* Formats a line into the buffer, writing the buffer out first when the line might not fit. */
void http_accesslog_add(struct http_accesslog *l, const struct http_accesslog_fields *f);
/* Writes buffered lines (one write(2); retried on EINTR and partial writes). */
void http_accesslog_flush(struct http_accesslog *l);
#endif
