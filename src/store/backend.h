/*
 * backend.h - what a store backend implements (SQLite now, PostgreSQL later).
 *
 * A backend's connection struct starts with `struct store` so that store.c can dispatch
 * through `ops` without knowing the backend. store.c owns argument-independent duties
 * (URL scheme selection, zeroing out-parameters on failure, the error counter) so that
 * every backend gets them the same way.
 */
#ifndef TG_STORE_BACKEND_H
#define TG_STORE_BACKEND_H

#include "store/store.h"

/* One function pointer per store.h operation, same parameters and meaning, plus the
 * transaction control that store/call.c and store/writer.c drive. */
struct store_ops {
    const char *name; /* "sqlite" */
    /* 1 when a read answers before store_exec_submit returns (an embedded database): callers
     * may then keep a read's context in request memory (store_exec_reads_inline). */
    int reads_inline;
    void (*close)(struct store *s);
    enum store_rc (*ping)(struct store *s);
    enum store_rc (*write_probe)(struct store *s, int64_t now);
    void (*set_nowait)(struct store *s);

    /*
     * Transaction control for composed calls. begin(write=1) opens a write transaction
     * (SQLite: BEGIN IMMEDIATE; STORE_BUSY at once when another process holds the write
     * lock: the caller decides whether and when to retry); begin(write=0) a read snapshot.
     * While one is open, every operation below runs inside it: a write operation as its own
     * savepoint (so a failing one leaves no trace and the transaction goes on), without any
     * retry or sleep of its own. commit: STORE_OK when durable (synchronous=FULL).
     * rollback: always ends the transaction. savepoint/release/rollback_to nest inside an
     * open transaction (one level per store_call in a group commit).
     */
    enum store_rc (*begin)(struct store *s, int write);
    enum store_rc (*commit)(struct store *s);
    void (*rollback)(struct store *s);
    enum store_rc (*savepoint)(struct store *s);
    enum store_rc (*release)(struct store *s);
    void (*rollback_to)(struct store *s);

    enum store_rc (*user_create)(struct store *s, const struct user *u);
    enum store_rc (*user_get)(struct store *s, const char *id, struct user *out);
    enum store_rc (*user_get_by_email)(struct store *s, const char *email, struct user *out);
    enum store_rc (*user_update_profile)(struct store *s, const char *id, const char *display_name,
                                         const char *region, int64_t now);
    enum store_rc (*user_set_password)(struct store *s, const char *id, const char *old_hash,
                                       const char *new_hash, int64_t now);
    enum store_rc (*user_set_role)(struct store *s, const char *id, const char *role, int64_t now);
    enum store_rc (*user_set_disabled)(struct store *s, const char *id, int disabled, int64_t now);
    enum store_rc (*user_bump_epoch)(struct store *s, const char *id, int64_t now, int64_t *epoch);

    enum store_rc (*user_set_email_verified)(struct store *s, const char *id, const char *email, int64_t now);
    enum store_rc (*user_set_email)(struct store *s, const char *id, const char *email, int verified, int64_t now);
    enum store_rc (*user_set_locale)(struct store *s, const char *id, const char *locale, int64_t now);

    enum store_rc (*identity_insert)(struct store *s, const struct identity *id);
    enum store_rc (*identity_find)(struct store *s, const char *provider, const char *subject,
                                   struct identity *out, struct user *user);
    enum store_rc (*identity_list)(struct store *s, const char *user_id, struct identity **out, size_t *n);
    enum store_rc (*identity_touch)(struct store *s, const char *identity_id, const char *email,
                                    int email_verified, const char *display_name, int64_t now);
    enum store_rc (*identity_delete)(struct store *s, const char *user_id, const char *identity_id);

    enum store_rc (*login_code_insert)(struct store *s, const unsigned char hash[32], const char *user_id,
                                       const char *provider, int64_t now, int64_t expires_at);
    enum store_rc (*login_code_consume)(struct store *s, const unsigned char hash[32], int64_t now,
                                        char user_id_out[TG_ID_MAX]);
    enum store_rc (*oauth_state_use)(struct store *s, const unsigned char nonce[16], int64_t expires_at);
    enum store_rc (*email_token_insert)(struct store *s, const unsigned char hash[32], const char *user_id,
                                        enum email_token_purpose purpose, const char *email, int64_t now,
                                        int64_t expires_at);
    enum store_rc (*email_token_consume)(struct store *s, const unsigned char hash[32],
                                         enum email_token_purpose purpose, int64_t now,
                                         char user_id_out[TG_ID_MAX], char email_out[TG_EMAIL_MAX + 1]);
    enum store_rc (*email_token_revoke)(struct store *s, const char *user_id, enum email_token_purpose purpose,
                                        int64_t now);
    enum store_rc (*email_token_count_since)(struct store *s, const char *user_id,
                                             enum email_token_purpose purpose, int64_t since, int64_t *count);

    enum store_rc (*order_insert)(struct store *s, const struct order *o);
    enum store_rc (*order_get)(struct store *s, const char *id, struct order *out);
    enum store_rc (*order_get_by_ref)(struct store *s, const char *provider, const char *ref, struct order *out);
    enum store_rc (*order_set_checkout)(struct store *s, const char *id, const char *provider, const char *ref,
                                        const char *checkout_json, int64_t now);
    enum store_rc (*order_transition)(struct store *s, const char *id, const char *const *from, const char *to,
                                      int64_t now);
    enum store_rc (*order_attempt_add)(struct store *s, const char *order_id, const char *provider,
                                       const char *outcome, const char *detail, int64_t now);
    enum store_rc (*order_search)(struct store *s, const struct order_filter *f, const char *before_id,
                                  size_t limit, struct order **out, size_t *n);
    enum store_rc (*orders_due)(struct store *s, int64_t now, size_t limit, struct order **out, size_t *n);
    enum store_rc (*order_schedule)(struct store *s, const char *id, int64_t attempts, int64_t next_at, int64_t now);
    enum store_rc (*order_refund_add)(struct store *s, const char *id, int64_t delta, int64_t now);
    enum store_rc (*refund_insert)(struct store *s, const struct refund *rf);
    enum store_rc (*refund_get)(struct store *s, const char *id, struct refund *out);
    enum store_rc (*refund_get_by_provider)(struct store *s, const char *order_id, const char *provider_refund_id,
                                            struct refund *out);
    enum store_rc (*refund_update)(struct store *s, const char *id, const char *from, const char *to,
                                   const char *provider_refund_id, int64_t credits, int64_t shortfall, int64_t now);
    enum store_rc (*refund_list)(struct store *s, const char *order_id, struct refund **out, size_t *n);
    enum store_rc (*refunds_pending)(struct store *s, int64_t updated_before, size_t limit, struct refund **out,
                                     size_t *n);
    enum store_rc (*payment_event_insert)(struct store *s, const struct payment_event *e);
    enum store_rc (*payment_event_get)(struct store *s, const char *provider, const char *event_id,
                                       struct payment_event *out);
    enum store_rc (*orders_check)(struct store *s, store_violation_fn fn, void *arg, int64_t *violations);
    enum store_rc (*sub_insert)(struct store *s, const struct subscription *sub);
    enum store_rc (*sub_get)(struct store *s, const char *id, struct subscription *out);
    enum store_rc (*sub_get_live)(struct store *s, const char *user_id, struct subscription *out);
    enum store_rc (*sub_get_latest)(struct store *s, const char *user_id, struct subscription *out);
    enum store_rc (*sub_get_by_ref)(struct store *s, const char *provider, const char *ref,
                                    struct subscription *out);
    enum store_rc (*sub_update)(struct store *s, const struct subscription *sub);
    enum store_rc (*subs_due)(struct store *s, int64_t now, size_t limit, struct subscription **out, size_t *n);
    enum store_rc (*sub_search)(struct store *s, const struct subscription_filter *f, const char *before_id,
                                size_t limit, struct subscription **out, size_t *n);
    enum store_rc (*order_set_subscription)(struct store *s, const char *order_id, const char *sub_id, int64_t now);
    enum store_rc (*wallet_set_plan_expiry)(struct store *s, const char *user_id, int64_t expires_at, int64_t now);
    enum store_rc (*subs_check)(struct store *s, int64_t now, store_violation_fn fn, void *arg,
                                int64_t *violations);

    enum store_rc (*task_insert)(struct store *s, const struct task *t);
    enum store_rc (*task_get)(struct store *s, const char *id, const char *user_id, struct task *out);
    enum store_rc (*task_get_by_provider_ref)(struct store *s, const char *provider, const char *provider_task_id,
                                              struct task *out);
    enum store_rc (*task_list)(struct store *s, const struct task_filter *f, const char *before_id, size_t limit,
                               struct task **out, size_t *n);
    enum store_rc (*task_count_live)(struct store *s, const char *user_id, int64_t *n);
    enum store_rc (*tasks_claim)(struct store *s, int64_t now, int64_t lease_until, size_t limit,
                                 struct task **out, size_t *n);
    enum store_rc (*task_update)(struct store *s, const struct task *t, const char *expect_status);
    enum store_rc (*task_finish)(struct store *s, const struct task *t);
    enum store_rc (*task_set_next)(struct store *s, const char *id, int64_t next_at, int64_t now);
    enum store_rc (*tasks_check)(struct store *s, store_violation_fn fn, void *arg, int64_t *violations);

    enum store_rc (*pkey_insert)(struct store *s, const struct provider_key *k);
    enum store_rc (*pkey_get)(struct store *s, const char *id, struct provider_key *out);
    enum store_rc (*pkey_list)(struct store *s, const char *provider, struct provider_key **out, size_t *n);
    enum store_rc (*pkey_set_disabled)(struct store *s, const char *id, int disabled, const char *reason,
                                       int64_t now);
    enum store_rc (*pkey_add_stats)(struct store *s, const char *id, int64_t uses, int64_t failures,
                                    int64_t last_used_at, const char *last_error, int64_t now);

    enum store_rc (*file_insert)(struct store *s, const struct stored_file *f);
    enum store_rc (*file_get)(struct store *s, const char *id, const char *user_id, struct stored_file *out);
    enum store_rc (*file_get_by_key)(struct store *s, const char *backend, const char *key,
                                     struct stored_file *out);
    enum store_rc (*file_set_ready)(struct store *s, const char *id, const char *content_type, int64_t size,
                                    int64_t width, int64_t height, int64_t duration_ms, int64_t now);
    enum store_rc (*files_of_task)(struct store *s, const char *task_id, struct stored_file **out, size_t *n);

    enum store_rc (*refresh_insert)(struct store *s, const struct refresh_token *t);
    enum store_rc (*refresh_rotate)(struct store *s, const unsigned char old_hash[32],
                                    const struct refresh_token *next, int64_t now,
                                    enum refresh_outcome *outcome, char user_id_out[TG_ID_MAX]);
    enum store_rc (*refresh_revoke_family)(struct store *s, const unsigned char hash[32], int64_t now,
                                           char user_id_out[TG_ID_MAX]);
    enum store_rc (*refresh_revoke_user)(struct store *s, const char *user_id, int64_t now);

    enum store_rc (*api_key_insert)(struct store *s, const struct api_key *k);
    enum store_rc (*api_key_list)(struct store *s, const char *user_id, struct api_key **out, size_t *n);
    enum store_rc (*api_key_count_active)(struct store *s, const char *user_id, int64_t *count);
    enum store_rc (*api_key_revoke)(struct store *s, const char *user_id, const char *key_id, int64_t now);
    enum store_rc (*api_key_authenticate)(struct store *s, const unsigned char hash[32], struct api_key *key,
                                          struct user *user);
    enum store_rc (*api_key_touch)(struct store *s, const char *key_id, int64_t now, int64_t not_since,
                                   int *touched);

    enum store_rc (*wallet_get)(struct store *s, const char *user_id, struct wallet *out);
    enum store_rc (*ledger_apply)(struct store *s, const struct ledger_op *op, int64_t now,
                                  struct wallet *before, struct wallet *after);
    enum store_rc (*ledger_get_by_ref)(struct store *s, enum ledger_kind kind, const char *ref_type,
                                       const char *ref_id, struct ledger_entry out[2], size_t *n);
    enum store_rc (*ledger_list)(struct store *s, const char *user_id, const char *before_id, size_t limit,
                                 struct ledger_entry **out, size_t *n);

    enum store_rc (*audit_insert)(struct store *s, const struct audit_entry *e);
    enum store_rc (*audit_list)(struct store *s, const char *before_id, size_t limit,
                                struct audit_entry **out, size_t *n);

    enum store_rc (*idem_get)(struct store *s, const char *scope, const char *key, struct idem_record *out);
    enum store_rc (*idem_put)(struct store *s, const char *scope, const char *key,
                              const struct idem_record *rec);
    enum store_rc (*idem_delete)(struct store *s, const char *scope, const char *key);

    enum store_rc (*ledger_totals)(struct store *s, struct ledger_totals *out);
    enum store_rc (*ledger_check)(struct store *s, store_violation_fn fn, void *arg, int64_t *violations,
                                  int64_t *wallets_checked);
    enum store_rc (*task_versions)(struct store *s, const char *const *ids, size_t n, struct task_version *out,
                                   size_t *found);

    enum store_rc (*user_search)(struct store *s, const struct user_filter *f, const char *before_id, size_t limit,
                                 struct user **users, struct wallet **wallets, size_t *n);
    enum store_rc (*stats_users)(struct store *s, int64_t from, int64_t to, int64_t bucket_ms,
                                 struct stats_row **out, size_t *n);
    enum store_rc (*stats_active)(struct store *s, int64_t from, int64_t to, int64_t bucket_ms, unsigned kinds,
                                  struct stats_row **out, size_t *n);
    enum store_rc (*stats_orders_paid)(struct store *s, int64_t from, int64_t to, int64_t bucket_ms,
                                       struct stats_row **out, size_t *n);
    enum store_rc (*stats_refunds)(struct store *s, int64_t from, int64_t to, int64_t bucket_ms,
                                   struct stats_row **out, size_t *n);
    enum store_rc (*stats_tasks)(struct store *s, int64_t from, int64_t to, int64_t bucket_ms,
                                 struct stats_row **out, size_t *n);
    enum store_rc (*stats_latencies)(struct store *s, int64_t from, int64_t to, size_t max,
                                     struct stats_latency **out, size_t *n);
};

/* The first member of every backend connection struct. */
struct store {
    const struct store_ops *ops;
};

/*
 * A backend as store.c selects it by URL. `open` and `migrate` receive the whole URL and
 * have the semantics of store_open() / store_migrate().
 */
struct store_backend {
    const char *name;
    struct store *(*open)(const char *url, char **err);
    int (*migrate)(const char *url, int *applied, char **err);
};

/* The SQLite backend (store/sqlite/db.c): URLs "sqlite:PATH" and "sqlite::memory:". */
extern const struct store_backend store_backend_sqlite;

/*
 * Counts one failed statement (or a transaction that gave up on lock contention) for
 * store_error_count(). Backends call it where they log the failure. Thread-safe.
 */
void store_count_error(void);

#endif
