/*
 * pending_refunds.c - refunds the provider has not confirmed (jobs.h).
 *
 * A refund stays pending when the provider accepted it for later (WeChat Pay's PROCESSING)
 * or did not answer at all (a timeout: the money may or may not have moved). Its
 * notification normally settles it; when that does not come, this job asks for the same
 * refund again - with the same refund id, which every provider treats as the same request
 * (Stripe's Idempotency-Key, WeChat Pay's out_refund_no, Alipay's out_request_no, PayPal's
 * PayPal-Request-Id) - and records what the provider now says.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "domain/refunds.h"
#include "jobs/jobs.h"
#include "providers/pay/pay.h"
#include "store/call.h"

#define REFUNDS_BATCH 16

static int refunds_running;

struct refunds_run {
    struct store_call call;
    struct store_exec *ex;
    struct net_exec *nx;
    int64_t before;
    struct refund *refunds;
    size_t n, left;
};

struct refunds_item {
    struct store_call call;
    struct refunds_run *run;
    struct refund rf;
    struct order o;
    struct pay_refund_res res;
    char notify[512];
};

static void refunds_run_end(struct refunds_run *run)
{
    if (--run->left == 0) {
        free(run->refunds);
        free(run);
        refunds_running = 0;
    }
}

static enum store_rc refunds_finish_run(struct store *s, struct store_call *sc)
{
    struct refunds_item *it = (struct refunds_item *)sc;
    enum pay_rc rc = it->res.rc;
    /* Declined or refused: undo. Accepted and done: succeeded. Anything else (accepted for
     * later, no answer, our credentials refused): still pending, asked again later. */
    int undo = rc == PAY_DECLINED || rc == PAY_INVALID || rc == PAY_NOTFOUND;
    int done = rc == PAY_OK && !it->res.pending;
    return refunds_finish_tx(s, it->rf.id, !undo, !done, it->res.provider_refund_id, time_now_ms(), NULL, NULL);
}

static void refunds_finish_done(struct store_call *sc)
{
    struct refunds_item *it = (struct refunds_item *)sc;
    if (sc->rc != STORE_OK)
        log_event(LOG_WARN, "pending_refund_record_failed", "refund_id", it->rf.id, "rc", store_rc_name(sc->rc), NULL);
    struct refunds_run *run = it->run;
    free(it);
    refunds_run_end(run);
}

static void refunds_asked(void *arg, const struct pay_refund_res *res)
{
    struct refunds_item *it = arg;
    it->res = *res;
    if (res->rc != PAY_OK)
        log_event(LOG_WARN, "pending_refund_retry", "refund_id", it->rf.id, "order_id", it->o.id, "outcome",
                  pay_rc_name(res->rc), "reason", res->reason, NULL);
    store_exec_call(it->run->ex, &it->call, STORE_CALL_WRITE, refunds_finish_run, refunds_finish_done);
}

static enum store_rc refunds_order_run(struct store *s, struct store_call *sc)
{
    struct refunds_item *it = (struct refunds_item *)sc;
    return store_order_get(s, it->rf.order_id, &it->o);
}

static void refunds_order_done(struct store_call *sc)
{
    struct refunds_item *it = (struct refunds_item *)sc;
    const struct pay_provider *p = sc->rc == STORE_OK ? pay_provider_find(it->o.provider) : NULL;
    if (p == NULL || p->refund == NULL || !p->configured()) {
        struct refunds_run *run = it->run;
        free(it);
        refunds_run_end(run);
        return;
    }
    snprintf(it->notify, sizeof it->notify, "%s/api/v1/webhooks/%s", tg_cfg->public_url, p->name);
    struct pay_refund_req rq = {&it->o, it->rf.id, it->rf.amount, it->rf.reason, it->notify};
    p->refund(it->run->nx, &rq, refunds_asked, it);
}

static enum store_rc refunds_load_run(struct store *s, struct store_call *sc)
{
    struct refunds_run *run = (struct refunds_run *)sc;
    free(run->refunds);
    run->refunds = NULL;
    return store_refunds_pending(s, run->before, REFUNDS_BATCH, &run->refunds, &run->n);
}

static void refunds_load_done(struct store_call *sc)
{
    struct refunds_run *run = (struct refunds_run *)sc;
    if (sc->rc != STORE_OK || run->n == 0) {
        free(run->refunds);
        free(run);
        refunds_running = 0;
        return;
    }
    run->left = run->n + 1;
    for (size_t i = 0; i < run->n; i++) {
        struct refunds_item *it = xcalloc(1, sizeof *it);
        it->run = run;
        it->rf = run->refunds[i];
        store_exec_call(run->ex, &it->call, STORE_CALL_READ, refunds_order_run, refunds_order_done);
    }
    refunds_run_end(run);
}

void jobs_pending_refunds(struct store_exec *ex, struct net_exec *nx, int64_t now_ms)
{
    if (refunds_running)
        return;
    refunds_running = 1;
    struct refunds_run *run = xcalloc(1, sizeof *run);
    run->ex = ex;
    run->nx = nx;
    /* The same gap as the first query of a pending order. */
    run->before = now_ms - (int64_t)tg_cfg->order_query_after_s * 1000;
    store_exec_call(ex, &run->call, STORE_CALL_READ, refunds_load_run, refunds_load_done);
}
