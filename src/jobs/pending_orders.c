/*
 * pending_orders.c - the pending-order job (jobs.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "domain/orders.h"
#include "jobs/jobs.h"
#include "providers/pay/pay.h"
#include "store/call.h"

/* Orders looked at per run: a backlog is worked through a batch per tick. */
#define PENDING_BATCH 32

/* Only the first worker's loop runs jobs, so these need no lock. */
static int pending_running;

struct pending_run {
    struct store_call call;
    struct store_exec *ex;
    struct net_exec *nx;
    int64_t now;
    struct order *orders;
    size_t n, left;
};

struct pending_item {
    struct store_call call;
    struct pending_run *run;
    struct order o;
    int query_ok;
    char event_id[TG_PROVIDER_REF_MAX];
};

static void pending_item_end(struct pending_item *it)
{
    struct pending_run *run = it->run;
    free(it);
    if (--run->left == 0) {
        free(run->orders);
        free(run);
        pending_running = 0;
    }
}

static enum store_rc pending_after_run(struct store *s, struct store_call *sc)
{
    struct pending_item *it = (struct pending_item *)sc;
    return orders_after_query_tx(s, &it->o, it->query_ok, (int64_t)tg_cfg->order_query_after_s * 1000,
                                 tg_cfg->order_query_max, time_now_ms());
}

static void pending_after_done(struct store_call *sc)
{
    struct pending_item *it = (struct pending_item *)sc;
    if (sc->rc != STORE_OK)
        log_event(LOG_WARN, "pending_order_schedule_failed", "order_id", it->o.id, "rc", store_rc_name(sc->rc), NULL);
    pending_item_end(it);
}

static void pending_after(struct pending_item *it)
{
    store_exec_call(it->run->ex, &it->call, STORE_CALL_WRITE, pending_after_run, pending_after_done);
}

static void pending_applied(void *arg, const struct orders_fulfil_result *res)
{
    struct pending_item *it = arg;
    if (res->rc == STORE_OK && res->outcome == ORDERS_FULFILLED)
        /* A notification was lost or late: this is the job earning its keep. */
        log_event(LOG_WARN, "order_paid_by_query", "order_id", it->o.id, "provider", it->o.provider, NULL);
    else if (res->rc != STORE_OK)
        log_event(LOG_ERROR, "pending_order_apply_failed", "order_id", it->o.id, "outcome",
                  orders_outcome_name(res->outcome), "rc", store_rc_name(res->rc), NULL);
    pending_after(it);
}

static void pending_queried(void *arg, const struct pay_query_res *res)
{
    struct pending_item *it = arg;
    it->query_ok = res->rc == PAY_OK || res->rc == PAY_NOTFOUND;
    if (res->rc != PAY_OK || res->state == PAY_STATE_PENDING) {
        if (res->rc != PAY_OK && res->rc != PAY_NOTFOUND)
            log_event(LOG_WARN, "pending_order_query_failed", "order_id", it->o.id, "provider", it->o.provider,
                      "outcome", pay_rc_name(res->rc), "reason", res->reason, NULL);
        pending_after(it);
        return;
    }
    struct payment_notice n = {
        .provider = it->o.provider,
        .order_id = it->o.id,
        .provider_ref = res->ev.provider_ref[0] ? res->ev.provider_ref : NULL,
        .amount = res->ev.amount,
        .currency = res->ev.currency,
        /* A subscription's first payment found by asking: its subscription and period. */
        .subscription_ref = res->ev.subscription_ref[0] ? res->ev.subscription_ref : NULL,
        .period_start = res->ev.period_start,
        .period_end = res->ev.period_end,
    };
    if (res->state == PAY_STATE_PAID) {
        n.event_id = res->ev.event_id[0] ? res->ev.event_id : "query:paid";
        n.kind = res->ev.type[0] ? res->ev.type : "query.paid";
        n.notice = NOTICE_PAID;
    } else {
        /* Closed at the provider: this order will never be paid there. */
        snprintf(it->event_id, sizeof it->event_id, "query:closed:%s", it->o.id);
        n.event_id = it->event_id;
        n.kind = "query.closed";
        n.notice = NOTICE_FAILED;
        n.amount = it->o.amount;
        n.currency = it->o.currency;
    }
    orders_fulfil(it->run->ex, &n, time_now_ms(), pending_applied, it);
}

static void pending_item_start(struct pending_run *run, const struct order *o)
{
    struct pending_item *it = xcalloc(1, sizeof *it);
    it->run = run;
    it->o = *o;
    const struct pay_provider *p = pay_provider_find(o->provider);
    if (p == NULL || p->query == NULL || !p->configured()) {
        /* Nothing to ask: count the turn, so the order waits for its expiry quietly. */
        it->query_ok = 1;
        pending_after(it);
        return;
    }
    p->query(run->nx, &it->o, time_now_ms(), pending_queried, it);
}

static enum store_rc pending_load_run(struct store *s, struct store_call *sc)
{
    struct pending_run *run = (struct pending_run *)sc;
    free(run->orders);
    run->orders = NULL;
    return store_orders_due(s, run->now, PENDING_BATCH, &run->orders, &run->n);
}

static void pending_load_done(struct store_call *sc)
{
    struct pending_run *run = (struct pending_run *)sc;
    if (sc->rc != STORE_OK || run->n == 0) {
        if (sc->rc != STORE_OK)
            log_event(LOG_WARN, "pending_orders_load_failed", "rc", store_rc_name(sc->rc), NULL);
        free(run->orders);
        free(run);
        pending_running = 0;
        return;
    }
    /* left counts the items plus this loop, so that an item finishing synchronously cannot
     * end the run before every item has started. */
    run->left = run->n + 1;
    for (size_t i = 0; i < run->n; i++)
        pending_item_start(run, &run->orders[i]);
    if (--run->left == 0) {
        free(run->orders);
        free(run);
        pending_running = 0;
    }
}

void jobs_pending_orders(struct store_exec *ex, struct net_exec *nx, int64_t now_ms)
{
    if (pending_running)
        return;
    pending_running = 1;
    struct pending_run *run = xcalloc(1, sizeof *run);
    run->ex = ex;
    run->nx = nx;
    run->now = now_ms;
    store_exec_call(ex, &run->call, STORE_CALL_READ, pending_load_run, pending_load_done);
}
