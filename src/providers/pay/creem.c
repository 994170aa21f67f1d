/*
 * creem.c - the Creem payment provider (creem.h; PROVIDERS.md section 5).
 *
 * The pure pieces (notification verification, request bodies, answer parsers) come first so
 * that the unit test and the fuzz target, which include this file, reach them without a
 * network; the operations of the vtable, which only glue them to net.h, come last.
 */
#include "providers/pay/creem.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/config.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "crypto/encode.h"
#include "crypto/hash.h"
#include "domain/catalog.h"
#include "net/net.h"

/* One attempt of a checkout or a refund (not idempotent at Creem: never retried), and of
 * a checkout read (idempotent: retried once). */
#define CREEM_TIMEOUT_MS 10000
#define CREEM_QUERY_RETRIES 1
/* A checkout entity with its product, order and customer is a few kB. */
#define CREEM_MAX_RESPONSE (256 * 1024)
/* Creem's ids (ch_..., evt_..., ref_..., tran_...) are ~25 characters; 100 leaves room and
 * fits TG_PROVIDER_REF_MAX with a "query:" prefix. */
#define CREEM_ID_MAX 100
/* Standard Webhooks message ids ("msg_..."); bounded before they go into the signed text. */
#define CREEM_WEBHOOK_ID_MAX 256
/* webhook-signature: a few "v1,<44 base64>" entries during a secret rotation. */
#define CREEM_SIG_HEADER_MAX 4096
/* The base64 part of a "whsec_" secret (Standard Webhooks: 24 to 64 bytes of key). */
#define CREEM_SECRET_B64_MAX 512

static const char *cfg(const char *key)
{
    const char *v = config_get(key);
    return v != NULL && v[0] != '\0' ? v : NULL;
}

static int creem_configured(void)
{
    return cfg("TG_CREEM_API_KEY") != NULL && cfg("TG_CREEM_WEBHOOK_SECRET") != NULL;
}

/* ---- small checks ------------------------------------------------------------------------ */

/* 1 when s is 1..max bytes of printable ASCII without a space (Creem's ids, our order ids). */
static int token_ok(const char *s, size_t max)
{
    size_t n = 0;
    if (s == NULL)
        return 0;
    for (; s[n] != '\0'; n++)
        if (n >= max || (unsigned char)s[n] <= 0x20 || (unsigned char)s[n] >= 0x7f)
            return 0;
    return n > 0;
}

/* The string member key of o, or NULL when absent, null or not a string. */
static const char *jstr(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* A member that is present (and not null) must be a string: 1 when key is absent, null or a
 * string, else 0. */
static int jstr_or_absent(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    return v == NULL || json_is_null(v) || json_is_string(v);
}

/* Creem sends ISO 4217 upper-case; three ASCII letters of either case are taken and
 * upper-cased, anything else refused. */
static int currency_ok(const char *s, char out[4])
{
    if (s == NULL || strlen(s) != 3)
        return 0;
    for (int i = 0; i < 3; i++) {
        char c = s[i];
        if (c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        if (c < 'A' || c > 'Z')
            return 0;
        out[i] = c;
    }
    out[3] = '\0';
    return 1;
}

/* An amount in cents: an integer > 0 (jansson reads 10.0 and 1e3 as reals: refused). */
static int amount_ok(const json_t *v, int64_t *out)
{
    if (!json_is_integer(v) || json_integer_value(v) <= 0)
        return 0;
    *out = (int64_t)json_integer_value(v);
    return 1;
}

static enum pay_rc say(char *reason, size_t cap, enum pay_rc rc, const char *why)
{
    snprintf(reason, cap, "%s", why);
    return rc;
}

/* ---- subscriptions: products, dates, periods -------------------------------------------- */

/* Timestamps before 2000-01-01 are refused: a period in seconds read as milliseconds (or a
 * zero standing for "none") would otherwise pass as a date of 1970. */
#define CREEM_MS_MIN INT64_C(946684800000)
/* ... and after 9999-12-31 (time_parse_rfc3339's range). */
#define CREEM_MS_MAX INT64_C(253402300799999)
/* An ISO 8601 date as Creem writes it is 24 characters; a numeric offset and nanoseconds
 * make it 35. */
#define CREEM_DATE_MAX 40

/* The Creem product id of a "product" member: an id, or an expanded product entity. NULL when
 * absent, null or of another shape. */
static const char *product_ref(const json_t *v)
{
    if (json_is_string(v))
        return json_string_value(v);
    return json_is_object(v) ? jstr(v, "id") : NULL;
}

/* A "product" member that is present must name a product: 1 when absent, null, or an id (or
 * an entity with one) within bounds. */
static int product_ok(const json_t *v)
{
    return v == NULL || json_is_null(v) || token_ok(product_ref(v), CATALOG_PROVIDER_ID_MAX - 1);
}

/* Our plan product sold at Creem as creem_id (the catalog's creem_product_id), into out; ""
 * when the catalog sells no plan as that product (or is not loaded). The checkout's metadata
 * also names the product bought, but not the one in force after a plan change: Creem's
 * product id is the truth. */
static void product_of(const char *creem_id, char out[TG_PRODUCT_MAX])
{
    const struct catalog *c = catalog_get();

    out[0] = '\0';
    if (c == NULL || creem_id == NULL || creem_id[0] == '\0')
        return;
    for (size_t i = 0; i < c->n_products; i++) {
        const struct catalog_product *p = &c->products[i];
        if (p->kind == CATALOG_PLAN && strcmp(p->creem_product_id, creem_id) == 0) {
            snprintf(out, TG_PRODUCT_MAX, "%s", p->id);
            return;
        }
    }
}

/* A date member of o: 0 with *ms 0 when absent or null, 0 with *ms when it is an RFC 3339
 * date in range, -1 for anything else. */
static int jdate(const json_t *o, const char *key, int64_t *ms)
{
    const json_t *v = json_object_get(o, key);

    *ms = 0;
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_string(v) || json_string_length(v) > CREEM_DATE_MAX ||
        time_parse_rfc3339(json_string_value(v), json_string_length(v), ms) != 0 || *ms < CREEM_MS_MIN ||
        *ms > CREEM_MS_MAX) {
        *ms = 0;
        return -1;
    }
    return 0;
}

/* A millisecond timestamp member of o (a transaction's period_start): as jdate. */
static int jstamp(const json_t *o, const char *key, int64_t *ms)
{
    const json_t *v = json_object_get(o, key);

    *ms = 0;
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < CREEM_MS_MIN || json_integer_value(v) > CREEM_MS_MAX)
        return -1;
    *ms = (int64_t)json_integer_value(v);
    return 0;
}

/*
 * The current period of a subscription entity: current_period_start_date and
 * current_period_end_date, else (both absent) its last transaction's period_start and
 * period_end. Either may be 0 (not carried); when both are carried the end is after the
 * start. Returns 0, or -1 when one is malformed.
 */
static int sub_period(const json_t *so, int64_t *start, int64_t *end)
{
    const json_t *tx = json_object_get(so, "last_transaction");

    if (jdate(so, "current_period_start_date", start) != 0 || jdate(so, "current_period_end_date", end) != 0)
        return -1;
    if (*start == 0 && *end == 0 && json_is_object(tx) &&
        (jstamp(tx, "period_start", start) != 0 || jstamp(tx, "period_end", end) != 0))
        return -1;
    if (*start != 0 && *end != 0 && *end <= *start)
        return -1;
    return 0;
}

/*
 * A subscription entity, the object of a subscription.* event of type `type` (envelope id
 * evid), as ev: the subscription's id, period and product for every kind, and
 *   subscription.paid                  -> SUB_PERIOD: the period (required), amount and
 *        currency of the last transaction (else the product's price), invoice_ref and
 *        provider_ref = the last transaction's id (else the event's);
 *   subscription.past_due / .unpaid    -> SUB_PAST_DUE (Creem retries the payment);
 *   subscription.scheduled_cancel      -> SUB_STATE, cancel_at_period_end 1;
 *   subscription.canceled              -> SUB_ENDED, unless the subscription's status says
 *        scheduled_cancel (then as above);
 *   subscription.expired               -> SUB_ENDED;
 *   subscription.update                -> SUB_STATE, cancel_at_period_end 1 exactly when the
 *        status is scheduled_cancel.
 */
static enum pay_rc sub_event(const char *type, const char *evid, const json_t *so, struct pay_event *ev,
                             char *reason, size_t cap)
{
    const char *sid = jstr(so, "id"), *st = jstr(so, "status");
    const json_t *prod = json_object_get(so, "product");
    int scheduled;

    if (!token_ok(sid, CREEM_ID_MAX))
        return say(reason, cap, PAY_INVALID, "subscription_id_malformed");
    if (!jstr_or_absent(so, "status"))
        return say(reason, cap, PAY_INVALID, "subscription_status_malformed");
    if (!product_ok(prod))
        return say(reason, cap, PAY_INVALID, "product_malformed");
    if (sub_period(so, &ev->period_start, &ev->period_end) != 0)
        return say(reason, cap, PAY_INVALID, "period_malformed");
    snprintf(ev->subscription_ref, sizeof ev->subscription_ref, "%s", sid);
    product_of(product_ref(prod), ev->product);
    scheduled = st != NULL && strcmp(st, "scheduled_cancel") == 0;

    if (strcmp(type, "subscription.paid") == 0) {
        const json_t *tx = json_object_get(so, "last_transaction");
        const char *tid = jstr(so, "last_transaction_id"), *txid = NULL;

        ev->kind = PAY_EVENT_SUB_PERIOD;
        if (ev->period_start == 0 || ev->period_end == 0)
            return say(reason, cap, PAY_INVALID, "period_missing");
        if (!jstr_or_absent(so, "last_transaction_id") || (tx != NULL && !json_is_null(tx) && !json_is_object(tx)))
            return say(reason, cap, PAY_INVALID, "transaction_malformed");
        if (json_is_object(tx)) {
            if (!jstr_or_absent(tx, "id"))
                return say(reason, cap, PAY_INVALID, "transaction_malformed");
            txid = jstr(tx, "id");
            if (!amount_ok(json_object_get(tx, "amount"), &ev->amount))
                return say(reason, cap, PAY_INVALID, "amount_malformed");
            if (!currency_ok(jstr(tx, "currency"), ev->currency))
                return say(reason, cap, PAY_INVALID, "currency_malformed");
        } else if (json_is_object(prod)) {
            if (!amount_ok(json_object_get(prod, "price"), &ev->amount))
                return say(reason, cap, PAY_INVALID, "amount_malformed");
            if (!currency_ok(jstr(prod, "currency"), ev->currency))
                return say(reason, cap, PAY_INVALID, "currency_malformed");
        } else {
            return say(reason, cap, PAY_INVALID, "amount_missing");
        }
        if (tid != NULL && txid != NULL && strcmp(tid, txid) != 0)
            return say(reason, cap, PAY_INVALID, "transaction_id_conflict");
        if (tid == NULL)
            tid = txid != NULL ? txid : evid;
        if (!token_ok(tid, CREEM_ID_MAX))
            return say(reason, cap, PAY_INVALID, "transaction_id_malformed");
        snprintf(ev->invoice_ref, sizeof ev->invoice_ref, "%s", tid);
        snprintf(ev->provider_ref, sizeof ev->provider_ref, "%s", tid);
    } else if (strcmp(type, "subscription.past_due") == 0 || strcmp(type, "subscription.unpaid") == 0) {
        ev->kind = PAY_EVENT_SUB_PAST_DUE;
    } else if (strcmp(type, "subscription.scheduled_cancel") == 0 ||
               (strcmp(type, "subscription.canceled") == 0 && scheduled)) {
        ev->kind = PAY_EVENT_SUB_STATE;
        ev->cancel_at_period_end = 1;
    } else if (strcmp(type, "subscription.canceled") == 0 || strcmp(type, "subscription.expired") == 0) {
        ev->kind = PAY_EVENT_SUB_ENDED;
    } else { /* subscription.update */
        ev->kind = PAY_EVENT_SUB_STATE;
        ev->cancel_at_period_end = scheduled;
    }
    return PAY_OK;
}

/* ---- what a checkout entity says ------------------------------------------------------- */

/*
 * Our order id and the checkout id from a checkout entity (a notification's object, or the
 * answer of GET /v1/checkouts): ev->provider_ref = its id, ev->order_id = metadata.order_id,
 * else request_id, else "". Both carry our order id; two different ones are ambiguous.
 */
static enum pay_rc checkout_refs(const json_t *co, struct pay_event *ev, char *reason, size_t cap)
{
    const char *cid = jstr(co, "id"), *rid, *mid = NULL;
    const json_t *meta = json_object_get(co, "metadata");

    if (!token_ok(cid, CREEM_ID_MAX))
        return say(reason, cap, PAY_INVALID, "checkout_id_malformed");
    if (meta != NULL && !json_is_null(meta) && !json_is_object(meta))
        return say(reason, cap, PAY_INVALID, "metadata_malformed");
    if (!jstr_or_absent(co, "request_id") || (json_is_object(meta) && !jstr_or_absent(meta, "order_id")))
        return say(reason, cap, PAY_INVALID, "order_id_malformed");
    rid = jstr(co, "request_id");
    if (json_is_object(meta))
        mid = jstr(meta, "order_id");
    if ((rid != NULL && !token_ok(rid, TG_ID_MAX - 1)) || (mid != NULL && !token_ok(mid, TG_ID_MAX - 1)))
        return say(reason, cap, PAY_INVALID, "order_id_malformed");
    if (rid != NULL && mid != NULL && strcmp(rid, mid) != 0)
        return say(reason, cap, PAY_INVALID, "order_id_conflict");
    snprintf(ev->provider_ref, sizeof ev->provider_ref, "%s", cid);
    snprintf(ev->order_id, sizeof ev->order_id, "%s", mid != NULL ? mid : rid != NULL ? rid : "");
    return PAY_OK;
}

/*
 * The subscription a paid checkout of a recurring product started (its "subscription": an id
 * or the entity): ev->subscription_ref, and the period when the entity carries both ends of
 * it; the product bought mapped back to ours (plans only). Nothing for a one-time product.
 */
static enum pay_rc checkout_subscription(const json_t *co, struct pay_event *ev, char *reason, size_t cap)
{
    const json_t *sub = json_object_get(co, "subscription"), *prod = json_object_get(co, "product");
    const char *sid;

    if (sub == NULL || json_is_null(sub))
        return PAY_OK;
    sid = json_is_string(sub) ? json_string_value(sub) : json_is_object(sub) ? jstr(sub, "id") : NULL;
    if (!token_ok(sid, CREEM_ID_MAX))
        return say(reason, cap, PAY_INVALID, "subscription_id_malformed");
    if (!product_ok(prod))
        return say(reason, cap, PAY_INVALID, "product_malformed");
    if (json_is_object(sub)) {
        if (sub_period(sub, &ev->period_start, &ev->period_end) != 0)
            return say(reason, cap, PAY_INVALID, "period_malformed");
        if (ev->period_start == 0 || ev->period_end == 0)
            ev->period_start = ev->period_end = 0; /* half a period says nothing */
    }
    snprintf(ev->subscription_ref, sizeof ev->subscription_ref, "%s", sid);
    product_of(product_ref(prod), ev->product);
    return PAY_OK;
}

/*
 * A checkout entity as a payment: PAY_OK with ev's references, amount and currency (from its
 * order) when the order is paid; PAY_IGNORED when there is no paid order (yet); PAY_INVALID
 * when it is malformed.
 */
static enum pay_rc checkout_payment(const json_t *co, struct pay_event *ev, char *reason, size_t cap)
{
    const json_t *ord = json_object_get(co, "order");
    const char *st;
    enum pay_rc rc = checkout_refs(co, ev, reason, cap);

    if (rc != PAY_OK)
        return rc;
    if (ord == NULL || json_is_null(ord))
        return say(reason, cap, PAY_IGNORED, "order_not_paid");
    if (!json_is_object(ord) || (st = jstr(ord, "status")) == NULL)
        return say(reason, cap, PAY_INVALID, "order_malformed");
    if (strcmp(st, "paid") != 0)
        return say(reason, cap, PAY_IGNORED, "order_not_paid");
    if (!amount_ok(json_object_get(ord, "amount"), &ev->amount))
        return say(reason, cap, PAY_INVALID, "amount_malformed");
    if (!currency_ok(jstr(ord, "currency"), ev->currency))
        return say(reason, cap, PAY_INVALID, "currency_malformed");
    return checkout_subscription(co, ev, reason, cap);
}

/* A refund entity (refund.created's object): PAY_OK for a refund that succeeded, with the
 * checkout's references when it names one; PAY_IGNORED for one that did not (yet), or that
 * names no checkout at all (not one of ours). */
static enum pay_rc refund_event(const json_t *ro, struct pay_event *ev, char *reason, size_t cap)
{
    const char *rid = jstr(ro, "id"), *st = jstr(ro, "status");
    const json_t *co = json_object_get(ro, "checkout"), *tx;

    if (!token_ok(rid, CREEM_ID_MAX))
        return say(reason, cap, PAY_INVALID, "refund_id_malformed");
    if (st == NULL)
        return say(reason, cap, PAY_INVALID, "refund_status_malformed");
    if (!amount_ok(json_object_get(ro, "refund_amount"), &ev->amount))
        return say(reason, cap, PAY_INVALID, "amount_malformed");
    if (!currency_ok(jstr(ro, "refund_currency"), ev->currency))
        return say(reason, cap, PAY_INVALID, "currency_malformed");
    if (json_is_object(co)) {
        enum pay_rc rc = checkout_refs(co, ev, reason, cap);
        if (rc != PAY_OK)
            return rc;
    } else if (json_is_string(co)) {
        if (!token_ok(json_string_value(co), CREEM_ID_MAX))
            return say(reason, cap, PAY_INVALID, "checkout_id_malformed");
        snprintf(ev->provider_ref, sizeof ev->provider_ref, "%s", json_string_value(co));
    } else if (co != NULL && !json_is_null(co)) {
        return say(reason, cap, PAY_INVALID, "checkout_malformed");
    }
    /* The refund's id, except for the refund that leaves its transaction refunded in full:
     * that one is known by the transaction's id, the only id a refund made through the API
     * learns (Creem answers it with a status alone; creem_refund). A transaction is refunded
     * in full once, so either id names one refund. */
    tx = json_object_get(ro, "transaction");
    if (json_is_object(tx) && token_ok(jstr(tx, "id"), CREEM_ID_MAX) && jstr(tx, "status") != NULL &&
        strcmp(jstr(tx, "status"), "refunded") == 0)
        rid = jstr(tx, "id");
    snprintf(ev->provider_refund_id, sizeof ev->provider_refund_id, "%s", rid);
    if (strcmp(st, "succeeded") != 0)
        return say(reason, cap, PAY_IGNORED, "refund_not_succeeded");
    if (ev->order_id[0] == '\0' && ev->provider_ref[0] == '\0')
        return say(reason, cap, PAY_IGNORED, "no_checkout");
    return PAY_OK;
}

/* ---- notifications ----------------------------------------------------------------------- */

static void wfail(struct pay_webhook_res *res, enum pay_rc rc, const char *why)
{
    memset(&res->ev, 0, sizeof res->ev);
    res->rc = say(res->reason, sizeof res->reason, rc, why);
}

/* The HMAC key of a "whsec_<base64>" secret (the prefix is optional, the padding too, as
 * Creem's and the Standard Webhooks libraries accept). Returns its length, or -1. */
static long creem_secret_key(const char *secret, unsigned char *out, size_t cap)
{
    char buf[CREEM_SECRET_B64_MAX + 4];
    size_t n;

    if (strncmp(secret, "whsec_", 6) == 0)
        secret += 6;
    n = strlen(secret);
    if (n == 0 || n > CREEM_SECRET_B64_MAX || n % 4 == 1)
        return -1;
    memcpy(buf, secret, n);
    while (n % 4 != 0)
        buf[n++] = '=';
    return b64_decode(buf, n, out, cap);
}

/* Standard Webhooks: 0 when one v1 signature of sigs matches, else -1 with res set. */
static int verify_standard(const struct pay_webhook_req *req, const char *secret, const char *id,
                           const char *ts, const char *sigs, struct pay_webhook_res *res)
{
    unsigned char key[CREEM_SECRET_B64_MAX], mac[32], got[32];
    int64_t t = 0, now_s = req->now_ms / 1000;
    size_t tslen = strlen(ts);
    long klen;
    int match = 0;
    struct sbuf msg = {0};
    const char *p;

    if (!token_ok(id, CREEM_WEBHOOK_ID_MAX))
        return wfail(res, PAY_INVALID, "webhook_id_malformed"), -1;
    /* Digits only, no sign, no leading zero: the signed text is the one spelling the
     * signers print (the creem SDK signs the parsed number). */
    if (tslen == 0 || tslen > 12 || ts[0] == '0')
        return wfail(res, PAY_INVALID, "timestamp_malformed"), -1;
    for (size_t i = 0; i < tslen; i++) {
        if (ts[i] < '0' || ts[i] > '9')
            return wfail(res, PAY_INVALID, "timestamp_malformed"), -1;
        t = t * 10 + (ts[i] - '0');
    }
    if (t < now_s - CREEM_TOLERANCE_S || t > now_s + CREEM_TOLERANCE_S)
        return wfail(res, PAY_INVALID, "timestamp_out_of_tolerance"), -1;
    if (strlen(sigs) > CREEM_SIG_HEADER_MAX)
        return wfail(res, PAY_INVALID, "signature_malformed"), -1;
    klen = creem_secret_key(secret, key, sizeof key);
    if (klen <= 0)
        return wfail(res, PAY_MISCONFIGURED, "webhook_secret_not_base64"), -1;

    sbuf_puts(&msg, id);
    sbuf_append(&msg, ".", 1);
    sbuf_puts(&msg, ts);
    sbuf_append(&msg, ".", 1);
    sbuf_append(&msg, req->body, req->len);
    hmac_sha256(key, (size_t)klen, msg.data, msg.len, mac);
    sbuf_free(&msg);
    memset(key, 0, sizeof key);

    /* "v1,<base64> v1,<base64> ...": any one entry of version v1 that matches; other
     * versions (v1a is asymmetric) and malformed entries are skipped, as the libraries do. */
    for (p = sigs; *p != '\0';) {
        const char *e;
        while (*p == ' ')
            p++;
        for (e = p; *e != '\0' && *e != ' '; e++)
            ;
        if (e - p > 3 && memcmp(p, "v1,", 3) == 0 &&
            b64_decode(p + 3, (size_t)(e - p - 3), got, sizeof got) == 32)
            match |= ct_equal(got, mac, sizeof mac);
        p = e;
    }
    if (!match)
        return wfail(res, PAY_INVALID, "signature_mismatch"), -1;
    return 0;
}

/* Legacy: creem-signature = hex HMAC-SHA256(secret as it is, raw body). 0 or -1. */
static int verify_legacy(const struct pay_webhook_req *req, const char *secret, const char *h,
                         struct pay_webhook_res *res)
{
    unsigned char mac[32], got[32];

    /* The creem SDK also takes a "sha256=" prefix and either case of hex. */
    if (strncmp(h, "sha256=", 7) == 0)
        h += 7;
    if (hex_decode(h, strlen(h), got, sizeof got) != 0)
        return wfail(res, PAY_INVALID, "signature_malformed"), -1;
    hmac_sha256(secret, strlen(secret), req->body, req->len, mac);
    if (!ct_equal(got, mac, sizeof mac))
        return wfail(res, PAY_INVALID, "signature_mismatch"), -1;
    return 0;
}

/* 1 for the subscription events sub_event maps. */
static int sub_event_type(const char *type)
{
    static const char *const types[] = {"subscription.paid",     "subscription.past_due",
                                        "subscription.unpaid",   "subscription.scheduled_cancel",
                                        "subscription.canceled", "subscription.expired",
                                        "subscription.update",   NULL};
    for (size_t i = 0; types[i] != NULL; i++)
        if (strcmp(type, types[i]) == 0)
            return 1;
    return 0;
}

/* What a verified body reports. */
static void parse_event(const char *body, size_t len, struct pay_webhook_res *res)
{
    json_error_t jerr;
    json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    const json_t *obj;
    const char *id, *type;
    enum pay_rc rc;

    if (!json_is_object(j)) {
        json_decref(j);
        return wfail(res, PAY_INVALID, "body_not_json");
    }
    id = jstr(j, "id");
    type = jstr(j, "eventType");
    obj = json_object_get(j, "object");
    if (type == NULL || !json_is_object(obj)) {
        json_decref(j);
        return wfail(res, PAY_INVALID, "body_malformed");
    }
    if (strcmp(type, "checkout.completed") == 0 || strcmp(type, "refund.created") == 0) {
        if (!token_ok(id, CREEM_ID_MAX)) {
            json_decref(j);
            return wfail(res, PAY_INVALID, "event_id_malformed");
        }
        if (type[0] == 'c') {
            res->ev.kind = PAY_EVENT_PAID;
            rc = checkout_payment(obj, &res->ev, res->reason, sizeof res->reason);
        } else {
            res->ev.kind = PAY_EVENT_REFUND;
            rc = refund_event(obj, &res->ev, res->reason, sizeof res->reason);
        }
        if (rc != PAY_OK) {
            json_decref(j);
            memset(&res->ev, 0, sizeof res->ev);
            res->rc = rc; /* the reason is set */
            return;
        }
        snprintf(res->ev.event_id, sizeof res->ev.event_id, "%s", id);
        snprintf(res->ev.type, sizeof res->ev.type, "%s", type);
        res->rc = PAY_OK;
        res->reason[0] = '\0';
    } else if (sub_event_type(type)) {
        if (!token_ok(id, CREEM_ID_MAX)) {
            json_decref(j);
            return wfail(res, PAY_INVALID, "event_id_malformed");
        }
        rc = sub_event(type, id, obj, &res->ev, res->reason, sizeof res->reason);
        if (rc != PAY_OK) {
            json_decref(j);
            memset(&res->ev, 0, sizeof res->ev);
            res->rc = rc;
            return;
        }
        snprintf(res->ev.event_id, sizeof res->ev.event_id, "%s", id);
        snprintf(res->ev.type, sizeof res->ev.type, "%s", type);
        res->rc = PAY_OK;
        res->reason[0] = '\0';
    } else {
        /* subscription.active (its first period comes as checkout.completed and
         * subscription.paid), .trialing (no plan has a trial), .paused (renewals stop: the
         * period runs out as paid), disputes, ...: authentic, nothing to act on. */
        wfail(res, PAY_IGNORED, "event_type_not_handled");
    }
    json_decref(j);
}

static const char *hdr(const struct pay_webhook_req *req, const char *name)
{
    return req->header(req->hctx, name);
}

void creem_pay_verify(const struct pay_webhook_req *req, const char *secret, struct pay_webhook_res *res)
{
    const char *wid, *wts, *wsig, *legacy;
    int n_std;

    memset(res, 0, sizeof *res);
    if (secret == NULL || secret[0] == '\0')
        return wfail(res, PAY_MISCONFIGURED, "webhook_secret_missing");
    if (req->len > CREEM_MAX_BODY)
        return wfail(res, PAY_INVALID, "body_too_large");
    wid = hdr(req, "webhook-id");
    wts = hdr(req, "webhook-timestamp");
    wsig = hdr(req, "webhook-signature");
    legacy = hdr(req, "creem-signature");
    n_std = (wid != NULL) + (wts != NULL) + (wsig != NULL);
    /* The signature is checked on the raw bytes before anything in them is believed. A
     * header that came twice arrives here as absent (pay.h), so a partial Standard Webhooks
     * set is refused rather than passed over for the weaker legacy scheme. */
    if (n_std == 3) {
        if (verify_standard(req, secret, wid, wts, wsig, res) != 0)
            return;
    } else if (n_std > 0) {
        return wfail(res, PAY_INVALID, "signature_headers_incomplete");
    } else if (legacy != NULL) {
        if (verify_legacy(req, secret, legacy, res) != 0)
            return;
    } else {
        return wfail(res, PAY_INVALID, "signature_missing");
    }
    parse_event(req->body, req->len, res);
}

/* ---- request bodies and answers ------------------------------------------------------------ */

/* The body of POST /v1/checkouts (caller frees). */
static char *checkout_body(const struct pay_checkout_req *req)
{
    json_t *j =
        json_pack("{s:s, s:s, s:s, s:{s:s}}", "product_id", req->provider_product_id, "request_id",
                  req->order->id, "success_url", req->return_url, "metadata", "order_id", req->order->id);
    char *s;
    if (j == NULL)
        abort(); /* out of memory, or a NULL string: both bugs here (mem.h's policy) */
    /* A plan: the Creem product is a recurring one and paying it starts a subscription,
     * which inherits the checkout's metadata. It also names the plan bought, for whoever
     * reads the subscription in Creem's dashboard (notifications map Creem's product id
     * back instead: after a plan change the metadata still names the first one). */
    if (req->interval != NULL)
        json_object_set_new(json_object_get(j, "metadata"), "product", json_string(req->order->product));
    /* Creem takes a customer id or an email, not both; we only ever know the email. */
    if (req->email != NULL && req->email[0] != '\0')
        json_object_set_new(j, "customer", json_pack("{s:s}", "email", req->email));
    s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (s == NULL)
        abort();
    return s;
}

/* The rc for an HTTP answer that is not a success; misconfigured names what 404 means for
 * this call. */
static enum pay_rc http_rc(long status, enum pay_rc on_4xx, enum pay_rc on_404)
{
    if (status == 401 || status == 403)
        return PAY_MISCONFIGURED;
    if (status == 404)
        return on_404;
    if (status == 429 || status >= 500 || status < 400)
        return PAY_UNAVAILABLE;
    return on_4xx;
}

static void http_reason(char *reason, size_t cap, enum net_err err, long status)
{
    if (err != NET_OK)
        snprintf(reason, cap, "%s", net_err_name(err));
    else
        snprintf(reason, cap, "http_%ld", status);
}

/* The answer of POST /v1/checkouts for order_id. */
static void checkout_answer(const char *order_id, enum net_err err, long status, const char *body, size_t len,
                            struct pay_checkout_res *res)
{
    json_t *j = NULL, *out;
    const char *id, *url, *rid;
    char *s;

    memset(res, 0, sizeof *res);
    if (err != NET_OK || status < 200 || status > 299) {
        /* 404: the product id (a setting) is not known to this Creem account or mode. */
        res->rc = err != NET_OK ? PAY_UNAVAILABLE : http_rc(status, PAY_INVALID, PAY_MISCONFIGURED);
        http_reason(res->reason, sizeof res->reason, err, status);
        return;
    }
    if (body != NULL)
        j = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
    id = jstr(j, "id");
    url = jstr(j, "checkout_url");
    rid = jstr(j, "request_id");
    if (!json_is_object(j) || !token_ok(id, CREEM_ID_MAX) || url == NULL ||
        (strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0) ||
        !token_ok(url, TG_CHECKOUT_MAX - 16)) {
        res->rc = say(res->reason, sizeof res->reason, PAY_UNAVAILABLE, "response_malformed");
        json_decref(j);
        return;
    }
    if (rid != NULL && strcmp(rid, order_id) != 0) {
        res->rc = say(res->reason, sizeof res->reason, PAY_UNAVAILABLE, "response_mismatch");
        json_decref(j);
        return;
    }
    out = json_pack("{s:s}", "url", url);
    s = json_dumps(out, JSON_COMPACT);
    if (out == NULL || s == NULL)
        abort();
    /* token_ok bounded the URL: its JSON (no escapes in printable ASCII but '"' and '\')
     * is at most twice as long plus the envelope. */
    if (strlen(s) >= sizeof res->checkout) {
        res->rc = say(res->reason, sizeof res->reason, PAY_UNAVAILABLE, "checkout_url_too_long");
    } else {
        memcpy(res->checkout, s, strlen(s) + 1);
        snprintf(res->provider_ref, sizeof res->provider_ref, "%s", id);
    }
    free(s);
    json_decref(out);
    json_decref(j);
}

/* The answer of GET /v1/checkouts?checkout_id= for order o (its provider_ref). *txn, when
 * not NULL, receives the paid order's transaction id ("" when it has none). */
static void query_answer(const struct order *o, enum net_err err, long status, const char *body, size_t len,
                         struct pay_query_res *res, char txn[TG_PROVIDER_REF_MAX])
{
    json_t *j = NULL;
    const char *st;
    enum pay_rc rc;

    memset(res, 0, sizeof *res);
    if (txn != NULL)
        txn[0] = '\0';
    if (err != NET_OK || status < 200 || status > 299) {
        /* 400 is a checkout id Creem cannot read: it has no such checkout either. */
        res->rc = err != NET_OK ? PAY_UNAVAILABLE : http_rc(status, PAY_NOTFOUND, PAY_NOTFOUND);
        http_reason(res->reason, sizeof res->reason, err, status);
        return;
    }
    if (body != NULL)
        j = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
    st = jstr(j, "status");
    if (!json_is_object(j) || st == NULL) {
        res->rc = say(res->reason, sizeof res->reason, PAY_UNAVAILABLE, "response_malformed");
        goto out;
    }
    rc = checkout_payment(j, &res->ev, res->reason, sizeof res->reason);
    if (rc == PAY_INVALID) {
        res->rc = PAY_UNAVAILABLE; /* the reason says what was malformed */
        memset(&res->ev, 0, sizeof res->ev);
        goto out;
    }
    /* Another checkout, or one that names another order, is not this order's answer. */
    if (strcmp(res->ev.provider_ref, o->provider_ref) != 0 ||
        (res->ev.order_id[0] != '\0' && strcmp(res->ev.order_id, o->id) != 0)) {
        memset(&res->ev, 0, sizeof res->ev);
        res->rc = say(res->reason, sizeof res->reason, PAY_UNAVAILABLE, "response_mismatch");
        goto out;
    }
    res->rc = PAY_OK;
    res->reason[0] = '\0';
    if (strcmp(st, "completed") == 0 && rc == PAY_OK) {
        const char *t = jstr(json_object_get(j, "order"), "transaction");
        res->state = PAY_STATE_PAID;
        res->ev.kind = PAY_EVENT_PAID;
        snprintf(res->ev.event_id, sizeof res->ev.event_id, "query:%.100s", res->ev.provider_ref);
        snprintf(res->ev.type, sizeof res->ev.type, "checkout.completed");
        if (txn != NULL && token_ok(t, CREEM_ID_MAX))
            snprintf(txn, TG_PROVIDER_REF_MAX, "%s", t);
    } else {
        res->state = strcmp(st, "expired") == 0 ? PAY_STATE_CLOSED : PAY_STATE_PENDING;
        memset(&res->ev, 0, sizeof res->ev);
    }
out:
    json_decref(j);
}

/* The answer of POST /v1/refunds. */
static void refund_answer(enum net_err err, long status, const char *body, size_t len,
                          struct pay_refund_res *res)
{
    json_t *j = NULL;
    const char *st;

    memset(res, 0, sizeof *res);
    if (err != NET_OK || status < 200 || status > 299) {
        /* 400/409/422: Creem refused this refund (already refunded, too old, ...); 404: it
         * knows no such transaction. */
        res->rc = err != NET_OK ? PAY_UNAVAILABLE : http_rc(status, PAY_DECLINED, PAY_DECLINED);
        http_reason(res->reason, sizeof res->reason, err, status);
        return;
    }
    if (body != NULL)
        j = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
    st = jstr(j, "status");
    if (st == NULL)
        res->rc = say(res->reason, sizeof res->reason, PAY_UNAVAILABLE, "response_malformed");
    else if (strcmp(st, "succeeded") == 0)
        res->rc = PAY_OK;
    else if (strcmp(st, "pending") == 0 || strcmp(st, "requiresAction") == 0)
        res->rc = PAY_OK, res->pending = 1;
    else if (strcmp(st, "failed") == 0 || strcmp(st, "canceled") == 0)
        res->rc = say(res->reason, sizeof res->reason, PAY_DECLINED,
                      strcmp(st, "failed") == 0 ? "refund_failed" : "refund_canceled");
    else
        res->rc = say(res->reason, sizeof res->reason, PAY_UNAVAILABLE, "refund_status_unknown");
    json_decref(j);
}

/* The path and body (NULL: none) of the call for a subscription action (caller frees
 * both). NULL path: the request cannot be made (reason set). */
static char *sub_request(const struct pay_sub_req *req, char **body, char *reason, size_t cap)
{
    char enc[3 * TG_PROVIDER_REF_MAX + 1];
    const char *verb;
    json_t *j = NULL;

    *body = NULL;
    if (!token_ok(req->subscription_ref, CREEM_ID_MAX)) {
        snprintf(reason, cap, "subscription_ref_malformed");
        return NULL;
    }
    switch (req->action) {
    case PAY_SUB_CANCEL:
        /* Scheduled: it ends at the end of the period paid for (status scheduled_cancel
         * meanwhile, and resume takes it back); onExecute cancel, not pause. */
        verb = "cancel";
        j = json_pack("{s:s, s:s}", "mode", "scheduled", "onExecute", "cancel");
        break;
    case PAY_SUB_CANCEL_NOW:
        verb = "cancel";
        j = json_pack("{s:s}", "mode", "immediate");
        break;
    case PAY_SUB_RESUME:
        /* Creem resumes a subscription in status scheduled_cancel (or paused); no body. */
        verb = "resume";
        break;
    case PAY_SUB_CHANGE:
        if (req->provider_product_id == NULL || !token_ok(req->provider_product_id, CATALOG_PROVIDER_ID_MAX - 1)) {
            snprintf(reason, cap, "creem_product_id_missing");
            return NULL;
        }
        /* An upgrade charges the prorated difference now; a downgrade (applied when the
         * period ends) bills the new price from the next period on, nothing now. */
        verb = "upgrade";
        j = json_pack("{s:s, s:s}", "product_id", req->provider_product_id, "update_behavior",
                      req->prorate_now ? "proration-charge-immediately" : "proration-none");
        break;
    default:
        snprintf(reason, cap, "action_unknown");
        return NULL;
    }
    if (j != NULL) {
        *body = json_dumps(j, JSON_COMPACT);
        json_decref(j);
        if (*body == NULL)
            abort();
    }
    pct_encode(req->subscription_ref, strlen(req->subscription_ref), enc);
    return xasprintf("/v1/subscriptions/%s/%s", enc, verb);
}

/*
 * The answer of a subscription call for subscription sref: any 2xx means Creem did it (the
 * subscription entity it answers, when it is this subscription's and readable, says the
 * period end and whether it is now scheduled to cancel; unknown: 0 and -1). 404 and other
 * refusals are INVALID (no such subscription, not in a state for this action).
 */
static void sub_answer(const char *sref, enum net_err err, long status, const char *body, size_t len,
                       struct pay_sub_res *res)
{
    json_t *j = NULL;
    const char *st;
    int64_t end = 0;

    memset(res, 0, sizeof *res);
    res->cancel_at_period_end = -1;
    if (err != NET_OK || status < 200 || status > 299) {
        res->rc = err != NET_OK ? PAY_UNAVAILABLE : http_rc(status, PAY_INVALID, PAY_INVALID);
        http_reason(res->reason, sizeof res->reason, err, status);
        return;
    }
    res->rc = PAY_OK;
    if (body != NULL)
        j = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
    st = jstr(j, "status");
    if (!json_is_object(j) || jstr(j, "id") == NULL || strcmp(jstr(j, "id"), sref) != 0) {
        json_decref(j);
        return;
    }
    if (jdate(j, "current_period_end_date", &end) == 0)
        res->period_end = end;
    if (st != NULL)
        res->cancel_at_period_end = strcmp(st, "scheduled_cancel") == 0;
    json_decref(j);
}

/* ---- operations ---------------------------------------------------------------------------- */

struct creem_op {
    struct net_call call;
    struct net_exec *nx;
    union {
        pay_checkout_fn checkout;
        pay_query_fn query;
        pay_refund_fn refund;
        pay_sub_fn sub;
    } done;
    void *arg;
    struct order order;            /* our copy: the request is borrowed only for the call */
    char txn[TG_PROVIDER_REF_MAX]; /* refund: the paid order's transaction id */
    /* subscription: which, and what was asked (for the log) */
    char sub_ref[TG_PROVIDER_REF_MAX];
    char sub_id[TG_ID_MAX];
    enum pay_sub_action action;
};

static struct creem_op *op_of(struct net_call *c)
{
    return (struct creem_op *)((char *)c - offsetof(struct creem_op, call));
}

/* A call to TG_CREEM_API_BASE + path with our key. */
static void op_call(struct creem_op *op, const char *method, const char *path, const char *api_key)
{
    char *url = xasprintf("%s%s", config_get("TG_CREEM_API_BASE"), path);
    net_call_init(&op->call, "creem", method, url);
    free(url);
    net_call_header(&op->call, "x-api-key", api_key);
    net_call_header(&op->call, "Accept", "application/json");
    op->call.timeout_ms = CREEM_TIMEOUT_MS;
    op->call.max_response = CREEM_MAX_RESPONSE;
}

static void op_log(const char *what, const struct order *o, enum pay_rc rc, const char *reason)
{
    log_event(rc == PAY_INVALID || rc == PAY_NOTFOUND || rc == PAY_DECLINED ? LOG_INFO : LOG_WARN, what,
              "order_id", o->id, "result", pay_rc_name(rc), "reason", reason, NULL);
}

/* GET /v1/checkouts?checkout_id=<provider_ref>, idempotent. */
static void op_get_checkout(struct creem_op *op, const char *api_key, net_done_fn done)
{
    char enc[3 * TG_PROVIDER_REF_MAX + 1];
    char *path;
    pct_encode(op->order.provider_ref, strlen(op->order.provider_ref), enc);
    path = xasprintf("/v1/checkouts?checkout_id=%s", enc);
    op_call(op, "GET", path, api_key);
    free(path);
    op->call.idempotent = 1;
    op->call.retries = CREEM_QUERY_RETRIES;
    net_exec_submit(op->nx, &op->call, done);
}

/* checkout */

static void checkout_done(struct net_call *c)
{
    struct creem_op *op = op_of(c);
    struct pay_checkout_res res;

    checkout_answer(op->order.id, c->err, c->status, c->resp_body, c->resp_len, &res);
    net_call_release(c);
    if (res.rc != PAY_OK)
        op_log("creem_checkout", &op->order, res.rc, res.reason);
    op->done.checkout(op->arg, &res);
    free(op);
}

static void creem_checkout(struct net_exec *nx, const struct pay_checkout_req *req, pay_checkout_fn done,
                           void *arg)
{
    const char *key = cfg("TG_CREEM_API_KEY");
    struct pay_checkout_res res;
    struct creem_op *op;
    char *body;

    memset(&res, 0, sizeof res);
    if (key == NULL)
        res.rc = say(res.reason, sizeof res.reason, PAY_MISCONFIGURED, "not_configured");
    else if (req->provider_product_id == NULL || req->provider_product_id[0] == '\0')
        res.rc = say(res.reason, sizeof res.reason, PAY_MISCONFIGURED, "creem_product_id_missing");
    else if (req->return_url == NULL || req->return_url[0] == '\0')
        res.rc = say(res.reason, sizeof res.reason, PAY_MISCONFIGURED, "return_url_missing");
    if (res.rc != PAY_OK) {
        op_log("creem_checkout", req->order, res.rc, res.reason);
        done(arg, &res);
        return;
    }
    op = xcalloc(1, sizeof *op);
    op->nx = nx;
    op->done.checkout = done;
    op->arg = arg;
    op->order = *req->order;
    body = checkout_body(req);
    op_call(op, "POST", "/v1/checkouts", key);
    net_call_body(&op->call, "application/json", body, strlen(body));
    free(body);
    /* Creem has no idempotency key for checkouts: never retried (a lost answer leaves at
     * most an unused checkout behind, which expires at Creem). */
    op->call.idempotent = 0;
    net_exec_submit(nx, &op->call, checkout_done);
}

/* query */

static void query_done(struct net_call *c)
{
    struct creem_op *op = op_of(c);
    struct pay_query_res res;

    query_answer(&op->order, c->err, c->status, c->resp_body, c->resp_len, &res, NULL);
    net_call_release(c);
    if (res.rc != PAY_OK)
        op_log("creem_query", &op->order, res.rc, res.reason);
    op->done.query(op->arg, &res);
    free(op);
}

static void creem_query(struct net_exec *nx, const struct order *o, int64_t now_ms, pay_query_fn done,
                        void *arg)
{
    const char *key = cfg("TG_CREEM_API_KEY");
    struct creem_op *op;
    (void)now_ms;

    if (key == NULL || o->provider_ref[0] == '\0') {
        struct pay_query_res res;
        memset(&res, 0, sizeof res);
        /* No checkout id: the checkout was never created, so Creem has nothing to say. */
        res.rc = key == NULL ? say(res.reason, sizeof res.reason, PAY_MISCONFIGURED, "not_configured")
                             : say(res.reason, sizeof res.reason, PAY_NOTFOUND, "no_checkout_id");
        done(arg, &res);
        return;
    }
    op = xcalloc(1, sizeof *op);
    op->nx = nx;
    op->done.query = done;
    op->arg = arg;
    op->order = *o;
    op_get_checkout(op, key, query_done);
}

/* refund: read the checkout for its transaction, then refund that transaction */

static void refund_finish(struct creem_op *op, struct pay_refund_res *res)
{
    if (res->rc != PAY_OK)
        op_log("creem_refund", &op->order, res->rc, res->reason);
    op->done.refund(op->arg, res);
    free(op);
}

static void refund_posted(struct net_call *c)
{
    struct creem_op *op = op_of(c);
    struct pay_refund_res res;

    refund_answer(c->err, c->status, c->resp_body, c->resp_len, &res);
    /* Creem's answer has no refund id. The transaction's id stands for it: refund.created
     * reports it for the refund that leaves the transaction refunded in full, which a
     * refund made here always does (refund_event), so the notification finds this refund.
     * Set whatever the answer, so that a notification also settles a refund whose answer
     * was lost. */
    snprintf(res.provider_refund_id, sizeof res.provider_refund_id, "%s", op->txn);
    net_call_release(c);
    refund_finish(op, &res);
}

static void refund_looked_up(struct net_call *c)
{
    struct creem_op *op = op_of(c);
    struct pay_query_res q;
    struct pay_refund_res res;
    char txn[TG_PROVIDER_REF_MAX];
    const char *key = cfg("TG_CREEM_API_KEY");
    json_t *j;
    char *body;

    query_answer(&op->order, c->err, c->status, c->resp_body, c->resp_len, &q, txn);
    snprintf(op->txn, sizeof op->txn, "%s", txn);
    net_call_release(c);
    memset(&res, 0, sizeof res);
    if (q.rc != PAY_OK) {
        res.rc = q.rc == PAY_NOTFOUND ? PAY_DECLINED : q.rc;
        snprintf(res.reason, sizeof res.reason, "%s", q.reason);
        refund_finish(op, &res);
        return;
    }
    if (q.state != PAY_STATE_PAID || txn[0] == '\0') {
        res.rc = say(res.reason, sizeof res.reason, PAY_DECLINED,
                     q.state != PAY_STATE_PAID ? "not_paid" : "no_transaction");
        refund_finish(op, &res);
        return;
    }
    if (key == NULL) {
        res.rc = say(res.reason, sizeof res.reason, PAY_MISCONFIGURED, "not_configured");
        refund_finish(op, &res);
        return;
    }
    j = json_pack("{s:s}", "transaction_id", txn);
    body = json_dumps(j, JSON_COMPACT);
    if (j == NULL || body == NULL)
        abort();
    json_decref(j);
    op_call(op, "POST", "/v1/refunds", key);
    net_call_body(&op->call, "application/json", body, strlen(body));
    free(body);
    /* Not idempotent at Creem: a lost answer is not retried (the notification or the
     * transaction's state tells what happened). */
    op->call.idempotent = 0;
    net_exec_submit(op->nx, &op->call, refund_posted);
}

static void creem_refund(struct net_exec *nx, const struct pay_refund_req *req, pay_refund_fn done, void *arg)
{
    const char *key = cfg("TG_CREEM_API_KEY");
    const struct order *o = req->order;
    struct pay_refund_res res;
    struct creem_op *op;

    memset(&res, 0, sizeof res);
    if (key == NULL)
        res.rc = say(res.reason, sizeof res.reason, PAY_MISCONFIGURED, "not_configured");
    else if (o->provider_ref[0] == '\0')
        res.rc = say(res.reason, sizeof res.reason, PAY_INVALID, "no_checkout_id");
    /* Creem refunds the whole remaining amount of a payment, never a part of it. The order
     * comes as the refund reserved it: its refunded_amount counts this refund, so the
     * refund must leave nothing of the payment. */
    else if (req->amount <= 0 || req->amount > o->amount || o->refunded_amount != o->amount)
        res.rc = say(res.reason, sizeof res.reason, PAY_DECLINED, "partial_refund_unsupported");
    if (res.rc != PAY_OK) {
        op_log("creem_refund", o, res.rc, res.reason);
        done(arg, &res);
        return;
    }
    op = xcalloc(1, sizeof *op);
    op->nx = nx;
    op->done.refund = done;
    op->arg = arg;
    op->order = *o;
    op_get_checkout(op, key, refund_looked_up);
}

/* subscription */

static const char *sub_action_name(enum pay_sub_action a)
{
    switch (a) {
    case PAY_SUB_CANCEL:
        return "cancel";
    case PAY_SUB_RESUME:
        return "resume";
    case PAY_SUB_CANCEL_NOW:
        return "cancel_now";
    case PAY_SUB_CHANGE:
        return "change";
    }
    return "?";
}

static void sub_log(const char *sub_id, const char *sref, enum pay_sub_action a, enum pay_rc rc,
                    const char *reason)
{
    log_event(rc == PAY_OK ? LOG_INFO : rc == PAY_INVALID ? LOG_INFO : LOG_WARN, "creem_subscription",
              "sub_id", sub_id, "subscription_ref", sref, "action", sub_action_name(a), "result",
              pay_rc_name(rc), "reason", reason, NULL);
}

static void sub_done(struct net_call *c)
{
    struct creem_op *op = op_of(c);
    struct pay_sub_res res;

    sub_answer(op->sub_ref, c->err, c->status, c->resp_body, c->resp_len, &res);
    net_call_release(c);
    sub_log(op->sub_id, op->sub_ref, op->action, res.rc, res.reason);
    op->done.sub(op->arg, &res);
    free(op);
}

static void creem_subscription(struct net_exec *nx, const struct pay_sub_req *req, pay_sub_fn done, void *arg)
{
    const char *key = cfg("TG_CREEM_API_KEY");
    struct pay_sub_res res;
    struct creem_op *op;
    char *path = NULL, *body = NULL;

    memset(&res, 0, sizeof res);
    res.cancel_at_period_end = -1;
    if (key == NULL)
        res.rc = say(res.reason, sizeof res.reason, PAY_MISCONFIGURED, "not_configured");
    else if ((path = sub_request(req, &body, res.reason, sizeof res.reason)) == NULL)
        res.rc = strcmp(res.reason, "creem_product_id_missing") == 0 ? PAY_MISCONFIGURED : PAY_INVALID;
    if (res.rc != PAY_OK) {
        sub_log(req->sub_id != NULL ? req->sub_id : "", "", req->action, res.rc, res.reason);
        done(arg, &res);
        return;
    }
    op = xcalloc(1, sizeof *op);
    op->nx = nx;
    op->done.sub = done;
    op->arg = arg;
    op->action = req->action;
    snprintf(op->sub_ref, sizeof op->sub_ref, "%s", req->subscription_ref);
    snprintf(op->sub_id, sizeof op->sub_id, "%s", req->sub_id != NULL ? req->sub_id : "");
    op_call(op, "POST", path, key);
    if (body != NULL)
        net_call_body(&op->call, "application/json", body, strlen(body));
    free(path);
    free(body);
    /* Creem has no idempotency key: an upgrade repeated is charged twice, and a cancel or
     * resume repeated after a lost answer is refused as being in the wrong state. Never
     * retried here; UNAVAILABLE lets the caller ask again. */
    op->call.idempotent = 0;
    net_exec_submit(nx, &op->call, sub_done);
}

/* verify_webhook */

static void creem_verify(struct net_exec *nx, const struct pay_webhook_req *req, pay_webhook_fn done,
                         void *arg)
{
    struct pay_webhook_res res;
    (void)nx;
    creem_pay_verify(req, cfg("TG_CREEM_WEBHOOK_SECRET"), &res);
    if (res.rc != PAY_OK && res.rc != PAY_IGNORED)
        log_event(res.rc == PAY_INVALID ? LOG_INFO : LOG_WARN, "creem_webhook", "result", pay_rc_name(res.rc),
                  "reason", res.reason, NULL);
    done(arg, &res);
}

const struct pay_provider pay_creem = {
    .name = "creem",
    .configured = creem_configured,
    .checkout = creem_checkout,
    .verify_webhook = creem_verify,
    .query = creem_query,
    .refund = creem_refund,
    .subscription = creem_subscription,
    /* Creem wants a 200 and reads no body (docs.creem.io, Webhooks). */
    .ack_type = NULL,
    .ack_body = NULL,
    .fail_type = NULL,
    .fail_body = NULL,
};
