/*
 * orders.c - orders, their checkout attempts, and the inbox of provider notifications
 * (migration 0004). Storage only: which notification fulfils which order, and when an order
 * may move on, is decided in domain/orders.c, which composes these in one transaction.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "store/sqlite/sq.h"

#define ORDER_COLS                                                                                          \
    "id, user_id, product, kind, credits, amount, currency, provider, provider_ref, status, region, "     \
    "checkout, refunded_amount, created_at, updated_at, paid_at, expires_at, return_url, channel, query_attempts, " \
    "next_query_at, subscription_id"

static const char SQL_ORDER_INSERT[] =
    "INSERT INTO orders(" ORDER_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15,"
    " ?16, ?17, ?18, ?19, ?20, ?21, ?22)";
static const char SQL_ORDER_BY_ID[] = "SELECT " ORDER_COLS " FROM orders WHERE id = ?1";
static const char SQL_ORDER_BY_REF[] = "SELECT " ORDER_COLS " FROM orders WHERE provider = ?1 AND provider_ref = ?2";
static const char SQL_ORDER_CHECKOUT[] =
    "UPDATE orders SET provider = ?2, provider_ref = ?3, checkout = ?4, updated_at = ?5"
    " WHERE id = ?1 AND status = 'pending'";
static const char SQL_ORDER_STATUS[] = "SELECT status FROM orders WHERE id = ?1";
static const char SQL_ORDER_MOVE[] =
    "UPDATE orders SET status = ?2, updated_at = ?3, paid_at = CASE WHEN ?2 = 'paid' THEN ?3 ELSE paid_at END"
    " WHERE id = ?1";
static const char SQL_ATTEMPT_INSERT[] =
    "INSERT INTO order_attempts(order_id, provider, outcome, detail, created_at) VALUES (?1, ?2, ?3, ?4, ?5)";
/* Each filter is "any" when its parameter is NULL; ids are time-ordered, so id order is
 * creation order. */
static const char SQL_ORDERS_SEARCH[] =
    "SELECT " ORDER_COLS " FROM orders WHERE (?1 IS NULL OR user_id = ?1) AND (?2 IS NULL OR status = ?2)"
    " AND (?3 IS NULL OR provider = ?3) AND (?4 IS NULL OR created_at >= ?4) AND (?5 IS NULL OR created_at < ?5)"
    " AND (?6 IS NULL OR id < ?6) ORDER BY id DESC LIMIT ?7";
static const char SQL_ORDERS_DUE[] =
    "SELECT " ORDER_COLS " FROM orders WHERE status = 'pending'"
    " AND ((next_query_at IS NOT NULL AND next_query_at <= ?1) OR expires_at <= ?1) ORDER BY created_at LIMIT ?2";
static const char SQL_ORDER_SCHEDULE[] =
    "UPDATE orders SET query_attempts = ?2, next_query_at = ?3, updated_at = ?4 WHERE id = ?1 AND status = 'pending'";
/* The sum stays within 0..amount and the status follows it, in one conditional statement. */
static const char SQL_ORDER_REFUND_ADD[] =
    "UPDATE orders SET refunded_amount = refunded_amount + ?2, updated_at = ?3,"
    " status = CASE WHEN refunded_amount + ?2 = amount THEN 'refunded'"
    "               WHEN refunded_amount + ?2 > 0 THEN 'partially_refunded' ELSE 'paid' END"
    " WHERE id = ?1 AND status IN ('paid', 'partially_refunded', 'refunded')"
    " AND refunded_amount + ?2 BETWEEN 0 AND amount";
static const char SQL_EVENT_INSERT[] = "INSERT INTO payment_events(provider, event_id, kind, order_id, amount, currency,"
                                       " outcome, received_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
static const char SQL_EVENT_GET[] = "SELECT provider, event_id, kind, order_id, amount, currency, outcome, received_at"
                                    " FROM payment_events WHERE provider = ?1 AND event_id = ?2";

static int order_read(sqlite3_stmt *st, struct order *o)
{
    memset(o, 0, sizeof *o);
    if (sq_col_text(st, 0, o->id, sizeof o->id) < 0 || sq_col_text(st, 1, o->user_id, sizeof o->user_id) < 0 ||
        sq_col_text(st, 2, o->product, sizeof o->product) < 0 || sq_col_text(st, 3, o->kind, sizeof o->kind) < 0 ||
        sq_col_text(st, 6, o->currency, sizeof o->currency) < 0 ||
        sq_col_text(st, 7, o->provider, sizeof o->provider) < 0 ||
        sq_col_text(st, 8, o->provider_ref, sizeof o->provider_ref) < 0 ||
        sq_col_text(st, 9, o->status, sizeof o->status) < 0 || sq_col_text(st, 10, o->region, sizeof o->region) < 0 ||
        sq_col_text(st, 11, o->checkout, sizeof o->checkout) < 0 ||
        sq_col_text(st, 17, o->return_url, sizeof o->return_url) < 0 ||
        sq_col_text(st, 18, o->channel, sizeof o->channel) < 0 ||
        sq_col_text(st, 21, o->subscription_id, sizeof o->subscription_id) < 0)
        return -1;
    o->credits = sq_col_int(st, 4);
    o->amount = sq_col_int(st, 5);
    o->refunded_amount = sq_col_int(st, 12);
    o->created_at = sq_col_int(st, 13);
    o->updated_at = sq_col_int(st, 14);
    o->paid_at = sq_col_int(st, 15);
    o->expires_at = sq_col_int(st, 16);
    o->query_attempts = sq_col_int(st, 19);
    o->next_query_at = sq_col_int(st, 20);
    return 0;
}

static int order_fields_ok(const struct order *o)
{
    return sq_fits(o->id, sizeof o->id) && o->id[0] && sq_fits(o->user_id, sizeof o->user_id) &&
           sq_fits(o->product, sizeof o->product) && o->product[0] && sq_fits(o->kind, sizeof o->kind) &&
           sq_fits(o->currency, sizeof o->currency) && sq_fits(o->provider, sizeof o->provider) &&
           sq_fits(o->provider_ref, sizeof o->provider_ref) && sq_fits(o->status, sizeof o->status) &&
           sq_fits(o->region, sizeof o->region) && sq_fits(o->checkout, sizeof o->checkout) &&
           sq_fits(o->return_url, sizeof o->return_url) && sq_fits(o->channel, sizeof o->channel) &&
           sq_fits(o->subscription_id, sizeof o->subscription_id);
}

static enum store_rc order_insert_tx(struct sq *c, void *arg)
{
    const struct order *o = arg;
    enum store_rc rc = STORE_OK;
    sqlite3_stmt *st = sq_stmt(c, SQL_ORDER_INSERT);
    if (st == NULL)
        return STORE_ERROR;
    sq_bind_text(st, 1, o->id);
    sq_bind_text(st, 2, o->user_id);
    sq_bind_text(st, 3, o->product);
    sq_bind_text(st, 4, o->kind);
    sqlite3_bind_int64(st, 5, o->credits);
    sqlite3_bind_int64(st, 6, o->amount);
    sq_bind_text(st, 7, o->currency);
    sq_bind_text(st, 8, o->provider);
    sq_bind_text_or_null(st, 9, o->provider_ref);
    sq_bind_text(st, 10, o->status[0] ? o->status : "pending");
    sq_bind_text_or_null(st, 11, o->region);
    sq_bind_text_or_null(st, 12, o->checkout);
    sqlite3_bind_int64(st, 13, o->refunded_amount);
    sqlite3_bind_int64(st, 14, o->created_at);
    sqlite3_bind_int64(st, 15, o->updated_at ? o->updated_at : o->created_at);
    if (o->paid_at)
        sqlite3_bind_int64(st, 16, o->paid_at);
    else
        sqlite3_bind_null(st, 16);
    sqlite3_bind_int64(st, 17, o->expires_at);
    sq_bind_text_or_null(st, 18, o->return_url);
    sq_bind_text_or_null(st, 19, o->channel);
    sqlite3_bind_int64(st, 20, o->query_attempts);
    if (o->next_query_at)
        sqlite3_bind_int64(st, 21, o->next_query_at);
    else
        sqlite3_bind_null(st, 21);
    sq_bind_text_or_null(st, 22, o->subscription_id);
    int src = sqlite3_step(st);
    if (src != SQLITE_DONE)
        rc = sq_fail(c, src, "order_insert", 1);
    sq_done(st);
    return rc;
}

enum store_rc sq_order_insert(struct store *s, const struct order *o)
{
    if (!order_fields_ok(o)) {
        sq_log_error("order_insert", "order field unterminated or empty");
        return STORE_ERROR;
    }
    return sq_run((struct sq *)s, SQ_WRITE, "order_insert", order_insert_tx, (void *)(uintptr_t)o);
}

/* sq_row_tx's reader of one order row. */
static int order_read_row(sqlite3_stmt *st, void *out) { return order_read(st, out); }

enum store_rc sq_order_get(struct store *s, const char *id, struct order *out)
{
    struct sq_row_args a = {SQL_ORDER_BY_ID, id, NULL, order_read_row, out, "order_get"};
    return sq_run((struct sq *)s, SQ_AUTOCOMMIT, "order_get", sq_row_tx, &a);
}

enum store_rc sq_order_get_by_ref(struct store *s, const char *provider, const char *ref, struct order *out)
{
    struct sq_row_args a = {SQL_ORDER_BY_REF, provider, ref, order_read_row, out, "order_get_by_ref"};
    return sq_run((struct sq *)s, SQ_AUTOCOMMIT, "order_get_by_ref", sq_row_tx, &a);
}

/* The order's status into buf: STORE_OK, NOTFOUND, or an error. */
static enum store_rc order_status_tx(struct sq *c, const char *id, char *buf, size_t cap, const char *op)
{
    enum store_rc rc = STORE_OK;
    sqlite3_stmt *st = sq_stmt(c, SQL_ORDER_STATUS);
    if (st == NULL)
        return STORE_ERROR;
    sq_bind_text(st, 1, id);
    int src = sqlite3_step(st);
    if (src == SQLITE_DONE)
        rc = STORE_NOTFOUND;
    else if (src != SQLITE_ROW)
        rc = sq_fail(c, src, op, 0);
    else if (sq_col_text(st, 0, buf, cap) < 0)
        rc = STORE_ERROR;
    sq_done(st);
    return rc;
}

struct order_change_args {
    const char *id, *provider, *ref, *checkout, *to;
    const char *const *from;
    int64_t now;
};

static enum store_rc order_checkout_tx(struct sq *c, void *arg)
{
    struct order_change_args *a = arg;
    enum store_rc rc = STORE_OK;
    sqlite3_stmt *st = sq_stmt(c, SQL_ORDER_CHECKOUT);
    if (st == NULL)
        return STORE_ERROR;
    sq_bind_text(st, 1, a->id);
    sq_bind_text(st, 2, a->provider);
    sq_bind_text_or_null(st, 3, a->ref);
    sq_bind_text_or_null(st, 4, a->checkout);
    sqlite3_bind_int64(st, 5, a->now);
    int src = sqlite3_step(st);
    int changed = src == SQLITE_DONE && sqlite3_changes(c->db) > 0;
    if (src != SQLITE_DONE)
        rc = sq_fail(c, src, "order_set_checkout", 1);
    sq_done(st);
    if (rc != STORE_OK || changed)
        return rc;
    char status[24];
    rc = order_status_tx(c, a->id, status, sizeof status, "order_set_checkout");
    return rc == STORE_OK ? STORE_CONFLICT : rc;
}

enum store_rc sq_order_set_checkout(struct store *s, const char *id, const char *provider, const char *ref,
                                    const char *checkout_json, int64_t now)
{
    struct order o;
    if (!sq_fits(provider, sizeof o.provider) || (ref && !sq_fits(ref, sizeof o.provider_ref)) ||
        (checkout_json && !sq_fits(checkout_json, sizeof o.checkout))) {
        sq_log_error("order_set_checkout", "field too long");
        return STORE_ERROR;
    }
    struct order_change_args a = {.id = id, .provider = provider, .ref = ref, .checkout = checkout_json, .now = now};
    return sq_run((struct sq *)s, SQ_WRITE, "order_set_checkout", order_checkout_tx, &a);
}

static enum store_rc order_move_tx(struct sq *c, void *arg)
{
    struct order_change_args *a = arg;
    char status[24];
    /* Read then write inside the one write transaction: nothing can change in between. */
    enum store_rc rc = order_status_tx(c, a->id, status, sizeof status, "order_transition");
    if (rc != STORE_OK)
        return rc;
    int allowed = 0;
    for (const char *const *f = a->from; *f != NULL; f++)
        allowed |= strcmp(*f, status) == 0;
    if (!allowed)
        return STORE_CONFLICT;
    sqlite3_stmt *st = sq_stmt(c, SQL_ORDER_MOVE);
    if (st == NULL)
        return STORE_ERROR;
    sq_bind_text(st, 1, a->id);
    sq_bind_text(st, 2, a->to);
    sqlite3_bind_int64(st, 3, a->now);
    int src = sqlite3_step(st);
    if (src != SQLITE_DONE)
        rc = sq_fail(c, src, "order_transition", 0);
    sq_done(st);
    return rc;
}

enum store_rc sq_order_transition(struct store *s, const char *id, const char *const *from, const char *to,
                                  int64_t now)
{
    struct order_change_args a = {.id = id, .from = from, .to = to, .now = now};
    return sq_run((struct sq *)s, SQ_WRITE, "order_transition", order_move_tx, &a);
}

struct attempt_args {
    const char *order_id, *provider, *outcome, *detail;
    int64_t now;
};

static enum store_rc attempt_tx(struct sq *c, void *arg)
{
    struct attempt_args *a = arg;
    enum store_rc rc = STORE_OK;
    sqlite3_stmt *st = sq_stmt(c, SQL_ATTEMPT_INSERT);
    if (st == NULL)
        return STORE_ERROR;
    sq_bind_text(st, 1, a->order_id);
    sq_bind_text(st, 2, a->provider);
    sq_bind_text(st, 3, a->outcome);
    sq_bind_text_or_null(st, 4, a->detail);
    sqlite3_bind_int64(st, 5, a->now);
    int src = sqlite3_step(st);
    if (src != SQLITE_DONE)
        rc = sq_fail(c, src, "order_attempt_add", 0);
    sq_done(st);
    return rc;
}

enum store_rc sq_order_attempt_add(struct store *s, const char *order_id, const char *provider, const char *outcome,
                                   const char *detail, int64_t now)
{
    struct attempt_args a = {order_id, provider, outcome, detail, now};
    return sq_run((struct sq *)s, SQ_WRITE, "order_attempt_add", attempt_tx, &a);
}

struct order_list_args {
    const char *sql;
    const struct order_filter *f;
    const char *before_id;
    int64_t now;
    size_t limit;
    struct order **out;
    size_t *n;
};

static enum store_rc order_list_tx(struct sq *c, void *arg)
{
    struct order_list_args *a = arg;
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
        if (a->f->created_from)
            sqlite3_bind_int64(st, 4, a->f->created_from);
        if (a->f->created_to)
            sqlite3_bind_int64(st, 5, a->f->created_to);
        sq_bind_text_or_null(st, 6, a->before_id);
        sqlite3_bind_int64(st, 7, lim);
    } else {
        sqlite3_bind_int64(st, 1, a->now);
        sqlite3_bind_int64(st, 2, lim);
    }
    void *rows = NULL;
    enum store_rc rc = sq_rows(c, st, sizeof **a->out, order_read_row, &rows, a->n, "order_list");
    *a->out = rows;
    return rc;
}

enum store_rc sq_order_search(struct store *s, const struct order_filter *f, const char *before_id, size_t limit,
                              struct order **out, size_t *n)
{
    static const struct order_filter any = {0};
    struct order_list_args a = {SQL_ORDERS_SEARCH, f ? f : &any, before_id, 0, limit, out, n};
    return sq_run((struct sq *)s, SQ_AUTOCOMMIT, "order_search", order_list_tx, &a);
}

enum store_rc sq_orders_due(struct store *s, int64_t now, size_t limit, struct order **out, size_t *n)
{
    struct order_list_args a = {SQL_ORDERS_DUE, NULL, NULL, now, limit, out, n};
    return sq_run((struct sq *)s, SQ_AUTOCOMMIT, "orders_due", order_list_tx, &a);
}

struct order_num_args {
    const char *sql, *op, *id;
    int64_t a, b, now;
    int three; /* the statement takes (id, a, b, now) rather than (id, a, now) */
};

static enum store_rc order_num_tx(struct sq *c, void *arg)
{
    struct order_num_args *a = arg;
    enum store_rc rc = STORE_OK;
    sqlite3_stmt *st = sq_stmt(c, a->sql);
    if (st == NULL)
        return STORE_ERROR;
    sq_bind_text(st, 1, a->id);
    sqlite3_bind_int64(st, 2, a->a);
    if (a->three) {
        if (a->b)
            sqlite3_bind_int64(st, 3, a->b);
        else
            sqlite3_bind_null(st, 3);
        sqlite3_bind_int64(st, 4, a->now);
    } else {
        sqlite3_bind_int64(st, 3, a->now);
    }
    int src = sqlite3_step(st);
    int changed = src == SQLITE_DONE && sqlite3_changes(c->db) > 0;
    if (src != SQLITE_DONE)
        rc = sq_fail(c, src, a->op, 0);
    sq_done(st);
    if (rc != STORE_OK || changed)
        return rc;
    char status[24];
    rc = order_status_tx(c, a->id, status, sizeof status, a->op);
    return rc == STORE_OK ? STORE_CONFLICT : rc;
}

enum store_rc sq_order_schedule(struct store *s, const char *id, int64_t attempts, int64_t next_at, int64_t now)
{
    struct order_num_args a = {SQL_ORDER_SCHEDULE, "order_schedule", id, attempts, next_at, now, 1};
    return sq_run((struct sq *)s, SQ_WRITE, "order_schedule", order_num_tx, &a);
}

enum store_rc sq_order_refund_add(struct store *s, const char *id, int64_t delta, int64_t now)
{
    struct order_num_args a = {SQL_ORDER_REFUND_ADD, "order_refund_add", id, delta, 0, now, 0};
    return sq_run((struct sq *)s, SQ_WRITE, "order_refund_add", order_num_tx, &a);
}

static enum store_rc event_insert_tx(struct sq *c, void *arg)
{
    const struct payment_event *e = arg;
    enum store_rc rc = STORE_OK;
    sqlite3_stmt *st = sq_stmt(c, SQL_EVENT_INSERT);
    if (st == NULL)
        return STORE_ERROR;
    sq_bind_text(st, 1, e->provider);
    sq_bind_text(st, 2, e->event_id);
    sq_bind_text(st, 3, e->kind);
    sq_bind_text_or_null(st, 4, e->order_id);
    sqlite3_bind_int64(st, 5, e->amount);
    sq_bind_text_or_null(st, 6, e->currency);
    sq_bind_text(st, 7, e->outcome);
    sqlite3_bind_int64(st, 8, e->received_at);
    int src = sqlite3_step(st);
    if (src != SQLITE_DONE)
        rc = sq_fail(c, src, "payment_event_insert", 1);
    sq_done(st);
    return rc;
}

enum store_rc sq_payment_event_insert(struct store *s, const struct payment_event *e)
{
    if (!sq_fits(e->provider, sizeof e->provider) || !e->provider[0] || !sq_fits(e->event_id, sizeof e->event_id) ||
        !e->event_id[0] || !sq_fits(e->kind, sizeof e->kind) || !sq_fits(e->order_id, sizeof e->order_id) ||
        !sq_fits(e->currency, sizeof e->currency) || !sq_fits(e->outcome, sizeof e->outcome) || !e->outcome[0]) {
        sq_log_error("payment_event_insert", "event field unterminated or empty");
        return STORE_ERROR;
    }
    return sq_run((struct sq *)s, SQ_WRITE, "payment_event_insert", event_insert_tx, (void *)(uintptr_t)e);
}

struct event_get_args {
    const char *provider, *event_id;
    struct payment_event *out;
};

static enum store_rc event_get_tx(struct sq *c, void *arg)
{
    struct event_get_args *a = arg;
    struct payment_event *e = a->out;
    enum store_rc rc = STORE_OK;
    sqlite3_stmt *st = sq_stmt(c, SQL_EVENT_GET);
    if (st == NULL)
        return STORE_ERROR;
    sq_bind_text(st, 1, a->provider);
    sq_bind_text(st, 2, a->event_id);
    memset(e, 0, sizeof *e);
    int src = sqlite3_step(st);
    if (src == SQLITE_DONE) {
        rc = STORE_NOTFOUND;
    } else if (src != SQLITE_ROW) {
        rc = sq_fail(c, src, "payment_event_get", 0);
    } else if (sq_col_text(st, 0, e->provider, sizeof e->provider) < 0 ||
               sq_col_text(st, 1, e->event_id, sizeof e->event_id) < 0 ||
               sq_col_text(st, 2, e->kind, sizeof e->kind) < 0 ||
               sq_col_text(st, 3, e->order_id, sizeof e->order_id) < 0 ||
               sq_col_text(st, 5, e->currency, sizeof e->currency) < 0 ||
               sq_col_text(st, 6, e->outcome, sizeof e->outcome) < 0) {
        sq_log_error("payment_event_get", "stored event field too long");
        rc = STORE_ERROR;
    } else {
        e->amount = sq_col_int(st, 4);
        e->received_at = sq_col_int(st, 7);
    }
    sq_done(st);
    return rc;
}

enum store_rc sq_payment_event_get(struct store *s, const char *provider, const char *event_id,
                                   struct payment_event *out)
{
    struct event_get_args a = {provider, event_id, out};
    return sq_run((struct sq *)s, SQ_AUTOCOMMIT, "payment_event_get", event_get_tx, &a);
}

/* ---- the audit ---- */

/* Paid or refunded pack orders whose purchase entry is missing. */
static const char SQL_CHECK_PAID_NO_PURCHASE[] =
    "SELECT o.user_id, o.id FROM orders o WHERE o.kind = 'pack'"
    " AND o.status IN ('paid', 'refunded', 'partially_refunded')"
    " AND NOT EXISTS (SELECT 1 FROM ledger l WHERE l.kind = 'purchase' AND l.ref_type = 'order' AND l.ref_id = o.id)";
/* Purchase entries that no paid order of the same user for the same credits explains. */
static const char SQL_CHECK_PURCHASE_NO_ORDER[] =
    "SELECT l.user_id, l.ref_id FROM ledger l WHERE l.kind = 'purchase' AND NOT EXISTS (SELECT 1 FROM orders o"
    " WHERE l.ref_type = 'order' AND o.id = l.ref_id AND o.user_id = l.user_id AND o.credits = l.delta"
    " AND o.status IN ('paid', 'refunded', 'partially_refunded'))";

/* Orders whose refunded amount is not the sum of their pending and succeeded refunds. */
static const char SQL_CHECK_REFUND_SUM[] =
    "SELECT o.user_id, o.id FROM orders o WHERE o.refunded_amount <> (SELECT COALESCE(SUM(r.amount), 0)"
    " FROM refunds r WHERE r.order_id = o.id AND r.status IN ('pending', 'succeeded'))";
/* Refunds that add up past the payment, or name another currency than the order's. */
static const char SQL_CHECK_REFUND_OVER[] =
    "SELECT o.user_id, o.id FROM orders o WHERE (SELECT COALESCE(SUM(r.amount), 0) FROM refunds r"
    " WHERE r.order_id = o.id AND r.status <> 'failed') > o.amount"
    " OR EXISTS (SELECT 1 FROM refunds r WHERE r.order_id = o.id AND r.currency <> o.currency)";
/* Refunds whose credits taken back differ from their payment_refund ledger entries (taken,
 * given back when declined, taken again when the money moved after all). */
static const char SQL_CHECK_REFUND_CREDITS[] =
    "SELECT r.user_id, r.id FROM refunds r WHERE (CASE WHEN r.status = 'failed' THEN 0 ELSE r.credits END)"
    " <> -(SELECT COALESCE(SUM(l.delta), 0) FROM ledger l WHERE l.kind = 'payment_refund'"
    " AND l.ref_type IN ('refund', 'refund_reversal', 'refund_revived') AND l.ref_id = r.id)";

static enum store_rc orders_check_run(struct sq *c, void *arg)
{
    struct sq_violations *v = arg;
    sq_violations_reset(v); /* a retried attempt starts over */
    enum store_rc rc =
        sq_violations_query(c, v, SQL_CHECK_PAID_NO_PURCHASE, NULL, "a paid order without its purchase entry");
    if (rc == STORE_OK)
        rc = sq_violations_query(c, v, SQL_CHECK_PURCHASE_NO_ORDER, NULL,
                                 "a purchase entry without a paid order for those credits");
    if (rc == STORE_OK)
        rc = sq_violations_query(c, v, SQL_CHECK_REFUND_SUM, NULL,
                                 "an order whose refunded amount is not its refunds' sum");
    if (rc == STORE_OK)
        rc = sq_violations_query(c, v, SQL_CHECK_REFUND_OVER, NULL, "refunds past the payment or in another currency");
    if (rc == STORE_OK)
        rc = sq_violations_query(c, v, SQL_CHECK_REFUND_CREDITS, NULL,
                                 "a refund whose credits differ from its ledger entries");
    return rc;
}

enum store_rc sq_orders_check(struct store *s, store_violation_fn fn, void *arg, int64_t *violations)
{
    struct sq_violations v = {0};
    enum store_rc rc = sq_run((struct sq *)s, SQ_READ, "orders_check", orders_check_run, &v);
    if (rc == STORE_OK)
        sq_violations_report(&v, fn, arg, violations);
    sq_violations_reset(&v);
    return rc;
}
