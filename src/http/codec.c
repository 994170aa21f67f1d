/*
 * codec.c - percent-decoding and query-string lookup.
 */
#include <string.h>

#include "crypto/encode.h"
#include "http/internal.h"

long http_pct_decode(const char *s, size_t len, char *out, int plus_space)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '%') {
            int hi, lo;
            if (i + 2 >= len)
                return -1;
            hi = hex_value(s[i + 1]);
            lo = hex_value(s[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            c = (char)(hi << 4 | lo);
            i += 2;
        } else if (c == '+' && plus_space) {
            c = ' ';
        }
        /* A NUL would silently truncate every C string made from this value. */
        if (c == '\0')
            return -1;
        out[o++] = c;
    }
    out[o] = '\0';
    return (long)o;
}

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
