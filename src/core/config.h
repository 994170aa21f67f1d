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
    char *rate_limits;        /* TG_RATE_LIMITS raw spec or NULL (defaults) */
    int sandbox;              /* TG_SANDBOX on/off (on unless a real provider is configured) */
    int64_t max_body_bytes;   /* TG_MAX_BODY_BYTES (1048576), JSON API body limit */
    int max_connections;      /* TG_MAX_CONNECTIONS (4096): open client connections per process */
    int http2_cleartext;      /* TG_HTTP2_CLEARTEXT on/off (off): h2c upgrade / prior knowledge */
    int http_timeout_s;       /* TG_HTTP_TIMEOUT (10): header/idle timeout, seconds */
    int shutdown_timeout_s;   /* TG_SHUTDOWN_TIMEOUT (30): grace for in-flight requests */
    int access_token_ttl_s;   /* TG_ACCESS_TOKEN_TTL (900) */
    int refresh_token_ttl_s;  /* TG_REFRESH_TOKEN_TTL (604800 = 7 days, as in the seeds) */
    char *log_level;          /* TG_LOG_LEVEL debug|info|warn|error (info) */
    int access_log;           /* TG_ACCESS_LOG on/off (on) */
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

#endif
