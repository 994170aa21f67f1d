/*
 * fuzz_query.c - fuzz target for query strings and cursors: http_pct_decode(),
 * http_query_valid() and http_query_get() (src/http/codec.c) and id_valid() (src/core/ids.c;
 * pagination cursors are ids).
 *
 * The input is the query string (the text after '?'). Invariants (abort() when broken):
 *  - http_pct_decode agrees with an independent decoder (both '+' modes): -1 exactly for a
 *    truncated or non-hex escape or a NUL, else a NUL-free result no longer than the input,
 *    written within len + 1 bytes; re-encoding the result and decoding it gives it back;
 *  - http_query_valid agrees with its definition (every '%' starts a hex escape other than %00);
 *  - http_query_get(name), for the names the query holds and a few it may not, agrees with a
 *    reference lookup: the first pair whose decoded key is name, its value decoded, NULL when
 *    absent or badly encoded; on a valid query every key present is found;
 *  - id_valid agrees with the id grammar (prefix "_" and 26 Crockford base32 characters) for
 *    the cursor value and for the input itself; ids made by id_new_at are valid, carry their
 *    timestamp, and sort by it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "../../src/http/codec.c"
#include "core/ids.h"
#include "fuzz.h"

/* Names whose lookups are compared per input: enough to cover every pair of a typical query
 * while keeping the work per input linear. */
#define MAX_NAMES 32

static unsigned long valid_queries, invalid_queries, lookups, found, cursors_valid;

static int ref_hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The reference decoder; returns the length or -1. out has room for n + 1. */
static long ref_decode(const char *s, size_t n, char *out, int plus)
{
    size_t o = 0, i = 0;
    while (i < n) {
        char c = s[i];
        if (c == '%') {
            if (n - i < 3 || ref_hex(s[i + 1]) < 0 || ref_hex(s[i + 2]) < 0)
                return -1;
            c = (char)(ref_hex(s[i + 1]) * 16 + ref_hex(s[i + 2]));
            i += 3;
        } else {
            if (c == '+' && plus)
                c = ' ';
            i++;
        }
        if (c == '\0')
            return -1;
        out[o++] = c;
    }
    out[o] = '\0';
    return (long)o;
}

static int ref_valid(const char *q, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (q[i] != '%')
            continue;
        if (n - i < 3 || ref_hex(q[i + 1]) < 0 || ref_hex(q[i + 2]) < 0 ||
            (q[i + 1] == '0' && q[i + 2] == '0'))
            return 0;
        i += 2;
    }
    return 1;
}

/* The reference lookup: NULL when absent or badly encoded, else a new string. */
static char *ref_get(const char *q, size_t n, const char *name, int *present)
{
    size_t nlen = strlen(name);
    *present = 0;
    for (size_t i = 0; i <= n;) {
        const char *amp = memchr(q + i, '&', n - i);
        size_t end = amp ? (size_t)(amp - q) : n;
        const char *pair = q + i;
        size_t plen = end - i, klen;
        const char *eq = memchr(pair, '=', plen);
        char *kbuf = malloc(plen + 1), *v;
        long k;
        if (kbuf == NULL)
            abort();
        i = end + 1;
        klen = eq ? (size_t)(eq - pair) : plen;
        if (plen == 0) {
            free(kbuf);
            continue;
        }
        /* An encoded key is compared decoded, and only when short (as the code under test). */
        if (memchr(pair, '%', klen) || memchr(pair, '+', klen)) {
            k = klen < 128 ? ref_decode(pair, klen, kbuf, 1) : -1;
        } else {
            memcpy(kbuf, pair, klen);
            k = (long)klen;
        }
        if (k < 0 || (size_t)k != nlen || memcmp(kbuf, name, nlen) != 0) {
            free(kbuf);
            continue;
        }
        free(kbuf);
        *present = 1;
        const char *val = eq ? eq + 1 : pair + plen;
        size_t vlen = (size_t)(pair + plen - val);
        v = malloc(vlen + 1);
        if (v == NULL)
            abort();
        if (ref_decode(val, vlen, v, 1) < 0) {
            free(v);
            return NULL;
        }
        return v;
    }
    return NULL;
}

static int ref_id_valid(const char *s, const char *prefix)
{
    static const char alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    size_t plen = strlen(prefix);
    if (strlen(s) != plen + 1 + 26 || memcmp(s, prefix, plen) != 0 || s[plen] != '_')
        return 0;
    for (size_t i = plen + 1; i < plen + 27; i++)
        if (memchr(alphabet, s[i], sizeof alphabet - 1) == NULL)
            return 0;
    return 1;
}

static void check_id(const char *s)
{
    static const char *const prefixes[] = {"led", "aud", "usr", "key", ""};
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
        int v = id_valid(s, prefixes[i]);
        if (v != ref_id_valid(s, prefixes[i]))
            abort();
        if (v && strlen(s) >= TG_ID_MAX)
            abort();
        cursors_valid += (unsigned long)v;
    }
}

static void check_decode(const char *q, size_t n)
{
    for (int plus = 0; plus < 2; plus++) {
        char *out = malloc(n + 1), *want = malloc(n + 1);
        long got, ref;
        if (out == NULL || want == NULL)
            abort();
        got = http_pct_decode(q, n, out, plus);
        ref = ref_decode(q, n, want, plus);
        if (got != ref || (got >= 0 && memcmp(out, want, (size_t)got + 1) != 0))
            abort();
        if (got >= 0) {
            /* Re-encode everything but unreserved characters; decoding gives the value back. */
            static const char hexd[] = "0123456789ABCDEF";
            size_t m = 0;
            char *enc = malloc((size_t)got * 3 + 1), *back = malloc((size_t)got * 3 + 1);
            if (enc == NULL || back == NULL)
                abort();
            for (long i = 0; i < got; i++) {
                unsigned char c = (unsigned char)out[i];
                if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    strchr("-._~", c)) {
                    enc[m++] = (char)c;
                } else {
                    enc[m++] = '%';
                    enc[m++] = hexd[c >> 4];
                    enc[m++] = hexd[c & 15];
                }
            }
            if (http_pct_decode(enc, m, back, 1) != got || memcmp(back, out, (size_t)got) != 0)
                abort();
            free(enc);
            free(back);
        }
        free(out);
        free(want);
    }
}

static void check_lookup(h2o_mem_pool_t *pool, const char *q, size_t n, const char *name, int valid)
{
    int present;
    char *want = ref_get(q, n, name, &present);
    const char *got = http_query_get(pool, q, n, name);
    if ((got == NULL) != (want == NULL) || (got && strcmp(got, want) != 0))
        abort();
    /* A query that passed http_query_valid (and has no raw NUL, which no C string can hold)
     * never loses a key it holds. */
    if (valid && present && got == NULL)
        abort();
    lookups++;
    found += got != NULL;
    if (got != NULL && strcmp(name, "cursor") == 0)
        check_id(got);
    free(want);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int init;
    char *q = malloc(size ? size : 1);
    h2o_mem_pool_t pool;
    size_t names = 0;
    int valid;

    if (!init) {
        if (sodium_init() < 0)
            abort();
        init = 1;
    }
    if (q == NULL)
        abort();
    memcpy(q, data, size);
    check_decode(q, size);
    valid = http_query_valid(q, size);
    if (valid != ref_valid(q, size))
        abort();
    if (valid)
        valid_queries++;
    else
        invalid_queries++;

    valid = valid && memchr(q, '\0', size) == NULL;
    h2o_mem_init_pool(&pool);
    check_lookup(&pool, q, size, "limit", valid);
    check_lookup(&pool, q, size, "cursor", valid);
    check_lookup(&pool, q, size, "", valid);
    /* Every key the query holds, decoded as a name would be written. */
    for (size_t i = 0; i < size && names < MAX_NAMES;) {
        const char *amp = memchr(q + i, '&', size - i);
        size_t end = amp ? (size_t)(amp - q) : size, klen;
        const char *eq = memchr(q + i, '=', end - i);
        char key[128];
        klen = (eq ? (size_t)(eq - q) : end) - i;
        if (klen < sizeof key && ref_decode(q + i, klen, key, 1) >= 0) {
            check_lookup(&pool, q, size, key, valid);
            names++;
        }
        i = end + 1;
    }
    h2o_mem_clear_pool(&pool);

    /* The input as a cursor (up to its first NUL). */
    {
        char *s = xstrndup(q, size);
        check_id(s);
        free(s);
    }

    /* Ids from the input's first bytes as a timestamp: valid, and ordered by time. */
    if (size >= 6) {
        char a[TG_ID_MAX], b[TG_ID_MAX];
        int64_t ms = 0;
        for (int i = 0; i < 6; i++)
            ms = ms << 8 | data[i];
        id_new_at(a, "led", ms);
        if (!id_valid(a, "led") || id_valid(a, "aud"))
            abort();
        if (ms < 0xFFFFFFFFFFFFLL) {
            id_new_at(b, "led", ms + 1);
            if (memcmp(a, b, 14) >= 0)
                abort();
        }
        {
            uint64_t t = 0;
            for (int i = 4; i < 14; i++)
                t = t << 5 | (uint64_t)(strchr("0123456789ABCDEFGHJKMNPQRSTVWXYZ", a[i]) -
                                        "0123456789ABCDEFGHJKMNPQRSTVWXYZ");
            if (t != (uint64_t)ms)
                abort();
        }
    }
    free(q);
    return 0;
}

void fuzz_seeds(void (*add)(const uint8_t *data, size_t size))
{
    static const char *texts[] = {
        "limit=10&cursor=led_01HZX3K9Q4M2W8E5R7T6Y1U0PA&empty=&flag&name=a+b&x%79z=1&bad=%G1&limit=20",
        "cursor=aud_01HZX3K9Q4M2W8E5R7T6Y1U0PA",
        "cursor=led_01hzx3k9q4m2w8e5r7t6y1u0pa",
        "cursor=led_01HZX3K9Q4M2W8E5R7T6Y1U0P",
        "cursor=led_01HZX3K9Q4M2W8E5R7T6Y1U0PI",
        "cursor=led%5F01HZX3K9Q4M2W8E5R7T6Y1U0PA",
        "limit=%zz",
        "limit=%2",
        "a=%00",
        "q=a%20b%E4%B8%AD&&&=&x=",
        "%6c%69%6d%69%74=5",
        "usr_01HZX3K9Q4M2W8E5R7T6Y1U0PA",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
        add((const uint8_t *)texts[i], strlen(texts[i]));
}

void fuzz_report(void)
{
    printf("queries valid %lu, invalid %lu; lookups %lu (found %lu); valid cursors %lu\n", valid_queries,
           invalid_queries, lookups, found, cursors_valid);
}
