/*
 * refunds.c - the refund rules (refunds.h).
 */
#include "domain/refunds.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/ids.h"
#include "core/mem.h"
#include "domain/audit.h"
#include "domain/ledger.h"

#define REFUND_REASON_MAX 500

const char *refunds_rc_name(enum refunds_rc rc)
{
    switch (rc) {
    case REFUNDS_OK: return "ok";
    case REFUNDS_NOT_FOUND: return "not_found";
    case REFUNDS_NOT_PAID: return "not_paid";
    case REFUNDS_EXCEEDS: return "exceeds_payment";
    case REFUNDS_SPENT: return "credits_spent";
    case REFUNDS_INVALID: return "invalid";
    }
    return "unknown";
}

int64_t refunds_credits_for(int64_t credits, int64_t paid, int64_t refunded_before, int64_t credits_before,
                            int64_t amount)
{
    if (paid <= 0 || amount <= 0 || credits <= 0)
        return 0;
    if (refunded_before + amount >= paid) /* the last refund takes back what is left */
        return credits - credits_before > 0 ? credits - credits_before : 0;
    /* credits <= 1e9 and amount < paid: the product fits 128 bits with room to spare. */
    __int128 v = (__int128)credits * amount / paid;
    int64_t c = (int64_t)v;
    if (c > credits - credits_before)
        c = credits - credits_before;
    return c < 0 ? 0 : c;
}

/* Sums of the order's pending and succeeded refunds (failed ones moved nothing). */
static enum store_rc refunds_sums_tx(struct store *s, const char *order_id, int64_t *amount, int64_t *credits)
{
    struct refund *list = NULL;
    size_t n = 0;
    enum store_rc rc = store_refund_list(s, order_id, &list, &n);
    *amount = *credits = 0;
    if (rc != STORE_OK)
        return rc;
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i].status, "failed") != 0) {
            *amount += list[i].amount;
            *credits += list[i].credits + list[i].shortfall;
        }
    free(list);
    return STORE_OK;
}

/* The bucket a refund of o takes credits back from: a pack's went to the paid bucket, a
 * plan's to the plan bucket (what is left of the plan's credits; the subscription itself is
 * ended by an admin's cancel, not by a refund). */
static enum ledger_bucket refunds_bucket(const char *order_kind)
{
    return strcmp(order_kind, "plan") == 0 ? BUCKET_PLAN : BUCKET_PAID;
}

/*
 * Takes back up to `want` credits for refund rid from `bucket`. strict: all or nothing
 * (REFUNDS_SPENT); else as many as are left, the rest in *shortfall.
 */
static enum store_rc refunds_take_tx(struct store *s, const char *user_id, enum ledger_bucket bucket,
                                     const char *ref_type, const char *rid, int64_t want, int strict, int64_t now_ms,
                                     int64_t *taken, int64_t *shortfall, int *spent)
{
    *taken = *shortfall = 0;
    *spent = 0;
    if (want <= 0)
        return STORE_OK;
    enum ledger_rc lrc =
        ledger_take_tx(s, user_id, bucket, want, LK_PAYMENT_REFUND, ref_type, rid, "payment refund", now_ms, NULL);
    if (lrc == LEDGER_OK) {
        *taken = want;
        return STORE_OK;
    }
    if (lrc != LEDGER_INSUFFICIENT)
        return ledger_to_store(lrc);
    if (strict) {
        *spent = 1;
        return STORE_CONFLICT;
    }
    struct wallet w;
    enum store_rc rc = store_wallet_get(s, user_id, &w);
    if (rc != STORE_OK)
        return rc;
    int64_t bal = bucket == BUCKET_PLAN ? w.plan_credits : w.paid_credits;
    int64_t have = bal < want ? bal : want;
    if (have > 0) {
        lrc = ledger_take_tx(s, user_id, bucket, have, LK_PAYMENT_REFUND, ref_type, rid, "payment refund",
                             now_ms, NULL);
        if (lrc != LEDGER_OK)
            return ledger_to_store(lrc);
    }
    *taken = have;
    *shortfall = want - have;
    return STORE_OK;
}

enum store_rc refunds_begin_tx(struct store *s, const struct refund_request *rq, int64_t now_ms,
                               enum refunds_rc *out, struct refund *rf, struct order *o_out)
{
    struct order o;
    struct refund r;
    int64_t before_amount, before_credits, taken, shortfall;
    int spent;
    enum store_rc rc;

    *out = REFUNDS_INVALID;
    if (rq->amount <= 0 || rq->amount > LEDGER_MAX_BALANCE || (rq->reason && strlen(rq->reason) > REFUND_REASON_MAX))
        return STORE_CONFLICT;
    rc = store_order_get(s, rq->order_id, &o);
    if (rc == STORE_NOTFOUND) {
        *out = REFUNDS_NOT_FOUND;
        return STORE_CONFLICT;
    }
    if (rc != STORE_OK)
        return rc;
    if (o_out)
        *o_out = o;
    if (strcmp(o.kind, "pack") != 0 ||
        (strcmp(o.status, "paid") != 0 && strcmp(o.status, "partially_refunded") != 0 &&
         strcmp(o.status, "refunded") != 0)) {
        *out = REFUNDS_NOT_PAID;
        return STORE_CONFLICT;
    }
    if (rq->amount > o.amount - o.refunded_amount) {
        *out = REFUNDS_EXCEEDS;
        return STORE_CONFLICT;
    }
    rc = refunds_sums_tx(s, o.id, &before_amount, &before_credits);
    if (rc != STORE_OK)
        return rc;

    memset(&r, 0, sizeof r);
    id_new(r.id, "rfd");
    int64_t want = refunds_credits_for(o.credits, o.amount, before_amount, before_credits, rq->amount);
    rc = refunds_take_tx(s, o.user_id, refunds_bucket(o.kind), "refund", r.id, want, !rq->allow_negative, now_ms, &taken, &shortfall, &spent);
    if (spent) {
        *out = REFUNDS_SPENT;
        return STORE_CONFLICT;
    }
    if (rc != STORE_OK)
        return rc;
    rc = store_order_refund_add(s, o.id, rq->amount, now_ms);
    if (rc == STORE_CONFLICT) { /* cannot happen after the check above; refuse anyway */
        *out = REFUNDS_EXCEEDS;
        return STORE_CONFLICT;
    }
    if (rc != STORE_OK)
        return rc;

    snprintf(r.order_id, sizeof r.order_id, "%s", o.id);
    snprintf(r.user_id, sizeof r.user_id, "%s", o.user_id);
    r.amount = rq->amount;
    snprintf(r.currency, sizeof r.currency, "%s", o.currency);
    r.credits = taken;
    r.shortfall = shortfall;
    snprintf(r.status, sizeof r.status, "pending");
    snprintf(r.reason, sizeof r.reason, "%s", rq->reason ? rq->reason : "");
    snprintf(r.actor_id, sizeof r.actor_id, "%s", rq->actor_id ? rq->actor_id : "");
    r.created_at = r.updated_at = now_ms;
    rc = store_refund_insert(s, &r);
    if (rc != STORE_OK)
        return rc;

    json_t *d = json_pack("{s:s, s:s, s:I, s:s, s:I, s:I, s:b, s:s}", "refund_id", r.id, "user_id", o.user_id, "amount",
                          (json_int_t)r.amount, "currency", r.currency, "credits", (json_int_t)taken, "shortfall",
                          (json_int_t)shortfall, "allow_negative", rq->allow_negative ? 1 : 0, "reason", r.reason);
    char *details = d ? json_dumps(d, JSON_COMPACT) : NULL;
    json_decref(d);
    struct audit_entry e;
    audit_entry_fill(&e, rq->actor_id, "order.refund", "order", o.id, rq->ip, rq->request_id, details, now_ms);
    rc = store_audit_insert(s, &e); /* details is borrowed until here */
    free(details);
    if (rc != STORE_OK)
        return rc;

    *out = REFUNDS_OK;
    if (rf)
        *rf = r;
    if (o_out)
        return store_order_get(s, o.id, o_out);
    return STORE_OK;
}

/* Gives a reserved refund back: amount released, credits returned, refund failed. */
static enum store_rc refunds_undo_tx(struct store *s, const struct refund *r, int64_t now_ms)
{
    enum store_rc rc = store_refund_update(s, r->id, "pending", "failed", NULL, -1, 0, now_ms);
    if (rc != STORE_OK)
        return rc;
    rc = store_order_refund_add(s, r->order_id, -r->amount, now_ms);
    if (rc != STORE_OK)
        return rc;
    if (r->credits > 0) {
        struct order o;
        rc = store_order_get(s, r->order_id, &o);
        if (rc != STORE_OK)
            return rc;
        enum ledger_rc lrc = ledger_grant_tx(s, r->user_id, refunds_bucket(o.kind), r->credits, LK_PAYMENT_REFUND,
                                             "refund_reversal", r->id, "refund declined", 0, now_ms, NULL);
        if (lrc != LEDGER_OK)
            return ledger_to_store(lrc);
    }
    return STORE_OK;
}

enum store_rc refunds_finish_tx(struct store *s, const char *refund_id, int succeeded, int pending,
                                const char *provider_refund_id, int64_t now_ms, struct refund *rf, struct order *o)
{
    struct refund r;
    enum store_rc rc = store_refund_get(s, refund_id, &r);
    if (rc != STORE_OK)
        return rc;
    if (strcmp(r.status, "pending") == 0) {
        if (!succeeded)
            rc = refunds_undo_tx(s, &r, now_ms);
        else
            rc = store_refund_update(s, r.id, "pending", pending ? "pending" : "succeeded", provider_refund_id, -1,
                                     0, now_ms);
        if (rc != STORE_OK)
            return rc;
    }
    /* Anything else: a notification got there first; its word stands. */
    if (rf && (rc = store_refund_get(s, refund_id, rf)) != STORE_OK)
        return rc;
    if (o)
        return store_order_get(s, r.order_id, o);
    return STORE_OK;
}

enum store_rc refunds_notice_tx(struct store *s, const struct payment_notice *n, const struct order *o,
                                int64_t now_ms, enum orders_outcome *outcome)
{
    struct refund r;
    enum store_rc rc = STORE_NOTFOUND;

    *outcome = ORDERS_REFUND_MISMATCH;
    if (n->refund_id != NULL && n->refund_id[0]) {
        rc = store_refund_get(s, n->refund_id, &r);
        if (rc == STORE_OK && strcmp(r.order_id, o->id) != 0)
            return STORE_CONFLICT; /* our refund id, another order: forged or confused */
    }
    if (rc == STORE_NOTFOUND && n->provider_refund_id != NULL && n->provider_refund_id[0])
        rc = store_refund_get_by_provider(s, o->id, n->provider_refund_id, &r);
    if (rc != STORE_OK && rc != STORE_NOTFOUND)
        return rc;

    if (rc == STORE_OK) {
        if (n->amount != r.amount)
            return STORE_CONFLICT;
        if (strcmp(r.status, "succeeded") == 0) {
            *outcome = ORDERS_REFUND_KNOWN;
            return STORE_OK;
        }
        if (strcmp(r.status, "pending") == 0) {
            *outcome = ORDERS_REFUNDED;
            return store_refund_update(s, r.id, "pending", "succeeded", n->provider_refund_id, -1, 0, now_ms);
        }
        /* A refund we gave up on (the provider declined or did not answer) moved money
         * after all: take it up again, credits as far as they are left. */
        int64_t taken, shortfall;
        int spent;
        rc = store_order_refund_add(s, o->id, r.amount, now_ms);
        if (rc == STORE_CONFLICT) /* the amount was refunded otherwise since */
            return STORE_CONFLICT;
        if (rc != STORE_OK)
            return rc;
        rc = refunds_take_tx(s, o->user_id, refunds_bucket(o->kind), "refund_revived", r.id, r.credits + r.shortfall, 0, now_ms, &taken,
                             &shortfall, &spent);
        if (rc != STORE_OK)
            return rc;
        rc = store_refund_update(s, r.id, "failed", "succeeded", n->provider_refund_id, taken, shortfall, now_ms);
        *outcome = ORDERS_REFUNDED;
        return rc;
    }

    /* A provider that carries no refund id of ours (Creem) may notify before the answer to
     * our refund call is recorded: a pending refund of ours for that amount, with no
     * provider id yet, is that refund - completing it, not recording a second one. */
    if (n->refund_id == NULL || n->refund_id[0] == '\0') {
        struct refund *list = NULL;
        size_t nl = 0;
        rc = store_refund_list(s, o->id, &list, &nl);
        if (rc != STORE_OK)
            return rc;
        for (size_t i = 0; i < nl; i++)
            if (strcmp(list[i].status, "pending") == 0 && list[i].provider_refund_id[0] == '\0' &&
                list[i].amount == n->amount) {
                rc = store_refund_update(s, list[i].id, "pending", "succeeded", n->provider_refund_id, -1, 0, now_ms);
                free(list);
                if (rc == STORE_OK)
                    *outcome = ORDERS_REFUNDED;
                return rc;
            }
        free(list);
    }

    /* A refund made at the provider (its dashboard): record it. */
    int64_t before_amount, before_credits, taken, shortfall;
    int spent;
    if (strcmp(o->kind, "pack") != 0 || n->amount <= 0 || n->amount > o->amount - o->refunded_amount ||
        (strcmp(o->status, "paid") != 0 && strcmp(o->status, "partially_refunded") != 0))
        return STORE_CONFLICT;
    rc = refunds_sums_tx(s, o->id, &before_amount, &before_credits);
    if (rc != STORE_OK)
        return rc;
    memset(&r, 0, sizeof r);
    id_new(r.id, "rfd");
    rc = refunds_take_tx(s, o->user_id, refunds_bucket(o->kind), "refund", r.id,
                         refunds_credits_for(o->credits, o->amount, before_amount, before_credits, n->amount), 0,
                         now_ms, &taken, &shortfall, &spent);
    if (rc != STORE_OK)
        return rc;
    rc = store_order_refund_add(s, o->id, n->amount, now_ms);
    if (rc != STORE_OK)
        return rc;
    snprintf(r.order_id, sizeof r.order_id, "%s", o->id);
    snprintf(r.user_id, sizeof r.user_id, "%s", o->user_id);
    r.amount = n->amount;
    snprintf(r.currency, sizeof r.currency, "%s", o->currency);
    r.credits = taken;
    r.shortfall = shortfall;
    snprintf(r.status, sizeof r.status, "succeeded");
    snprintf(r.reason, sizeof r.reason, "refunded at the provider");
    snprintf(r.provider_refund_id, sizeof r.provider_refund_id, "%s",
             n->provider_refund_id ? n->provider_refund_id : "");
    r.created_at = r.updated_at = now_ms;
    rc = store_refund_insert(s, &r);
    if (rc == STORE_OK)
        *outcome = ORDERS_REFUNDED;
    return rc;
}
