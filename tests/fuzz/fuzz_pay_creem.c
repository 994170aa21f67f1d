/*
 * fuzz_pay_creem.c - fuzz target for the Creem payment provider's wire formats
 * (src/providers/pay/creem.c, included here h2o style): notification verification and the
 * event parser behind it, and the answers of POST /v1/checkouts, GET /v1/checkouts and
 * POST /v1/refunds.
 *
 * The first byte picks the mode, the rest is the input:
 *   0: a notification body, signed here with creem-signature (so every input reaches the
 *      JSON parser);
 *   1: the same body signed with the Standard Webhooks headers, at the edge of the tolerance;
 *   2: webhook-id NUL webhook-timestamp NUL webhook-signature NUL creem-signature NUL body,
 *      all attacker-chosen (an empty field is an absent header);
 *   3: a checkout answer;  4: a checkout query answer;  5: a refund answer
 *      (the second byte picks the HTTP status from a short list).
 * Invariants (abort() when broken):
 *  - verification: an empty reason exactly for PAY_OK; on anything but OK the event is all
 *    zero; on OK the event id, provider ref and order id are NUL-terminated printable tokens
 *    within their bounds, the amount is > 0 and the currency three upper-case letters; a
 *    PAID event has a provider ref; a REFUND event has a provider refund id; mode 2 verifies
 *    nothing that was not signed with the secret (the fuzzer does not know it);
 *  - answers: a checkout is OK exactly with a provider ref and a {"url"} that is JSON; a
 *    PAID query result carries "query:" + its provider ref; nothing else reports an event.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "providers/pay/creem.c"

/* The operations are never called here: net and the registry are not linked. */
#include "net_stubs.h"
const char *net_err_name(enum net_err e)
{
    (void)e;
    return "?";
}
const char *pay_rc_name(enum pay_rc rc)
{
    (void)rc;
    return "?";
}

#define SECRET "whsec_dG9sbGdhdGUgY3JlZW0gdGVzdCBrZXksIDMyIGJ5dGVz"
#define NOW_S 1764400000

static unsigned long counts[6][8];

static const char *hv[4]; /* webhook-id, -timestamp, -signature, creem-signature */
static const char *hget(void *hctx, const char *lname)
{
    (void)hctx;
    if (strcmp(lname, "webhook-id") == 0)
        return hv[0];
    if (strcmp(lname, "webhook-timestamp") == 0)
        return hv[1];
    if (strcmp(lname, "webhook-signature") == 0)
        return hv[2];
    if (strcmp(lname, "creem-signature") == 0)
        return hv[3];
    return NULL;
}

static int is_zero(const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return 0;
    return 1;
}

static void check_token(const char *s, size_t cap, int may_be_empty)
{
    size_t n = strnlen(s, cap);
    if (n == cap || (n == 0 && !may_be_empty) || (n > 0 && !token_ok(s, cap - 1)))
        abort();
}

static void check_event(const struct pay_event *ev)
{
    check_token(ev->event_id, sizeof ev->event_id, 0);
    check_token(ev->provider_ref, sizeof ev->provider_ref, ev->kind == PAY_EVENT_REFUND);
    check_token(ev->order_id, sizeof ev->order_id, 1);
    check_token(ev->type, sizeof ev->type, 0);
    if (ev->amount <= 0 || strnlen(ev->currency, 4) != 3)
        abort();
    for (int i = 0; i < 3; i++)
        if (ev->currency[i] < 'A' || ev->currency[i] > 'Z')
            abort();
    if (ev->kind == PAY_EVENT_PAID && (ev->provider_ref[0] == '\0' || ev->provider_refund_id[0] != '\0'))
        abort();
    if (ev->kind == PAY_EVENT_REFUND) {
        check_token(ev->provider_refund_id, sizeof ev->provider_refund_id, 0);
        if (ev->order_id[0] == '\0' && ev->provider_ref[0] == '\0')
            abort();
    }
    if (ev->kind == PAY_EVENT_FAILED || ev->refund_id[0] != '\0')
        abort();
}

static void check_webhook(const struct pay_webhook_res *res, int mode)
{
    if ((res->rc == PAY_OK) != (res->reason[0] == '\0') ||
        strnlen(res->reason, sizeof res->reason) == sizeof res->reason)
        abort();
    if (res->rc == PAY_OK)
        check_event(&res->ev);
    else if (!is_zero(&res->ev, sizeof res->ev))
        abort();
    if (res->rc != PAY_OK && res->rc != PAY_IGNORED && res->rc != PAY_INVALID)
        abort(); /* the secret is good: never misconfigured */
    counts[mode][res->rc < 8 ? res->rc : 7]++;
}

static void verify(const char *body, size_t len, int mode)
{
    struct pay_webhook_req req = {body, len, hget, NULL, (int64_t)NOW_S * 1000};
    struct pay_webhook_res res;
    creem_pay_verify(&req, SECRET, &res);
    check_webhook(&res, mode);
    /* Mode 2 knows no secret: whatever it sends, a signature never verifies (a forgery
     * would be a broken HMAC or a broken comparison). */
    if (mode == 2 && (res.rc == PAY_OK || res.rc == PAY_IGNORED))
        abort();
}

static void sign_legacy(const char *body, size_t len, char hex[65])
{
    unsigned char mac[32];
    hmac_sha256(SECRET, strlen(SECRET), body, len, mac);
    hex_encode(mac, sizeof mac, hex);
}

static void sign_standard(const char *ts, const char *body, size_t len, char out[64])
{
    unsigned char key[64], mac[32];
    long klen = creem_secret_key(SECRET, key, sizeof key);
    struct sbuf m = {0};
    if (klen <= 0)
        abort();
    sbuf_printf(&m, "msg_fuzz.%s.", ts);
    sbuf_append(&m, body, len);
    hmac_sha256(key, (size_t)klen, m.data, m.len, mac);
    sbuf_free(&m);
    memcpy(out, "v1,", 3);
    b64_encode(mac, sizeof mac, out + 3);
}

static const long statuses[] = {200, 201, 400, 401, 404, 429, 500, 302};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int mode;
    const char *in;
    size_t n;

    if (size < 1)
        return 0;
    mode = data[0] % 6;
    in = (const char *)data + 1;
    n = size - 1;
    memset(hv, 0, sizeof hv);

    if (mode == 0) {
        char hex[65];
        sign_legacy(in, n, hex);
        hv[3] = hex;
        verify(in, n, mode);
    } else if (mode == 1) {
        char ts[24], sig[64];
        snprintf(ts, sizeof ts, "%d", NOW_S - CREEM_TOLERANCE_S);
        sign_standard(ts, in, n, sig);
        hv[0] = "msg_fuzz", hv[1] = ts, hv[2] = sig;
        verify(in, n, mode);
    } else if (mode == 2) {
        /* Four NUL-terminated header values, then the body. */
        char *copy = xmalloc(n + 1);
        const char *p = copy, *end = copy + n;
        memcpy(copy, in, n);
        copy[n] = '\0';
        for (int i = 0; i < 4; i++) {
            size_t k = strnlen(p, (size_t)(end - p));
            hv[i] = k > 0 ? p : NULL;
            p += k < (size_t)(end - p) ? k + 1 : k;
        }
        verify(p, (size_t)(end - p), mode);
        free(copy);
    } else {
        /* An answer as net.h hands it over: NUL-terminated, NUL not counted. */
        long status = n > 0 ? statuses[(unsigned char)in[0] % 8] : 200;
        char *body = xmalloc(n + 1);
        if (n > 0) {
            memcpy(body, in + 1, n - 1);
            n--;
        }
        body[n] = '\0';
        if (mode == 3) {
            struct pay_checkout_res r;
            checkout_answer("ord_1", NET_OK, status, body, n, &r);
            if ((r.rc == PAY_OK) != (r.provider_ref[0] != '\0') ||
                (r.rc == PAY_OK) != (r.checkout[0] != '\0'))
                abort();
            if (r.rc == PAY_OK) {
                json_t *j = json_loads(r.checkout, 0, NULL);
                if (!json_is_string(json_object_get(j, "url")) || json_object_size(j) != 1)
                    abort();
                json_decref(j);
                check_token(r.provider_ref, sizeof r.provider_ref, 0);
            }
            counts[3][r.rc < 8 ? r.rc : 7]++;
        } else if (mode == 4) {
            struct order o;
            struct pay_query_res r;
            char txn[TG_PROVIDER_REF_MAX];
            memset(&o, 0, sizeof o);
            strcpy(o.id, "ord_1");
            strcpy(o.provider_ref, "ch_1");
            query_answer(&o, NET_OK, status, body, n, &r, txn);
            if (r.rc == PAY_OK && r.state == PAY_STATE_PAID) {
                check_event(&r.ev);
                if (strcmp(r.ev.provider_ref, "ch_1") != 0 || strcmp(r.ev.event_id, "query:ch_1") != 0 ||
                    (r.ev.order_id[0] != '\0' && strcmp(r.ev.order_id, "ord_1") != 0))
                    abort();
                check_token(txn, sizeof txn, 1);
            } else if (!is_zero(&r.ev, sizeof r.ev) || txn[0] != '\0') {
                abort();
            }
            if ((r.rc == PAY_OK) != (r.reason[0] == '\0'))
                abort();
            counts[4][r.rc < 8 ? r.rc : 7]++;
        } else {
            struct pay_refund_res r;
            refund_answer(NET_OK, status, body, n, &r);
            if (r.provider_refund_id[0] != '\0' || (r.pending && r.rc != PAY_OK) ||
                (r.rc == PAY_OK) != (r.reason[0] == '\0'))
                abort();
            counts[5][r.rc < 8 ? r.rc : 7]++;
        }
        free(body);
    }
    return 0;
}

void fuzz_seeds(void (*add)(const uint8_t *data, size_t size))
{
    static const char *const bodies[] = {
        ("{\"id\":\"evt_1\",\"eventType\":\"checkout.completed\",\"object\":{\"id\":\"ch_1\",\"request_id\":"
         "\"ord_1\","
         "\"metadata\":{\"order_id\":\"ord_1\"},\"status\":\"completed\",\"order\":{\"id\":\"ord_x\","
         "\"transaction\":"
         "\"tran_1\",\"status\":\"paid\",\"amount\":990,\"currency\":\"USD\"}}}"),
        ("{\"id\":\"evt_2\",\"eventType\":\"refund.created\",\"object\":{\"id\":\"ref_1\",\"status\":"
         "\"succeeded\","
         "\"refund_amount\":400,\"refund_currency\":\"usd\",\"checkout\":{\"id\":\"ch_1\",\"request_id\":"
         "\"ord_1\"}}}"),
        ("{\"id\":\"evt_3\",\"eventType\":\"refund.created\",\"object\":{\"id\":\"ref_2\",\"status\":"
         "\"pending\","
         "\"refund_amount\":990,\"refund_currency\":\"EUR\",\"checkout\":\"ch_1\"}}"),
        "{\"id\":\"evt_4\",\"eventType\":\"subscription.paid\",\"object\":{}}",
        "{\"id\":\"evt_5\",\"eventType\":\"checkout.completed\",\"object\":{\"id\":\"ch_1\",\"order\":null}}",
    };
    static const char *const answers[] = {
        "{\"id\":\"ch_1\",\"status\":\"pending\",\"request_id\":\"ord_1\",\"checkout_url\":\"https://"
        "creem.io/c/ch_1\"}",
        ("{\"id\":\"ch_1\",\"status\":\"completed\",\"request_id\":\"ord_1\",\"order\":{\"transaction\":"
         "\"tran_1\","
         "\"status\":\"paid\",\"amount\":990,\"currency\":\"USD\"}}"),
        "{\"id\":\"ch_1\",\"status\":\"expired\"}",
        "{\"status\":\"succeeded\"}",
        "{\"status\":\"pending\"}",
        "{\"statusCode\":400,\"message\":[\"x\"],\"error\":\"Bad Request\"}",
    };
    char buf[2048];
    size_t i, n;
    int m;

    for (m = 0; m < 2; m++)
        for (i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
            buf[0] = (char)m;
            n = strlen(bodies[i]);
            memcpy(buf + 1, bodies[i], n);
            add((const uint8_t *)buf, n + 1);
        }
    /* Mode 2: all four headers, then a body. */
    n = (size_t)snprintf(buf, sizeof buf, "%c%s%c%d%c%s%c%s%c%s", 2, "msg_1", 0, NOW_S, 0,
                         "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= v1a,x", 0,
                         "sha256=00000000000000000000000000000000000000000000000000000000000000aa", 0,
                         bodies[0]);
    add((const uint8_t *)buf, n);
    for (m = 3; m < 6; m++)
        for (i = 0; i < sizeof answers / sizeof answers[0]; i++) {
            buf[0] = (char)m;
            buf[1] = (char)(i % 2); /* 200 or 201 */
            n = strlen(answers[i]);
            memcpy(buf + 2, answers[i], n);
            add((const uint8_t *)buf, n + 2);
        }
}

void fuzz_report(void)
{
    static const char *const modes[] = {"legacy", "standard", "headers", "checkout", "query", "refund"};
    for (int m = 0; m < 6; m++)
        printf("%s: ok %lu, ignored %lu, invalid %lu, declined %lu, not_found %lu, unavailable %lu, "
               "misconfigured %lu\n",
               modes[m], counts[m][PAY_OK], counts[m][PAY_IGNORED], counts[m][PAY_INVALID],
               counts[m][PAY_DECLINED], counts[m][PAY_NOTFOUND], counts[m][PAY_UNAVAILABLE],
               counts[m][PAY_MISCONFIGURED]);
}
