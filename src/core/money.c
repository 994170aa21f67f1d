/*
 * money.c - minor units <-> decimal strings (money.h).
 */
#include "core/money.h"

#include <stdio.h>
#include <string.h>

int money_exponent(const char *currency)
{
    /* ISO 4217 currencies without minor units that a payment provider may name. */
    static const char *const zero[] = {"JPY", "KRW", "VND", "CLP", "ISK", "UGX", "XAF", "XOF", "PYG", "RWF", NULL};
    for (size_t i = 0; currency != NULL && zero[i] != NULL; i++)
        if (strcmp(currency, zero[i]) == 0)
            return 0;
    return 2;
}

int money_format(int64_t amount, const char *currency, char *out, size_t cap)
{
    int n;
    if (cap > 0)
        out[0] = '\0';
    if (amount < 0 || cap == 0)
        return -1;
    if (money_exponent(currency) == 0)
        n = snprintf(out, cap, "%lld", (long long)amount);
    else
        n = snprintf(out, cap, "%lld.%02lld", (long long)(amount / 100), (long long)(amount % 100));
    if (n < 0 || (size_t)n >= cap) {
        out[0] = '\0';
        return -1;
    }
    return n;
}

int money_parse(const char *s, size_t len, const char *currency, int64_t *out)
{
    int exp = money_exponent(currency);
    int64_t v = 0;
    size_t i = 0;
    int frac = -1; /* digits seen after the point; -1 before it */

    if (s == NULL || len == 0)
        return -1;
    for (; i < len; i++) {
        char c = s[i];
        if (c == '.') {
            if (frac >= 0 || i == 0 || exp == 0)
                return -1;
            frac = 0;
            continue;
        }
        if (c < '0' || c > '9')
            return -1;
        if (frac >= 0 && ++frac > exp)
            return -1;
        if (v > (INT64_MAX - (c - '0')) / 10)
            return -1;
        v = v * 10 + (c - '0');
    }
    if (frac == 0) /* "9." */
        return -1;
    for (int k = frac < 0 ? 0 : frac; k < exp; k++) {
        if (v > INT64_MAX / 10)
            return -1;
        v *= 10;
    }
    *out = v;
    return 0;
}
