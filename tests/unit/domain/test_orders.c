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
    CHECK(fulfil_on(g_s, "stripe", "evt_9", plan.id, NULL, 990, "USD", &out) == STORE_CONFLICT &&
              out == ORDERS_UNSUPPORTED,
          "plan orders wait for subscriptions");

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
    test_audit();
    store_close(g_s);
    config_free();
    nftw(tmpdir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    return test_done();
}
