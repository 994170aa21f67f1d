/*
 * subscription.c - plans (DESIGN sections 3-4, docs/PAYMENTS.md "Plans"):
 *   GET  /api/v1/subscription                      the caller's live subscription, else the
 *                                                  newest ended one, else null
 *   POST /api/v1/subscription/cancel               stop renewing: it ends at period end
 *   POST /api/v1/subscription/resume               undo that while the period runs
 *   POST /api/v1/subscription/change {"product"}   another plan (providers that renew only)
 *   GET  /api/v1/admin/subscriptions[/{id}]        every subscription, with filters; one
 *   POST /api/v1/admin/subscriptions/{id}/cancel   {"at_period_end"}: an admin ends one
 *
 * Buying a plan is an order (orders.c); these routes change what was bought. A change is:
 * read the subscription and ask the domain whether the request may go ahead; when the
 * provider renews the subscription (Stripe, Creem), ask the provider first - it is the one
 * that charges, so nothing is recorded that it refused; then record the change in one write
 * transaction, where the domain decides again from what it reads (a change that raced
 * another answers from the store). Should that write fail after the provider agreed, the
 * provider's own notification of the change (a SUB_STATE notice) brings us in line. A
 * prepaid subscription (WeChat Pay, Alipay, PayPal, the sandbox) is Tollgate's alone: no
 * provider call.
 *
 * Changing a subscription needs a signed-in session, not an API key: an upgrade charges the
 * buyer's card at once, and a key leaked from a script must not be able to spend money or end
 * a subscription. Reading it with a key is fine.
 */
#include "api/api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "domain/catalog.h"
#include "domain/subscriptions.h"
#include "net/net.h"
#include "providers/pay/pay.h"
#include "providers/providers.h"

/* ---- the subscription as clients see it ---- */

/* "month" or "year": the catalog's word for the product in force; a product since removed
 * from the catalog is told by the length of its paid period (a year is never under 300
 * days, a month never over 31). */
static const char *sub_period_name(const struct subscription *sub)
{
    const struct catalog_product *p = catalog_find(sub->product);
    if (p != NULL && p->period != CATALOG_PERIOD_NONE)
        return catalog_period_name(p->period);
    return sub->period_end - sub->period_start > 300LL * 24 * 3600 * 1000 ? "year" : "month";
}

json_t *api_subscription_json(const struct subscription *sub, const struct wallet *w, int64_t now_ms)
{
    char ts[32], ts2[32];
    int live = subs_live(sub);
    int auto_renew = live && subs_renews(sub) && !sub->cancel_at_period_end;
    json_t *used = json_null(), *remaining = json_null();
    if (w != NULL) {
        int64_t left = subs_credits_remaining(sub, w, now_ms);
        if (left < 0)
            left = 0;
        int64_t spent = sub->credits_granted - left;
        used = json_integer(spent > 0 ? spent : 0);
        remaining = json_integer(left);
    }
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:b, s:{s:o, s:o}, s:{s:o, s:o}, s:{s:I, s:I, s:o, "
                          "s:o}, s:o, s:o, s:o, s:{s:I, s:s}, s:s, s:s, s:o}",
                          "id", sub->id, "plan", sub->plan, "product", sub->product, "period", sub_period_name(sub),
                          "status", sub->status, "provider", sub->provider, "auto_renew", auto_renew,
                          "cancel_at_period_end", sub->cancel_at_period_end != 0, "current_period", "start",
                          api_time_or_null(sub->period_start), "end", api_time_or_null(sub->period_end),
                          "credit_period", "start", api_time_or_null(sub->credit_start), "end",
                          api_time_or_null(sub->credit_end), "credits", "per_month",
                          (json_int_t)sub->credits_per_month, "granted", (json_int_t)sub->credits_granted, "used",
                          used, "remaining", remaining, "renews_at",
                          api_time_or_null(auto_renew ? sub->period_end : 0), "ends_at",
                          api_time_or_null(live && !auto_renew ? sub->period_end : 0), "next_product",
                          sub->next_product[0] ? json_string(sub->next_product) : json_null(), "amount", "amount",
                          (json_int_t)sub->amount, "currency", sub->currency, "created_at",
                          time_rfc3339(sub->created_at, ts), "updated_at", time_rfc3339(sub->updated_at, ts2),
                          "ended_at", api_time_or_null(sub->ended_at));
    return j;
}

/* The admin's view adds whose it is and the references an operator looks up elsewhere. */
static json_t *sub_admin_json(const struct subscription *sub, const struct wallet *w, int64_t now_ms)
{
    json_t *j = api_subscription_json(sub, w, now_ms);
    if (j == NULL)
        return NULL;
    json_object_set_new(j, "user_id", json_string(sub->user_id));
    json_object_set_new(j, "order_id", sub->order_id[0] ? json_string(sub->order_id) : json_null());
    json_object_set_new(j, "provider_ref", sub->provider_ref[0] ? json_string(sub->provider_ref) : json_null());
    return j;
}

void api_reply_subs_check(struct req *r, enum subs_check c)
{
    switch (c) {
    case SUBS_NONE: res_error(r, TG_E_NO_SUBSCRIPTION, NULL, NULL); return;
    case SUBS_EXISTS: res_error(r, TG_E_SUBSCRIPTION_EXISTS, NULL, NULL); return;
    case SUBS_PREPAID: res_error(r, TG_E_SUBSCRIPTION_PREPAID, NULL, NULL); return;
    case SUBS_SAME_PLAN: res_error(r, TG_E_SUBSCRIPTION_SAME_PLAN, NULL, NULL); return;
    case SUBS_NOT_RESUMABLE: res_error(r, TG_E_SUBSCRIPTION_NOT_RESUMABLE, NULL, NULL); return;
    case SUBS_CURRENCY: res_error(r, TG_E_SUBSCRIPTION_CURRENCY, NULL, NULL); return;
    case SUBS_PERIOD_CHANGE: res_error(r, TG_E_SUBSCRIPTION_PERIOD_CHANGE, NULL, NULL); return;
    case SUBS_OK: break;
    }
    /* Never asked to reply for SUBS_OK: a caller's mistake, answered as one. */
    log_event(LOG_ERROR, "subs_check_reply_ok", "request_id", req_id(r), NULL);
    res_error(r, TG_E_INTERNAL, NULL, NULL);
}

/* Reads the wallet for a subscription's credits; a user without one holds nothing. */
static enum store_rc sub_wallet_get(struct store *s, const char *user_id, struct wallet *w)
{
    enum store_rc rc = store_wallet_get(s, user_id, w);
    if (rc == STORE_NOTFOUND) {
        memset(w, 0, sizeof *w);
        snprintf(w->user_id, sizeof w->user_id, "%s", user_id);
        return STORE_OK;
    }
    return rc;
}

/* ---- GET /api/v1/subscription ---- */

struct sub_get {
    struct api_call base;
    char user_id[TG_ID_MAX];
    char id[TG_ID_MAX]; /* admin: the {id}; "" for the caller's own */
    int found;
    struct subscription sub;
    struct wallet w;
};

static enum store_rc sub_get_run(struct store *s, struct store_call *sc)
{
    struct sub_get *c = (struct sub_get *)sc;
    enum store_rc rc;
    c->found = 0;
    if (c->id[0])
        rc = store_sub_get(s, c->id, &c->sub);
    else if ((rc = store_sub_get_live(s, c->user_id, &c->sub)) == STORE_NOTFOUND)
        rc = store_sub_get_latest(s, c->user_id, &c->sub);
    if (rc == STORE_NOTFOUND && !c->id[0])
        return STORE_OK; /* none: {"subscription":null} */
    if (rc != STORE_OK)
        return rc;
    c->found = 1;
    return sub_wallet_get(s, c->sub.user_id, &c->w);
}

static void sub_get_reply(struct req *r, struct api_call *ac)
{
    struct sub_get *c = (struct sub_get *)ac;
    if (ac->call.rc != STORE_OK) {
        api_reply_store(r, ac->call.rc, "subscription_get");
        return;
    }
    int64_t now = time_now_ms();
    res_header(r, "cache-control", "no-store");
    if (c->id[0]) {
        json_t *j = sub_admin_json(&c->sub, &c->w, now);
        if (j == NULL)
            res_error(r, TG_E_INTERNAL, NULL, NULL);
        else
            res_json(r, 200, j);
        return;
    }
    json_t *j = c->found ? api_subscription_json(&c->sub, &c->w, now) : json_null();
    if (j == NULL) {
        res_error(r, TG_E_INTERNAL, NULL, NULL);
        return;
    }
    res_json(r, 200, json_pack("{s:o}", "subscription", j));
}

void api_subscription_get(struct req *r)
{
    struct sub_get *c = api_call_new(r, sizeof *c, STORE_CALL_READ);
    memcpy(c->user_id, req_principal(r)->user_id, sizeof c->user_id);
    api_submit(r, &c->base, sub_get_run, sub_get_reply, NULL);
}

/* The {id} route parameter when it can be a subscription id; replies 404 and returns NULL
 * when not. */

void api_admin_subscription_get(struct req *r)
{
    const char *id = api_id_param_or_reply(r, "sub");
    if (id == NULL)
        return;
    struct sub_get *c = api_call_new(r, sizeof *c, STORE_CALL_READ);
    snprintf(c->id, sizeof c->id, "%s", id);
    api_submit(r, &c->base, sub_get_run, sub_get_reply, NULL);
}

/* ---- GET /api/v1/admin/subscriptions ---- */

struct sub_list {
    struct api_call base;
    char user_id[TG_ID_MAX], status[24], provider[TG_PROVIDER_MAX], cursor[TG_ID_MAX];
    size_t limit;
    struct subscription *subs;
    struct wallet *wallets; /* one per shown subscription */
    size_t n;
};

static enum store_rc sub_list_run(struct store *s, struct store_call *sc)
{
    struct sub_list *c = (struct sub_list *)sc;
    free(c->subs);
    free(c->wallets);
    c->subs = NULL;
    c->wallets = NULL;
    c->n = 0;
    struct subscription_filter f = {c->user_id, c->status, c->provider};
    /* One more than asked for tells whether another page exists. */
    enum store_rc rc = store_sub_search(s, &f, c->cursor[0] ? c->cursor : NULL, c->limit + 1, &c->subs, &c->n);
    if (rc != STORE_OK)
        return rc;
    size_t shown = c->n > c->limit ? c->limit : c->n;
    c->wallets = xcalloc(shown ? shown : 1, sizeof *c->wallets);
    for (size_t i = 0; i < shown; i++)
        if ((rc = sub_wallet_get(s, c->subs[i].user_id, &c->wallets[i])) != STORE_OK)
            return rc;
    return STORE_OK;
}

static void sub_list_reply(struct req *r, struct api_call *ac)
{
    struct sub_list *c = (struct sub_list *)ac;
    if (ac->call.rc != STORE_OK) {
        api_reply_store(r, ac->call.rc == STORE_NOTFOUND ? STORE_ERROR : ac->call.rc, "subscription_list");
        return;
    }
    int64_t now = time_now_ms();
    json_t *items = json_array();
    size_t shown = c->n > c->limit ? c->limit : c->n;
    for (size_t i = 0; i < shown; i++) {
        json_t *j = sub_admin_json(&c->subs[i], &c->wallets[i], now);
        if (j == NULL) {
            json_decref(items);
            res_error(r, TG_E_INTERNAL, NULL, NULL);
            return;
        }
        json_array_append_new(items, j);
    }
    json_t *next = c->n > c->limit ? json_string(c->subs[c->limit - 1].id) : json_null();
    res_header(r, "cache-control", "no-store");
    res_json(r, 200, json_pack("{s:o, s:o}", "data", items, "next_cursor", next));
}

static void sub_list_cleanup(struct api_call *ac)
{
    struct sub_list *c = (struct sub_list *)ac;
    free(c->subs);
    free(c->wallets);
}

static const char *const sub_statuses[] = {"active", "past_due", "canceled", "expired", NULL};

void api_admin_subscriptions_list(struct req *r)
{
    size_t limit;
    const char *cursor;
    if (api_page_params_or_reply(r, "sub", &limit, &cursor) != 0)
        return;
    struct sub_list *c = api_call_new(r, sizeof *c, STORE_CALL_READ);
    c->limit = limit;
    snprintf(c->cursor, sizeof c->cursor, "%s", cursor ? cursor : "");
    if (api_admin_filters_or_reply(r, sub_statuses, "One of active, past_due, canceled, expired.", c->status,
                                   c->provider, c->user_id) != 0)
        return;
    api_submit(r, &c->base, sub_list_run, sub_list_reply, sub_list_cleanup);
}

/* ---- POST cancel, resume, change (the caller's) and the admin's cancel ---- */

enum sub_op { SUB_OP_CANCEL = 0, SUB_OP_RESUME, SUB_OP_CHANGE, SUB_OP_ADMIN_CANCEL };

struct sub_change {
    struct store_call call;
    struct req_ref *ref; /* held from start to end: a provider that agreed is recorded even
                            when the client went away meanwhile */
    struct store_exec *ex;
    struct net_exec *nx;
    enum sub_op op;
    int stage; /* 0: read and check, 1: record */
    int at_period_end;
    char user_id[TG_ID_MAX]; /* the caller's own: the user */
    char id[TG_ID_MAX];      /* the admin's: the {id} */
    char actor_id[TG_ID_MAX], ip[64], request_id[TG_ID_MAX];
    char product[TG_PRODUCT_MAX];
    int found;
    struct subscription sub;
    struct wallet w;
    char idem_key[TG_ID_MAX + TG_PRODUCT_MAX + 40];
    int asked; /* the provider was asked (it renews the subscription) */
    struct pay_sub_res pres;
};

static const char *const sub_op_names[] = {"cancel", "resume", "change", "admin_cancel"};

static void sub_change_reply_error(struct sub_change *c, enum tg_err e, const char *msg, json_t *details)
{
    struct req *r = req_ref_take(c->ref);
    if (r != NULL)
        res_error(r, e, msg, details);
    else
        json_decref(details);
    free(c);
}

static enum store_rc sub_change_run(struct store *s, struct store_call *sc)
{
    struct sub_change *c = (struct sub_change *)sc;
    enum store_rc rc;
    if (c->stage == 0) {
        c->found = 0;
        rc = c->op == SUB_OP_ADMIN_CANCEL ? store_sub_get(s, c->id, &c->sub)
                                          : store_sub_get_live(s, c->user_id, &c->sub);
        if (rc == STORE_NOTFOUND)
            return STORE_OK;
        c->found = rc == STORE_OK;
        return rc;
    }
    /* The user acting on their own subscription is written as the user (actor ""). */
    const char *actor = c->op == SUB_OP_ADMIN_CANCEL ? c->actor_id : "";
    int64_t now = time_now_ms();
    struct subscription out;
    switch (c->op) {
    case SUB_OP_CANCEL:
    case SUB_OP_ADMIN_CANCEL:
        rc = subs_cancel_tx(s, c->sub.id, c->at_period_end, actor, c->ip, c->request_id, now, &out);
        break;
    case SUB_OP_RESUME: rc = subs_resume_tx(s, c->sub.id, actor, c->ip, c->request_id, now, &out); break;
    case SUB_OP_CHANGE:
        rc = subs_change_tx(s, c->sub.id, c->product, actor, c->ip, c->request_id, now, &out);
        break;
    default: return STORE_ERROR;
    }
    if (rc != STORE_OK)
        return rc;
    c->sub = out;
    return sub_wallet_get(s, out.user_id, &c->w);
}

static void sub_change_recorded(struct store_call *sc)
{
    struct sub_change *c = (struct sub_change *)sc;
    /* The provider agreed but we could not record it: its own notice of the change will
     * bring the subscription in line; the operator should know meanwhile. */
    if (sc->rc != STORE_OK && c->pres.rc == PAY_OK && c->asked)
        log_event(LOG_WARN, "subscription_record_failed", "request_id", c->request_id, "subscription_id", c->sub.id,
                  "provider", c->sub.provider, "op", sub_op_names[c->op], "rc", store_rc_name(sc->rc), NULL);
    struct req *r = req_ref_take(c->ref);
    if (r == NULL) {
        free(c);
        return;
    }
    if (sc->rc == STORE_OK) {
        int64_t now = time_now_ms();
        json_t *j = c->op == SUB_OP_ADMIN_CANCEL ? sub_admin_json(&c->sub, &c->w, now)
                                                 : api_subscription_json(&c->sub, &c->w, now);
        if (j == NULL)
            res_error(r, TG_E_INTERNAL, NULL, NULL);
        else
            res_json(r, 200, json_pack("{s:o}", "subscription", j));
    } else if (sc->rc == STORE_CONFLICT || sc->rc == STORE_NOTFOUND) {
        /* Something changed between the check and the write (another request, the job, a
         * provider's notification): answer as the check would have now. */
        switch (c->op) {
        case SUB_OP_RESUME: res_error(r, TG_E_SUBSCRIPTION_NOT_RESUMABLE, NULL, NULL); break;
        case SUB_OP_ADMIN_CANCEL:
            res_error(r, TG_E_CONFLICT, "The subscription changed meanwhile (it may have ended); look again.", NULL);
            break;
        case SUB_OP_CHANGE:
            if (sc->rc == STORE_CONFLICT) {
                res_error(r, TG_E_CONFLICT, "The subscription changed meanwhile; look again.", NULL);
                break;
            }
            /* fall through */
        case SUB_OP_CANCEL:
        default: res_error(r, TG_E_NO_SUBSCRIPTION, NULL, NULL); break;
        }
    } else {
        api_reply_store(r, sc->rc, "subscription_change");
    }
    free(c);
}

static void sub_change_record(struct sub_change *c)
{
    c->stage = 1;
    store_exec_call(c->ex, &c->call, STORE_CALL_WRITE, sub_change_run, sub_change_recorded);
}

static void sub_change_provider_done(void *arg, const struct pay_sub_res *res)
{
    struct sub_change *c = arg;
    c->pres = *res;
    if (res->rc == PAY_OK) {
        sub_change_record(c);
        return;
    }
    log_event(res->rc == PAY_MISCONFIGURED ? LOG_ERROR : LOG_WARN, "subscription_provider_failed", "request_id",
              c->request_id, "subscription_id", c->sub.id, "provider", c->sub.provider, "op", sub_op_names[c->op],
              "outcome", pay_rc_name(res->rc), "reason", res->reason, NULL);
    /* No answer, or our own settings refused: nothing changed, and trying later may work. A
     * refusal is the provider's word on this subscription: say why. */
    if (res->rc == PAY_UNAVAILABLE || res->rc == PAY_MISCONFIGURED)
        sub_change_reply_error(c, TG_E_PAYMENT_UNAVAILABLE, NULL,
                               json_pack("{s:s, s:s}", "subscription_id", c->sub.id, "provider", c->sub.provider));
    else
        sub_change_reply_error(c, TG_E_SUBSCRIPTION_DECLINED, NULL,
                               json_pack("{s:s, s:s}", "subscription_id", c->sub.id, "reason",
                                         res->reason[0] ? res->reason : pay_rc_name(res->rc)));
}

static void sub_change_checked(struct store_call *sc)
{
    struct sub_change *c = (struct sub_change *)sc;
    if (sc->rc != STORE_OK) {
        struct req *r = req_ref_take(c->ref);
        if (r != NULL)
            api_reply_store(r, sc->rc, "subscription_read");
        free(c);
        return;
    }
    int64_t now = time_now_ms();
    const struct subscription *live = c->found ? &c->sub : NULL;
    const struct catalog_product *p = NULL;
    int upgrade = 0;
    enum subs_check chk;
    switch (c->op) {
    case SUB_OP_CANCEL: chk = subs_may_cancel(live); break;
    case SUB_OP_RESUME: chk = subs_may_resume(live, now); break;
    case SUB_OP_CHANGE:
        p = catalog_find(c->product);
        chk = subs_may_change(live, p, &upgrade);
        break;
    case SUB_OP_ADMIN_CANCEL:
    default:
        if (live == NULL) {
            sub_change_reply_error(c, TG_E_NOT_FOUND, NULL, NULL);
            return;
        }
        chk = subs_may_cancel(live);
        if (chk == SUBS_NONE) {
            sub_change_reply_error(c, TG_E_CONFLICT, "This subscription has already ended.", NULL);
            return;
        }
        break;
    }
    if (chk != SUBS_OK) {
        struct req *r = req_ref_take(c->ref);
        if (r != NULL)
            api_reply_subs_check(r, chk);
        free(c);
        return;
    }

    const struct pay_provider *pp = pay_provider_find(c->sub.provider);
    int renews = subs_renews(&c->sub) && pp != NULL && pp->subscription != NULL;
    /* Cancelling at period end what already ends then asks the provider nothing again. */
    int already = (c->op == SUB_OP_CANCEL || c->op == SUB_OP_ADMIN_CANCEL) && c->at_period_end &&
                  c->sub.cancel_at_period_end;
    if (!renews || already) {
        sub_change_record(c);
        return;
    }
    if (!pp->configured()) {
        struct pay_sub_res res;
        memset(&res, 0, sizeof res);
        res.rc = PAY_MISCONFIGURED;
        snprintf(res.reason, sizeof res.reason, "provider_not_configured");
        sub_change_provider_done(c, &res);
        return;
    }
    struct pay_sub_req rq = {
        .subscription_ref = c->sub.provider_ref,
        .sub_id = c->sub.id,
        .now_ms = now,
    };
    switch (c->op) {
    case SUB_OP_CANCEL: rq.action = PAY_SUB_CANCEL; break;
    case SUB_OP_RESUME: rq.action = PAY_SUB_RESUME; break;
    case SUB_OP_ADMIN_CANCEL: rq.action = c->at_period_end ? PAY_SUB_CANCEL : PAY_SUB_CANCEL_NOW; break;
    case SUB_OP_CHANGE:
    default: {
        /* subs_may_change said SUBS_OK: p exists and is sold in the subscription's currency. */
        const struct catalog_price *price = catalog_price(p, c->sub.currency);
        rq.action = PAY_SUB_CHANGE;
        rq.product = p->id;
        rq.amount = price ? price->amount : 0;
        rq.currency = c->sub.currency;
        rq.interval = catalog_period_name(p->period);
        rq.provider_product_id = api_provider_product_id(p, pp->name);
        rq.prorate_now = upgrade;
        /* A retry of this same change (same state of the subscription) reuses the key; a
         * later change to the same product, after the subscription changed, does not. */
        snprintf(c->idem_key, sizeof c->idem_key, "%s:change:%s:%lld", c->sub.id, p->id,
                 (long long)c->sub.updated_at);
        rq.idem_key = c->idem_key;
        break;
    }
    }
    c->asked = 1;
    pp->subscription(c->nx, &rq, sub_change_provider_done, c);
}

static void sub_change_start(struct req *r, enum sub_op op, const char *id, const char *product, int at_period_end)
{
    struct sub_change *c = xcalloc(1, sizeof *c);
    c->op = op;
    c->at_period_end = at_period_end;
    if (id != NULL)
        snprintf(c->id, sizeof c->id, "%s", id);
    else
        memcpy(c->user_id, req_principal(r)->user_id, sizeof c->user_id);
    if (product != NULL)
        snprintf(c->product, sizeof c->product, "%s", product);
    memcpy(c->actor_id, req_principal(r)->user_id, sizeof c->actor_id);
    snprintf(c->ip, sizeof c->ip, "%s", req_client_ip(r) ? req_client_ip(r) : "");
    snprintf(c->request_id, sizeof c->request_id, "%s", req_id(r));
    c->ex = req_exec(r);
    c->nx = req_net(r);
    c->ref = req_ref_new(r);
    store_exec_call(c->ex, &c->call, STORE_CALL_READ, sub_change_run, sub_change_checked);
}

void api_subscription_cancel(struct req *r)
{
    if (api_require_session_or_reply(r) != 0)
        return;
    static const char *const allowed[] = {NULL};
    int empty;
    if (api_optional_body_or_reply(r, allowed, &empty) == NULL && !empty)
        return;
    sub_change_start(r, SUB_OP_CANCEL, NULL, NULL, 1);
}

void api_subscription_resume(struct req *r)
{
    if (api_require_session_or_reply(r) != 0)
        return;
    static const char *const allowed[] = {NULL};
    int empty;
    if (api_optional_body_or_reply(r, allowed, &empty) == NULL && !empty)
        return;
    sub_change_start(r, SUB_OP_RESUME, NULL, NULL, 0);
}

void api_subscription_change(struct req *r)
{
    if (api_require_session_or_reply(r) != 0)
        return;
    static const char *const allowed[] = {"product", NULL};
    struct jerr e;
    json_t *body = req_json_or_reply(r);
    if (body == NULL)
        return;
    if (jv_only(body, allowed, &e) != 0) {
        api_reply_jerr(r, &e);
        return;
    }
    const char *product = json_string_value(json_object_get(body, "product"));
    if (product == NULL || product[0] == '\0' || strlen(product) >= TG_PRODUCT_MAX) {
        api_reply_field(r, TG_E_VALIDATION, "product", "The plan product to switch to, like \"max_monthly\".");
        return;
    }
    const struct catalog_product *p = catalog_find(product);
    if (p == NULL) {
        api_reply_field(r, TG_E_UNKNOWN_PRODUCT, "product", NULL);
        return;
    }
    if (p->kind != CATALOG_PLAN) {
        api_reply_field(r, TG_E_PRODUCT_UNAVAILABLE, "product",
                        "A subscription changes only to another plan; credit packs are bought as orders.");
        return;
    }
    sub_change_start(r, SUB_OP_CHANGE, NULL, product, 0);
}

void api_admin_subscription_cancel(struct req *r)
{
    const char *id = api_id_param_or_reply(r, "sub");
    if (id == NULL)
        return;
    static const char *const allowed[] = {"at_period_end", NULL};
    int empty;
    json_t *body = api_optional_body_or_reply(r, allowed, &empty);
    if (body == NULL && !empty)
        return;
    json_t *ape = body ? json_object_get(body, "at_period_end") : NULL;
    if (ape != NULL && !json_is_boolean(ape)) {
        api_reply_field(r, TG_E_VALIDATION, "at_period_end", "Must be true (the default: at period end) or false (now).");
        return;
    }
    sub_change_start(r, SUB_OP_ADMIN_CANCEL, id, NULL, ape == NULL || json_is_true(ape));
}
