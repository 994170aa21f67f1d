/*
 * clientip.c - who the client is: the TCP peer, or what trusted proxies say it is.
 *
 * X-Forwarded-For is a list every proxy appends its peer to, so only the right-hand part
 * written by our own (trusted) proxies is believable; anything left of the first untrusted
 * hop may be made up by the client. Walking from the right and stopping at the first
 * untrusted address is what keeps a client from choosing its own rate-limit key.
 *
 * The rules, for a peer in TG_TRUSTED_PROXIES (any other peer is the client, whatever it sends):
 * - All X-Forwarded-For header lines form one list in the order received; the walk starts at
 *   the last line's last entry, so the entry our own proxy appended is always examined first,
 *   however many lines the client sent before it.
 * - The answer is the first untrusted address met.
 * - A malformed or empty entry stops the walk: the answer is the last address that was
 *   reached before it (a trusted hop, possibly the peer), because nothing vouches for what is
 *   left of garbage. It can only be reached when every entry to its right was trusted.
 * - When every examined entry is trusted (the whole list, or the first HTTP_XFF_MAX_HOPS
 *   entries from the right), the answer is the left-most one examined. A client gets there
 *   only from a trusted address, so it can only name another trusted address.
 */
#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>

#include "core/config.h"
#include "http/internal.h"

void http_clientip_peer(const struct req *r, char peer[HTTP_IP_MAX])
{
    h2o_req_t *h = r->h;
    struct http_peer_cache_entry *ce = &r->w->peers[h->conn->id % HTTP_PEER_CACHE];
    if (ce->conn_id == h->conn->id && h->conn->id != 0) {
        memcpy(peer, ce->ip, HTTP_IP_MAX);
        return;
    }
    struct sockaddr_storage ss;
    socklen_t sl = h->conn->callbacks->get_peername(h->conn, (struct sockaddr *)&ss);
    if (sl == 0 || http_clientip_text((struct sockaddr *)&ss, peer) != 0)
        strcpy(peer, "0.0.0.0");
    ce->conn_id = h->conn->id;
    memcpy(ce->ip, peer, HTTP_IP_MAX);
}

const char *http_header_last(const h2o_headers_t *headers, h2o_mem_pool_t *pool, const char *lname)
{
    size_t nlen = strlen(lname);
    const h2o_token_t *tok = h2o_lookup_token(lname, nlen);
    for (size_t i = headers->size; i-- > 0;) {
        const h2o_header_t *hd = &headers->entries[i];
        /* h2o interns known names as tokens: those compare by pointer, others by text
         * (lower-cased by h2o's parsers already; compared case-insensitively anyway) */
        if (tok != NULL ? hd->name != &tok->buf : !h2o_lcstris(hd->name->base, hd->name->len, lname, nlen))
            continue;
        char *out = h2o_mem_alloc_pool(pool, hd->value.len + 1);
        memcpy(out, hd->value.base, hd->value.len);
        out[hd->value.len] = '\0';
        return out;
    }
    return NULL;
}

/*
 * Headers a proxy sets for us (X-User-Region) mean something only when our own proxy set
 * them: from any other peer they are the client's word. When the header is repeated, the
 * last line is the one nearest to us - a proxy that appends rather than replaces adds its
 * line after whatever the client sent.
 */
const char *req_trusted_header(struct req *r, const char *lname)
{
    char peer[HTTP_IP_MAX];
    if (tg_cfg == NULL || tg_cfg->n_trusted_proxies == 0)
        return NULL;
    http_clientip_peer(r, peer);
    if (!config_is_trusted_proxy(peer))
        return NULL;
    return http_header_last(&r->h->headers, &r->h->pool, lname);
}

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

/* The state of one right-to-left walk over X-Forwarded-For entries. */
struct http_xff_walk {
    char cur[HTTP_IP_MAX]; /* the address the walk has reached: the answer when it stops */
    size_t hops;           /* entries examined so far */
    int over;              /* cur is the answer: untrusted, or the walk may not go further */
    int (*trusted)(const char *ip);
};

static void http_clientip_walk_init(struct http_xff_walk *w, const char *peer, int (*trusted)(const char *ip))
{
    size_t plen = strlen(peer);
    if (plen >= HTTP_IP_MAX)
        plen = HTTP_IP_MAX - 1;
    memcpy(w->cur, peer, plen);
    w->cur[plen] = '\0';
    w->hops = 0;
    w->trusted = trusted;
    w->over = !trusted(w->cur);
}

/*
 * Continues the walk over one header line, from its right end. Returns 1 when the walk is
 * over (an untrusted address was reached, an entry is malformed, or HTTP_XFF_MAX_HOPS entries
 * were examined), 0 when every entry of the line was trusted and the walk goes on with the
 * line before. Each address reached is checked against trusted() once.
 */
static int http_clientip_walk_line(struct http_xff_walk *w, const char *base, size_t len)
{
    char cand[HTTP_IP_MAX];
    size_t end = len;
    while (!w->over) {
        if (w->hops == HTTP_XFF_MAX_HOPS) {
            w->over = 1;
            break;
        }
        size_t start = end;
        while (start > 0 && base[start - 1] != ',')
            start--;
        w->hops++;
        /* Garbage (or an empty entry) is not an address anyone vouched for: keep the last
         * address a trusted hop did vouch for. */
        if (http_clientip_parse(base + start, end - start, cand) != 0) {
            w->over = 1;
            break;
        }
        memcpy(w->cur, cand, sizeof cand);
        w->over = !w->trusted(w->cur);
        if (start == 0)
            break;
        end = start - 1;
    }
    return w->over;
}

void http_clientip_resolve(const char *peer, const h2o_iovec_t *xff, size_t n, int (*trusted)(const char *ip),
                           char out[HTTP_IP_MAX])
{
    struct http_xff_walk w;
    http_clientip_walk_init(&w, peer, trusted);
    /* Header lines in order are one list; walk the last line first, each from its right. */
    for (size_t h = n; h-- > 0;)
        if (http_clientip_walk_line(&w, xff[h].base, xff[h].len))
            break;
    memcpy(out, w.cur, HTTP_IP_MAX);
}

void http_clientip_from_headers(const char *peer, const h2o_headers_t *headers,
                                int (*trusted)(const char *ip), char out[HTTP_IP_MAX])
{
    struct http_xff_walk w;
    http_clientip_walk_init(&w, peer, trusted);
    /* An untrusted peer's headers are not even looked at. */
    if (w.over)
        goto done;
    /* Every line counts, however many were sent: a cap on lines would let a client push the
     * line its proxy appended out of the walk. The walk itself stops after HTTP_XFF_MAX_HOPS
     * entries, and skipping other headers costs one pointer comparison each. */
    for (size_t i = headers->size; i-- > 0;) {
        const h2o_header_t *hd = &headers->entries[i];
        if (hd->name != &H2O_TOKEN_X_FORWARDED_FOR->buf)
            continue;
        if (http_clientip_walk_line(&w, hd->value.base, hd->value.len))
            break;
    }
done:
    memcpy(out, w.cur, HTTP_IP_MAX);
}
