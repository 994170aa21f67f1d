/*
 * range.c - the Range header of a GET (RFC 9233 section 14.1.1), for res_file (file.c). Pure:
 * no h2o, so that tests include it on its own.
 */
#include <stdint.h>
#include <string.h>

#include "http/http.h"

/* Reads a decimal int64 at *p (digits only, at least one); advances *p. 0 or -1. */
static int http_range_num(const char **p, int64_t *out)
{
    int64_t v = 0;
    const char *s = *p;
    if (*s < '0' || *s > '9')
        return -1;
    for (; *s >= '0' && *s <= '9'; s++) {
        if (v > (INT64_MAX - 9) / 10)
            return -1;
        v = v * 10 + (*s - '0');
    }
    *p = s;
    *out = v;
    return 0;
}

int http_range_parse(const char *v, int64_t size, int64_t *start, int64_t *len)
{
    int64_t a, b;
    *start = 0;
    *len = size;
    if (v == NULL || strncmp(v, "bytes=", 6) != 0)
        return 0;
    const char *p = v + 6;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p == '-') { /* suffix: the last b bytes */
        p++;
        if (http_range_num(&p, &b) != 0)
            return 0;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p != '\0')
            return 0; /* several ranges or junk: ignored */
        if (b == 0 || size == 0)
            return -1;
        if (b > size)
            b = size;
        *start = size - b;
        *len = b;
        return 1;
    }
    if (http_range_num(&p, &a) != 0 || *p != '-')
        return 0;
    p++;
    b = -1;
    if (*p >= '0' && *p <= '9' && http_range_num(&p, &b) != 0)
        return 0;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p != '\0' || (b >= 0 && b < a))
        return 0;
    if (a >= size)
        return -1;
    if (b < 0 || b >= size)
        b = size - 1;
    *start = a;
    *len = b - a + 1;
    return 1;
}
