/*
 * config.h - Tollgate's configuration (DESIGN section 10).
 *
 * Environment variables, optionally preceded by a dotenv-style file (--config FILE;
 * real environment variables win over the file). Every key lives in one option table in
 * config.c with its type, default and bounds; an unknown TG_ key is a start-up error, not a
 * silent typo. Any key may instead be given as KEY_FILE naming a file whose contents
 * (trailing newline stripped) are the value, which is how secrets should be passed.
 */
#ifndef TG_CORE_CONFIG_H
#define TG_CORE_CONFIG_H

#include <stddef.h>
#include <stdint.h>

struct tg_cidr {
    int family;          /* AF_INET or AF_INET6 */
    unsigned char addr[16];
    int prefix_len;
};

struct tg_config {
    char *listen_host;        /* TG_LISTEN host part ("127.0.0.1") */
    int listen_port;          /* TG_LISTEN port part (8080) */
    char *public_url;         /* TG_PUBLIC_URL, no trailing slash */
    char *public_origin;      /* its origin as browsers send it in Origin (config_url_origin) */
    int public_url_default;   /* 1: TG_PUBLIC_URL was not set, public_url was made from TG_LISTEN */
    char *data_dir;           /* TG_DATA_DIR (./data), created if missing */
    char *database_url;       /* TG_DATABASE_URL (sqlite:$TG_DATA_DIR/tollgate.db) */
    char *redis_url;          /* TG_REDIS_URL or NULL */
    int workers;              /* TG_WORKERS (number of online cores), 1..256 */
    int blocking_threads;     /* TG_BLOCKING_THREADS (number of cores), 1..256 */
    unsigned char jwt_secret[64]; /* TG_JWT_SECRET, or generated into $TG_DATA_DIR/jwt_secret */
    size_t jwt_secret_len;    /* >= 32 */
    struct tg_cidr *trusted_proxies; /* TG_TRUSTED_PROXIES */
    size_t n_trusted_proxies;
    char *geoip_db;           /* TG_GEOIP_DB or NULL */
    char *default_region;     /* TG_DEFAULT_REGION (GLOBAL) */
    char **cors_origins;      /* TG_CORS_ORIGINS, exact origins */
    size_t n_cors_origins;
    char *catalog_path;       /* TG_CATALOG or NULL */
    int64_t signup_credits;   /* TG_SIGNUP_CREDITS (8), 0..1e9 */
    int signup_require_verified; /* TG_SIGNUP_CREDITS_REQUIRE_VERIFIED on/off (on): signup credits
                                    wait for a verified email or a provider that vouches */
    char *smtp_url;           /* TG_SMTP_URL smtp(s)://[user:pass@]host[:port] or NULL (outbox) */
    char *smtp_from;          /* TG_SMTP_FROM: sender address; set whenever smtp_url is */
    int email_verify_ttl_s;   /* TG_EMAIL_VERIFY_TTL (86400): verification links */
    int password_reset_ttl_s; /* TG_PASSWORD_RESET_TTL (3600): password reset links */
    char *rate_limits;        /* TG_RATE_LIMITS raw spec or NULL (defaults) */
    int sandbox;              /* TG_SANDBOX on/off (on unless a real provider is configured) */
    int order_ttl_s;          /* TG_ORDER_TTL (7200): an unpaid order expires after this */
    int order_query_after_s;  /* TG_ORDER_QUERY_AFTER (60): first query of a pending order */
    int order_query_max;      /* TG_ORDER_QUERY_MAX (10): queries of one pending order */
    int64_t max_body_bytes;   /* TG_MAX_BODY_BYTES (1048576), JSON API body limit */
    int64_t max_upload_bytes; /* TG_MAX_UPLOAD_BYTES (209715200): PUT /files/{key} body limit */
    int max_connections;      /* TG_MAX_CONNECTIONS (4096): open client connections per process */
    int max_event_streams;    /* TG_MAX_EVENT_STREAMS (2000): open task event streams per process */
    int http2_cleartext;      /* TG_HTTP2_CLEARTEXT on/off (off): h2c upgrade / prior knowledge */
    int http_timeout_s;       /* TG_HTTP_TIMEOUT (10): header/idle timeout, seconds */
    int shutdown_timeout_s;   /* TG_SHUTDOWN_TIMEOUT (30): grace for in-flight requests */
    int access_token_ttl_s;   /* TG_ACCESS_TOKEN_TTL (900) */
    int refresh_token_ttl_s;  /* TG_REFRESH_TOKEN_TTL (604800 = 7 days, as in the seeds) */
    char *log_level;          /* TG_LOG_LEVEL debug|info|warn|error (info) */
    int access_log;           /* TG_ACCESS_LOG on/off (on) */
    int task_timeout_s;       /* TG_TASK_TIMEOUT (3600): a task not finished by then is timed_out */
    int64_t tasks_max_live;   /* TG_TASKS_MAX_LIVE (5): live tasks per user */
    int test_clock;           /* TG_TEST_CLOCK on/off (off): POST /api/v1/admin/clock (tests only) */
};

/* The loaded configuration; valid after config_load() succeeded. Read-only afterwards. */
extern const struct tg_config *tg_cfg;

/*
 * Loads configuration from the environment, after the dotenv file `file` when it is not
 * NULL. Creates the data folder and the generated JWT secret when needed.
 * Returns 0, or -1 with *err set to a one-line message (caller frees with free()).
 */
int config_load(const char *file, char **err);

/*
 * Raw value of any known key (after *_FILE resolution and defaults), or NULL when unset.
 * For provider settings that later modules read (TG_STRIPE_SECRET_KEY, ...).
 * Borrowed for the life of the process. Asking for an unknown key aborts (a programming
 * error: every key must be in the option table).
 */
const char *config_get(const char *key);

/* 1 if ip (textual IPv4/IPv6) is inside one of TG_TRUSTED_PROXIES, else 0. */
int config_is_trusted_proxy(const char *ip);

/* 1 if origin exactly equals one of TG_CORS_ORIGINS, else 0. */
int config_cors_allowed(const char *origin, size_t len);

/* Frees everything config_load() allocated (tests, leak checkers). */
void config_free(void);

/*
 * Reads a whole file of at most `limit` bytes into a new NUL-terminated string (caller
 * frees *out; the file may itself hold NUL bytes: compare strlen with *out_len). Returns 0,
 * or -1 with errno set (EFBIG when larger than limit). For start-up files, never on a loop.
 */
int config_read_file(const char *path, size_t limit, char **out, size_t *out_len);

/*
 * The parsers config_load() uses, exposed so that they can be tested and fuzzed on their own.
 * They are pure: no environment, no files, no global state.
 */

/* Largest dotenv file (--config) read. */
#define CONFIG_DOTENV_MAX (1024 * 1024)
/* Lists are checked per request (proxies, origins): keep them short enough to scan. */
#define CONFIG_MAX_PROXIES 256
#define CONFIG_MAX_ORIGINS 64

/*
 * Receives one KEY=value assignment of a dotenv text. where is the "NAME:LINE: " prefix for
 * messages; key (klen bytes, not NUL-terminated) matches [A-Za-z_][A-Za-z0-9_]*; value is
 * NUL-terminated, contains no NUL byte, and is only valid during the call.
 * Returns 0 to go on, or -1 with *err set (a message the parser passes on to its caller).
 */
typedef int (*config_dotenv_fn)(void *ctx, const char *where, const char *key, size_t klen, const char *value,
                                size_t vlen, char **err);
/*
 * Parses dotenv text (len bytes, at most CONFIG_DOTENV_MAX, no NUL byte): blank lines and
 * '#' comments are skipped, "export " is allowed before a key, values are unquoted (ending at
 * end of line or a '#' after a blank, blanks trimmed), 'single-quoted' (literal) or
 * "double-quoted" (escapes \n \r \t \" \\ \$); a value never spans lines; CRLF is accepted.
 * Calls fn(ctx, ...) for every assignment in order. name (usually the file path) prefixes
 * messages. Returns 0, or -1 with *err set to a one-line message that names NAME:LINE but
 * never quotes the line, which may hold a secret (caller frees with free()).
 */
int config_parse_dotenv(const char *name, const char *text, size_t len, config_dotenv_fn fn, void *ctx,
                        char **err);
/*
 * Parses a TG_TRUSTED_PROXIES value: comma-separated CIDRs or bare addresses (/32, /128),
 * blanks around entries allowed, at most CONFIG_MAX_PROXIES. Host bits beyond the prefix are
 * an error; IPv4-mapped IPv6 networks of /96 or longer are returned as IPv4. key names the
 * option in messages. Returns 0 with *out a new array of *n entries (caller frees with free()),
 * or -1 with *out NULL, *n 0 and *err set (caller frees with free()).
 */
int config_parse_cidr_list(const char *key, const char *val, struct tg_cidr **out, size_t *n, char **err);
/*
 * Parses a TG_CORS_ORIGINS value: comma-separated origins scheme://host[:port] (http or https;
 * '*' refused), at most CONFIG_MAX_ORIGINS, each returned in the form browsers send in Origin
 * (RFC 6454 6.1: lower-case scheme and host, default port dropped, a lone trailing '/' dropped).
 * key names the option in messages. Returns 0 with *out a new array of *n new strings (caller
 * frees each and the array with free()), or -1 with *out NULL, *n 0 and *err set (caller
 * frees with free()).
 */
int config_parse_origin_list(const char *key, const char *val, char ***out, size_t *n, char **err);
/*
 * The origin of an http(s) URL in the form browsers send in Origin (the same serialization as
 * config_parse_origin_list): "https://Example.COM:443/app?x" gives "https://example.com".
 * Returns a new string (caller frees with free()), or NULL when url is not an http(s) URL
 * with a valid host (user info, a bad port, no host...).
 */
char *config_url_origin(const char *url);

#endif
