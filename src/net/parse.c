/*
 * parse.c - the small parsers of outbound calls: response header lines, decimal numbers,
 * Retry-After, loopback hosts (see internal.h). Pure: no state, no allocation, so that
 * tests/fuzz/fuzz_net_parse.c can drive them directly.
 */
#include "net/internal.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <strings.h>

/* A Retry-After longer than this is as good as "never" (and keeps the arithmetic small). */
#define NET_DELAY_MAX_MS (86400LL * 1000)

/* RFC 9110 section 5.6.2: tchar. */
static int net_is_tchar(unsigned char ch)
{
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9'))
        return 1;
    return ch != 0 && strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

int net_header_split(const char *line, size_t len, const char **name, size_t *nlen, const char **value,
                     size_t *vlen)
{
    size_t i = 0, end = len;
    if (end > 0 && line[end - 1] == '\n')
        end--;
    if (end > 0 && line[end - 1] == '\r')
        end--;
    while (i < end && net_is_tchar((unsigned char)line[i]))
        i++;
    if (i == 0 || i >= end || line[i] != ':')
        return -1;
    *name = line;
    *nlen = i;
    size_t v = i + 1;
    while (v < end && (line[v] == ' ' || line[v] == '\t'))
        v++;
    while (end > v && (line[end - 1] == ' ' || line[end - 1] == '\t'))
        end--;
    for (size_t k = v; k < end; k++)
        if (line[k] == '\0' || line[k] == '\r' || line[k] == '\n')
            return -1;
    *value = line + v;
    *vlen = end - v;
    return 0;
}

int net_parse_uint(const char *s, size_t len, uint64_t max, uint64_t *out)
{
    uint64_t n = 0;
    int over = 0;
    if (len == 0)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        unsigned d = (unsigned)(s[i] - '0');
        if (over || n > max / 10 || max - n * 10 < d)
            over = 1;
        else
            n = n * 10 + d;
    }
    *out = over ? max : n;
    return over;
}

int net_retry_after_ms(const char *v, size_t len, int64_t now_ms, int64_t *delay_ms)
{
    char text[NET_RETRY_AFTER_TEXT_MAX + 1];
    uint64_t secs;
    while (len > 0 && (v[0] == ' ' || v[0] == '\t')) {
        v++;
        len--;
    }
    while (len > 0 && (v[len - 1] == ' ' || v[len - 1] == '\t'))
        len--;
    if (len == 0)
        return -1;
    int rc = net_parse_uint(v, len, (uint64_t)(NET_DELAY_MAX_MS / 1000), &secs);
    if (rc >= 0) {
        *delay_ms = (int64_t)secs * 1000;
        return 0;
    }
    /* An HTTP-date: it has letters (a day or month name); digits alone were handled above. */
    if (len > NET_RETRY_AFTER_TEXT_MAX || memchr(v, '\0', len) != NULL)
        return -1;
    memcpy(text, v, len);
    text[len] = '\0';
    time_t t = curl_getdate(text, NULL);
    if (t < 0)
        return -1;
    int64_t at = (int64_t)t, now_s = now_ms / 1000;
    if (at > now_s + NET_DELAY_MAX_MS / 1000) {
        *delay_ms = NET_DELAY_MAX_MS;
        return 0;
    }
    int64_t d = at * 1000 - now_ms;
    *delay_ms = d > 0 ? d : 0;
    return 0;
}

int net_host_is_loopback(const char *host)
{
    char buf[INET6_ADDRSTRLEN + 1];
    unsigned char addr[sizeof(struct in6_addr)];
    size_t n = strlen(host);
    if (strcasecmp(host, "localhost") == 0)
        return 1;
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
        if (n - 2 >= sizeof buf)
            return 0;
        memcpy(buf, host + 1, n - 2);
        buf[n - 2] = '\0';
        if (inet_pton(AF_INET6, buf, addr) != 1)
            return 0;
        return IN6_IS_ADDR_LOOPBACK((const struct in6_addr *)(const void *)addr);
    }
    if (inet_pton(AF_INET, host, addr) == 1)
        return addr[0] == 127;
    return 0;
}

long net_smtp_use_ssl(const char *scheme, const char *host)
{
    if (strcasecmp(scheme, "smtp") == 0 && host != NULL && net_host_is_loopback(host))
        return (long)CURLUSESSL_TRY;
    return (long)CURLUSESSL_ALL;
}

int64_t net_backoff_ceiling_ms(int n)
{
    int64_t c = NET_RETRY_BASE_MS;
    for (int i = 1; i < n && c < NET_RETRY_CAP_MS; i++)
        c *= 2;
    return c < NET_RETRY_CAP_MS ? c : NET_RETRY_CAP_MS;
}
