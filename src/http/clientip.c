/*
 * clientip.c - who the client is: the TCP peer, or what trusted proxies say it is.
 *
 * X-Forwarded-For is a list every proxy appends its peer to, so only the right-hand part
 * written by our own (trusted) proxies is believable; anything left of the first untrusted
 * hop may be made up by the client. Walking from the right and stopping at the first
 * untrusted address is what keeps a client from choosing its own rate-limit key.
 */
#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>

#include "http/internal.h"

int http_clientip_text(const struct sockaddr *sa, char out[HTTP_IP_MAX])
{
    out[0] = '\0';
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
        return inet_ntop(AF_INET, &in->sin_addr, out, HTTP_IP_MAX) ? 0 : -1;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
        /* A dual-stack listener sees IPv4 clients as ::ffff:a.b.c.d; show them as IPv4 so
         * that trusted-proxy CIDRs and rate-limit keys use one spelling. */
        if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
            return inet_ntop(AF_INET, &in6->sin6_addr.s6_addr[12], out, HTTP_IP_MAX) ? 0 : -1;
        return inet_ntop(AF_INET6, &in6->sin6_addr, out, HTTP_IP_MAX) ? 0 : -1;
    }
    return -1;
}

/*
 * Parses one X-Forwarded-For entry (surrounding spaces, "[v6]", "[v6]:port" and
 * "v4:port" tolerated) into normalized text. Returns 0 or -1.
 */
static int http_clientip_parse(const char *s, size_t len, char out[HTTP_IP_MAX])
{
    char buf[HTTP_IP_MAX];
    while (len && (*s == ' ' || *s == '\t')) {
        s++;
        len--;
    }
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    if (len == 0)
        return -1;
    if (s[0] == '[') {
        const char *close = memchr(s, ']', len);
        if (close == NULL)
            return -1;
        s++;
        len = (size_t)(close - s);
    } else {
        const char *colon = memchr(s, ':', len);
        /* exactly one colon: IPv4 with a port */
        if (colon && memchr(colon + 1, ':', len - (size_t)(colon + 1 - s)) == NULL)
            len = (size_t)(colon - s);
    }
    if (len == 0 || len >= sizeof buf)
        return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    unsigned char addr[16];
    if (inet_pton(AF_INET, buf, addr) == 1)
        return inet_ntop(AF_INET, addr, out, HTTP_IP_MAX) ? 0 : -1;
    if (inet_pton(AF_INET6, buf, addr) == 1) {
        static const unsigned char v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (memcmp(addr, v4mapped, 12) == 0)
            return inet_ntop(AF_INET, addr + 12, out, HTTP_IP_MAX) ? 0 : -1;
        return inet_ntop(AF_INET6, addr, out, HTTP_IP_MAX) ? 0 : -1;
    }
    return -1;
}

void http_clientip_resolve(const char *peer, const h2o_iovec_t *xff, size_t n, int (*trusted)(const char *ip),
                           char out[HTTP_IP_MAX])
{
    char cur[HTTP_IP_MAX], cand[HTTP_IP_MAX];
    size_t plen = strlen(peer);
    if (plen >= HTTP_IP_MAX)
        plen = HTTP_IP_MAX - 1;
    memcpy(cur, peer, plen);
    cur[plen] = '\0';
    /* Header lines in order are one list; walk the last line first, each from its right. */
    for (size_t h = n; h-- > 0;) {
        const char *base = xff[h].base;
        size_t end = xff[h].len;
        while (1) {
            if (!trusted(cur))
                goto done;
            size_t start = end;
            while (start > 0 && base[start - 1] != ',')
                start--;
            if (http_clientip_parse(base + start, end - start, cand) != 0)
                goto done; /* garbage: keep the last address a trusted hop vouched for */
            memcpy(cur, cand, sizeof cur);
            if (start == 0)
                break;
            end = start - 1;
        }
    }
done:
    memcpy(out, cur, HTTP_IP_MAX);
}
