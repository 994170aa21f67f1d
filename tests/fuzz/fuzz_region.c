/*
 * fuzz_region.c - fuzz target for the region parsers (src/domain/region.c): the
 * X-User-Region value a trusted proxy sends (region_header_value, and region_decide fed
 * with it), TG_REGION_CN_COUNTRIES (region_parse_countries) and the provider lists
 * TG_REGION_<R>_SIGN_IN / _PAYMENT (region_parse_providers).
 *
 * The input is used whole as a header value (bytes, may hold NUL) and, cut at the first
 * NUL byte as the environment would, as each setting. Invariants (abort() when broken):
 *  - header: accepted exactly when the value (at most REGION_HEADER_MAX bytes) without
 *    surrounding blanks is "CN" or "GLOBAL" in any case (no country) or two ASCII letters (the country, upper-cased,
 *    whose region is the country list's answer) - checked against a reference written
 *    differently; the decision then says "header" and carries that region and country, and
 *    otherwise falls through to GeoIP;
 *  - lists: success exactly when every comma-separated item, trimmed, is valid (two letters
 *    / a known name, none twice); one entry per item, in order; written back joined by
 *    commas they parse to the same entries; failures leave no entries and a one-line
 *    printable message that starts with the key.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/mem.h"
#include "domain/region.h"
#include "fuzz.h"

#define KEY_C "TG_REGION_CN_COUNTRIES"
#define KEY_P "TG_REGION_GLOBAL_PAYMENT"

/* abort() with the line, so that a driver run says which invariant broke. */
#define FAIL() (fprintf(stderr, "fuzz_region: invariant at line %d\n", __LINE__), abort())

static unsigned long hdr_ok, hdr_ignored, cty_ok, cty_bad, prov_ok, prov_bad;

static const char *const known_names[] = {"stripe", "paypal", "creem", "wechatpay", "alipay", "sandbox", NULL};

static int known(const char *name)
{
    for (size_t i = 0; known_names[i]; i++)
        if (strcmp(known_names[i], name) == 0)
            return 1;
    return 0;
}

static void check_message(const char *err, const char *key)
{
    size_t n = strlen(err), k = strlen(key);
    if (n > 400 || strncmp(err, key, k) != 0 || err[k] != ':')
        FAIL();
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)err[i] < 0x20 || (unsigned char)err[i] >= 0x7f)
            FAIL();
}

static int is_alpha(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* Trims blanks (space, tab) of s[0..*n) and returns the new start. */
static const char *trim(const char *s, size_t *n)
{
    while (*n && (*s == ' ' || *s == '\t')) {
        s++;
        (*n)--;
    }
    while (*n && (s[*n - 1] == ' ' || s[*n - 1] == '\t'))
        (*n)--;
    return s;
}

static void fuzz_header(const struct region_rules *rules, const char *data, size_t size)
{
    enum region r = (enum region)7;
    char country[3] = "!!";
    int got = region_header_value(rules, data, size, &r, country);

    size_t n = size <= REGION_HEADER_MAX ? size : 0;
    const char *v = trim(data, &n);
    int want_name = (n == 2 && strncasecmp(v, "CN", 2) == 0) || (n == 6 && strncasecmp(v, "GLOBAL", 6) == 0);
    int want_country = !want_name && n == 2 && is_alpha((unsigned char)v[0]) && is_alpha((unsigned char)v[1]);
    if (got != (want_name || want_country))
        FAIL();
    if (!got) {
        if (country[0] != '\0')
            FAIL();
        hdr_ignored++;
    } else if (want_name) {
        if (country[0] != '\0' || r != ((v[0] == 'c' || v[0] == 'C') ? REGION_CN : REGION_GLOBAL))
            FAIL();
        hdr_ok++;
    } else {
        char up[3] = {(char)(v[0] & ~0x20), (char)(v[1] & ~0x20), '\0'};
        if (strcmp(country, up) != 0 || r != region_of_country(rules, up))
            FAIL();
        hdr_ok++;
    }

    /* The decision with this header (the value as a C string, as req_trusted_header gives). */
    char *hv = xstrndup(data, size);
    struct region_inputs in = {NULL, hv, "JP"};
    struct region_decision d;
    region_decide(rules, &in, &d);
    size_t hn = strlen(hv);
    enum region r2;
    char c2[3];
    int by_header = region_header_value(rules, hv, hn, &r2, c2);
    if (by_header) {
        if (d.source != REGION_FROM_HEADER || d.region != r2 || strcmp(d.country, c2[0] ? c2 : "JP") != 0)
            FAIL();
    } else if (d.source != REGION_FROM_GEOIP || d.region != REGION_GLOBAL || strcmp(d.country, "JP") != 0) {
        FAIL();
    }
    if (d.profile != &rules->profiles[d.region])
        FAIL();
    free(hv);
}

/* Splits val at commas like the parsers; calls fn on each trimmed item; returns the count. */
static size_t items(const char *val, int (*fn)(const char *s, size_t n, void *ctx), void *ctx, int *all_ok)
{
    size_t count = 0;
    const char *p = val;
    *all_ok = 1;
    for (;;) {
        const char *end = strchr(p, ',');
        if (end == NULL)
            end = p + strlen(p);
        size_t n = (size_t)(end - p);
        const char *s = trim(p, &n);
        count++;
        if (n == 0 || !fn(s, n, ctx))
            *all_ok = 0;
        if (*end == '\0')
            return count;
        p = end + 1;
    }
}

static int country_item(const char *s, size_t n, void *ctx)
{
    (void)ctx;
    return n == 2 && is_alpha((unsigned char)s[0]) && is_alpha((unsigned char)s[1]);
}

static void fuzz_countries(const char *val)
{
    static char out[REGION_MAX_COUNTRIES][3], again[REGION_MAX_COUNTRIES][3];
    size_t n = 99, n2 = 0;
    char *err = (char *)1, *err2 = NULL;
    int all_ok;
    size_t count = items(val, country_item, NULL, &all_ok);
    int rc = region_parse_countries(KEY_C, val, out, REGION_MAX_COUNTRIES, &n, &err);
    if (rc == 0) {
        if (!all_ok || count > REGION_MAX_COUNTRIES || n != count || err != NULL)
            FAIL();
        struct sbuf b = {0};
        for (size_t i = 0; i < n; i++) {
            if (out[i][0] < 'A' || out[i][0] > 'Z' || out[i][1] < 'A' || out[i][1] > 'Z' || out[i][2] != '\0')
                FAIL();
            sbuf_printf(&b, "%s%s", i ? "," : "", out[i]);
        }
        if (region_parse_countries(KEY_C, b.data, again, REGION_MAX_COUNTRIES, &n2, &err2) != 0 || n2 != n ||
            memcmp(out, again, n * 3) != 0)
            FAIL();
        sbuf_free(&b);
        cty_ok++;
    } else {
        if (rc != -1 || n != 0 || err == NULL || (all_ok && count <= REGION_MAX_COUNTRIES))
            FAIL();
        check_message(err, KEY_C);
        free(err);
        cty_bad++;
    }
}

struct prov_ctx {
    char seen[REGION_MAX_PROVIDERS + 1][REGION_PROVIDER_MAX];
    size_t n;
};

static int provider_item(const char *s, size_t n, void *ctx)
{
    struct prov_ctx *c = ctx;
    char name[REGION_PROVIDER_MAX];
    if (n >= sizeof name)
        return 0;
    memcpy(name, s, n);
    name[n] = '\0';
    if (!known(name))
        return 0;
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->seen[i], name) == 0)
            return 0;
    if (c->n <= REGION_MAX_PROVIDERS)
        memcpy(c->seen[c->n++], name, n + 1);
    return 1;
}

static void fuzz_providers(const char *val)
{
    char out[REGION_MAX_PROVIDERS][REGION_PROVIDER_MAX], again[REGION_MAX_PROVIDERS][REGION_PROVIDER_MAX];
    size_t n = 99, n2 = 0;
    char *err = (char *)1, *err2 = NULL;
    struct prov_ctx ref = {.n = 0};
    int all_ok;
    size_t count = items(val, provider_item, &ref, &all_ok);
    int rc = region_parse_providers(KEY_P, "payment provider", val, known, out, &n, &err);
    if (rc == 0) {
        if (!all_ok || n != count || err != NULL)
            FAIL();
        struct sbuf b = {0};
        for (size_t i = 0; i < n; i++) {
            if (strcmp(out[i], ref.seen[i]) != 0)
                FAIL();
            sbuf_printf(&b, "%s%s", i ? " , " : "", out[i]);
        }
        if (region_parse_providers(KEY_P, "payment provider", b.data, known, again, &n2, &err2) != 0 || n2 != n)
            FAIL();
        for (size_t i = 0; i < n; i++)
            if (strcmp(out[i], again[i]) != 0)
                FAIL();
        sbuf_free(&b);
        prov_ok++;
    } else {
        if (rc != -1 || n != 0 || err == NULL || all_ok)
            FAIL();
        check_message(err, KEY_P);
        free(err);
        prov_bad++;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct region_rules rules;
    static int built;
    if (!built) {
        /* CN, HK, MO and SG are China here; everything known and configured. */
        struct region_settings set = {0};
        struct region_catalog cat = {known, known, known, known, 0};
        char *err = NULL;
        set.cn_countries = "CN,HK,MO,SG";
        set.sign_in[0] = set.sign_in[1] = "sandbox";
        if (region_rules_build(&set, &cat, &rules, &err) != 0) {
            fprintf(stderr, "fuzz_region: %s\n", err);
            FAIL();
        }
        built = 1;
    }
    fuzz_header(&rules, (const char *)data, size);
    char *val = xstrndup((const char *)data, size);
    fuzz_countries(val);
    fuzz_providers(val);
    free(val);
    return 0;
}

void fuzz_seeds(void (*add)(const uint8_t *data, size_t size))
{
    static const char *texts[] = {
        "CN",
        "GLOBAL",
        " global\t",
        "hk",
        "Sg",
        "JP",
        "CHN",
        "C",
        "--",
        "CN,GLOBAL",
        "CN,HK,MO",
        " cn , hk ,mo ",
        "CN,,HK",
        "CN,",
        "stripe,paypal,creem",
        "wechatpay, alipay ,sandbox",
        "stripe,stripe",
        "stripe,venmo",
        "\xe4\xb8\xad\xe5\x9b\xbd",
        "GLOBAL;q=1",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
        add((const uint8_t *)texts[i], strlen(texts[i]));
    static const uint8_t with_nul[] = {'C', 'N', 0, 'H', 'K'};
    add(with_nul, sizeof with_nul);
}

void fuzz_report(void)
{
    printf("header accepted %lu, ignored %lu; countries ok %lu, refused %lu; providers ok %lu, refused %lu\n",
           hdr_ok, hdr_ignored, cty_ok, cty_bad, prov_ok, prov_bad);
}
