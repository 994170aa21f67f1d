/*
 * sandbox.c - the sandbox payment provider (sandbox.h).
 */
#include "providers/pay/sandbox.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/config.h"
#include "core/ids.h"
#include "core/mem.h"
#include "crypto/encode.h"
#include "crypto/hash.h"

static int sandbox_configured(void) { return tg_cfg != NULL && tg_cfg->sandbox; }

static void sandbox_key(unsigned char key[32])
{
    const char *s = config_get("TG_SANDBOX_WEBHOOK_SECRET");
    static const char label[] = "tollgate sandbox payments v1";
    if (s != NULL && s[0] != '\0')
        hmac_sha256(s, strlen(s), label, sizeof label - 1, key);
    else
        hmac_sha256(tg_cfg->jwt_secret, tg_cfg->jwt_secret_len, label, sizeof label - 1, key);
}

static void sandbox_mac(int64_t t, const char *body, size_t len, char hex[65])
{
    unsigned char key[32], mac[32];
    char ts[24];
    int n = snprintf(ts, sizeof ts, "%" PRId64 ".", t);
    struct sbuf msg = {0};
    sbuf_append(&msg, ts, (size_t)n);
    sbuf_append(&msg, body, len);
    sandbox_key(key);
    hmac_sha256(key, sizeof key, msg.data, msg.len, mac);
    sbuf_free(&msg);
    hex_encode(mac, sizeof mac, hex);
}

char *sandbox_pay_sign(const char *body, size_t len, int64_t t)
{
    char hex[65];
    sandbox_mac(t, body, len, hex);
    return xasprintf("t=%" PRId64 ",v1=%s", t, hex);
}

int sandbox_pay_notification(const struct order *o, const char *type, int64_t amount, const char *refund_id,
                             int64_t now_ms, char **body, char **signature)
{
    char evt[TG_ID_MAX];
    json_t *j;
    if (strcmp(type, "payment.succeeded") != 0 && strcmp(type, "payment.failed") != 0 &&
        strcmp(type, "refund.succeeded") != 0)
        return -1;
    j = json_pack("{s:s, s:s, s:s, s:I, s:s, s:I}", "id", id_new(evt, "sbx_evt"), "type", type, "order_id", o->id,
                  "amount", (json_int_t)amount, "currency", o->currency, "created", (json_int_t)(now_ms / 1000));
    if (j == NULL)
        abort(); /* out of memory: mem.h's policy */
    if (refund_id != NULL && refund_id[0])
        json_object_set_new(j, "refund_id", json_string(refund_id));
    *body = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(j);
    if (*body == NULL)
        abort();
    *signature = sandbox_pay_sign(*body, strlen(*body), now_ms / 1000);
    return 0;
}

/* "t=<digits>,v1=<64 hex>" and nothing else. */
static int sandbox_parse_sig(const char *h, int64_t *t, char hex[65])
{
    const char *p = h;
    int64_t v = 0;
    int digits = 0;
    if (strncmp(p, "t=", 2) != 0)
        return -1;
    for (p += 2; *p >= '0' && *p <= '9'; p++) {
        if (++digits > 12)
            return -1;
        v = v * 10 + (*p - '0');
    }
    if (digits == 0 || strncmp(p, ",v1=", 4) != 0)
        return -1;
    p += 4;
    if (strlen(p) != 64)
        return -1;
    for (int i = 0; i < 64; i++)
        if (hex_value(p[i]) < 0)
            return -1;
    memcpy(hex, p, 64);
    hex[64] = '\0';
    *t = v;
    return 0;
}

static void fail(struct pay_webhook_res *res, const char *why)
{
    res->rc = PAY_INVALID;
    snprintf(res->reason, sizeof res->reason, "%s", why);
}

void sandbox_pay_verify(const struct pay_webhook_req *req, struct pay_webhook_res *res)
{
    const char *h = req->header(req->hctx, "tollgate-sandbox-signature");
    char got[65], want[65];
    int64_t t, now_s = req->now_ms / 1000;
    json_t *j;
    json_error_t jerr;
    const char *id, *type, *order_id, *currency, *refund_id = NULL;
    json_int_t amount;

    memset(res, 0, sizeof *res);
    if (h == NULL)
        return fail(res, "signature_missing");
    if (sandbox_parse_sig(h, &t, got) != 0)
        return fail(res, "signature_malformed");
    if (t < now_s - SANDBOX_PAY_TOLERANCE_S || t > now_s + SANDBOX_PAY_TOLERANCE_S)
        return fail(res, "timestamp_out_of_tolerance");
    sandbox_mac(t, req->body, req->len, want);
    /* hex compares case-sensitively: ours is lower-case, and so must theirs be. */
    if (!ct_equal(got, want, 64))
        return fail(res, "signature_mismatch");

    j = json_loadb(req->body, req->len, JSON_REJECT_DUPLICATES, &jerr);
    if (j == NULL)
        return fail(res, "body_not_json");
    if (json_unpack(j, "{s:s, s:s, s:s, s:I, s:s, s?s}", "id", &id, "type", &type, "order_id", &order_id, "amount",
                    &amount, "currency", &currency, "refund_id", &refund_id) != 0 ||
        amount <= 0 || strlen(currency) != 3 || strlen(id) >= sizeof res->ev.event_id ||
        strlen(order_id) >= sizeof res->ev.order_id) {
        json_decref(j);
        return fail(res, "body_malformed");
    }
    if (strcmp(type, "payment.succeeded") == 0)
        res->ev.kind = PAY_EVENT_PAID;
    else if (strcmp(type, "payment.failed") == 0)
        res->ev.kind = PAY_EVENT_FAILED;
    else if (strcmp(type, "refund.succeeded") == 0 && refund_id != NULL && strlen(refund_id) < sizeof res->ev.refund_id)
        res->ev.kind = PAY_EVENT_REFUND;
    else {
        json_decref(j);
        res->rc = PAY_IGNORED;
        snprintf(res->reason, sizeof res->reason, "event_type_not_handled");
        return;
    }
    snprintf(res->ev.event_id, sizeof res->ev.event_id, "%s", id);
    snprintf(res->ev.type, sizeof res->ev.type, "%s", type);
    snprintf(res->ev.order_id, sizeof res->ev.order_id, "%s", order_id);
    res->ev.amount = amount;
    snprintf(res->ev.currency, sizeof res->ev.currency, "%s", currency);
    if (res->ev.kind == PAY_EVENT_REFUND) {
        snprintf(res->ev.refund_id, sizeof res->ev.refund_id, "%s", refund_id);
        snprintf(res->ev.provider_refund_id, sizeof res->ev.provider_refund_id, "sbx_%s", refund_id);
    }
    json_decref(j);
    res->rc = PAY_OK;
}

static void sandbox_checkout(struct net_exec *nx, const struct pay_checkout_req *req, pay_checkout_fn done, void *arg)
{
    struct pay_checkout_res res;
    (void)nx;
    memset(&res, 0, sizeof res);
    /* The sandbox knows the payment by our order id, as WeChat Pay and Alipay do. */
    if (snprintf(res.checkout, sizeof res.checkout, "{\"url\":\"%s/sandbox/checkout/%s\"}", tg_cfg->public_url,
                 req->order->id) >= (int)sizeof res.checkout) {
        res.rc = PAY_MISCONFIGURED;
        snprintf(res.reason, sizeof res.reason, "public_url_too_long");
    }
    done(arg, &res);
}

static void sandbox_verify(struct net_exec *nx, const struct pay_webhook_req *req, pay_webhook_fn done, void *arg)
{
    struct pay_webhook_res res;
    (void)nx;
    sandbox_pay_verify(req, &res);
    done(arg, &res);
}

static void sandbox_refund(struct net_exec *nx, const struct pay_refund_req *req, pay_refund_fn done, void *arg)
{
    struct pay_refund_res res;
    (void)nx;
    memset(&res, 0, sizeof res);
    /* The sandbox holds no money: a refund always succeeds at once. */
    snprintf(res.provider_refund_id, sizeof res.provider_refund_id, "sbx_%s", req->refund_id);
    done(arg, &res);
}

const struct pay_provider pay_sandbox = {
    .name = "sandbox",
    .configured = sandbox_configured,
    .checkout = sandbox_checkout,
    .verify_webhook = sandbox_verify,
    .query = NULL, /* the sandbox keeps no payments of its own to ask about */
    .refund = sandbox_refund,
    .ack_type = "application/json",
    .ack_body = "{\"received\":true}",
};
