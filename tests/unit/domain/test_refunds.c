/* Unit tests for src/domain/refunds.c: the credits a refund takes back, reserving a refund,
 * the provider's answer, refund notifications, and the audit of orders against refunds and
 * the ledger - against a temporary SQLite store. After every scenario the order audit
 * (store_orders_check) must find nothing; the last test breaks the data behind the rules'
 * back and the audit must find each break. */
#include "../test.h"

#include <ftw.h>
#include <stdlib.h>
#include <unistd.h>

#include <jansson.h>
#include <sqlite3.h>

#include "core/config.h"
#include "core/ids.h"
#include "core/timeutil.h"
#include "crypto/random.h"
#include "domain/ledger.h"
#include "domain/orders.h"
#include "domain/refunds.h"
#include "store/call.h"
#include "store/store.h"

static char tmpdir[] = "/tmp/tg_test_refunds_XXXXXX";
static char g_db[300];
static struct store *g_s;

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
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

struct begin_args {
    struct refund_request rq;
    enum refunds_rc out;
    struct refund rf;
    struct order o;
};

static enum store_rc begin_fn(struct store *s, void *arg)
{
    struct begin_args *a = arg;
    return refunds_begin_tx(s, &a->rq, time_now_ms(), &a->out, &a->rf, &a->o);
}

/* An admin's refund of amount of order_id; *a receives the outcome. */
static enum store_rc begin(struct begin_args *a, const char *order_id, int64_t amount, int allow_negative)
{
    memset(a, 0, sizeof *a);
    a->rq.order_id = order_id;
    a->rq.amount = amount;
    a->rq.reason = "customer asked";
    a->rq.allow_negative = allow_negative;
    a->rq.actor_id = "usr_admin";
    a->rq.ip = "192.0.2.7";
    a->rq.request_id = "req_1";
    return in_tx(begin_fn, a);
}

struct finish_args {
    const char *refund_id, *provider_refund_id;
    int succeeded, pending;
    struct refund rf;
    struct order o;
};

static enum store_rc finish_fn(struct store *s, void *arg)
{
    struct finish_args *a = arg;
    return refunds_finish_tx(s, a->refund_id, a->succeeded, a->pending, a->provider_refund_id, time_now_ms(), &a->rf,
                             &a->o);
}

static enum store_rc finish(struct finish_args *a, const char *refund_id, int succeeded, int pending,
                            const char *provider_refund_id)
{
    memset(a, 0, sizeof *a);
    a->refund_id = refund_id;
    a->succeeded = succeeded;
    a->pending = pending;
    a->provider_refund_id = provider_refund_id;
    return in_tx(finish_fn, a);
}

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

/* A verified refund notice of provider "stripe" for order_id. */
static enum store_rc refund_notice(struct notice_args *a, const char *event_id, const char *order_id, int64_t amount,
                                   const char *currency, const char *refund_id, const char *provider_refund_id)
{
    memset(a, 0, sizeof *a);
    a->n = (struct payment_notice){"stripe", event_id, "charge.refunded", order_id, NULL, amount, currency,
                                   NOTICE_REFUND, refund_id, provider_refund_id};
    return in_tx(notice_fn, a);
}

/* ---- fixtures ---- */

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

static struct order make_order(const char *user_id, const char *kind)
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
    snprintf(o.provider, sizeof o.provider, "stripe");
    snprintf(o.status, sizeof o.status, "pending");
    o.created_at = time_now_ms();
    o.expires_at = o.created_at + 3600000;
    CHECK(store_order_insert(g_s, &o) == STORE_OK, "order %s", o.id);
    return o;
}

/* A pack order of 115 credits for 9.90 USD, paid through the fulfilment rule. */
static struct order paid_order(const char *user_id)
{
    struct order o = make_order(user_id, "pack");
    struct notice_args a;
    char ev[64];
    memset(&a, 0, sizeof a);
    snprintf(ev, sizeof ev, "evt_pay_%s", o.id);
    a.n = (struct payment_notice){"stripe", ev, "checkout.session.completed", o.id, NULL, 990, "USD"};
    CHECK(in_tx(notice_fn, &a) == STORE_OK && a.outcome == ORDERS_FULFILLED, "order %s paid", o.id);
    return a.o;
}

static int64_t paid_of(const char *user_id)
{
    struct wallet w;
    return store_wallet_get(g_s, user_id, &w) == STORE_OK ? w.paid_credits : -1;
}

static struct order order_of(const char *id)
{
    struct order o;
    if (store_order_get(g_s, id, &o) != STORE_OK)
        memset(&o, 0, sizeof o);
    return o;
}

static struct refund refund_of(const char *id)
{
    struct refund r;
    if (store_refund_get(g_s, id, &r) != STORE_OK)
        memset(&r, 0, sizeof r);
    return r;
}

static size_t refunds_count(const char *order_id)
{
    struct refund *list = NULL;
    size_t n = 0;
    if (store_refund_list(g_s, order_id, &list, &n) != STORE_OK)
        return (size_t)-1;
    free(list);
    return n;
}

/* The payment_refund ledger entry of (ref_type, ref_id), its delta, or 0 when none. */
static int64_t refund_entry(const char *ref_type, const char *ref_id)
{
    struct ledger_entry e[2];
    size_t n = 0;
    if (store_ledger_get_by_ref(g_s, LK_PAYMENT_REFUND, ref_type, ref_id, e, &n) != STORE_OK || n != 1)
        return 0;
    return e[0].delta;
}

static int event_exists(const char *event_id)
{
    struct payment_event e;
    return store_payment_event_get(g_s, "stripe", event_id, &e) == STORE_OK;
}

/* Spends n paid credits of the user (a task, say). */
static void spend(const char *user_id, int64_t n, const char *task)
{
    struct ledger_op op = {.user_id = user_id, .amount = n, .debit = 1, .bucket = BUCKET_PAID, .kind = LK_SPEND,
                           .ref_type = "task", .ref_id = task};
    CHECK(store_ledger_apply(g_s, &op, time_now_ms(), NULL, NULL) == STORE_OK, "spend %lld credits", (long long)n);
}

static int64_t order_violations(void)
{
    int64_t v = -1;
    return store_orders_check(g_s, NULL, NULL, &v) == STORE_OK ? v : -1;
}

static int64_t ledger_violations(void)
{
    int64_t v = -1, w = -1;
    return store_ledger_check(g_s, NULL, NULL, &v, &w) == STORE_OK ? v : -1;
}

static void audit_clean(const char *after)
{
    CHECK_INT_EQ(order_violations(), 0, "the order audit is clean after %s", after);
    CHECK_INT_EQ(ledger_violations(), 0, "the ledger audit is clean after %s", after);
}

/* ---- refunds_credits_for ---- */

static void test_credits_for(void)
{
    CHECK_INT_EQ(refunds_credits_for(100, 1000, 0, 0, 250), 25, "a quarter of the money: a quarter of the credits");
    CHECK_INT_EQ(refunds_credits_for(115, 990, 0, 0, 100), 11, "floor(115 * 100 / 990) = 11");
    CHECK_INT_EQ(refunds_credits_for(115, 990, 0, 0, 1), 0, "a cent takes back less than a credit: 0");
    CHECK_INT_EQ(refunds_credits_for(115, 990, 0, 0, 990), 115, "the whole payment: every credit");

    /* Three thirds: 38, 38, and the last takes the rest (39), 115 in all. */
    int64_t c1 = refunds_credits_for(115, 990, 0, 0, 330);
    int64_t c2 = refunds_credits_for(115, 990, 330, c1, 330);
    int64_t c3 = refunds_credits_for(115, 990, 660, c1 + c2, 330);
    CHECK(c1 == 38 && c2 == 38 && c3 == 39, "thirds take back 38, 38 and the rest, 39 (%lld %lld %lld)",
          (long long)c1, (long long)c2, (long long)c3);
    CHECK_INT_EQ(refunds_credits_for(115, 990, 890, 103, 100), 12, "the refund completing the order takes the rest");
    CHECK_INT_EQ(refunds_credits_for(115, 990, 890, 115, 100), 0, "nothing left to take: 0, never negative");
    CHECK_INT_EQ(refunds_credits_for(115, 990, 890, 120, 100), 0, "more taken before than bought: 0");
    CHECK_INT_EQ(refunds_credits_for(115, 990, 0, 110, 500), 5, "a partial refund never takes past what is left");

    /* 1e9 * 3e18 overflows 64 bits; the answer must still be exact. */
    CHECK_INT_EQ(refunds_credits_for(1000000000LL, 4000000000000000000LL, 0, 0, 3000000000000000000LL), 750000000LL,
                 "huge amounts: exact, no overflow");
    CHECK_INT_EQ(refunds_credits_for(1000000000LL, INT64_MAX, 0, 0, INT64_MAX - 1), 999999999LL,
                 "INT64_MAX paid, all but one unit refunded: 999999999");
    CHECK_INT_EQ(refunds_credits_for(1000000000LL, INT64_MAX, INT64_MAX - 1, 999999999LL, 1), 1,
                 "and the last unit takes the last credit");

    CHECK_INT_EQ(refunds_credits_for(115, 0, 0, 0, 100), 0, "nothing paid: 0");
    CHECK_INT_EQ(refunds_credits_for(115, -990, 0, 0, 100), 0, "a negative payment: 0");
    CHECK_INT_EQ(refunds_credits_for(115, 990, 0, 0, 0), 0, "a zero amount: 0");
    CHECK_INT_EQ(refunds_credits_for(115, 990, 0, 0, -100), 0, "a negative amount: 0");
    CHECK_INT_EQ(refunds_credits_for(0, 990, 0, 0, 100), 0, "no credits bought: 0");
    CHECK_INT_EQ(refunds_credits_for(-115, 990, 0, 0, 990), 0, "negative credits: 0");
}

/* ---- refunds_begin_tx ---- */

static void test_begin_refused(void)
{
    struct user u = make_user();
    struct begin_args a;

    CHECK(begin(&a, "ord_01HZX3K9Q4M2W8E5R7T6Y1U0PA", 100, 0) == STORE_CONFLICT && a.out == REFUNDS_NOT_FOUND,
          "an unknown order: not_found");

    struct order pending = make_order(u.id, "pack");
    CHECK(begin(&a, pending.id, 100, 0) == STORE_CONFLICT && a.out == REFUNDS_NOT_PAID, "a pending order: not_paid");
    static const char *const from_pending[] = {"pending", NULL};
    struct order failed = make_order(u.id, "pack");
    CHECK(store_order_transition(g_s, failed.id, from_pending, "failed", time_now_ms()) == STORE_OK, "fail");
    CHECK(begin(&a, failed.id, 100, 0) == STORE_CONFLICT && a.out == REFUNDS_NOT_PAID, "a failed order: not_paid");
    struct order expired = make_order(u.id, "pack");
    CHECK(store_order_transition(g_s, expired.id, from_pending, "expired", time_now_ms()) == STORE_OK, "expire");
    CHECK(begin(&a, expired.id, 100, 0) == STORE_CONFLICT && a.out == REFUNDS_NOT_PAID, "an expired order: not_paid");
    struct order plan = make_order(u.id, "plan");
    CHECK(store_order_transition(g_s, plan.id, from_pending, "paid", time_now_ms()) == STORE_OK, "plan paid");
    CHECK(begin(&a, plan.id, 100, 0) == STORE_CONFLICT && a.out == REFUNDS_NOT_PAID, "a paid plan order: not_paid");

    struct order o = paid_order(u.id);
    CHECK(begin(&a, o.id, 991, 0) == STORE_CONFLICT && a.out == REFUNDS_EXCEEDS, "more than was paid: exceeds");
    CHECK(begin(&a, o.id, 0, 0) == STORE_CONFLICT && a.out == REFUNDS_INVALID, "a zero amount: invalid");
    CHECK(begin(&a, o.id, -5, 0) == STORE_CONFLICT && a.out == REFUNDS_INVALID, "a negative amount: invalid");
    char reason[502];
    memset(reason, 'r', 501);
    reason[501] = '\0';
    memset(&a, 0, sizeof a);
    a.rq = (struct refund_request){o.id, 100, reason, 0, "usr_admin", NULL, NULL};
    CHECK(in_tx(begin_fn, &a) == STORE_CONFLICT && a.out == REFUNDS_INVALID, "a reason of 501 bytes: invalid");
    CHECK(refunds_count(o.id) == 0 && order_of(o.id).refunded_amount == 0 && paid_of(u.id) == 115,
          "refused refunds wrote nothing");

    CHECK(begin(&a, o.id, 500, 0) == STORE_OK && a.out == REFUNDS_OK, "5.00 of 9.90 refunded");
    CHECK(begin(&a, o.id, 491, 0) == STORE_CONFLICT && a.out == REFUNDS_EXCEEDS,
          "4.91 more (past the 4.90 left): exceeds");
    CHECK(begin(&a, o.id, 490, 0) == STORE_OK && a.out == REFUNDS_OK && strcmp(a.o.status, "refunded") == 0 &&
              a.o.refunded_amount == 990,
          "the 4.90 left: the order is refunded");
    CHECK(begin(&a, o.id, 1, 0) == STORE_CONFLICT && a.out == REFUNDS_EXCEEDS, "a refunded order: nothing left");
    CHECK(paid_of(u.id) == 0, "every credit was taken back (%lld left)", (long long)paid_of(u.id));
    audit_clean("refused and complete refunds");
}

static void test_begin_ok(void)
{
    struct user u = make_user();
    struct order o = paid_order(u.id);
    struct begin_args a;

    int64_t t0 = time_now_ms();
    CHECK(begin(&a, o.id, 330, 0) == STORE_OK && a.out == REFUNDS_OK, "3.30 of 9.90 refunded");
    CHECK(strncmp(a.rf.id, "rfd_", 4) == 0 && strcmp(a.rf.order_id, o.id) == 0 && strcmp(a.rf.user_id, u.id) == 0 &&
              a.rf.amount == 330 && strcmp(a.rf.currency, "USD") == 0 && a.rf.credits == 38 && a.rf.shortfall == 0 &&
              strcmp(a.rf.status, "pending") == 0 && strcmp(a.rf.reason, "customer asked") == 0 &&
              strcmp(a.rf.actor_id, "usr_admin") == 0 && a.rf.created_at >= t0,
          "a pending refund rfd_... of 330, taking back 38 credits");
    CHECK(a.o.refunded_amount == 330 && strcmp(a.o.status, "partially_refunded") == 0,
          "the order is partially refunded by 330");
    struct refund stored = refund_of(a.rf.id);
    CHECK(strcmp(stored.id, a.rf.id) == 0 && stored.credits == 38 && strcmp(stored.status, "pending") == 0,
          "the refund is stored");
    CHECK(paid_of(u.id) == 115 - 38, "38 credits taken from the paid bucket");
    CHECK_INT_EQ(refund_entry("refund", a.rf.id), -38, "one payment_refund entry of -38 referring to the refund");

    struct audit_entry *e = NULL;
    size_t n = 0;
    CHECK(store_audit_list(g_s, NULL, 1, &e, &n) == STORE_OK && n == 1, "the newest audit row");
    if (n == 1) {
        CHECK(strcmp(e[0].action, "order.refund") == 0 && strcmp(e[0].actor_id, "usr_admin") == 0 &&
                  strcmp(e[0].target_type, "order") == 0 && strcmp(e[0].target_id, o.id) == 0 &&
                  strcmp(e[0].ip, "192.0.2.7") == 0 && strcmp(e[0].request_id, "req_1") == 0,
              "order.refund by the admin, on the order, with ip and request id");
        json_t *d = e[0].details_json ? json_loads(e[0].details_json, 0, NULL) : NULL;
        CHECK(d != NULL && strcmp(json_string_value(json_object_get(d, "refund_id")), a.rf.id) == 0 &&
                  strcmp(json_string_value(json_object_get(d, "user_id")), u.id) == 0 &&
                  json_integer_value(json_object_get(d, "amount")) == 330 &&
                  strcmp(json_string_value(json_object_get(d, "currency")), "USD") == 0 &&
                  json_integer_value(json_object_get(d, "credits")) == 38 &&
                  json_integer_value(json_object_get(d, "shortfall")) == 0 &&
                  json_is_false(json_object_get(d, "allow_negative")) &&
                  strcmp(json_string_value(json_object_get(d, "reason")), "customer asked") == 0,
              "its details: refund id, user, amount, currency, credits, shortfall, allow_negative, reason (%s)",
              e[0].details_json ? e[0].details_json : "null");
        json_decref(d);
    }
    store_audit_free(e, n);
    audit_clean("a partial refund");
}

static void test_begin_spent(void)
{
    struct user u = make_user();
    struct order o = paid_order(u.id);
    struct begin_args a;
    struct audit_entry *e = NULL;
    size_t n = 0;
    char before_audit[TG_ID_MAX] = "";

    spend(u.id, 100, "tsk_spent_1");
    CHECK(store_audit_list(g_s, NULL, 1, &e, &n) == STORE_OK, "audit list");
    if (n == 1)
        snprintf(before_audit, sizeof before_audit, "%s", e[0].id);
    store_audit_free(e, n);

    CHECK(begin(&a, o.id, 990, 0) == STORE_CONFLICT && a.out == REFUNDS_SPENT,
          "115 credits to take back, 15 left: credits_spent");
    CHECK(refunds_count(o.id) == 0, "no refund row");
    struct order now = order_of(o.id);
    CHECK(now.refunded_amount == 0 && strcmp(now.status, "paid") == 0, "the order is untouched");
    CHECK(paid_of(u.id) == 15, "the wallet is untouched");
    e = NULL;
    n = 0;
    CHECK(store_audit_list(g_s, NULL, 1, &e, &n) == STORE_OK && n == 1 && strcmp(e[0].id, before_audit) == 0,
          "no audit row");
    store_audit_free(e, n);
    CHECK(begin(&a, o.id, 100, 0) == STORE_OK && a.out == REFUNDS_OK && a.rf.credits == 11,
          "a refund whose 11 credits are still there goes through");

    CHECK(begin(&a, o.id, 890, 1) == STORE_OK && a.out == REFUNDS_OK, "allow_negative: the rest is refunded");
    CHECK(a.rf.credits == 4 && a.rf.shortfall == 100 && strcmp(a.rf.status, "pending") == 0,
          "the 4 credits left are taken, the 100 spent are the shortfall (%lld, %lld)", (long long)a.rf.credits,
          (long long)a.rf.shortfall);
    CHECK(paid_of(u.id) == 0, "the balance stops at zero, never below");
    CHECK(a.o.refunded_amount == 990 && strcmp(a.o.status, "refunded") == 0, "the order is refunded");
    CHECK_INT_EQ(refund_entry("refund", a.rf.id), -4, "the ledger entry takes 4");
    e = NULL;
    n = 0;
    CHECK(store_audit_list(g_s, NULL, 1, &e, &n) == STORE_OK && n == 1, "the newest audit row");
    if (n == 1) {
        json_t *d = e[0].details_json ? json_loads(e[0].details_json, 0, NULL) : NULL;
        CHECK(strcmp(e[0].action, "order.refund") == 0 && d != NULL &&
                  json_integer_value(json_object_get(d, "credits")) == 4 &&
                  json_integer_value(json_object_get(d, "shortfall")) == 100 &&
                  json_is_true(json_object_get(d, "allow_negative")),
              "the audit row records credits 4, shortfall 100, allow_negative true");
        json_decref(d);
    }
    store_audit_free(e, n);

    /* Nothing at all left: allow_negative records the whole as shortfall, no ledger entry. */
    struct user v = make_user();
    struct order p = paid_order(v.id);
    spend(v.id, 115, "tsk_spent_2");
    CHECK(begin(&a, p.id, 990, 1) == STORE_OK && a.rf.credits == 0 && a.rf.shortfall == 115 && paid_of(v.id) == 0,
          "every credit spent: credits 0, shortfall 115");
    CHECK_INT_EQ(refund_entry("refund", a.rf.id), 0, "and no ledger entry");
    audit_clean("refunds of spent credits");
}

/* ---- refunds_finish_tx ---- */

static void test_finish(void)
{
    struct user u = make_user();
    struct order o = paid_order(u.id);
    struct begin_args a;
    struct finish_args f;

    CHECK(begin(&a, o.id, 330, 0) == STORE_OK, "refund 1 reserved");
    CHECK(finish(&f, a.rf.id, 1, 0, "re_1") == STORE_OK && strcmp(f.rf.status, "succeeded") == 0 &&
              strcmp(f.rf.provider_refund_id, "re_1") == 0 && f.o.refunded_amount == 330 &&
              strcmp(f.o.status, "partially_refunded") == 0,
          "succeeded: the refund is done with the provider's id, the order keeps the amount");
    CHECK(paid_of(u.id) == 77, "its 38 credits stay taken");

    CHECK(begin(&a, o.id, 330, 0) == STORE_OK, "refund 2 reserved");
    char pending_id[TG_ID_MAX];
    snprintf(pending_id, sizeof pending_id, "%s", a.rf.id);
    CHECK(finish(&f, pending_id, 1, 1, "re_2") == STORE_OK && strcmp(f.rf.status, "pending") == 0 &&
              strcmp(f.rf.provider_refund_id, "re_2") == 0 && f.o.refunded_amount == 660,
          "accepted but pending: stays pending, with the provider's id");
    audit_clean("a succeeded and a pending refund");

    CHECK(begin(&a, o.id, 330, 0) == STORE_OK && a.rf.credits == 39 && paid_of(u.id) == 0,
          "refund 3 reserved: the last third takes the last 39 credits");
    CHECK(finish(&f, a.rf.id, 0, 0, NULL) == STORE_OK && strcmp(f.rf.status, "failed") == 0,
          "declined: the refund failed");
    CHECK(f.o.refunded_amount == 660 && strcmp(f.o.status, "partially_refunded") == 0,
          "the order's refunded amount is back to 660");
    CHECK(paid_of(u.id) == 39, "the 39 credits are back");
    CHECK_INT_EQ(refund_entry("refund_reversal", a.rf.id), 39,
                 "returned by a payment_refund entry referring to refund_reversal");
    audit_clean("a declined refund");

    CHECK(finish(&f, a.rf.id, 1, 0, "re_3") == STORE_OK && strcmp(f.rf.status, "failed") == 0 && paid_of(u.id) == 39,
          "a late answer for a refund no longer pending changes nothing");
    CHECK(finish(&f, "rfd_01HZX3K9Q4M2W8E5R7T6Y1U0PA", 1, 0, NULL) == STORE_NOTFOUND, "an unknown refund: not found");
    audit_clean("late answers");
}

/* ---- refunds_notice_tx ---- */

/* A provider that carries no refund id of ours (Creem) notifies before our refund call's
 * answer is recorded: the notice completes that pending refund rather than adding one. */
static void test_notice_before_answer(void)
{
    struct user u = make_user();
    struct order o = paid_order(u.id);
    struct begin_args a;
    struct finish_args f;
    struct notice_args n;

    CHECK(begin(&a, o.id, 990, 0) == STORE_OK, "a refund of everything, reserved");
    int64_t after_begin = paid_of(u.id);
    CHECK(refund_notice(&n, "evt_early", o.id, 990, "USD", NULL, "tran_early") == STORE_OK &&
              n.outcome == ORDERS_REFUNDED && refunds_count(o.id) == 1,
          "the early notice completes the pending refund: no second refund");
    struct refund r = refund_of(a.rf.id);
    CHECK(strcmp(r.status, "succeeded") == 0 && strcmp(r.provider_refund_id, "tran_early") == 0,
          "succeeded, with the provider's id");
    CHECK(paid_of(u.id) == after_begin && order_of(o.id).refunded_amount == 990, "credits taken once, amount once");
    CHECK(finish(&f, a.rf.id, 1, 0, "tran_early") == STORE_OK && strcmp(f.rf.status, "succeeded") == 0 &&
              paid_of(u.id) == after_begin,
          "the provider's answer recorded afterwards changes nothing");
    audit_clean("a notice before the answer");
}

static void test_notice(void)
{
    struct user u = make_user();
    struct order o = paid_order(u.id);
    struct begin_args a;
    struct finish_args f;
    struct notice_args n;

    /* A pending refund completed by its notification. */
    CHECK(begin(&a, o.id, 200, 0) == STORE_OK && finish(&f, a.rf.id, 1, 1, "re_p") == STORE_OK, "a pending refund");
    char pending_id[TG_ID_MAX];
    snprintf(pending_id, sizeof pending_id, "%s", a.rf.id);
    CHECK(refund_notice(&n, "evt_r1", o.id, 200, "USD", pending_id, "re_p") == STORE_OK &&
              n.outcome == ORDERS_REFUNDED && strcmp(refund_of(pending_id).status, "succeeded") == 0,
          "its notification completes it");
    CHECK(event_exists("evt_r1"), "the notification is in the inbox");
    CHECK(refund_notice(&n, "evt_r2", o.id, 200, "USD", pending_id, "re_p") == STORE_OK &&
              n.outcome == ORDERS_REFUND_KNOWN && order_of(o.id).refunded_amount == 200,
          "another notification of the same refund: refund_known, nothing changes");
    CHECK(refund_notice(&n, "evt_r2b", o.id, 200, "USD", NULL, "re_p") == STORE_OK &&
              n.outcome == ORDERS_REFUND_KNOWN,
          "found by the provider's refund id alone: refund_known");
    CHECK(refund_notice(&n, "evt_r3", o.id, 201, "USD", pending_id, "re_p") == STORE_CONFLICT &&
              n.outcome == ORDERS_REFUND_MISMATCH && !event_exists("evt_r3"),
          "a notification of that refund with another amount: refund_mismatch, nothing written");
    audit_clean("a refund completed by notification");

    /* A refund the provider declined, whose money moved after all. */
    int64_t before = paid_of(u.id);
    CHECK(begin(&a, o.id, 300, 0) == STORE_OK && finish(&f, a.rf.id, 0, 0, NULL) == STORE_OK &&
              paid_of(u.id) == before,
          "a declined refund gave its credits back");
    char failed_id[TG_ID_MAX];
    int64_t credits = a.rf.credits;
    snprintf(failed_id, sizeof failed_id, "%s", a.rf.id);
    CHECK(refund_notice(&n, "evt_r4", o.id, 300, "USD", failed_id, "re_f") == STORE_OK &&
              n.outcome == ORDERS_REFUNDED,
          "its notification revives it");
    struct refund r = refund_of(failed_id);
    CHECK(strcmp(r.status, "succeeded") == 0 && strcmp(r.provider_refund_id, "re_f") == 0 && r.credits == credits &&
              r.shortfall == 0,
          "the refund succeeded, taking its %lld credits again", (long long)credits);
    CHECK(order_of(o.id).refunded_amount == 500 && paid_of(u.id) == before - credits,
          "the order counts it again and the credits are taken again");
    CHECK_INT_EQ(refund_entry("refund_revived", failed_id), -credits, "by an entry referring to refund_revived");
    audit_clean("a revived refund");

    /* A refund made in the provider's dashboard. */
    before = paid_of(u.id);
    CHECK(refund_notice(&n, "evt_r5", o.id, 100, "USD", NULL, "re_dash") == STORE_OK &&
              n.outcome == ORDERS_REFUNDED && n.o.refunded_amount == 600 &&
              strcmp(n.o.status, "partially_refunded") == 0,
          "a dashboard refund is recorded");
    struct refund rd;
    CHECK(store_refund_get_by_provider(g_s, o.id, "re_dash", &rd) == STORE_OK && strncmp(rd.id, "rfd_", 4) == 0 &&
              rd.amount == 100 && strcmp(rd.status, "succeeded") == 0 && rd.actor_id[0] == '\0' &&
              strcmp(rd.reason, "refunded at the provider") == 0 && rd.credits == 11 && rd.shortfall == 0,
          "as a succeeded refund of 100 taking back 11 credits, by no admin");
    CHECK(paid_of(u.id) == before - 11, "the 11 credits are taken");
    CHECK(refund_notice(&n, "evt_r6", o.id, 100, "USD", NULL, "re_dash") == STORE_OK &&
              n.outcome == ORDERS_REFUND_KNOWN && refunds_count(o.id) == 3,
          "its second notification: refund_known, no second row");
    CHECK(refund_notice(&n, "evt_r7", o.id, 391, "USD", NULL, "re_dash2") == STORE_CONFLICT &&
              n.outcome == ORDERS_REFUND_MISMATCH && !event_exists("evt_r7") && refunds_count(o.id) == 3,
          "a dashboard refund past what is left (3.90): refund_mismatch, nothing written");
    CHECK(refund_notice(&n, "evt_r8", o.id, 100, "EUR", NULL, "re_dash3") == STORE_CONFLICT &&
              n.outcome == ORDERS_AMOUNT_MISMATCH && !event_exists("evt_r8"),
          "a refund notice in another currency: amount_mismatch, nothing written");
    audit_clean("a dashboard refund");

    /* Spent credits: the money is gone anyway, so what is left is taken and the rest is the
     * shortfall. */
    spend(u.id, paid_of(u.id), "tsk_notice_spend");
    CHECK(refund_notice(&n, "evt_r9", o.id, 390, "USD", NULL, "re_dash4") == STORE_OK &&
              n.outcome == ORDERS_REFUNDED && strcmp(n.o.status, "refunded") == 0,
          "the last 3.90 refunded in the dashboard after the credits were spent");
    CHECK(store_refund_get_by_provider(g_s, o.id, "re_dash4", &rd) == STORE_OK && rd.credits == 0 &&
              rd.shortfall > 0 && paid_of(u.id) == 0,
          "credits 0, shortfall %lld, the balance stays at zero", (long long)rd.shortfall);
    audit_clean("a dashboard refund of spent credits");

    /* Refusals. */
    struct order pending = make_order(u.id, "pack");
    CHECK(refund_notice(&n, "evt_r10", pending.id, 100, "USD", NULL, "re_x") == STORE_CONFLICT &&
              n.outcome == ORDERS_REFUND_MISMATCH && !event_exists("evt_r10"),
          "a refund notice for an unpaid order: refund_mismatch, nothing written");
    struct order other = paid_order(u.id);
    CHECK(refund_notice(&n, "evt_r11", other.id, 200, "USD", pending_id, NULL) == STORE_CONFLICT &&
              n.outcome == ORDERS_REFUND_MISMATCH && !event_exists("evt_r11") && order_of(other.id).refunded_amount == 0,
          "our refund id of another order: refund_mismatch, nothing written");
    CHECK(refund_notice(&n, "evt_r12", other.id, 991, "USD", NULL, "re_big") == STORE_CONFLICT &&
              n.outcome == ORDERS_REFUND_MISMATCH,
          "a dashboard refund past the payment: refund_mismatch");
    CHECK(refund_notice(&n, "evt_r13", other.id, 0, "USD", NULL, "re_zero") == STORE_CONFLICT &&
              n.outcome == ORDERS_REFUND_MISMATCH,
          "a refund of zero: refund_mismatch");
    audit_clean("refused refund notices");
}

/* ---- the audit finds what the rules never write ---- */

static int raw_exec(const char *sql)
{
    sqlite3 *db = NULL;
    int ok = sqlite3_open(g_db, &db) == SQLITE_OK && sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK &&
             sqlite3_changes(db) == 1;
    sqlite3_close(db);
    return ok;
}

static void test_audit_corrupt(void)
{
    struct user u = make_user();
    struct order o = paid_order(u.id);
    struct begin_args a;
    char sql[512];

    CHECK(begin(&a, o.id, 330, 0) == STORE_OK, "a partial refund");
    audit_clean("the setup");

    snprintf(sql, sizeof sql, "UPDATE orders SET refunded_amount = refunded_amount + 1 WHERE id = '%s'", o.id);
    CHECK(raw_exec(sql), "raw: the order's refunded_amount moved behind the rules' back");
    CHECK_INT_EQ(order_violations(), 1, "found: refunded amount is not the refunds' sum");
    snprintf(sql, sizeof sql, "UPDATE orders SET refunded_amount = refunded_amount - 1 WHERE id = '%s'", o.id);
    CHECK(raw_exec(sql) && order_violations() == 0, "put back: clean");

    snprintf(sql, sizeof sql, "UPDATE refunds SET credits = credits + 5 WHERE id = '%s'", a.rf.id);
    CHECK(raw_exec(sql), "raw: the refund claims 5 credits more than its ledger entries took");
    CHECK_INT_EQ(order_violations(), 1, "found: a refund whose credits differ from its ledger entries");
    snprintf(sql, sizeof sql, "UPDATE refunds SET credits = credits - 5 WHERE id = '%s'", a.rf.id);
    CHECK(raw_exec(sql) && order_violations() == 0, "put back: clean");

    snprintf(sql, sizeof sql, "UPDATE refunds SET currency = 'EUR' WHERE id = '%s'", a.rf.id);
    CHECK(raw_exec(sql), "raw: the refund in another currency");
    CHECK_INT_EQ(order_violations(), 1, "found: a refund in another currency than the order's");
    snprintf(sql, sizeof sql, "UPDATE refunds SET currency = 'USD' WHERE id = '%s'", a.rf.id);
    CHECK(raw_exec(sql) && order_violations() == 0, "put back: clean");

    /* A refund row of 700 more than what is left (with its amount in the order's sum so that
     * only the excess shows): the refunds add up past the payment. */
    snprintf(sql, sizeof sql,
             "INSERT INTO refunds(id, order_id, user_id, amount, currency, credits, status, created_at, updated_at)"
             " VALUES ('rfd_forged', '%s', '%s', 700, 'USD', 0, 'succeeded', 1, 1)",
             o.id, u.id);
    CHECK(raw_exec(sql), "raw: a refund row nobody made");
    CHECK_INT_EQ(order_violations(), 2, "found twice: the order's sum differs, and the refunds pass the payment");
    CHECK(raw_exec("DELETE FROM refunds WHERE id = 'rfd_forged'") && order_violations() == 0, "removed: clean");

    /* Credits given back without a refund having failed: the ledger disagrees with it. */
    struct ledger_op op = {.user_id = u.id, .amount = 38, .bucket = BUCKET_PAID, .kind = LK_PAYMENT_REFUND,
                           .ref_type = "refund_reversal", .ref_id = a.rf.id};
    CHECK(store_ledger_apply(g_s, &op, time_now_ms(), NULL, NULL) == STORE_OK,
          "a refund_reversal entry for a refund that is still pending");
    CHECK_INT_EQ(order_violations(), 1, "found: the refund's credits differ from its ledger entries");
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
    snprintf(g_db, sizeof g_db, "%s/test.db", tmpdir);
    char url[320];
    snprintf(url, sizeof url, "sqlite:%s", g_db);
    if (store_migrate(url, &applied, &err) != 0 || (g_s = store_open(url, &err)) == NULL) {
        printf("Bail out! store: %s\n", err ? err : "?");
        return 1;
    }
    test_credits_for();
    test_begin_refused();
    test_begin_ok();
    test_begin_spent();
    test_finish();
    test_notice();
    test_notice_before_answer();
    test_audit_corrupt();
    store_close(g_s);
    config_free();
    nftw(tmpdir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    return test_done();
}
