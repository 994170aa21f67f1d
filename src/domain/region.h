/*
 * region.h - which region a caller is in, and what that region offers (DESIGN section 6).
 *
 * Two regions, "CN" and "GLOBAL". The decision, first match wins:
 *   1. user    - the signed-in user's saved choice (users.region);
 *   2. header  - X-User-Region as set by a trusted proxy (the caller passes it only when the
 *                TCP peer is in TG_TRUSTED_PROXIES): "CN" or "GLOBAL" in any case names the
 *                region; any other two letters are a country code (what nginx's GeoIP2 module
 *                gives), mapped through TG_REGION_CN_COUNTRIES; anything else is ignored;
 *   3. geoip   - the country of the client address (TG_GEOIP_DB), mapped the same way;
 *   4. default - TG_DEFAULT_REGION.
 * The country reported with a decision is the header's country code, else the GeoIP
 * country, else none, whichever source decided the region (it is information for the
 * client, e.g. to preselect a phone prefix; the region is what the server acts on).
 *
 * A region profile is what the region offers: sign-in methods and payment providers in
 * order of preference, currency and locale. Profiles are built once at start from
 * TG_REGION_<R>_* with built-in defaults; providers without credentials are left out and,
 * while TG_SANDBOX is on, "sandbox" closes both lists, so the defaults always work.
 *
 * The parsers and the decision are pure (tests and fuzz targets call them directly);
 * region_init() ties them to the configuration and the provider registries.
 */
#ifndef TG_DOMAIN_REGION_H
#define TG_DOMAIN_REGION_H

#include <stddef.h>

enum region { REGION_GLOBAL = 0, REGION_CN = 1 };
#define REGION_COUNT 2

enum region_source {
    REGION_FROM_USER = 0,
    REGION_FROM_HEADER,
    REGION_FROM_GEOIP,
    REGION_FROM_DEFAULT,
};

/* Bounds of the settings: the registries know 4 sign-in methods and 6 payment providers;
 * ISO 3166-1 has 249 countries. */
#define REGION_MAX_PROVIDERS 16
#define REGION_PROVIDER_MAX 16 /* longest provider name + NUL */
#define REGION_MAX_COUNTRIES 256
#define REGION_LOCALE_MAX 36   /* a BCP 47 tag as used here ("zh-Hans-CN") + NUL */
/* Longest X-User-Region value looked at ("GLOBAL" and two-letter codes are all we take). */
#define REGION_HEADER_MAX 64

struct region_profile {
    enum region region;
    char currency[4];                 /* ISO 4217, "CNY" */
    char locale[REGION_LOCALE_MAX];   /* "zh-CN" */
    size_t n_sign_in;
    char sign_in[REGION_MAX_PROVIDERS][REGION_PROVIDER_MAX]; /* registry names, in order */
    size_t n_payment;
    char payment[REGION_MAX_PROVIDERS][REGION_PROVIDER_MAX];
};

/* Everything the decision and the profiles need, built once (region_rules_build). */
struct region_rules {
    enum region default_region;
    size_t n_cn_countries;
    char cn_countries[REGION_MAX_COUNTRIES][3]; /* upper-case alpha-2 codes */
    struct region_profile profiles[REGION_COUNT];
};

/* What a request brings to the decision. Every field may be NULL or "" (absent). */
struct region_inputs {
    const char *saved;       /* users.region of the signed-in user */
    const char *header;      /* X-User-Region, only when the peer is a trusted proxy */
    const char *geo_country; /* the GeoIP country of the client address */
};

struct region_decision {
    enum region region;
    enum region_source source;
    char country[3]; /* "" when unknown */
    const struct region_profile *profile; /* borrowed from the rules */
};

/* The settings as text, one per option (NULL takes the built-in default). */
struct region_settings {
    const char *default_region;        /* TG_DEFAULT_REGION: "GLOBAL" */
    const char *cn_countries;          /* TG_REGION_CN_COUNTRIES: "CN,HK,MO" */
    const char *sign_in[REGION_COUNT]; /* TG_REGION_<R>_SIGN_IN */
    const char *payment[REGION_COUNT]; /* TG_REGION_<R>_PAYMENT */
    const char *currency[REGION_COUNT];
    const char *locale[REGION_COUNT];
};

/* Which providers exist and which are configured (providers/providers.h in production). */
struct region_catalog {
    int (*signin_known)(const char *name);
    int (*signin_available)(const char *name);
    int (*payment_known)(const char *name);
    int (*payment_available)(const char *name);
    int sandbox; /* TG_SANDBOX: "sandbox" closes both lists */
};

/* "GLOBAL" / "CN". */
const char *region_name(enum region r);
/* "user", "header", "geoip", "default". */
const char *region_source_name(enum region_source s);
/* A stored or requested region value: exactly "CN" or "GLOBAL" (len bytes). 0 and *out, or -1. */
int region_parse_name(const char *s, size_t len, enum region *out);

/* The region a country (upper-case alpha-2) belongs to under rules. */
enum region region_of_country(const struct region_rules *rules, const char *country);

/*
 * Reads an X-User-Region value (len bytes; longer than REGION_HEADER_MAX is ignored;
 * surrounding blanks are not part of it): "CN" / "GLOBAL" in any case name the region (country ""),
 * two ASCII letters are a country code (country set, upper-case) mapped through the rules.
 * Returns 1 with *out and country set, or 0 (ignored: country "").
 */
int region_header_value(const struct region_rules *rules, const char *v, size_t len, enum region *out,
                        char country[3]);

/* The decision for in under rules (see the top of this file). Always succeeds. */
void region_decide(const struct region_rules *rules, const struct region_inputs *in, struct region_decision *out);

/*
 * Parses a country list (TG_REGION_CN_COUNTRIES): comma-separated two-letter codes, any case,
 * blanks around entries allowed, 1..REGION_MAX_COUNTRIES entries; duplicates are harmless.
 * key names the option in messages. Returns 0 with out[0..*n) upper-case, or -1 with *n 0
 * and *err a one-line printable message (caller frees with free()).
 */
int region_parse_countries(const char *key, const char *val, char out[][3], size_t cap, size_t *n, char **err);
/*
 * Parses a provider list (TG_REGION_<R>_SIGN_IN / _PAYMENT): comma-separated names, blanks
 * around entries allowed, 1..REGION_MAX_PROVIDERS entries, each known to known() (what =
 * "sign-in method" or "payment provider" in messages), none twice. Returns 0 with
 * out[0..*n), or -1 with *n 0 and *err a one-line printable message (caller frees).
 */
int region_parse_providers(const char *key, const char *what, const char *val, int (*known)(const char *name),
                           char out[][REGION_PROVIDER_MAX], size_t *n, char **err);

/*
 * Builds rules from settings and the provider catalogue: unknown names, malformed codes,
 * currencies (three upper-case letters) or locales (language[-subtag...]) are errors;
 * providers that are not available are left out; with cat->sandbox, "sandbox" is appended to
 * both lists of every region unless already there. Returns 0, or -1 with *err (one line
 * naming the option; caller frees).
 */
int region_rules_build(const struct region_settings *set, const struct region_catalog *cat,
                       struct region_rules *out, char **err);

/*
 * Builds the process's rules from the configuration (tg_cfg, config_get) and the provider
 * registries, and logs each profile (and a warning for a region left without any payment
 * provider). Call once at start, before any thread decides. Returns 0, or -1 with *err.
 */
int region_init(char **err);
/* The process's rules (borrowed, read-only; valid after region_init). */
const struct region_rules *region_rules(void);
/* The process's profile of r. */
const struct region_profile *region_profile(enum region r);

#endif
