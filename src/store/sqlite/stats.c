/*
 * stats.c - the administrator's reads over whole tables (migration 0008): the user search
 * and the grouped counts behind GET /api/v1/admin/stats. Storage only: what counts as an
 * active user, which region a row belongs to and how percentiles are taken is decided in
 * domain/stats.c; these queries group stored values and return them as they are.
 *
 * Each statistics query walks one covering index of 0008 over a time range (EXPLAIN QUERY
 * PLAN checked in tests/store/test_stats.c) and groups in SQLite, so what comes back is a
 * few rows per day, not a row per user or task - except the latencies, which the exact
 * percentiles need one by one and which are therefore capped by the caller.
 */
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "store/sqlite/sq.h"

/* ---- user search ---- */

/* q matches an id exactly or a substring of the email or display name; LIKE is
 * case-insensitive for ASCII, and its wildcards in q are escaped with '\' (?2 is the
 * escaped pattern). Newest first by id (time-ordered): the primary key's index, walked
 * backwards from the cursor, stops after LIMIT matches. */
static const char SQL_USER_SEARCH[] =
    "SELECT " SQ_USER_COLS ", coalesce(w.plan_credits, 0), coalesce(w.paid_credits, 0), w.plan_expires_at,"
    " coalesce(w.updated_at, 0), w.user_id"
    " FROM users u LEFT JOIN wallets w ON w.user_id = u.id"
    " WHERE (?1 IS NULL OR u.id = ?1 OR u.email LIKE ?2 ESCAPE '\\' OR u.display_name LIKE ?2 ESCAPE '\\')"
    " AND (?3 IS NULL OR u.role = ?3) AND (?4 IS NULL OR u.disabled = ?4) AND (?5 IS NULL OR u.id < ?5)"
    " ORDER BY u.id DESC LIMIT ?6";
#define USER_SEARCH_NCOLS 13 /* SQ_USER_COLS */

struct user_row {
    struct user u;
    struct wallet w;
};

static int user_row_read(sqlite3_stmt *st, void *out)
{
    struct user_row *row = out;
    memset(&row->w, 0, sizeof row->w);
    if (sq_read_user(st, 0, &row->u) < 0 || sq_col_text(st, USER_SEARCH_NCOLS + 4, row->w.user_id,
                                                        sizeof row->w.user_id) < 0)
        return -1;
    row->w.plan_credits = sq_col_int(st, USER_SEARCH_NCOLS + 0);
    row->w.paid_credits = sq_col_int(st, USER_SEARCH_NCOLS + 1);
    row->w.plan_expires_at = sq_col_int(st, USER_SEARCH_NCOLS + 2);
    row->w.updated_at = sq_col_int(st, USER_SEARCH_NCOLS + 3);
    return 0;
}

/* "%q%" with '\', '%' and '_' escaped by '\'. Caller frees. */
static char *like_pattern(const char *q)
{
    size_t len = strlen(q);
    char *p = xmalloc(2 * len + 3), *o = p;
    *o++ = '%';
    for (const char *c = q; *c; c++) {
        if (*c == '\\' || *c == '%' || *c == '_')
            *o++ = '\\';
        *o++ = *c;
    }
    *o++ = '%';
    *o = '\0';
    return p;
}

struct user_search_args {
    const struct user_filter *f;
    const char *pattern;
    const char *before_id;
    size_t limit;
    struct user_row *rows;
    size_t n;
};

static enum store_rc user_search_tx(struct sq *c, void *arg)
{
    struct user_search_args *a = arg;
    free(a->rows);
    a->rows = NULL;
    a->n = 0;
    sqlite3_stmt *st = sq_stmt(c, SQL_USER_SEARCH);
    if (st == NULL)
        return STORE_ERROR;
    sq_bind_text_or_null(st, 1, a->f->q);
    sq_bind_text_or_null(st, 2, a->pattern);
    sq_bind_text_or_null(st, 3, a->f->role);
    if (a->f->disabled >= 0)
        sqlite3_bind_int(st, 4, a->f->disabled ? 1 : 0);
    sq_bind_text_or_null(st, 5, a->before_id);
    sqlite3_bind_int64(st, 6, a->limit > (size_t)INT64_MAX ? INT64_MAX : (int64_t)a->limit);
    void *rows = NULL;
    enum store_rc rc = sq_rows(c, st, sizeof *a->rows, user_row_read, &rows, &a->n, "user_search");
    a->rows = rows;
    return rc;
}

enum store_rc sq_user_search(struct store *s, const struct user_filter *f, const char *before_id, size_t limit,
                             struct user **users, struct wallet **wallets, size_t *n)
{
    static const struct user_filter any = {NULL, NULL, -1};
    const struct user_filter *ff = f ? f : &any;
    char *pattern = ff->q && ff->q[0] ? like_pattern(ff->q) : NULL;
    struct user_filter g = *ff;
    if (g.q && !g.q[0])
        g.q = NULL;
    struct user_search_args a = {&g, pattern, before_id && before_id[0] ? before_id : NULL, limit, NULL, 0};
    enum store_rc rc = sq_run((struct sq *)s, SQ_AUTOCOMMIT, "user_search", user_search_tx, &a);
    free(pattern);
    if (rc != STORE_OK || a.n == 0) {
        free(a.rows);
        return rc;
    }
    *users = xcalloc(a.n, sizeof **users);
    *wallets = xcalloc(a.n, sizeof **wallets);
    for (size_t i = 0; i < a.n; i++) {
        (*users)[i] = a.rows[i].u;
        (*wallets)[i] = a.rows[i].w;
    }
    *n = a.n;
    free(a.rows);
    return STORE_OK;
}

/* ---- statistics ---- */

/* ?1 from, ?2 to (exclusive), ?3 bucket width, all ms. */
static const char SQL_STATS_USERS[] =
    "SELECT coalesce(region, ''), coalesce(signup_region, ''), '', '',"
    " CASE WHEN created_at < ?1 THEN -1 ELSE (created_at - ?1) / ?3 END, count(*), 0"
    " FROM users WHERE created_at < ?2 GROUP BY 1, 2, 5";
/* ?4: the kinds (STORE_ACT_*). Each kind is a range scan of its own covering index; a user
 * active on a day counts once whatever they did, and once for the whole range. */
#define STATS_ACT_CTE                                                                                        \
    "WITH act(user_id, t) AS ("                                                                              \
    " SELECT user_id, created_at FROM tasks WHERE (?4 & 1) <> 0 AND created_at >= ?1 AND created_at < ?2"    \
    " UNION ALL"                                                                                             \
    " SELECT user_id, created_at FROM orders WHERE (?4 & 2) <> 0 AND created_at >= ?1 AND created_at < ?2"   \
    " UNION ALL"                                                                                             \
    " SELECT user_id, created_at FROM refresh_tokens WHERE (?4 & 4) <> 0 AND created_at >= ?1"               \
    " AND created_at < ?2) "
static const char SQL_STATS_ACTIVE[] =
    STATS_ACT_CTE
    "SELECT coalesce(u.region, ''), coalesce(u.signup_region, ''), '', '', d.b, count(*), 0"
    " FROM (SELECT DISTINCT user_id, (t - ?1) / ?3 AS b FROM act) d JOIN users u ON u.id = d.user_id"
    " GROUP BY 1, 2, 5"
    " UNION ALL "
    "SELECT coalesce(u.region, ''), coalesce(u.signup_region, ''), '', '', -1, count(*), 0"
    " FROM (SELECT DISTINCT user_id FROM act) d JOIN users u ON u.id = d.user_id GROUP BY 1, 2";
static const char SQL_STATS_ORDERS_PAID[] =
    "SELECT coalesce(region, ''), '', currency, '', (paid_at - ?1) / ?3, count(*), sum(amount)"
    " FROM orders WHERE paid_at >= ?1 AND paid_at < ?2 GROUP BY 1, 3, 5";
static const char SQL_STATS_REFUNDS[] =
    "SELECT coalesce(o.region, ''), '', r.currency, '', (r.updated_at - ?1) / ?3, count(*), sum(r.amount)"
    " FROM refunds r JOIN orders o ON o.id = r.order_id"
    " WHERE r.status = 'succeeded' AND r.updated_at >= ?1 AND r.updated_at < ?2 GROUP BY 1, 3, 5";
static const char SQL_STATS_TASKS[] =
    "SELECT coalesce(u.region, ''), coalesce(u.signup_region, ''), t.provider, t.status,"
    " (t.created_at - ?1) / ?3, count(*), 0"
    " FROM tasks t JOIN users u ON u.id = t.user_id WHERE t.created_at >= ?1 AND t.created_at < ?2"
    " GROUP BY 1, 2, 3, 4, 5";
/* ?3: the cap plus one, so that "more than the cap" is seen without counting first. */
static const char SQL_STATS_LATENCIES[] =
    "SELECT coalesce(u.region, ''), coalesce(u.signup_region, ''), t.provider, t.finished_at - t.submitted_at"
    " FROM tasks t JOIN users u ON u.id = t.user_id"
    " WHERE t.created_at >= ?1 AND t.created_at < ?2 AND t.status = 'succeeded' AND t.submitted_at IS NOT NULL"
    " LIMIT ?3";

static int stats_row_read(sqlite3_stmt *st, void *out)
{
    struct stats_row *row = out;
    memset(row, 0, sizeof *row);
    if (sq_col_text(st, 0, row->region, sizeof row->region) < 0 ||
        sq_col_text(st, 1, row->region2, sizeof row->region2) < 0 ||
        sq_col_text(st, 2, row->key, sizeof row->key) < 0 || sq_col_text(st, 3, row->status, sizeof row->status) < 0)
        return -1;
    row->bucket = sq_col_int(st, 4);
    row->count = sq_col_int(st, 5);
    row->sum = sq_col_int(st, 6);
    return 0;
}

struct stats_args {
    const char *sql;
    const char *op;
    int64_t from, to, bucket_ms;
    int64_t kinds; /* -1: the statement has no ?4 */
    struct stats_row **out;
    size_t *n;
};

static enum store_rc stats_tx(struct sq *c, void *arg)
{
    struct stats_args *a = arg;
    free(*a->out);
    *a->out = NULL;
    *a->n = 0;
    sqlite3_stmt *st = sq_stmt(c, a->sql);
    if (st == NULL)
        return STORE_ERROR;
    sqlite3_bind_int64(st, 1, a->from);
    sqlite3_bind_int64(st, 2, a->to);
    sqlite3_bind_int64(st, 3, a->bucket_ms);
    if (a->kinds >= 0)
        sqlite3_bind_int64(st, 4, a->kinds);
    void *rows = NULL;
    enum store_rc rc = sq_rows(c, st, sizeof **a->out, stats_row_read, &rows, a->n, a->op);
    *a->out = rows;
    return rc;
}

static enum store_rc stats_run(struct store *s, const char *sql, const char *op, int64_t from, int64_t to,
                               int64_t bucket_ms, int64_t kinds, struct stats_row **out, size_t *n)
{
    if (bucket_ms <= 0 || to < from) {
        sq_log_error(op, "empty or inverted range");
        return STORE_ERROR;
    }
    struct stats_args a = {sql, op, from, to, bucket_ms, kinds, out, n};
    /* SQ_READ: the compound statements read several tables from one snapshot. */
    return sq_run((struct sq *)s, SQ_READ, op, stats_tx, &a);
}

enum store_rc sq_stats_users(struct store *s, int64_t from, int64_t to, int64_t bucket_ms, struct stats_row **out,
                             size_t *n)
{
    return stats_run(s, SQL_STATS_USERS, "stats_users", from, to, bucket_ms, -1, out, n);
}

enum store_rc sq_stats_active(struct store *s, int64_t from, int64_t to, int64_t bucket_ms, unsigned kinds,
                              struct stats_row **out, size_t *n)
{
    return stats_run(s, SQL_STATS_ACTIVE, "stats_active", from, to, bucket_ms, (int64_t)(kinds & 7u), out, n);
}

enum store_rc sq_stats_orders_paid(struct store *s, int64_t from, int64_t to, int64_t bucket_ms,
                                   struct stats_row **out, size_t *n)
{
    return stats_run(s, SQL_STATS_ORDERS_PAID, "stats_orders_paid", from, to, bucket_ms, -1, out, n);
}

enum store_rc sq_stats_refunds(struct store *s, int64_t from, int64_t to, int64_t bucket_ms, struct stats_row **out,
                               size_t *n)
{
    return stats_run(s, SQL_STATS_REFUNDS, "stats_refunds", from, to, bucket_ms, -1, out, n);
}

enum store_rc sq_stats_tasks(struct store *s, int64_t from, int64_t to, int64_t bucket_ms, struct stats_row **out,
                             size_t *n)
{
    return stats_run(s, SQL_STATS_TASKS, "stats_tasks", from, to, bucket_ms, -1, out, n);
}

static int latency_read(sqlite3_stmt *st, void *out)
{
    struct stats_latency *l = out;
    memset(l, 0, sizeof *l);
    if (sq_col_text(st, 0, l->region, sizeof l->region) < 0 ||
        sq_col_text(st, 1, l->region2, sizeof l->region2) < 0 ||
        sq_col_text(st, 2, l->provider, sizeof l->provider) < 0)
        return -1;
    l->ms = sq_col_int(st, 3);
    return 0;
}

struct latency_args {
    int64_t from, to;
    size_t max;
    struct stats_latency **out;
    size_t *n;
};

static enum store_rc latency_tx(struct sq *c, void *arg)
{
    struct latency_args *a = arg;
    free(*a->out);
    *a->out = NULL;
    *a->n = 0;
    sqlite3_stmt *st = sq_stmt(c, SQL_STATS_LATENCIES);
    if (st == NULL)
        return STORE_ERROR;
    sqlite3_bind_int64(st, 1, a->from);
    sqlite3_bind_int64(st, 2, a->to);
    sqlite3_bind_int64(st, 3, a->max >= (size_t)INT64_MAX ? INT64_MAX : (int64_t)a->max + 1);
    void *rows = NULL;
    enum store_rc rc = sq_rows(c, st, sizeof **a->out, latency_read, &rows, a->n, "stats_latencies");
    *a->out = rows;
    if (rc == STORE_OK && *a->n > a->max) {
        free(*a->out);
        *a->out = NULL;
        *a->n = 0;
        return STORE_CONFLICT;
    }
    return rc;
}

enum store_rc sq_stats_latencies(struct store *s, int64_t from, int64_t to, size_t max, struct stats_latency **out,
                                 size_t *n)
{
    struct latency_args a = {from, to, max, out, n};
    return sq_run((struct sq *)s, SQ_AUTOCOMMIT, "stats_latencies", latency_tx, &a);
}

const char *sq_stats_sql(size_t i)
{
    static const char *const all[] = {SQL_USER_SEARCH,       SQL_STATS_USERS, SQL_STATS_ACTIVE,   SQL_STATS_ORDERS_PAID,
                                      SQL_STATS_REFUNDS,     SQL_STATS_TASKS, SQL_STATS_LATENCIES};
    return i < sizeof all / sizeof all[0] ? all[i] : NULL;
}
