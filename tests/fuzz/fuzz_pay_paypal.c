/*
 * fuzz_pay_paypal.c - fuzz target for PayPal's wire formats (src/providers/pay/paypal.c,
 * included here h2o style): notifications, their transmission headers, the
 * verify-webhook-signature request built around the raw event, and PayPal's answers.
 *
 * The first byte picks the mode, the rest is the input:
 *   0: a notification body -> paypal_parse_event;
 *   1: five header values separated by NUL bytes (id, time, sig, cert URL, algo) ->
 *      paypal_transmission_get at a fixed now, then paypal_verify_body;
 *   2: a notification body -> the form check paypal_verify does, then paypal_verify_body;
 *   3: an order answer -> paypal_parse_order;
 *   4: an answer to POST /v2/checkout/orders -> paypal_parse_created;
 *   5: other answers -> paypal_parse_refund, paypal_parse_token, paypal_error_issue,
 *      paypal_verify_status.
 * Invariants (abort() when broken):
 *  - events: OK only for a JSON object without duplicate keys; OK has an empty reason,
 *    INVALID and IGNORED a non-empty one and an all-zero event; a PAID or REFUND event has
 *    an amount > 0 in a three-letter upper-case currency that money_format can write; ids
 *    are bounded [A-Za-z0-9_.-]; PAID and FAILED name our order or PayPal's;
 *  - headers: accepted only when each is within its bounds, the algorithm is SHA256withRSA,
 *    the certificate URL is https on paypal.com, and the time parses within 300 s; then the
 *    verify body is a JSON object with exactly the seven members, the strings equal to the
 *    headers (no injection) and webhook_event equal to the event;
 *  - splicing: any body the form check lets through yields a request that parses to exactly
 *    the seven members with webhook_event equal to the body parsed on its own;
 *  - answers: PAID only with "query:<capture id>", our order, PayPal's order id and an
 *    amount > 0; a checkout only as {"url": http(s) link} with a bounded id.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "providers/pay/paypal.c"

/* The network is never used here: net and the registry are not linked. */
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

#define NOW_MS 1795939200000LL /* 2026-11-29T08:00:00Z */
#define ORDER_ID "ord_01JDZ8Q6X2M4N7P9R0S3T5V6W8"
#define PP_ORDER "5O190127TN364715T"

static unsigned long counts[6][3]; /* per mode: accepted, refused, other */

#define must(cond)                                                                                           \
    do {                                                                                                     \
        if (!(cond)) {                                                                                       \
            fprintf(stderr, "fuzz_pay_paypal: invariant broken at line %d: %s\n", __LINE__, #cond);          \
            abort();                                                                                         \
        }                                                                                                    \
    } while (0)

static int all_zero(const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return 0;
    return 1;
}

static int bounded_id(const char *s, size_t cap, int may_be_empty)
{
    size_t n = strnlen(s, cap);
    if (n == cap)
        return 0;
    if (n == 0)
        return may_be_empty;
    return id_ok(s, n, cap - 1);
}

static void check_event(const uint8_t *d, size_t n)
{
    struct pay_webhook_res r;
    json_t *j;
    paypal_parse_event((const char *)d, n, &r);
    if (r.rc == PAY_OK) {
        counts[0][0]++;
        j = json_loadb((const char *)d, n, JSON_REJECT_DUPLICATES, NULL);
        must(json_is_object(j));
        json_decref(j);
        must(r.reason[0] == '\0');
        must(bounded_id(r.ev.event_id, sizeof r.ev.event_id, 0));
        must(bounded_id(r.ev.order_id, sizeof r.ev.order_id, 1));
        must(bounded_id(r.ev.provider_ref, sizeof r.ev.provider_ref, 1));
        must(bounded_id(r.ev.refund_id, sizeof r.ev.refund_id, 1));
        must(strnlen(r.ev.type, sizeof r.ev.type) < sizeof r.ev.type && r.ev.type[0] != '\0');
        if (r.ev.kind == PAY_EVENT_PAID || r.ev.kind == PAY_EVENT_REFUND) {
            char v[32];
            must(r.ev.amount > 0 && currency_ok(r.ev.currency));
            must(money_format(r.ev.amount, r.ev.currency, v, sizeof v) > 0);
        }
        if (r.ev.kind == PAY_EVENT_PAID || r.ev.kind == PAY_EVENT_FAILED)
            must(r.ev.order_id[0] != '\0' || r.ev.provider_ref[0] != '\0');
        if (r.ev.kind == PAY_EVENT_REFUND)
            must(bounded_id(r.ev.provider_refund_id, sizeof r.ev.provider_refund_id, 0));
        must(r.ev.kind == PAY_EVENT_PAID || r.ev.kind == PAY_EVENT_FAILED || r.ev.kind == PAY_EVENT_REFUND);
    } else {
        counts[0][r.rc == PAY_INVALID ? 1 : 2]++;
        must(r.rc == PAY_INVALID || r.rc == PAY_IGNORED);
        must(r.reason[0] != '\0');
        must(all_zero(&r.ev, sizeof r.ev));
    }
}

/* The verify body must be exactly the seven members, with these values. */
static void check_verify_body(const char *body, const struct paypal_transmission *t, const char *webhook_id,
                              json_t *event)
{
    json_t *j = json_loads(body, JSON_REJECT_DUPLICATES, NULL);
    must(json_is_object(j) && json_object_size(j) == 7);
    must(strcmp(json_string_value(json_object_get(j, "auth_algo")), t->auth_algo) == 0);
    must(strcmp(json_string_value(json_object_get(j, "cert_url")), t->cert_url) == 0);
    must(strcmp(json_string_value(json_object_get(j, "transmission_id")), t->id) == 0);
    must(strcmp(json_string_value(json_object_get(j, "transmission_sig")), t->sig) == 0);
    must(strcmp(json_string_value(json_object_get(j, "transmission_time")), t->time) == 0);
    must(strcmp(json_string_value(json_object_get(j, "webhook_id")), webhook_id) == 0);
    must(json_equal(json_object_get(j, "webhook_event"), event));
    json_decref(j);
}

static const char *hdr_values[5];
static const char *hdr_names[5] = {"paypal-transmission-id", "paypal-transmission-time",
                                   "paypal-transmission-sig", "paypal-cert-url", "paypal-auth-algo"};
static const char *hdr_get(void *ctx, const char *lname)
{
    (void)ctx;
    for (int i = 0; i < 5; i++)
        if (strcmp(lname, hdr_names[i]) == 0)
            return hdr_values[i];
    return NULL;
}

static void check_headers(const uint8_t *d, size_t n)
{
    char *copy = malloc(n + 1), *p;
    struct paypal_transmission t;
    struct pay_webhook_req req = {.header = hdr_get, .now_ms = NOW_MS};
    char reason[64];
    int k = 0;

    memcpy(copy, d, n);
    copy[n] = '\0';
    p = copy;
    for (k = 0; k < 5; k++) {
        hdr_values[k] = p <= copy + n ? p : NULL;
        if (p <= copy + n)
            p += strlen(p) + 1;
    }
    if (paypal_transmission_get(&req, &t, reason) == 0) {
        static const char ev[] = "{\"id\":\"WH-1\",\"event_type\":\"PAYMENT.CAPTURE.COMPLETED\"}";
        json_t *e = json_loads(ev, 0, NULL);
        char *body;
        int64_t at;
        counts[1][0]++;
        must(reason[0] == '\0');
        for (k = 0; k < 5; k++)
            must(hdr_values[k] != NULL);
        must(strcmp(t.id, hdr_values[0]) == 0 && strcmp(t.time, hdr_values[1]) == 0 &&
             strcmp(t.sig, hdr_values[2]) == 0 && strcmp(t.cert_url, hdr_values[3]) == 0);
        must(strcmp(t.auth_algo, "SHA256withRSA") == 0);
        must(strncmp(t.cert_url, "https://", 8) == 0 && strcasestr(t.cert_url, "paypal.com/") != NULL);
        must(strpbrk(t.cert_url, "@#\\[]\"' ") == NULL);
        must(time_parse_rfc3339(t.time, strlen(t.time), &at) == 0 && at >= NOW_MS - 300000 &&
             at <= NOW_MS + 300000);
        body = paypal_verify_body(&t, "1JE4291016473214C", ev, sizeof ev - 1);
        check_verify_body(body, &t, "1JE4291016473214C", e);
        free(body);
        json_decref(e);
    } else {
        counts[1][1]++;
        must(reason[0] != '\0' && all_zero(&t, sizeof t));
    }
    free(copy);
}

static void check_splice(const uint8_t *d, size_t n)
{
    /* What paypal_verify lets through to the splice. */
    json_t *e = json_loadb((const char *)d, n, JSON_REJECT_DUPLICATES, NULL);
    struct paypal_transmission t;
    char *body;
    if (!json_is_object(e)) {
        counts[2][1]++;
        json_decref(e);
        return;
    }
    counts[2][0]++;
    memset(&t, 0, sizeof t);
    strcpy(t.id, "b2384410-f8d2-11e8-9a6c-5d3f6a4b2e1c");
    strcpy(t.time, "2026-11-29T08:00:00Z");
    strcpy(t.sig, "c2lnbmF0dXJl");
    strcpy(t.cert_url, "https://api.paypal.com/v1/notifications/certs/CERT-1");
    strcpy(t.auth_algo, "SHA256withRSA");
    body = paypal_verify_body(&t, "1JE4291016473214C", (const char *)d, n);
    check_verify_body(body, &t, "1JE4291016473214C", e);
    free(body);
    json_decref(e);
}

static void check_order(const uint8_t *d, size_t n)
{
    struct order o;
    struct pay_query_res r;
    char status[32], cap[TG_PROVIDER_REF_MAX];
    memset(&o, 0, sizeof o);
    strcpy(o.id, ORDER_ID);
    strcpy(o.provider_ref, PP_ORDER);
    strcpy(o.currency, "USD");
    o.amount = 990;
    paypal_parse_order((const char *)d, n, &o, &r, status, cap);
    if (r.rc == PAY_OK) {
        counts[3][r.state == PAY_STATE_PAID ? 0 : 2]++;
        must(status[0] != '\0' && strnlen(status, 32) < 32);
        if (r.state == PAY_STATE_PAID) {
            must(strncmp(r.ev.event_id, "query:", 6) == 0 && strcmp(r.ev.event_id + 6, cap) == 0);
            must(bounded_id(cap, TG_PROVIDER_REF_MAX, 0));
            must(strcmp(r.ev.order_id, ORDER_ID) == 0 && strcmp(r.ev.provider_ref, PP_ORDER) == 0);
            must(r.ev.amount > 0 && currency_ok(r.ev.currency) && r.ev.kind == PAY_EVENT_PAID);
        } else {
            must(cap[0] == '\0' && all_zero(&r.ev, sizeof r.ev));
        }
    } else {
        counts[3][1]++;
        must(r.rc == PAY_UNAVAILABLE && r.state != PAY_STATE_PAID && status[0] == '\0' && cap[0] == '\0');
        must(all_zero(&r.ev, sizeof r.ev));
    }
}

static void check_created(const uint8_t *d, size_t n)
{
    struct pay_checkout_res r;
    paypal_parse_created((const char *)d, n, &r);
    if (r.rc == PAY_OK) {
        json_t *j = json_loads(r.checkout, JSON_REJECT_DUPLICATES, NULL);
        const char *u = json_string_value(json_object_get(j, "url"));
        counts[4][0]++;
        must(json_is_object(j) && json_object_size(j) == 1 && u != NULL);
        must(strncmp(u, "https://", 8) == 0 || strncmp(u, "http://", 7) == 0);
        must(bounded_id(r.provider_ref, sizeof r.provider_ref, 0));
        json_decref(j);
    } else {
        counts[4][1]++;
        must(r.rc == PAY_UNAVAILABLE && r.provider_ref[0] == '\0' && r.checkout[0] == '\0');
    }
}

static void check_others(const uint8_t *d, size_t n)
{
    struct pay_refund_res rr;
    char tok[PAYPAL_TOKEN_MAX + 1], issue[64];
    int64_t ei = 0;
    int st;

    paypal_parse_refund((const char *)d, n, &rr);
    if (rr.rc == PAY_OK || rr.rc == PAY_DECLINED)
        must(bounded_id(rr.provider_refund_id, sizeof rr.provider_refund_id, 0));
    else
        must(rr.rc == PAY_UNAVAILABLE && rr.provider_refund_id[0] == '\0' && rr.pending == 0);
    if (paypal_parse_token((const char *)d, n, tok, &ei) == 0) {
        counts[5][0]++;
        must(ei > 0 && tok[0] != '\0');
        for (const char *p = tok; *p; p++)
            must(*p > 0x20 && *p < 0x7f);
    } else {
        counts[5][1]++;
        must(tok[0] == '\0');
    }
    paypal_error_issue((const char *)d, n, issue);
    must(strnlen(issue, 64) < 64);
    st = paypal_verify_status((const char *)d, n);
    must(st >= -1 && st <= 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    switch (data[0] % 6) {
    case 0:
        check_event(data + 1, size - 1);
        break;
    case 1:
        check_headers(data + 1, size - 1);
        break;
    case 2:
        check_splice(data + 1, size - 1);
        break;
    case 3:
        check_order(data + 1, size - 1);
        break;
    case 4:
        check_created(data + 1, size - 1);
        break;
    default:
        check_others(data + 1, size - 1);
        break;
    }
    return 0;
}

static void add_mode(void (*add)(const uint8_t *, size_t), int mode, const char *s, size_t n)
{
    uint8_t buf[4096];
    if (n + 1 > sizeof buf)
        return;
    buf[0] = (uint8_t)mode;
    memcpy(buf + 1, s, n);
    add(buf, n + 1);
}

void fuzz_seeds(void (*add)(const uint8_t *data, size_t size))
{
    static const char *events[] = {
        ("{\"id\":\"WH-2CL46544TB770421K-5VB92446WP7345818\",\"event_version\":\"1.0\",\"resource_type\":"
         "\"capture\","
         "\"event_type\":\"PAYMENT.CAPTURE.COMPLETED\",\"summary\":\"Payment completed for \\u0024 9.90 "
         "USD\","
         "\"resource\":{\"id\":\"29Y24445UY2083144\",\"status\":\"COMPLETED\",\"amount\":{\"value\":\"9.90\","
         "\"currency_code\":\"USD\"},\"final_capture\":true,\"custom_id\":\"" ORDER_ID "\","
         "\"supplementary_data\":{\"related_ids\":{\"order_id\":\"" PP_ORDER "\"}}}}"),
        ("{\"id\":\"WH-1\",\"event_type\":\"PAYMENT.CAPTURE.DENIED\",\"resource\":{\"id\":\"C1\",\"status\":"
         "\"DECLINED\",\"amount\":{\"value\":\"68.00\",\"currency_code\":\"CNY\"},\"custom_id\":\"" ORDER_ID
         "\"}}"),
        ("{\"id\":\"WH-2\",\"event_type\":\"PAYMENT.CAPTURE.REFUNDED\",\"resource\":{\"id\":\"R1\","
         "\"status\":"
         "\"COMPLETED\",\"amount\":{\"value\":\"4.00\",\"currency_code\":\"USD\"},\"custom_id\":"
         "\"rfd_01JDZ9A1B2C3D4E5F6G7H8J9K0\",\"invoice_id\":\"" ORDER_ID "\"}}"),
        "{\"id\":\"WH-3\",\"event_type\":\"CHECKOUT.ORDER.APPROVED\",\"resource\":{\"id\":\"" PP_ORDER "\"}}",
        ("{\"id\":\"WH-4\",\"event_type\":\"PAYMENT.CAPTURE.COMPLETED\",\"resource\":{\"status\":"
         "\"COMPLETED\","
         "\"amount\":{\"value\":\"500\",\"currency_code\":\"JPY\"},\"supplementary_data\":{\"related_ids\":"
         "{\"order_id\":\"" PP_ORDER "\"}}}}"),
    };
    static const char headers[] =
        "b2384410-f8d2-11e8-9a6c-5d3f6a4b2e1c\0002026-11-29T08:00:00Z\0"
        "c2lnbmF0dXJlc2lnbmF0dXJl+/==\0"
        "https://api.sandbox.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594-1\0"
        "SHA256withRSA";
    static const char *orders[] = {
        ("{\"id\":\"" PP_ORDER
         "\",\"status\":\"PAYER_ACTION_REQUIRED\",\"purchase_units\":[{\"custom_id\":\"" ORDER_ID "\"}]}"),
        "{\"id\":\"" PP_ORDER "\",\"status\":\"APPROVED\",\"purchase_units\":[{\"custom_id\":\"" ORDER_ID
        "\"}]}",
        ("{\"id\":\"" PP_ORDER "\",\"status\":\"COMPLETED\",\"purchase_units\":[{\"custom_id\":\"" ORDER_ID
         "\",\"payments\":{\"captures\":[{\"id\":\"40V95236PS9814847\",\"status\":\"COMPLETED\",\"amount\":"
         "{\"currency_code\":\"USD\",\"value\":\"9.90\"},\"custom_id\":\"" ORDER_ID "\"}]}}]}"),
        ("{\"id\":\"" PP_ORDER
         "\",\"status\":\"COMPLETED\",\"purchase_units\":[{\"payments\":{\"captures\":[{\"id\":"
         "\"C2\",\"status\":\"DECLINED\",\"amount\":{\"currency_code\":\"USD\",\"value\":\"9.90\"}}]}}]}"),
        "{\"id\":\"" PP_ORDER "\",\"status\":\"VOIDED\"}",
    };
    static const char *created[] = {
        ("{\"id\":\"" PP_ORDER "\",\"status\":\"PAYER_ACTION_REQUIRED\",\"links\":[{\"href\":"
         "\"https://api.sandbox.paypal.com/v2/checkout/orders/" PP_ORDER
         "\",\"rel\":\"self\",\"method\":\"GET\"},"
         "{\"href\":\"https://www.sandbox.paypal.com/checkoutnow?token=" PP_ORDER
         "\",\"rel\":\"payer-action\"}]}"),
        ("{\"id\":\"" PP_ORDER
         "\",\"status\":\"CREATED\",\"links\":[{\"href\":\"https://www.paypal.com/checkoutnow?"
         "token=" PP_ORDER "\",\"rel\":\"approve\",\"method\":\"GET\"}]}"),
    };
    static const char *others[] = {
        "{\"id\":\"1JU08902781691411\",\"status\":\"COMPLETED\",\"links\":[]}",
        "{\"id\":\"1JU08902781691411\",\"status\":\"PENDING\"}",
        ("{\"scope\":\"s\",\"access_token\":\"A21AAF-x_y\",\"token_type\":\"Bearer\",\"app_id\":\"APP-1\","
         "\"expires_in\":32400,\"nonce\":\"n\"}"),
        "{\"name\":\"UNPROCESSABLE_ENTITY\",\"details\":[{\"issue\":\"ORDER_ALREADY_CAPTURED\"}]}",
        "{\"verification_status\":\"SUCCESS\"}",
    };
    size_t i;
    for (i = 0; i < sizeof events / sizeof events[0]; i++) {
        add_mode(add, 0, events[i], strlen(events[i]));
        add_mode(add, 2, events[i], strlen(events[i]));
    }
    add_mode(add, 1, headers, sizeof headers - 1);
    for (i = 0; i < sizeof orders / sizeof orders[0]; i++)
        add_mode(add, 3, orders[i], strlen(orders[i]));
    for (i = 0; i < sizeof created / sizeof created[0]; i++)
        add_mode(add, 4, created[i], strlen(created[i]));
    for (i = 0; i < sizeof others / sizeof others[0]; i++)
        add_mode(add, 5, others[i], strlen(others[i]));
}

void fuzz_report(void)
{
    printf(
        "events ok %lu invalid %lu ignored %lu; headers ok %lu refused %lu; splices %lu (not objects %lu); "
        "orders paid %lu other %lu unavailable %lu; checkouts ok %lu refused %lu; tokens ok %lu refused "
        "%lu\n",
        counts[0][0], counts[0][1], counts[0][2], counts[1][0], counts[1][1], counts[2][0], counts[2][1],
        counts[3][0], counts[3][2], counts[3][1], counts[4][0], counts[4][1], counts[5][0], counts[5][1]);
}
