/*
 * fuzz_cache_control.c - fuzz target for cache_control_parse() and jwks_ttl_s() (the
 * Cache-Control header of a provider's JWKS answer, providers/auth/jwks.c).
 *
 * Invariants (abort() when broken): the TTL is always within [JWKS_TTL_MIN_S, JWKS_TTL_MAX_S];
 * fields are consistent (max_age -1 exactly when there was no max-age, never negative
 * otherwise, never over 2^31 - 1); the parse reads only len bytes; ASCII case does not matter
 * (directive names are case-insensitive and nothing we read from a value has letters);
 * blanks and empty list elements around the value change nothing; a value repeated after a
 * comma parses the same with twice the max-age count; the fields re-serialize into a
 * canonical header that parses back to the same fields.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "providers/auth/jwks.h"

static unsigned long n_ok, n_fail, n_with_max_age;

static int same(const struct cache_control *a, const struct cache_control *b)
{
    return a->max_age == b->max_age && a->n_max_age == b->n_max_age && a->no_store == b->no_store &&
           a->no_cache == b->no_cache;
}

static int parse(const char *s, size_t n, struct cache_control *cc)
{
    /* An exact-size copy: reading one byte past n is an ASan report. */
    char *exact = malloc(n ? n : 1);
    int rc;
    if (exact == NULL)
        abort();
    memcpy(exact, s, n);
    rc = cache_control_parse(exact, n, cc);
    free(exact);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char buf[3 * 8192 + 64];
    const char *v = (const char *)data;
    struct cache_control cc, cc2;
    int rc, rc2;
    size_t i;

    if (size > 8192)
        return 0;
    rc = parse(v, size, &cc);
    if (rc != 0 && rc != -1)
        abort();
    if (rc == -1) {
        n_fail++;
        if (cc.max_age != -1 || cc.n_max_age != 0 || cc.no_store || cc.no_cache)
            abort();
    } else {
        n_ok++;
        if ((cc.n_max_age == 0) != (cc.max_age == -1) || cc.max_age > 2147483647 || cc.max_age < -1)
            abort();
        if (cc.n_max_age > 0)
            n_with_max_age++;
    }

    /* The TTL, on a NUL-terminated copy (stops at an embedded NUL, like a header would). */
    memcpy(buf, v, size);
    buf[size] = '\0';
    {
        int64_t ttl = jwks_ttl_s(buf);
        if (ttl < JWKS_TTL_MIN_S || ttl > JWKS_TTL_MAX_S)
            abort();
        if (memchr(v, '\0', size) == NULL && rc == 0 && cc.n_max_age == 1 && !cc.no_store && !cc.no_cache &&
            cc.max_age >= JWKS_TTL_MIN_S && cc.max_age <= JWKS_TTL_MAX_S && ttl != cc.max_age)
            abort();
    }

    /* Case does not matter. */
    for (i = 0; i < size; i++)
        buf[i] = (char)(v[i] >= 'a' && v[i] <= 'z' ? v[i] - 32 : v[i]);
    rc2 = parse(buf, size, &cc2);
    if (rc2 != rc || !same(&cc, &cc2))
        abort();

    /* Blanks and empty elements around it change nothing. */
    memcpy(buf, " ,\t, ", 5);
    memcpy(buf + 5, v, size);
    memcpy(buf + 5 + size, " , ,", 4);
    rc2 = parse(buf, size + 9, &cc2);
    if (rc2 != rc || !same(&cc, &cc2))
        abort();

    /* Twice, after a comma. */
    memcpy(buf, v, size);
    buf[size] = ',';
    memcpy(buf + size + 1, v, size);
    rc2 = parse(buf, 2 * size + 1, &cc2);
    if (rc == 0 && (rc2 != 0 || cc2.n_max_age != 2 * cc.n_max_age || cc2.no_store != cc.no_store ||
                    cc2.no_cache != cc.no_cache || cc2.max_age != cc.max_age))
        abort();

    /* Canonical re-serialization. */
    if (rc == 0 && cc.n_max_age <= 1) {
        int n = snprintf(buf, sizeof buf, "%s%s%s", cc.no_store ? "no-store, " : "", cc.no_cache ? "no-cache, " : "",
                         "public");
        if (cc.n_max_age == 1)
            n += snprintf(buf + n, sizeof buf - (size_t)n, ", max-age=%lld", (long long)cc.max_age);
        rc2 = parse(buf, (size_t)n, &cc2);
        if (rc2 != 0 || !same(&cc, &cc2))
            abort();
    }
    return 0;
}

void fuzz_seeds(void (*add)(const uint8_t *data, size_t size))
{
    static const char *seeds[] = {
        "public, max-age=19845, must-revalidate, no-transform",
        "max-age=120",
        "Max-Age=\"120\"",
        "no-cache, no-store, max-age=0, must-revalidate",
        "private=\"a, max-age=5\", max-age=300",
        "private=\"a\\\"b\", no-cache=\"set-cookie\"",
        ",, max-age=300 ,,",
        "s-maxage=10, max-age=500, stale-while-revalidate=30",
        "max-age=99999999999999999999999",
        "max-age=600, max-age=1200",
        "",
    };
    for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++)
        add((const uint8_t *)seeds[i], strlen(seeds[i]));
}

void fuzz_report(void)
{
    printf("parsed=%lu refused=%lu with_max_age=%lu\n", n_ok, n_fail, n_with_max_age);
}
