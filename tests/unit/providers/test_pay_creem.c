/*
 * Unit tests for src/providers/pay/creem.c (included here, h2o style, with a scripted
 * stand-in for net.h, so every path runs without a network):
 *   - notifications against data/creem/webhooks.json, made by tests/fakes/gen_creem_vectors.mjs
 *     with the `standardwebhooks` and `creem` npm packages (each case also records the creem
 *     SDK's verdict, which ours must share unless the case says why not), plus attacker
 *     cases built here (oversized body and headers, a missing secret);
 *   - checkout, query and refund call by call: the request (URL, method, headers, body,
 *     retry policy) and every kind of answer;
 *   - nothing secret in the log.
 */
#include "../test.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <sodium.h>

#include "providers/pay/creem.c"

/* ---- a scripted net ---------------------------------------------------------------- */

struct scripted {
    enum net_err err;
    long status;
    const char *body; /* NULL: no body */
};

struct seen_call {
    char method[8];
    char url[2048];
    char headers[4][512];
    size_t n_headers;
    char body[4096];
    int idempotent, retries, timeout_ms;
};

static struct scripted script[4];
static size_t n_script, script_pos;
static struct seen_call seen[4];
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
    if (content_type != NULL)
        net_call_header(c, "Content-Type", content_type);
    c->body = xstrndup(body, len);
    c->body_len = len;
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
    struct seen_call *s = &seen[n_seen < 4 ? n_seen : 3];
    (void)ex;
    n_seen++;
    memset(s, 0, sizeof *s);
    snprintf(s->method, sizeof s->method, "%s", c->method);
    snprintf(s->url, sizeof s->url, "%s", c->url);
    for (size_t i = 0; i < c->n_headers && i < 4; i++)
        snprintf(s->headers[s->n_headers++], sizeof s->headers[0], "%s", c->headers[i]);
    snprintf(s->body, sizeof s->body, "%s", c->body ? c->body : "");
    s->idempotent = c->idempotent;
    s->retries = c->retries;
    s->timeout_ms = c->timeout_ms;
    if (script_pos < n_script) {
        const struct scripted *a = &script[script_pos++];
        c->err = a->err;
        c->status = a->status;
        if (a->body != NULL) {
            /* Exactly the answer's bytes (+ NUL, as net.h promises): ASan sees overreads. */
            c->resp_len = strlen(a->body);
            c->resp_body = xmalloc(c->resp_len + 1);
            memcpy(c->resp_body, a->body, c->resp_len + 1);
        }
    } else {
        c->err = NET_CONNECT; /* an unscripted call: nobody is listening */
    }
    c->attempts = 1;
    done(c);
}

/* registry.c's, which this test does not link (it would pull every provider in). */
const char *pay_rc_name(enum pay_rc rc)
{
    static const char *names[] = {"ok",        "ignored",     "invalid",      "declined",
                                  "not_found", "unavailable", "misconfigured"};
    return (unsigned)rc < 7 ? names[rc] : "unknown";
}

static void scripted_answers(const struct scripted *a, size_t n)
{
    if (n > 0) /* memcpy from NULL is undefined even for 0 bytes (UBSan says so) */
        memcpy(script, a, n * sizeof *a);
    n_script = n;
    script_pos = 0;
    n_seen = 0;
}

static int seen_header(const struct seen_call *s, const char *line)
{
    for (size_t i = 0; i < s->n_headers; i++)
        if (strcmp(s->headers[i], line) == 0)
            return 1;
    return 0;
}

/* ---- configuration ------------------------------------------------------------------ */

static char tmp_root[] = "/tmp/tg_test_pay_creem.XXXXXX";
#define API_KEY "creem_test_K3yThatMustN0tBeLogged"
#define API_BASE "https://test-api.creem.example"

static void configure(const char *api_key, const char *secret)
{
    char dir[600], *err = NULL;
    static int seq;
    unsetenv("TG_CREEM_API_KEY");
    unsetenv("TG_CREEM_WEBHOOK_SECRET");
    snprintf(dir, sizeof dir, "%s/d%d", tmp_root, ++seq);
    setenv("TG_DATA_DIR", dir, 1);
    setenv("TG_LOG_LEVEL", "debug", 1);
    setenv("TG_CREEM_API_BASE", API_BASE "/", 1); /* the trailing slash goes */
    if (api_key)
        setenv("TG_CREEM_API_KEY", api_key, 1);
    if (secret)
        setenv("TG_CREEM_WEBHOOK_SECRET", secret, 1);
    config_free();
    if (config_load(NULL, &err) != 0) {
        printf("Bail out! config_load: %s\n", err);
        exit(1);
    }
}

/* ---- notifications against the SDK-made vectors -------------------------------------- */

struct hdrs {
    json_t *obj;
};

static const char *hdr_get(void *hctx, const char *lname)
{
    struct hdrs *h = hctx;
    return json_string_value(json_object_get(h->obj, lname));
}

static void webhook_done(void *arg, const struct pay_webhook_res *res)
{
    *(struct pay_webhook_res *)arg = *res;
}

static const char *kind_name(enum pay_event_kind k)
{
    switch (k) {
    case PAY_EVENT_PAID:
        return "paid";
    case PAY_EVENT_FAILED:
        return "failed";
    case PAY_EVENT_REFUND:
        return "refund";
    case PAY_EVENT_SUB_PERIOD:
        return "sub_period";
    case PAY_EVENT_SUB_PAST_DUE:
        return "sub_past_due";
    case PAY_EVENT_SUB_STATE:
        return "sub_state";
    case PAY_EVENT_SUB_ENDED:
        return "sub_ended";
    }
    return "?";
}

/* A string the vector expects, "" when it names none. */
static const char *exp_str(const json_t *exp, const char *key)
{
    const char *v = json_string_value(json_object_get(exp, key));
    return v != NULL ? v : "";
}

/* The catalog the vectors assume: two plans sold through Creem as prod_pro_monthly and
 * prod_max_monthly, and a pack as prod_115 (a pack is never a subscription's product). */
static void load_catalog(void)
{
    static const char doc[] =
        "{\"packs\": [{\"id\": \"credits_115\", \"credits\": 115, \"prices\": {\"USD\": 990},"
        " \"creem_product_id\": \"prod_115\"}],"
        " \"plans\": ["
        "  {\"id\": \"pro\", \"credits_per_month\": 300, \"periods\": ["
        "    {\"id\": \"pro_monthly\", \"period\": \"month\", \"prices\": {\"USD\": 1990},"
        "     \"creem_product_id\": \"prod_pro_monthly\"},"
        "    {\"id\": \"pro_yearly\", \"period\": \"year\", \"prices\": {\"USD\": 19900}}]},"
        "  {\"id\": \"max\", \"credits_per_month\": 900, \"periods\": ["
        "    {\"id\": \"max_monthly\", \"period\": \"month\", \"prices\": {\"USD\": 4990},"
        "     \"creem_product_id\": \"prod_max_monthly\"}]}]}";
    char path[600], *err = NULL;
    FILE *f;

    snprintf(path, sizeof path, "%s/catalog.json", tmp_root);
    f = fopen(path, "w");
    if (f == NULL || fputs(doc, f) < 0 || fclose(f) != 0) {
        printf("Bail out! cannot write %s\n", path);
        exit(1);
    }
    if (catalog_init(path, &err) != 0) {
        printf("Bail out! catalog_init: %s\n", err);
        exit(1);
    }
}

static void test_vectors(void)
{
    char path[1024];
    const char *dir = getenv("TEST_DATA_DIR");
    json_error_t jerr;
    json_t *root, *cases, *c;
    int64_t now_ms;
    const char *secret;
    size_t i;
    int n_sdk = 0;

    snprintf(path, sizeof path, "%s/creem/webhooks.json", dir ? dir : "tests/unit/providers/data");
    root = json_load_file(path, 0, &jerr);
    CHECK(root != NULL, "vectors load from %s (%s)", path, root ? "ok" : jerr.text);
    if (root == NULL)
        return;
    now_ms = json_integer_value(json_object_get(root, "now_ms"));
    secret = json_string_value(json_object_get(root, "secret"));
    cases = json_object_get(root, "cases");
    CHECK(json_array_size(cases) >= 60, "at least 60 vectors (%zu)", json_array_size(cases));
    json_array_foreach(cases, i, c)
    {
        const char *name = json_string_value(json_object_get(c, "name"));
        const char *body = json_string_value(json_object_get(c, "body"));
        const char *csecret = json_string_value(json_object_get(c, "secret"));
        json_t *exp = json_object_get(c, "expect");
        const char *want_rc = json_string_value(json_object_get(exp, "rc"));
        const char *want_reason = json_string_value(json_object_get(exp, "reason"));
        const char *differs = json_string_value(json_object_get(c, "differs_from_sdk"));
        int sdk = json_is_true(json_object_get(c, "sdk"));
        struct hdrs h = {json_object_get(c, "headers")};
        struct pay_webhook_req req = {body, strlen(body), hdr_get, &h, now_ms};
        struct pay_webhook_res res;
        int sig_level;

        creem_pay_verify(&req, csecret ? csecret : secret, &res);
        CHECK_STR_EQ(pay_rc_name(res.rc), want_rc, "%s: rc", name);
        CHECK_STR_EQ(res.reason, want_reason ? want_reason : "", "%s: reason", name);
        /* The signature verdict is the creem SDK's, except where the case says why not. */
        sig_level = strncmp(res.reason, "signature_", 10) == 0 ||
                    strncmp(res.reason, "timestamp_", 10) == 0 || strncmp(res.reason, "webhook_", 8) == 0;
        if (differs == NULL) {
            CHECK(sig_level == !sdk, "%s: the creem SDK %s the signature, and so do we", name,
                  sdk ? "accepts" : "refuses");
            n_sdk++;
        } else {
            CHECK(sdk && sig_level, "%s: refused although the creem SDK accepts it (%s)", name, differs);
        }
        if (res.rc == PAY_OK) {
            const char *kind = json_string_value(json_object_get(exp, "kind"));
            CHECK_STR_EQ(kind_name(res.ev.kind), kind, "%s: kind", name);
            CHECK_STR_EQ(res.ev.subscription_ref, exp_str(exp, "subscription_ref"), "%s: subscription ref", name);
            CHECK_STR_EQ(res.ev.invoice_ref, exp_str(exp, "invoice_ref"), "%s: invoice ref", name);
            CHECK_INT_EQ(res.ev.period_start, json_integer_value(json_object_get(exp, "period_start")),
                         "%s: period start", name);
            CHECK_INT_EQ(res.ev.period_end, json_integer_value(json_object_get(exp, "period_end")), "%s: period end",
                         name);
            CHECK_STR_EQ(res.ev.product, exp_str(exp, "product"), "%s: product", name);
            CHECK_INT_EQ(res.ev.cancel_at_period_end,
                         json_integer_value(json_object_get(exp, "cancel_at_period_end")),
                         "%s: cancel at period end", name);
            CHECK_STR_EQ(res.ev.event_id, json_string_value(json_object_get(exp, "event_id")), "%s: event id",
                         name);
            CHECK_STR_EQ(res.ev.order_id, json_string_value(json_object_get(exp, "order_id")), "%s: order id",
                         name);
            CHECK_STR_EQ(res.ev.provider_ref, json_string_value(json_object_get(exp, "provider_ref")),
                         "%s: provider ref", name);
            CHECK_INT_EQ(res.ev.amount, json_integer_value(json_object_get(exp, "amount")), "%s: amount",
                         name);
            CHECK_STR_EQ(res.ev.currency, json_string_value(json_object_get(exp, "currency")), "%s: currency",
                         name);
            CHECK_STR_EQ(res.ev.provider_refund_id,
                         json_string_value(json_object_get(exp, "provider_refund_id"))
                             ? json_string_value(json_object_get(exp, "provider_refund_id"))
                             : "",
                         "%s: provider refund id", name);
            CHECK_STR_EQ(res.ev.refund_id, "", "%s: Creem carries no refund id of ours", name);
        } else {
            static const struct pay_event zero;
            CHECK(memcmp(&res.ev, &zero, sizeof zero) == 0, "%s: nothing reported", name);
        }
        /* The vtable operation says the same with the configured secret. */
        if (csecret == NULL && i % 8 == 0) {
            struct pay_webhook_res via;
            pay_creem.verify_webhook(NULL, &req, webhook_done, &via);
            CHECK(via.rc == res.rc && strcmp(via.reason, res.reason) == 0, "%s: verify_webhook agrees", name);
        }
    }
    CHECK(n_sdk >= 60, "%d verdicts shared with the creem SDK", n_sdk);
    json_decref(root);
}

/* Headers set by name for the cases built here. */
static const char *h_id, *h_ts, *h_sig, *h_legacy;
static const char *hdr_fixed(void *hctx, const char *lname)
{
    (void)hctx;
    if (strcmp(lname, "webhook-id") == 0)
        return h_id;
    if (strcmp(lname, "webhook-timestamp") == 0)
        return h_ts;
    if (strcmp(lname, "webhook-signature") == 0)
        return h_sig;
    if (strcmp(lname, "creem-signature") == 0)
        return h_legacy;
    return NULL;
}

#define SECRET "whsec_dG9sbGdhdGUgY3JlZW0gdGVzdCBrZXksIDMyIGJ5dGVz"
#define NOW_S 1764400000

/* A Standard Webhooks signature header for (id, ts, body) with SECRET, made with our own
 * primitives (the vectors above pin them to the npm packages). */
static char *std_sign(const char *id, const char *ts, const char *body, size_t len)
{
    unsigned char key[64], mac[32];
    char b64[64];
    long klen = creem_secret_key(SECRET, key, sizeof key);
    struct sbuf m = {0};
    sbuf_printf(&m, "%s.%s.", id, ts);
    sbuf_append(&m, body, len);
    hmac_sha256(key, (size_t)klen, m.data, m.len, mac);
    sbuf_free(&m);
    b64_encode(mac, sizeof mac, b64);
    return xasprintf("v1,%s", b64);
}

static struct pay_webhook_res verify_fixed(const char *body, size_t len, const char *secret)
{
    struct pay_webhook_req req = {body, len, hdr_fixed, NULL, (int64_t)NOW_S * 1000};
    struct pay_webhook_res res;
    creem_pay_verify(&req, secret, &res);
    return res;
}

static void test_attacks(void)
{
    const char *body =
        "{\"id\":\"evt_1\",\"eventType\":\"checkout.completed\",\"object\":{\"id\":\"ch_1\",\"request_id\":"
        "\"ord_1\",\"order\":{\"status\":\"paid\",\"amount\":990,\"currency\":\"USD\"}}}";
    char ts[24], *sig, *big;
    struct pay_webhook_res r;
    size_t blen;

    snprintf(ts, sizeof ts, "%d", NOW_S);
    sig = std_sign("msg_1", ts, body, strlen(body));
    h_id = "msg_1", h_ts = ts, h_sig = sig, h_legacy = NULL;
    r = verify_fixed(body, strlen(body), SECRET);
    CHECK(r.rc == PAY_OK && strcmp(r.ev.order_id, "ord_1") == 0, "our own signature verifies (%s)", r.reason);

    /* PROVIDERS.md 11, vector 9: the legacy signature of a known body and secret. */
    {
        const char *b9 = "{\"id\":\"evt_1\",\"eventType\":\"checkout.completed\"}";
        h_id = h_ts = h_sig = NULL;
        h_legacy = "104113ca5239a4efdcbed12ebe2eb95b0d839a84162ada28528a44b62d9d0aa3";
        r = verify_fixed(b9, strlen(b9), "whsec_test");
        CHECK(r.rc == PAY_INVALID && strcmp(r.reason, "body_malformed") == 0,
              "PROVIDERS.md vector 9 verifies (then has no object: %s)", r.reason);
        h_legacy = "104113ca5239a4efdcbed12ebe2eb95b0d839a84162ada28528a44b62d9d0aa4";
        r = verify_fixed(b9, strlen(b9), "whsec_test");
        CHECK_STR_EQ(r.reason, "signature_mismatch", "vector 9 with its last bit changed is refused");
    }
    h_id = "msg_1", h_ts = ts, h_sig = sig, h_legacy = NULL;

    r = verify_fixed(body, strlen(body), NULL);
    CHECK(r.rc == PAY_MISCONFIGURED && strcmp(r.reason, "webhook_secret_missing") == 0,
          "no secret: misconfigured");
    r = verify_fixed(body, strlen(body), "");
    CHECK(r.rc == PAY_MISCONFIGURED, "empty secret: misconfigured");

    /* A body over the limit is refused before any work, however well signed. */
    blen = CREEM_MAX_BODY + 1;
    big = xmalloc(blen);
    memset(big, ' ', blen);
    memcpy(big, body, strlen(body));
    free(sig);
    sig = std_sign("msg_1", ts, big, blen);
    h_sig = sig;
    r = verify_fixed(big, blen, SECRET);
    CHECK(r.rc == PAY_INVALID && strcmp(r.reason, "body_too_large") == 0, "a body over %d bytes is refused",
          CREEM_MAX_BODY);
    free(sig);
    sig = std_sign("msg_1", ts, big, blen - 1);
    h_sig = sig;
    r = verify_fixed(big, blen - 1, SECRET);
    CHECK(r.rc == PAY_OK, "a body of exactly %d bytes is taken (%s)", CREEM_MAX_BODY, r.reason);
    free(big);
    free(sig);

    /* Headers out of bounds. */
    {
        char longid[CREEM_WEBHOOK_ID_MAX + 2], *s2, longsig[CREEM_SIG_HEADER_MAX + 64];
        memset(longid, 'm', sizeof longid - 1);
        longid[sizeof longid - 1] = '\0';
        s2 = std_sign(longid, ts, body, strlen(body));
        h_id = longid, h_sig = s2;
        r = verify_fixed(body, strlen(body), SECRET);
        CHECK_STR_EQ(r.reason, "webhook_id_malformed", "a webhook-id over %d bytes is refused",
                     CREEM_WEBHOOK_ID_MAX);
        longid[CREEM_WEBHOOK_ID_MAX] = '\0';
        free(s2);
        s2 = std_sign(longid, ts, body, strlen(body));
        h_sig = s2;
        r = verify_fixed(body, strlen(body), SECRET);
        CHECK(r.rc == PAY_OK, "a webhook-id of %d bytes is taken", CREEM_WEBHOOK_ID_MAX);
        free(s2);
        s2 = std_sign("msg 1", ts, body, strlen(body));
        h_id = "msg 1", h_sig = s2;
        r = verify_fixed(body, strlen(body), SECRET);
        CHECK_STR_EQ(r.reason, "webhook_id_malformed", "a webhook-id with a space is refused");
        free(s2);

        sig = std_sign("msg_1", ts, body, strlen(body));
        h_id = "msg_1";
        memset(longsig, ' ', sizeof longsig);
        memcpy(longsig + sizeof longsig - 1 - strlen(sig), sig, strlen(sig) + 1);
        h_sig = longsig;
        r = verify_fixed(body, strlen(body), SECRET);
        CHECK_STR_EQ(r.reason, "signature_malformed", "a webhook-signature over %d bytes is refused",
                     CREEM_SIG_HEADER_MAX);
        h_sig = sig;
        h_ts = "1764400000000";
        r = verify_fixed(body, strlen(body), SECRET);
        CHECK_STR_EQ(r.reason, "timestamp_malformed", "a 13-digit (milliseconds) timestamp is refused");
        h_ts = "";
        r = verify_fixed(body, strlen(body), SECRET);
        CHECK_STR_EQ(r.reason, "timestamp_malformed", "an empty timestamp is refused");
        h_ts = "-1764400000";
        r = verify_fixed(body, strlen(body), SECRET);
        CHECK_STR_EQ(r.reason, "timestamp_malformed", "a signed timestamp is refused");
        h_ts = ts;
        h_sig = "v1,";
        r = verify_fixed(body, strlen(body), SECRET);
        CHECK_STR_EQ(r.reason, "signature_mismatch", "an empty v1 signature matches nothing");
        h_sig = "   ";
        r = verify_fixed(body, strlen(body), SECRET);
        CHECK_STR_EQ(r.reason, "signature_mismatch", "blanks match nothing");
        free(sig);
    }
    /* A legacy signature does not stand in for a Standard Webhooks one that failed. */
    {
        char hex[65];
        unsigned char mac[32];
        hmac_sha256(SECRET, strlen(SECRET), body, strlen(body), mac);
        hex_encode(mac, sizeof mac, hex);
        h_id = "msg_1", h_ts = "1764300000", h_sig = "v1,AAAA", h_legacy = hex;
        r = verify_fixed(body, strlen(body), SECRET);
        CHECK_STR_EQ(r.reason, "timestamp_out_of_tolerance",
                     "stale standard headers fail even with a good legacy one");
        h_id = h_ts = h_sig = NULL;
        r = verify_fixed(body, strlen(body), SECRET);
        CHECK(r.rc == PAY_OK, "the legacy signature alone verifies");
        hex[64] = '\0';
        {
            char padded[80];
            snprintf(padded, sizeof padded, " %s", hex);
            h_legacy = padded;
            r = verify_fixed(body, strlen(body), SECRET);
            CHECK_STR_EQ(r.reason, "signature_malformed", "a legacy signature with a blank is malformed");
        }
        h_legacy = NULL;
    }
    /* A NUL inside the body: jansson refuses it, after a signature over all the bytes. */
    {
        char nb[] = "{\"id\":\"evt_1\",\"eventType\":\"x\",\"object\":{}}\0{}";
        size_t nlen = sizeof nb - 1;
        char *s3 = std_sign("msg_1", ts, nb, nlen);
        h_id = "msg_1", h_ts = ts, h_sig = s3;
        r = verify_fixed(nb, nlen, SECRET);
        CHECK_STR_EQ(r.reason, "body_not_json", "a NUL byte in the body is not JSON");
        r = verify_fixed(nb, strlen(nb), SECRET);
        CHECK_STR_EQ(r.reason, "signature_mismatch", "the signature covers the bytes after a NUL");
        free(s3);
    }
    h_id = h_ts = h_sig = h_legacy = NULL;
}

/* ---- checkout ------------------------------------------------------------------------ */

static struct order test_order(void)
{
    struct order o;
    memset(&o, 0, sizeof o);
    snprintf(o.id, sizeof o.id, "ord_01JDCREEM0000000000000001");
    snprintf(o.user_id, sizeof o.user_id, "usr_1");
    snprintf(o.product, sizeof o.product, "credits_115");
    o.amount = 990;
    snprintf(o.currency, sizeof o.currency, "USD");
    snprintf(o.provider, sizeof o.provider, "creem");
    snprintf(o.status, sizeof o.status, "pending");
    return o;
}

static void checkout_done_cb(void *arg, const struct pay_checkout_res *res)
{
    *(struct pay_checkout_res *)arg = *res;
}

static struct pay_checkout_res run_checkout(const char *product_id, const char *email,
                                            const struct scripted *a, size_t n)
{
    struct order o = test_order();
    struct pay_checkout_req req = {0};
    struct pay_checkout_res res;
    req.order = &o;
    req.description = "115 credits";
    req.channel = "";
    req.notify_url = "http://127.0.0.1:8080/api/v1/webhooks/creem";
    req.return_url = "http://127.0.0.1:8080/api/v1/orders/ord_01JDCREEM0000000000000001/return";
    req.cancel_url = "http://127.0.0.1:8080/";
    req.email = email;
    req.provider_product_id = product_id;
    scripted_answers(a, n);
    memset(&res, 0x5a, sizeof res);
    pay_creem.checkout(NULL, &req, checkout_done_cb, &res);
    return res;
}

#define CH_OK                                                                                                \
    "{\"id\":\"ch_4l0N34kxo16AhRKUHFUuXr\",\"mode\":\"test\",\"object\":\"checkout\",\"status\":"            \
    "\"pending\","                                                                                           \
    "\"request_id\":\"ord_01JDCREEM0000000000000001\",\"product\":\"prod_115\",\"units\":1,"                 \
    "\"checkout_url\":\"https://creem.io/test/checkout/prod_115/ch_4l0N34kxo16AhRKUHFUuXr\"}"

static void test_checkout(void)
{
    struct pay_checkout_res r;
    json_t *b;

    configure(API_KEY, SECRET);
    CHECK(pay_creem.configured(), "configured with a key and a secret");
    {
        struct scripted a[] = {{NET_OK, 200, CH_OK}};
        r = run_checkout("prod_115", "buyer@example.com", a, 1);
    }
    CHECK(r.rc == PAY_OK, "checkout: ok (%s)", r.reason);
    CHECK_STR_EQ(r.provider_ref, "ch_4l0N34kxo16AhRKUHFUuXr", "checkout: provider_ref is the checkout id");
    CHECK_STR_EQ(r.checkout,
                 "{\"url\":\"https://creem.io/test/checkout/prod_115/ch_4l0N34kxo16AhRKUHFUuXr\"}",
                 "checkout: {\"url\": checkout_url}");
    CHECK_INT_EQ(n_seen, 1, "checkout: one call");
    CHECK_STR_EQ(seen[0].method, "POST", "checkout: POST");
    CHECK_STR_EQ(seen[0].url, API_BASE "/v1/checkouts", "checkout: URL");
    CHECK(seen_header(&seen[0], "x-api-key: " API_KEY), "checkout: x-api-key");
    CHECK(seen_header(&seen[0], "Content-Type: application/json"), "checkout: JSON body");
    CHECK(seen[0].idempotent == 0, "checkout: never retried (Creem has no idempotency key)");
    b = json_loads(seen[0].body, JSON_REJECT_DUPLICATES, NULL);
    CHECK(b != NULL && json_object_size(b) == 5, "checkout: five members (%s)", seen[0].body);
    CHECK_STR_EQ(json_string_value(json_object_get(b, "product_id")), "prod_115", "checkout: product_id");
    CHECK_STR_EQ(json_string_value(json_object_get(b, "request_id")), "ord_01JDCREEM0000000000000001",
                 "checkout: request_id is our order id");
    CHECK_STR_EQ(json_string_value(json_object_get(b, "success_url")),
                 "http://127.0.0.1:8080/api/v1/orders/ord_01JDCREEM0000000000000001/return",
                 "checkout: success_url is the return URL");
    CHECK_STR_EQ(json_string_value(json_object_get(json_object_get(b, "metadata"), "order_id")),
                 "ord_01JDCREEM0000000000000001", "checkout: metadata.order_id");
    CHECK(json_object_size(json_object_get(b, "customer")) == 1, "checkout: customer has the email alone");
    CHECK_STR_EQ(json_string_value(json_object_get(json_object_get(b, "customer"), "email")),
                 "buyer@example.com", "checkout: customer.email");
    json_decref(b);

    {
        struct scripted a[] = {{NET_OK, 201, CH_OK}};
        r = run_checkout("prod_115", NULL, a, 1);
    }
    CHECK(r.rc == PAY_OK, "checkout: 201 is a success too");
    b = json_loads(seen[0].body, 0, NULL);
    CHECK(json_object_get(b, "customer") == NULL && json_object_size(b) == 4,
          "checkout: no email, no customer");
    json_decref(b);

    r = run_checkout(NULL, NULL, NULL, 0);
    CHECK(r.rc == PAY_MISCONFIGURED && strcmp(r.reason, "creem_product_id_missing") == 0 && n_seen == 0,
          "checkout: no creem_product_id -> misconfigured, no call");
    r = run_checkout("", NULL, NULL, 0);
    CHECK(r.rc == PAY_MISCONFIGURED && n_seen == 0, "checkout: empty creem_product_id -> misconfigured");

    {
        static const struct {
            struct scripted a;
            enum pay_rc rc;
            const char *reason;
        } t[] = {
            {{NET_OK, 401, "{\"statusCode\":401,\"message\":\"Unauthorized\"}"},
             PAY_MISCONFIGURED,
             "http_401"},
            {{NET_OK, 403, NULL}, PAY_MISCONFIGURED, "http_403"},
            {{NET_OK, 404, "{\"statusCode\":404,\"message\":\"Product not found\"}"},
             PAY_MISCONFIGURED,
             "http_404"},
            {{NET_OK, 400, "{\"statusCode\":400,\"message\":[\"bad\"]}"}, PAY_INVALID, "http_400"},
            {{NET_OK, 422, NULL}, PAY_INVALID, "http_422"},
            {{NET_OK, 429, NULL}, PAY_UNAVAILABLE, "http_429"},
            {{NET_OK, 500, NULL}, PAY_UNAVAILABLE, "http_500"},
            {{NET_OK, 503, "<html>"}, PAY_UNAVAILABLE, "http_503"},
            {{NET_OK, 302, NULL}, PAY_UNAVAILABLE, "http_302"},
            {{NET_TIMEOUT, 0, NULL}, PAY_UNAVAILABLE, "timeout"},
            {{NET_CONNECT, 0, NULL}, PAY_UNAVAILABLE, "connect"},
            {{NET_OK, 200, "not json"}, PAY_UNAVAILABLE, "response_malformed"},
            {{NET_OK, 200, NULL}, PAY_UNAVAILABLE, "response_malformed"},
            {{NET_OK, 200, "{\"id\":\"ch_1\"}"}, PAY_UNAVAILABLE, "response_malformed"},
            {{NET_OK, 200, "{\"checkout_url\":\"https://creem.io/x\"}"},
             PAY_UNAVAILABLE,
             "response_malformed"},
            {{NET_OK, 200, "{\"id\":\"ch_1\",\"checkout_url\":\"javascript:alert(1)\"}"},
             PAY_UNAVAILABLE,
             "response_malformed"},
            {{NET_OK, 200, "{\"id\":\"ch_1\",\"checkout_url\":\"https://creem.io/a b\"}"},
             PAY_UNAVAILABLE,
             "response_malformed"},
            {{NET_OK, 200, "{\"id\":\"ch 1\",\"checkout_url\":\"https://creem.io/x\"}"},
             PAY_UNAVAILABLE,
             "response_malformed"},
            {{NET_OK, 200,
              "{\"id\":\"ch_1\",\"checkout_url\":\"https://creem.io/x\",\"request_id\":\"ord_other\"}"},
             PAY_UNAVAILABLE,
             "response_mismatch"},
            {{NET_OK, 200, "{\"id\":\"ch_1\",\"id\":\"ch_2\",\"checkout_url\":\"https://creem.io/x\"}"},
             PAY_UNAVAILABLE,
             "response_malformed"},
        };
        for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
            r = run_checkout("prod_115", NULL, &t[i].a, 1);
            CHECK(r.rc == t[i].rc && strcmp(r.reason, t[i].reason) == 0 && r.provider_ref[0] == '\0' &&
                      r.checkout[0] == '\0',
                  "checkout answer %zu (status %ld): %s %s (got %s %s)", i, t[i].a.status,
                  pay_rc_name(t[i].rc), t[i].reason, pay_rc_name(r.rc), r.reason);
        }
    }
    {
        /* A URL too long for the order's checkout column. */
        struct sbuf big = {0};
        struct scripted a[1];
        sbuf_puts(&big, "{\"id\":\"ch_1\",\"checkout_url\":\"https://creem.io/");
        for (int i = 0; i < TG_CHECKOUT_MAX; i++)
            sbuf_append(&big, "a", 1);
        sbuf_puts(&big, "\"}");
        a[0] = (struct scripted){NET_OK, 200, big.data};
        r = run_checkout("prod_115", NULL, a, 1);
        CHECK(r.rc == PAY_UNAVAILABLE && strcmp(r.reason, "response_malformed") == 0,
              "checkout: an oversized checkout_url is refused");
        sbuf_free(&big);
    }

    configure(NULL, SECRET);
    CHECK(!pay_creem.configured(), "not configured without the API key");
    r = run_checkout("prod_115", NULL, NULL, 0);
    CHECK(r.rc == PAY_MISCONFIGURED && strcmp(r.reason, "not_configured") == 0 && n_seen == 0,
          "checkout without a key: misconfigured, no call");
    configure(API_KEY, NULL);
    CHECK(!pay_creem.configured(), "not configured without the webhook secret");
}

/* ---- query ---------------------------------------------------------------------------- */

static void query_done_cb(void *arg, const struct pay_query_res *res)
{
    *(struct pay_query_res *)arg = *res;
}

static struct pay_query_res run_query(const char *ref, const struct scripted *a, size_t n)
{
    struct order o = test_order();
    struct pay_query_res res;
    snprintf(o.provider_ref, sizeof o.provider_ref, "%s", ref);
    scripted_answers(a, n);
    memset(&res, 0x5a, sizeof res);
    pay_creem.query(NULL, &o, (int64_t)NOW_S * 1000, query_done_cb, &res);
    return res;
}

#define Q_PAID                                                                                               \
    "{\"id\":\"ch_4l0N34kxo16AhRKUHFUuXr\",\"object\":\"checkout\",\"status\":\"completed\","                \
    "\"request_id\":\"ord_01JDCREEM0000000000000001\",\"metadata\":{\"order_id\":\"ord_"                     \
    "01JDCREEM0000000000000001\"},"                                                                          \
    "\"order\":{\"id\":\"ord_4aD\",\"transaction\":\"tran_3JQq2rj4Xz\",\"amount\":990,\"currency\":\"USD\"," \
    "\"status\":\"paid\"}}"

static void test_query(void)
{
    struct pay_query_res r;

    configure(API_KEY, SECRET);
    {
        struct scripted a[] = {{NET_OK, 200, Q_PAID}};
        r = run_query("ch_4l0N34kxo16AhRKUHFUuXr", a, 1);
    }
    CHECK(r.rc == PAY_OK && r.state == PAY_STATE_PAID, "query: completed and paid -> PAID (%s)", r.reason);
    CHECK(r.ev.kind == PAY_EVENT_PAID && r.ev.amount == 990 && strcmp(r.ev.currency, "USD") == 0,
          "query: amount and currency from the order");
    CHECK_STR_EQ(r.ev.event_id, "query:ch_4l0N34kxo16AhRKUHFUuXr", "query: event id query:<checkout id>");
    CHECK_STR_EQ(r.ev.order_id, "ord_01JDCREEM0000000000000001", "query: our order id");
    CHECK_STR_EQ(r.ev.provider_ref, "ch_4l0N34kxo16AhRKUHFUuXr", "query: provider ref");
    CHECK_STR_EQ(seen[0].method, "GET", "query: GET");
    CHECK_STR_EQ(seen[0].url, API_BASE "/v1/checkouts?checkout_id=ch_4l0N34kxo16AhRKUHFUuXr", "query: URL");
    CHECK(seen_header(&seen[0], "x-api-key: " API_KEY), "query: x-api-key");
    CHECK(seen[0].idempotent == 1 && seen[0].retries == CREEM_QUERY_RETRIES,
          "query: idempotent, retried once");

    {
        struct scripted a[] = {{NET_OK, 200, "{\"id\":\"ch_a\"}"}};
        r = run_query("ch_a&x=1 ?", a, 1);
        CHECK_STR_EQ(seen[0].url, API_BASE "/v1/checkouts?checkout_id=ch_a%26x%3D1%20%3F",
                     "query: the checkout id is percent-encoded");
    }
    r = run_query("", NULL, 0);
    CHECK(r.rc == PAY_NOTFOUND && n_seen == 0, "query: no checkout id -> not found, no call");

    {
        static const struct {
            struct scripted a;
            enum pay_rc rc;
            enum pay_state state;
            const char *reason;
        } t[] = {
            {{NET_OK, 200, "{\"id\":\"ch_4l0N34kxo16AhRKUHFUuXr\",\"status\":\"pending\"}"},
             PAY_OK,
             PAY_STATE_PENDING,
             ""},
            {{NET_OK, 200, "{\"id\":\"ch_4l0N34kxo16AhRKUHFUuXr\",\"status\":\"processing\"}"},
             PAY_OK,
             PAY_STATE_PENDING,
             ""},
            {{NET_OK, 200, "{\"id\":\"ch_4l0N34kxo16AhRKUHFUuXr\",\"status\":\"expired\"}"},
             PAY_OK,
             PAY_STATE_CLOSED,
             ""},
            {{NET_OK, 200,
              "{\"id\":\"ch_4l0N34kxo16AhRKUHFUuXr\",\"status\":\"completed\",\"order\":{\"status\":"
              "\"pending\"}}"},
             PAY_OK,
             PAY_STATE_PENDING,
             ""},
            {{NET_OK, 200, "{\"id\":\"ch_other\",\"status\":\"completed\"}"},
             PAY_UNAVAILABLE,
             PAY_STATE_PENDING,
             "response_mismatch"},
            {{NET_OK, 200,
              "{\"id\":\"ch_4l0N34kxo16AhRKUHFUuXr\",\"status\":\"completed\",\"request_id\":\"ord_other\","
              "\"order\":{\"status\":\"paid\",\"amount\":990,\"currency\":\"USD\"}}"},
             PAY_UNAVAILABLE,
             PAY_STATE_PENDING,
             "response_mismatch"},
            {{NET_OK, 200,
              "{\"id\":\"ch_4l0N34kxo16AhRKUHFUuXr\",\"status\":\"completed\",\"order\":{\"status\":\"paid\","
              "\"amount\":\"990\",\"currency\":\"USD\"}}"},
             PAY_UNAVAILABLE,
             PAY_STATE_PENDING,
             "amount_malformed"},
            {{NET_OK, 200, "{\"status\":\"completed\"}"},
             PAY_UNAVAILABLE,
             PAY_STATE_PENDING,
             "checkout_id_malformed"},
            {{NET_OK, 200, "[]"}, PAY_UNAVAILABLE, PAY_STATE_PENDING, "response_malformed"},
            {{NET_OK, 404, NULL}, PAY_NOTFOUND, PAY_STATE_PENDING, "http_404"},
            {{NET_OK, 400, NULL}, PAY_NOTFOUND, PAY_STATE_PENDING, "http_400"},
            {{NET_OK, 401, NULL}, PAY_MISCONFIGURED, PAY_STATE_PENDING, "http_401"},
            {{NET_OK, 502, NULL}, PAY_UNAVAILABLE, PAY_STATE_PENDING, "http_502"},
            {{NET_TIMEOUT, 0, NULL}, PAY_UNAVAILABLE, PAY_STATE_PENDING, "timeout"},
        };
        for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
            r = run_query("ch_4l0N34kxo16AhRKUHFUuXr", &t[i].a, 1);
            CHECK(r.rc == t[i].rc && r.state == t[i].state && strcmp(r.reason, t[i].reason) == 0 &&
                      (r.state == PAY_STATE_PAID || r.ev.event_id[0] == '\0'),
                  "query answer %zu: %s/%d %s (got %s/%d %s)", i, pay_rc_name(t[i].rc), t[i].state,
                  t[i].reason, pay_rc_name(r.rc), r.state, r.reason);
        }
    }
}

/* ---- refund ----------------------------------------------------------------------------- */

static void refund_done_cb(void *arg, const struct pay_refund_res *res)
{
    *(struct pay_refund_res *)arg = *res;
}

static struct pay_refund_res run_refund(int64_t amount, int64_t already, const char *ref,
                                        const struct scripted *a, size_t n)
{
    struct order o = test_order();
    struct pay_refund_req req = {0};
    struct pay_refund_res res;
    snprintf(o.provider_ref, sizeof o.provider_ref, "%s", ref);
    snprintf(o.status, sizeof o.status, "paid");
    o.refunded_amount = already + amount; /* as the refund reserved it (domain/refunds.c) */
    req.order = &o;
    req.refund_id = "rfd_1";
    req.amount = amount;
    req.reason = "asked";
    req.notify_url = "http://127.0.0.1:8080/api/v1/webhooks/creem";
    scripted_answers(a, n);
    memset(&res, 0x5a, sizeof res);
    pay_creem.refund(NULL, &req, refund_done_cb, &res);
    return res;
}

static void test_refund(void)
{
    struct pay_refund_res r;
    const char *ch = "ch_4l0N34kxo16AhRKUHFUuXr";

    configure(API_KEY, SECRET);
    {
        struct scripted a[] = {{NET_OK, 200, Q_PAID}, {NET_OK, 200, "{\"status\":\"succeeded\"}"}};
        r = run_refund(990, 0, ch, a, 2);
    }
    CHECK(r.rc == PAY_OK && r.pending == 0, "refund: full, succeeded (%s)", r.reason);
    CHECK_STR_EQ(r.provider_refund_id, "tran_3JQq2rj4Xz",
                 "refund: Creem's answer carries no refund id: the transaction's stands for it");
    CHECK_INT_EQ(n_seen, 2, "refund: two calls");
    CHECK_STR_EQ(seen[0].url, API_BASE "/v1/checkouts?checkout_id=ch_4l0N34kxo16AhRKUHFUuXr",
                 "refund: the checkout is read first");
    CHECK_STR_EQ(seen[1].method, "POST", "refund: POST");
    CHECK_STR_EQ(seen[1].url, API_BASE "/v1/refunds", "refund: URL");
    CHECK_STR_EQ(seen[1].body, "{\"transaction_id\":\"tran_3JQq2rj4Xz\"}", "refund: the order's transaction");
    CHECK(seen_header(&seen[1], "x-api-key: " API_KEY) &&
              seen_header(&seen[1], "Content-Type: application/json"),
          "refund: key and JSON");
    CHECK(seen[1].idempotent == 0, "refund: never retried");

    {
        struct scripted a[] = {{NET_OK, 200, Q_PAID}, {NET_OK, 200, "{\"status\":\"pending\"}"}};
        r = run_refund(990, 0, ch, a, 2);
        CHECK(r.rc == PAY_OK && r.pending == 1, "refund: pending at Creem -> accepted, pending");
    }
    {
        struct scripted a[] = {{NET_OK, 200, Q_PAID}, {NET_OK, 200, "{\"status\":\"requiresAction\"}"}};
        r = run_refund(990, 0, ch, a, 2);
        CHECK(r.rc == PAY_OK && r.pending == 1, "refund: requiresAction -> accepted, pending");
    }
    {
        struct scripted a[] = {{NET_OK, 200, Q_PAID}, {NET_OK, 200, "{\"status\":\"succeeded\"}"}};
        r = run_refund(590, 400, ch, a, 2);
        CHECK(r.rc == PAY_OK && n_seen == 2, "refund: the remainder after an earlier refund");
    }
    r = run_refund(500, 0, ch, NULL, 0);
    CHECK(r.rc == PAY_DECLINED && strcmp(r.reason, "partial_refund_unsupported") == 0 && n_seen == 0,
          "refund: a part of the payment is declined, no call");
    r = run_refund(1000, 0, ch, NULL, 0);
    CHECK(r.rc == PAY_DECLINED && n_seen == 0, "refund: more than the payment is declined");
    r = run_refund(990, 400, ch, NULL, 0);
    CHECK(r.rc == PAY_DECLINED && n_seen == 0, "refund: more than what is left is declined");
    r = run_refund(0, 990, ch, NULL, 0);
    CHECK(r.rc == PAY_DECLINED && n_seen == 0, "refund: nothing left to refund");
    r = run_refund(990, 0, "", NULL, 0);
    CHECK(r.rc == PAY_INVALID && strcmp(r.reason, "no_checkout_id") == 0 && n_seen == 0,
          "refund: no checkout id -> invalid");

    {
        static const struct {
            struct scripted a[2];
            size_t n;
            enum pay_rc rc;
            const char *reason;
        } t[] = {
            {{{NET_OK, 200, "{\"id\":\"ch_4l0N34kxo16AhRKUHFUuXr\",\"status\":\"pending\"}"}},
             1,
             PAY_DECLINED,
             "not_paid"},
            {{{NET_OK, 200,
               "{\"id\":\"ch_4l0N34kxo16AhRKUHFUuXr\",\"status\":\"completed\",\"order\":{\"status\":"
               "\"paid\","
               "\"amount\":990,\"currency\":\"USD\"}}"}},
             1,
             PAY_DECLINED,
             "no_transaction"},
            {{{NET_OK, 404, NULL}}, 1, PAY_DECLINED, "http_404"},
            {{{NET_OK, 401, NULL}}, 1, PAY_MISCONFIGURED, "http_401"},
            {{{NET_TIMEOUT, 0, NULL}}, 1, PAY_UNAVAILABLE, "timeout"},
            {{{NET_OK, 200, Q_PAID}, {NET_OK, 400, "{\"message\":\"already refunded\"}"}},
             2,
             PAY_DECLINED,
             "http_400"},
            {{{NET_OK, 200, Q_PAID}, {NET_OK, 404, NULL}}, 2, PAY_DECLINED, "http_404"},
            {{{NET_OK, 200, Q_PAID}, {NET_OK, 403, NULL}}, 2, PAY_MISCONFIGURED, "http_403"},
            {{{NET_OK, 200, Q_PAID}, {NET_OK, 500, NULL}}, 2, PAY_UNAVAILABLE, "http_500"},
            {{{NET_OK, 200, Q_PAID}, {NET_TIMEOUT, 0, NULL}}, 2, PAY_UNAVAILABLE, "timeout"},
            {{{NET_OK, 200, Q_PAID}, {NET_OK, 200, "{\"status\":\"failed\"}"}},
             2,
             PAY_DECLINED,
             "refund_failed"},
            {{{NET_OK, 200, Q_PAID}, {NET_OK, 200, "{\"status\":\"canceled\"}"}},
             2,
             PAY_DECLINED,
             "refund_canceled"},
            {{{NET_OK, 200, Q_PAID}, {NET_OK, 200, "{\"status\":\"weird\"}"}},
             2,
             PAY_UNAVAILABLE,
             "refund_status_unknown"},
            {{{NET_OK, 200, Q_PAID}, {NET_OK, 200, "nope"}}, 2, PAY_UNAVAILABLE, "response_malformed"},
        };
        for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
            r = run_refund(990, 0, ch, t[i].a, t[i].n);
            CHECK(r.rc == t[i].rc && strcmp(r.reason, t[i].reason) == 0 && n_seen == t[i].n &&
                      r.pending == 0 &&
                      strcmp(r.provider_refund_id, t[i].n == 2 ? "tran_3JQq2rj4Xz" : "") == 0,
                  "refund answer %zu: %s %s (got %s %s, %zu calls)", i, pay_rc_name(t[i].rc), t[i].reason,
                  pay_rc_name(r.rc), r.reason, n_seen);
        }
    }
}

/* ---- the log --------------------------------------------------------------------------- */

/* ---- plans ----------------------------------------------------------------------------- */

static void test_plan_checkout(void)
{
    struct order o = test_order();
    struct pay_checkout_req req = {0};
    struct pay_checkout_res res;
    struct scripted a[] = {{NET_OK, 200, CH_OK}};

    configure(API_KEY, SECRET);
    snprintf(o.product, sizeof o.product, "pro_monthly");
    o.amount = 1990;
    req.order = &o;
    req.description = "Pro";
    req.channel = "";
    req.notify_url = "http://127.0.0.1:8080/api/v1/webhooks/creem";
    req.return_url = "http://127.0.0.1:8080/api/v1/orders/ord_01JDCREEM0000000000000001/return";
    req.cancel_url = "http://127.0.0.1:8080/";
    req.provider_product_id = "prod_pro_monthly";
    req.interval = "month";
    scripted_answers(a, 1);
    pay_creem.checkout(NULL, &req, checkout_done_cb, &res);
    CHECK(res.rc == PAY_OK, "plan checkout: ok (%s)", res.reason);
    CHECK_INT_EQ(n_seen, 1, "plan checkout: one call");
    CHECK_STR_EQ(seen[0].url, API_BASE "/v1/checkouts", "plan checkout: the same endpoint as a pack");
    CHECK_STR_EQ(seen[0].body,
                 "{\"product_id\":\"prod_pro_monthly\",\"request_id\":\"ord_01JDCREEM0000000000000001\","
                 "\"success_url\":\"http://127.0.0.1:8080/api/v1/orders/ord_01JDCREEM0000000000000001/return\","
                 "\"metadata\":{\"order_id\":\"ord_01JDCREEM0000000000000001\",\"product\":\"pro_monthly\"}}",
                 "plan checkout: the recurring product, and metadata names the order and the plan");
    CHECK(seen[0].idempotent == 0, "plan checkout: never retried");

    /* A pack's body is unchanged: no product in its metadata. */
    req.interval = NULL;
    snprintf(o.product, sizeof o.product, "credits_115");
    req.provider_product_id = "prod_115";
    scripted_answers(a, 1);
    pay_creem.checkout(NULL, &req, checkout_done_cb, &res);
    CHECK_STR_EQ(seen[0].body,
                 "{\"product_id\":\"prod_115\",\"request_id\":\"ord_01JDCREEM0000000000000001\","
                 "\"success_url\":\"http://127.0.0.1:8080/api/v1/orders/ord_01JDCREEM0000000000000001/return\","
                 "\"metadata\":{\"order_id\":\"ord_01JDCREEM0000000000000001\"}}",
                 "pack checkout: metadata names the order only");
}

/* A paid checkout of a recurring product, as GET /v1/checkouts answers it. */
#define CH_SUB_PAID                                                                                          \
    "{\"id\":\"ch_4l0N34kxo16AhRKUHFUuXr\",\"status\":\"completed\",\"request_id\":"                        \
    "\"ord_01JDCREEM0000000000000001\",\"product\":{\"id\":\"prod_pro_monthly\",\"price\":1990},"            \
    "\"order\":{\"transaction\":\"tran_1\",\"status\":\"paid\",\"amount\":1990,\"currency\":\"USD\","       \
    "\"type\":\"recurring\"},\"subscription\":{\"id\":\"sub_Q1\",\"status\":\"active\","                     \
    "\"current_period_start_date\":\"2026-11-29T08:00:00.000Z\",\"current_period_end_date\":"               \
    "\"2026-12-29T08:00:00.000Z\"}}"

static void test_plan_query(void)
{
    struct pay_query_res r;
    struct scripted a[] = {{NET_OK, 200, CH_SUB_PAID}};

    configure(API_KEY, SECRET);
    r = run_query("ch_4l0N34kxo16AhRKUHFUuXr", a, 1);
    CHECK(r.rc == PAY_OK && r.state == PAY_STATE_PAID, "plan query: paid (%s)", r.reason);
    CHECK_INT_EQ(r.ev.kind, PAY_EVENT_PAID, "plan query: a PAID event");
    CHECK_STR_EQ(r.ev.subscription_ref, "sub_Q1", "plan query: the subscription it started");
    CHECK_INT_EQ(r.ev.period_start, INT64_C(1795939200000), "plan query: period start 2026-11-29T08:00Z");
    CHECK_INT_EQ(r.ev.period_end, INT64_C(1798531200000), "plan query: period end 2026-12-29T08:00Z");
    CHECK_STR_EQ(r.ev.product, "pro_monthly", "plan query: the plan, from Creem's product id");
    CHECK_INT_EQ(r.ev.amount, 1990, "plan query: amount");
}

static void sub_done_cb(void *arg, const struct pay_sub_res *res)
{
    *(struct pay_sub_res *)arg = *res;
}

static struct pay_sub_res run_sub(enum pay_sub_action action, const char *ref, const char *creem_product,
                                  int prorate_now, const struct scripted *a, size_t n)
{
    struct pay_sub_req req = {0};
    struct pay_sub_res res;
    req.action = action;
    req.subscription_ref = ref;
    req.sub_id = "sub_01JDTOLLGATE000000000001";
    req.product = "max_monthly";
    req.amount = 4990;
    req.currency = "USD";
    req.interval = "month";
    req.provider_product_id = creem_product;
    req.prorate_now = prorate_now;
    req.idem_key = "chg_1";
    req.now_ms = INT64_C(1796000000000);
    scripted_answers(a, n);
    memset(&res, 0x5a, sizeof res);
    pay_creem.subscription(NULL, &req, sub_done_cb, &res);
    return res;
}

#define SUB_ENTITY(status)                                                                                   \
    "{\"id\":\"sub_Q1\",\"mode\":\"test\",\"object\":\"subscription\",\"product\":\"prod_pro_monthly\","     \
    "\"customer\":\"cust_1\",\"collection_method\":\"charge_automatically\",\"status\":\"" status "\","       \
    "\"current_period_start_date\":\"2026-11-29T08:00:00.000Z\",\"current_period_end_date\":"               \
    "\"2026-12-29T08:00:00.000Z\",\"created_at\":\"2026-11-29T08:00:00.000Z\",\"updated_at\":"              \
    "\"2026-11-29T08:00:00.000Z\"}"

static void test_subscription_op(void)
{
    struct pay_sub_res r;

    configure(API_KEY, SECRET);
    CHECK(pay_creem.subscription != NULL, "subscriptions: Creem renews them (the operation is offered)");

    /* cancel at period end: scheduled, then canceled (not paused) */
    {
        struct scripted a[] = {{NET_OK, 200, SUB_ENTITY("scheduled_cancel")}};
        r = run_sub(PAY_SUB_CANCEL, "sub_Q1", NULL, 0, a, 1);
    }
    CHECK(r.rc == PAY_OK && strcmp(r.reason, "") == 0, "cancel: ok (%s)", r.reason);
    CHECK_INT_EQ(n_seen, 1, "cancel: one call");
    CHECK_STR_EQ(seen[0].method, "POST", "cancel: POST");
    CHECK_STR_EQ(seen[0].url, API_BASE "/v1/subscriptions/sub_Q1/cancel", "cancel: URL");
    CHECK_STR_EQ(seen[0].body, "{\"mode\":\"scheduled\",\"onExecute\":\"cancel\"}", "cancel: scheduled, then cancel");
    CHECK(seen_header(&seen[0], "x-api-key: " API_KEY), "cancel: x-api-key");
    CHECK(seen_header(&seen[0], "Content-Type: application/json"), "cancel: JSON body");
    CHECK(seen[0].idempotent == 0, "cancel: never retried");
    CHECK_INT_EQ(r.period_end, INT64_C(1798531200000), "cancel: the period end Creem answers");
    CHECK_INT_EQ(r.cancel_at_period_end, 1, "cancel: scheduled_cancel reads as cancel at period end");

    /* cancel now */
    {
        struct scripted a[] = {{NET_OK, 200, SUB_ENTITY("canceled")}};
        r = run_sub(PAY_SUB_CANCEL_NOW, "sub_Q1", NULL, 0, a, 1);
    }
    CHECK(r.rc == PAY_OK, "cancel now: ok (%s)", r.reason);
    CHECK_STR_EQ(seen[0].url, API_BASE "/v1/subscriptions/sub_Q1/cancel", "cancel now: URL");
    CHECK_STR_EQ(seen[0].body, "{\"mode\":\"immediate\"}", "cancel now: immediate");
    CHECK_INT_EQ(r.cancel_at_period_end, 0, "cancel now: not a cancel at period end");

    /* resume: no body */
    {
        struct scripted a[] = {{NET_OK, 200, SUB_ENTITY("active")}};
        r = run_sub(PAY_SUB_RESUME, "sub_Q1", NULL, 0, a, 1);
    }
    CHECK(r.rc == PAY_OK, "resume: ok (%s)", r.reason);
    CHECK_STR_EQ(seen[0].url, API_BASE "/v1/subscriptions/sub_Q1/resume", "resume: URL");
    CHECK_STR_EQ(seen[0].method, "POST", "resume: POST");
    CHECK_STR_EQ(seen[0].body, "", "resume: no body");
    CHECK(!seen_header(&seen[0], "Content-Type: application/json"), "resume: no Content-Type without a body");
    CHECK_INT_EQ(r.cancel_at_period_end, 0, "resume: renewing again");
    CHECK_INT_EQ(r.period_end, INT64_C(1798531200000), "resume: period end");

    /* change: an upgrade is charged now, a downgrade is not */
    {
        struct scripted a[] = {{NET_OK, 200, SUB_ENTITY("active")}};
        r = run_sub(PAY_SUB_CHANGE, "sub_Q1", "prod_max_monthly", 1, a, 1);
    }
    CHECK(r.rc == PAY_OK, "upgrade: ok (%s)", r.reason);
    CHECK_STR_EQ(seen[0].url, API_BASE "/v1/subscriptions/sub_Q1/upgrade", "upgrade: URL");
    CHECK_STR_EQ(seen[0].body,
                 "{\"product_id\":\"prod_max_monthly\",\"update_behavior\":\"proration-charge-immediately\"}",
                 "upgrade: the new Creem product, the prorated difference charged now");
    CHECK(seen[0].idempotent == 0, "upgrade: never retried (a repeat would be charged twice)");
    {
        struct scripted a[] = {{NET_OK, 200, SUB_ENTITY("active")}};
        r = run_sub(PAY_SUB_CHANGE, "sub_Q1", "prod_pro_monthly", 0, a, 1);
    }
    CHECK_STR_EQ(seen[0].body, "{\"product_id\":\"prod_pro_monthly\",\"update_behavior\":\"proration-none\"}",
                 "downgrade: no proration");
    r = run_sub(PAY_SUB_CHANGE, "sub_Q1", NULL, 1, NULL, 0);
    CHECK(r.rc == PAY_MISCONFIGURED && strcmp(r.reason, "creem_product_id_missing") == 0 && n_seen == 0,
          "change to a plan without creem_product_id: misconfigured, no call (%s)", r.reason);
    r = run_sub(PAY_SUB_CHANGE, "sub_Q1", "prod max", 1, NULL, 0);
    CHECK(r.rc == PAY_MISCONFIGURED && n_seen == 0, "a creem_product_id with a space: no call");

    /* the subscription id is bounded and encoded into the path */
    r = run_sub(PAY_SUB_CANCEL, "sub_1/../../v1/refunds", NULL, 0, (struct scripted[]){{NET_OK, 200, "{}"}}, 1);
    CHECK(r.rc == PAY_OK && strcmp(seen[0].url, API_BASE "/v1/subscriptions/sub_1%2F..%2F..%2Fv1%2Frefunds/cancel") == 0,
          "a '/' in the subscription id stays inside its path segment (%s)", seen[0].url);
    r = run_sub(PAY_SUB_CANCEL, "sub 1", NULL, 0, NULL, 0);
    CHECK(r.rc == PAY_INVALID && strcmp(r.reason, "subscription_ref_malformed") == 0 && n_seen == 0,
          "a subscription id with a space: invalid, no call");
    r = run_sub(PAY_SUB_CANCEL, "", NULL, 0, NULL, 0);
    CHECK(r.rc == PAY_INVALID && n_seen == 0, "no subscription id: invalid, no call");
    r = run_sub((enum pay_sub_action)42, "sub_Q1", NULL, 0, NULL, 0);
    CHECK(r.rc == PAY_INVALID && strcmp(r.reason, "action_unknown") == 0 && n_seen == 0, "an unknown action: no call");

    /* answers */
    {
        static const struct {
            enum net_err err;
            long status;
            const char *body;
            enum pay_rc rc;
            const char *reason;
        } cases[] = {
            {NET_OK, 404, "{\"statusCode\":404,\"message\":\"Subscription not found\"}", PAY_INVALID, "http_404"},
            {NET_OK, 400, "{\"statusCode\":400,\"message\":[\"already canceled\"]}", PAY_INVALID, "http_400"},
            {NET_OK, 409, NULL, PAY_INVALID, "http_409"},
            {NET_OK, 401, NULL, PAY_MISCONFIGURED, "http_401"},
            {NET_OK, 403, NULL, PAY_MISCONFIGURED, "http_403"},
            {NET_OK, 429, NULL, PAY_UNAVAILABLE, "http_429"},
            {NET_OK, 500, NULL, PAY_UNAVAILABLE, "http_500"},
            {NET_OK, 302, NULL, PAY_UNAVAILABLE, "http_302"},
            {NET_TIMEOUT, 0, NULL, PAY_UNAVAILABLE, "timeout"},
            {NET_CONNECT, 0, NULL, PAY_UNAVAILABLE, "connect"},
        };
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            struct scripted a[] = {{cases[i].err, cases[i].status, cases[i].body}};
            r = run_sub(PAY_SUB_CANCEL, "sub_Q1", NULL, 0, a, 1);
            CHECK(r.rc == cases[i].rc && strcmp(r.reason, cases[i].reason) == 0 && r.period_end == 0 &&
                      r.cancel_at_period_end == -1,
                  "answer %ld/%d: %s %s (%s)", cases[i].status, cases[i].err, pay_rc_name(cases[i].rc),
                  cases[i].reason, r.reason);
        }
    }
    /* A 2xx is Creem having done it, whatever its body says; only this subscription's
     * entity is read. */
    {
        static const char *const bodies[] = {
            NULL,
            "not json",
            "{\"id\":\"sub_other\",\"status\":\"scheduled_cancel\",\"current_period_end_date\":"
            "\"2026-12-29T08:00:00.000Z\"}",
            "{\"status\":\"scheduled_cancel\"}",
        };
        for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
            struct scripted a[] = {{NET_OK, 200, bodies[i]}};
            r = run_sub(PAY_SUB_CANCEL, "sub_Q1", NULL, 0, a, 1);
            CHECK(r.rc == PAY_OK && r.period_end == 0 && r.cancel_at_period_end == -1,
                  "a 200 with %s: ok, nothing known", bodies[i] ? bodies[i] : "no body");
        }
        {
            struct scripted a[] = {
                {NET_OK, 201, "{\"id\":\"sub_Q1\",\"status\":\"active\",\"current_period_end_date\":\"soon\"}"}};
            r = run_sub(PAY_SUB_RESUME, "sub_Q1", NULL, 0, a, 1);
            CHECK(r.rc == PAY_OK && r.period_end == 0 && r.cancel_at_period_end == 0,
                  "a malformed period end is not believed, the status is");
        }
    }
    /* not configured: nothing sent */
    configure(NULL, SECRET);
    r = run_sub(PAY_SUB_CANCEL, "sub_Q1", NULL, 0, NULL, 0);
    CHECK(r.rc == PAY_MISCONFIGURED && strcmp(r.reason, "not_configured") == 0 && n_seen == 0,
          "no API key: misconfigured, no call");
    configure(API_KEY, SECRET);
}

static void test_no_secrets_logged(void)
{
    char path[600], buf[65536];
    int fd, saved;
    ssize_t n;

    configure(API_KEY, SECRET);
    snprintf(path, sizeof path, "%s/log.txt", tmp_root);
    fd = open(path, O_CREAT | O_TRUNC | O_RDWR, 0600);
    saved = dup(2);
    dup2(fd, 2);
    {
        struct scripted a[] = {{NET_OK, 401, "{\"message\":\"bad key " API_KEY "\"}"}};
        struct scripted b[] = {{NET_OK, 200, Q_PAID}, {NET_OK, 500, NULL}};
        struct pay_webhook_res w;
        struct pay_webhook_req req = {"{}", 2, hdr_fixed, NULL, (int64_t)NOW_S * 1000};
        run_checkout("prod_115", "buyer@example.com", a, 1);
        run_refund(990, 0, "ch_4l0N34kxo16AhRKUHFUuXr", b, 2);
        h_legacy = "00";
        pay_creem.verify_webhook(NULL, &req, webhook_done, &w);
        h_legacy = NULL;
    }
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    lseek(fd, 0, SEEK_SET);
    n = read(fd, buf, sizeof buf - 1);
    close(fd);
    buf[n > 0 ? n : 0] = '\0';
    CHECK(strstr(buf, "creem_checkout") != NULL && strstr(buf, "http_401") != NULL,
          "a refused key is logged");
    CHECK(strstr(buf, "creem_refund") != NULL && strstr(buf, "creem_webhook") != NULL,
          "refund and webhook failures are logged");
    CHECK(strstr(buf, API_KEY) == NULL, "no API key in the log");
    CHECK(strstr(buf, &SECRET[6]) == NULL, "no webhook secret in the log");
    CHECK(strstr(buf, "buyer@example.com") == NULL, "no buyer email in the log");
}

int main(void)
{
    if (sodium_init() < 0 || mkdtemp(tmp_root) == NULL)
        return 1;
    configure(API_KEY, SECRET);
    {
        /* Before the catalog is loaded no product maps back (and nothing crashes). */
        char out[TG_PRODUCT_MAX] = "x";
        product_of("prod_pro_monthly", out);
        CHECK_STR_EQ(out, "", "no catalog: no product");
    }
    load_catalog();
    CHECK_STR_EQ(pay_creem.name, "creem", "registered as creem");
    CHECK(pay_creem.query != NULL && pay_creem.refund != NULL, "query and refund offered");
    test_vectors();
    test_attacks();
    test_checkout();
    test_query();
    test_refund();
    test_plan_checkout();
    test_plan_query();
    test_subscription_op();
    test_no_secrets_logged();
    catalog_shutdown();
    config_free();
    {
        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_root);
        if (system(cmd) != 0)
            printf("# could not remove %s\n", tmp_root);
    }
    return test_done();
}
