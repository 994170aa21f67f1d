/* Unit tests for src/domain/subscriptions.c against a temporary SQLite store and the built-in
 * catalog (pro: 300 credits a month, max: 900): starting, prepaid extension, credit periods
 * and their expiry, yearly plans, reminders, renewals by the provider (exactly once per
 * period), past due, upgrades and downgrades, cancel and resume, and a renewal racing the
 * job and spenders from other connections. Time is passed in, so a year runs at once. */
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
#include "domain/catalog.h"
#include "domain/ledger.h"
#include "domain/orders.h"
#include "domain/subscriptions.h"
#include "store/call.h"
#include "store/store.h"

static char tmpdir[] = "/tmp/tg_test_subs_XXXXXX";
static char g_url[300];
static struct store *g_s;

#define DAY (24LL * 60 * 60 * 1000)
/* 2026-01-31T10:00:00Z: a month end, so that clamping shows. */
static int64_t T0;

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static int64_t at(const char *rfc3339)
{
    int64_t ms = 0;
    time_parse_rfc3339(rfc3339, strlen(rfc3339), &ms);
    return ms;
}

static struct user make_user(void)
{
    struct user u;
    memset(&u, 0, sizeof u);
    id_new(u.id, "usr");
    snprintf(u.email, sizeof u.email, "%s@example.test", u.id);
    snprintf(u.role, sizeof u.role, "user");
    u.created_at = u.updated_at = T0;
    CHECK(store_user_create(g_s, &u) == STORE_OK, "user");
    return u;
}

static struct order make_order(const char *user_id, const char *provider, const char *product, int64_t now)
{
    const struct catalog_product *p = catalog_find(product);
    struct order o;
    memset(&o, 0, sizeof o);
    id_new(o.id, "ord");
    snprintf(o.user_id, sizeof o.user_id, "%s", user_id);
    snprintf(o.product, sizeof o.product, "%s", product);
    snprintf(o.kind, sizeof o.kind, "plan");
    o.credits = p->credits;
    o.amount = catalog_price(p, "USD")->amount;
    snprintf(o.currency, sizeof o.currency, "USD");
    snprintf(o.provider, sizeof o.provider, "%s", provider);
    snprintf(o.status, sizeof o.status, "pending");
    o.created_at = now;
    o.expires_at = now + 3600000;
    CHECK(store_order_insert(g_s, &o) == STORE_OK, "order %s", o.id);
    return o;
}

struct notice_call {
    struct store_call call;
    struct payment_notice n;
    int64_t now;
    enum orders_outcome outcome;
    struct order order;
};

static enum store_rc notice_run(struct store *s, struct store_call *c)
{
    struct notice_call *f = (struct notice_call *)c;
    return orders_notice_tx(s, &f->n, f->now, &f->outcome, &f->order);
}

static enum store_rc notice_on(struct store *s, const struct payment_notice *n, int64_t now, enum orders_outcome *out)
{
    struct notice_call f;
    memset(&f, 0, sizeof f);
    f.call.kind = STORE_CALL_WRITE;
    f.call.run = notice_run;
    f.n = *n;
    f.now = now;
    enum store_rc rc = store_call_run_sync(s, &f.call);
    if (out)
        *out = f.outcome;
    return rc;
}

/* Pays order o (a notice from its provider) at now; the subscription ref for renewing ones. */
static enum orders_outcome pay(const struct order *o, const char *event_id, const char *sub_ref, int64_t now)
{
    struct payment_notice n = {.provider = o->provider,
                               .event_id = event_id,
                               .kind = "paid",
                               .order_id = o->id,
                               .amount = o->amount,
                               .currency = o->currency,
                               .notice = NOTICE_PAID,
                               .subscription_ref = sub_ref};
    enum orders_outcome out = ORDERS_UNKNOWN_ORDER;
    CHECK(notice_on(g_s, &n, now, &out) == STORE_OK, "paid notice %s commits", event_id);
    return out;
}

static enum store_rc sub_notice(const char *provider, const char *event_id, enum payment_notice_kind kind,
                                const char *sub_ref, const char *invoice, int64_t start, int64_t end,
                                const char *product, int cancel, int64_t now, enum orders_outcome *out)
{
    struct payment_notice n = {.provider = provider,
                               .event_id = event_id,
                               .kind = "subscription",
                               .amount = 1990,
                               .currency = "USD",
                               .notice = kind,
                               .subscription_ref = sub_ref,
                               .invoice_ref = invoice,
                               .period_start = start,
                               .period_end = end,
                               .product = product,
                               .cancel_at_period_end = cancel};
    return notice_on(g_s, &n, now, out);
}

struct due_call {
    struct store_call call;
    const char *id;
    int64_t now;
    enum subs_mail mail;
    struct subscription sub;
};

static enum store_rc due_run(struct store *s, struct store_call *c)
{
    struct due_call *d = (struct due_call *)c;
    return subs_due_tx(s, d->id, d->now, &d->mail, &d->sub);
}

/* Runs the job for sub_id at now on s; the mail it decided. */
static enum subs_mail due_on(struct store *s, const char *sub_id, int64_t now)
{
    struct due_call d;
    memset(&d, 0, sizeof d);
    d.call.kind = STORE_CALL_WRITE;
    d.call.run = due_run;
    d.id = sub_id;
    d.now = now;
    enum store_rc rc = store_call_run_sync(s, &d.call);
    CHECK(rc == STORE_OK, "job run commits (%s)", store_rc_name(rc));
    return d.mail;
}

/* Runs the job for every due subscription at now, as jobs/subscriptions.c does. */
static void job(int64_t now)
{
    struct subscription *subs = NULL;
    size_t n = 0;
    if (store_subs_due(g_s, now, 100, &subs, &n) == STORE_OK)
        for (size_t i = 0; i < n; i++)
            due_on(g_s, subs[i].id, now);
    free(subs);
}

struct action_call {
    struct store_call call;
    int what; /* 0 cancel at end, 1 cancel now, 2 resume, 3 change */
    const char *id, *product;
    int64_t now;
    struct subscription sub;
};

static enum store_rc action_run(struct store *s, struct store_call *c)
{
    struct action_call *a = (struct action_call *)c;
    switch (a->what) {
    case 0: return subs_cancel_tx(s, a->id, 1, "", "127.0.0.1", "req_1", a->now, &a->sub);
    case 1: return subs_cancel_tx(s, a->id, 0, "usr_admin", "127.0.0.1", "req_1", a->now, &a->sub);
    case 2: return subs_resume_tx(s, a->id, "", NULL, NULL, a->now, &a->sub);
    default: return subs_change_tx(s, a->id, a->product, "", NULL, NULL, a->now, &a->sub);
    }
}

static enum store_rc action(int what, const char *id, const char *product, int64_t now, struct subscription *out)
{
    struct action_call a;
    memset(&a, 0, sizeof a);
    a.call.kind = STORE_CALL_WRITE;
    a.call.run = action_run;
    a.what = what;
    a.id = id;
    a.product = product;
    a.now = now;
    enum store_rc rc = store_call_run_sync(g_s, &a.call);
    if (out)
        *out = a.sub;
    return rc;
}

static struct wallet wallet_of(const char *user_id)
{
    struct wallet w;
    memset(&w, 0, sizeof w);
    store_wallet_get(g_s, user_id, &w);
    return w;
}

static struct subscription sub_of(const char *user_id)
{
    struct subscription sub;
    memset(&sub, 0, sizeof sub);
    CHECK(store_sub_get_latest(g_s, user_id, &sub) == STORE_OK, "the user has a subscription");
    return sub;
}

/* The delta of the (kind, "subscription", sub:ref_tail) plan entry, or 0 when none. */
static int64_t entry(enum ledger_kind kind, const char *sub_id, const char *tail)
{
    struct ledger_entry e[2];
    size_t n = 0;
    char ref[TG_REF_MAX + 1];
    snprintf(ref, sizeof ref, "%s:%s", sub_id, tail);
    if (store_ledger_get_by_ref(g_s, kind, "subscription", ref, e, &n) != STORE_OK || n != 1)
        return 0;
    return e[0].delta;
}

/* Entries of a kind in the user's ledger. */
static int count_kind(const char *user_id, enum ledger_kind kind)
{
    struct ledger_entry *e = NULL;
    size_t n = 0;
    int c = 0;
    store_ledger_list(g_s, user_id, NULL, 1000, &e, &n);
    for (size_t i = 0; i < n; i++)
        c += e[i].kind == kind;
    free(e);
    return c;
}

static void spend(const char *user_id, int64_t amount, int64_t now)
{
    char ref[TG_ID_MAX];
    id_new(ref, "tsk");
    /* A direct ledger operation in its own transaction (the task broker's reservation). */
    struct ledger_op op = {.user_id = user_id,
                           .amount = amount,
                           .debit = 1,
                           .from_plan_first = 1,
                           .kind = LK_SPEND,
                           .ref_type = "task",
                           .ref_id = ref,
                           .plan_valid_at = now};
    struct wallet w;
    CHECK(store_ledger_apply(g_s, &op, now, NULL, &w) == STORE_OK, "spend %lld", (long long)amount);
}

static void audit_clean(int64_t now, const char *what)
{
    int64_t nv = -1, nw = -1, ns = -1;
    CHECK(store_ledger_check(g_s, NULL, NULL, &nv, &nw) == STORE_OK && nv == 0, "%s: the ledger checks clean", what);
    CHECK(store_subs_check(g_s, now, NULL, NULL, &ns) == STORE_OK && ns == 0, "%s: subscriptions check clean (%lld)",
          what, (long long)ns);
}

/* ---- prepaid (WeChat Pay, Alipay, PayPal, sandbox) ---- */

static void test_prepaid(void)
{
    struct user u = make_user();
    struct order o = make_order(u.id, "wechatpay", "pro_monthly", T0);
    CHECK(pay(&o, "wx_1", NULL, T0) == ORDERS_FULFILLED, "a plan order is fulfilled");
    struct subscription sub = sub_of(u.id);
    struct order got;
    CHECK(store_order_get(g_s, o.id, &got) == STORE_OK && strcmp(got.subscription_id, sub.id) == 0,
          "the order names its subscription");
    CHECK_STR_EQ(sub.status, "active", "active");
    CHECK_STR_EQ(sub.plan, "pro", "plan pro");
    CHECK(sub.provider_ref[0] == '\0' && !subs_renews(&sub), "prepaid: nothing renews it");
    CHECK(sub.period_start == T0 && sub.period_end == at("2026-02-28T10:00:00Z"),
          "one month from Jan 31 ends Feb 28 (%lld)", (long long)sub.period_end);
    CHECK(sub.credit_index == 1 && sub.credit_end == sub.period_end && sub.credits_granted == 300,
          "credit period 1 is the month");
    struct wallet w = wallet_of(u.id);
    CHECK(w.plan_credits == 300 && w.paid_credits == 0 && w.plan_expires_at == sub.period_end,
          "300 plan credits expiring at the period end");
    CHECK(entry(LK_PLAN_GRANT, sub.id, "1") == 300, "one plan_grant referenced <sub>:1");
    CHECK(pay(&o, "wx_1", NULL, T0 + 1000) == ORDERS_DUPLICATE && wallet_of(u.id).plan_credits == 300,
          "the same notification again changes nothing");

    spend(u.id, 100, T0 + DAY);
    job(T0 + 2 * DAY);
    CHECK(wallet_of(u.id).plan_credits == 200, "the job before the end changes nothing");

    /* Reminder three days before the end, once. */
    int64_t remind = sub.period_end - SUBS_REMIND_BEFORE_MS;
    CHECK(due_on(g_s, sub.id, remind - 1000) == SUBS_MAIL_NONE, "no reminder 3 days + 1 s before");
    CHECK(due_on(g_s, sub.id, remind) == SUBS_MAIL_REMIND, "the reminder 3 days before the end");
    CHECK(due_on(g_s, sub.id, remind + 60000) == SUBS_MAIL_NONE, "the reminder once");

    /* Buying the next period extends this one from its end. */
    struct order o2 = make_order(u.id, "alipay", "pro_monthly", remind + DAY);
    CHECK(pay(&o2, "ali_1", NULL, remind + DAY) == ORDERS_FULFILLED, "the next period is bought");
    sub = sub_of(u.id);
    CHECK(sub.period_end == at("2026-03-31T10:00:00Z") && sub.period_start == T0,
          "extended by a month counted from the anchor: Mar 31");
    CHECK(wallet_of(u.id).plan_credits == 200, "no credits before the next month starts");
    CHECK(store_order_get(g_s, o2.id, &got) == STORE_OK && strcmp(got.subscription_id, sub.id) == 0,
          "the extension order names the subscription");

    /* The month ends: the remainder is written off and the next month granted, in order. */
    job(at("2026-02-28T10:00:00Z"));
    sub = sub_of(u.id);
    CHECK(entry(LK_PLAN_EXPIRE, sub.id, "1") == -200, "the 200 left expire as plan_expire <sub>:1");
    CHECK(entry(LK_PLAN_GRANT, sub.id, "2") == 300, "month 2 granted");
    w = wallet_of(u.id);
    CHECK(w.plan_credits == 300 && w.plan_expires_at == at("2026-03-31T10:00:00Z"), "300 until Mar 31");
    CHECK(sub.credit_index == 2 && sub.credit_start == at("2026-02-28T10:00:00Z"), "credit period 2");
    /* The expiry came before the grant: its balance_after is 0, the grant's 300. */
    struct ledger_entry e[2];
    size_t n = 0;
    char ref[TG_REF_MAX + 1];
    snprintf(ref, sizeof ref, "%s:1", sub.id);
    CHECK(store_ledger_get_by_ref(g_s, LK_PLAN_EXPIRE, "subscription", ref, e, &n) == STORE_OK && n == 1 &&
              e[0].balance_after == 0,
          "the old period's expiry leaves 0");
    snprintf(ref, sizeof ref, "%s:2", sub.id);
    CHECK(store_ledger_get_by_ref(g_s, LK_PLAN_GRANT, "subscription", ref, e, &n) == STORE_OK && n == 1 &&
              e[0].balance_after == 300,
          "the new period's grant starts from 0");
    CHECK(due_on(g_s, sub.id, at("2026-03-28T10:00:00Z")) == SUBS_MAIL_REMIND, "reminded for the new end");

    /* Nothing bought: at the end the subscription expires and its credits with it. */
    spend(u.id, 50, at("2026-03-02T00:00:00Z"));
    CHECK(due_on(g_s, sub.id, at("2026-03-31T10:00:00Z")) == SUBS_MAIL_EXPIRED, "the end is mailed");
    sub = sub_of(u.id);
    CHECK_STR_EQ(sub.status, "expired", "expired");
    CHECK(sub.ended_at == at("2026-03-31T10:00:00Z") && sub.next_due_at == 0, "ended at the period end");
    CHECK(entry(LK_PLAN_EXPIRE, sub.id, "2") == -250 && wallet_of(u.id).plan_credits == 0,
          "the 250 left are written off, never silently zeroed");
    CHECK(due_on(g_s, sub.id, at("2026-04-30T10:00:00Z")) == SUBS_MAIL_NONE, "an ended subscription stays ended");
    audit_clean(at("2026-04-30T10:00:00Z"), "prepaid");

    /* Buying again starts a new subscription. */
    struct order o3 = make_order(u.id, "wechatpay", "pro_monthly", at("2026-05-01T00:00:00Z"));
    CHECK(pay(&o3, "wx_2", NULL, at("2026-05-01T00:00:00Z")) == ORDERS_FULFILLED, "bought again");
    struct subscription again = sub_of(u.id);
    CHECK(strcmp(again.id, sub.id) != 0 && strcmp(again.status, "active") == 0, "a new subscription");
}

static void test_prepaid_yearly_and_late(void)
{
    struct user u = make_user();
    struct order o = make_order(u.id, "alipay", "max_yearly", T0);
    CHECK(pay(&o, "ali_y", NULL, T0) == ORDERS_FULFILLED, "a yearly plan");
    struct subscription sub = sub_of(u.id);
    CHECK(sub.period_end == at("2027-01-31T10:00:00Z") && sub.credit_end == at("2026-02-28T10:00:00Z"),
          "a year paid, credited by the month");
    /* Run the job at every month's end: twelve grants of 900, eleven expiries inside. */
    for (int k = 1; k <= 12; k++) {
        int64_t t = time_add_months(T0, k);
        spend(u.id, 10, t - DAY);
        job(t);
    }
    sub = sub_of(u.id);
    CHECK(count_kind(u.id, LK_PLAN_GRANT) == 12, "twelve monthly grants in the year (%d)",
          count_kind(u.id, LK_PLAN_GRANT));
    CHECK(count_kind(u.id, LK_PLAN_EXPIRE) == 12, "twelve expiries, the last at the year's end (%d)",
          count_kind(u.id, LK_PLAN_EXPIRE));
    CHECK(entry(LK_PLAN_EXPIRE, sub.id, "12") == -890, "each month's remainder written off");
    CHECK_STR_EQ(sub.status, "expired", "the year ends it");
    audit_clean(time_add_months(T0, 12), "yearly");

    /* A process stopped through whole months grants none of them (nobody could spend them),
     * and writes off what was left once. */
    struct user u2 = make_user();
    struct order o2 = make_order(u2.id, "paypal", "pro_yearly", T0);
    CHECK(pay(&o2, "pp_y", NULL, T0) == ORDERS_FULFILLED, "pro yearly");
    struct subscription s2 = sub_of(u2.id);
    job(at("2026-06-15T00:00:00Z"));
    s2 = sub_of(u2.id);
    CHECK(count_kind(u2.id, LK_PLAN_GRANT) == 2 && s2.credit_index == 5,
          "after four months away: the current month granted, the missed ones skipped (%d grants, index %lld)",
          count_kind(u2.id, LK_PLAN_GRANT), (long long)s2.credit_index);
    CHECK(entry(LK_PLAN_GRANT, s2.id, "5") == 300 && wallet_of(u2.id).plan_credits == 300, "month 5 granted");
    CHECK(s2.credit_start == at("2026-05-31T10:00:00Z") && s2.credit_end == at("2026-06-30T10:00:00Z"),
          "month 5 runs May 31 to Jun 30");
    audit_clean(at("2026-06-15T00:00:00Z"), "late");
}

/* ---- renewing (Stripe, Creem) ---- */

static void test_renewing(void)
{
    struct user u = make_user();
    struct order o = make_order(u.id, "stripe", "pro_monthly", T0);
    CHECK(pay(&o, "evt_cs", "sub_S1", T0) == ORDERS_FULFILLED, "the checkout pays");
    struct subscription sub = sub_of(u.id);
    CHECK_STR_EQ(sub.provider_ref, "sub_S1", "the provider's subscription id");
    CHECK(subs_renews(&sub), "renewing");
    /* The first invoice brings the provider's own bounds (a few seconds earlier). */
    int64_t p0 = T0 - 5000, p1 = time_add_months(T0 - 5000, 1);
    struct payment_notice first = {.provider = "stripe",
                                   .event_id = "evt_inv0",
                                   .kind = "invoice.paid",
                                   .order_id = o.id,
                                   .amount = o.amount,
                                   .currency = "USD",
                                   .notice = NOTICE_PAID,
                                   .subscription_ref = "sub_S1",
                                   .period_start = p0,
                                   .period_end = p1};
    enum orders_outcome out;
    CHECK(notice_on(g_s, &first, T0 + 1000, &out) == STORE_OK && out == ORDERS_ALREADY_PAID,
          "the first invoice: already paid");
    sub = sub_of(u.id);
    CHECK(sub.period_start == p0 && sub.period_end == p1, "aligned to the provider's period");
    CHECK(sub.credit_end == p1 && wallet_of(u.id).plan_expires_at == p1,
          "the first month's credits end with the provider's period, in the wallet too");
    CHECK(count_kind(u.id, LK_PLAN_GRANT) == 1, "granted once");
    /* The first period's own renewal-shaped notice (Creem sends subscription.paid for it). */
    CHECK(sub_notice("stripe", "evt_p0", NOTICE_SUB_PERIOD, "sub_S1", "in_0", p0, p1, NULL, 0, T0 + 2000, &out) ==
                  STORE_OK &&
              out == ORDERS_SUB_KNOWN,
          "a notice for the period held is known, not a renewal");

    int64_t start = p0;
    for (int k = 1; k <= 3; k++) {
        int64_t s0 = time_add_months(start, k), s1 = time_add_months(start, k + 1);
        char ev[32], inv[32];
        spend(u.id, 10, s0 - DAY);
        /* The job at the end writes off the month and waits for the provider. */
        job(s0 + 1000);
        struct subscription mid = sub_of(u.id);
        CHECK(strcmp(mid.status, "active") == 0 && wallet_of(u.id).plan_credits == 0 && mid.next_due_at == 0,
              "renewal %d: the month written off, waiting for the provider", k);
        snprintf(ev, sizeof ev, "evt_r%d", k);
        snprintf(inv, sizeof inv, "in_%d", k);
        CHECK(sub_notice("stripe", ev, NOTICE_SUB_PERIOD, "sub_S1", inv, s0, s1, NULL, 0, s0 + 5000, &out) ==
                      STORE_OK &&
                  out == ORDERS_SUB_RENEWED,
              "renewal %d granted", k);
        CHECK(sub_notice("stripe", ev, NOTICE_SUB_PERIOD, "sub_S1", inv, s0, s1, NULL, 0, s0 + 6000, &out) ==
                      STORE_OK &&
                  out == ORDERS_DUPLICATE,
              "renewal %d redelivered: duplicate", k);
        snprintf(ev, sizeof ev, "evt_r%d_succeeded", k);
        CHECK(sub_notice("stripe", ev, NOTICE_SUB_PERIOD, "sub_S1", inv, s0, s1, NULL, 0, s0 + 7000, &out) ==
                      STORE_OK &&
                  out == ORDERS_SUB_KNOWN,
              "renewal %d's invoice under another event type: known", k);
        CHECK(wallet_of(u.id).plan_credits == 300, "renewal %d: 300 credits", k);
    }
    sub = sub_of(u.id);
    CHECK(count_kind(u.id, LK_PLAN_GRANT) == 4 && count_kind(u.id, LK_PLAN_EXPIRE) == 3,
          "three renewals: exactly three more grants, three write-offs");
    CHECK(sub.credit_index == 4 && sub.period_start == time_add_months(start, 3), "period 4 held");
    struct order ro;
    CHECK(store_order_get_by_ref(g_s, "stripe", "in_2", &ro) == STORE_OK && strcmp(ro.status, "paid") == 0 &&
              strcmp(ro.subscription_id, sub.id) == 0 && strcmp(ro.kind, "plan") == 0,
          "each renewal is a paid plan order keyed by its invoice");
    /* An old period coming late is not a renewal. */
    CHECK(sub_notice("stripe", "evt_old", NOTICE_SUB_PERIOD, "sub_S1", "in_9", time_add_months(start, 1),
                     time_add_months(start, 2), NULL, 0, sub.credit_start + DAY, &out) == STORE_OK &&
              out == ORDERS_SUB_KNOWN,
          "an earlier period: known");
    CHECK(sub_notice("stripe", "evt_x", NOTICE_SUB_PERIOD, "sub_unknown", "in_x", 1, 2, NULL, 0, T0, &out) ==
                  STORE_CONFLICT &&
              out == ORDERS_UNKNOWN_SUBSCRIPTION,
          "an unknown subscription: refused, nothing written");

    /* Upgrade mid-period: the difference now, once; a plan order is refused meanwhile. */
    int64_t mid = sub.credit_start + 10 * DAY;
    spend(u.id, 100, mid - 1000);
    struct subscription after;
    int up = 0;
    CHECK(subs_may_change(&sub, catalog_find("max_monthly"), &up) == SUBS_OK && up == 1, "max is an upgrade");
    CHECK(subs_may_change(&sub, catalog_find("max_yearly"), &up) == SUBS_PERIOD_CHANGE, "monthly to yearly refused");
    CHECK(subs_may_change(&sub, catalog_find("pro_monthly"), &up) == SUBS_SAME_PLAN, "the same plan refused");
    CHECK(subs_may_order(&sub, catalog_find("max_monthly"), "stripe", 1) == SUBS_EXISTS,
          "a second renewing checkout is refused");
    CHECK(action(3, sub.id, "max_monthly", mid, &after) == STORE_OK, "upgrade");
    CHECK(wallet_of(u.id).plan_credits == 800 && after.credits_granted == 900 && after.credits_per_month == 900,
          "200 left + 600 difference = 800; 900 granted this period");
    CHECK(entry(LK_PLAN_GRANT, sub.id, "4:max_monthly") == 600, "the difference has its own reference");
    CHECK(action(3, sub.id, "max_monthly", mid + 1000, &after) == STORE_OK && after.credits_granted == 900 &&
              wallet_of(u.id).plan_credits == 800,
          "the same change again (the provider's notice came first): nothing more");
    CHECK(action(3, sub.id, "max_yearly", mid + 1000, NULL) == STORE_CONFLICT, "a change to another period: refused");
    CHECK(sub_notice("stripe", "evt_upd", NOTICE_SUB_STATE, "sub_S1", NULL, 0, 0, "max_monthly", 0, mid + 2000,
                     &out) == STORE_OK &&
              out == ORDERS_SUB_KNOWN && wallet_of(u.id).plan_credits == 800,
          "the provider's echo of our change grants nothing more");

    /* Downgrade: at the period end. */
    CHECK(action(3, sub.id, "pro_monthly", mid + 3000, &after) == STORE_OK &&
              strcmp(after.next_product, "pro_monthly") == 0 && after.credits_per_month == 900,
          "downgrade waits for the period end");
    int64_t s0 = after.period_end, s1 = time_add_months(time_add_months(start, 3), 2);
    CHECK(sub_notice("stripe", "evt_r4", NOTICE_SUB_PERIOD, "sub_S1", "in_4", s0, s1, NULL, 0, s0 + 1000, &out) ==
                  STORE_OK &&
              out == ORDERS_SUB_RENEWED,
          "the renewal after the downgrade");
    after = sub_of(u.id);
    CHECK(strcmp(after.product, "pro_monthly") == 0 && after.next_product[0] == '\0' && after.credits_granted == 300 &&
              wallet_of(u.id).plan_credits == 300,
          "the next period is pro: 300");
    CHECK(entry(LK_PLAN_EXPIRE, sub.id, "4") == -800, "the max period's 800 written off");

    /* Cancel, resume, cancel: at the period end it ends, credits written off. */
    CHECK(action(0, sub.id, NULL, s0 + DAY, &after) == STORE_OK && after.cancel_at_period_end == 1, "cancel");
    CHECK(action(2, sub.id, NULL, s0 + DAY + 1, &after) == STORE_OK && after.cancel_at_period_end == 0, "resume");
    CHECK(action(2, sub.id, NULL, s0 + DAY + 2, &after) == STORE_OK && after.cancel_at_period_end == 0,
          "resume when not canceling (the provider's notice came first): nothing changes");
    CHECK(action(0, sub.id, NULL, s0 + DAY + 3, &after) == STORE_OK && after.next_due_at == after.credit_end,
          "cancel again");
    spend(u.id, 1, s0 + 2 * DAY);
    job(s1);
    after = sub_of(u.id);
    CHECK_STR_EQ(after.status, "canceled", "at the period end it is canceled");
    CHECK(entry(LK_PLAN_EXPIRE, sub.id, "5") == -299 && wallet_of(u.id).plan_credits == 0, "its 299 written off");
    CHECK(action(2, sub.id, NULL, s1 + 1, NULL) == STORE_CONFLICT, "an ended subscription cannot be resumed");
    audit_clean(s1 + 1000, "renewing");
}

static void test_past_due(void)
{
    struct user u = make_user();
    struct order o = make_order(u.id, "creem", "pro_monthly", T0);
    CHECK(pay(&o, "evt_c", "sub_C1", T0) == ORDERS_FULFILLED, "subscribed");
    struct subscription sub = sub_of(u.id);
    enum orders_outcome out;
    CHECK(sub_notice("creem", "evt_pd", NOTICE_SUB_PAST_DUE, "sub_C1", NULL, 0, 0, NULL, 0, sub.period_end + 1000,
                     &out) == STORE_OK &&
              out == ORDERS_SUB_UPDATED,
          "past due");
    CHECK(due_on(g_s, sub.id, sub.period_end + 2000) == SUBS_MAIL_PAST_DUE, "the user is told");
    CHECK(due_on(g_s, sub.id, sub.period_end + 3000) == SUBS_MAIL_NONE, "once");
    sub = sub_of(u.id);
    CHECK(strcmp(sub.status, "past_due") == 0 && wallet_of(u.id).plan_credits == 0 &&
              count_kind(u.id, LK_PLAN_GRANT) == 1,
          "no credits while past due; the old month written off");
    /* The provider retries and the payment goes through: active again, the period granted. */
    int64_t s0 = sub.period_end, s1 = time_add_months(sub.period_start, 2);
    CHECK(sub_notice("creem", "evt_paid2", NOTICE_SUB_PERIOD, "sub_C1", "tran_2", s0, s1, NULL, 0, s0 + 5 * DAY,
                     &out) == STORE_OK &&
              out == ORDERS_SUB_RENEWED,
          "the retried renewal pays");
    sub = sub_of(u.id);
    CHECK(strcmp(sub.status, "active") == 0 && wallet_of(u.id).plan_credits == 300, "active, 300");
    /* It fails again and the provider gives up: ended now, credits written off. */
    CHECK(sub_notice("creem", "evt_pd2", NOTICE_SUB_PAST_DUE, "sub_C1", NULL, 0, 0, NULL, 0, s1 + 1000, &out) ==
              STORE_OK,
          "past due again");
    CHECK(sub_notice("creem", "evt_end", NOTICE_SUB_ENDED, "sub_C1", NULL, 0, 0, NULL, 0, s1 + 20 * DAY, &out) ==
                  STORE_OK &&
              out == ORDERS_SUB_UPDATED,
          "the provider gives up");
    sub = sub_of(u.id);
    CHECK(strcmp(sub.status, "canceled") == 0 && sub.ended_at == s1 + 20 * DAY && wallet_of(u.id).plan_credits == 0,
          "ended");
    CHECK(sub_notice("creem", "evt_end2", NOTICE_SUB_ENDED, "sub_C1", NULL, 0, 0, NULL, 0, s1 + 21 * DAY, &out) ==
                  STORE_OK &&
              out == ORDERS_SUB_KNOWN,
          "a second ending is known");
    audit_clean(s1 + 21 * DAY, "past due");

    /* A cancel at period end that the provider reports ended before the job ran: it ended at
     * the period's end. */
    struct user u3 = make_user();
    struct order o3 = make_order(u3.id, "stripe", "pro_monthly", T0);
    CHECK(pay(&o3, "evt_c3", "sub_C3", T0) == ORDERS_FULFILLED, "subscribed (3)");
    struct subscription s3 = sub_of(u3.id), after3;
    CHECK(action(0, s3.id, NULL, T0 + DAY, &after3) == STORE_OK, "cancel at period end (3)");
    CHECK(sub_notice("stripe", "evt_del3", NOTICE_SUB_ENDED, "sub_C3", NULL, 0, 0, NULL, 0, s3.period_end + 60000,
                     &out) == STORE_OK &&
              out == ORDERS_SUB_UPDATED,
          "the provider's deletion comes first");
    s3 = sub_of(u3.id);
    CHECK(strcmp(s3.status, "canceled") == 0 && s3.ended_at == s3.period_end && wallet_of(u3.id).plan_credits == 0 &&
              entry(LK_PLAN_EXPIRE, s3.id, "1") == -300,
          "ended at the period end, credits written off");

    /* An admin's cancel now writes the credits off at once. */
    struct user u2 = make_user();
    struct order o2 = make_order(u2.id, "sandbox", "pro_monthly", T0);
    CHECK(pay(&o2, "sb_1", NULL, T0) == ORDERS_FULFILLED, "sandbox plan");
    struct subscription s2 = sub_of(u2.id), after;
    CHECK(action(1, s2.id, NULL, T0 + DAY, &after) == STORE_OK && strcmp(after.status, "canceled") == 0 &&
              wallet_of(u2.id).plan_credits == 0 && entry(LK_PLAN_EXPIRE, s2.id, "1") == -300,
          "cancel now: ended, 300 written off");
    audit_clean(T0 + DAY, "cancel now");
}

/* ---- a renewal racing the job and spenders ---- */

static struct subscription g_race_sub;
static int64_t g_race_t;
static atomic_int g_race_failed;

static void *race_job(void *arg)
{
    (void)arg;
    char *err = NULL;
    struct store *s = store_open(g_url, &err);
    free(err);
    if (s == NULL) {
        atomic_fetch_add(&g_race_failed, 1);
        return NULL;
    }
    for (int i = 0; i < 20; i++)
        due_on(s, g_race_sub.id, g_race_t + i);
    store_close(s);
    return NULL;
}

static void *race_renewal(void *arg)
{
    (void)arg;
    char *err = NULL;
    struct store *s = store_open(g_url, &err);
    free(err);
    if (s == NULL) {
        atomic_fetch_add(&g_race_failed, 1);
        return NULL;
    }
    for (int i = 0; i < 10; i++) {
        char ev[32];
        snprintf(ev, sizeof ev, "evt_race_%d", i);
        struct payment_notice n = {.provider = "stripe",
                                   .event_id = ev,
                                   .kind = "invoice.paid",
                                   .amount = 1990,
                                   .currency = "USD",
                                   .notice = NOTICE_SUB_PERIOD,
                                   .subscription_ref = g_race_sub.provider_ref,
                                   .invoice_ref = "in_race",
                                   .period_start = g_race_sub.period_end,
                                   .period_end = time_add_months(g_race_sub.period_start, 2)};
        if (notice_on(s, &n, g_race_t + i, NULL) != STORE_OK)
            atomic_fetch_add(&g_race_failed, 1);
    }
    store_close(s);
    return NULL;
}

static void *race_spender(void *arg)
{
    (void)arg;
    char *err = NULL;
    struct store *s = store_open(g_url, &err);
    free(err);
    if (s == NULL) {
        atomic_fetch_add(&g_race_failed, 1);
        return NULL;
    }
    for (int i = 0; i < 30; i++) {
        char ref[TG_ID_MAX];
        id_new(ref, "tsk");
        struct ledger_op op = {.user_id = g_race_sub.user_id,
                               .amount = 7,
                               .debit = 1,
                               .from_plan_first = 1,
                               .kind = LK_SPEND,
                               .ref_type = "task",
                               .ref_id = ref,
                               .plan_valid_at = g_race_t};
        struct wallet w;
        store_ledger_apply(s, &op, g_race_t, NULL, &w); /* INSUFFICIENT is fine: a race */
    }
    store_close(s);
    return NULL;
}

static void test_race(void)
{
    struct user u = make_user();
    struct order o = make_order(u.id, "stripe", "pro_monthly", T0);
    CHECK(pay(&o, "evt_race_cs", "sub_RACE", T0) == ORDERS_FULFILLED, "subscribed");
    /* Paid credits too, so that spenders never run dry. */
    struct ledger_op op = {.user_id = u.id,
                           .amount = 1000,
                           .bucket = BUCKET_PAID,
                           .kind = LK_PURCHASE,
                           .ref_type = "order",
                           .ref_id = "ord_race_pack"};
    struct wallet w;
    CHECK(store_ledger_apply(g_s, &op, T0, NULL, &w) == STORE_OK, "1000 paid credits");
    g_race_sub = sub_of(u.id);
    g_race_t = g_race_sub.period_end;
    pthread_t t[4];
    pthread_create(&t[0], NULL, race_job, NULL);
    pthread_create(&t[1], NULL, race_renewal, NULL);
    pthread_create(&t[2], NULL, race_spender, NULL);
    pthread_create(&t[3], NULL, race_spender, NULL);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    CHECK(atomic_load(&g_race_failed) == 0, "every transaction committed");
    struct subscription sub = sub_of(u.id);
    CHECK(count_kind(u.id, LK_PLAN_GRANT) == 2 && count_kind(u.id, LK_PLAN_EXPIRE) == 1 && sub.credit_index == 2,
          "one renewal granted once, the old month written off once");
    /* Walk the plan bucket in commit order: the write-off leaves 0 and the grant starts from
     * 0, whatever ran in between. */
    struct ledger_entry *e = NULL;
    size_t n = 0;
    store_ledger_list(g_s, u.id, NULL, 1000, &e, &n);
    int seen_expire = 0, ok = 1;
    for (size_t i = n; i-- > 0;) {
        if (e[i].bucket != BUCKET_PLAN)
            continue;
        if (e[i].kind == LK_PLAN_EXPIRE) {
            seen_expire = 1;
            ok &= e[i].balance_after == 0;
        } else if (e[i].kind == LK_PLAN_GRANT && seen_expire) {
            ok &= e[i].balance_after == 300;
        } else if (e[i].kind == LK_SPEND && seen_expire) {
            /* After the write-off, plan spending is only from the new grant. */
            ok &= e[i].balance_after < 300;
        }
    }
    free(e);
    CHECK(seen_expire && ok, "the old period's expiry and the new grant never interleave");
    audit_clean(g_race_t + 1000, "race");
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
    if (config_load(NULL, &err) != 0 || catalog_init(NULL, &err) != 0) {
        printf("Bail out! config: %s\n", err ? err : "?");
        return 1;
    }
    snprintf(g_url, sizeof g_url, "sqlite:%s/test.db", tmpdir);
    if (store_migrate(g_url, &applied, &err) != 0 || (g_s = store_open(g_url, &err)) == NULL) {
        printf("Bail out! store: %s\n", err ? err : "?");
        return 1;
    }
    T0 = at("2026-01-31T10:00:00Z");
    test_prepaid();
    test_prepaid_yearly_and_late();
    test_renewing();
    test_past_due();
    test_race();
    store_close(g_s);
    catalog_shutdown();
    config_free();
    nftw(tmpdir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    return test_done();
}
