/*
 * refunds.c - refunds of paid orders (migration 0005). Storage only: how much may be
 * refunded and which credits go back is decided in domain/refunds.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "store/sqlite/sq.h"

#define REFUND_COLS                                                                                         \
    "id, order_id, user_id, amount, currency, credits, shortfall, status, reason, provider_refund_id, "    \
    "actor_id, created_at, updated_at"

static const char SQL_REFUND_INSERT[] =
    "INSERT INTO refunds(" REFUND_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)";
static const char SQL_REFUND_BY_ID[] = "SELECT " REFUND_COLS " FROM refunds WHERE id = ?1";
static const char SQL_REFUND_BY_PROVIDER[] =
    "SELECT " REFUND_COLS " FROM refunds WHERE order_id = ?1 AND provider_refund_id = ?2";
static const char SQL_REFUND_LIST[] = "SELECT " REFUND_COLS " FROM refunds WHERE order_id = ?1 ORDER BY id";
static const char SQL_REFUNDS_PENDING[] = "SELECT " REFUND_COLS " FROM refunds WHERE status = 'pending'"
                                          " AND updated_at <= ?1 ORDER BY updated_at LIMIT ?2";
static const char SQL_REFUND_UPDATE[] =
    "UPDATE refunds SET status = ?3, provider_refund_id = COALESCE(?4, provider_refund_id), updated_at = ?5,"
    " credits = COALESCE(?6, credits), shortfall = COALESCE(?7, shortfall) WHERE id = ?1 AND status = ?2";
static const char SQL_REFUND_EXISTS[] = "SELECT 1 FROM refunds WHERE id = ?1";

static int refund_read(sqlite3_stmt *st, struct refund *r)
{
    memset(r, 0, sizeof *r);
    if (sq_col_text(st, 0, r->id, sizeof r->id) < 0 || sq_col_text(st, 1, r->order_id, sizeof r->order_id) < 0 ||
        sq_col_text(st, 2, r->user_id, sizeof r->user_id) < 0 ||
        sq_col_text(st, 4, r->currency, sizeof r->currency) < 0 ||
        sq_col_text(st, 7, r->status, sizeof r->status) < 0 || sq_col_text(st, 8, r->reason, sizeof r->reason) < 0 ||
        sq_col_text(st, 9, r->provider_refund_id, sizeof r->provider_refund_id) < 0 ||
        sq_col_text(st, 10, r->actor_id, sizeof r->actor_id) < 0)
        return -1;
    r->amount = sq_col_int(st, 3);
    r->credits = sq_col_int(st, 5);
    r->shortfall = sq_col_int(st, 6);
    r->created_at = sq_col_int(st, 11);
    r->updated_at = sq_col_int(st, 12);
    return 0;
}

static enum store_rc refund_insert_tx(struct sq *c, void *arg)
{
    const struct refund *r = arg;
    enum store_rc rc = STORE_OK;
    sqlite3_stmt *st = sq_stmt(c, SQL_REFUND_INSERT);
    if (st == NULL)
        return STORE_ERROR;
    sq_bind_text(st, 1, r->id);
    sq_bind_text(st, 2, r->order_id);
    sq_bind_text(st, 3, r->user_id);
    sqlite3_bind_int64(st, 4, r->amount);
    sq_bind_text(st, 5, r->currency);
    sqlite3_bind_int64(st, 6, r->credits);
    sqlite3_bind_int64(st, 7, r->shortfall);
    sq_bind_text(st, 8, r->status);
    sq_bind_text(st, 9, r->reason);
    sq_bind_text_or_null(st, 10, r->provider_refund_id);
    sq_bind_text_or_null(st, 11, r->actor_id);
    sqlite3_bind_int64(st, 12, r->created_at);
    sqlite3_bind_int64(st, 13, r->updated_at ? r->updated_at : r->created_at);
    int src = sqlite3_step(st);
    if (src != SQLITE_DONE)
        rc = sq_fail(c, src, "refund_insert", 1);
    sq_done(st);
    return rc;
}

enum store_rc sq_refund_insert(struct store *s, const struct refund *r)
{
    if (!sq_fits(r->id, sizeof r->id) || !r->id[0] || !sq_fits(r->order_id, sizeof r->order_id) ||
        !sq_fits(r->user_id, sizeof r->user_id) || !sq_fits(r->currency, sizeof r->currency) ||
        !sq_fits(r->status, sizeof r->status) || !sq_fits(r->reason, sizeof r->reason) ||
        !sq_fits(r->provider_refund_id, sizeof r->provider_refund_id) || !sq_fits(r->actor_id, sizeof r->actor_id)) {
        sq_log_error("refund_insert", "refund field unterminated or empty");
        return STORE_ERROR;
    }
    return sq_run((struct sq *)s, SQ_WRITE, "refund_insert", refund_insert_tx, (void *)(uintptr_t)r);
}

/* sq_row_tx's reader of one refund row. */
static int refund_read_row(sqlite3_stmt *st, void *out) { return refund_read(st, out); }

enum store_rc sq_refund_get(struct store *s, const char *id, struct refund *out)
{
    struct sq_row_args a = {SQL_REFUND_BY_ID, id, NULL, refund_read_row, out, "refund_get"};
    return sq_run((struct sq *)s, SQ_AUTOCOMMIT, "refund_get", sq_row_tx, &a);
}

enum store_rc sq_refund_get_by_provider(struct store *s, const char *order_id, const char *provider_refund_id,
                                        struct refund *out)
{
    struct sq_row_args a = {SQL_REFUND_BY_PROVIDER, order_id, provider_refund_id, refund_read_row, out, "refund_get_by_provider"};
    return sq_run((struct sq *)s, SQ_AUTOCOMMIT, "refund_get_by_provider", sq_row_tx, &a);
}

struct refund_update_args {
    const char *id, *from, *to, *prid;
    int64_t credits, shortfall, now;
};

static enum store_rc refund_update_tx(struct sq *c, void *arg)
{
    struct refund_update_args *a = arg;
    enum store_rc rc = STORE_OK;
    sqlite3_stmt *st = sq_stmt(c, SQL_REFUND_UPDATE);
    if (st == NULL)
        return STORE_ERROR;
    sq_bind_text(st, 1, a->id);
    sq_bind_text(st, 2, a->from);
    sq_bind_text(st, 3, a->to);
    sq_bind_text_or_null(st, 4, a->prid);
    sqlite3_bind_int64(st, 5, a->now);
    if (a->credits >= 0) {
        sqlite3_bind_int64(st, 6, a->credits);
        sqlite3_bind_int64(st, 7, a->shortfall);
    }
    int src = sqlite3_step(st);
    int changed = src == SQLITE_DONE && sqlite3_changes(c->db) > 0;
    if (src != SQLITE_DONE)
        rc = sq_fail(c, src, "refund_update", 1);
    sq_done(st);
    if (rc != STORE_OK || changed)
        return rc;
    st = sq_stmt(c, SQL_REFUND_EXISTS);
    if (st == NULL)
        return STORE_ERROR;
    sq_bind_text(st, 1, a->id);
    src = sqlite3_step(st);
    rc = src == SQLITE_ROW ? STORE_CONFLICT : src == SQLITE_DONE ? STORE_NOTFOUND : sq_fail(c, src, "refund_update", 0);
    sq_done(st);
    return rc;
}

enum store_rc sq_refund_update(struct store *s, const char *id, const char *from, const char *to,
                               const char *provider_refund_id, int64_t credits, int64_t shortfall, int64_t now)
{
    struct refund r;
    if (provider_refund_id && !sq_fits(provider_refund_id, sizeof r.provider_refund_id)) {
        sq_log_error("refund_update", "provider refund id too long");
        return STORE_ERROR;
    }
    struct refund_update_args a = {id, from, to, provider_refund_id && provider_refund_id[0] ? provider_refund_id : NULL,
                                   credits, shortfall, now};
    return sq_run((struct sq *)s, SQ_WRITE, "refund_update", refund_update_tx, &a);
}

struct refund_list_args {
    const char *order_id; /* NULL: the pending ones */
    int64_t before;
    size_t limit;
    struct refund **out;
    size_t *n;
};

static enum store_rc refund_list_tx(struct sq *c, void *arg)
{
    struct refund_list_args *a = arg;
    enum store_rc rc = STORE_OK;
    size_t cap = 0;
    int src;
    free(*a->out);
    *a->out = NULL;
    *a->n = 0;
    sqlite3_stmt *st = sq_stmt(c, a->order_id ? SQL_REFUND_LIST : SQL_REFUNDS_PENDING);
    if (st == NULL)
        return STORE_ERROR;
    if (a->order_id) {
        sq_bind_text(st, 1, a->order_id);
    } else {
        sqlite3_bind_int64(st, 1, a->before);
        sqlite3_bind_int64(st, 2, a->limit > (size_t)INT64_MAX ? INT64_MAX : (int64_t)a->limit);
    }
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        if (*a->n == cap) {
            cap = cap ? cap * 2 : 4;
            *a->out = xrealloc(*a->out, cap * sizeof **a->out);
        }
        if (refund_read(st, &(*a->out)[*a->n]) < 0) {
            sq_log_error("refund_list", "stored refund malformed");
            rc = STORE_ERROR;
            break;
        }
        (*a->n)++;
    }
    if (rc == STORE_OK && src != SQLITE_DONE)
        rc = sq_fail(c, src, "refund_list", 0);
    sq_done(st);
    return rc;
}

enum store_rc sq_refund_list(struct store *s, const char *order_id, struct refund **out, size_t *n)
{
    struct refund_list_args a = {order_id, 0, 0, out, n};
    return sq_run((struct sq *)s, SQ_AUTOCOMMIT, "refund_list", refund_list_tx, &a);
}

enum store_rc sq_refunds_pending(struct store *s, int64_t updated_before, size_t limit, struct refund **out,
                                 size_t *n)
{
    struct refund_list_args a = {NULL, updated_before, limit, out, n};
    return sq_run((struct sq *)s, SQ_AUTOCOMMIT, "refunds_pending", refund_list_tx, &a);
}
