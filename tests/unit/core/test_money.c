/* Unit tests for src/core/money.c: exact minor units <-> decimal strings, and what is refused. */
#include "../test.h"

#include <stdint.h>
#include <string.h>

#include "core/money.h"

static void check_format(int64_t amount, const char *cur, const char *want)
{
    char buf[32];
    int n = money_format(amount, cur, buf, sizeof buf);
    CHECK_STR_EQ(buf, want, "format %lld %s", (long long)amount, cur);
    CHECK_INT_EQ(n, (long long)strlen(want), "length of %s", want);
}

static void check_parse(const char *s, const char *cur, int64_t want)
{
    int64_t v = -7;
    CHECK_INT_EQ(money_parse(s, strlen(s), cur, &v), 0, "parse %s %s", s, cur);
    CHECK_INT_EQ(v, want, "value of %s %s", s, cur);
}

static void check_refused(const char *s, const char *cur)
{
    int64_t v = -7;
    CHECK_INT_EQ(money_parse(s, strlen(s), cur, &v), -1, "refuse '%s' %s", s, cur);
    CHECK_INT_EQ(v, -7, "untouched after '%s'", s);
}

int main(void)
{
    char small[4];

    CHECK_INT_EQ(money_exponent("USD"), 2, "USD");
    CHECK_INT_EQ(money_exponent("CNY"), 2, "CNY");
    CHECK_INT_EQ(money_exponent("JPY"), 0, "JPY");

    check_format(990, "USD", "9.90");
    check_format(6800, "CNY", "68.00");
    check_format(5, "USD", "0.05");
    check_format(0, "USD", "0.00");
    check_format(69800, "CNY", "698.00");
    check_format(500, "JPY", "500");
    check_format(INT64_MAX, "USD", "92233720368547758.07");
    CHECK_INT_EQ(money_format(-1, "USD", small, sizeof small), -1, "negative refused");
    CHECK_STR_EQ(small, "", "negative leaves empty");
    CHECK_INT_EQ(money_format(990, "USD", small, sizeof small), -1, "too small a buffer");
    CHECK_STR_EQ(small, "", "overflowing leaves empty");

    check_parse("9.90", "USD", 990);
    check_parse("9.9", "USD", 990);
    check_parse("9", "USD", 900);
    check_parse("68.00", "CNY", 6800);
    check_parse("0.01", "CNY", 1);
    check_parse("500", "JPY", 500);
    check_parse("92233720368547758.07", "USD", INT64_MAX);

    check_refused("", "USD");
    check_refused("9.901", "USD");
    check_refused("9.", "USD");
    check_refused(".9", "USD");
    check_refused("+1", "USD");
    check_refused("-1", "USD");
    check_refused(" 1", "USD");
    check_refused("1 ", "USD");
    check_refused("1e2", "USD");
    check_refused("1.2.3", "USD");
    check_refused("5.0", "JPY");
    check_refused("92233720368547758.08", "USD");
    check_refused("99999999999999999999", "JPY");
    {
        int64_t v = 0;
        CHECK_INT_EQ(money_parse("12", 1, "USD", &v), 0, "length bounds the string");
        CHECK_INT_EQ(v, 100, "only '1' read");
    }
    return test_done();
}
