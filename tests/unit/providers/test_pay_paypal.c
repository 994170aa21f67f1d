/*
 * Unit tests for src/providers/pay/paypal.c (included here, h2o style, with a scripted
 * stand-in for net.h): the transmission headers of a notification and what an attacker can
 * do with them, the verify-webhook-signature request (the raw event spliced byte for byte),
 * the events, orders, refunds and tokens as the fake PayPal answers them (vectors written by
 * tests/fakes/gen_paypal_vectors.mjs into data/paypal/), and every operation call by call:
 * the token cache, a 401 refreshing the token once, the capture of an approved order, the
 * refund through the order's capture, and how each failure is reported.
 */
#include "../test.h"

#include <stdlib.h>
#include <unistd.h>

#include <sodium.h>

#include "providers/pay/paypal.c"

/* ---- a scripted net ---------------------------------------------------------------- */

struct scripted {
    enum net_err err;
    long status;
    const char *body; /* NULL: no body */
};

struct seen_call {
    char method[8];
    char url[512];
    char headers[NET_MAX_HEADERS][4096];
    size_t n_headers;
    char *body;
    int idempotent, retries, timeout_ms;
};

#define MAX_CALLS 16
static struct scripted script[MAX_CALLS];
static size_t n_script, script_pos;
static struct seen_call seen[MAX_CALLS];
static size_t n_seen;

void net_call_init(struct net_call *c, const char *provider, const char *method, const char *url)
{
    memset(c, 0, sizeof *c);
    c->provider = provider;
    snprintf(c->method, sizeof c->method, "%s", method);
    c->url = xstrdup(url);
    c->timeout_ms = NET_DEFAULT_TIMEOUT_MS;
    c->max_response = NET_DEFAULT_MAX_RESPONSE;
    c->idempotent = strcmp(method, "GET") == 0;
    c->retries = 2;
}

void net_call_header(struct net_call *c, const char *name, const char *value)
{
    c->headers[c->n_headers++] = xasprintf("%s: %s", name, value);
}

void net_call_body(struct net_call *c, const char *content_type, const char *body, size_t len)
{
    free(c->body);
    c->body = xstrndup(body, len);
    c->body_len = len;
    if (content_type != NULL)
        net_call_header(c, "Content-Type", content_type);
}

const char *net_resp_header(const struct net_call *c, const char *lname)
{
    (void)c, (void)lname;
    return NULL;
}

void net_call_release(struct net_call *c)
{
    free(c->url);
    free(c->body);
    free(c->resp_body);
    for (size_t i = 0; i < c->n_headers; i++)
        free(c->headers[i]);
    memset(c, 0, sizeof *c);
}

const char *net_err_name(enum net_err e)
{
    static const char *n[] = {"ok",        "timeout",  "connect",  "tls",
                              "too_large", "protocol", "shutdown", "error"};
    return (unsigned)e < 8 ? n[e] : "?";
}

void net_exec_submit(struct net_exec *ex, struct net_call *c, net_done_fn done)
{
    (void)ex;
    if (n_seen < MAX_CALLS) {
        struct seen_call *s = &seen[n_seen];
        snprintf(s->method, sizeof s->method, "%s", c->method);
        snprintf(s->url, sizeof s->url, "%s", c->url);
        s->n_headers = c->n_headers;
        for (size_t i = 0; i < c->n_headers; i++)
            snprintf(s->headers[i], sizeof s->headers[i], "%s", c->headers[i]);
        s->body = c->body != NULL ? xstrdup(c->body) : NULL;
        s->idempotent = c->idempotent;
        s->retries = c->retries;
        s->timeout_ms = c->timeout_ms;
    }
    n_seen++;
    if (script_pos < n_script) {
        const struct scripted *a = &script[script_pos++];
        c->err = a->err;
        c->status = a->status;
        if (a->body != NULL) {
            c->resp_len = strlen(a->body);
            c->resp_body = xmalloc(c->resp_len + 1);
            memcpy(c->resp_body, a->body, c->resp_len + 1);
        }
    } else {
        c->err = NET_CONNECT;
    }
    done(c);
}

/* registry.c's, which this test does not link. */
const char *pay_rc_name(enum pay_rc rc)
{
    static const char *n[] = {"ok",        "ignored",     "invalid",      "declined",
                              "not_found", "unavailable", "misconfigured"};
    return (unsigned)rc < 7 ? n[rc] : "?";
}

static void script_reset(void)
{
    for (size_t i = 0; i < n_seen && i < MAX_CALLS; i++)
        free(seen[i].body);
    memset(seen, 0, sizeof seen);
    n_seen = 0;
    n_script = 0;
    script_pos = 0;
}

static void answer(long status, const char *body)
{
    script[n_script].err = NET_OK;
    script[n_script].status = status;
    script[n_script].body = body;
    n_script++;
}

static void fail_net(enum net_err e)
{
    script[n_script].err = e;
    script[n_script].status = 0;
    script[n_script].body = NULL;
    n_script++;
}

/* The value of header name in seen call i, or NULL. */
static const char *seen_header(size_t i, const char *name)
{
    size_t n = strlen(name);
    for (size_t k = 0; k < seen[i].n_headers; k++)
        if (strncasecmp(seen[i].headers[k], name, n) == 0 && seen[i].headers[k][n] == ':')
            return seen[i].headers[k] + n + 2;
    return NULL;
}

/* ---- fixtures ------------------------------------------------------------------------ */

static char tmp_root[] = "/tmp/tg_test_pay_paypal.XXXXXX";
static int dir_seq;

static char *slurp(const char *name, size_t *len)
{
    const char *dir = getenv("TEST_DATA_DIR");
    char path[512];
    FILE *f;
    char *buf;
    long n;

    snprintf(path, sizeof path, "%s/paypal/%s", dir ? dir : "tests/unit/providers/data", name);
    f = fopen(path, "rb");
    if (f == NULL) {
        printf("Bail out! cannot open %s (TEST_DATA_DIR)\n", path);
        exit(1);
    }
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = xmalloc((size_t)n + 1);
    if (fread(buf, 1, (size_t)n, f) != (size_t)n)
        exit(1);
    buf[n] = '\0';
    fclose(f);
    if (len != NULL)
        *len = (size_t)n;
    return buf;
}

static char *F(const char *name)
{
    return slurp(name, NULL);
}

/* base with the first `from` replaced by `to` (caller frees), or NULL when absent. */
static char *replace(const char *base, const char *from, const char *to)
{
    const char *p = strstr(base, from);
    struct sbuf b = {0};
    if (p == NULL)
        return NULL;
    sbuf_append(&b, base, (size_t)(p - base));
    sbuf_puts(&b, to);
    sbuf_puts(&b, p + strlen(from));
    return b.data;
}

/* A string member of data/paypal/ids.json (static copy). */
static const char *ids(const char *key)
{
    static char buf[8][128];
    static int k;
    char *t = F("ids.json");
    json_t *j = json_loads(t, 0, NULL);
    char *out = buf[k++ % 8];
    snprintf(out, 128, "%s", json_string_value(json_object_get(j, key)));
    json_decref(j);
    free(t);
    return out;
}

static void configure(const char *webhook_id)
{
    char dir[512], *err = NULL;
    snprintf(dir, sizeof dir, "%s/d%d", tmp_root, ++dir_seq);
    setenv("TG_DATA_DIR", dir, 1);
    setenv("TG_PAYPAL_CLIENT_ID", "client-id-123", 1);
    setenv("TG_PAYPAL_CLIENT_SECRET", "s3cr3t-paypal-secret", 1);
    setenv("TG_PAYPAL_API_BASE", "https://api-m.sandbox.paypal.com", 1);
    if (webhook_id != NULL)
        setenv("TG_PAYPAL_WEBHOOK_ID", webhook_id, 1);
    else
        unsetenv("TG_PAYPAL_WEBHOOK_ID");
    config_free();
    if (config_load(NULL, &err) != 0) {
        printf("Bail out! config_load: %s\n", err);
        exit(1);
    }
    paypal_token_reset();
}

static void make_order(struct order *o)
{
    memset(o, 0, sizeof *o);
    snprintf(o->id, sizeof o->id, "%s", ids("order"));
    snprintf(o->product, sizeof o->product, "credits_115");
    o->amount = 990;
    snprintf(o->currency, sizeof o->currency, "USD");
    snprintf(o->provider, sizeof o->provider, "paypal");
    snprintf(o->status, sizeof o->status, "pending");
}

/* Headers for a webhook request: name/value pairs; a NULL value is "present twice". */
struct hdrs {
    const char *kv[16][2];
    size_t n;
};

static const char *hdr_get(void *ctx, const char *lname)
{
    struct hdrs *h = ctx;
    for (size_t i = 0; i < h->n; i++)
        if (strcmp(h->kv[i][0], lname) == 0)
            return h->kv[i][1];
    return NULL;
}

static void hdr_set(struct hdrs *h, const char *name, const char *value)
{
    for (size_t i = 0; i < h->n; i++)
        if (strcmp(h->kv[i][0], name) == 0) {
            h->kv[i][1] = value;
            return;
        }
    h->kv[h->n][0] = name;
    h->kv[h->n][1] = value;
    h->n++;
}

static json_t *transmission;
#define FIXED_TIME_MS 1795939200000LL /* 2026-11-29T08:00:00Z, the vectors' transmission time */

static void std_headers(struct hdrs *h)
{
    memset(h, 0, sizeof *h);
    const char *names[] = {"paypal-transmission-id", "paypal-transmission-time", "paypal-transmission-sig",
                           "paypal-cert-url", "paypal-auth-algo"};
    for (size_t i = 0; i < 5; i++)
        hdr_set(h, names[i], json_string_value(json_object_get(transmission, names[i])));
}

/* ---- results ---- */

static int calls;
static struct pay_checkout_res cres;
static struct pay_query_res qres;
static struct pay_refund_res rres;
static struct pay_webhook_res wres;
static void on_checkout(void *a, const struct pay_checkout_res *r)
{
    (void)a, calls++, cres = *r;
}
static void on_query(void *a, const struct pay_query_res *r)
{
    (void)a, calls++, qres = *r;
}
static void on_refund(void *a, const struct pay_refund_res *r)
{
    (void)a, calls++, rres = *r;
}
static void on_webhook(void *a, const struct pay_webhook_res *r)
{
    (void)a, calls++, wres = *r;
}

static void run_verify(const char *body, size_t len, struct hdrs *h, int64_t now_ms)
{
    struct pay_webhook_req req = {.body = body, .len = len, .header = hdr_get, .hctx = h, .now_ms = now_ms};
    calls = 0;
    memset(&wres, 0x5a, sizeof wres);
    pay_paypal.verify_webhook(NULL, &req, on_webhook, NULL);
}

/* ---- tests ----------------------------------------------------------------------------- */

static void test_registry_line(void)
{
    CHECK_STR_EQ(pay_paypal.name, "paypal", "registered as paypal");
    CHECK(pay_paypal.checkout && pay_paypal.verify_webhook && pay_paypal.query && pay_paypal.refund,
          "checkout, verify_webhook, query and refund are all offered");
    CHECK(pay_paypal.ack_body == NULL, "PayPal is answered with an empty 200");
    configure(NULL);
    CHECK(!pay_paypal.configured(),
          "not configured without a webhook id (no notification could be verified)");
    configure("WH-ID-1");
    CHECK(pay_paypal.configured(), "configured with client id, secret and webhook id");
}

static void test_transmission(void)
{
    struct hdrs h;
    struct paypal_transmission t;
    char reason[64];
    struct pay_webhook_req req = {.header = hdr_get, .hctx = &h, .now_ms = FIXED_TIME_MS};
    static const struct {
        const char *name, *value, *reason, *what;
    } bad[] = {
        {"paypal-transmission-id", NULL, "transmission_headers_missing",
         "transmission id missing or given twice"},
        {"paypal-transmission-time", NULL, "transmission_headers_missing", "time missing or given twice"},
        {"paypal-transmission-sig", NULL, "transmission_headers_missing", "signature missing or given twice"},
        {"paypal-cert-url", NULL, "transmission_headers_missing", "certificate URL missing or given twice"},
        {"paypal-auth-algo", NULL, "transmission_headers_missing", "algorithm missing or given twice"},
        {"paypal-auth-algo", "SHA1withRSA", "transmission_header_malformed", "a weaker algorithm"},
        {"paypal-auth-algo", "sha256withrsa", "transmission_header_malformed", "algorithm spelled otherwise"},
        {"paypal-cert-url", "https://evilpaypal.com/v1/notifications/certs/CERT-1", "cert_url_not_paypal",
         "a host that merely ends in paypal.com"},
        {"paypal-cert-url", "https://api.paypal.com.evil.example/certs/CERT-1", "cert_url_not_paypal",
         "paypal.com as a subdomain of another host"},
        {"paypal-cert-url", "http://api.paypal.com/v1/notifications/certs/CERT-1", "cert_url_not_paypal",
         "a cleartext certificate URL"},
        {"paypal-cert-url", "https://evil.example@api.paypal.com/v1/certs/CERT-1",
         "transmission_header_malformed", "userinfo before the host"},
        {"paypal-cert-url", "https://api.paypal.com/@evil.example/certs/CERT-1",
         "transmission_header_malformed", "an '@' anywhere"},
        {"paypal-cert-url", "https://evil.example\\@api.paypal.com/certs/CERT-1",
         "transmission_header_malformed", "a backslash"},
        {"paypal-cert-url", "https://api.paypal.com:8443/v1/certs/CERT-1", "cert_url_not_paypal",
         "another port"},
        {"paypal-cert-url", "https://api.paypal.com", "cert_url_not_paypal", "no path"},
        {"paypal-cert-url", "https://api.paypal.com/v1/\"x", "transmission_header_malformed",
         "a quote in the URL"},
        {"paypal-transmission-time", "2026-11-29T07:54:59Z", "timestamp_out_of_tolerance", "301 s old"},
        {"paypal-transmission-time", "2026-11-29T08:05:01Z", "timestamp_out_of_tolerance", "301 s ahead"},
        {"paypal-transmission-time", "1764403200", "transmission_header_malformed", "a Unix time"},
        {"paypal-transmission-time", "2026-11-29 08:00:00Z", "transmission_header_malformed",
         "a blank in the time"},
        {"paypal-transmission-sig", "abc\"},\"webhook_id\":\"x", "transmission_header_malformed",
         "JSON in the signature"},
        {"paypal-transmission-id", "b2384410 f8d2", "transmission_header_malformed", "a blank in the id"},
    };

    std_headers(&h);
    CHECK(paypal_transmission_get(&req, &t, reason) == 0 && reason[0] == '\0',
          "the fake's headers are accepted");
    CHECK_STR_EQ(t.time, "2026-11-29T08:00:00Z", "time copied");
    req.now_ms = FIXED_TIME_MS + 300000;
    CHECK(paypal_transmission_get(&req, &t, reason) == 0, "300 s old is still accepted");
    req.now_ms = FIXED_TIME_MS - 300000;
    CHECK(paypal_transmission_get(&req, &t, reason) == 0, "300 s ahead is still accepted");
    req.now_ms = FIXED_TIME_MS;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        std_headers(&h);
        hdr_set(&h, bad[i].name, bad[i].value);
        int rc = paypal_transmission_get(&req, &t, reason);
        CHECK(rc == -1 && strcmp(reason, bad[i].reason) == 0, "refused: %s (%s)", bad[i].what, reason);
    }
    {
        char big[PAYPAL_TRANSMISSION_SIG_MAX + 2];
        memset(big, 'A', sizeof big - 1);
        big[sizeof big - 1] = '\0';
        std_headers(&h);
        hdr_set(&h, "paypal-transmission-sig", big);
        CHECK(paypal_transmission_get(&req, &t, reason) == -1, "an oversized signature is refused");
    }
    std_headers(&h);
    hdr_set(&h, "paypal-cert-url", "https://API.SANDBOX.PAYPAL.COM/v1/notifications/certs/CERT-1");
    CHECK(paypal_transmission_get(&req, &t, reason) == 0, "the host compares case-insensitively");
    hdr_set(&h, "paypal-cert-url", "https://paypal.com/certs/CERT-1");
    CHECK(paypal_transmission_get(&req, &t, reason) == 0, "paypal.com itself");
}

static void test_verify_request(void)
{
    size_t len;
    char *raw = slurp("event_capture_completed.json", &len), *want = F("verify_request.txt");
    struct hdrs h;

    configure(ids("webhook_id"));
    std_headers(&h);
    script_reset();
    answer(200, "{\"access_token\":\"A21AAtok1\",\"token_type\":\"Bearer\",\"expires_in\":32400}");
    answer(200, "{\"verification_status\":\"SUCCESS\"}");
    run_verify(raw, len, &h, FIXED_TIME_MS + 1000);
    CHECK(calls == 1 && n_seen == 2, "one token call, one verification call");
    CHECK_STR_EQ(seen[1].url, "https://api-m.sandbox.paypal.com/v1/notifications/verify-webhook-signature",
                 "verification URL");
    CHECK_STR_EQ(seen[1].body, want,
                 "the request is the documented one, the raw event spliced byte for byte");
    CHECK_STR_EQ(seen_header(1, "Authorization"), "Bearer A21AAtok1", "with the token");
    CHECK(seen[1].idempotent == 1 && seen[1].retries == 1,
          "verification may be retried once (it changes nothing)");
    CHECK(wres.rc == PAY_OK && wres.ev.kind == PAY_EVENT_PAID, "SUCCESS: the event is read (%s)",
          wres.reason);
    CHECK_STR_EQ(wres.ev.order_id, ids("order"), "our order id from custom_id");
    CHECK_STR_EQ(wres.ev.provider_ref, ids("paypal_order"), "PayPal's order id from related_ids");
    CHECK(wres.ev.amount == 990 && strcmp(wres.ev.currency, "USD") == 0, "amount 990 USD");
    CHECK(strncmp(wres.ev.event_id, "WH-", 3) == 0, "the event id is PayPal's WH-...");

    /* FAILURE, and verification that cannot be done. */
    script_reset();
    answer(200, "{\"verification_status\":\"FAILURE\"}");
    run_verify(raw, len, &h, FIXED_TIME_MS);
    CHECK(calls == 1 && wres.rc == PAY_INVALID && strcmp(wres.reason, "signature_mismatch") == 0,
          "FAILURE is a forged notification (the cached token is used: %zu call)", n_seen);
    script_reset();
    answer(503, "{\"name\":\"INTERNAL_SERVER_ERROR\"}");
    run_verify(raw, len, &h, FIXED_TIME_MS);
    CHECK(wres.rc == PAY_UNAVAILABLE, "verification down: UNAVAILABLE, so PayPal delivers again");
    script_reset();
    fail_net(NET_TIMEOUT);
    run_verify(raw, len, &h, FIXED_TIME_MS);
    CHECK(wres.rc == PAY_UNAVAILABLE && strcmp(wres.reason, "timeout") == 0,
          "verification timing out: UNAVAILABLE");
    script_reset();
    answer(200, "{\"verification_status\":\"SUCCESS\",\"verification_status\":\"FAILURE\"}");
    run_verify(raw, len, &h, FIXED_TIME_MS);
    CHECK(wres.rc == PAY_UNAVAILABLE, "an ambiguous verification answer is no answer");
    script_reset();
    answer(200, "SUCCESS");
    run_verify(raw, len, &h, FIXED_TIME_MS);
    CHECK(wres.rc == PAY_UNAVAILABLE, "a non-JSON verification answer is no answer");
    script_reset();
    answer(400, "{\"name\":\"VALIDATION_ERROR\"}");
    run_verify(raw, len, &h, FIXED_TIME_MS);
    CHECK(wres.rc == PAY_INVALID, "PayPal refusing the verification request: INVALID");

    /* Refused before any call. */
    {
        static const char *bodies[] = {
            "{}, \"webhook_id\": \"attacker\"",
            "{\"id\":\"WH-1\"} {\"id\":\"WH-2\"}",
            "[1,2]",
            "{\"id\":\"WH-1\",\"id\":\"WH-2\"}",
            "{\"id\":\"WH-1\"",
            "\"a string\"",
        };
        for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
            script_reset();
            run_verify(bodies[i], strlen(bodies[i]), &h, FIXED_TIME_MS);
            CHECK(calls == 1 && n_seen == 0 && wres.rc == PAY_INVALID &&
                      strcmp(wres.reason, "body_malformed") == 0,
                  "refused before asking PayPal: %s", bodies[i]);
        }
        script_reset();
        run_verify(raw, len, &h, FIXED_TIME_MS + 301000);
        CHECK(n_seen == 0 && wres.rc == PAY_INVALID && strcmp(wres.reason, "timestamp_out_of_tolerance") == 0,
              "a stale transmission is refused before asking PayPal");
        {
            char *huge = xmalloc(PAYPAL_EVENT_MAX + 2);
            memset(huge, ' ', PAYPAL_EVENT_MAX + 1);
            huge[0] = '{';
            huge[PAYPAL_EVENT_MAX] = '}';
            script_reset();
            run_verify(huge, PAYPAL_EVENT_MAX + 1, &h, FIXED_TIME_MS);
            CHECK(n_seen == 0 && wres.rc == PAY_INVALID && strcmp(wres.reason, "body_too_large") == 0,
                  "a body over PAYPAL_EVENT_MAX is refused");
            free(huge);
        }
        script_reset();
        hdr_set(&h, "paypal-transmission-sig", NULL);
        run_verify(raw, len, &h, FIXED_TIME_MS);
        CHECK(n_seen == 0 && wres.rc == PAY_INVALID, "a duplicated (so absent) signature header is refused");
    }
    configure(NULL);
    std_headers(&h);
    script_reset();
    run_verify(raw, len, &h, FIXED_TIME_MS);
    CHECK(n_seen == 0 && wres.rc == PAY_MISCONFIGURED,
          "no TG_PAYPAL_WEBHOOK_ID: MISCONFIGURED (503, logged)");
    free(raw);
    free(want);
}

static void test_events(void)
{
    struct pay_webhook_res r;
    size_t len;
    char *t;

    t = slurp("event_capture_denied.json", &len);
    paypal_parse_event(t, len, &r);
    CHECK(r.rc == PAY_OK && r.ev.kind == PAY_EVENT_FAILED && strcmp(r.ev.order_id, ids("order")) == 0,
          "PAYMENT.CAPTURE.DENIED: FAILED for our order");
    free(t);
    t = slurp("event_capture_pending.json", &len);
    paypal_parse_event(t, len, &r);
    CHECK(r.rc == PAY_IGNORED, "PAYMENT.CAPTURE.PENDING: ignored (COMPLETED follows)");
    free(t);
    t = slurp("event_order_approved.json", &len);
    paypal_parse_event(t, len, &r);
    CHECK(r.rc == PAY_IGNORED && strcmp(r.reason, "event_type_not_handled") == 0,
          "CHECKOUT.ORDER.APPROVED: ignored (we capture on return or in the job)");
    free(t);
    t = slurp("event_refunded.json", &len);
    paypal_parse_event(t, len, &r);
    CHECK(r.rc == PAY_OK && r.ev.kind == PAY_EVENT_REFUND, "PAYMENT.CAPTURE.REFUNDED: REFUND");
    CHECK_STR_EQ(r.ev.refund_id, ids("refund"), "our refund id from custom_id");
    CHECK_STR_EQ(r.ev.provider_refund_id, ids("refund_id"), "PayPal's refund id");
    CHECK_STR_EQ(r.ev.order_id, ids("order"), "our order id from invoice_id");
    CHECK(r.ev.amount == 400 && strcmp(r.ev.currency, "USD") == 0, "the refunded amount, 400 USD");
    free(t);

    /* Tampered events (as if PayPal had vouched for them: the parser is the last line). */
    {
        char *base = F("event_capture_completed.json");
        static const struct {
            const char *from, *to, *what;
            enum pay_rc rc;
        } cases[] = {
            {"\"value\": \"9.90\"", "\"value\": \"9.901\"", "three decimals", PAY_INVALID},
            {"\"value\": \"9.90\"", "\"value\": \"9.9\"", "one decimal is 990 still", PAY_OK},
            {"\"value\": \"9.90\"", "\"value\": 9.90", "a number instead of a string", PAY_INVALID},
            {"\"value\": \"9.90\"", "\"value\": \"-9.90\"", "a negative amount", PAY_INVALID},
            {"\"value\": \"9.90\"", "\"value\": \"0.00\"", "zero", PAY_INVALID},
            {"\"value\": \"9.90\"", "\"value\": \"1e3\"", "an exponent", PAY_INVALID},
            {"\"currency_code\": \"USD\",\n      \"value\": \"9.90\"",
             "\"currency_code\": \"usd\",\n      \"value\": \"9.90\"", "lower-case currency", PAY_INVALID},
            {"\"currency_code\": \"USD\",\n      \"value\": \"9.90\"",
             "\"currency_code\": \"US\",\n      \"value\": \"9.90\"", "two-letter currency", PAY_INVALID},
            {"\"status\": \"COMPLETED\"", "\"status\": \"PENDING\"", "a capture not completed", PAY_INVALID},
            {"\"event_type\": \"PAYMENT.CAPTURE.COMPLETED\"",
             "\"event_type\": \"PAYMENT.CAPTURE.COMPLETED\", "
             "\"event_type\": \"PAYMENT.CAPTURE.DENIED\"",
             "a duplicated event_type", PAY_INVALID},
            {"\"id\": \"WH-", "\"id\": \"WH \\\"-", "an event id with a quote", PAY_INVALID},
            {"\"custom_id\": \"ord_", "\"custom_id\": \"ord_\\u0000", "a NUL in our order id", PAY_INVALID},
            {"\"event_type\": \"PAYMENT.CAPTURE.COMPLETED\"", "\"event_type\": \"PAYMENT.SALE.COMPLETED\"",
             "a v1 event type", PAY_IGNORED},
        };
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            char *b = replace(base, cases[i].from, cases[i].to);
            if (b == NULL) {
                CHECK(0, "fixture holds '%s'", cases[i].from);
                continue;
            }
            paypal_parse_event(b, strlen(b), &r);
            CHECK(r.rc == cases[i].rc, "tampered event, %s: %s (%s)", cases[i].what, pay_rc_name(r.rc),
                  r.reason);
            if (r.rc != PAY_OK)
                CHECK(r.ev.order_id[0] == '\0' && r.ev.amount == 0, "nothing reported for a refused event");
            free(b);
        }
        {
            /* An order id longer than ours may be. */
            struct sbuf b = {0};
            char *p = strstr(base, "\"custom_id\": \"");
            sbuf_append(&b, base, (size_t)(p - base) + 14);
            for (int k = 0; k < 200; k++)
                sbuf_puts(&b, "x");
            sbuf_puts(&b, p + 14);
            paypal_parse_event(b.data, b.len, &r);
            CHECK(r.rc == PAY_INVALID, "an oversized custom_id is refused, not cut");
            sbuf_free(&b);
        }
        free(base);
    }
    {
        static const char *other =
            "{\"id\":\"WH-9\",\"event_type\":\"PAYMENT.CAPTURE.COMPLETED\",\"resource\":"
            "{\"id\":\"CAP1\",\"status\":\"COMPLETED\",\"amount\":{\"currency_code\":\"USD\","
            "\"value\":\"5.00\"}}}";
        paypal_parse_event(other, strlen(other), &r);
        CHECK(r.rc == PAY_IGNORED && strcmp(r.reason, "no_order_reference") == 0,
              "a capture that names no order of ours is not ours");
    }
}

static void test_checkout(void)
{
    struct order o;
    struct pay_checkout_req req;
    char *created = F("order_created.json"), *token = F("token.json");
    json_t *body;

    configure("WH-ID-1");
    make_order(&o);
    memset(&req, 0, sizeof req);
    req.order = &o;
    req.description = "115 credits";
    req.return_url = "https://tg.example.com/api/v1/orders/x/return";
    req.cancel_url = "https://tg.example.com/cancel";
    script_reset();
    answer(200, token);
    answer(201, created);
    calls = 0;
    pay_paypal.checkout(NULL, &req, on_checkout, NULL);
    CHECK(calls == 1 && cres.rc == PAY_OK, "checkout OK (%s)", cres.reason);
    CHECK_STR_EQ(cres.provider_ref, ids("paypal_order"), "provider_ref is PayPal's order id");
    CHECK(strstr(cres.checkout, "/checkoutnow?token=") != NULL &&
              strncmp(cres.checkout, "{\"url\":\"", 8) == 0,
          "checkout is {\"url\": the payer-action link}: %s", cres.checkout);
    CHECK(n_seen == 2, "token, then create");
    CHECK_STR_EQ(seen[0].url, "https://api-m.sandbox.paypal.com/v1/oauth2/token", "token URL");
    CHECK_STR_EQ(seen_header(0, "Authorization"),
                 "Basic Y2xpZW50LWlkLTEyMzpzM2NyM3QtcGF5cGFsLXNlY3JldA==", "Basic base64(client_id:secret)");
    CHECK_STR_EQ(seen[0].body, "grant_type=client_credentials", "client credentials grant");
    CHECK_STR_EQ(seen_header(0, "Content-Type"), "application/x-www-form-urlencoded", "form-encoded");
    CHECK_STR_EQ(seen[1].url, "https://api-m.sandbox.paypal.com/v2/checkout/orders", "create URL");
    CHECK_STR_EQ(seen_header(1, "PayPal-Request-Id"), o.id, "PayPal-Request-Id is our order id");
    CHECK(seen[1].idempotent == 1, "create is retried only because it carries PayPal-Request-Id");
    body = json_loads(seen[1].body, JSON_REJECT_DUPLICATES, NULL);
    {
        json_t *pu = json_array_get(json_object_get(body, "purchase_units"), 0);
        json_t *ctx = json_object_get(json_object_get(json_object_get(body, "payment_source"), "paypal"),
                                      "experience_context");
        CHECK_STR_EQ(json_string_value(json_object_get(body, "intent")), "CAPTURE", "intent CAPTURE");
        CHECK_STR_EQ(json_string_value(json_object_get(pu, "custom_id")), o.id, "custom_id = our order id");
        CHECK_STR_EQ(json_string_value(json_object_get(pu, "invoice_id")), o.id, "invoice_id = our order id");
        CHECK_STR_EQ(json_string_value(json_object_get(pu, "reference_id")), o.id,
                     "reference_id = our order id");
        CHECK_STR_EQ(json_string_value(json_object_get(json_object_get(pu, "amount"), "value")), "9.90",
                     "amount as PayPal's decimal string");
        CHECK_STR_EQ(json_string_value(json_object_get(json_object_get(pu, "amount"), "currency_code")),
                     "USD", "currency_code");
        CHECK_STR_EQ(json_string_value(json_object_get(ctx, "return_url")), req.return_url, "return_url");
        CHECK_STR_EQ(json_string_value(json_object_get(ctx, "cancel_url")), req.cancel_url, "cancel_url");
    }
    json_decref(body);

    /* The cached token, a 401 refreshing it once, and failures. */
    script_reset();
    answer(201, created);
    pay_paypal.checkout(NULL, &req, on_checkout, NULL);
    CHECK(n_seen == 1 && cres.rc == PAY_OK, "the second checkout uses the cached token");
    script_reset();
    answer(401, "{\"error\":\"invalid_token\"}");
    answer(200, "{\"access_token\":\"A21AAnew\",\"token_type\":\"Bearer\",\"expires_in\":32400}");
    answer(201, created);
    pay_paypal.checkout(NULL, &req, on_checkout, NULL);
    CHECK(n_seen == 3 && cres.rc == PAY_OK, "401: a new token, then the call again");
    CHECK_STR_EQ(seen_header(2, "Authorization"), "Bearer A21AAnew", "with the new token");
    CHECK_STR_EQ(seen_header(2, "PayPal-Request-Id"), o.id, "and the same PayPal-Request-Id");
    script_reset();
    answer(401, "{\"error\":\"invalid_token\"}");
    answer(200, "{\"access_token\":\"A21AAnew2\",\"token_type\":\"Bearer\",\"expires_in\":32400}");
    answer(401, "{\"error\":\"invalid_token\"}");
    pay_paypal.checkout(NULL, &req, on_checkout, NULL);
    CHECK(n_seen == 3 && cres.rc == PAY_MISCONFIGURED, "401 twice: MISCONFIGURED, no loop");
    paypal_token_reset();
    script_reset();
    answer(401, "{\"error\":\"invalid_client\",\"error_description\":\"Client Authentication failed\"}");
    pay_paypal.checkout(NULL, &req, on_checkout, NULL);
    CHECK(cres.rc == PAY_MISCONFIGURED && strcmp(cres.reason, "token_refused") == 0,
          "refused credentials: MISCONFIGURED token_refused");
    script_reset();
    answer(200, "{\"access_token\":\"has space\",\"token_type\":\"Bearer\",\"expires_in\":32400}");
    pay_paypal.checkout(NULL, &req, on_checkout, NULL);
    CHECK(cres.rc == PAY_UNAVAILABLE && n_seen == 1, "a token that cannot go into a header is refused");
    script_reset();
    answer(200, token);
    answer(500, "{\"name\":\"INTERNAL_SERVER_ERROR\"}");
    pay_paypal.checkout(NULL, &req, on_checkout, NULL);
    CHECK(cres.rc == PAY_UNAVAILABLE && cres.provider_ref[0] == '\0',
          "500: UNAVAILABLE (the next provider is tried)");
    script_reset();
    fail_net(NET_TIMEOUT);
    pay_paypal.checkout(NULL, &req, on_checkout, NULL);
    CHECK(cres.rc == PAY_UNAVAILABLE && strcmp(cres.reason, "timeout") == 0, "timeout: UNAVAILABLE");
    script_reset();
    answer(422, "{\"name\":\"UNPROCESSABLE_ENTITY\",\"details\":[{\"issue\":\"DUPLICATE_INVOICE_ID\"}]}");
    pay_paypal.checkout(NULL, &req, on_checkout, NULL);
    CHECK(cres.rc == PAY_INVALID && strcmp(cres.reason, "DUPLICATE_INVOICE_ID") == 0,
          "422: INVALID with PayPal's issue");
    script_reset();
    answer(201,
           "{\"id\":\"5O190127TN364715T\",\"status\":\"PAYER_ACTION_REQUIRED\",\"links\":[{\"rel\":\"self\","
           "\"href\":\"https://x/\"}]}");
    pay_paypal.checkout(NULL, &req, on_checkout, NULL);
    CHECK(cres.rc == PAY_UNAVAILABLE && strcmp(cres.reason, "bad_answer") == 0,
          "no approval link: bad_answer");
    script_reset();
    answer(201, "{\"id\":\"5O19/../x\",\"links\":[{\"rel\":\"approve\",\"href\":\"https://x/\"}]}");
    pay_paypal.checkout(NULL, &req, on_checkout, NULL);
    CHECK(cres.rc == PAY_UNAVAILABLE, "an order id that could climb a URL path is refused");
    script_reset();
    answer(
        201,
        "{\"id\":\"5O190127TN364715T\",\"links\":[{\"rel\":\"approve\",\"href\":\"javascript:alert(1)\"}]}");
    pay_paypal.checkout(NULL, &req, on_checkout, NULL);
    CHECK(cres.rc == PAY_UNAVAILABLE, "a link that is not http(s) is refused");
    script_reset();
    answer(201,
           "{\"id\":\"5O190127TN364715T\",\"status\":\"CREATED\",\"links\":[{\"rel\":\"approve\",\"href\":"
           "\"https://www.sandbox.paypal.com/checkoutnow?token=5O190127TN364715T\"}]}");
    pay_paypal.checkout(NULL, &req, on_checkout, NULL);
    CHECK(cres.rc == PAY_OK &&
              strcmp(cres.checkout, "{\"url\":\"https://www.sandbox.paypal.com/checkoutnow?token="
                                    "5O190127TN364715T\"}") == 0,
          "the legacy approve link is accepted too");
    {
        char desc[400];
        memset(desc, 'x', sizeof desc - 1);
        desc[sizeof desc - 1] = '\0';
        desc[125] = (char)0xe4, desc[126] = (char)0xb8, desc[127] = (char)0xad; /* 中 across the limit */
        req.description = desc;
        script_reset();
        answer(201, created);
        pay_paypal.checkout(NULL, &req, on_checkout, NULL);
        body = json_loads(seen[0].body, JSON_REJECT_DUPLICATES, NULL);
        CHECK(body != NULL &&
                  strlen(json_string_value(json_object_get(
                      json_array_get(json_object_get(body, "purchase_units"), 0), "description"))) == 125,
              "a long description is cut at a character boundary within PayPal's 127");
        json_decref(body);
        req.description = "115 credits";
    }
    o.amount = -5;
    script_reset();
    pay_paypal.checkout(NULL, &req, on_checkout, NULL);
    CHECK(n_seen == 0 && cres.rc == PAY_INVALID, "a negative amount is never sent");
    free(created);
    free(token);
}

static void test_query(void)
{
    struct order o;
    char *pending = F("order_get_pending.json"), *approved = F("order_get_approved.json"),
         *captured = F("order_captured.json"), *already = F("capture_already.json"),
         *completed = F("order_get_completed.json"), *not_approved = F("capture_not_approved.json");
    char want_event[160];

    configure("WH-ID-1");
    make_order(&o);
    snprintf(o.provider_ref, sizeof o.provider_ref, "%s", ids("paypal_order"));
    snprintf(want_event, sizeof want_event, "query:%s", ids("capture"));
    token_install((unsigned char[32]){0}, "x", 32400); /* another configuration's token: never used */
    script_reset();
    answer(200, "{\"access_token\":\"A21AAq\",\"token_type\":\"Bearer\",\"expires_in\":32400}");
    answer(200, pending);
    calls = 0;
    pay_paypal.query(NULL, &o, 0, on_query, NULL);
    CHECK(calls == 1 && qres.rc == PAY_OK && qres.state == PAY_STATE_PENDING,
          "PAYER_ACTION_REQUIRED: PENDING");
    CHECK(n_seen == 2 && strstr(seen[0].url, "/v1/oauth2/token") != NULL,
          "a token of other credentials is not used");
    CHECK(strcmp(seen[1].method, "GET") == 0 && strstr(seen[1].url, ids("paypal_order")) != NULL,
          "GET the order");

    script_reset();
    answer(200, approved);
    answer(201, captured);
    pay_paypal.query(NULL, &o, 0, on_query, NULL);
    CHECK(qres.rc == PAY_OK && qres.state == PAY_STATE_PAID, "APPROVED: captured, PAID");
    CHECK(n_seen == 2 && strcmp(seen[1].method, "POST") == 0 && strstr(seen[1].url, "/capture") != NULL,
          "POST .../capture");
    {
        char rid[64];
        snprintf(rid, sizeof rid, "cap-%s", o.id);
        CHECK_STR_EQ(seen_header(1, "PayPal-Request-Id"), rid, "PayPal-Request-Id cap-<order id>");
    }
    CHECK_STR_EQ(seen[1].body, "{}", "an empty JSON body");
    CHECK_STR_EQ(qres.ev.event_id, want_event, "event id query:<capture id>");
    CHECK(qres.ev.kind == PAY_EVENT_PAID && qres.ev.amount == 990 && strcmp(qres.ev.currency, "USD") == 0,
          "PAID 990 USD, as captured");
    CHECK_STR_EQ(qres.ev.order_id, o.id, "our order id");
    CHECK_STR_EQ(qres.ev.provider_ref, o.provider_ref, "PayPal's order id");

    script_reset();
    answer(200, approved);
    answer(422, already);
    answer(200, completed);
    pay_paypal.query(NULL, &o, 0, on_query, NULL);
    CHECK(n_seen == 3 && qres.rc == PAY_OK && qres.state == PAY_STATE_PAID,
          "ORDER_ALREADY_CAPTURED: read the order again, PAID");
    script_reset();
    answer(200, approved);
    answer(422, not_approved);
    pay_paypal.query(NULL, &o, 0, on_query, NULL);
    CHECK(qres.rc == PAY_OK && qres.state == PAY_STATE_PENDING &&
              strcmp(qres.reason, "ORDER_NOT_APPROVED") == 0,
          "a capture PayPal refuses leaves the order PENDING");
    script_reset();
    answer(200, approved);
    answer(503, "{}");
    pay_paypal.query(NULL, &o, 0, on_query, NULL);
    CHECK(qres.rc == PAY_UNAVAILABLE, "capture failing: UNAVAILABLE (the job asks again)");
    script_reset();
    answer(200, completed);
    pay_paypal.query(NULL, &o, 0, on_query, NULL);
    CHECK(n_seen == 1 && qres.state == PAY_STATE_PAID, "COMPLETED: PAID without capturing again");
    script_reset();
    answer(404, "{\"name\":\"RESOURCE_NOT_FOUND\"}");
    pay_paypal.query(NULL, &o, 0, on_query, NULL);
    CHECK(qres.rc == PAY_NOTFOUND, "404: NOTFOUND");
    {
        /* Another order's answer, a capture for another order, a voided order. */
        struct order other = o;
        snprintf(other.id, sizeof other.id, "ord_01JDZ8Q6X2M4N7P9R0S3T5V6W9");
        script_reset();
        answer(200, completed);
        pay_paypal.query(NULL, &other, 0, on_query, NULL);
        CHECK(qres.rc == PAY_UNAVAILABLE && strcmp(qres.reason, "order_mismatch") == 0 &&
                  qres.state != PAY_STATE_PAID,
              "an order made for another of our orders is never PAID for this one");
        snprintf(other.provider_ref, sizeof other.provider_ref, "5O190127TN364715T");
        snprintf(other.id, sizeof other.id, "%s", o.id);
        script_reset();
        answer(200, completed);
        pay_paypal.query(NULL, &other, 0, on_query, NULL);
        CHECK(qres.rc == PAY_UNAVAILABLE && strcmp(qres.reason, "order_mismatch") == 0,
              "an answer about another PayPal order is refused");
    }
    {
        char *voided = replace(pending, "\"PAYER_ACTION_REQUIRED\"", "\"VOIDED\"");
        script_reset();
        answer(200, voided);
        pay_paypal.query(NULL, &o, 0, on_query, NULL);
        CHECK(qres.rc == PAY_OK && qres.state == PAY_STATE_CLOSED, "VOIDED: CLOSED");
        free(voided);
    }
    o.provider_ref[0] = '\0';
    script_reset();
    pay_paypal.query(NULL, &o, 0, on_query, NULL);
    CHECK(n_seen == 0 && qres.rc == PAY_NOTFOUND, "no provider_ref: NOTFOUND without a call");
    snprintf(o.provider_ref, sizeof o.provider_ref, "../../v1/oauth2/token");
    script_reset();
    pay_paypal.query(NULL, &o, 0, on_query, NULL);
    CHECK(n_seen == 0 && qres.rc == PAY_NOTFOUND, "a provider_ref that is not an id never reaches a URL");
    free(pending), free(approved), free(captured), free(already), free(completed), free(not_approved);
}

static void test_refund(void)
{
    struct order o;
    struct pay_refund_req req;
    char *completed = F("order_get_completed.json"), *created = F("refund_created.json"),
         *exceeded = F("refund_exceeded.json"), *pending = F("order_get_pending.json");
    json_t *body;

    configure("WH-ID-1");
    make_order(&o);
    snprintf(o.provider_ref, sizeof o.provider_ref, "%s", ids("paypal_order"));
    snprintf(o.status, sizeof o.status, "paid");
    memset(&req, 0, sizeof req);
    req.order = &o;
    req.refund_id = ids("refund");
    req.amount = 400;
    req.reason = "goodwill \"gesture\"";
    script_reset();
    answer(200, "{\"access_token\":\"A21AAr\",\"token_type\":\"Bearer\",\"expires_in\":32400}");
    answer(200, completed);
    answer(201, created);
    calls = 0;
    pay_paypal.refund(NULL, &req, on_refund, NULL);
    CHECK(calls == 1 && rres.rc == PAY_OK && rres.pending == 0, "refund COMPLETED: OK, not pending (%s)",
          rres.reason);
    CHECK_STR_EQ(rres.provider_refund_id, ids("refund_id"), "PayPal's refund id");
    CHECK(n_seen == 3 && strstr(seen[2].url, ids("capture")) != NULL &&
              strstr(seen[2].url, "/refund") != NULL,
          "POST /v2/payments/captures/<the order's capture>/refund");
    CHECK_STR_EQ(seen_header(2, "PayPal-Request-Id"), req.refund_id, "PayPal-Request-Id is our refund id");
    body = json_loads(seen[2].body, JSON_REJECT_DUPLICATES, NULL);
    CHECK_STR_EQ(json_string_value(json_object_get(json_object_get(body, "amount"), "value")), "4.00",
                 "4.00");
    CHECK_STR_EQ(json_string_value(json_object_get(json_object_get(body, "amount"), "currency_code")), "USD",
                 "USD");
    CHECK_STR_EQ(json_string_value(json_object_get(body, "custom_id")), req.refund_id,
                 "custom_id our refund id");
    CHECK_STR_EQ(json_string_value(json_object_get(body, "invoice_id")), o.id, "invoice_id our order id");
    CHECK_STR_EQ(json_string_value(json_object_get(body, "note_to_payer")), req.reason,
                 "the reason, escaped");
    json_decref(body);

    script_reset();
    answer(200, completed);
    answer(422, exceeded);
    pay_paypal.refund(NULL, &req, on_refund, NULL);
    CHECK(rres.rc == PAY_DECLINED && strcmp(rres.reason, "REFUND_AMOUNT_EXCEEDED") == 0,
          "422: DECLINED with the issue");
    script_reset();
    answer(200, pending);
    pay_paypal.refund(NULL, &req, on_refund, NULL);
    CHECK(n_seen == 1 && rres.rc == PAY_DECLINED && strcmp(rres.reason, "not_captured") == 0,
          "nothing captured: DECLINED without a refund call");
    script_reset();
    answer(200, completed);
    answer(201, "{\"id\":\"1JU08902781691411\",\"status\":\"PENDING\"}");
    pay_paypal.refund(NULL, &req, on_refund, NULL);
    CHECK(rres.rc == PAY_OK && rres.pending == 1, "PENDING: accepted, a notification confirms it");
    script_reset();
    answer(200, completed);
    answer(201, "{\"id\":\"1JU08902781691411\",\"status\":\"FAILED\"}");
    pay_paypal.refund(NULL, &req, on_refund, NULL);
    CHECK(rres.rc == PAY_DECLINED, "FAILED: DECLINED");
    script_reset();
    answer(200, completed);
    fail_net(NET_TIMEOUT);
    pay_paypal.refund(NULL, &req, on_refund, NULL);
    CHECK(rres.rc == PAY_UNAVAILABLE, "timeout: UNAVAILABLE (the same refund id makes a retry safe)");
    req.amount = 0;
    script_reset();
    pay_paypal.refund(NULL, &req, on_refund, NULL);
    CHECK(n_seen == 0 && rres.rc == PAY_INVALID, "a zero refund is never sent");
    free(completed), free(created), free(exceeded), free(pending);
}

static void test_token_parse(void)
{
    char tok[PAYPAL_TOKEN_MAX + 1], *t = F("token.json");
    int64_t ei = 0;
    CHECK(paypal_parse_token(t, strlen(t), tok, &ei) == 0 && ei == 32400 && strncmp(tok, "A21AA", 5) == 0,
          "the fake's token answer");
    CHECK(paypal_parse_token("{\"access_token\":\"a\",\"token_type\":\"mac\",\"expires_in\":1}", 53, tok,
                             &ei) == -1,
          "not a bearer token");
    CHECK(paypal_parse_token("{\"access_token\":\"a\",\"token_type\":\"Bearer\",\"expires_in\":0}", 55, tok,
                             &ei) == -1,
          "expires_in 0");
    CHECK(paypal_parse_token("{\"access_token\":\"a\\r\\nX: y\",\"token_type\":\"Bearer\",\"expires_in\":9}",
                             63, tok, &ei) == -1,
          "a token with CR LF (header injection) is refused");
    free(t);
}

int main(void)
{
    char *tr;
    if (sodium_init() < 0 || mkdtemp(tmp_root) == NULL)
        return 1;
    tr = F("transmission.json");
    transmission = json_loads(tr, 0, NULL);
    free(tr);
    log_set_level("error");
    test_registry_line();
    test_transmission();
    test_verify_request();
    test_events();
    test_checkout();
    test_query();
    test_refund();
    test_token_parse();
    json_decref(transmission);
    script_reset();
    config_free();
    {
        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_root);
        if (system(cmd) != 0)
            printf("# could not remove %s\n", tmp_root);
    }
    return test_done();
}
