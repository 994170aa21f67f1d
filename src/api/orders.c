/*
 * orders.c - buying packs and plans (DESIGN sections 4 and 11):
 *   POST /api/v1/orders                       create an order and its checkout (Idempotency-Key)
 *   GET  /api/v1/orders, /api/v1/orders/{id}  the caller's orders
 *   GET  /api/v1/orders/{id}/return           where a provider sends the browser back
 *   GET  /api/v1/admin/orders[/{id}]          every order, with filters; one with its refunds
 *   POST /api/v1/admin/orders/{id}/refund     refund (part of) a paid order
 *
 * Creating an order: the product's price comes from the catalog in the caller's region
 * currency (a client-sent amount does not exist in the request). The provider is the one
 * asked for when the region offers it, else the region's first; when creating the checkout
 * fails at one (an error, a timeout), the region's next is tried and each attempt recorded.
 * The order is stored before the first provider is called and the checkout recorded after,
 * in two transactions, so a crash in between leaves a pending order without a checkout,
 * which expires; nothing is charged for it.
 *
 * A plan ("pro_monthly") is bought the same way: its first paid order starts the
 * subscription, a later one extends a prepaid subscription (domain/subscriptions.h). The
 * first transaction also reads the buyer's live subscription and keeps only the providers
 * the domain lets sell this plan to them (subs_may_order: never a second subscription next
 * to one a provider renews, nor a renewing one next to a prepaid one), so the check holds
 * for the provider actually used, whichever the fallback reaches. A provider that runs
 * subscriptions (a `subscription` operation) is asked for a renewing checkout ("interval");
 * the others sell one prepaid period.
 */
#include "api/api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/ids.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "domain/catalog.h"
#include "domain/idempotency.h"
#include "domain/oauth.h"
#include "domain/orders.h"
#include "domain/refunds.h"
#include "providers/pay/pay.h"
#include "providers/providers.h"

#define ORDERS_MAX_CANDIDATES 8
#define ORDERS_CHANNEL_MAX 15
#define ORDERS_OPENID_MAX 128

/* ---- the order as clients see it ---- */

json_t *api_order_json(const struct order *o)
{
    char ts[40], ts2[40];
    json_t *checkout = json_null();
    if (o->checkout[0]) {
        json_error_t e;
        json_t *c = json_loads(o->checkout, 0, &e);
        if (json_is_object(c)) {
            const char *code_url = json_string_value(json_object_get(c, "code_url"));
            char *svg = code_url ? api_qr_svg(code_url) : NULL;
            if (svg != NULL)
                json_object_set_new(c, "qr_svg", json_string(svg));
            free(svg);
            checkout = c;
        } else {
            json_decref(c);
        }
    }
    json_t *j = json_pack("{s:s, s:s, s:s, s:I, s:{s:I, s:s}, s:s, s:s, s:o, s:s, s:o, s:s}", "id", o->id, "product",
                          o->product, "kind", o->kind, "credits", (json_int_t)o->credits, "amount", "amount",
                          (json_int_t)o->amount, "currency", o->currency, "provider", o->provider, "status",
                          o->status, "checkout", checkout, "created_at", time_rfc3339(o->created_at, ts),
                          "paid_at", api_time_or_null(o->paid_at), "expires_at",
                          time_rfc3339(o->expires_at, ts2));
    if (j == NULL)
        return NULL;
    json_object_set_new(j, "refunded",
                        json_pack("{s:I, s:s}", "amount", (json_int_t)o->refunded_amount, "currency", o->currency));
    json_object_set_new(j, "region", o->region[0] ? json_string(o->region) : json_null());
    return j;
}

/* ---- POST /api/v1/orders ---- */

struct order_create {
    struct store_call call;
    struct req_ref *ref;
    struct store_exec *ex;
    struct net_exec *nx;
    int has_idem;
    struct idem idem;
    struct order o;
    char channel[ORDERS_CHANNEL_MAX + 1];
    char openid[ORDERS_OPENID_MAX + 1];
    char client_ip[64];
    char description[96];
    char provider_product_id[128];
    char notify_url[512], return_url[512], cancel_url[600];
    char cand[ORDERS_MAX_CANDIDATES][TG_PROVIDER_MAX];
    size_t n_cand, next;
    /* Plans: the candidates before the subscription check, which keeps those it allows in
     * cand (the run may be retried, so it starts again from these every time). */
    char cand0[ORDERS_MAX_CANDIDATES][TG_PROVIDER_MAX];
    size_t n_cand0;
    int wanted;              /* cand0[0] was asked for by name */
    enum subs_check refused; /* SUBS_OK, or why no candidate may sell this plan */
    struct orders_attempt at[ORDERS_MAX_CANDIDATES];
    size_t n_at;
    struct pay_checkout_res res;
    enum orders_create_outcome outcome;
    struct order existing;
    char *answer; /* the 201 body */
    int failed;   /* every provider failed */
    int64_t now;
};

static void order_create_free(struct order_create *c)
{
    idem_clear(&c->idem);
    free(c->answer);
    free(c);
}

/* Replies (when the request is still there) and ends the flow. */
static void order_create_reply_error(struct order_create *c, enum tg_err e, const char *msg)
{
    struct req *r = req_ref_take(c->ref);
    if (r != NULL)
        res_error(r, e, msg, NULL);
    order_create_free(c);
}

static void order_create_next(struct order_create *c);

static void order_create_final_done(struct store_call *sc)
{
    struct order_create *c = (struct order_create *)sc;
    struct req *r = req_ref_take(c->ref);
    if (r != NULL) {
        if (sc->rc != STORE_OK)
            api_reply_store(r, sc->rc == STORE_CONFLICT ? STORE_ERROR : sc->rc, "order_checkout");
        else if (c->failed)
            res_error(r, TG_E_PAYMENT_UNAVAILABLE, NULL,
                      json_pack("{s:s}", "order_id", c->o.id));
        else
            res_json_text(r, 201, c->answer, strlen(c->answer));
    }
    order_create_free(c);
}

static enum store_rc order_create_final_run(struct store *s, struct store_call *sc)
{
    struct order_create *c = (struct order_create *)sc;
    if (c->failed)
        return orders_checkout_failed_tx(s, c->o.id, c->at, c->n_at, c->has_idem ? &c->idem : NULL, c->now);
    return orders_checkout_tx(s, c->o.id, c->o.provider, c->res.provider_ref, c->res.checkout, c->at, c->n_at,
                              c->has_idem ? &c->idem : NULL, 201, c->answer, c->now);
}

static void order_create_checkout_done(void *arg, const struct pay_checkout_res *res)
{
    struct order_create *c = arg;
    struct orders_attempt *a = &c->at[c->n_at++];
    memcpy(a->provider, c->cand[c->next - 1], sizeof a->provider);
    a->ok = res->rc == PAY_OK;
    snprintf(a->detail, sizeof a->detail, "%.15s%s%.44s", pay_rc_name(res->rc), res->reason[0] ? ": " : "",
             res->reason);
    if (res->rc != PAY_OK) {
        log_event(res->rc == PAY_MISCONFIGURED ? LOG_ERROR : LOG_WARN, "checkout_failed", "order_id", c->o.id,
                  "provider", a->provider, "outcome", pay_rc_name(res->rc), "reason", res->reason, NULL);
        order_create_next(c);
        return;
    }
    c->res = *res;
    snprintf(c->o.provider, sizeof c->o.provider, "%s", a->provider);
    snprintf(c->o.provider_ref, sizeof c->o.provider_ref, "%s", res->provider_ref);
    snprintf(c->o.checkout, sizeof c->o.checkout, "%s", res->checkout);
    json_t *j = api_order_json(&c->o);
    c->answer = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (c->answer == NULL) {
        order_create_reply_error(c, TG_E_INTERNAL, NULL);
        return;
    }
    c->now = time_now_ms();
    store_exec_call(c->ex, &c->call, STORE_CALL_WRITE, order_create_final_run, order_create_final_done);
}

/* Tries the next candidate provider, or records that all failed. */
static void order_create_next(struct order_create *c)
{
    while (c->next < c->n_cand) {
        const struct pay_provider *p = pay_provider_find(c->cand[c->next++]);
        if (p == NULL || p->checkout == NULL || !p->configured())
            continue;
        struct pay_checkout_req rq = {
            .order = &c->o,
            .description = c->description,
            .channel = c->channel,
            .notify_url = c->notify_url,
            .return_url = c->return_url,
            .cancel_url = c->cancel_url,
            .email = NULL,
            .payer_openid = c->openid[0] ? c->openid : NULL,
            .client_ip = c->client_ip,
            .provider_product_id = NULL,
            .now_ms = time_now_ms(),
        };
        snprintf(c->notify_url, sizeof c->notify_url, "%s/api/v1/webhooks/%s", tg_cfg->public_url, p->name);
        const struct catalog_product *prod = catalog_find(c->o.product);
        rq.provider_product_id = prod ? api_provider_product_id(prod, p->name) : NULL;
        /* A plan at a provider that renews it starts a subscription there; elsewhere it is
         * one prepaid period, paid like a pack. */
        if (prod != NULL && prod->kind == CATALOG_PLAN && p->subscription != NULL)
            rq.interval = catalog_period_name(prod->period);
        p->checkout(c->nx, &rq, order_create_checkout_done, c);
        return;
    }
    c->failed = 1;
    c->now = time_now_ms();
    store_exec_call(c->ex, &c->call, STORE_CALL_WRITE, order_create_final_run, order_create_final_done);
}

const char *api_provider_product_id(const struct catalog_product *p, const char *provider)
{
    char key[48];
    snprintf(key, sizeof key, "%s_product_id", provider);
    const char *id = catalog_provider_id(p, key);
    if (id == NULL) {
        snprintf(key, sizeof key, "%s_price_id", provider);
        id = catalog_provider_id(p, key);
    }
    return id;
}

/*
 * A plan order: keeps in cand the candidates that may sell plan p to a buyer whose live
 * subscription is live (NULL: none). A provider asked for by name that may not is not
 * swapped for another: the buyer is told why. c->refused receives SUBS_OK, or the reason
 * when none is left.
 */
static void order_plan_candidates(struct order_create *c, const struct subscription *live,
                                  const struct catalog_product *p)
{
    enum subs_check first = SUBS_OK;
    c->n_cand = 0;
    for (size_t i = 0; i < c->n_cand0; i++) {
        const struct pay_provider *pp = pay_provider_find(c->cand0[i]);
        enum subs_check chk = subs_may_order(live, p, c->cand0[i], pp != NULL && pp->subscription != NULL);
        if (chk == SUBS_OK) {
            memcpy(c->cand[c->n_cand++], c->cand0[i], TG_PROVIDER_MAX);
            continue;
        }
        if (first == SUBS_OK)
            first = chk;
        if (i == 0 && c->wanted)
            break;
    }
    c->refused = c->n_cand > 0 ? SUBS_OK : first;
}

static enum store_rc order_create_insert_run(struct store *s, struct store_call *sc)
{
    struct order_create *c = (struct order_create *)sc;
    const struct catalog_product *p = catalog_find(c->o.product);
    c->refused = SUBS_OK;
    if (p != NULL && p->kind == CATALOG_PLAN) {
        struct subscription live;
        enum store_rc rc = store_sub_get_live(s, c->o.user_id, &live);
        if (rc != STORE_OK && rc != STORE_NOTFOUND)
            return rc;
        order_plan_candidates(c, rc == STORE_OK ? &live : NULL, p);
        /* The order names the provider it will try first. */
        snprintf(c->o.provider, sizeof c->o.provider, "%s", c->n_cand ? c->cand[0] : c->cand0[0]);
    }
    enum store_rc rc = orders_create_tx(s, c->has_idem ? &c->idem : NULL, &c->o, c->now, &c->outcome, &c->existing);
    /* Refused: nothing is stored (the rollback takes the Idempotency-Key's marker with it),
     * but a key whose answer exists still replays it. */
    if (rc == STORE_OK && c->outcome == ORDERS_CREATED && c->refused != SUBS_OK)
        return STORE_CONFLICT;
    return rc;
}

static void order_create_insert_done(struct store_call *sc)
{
    struct order_create *c = (struct order_create *)sc;
    if (sc->rc != STORE_OK) {
        struct req *r = req_ref_take(c->ref);
        if (r != NULL && sc->rc == STORE_CONFLICT && c->refused != SUBS_OK)
            api_reply_subs_check(r, c->refused);
        else if (r != NULL)
            api_reply_store(r, sc->rc, "order_create");
        order_create_free(c);
        return;
    }
    switch (c->outcome) {
    case ORDERS_CREATED:
        order_create_next(c);
        return;
    case ORDERS_REPLAY: {
        struct req *r = req_ref_take(c->ref);
        if (r != NULL) {
            res_header(r, "idempotent-replayed", "true");
            res_json_text(r, c->idem.status, c->idem.body, strlen(c->idem.body));
        }
        order_create_free(c);
        return;
    }
    case ORDERS_IN_PROGRESS:
        order_create_reply_error(c, TG_E_IDEMPOTENCY_IN_PROGRESS, NULL);
        return;
    case ORDERS_KEY_REUSED:
        order_create_reply_error(c, TG_E_IDEMPOTENCY_MISMATCH, NULL);
        return;
    }
}

/* Puts the region's payment providers in the order to try them: `wanted` first. */
static void order_candidates(struct order_create *c, const struct region_profile *p, const char *wanted)
{
    c->n_cand = 0;
    c->wanted = wanted != NULL;
    if (wanted != NULL)
        snprintf(c->cand[c->n_cand++], TG_PROVIDER_MAX, "%s", wanted);
    for (size_t i = 0; i < p->n_payment && c->n_cand < ORDERS_MAX_CANDIDATES; i++)
        if (wanted == NULL || strcmp(p->payment[i], wanted) != 0)
            snprintf(c->cand[c->n_cand++], TG_PROVIDER_MAX, "%s", p->payment[i]);
    memcpy(c->cand0, c->cand, sizeof c->cand0);
    c->n_cand0 = c->n_cand;
}

static int profile_offers(const struct region_profile *p, const char *provider)
{
    for (size_t i = 0; i < p->n_payment; i++)
        if (strcmp(p->payment[i], provider) == 0)
            return 1;
    return 0;
}

static void order_create_region_done(struct req *r, const struct region_decision *d, void *arg)
{
    struct order_create *c = arg;
    if (r == NULL) {
        order_create_free(c);
        return;
    }
    const struct catalog_product *prod = catalog_find(c->o.product);
    const struct catalog_price *price = prod ? catalog_price(prod, d->profile->currency) : NULL;
    if (prod == NULL) {
        api_reply_field(r, TG_E_UNKNOWN_PRODUCT, "product", NULL);
        order_create_free(c);
        return;
    }
    if (price == NULL) {
        api_reply_field(r, TG_E_PRODUCT_UNAVAILABLE, "product", "This product is not sold in your region's currency.");
        order_create_free(c);
        return;
    }
    const char *wanted = c->o.provider[0] ? c->o.provider : NULL;
    if (wanted != NULL && !profile_offers(d->profile, wanted)) {
        api_reply_field(r, TG_E_PAYMENT_METHOD_UNAVAILABLE, "provider", NULL);
        order_create_free(c);
        return;
    }
    order_candidates(c, d->profile, wanted);
    if (c->n_cand == 0) {
        res_error(r, TG_E_PAYMENT_UNAVAILABLE, "No payment provider is configured for your region.", NULL);
        order_create_free(c);
        return;
    }

    c->now = time_now_ms();
    id_new(c->o.id, "ord");
    memcpy(c->o.user_id, req_principal(r)->user_id, sizeof c->o.user_id);
    snprintf(c->o.kind, sizeof c->o.kind, "%s", prod->kind == CATALOG_PLAN ? "plan" : "pack");
    c->o.credits = prod->credits;
    c->o.amount = price->amount;
    snprintf(c->o.currency, sizeof c->o.currency, "%s", price->currency);
    snprintf(c->o.provider, sizeof c->o.provider, "%s", c->cand[0]);
    snprintf(c->o.status, sizeof c->o.status, "pending");
    snprintf(c->o.region, sizeof c->o.region, "%s", region_name(d->region));
    snprintf(c->o.channel, sizeof c->o.channel, "%s", c->channel);
    c->o.created_at = c->o.updated_at = c->now;
    c->o.expires_at = c->now + (int64_t)tg_cfg->order_ttl_s * 1000;
    c->o.next_query_at = orders_next_query_at(c->now, 0, (int64_t)tg_cfg->order_query_after_s * 1000,
                                              tg_cfg->order_query_max);
    if (prod->kind == CATALOG_PLAN)
        snprintf(c->description, sizeof c->description, "%s plan, %lld credits a month, one %s",
                 prod->plan ? prod->plan->id : prod->id, (long long)prod->credits, catalog_period_name(prod->period));
    else
        snprintf(c->description, sizeof c->description, "%lld credits", (long long)prod->credits);
    snprintf(c->return_url, sizeof c->return_url, "%s/api/v1/orders/%s/return", tg_cfg->public_url, c->o.id);
    snprintf(c->cancel_url, sizeof c->cancel_url, "%s%s", tg_cfg->public_url,
             c->o.return_url[0] ? c->o.return_url : "/");
    snprintf(c->client_ip, sizeof c->client_ip, "%s", req_client_ip(r) ? req_client_ip(r) : "");
    c->ex = req_exec(r);
    c->nx = req_net(r);
    c->ref = req_ref_new(r);
    store_exec_call(c->ex, &c->call, STORE_CALL_WRITE, order_create_insert_run, order_create_insert_done);
}

static int str_field(struct req *r, json_t *body, const char *name, char *out, size_t cap, int required)
{
    json_t *v = json_object_get(body, name);
    if (v == NULL || json_is_null(v)) {
        if (required) {
            api_reply_field(r, TG_E_VALIDATION, name, "This field is required.");
            return -1;
        }
        out[0] = '\0';
        return 0;
    }
    const char *s = json_string_value(v);
    if (s == NULL || s[0] == '\0' || strlen(s) >= cap) {
        api_reply_field(r, TG_E_VALIDATION, name, "Must be a non-empty string of bounded length.");
        return -1;
    }
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f) {
            api_reply_field(r, TG_E_VALIDATION, name, "Must not contain control characters.");
            return -1;
        }
    memcpy(out, s, strlen(s) + 1);
    return 0;
}

void api_orders_create(struct req *r)
{
    const char *key = req_header(r, "idempotency-key");
    if (key != NULL && !idem_key_valid(key)) {
        api_reply_field(r, TG_E_VALIDATION, "Idempotency-Key", "1 to 128 visible ASCII characters.");
        return;
    }
    /* "amount" and "currency" are accepted and ignored: a client may send what it showed the
     * buyer, but the price is the catalog's, and the answer says which. Anything else unknown
     * is refused. */
    static const char *const allowed[] = {"product", "provider",  "channel", "openid",
                                          "return_url", "amount", "currency", NULL};
    struct jerr e;
    json_t *body = req_json_or_reply(r);
    if (body == NULL)
        return;
    if (jv_only(body, allowed, &e) != 0) {
        api_reply_jerr(r, &e);
        return;
    }
    struct order_create *c = xcalloc(1, sizeof *c);
    if (str_field(r, body, "product", c->o.product, sizeof c->o.product, 1) != 0 ||
        str_field(r, body, "provider", c->o.provider, sizeof c->o.provider, 0) != 0 ||
        str_field(r, body, "channel", c->channel, sizeof c->channel, 0) != 0 ||
        str_field(r, body, "openid", c->openid, sizeof c->openid, 0) != 0 ||
        str_field(r, body, "return_url", c->o.return_url, sizeof c->o.return_url, 0) != 0) {
        order_create_free(c);
        return;
    }
    if (c->o.provider[0] && !providers_payment_known(c->o.provider)) {
        api_reply_field(r, TG_E_PAYMENT_METHOD_UNAVAILABLE, "provider", NULL);
        order_create_free(c);
        return;
    }
    if (c->o.return_url[0] && !oauth_return_to_valid(c->o.return_url)) {
        api_reply_field(r, TG_E_VALIDATION, "return_url", "Must be a path on this site, like /credits.");
        order_create_free(c);
        return;
    }
    if (key != NULL) {
        size_t blen;
        const char *braw = req_body(r, &blen);
        c->has_idem = 1;
        idem_init(&c->idem, req_principal(r)->user_id, key, "POST", "/api/v1/orders", braw, blen);
    }
    api_region_for_request(r, order_create_region_done, c);
}

/* ---- GET /api/v1/orders, /api/v1/orders/{id}, and the admin's ---- */

struct order_read {
    struct api_call base;
    char id[TG_ID_MAX];
    char owner[TG_ID_MAX]; /* "" for an admin: any order */
    struct order o;
    struct refund *refunds;
    size_t n_refunds;
};

static enum store_rc order_read_run(struct store *s, struct store_call *sc)
{
    struct order_read *c = (struct order_read *)sc;
    enum store_rc rc = store_order_get(s, c->id, &c->o);
    if (rc != STORE_OK)
        return rc;
    if (c->owner[0] && strcmp(c->owner, c->o.user_id) != 0)
        return STORE_NOTFOUND; /* someone else's order does not exist for the caller */
    if (!c->owner[0]) {
        free(c->refunds);
        c->refunds = NULL;
        return store_refund_list(s, c->id, &c->refunds, &c->n_refunds);
    }
    return STORE_OK;
}

json_t *api_refund_json(const struct refund *rf)
{
    char ts[40];
    return json_pack("{s:s, s:s, s:{s:I, s:s}, s:I, s:I, s:s, s:s, s:o, s:s, s:s}", "id", rf->id, "order_id",
                     rf->order_id, "amount", "amount", (json_int_t)rf->amount, "currency", rf->currency, "credits",
                     (json_int_t)rf->credits, "shortfall", (json_int_t)rf->shortfall, "status", rf->status, "reason",
                     rf->reason, "provider_refund_id",
                     rf->provider_refund_id[0] ? json_string(rf->provider_refund_id) : json_null(), "actor_id",
                     rf->actor_id, "created_at", time_rfc3339(rf->created_at, ts));
}

static void order_read_reply(struct req *r, struct api_call *ac)
{
    struct order_read *c = (struct order_read *)ac;
    if (ac->call.rc != STORE_OK) {
        api_reply_store(r, ac->call.rc, "order_get");
        return;
    }
    json_t *j = api_order_json(&c->o);
    if (j == NULL) {
        res_error(r, TG_E_INTERNAL, NULL, NULL);
        return;
    }
    if (!c->owner[0]) {
        json_t *a = json_array();
        for (size_t i = 0; i < c->n_refunds; i++)
            json_array_append_new(a, api_refund_json(&c->refunds[i]));
        json_object_set_new(j, "refunds", a);
        json_object_set_new(j, "user_id", json_string(c->o.user_id));
        json_object_set_new(j, "provider_ref", c->o.provider_ref[0] ? json_string(c->o.provider_ref) : json_null());
        json_object_set_new(j, "query_attempts", json_integer(c->o.query_attempts));
    }
    res_header(r, "cache-control", "no-store");
    res_json(r, 200, j);
}

static void order_read_cleanup(struct api_call *ac) { free(((struct order_read *)ac)->refunds); }

static void order_read_start(struct req *r, int admin)
{
    const char *id = api_id_param_or_reply(r, "ord");
    if (id == NULL)
        return;
    struct order_read *c = api_call_new(r, sizeof *c, STORE_CALL_READ);
    snprintf(c->id, sizeof c->id, "%s", id);
    if (!admin)
        memcpy(c->owner, req_principal(r)->user_id, sizeof c->owner);
    api_submit(r, &c->base, order_read_run, order_read_reply, order_read_cleanup);
}

void api_orders_get(struct req *r) { order_read_start(r, 0); }
void api_admin_order_get(struct req *r) { order_read_start(r, 1); }

struct order_list {
    struct api_call base;
    char user_id[TG_ID_MAX], status[24], provider[TG_PROVIDER_MAX], cursor[TG_ID_MAX];
    struct order_filter f;
    size_t limit;
    int admin;
    struct order *orders;
    size_t n;
};

static enum store_rc order_list_run(struct store *s, struct store_call *sc)
{
    struct order_list *c = (struct order_list *)sc;
    free(c->orders);
    c->orders = NULL;
    c->f.user_id = c->user_id;
    c->f.status = c->status;
    c->f.provider = c->provider;
    /* One more than asked for tells whether another page exists. */
    return store_order_search(s, &c->f, c->cursor[0] ? c->cursor : NULL, c->limit + 1, &c->orders, &c->n);
}

static void order_list_reply(struct req *r, struct api_call *ac)
{
    struct order_list *c = (struct order_list *)ac;
    if (ac->call.rc != STORE_OK) {
        api_reply_store(r, ac->call.rc == STORE_NOTFOUND ? STORE_ERROR : ac->call.rc, "order_list");
        return;
    }
    json_t *data = json_array();
    size_t shown = c->n > c->limit ? c->limit : c->n;
    for (size_t i = 0; i < shown; i++) {
        json_t *j = api_order_json(&c->orders[i]);
        if (j != NULL && c->admin)
            json_object_set_new(j, "user_id", json_string(c->orders[i].user_id));
        json_array_append_new(data, j);
    }
    json_t *next = c->n > c->limit ? json_string(c->orders[c->limit - 1].id) : json_null();
    res_header(r, "cache-control", "no-store");
    res_json(r, 200, json_pack("{s:o, s:o}", "data", data, "next_cursor", next));
}

static void order_list_cleanup(struct api_call *ac) { free(((struct order_list *)ac)->orders); }

static const char *const order_statuses[] = {"pending", "paid", "failed", "expired", "refunded",
                                             "partially_refunded", NULL};

/* ?from= / ?to= as RFC 3339 or milliseconds; 0 when absent. -1 when malformed. */
static int time_param(struct req *r, const char *name, int64_t *out)
{
    const char *v = req_query(r, name);
    *out = 0;
    if (v == NULL || v[0] == '\0')
        return 0;
    if (time_parse_rfc3339(v, strlen(v), out) == 0)
        return 0;
    api_reply_field(r, TG_E_VALIDATION, name, "Must be an RFC 3339 time, like 2026-01-31T00:00:00Z.");
    return -1;
}

static void order_list_start(struct req *r, int admin)
{
    size_t limit;
    const char *cursor;
    if (api_page_params_or_reply(r, "ord", &limit, &cursor) != 0)
        return;
    struct order_list *c = api_call_new(r, sizeof *c, STORE_CALL_READ);
    c->limit = limit;
    c->admin = admin;
    snprintf(c->cursor, sizeof c->cursor, "%s", cursor ? cursor : "");
    if (!admin) {
        memcpy(c->user_id, req_principal(r)->user_id, sizeof c->user_id);
    } else {
        if (api_admin_filters_or_reply(r, order_statuses, NULL, c->status, c->provider, c->user_id) != 0)
            return;
        if (time_param(r, "from", &c->f.created_from) != 0 || time_param(r, "to", &c->f.created_to) != 0)
            return;
    }
    api_submit(r, &c->base, order_list_run, order_list_reply, order_list_cleanup);
}

void api_orders_list(struct req *r) { order_list_start(r, 0); }
void api_admin_orders_list(struct req *r) { order_list_start(r, 1); }

/* ---- GET /api/v1/orders/{id}/return ---- */

/*
 * The provider sent the browser back. Whatever the browser says proves nothing: the
 * provider is asked (PayPal's payment is captured here), a payment it reports is fulfilled
 * like a notification, and the browser goes on to the page the order was created with.
 */
struct order_return {
    struct store_call call;
    struct req_ref *ref;
    struct store_exec *ex;
    char id[TG_ID_MAX];
    struct order o;
};

static void order_return_redirect(struct order_return *c)
{
    struct req *r = req_ref_take(c->ref);
    if (r != NULL) {
        char *loc = xasprintf("%s%s%sorder_id=%s", tg_cfg->public_url, c->o.return_url[0] ? c->o.return_url : "/",
                              strchr(c->o.return_url, '?') ? "&" : "?", c->o.id);
        res_header(r, "location", loc);
        res_header(r, "cache-control", "no-store");
        res_empty(r, 302);
        free(loc);
    }
    free(c);
}

static void order_return_fulfilled(void *arg, const struct orders_fulfil_result *res)
{
    struct order_return *c = arg;
    if (res->rc != STORE_OK)
        log_event(LOG_WARN, "order_return_fulfil", "order_id", c->o.id, "outcome", orders_outcome_name(res->outcome),
                  NULL);
    order_return_redirect(c);
}

static void order_return_queried(void *arg, const struct pay_query_res *res)
{
    struct order_return *c = arg;
    if (res->rc != PAY_OK || res->state != PAY_STATE_PAID) {
        order_return_redirect(c);
        return;
    }
    const struct pay_event *ev = &res->ev;
    struct payment_notice n = {
        .provider = c->o.provider,
        .event_id = ev->event_id,
        .kind = ev->type[0] ? ev->type : "query",
        .order_id = ev->order_id[0] ? ev->order_id : c->o.id,
        .provider_ref = ev->provider_ref,
        .amount = ev->amount,
        .currency = ev->currency,
        .notice = NOTICE_PAID,
        .subscription_ref = ev->subscription_ref[0] ? ev->subscription_ref : NULL,
        .period_start = ev->period_start,
        .period_end = ev->period_end,
    };
    orders_fulfil(c->ex, &n, time_now_ms(), order_return_fulfilled, c);
}

static enum store_rc order_return_run(struct store *s, struct store_call *sc)
{
    struct order_return *c = (struct order_return *)sc;
    return store_order_get(s, c->id, &c->o);
}

static void order_return_loaded(struct store_call *sc)
{
    struct order_return *c = (struct order_return *)sc;
    if (sc->rc != STORE_OK) {
        struct req *r = req_ref_take(c->ref);
        if (r != NULL)
            api_reply_store(r, sc->rc, "order_return");
        free(c);
        return;
    }
    const struct pay_provider *p = pay_provider_find(c->o.provider);
    struct req *r = req_ref_take(c->ref);
    if (r == NULL) {
        free(c);
        return;
    }
    if (strcmp(c->o.status, "pending") != 0 || p == NULL || p->query == NULL || !p->configured()) {
        c->ref = req_ref_new(r);
        order_return_redirect(c);
        return;
    }
    struct net_exec *nx = req_net(r);
    c->ref = req_ref_new(r);
    p->query(nx, &c->o, time_now_ms(), order_return_queried, c);
}

void api_orders_return(struct req *r)
{
    const char *id = api_id_param_or_reply(r, "ord");
    if (id == NULL)
        return;
    struct order_return *c = xcalloc(1, sizeof *c);
    snprintf(c->id, sizeof c->id, "%s", id);
    c->ex = req_exec(r);
    c->ref = req_ref_new(r);
    store_exec_call(c->ex, &c->call, STORE_CALL_READ, order_return_run, order_return_loaded);
}

/* ---- POST /api/v1/admin/orders/{id}/refund ---- */

struct order_refund {
    struct store_call call;
    struct req_ref *ref;
    struct store_exec *ex;
    struct net_exec *nx;
    char order_id[TG_ID_MAX], actor_id[TG_ID_MAX], ip[64], request_id[TG_ID_MAX];
    char reason[501];
    int64_t amount;
    int allow_negative;
    int has_idem;
    struct idem idem;
    int stage; /* 0: reserve, 1: the provider's answer */
    enum refunds_rc rrc;
    struct refund rf;
    struct order o;
    struct pay_refund_res pres;
    char *answer;
    int status;
};

static void order_refund_free(struct order_refund *c)
{
    idem_clear(&c->idem);
    free(c->answer);
    free(c);
}

static char *order_refund_answer(const struct order_refund *c)
{
    json_t *j = json_pack("{s:o, s:o}", "refund", api_refund_json(&c->rf), "order", api_order_json(&c->o));
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    return s;
}

static enum store_rc order_refund_run(struct store *s, struct store_call *sc)
{
    struct order_refund *c = (struct order_refund *)sc;
    enum store_rc rc;
    if (c->stage == 0) {
        if (c->has_idem) {
            rc = idem_check_tx(s, &c->idem);
            if (rc != STORE_OK || c->idem.replay || c->idem.mismatch)
                return rc;
        }
        struct refund_request rq = {c->order_id, c->amount,    c->reason,    c->allow_negative,
                                    c->actor_id, c->ip,        c->request_id};
        rc = refunds_begin_tx(s, &rq, time_now_ms(), &c->rrc, &c->rf, &c->o);
        if (rc == STORE_OK && c->has_idem) {
            /* A marker until the provider answers: a concurrent retry with the key waits. */
            char marker[64];
            snprintf(marker, sizeof marker, "{\"refund_id\":\"%s\"}", c->rf.id);
            rc = idem_save_tx(s, &c->idem, 202, marker, time_now_ms());
        }
        return rc;
    }
    int ok = c->pres.rc == PAY_OK;
    /* No answer (a timeout) is not a refusal: the refund stays pending until the provider's
     * notification, or an operator, says how it ended. */
    int undecided = c->pres.rc == PAY_UNAVAILABLE;
    rc = refunds_finish_tx(s, c->rf.id, ok || undecided, ok ? c->pres.pending : 1, c->pres.provider_refund_id,
                           time_now_ms(), &c->rf, &c->o);
    if (rc != STORE_OK)
        return rc;
    free(c->answer);
    c->answer = order_refund_answer(c);
    c->status = ok ? 200 : undecided ? 202 : 502;
    if (c->has_idem) {
        /* A declined refund changed nothing in the end: the key may be used again. */
        if (c->answer != NULL && (ok || undecided))
            rc = idem_replace_tx(s, &c->idem, c->status, c->answer, time_now_ms());
        else
            rc = idem_forget_tx(s, &c->idem);
    }
    return rc;
}

static void order_refund_stage1_done(struct store_call *sc)
{
    struct order_refund *c = (struct order_refund *)sc;
    struct req *r = req_ref_take(c->ref);
    if (r != NULL) {
        if (sc->rc != STORE_OK)
            api_reply_store(r, sc->rc, "refund_finish");
        else if (c->status == 502)
            res_error(r, TG_E_REFUND_DECLINED, NULL,
                      json_pack("{s:s, s:s}", "refund_id", c->rf.id, "reason", c->pres.reason));
        else
            res_json_text(r, c->status, c->answer, strlen(c->answer));
    }
    order_refund_free(c);
}

static void order_refund_provider_done(void *arg, const struct pay_refund_res *res)
{
    struct order_refund *c = arg;
    c->pres = *res;
    if (res->rc != PAY_OK)
        log_event(LOG_WARN, "refund_failed", "order_id", c->order_id, "refund_id", c->rf.id, "outcome",
                  pay_rc_name(res->rc), "reason", res->reason, NULL);
    c->stage = 1;
    store_exec_call(c->ex, &c->call, STORE_CALL_WRITE, order_refund_run, order_refund_stage1_done);
}

static void order_refund_stage0_done(struct store_call *sc)
{
    struct order_refund *c = (struct order_refund *)sc;
    int go = sc->rc == STORE_OK && !c->idem.replay && !c->idem.mismatch;
    if (go) {
        /* The credits are taken and the amount reserved: ask the provider even if the admin
         * went away meanwhile (the request handle stays until the end). */
        const struct pay_provider *p = pay_provider_find(c->o.provider);
        if (p == NULL || p->refund == NULL || !p->configured()) {
            struct pay_refund_res res;
            memset(&res, 0, sizeof res);
            res.rc = PAY_MISCONFIGURED;
            snprintf(res.reason, sizeof res.reason, "%s",
                     p == NULL || p->refund == NULL ? "refunds_not_offered_by_provider" : "provider_not_configured");
            order_refund_provider_done(c, &res);
            return;
        }
        char notify[512];
        snprintf(notify, sizeof notify, "%s/api/v1/webhooks/%s", tg_cfg->public_url, p->name);
        struct pay_refund_req rq = {&c->o, c->rf.id, c->amount, c->reason, notify};
        p->refund(c->nx, &rq, order_refund_provider_done, c);
        return;
    }
    struct req *r = req_ref_take(c->ref);
    if (r == NULL) {
        order_refund_free(c);
        return;
    }
    if (c->idem.mismatch) {
        res_error(r, TG_E_IDEMPOTENCY_MISMATCH, NULL, NULL);
    } else if (c->idem.replay && c->idem.status == 202 && strstr(c->idem.body, "\"refund_id\"") &&
               !strstr(c->idem.body, "\"order\"")) {
        res_error(r, TG_E_IDEMPOTENCY_IN_PROGRESS, NULL, NULL);
    } else if (c->idem.replay) {
        res_header(r, "idempotent-replayed", "true");
        res_json_text(r, c->idem.status, c->idem.body, strlen(c->idem.body));
    } else if (sc->rc == STORE_CONFLICT) {
        switch (c->rrc) {
        case REFUNDS_NOT_FOUND: res_error(r, TG_E_NOT_FOUND, NULL, NULL); break;
        case REFUNDS_NOT_PAID: res_error(r, TG_E_ORDER_NOT_REFUNDABLE, NULL, NULL); break;
        case REFUNDS_EXCEEDS:
            res_error(r, TG_E_REFUND_EXCEEDS_PAYMENT, NULL,
                      json_pack("{s:I, s:s}", "refundable", (json_int_t)(c->o.amount - c->o.refunded_amount),
                                "currency", c->o.currency));
            break;
        case REFUNDS_SPENT:
            res_error(r, TG_E_INSUFFICIENT_CREDITS,
                      "The buyer has spent the credits this refund takes back; pass allow_negative to refund anyway.",
                      NULL);
            break;
        default: api_reply_field(r, TG_E_VALIDATION, "amount", NULL); break;
        }
    } else {
        api_reply_store(r, sc->rc, "refund_begin");
    }
    order_refund_free(c);
}

void api_admin_order_refund(struct req *r)
{
    const char *id = api_id_param_or_reply(r, "ord");
    const char *key = req_header(r, "idempotency-key");
    if (id == NULL)
        return;
    if (key != NULL && !idem_key_valid(key)) {
        api_reply_field(r, TG_E_VALIDATION, "Idempotency-Key", "1 to 128 visible ASCII characters.");
        return;
    }
    static const char *const allowed[] = {"amount", "reason", "allow_negative", NULL};
    struct jerr e;
    json_t *body = req_json_or_reply(r);
    if (body == NULL)
        return;
    if (jv_only(body, allowed, &e) != 0) {
        api_reply_jerr(r, &e);
        return;
    }
    json_t *amount = json_object_get(body, "amount"), *reason = json_object_get(body, "reason"),
           *neg = json_object_get(body, "allow_negative");
    if (!json_is_integer(amount) || json_integer_value(amount) <= 0) {
        api_reply_field(r, TG_E_VALIDATION, "amount", "A positive integer in minor units (cents, fen).");
        return;
    }
    if (!json_is_string(reason) || json_string_length(reason) == 0 || json_string_length(reason) > 500) {
        api_reply_field(r, TG_E_VALIDATION, "reason", "1 to 500 characters saying why.");
        return;
    }
    if (neg != NULL && !json_is_boolean(neg)) {
        api_reply_field(r, TG_E_VALIDATION, "allow_negative", "Must be true or false.");
        return;
    }
    struct order_refund *c = xcalloc(1, sizeof *c);
    snprintf(c->order_id, sizeof c->order_id, "%s", id);
    memcpy(c->actor_id, req_principal(r)->user_id, sizeof c->actor_id);
    snprintf(c->ip, sizeof c->ip, "%s", req_client_ip(r) ? req_client_ip(r) : "");
    snprintf(c->request_id, sizeof c->request_id, "%s", req_id(r));
    snprintf(c->reason, sizeof c->reason, "%s", json_string_value(reason));
    c->amount = json_integer_value(amount);
    c->allow_negative = json_is_true(neg);
    if (key != NULL) {
        size_t blen;
        const char *braw = req_body(r, &blen);
        c->has_idem = 1;
        idem_init(&c->idem, c->actor_id, key, "POST", req_path(r), braw, blen);
    }
    c->ex = req_exec(r);
    c->nx = req_net(r);
    c->ref = req_ref_new(r);
    store_exec_call(c->ex, &c->call, STORE_CALL_WRITE, order_refund_run, order_refund_stage0_done);
}
