/*
 * sq.h - internals shared by the SQLite backend's files (not for use outside store/sqlite).
 *
 * A `struct sq` is one SQLite connection, used by one thread at a time. Its statements are
 * prepared once (SQLITE_PREPARE_PERSISTENT) and kept in a per-connection cache keyed by the
 * address of their SQL text, which each file holds in a `static const char[]`.
 *
 * Every operation is a function `sq_txn_fn` run by sq_run(). On its own, a write runs inside
 * BEGIN IMMEDIATE ... COMMIT and is retried as a whole on lock contention, which is why a
 * transaction function must rewrite all of its outputs on every attempt. Inside a
 * transaction opened with the ops table's begin() (a composed call, the group-committing
 * writer), a write runs as a savepoint of that transaction instead, once, without sleeping.
 */
#ifndef TG_STORE_SQLITE_SQ_H
#define TG_STORE_SQLITE_SQ_H

#include <sqlite3.h>
#include <stdint.h>

#include "store/backend.h"

struct sq_cached;

struct sq {
    struct store base; /* first: store.c casts */
    sqlite3 *db;
    struct sq_cached *cache; /* open-addressing table of prepared statements */
    size_t cache_cap;
    size_t cache_len;
    int64_t busy_budget_ns; /* total time sq_run() may spend waiting for locks */
    uint64_t rng;           /* jitter for retry sleeps */
    /* STORE_OK, or how the last failed prepare in this attempt maps (sq_stmt() can only
     * return NULL, so the runner turns the caller's STORE_ERROR into BUSY / UNAVAILABLE). */
    enum store_rc stmt_rc;
    /* Open transaction depth: 0 none, 1 after begin(), +1 per savepoint() (the caller's
     * savepoints; an operation's own savepoint is not counted). */
    int txn_depth;
    int nowait;             /* a loop's connection: BUSY is answered at once, never slept on */
    /* STORE_OK, or the result of the operation during which SQLite abandoned the open
     * transaction by itself (disk full, I/O error): every later operation and commit()
     * answer it until rollback() ends the transaction. */
    enum store_rc txn_lost;
};

/* How sq_run() wraps the function. */
enum sq_txn {
    SQ_AUTOCOMMIT, /* no explicit transaction: for single-statement reads */
    SQ_READ,       /* BEGIN DEFERRED: several reads from one snapshot */
    SQ_WRITE,      /* BEGIN IMMEDIATE: take the write lock up front, never upgrade */
};

typedef enum store_rc (*sq_txn_fn)(struct sq *c, void *arg);

/* Opens "sqlite:PATH" / "sqlite::memory:" with the connection settings (WAL, FULL, foreign keys). */
struct sq *sq_open(const char *url, char **err);
void sq_close(struct sq *c);

/*
 * Runs fn(c, arg) as one operation. `op` names it in log lines.
 *
 * No transaction open on c (the CLI, tests, reads): fn runs in a transaction of the given
 * kind. fn returns STORE_BUSY when a statement hit SQLITE_BUSY/SQLITE_LOCKED (sq_fail does
 * that mapping); the runner then rolls back, sleeps (jittered, from 0.2 ms doubling) and
 * runs fn again until c->busy_budget_ns is spent, then returns STORE_BUSY. Any result other
 * than STORE_OK rolls the transaction back, so a function may stop half way through its
 * writes by returning e.g. STORE_INSUFFICIENT.
 *
 * A transaction open (sq_begin): nothing is begun, committed, retried or slept on. SQ_WRITE
 * runs fn inside a savepoint of its own, released on STORE_OK and rolled back otherwise,
 * so a failed operation leaves no trace and the transaction goes on; SQ_READ and
 * SQ_AUTOCOMMIT just run fn. STORE_BUSY goes straight back to the caller.
 */
enum store_rc sq_run(struct sq *c, enum sq_txn mode, const char *op, sq_txn_fn fn, void *arg);

/* Transaction control for composed calls (store_ops in backend.h documents them). */
enum store_rc sq_begin(struct store *s, int write);
enum store_rc sq_commit(struct store *s);
void sq_rollback(struct store *s);
enum store_rc sq_savepoint(struct store *s);
enum store_rc sq_release(struct store *s);
void sq_rollback_to(struct store *s);

/*
 * The cached prepared statement for sql (which must have static storage: its address is the
 * key). NULL after logging on a prepare error. Pair every use with sq_done().
 */
sqlite3_stmt *sq_stmt(struct sq *c, const char *sql);
/* Resets the statement and clears its bindings so the next user starts clean. NULL is fine. */
void sq_done(sqlite3_stmt *st);
/*
 * Steps st, a statement that returns no row (INSERT, UPDATE, DELETE), then sq_done(st).
 * STORE_OK; `unchanged` when it changed no row (pass STORE_OK when that is fine); else the
 * failure as sq_fail(c, rc, what, unique_is_dup) names it.
 */
enum store_rc sq_exec(struct sq *c, sqlite3_stmt *st, const char *what, int unique_is_dup, enum store_rc unchanged);

/*
 * Maps a failed SQLite result code to a store result: BUSY/LOCKED -> STORE_BUSY (the runner
 * retries, nothing is logged), a UNIQUE/PRIMARY KEY violation -> STORE_DUPLICATE when
 * `unique_is_dup`, FULL / IOERR_* / READONLY_* / CANTOPEN -> STORE_UNAVAILABLE (the disk,
 * not the request, is at fault: retryable), anything else -> STORE_ERROR. UNAVAILABLE and
 * ERROR are logged with `what` and the SQLite message and counted for store_error_count().
 */
enum store_rc sq_fail(struct sq *c, int rc, const char *what, int unique_is_dup);

/* Logs a store error that did not come from SQLite (bad argument, overflow) and counts it. */
void sq_log_error(const char *what, const char *msg);

/*
 * Reading one row by up to two text keys (the get-by-id and get-by-reference of orders,
 * refunds, subscriptions): sql binds k1 as ?1 and, when not NULL, k2 as ?2; read fills out
 * from the row and returns < 0 when a stored field does not fit. Run sq_row_tx through
 * sq_run with a struct sq_row_args: STORE_OK, NOTFOUND when no row, ERROR otherwise.
 */
struct sq_row_args {
    const char *sql, *k1, *k2;
    int (*read)(sqlite3_stmt *st, void *out);
    void *out;
    const char *op; /* for logs */
};
enum store_rc sq_row_tx(struct sq *c, void *arg);
/*
 * Steps st (bound by the caller) to its end, reading each row with read into a growing heap
 * array of elements of `size` bytes: *out (caller frees) and *n. Ends st (sq_done). On any
 * failure *out is NULL and *n 0; a row read refuses (< 0) is logged as `op`.
 */
enum store_rc sq_rows(struct sq *c, sqlite3_stmt *st, size_t size, int (*read)(sqlite3_stmt *st, void *out),
                      void **out, size_t *n, const char *op);
/* sq_rows for elements that own heap memory: on failure, clear(element) runs for every row
 * read before the array is freed (a failed read must release what it took itself). */
enum store_rc sq_rows_owned(struct sq *c, sqlite3_stmt *st, size_t size, int (*read)(sqlite3_stmt *st, void *out),
                            void (*clear)(void *elem), void **out, size_t *n, const char *op);

/*
 * The audits (store_orders_check, store_subs_check, store_tasks_check): each query returns
 * (user_id, detail) rows, one per violation, collected in a read snapshot and reported
 * through the caller's store_violation_fn after it ends.
 */
struct sq_violations {
    struct {
        char user_id[TG_ID_MAX];
        char *what; /* "<what>: <detail>", heap */
    } *v;
    size_t n, cap;
};
/* Runs sql (with ?1 bound to *param when param is not NULL) and appends one violation per
 * row, described as "what: <second column>". */
enum store_rc sq_violations_query(struct sq *c, struct sq_violations *v, const char *sql, const int64_t *param,
                                  const char *what);
/* Calls fn (may be NULL) for each violation and sets *count. */
void sq_violations_report(const struct sq_violations *v, store_violation_fn fn, void *arg, int64_t *count);
/* Frees the collected violations (a retried attempt starts over with it too). */
void sq_violations_reset(struct sq_violations *v);

/* Binding helpers. Text is bound SQLITE_STATIC: it must outlive the statement's use, which
 * sq_done() ends. A NULL string binds SQL NULL; sq_bind_text_or_null also maps "" to NULL. */
int sq_bind_text(sqlite3_stmt *st, int i, const char *s);
int sq_bind_text_or_null(sqlite3_stmt *st, int i, const char *s);
/* Binds a time where 0 means "none" as SQL NULL. */
int sq_bind_time(sqlite3_stmt *st, int i, int64_t v);

/*
 * Copies column i (NULL -> "") into buf of size cap. Returns 0, or -1 when the value does
 * not fit: data written through this store always fits, so that means corruption or a row
 * written by something else, and is reported instead of silently truncated.
 */
int sq_col_text(sqlite3_stmt *st, int i, char *buf, size_t cap);
/* Column i as int64, NULL -> 0. */
int64_t sq_col_int(sqlite3_stmt *st, int i);

/* 1 if s is non-NULL and strlen(s) < cap (fits a char[cap] field with its NUL). */
int sq_fits(const char *s, size_t cap);

/* Ledger kind <-> stored text. sq_kind_parse returns -1 for an unknown name. */
const char *sq_kind_name(enum ledger_kind k);
int sq_kind_parse(const char *s);

/* Row readers shared between files (column orders are given by the SQL constants below). */
#define SQ_USER_COLS                                                                                         \
    "u.id, u.email, u.display_name, u.role, u.region, u.password_hash, "                                     \
    "u.created_at, u.updated_at, u.disabled, u.auth_epoch, u.email_verified, u.locale, u.signup_region"
/* Reads SQ_USER_COLS starting at column `first`. Returns 0 or -1 (oversized value). */
int sq_read_user(sqlite3_stmt *st, int first, struct user *u);

/* ---- operations (one group per file) ---- */

/* users.c */
enum store_rc sq_user_create(struct store *s, const struct user *u);
enum store_rc sq_user_get(struct store *s, const char *id, struct user *out);
enum store_rc sq_user_get_by_email(struct store *s, const char *email, struct user *out);
enum store_rc sq_user_update_profile(struct store *s, const char *id, const char *display_name,
                                     const char *region, int64_t now);
enum store_rc sq_user_set_password(struct store *s, const char *id, const char *old_hash, const char *new_hash,
                                   int64_t now);
enum store_rc sq_user_set_role(struct store *s, const char *id, const char *role, int64_t now);
enum store_rc sq_user_set_disabled(struct store *s, const char *id, int disabled, int64_t now);
enum store_rc sq_user_bump_epoch(struct store *s, const char *id, int64_t now, int64_t *epoch);
enum store_rc sq_user_set_email_verified(struct store *s, const char *id, const char *email, int64_t now);
enum store_rc sq_user_set_email(struct store *s, const char *id, const char *email, int verified, int64_t now);
enum store_rc sq_user_set_locale(struct store *s, const char *id, const char *locale, int64_t now);

/* identities.c */
enum store_rc sq_identity_insert(struct store *s, const struct identity *id);
enum store_rc sq_identity_find(struct store *s, const char *provider, const char *subject, struct identity *out,
                               struct user *user);
enum store_rc sq_identity_list(struct store *s, const char *user_id, struct identity **out, size_t *n);
enum store_rc sq_identity_touch(struct store *s, const char *identity_id, const char *email, int email_verified,
                                const char *display_name, int64_t now);
enum store_rc sq_identity_delete(struct store *s, const char *user_id, const char *identity_id);

/* orders.c */
enum store_rc sq_order_insert(struct store *s, const struct order *o);
enum store_rc sq_order_get(struct store *s, const char *id, struct order *out);
enum store_rc sq_order_get_by_ref(struct store *s, const char *provider, const char *ref, struct order *out);
enum store_rc sq_order_set_checkout(struct store *s, const char *id, const char *provider, const char *ref,
                                    const char *checkout_json, int64_t now);
enum store_rc sq_order_transition(struct store *s, const char *id, const char *const *from, const char *to,
                                  int64_t now);
enum store_rc sq_order_attempt_add(struct store *s, const char *order_id, const char *provider, const char *outcome,
                                   const char *detail, int64_t now);
enum store_rc sq_order_search(struct store *s, const struct order_filter *f, const char *before_id, size_t limit,
                              struct order **out, size_t *n);
enum store_rc sq_orders_due(struct store *s, int64_t now, size_t limit, struct order **out, size_t *n);
enum store_rc sq_order_schedule(struct store *s, const char *id, int64_t attempts, int64_t next_at, int64_t now);
enum store_rc sq_order_refund_add(struct store *s, const char *id, int64_t delta, int64_t now);
/* refunds.c */
enum store_rc sq_refund_insert(struct store *s, const struct refund *rf);
enum store_rc sq_refund_get(struct store *s, const char *id, struct refund *out);
enum store_rc sq_refund_get_by_provider(struct store *s, const char *order_id, const char *provider_refund_id,
                                        struct refund *out);
enum store_rc sq_refund_update(struct store *s, const char *id, const char *from, const char *to,
                               const char *provider_refund_id, int64_t credits, int64_t shortfall, int64_t now);
enum store_rc sq_refund_list(struct store *s, const char *order_id, struct refund **out, size_t *n);
enum store_rc sq_refunds_pending(struct store *s, int64_t updated_before, size_t limit, struct refund **out,
                                 size_t *n);
enum store_rc sq_payment_event_insert(struct store *s, const struct payment_event *e);
enum store_rc sq_payment_event_get(struct store *s, const char *provider, const char *event_id,
                                   struct payment_event *out);
enum store_rc sq_orders_check(struct store *s, store_violation_fn fn, void *arg, int64_t *violations);

/* subscriptions.c */
enum store_rc sq_sub_insert(struct store *s, const struct subscription *sub);
enum store_rc sq_sub_get(struct store *s, const char *id, struct subscription *out);
enum store_rc sq_sub_get_live(struct store *s, const char *user_id, struct subscription *out);
enum store_rc sq_sub_get_latest(struct store *s, const char *user_id, struct subscription *out);
enum store_rc sq_sub_get_by_ref(struct store *s, const char *provider, const char *ref, struct subscription *out);
enum store_rc sq_sub_update(struct store *s, const struct subscription *sub);
enum store_rc sq_subs_due(struct store *s, int64_t now, size_t limit, struct subscription **out, size_t *n);
enum store_rc sq_sub_search(struct store *s, const struct subscription_filter *f, const char *before_id,
                            size_t limit, struct subscription **out, size_t *n);
enum store_rc sq_order_set_subscription(struct store *s, const char *order_id, const char *sub_id, int64_t now);
enum store_rc sq_wallet_set_plan_expiry(struct store *s, const char *user_id, int64_t expires_at, int64_t now);
enum store_rc sq_subs_check(struct store *s, int64_t now, store_violation_fn fn, void *arg, int64_t *violations);

/* tasks.c */
enum store_rc sq_task_insert(struct store *s, const struct task *t);
enum store_rc sq_task_get(struct store *s, const char *id, const char *user_id, struct task *out);
enum store_rc sq_task_get_by_provider_ref(struct store *s, const char *provider, const char *provider_task_id,
                                          struct task *out);
enum store_rc sq_task_list(struct store *s, const struct task_filter *f, const char *before_id, size_t limit,
                           struct task **out, size_t *n);
enum store_rc sq_task_count_live(struct store *s, const char *user_id, int64_t *n);
enum store_rc sq_tasks_claim(struct store *s, int64_t now, int64_t lease_until, size_t limit, struct task **out,
                             size_t *n);
enum store_rc sq_task_update(struct store *s, const struct task *t, const char *expect_status);
enum store_rc sq_task_finish(struct store *s, const struct task *t);
enum store_rc sq_task_set_next(struct store *s, const char *id, int64_t next_at, int64_t now);
enum store_rc sq_tasks_check(struct store *s, store_violation_fn fn, void *arg, int64_t *violations);

/* pkeys.c */
enum store_rc sq_pkey_insert(struct store *s, const struct provider_key *k);
enum store_rc sq_pkey_get(struct store *s, const char *id, struct provider_key *out);
enum store_rc sq_pkey_list(struct store *s, const char *provider, struct provider_key **out, size_t *n);
enum store_rc sq_pkey_set_disabled(struct store *s, const char *id, int disabled, const char *reason, int64_t now);
enum store_rc sq_pkey_add_stats(struct store *s, const char *id, int64_t uses, int64_t failures,
                                int64_t last_used_at, const char *last_error, int64_t now);

/* files.c */
enum store_rc sq_file_insert(struct store *s, const struct stored_file *f);
enum store_rc sq_file_get(struct store *s, const char *id, const char *user_id, struct stored_file *out);
enum store_rc sq_file_get_by_key(struct store *s, const char *backend, const char *key, struct stored_file *out);
enum store_rc sq_file_set_ready(struct store *s, const char *id, const char *content_type, int64_t size,
                                int64_t width, int64_t height, int64_t duration_ms, int64_t now);
enum store_rc sq_files_of_task(struct store *s, const char *task_id, struct stored_file **out, size_t *n);

/* secrets.c */
enum store_rc sq_login_code_insert(struct store *s, const unsigned char hash[32], const char *user_id,
                                   const char *provider, int64_t now, int64_t expires_at);
enum store_rc sq_login_code_consume(struct store *s, const unsigned char hash[32], int64_t now,
                                    char user_id_out[TG_ID_MAX]);
enum store_rc sq_oauth_state_use(struct store *s, const unsigned char nonce[16], int64_t expires_at);
enum store_rc sq_email_token_insert(struct store *s, const unsigned char hash[32], const char *user_id,
                                    enum email_token_purpose purpose, const char *email, int64_t now,
                                    int64_t expires_at);
enum store_rc sq_email_token_consume(struct store *s, const unsigned char hash[32], enum email_token_purpose purpose,
                                     int64_t now, char user_id_out[TG_ID_MAX], char email_out[TG_EMAIL_MAX + 1]);
enum store_rc sq_email_token_revoke(struct store *s, const char *user_id, enum email_token_purpose purpose,
                                    int64_t now);
enum store_rc sq_email_token_count_since(struct store *s, const char *user_id, enum email_token_purpose purpose,
                                         int64_t since, int64_t *count);

/* tokens.c */
enum store_rc sq_refresh_insert(struct store *s, const struct refresh_token *t);
enum store_rc sq_refresh_rotate(struct store *s, const unsigned char old_hash[32],
                                const struct refresh_token *next, int64_t now, enum refresh_outcome *outcome,
                                char user_id_out[TG_ID_MAX]);
enum store_rc sq_refresh_revoke_family(struct store *s, const unsigned char hash[32], int64_t now,
                                       char user_id_out[TG_ID_MAX]);
enum store_rc sq_refresh_revoke_user(struct store *s, const char *user_id, int64_t now);

/* apikeys.c */
enum store_rc sq_api_key_insert(struct store *s, const struct api_key *k);
enum store_rc sq_api_key_list(struct store *s, const char *user_id, struct api_key **out, size_t *n);
enum store_rc sq_api_key_count_active(struct store *s, const char *user_id, int64_t *count);
enum store_rc sq_api_key_revoke(struct store *s, const char *user_id, const char *key_id, int64_t now);
enum store_rc sq_api_key_authenticate(struct store *s, const unsigned char hash[32], struct api_key *key,
                                      struct user *user);
enum store_rc sq_api_key_touch(struct store *s, const char *key_id, int64_t now, int64_t not_since,
                               int *touched);

/* ledger.c */
enum store_rc sq_wallet_get(struct store *s, const char *user_id, struct wallet *out);
enum store_rc sq_ledger_apply(struct store *s, const struct ledger_op *op, int64_t now, struct wallet *before,
                              struct wallet *after);
enum store_rc sq_ledger_get_by_ref(struct store *s, enum ledger_kind kind, const char *ref_type,
                                   const char *ref_id, struct ledger_entry out[2], size_t *n);
enum store_rc sq_ledger_list(struct store *s, const char *user_id, const char *before_id, size_t limit,
                             struct ledger_entry **out, size_t *n);

/* audit.c */
enum store_rc sq_audit_insert(struct store *s, const struct audit_entry *e);
enum store_rc sq_audit_list(struct store *s, const char *before_id, size_t limit, struct audit_entry **out,
                            size_t *n);

/* idem.c */
enum store_rc sq_idem_get(struct store *s, const char *scope, const char *key, struct idem_record *out);
enum store_rc sq_idem_delete(struct store *s, const char *scope, const char *key);
enum store_rc sq_idem_put(struct store *s, const char *scope, const char *key, const struct idem_record *rec);

/* ops.c */
enum store_rc sq_ping(struct store *s);
enum store_rc sq_write_probe(struct store *s, int64_t now);
enum store_rc sq_ledger_totals(struct store *s, struct ledger_totals *out);
enum store_rc sq_ledger_check(struct store *s, store_violation_fn fn, void *arg, int64_t *violations,
                              int64_t *wallets_checked);

/* stats.c */
enum store_rc sq_user_search(struct store *s, const struct user_filter *f, const char *before_id, size_t limit,
                             struct user **users, struct wallet **wallets, size_t *n);
enum store_rc sq_stats_users(struct store *s, int64_t from, int64_t to, int64_t bucket_ms, struct stats_row **out,
                             size_t *n);
enum store_rc sq_stats_active(struct store *s, int64_t from, int64_t to, int64_t bucket_ms, unsigned kinds,
                              struct stats_row **out, size_t *n);
enum store_rc sq_stats_orders_paid(struct store *s, int64_t from, int64_t to, int64_t bucket_ms,
                                   struct stats_row **out, size_t *n);
enum store_rc sq_stats_refunds(struct store *s, int64_t from, int64_t to, int64_t bucket_ms, struct stats_row **out,
                               size_t *n);
enum store_rc sq_stats_tasks(struct store *s, int64_t from, int64_t to, int64_t bucket_ms, struct stats_row **out,
                             size_t *n);
enum store_rc sq_stats_latencies(struct store *s, int64_t from, int64_t to, size_t max, struct stats_latency **out,
                                 size_t *n);
/* The i-th statement of stats.c (0..), NULL past the last: tests/store/test_stats.c checks
 * their query plans. */
const char *sq_stats_sql(size_t i);

/* task_versions.c */
enum store_rc sq_task_versions(struct store *s, const char *const *ids, size_t n, struct task_version *out,
                               size_t *found);

#endif
