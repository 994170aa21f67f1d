/*
 * Stripe end to end at the provider level: the registry's "stripe" provider through the real
 * net client (its thread, an executor woken like a loop's) against the fake Stripe
 * (tests/fakes/stripe.mjs) started as a child process. The fake refuses unknown and missing
 * parameters and checks the key, so this holds the form bodies stripe.c writes against
 * Stripe's rules as the fake knows them.
 *
 * Covers: a checkout and its session; the same order again (Idempotency-Key: the same
 * session); a 503 answered once (retried under the key: one session) and always
 * (unavailable); a wrong key (misconfigured); a catalog price id; query before and after the
 * buyer pays, and after the session expired; refunds partial, pending, too large (declined),
 * the rest, then already refunded (declined). Plans: a subscription-mode checkout, paid, queried
 * (the subscription it started), then cancel, resume, an upgrade with an inline price and a
 * downgrade to a catalog price (the fake holds what each set), cancel now, and the refusals
 * of a canceled or unknown subscription.
 *
 * Needs node (NODE, found by meson) and the fake (STRIPE_FAKE); missing either fails the test.
 */
#include "../test.h"
#include "fakeproc.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "core/config.h"
#include "core/ids.h"
#include "core/log.h"
#include "core/mem.h"
#include "net/net.h"
#include "providers/pay/pay.h"

static char tmp_root[] = "/tmp/tg_test_pay_stripe_fake.XXXXXX";
static struct fakeproc fake;
static char fake_url[128], secret_key[128], webhook_secret[128];

static struct net_client *client;
static struct net_exec ex; /* completions woken like a loop's */
static struct net_exec sx; /* synchronous: the test's own requests to the fake */

static struct fake_waker W = FAKE_WAKER_INIT;

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int start_fake(void)
{
    json_t *j = fakeproc_start(&fake, "STRIPE_FAKE", NULL);
    if (j == NULL)
        return -1;
    fakeproc_str(j, "url", fake_url, sizeof fake_url);
    fakeproc_str(j, "secretKey", secret_key, sizeof secret_key);
    fakeproc_str(j, "webhookSecret", webhook_secret, sizeof webhook_secret);
    json_decref(j);
    return 0;
}

static void stop_fake(void) { fakeproc_stop(&fake); }

static void sync_done(struct net_call *c)
{
    (void)c;
}

/* POST /__control/<method> with a JSON array; returns "result" (caller decrefs) or NULL. */
static json_t *control(const char *method, const char *args)
{
    struct net_call c;
    json_t *j = NULL, *r = NULL;
    char *u = xasprintf("%s/__control/%s", fake_url, method);
    net_call_init(&c, "test", "POST", u);
    net_call_body(&c, "application/json", args, strlen(args));
    net_exec_submit(&sx, &c, sync_done);
    if (c.err == NET_OK && c.resp_body != NULL)
        j = json_loads(c.resp_body, 0, NULL);
    if (j != NULL)
        r = json_incref(json_object_get(j, "result"));
    json_decref(j);
    net_call_release(&c);
    free(u);
    return r;
}

static long long counter(const char *name)
{
    struct net_call c;
    json_t *j;
    long long v = -1;
    char *u = xasprintf("%s/__control/state", fake_url);
    net_call_init(&c, "test", "GET", u);
    net_exec_submit(&sx, &c, sync_done);
    j = c.resp_body ? json_loads(c.resp_body, 0, NULL) : NULL;
    v = json_integer_value(json_object_get(json_object_get(json_object_get(j, "result"), "counters"), name));
    json_decref(j);
    net_call_release(&c);
    free(u);
    return v;
}

static void configure(const char *sk)
{
    char dir[512], *err = NULL;
    snprintf(dir, sizeof dir, "%s/data", tmp_root);
    setenv("TG_DATA_DIR", dir, 1);
    setenv("TG_STRIPE_SECRET_KEY", sk, 1);
    setenv("TG_STRIPE_WEBHOOK_SECRET", webhook_secret, 1);
    setenv("TG_STRIPE_API_BASE", fake_url, 1);
    if (config_load(NULL, &err) != 0) {
        printf("Bail out! config_load: %s\n", err);
        exit(1);
    }
}

/* Waits (draining like a loop) until *flag is set, at most 20 s. */
static void wait_for(const int *flag)
{
    int64_t deadline = wall_ms() + 20000;
    for (;;) {
        net_exec_drain(&ex);
        if (*flag || wall_ms() > deadline)
            return;
        fake_waker_nap(&W);
    }
}

static struct pay_checkout_res co;
static struct pay_query_res qr;
static struct pay_refund_res rf;
static int done_flag;

static void co_done(void *arg, const struct pay_checkout_res *r)
{
    (void)arg;
    co = *r;
    done_flag = 1;
}
static void q_done(void *arg, const struct pay_query_res *r)
{
    (void)arg;
    qr = *r;
    done_flag = 1;
}
static void rf_done(void *arg, const struct pay_refund_res *r)
{
    (void)arg;
    rf = *r;
    done_flag = 1;
}

static void new_order(struct order *o, int64_t amount, const char *currency)
{
    memset(o, 0, sizeof *o);
    id_new(o->id, "ord");
    snprintf(o->product, sizeof o->product, "credits_115");
    o->amount = amount;
    snprintf(o->currency, sizeof o->currency, "%s", currency);
    snprintf(o->provider, sizeof o->provider, "stripe");
    o->created_at = wall_ms();
    o->expires_at = o->created_at + 2 * 3600 * 1000;
}

static const char *co_interval; /* a plan's checkout: "month" */

static void checkout(const struct pay_provider *p, struct order *o, const char *price_id, int64_t now)
{
    struct pay_checkout_req r;
    char ret[256];
    memset(&r, 0, sizeof r);
    snprintf(ret, sizeof ret, "https://pay.example.com/api/v1/orders/%s/return", o->id);
    r.order = o;
    r.description = "115 credits";
    r.channel = "";
    r.notify_url = "https://pay.example.com/api/v1/webhooks/stripe";
    r.return_url = ret;
    r.cancel_url = "https://app.example.com/buy?cancelled=1";
    r.email = "buyer@example.com";
    r.provider_product_id = price_id;
    r.interval = co_interval;
    r.now_ms = now;
    done_flag = 0;
    memset(&co, 0, sizeof co);
    p->checkout(&ex, &r, co_done, NULL);
    wait_for(&done_flag);
}

static struct pay_sub_res sr;
static void query(const struct pay_provider *p, const struct order *o);
static void refund(const struct pay_provider *p, const struct order *o, int64_t amount, char rid[TG_ID_MAX]);

static void sr_done(void *arg, const struct pay_sub_res *r)
{
    (void)arg;
    sr = *r;
    done_flag = 1;
}

static void sub_op(const struct pay_provider *p, enum pay_sub_action a, const char *sub_ref, const char *product,
                   int64_t amount, const char *price_id, int prorate_now)
{
    struct pay_sub_req r;
    char key[TG_ID_MAX];
    memset(&r, 0, sizeof r);
    id_new(key, "sch");
    r.action = a;
    r.subscription_ref = sub_ref;
    r.sub_id = "sub_01JDZ8K6Q3V5X7Y9A1B2C3D4E7";
    r.product = product;
    r.amount = amount;
    r.currency = "USD";
    r.interval = "month";
    r.provider_product_id = price_id;
    r.prorate_now = prorate_now;
    r.idem_key = key;
    r.now_ms = wall_ms();
    done_flag = 0;
    memset(&sr, 0, sizeof sr);
    p->subscription(&ex, &r, sr_done, NULL);
    wait_for(&done_flag);
}

/* The fake's subscription (public form) of ref; caller decrefs. */
static json_t *fake_sub(const char *ref)
{
    char *args = xasprintf("[\"%s\"]", ref);
    json_t *j = control("subscriptionFor", args);
    free(args);
    return j;
}

static void test_plans(const struct pay_provider *p)
{
    struct order o;
    char *args, sub_ref[TG_PROVIDER_REF_MAX];
    json_t *s, *item;
    int64_t end;

    CHECK(p->subscription != NULL, "stripe renews plans itself (the subscription operation)");
    new_order(&o, 1990, "USD");
    snprintf(o.product, sizeof o.product, "pro_monthly");
    co_interval = "month";
    checkout(p, &o, NULL, wall_ms());
    co_interval = NULL;
    CHECK(co.rc == PAY_OK, "plan checkout: a subscription-mode session (%s %s)", pay_rc_name(co.rc), co.reason);
    snprintf(o.provider_ref, sizeof o.provider_ref, "%s", co.provider_ref);
    args = xasprintf("[\"%s\"]", o.id);
    s = control("sessionFor", args);
    CHECK(strcmp(json_string_value(json_object_get(s, "mode")), "subscription") == 0 &&
              json_integer_value(json_object_get(s, "amount_total")) == 1990,
          "the fake holds a subscription-mode session for the plan's price");
    json_decref(s);
    json_decref(control("pay", args));
    free(args);
    query(p, &o);
    CHECK(qr.rc == PAY_OK && qr.state == PAY_STATE_PAID && qr.ev.amount == 1990 &&
              strncmp(qr.ev.subscription_ref, "sub_", 4) == 0,
          "query of the paid plan: paid, with the subscription (%s)", qr.ev.subscription_ref);
    snprintf(sub_ref, sizeof sub_ref, "%s", qr.ev.subscription_ref);
    {
        /* A plan's payment is its invoice's: refunds of the first order (through the session's
         * invoice) and of a renewal's (its own invoice). */
        struct order r2;
        char rid[TG_ID_MAX];
        json_t *rn;
        refund(p, &o, 500, rid);
        CHECK(rf.rc == PAY_OK && rf.pending == 0 && strncmp(rf.provider_refund_id, "re_", 3) == 0,
              "refund of a plan's first payment: through its invoice's payment intent (%s %s)", pay_rc_name(rf.rc),
              rf.reason);
        args = xasprintf("[\"%s\"]", sub_ref);
        rn = control("renew", args);
        free(args);
        new_order(&r2, 1990, "USD");
        snprintf(r2.product, sizeof r2.product, "pro_monthly");
        snprintf(r2.provider_ref, sizeof r2.provider_ref, "%s", json_string_value(json_object_get(rn, "invoice")));
        json_decref(rn);
        CHECK(strncmp(r2.provider_ref, "in_", 3) == 0, "a renewal: its invoice");
        refund(p, &r2, 1990, rid);
        CHECK(rf.rc == PAY_OK && rf.pending == 0, "refund of a renewal order (provider_ref the invoice): ok (%s %s)",
              pay_rc_name(rf.rc), rf.reason);
        refund(p, &r2, 1, rid);
        CHECK(rf.rc == PAY_DECLINED && strcmp(rf.reason, "stripe_charge_already_refunded") == 0,
              "refund more of the renewal: declined");
        snprintf(r2.provider_ref, sizeof r2.provider_ref, "in_1QNoSuchInvoice");
        refund(p, &r2, 100, rid);
        CHECK(rf.rc == PAY_INVALID && strcmp(rf.reason, "stripe_resource_missing") == 0,
              "refund of an invoice Stripe does not know: invalid");
    }
    s = fake_sub(sub_ref);
    item = json_array_get(json_object_get(json_object_get(s, "items"), "data"), 0);
    end = json_integer_value(json_object_get(item, "current_period_end"));
    CHECK(strcmp(json_string_value(json_object_get(json_object_get(s, "metadata"), "order_id")), o.id) == 0 &&
              strcmp(json_string_value(json_object_get(json_object_get(s, "metadata"), "product")), "pro_monthly") == 0 &&
              json_is_string(json_object_get(json_object_get(json_object_get(item, "price"), "recurring"), "interval")) &&
              strcmp(json_string_value(json_object_get(json_object_get(json_object_get(item, "price"), "recurring"), "interval")),
                     "month") == 0,
          "the subscription carries our order and product, monthly");
    json_decref(s);

    sub_op(p, PAY_SUB_CANCEL, sub_ref, NULL, 0, NULL, 0);
    CHECK(sr.rc == PAY_OK && sr.cancel_at_period_end == 1 && sr.period_end == end * 1000,
          "cancel: ok, ends at the period's end (%s %s)", pay_rc_name(sr.rc), sr.reason);
    sub_op(p, PAY_SUB_RESUME, sub_ref, NULL, 0, NULL, 0);
    CHECK(sr.rc == PAY_OK && sr.cancel_at_period_end == 0, "resume: ok, renews again");

    sub_op(p, PAY_SUB_CHANGE, sub_ref, "max_monthly", 4990, NULL, 1);
    CHECK(sr.rc == PAY_OK && sr.period_end == end * 1000, "upgrade with an inline price: ok (%s %s)",
          pay_rc_name(sr.rc), sr.reason);
    s = fake_sub(sub_ref);
    item = json_array_get(json_object_get(json_object_get(s, "items"), "data"), 0);
    CHECK(json_integer_value(json_object_get(json_object_get(item, "price"), "unit_amount")) == 4990 &&
              strcmp(json_string_value(json_object_get(json_object_get(s, "metadata"), "product")), "max_monthly") == 0,
          "the fake's subscription is at the new price, metadata names the new product");
    json_decref(s);
    args = xasprintf("[\"%s\"]", sub_ref);
    s = control("invoicesFor", args);
    free(args);
    CHECK(json_array_size(s) == 3 &&
              strcmp(json_string_value(json_object_get(json_array_get(s, 2), "billing_reason")), "subscription_update") == 0,
          "always_invoice: the proration was invoiced at once");
    json_decref(s);

    json_decref(control("setPrice", "[\"price_1ProMonthly\",{\"unit_amount\":1990,\"currency\":\"usd\",\"interval\":\"month\"}]"));
    sub_op(p, PAY_SUB_CHANGE, sub_ref, "pro_monthly", 1990, "price_1ProMonthly", 0);
    CHECK(sr.rc == PAY_OK, "downgrade to the catalog's price: ok (%s %s)", pay_rc_name(sr.rc), sr.reason);
    s = fake_sub(sub_ref);
    item = json_array_get(json_object_get(json_object_get(s, "items"), "data"), 0);
    CHECK(strcmp(json_string_value(json_object_get(json_object_get(item, "price"), "id")), "price_1ProMonthly") == 0,
          "the fake's subscription is at the catalog's price");
    json_decref(s);
    args = xasprintf("[\"%s\"]", sub_ref);
    s = control("invoicesFor", args);
    free(args);
    CHECK(json_array_size(s) == 3, "proration none: no invoice now");
    json_decref(s);

    sub_op(p, PAY_SUB_CANCEL_NOW, sub_ref, NULL, 0, NULL, 0);
    CHECK(sr.rc == PAY_OK, "cancel now: ok");
    s = fake_sub(sub_ref);
    CHECK(strcmp(json_string_value(json_object_get(s, "status")), "canceled") == 0, "the fake's subscription is canceled");
    json_decref(s);
    sub_op(p, PAY_SUB_RESUME, sub_ref, NULL, 0, NULL, 0);
    CHECK(sr.rc == PAY_INVALID, "resume of a canceled subscription: invalid");
    sub_op(p, PAY_SUB_CANCEL, "sub_1QNoSuchOne", NULL, 0, NULL, 0);
    CHECK(sr.rc == PAY_INVALID && strcmp(sr.reason, "stripe_resource_missing") == 0,
          "cancel of a subscription Stripe does not know: invalid");
}

static void query(const struct pay_provider *p, const struct order *o)
{
    done_flag = 0;
    memset(&qr, 0, sizeof qr);
    p->query(&ex, o, wall_ms(), q_done, NULL);
    wait_for(&done_flag);
}

static void refund(const struct pay_provider *p, const struct order *o, int64_t amount, char rid[TG_ID_MAX])
{
    struct pay_refund_req r;
    memset(&r, 0, sizeof r);
    id_new(rid, "rfd");
    r.order = o;
    r.refund_id = rid;
    r.amount = amount;
    r.reason = "test refund";
    done_flag = 0;
    memset(&rf, 0, sizeof rf);
    p->refund(&ex, &r, rf_done, NULL);
    wait_for(&done_flag);
}

int main(void)
{
    const struct pay_provider *p;
    struct order o, o2;
    char *err = NULL, *args, rid[TG_ID_MAX], first_ref[TG_PROVIDER_REF_MAX];
    json_t *s;
    int64_t now;

    signal(SIGPIPE, SIG_IGN);
    if (sodium_init() < 0 || mkdtemp(tmp_root) == NULL || net_global_init() != 0)
        return 1;
    net_exec_init(&sx, NULL, NULL, NULL);
    if (start_fake() != 0)
        return 1;
    client = net_client_start(64, &err);
    if (client == NULL) {
        printf("Bail out! net_client_start: %s\n", err);
        return 1;
    }
    net_exec_init(&ex, client, fake_waker_wake, &W);
    configure(secret_key);
    log_set_level("error");

    p = pay_provider_find("stripe");
    CHECK(p != NULL && p->checkout != NULL && p->query != NULL && p->refund != NULL,
          "the registry has stripe, complete");
    if (p == NULL)
        return test_done();
    CHECK(p->configured(), "configured");

    /* checkout, then the same order again: the same session (Idempotency-Key) */
    new_order(&o, 990, "USD");
    now = wall_ms();
    checkout(p, &o, NULL, now);
    CHECK(co.rc == PAY_OK && strncmp(co.provider_ref, "cs_test_", 8) == 0, "checkout: a session (%s %s)",
          pay_rc_name(co.rc), co.reason);
    CHECK(strncmp(co.checkout, "{\"url\":\"http://127.0.0.1:", 25) == 0 &&
              strstr(co.checkout, co.provider_ref) != NULL,
          "checkout: the hosted page's URL");
    snprintf(first_ref, sizeof first_ref, "%s", co.provider_ref);
    checkout(p, &o, NULL, now);
    CHECK(co.rc == PAY_OK && strcmp(co.provider_ref, first_ref) == 0 && counter("replayed") == 1,
          "checkout again for the same order: Stripe replays the same session");
    snprintf(o.provider_ref, sizeof o.provider_ref, "%s", first_ref);
    args = xasprintf("[\"%s\"]", o.id);
    s = control("sessionFor", args);
    CHECK(json_integer_value(json_object_get(s, "amount_total")) == 990 &&
              strcmp(json_string_value(json_object_get(s, "currency")), "usd") == 0 &&
              strcmp(json_string_value(json_object_get(s, "client_reference_id")), o.id) == 0 &&
              strcmp(json_string_value(json_object_get(json_object_get(s, "metadata"), "order_id")), o.id) ==
                  0 &&
              strcmp(json_string_value(json_object_get(s, "customer_email")), "buyer@example.com") == 0 &&
              json_integer_value(json_object_get(s, "expires_at")) == o.expires_at / 1000,
          "the session the fake holds: amount, currency, our order id, email, the order's expiry");
    json_decref(s);

    /* query before and after the buyer pays */
    query(p, &o);
    CHECK(qr.rc == PAY_OK && qr.state == PAY_STATE_PENDING, "query: open -> pending");
    json_decref(control("pay", args));
    free(args);
    query(p, &o);
    CHECK(qr.rc == PAY_OK && qr.state == PAY_STATE_PAID && qr.ev.kind == PAY_EVENT_PAID &&
              qr.ev.amount == 990 && strcmp(qr.ev.currency, "USD") == 0 && strcmp(qr.ev.order_id, o.id) == 0,
          "query: paid -> paid with the amount");

    /* refunds */
    refund(p, &o, 300, rid);
    CHECK(rf.rc == PAY_OK && rf.pending == 0 && strncmp(rf.provider_refund_id, "re_", 3) == 0,
          "refund 3.00: succeeded (%s %s)", pay_rc_name(rf.rc), rf.reason);
    json_decref(control("refundStatus", "[\"pending\"]"));
    refund(p, &o, 100, rid);
    CHECK(rf.rc == PAY_OK && rf.pending == 1, "refund 1.00: pending");
    json_decref(control("refundStatus", "[\"succeeded\"]"));
    refund(p, &o, 600, rid);
    CHECK(rf.rc == PAY_DECLINED && strcmp(rf.reason, "stripe_amount_too_large") == 0,
          "refund 6.00 of 5.90 left: declined");
    refund(p, &o, 590, rid);
    CHECK(rf.rc == PAY_OK && rf.pending == 0, "refund the rest");
    refund(p, &o, 1, rid);
    CHECK(rf.rc == PAY_DECLINED && strcmp(rf.reason, "stripe_charge_already_refunded") == 0,
          "refund more: declined");

    /* an expired session, a catalog price, failures */
    new_order(&o2, 6800, "CNY");
    checkout(p, &o2, NULL, wall_ms());
    CHECK(co.rc == PAY_OK, "checkout in CNY");
    snprintf(o2.provider_ref, sizeof o2.provider_ref, "%s", co.provider_ref);
    refund(p, &o2, 100, rid);
    CHECK(rf.rc == PAY_DECLINED && strcmp(rf.reason, "not_paid") == 0,
          "refund of an unpaid session: declined");
    args = xasprintf("[\"%s\"]", o2.provider_ref);
    json_decref(control("expire", args));
    free(args);
    query(p, &o2);
    CHECK(qr.rc == PAY_OK && qr.state == PAY_STATE_CLOSED, "query: expired -> closed");

    json_decref(control("setPrice", "[\"price_1Credits115\",{\"unit_amount\":990,\"currency\":\"usd\"}]"));
    new_order(&o2, 990, "USD");
    checkout(p, &o2, "price_1Credits115", wall_ms());
    CHECK(co.rc == PAY_OK, "checkout with the catalog's price id");
    new_order(&o2, 1990, "USD");
    checkout(p, &o2, "price_1Credits115", wall_ms());
    CHECK(co.rc == PAY_MISCONFIGURED && strcmp(co.reason, "price_mismatch") == 0,
          "a price id priced unlike the order: refused");

    json_decref(control("failCheckout", "[503,{\"times\":1}]"));
    new_order(&o2, 990, "USD");
    {
        long long before = counter("sessions");
        checkout(p, &o2, NULL, wall_ms());
        CHECK(co.rc == PAY_OK && counter("forced_checkout") == 1 && counter("sessions") == before + 1,
              "a 503 once: retried under the same key, one session");
    }
    json_decref(control("failCheckout", "[500]"));
    new_order(&o2, 990, "USD");
    checkout(p, &o2, NULL, wall_ms());
    CHECK(co.rc == PAY_UNAVAILABLE && strcmp(co.reason, "stripe_api_error") == 0 &&
              co.provider_ref[0] == '\0',
          "500 every time: unavailable (the next provider is tried)");
    json_decref(control("clearFailures", "[]"));

    test_plans(p);

    query(p, &(struct order){.id = "ord_01JDZ8K6Q3V5X7Y9A1B2C3D4Z9", .provider_ref = "cs_test_unknown"});
    CHECK(qr.rc == PAY_NOTFOUND, "query of a session Stripe does not know: not found");

    configure("sk_test_wrong");
    new_order(&o2, 990, "USD");
    checkout(p, &o2, NULL, wall_ms());
    CHECK(co.rc == PAY_MISCONFIGURED && counter("unauthorized") >= 1, "a wrong key: misconfigured");

    net_exec_drain(&ex);
    net_client_stop(client);
    net_exec_dispose(&ex);
    net_exec_dispose(&sx);
    stop_fake();
    config_free();
    net_global_cleanup();
    {
        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_root);
        if (system(cmd) != 0)
            printf("# could not remove %s\n", tmp_root);
    }
    return test_done();
}
