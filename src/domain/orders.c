/*
 * orders.c - the fulfilment rule (orders.h).
 */
#include "domain/orders.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/mem.h"
#include "domain/ledger.h"
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
    }
    return "unknown";
}

/* Statuses from which a payment still fulfils the order: a late payment for an order we gave
 * up on is still money taken. */
static const char *const orders_payable[] = {"pending", "expired", "failed", NULL};

enum store_rc orders_fulfil_tx(struct store *s, const struct payment_notice *n, int64_t now_ms,
                               enum orders_outcome *outcome, struct order *order)
{
    struct order o;
    struct payment_event ev;
    enum store_rc rc;

    *outcome = ORDERS_UNKNOWN_ORDER;
    if (order != NULL)
        memset(order, 0, sizeof *order);

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

    /* A notification fulfils only its own provider's order, for exactly what was asked. */
    if (strcmp(o.provider, n->provider) != 0) {
        *outcome = ORDERS_PROVIDER_MISMATCH;
        return STORE_CONFLICT;
    }
    if (n->amount != o.amount || n->currency == NULL || strcmp(n->currency, o.currency) != 0) {
        *outcome = ORDERS_AMOUNT_MISMATCH;
        return STORE_CONFLICT;
    }
    if (strcmp(o.kind, "pack") != 0) {
        *outcome = ORDERS_UNSUPPORTED;
        return STORE_CONFLICT;
    }

    rc = store_order_transition(s, o.id, orders_payable, "paid", now_ms);
    if (rc == STORE_OK) {
        enum ledger_rc lrc = ledger_grant_tx(s, o.user_id, BUCKET_PAID, o.credits, LK_PURCHASE, "order", o.id,
                                             o.product, 0, now_ms, NULL);
        /* The order just moved to paid, so its purchase entry cannot exist yet; if it does,
         * the ledger's unique reference still keeps the credits single. */
        if (lrc != LEDGER_OK && lrc != LEDGER_DUPLICATE)
            return ledger_to_store(lrc);
        *outcome = ORDERS_FULFILLED;
    } else if (rc == STORE_CONFLICT) {
        *outcome = ORDERS_ALREADY_PAID;
    } else {
        return rc;
    }

    memset(&ev, 0, sizeof ev);
    snprintf(ev.provider, sizeof ev.provider, "%s", n->provider);
    snprintf(ev.event_id, sizeof ev.event_id, "%s", n->event_id);
    snprintf(ev.kind, sizeof ev.kind, "%s", n->kind ? n->kind : "payment");
    snprintf(ev.order_id, sizeof ev.order_id, "%s", o.id);
    ev.amount = n->amount;
    snprintf(ev.currency, sizeof ev.currency, "%s", n->currency);
    snprintf(ev.outcome, sizeof ev.outcome, "%s", orders_outcome_name(*outcome));
    ev.received_at = now_ms;
    rc = store_payment_event_insert(s, &ev);
    if (rc != STORE_OK)
        return rc;
    if (order != NULL)
        return store_order_get(s, o.id, order);
    return STORE_OK;
}

struct orders_fulfil_call {
    struct store_call call;
    char provider[TG_PROVIDER_MAX], event_id[TG_PROVIDER_REF_MAX], kind[48], order_id[TG_ID_MAX];
    char provider_ref[TG_PROVIDER_REF_MAX], currency[4];
    int64_t amount, now_ms;
    struct orders_fulfil_result res;
    orders_fulfil_fn cb;
    void *arg;
};

static enum store_rc orders_fulfil_run(struct store *s, struct store_call *sc)
{
    struct orders_fulfil_call *c = (struct orders_fulfil_call *)sc;
    struct payment_notice n = {c->provider, c->event_id, c->kind, c->order_id, c->provider_ref, c->amount,
                               c->currency};
    return orders_fulfil_tx(s, &n, c->now_ms, &c->res.outcome, &c->res.order);
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
    c->amount = n->amount;
    c->now_ms = now_ms;
    c->cb = cb;
    c->arg = arg;
    store_exec_call(ex, &c->call, STORE_CALL_WRITE, orders_fulfil_run, orders_fulfil_done);
}
