/*
 * subscriptions.c - subscriptions to plans and the order each plan payment belongs to
 * (migration 0006). Storage only: when a period rolls, what a renewal grants and when a
 * subscription ends is decided in domain/subscriptions.c, which composes these with the
 * ledger in one transaction.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "store/sqlite/sq.h"

#define SUB_COLS                                                                                             \
    "id, user_id, plan, product, next_product, next_product_at, provider, provider_ref, status, "            \
    "cancel_at_period_end, credits_per_month, amount, currency, period_start, period_end, credit_index, "    \
    "credit_start, credit_end, credits_granted, reminded_for, next_due_at, order_id, created_at, updated_at, " \
    "ended_at"

static const char SQL_SUB_INSERT[] =
    "INSERT INTO subscriptions(" SUB_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14,"
    " ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25)";
/* Parameters as in the insert; id, user_id, order_id and created_at are not written. */
static const char SQL_SUB_UPDATE[] =
    "UPDATE subscriptions SET plan = ?3, product = ?4, next_product = ?5, next_product_at = ?6, provider = ?7,"
    " provider_ref = ?8, status = ?9, cancel_at_period_end = ?10, credits_per_month = ?11, amount = ?12,"
    " currency = ?13, period_start = ?14, period_end = ?15, credit_index = ?16, credit_start = ?17,"
    " credit_end = ?18, credits_granted = ?19, reminded_for = ?20, next_due_at = ?21, updated_at = ?24,"
    " ended_at = ?25 WHERE id = ?1";
static const char SQL_SUB_BY_ID[] = "SELECT " SUB_COLS " FROM subscriptions WHERE id = ?1";
static const char SQL_SUB_LIVE[] =
    "SELECT " SUB_COLS " FROM subscriptions WHERE user_id = ?1 AND status IN ('active', 'past_due')";
/* Ids are time-ordered, so the greatest id is the newest subscription. */
static const char SQL_SUB_LATEST[] =
    "SELECT " SUB_COLS " FROM subscriptions WHERE user_id = ?1 ORDER BY id DESC LIMIT 1";
static const char SQL_SUB_BY_REF[] = "SELECT " SUB_COLS " FROM subscriptions WHERE provider = ?1 AND provider_ref = ?2";
/* Written so that the partial index subscriptions_due answers it. */
static const char SQL_SUBS_DUE[] =
    "SELECT " SUB_COLS " FROM subscriptions WHERE status IN ('active', 'past_due') AND next_due_at IS NOT NULL"
    " AND next_due_at <= ?1 ORDER BY next_due_at, id LIMIT ?2";
/* Each filter is "any" when its parameter is NULL. */
static const char SQL_SUBS_SEARCH[] =
    "SELECT " SUB_COLS " FROM subscriptions WHERE (?1 IS NULL OR user_id = ?1) AND (?2 IS NULL OR status = ?2)"
    " AND (?3 IS NULL OR provider = ?3) AND (?4 IS NULL OR id < ?4) ORDER BY id DESC LIMIT ?5";
static const char SQL_ORDER_SET_SUB[] = "UPDATE orders SET subscription_id = ?2, updated_at = ?3 WHERE id = ?1";
static const char SQL_WALLET_PLAN_EXPIRY[] =
    "UPDATE wallets SET plan_expires_at = ?2, updated_at = ?3 WHERE user_id = ?1";

static int sub_read(sqlite3_stmt *st, struct subscription *s)
{
    memset(s, 0, sizeof *s);
    if (sq_col_text(st, 0, s->id, sizeof s->id) < 0 || sq_col_text(st, 1, s->user_id, sizeof s->user_id) < 0 ||
        sq_col_text(st, 2, s->plan, sizeof s->plan) < 0 || sq_col_text(st, 3, s->product, sizeof s->product) < 0 ||
        sq_col_text(st, 4, s->next_product, sizeof s->next_product) < 0 ||
        sq_col_text(st, 6, s->provider, sizeof s->provider) < 0 ||
        sq_col_text(st, 7, s->provider_ref, sizeof s->provider_ref) < 0 ||
        sq_col_text(st, 8, s->status, sizeof s->status) < 0 ||
        sq_col_text(st, 12, s->currency, sizeof s->currency) < 0 ||
        sq_col_text(st, 21, s->order_id, sizeof s->order_id) < 0)
        return -1;
    s->next_product_at = sq_col_int(st, 5);
    s->cancel_at_period_end = sq_col_int(st, 9) != 0;
    s->credits_per_month = sq_col_int(st, 10);
    s->amount = sq_col_int(st, 11);
    s->period_start = sq_col_int(st, 13);
    s->period_end = sq_col_int(st, 14);
    s->credit_index = sq_col_int(st, 15);
    s->credit_start = sq_col_int(st, 16);
    s->credit_end = sq_col_int(st, 17);
    s->credits_granted = sq_col_int(st, 18);
    s->reminded_for = sq_col_int(st, 19);
    s->next_due_at = sq_col_int(st, 20);
    s->created_at = sq_col_int(st, 22);
    s->updated_at = sq_col_int(st, 23);
    s->ended_at = sq_col_int(st, 24);
    return 0;
}

static int sub_fields_ok(const struct subscription *s)
{
    return sq_fits(s->id, sizeof s->id) && s->id[0] && sq_fits(s->user_id, sizeof s->user_id) &&
           sq_fits(s->plan, sizeof s->plan) && sq_fits(s->product, sizeof s->product) &&
           sq_fits(s->next_product, sizeof s->next_product) && sq_fits(s->provider, sizeof s->provider) &&
           sq_fits(s->provider_ref, sizeof s->provider_ref) && sq_fits(s->status, sizeof s->status) &&
           sq_fits(s->currency, sizeof s->currency) && sq_fits(s->order_id, sizeof s->order_id);
}

/* Binds every column in SUB_COLS order to ?1..?25. */
static void sub_bind(sqlite3_stmt *st, const struct subscription *s)
{
    sq_bind_text(st, 1, s->id);
    sq_bind_text(st, 2, s->user_id);
    sq_bind_text(st, 3, s->plan);
    sq_bind_text(st, 4, s->product);
    sq_bind_text_or_null(st, 5, s->next_product);
    sq_bind_time(st, 6, s->next_product_at);
    sq_bind_text(st, 7, s->provider);
    sq_bind_text_or_null(st, 8, s->provider_ref);
    sq_bind_text(st, 9, s->status);
    sqlite3_bind_int64(st, 10, s->cancel_at_period_end ? 1 : 0);
    sqlite3_bind_int64(st, 11, s->credits_per_month);
    sqlite3_bind_int64(st, 12, s->amount);
    sq_bind_text(st, 13, s->currency);
    sqlite3_bind_int64(st, 14, s->period_start);
    sqlite3_bind_int64(st, 15, s->period_end);
    sqlite3_bind_int64(st, 16, s->credit_index);
    sq_bind_time(st, 17, s->credit_start);
    sq_bind_time(st, 18, s->credit_end);
    sqlite3_bind_int64(st, 19, s->credits_granted);
    sq_bind_time(st, 20, s->reminded_for);
    sq_bind_time(st, 21, s->next_due_at);
    sq_bind_text_or_null(st, 22, s->order_id);
    sqlite3_bind_int64(st, 23, s->created_at);
    sqlite3_bind_int64(st, 24, s->updated_at ? s->updated_at : s->created_at);
    sq_bind_time(st, 25, s->ended_at);
}

static enum store_rc sub_insert_tx(struct sq *c, void *arg)
{
    const struct subscription *s = arg;
    sqlite3_stmt *st = sq_stmt(c, SQL_SUB_INSERT);
    if (st == NULL)
        return STORE_ERROR;
    sub_bind(st, s);
    return sq_exec(c, st, "sub_insert", 1, STORE_OK);
}

enum store_rc sq_sub_insert(struct store *s, const struct subscription *sub)
{
    if (!sub_fields_ok(sub)) {
        sq_log_error("sub_insert", "subscription field unterminated or empty");
        return STORE_ERROR;
    }
    return sq_run((struct sq *)s, SQ_WRITE, "sub_insert", sub_insert_tx, (void *)(uintptr_t)sub);
}

static enum store_rc sub_update_tx(struct sq *c, void *arg)
{
    const struct subscription *s = arg;
    sqlite3_stmt *st = sq_stmt(c, SQL_SUB_UPDATE);
    if (st == NULL)
        return STORE_ERROR;
    sub_bind(st, s);
    return sq_exec(c, st, "sub_update", 1, STORE_NOTFOUND);
}

enum store_rc sq_sub_update(struct store *s, const struct subscription *sub)
{
    if (!sub_fields_ok(sub)) {
        sq_log_error("sub_update", "subscription field unterminated or empty");
        return STORE_ERROR;
    }
    return sq_run((struct sq *)s, SQ_WRITE, "sub_update", sub_update_tx, (void *)(uintptr_t)sub);
}

/* sq_row_tx's reader of one subscription row. */
static int sub_read_row(sqlite3_stmt *st, void *out) { return sub_read(st, out); }

enum store_rc sq_sub_get(struct store *s, const char *id, struct subscription *out)
{
    struct sq_row_args a = {SQL_SUB_BY_ID, id, NULL, sub_read_row, out, "sub_get"};
    return sq_run((struct sq *)s, SQ_AUTOCOMMIT, "sub_get", sq_row_tx, &a);
}

enum store_rc sq_sub_get_live(struct store *s, const char *user_id, struct subscription *out)
{
    struct sq_row_args a = {SQL_SUB_LIVE, user_id, NULL, sub_read_row, out, "sub_get_live"};
    return sq_run((struct sq *)s, SQ_AUTOCOMMIT, "sub_get_live", sq_row_tx, &a);
}

enum store_rc sq_sub_get_latest(struct store *s, const char *user_id, struct subscription *out)
{
    struct sq_row_args a = {SQL_SUB_LATEST, user_id, NULL, sub_read_row, out, "sub_get_latest"};
    return sq_run((struct sq *)s, SQ_AUTOCOMMIT, "sub_get_latest", sq_row_tx, &a);
}

enum store_rc sq_sub_get_by_ref(struct store *s, const char *provider, const char *ref, struct subscription *out)
{
    struct sq_row_args a = {SQL_SUB_BY_REF, provider, ref, sub_read_row, out, "sub_get_by_ref"};
    return sq_run((struct sq *)s, SQ_AUTOCOMMIT, "sub_get_by_ref", sq_row_tx, &a);
}

struct sub_list_args {
    const char *sql;
    const struct subscription_filter *f; /* NULL: the due query */
    const char *before_id;
    int64_t now;
    size_t limit;
    struct subscription **out;
    size_t *n;
};

static enum store_rc sub_list_tx(struct sq *c, void *arg)
{
    struct sub_list_args *a = arg;
    int64_t lim = a->limit > (size_t)INT64_MAX ? INT64_MAX : (int64_t)a->limit;
    free(*a->out);
    *a->out = NULL;
    *a->n = 0;
    sqlite3_stmt *st = sq_stmt(c, a->sql);
    if (st == NULL)
        return STORE_ERROR;
    if (a->f != NULL) {
        sq_bind_text_or_null(st, 1, a->f->user_id);
        sq_bind_text_or_null(st, 2, a->f->status);
        sq_bind_text_or_null(st, 3, a->f->provider);
        sq_bind_text_or_null(st, 4, a->before_id);
        sqlite3_bind_int64(st, 5, lim);
    } else {
        sqlite3_bind_int64(st, 1, a->now);
        sqlite3_bind_int64(st, 2, lim);
    }
    void *rows = NULL;
    enum store_rc rc = sq_rows(c, st, sizeof **a->out, sub_read_row, &rows, a->n, "sub_list");
    *a->out = rows;
    return rc;
}

enum store_rc sq_subs_due(struct store *s, int64_t now, size_t limit, struct subscription **out, size_t *n)
{
    struct sub_list_args a = {SQL_SUBS_DUE, NULL, NULL, now, limit, out, n};
    return sq_run((struct sq *)s, SQ_AUTOCOMMIT, "subs_due", sub_list_tx, &a);
}

enum store_rc sq_sub_search(struct store *s, const struct subscription_filter *f, const char *before_id,
                            size_t limit, struct subscription **out, size_t *n)
{
    static const struct subscription_filter any = {0};
    struct sub_list_args a = {SQL_SUBS_SEARCH, f ? f : &any, before_id, 0, limit, out, n};
    return sq_run((struct sq *)s, SQ_AUTOCOMMIT, "sub_search", sub_list_tx, &a);
}

struct order_sub_args {
    const char *order_id, *sub_id;
    int64_t now;
};

static enum store_rc order_sub_tx(struct sq *c, void *arg)
{
    struct order_sub_args *a = arg;
    sqlite3_stmt *st = sq_stmt(c, SQL_ORDER_SET_SUB);
    if (st == NULL)
        return STORE_ERROR;
    sq_bind_text(st, 1, a->order_id);
    sq_bind_text_or_null(st, 2, a->sub_id);
    sqlite3_bind_int64(st, 3, a->now);
    return sq_exec(c, st, "order_set_subscription", 0, STORE_NOTFOUND);
}

enum store_rc sq_order_set_subscription(struct store *s, const char *order_id, const char *sub_id, int64_t now)
{
    struct order o;
    if (sub_id && !sq_fits(sub_id, sizeof o.subscription_id)) {
        sq_log_error("order_set_subscription", "subscription id too long");
        return STORE_ERROR;
    }
    struct order_sub_args a = {order_id, sub_id, now};
    return sq_run((struct sq *)s, SQ_WRITE, "order_set_subscription", order_sub_tx, &a);
}

/* ---- the audit ---- */

/* Each query reports in (user, what) order, so two audits of the same data read the same. */

/* Wallets holding plan credits with no expiry, or past it by more than the grace (?1 is the
 * latest expiry still within it). */
static const char SQL_CHECK_PLAN_EXPIRED[] =
    "SELECT user_id, CASE WHEN plan_expires_at IS NULL THEN 'no expiry' ELSE 'expired at ' || plan_expires_at END"
    " FROM wallets WHERE plan_credits > 0 AND (plan_expires_at IS NULL OR plan_expires_at < ?1) ORDER BY 1";
/* Live subscriptions whose credit period ended more than the grace ago: the job did not roll
 * them. */
static const char SQL_CHECK_CREDIT_PERIOD[] =
    "SELECT user_id, id FROM subscriptions WHERE status IN ('active', 'past_due') AND ("
    /* an open credit period that ended */
    " (credit_end > credit_start AND credit_end < ?1)"
    /* a closed one with paid time left and none opened after it */
    " OR (status = 'active' AND credit_end = credit_start AND credit_end < period_end AND credit_end < ?1)"
    /* a paid period over that nothing will renew: it should have ended. (One the provider
     * renews waits for the provider's notice, however late.) */
    " OR ((provider_ref IS NULL OR cancel_at_period_end = 1) AND period_end < ?1)"
    ") ORDER BY 1, 2";
/* Plan entries that name no subscription of their user (ref_id is '<sub_id>:<n>' or
 * '<sub_id>:<n>:<product>'). */
static const char SQL_CHECK_ENTRY_NO_SUB[] =
    "SELECT l.user_id, l.kind || ' ' || l.ref_id FROM ledger l WHERE l.kind IN ('plan_grant', 'plan_expire')"
    " AND l.ref_type = 'subscription' AND NOT EXISTS (SELECT 1 FROM subscriptions s WHERE s.user_id = l.user_id"
    " AND s.id = CASE WHEN instr(l.ref_id, ':') > 0 THEN substr(l.ref_id, 1, instr(l.ref_id, ':') - 1)"
    " ELSE l.ref_id END) ORDER BY 1, 2";
/* Paid (or refunded) plan orders that no subscription accounts for. */
static const char SQL_CHECK_ORDER_NO_SUB[] =
    "SELECT o.user_id, o.id FROM orders o WHERE o.kind = 'plan'"
    " AND o.status IN ('paid', 'refunded', 'partially_refunded') AND o.subscription_id IS NULL ORDER BY 1, 2";

struct subs_check_args {
    int64_t cutoff;
    struct sq_violations v;
};

static enum store_rc subs_check_run(struct sq *c, void *arg)
{
    struct subs_check_args *a = arg;
    struct sq_violations *v = &a->v;
    sq_violations_reset(v); /* a retried attempt starts over */
    enum store_rc rc =
        sq_violations_query(c, v, SQL_CHECK_PLAN_EXPIRED, &a->cutoff, "plan credits outlive their period");
    if (rc == STORE_OK)
        rc = sq_violations_query(c, v, SQL_CHECK_CREDIT_PERIOD, &a->cutoff,
                                 "a live subscription whose credit period was not rolled");
    if (rc == STORE_OK)
        rc = sq_violations_query(c, v, SQL_CHECK_ENTRY_NO_SUB, NULL, "a plan entry without its user's subscription");
    if (rc == STORE_OK)
        rc = sq_violations_query(c, v, SQL_CHECK_ORDER_NO_SUB, NULL, "a paid plan order without a subscription");
    return rc;
}

enum store_rc sq_subs_check(struct store *s, int64_t now, store_violation_fn fn, void *arg, int64_t *violations)
{
    struct subs_check_args a = {.cutoff = now - STORE_SUBS_AUDIT_GRACE_MS};
    enum store_rc rc = sq_run((struct sq *)s, SQ_READ, "subs_check", subs_check_run, &a);
    if (rc == STORE_OK)
        sq_violations_report(&a.v, fn, arg, violations);
    sq_violations_reset(&a.v);
    return rc;
}

struct wallet_expiry_args {
    const char *user_id;
    int64_t expires_at, now;
};

static enum store_rc wallet_expiry_tx(struct sq *c, void *arg)
{
    struct wallet_expiry_args *a = arg;
    sqlite3_stmt *st = sq_stmt(c, SQL_WALLET_PLAN_EXPIRY);
    if (st == NULL)
        return STORE_ERROR;
    sq_bind_text(st, 1, a->user_id);
    sqlite3_bind_int64(st, 2, a->expires_at);
    sqlite3_bind_int64(st, 3, a->now);
    return sq_exec(c, st, "wallet_set_plan_expiry", 0, STORE_NOTFOUND);
}

enum store_rc sq_wallet_set_plan_expiry(struct store *s, const char *user_id, int64_t expires_at, int64_t now)
{
    struct wallet_expiry_args a = {user_id, expires_at, now};
    return sq_run((struct sq *)s, SQ_WRITE, "wallet_set_plan_expiry", wallet_expiry_tx, &a);
}
