/*
 * ledger.h - the credit operations (DESIGN section 3), on top of store_ledger_apply() and
 * store_admin_adjust().
 *
 * This layer owns the rules the store does not: amounts are positive and bounded, no
 * balance can be pushed past LEDGER_MAX_BALANCE (so int64 arithmetic, here and in SQL,
 * can never overflow), references are present and short enough to be unique keys, and
 * admin adjustments are idempotent per Idempotency-Key. The store owns atomicity: every
 * function here is exactly one store transaction (plus, at most, reads before it).
 */
#ifndef TG_DOMAIN_LEDGER_H
#define TG_DOMAIN_LEDGER_H

#include <stdint.h>

#include "domain/types.h"

struct store;

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
    LEDGER_BUSY,         /* the store is contended: retry later (503) */
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

/*
 * Credits `amount` (1..LEDGER_MAX_AMOUNT) to `bucket` of user_id's wallet as a `kind`
 * entry with reference (ref_type, ref_id) (both non-empty; ref_id <= TG_REF_MAX bytes).
 * note may be NULL (<= TG_NOTE_MAX bytes). plan_expires_at: for BUCKET_PLAN the new
 * expiry (ms), 0 keeps it. *after (may be NULL) receives the wallet on LEDGER_OK.
 */
enum ledger_rc ledger_grant(struct store *s, const char *user_id, enum ledger_bucket bucket, int64_t amount,
                            enum ledger_kind kind, const char *ref_type, const char *ref_id, const char *note,
                            int64_t plan_expires_at, int64_t now_ms, struct wallet *after);

/*
 * Debits `amount` (1..LEDGER_MAX_AMOUNT) from user_id's wallet, plan credits first then
 * paid (one ledger row per bucket touched), as a `kind` entry (LK_SPEND for task
 * reservations). Same reference rules as ledger_grant. LEDGER_INSUFFICIENT when plan +
 * paid < amount. *after (may be NULL) receives the wallet on LEDGER_OK.
 */
enum ledger_rc ledger_spend(struct store *s, const char *user_id, int64_t amount, enum ledger_kind kind,
                            const char *ref_type, const char *ref_id, const char *note, int64_t now_ms,
                            struct wallet *after);

/* Everything an admin adjustment needs; strings borrowed for the call. */
struct ledger_adjust {
    const char *actor_id; /* the admin's user id */
    const char *user_id;  /* whose wallet */
    enum ledger_bucket bucket;
    int64_t delta;               /* non-zero, |delta| <= LEDGER_MAX_AMOUNT */
    const char *reason;          /* 1..TG_NOTE_MAX bytes; stored as the entry note and audited */
    const char *idempotency_key; /* NULL, or 1..TG_REF_MAX bytes: the ledger ref */
    const char *ip;              /* for the audit row; may be NULL */
    const char *request_id;      /* for the audit row; may be NULL */
};

/* What an admin adjustment did (or, when replayed, had done). */
struct ledger_adjust_result {
    int64_t old_balance;  /* the bucket before the change */
    int64_t new_balance;  /* the bucket after the change */
    int replayed;         /* 1: the same Idempotency-Key and change were applied before */
    struct wallet wallet; /* the wallet now */
};

/*
 * Applies an admin adjustment and its "credits.adjust" audit row in one transaction
 * (store_admin_adjust). A negative delta that would take the bucket below zero is
 * LEDGER_INSUFFICIENT and changes nothing. With an Idempotency-Key, a retry of the same
 * change (same user, bucket and delta) is LEDGER_OK with res->replayed = 1 and nothing
 * applied twice; the key used for a different change is LEDGER_CONFLICT.
 * *res is written on LEDGER_OK (zeroed otherwise).
 */
enum ledger_rc ledger_admin_adjust(struct store *s, const struct ledger_adjust *adj, int64_t now_ms,
                                   struct ledger_adjust_result *res);

#endif
