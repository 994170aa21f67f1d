/* Unit tests for src/http/clientip.c: who the client is behind trusted proxies, over every
 * X-Forwarded-For line of a request (http_clientip_from_headers), and the last line of a
 * header a trusted proxy sets (http_header_last, behind req_trusted_header). */
#include "../test.h"

#include <stdlib.h>

#include "../../../src/http/clientip.c"

/* The test's TG_TRUSTED_PROXIES: 10.0.0.0/8, 127.0.0.1 and ::1, with a call counter so that
 * the bound on work can be checked. */
static size_t trusted_calls;

static int trusted(const char *ip)
{
    trusted_calls++;
    return strncmp(ip, "10.", 3) == 0 || strcmp(ip, "127.0.0.1") == 0 || strcmp(ip, "::1") == 0;
}

struct hdrs {
    h2o_mem_pool_t pool;
    h2o_headers_t h;
};

static void hdrs_init(struct hdrs *x)
{
    h2o_mem_init_pool(&x->pool);
    memset(&x->h, 0, sizeof x->h);
}

static void hdrs_xff(struct hdrs *x, const char *v)
{
    h2o_add_header(&x->pool, &x->h, H2O_TOKEN_X_FORWARDED_FOR, NULL, v, strlen(v));
}

static void hdrs_other(struct hdrs *x, const char *v)
{
    h2o_add_header(&x->pool, &x->h, H2O_TOKEN_USER_AGENT, NULL, v, strlen(v));
}

/* Resolves, and checks that http_clientip_resolve over the same lines agrees. */
static const char *resolve(struct hdrs *x, const char *peer)
{
    static char out[HTTP_IP_MAX];
    char again[HTTP_IP_MAX];
    h2o_iovec_t *lines = calloc(x->h.size ? x->h.size : 1, sizeof *lines);
    size_t n = 0;
    if (lines == NULL)
        abort();
    for (size_t i = 0; i < x->h.size; i++)
        if (x->h.entries[i].name == &H2O_TOKEN_X_FORWARDED_FOR->buf)
            lines[n++] = x->h.entries[i].value;
    http_clientip_resolve(peer, lines, n, trusted, again);
    free(lines);
    trusted_calls = 0;
    http_clientip_from_headers(peer, &x->h, trusted, out);
    if (strcmp(out, again) != 0)
        printf("# http_clientip_resolve disagrees: %s vs %s\n", again, out);
    return strcmp(out, again) == 0 ? out : "(disagreement)";
}

/* One request: lines separated by '|' (each one X-Forwarded-For header line). */
static const char *one(const char *peer, const char *lines)
{
    static char out[HTTP_IP_MAX];
    struct hdrs x;
    char buf[512];
    hdrs_init(&x);
    snprintf(buf, sizeof buf, "%s", lines);
    for (char *s = buf, *bar;; s = bar + 1) {
        bar = strchr(s, '|');
        if (bar)
            *bar = '\0';
        hdrs_xff(&x, s);
        if (bar == NULL)
            break;
    }
    snprintf(out, sizeof out, "%s", resolve(&x, peer));
    h2o_mem_clear_pool(&x.pool);
    return out;
}

/*
 * Regression: req_client_ip collected only the first 16 X-Forwarded-For lines, so a client
 * behind a trusted proxy that sent 16 lines of its own pushed the line the proxy appended out
 * of view and chose its address. Every case: n_client lines from the client (spoof), then the
 * proxy's line; the answer must be the proxy's client however many lines came before.
 */
static void test_many_lines(void)
{
    static const size_t counts[] = {15, 16, 17, 40, 200};
    static const char *spoofs[] = {"6.6.6.6", "10.0.0.9", "1.1.1.1, 2.2.2.2", "garbage", "", "::1"};
    for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
        for (size_t s = 0; s < sizeof spoofs / sizeof spoofs[0]; s++) {
            struct hdrs x;
            hdrs_init(&x);
            for (size_t i = 0; i < counts[c]; i++) {
                hdrs_xff(&x, spoofs[s]);
                if (i % 7 == 3)
                    hdrs_other(&x, "curl/8.0");
            }
            hdrs_xff(&x, "203.0.113.7");
            CHECK_STR_EQ(resolve(&x, "127.0.0.1"), "203.0.113.7",
                         "%zu client lines of '%s' then the proxy's line: the proxy's client", counts[c] + 1,
                         spoofs[s]);
            CHECK(trusted_calls <= 2, "stops at the first untrusted entry (%zu trust checks)", trusted_calls);
            h2o_mem_clear_pool(&x.pool);
        }
    }

    /* Two proxies, each appending its own line: nginx -> 10.0.0.2 -> us. */
    struct hdrs x;
    hdrs_init(&x);
    for (size_t i = 0; i < 40; i++)
        hdrs_xff(&x, "6.6.6.6, 7.7.7.7");
    hdrs_xff(&x, "198.51.100.4");
    hdrs_xff(&x, "10.0.0.2");
    CHECK_STR_EQ(resolve(&x, "127.0.0.1"), "198.51.100.4", "41 + 1 lines through two proxies");
    h2o_mem_clear_pool(&x.pool);
}

static void test_lists(void)
{
    CHECK_STR_EQ(one("127.0.0.1", "6.6.6.6, 203.0.113.7, 10.0.0.2"), "203.0.113.7",
                 "comma list: right-most untrusted after a trusted hop");
    CHECK_STR_EQ(one("127.0.0.1", "6.6.6.6,203.0.113.7"), "203.0.113.7", "comma without space");
    CHECK_STR_EQ(one("127.0.0.1", " \t203.0.113.7 \t"), "203.0.113.7", "blanks around an entry");
    CHECK_STR_EQ(one("127.0.0.1", "6.6.6.6 ,\t203.0.113.7\t,  10.0.0.2 "), "203.0.113.7",
                 "blanks around commas");
    CHECK_STR_EQ(one("127.0.0.1", "1.2.3.4|10.0.0.2"), "1.2.3.4", "lines are one list, last line first");
    CHECK_STR_EQ(one("127.0.0.1", "1.2.3.4, 10.0.0.3|10.0.0.2"), "1.2.3.4", "across lines and commas");
    CHECK_STR_EQ(one("203.0.113.9", "1.2.3.4"), "203.0.113.9", "untrusted peer: header ignored");
    CHECK_STR_EQ(one("203.0.113.9", "garbage|"), "203.0.113.9", "untrusted peer: garbage ignored");

    struct hdrs x;
    hdrs_init(&x);
    hdrs_other(&x, "1.2.3.4");
    CHECK_STR_EQ(resolve(&x, "127.0.0.1"), "127.0.0.1", "no X-Forwarded-For: the peer");
    h2o_mem_clear_pool(&x.pool);
}

static void test_ipv6(void)
{
    CHECK_STR_EQ(one("::1", "2001:DB8:0::7"), "2001:db8::7", "IPv6 normalized");
    CHECK_STR_EQ(one("::1", "[2001:db8::7]:443"), "2001:db8::7", "bracketed IPv6 with port");
    CHECK_STR_EQ(one("::1", " [2001:db8::7] "), "2001:db8::7", "bracketed IPv6 without port");
    CHECK_STR_EQ(one("::1", "::ffff:203.0.113.7"), "203.0.113.7", "IPv4-mapped shown as IPv4");
    CHECK_STR_EQ(one("::1", "[::ffff:10.0.0.2], 2001:db8::7"), "2001:db8::7", "mixed families");
    CHECK_STR_EQ(one("::1", "2001:db8::7, ::ffff:10.0.0.2"), "2001:db8::7",
                 "IPv4-mapped trusted hop is the trusted IPv4 address");
    CHECK_STR_EQ(one("127.0.0.1", "203.0.113.7:5678"), "203.0.113.7", "IPv4 with port");
}

static void test_malformed(void)
{
    CHECK_STR_EQ(one("127.0.0.1", "1.2.3.4, garbage"), "127.0.0.1",
                 "garbage right after the peer: the peer (last address reached)");
    CHECK_STR_EQ(one("127.0.0.1", "1.2.3.4, garbage, 10.0.0.2"), "10.0.0.2",
                 "garbage after a trusted hop: that hop");
    CHECK_STR_EQ(one("127.0.0.1", "garbage, 203.0.113.7"), "203.0.113.7",
                 "garbage left of the client not reached");
    CHECK_STR_EQ(one("127.0.0.1", "garbage|10.0.0.2"), "10.0.0.2", "garbage line before a trusted line");
    CHECK_STR_EQ(one("127.0.0.1", "1.2.3.4|"), "127.0.0.1", "an empty last line stops the walk");
    CHECK_STR_EQ(one("127.0.0.1", "1.2.3.4,"), "127.0.0.1", "a trailing comma is an empty entry");
    CHECK_STR_EQ(one("127.0.0.1", "1.2.3.4,,10.0.0.2"), "10.0.0.2", "an empty entry in the middle");
    CHECK_STR_EQ(one("127.0.0.1", "999.1.1.1"), "127.0.0.1", "octet out of range");
    CHECK_STR_EQ(one("127.0.0.1", "1.2.3.4 5.6.7.8"), "127.0.0.1", "space-separated list is one bad entry");
    CHECK_STR_EQ(one("127.0.0.1", "[2001:db8::7"), "127.0.0.1", "unclosed bracket");
    CHECK_STR_EQ(one("127.0.0.1", "2001:db8::7:443x"), "127.0.0.1", "IPv6 with junk");
    CHECK_STR_EQ(one("127.0.0.1", "unknown"), "127.0.0.1", "RFC 7239 'unknown' is not an address");
    CHECK_STR_EQ(one("127.0.0.1", "1111:2222:3333:4444:5555:6666:7777:8888:9999:aaaa:bbbb:cccc:dddd:eeee"),
                 "127.0.0.1", "entry longer than any address");
    CHECK_STR_EQ(one("127.0.0.1", "1.2.3.4\r\n"), "127.0.0.1", "control characters");
}

static void test_all_trusted(void)
{
    CHECK_STR_EQ(one("127.0.0.1", "10.0.0.3, 10.0.0.2"), "10.0.0.3", "all trusted: the left-most");
    CHECK_STR_EQ(one("127.0.0.1", "10.0.0.4|10.0.0.3, 10.0.0.2"), "10.0.0.4", "all trusted across lines");

    /* 200 lines of trusted addresses: the walk stops after HTTP_XFF_MAX_HOPS of them. */
    struct hdrs x;
    char v[32];
    hdrs_init(&x);
    for (int i = 0; i < 200; i++) {
        snprintf(v, sizeof v, "10.0.%d.%d", i / 256, i % 256);
        hdrs_xff(&x, v);
    }
    snprintf(v, sizeof v, "10.0.0.%d", 200 - HTTP_XFF_MAX_HOPS);
    CHECK_STR_EQ(resolve(&x, "127.0.0.1"), v, "200 trusted lines: the left-most of the %d examined",
                 HTTP_XFF_MAX_HOPS);
    CHECK(trusted_calls <= HTTP_XFF_MAX_HOPS + 1, "bounded: %zu trust checks", trusted_calls);
    h2o_mem_clear_pool(&x.pool);

    /* One huge line of trusted entries (what h2o lets through is ~400 KiB of headers). */
    struct sbuf big = {0};
    for (int i = 0; i < 20000; i++)
        sbuf_printf(&big, "%s10.1.%d.%d", i ? "," : "", i / 256, i % 256);
    hdrs_init(&x);
    hdrs_xff(&x, big.data);
    snprintf(v, sizeof v, "10.1.%d.%d", (20000 - HTTP_XFF_MAX_HOPS) / 256, (20000 - HTTP_XFF_MAX_HOPS) % 256);
    CHECK_STR_EQ(resolve(&x, "127.0.0.1"), v, "20000 trusted entries in one line: bounded walk");
    CHECK(trusted_calls <= HTTP_XFF_MAX_HOPS + 1, "bounded: %zu trust checks", trusted_calls);
    h2o_mem_clear_pool(&x.pool);
    sbuf_free(&big);

    /* The same bound does not hide an untrusted client: it is always examined first. */
    hdrs_init(&x);
    for (int i = 0; i < 200; i++)
        hdrs_xff(&x, "10.0.0.5, 10.0.0.6");
    hdrs_xff(&x, "203.0.113.7, 10.0.0.2");
    CHECK_STR_EQ(resolve(&x, "127.0.0.1"), "203.0.113.7", "client behind one more trusted hop, 201 lines");
    h2o_mem_clear_pool(&x.pool);
}

/* X-User-Region is no h2o token: found by name, case-insensitively as h2o keeps names,
 * the last line of several, and a token header by its token. */
static void test_header_last(void)
{
    struct hdrs x;
    hdrs_init(&x);
    CHECK(http_header_last(&x.h, &x.pool, "x-user-region") == NULL, "no header: NULL");
    h2o_add_header_by_str(&x.pool, &x.h, H2O_STRLIT("X-User-Region"), 0, NULL, H2O_STRLIT("GLOBAL"));
    hdrs_other(&x, "agent/1");
    CHECK_STR_EQ(http_header_last(&x.h, &x.pool, "x-user-region"), "GLOBAL", "one line");
    h2o_add_header_by_str(&x.pool, &x.h, H2O_STRLIT("x-user-region"), 0, NULL, H2O_STRLIT("HK"));
    h2o_add_header_by_str(&x.pool, &x.h, H2O_STRLIT("X-USER-REGION"), 0, NULL, H2O_STRLIT("CN"));
    hdrs_xff(&x, "1.2.3.4");
    CHECK_STR_EQ(http_header_last(&x.h, &x.pool, "x-user-region"), "CN", "the last of three lines, any case");
    CHECK_STR_EQ(http_header_last(&x.h, &x.pool, "user-agent"), "agent/1", "a token header");
    CHECK(http_header_last(&x.h, &x.pool, "x-user-regio") == NULL, "a prefix of the name is another name");
    h2o_add_header_by_str(&x.pool, &x.h, H2O_STRLIT("x-user-region"), 0, NULL, H2O_STRLIT(""));
    CHECK_STR_EQ(http_header_last(&x.h, &x.pool, "x-user-region"), "", "an empty last line is empty, not skipped");
    h2o_mem_clear_pool(&x.pool);
}

int main(void)
{
    test_header_last();
    test_many_lines();
    test_lists();
    test_ipv6();
    test_malformed();
    test_all_trusted();
    return test_done();
}
