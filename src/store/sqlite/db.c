/*
 * db.c - the SQLite connection: settings, statement cache, transaction runner and the
 * transaction control of composed calls, helpers, and the ops table that store.c
 * dispatches through.
 */
#include "store/sqlite/sq.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "store/sqlite/migrate.h"

/* Spec: the runner gives up after ~2 s of contention so a request answers 503, not hangs. */
#define SQ_BUSY_BUDGET_NS (2000LL * 1000 * 1000)
/* First retry sleep 0.2 ms (a short write transaction on this hardware takes 0.05-0.2 ms
 * plus the fsync), doubled per attempt up to 25 ms so waiters keep polling a lock that a
 * group of short transactions hands around quickly. */
#define SQ_RETRY_FIRST_NS (200LL * 1000)
#define SQ_RETRY_MAX_NS (25LL * 1000 * 1000)
/* While opening, SQLite's own busy handler covers the journal-mode switch and schema read
 * that many connections opening at once (one per worker thread) contend on. */
#define SQ_OPEN_BUSY_MS 5000

struct sq_cached {
    const char *sql;
    sqlite3_stmt *st;
};

static const char SQL_BEGIN_IMMEDIATE[] = "BEGIN IMMEDIATE";
static const char SQL_BEGIN_DEFERRED[] = "BEGIN DEFERRED";
static const char SQL_COMMIT[] = "COMMIT";
static const char SQL_ROLLBACK[] = "ROLLBACK";
/* One savepoint name for an operation inside a transaction and another for the caller's
 * levels (store_ops.savepoint): ROLLBACK TO / RELEASE act on the innermost savepoint of
 * the name, and the two kinds nest strictly, so neither can unwind the other by mistake. */
static const char SQL_SAVEPOINT_OP[] = "SAVEPOINT sq_op";
static const char SQL_RELEASE_OP[] = "RELEASE sq_op";
static const char SQL_ROLLBACK_TO_OP[] = "ROLLBACK TO sq_op";
static const char SQL_SAVEPOINT_CALL[] = "SAVEPOINT sq_call";
static const char SQL_RELEASE_CALL[] = "RELEASE sq_call";
static const char SQL_ROLLBACK_TO_CALL[] = "ROLLBACK TO sq_call";

/* ---- logging ---- */

/* Store failures go through the shared JSON logger (core/log.h). */
static void sq_log_line(const char *level, const char *event, const char *op, const char *msg, int sqlite_rc)
{
    char rcbuf[16];
    snprintf(rcbuf, sizeof rcbuf, "%d", sqlite_rc);
    enum log_level lvl = strcmp(level, "warn") == 0 ? LOG_WARN : LOG_ERROR;
    log_event(lvl, event, "op", op ? op : "", "msg", msg ? msg : "", "sqlite_rc", sqlite_rc ? rcbuf : NULL,
              NULL);
}

void sq_log_error(const char *what, const char *msg)
{
    sq_log_line("error", "store_error", what, msg, 0);
    store_count_error();
}

enum store_rc sq_fail(struct sq *c, int rc, const char *what, int unique_is_dup)
{
    int primary = rc & 0xff;
    if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED)
        return STORE_BUSY;
    if (unique_is_dup && (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY))
        return STORE_DUPLICATE;
    /* A full disk, an I/O error, a file that became read-only or cannot be opened: nothing
     * is wrong with the request, and the same write will work once an operator frees space
     * or fixes the mount. Callers answer 503 and the writer probes (store_write_probe). */
    enum store_rc out = STORE_ERROR;
    if (primary == SQLITE_FULL || primary == SQLITE_IOERR || primary == SQLITE_READONLY ||
        primary == SQLITE_CANTOPEN)
        out = STORE_UNAVAILABLE;
    /* SQLite's messages name tables, columns and constraints, never bound values, so they
     * are safe to log (no emails, hashes or tokens). */
    sq_log_line("error", out == STORE_UNAVAILABLE ? "store_unavailable" : "store_error", what,
                sqlite3_errmsg(c->db), rc);
    store_count_error();
    return out;
}

enum store_rc sq_row_tx(struct sq *c, void *arg)
{
    struct sq_row_args *a = arg;
    enum store_rc rc = STORE_OK;
    sqlite3_stmt *st = sq_stmt(c, a->sql);
    if (st == NULL)
        return STORE_ERROR;
    sq_bind_text(st, 1, a->k1);
    if (a->k2)
        sq_bind_text(st, 2, a->k2);
    int src = sqlite3_step(st);
    if (src == SQLITE_DONE) {
        rc = STORE_NOTFOUND;
    } else if (src != SQLITE_ROW) {
        rc = sq_fail(c, src, a->op, 0);
    } else if (a->read(st, a->out) < 0) {
        sq_log_error(a->op, "a stored field is too long");
        rc = STORE_ERROR;
    }
    sq_done(st);
    return rc;
}

enum store_rc sq_rows_owned(struct sq *c, sqlite3_stmt *st, size_t size, int (*read)(sqlite3_stmt *st, void *out),
                            void (*clear)(void *elem), void **out, size_t *n, const char *op)
{
    enum store_rc rc = STORE_OK;
    size_t cap = 0;
    int src;
    *out = NULL;
    *n = 0;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 8;
            *out = xrealloc(*out, cap * size);
        }
        if (read(st, (char *)*out + *n * size) < 0) {
            sq_log_error(op, "a stored row is malformed");
            rc = STORE_ERROR;
            break;
        }
        (*n)++;
    }
    if (rc == STORE_OK && src != SQLITE_DONE)
        rc = sq_fail(c, src, op, 0);
    sq_done(st);
    if (rc != STORE_OK) {
        for (size_t i = 0; clear != NULL && i < *n; i++)
            clear((char *)*out + i * size);
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

enum store_rc sq_rows(struct sq *c, sqlite3_stmt *st, size_t size, int (*read)(sqlite3_stmt *st, void *out),
                      void **out, size_t *n, const char *op)
{
    return sq_rows_owned(c, st, size, read, NULL, out, n, op);
}

/* ---- the audits' collector ---- */

enum store_rc sq_violations_query(struct sq *c, struct sq_violations *v, const char *sql, const int64_t *param,
                                  const char *what)
{
    enum store_rc rc = STORE_OK;
    int src;
    sqlite3_stmt *st = sq_stmt(c, sql);
    if (st == NULL)
        return STORE_ERROR;
    if (param != NULL)
        sqlite3_bind_int64(st, 1, *param);
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        if (v->n == v->cap) {
            v->cap = v->cap ? v->cap * 2 : 8;
            v->v = xrealloc(v->v, v->cap * sizeof *v->v);
        }
        char detail[TG_REF_MAX + 32];
        if (sq_col_text(st, 0, v->v[v->n].user_id, sizeof v->v[v->n].user_id) < 0)
            snprintf(v->v[v->n].user_id, sizeof v->v[v->n].user_id, "(oversized id)");
        if (sq_col_text(st, 1, detail, sizeof detail) < 0)
            snprintf(detail, sizeof detail, "(oversized)");
        v->v[v->n].what = xasprintf("%s: %s", what, detail);
        v->n++;
    }
    if (src != SQLITE_DONE)
        rc = sq_fail(c, src, "audit", 0);
    sq_done(st);
    return rc;
}

void sq_violations_report(const struct sq_violations *v, store_violation_fn fn, void *arg, int64_t *count)
{
    for (size_t i = 0; i < v->n; i++)
        if (fn != NULL)
            fn(arg, v->v[i].user_id, v->v[i].what);
    *count = (int64_t)v->n;
}

void sq_violations_reset(struct sq_violations *v)
{
    for (size_t i = 0; i < v->n; i++)
        free(v->v[i].what);
    free(v->v);
    v->v = NULL;
    v->n = v->cap = 0;
}

/* ---- process-wide set-up ---- */

static pthread_once_t sq_global_once = PTHREAD_ONCE_INIT;

/*
 * Memory statistics make every SQLite allocation take a global mutex shared by all
 * connections; nothing reads them, and the lock showed in profiles of the hot read. Must
 * run before SQLite initialises; if the library was already initialised by someone else the
 * call fails harmlessly and the default stays.
 */
static void sq_global_init(void)
{
    (void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

/* ---- statement cache ---- */

static size_t sq_hash_ptr(const char *p, size_t cap)
{
    uint64_t h = (uint64_t)(uintptr_t)p;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return (size_t)(h & (cap - 1));
}

static void sq_cache_put(struct sq *c, const char *sql, sqlite3_stmt *st)
{
    if ((c->cache_len + 1) * 2 > c->cache_cap) {
        size_t ncap = c->cache_cap ? c->cache_cap * 2 : 64;
        struct sq_cached *n = xcalloc(ncap, sizeof *n);
        for (size_t i = 0; i < c->cache_cap; i++) {
            if (c->cache[i].sql == NULL)
                continue;
            size_t j = sq_hash_ptr(c->cache[i].sql, ncap);
            while (n[j].sql != NULL)
                j = (j + 1) & (ncap - 1);
            n[j] = c->cache[i];
        }
        free(c->cache);
        c->cache = n;
        c->cache_cap = ncap;
    }
    size_t j = sq_hash_ptr(sql, c->cache_cap);
    while (c->cache[j].sql != NULL)
        j = (j + 1) & (c->cache_cap - 1);
    c->cache[j].sql = sql;
    c->cache[j].st = st;
    c->cache_len++;
}

sqlite3_stmt *sq_stmt(struct sq *c, const char *sql)
{
    if (c->cache_cap != 0) {
        size_t j = sq_hash_ptr(sql, c->cache_cap);
        while (c->cache[j].sql != NULL) {
            if (c->cache[j].sql == sql)
                return c->cache[j].st;
            j = (j + 1) & (c->cache_cap - 1);
        }
    }
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
    if (rc != SQLITE_OK) {
        /* Preparing reads the schema, which can meet a lock (another process migrating) or
         * an I/O error: callers only see NULL and answer STORE_ERROR, so remember what the
         * failure really was for the runner. Otherwise it is a bug in our SQL or a schema
         * older than the binary: log the statement (it holds no data) to make it findable. */
        enum store_rc mapped = sq_fail(c, rc, sql, 0);
        if (mapped != STORE_ERROR)
            c->stmt_rc = mapped;
        return NULL;
    }
    sq_cache_put(c, sql, st);
    return st;
}

void sq_done(sqlite3_stmt *st)
{
    if (st == NULL)
        return;
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

enum store_rc sq_exec(struct sq *c, sqlite3_stmt *st, const char *what, int unique_is_dup, enum store_rc unchanged)
{
    enum store_rc rc = STORE_OK;
    int src = sqlite3_step(st);
    if (src != SQLITE_DONE)
        rc = sq_fail(c, src, what, unique_is_dup);
    else if (unchanged != STORE_OK && sqlite3_changes(c->db) == 0)
        rc = unchanged;
    sq_done(st);
    return rc;
}

/* ---- helpers ---- */

int sq_bind_text(sqlite3_stmt *st, int i, const char *s)
{
    if (s == NULL)
        return sqlite3_bind_null(st, i);
    return sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
}

int sq_bind_text_or_null(sqlite3_stmt *st, int i, const char *s)
{
    if (s == NULL || s[0] == '\0')
        return sqlite3_bind_null(st, i);
    return sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
}

int sq_bind_time(sqlite3_stmt *st, int i, int64_t v)
{
    return v ? sqlite3_bind_int64(st, i, v) : sqlite3_bind_null(st, i);
}

int sq_col_text(sqlite3_stmt *st, int i, char *buf, size_t cap)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    size_t n = (size_t)sqlite3_column_bytes(st, i);
    if (t == NULL) {
        buf[0] = '\0';
        return 0;
    }
    if (n >= cap) {
        buf[0] = '\0';
        return -1;
    }
    memcpy(buf, t, n);
    buf[n] = '\0';
    return 0;
}

int64_t sq_col_int(sqlite3_stmt *st, int i)
{
    return (int64_t)sqlite3_column_int64(st, i);
}

int sq_fits(const char *s, size_t cap)
{
    return s != NULL && strnlen(s, cap) < cap;
}

static const char *const sq_kind_names[LK__COUNT] = {
#define X(id, name) name,
    LEDGER_KINDS(X)
#undef X
};

const char *sq_kind_name(enum ledger_kind k)
{
    if ((int)k < 0 || k >= LK__COUNT)
        return NULL;
    return sq_kind_names[k];
}

int sq_kind_parse(const char *s)
{
    for (int i = 0; i < LK__COUNT; i++)
        if (strcmp(sq_kind_names[i], s) == 0)
            return i;
    return -1;
}

/* ---- transaction runner ---- */

/* Steps a cached no-result statement (BEGIN, COMMIT...). */
static enum store_rc sq_exec_cached(struct sq *c, const char *sql, const char *op)
{
    sqlite3_stmt *st = sq_stmt(c, sql);
    if (st == NULL)
        return c->stmt_rc != STORE_OK ? c->stmt_rc : STORE_ERROR;
    int rc = sqlite3_step(st);
    enum store_rc r = rc == SQLITE_DONE ? STORE_OK : sq_fail(c, rc, op, 0);
    sq_done(st);
    return r;
}

static void sq_sleep_jittered(struct sq *c, int64_t ns)
{
    /* xorshift64: the jitter only has to decorrelate threads that collided. */
    c->rng ^= c->rng << 13;
    c->rng ^= c->rng >> 7;
    c->rng ^= c->rng << 17;
    int64_t half = ns / 2;
    int64_t d = half + (int64_t)(c->rng % (uint64_t)(half + 1));
    struct timespec ts = {.tv_sec = d / 1000000000LL, .tv_nsec = d % 1000000000LL};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/*
 * After a failed statement SQLite may have rolled back the whole open transaction by itself
 * (SQLITE_FULL, SQLITE_IOERR: "it might be necessary to rollback and cancel the
 * transaction"). Statements run from now on would each autocommit, breaking the caller's
 * all-or-nothing promise, so the transaction is marked lost with the result that lost it.
 */
static void sq_txn_check(struct sq *c, enum store_rc rc, const char *op)
{
    if (c->txn_depth == 0 || c->txn_lost != STORE_OK || !sqlite3_get_autocommit(c->db))
        return;
    c->txn_lost = rc != STORE_OK ? rc : STORE_ERROR;
    sq_log_line("error", "store_txn_lost", op, "SQLite rolled the open transaction back by itself", 0);
}

/* Marks the open transaction lost after a savepoint could not be rolled back: committing it
 * now would keep writes that the caller was told did not happen. */
static void sq_txn_poison(struct sq *c, const char *op)
{
    if (c->txn_lost == STORE_OK)
        c->txn_lost = STORE_ERROR;
    sq_log_line("error", "store_txn_lost", op, "a savepoint could not be rolled back", 0);
}

/* sq_run() while a transaction is open: see sq.h. */
static enum store_rc sq_run_in_txn(struct sq *c, enum sq_txn mode, const char *op, sq_txn_fn fn, void *arg)
{
    enum store_rc rc;
    int own_savepoint = mode == SQ_WRITE;

    if (c->txn_lost != STORE_OK)
        return c->txn_lost;
    c->stmt_rc = STORE_OK;
    if (own_savepoint) {
        rc = sq_exec_cached(c, SQL_SAVEPOINT_OP, op);
        if (rc != STORE_OK)
            goto cleanup;
    }
    rc = fn(c, arg);
    if (rc == STORE_ERROR && c->stmt_rc != STORE_OK)
        rc = c->stmt_rc;
    if (own_savepoint && rc == STORE_OK)
        rc = sq_exec_cached(c, SQL_RELEASE_OP, op);
    if (own_savepoint && rc != STORE_OK && !sqlite3_get_autocommit(c->db)) {
        /* A failed operation (INSUFFICIENT half way through, say) is undone completely, and
         * its savepoint released so the transaction's nesting is unchanged. If that fails
         * the transaction holds writes its caller was told did not happen. */
        if (sq_exec_cached(c, SQL_ROLLBACK_TO_OP, op) != STORE_OK ||
            sq_exec_cached(c, SQL_RELEASE_OP, op) != STORE_OK)
            sq_txn_poison(c, op);
    }

cleanup:
    sq_txn_check(c, rc, op);
    return rc;
}

enum store_rc sq_run(struct sq *c, enum sq_txn mode, const char *op, sq_txn_fn fn, void *arg)
{
    if (c->txn_depth > 0)
        return sq_run_in_txn(c, mode, op, fn, arg);

    int64_t start = time_mono_ns();
    int64_t delay = SQ_RETRY_FIRST_NS;
    enum store_rc rc;

    for (;;) {
        rc = STORE_OK;
        c->stmt_rc = STORE_OK;
        if (mode == SQ_WRITE)
            rc = sq_exec_cached(c, SQL_BEGIN_IMMEDIATE, op);
        else if (mode == SQ_READ)
            rc = sq_exec_cached(c, SQL_BEGIN_DEFERRED, op);
        if (rc == STORE_OK) {
            rc = fn(c, arg);
            if (rc == STORE_ERROR && c->stmt_rc != STORE_OK)
                rc = c->stmt_rc;
            if (rc == STORE_OK && mode != SQ_AUTOCOMMIT)
                rc = sq_exec_cached(c, SQL_COMMIT, op);
            /* Anything but a successful COMMIT ends in ROLLBACK: a function that returns
             * STORE_INSUFFICIENT or STORE_DUPLICATE half way must leave no trace. SQLite
             * may already have rolled back by itself (e.g. after an I/O error). */
            if (!sqlite3_get_autocommit(c->db))
                (void)sq_exec_cached(c, SQL_ROLLBACK, op);
        }
        if (rc != STORE_BUSY || c->nowait)
            break;
        int64_t elapsed = time_mono_ns() - start;
        if (elapsed + delay > c->busy_budget_ns) {
            sq_log_line("warn", "store_busy", op, "lock contention outlasted the retry budget", SQLITE_BUSY);
            store_count_error();
            break;
        }
        sq_sleep_jittered(c, delay);
        delay = delay * 2 > SQ_RETRY_MAX_NS ? SQ_RETRY_MAX_NS : delay * 2;
    }
    return rc;
}

/* ---- transaction control for composed calls ---- */

enum store_rc sq_begin(struct store *s, int write)
{
    struct sq *c = (struct sq *)s;
    if (c->txn_depth != 0 || !sqlite3_get_autocommit(c->db)) {
        sq_log_error("begin", "a transaction is already open on this connection");
        return STORE_ERROR;
    }
    c->stmt_rc = STORE_OK;
    /* No retry and no sleep here: the writer decides when to try again (it may have other
     * work), and a loop thread must never sleep. busy_timeout is 0, so SQLite answers
     * SQLITE_BUSY at once too. */
    enum store_rc rc = sq_exec_cached(c, write ? SQL_BEGIN_IMMEDIATE : SQL_BEGIN_DEFERRED, "begin");
    if (rc == STORE_OK) {
        c->txn_depth = 1;
        c->txn_lost = STORE_OK;
    } else if (!sqlite3_get_autocommit(c->db)) {
        (void)sq_exec_cached(c, SQL_ROLLBACK, "begin");
    }
    return rc;
}

/*
 * COMMIT. STORE_BUSY leaves the transaction open so that the caller may try COMMIT again
 * (or roll back): in WAL mode a COMMIT meets a lock only in rare cases (a checkpoint that
 * needs to reset the log), and giving up would throw away a whole group of work. Any other
 * failure rolls back and ends the transaction. Open savepoints are committed with it.
 */
enum store_rc sq_commit(struct store *s)
{
    struct sq *c = (struct sq *)s;
    enum store_rc rc;
    if (c->txn_depth == 0) {
        sq_log_error("commit", "no transaction is open");
        return STORE_ERROR;
    }
    if (c->txn_lost != STORE_OK) {
        rc = c->txn_lost;
        goto cleanup;
    }
    c->stmt_rc = STORE_OK;
    rc = sq_exec_cached(c, SQL_COMMIT, "commit");
    if (rc == STORE_BUSY && !sqlite3_get_autocommit(c->db))
        return rc;

cleanup:
    if (!sqlite3_get_autocommit(c->db))
        (void)sq_exec_cached(c, SQL_ROLLBACK, "commit");
    c->txn_depth = 0;
    c->txn_lost = STORE_OK;
    return rc;
}

void sq_rollback(struct store *s)
{
    struct sq *c = (struct sq *)s;
    if (!sqlite3_get_autocommit(c->db))
        (void)sq_exec_cached(c, SQL_ROLLBACK, "rollback");
    c->txn_depth = 0;
    c->txn_lost = STORE_OK;
}

enum store_rc sq_savepoint(struct store *s)
{
    struct sq *c = (struct sq *)s;
    if (c->txn_depth == 0) {
        sq_log_error("savepoint", "no transaction is open");
        return STORE_ERROR;
    }
    if (c->txn_lost != STORE_OK)
        return c->txn_lost;
    c->stmt_rc = STORE_OK;
    enum store_rc rc = sq_exec_cached(c, SQL_SAVEPOINT_CALL, "savepoint");
    if (rc == STORE_OK)
        c->txn_depth++;
    sq_txn_check(c, rc, "savepoint");
    return rc;
}

enum store_rc sq_release(struct store *s)
{
    struct sq *c = (struct sq *)s;
    if (c->txn_depth < 2) {
        sq_log_error("release", "no savepoint is open");
        return STORE_ERROR;
    }
    c->txn_depth--;
    if (c->txn_lost != STORE_OK)
        return c->txn_lost;
    c->stmt_rc = STORE_OK;
    enum store_rc rc = sq_exec_cached(c, SQL_RELEASE_CALL, "release");
    /* The caller's nesting and SQLite's no longer agree: only ending it all is safe. */
    if (rc != STORE_OK)
        sq_txn_poison(c, "release");
    sq_txn_check(c, rc, "release");
    return rc;
}

void sq_rollback_to(struct store *s)
{
    struct sq *c = (struct sq *)s;
    if (c->txn_depth < 2) {
        sq_log_error("rollback_to", "no savepoint is open");
        return;
    }
    c->txn_depth--;
    if (c->txn_lost != STORE_OK)
        return;
    if (sqlite3_get_autocommit(c->db)) {
        sq_txn_check(c, STORE_ERROR, "rollback_to");
        return;
    }
    c->stmt_rc = STORE_OK;
    if (sq_exec_cached(c, SQL_ROLLBACK_TO_CALL, "rollback_to") != STORE_OK ||
        sq_exec_cached(c, SQL_RELEASE_CALL, "rollback_to") != STORE_OK)
        sq_txn_poison(c, "rollback_to");
    sq_txn_check(c, STORE_ERROR, "rollback_to");
}

/* ---- connection ---- */

static void sq_store_close(struct store *s);

static void sq_set_nowait(struct store *s)
{
    ((struct sq *)s)->nowait = 1;
}

static const struct store_ops sq_ops = {
    .name = "sqlite",
    .reads_inline = 1,
    .close = sq_store_close,
    .ping = sq_ping,
    .write_probe = sq_write_probe,
    .set_nowait = sq_set_nowait,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .savepoint = sq_savepoint,
    .release = sq_release,
    .rollback_to = sq_rollback_to,
    .user_create = sq_user_create,
    .user_get = sq_user_get,
    .user_get_by_email = sq_user_get_by_email,
    .user_update_profile = sq_user_update_profile,
    .user_set_password = sq_user_set_password,
    .user_set_role = sq_user_set_role,
    .user_set_disabled = sq_user_set_disabled,
    .user_bump_epoch = sq_user_bump_epoch,
    .user_set_email_verified = sq_user_set_email_verified,
    .user_set_email = sq_user_set_email,
    .user_set_locale = sq_user_set_locale,
    .identity_insert = sq_identity_insert,
    .identity_find = sq_identity_find,
    .identity_list = sq_identity_list,
    .identity_touch = sq_identity_touch,
    .identity_delete = sq_identity_delete,
    .login_code_insert = sq_login_code_insert,
    .login_code_consume = sq_login_code_consume,
    .oauth_state_use = sq_oauth_state_use,
    .email_token_insert = sq_email_token_insert,
    .email_token_consume = sq_email_token_consume,
    .email_token_revoke = sq_email_token_revoke,
    .email_token_count_since = sq_email_token_count_since,
    .order_insert = sq_order_insert,
    .order_get = sq_order_get,
    .order_get_by_ref = sq_order_get_by_ref,
    .order_set_checkout = sq_order_set_checkout,
    .order_transition = sq_order_transition,
    .order_attempt_add = sq_order_attempt_add,
    .order_search = sq_order_search,
    .orders_due = sq_orders_due,
    .order_schedule = sq_order_schedule,
    .order_refund_add = sq_order_refund_add,
    .refund_insert = sq_refund_insert,
    .refund_get = sq_refund_get,
    .refund_get_by_provider = sq_refund_get_by_provider,
    .refund_update = sq_refund_update,
    .refund_list = sq_refund_list,
    .refunds_pending = sq_refunds_pending,
    .payment_event_insert = sq_payment_event_insert,
    .payment_event_get = sq_payment_event_get,
    .orders_check = sq_orders_check,
    .sub_insert = sq_sub_insert,
    .sub_get = sq_sub_get,
    .sub_get_live = sq_sub_get_live,
    .sub_get_latest = sq_sub_get_latest,
    .sub_get_by_ref = sq_sub_get_by_ref,
    .sub_update = sq_sub_update,
    .subs_due = sq_subs_due,
    .sub_search = sq_sub_search,
    .order_set_subscription = sq_order_set_subscription,
    .wallet_set_plan_expiry = sq_wallet_set_plan_expiry,
    .subs_check = sq_subs_check,
    .task_insert = sq_task_insert,
    .task_get = sq_task_get,
    .task_get_by_provider_ref = sq_task_get_by_provider_ref,
    .task_list = sq_task_list,
    .task_count_live = sq_task_count_live,
    .tasks_claim = sq_tasks_claim,
    .task_update = sq_task_update,
    .task_finish = sq_task_finish,
    .task_set_next = sq_task_set_next,
    .tasks_check = sq_tasks_check,
    .pkey_insert = sq_pkey_insert,
    .pkey_get = sq_pkey_get,
    .pkey_list = sq_pkey_list,
    .pkey_set_disabled = sq_pkey_set_disabled,
    .pkey_add_stats = sq_pkey_add_stats,
    .file_insert = sq_file_insert,
    .file_get = sq_file_get,
    .file_get_by_key = sq_file_get_by_key,
    .file_set_ready = sq_file_set_ready,
    .files_of_task = sq_files_of_task,
    .refresh_insert = sq_refresh_insert,
    .refresh_rotate = sq_refresh_rotate,
    .refresh_revoke_family = sq_refresh_revoke_family,
    .refresh_revoke_user = sq_refresh_revoke_user,
    .api_key_insert = sq_api_key_insert,
    .api_key_list = sq_api_key_list,
    .api_key_count_active = sq_api_key_count_active,
    .api_key_revoke = sq_api_key_revoke,
    .api_key_authenticate = sq_api_key_authenticate,
    .api_key_touch = sq_api_key_touch,
    .wallet_get = sq_wallet_get,
    .ledger_apply = sq_ledger_apply,
    .ledger_get_by_ref = sq_ledger_get_by_ref,
    .ledger_list = sq_ledger_list,
    .audit_insert = sq_audit_insert,
    .audit_list = sq_audit_list,
    .idem_get = sq_idem_get,
    .idem_put = sq_idem_put,
    .idem_delete = sq_idem_delete,
    .ledger_totals = sq_ledger_totals,
    .ledger_check = sq_ledger_check,
    .task_versions = sq_task_versions,
    .user_search = sq_user_search,
    .stats_users = sq_stats_users,
    .stats_active = sq_stats_active,
    .stats_orders_paid = sq_stats_orders_paid,
    .stats_refunds = sq_stats_refunds,
    .stats_tasks = sq_stats_tasks,
    .stats_latencies = sq_stats_latencies,
};

/* Runs one PRAGMA or setup statement that returns at most one row; copies its first column
 * into out (may be NULL). */
static int sq_setup_exec(sqlite3 *db, const char *sql, char *out, size_t cap)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        goto cleanup;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && out != NULL) {
        const unsigned char *t = sqlite3_column_text(st, 0);
        snprintf(out, cap, "%s", t ? (const char *)t : "");
    }
    if (rc == SQLITE_ROW || rc == SQLITE_DONE)
        rc = SQLITE_OK;
cleanup:
    sqlite3_finalize(st);
    return rc;
}

struct sq *sq_open(const char *url, char **err)
{
    struct sq *c = NULL;
    sqlite3 *db = NULL;
    const char *path = NULL;
    char mode[16] = "";
    int rc;

    *err = NULL;
    if (strncmp(url, "sqlite:", 7) != 0 || url[7] == '\0') {
        *err = xstrdup("expected sqlite:PATH or sqlite::memory:");
        goto cleanup;
    }
    path = url + 7;
    int memory = strcmp(path, ":memory:") == 0;

    pthread_once(&sq_global_once, sq_global_init);
    /* NOMUTEX: one connection per thread is the contract, so SQLite's per-connection mutex
     * would only cost time on the hot path. */
    rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        *err = xasprintf("cannot open SQLite database %s: %s", path,
                         db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        goto cleanup;
    }
    sqlite3_extended_result_codes(db, 1);
    sqlite3_busy_timeout(db, SQ_OPEN_BUSY_MS);

    /*
     * WAL lets readers (every request) run while one writer commits. synchronous=FULL
     * because a credit that was acknowledged must survive power loss (DESIGN section 1).
     * Switching a fresh file to WAL needs an exclusive lock, and SQLite answers BUSY at once,
     * without its busy handler, when waiting could deadlock (two processes starting on one
     * new database). So the set-up is retried as a whole, within the same time budget.
     */
    int64_t setup_deadline = time_mono_ns() + (int64_t)SQ_OPEN_BUSY_MS * 1000000;
    for (;;) {
        rc = sq_setup_exec(db, "PRAGMA journal_mode=WAL", mode, sizeof mode);
        if (rc == SQLITE_OK && !memory && strcmp(mode, "wal") != 0) {
            *err = xasprintf("SQLite database %s refused WAL mode (journal_mode=%s)", path, mode);
            goto cleanup;
        }
        if (rc == SQLITE_OK)
            rc = sq_setup_exec(db, "PRAGMA synchronous=FULL", NULL, 0);
        if (rc == SQLITE_OK)
            rc = sq_setup_exec(db, "PRAGMA foreign_keys=ON", NULL, 0);
        /* Savepoints (one per operation of a group commit) keep a statement journal of the
         * pages each operation changed, so that it alone can be rolled back. On disk that is
         * a temporary file created, written page by page and deleted for every batch: it
         * was ~170 page writes per commit under write load. It only ever serves a rollback
         * within the open transaction, never recovery, so memory is the right place. */
        if (rc == SQLITE_OK)
            rc = sq_setup_exec(db, "PRAGMA temp_store=MEMORY", NULL, 0);
        int primary = rc & 0xff;
        if ((primary != SQLITE_BUSY && primary != SQLITE_LOCKED) || time_mono_ns() >= setup_deadline)
            break;
        struct timespec pause = {0, 2000000 + (long)(time_mono_ns() % 3000000)}; /* 2-5 ms */
        nanosleep(&pause, NULL);
    }
    if (rc != SQLITE_OK) {
        *err = xasprintf("cannot configure SQLite database %s: %s", path, sqlite3_errmsg(db));
        goto cleanup;
    }
    /* From here on contention is handled by sq_run's jittered retries, which keep the
     * total wait bounded and report STORE_BUSY instead of blocking a loop thread. */
    sqlite3_busy_timeout(db, 0);

    c = xcalloc(1, sizeof *c);
    c->base.ops = &sq_ops;
    c->db = db;
    c->busy_budget_ns = SQ_BUSY_BUDGET_NS;
    c->rng = (uint64_t)(uintptr_t)c ^ (uint64_t)time_mono_ns() ^ 0x9e3779b97f4a7c15ULL;
    if (c->rng == 0)
        c->rng = 1;
    db = NULL;

cleanup:
    if (db != NULL)
        sqlite3_close(db);
    return c;
}

void sq_close(struct sq *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->cache_cap; i++)
        if (c->cache[i].st != NULL)
            sqlite3_finalize(c->cache[i].st);
    free(c->cache);
    sqlite3_close(c->db);
    free(c);
}

static void sq_store_close(struct store *s)
{
    sq_close((struct sq *)s);
}

static struct store *sq_backend_open(const char *url, char **err)
{
    struct sq *c = sq_open(url, err);
    int applied;
    /* Every connection to sqlite::memory: is its own empty database that vanishes with it,
     * so store_migrate() on another connection cannot prepare it: such a connection gets
     * its schema here. File databases are never migrated implicitly. */
    if (c != NULL && strcmp(url, "sqlite::memory:") == 0 && sq_migrate_conn(c, &applied, err) != 0) {
        sq_close(c);
        c = NULL;
    }
    return c ? &c->base : NULL;
}

const struct store_backend store_backend_sqlite = {
    .name = "sqlite",
    .open = sq_backend_open,
    .migrate = sq_migrate,
};
