/*
 * framing.c - refuses HTTP/1 requests whose body framing two parsers could read differently.
 *
 * How libh2o 2.2.5 frames a request body (lib/http1.c, init_headers and
 * create_entity_reader): the first Content-Length header gives the length, any
 * Transfer-Encoding header overrides it (the last one wins), and neither header is kept in
 * req->headers. So "Content-Length: 2" + "Content-Length: 40", or "Content-Length: 40" +
 * "Transfer-Encoding: chunked", is read one way by h2o and may be read another way by a
 * proxy in front of us; the bytes one side counts as body and the other does not then run
 * as a request the proxy never saw (request smuggling, RFC 9112 sections 6.3 and 11.2).
 * picohttpparser, h2o's parser, also accepts obs-fold continuation lines and keeps them as
 * nameless headers, so a folded "Content-Length" is invisible to h2o but not to a parser
 * that unfolds or trims; RFC 9112 section 5.2 lets a server refuse obs-fold with a 400.
 *
 * h2o does not keep the headers we need, so we read the request head itself: for HTTP/1
 * it is still at the start of the connection's input buffer while the request is handled
 * (h2o consumes it only after the response has been sent, in cleanup_connection).
 */
#include <string.h>

#include "core/errors.h"
#include "http/internal.h"

/* 1 when s[0..n) equals the lower-case name lname, ignoring ASCII case. */
static int http_framing_name_is(const char *s, size_t n, const char *lname, size_t llen)
{
    return n == llen && h2o_lcstris(s, n, lname, llen);
}

int http_framing_check(const char *head, size_t len, const char *method, size_t method_len, int http10)
{
    const char *p = head, *end = head + len;
    unsigned ncl = 0, nte = 0;

    /* picohttpparser skips one empty line before the request line (some clients send a
     * CRLF after a POST body); so do we, to look at the same request line. */
    if (p < end && *p == '\r')
        p++;
    if (p < end && *p == '\n')
        p++;
    /* the request line: it must be the one h2o parsed, or this buffer is not its head */
    if ((size_t)(end - p) <= method_len || memcmp(p, method, method_len) != 0 || p[method_len] != ' ')
        return 0;
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    if (nl == NULL)
        return 0;
    p = nl + 1;
    for (;;) {
        nl = p < end ? memchr(p, '\n', (size_t)(end - p)) : NULL;
        if (nl == NULL)
            return 0; /* no end of head: not what h2o parsed */
        size_t ll = (size_t)(nl - p);
        if (ll > 0 && p[ll - 1] == '\r')
            ll--;
        if (ll == 0)
            break; /* the empty line that ends the head */
        if (*p == ' ' || *p == '\t')
            return 0; /* obs-fold */
        const char *colon = memchr(p, ':', ll);
        if (colon == NULL)
            return 0;
        size_t nlen = (size_t)(colon - p);
        if (http_framing_name_is(p, nlen, H2O_STRLIT("content-length")))
            ncl++;
        else if (http_framing_name_is(p, nlen, H2O_STRLIT("transfer-encoding")))
            nte++;
        p = nl + 1;
    }
    if (ncl > 1 || nte > 1 || (ncl > 0 && nte > 0))
        return 0;
    /* RFC 9112 section 6.1: Transfer-Encoding in an HTTP/1.0 message means faulty framing */
    if (nte > 0 && http10)
        return 0;
    return 1;
}

int http_framing_ok(h2o_req_t *h)
{
    /* HTTP/2 frames bodies with DATA frames; only HTTP/1 has two ways to say the length */
    if (h->version >= 0x200)
        return 1;
    h2o_socket_t *sock =
        h->conn->callbacks->get_socket != NULL ? h->conn->callbacks->get_socket(h->conn) : NULL;
    /* libh2o 2.2.5's HTTP/1 connections always have their socket; when we cannot look at the
     * head we cannot vouch for it, so the request is refused rather than trusted */
    if (NEVER(sock == NULL || sock->input == NULL))
        return 0;
    return http_framing_check(sock->input->bytes, sock->input->size, h->input.method.base,
                              h->input.method.len, h->version < 0x101);
}
