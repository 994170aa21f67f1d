/* Unit tests for src/http/framing.c: which request heads have ambiguous body framing, and a
 * differential check that the framing scanner sees the same header lines as
 * picohttpparser, the parser libh2o used on the same bytes. */
#include "../test.h"

#include <stdlib.h>

#include "../../../src/http/framing.c"

/*
 * picohttpparser as built into libh2o-evloop (exported, but Debian ships no header for it);
 * the declaration is copied from deps/picohttpparser/picohttpparser.h of h2o 2.2.5.
 */
struct phr_header {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
};
int phr_parse_request(const char *buf, size_t len, const char **method, size_t *method_len, const char **path,
                      size_t *path_len, int *minor_version, struct phr_header *headers, size_t *num_headers,
                      size_t last_len);

/* http_framing_check on a NUL-terminated head whose method is the first word. */
static int check(const char *head)
{
    size_t mlen = strcspn(head + strspn(head, "\r\n"), " ");
    return http_framing_check(head, strlen(head), head + strspn(head, "\r\n"), mlen,
                              strstr(head, "HTTP/1.0\r") != NULL || strstr(head, "HTTP/1.0\n") != NULL);
}

static void test_accepted(void)
{
    CHECK(check("GET / HTTP/1.1\r\nHost: x\r\n\r\n") == 1, "no body headers");
    CHECK(check("POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello") == 1, "one Content-Length");
    CHECK(check("POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n") == 1,
          "one Transfer-Encoding");
    CHECK(check("POST /a HTTP/1.0\r\nContent-Length: 5\r\n\r\nhello") == 1, "HTTP/1.0 with Content-Length");
    CHECK(check("GET / HTTP/1.1\nHost: x\nContent-Length: 0\n\n") == 1, "bare LF line ends");
    CHECK(check("\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n") == 1, "one empty line before the request line");
    CHECK(
        check("GET / HTTP/1.1\r\nX-Content-Length: 1\r\nContent-Length-X: 2\r\nContent-Length: 3\r\n\r\n") ==
            1,
        "names that only contain content-length are other headers");
    CHECK(check("POST /a HTTP/1.1\r\nContent-Length: 9\r\n\r\nContent-Length: 4\r\n\r\n") == 1,
          "what follows the head is not looked at");
    CHECK(check("GET / HTTP/1.1\r\nX-A: a\tb\r\n\r\n") == 1, "a tab inside a value is not a fold");
}

static void test_refused(void)
{
    CHECK(check("POST /a HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 40\r\n\r\n") == 0,
          "two different Content-Length headers");
    CHECK(check("POST /a HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n") == 0,
          "two equal Content-Length headers");
    CHECK(check("POST /a HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n") == 0,
          "Content-Length then Transfer-Encoding");
    CHECK(check("POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n") == 0,
          "Transfer-Encoding then Content-Length");
    CHECK(check("POST /a HTTP/1.1\r\ncOnTeNt-LeNgTh: 5\r\nTRANSFER-ENCODING: chunked\r\n\r\n") == 0,
          "names in any case");
    CHECK(check("POST /a HTTP/1.1\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n") == 0,
          "two Transfer-Encoding headers (h2o keeps the last)");
    CHECK(check("POST /a HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n") == 0,
          "Transfer-Encoding in HTTP/1.0");
    CHECK(check("POST /a HTTP/1.1\r\nContent-Length: 5\r\n 6\r\n\r\n") == 0, "obs-fold after Content-Length");
    CHECK(check("POST /a HTTP/1.1\r\nX-A: b\r\n\tContent-Length: 5\r\n\r\n") == 0, "a folded Content-Length");
    CHECK(check("GET / HTTP/1.1\r\nX-A: b\r\n c\r\n\r\n") == 0, "any obs-fold");
    CHECK(check("GET / HTTP/1.1\r\nHost: x\r\n") == 0, "a head without its end");
    CHECK(http_framing_check("GET / HTTP/1.1\r\n\r\n", 18, "POST", 4, 0) == 0, "another request's head");
    CHECK(http_framing_check("GETX / HTTP/1.1\r\n\r\n", 19, "GET", 3, 0) == 0,
          "the method must be a whole word");
    CHECK(http_framing_check("", 0, "GET", 3, 0) == 0, "an empty buffer");
}

/* ---- differential check against picohttpparser ---- */

static uint64_t rng = 88172645463325252ULL;
static unsigned rnd(unsigned n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng % n);
}

static void test_differential(void)
{
    static const char *const names[] = {"Content-Length",
                                        "content-length",
                                        "CONTENT-LENGTH",
                                        "Transfer-Encoding",
                                        "transfer-encoding",
                                        "Host",
                                        "X-A",
                                        "Content-Lengths",
                                        "Transfer-Encodin"};
    static const char *const values[] = {"5", "chunked", "", "a b", "0"};
    static const char *const ends[] = {"\r\n", "\n"};
    char head[2048];
    int agreed = 1, parsed = 0;
    for (int round = 0; round < 20000 && agreed; round++) {
        size_t n = 0;
        if (rnd(8) == 0)
            n += (size_t)snprintf(head + n, sizeof head - n, "%s", ends[rnd(2)]);
        int minor = (int)rnd(2);
        n += (size_t)snprintf(head + n, sizeof head - n, "POST /p HTTP/1.%d%s", minor, ends[rnd(2)]);
        unsigned nh = rnd(5);
        for (unsigned i = 0; i < nh; i++) {
            if (rnd(10) == 0)
                n += (size_t)snprintf(head + n, sizeof head - n, "%c%s%s", rnd(2) ? ' ' : '\t',
                                      values[rnd(5)], ends[rnd(2)]);
            else
                n += (size_t)snprintf(head + n, sizeof head - n, "%s:%s%s%s", names[rnd(9)],
                                      rnd(2) ? " " : "", values[rnd(5)], ends[rnd(2)]);
        }
        n += (size_t)snprintf(head + n, sizeof head - n, "%s", ends[rnd(2)]);

        const char *method, *path;
        size_t method_len, path_len, num = 16;
        int mv;
        struct phr_header h[16];
        int r = phr_parse_request(head, n, &method, &method_len, &path, &path_len, &mv, h, &num, 0);
        if (r <= 0)
            continue; /* h2o would have answered 400 itself: never reaches us */
        parsed++;
        unsigned ncl = 0, nte = 0, fold = 0;
        for (size_t i = 0; i < num; i++) {
            if (h[i].name == NULL) {
                fold = 1;
                continue;
            }
            ncl += h[i].name_len == 14 && h2o_lcstris(h[i].name, 14, H2O_STRLIT("content-length"));
            nte += h[i].name_len == 17 && h2o_lcstris(h[i].name, 17, H2O_STRLIT("transfer-encoding"));
        }
        int want = !(fold || ncl > 1 || nte > 1 || (ncl && nte) || (nte && mv == 0));
        int got = http_framing_check(head, n, method, method_len, mv == 0);
        if (got != want) {
            agreed = 0;
            printf("# disagreement on: %.*s\n", (int)n, head);
        }
    }
    CHECK(agreed, "the scanner agrees with picohttpparser on random heads");
    CHECK(parsed > 1000, "enough random heads parsed (%d)", parsed);
}

int main(void)
{
    test_accepted();
    test_refused();
    test_differential();
    return test_done();
}
