/*
 * store.h - the persistence interface: domain operations, not tables.
 *
 * Every write operation here is one whole transaction when called on its own (the CLI, the
 * tests), and a part of the caller's transaction when called from a store_call's run()
 * (store/call.h): that is how domain/ composes several of them into one atomic operation
 * which the server hands to a single group-committing writer. Callers never see
 * BEGIN/COMMIT, so PostgreSQL can replace SQLite without touching domain/ or api/.
 *
 * A `struct store` is one connection: open one per thread and never share it.
 * Backends implement `struct store_ops` (store/backend.h); these functions dispatch.
 * Unless noted, strings passed in are borrowed for the call only and out-structs are
 * fully written on STORE_OK (and zeroed otherwise).
 */
#ifndef TG_STORE_STORE_H
#define TG_STORE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "core/types.h"

enum store_rc {
    STORE_OK = 0,
    STORE_NOTFOUND,     /* no such row */
    STORE_DUPLICATE,    /* a unique key already holds this (email taken, ledger ref applied) */
    STORE_INSUFFICIENT, /* the conditional debit refused: the balance is too low */
    STORE_CONFLICT,     /* a condition the caller named no longer holds (the hash changed) */
    STORE_BUSY,         /* lock contention outlasted the retry budget: retry later (503) */
    STORE_UNAVAILABLE,  /* the database cannot write now (disk full, I/O error): retry (503) */
    STORE_ERROR,        /* anything else; already logged by the backend */
};

struct store;

/* "ok", "not_found", ... for logs. */
const char *store_rc_name(enum store_rc rc);

/*
 * Opens a connection for `url` ("sqlite:PATH" or "sqlite::memory:"; later "postgres://").
 * Does not migrate (except sqlite::memory:, where each connection is its own private
 * database and therefore arrives migrated). Returns NULL with *err set (caller frees).
 */
struct store *store_open(const char *url, char **err);
void store_close(struct store *s);

/*
 * Applies pending numbered migrations in order, each in its own transaction, recording
 * them in schema_migrations. Safe to run concurrently from several processes.
 * *applied receives how many ran. Returns 0 or -1 with *err set (caller frees).
 */
int store_migrate(const char *url, int *applied, char **err);

/*
 * Makes s answer STORE_BUSY at once when it meets another connection's lock, instead of
 * retrying with sleeps: for the connections of loop threads, which must never sleep.
 */
void store_set_nowait(struct store *s);

/* Cheap round trip to the database (GET /ready). */
enum store_rc store_ping(struct store *s);

/*
 * A tiny durable write (a row of its own in a metadata table) that tells whether the
 * database can write again after STORE_UNAVAILABLE (disk full). The writer probes with it.
 */
enum store_rc store_write_probe(struct store *s, int64_t now);

/* Number of failed statements since start, all connections (for /metrics). */
uint64_t store_error_count(void);

/*
 * Storage only. Every function below stores or reads; none of them decides a business rule
 * (who gets credits, when a key is touched, whether a session may be issued): domain/
 * composes them. Called on their own, write functions are each one transaction. Called
 * from a store_call's run() (store/call.h) they are all part of that call's transaction.
 */

/* ---- users ---- */

/*
 * Creates user `u` (auth_epoch starts at 0) and its empty wallet.
 * STORE_DUPLICATE when the email (or id) is taken.
 */
enum store_rc store_user_create(struct store *s, const struct user *u);
enum store_rc store_user_get(struct store *s, const char *id, struct user *out);
enum store_rc store_user_get_by_email(struct store *s, const char *email, struct user *out);
/* Sets display_name (non-NULL) and/or region (non-NULL; "" clears). NOTFOUND if no user. */
enum store_rc store_user_update_profile(struct store *s, const char *id, const char *display_name,
                                        const char *region, int64_t now);
/*
 * Replaces the password hash with new_hash. When old_hash is not NULL the change happens only
 * while the stored hash still equals it ("" matches an account without a password):
 * STORE_CONFLICT otherwise. NOTFOUND if no user. Nothing else changes (sessions are the
 * caller's business: store_refresh_revoke_user, store_user_bump_epoch).
 */
enum store_rc store_user_set_password(struct store *s, const char *id, const char *old_hash,
                                      const char *new_hash, int64_t now);
/* Sets the role ("user"/"admin"). NOTFOUND if no user. */
enum store_rc store_user_set_role(struct store *s, const char *id, const char *role, int64_t now);
/* Sets (1) or clears (0) the disabled flag. NOTFOUND if no user. */
enum store_rc store_user_set_disabled(struct store *s, const char *id, int disabled, int64_t now);
/* auth_epoch = auth_epoch + 1; *epoch (may be NULL) receives the new value. NOTFOUND if no user. */
enum store_rc store_user_bump_epoch(struct store *s, const char *id, int64_t now, int64_t *epoch);

/* ---- refresh tokens ---- */

enum store_rc store_refresh_insert(struct store *s, const struct refresh_token *t);
/*
 * Presents the token whose SHA-256 is old_hash:
 *  - unknown: *outcome = REFRESH_UNKNOWN;
 *  - expired or its family revoked: REFRESH_EXPIRED;
 *  - already used (rotated before): REFRESH_REUSED, and every token of its family is
 *    revoked (theft detection);
 *  - otherwise it is marked used, `next` is inserted into the same family for the same
 *    user (next->user_id and next->family_id are ignored and taken from the old token),
 *    and REFRESH_ROTATED.
 * user_id_out receives the token's user on every outcome but UNKNOWN.
 * The return value is STORE_OK whenever *outcome is meaningful.
 */
enum store_rc store_refresh_rotate(struct store *s, const unsigned char old_hash[32],
                                   const struct refresh_token *next, int64_t now,
                                   enum refresh_outcome *outcome, char user_id_out[TG_ID_MAX]);
/* Revokes the family of the token with this hash (logout); *user_id_out (may be NULL)
 * receives its user. NOTFOUND if unknown. */
enum store_rc store_refresh_revoke_family(struct store *s, const unsigned char hash[32], int64_t now,
                                          char user_id_out[TG_ID_MAX]);
/* Revokes every refresh token of the user. */
enum store_rc store_refresh_revoke_user(struct store *s, const char *user_id, int64_t now);

/*
 * Marks the user's email verified, but only while the stored address still equals `email`
 * (a token sent to an old address must not verify a new one): STORE_CONFLICT otherwise.
 * NOTFOUND if no user.
 */
enum store_rc store_user_set_email_verified(struct store *s, const char *id, const char *email, int64_t now);
/* Sets the email (NULL or "" clears it, and clears email_verified) and its verified flag.
 * STORE_DUPLICATE when another account holds the address. NOTFOUND if no user. */
enum store_rc store_user_set_email(struct store *s, const char *id, const char *email, int verified, int64_t now);
/* Sets the locale ("zh-CN"/"en-US"; "" clears). NOTFOUND if no user. */
enum store_rc store_user_set_locale(struct store *s, const char *id, const char *locale, int64_t now);

/* ---- identities (sign-in at providers) ---- */

/* Stores id. STORE_DUPLICATE when (provider, subject) is already linked (to anyone). */
enum store_rc store_identity_insert(struct store *s, const struct identity *id);
/* The identity (provider, subject) and its user. NOTFOUND when not linked. Writes nothing. */
enum store_rc store_identity_find(struct store *s, const char *provider, const char *subject,
                                  struct identity *out, struct user *user);
/* The user's identities, oldest first. *out: caller frees with free(); *n may be 0. */
enum store_rc store_identity_list(struct store *s, const char *user_id, struct identity **out, size_t *n);
/* Refreshes what the provider said (email, verified, display name) and last_used_at. */
enum store_rc store_identity_touch(struct store *s, const char *identity_id, const char *email,
                                   int email_verified, const char *display_name, int64_t now);
/* Removes the user's identity identity_id. NOTFOUND when it is not theirs. */
enum store_rc store_identity_delete(struct store *s, const char *user_id, const char *identity_id);

/* ---- one-time secrets: login codes, OAuth states, mail tokens (SHA-256 stored) ---- */

/* Stores a login code (hash of the code) for user, valid until expires_at. */
enum store_rc store_login_code_insert(struct store *s, const unsigned char hash[32], const char *user_id,
                                      const char *provider, int64_t now, int64_t expires_at);
/*
 * Consumes the login code: STORE_OK with user_id_out set when it was unused and unexpired
 * (it is now used); STORE_CONFLICT when it was already used (a replay: user_id_out is set);
 * STORE_NOTFOUND when unknown or expired.
 */
enum store_rc store_login_code_consume(struct store *s, const unsigned char hash[32], int64_t now,
                                       char user_id_out[TG_ID_MAX]);
/* Records that the OAuth state with this nonce was used. STORE_DUPLICATE when it already was. */
enum store_rc store_oauth_state_use(struct store *s, const unsigned char nonce[16], int64_t expires_at);
/*
 * Stores a mail token (hash) for user and purpose, sent to `email`. Earlier unused tokens of
 * the same user and purpose stay valid until they expire or store_email_token_revoke runs.
 */
enum store_rc store_email_token_insert(struct store *s, const unsigned char hash[32], const char *user_id,
                                       enum email_token_purpose purpose, const char *email, int64_t now,
                                       int64_t expires_at);
/*
 * Consumes a mail token of `purpose`: STORE_OK with user_id_out and email_out set when it was
 * unused and unexpired (now used); STORE_CONFLICT when already used; STORE_NOTFOUND when
 * unknown, expired or of another purpose.
 */
enum store_rc store_email_token_consume(struct store *s, const unsigned char hash[32],
                                        enum email_token_purpose purpose, int64_t now,
                                        char user_id_out[TG_ID_MAX], char email_out[TG_EMAIL_MAX + 1]);
/* Marks every unused token of the user and purpose used (a password change ends resets). */
enum store_rc store_email_token_revoke(struct store *s, const char *user_id, enum email_token_purpose purpose,
                                       int64_t now);
/* Number of tokens of the user and purpose created at or after `since` (mail throttling). */
enum store_rc store_email_token_count_since(struct store *s, const char *user_id,
                                            enum email_token_purpose purpose, int64_t since, int64_t *count);

/* ---- orders and the payment inbox ---- */

/* Stores a new order (status as given, normally "pending"). DUPLICATE on an id or
 * (provider, provider_ref) collision. */
enum store_rc store_order_insert(struct store *s, const struct order *o);
/* The order with this id. NOTFOUND when none. */
enum store_rc store_order_get(struct store *s, const char *id, struct order *out);
/* The order a provider knows by ref. NOTFOUND when none. */
enum store_rc store_order_get_by_ref(struct store *s, const char *provider, const char *ref, struct order *out);
/*
 * Records the checkout made at `provider` for a pending order: provider, provider_ref and the
 * checkout JSON. STORE_CONFLICT when the order is no longer pending, DUPLICATE when another
 * order has that ref, NOTFOUND when no such order.
 */
enum store_rc store_order_set_checkout(struct store *s, const char *id, const char *provider, const char *ref,
                                       const char *checkout_json, int64_t now);
/*
 * Moves the order to `to` only while its status is one of `from` (a NULL-terminated list);
 * paid_at is set to now when `to` is "paid". STORE_CONFLICT when its status is not in
 * `from` (nothing changes), NOTFOUND when no such order.
 */
enum store_rc store_order_transition(struct store *s, const char *id, const char *const *from, const char *to,
                                     int64_t now);
/* Appends a checkout attempt (outcome "ok" or "failed", detail may be NULL). */
enum store_rc store_order_attempt_add(struct store *s, const char *order_id, const char *provider,
                                      const char *outcome, const char *detail, int64_t now);
/* The user's orders, newest first, before before_id (NULL: from the newest), at most limit.
 * *out: caller frees with free(). */
enum store_rc store_order_list(struct store *s, const char *user_id, const char *before_id, size_t limit,
                               struct order **out, size_t *n);
/* Orders matching f, newest first, before before_id (NULL: from the newest), at most limit
 * (the admin list). *out: caller frees with free(). */
enum store_rc store_order_search(struct store *s, const struct order_filter *f, const char *before_id, size_t limit,
                                 struct order **out, size_t *n);
/* Pending orders whose next query or expiry is due at now, oldest first, at most limit
 * (the pending-order job). *out: caller frees with free(). */
enum store_rc store_orders_due(struct store *s, int64_t now, size_t limit, struct order **out, size_t *n);
/* Records a query of a pending order: attempts and the next time (0: none). CONFLICT when
 * the order is no longer pending. */
enum store_rc store_order_schedule(struct store *s, const char *id, int64_t attempts, int64_t next_at, int64_t now);
/*
 * Adds delta (negative to give back a refund that failed) to the order's refunded_amount and
 * sets its status from the sum: refunded when it equals the amount, partially_refunded when
 * above zero, paid at zero. Only for a paid, partially_refunded or refunded order. CONFLICT
 * (nothing changes) when the sum would leave 0..amount or the status does not allow it.
 */
enum store_rc store_order_refund_add(struct store *s, const char *id, int64_t delta, int64_t now);
/* Stores a notification in the inbox. STORE_DUPLICATE when (provider, event_id) is there. */
enum store_rc store_payment_event_insert(struct store *s, const struct payment_event *e);
/* The inbox row (provider, event_id). NOTFOUND when none. */
enum store_rc store_payment_event_get(struct store *s, const char *provider, const char *event_id,
                                      struct payment_event *out);

/* ---- subscriptions ---- */

/* Stores a new subscription. DUPLICATE when its id exists, or when the user already has a
 * live one (status active or past_due: at most one per user, a unique index). */
enum store_rc store_sub_insert(struct store *s, const struct subscription *sub);
/* The subscription with this id. NOTFOUND when none. */
enum store_rc store_sub_get(struct store *s, const char *id, struct subscription *out);
/* The user's live subscription (active or past_due). NOTFOUND when none. */
enum store_rc store_sub_get_live(struct store *s, const char *user_id, struct subscription *out);
/* The user's newest subscription, live or ended. NOTFOUND when none. */
enum store_rc store_sub_get_latest(struct store *s, const char *user_id, struct subscription *out);
/* The subscription a provider knows by ref. NOTFOUND when none. */
enum store_rc store_sub_get_by_ref(struct store *s, const char *provider, const char *ref, struct subscription *out);
/* Writes every mutable field of sub (all but id, user_id, order_id, created_at) by id.
 * NOTFOUND when no such subscription; DUPLICATE when provider_ref is another's. */
enum store_rc store_sub_update(struct store *s, const struct subscription *sub);
/* Live subscriptions whose next_due_at is set and <= now, oldest due first, at most limit
 * (the subscription job). *out: caller frees with free(). */
enum store_rc store_subs_due(struct store *s, int64_t now, size_t limit, struct subscription **out, size_t *n);
/* Subscriptions matching f, newest first, before before_id (NULL: from the newest), at most
 * limit (the admin list). *out: caller frees with free(). */
enum store_rc store_sub_search(struct store *s, const struct subscription_filter *f, const char *before_id,
                               size_t limit, struct subscription **out, size_t *n);
/* Sets the subscription an order belongs to (orders.subscription_id). NOTFOUND when no such order. */
enum store_rc store_order_set_subscription(struct store *s, const char *order_id, const char *sub_id, int64_t now);
/* Moves the end of the wallet's plan credits (no balance changes, so no ledger row): the
 * provider's own bounds of a first period arrived after its credits were granted.
 * NOTFOUND when the user has no wallet. */
enum store_rc store_wallet_set_plan_expiry(struct store *s, const char *user_id, int64_t expires_at, int64_t now);

/* ---- refunds ---- */

/* Stores a refund. DUPLICATE when its id or (order, provider_refund_id) exists. */
enum store_rc store_refund_insert(struct store *s, const struct refund *rf);
/* The refund with this id. NOTFOUND when none. */
enum store_rc store_refund_get(struct store *s, const char *id, struct refund *out);
/* The refund of this order the provider knows by provider_refund_id. NOTFOUND when none. */
enum store_rc store_refund_get_by_provider(struct store *s, const char *order_id, const char *provider_refund_id,
                                           struct refund *out);
/* Moves a refund from `from` to `to`, setting provider_refund_id when not NULL and credits
 * and shortfall when credits >= 0. CONFLICT
 * when its status is not `from`, NOTFOUND when no such refund. */
enum store_rc store_refund_update(struct store *s, const char *id, const char *from, const char *to,
                                  const char *provider_refund_id, int64_t credits, int64_t shortfall, int64_t now);
/* Refunds still pending whose last change is at or before updated_before, oldest first, at
 * most limit (the pending-order job asks the provider again). *out: caller frees. */
enum store_rc store_refunds_pending(struct store *s, int64_t updated_before, size_t limit, struct refund **out,
                                    size_t *n);
/* The order's refunds, oldest first. *out: caller frees with free(). */
enum store_rc store_refund_list(struct store *s, const char *order_id, struct refund **out, size_t *n);

/* ---- API keys ---- */

/* Stores k. STORE_DUPLICATE on a hash/id collision. */
enum store_rc store_api_key_insert(struct store *s, const struct api_key *k);
/* Active keys of the user, newest first. *out: caller frees with free(); *n may be 0. */
enum store_rc store_api_key_list(struct store *s, const char *user_id, struct api_key **out, size_t *n);
/* Number of active keys of the user. */
enum store_rc store_api_key_count_active(struct store *s, const char *user_id, int64_t *count);
/* Revokes key_id if it is the user's and active; else NOTFOUND. */
enum store_rc store_api_key_revoke(struct store *s, const char *user_id, const char *key_id, int64_t now);
/*
 * Looks up an active (not revoked) key by the SHA-256 of the presented key, with its user
 * (whatever the user's disabled flag: deciding is the caller's). NOTFOUND when unknown or
 * revoked. Writes nothing.
 */
enum store_rc store_api_key_authenticate(struct store *s, const unsigned char hash[32], struct api_key *key,
                                         struct user *user);
/*
 * Sets last_used_at = now when it is unset or older than not_since. *touched (may be NULL)
 * receives 1 when the row changed. NOTFOUND when no such key.
 */
enum store_rc store_api_key_touch(struct store *s, const char *key_id, int64_t now, int64_t not_since,
                                  int *touched);

/* ---- credits and the ledger ---- */

enum store_rc store_wallet_get(struct store *s, const char *user_id, struct wallet *out);
/*
 * Applies op (already validated by domain/ledger.c): one conditional UPDATE of the wallet
 * (a debit never reads then writes; it is `... WHERE balance >= :amount`, honouring
 * op->plan_valid_at) and one ledger row per bucket touched, each with balance_after, in
 * commit order. Results:
 *  STORE_OK           applied; *before / *after (either may be NULL) hold the wallet
 *  STORE_DUPLICATE    an entry with the same (kind, ref_type, ref_id) exists in a bucket
 *                     the op would touch: nothing changed (a retried webhook or task)
 *  STORE_INSUFFICIENT debit larger than the spendable balance: nothing changed
 *  STORE_NOTFOUND     no wallet for op->user_id
 */
enum store_rc store_ledger_apply(struct store *s, const struct ledger_op *op, int64_t now,
                                 struct wallet *before, struct wallet *after);
/*
 * Every entry with this (kind, ref_type, ref_id): one per bucket, so at most two, plan
 * first. *n receives how many (NOTFOUND when none).
 */
enum store_rc store_ledger_get_by_ref(struct store *s, enum ledger_kind kind, const char *ref_type,
                                      const char *ref_id, struct ledger_entry out[2], size_t *n);
/*
 * The user's entries, newest first in commit order, strictly older than the entry whose id
 * is `before_id` (NULL for the newest; an id that is not the user's gives an empty page),
 * at most `limit`. *out: caller frees with free().
 */
enum store_rc store_ledger_list(struct store *s, const char *user_id, const char *before_id, size_t limit,
                                struct ledger_entry **out, size_t *n);

/* ---- audit log ---- */

/* Inserts e (e->id "" = generated). details_json must be a JSON object. */
enum store_rc store_audit_insert(struct store *s, const struct audit_entry *e);
/* Newest first in commit order, older than the entry before_id (NULL = newest).
 * Free with store_audit_free(). */
enum store_rc store_audit_list(struct store *s, const char *before_id, size_t limit, struct audit_entry **out,
                               size_t *n);
void store_audit_free(struct audit_entry *entries, size_t n);

/* ---- idempotency keys ---- */

/*
 * The stored answer for (scope, key), or NOTFOUND. out->body is heap (free it, or use
 * store_idem_free).
 */
enum store_rc store_idem_get(struct store *s, const char *scope, const char *key, struct idem_record *out);
/* Stores the first answer for (scope, key). DUPLICATE when one is stored already. */
enum store_rc store_idem_put(struct store *s, const char *scope, const char *key, const struct idem_record *rec);
/* Removes the record (a request whose first answer must not be kept). NOTFOUND when none. */
enum store_rc store_idem_delete(struct store *s, const char *scope, const char *key);
void store_idem_free(struct idem_record *rec);

/* ---- operations ---- */

struct ledger_totals {
    int64_t users;
    int64_t wallets;
    int64_t plan_credits;                  /* sum over wallets */
    int64_t paid_credits;
    int64_t entries;
    int64_t entries_by_kind[LK__COUNT];
    int64_t delta_by_kind[LK__COUNT];      /* sum of deltas per kind */
};
enum store_rc store_ledger_totals(struct store *s, struct ledger_totals *out);

/* Called once per invariant violation found by store_ledger_check(). */
typedef void (*store_violation_fn)(void *arg, const char *user_id, const char *what);
/*
 * Checks the ledger invariants (DESIGN section 3) over the whole database, reading in one
 * snapshot: for every wallet and bucket, the sum of ledger deltas equals the balance; the
 * balance_after values form an unbroken running sum in commit order; no balance is
 * negative; every ledger row and wallet belongs to an existing user. Reports each violation
 * through fn.
 */
enum store_rc store_ledger_check(struct store *s, store_violation_fn fn, void *arg, int64_t *violations,
                                 int64_t *wallets_checked);

/*
 * Checks orders against the ledger in one snapshot, calling fn (may be NULL) once per
 * violation: a paid (or refunded) pack order without its purchase entry, and a purchase
 * entry without a paid order of that user for those credits. *violations receives the count.
 */
enum store_rc store_orders_check(struct store *s, store_violation_fn fn, void *arg, int64_t *violations);

/* How late the subscription job may be before `tollgate audit` calls a period not rolled a
 * violation (the job runs every second; this leaves room for a restart). */
#define STORE_SUBS_AUDIT_GRACE_MS (5LL * 60 * 1000)
/*
 * Checks subscriptions and plan credits in one snapshot as of now (ms), calling fn (may be
 * NULL) once per violation: a wallet holding plan credits with no expiry, or whose expiry
 * passed more than STORE_SUBS_AUDIT_GRACE_MS before now (plan credits never outlive their
 * period); a live subscription the job left behind by more than the grace - an open credit
 * period that ended, none opened after one with paid time left, or a prepaid or canceling
 * one past its paid period (one the provider renews waits for its notice); a
 * plan_grant or plan_expire entry of ref_type "subscription" whose subscription (the ref_id
 * up to its first ':') does not exist or is another user's; a paid plan order not linked to
 * a subscription. *violations receives the count.
 */
enum store_rc store_subs_check(struct store *s, int64_t now, store_violation_fn fn, void *arg, int64_t *violations);

/* ---- generation tasks ---- */

/* Terminal statuses are succeeded, failed, timed_out and canceled; the others (queued,
 * submitted, running) are "live". Every function returning tasks fills heap fields that the
 * caller releases with task_clear() (lists: each element, then free(array)). */

/* Stores new task t. DUPLICATE on an id collision. */
enum store_rc store_task_insert(struct store *s, const struct task *t);
/* The task with this id; with user_id not NULL only when it is that user's (NOTFOUND
 * otherwise: another user's task does not exist for them). */
enum store_rc store_task_get(struct store *s, const char *id, const char *user_id, struct task *out);
/* The task a provider knows as (provider, provider_task_id). NOTFOUND when none. */
enum store_rc store_task_get_by_provider_ref(struct store *s, const char *provider, const char *provider_task_id,
                                             struct task *out);
/* Tasks matching f, newest first, with id < before_id when before_id is not NULL or "";
 * at most limit. *out is NULL when *n is 0. */
enum store_rc store_task_list(struct store *s, const struct task_filter *f, const char *before_id, size_t limit,
                              struct task **out, size_t *n);
/* Number of live tasks of the user (the in-flight cap). */
enum store_rc store_task_count_live(struct store *s, const char *user_id, int64_t *n);
/*
 * Claims for the dispatcher up to limit live tasks whose next_at <= now, earliest first:
 * in the same statement their next_at becomes lease_until, so that another dispatcher (or
 * this one after a crash) takes a task again only once its lease ran out. Returns them,
 * oldest (by id) first.
 */
enum store_rc store_tasks_claim(struct store *s, int64_t now, int64_t lease_until, size_t limit,
                                struct task **out, size_t *n);
/*
 * Writes the dispatcher's fields of t - status, phase, progress, provider_task_id, key_id,
 * attempts, polls, next_at, outputs_json, error_code, error_message, submitted_at,
 * updated_at - but only while the stored status equals expect_status and is live:
 * STORE_CONFLICT otherwise (a cancel, a timeout or another dispatcher got there first);
 * STORE_DUPLICATE when another task holds (provider, provider_task_id).
 * Never a terminal status: store_task_finish does that.
 */
enum store_rc store_task_update(struct store *s, const struct task *t, const char *expect_status);
/*
 * The one way to a terminal status: writes t's status, phase (""), progress, settled,
 * refunded, outputs_json, error_code, error_message, next_at (0), finished_at and
 * updated_at, only while the stored status is live: STORE_CONFLICT when it is terminal
 * already. The caller's ledger rows commit with it (domain/tasks.h).
 */
enum store_rc store_task_finish(struct store *s, const struct task *t);
/* Moves next_at of a live task (a wake-up: a callback arrived, a key recovered). NOTFOUND
 * when the task is not live. */
enum store_rc store_task_set_next(struct store *s, const char *id, int64_t next_at, int64_t now);

/*
 * Checks tasks against the ledger in one snapshot, calling fn (may be NULL) once per
 * violation: a task whose spend entries (ref task/<id>) do not add up to -reserved; a
 * terminal task whose refund and settle entries do not add up to `refunded`, or with
 * settled + refunded != reserved; a live task with any refund or settle entry; a spend
 * entry of ref_type "task" without its task. Also: a task whose plan-bucket spend is not
 * reserved_plan, a settle entry of a task that did not succeed or a refund entry of one
 * that did, and a spend, settle or refund entry of ref_type "task" whose task is missing or
 * another user's.
 * *violations receives the count.
 */
enum store_rc store_tasks_check(struct store *s, store_violation_fn fn, void *arg, int64_t *violations);

/* ---- provider keys ---- */

/* Stores k. DUPLICATE on an id collision. */
enum store_rc store_pkey_insert(struct store *s, const struct provider_key *k);
/* The key with this id. NOTFOUND when none. */
enum store_rc store_pkey_get(struct store *s, const char *id, struct provider_key *out);
/* Keys of a provider (NULL: all), oldest first. *out: caller frees with free(). */
enum store_rc store_pkey_list(struct store *s, const char *provider, struct provider_key **out, size_t *n);
/* Sets or clears disabled; reason is kept while disabled ("" when enabling). NOTFOUND if none. */
enum store_rc store_pkey_set_disabled(struct store *s, const char *id, int disabled, const char *reason,
                                      int64_t now);
/* Adds to the counters and sets last_used_at (when > stored) and last_error (NULL keeps it). */
enum store_rc store_pkey_add_stats(struct store *s, const char *id, int64_t uses, int64_t failures,
                                   int64_t last_used_at, const char *last_error, int64_t now);

/* ---- files (uploads and outputs) ---- */

/* Stores f. DUPLICATE on an id or (backend, key) collision. */
enum store_rc store_file_insert(struct store *s, const struct stored_file *f);
/* The file with this id; with user_id not NULL only when it is that user's. */
enum store_rc store_file_get(struct store *s, const char *id, const char *user_id, struct stored_file *out);
/* The file stored under (backend, key). */
enum store_rc store_file_get_by_key(struct store *s, const char *backend, const char *key, struct stored_file *out);
/* Marks a pending file ready with what was found in its bytes. CONFLICT when not pending,
 * NOTFOUND when no such file. */
enum store_rc store_file_set_ready(struct store *s, const char *id, const char *content_type, int64_t size,
                                   int64_t width, int64_t height, int64_t duration_ms, int64_t now);
/* The outputs of a task, oldest first. *out: caller frees with free(). */
enum store_rc store_files_of_task(struct store *s, const char *task_id, struct stored_file **out, size_t *n);

/* What a task's event stream watches for change (api/task_events.c). */
struct task_version {
    char id[TG_ID_MAX];
    char status[TG_TASK_STATUS_MAX];
    int progress;
    int64_t updated_at;
};
/* Most ids one store_task_versions call takes. */
#define STORE_TASK_VERSIONS_MAX 1000
/*
 * The version of each existing task among ids[0..n) (n <= STORE_TASK_VERSIONS_MAX), read
 * in one statement - one look for all the event streams of a loop. out has room for n;
 * *found receives how many were filled, in no particular order; ids with no task are left
 * out. ERROR for n too large or an id that is not id-shaped.
 */
enum store_rc store_task_versions(struct store *s, const char *const *ids, size_t n, struct task_version *out,
                                  size_t *found);

/* ---- admin: user search and statistics ---- */

/* What GET /api/v1/admin/users searches for. Every field "any" when NULL / -1. */
struct user_filter {
    const char *q;    /* an id exactly, or a substring (case-insensitive for ASCII) of the email
                       * or display name; LIKE wildcards in it match themselves */
    const char *role; /* "user" / "admin" */
    int disabled;     /* 0 / 1, -1 any */
};
/*
 * Users matching f, newest first (id order), with id < before_id when before_id is not NULL,
 * at most limit; wallets[i] is users[i]'s wallet (zero when it has none). *users and
 * *wallets: caller frees both with free(); both NULL when *n is 0.
 */
enum store_rc store_user_search(struct store *s, const struct user_filter *f, const char *before_id, size_t limit,
                                struct user **users, struct wallet **wallets, size_t *n);

/*
 * The statistics reads (domain/stats.c gives them meaning). Each one groups rows of one
 * table inside [from, to) (ms) by what it names and by bucket = (time - from) / bucket_ms
 * (bucket_ms > 0), and returns one struct stats_row per group, in no particular order.
 * Regions are the stored values ("" for NULL), not interpreted here. *out: caller frees
 * with free(); NULL when *n is 0.
 */
struct stats_row {
    char region[TG_REGION_MAX];  /* users.region; orders.region for orders and refunds */
    char region2[TG_REGION_MAX]; /* users.signup_region ("" for orders and refunds) */
    char key[TG_PROVIDER_MAX];   /* the currency (orders, refunds) or the provider (tasks) */
    char status[TG_TASK_STATUS_MAX]; /* tasks: the status */
    int64_t bucket;
    int64_t count;
    int64_t sum;                 /* orders, refunds: sum of amounts */
};
/* Users created before `to`, by (region, signup_region, bucket); users created before `from`
 * have bucket -1. */
enum store_rc store_stats_users(struct store *s, int64_t from, int64_t to, int64_t bucket_ms, struct stats_row **out,
                                size_t *n);
/* The kinds of activity store_stats_active counts. */
#define STORE_ACT_TASKS 1u    /* tasks created */
#define STORE_ACT_ORDERS 2u   /* orders created */
#define STORE_ACT_SESSIONS 4u /* refresh tokens issued: a sign-in or a refresh */
/* Distinct users with at least one activity of the kinds in `kinds`, by (their region,
 * signup_region, bucket): count is the number of distinct users; and once more for the
 * whole range with bucket -1. */
enum store_rc store_stats_active(struct store *s, int64_t from, int64_t to, int64_t bucket_ms, unsigned kinds,
                                 struct stats_row **out, size_t *n);
/* Orders whose paid_at is in the range (whatever became of them since), by (region,
 * currency, bucket of paid_at): count and sum of amounts. */
enum store_rc store_stats_orders_paid(struct store *s, int64_t from, int64_t to, int64_t bucket_ms,
                                      struct stats_row **out, size_t *n);
/* Succeeded refunds by the time they succeeded (updated_at) in the range, by (their order's
 * region, currency, bucket): count and sum of amounts. */
enum store_rc store_stats_refunds(struct store *s, int64_t from, int64_t to, int64_t bucket_ms, struct stats_row **out,
                                  size_t *n);
/* Tasks created in the range, by (their user's region, signup_region, provider, status,
 * bucket of created_at): count. */
enum store_rc store_stats_tasks(struct store *s, int64_t from, int64_t to, int64_t bucket_ms, struct stats_row **out,
                                size_t *n);
/* One succeeded task's time from submission to its end. */
struct stats_latency {
    char region[TG_REGION_MAX];
    char region2[TG_REGION_MAX];
    char provider[TG_PROVIDER_MAX];
    int64_t ms; /* finished_at - submitted_at */
};
/* Succeeded tasks created in the range that were submitted, at most max of them: the user's
 * region and signup_region, the provider and finished_at - submitted_at. STORE_CONFLICT
 * (nothing returned) when there are more than max. *out: caller frees with free(). */
enum store_rc store_stats_latencies(struct store *s, int64_t from, int64_t to, size_t max, struct stats_latency **out,
                                    size_t *n);

#endif
