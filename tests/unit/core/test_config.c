/* Unit tests for src/core/config.c: the option table, dotenv, *_FILE, validation, secrets. */
#include "../test.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>

#include "core/config.h"
#include "core/mem.h"

static char tmp_root[] = "/tmp/tg_test_config.XXXXXX";
static int dir_seq;

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

/* A fresh environment with its own (not yet existing) data folder; returns its path. */
static const char *fresh(void)
{
    static char dir[512];
    env_clear();
    snprintf(dir, sizeof dir, "%s/d%d", tmp_root, ++dir_seq);
    setenv("TG_DATA_DIR", dir, 1);
    return dir;
}

static char *write_file(const char *name, const char *content, size_t len)
{
    char *path = xasprintf("%s/%s", tmp_root, name);
    FILE *f = fopen(path, "wb");
    fwrite(content, 1, len, f);
    fclose(f);
    return path;
}

/* Loads and returns rc; *err (if any) is kept in `last_err` for the checks. */
static char *last_err;
static int load(const char *file)
{
    free(last_err);
    last_err = NULL;
    int rc = config_load(file, &last_err);
    if (last_err)
        printf("# config_load: %s\n", last_err);
    return rc;
}

static int err_has(const char *needle)
{
    return last_err != NULL && strstr(last_err, needle) != NULL;
}

/* Loads with one variable set and expects failure mentioning `needle`. */
static void expect_bad(const char *key, const char *val, const char *needle)
{
    fresh();
    setenv(key, val, 1);
    CHECK(load(NULL) == -1 && err_has(needle), "%s=%s is rejected naming %s", key, val, needle);
}

static void expect_ok(const char *key, const char *val)
{
    fresh();
    setenv(key, val, 1);
    CHECK(load(NULL) == 0, "%s=%s is accepted", key, val);
}

static void test_defaults(void)
{
    const char *dir = fresh();
    char want[600];
    struct stat sb;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    CHECK(load(NULL) == 0 && tg_cfg != NULL, "loads with no configuration");
    CHECK_STR_EQ(tg_cfg->listen_host, "127.0.0.1", "default listen host");
    CHECK_INT_EQ(tg_cfg->listen_port, 8080, "default listen port");
    CHECK_STR_EQ(tg_cfg->public_url, "http://127.0.0.1:8080", "default public URL follows TG_LISTEN");
    snprintf(want, sizeof want, "sqlite:%s/tollgate.db", dir);
    CHECK_STR_EQ(tg_cfg->database_url, want, "default database in the data folder");
    CHECK_STR_EQ(tg_cfg->data_dir, dir, "data dir");
    CHECK(stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode) && (sb.st_mode & 0777) == 0700, "data dir created 0700");
    CHECK_INT_EQ(tg_cfg->workers, ncpu, "workers default to cores");
    CHECK_INT_EQ(tg_cfg->blocking_threads, ncpu, "blocking threads default to cores");
    CHECK_INT_EQ(tg_cfg->signup_credits, 8, "signup credits 8");
    CHECK_INT_EQ(tg_cfg->sandbox, 1, "sandbox on without real providers");
    CHECK_INT_EQ(tg_cfg->max_body_bytes, 1048576, "max body 1 MiB");
    CHECK_INT_EQ(tg_cfg->http_timeout_s, 10, "http timeout 10");
    CHECK_INT_EQ(tg_cfg->shutdown_timeout_s, 30, "shutdown timeout 30");
    CHECK_INT_EQ(tg_cfg->access_token_ttl_s, 900, "access token 15 min");
    CHECK_INT_EQ(tg_cfg->refresh_token_ttl_s, 604800, "refresh token 7 days");
    CHECK_STR_EQ(tg_cfg->log_level, "info", "log level info");
    CHECK_INT_EQ(tg_cfg->access_log, 1, "access log on");
    CHECK_STR_EQ(tg_cfg->default_region, "GLOBAL", "region GLOBAL");
    CHECK(tg_cfg->redis_url == NULL && tg_cfg->geoip_db == NULL && tg_cfg->catalog_path == NULL &&
              tg_cfg->rate_limits == NULL,
          "optional strings unset");
    CHECK(tg_cfg->n_trusted_proxies == 0 && tg_cfg->n_cors_origins == 0, "no proxies, no origins");
    CHECK_STR_EQ(config_get("TG_STRIPE_API_BASE"), "https://api.stripe.com", "provider base URL default");
    CHECK_STR_EQ(config_get("TG_ALIPAY_GATEWAY"), "https://openapi.alipay.com/gateway.do", "alipay gateway");
    CHECK_STR_EQ(config_get("TG_STORAGE"), "local", "storage local");
    CHECK(config_get("TG_STRIPE_SECRET_KEY") == NULL, "unset provider key is NULL");
    snprintf(want, sizeof want, "%ld", ncpu);
    CHECK_STR_EQ(config_get("TG_WORKERS"), want, "computed defaults are visible through config_get");
    CHECK(tg_cfg->jwt_secret_len == 32, "generated JWT secret is 32 bytes");
    CHECK(!config_is_trusted_proxy("127.0.0.1"), "nothing trusted by default");
    CHECK(!config_cors_allowed("http://127.0.0.1:8080", 21), "no CORS by default");

    fresh();
    setenv("TG_WORKERS", "", 1);
    CHECK(load(NULL) == 0 && tg_cfg->workers == ncpu, "an empty value counts as unset");
}

static void test_types(void)
{
    expect_ok("TG_WORKERS", "1");
    expect_ok("TG_WORKERS", "256");
    expect_bad("TG_WORKERS", "0", "TG_WORKERS");
    expect_bad("TG_WORKERS", "257", "from 1 to 256");
    expect_bad("TG_WORKERS", "abc", "TG_WORKERS");
    expect_bad("TG_WORKERS", "12abc", "TG_WORKERS");
    expect_bad("TG_WORKERS", " 5", "TG_WORKERS");
    expect_bad("TG_WORKERS", "99999999999999999999999", "TG_WORKERS");
    expect_bad("TG_BLOCKING_THREADS", "0", "TG_BLOCKING_THREADS");
    expect_ok("TG_SIGNUP_CREDITS", "0");
    expect_ok("TG_SIGNUP_CREDITS", "1000000000");
    expect_bad("TG_SIGNUP_CREDITS", "1000000001", "TG_SIGNUP_CREDITS");
    expect_bad("TG_SIGNUP_CREDITS", "-1", "TG_SIGNUP_CREDITS");
    expect_bad("TG_MAX_BODY_BYTES", "1023", "TG_MAX_BODY_BYTES");
    expect_ok("TG_MAX_BODY_BYTES", "33554432");
    expect_bad("TG_MAX_BODY_BYTES", "33554433", "TG_MAX_BODY_BYTES");
    expect_bad("TG_HTTP_TIMEOUT", "0", "TG_HTTP_TIMEOUT");
    expect_ok("TG_SHUTDOWN_TIMEOUT", "0");
    expect_bad("TG_SHUTDOWN_TIMEOUT", "3601", "TG_SHUTDOWN_TIMEOUT");
    expect_bad("TG_ACCESS_TOKEN_TTL", "59", "TG_ACCESS_TOKEN_TTL");
    expect_bad("TG_REFRESH_TOKEN_TTL", "31536001", "TG_REFRESH_TOKEN_TTL");
    fresh();
    setenv("TG_ACCESS_TOKEN_TTL", "3600", 1);
    setenv("TG_REFRESH_TOKEN_TTL", "3600", 1);
    CHECK(load(NULL) == -1 && err_has("TG_REFRESH_TOKEN_TTL"), "refresh TTL must exceed access TTL");

    fresh();
    setenv("TG_SANDBOX", "off", 1);
    setenv("TG_ACCESS_LOG", "FALSE", 1);
    CHECK(load(NULL) == 0 && tg_cfg->sandbox == 0 && tg_cfg->access_log == 0, "bools off/FALSE");
    fresh();
    setenv("TG_SANDBOX", "1", 1);
    setenv("TG_ACCESS_LOG", "True", 1);
    CHECK(load(NULL) == 0 && tg_cfg->sandbox == 1 && tg_cfg->access_log == 1, "bools 1/True");
    expect_bad("TG_SANDBOX", "yes", "TG_SANDBOX");
    expect_bad("TG_ACCESS_LOG", "2", "TG_ACCESS_LOG");
    fresh();
    CHECK(load(NULL) == 0 && tg_cfg->test_clock == 0, "the test clock is off by default");
    fresh();
    setenv("TG_TEST_CLOCK", "1", 1);
    CHECK(load(NULL) == 0 && tg_cfg->test_clock == 1, "TG_TEST_CLOCK=1 turns it on");
    expect_bad("TG_TEST_CLOCK", "sometimes", "TG_TEST_CLOCK");

    fresh();
    setenv("TG_STRIPE_SECRET_KEY", "sk_test_x", 1);
    CHECK(load(NULL) == 0 && tg_cfg->sandbox == 0, "a real provider turns the sandbox default off");
    setenv("TG_SANDBOX", "on", 1);
    CHECK(load(NULL) == 0 && tg_cfg->sandbox == 1, "TG_SANDBOX=on keeps it with real providers");

    expect_ok("TG_LOG_LEVEL", "debug");
    expect_bad("TG_LOG_LEVEL", "verbose", "debug|info|warn|error");
    expect_ok("TG_DEFAULT_REGION", "CN");
    expect_bad("TG_DEFAULT_REGION", "cn", "TG_DEFAULT_REGION");
    expect_bad("TG_STORAGE", "ftp", "TG_STORAGE");
    expect_bad("TG_STORAGE", "s3", "TG_S3_BUCKET");

    fresh();
    setenv("TG_LISTEN", "[::1]:9090", 1);
    CHECK(load(NULL) == 0 && strcmp(tg_cfg->listen_host, "::1") == 0 && tg_cfg->listen_port == 9090,
          "IPv6 listen address");
    CHECK_STR_EQ(tg_cfg->public_url, "http://[::1]:9090", "IPv6 public URL default keeps brackets");
    expect_ok("TG_LISTEN", "0.0.0.0:1");
    expect_ok("TG_LISTEN", "localhost:65535");
    expect_bad("TG_LISTEN", ":8080", "TG_LISTEN");
    expect_bad("TG_LISTEN", "127.0.0.1:0", "TG_LISTEN");
    expect_bad("TG_LISTEN", "127.0.0.1:65536", "TG_LISTEN");
    expect_bad("TG_LISTEN", "127.0.0.1:80x", "TG_LISTEN");
    expect_bad("TG_LISTEN", "127.0.0.1", "TG_LISTEN");
    expect_bad("TG_LISTEN", "::1:8080", "brackets");
    expect_bad("TG_LISTEN", "[::g]:8080", "TG_LISTEN");

    fresh();
    setenv("TG_PUBLIC_URL", "https://pay.example.com/base//", 1);
    CHECK(load(NULL) == 0 && strcmp(tg_cfg->public_url, "https://pay.example.com/base") == 0,
          "public URL loses trailing slashes");
    fresh();
    setenv("TG_STRIPE_API_BASE", "http://127.0.0.1:12111/", 1);
    CHECK(load(NULL) == 0 && strcmp(config_get("TG_STRIPE_API_BASE"), "http://127.0.0.1:12111") == 0,
          "provider base URL can point at a fake");
    expect_bad("TG_PUBLIC_URL", "ftp://x.example.com", "http");
    expect_bad("TG_PUBLIC_URL", "https://", "TG_PUBLIC_URL");
    expect_bad("TG_PUBLIC_URL", "https://a b.com", "TG_PUBLIC_URL");

    expect_ok("TG_DATABASE_URL", "postgres://u:p@db/tollgate");
    expect_bad("TG_DATABASE_URL", "mysql://user:hunter2@db/x", "TG_DATABASE_URL");
    CHECK(!err_has("hunter2"), "database URL (may hold a password) is not echoed");
}

static void test_unknown_keys(void)
{
    expect_bad("TG_WROKERS", "2", "did you mean TG_WORKERS?");
    CHECK(err_has("TG_WROKERS"), "the message names the unknown key");
    expect_bad("TG_TOTALLY_UNRELATED", "1", "TG_TOTALLY_UNRELATED");
    CHECK(!err_has("did you mean"), "no suggestion when nothing is close");
    expect_bad("TG_JWT_SECRT_FILE", "/x", "did you mean TG_JWT_SECRET_FILE?");
    expect_bad("TG_LISTEN_FILE_FILE", "/x", "TG_LISTEN_FILE_FILE");
    fresh();
    setenv("NOT_OURS", "x", 1);
    setenv("TGX_SOMETHING", "x", 1);
    CHECK(load(NULL) == 0, "variables without the TG_ prefix are ignored");
    unsetenv("NOT_OURS");
    unsetenv("TGX_SOMETHING");
}

static void test_key_file(void)
{
    char *p1 = write_file("stripe_key", "sk_live_from_file\n", 18);
    char *p2 = write_file("two_newlines", "abc\n\n", 5);
    char *p3 = write_file("workers", "3\r\n", 3);
    char *p4 = write_file("empty", "", 0);
    char *big = xmalloc(65537);
    memset(big, 'a', 65537);
    char *p5 = write_file("big", big, 65537);
    char *p6 = write_file("exact", big, 65536);
    free(big);

    fresh();
    setenv("TG_STRIPE_SECRET_KEY_FILE", p1, 1);
    setenv("TG_PAYPAL_WEBHOOK_ID_FILE", p2, 1);
    setenv("TG_WORKERS_FILE", p3, 1);
    CHECK(load(NULL) == 0, "KEY_FILE loads");
    CHECK_STR_EQ(config_get("TG_STRIPE_SECRET_KEY"), "sk_live_from_file", "KEY_FILE value, newline stripped");
    CHECK_STR_EQ(config_get("TG_PAYPAL_WEBHOOK_ID"), "abc\n", "only one trailing newline is stripped");
    CHECK_INT_EQ(tg_cfg->workers, 3, "KEY_FILE feeds typed options (CRLF stripped)");

    fresh();
    setenv("TG_STRIPE_SECRET_KEY", "sk_live_env_value", 1);
    setenv("TG_STRIPE_SECRET_KEY_FILE", p1, 1);
    CHECK(load(NULL) == -1 && err_has("TG_STRIPE_SECRET_KEY") && err_has("TG_STRIPE_SECRET_KEY_FILE"),
          "KEY and KEY_FILE both set is an error");
    CHECK(!err_has("sk_live"), "the conflict message shows no value");
    expect_bad("TG_STRIPE_SECRET_KEY_FILE", "/nonexistent/tg/key", "TG_STRIPE_SECRET_KEY_FILE");
    expect_bad("TG_STRIPE_SECRET_KEY_FILE", p4, "empty");
    expect_bad("TG_STRIPE_SECRET_KEY_FILE", p5, "64 KiB");
    expect_ok("TG_STRIPE_SECRET_KEY_FILE", p6);
    CHECK(config_get("TG_STRIPE_SECRET_KEY") && strlen(config_get("TG_STRIPE_SECRET_KEY")) == 65536,
          "a 64 KiB file is accepted whole");
    free(p1);
    free(p2);
    free(p3);
    free(p4);
    free(p5);
    free(p6);
}

static void test_dotenv(void)
{
    static const char good[] = "# Tollgate settings\n"
                               "\n"
                               "export TG_WORKERS=3\n"
                               "   TG_SIGNUP_CREDITS = 12  \n"
                               "TG_GEOIP_DB=\"/path with space/#x.mmdb\"   # trailing comment\n"
                               "TG_CATALOG='/lit\\n'\n"
                               "TG_PAYPAL_WEBHOOK_ID=\"a\\\"b\\nc\\\\d\"\n"
                               "TG_S3_REGION=us-east-1 # comment\n"
                               "TG_S3_BUCKET=b#notcomment\r\n"
                               "OTHER_TOOL_KEY=ignored\n"
                               "TG_WECHAT_APPID=last";
    char *path = write_file("good.env", good, sizeof good - 1);
    fresh();
    CHECK(load(path) == 0, "dotenv file loads");
    CHECK_INT_EQ(tg_cfg->workers, 3, "export prefix");
    CHECK_INT_EQ(tg_cfg->signup_credits, 12, "blanks around = and value");
    CHECK_STR_EQ(tg_cfg->geoip_db, "/path with space/#x.mmdb", "double quotes keep # and blanks");
    CHECK_STR_EQ(tg_cfg->catalog_path, "/lit\\n", "single quotes are literal");
    CHECK_STR_EQ(config_get("TG_PAYPAL_WEBHOOK_ID"), "a\"b\nc\\d", "double-quote escapes");
    CHECK_STR_EQ(config_get("TG_S3_REGION"), "us-east-1", "inline comment after a blank");
    CHECK_STR_EQ(config_get("TG_S3_BUCKET"), "b#notcomment", "# without a blank belongs to the value; CRLF");
    CHECK_STR_EQ(config_get("TG_WECHAT_APPID"), "last", "last line without newline");

    /* the environment wins over the file, in either form */
    char *wfile = write_file("credits", "40\n", 3);
    char *envf = write_file("env2.env", "TG_WORKERS=3\nTG_SIGNUP_CREDITS=7\n", 33);
    fresh();
    setenv("TG_WORKERS", "5", 1);
    setenv("TG_SIGNUP_CREDITS_FILE", wfile, 1);
    CHECK(load(envf) == 0 && tg_cfg->workers == 5 && tg_cfg->signup_credits == 40,
          "environment (plain and _FILE) wins over the file");
    free(wfile);
    free(envf);

    static const struct {
        const char *text, *needle, *what;
    } bad[] = {
        {"TG_WORKERS=2\n\ngarbage\n", ":3: expected KEY=value", "a line without = names its line"},
        {"TG_WORKERS=2\nTG_GEOIP_DB=\"open\n", ":2: unterminated", "unterminated double quote"},
        {"TG_GEOIP_DB='open\n", ":1: unterminated", "unterminated single quote"},
        {"#\nTG_GEOIP_DB=\"a\\qb\"\n", ":2: unknown escape", "unknown escape"},
        {"TG_GEOIP_DB=\"a\" b\n", ":1: unexpected text", "text after the closing quote"},
        {"\n\n\nTG_WROKERS=1\n", ":4: unknown setting TG_WROKERS (did you mean TG_WORKERS?)",
         "unknown key in file"},
        {"=x\n", ":1: expected KEY=value", "empty key"},
        {"1TG=x\n", ":1: expected KEY=value", "key starting with a digit"},
        {"TG_WORKERS=1\nTG_WORKERS_FILE=/x\n", "both TG_WORKERS and TG_WORKERS_FILE",
         "KEY and KEY_FILE in one file"},
        {"TG_JWT_SECRET=\"tooshort-secret-in-file\"\n", "at least 32 bytes", "short secret from file"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *p = write_file("bad.env", bad[i].text, strlen(bad[i].text));
        fresh();
        /* syntax errors name file:line; a bad value is named by its key like any other */
        int syntax = strstr(bad[i].needle, "32 bytes") == NULL;
        CHECK(load(p) == -1 && err_has(bad[i].needle) && (!syntax || err_has(p)), "dotenv error: %s",
              bad[i].what);
        free(p);
    }
    CHECK(!err_has("tooshort"), "secret from the file is not echoed");
    fresh();
    CHECK(load("/nonexistent/tollgate.env") == -1 && err_has("/nonexistent/tollgate.env"), "missing file");
    free(path);
}

static void test_cidrs(void)
{
    fresh();
    setenv("TG_TRUSTED_PROXIES", "10.0.0.0/8, 192.168.1.7,fd00::/8 , ::1,2001:db8::/32", 1);
    CHECK(load(NULL) == 0 && tg_cfg->n_trusted_proxies == 5, "five CIDRs parsed");
    CHECK(tg_cfg->trusted_proxies[1].prefix_len == 32 && tg_cfg->trusted_proxies[3].prefix_len == 128,
          "bare addresses are /32 and /128");
    CHECK(config_is_trusted_proxy("10.0.0.0") && config_is_trusted_proxy("10.255.255.255"),
          "10/8 edges inside");
    CHECK(!config_is_trusted_proxy("9.255.255.255") && !config_is_trusted_proxy("11.0.0.0"),
          "10/8 neighbours outside");
    CHECK(config_is_trusted_proxy("192.168.1.7") && !config_is_trusted_proxy("192.168.1.8"), "single IPv4");
    CHECK(config_is_trusted_proxy("::ffff:10.1.2.3"), "IPv4-mapped IPv6 matches the IPv4 entry");
    CHECK(config_is_trusted_proxy("fd12:3456::1") &&
              config_is_trusted_proxy("fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
          "fd00::/8 inside");
    CHECK(!config_is_trusted_proxy("fe00::1") && !config_is_trusted_proxy("fc00::1"),
          "fd00::/8 neighbours outside");
    CHECK(config_is_trusted_proxy("::1") && !config_is_trusted_proxy("::2"), "single IPv6");
    CHECK(config_is_trusted_proxy("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff") &&
              !config_is_trusted_proxy("2001:db9::"),
          "/32 IPv6 edges");
    CHECK(!config_is_trusted_proxy("garbage") && !config_is_trusted_proxy("") &&
              !config_is_trusted_proxy(NULL),
          "junk is never trusted");
    CHECK(!config_is_trusted_proxy("10.0.0.1 ") && !config_is_trusted_proxy("[::1]"), "no lenient parsing");

    fresh();
    setenv("TG_TRUSTED_PROXIES", "0.0.0.0/0", 1);
    CHECK(load(NULL) == 0 && config_is_trusted_proxy("1.2.3.4") && !config_is_trusted_proxy("2001:db8::1"),
          "0.0.0.0/0 covers IPv4 only");
    fresh();
    setenv("TG_TRUSTED_PROXIES", "::/0", 1);
    CHECK(load(NULL) == 0 && config_is_trusted_proxy("2001:db8::1"), "::/0 covers IPv6");
    fresh();
    setenv("TG_TRUSTED_PROXIES", "::ffff:192.168.0.0/112", 1);
    CHECK(load(NULL) == 0 && tg_cfg->trusted_proxies[0].family == AF_INET &&
              tg_cfg->trusted_proxies[0].prefix_len == 16,
          "IPv4-mapped network is stored as IPv4");
    CHECK(config_is_trusted_proxy("192.168.5.5") && !config_is_trusted_proxy("192.169.0.0"),
          "and matches IPv4 peers");
    fresh();
    setenv("TG_TRUSTED_PROXIES", "172.16.0.0/12", 1);
    CHECK(load(NULL) == 0 && config_is_trusted_proxy("172.31.255.255") &&
              !config_is_trusted_proxy("172.32.0.0"),
          "non-octet prefix");

    expect_bad("TG_TRUSTED_PROXIES", "10.1.2.3/8", "did you mean 10.0.0.0/8?");
    expect_bad("TG_TRUSTED_PROXIES", "2001:db8::1/32", "did you mean 2001:db8::/32?");
    expect_bad("TG_TRUSTED_PROXIES", "10.0.0.0/33", "TG_TRUSTED_PROXIES");
    expect_bad("TG_TRUSTED_PROXIES", "::/129", "TG_TRUSTED_PROXIES");
    expect_bad("TG_TRUSTED_PROXIES", "10.0.0.0/", "TG_TRUSTED_PROXIES");
    expect_bad("TG_TRUSTED_PROXIES", "1.2.3.4/-1", "TG_TRUSTED_PROXIES");
    expect_bad("TG_TRUSTED_PROXIES", "1.2.3.4/+8", "TG_TRUSTED_PROXIES");
    expect_bad("TG_TRUSTED_PROXIES", "a.b.c.d", "TG_TRUSTED_PROXIES");
    expect_bad("TG_TRUSTED_PROXIES", "10.0.0.0/8,,1.1.1.1", "empty entry");
    expect_bad("TG_TRUSTED_PROXIES", "10.0.0.0/8,", "empty entry");
}

static void url_origin_is(const char *url, const char *want)
{
    char *got = config_url_origin(url);
    if (want == NULL)
        CHECK(got == NULL, "config_url_origin(%s) -> NULL", url);
    else
        CHECK(got != NULL && strcmp(got, want) == 0, "config_url_origin(%s) -> %s (got %s)", url, want,
              got ? got : "NULL");
    free(got);
}

static void test_public_origin(void)
{
    url_origin_is("https://Example.COM:443/app?x=1#f", "https://example.com");
    url_origin_is("http://127.0.0.1:8080", "http://127.0.0.1:8080");
    url_origin_is("http://127.0.0.1:80/", "http://127.0.0.1");
    url_origin_is("HTTPS://a.example.com:8443/t", "https://a.example.com:8443");
    url_origin_is("http://[::1]:8080/x", "http://[::1]:8080");
    url_origin_is("https://a.example.com?q", "https://a.example.com");
    url_origin_is("https://user@a.example.com", NULL);
    url_origin_is("https://a.example.com:0", NULL);
    url_origin_is("https://a.example.com:99999", NULL);
    url_origin_is("ftp://a.example.com", NULL);
    url_origin_is("https://", NULL);
    url_origin_is("a.example.com", NULL);

    fresh();
    setenv("TG_PUBLIC_URL", "https://Pay.Example.com:443/tollgate/", 1);
    CHECK(load(NULL) == 0 && strcmp(tg_cfg->public_origin, "https://pay.example.com") == 0,
          "public_origin derived from TG_PUBLIC_URL");
    fresh();
    CHECK(load(NULL) == 0 && strncmp(tg_cfg->public_origin, "http://127.0.0.1", 16) == 0,
          "public_origin of the default public URL (%s)", tg_cfg->public_origin);
    expect_bad("TG_PUBLIC_URL", "https://user@pay.example.com", "origin");
}

static void test_cors(void)
{
    fresh();
    setenv("TG_CORS_ORIGINS",
           "https://App.Example.com/, http://localhost:3000,https://x.example.com:443,"
           "http://[::1]:8080",
           1);
    CHECK(load(NULL) == 0 && tg_cfg->n_cors_origins == 4, "four origins");
#define ALLOWED(s) config_cors_allowed(s, strlen(s))
    CHECK(ALLOWED("https://app.example.com"), "configured origin normalised to lower case, slash dropped");
    CHECK(!ALLOWED("https://App.Example.com"), "request Origin compared exactly (browsers send lower case)");
    CHECK(!ALLOWED("https://app.example.com/"), "trailing slash in the request does not match");
    CHECK(!ALLOWED("http://app.example.com"), "scheme must match");
    CHECK(!ALLOWED("https://app.example.com:8443"), "port must match");
    CHECK(!ALLOWED("https://app.example.com.evil.test"), "no prefix match");
    CHECK(!ALLOWED("https://app.example.co"), "no shorter match");
    CHECK(ALLOWED("http://localhost:3000") && !ALLOWED("http://localhost"), "explicit port kept");
    CHECK(ALLOWED("https://x.example.com"), "default port dropped as browsers do");
    CHECK(ALLOWED("http://[::1]:8080"), "IPv6 origin");
    CHECK(config_cors_allowed("http://localhost:3000XYZ", 21), "length bounds the comparison");
    CHECK(!config_cors_allowed(NULL, 0) && !config_cors_allowed("", 0), "empty origin");
#undef ALLOWED
    expect_bad("TG_CORS_ORIGINS", "*", "credentials");
    expect_bad("TG_CORS_ORIGINS", "https://a.example.com, *", "credentials");
    expect_bad("TG_CORS_ORIGINS", "https://a.example.com/app", "path");
    expect_bad("TG_CORS_ORIGINS", "null", "TG_CORS_ORIGINS");
    expect_bad("TG_CORS_ORIGINS", "ftp://a.example.com", "TG_CORS_ORIGINS");
    expect_bad("TG_CORS_ORIGINS", "https://", "TG_CORS_ORIGINS");
    expect_bad("TG_CORS_ORIGINS", "https://a.example.com:0", "TG_CORS_ORIGINS");
    expect_bad("TG_CORS_ORIGINS", "https://user@a.example.com", "TG_CORS_ORIGINS");
    expect_bad("TG_CORS_ORIGINS", "https://a.example.com,", "empty entry");
}

static int read_hex_file(const char *path, char out[128])
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, out, 127);
    close(fd);
    out[n < 0 ? 0 : n] = '\0';
    return (int)n;
}

static void test_jwt_secret(void)
{
    const char *d = fresh();
    char dir[512], path[600], hex[128], again[128];
    unsigned char first[32], bin[32];
    struct stat sb;
    snprintf(dir, sizeof dir, "%s/nested/deeper", d);
    setenv("TG_DATA_DIR", dir, 1);
    snprintf(path, sizeof path, "%s/jwt_secret", dir);
    CHECK(load(NULL) == 0, "loads and generates a secret in a nested new folder");
    CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600, "jwt_secret has mode 0600");
    CHECK(read_hex_file(path, hex) == 65 && hex[64] == '\n', "64 hex digits and a newline");
    hex[64] = '\0';
    size_t bl = 0;
    CHECK(sodium_hex2bin(bin, 32, hex, 64, NULL, &bl, NULL) == 0 && bl == 32 &&
              memcmp(bin, tg_cfg->jwt_secret, 32) == 0 && tg_cfg->jwt_secret_len == 32,
          "the file holds the key in use");
    memcpy(first, tg_cfg->jwt_secret, 32);
    config_free();
    CHECK(tg_cfg == NULL, "config_free clears tg_cfg");
    CHECK(load(NULL) == 0 && memcmp(first, tg_cfg->jwt_secret, 32) == 0, "second start reuses the secret");
    read_hex_file(path, again);
    CHECK(strncmp(again, hex, 64) == 0, "file unchanged");
    CHECK(config_get("TG_JWT_SECRET") == NULL, "generated secret is not a configured value");

    FILE *f = fopen(path, "w");
    fputs("not hex\n", f);
    fclose(f);
    CHECK(load(NULL) == -1 && err_has("malformed"), "a corrupt secret file stops the start");
    CHECK(tg_cfg != NULL && memcmp(first, tg_cfg->jwt_secret, 32) == 0,
          "a failed load keeps the previous config");

    fresh();
    setenv("TG_JWT_SECRET", "0123456789abcdef0123456789abcdef", 1);
    CHECK(load(NULL) == 0 && tg_cfg->jwt_secret_len == 32 &&
              memcmp(tg_cfg->jwt_secret, "0123456789abcdef0123456789abcdef", 32) == 0,
          "TG_JWT_SECRET of 32 bytes used as is");
    expect_bad("TG_JWT_SECRET", "0123456789abcdef0123456789abcde", "at least 32 bytes");
    CHECK(!err_has("0123456789"), "short secret not echoed");
    char longkey[101];
    memset(longkey, 'k', 100);
    longkey[100] = '\0';
    unsigned char h[32];
    crypto_hash_sha256(h, (const unsigned char *)longkey, 100);
    fresh();
    setenv("TG_JWT_SECRET", longkey, 1);
    CHECK(load(NULL) == 0 && tg_cfg->jwt_secret_len == 32 && memcmp(tg_cfg->jwt_secret, h, 32) == 0,
          "a key over 64 bytes is stored as its SHA-256, as HMAC would use it");

    /* Several processes starting at once end up with one key. */
    d = fresh();
    int fds[4][2];
    pid_t pids[4];
    for (int i = 0; i < 4; i++) {
        if (pipe(fds[i]) != 0)
            abort();
        pids[i] = fork();
        if (pids[i] == 0) {
            char *e = NULL;
            char out[65] = "";
            if (config_load(NULL, &e) == 0)
                sodium_bin2hex(out, sizeof out, tg_cfg->jwt_secret, 32);
            if (write(fds[i][1], out, 64) != 64)
                _exit(2);
            _exit(0);
        }
        close(fds[i][1]);
    }
    char got[4][65];
    int same = 1;
    for (int i = 0; i < 4; i++) {
        int st = 0;
        ssize_t n = read(fds[i][0], got[i], 64);
        got[i][n < 0 ? 0 : n] = '\0';
        close(fds[i][0]);
        waitpid(pids[i], &st, 0);
        if (n != 64 || strcmp(got[i], got[0]) != 0)
            same = 0;
    }
    CHECK(same, "four racing processes share one generated secret");
}

static void test_config_get_abort(void)
{
    fresh();
    load(NULL);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 2);
        config_get("TG_NOT_A_KEY");
        _exit(0);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT, "config_get of an unknown key aborts");
    config_free();
    CHECK_STR_EQ(config_get("TG_KIE_API_BASE"), "https://api.kie.ai",
                 "config_get before load gives the default");
}

static void rm_rf(const char *path)
{
    char *cmd = xasprintf("rm -rf '%s'", path);
    if (system(cmd) != 0)
        printf("# could not remove %s\n", path);
    free(cmd);
}

/* Mail: SMTP URL (a secret: it may carry a password), sender, link lifetimes, the rule. */
static void test_mail(void)
{
    fresh();
    CHECK(load(NULL) == 0 && tg_cfg->smtp_url == NULL && tg_cfg->smtp_from == NULL &&
              tg_cfg->signup_require_verified == 1 && tg_cfg->email_verify_ttl_s == 86400 &&
              tg_cfg->password_reset_ttl_s == 3600,
          "mail defaults: outbox, rule on, 24 h to verify, 1 h to reset");

    fresh();
    setenv("TG_SMTP_URL", "smtp://mailer:s3cr3t-pw@smtp.example.com:587", 1);
    setenv("TG_SMTP_FROM", "no-reply@example.com", 1);
    CHECK(load(NULL) == 0 && strcmp(tg_cfg->smtp_url, "smtp://mailer:s3cr3t-pw@smtp.example.com:587") == 0 &&
              strcmp(tg_cfg->smtp_from, "no-reply@example.com") == 0,
          "smtp:// with credentials and a sender");
    setenv("TG_SMTP_URL", "SMTPS://smtp.example.com", 1);
    CHECK(load(NULL) == 0, "smtps://, any case");

    fresh();
    setenv("TG_SMTP_URL", "smtp://mailer:s3cr3t-pw@smtp.example.com:587", 1);
    CHECK(load(NULL) == -1 && err_has("TG_SMTP_FROM"), "an SMTP server needs TG_SMTP_FROM");
    CHECK(last_err && strstr(last_err, "s3cr3t") == NULL, "and the message does not show the URL");

    static const char *const bad_urls[] = {"http://mailer:s3cr3t-pw@smtp.example.com", "smtp://",
                                           "smtp://mailer:s3cr3t-pw@", "smtp://:587",
                                           "smtp://mailer:s3cr3t pw@smtp.example.com", "s3cr3t-pw"};
    for (size_t i = 0; i < sizeof bad_urls / sizeof bad_urls[0]; i++) {
        fresh();
        setenv("TG_SMTP_URL", bad_urls[i], 1);
        setenv("TG_SMTP_FROM", "no-reply@example.com", 1);
        CHECK(load(NULL) == -1 && err_has("TG_SMTP_URL") && strstr(last_err, "s3cr3t") == NULL,
              "bad TG_SMTP_URL #%zu refused without showing it", i);
    }
    static const char *const bad_from[] = {"no-reply", "@example.com", "no-reply@", "a@b@example.com",
                                           "Tollgate <no-reply@example.com>", "no reply@example.com",
                                           "no-reply@example.com\r\nBcc: x@y.test", "no-reply@localhost",
                                           "a,b@example.com", "no-reply@.example.com"};
    for (size_t i = 0; i < sizeof bad_from / sizeof bad_from[0]; i++)
        expect_bad("TG_SMTP_FROM", bad_from[i], "TG_SMTP_FROM");
    expect_ok("TG_SMTP_FROM", "no-reply+tollgate@mail.example.com");

    expect_ok("TG_EMAIL_VERIFY_TTL", "60");
    expect_bad("TG_EMAIL_VERIFY_TTL", "59", "TG_EMAIL_VERIFY_TTL");
    expect_ok("TG_EMAIL_VERIFY_TTL", "2592000");
    expect_bad("TG_EMAIL_VERIFY_TTL", "2592001", "TG_EMAIL_VERIFY_TTL");
    expect_ok("TG_PASSWORD_RESET_TTL", "60");
    expect_bad("TG_PASSWORD_RESET_TTL", "59", "TG_PASSWORD_RESET_TTL");
    expect_bad("TG_PASSWORD_RESET_TTL", "86401", "TG_PASSWORD_RESET_TTL");
    fresh();
    setenv("TG_SIGNUP_CREDITS_REQUIRE_VERIFIED", "off", 1);
    CHECK(load(NULL) == 0 && tg_cfg->signup_require_verified == 0, "the rule can be turned off");
    expect_bad("TG_SIGNUP_CREDITS_REQUIRE_VERIFIED", "maybe", "TG_SIGNUP_CREDITS_REQUIRE_VERIFIED");
}

int main(void)
{
    if (sodium_init() < 0 || mkdtemp(tmp_root) == NULL)
        return 1;
    umask(022);
    test_defaults();
    test_types();
    test_unknown_keys();
    test_key_file();
    test_dotenv();
    test_cidrs();
    test_cors();
    test_public_origin();
    test_jwt_secret();
    test_mail();
    test_config_get_abort();
    config_free();
    free(last_err);
    env_clear();
    rm_rf(tmp_root);
    return test_done();
}
