/*
 * fuzz_cookie.c - fuzz target for the Cookie header lookup http_cookie_get() and
 * http_cookie_count() (src/http/codec.c), which the browser sign-in uses to find its flow
 * cookie and browser sessions their refresh cookie (refused when there are two).
 *
 * The input is a Cookie header value; the first byte (mod 4) picks the name looked up among
 * a few, and the capacity of the output. Invariants (abort() when broken):
 *  - the result agrees with an independent reference lookup (split on ';', trim blanks, the
 *    first pair whose name matches; -1 when absent, when a character RFC 6265 does not allow
 *    is in the name or value, or when the value does not fit);
 *  - a found value is NUL-terminated within cap bytes and holds only cookie-octets;
 *  - a header built from the found pair alone gives the same value back;
 *  - http_cookie_count() agrees with a reference count of the pairs of that name (whatever
 *    their values), and a found cookie is counted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/http/codec.c"
#include "fuzz.h"

static unsigned long found, absent;

static int ref_octet(unsigned char c)
{
    return c > 0x20 && c < 0x7f && c != '"' && c != ',' && c != ';' && c != '\\';
}

static int ref_tchar(unsigned char c)
{
    return c > 0x20 && c < 0x7f && strchr("()<>@,;:\\\"/[]?={}", c) == NULL;
}

static int blank(char c)
{
    return c == ' ' || c == '\t';
}

static long ref_get(const char *h, size_t len, const char *name, char *out, size_t cap)
{
    size_t i = 0, nlen = strlen(name);
    while (i < len) {
        size_t end = i;
        while (end < len && h[end] != ';')
            end++;
        /* One pair h[i..end). */
        size_t a = i, b = end;
        i = end + 1;
        while (a < b && blank(h[a]))
            a++;
        const char *eq = memchr(h + a, '=', b - a);
        if (eq == NULL)
            continue;
        size_t ke = (size_t)(eq - h);
        while (ke > a && blank(h[ke - 1]))
            ke--;
        size_t vs = (size_t)(eq - h) + 1, ve = b;
        while (vs < ve && blank(h[vs]))
            vs++;
        while (ve > vs && blank(h[ve - 1]))
            ve--;
        if (ve - vs >= 2 && h[vs] == '"' && h[ve - 1] == '"') {
            vs++;
            ve--;
        }
        if (ke - a != nlen || memcmp(h + a, name, nlen) != 0)
            continue;
        for (size_t k = a; k < ke; k++)
            if (!ref_tchar((unsigned char)h[k]))
                return -1;
        for (size_t k = vs; k < ve; k++)
            if (!ref_octet((unsigned char)h[k]))
                return -1;
        if (ve - vs >= cap)
            return -1;
        memcpy(out, h + vs, ve - vs);
        out[ve - vs] = '\0';
        return (long)(ve - vs);
    }
    return -1;
}

static size_t ref_count(const char *h, size_t len, const char *name)
{
    size_t i = 0, nlen = strlen(name), n = 0;
    while (i < len) {
        size_t end = i;
        while (end < len && h[end] != ';')
            end++;
        size_t a = i, b = end;
        i = end + 1;
        while (a < b && blank(h[a]))
            a++;
        const char *eq = memchr(h + a, '=', b - a);
        if (eq == NULL)
            continue;
        size_t ke = (size_t)(eq - h);
        while (ke > a && blank(h[ke - 1]))
            ke--;
        n += ke - a == nlen && memcmp(h + a, name, nlen) == 0;
    }
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[] = {"tg_oauth_0123456789ab", "a", "session", "x y"};
    static const size_t caps[] = {4096, 8, 1, 64};
    if (size == 0)
        return 0;
    const char *name = names[data[0] & 3];
    size_t cap = caps[(data[0] >> 2) & 3];
    const char *h = (const char *)data + 1;
    size_t len = size - 1;
    char *got = malloc(cap), *want = malloc(cap);
    if (got == NULL || want == NULL)
        abort();
    /* The reference stops a pair at ';' only, exactly as the code must (a NUL byte in the
     * header is just another byte that no name or value may hold). */
    long g = http_cookie_get(h, len, name, got, cap);
    long w = ref_get(h, len, name, want, cap);
    if (g != w || (g >= 0 && memcmp(got, want, (size_t)g + 1) != 0))
        abort();
    size_t count = http_cookie_count(h, len, name);
    if (count != ref_count(h, len, name) || (g >= 0 && count == 0))
        abort();
    if (g >= 0) {
        if ((size_t)g >= cap || got[g] != '\0')
            abort();
        for (long k = 0; k < g; k++)
            if (!ref_octet((unsigned char)got[k]))
                abort();
        char *alone = malloc(strlen(name) + (size_t)g + 2), *again = malloc(cap);
        if (alone == NULL || again == NULL)
            abort();
        sprintf(alone, "%s=%s", name, got);
        if (http_cookie_get(alone, strlen(alone), name, again, cap) != g || strcmp(again, got) != 0)
            abort();
        free(alone);
        free(again);
        found++;
    } else {
        absent++;
    }
    free(got);
    free(want);
    return 0;
}

void fuzz_seeds(void (*add)(const uint8_t *data, size_t size))
{
    static const char *texts[] = {
        "\x00tg_oauth_0123456789ab=eyJwIjoic2FuZGJveCJ9.abc_-; other=1",
        "\x01a=1; a=2",
        "\x01a=1;a=\\x; a =\"q\"; a",
        "\x01 a = \"quoted\" ;b=2",
        "\x02session=; session=x",
        "\x01a",
        "\x01a=va;lue",
        "\x01a=b\\c",
        "\x05a=123456789",
        "\x01;;; a=1 ;",
        "\x03x y=1",
        "\x01a=\"",
        "\x00tg_oauth_0123456789ab=\xe4\xb8\xad",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
        add((const uint8_t *)texts[i], strlen(texts[i] + 1) + 1);
}

void fuzz_report(void)
{
    printf("cookies found %lu, absent or refused %lu\n", found, absent);
}
