/*
 * Unit tests for src/providers/pay/stripe.c (included here, h2o style, with a scripted
 * stand-in for net.h so every call path runs without a network):
 *  - webhook verification against data/stripe/vectors.json, events signed by the npm stripe
 *    package's generateTestHeaderString (tests/fakes/gen_stripe_vectors.mjs), and what each
 *    must report; plus the attacks a vector file cannot hold (stale and future timestamps,
 *    oversized headers and bodies, too many signatures, a missing secret);
 *  - the Stripe-Signature parser;
 *  - the form bodies of the session and refund calls, byte for byte;
 *  - checkout, query and refund call by call: URL, method, headers (Bearer key,
 *    Idempotency-Key), retry policy, and every answer class (2xx, 4xx, 5xx, net errors,
 *    malformed and mismatching answers);
 *  - plans: the subscription-mode checkout form, the subscription events of the vectors
 *    (a catalog of this test's own maps the vectors' prices back to products), and the
 *    subscription operation (cancel, resume, cancel now, change) call by call.
 */
#include "../test.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "providers/pay/stripe.c"

/* ---- a scripted net ---------------------------------------------------------------- */

struct scripted {
    enum net_err err;
    long status;
    const char *body; /* NULL: no body */
};

struct seen_call {
    char method[8];
    char url[512];
    char headers[NET_MAX_HEADERS][256];
    size_t n_headers;
    char body[4096];
    int timeout_ms, idempotent, retries;
    size_t max_response;
};

static struct scripted script[8];
static size_t n_script, script_pos;
static struct seen_call seen[8];
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
    static const char *names[] = {"ok",        "timeout",  "connect",  "tls",
                                  "too_large", "protocol", "shutdown", "error"};
    return (unsigned)e < 8 ? names[e] : "?";
}

void net_exec_submit(struct net_exec *ex, struct net_call *c, net_done_fn done)
{
    struct seen_call *s = &seen[n_seen < 8 ? n_seen : 7];
    (void)ex;
    n_seen++;
    memset(s, 0, sizeof *s);
    snprintf(s->method, sizeof s->method, "%s", c->method);
    snprintf(s->url, sizeof s->url, "%s", c->url);
    for (size_t i = 0; i < c->n_headers; i++)
        snprintf(s->headers[i], sizeof s->headers[i], "%s", c->headers[i]);
    s->n_headers = c->n_headers;
    snprintf(s->body, sizeof s->body, "%s", c->body ? c->body : "");
    s->timeout_ms = c->timeout_ms;
    s->idempotent = c->idempotent;
    s->retries = c->retries;
    s->max_response = c->max_response;
    if (script_pos < n_script) {
        const struct scripted *a = &script[script_pos++];
        c->err = a->err;
        c->status = a->status;
        if (a->body != NULL) { /* exactly the answer's bytes + NUL: ASan sees overreads */
            c->resp_len = strlen(a->body);
            c->resp_body = xmalloc(c->resp_len + 1);
            memcpy(c->resp_body, a->body, c->resp_len + 1);
        }
    } else {
        c->err = NET_CONNECT;
    }
    c->attempts = 1;
    done(c);
}

/* domain/catalog.c's, which this test does not link: two plan periods with Stripe prices and
 * a pack without one (the prices are those of data/stripe/vectors.json). */
#define PRICE_PRO "price_1QFakeProMonthly0001"
#define PRICE_MAX "price_1QFakeMaxMonthly0001"
static struct catalog test_catalog;

const struct catalog *catalog_get(void)
{
    return &test_catalog;
}

static void catalog_setup(void)
{
    static const char *const ids[][2] = {{"credits_115", ""}, {"pro_monthly", PRICE_PRO}, {"max_monthly", PRICE_MAX}};
    for (size_t i = 0; i < 3; i++) {
        snprintf(test_catalog.products[i].id, sizeof test_catalog.products[i].id, "%s", ids[i][0]);
        snprintf(test_catalog.products[i].stripe_price_id, sizeof test_catalog.products[i].stripe_price_id, "%s",
                 ids[i][1]);
    }
    test_catalog.n_products = 3;
}

/* registry.c's, which this test does not link. */
const char *pay_rc_name(enum pay_rc rc)
{
    static const char *names[] = {"ok",        "ignored",     "invalid",      "declined",
                                  "not_found", "unavailable", "misconfigured"};
    return (unsigned)rc < 7 ? names[rc] : "unknown";
}

static void scripts(size_t n, const struct scripted *s)
{
    n_script = n;
    script_pos = 0;
    n_seen = 0;
    for (size_t i = 0; i < n; i++)
        script[i] = s[i];
}

static const char *seen_header(size_t call, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < seen[call].n_headers; i++)
        if (strncmp(seen[call].headers[i], name, n) == 0 && seen[call].headers[i][n] == ':')
            return seen[call].headers[i] + n + 2;
    return NULL;
}

/* ---- configuration ----------------------------------------------------------------------- */

#define SK "sk_test_51FakeKeyForUnitTests0123456789"
#define WHSEC "whsec_test_secret"
#define BASE "http://127.0.0.1:9"
#define ORDER "ord_01JDZ8K6Q3V5X7Y9A1B2C3D4E5"
#define REFUND "rfd_01JDZ9M0N1P2Q3R4S5T6V7W8X9"
#define CS "cs_test_a1B2c3D4e5F6g7H8i9J0kLmNoPqRsTuVwXyZ0123456789abcdefGHIJ"

static char tmp_root[] = "/tmp/tg_test_pay_stripe.XXXXXX";
static int dir_seq;

static void configure(const char *sk, const char *whsec)
{
    char dir[512], *err = NULL;
    extern char **environ;
    for (char **e = environ; *e;) { /* only what this test sets */
        if (strncmp(*e, "TG_", 3) == 0) {
            char name[256];
            const char *eq = strchr(*e, '=');
            size_t n = eq ? (size_t)(eq - *e) : strlen(*e);
            snprintf(name, sizeof name, "%.*s", (int)n, *e);
            unsetenv(name);
            e = environ;
            continue;
        }
        e++;
    }
    snprintf(dir, sizeof dir, "%s/d%d", tmp_root, ++dir_seq);
    setenv("TG_DATA_DIR", dir, 1);
    setenv("TG_LOG_LEVEL", "error", 1);
    setenv("TG_STRIPE_API_BASE", BASE, 1);
    if (sk)
        setenv("TG_STRIPE_SECRET_KEY", sk, 1);
    if (whsec)
        setenv("TG_STRIPE_WEBHOOK_SECRET", whsec, 1);
    if (config_load(NULL, &err) != 0) {
        printf("Bail out! config_load: %s\n", err);
        exit(1);
    }
}

/* ---- webhook vectors ------------------------------------------------------------------- */

struct hdrs {
    const char *sig;
};

static const char *get_header(void *hctx, const char *lname)
{
    struct hdrs *h = hctx;
    return strcmp(lname, "stripe-signature") == 0 ? h->sig : NULL;
}

/* Verifies body (an exact-size heap copy, so ASan sees overreads) with header at now_s. */
static void verify(const char *secret, const char *header, const char *body, size_t len, int64_t now_s,
                   struct pay_webhook_res *res)
{
    struct hdrs h = {header};
    char *copy = xmalloc(len ? len : 1);
    struct pay_webhook_req req;
    memcpy(copy, body, len);
    memset(&req, 0, sizeof req);
    req.body = copy;
    req.len = len;
    req.header = get_header;
    req.hctx = &h;
    req.now_ms = now_s * 1000 + 999;
    stripe_pay_verify(secret, &req, res);
    free(copy);
}

static const char *kind_name(enum pay_event_kind k)
{
    return k == PAY_EVENT_PAID           ? "paid"
           : k == PAY_EVENT_FAILED       ? "failed"
           : k == PAY_EVENT_REFUND       ? "refund"
           : k == PAY_EVENT_SUB_PERIOD   ? "sub_period"
           : k == PAY_EVENT_SUB_PAST_DUE ? "sub_past_due"
           : k == PAY_EVENT_SUB_STATE    ? "sub_state"
           : k == PAY_EVENT_SUB_ENDED    ? "sub_ended"
                                         : "?";
}

static json_t *vectors;

static json_t *vector(const char *name)
{
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(vectors, "vectors"), i, v)
    {
        if (strcmp(json_string_value(json_object_get(v, "name")), name) == 0)
            return v;
    }
    printf("Bail out! no vector %s\n", name);
    exit(1);
}

static void test_vectors(void)
{
    char path[1024];
    const char *dir = getenv("TEST_DATA_DIR");
    size_t i;
    json_t *v;

    snprintf(path, sizeof path, "%s/stripe/vectors.json", dir ? dir : "data");
    vectors = json_load_file(path, 0, NULL);
    CHECK(json_array_size(json_object_get(vectors, "vectors")) >= 90,
          "vectors.json has the generated vectors");
    if (vectors == NULL) {
        printf("Bail out! %s missing: run tests/fakes/gen_stripe_vectors.mjs\n", path);
        exit(1);
    }
    json_array_foreach(json_object_get(vectors, "vectors"), i, v)
    {
        const char *name = json_string_value(json_object_get(v, "name"));
        json_t *ex = json_object_get(v, "expect"), *f;
        json_t *body = json_object_get(v, "body");
        struct pay_webhook_res res;
        const char *key;

        verify(json_string_value(json_object_get(v, "secret")),
               json_string_value(json_object_get(v, "header")), json_string_value(body),
               json_string_length(body), json_integer_value(json_object_get(v, "now")), &res);
        CHECK_STR_EQ(pay_rc_name(res.rc), json_string_value(json_object_get(ex, "rc")), "%s: outcome", name);
        json_object_foreach(ex, key, f)
        {
            if (strcmp(key, "rc") == 0)
                continue;
            if (strcmp(key, "reason") == 0)
                CHECK_STR_EQ(res.reason, json_string_value(f), "%s: reason", name);
            else if (strcmp(key, "kind") == 0)
                CHECK_STR_EQ(kind_name(res.ev.kind), json_string_value(f), "%s: kind", name);
            else if (strcmp(key, "event_id") == 0)
                CHECK_STR_EQ(res.ev.event_id, json_string_value(f), "%s: event id", name);
            else if (strcmp(key, "type") == 0)
                CHECK_STR_EQ(res.ev.type, json_string_value(f), "%s: type", name);
            else if (strcmp(key, "order_id") == 0)
                CHECK_STR_EQ(res.ev.order_id, json_string_value(f), "%s: order id", name);
            else if (strcmp(key, "provider_ref") == 0)
                CHECK_STR_EQ(res.ev.provider_ref, json_string_value(f), "%s: provider ref", name);
            else if (strcmp(key, "amount") == 0)
                CHECK_INT_EQ(res.ev.amount, json_integer_value(f), "%s: amount", name);
            else if (strcmp(key, "currency") == 0)
                CHECK_STR_EQ(res.ev.currency, json_string_value(f), "%s: currency", name);
            else if (strcmp(key, "refund_id") == 0)
                CHECK_STR_EQ(res.ev.refund_id, json_string_value(f), "%s: refund id", name);
            else if (strcmp(key, "provider_refund_id") == 0)
                CHECK_STR_EQ(res.ev.provider_refund_id, json_string_value(f), "%s: provider refund id", name);
            else if (strcmp(key, "subscription_ref") == 0)
                CHECK_STR_EQ(res.ev.subscription_ref, json_string_value(f), "%s: subscription ref", name);
            else if (strcmp(key, "invoice_ref") == 0)
                CHECK_STR_EQ(res.ev.invoice_ref, json_string_value(f), "%s: invoice ref", name);
            else if (strcmp(key, "product") == 0)
                CHECK_STR_EQ(res.ev.product, json_string_value(f), "%s: product", name);
            else if (strcmp(key, "period_start") == 0)
                CHECK_INT_EQ(res.ev.period_start, json_integer_value(f), "%s: period start", name);
            else if (strcmp(key, "period_end") == 0)
                CHECK_INT_EQ(res.ev.period_end, json_integer_value(f), "%s: period end", name);
            else if (strcmp(key, "cancel_at_period_end") == 0)
                CHECK_INT_EQ(res.ev.cancel_at_period_end, json_integer_value(f), "%s: cancel at period end", name);
            else
                CHECK(0, "%s: unknown expectation %s", name, key);
        }
        if (res.rc != PAY_OK)
            CHECK(res.ev.event_id[0] == '\0' && res.ev.order_id[0] == '\0' && res.ev.amount == 0,
                  "%s: nothing reported when not ok", name);
        else
            CHECK(res.reason[0] == '\0', "%s: no reason when ok", name);
    }
}

/* The paid vector at other clocks, secrets and header shapes. */
static void test_webhook_attacks(void)
{
    json_t *v = vector("completed_paid"), *b = json_object_get(v, "body");
    const char *hdr = json_string_value(json_object_get(v, "header")), *body = json_string_value(b);
    size_t len = json_string_length(b);
    int64_t t = json_integer_value(json_object_get(v, "now"));
    const char *v1 = strstr(hdr, "v1=") + 3;
    struct pay_webhook_res res;
    struct sbuf h = {0};
    char *big;

    verify(WHSEC, hdr, body, len, t + STRIPE_TOLERANCE_S, &res);
    CHECK(res.rc == PAY_OK, "accepted 300 s after its timestamp");
    verify(WHSEC, hdr, body, len, t + STRIPE_TOLERANCE_S + 1, &res);
    CHECK(res.rc == PAY_INVALID && strcmp(res.reason, "timestamp_out_of_tolerance") == 0,
          "stale by 301 s: refused");
    CHECK(res.ev.order_id[0] == '\0' && res.ev.amount == 0, "stale: nothing reported");
    verify(WHSEC, hdr, body, len, t - STRIPE_TOLERANCE_S, &res);
    CHECK(res.rc == PAY_OK, "timestamp 300 s ahead of our clock: accepted");
    verify(WHSEC, hdr, body, len, t - STRIPE_TOLERANCE_S - 1, &res);
    CHECK(res.rc == PAY_INVALID && strcmp(res.reason, "timestamp_out_of_tolerance") == 0,
          "timestamp 301 s in the future: refused (no replay window later)");
    verify(WHSEC, hdr, body, len, t + 86400 * 365, &res);
    CHECK(res.rc == PAY_INVALID, "a year-old delivery replayed: refused");

    verify(NULL, hdr, body, len, t, &res);
    CHECK(res.rc == PAY_MISCONFIGURED, "no webhook secret configured: misconfigured (503, Stripe retries)");
    verify("", hdr, body, len, t, &res);
    CHECK(res.rc == PAY_MISCONFIGURED, "empty webhook secret: misconfigured");
    verify("whsec_test_secreT", hdr, body, len, t, &res);
    CHECK(res.rc == PAY_INVALID && strcmp(res.reason, "signature_mismatch") == 0,
          "secret differing in one letter");
    verify("whsec_test_secret\n", hdr, body, len, t, &res);
    CHECK(res.rc == PAY_INVALID, "secret with a trailing newline is another key");
    verify(WHSEC, NULL, body, len, t, &res);
    CHECK(res.rc == PAY_INVALID && strcmp(res.reason, "signature_missing") == 0,
          "no header (or a duplicated one, which the API hands over as absent)");
    verify(WHSEC, "", body, len, t, &res);
    CHECK(res.rc == PAY_INVALID && strcmp(res.reason, "signature_malformed") == 0, "empty header");
    verify(WHSEC, hdr, body, len - 1, t, &res);
    CHECK(res.rc == PAY_INVALID && strcmp(res.reason, "signature_mismatch") == 0, "body cut by one byte");
    verify(WHSEC, hdr, "", 0, t, &res);
    CHECK(res.rc == PAY_INVALID && strcmp(res.reason, "signature_mismatch") == 0, "empty body");

    /* eight v1 entries with the good one last: accepted; nine: refused */
    sbuf_printf(&h, "t=%" PRId64, t);
    for (int i = 0; i < STRIPE_SIG_MAX_V1 - 1; i++)
        sbuf_printf(&h, ",v1=%064d", i);
    sbuf_printf(&h, ",v1=%.64s", v1);
    verify(WHSEC, h.data, body, len, t, &res);
    CHECK(res.rc == PAY_OK, "the matching signature among %d v1 entries", STRIPE_SIG_MAX_V1);
    sbuf_reset(&h);
    sbuf_printf(&h, "t=%" PRId64, t);
    for (int i = 0; i < STRIPE_SIG_MAX_V1; i++)
        sbuf_printf(&h, ",v1=%064d", i);
    sbuf_printf(&h, ",v1=%.64s", v1);
    verify(WHSEC, h.data, body, len, t, &res);
    CHECK(res.rc == PAY_INVALID && strcmp(res.reason, "signature_malformed") == 0,
          "more v1 entries than a secret roll needs");

    /* a header past the limit, padded with an unknown scheme */
    sbuf_reset(&h);
    sbuf_printf(&h, "t=%" PRId64 ",v1=%.64s,v9=", t, v1);
    while (h.len <= STRIPE_SIG_HEADER_MAX)
        sbuf_puts(&h, "x");
    verify(WHSEC, h.data, body, len, t, &res);
    CHECK(res.rc == PAY_INVALID && strcmp(res.reason, "signature_malformed") == 0, "header over %d bytes",
          STRIPE_SIG_HEADER_MAX);
    sbuf_free(&h);

    /* a body past the limit is refused before any hashing or parsing */
    big = xmalloc(STRIPE_EVENT_MAX + 1);
    memset(big, ' ', STRIPE_EVENT_MAX + 1);
    memcpy(big, body, len);
    verify(WHSEC, hdr, big, STRIPE_EVENT_MAX + 1, t, &res);
    CHECK(res.rc == PAY_INVALID && strcmp(res.reason, "body_too_large") == 0, "body over %d bytes",
          STRIPE_EVENT_MAX);
    free(big);

    /* A timestamp is 1..12 digits: a 13-digit one (milliseconds) is malformed. */
    {
        char *hh = xasprintf("t=%" PRId64 "000,v1=%.64s", t, v1);
        verify(WHSEC, hh, body, len, t, &res);
        CHECK(res.rc == PAY_INVALID && strcmp(res.reason, "signature_malformed") == 0,
              "timestamp in milliseconds");
        free(hh);
    }
}

static void test_sig_parse(void)
{
    int64_t t;
    char v1[STRIPE_SIG_MAX_V1][65];
    size_t n;
    const char *a = "a5d5f1c1a3ba01d2cbf7bd4f2b1bd90c1c3d7e5f7c2fa0e42c8b0d01e9a44b7f";
    char *h;

    h = xasprintf("t=12,v1=%s", a);
    CHECK(stripe_sig_parse(h, &t, v1, &n) == 0 && t == 12 && n == 1 && strcmp(v1[0], a) == 0, "t and one v1");
    free(h);
    h = xasprintf("v1=%s,t=12", a);
    CHECK(stripe_sig_parse(h, &t, v1, &n) == 0 && t == 12 && n == 1, "order of items does not matter");
    free(h);
    h = xasprintf("t=12,v1=%s,", a);
    CHECK(stripe_sig_parse(h, &t, v1, &n) != 0, "trailing comma (an empty item)");
    free(h);
    h = xasprintf("t=12,v1=%s,v1", a);
    CHECK(stripe_sig_parse(h, &t, v1, &n) != 0, "an item without '='");
    free(h);
    h = xasprintf("t=12,=%s", a);
    CHECK(stripe_sig_parse(h, &t, v1, &n) != 0, "an item without a key");
    free(h);
    h = xasprintf("t=,v1=%s", a);
    CHECK(stripe_sig_parse(h, &t, v1, &n) != 0, "empty t");
    free(h);
    h = xasprintf("t=-12,v1=%s", a);
    CHECK(stripe_sig_parse(h, &t, v1, &n) != 0, "negative t");
    free(h);
    h = xasprintf("t=12,v1=%s0", a);
    CHECK(stripe_sig_parse(h, &t, v1, &n) != 0, "65 hex digits");
    free(h);
    h = xasprintf("t=12,v1=%.63sg", a);
    CHECK(stripe_sig_parse(h, &t, v1, &n) != 0, "a non-hex digit");
    free(h);
    h = xasprintf("T=12,v1=%s", a);
    CHECK(stripe_sig_parse(h, &t, v1, &n) != 0, "keys are case-sensitive (no t)");
    free(h);
    h = xasprintf("t=12,v1=%s,v0=zz,v2=,scheme=x=y", a);
    CHECK(stripe_sig_parse(h, &t, v1, &n) == 0 && n == 1, "other schemes skipped whatever they hold");
    free(h);
    h = xasprintf("t=999999999999,v1=%s", a);
    CHECK(stripe_sig_parse(h, &t, v1, &n) == 0 && t == 999999999999LL, "12-digit t");
    free(h);
    CHECK(stripe_sig_parse(NULL, &t, v1, &n) != 0 && t == 0 && n == 0, "NULL header");
    {
        char with_nul[] = "t=12,v1=a5d5f1c1a3ba01d2cbf7bd4f2b1bd90c1c3d7e5f7c2fa0e42c8b0d01e9a44b7f";
        with_nul[3] = '\0'; /* the parser sees "t=1" */
        CHECK(stripe_sig_parse(with_nul, &t, v1, &n) != 0, "a NUL inside ends the header");
    }
}

/* ---- forms ------------------------------------------------------------------------------ */

static void order_init(struct order *o)
{
    memset(o, 0, sizeof *o);
    snprintf(o->id, sizeof o->id, "%s", ORDER);
    snprintf(o->user_id, sizeof o->user_id, "usr_01JDZ8K6Q3V5X7Y9A1B2C3D4E0");
    snprintf(o->product, sizeof o->product, "credits_115");
    snprintf(o->kind, sizeof o->kind, "pack");
    o->credits = 115;
    o->amount = 990;
    snprintf(o->currency, sizeof o->currency, "USD");
    snprintf(o->provider, sizeof o->provider, "stripe");
    snprintf(o->status, sizeof o->status, "pending");
    o->created_at = 1700000000000LL;
    o->expires_at = 1700000000000LL + 2 * 3600 * 1000;
}

static void creq_init(struct pay_checkout_req *r, const struct order *o)
{
    memset(r, 0, sizeof *r);
    r->order = o;
    r->description = "115 credits";
    r->channel = "";
    r->notify_url = "https://pay.example.com/api/v1/webhooks/stripe";
    r->return_url = "https://pay.example.com/api/v1/orders/" ORDER "/return";
    r->cancel_url = "https://app.example.com/buy?cancel=1&x=a b";
    r->now_ms = 1700000000000LL;
}

#define FORM_HEAD                                                                                            \
    "mode=payment&success_url=https%3A%2F%2Fpay.example.com%2Fapi%2Fv1%2Forders%2F" ORDER "%2Freturn"        \
    "&cancel_url=https%3A%2F%2Fapp.example.com%2Fbuy%3Fcancel%3D1%26x%3Da%20b"                               \
    "&client_reference_id=" ORDER "&metadata[order_id]=" ORDER                                               \
    "&payment_intent_data[metadata][order_id]=" ORDER

static void test_forms(void)
{
    struct order o;
    struct pay_checkout_req r;
    struct pay_refund_req rr;
    char *f;

    order_init(&o);
    creq_init(&r, &o);
    f = stripe_checkout_form(&r);
    CHECK_STR_EQ(f,
                 FORM_HEAD
                 "&line_items[0][price_data][currency]=usd&line_items[0][price_data][unit_amount]=990"
                 "&line_items[0][price_data][product_data][name]=115%20credits&line_items[0][quantity]=1"
                 "&expires_at=1700007200",
                 "checkout form: inline price, lower-case currency, minor units, expiry of the order");
    free(f);

    r.provider_product_id = "price_1OdFake123";
    r.email = "buyer+1@example.com";
    o.expires_at = 1700000000000LL + 600 * 1000; /* 10 min: under Stripe's 30 min floor */
    f = stripe_checkout_form(&r);
    CHECK_STR_EQ(f,
                 FORM_HEAD "&line_items[0][price]=price_1OdFake123&line_items[0][quantity]=1"
                           "&customer_email=buyer%2B1%40example.com&expires_at=1700001860",
                 "checkout form: the catalog's price id, the buyer's email, expiry raised to 31 min");
    free(f);

    r.provider_product_id = NULL;
    r.email = NULL;
    o.expires_at = 1700000000000LL + 3LL * 86400 * 1000; /* 3 days: over the 24 h ceiling */
    o.amount = 6800;
    snprintf(o.currency, sizeof o.currency, "CNY");
    f = stripe_checkout_form(&r);
    CHECK(
        f != NULL &&
            strstr(f,
                   "&line_items[0][price_data][currency]=cny&line_items[0][price_data][unit_amount]=6800&") &&
            strstr(f, "&expires_at=1700086340") && !strstr(f, "customer_email"),
        "checkout form: CNY, expiry capped at 24 h - 1 min, no email");
    free(f);

    o.expires_at = 0;
    f = stripe_checkout_form(&r);
    CHECK(f != NULL && strstr(f, "expires_at") == NULL, "no order expiry: Stripe's default");
    free(f);

    o.amount = 0;
    CHECK(stripe_checkout_form(&r) == NULL, "zero amount: no form");
    o.amount = 990;
    snprintf(o.currency, sizeof o.currency, "usd");
    CHECK(stripe_checkout_form(&r) == NULL, "currency not upper-case ISO: no form");
    snprintf(o.currency, sizeof o.currency, "USD");
    r.return_url = NULL;
    CHECK(stripe_checkout_form(&r) == NULL, "no return URL: no form");

    order_init(&o);
    memset(&rr, 0, sizeof rr);
    rr.order = &o;
    rr.refund_id = REFUND;
    rr.amount = 500;
    rr.reason = "buyer asked & got 5.00 back";
    f = stripe_refund_form(&rr, "pi_3OdFake");
    CHECK_STR_EQ(f,
                 "payment_intent=pi_3OdFake&amount=500&metadata[refund_id]=" REFUND
                 "&metadata[order_id]=" ORDER "&metadata[reason]=buyer%20asked%20%26%20got%205.00%20back",
                 "refund form");
    free(f);
    {
        char long_reason[700];
        memset(long_reason, 'x', sizeof long_reason - 1);
        long_reason[sizeof long_reason - 1] = '\0';
        memcpy(long_reason + 499, "\xc3\xa9", 2); /* a 2-byte character across the 500-byte cut */
        rr.reason = long_reason;
        f = stripe_refund_form(&rr, "pi_3OdFake");
        CHECK(f != NULL && strlen(strstr(f, "metadata[reason]=") + 17) == 499,
              "reason cut to Stripe's 500-byte metadata limit at a character boundary");
        free(f);
    }
}

/* ---- calls ------------------------------------------------------------------------------- */

static struct pay_checkout_res got_co;
static struct pay_query_res got_q;
static struct pay_refund_res got_rf;
static int n_done;

static void co_done(void *arg, const struct pay_checkout_res *r)
{
    (void)arg;
    got_co = *r;
    n_done++;
}
static void q_done(void *arg, const struct pay_query_res *r)
{
    (void)arg;
    got_q = *r;
    n_done++;
}
static void rf_done(void *arg, const struct pay_refund_res *r)
{
    (void)arg;
    got_rf = *r;
    n_done++;
}

static char *session_json(const char *status, const char *payment_status, int64_t amount,
                          const char *currency, const char *pi, const char *order)
{
    return xasprintf(
        "{\"id\":\"" CS "\",\"object\":\"checkout.session\",\"amount_total\":%" PRId64
        ",\"currency\":\"%s\",\"client_reference_id\":\"%s\",\"metadata\":{\"order_id\":\"%s\"},"
        "\"mode\":\"payment\",\"payment_intent\":%s%s%s,\"payment_status\":\"%s\",\"status\":\"%s\","
        "\"url\":\"https://checkout.stripe.com/c/pay/" CS "#fidkdWxOYHwnPyd1blpxYHZxWjA0\"}",
        amount, currency, order, order, pi ? "\"" : "", pi ? pi : "null", pi ? "\"" : "", payment_status,
        status);
}

static void run_checkout(const struct pay_checkout_req *r, size_t n, const struct scripted *s)
{
    scripts(n, s);
    n_done = 0;
    memset(&got_co, 0xa5, sizeof got_co);
    pay_stripe.checkout(NULL, r, co_done, NULL);
}

static void test_checkout(void)
{
    struct order o;
    struct pay_checkout_req r;
    char *ok = session_json("open", "unpaid", 990, "usd", NULL, ORDER);

    order_init(&o);
    creq_init(&r, &o);
    run_checkout(&r, 1, (struct scripted[]){{NET_OK, 200, ok}});
    CHECK(n_done == 1 && got_co.rc == PAY_OK, "checkout: ok");
    CHECK_STR_EQ(got_co.provider_ref, CS, "checkout: provider_ref is the session id");
    CHECK_STR_EQ(got_co.checkout,
                 "{\"url\":\"https://checkout.stripe.com/c/pay/" CS "#fidkdWxOYHwnPyd1blpxYHZxWjA0\"}",
                 "checkout: the session's URL");
    CHECK(n_seen == 1 && strcmp(seen[0].method, "POST") == 0, "checkout: one POST");
    CHECK_STR_EQ(seen[0].url, BASE "/v1/checkout/sessions", "checkout: URL from TG_STRIPE_API_BASE");
    CHECK_STR_EQ(seen_header(0, "Authorization"), "Bearer " SK, "checkout: Bearer secret key");
    CHECK_STR_EQ(seen_header(0, "Idempotency-Key"), ORDER, "checkout: Idempotency-Key is the order id");
    CHECK_STR_EQ(seen_header(0, "Content-Type"), "application/x-www-form-urlencoded",
                 "checkout: form-encoded");
    CHECK(strncmp(seen[0].body, "mode=payment&", 13) == 0, "checkout: the form is sent");
    CHECK(seen[0].idempotent == 1 && seen[0].retries == STRIPE_RETRIES &&
              seen[0].timeout_ms == STRIPE_CALL_TIMEOUT_MS && seen[0].max_response == STRIPE_ANSWER_MAX,
          "checkout: retried under its key, bounded time and answer");

    run_checkout(&r, 1, (struct scripted[]){{NET_TIMEOUT, 0, NULL}});
    CHECK(got_co.rc == PAY_UNAVAILABLE && strcmp(got_co.reason, "timeout") == 0,
          "checkout: timeout -> unavailable");
    run_checkout(&r, 1, (struct scripted[]){{NET_OK, 503, "<html>oops</html>"}});
    CHECK(got_co.rc == PAY_UNAVAILABLE && strcmp(got_co.reason, "http_503") == 0,
          "checkout: 503 -> unavailable");
    run_checkout(
        &r, 1,
        (struct scripted[]){
            {NET_OK, 429, "{\"error\":{\"type\":\"invalid_request_error\",\"code\":\"rate_limit\"}}"}});
    CHECK(got_co.rc == PAY_UNAVAILABLE && strcmp(got_co.reason, "stripe_rate_limit") == 0,
          "checkout: 429 -> unavailable");
    run_checkout(&r, 1,
                 (struct scripted[]){{NET_OK, 401,
                                      "{\"error\":{\"type\":\"invalid_request_error\",\"message\":\"Invalid "
                                      "API Key provided: sk_test_****\"}}"}});
    CHECK(got_co.rc == PAY_MISCONFIGURED && strcmp(got_co.reason, "stripe_invalid_request_error") == 0,
          "checkout: 401 -> misconfigured, the message (which echoes the key) not kept");
    run_checkout(
        &r, 1,
        (struct scripted[]){{NET_OK, 400,
                             "{\"error\":{\"type\":\"invalid_request_error\",\"code\":\"parameter_invalid_"
                             "integer\",\"param\":\"line_items[0][price_data][unit_amount]\"}}"}});
    CHECK(got_co.rc == PAY_INVALID && strcmp(got_co.reason, "stripe_parameter_invalid_integer") == 0,
          "checkout: 400 -> invalid");
    run_checkout(&r, 1,
                 (struct scripted[]){
                     {NET_OK, 400, "{\"error\":{\"type\":\"idempotency_error\",\"code\":\"Bad Code!\"}}"}});
    CHECK(got_co.rc == PAY_INVALID && strcmp(got_co.reason, "stripe_idempotency_error") == 0,
          "checkout: an error code outside [a-z_] is not copied");
    run_checkout(&r, 1, (struct scripted[]){{NET_OK, 200, "{\"id\":\"cs_test_x\""}});
    CHECK(got_co.rc == PAY_UNAVAILABLE && strcmp(got_co.reason, "bad_answer") == 0,
          "checkout: truncated JSON");
    run_checkout(&r, 1, (struct scripted[]){{NET_OK, 200, NULL}});
    CHECK(got_co.rc == PAY_UNAVAILABLE && strcmp(got_co.reason, "bad_answer") == 0, "checkout: empty 200");
    {
        char *no_url =
            xasprintf("{\"id\":\"" CS "\",\"object\":\"checkout.session\",\"amount_total\":990,\"currency\":"
                      "\"usd\",\"client_reference_id\":\"" ORDER "\",\"url\":null}");
        char *js_url = xasprintf(
            "{\"id\":\"" CS "\",\"amount_total\":990,\"currency\":\"usd\",\"client_reference_id\":\"" ORDER
            "\",\"url\":\"javascript:alert(1)\"}");
        char *other = session_json("open", "unpaid", 990, "usd", NULL, "ord_01JDZ8K6Q3V5X7Y9A1B2C3D4E6");
        char *price = session_json("open", "unpaid", 1990, "usd", NULL, ORDER);
        char *cur = session_json("open", "unpaid", 990, "eur", NULL, ORDER);
        run_checkout(&r, 1, (struct scripted[]){{NET_OK, 200, no_url}});
        CHECK(got_co.rc == PAY_UNAVAILABLE && got_co.provider_ref[0] == '\0',
              "checkout: a session without a URL");
        run_checkout(&r, 1, (struct scripted[]){{NET_OK, 200, js_url}});
        CHECK(got_co.rc == PAY_UNAVAILABLE, "checkout: a URL that is not http(s)");
        run_checkout(&r, 1, (struct scripted[]){{NET_OK, 200, other}});
        CHECK(got_co.rc == PAY_UNAVAILABLE && strcmp(got_co.reason, "session_order_mismatch") == 0,
              "checkout: a session for another order");
        run_checkout(&r, 1, (struct scripted[]){{NET_OK, 200, price}});
        CHECK(got_co.rc == PAY_MISCONFIGURED && strcmp(got_co.reason, "price_mismatch") == 0,
              "checkout: the session's total differs from the order's amount");
        run_checkout(&r, 1, (struct scripted[]){{NET_OK, 200, cur}});
        CHECK(got_co.rc == PAY_MISCONFIGURED && strcmp(got_co.reason, "price_mismatch") == 0,
              "checkout: the session's currency differs from the order's");
        free(no_url);
        free(js_url);
        free(other);
        free(price);
        free(cur);
    }
    o.amount = -5;
    run_checkout(&r, 0, NULL);
    CHECK(n_done == 1 && got_co.rc == PAY_INVALID && n_seen == 0,
          "checkout: a negative amount is never sent");
    o.amount = 990;

    configure(NULL, WHSEC);
    run_checkout(&r, 0, NULL);
    CHECK(n_done == 1 && got_co.rc == PAY_MISCONFIGURED && n_seen == 0,
          "checkout: no secret key -> misconfigured, no call");
    CHECK(!pay_stripe.configured(), "not configured without the secret key");
    configure(SK, NULL);
    CHECK(!pay_stripe.configured(), "not configured without the webhook secret");
    configure(SK, WHSEC);
    CHECK(pay_stripe.configured(), "configured with both");
    free(ok);
}

static void run_query(const struct order *o, size_t n, const struct scripted *s)
{
    scripts(n, s);
    n_done = 0;
    memset(&got_q, 0xa5, sizeof got_q);
    pay_stripe.query(NULL, o, 1700000000000LL, q_done, NULL);
}

static void test_query(void)
{
    struct order o;
    char *open = session_json("open", "unpaid", 990, "usd", NULL, ORDER);
    char *paid = session_json("complete", "paid", 990, "usd", "pi_3OdFake", ORDER);
    char *processing = session_json("complete", "unpaid", 990, "usd", "pi_3OdFake", ORDER);
    char *expired = session_json("expired", "unpaid", 990, "usd", NULL, ORDER);
    char *other =
        session_json("complete", "paid", 990, "usd", "pi_3OdFake", "ord_01JDZ8K6Q3V5X7Y9A1B2C3D4E6");

    order_init(&o);
    snprintf(o.provider_ref, sizeof o.provider_ref, "%s", CS);
    run_query(&o, 1, (struct scripted[]){{NET_OK, 200, open}});
    CHECK(n_done == 1 && got_q.rc == PAY_OK && got_q.state == PAY_STATE_PENDING, "query: open -> pending");
    CHECK_STR_EQ(seen[0].method, "GET", "query: GET");
    CHECK_STR_EQ(seen[0].url, BASE "/v1/checkout/sessions/" CS, "query: the session's URL");
    CHECK_STR_EQ(seen_header(0, "Authorization"), "Bearer " SK, "query: Bearer key");
    CHECK(seen_header(0, "Idempotency-Key") == NULL && seen[0].idempotent == 1,
          "query: a GET, retried, no key");
    run_query(&o, 1, (struct scripted[]){{NET_OK, 200, paid}});
    CHECK(got_q.rc == PAY_OK && got_q.state == PAY_STATE_PAID && got_q.ev.kind == PAY_EVENT_PAID &&
              got_q.ev.amount == 990 && strcmp(got_q.ev.currency, "USD") == 0 &&
              strcmp(got_q.ev.order_id, ORDER) == 0 && strcmp(got_q.ev.provider_ref, CS) == 0 &&
              strcmp(got_q.ev.event_id, "query:" CS) == 0,
          "query: complete+paid -> paid, event filled");
    run_query(&o, 1, (struct scripted[]){{NET_OK, 200, processing}});
    CHECK(got_q.rc == PAY_OK && got_q.state == PAY_STATE_PENDING,
          "query: complete+unpaid (delayed method) -> pending");
    run_query(&o, 1, (struct scripted[]){{NET_OK, 200, expired}});
    CHECK(got_q.rc == PAY_OK && got_q.state == PAY_STATE_CLOSED, "query: expired -> closed");
    run_query(&o, 1, (struct scripted[]){{NET_OK, 200, other}});
    CHECK(got_q.rc == PAY_UNAVAILABLE && got_q.state == PAY_STATE_PENDING && got_q.ev.amount == 0,
          "query: a session naming another order is never taken as paid");
    run_query(
        &o, 1,
        (struct scripted[]){
            {NET_OK, 404, "{\"error\":{\"type\":\"invalid_request_error\",\"code\":\"resource_missing\"}}"}});
    CHECK(got_q.rc == PAY_NOTFOUND && strcmp(got_q.reason, "stripe_resource_missing") == 0,
          "query: 404 -> not found");
    run_query(&o, 1, (struct scripted[]){{NET_OK, 403, NULL}});
    CHECK(got_q.rc == PAY_MISCONFIGURED, "query: 403 -> misconfigured");
    run_query(&o, 1, (struct scripted[]){{NET_OK, 400, "{}"}});
    CHECK(got_q.rc == PAY_UNAVAILABLE, "query: 400 -> unavailable (nothing to report)");
    run_query(&o, 1, (struct scripted[]){{NET_CONNECT, 0, NULL}});
    CHECK(got_q.rc == PAY_UNAVAILABLE && strcmp(got_q.reason, "connect") == 0, "query: connection refused");
    o.provider_ref[0] = '\0';
    run_query(&o, 0, NULL);
    CHECK(n_done == 1 && got_q.rc == PAY_NOTFOUND && n_seen == 0,
          "query: no session recorded -> not found, no call");
    snprintf(o.provider_ref, sizeof o.provider_ref, "cs_test_../../v1/charges");
    run_query(&o, 0, NULL);
    CHECK(n_done == 1 && got_q.rc == PAY_NOTFOUND && n_seen == 0,
          "query: a malformed session id never reaches a URL");
    free(open);
    free(paid);
    free(processing);
    free(expired);
    free(other);
}

static void run_refund(const struct pay_refund_req *r, size_t n, const struct scripted *s)
{
    scripts(n, s);
    n_done = 0;
    memset(&got_rf, 0xa5, sizeof got_rf);
    pay_stripe.refund(NULL, r, rf_done, NULL);
}

static void test_refund(void)
{
    struct order o;
    struct pay_refund_req r;
    char *paid = session_json("complete", "paid", 990, "usd", "pi_3OdFake", ORDER);
    char *unpaid = session_json("open", "unpaid", 990, "usd", NULL, ORDER);
    const char *re_ok = "{\"id\":\"re_3OdFake\",\"object\":\"refund\",\"amount\":500,\"currency\":\"usd\","
                        "\"status\":\"succeeded\","
                        "\"payment_intent\":\"pi_3OdFake\",\"metadata\":{\"refund_id\":\"" REFUND "\"}}";
    const char *re_pending = "{\"id\":\"re_3OdFake\",\"object\":\"refund\",\"amount\":500,\"currency\":"
                             "\"usd\",\"status\":\"pending\"}";
    const char *re_failed = "{\"id\":\"re_3OdFake\",\"object\":\"refund\",\"amount\":500,\"currency\":"
                            "\"usd\",\"status\":\"failed\"}";
    const char *re_other = "{\"id\":\"re_3OdFake\",\"object\":\"refund\",\"amount\":990,\"currency\":\"usd\","
                           "\"status\":\"succeeded\"}";

    order_init(&o);
    snprintf(o.provider_ref, sizeof o.provider_ref, "%s", CS);
    snprintf(o.status, sizeof o.status, "paid");
    memset(&r, 0, sizeof r);
    r.order = &o;
    r.refund_id = REFUND;
    r.amount = 500;
    r.reason = "duplicate purchase";
    r.notify_url = "https://pay.example.com/api/v1/webhooks/stripe";

    run_refund(&r, 2, (struct scripted[]){{NET_OK, 200, paid}, {NET_OK, 200, re_ok}});
    CHECK(n_done == 1 && got_rf.rc == PAY_OK && got_rf.pending == 0, "refund: succeeded at once");
    CHECK_STR_EQ(got_rf.provider_refund_id, "re_3OdFake", "refund: Stripe's refund id");
    CHECK(n_seen == 2 && strcmp(seen[0].method, "GET") == 0 && strcmp(seen[1].method, "POST") == 0,
          "refund: the session, then the refund");
    CHECK_STR_EQ(seen[0].url, BASE "/v1/checkout/sessions/" CS, "refund: session URL");
    CHECK_STR_EQ(seen[1].url, BASE "/v1/refunds", "refund: refunds URL");
    CHECK_STR_EQ(seen_header(1, "Idempotency-Key"), REFUND, "refund: Idempotency-Key is our refund id");
    CHECK_STR_EQ(seen_header(1, "Authorization"), "Bearer " SK, "refund: Bearer key");
    CHECK_STR_EQ(seen[1].body,
                 "payment_intent=pi_3OdFake&amount=500&metadata[refund_id]=" REFUND
                 "&metadata[order_id]=" ORDER "&metadata[reason]=duplicate%20purchase",
                 "refund: the form");
    CHECK(seen[1].idempotent == 1 && seen[1].retries == STRIPE_RETRIES, "refund: retried under its key");

    run_refund(&r, 2, (struct scripted[]){{NET_OK, 200, paid}, {NET_OK, 200, re_pending}});
    CHECK(got_rf.rc == PAY_OK && got_rf.pending == 1, "refund: pending -> accepted, confirmed later");
    run_refund(&r, 2, (struct scripted[]){{NET_OK, 200, paid}, {NET_OK, 200, re_failed}});
    CHECK(got_rf.rc == PAY_DECLINED && strcmp(got_rf.reason, "refund_failed") == 0,
          "refund: failed -> declined");
    run_refund(&r, 2, (struct scripted[]){{NET_OK, 200, paid}, {NET_OK, 200, re_other}});
    CHECK(got_rf.rc == PAY_UNAVAILABLE && strcmp(got_rf.reason, "refund_amount_mismatch") == 0,
          "refund: an answer for another amount is not taken as this refund");
    run_refund(
        &r, 2,
        (struct scripted[]){
            {NET_OK, 200, paid},
            {NET_OK, 400,
             "{\"error\":{\"type\":\"invalid_request_error\",\"code\":\"charge_already_refunded\"}}"}});
    CHECK(got_rf.rc == PAY_DECLINED && strcmp(got_rf.reason, "stripe_charge_already_refunded") == 0,
          "refund: already refunded -> declined");
    run_refund(
        &r, 2,
        (struct scripted[]){
            {NET_OK, 200, paid},
            {NET_OK, 400, "{\"error\":{\"type\":\"invalid_request_error\",\"code\":\"amount_too_large\"}}"}});
    CHECK(got_rf.rc == PAY_DECLINED, "refund: amount too large -> declined");
    run_refund(&r, 2, (struct scripted[]){{NET_OK, 200, paid}, {NET_OK, 500, NULL}});
    CHECK(got_rf.rc == PAY_UNAVAILABLE, "refund: 500 -> unavailable");
    run_refund(&r, 2, (struct scripted[]){{NET_OK, 200, paid}, {NET_OK, 401, NULL}});
    CHECK(got_rf.rc == PAY_MISCONFIGURED, "refund: 401 -> misconfigured");
    run_refund(&r, 2, (struct scripted[]){{NET_OK, 200, paid}, {NET_OK, 200, "{\"id\":\"nope\"}"}});
    CHECK(got_rf.rc == PAY_UNAVAILABLE && got_rf.provider_refund_id[0] == '\0', "refund: malformed answer");
    run_refund(&r, 1, (struct scripted[]){{NET_OK, 200, unpaid}});
    CHECK(n_seen == 1 && got_rf.rc == PAY_DECLINED && strcmp(got_rf.reason, "not_paid") == 0,
          "refund: a session without a payment -> declined, no refund call");
    run_refund(&r, 1, (struct scripted[]){{NET_TIMEOUT, 0, NULL}});
    CHECK(n_seen == 1 && got_rf.rc == PAY_UNAVAILABLE, "refund: the session lookup timed out");
    run_refund(&r, 1, (struct scripted[]){{NET_OK, 404, NULL}});
    CHECK(got_rf.rc == PAY_INVALID, "refund: the session is unknown -> invalid");
    r.amount = 0;
    run_refund(&r, 0, NULL);
    CHECK(n_done == 1 && n_seen == 0 && got_rf.rc == PAY_INVALID, "refund: zero amount never sent");
    r.amount = 500;
    r.refund_id = "rfd_../x";
    run_refund(&r, 0, NULL);
    CHECK(n_done == 1 && n_seen == 0 && got_rf.rc == PAY_INVALID, "refund: a malformed refund id never sent");
    r.refund_id = REFUND;
    o.provider_ref[0] = '\0';
    run_refund(&r, 0, NULL);
    CHECK(n_done == 1 && n_seen == 0 && got_rf.rc == PAY_INVALID, "refund: an order without a session");
    free(paid);
    free(unpaid);
}

/* ---- plans ------------------------------------------------------------------------------- */

#define SUB "sub_1QFakeVectorSub00000001"
#define SI "si_QFakeVectorItem001"
#define PROD "prod_QFakeProPlan001"

static void test_sub_forms(void)
{
    struct order o;
    struct pay_checkout_req r;
    struct pay_sub_req q;
    char *f;

    order_init(&o);
    snprintf(o.product, sizeof o.product, "pro_monthly");
    snprintf(o.kind, sizeof o.kind, "plan");
    o.amount = 1990;
    creq_init(&r, &o);
    r.description = "Pro, monthly";
    r.interval = "month";
    f = stripe_checkout_form(&r);
    CHECK_STR_EQ(f,
                 "mode=subscription&success_url=https%3A%2F%2Fpay.example.com%2Fapi%2Fv1%2Forders%2F" ORDER
                 "%2Freturn&cancel_url=https%3A%2F%2Fapp.example.com%2Fbuy%3Fcancel%3D1%26x%3Da%20b"
                 "&client_reference_id=" ORDER "&metadata[order_id]=" ORDER
                 "&subscription_data[metadata][order_id]=" ORDER "&subscription_data[metadata][product]=pro_monthly"
                 "&line_items[0][price_data][currency]=usd&line_items[0][price_data][unit_amount]=1990"
                 "&line_items[0][price_data][product_data][name]=Pro%2C%20monthly"
                 "&line_items[0][price_data][recurring][interval]=month&line_items[0][quantity]=1"
                 "&expires_at=1700007200",
                 "plan checkout form: subscription mode, recurring inline price, metadata for the subscription");
    free(f);
    r.provider_product_id = PRICE_PRO;
    r.interval = "year";
    f = stripe_checkout_form(&r);
    CHECK(f != NULL && strstr(f, "&line_items[0][price]=" PRICE_PRO "&line_items[0][quantity]=1&") != NULL &&
              strstr(f, "price_data") == NULL && strstr(f, "recurring") == NULL &&
              strstr(f, "payment_intent_data") == NULL,
          "plan checkout form with the catalog's price: the price carries its interval");
    free(f);
    r.interval = "week";
    CHECK(stripe_checkout_form(&r) == NULL, "plan checkout form: an interval the catalog has not: no form");
    r.interval = "";
    CHECK(stripe_checkout_form(&r) == NULL, "plan checkout form: an empty interval: no form");

    memset(&q, 0, sizeof q);
    q.action = PAY_SUB_CANCEL;
    q.subscription_ref = SUB;
    f = stripe_sub_form(&q, NULL, NULL);
    CHECK_STR_EQ(f, "cancel_at_period_end=true", "cancel form");
    free(f);
    q.action = PAY_SUB_RESUME;
    f = stripe_sub_form(&q, NULL, NULL);
    CHECK_STR_EQ(f, "cancel_at_period_end=false", "resume form");
    free(f);
    q.action = PAY_SUB_CANCEL_NOW;
    CHECK(stripe_sub_form(&q, SI, PROD) == NULL, "cancel now is a DELETE: no form");

    q.action = PAY_SUB_CHANGE;
    q.product = "max_monthly";
    q.amount = 4990;
    q.currency = "USD";
    q.interval = "month";
    q.prorate_now = 1;
    f = stripe_sub_form(&q, SI, PROD);
    CHECK_STR_EQ(f,
                 "items[0][id]=" SI "&items[0][price_data][currency]=usd&items[0][price_data][product]=" PROD
                 "&items[0][price_data][unit_amount]=4990&items[0][price_data][recurring][interval]=month"
                 "&proration_behavior=always_invoice&payment_behavior=error_if_incomplete"
                 "&metadata[product]=max_monthly",
                 "upgrade form: inline price on the subscription's product, prorated and charged now");
    free(f);
    q.provider_product_id = PRICE_MAX;
    q.prorate_now = 0;
    q.product = "pro_monthly";
    f = stripe_sub_form(&q, SI, PROD);
    CHECK_STR_EQ(f,
                 "items[0][id]=" SI "&items[0][price]=" PRICE_MAX
                 "&proration_behavior=none&metadata[product]=pro_monthly",
                 "downgrade form: the catalog's price, no proration");
    free(f);
    CHECK(stripe_sub_form(&q, NULL, PROD) == NULL, "change without the item: no form");
    q.provider_product_id = NULL;
    CHECK(stripe_sub_form(&q, SI, "") == NULL, "inline price without the Stripe product: no form");
    q.provider_product_id = PRICE_MAX;
    q.amount = 0;
    CHECK(stripe_sub_form(&q, SI, PROD) == NULL, "change to a zero price: no form");
    q.amount = 4990;
    q.currency = "usd";
    CHECK(stripe_sub_form(&q, SI, PROD) == NULL, "change with a lower-case currency: no form");
    q.currency = "USD";
    q.interval = "day";
    CHECK(stripe_sub_form(&q, SI, PROD) == NULL, "change to another interval: no form");
}

static char *sub_json(const char *status, int cancel, const char *extra)
{
    return xasprintf("{\"id\":\"" SUB "\",\"object\":\"subscription\",\"status\":\"%s\",\"cancel_at_period_end\":%s,"
                     "\"currency\":\"usd\",\"metadata\":{\"order_id\":\"" ORDER "\",\"product\":\"pro_monthly\"},"
                     "\"items\":{\"object\":\"list\",\"data\":[{\"id\":\"" SI "\",\"object\":\"subscription_item\","
                     "\"current_period_start\":1700000000,\"current_period_end\":1702592000,\"price\":{\"id\":"
                     "\"" PRICE_PRO "\",\"object\":\"price\",\"currency\":\"usd\",\"product\":\"" PROD "\"}}]}%s}",
                     status, cancel ? "true" : "false", extra ? extra : "");
}

static void test_subscription_parse(void)
{
    struct stripe_subscription s;
    char *j = sub_json("active", 1, NULL);
    const char *legacy = "{\"id\":\"" SUB "\",\"object\":\"subscription\",\"status\":\"past_due\","
                         "\"current_period_start\":1700000000,\"current_period_end\":1731536000,\"metadata\":{},"
                         "\"items\":{\"data\":[{\"id\":\"" SI "\",\"price\":{\"id\":\"" PRICE_MAX "\","
                         "\"product\":{\"id\":\"my-custom-product\",\"object\":\"product\"}}}]}}";

    CHECK(stripe_subscription_parse(j, strlen(j), &s) == 0, "subscription: parsed");
    CHECK(strcmp(s.id, SUB) == 0 && strcmp(s.status, "active") == 0 && s.cancel_at_period_end == 1 &&
              s.period_start == 1700000000000LL && s.period_end == 1702592000000LL && strcmp(s.item_id, SI) == 0 &&
              strcmp(s.price_id, PRICE_PRO) == 0 && strcmp(s.stripe_product, PROD) == 0 &&
              strcmp(s.currency, "USD") == 0 && strcmp(s.order_id, ORDER) == 0 &&
              strcmp(s.product, "pro_monthly") == 0 && s.ours == 1,
          "subscription: every field, times in ms");
    free(j);
    CHECK(stripe_subscription_parse(legacy, strlen(legacy), &s) == 0, "legacy subscription: parsed");
    CHECK(s.period_end == 1731536000000LL && strcmp(s.product, "max_monthly") == 0 &&
              strcmp(s.stripe_product, "my-custom-product") == 0 && strcmp(s.currency, "") == 0 && s.ours == 0,
          "legacy subscription: top-level period, product from the catalog's price, expanded product, not ours");
    j = sub_json("active", 0, ",\"extra\":1,\"metadata\":{}");
    CHECK(stripe_subscription_parse(j, strlen(j), &s) != 0 && s.id[0] == '\0' && s.period_end == 0,
          "subscription with a duplicated key: refused, zeroed");
    free(j);
    j = sub_json("active", 0, ",\"cancel_at\":17000000000000");
    CHECK(stripe_subscription_parse(j, strlen(j), &s) != 0, "cancel_at in milliseconds: refused");
    free(j);
    CHECK(stripe_subscription_parse("{\"id\":\"sub_1\",\"items\":{\"data\":{}}}", 34, &s) != 0,
          "items.data not a list: refused");
    CHECK(stripe_subscription_parse("[]", 2, &s) != 0, "not an object: refused");
}

static struct pay_sub_res got_sub;

static void sub_done(void *arg, const struct pay_sub_res *r)
{
    (void)arg;
    got_sub = *r;
    n_done++;
}

static void run_sub(const struct pay_sub_req *r, size_t n, const struct scripted *s)
{
    scripts(n, s);
    n_done = 0;
    memset(&got_sub, 0xa5, sizeof got_sub);
    pay_stripe.subscription(NULL, r, sub_done, NULL);
}

static void test_subscription_op(void)
{
    struct pay_sub_req q;
    char *active = sub_json("active", 0, NULL), *canceling = sub_json("active", 1, NULL);
    char *canceled = sub_json("canceled", 0, NULL);
    char *eur = xasprintf("{\"id\":\"" SUB "\",\"object\":\"subscription\",\"status\":\"active\",\"currency\":\"eur\","
                          "\"items\":{\"data\":[{\"id\":\"" SI "\",\"price\":{\"id\":\"" PRICE_PRO "\"}}]}}");
    const char *no_item = "{\"id\":\"" SUB "\",\"object\":\"subscription\",\"status\":\"active\",\"items\":{\"data\":[]}}";
    const char *other = "{\"id\":\"sub_1QSomeoneElses\",\"object\":\"subscription\",\"status\":\"active\"}";
    const char *missing = "{\"error\":{\"type\":\"invalid_request_error\",\"code\":\"resource_missing\"}}";
    const char *card = "{\"error\":{\"type\":\"card_error\",\"code\":\"card_declined\"}}";

    memset(&q, 0, sizeof q);
    q.action = PAY_SUB_CANCEL;
    q.subscription_ref = SUB;
    q.sub_id = "sub_01JDZ8K6Q3V5X7Y9A1B2C3D4E7";
    q.idem_key = "subchg_cancel_1";
    run_sub(&q, 1, (struct scripted[]){{NET_OK, 200, canceling}});
    CHECK(n_done == 1 && got_sub.rc == PAY_OK && got_sub.cancel_at_period_end == 1 &&
              got_sub.period_end == 1702592000000LL && got_sub.reason[0] == '\0',
          "cancel: ok, the answer's period end and flag");
    CHECK(n_seen == 1 && strcmp(seen[0].method, "POST") == 0, "cancel: one POST");
    CHECK_STR_EQ(seen[0].url, BASE "/v1/subscriptions/" SUB, "cancel: the subscription's URL");
    CHECK_STR_EQ(seen[0].body, "cancel_at_period_end=true", "cancel: the form");
    CHECK_STR_EQ(seen_header(0, "Authorization"), "Bearer " SK, "cancel: Bearer key");
    CHECK_STR_EQ(seen_header(0, "Idempotency-Key"), "subchg_cancel_1", "cancel: the request's key");
    CHECK_STR_EQ(seen_header(0, "Content-Type"), "application/x-www-form-urlencoded", "cancel: form-encoded");
    CHECK(seen[0].idempotent == 1 && seen[0].retries == STRIPE_RETRIES && seen[0].timeout_ms == STRIPE_CALL_TIMEOUT_MS,
          "cancel: setting a flag is retried");

    q.action = PAY_SUB_RESUME;
    q.idem_key = NULL;
    run_sub(&q, 1, (struct scripted[]){{NET_OK, 200, active}});
    CHECK(got_sub.rc == PAY_OK && got_sub.cancel_at_period_end == 0, "resume: ok, no longer canceling");
    CHECK_STR_EQ(seen[0].body, "cancel_at_period_end=false", "resume: the form");
    CHECK(seen_header(0, "Idempotency-Key") == NULL && seen[0].idempotent == 1,
          "resume without a key: no header, still retried (same state twice)");

    q.action = PAY_SUB_CANCEL_NOW;
    q.idem_key = "subchg_now_1";
    run_sub(&q, 1, (struct scripted[]){{NET_OK, 200, canceled}});
    CHECK(got_sub.rc == PAY_OK, "cancel now: ok");
    CHECK(n_seen == 1 && strcmp(seen[0].method, "DELETE") == 0 && seen[0].body[0] == '\0' &&
              seen_header(0, "Idempotency-Key") == NULL,
          "cancel now: a DELETE without body or key");
    CHECK_STR_EQ(seen[0].url, BASE "/v1/subscriptions/" SUB, "cancel now: the subscription's URL");

    q.action = PAY_SUB_CHANGE;
    q.product = "max_monthly";
    q.amount = 4990;
    q.currency = "USD";
    q.interval = "month";
    q.prorate_now = 1;
    q.idem_key = "subchg_01JDZ8K6Q3V5X7Y9A1B2C3D4E8";
    run_sub(&q, 2, (struct scripted[]){{NET_OK, 200, active}, {NET_OK, 200, active}});
    CHECK(n_done == 1 && got_sub.rc == PAY_OK && got_sub.period_end == 1702592000000LL, "upgrade: ok");
    CHECK(n_seen == 2 && strcmp(seen[0].method, "GET") == 0 && strcmp(seen[1].method, "POST") == 0,
          "upgrade: the subscription, then the update");
    CHECK_STR_EQ(seen[0].url, BASE "/v1/subscriptions/" SUB, "upgrade: GET the subscription");
    CHECK(seen_header(0, "Idempotency-Key") == NULL, "upgrade: no key on the GET");
    CHECK_STR_EQ(seen[1].url, BASE "/v1/subscriptions/" SUB, "upgrade: POST the subscription");
    CHECK_STR_EQ(seen[1].body,
                 "items[0][id]=" SI "&items[0][price_data][currency]=usd&items[0][price_data][product]=" PROD
                 "&items[0][price_data][unit_amount]=4990&items[0][price_data][recurring][interval]=month"
                 "&proration_behavior=always_invoice&payment_behavior=error_if_incomplete"
                 "&metadata[product]=max_monthly",
                 "upgrade: the item and product read from the subscription");
    CHECK_STR_EQ(seen_header(1, "Idempotency-Key"), "subchg_01JDZ8K6Q3V5X7Y9A1B2C3D4E8", "upgrade: the request's key");
    CHECK(seen[1].idempotent == 1, "upgrade under a key: retried");

    q.idem_key = NULL;
    q.provider_product_id = PRICE_MAX;
    run_sub(&q, 2, (struct scripted[]){{NET_OK, 200, active}, {NET_OK, 200, active}});
    CHECK(got_sub.rc == PAY_OK && strstr(seen[1].body, "items[0][price]=" PRICE_MAX "&") != NULL &&
              seen_header(1, "Idempotency-Key") == NULL && seen[1].idempotent == 0,
          "upgrade without a key: never repeated by net (a proration charged twice is money)");
    q.provider_product_id = NULL;
    q.idem_key = "subchg_x";

    run_sub(&q, 2, (struct scripted[]){{NET_OK, 200, active}, {NET_OK, 402, card}});
    CHECK(got_sub.rc == PAY_INVALID && strcmp(got_sub.reason, "stripe_card_declined") == 0 &&
              got_sub.period_end == -1 && got_sub.cancel_at_period_end == -1,
          "upgrade whose proration the card refused: invalid, nothing reported");
    run_sub(&q, 1, (struct scripted[]){{NET_OK, 200, eur}});
    CHECK(n_seen == 1 && got_sub.rc == PAY_INVALID && strcmp(got_sub.reason, "currency_mismatch") == 0,
          "change to a price in another currency than the subscription's: no update sent");
    run_sub(&q, 1, (struct scripted[]){{NET_OK, 200, no_item}});
    CHECK(n_seen == 1 && got_sub.rc == PAY_INVALID && strcmp(got_sub.reason, "subscription_without_item") == 0,
          "change of a subscription without items: no update sent");
    run_sub(&q, 1, (struct scripted[]){{NET_OK, 200, other}});
    CHECK(n_seen == 1 && got_sub.rc == PAY_UNAVAILABLE && strcmp(got_sub.reason, "bad_answer") == 0,
          "an answer about another subscription is not this one");
    run_sub(&q, 1, (struct scripted[]){{NET_OK, 404, missing}});
    CHECK(got_sub.rc == PAY_INVALID && strcmp(got_sub.reason, "stripe_resource_missing") == 0,
          "change of a subscription Stripe does not know: invalid");
    run_sub(&q, 2, (struct scripted[]){{NET_OK, 200, active}, {NET_TIMEOUT, 0, NULL}});
    CHECK(got_sub.rc == PAY_UNAVAILABLE && strcmp(got_sub.reason, "timeout") == 0, "update timed out: unavailable");

    q.action = PAY_SUB_CANCEL;
    run_sub(&q, 1, (struct scripted[]){{NET_OK, 503, NULL}});
    CHECK(got_sub.rc == PAY_UNAVAILABLE && strcmp(got_sub.reason, "http_503") == 0, "cancel: 503 -> unavailable");
    run_sub(&q, 1, (struct scripted[]){{NET_OK, 401, NULL}});
    CHECK(got_sub.rc == PAY_MISCONFIGURED, "cancel: 401 -> misconfigured");
    run_sub(&q, 1, (struct scripted[]){{NET_OK, 404, missing}});
    CHECK(got_sub.rc == PAY_INVALID, "cancel: unknown subscription -> invalid");
    run_sub(&q, 1, (struct scripted[]){{NET_OK, 200, "{\"id\":\"" SUB "\""}});
    CHECK(got_sub.rc == PAY_UNAVAILABLE && strcmp(got_sub.reason, "bad_answer") == 0, "cancel: truncated answer");
    run_sub(&q, 1, (struct scripted[]){{NET_CONNECT, 0, NULL}});
    CHECK(got_sub.rc == PAY_UNAVAILABLE && strcmp(got_sub.reason, "connect") == 0, "cancel: connection refused");

    q.subscription_ref = "sub_../../v1/charges";
    run_sub(&q, 0, NULL);
    CHECK(n_done == 1 && n_seen == 0 && got_sub.rc == PAY_INVALID && strcmp(got_sub.reason, "no_subscription") == 0,
          "a malformed subscription id never reaches a URL");
    q.subscription_ref = "";
    run_sub(&q, 0, NULL);
    CHECK(n_done == 1 && n_seen == 0 && got_sub.rc == PAY_INVALID, "no subscription id: no call");
    q.subscription_ref = SUB;
    q.action = PAY_SUB_CHANGE;
    q.amount = -1;
    run_sub(&q, 0, NULL);
    CHECK(n_done == 1 && n_seen == 0 && got_sub.rc == PAY_INVALID, "change to a negative price: no call");
    q.amount = 4990;
    q.interval = "fortnight";
    run_sub(&q, 0, NULL);
    CHECK(n_done == 1 && n_seen == 0 && got_sub.rc == PAY_INVALID, "change to an unknown interval: no call");
    q.interval = "month";
    q.action = (enum pay_sub_action)7;
    run_sub(&q, 0, NULL);
    CHECK(n_done == 1 && n_seen == 0 && got_sub.rc == PAY_INVALID, "an unknown action: no call");
    q.action = PAY_SUB_CANCEL;
    configure(NULL, WHSEC);
    run_sub(&q, 0, NULL);
    CHECK(n_done == 1 && n_seen == 0 && got_sub.rc == PAY_MISCONFIGURED, "no secret key: misconfigured, no call");
    configure(SK, WHSEC);
    free(active);
    free(canceling);
    free(canceled);
    free(eur);
}

static void test_sub_query(void)
{
    struct order o;
    char *paid = xasprintf(
        "{\"id\":\"" CS "\",\"object\":\"checkout.session\",\"amount_total\":1990,\"currency\":\"usd\","
        "\"client_reference_id\":\"" ORDER "\",\"metadata\":{\"order_id\":\"" ORDER "\"},\"mode\":\"subscription\","
        "\"payment_intent\":null,\"invoice\":\"in_1QFake\",\"subscription\":\"" SUB "\",\"payment_status\":\"paid\","
        "\"status\":\"complete\",\"url\":null}");
    order_init(&o);
    snprintf(o.provider_ref, sizeof o.provider_ref, "%s", CS);
    o.amount = 1990;
    run_query(&o, 1, (struct scripted[]){{NET_OK, 200, paid}});
    CHECK(got_q.rc == PAY_OK && got_q.state == PAY_STATE_PAID && got_q.ev.amount == 1990 &&
              strcmp(got_q.ev.subscription_ref, SUB) == 0 && strcmp(got_q.ev.order_id, ORDER) == 0,
          "query of a plan's session: paid, with the subscription it started");
    free(paid);
}

static void test_invoice_refund(void)
{
    struct order o;
    struct pay_refund_req r;
    char id[TG_PROVIDER_REF_MAX], pi[TG_PROVIDER_REF_MAX];
    char *sess = xasprintf(
        "{\"id\":\"" CS "\",\"object\":\"checkout.session\",\"amount_total\":1990,\"currency\":\"usd\","
        "\"client_reference_id\":\"" ORDER "\",\"mode\":\"subscription\",\"payment_intent\":null,"
        "\"invoice\":\"in_1QFirst\",\"subscription\":\"" SUB "\",\"payment_status\":\"paid\",\"status\":\"complete\"}");
    const char *basil = "{\"id\":\"in_1QFirst\",\"object\":\"invoice\",\"payments\":{\"object\":\"list\",\"data\":["
                        "{\"id\":\"inpay_1\",\"object\":\"invoice_payment\",\"status\":\"canceled\",\"payment\":"
                        "{\"type\":\"payment_intent\",\"payment_intent\":\"pi_3QFailed\"}},"
                        "{\"id\":\"inpay_2\",\"object\":\"invoice_payment\",\"status\":\"paid\",\"payment\":"
                        "{\"type\":\"payment_intent\",\"payment_intent\":\"pi_3QPaid\"}}]}}";
    const char *legacy = "{\"id\":\"in_1QRenewal\",\"object\":\"invoice\",\"payment_intent\":{\"id\":\"pi_3QLegacy\","
                         "\"object\":\"payment_intent\"}}";
    const char *unpaid = "{\"id\":\"in_1QFirst\",\"object\":\"invoice\",\"payments\":{\"data\":[]}}";
    const char *re_ok = "{\"id\":\"re_3QPlan\",\"object\":\"refund\",\"amount\":500,\"currency\":\"usd\","
                        "\"status\":\"succeeded\"}";

    CHECK(stripe_invoice_pi_parse(basil, strlen(basil), id, pi) == 0 && strcmp(id, "in_1QFirst") == 0 &&
              strcmp(pi, "pi_3QPaid") == 0,
          "invoice (2025-03-31): the paid payment's intent, not the canceled attempt's");
    CHECK(stripe_invoice_pi_parse(legacy, strlen(legacy), id, pi) == 0 && strcmp(pi, "pi_3QLegacy") == 0,
          "invoice (earlier): its expanded payment_intent");
    CHECK(stripe_invoice_pi_parse(unpaid, strlen(unpaid), id, pi) == 0 && pi[0] == '\0', "invoice without payments");
    CHECK(stripe_invoice_pi_parse("{\"id\":\"in_1\",\"payment_intent\":42}", 34, id, pi) != 0 && id[0] == '\0',
          "invoice with a numeric payment_intent: malformed");
    CHECK(stripe_invoice_pi_parse("{\"id\":\"in_1\",\"payments\":{\"data\":[{\"status\":\"paid\"}]}}", 52, id, pi) != 0,
          "invoice payment without its payment: malformed");
    CHECK(stripe_invoice_pi_parse("{\"id\":\"cs_1\"}", 13, id, pi) != 0, "not an invoice id: malformed");

    order_init(&o);
    snprintf(o.provider_ref, sizeof o.provider_ref, "%s", CS);
    o.amount = 1990;
    memset(&r, 0, sizeof r);
    r.order = &o;
    r.refund_id = REFUND;
    r.amount = 500;
    r.reason = "";
    run_refund(&r, 3, (struct scripted[]){{NET_OK, 200, sess}, {NET_OK, 200, basil}, {NET_OK, 200, re_ok}});
    CHECK(n_done == 1 && got_rf.rc == PAY_OK && strcmp(got_rf.provider_refund_id, "re_3QPlan") == 0,
          "refund of a plan's first order: ok");
    CHECK(n_seen == 3 && strcmp(seen[1].method, "GET") == 0, "the session, its invoice, the refund");
    CHECK_STR_EQ(seen[1].url, BASE "/v1/invoices/in_1QFirst?expand%5B%5D=payments", "the invoice with its payments");
    CHECK_STR_EQ(seen[2].body, "payment_intent=pi_3QPaid&amount=500&metadata[refund_id]=" REFUND "&metadata[order_id]=" ORDER,
                 "the refund of the invoice's payment intent");
    run_refund(&r, 2, (struct scripted[]){{NET_OK, 200, sess}, {NET_OK, 200, legacy}});
    CHECK(n_seen == 2 && got_rf.rc == PAY_UNAVAILABLE && strcmp(got_rf.reason, "invoice_mismatch") == 0,
          "an answer about another invoice: no refund");
    run_refund(&r, 2, (struct scripted[]){{NET_OK, 200, sess}, {NET_OK, 200, unpaid}});
    CHECK(n_seen == 2 && got_rf.rc == PAY_DECLINED && strcmp(got_rf.reason, "not_paid") == 0,
          "an invoice nothing paid: declined");

    snprintf(o.provider_ref, sizeof o.provider_ref, "in_1QRenewal");
    run_refund(&r, 2, (struct scripted[]){{NET_OK, 200, legacy}, {NET_OK, 200, re_ok}});
    CHECK(got_rf.rc == PAY_OK && n_seen == 2, "refund of a renewal order: its invoice, then the refund");
    CHECK_STR_EQ(seen[0].url, BASE "/v1/invoices/in_1QRenewal?expand%5B%5D=payments", "the renewal's invoice");
    run_refund(&r, 1, (struct scripted[]){{NET_OK, 404, "{\"error\":{\"code\":\"resource_missing\"}}"}});
    CHECK(got_rf.rc == PAY_INVALID, "an invoice Stripe does not know: invalid");
    snprintf(o.provider_ref, sizeof o.provider_ref, "in_../../v1/x");
    run_refund(&r, 0, NULL);
    CHECK(n_done == 1 && n_seen == 0 && got_rf.rc == PAY_INVALID, "a malformed invoice id never reaches a URL");
    free(sess);
}

static void test_error_rc(void)
{
    char reason[64];
    const char *card;
    CHECK(stripe_error_rc(401, NULL, 0, reason) == PAY_MISCONFIGURED && strcmp(reason, "http_401") == 0,
          "401");
    CHECK(stripe_error_rc(403, "x", 1, reason) == PAY_MISCONFIGURED, "403");
    CHECK(stripe_error_rc(404, NULL, 0, reason) == PAY_NOTFOUND, "404");
    card = "{\"error\":{\"type\":\"card_error\",\"code\":\"card_declined\"}}";
    CHECK(stripe_error_rc(402, card, strlen(card), reason) == PAY_DECLINED &&
              strcmp(reason, "stripe_card_declined") == 0,
          "402 card_declined");
    CHECK(stripe_error_rc(409, NULL, 0, reason) == PAY_INVALID, "409");
    CHECK(stripe_error_rc(429, NULL, 0, reason) == PAY_UNAVAILABLE, "429");
    CHECK(stripe_error_rc(502, NULL, 0, reason) == PAY_UNAVAILABLE, "502");
    CHECK(stripe_error_rc(302, NULL, 0, reason) == PAY_UNAVAILABLE, "a redirect is no answer");
    {
        char code[200];
        memset(code, 'a', sizeof code);
        snprintf(code, sizeof code, "{\"error\":{\"code\":\"%0120d\"}}", 0);
        CHECK(stripe_error_rc(400, code, strlen(code), reason) == PAY_INVALID &&
                  strcmp(reason, "http_400") == 0,
              "an overlong error code is not copied");
    }
}

/* Every call path at debug level with stderr captured: neither the secret key nor the webhook
 * secret may appear in a log line. */
static void test_no_secrets_logged(void)
{
    char path[600], buf[65536];
    int saved = dup(2), fd;
    ssize_t n;
    snprintf(path, sizeof path, "%s/stderr.txt", tmp_root);
    fd = open(path, O_CREAT | O_TRUNC | O_RDWR, 0600);
    fflush(stderr);
    dup2(fd, 2);
    log_set_level("debug");
    test_checkout();
    test_query();
    test_refund();
    test_subscription_op();
    {
        struct pay_webhook_res res;
        verify(WHSEC, "t=1,v1=00", "{}", 2, 1, &res);
    }
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    lseek(fd, 0, SEEK_SET);
    n = read(fd, buf, sizeof buf - 1);
    close(fd);
    buf[n > 0 ? n : 0] = '\0';
    CHECK(n > 0 && strstr(buf, "stripe_call_failed") != NULL, "the failures were logged (%zd bytes)", n);
    CHECK(strstr(buf, SK) == NULL && strstr(buf, "sk_test_") == NULL, "the secret key is never logged");
    CHECK(strstr(buf, WHSEC) == NULL, "the webhook secret is never logged");
    CHECK(strstr(buf, "Bearer") == NULL, "no Authorization header is logged");
    log_set_level("error");
}

int main(void)
{
    if (sodium_init() < 0 || mkdtemp(tmp_root) == NULL)
        return 1;
    configure(SK, WHSEC);
    catalog_setup();
    test_vectors();
    test_webhook_attacks();
    test_sig_parse();
    test_forms();
    test_checkout();
    test_query();
    test_refund();
    test_sub_forms();
    test_subscription_parse();
    test_subscription_op();
    test_sub_query();
    test_invoice_refund();
    test_error_rc();
    test_no_secrets_logged();
    json_decref(vectors);
    config_free();
    {
        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_root);
        if (system(cmd) != 0)
            printf("# could not remove %s\n", tmp_root);
    }
    return test_done();
}
