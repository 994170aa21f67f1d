/*
 * config.c - the option table, the dotenv reader and start-up validation (DESIGN section 10).
 *
 * Loading happens once, before any thread starts, in four steps:
 *   1. merge: the dotenv file (if any), then the process environment, into one raw value per
 *      option; the environment wins. KEY_FILE is remembered as a reference, not read yet.
 *   2. resolve: KEY_FILE references of the winning source are read (64 KiB limit).
 *   3. defaults: static defaults from the table, then the computed ones (cores, database
 *      path, public URL, sandbox), which depend on other options.
 *   4. check: every value is parsed by its type into struct tg_config, then the options that
 *      need the file system (data folder, JWT secret) are applied.
 * Everything is built in a fresh state and only swapped in when all of it succeeded, so a
 * failed reload (tests do that) never leaves a half-filled tg_cfg behind.
 *
 * Conventions a user sees:
 * - An empty value (`TG_REDIS_URL=`) counts as not set, so templating tools that always emit
 *   every key do not change behaviour; an empty KEY_FILE file is an error instead, because
 *   it almost always means the secret was not mounted.
 * - Messages are one line and name the key; values of secret options are never shown.
 */
#include "core/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "core/mem.h"

/* Any single value, including one read through KEY_FILE (PEM keys are a few KiB). */
#define CFG_MAX_VALUE (64 * 1024)
/* One entry of TG_CORS_ORIGINS as written (before canonicalisation). */
#define CFG_MAX_ORIGIN_LEN 256

enum cfg_type {
    CFG_STRING,      /* free text: paths, identifiers */
    CFG_SECRET,      /* free text that is never shown in a message */
    CFG_INT,         /* decimal integer within [min, max] */
    CFG_BOOL,        /* on/off, true/false, 1/0 (any case) */
    CFG_ENUM,        /* one of `choices` ("a|b|c"), exact */
    CFG_URL,         /* http(s)://host..., trailing slashes removed */
    CFG_LISTEN,      /* host:port or [v6]:port */
    CFG_CIDR_LIST,   /* comma-separated CIDRs or bare addresses */
    CFG_ORIGIN_LIST, /* comma-separated exact origins */
    CFG_LIST,        /* comma-separated, kept raw for the module that reads it */
};

#define CFG_F_SECRET 1u   /* value never shown (URLs with passwords, key pools) */
#define CFG_F_DYNAMIC 2u  /* default computed from other options or the machine */
#define CFG_F_PROVIDER 4u /* a real provider credential: when set, TG_SANDBOX defaults off */

#define CFG_RAW SIZE_MAX /* no struct field: read later with config_get() */

struct cfg_opt {
    const char *key;
    enum cfg_type type;
    unsigned flags;
    const char *def;     /* default as text, NULL when unset or computed */
    int64_t min, max;    /* CFG_INT bounds */
    const char *choices; /* CFG_ENUM choices */
    size_t off;          /* offset in struct tg_config, or CFG_RAW */
    size_t size;         /* size of that field (int or int64_t) */
};

#define FIELD(m) offsetof(struct tg_config, m), sizeof(((struct tg_config *)0)->m)
#define NOFIELD CFG_RAW, 0

/*
 * The one table of options (Redis' standardConfig idea). Bounds say where they come from:
 * 256 threads is far past any useful number on one node and keeps a typo (TG_WORKERS=1000)
 * from exhausting the machine; token lifetimes follow the seeds (15 min / 7 days).
 */
// clang-format off
/* One option per line reads better than wrapped initialisers */
static const struct cfg_opt cfg_opts[] = {
    /* server */
    {"TG_LISTEN", CFG_LISTEN, 0, "127.0.0.1:8080", 0, 0, NULL, NOFIELD},
    {"TG_PUBLIC_URL", CFG_URL, CFG_F_DYNAMIC, NULL, 0, 0, NULL, FIELD(public_url)},
    {"TG_DATA_DIR", CFG_STRING, 0, "./data", 0, 0, NULL, FIELD(data_dir)},
    {"TG_DATABASE_URL", CFG_STRING, CFG_F_SECRET | CFG_F_DYNAMIC, NULL, 0, 0, NULL, FIELD(database_url)},
    {"TG_REDIS_URL", CFG_STRING, CFG_F_SECRET, NULL, 0, 0, NULL, FIELD(redis_url)},
    {"TG_WORKERS", CFG_INT, CFG_F_DYNAMIC, NULL, 1, 256, NULL, FIELD(workers)},
    {"TG_BLOCKING_THREADS", CFG_INT, CFG_F_DYNAMIC, NULL, 1, 256, NULL, FIELD(blocking_threads)},
    {"TG_JWT_SECRET", CFG_SECRET, 0, NULL, 0, 0, NULL, NOFIELD},
    {"TG_TRUSTED_PROXIES", CFG_CIDR_LIST, 0, NULL, 0, 0, NULL, NOFIELD},
    {"TG_GEOIP_DB", CFG_STRING, 0, NULL, 0, 0, NULL, FIELD(geoip_db)},
    {"TG_DEFAULT_REGION", CFG_ENUM, 0, "GLOBAL", 0, 0, "GLOBAL|CN", FIELD(default_region)},
    /* Region profiles (domain/region.c): no default here, because region.c holds the
     * built-in ones and validates every value (provider names against the registries). */
    {"TG_REGION_CN_COUNTRIES", CFG_LIST, 0, NULL, 0, 0, NULL, NOFIELD},
    {"TG_REGION_CN_SIGN_IN", CFG_LIST, 0, NULL, 0, 0, NULL, NOFIELD},
    {"TG_REGION_CN_PAYMENT", CFG_LIST, 0, NULL, 0, 0, NULL, NOFIELD},
    {"TG_REGION_CN_CURRENCY", CFG_STRING, 0, NULL, 0, 0, NULL, NOFIELD},
    {"TG_REGION_CN_LOCALE", CFG_STRING, 0, NULL, 0, 0, NULL, NOFIELD},
    {"TG_REGION_GLOBAL_SIGN_IN", CFG_LIST, 0, NULL, 0, 0, NULL, NOFIELD},
    {"TG_REGION_GLOBAL_PAYMENT", CFG_LIST, 0, NULL, 0, 0, NULL, NOFIELD},
    {"TG_REGION_GLOBAL_CURRENCY", CFG_STRING, 0, NULL, 0, 0, NULL, NOFIELD},
    {"TG_REGION_GLOBAL_LOCALE", CFG_STRING, 0, NULL, 0, 0, NULL, NOFIELD},
    {"TG_CORS_ORIGINS", CFG_ORIGIN_LIST, 0, NULL, 0, 0, NULL, NOFIELD},
    {"TG_CATALOG", CFG_STRING, 0, NULL, 0, 0, NULL, FIELD(catalog_path)},
    {"TG_SIGNUP_CREDITS", CFG_INT, 0, "8", 0, 1000000000, NULL, FIELD(signup_credits)},
    /* Signup credits wait for a verified address, so that made-up addresses cannot farm them. */
    {"TG_SIGNUP_CREDITS_REQUIRE_VERIFIED", CFG_BOOL, 0, "on", 0, 0, NULL, FIELD(signup_require_verified)},
    /* Mail: the URL may carry credentials (smtp://user:pass@host:587), hence secret. Unset,
     * mails are written to $TG_DATA_DIR/outbox/. */
    {"TG_SMTP_URL", CFG_STRING, CFG_F_SECRET, NULL, 0, 0, NULL, FIELD(smtp_url)},
    {"TG_SMTP_FROM", CFG_STRING, 0, NULL, 0, 0, NULL, FIELD(smtp_from)},
    /* Link lifetimes: a day to verify (mail can be slow and read late), an hour to reset a
     * password (the link is a credential for the account); never under a minute, at most
     * 30 days / 1 day. */
    {"TG_EMAIL_VERIFY_TTL", CFG_INT, 0, "86400", 60, 2592000, NULL, FIELD(email_verify_ttl_s)},
    {"TG_PASSWORD_RESET_TTL", CFG_INT, 0, "3600", 60, 86400, NULL, FIELD(password_reset_ttl_s)},
    {"TG_RATE_LIMITS", CFG_STRING, 0, NULL, 0, 0, NULL, FIELD(rate_limits)},
    {"TG_SANDBOX", CFG_BOOL, CFG_F_DYNAMIC, NULL, 0, 0, NULL, FIELD(sandbox)},
    /* Payments: how long a checkout may stay unpaid (two hours: WeChat Pay's and Alipay's
     * own default is about that), and when the pending-order job first asks the provider
     * about a pending order (a minute: notifications normally arrive within seconds), then
     * with doubling gaps, at most this many times. */
    {"TG_ORDER_TTL", CFG_INT, 0, "7200", 5, 30 * 86400, NULL, FIELD(order_ttl_s)},
    {"TG_ORDER_QUERY_AFTER", CFG_INT, 0, "60", 1, 86400, NULL, FIELD(order_query_after_s)},
    {"TG_ORDER_QUERY_MAX", CFG_INT, 0, "10", 0, 100, NULL, FIELD(order_query_max)},
    /* Generation: a task that has not finished an hour after it was submitted is given up
     * (timed_out, refunded): the video models take minutes, never an hour. Five live tasks
     * per user keep one account from filling the providers' queues for everyone. */
    {"TG_TASK_TIMEOUT", CFG_INT, 0, "3600", 10, 86400, NULL, FIELD(task_timeout_s)},
    {"TG_TASKS_MAX_LIVE", CFG_INT, 0, "5", 1, 10000, NULL, FIELD(tasks_max_live)},
    /* Signs the sandbox checkout's notifications; unset, a key derived from the server's secret. */
    {"TG_SANDBOX_WEBHOOK_SECRET", CFG_SECRET, 0, NULL, 0, 0, NULL, NOFIELD},
    /* 1 KiB is the smallest useful JSON body; 32 MiB bounds what one request may buffer
     * (h2o holds a whole body in memory before a handler runs, and enforces this same value
     * while the body streams in, so the key can never exceed what the server enforces). */
    {"TG_MAX_BODY_BYTES", CFG_INT, 0, "1048576", 1024, 32 * 1024 * 1024, NULL, FIELD(max_body_bytes)},
    /* Open client connections per process; past it accepting pauses (the kernel's backlog
     * holds the rest) so that running out of descriptors cannot spin the loops. */
    {"TG_MAX_CONNECTIONS", CFG_INT, 0, "4096", 16, 1048576, NULL, FIELD(max_connections)},
    /* Open task event streams per process (each holds a connection, within
     * TG_MAX_CONNECTIONS); past it a new one is answered 503. Measured: 1,000 open streams
     * cost a few MB and well under 1% of a core (docs/PERFORMANCE.md). */
    {"TG_MAX_EVENT_STREAMS", CFG_INT, 0, "2000", 0, 1048576, NULL, FIELD(max_event_streams)},
    /* HTTP/2 without TLS (h2c upgrade or prior knowledge): off, since the proxy in front
     * speaks HTTP/1.1 to us and h2c is where the HTTP/2 denial-of-service CVEs live. */
    {"TG_HTTP2_CLEARTEXT", CFG_BOOL, 0, "off", 0, 0, NULL, FIELD(http2_cleartext)},
    {"TG_HTTP_TIMEOUT", CFG_INT, 0, "10", 1, 3600, NULL, FIELD(http_timeout_s)},
    {"TG_SHUTDOWN_TIMEOUT", CFG_INT, 0, "30", 0, 3600, NULL, FIELD(shutdown_timeout_s)},
    {"TG_ACCESS_TOKEN_TTL", CFG_INT, 0, "900", 60, 86400, NULL, FIELD(access_token_ttl_s)},
    {"TG_REFRESH_TOKEN_TTL", CFG_INT, 0, "604800", 300, 31536000, NULL, FIELD(refresh_token_ttl_s)},
    {"TG_LOG_LEVEL", CFG_ENUM, 0, "info", 0, 0, "debug|info|warn|error", FIELD(log_level)},
    {"TG_ACCESS_LOG", CFG_BOOL, 0, "on", 0, 0, NULL, FIELD(access_log)},
    /* Tests only: lets an admin move the server's clock forward (api/clock.c). Off, and
     * never on in production: it would let an admin end every subscription period. */
    {"TG_TEST_CLOCK", CFG_BOOL, 0, "off", 0, 0, NULL, FIELD(test_clock)},
    /* payments */
    {"TG_STRIPE_SECRET_KEY", CFG_SECRET, CFG_F_PROVIDER, NULL, 0, 0, NULL, NOFIELD},
    {"TG_STRIPE_WEBHOOK_SECRET", CFG_SECRET, 0, NULL, 0, 0, NULL, NOFIELD},
    {"TG_STRIPE_API_BASE", CFG_URL, 0, "https://api.stripe.com", 0, 0, NULL, NOFIELD},
    {"TG_CREEM_API_KEY", CFG_SECRET, CFG_F_PROVIDER, NULL, 0, 0, NULL, NOFIELD},
    {"TG_CREEM_WEBHOOK_SECRET", CFG_SECRET, 0, NULL, 0, 0, NULL, NOFIELD},
    {"TG_CREEM_API_BASE", CFG_URL, 0, "https://api.creem.io", 0, 0, NULL, NOFIELD},
    {"TG_PAYPAL_CLIENT_ID", CFG_STRING, CFG_F_PROVIDER, NULL, 0, 0, NULL, NOFIELD},
    {"TG_PAYPAL_CLIENT_SECRET", CFG_SECRET, 0, NULL, 0, 0, NULL, NOFIELD},
    {"TG_PAYPAL_WEBHOOK_ID", CFG_STRING, 0, NULL, 0, 0, NULL, NOFIELD},
    {"TG_PAYPAL_API_BASE", CFG_URL, 0, "https://api-m.paypal.com", 0, 0, NULL, NOFIELD},
    {"TG_WECHATPAY_MCHID", CFG_STRING, CFG_F_PROVIDER, NULL, 0, 0, NULL, NOFIELD},
    {"TG_WECHATPAY_APPID", CFG_STRING, 0, NULL, 0, 0, NULL, NOFIELD},
    {"TG_WECHATPAY_SERIAL_NO", CFG_STRING, 0, NULL, 0, 0, NULL, NOFIELD},
    {"TG_WECHATPAY_PRIVATE_KEY_FILE", CFG_STRING, 0, NULL, 0, 0, NULL, NOFIELD},
    {"TG_WECHATPAY_APIV3_KEY", CFG_SECRET, 0, NULL, 0, 0, NULL, NOFIELD},
    {"TG_WECHATPAY_PLATFORM_PUBLIC_KEY_FILE", CFG_STRING, 0, NULL, 0, 0, NULL, NOFIELD},
    {"TG_WECHATPAY_PLATFORM_KEY_ID", CFG_STRING, 0, NULL, 0, 0, NULL, NOFIELD},
    {"TG_WECHATPAY_PLATFORM_CERT_FILE", CFG_STRING, 0, NULL, 0, 0, NULL, NOFIELD},
    {"TG_WECHATPAY_API_BASE", CFG_URL, 0, "https://api.mch.weixin.qq.com", 0, 0, NULL, NOFIELD},
    {"TG_ALIPAY_APP_ID", CFG_STRING, CFG_F_PROVIDER, NULL, 0, 0, NULL, NOFIELD},
    {"TG_ALIPAY_PRIVATE_KEY_FILE", CFG_STRING, 0, NULL, 0, 0, NULL, NOFIELD},
    {"TG_ALIPAY_PUBLIC_KEY_FILE", CFG_STRING, 0, NULL, 0, 0, NULL, NOFIELD},
    {"TG_ALIPAY_GATEWAY", CFG_URL, 0, "https://openapi.alipay.com/gateway.do", 0, 0, NULL, NOFIELD},
    /* sign-in */
    {"TG_GOOGLE_CLIENT_ID", CFG_STRING, CFG_F_PROVIDER, NULL, 0, 0, NULL, NOFIELD},
    {"TG_GOOGLE_CLIENT_SECRET", CFG_SECRET, 0, NULL, 0, 0, NULL, NOFIELD},
    {"TG_GOOGLE_AUTH_URL", CFG_URL, 0, "https://accounts.google.com/o/oauth2/v2/auth", 0, 0, NULL, NOFIELD},
    {"TG_GOOGLE_JWKS_URL", CFG_URL, 0, "https://www.googleapis.com/oauth2/v3/certs", 0, 0, NULL, NOFIELD},
    {"TG_GOOGLE_TOKEN_URL", CFG_URL, 0, "https://oauth2.googleapis.com/token", 0, 0, NULL, NOFIELD},
    {"TG_WECHAT_APPID", CFG_STRING, CFG_F_PROVIDER, NULL, 0, 0, NULL, NOFIELD},
    {"TG_WECHAT_SECRET", CFG_SECRET, 0, NULL, 0, 0, NULL, NOFIELD},
    {"TG_WECHAT_API_BASE", CFG_URL, 0, "https://api.weixin.qq.com", 0, 0, NULL, NOFIELD},
    /* WeChat in-WeChat H5 sign-in uses the Official Account's app, not the website app */
    {"TG_WECHAT_MP_APPID", CFG_STRING, CFG_F_PROVIDER, NULL, 0, 0, NULL, NOFIELD},
    {"TG_WECHAT_MP_SECRET", CFG_SECRET, 0, NULL, 0, 0, NULL, NOFIELD},
    {"TG_WECHAT_OPEN_BASE", CFG_URL, 0, "https://open.weixin.qq.com", 0, 0, NULL, NOFIELD},
    /* generation: key pools are comma-separated lists of secrets */
    {"TG_DASHSCOPE_API_KEYS", CFG_LIST, CFG_F_SECRET | CFG_F_PROVIDER, NULL, 0, 0, NULL, NOFIELD},
    {"TG_DASHSCOPE_API_BASE", CFG_URL, 0, "https://dashscope.aliyuncs.com", 0, 0, NULL, NOFIELD},
    {"TG_KIE_API_KEYS", CFG_LIST, CFG_F_SECRET | CFG_F_PROVIDER, NULL, 0, 0, NULL, NOFIELD},
    {"TG_KIE_API_BASE", CFG_URL, 0, "https://api.kie.ai", 0, 0, NULL, NOFIELD},
    {"TG_GEMINI_API_KEYS", CFG_LIST, CFG_F_SECRET | CFG_F_PROVIDER, NULL, 0, 0, NULL, NOFIELD},
    {"TG_GEMINI_API_BASE", CFG_URL, 0, "https://generativelanguage.googleapis.com", 0, 0, NULL, NOFIELD},
    /* kie.ai signs its callbacks with the account's webhook HMAC key (kie.ai settings);
     * unset, callbacks are not trusted and tasks are only polled. */
    {"TG_KIE_WEBHOOK_HMAC_KEY", CFG_SECRET, 0, NULL, 0, 0, NULL, NOFIELD},
    /* The sandbox generation provider finishes a task this long after its submission: long
     * enough for a user to see it run, short enough for tests; at most 10 minutes. */
    {"TG_GEN_SANDBOX_DELAY_MS", CFG_INT, 0, "4000", 0, 600000, NULL, NOFIELD},
    /* storage */
    {"TG_STORAGE", CFG_ENUM, 0, "local", 0, 0, "local|s3", NOFIELD},
    {"TG_S3_ENDPOINT", CFG_URL, 0, NULL, 0, 0, NULL, NOFIELD},
    {"TG_S3_REGION", CFG_STRING, 0, NULL, 0, 0, NULL, NOFIELD},
    {"TG_S3_BUCKET", CFG_STRING, 0, NULL, 0, 0, NULL, NOFIELD},
    {"TG_S3_ACCESS_KEY_ID", CFG_SECRET, 0, NULL, 0, 0, NULL, NOFIELD},
    {"TG_S3_SECRET_ACCESS_KEY", CFG_SECRET, 0, NULL, 0, 0, NULL, NOFIELD},
    /* Aliyun OSS through its S3-compatible API (SigV4): the CN region's uploads when set. */
    {"TG_OSS_ENDPOINT", CFG_URL, 0, NULL, 0, 0, NULL, NOFIELD},
    {"TG_OSS_REGION", CFG_STRING, 0, NULL, 0, 0, NULL, NOFIELD},
    {"TG_OSS_BUCKET", CFG_STRING, 0, NULL, 0, 0, NULL, NOFIELD},
    {"TG_OSS_ACCESS_KEY_ID", CFG_SECRET, 0, NULL, 0, 0, NULL, NOFIELD},
    {"TG_OSS_SECRET_ACCESS_KEY", CFG_SECRET, 0, NULL, 0, 0, NULL, NOFIELD},
    /* Largest upload (PUT /files/{key}, and the size a video upload may declare). 200 MiB is
     * DashScope's input video limit (PROVIDERS.md); 4 GiB bounds what one request may buffer
     * (libh2o 2.2.5 holds a whole body in memory: see docs/OPERATIONS.md). */
    {"TG_MAX_UPLOAD_BYTES", CFG_INT, 0, "209715200", 1024 * 1024, 4LL * 1024 * 1024 * 1024, NULL,
     FIELD(max_upload_bytes)},
};
// clang-format on

#define CFG_N (sizeof cfg_opts / sizeof cfg_opts[0])

/* Precomputed forms of TG_TRUSTED_PROXIES for the per-request check. */
struct cfg_v4net {
    uint32_t net, mask; /* host byte order */
};
struct cfg_v6net {
    uint64_t net[2], mask[2];
};

struct cfg_state {
    struct tg_config c;
    char *vals[CFG_N]; /* effective value of every option (owned), NULL when unset */
    struct cfg_v4net *v4;
    size_t n_v4;
    struct cfg_v6net *v6;
    size_t n_v6;
    size_t *origin_len;
};

const struct tg_config *tg_cfg;
static struct cfg_state *cfg_cur;

/* Where a raw value came from while merging; the environment outranks the file. */
enum { SRC_NONE = 0, SRC_FILE = 1, SRC_ENV = 2 };

struct cfg_merge {
    char *raw[CFG_N];             /* value, or the path when `ref` */
    unsigned char src[CFG_N];     /* SRC_* of raw */
    unsigned char ref[CFG_N];     /* raw is a KEY_FILE path */
    unsigned char seen[CFG_N][3]; /* per source: bit 1 = KEY given, bit 2 = KEY_FILE given */
};

static int cfg_is_secret(const struct cfg_opt *o)
{
    return o->type == CFG_SECRET || (o->flags & CFG_F_SECRET);
}

/* Copies s into out for a message: printable ASCII only, at most 64 characters, because a
 * message is one line and must not carry terminal escapes from a hostile environment. */
static const char *cfg_show(const char *s, size_t n, char out[80])
{
    size_t j = 0;
    for (size_t i = 0; i < n && j < 64; i++) {
        unsigned char c = (unsigned char)s[i];
        out[j++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    if (n > 64) {
        memcpy(out + j, "...", 3);
        j += 3;
    }
    out[j] = '\0';
    return out;
}

static int cfg_find(const char *key, size_t len)
{
    for (size_t i = 0; i < CFG_N; i++)
        if (strlen(cfg_opts[i].key) == len && memcmp(cfg_opts[i].key, key, len) == 0)
            return (int)i;
    return -1;
}

/* Levenshtein distance, two rows; names longer than 64 are never "close" to ours. */
static size_t cfg_distance(const char *a, size_t la, const char *b, size_t lb)
{
    size_t row[2][65];
    if (la > 64 || lb > 64)
        return SIZE_MAX;
    for (size_t j = 0; j <= lb; j++)
        row[0][j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t *prev = row[(i - 1) & 1], *cur = row[i & 1];
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t best = prev[j - 1] + (a[i - 1] != b[j - 1]);
            if (prev[j] + 1 < best)
                best = prev[j] + 1;
            if (cur[j - 1] + 1 < best)
                best = cur[j - 1] + 1;
            cur[j] = best;
        }
    }
    return row[la & 1][lb];
}

/* "unknown setting TG_WROKERS (did you mean TG_WORKERS?)" with the closest key within 2 edits,
 * also comparing a KEY_FILE form against KEY_FILE forms. */
static char *cfg_unknown_msg(const char *where, const char *key, size_t len)
{
    char shown[80], cand[96];
    size_t best = 3;
    const char *best_key = NULL;
    int best_file = 0;
    for (size_t i = 0; i < CFG_N; i++) {
        const char *k = cfg_opts[i].key;
        size_t d = cfg_distance(key, len, k, strlen(k));
        if (d < best) {
            best = d;
            best_key = k;
            best_file = 0;
        }
        if (len > 5 && memcmp(key + len - 5, "_FILE", 5) == 0) {
            d = cfg_distance(key, len - 5, k, strlen(k));
            if (d < best) {
                best = d;
                best_key = k;
                best_file = 1;
            }
        }
    }
    cfg_show(key, len, shown);
    if (best_key == NULL)
        return xasprintf("%sunknown setting %s", where, shown);
    snprintf(cand, sizeof cand, "%s%s", best_key, best_file ? "_FILE" : "");
    return xasprintf("%sunknown setting %s (did you mean %s?)", where, shown, cand);
}

/*
 * Records key=value from one source. Keys that are not ours (no TG_ prefix) are ignored so a
 * dotenv file may be shared with other tools. Returns 0 or -1 with *err.
 */
static int cfg_merge_set(struct cfg_merge *m, int src, const char *where, const char *key, size_t klen,
                         const char *val, size_t vlen, char **err)
{
    char shown[80];
    int ref = 0;
    if (klen < 3 || memcmp(key, "TG_", 3) != 0)
        return 0;
    int i = cfg_find(key, klen);
    if (i < 0 && klen > 5 && memcmp(key + klen - 5, "_FILE", 5) == 0) {
        i = cfg_find(key, klen - 5);
        ref = 1;
    }
    if (i < 0) {
        *err = cfg_unknown_msg(where, key, klen);
        return -1;
    }
    if (vlen == 0)
        return 0; /* empty counts as not set (see the top of this file) */
    if (vlen > CFG_MAX_VALUE) {
        *err = xasprintf("%s%s is longer than %d bytes", where, cfg_show(key, klen, shown), CFG_MAX_VALUE);
        return -1;
    }
    m->seen[i][src] |= (unsigned char)(ref ? 2 : 1);
    if (m->seen[i][src] == 3) {
        *err = xasprintf("%sboth %s and %s_FILE are set; use one", where, cfg_opts[i].key, cfg_opts[i].key);
        return -1;
    }
    free(m->raw[i]);
    m->raw[i] = xstrndup(val, vlen);
    if (strlen(m->raw[i]) != vlen) {
        *err = xasprintf("%s%s contains a NUL byte", where, cfg_opts[i].key);
        return -1;
    }
    m->src[i] = (unsigned char)src;
    m->ref[i] = (unsigned char)ref;
    return 0;
}

/*
 * Reads a whole file of at most `limit` bytes into a new NUL-terminated string.
 * Returns 0, or -1 with errno set (EFBIG when too large).
 */
int config_read_file(const char *path, size_t limit, char **out, size_t *out_len)
{
    int rc = -1;
    size_t len = 0, cap = 4096;
    char *buf = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    *out = NULL;
    *out_len = 0;
    if (fd < 0)
        return -1;
    buf = xmalloc(cap + 1);
    for (;;) {
        if (len == cap) {
            if (cap > limit) {
                errno = EFBIG;
                goto cleanup;
            }
            cap *= 2;
            buf = xrealloc(buf, cap + 1);
        }
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            goto cleanup;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    if (len > limit) {
        errno = EFBIG;
        goto cleanup;
    }
    buf[len] = '\0';
    *out = buf;
    *out_len = len;
    buf = NULL;
    rc = 0;
cleanup:
    free(buf);
    int saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

static int cfg_is_key_char(char c, int first)
{
    return c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (!first && c >= '0' && c <= '9');
}

/*
 * Parses the value part of one dotenv line starting at p (after '=' and blanks) into a new
 * string. Double quotes take \n \r \t \" \\ escapes; single quotes are literal; unquoted
 * values end at end of line or at a '#' preceded by a blank. Returns 0 or -1 with *why.
 */
static int cfg_dotenv_value(const char *p, const char *end, struct sbuf *v, const char **why)
{
    if (p < end && (*p == '"' || *p == '\'')) {
        char q = *p++;
        for (;;) {
            if (p >= end) {
                *why = "unterminated quoted value (values cannot span lines)";
                return -1;
            }
            if (*p == q) {
                p++;
                break;
            }
            if (q == '"' && *p == '\\') {
                if (p + 1 >= end) {
                    *why = "unterminated quoted value (values cannot span lines)";
                    return -1;
                }
                char e = p[1], c;
                switch (e) {
                case 'n':
                    c = '\n';
                    break;
                case 'r':
                    c = '\r';
                    break;
                case 't':
                    c = '\t';
                    break;
                case '"':
                    c = '"';
                    break;
                case '\\':
                    c = '\\';
                    break;
                case '$':
                    c = '$';
                    break;
                default:
                    *why = "unknown escape in double-quoted value (use \\n \\r \\t \\\" \\\\)";
                    return -1;
                }
                sbuf_append(v, &c, 1);
                p += 2;
                continue;
            }
            sbuf_append(v, p, 1);
            p++;
        }
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        if (p < end && *p != '#') {
            *why = "unexpected text after the closing quote";
            return -1;
        }
        return 0;
    }
    const char *s = p;
    while (p < end && !(*p == '#' && p > s && (p[-1] == ' ' || p[-1] == '\t')))
        p++;
    while (p > s && (p[-1] == ' ' || p[-1] == '\t'))
        p--;
    sbuf_append(v, s, (size_t)(p - s));
    return 0;
}

int config_parse_dotenv(const char *name, const char *text, size_t len, config_dotenv_fn fn, void *ctx,
                        char **err)
{
    int rc = -1;
    size_t lineno = 0;
    struct sbuf v = {0};
    char where[PATH_MAX + 32];
    *err = NULL;
    if (len > CONFIG_DOTENV_MAX) {
        *err = xasprintf("%s: file larger than 1 MiB", name);
        goto cleanup;
    }
    if (memchr(text, '\0', len) != NULL) {
        *err = xasprintf("%s: file contains a NUL byte", name);
        goto cleanup;
    }
    for (const char *line = text; line < text + len;) {
        const char *nl = memchr(line, '\n', (size_t)(text + len - line));
        const char *end = nl ? nl : text + len;
        const char *next = nl ? nl + 1 : text + len;
        const char *p = line, *why = NULL;
        lineno++;
        snprintf(where, sizeof where, "%s:%zu: ", name, lineno);
        if (end > p && end[-1] == '\r')
            end--;
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        if (p == end || *p == '#') {
            line = next;
            continue;
        }
        if (end - p > 7 && memcmp(p, "export", 6) == 0 && (p[6] == ' ' || p[6] == '\t')) {
            p += 6;
            while (p < end && (*p == ' ' || *p == '\t'))
                p++;
        }
        const char *key = p;
        if (p < end && cfg_is_key_char(*p, 1)) {
            p++;
            while (p < end && cfg_is_key_char(*p, 0))
                p++;
        }
        size_t klen = (size_t)(p - key);
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        if (klen == 0 || p == end || *p != '=') {
            *err = xasprintf("%sexpected KEY=value", where);
            goto cleanup;
        }
        p++;
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        sbuf_reset(&v);
        sbuf_append(&v, "", 0);
        if (cfg_dotenv_value(p, end, &v, &why) != 0) {
            *err = xasprintf("%s%s", where, why);
            goto cleanup;
        }
        if (fn(ctx, where, key, klen, v.data, v.len, err) != 0)
            goto cleanup;
        line = next;
    }
    rc = 0;
cleanup:
    sbuf_free(&v);
    return rc;
}

/* config_dotenv_fn for config_load: records the pair as coming from the file. */
static int cfg_dotenv_merge(void *ctx, const char *where, const char *key, size_t klen, const char *val,
                            size_t vlen, char **err)
{
    return cfg_merge_set(ctx, SRC_FILE, where, key, klen, val, vlen, err);
}

/* Reads the dotenv file into m. Errors name file:line and never quote the line itself
 * (it may hold a secret). */
static int cfg_read_dotenv(struct cfg_merge *m, const char *path, char **err)
{
    int rc = -1;
    char *text = NULL;
    size_t len = 0;
    if (config_read_file(path, CONFIG_DOTENV_MAX, &text, &len) != 0) {
        *err =
            xasprintf("--config %s: %s", path, errno == EFBIG ? "file larger than 1 MiB" : strerror(errno));
        goto cleanup;
    }
    if (strlen(text) != len) {
        *err = xasprintf("--config %s: file contains a NUL byte", path);
        goto cleanup;
    }
    rc = config_parse_dotenv(path, text, len, cfg_dotenv_merge, m, err);
cleanup:
    free(text);
    return rc;
}

static int cfg_read_environ(struct cfg_merge *m, char **err)
{
    for (char **e = environ; e && *e; e++) {
        const char *eq = strchr(*e, '=');
        if (strncmp(*e, "TG_", 3) != 0 || eq == NULL)
            continue;
        if (cfg_merge_set(m, SRC_ENV, "environment: ", *e, (size_t)(eq - *e), eq + 1, strlen(eq + 1), err) !=
            0)
            return -1;
    }
    return 0;
}

/* Replaces a KEY_FILE path by the file's contents, minus one trailing newline. */
static int cfg_resolve_ref(struct cfg_merge *m, size_t i, char **err)
{
    char *text = NULL;
    size_t len = 0;
    const char *key = cfg_opts[i].key;
    char shown[80];
    if (config_read_file(m->raw[i], CFG_MAX_VALUE, &text, &len) != 0) {
        *err = xasprintf("%s_FILE: cannot read %s: %s", key, cfg_show(m->raw[i], strlen(m->raw[i]), shown),
                         errno == EFBIG ? "file larger than 64 KiB" : strerror(errno));
        return -1;
    }
    if (len > 0 && text[len - 1] == '\n') {
        text[--len] = '\0';
        if (len > 0 && text[len - 1] == '\r')
            text[--len] = '\0';
    }
    if (strlen(text) != len || len == 0) {
        *err = xasprintf("%s_FILE: %s", key, len == 0 ? "the file is empty" : "the file contains a NUL byte");
        free(text);
        return -1;
    }
    free(m->raw[i]);
    m->raw[i] = text;
    m->ref[i] = 0;
    return 0;
}

/* ---- value parsers --------------------------------------------------------------------- */

static char *cfg_bad(const struct cfg_opt *o, const char *val, const char *what)
{
    char shown[80];
    if (cfg_is_secret(o))
        return xasprintf("%s: %s (value not shown)", o->key, what);
    return xasprintf("%s: '%s' %s", o->key, cfg_show(val, strlen(val), shown), what);
}

static int cfg_parse_int(const char *s, int64_t *out)
{
    const char *p = s;
    char *end = NULL;
    if (*p == '-' || *p == '+')
        p++;
    if (*p < '0' || *p > '9')
        return -1;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return -1;
    *out = (int64_t)v;
    return 0;
}

/* Returns 1/0 for a boolean word, or -1. */
static int cfg_parse_bool(const char *s)
{
    if (!strcasecmp(s, "on") || !strcasecmp(s, "true") || !strcmp(s, "1"))
        return 1;
    if (!strcasecmp(s, "off") || !strcasecmp(s, "false") || !strcmp(s, "0"))
        return 0;
    return -1;
}

static int cfg_enum_ok(const char *choices, const char *s)
{
    size_t n = strlen(s);
    for (const char *c = choices; *c;) {
        const char *bar = strchr(c, '|');
        size_t cl = bar ? (size_t)(bar - c) : strlen(c);
        if (cl == n && memcmp(c, s, n) == 0)
            return 1;
        c += cl + (bar ? 1 : 0);
    }
    return 0;
}

/* Parses 1..65535 with digits only. */
static int cfg_parse_port(const char *s, int *port)
{
    int v = 0;
    if (*s == '\0' || strlen(s) > 5)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        v = v * 10 + (*s - '0');
    }
    if (v < 1 || v > 65535)
        return -1;
    *port = v;
    return 0;
}

static int cfg_hostname_ok(const char *h, size_t n)
{
    if (n == 0 || n > 253)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = h[i];
        if (!(c == '.' || c == '-' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
              (c >= 'A' && c <= 'Z')))
            return 0;
    }
    return 1;
}

/* TG_LISTEN: "host:port", "[v6]:port". The host is kept without brackets. */
static int cfg_parse_listen(struct cfg_state *st, const struct cfg_opt *o, const char *val, char **err)
{
    const char *colon;
    char *host = NULL;
    if (val[0] == '[') {
        const char *rb = strchr(val, ']');
        unsigned char a6[16];
        if (rb == NULL || rb[1] != ':') {
            *err = cfg_bad(o, val, "must look like [::1]:8080");
            return -1;
        }
        host = xstrndup(val + 1, (size_t)(rb - val - 1));
        if (inet_pton(AF_INET6, host, a6) != 1) {
            *err = cfg_bad(o, val, "has an invalid IPv6 address");
            goto fail;
        }
        colon = rb + 1;
    } else {
        colon = strrchr(val, ':');
        if (colon == NULL) {
            *err = cfg_bad(o, val, "must be host:port, e.g. 127.0.0.1:8080");
            return -1;
        }
        host = xstrndup(val, (size_t)(colon - val));
        if (strchr(host, ':') != NULL) {
            *err = cfg_bad(o, val, "needs brackets around an IPv6 address, e.g. [::1]:8080");
            goto fail;
        }
        if (!cfg_hostname_ok(host, strlen(host))) {
            *err = cfg_bad(o, val, "needs a host name or address before the port, e.g. 0.0.0.0:8080");
            goto fail;
        }
    }
    if (cfg_parse_port(colon + 1, &st->c.listen_port) != 0) {
        *err = cfg_bad(o, val, "needs a port between 1 and 65535");
        goto fail;
    }
    st->c.listen_host = host;
    return 0;
fail:
    free(host);
    return -1;
}

/* Strips blanks around [s, e). */
static void cfg_trim(const char **s, const char **e)
{
    while (*s < *e && (**s == ' ' || **s == '\t'))
        (*s)++;
    while (*e > *s && ((*e)[-1] == ' ' || (*e)[-1] == '\t'))
        (*e)--;
}

static void cfg_mask(unsigned char *out, int nbytes, int prefix)
{
    for (int b = 0; b < nbytes; b++) {
        int bits = prefix - b * 8;
        out[b] = bits >= 8 ? 0xff : bits <= 0 ? 0 : (unsigned char)(0xff << (8 - bits));
    }
}

static uint64_t cfg_be64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

static uint32_t cfg_be32(const unsigned char *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static const unsigned char cfg_v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/*
 * TG_TRUSTED_PROXIES: "10.0.0.0/8, 192.168.1.7, fd00::/8". A bare address means /32 or /128.
 * Bits set beyond the prefix are rejected, not masked: "10.1.2.3/8" is far more likely a typo
 * than a wish to trust all of 10/8, and trusting proxies decides whose X-Forwarded-For we
 * believe. IPv4-mapped IPv6 networks (::ffff:a.b.c.d/96+) are stored as IPv4 so that a peer
 * seen through a dual-stack socket matches the same entry.
 */
int config_parse_cidr_list(const char *key, const char *val, struct tg_cidr **out, size_t *n, char **err)
{
    int rc = -1;
    char item[128], shown[80];
    size_t cap = 0, count = 0;
    struct tg_cidr *list = NULL;
    *out = NULL;
    *n = 0;
    *err = NULL;
    for (const char *s = val;;) {
        const char *comma = strchr(s, ',');
        const char *e = comma ? comma : s + strlen(s);
        const char *b = s;
        struct tg_cidr c = {0};
        unsigned char m[16];
        cfg_trim(&b, &e);
        if (b == e || (size_t)(e - b) >= sizeof item) {
            *err = xasprintf("%s: %s", key, b == e ? "empty entry in the list" : "entry too long");
            goto cleanup;
        }
        memcpy(item, b, (size_t)(e - b));
        item[e - b] = '\0';
        char *slash = strchr(item, '/');
        if (slash)
            *slash = '\0';
        if (inet_pton(AF_INET, item, c.addr) == 1) {
            c.family = AF_INET;
            c.prefix_len = 32;
        } else if (inet_pton(AF_INET6, item, c.addr) == 1) {
            c.family = AF_INET6;
            c.prefix_len = 128;
        } else {
            *err = xasprintf("%s: '%s' is not an IPv4 or IPv6 address", key,
                             cfg_show(b, (size_t)(e - b), shown));
            goto cleanup;
        }
        if (slash) {
            int64_t p;
            const char *ps = slash + 1;
            if (*ps < '0' || *ps > '9' || strlen(ps) > 3 || cfg_parse_int(ps, &p) != 0 || p > c.prefix_len) {
                *err = xasprintf("%s: '%s' has a bad prefix length (0..%d)", key,
                                 cfg_show(b, (size_t)(e - b), shown), c.prefix_len);
                goto cleanup;
            }
            c.prefix_len = (int)p;
        }
        int nbytes = c.family == AF_INET ? 4 : 16;
        cfg_mask(m, nbytes, c.prefix_len);
        int host_bits = 0;
        for (int k = 0; k < nbytes; k++) {
            host_bits |= c.addr[k] & (unsigned char)~m[k];
            c.addr[k] &= m[k];
        }
        if (host_bits) {
            char net[INET6_ADDRSTRLEN];
            inet_ntop(c.family, c.addr, net, sizeof net);
            *err = xasprintf("%s: '%s' has bits set beyond the /%d prefix (did you mean %s/%d?)", key,
                             cfg_show(b, (size_t)(e - b), shown), c.prefix_len, net, c.prefix_len);
            goto cleanup;
        }
        if (c.family == AF_INET6 && c.prefix_len >= 96 && memcmp(c.addr, cfg_v4mapped, 12) == 0) {
            memmove(c.addr, c.addr + 12, 4);
            memset(c.addr + 4, 0, 12);
            c.family = AF_INET;
            c.prefix_len -= 96;
        }
        if (count == CONFIG_MAX_PROXIES) {
            *err = xasprintf("%s: more than %d entries", key, CONFIG_MAX_PROXIES);
            goto cleanup;
        }
        if (count == cap) {
            cap = cap ? cap * 2 : 4;
            list = xrealloc(list, cap * sizeof *list);
        }
        list[count++] = c;
        if (comma == NULL)
            break;
        s = comma + 1;
    }
    *out = list;
    *n = count;
    list = NULL;
    rc = 0;
cleanup:
    free(list);
    return rc;
}

/* Precomputes TG_TRUSTED_PROXIES' masks (host byte order) for config_is_trusted_proxy. */
static void cfg_index_proxies(struct cfg_state *st)
{
    size_t n = st->c.n_trusted_proxies;
    st->v4 = xrealloc(st->v4, (n ? n : 1) * sizeof *st->v4);
    st->v6 = xrealloc(st->v6, (n ? n : 1) * sizeof *st->v6);
    st->n_v4 = st->n_v6 = 0;
    for (size_t i = 0; i < n; i++) {
        const struct tg_cidr *c = &st->c.trusted_proxies[i];
        unsigned char m[16];
        cfg_mask(m, 16, c->prefix_len);
        if (c->family == AF_INET) {
            st->v4[st->n_v4].net = cfg_be32(c->addr);
            st->v4[st->n_v4].mask = cfg_be32(m);
            st->n_v4++;
        } else {
            struct cfg_v6net *n6 = &st->v6[st->n_v6++];
            n6->net[0] = cfg_be64(c->addr);
            n6->net[1] = cfg_be64(c->addr + 8);
            n6->mask[0] = cfg_be64(m);
            n6->mask[1] = cfg_be64(m + 8);
        }
    }
}

/*
 * One origin of TG_CORS_ORIGINS into its serialized form (RFC 6454 section 6.1, what browsers
 * send in Origin): lower-case scheme and host, no default port, no path. A lone trailing "/"
 * (a common paste) is accepted and dropped; any other path is an error.
 */
static char *cfg_origin(const char *key, const char *b, const char *e, char **err)
{
    char shown[80];
    const char *p = b;
    size_t n = (size_t)(e - b);
    int https;
    struct sbuf out = {0};
    if (n == 1 && *b == '*') {
        *err = xasprintf("%s: '*' is not allowed because requests carry credentials; list exact origins such "
                         "as https://app.example.com",
                         key);
        return NULL;
    }
    if (n > CFG_MAX_ORIGIN_LEN)
        goto bad;
    if (n >= 7 && strncasecmp(p, "http://", 7) == 0) {
        https = 0;
        p += 7;
    } else if (n >= 8 && strncasecmp(p, "https://", 8) == 0) {
        https = 1;
        p += 8;
    } else {
        goto bad;
    }
    sbuf_puts(&out, https ? "https://" : "http://");
    const char *h = p;
    if (p < e && *p == '[') {
        while (p < e && *p != ']')
            p++;
        if (p == e)
            goto bad;
        p++;
        char addr[64];
        unsigned char a6[16];
        if ((size_t)(p - h - 2) >= sizeof addr)
            goto bad;
        memcpy(addr, h + 1, (size_t)(p - h - 2));
        addr[p - h - 2] = '\0';
        if (inet_pton(AF_INET6, addr, a6) != 1)
            goto bad;
    } else {
        while (p < e && *p != ':' && *p != '/')
            p++;
        if (!cfg_hostname_ok(h, (size_t)(p - h)))
            goto bad;
    }
    for (const char *q = h; q < p; q++) {
        char c = (*q >= 'A' && *q <= 'Z') ? (char)(*q - 'A' + 'a') : *q;
        sbuf_append(&out, &c, 1);
    }
    if (p < e && *p == ':') {
        char port[8];
        int pv;
        const char *ps = ++p;
        while (p < e && *p != '/')
            p++;
        if ((size_t)(p - ps) >= sizeof port)
            goto bad;
        memcpy(port, ps, (size_t)(p - ps));
        port[p - ps] = '\0';
        if (cfg_parse_port(port, &pv) != 0)
            goto bad;
        if (pv != (https ? 443 : 80))
            sbuf_printf(&out, ":%d", pv);
    }
    if (p < e && !(p + 1 == e && *p == '/')) {
        *err = xasprintf("%s: '%s' must be an origin without a path (scheme://host[:port])", key,
                         cfg_show(b, n, shown));
        sbuf_free(&out);
        return NULL;
    }
    return out.data;
bad:
    *err = xasprintf("%s: '%s' is not an origin like https://app.example.com[:port]", key,
                     cfg_show(b, n, shown));
    sbuf_free(&out);
    return NULL;
}

int config_parse_origin_list(const char *key, const char *val, char ***out, size_t *n, char **err)
{
    int rc = -1;
    char **list = NULL;
    size_t count = 0;
    *out = NULL;
    *n = 0;
    *err = NULL;
    for (const char *s = val;;) {
        const char *comma = strchr(s, ',');
        const char *e = comma ? comma : s + strlen(s);
        const char *b = s;
        cfg_trim(&b, &e);
        if (b == e) {
            *err = xasprintf("%s: empty entry in the list", key);
            goto cleanup;
        }
        char *origin = cfg_origin(key, b, e, err);
        if (origin == NULL)
            goto cleanup;
        if (count == CONFIG_MAX_ORIGINS) {
            free(origin);
            *err = xasprintf("%s: more than %d origins", key, CONFIG_MAX_ORIGINS);
            goto cleanup;
        }
        list = xrealloc(list, (count + 1) * sizeof *list);
        list[count++] = origin;
        if (comma == NULL)
            break;
        s = comma + 1;
    }
    *out = list;
    *n = count;
    list = NULL;
    count = 0;
    rc = 0;
cleanup:
    for (size_t i = 0; i < count; i++)
        free(list[i]);
    free(list);
    return rc;
}

char *config_url_origin(const char *url)
{
    char *err = NULL;
    const char *b = url, *e;
    if (strncasecmp(url, "http://", 7) == 0)
        e = url + 7;
    else if (strncasecmp(url, "https://", 8) == 0)
        e = url + 8;
    else
        return NULL;
    e += strcspn(e, "/?#");
    char *origin = cfg_origin("url", b, e, &err);
    free(err);
    return origin;
}

/* Base URLs: http(s)://host..., no blanks or fragment; trailing slashes removed so modules
 * can append "/v1/...". Edits the value in place. */
static int cfg_parse_url(const struct cfg_opt *o, char *val, char **err)
{
    size_t n = strlen(val);
    const char *host;
    if (strncasecmp(val, "http://", 7) == 0)
        host = val + 7;
    else if (strncasecmp(val, "https://", 8) == 0)
        host = val + 8;
    else {
        *err = cfg_bad(o, val, "must start with http:// or https://");
        return -1;
    }
    if (*host == '\0' || *host == '/' || *host == ':') {
        *err = cfg_bad(o, val, "has no host");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)val[i];
        if (c <= 0x20 || c >= 0x7f || c == '#') {
            *err = cfg_bad(o, val, "must not contain blanks, control characters or '#'");
            return -1;
        }
    }
    while (n > 0 && val[n - 1] == '/' && val + n - 1 > host)
        val[--n] = '\0';
    return 0;
}

/* Creates dir and its missing parents with mode 0700 (only the owner may read secrets). */
static int cfg_mkdirs(const char *dir, char **err)
{
    struct stat sb;
    char *path = xstrdup(dir);
    int rc = -1;
    for (char *p = path + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char saved = *p;
            *p = '\0';
            if (mkdir(path, 0700) != 0 && errno != EEXIST) {
                *err = xasprintf("TG_DATA_DIR: cannot create %s: %s", path, strerror(errno));
                goto cleanup;
            }
            *p = saved;
            if (saved == '\0')
                break;
        }
    }
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        *err = xasprintf("TG_DATA_DIR: %s is not a directory", dir);
        goto cleanup;
    }
    rc = 0;
cleanup:
    free(path);
    return rc;
}

/* Reads a 64-hex-digit secret file. Returns 0, 1 when it does not exist, -1 on error. */
static int cfg_read_secret_file(const char *path, unsigned char out[32], char **err)
{
    char *text = NULL;
    size_t len = 0, bin_len = 0;
    int rc = -1;
    if (config_read_file(path, 256, &text, &len) != 0) {
        if (errno == ENOENT)
            return 1;
        *err = xasprintf("TG_JWT_SECRET: cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
        text[--len] = '\0';
    if (len != 64 || sodium_hex2bin(out, 32, text, len, NULL, &bin_len, NULL) != 0 || bin_len != 32) {
        *err = xasprintf(
            "TG_JWT_SECRET: %s is malformed (expected 64 hex digits); delete it to generate a new one "
            "(this signs every user out)",
            path);
        goto cleanup;
    }
    rc = 0;
cleanup:
    sodium_memzero(text, len);
    free(text);
    return rc;
}

/*
 * The JWT key: TG_JWT_SECRET if given, else <data_dir>/jwt_secret, else a new random one
 * written there. The file is published atomically without overwriting (renameat2 with
 * RENAME_NOREPLACE, or link() where the file system lacks it): when two processes start at
 * once, exactly one file wins and the loser reads it, so both sign with the same key.
 */
static int cfg_jwt_secret(struct cfg_state *st, const char *given, char **err)
{
    char *path = NULL, *tmp = NULL;
    char hex[65 + 1];
    unsigned char key[32];
    int rc = -1, fd = -1;
    if (given != NULL) {
        size_t n = strlen(given);
        if (n < 32) {
            *err = xasprintf("TG_JWT_SECRET: must be at least 32 bytes (got %zu; value not shown)", n);
            return -1;
        }
        if (n > sizeof st->c.jwt_secret) {
            /* HMAC (RFC 2104) replaces a key longer than the 64-byte SHA-256 block by its hash,
             * so storing that hash signs exactly as HS256 with the full key would. */
            crypto_hash_sha256(st->c.jwt_secret, (const unsigned char *)given, n);
            st->c.jwt_secret_len = crypto_hash_sha256_BYTES;
        } else {
            memcpy(st->c.jwt_secret, given, n);
            st->c.jwt_secret_len = n;
        }
        return 0;
    }
    path = xasprintf("%s/jwt_secret", st->c.data_dir);
    for (int attempt = 0; attempt < 2; attempt++) {
        int r = cfg_read_secret_file(path, key, err);
        if (r < 0)
            goto cleanup;
        if (r == 0)
            goto found;
        if (attempt == 1)
            break;
        randombytes_buf(key, sizeof key);
        sodium_bin2hex(hex, sizeof hex, key, sizeof key);
        hex[64] = '\n';
        tmp = xasprintf("%s/.jwt_secret.%ld.%08x", st->c.data_dir, (long)getpid(), randombytes_random());
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0) {
            *err = xasprintf("TG_JWT_SECRET: cannot create %s: %s", tmp, strerror(errno));
            goto cleanup;
        }
        size_t off = 0;
        while (off < 65) {
            ssize_t w = write(fd, hex + off, 65 - off);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0) {
                *err = xasprintf("TG_JWT_SECRET: cannot write %s: %s", tmp, strerror(errno));
                goto cleanup;
            }
            off += (size_t)w;
        }
        if (fsync(fd) != 0 || close(fd) != 0) {
            fd = -1;
            *err = xasprintf("TG_JWT_SECRET: cannot write %s: %s", tmp, strerror(errno));
            goto cleanup;
        }
        fd = -1;
        int pr = renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE);
        if (pr != 0 && (errno == EINVAL || errno == ENOSYS))
            pr = link(tmp, path);
        int perr = errno;
        unlink(tmp); /* after a rename it is already gone; after link() or a lost race it is not */
        free(tmp);
        tmp = NULL;
        if (pr == 0) {
            int dfd = open(st->c.data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (dfd >= 0) {
                fsync(dfd); /* make the new name durable: losing it would sign every user out */
                close(dfd);
            }
            goto found;
        }
        if (perr != EEXIST) {
            *err = xasprintf("TG_JWT_SECRET: cannot create %s: %s", path, strerror(perr));
            goto cleanup;
        }
        /* another process won the race: loop once more to read its file */
    }
    *err = xasprintf("TG_JWT_SECRET: %s vanished while starting", path);
    goto cleanup;
found:
    memcpy(st->c.jwt_secret, key, sizeof key);
    st->c.jwt_secret_len = sizeof key;
    rc = 0;
cleanup:
    if (fd >= 0)
        close(fd);
    if (tmp) {
        unlink(tmp);
        free(tmp);
    }
    sodium_memzero(key, sizeof key);
    sodium_memzero(hex, sizeof hex);
    free(path);
    return rc;
}

/* ---- state ----------------------------------------------------------------------------- */

static void cfg_state_free(struct cfg_state *st)
{
    if (st == NULL)
        return;
    for (size_t i = 0; i < CFG_N; i++) {
        if (st->vals[i] && cfg_is_secret(&cfg_opts[i]))
            sodium_memzero(st->vals[i], strlen(st->vals[i]));
        free(st->vals[i]);
    }
    for (size_t i = 0; i < st->c.n_cors_origins; i++)
        free(st->c.cors_origins[i]);
    free(st->c.cors_origins);
    free(st->origin_len);
    free(st->c.public_origin);
    free(st->c.trusted_proxies);
    free(st->v4);
    free(st->v6);
    free(st->c.listen_host);
    sodium_memzero(st->c.jwt_secret, sizeof st->c.jwt_secret);
    free(st);
}

static int cfg_index(const char *key)
{
    int i = cfg_find(key, strlen(key));
    if (i < 0) {
        fprintf(stderr, "tollgate: config: '%s' is not in the option table (programming error)\n", key);
        abort();
    }
    return i;
}

/* Parses one option's effective value into its struct field. */
static int cfg_apply(struct cfg_state *st, size_t i, char **err)
{
    const struct cfg_opt *o = &cfg_opts[i];
    char *val = st->vals[i];
    char *field = o->off == CFG_RAW ? NULL : (char *)&st->c + o->off;
    int64_t iv;
    int b;
    if (val == NULL)
        return 0;
    switch (o->type) {
    case CFG_INT:
        if (cfg_parse_int(val, &iv) != 0 || iv < o->min || iv > o->max) {
            char what[96];
            snprintf(what, sizeof what, "must be an integer from %lld to %lld", (long long)o->min,
                     (long long)o->max);
            *err = cfg_bad(o, val, what);
            return -1;
        }
        if (field && o->size == sizeof(int)) {
            int v = (int)iv;
            memcpy(field, &v, sizeof v);
        } else if (field) {
            memcpy(field, &iv, sizeof iv);
        }
        return 0;
    case CFG_BOOL:
        b = cfg_parse_bool(val);
        if (b < 0) {
            *err = cfg_bad(o, val, "must be on or off (true/false, 1/0)");
            return -1;
        }
        if (field)
            memcpy(field, &b, sizeof b);
        return 0;
    case CFG_ENUM:
        if (!cfg_enum_ok(o->choices, val)) {
            char what[96];
            snprintf(what, sizeof what, "must be one of %s", o->choices);
            *err = cfg_bad(o, val, what);
            return -1;
        }
        break;
    case CFG_URL:
        if (cfg_parse_url(o, val, err) != 0)
            return -1;
        break;
    case CFG_LISTEN:
        return cfg_parse_listen(st, o, val, err);
    case CFG_CIDR_LIST:
        if (config_parse_cidr_list(o->key, val, &st->c.trusted_proxies, &st->c.n_trusted_proxies, err) != 0)
            return -1;
        cfg_index_proxies(st);
        return 0;
    case CFG_ORIGIN_LIST:
        if (config_parse_origin_list(o->key, val, &st->c.cors_origins, &st->c.n_cors_origins, err) != 0)
            return -1;
        st->origin_len = xmalloc((st->c.n_cors_origins ? st->c.n_cors_origins : 1) * sizeof *st->origin_len);
        for (size_t k = 0; k < st->c.n_cors_origins; k++)
            st->origin_len[k] = strlen(st->c.cors_origins[k]);
        return 0;
    case CFG_STRING:
    case CFG_SECRET:
    case CFG_LIST:
        break;
    }
    if (field)
        memcpy(field, &val, sizeof val); /* borrowed from st->vals */
    return 0;
}

/* Defaults that depend on other options or on the machine. */
static void cfg_dynamic_defaults(struct cfg_state *st)
{
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (ncpu < 1)
        ncpu = 1;
    if (ncpu > 256)
        ncpu = 256;
    for (size_t i = 0; i < CFG_N; i++) {
        const char *k = cfg_opts[i].key;
        if (st->vals[i] != NULL || !(cfg_opts[i].flags & CFG_F_DYNAMIC))
            continue;
        if (!strcmp(k, "TG_WORKERS") || !strcmp(k, "TG_BLOCKING_THREADS")) {
            st->vals[i] = xasprintf("%ld", ncpu);
        } else if (!strcmp(k, "TG_DATABASE_URL")) {
            st->vals[i] = xasprintf("sqlite:%s/tollgate.db", st->vals[cfg_index("TG_DATA_DIR")]);
        } else if (!strcmp(k, "TG_PUBLIC_URL")) {
            const char *h = st->c.listen_host;
            int v6 = strchr(h, ':') != NULL;
            st->vals[i] = xasprintf("http://%s%s%s:%d", v6 ? "[" : "", h, v6 ? "]" : "", st->c.listen_port);
            st->c.public_url_default = 1;
        } else if (!strcmp(k, "TG_SANDBOX")) {
            /* DESIGN 9/10: sandbox providers are offered unless real ones are configured, so a
             * production install never exposes a free test checkout by accident. */
            int real = 0;
            for (size_t j = 0; j < CFG_N; j++)
                if ((cfg_opts[j].flags & CFG_F_PROVIDER) && st->vals[j] != NULL)
                    real = 1;
            st->vals[i] = xstrdup(real ? "off" : "on");
        }
    }
}

/*
 * TG_SMTP_FROM: a bare address local@domain (no display name, no angle brackets), printable
 * ASCII without blanks or the characters RFC 5322 gives a meaning to, so that it can be
 * written into the From header and the SMTP envelope as it is. Returns 1 when acceptable.
 */
static int cfg_mail_address_ok(const char *a)
{
    const char *at = strchr(a, '@');
    size_t n = strlen(a);
    if (n < 3 || n > 254 || at == NULL || at == a || strchr(at + 1, '@') != NULL || at[1] == '\0' ||
        strchr(at + 1, '.') == NULL || at[1] == '.' || a[n - 1] == '.')
        return 0;
    for (const char *p = a; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c <= 0x20 || c >= 0x7f || strchr("<>()[]\\,;:\"", c) != NULL)
            return 0;
    }
    return 1;
}

/*
 * TG_SMTP_URL: smtp:// (STARTTLS) or smtps:// (implicit TLS), a host, printable ASCII
 * without blanks. Whatever else is wrong (a bad port, a password with a raw '@') libcurl
 * reports at the first mail, named in the log line; the value itself is never shown.
 */
static int cfg_smtp_url_ok(const char *u)
{
    const char *rest;
    if (strncasecmp(u, "smtp://", 7) == 0)
        rest = u + 7;
    else if (strncasecmp(u, "smtps://", 8) == 0)
        rest = u + 8;
    else
        return 0;
    const char *host = strrchr(rest, '@'); /* after the credentials, if any */
    host = host ? host + 1 : rest;
    if (*host == '\0' || *host == '/' || *host == ':')
        return 0;
    for (const char *p = u; *p; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
            return 0;
    return 1;
}

/* Checks that need more than one option. */
static int cfg_cross_checks(struct cfg_state *st, char **err)
{
    const char *db = st->c.database_url;
    if (strncmp(db, "sqlite:", 7) != 0 && strncmp(db, "postgres://", 11) != 0 &&
        strncmp(db, "postgresql://", 13) != 0) {
        *err = xasprintf(
            "TG_DATABASE_URL: must start with sqlite:, postgres:// or postgresql:// (value not shown)");
        return -1;
    }
    if (strcmp(db, "sqlite:") == 0) {
        *err = xasprintf("TG_DATABASE_URL: sqlite: needs a file path");
        return -1;
    }
    if (st->c.refresh_token_ttl_s <= st->c.access_token_ttl_s) {
        *err = xasprintf("TG_REFRESH_TOKEN_TTL: must be longer than TG_ACCESS_TOKEN_TTL (%d <= %d)",
                         st->c.refresh_token_ttl_s, st->c.access_token_ttl_s);
        return -1;
    }
    /* Browser sessions compare Origin with it (api/auth.c): a URL without a usable origin
     * would refuse every browser. */
    st->c.public_origin = config_url_origin(st->c.public_url);
    if (st->c.public_origin == NULL) {
        char shown[80];
        *err = xasprintf("TG_PUBLIC_URL: '%s' has no origin a browser could send (scheme://host[:port])",
                         cfg_show(st->c.public_url, strlen(st->c.public_url), shown));
        return -1;
    }
    if (st->c.smtp_url != NULL && !cfg_smtp_url_ok(st->c.smtp_url)) {
        *err = xasprintf("TG_SMTP_URL: must look like smtp://host:587 (STARTTLS) or smtps://host:465, "
                         "credentials as user:password@ (value not shown)");
        return -1;
    }
    if (st->c.smtp_url != NULL && st->c.smtp_from == NULL) {
        *err = xasprintf("TG_SMTP_URL: needs TG_SMTP_FROM, the sender address of the mails");
        return -1;
    }
    if (st->c.smtp_from != NULL && !cfg_mail_address_ok(st->c.smtp_from)) {
        char shown[80];
        *err = xasprintf("TG_SMTP_FROM: '%s' must be a bare address like no-reply@example.com",
                         cfg_show(st->c.smtp_from, strlen(st->c.smtp_from), shown));
        return -1;
    }
    if (strcmp(st->vals[cfg_index("TG_STORAGE")], "s3") == 0) {
        static const char *const need[] = {"TG_S3_BUCKET", "TG_S3_ACCESS_KEY_ID", "TG_S3_SECRET_ACCESS_KEY"};
        for (size_t k = 0; k < sizeof need / sizeof need[0]; k++)
            if (st->vals[cfg_index(need[k])] == NULL) {
                *err = xasprintf("TG_STORAGE: s3 needs %s", need[k]);
                return -1;
            }
    }
    {
        /* OSS is all or nothing: a bucket without credentials (or the reverse) is a typo. */
        static const char *const oss[] = {"TG_OSS_ENDPOINT", "TG_OSS_REGION", "TG_OSS_BUCKET", "TG_OSS_ACCESS_KEY_ID",
                                          "TG_OSS_SECRET_ACCESS_KEY"};
        size_t set = 0;
        for (size_t k = 0; k < sizeof oss / sizeof oss[0]; k++)
            set += st->vals[cfg_index(oss[k])] != NULL;
        for (size_t k = 0; set != 0 && k < sizeof oss / sizeof oss[0]; k++)
            if (st->vals[cfg_index(oss[k])] == NULL) {
                *err = xasprintf("TG_OSS_BUCKET: OSS storage needs %s too", oss[k]);
                return -1;
            }
    }
    return 0;
}

int config_load(const char *file, char **err)
{
    int rc = -1;
    struct cfg_merge *m = xcalloc(1, sizeof *m);
    struct cfg_state *st = xcalloc(1, sizeof *st);
    *err = NULL;
    if (sodium_init() < 0) {
        *err = xasprintf("config: libsodium failed to initialise");
        goto cleanup;
    }
    if (file != NULL && cfg_read_dotenv(m, file, err) != 0)
        goto cleanup;
    if (cfg_read_environ(m, err) != 0)
        goto cleanup;
    for (size_t i = 0; i < CFG_N; i++) {
        if (m->raw[i] && m->ref[i] && cfg_resolve_ref(m, i, err) != 0)
            goto cleanup;
        st->vals[i] = m->raw[i] ? m->raw[i] : cfg_opts[i].def ? xstrdup(cfg_opts[i].def) : NULL;
        m->raw[i] = NULL;
    }
    /* Static values first: the computed defaults read TG_LISTEN and TG_DATA_DIR. */
    for (size_t i = 0; i < CFG_N; i++)
        if (!(cfg_opts[i].flags & CFG_F_DYNAMIC) && cfg_apply(st, i, err) != 0)
            goto cleanup;
    cfg_dynamic_defaults(st);
    for (size_t i = 0; i < CFG_N; i++)
        if ((cfg_opts[i].flags & CFG_F_DYNAMIC) && cfg_apply(st, i, err) != 0)
            goto cleanup;
    if (cfg_cross_checks(st, err) != 0)
        goto cleanup;
    if (cfg_mkdirs(st->c.data_dir, err) != 0)
        goto cleanup;
    if (cfg_jwt_secret(st, st->vals[cfg_index("TG_JWT_SECRET")], err) != 0)
        goto cleanup;
    cfg_state_free(cfg_cur);
    cfg_cur = st;
    tg_cfg = &st->c;
    st = NULL;
    rc = 0;
cleanup:
    for (size_t i = 0; i < CFG_N; i++) {
        if (m->raw[i])
            sodium_memzero(m->raw[i], strlen(m->raw[i]));
        free(m->raw[i]);
    }
    free(m);
    cfg_state_free(st);
    return rc;
}

const char *config_get(const char *key)
{
    int i = cfg_index(key);
    /* Before config_load (unit tests of other modules) the table default is the answer. */
    if (cfg_cur == NULL)
        return cfg_opts[i].def;
    return cfg_cur->vals[i];
}

/* Parses a textual address into family + 16 bytes, mapping ::ffff:a.b.c.d to IPv4. */
static int cfg_parse_ip(const char *ip, unsigned char a[16])
{
    if (inet_pton(AF_INET, ip, a) == 1)
        return AF_INET;
    if (inet_pton(AF_INET6, ip, a) != 1)
        return 0;
    if (memcmp(a, cfg_v4mapped, 12) == 0) {
        memmove(a, a + 12, 4);
        return AF_INET;
    }
    return AF_INET6;
}

int config_is_trusted_proxy(const char *ip)
{
    const struct cfg_state *st = cfg_cur;
    unsigned char a[16];
    if (st == NULL || ip == NULL || st->c.n_trusted_proxies == 0)
        return 0;
    int fam = cfg_parse_ip(ip, a);
    if (fam == AF_INET) {
        uint32_t v = cfg_be32(a);
        for (size_t i = 0; i < st->n_v4; i++)
            if ((v & st->v4[i].mask) == st->v4[i].net)
                return 1;
    } else if (fam == AF_INET6) {
        uint64_t hi = cfg_be64(a), lo = cfg_be64(a + 8);
        for (size_t i = 0; i < st->n_v6; i++)
            if ((hi & st->v6[i].mask[0]) == st->v6[i].net[0] && (lo & st->v6[i].mask[1]) == st->v6[i].net[1])
                return 1;
    }
    return 0;
}

int config_cors_allowed(const char *origin, size_t len)
{
    const struct cfg_state *st = cfg_cur;
    if (st == NULL || origin == NULL)
        return 0;
    for (size_t i = 0; i < st->c.n_cors_origins; i++)
        if (st->origin_len[i] == len && memcmp(st->c.cors_origins[i], origin, len) == 0)
            return 1;
    return 0;
}

void config_free(void)
{
    cfg_state_free(cfg_cur);
    cfg_cur = NULL;
    tg_cfg = NULL;
}
