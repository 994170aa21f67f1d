/*
 * webhooks.c - POST /api/v1/webhooks/{provider}: payment notifications (DESIGN section 4).
 *
 * One path for every provider, the sandbox's checkout page included:
 *   1. the provider module verifies the notification on its raw bytes (signature,
 *      timestamp, decryption) and says what it reports - nothing is parsed for meaning
 *      before that;
 *   2. domain/orders.c applies it in one transaction: inbox under (provider, event id),
 *      order matched, provider, amount and currency equal to the order's, paid and credited
 *      exactly once (or failed, or refunded);
 *   3. the provider gets the answer it documents: its acknowledgement once the result is
 *      durable; 400 (and an audit row) for a notification that is forged, stale or does not
 *      match its order - it changes nothing; 503 when nothing could be committed, so the
 *      provider delivers it again.
 * Webhooks are not rate limited: a provider retrying a backlog must not be turned away.
 */
#include "api/api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "domain/audit.h"
#include "domain/orders.h"
#include "providers/pay/pay.h"

#include <stdatomic.h>
#include <inttypes.h>

/* ---- counters for /metrics: notifications by provider and outcome ---- */

#define WH_PROVIDERS 8
static const char *const wh_outcomes[] = {"fulfilled",   "duplicate", "already_paid", "failed_marked",
                                          "refunded",    "ignored",   "rejected",     "mismatch",
                                          "unverifiable", "not_committed", "other"};
#define WH_OUTCOMES (sizeof wh_outcomes / sizeof wh_outcomes[0])
static _Atomic uint64_t wh_counts[WH_PROVIDERS][WH_OUTCOMES];

static size_t wh_outcome_index(const char *o)
{
    static const struct {
        const char *from, *to;
    } map[] = {{"marked_failed", "failed_marked"}, {"not_pending", "duplicate"}, {"refund_known", "duplicate"},
               {"unknown_order", "mismatch"},     {"provider_mismatch", "mismatch"},
               {"amount_mismatch", "mismatch"},   {"unsupported", "mismatch"}, {"refund_mismatch", "mismatch"}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(o, map[i].from) == 0)
            o = map[i].to;
    for (size_t i = 0; i < WH_OUTCOMES; i++)
        if (strcmp(o, wh_outcomes[i]) == 0)
            return i;
    return WH_OUTCOMES - 1;
}

static void metrics_payment_notification(const char *provider, const char *outcome)
{
    for (size_t i = 0; pay_providers[i] != NULL && i < WH_PROVIDERS; i++)
        if (strcmp(pay_providers[i]->name, provider) == 0) {
            atomic_fetch_add_explicit(&wh_counts[i][wh_outcome_index(outcome)], 1, memory_order_relaxed);
            return;
        }
}

void api_webhooks_metrics(struct sbuf *b)
{
    sbuf_puts(b, "# HELP tollgate_payment_notifications_total Payment notifications by provider and outcome "
                 "(fulfilled, duplicate, rejected: forged or stale, mismatch: not matching its order, ...).\n"
                 "# TYPE tollgate_payment_notifications_total counter\n");
    for (size_t i = 0; pay_providers[i] != NULL && i < WH_PROVIDERS; i++)
        for (size_t k = 0; k < WH_OUTCOMES; k++)
            sbuf_printf(b, "tollgate_payment_notifications_total{provider=\"%s\",outcome=\"%s\"} %" PRIu64 "\n",
                        pay_providers[i]->name, wh_outcomes[k],
                        atomic_load_explicit(&wh_counts[i][k], memory_order_relaxed));
}

struct webhook {
    struct req_ref *ref;
    struct store_exec *ex;
    const struct pay_provider *p;
    char ip[64], request_id[TG_ID_MAX];
    api_webhook_fn done;
    void *arg;
    int status;          /* the answer decided */
    const char *outcome; /* static string */
    char reason[64];
    char order_id[TG_ID_MAX];
};

static void webhook_finish(struct webhook *w)
{
    struct req *r = req_ref_take(w->ref);
    metrics_payment_notification(w->p->name, w->outcome);
    w->done(r, w->p, w->status, w->outcome, w->order_id, w->arg);
    free(w);
}

static void webhook_audited(void *arg) { webhook_finish(arg); }

/* A refused notification: audit it (who sent what, never the body), then answer. */
static void webhook_reject(struct webhook *w, const char *action, int status, const char *outcome,
                           const char *reason)
{
    w->status = status;
    w->outcome = outcome;
    snprintf(w->reason, sizeof w->reason, "%s", reason ? reason : "");
    json_t *d = json_pack("{s:s, s:s, s:s}", "provider", w->p->name, "outcome", outcome, "reason", w->reason);
    if (w->order_id[0])
        json_object_set_new(d, "order_id", json_string(w->order_id));
    char *details = d ? json_dumps(d, JSON_COMPACT) : NULL;
    json_decref(d);
    log_event(LOG_WARN, "webhook_rejected", "provider", w->p->name, "outcome", outcome, "reason", w->reason,
              "request_id", w->request_id, NULL);
    audit_event(w->ex, "", action, "order", w->order_id, w->ip, w->request_id, details, time_now_ms(),
                webhook_audited, w);
    free(details);
}

static void webhook_applied(void *arg, const struct orders_fulfil_result *res)
{
    struct webhook *w = arg;
    if (res->order.id[0])
        snprintf(w->order_id, sizeof w->order_id, "%s", res->order.id);
    if (res->rc == STORE_OK) {
        w->status = 200;
        w->outcome = orders_outcome_name(res->outcome);
        if (res->outcome == ORDERS_FULFILLED)
            log_event(LOG_INFO, "order_paid", "order_id", w->order_id, "provider", w->p->name, NULL);
        webhook_finish(w);
    } else if (res->rc == STORE_CONFLICT) {
        webhook_reject(w, "payment.webhook_mismatch", 400, orders_outcome_name(res->outcome),
                       orders_outcome_name(res->outcome));
    } else {
        /* Not committed: the provider must deliver it again. */
        w->status = 503;
        w->outcome = "not_committed";
        webhook_finish(w);
    }
}

static enum payment_notice_kind webhook_notice_kind(enum pay_event_kind k)
{
    switch (k) {
    case PAY_EVENT_PAID: return NOTICE_PAID;
    case PAY_EVENT_FAILED: return NOTICE_FAILED;
    case PAY_EVENT_REFUND: return NOTICE_REFUND;
    case PAY_EVENT_SUB_PERIOD: return NOTICE_SUB_PERIOD;
    case PAY_EVENT_SUB_PAST_DUE: return NOTICE_SUB_PAST_DUE;
    case PAY_EVENT_SUB_STATE: return NOTICE_SUB_STATE;
    case PAY_EVENT_SUB_ENDED: return NOTICE_SUB_ENDED;
    }
    return NOTICE_PAID;
}

static void webhook_verified(void *arg, const struct pay_webhook_res *res)
{
    struct webhook *w = arg;
    switch (res->rc) {
    case PAY_OK: break;
    case PAY_IGNORED:
        w->status = 200;
        w->outcome = "ignored";
        webhook_finish(w);
        return;
    case PAY_UNAVAILABLE:
    case PAY_MISCONFIGURED:
        log_event(res->rc == PAY_MISCONFIGURED ? LOG_ERROR : LOG_WARN, "webhook_unverifiable", "provider",
                  w->p->name, "reason", res->reason, NULL);
        w->status = 503;
        w->outcome = "unverifiable";
        webhook_finish(w);
        return;
    default:
        webhook_reject(w, "payment.webhook_rejected", 400, "rejected", res->reason);
        return;
    }
    const struct pay_event *ev = &res->ev;
    struct payment_notice n = {
        .provider = w->p->name,
        .event_id = ev->event_id,
        .kind = ev->type[0] ? ev->type : "payment",
        .order_id = ev->order_id[0] ? ev->order_id : NULL,
        .provider_ref = ev->provider_ref[0] ? ev->provider_ref : NULL,
        .amount = ev->amount,
        .currency = ev->currency,
        .notice = webhook_notice_kind(ev->kind),
        .refund_id = ev->refund_id[0] ? ev->refund_id : NULL,
        .provider_refund_id = ev->provider_refund_id[0] ? ev->provider_refund_id : NULL,
        .subscription_ref = ev->subscription_ref[0] ? ev->subscription_ref : NULL,
        .invoice_ref = ev->invoice_ref[0] ? ev->invoice_ref : NULL,
        .period_start = ev->period_start,
        .period_end = ev->period_end,
        .product = ev->product[0] ? ev->product : NULL,
        .cancel_at_period_end = ev->cancel_at_period_end,
    };
    snprintf(w->order_id, sizeof w->order_id, "%s", ev->order_id);
    orders_fulfil(w->ex, &n, time_now_ms(), webhook_applied, w);
}

void api_webhook_process(struct req *r, const struct pay_provider *p, const char *body, size_t len,
                         const char *(*header)(void *hctx, const char *lname), void *hctx, api_webhook_fn done,
                         void *arg)
{
    struct webhook *w = xcalloc(1, sizeof *w);
    w->p = p;
    w->ex = req_exec(r);
    w->done = done;
    w->arg = arg;
    snprintf(w->ip, sizeof w->ip, "%s", req_client_ip(r) ? req_client_ip(r) : "");
    snprintf(w->request_id, sizeof w->request_id, "%s", req_id(r));
    w->ref = req_ref_new(r);
    struct pay_webhook_req wr = {body, len, header, hctx, time_now_ms()};
    p->verify_webhook(req_net(r), &wr, webhook_verified, w);
}

static const char *webhook_header(void *hctx, const char *lname) { return req_header_unique(hctx, lname); }

static void webhook_reply(struct req *r, const struct pay_provider *p, int status, const char *outcome,
                          const char *order_id, void *arg)
{
    (void)outcome;
    (void)order_id;
    (void)arg;
    if (r == NULL)
        return;
    if (status == 200) {
        if (p->ack_body != NULL)
            res_text(r, 200, p->ack_type ? p->ack_type : "text/plain", p->ack_body, strlen(p->ack_body));
        else
            res_empty(r, 200);
        return;
    }
    if (p->fail_body != NULL) {
        res_text(r, status, p->fail_type ? p->fail_type : "text/plain", p->fail_body, strlen(p->fail_body));
        return;
    }
    res_error(r, status == 400 ? TG_E_WEBHOOK_REJECTED : TG_E_UNAVAILABLE, NULL, NULL);
}

void api_webhooks_post(struct req *r)
{
    const char *name = req_param(r, "provider");
    const struct pay_provider *p = name ? pay_provider_find(name) : NULL;
    /* A provider that is not configured has no secret to verify with: it does not exist. */
    if (p == NULL || p->verify_webhook == NULL || !p->configured()) {
        res_error(r, TG_E_NOT_FOUND, NULL, NULL);
        return;
    }
    size_t len;
    const char *body = req_body(r, &len);
    api_webhook_process(r, p, body ? body : "", body ? len : 0, webhook_header, r, webhook_reply, NULL);
}
