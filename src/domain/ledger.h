/*
 * ledger.h - the credit operations (DESIGN section 3), on top of store_ledger_apply().
 *
 * This layer owns the rules the store does not: amounts are positive and bounded, no
 * balance can be pushed past LEDGER_MAX_BALANCE (so int64 arithmetic, here and in SQL,
 * can never overflow), references are present and short enough to be unique keys, plan
 * credits past their period are not spendable, and admin adjustments are audited and
 * idempotent per Idempotency-Key. The *_tx functions run inside a caller's transaction
 * (a store_call's run(), store/call.h), so that a payment, a task or an adjustment and its
 * ledger rows commit together.
 */
#ifndef TG_DOMAIN_LEDGER_H
#define TG_DOMAIN_LEDGER_H

#include <stdint.h>

#include "core/types.h"

struct store;
struct store_exec;

/* Largest amount of one operation: 1e9 credits is far more than any pack, plan or task
 * costs, and keeps a typo ("delta": 10000000000000) from becoming a balance. */
#define LEDGER_MAX_AMOUNT 1000000000LL
/* Largest balance a bucket may reach. 1e15 leaves a margin of ~9000x below INT64_MAX, so
 * even concurrent credits that each passed the check cannot overflow. */
#define LEDGER_MAX_BALANCE 1000000000000000LL

enum ledger_rc {
    LEDGER_OK = 0,
    LEDGER_INVALID,      /* arguments out of bounds (amount, delta, strings): nothing done */
    LEDGER_NOTFOUND,     /* no wallet for the user */
    LEDGER_DUPLICATE,    /* the reference was applied before: nothing changed */
    LEDGER_INSUFFICIENT, /* a debit larger than the balance: nothing changed */
    LEDGER_OVERFLOW,     /* the credit would take the bucket past LEDGER_MAX_BALANCE */
    LEDGER_CONFLICT,     /* admin adjust: the Idempotency-Key was used for another change */
    LEDGER_NO_PLAN,      /* admin adjust: plan credits for a user with no plan month running
                            (they would never expire): nothing changed */
    LEDGER_BUSY,         /* the store is contended: retry later (503) */
    LEDGER_UNAVAILABLE,  /* the database cannot write now (disk full): retry later (503) */
    LEDGER_ERROR,        /* the store failed (already logged) */
};

/* "ok", "invalid", ... for logs. */
const char *ledger_rc_name(enum ledger_rc rc);

/* "plan" / "paid". */
const char *ledger_bucket_name(enum ledger_bucket b);
/* Parses "plan" / "paid". Returns 0, or -1 for anything else. */
int ledger_bucket_parse(const char *s, enum ledger_bucket *out);
/* "signup_grant", ... or "unknown". */
const char *ledger_kind_name(enum ledger_kind k);

/* The store result a ledger result stands for (to return from a store_call's run()). */
enum store_rc ledger_to_store(enum ledger_rc rc);

/*
 * The checks every ledger operation passes before the store sees it (the backend stores,
 * it does not validate): amount 1..LEDGER_MAX_AMOUNT, a known kind and bucket, a reference
 * present and short enough to be a unique key, a bounded note. 1 when valid.
 */
int ledger_op_valid(const struct ledger_op *op);

/*
 * Inside a write transaction (a store_call's run()): credits `amount` to `bucket` of
 * user_id's wallet as a `kind` entry with reference (ref_type, ref_id). note may be NULL.
 * plan_expires_at: for BUCKET_PLAN the new expiry (ms), 0 keeps it. Refuses with
 * LEDGER_OVERFLOW a credit that would take the bucket past LEDGER_MAX_BALANCE (read and
 * written in the same transaction, so no concurrent credit can slip past). *after (may be
 * NULL) receives the wallet on LEDGER_OK.
 */
enum ledger_rc ledger_grant_tx(struct store *s, const char *user_id, enum ledger_bucket bucket,
                               int64_t amount, enum ledger_kind kind, const char *ref_type,
                               const char *ref_id, const char *note, int64_t plan_expires_at, int64_t now_ms,
                               struct wallet *after);

/*
 * Inside a write transaction: debits `amount` from user_id's wallet, plan credits first
 * (only those whose period has not ended at now_ms) then paid, one ledger row per bucket
 * touched, as a `kind` entry (LK_SPEND for task reservations). LEDGER_INSUFFICIENT when the
 * spendable credits are fewer than amount. *after (may be NULL) receives the wallet.
 */
enum ledger_rc ledger_spend_tx(struct store *s, const char *user_id, int64_t amount, enum ledger_kind kind,
                               const char *ref_type, const char *ref_id, const char *note, int64_t now_ms,
                               struct wallet *after);

/*
 * Inside a write transaction: debits `amount` from `bucket` only (a payment refund takes
 * back purchased credits from the paid bucket, never plan credits). LEDGER_INSUFFICIENT when
 * the bucket holds less. *after (may be NULL) receives the wallet.
 */
enum ledger_rc ledger_take_tx(struct store *s, const char *user_id, enum ledger_bucket bucket, int64_t amount,
                              enum ledger_kind kind, const char *ref_type, const char *ref_id, const char *note,
                              int64_t now_ms, struct wallet *after);

/* Credits that can be spent now: paid plus plan credits whose period has not ended. */
int64_t ledger_spendable_plan(const struct wallet *w, int64_t now_ms);

/* Everything an admin adjustment needs; strings are copied by ledger_admin_adjust. */
struct ledger_adjust {
    const char *actor_id; /* the admin's user id */
    const char *user_id;  /* whose wallet */
    enum ledger_bucket bucket;
    int64_t delta;          /* non-zero, |delta| <= LEDGER_MAX_AMOUNT */
    const char *reason;     /* 1..TG_NOTE_MAX bytes; stored as the entry note and audited */
    const char *ip;         /* for the audit row; may be NULL */
    const char *request_id; /* for the audit row; may be NULL */
};

/* What an admin adjustment did. */
struct ledger_adjust_result {
    enum ledger_rc rc;
    char ref_id[TG_ID_MAX]; /* the ledger entry's ref_id ("adj_...") */
    int64_t old_balance;    /* the bucket before the change */
    int64_t new_balance;    /* the bucket after the change */
    struct wallet wallet;   /* the wallet now */
};

struct idem;
/*
 * Renders the answer an idempotent request stores (status and JSON body) from the result:
 * the API's shape, computed inside the transaction so that the answer is stored with the
 * change it describes. Returns a heap string (caller frees) or NULL; *status is the HTTP
 * status.
 */
typedef char *(*ledger_adjust_render_fn)(const struct ledger_adjust *adj,
                                         const struct ledger_adjust_result *res, int *status);
typedef void (*ledger_adjust_fn)(void *arg, const struct ledger_adjust_result *res, const struct idem *idem);

/*
 * Applies an admin adjustment: the ledger entry, its "credits.adjust" audit row (with the
 * bucket's old and new balance) and, when idem is not NULL, the stored answer for its
 * Idempotency-Key, all in one transaction. A negative delta that would take the bucket below
 * zero is LEDGER_INSUFFICIENT and changes nothing. With idem: a retry of the same request
 * (same key and request hash, scoped to the admin) does nothing and cb sees idem->replay
 * with the first answer; the same key with another request is idem->mismatch - decided
 * inside the transaction, so two concurrent requests cannot both apply. cb runs once.
 */
void ledger_admin_adjust(struct store_exec *ex, const struct ledger_adjust *adj, const struct idem *idem,
                         ledger_adjust_render_fn render, int64_t now_ms, ledger_adjust_fn cb, void *arg);

#endif
