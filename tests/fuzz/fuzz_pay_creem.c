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
 *   3: a checkout answer;  4: a checkout query answer;  5: a refund answer;
 *   6: the answer of a subscription call (cancel, resume, upgrade)
 *      (the second byte picks the HTTP status from a short list).
 * Invariants (abort() when broken):
 *  - verification: an empty reason exactly for PAY_OK; on anything but OK the event is all
 *    zero; on OK the event id, provider ref and order id are NUL-terminated printable tokens
 *    within their bounds; a payment (PAID, REFUND, SUB_PERIOD) has an amount > 0 and a
 *    currency of three upper-case letters, the other subscription events neither; a PAID
 *    event has a provider ref; a REFUND event has a provider refund id; every SUB_* event has
 *    a subscription ref, a SUB_PERIOD also an invoice ref and a whole period (end after
 *    start), periods are 0 or real dates, the product is "" or one of the catalog's plans,
 *    cancel_at_period_end is set only by SUB_STATE; mode 2 verifies nothing that was not
 *    signed with the secret (the fuzzer does not know it);
 *  - answers: a checkout is OK exactly with a provider ref and a {"url"} that is JSON; a
 *    PAID query result carries "query:" + its provider ref; nothing else reports an event; a
 *    subscription call is OK exactly for a 2xx, and what it reports is unknown (0, -1) or
 *    a real date and 0/1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

static unsigned long counts[7][8];

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

static int is_sub_kind(enum pay_event_kind k)
{
    return k == PAY_EVENT_SUB_PERIOD || k == PAY_EVENT_SUB_PAST_DUE || k == PAY_EVENT_SUB_STATE ||
           k == PAY_EVENT_SUB_ENDED;
}

static void check_period(int64_t start, int64_t end, int whole)
{
    if ((start != 0 && (start < CREEM_MS_MIN || start > CREEM_MS_MAX)) ||
        (end != 0 && (end < CREEM_MS_MIN || end > CREEM_MS_MAX)) || (start != 0 && end != 0 && end <= start) ||
        (whole && (start == 0 || end == 0)))
        abort();
}

static void check_event(const struct pay_event *ev)
{
    int payment = ev->kind == PAY_EVENT_PAID || ev->kind == PAY_EVENT_REFUND || ev->kind == PAY_EVENT_SUB_PERIOD;

    check_token(ev->event_id, sizeof ev->event_id, 0);
    check_token(ev->provider_ref, sizeof ev->provider_ref,
                ev->kind == PAY_EVENT_REFUND || (is_sub_kind(ev->kind) && ev->kind != PAY_EVENT_SUB_PERIOD));
    check_token(ev->order_id, sizeof ev->order_id, 1);
    check_token(ev->type, sizeof ev->type, 0);
    check_token(ev->subscription_ref, sizeof ev->subscription_ref, !is_sub_kind(ev->kind));
    check_token(ev->invoice_ref, sizeof ev->invoice_ref, ev->kind != PAY_EVENT_SUB_PERIOD);
    check_token(ev->product, sizeof ev->product, 1);
    check_period(ev->period_start, ev->period_end, ev->kind == PAY_EVENT_SUB_PERIOD);
    if (ev->product[0] != '\0') {
        const struct catalog_product *p = catalog_find(ev->product);
        if (p == NULL || p->kind != CATALOG_PLAN)
            abort();
    }
    if ((ev->cancel_at_period_end != 0 && ev->kind != PAY_EVENT_SUB_STATE) || (unsigned)ev->cancel_at_period_end > 1)
        abort();
    if ((ev->kind == PAY_EVENT_REFUND && (ev->subscription_ref[0] != '\0' || ev->period_end != 0)) ||
        (is_sub_kind(ev->kind) && ev->order_id[0] != '\0'))
        abort();
    if (ev->kind == PAY_EVENT_SUB_PERIOD && strcmp(ev->provider_ref, ev->invoice_ref) != 0)
        abort();
    if (!payment) {
        if (ev->amount != 0 || ev->currency[0] != '\0' || ev->provider_ref[0] != '\0')
            abort();
        return;
    }
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

/* A catalog selling two plans (and a pack) through Creem, so that product ids map back. */
static void load_catalog(void)
{
    static int done;
    static const char doc[] =
        "{\"packs\": [{\"id\": \"credits_115\", \"credits\": 115, \"prices\": {\"USD\": 990},"
        " \"creem_product_id\": \"prod_115\"}],"
        " \"plans\": [{\"id\": \"pro\", \"credits_per_month\": 300, \"periods\": ["
        "   {\"id\": \"pro_monthly\", \"period\": \"month\", \"prices\": {\"USD\": 1990},"
        "    \"creem_product_id\": \"prod_pro_monthly\"},"
        "   {\"id\": \"pro_yearly\", \"period\": \"year\", \"prices\": {\"USD\": 19900},"
        "    \"creem_product_id\": \"prod_pro_yearly\"}]}]}";
    char path[] = "/tmp/tg_fuzz_pay_creem_catalog.XXXXXX", *err = NULL;
    int fd;

    if (done)
        return;
    done = 1;
    fd = mkstemp(path);
    if (fd < 0 || write(fd, doc, sizeof doc - 1) != (ssize_t)(sizeof doc - 1) || close(fd) != 0 ||
        catalog_init(path, &err) != 0)
        abort();
    unlink(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int mode;
    const char *in;
    size_t n;

    load_catalog();
    if (size < 1)
        return 0;
    mode = data[0] % 7;
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
        } else if (mode == 6) {
            struct pay_sub_res r;
            sub_answer("sub_1", NET_OK, status, body, n, &r);
            if ((r.rc == PAY_OK) != (status >= 200 && status <= 299) || (r.rc == PAY_OK) != (r.reason[0] == '\0') ||
                r.cancel_at_period_end < -1 || r.cancel_at_period_end > 1)
                abort();
            check_period(0, r.period_end, 0);
            counts[6][r.rc < 8 ? r.rc : 7]++;
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
        ("{\"id\":\"evt_6\",\"eventType\":\"subscription.paid\",\"object\":{\"id\":\"sub_1\",\"object\":"
         "\"subscription\",\"status\":\"active\",\"product\":{\"id\":\"prod_pro_monthly\",\"price\":1990,"
         "\"currency\":\"USD\"},\"last_transaction_id\":\"tran_2\",\"last_transaction\":{\"id\":\"tran_2\","
         "\"amount\":1990,\"currency\":\"USD\",\"period_start\":1795939200000,\"period_end\":1798531200000},"
         "\"current_period_start_date\":\"2026-11-29T08:00:00.000Z\",\"current_period_end_date\":"
         "\"2026-12-29T08:00:00.000Z\",\"metadata\":{\"order_id\":\"ord_1\"}}}"),
        ("{\"id\":\"evt_7\",\"eventType\":\"subscription.scheduled_cancel\",\"object\":{\"id\":\"sub_1\","
         "\"status\":\"scheduled_cancel\",\"product\":\"prod_pro_yearly\",\"current_period_end_date\":"
         "\"2026-12-29T16:00:00+08:00\",\"canceled_at\":\"2026-12-01T00:00:00Z\"}}"),
        ("{\"id\":\"evt_8\",\"eventType\":\"subscription.canceled\",\"object\":{\"id\":\"sub_1\","
         "\"status\":\"canceled\"}}"),
        ("{\"id\":\"evt_9\",\"eventType\":\"subscription.update\",\"object\":{\"id\":\"sub_1\","
         "\"status\":\"active\",\"product\":{\"id\":\"prod_115\"},\"current_period_start_date\":"
         "\"2026-11-29T08:00:00Z\",\"current_period_end_date\":\"2026-12-29T08:00:00Z\"}}"),
        "{\"id\":\"evt_10\",\"eventType\":\"subscription.past_due\",\"object\":{\"id\":\"sub_1\"}}",
        "{\"id\":\"evt_11\",\"eventType\":\"subscription.expired\",\"object\":{\"id\":\"sub_1\"}}",
        ("{\"id\":\"evt_12\",\"eventType\":\"checkout.completed\",\"object\":{\"id\":\"ch_2\",\"request_id\":"
         "\"ord_2\",\"product\":{\"id\":\"prod_pro_monthly\"},\"order\":{\"status\":\"paid\",\"amount\":1990,"
         "\"currency\":\"USD\",\"type\":\"recurring\"},\"subscription\":{\"id\":\"sub_1\","
         "\"current_period_start_date\":\"2026-11-29T08:00:00.000Z\",\"current_period_end_date\":"
         "\"2026-12-29T08:00:00.000Z\"}}}"),
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
        ("{\"id\":\"sub_1\",\"status\":\"scheduled_cancel\",\"current_period_end_date\":"
         "\"2026-12-29T08:00:00.000Z\"}"),
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
    for (m = 3; m < 7; m++)
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
    static const char *const modes[] = {"legacy", "standard", "headers", "checkout", "query", "refund", "subscription"};
    for (int m = 0; m < 7; m++)
        printf("%s: ok %lu, ignored %lu, invalid %lu, declined %lu, not_found %lu, unavailable %lu, "
               "misconfigured %lu\n",
               modes[m], counts[m][PAY_OK], counts[m][PAY_IGNORED], counts[m][PAY_INVALID],
               counts[m][PAY_DECLINED], counts[m][PAY_NOTFOUND], counts[m][PAY_UNAVAILABLE],
               counts[m][PAY_MISCONFIGURED]);
}
