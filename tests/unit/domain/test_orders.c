/* Unit tests for src/domain/orders.c: the fulfilment rule, against a temporary SQLite store,
 * including racing notifications from several connections (exactly one fulfilment). */
#include "../test.h"

#include <ftw.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/config.h"
#include "core/ids.h"
#include "core/timeutil.h"
#include "crypto/random.h"
#include "domain/idempotency.h"
#include "domain/orders.h"
#include "store/call.h"
#include "store/store.h"

static char tmpdir[] = "/tmp/tg_test_orders_XXXXXX";
static char g_url[300];
static struct store *g_s;

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static struct user make_user(void)
{
    struct user u;
    memset(&u, 0, sizeof u);
    id_new(u.id, "usr");
    snprintf(u.email, sizeof u.email, "%s@example.test", u.id);
    snprintf(u.role, sizeof u.role, "user");
    u.created_at = u.updated_at = time_now_ms();
    CHECK(store_user_create(g_s, &u) == STORE_OK, "user");
    return u;
}

static struct order make_order(const char *user_id, const char *provider, const char *kind, const char *ref)
{
    struct order o;
    memset(&o, 0, sizeof o);
    id_new(o.id, "ord");
    snprintf(o.user_id, sizeof o.user_id, "%s", user_id);
    snprintf(o.product, sizeof o.product, "%s", strcmp(kind, "pack") == 0 ? "credits_115" : "pro_monthly");
    snprintf(o.kind, sizeof o.kind, "%s", kind);
    o.credits = 115;
    o.amount = 990;
    snprintf(o.currency, sizeof o.currency, "USD");
    snprintf(o.provider, sizeof o.provider, "%s", provider);
    snprintf(o.provider_ref, sizeof o.provider_ref, "%s", ref ? ref : "");
    snprintf(o.status, sizeof o.status, "pending");
    o.created_at = time_now_ms();
    o.expires_at = o.created_at + 3600000;
    CHECK(store_order_insert(g_s, &o) == STORE_OK, "order %s", o.id);
    return o;
}

struct fulfil_call {
    struct store_call call;
    struct payment_notice n;
    enum orders_outcome outcome;
    struct order order;
};

static enum store_rc fulfil_run(struct store *s, struct store_call *c)
{
    struct fulfil_call *f = (struct fulfil_call *)c;
    return orders_fulfil_tx(s, &f->n, time_now_ms(), &f->outcome, &f->order);
}

/* Runs one notice in a transaction of its own on s; returns the store result. */
static enum store_rc fulfil_on(struct store *s, const char *provider, const char *event_id, const char *order_id,
                               const char *ref, int64_t amount, const char *currency, enum orders_outcome *out)
{
    struct fulfil_call f;
    memset(&f, 0, sizeof f);
    f.call.kind = STORE_CALL_WRITE;
    f.call.run = fulfil_run;
    f.n = (struct payment_notice){provider, event_id, "payment.succeeded", order_id, ref, amount, currency};
    enum store_rc rc = store_call_run_sync(s, &f.call);
    *out = f.outcome;
    return rc;
}

static int64_t paid_of(const char *user_id)
{
    struct wallet w;
    return store_wallet_get(g_s, user_id, &w) == STORE_OK ? w.paid_credits : -1;
}

static int event_exists(const char *provider, const char *event_id)
{
    struct payment_event e;
    return store_payment_event_get(g_s, provider, event_id, &e) == STORE_OK;
}

static void test_rule(void)
{
    struct user u = make_user();
    struct order o = make_order(u.id, "stripe", "pack", "cs_test_1");
    enum orders_outcome out;

    CHECK(fulfil_on(g_s, "stripe", "evt_1", NULL, "cs_test_1", 990, "USD", &out) == STORE_OK &&
              out == ORDERS_FULFILLED,
          "matched by the provider's reference: fulfilled");
    CHECK(paid_of(u.id) == 115, "115 credits");
    struct order got;
    CHECK(store_order_get(g_s, o.id, &got) == STORE_OK && strcmp(got.status, "paid") == 0 && got.paid_at > 0,
          "the order is paid");
    struct ledger_entry e[2];
    size_t n = 0;
    CHECK(store_ledger_get_by_ref(g_s, LK_PURCHASE, "order", o.id, e, &n) == STORE_OK && n == 1 && e[0].delta == 115,
          "one purchase entry referencing the order");
    CHECK(fulfil_on(g_s, "stripe", "evt_1", NULL, "cs_test_1", 990, "USD", &out) == STORE_OK &&
              out == ORDERS_DUPLICATE && paid_of(u.id) == 115,
          "the same notification again: duplicate, nothing changes");
    CHECK(fulfil_on(g_s, "stripe", "evt_2", o.id, NULL, 990, "USD", &out) == STORE_OK &&
              out == ORDERS_ALREADY_PAID && paid_of(u.id) == 115 && event_exists("stripe", "evt_2"),
          "another notification for the paid order: recorded, nothing granted");

    struct order p = make_order(u.id, "stripe", "pack", NULL);
    CHECK(fulfil_on(g_s, "stripe", "evt_3", p.id, NULL, 99, "USD", &out) == STORE_CONFLICT &&
              out == ORDERS_AMOUNT_MISMATCH && !event_exists("stripe", "evt_3"),
          "a wrong amount changes nothing, not even the inbox");
    CHECK(fulfil_on(g_s, "stripe", "evt_4", p.id, NULL, 990, "CNY", &out) == STORE_CONFLICT &&
              out == ORDERS_AMOUNT_MISMATCH,
          "a wrong currency changes nothing");
    CHECK(fulfil_on(g_s, "paypal", "evt_5", p.id, NULL, 990, "USD", &out) == STORE_CONFLICT &&
              out == ORDERS_PROVIDER_MISMATCH,
          "another provider's notification for this order changes nothing");
    CHECK(fulfil_on(g_s, "stripe", "evt_6", "ord_01HZX3K9Q4M2W8E5R7T6Y1U0PA", NULL, 990, "USD", &out) ==
                  STORE_CONFLICT &&
              out == ORDERS_UNKNOWN_ORDER,
          "an unknown order");
    CHECK(fulfil_on(g_s, "stripe", "evt_7", NULL, NULL, 990, "USD", &out) == STORE_CONFLICT &&
              out == ORDERS_UNKNOWN_ORDER,
          "a notification naming no order");
    CHECK(store_order_get(g_s, p.id, &got) == STORE_OK && strcmp(got.status, "pending") == 0 && paid_of(u.id) == 115,
          "after all that the order is still pending and nothing was granted");

    /* A payment that arrives after we gave up on the order still counts. */
    static const char *const from_pending[] = {"pending", NULL};
    CHECK(store_order_transition(g_s, p.id, from_pending, "expired", time_now_ms()) == STORE_OK, "expire");
    CHECK(fulfil_on(g_s, "stripe", "evt_8", p.id, NULL, 990, "USD", &out) == STORE_OK && out == ORDERS_FULFILLED &&
              paid_of(u.id) == 230,
          "a late payment for an expired order is fulfilled");

    struct order plan = make_order(u.id, "stripe", "plan", NULL);
    CHECK(fulfil_on(g_s, "stripe", "evt_9", plan.id, NULL, 990, "USD", &out) == STORE_OK && out == ORDERS_FULFILLED &&
              paid_of(u.id) == 230,
          "a plan order is fulfilled into the plan bucket, not the paid one");
    struct subscription sub;
    CHECK(store_sub_get_live(g_s, u.id, &sub) == STORE_OK && strcmp(sub.order_id, plan.id) == 0 &&
              store_order_get(g_s, plan.id, &got) == STORE_OK && strcmp(got.subscription_id, sub.id) == 0,
          "it starts a subscription (test_subscriptions.c tests what follows)");

    CHECK(store_order_set_checkout(g_s, p.id, "stripe", "cs_x", "{\"url\":\"https://x\"}", time_now_ms()) ==
              STORE_CONFLICT,
          "a paid order's checkout cannot change");
    struct order q = make_order(u.id, "stripe", "pack", NULL);
    CHECK(store_order_set_checkout(g_s, q.id, "stripe", "cs_test_1", "{}", time_now_ms()) == STORE_DUPLICATE,
          "two orders cannot share a provider reference");
    CHECK(store_order_set_checkout(g_s, q.id, "stripe", "cs_test_q", "{\"url\":\"https://checkout.example/q\"}",
                                   time_now_ms()) == STORE_OK &&
              store_order_get_by_ref(g_s, "stripe", "cs_test_q", &got) == STORE_OK && strcmp(got.id, q.id) == 0 &&
              strcmp(got.checkout, "{\"url\":\"https://checkout.example/q\"}") == 0,
          "checkout stored and found by reference");
    struct order *list = NULL;
    size_t ln = 0;
    /* Ids made within one millisecond order by their random part: the list is in id order
     * (a stable cursor), which is creation order to the millisecond. */
    CHECK(store_order_list(g_s, u.id, NULL, 10, &list, &ln) == STORE_OK && ln == 4 &&
              strcmp(list[0].id, list[1].id) > 0 && strcmp(list[2].id, list[3].id) > 0,
          "the user's four orders, in descending id order");
    char cursor[TG_ID_MAX];
    snprintf(cursor, sizeof cursor, "%s", ln ? list[1].id : "");
    free(list);
    CHECK(store_order_list(g_s, u.id, cursor, 10, &list, &ln) == STORE_OK && ln == 2 && strcmp(list[0].id, cursor) < 0,
          "the page after a cursor");
    free(list);
}

/* ---- racing notifications ---- */

#define RACERS 8
#define PER_RACER 25

static struct order g_race;
static atomic_int g_fulfilled, g_other, g_failed;

static void *racer(void *arg)
{
    long id = (long)arg;
    char *err = NULL;
    struct store *s = store_open(g_url, &err);
    free(err);
    if (s == NULL) {
        atomic_fetch_add(&g_failed, PER_RACER);
        return NULL;
    }
    for (int i = 0; i < PER_RACER; i++) {
        char ev[64];
        /* Half the racers redeliver one notification; the others each send their own. */
        if (id % 2 == 0)
            snprintf(ev, sizeof ev, "evt_same");
        else
            snprintf(ev, sizeof ev, "evt_%ld_%d", id, i);
        enum orders_outcome out;
        enum store_rc rc = fulfil_on(s, "wechatpay", ev, g_race.id, NULL, 990, "USD", &out);
        if (rc == STORE_OK && out == ORDERS_FULFILLED)
            atomic_fetch_add(&g_fulfilled, 1);
        else if (rc == STORE_OK)
            atomic_fetch_add(&g_other, 1);
        else
            atomic_fetch_add(&g_failed, 1);
    }
    store_close(s);
    return NULL;
}

static void test_race(void)
{
    struct user u = make_user();
    g_race = make_order(u.id, "wechatpay", "pack", NULL);
    pthread_t t[RACERS];
    for (long i = 0; i < RACERS; i++)
        pthread_create(&t[i], NULL, racer, (void *)i);
    for (int i = 0; i < RACERS; i++)
        pthread_join(t[i], NULL);
    CHECK(atomic_load(&g_fulfilled) == 1, "%d racing notifications from %d connections: exactly one fulfilment (%d)",
          RACERS * PER_RACER, RACERS, atomic_load(&g_fulfilled));
    CHECK(atomic_load(&g_other) == RACERS * PER_RACER - 1 && atomic_load(&g_failed) == 0,
          "every other one acknowledged as a duplicate or already paid (%d other, %d failed)", atomic_load(&g_other),
          atomic_load(&g_failed));
    CHECK(paid_of(u.id) == 115, "the credits once: %lld", (long long)paid_of(u.id));
    int64_t nv = -1, nw = -1;
    CHECK(store_ledger_check(g_s, NULL, NULL, &nv, &nw) == STORE_OK && nv == 0, "the ledger checks clean");
}

static int64_t order_violations(void)
{
    int64_t v = -1;
    return store_orders_check(g_s, NULL, NULL, &v) == STORE_OK ? v : -1;
}

/* tollgate audit's order check: clean after the rule ran, and each kind of break is found. */
static void test_audit(void)
{
    CHECK(order_violations() == 0, "orders and purchases agree after everything above");
    struct user u = make_user();
    struct order o = make_order(u.id, "stripe", "pack", NULL);
    static const char *const from_pending[] = {"pending", NULL};
    CHECK(store_order_transition(g_s, o.id, from_pending, "paid", time_now_ms()) == STORE_OK,
          "an order marked paid behind the rule's back");
    CHECK(order_violations() == 1, "a paid order without its purchase entry is found");
    struct ledger_op op = {.user_id = u.id, .amount = 7, .bucket = BUCKET_PAID, .kind = LK_PURCHASE,
                           .ref_type = "order", .ref_id = "ord_01HZX3K9Q4M2W8E5R7T6Y1U0PA"};
    CHECK(store_ledger_apply(g_s, &op, time_now_ms(), NULL, NULL) == STORE_OK, "a purchase entry for no order");
    CHECK(order_violations() == 2, "a purchase entry without a paid order is found");
}

/* ---- running domain functions inside one transaction, as the writer does ---- */

typedef enum store_rc (*tx_fn)(struct store *s, void *arg);

struct tx_call {
    struct store_call call;
    tx_fn fn;
    void *arg;
};

static enum store_rc tx_run(struct store *s, struct store_call *c)
{
    struct tx_call *t = (struct tx_call *)c;
    return t->fn(s, t->arg);
}

/* Runs fn in a transaction of its own: everything it wrote is rolled back unless STORE_OK. */
static enum store_rc in_tx(tx_fn fn, void *arg)
{
    struct tx_call t;
    memset(&t, 0, sizeof t);
    t.call.kind = STORE_CALL_WRITE;
    t.call.run = tx_run;
    t.fn = fn;
    t.arg = arg;
    return store_call_run_sync(g_s, &t.call);
}

/* ---- failure and refund notices ---- */

struct notice_args {
    struct payment_notice n;
    enum orders_outcome outcome;
    struct order o;
};

static enum store_rc notice_fn(struct store *s, void *arg)
{
    struct notice_args *a = arg;
    return orders_notice_tx(s, &a->n, time_now_ms(), &a->outcome, &a->o);
}

static enum store_rc notice(struct notice_args *a, enum payment_notice_kind kind, const char *event_id,
                            const char *order_id, int64_t amount, const char *currency)
{
    memset(a, 0, sizeof *a);
    a->n = (struct payment_notice){"stripe", event_id, "event", order_id, NULL, amount, currency, kind, NULL, NULL};
    return in_tx(notice_fn, a);
}

static const char *inbox_outcome(const char *event_id)
{
    static struct payment_event e;
    return store_payment_event_get(g_s, "stripe", event_id, &e) == STORE_OK ? e.outcome : "(none)";
}

static void test_failed_notice(void)
{
    struct user u = make_user();
    struct order o = make_order(u.id, "stripe", "pack", NULL);
    struct notice_args a;

    CHECK(notice(&a, NOTICE_FAILED, "evt_f1", o.id, 990, "EUR") == STORE_CONFLICT && a.outcome == ORDERS_AMOUNT_MISMATCH,
          "a failure notice in another currency: amount_mismatch");
    CHECK(strcmp(inbox_outcome("evt_f1"), "(none)") == 0 && strcmp(a.o.status, "pending") == 0,
          "nothing written, the order is still pending");
    CHECK(notice(&a, NOTICE_FAILED, "evt_f2", o.id, 990, "USD") == STORE_OK && a.outcome == ORDERS_MARKED_FAILED &&
              strcmp(a.o.status, "failed") == 0,
          "a failure notice moves the pending order to failed");
    CHECK_STR_EQ(inbox_outcome("evt_f2"), "marked_failed", "the inbox records it as marked_failed");
    CHECK(notice(&a, NOTICE_FAILED, "evt_f2", o.id, 990, "USD") == STORE_OK && a.outcome == ORDERS_DUPLICATE,
          "the same failure notice again: duplicate");
    CHECK(notice(&a, NOTICE_FAILED, "evt_f3", o.id, 990, "USD") == STORE_OK && a.outcome == ORDERS_NOT_PENDING &&
              strcmp(a.o.status, "failed") == 0,
          "another failure notice for the failed order: not_pending");
    CHECK(notice(&a, NOTICE_PAID, "evt_f4", o.id, 990, "USD") == STORE_OK && a.outcome == ORDERS_FULFILLED &&
              strcmp(a.o.status, "paid") == 0 && paid_of(u.id) == 115,
          "a later payment of the failed order still fulfils it");
    CHECK(notice(&a, NOTICE_FAILED, "evt_f5", o.id, 990, "USD") == STORE_OK && a.outcome == ORDERS_NOT_PENDING &&
              strcmp(a.o.status, "paid") == 0 && paid_of(u.id) == 115,
          "a failure notice for a paid order: not_pending, the payment stands");
    CHECK_STR_EQ(inbox_outcome("evt_f5"), "not_pending", "recorded as not_pending");
    CHECK(notice(&a, NOTICE_FAILED, "evt_f6", o.id, 990, NULL) == STORE_CONFLICT && a.outcome == ORDERS_AMOUNT_MISMATCH,
          "a failure notice without a currency: amount_mismatch");

    CHECK(notice(&a, NOTICE_REFUND, "evt_f7", o.id, 100, "CNY") == STORE_CONFLICT &&
              a.outcome == ORDERS_AMOUNT_MISMATCH && strcmp(inbox_outcome("evt_f7"), "(none)") == 0 &&
              a.o.refunded_amount == 0,
          "a refund notice in another currency: amount_mismatch, nothing written");
    struct notice_args r;
    memset(&r, 0, sizeof r);
    r.n = (struct payment_notice){"paypal", "evt_f8", "event", o.id, NULL, 990, "USD", NOTICE_FAILED, NULL, NULL};
    CHECK(in_tx(notice_fn, &r) == STORE_CONFLICT && r.outcome == ORDERS_PROVIDER_MISMATCH,
          "another provider's failure notice: provider_mismatch");
    CHECK(notice(&a, NOTICE_FAILED, "", o.id, 990, "USD") == STORE_CONFLICT, "a notice without an event id is refused");
}

/* ---- creating orders with an Idempotency-Key ---- */

struct create_args {
    struct idem *idem;
    struct order o, existing;
    int64_t now;
    enum orders_create_outcome outcome;
};

static enum store_rc create_fn(struct store *s, void *arg)
{
    struct create_args *a = arg;
    return orders_create_tx(s, a->idem, &a->o, a->now, &a->outcome, &a->existing);
}

/* A new pending order (not stored yet) of the user. */
static struct order new_order(const char *user_id)
{
    struct order o;
    memset(&o, 0, sizeof o);
    id_new(o.id, "ord");
    snprintf(o.user_id, sizeof o.user_id, "%s", user_id);
    snprintf(o.product, sizeof o.product, "credits_115");
    snprintf(o.kind, sizeof o.kind, "pack");
    o.credits = 115;
    o.amount = 990;
    snprintf(o.currency, sizeof o.currency, "USD");
    snprintf(o.provider, sizeof o.provider, "stripe");
    snprintf(o.status, sizeof o.status, "pending");
    o.created_at = time_now_ms();
    o.expires_at = o.created_at + 3600000;
    return o;
}

static enum store_rc create(struct create_args *a, struct idem *idem, const struct order *o)
{
    memset(a, 0, sizeof *a);
    a->idem = idem;
    a->o = *o;
    a->now = time_now_ms();
    return in_tx(create_fn, a);
}

static void order_idem(struct idem *i, const char *user_id, const char *key, const char *body)
{
    idem_init(i, user_id, key, "POST", "/api/v1/orders", body, strlen(body));
}

static int order_stored(const char *id)
{
    struct order o;
    return store_order_get(g_s, id, &o) == STORE_OK;
}

/* The stored answer for (user, key): its status, and its body in body (or "" when none). */
static int idem_stored(const char *user_id, const char *key, char *body, size_t cap)
{
    struct idem_record rec;
    body[0] = '\0';
    if (store_idem_get(g_s, user_id, key, &rec) != STORE_OK)
        return 0;
    snprintf(body, cap, "%s", rec.body ? rec.body : "");
    int status = rec.status;
    store_idem_free(&rec);
    return status;
}

struct checkout_args {
    const char *order_id, *provider, *ref, *checkout, *body;
    const struct orders_attempt *at;
    size_t n;
    const struct idem *idem;
    int status, failed;
};

static enum store_rc checkout_fn(struct store *s, void *arg)
{
    struct checkout_args *a = arg;
    if (a->failed)
        return orders_checkout_failed_tx(s, a->order_id, a->at, a->n, a->idem, time_now_ms());
    return orders_checkout_tx(s, a->order_id, a->provider, a->ref, a->checkout, a->at, a->n, a->idem, a->status,
                              a->body, time_now_ms());
}

static void test_create_idem(void)
{
    static const char body1[] = "{\"product\":\"credits_115\"}";
    static const char body2[] = "{\"product\":\"credits_600\"}";
    struct user u = make_user(), other = make_user();
    struct idem i;
    struct create_args a;
    char stored[256], want[256];

    struct order o0 = new_order(u.id);
    CHECK(create(&a, NULL, &o0) == STORE_OK && a.outcome == ORDERS_CREATED && order_stored(o0.id),
          "without a key: created");

    order_idem(&i, u.id, "key-1", body1);
    struct order o1 = new_order(u.id);
    CHECK(create(&a, &i, &o1) == STORE_OK && a.outcome == ORDERS_CREATED && order_stored(o1.id),
          "with a new key: created");
    snprintf(want, sizeof want, "{\"order_id\":\"%s\"}", o1.id);
    CHECK(idem_stored(u.id, "key-1", stored, sizeof stored) == 202 && strcmp(stored, want) == 0,
          "the key holds a 202 marker naming the order (%s)", stored);
    idem_clear(&i);

    order_idem(&i, u.id, "key-1", body1);
    struct order o2 = new_order(u.id);
    CHECK(create(&a, &i, &o2) == STORE_OK && a.outcome == ORDERS_IN_PROGRESS && strcmp(a.existing.id, o1.id) == 0 &&
              !order_stored(o2.id),
          "the same request while its checkout is made: in_progress with the first order, no second order");
    idem_clear(&i);

    order_idem(&i, u.id, "key-1", body2);
    struct order o3 = new_order(u.id);
    CHECK(create(&a, &i, &o3) == STORE_OK && a.outcome == ORDERS_KEY_REUSED && !order_stored(o3.id),
          "the key with another body: key_reused, no order");
    idem_clear(&i);

    order_idem(&i, other.id, "key-1", body1);
    struct order o4 = new_order(other.id);
    CHECK(create(&a, &i, &o4) == STORE_OK && a.outcome == ORDERS_CREATED && order_stored(o4.id),
          "another user's same key is another key: created");
    idem_clear(&i);

    /* The checkout is made: the marker becomes the final answer. */
    static const struct orders_attempt at[2] = {{"paypal", 0, "timeout"}, {"stripe", 1, ""}};
    static const char answer[] = "{\"id\":\"ord_x\",\"status\":\"pending\"}";
    order_idem(&i, u.id, "key-1", body1);
    struct checkout_args c = {o1.id, "stripe", "cs_key_1", "{\"url\":\"https://checkout.example/1\"}", answer,
                              at, 2, &i, 201, 0};
    CHECK(in_tx(checkout_fn, &c) == STORE_OK, "the checkout is recorded");
    struct order got;
    CHECK(store_order_get(g_s, o1.id, &got) == STORE_OK && strcmp(got.provider_ref, "cs_key_1") == 0 &&
              strcmp(got.checkout, "{\"url\":\"https://checkout.example/1\"}") == 0 &&
              strcmp(got.status, "pending") == 0,
          "the order has its checkout");
    CHECK(idem_stored(u.id, "key-1", stored, sizeof stored) == 201 && strcmp(stored, answer) == 0,
          "the marker was replaced by the answer (201)");
    idem_clear(&i);

    order_idem(&i, u.id, "key-1", body1);
    struct order o5 = new_order(u.id);
    CHECK(create(&a, &i, &o5) == STORE_OK && a.outcome == ORDERS_REPLAY && i.replay && i.status == 201 &&
              i.body != NULL && strcmp(i.body, answer) == 0 && !order_stored(o5.id),
          "the same request again: replay of the answer, no order");
    idem_clear(&i);

    /* Every provider failed: the order fails and the key is forgotten. */
    order_idem(&i, u.id, "key-2", body1);
    struct order o6 = new_order(u.id);
    CHECK(create(&a, &i, &o6) == STORE_OK && a.outcome == ORDERS_CREATED, "key-2: created");
    static const struct orders_attempt bad[2] = {{"stripe", 0, "unavailable"}, {"paypal", 0, "declined"}};
    struct checkout_args cf = {o6.id, NULL, NULL, NULL, NULL, bad, 2, &i, 0, 1};
    CHECK(in_tx(checkout_fn, &cf) == STORE_OK, "every provider failed");
    CHECK(store_order_get(g_s, o6.id, &got) == STORE_OK && strcmp(got.status, "failed") == 0, "the order failed");
    CHECK(idem_stored(u.id, "key-2", stored, sizeof stored) == 0, "the key is forgotten");
    idem_clear(&i);
    order_idem(&i, u.id, "key-2", body1);
    struct order o7 = new_order(u.id);
    CHECK(create(&a, &i, &o7) == STORE_OK && a.outcome == ORDERS_CREATED && order_stored(o7.id),
          "a retry with key-2 makes a new order");
    idem_clear(&i);
    c = (struct checkout_args){o6.id, "stripe", "cs_late", "{}", "{}", NULL, 0, NULL, 201, 0};
    CHECK(in_tx(checkout_fn, &c) == STORE_CONFLICT, "a checkout for an order no longer pending: conflict");

    /* A marker whose order failed or expired some other way is forgotten. */
    static const char *const from_pending[] = {"pending", NULL};
    const char *ends[] = {"failed", "expired"};
    for (int k = 0; k < 2; k++) {
        char key[16];
        snprintf(key, sizeof key, "key-%s", ends[k]);
        order_idem(&i, u.id, key, body1);
        struct order first = new_order(u.id);
        CHECK(create(&a, &i, &first) == STORE_OK && a.outcome == ORDERS_CREATED, "%s: created", key);
        idem_clear(&i);
        CHECK(store_order_transition(g_s, first.id, from_pending, ends[k], time_now_ms()) == STORE_OK,
              "the order %s before its checkout was recorded", ends[k]);
        order_idem(&i, u.id, key, body1);
        struct order again = new_order(u.id);
        CHECK(create(&a, &i, &again) == STORE_OK && a.outcome == ORDERS_CREATED && order_stored(again.id),
              "the same request proceeds anew with a new order");
        snprintf(want, sizeof want, "{\"order_id\":\"%s\"}", again.id);
        CHECK(idem_stored(u.id, key, stored, sizeof stored) == 202 && strcmp(stored, want) == 0,
              "the marker names the new order");
        idem_clear(&i);
    }

    /* A pending order past its expiry (the job has not expired it yet) is given up too. */
    order_idem(&i, u.id, "key-stale", body1);
    struct order stale = new_order(u.id);
    stale.expires_at = time_now_ms() - 1;
    CHECK(create(&a, &i, &stale) == STORE_OK && a.outcome == ORDERS_CREATED, "key-stale: created, already past expiry");
    idem_clear(&i);
    order_idem(&i, u.id, "key-stale", body1);
    struct order fresh = new_order(u.id);
    CHECK(create(&a, &i, &fresh) == STORE_OK && a.outcome == ORDERS_CREATED && order_stored(fresh.id),
          "its marker is forgotten: created anew");
    idem_clear(&i);
}

/* ---- the pending-order job ---- */

static void test_schedule(void)
{
    const int64_t c = 1700000000000LL, m = 60000, hour = 3600000;
    CHECK_INT_EQ(orders_next_query_at(c, 0, m, 10), c + m, "the first query at created_at + after");
    CHECK_INT_EQ(orders_next_query_at(c, 1, m, 10), c + 3 * m, "then 2 * after later");
    CHECK_INT_EQ(orders_next_query_at(c, 2, m, 10), c + 7 * m, "then 4 * after later");
    int doubling = 1, capped = 1;
    for (int64_t k = 1; k < 12; k++) {
        int64_t gap = orders_next_query_at(c, k, m, 20) - orders_next_query_at(c, k - 1, m, 20);
        int64_t want = m << k;
        if (want > hour)
            want = hour;
        if (gap != want)
            doubling = 0;
        if (gap > hour)
            capped = 0;
    }
    CHECK(doubling && capped, "the gaps double up to an hour and stay at an hour");
    CHECK_INT_EQ(orders_next_query_at(c, 6, m, 20) - orders_next_query_at(c, 5, m, 20), hour,
                 "60 s doubled six times would be 64 min: an hour");
    CHECK_INT_EQ(orders_next_query_at(c, 9, m, 10), c + (1 + 2 + 4 + 8 + 16 + 32) * m + 4 * hour,
                 "the tenth and last query");
    CHECK_INT_EQ(orders_next_query_at(c, 10, m, 10), 0, "after max queries: 0");
    CHECK_INT_EQ(orders_next_query_at(c, 11, m, 10), 0, "past max: 0");
    CHECK_INT_EQ(orders_next_query_at(c, 0, m, 0), 0, "max 0: no query at all");
    CHECK_INT_EQ(orders_next_query_at(c, 0, 2 * hour, 5), c + 2 * hour, "a first query after two hours");
    CHECK_INT_EQ(orders_next_query_at(c, 1, 2 * hour, 5), c + 3 * hour, "then at most an hour apart");
}

struct after_args {
    struct order o;
    int ok;
    int64_t after, max, now;
};

static enum store_rc after_fn(struct store *s, void *arg)
{
    struct after_args *a = arg;
    return orders_after_query_tx(s, &a->o, a->ok, a->after, a->max, a->now);
}

static struct order order_now(const char *id)
{
    struct order o;
    if (store_order_get(g_s, id, &o) != STORE_OK)
        memset(&o, 0, sizeof o);
    return o;
}

static void test_after_query(void)
{
    struct user u = make_user();
    const int64_t m = 60000;
    struct order o = make_order(u.id, "stripe", "pack", NULL);
    int64_t now = o.created_at + m;
    struct after_args a = {o, 1, m, 10, now};

    CHECK(in_tx(after_fn, &a) == STORE_OK, "after the first query");
    struct order got = order_now(o.id);
    CHECK(got.query_attempts == 1 && got.next_query_at == o.created_at + 3 * m && strcmp(got.status, "pending") == 0,
          "one query counted, the next 2 min later (%lld)", (long long)(got.next_query_at - o.created_at));

    a = (struct after_args){got, 0, m, 10, now + 5000};
    CHECK(in_tx(after_fn, &a) == STORE_OK, "a query that could not be made");
    got = order_now(o.id);
    CHECK(got.query_attempts == 1 && got.next_query_at == now + 5000 + m,
          "not counted, asked again `after` later");

    got.query_attempts = 9;
    a = (struct after_args){got, 1, m, 10, now};
    CHECK(in_tx(after_fn, &a) == STORE_OK, "the last query");
    got = order_now(o.id);
    CHECK(got.query_attempts == 10 && got.next_query_at == o.expires_at && strcmp(got.status, "pending") == 0,
          "past the last query the order waits for its expiry");

    struct order soon = make_order(u.id, "stripe", "pack", NULL);
    soon.expires_at = soon.created_at + 2 * m;
    a = (struct after_args){soon, 1, m, 10, soon.created_at + m};
    CHECK(in_tx(after_fn, &a) == STORE_OK && order_now(soon.id).next_query_at == soon.expires_at,
          "a next query past the expiry is moved to the expiry");

    a = (struct after_args){got, 1, m, 10, o.expires_at};
    CHECK(in_tx(after_fn, &a) == STORE_OK && strcmp(order_now(o.id).status, "expired") == 0,
          "at expires_at the pending order expires");

    struct notice_args n;
    struct order p = make_order(u.id, "stripe", "pack", NULL);
    CHECK(notice(&n, NOTICE_PAID, "evt_aq1", p.id, 990, "USD") == STORE_OK && n.outcome == ORDERS_FULFILLED,
          "an order paid meanwhile");
    a = (struct after_args){p, 1, m, 10, p.created_at + m};
    got = order_now(p.id);
    CHECK(in_tx(after_fn, &a) == STORE_OK && order_now(p.id).query_attempts == 0 &&
              order_now(p.id).next_query_at == got.next_query_at && strcmp(order_now(p.id).status, "paid") == 0,
          "a paid order is not rescheduled");
    a = (struct after_args){p, 1, m, 10, p.expires_at + 1};
    CHECK(in_tx(after_fn, &a) == STORE_OK && strcmp(order_now(p.id).status, "paid") == 0,
          "nor expired, even past expires_at");
}

static int in_list(const struct order *list, size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i].id, id) == 0)
            return 1;
    return 0;
}

static void test_due(void)
{
    struct user u = make_user();
    int64_t now = time_now_ms();
    struct order queried = make_order(u.id, "stripe", "pack", NULL);
    struct order later = make_order(u.id, "stripe", "pack", NULL);
    struct order quiet = make_order(u.id, "stripe", "pack", NULL);
    struct order paid = make_order(u.id, "stripe", "pack", NULL);
    struct notice_args pn;

    CHECK(store_order_schedule(g_s, queried.id, 1, now - 1, now) == STORE_OK, "one query due a moment ago");
    CHECK(store_order_schedule(g_s, later.id, 1, now + 60000, now) == STORE_OK, "one due in a minute");
    CHECK(store_order_schedule(g_s, paid.id, 1, now - 1, now) == STORE_OK, "one due, then paid");
    CHECK(notice(&pn, NOTICE_PAID, "evt_due_paid", paid.id, 990, "USD") == STORE_OK && pn.outcome == ORDERS_FULFILLED,
          "paid");
    CHECK(store_order_schedule(g_s, paid.id, 2, now, now) == STORE_CONFLICT, "a paid order cannot be scheduled");
    /* The newest: due by its expiry only, after every other one's. */
    struct order exp = make_order(u.id, "stripe", "pack", NULL);

    struct order *list = NULL;
    size_t n = 0;
    CHECK(store_orders_due(g_s, now, 1000, &list, &n) == STORE_OK, "due orders");
    CHECK(in_list(list, n, queried.id) && !in_list(list, n, later.id) && !in_list(list, n, quiet.id) &&
              !in_list(list, n, paid.id) && !in_list(list, n, exp.id),
          "the one whose query is due; not the later, the unscheduled or the paid one");
    int oldest_first = 1;
    for (size_t i = 1; i < n; i++)
        if (list[i].created_at < list[i - 1].created_at)
            oldest_first = 0;
    CHECK(oldest_first, "oldest first");
    free(list);
    list = NULL;

    int64_t past_expiry = exp.expires_at;
    CHECK(store_orders_due(g_s, past_expiry, 1000, &list, &n) == STORE_OK && in_list(list, n, exp.id) &&
              in_list(list, n, quiet.id) && in_list(list, n, later.id) && !in_list(list, n, paid.id),
          "at their expiry the unscheduled ones are due too, the paid one never");
    free(list);
    list = NULL;
    CHECK(store_orders_due(g_s, past_expiry, 2, &list, &n) == STORE_OK && n == 2, "at most limit");
    free(list);
}

/* An order created at created_at (ms). Its id is made 2 ms after the previous one's: ids made
 * within one millisecond order by their random part, and the search lists in id order. */
static struct order order_at(const char *user_id, const char *provider, int64_t created_at)
{
    usleep(2000);
    struct order o = new_order(user_id);
    snprintf(o.provider, sizeof o.provider, "%s", provider);
    o.created_at = created_at;
    o.expires_at = created_at + 3600000;
    CHECK(store_order_insert(g_s, &o) == STORE_OK, "order %s", o.id);
    return o;
}

static void test_search(void)
{
    struct user u = make_user(), v = make_user();
    const int64_t t = 1600000000000LL;
    struct order a = order_at(u.id, "stripe", t);
    struct order b = order_at(u.id, "alipay", t + 1000);
    struct order c = order_at(u.id, "stripe", t + 2000);
    struct order d = order_at(v.id, "stripe", t + 1000);
    static const char *const from_pending[] = {"pending", NULL};
    CHECK(store_order_transition(g_s, c.id, from_pending, "failed", t + 3000) == STORE_OK, "c failed");
    struct order *l = NULL;
    size_t n = 0;

    struct order_filter f = {.user_id = u.id};
    CHECK(store_order_search(g_s, &f, NULL, 10, &l, &n) == STORE_OK && n == 3 && strcmp(l[0].id, c.id) == 0 &&
              strcmp(l[1].id, b.id) == 0 && strcmp(l[2].id, a.id) == 0,
          "by user: the user's three, newest first");
    free(l);
    l = NULL;
    f = (struct order_filter){.user_id = u.id, .status = "failed"};
    CHECK(store_order_search(g_s, &f, NULL, 10, &l, &n) == STORE_OK && n == 1 && strcmp(l[0].id, c.id) == 0,
          "by user and status");
    free(l);
    l = NULL;
    f = (struct order_filter){.user_id = u.id, .provider = "stripe"};
    CHECK(store_order_search(g_s, &f, NULL, 10, &l, &n) == STORE_OK && n == 2 && strcmp(l[0].id, c.id) == 0 &&
              strcmp(l[1].id, a.id) == 0,
          "by user and provider");
    free(l);
    l = NULL;
    f = (struct order_filter){.created_from = t + 1000, .created_to = t + 2000};
    CHECK(store_order_search(g_s, &f, NULL, 10, &l, &n) == STORE_OK && n == 2 && in_list(l, n, b.id) &&
              in_list(l, n, d.id),
          "by time: from inclusive, to exclusive, any user");
    free(l);
    l = NULL;
    f = (struct order_filter){.created_from = t, .created_to = t + 1};
    CHECK(store_order_search(g_s, &f, NULL, 10, &l, &n) == STORE_OK && n == 1 && strcmp(l[0].id, a.id) == 0,
          "a one-millisecond window");
    free(l);
    l = NULL;
    f = (struct order_filter){.user_id = u.id};
    CHECK(store_order_search(g_s, &f, c.id, 10, &l, &n) == STORE_OK && n == 2 && strcmp(l[0].id, b.id) == 0 &&
              strcmp(l[1].id, a.id) == 0,
          "the page after a cursor");
    free(l);
    l = NULL;
    CHECK(store_order_search(g_s, &f, NULL, 2, &l, &n) == STORE_OK && n == 2 && strcmp(l[0].id, c.id) == 0,
          "at most limit");
    free(l);
    l = NULL;
    f = (struct order_filter){.user_id = v.id, .provider = "alipay"};
    CHECK(store_order_search(g_s, &f, NULL, 10, &l, &n) == STORE_OK && n == 0, "filters combine: none");
    free(l);
    l = NULL;
    CHECK(store_order_search(g_s, NULL, NULL, 1000, &l, &n) == STORE_OK && in_list(l, n, a.id) &&
              in_list(l, n, d.id) && n >= 4,
          "no filter: every user's orders");
    free(l);
    l = NULL;
    f = (struct order_filter){.status = "failed"};
    int all_failed = 1;
    CHECK(store_order_search(g_s, &f, NULL, 1000, &l, &n) == STORE_OK && in_list(l, n, c.id), "by status alone");
    for (size_t i = 0; i < n; i++)
        if (strcmp(l[i].status, "failed") != 0)
            all_failed = 0;
    CHECK(all_failed, "and only that status");
    free(l);
}

int main(void)
{
    char *err = NULL;
    int applied = 0;
    if (crypto_init() != 0 || mkdtemp(tmpdir) == NULL) {
        printf("Bail out! setup\n");
        return 1;
    }
    setenv("TG_DATA_DIR", tmpdir, 1);
    if (config_load(NULL, &err) != 0) {
        printf("Bail out! config_load: %s\n", err ? err : "?");
        return 1;
    }
    snprintf(g_url, sizeof g_url, "sqlite:%s/test.db", tmpdir);
    if (store_migrate(g_url, &applied, &err) != 0 || (g_s = store_open(g_url, &err)) == NULL) {
        printf("Bail out! store: %s\n", err ? err : "?");
        return 1;
    }
    test_rule();
    test_race();
    test_failed_notice();
    test_create_idem();
    test_schedule();
    test_after_query();
    test_due();
    test_search();
    test_audit();
    store_close(g_s);
    config_free();
    nftw(tmpdir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    return test_done();
}
