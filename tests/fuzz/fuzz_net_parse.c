/*
 * fuzz_net_parse.c - fuzz target for the parsers of outbound calls (src/net/parse.c): the
 * response header line split, decimal numbers (Content-Length, Retry-After seconds),
 * Retry-After, loopback hosts (the SMTP TLS rule) and the backoff ceiling.
 *
 * The input is a response header line, a header value and a host at once. Invariants
 * (abort() when broken):
 *  - net_header_split agrees with a reference split: a token name directly followed by ':',
 *    the value without surrounding spaces and tabs, inside the line, and -1 for anything
 *    else (no name, a bad name character, CR, LF or NUL inside the value);
 *  - net_parse_uint agrees with a wide-integer reference for several bounds, saturating;
 *  - net_retry_after_ms: digits alone give exactly their seconds (capped at a day); any
 *    accepted value is a wait in [0, one day]; values with NUL or over 64 bytes that are not
 *    digits are refused;
 *  - net_host_is_loopback agrees with a reference over inet_pton and in6addr_loopback, and
 *    net_smtp_use_ssl allows cleartext SMTP only for smtp:// to such a host;
 *  - net_backoff_ceiling_ms is 200 ms doubling, capped at 5 s, never decreasing.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../../src/net/parse.c"
#include "fuzz.h"

static unsigned long fields, numbers, waits, dates, loopbacks;

static int ref_tchar(unsigned char c)
{
    static const char extra[] = "!#$%&'*+-.^_`|~";
    if (c >= 0x80 || c <= 0x20 || c == 0x7f)
        return 0;
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return 1;
    for (size_t i = 0; i < sizeof extra - 1; i++)
        if (extra[i] == (char)c)
            return 1;
    return 0;
}

static void check_split(const char *line, size_t len)
{
    const char *n = NULL, *v = NULL;
    size_t nl = 0, vl = 0;
    int rc = net_header_split(line, len, &n, &nl, &v, &vl);

    /* reference: strip one LF then one CR at the end, then split at the first non-tchar */
    size_t end = len;
    if (end && line[end - 1] == '\n')
        end--;
    if (end && line[end - 1] == '\r')
        end--;
    size_t i = 0;
    while (i < end && ref_tchar((unsigned char)line[i]))
        i++;
    int want = i > 0 && i < end && line[i] == ':';
    size_t vs = i + 1, ve = end;
    if (want) {
        while (vs < ve && (line[vs] == ' ' || line[vs] == '\t'))
            vs++;
        while (ve > vs && (line[ve - 1] == ' ' || line[ve - 1] == '\t'))
            ve--;
        for (size_t k = vs; k < ve; k++)
            if (line[k] == '\0' || line[k] == '\r' || line[k] == '\n')
                want = 0;
    }
    if ((rc == 0) != want)
        abort();
    if (rc != 0)
        return;
    fields++;
    if (n != line || nl != i || v != line + vs || vl != ve - vs)
        abort();
    if (vl > 0 && (v[0] == ' ' || v[0] == '\t' || v[vl - 1] == ' ' || v[vl - 1] == '\t'))
        abort();
    if (v + vl > line + len)
        abort();
}

static void check_uint(const char *s, size_t len)
{
    static const uint64_t bounds[] = {0, 9, 1000, 1048576, 86400, UINT64_MAX};
    for (size_t b = 0; b < sizeof bounds / sizeof bounds[0]; b++) {
        uint64_t got = 12345;
        int rc = net_parse_uint(s, len, bounds[b], &got);
        int digits = len > 0;
        unsigned __int128 ref = 0;
        for (size_t i = 0; i < len && digits; i++) {
            if (s[i] < '0' || s[i] > '9') {
                digits = 0;
                break;
            }
            ref = ref * 10 + (unsigned)(s[i] - '0');
            if (ref > ((unsigned __int128)1 << 100))
                ref = (unsigned __int128)1 << 100; /* saturate well above 2^64 */
        }
        if (!digits) {
            if (rc != -1)
                abort();
            continue;
        }
        numbers++;
        if (ref > bounds[b]) {
            if (rc != 1 || got != bounds[b])
                abort();
        } else if (rc != 0 || got != (uint64_t)ref) {
            abort();
        }
    }
}

static void check_retry_after(const char *s, size_t len)
{
    const int64_t now = 1700000000000LL;
    int64_t d = -7;
    int rc = net_retry_after_ms(s, len, now, &d);
    size_t a = 0, e = len;
    while (a < e && (s[a] == ' ' || s[a] == '\t'))
        a++;
    while (e > a && (s[e - 1] == ' ' || s[e - 1] == '\t'))
        e--;
    int digits = e > a;
    unsigned __int128 secs = 0;
    for (size_t i = a; i < e && digits; i++) {
        if (s[i] < '0' || s[i] > '9')
            digits = 0;
        else if ((secs = secs * 10 + (unsigned)(s[i] - '0')) > 86400)
            secs = 86401;
    }
    if (digits) {
        int64_t want = (int64_t)(secs > 86400 ? 86400 : secs) * 1000;
        if (rc != 0 || d != want)
            abort();
    }
    if (rc == 0) {
        waits++;
        if (d < 0 || d > 86400LL * 1000)
            abort();
        if (!digits)
            dates++;
    } else if (rc != -1) {
        abort();
    }
    if (!digits && (e - a > NET_RETRY_AFTER_TEXT_MAX || memchr(s + a, '\0', e - a) != NULL) && rc != -1)
        abort();
}

static int ref_loopback(const char *h)
{
    struct in_addr a4;
    struct in6_addr a6;
    size_t n = strlen(h);
    char buf[256];
    if (strcasecmp(h, "localhost") == 0)
        return 1;
    if (n >= 2 && n < sizeof buf && h[0] == '[' && h[n - 1] == ']') {
        memcpy(buf, h + 1, n - 2);
        buf[n - 2] = '\0';
        return inet_pton(AF_INET6, buf, &a6) == 1 && memcmp(&a6, &in6addr_loopback, sizeof a6) == 0;
    }
    return inet_pton(AF_INET, h, &a4) == 1 && (ntohl(a4.s_addr) >> 24) == 127;
}

static void check_host(const char *h)
{
    int lb = net_host_is_loopback(h);
    if (lb != ref_loopback(h))
        abort();
    loopbacks += (unsigned long)lb;
    if (net_smtp_use_ssl("smtps", h) != CURLUSESSL_ALL)
        abort();
    if (net_smtp_use_ssl("smtp", h) != (lb ? CURLUSESSL_TRY : CURLUSESSL_ALL))
        abort();
}

static void check_backoff(int n)
{
    int64_t c = net_backoff_ceiling_ms(n), prev = n > 1 ? net_backoff_ceiling_ms(n - 1) : 0;
    if (c < NET_RETRY_BASE_MS || c > NET_RETRY_CAP_MS || c < prev)
        abort();
    if (n >= 1 && n <= 5 && c != (int64_t)NET_RETRY_BASE_MS << (n - 1))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 1);
    if (buf == NULL)
        abort();
    memcpy(buf, data, size);
    buf[size] = '\0';
    check_split(buf, size);
    check_uint(buf, size);
    check_retry_after(buf, size);
    check_host(buf); /* up to the first NUL, as a C string host */
    /* the value part of a field line, as the client passes it on */
    {
        const char *n, *v;
        size_t nl, vl;
        if (net_header_split(buf, size, &n, &nl, &v, &vl) == 0) {
            check_uint(v, vl);
            check_retry_after(v, vl);
        }
    }
    check_backoff(size > 0 ? (int)(data[0] % 64) + 1 : 1);
    free(buf);
    return 0;
}

void fuzz_seeds(void (*add)(const uint8_t *data, size_t size))
{
    static const char *texts[] = {
        "Content-Type: application/json\r\n",
        "Content-Length: 1048577\r\n",
        "Retry-After: 3\r\n",
        "Retry-After:  Sun, 06 Nov 1994 08:49:37 GMT \r\n",
        "Retry-After: Sunday, 06-Nov-94 08:49:37 GMT\r\n",
        "Retry-After: Sun Nov  6 08:49:37 1994\r\n",
        "X-Empty:\r\n",
        "HTTP/1.1 503 Service Unavailable\r\n",
        " folded continuation\r\n",
        "Bad Name: x\r\n",
        "x-a:\tb\tc\t\n",
        "18446744073709551616",
        "000000000000000000000000000042",
        "127.0.0.1",
        "[::1]",
        "[0:0:0:0:0:0:0:1]",
        "LOCALHOST",
        "127.1",
        "[::ffff:127.0.0.1]",
        "mail.example.com",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
        add((const uint8_t *)texts[i], strlen(texts[i]));
}

void fuzz_report(void)
{
    printf("field lines %lu, numbers %lu, waits %lu (dates %lu), loopback hosts %lu\n", fields, numbers,
           waits, dates, loopbacks);
}
