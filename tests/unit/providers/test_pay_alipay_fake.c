/*
 * The "alipay" provider from the registry over the real outbound client (a synchronous
 * executor) against the fake Alipay gateway (tests/fakes/alipay.mjs, whose request checks and
 * answer signatures agree with the official SDK) started as a child process:
 *  - query: unknown (ACQ.TRADE_NOT_EXIST), waiting, paid (the event as a notification would
 *    carry it), closed;
 *  - QR checkout: the code_url, the same one for the same order; Alipay down (502): unavailable;
 *  - refunds: done (fund_change Y), the same refund again (fund_change N, confirmed by the refund
 *    query), the same refund id for another amount, past the payment, an unknown trade;
 *  - keys: the app's own public key in TG_ALIPAY_PUBLIC_KEY_FILE (every answer fails its
 *    signature: misconfigured), an app private key Alipay does not know (isv.invalid-signature).
 *
 * Needs node (NODE, found by meson) and the fake (ALIPAY_FAKE); missing either fails the test,
 * it does not skip it.
 */
#include "../test.h"
#include "fakeproc.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "core/config.h"
#include "core/mem.h"
#include "net/net.h"
#include "providers/pay/alipay.h"
#include "providers/pay/pay.h"

static char tmp_dir[] = "/tmp/tg-alipay-fake-XXXXXX";
static struct fakeproc fake;
static char fake_url[128], gateway[160], app_id[32], app_key[512], ali_pub[512];
static struct net_exec sx; /* synchronous: each operation completes before it returns */

static int start_fake(void)
{
    char keys[600];
    snprintf(keys, sizeof keys, "%s/keys", tmp_dir);
    const char *args[] = {"--keys-dir", keys, NULL};
    json_t *j = fakeproc_start(&fake, "ALIPAY_FAKE", args), *k = json_object_get(j, "keys");
    if (!json_is_object(k)) {
        if (j != NULL)
            printf("Bail out! the fake gave no keys\n");
        json_decref(j);
        return -1;
    }
    fakeproc_str(j, "url", fake_url, sizeof fake_url);
    fakeproc_str(j, "gateway", gateway, sizeof gateway);
    fakeproc_str(j, "app_id", app_id, sizeof app_id);
    fakeproc_str(k, "appPrivateKeyFile", app_key, sizeof app_key);
    fakeproc_str(k, "alipayPublicKeyFile", ali_pub, sizeof ali_pub);
    json_decref(j);
    return 0;
}

static void stop_fake(void) { fakeproc_stop(&fake); }

static void sync_done(struct net_call *c)
{
    (void)c;
}

/* POST /__control/<name> with a JSON array of arguments; 1 when the fake answered 200. */
static int control(const char *name, const char *args)
{
    struct net_call c;
    char *u = xasprintf("%s/__control/%s", fake_url, name);
    int ok;
    net_call_init(&c, "test", "POST", u);
    net_call_body(&c, "application/json", args, strlen(args));
    net_exec_submit(&sx, &c, sync_done);
    ok = c.err == NET_OK && c.status == 200;
    if (!ok)
        printf("# control %s %s: %ld %s\n", name, args, c.status, c.resp_body ? c.resp_body : "");
    net_call_release(&c);
    free(u);
    return ok;
}

static void configure(const char *priv, const char *pub)
{
    char *err = NULL;
    setenv("TG_DATA_DIR", tmp_dir, 1);
    setenv("TG_JWT_SECRET", "unit-test-secret-0123456789abcdef-0123456789", 1);
    setenv("TG_ALIPAY_APP_ID", app_id, 1);
    setenv("TG_ALIPAY_PRIVATE_KEY_FILE", priv, 1);
    setenv("TG_ALIPAY_PUBLIC_KEY_FILE", pub, 1);
    setenv("TG_ALIPAY_GATEWAY", gateway, 1);
    config_free();
    if (config_load(NULL, &err) != 0) {
        printf("Bail out! config_load: %s\n", err);
        exit(1);
    }
}

static struct order mk_order(const char *id, int64_t amount)
{
    struct order o;
    memset(&o, 0, sizeof o);
    snprintf(o.id, sizeof o.id, "%s", id);
    o.amount = amount;
    snprintf(o.currency, sizeof o.currency, "CNY");
    snprintf(o.provider, sizeof o.provider, "alipay");
    return o;
}

/* ---- operations, run synchronously ---- */

struct q_out {
    int calls;
    struct pay_query_res res;
};
static void on_query(void *arg, const struct pay_query_res *res)
{
    struct q_out *o = arg;
    o->calls++;
    o->res = *res;
}
static struct q_out query(const struct order *o)
{
    struct q_out out;
    memset(&out, 0, sizeof out);
    pay_alipay.query(&sx, o, (int64_t)time(NULL) * 1000, on_query, &out);
    return out;
}

struct r_out {
    int calls;
    struct pay_refund_res res;
};
static void on_refund(void *arg, const struct pay_refund_res *res)
{
    struct r_out *o = arg;
    o->calls++;
    o->res = *res;
}
static struct r_out refund(const struct order *o, const char *id, int64_t amount)
{
    struct pay_refund_req rq = {o, id, amount, "unit test", "http://127.0.0.1:1/api/v1/webhooks/alipay"};
    struct r_out out;
    memset(&out, 0, sizeof out);
    pay_alipay.refund(&sx, &rq, on_refund, &out);
    return out;
}

struct c_out {
    int calls;
    struct pay_checkout_res res;
};
static void on_checkout(void *arg, const struct pay_checkout_res *res)
{
    struct c_out *o = arg;
    o->calls++;
    o->res = *res;
}
static struct c_out checkout_qr(const struct order *o)
{
    struct pay_checkout_req rq = {.order = o,
                                  .description = "115 credits",
                                  .channel = "qr",
                                  .notify_url = "http://127.0.0.1:1/api/v1/webhooks/alipay",
                                  .return_url = "http://127.0.0.1:1/r",
                                  .now_ms = time(NULL) * 1000LL};
    struct c_out out;
    memset(&out, 0, sizeof out);
    pay_alipay.checkout(&sx, &rq, on_checkout, &out);
    return out;
}

#define RC_IS(got, want, reason_want, ...)                                                                   \
    CHECK((got).calls == 1 && (got).res.rc == (want) && strcmp((got).res.reason, (reason_want)) == 0,        \
          __VA_ARGS__);                                                                                      \
    if ((got).res.rc != (want) || strcmp((got).res.reason, (reason_want)) != 0)                              \
    printf("#   got %s '%s'\n", pay_rc_name((got).res.rc), (got).res.reason)

static void test_query(void)
{
    struct order a = mk_order("ord_01JFAKEQUERY0000000000001", 6800);
    struct q_out q;

    q = query(&a);
    RC_IS(q, PAY_NOTFOUND, "trade_not_exist", "query: no trade yet (the buyer never opened the cashier)");
    CHECK(control("createTrade", "[\"ord_01JFAKEQUERY0000000000001\",{\"fen\":6800,\"subject\":\"s\"}]"),
          "the buyer opens the cashier");
    q = query(&a);
    RC_IS(q, PAY_OK, "", "query: ok");
    CHECK(q.res.state == PAY_STATE_PENDING, "WAIT_BUYER_PAY: pending");
    CHECK(control("setTradeStatus", "[\"ord_01JFAKEQUERY0000000000001\",\"TRADE_SUCCESS\"]"),
          "paid at Alipay");
    q = query(&a);
    CHECK(q.res.rc == PAY_OK && q.res.state == PAY_STATE_PAID, "TRADE_SUCCESS: paid");
    CHECK(q.res.ev.kind == PAY_EVENT_PAID && q.res.ev.amount == 6800 && strcmp(q.res.ev.currency, "CNY") == 0,
          "paid: 6800 fen CNY");
    CHECK_STR_EQ(q.res.ev.order_id, a.id, "paid: our order id");
    CHECK(strncmp(q.res.ev.event_id, "query:2026", 10) == 0 &&
              strcmp(q.res.ev.event_id + 6, q.res.ev.provider_ref) == 0,
          "paid: event id query:<trade_no> (%s)", q.res.ev.event_id);
    CHECK(control("setTradeStatus", "[\"ord_01JFAKEQUERY0000000000001\",\"TRADE_FINISHED\"]"), "finished");
    q = query(&a);
    CHECK(q.res.rc == PAY_OK && q.res.state == PAY_STATE_PAID, "TRADE_FINISHED: paid");
    CHECK(control("createTrade", "[\"ord_01JFAKEQUERY0000000000002\",{\"fen\":100,\"subject\":\"s\"}]") &&
              control("setTradeStatus", "[\"ord_01JFAKEQUERY0000000000002\",\"TRADE_CLOSED\"]"),
          "another trade closed");
    a = mk_order("ord_01JFAKEQUERY0000000000002", 100);
    q = query(&a);
    CHECK(q.res.rc == PAY_OK && q.res.state == PAY_STATE_CLOSED, "TRADE_CLOSED: closed");

    CHECK(control("failNext", "[\"alipay.trade.query\",{\"status\":502},3]"),
          "Alipay answers 502 three times");
    q = query(&a);
    RC_IS(q, PAY_UNAVAILABLE, "http_502", "query through 502s (retried twice): unavailable, http_502");
}

static void test_checkout(void)
{
    struct order o = mk_order("ord_01JFAKEQR000000000000001", 990);
    struct c_out c1, c2;
    json_t *j;

    c1 = checkout_qr(&o);
    RC_IS(c1, PAY_OK, "", "QR checkout: ok");
    j = json_loads(c1.res.checkout, 0, NULL);
    CHECK(json_object_size(j) == 1 && strncmp(json_string_value(json_object_get(j, "code_url")),
                                              "https://qr.alipay.com/bax", 25) == 0,
          "QR checkout: {\"code_url\":\"https://qr.alipay.com/bax...\"} (%s)", c1.res.checkout);
    json_decref(j);
    CHECK_STR_EQ(c1.res.provider_ref, "", "QR checkout: known by our order id");
    c2 = checkout_qr(&o);
    CHECK(c2.res.rc == PAY_OK && strcmp(c1.res.checkout, c2.res.checkout) == 0,
          "the same order again: the same QR code");
    CHECK(control("failNext", "[\"alipay.trade.precreate\",{\"status\":502},2]"),
          "Alipay down for precreate");
    o = mk_order("ord_01JFAKEQR000000000000002", 990);
    c1 = checkout_qr(&o);
    RC_IS(c1, PAY_UNAVAILABLE, "http_502",
          "QR checkout while Alipay is down: unavailable (the next provider)");
}

static void test_refund(void)
{
    struct order o = mk_order("ord_01JFAKEREFUND000000000001", 6800);
    struct order none = mk_order("ord_01JFAKEREFUND000000000999", 6800);
    struct r_out r;

    CHECK(control("createTrade", "[\"ord_01JFAKEREFUND000000000001\",{\"fen\":6800,\"subject\":\"s\"}]") &&
              control("setTradeStatus", "[\"ord_01JFAKEREFUND000000000001\",\"TRADE_SUCCESS\"]"),
          "a paid trade");
    r = refund(&o, "rfd_01JFAKE0000000000000001", 2000);
    RC_IS(r, PAY_OK, "", "refund 20.00: ok");
    CHECK(r.res.pending == 0, "fund_change Y: done");
    CHECK(strncmp(r.res.provider_refund_id, "2026", 4) == 0 &&
              strcmp(strchr(r.res.provider_refund_id, ':') + 1, "rfd_01JFAKE0000000000000001") == 0,
          "provider refund id <trade_no>:<refund id> (%s)", r.res.provider_refund_id);
    r = refund(&o, "rfd_01JFAKE0000000000000001", 2000);
    RC_IS(r, PAY_OK, "", "the same refund again (fund_change N): confirmed by the refund query, ok");
    CHECK(r.res.pending == 0, "and done");
    r = refund(&o, "rfd_01JFAKE0000000000000001", 3000);
    RC_IS(r, PAY_DECLINED, "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL",
          "the same refund id for another amount: declined");
    r = refund(&o, "rfd_01JFAKE0000000000000002", 4801);
    RC_IS(r, PAY_DECLINED, "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "past the payment: declined");
    r = refund(&none, "rfd_01JFAKE0000000000000003", 100);
    RC_IS(r, PAY_INVALID, "ACQ.TRADE_NOT_EXIST", "an unknown trade: invalid");
    CHECK(control("setTradeStatus", "[\"ord_01JFAKEREFUND000000000001\",\"TRADE_FINISHED\"]"), "finished");
    r = refund(&o, "rfd_01JFAKE0000000000000004", 100);
    RC_IS(r, PAY_DECLINED, "ACQ.TRADE_HAS_FINISHED", "a finished trade: declined");
}

static void test_keys(void)
{
    const char *dd = getenv("TEST_DATA_DIR");
    char other_pub[600], other_priv[600];
    struct order a = mk_order("ord_01JFAKEQUERY0000000000001", 6800);
    struct q_out q;

    snprintf(other_pub, sizeof other_pub, "%s/alipay/alipay_public.pem", dd ? dd : ".");
    snprintf(other_priv, sizeof other_priv, "%s/alipay/app_private.pem", dd ? dd : ".");
    configure(app_key, other_pub);
    q = query(&a);
    RC_IS(q, PAY_MISCONFIGURED, "response_signature_invalid",
          "another public key than Alipay's: every answer fails verification, misconfigured");
    configure(other_priv, ali_pub);
    q = query(&a);
    RC_IS(q, PAY_MISCONFIGURED, "isv.invalid-signature",
          "an app key Alipay does not know: isv.invalid-signature");
    configure(app_key, ali_pub);
    q = query(&a);
    CHECK(q.res.rc == PAY_OK, "the right keys again: ok");
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    if (mkdtemp(tmp_dir) == NULL || net_global_init() != 0) {
        printf("Bail out! no temporary folder or no libcurl\n");
        return 1;
    }
    net_exec_init(&sx, NULL, NULL, NULL);
    if (start_fake() != 0)
        return 1;
    configure(app_key, ali_pub);
    CHECK(pay_alipay.configured(), "configured with the fake's app and keys");

    test_query();
    test_checkout();
    test_refund();
    test_keys();

    stop_fake();
    net_exec_dispose(&sx);
    config_free();
    net_global_cleanup();
    {
        char cmd[96];
        snprintf(cmd, sizeof cmd, "rm -rf %s", tmp_dir);
        if (system(cmd) != 0)
            printf("# could not remove %s\n", tmp_dir);
    }
    return test_done();
}
