/*
 * PayPal end to end at the provider level: the "paypal" provider from the registry, through
 * the real net client (its thread, an executor woken like a loop's), against the fake PayPal
 * (tests/fakes/paypal.mjs) started as a child process.
 *
 * Covers a checkout (one PayPal order per order of ours, however often it is asked), the
 * buyer approving on the fake's page, the capture done by query (once), notifications the
 * fake signed verified by the fake's verify-webhook-signature (pretty-printed bodies
 * included: the raw bytes are spliced), a tampered body, another webhook's signature and a
 * replayed transmission, refunds (partial, over the rest, the rest), a revoked token
 * replaced once, and PayPal failing (a 503 retried with the same PayPal-Request-Id, a 500
 * that stays).
 *
 * Needs node (NODE, found by meson) and the fake (PAYPAL_FAKE); missing either fails the
 * test, it does not skip it.
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
#include "core/log.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "net/net.h"
#include "providers/pay/pay.h"
#include "providers/pay/paypal.h"

static char tmp_root[] = "/tmp/tg_test_pay_paypal_fake.XXXXXX";
static struct fakeproc fake;
static char fake_url[128], client_id[128], client_secret[128], webhook_id[64];

static struct net_client *client;
static struct net_exec ex; /* completions woken like a loop's */
static struct net_exec sx; /* synchronous: the test's own requests to the fake */

static struct fake_waker W = FAKE_WAKER_INIT;

/* ---- the fake as a child process ---------------------------------------------------------- */

static int start_fake(void)
{
    json_t *j = fakeproc_start(&fake, "PAYPAL_FAKE", NULL);
    if (j == NULL)
        return -1;
    fakeproc_str(j, "url", fake_url, sizeof fake_url);
    fakeproc_str(j, "clientId", client_id, sizeof client_id);
    fakeproc_str(j, "clientSecret", client_secret, sizeof client_secret);
    fakeproc_str(j, "webhookId", webhook_id, sizeof webhook_id);
    json_decref(j);
    return 0;
}

static void stop_fake(void) { fakeproc_stop(&fake); }

static void sync_done(struct net_call *c)
{
    (void)c;
}

/* One synchronous request to the fake: the answer's JSON (caller decrefs) or NULL; the
 * Location header into *location when asked (caller frees). */
static json_t *fake_req(const char *method, const char *url, const char *body, char **location)
{
    struct net_call c;
    json_t *j = NULL;
    net_call_init(&c, "test", method, url);
    if (body != NULL)
        net_call_body(&c, "application/json", body, strlen(body));
    net_exec_submit(&sx, &c, sync_done);
    if (location != NULL) {
        const char *loc = net_resp_header(&c, "location");
        *location = loc ? xstrdup(loc) : NULL;
    }
    if (c.err == NET_OK && c.resp_body != NULL)
        j = json_loads(c.resp_body, 0, NULL);
    net_call_release(&c);
    return j;
}

/* POST /__control/<method> with args (a JSON array text): the result (caller decrefs). */
static json_t *control(const char *method, const char *args)
{
    char *u = xasprintf("%s/__control/%s", fake_url, method);
    json_t *j = fake_req("POST", u, args, NULL), *r = json_incref(json_object_get(j, "result"));
    json_decref(j);
    free(u);
    return r;
}

static long long counter(const char *name)
{
    char *u = xasprintf("%s/__control/counters", fake_url);
    json_t *j = fake_req("GET", u, NULL, NULL);
    long long v = json_integer_value(json_object_get(json_object_get(j, "result"), name));
    json_decref(j);
    free(u);
    return v;
}

static void configure(void)
{
    char dir[512], *err = NULL;
    snprintf(dir, sizeof dir, "%s/data", tmp_root);
    setenv("TG_DATA_DIR", dir, 1);
    setenv("TG_PAYPAL_CLIENT_ID", client_id, 1);
    setenv("TG_PAYPAL_CLIENT_SECRET", client_secret, 1);
    setenv("TG_PAYPAL_WEBHOOK_ID", webhook_id, 1);
    setenv("TG_PAYPAL_API_BASE", fake_url, 1);
    if (config_load(NULL, &err) != 0) {
        printf("Bail out! config_load: %s\n", err);
        exit(1);
    }
}

/* ---- running operations like a loop ------------------------------------------------------ */

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

static void wait_done(int wait_ms)
{
    int64_t deadline = time_mono_ns() / 1000000 + wait_ms;
    for (;;) {
        net_exec_drain(&ex);
        if (calls > 0 || time_mono_ns() / 1000000 > deadline)
            break;
        fake_waker_nap(&W);
    }
}

static void checkout(const struct pay_provider *p, const struct order *o)
{
    struct pay_checkout_req req;
    memset(&req, 0, sizeof req);
    req.order = o;
    req.description = "115 credits";
    req.return_url = "https://tg.example.com/api/v1/orders/x/return";
    req.cancel_url = "https://tg.example.com/cancel";
    req.now_ms = time_now_ms();
    calls = 0;
    p->checkout(&ex, &req, on_checkout, NULL);
    wait_done(30000);
}

static void query(const struct pay_provider *p, const struct order *o)
{
    calls = 0;
    p->query(&ex, o, time_now_ms(), on_query, NULL);
    wait_done(30000);
}

static void refund(const struct pay_provider *p, const struct order *o, const char *rid, int64_t amount)
{
    struct pay_refund_req req;
    memset(&req, 0, sizeof req);
    req.order = o;
    req.refund_id = rid;
    req.amount = amount;
    req.reason = "requested by the buyer";
    calls = 0;
    p->refund(&ex, &req, on_refund, NULL);
    wait_done(30000);
}

struct hdrs {
    json_t *h; /* object: lower-case name -> value */
};

static const char *hdr_get(void *ctx, const char *lname)
{
    struct hdrs *h = ctx;
    return json_string_value(json_object_get(h->h, lname));
}

/* Verifies raw with the headers the fake signs for sign_as (bytes signed; NULL: raw). */
static void verify(const struct pay_provider *p, const char *raw, const char *signed_body,
                   const char *sign_opts)
{
    json_t *args = json_pack("[s, o]", signed_body ? signed_body : raw,
                             sign_opts ? json_loads(sign_opts, 0, NULL) : json_object());
    char *a = json_dumps(args, JSON_COMPACT);
    struct hdrs h = {control("sign", a)};
    struct pay_webhook_req req = {
        .body = raw, .len = strlen(raw), .header = hdr_get, .hctx = &h, .now_ms = time_now_ms()};
    calls = 0;
    p->verify_webhook(&ex, &req, on_webhook, NULL);
    wait_done(30000);
    json_decref(h.h);
    json_decref(args);
    free(a);
}

/* The event the fake would send for order (pretty: indented), as text (caller frees). */
static char *event_text(const char *type, const char *pp_order, int pretty)
{
    char *a = xasprintf("[\"%s\",\"%s\"]", type, pp_order);
    json_t *e = control("event", a);
    char *t =
        json_dumps(e, pretty ? JSON_INDENT(2) | JSON_PRESERVE_ORDER : JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(e);
    free(a);
    return t;
}

int main(void)
{
    const struct pay_provider *p;
    struct order o;
    char *err = NULL, *loc = NULL, *ev, *tampered, *at;
    char pp_order[TG_PROVIDER_REF_MAX], args[512];
    long long n;

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
    log_set_level("error");
    configure();

    p = pay_provider_find("paypal");
    CHECK(p != NULL && p->configured(), "the registry's paypal is configured");
    if (p == NULL)
        return test_done();

    memset(&o, 0, sizeof o);
    snprintf(o.id, sizeof o.id, "ord_01JE0000000000000000000001");
    snprintf(o.currency, sizeof o.currency, "USD");
    o.amount = 990;

    /* Checkout, twice: one PayPal order. */
    checkout(p, &o);
    CHECK(calls == 1 && cres.rc == PAY_OK, "checkout OK (%s %s)", pay_rc_name(cres.rc), cres.reason);
    snprintf(pp_order, sizeof pp_order, "%s", cres.provider_ref);
    snprintf(o.provider_ref, sizeof o.provider_ref, "%s", pp_order);
    {
        json_t *c = json_loads(cres.checkout, 0, NULL);
        const char *url = json_string_value(json_object_get(c, "url"));
        CHECK(url != NULL && strstr(url, "/checkoutnow?token=") != NULL && strstr(url, pp_order) != NULL,
              "checkout url is the fake's payer-action link");
        checkout(p, &o);
        CHECK(cres.rc == PAY_OK && strcmp(cres.provider_ref, pp_order) == 0,
              "the same order checked out again gets the same PayPal order (PayPal-Request-Id)");
        CHECK(counter("tokensIssued") == 1, "one token for both");
        query(p, &o);
        CHECK(qres.rc == PAY_OK && qres.state == PAY_STATE_PENDING, "before approval: PENDING");
        /* The buyer approves on PayPal's page and comes back. */
        json_decref(fake_req("GET", url, NULL, &loc));
        json_decref(c);
    }
    CHECK(loc != NULL && strstr(loc, "https://tg.example.com/api/v1/orders/x/return?token=") == loc &&
              strstr(loc, "PayerID=") != NULL,
          "approval sends the browser to return_url with token and PayerID");
    free(loc);
    query(p, &o);
    CHECK(qres.rc == PAY_OK && qres.state == PAY_STATE_PAID, "after approval: captured, PAID (%s)",
          qres.reason);
    CHECK(qres.ev.amount == 990 && strcmp(qres.ev.currency, "USD") == 0 &&
              strcmp(qres.ev.order_id, o.id) == 0,
          "990 USD for our order");
    CHECK(strncmp(qres.ev.event_id, "query:", 6) == 0, "event id query:<capture>");
    query(p, &o);
    CHECK(qres.state == PAY_STATE_PAID && counter("capture") == 1, "asked again: PAID, never captured twice");

    /* Notifications the fake signs, verified by the fake. */
    ev = event_text("PAYMENT.CAPTURE.COMPLETED", pp_order, 0);
    verify(p, ev, NULL, NULL);
    CHECK(wres.rc == PAY_OK && wres.ev.kind == PAY_EVENT_PAID && wres.ev.amount == 990 &&
              strcmp(wres.ev.order_id, o.id) == 0 && strcmp(wres.ev.provider_ref, pp_order) == 0,
          "a signed PAYMENT.CAPTURE.COMPLETED: PAID 990 USD (%s %s)", pay_rc_name(wres.rc), wres.reason);
    tampered = xstrdup(ev);
    at = strstr(tampered, "\"9.90\"");
    if (at != NULL)
        memcpy(at, "\"0.99\"", 6);
    verify(p, tampered, ev, NULL);
    CHECK(wres.rc == PAY_INVALID && strcmp(wres.reason, "signature_mismatch") == 0,
          "a tampered body: the fake answers FAILURE, INVALID");
    verify(p, ev, NULL, "{\"webhookId\":\"9XX00000000000000\"}");
    CHECK(wres.rc == PAY_INVALID, "signed for another webhook: INVALID");
    snprintf(args, sizeof args, "{\"time\":\"%s\"}", "2020-01-01T00:00:00Z");
    verify(p, ev, NULL, args);
    CHECK(wres.rc == PAY_INVALID && strcmp(wres.reason, "timestamp_out_of_tolerance") == 0,
          "a replayed old transmission: INVALID before asking PayPal");
    free(tampered);
    free(ev);
    ev = event_text("PAYMENT.CAPTURE.COMPLETED", pp_order, 1);
    n = counter("verifySuccess");
    verify(p, ev, NULL, NULL);
    CHECK(wres.rc == PAY_OK && counter("verifySuccess") == n + 1,
          "a pretty-printed body verifies: its raw bytes reached PayPal unchanged");
    free(ev);

    /* Refunds. */
    refund(p, &o, "rfd_01JE0000000000000000000001", 400);
    CHECK(rres.rc == PAY_OK && rres.pending == 0 && rres.provider_refund_id[0] != '\0',
          "refund 4.00: OK (%s)", rres.reason);
    refund(p, &o, "rfd_01JE0000000000000000000001", 400);
    CHECK(rres.rc == PAY_OK && counter("replays") >= 1,
          "the same refund id again: PayPal replays it, no second refund");
    refund(p, &o, "rfd_01JE0000000000000000000002", 700);
    CHECK(rres.rc == PAY_DECLINED && strcmp(rres.reason, "REFUND_AMOUNT_EXCEEDED") == 0,
          "7.00 more than the 5.90 left: DECLINED REFUND_AMOUNT_EXCEEDED");
    refund(p, &o, "rfd_01JE0000000000000000000003", 590);
    CHECK(rres.rc == PAY_OK, "the 5.90 left: OK");
    ev = event_text("PAYMENT.CAPTURE.REFUNDED", pp_order, 0);
    verify(p, ev, NULL, NULL);
    CHECK(wres.rc == PAY_OK && wres.ev.kind == PAY_EVENT_REFUND && wres.ev.amount == 590 &&
              strcmp(wres.ev.refund_id, "rfd_01JE0000000000000000000003") == 0 &&
              strcmp(wres.ev.order_id, o.id) == 0,
          "PAYMENT.CAPTURE.REFUNDED names our refund and order");
    free(ev);

    /* A revoked token: one new token, then the call. */
    json_decref(control("revokeTokens", "[]"));
    n = counter("tokensIssued");
    query(p, &o);
    CHECK(qres.rc == PAY_OK && counter("tokensIssued") == n + 1, "401: a new token, the query succeeds");

    /* PayPal failing at checkout. */
    snprintf(o.id, sizeof o.id, "ord_01JE0000000000000000000002");
    o.provider_ref[0] = '\0';
    json_decref(control("forceHttp", "[503, \"create\", {\"times\": 1}]"));
    n = counter("create");
    checkout(p, &o);
    CHECK(cres.rc == PAY_OK && counter("create") == n + 2,
          "one 503: retried with the same PayPal-Request-Id, OK");
    snprintf(o.id, sizeof o.id, "ord_01JE0000000000000000000003");
    json_decref(control("forceHttp", "[500, \"create\"]"));
    n = counter("create");
    checkout(p, &o);
    CHECK(cres.rc == PAY_UNAVAILABLE && cres.provider_ref[0] == '\0' && counter("create") == n + 2,
          "500 every time: UNAVAILABLE after one retry (%s)", cres.reason);
    json_decref(control("clearForced", "[]"));

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
