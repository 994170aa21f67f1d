/*
 * fuzz_money.c - fuzz target for money_parse() and money_format() (src/core/money.c), the
 * only place where minor units become the decimal strings PayPal, Alipay and Creem speak.
 *
 * The first byte picks the currency (USD, CNY, EUR, JPY, KRW, or none) and the mode:
 *   even: the rest is a decimal string for money_parse (copied to a buffer of exactly its
 *         length, so a read past the end is caught);
 *   odd:  the rest gives an int64 amount (8 bytes, little-endian, missing bytes zero) and an
 *         output capacity (the next byte) for money_format.
 * Invariants (abort() when broken):
 *  - parse agrees with a reference parser written differently (grammar checked first, value
 *    computed in 128 bits): accepted exactly when it is digits, then at most the exponent
 *    of fraction digits after a point (none for JPY), within INT64_MAX; a refusal leaves the
 *    output untouched;
 *  - an accepted string formats (always, with room) to the canonical spelling, which parses
 *    back to the same value, and formatting it again gives the same string;
 *  - format(x) of x >= 0 is the reference spelling and parse(format(x)) == x; a negative x
 *    or a capacity too small is refused with an empty output, never a cut string.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/money.h"
#include "fuzz.h"

static unsigned long parsed, refused, formatted, format_refused;

static const char *const currencies[] = {"USD", "CNY", "EUR", "JPY", "KRW", NULL};
#define N_CURRENCIES 6

static int ref_exponent(const char *c)
{
    return c != NULL && (strcmp(c, "JPY") == 0 || strcmp(c, "KRW") == 0) ? 0 : 2;
}

/* Reference parse: 0 and *out, or -1. */
static int ref_parse(const char *s, size_t len, int exp, int64_t *out)
{
    size_t int_digits = 0, frac_digits = 0, i = 0;
    while (i < len && s[i] >= '0' && s[i] <= '9') {
        i++;
        int_digits++;
    }
    if (int_digits == 0)
        return -1;
    if (i < len) {
        if (s[i] != '.' || exp == 0)
            return -1;
        i++;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            i++;
            frac_digits++;
        }
        if (i != len || frac_digits == 0 || frac_digits > (size_t)exp)
            return -1;
    }
    __int128 v = 0;
    for (size_t k = 0; k < len; k++) {
        if (s[k] == '.')
            continue;
        v = v * 10 + (s[k] - '0');
        if (v > INT64_MAX)
            return -1;
    }
    for (size_t k = frac_digits; k < (size_t)exp; k++) {
        v *= 10;
        if (v > INT64_MAX)
            return -1;
    }
    *out = (int64_t)v;
    return 0;
}

/* Reference spelling of x >= 0: the integer part without leading zeros, then for exp 2 a
 * point and exactly two digits. */
static void ref_format(int64_t x, int exp, char *out)
{
    char digits[32];
    int n = 0;
    uint64_t u = (uint64_t)x;
    do {
        digits[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u > 0);
    /* digits holds the number backwards; pad so that there are at least exp + 1 digits. */
    while (n < exp + 1)
        digits[n++] = '0';
    size_t o = 0;
    for (int k = n - 1; k >= 0; k--) {
        if (exp > 0 && k == exp - 1)
            out[o++] = '.';
        out[o++] = digits[k];
    }
    out[o] = '\0';
}

static void check_amount(int64_t x, const char *currency, size_t cap)
{
    char got[64], want[64];
    int exp = ref_exponent(currency);
    memset(got, 'x', sizeof got);
    int n = money_format(x, currency, got, cap);
    if (x < 0) {
        if (n != -1 || (cap > 0 && got[0] != '\0'))
            abort();
        format_refused++;
        return;
    }
    ref_format(x, exp, want);
    size_t wl = strlen(want);
    if (cap == 0) {
        if (n != -1 || got[0] != 'x') /* nothing may be written into no room */
            abort();
        format_refused++;
        return;
    }
    if (wl >= cap) {
        if (n != -1 || got[0] != '\0')
            abort();
        format_refused++;
        return;
    }
    if (n != (int)wl || strcmp(got, want) != 0)
        abort();
    int64_t back = -1;
    if (money_parse(got, (size_t)n, currency, &back) != 0 || back != x)
        abort();
    formatted++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const char *currency = currencies[(data[0] >> 1) % N_CURRENCIES];
    if (money_exponent(currency) != ref_exponent(currency))
        abort();
    const uint8_t *p = data + 1;
    size_t len = size - 1;

    if (data[0] & 1) {
        uint64_t u = 0;
        for (size_t k = 0; k < 8; k++)
            u |= (uint64_t)(k < len ? p[k] : 0) << (8 * k);
        size_t cap = len > 8 ? p[8] % 40 : 32;
        check_amount((int64_t)u, currency, cap);
        check_amount((int64_t)(u >> 1), currency, 32);
        return 0;
    }

    char *s = malloc(len ? len : 1);
    if (s == NULL)
        abort();
    memcpy(s, p, len);
    const int64_t untouched = -4242;
    int64_t got = untouched, want = untouched;
    int g = money_parse(s, len, currency, &got);
    int w = ref_parse(s, len, ref_exponent(currency), &want);
    if (g != w || got != want)
        abort();
    if (g == 0) {
        if (got < 0)
            abort();
        /* The canonical spelling: formats, parses back equal, and is stable. */
        char canon[64], again[64];
        int n = money_format(got, currency, canon, sizeof canon);
        if (n <= 0 || (size_t)n != strlen(canon))
            abort();
        int64_t back = untouched;
        if (money_parse(canon, (size_t)n, currency, &back) != 0 || back != got)
            abort();
        if (money_format(back, currency, again, sizeof again) != n || strcmp(again, canon) != 0)
            abort();
        parsed++;
    } else {
        if (got != untouched)
            abort();
        refused++;
    }
    free(s);
    return 0;
}

void fuzz_seeds(void (*add)(const uint8_t *data, size_t size))
{
    /* Strings: first byte even; (byte >> 1) % 6 is the currency (0 USD, 1 CNY, 2 EUR, 3 JPY,
     * 4 KRW, 5 none). */
    static const char *texts[] = {
        "\x00" "9.90",
        "\x00" "9.9",
        "\x00" "9.901",
        "\x00" "9.",
        "\x00" ".9",
        "\x00" "+1",
        "\x00" " 1",
        "\x00" "1e2",
        "\x00" "0",
        "\x00" "000123.45",
        "\x02" "68.00",
        "\x06" "500",
        "\x06" "5.00",
        "\x08" "1000000",
        "\x00" "92233720368547758.07",
        "\x00" "92233720368547758.08",
        "\x06" "9223372036854775807",
        "\x06" "9223372036854775808",
        "\x0a" "12.34",
        "\x00" "1..2",
        "\x00" "-1.00",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
        add((const uint8_t *)texts[i], strlen(texts[i] + 1) + 1);
    /* Amounts: first byte odd, 8 bytes little-endian, then the capacity. */
    static const uint8_t amounts[][10] = {
        {0x01, 0xde, 0x03, 0, 0, 0, 0, 0, 0, 32},           /* 990 USD */
        {0x07, 0xf4, 0x01, 0, 0, 0, 0, 0, 0, 4},            /* 500 JPY, cap 4 */
        {0x07, 0xf4, 0x01, 0, 0, 0, 0, 0, 0, 3},            /* 500 JPY, cap 3: refused */
        {0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 39}, /* INT64_MAX */
        {0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 32}, /* -1 */
        {0x01, 0x05, 0, 0, 0, 0, 0, 0, 0, 5},               /* 0.05, cap 5 */
        {0x01, 0x05, 0, 0, 0, 0, 0, 0, 0, 4},               /* 0.05, cap 4: refused */
        {0x0b, 0, 0, 0, 0, 0, 0, 0, 0x80, 32},              /* INT64_MIN, no currency */
    };
    for (size_t i = 0; i < sizeof amounts / sizeof amounts[0]; i++)
        add(amounts[i], sizeof amounts[i]);
}

void fuzz_report(void)
{
    printf("strings parsed %lu, refused %lu; amounts formatted %lu, refused %lu\n", parsed, refused, formatted,
           format_refused);
}
