/*
 * Unit tests for the WeChat Pay APIv3 provider (src/providers/pay/wechatpay.c) on vectors
 * made by tests/fakes/gen_wechatpay_vectors.mjs with wechatpay-axios-plugin (code we did not
 * write): notifications signed by the platform key with their resources encrypted under the
 * APIv3 key, each with what Tollgate must conclude (the attacks included: forged, stale,
 * tampered, another key, another merchant, a lower-case currency, oversized fields, ...),
 * the request signature and JSAPI paySign (RSA PKCS#1 v1.5 is deterministic: ours must be
 * byte for byte the plugin's), a certificate list, query and refund answers.
 *
 * The provider runs with a synchronous executor and TG_WECHATPAY_API_BASE pointing at a
 * closed port, so the one case that would download certificates finds WeChat Pay down.
 */
#include "../test.h"

#include <stdlib.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "core/config.h"
#include "core/mem.h"
#include "crypto/encode.h"
#include "crypto/rsa.h"
#include "net/net.h"
#include "providers/pay/wechatpay.h"

static char tmp_root[] = "/tmp/tg_test_pay_wechatpay.XXXXXX";
static json_t *V; /* vectors.json */
static struct net_exec sx;

static const char *vs(const char *key)
{
    return json_string_value(json_object_get(V, key));
}

static char *data_path(const char *name)
{
    const char *dir = getenv("TEST_DATA_DIR");
    return xasprintf("%s/wechatpay/%s", dir ? dir : "tests/unit/providers/data", name);
}

static struct rsa_key *load_key(const char *name, int priv)
{
    char *p = data_path(name), *text = NULL;
    size_t len = 0;
    struct rsa_key *k = NULL;
    if (config_read_file(p, RSA_PEM_MAX, &text, &len) != 0) {
        printf("Bail out! cannot read %s\n", p);
        exit(1);
    }
    if ((priv ? rsa_priv_from_pem(text, len, &k) : rsa_pub_from_pem(text, len, &k)) != RSA_OK) {
        printf("Bail out! cannot load %s\n", p);
        exit(1);
    }
    free(text);
    free(p);
    return k;
}

/* Loads the configuration: the vectors' merchant, both platform key forms. */
static void configure(int with_pub, int with_cert)
{
    char *err = NULL, *key = data_path("merchant_key.pem"), *pub = data_path("platform_pub.pem"),
         *cert = data_path("platform_cert.pem");
    setenv("TG_DATA_DIR", tmp_root, 1);
    setenv("TG_WECHATPAY_MCHID", vs("mchid"), 1);
    setenv("TG_WECHATPAY_APPID", vs("appid"), 1);
    setenv("TG_WECHATPAY_SERIAL_NO", "3775B6A45ACD588826D15E583A95F5DD4D7B0E3A", 1);
    setenv("TG_WECHATPAY_PRIVATE_KEY_FILE", key, 1);
    setenv("TG_WECHATPAY_APIV3_KEY", vs("apiv3_key"), 1);
    if (with_pub) {
        setenv("TG_WECHATPAY_PLATFORM_PUBLIC_KEY_FILE", pub, 1);
        setenv("TG_WECHATPAY_PLATFORM_KEY_ID", vs("pub_key_id"), 1);
    } else {
        unsetenv("TG_WECHATPAY_PLATFORM_PUBLIC_KEY_FILE");
        unsetenv("TG_WECHATPAY_PLATFORM_KEY_ID");
    }
    if (with_cert)
        setenv("TG_WECHATPAY_PLATFORM_CERT_FILE", cert, 1);
    else
        unsetenv("TG_WECHATPAY_PLATFORM_CERT_FILE");
    setenv("TG_WECHATPAY_API_BASE", "http://127.0.0.1:9", 1); /* discard port: nothing listens */
    if (config_load(NULL, &err) != 0) {
        printf("Bail out! config_load: %s\n", err);
        exit(1);
    }
    free(key);
    free(pub);
    free(cert);
    wechatpay_pay_reset();
}

/* ---- notifications through the provider -------------------------------------------------- */

struct hdrs {
    json_t *h;
    const char *ambiguous; /* a header sent twice: the HTTP layer hands it over as NULL */
};

static const char *hdr(void *hctx, const char *lname)
{
    struct hdrs *x = hctx;
    if (x->ambiguous != NULL && strcmp(x->ambiguous, lname) == 0)
        return NULL;
    return json_string_value(json_object_get(x->h, lname));
}

struct wh_out {
    int called;
    struct pay_webhook_res res;
};

static void wh_done(void *arg, const struct pay_webhook_res *res)
{
    struct wh_out *o = arg;
    o->called++;
    o->res = *res;
}

static struct wh_out verify(json_t *headers, const char *body, size_t len, int64_t now_ms,
                            const char *ambiguous)
{
    struct hdrs x = {headers, ambiguous};
    struct pay_webhook_req req = {.body = body, .len = len, .header = hdr, .hctx = &x, .now_ms = now_ms};
    struct wh_out o;
    memset(&o, 0, sizeof o);
    pay_wechatpay.verify_webhook(&sx, &req, wh_done, &o);
    return o;
}

static const char *kind_name(enum pay_event_kind k)
{
    return k == PAY_EVENT_PAID ? "paid" : k == PAY_EVENT_REFUND ? "refund" : "failed";
}

static void test_cases(void)
{
    json_t *cases = json_object_get(V, "cases"), *c;
    size_t i;
    int64_t now_ms = (int64_t)json_integer_value(json_object_get(V, "now")) * 1000 + 500;

    CHECK(json_array_size(cases) >= 40, "vectors hold %zu notification cases", json_array_size(cases));
    json_array_foreach(cases, i, c)
    {
        const char *name = json_string_value(json_object_get(c, "name"));
        json_t *e = json_object_get(c, "expect"), *body = json_object_get(c, "body");
        struct wh_out o = verify(json_object_get(c, "headers"), json_string_value(body),
                                 json_string_length(body), now_ms, NULL);
        const char *want_rc = json_string_value(json_object_get(e, "rc"));

        CHECK(o.called == 1, "%s: done once", name);
        CHECK_STR_EQ(pay_rc_name(o.res.rc), want_rc, "%s: %s", name, want_rc);
        if (json_object_get(e, "reason") != NULL)
            CHECK_STR_EQ(o.res.reason, json_string_value(json_object_get(e, "reason")), "%s: reason", name);
        if (strcmp(want_rc, "ok") == 0) {
            const char *fields[][2] = {{"event_id", o.res.ev.event_id},
                                       {"type", o.res.ev.type},
                                       {"order_id", o.res.ev.order_id},
                                       {"provider_ref", o.res.ev.provider_ref},
                                       {"currency", o.res.ev.currency},
                                       {"refund_id", o.res.ev.refund_id},
                                       {"provider_refund_id", o.res.ev.provider_refund_id}};
            CHECK_STR_EQ(kind_name(o.res.ev.kind), json_string_value(json_object_get(e, "kind")), "%s: kind",
                         name);
            CHECK_INT_EQ(o.res.ev.amount, json_integer_value(json_object_get(e, "amount")), "%s: amount",
                         name);
            for (size_t f = 0; f < sizeof fields / sizeof fields[0]; f++) {
                json_t *w = json_object_get(e, fields[f][0]);
                CHECK_STR_EQ(fields[f][1], w ? json_string_value(w) : "", "%s: %s", name, fields[f][0]);
            }
        }
    }
}

static json_t *find_case(const char *name)
{
    json_t *cases = json_object_get(V, "cases"), *c;
    size_t i;
    json_array_foreach(cases, i,
                       c) if (strcmp(json_string_value(json_object_get(c, "name")), name) == 0) return c;
    printf("Bail out! no case %s\n", name);
    exit(1);
}

static void test_attacks(void)
{
    json_t *c = find_case("paid"), *h = json_object_get(c, "headers"), *body = json_object_get(c, "body"),
           *h2;
    const char *b = json_string_value(body);
    size_t len = json_string_length(body);
    int64_t now_ms = (int64_t)json_integer_value(json_object_get(V, "now")) * 1000;
    const char *names[] = {"wechatpay-timestamp", "wechatpay-nonce", "wechatpay-signature",
                           "wechatpay-serial"};
    struct wh_out o;
    char *big;

    /* A header sent twice reaches the provider as absent, and nothing verifies without it. */
    for (size_t i = 0; i < 4; i++) {
        o = verify(h, b, len, now_ms, names[i]);
        CHECK(o.res.rc == PAY_INVALID && strcmp(o.res.reason, "signature_header_missing") == 0,
              "%s sent twice: invalid (%s)", names[i], o.res.reason);
    }
    /* The body, one byte at a time shorter: never valid. */
    o = verify(h, b, len - 1, now_ms, NULL);
    CHECK(o.res.rc == PAY_INVALID && strcmp(o.res.reason, "signature_mismatch") == 0,
          "truncated body: invalid");
    /* Oversized body: refused before anything else. */
    big = xmalloc(WECHATPAY_NOTIFY_MAX + 2);
    memset(big, ' ', WECHATPAY_NOTIFY_MAX + 1);
    big[WECHATPAY_NOTIFY_MAX + 1] = '\0';
    o = verify(h, big, WECHATPAY_NOTIFY_MAX + 1, now_ms, NULL);
    CHECK(o.res.rc == PAY_INVALID && strcmp(o.res.reason, "body_size") == 0, "body over %d bytes: invalid",
          WECHATPAY_NOTIFY_MAX);
    free(big);
    /* Stale is judged against the time the notification arrived. */
    o = verify(h, b, len, now_ms + 300 * 1000, NULL);
    CHECK(o.res.rc == PAY_INVALID && strcmp(o.res.reason, "timestamp_out_of_tolerance") == 0,
          "replayed 300 s later: invalid");
    /* Certificate mode: a serial nobody knows downloads the certificates (WeChat Pay is down
     * here: 503 so it delivers again), and within a minute it does not download again. The
     * public key's id in lower case is such a serial: ids compare exactly. */
    h2 = json_deep_copy(h);
    json_object_set_new(h2, "wechatpay-serial", json_string("pub_key_id_0112300001092025112900000000000001"));
    o = verify(h2, b, len, now_ms, NULL);
    CHECK(o.res.rc == PAY_UNAVAILABLE && strcmp(o.res.reason, "certificates_unavailable") == 0,
          "unknown serial (the key id in lower case), WeChat Pay down: unavailable (%s)", o.res.reason);
    json_object_set_new(h2, "wechatpay-serial", json_string(vs("attacker_serial")));
    o = verify(h2, b, len, now_ms, NULL);
    CHECK(o.res.rc == PAY_INVALID && strcmp(o.res.reason, "unknown_serial") == 0,
          "another unknown serial within a minute: invalid, no second download (%s)", o.res.reason);
    json_decref(h2);
}

static void test_modes(void)
{
    json_t *c = find_case("paid_certificate_serial"), *p = find_case("paid");
    int64_t now_ms = (int64_t)json_integer_value(json_object_get(V, "now")) * 1000;
    struct wh_out o;

    /* Public key mode only: a certificate serial is unknown (and the download fails). */
    configure(1, 0);
    o = verify(json_object_get(c, "headers"), json_string_value(json_object_get(c, "body")),
               json_string_length(json_object_get(c, "body")), now_ms, NULL);
    CHECK(o.res.rc == PAY_UNAVAILABLE, "public key mode: certificate serial needs a download (%s)",
          o.res.reason);
    /* Certificate mode only: the public key id is unknown and never downloaded. */
    configure(0, 1);
    o = verify(json_object_get(p, "headers"), json_string_value(json_object_get(p, "body")),
               json_string_length(json_object_get(p, "body")), now_ms, NULL);
    CHECK(o.res.rc == PAY_INVALID && strcmp(o.res.reason, "unknown_serial") == 0,
          "certificate mode: a PUB_KEY_ID serial is unknown (%s)", o.res.reason);
    o = verify(json_object_get(c, "headers"), json_string_value(json_object_get(c, "body")),
               json_string_length(json_object_get(c, "body")), now_ms, NULL);
    CHECK(o.res.rc == PAY_OK, "certificate mode: the preloaded certificate verifies (%s)", o.res.reason);
    /* A broken APIv3 key: misconfigured once the signature holds. */
    setenv("TG_WECHATPAY_APIV3_KEY", "short", 1);
    {
        char *err = NULL;
        if (config_load(NULL, &err) != 0) {
            printf("Bail out! config_load: %s\n", err);
            exit(1);
        }
    }
    o = verify(json_object_get(c, "headers"), json_string_value(json_object_get(c, "body")),
               json_string_length(json_object_get(c, "body")), now_ms, NULL);
    CHECK(o.res.rc == PAY_MISCONFIGURED, "an APIv3 key that is not 32 bytes: misconfigured");
    configure(1, 1);
}

/* ---- signatures we make ------------------------------------------------------------------- */

static void test_request_signature(void)
{
    struct rsa_key *mk = load_key("merchant_key.pem", 1), *pub = load_key("merchant_pub.pem", 0);
    json_t *r = json_object_get(V, "request"), *g = json_object_get(V, "get"),
           *js = json_object_get(V, "jsapi");
    const char *body = json_string_value(json_object_get(r, "body"));
    char *h = wechatpay_authorization(mk, "1230000109", "MERCHANTSERIAL", "POST",
                                      json_string_value(json_object_get(r, "uri")), body, strlen(body),
                                      json_integer_value(json_object_get(r, "timestamp")),
                                      json_string_value(json_object_get(r, "nonce")));
    char *want = xasprintf("WECHATPAY2-SHA256-RSA2048 mchid=\"1230000109\",nonce_str=\"%s\",signature=\"%s\","
                           "timestamp=\"%lld\",serial_no=\"MERCHANTSERIAL\"",
                           json_string_value(json_object_get(r, "nonce")),
                           json_string_value(json_object_get(r, "signature")),
                           (long long)json_integer_value(json_object_get(r, "timestamp")));
    char out[1024];
    json_t *j;

    CHECK_STR_EQ(h, want, "POST Authorization: the plugin's signature, the documented parameters");
    free(h);
    free(want);
    h = wechatpay_authorization(
        mk, "1230000109", "MERCHANTSERIAL", "GET", json_string_value(json_object_get(g, "uri")), "", 0,
        json_integer_value(json_object_get(g, "timestamp")), json_string_value(json_object_get(g, "nonce")));
    CHECK(h != NULL && strstr(h, json_string_value(json_object_get(g, "signature"))) != NULL,
          "GET Authorization (path with query, empty body line): the plugin's signature");
    free(h);
    h = wechatpay_authorization(pub, "1230000109", "S", "GET", "/", "", 0, 1, "n");
    CHECK(h == NULL, "a public key cannot sign");

    CHECK(wechatpay_jsapi_checkout(mk, json_string_value(json_object_get(js, "appId")),
                                   json_string_value(json_object_get(js, "prepay_id")),
                                   strtoll(json_string_value(json_object_get(js, "timeStamp")), NULL, 10),
                                   json_string_value(json_object_get(js, "nonceStr")), out, sizeof out) == 0,
          "JSAPI parameters signed");
    j = json_loads(out, 0, NULL);
    CHECK_STR_EQ(json_string_value(json_object_get(json_object_get(j, "jsapi"), "paySign")),
                 json_string_value(json_object_get(js, "paySign")), "JSAPI paySign: the plugin's");
    CHECK_STR_EQ(json_string_value(json_object_get(json_object_get(j, "jsapi"), "package")),
                 "prepay_id=wx201410272009395522657a690389285100", "JSAPI package");
    CHECK_STR_EQ(json_string_value(json_object_get(json_object_get(j, "jsapi"), "signType")), "RSA",
                 "JSAPI signType");
    CHECK_STR_EQ(json_string_value(json_object_get(json_object_get(j, "jsapi"), "timeStamp")), "1554208460",
                 "JSAPI timeStamp is a string");
    json_decref(j);
    CHECK(wechatpay_jsapi_checkout(mk, "wx1", "wx2", 1, "n", out, 40) == -1,
          "JSAPI parameters that do not fit: -1");
    rsa_key_free(mk);
    rsa_key_free(pub);
}

/* ---- answers -------------------------------------------------------------------------------- */

static int answer_verifies(json_t *a, struct rsa_key *k)
{
    json_t *h = json_object_get(a, "headers");
    const char *body = json_string_value(json_object_get(a, "body"));
    return wechatpay_verify_sig(k, json_string_value(json_object_get(h, "wechatpay-timestamp")),
                                json_string_value(json_object_get(h, "wechatpay-nonce")),
                                json_string_value(json_object_get(h, "wechatpay-signature")), body,
                                strlen(body));
}

static void test_answers(void)
{
    struct rsa_key *pk = load_key("platform_pub.pem", 0), *mk = load_key("merchant_pub.pem", 0);
    json_t *q = json_object_get(V, "queries"), *r = json_object_get(V, "refunds"),
           *certs = json_object_get(V, "certificates");
    const char *order = "ord_01KB5Q3VJ4ZQ8E2W6T9YH3N7MA", *refund = "rfd_01KB5Q9M0R7C2X4V6B8N1M3K5J";
    struct pay_query_res qr;
    struct pay_refund_res rr;
    struct rsa_key *keys[WECHATPAY_MAX_CERTS];
    char serials[WECHATPAY_MAX_CERTS][RSA_SERIAL_HEX_MAX];
    const char *bad[] = {"serial_mismatch", "other_apiv3_key", "empty"};
    struct {
        const char *name;
        enum pay_state state;
    } states[] = {{"success", PAY_STATE_PAID},   {"refund_state", PAY_STATE_PAID},
                  {"notpay", PAY_STATE_PENDING}, {"userpaying", PAY_STATE_PENDING},
                  {"closed", PAY_STATE_CLOSED},  {"payerror", PAY_STATE_CLOSED},
                  {"revoked", PAY_STATE_CLOSED}};
    int n;

    CHECK(answer_verifies(json_object_get(q, "success"), pk) == 1,
          "query answer: the platform signature verifies");
    CHECK(answer_verifies(json_object_get(q, "success"), mk) == 0, "query answer: not with another key");
    for (size_t i = 0; i < sizeof states / sizeof states[0]; i++) {
        json_t *a = json_object_get(q, states[i].name);
        const char *b = json_string_value(json_object_get(a, "body"));
        wechatpay_read_transaction(b, strlen(b), "1230000109", order, &qr);
        CHECK(qr.rc == PAY_OK && qr.state == states[i].state, "trade_state %s -> state %d (%s)",
              states[i].name, (int)states[i].state, qr.reason);
    }
    {
        const char *b = json_string_value(json_object_get(json_object_get(q, "success"), "body"));
        wechatpay_read_transaction(b, strlen(b), "1230000109", order, &qr);
        CHECK_STR_EQ(qr.ev.event_id, "query:4200002741202511290000000001",
                     "query: event id query:<transaction_id>");
        CHECK(qr.ev.kind == PAY_EVENT_PAID && qr.ev.amount == 6800 && strcmp(qr.ev.currency, "CNY") == 0 &&
                  strcmp(qr.ev.order_id, order) == 0,
              "query: paid 6800 CNY for the order");
        wechatpay_read_transaction(b, strlen(b), "1230000109", "ord_01KB5Q3VJ4ZQ8E2W6T9YH3N7MB", &qr);
        CHECK(qr.rc == PAY_UNAVAILABLE && strcmp(qr.reason, "answer_other_order") == 0,
              "query: an answer about another order is not believed");
        wechatpay_read_transaction(b, strlen(b) - 1, "1230000109", order, &qr);
        CHECK(qr.rc == PAY_UNAVAILABLE, "query: a truncated answer is unavailable");
    }
    {
        const char *b = json_string_value(json_object_get(json_object_get(q, "other_merchant"), "body"));
        wechatpay_read_transaction(b, strlen(b), "1230000109", order, &qr);
        CHECK(qr.rc == PAY_UNAVAILABLE, "query: another merchant's answer is not believed");
        b = json_string_value(json_object_get(json_object_get(q, "unknown_state"), "body"));
        wechatpay_read_transaction(b, strlen(b), "1230000109", order, &qr);
        CHECK(qr.rc == PAY_UNAVAILABLE && strcmp(qr.reason, "trade_state_unknown") == 0,
              "query: unknown trade_state");
    }
    {
        struct {
            const char *name;
            enum pay_rc rc;
            int pending;
        } rs[] = {{"processing", PAY_OK, 1},
                  {"success", PAY_OK, 0},
                  {"abnormal", PAY_OK, 1},
                  {"closed", PAY_DECLINED, 0}};
        for (size_t i = 0; i < 4; i++) {
            const char *b = json_string_value(json_object_get(json_object_get(r, rs[i].name), "body"));
            wechatpay_read_refund(b, strlen(b), refund, &rr);
            CHECK(rr.rc == rs[i].rc && rr.pending == rs[i].pending, "refund status %s -> %s pending %d",
                  rs[i].name, pay_rc_name(rs[i].rc), rs[i].pending);
            if (rr.rc == PAY_OK)
                CHECK_STR_EQ(rr.provider_refund_id, "50000000382019052709732678859", "refund %s: refund_id",
                             rs[i].name);
        }
        wechatpay_read_refund(
            json_string_value(json_object_get(json_object_get(r, "success"), "body")),
            strlen(json_string_value(json_object_get(json_object_get(r, "success"), "body"))), "rfd_other",
            &rr);
        CHECK(rr.rc == PAY_UNAVAILABLE, "refund: an answer about another refund is not believed");
    }

    n = wechatpay_read_certificates(
        json_string_value(json_object_get(json_object_get(certs, "ok"), "body")),
        strlen(json_string_value(json_object_get(json_object_get(certs, "ok"), "body"))), vs("apiv3_key"),
        keys, serials, WECHATPAY_MAX_CERTS);
    CHECK(n == 1, "certificates: one decrypted and loaded");
    if (n == 1) {
        CHECK_STR_EQ(serials[0], vs("platform_serial"), "certificates: its serial");
        CHECK(answer_verifies(json_object_get(certs, "ok"), keys[0]) == 1,
              "certificates: the list is signed by it");
        rsa_key_free(keys[0]);
    }
    n = wechatpay_read_certificates(
        json_string_value(json_object_get(json_object_get(certs, "two"), "body")),
        strlen(json_string_value(json_object_get(json_object_get(certs, "two"), "body"))), vs("apiv3_key"),
        keys, serials, WECHATPAY_MAX_CERTS);
    CHECK(n == 2, "certificates: two");
    while (n > 0)
        rsa_key_free(keys[--n]);
    for (size_t i = 0; i < 3; i++) {
        const char *b = json_string_value(json_object_get(json_object_get(certs, bad[i]), "body"));
        CHECK(wechatpay_read_certificates(b, strlen(b), vs("apiv3_key"), keys, serials,
                                          WECHATPAY_MAX_CERTS) == -1,
              "certificates %s: refused", bad[i]);
    }
    rsa_key_free(pk);
    rsa_key_free(mk);
}

/* ---- request bodies ---------------------------------------------------------------------------- */

static void test_bodies(void)
{
    struct order o;
    struct pay_checkout_req req;
    const char *why;
    char *b, when[32];
    json_t *j;

    memset(&o, 0, sizeof o);
    snprintf(o.id, sizeof o.id, "ord_01KB5Q3VJ4ZQ8E2W6T9YH3N7MA");
    snprintf(o.product, sizeof o.product, "credits_115");
    snprintf(o.currency, sizeof o.currency, "CNY");
    o.amount = 6800;
    o.expires_at = 1764400000000LL; /* 2025-11-29T07:06:40Z */
    memset(&req, 0, sizeof req);
    req.order = &o;
    req.description = "115 credits";
    req.notify_url = "https://pay.example.com/api/v1/webhooks/wechatpay";

    CHECK_STR_EQ(wechatpay_time(1764400000000LL, when), "2025-11-29T15:06:40+08:00", "time_expire in +08:00");
    b = wechatpay_order_body("native", "wxd678efh567hg6787", "1230000109", &req, &why);
    CHECK_STR_EQ(b,
                 "{\"appid\":\"wxd678efh567hg6787\",\"mchid\":\"1230000109\",\"description\":\"115 credits\","
                 "\"out_trade_no\":\"ord_01KB5Q3VJ4ZQ8E2W6T9YH3N7MA\",\"notify_url\":"
                 "\"https://pay.example.com/api/v1/webhooks/"
                 "wechatpay\",\"amount\":{\"total\":6800,\"currency\":\"CNY\"},"
                 "\"time_expire\":\"2025-11-29T15:06:40+08:00\"}",
                 "native body: fen, CNY, our order id, time_expire");
    free(b);
    CHECK(wechatpay_order_body("jsapi", "wx1", "1230000109", &req, &why) == NULL &&
              strcmp(why, "openid_required") == 0,
          "jsapi without openid: refused");
    req.payer_openid = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o";
    b = wechatpay_order_body("jsapi", "wx1", "1230000109", &req, &why);
    j = json_loads(b, 0, NULL);
    CHECK_STR_EQ(json_string_value(json_object_get(json_object_get(j, "payer"), "openid")), req.payer_openid,
                 "jsapi body: payer.openid");
    json_decref(j);
    free(b);
    req.payer_openid = "o\"x";
    CHECK(wechatpay_order_body("jsapi", "wx1", "1230000109", &req, &why) == NULL,
          "jsapi with a malformed openid: refused");
    CHECK(wechatpay_order_body("h5", "wx1", "1230000109", &req, &why) == NULL &&
              strcmp(why, "client_ip_required") == 0,
          "h5 without the buyer's address: refused");
    req.client_ip = "14.23.150.211";
    b = wechatpay_order_body("h5", "wx1", "1230000109", &req, &why);
    j = json_loads(b, 0, NULL);
    CHECK_STR_EQ(json_string_value(json_object_get(json_object_get(j, "scene_info"), "payer_client_ip")),
                 "14.23.150.211", "h5 body: scene_info.payer_client_ip");
    CHECK_STR_EQ(json_string_value(
                     json_object_get(json_object_get(json_object_get(j, "scene_info"), "h5_info"), "type")),
                 "Wap", "h5 body: h5_info.type Wap");
    json_decref(j);
    free(b);
    CHECK(wechatpay_order_body("app", "wx1", "1230000109", &req, &why) == NULL &&
              strcmp(why, "unknown_channel") == 0,
          "unknown channel: refused");
    snprintf(o.currency, sizeof o.currency, "USD");
    CHECK(wechatpay_order_body("native", "wx1", "1230000109", &req, &why) == NULL &&
              strcmp(why, "currency_not_cny") == 0,
          "a USD order: refused (WeChat Pay takes CNY)");
    snprintf(o.currency, sizeof o.currency, "CNY");
    req.description =
        "一二三四五六七八九十一二三四五六七八九十一二三四五六七八九十一二三四五六七八九十一二三四五";
    b = wechatpay_order_body("native", "wx1", "1230000109", &req, &why);
    j = json_loads(b, 0, NULL);
    CHECK(j != NULL && json_string_length(json_object_get(j, "description")) <= WECHATPAY_DESCRIPTION_MAX &&
              json_string_length(json_object_get(j, "description")) % 3 == 0,
          "a long description is cut at a character boundary within 127 bytes");
    json_decref(j);
    free(b);
}

static void test_acks(void)
{
    json_t *j = json_loads(pay_wechatpay.ack_body, 0, NULL);
    CHECK_STR_EQ(json_string_value(json_object_get(j, "code")), "SUCCESS", "ack: {\"code\":\"SUCCESS\"}");
    json_decref(j);
    j = json_loads(pay_wechatpay.fail_body, 0, NULL);
    CHECK_STR_EQ(json_string_value(json_object_get(j, "code")), "FAIL", "fail: {\"code\":\"FAIL\"}");
    json_decref(j);
    CHECK(pay_provider_find("wechatpay") == &pay_wechatpay, "registered as wechatpay");
    CHECK(pay_wechatpay.query != NULL && pay_wechatpay.refund != NULL, "query and refund offered");
}

int main(void)
{
    char *p;
    json_error_t jerr;

    if (sodium_init() < 0 || mkdtemp(tmp_root) == NULL || net_global_init() != 0) {
        printf("Bail out! setup\n");
        return 1;
    }
    net_exec_init(&sx, NULL, NULL, NULL);
    p = data_path("vectors.json");
    V = json_load_file(p, 0, &jerr);
    if (V == NULL) {
        printf("Bail out! %s: %s\n", p, jerr.text);
        return 1;
    }
    free(p);
    configure(1, 1);

    test_cases();
    test_attacks();
    test_modes();
    test_request_signature();
    test_answers();
    test_bodies();
    test_acks();

    wechatpay_pay_reset();
    json_decref(V);
    net_exec_dispose(&sx);
    config_free();
    net_global_cleanup();
    {
        char *cmd = xasprintf("rm -rf %s", tmp_root);
        if (system(cmd) != 0)
            printf("# could not remove %s\n", tmp_root);
        free(cmd);
    }
    return test_done();
}
