/*
 * Unit tests for src/domain/region.c (the decision table, the settings parsers, profile
 * building, region_init against the real configuration and provider registries) and
 * src/geo/geoip.c (lookups in MaxMind's test databases in tests/data/geoip, whose README
 * lists the addresses used here).
 */
#include "../test.h"

#include <ftw.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/config.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "domain/region.h"
#include "geo/geo.h"

#ifndef TG_TEST_GEOIP_DIR
#error "meson passes TG_TEST_GEOIP_DIR (tests/data/geoip in the source tree)"
#endif

static char tmpdir[] = "/tmp/tg_test_region_XXXXXX";

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

/* Removes every TG_ variable so that one case cannot leak into the next. */
static void env_clear(void)
{
    for (;;) {
        char name[256] = "";
        for (char **e = environ; *e; e++)
            if (strncmp(*e, "TG_", 3) == 0) {
                const char *eq = strchr(*e, '=');
                size_t n = eq ? (size_t)(eq - *e) : strlen(*e);
                if (n < sizeof name) {
                    memcpy(name, *e, n);
                    name[n] = '\0';
                }
                break;
            }
        if (name[0] == '\0')
            return;
        unsetenv(name);
    }
}

/* ---- a provider catalogue under the test's control --------------------------------------- */

static const char *const signin_names[] = {"email", "google", "wechat", "sandbox", NULL};
static const char *const payment_names[] = {"stripe", "paypal", "creem", "wechatpay", "alipay", "sandbox", NULL};
/* Names the fake catalogue reports as configured (NULL-terminated); all when NULL. */
static const char *const *avail_signin;
static const char *const *avail_payment;

static int in_list(const char *const *list, const char *name)
{
    for (size_t i = 0; list[i]; i++)
        if (strcmp(list[i], name) == 0)
            return 1;
    return 0;
}
static int fk_signin_known(const char *n) { return in_list(signin_names, n); }
static int fk_payment_known(const char *n) { return in_list(payment_names, n); }
static int fk_signin_avail(const char *n) { return in_list(signin_names, n) && (!avail_signin || in_list(avail_signin, n)); }
static int fk_payment_avail(const char *n) { return in_list(payment_names, n) && (!avail_payment || in_list(avail_payment, n)); }

static struct region_catalog catalog(int sandbox)
{
    struct region_catalog c = {fk_signin_known, fk_signin_avail, fk_payment_known, fk_payment_avail, sandbox};
    return c;
}

/* "a,b,c" of a profile list, for comparisons. */
static const char *joined(const char *first, size_t n)
{
    static char buf[4][256];
    static int slot;
    char *b = buf[slot++ % 4];
    b[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (i)
            strcat(b, ",");
        strcat(b, first + i * REGION_PROVIDER_MAX);
    }
    return b;
}
#define SIGN_IN(p) joined((p)->sign_in[0], (p)->n_sign_in)
#define PAYMENT(p) joined((p)->payment[0], (p)->n_payment)

static struct region_rules rules_default; /* built-in settings, everything configured */

static void build_defaults(void)
{
    struct region_settings set = {0};
    struct region_catalog cat = catalog(0);
    char *err = NULL;
    avail_signin = avail_payment = NULL;
    CHECK(region_rules_build(&set, &cat, &rules_default, &err) == 0, "built-in settings build");
    free(err);
}

/* ---- names ------------------------------------------------------------------------------- */

static void test_names(void)
{
    enum region r = REGION_GLOBAL;
    CHECK(region_parse_name("CN", 2, &r) == 0 && r == REGION_CN, "CN is a region");
    CHECK(region_parse_name("GLOBAL", 6, &r) == 0 && r == REGION_GLOBAL, "GLOBAL is a region");
    static const char *const bad[] = {"cn", "Global", "", "CN ", "CNX", "GLOBALX", "US", "null"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK(region_parse_name(bad[i], strlen(bad[i]), &r) == -1, "stored/requested value '%s' is refused", bad[i]);
    CHECK(region_parse_name("CNX", 2, &r) == 0 && r == REGION_CN, "the length is what counts (prefix CN of CNX)");
    CHECK(region_parse_name(NULL, 0, &r) == -1, "NULL is no region");
    CHECK_STR_EQ(region_name(REGION_CN), "CN", "name of CN");
    CHECK_STR_EQ(region_name(REGION_GLOBAL), "GLOBAL", "name of GLOBAL");
    CHECK_STR_EQ(region_source_name(REGION_FROM_USER), "user", "source user");
    CHECK_STR_EQ(region_source_name(REGION_FROM_HEADER), "header", "source header");
    CHECK_STR_EQ(region_source_name(REGION_FROM_GEOIP), "geoip", "source geoip");
    CHECK_STR_EQ(region_source_name(REGION_FROM_DEFAULT), "default", "source default");
}

/* ---- the decision table ------------------------------------------------------------------- */

struct row {
    const char *saved, *header, *geo;
    const char *want_region, *want_source, *want_country;
};

static void run_rows(const struct region_rules *rules, const struct row *rows, size_t n, const char *what)
{
    for (size_t i = 0; i < n; i++) {
        const struct row *w = &rows[i];
        struct region_inputs in = {w->saved, w->header, w->geo};
        struct region_decision d;
        memset(&d, 0x5a, sizeof d);
        region_decide(rules, &in, &d);
        char got[96], want[96];
        snprintf(got, sizeof got, "%s/%s/%s", region_name(d.region), region_source_name(d.source),
                 d.country[0] ? d.country : "-");
        snprintf(want, sizeof want, "%s/%s/%s", w->want_region, w->want_source, w->want_country);
        CHECK_STR_EQ(got, want, "%s: saved=%s header=%s geo=%s", what, w->saved ? w->saved : "(none)",
                     w->header ? w->header : "(none)", w->geo ? w->geo : "(none)");
        CHECK(d.profile == &rules->profiles[d.region], "%s row %zu: the profile is the region's", what, i);
    }
}

static void test_decision_table(void)
{
    static const struct row rows[] = {
        /* 1. the saved choice wins over everything */
        {"CN", "GLOBAL", "US", "CN", "user", "US"},
        {"GLOBAL", "CN", "CN", "GLOBAL", "user", "CN"},
        {"GLOBAL", "hk", "CN", "GLOBAL", "user", "HK"},
        {"CN", NULL, NULL, "CN", "user", "-"},
        /* a saved value that is not exactly a region name is no choice */
        {"", NULL, "CN", "CN", "geoip", "CN"},
        {"cn", NULL, "US", "GLOBAL", "geoip", "US"},
        {"EU", "CN", NULL, "CN", "header", "-"},
        /* 2. the trusted header: region names in any case, else a country code */
        {NULL, "CN", "US", "CN", "header", "US"},
        {NULL, "cn", NULL, "CN", "header", "-"},
        {NULL, "GLOBAL", "CN", "GLOBAL", "header", "CN"},
        {NULL, "global", "HK", "GLOBAL", "header", "HK"},
        {NULL, "Global", NULL, "GLOBAL", "header", "-"},
        {NULL, " \tCN\t ", NULL, "CN", "header", "-"},
        {NULL, "HK", "US", "CN", "header", "HK"},
        {NULL, "mo", NULL, "CN", "header", "MO"},
        {NULL, "Hk", NULL, "CN", "header", "HK"},
        {NULL, "JP", "CN", "GLOBAL", "header", "JP"},
        {NULL, "us", NULL, "GLOBAL", "header", "US"},
        {NULL, "TW", NULL, "GLOBAL", "header", "TW"},
        {NULL, "ZZ", NULL, "GLOBAL", "header", "ZZ"},
        /* bad header values are ignored: GeoIP or the default decides */
        {NULL, "", "CN", "CN", "geoip", "CN"},
        {NULL, "   ", "US", "GLOBAL", "geoip", "US"},
        {NULL, "C", "CN", "CN", "geoip", "CN"},
        {NULL, "CHN", "US", "GLOBAL", "geoip", "US"},
        {NULL, "C1", NULL, "GLOBAL", "default", "-"},
        {NULL, "--", NULL, "GLOBAL", "default", "-"},
        {NULL, "\xe4\xb8\xad\xe5\x9b\xbd", NULL, "GLOBAL", "default", "-"},
        {NULL, "CN,GLOBAL", NULL, "GLOBAL", "default", "-"},
        {NULL, "CN, CN", NULL, "GLOBAL", "default", "-"},
        {NULL, "GLOBAL;q=1", "CN", "CN", "geoip", "CN"},
        {NULL, "C N", NULL, "GLOBAL", "default", "-"},
        {NULL, "GLOBALCN", NULL, "GLOBAL", "default", "-"},
        {NULL, "CN\r\n", NULL, "GLOBAL", "default", "-"},
        /* 3. GeoIP: CN, HK and MO are China by default */
        {NULL, NULL, "CN", "CN", "geoip", "CN"},
        {NULL, NULL, "HK", "CN", "geoip", "HK"},
        {NULL, NULL, "MO", "CN", "geoip", "MO"},
        {NULL, NULL, "TW", "GLOBAL", "geoip", "TW"},
        {NULL, NULL, "SG", "GLOBAL", "geoip", "SG"},
        {NULL, NULL, "US", "GLOBAL", "geoip", "US"},
        {NULL, NULL, "ZZ", "GLOBAL", "geoip", "ZZ"},
        /* a country that is not two upper-case letters is unknown */
        {NULL, NULL, "cn", "GLOBAL", "default", "-"},
        {NULL, NULL, "CHN", "GLOBAL", "default", "-"},
        {NULL, NULL, "", "GLOBAL", "default", "-"},
        /* 4. the default */
        {NULL, NULL, NULL, "GLOBAL", "default", "-"},
    };
    run_rows(&rules_default, rows, sizeof rows / sizeof rows[0], "default rules");

    /* A long header is ignored without reading past REGION_HEADER_MAX. */
    char longv[4096];
    memset(longv, 'C', sizeof longv - 1);
    longv[sizeof longv - 1] = '\0';
    struct row big[] = {{NULL, longv, NULL, "GLOBAL", "default", "-"}};
    run_rows(&rules_default, big, 1, "4 KiB header");
}

static void test_custom_rules(void)
{
    struct region_settings set = {0};
    struct region_catalog cat = catalog(0);
    struct region_rules rules;
    char *err = NULL;

    set.default_region = "CN";
    set.cn_countries = "cn, sg";
    CHECK(region_rules_build(&set, &cat, &rules, &err) == 0, "custom country list builds");
    free(err);
    CHECK_INT_EQ(rules.n_cn_countries, 2, "two countries");
    static const struct row rows[] = {
        {NULL, NULL, "SG", "CN", "geoip", "SG"},
        {NULL, NULL, "HK", "GLOBAL", "geoip", "HK"},
        {NULL, NULL, "MO", "GLOBAL", "geoip", "MO"},
        {NULL, NULL, "CN", "CN", "geoip", "CN"},
        {NULL, "sg", NULL, "CN", "header", "SG"},
        {NULL, "HK", "CN", "GLOBAL", "header", "HK"},
        /* region names are names, whatever the list says */
        {NULL, "CN", NULL, "CN", "header", "-"},
        {NULL, NULL, NULL, "CN", "default", "-"},
        {NULL, "bogus", "", "CN", "default", "-"},
        {"GLOBAL", NULL, NULL, "GLOBAL", "user", "-"},
    };
    run_rows(&rules, rows, sizeof rows / sizeof rows[0], "CN,SG with default CN");
}

/* ---- parsers ------------------------------------------------------------------------------- */

static void test_parse_countries(void)
{
    char out[REGION_MAX_COUNTRIES][3];
    size_t n = 99;
    char *err = NULL;
    CHECK(region_parse_countries("K", "cn, hk ,\tMo", out, REGION_MAX_COUNTRIES, &n, &err) == 0 && n == 3,
          "three countries, any case, blanks trimmed");
    CHECK(n == 3 && !strcmp(out[0], "CN") && !strcmp(out[1], "HK") && !strcmp(out[2], "MO"), "upper-cased in order");
    CHECK(region_parse_countries("K", "CN,CN", out, REGION_MAX_COUNTRIES, &n, &err) == 0 && n == 2,
          "a duplicate is harmless");
    static const struct {
        const char *val, *needle;
    } bad[] = {
        {"", "K: empty entry"},
        {",", "K: empty entry"},
        {"CN,", "K: empty entry"},
        {"CN,,HK", "K: empty entry"},
        {"CHN", "K: 'CHN' is not a two-letter country code"},
        {"C1", "K: 'C1' is not a two-letter country code"},
        {"C", "K: 'C' is not"},
        {"C N", "K: 'C N' is not"},
        {"CN;HK", "K: 'CN;HK' is not"},
        {"\x01\x02", "K: '?\?' is not"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        n = 99;
        err = NULL;
        int rc = region_parse_countries("K", bad[i].val, out, REGION_MAX_COUNTRIES, &n, &err);
        CHECK(rc == -1 && n == 0 && err && strstr(err, bad[i].needle), "countries '%s' refused: %s", bad[i].val,
              err ? err : "(no message)");
        free(err);
    }
    /* More than the cap. */
    struct sbuf b = {0};
    for (int i = 0; i < 5; i++)
        sbuf_printf(&b, "%sA%c", i ? "," : "", 'A' + i);
    err = NULL;
    CHECK(region_parse_countries("K", b.data, out, 4, &n, &err) == -1 && err && strstr(err, "more than 4"),
          "more countries than the cap refused: %s", err ? err : "");
    free(err);
    sbuf_free(&b);
}

static void test_parse_providers(void)
{
    char out[REGION_MAX_PROVIDERS][REGION_PROVIDER_MAX];
    size_t n = 99;
    char *err = NULL;
    CHECK(region_parse_providers("K", "sign-in method", " wechat ,email,sandbox", fk_signin_known, out, &n, &err) ==
                  0 &&
              n == 3,
          "three known sign-in methods");
    CHECK_STR_EQ(joined(out[0], n), "wechat,email,sandbox", "in the order given");
    static const struct {
        const char *val, *needle;
    } bad[] = {
        {"wechat,facebook", "K: unknown sign-in method 'facebook'"},
        {"Email", "K: unknown sign-in method 'Email'"},
        {"email,email", "K: email is listed twice"},
        {"", "K: empty entry"},
        {"email,", "K: empty entry"},
        {"averyveryverylongname", "K: unknown sign-in method 'averyveryverylongname'"},
        {"wechatpay", "K: unknown sign-in method 'wechatpay'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        n = 99;
        err = NULL;
        int rc = region_parse_providers("K", "sign-in method", bad[i].val, fk_signin_known, out, &n, &err);
        CHECK(rc == -1 && n == 0 && err && strstr(err, bad[i].needle), "sign-in '%s' refused: %s", bad[i].val,
              err ? err : "(no message)");
        free(err);
    }
}

/* ---- profiles ------------------------------------------------------------------------------ */

static void test_profiles_default(void)
{
    const struct region_profile *cn = &rules_default.profiles[REGION_CN];
    const struct region_profile *gl = &rules_default.profiles[REGION_GLOBAL];
    CHECK_STR_EQ(SIGN_IN(cn), "wechat,email", "CN sign-in defaults");
    CHECK_STR_EQ(PAYMENT(cn), "wechatpay,alipay", "CN payment defaults: WeChat Pay then Alipay");
    CHECK_STR_EQ(cn->currency, "CNY", "CN currency");
    CHECK_STR_EQ(cn->locale, "zh-CN", "CN locale");
    CHECK_STR_EQ(SIGN_IN(gl), "google,email", "GLOBAL sign-in defaults");
    CHECK_STR_EQ(PAYMENT(gl), "stripe,paypal,creem", "GLOBAL payment defaults: Stripe, PayPal, Creem");
    CHECK_STR_EQ(gl->currency, "USD", "GLOBAL currency");
    CHECK_STR_EQ(gl->locale, "en-US", "GLOBAL locale");
    CHECK(rules_default.default_region == REGION_GLOBAL, "default region GLOBAL");
    CHECK(rules_default.n_cn_countries == 3 && !strcmp(rules_default.cn_countries[0], "CN") &&
              !strcmp(rules_default.cn_countries[1], "HK") && !strcmp(rules_default.cn_countries[2], "MO"),
          "CN countries CN,HK,MO");
}

static void test_profiles_availability(void)
{
    static const char *const some_signin[] = {"email", "google", "sandbox", NULL};
    static const char *const some_payment[] = {"stripe", "creem", "sandbox", NULL};
    static const char *const no_payment[] = {NULL};
    struct region_settings set = {0};
    struct region_rules rules;
    char *err = NULL;
    struct region_catalog cat;

    /* Providers without credentials drop out, in order. */
    avail_signin = some_signin;
    avail_payment = some_payment;
    cat = catalog(0);
    CHECK(region_rules_build(&set, &cat, &rules, &err) == 0, "builds with some providers configured");
    CHECK_STR_EQ(SIGN_IN(&rules.profiles[REGION_CN]), "email", "CN without WeChat credentials: email only");
    CHECK_STR_EQ(PAYMENT(&rules.profiles[REGION_CN]), "", "CN without WeChat Pay/Alipay: no payment");
    CHECK_STR_EQ(SIGN_IN(&rules.profiles[REGION_GLOBAL]), "google,email", "GLOBAL keeps google and email");
    CHECK_STR_EQ(PAYMENT(&rules.profiles[REGION_GLOBAL]), "stripe,creem", "GLOBAL drops PayPal, keeps the order");

    /* The sandbox closes both lists of every region. */
    cat = catalog(1);
    CHECK(region_rules_build(&set, &cat, &rules, &err) == 0, "builds with the sandbox on");
    CHECK_STR_EQ(SIGN_IN(&rules.profiles[REGION_CN]), "email,sandbox", "CN sign-in ends with sandbox");
    CHECK_STR_EQ(PAYMENT(&rules.profiles[REGION_CN]), "sandbox", "the sandbox fills CN's empty payment list");
    CHECK_STR_EQ(SIGN_IN(&rules.profiles[REGION_GLOBAL]), "google,email,sandbox", "GLOBAL sign-in ends with sandbox");
    CHECK_STR_EQ(PAYMENT(&rules.profiles[REGION_GLOBAL]), "stripe,creem,sandbox", "GLOBAL payment ends with sandbox");

    /* Listed explicitly: kept where it is and not added twice; dropped when it is off. */
    set.payment[REGION_GLOBAL] = "sandbox,stripe";
    CHECK(region_rules_build(&set, &cat, &rules, &err) == 0, "explicit sandbox builds");
    CHECK_STR_EQ(PAYMENT(&rules.profiles[REGION_GLOBAL]), "sandbox,stripe", "explicit sandbox keeps its place");
    avail_payment = no_payment;
    cat = catalog(0);
    CHECK(region_rules_build(&set, &cat, &rules, &err) == 0, "explicit sandbox with the sandbox off builds");
    CHECK_STR_EQ(PAYMENT(&rules.profiles[REGION_GLOBAL]), "", "an unavailable sandbox drops out like any provider");
    free(err);
    avail_signin = avail_payment = NULL;
}

static void test_profiles_settings(void)
{
    struct region_catalog cat = catalog(0);
    struct region_rules rules;
    char *err = NULL;
    struct region_settings set = {0};

    set.sign_in[REGION_CN] = "email, wechat";
    set.payment[REGION_CN] = "alipay";
    set.currency[REGION_CN] = "HKD";
    set.locale[REGION_CN] = "zh-Hans-CN";
    set.payment[REGION_GLOBAL] = "paypal,stripe";
    set.locale[REGION_GLOBAL] = "en";
    CHECK(region_rules_build(&set, &cat, &rules, &err) == 0, "custom profile settings build: %s", err ? err : "");
    CHECK_STR_EQ(SIGN_IN(&rules.profiles[REGION_CN]), "email,wechat", "CN sign-in from the setting");
    CHECK_STR_EQ(PAYMENT(&rules.profiles[REGION_CN]), "alipay", "CN payment from the setting");
    CHECK_STR_EQ(rules.profiles[REGION_CN].currency, "HKD", "CN currency from the setting");
    CHECK_STR_EQ(rules.profiles[REGION_CN].locale, "zh-Hans-CN", "CN locale from the setting");
    CHECK_STR_EQ(PAYMENT(&rules.profiles[REGION_GLOBAL]), "paypal,stripe", "GLOBAL payment order from the setting");
    CHECK_STR_EQ(rules.profiles[REGION_GLOBAL].locale, "en", "a bare language is a locale");

    static const struct {
        int region;
        const char *field, *val, *needle;
    } bad[] = {
        {REGION_CN, "sign_in", "wechat,apple", "TG_REGION_CN_SIGN_IN: unknown sign-in method 'apple'"},
        {REGION_GLOBAL, "sign_in", "google,google", "TG_REGION_GLOBAL_SIGN_IN: google is listed twice"},
        {REGION_CN, "payment", "wechatpay,unionpay", "TG_REGION_CN_PAYMENT: unknown payment provider 'unionpay'"},
        {REGION_GLOBAL, "payment", "stripe,google", "TG_REGION_GLOBAL_PAYMENT: unknown payment provider 'google'"},
        {REGION_CN, "payment", ",", "TG_REGION_CN_PAYMENT: empty entry"},
        {REGION_CN, "currency", "cny", "TG_REGION_CN_CURRENCY: 'cny' is not an ISO 4217 code"},
        {REGION_GLOBAL, "currency", "US", "TG_REGION_GLOBAL_CURRENCY: 'US' is not"},
        {REGION_GLOBAL, "currency", "USDX", "TG_REGION_GLOBAL_CURRENCY: 'USDX' is not"},
        {REGION_GLOBAL, "locale", "en_US", "TG_REGION_GLOBAL_LOCALE: 'en_US' is not a language tag"},
        {REGION_GLOBAL, "locale", "e", "TG_REGION_GLOBAL_LOCALE: 'e' is not"},
        {REGION_CN, "locale", "zh-", "TG_REGION_CN_LOCALE: 'zh-' is not"},
        {REGION_CN, "locale", "chinese", "TG_REGION_CN_LOCALE: 'chinese' is not"},
        {REGION_CN, "locale", "zh-toolongsubtag", "TG_REGION_CN_LOCALE: 'zh-toolongsubtag' is not"},
        {-1, "countries", "CN,China", "TG_REGION_CN_COUNTRIES: 'China' is not a two-letter country code"},
        {-1, "default", "EU", "TG_DEFAULT_REGION: must be GLOBAL or CN, not 'EU'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct region_settings s2 = {0};
        int r = bad[i].region;
        if (!strcmp(bad[i].field, "sign_in"))
            s2.sign_in[r] = bad[i].val;
        else if (!strcmp(bad[i].field, "payment"))
            s2.payment[r] = bad[i].val;
        else if (!strcmp(bad[i].field, "currency"))
            s2.currency[r] = bad[i].val;
        else if (!strcmp(bad[i].field, "locale"))
            s2.locale[r] = bad[i].val;
        else if (!strcmp(bad[i].field, "countries"))
            s2.cn_countries = bad[i].val;
        else
            s2.default_region = bad[i].val;
        err = NULL;
        int rc = region_rules_build(&s2, &cat, &rules, &err);
        CHECK(rc == -1 && err && strstr(err, bad[i].needle), "%s '%s' is a start-up error: %s", bad[i].field,
              bad[i].val, err ? err : "(no message)");
        free(err);
    }
}

/* ---- region_init: the real configuration and provider registries ---------------------- */

static int init_with(const char *const *kv, char **err)
{
    char *cerr = NULL;
    env_clear();
    setenv("TG_DATA_DIR", tmpdir, 1);
    for (size_t i = 0; kv[i]; i += 2)
        setenv(kv[i], kv[i + 1], 1);
    if (config_load(NULL, &cerr) != 0) {
        printf("# config_load: %s\n", cerr ? cerr : "?");
        *err = cerr;
        return -2;
    }
    return region_init(err);
}

static void test_init(void)
{
    char *err = NULL;
    const struct region_profile *cn, *gl;

    /* Nothing configured: the sandbox is on and fills every profile. */
    static const char *const none[] = {NULL};
    CHECK(init_with(none, &err) == 0, "region_init with no configuration");
    cn = region_profile(REGION_CN);
    gl = region_profile(REGION_GLOBAL);
    CHECK_STR_EQ(SIGN_IN(cn), "email,sandbox", "out of the box, CN offers email and the sandbox");
    CHECK_STR_EQ(PAYMENT(cn), "sandbox", "out of the box, CN pays with the sandbox");
    CHECK_STR_EQ(SIGN_IN(gl), "email,sandbox", "out of the box, GLOBAL offers email and the sandbox");
    CHECK_STR_EQ(PAYMENT(gl), "sandbox", "out of the box, GLOBAL pays with the sandbox");
    CHECK(region_rules()->default_region == REGION_GLOBAL, "default region GLOBAL");

    /* Credentials switch the real providers on (and the sandbox off by default). */
    static const char *const real[] = {"TG_WECHAT_APPID",      "wx0123456789",     "TG_WECHAT_SECRET", "s3cret",
                                       "TG_GOOGLE_CLIENT_ID",  "123.apps.example", "TG_STRIPE_SECRET_KEY",
                                       "sk_test_x",            "TG_STRIPE_WEBHOOK_SECRET", "whsec_x",
                                       "TG_DEFAULT_REGION",    "CN",               NULL};
    CHECK(init_with(real, &err) == 0, "region_init with real providers");
    cn = region_profile(REGION_CN);
    gl = region_profile(REGION_GLOBAL);
    CHECK_STR_EQ(SIGN_IN(cn), "wechat,email", "WeChat credentials put wechat first in CN");
    CHECK_STR_EQ(PAYMENT(cn), "", "no WeChat Pay or Alipay credentials: CN has no payment (warned)");
    CHECK_STR_EQ(SIGN_IN(gl), "google,email", "TG_GOOGLE_CLIENT_ID puts google first in GLOBAL");
    CHECK_STR_EQ(PAYMENT(gl), "stripe", "Stripe credentials: stripe only");
    CHECK(region_rules()->default_region == REGION_CN, "TG_DEFAULT_REGION=CN");

    /* A WeChat app id without its secret is not configured. */
    static const char *const half[] = {"TG_WECHAT_APPID", "wx0123456789", "TG_SANDBOX", "on", NULL};
    CHECK(init_with(half, &err) == 0, "region_init with half of WeChat's credentials");
    CHECK_STR_EQ(SIGN_IN(region_profile(REGION_CN)), "email,sandbox", "wechat needs the app id and the secret");

    /* The settings. */
    static const char *const custom[] = {"TG_REGION_CN_COUNTRIES",  "CN,HK,MO,SG", "TG_REGION_CN_SIGN_IN",
                                         "email",                   "TG_REGION_GLOBAL_PAYMENT", "creem,stripe",
                                         "TG_REGION_GLOBAL_CURRENCY", "EUR",       "TG_REGION_GLOBAL_LOCALE",
                                         "de-DE",                   NULL};
    CHECK(init_with(custom, &err) == 0, "region_init with custom settings");
    CHECK_STR_EQ(SIGN_IN(region_profile(REGION_CN)), "email,sandbox", "TG_REGION_CN_SIGN_IN applies");
    CHECK_STR_EQ(PAYMENT(region_profile(REGION_GLOBAL)), "sandbox", "unconfigured creem and stripe drop out");
    CHECK_STR_EQ(region_profile(REGION_GLOBAL)->currency, "EUR", "TG_REGION_GLOBAL_CURRENCY applies");
    CHECK_STR_EQ(region_profile(REGION_GLOBAL)->locale, "de-DE", "TG_REGION_GLOBAL_LOCALE applies");
    CHECK(region_rules()->n_cn_countries == 4 && !strcmp(region_rules()->cn_countries[3], "SG"),
          "TG_REGION_CN_COUNTRIES applies");

    /* Unknown names are start-up errors, naming the key and the name. */
    static const char *const unknown[] = {"TG_REGION_CN_SIGN_IN", "wechat,qq", NULL};
    err = NULL;
    CHECK(init_with(unknown, &err) == -1 && err && strstr(err, "TG_REGION_CN_SIGN_IN: unknown sign-in method 'qq'"),
          "unknown sign-in method refused: %s", err ? err : "");
    free(err);
    static const char *const unknown_pay[] = {"TG_REGION_GLOBAL_PAYMENT", "stripe,venmo", NULL};
    err = NULL;
    CHECK(init_with(unknown_pay, &err) == -1 && err &&
              strstr(err, "TG_REGION_GLOBAL_PAYMENT: unknown payment provider 'venmo'"),
          "unknown payment provider refused: %s", err ? err : "");
    free(err);
    /* The empty value counts as unset (config.c): the default applies. */
    static const char *const empty[] = {"TG_REGION_CN_PAYMENT", "", NULL};
    err = NULL;
    CHECK(init_with(empty, &err) == 0, "an empty setting is the default");
    CHECK_STR_EQ(PAYMENT(region_profile(REGION_CN)), "sandbox", "the default CN payment list, with nothing configured");
    free(err);
    config_free();
    env_clear();
}

/* ---- GeoIP ---------------------------------------------------------------------------------- */

static const char *geo_path(const char *name)
{
    static char buf[2][1024];
    static int slot;
    char *b = buf[slot++ % 2];
    snprintf(b, 1024, "%s/%s", TG_TEST_GEOIP_DIR, name);
    return b;
}

/* What each test database says (README.md next to them): "" is not found, NULL a bad address. */
struct lookup {
    const char *ip;
    const char *lite; /* GeoLite2-Country-Test.mmdb */
    const char *full; /* GeoIP2-Country-Test.mmdb */
};

static const struct lookup lookups[] = {
    {"2001:250::1", "CN", "CN"},
    {"2001:252::1", "CN", "CN"},
    {"2001:254::1", "CN", "CN"},
    {"2001:256::1", "CN", "CN"},
    {"2001:2e0::1", "HK", "HK"},
    {"2001:218::1", "JP", "JP"},
    {"2a02:d3c0::1", "GB", "GB"},
    {"81.2.69.142", "GB", "GB"},
    {"89.160.20.112", "SE", "SE"},
    {"216.160.83.56", "US", "US"},
    {"::ffff:216.160.83.56", "US", "US"},
    {"214.78.120.5", "", "US"},
    {"175.16.199.1", "", "CN"},
    {"::ffff:175.16.199.1", "", "CN"},
    {"127.0.0.1", "", ""},
    {"10.0.0.1", "", ""},
    {"::1", "", ""},
    {"garbage", NULL, NULL},
    {"", NULL, NULL},
    {"2001:250::1/32", NULL, NULL},
    {"1.2.3.4.5", NULL, NULL},
    {"[2001:250::1]", NULL, NULL},
};
#define N_LOOKUPS (sizeof lookups / sizeof lookups[0])

static const char *const rc_names[] = {"found", "not_found", "bad_address", "no_db"};

static enum geo_rc want_rc(const char *want)
{
    return want == NULL ? GEO_BAD_ADDRESS : want[0] ? GEO_FOUND : GEO_NOT_FOUND;
}

static void test_geo_lookups(const char *file, int full)
{
    struct geo_db *db = NULL;
    char *err = NULL;
    CHECK(geo_db_open(geo_path(file), &db, &err) == 0 && db != NULL, "%s opens: %s", file, err ? err : "");
    free(err);
    if (db == NULL)
        return;
    CHECK(strstr(geo_db_type(db), "Country") != NULL, "%s is a Country database (%s)", file, geo_db_type(db));
    CHECK(geo_db_built(db) > 1356998400, "%s has a build time after 2013", file);
    for (size_t i = 0; i < N_LOOKUPS; i++) {
        const char *want = full ? lookups[i].full : lookups[i].lite;
        char c[GEO_COUNTRY_LEN] = "??";
        enum geo_rc rc = geo_db_country(db, lookups[i].ip, c);
        CHECK(rc == want_rc(want) && !strcmp(c, want ? want : ""), "%s: %s -> %s %s (got %s %s)", file,
              lookups[i].ip, rc_names[want_rc(want)], want ? want : "", rc_names[rc], c);
        /* And what the region decision makes of it: CN and HK are China, the rest global,
         * an unknown address the default. */
        struct region_inputs in = {NULL, NULL, rc == GEO_FOUND ? c : NULL};
        struct region_decision d;
        region_decide(&rules_default, &in, &d);
        const char *want_region = want && (!strcmp(want, "CN") || !strcmp(want, "HK")) ? "CN" : "GLOBAL";
        const char *want_source = want && want[0] ? "geoip" : "default";
        CHECK(!strcmp(region_name(d.region), want_region) && !strcmp(region_source_name(d.source), want_source),
              "%s: %s is in region %s (%s)", file, lookups[i].ip, want_region, want_source);
    }
    char c[GEO_COUNTRY_LEN] = "??";
    CHECK(geo_db_country(db, NULL, c) == GEO_BAD_ADDRESS && c[0] == '\0', "NULL address");
    geo_db_close(db);
}

static void test_geo_errors(void)
{
    struct geo_db *db = (struct geo_db *)1;
    char *err = NULL;
    char path[1100];

    CHECK(geo_db_open(geo_path("missing.mmdb"), &db, &err) == -1 && db == NULL && err &&
              strstr(err, "TG_GEOIP_DB: cannot open") && strstr(err, "missing.mmdb") &&
              strstr(err, "No such file or directory"),
          "a missing file is an error naming it: %s", err ? err : "");
    free(err);
    err = NULL;
    CHECK(geo_db_open(TG_TEST_GEOIP_DIR, &db, &err) == -1 && err && strstr(err, "is not a regular file"),
          "a folder is an error: %s", err ? err : "");
    free(err);

    /* Not an mmdb at all, and a real one cut short (its metadata is at the end). */
    snprintf(path, sizeof path, "%s/junk.mmdb", tmpdir);
    FILE *f = fopen(path, "wb");
    for (int i = 0; i < 4096; i++)
        fputc(i * 7 & 0xff, f);
    fclose(f);
    err = NULL;
    CHECK(geo_db_open(path, &db, &err) == -1 && err && strstr(err, "is not a usable MaxMind DB"),
          "a file of junk is an error: %s", err ? err : "");
    free(err);
    FILE *in = fopen(geo_path("GeoLite2-Country-Test.mmdb"), "rb");
    snprintf(path, sizeof path, "%s/cut.mmdb", tmpdir);
    f = fopen(path, "wb");
    for (int i = 0, ch; i < 8192 && (ch = fgetc(in)) != EOF; i++)
        fputc(ch, f);
    fclose(f);
    fclose(in);
    err = NULL;
    CHECK(geo_db_open(path, &db, &err) == -1 && err && strstr(err, "is not a usable MaxMind DB"),
          "a truncated database is an error: %s", err ? err : "");
    free(err);
    snprintf(path, sizeof path, "%s/empty.mmdb", tmpdir);
    fclose(fopen(path, "wb"));
    err = NULL;
    CHECK(geo_db_open(path, &db, &err) == -1 && err, "an empty file is an error: %s", err ? err : "");
    free(err);

    char c[GEO_COUNTRY_LEN] = "??";
    CHECK(geo_db_country(NULL, "2001:250::1", c) == GEO_NO_DB && c[0] == '\0', "no database: GEO_NO_DB");
    /* The process-wide database. */
    err = NULL;
    CHECK(geo_init(NULL, &err) == 0 && geo_country("2001:250::1", c) == GEO_NO_DB, "geo_init(NULL): no database");
    CHECK(geo_init(geo_path("GeoIP2-Country-Test.mmdb"), &err) == 0 && geo_country("2001:250::1", c) == GEO_FOUND &&
              !strcmp(c, "CN"),
          "geo_init opens the process's database");
    CHECK(geo_init(geo_path("missing.mmdb"), &err) == -1 && err && geo_country("2001:250::1", c) == GEO_NO_DB,
          "a failed geo_init leaves no database open");
    free(err);
    geo_shutdown();
}

/* Lookups from several threads at once agree with the table (thread safety). */
struct geo_thread_arg {
    const struct geo_db *db;
    int bad;
};

static void *geo_thread(void *p)
{
    struct geo_thread_arg *a = p;
    for (int round = 0; round < 2000; round++)
        for (size_t i = 0; i < N_LOOKUPS; i++) {
            char c[GEO_COUNTRY_LEN];
            if (geo_db_country(a->db, lookups[i].ip, c) != want_rc(lookups[i].full) ||
                strcmp(c, lookups[i].full ? lookups[i].full : "") != 0)
                a->bad++;
        }
    return NULL;
}

static void test_geo_threads_and_cost(void)
{
    struct geo_db *db = NULL;
    char *err = NULL;
    if (geo_db_open(geo_path("GeoIP2-Country-Test.mmdb"), &db, &err) != 0) {
        CHECK(0, "open for the thread test: %s", err);
        free(err);
        return;
    }
    pthread_t t[4];
    struct geo_thread_arg a[4];
    for (int i = 0; i < 4; i++) {
        a[i].db = db;
        a[i].bad = 0;
        pthread_create(&t[i], NULL, geo_thread, &a[i]);
    }
    int bad = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        bad += a[i].bad;
    }
    CHECK_INT_EQ(bad, 0, "4 threads x 2000 rounds of lookups all agree with the table");

    /* The cost of one lookup on the loop: text to address, tree walk, two map lookups. */
    static const char *const ips[] = {"2001:250::1", "175.16.199.1", "2a02:d3c0::1", "127.0.0.1"};
    const int n = 200000;
    char c[GEO_COUNTRY_LEN];
    int found = 0;
    int64_t t0 = time_mono_ns();
    for (int i = 0; i < n; i++)
        found += geo_db_country(db, ips[i & 3], c) == GEO_FOUND;
    int64_t ns = (time_mono_ns() - t0) / n;
    printf("# GeoIP lookup: %lld ns each (mean of %d, test database)\n", (long long)ns, n);
    CHECK_INT_EQ(found, n / 4 * 3, "three of the four addresses found every time");
    /* A generous bound (the measured cost is well under a microsecond): only a lookup that
     * allocated, read the file or took a lock would come near it. */
    CHECK(ns < 20000, "one lookup costs less than 20 us (%lld ns)", (long long)ns);
    geo_db_close(db);
}

int main(void)
{
    if (mkdtemp(tmpdir) == NULL) {
        printf("Bail out! mkdtemp failed\n");
        return 1;
    }
    build_defaults();
    test_names();
    test_decision_table();
    test_custom_rules();
    test_parse_countries();
    test_parse_providers();
    test_profiles_default();
    test_profiles_availability();
    test_profiles_settings();
    test_init();
    test_geo_lookups("GeoLite2-Country-Test.mmdb", 0);
    test_geo_lookups("GeoIP2-Country-Test.mmdb", 1);
    test_geo_errors();
    test_geo_threads_and_cost();
    nftw(tmpdir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    return test_done();
}
