/*
 * orders.c - the fulfilment rule (orders.h).
 */
#include "domain/orders.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/mem.h"
#include "domain/idempotency.h"
#include "domain/ledger.h"
#include "domain/refunds.h"
#include "domain/subscriptions.h"
#include "store/call.h"

const char *orders_outcome_name(enum orders_outcome o)
{
    switch (o) {
    case ORDERS_FULFILLED: return "fulfilled";
    case ORDERS_DUPLICATE: return "duplicate";
    case ORDERS_ALREADY_PAID: return "already_paid";
    case ORDERS_UNKNOWN_ORDER: return "unknown_order";
    case ORDERS_PROVIDER_MISMATCH: return "provider_mismatch";
    case ORDERS_AMOUNT_MISMATCH: return "amount_mismatch";
    case ORDERS_UNSUPPORTED: return "unsupported";
    case ORDERS_MARKED_FAILED: return "marked_failed";
    case ORDERS_NOT_PENDING: return "not_pending";
    case ORDERS_REFUNDED: return "refunded";
    case ORDERS_REFUND_KNOWN: return "refund_known";
    case ORDERS_REFUND_MISMATCH: return "refund_mismatch";
    case ORDERS_SUB_RENEWED: return "subscription_renewed";
    case ORDERS_SUB_UPDATED: return "subscription_updated";
    case ORDERS_SUB_KNOWN: return "subscription_known";
    case ORDERS_UNKNOWN_SUBSCRIPTION: return "unknown_subscription";
    }
    return "unknown";
}

/* Statuses from which a payment still fulfils the order: a late payment for an order we gave
 * up on is still money taken. */
static const char *const orders_payable[] = {"pending", "expired", "failed", NULL};

static enum store_rc orders_inbox_tx(struct store *s, const struct payment_notice *n, const char *order_id,
                                     enum orders_outcome outcome, int64_t now_ms)
{
    struct payment_event ev;
    memset(&ev, 0, sizeof ev);
    snprintf(ev.provider, sizeof ev.provider, "%s", n->provider);
    snprintf(ev.event_id, sizeof ev.event_id, "%s", n->event_id);
    snprintf(ev.kind, sizeof ev.kind, "%s", n->kind ? n->kind : "payment");
    snprintf(ev.order_id, sizeof ev.order_id, "%s", order_id);
    ev.amount = n->amount;
    snprintf(ev.currency, sizeof ev.currency, "%s", n->currency ? n->currency : "");
    snprintf(ev.outcome, sizeof ev.outcome, "%s", orders_outcome_name(outcome));
    ev.received_at = now_ms;
    return store_payment_event_insert(s, &ev);
}

static const char *const orders_pending_only[] = {"pending", NULL};

enum store_rc orders_notice_tx(struct store *s, const struct payment_notice *n, int64_t now_ms,
                               enum orders_outcome *outcome, struct order *order)
{
    struct order o;
    struct payment_event ev;
    enum store_rc rc;

    *outcome = ORDERS_UNKNOWN_ORDER;
    if (order != NULL)
        memset(order, 0, sizeof *order);
    if (n->event_id == NULL || n->event_id[0] == '\0')
        return STORE_CONFLICT;

    /* The same notification again: answered before anything is looked at. */
    rc = store_payment_event_get(s, n->provider, n->event_id, &ev);
    if (rc == STORE_OK) {
        *outcome = ORDERS_DUPLICATE;
        if (ev.order_id[0] && order != NULL)
            store_order_get(s, ev.order_id, order);
        return STORE_OK;
    }
    if (rc != STORE_NOTFOUND)
        return rc;

    /* A subscription's own notice names the subscription, not an order. */
    if (n->notice == NOTICE_SUB_PERIOD || n->notice == NOTICE_SUB_PAST_DUE || n->notice == NOTICE_SUB_STATE ||
        n->notice == NOTICE_SUB_ENDED) {
        char oid[TG_ID_MAX] = "";
        rc = subs_notice_tx(s, n, now_ms, outcome, oid);
        if (rc != STORE_OK)
            return rc;
        rc = orders_inbox_tx(s, n, oid, *outcome, now_ms);
        if (rc == STORE_OK && order != NULL && oid[0])
            rc = store_order_get(s, oid, order);
        return rc;
    }

    if (n->order_id != NULL && n->order_id[0])
        rc = store_order_get(s, n->order_id, &o);
    else if (n->provider_ref != NULL && n->provider_ref[0])
        rc = store_order_get_by_ref(s, n->provider, n->provider_ref, &o);
    else
        rc = STORE_NOTFOUND;
    if (rc == STORE_NOTFOUND)
        return STORE_CONFLICT;
    if (rc != STORE_OK)
        return rc;
    if (order != NULL)
        *order = o;

    /* A notification concerns only its own provider's order, in the order's currency. */
    if (strcmp(o.provider, n->provider) != 0) {
        *outcome = ORDERS_PROVIDER_MISMATCH;
        return STORE_CONFLICT;
    }
    if (n->currency == NULL || strcmp(n->currency, o.currency) != 0) {
        *outcome = ORDERS_AMOUNT_MISMATCH;
        return STORE_CONFLICT;
    }

    switch (n->notice) {
    case NOTICE_PAID:
        /* ... and pays exactly what was asked. */
        if (n->amount != o.amount) {
            *outcome = ORDERS_AMOUNT_MISMATCH;
            return STORE_CONFLICT;
        }
        rc = store_order_transition(s, o.id, orders_payable, "paid", now_ms);
        if (rc == STORE_OK && strcmp(o.kind, "plan") == 0) {
            /* A plan: the subscription starts (or a prepaid one is extended) and its
             * period's credits go to the plan bucket. */
            rc = subs_order_paid_tx(s, &o, n, now_ms);
            if (rc != STORE_OK)
                return rc;
            *outcome = ORDERS_FULFILLED;
        } else if (rc == STORE_OK) {
            enum ledger_rc lrc = ledger_grant_tx(s, o.user_id, BUCKET_PAID, o.credits, LK_PURCHASE, "order", o.id,
                                                 o.product, 0, now_ms, NULL);
            /* The order just moved to paid, so its purchase entry cannot exist yet; if it
             * does, the ledger's unique reference still keeps the credits single. */
            if (lrc != LEDGER_OK && lrc != LEDGER_DUPLICATE)
                return ledger_to_store(lrc);
            *outcome = ORDERS_FULFILLED;
        } else if (rc == STORE_CONFLICT) {
            *outcome = ORDERS_ALREADY_PAID;
            /* Stripe reports a subscription's first payment twice (the session, the first
             * invoice): the second may bring the provider's own period. */
            if (strcmp(o.kind, "plan") == 0) {
                rc = subs_order_repaid_tx(s, &o, n, now_ms);
                if (rc != STORE_OK)
                    return rc;
            }
        } else {
            return rc;
        }
        break;
    case NOTICE_FAILED:
        /* A failure never undoes a payment: it moves only a pending order. */
        rc = store_order_transition(s, o.id, orders_pending_only, "failed", now_ms);
        if (rc == STORE_OK)
            *outcome = ORDERS_MARKED_FAILED;
        else if (rc == STORE_CONFLICT)
            *outcome = ORDERS_NOT_PENDING;
        else
            return rc;
        break;
    case NOTICE_REFUND:
        rc = refunds_notice_tx(s, n, &o, now_ms, outcome);
        if (rc != STORE_OK)
            return rc;
        break;
    case NOTICE_SUB_PERIOD:
    case NOTICE_SUB_PAST_DUE:
    case NOTICE_SUB_STATE:
    case NOTICE_SUB_ENDED: /* handled above */
        *outcome = ORDERS_UNSUPPORTED;
        return STORE_CONFLICT;
    }

    rc = orders_inbox_tx(s, n, o.id, *outcome, now_ms);
    if (rc != STORE_OK)
        return rc;
    if (order != NULL)
        return store_order_get(s, o.id, order);
    return STORE_OK;
}

enum store_rc orders_fulfil_tx(struct store *s, const struct payment_notice *n, int64_t now_ms,
                               enum orders_outcome *outcome, struct order *order)
{
    struct payment_notice paid = *n;
    paid.notice = NOTICE_PAID;
    return orders_notice_tx(s, &paid, now_ms, outcome, order);
}

struct orders_fulfil_call {
    struct store_call call;
    char provider[TG_PROVIDER_MAX], event_id[TG_PROVIDER_REF_MAX], kind[48], order_id[TG_ID_MAX];
    char provider_ref[TG_PROVIDER_REF_MAX], currency[4];
    char refund_id[TG_ID_MAX], provider_refund_id[TG_PROVIDER_REF_MAX];
    char subscription_ref[TG_PROVIDER_REF_MAX], invoice_ref[TG_PROVIDER_REF_MAX], product[TG_PRODUCT_MAX];
    enum payment_notice_kind notice;
    int64_t amount, now_ms, period_start, period_end;
    int cancel_at_period_end;
    struct orders_fulfil_result res;
    orders_fulfil_fn cb;
    void *arg;
};

static enum store_rc orders_fulfil_run(struct store *s, struct store_call *sc)
{
    struct orders_fulfil_call *c = (struct orders_fulfil_call *)sc;
    struct payment_notice n = {
        .provider = c->provider,
        .event_id = c->event_id,
        .kind = c->kind,
        .order_id = c->order_id,
        .provider_ref = c->provider_ref,
        .amount = c->amount,
        .currency = c->currency,
        .notice = c->notice,
        .refund_id = c->refund_id,
        .provider_refund_id = c->provider_refund_id,
        .subscription_ref = c->subscription_ref,
        .invoice_ref = c->invoice_ref,
        .period_start = c->period_start,
        .period_end = c->period_end,
        .product = c->product,
        .cancel_at_period_end = c->cancel_at_period_end,
    };
    return orders_notice_tx(s, &n, c->now_ms, &c->res.outcome, &c->res.order);
}

static void orders_fulfil_done(struct store_call *sc)
{
    struct orders_fulfil_call *c = (struct orders_fulfil_call *)sc;
    c->res.rc = sc->rc;
    if (sc->rc != STORE_OK && sc->rc != STORE_CONFLICT)
        log_event(LOG_ERROR, "order_fulfil_failed", "provider", c->provider, "rc", store_rc_name(sc->rc), NULL);
    c->cb(c->arg, &c->res);
    free(c);
}

void orders_fulfil(struct store_exec *ex, const struct payment_notice *n, int64_t now_ms, orders_fulfil_fn cb,
                   void *arg)
{
    struct orders_fulfil_call *c = xcalloc(1, sizeof *c);
    snprintf(c->provider, sizeof c->provider, "%s", n->provider);
    snprintf(c->event_id, sizeof c->event_id, "%s", n->event_id);
    snprintf(c->kind, sizeof c->kind, "%s", n->kind ? n->kind : "payment");
    snprintf(c->order_id, sizeof c->order_id, "%s", n->order_id ? n->order_id : "");
    snprintf(c->provider_ref, sizeof c->provider_ref, "%s", n->provider_ref ? n->provider_ref : "");
    snprintf(c->currency, sizeof c->currency, "%s", n->currency ? n->currency : "");
    snprintf(c->refund_id, sizeof c->refund_id, "%s", n->refund_id ? n->refund_id : "");
    snprintf(c->provider_refund_id, sizeof c->provider_refund_id, "%s",
             n->provider_refund_id ? n->provider_refund_id : "");
    snprintf(c->subscription_ref, sizeof c->subscription_ref, "%s", n->subscription_ref ? n->subscription_ref : "");
    snprintf(c->invoice_ref, sizeof c->invoice_ref, "%s", n->invoice_ref ? n->invoice_ref : "");
    snprintf(c->product, sizeof c->product, "%s", n->product ? n->product : "");
    c->period_start = n->period_start;
    c->period_end = n->period_end;
    c->cancel_at_period_end = n->cancel_at_period_end;
    c->notice = n->notice;
    c->amount = n->amount;
    c->now_ms = now_ms;
    c->cb = cb;
    c->arg = arg;
    store_exec_call(ex, &c->call, STORE_CALL_WRITE, orders_fulfil_run, orders_fulfil_done);
}

/* ---- creating orders ---- */

enum store_rc orders_create_tx(struct store *s, struct idem *idem, const struct order *o, int64_t now_ms,
                               enum orders_create_outcome *outcome, struct order *existing)
{
    enum store_rc rc;
    *outcome = ORDERS_CREATED;
    if (existing)
        memset(existing, 0, sizeof *existing);
    if (idem != NULL) {
        rc = idem_check_tx(s, idem);
        if (rc != STORE_OK)
            return rc;
        if (idem->mismatch) {
            *outcome = ORDERS_KEY_REUSED;
            return STORE_OK;
        }
        if (idem->replay && idem->status != 202) {
            *outcome = ORDERS_REPLAY;
            return STORE_OK;
        }
        if (idem->replay) {
            /* The marker: {"order_id":"ord_..."} of a request still creating its checkout. */
            char oid[TG_ID_MAX] = "";
            const char *p = idem->body ? strstr(idem->body, "\"order_id\":\"") : NULL;
            struct order prev;
            if (p != NULL)
                sscanf(p + 12, "%39[A-Za-z0-9_]", oid);
            rc = oid[0] ? store_order_get(s, oid, &prev) : STORE_NOTFOUND;
            if (rc != STORE_OK && rc != STORE_NOTFOUND)
                return rc;
            if (rc == STORE_OK && strcmp(prev.status, "pending") == 0 && prev.expires_at > now_ms) {
                if (existing)
                    *existing = prev;
                *outcome = ORDERS_IN_PROGRESS;
                return STORE_OK;
            }
            /* Its order never got a checkout recorded: forget it and start over. */
            rc = idem_forget_tx(s, idem);
            if (rc != STORE_OK)
                return rc;
            idem_clear(idem);
        }
    }
    rc = store_order_insert(s, o);
    if (rc != STORE_OK)
        return rc;
    if (idem != NULL) {
        char marker[64];
        snprintf(marker, sizeof marker, "{\"order_id\":\"%s\"}", o->id);
        rc = idem_save_tx(s, idem, 202, marker, now_ms);
    }
    return rc;
}

static enum store_rc orders_attempts_tx(struct store *s, const char *order_id, const struct orders_attempt *at,
                                        size_t n, int64_t now_ms)
{
    for (size_t i = 0; i < n; i++) {
        enum store_rc rc = store_order_attempt_add(s, order_id, at[i].provider, at[i].ok ? "ok" : "failed",
                                                   at[i].detail[0] ? at[i].detail : NULL, now_ms);
        if (rc != STORE_OK)
            return rc;
    }
    return STORE_OK;
}

enum store_rc orders_checkout_tx(struct store *s, const char *order_id, const char *provider, const char *ref,
                                 const char *checkout_json, const struct orders_attempt *at, size_t n,
                                 const struct idem *idem, int status, const char *body, int64_t now_ms)
{
    enum store_rc rc = orders_attempts_tx(s, order_id, at, n, now_ms);
    if (rc != STORE_OK)
        return rc;
    rc = store_order_set_checkout(s, order_id, provider, ref && ref[0] ? ref : NULL, checkout_json, now_ms);
    if (rc != STORE_OK)
        return rc;
    if (idem != NULL)
        rc = idem_replace_tx(s, idem, status, body, now_ms);
    return rc;
}

enum store_rc orders_checkout_failed_tx(struct store *s, const char *order_id, const struct orders_attempt *at,
                                        size_t n, const struct idem *idem, int64_t now_ms)
{
    enum store_rc rc = orders_attempts_tx(s, order_id, at, n, now_ms);
    if (rc != STORE_OK)
        return rc;
    rc = store_order_transition(s, order_id, orders_pending_only, "failed", now_ms);
    if (rc != STORE_OK && rc != STORE_CONFLICT)
        return rc;
    if (idem != NULL)
        rc = idem_forget_tx(s, idem);
    return rc == STORE_CONFLICT ? STORE_OK : rc;
}

/* ---- the pending-order job ---- */

#define ORDERS_QUERY_GAP_MAX_MS (60LL * 60 * 1000)

int64_t orders_next_query_at(int64_t created_at, int64_t attempts, int64_t after_ms, int64_t max_attempts)
{
    if (attempts >= max_attempts)
        return 0;
    /* after, then after*2, after*4 ... apart, each gap at most an hour. */
    int64_t t = created_at, gap = after_ms > 0 ? after_ms : 1000;
    for (int64_t i = 0; i <= attempts; i++) {
        t += gap;
        gap = gap >= ORDERS_QUERY_GAP_MAX_MS / 2 ? ORDERS_QUERY_GAP_MAX_MS : gap * 2;
    }
    return t;
}

static const char *const orders_expirable[] = {"pending", NULL};

enum store_rc orders_after_query_tx(struct store *s, const struct order *o, int query_ok, int64_t after_ms,
                                    int64_t max_attempts, int64_t now_ms)
{
    enum store_rc rc;
    if (o->expires_at <= now_ms) {
        rc = store_order_transition(s, o->id, orders_expirable, "expired", now_ms);
        return rc == STORE_CONFLICT ? STORE_OK : rc;
    }
    int64_t attempts = o->query_attempts + (query_ok ? 1 : 0);
    int64_t next = query_ok ? orders_next_query_at(o->created_at, attempts, after_ms, max_attempts)
                            : now_ms + (after_ms > 0 ? after_ms : 1000);
    /* Past the last query the order waits for its expiry, which the job also handles. */
    if (next == 0 || next > o->expires_at)
        next = o->expires_at;
    rc = store_order_schedule(s, o->id, attempts, next, now_ms);
    return rc == STORE_CONFLICT ? STORE_OK : rc;
}
