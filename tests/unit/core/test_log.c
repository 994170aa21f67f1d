/* Unit tests for src/core/log.c: every line is one valid JSON object; escaping; levels. */
#include "../test.h"

#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include <jansson.h>

#include "core/log.h"
#include "core/mem.h"

/* stderr is redirected into a pipe drained by a thread, so a test may write more than the
 * pipe holds without blocking. */
struct capture {
    int saved_fd, rd;
    pthread_t reader;
    struct sbuf out;
};

static void *capture_drain(void *arg)
{
    struct capture *c = arg;
    char buf[4096];
    for (;;) {
        ssize_t n = read(c->rd, buf, sizeof buf);
        if (n <= 0)
            break;
        sbuf_append(&c->out, buf, (size_t)n);
    }
    return NULL;
}

static void capture_begin(struct capture *c)
{
    int fds[2];
    memset(c, 0, sizeof *c);
    if (pipe(fds) != 0)
        abort();
    fflush(stderr);
    c->saved_fd = dup(2);
    dup2(fds[1], 2);
    close(fds[1]);
    c->rd = fds[0];
    sbuf_append(&c->out, "", 0);
    pthread_create(&c->reader, NULL, capture_drain, c);
}

/* Restores stderr and returns everything written meanwhile (caller frees). */
static char *capture_end(struct capture *c)
{
    dup2(c->saved_fd, 2); /* closes the last write end: the reader sees EOF */
    close(c->saved_fd);
    pthread_join(c->reader, NULL);
    close(c->rd);
    return c->out.data;
}

static size_t count_lines(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* Parses the single line in s (must end in exactly one newline). */
static json_t *one_line(const char *s)
{
    size_t n = strlen(s);
    json_error_t je;
    if (n == 0 || s[n - 1] != '\n' || memchr(s, '\n', n - 1) != NULL)
        return NULL;
    json_t *j = json_loadb(s, n - 1, 0, &je);
    if (j == NULL)
        printf("# not JSON: %s (%s)\n", je.text, s);
    return j;
}

static const char *jstr(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static void test_shape(void)
{
    struct capture c;
    capture_begin(&c);
    log_event(LOG_INFO, "login_failed", "ip", "203.0.113.9", "reason", "bad_password", NULL);
    char *s = capture_end(&c);
    json_t *j = one_line(s);
    CHECK(j != NULL, "log_event writes one JSON line");
    const char *ts = jstr(j, "ts");
    CHECK(ts && strlen(ts) == 24 && ts[4] == '-' && ts[10] == 'T' && ts[19] == '.' && ts[23] == 'Z',
          "ts is RFC 3339 UTC with milliseconds (%s)", ts ? ts : "null");
    CHECK_STR_EQ(jstr(j, "level"), "info", "level");
    CHECK_STR_EQ(jstr(j, "event"), "login_failed", "event");
    CHECK_STR_EQ(jstr(j, "ip"), "203.0.113.9", "field ip");
    CHECK_STR_EQ(jstr(j, "reason"), "bad_password", "field reason");
    CHECK(strncmp(s, "{\"ts\":", 6) == 0, "ts comes first");
    CHECK_INT_EQ(json_object_size(j), 5, "no other fields");
    json_decref(j);
    free(s);
}

static void test_escaping(void)
{
    struct capture c;
    const char *nasty = "quote\" back\\slash\nnew\rret\ttab\x01\x1f\x7f end";
    capture_begin(&c);
    log_event(LOG_WARN, "ev\"il\n", "k\"ey", nasty, "nul", (const char *)NULL, "utf8", "é中😀", "bad_utf8",
              "a\xff"
              "b\xc3(\xed\xa0\x80z",
              NULL);
    char *s = capture_end(&c);
    json_t *j = one_line(s);
    CHECK(j != NULL, "quotes, newlines and control characters stay inside one valid line");
    CHECK_STR_EQ(jstr(j, "k\"ey"), nasty, "value round-trips through JSON escaping");
    CHECK_STR_EQ(jstr(j, "event"), "ev\"il\n", "event name escaped");
    CHECK(json_is_null(json_object_get(j, "nul")), "NULL value is JSON null");
    CHECK_STR_EQ(jstr(j, "utf8"), "é中😀", "valid UTF-8 kept as is");
    CHECK_STR_EQ(jstr(j, "bad_utf8"),
                 "a\xef\xbf\xbd"
                 "b\xef\xbf\xbd(\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdz",
                 "invalid UTF-8 (stray byte, truncated sequence, surrogate) becomes U+FFFD");
    CHECK(strstr(s, "\\u0001") && strstr(s, "\\u001f") && strstr(s, "\\u007f"), "controls as \\u00XX");
    json_decref(j);
    free(s);

    /* long values: the line leaves the stack buffer, and a runaway value is cut, marked */
    char *big = xmalloc(20001);
    memset(big, 'x', 20000);
    big[20000] = '\0';
    big[100] = '"';
    capture_begin(&c);
    log_event(LOG_ERROR, "big", "v", big, NULL);
    s = capture_end(&c);
    j = one_line(s);
    const char *v = jstr(j, "v");
    CHECK(v && strlen(v) == 8192 + strlen("...[truncated]") && strcmp(v + 8192, "...[truncated]") == 0,
          "a value over 8 KiB is cut and marked");
    CHECK(v && v[100] == '"', "escaping still right in a long line");
    json_decref(j);
    free(s);
    char *mid = xstrndup(big, 3000);
    mid[100] = 'x';
    capture_begin(&c);
    log_event(LOG_ERROR, "mid", "a", mid, "b", mid, NULL);
    s = capture_end(&c);
    j = one_line(s);
    CHECK(j && strlen(jstr(j, "a")) == 3000 && strlen(jstr(j, "b")) == 3000,
          "lines over the stack buffer are whole");
    json_decref(j);
    free(s);
    free(mid);
    free(big);
}

static void test_levels(void)
{
    struct capture c;
    CHECK(log_set_level("warn") == 0, "set level warn");
    CHECK(!log_enabled(LOG_DEBUG) && !log_enabled(LOG_INFO) && log_enabled(LOG_WARN) &&
              log_enabled(LOG_ERROR),
          "log_enabled follows the level");
    capture_begin(&c);
    log_event(LOG_DEBUG, "d", NULL);
    log_event(LOG_INFO, "i", NULL);
    log_msgf(LOG_INFO, "i2", "%d", 1);
    log_event(LOG_WARN, "w", NULL);
    log_event(LOG_ERROR, "e", NULL);
    char *s = capture_end(&c);
    CHECK_INT_EQ(count_lines(s), 2, "only warn and error are written");
    CHECK(strstr(s, "\"level\":\"warn\",\"event\":\"w\"") && strstr(s, "\"level\":\"error\",\"event\":\"e\""),
          "the right two lines");
    free(s);
    CHECK(log_set_level("bogus") == -1 && log_set_level(NULL) == -1, "unknown level names are refused");
    CHECK(!log_enabled(LOG_INFO) && log_enabled(LOG_WARN), "a refused name leaves the level alone");
    CHECK(log_set_level("DEBUG") == 0 && log_enabled(LOG_DEBUG), "names are case-insensitive");
    capture_begin(&c);
    log_event(LOG_DEBUG, "d", NULL);
    s = capture_end(&c);
    json_t *j = one_line(s);
    CHECK_STR_EQ(jstr(j, "level"), "debug", "debug written at level debug");
    json_decref(j);
    free(s);
    log_set_level("info");
}

static void test_msgf_raw(void)
{
    struct capture c;
    capture_begin(&c);
    log_msgf(LOG_INFO, "started", "listening on %s:%d with \"%s\"", "127.0.0.1", 8080, "q");
    char *s = capture_end(&c);
    json_t *j = one_line(s);
    CHECK_STR_EQ(jstr(j, "msg"), "listening on 127.0.0.1:8080 with \"q\"", "log_msgf formats into msg");
    json_decref(j);
    free(s);

    char *longarg = xmalloc(1001);
    memset(longarg, 'y', 1000);
    longarg[1000] = '\0';
    capture_begin(&c);
    log_msgf(LOG_INFO, "long", "<%s>", longarg);
    s = capture_end(&c);
    j = one_line(s);
    CHECK(j && strlen(jstr(j, "msg")) == 1002, "log_msgf beyond its stack buffer");
    json_decref(j);
    free(s);
    free(longarg);

    capture_begin(&c);
    log_raw_line("{\"a\":1}xyz", 7);
    s = capture_end(&c);
    CHECK_STR_EQ(s, "{\"a\":1}\n", "log_raw_line writes len bytes and a newline");
    free(s);
}

#define THREADS 4
#define PER_THREAD 500

static void *log_worker(void *arg)
{
    char id[16];
    snprintf(id, sizeof id, "%d", (int)(intptr_t)arg);
    for (int i = 0; i < PER_THREAD; i++)
        log_event(LOG_INFO, "concurrent", "thread", id, "pad",
                  "................................................................", NULL);
    return NULL;
}

static void test_threads(void)
{
    struct capture c;
    pthread_t t[THREADS];
    capture_begin(&c);
    for (intptr_t i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, log_worker, (void *)i);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    char *s = capture_end(&c);
    size_t good = 0, total = 0;
    for (char *line = s; *line;) {
        char *nl = strchr(line, '\n');
        if (nl == NULL)
            break;
        json_error_t je;
        json_t *j = json_loadb(line, (size_t)(nl - line), 0, &je);
        good += j != NULL;
        total++;
        json_decref(j);
        line = nl + 1;
    }
    CHECK(total == THREADS * PER_THREAD && good == total, "lines from %d threads never interleave (%zu/%zu)",
          THREADS, good, total);
    free(s);
}

int main(void)
{
    test_shape();
    test_escaping();
    test_levels();
    test_msgf_raw();
    test_threads();
    return test_done();
}
