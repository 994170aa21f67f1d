/*
 * main.c - the tollgate command line: serve, migrate, admin create, audit, routes, version.
 *
 * Exit codes: 0 success, 1 the command ran and found a problem (audit violations, server
 * failure), 2 usage or configuration errors (printed as one line on stderr).
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api/api.h"
#include "core/config.h"
#include "core/ids.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "crypto/password.h"
#include "crypto/random.h"
#include "domain/accounts.h"
#include "domain/catalog.h"
#include "domain/keypool.h"
#include "domain/ratelimit.h"
#include "domain/region.h"
#include "domain/users.h"
#include "geo/geo.h"
#include "http/server.h"
#include "jobs/jobs.h"
#include "providers/pay/pay.h"
#include "providers/storage/storage.h"
#include "net/net.h"
#include "providers/mail/mailer.h"
#include "store/call.h"
#include "store/store.h"
#include "worker/dispatcher.h"

/* The password file is read up to this size; a password is at most 256 bytes, anything
 * longer means the wrong file was given. */
#define MAIN_PASSWORD_FILE_MAX 4096

static void main_usage(void)
{
    fputs("usage: tollgate <command> [options]\n"
          "\n"
          "commands:\n"
          "  serve [--config FILE]     run the HTTP server (applies pending migrations first)\n"
          "  migrate [--config FILE]   apply pending database migrations\n"
          "  admin create --email EMAIL --password-file FILE [--role admin|user]\n"
          "               [--display-name NAME] [--config FILE]\n"
          "                            create a user, or reset an existing user's password and role\n"
          "  audit [--config FILE] [--now MS]\n"
          "                            check the ledger, order, subscription and task invariants (exit 1\n"
          "                            on any violation); --now audits as of that instant, in ms since the\n"
          "                            epoch (a server run with TG_TEST_CLOCK: pass its now_ms)\n"
          "  routes                    print the HTTP routes, one \"METHOD PATTERN\" per line\n"
          "  storage-presign BACKEND METHOD KEY TIME TTL [CONTENT_TYPE SIZE]\n"
          "                            print the signed URL the configured backend (local, s3, oss)\n"
          "                            gives for METHOD (GET or PUT) on KEY at TIME (Unix seconds),\n"
          "                            valid TTL seconds; a PUT binds CONTENT_TYPE and SIZE\n"
          "  version                   print the version\n"
          "\n"
          "Configuration comes from TG_* environment variables, after the optional dotenv FILE.\n",
          stderr);
}

/* Options shared by the commands; NULL when not given. */
struct main_opts {
    const char *config;
    const char *email;
    const char *password_file;
    const char *role;
    const char *display_name;
    const char *now;
};

/*
 * Parses "--name VALUE" and "--name=VALUE" options from argv[first..]. Only the options
 * whose slot is listed in `allowed` (a string of letters: c=config, e=email,
 * p=password-file, r=role, d=display-name, n=now) are accepted. Returns 0 or -1 (message printed).
 */
static int main_parse_opts(int argc, char **argv, int first, const char *allowed, struct main_opts *o)
{
    static const struct {
        const char *name;
        char letter;
        size_t off;
    } table[] = {
        {"config", 'c', offsetof(struct main_opts, config)},
        {"email", 'e', offsetof(struct main_opts, email)},
        {"password-file", 'p', offsetof(struct main_opts, password_file)},
        {"role", 'r', offsetof(struct main_opts, role)},
        {"display-name", 'd', offsetof(struct main_opts, display_name)},
        {"now", 'n', offsetof(struct main_opts, now)},
    };

    memset(o, 0, sizeof *o);
    for (int i = first; i < argc; i++) {
        const char *a = argv[i];
        const char *val = NULL;
        size_t k, nlen;
        if (strncmp(a, "--", 2) != 0)
            goto bad;
        a += 2;
        nlen = strcspn(a, "=");
        for (k = 0; k < sizeof table / sizeof table[0]; k++)
            if (strlen(table[k].name) == nlen && strncmp(table[k].name, a, nlen) == 0 &&
                strchr(allowed, table[k].letter))
                break;
        if (k == sizeof table / sizeof table[0])
            goto bad;
        if (a[nlen] == '=') {
            val = a + nlen + 1;
        } else {
            if (i + 1 >= argc) {
                fprintf(stderr, "tollgate: option --%s needs a value\n", table[k].name);
                return -1;
            }
            val = argv[++i];
        }
        *(const char **)((char *)o + table[k].off) = val;
        continue;
    bad:
        fprintf(stderr, "tollgate: unknown option '%s'\n", argv[i]);
        return -1;
    }
    return 0;
}

/* Loads the configuration or prints the one-line reason. Returns 0 or -1. */
static int main_config(const char *file)
{
    char *err = NULL;
    if (config_load(file, &err) != 0) {
        fprintf(stderr, "tollgate: configuration error: %s\n", err ? err : "unknown error");
        free(err);
        return -1;
    }
    if (log_set_level(tg_cfg->log_level) != 0) {
        fprintf(stderr, "tollgate: configuration error: TG_LOG_LEVEL must be debug, info, warn or error\n");
        return -1;
    }
    return 0;
}

/* Applies pending migrations and logs how many ran. Returns 0 or -1 (printed). */
static int main_migrate_db(int *applied_out)
{
    char *err = NULL;
    int applied = 0;
    if (store_migrate(tg_cfg->database_url, &applied, &err) != 0) {
        fprintf(stderr, "tollgate: database migration failed: %s\n", err ? err : "unknown error");
        free(err);
        return -1;
    }
    char n[24];
    snprintf(n, sizeof n, "%d", applied);
    log_event(LOG_INFO, "migrations_applied", "count", n, NULL);
    if (applied_out)
        *applied_out = applied;
    return 0;
}

/* Records the TG_*_API_KEYS keys as rows (source "env", no secret), so that admins see
 * them and the dispatcher loads them with the rest. Returns 0 or -1 (printed). */
static int main_sync_env_keys(void)
{
    char *err = NULL;
    struct store *s = store_open(tg_cfg->database_url, &err);
    if (s == NULL) {
        fprintf(stderr, "tollgate: cannot open the database: %s\n", err ? err : "unknown error");
        free(err);
        return -1;
    }
    enum store_rc rc = keypool_sync_env(s, time_now_ms());
    store_close(s);
    if (rc != STORE_OK) {
        fprintf(stderr, "tollgate: recording the provider keys failed (%s)\n", store_rc_name(rc));
        return -1;
    }
    return 0;
}

/* The database kind only: the URL itself may hold a password. */
static const char *main_db_kind(const char *url)
{
    if (strncmp(url, "sqlite:", 7) == 0)
        return "sqlite";
    if (strncmp(url, "postgres", 8) == 0)
        return "postgres";
    return "unknown";
}

/*
 * Loads the catalog (TG_CATALOG or the built-in defaults) or prints the one-line reason,
 * which names the file and the JSON path of the problem. Warns about a region whose
 * currency no product is priced in: it would offer nothing to buy.
 */
static int main_catalog(void)
{
    char *err = NULL;
    if (catalog_init(tg_cfg->catalog_path, &err) != 0) {
        fprintf(stderr, "tollgate: configuration error: %s\n", err ? err : "invalid catalog");
        free(err);
        return -1;
    }
    const struct catalog *c = catalog_get();
    char n[24];
    snprintf(n, sizeof n, "%zu", c->n_products);
    log_event(LOG_INFO, "catalog_loaded", "source", tg_cfg->catalog_path && tg_cfg->catalog_path[0] ? "TG_CATALOG" : "built-in", "products", n,
              NULL);
    for (int reg = 0; reg < REGION_COUNT; reg++) {
        const char *cur = region_profile((enum region)reg)->currency;
        size_t offered = 0;
        for (size_t i = 0; i < c->n_products; i++)
            offered += catalog_price(&c->products[i], cur) != NULL;
        if (offered == 0)
            log_event(LOG_WARN, "catalog_region_empty", "region", region_name((enum region)reg), "currency", cur,
                      NULL);
    }
    return 0;
}

/* The documents' Content-Security-Policy with the S3/OSS origins configured (after
 * storage_init). 0, or -1 after printing why. */
static int main_page_csp(void)
{
    static const char *const names[] = {"s3", "oss"};
    char origins[2][512];
    const char *list[2];
    size_t n = 0;
    for (size_t i = 0; i < 2; i++) {
        const struct storage_backend *b = storage_find(names[i]);
        if (b == NULL || storage_origin(b, origins[n], sizeof origins[n]) < 0)
            continue;
        if (n == 1 && strcmp(origins[0], origins[1]) == 0)
            continue;
        list[n] = origins[n];
        n++;
    }
    char *err = NULL;
    if (http_page_csp_set(list, n, &err) != 0) {
        fprintf(stderr, "tollgate: configuration error: %s\n", err ? err : "invalid");
        free(err);
        return -1;
    }
    return 0;
}

static int cmd_serve(const struct main_opts *o)
{
    char *err = NULL;

    if (main_config(o->config) != 0)
        return 2;
    if (crypto_init() != 0) {
        fprintf(stderr, "tollgate: could not initialise the crypto library\n");
        return 1;
    }
    if (ratelimit_init(tg_cfg->rate_limits, &err) != 0) {
        fprintf(stderr, "tollgate: configuration error: %s\n", err ? err : "invalid");
        free(err);
        return 2;
    }
    if (region_init(&err) != 0 || geo_init(tg_cfg->geoip_db, &err) != 0) {
        fprintf(stderr, "tollgate: configuration error: %s\n", err ? err : "invalid");
        free(err);
        ratelimit_shutdown();
        return 2;
    }
    if (main_catalog() != 0) {
        geo_shutdown();
        ratelimit_shutdown();
        return 2;
    }
    /* The storage folders and backends: a bad S3/OSS endpoint stops the start here. */
    if (storage_init(&err) != 0) {
        fprintf(stderr, "tollgate: configuration error: %s\n", err ? err : "invalid");
        free(err);
        geo_shutdown();
        ratelimit_shutdown();
        return 2;
    }
    /* The page policy lets the browser reach the buckets it uploads to and plays from. */
    if (main_page_csp() != 0) {
        geo_shutdown();
        ratelimit_shutdown();
        return 2;
    }
    /* The payment providers' key files, read now: never by a loop thread, and a bad key
     * stops the start here rather than failing the first payment. */
    if (pay_providers_preload(&err) != 0) {
        fprintf(stderr, "tollgate: configuration error: %s\n", err ? err : "invalid");
        free(err);
        geo_shutdown();
        ratelimit_shutdown();
        return 2;
    }
    if (main_migrate_db(NULL) != 0 || main_sync_env_keys() != 0) {
        geo_shutdown();
        return 1;
    }
    /* Before any thread starts (libcurl's global state, OpenSSL included). */
    if (net_global_init() != 0) {
        fprintf(stderr, "tollgate: could not initialise libcurl\n");
        geo_shutdown();
        return 1;
    }

    /* The mail thread: SMTP, or files in the outbox when no server is configured. */
    char *outbox = xasprintf("%s/outbox", tg_cfg->data_dir);
    int mrc = mailer_start(tg_cfg->smtp_url, outbox, &err);
    free(outbox);
    if (mrc != 0) {
        fprintf(stderr, "tollgate: %s\n", err ? err : "the mailer cannot start");
        free(err);
        net_global_cleanup();
        geo_shutdown();
        return 1;
    }

    char listen[300], workers[16];
    snprintf(listen, sizeof listen, "%s:%d", tg_cfg->listen_host, tg_cfg->listen_port);
    snprintf(workers, sizeof workers, "%d", tg_cfg->workers);
    log_event(LOG_INFO, "start", "version", TG_VERSION, "listen", listen, "workers", workers, "data_dir",
              tg_cfg->data_dir, "database", main_db_kind(tg_cfg->database_url), "public_url",
              tg_cfg->public_url, "mail", mailer_transport(), NULL);
    if (tg_cfg->test_clock)
        log_event(LOG_WARN, "test_clock_enabled", "detail",
                  "TG_TEST_CLOCK is on: admins can move this server's clock (tests only)", NULL);
    http_server_set_job(jobs_tick, JOBS_INTERVAL_MS);
    http_server_set_service(dispatcher_start, dispatcher_stop);
    int rc = http_server_run(); /* starts and stops the net client around the workers */
    mailer_stop(); /* after the workers: nothing queues mail any more */
    geo_shutdown();
    ratelimit_shutdown();
    catalog_shutdown();
    storage_shutdown();
    net_global_cleanup();
    log_event(LOG_INFO, "stop", "status", rc == 0 ? "ok" : "error", NULL);
    return rc == 0 ? 0 : 1;
}

static int cmd_migrate(const struct main_opts *o)
{
    int applied = 0;
    if (main_config(o->config) != 0)
        return 2;
    if (main_migrate_db(&applied) != 0)
        return 1;
    printf("applied %d migration%s\n", applied, applied == 1 ? "" : "s");
    return 0;
}

/*
 * Reads the password file: at most MAIN_PASSWORD_FILE_MAX bytes, one trailing newline
 * stripped (what `echo pw > file` adds). *out is heap (caller wipes and frees).
 */
static int main_read_password(const char *path, char **out, size_t *len)
{
    int ret = -1;
    FILE *f = fopen(path, "rb");
    char *buf = xmalloc(MAIN_PASSWORD_FILE_MAX + 2);
    size_t n = 0;

    *out = NULL;
    *len = 0;
    if (f == NULL) {
        fprintf(stderr, "tollgate: cannot open password file %s: %s\n", path, strerror(errno));
        goto cleanup;
    }
    n = fread(buf, 1, MAIN_PASSWORD_FILE_MAX + 1, f);
    if (ferror(f)) {
        fprintf(stderr, "tollgate: cannot read password file %s\n", path);
        goto cleanup;
    }
    if (n > MAIN_PASSWORD_FILE_MAX) {
        fprintf(stderr, "tollgate: password file %s is too large\n", path);
        goto cleanup;
    }
    if (n > 0 && buf[n - 1] == '\n')
        n--;
    buf[n] = '\0';
    if (memchr(buf, '\0', n) != NULL) {
        fprintf(stderr, "tollgate: password file %s contains a NUL byte\n", path);
        goto cleanup;
    }
    *out = buf;
    *len = n;
    buf = NULL;
    ret = 0;

cleanup:
    if (buf) {
        explicit_bzero(buf, MAIN_PASSWORD_FILE_MAX + 2);
        free(buf);
    }
    if (f)
        fclose(f);
    return ret;
}

static void main_bootstrap_done(void *arg, const struct users_bootstrap_result *res)
{
    *(struct users_bootstrap_result *)arg = *res;
}

static int cmd_admin_create(const struct main_opts *o)
{
    int ret = 2;
    char email[TG_EMAIL_MAX + 1];
    char name[TG_NAME_MAX + 1] = "";
    char hash[PASSWORD_HASH_MAX];
    const char *why, *role = o->role ? o->role : "admin";
    char *pw = NULL, *err = NULL;
    size_t pw_len = 0;
    struct store *s = NULL;
    struct store_exec ex;
    struct users_bootstrap_result res;

    if (o->email == NULL || o->password_file == NULL) {
        fprintf(stderr, "tollgate: admin create needs --email and --password-file\n");
        goto cleanup;
    }
    if (accounts_email_normalize(o->email, email, &why) != 0) {
        fprintf(stderr, "tollgate: invalid --email: %s\n", why);
        goto cleanup;
    }
    if (strcmp(role, "admin") != 0 && strcmp(role, "user") != 0) {
        fprintf(stderr, "tollgate: --role must be admin or user\n");
        goto cleanup;
    }
    if (o->display_name && accounts_display_name_normalize(o->display_name, name, &why) != 0) {
        fprintf(stderr, "tollgate: invalid --display-name: %s\n", why);
        goto cleanup;
    }
    if (main_read_password(o->password_file, &pw, &pw_len) != 0)
        goto cleanup;
    if (accounts_password_check(pw, pw_len, &why) != 0) {
        fprintf(stderr, "tollgate: the password in %s is not acceptable: %s\n", o->password_file, why);
        goto cleanup;
    }
    if (main_config(o->config) != 0)
        goto cleanup;
    ret = 1;
    if (crypto_init() != 0) {
        fprintf(stderr, "tollgate: could not initialise the crypto library\n");
        goto cleanup;
    }
    if (main_migrate_db(NULL) != 0)
        goto cleanup;
    s = store_open(tg_cfg->database_url, &err);
    if (s == NULL) {
        fprintf(stderr, "tollgate: cannot open the database: %s\n", err ? err : "unknown error");
        goto cleanup;
    }
    if (password_hash(pw, pw_len, hash) != 0) {
        fprintf(stderr, "tollgate: password hashing failed\n");
        goto cleanup;
    }

    memset(&res, 0, sizeof res);
    res.rc = USERS_ERROR;
    store_exec_init(&ex, s, NULL, NULL, NULL); /* synchronous: the CLI may wait */
    users_bootstrap(&ex, email, o->display_name ? name : NULL, role, hash, tg_cfg->signup_credits, time_now_ms(),
                    main_bootstrap_done, &res);
    store_exec_dispose(&ex);
    if (res.rc != USERS_OK) {
        fprintf(stderr, "tollgate: could not create or update the user (%s)\n",
                res.rc == USERS_UNAVAILABLE ? "the database is busy or cannot write" : "store error");
        goto cleanup;
    }
    log_event(LOG_INFO, "admin_bootstrap", "user_id", res.user.id, "role", role, "created",
              res.created ? "true" : "false", NULL);
    printf("%s\n", res.user.id);
    ret = 0;

cleanup:
    if (pw) {
        explicit_bzero(pw, pw_len);
        free(pw);
    }
    explicit_bzero(hash, sizeof hash);
    free(err);
    if (s)
        store_close(s);
    return ret;
}

static void main_print_violation(void *arg, const char *user_id, const char *what)
{
    (void)arg;
    printf("violation: user %s: %s\n", user_id && user_id[0] ? user_id : "-", what);
}

static int cmd_audit(const struct main_opts *o)
{
    char *err = NULL;
    int64_t violations = 0, wallets = 0;
    int ret;

    if (o->now != NULL) {
        /* As of that instant: every time_now_ms() of this run answers it. */
        char *end = NULL;
        errno = 0;
        long long now = strtoll(o->now, &end, 10);
        if (o->now[0] < '0' || o->now[0] > '9' || *end != '\0' || errno != 0 || now <= 0) {
            fprintf(stderr, "tollgate: --now must be a time in milliseconds since the epoch\n");
            return 2;
        }
        time_set_offset_ms((int64_t)now - time_now_ms());
    }
    if (main_config(o->config) != 0)
        return 2;
    struct store *s = store_open(tg_cfg->database_url, &err);
    if (s == NULL) {
        fprintf(stderr, "tollgate: cannot open the database: %s\n", err ? err : "unknown error");
        free(err);
        return 2;
    }
    int64_t order_violations = 0, sub_violations = 0, task_violations = 0;
    enum store_rc rc = store_ledger_check(s, main_print_violation, NULL, &violations, &wallets);
    if (rc != STORE_OK) {
        fprintf(
            stderr,
            "tollgate: the ledger check failed (%s); has the database been migrated (tollgate migrate)?\n",
            store_rc_name(rc));
        ret = 2;
        goto done;
    }
    printf("ledger audit: %lld wallet%s checked, %lld violation%s\n", (long long)wallets, wallets == 1 ? "" : "s",
           (long long)violations, violations == 1 ? "" : "s");
    rc = store_orders_check(s, main_print_violation, NULL, &order_violations);
    if (rc != STORE_OK) {
        fprintf(stderr, "tollgate: the order check failed (%s)\n", store_rc_name(rc));
        ret = 2;
        goto done;
    }
    printf("order audit: %lld violation%s\n", (long long)order_violations, order_violations == 1 ? "" : "s");
    rc = store_subs_check(s, time_now_ms(), main_print_violation, NULL, &sub_violations);
    if (rc != STORE_OK) {
        fprintf(stderr, "tollgate: the subscription check failed (%s)\n", store_rc_name(rc));
        ret = 2;
        goto done;
    }
    printf("subscription audit: %lld violation%s\n", (long long)sub_violations, sub_violations == 1 ? "" : "s");
    rc = store_tasks_check(s, main_print_violation, NULL, &task_violations);
    if (rc != STORE_OK) {
        fprintf(stderr, "tollgate: the task check failed (%s)\n", store_rc_name(rc));
        ret = 2;
        goto done;
    }
    printf("task audit: %lld violation%s\n", (long long)task_violations, task_violations == 1 ? "" : "s");
    ret = violations > 0 || order_violations > 0 || sub_violations > 0 || task_violations > 0 ? 1 : 0;

done:
    store_close(s);
    return ret;
}

static int cmd_routes(void)
{
    for (size_t i = 0; i < api_routes_count; i++)
        printf("%s %s\n", api_routes[i].method, api_routes[i].pattern);
    return 0;
}

/* Parses a decimal int64 (digits only, optional leading '-'). 0 or -1. */
static int main_int64(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0')
        return -1;
    *out = v;
    return 0;
}

/*
 * storage-presign: the signed URL of the configured backend for fixed inputs and time, for
 * checking our SigV4 against the AWS SDK's byte for byte (tests/e2e/storage_presign.test.mjs)
 * and for operators trying a bucket by hand. Credentials come from the configuration only.
 */
static int cmd_storage_presign(int argc, char **argv)
{
    char *err = NULL;
    int64_t at, ttl, size = 0;
    if ((argc != 7 && argc != 9) || main_int64(argv[5], &at) != 0 || main_int64(argv[6], &ttl) != 0 ||
        (argc == 9 && main_int64(argv[8], &size) != 0)) {
        main_usage();
        return 2;
    }
    if (main_config(NULL) != 0)
        return 2;
    if (crypto_init() != 0 || storage_init(&err) != 0) {
        fprintf(stderr, "tollgate: configuration error: %s\n", err ? err : "crypto");
        free(err);
        return 2;
    }
    const struct storage_backend *b = storage_find(argv[2]);
    char *url = NULL;
    if (b == NULL)
        fprintf(stderr, "tollgate: storage backend %s is not configured\n", argv[2]);
    else if (strcmp(argv[3], "PUT") == 0)
        url = storage_presign_put(b, argv[4], argc == 9 ? argv[7] : "application/octet-stream", size, at * 1000, ttl);
    else if (strcmp(argv[3], "GET") == 0)
        url = storage_presign_get(b, argv[4], at * 1000, ttl);
    else
        fprintf(stderr, "tollgate: METHOD must be GET or PUT\n");
    if (b != NULL && url == NULL && (strcmp(argv[3], "GET") == 0 || strcmp(argv[3], "PUT") == 0))
        fprintf(stderr, "tollgate: bad key or TTL (1..%d s)\n", STORAGE_URL_TTL_MAX_S);
    if (url != NULL)
        printf("%s\n", url);
    int rc = url != NULL ? 0 : 1;
    free(url);
    storage_shutdown();
    return rc;
}

int main(int argc, char **argv)
{
    struct main_opts o;
    const char *cmd = argc > 1 ? argv[1] : NULL;

    if (cmd == NULL)
        goto usage;
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("tollgate %s\n", TG_VERSION);
        return 0;
    }
    if (strcmp(cmd, "storage-presign") == 0)
        return cmd_storage_presign(argc, argv);
    if (strcmp(cmd, "routes") == 0)
        return argc == 2 ? cmd_routes() : (main_usage(), 2);
    if (strcmp(cmd, "serve") == 0)
        return main_parse_opts(argc, argv, 2, "c", &o) == 0 ? cmd_serve(&o) : 2;
    if (strcmp(cmd, "migrate") == 0)
        return main_parse_opts(argc, argv, 2, "c", &o) == 0 ? cmd_migrate(&o) : 2;
    if (strcmp(cmd, "audit") == 0)
        return main_parse_opts(argc, argv, 2, "cn", &o) == 0 ? cmd_audit(&o) : 2;
    if (strcmp(cmd, "admin") == 0 && argc > 2 && strcmp(argv[2], "create") == 0)
        return main_parse_opts(argc, argv, 3, "cepdr", &o) == 0 ? cmd_admin_create(&o) : 2;

usage:
    main_usage();
    return 2;
}
