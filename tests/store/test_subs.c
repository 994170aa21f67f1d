/*
 * Subscriptions in the SQLite store (migration 0006, store/sqlite/subscriptions.c): every
 * field stored and read back, one live subscription per user, the job's due list, the admin
 * search, the order a plan payment belongs to, and store_subs_check finding each kind of
 * violation. Bad rows are seeded with a raw SQLite handle (the store never writes them), so
 * this suite runs on sqlite: only; each check gets a fresh database.
 */
#include "../unit/test.h"

#include <sqlite3.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/ids.h"
#include "core/mem.h"
#include "store/backend.h"
#include "store/store.h"

static char g_tmpdir[64];
static unsigned g_db_n;

/* A fresh migrated database: its store and (for seeding) a raw handle. */
struct db {
    struct store *s;
    sqlite3 *raw;
};

static void db_open(struct db *d)
{
    char *err = NULL;
    int applied = 0;
    char *path = xasprintf("%s/subs-%u.db", g_tmpdir, g_db_n++);
    char *url = xasprintf("sqlite:%s", path);
    if (store_migrate(url, &applied, &err) != 0 || (d->s = store_open(url, &err)) == NULL ||
        sqlite3_open(path, &d->raw) != SQLITE_OK) {
        printf("Bail out! open %s: %s\n", url, err ? err : "?");
        exit(1);
    }
    sqlite3_busy_timeout(d->raw, 5000);
    free(err);
    free(url);
    free(path);
}

static void db_close(struct db *d)
{
    sqlite3_close(d->raw);
    store_close(d->s);
}

static int raw_exec(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK)
        printf("# raw: %s\n", msg ? msg : sqlite3_errstr(rc));
    sqlite3_free(msg);
    return rc == SQLITE_OK;
}

static void make_user(struct store *s, char id[TG_ID_MAX], const char *tag)
{
    struct user u;
    memset(&u, 0, sizeof u);
    id_new(u.id, "usr");
    snprintf(u.email, sizeof u.email, "%.16s-%.40s@example.test", tag, u.id + 4);
    snprintf(u.role, sizeof u.role, "user");
    u.created_at = u.updated_at = 1000;
    if (store_user_create(s, &u) != STORE_OK) {
        printf("Bail out! make_user\n");
        exit(1);
    }
    memcpy(id, u.id, TG_ID_MAX);
}

/* A plan order of user_id with the given status ("paid" gets paid_at), created at `at`. */
static void make_order(struct store *s, char id[TG_ID_MAX], const char *user_id, const char *status, int64_t at,
                       const char *sub_id)
{
    struct order o;
    memset(&o, 0, sizeof o);
    id_new_at(o.id, "ord", at);
    snprintf(o.user_id, sizeof o.user_id, "%s", user_id);
    snprintf(o.product, sizeof o.product, "pro_monthly");
    snprintf(o.kind, sizeof o.kind, "plan");
    o.credits = 300;
    o.amount = 1990;
    snprintf(o.currency, sizeof o.currency, "USD");
    snprintf(o.provider, sizeof o.provider, "stripe");
    snprintf(o.provider_ref, sizeof o.provider_ref, "cs_%.40s", o.id + 4);
    snprintf(o.status, sizeof o.status, "%s", status);
    o.created_at = o.updated_at = at;
    o.paid_at = strcmp(status, "pending") == 0 ? 0 : at + 1;
    o.expires_at = at + 3600000;
    o.next_query_at = strcmp(status, "pending") == 0 ? at + 5 : 0;
    if (sub_id)
        snprintf(o.subscription_id, sizeof o.subscription_id, "%s", sub_id);
    enum store_rc rc = store_order_insert(s, &o);
    if (rc != STORE_OK) {
        printf("Bail out! make_order: %s\n", store_rc_name(rc));
        exit(1);
    }
    memcpy(id, o.id, TG_ID_MAX);
}

/* A live subscription with every field set to a value of its own. */
static void sub_fill(struct subscription *s, const char *user_id, const char *order_id, int64_t at)
{
    memset(s, 0, sizeof *s);
    id_new_at(s->id, "sub", at);
    snprintf(s->user_id, sizeof s->user_id, "%s", user_id);
    snprintf(s->plan, sizeof s->plan, "pro");
    snprintf(s->product, sizeof s->product, "pro_yearly");
    snprintf(s->next_product, sizeof s->next_product, "pro_monthly");
    s->next_product_at = at + 11;
    snprintf(s->provider, sizeof s->provider, "stripe");
    snprintf(s->provider_ref, sizeof s->provider_ref, "sub_stripe_%.40s", s->id + 4);
    snprintf(s->status, sizeof s->status, "active");
    s->cancel_at_period_end = 1;
    s->credits_per_month = 300;
    s->amount = 19900;
    snprintf(s->currency, sizeof s->currency, "USD");
    s->period_start = at;
    s->period_end = at + 365LL * 86400000;
    s->credit_index = 2;
    s->credit_start = at + 31LL * 86400000;
    s->credit_end = at + 59LL * 86400000;
    s->credits_granted = 450;
    s->reminded_for = at + 7;
    s->next_due_at = at + 59LL * 86400000;
    if (order_id)
        snprintf(s->order_id, sizeof s->order_id, "%s", order_id);
    s->created_at = at;
    s->updated_at = at + 3;
    s->ended_at = 0;
}

/* Every field equal (texts as strings: what follows a NUL is not part of the value). */
static int sub_eq(const struct subscription *a, const struct subscription *b)
{
#define S_(f) (strcmp(a->f, b->f) == 0)
#define I_(f) (a->f == b->f)
    return S_(id) && S_(user_id) && S_(plan) && S_(product) && S_(next_product) && I_(next_product_at) &&
           S_(provider) && S_(provider_ref) && S_(status) && I_(cancel_at_period_end) && I_(credits_per_month) &&
           I_(amount) && S_(currency) && I_(period_start) && I_(period_end) && I_(credit_index) &&
           I_(credit_start) && I_(credit_end) && I_(credits_granted) && I_(reminded_for) && I_(next_due_at) &&
           S_(order_id) && I_(created_at) && I_(updated_at) && I_(ended_at);
#undef S_
#undef I_
}

static void print_sub_diff(const struct subscription *g, const struct subscription *w)
{
    if (sub_eq(g, w))
        return;
    printf("#   got  %s %s %s %s %s/%s %s cape=%d cpm=%lld amt=%lld %s [%lld,%lld) ci=%lld [%lld,%lld) cg=%lld"
           " rf=%lld due=%lld npa=%lld ord=%s c=%lld u=%lld e=%lld\n",
           g->id, g->user_id, g->plan, g->product, g->provider, g->provider_ref, g->status, g->cancel_at_period_end,
           (long long)g->credits_per_month, (long long)g->amount, g->currency, (long long)g->period_start,
           (long long)g->period_end, (long long)g->credit_index, (long long)g->credit_start,
           (long long)g->credit_end, (long long)g->credits_granted, (long long)g->reminded_for,
           (long long)g->next_due_at, (long long)g->next_product_at, g->order_id, (long long)g->created_at,
           (long long)g->updated_at, (long long)g->ended_at);
}

#define CHECK_SUB_EQ(got, want, ...)                                                                          \
    do {                                                                                                      \
        CHECK(sub_eq(&(got), &(want)), __VA_ARGS__);                                                          \
        print_sub_diff(&(got), &(want));                                                                      \
    } while (0)

/* ---- insert and the four reads ---- */

static void test_insert_get(void)
{
    struct db d;
    db_open(&d);
    char u1[TG_ID_MAX], u2[TG_ID_MAX], o1[TG_ID_MAX];
    make_user(d.s, u1, "a");
    make_user(d.s, u2, "b");
    make_order(d.s, o1, u1, "paid", 5000, NULL);

    struct subscription s, got;
    sub_fill(&s, u1, o1, 10000);
    CHECK_INT_EQ(store_sub_insert(d.s, &s), STORE_OK, "insert a subscription with every field set");
    CHECK_INT_EQ(store_sub_get(d.s, s.id, &got), STORE_OK, "get by id");
    CHECK_SUB_EQ(got, s, "every field reads back as written");
    CHECK_INT_EQ(store_sub_get_live(d.s, u1, &got), STORE_OK, "the user's live one");
    CHECK_SUB_EQ(got, s, "live: the same row");
    CHECK_INT_EQ(store_sub_get_latest(d.s, u1, &got), STORE_OK, "the user's latest");
    CHECK_SUB_EQ(got, s, "latest: the same row");
    CHECK_INT_EQ(store_sub_get_by_ref(d.s, "stripe", s.provider_ref, &got), STORE_OK, "by the provider's ref");
    CHECK_SUB_EQ(got, s, "by ref: the same row");

    CHECK_INT_EQ(store_sub_get_by_ref(d.s, "creem", s.provider_ref, &got), STORE_NOTFOUND,
                 "the same ref at another provider is not found");
    CHECK(got.id[0] == 0 && got.user_id[0] == 0, "a miss leaves the output zeroed");
    CHECK_INT_EQ(store_sub_get(d.s, "sub_nope", &got), STORE_NOTFOUND, "unknown id");
    CHECK_INT_EQ(store_sub_get_live(d.s, u2, &got), STORE_NOTFOUND, "a user without one has no live one");
    CHECK_INT_EQ(store_sub_get_latest(d.s, u2, &got), STORE_NOTFOUND, "... and no latest one");

    /* A prepaid plan: the empty texts and zero times ("none") come back as such. */
    struct subscription p;
    memset(&p, 0, sizeof p);
    id_new_at(p.id, "sub", 20000);
    snprintf(p.user_id, sizeof p.user_id, "%s", u2);
    snprintf(p.plan, sizeof p.plan, "max");
    snprintf(p.product, sizeof p.product, "max_monthly");
    snprintf(p.provider, sizeof p.provider, "wechatpay");
    snprintf(p.status, sizeof p.status, "active");
    p.credits_per_month = 900;
    p.amount = 32800;
    snprintf(p.currency, sizeof p.currency, "CNY");
    p.period_start = 20000;
    p.period_end = 20000 + 30LL * 86400000;
    p.created_at = 20000;
    CHECK_INT_EQ(store_sub_insert(d.s, &p), STORE_OK, "insert a prepaid one with nothing optional set");
    struct subscription pw = p;
    pw.updated_at = p.created_at; /* 0 means "as created" */
    CHECK_INT_EQ(store_sub_get(d.s, p.id, &got), STORE_OK, "get the prepaid one");
    CHECK_SUB_EQ(got, pw, "unset texts read back empty, unset times 0, updated_at = created_at");
    sqlite3_stmt *st = NULL;
    sqlite3_prepare_v2(d.raw,
                       "SELECT count(*) FROM subscriptions WHERE provider_ref IS NULL AND next_product IS NULL"
                       " AND order_id IS NULL AND next_due_at IS NULL AND credit_start IS NULL AND ended_at IS NULL",
                       -1, &st, NULL);
    CHECK(st && sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int64(st, 0) == 1,
          "stored: unset texts and times are NULL (as the other tables keep them)");
    sqlite3_finalize(st);
    CHECK_INT_EQ(store_sub_get_by_ref(d.s, "wechatpay", "", &got), STORE_NOTFOUND,
                 "a prepaid one is not found by an empty ref");

    struct subscription dup = s;
    snprintf(dup.user_id, sizeof dup.user_id, "%s", u2);
    snprintf(dup.status, sizeof dup.status, "expired");
    dup.ended_at = 30000;
    dup.provider_ref[0] = 0;
    CHECK_INT_EQ(store_sub_insert(d.s, &dup), STORE_DUPLICATE, "an existing id is DUPLICATE");
    struct subscription same_ref;
    sub_fill(&same_ref, u2, NULL, 40000);
    snprintf(same_ref.status, sizeof same_ref.status, "canceled");
    same_ref.ended_at = 40001;
    snprintf(same_ref.provider_ref, sizeof same_ref.provider_ref, "%s", s.provider_ref);
    CHECK_INT_EQ(store_sub_insert(d.s, &same_ref), STORE_DUPLICATE, "another's (provider, provider_ref) is DUPLICATE");
    same_ref.user_id[0] = 0;
    snprintf(same_ref.user_id, sizeof same_ref.user_id, "usr_missing");
    same_ref.provider_ref[0] = 0;
    CHECK_INT_EQ(store_sub_insert(d.s, &same_ref), STORE_ERROR, "a subscription of no user is refused");
    db_close(&d);
}

/* ---- one live subscription per user ---- */

static void test_one_live(void)
{
    struct db d;
    db_open(&d);
    char u[TG_ID_MAX];
    make_user(d.s, u, "live");
    struct subscription a, b, got;
    sub_fill(&a, u, NULL, 10000);
    snprintf(a.status, sizeof a.status, "past_due");
    CHECK_INT_EQ(store_sub_insert(d.s, &a), STORE_OK, "a past_due subscription");
    sub_fill(&b, u, NULL, 20000);
    CHECK_INT_EQ(store_sub_insert(d.s, &b), STORE_DUPLICATE, "a second live one (past_due counts as live) is DUPLICATE");
    CHECK_INT_EQ(store_sub_get(d.s, b.id, &got), STORE_NOTFOUND, "... and was not stored");

    /* Ended without ended_at: the table refuses the contradiction. */
    struct subscription bad = a;
    snprintf(bad.status, sizeof bad.status, "expired");
    CHECK_INT_EQ(store_sub_update(d.s, &bad), STORE_ERROR, "an ended status without ended_at is refused");
    bad.ended_at = 15000;
    snprintf(bad.status, sizeof bad.status, "active");
    CHECK_INT_EQ(store_sub_update(d.s, &bad), STORE_ERROR, "a live status with ended_at is refused");

    a.ended_at = 15000;
    a.updated_at = 15000;
    snprintf(a.status, sizeof a.status, "expired");
    CHECK_INT_EQ(store_sub_update(d.s, &a), STORE_OK, "the first one expires");
    CHECK_INT_EQ(store_sub_get_live(d.s, u, &got), STORE_NOTFOUND, "no live one now");
    CHECK_INT_EQ(store_sub_get_latest(d.s, u, &got), STORE_OK, "the latest is the expired one");
    CHECK_SUB_EQ(got, a, "latest = the expired one as updated");
    CHECK_INT_EQ(store_sub_insert(d.s, &b), STORE_OK, "after it expired a new live one is stored");
    CHECK_INT_EQ(store_sub_get_live(d.s, u, &got), STORE_OK, "live");
    CHECK_STR_EQ(got.id, b.id, "the live one is the new one");
    CHECK_INT_EQ(store_sub_get_latest(d.s, u, &got), STORE_OK, "latest");
    CHECK_STR_EQ(got.id, b.id, "the latest is the new one");

    /* Reviving the expired one while another is live breaks the rule too. */
    struct subscription revive = a;
    snprintf(revive.status, sizeof revive.status, "active");
    revive.ended_at = 0;
    CHECK_INT_EQ(store_sub_update(d.s, &revive), STORE_DUPLICATE, "making a second one live by update is DUPLICATE");

    /* Inside a caller's write transaction (how domain/ composes them): a refused insert is
     * its own savepoint, and the transaction goes on. */
    char u2[TG_ID_MAX];
    make_user(d.s, u2, "txn");
    struct subscription t1, t2;
    sub_fill(&t1, u2, NULL, 30000);
    sub_fill(&t2, u2, NULL, 30001);
    char o[TG_ID_MAX];
    make_order(d.s, o, u2, "paid", 29000, NULL);
    CHECK_INT_EQ(d.s->ops->begin(d.s, 1), STORE_OK, "begin a write transaction");
    CHECK_INT_EQ(store_sub_insert(d.s, &t1), STORE_OK, "in txn: insert");
    CHECK_INT_EQ(store_sub_insert(d.s, &t2), STORE_DUPLICATE, "in txn: a second live one is DUPLICATE");
    CHECK_INT_EQ(store_order_set_subscription(d.s, o, t1.id, 30002), STORE_OK, "in txn: link the order");
    CHECK_INT_EQ(d.s->ops->commit(d.s), STORE_OK, "commit");
    struct order og;
    CHECK(store_sub_get(d.s, t1.id, &got) == STORE_OK && store_order_get(d.s, o, &og) == STORE_OK &&
              strcmp(og.subscription_id, t1.id) == 0 && og.updated_at == 30002,
          "after commit: the subscription and the order's link are there");
    db_close(&d);
}

/* ---- update ---- */

static void test_update(void)
{
    struct db d;
    db_open(&d);
    char u[TG_ID_MAX], u2[TG_ID_MAX], o[TG_ID_MAX];
    make_user(d.s, u, "upd");
    make_user(d.s, u2, "other");
    make_order(d.s, o, u, "paid", 5000, NULL);
    struct subscription s, other, got;
    sub_fill(&s, u, o, 10000);
    CHECK_INT_EQ(store_sub_insert(d.s, &s), STORE_OK, "insert");
    sub_fill(&other, u2, NULL, 10001);
    CHECK_INT_EQ(store_sub_insert(d.s, &other), STORE_OK, "insert another user's");

    /* Every mutable field changes; the immutable ones in the struct are ignored. */
    struct subscription n = s;
    snprintf(n.user_id, sizeof n.user_id, "%s", u2);
    n.order_id[0] = 0;
    n.created_at = 1;
    snprintf(n.plan, sizeof n.plan, "max");
    snprintf(n.product, sizeof n.product, "max_monthly");
    n.next_product[0] = 0;
    n.next_product_at = 0;
    snprintf(n.provider, sizeof n.provider, "creem");
    snprintf(n.provider_ref, sizeof n.provider_ref, "sub_creem_1");
    snprintf(n.status, sizeof n.status, "canceled");
    n.cancel_at_period_end = 0;
    n.credits_per_month = 900;
    n.amount = 4990;
    snprintf(n.currency, sizeof n.currency, "CNY");
    n.period_start = 50000;
    n.period_end = 60000;
    n.credit_index = 7;
    n.credit_start = 50001;
    n.credit_end = 59999;
    n.credits_granted = 1200;
    n.reminded_for = 60000;
    n.next_due_at = 0;
    n.updated_at = 70000;
    n.ended_at = 70001;
    CHECK_INT_EQ(store_sub_update(d.s, &n), STORE_OK, "update every mutable field");
    struct subscription want = n;
    memcpy(want.user_id, s.user_id, sizeof want.user_id);
    memcpy(want.order_id, s.order_id, sizeof want.order_id);
    want.created_at = s.created_at;
    CHECK_INT_EQ(store_sub_get(d.s, s.id, &got), STORE_OK, "get");
    CHECK_SUB_EQ(got, want, "every mutable field reads back; id, user_id, order_id, created_at kept");
    CHECK_INT_EQ(store_sub_get_by_ref(d.s, "creem", "sub_creem_1", &got), STORE_OK, "found by the new ref");
    CHECK_INT_EQ(store_sub_get_by_ref(d.s, "stripe", s.provider_ref, &got), STORE_NOTFOUND, "not by the old one");

    /* ... and back: optional fields set again. */
    struct subscription back = s;
    back.updated_at = 80000;
    CHECK_INT_EQ(store_sub_update(d.s, &back), STORE_OK, "update back to the first values");
    CHECK_INT_EQ(store_sub_get(d.s, s.id, &got), STORE_OK, "get");
    CHECK_SUB_EQ(got, back, "the first values again");

    struct subscription clash = s;
    snprintf(clash.provider_ref, sizeof clash.provider_ref, "%s", other.provider_ref);
    CHECK_INT_EQ(store_sub_update(d.s, &clash), STORE_DUPLICATE, "another's provider_ref is DUPLICATE");
    CHECK_INT_EQ(store_sub_get(d.s, s.id, &got), STORE_OK, "get");
    CHECK_SUB_EQ(got, back, "the refused update changed nothing");
    struct subscription ghost = s;
    id_new_at(ghost.id, "sub", 90000);
    CHECK_INT_EQ(store_sub_update(d.s, &ghost), STORE_NOTFOUND, "an unknown id is NOTFOUND");
    db_close(&d);
}

/* ---- the job's due list ---- */

static void test_due(void)
{
    struct db d;
    db_open(&d);
    char u[5][TG_ID_MAX];
    struct subscription s[5];
    static const int64_t due[5] = {1030, 1010, 1020, 0, 1005};
    for (int i = 0; i < 5; i++) {
        make_user(d.s, u[i], "due");
        sub_fill(&s[i], u[i], NULL, 100 + i);
        s[i].next_due_at = due[i];
    }
    snprintf(s[2].status, sizeof s[2].status, "past_due");
    snprintf(s[4].status, sizeof s[4].status, "canceled"); /* due but ended: never listed */
    s[4].ended_at = 500;
    for (int i = 0; i < 5; i++)
        CHECK_INT_EQ(store_sub_insert(d.s, &s[i]), STORE_OK, "insert %d (next_due_at %lld)", i, (long long)due[i]);

    struct subscription *l = NULL;
    size_t n = 99;
    CHECK(store_subs_due(d.s, 1000, 10, &l, &n) == STORE_OK && n == 0 && l == NULL, "nothing due before 1005");
    CHECK(store_subs_due(d.s, 1025, 10, &l, &n) == STORE_OK && n == 2 && strcmp(l[0].id, s[1].id) == 0 &&
              strcmp(l[1].id, s[2].id) == 0,
          "at 1025: the active one due at 1010, then the past_due one due at 1020");
    CHECK(n == 2 && sub_eq(&l[0], &s[1]), "a due row carries every field");
    free(l);
    CHECK(store_subs_due(d.s, 1030, 10, &l, &n) == STORE_OK && n == 3 && strcmp(l[0].id, s[1].id) == 0 &&
              strcmp(l[1].id, s[2].id) == 0 && strcmp(l[2].id, s[0].id) == 0,
          "at 1030 (due <= now): three, oldest due first; never-due and ended ones absent");
    free(l);
    CHECK(store_subs_due(d.s, 1030, 1, &l, &n) == STORE_OK && n == 1 && strcmp(l[0].id, s[1].id) == 0,
          "limit 1: the oldest due");
    free(l);
    db_close(&d);
}

/* ---- the admin search ---- */

static void test_search(void)
{
    struct db d;
    db_open(&d);
    char ua[TG_ID_MAX], ub[TG_ID_MAX];
    make_user(d.s, ua, "sa");
    make_user(d.s, ub, "sb");
    /* ua: s0 expired (stripe), s2 live (creem); ub: s1 canceled (stripe), s3 live (alipay) */
    struct subscription s[4];
    sub_fill(&s[0], ua, NULL, 1000);
    sub_fill(&s[1], ub, NULL, 2000);
    sub_fill(&s[2], ua, NULL, 3000);
    sub_fill(&s[3], ub, NULL, 4000);
    snprintf(s[0].status, sizeof s[0].status, "expired");
    s[0].ended_at = 1500;
    snprintf(s[1].status, sizeof s[1].status, "canceled");
    s[1].ended_at = 2500;
    snprintf(s[2].provider, sizeof s[2].provider, "creem");
    snprintf(s[3].provider, sizeof s[3].provider, "alipay");
    s[3].provider_ref[0] = 0;
    for (int i = 0; i < 4; i++)
        CHECK_INT_EQ(store_sub_insert(d.s, &s[i]), STORE_OK, "insert %d", i);

    struct subscription *l = NULL;
    size_t n = 0;
    CHECK(store_sub_search(d.s, NULL, NULL, 10, &l, &n) == STORE_OK && n == 4 && strcmp(l[0].id, s[3].id) == 0 &&
              strcmp(l[1].id, s[2].id) == 0 && strcmp(l[2].id, s[1].id) == 0 && strcmp(l[3].id, s[0].id) == 0,
          "no filter: all four, newest first");
    CHECK(n == 4 && sub_eq(&l[3], &s[0]), "a listed row carries every field");
    free(l);
    struct subscription_filter f = {.user_id = ua};
    CHECK(store_sub_search(d.s, &f, NULL, 10, &l, &n) == STORE_OK && n == 2 && strcmp(l[0].id, s[2].id) == 0 &&
              strcmp(l[1].id, s[0].id) == 0,
          "user filter");
    free(l);
    f = (struct subscription_filter){.status = "active"};
    CHECK(store_sub_search(d.s, &f, NULL, 10, &l, &n) == STORE_OK && n == 2 && strcmp(l[0].id, s[3].id) == 0 &&
              strcmp(l[1].id, s[2].id) == 0,
          "status filter");
    free(l);
    f = (struct subscription_filter){.provider = "stripe"};
    CHECK(store_sub_search(d.s, &f, NULL, 10, &l, &n) == STORE_OK && n == 2 && strcmp(l[0].id, s[1].id) == 0 &&
              strcmp(l[1].id, s[0].id) == 0,
          "provider filter");
    free(l);
    f = (struct subscription_filter){.user_id = ub, .status = "canceled", .provider = "stripe"};
    CHECK(store_sub_search(d.s, &f, NULL, 10, &l, &n) == STORE_OK && n == 1 && strcmp(l[0].id, s[1].id) == 0,
          "all three filters together");
    free(l);
    f = (struct subscription_filter){.user_id = "", .status = "", .provider = ""};
    CHECK(store_sub_search(d.s, &f, NULL, 2, &l, &n) == STORE_OK && n == 2 && strcmp(l[0].id, s[3].id) == 0 &&
              strcmp(l[1].id, s[2].id) == 0,
          "empty strings mean any; limit 2 gives the newest two");
    free(l);
    CHECK(store_sub_search(d.s, &f, s[2].id, 2, &l, &n) == STORE_OK && n == 2 && strcmp(l[0].id, s[1].id) == 0 &&
              strcmp(l[1].id, s[0].id) == 0,
          "the cursor (before the last id seen) gives the next page");
    free(l);
    CHECK(store_sub_search(d.s, &f, s[0].id, 2, &l, &n) == STORE_OK && n == 0 && l == NULL,
          "before the oldest: nothing");
    f = (struct subscription_filter){.status = "past_due"};
    CHECK(store_sub_search(d.s, &f, NULL, 10, &l, &n) == STORE_OK && n == 0, "no past_due ones");
    free(l);
    db_close(&d);
}

/* ---- order.subscription_id ---- */

static void test_order_link(void)
{
    struct db d;
    db_open(&d);
    char u[TG_ID_MAX], o1[TG_ID_MAX], o2[TG_ID_MAX], o3[TG_ID_MAX];
    make_user(d.s, u, "link");
    make_order(d.s, o1, u, "paid", 1000, NULL);
    struct subscription s;
    sub_fill(&s, u, o1, 2000);
    CHECK_INT_EQ(store_sub_insert(d.s, &s), STORE_OK, "insert");

    struct order g;
    CHECK(store_order_get(d.s, o1, &g) == STORE_OK && g.subscription_id[0] == 0, "an order starts unlinked");
    CHECK_INT_EQ(store_order_set_subscription(d.s, o1, s.id, 3000), STORE_OK, "link");
    CHECK(store_order_get(d.s, o1, &g) == STORE_OK && strcmp(g.subscription_id, s.id) == 0 && g.updated_at == 3000,
          "order_get: subscription_id and updated_at");
    CHECK(store_order_get_by_ref(d.s, "stripe", g.provider_ref, &g) == STORE_OK &&
              strcmp(g.subscription_id, s.id) == 0,
          "order_get_by_ref: subscription_id");
    make_order(d.s, o2, u, "paid", 4000, s.id);
    CHECK(store_order_get(d.s, o2, &g) == STORE_OK && strcmp(g.subscription_id, s.id) == 0,
          "an order inserted with subscription_id keeps it");
    make_order(d.s, o3, u, "pending", 5000, s.id);
    struct order *l = NULL;
    size_t n = 0;
    CHECK(store_order_list(d.s, u, NULL, 10, &l, &n) == STORE_OK && n == 3 && strcmp(l[0].id, o3) == 0 &&
              strcmp(l[0].subscription_id, s.id) == 0 && strcmp(l[1].subscription_id, s.id) == 0 &&
              strcmp(l[2].subscription_id, s.id) == 0,
          "order_list: subscription_id on every row");
    free(l);
    struct order_filter of = {.status = "paid"};
    CHECK(store_order_search(d.s, &of, NULL, 10, &l, &n) == STORE_OK && n == 2 && strcmp(l[0].id, o2) == 0 &&
              strcmp(l[0].subscription_id, s.id) == 0 && strcmp(l[1].subscription_id, s.id) == 0,
          "order_search: subscription_id");
    free(l);
    CHECK(store_orders_due(d.s, 5005, 10, &l, &n) == STORE_OK && n == 1 && strcmp(l[0].id, o3) == 0 &&
              strcmp(l[0].subscription_id, s.id) == 0,
          "orders_due: subscription_id");
    free(l);

    CHECK_INT_EQ(store_order_set_subscription(d.s, o1, NULL, 6000), STORE_OK, "unlink (NULL)");
    CHECK(store_order_get(d.s, o1, &g) == STORE_OK && g.subscription_id[0] == 0, "unlinked");
    CHECK_INT_EQ(store_order_set_subscription(d.s, "ord_missing", s.id, 6000), STORE_NOTFOUND, "unknown order");
    CHECK_INT_EQ(store_order_set_subscription(d.s, o1, "sub_missing", 6000), STORE_ERROR,
                 "a subscription that does not exist is refused");
    CHECK(store_order_get(d.s, o1, &g) == STORE_OK && g.subscription_id[0] == 0, "... and nothing changed");
    db_close(&d);
}

/* ---- store_subs_check ---- */

#define MAX_V 16
struct seen {
    int n;
    char user[MAX_V][TG_ID_MAX];
    char what[MAX_V][256];
};

static void on_violation(void *arg, const char *user_id, const char *what)
{
    struct seen *v = arg;
    if (v->n < MAX_V) {
        snprintf(v->user[v->n], sizeof v->user[0], "%s", user_id);
        snprintf(v->what[v->n], sizeof v->what[0], "%s", what);
    }
    v->n++;
}

static int64_t check(struct store *s, int64_t now, struct seen *v)
{
    int64_t count = -1;
    memset(v, 0, sizeof *v);
    if (store_subs_check(s, now, on_violation, v, &count) != STORE_OK)
        return -1;
    for (int i = 0; i < v->n && i < MAX_V; i++)
        printf("# violation: %s: %s\n", v->user[i], v->what[i]);
    return count;
}

static const int64_t NOW = 1000000000LL;
static const int64_t MONTH = 30LL * 86400000;

/* A user with a live subscription as the domain leaves it: paid linked order, plan credits
 * granted under ref '<sub>:1' expiring at the credit period's end. */
static void clean_user(struct store *s, char u[TG_ID_MAX], struct subscription *sub)
{
    char o[TG_ID_MAX];
    make_user(s, u, "clean");
    make_order(s, o, u, "paid", NOW - 10 * 86400000LL, NULL);
    sub_fill(sub, u, o, NOW - 10 * 86400000LL);
    sub->credit_start = NOW - 10 * 86400000LL;
    sub->credit_end = sub->credit_start + MONTH;
    sub->next_due_at = sub->credit_end;
    if (store_sub_insert(s, sub) != STORE_OK || store_order_set_subscription(s, o, sub->id, NOW) != STORE_OK) {
        printf("Bail out! clean_user\n");
        exit(1);
    }
    char ref[64];
    snprintf(ref, sizeof ref, "%s:1", sub->id);
    struct ledger_op op = {.user_id = u, .amount = 300, .bucket = BUCKET_PLAN, .kind = LK_PLAN_GRANT,
                           .ref_type = "subscription", .ref_id = ref, .plan_expires_at = sub->credit_end};
    if (store_ledger_apply(s, &op, NOW - 10 * 86400000LL, NULL, NULL) != STORE_OK) {
        printf("Bail out! clean_user grant\n");
        exit(1);
    }
}

static void test_check_clean(void)
{
    struct db d;
    db_open(&d);
    struct seen v;
    CHECK_INT_EQ(check(d.s, NOW, &v), 0, "an empty database checks clean");
    char u[TG_ID_MAX];
    struct subscription sub;
    clean_user(d.s, u, &sub);
    /* An upgrade's difference, and a pending plan order (not paid yet: nothing to link). */
    char ref[96], o[TG_ID_MAX];
    snprintf(ref, sizeof ref, "%s:1:max_monthly", sub.id);
    struct ledger_op up = {.user_id = u, .amount = 600, .bucket = BUCKET_PLAN, .kind = LK_PLAN_GRANT,
                           .ref_type = "subscription", .ref_id = ref};
    CHECK_INT_EQ(store_ledger_apply(d.s, &up, NOW - 86400000LL, NULL, NULL), STORE_OK, "an upgrade grant");
    make_order(d.s, o, u, "pending", NOW - 5000, NULL);
    /* A plan_grant of another ref_type is not the subscription's business. */
    struct ledger_op other = {.user_id = u, .amount = 5, .bucket = BUCKET_PLAN, .kind = LK_PLAN_GRANT,
                              .ref_type = "admin", .ref_id = "legacy-1"};
    CHECK_INT_EQ(store_ledger_apply(d.s, &other, NOW - 86400000LL, NULL, NULL), STORE_OK, "an admin plan grant");
    CHECK_INT_EQ(check(d.s, NOW, &v), 0, "a live subscription as the domain leaves it checks clean");
    CHECK_INT_EQ(v.n, 0, "fn was not called");
    db_close(&d);
}

static void test_check_plan_credits(void)
{
    struct db d;
    db_open(&d);
    struct seen v;
    char u[TG_ID_MAX];
    struct subscription sub;
    clean_user(d.s, u, &sub);
    char *sql = sqlite3_mprintf("UPDATE wallets SET plan_expires_at = NULL WHERE user_id = %Q", u);
    CHECK(raw_exec(d.raw, sql), "raw: plan credits lose their expiry");
    sqlite3_free(sql);
    CHECK_INT_EQ(check(d.s, NOW, &v), 1, "plan credits without an expiry: one violation");
    CHECK_STR_EQ(v.user[0], u, "... of that user");
    CHECK(strstr(v.what[0], "plan credits outlive their period") && strstr(v.what[0], "no expiry"),
          "... saying so (%s)", v.what[0]);

    sql = sqlite3_mprintf("UPDATE wallets SET plan_expires_at = %lld WHERE user_id = %Q",
                          (long long)(NOW - STORE_SUBS_AUDIT_GRACE_MS), u);
    CHECK(raw_exec(d.raw, sql), "raw: expiry exactly the grace ago");
    sqlite3_free(sql);
    CHECK_INT_EQ(check(d.s, NOW, &v), 0, "an expiry exactly the grace ago is still within it");
    CHECK_INT_EQ(check(d.s, NOW + 1, &v), 1, "one ms later: plan credits outlived their period");
    CHECK(v.n == 1 && strcmp(v.user[0], u) == 0 && strstr(v.what[0], "plan credits outlive their period"),
          "... reported for that user (%s)", v.what[0]);

    sql = sqlite3_mprintf("UPDATE wallets SET plan_credits = 0, plan_expires_at = NULL WHERE user_id = %Q", u);
    CHECK(raw_exec(d.raw, sql), "raw: no plan credits, no expiry");
    sqlite3_free(sql);
    CHECK_INT_EQ(check(d.s, NOW, &v), 0, "no plan credits: no expiry needed");
    db_close(&d);
}

static void test_check_credit_period(void)
{
    struct db d;
    db_open(&d);
    struct seen v;
    char u[TG_ID_MAX];
    struct subscription sub;
    clean_user(d.s, u, &sub);
    int64_t at = sub.credit_end + STORE_SUBS_AUDIT_GRACE_MS;
    /* Keep the wallet's expiry out of the way: this check is about the subscription row. */
    char *sql = sqlite3_mprintf("UPDATE wallets SET plan_expires_at = %lld WHERE user_id = %Q",
                                (long long)(at + MONTH), u);
    CHECK(raw_exec(d.raw, sql), "raw: wallet expiry later");
    sqlite3_free(sql);
    CHECK_INT_EQ(check(d.s, at, &v), 0, "a credit period ended exactly the grace ago is within it");
    CHECK_INT_EQ(check(d.s, at + 1, &v), 1, "a live subscription whose credit period was not rolled");
    CHECK(v.n == 1 && strcmp(v.user[0], u) == 0 && strstr(v.what[0], "credit period was not rolled") &&
              strstr(v.what[0], sub.id),
          "... names the user and the subscription (%s)", v.what[0]);

    snprintf(sub.status, sizeof sub.status, "past_due");
    CHECK_INT_EQ(store_sub_update(d.s, &sub), STORE_OK, "past_due");
    CHECK_INT_EQ(check(d.s, at + 1, &v), 1, "past_due is live: still a violation");

    /* Written off at the end of the paid period, a subscription the provider renews waits
     * for the provider's notice, however late: no violation. Prepaid, or canceling, it
     * should have ended. */
    struct subscription w = sub;
    snprintf(w.status, sizeof w.status, "active");
    snprintf(w.provider_ref, sizeof w.provider_ref, "sub_provider_waiting");
    w.cancel_at_period_end = 0;
    w.period_end = w.credit_end;
    w.credit_start = w.credit_end;
    CHECK_INT_EQ(store_sub_update(d.s, &w), STORE_OK, "renewing, written off, waiting");
    CHECK_INT_EQ(check(d.s, at + MONTH, &v), 0, "a renewing subscription waiting for its renewal is no violation");
    w.cancel_at_period_end = 1;
    CHECK_INT_EQ(store_sub_update(d.s, &w), STORE_OK, "canceling");
    CHECK_INT_EQ(check(d.s, at + 1, &v), 1, "canceling and past its end: it should have ended");
    w.cancel_at_period_end = 0;
    w.provider_ref[0] = '\0';
    CHECK_INT_EQ(store_sub_update(d.s, &w), STORE_OK, "prepaid");
    CHECK_INT_EQ(check(d.s, at + 1, &v), 1, "prepaid and past its end: it should have ended");
    w.period_end = w.credit_end + MONTH;
    CHECK_INT_EQ(store_sub_update(d.s, &w), STORE_OK, "paid time left");
    CHECK_INT_EQ(check(d.s, at + 1, &v), 1, "written off with paid time left and no next period: not rolled");
    sub = w;
    snprintf(sub.status, sizeof sub.status, "canceled");
    sub.ended_at = sub.credit_end;
    CHECK_INT_EQ(store_sub_update(d.s, &sub), STORE_OK, "canceled");
    CHECK_INT_EQ(check(d.s, at + 1, &v), 0, "an ended subscription's old credit period is no violation");
    db_close(&d);
}

static void test_check_entries(void)
{
    struct db d;
    db_open(&d);
    struct seen v;
    char u[TG_ID_MAX], u2[TG_ID_MAX];
    struct subscription sub, sub2;
    clean_user(d.s, u, &sub);
    clean_user(d.s, u2, &sub2);
    CHECK_INT_EQ(check(d.s, NOW, &v), 0, "two clean users");

    /* A grant naming a subscription that does not exist. */
    struct ledger_op g = {.user_id = u, .amount = 10, .bucket = BUCKET_PLAN, .kind = LK_PLAN_GRANT,
                          .ref_type = "subscription", .ref_id = "sub_missing:1", .plan_expires_at = NOW + MONTH};
    CHECK_INT_EQ(store_ledger_apply(d.s, &g, NOW - 1000, NULL, NULL), STORE_OK, "a grant for a missing subscription");
    CHECK_INT_EQ(check(d.s, NOW, &v), 1, "one violation");
    CHECK(v.n == 1 && strcmp(v.user[0], u) == 0 && strstr(v.what[0], "plan entry without its user's subscription") &&
              strstr(v.what[0], "plan_grant sub_missing:1"),
          "... names the entry (%s)", v.what[0]);

    /* An expiry under another user's subscription (with an upgrade's product suffix). */
    char ref[96];
    snprintf(ref, sizeof ref, "%s:1:max_monthly", sub2.id);
    struct ledger_op x = {.user_id = u, .amount = 5, .debit = 1, .bucket = BUCKET_PLAN, .kind = LK_PLAN_EXPIRE,
                          .ref_type = "subscription", .ref_id = ref};
    CHECK_INT_EQ(store_ledger_apply(d.s, &x, NOW - 500, NULL, NULL), STORE_OK, "an expiry under another's subscription");
    CHECK_INT_EQ(check(d.s, NOW, &v), 2, "two violations");
    /* Reported in (user, entry) order: "plan_expire ..." sorts before "plan_grant ...". */
    CHECK(v.n == 2 && strcmp(v.user[0], u) == 0 && strstr(v.what[0], "plan_expire") && strstr(v.what[0], ref) &&
              strcmp(v.user[1], u) == 0 && strstr(v.what[1], "plan_grant sub_missing:1"),
          "... the expiry and the grant, in order (%s)", v.what[0]);

    /* A ref without ':' is the subscription id itself. */
    struct ledger_op bare = {.user_id = u2, .amount = 3, .bucket = BUCKET_PLAN, .kind = LK_PLAN_GRANT,
                             .ref_type = "subscription", .ref_id = sub2.id, .plan_expires_at = NOW + MONTH};
    CHECK_INT_EQ(store_ledger_apply(d.s, &bare, NOW - 400, NULL, NULL), STORE_OK, "a grant whose ref is the bare id");
    CHECK_INT_EQ(check(d.s, NOW, &v), 2, "a bare id of the user's own subscription is fine");
    db_close(&d);
}

static void test_check_orders(void)
{
    struct db d;
    db_open(&d);
    struct seen v;
    char u[TG_ID_MAX], o[TG_ID_MAX], o2[TG_ID_MAX];
    struct subscription sub;
    clean_user(d.s, u, &sub);
    make_order(d.s, o, u, "paid", NOW - 3000, NULL);
    CHECK_INT_EQ(check(d.s, NOW, &v), 1, "a paid plan order without a subscription");
    CHECK(v.n == 1 && strcmp(v.user[0], u) == 0 && strstr(v.what[0], "paid plan order without a subscription") &&
              strstr(v.what[0], o),
          "... names the order (%s)", v.what[0]);
    make_order(d.s, o2, u, "paid", NOW - 2000, NULL);
    char *sql = sqlite3_mprintf("UPDATE orders SET status = 'refunded', refunded_amount = amount WHERE id = %Q", o2);
    CHECK(raw_exec(d.raw, sql), "raw: a refunded plan order");
    sqlite3_free(sql);
    CHECK_INT_EQ(check(d.s, NOW, &v), 2, "a refunded unlinked plan order counts too");
    CHECK_INT_EQ(store_order_set_subscription(d.s, o, sub.id, NOW), STORE_OK, "link the first");
    CHECK_INT_EQ(store_order_set_subscription(d.s, o2, sub.id, NOW), STORE_OK, "link the second");
    CHECK_INT_EQ(check(d.s, NOW, &v), 0, "linked: clean");

    /* A NULL fn still counts. */
    int64_t count = -1;
    sql = sqlite3_mprintf("UPDATE orders SET subscription_id = NULL WHERE id = %Q", o);
    CHECK(raw_exec(d.raw, sql), "raw: unlink");
    sqlite3_free(sql);
    CHECK(store_subs_check(d.s, NOW, NULL, NULL, &count) == STORE_OK && count == 1, "fn NULL: counted (%lld)",
          (long long)count);
    db_close(&d);
}

static void test_wallet_expiry(void)
{
    struct db d;
    db_open(&d);
    char u[TG_ID_MAX];
    struct subscription sub;
    struct wallet w;
    clean_user(d.s, u, &sub);
    CHECK_INT_EQ(store_wallet_get(d.s, u, &w), STORE_OK, "wallet");
    int64_t credits = w.plan_credits;
    CHECK_INT_EQ(store_wallet_set_plan_expiry(d.s, u, sub.credit_end - 5000, NOW), STORE_OK, "expiry moved");
    CHECK_INT_EQ(store_wallet_get(d.s, u, &w), STORE_OK, "wallet again");
    CHECK(w.plan_expires_at == sub.credit_end - 5000 && w.plan_credits == credits,
          "the expiry moved, the balance did not");
    CHECK_INT_EQ(store_wallet_set_plan_expiry(d.s, "usr_nobody", 1, NOW), STORE_NOTFOUND, "no wallet: not found");
    int64_t nv = -1, nw = -1;
    CHECK(store_ledger_check(d.s, NULL, NULL, &nv, &nw) == STORE_OK && nv == 0, "the ledger still checks clean");
    db_close(&d);
}

int main(void)
{
    snprintf(g_tmpdir, sizeof g_tmpdir, "%s/tg-subs-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (mkdtemp(g_tmpdir) == NULL) {
        printf("Bail out! mkdtemp\n");
        return 1;
    }
    test_insert_get();
    test_one_live();
    test_update();
    test_due();
    test_search();
    test_order_link();
    test_check_clean();
    test_check_plan_credits();
    test_check_credit_period();
    test_check_entries();
    test_check_orders();
    test_wallet_expiry();
    if (test_failed_ == 0) {
        char *cmd = xasprintf("rm -rf '%s'", g_tmpdir);
        if (system(cmd) != 0)
            printf("# could not remove %s\n", g_tmpdir);
        free(cmd);
    } else {
        printf("# database files kept in %s\n", g_tmpdir);
    }
    return test_done();
}
