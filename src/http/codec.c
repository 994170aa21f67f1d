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

/*
 * The next "name=value" pair of a Cookie header from *i on: name at *ks (*klen bytes, trailing
 * blanks dropped), value at *vs (*vlen bytes, blanks around it and one pair of quotes
 * dropped). Returns 0, or -1 when no pair is left. Parts without '=' are skipped.
 */
static int http_cookie_next(const char *header, size_t len, size_t *i, size_t *ks, size_t *klen, size_t *vs,
                            size_t *vlen)
{
    while (*i < len) {
        while (*i < len && (header[*i] == ' ' || header[*i] == '\t' || header[*i] == ';'))
            (*i)++;
        *ks = *i;
        while (*i < len && header[*i] != '=' && header[*i] != ';')
            (*i)++;
        *klen = *i - *ks;
        /* Trailing blanks of a name are not part of it. */
        while (*klen > 0 && (header[*ks + *klen - 1] == ' ' || header[*ks + *klen - 1] == '\t'))
            (*klen)--;
        if (*i >= len || header[*i] != '=')
            continue; /* "name" without a value: not a cookie pair */
        (*i)++;       /* '=' */
        while (*i < len && (header[*i] == ' ' || header[*i] == '\t'))
            (*i)++;
        *vs = *i;
        while (*i < len && header[*i] != ';')
            (*i)++;
        *vlen = *i - *vs;
        while (*vlen > 0 && (header[*vs + *vlen - 1] == ' ' || header[*vs + *vlen - 1] == '\t'))
            (*vlen)--;
        /* A quoted value (cookie-value = DQUOTE *cookie-octet DQUOTE) is unquoted. */
        if (*vlen >= 2 && header[*vs] == '"' && header[*vs + *vlen - 1] == '"') {
            (*vs)++;
            *vlen -= 2;
        }
        return 0;
    }
    return -1;
}

long http_cookie_get(const char *header, size_t len, const char *name, char *out, size_t cap)
{
    size_t nlen = strlen(name);
    size_t i = 0, ks, klen, vs, vlen;
    if (nlen == 0 || cap == 0)
        return -1;
    while (http_cookie_next(header, len, &i, &ks, &klen, &vs, &vlen) == 0) {
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

size_t http_cookie_count(const char *header, size_t len, const char *name)
{
    size_t nlen = strlen(name), n = 0;
    size_t i = 0, ks, klen, vs, vlen;
    if (nlen == 0)
        return 0;
    while (http_cookie_next(header, len, &i, &ks, &klen, &vs, &vlen) == 0)
        n += klen == nlen && memcmp(header + ks, name, nlen) == 0;
    return n;
}
