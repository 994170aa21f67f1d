/*
 * codec.c - percent-decoding, query-string lookup and Cookie header lookup.
 */
#include <string.h>

#include "crypto/encode.h"
#include "http/internal.h"

/* One decoder for the whole program (crypto/encode.h): the providers' form bodies use it too. */
long http_pct_decode(const char *s, size_t len, char *out, int plus_space) { return pct_decode(s, len, out, plus_space); }

const char *http_query_get(h2o_mem_pool_t *pool, const char *query, size_t qlen, const char *name)
{
    size_t nlen = strlen(name);
    size_t i = 0;
    while (i < qlen) {
        size_t start = i;
        while (i < qlen && query[i] != '&')
            i++;
        const char *pair = query + start;
        size_t plen = i - start;
        i++; /* skip '&' */
        if (plen == 0)
            continue;
        const char *eq = memchr(pair, '=', plen);
        size_t klen = eq ? (size_t)(eq - pair) : plen;
        /* Keys we look for are plain ASCII; compare the decoded key only when it was encoded. */
        char kbuf[128];
        const char *key = pair;
        if (memchr(pair, '%', klen) || memchr(pair, '+', klen)) {
            if (klen >= sizeof kbuf)
                continue;
            long k = http_pct_decode(pair, klen, kbuf, 1);
            if (k < 0)
                continue;
            key = kbuf;
            klen = (size_t)k;
        }
        if (klen != nlen || memcmp(key, name, nlen) != 0)
            continue;
        const char *val = eq ? eq + 1 : pair + plen;
        size_t vlen = (size_t)(pair + plen - val);
        char *out = h2o_mem_alloc_pool(pool, vlen + 1);
        if (http_pct_decode(val, vlen, out, 1) < 0)
            return NULL;
        return out;
    }
    return NULL;
}

int http_query_valid(const char *query, size_t qlen)
{
    for (size_t i = 0; i < qlen; i++) {
        if (query[i] != '%')
            continue;
        if (i + 2 >= qlen)
            return 0;
        int hi = hex_value(query[i + 1]), lo = hex_value(query[i + 2]);
        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
            return 0;
        i += 2;
    }
    return 1;
}

/* RFC 6265 5.2 / 4.1.1: a cookie-name is a token; browsers send "a=1; b=2". */
static int http_cookie_tchar(unsigned char c)
{
    return c > 0x20 && c < 0x7f && !strchr("()<>@,;:\\\"/[]?={}", c);
}

long http_cookie_get(const char *header, size_t len, const char *name, char *out, size_t cap)
{
    size_t nlen = strlen(name);
    size_t i = 0;
    if (nlen == 0 || cap == 0)
        return -1;
    while (i < len) {
        while (i < len && (header[i] == ' ' || header[i] == '\t' || header[i] == ';'))
            i++;
        size_t ks = i;
        while (i < len && header[i] != '=' && header[i] != ';')
            i++;
        size_t klen = i - ks;
        /* Trailing blanks of a name are not part of it. */
        while (klen > 0 && (header[ks + klen - 1] == ' ' || header[ks + klen - 1] == '\t'))
            klen--;
        if (i >= len || header[i] != '=') {
            continue; /* "name" without a value: not a cookie pair */
        }
        i++; /* '=' */
        while (i < len && (header[i] == ' ' || header[i] == '\t'))
            i++;
        size_t vs = i;
        while (i < len && header[i] != ';')
            i++;
        size_t vlen = i - vs;
        while (vlen > 0 && (header[vs + vlen - 1] == ' ' || header[vs + vlen - 1] == '\t'))
            vlen--;
        /* A quoted value (cookie-value = DQUOTE *cookie-octet DQUOTE) is unquoted. */
        if (vlen >= 2 && header[vs] == '"' && header[vs + vlen - 1] == '"') {
            vs++;
            vlen -= 2;
        }
        if (klen != nlen || memcmp(header + ks, name, nlen) != 0)
            continue;
        int ok = 1;
        for (size_t k = 0; k < klen; k++)
            ok &= http_cookie_tchar((unsigned char)header[ks + k]);
        for (size_t k = 0; k < vlen; k++) {
            unsigned char c = (unsigned char)header[vs + k];
            /* cookie-octet: visible ASCII except DQUOTE, comma, semicolon and backslash */
            ok &= c > 0x20 && c < 0x7f && c != '"' && c != ',' && c != ';' && c != '\\';
        }
        if (!ok || vlen >= cap)
            return -1;
        memcpy(out, header + vs, vlen);
        out[vlen] = '\0';
        return (long)vlen;
    }
    return -1;
}

/* ---- Accept-Encoding and If-None-Match ---- */

static int http_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* A qvalue (RFC 9110 12.4.2: "0" ["." 0*3DIGIT] / "1" ["." 0*3("0")]) in thousandths, or -1. */
static int http_qvalue(const char *s, size_t n)
{
    if (n == 0 || (s[0] != '0' && s[0] != '1'))
        return -1;
    int q = (s[0] - '0') * 1000;
    if (n == 1)
        return q;
    if (s[1] != '.' || n > 5)
        return -1;
    int scale = 100;
    for (size_t i = 2; i < n; i++, scale /= 10) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        q += (s[i] - '0') * scale;
    }
    return q > 1000 ? -1 : q;
}

void http_accept_encoding_scan(const char *v, size_t len, int *q_gzip, int *q_star)
{
    size_t i = 0;
    while (i < len) {
        size_t start = i;
        while (i < len && v[i] != ',')
            i++;
        size_t end = i++;
        /* one element: coding *( OWS ";" OWS name "=" value ) */
        size_t a = start;
        while (a < end && http_ows(v[a]))
            a++;
        size_t b = a;
        while (b < end && v[b] != ';' && !http_ows(v[b]))
            b++;
        if (b == a)
            continue; /* empty element */
        int q = 1000, bad = 0;
        size_t p = b;
        while (p < end) {
            while (p < end && (http_ows(v[p]) || v[p] == ';'))
                p++;
            size_t ps = p;
            while (p < end && v[p] != ';')
                p++;
            size_t pe = p;
            while (pe > ps && http_ows(v[pe - 1]))
                pe--;
            if (pe - ps >= 2 && (v[ps] == 'q' || v[ps] == 'Q') && v[ps + 1] == '=')
                q = http_qvalue(v + ps + 2, pe - ps - 2);
            else if (pe > ps && memchr(v + ps, '=', pe - ps) == NULL)
                bad = 1; /* not a parameter: a malformed element */
        }
        if (bad || q < 0)
            continue; /* a malformed element says nothing */
        /* The first mention of a coding counts; "x-gzip" is gzip (RFC 9110 8.4.1.3). */
        int gzip =
            h2o_lcstris(v + a, b - a, H2O_STRLIT("gzip")) || h2o_lcstris(v + a, b - a, H2O_STRLIT("x-gzip"));
        if (gzip && *q_gzip < 0)
            *q_gzip = q;
        else if (!gzip && b - a == 1 && v[a] == '*' && *q_star < 0)
            *q_star = q;
    }
}

int http_etag_listed(const char *v, size_t len, const char *etag, size_t etag_len)
{
    size_t i = 0;
    while (i < len) {
        while (i < len && (http_ows(v[i]) || v[i] == ','))
            i++;
        if (i >= len)
            break;
        if (v[i] == '*')
            return 1;
        if (len - i >= 2 && v[i] == 'W' && v[i + 1] == '/')
            i += 2; /* weak comparison (RFC 9110 13.1.2): W/ does not matter */
        if (i >= len || v[i] != '"')
            return 0; /* malformed: not a list of entity tags */
        size_t start = i++;
        while (i < len && v[i] != '"')
            i++;
        if (i >= len)
            return 0;
        i++;
        size_t tag_len = i - start;
        while (i < len && http_ows(v[i]))
            i++;
        if (i < len && v[i] != ',')
            return 0; /* "tag"x: not an entity tag */
        if (tag_len == etag_len && memcmp(v + start, etag, etag_len) == 0)
            return 1;
    }
    return 0;
}
