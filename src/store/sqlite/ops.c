/*
 * ops.c - operations support: ping, the write probe, ledger totals, and the ledger
 * invariant check that `tollgate audit` runs (DESIGN section 3).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "store/sqlite/sq.h"

static const char SQL_PING[] = "SELECT 1";
static const char SQL_WRITE_PROBE[] = "INSERT INTO store_meta(key, value) VALUES ('write_probe', ?1)"
                                      " ON CONFLICT(key) DO UPDATE SET value = excluded.value";
static const char SQL_TOTALS[] = "SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM wallets),"
                                 " (SELECT coalesce(sum(plan_credits), 0) FROM wallets), (SELECT "
                                 "coalesce(sum(paid_credits), 0) FROM wallets),"
                                 " (SELECT count(*) FROM ledger)";
static const char SQL_TOTALS_BY_KIND[] =
    "SELECT kind, count(*), coalesce(sum(delta), 0) FROM ledger GROUP BY kind";
static const char SQL_CHECK_WALLETS[] =
    "SELECT w.user_id, w.plan_credits, w.paid_credits, EXISTS (SELECT 1 FROM users u WHERE u.id = w.user_id)"
    " FROM wallets w ORDER BY w.user_id";
/* Commit order: balance_after is a running sum in the order the changes were applied. */
static const char SQL_CHECK_ENTRIES[] =
    "SELECT id, bucket, delta, balance_after FROM ledger WHERE user_id = ?1 ORDER BY seq";
static const char SQL_CHECK_ORPHAN_USER[] =
    "SELECT DISTINCT l.user_id FROM ledger l WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = l.user_id)";
static const char SQL_CHECK_ORPHAN_WALLET[] = "SELECT DISTINCT l.user_id FROM ledger l WHERE NOT EXISTS "
                                              "(SELECT 1 FROM wallets w WHERE w.user_id = l.user_id)";

static enum store_rc ping_run(struct sq *c, void *arg)
{
    (void)arg;
    sqlite3_stmt *st = sq_stmt(c, SQL_PING);
    if (st == NULL)
        return STORE_ERROR;
    int src = sqlite3_step(st);
    enum store_rc rc = src == SQLITE_ROW ? STORE_OK : sq_fail(c, src, "ping", 0);
    sq_done(st);
    return rc;
}

enum store_rc sq_ping(struct store *s)
{
    return sq_run((struct sq *)s, SQ_AUTOCOMMIT, "ping", ping_run, NULL);
}

static enum store_rc write_probe_run(struct sq *c, void *arg)
{
    sqlite3_stmt *st = sq_stmt(c, SQL_WRITE_PROBE);
    if (st == NULL)
        return STORE_ERROR;
    sqlite3_bind_int64(st, 1, *(const int64_t *)arg);
    int src = sqlite3_step(st);
    enum store_rc rc = src == SQLITE_DONE ? STORE_OK : sq_fail(c, src, "write_probe", 0);
    sq_done(st);
    return rc;
}

enum store_rc sq_write_probe(struct store *s, int64_t now)
{
    /* A whole write transaction with its COMMIT, so the probe succeeds only when a commit
     * reaches the disk again (on a full disk the COMMIT is what fails). */
    return sq_run((struct sq *)s, SQ_WRITE, "write_probe", write_probe_run, &now);
}

static enum store_rc totals_run(struct sq *c, void *arg)
{
    struct ledger_totals *t = arg;
    enum store_rc rc = STORE_OK;
    int src;
    memset(t, 0, sizeof *t);
    sqlite3_stmt *st = sq_stmt(c, SQL_TOTALS);
    if (st == NULL)
        return STORE_ERROR;
    /* sum() raises "integer overflow" rather than wrapping, which ends here as STORE_ERROR. */
    src = sqlite3_step(st);
    if (src != SQLITE_ROW) {
        rc = sq_fail(c, src, "ledger_totals", 0);
        goto cleanup;
    }
    t->users = sq_col_int(st, 0);
    t->wallets = sq_col_int(st, 1);
    t->plan_credits = sq_col_int(st, 2);
    t->paid_credits = sq_col_int(st, 3);
    t->entries = sq_col_int(st, 4);
    sq_done(st);

    st = sq_stmt(c, SQL_TOTALS_BY_KIND);
    if (st == NULL) {
        rc = STORE_ERROR;
        goto cleanup;
    }
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        int k = name ? sq_kind_parse(name) : -1;
        if (k < 0)
            continue; /* the CHECK constraint makes this impossible */
        t->entries_by_kind[k] = sq_col_int(st, 1);
        t->delta_by_kind[k] = sq_col_int(st, 2);
    }
    if (src != SQLITE_DONE)
        rc = sq_fail(c, src, "ledger_totals", 0);

cleanup:
    sq_done(st);
    return rc;
}

enum store_rc sq_ledger_totals(struct store *s, struct ledger_totals *out)
{
    /* One read transaction: the counts and sums describe the same instant. */
    return sq_run((struct sq *)s, SQ_READ, "ledger_totals", totals_run, out);
}

/* ---- invariant check ---- */

struct violation {
    char user_id[TG_ID_MAX];
    char *what;
};

struct check_args {
    struct violation *v; /* collected, reported after the snapshot is closed */
    size_t n, cap;
    int64_t wallets;
};

static void check_reset(struct check_args *a)
{
    for (size_t i = 0; i < a->n; i++)
        free(a->v[i].what);
    free(a->v);
    a->v = NULL;
    a->n = a->cap = 0;
    a->wallets = 0;
}

static void check_report(struct check_args *a, const char *user_id, char *what_owned)
{
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 16;
        a->v = xrealloc(a->v, a->cap * sizeof *a->v);
    }
    snprintf(a->v[a->n].user_id, TG_ID_MAX, "%s", user_id ? user_id : "");
    a->v[a->n].what = what_owned;
    a->n++;
}

/* Per-bucket state of the walk through one user's entries in commit order. */
struct bucket_walk {
    const char *name;
    int64_t sum;   /* plain sum of deltas, compared with the wallet */
    int64_t chain; /* expected balance_after; re-synced after a break so one bad row is one report */
    int overflow;
};

static void check_entry(struct check_args *a, const char *user_id, struct bucket_walk *b, const char *id,
                        int64_t delta, int64_t balance_after)
{
    if (!b->overflow) {
        if (__builtin_add_overflow(b->sum, delta, &b->sum)) {
            b->overflow = 1;
            check_report(a, user_id, xasprintf("%s: sum of deltas overflows int64 at %s", b->name, id));
        }
    }
    int64_t expect;
    if (__builtin_add_overflow(b->chain, delta, &expect) || expect != balance_after)
        check_report(a, user_id,
                     xasprintf("%s: balance_after chain broken at %s: previous %lld + delta %lld != %lld",
                               b->name, id, (long long)b->chain, (long long)delta, (long long)balance_after));
    if (balance_after < 0)
        check_report(
            a, user_id,
            xasprintf("%s: negative balance_after %lld at %s", b->name, (long long)balance_after, id));
    b->chain = balance_after;
}

/* Walks user_id's entries and compares them with the wallet's balances. */
static enum store_rc check_user(struct sq *c, struct check_args *a, const char *user_id, int64_t plan,
                                int64_t paid)
{
    enum store_rc rc = STORE_OK;
    struct bucket_walk bw[2] = {{"plan", 0, 0, 0}, {"paid", 0, 0, 0}};
    char id[TG_ID_MAX], bucket[8];
    int src;
    sqlite3_stmt *st = sq_stmt(c, SQL_CHECK_ENTRIES);
    if (st == NULL)
        return STORE_ERROR;
    sq_bind_text(st, 1, user_id);
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        if (sq_col_text(st, 0, id, sizeof id) < 0 || sq_col_text(st, 1, bucket, sizeof bucket) < 0) {
            check_report(a, user_id, xstrdup("ledger entry with an oversized id or bucket"));
            continue;
        }
        struct bucket_walk *b = strcmp(bucket, "plan") == 0 ? &bw[0] : &bw[1];
        check_entry(a, user_id, b, id, sq_col_int(st, 2), sq_col_int(st, 3));
    }
    if (src != SQLITE_DONE) {
        rc = sq_fail(c, src, "ledger_check", 0);
        goto cleanup;
    }
    int64_t bal[2] = {plan, paid};
    for (int i = 0; i < 2; i++) {
        if (bal[i] < 0)
            check_report(a, user_id, xasprintf("%s: negative balance %lld", bw[i].name, (long long)bal[i]));
        if (!bw[i].overflow && bw[i].sum != bal[i])
            check_report(a, user_id,
                         xasprintf("%s: balance %lld != sum of ledger deltas %lld", bw[i].name,
                                   (long long)bal[i], (long long)bw[i].sum));
    }

cleanup:
    sq_done(st);
    return rc;
}

/* Runs a SELECT DISTINCT user_id query and reports each row with `what`. */
static enum store_rc check_orphans(struct sq *c, struct check_args *a, const char *sql, const char *what)
{
    enum store_rc rc = STORE_OK;
    char uid[TG_ID_MAX];
    int src;
    sqlite3_stmt *st = sq_stmt(c, sql);
    if (st == NULL)
        return STORE_ERROR;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        if (sq_col_text(st, 0, uid, sizeof uid) < 0)
            snprintf(uid, sizeof uid, "(oversized id)");
        check_report(a, uid, xstrdup(what));
    }
    if (src != SQLITE_DONE)
        rc = sq_fail(c, src, "ledger_check", 0);
    sq_done(st);
    return rc;
}

static enum store_rc check_run(struct sq *c, void *arg)
{
    struct check_args *a = arg;
    enum store_rc rc = STORE_OK;
    char uid[TG_ID_MAX];
    int src;

    check_reset(a); /* a retried attempt starts over */
    sqlite3_stmt *st = sq_stmt(c, SQL_CHECK_WALLETS);
    if (st == NULL)
        return STORE_ERROR;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        a->wallets++;
        if (sq_col_text(st, 0, uid, sizeof uid) < 0) {
            check_report(a, "", xstrdup("wallet with an oversized user id"));
            continue;
        }
        if (sqlite3_column_int(st, 3) == 0)
            check_report(a, uid, xstrdup("wallet belongs to a missing user"));
        rc = check_user(c, a, uid, sq_col_int(st, 1), sq_col_int(st, 2));
        if (rc != STORE_OK)
            goto cleanup;
    }
    if (src != SQLITE_DONE) {
        rc = sq_fail(c, src, "ledger_check", 0);
        goto cleanup;
    }
    sq_done(st);
    st = NULL;
    rc = check_orphans(c, a, SQL_CHECK_ORPHAN_USER, "ledger entries belong to a missing user");
    if (rc == STORE_OK)
        rc = check_orphans(c, a, SQL_CHECK_ORPHAN_WALLET, "ledger entries for a user without a wallet");

cleanup:
    sq_done(st);
    return rc;
}

enum store_rc sq_ledger_check(struct store *s, store_violation_fn fn, void *arg, int64_t *violations,
                              int64_t *wallets_checked)
{
    struct check_args a = {0};
    *violations = 0;
    *wallets_checked = 0;
    /* BEGIN DEFERRED + the first SELECT pin one snapshot (WAL): concurrent debits cannot
     * make a consistent database look inconsistent half way through the walk. */
    enum store_rc rc = sq_run((struct sq *)s, SQ_READ, "ledger_check", check_run, &a);
    if (rc == STORE_OK) {
        for (size_t i = 0; i < a.n; i++)
            if (fn != NULL)
                fn(arg, a.v[i].user_id, a.v[i].what);
        *violations = (int64_t)a.n;
        *wallets_checked = a.wallets;
    }
    check_reset(&a);
    return rc;
}
