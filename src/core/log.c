/*
 * log.c - JSON lines on stderr.
 *
 * Every line is assembled in memory (a stack buffer, spilling to the heap only for long
 * lines) and handed to the kernel with one write(2). A single write to a pipe of at most
 * PIPE_BUF bytes is atomic and a single write to an O_APPEND file is not interleaved, so
 * lines from different threads never mix; building first also means no lock is needed.
 *
 * Values often come from outside (emails, user agents, provider error bodies): they are
 * escaped with core/jsonesc.h (invalid UTF-8 becomes U+FFFD, so every line stays valid
 * JSON), and over-long values are cut at a marked point so one runaway field cannot
 * produce a megabyte-long line.
 */
#include "core/log.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/jsonesc.h"
#include "core/mem.h"
#include "core/timeutil.h"

/* Fits nearly every line (an access-log line is ~300 bytes) without touching the heap. */
#define LOG_STACK 2048
/* A value longer than this is cut and marked; 8 KiB keeps a provider error body readable. */
#define LOG_MAX_VALUE 8192

static const char *const log_names[] = {"debug", "info", "warn", "error"};

/* Read on every call from every thread; relaxed is enough since it is a lone flag. */
static _Atomic int log_min = LOG_INFO;

/* A line under construction: starts in `stack`, moves to the heap when it outgrows it. */
struct log_line {
    char *p;
    size_t len, cap;
    char stack[LOG_STACK];
};

static void log_line_init(struct log_line *l)
{
    l->p = l->stack;
    l->len = 0;
    l->cap = sizeof l->stack;
}

static void log_line_reserve(struct log_line *l, size_t extra)
{
    if (l->len + extra <= l->cap)
        return;
    size_t cap = l->cap * 2;
    while (cap < l->len + extra)
        cap *= 2;
    if (l->p == l->stack) {
        l->p = xmalloc(cap);
        memcpy(l->p, l->stack, l->len);
    } else {
        l->p = xrealloc(l->p, cap);
    }
    l->cap = cap;
}

static void log_put(struct log_line *l, const char *s, size_t n)
{
    log_line_reserve(l, n);
    memcpy(l->p + l->len, s, n);
    l->len += n;
}

static void log_puts(struct log_line *l, const char *s)
{
    log_put(l, s, strlen(s));
}

/* Appends s as a JSON string, quotes included, cut at LOG_MAX_VALUE bytes and marked. */
static void log_str(struct log_line *l, const char *s)
{
    size_t n = strlen(s), cut = n > LOG_MAX_VALUE ? LOG_MAX_VALUE : n;
    log_line_reserve(l, JSON_ESCAPE_MAX(cut) + 2);
    l->p[l->len++] = '"';
    l->len += json_escape(l->p + l->len, JSON_ESCAPE_MAX(cut), s, cut);
    if (cut < n)
        log_puts(l, "...[truncated]");
    log_put(l, "\"", 1);
}

/* Writes the whole buffer to stderr, retrying after EINTR and short writes. A failing
 * stderr has nowhere to report to, so errors are dropped. */
static void log_write(const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(STDERR_FILENO, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        p += w;
        n -= (size_t)w;
    }
}

static void log_begin(struct log_line *l, enum log_level lvl, const char *event)
{
    char ts[32];
    log_line_init(l);
    log_puts(l, "{\"ts\":\"");
    log_puts(l, time_rfc3339(time_now_ms(), ts));
    log_puts(l, "\",\"level\":\"");
    log_puts(l, log_names[lvl]);
    log_puts(l, "\",\"event\":");
    log_str(l, event ? event : "");
}

static void log_end(struct log_line *l)
{
    log_put(l, "}\n", 2);
    log_write(l->p, l->len);
    if (l->p != l->stack)
        free(l->p);
}

static enum log_level log_clamp(enum log_level lvl)
{
    if ((int)lvl < LOG_DEBUG)
        return LOG_DEBUG;
    if ((int)lvl > LOG_ERROR)
        return LOG_ERROR;
    return lvl;
}

int log_set_level(const char *name)
{
    if (name == NULL)
        return -1;
    for (int i = LOG_DEBUG; i <= LOG_ERROR; i++)
        if (strcasecmp(name, log_names[i]) == 0) {
            atomic_store_explicit(&log_min, i, memory_order_relaxed);
            return 0;
        }
    return -1;
}

int log_enabled(enum log_level lvl)
{
    return (int)lvl >= atomic_load_explicit(&log_min, memory_order_relaxed);
}

void log_event(enum log_level lvl, const char *event, ...)
{
    struct log_line l;
    va_list ap;
    if (!log_enabled(lvl))
        return;
    log_begin(&l, log_clamp(lvl), event);
    va_start(ap, event);
    for (;;) {
        const char *k = va_arg(ap, const char *);
        if (k == NULL)
            break;
        const char *v = va_arg(ap, const char *);
        log_put(&l, ",", 1);
        log_str(&l, k);
        log_put(&l, ":", 1);
        if (v == NULL)
            log_puts(&l, "null");
        else
            log_str(&l, v);
    }
    va_end(ap);
    log_end(&l);
}

void log_msgf(enum log_level lvl, const char *event, const char *fmt, ...)
{
    struct log_line l;
    char small[512];
    char *msg = small;
    va_list ap;
    if (!log_enabled(lvl))
        return;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        small[0] = '\0';
    } else if ((size_t)n >= sizeof small) {
        va_start(ap, fmt);
        msg = xvasprintf(fmt, ap);
        va_end(ap);
    }
    log_begin(&l, log_clamp(lvl), event);
    log_puts(&l, ",\"msg\":");
    log_str(&l, msg);
    log_end(&l);
    if (msg != small)
        free(msg);
}

void log_raw_line(const char *json, size_t len)
{
    struct log_line l;
    log_line_init(&l);
    log_put(&l, json, len);
    log_put(&l, "\n", 1);
    log_write(l.p, l.len);
    if (l.p != l.stack)
        free(l.p);
}
