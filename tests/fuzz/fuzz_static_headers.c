/*
 * fuzz_static_headers.c - fuzz target for the two request headers the web UI's answers read
 * (src/http/codec.c, used by src/http/static.c): http_accept_encoding_scan (Accept-Encoding:
 * may the body be gzipped) and http_etag_listed (If-None-Match: may the answer be a 304).
 *
 * The input is a header value; the first byte picks which and, for If-None-Match, the length
 * of the tag looked for (taken from the input). Invariants (abort() when broken):
 *  - only len bytes are read (exact-size copies under ASan);
 *  - qvalues are -1 or within 0..1000; a value already set is never changed by a later scan
 *    (the first mention counts, also across lines), and scanning the same value twice gives
 *    what once gave;
 *  - Accept-Encoding agrees with a reference parser written differently (split on ',', then
 *    on ';', strtod-free qvalue check);
 *  - ASCII case of the codings and of "q" changes nothing; blanks and empty elements around
 *    the value change nothing;
 *  - If-None-Match: "*" anywhere as an element lists everything; a tag is found in a list
 *    made of it alone, with W/, and after another tag; the answer equals a reference walk.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/http/codec.c"
#include "fuzz.h"

static unsigned long n_gzip, n_no_gzip, n_listed, n_not_listed;

static char *exact(const char *s, size_t n)
{
    char *p = malloc(n ? n : 1);
    if (p == NULL)
        abort();
    memcpy(p, s, n);
    return p;
}

static void scan(const char *v, size_t n, int *g, int *st)
{
    char *p = exact(v, n);
    http_accept_encoding_scan(p, n, g, st);
    free(p);
}

static int listed(const char *v, size_t n, const char *tag, size_t tlen)
{
    char *p = exact(v, n), *t = exact(tag, tlen);
    int rc = http_etag_listed(p, n, t, tlen);
    free(p);
    free(t);
    return rc;
}

/* ---- reference Accept-Encoding ---- */

static void trim(const char **s, size_t *n)
{
    while (*n && (**s == ' ' || **s == '\t')) {
        (*s)++;
        (*n)--;
    }
    while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t'))
        (*n)--;
}

static int ref_q(const char *s, size_t n)
{
    /* "0", "0.", "0.d", "0.dd", "0.ddd", "1", "1.", "1.0", "1.00", "1.000" */
    if (n == 0 || n > 5 || (s[0] != '0' && s[0] != '1'))
        return -1;
    if (n > 1 && s[1] != '.')
        return -1;
    int q = s[0] == '1' ? 1000 : 0, mul[3] = {100, 10, 1};
    for (size_t i = 2; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        q += (s[i] - '0') * mul[i - 2];
    }
    return q > 1000 ? -1 : q;
}

static void ref_scan(const char *v, size_t len, int *g, int *st)
{
    size_t i = 0;
    while (i <= len) {
        size_t e = i;
        while (e < len && v[e] != ',')
            e++;
        const char *el = v + i;
        size_t eln = e - i;
        i = e + 1;
        /* the coding: up to ';' or a blank */
        trim(&el, &eln);
        size_t cn = 0;
        while (cn < eln && el[cn] != ';' && el[cn] != ' ' && el[cn] != '\t')
            cn++;
        if (cn == 0)
            continue;
        int q = 1000, bad = 0;
        size_t p = cn;
        while (p < eln) {
            size_t pe = p;
            while (pe < eln && el[pe] != ';')
                pe++;
            const char *par = el + p;
            size_t pn = pe - p;
            p = pe + 1;
            trim(&par, &pn);
            if (pn == 0)
                continue;
            if (pn >= 2 && tolower((unsigned char)par[0]) == 'q' && par[1] == '=')
                q = ref_q(par + 2, pn - 2);
            else if (memchr(par, '=', pn) == NULL)
                bad = 1;
        }
        if (bad || q < 0)
            continue;
        int is_gzip =
            (cn == 4 && strncasecmp(el, "gzip", 4) == 0) || (cn == 6 && strncasecmp(el, "x-gzip", 6) == 0);
        if (is_gzip && *g < 0)
            *g = q;
        else if (!is_gzip && cn == 1 && el[0] == '*' && *st < 0)
            *st = q;
        if (e >= len)
            break;
    }
}

/* ---- reference If-None-Match ---- */

static int ref_listed(const char *v, size_t n, const char *tag, size_t tlen)
{
    size_t i = 0;
    int found = 0;
    for (;;) {
        while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        if (i >= n)
            return found;
        if (v[i] == '*')
            return 1;
        if (i + 1 < n && v[i] == 'W' && v[i + 1] == '/')
            i += 2;
        if (i >= n || v[i] != '"')
            return found;
        const char *close = memchr(v + i + 1, '"', n - i - 1);
        if (close == NULL)
            return found;
        size_t start = i;
        i = (size_t)(close - v) + 1;
        size_t k = i;
        while (k < n && (v[k] == ' ' || v[k] == '\t'))
            k++;
        if (k < n && v[k] != ',')
            return found;
        if (i - start == tlen && memcmp(v + start, tag, tlen) == 0)
            return 1;
        i = k;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char buf[4 * 4096 + 64];
    if (size == 0 || size > 4096)
        return 0;
    unsigned mode = data[0];
    const char *v = (const char *)data + 1;
    size_t n = size - 1;

    if ((mode & 1) == 0) {
        int g = -1, st = -1, rg = -1, rst = -1;
        scan(v, n, &g, &st);
        ref_scan(v, n, &rg, &rst);
        if (g != rg || st != rst)
            abort();
        if (g < -1 || g > 1000 || st < -1 || st > 1000)
            abort();
        int g2 = g, st2 = st;
        scan(v, n, &g2, &st2);
        if (g2 != g || st2 != st)
            abort(); /* a second scan changes nothing already set */
        int g3 = 7, st3 = 7;
        scan(v, n, &g3, &st3);
        if (g3 != 7 || st3 != 7)
            abort();
        /* case */
        for (size_t i = 0; i < n; i++)
            buf[i] = (char)(mode & 2 ? toupper((unsigned char)v[i]) : tolower((unsigned char)v[i]));
        int gc = -1, stc = -1;
        scan(buf, n, &gc, &stc);
        if (gc != g || stc != st)
            abort();
        /* blanks and empty elements around it */
        memcpy(buf, " ,\t, ", 5);
        memcpy(buf + 5, v, n);
        memcpy(buf + 5 + n, " , ,", 4);
        int gb = -1, stb = -1;
        scan(buf, n + 9, &gb, &stb);
        if (gb != g || stb != st)
            abort();
        if (g > 0 || (g < 0 && st > 0))
            n_gzip++;
        else
            n_no_gzip++;
        return 0;
    }

    /* If-None-Match: the tag looked for is the input's first k bytes in quotes */
    size_t k = n ? (mode >> 1) % (n + 1) : 0;
    if (k > 64)
        k = 64;
    char tag[70];
    tag[0] = '"';
    size_t tl = 1;
    for (size_t i = 0; i < k; i++)
        if (v[i] != '"')
            tag[tl++] = v[i];
    tag[tl++] = '"';
    int rc = listed(v, n, tag, tl);
    if (rc != 0 && rc != 1)
        abort();
    if (rc != ref_listed(v, n, tag, tl))
        abort();
    rc ? n_listed++ : n_not_listed++;
    /* the tag alone, weak, and after another tag */
    if (!listed(tag, tl, tag, tl))
        abort();
    buf[0] = 'W';
    buf[1] = '/';
    memcpy(buf + 2, tag, tl);
    if (!listed(buf, tl + 2, tag, tl))
        abort();
    memcpy(buf, "\"zz\", ", 6); /* the tag may hold a NUL: copied, not printed */
    memcpy(buf + 6, tag, tl);
    if (!listed(buf, tl + 6, tag, tl))
        abort();
    /* "*" as an element: everything */
    if (!listed("\"q\", *", 6, tag, tl))
        abort();
    return 0;
}

void fuzz_seeds(void (*add)(const uint8_t *data, size_t size))
{
    static const char *seeds[] = {
        "\x00gzip, deflate, br",
        "\x00br;q=1.0, gzip;q=0.8, *;q=0.1",
        "\x02gzip;q=0",
        "\x00*;q=0, identity",
        "\x00 x-gzip ; q=0.001 ,, ",
        "\x00gzip;level=9;q=1.000",
        "\x00gzip;q",
        "\x09\"abc\", W/\"def\"",
        "\x07\"abc\"",
        "\x05*",
        "\x0b\"abc\"x, \"abc\"",
        "\x03W/\"\"",
    };
    for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++)
        add((const uint8_t *)seeds[i], strlen(seeds[i] + 1) + 1);
}

void fuzz_report(void)
{
    printf("gzip=%lu no_gzip=%lu listed=%lu not_listed=%lu\n", n_gzip, n_no_gzip, n_listed, n_not_listed);
}
