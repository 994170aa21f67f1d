#include "core/jsonesc.h"

#include <stdint.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at s (2..4 bytes, RFC 3629: no overlongs, no
 * surrogates, at most U+10FFFF), or 0 when s does not start one. */
static size_t json_utf8_len(const unsigned char *s, size_t avail)
{
    unsigned char c = s[0];
    size_t n;
    unsigned lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        if (c == 0xe0)
            lo = 0xa0; /* overlong */
        if (c == 0xed)
            hi = 0x9f; /* surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        if (c == 0xf0)
            lo = 0x90; /* overlong */
        if (c == 0xf4)
            hi = 0x8f; /* past U+10FFFF */
    } else {
        return 0;
    }
    if (avail < n || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return n;
}

size_t json_escape(char *out, size_t cap, const char *str, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)str;
    size_t o = 0, i = 0;
    while (i < len) {
        /* Fast path: a run of printable ASCII needs no escaping (paths and ids are). */
        size_t run = 0;
        while (i + run < len && s[i + run] >= 0x20 && s[i + run] < 0x7f && s[i + run] != '"' &&
               s[i + run] != '\\')
            run++;
        if (run) {
            if (run > cap - o)
                run = cap - o;
            memcpy(out + o, s + i, run);
            o += run;
            i += run;
            if (o == cap)
                break;
            continue;
        }
        unsigned char c = s[i];
        char esc[6];
        const char *src = esc;
        size_t elen, adv = 1;
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            elen = 2;
        } else if (c == '\n' || c == '\r' || c == '\t') {
            esc[0] = '\\';
            esc[1] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
            elen = 2;
        } else if (c < 0x20 || c == 0x7f) {
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            elen = 6;
        } else {
            size_t n = json_utf8_len(s + i, len - i);
            if (n == 0) {
                src = "\\ufffd";
                elen = 6;
            } else {
                src = (const char *)s + i;
                elen = adv = n;
            }
        }
        if (elen > cap - o)
            break;
        memcpy(out + o, src, elen);
        o += elen;
        i += adv;
    }
    return o;
}
