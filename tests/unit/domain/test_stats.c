/*
 * domain/stats.c without a store: dates (YYYY-MM-DD and UTC days), the query's defaults and
 * bounds, the region rules, and nearest-rank percentiles. The report over stored rows (day
 * buckets at UTC midnight, region filters) is tested in tests/store/test_stats.c.
 */
#include "../test.h"

#include "domain/stats.h"

#define DAY STATS_DAY_MS

static void test_dates(void)
{
    int64_t d = -7;
    char out[11];
    CHECK(stats_date_parse("1970-01-01", &d) == 0 && d == 0, "the epoch is day 0");
    CHECK(stats_date_parse("2026-11-01", &d) == 0 && d == 20758, "2026-11-01 is day 20758");
    CHECK_STR_EQ(stats_date_format(20758, out), "2026-11-01", "and back");
    CHECK(stats_date_parse("2024-02-29", &d) == 0 && stats_date_parse("2024-03-01", &d) == 0, "leap day");
    CHECK_STR_EQ(stats_date_format(d - 1, out), "2024-02-29", "the day before March 1st of a leap year");
    CHECK(stats_date_parse("9999-12-31", &d) == 0, "the last year");
    d = 42;
    const char *bad[] = {"2023-02-29", "2026-13-01", "2026-00-10", "2026-04-31", "2026-1-01", "2026-01-1", "26-01-01",
                         "2026/01/01", "2026-01-01T00:00:00Z", "2026-01-01 ", " 2026-01-01", "1969-12-31", "",
                         "2026-01-+1", "abcd-ef-gh"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK(stats_date_parse(bad[i], &d) == -1 && d == 42, "refused: \"%s\"", bad[i]);
    CHECK(stats_date_parse(NULL, &d) == -1, "NULL refused");
}

static void test_query(void)
{
    struct stats_query q;
    const char *msg = NULL;
    int64_t now = 20787LL * DAY + 23 * 3600000LL + 59 * 60000LL + 59999; /* 2026-11-30T23:59:59.999Z */
    CHECK(stats_query_make(NULL, NULL, NULL, now, &q, &msg) == NULL, "defaults");
    CHECK(q.to_day == 20787 && q.from_day == 20758 && q.all_regions, "the last 30 days, today included, all regions");
    CHECK(stats_query_make(NULL, NULL, NULL, now + 1, &q, &msg) == NULL && q.to_day == 20788,
          "one ms later it is tomorrow (UTC)");
    CHECK(stats_query_make(NULL, "2026-11-10", NULL, now, &q, &msg) == NULL && q.to_day == 20767 &&
              q.from_day == 20767 - 29,
          "to alone: from is 29 days before it");
    CHECK(stats_query_make("2026-11-10", "2026-11-10", "CN", now, &q, &msg) == NULL && q.from_day == q.to_day &&
              !q.all_regions && q.region == REGION_CN,
          "one day, CN");
    CHECK(stats_query_make("2024-01-01", "2024-12-31", "GLOBAL", now, &q, &msg) == NULL && q.region == REGION_GLOBAL,
          "366 days (a leap year) is the most");
    const char *f = stats_query_make("2024-01-01", "2025-01-01", NULL, now, &q, &msg);
    CHECK_STR_EQ(f, "to", "367 days: to");
    f = stats_query_make("2026-11-02", "2026-11-01", NULL, now, &q, &msg);
    CHECK_STR_EQ(f, "to", "to before from: to");
    f = stats_query_make("2026-11-02", NULL, NULL, now, &q, &msg);
    CHECK(f == NULL && q.from_day == 20759 && q.to_day == 20787, "from alone: to today");
    f = stats_query_make("2027-01-01", NULL, NULL, now, &q, &msg);
    CHECK_STR_EQ(f, "to", "from after today: to (today) is before it");
    f = stats_query_make("x", NULL, NULL, now, &q, &msg);
    CHECK_STR_EQ(f, "from", "bad from");
    f = stats_query_make(NULL, "", NULL, now, &q, &msg);
    CHECK_STR_EQ(f, "to", "empty to");
    const char *regions[] = {"cn", "global", "", "EU", "CN ", "CNX"};
    for (size_t i = 0; i < sizeof regions / sizeof regions[0]; i++) {
        f = stats_query_make(NULL, NULL, regions[i], now, &q, &msg);
        CHECK(f != NULL && strcmp(f, "region") == 0 && msg != NULL, "region \"%s\" refused", regions[i]);
    }
    CHECK(stats_query_make(NULL, NULL, NULL, 5 * DAY, &q, &msg) == NULL && q.from_day == 0 && q.to_day == 5,
          "near the epoch the default range starts at day 0");
}

static void test_regions(void)
{
    CHECK(stats_user_region("CN", "GLOBAL") == REGION_CN, "a saved choice wins");
    CHECK(stats_user_region("GLOBAL", "CN") == REGION_GLOBAL, "... either way");
    CHECK(stats_user_region("", "CN") == REGION_CN, "else the signup region");
    CHECK(stats_user_region(NULL, "CN") == REGION_CN, "NULL saved choice");
    CHECK(stats_user_region("", "") == REGION_GLOBAL, "nothing recorded: GLOBAL");
    CHECK(stats_user_region("XX", "YY") == REGION_GLOBAL, "garbage: GLOBAL");
    CHECK(stats_order_region("GLOBAL", "CNY") == REGION_GLOBAL, "an order's stored region wins");
    CHECK(stats_order_region("", "CNY") == REGION_CN, "no region, CNY: CN");
    CHECK(stats_order_region("", "USD") == REGION_GLOBAL, "no region, USD: GLOBAL");
    CHECK(stats_order_region(NULL, "EUR") == REGION_GLOBAL, "no region, EUR: GLOBAL");
}

static void test_percentiles(void)
{
    int64_t one[] = {7};
    CHECK(stats_percentile(one, 1, 50) == 7 && stats_percentile(one, 1, 90) == 7 && stats_percentile(one, 1, 100) == 7,
          "one value is every percentile");
    int64_t two[] = {10, 20};
    CHECK(stats_percentile(two, 2, 50) == 10, "p50 of two: the lower (rank ceil(1.0) = 1)");
    CHECK(stats_percentile(two, 2, 51) == 20, "p51 of two: the upper");
    CHECK(stats_percentile(two, 2, 90) == 20, "p90 of two");
    int64_t ten[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    CHECK(stats_percentile(ten, 10, 50) == 5, "p50 of 1..10 is 5");
    CHECK(stats_percentile(ten, 10, 90) == 9, "p90 of 1..10 is 9");
    CHECK(stats_percentile(ten, 10, 91) == 10, "p91 of 1..10 is 10");
    CHECK(stats_percentile(ten, 10, 1) == 1, "p1 is the smallest");
    CHECK(stats_percentile(ten, 10, 100) == 10, "p100 is the largest");
    int64_t three[] = {100, 200, 300};
    CHECK(stats_percentile(three, 3, 50) == 200 && stats_percentile(three, 3, 90) == 300, "p50, p90 of three");
    /* 1000 values 1..1000: p50 = 500, p90 = 900 exactly (no interpolation). */
    static int64_t k[1000];
    for (int i = 0; i < 1000; i++)
        k[i] = i + 1;
    CHECK(stats_percentile(k, 1000, 50) == 500 && stats_percentile(k, 1000, 90) == 900, "p50, p90 of 1..1000");
    CHECK(stats_percentile(k, 999, 90) == 900, "p90 of 1..999: rank ceil(899.1) = 900");
}

int main(void)
{
    test_dates();
    test_query();
    test_regions();
    test_percentiles();
    return test_done();
}
