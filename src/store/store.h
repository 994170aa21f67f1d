/*
 * store.h - the persistence interface: domain operations, not tables.
 *
 * Every write operation here is one whole transaction: it either happened completely or
 * not at all, and callers never see BEGIN/COMMIT. That is what lets a backend run writes
 * through a single group-committing writer, retry on lock contention, or be replaced by
 * PostgreSQL without touching domain/ or api/.
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

#include "domain/types.h"

enum store_rc {
    STORE_OK = 0,
    STORE_NOTFOUND,     /* no such row */
    STORE_DUPLICATE,    /* a unique key already holds this (email taken, ledger ref applied) */
    STORE_INSUFFICIENT, /* the conditional debit refused: the balance is too low */
    STORE_BUSY,         /* lock contention outlasted the retry budget: retry later (503) */
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

/* Cheap round trip to the database (GET /ready). */
enum store_rc store_ping(struct store *s);

/* Number of failed statements since start, all connections (for /metrics). */
uint64_t store_error_count(void);

/* ---- users ---- */

/*
 * Creates user `u` with an empty wallet and, when signup_credits > 0, a signup_grant of
 * that many paid credits (ledger ref "user"/u->id), all in one transaction.
 * STORE_DUPLICATE when the email is taken.
 */
enum store_rc store_user_create(struct store *s, const struct user *u, int64_t signup_credits);
enum store_rc store_user_get(struct store *s, const char *id, struct user *out);
enum store_rc store_user_get_by_email(struct store *s, const char *email, struct user *out);
/* Sets display_name (non-NULL) and/or region (non-NULL; "" clears). */
enum store_rc store_user_update_profile(struct store *s, const char *id, const char *display_name,
                                        const char *region, int64_t now);
/* Replaces the password hash and revokes every refresh token of the user, atomically. */
enum store_rc store_user_set_password(struct store *s, const char *id, const char *hash, int64_t now);
/*
 * Replaces the password hash only while it still equals old_hash (a rehash after login with
 * stronger parameters). Unlike store_user_set_password it leaves sessions alone: the
 * password did not change. NOTFOUND when the user is gone or the hash changed meanwhile.
 */
enum store_rc store_user_rehash_password(struct store *s, const char *id, const char *old_hash,
                                         const char *new_hash, int64_t now);
/* Sets the role ("user"/"admin"). */
enum store_rc store_user_set_role(struct store *s, const char *id, const char *role, int64_t now);
/*
 * Disables (1) or re-enables (0) the user. Disabling also revokes every refresh token of the
 * user in the same transaction, so no session outlives it; API keys stop authenticating
 * (store_api_key_authenticate answers NOTFOUND) while disabled. NOTFOUND if no such user.
 */
enum store_rc store_user_set_disabled(struct store *s, const char *id, int disabled, int64_t now);

/* ---- refresh tokens ---- */

enum store_rc store_refresh_insert(struct store *s, const struct refresh_token *t);
/*
 * Presents the token whose SHA-256 is old_hash. In one transaction:
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
/* Revokes the family of the token with this hash (logout). NOTFOUND if unknown. */
enum store_rc store_refresh_revoke_family(struct store *s, const unsigned char hash[32], int64_t now);
/* Revokes every refresh token of the user. */
enum store_rc store_refresh_revoke_user(struct store *s, const char *user_id, int64_t now);

/* ---- API keys ---- */

/*
 * Stores k if the user has fewer than max_active active keys (0 = no ceiling), counting and
 * inserting in one transaction so that concurrent requests cannot both pass the check.
 * STORE_INSUFFICIENT when the ceiling is reached; STORE_DUPLICATE on a hash/id collision.
 */
enum store_rc store_api_key_insert(struct store *s, const struct api_key *k, int64_t max_active);
/* Active keys of the user, newest first. *out: caller frees with free(); *n may be 0. */
enum store_rc store_api_key_list(struct store *s, const char *user_id, struct api_key **out, size_t *n);
/* Number of active keys of the user. */
enum store_rc store_api_key_count_active(struct store *s, const char *user_id, int64_t *count);
/* Revokes key_id if it is the user's and active; else NOTFOUND. */
enum store_rc store_api_key_revoke(struct store *s, const char *user_id, const char *key_id, int64_t now);
/*
 * Looks up an active key by the SHA-256 of the presented key, with its user.
 * NOTFOUND when unknown, revoked, or the user is disabled. Records last_used_at, but at
 * most once a minute per key so authentication does not turn every request into a write.
 */
enum store_rc store_api_key_authenticate(struct store *s, const unsigned char hash[32], int64_t now,
                                         struct api_key *key, struct user *user);

/* ---- credits and the ledger ---- */

enum store_rc store_wallet_get(struct store *s, const char *user_id, struct wallet *out);
/*
 * Applies op in one transaction: one conditional UPDATE of the wallet (a debit never reads
 * then writes; it is `... WHERE balance >= :amount`) and one ledger row per bucket touched,
 * each with balance_after. Results:
 *  STORE_OK           applied; *after holds the new wallet (may be NULL)
 *  STORE_DUPLICATE    an entry with the same (kind, ref_type, ref_id, bucket) exists:
 *                     nothing changed (a retried webhook or task)
 *  STORE_INSUFFICIENT debit larger than the balance: nothing changed
 *  STORE_NOTFOUND     no wallet for op->user_id
 */
enum store_rc store_ledger_apply(struct store *s, const struct ledger_op *op, int64_t now,
                                 struct wallet *after);
/*
 * An admin adjustment: store_ledger_apply(op) plus the audit row `audit` in the same
 * transaction. The audit details (audit->details_json, a JSON object) are stored with
 * "old" and "new" added: the bucket's balance before and after. *before / *after receive
 * the wallets (either may be NULL).
 */
enum store_rc store_admin_adjust(struct store *s, const struct ledger_op *op, const struct audit_entry *audit,
                                 int64_t now, struct wallet *before, struct wallet *after);
/* The entry with this (kind, ref_type, ref_id) in either bucket (first found), or NOTFOUND. */
enum store_rc store_ledger_get_by_ref(struct store *s, enum ledger_kind kind, const char *ref_type,
                                      const char *ref_id, struct ledger_entry *out);
/*
 * The user's entries, newest first, strictly older than cursor id `before_id` (NULL for the
 * newest), at most `limit`. *out: caller frees with free().
 */
enum store_rc store_ledger_list(struct store *s, const char *user_id, const char *before_id, size_t limit,
                                struct ledger_entry **out, size_t *n);

/* ---- audit log ---- */

enum store_rc store_audit_insert(struct store *s, const struct audit_entry *e);
/* Newest first, older than before_id (NULL = newest). Free with store_audit_free(). */
enum store_rc store_audit_list(struct store *s, const char *before_id, size_t limit, struct audit_entry **out,
                               size_t *n);
void store_audit_free(struct audit_entry *entries, size_t n);

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
 * balance_after values form an unbroken running sum; no balance is negative; every ledger
 * row and wallet belongs to an existing user. Reports each violation through fn.
 */
enum store_rc store_ledger_check(struct store *s, store_violation_fn fn, void *arg, int64_t *violations,
                                 int64_t *wallets_checked);

#endif
