/*
 * accesslog.c - the batched per-worker access log (see accesslog.h for why batching).
 */
#include "http/accesslog.h"

#include "core/jsonesc.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void http_accesslog_init(struct http_accesslog *l, int fd)
{
    l->fd = fd;
    l->len = 0;
    l->ts_sec = -1;
    l->ts_prefix[0] = '\0';
}

/* Appends a literal. */
#define AL_LIT(p, s)                                                                                                  \
    do {                                                                                                              \
        memcpy((p), (s), sizeof(s) - 1);                                                                              \
        (p) += sizeof(s) - 1;                                                                                         \
    } while (0)

static char *http_accesslog_str(char *p, const char *s, size_t len, size_t cap)
{
    if (s == NULL) {
        AL_LIT(p, "null");
        return p;
    }
    *p++ = '"';
    p += json_escape(p, cap, s, len);
    *p++ = '"';
    return p;
}

static char *http_accesslog_u64(char *p, uint64_t v)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = tmp[--n];
    return p;
}

size_t http_accesslog_format(struct http_accesslog *l, char *out, const struct http_accesslog_fields *f)
{
    char *p = out;
    int64_t sec = f->ts_ms / 1000, ms = f->ts_ms % 1000;
    if (ms < 0) {
        ms += 1000;
        sec--;
    }
    /* gmtime_r + formatting costs more than the rest of the line: redo it once a second. */
    if (sec != l->ts_sec) {
        time_t t = (time_t)sec;
        struct tm tm;
        gmtime_r(&t, &tm);
        snprintf(l->ts_prefix, sizeof l->ts_prefix, "%04u-%02u-%02uT%02u:%02u:%02u.",
                 (unsigned)(tm.tm_year + 1900) % 10000u, (unsigned)(tm.tm_mon + 1) % 100u, (unsigned)tm.tm_mday % 100u,
                 (unsigned)tm.tm_hour % 100u, (unsigned)tm.tm_min % 100u, (unsigned)tm.tm_sec % 100u);
        l->ts_sec = sec;
    }
    AL_LIT(p, "{\"ts\":\"");
    size_t tl = strlen(l->ts_prefix);
    memcpy(p, l->ts_prefix, tl);
    p += tl;
    *p++ = (char)('0' + ms / 100);
    *p++ = (char)('0' + ms / 10 % 10);
    *p++ = (char)('0' + ms % 10);
    AL_LIT(p, "Z\",\"level\":\"info\",\"event\":\"http\",\"request_id\":");
    p = http_accesslog_str(p, f->request_id, f->request_id ? strnlen(f->request_id, 64) : 0, 96);
    AL_LIT(p, ",\"method\":");
    p = http_accesslog_str(p, f->method, f->method_len, 64);
    AL_LIT(p, ",\"path\":");
    p = http_accesslog_str(p, f->path, f->path_len, HTTP_ACCESSLOG_PATH_MAX);
    AL_LIT(p, ",\"route\":");
    p = http_accesslog_str(p, f->route, f->route ? strnlen(f->route, 256) : 0, 256);
    AL_LIT(p, ",\"status\":");
    p = http_accesslog_u64(p, (uint64_t)(f->status < 0 ? 0 : f->status));
    AL_LIT(p, ",\"bytes_sent\":");
    p = http_accesslog_u64(p, f->bytes_sent);
    AL_LIT(p, ",\"duration_us\":");
    p = http_accesslog_u64(p, (uint64_t)(f->duration_us < 0 ? 0 : f->duration_us));
    AL_LIT(p, ",\"ip\":");
    p = http_accesslog_str(p, f->ip, f->ip ? strnlen(f->ip, 64) : 0, 96);
    AL_LIT(p, ",\"user_id\":");
    p = http_accesslog_str(p, f->user_id, f->user_id ? strnlen(f->user_id, 64) : 0, 96);
    AL_LIT(p, "}\n");
    return (size_t)(p - out);
}

void http_accesslog_add(struct http_accesslog *l, const struct http_accesslog_fields *f)
{
    if (sizeof l->buf - l->len < HTTP_ACCESSLOG_LINE_MAX)
        http_accesslog_flush(l);
    l->len += http_accesslog_format(l, l->buf + l->len, f);
}

void http_accesslog_flush(struct http_accesslog *l)
{
    size_t off = 0;
    while (off < l->len) {
        ssize_t n = write(l->fd, l->buf + off, l->len - off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            break; /* stderr closed or non-blocking and full: drop rather than stall the loop */
        }
        off += (size_t)n;
    }
    l->len = 0;
}
