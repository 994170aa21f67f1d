/*
 * test_range.c - http_range_parse (src/http/range.c): the single byte range a GET asks for.
 */
#include "../test.h"
#include "../../../src/http/range.c"

static void rcase(const char *v, int64_t size, int want, int64_t ws, int64_t wl)
{
    int64_t s = -7, l = -7;
    int rc = http_range_parse(v, size, &s, &l);
    CHECK(rc == want && (want != 1 || (s == ws && l == wl)), "'%s' of %lld: %d %lld+%lld (want %d %lld+%lld)",
          v ? v : "(none)", (long long)size, rc, (long long)s, (long long)l, want, (long long)ws, (long long)wl);
}

int main(void)
{
    rcase(NULL, 100, 0, 0, 100);
    rcase("bytes=0-9", 100, 1, 0, 10);
    rcase("bytes=10-", 100, 1, 10, 90);
    rcase("bytes=-10", 100, 1, 90, 10);
    rcase("bytes=-1000", 100, 1, 0, 100);
    rcase("bytes=90-1000", 100, 1, 90, 10);
    rcase("bytes=99-99", 100, 1, 99, 1);
    rcase("bytes=100-", 100, -1, 0, 0);
    rcase("bytes=100-200", 100, -1, 0, 0);
    rcase("bytes=-0", 100, -1, 0, 0);
    rcase("bytes=0-", 0, -1, 0, 0);
    rcase("bytes=5-4", 100, 0, 0, 100);
    rcase("bytes=0-1,5-6", 100, 0, 0, 100);
    rcase("bytes=-", 100, 0, 0, 100);
    rcase("bytes=a-b", 100, 0, 0, 100);
    rcase("items=0-1", 100, 0, 0, 100);
    rcase("bytes=0-9x", 100, 0, 0, 100);
    rcase("bytes=99999999999999999999-", 100, 0, 0, 100);
    rcase("bytes= 0-9", 100, 1, 0, 10);
    return test_done();
}
