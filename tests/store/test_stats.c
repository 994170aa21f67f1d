/*
 * The admin reads of the SQLite store (migration 0008, store/sqlite/stats.c) and the report
 * domain/stats.c makes of them: the user search (id, substring, wildcards taken literally,
 * filters, pages, wallets), every statistics query's plan (an index, never a table scan),
 * and stats_compute on rows seeded through a raw handle at exact instants - UTC midnight
 * boundaries, regions saved, from sign-up and missing, orders without a region, refunds,
 * distinct active users, task outcomes and exact percentiles. SQLite only (raw handle);
 * each test gets a fresh database.
 *
 * With TG_STATS_BENCH=N (users and tasks), it also times one 30-day report over N users and
 * N tasks generated in SQL, and prints the time as a TAP comment.
 */
#include "../unit/test.h"

#include <sqlite3.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "core/ids.h"
#include "core/mem.h"
#include "domain/stats.h"
#include "store/call.h"
#include "store/sqlite/sq.h"
#include "store/store.h"

static char g_tmpdir[64];
static unsigned g_db_n;

struct db {
    struct store *s;
    sqlite3 *raw;
};

static void db_open(struct db *d)
{
    char *err = NULL;
    char url[128];
    int applied = 0;
    char *path = xasprintf("%s/stats-%u.db", g_tmpdir, g_db_n++);
    snprintf(url, sizeof url, "sqlite:%s", path);
    if (store_migrate(url, &applied, &err) != 0 || (d->s = store_open(url, &err)) == NULL ||
        sqlite3_open(path, &d->raw) != SQLITE_OK) {
        printf("Bail out! open %s: %s\n", url, err ? err : "?");
        exit(1);
    }
    sqlite3_busy_timeout(d->raw, 5000);
    free(err);
    free(path);
}

static void db_close(struct db *d)
{
    sqlite3_close(d->raw);
    store_close(d->s);
}

static void raw(struct db *d, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(d->raw, sql, NULL, NULL, &msg) != SQLITE_OK) {
        printf("Bail out! raw: %s\n  in: %.300s\n", msg ? msg : "?", sql);
        exit(1);
    }
}

#define DAY STATS_DAY_MS
/* 2026-11-01T00:00:00Z */
#define D0 (20758LL * DAY)

/* A user with id "usr_<tag>" padded to a valid id, created at `at`. */
static void user_at(struct db *d, const char *id, int64_t at, const char *region, const char *signup, const char *email,
                    const char *name, const char *role, int disabled)
{
    char *sql = sqlite3_mprintf("INSERT INTO users(id, email, display_name, role, region, signup_region, created_at,"
                                " updated_at, disabled) VALUES (%Q, %Q, %Q, %Q, %Q, %Q, %lld, %lld, %d);"
                                "INSERT INTO wallets(user_id, plan_credits, paid_credits, updated_at)"
                                " VALUES (%Q, 3, 40, %lld)",
                                id, email, name, role, region, signup, (long long)at, (long long)at, disabled, id,
                                (long long)at);
    raw(d, sql);
    sqlite3_free(sql);
}

static void order_paid(struct db *d, const char *id, const char *user, const char *region, const char *currency,
                       int64_t amount, int64_t created, int64_t paid)
{
    char p[32] = "NULL";
    if (paid)
        snprintf(p, sizeof p, "%lld", (long long)paid);
    char *sql = sqlite3_mprintf(
        "INSERT INTO orders(id, user_id, product, kind, credits, amount, currency, provider, status, region,"
        " created_at, updated_at, paid_at, expires_at) VALUES (%Q, %Q, 'credits_115', 'pack', 115, %lld, %Q,"
        " 'sandbox', %Q, %Q, %lld, %lld, %s, %lld)",
        id, user, (long long)amount, currency, paid ? "paid" : "pending", region, (long long)created,
        (long long)created, p, (long long)created + DAY);
    raw(d, sql);
    sqlite3_free(sql);
}

static void task_at(struct db *d, const char *id, const char *user, const char *provider, const char *status,
                    int64_t created, int64_t submitted, int64_t finished)
{
    int live = strcmp(status, "queued") == 0 || strcmp(status, "running") == 0 || strcmp(status, "submitted") == 0;
    char sub[32] = "NULL", fin[32] = "NULL";
    if (submitted)
        snprintf(sub, sizeof sub, "%lld", (long long)submitted);
    if (finished)
        snprintf(fin, sizeof fin, "%lld", (long long)finished);
    char *sql = sqlite3_mprintf(
        "INSERT INTO tasks(id, user_id, kind, provider, model, status, phase, price_unit, unit_credits, est_units,"
        " reserved, settled, refunded, next_at, deadline_at, created_at, updated_at, submitted_at, finished_at)"
        " VALUES (%Q, %Q, 'image', %Q, 'm', %Q, %Q, 'task', 2, 1, 2, %d, %d, 0, %lld, %lld, %lld, %s, %s)",
        id, user, provider, status, live ? "submit" : "", live ? -1 : (strcmp(status, "succeeded") == 0 ? 2 : 0),
        live ? 0 : (strcmp(status, "succeeded") == 0 ? 0 : 2), (long long)created + DAY, (long long)created,
        (long long)created, sub, fin);
    raw(d, sql);
    sqlite3_free(sql);
}

static void session_at(struct db *d, const char *id, const char *user, int64_t at)
{
    char *sql = sqlite3_mprintf("INSERT INTO refresh_tokens(id, user_id, family_id, hash, created_at, expires_at)"
                                " VALUES (%Q, %Q, %Q, randomblob(32), %lld, %lld)",
                                id, user, id, (long long)at, (long long)at + DAY);
    raw(d, sql);
    sqlite3_free(sql);
}

/* ---- user search ---- */

static size_t search(struct db *d, const char *q, const char *role, int disabled, const char *before, size_t limit,
                     char ids[][TG_ID_MAX], struct wallet *w0)
{
    struct user_filter f = {q, role, disabled};
    struct user *u = NULL;
    struct wallet *w = NULL;
    size_t n = 0;
    enum store_rc rc = store_user_search(d->s, &f, before, limit, &u, &w, &n);
    if (rc != STORE_OK)
        printf("# search rc %s\n", store_rc_name(rc));
    for (size_t i = 0; i < n && i < 8; i++)
        memcpy(ids[i], u[i].id, TG_ID_MAX);
    if (w0 && n > 0)
        *w0 = w[0];
    free(u);
    free(w);
    return n;
}

#define U1 "usr_01JA0000000000000000000001"
#define U2 "usr_01JA0000000000000000000002"
#define U3 "usr_01JA0000000000000000000003"
#define U4 "usr_01JA0000000000000000000004"
#define U5 "usr_01JA0000000000000000000005"
#define U6 "usr_01JA0000000000000000000006"

static void test_user_search(void)
{
    struct db d;
    char ids[8][TG_ID_MAX];
    struct wallet w;
    db_open(&d);
    user_at(&d, U1, D0, NULL, "CN", "alice@example.test", "Alice", "user", 0);
    user_at(&d, U2, D0, NULL, NULL, "bob_100%@example.test", "Bob", "admin", 0);
    user_at(&d, U3, D0, NULL, NULL, "bobx100x@example.test", "Robert", "user", 1);
    user_at(&d, U4, D0, NULL, NULL, NULL, "ALICE in \xe4\xb8\xad\xe5\x9b\xbd", "user", 0);
    user_at(&d, U5, D0, NULL, NULL, "back\\slash@example.test", "", "user", 0);
    raw(&d, "DELETE FROM wallets WHERE user_id = '" U5 "'");

    CHECK_INT_EQ(search(&d, NULL, NULL, -1, NULL, 10, ids, NULL), 5, "no filter: everyone");
    CHECK_STR_EQ(ids[0], U5, "newest first");
    CHECK_STR_EQ(ids[4], U1, "oldest last");
    CHECK_INT_EQ(search(&d, U3, NULL, -1, NULL, 10, ids, &w), 1, "an id matches exactly");
    CHECK_STR_EQ(ids[0], U3, "... that user");
    CHECK(w.paid_credits == 40 && w.plan_credits == 3 && strcmp(w.user_id, U3) == 0, "with the wallet");
    CHECK_INT_EQ(search(&d, "usr_01JA00000000000000000000", NULL, -1, NULL, 10, ids, NULL), 0,
                 "part of an id is not an id");
    CHECK_INT_EQ(search(&d, "ALIce", NULL, -1, NULL, 10, ids, NULL), 2, "email or display name, any ASCII case");
    CHECK(strcmp(ids[0], U4) == 0 && strcmp(ids[1], U1) == 0, "... both, newest first");
    CHECK_INT_EQ(search(&d, "\xe4\xb8\xad\xe5\x9b\xbd", NULL, -1, NULL, 10, ids, NULL), 1, "UTF-8 substring");
    CHECK_INT_EQ(search(&d, "100%", NULL, -1, NULL, 10, ids, NULL), 1, "%% is itself, not anything");
    CHECK_STR_EQ(ids[0], U2, "... only the address with a %%");
    CHECK_INT_EQ(search(&d, "bob_", NULL, -1, NULL, 10, ids, NULL), 1, "_ is itself, not any character");
    CHECK_INT_EQ(search(&d, "%", NULL, -1, NULL, 10, ids, NULL), 1, "a lone %% is a %%");
    CHECK_INT_EQ(search(&d, "k\\s", NULL, -1, NULL, 10, ids, NULL), 1, "a backslash is itself");
    CHECK_INT_EQ(search(&d, NULL, "admin", -1, NULL, 10, ids, NULL), 1, "role");
    CHECK_INT_EQ(search(&d, NULL, NULL, 1, NULL, 10, ids, NULL), 1, "disabled");
    CHECK_STR_EQ(ids[0], U3, "... the disabled one");
    CHECK_INT_EQ(search(&d, "bob", "user", 0, NULL, 10, ids, NULL), 0, "filters combine");
    CHECK_INT_EQ(search(&d, NULL, NULL, -1, NULL, 2, ids, NULL), 2, "limit");
    CHECK_INT_EQ(search(&d, NULL, NULL, -1, U4, 2, ids, NULL), 2, "a page after a cursor");
    CHECK(strcmp(ids[0], U3) == 0 && strcmp(ids[1], U2) == 0, "... the next two");
    CHECK_INT_EQ(search(&d, "back", NULL, -1, NULL, 10, ids, &w), 1, "a user without a wallet");
    CHECK(w.paid_credits == 0 && w.user_id[0] == '\0', "... reads a zero wallet");
    db_close(&d);
}

/* ---- plans ---- */

static void test_plans(void)
{
    struct db d;
    db_open(&d);
    const char *sql;
    for (size_t i = 0; (sql = sq_stats_sql(i)) != NULL; i++) {
        char *ex = xasprintf("EXPLAIN QUERY PLAN %s", sql);
        sqlite3_stmt *st = NULL;
        int ok = sqlite3_prepare_v2(d.raw, ex, -1, &st, NULL) == SQLITE_OK, scans = 0, rows = 0;
        while (ok && sqlite3_step(st) == SQLITE_ROW) {
            const char *detail = (const char *)sqlite3_column_text(st, 3);
            rows++;
            if (getenv("TG_STATS_PLANS"))
                printf("#   %s\n", detail ? detail : "");
            /* "SCAN t" without an index reads the whole table. The user search walks the
             * primary key's index in id order (a substring needs every row it passes, but it
             * stops after LIMIT matches); the activity query scans only what it materialized
             * from index range searches. */
            if (detail && strncmp(detail, "SCAN ", 5) == 0 && !strstr(detail, "INDEX") &&
                strcmp(detail, "SCAN act") != 0 && strcmp(detail, "SCAN d") != 0) { /* materialized above */
                printf("# plan %zu: %s\n", i, detail);
                scans++;
            }
        }
        sqlite3_finalize(st);
        if (getenv("TG_STATS_PLANS"))
            printf("# statement %zu planned\n", i);
        CHECK(ok && rows > 0 && scans == 0, "statement %zu reads through indexes only", i);
        free(ex);
    }
    db_close(&d);
}

/* ---- the report ---- */

static struct stats_query query(int64_t from_day, int64_t to_day, int all, enum region r)
{
    struct stats_query q = {from_day, to_day, all, r};
    return q;
}

static enum stats_rc compute(struct db *d, struct stats_query q, struct stats_report *rep)
{
    return stats_compute(d->s, &q, rep);
}

static int64_t money(const struct stats_moneys *m, const char *cur)
{
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->v[i].currency, cur) == 0)
            return m->v[i].amount;
    return -1;
}

static void test_report(void)
{
    struct db d;
    struct stats_report rep;
    db_open(&d);
    int64_t day0 = D0 / DAY;
    /* Users: one the millisecond before the range, two at the first instant and the last
     * of day 0, one at midnight of day 1, one at the end of the range (outside). */
    user_at(&d, U1, D0 - 1, NULL, NULL, "u1@example.test", "", "user", 0);        /* GLOBAL: nothing recorded */
    user_at(&d, U2, D0, NULL, "CN", "u2@example.test", "", "user", 0);            /* CN by sign-up */
    user_at(&d, U3, D0 + DAY - 1, "CN", "GLOBAL", "u3@example.test", "", "user", 0); /* CN by choice */
    user_at(&d, U4, D0 + DAY, "GLOBAL", "CN", "u4@example.test", "", "user", 0);  /* GLOBAL by choice */
    user_at(&d, U5, D0 + 2 * DAY, NULL, "CN", "u5@example.test", "", "user", 0);  /* after the range */

    /* Orders: CN paid day 0 (CNY), an order without a region paid in CNY day 1 (CN), USD paid
     * at the last ms of day 1 (GLOBAL), one paid the ms after the range, one never paid. */
    order_paid(&d, "ord_01JA0000000000000000000001", U2, "CN", "CNY", 6800, D0, D0 + 5);
    order_paid(&d, "ord_01JA0000000000000000000002", U1, NULL, "CNY", 100, D0, D0 + DAY);
    order_paid(&d, "ord_01JA0000000000000000000003", U4, "GLOBAL", "USD", 990, D0 + DAY, D0 + 2 * DAY - 1);
    order_paid(&d, "ord_01JA0000000000000000000004", U4, "GLOBAL", "USD", 990, D0 + DAY, D0 + 2 * DAY);
    order_paid(&d, "ord_01JA0000000000000000000005", U3, "CN", "CNY", 6800, D0 + DAY, 0);
    /* Refunds: one succeeded on day 1 (USD, GLOBAL), one still pending, one failed. */
    char *rf = sqlite3_mprintf(
        "INSERT INTO refunds(id, order_id, user_id, amount, currency, credits, status, created_at, updated_at)"
        " VALUES ('rfd_1', 'ord_01JA0000000000000000000003', '" U4 "', 90, 'USD', 10, 'succeeded', 1, %lld),"
        " ('rfd_2', 'ord_01JA0000000000000000000003', '" U4 "', 50, 'USD', 5, 'pending', 1, %lld),"
        " ('rfd_3', 'ord_01JA0000000000000000000001', '" U2 "', 50, 'CNY', 5, 'failed', 1, %lld)",
        (long long)(D0 + DAY + 7), (long long)(D0 + 5), (long long)(D0 + 5));
    raw(&d, rf);
    sqlite3_free(rf);

    /* Tasks: U2 (CN) four on day 0 at provider "a": three succeeded (latencies 100, 300,
     * 200) and one failed; U4 (GLOBAL) on day 1 at "b": one timed out, one canceled, one
     * queued, and one succeeded with latency 50; one at "a" before the range. */
    task_at(&d, "tsk_01", U2, "a", "succeeded", D0 + 10, D0 + 20, D0 + 120);
    task_at(&d, "tsk_02", U2, "a", "succeeded", D0 + 10, D0 + 20, D0 + 320);
    task_at(&d, "tsk_03", U2, "a", "succeeded", D0 + 10, D0 + 20, D0 + 220);
    task_at(&d, "tsk_04", U2, "a", "failed", D0 + 10, D0 + 20, D0 + 30);
    task_at(&d, "tsk_05", U4, "b", "timed_out", D0 + DAY, D0 + DAY + 1, D0 + DAY + 9);
    task_at(&d, "tsk_06", U4, "b", "canceled", D0 + DAY, 0, D0 + DAY + 9);
    task_at(&d, "tsk_07", U4, "b", "queued", D0 + 2 * DAY - 1, 0, 0);
    task_at(&d, "tsk_08", U4, "b", "succeeded", D0 + DAY + 1, D0 + DAY + 2, D0 + DAY + 52);
    task_at(&d, "tsk_09", U1, "a", "succeeded", D0 - 1, D0 - 1, D0 + 1000000);
    /* Sessions: U1 twice on day 1 (one distinct user), U3 on day 0; U2 also active by tasks
     * on day 0 and by a session on day 0 (counted once). */
    session_at(&d, "rt_1", U1, D0 + DAY + 1);
    session_at(&d, "rt_2", U1, D0 + DAY + 2);
    session_at(&d, "rt_3", U3, D0 + 3);
    session_at(&d, "rt_4", U2, D0 + 4);
    session_at(&d, "rt_5", U5, D0 + 2 * DAY); /* outside */

    CHECK_INT_EQ(compute(&d, query(day0, day0 + 1, 1, REGION_GLOBAL), &rep), STATS_OK, "report over two days");
    CHECK_INT_EQ(rep.ndays, 2, "two days");
    CHECK_INT_EQ(rep.totals.users, 4, "users by the end of the range (not the one at its end)");
    CHECK_INT_EQ(rep.totals.new_users, 3, "new users: from the first ms of the range on");
    CHECK(rep.days[0].new_users == 2 && rep.days[1].new_users == 1, "23:59:59.999 is day 0, 00:00 day 1");
    CHECK_INT_EQ(rep.regions[REGION_CN].users, 2, "CN: by sign-up and by choice");
    CHECK_INT_EQ(rep.regions[REGION_GLOBAL].users, 2, "GLOBAL: nothing recorded, and by choice over sign-up");
    CHECK_INT_EQ(rep.regions[REGION_GLOBAL].new_users, 1, "GLOBAL new: only the one in the range");
    /* Active: day 0 U1 (an order), U2 (tasks, a session, an order), U3 (a session); day 1: U1
     * (two sessions), U3 (an order), U4 (tasks, orders). */
    CHECK(rep.days[0].active_users == 3 && rep.days[1].active_users == 3, "active users per day, distinct");
    CHECK_INT_EQ(rep.totals.active_users, 4, "active users in the range, distinct");
    CHECK(rep.regions[REGION_CN].active_users == 2 && rep.regions[REGION_GLOBAL].active_users == 2,
          "active users by region");
    CHECK_INT_EQ(rep.totals.orders_paid, 3, "orders paid in the range (not after, not unpaid)");
    CHECK(rep.days[0].orders_paid == 1 && rep.days[1].orders_paid == 2, "orders by paid_at day");
    CHECK(money(&rep.totals.revenue, "CNY") == 6900 && money(&rep.totals.revenue, "USD") == 990 &&
              rep.totals.revenue.n == 2,
          "revenue by currency");
    CHECK(strcmp(rep.totals.revenue.v[0].currency, "CNY") == 0, "currencies sorted");
    CHECK(rep.regions[REGION_CN].orders_paid == 2 && money(&rep.regions[REGION_CN].revenue, "CNY") == 6900,
          "an order without a region in CNY counts as CN");
    CHECK(money(&rep.totals.refunds, "USD") == 90 && rep.totals.refunds.n == 1, "succeeded refunds only");
    CHECK_INT_EQ(rep.totals.tasks, 8, "tasks created in the range");
    CHECK_INT_EQ(rep.totals.tasks_succeeded, 4, "succeeded");
    CHECK_INT_EQ(rep.totals.tasks_failed, 2, "failed and timed out");
    CHECK(rep.days[0].tasks == 4 && rep.days[1].tasks == 4 && rep.days[0].tasks_succeeded == 3, "tasks by day");
    CHECK_INT_EQ(rep.nproviders, 2, "two providers");
    const struct stats_provider *a = &rep.providers[0], *b = &rep.providers[1];
    CHECK(strcmp(a->name, "a") == 0 && a->tasks == 4 && a->succeeded == 3 && a->failed == 1, "provider a");
    CHECK(a->has_rate && a->success_rate == 0.75, "a: 3 of 4 finished");
    CHECK(a->has_latency && a->p50 == 200 && a->p90 == 300 && a->max == 300, "a: exact percentiles of 100,200,300");
    CHECK(strcmp(b->name, "b") == 0 && b->tasks == 4 && b->timed_out == 1 && b->canceled == 1, "provider b");
    CHECK(b->has_rate && b->success_rate == 1.0 / 3, "b: 1 of 3 finished (the queued one is not)");
    CHECK(b->has_latency && b->p50 == 50 && b->max == 50, "b: one latency");
    stats_report_clear(&rep);

    CHECK_INT_EQ(compute(&d, query(day0, day0 + 1, 0, REGION_CN), &rep), STATS_OK, "CN only");
    CHECK(rep.totals.users == 2 && rep.totals.new_users == 2 && rep.totals.active_users == 2, "CN users");
    CHECK(rep.totals.orders_paid == 2 && money(&rep.totals.revenue, "CNY") == 6900 && rep.totals.revenue.n == 1,
          "CN orders");
    CHECK(rep.totals.refunds.n == 0, "CN: no refunds");
    CHECK(rep.nproviders == 1 && rep.providers[0].tasks == 4, "CN: only provider a");
    CHECK(rep.days[0].active_users == 2 && rep.days[1].active_users == 1, "CN by day: U2 and U3, then U3");
    stats_report_clear(&rep);

    CHECK_INT_EQ(compute(&d, query(day0 + 1, day0 + 1, 0, REGION_GLOBAL), &rep), STATS_OK, "GLOBAL, day 1");
    CHECK(rep.totals.users == 2 && rep.totals.new_users == 1, "GLOBAL by the end of day 1: U1 and U4 (new)");
    CHECK(rep.nproviders == 1 && strcmp(rep.providers[0].name, "b") == 0, "GLOBAL day 1: provider b");
    stats_report_clear(&rep);

    CHECK_INT_EQ(compute(&d, query(day0 + 10, day0 + 12, 1, REGION_GLOBAL), &rep), STATS_OK, "an empty range");
    CHECK(rep.ndays == 3 && rep.days[2].tasks == 0 && rep.totals.users == 5 && rep.nproviders == 0,
          "zeros, every day present");
    stats_report_clear(&rep);
    db_close(&d);
}

static void test_too_many(void)
{
    struct db d;
    db_open(&d);
    struct stats_latency *l = NULL;
    size_t n = 7;
    user_at(&d, U1, D0, NULL, NULL, "u1@example.test", "", "user", 0);
    task_at(&d, "tsk_1", U1, "a", "succeeded", D0, D0, D0 + 1);
    task_at(&d, "tsk_2", U1, "a", "succeeded", D0, D0, D0 + 2);
    CHECK_INT_EQ(store_stats_latencies(d.s, D0, D0 + DAY, 2, &l, &n), STORE_OK, "at the cap: fine");
    CHECK(n == 2 && l != NULL, "... both");
    free(l);
    CHECK_INT_EQ(store_stats_latencies(d.s, D0, D0 + DAY, 1, &l, &n), STORE_CONFLICT, "past the cap: refused");
    CHECK(n == 0 && l == NULL, "... nothing returned");
    db_close(&d);
}

/* ---- the 100k benchmark (TG_STATS_BENCH) ---- */

struct bench_call {
    struct store_call call;
    struct stats_query q;
    struct stats_report rep;
    enum stats_rc rc;
};

static enum store_rc bench_run(struct store *s, struct store_call *c)
{
    struct bench_call *b = (struct bench_call *)c;
    b->rc = stats_compute(s, &b->q, &b->rep);
    return STORE_OK;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* CPU time of this process: the machine may be shared, wall time then says little. */
static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void bench(long n)
{
    struct db d;
    db_open(&d);
    /* n users and n tasks spread over 90 days before D0 + 90 days, half CN; a third of the
     * users with a refresh token and an order; tasks mostly succeeded. */
    char *sql = sqlite3_mprintf(
        "BEGIN;"
        "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < %ld)"
        " INSERT INTO users(id, email, display_name, role, region, signup_region, created_at, updated_at)"
        " SELECT printf('usr_%%026d', i), printf('u%%d@example.test', i), printf('User %%d', i), 'user',"
        " CASE WHEN i %% 7 = 0 THEN 'GLOBAL' END, CASE WHEN i %% 2 = 0 THEN 'CN' ELSE 'GLOBAL' END,"
        " %lld + (i * 7776000000 / %ld), 0 FROM c;"
        "INSERT INTO wallets(user_id, updated_at) SELECT id, 0 FROM users;"
        "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < %ld)"
        " INSERT INTO tasks(id, user_id, kind, provider, model, status, phase, price_unit, unit_credits, est_units,"
        " reserved, settled, refunded, next_at, deadline_at, created_at, updated_at, submitted_at, finished_at)"
        " SELECT printf('tsk_%%026d', i), printf('usr_%%026d', 1 + (i * 7919) %% %ld),"
        " 'image', CASE i %% 3 WHEN 0 THEN 'dashscope' WHEN 1 THEN 'kie' ELSE 'gemini' END, 'm',"
        " CASE WHEN i %% 10 = 0 THEN 'failed' ELSE 'succeeded' END, '', 'task', 2, 1, 2,"
        " CASE WHEN i %% 10 = 0 THEN 0 ELSE 2 END, CASE WHEN i %% 10 = 0 THEN 2 ELSE 0 END, 0, 0,"
        " %lld + (i * 7776000000 / %ld), 0, %lld + (i * 7776000000 / %ld) + 100,"
        " %lld + (i * 7776000000 / %ld) + 100 + (i * 37) %% 60000 FROM c;"
        "INSERT INTO refresh_tokens(id, user_id, family_id, hash, created_at, expires_at)"
        " SELECT 'rt' || id, id, 'f' || id, randomblob(32), created_at + 3600000, created_at + 86400000"
        " FROM users WHERE rowid %% 3 = 0;"
        "INSERT INTO orders(id, user_id, product, kind, credits, amount, currency, provider, status, region,"
        " created_at, updated_at, paid_at, expires_at)"
        " SELECT 'ord' || substr(id, 4), id, 'credits_115', 'pack', 115, 990,"
        " CASE WHEN rowid %% 2 = 0 THEN 'CNY' ELSE 'USD' END, 'sandbox', 'paid', NULL, created_at, created_at,"
        " created_at + 60000, created_at + 86400000 FROM users WHERE rowid %% 3 = 1;"
        "COMMIT; ANALYZE;",
        n, (long long)D0, n, n, n, (long long)D0, n, (long long)D0, n, (long long)D0, n);
    double t0 = now_s();
    raw(&d, sql);
    sqlite3_free(sql);
    printf("# bench: generated %ld users and %ld tasks in %.2f s\n", n, n, now_s() - t0);
    int64_t last = D0 / DAY + 89;
    for (int round = 0; round < 3; round++) {
        struct bench_call b;
        memset(&b, 0, sizeof b);
        b.call.kind = STORE_CALL_READ;
        b.call.run = bench_run;
        b.q = query(last - 29, last, round < 2, REGION_CN);
        t0 = now_s();
        double c0 = cpu_s();
        enum store_rc rc = store_call_run_sync(d.s, &b.call);
        double dt = now_s() - t0, dc = cpu_s() - c0;
        CHECK(rc == STORE_OK && b.rc == STATS_OK, "bench report %d", round);
        printf("# bench: 30-day report (%s) over %ld users / %ld tasks: %.1f ms wall, %.1f ms CPU (users %lld,"
               " tasks in range %lld)\n",
               round < 2 ? "all regions" : "CN", n, n, dt * 1000, dc * 1000, (long long)b.rep.totals.users,
               (long long)b.rep.totals.tasks);
        stats_report_clear(&b.rep);
    }
    {
        int64_t from = (last - 29) * DAY, to = (last + 1) * DAY;
        struct stats_row *rows = NULL;
        struct stats_latency *lat = NULL;
        size_t k = 0;
        double t;
#define TIME_(what, call, p)                                                                                  \
    t = cpu_s();                                                                                              \
    CHECK((call) == STORE_OK, "bench %s", what);                                                              \
    printf("# bench:   %s: %.1f ms CPU, %zu rows\n", what, (cpu_s() - t) * 1000, k);                            \
    free(p);                                                                                                  \
    p = NULL;
        TIME_("users", store_stats_users(d.s, from, to, DAY, &rows, &k), rows);
        TIME_("active", store_stats_active(d.s, from, to, DAY, 7, &rows, &k), rows);
        TIME_("orders", store_stats_orders_paid(d.s, from, to, DAY, &rows, &k), rows);
        TIME_("refunds", store_stats_refunds(d.s, from, to, DAY, &rows, &k), rows);
        TIME_("tasks", store_stats_tasks(d.s, from, to, DAY, &rows, &k), rows);
        TIME_("latencies", store_stats_latencies(d.s, from, to, STATS_LATENCY_SAMPLES_MAX, &lat, &k), lat);
#undef TIME_
    }
    struct user_filter f = {"nobody-matches", NULL, -1};
    struct user *u = NULL;
    struct wallet *w = NULL;
    size_t nu = 0;
    t0 = now_s();
    CHECK(store_user_search(d.s, &f, NULL, 21, &u, &w, &nu) == STORE_OK && nu == 0, "bench search");
    printf("# bench: a user search matching nobody (every row read) over %ld users: %.1f ms\n", n,
           (now_s() - t0) * 1000);
    free(u);
    free(w);
    db_close(&d);
}

int main(void)
{
    snprintf(g_tmpdir, sizeof g_tmpdir, "%s/tg-stats-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (mkdtemp(g_tmpdir) == NULL) {
        printf("Bail out! mkdtemp\n");
        return 1;
    }
    test_user_search();
    test_plans();
    test_report();
    test_too_many();
    const char *b = getenv("TG_STATS_BENCH");
    if (b != NULL && atol(b) > 0)
        bench(atol(b));
    char *rm = xasprintf("rm -rf '%s'", g_tmpdir);
    if (system(rm) != 0)
        printf("# could not remove %s\n", g_tmpdir);
    free(rm);
    return test_done();
}
