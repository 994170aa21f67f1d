/*
 * test_net.c - the outbound client (src/net) against in-process peers (servers.c): a
 * scriptable HTTP/1.1 server, a TLS server nobody trusts, and an SMTP responder.
 *
 * Calls go through the asynchronous client as a loop would use it: a net_exec whose wake
 * signals a condition variable this thread waits on, then drains. The synchronous executor
 * (client NULL) is tested too, and the pure helpers (parse.c) directly.
 */
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sodium.h>

#include "../test.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "net/internal.h"
#include "servers.h"

/* ---- a loop stand-in: wake signals, the test thread drains ---- */

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int woken;
    int wakes;
} W = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};

static void test_wake(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&W.mu);
    W.woken = 1;
    W.wakes++;
    pthread_cond_signal(&W.cv);
    pthread_mutex_unlock(&W.mu);
}

/* A call in a caller's context, as net.h shows. */
struct tcall {
    struct net_call call;
    int done; /* times done() ran */
    int64_t done_ns;
    int order; /* completion rank */
};

static int completions;

static void tcall_done(struct net_call *c)
{
    struct tcall *t = (struct tcall *)c;
    t->done++;
    t->done_ns = time_mono_ns();
    t->order = ++completions;
}

/* Waits for wakes and drains ex until *count reaches target or timeout_ms passes. Returns 0
 * when reached. */
static int wait_for(struct net_exec *ex, const int *count, int target, int timeout_ms)
{
    int64_t deadline = time_mono_ns() + (int64_t)timeout_ms * 1000000;
    for (;;) {
        net_exec_drain(ex);
        if (*count >= target)
            return 0;
        if (time_mono_ns() > deadline)
            return -1;
        pthread_mutex_lock(&W.mu);
        if (!W.woken) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 50 * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&W.cv, &W.mu, &ts);
        }
        W.woken = 0;
        pthread_mutex_unlock(&W.mu);
    }
}

static struct net_client *client;
static struct net_exec ex;

static char *url(const char *path)
{
    return xasprintf("http://127.0.0.1:%d%s", srv_http_port(), path);
}

static void tcall_init(struct tcall *t, const char *method, const char *path)
{
    char *u = url(path);
    memset(t, 0, sizeof *t);
    net_call_init(&t->call, "test", method, u);
    free(u);
}

/* Submits t and waits for its completion (done exactly once). */
static void run(struct tcall *t)
{
    int before = completions;
    net_exec_submit(&ex, &t->call, tcall_done);
    if (wait_for(&ex, &completions, before + 1, 30000) != 0)
        printf("# timed out waiting for %s\n", t->call.url);
}

/* ---- pure helpers ---- */

static void test_parsers(void)
{
    const char *n, *v;
    size_t nl, vl;
    const char *l1 = "Content-Type:  application/json \t\r\n";
    CHECK(net_header_split(l1, strlen(l1), &n, &nl, &v, &vl) == 0 && nl == 12 &&
              memcmp(n, "Content-Type", 12) == 0 && vl == 16 && memcmp(v, "application/json", 16) == 0,
          "header line split: name, value trimmed");
    CHECK(net_header_split("X-Empty:\r\n", 10, &n, &nl, &v, &vl) == 0 && nl == 7 && vl == 0, "empty value");
    CHECK(net_header_split("HTTP/1.1 200 OK\r\n", 17, &n, &nl, &v, &vl) == -1, "status line is not a field");
    CHECK(net_header_split("\r\n", 2, &n, &nl, &v, &vl) == -1, "blank line is not a field");
    CHECK(net_header_split(" folded\r\n", 9, &n, &nl, &v, &vl) == -1, "obs-fold line refused");
    CHECK(net_header_split("Bad Name: x\r\n", 13, &n, &nl, &v, &vl) == -1, "space in a name refused");
    CHECK(net_header_split("A: b\rc\r\n", 8, &n, &nl, &v, &vl) == -1, "CR inside a value refused");
    CHECK(net_header_split(":x\r\n", 4, &n, &nl, &v, &vl) == -1, "empty name refused");

    uint64_t u;
    CHECK(net_parse_uint("1000", 4, 1000, &u) == 0 && u == 1000, "uint at the bound");
    CHECK(net_parse_uint("1001", 4, 1000, &u) == 1 && u == 1000, "uint over the bound");
    CHECK(net_parse_uint("99999999999999999999999", 23, UINT64_MAX, &u) == 1, "uint over 2^64");
    CHECK(net_parse_uint("18446744073709551615", 20, UINT64_MAX, &u) == 0 && u == UINT64_MAX, "uint 2^64-1");
    CHECK(net_parse_uint("", 0, 10, &u) == -1 && net_parse_uint("1a", 2, 10, &u) == -1 &&
              net_parse_uint("-1", 2, 10, &u) == -1 && net_parse_uint("+1", 2, 10, &u) == -1,
          "uint malformed");
    CHECK(net_parse_uint("7", 1, 5, &u) == 1 && u == 5, "uint small bound");

    int64_t d;
    CHECK(net_retry_after_ms(" 3 ", 3, 0, &d) == 0 && d == 3000, "Retry-After seconds");
    CHECK(net_retry_after_ms("0", 1, 0, &d) == 0 && d == 0, "Retry-After 0");
    CHECK(net_retry_after_ms("99999999999999999999", 20, 0, &d) == 0 && d == 86400LL * 1000,
          "Retry-After capped");
    const char *date = "Sun, 06 Nov 1994 08:49:37 GMT"; /* RFC 9110's example: 784111777 */
    CHECK(net_retry_after_ms(date, strlen(date), 784111777000LL - 5000, &d) == 0 && d == 5000,
          "Retry-After IMF-fixdate");
    const char *rfc850 = "Sunday, 06-Nov-94 08:49:37 GMT";
    CHECK(net_retry_after_ms(rfc850, strlen(rfc850), 784111777000LL - 2500, &d) == 0 && d == 2500,
          "Retry-After RFC 850 date");
    CHECK(net_retry_after_ms(date, strlen(date), 784111777000LL + 9000, &d) == 0 && d == 0,
          "Retry-After date in the past is 0");
    CHECK(net_retry_after_ms("soon", 4, 0, &d) == -1 && net_retry_after_ms("", 0, 0, &d) == -1 &&
              net_retry_after_ms("-5", 2, 0, &d) == -1,
          "Retry-After garbage refused");

    CHECK(net_host_is_loopback("127.0.0.1") && net_host_is_loopback("127.255.3.4") &&
              net_host_is_loopback("[::1]") && net_host_is_loopback("localhost") &&
              net_host_is_loopback("LocalHost"),
          "loopback hosts");
    CHECK(!net_host_is_loopback("128.0.0.1") && !net_host_is_loopback("[::2]") &&
              !net_host_is_loopback("mail.example.com") && !net_host_is_loopback("localhost.example.com") &&
              !net_host_is_loopback("0.0.0.0") && !net_host_is_loopback("192.0.2.2") &&
              !net_host_is_loopback("127.0.0.1.example.com") && !net_host_is_loopback("") &&
              !net_host_is_loopback("::1"),
          "non-loopback hosts");

    CHECK_INT_EQ(net_smtp_use_ssl("smtp", "mail.example.com"), CURLUSESSL_ALL,
                 "smtp:// remote: STARTTLS required");
    CHECK_INT_EQ(net_smtp_use_ssl("smtp", "10.0.0.1"), CURLUSESSL_ALL,
                 "smtp:// private address: STARTTLS required");
    CHECK_INT_EQ(net_smtp_use_ssl("smtp", "127.0.0.1"), CURLUSESSL_TRY,
                 "smtp:// loopback: STARTTLS when offered");
    CHECK_INT_EQ(net_smtp_use_ssl("smtp", "[::1]"), CURLUSESSL_TRY, "smtp:// ::1: STARTTLS when offered");
    CHECK_INT_EQ(net_smtp_use_ssl("smtp", "localhost"), CURLUSESSL_TRY,
                 "smtp:// localhost: STARTTLS when offered");
    CHECK_INT_EQ(net_smtp_use_ssl("smtps", "127.0.0.1"), CURLUSESSL_ALL, "smtps:// is always TLS");

    CHECK(net_backoff_ceiling_ms(1) == 200 && net_backoff_ceiling_ms(2) == 400 &&
              net_backoff_ceiling_ms(3) == 800 && net_backoff_ceiling_ms(5) == 3200 &&
              net_backoff_ceiling_ms(6) == 5000 && net_backoff_ceiling_ms(1000) == 5000,
          "backoff ceilings: 200 ms doubling, capped at 5 s");

    CHECK(net_err_from_curl(CURLE_OPERATION_TIMEDOUT, 0, 0, 0) == NET_TIMEOUT &&
              net_err_from_curl(CURLE_COULDNT_CONNECT, 0, 0, 0) == NET_CONNECT &&
              net_err_from_curl(CURLE_PEER_FAILED_VERIFICATION, 0, 0, 0) == NET_TLS &&
              net_err_from_curl(CURLE_USE_SSL_FAILED, 0, 1, 250) == NET_TLS &&
              net_err_from_curl(CURLE_WRITE_ERROR, 1, 0, 200) == NET_TOO_LARGE &&
              net_err_from_curl(CURLE_RECV_ERROR, 0, 1, 550) == NET_PROTOCOL &&
              net_err_from_curl(CURLE_UNSUPPORTED_PROTOCOL, 0, 0, 0) == NET_PROTOCOL &&
              net_err_from_curl(CURLE_URL_MALFORMAT, 0, 0, 0) == NET_ERROR,
          "libcurl results map to net errors");
}

/* ---- HTTP ---- */

static void test_get_ok(void)
{
    struct tcall t;
    tcall_init(&t, "GET", "/ok");
    run(&t);
    CHECK(t.done == 1 && t.call.err == NET_OK && t.call.status == 200, "GET /ok: 200");
    CHECK(t.call.resp_len == 5 && t.call.resp_body && strcmp(t.call.resp_body, "hello") == 0,
          "GET /ok: body");
    CHECK_STR_EQ(net_resp_header(&t.call, "x-test"), "yes", "response header by lower-case name");
    CHECK_STR_EQ(net_resp_header(&t.call, "content-length"), "5", "content-length kept");
    CHECK_STR_EQ(net_resp_header(&t.call, "x-empty"), "", "empty header value kept");
    CHECK(net_resp_header(&t.call, "X-Test") == NULL, "names are stored lower-case");
    CHECK(t.call.attempts == 1 && t.call.duration_ms >= 0 && t.call.duration_ms < 5000,
          "one attempt, duration");
    net_call_release(&t.call);
}

static void test_post_verbatim(void)
{
    static const char body[] = "{\"a\":1}\0binary\xff tail";
    struct tcall t;
    tcall_init(&t, "POST", "/echo?case=post");
    net_call_header(&t.call, "X-Custom", "value-1");
    net_call_header(&t.call, "Authorization", "Bearer abc.def");
    net_call_body(&t.call, "application/json", body, sizeof body - 1);
    CHECK(t.call.idempotent == 0 && t.call.retries == 2, "POST defaults: not idempotent");
    run(&t);
    CHECK(t.call.err == NET_OK && t.call.status == 200, "POST: 200");
    CHECK(t.call.resp_len == sizeof body - 1 && memcmp(t.call.resp_body, body, sizeof body - 1) == 0,
          "POST: the body arrived byte for byte (NUL and 0xff included)");
    struct srv_request *r = srv_last("/echo?case=post");
    CHECK(r != NULL && strcmp(r->method, "POST") == 0, "server saw POST");
    CHECK(r && strstr(r->head, "\r\nX-Custom: value-1\r\n") &&
              strstr(r->head, "\r\nAuthorization: Bearer abc.def\r\n") &&
              strstr(r->head, "\r\nContent-Type: application/json\r\n"),
          "request headers arrived verbatim");
    CHECK(r && strcasestr(r->head, "\r\nExpect:") == NULL, "no Expect: 100-continue");
    CHECK(r && strstr(r->head, "\r\nUser-Agent: tollgate/") != NULL, "User-Agent names tollgate");
    srv_request_free(r);
    net_call_release(&t.call);

    /* PUT with a body, DELETE without; an empty value removes a header libcurl adds */
    tcall_init(&t, "PUT", "/echo?case=put");
    net_call_header(&t.call, "Accept", "");
    net_call_body(&t.call, "text/plain", "put-body", 8);
    run(&t);
    r = srv_last("/echo?case=put");
    CHECK(t.call.err == NET_OK && r && strcmp(r->method, "PUT") == 0 && r->body_len == 8 &&
              memcmp(r->body, "put-body", 8) == 0,
          "PUT sends its body");
    CHECK(r && strcasestr(r->head, "\r\nAccept:") == NULL, "empty value removed the Accept header");
    srv_request_free(r);
    net_call_release(&t.call);
    tcall_init(&t, "DELETE", "/echo?case=delete");
    run(&t);
    r = srv_last("/echo?case=delete");
    CHECK(t.call.err == NET_OK && r && strcmp(r->method, "DELETE") == 0 && r->body_len == 0, "DELETE");
    srv_request_free(r);
    net_call_release(&t.call);
}

static void test_statuses_and_retries(void)
{
    struct tcall t;
    struct net_stats s0, s1;

    tcall_init(&t, "GET", "/status/404");
    run(&t);
    CHECK(t.call.err == NET_OK && t.call.status == 404 && t.call.attempts == 1 &&
              srv_hits("/status/404") == 1,
          "404 is an answer (NET_OK, status 404), never retried");
    CHECK(t.call.resp_body && strcmp(t.call.resp_body, "s") == 0, "404 body returned");
    net_call_release(&t.call);

    net_stats_get(&s0);
    tcall_init(&t, "GET", "/status/503");
    run(&t);
    CHECK(t.call.err == NET_OK && t.call.status == 503 && t.call.attempts == 3 &&
              srv_hits("/status/503") == 3,
          "503 on GET: retried twice (attempts == 3), the last answer returned");
    net_stats_get(&s1);
    CHECK(s1.retries - s0.retries == 2 && s1.http_5xx - s0.http_5xx == 1 && s1.calls - s0.calls == 1,
          "stats: one 5xx call, two retries");
    net_call_release(&t.call);

    tcall_init(&t, "POST", "/status/502");
    run(&t);
    CHECK(t.call.err == NET_OK && t.call.status == 502 && t.call.attempts == 1 &&
              srv_hits("/status/502") == 1,
          "502 on POST: not retried (not idempotent)");
    net_call_release(&t.call);

    tcall_init(&t, "POST", "/status/503?idem");
    t.call.idempotent = 1;
    t.call.retries = 1;
    run(&t);
    CHECK(t.call.attempts == 2 && srv_hits("/status/503?idem") == 2,
          "POST marked idempotent: retried `retries` times");
    net_call_release(&t.call);

    tcall_init(&t, "GET", "/status/429");
    t.call.retries = 0;
    run(&t);
    CHECK(t.call.status == 429 && t.call.attempts == 1, "retries = 0: one attempt");
    net_call_release(&t.call);

    tcall_init(&t, "GET", "/flaky/2/a");
    run(&t);
    CHECK(t.call.err == NET_OK && t.call.status == 200 && t.call.attempts == 3 &&
              strcmp(t.call.resp_body, "recovered") == 0,
          "two 503 then 200: the 200 after three attempts");
    CHECK(net_resp_header(&t.call, "content-length") &&
              strcmp(net_resp_header(&t.call, "content-length"), "9") == 0,
          "headers are the final attempt's");
    net_call_release(&t.call);

    tcall_init(&t, "GET", "/redirect");
    run(&t);
    CHECK(t.call.err == NET_OK && t.call.status == 302 && srv_hits("/ok") == 1,
          "3xx returned as is, not followed");
    CHECK(net_resp_header(&t.call, "location") != NULL, "Location header given to the caller");
    net_call_release(&t.call);
}

static void test_retry_after(void)
{
    struct tcall t;
    tcall_init(&t, "GET", "/retry-after/1/a");
    int64_t t0 = time_mono_ns();
    run(&t);
    int64_t ms = (time_mono_ns() - t0) / 1000000;
    CHECK(t.call.err == NET_OK && t.call.status == 200 && t.call.attempts == 2, "Retry-After: 1 then 200");
    CHECK(ms >= 990 && ms < 3000, "Retry-After: 1 waited about a second (%lld ms)", (long long)ms);
    CHECK(t.call.duration_ms >= 990, "duration includes the wait (%lld ms)", (long long)t.call.duration_ms);
    net_call_release(&t.call);

    tcall_init(&t, "GET", "/retry-after/31/a");
    t0 = time_mono_ns();
    run(&t);
    ms = (time_mono_ns() - t0) / 1000000;
    CHECK(t.call.status == 503 && t.call.attempts == 1 && ms < 1000,
          "Retry-After: 31 (over 30 s): no retry, the 503 returned at once");
    CHECK_STR_EQ(net_resp_header(&t.call, "retry-after"), "31", "Retry-After given to the caller");
    net_call_release(&t.call);

    tcall_init(&t, "GET", "/retry-date/2/a");
    t0 = time_mono_ns();
    run(&t);
    ms = (time_mono_ns() - t0) / 1000000;
    CHECK(t.call.status == 200 && t.call.attempts == 2, "Retry-After as an HTTP-date on a 429: retried");
    CHECK(ms >= 900 && ms < 4000, "HTTP-date 2 s ahead waited 1-2 s (%lld ms)", (long long)ms);
    net_call_release(&t.call);

    tcall_init(&t, "GET", "/retry-date/120/a");
    run(&t);
    CHECK(t.call.status == 429 && t.call.attempts == 1, "HTTP-date two minutes ahead: no retry");
    net_call_release(&t.call);
}

static void test_timeouts_and_failures(void)
{
    struct tcall t;
    tcall_init(&t, "GET", "/sleep/3000/t1");
    t.call.timeout_ms = 300;
    t.call.retries = 0;
    run(&t);
    CHECK(t.call.err == NET_TIMEOUT && t.call.attempts == 1, "slow answer: NET_TIMEOUT");
    CHECK(t.call.duration_ms >= 290 && t.call.duration_ms < 1300, "timed out after 300 ms + margin (%lld ms)",
          (long long)t.call.duration_ms);
    CHECK(t.call.resp_body == NULL, "no body on a timeout");
    net_call_release(&t.call);

    tcall_init(&t, "GET", "/sleep/3000/t2");
    t.call.timeout_ms = 200;
    run(&t);
    CHECK(t.call.err == NET_TIMEOUT && t.call.attempts == 3 && srv_hits("/sleep/3000/t2") == 3,
          "GET timeouts are retried (attempts == 3)");
    CHECK(t.call.duration_ms < 600 + 600 + 1500, "three timeouts + backoff stay bounded (%lld ms)",
          (long long)t.call.duration_ms);
    net_call_release(&t.call);

    /* a port nobody listens on */
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = 0;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    bind(fd, (struct sockaddr *)&sa, sizeof sa);
    getsockname(fd, (struct sockaddr *)&sa, &sl);
    port = ntohs(sa.sin_port);
    close(fd);
    char *u = xasprintf("http://127.0.0.1:%d/x", port);
    memset(&t, 0, sizeof t);
    net_call_init(&t.call, "test", "GET", u);
    run(&t);
    CHECK(t.call.err == NET_CONNECT && t.call.status == 0 && t.call.attempts == 3,
          "connection refused: NET_CONNECT after 3 attempts (GET)");
    net_call_release(&t.call);
    net_call_init(&t.call, "test", "POST", u);
    run(&t);
    CHECK(t.call.err == NET_CONNECT && t.call.attempts == 1, "connection refused: POST not retried");
    net_call_release(&t.call);
    free(u);

    tcall_init(&t, "GET", "/close/a");
    t.call.retries = 0;
    run(&t);
    CHECK(t.call.err == NET_CONNECT && t.call.attempts == 1, "closed without an answer: NET_CONNECT");
    net_call_release(&t.call);

    tcall_init(&t, "GET", "/garbage");
    t.call.retries = 0;
    run(&t);
    CHECK(t.call.err == NET_PROTOCOL && t.call.attempts == 1, "an answer that is not HTTP: NET_PROTOCOL (%s)",
          net_err_name(t.call.err));
    net_call_release(&t.call);

    tcall_init(&t, "GET", "/big/2000");
    t.call.max_response = 1000;
    run(&t);
    CHECK(t.call.err == NET_TOO_LARGE && t.call.resp_body == NULL && t.call.attempts == 1,
          "Content-Length over max_response: NET_TOO_LARGE, not retried");
    net_call_release(&t.call);
    tcall_init(&t, "GET", "/bigchunked/5000");
    t.call.max_response = 1000;
    run(&t);
    CHECK(t.call.err == NET_TOO_LARGE && t.call.resp_body == NULL,
          "chunked body over max_response: NET_TOO_LARGE");
    net_call_release(&t.call);
    tcall_init(&t, "GET", "/big/1000");
    t.call.max_response = 1000;
    run(&t);
    CHECK(t.call.err == NET_OK && t.call.resp_len == 1000, "a body of exactly max_response is accepted");
    net_call_release(&t.call);
    tcall_init(&t, "GET", "/bigchunked/1000");
    t.call.max_response = 1000;
    run(&t);
    CHECK(t.call.err == NET_OK && t.call.resp_len == 1000, "chunked body of exactly max_response accepted");
    net_call_release(&t.call);
    tcall_init(&t, "HEAD", "/big/5000");
    t.call.max_response = 1000;
    run(&t);
    CHECK(t.call.err == NET_OK && t.call.status == 200 && t.call.resp_len == 0,
          "HEAD: Content-Length is not a body");
    net_call_release(&t.call);

    tcall_init(&t, "GET", "/headers/100");
    run(&t);
    size_t bytes = 0;
    for (size_t i = 0; i < t.call.n_resp_headers; i++)
        bytes += strlen(t.call.resp_headers[i].name) + strlen(t.call.resp_headers[i].value);
    CHECK(t.call.err == NET_OK && t.call.n_resp_headers > 10 &&
              t.call.n_resp_headers <= NET_MAX_RESP_HEADERS && bytes <= NET_MAX_RESP_HEADER_BYTES,
          "response headers bounded (%zu kept, %zu bytes)", t.call.n_resp_headers, bytes);
    net_call_release(&t.call);
}

static void test_tls(void)
{
    struct tcall t;
    char *u = xasprintf("https://127.0.0.1:%d/ok", srv_tls_port());
    memset(&t, 0, sizeof t);
    net_call_init(&t.call, "test", "GET", u);
    free(u);
    run(&t);
    CHECK(t.call.err == NET_TLS && t.call.attempts == 1 && srv_tls_accepts() >= 1,
          "https to a self-signed server: NET_TLS (verification is on), not retried");
    net_call_release(&t.call);
}

static void test_policy(void)
{
    struct tcall t;
    const char *bad[] = {"file:///etc/passwd", "ftp://127.0.0.1/x", "gopher://127.0.0.1/x",
                         "dict://127.0.0.1/x", "not a url",         "http://"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&t, 0, sizeof t);
        net_call_init(&t.call, "test", "GET", bad[i]);
        run(&t);
        CHECK(t.done == 1 && t.call.err == NET_ERROR && t.call.attempts == 0,
              "refused URL %s: NET_ERROR, never sent", bad[i]);
        net_call_release(&t.call);
    }

    tcall_init(&t, "GET", "/ok?inject");
    net_call_header(&t.call, "X-A", "b\r\nX-Injected: 1");
    run(&t);
    CHECK(t.call.err == NET_ERROR && srv_hits("/ok?inject") == 0, "CR/LF in a header value: never sent");
    net_call_release(&t.call);

    tcall_init(&t, "GET", "/ok?inject2");
    net_call_header(&t.call, "X-A\r\nX-Injected", "1");
    run(&t);
    CHECK(t.call.err == NET_ERROR && srv_hits("/ok?inject2") == 0, "CR/LF in a header name: never sent");
    net_call_release(&t.call);

    tcall_init(&t, "get", "/ok?lower");
    run(&t);
    CHECK(t.call.err == NET_ERROR && srv_hits("/ok?lower") == 0, "a malformed method is refused");
    net_call_release(&t.call);
}

static void test_concurrent(void)
{
    enum { N = 200 };
    struct tcall *t = xcalloc(N, sizeof *t);
    int before = completions, ok = 0, once = 0;
    for (int i = 0; i < N; i++) {
        char p[64];
        snprintf(p, sizeof p, "/target?i=%d", i);
        tcall_init(&t[i], "GET", p);
        net_exec_submit(&ex, &t[i].call, tcall_done);
    }
    CHECK(ex.inflight == N, "200 calls in flight");
    CHECK(wait_for(&ex, &completions, before + N, 60000) == 0, "200 concurrent calls completed");
    /* anything late would be a second completion */
    struct timespec ts = {0, 100 * 1000 * 1000};
    nanosleep(&ts, NULL);
    net_exec_drain(&ex);
    for (int i = 0; i < N; i++) {
        char p[64];
        snprintf(p, sizeof p, "/target?i=%d", i);
        once += t[i].done == 1;
        ok += t[i].call.err == NET_OK && t[i].call.status == 200 && t[i].call.resp_body &&
              strcmp(t[i].call.resp_body, p) == 0;
        net_call_release(&t[i].call);
    }
    CHECK_INT_EQ(once, N, "each call done exactly once");
    CHECK_INT_EQ(ok, N, "each got its own answer");
    CHECK(ex.inflight == 0, "nothing left in flight");
    free(t);
}

static void test_nonblocking_submit(void)
{
    struct tcall slow, fast;
    tcall_init(&slow, "GET", "/sleep/1000/nb");
    tcall_init(&fast, "GET", "/ok?nb");
    int before = completions;
    int64_t t0 = time_mono_ns();
    net_exec_submit(&ex, &slow.call, tcall_done);
    int64_t us = (time_mono_ns() - t0) / 1000;
    net_exec_submit(&ex, &fast.call, tcall_done);
    CHECK(us < 50000 && slow.done == 0, "submit returned at once (%lld us) while the call is slow",
          (long long)us);
    wait_for(&ex, &completions, before + 2, 10000);
    CHECK(fast.done == 1 && slow.done == 1 && fast.order < slow.order,
          "a fast call submitted after a slow one completes first");
    CHECK(slow.call.err == NET_OK && (slow.done_ns - t0) / 1000000 >= 990, "the slow one took its second");
    net_call_release(&slow.call);
    net_call_release(&fast.call);
}

static void test_stop_in_flight(void)
{
    enum { N = 6 };
    char *err = NULL;
    struct net_client *cl = net_client_start(64, &err);
    struct net_exec ex2;
    struct tcall t[N + 3];
    net_exec_init(&ex2, cl, test_wake, NULL);
    /* running: slow answers; waiting: a retry 20 s away; queued: submitted just before stop */
    for (int i = 0; i < N; i++) {
        char p[64];
        snprintf(p, sizeof p, "/sleep/20000/stop%d", i);
        tcall_init(&t[i], "GET", p);
        net_exec_submit(&ex2, &t[i].call, tcall_done);
    }
    tcall_init(&t[N], "GET", "/retry-after/20/stop");
    net_exec_submit(&ex2, &t[N].call, tcall_done);
    for (int i = 0; i < 100 && (srv_hits("/retry-after/20/stop") < 1 || srv_hits("/sleep/20000/stop5") < 1);
         i++) {
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    tcall_init(&t[N + 1], "GET", "/sleep/20000/late1");
    tcall_init(&t[N + 2], "GET", "/sleep/20000/late2");
    net_exec_submit(&ex2, &t[N + 1].call, tcall_done);
    net_exec_submit(&ex2, &t[N + 2].call, tcall_done);
    int64_t t0 = time_mono_ns();
    net_client_stop(cl);
    int64_t ms = (time_mono_ns() - t0) / 1000000;
    net_exec_drain(&ex2);
    int once = 0, shut = 0;
    for (int i = 0; i < N + 3; i++) {
        once += t[i].done == 1;
        shut += t[i].call.err == NET_SHUTDOWN;
    }
    CHECK(ms < 2000, "stop with calls in flight is quick (%lld ms)", (long long)ms);
    CHECK_INT_EQ(once, N + 3, "running, waiting and just-queued calls: each done exactly once");
    CHECK_INT_EQ(shut, N + 3, "running, waiting and just-queued calls: NET_SHUTDOWN");
    CHECK(ex2.inflight == 0, "executor empty after stop");
    for (int i = 0; i < N + 3; i++)
        net_call_release(&t[i].call);
    net_exec_dispose(&ex2);

    /* max_inflight: the call past it completes at once, never sent */
    cl = net_client_start(2, &err);
    net_exec_init(&ex2, cl, test_wake, NULL);
    for (int i = 0; i < 3; i++) {
        char p[64];
        snprintf(p, sizeof p, "/sleep/20000/full%d", i);
        tcall_init(&t[i], "GET", p);
        net_exec_submit(&ex2, &t[i].call, tcall_done);
    }
    CHECK(t[2].done == 1 && t[2].call.err == NET_SHUTDOWN && t[0].done == 0 && t[1].done == 0,
          "past max_inflight: NET_SHUTDOWN before submit returns");
    CHECK(ex2.inflight == 2, "two still in flight");
    net_client_stop(cl);
    net_exec_drain(&ex2);
    CHECK(t[0].done == 1 && t[1].done == 1 && t[0].call.err == NET_SHUTDOWN, "stop completes the rest");
    CHECK(srv_hits("/sleep/20000/full2") == 0, "the refused call was never sent");
    for (int i = 0; i < 3; i++)
        net_call_release(&t[i].call);
    net_exec_dispose(&ex2);
}

/* ---- SMTP ---- */

static const char *MESSAGE = "From: Tollgate <from@example.com>\r\n"
                             "To: <to@example.org>\r\n"
                             "Subject: Your code\r\n"
                             "\r\n"
                             "Your code is 123456.\r\n"
                             ".a line that starts with a dot\r\n";

static void test_smtp(void)
{
    struct smtp_srv *s = smtp_start("127.0.0.1");
    struct tcall t;
    char *u = xasprintf("smtp://127.0.0.1:%d", smtp_port(s));
    memset(&t, 0, sizeof t);
    net_call_init(&t.call, "mail", "POST", u);
    net_call_mail(&t.call, "<from@example.com>", "<to@example.org>");
    net_call_body(&t.call, NULL, MESSAGE, strlen(MESSAGE));
    CHECK(t.call.idempotent == 0, "SMTP calls are not idempotent");
    t.call.idempotent = 1; /* even so: never retried */
    run(&t);
    CHECK(t.call.err == NET_OK && t.call.status == 250 && t.call.attempts == 1, "SMTP: delivered (250)");
    CHECK_STR_EQ(smtp_mail_from(s), "MAIL FROM:<from@example.com>", "envelope sender");
    CHECK_STR_EQ(smtp_rcpt(s), "RCPT TO:<to@example.org>", "envelope recipient");
    CHECK_STR_EQ(smtp_data(s), MESSAGE, "message delivered as given (dot-stuffing undone by the server)");
    net_call_release(&t.call);

    net_call_init(&t.call, "mail", "POST", u);
    net_call_mail(&t.call, "<from@example.com>", "<reject@example.org>");
    net_call_body(&t.call, NULL, MESSAGE, strlen(MESSAGE));
    t.call.idempotent = 1;
    int mails = smtp_commands(s);
    run(&t);
    CHECK(t.call.err == NET_PROTOCOL && t.call.status == 550 && t.call.attempts == 1,
          "SMTP refusal: NET_PROTOCOL with the reply code, not retried");
    CHECK_INT_EQ(smtp_commands(s) - mails, 1, "one MAIL FROM: no retry");
    net_call_release(&t.call);

    net_call_init(&t.call, "mail", "POST", u);
    net_call_body(&t.call, NULL, MESSAGE, strlen(MESSAGE));
    run(&t);
    CHECK(t.call.err == NET_ERROR && t.call.attempts == 0, "SMTP without an envelope: NET_ERROR");
    net_call_release(&t.call);

    net_call_init(&t.call, "mail", "POST", u);
    net_call_mail(&t.call, "<from@example.com>", "<to@example.org>\r\nRCPT TO:<other@example.org>");
    net_call_body(&t.call, NULL, MESSAGE, strlen(MESSAGE));
    run(&t);
    CHECK(t.call.err == NET_ERROR && t.call.attempts == 0, "CR/LF in an envelope address: never sent");
    net_call_release(&t.call);
    free(u);
    smtp_stop(s);

    /* smtp:// to a non-loopback address of this machine: STARTTLS is required, the
     * responder does not offer it, nothing is sent. */
    struct ifaddrs *ifs = NULL, *i;
    char addr[INET_ADDRSTRLEN] = "";
    if (getifaddrs(&ifs) == 0) {
        for (i = ifs; i != NULL; i = i->ifa_next)
            if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET) {
                const struct sockaddr_in *sin = (const struct sockaddr_in *)(const void *)i->ifa_addr;
                if ((ntohl(sin->sin_addr.s_addr) >> 24) != 127) {
                    inet_ntop(AF_INET, &sin->sin_addr, addr, sizeof addr);
                    break;
                }
            }
        freeifaddrs(ifs);
    }
    s = addr[0] ? smtp_start(addr) : NULL;
    if (s == NULL) {
        printf("ok %d - # SKIP no non-loopback IPv4 address to listen on\n", ++test_n_);
        return;
    }
    u = xasprintf("smtp://%s:%d", addr, smtp_port(s));
    net_call_init(&t.call, "mail", "POST", u);
    net_call_mail(&t.call, "<from@example.com>", "<to@example.org>");
    net_call_body(&t.call, NULL, MESSAGE, strlen(MESSAGE));
    run(&t);
    CHECK(t.call.err == NET_TLS && smtp_commands(s) == 0,
          "smtp:// to %s without STARTTLS: NET_TLS, no MAIL FROM sent", addr);
    net_call_release(&t.call);
    free(u);
    smtp_stop(s);
}

/* ---- bodies in files: net_call_save_to, net_call_body_file ---- */

/* Size of the file at path, or -1 when it does not exist. */
static long file_size(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return -1;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fclose(f);
    return n;
}

static void test_files(void)
{
    char dir[] = "/tmp/tg-net-files-XXXXXX";
    struct tcall t;
    if (mkdtemp(dir) == NULL)
        abort();
    char *out = xasprintf("%s/out", dir), *in = xasprintf("%s/in", dir);

    tcall_init(&t, "GET", "/big/300000");
    t.call.max_response = 1000000;
    net_call_save_to(&t.call, out);
    run(&t);
    CHECK(t.call.err == NET_OK && t.call.status == 200 && t.call.resp_body == NULL && t.call.resp_len == 300000,
          "save_to: a 2xx body goes to the file, not memory");
    CHECK(file_size(out) == 300000, "save_to: the file holds all of it");
    net_call_release(&t.call);

    tcall_init(&t, "GET", "/bigchunked/300000");
    t.call.max_response = 100000;
    net_call_save_to(&t.call, out);
    run(&t);
    CHECK(t.call.err == NET_TOO_LARGE && file_size(out) == -1,
          "save_to: max_response still holds (chunked), and the partial file is removed");
    net_call_release(&t.call);

    tcall_init(&t, "GET", "/big/300000?sized");
    t.call.max_response = 100000;
    net_call_save_to(&t.call, out);
    run(&t);
    CHECK(t.call.err == NET_TOO_LARGE && file_size(out) == -1, "save_to: an announced size over the cap too");
    net_call_release(&t.call);

    tcall_init(&t, "GET", "/status/404");
    net_call_save_to(&t.call, out);
    run(&t);
    CHECK(t.call.err == NET_OK && t.call.status == 404 && t.call.resp_body && strcmp(t.call.resp_body, "s") == 0 &&
              file_size(out) == -1,
          "save_to: a non-2xx answer's body comes in memory and no file is left");
    net_call_release(&t.call);

    tcall_init(&t, "GET", "/flaky/1/save");
    net_call_save_to(&t.call, out);
    run(&t);
    CHECK(t.call.err == NET_OK && t.call.status == 200 && t.call.attempts == 2 && file_size(out) == 9,
          "save_to: a retried call keeps the final answer only (\"recovered\")");
    net_call_release(&t.call);

    char *nodir = xasprintf("%s/missing/out", dir);
    tcall_init(&t, "GET", "/ok?nodir");
    net_call_save_to(&t.call, nodir);
    run(&t);
    CHECK(t.call.err == NET_ERROR, "save_to: a file that cannot be created fails the call");
    net_call_release(&t.call);
    free(nodir);
    unlink(out);

    /* body_file: PUT and POST stream the file with its Content-Length. */
    FILE *f = fopen(in, "wb");
    for (int i = 0; i < 200000; i++)
        fputc('a' + i % 26, f);
    fclose(f);
    tcall_init(&t, "PUT", "/echo?case=file");
    t.call.max_response = 1000000;
    net_call_body_file(&t.call, "video/mp4", in);
    run(&t);
    struct srv_request *r = srv_last("/echo?case=file");
    int same = r && r->body_len == 200000;
    for (int i = 0; same && i < 200000; i++)
        same = r->body[i] == 'a' + i % 26;
    CHECK(t.call.err == NET_OK && t.call.status == 200 && same && strcmp(r->method, "PUT") == 0,
          "body_file: PUT sends the file's bytes");
    CHECK(r && strstr(r->head, "\r\nContent-Length: 200000\r\n") && strstr(r->head, "\r\nContent-Type: video/mp4\r\n") &&
              strcasestr(r->head, "\r\nExpect:") == NULL && strcasestr(r->head, "chunked") == NULL,
          "body_file: Content-Length and Content-Type, no chunking, no Expect");
    srv_request_free(r);
    net_call_release(&t.call);

    tcall_init(&t, "POST", "/echo?case=filepost");
    t.call.max_response = 1000000;
    net_call_body_file(&t.call, NULL, in);
    run(&t);
    r = srv_last("/echo?case=filepost");
    CHECK(t.call.err == NET_OK && r && strcmp(r->method, "POST") == 0 && r->body_len == 200000,
          "body_file: POST too");
    srv_request_free(r);
    net_call_release(&t.call);

    tcall_init(&t, "PUT", "/flaky/1/bodyfile");
    t.call.idempotent = 1;
    net_call_body_file(&t.call, NULL, in);
    run(&t);
    r = srv_last("/flaky/1/bodyfile");
    CHECK(t.call.err == NET_OK && t.call.status == 200 && t.call.attempts == 2 && r && r->body_len == 200000 &&
              r->body[0] == 'a',
          "body_file: a retry sends the whole file again from its start");
    srv_request_free(r);
    net_call_release(&t.call);

    char *missing = xasprintf("%s/none", dir);
    tcall_init(&t, "PUT", "/echo?case=missing");
    net_call_body_file(&t.call, NULL, missing);
    run(&t);
    CHECK(t.call.err == NET_ERROR && srv_hits("/echo?case=missing") == 0,
          "body_file: a missing file fails the call unsent");
    net_call_release(&t.call);
    free(missing);

    /* The synchronous executor behaves the same. */
    struct net_exec sx;
    net_exec_init(&sx, NULL, NULL, NULL);
    tcall_init(&t, "GET", "/big/1234?sync");
    net_call_save_to(&t.call, out);
    net_exec_submit(&sx, &t.call, tcall_done);
    CHECK(t.done == 1 && t.call.err == NET_OK && file_size(out) == 1234, "save_to on the synchronous executor");
    net_call_release(&t.call);
    net_exec_dispose(&sx);

    unlink(out);
    unlink(in);
    rmdir(dir);
    free(out);
    free(in);
}

/* ---- the synchronous executor ---- */

static void test_sync(void)
{
    struct net_exec sx;
    struct tcall t;
    net_exec_init(&sx, NULL, NULL, NULL);
    tcall_init(&t, "GET", "/ok?sync");
    net_exec_submit(&sx, &t.call, tcall_done);
    CHECK(t.done == 1 && t.call.err == NET_OK && t.call.status == 200 &&
              strcmp(t.call.resp_body, "hello") == 0,
          "sync executor: done() ran before submit returned");
    CHECK_STR_EQ(net_resp_header(&t.call, "x-test"), "yes", "sync executor: headers");
    net_call_release(&t.call);
    tcall_init(&t, "GET", "/flaky/2/sync");
    net_exec_submit(&sx, &t.call, tcall_done);
    CHECK(t.done == 1 && t.call.status == 200 && t.call.attempts == 3, "sync executor retries too");
    net_call_release(&t.call);
    tcall_init(&t, "GET", "/sleep/2000/sync");
    t.call.timeout_ms = 200;
    t.call.retries = 0;
    net_exec_submit(&sx, &t.call, tcall_done);
    CHECK(t.done == 1 && t.call.err == NET_TIMEOUT, "sync executor: timeout");
    net_call_release(&t.call);
    CHECK(sx.inflight == 0, "sync executor: nothing in flight");
    net_exec_dispose(&sx);
}

/* ---- the log line ---- */

struct capture {
    int saved_fd, rd;
    pthread_t reader;
    struct sbuf out;
};

static void *capture_drain(void *arg)
{
    struct capture *c = arg;
    char buf[4096];
    ssize_t n;
    while ((n = read(c->rd, buf, sizeof buf)) > 0)
        sbuf_append(&c->out, buf, (size_t)n);
    return NULL;
}

/* stderr (where log.c writes) into a pipe drained by a thread. */
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

static char *capture_end(struct capture *c)
{
    dup2(c->saved_fd, 2);
    close(c->saved_fd);
    pthread_join(c->reader, NULL);
    close(c->rd);
    return c->out.data;
}

static void test_log_has_no_secrets(void)
{
    struct capture cap;
    struct tcall t;
    char *u =
        xasprintf("http://user:SECRETPW@127.0.0.1:%d/logpath/x?token=SECRETQ&x=1#SECRETF", srv_http_port());
    capture_begin(&cap);
    memset(&t, 0, sizeof t);
    net_call_init(&t.call, "logtest", "POST", u);
    net_call_header(&t.call, "Authorization", "Bearer SECRETH");
    net_call_header(&t.call, "X-Api-Key", "SECRETK");
    net_call_body(&t.call, "application/json", "{\"password\":\"SECRETB\"}", 23);
    run(&t);
    struct net_call ok = t.call;
    memset(&t, 0, sizeof t);
    net_call_init(&t.call, "logtest", "GET", "http://127.0.0.1:1/fail?key=SECRETQ2");
    net_call_header(&t.call, "Authorization", "Bearer SECRETH2");
    t.call.retries = 0;
    run(&t);
    char *out = capture_end(&cap);
    CHECK(ok.err == NET_OK && ok.status == 404, "logged call answered");
    const char *line = strstr(out, "\"provider\":\"logtest\",\"method\":\"POST\"");
    CHECK(line != NULL, "one net_call line with provider and method");
    CHECK(strstr(out, "\"event\":\"net_call\"") && strstr(out, "\"host\":\"127.0.0.1\"") &&
              strstr(out, "\"path\":\"/logpath/x\"") && strstr(out, "\"status\":\"404\"") &&
              strstr(out, "\"attempts\":\"1\"") && strstr(out, "\"duration_ms\":\""),
          "host, path without query, status, attempts and duration are logged");
    CHECK(strstr(out, "\"level\":\"warn\"") && strstr(out, "\"error\":\"connect\"") &&
              strstr(out, "\"path\":\"/fail\""),
          "a failed call logs at warn with its error name");
    const char *secrets[] = {"SECRETPW", "SECRETQ", "SECRETF", "SECRETH", "SECRETK",
                             "SECRETB",  "token=",  "user:",   "Bearer",  "password"};
    int clean = 1;
    for (size_t i = 0; i < sizeof secrets / sizeof secrets[0]; i++)
        if (strstr(out, secrets[i]) != NULL) {
            printf("#   leaked: %s\n", secrets[i]);
            clean = 0;
        }
    CHECK(clean, "no query string, fragment, userinfo, header value or body in the log");
    size_t lines = 0;
    for (const char *p = out; *p; p++)
        lines += *p == '\n';
    CHECK_INT_EQ(lines, 2, "exactly one line per call");
    free(out);
    net_call_release(&ok);
    net_call_release(&t.call);
    free(u);
}

int main(void)
{
    char *err = NULL;
    /* The peers are on loopback: a proxy from the environment must not be in the way. */
    unsetenv("http_proxy");
    unsetenv("https_proxy");
    unsetenv("HTTPS_PROXY");
    unsetenv("all_proxy");
    unsetenv("ALL_PROXY");
    if (sodium_init() < 0 || net_global_init() != 0 || srv_http_start(1) != 0) {
        printf("Bail out! cannot start libcurl or the test servers\n");
        return 1;
    }
    client = net_client_start(1024, &err);
    if (client == NULL) {
        printf("Bail out! %s\n", err);
        return 1;
    }
    net_exec_init(&ex, client, test_wake, NULL);

    test_parsers();
    test_get_ok();
    test_post_verbatim();
    test_statuses_and_retries();
    test_retry_after();
    test_timeouts_and_failures();
    test_tls();
    test_policy();
    test_concurrent();
    test_nonblocking_submit();
    test_log_has_no_secrets();
    test_smtp();
    test_stop_in_flight();
    test_sync();
    test_files();

    CHECK(ex.inflight == 0, "main executor empty at the end");
    CHECK(W.wakes > 0, "completions arrived through wake()");
    net_client_stop(client);
    net_exec_dispose(&ex);
    srv_http_stop();
    net_global_cleanup();
    return test_done();
}
