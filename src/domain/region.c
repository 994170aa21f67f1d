/*
 * region.c - region decision and region profiles (see region.h).
 *
 * The built-in defaults live here and only here (the option table in core/config.c leaves
 * these keys without a default so that an unset key reads as NULL): DESIGN section 6 and
 * the seeds' dual system - China gets WeChat and the Chinese payment providers in CNY,
 * everyone else Google and the card/wallet providers in USD.
 */
#include "domain/region.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/config.h"
#include "core/errors.h"
#include "core/log.h"
#include "core/mem.h"
#include "providers/providers.h"

static const char *const region_names[REGION_COUNT] = {"GLOBAL", "CN"};

/* Built-in settings, indexed by enum region. */
static const char *const region_default_sign_in[REGION_COUNT] = {"google,email", "wechat,email"};
static const char *const region_default_payment[REGION_COUNT] = {"stripe,paypal,creem", "wechatpay,alipay"};
static const char *const region_default_currency[REGION_COUNT] = {"USD", "CNY"};
static const char *const region_default_locale[REGION_COUNT] = {"en-US", "zh-CN"};
#define REGION_DEFAULT_CN_COUNTRIES "CN,HK,MO"
#define REGION_DEFAULT_REGION "GLOBAL"

/* The process's rules: written once by region_init before any thread reads them. */
static struct region_rules region_cur;

const char *region_name(enum region r)
{
    return (unsigned)r < REGION_COUNT ? region_names[r] : "GLOBAL";
}

const char *region_source_name(enum region_source s)
{
    switch (s) {
    case REGION_FROM_USER: return "user";
    case REGION_FROM_HEADER: return "header";
    case REGION_FROM_GEOIP: return "geoip";
    case REGION_FROM_DEFAULT: return "default";
    }
    return "default";
}

int region_parse_name(const char *s, size_t len, enum region *out)
{
    if (s == NULL)
        return -1;
    for (int r = 0; r < REGION_COUNT; r++)
        if (strlen(region_names[r]) == len && memcmp(region_names[r], s, len) == 0) {
            *out = (enum region)r;
            return 0;
        }
    return -1;
}

static int region_is_alpha(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static char region_upper(char c)
{
    return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

enum region region_of_country(const struct region_rules *rules, const char *country)
{
    for (size_t i = 0; i < rules->n_cn_countries; i++)
        if (rules->cn_countries[i][0] == country[0] && rules->cn_countries[i][1] == country[1] && country[1] != '\0')
            return REGION_CN;
    return REGION_GLOBAL;
}

int region_header_value(const struct region_rules *rules, const char *v, size_t len, enum region *out,
                        char country[3])
{
    country[0] = '\0';
    /* Longer values are nothing we take, whatever blanks they carry: bounded work, and
     * region_decide can look at a C string through strnlen without reading it all. */
    if (v == NULL || len > REGION_HEADER_MAX)
        return 0;
    while (len > 0 && (*v == ' ' || *v == '\t')) {
        v++;
        len--;
    }
    while (len > 0 && (v[len - 1] == ' ' || v[len - 1] == '\t'))
        len--;
    if (len == 0)
        return 0;
    /* Region names first: "CN" is both a region and a country, and means region CN either
     * way; the country then comes from GeoIP, if anywhere. */
    for (int r = 0; r < REGION_COUNT; r++)
        if (strlen(region_names[r]) == len && strncasecmp(region_names[r], v, len) == 0) {
            *out = (enum region)r;
            return 1;
        }
    if (len != 2 || !region_is_alpha(v[0]) || !region_is_alpha(v[1]))
        return 0;
    country[0] = region_upper(v[0]);
    country[1] = region_upper(v[1]);
    country[2] = '\0';
    *out = region_of_country(rules, country);
    return 1;
}

/* 1 when c is an upper-case alpha-2 code (what geo/ returns). */
static int region_country_ok(const char *c)
{
    return c != NULL && c[0] >= 'A' && c[0] <= 'Z' && c[1] >= 'A' && c[1] <= 'Z' && c[2] == '\0';
}

void region_decide(const struct region_rules *rules, const struct region_inputs *in, struct region_decision *out)
{
    enum region r = REGION_GLOBAL;
    char hc[3] = "";
    int by_header = in->header != NULL &&
                    region_header_value(rules, in->header, strnlen(in->header, REGION_HEADER_MAX + 1), &r, hc);
    int geo_ok = region_country_ok(in->geo_country);

    memset(out, 0, sizeof *out);
    if (in->saved != NULL && region_parse_name(in->saved, strlen(in->saved), &out->region) == 0) {
        out->source = REGION_FROM_USER;
    } else if (by_header) {
        out->region = r;
        out->source = REGION_FROM_HEADER;
    } else if (geo_ok) {
        out->region = region_of_country(rules, in->geo_country);
        out->source = REGION_FROM_GEOIP;
    } else {
        out->region = rules->default_region;
        out->source = REGION_FROM_DEFAULT;
    }
    if (hc[0] != '\0')
        memcpy(out->country, hc, sizeof hc);
    else if (geo_ok)
        memcpy(out->country, in->geo_country, 3);
    out->profile = &rules->profiles[out->region];
}

/* ---- settings ---------------------------------------------------------------------------- */

/* Copies s[0..n) for a message: printable ASCII only, at most 32 characters. */
static const char *region_show(const char *s, size_t n, char out[40])
{
    size_t j = 0;
    for (size_t i = 0; i < n && j < 32; i++) {
        unsigned char c = (unsigned char)s[i];
        out[j++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    if (n > 32) {
        memcpy(out + j, "...", 3);
        j += 3;
    }
    out[j] = '\0';
    return out;
}

/*
 * Walks a comma-separated list: calls item(ctx, entry, len) for each entry with blanks
 * trimmed, stopping at the first that fails. An empty entry is an error. Returns 0 or -1
 * with *err.
 */
typedef int (*region_item_fn)(void *ctx, const char *key, const char *s, size_t len, char **err);
static int region_walk_list(const char *key, const char *val, region_item_fn item, void *ctx, char **err)
{
    const char *p = val;
    for (;;) {
        const char *end = strchr(p, ',');
        if (end == NULL)
            end = p + strlen(p);
        const char *b = p, *e = end;
        while (b < e && (*b == ' ' || *b == '\t'))
            b++;
        while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if (b == e) {
            *err = xasprintf("%s: empty entry in the list (entries are separated by single commas)", key);
            return -1;
        }
        if (item(ctx, key, b, (size_t)(e - b), err) != 0)
            return -1;
        if (*end == '\0')
            return 0;
        p = end + 1;
    }
}

struct region_countries_ctx {
    char (*out)[3];
    size_t cap, n;
};

static int region_country_item(void *ctx, const char *key, const char *s, size_t len, char **err)
{
    struct region_countries_ctx *c = ctx;
    char shown[40];
    if (len != 2 || !region_is_alpha(s[0]) || !region_is_alpha(s[1])) {
        *err = xasprintf("%s: '%s' is not a two-letter country code (ISO 3166-1 alpha-2, e.g. CN)", key,
                         region_show(s, len, shown));
        return -1;
    }
    if (c->n == c->cap) {
        *err = xasprintf("%s: more than %zu countries", key, c->cap);
        return -1;
    }
    c->out[c->n][0] = region_upper(s[0]);
    c->out[c->n][1] = region_upper(s[1]);
    c->out[c->n][2] = '\0';
    c->n++;
    return 0;
}

int region_parse_countries(const char *key, const char *val, char out[][3], size_t cap, size_t *n, char **err)
{
    struct region_countries_ctx c = {out, cap, 0};
    *n = 0;
    *err = NULL;
    if (region_walk_list(key, val, region_country_item, &c, err) != 0)
        return -1;
    *n = c.n;
    return 0;
}

struct region_providers_ctx {
    const char *what;
    int (*known)(const char *name);
    char (*out)[REGION_PROVIDER_MAX];
    size_t n;
};

static int region_provider_item(void *ctx, const char *key, const char *s, size_t len, char **err)
{
    struct region_providers_ctx *c = ctx;
    char shown[40], name[REGION_PROVIDER_MAX];
    if (len >= sizeof name || memchr(s, '\0', len) != NULL) {
        *err = xasprintf("%s: unknown %s '%s'", key, c->what, region_show(s, len, shown));
        return -1;
    }
    memcpy(name, s, len);
    name[len] = '\0';
    if (!c->known(name)) {
        *err = xasprintf("%s: unknown %s '%s'", key, c->what, region_show(s, len, shown));
        return -1;
    }
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->out[i], name) == 0) {
            *err = xasprintf("%s: %s is listed twice", key, name);
            return -1;
        }
    if (c->n == REGION_MAX_PROVIDERS) {
        *err = xasprintf("%s: more than %d entries", key, REGION_MAX_PROVIDERS);
        return -1;
    }
    memcpy(c->out[c->n++], name, len + 1);
    return 0;
}

int region_parse_providers(const char *key, const char *what, const char *val, int (*known)(const char *name),
                           char out[][REGION_PROVIDER_MAX], size_t *n, char **err)
{
    struct region_providers_ctx c = {what, known, out, 0};
    *n = 0;
    *err = NULL;
    if (region_walk_list(key, val, region_provider_item, &c, err) != 0)
        return -1;
    *n = c.n;
    return 0;
}

/* ISO 4217: three upper-case letters. */
static int region_currency_ok(const char *s)
{
    return strlen(s) == 3 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z' && s[2] >= 'A' &&
           s[2] <= 'Z';
}

/* A BCP 47 tag as clients use them: a 2-3 letter language, then subtags of 1-8 letters or
 * digits, joined by '-' ("en-US", "zh-Hans-CN"). Not a full RFC 5646 check: the value goes
 * to browsers' Intl, which rejects the rest. */
static int region_locale_ok(const char *s)
{
    size_t n = strlen(s), i = 0, sub = 0;
    if (n == 0 || n >= REGION_LOCALE_MAX)
        return 0;
    while (i < n && region_is_alpha(s[i]))
        i++;
    if (i < 2 || i > 3)
        return 0;
    while (i < n) {
        if (s[i] != '-')
            return 0;
        i++;
        sub = 0;
        while (i < n && (region_is_alpha(s[i]) || (s[i] >= '0' && s[i] <= '9'))) {
            i++;
            sub++;
        }
        if (sub < 1 || sub > 8)
            return 0;
    }
    return 1;
}

/* Keeps the available entries of list[0..*n) in order; appends "sandbox" when asked. */
static void region_filter(char list[][REGION_PROVIDER_MAX], size_t *n, int (*available)(const char *name),
                          int sandbox)
{
    size_t k = 0;
    int has_sandbox = 0;
    for (size_t i = 0; i < *n; i++) {
        if (!available(list[i]))
            continue;
        has_sandbox |= strcmp(list[i], "sandbox") == 0;
        if (k != i)
            memcpy(list[k], list[i], REGION_PROVIDER_MAX);
        k++;
    }
    /* The registries know fewer names than REGION_MAX_PROVIDERS and none is listed twice,
     * so a list without sandbox always has room for it. */
    if (sandbox && !has_sandbox && ALWAYS(k < REGION_MAX_PROVIDERS))
        snprintf(list[k++], REGION_PROVIDER_MAX, "%s", "sandbox");
    *n = k;
}

int region_rules_build(const struct region_settings *set, const struct region_catalog *cat,
                       struct region_rules *out, char **err)
{
    char key[64], shown[40];
    const char *v;

    *err = NULL;
    memset(out, 0, sizeof *out);
    v = set->default_region ? set->default_region : REGION_DEFAULT_REGION;
    if (region_parse_name(v, strlen(v), &out->default_region) != 0) {
        *err = xasprintf("TG_DEFAULT_REGION: must be GLOBAL or CN, not '%s'", region_show(v, strlen(v), shown));
        return -1;
    }
    v = set->cn_countries ? set->cn_countries : REGION_DEFAULT_CN_COUNTRIES;
    if (region_parse_countries("TG_REGION_CN_COUNTRIES", v, out->cn_countries, REGION_MAX_COUNTRIES,
                               &out->n_cn_countries, err) != 0)
        return -1;
    for (int r = 0; r < REGION_COUNT; r++) {
        struct region_profile *p = &out->profiles[r];
        p->region = (enum region)r;
        snprintf(key, sizeof key, "TG_REGION_%s_SIGN_IN", region_names[r]);
        v = set->sign_in[r] ? set->sign_in[r] : region_default_sign_in[r];
        if (region_parse_providers(key, "sign-in method", v, cat->signin_known, p->sign_in, &p->n_sign_in, err) !=
            0)
            return -1;
        snprintf(key, sizeof key, "TG_REGION_%s_PAYMENT", region_names[r]);
        v = set->payment[r] ? set->payment[r] : region_default_payment[r];
        if (region_parse_providers(key, "payment provider", v, cat->payment_known, p->payment, &p->n_payment,
                                   err) != 0)
            return -1;
        v = set->currency[r] ? set->currency[r] : region_default_currency[r];
        if (!region_currency_ok(v)) {
            *err = xasprintf("TG_REGION_%s_CURRENCY: '%s' is not an ISO 4217 code (three upper-case letters)",
                             region_names[r], region_show(v, strlen(v), shown));
            return -1;
        }
        memcpy(p->currency, v, 4);
        v = set->locale[r] ? set->locale[r] : region_default_locale[r];
        if (!region_locale_ok(v)) {
            *err = xasprintf("TG_REGION_%s_LOCALE: '%s' is not a language tag like en-US or zh-CN", region_names[r],
                             region_show(v, strlen(v), shown));
            return -1;
        }
        snprintf(p->locale, sizeof p->locale, "%s", v);
        region_filter(p->sign_in, &p->n_sign_in, cat->signin_available, cat->sandbox);
        region_filter(p->payment, &p->n_payment, cat->payment_available, cat->sandbox);
    }
    return 0;
}

/* ---- the process's rules ------------------------------------------------------------------ */

/* "a,b,c" of n names stored REGION_PROVIDER_MAX apart from first. */
static void region_join(const char *first, size_t n, char *buf, size_t cap)
{
    size_t off = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && off < cap; i++) {
        int w = snprintf(buf + off, cap - off, "%s%s", i ? "," : "", first + i * REGION_PROVIDER_MAX);
        if (w < 0)
            break;
        off += (size_t)w;
    }
}

int region_init(char **err)
{
    struct region_settings set = {0};
    struct region_catalog cat = {providers_signin_known, providers_signin_available, providers_payment_known,
                                 providers_payment_available, tg_cfg != NULL && tg_cfg->sandbox};
    static const char *const keys[REGION_COUNT][4] = {
        {"TG_REGION_GLOBAL_SIGN_IN", "TG_REGION_GLOBAL_PAYMENT", "TG_REGION_GLOBAL_CURRENCY",
         "TG_REGION_GLOBAL_LOCALE"},
        {"TG_REGION_CN_SIGN_IN", "TG_REGION_CN_PAYMENT", "TG_REGION_CN_CURRENCY", "TG_REGION_CN_LOCALE"},
    };
    struct region_rules *rules = xmalloc(sizeof *rules);
    int rc = -1;

    set.default_region = tg_cfg != NULL ? tg_cfg->default_region : NULL;
    set.cn_countries = config_get("TG_REGION_CN_COUNTRIES");
    for (int r = 0; r < REGION_COUNT; r++) {
        set.sign_in[r] = config_get(keys[r][0]);
        set.payment[r] = config_get(keys[r][1]);
        set.currency[r] = config_get(keys[r][2]);
        set.locale[r] = config_get(keys[r][3]);
    }
    if (region_rules_build(&set, &cat, rules, err) != 0)
        goto cleanup;
    for (int r = 0; r < REGION_COUNT; r++) {
        const struct region_profile *p = &rules->profiles[r];
        char si[REGION_MAX_PROVIDERS * REGION_PROVIDER_MAX], pay[REGION_MAX_PROVIDERS * REGION_PROVIDER_MAX];
        region_join(p->sign_in[0], p->n_sign_in, si, sizeof si);
        region_join(p->payment[0], p->n_payment, pay, sizeof pay);
        log_event(LOG_INFO, "region_profile", "region", region_names[r], "sign_in", si, "payment", pay,
                  "currency", p->currency, "locale", p->locale, NULL);
        /* Configured providers are what the operator meant to offer; an empty list means
         * nobody in the region can buy anything, which is worth saying at every start. */
        if (p->n_payment == 0)
            log_event(LOG_WARN, "region_no_payment", "region", region_names[r], "setting", keys[r][1], "hint",
                      "no payment provider of this region has credentials, and TG_SANDBOX is off", NULL);
        if (p->n_sign_in == 0)
            log_event(LOG_WARN, "region_no_sign_in", "region", region_names[r], "setting", keys[r][0], "hint",
                      "no sign-in method of this region is configured, and TG_SANDBOX is off", NULL);
    }
    region_cur = *rules;
    rc = 0;
cleanup:
    free(rules);
    return rc;
}

const struct region_rules *region_rules(void)
{
    return &region_cur;
}

const struct region_profile *region_profile(enum region r)
{
    return &region_cur.profiles[(unsigned)r < REGION_COUNT ? r : REGION_GLOBAL];
}
