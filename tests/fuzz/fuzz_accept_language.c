/*
 * fuzz_accept_language.c - fuzz target for accounts_locale_pick() (the Accept-Language
 * header that chooses a new account's mail language) in src/domain/accounts.c.
 *
 * The input is the header value (cut at the first NUL byte; h2o never hands one over).
 * Invariants (abort() when broken):
 *  - the answer is one of the two static locale strings, never anything else;
 *  - it agrees with a reference written differently (split with strchr, q-values read as
 *    integer and fraction digits with their own checks);
 *  - only the first ACCOUNTS_ACCEPT_LANGUAGE_MAX bytes matter;
 *  - "zh," in front always gives zh-CN and "en," in front always en-US (q=1 wins, the
 *    first of equals wins), ", *;q=0.5" or ",fr;q=0" appended changes nothing.
 */
#include "domain/accounts.c"

#include <stdio.h>
#include <stdlib.h>

#include "fuzz.h"

#define IN_MAX 4096

static unsigned long n_zh, n_en;

static int ref_space(char c)
{
    return c == ' ' || c == '\t';
}

/* [s, e) trimmed of blanks. */
static void ref_trim(const char **s, const char **e)
{
    while (*s < *e && ref_space(**s))
        (*s)++;
    while (*e > *s && ref_space((*e)[-1]))
        (*e)--;
}

/* A language range per RFC 4647: 1*8ALPHA *("-" 1*8alphanum). */
static int ref_range_ok(const char *s, const char *e)
{
    int part = 0, len = 0;
    for (const char *p = s;; p++) {
        if (p == e || *p == '-') {
            if (len < 1 || len > 8)
                return 0;
            if (p == e)
                return 1;
            part++;
            len = 0;
            continue;
        }
        char c = *p;
        int alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        int digit = c >= '0' && c <= '9';
        if (!(alpha || (part > 0 && digit)))
            return 0;
        len++;
    }
}

/* q in thousandths, or -1: "0", "0.", "0.d", "0.dd", "0.ddd", "1", "1.", "1.0", "1.00", "1.000". */
static int ref_q(const char *s, const char *e)
{
    size_t n = (size_t)(e - s);
    if (n < 1 || (s[0] != '0' && s[0] != '1'))
        return -1;
    if (n == 1)
        return (s[0] - '0') * 1000;
    if (s[1] != '.' || n > 5)
        return -1;
    int frac = 0, digits = 0;
    for (const char *p = s + 2; p < e; p++, digits++) {
        if (*p < '0' || *p > '9')
            return -1;
        frac = frac * 10 + (*p - '0');
    }
    while (digits++ < 3)
        frac *= 10;
    if (s[0] == '1' && frac != 0)
        return -1;
    return (s[0] - '0') * 1000 + frac;
}

static const char *ref_pick(const char *in, size_t len)
{
    int best = 0, zh = 0;
    const char *end = in + len;
    for (const char *item = in; item <= end;) {
        const char *comma = memchr(item, ',', (size_t)(end - item));
        const char *ie = comma ? comma : end;
        const char *rs = item, *re = memchr(item, ';', (size_t)(ie - item));
        const char *params = re;
        if (re == NULL)
            re = ie;
        ref_trim(&rs, &re);
        int q = -1;
        if (ref_range_ok(rs, re)) {
            q = 1000;
            while (params != NULL && q >= 0) {
                const char *ps = params + 1;
                const char *next = memchr(ps, ';', (size_t)(ie - ps));
                const char *pe = next ? next : ie;
                ref_trim(&ps, &pe);
                if (pe - ps >= 2 && (ps[0] == 'q' || ps[0] == 'Q') && ps[1] == '=')
                    q = ref_q(ps + 2, pe);
                params = next;
            }
        }
        if (q > best) {
            best = q;
            zh = re - rs >= 2 && (rs[0] == 'z' || rs[0] == 'Z') && (rs[1] == 'h' || rs[1] == 'H') &&
                 (re - rs == 2 || rs[2] == '-');
        }
        if (comma == NULL)
            break;
        item = comma + 1;
    }
    return zh ? ACCOUNTS_LOCALE_ZH : ACCOUNTS_LOCALE_EN;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char buf[IN_MAX + 64], more[2 * IN_MAX];
    if (size > IN_MAX)
        size = IN_MAX;
    size_t n = 0;
    while (n < size && data[n] != 0)
        n++;
    memcpy(buf, data, n);
    buf[n] = '\0';

    const char *got = accounts_locale_pick(buf);
    if (got == NULL || (strcmp(got, ACCOUNTS_LOCALE_ZH) != 0 && strcmp(got, ACCOUNTS_LOCALE_EN) != 0))
        abort();
    size_t seen = n < ACCOUNTS_ACCEPT_LANGUAGE_MAX ? n : ACCOUNTS_ACCEPT_LANGUAGE_MAX;
    if (strcmp(got, ref_pick(buf, seen)) != 0)
        abort();
    if (got[0] == 'z')
        n_zh++;
    else
        n_en++;

    /* Only the bounded prefix counts. */
    if (n > ACCOUNTS_ACCEPT_LANGUAGE_MAX) {
        memcpy(more, buf, ACCOUNTS_ACCEPT_LANGUAGE_MAX);
        more[ACCOUNTS_ACCEPT_LANGUAGE_MAX] = '\0';
        if (strcmp(accounts_locale_pick(more), got) != 0)
            abort();
    }
    if (n + 16 < ACCOUNTS_ACCEPT_LANGUAGE_MAX) {
        snprintf(more, sizeof more, "zh,%s", buf);
        if (strcmp(accounts_locale_pick(more), ACCOUNTS_LOCALE_ZH) != 0)
            abort();
        snprintf(more, sizeof more, "en,%s", buf);
        if (strcmp(accounts_locale_pick(more), ACCOUNTS_LOCALE_EN) != 0)
            abort();
        snprintf(more, sizeof more, "%s, *;q=0.5", buf);
        if (strcmp(accounts_locale_pick(more), got) != 0)
            abort();
        snprintf(more, sizeof more, "%s,fr;q=0", buf);
        if (strcmp(accounts_locale_pick(more), got) != 0)
            abort();
    }
    return 0;
}

void fuzz_seeds(void (*add)(const uint8_t *data, size_t size))
{
    static const char *seeds[] = {
        "zh-CN,zh;q=0.9,en;q=0.8",
        "en-US,en;q=0.9",
        "fr-CH, fr;q=0.9, en;q=0.8, de;q=0.7, *;q=0.5",
        "zh-Hant-TW;q=0.7, en-GB;q=0.71",
        "*",
        "zh;q=0, en;q=0.001",
        "zh;q=1.000",
        "ZH-hk ; Q=0.5 ; foo=bar",
        "en;q=0.5,zh;q=0.5",
        "de-1996, zh-cmn-Hans-CN;q=0.1",
    };
    for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++)
        add((const uint8_t *)seeds[i], strlen(seeds[i]));
}

void fuzz_report(void)
{
    printf("zh-CN=%lu en-US=%lu\n", n_zh, n_en);
}
