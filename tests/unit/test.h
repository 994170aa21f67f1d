/*
 * test.h - a minimal TAP producer for Tollgate's C unit tests.
 *
 * Each CHECK is one TAP test point; meson runs the binaries with protocol 'tap' and counts
 * them. Usage:
 *
 *   int main(void) {
 *       CHECK(1 + 1 == 2, "addition");
 *       CHECK_STR_EQ(got, "want", "formats");
 *       return test_done();
 *   }
 */
#ifndef TG_TEST_H
#define TG_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int test_n_ = 0;
static int test_failed_ = 0;

#define CHECK(cond, ...)                                                                          \
    do {                                                                                          \
        int ok_ = !!(cond);                                                                       \
        test_n_++;                                                                                \
        if (!ok_)                                                                                 \
            test_failed_++;                                                                       \
        printf("%s %d - ", ok_ ? "ok" : "not ok", test_n_);                                       \
        printf(__VA_ARGS__);                                                                      \
        printf("\n");                                                                             \
        if (!ok_)                                                                                 \
            printf("#   failed: %s at %s:%d\n", #cond, __FILE__, __LINE__);                       \
        fflush(stdout);                                                                           \
    } while (0)

#define CHECK_STR_EQ(got, want, ...)                                                              \
    do {                                                                                          \
        const char *g_ = (got), *w_ = (want);                                                     \
        int eq_ = g_ && w_ && strcmp(g_, w_) == 0;                                                \
        CHECK(eq_, __VA_ARGS__);                                                                  \
        if (!eq_)                                                                                 \
            printf("#   got:  %s\n#   want: %s\n", g_ ? g_ : "(null)", w_ ? w_ : "(null)");       \
    } while (0)

#define CHECK_INT_EQ(got, want, ...)                                                              \
    do {                                                                                          \
        long long g_ = (long long)(got), w_ = (long long)(want);                                  \
        CHECK(g_ == w_, __VA_ARGS__);                                                             \
        if (g_ != w_)                                                                             \
            printf("#   got:  %lld\n#   want: %lld\n", g_, w_);                                   \
    } while (0)

static inline int test_done(void)
{
    printf("1..%d\n", test_n_);
    return test_failed_ ? 1 : 0;
}

#endif
