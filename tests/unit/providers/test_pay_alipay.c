/*
 * The Alipay provider's wire formats (src/providers/pay/alipay.c) against vectors made and
 * checked with the official Node SDK (tests/fakes/gen_alipay_vectors.mjs -> data/alipay/):
 *  - page and wap checkout: the signed URL carries exactly the parameters, and the very
 *    signature, that AlipaySdk.sdkExecute produced for the same order at the same time;
 *  - notifications: paid, finished, closed, waiting, refunds (ours and the dashboard's), and
 *    forgeries: tampered, duplicated, unsigned, V2-signed, another key, another app, another
 *    charset or currency, malformed amounts and ids; the SDK's own verdict is checked too;
 *  - gateway answers: the signature over the raw response text (escaped slashes, pretty
 *    printing), tampering, the wrong key, unsigned answers, duplicates, escaped names;
 *  - attacks built here: oversized bodies, too many parameters, bad escapes, NUL bytes;
 *  - the code -> outcome map, the Beijing clock, checkout refusals.
 */
#include "../test.h"

#include <stdlib.h>
#include <unistd.h>

#include <jansson.h>

#include "core/config.h"
#include "core/mem.h"
#include "crypto/encode.h"
#include "crypto/rsa.h"
#include "providers/pay/alipay.h"
#include "providers/pay/pay.h"

static char tmp_dir[] = "/tmp/tg-alipay-XXXXXX";
static char keydir[512];
static json_t *V;
static struct rsa_key *ali_pub, *ali_priv, *app_pub;

static struct rsa_key *load_key(const char *name, int priv)
{
    char path[600], *pem = NULL;
    size_t n = 0;
    struct rsa_key *k = NULL;
    snprintf(path, sizeof path, "%s/%s", keydir, name);
    if (priv) {
        rsa_priv_from_file(path, &k);
    } else if (config_read_file(path, RSA_PEM_MAX, &pem, &n) == 0) {
        rsa_pub_from_pem(pem, n, &k);
        free(pem);
    }
    if (k == NULL) {
        printf("Bail out! cannot load %s\n", path);
        exit(1);
    }
    return k;
}

static void configure(const char *app_id)
{
    char path[600], *err = NULL;
    setenv("TG_DATA_DIR", tmp_dir, 1);
    setenv("TG_JWT_SECRET", "unit-test-secret-0123456789abcdef-0123456789", 1);
    setenv("TG_ALIPAY_APP_ID", app_id, 1);
    snprintf(path, sizeof path, "%s/app_private.pem", keydir);
    setenv("TG_ALIPAY_PRIVATE_KEY_FILE", path, 1);
    snprintf(path, sizeof path, "%s/alipay_public.pem", keydir);
    setenv("TG_ALIPAY_PUBLIC_KEY_FILE", path, 1);
    config_free();
    if (config_load(NULL, &err) != 0) {
        printf("Bail out! config_load: %s\n", err);
        exit(1);
    }
}

static const char *jstr(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* The same, "" when absent (for messages). */
static const char *jstr0(json_t *o, const char *k)
{
    const char *s = jstr(o, k);
    return s != NULL ? s : "";
}

/* ---- checkout --------------------------------------------------------------------------- */

struct co_out {
    int calls;
    struct pay_checkout_res res;
};

static void on_checkout(void *arg, const struct pay_checkout_res *res)
{
    struct co_out *o = arg;
    o->calls++;
    o->res = *res;
}

static struct co_out checkout(const struct order *o, const char *channel, const char *subject,
                              const char *notify, const char *ret, const char *cancel, int64_t now_ms)
{
    struct pay_checkout_req req = {.order = o,
                                   .description = subject,
                                   .channel = channel,
                                   .notify_url = notify,
                                   .return_url = ret,
                                   .cancel_url = cancel,
                                   .now_ms = now_ms};
    struct co_out out;
    memset(&out, 0, sizeof out);
    pay_alipay.checkout(NULL, &req, on_checkout, &out);
    return out;
}

static void test_request_vectors(void)
{
    json_t *reqs = json_object_get(V, "requests"), *r;
    size_t i;
    int64_t now_ms = json_integer_value(json_object_get(V, "now_ms"));

    CHECK(json_array_size(reqs) == 2, "vectors: page and wap requests");
    json_array_foreach(reqs, i, r)
    {
        json_t *ord = json_object_get(r, "order"), *params = json_object_get(r, "params"), *co, *val;
        const char *channel = jstr(r, "channel"), *url, *q, *key;
        struct order o;
        struct co_out out;
        struct alipay_params ps = {.n = 0};
        char *content;
        int same = 1;

        memset(&o, 0, sizeof o);
        snprintf(o.id, sizeof o.id, "%s", jstr(ord, "id"));
        o.amount = json_integer_value(json_object_get(ord, "amount"));
        snprintf(o.currency, sizeof o.currency, "CNY");
        o.expires_at = json_integer_value(json_object_get(ord, "expires_at"));
        out = checkout(&o, channel, jstr(r, "subject"), jstr(r, "notify_url"), jstr(r, "return_url"),
                       jstr(r, "cancel_url"), now_ms);
        CHECK(out.calls == 1 && out.res.rc == PAY_OK, "%s: checkout at once, ok (%s)", channel,
              out.res.reason);
        CHECK_STR_EQ(out.res.provider_ref, "", "%s: Alipay knows the payment by our order id", channel);
        co = json_loads(out.res.checkout, JSON_REJECT_DUPLICATES, NULL);
        url = jstr(co, "url");
        CHECK(url != NULL && json_object_size(co) == 1, "%s: checkout is {\"url\"}", channel);
        if (url == NULL) {
            json_decref(co);
            continue;
        }
        CHECK(strncmp(url, "https://openapi.alipay.com/gateway.do?", 38) == 0, "%s: a GET URL to the gateway",
              channel);
        q = strchr(url, '?') + 1;
        CHECK(alipay_form_parse(q, strlen(q), &ps) == 0, "%s: the query string parses", channel);
        CHECK_INT_EQ(ps.n, json_object_size(params), "%s: as many parameters as the SDK sent", channel);
        json_object_foreach(params, key, val)
        {
            const char *mine = alipay_params_get(&ps, key);
            if (mine == NULL || strcmp(mine, json_string_value(val)) != 0) {
                printf("#   %s: %s differs: got %s want %s\n", channel, key, mine ? mine : "(none)",
                       json_string_value(val));
                same = 0;
            }
        }
        CHECK(same, "%s: every parameter, the signature included, equals the SDK's", channel);
        content = alipay_sign_content(&ps, 0);
        CHECK(alipay_verify_b64(app_pub, content, strlen(content), alipay_params_get(&ps, "sign")),
              "%s: the signature verifies with the app public key", channel);
        CHECK(strstr(content, "sign_type=RSA2") != NULL && strstr(content, "&sign=") == NULL,
              "%s: a request signs sign_type, never sign", channel);
        free(content);
        alipay_params_free(&ps);
        json_decref(co);
    }
}

static void test_checkout_refusals(void)
{
    struct order o;
    struct co_out out;
    char long_subject[ALIPAY_SUBJECT_MAX + 2];
    const char *n = "https://t.example/api/v1/webhooks/alipay", *r = "https://t.example/r";

    memset(&o, 0, sizeof o);
    snprintf(o.id, sizeof o.id, "ord_01JREFUSALS0000000000000");
    o.amount = 990;
    snprintf(o.currency, sizeof o.currency, "USD");
    out = checkout(&o, "", "115 credits", n, r, NULL, 0);
    CHECK(out.calls == 1 && out.res.rc == PAY_INVALID, "a USD order is refused");
    CHECK_STR_EQ(out.res.reason, "currency_not_cny", "reason: currency_not_cny");
    snprintf(o.currency, sizeof o.currency, "cny");
    out = checkout(&o, "", "115 credits", n, r, NULL, 0);
    CHECK(out.res.rc == PAY_INVALID && strcmp(out.res.reason, "currency_not_cny") == 0, "'cny' is not CNY");
    snprintf(o.currency, sizeof o.currency, "CNY");
    out = checkout(&o, "alipay", "115 credits", n, r, NULL, 0);
    CHECK(out.res.rc == PAY_INVALID && strcmp(out.res.reason, "channel_unknown") == 0, "an unknown channel");
    memset(long_subject, 'x', sizeof long_subject - 1);
    long_subject[sizeof long_subject - 1] = '\0';
    out = checkout(&o, "page", long_subject, n, r, NULL, 0);
    CHECK(out.res.rc == PAY_INVALID && strcmp(out.res.reason, "subject_invalid") == 0,
          "a subject over 256 bytes");
    out = checkout(&o, "page", "\xff\xfe", n, r, NULL, 0);
    CHECK(out.res.rc == PAY_INVALID && strcmp(out.res.reason, "subject_invalid") == 0, "a subject not UTF-8");
    o.amount = 0;
    out = checkout(&o, "page", "115 credits", n, r, NULL, 0);
    CHECK(out.res.rc == PAY_INVALID && strcmp(out.res.reason, "amount_invalid") == 0, "an amount of 0");
    o.amount = 990;
    snprintf(o.id, sizeof o.id, "ord_1&total_amount=0.01");
    out = checkout(&o, "page", "115 credits", n, r, NULL, 0);
    CHECK(out.res.rc == PAY_INVALID && strcmp(out.res.reason, "order_id_invalid") == 0,
          "an order id with '&'");
    snprintf(o.id, sizeof o.id, "ord_01JDEFAULT000000000000000");
    out = checkout(&o, "", "115 credits", n, r, NULL, 0);
    CHECK(out.res.rc == PAY_OK && strstr(out.res.checkout, "method=alipay.trade.page.pay") != NULL &&
              strstr(out.res.checkout, "FAST_INSTANT_TRADE_PAY") != NULL,
          "no channel: page pay");
    CHECK(strstr(out.res.checkout, "total_amount%22%3A%229.90%22") != NULL, "990 fen is \"9.90\"");
    CHECK(strstr(out.res.checkout, "time_expire") == NULL, "no expiry on the order: no time_expire");
}

/* ---- notifications ----------------------------------------------------------------------- */

static const char *kind_name(enum pay_event_kind k)
{
    return k == PAY_EVENT_PAID ? "paid" : k == PAY_EVENT_FAILED ? "failed" : "refund";
}

static void test_notification_vectors(void)
{
    json_t *ns = json_object_get(V, "notifications"), *n;
    const char *app_id = jstr(V, "app_id");
    size_t i;

    CHECK(json_array_size(ns) >= 20, "vectors: notifications");
    json_array_foreach(ns, i, n)
    {
        const char *name = jstr0(n, "name"), *body = jstr(n, "body"), *s;
        json_t *e = json_object_get(n, "expect");
        struct pay_webhook_res res;
        int sdk_ok = json_is_true(json_object_get(n, "sdk_ok"));

        alipay_notify_check(body, strlen(body), ali_pub, app_id, &res);
        CHECK_STR_EQ(pay_rc_name(res.rc), jstr(e, "rc"), "notify %s: %s", name, jstr0(e, "rc"));
        if ((s = jstr(e, "reason")) != NULL)
            CHECK_STR_EQ(res.reason, s, "notify %s: reason %s", name, s);
        if (res.rc == PAY_OK || res.rc == PAY_IGNORED)
            CHECK(sdk_ok, "notify %s: the SDK verifies it too", name);
        if (strcmp(name, "signed_with_app_key") == 0 || strcmp(name, "tampered_amount") == 0)
            CHECK(!sdk_ok, "notify %s: the SDK refuses it too", name);
        if (res.rc != PAY_OK) {
            CHECK(res.ev.event_id[0] == '\0' && res.ev.order_id[0] == '\0' && res.ev.amount == 0,
                  "notify %s: no event on refusal", name);
            continue;
        }
        if ((s = jstr(e, "kind")) != NULL)
            CHECK_STR_EQ(kind_name(res.ev.kind), s, "notify %s: kind", name);
        if ((s = jstr(e, "event_id")) != NULL)
            CHECK_STR_EQ(res.ev.event_id, s, "notify %s: event id is notify_id", name);
        if ((s = jstr(e, "type")) != NULL)
            CHECK_STR_EQ(res.ev.type, s, "notify %s: type", name);
        if ((s = jstr(e, "order_id")) != NULL)
            CHECK_STR_EQ(res.ev.order_id, s, "notify %s: order id is out_trade_no", name);
        if ((s = jstr(e, "provider_ref")) != NULL)
            CHECK_STR_EQ(res.ev.provider_ref, s, "notify %s: provider ref is trade_no", name);
        if ((s = jstr(e, "refund_id")) != NULL)
            CHECK_STR_EQ(res.ev.refund_id, s, "notify %s: refund id is out_biz_no when ours", name);
        if ((s = jstr(e, "provider_refund_id")) != NULL)
            CHECK_STR_EQ(res.ev.provider_refund_id, s, "notify %s: provider refund id trade_no:out_biz_no",
                         name);
        if (json_object_get(e, "amount") != NULL)
            CHECK_INT_EQ(res.ev.amount, json_integer_value(json_object_get(e, "amount")), "notify %s: amount",
                         name);
        CHECK_STR_EQ(res.ev.currency, "CNY", "notify %s: currency CNY", name);
    }
}

/* A notification signed here with the test Alipay key (for the attacks below). */
static char *signed_notify(const char *extra)
{
    struct alipay_params ps = {.n = 0};
    struct sbuf b = {0};
    char *content, *sig, *body;
    size_t i;
    body = xasprintf("notify_id=n_local_1&app_id=%s&charset=utf-8&sign_type=RSA2&trade_status=TRADE_SUCCESS&"
                     "out_trade_no=ord_01JLOCAL0000000000000000&trade_no=2026112922001446880500999999&"
                     "total_amount=68.00%s",
                     jstr(V, "app_id"), extra);
    if (alipay_form_parse(body, strlen(body), &ps) != 0) {
        free(body);
        return NULL;
    }
    free(body);
    content = alipay_sign_content(&ps, 1);
    sig = alipay_sign_b64(ali_priv, content);
    free(content);
    for (i = 0; i < ps.n; i++) {
        size_t vn = strlen(ps.p[i].value);
        char *enc = xmalloc(pct_encoded_len(ps.p[i].value, vn) + 1);
        pct_encode(ps.p[i].value, vn, enc);
        sbuf_printf(&b, "%s%s=%s", i ? "&" : "", ps.p[i].key, enc);
        free(enc);
    }
    {
        char *enc = xmalloc(pct_encoded_len(sig, strlen(sig)) + 1);
        pct_encode(sig, strlen(sig), enc);
        sbuf_printf(&b, "&sign=%s", enc);
        free(enc);
    }
    free(sig);
    alipay_params_free(&ps);
    return b.data;
}

static void expect_notify(const char *body, size_t len, enum pay_rc rc, const char *reason, const char *what)
{
    struct pay_webhook_res res;
    alipay_notify_check(body, len, ali_pub, jstr(V, "app_id"), &res);
    CHECK(res.rc == rc && strcmp(res.reason, reason) == 0, "%s: %s %s (got %s %s)", what, pay_rc_name(rc),
          reason, pay_rc_name(res.rc), res.reason);
}

static void test_notification_attacks(void)
{
    char *b, *big;
    struct sbuf s = {0};
    struct pay_webhook_res res;

    b = signed_notify("");
    expect_notify(b, strlen(b), PAY_OK, "", "signed here: accepted (the helper works)");
    alipay_notify_check(b, strlen(b), ali_pub, "2021000000000002", &res);
    CHECK(res.rc == PAY_INVALID && strcmp(res.reason, "app_id_mismatch") == 0,
          "another app id configured: refused");
    alipay_notify_check(b, strlen(b), app_pub, jstr(V, "app_id"), &res);
    CHECK(res.rc == PAY_INVALID && strcmp(res.reason, "signature_mismatch") == 0,
          "verified with the app's own public key (the classic mix-up): refused");
    /* A body cut anywhere inside the signature. */
    expect_notify(b, strlen(b) - 3, PAY_INVALID, "signature_mismatch", "last bytes of the signature cut");
    /* The same parameter twice, even with the same value. */
    sbuf_puts(&s, b);
    sbuf_puts(&s, "&notify_id=n_local_1");
    expect_notify(s.data, s.len, PAY_INVALID, "body_malformed", "a parameter repeated with the same value");
    sbuf_reset(&s);
    sbuf_puts(&s, b);
    sbuf_puts(&s, "&sign=AAAA");
    expect_notify(s.data, s.len, PAY_INVALID, "body_malformed", "two signatures");
    sbuf_free(&s);
    free(b);

    b = signed_notify("&trans_currency=cny");
    expect_notify(b, strlen(b), PAY_INVALID, "currency_not_cny", "trans_currency 'cny' (lower case)");
    free(b);
    b = signed_notify("&trans_currency=CNY");
    expect_notify(b, strlen(b), PAY_OK, "", "trans_currency CNY: accepted");
    free(b);
    b = signed_notify("&out_biz_no=rfd_01J%22x");
    expect_notify(b, strlen(b), PAY_IGNORED, "refund_not_identifiable",
                  "a refund number with a quote: unusable");
    free(b);
    b = signed_notify("&gmt_refund=2026-11-30+10%3A00%3A00");
    expect_notify(b, strlen(b), PAY_IGNORED, "refund_not_identifiable", "a refund without out_biz_no");
    free(b);
    b = signed_notify("&total_amount2=1");
    expect_notify(b, strlen(b), PAY_OK, "", "an unknown signed parameter is fine");
    free(b);

    expect_notify("", 0, PAY_INVALID, "body_size", "empty body");
    big = xmalloc(ALIPAY_NOTIFY_MAX + 2);
    memset(big, 'a', ALIPAY_NOTIFY_MAX + 1);
    memcpy(big, "a=", 2);
    big[ALIPAY_NOTIFY_MAX + 1] = '\0';
    expect_notify(big, ALIPAY_NOTIFY_MAX + 1, PAY_INVALID, "body_size",
                  "a body of ALIPAY_NOTIFY_MAX + 1 bytes");
    free(big);
    for (int i = 0; i <= ALIPAY_PARAMS_MAX; i++)
        sbuf_printf(&s, "%sk%d=v", i ? "&" : "", i);
    expect_notify(s.data, s.len, PAY_INVALID, "body_malformed", "65 parameters");
    sbuf_free(&s);
    expect_notify("a=1&&b=2", 8, PAY_INVALID, "body_malformed", "an empty pair");
    expect_notify("a=1&", 4, PAY_INVALID, "body_malformed", "a trailing '&'");
    expect_notify("a=1&b", 5, PAY_INVALID, "body_malformed", "a pair without '='");
    expect_notify("=1", 2, PAY_INVALID, "body_malformed", "an empty name");
    expect_notify("a%2=1", 5, PAY_INVALID, "body_malformed", "a bad escape in a name");
    expect_notify("a=1%G0", 6, PAY_INVALID, "body_malformed", "a bad escape in a value");
    expect_notify("a=1%00&sign=x", 13, PAY_INVALID, "body_malformed", "an escaped NUL");
    expect_notify("a=1\0&sign=x", 11, PAY_INVALID, "body_malformed", "a raw NUL");
    expect_notify("a.b=1", 5, PAY_INVALID, "body_malformed", "a name with '.'");
    expect_notify("trade%5Fstatus=1&sign=x", 23, PAY_INVALID, "sign_type_not_rsa2",
                  "escaped names decode first");
    expect_notify("sign=%2B%2B%2B%2B&sign_type=RSA2", 32, PAY_INVALID, "signature_mismatch",
                  "a short signature");
    expect_notify("app_id=1&sign_type=RSA2", 23, PAY_INVALID, "signature_missing", "no signature");
    big = xmalloc(17 + ALIPAY_VALUE_MAX + 1);
    memcpy(big, "sign_type=RSA2&a=", 17);
    memset(big + 17, 'v', ALIPAY_VALUE_MAX - 1 + 2);
    expect_notify(big, 17 + ALIPAY_VALUE_MAX + 1, PAY_INVALID, "body_malformed",
                  "a value over ALIPAY_VALUE_MAX");
    free(big);
}

/* ---- answers ----------------------------------------------------------------------------- */

static void test_answer_vectors(void)
{
    json_t *as = json_object_get(V, "answers"), *a;
    size_t i;

    json_array_foreach(as, i, a)
    {
        const char *name = jstr0(a, "name"), *body = jstr(a, "body"), *s;
        json_t *e = json_object_get(a, "expect"), *resp = NULL;
        int signed_ = -1;
        char reason[64];
        enum pay_rc rc =
            alipay_answer_open(body, strlen(body), jstr(a, "method"), ali_pub, &resp, &signed_, reason);

        CHECK_STR_EQ(pay_rc_name(rc), jstr(e, "rc"), "answer %s: %s", name, jstr0(e, "rc"));
        if ((s = jstr(e, "reason")) != NULL)
            CHECK_STR_EQ(reason, s, "answer %s: reason %s", name, s);
        if (rc == PAY_OK) {
            CHECK_INT_EQ(signed_, json_integer_value(json_object_get(e, "signed")), "answer %s: signed",
                         name);
            CHECK(json_is_object(resp) && jstr(resp, "code") != NULL, "answer %s: the response object", name);
        } else {
            CHECK(resp == NULL && signed_ == 0, "answer %s: nothing on failure", name);
        }
        if (strcmp(name, "precreate") == 0 || strcmp(name, "query_paid") == 0 ||
            strcmp(name, "refund_y") == 0)
            CHECK(json_is_true(json_object_get(a, "sdk_ok")), "answer %s: the SDK verifies it too", name);
        if (strcmp(name, "precreate_escaped_slashes") == 0)
            CHECK_STR_EQ(jstr(resp, "qr_code"), "https://qr.alipay.com/bax03206ug0kulveltqc80a8",
                         "answer %s: \\/ read as /", name);
        json_decref(resp);
    }
}

static void test_codes(void)
{
    char r[64];
    CHECK(alipay_code_rc("40004", "ACQ.TRADE_HAS_FINISHED", r) == PAY_DECLINED &&
              strcmp(r, "ACQ.TRADE_HAS_FINISHED") == 0,
          "40004 business failure: declined, reason its sub_code");
    CHECK(alipay_code_rc("40004", "ACQ.SYSTEM_ERROR", r) == PAY_UNAVAILABLE, "ACQ.SYSTEM_ERROR: unavailable");
    CHECK(alipay_code_rc("20000", NULL, r) == PAY_UNAVAILABLE && strcmp(r, "alipay_20000") == 0,
          "20000: unavailable, alipay_20000");
    CHECK(alipay_code_rc("40002", "isv.invalid-signature", r) == PAY_MISCONFIGURED,
          "isv.invalid-signature: misconfigured (the app key)");
    CHECK(alipay_code_rc("40002", "isv.invalid-app-id", r) == PAY_MISCONFIGURED,
          "isv.invalid-app-id: misconfigured");
    CHECK(alipay_code_rc("40006", "isv.insufficient-isv-permissions", r) == PAY_MISCONFIGURED,
          "40006: misconfigured");
    CHECK(alipay_code_rc("40002", "isv.missing-param", r) == PAY_INVALID, "other 40002: invalid");
    CHECK(alipay_code_rc(NULL, "sub code with spaces", r) == PAY_UNAVAILABLE &&
              strcmp(r, "alipay_unknown") == 0,
          "no code, an odd sub_code: unavailable, never echoed");
}

static void test_basics(void)
{
    char t[20];
    struct alipay_params ps = {.n = 0};
    char *c;

    CHECK_STR_EQ(alipay_time(0, t), "1970-01-01 08:00:00", "epoch in Beijing");
    CHECK_STR_EQ(alipay_time(json_integer_value(json_object_get(V, "now_ms")), t), "2026-11-29 16:30:00",
                 "the vectors' time in Beijing");
    CHECK_STR_EQ(alipay_time(1798732800000LL, t), "2027-01-01 00:00:00", "new year in Beijing is 16:00 UTC");
    CHECK_STR_EQ(alipay_time(1798732799999LL, t), "2026-12-31 23:59:59",
                 "a millisecond before: the old year");

    alipay_params_add(&ps, "b", "2");
    alipay_params_add(&ps, "a", "1");
    alipay_params_add(&ps, "B", "3");
    alipay_params_add(&ps, "ab", "");
    alipay_params_add(&ps, "sign", "x");
    alipay_params_add(&ps, "sign_type", "RSA2");
    CHECK(alipay_params_add(&ps, "a", "again") == -1, "a name is added once");
    c = alipay_sign_content(&ps, 0);
    CHECK_STR_EQ(c, "B=3&a=1&b=2&sign_type=RSA2", "request content: byte order, no empty value, no sign");
    free(c);
    c = alipay_sign_content(&ps, 1);
    CHECK_STR_EQ(c, "B=3&a=1&b=2", "notification content: sign_type left out too");
    free(c);
    alipay_params_free(&ps);

    CHECK(pay_provider_find("alipay") == &pay_alipay, "registry: alipay is the real provider");
    CHECK_STR_EQ(pay_alipay.ack_body, "success", "ack: success");
    CHECK_STR_EQ(pay_alipay.ack_type, "text/plain", "ack: text/plain");
    CHECK_STR_EQ(pay_alipay.fail_body, "fail", "failure: fail");
    CHECK(pay_alipay.query != NULL && pay_alipay.refund != NULL, "query and refund offered");
}

static void test_unconfigured(void)
{
    struct order o;
    struct co_out out;
    char *err = NULL;

    memset(&o, 0, sizeof o);
    snprintf(o.id, sizeof o.id, "ord_01JX");
    o.amount = 100;
    snprintf(o.currency, sizeof o.currency, "CNY");
    unsetenv("TG_ALIPAY_APP_ID");
    config_free();
    if (config_load(NULL, &err) != 0) {
        printf("Bail out! %s\n", err);
        exit(1);
    }
    CHECK(pay_alipay.configured() == 0, "without TG_ALIPAY_APP_ID: not configured");
    out = checkout(&o, "page", "x", "n", "r", NULL, 0);
    CHECK(out.calls == 1 && out.res.rc == PAY_MISCONFIGURED && strcmp(out.res.reason, "not_configured") == 0,
          "checkout when not configured: misconfigured at once");
    configure(jstr(V, "app_id"));
    CHECK(pay_alipay.configured() == 1, "configured with the three keys");
    CHECK(alipay_pay_load_keys(&err) == 0 && err == NULL, "the key files load");
    setenv("TG_ALIPAY_PUBLIC_KEY_FILE", "/nonexistent/alipay_public.pem", 1);
    config_free();
    config_load(NULL, &err);
    CHECK(alipay_pay_load_keys(&err) == -1 && err != NULL && strstr(err, "TG_ALIPAY_PUBLIC_KEY_FILE") != NULL,
          "a missing public key file is named");
    free(err);
    out = checkout(&o, "page", "x", "n", "r", NULL, 0);
    CHECK(out.res.rc == PAY_MISCONFIGURED && strcmp(out.res.reason, "public_key_unusable") == 0,
          "checkout with an unreadable public key: misconfigured");
    configure(jstr(V, "app_id"));
}

int main(void)
{
    const char *dd = getenv("TEST_DATA_DIR");
    char path[600];
    json_error_t jerr;

    if (dd == NULL || mkdtemp(tmp_dir) == NULL) {
        printf("Bail out! TEST_DATA_DIR unset or no temporary folder\n");
        return 1;
    }
    snprintf(keydir, sizeof keydir, "%s/alipay", dd);
    snprintf(path, sizeof path, "%s/vectors.json", keydir);
    V = json_load_file(path, 0, &jerr);
    if (V == NULL) {
        printf("Bail out! %s: %s\n", path, jerr.text);
        return 1;
    }
    configure(jstr(V, "app_id"));
    ali_pub = load_key("alipay_public.pem", 0);
    ali_priv = load_key("alipay_private.pem", 1);
    app_pub = load_key("app_public.pem", 0);

    test_basics();
    test_request_vectors();
    test_checkout_refusals();
    test_notification_vectors();
    test_notification_attacks();
    test_answer_vectors();
    test_codes();
    test_unconfigured();

    rsa_key_free(ali_pub);
    rsa_key_free(ali_priv);
    rsa_key_free(app_pub);
    json_decref(V);
    config_free();
    {
        char cmd[64];
        snprintf(cmd, sizeof cmd, "rm -rf %s", tmp_dir);
        if (system(cmd) != 0)
            printf("# could not remove %s\n", tmp_dir);
    }
    return test_done();
}
