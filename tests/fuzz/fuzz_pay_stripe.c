/*
 * fuzz_pay_stripe.c - fuzz target for the Stripe wire formats (src/providers/pay/stripe.c,
 * included here h2o style): webhook verification and event parsing, the Stripe-Signature
 * parser, Checkout Session answers and error answers.
 *
 * The first byte picks the mode, the rest is the input:
 *   0: header NUL body -> stripe_pay_verify as it arrives (forged almost always);
 *   1: body -> signed here with the test secret at the test time, then stripe_pay_verify:
 *      every input reaches the event parser;
 *   2: a Stripe-Signature header -> stripe_sig_parse;
 *   3: a Checkout Session answer -> stripe_session_parse;
 *   4: two status bytes then an error answer -> stripe_error_rc;
 *   5: a Subscription object (an answer to the subscription calls) -> stripe_subscription_parse;
 *   6: an Invoice (the refund of a plan's payment) -> stripe_invoice_pi_parse.
 * Invariants (abort() when broken):
 *  - verify: OK exactly when the reason is empty; OK reports an evt_ id (a refund: its own
 *    re_/pyr_ id), one of our order
 *    ids, an upper-case three-letter currency, an amount >= 0 (> 0 for a refund), a refund's
 *    re_/pyr_ id and "" or one of our refund ids; anything else leaves the event all zero;
 *    a body modified by one byte after signing is never OK; mode 0 is never OK unless its
 *    header carries the signature of its body (checked against a reference computation);
 *  - signature parser: success only with 1..8 v1 entries of 64 lower-case hex digits and a
 *    t of 1..12 digits that appear in the header; failure leaves t = 0 and no entries;
 *  - sessions: success only with a cs_ id of [A-Za-z0-9_], "" or a valid order id, "" or an
 *    upper-case currency, "" or an http(s) URL within its bound, amount >= -1; failure zeroes;
 *  - errors: a reason of [a-z0-9_] only, and the status decides the class as documented;
 *  - subscription events (invoices, subscriptions): a sub_ subscription id, an in_ invoice id
 *    when set (always for a renewal), no order id but on the first invoice's PAID, periods in
 *    whole seconds with start before end, a product of [a-z0-9_] or "";
 *  - subscriptions: success only with a sub_ id, si_ item when set, ordered period, times in
 *    whole seconds; failure zeroes;
 *  - invoices: success only with an in_ id and "" or a pi_ payment intent; failure leaves both "".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "providers/pay/stripe.c"

/* stripe.c's calls are never made here: net and the registry are not linked. */
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

#define SECRET "whsec_fuzz_secret"
#define T 1700000000

static unsigned long counts[7][8];

static int is_zero(const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return 0;
    return 1;
}

static void check_currency(const char *c, int may_be_empty)
{
    if (c[0] == '\0' && may_be_empty)
        return;
    if (strlen(c) != 3)
        abort();
    for (int i = 0; i < 3; i++)
        if (c[i] < 'A' || c[i] > 'Z')
            abort();
}

static void check_id_chars(const char *s, const char *prefix)
{
    size_t n = strlen(s);
    if (strncmp(s, prefix, strlen(prefix)) != 0 || n <= strlen(prefix) || n >= TG_PROVIDER_REF_MAX)
        abort();
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
              s[i] == '_'))
            abort();
}

static void check_period(int64_t start, int64_t end)
{
    if (start % 1000 != 0 || end % 1000 != 0 || start < 0 || end < 0 || end > STRIPE_TIME_MAX_S * 1000)
        abort();
    if (end != 0 && start >= end)
        abort();
}

static void check_product(const char *p)
{
    size_t n = strnlen(p, TG_PRODUCT_MAX);
    if (n == TG_PRODUCT_MAX)
        abort();
    for (size_t i = 0; i < n; i++)
        if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= '0' && p[i] <= '9') || p[i] == '_'))
            abort();
}

static const char *hdr_value;
static const char *get_header(void *hctx, const char *lname)
{
    (void)hctx;
    return strcmp(lname, "stripe-signature") == 0 ? hdr_value : NULL;
}

static void check_res(const struct pay_webhook_res *r)
{
    if (r->rc == PAY_OK) {
        if (r->reason[0] != '\0')
            abort();
        if (r->ev.kind == PAY_EVENT_REFUND ? strcmp(r->ev.event_id, r->ev.provider_refund_id) != 0
                                           : strncmp(r->ev.event_id, "evt_", 4) != 0)
            abort();
        if (r->ev.kind != PAY_EVENT_REFUND)
            check_id_chars(r->ev.event_id, "evt_");
        if (r->ev.kind >= PAY_EVENT_SUB_PERIOD) {
            /* subscription events: by subscription, never by order */
            check_id_chars(r->ev.subscription_ref, "sub_");
            if (r->ev.order_id[0] || r->ev.provider_ref[0] || r->ev.refund_id[0] || r->ev.provider_refund_id[0])
                abort();
            if (r->ev.invoice_ref[0])
                check_id_chars(r->ev.invoice_ref, "in_");
            check_period(r->ev.period_start, r->ev.period_end);
            check_product(r->ev.product);
            check_currency(r->ev.currency, r->ev.kind >= PAY_EVENT_SUB_STATE);
            if (r->ev.kind == PAY_EVENT_SUB_PERIOD && (r->ev.invoice_ref[0] == '\0' || r->ev.period_end == 0))
                abort();
            if (r->ev.kind != PAY_EVENT_SUB_STATE && r->ev.kind != PAY_EVENT_SUB_ENDED &&
                r->ev.kind != PAY_EVENT_SUB_PERIOD && r->ev.kind != PAY_EVENT_SUB_PAST_DUE)
                abort();
            if (r->ev.amount < 0 || (r->ev.cancel_at_period_end != 0 && r->ev.cancel_at_period_end != 1))
                abort();
            if (memchr(r->ev.type, '\0', sizeof r->ev.type) == NULL || r->ev.type[0] == '\0')
                abort();
            return;
        }
        if (!id_valid(r->ev.order_id, "ord"))
            abort();
        check_currency(r->ev.currency, 0);
        if (r->ev.amount < 0)
            abort();
        if (memchr(r->ev.type, '\0', sizeof r->ev.type) == NULL || r->ev.type[0] == '\0')
            abort();
        if (r->ev.kind == PAY_EVENT_REFUND) {
            if (r->ev.amount <= 0)
                abort();
            if (strncmp(r->ev.provider_refund_id, "re_", 3) == 0)
                check_id_chars(r->ev.provider_refund_id, "re_");
            else
                check_id_chars(r->ev.provider_refund_id, "pyr_");
            if (r->ev.refund_id[0] != '\0' && !id_valid(r->ev.refund_id, "rfd"))
                abort();
        } else if (r->ev.kind == PAY_EVENT_PAID && r->ev.invoice_ref[0]) {
            /* a plan's first invoice: the subscription, its invoice and period, no session */
            check_id_chars(r->ev.invoice_ref, "in_");
            check_id_chars(r->ev.subscription_ref, "sub_");
            check_period(r->ev.period_start, r->ev.period_end);
            check_product(r->ev.product);
            if (r->ev.provider_ref[0] || r->ev.refund_id[0] || r->ev.provider_refund_id[0])
                abort();
        } else if (r->ev.kind == PAY_EVENT_PAID || r->ev.kind == PAY_EVENT_FAILED) {
            check_id_chars(r->ev.provider_ref, "cs_");
            if (r->ev.subscription_ref[0])
                check_id_chars(r->ev.subscription_ref, "sub_");
            if (r->ev.refund_id[0] || r->ev.provider_refund_id[0] || r->ev.invoice_ref[0] || r->ev.period_end)
                abort();
        } else {
            abort();
        }
    } else {
        if (r->reason[0] == '\0' || memchr(r->reason, '\0', sizeof r->reason) == NULL)
            abort();
        if (!is_zero(&r->ev, sizeof r->ev))
            abort();
    }
}

static void run_verify(const char *header, const char *body, size_t len, struct pay_webhook_res *res)
{
    struct pay_webhook_req req;
    memset(&req, 0, sizeof req);
    hdr_value = header;
    req.body = body;
    req.len = len;
    req.header = get_header;
    req.now_ms = (int64_t)T * 1000;
    stripe_pay_verify(SECRET, &req, res);
}

/* The reference: HMAC over "<t>.<body>" with the secret, in lower-case hex. */
static void reference_sig(int64_t t, const char *body, size_t len, char hex[65])
{
    unsigned char mac[32];
    char *msg = xmalloc(len + 32);
    int n = snprintf(msg, 32, "%lld.", (long long)t);
    memcpy(msg + n, body, len);
    hmac_sha256(SECRET, strlen(SECRET), msg, (size_t)n + len, mac);
    free(msg);
    hex_encode(mac, sizeof mac, hex);
}

static void mode_verify_raw(const uint8_t *d, size_t n)
{
    const uint8_t *nul = memchr(d, 0, n);
    struct pay_webhook_res res;
    char *hdr, *body;
    size_t hl, bl;

    if (nul == NULL)
        return;
    hl = (size_t)(nul - d);
    bl = n - hl - 1;
    hdr = xstrndup((const char *)d, hl);
    body = xmalloc(bl ? bl : 1);
    memcpy(body, nul + 1, bl);
    run_verify(hdr, body, bl, &res);
    check_res(&res);
    counts[0][res.rc]++;
    if (res.rc == PAY_OK || res.rc == PAY_IGNORED ||
        (res.rc == PAY_INVALID && strcmp(res.reason, "signature_mismatch") != 0 &&
         strcmp(res.reason, "signature_malformed") != 0 && strcmp(res.reason, "signature_missing") != 0 &&
         strcmp(res.reason, "body_too_large") != 0)) {
        /* past the signature: the header must carry the reference signature of the body */
        int64_t t;
        char v1[STRIPE_SIG_MAX_V1][65], want[65];
        size_t k, found = 0;
        if (stripe_sig_parse(hdr, &t, v1, &k) != 0)
            abort();
        reference_sig(t, body, bl, want);
        for (size_t i = 0; i < k; i++)
            found |= strcmp(v1[i], want) == 0;
        if (!found)
            abort();
    }
    free(hdr);
    free(body);
}

static void mode_verify_signed(const uint8_t *d, size_t n)
{
    struct pay_webhook_res res, res2;
    char want[65], *hdr;
    char *body = xmalloc(n ? n : 1);

    memcpy(body, d, n);
    reference_sig(T, body, n, want);
    hdr = xasprintf("t=%d,v1=%s", T, want);
    run_verify(hdr, body, n, &res);
    check_res(&res);
    counts[1][res.rc]++;
    if (n <= STRIPE_EVENT_MAX && res.rc == PAY_INVALID &&
        (strcmp(res.reason, "signature_mismatch") == 0 || strcmp(res.reason, "signature_malformed") == 0 ||
         strcmp(res.reason, "timestamp_out_of_tolerance") == 0))
        abort(); /* a correctly signed, fresh body always gets past the signature */
    if (n > 0) {
        body[n / 2] ^= 0x01; /* one bit changed after signing */
        run_verify(hdr, body, n, &res2);
        if (res2.rc != PAY_INVALID)
            abort();
    }
    free(hdr);
    free(body);
}

static void mode_sig(const uint8_t *d, size_t n)
{
    char *h = xstrndup((const char *)d, n);
    int64_t t = 42;
    char v1[STRIPE_SIG_MAX_V1][65];
    size_t k = 99;
    int rc = stripe_sig_parse(h, &t, v1, &k);
    counts[2][rc == 0]++;
    if (rc == 0) {
        if (k < 1 || k > STRIPE_SIG_MAX_V1 || t < 0 || t > 999999999999LL)
            abort();
        if (strstr(h, "t=") == NULL || strlen(h) > STRIPE_SIG_HEADER_MAX)
            abort();
        for (size_t i = 0; i < k; i++) {
            if (strlen(v1[i]) != 64 || !is_lower_hex(v1[i], 64) || strstr(h, v1[i]) == NULL)
                abort();
        }
    } else if (t != 0 || k != 0) {
        abort();
    }
    free(h);
}

static void mode_session(const uint8_t *d, size_t n)
{
    struct stripe_session s;
    char *b = xmalloc(n ? n : 1);
    memcpy(b, d, n);
    if (stripe_session_parse(b, n, &s) == 0) {
        counts[3][1]++;
        check_id_chars(s.id, "cs_");
        if (s.order_id[0] && !id_valid(s.order_id, "ord"))
            abort();
        check_currency(s.currency, 1);
        if (s.amount_total < -1)
            abort();
        if (s.url[0] && strncmp(s.url, "https://", 8) != 0 && strncmp(s.url, "http://", 7) != 0)
            abort();
        if (memchr(s.url, '\0', sizeof s.url) == NULL || memchr(s.status, '\0', sizeof s.status) == NULL)
            abort();
        if (s.payment_intent[0])
            check_id_chars(s.payment_intent, "pi_");
    } else {
        counts[3][0]++;
        if (!is_zero(&s, sizeof s))
            abort();
    }
    free(b);
}

static void mode_error(const uint8_t *d, size_t n)
{
    char reason[64];
    long status;
    enum pay_rc rc;
    char *b;
    if (n < 2)
        return;
    status = (long)(d[0] << 8 | d[1]) % 600;
    b = xmalloc(n - 2 ? n - 2 : 1);
    memcpy(b, d + 2, n - 2);
    rc = stripe_error_rc(status, b, n - 2, reason);
    counts[4][rc]++;
    if (reason[0] == '\0' || memchr(reason, '\0', sizeof reason) == NULL)
        abort();
    for (const char *p = reason; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '.'))
            abort();
    if ((status == 401 || status == 403) != (rc == PAY_MISCONFIGURED))
        abort();
    if ((status == 429 || status >= 500 || status < 400) && rc != PAY_UNAVAILABLE)
        abort();
    if (status == 404 && rc != PAY_NOTFOUND)
        abort();
    free(b);
}

static void mode_subscription(const uint8_t *d, size_t n)
{
    struct stripe_subscription s;
    char *b = xmalloc(n ? n : 1);
    memcpy(b, d, n);
    if (stripe_subscription_parse(b, n, &s) == 0) {
        counts[5][1]++;
        check_id_chars(s.id, "sub_");
        if (s.item_id[0])
            check_id_chars(s.item_id, "si_");
        check_period(s.period_start, s.period_end);
        check_product(s.product);
        check_currency(s.currency, 1);
        if (s.order_id[0] && !id_valid(s.order_id, "ord"))
            abort();
        if (s.ours != (s.order_id[0] != '\0') || (s.cancel_at_period_end != 0 && s.cancel_at_period_end != 1))
            abort();
        if (memchr(s.status, '\0', sizeof s.status) == NULL || memchr(s.price_id, '\0', sizeof s.price_id) == NULL ||
            memchr(s.stripe_product, '\0', sizeof s.stripe_product) == NULL)
            abort();
    } else {
        counts[5][0]++;
        if (!is_zero(&s, sizeof s))
            abort();
    }
    free(b);
}

static void mode_invoice(const uint8_t *d, size_t n)
{
    char id[TG_PROVIDER_REF_MAX], pi[TG_PROVIDER_REF_MAX];
    char *b = xmalloc(n ? n : 1);
    memcpy(b, d, n);
    if (stripe_invoice_pi_parse(b, n, id, pi) == 0) {
        counts[6][1]++;
        check_id_chars(id, "in_");
        if (pi[0])
            check_id_chars(pi, "pi_");
    } else {
        counts[6][0]++;
        if (id[0] || pi[0])
            abort();
    }
    free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    switch (data[0] % 7) {
    case 0:
        mode_verify_raw(data + 1, size - 1);
        break;
    case 1:
        mode_verify_signed(data + 1, size - 1);
        break;
    case 2:
        mode_sig(data + 1, size - 1);
        break;
    case 3:
        mode_session(data + 1, size - 1);
        break;
    case 4:
        mode_error(data + 1, size - 1);
        break;
    case 5:
        mode_subscription(data + 1, size - 1);
        break;
    default:
        mode_invoice(data + 1, size - 1);
        break;
    }
    return 0;
}

#define ORD "ord_01JDZ8K6Q3V5X7Y9A1B2C3D4E5"
#define SESSION                                                                                              \
    "{\"id\":\"cs_test_a1B2c3\",\"object\":\"checkout.session\",\"amount_total\":990,\"currency\":\"usd\","  \
    "\"client_reference_id\":\"" ORD "\",\"metadata\":{\"order_id\":\"" ORD "\"},\"payment_intent\":"        \
    "\"pi_3Od\",\"payment_status\":\"paid\",\"status\":\"complete\",\"url\":\"https://checkout.stripe.com/"  \
    "c/pay/x\"}"

#define SUBMETA "{\"order_id\":\"" ORD "\",\"product\":\"pro_monthly\"}"
#define SUBSCRIPTION                                                                                         \
    "{\"id\":\"sub_1Q\",\"object\":\"subscription\",\"status\":\"active\",\"cancel_at_period_end\":true,"    \
    "\"cancel_at\":null,\"currency\":\"usd\",\"metadata\":" SUBMETA ",\"items\":{\"object\":\"list\",\"data\":[{"   \
    "\"id\":\"si_Q\",\"current_period_start\":1700000000,\"current_period_end\":1702592000,\"price\":{\"id\":"   \
    "\"price_1Q\",\"product\":\"prod_Q\",\"currency\":\"usd\"}}]}}"
#define INVOICE(reason)                                                                                      \
    "{\"id\":\"in_1Q\",\"object\":\"invoice\",\"billing_reason\":\"" reason "\",\"amount_paid\":1990,"            \
    "\"amount_due\":1990,\"currency\":\"usd\",\"parent\":{\"type\":\"subscription_details\","                   \
    "\"subscription_details\":{\"metadata\":" SUBMETA ",\"subscription\":\"sub_1Q\"}},\"lines\":{\"data\":[{"     \
    "\"type\":\"subscription\",\"proration\":false,\"period\":{\"start\":1702592000,\"end\":1705270400},"        \
    "\"parent\":{\"type\":\"subscription_item_details\",\"subscription_item_details\":{\"proration\":false}},"   \
    "\"pricing\":{\"type\":\"price_details\",\"price_details\":{\"price\":\"price_1Q\"}}}]}}"
#define LEGACY_INVOICE                                                                                       \
    "{\"id\":\"in_2Q\",\"object\":\"invoice\",\"billing_reason\":\"subscription_cycle\",\"amount_paid\":1990,"  \
    "\"amount_due\":1990,\"currency\":\"usd\",\"subscription\":\"sub_1Q\",\"subscription_details\":{\"metadata\":" SUBMETA "},"       \
    "\"lines\":{\"data\":[{\"type\":\"subscription\",\"proration\":false,\"period\":{\"start\":1702592000,"   \
    "\"end\":1705270400},\"price\":{\"id\":\"price_1Q\"},\"plan\":{\"id\":\"price_1Q\"}}]}}"

void fuzz_seeds(void (*add)(const uint8_t *data, size_t size))
{
    static const char *events[] = {
        "{\"id\":\"evt_1\",\"object\":\"event\",\"type\":\"checkout.session.completed\",\"data\":{"
        "\"object\":" SESSION "}}",
        "{\"id\":\"evt_2\",\"object\":\"event\",\"type\":\"checkout.session.expired\",\"data\":{"
        "\"object\":" SESSION "}}",
        "{\"id\":\"evt_3\",\"object\":\"event\",\"type\":\"checkout.session.async_payment_succeeded\","
        "\"data\":{\"object\":" SESSION "}}",
        ("{\"id\":\"evt_4\",\"object\":\"event\",\"type\":\"refund.updated\",\"data\":{\"object\":{\"id\":"
         "\"re_1\","
         "\"object\":\"refund\",\"amount\":500,\"currency\":\"usd\",\"status\":\"succeeded\",\"metadata\":{"
         "\"order_id\":"
         "\"" ORD "\",\"refund_id\":\"rfd_01JDZ9M0N1P2Q3R4S5T6V7W8X9\"}}}}"),
        ("{\"id\":\"evt_5\",\"object\":\"event\",\"type\":\"charge.refunded\",\"data\":{\"object\":{\"id\":"
         "\"ch_1\","
         "\"object\":\"charge\",\"metadata\":{\"order_id\":\"" ORD
         "\"},\"refunds\":{\"object\":\"list\",\"data\":[{"
         "\"id\":\"pyr_1\",\"amount\":990,\"currency\":\"cny\",\"status\":\"succeeded\",\"metadata\":{}}]}}}"
         "}"),
        "{\"id\":\"evt_6\",\"object\":\"event\",\"type\":\"payment_intent.succeeded\",\"data\":{\"object\":{}"
        "}}",
        "{\"id\":\"evt_7\",\"object\":\"event\",\"type\":\"invoice.paid\",\"data\":{\"object\":"
        INVOICE("subscription_cycle") "}}",
        "{\"id\":\"evt_8\",\"object\":\"event\",\"type\":\"invoice.payment_succeeded\",\"data\":{\"object\":"
        INVOICE("subscription_create") "}}",
        "{\"id\":\"evt_9\",\"object\":\"event\",\"type\":\"invoice.payment_failed\",\"data\":{\"object\":"
        INVOICE("subscription_cycle") "}}",
        "{\"id\":\"evt_10\",\"object\":\"event\",\"type\":\"invoice.paid\",\"data\":{\"object\":"
        LEGACY_INVOICE "}}",
        "{\"id\":\"evt_11\",\"object\":\"event\",\"type\":\"customer.subscription.updated\",\"data\":{"
        "\"object\":" SUBSCRIPTION "}}",
        "{\"id\":\"evt_12\",\"object\":\"event\",\"type\":\"customer.subscription.deleted\",\"data\":{"
        "\"object\":" SUBSCRIPTION "}}",
        "{\"id\":\"evt_13\",\"object\":\"event\",\"type\":\"checkout.session.completed\",\"data\":{"
        "\"object\":{\"id\":\"cs_test_s\",\"object\":\"checkout.session\",\"mode\":\"subscription\","
        "\"subscription\":\"sub_1Q\",\"amount_total\":1990,\"currency\":\"usd\",\"client_reference_id\":\"" ORD
        "\",\"payment_status\":\"paid\",\"status\":\"complete\"}}}",
    };
    static const char *headers[] = {
        "t=1700000000,v1=d95c6b7477fbd7e9f90b1b0ef5f9c7ac25abca5382460e0d988c2b2a5b71b990",
        ("t=1700000000,v1=d95c6b7477fbd7e9f90b1b0ef5f9c7ac25abca5382460e0d988c2b2a5b71b990,"
         "v1=0000000000000000000000000000000000000000000000000000000000000000,v0=abc"),
    };
    static const char *errors[] = {
        "\x01\x90{\"error\":{\"type\":\"invalid_request_error\",\"code\":\"charge_already_refunded\"}}",
        "\x01\x92{\"error\":{\"type\":\"card_error\",\"code\":\"card_declined\"}}",
        "\x01\x91{\"error\":{\"type\":\"invalid_request_error\",\"message\":\"Invalid API Key\"}}",
    };
    static const char *invoices[] = {
        "{\"id\":\"in_1Q\",\"object\":\"invoice\",\"payments\":{\"object\":\"list\",\"data\":[{\"status\":\"paid\","
        "\"payment\":{\"type\":\"payment_intent\",\"payment_intent\":\"pi_3Q\"}}]}}",
        "{\"id\":\"in_2Q\",\"object\":\"invoice\",\"payment_intent\":{\"id\":\"pi_3R\",\"object\":\"payment_intent\"}}",
    };
    char buf[4096];
    size_t i, n;

    for (i = 0; i < sizeof events / sizeof *events; i++) {
        n = strlen(events[i]);
        buf[0] = 1;
        memcpy(buf + 1, events[i], n);
        add((const uint8_t *)buf, n + 1);
    }
    for (i = 0; i < sizeof headers / sizeof *headers; i++) {
        n = strlen(headers[i]);
        buf[0] = 2;
        memcpy(buf + 1, headers[i], n);
        add((const uint8_t *)buf, n + 1);
        /* the same header with a body, as it arrives */
        buf[0] = 0;
        buf[n + 1] = '\0';
        memcpy(buf + n + 2, "{\"id\":\"evt_test_webhook\",\"object\":\"event\"}", 42);
        add((const uint8_t *)buf, n + 44);
    }
    n = strlen(SESSION);
    buf[0] = 3;
    memcpy(buf + 1, SESSION, n);
    add((const uint8_t *)buf, n + 1);
    for (i = 0; i < sizeof errors / sizeof *errors; i++) {
        n = strlen(errors[i]);
        buf[0] = 4;
        memcpy(buf + 1, errors[i], n);
        add((const uint8_t *)buf, n + 1);
    }
    n = strlen(SUBSCRIPTION);
    buf[0] = 5;
    memcpy(buf + 1, SUBSCRIPTION, n);
    add((const uint8_t *)buf, n + 1);
    for (i = 0; i < sizeof invoices / sizeof *invoices; i++) {
        n = strlen(invoices[i]);
        buf[0] = 6;
        memcpy(buf + 1, invoices[i], n);
        add((const uint8_t *)buf, n + 1);
    }
}

void fuzz_report(void)
{
    printf(
        "fuzz_pay_stripe: raw %lu ok %lu ignored %lu invalid; signed %lu ok %lu ignored %lu invalid; "
        "headers %lu parsed %lu refused; sessions %lu parsed %lu refused; errors %lu invalid %lu declined; "
        "subscriptions %lu parsed %lu refused; invoices %lu parsed %lu refused\n",
        counts[0][PAY_OK], counts[0][PAY_IGNORED], counts[0][PAY_INVALID], counts[1][PAY_OK],
        counts[1][PAY_IGNORED], counts[1][PAY_INVALID], counts[2][1], counts[2][0], counts[3][1],
        counts[3][0], counts[4][PAY_INVALID], counts[4][PAY_DECLINED], counts[5][1], counts[5][0], counts[6][1], counts[6][0]);
}
