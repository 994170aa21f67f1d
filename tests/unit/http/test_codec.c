/* Unit tests for the pure parts of src/http: percent-decoding and query lookup,
 * X-Forwarded-For resolution, access-log lines, Prometheus rendering. */
#include "../test.h"

#include <stdlib.h>

#include "../../../src/http/accesslog.c"
#include "../../../src/http/clientip.c"
#include "../../../src/http/codec.c"
#include "../../../src/http/metrics.c"

/* ---- percent-decoding ---- */

static const char *dec(const char *s, int plus)
{
    static char out[256];
    return http_pct_decode(s, strlen(s), out, plus) < 0 ? NULL : out;
}

static void test_pct(void)
{
    CHECK_STR_EQ(dec("a%20b", 0), "a b", "escape decoded");
    CHECK_STR_EQ(dec("a+b", 1), "a b", "plus is space in queries");
    CHECK_STR_EQ(dec("a+b", 0), "a+b", "plus kept in paths");
    CHECK_STR_EQ(dec("%E4%B8%AD", 0), "\xe4\xb8\xad", "UTF-8 bytes");
    CHECK(dec("a%2", 0) == NULL, "truncated escape rejected");
    CHECK(dec("a%", 0) == NULL, "lone percent rejected");
    CHECK(dec("%zz", 0) == NULL, "non-hex escape rejected");
    CHECK(dec("a%00b", 0) == NULL, "encoded NUL rejected");

    h2o_mem_pool_t pool;
    h2o_mem_init_pool(&pool);
    const char *q = "limit=10&cursor=led_01%2B&empty=&flag&name=a+b&x%79z=1&bad=%G1&limit=20";
    size_t ql = strlen(q);
    CHECK_STR_EQ(http_query_get(&pool, q, ql, "limit"), "10", "first occurrence wins");
    CHECK_STR_EQ(http_query_get(&pool, q, ql, "cursor"), "led_01+", "value decoded");
    CHECK_STR_EQ(http_query_get(&pool, q, ql, "empty"), "", "empty value");
    CHECK_STR_EQ(http_query_get(&pool, q, ql, "flag"), "", "key without '='");
    CHECK_STR_EQ(http_query_get(&pool, q, ql, "name"), "a b", "plus as space");
    CHECK_STR_EQ(http_query_get(&pool, q, ql, "xyz"), "1", "encoded key matches");
    CHECK(http_query_get(&pool, q, ql, "bad") == NULL, "bad escape gives NULL");
    CHECK(http_query_get(&pool, q, ql, "missing") == NULL, "absent gives NULL");
    CHECK(http_query_get(&pool, "", 0, "a") == NULL, "empty query");
    h2o_mem_clear_pool(&pool);
}

/* ---- X-Forwarded-For ---- */

static int trusted(const char *ip)
{
    return strcmp(ip, "10.0.0.1") == 0 || strcmp(ip, "10.0.0.2") == 0 || strcmp(ip, "::1") == 0;
}

static const char *resolve(const char *peer, const char *h1, const char *h2)
{
    static char out[HTTP_IP_MAX];
    h2o_iovec_t x[2];
    size_t n = 0;
    if (h1)
        x[n++] = h2o_iovec_init(h1, strlen(h1));
    if (h2)
        x[n++] = h2o_iovec_init(h2, strlen(h2));
    http_clientip_resolve(peer, x, n, trusted, out);
    return out;
}

/* Regression: "limit=%zz" was treated as an absent limit and answered 200. */
static void test_query_valid(void)
{
    CHECK(http_query_valid("", 0), "empty query is valid");
    CHECK(http_query_valid("limit=20&cursor=led_1", 21), "plain query is valid");
    CHECK(http_query_valid("q=a%20b", 7), "escape is valid");
    CHECK(!http_query_valid("limit=%zz", 9), "bad hex digits are invalid");
    CHECK(!http_query_valid("limit=%2", 8), "truncated escape is invalid");
    CHECK(!http_query_valid("limit=%", 7), "lone percent is invalid");
    CHECK(!http_query_valid("a=%00", 5), "encoded NUL is invalid");
}

static void test_xff(void)
{
    CHECK_STR_EQ(resolve("203.0.113.9", "1.2.3.4", NULL), "203.0.113.9", "untrusted peer: header ignored");
    CHECK_STR_EQ(resolve("10.0.0.1", "1.2.3.4", NULL), "1.2.3.4", "trusted peer: its client");
    CHECK_STR_EQ(resolve("10.0.0.1", "6.6.6.6, 1.2.3.4, 10.0.0.2", NULL), "1.2.3.4",
                 "right-most untrusted hop, spoofed left part ignored");
    CHECK_STR_EQ(resolve("10.0.0.1", "6.6.6.6", "1.2.3.4, 10.0.0.2"), "1.2.3.4", "several header lines are one list");
    CHECK_STR_EQ(resolve("10.0.0.1", "10.0.0.2", NULL), "10.0.0.2", "all trusted: left-most");
    CHECK_STR_EQ(resolve("10.0.0.1", NULL, NULL), "10.0.0.1", "no header: the peer");
    CHECK_STR_EQ(resolve("10.0.0.1", "garbage, 1.2.3.4", NULL), "1.2.3.4", "garbage left of the client is not reached");
    CHECK_STR_EQ(resolve("10.0.0.1", "1.2.3.4, garbage", NULL), "10.0.0.1", "garbage stops at the last good address");
    CHECK_STR_EQ(resolve("10.0.0.1", " [2001:db8::1]:443 ", NULL), "2001:db8::1", "bracketed IPv6 with port");
    CHECK_STR_EQ(resolve("10.0.0.1", "1.2.3.4:5678", NULL), "1.2.3.4", "IPv4 with port");
    CHECK_STR_EQ(resolve("10.0.0.1", "::ffff:1.2.3.4", NULL), "1.2.3.4", "IPv4-mapped shown as IPv4");
    CHECK_STR_EQ(resolve("::1", "2001:DB8:0::2", NULL), "2001:db8::2", "IPv6 normalized");

    struct sockaddr_in6 s6 = {0};
    s6.sin6_family = AF_INET6;
    inet_pton(AF_INET6, "::ffff:127.0.0.1", &s6.sin6_addr);
    char out[HTTP_IP_MAX];
    CHECK(http_clientip_text((struct sockaddr *)&s6, out) == 0 && strcmp(out, "127.0.0.1") == 0,
          "mapped peer printed as IPv4 (%s)", out);
}

/* ---- access log ---- */

static void test_accesslog(void)
{
    struct http_accesslog l;
    http_accesslog_init(&l, -1);
    char line[HTTP_ACCESSLOG_LINE_MAX];
    struct http_accesslog_fields f = {
        .ts_ms = 1300819380123LL,
        .request_id = "req_01",
        .method = "GET",
        .method_len = 3,
        .path = "/a\"b\\c\n\x01\xff\xe4\xb8\xad",
        .path_len = 12,
        .route = NULL,
        .status = 404,
        .bytes_sent = 12,
        .duration_us = 345,
        .ip = "127.0.0.1",
        .user_id = NULL,
    };
    size_t n = http_accesslog_format(&l, line, &f);
    CHECK(n > 0 && line[n - 1] == '\n', "line ends with a newline");
    json_error_t e;
    json_t *j = json_loadb(line, n - 1, 0, &e);
    CHECK(j != NULL, "line is valid JSON (%s)", j ? "" : e.text);
    CHECK_STR_EQ(json_string_value(json_object_get(j, "ts")), "2011-03-22T18:43:00.123Z", "timestamp");
    CHECK_STR_EQ(json_string_value(json_object_get(j, "event")), "http", "event");
    CHECK_STR_EQ(json_string_value(json_object_get(j, "path")), "/a\"b\\c\n\x01\xef\xbf\xbd\xe4\xb8\xad",
                 "path escaped, invalid UTF-8 replaced by U+FFFD, valid kept");
    CHECK(json_is_null(json_object_get(j, "route")) && json_is_null(json_object_get(j, "user_id")), "nulls");
    CHECK(json_integer_value(json_object_get(j, "status")) == 404, "status is a number");
    CHECK(json_integer_value(json_object_get(j, "duration_us")) == 345, "duration");
    json_decref(j);

    /* an enormous path is cut, the line stays JSON and under the bound */
    char *big = malloc(5000);
    memset(big, '\x01', 5000);
    f.path = big;
    f.path_len = 5000;
    f.route = "/x";
    f.user_id = "usr_1";
    n = http_accesslog_format(&l, line, &f);
    CHECK(n < HTTP_ACCESSLOG_LINE_MAX, "long line bounded (%zu)", n);
    j = json_loadb(line, n - 1, JSON_ALLOW_NUL, &e);
    CHECK(j != NULL, "cut line is valid JSON");
    CHECK_STR_EQ(json_string_value(json_object_get(j, "user_id")), "usr_1", "user id");
    json_decref(j);
    free(big);

    /* batching: lines accumulate and flush as whole lines */
    int fds[2];
    CHECK(pipe(fds) == 0, "pipe");
    http_accesslog_init(&l, fds[1]);
    f.path = "/p";
    f.path_len = 2;
    for (int i = 0; i < 3; i++)
        http_accesslog_add(&l, &f);
    CHECK(l.len > 0, "lines buffered, not written");
    http_accesslog_flush(&l);
    char rd[4096];
    ssize_t got = read(fds[0], rd, sizeof rd);
    int lines = 0;
    for (ssize_t i = 0; i < got; i++)
        lines += rd[i] == '\n';
    CHECK(lines == 3 && l.len == 0, "flush writes the 3 lines at once");
    for (int i = 0; i < 40; i++)
        http_accesslog_add(&l, &f);
    close(fds[1]);
    static char all[65536];
    size_t total = 0;
    while ((got = read(fds[0], all + total, sizeof all - total)) > 0)
        total += (size_t)got;
    size_t nl = 0;
    for (size_t i = 0; i < total; i++)
        nl += all[i] == '\n';
    size_t buffered = 0;
    for (size_t i = 0; i < l.len; i++)
        buffered += l.buf[i] == '\n';
    CHECK(total > 0 && all[total - 1] == '\n' && nl + buffered == 40 && buffered > 0,
          "a full buffer is written as whole lines (%zu written, %zu buffered)", nl, buffered);
    close(fds[0]);
}

/* ---- metrics ---- */

static void test_metrics(void)
{
    char *labels[] = {"GET /api/v1/credits", "GET /we\"ird\\"};
    struct http_metrics m;
    http_metrics_init(&m, 2, labels, 2);
    http_metrics_observe(m.w[0], 0, 200, 300000);     /* 0.3 ms */
    http_metrics_observe(m.w[1], 0, 200, 2000000);    /* 2 ms */
    http_metrics_observe(m.w[1], 0, 429, 7000000000); /* 7 s: only +Inf */
    http_metrics_observe(m.w[0], 1, 500, 1000);
    http_metrics_observe(m.w[0], (size_t)-1, 404, 1000);
    http_metrics_inflight_add(m.w[0], 2);
    http_metrics_inflight_add(m.w[1], -1);
    struct sbuf b = {0};
    http_metrics_render_from(&m, &b);
    const char *t = b.data;
    CHECK(strstr(t, "tollgate_http_requests_total{route=\"GET /api/v1/credits\",status=\"200\"} 2\n") != NULL,
          "per-route status counter summed over workers");
    CHECK(strstr(t, "tollgate_http_requests_total{route=\"GET /api/v1/credits\",status=\"429\"} 1\n") != NULL,
          "429 counted");
    CHECK(strstr(t, "{route=\"unmatched\",status=\"404\"} 1\n") != NULL, "unmatched requests");
    CHECK(strstr(t, "route=\"GET /we\\\"ird\\\\\"") != NULL, "label value escaped");
    CHECK(strstr(t, "duration_seconds_bucket{route=\"GET /api/v1/credits\",le=\"0.0005\"} 1\n") != NULL,
          "first bucket");
    CHECK(strstr(t, "duration_seconds_bucket{route=\"GET /api/v1/credits\",le=\"0.0025\"} 2\n") != NULL,
          "buckets are cumulative");
    CHECK(strstr(t, "duration_seconds_bucket{route=\"GET /api/v1/credits\",le=\"5\"} 2\n") != NULL, "7 s not <= 5");
    CHECK(strstr(t, "duration_seconds_bucket{route=\"GET /api/v1/credits\",le=\"+Inf\"} 3\n") != NULL, "+Inf");
    CHECK(strstr(t, "duration_seconds_count{route=\"GET /api/v1/credits\"} 3\n") != NULL, "count");
    CHECK(strstr(t, "duration_seconds_sum{route=\"GET /api/v1/credits\"} 7.002300\n") != NULL, "sum in seconds");
    CHECK(strstr(t, "tollgate_http_requests_in_flight 1\n") != NULL, "in-flight gauge summed");
    CHECK(strstr(t, "# TYPE tollgate_http_request_duration_seconds histogram\n") != NULL, "TYPE line");
    /* every non-comment line is `name{labels} value` or `name value` */
    int ok = 1;
    for (const char *p = t; *p;) {
        const char *e = strchr(p, '\n');
        if (e == NULL) {
            ok = 0;
            break;
        }
        if (*p != '#') {
            const char *sp = memrchr(p, ' ', (size_t)(e - p));
            ok = ok && sp && strncmp(p, "tollgate_http_", 14) == 0 && sp[1] >= '0' && sp[1] <= '9';
        }
        p = e + 1;
    }
    CHECK(ok, "every sample line is well formed");
    sbuf_free(&b);
    http_metrics_free(&m);

    struct http_metrics empty = {0};
    struct sbuf e = {0};
    http_metrics_render_from(&empty, &e);
    CHECK(strstr(e.data, "tollgate_http_requests_in_flight 0\n") != NULL, "renders with no server");
    sbuf_free(&e);
}

/* ---- Accept-Encoding and If-None-Match (static.c) ---- */

/* 1 when the value lets gzip be sent, as static.c decides. */
static int gzip_ok(const char *v)
{
    int g = -1, st = -1;
    http_accept_encoding_scan(v, strlen(v), &g, &st);
    return g > 0 || (g < 0 && st > 0);
}

static void test_accept_encoding(void)
{
    int g = -1, st = -1;
    http_accept_encoding_scan("br;q=1.0, gzip;q=0.8, *;q=0.1", 29, &g, &st);
    CHECK(g == 800 && st == 100, "qvalues in thousandths (%d, %d)", g, st);
    g = st = -1;
    http_accept_encoding_scan("gzip;q=0.5", 4, &g, &st);
    CHECK(g == 1000, "only len bytes are read (\"gzip\" alone): %d", g);
    static const char *const yes[] = {"gzip", "GZip", "x-gzip", "deflate, gzip", "*", "gzip;q=0.001", " gzip ; q=1 ",
                                      "gzip;q=1.000", "identity;q=0.5, *", "gzip ;Q=0.5", ",,gzip,,", "gzip;level=9"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        CHECK(gzip_ok(yes[i]), "gzip allowed by \"%s\"", yes[i]);
    static const char *const no[] = {"", "identity", "br", "gzip;q=0", "gzip;q=0.0", "gzip;q=0.000", "*;q=0",
                                     "gzip;q=0, *", "gzip;q=0, gzip", "gzipx", "xgzip", "gzip;q=2", "gzip;q=1.5",
                                     "gzip;q=0.0001", "gzip;q=abc", "gzip;q=", "gzip;q", "gz ip", "*;q=0, br"};
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        CHECK(!gzip_ok(no[i]), "gzip not allowed by \"%s\"", no[i]);
    /* across lines: the first mention wins */
    g = st = -1;
    http_accept_encoding_scan("gzip;q=0", 8, &g, &st);
    http_accept_encoding_scan("gzip", 4, &g, &st);
    CHECK(g == 0, "a later line does not undo gzip;q=0");
}

static void test_etag_listed(void)
{
    const char *t = "\"abc\"";
    struct {
        const char *v;
        int want;
    } cases[] = {
        {"\"abc\"", 1}, {"W/\"abc\"", 1}, {"*", 1}, {"\"x\", \"abc\"", 1}, {"\"x\",\"abc\" , \"y\"", 1},
        {" \"abc\" ", 1}, {"\"x\", W/\"abc\"", 1},
        {"", 0}, {"\"ab\"", 0}, {"\"abcd\"", 0}, {"abc", 0}, {"\"abc\"x", 0}, {"\"abc", 0}, {"w/\"abc\"", 0},
        {"\"x\" \"abc\"", 0}, {"\"x\", abc", 0}, {"\"ABC\"", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        CHECK(http_etag_listed(cases[i].v, strlen(cases[i].v), t, strlen(t)) == cases[i].want,
              "If-None-Match: %s -> %d", cases[i].v, cases[i].want);
}

int main(void)
{
    test_pct();
    test_xff();
    test_accesslog();
    test_metrics();
    test_query_valid();
    test_accept_encoding();
    test_etag_listed();
    return test_done();
}
