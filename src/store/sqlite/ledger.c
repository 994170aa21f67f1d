/*
 * ledger.c - wallets and the append-only credit ledger (DESIGN section 3).
 *
 * A balance only ever changes through one conditional UPDATE ... RETURNING whose WHERE
 * clause is the whole rule that storage enforces (enough spendable credits, no int64
 * overflow), inside the same transaction that writes the ledger rows. There is no
 * read-then-write anywhere: two debits racing for the last credit cannot both pass the
 * WHERE clause. Which operations to apply, and with which amounts, is domain/ledger.c's
 * business; this file stores them.
 *
 * History is ordered by `seq`, assigned by SQLite inside the writing transaction, so it is
 * the commit order whatever the ids say (ids are made before the write lock is taken).
 */
#include <stdlib.h>
#include <string.h>

#include "core/ids.h"
#include "core/mem.h"
#include "store/sqlite/sq.h"

#define WALLET_COLS "user_id, plan_credits, paid_credits, plan_expires_at, updated_at"
#define ENTRY_COLS "id, user_id, bucket, delta, balance_after, kind, ref_type, ref_id, note, created_at"

static const char SQL_WALLET_GET[] = "SELECT " WALLET_COLS " FROM wallets WHERE user_id = ?1";
static const char SQL_WALLET_EXISTS[] = "SELECT 1 FROM wallets WHERE user_id = ?1";

/* ?1 user, ?2 amount (> 0), ?3 now, ?4 new plan expiry (plan credit only, 0 = keep).
 * The credit guard `x <= INT64_MAX - amount` cannot itself overflow since amount > 0. */
static const char SQL_CREDIT_PLAN[] =
    "UPDATE wallets SET plan_credits = plan_credits + ?2,"
    " plan_expires_at = CASE WHEN ?4 <> 0 THEN ?4 ELSE plan_expires_at END, updated_at = ?3"
    " WHERE user_id = ?1 AND plan_credits <= 9223372036854775807 - ?2 RETURNING " WALLET_COLS;
static const char SQL_CREDIT_PAID[] =
    "UPDATE wallets SET paid_credits = paid_credits + ?2, updated_at = ?3"
    " WHERE user_id = ?1 AND paid_credits <= 9223372036854775807 - ?2 RETURNING " WALLET_COLS;

/* Debits: ?4 is op->plan_valid_at. Plan credits are spendable when it is 0 (the caller
 * ignores expiry, e.g. to expire them) or the wallet's plan has no expiry or expires after
 * it. The test sits inside the UPDATE, so an expiry passing between a read and the write
 * cannot let expired credits through. */
#define PLAN_VALID "(?4 = 0 OR plan_expires_at IS NULL OR plan_expires_at > ?4)"
#define PLAN_SPENDABLE "(CASE WHEN " PLAN_VALID " THEN plan_credits ELSE 0 END)"
static const char SQL_DEBIT_PLAN[] = "UPDATE wallets SET plan_credits = plan_credits - ?2, updated_at = ?3"
                                     " WHERE user_id = ?1 AND plan_credits >= ?2 AND " PLAN_VALID
                                     " RETURNING " WALLET_COLS;
static const char SQL_DEBIT_PAID[] = "UPDATE wallets SET paid_credits = paid_credits - ?2, updated_at = ?3"
                                     " WHERE user_id = ?1 AND paid_credits >= ?2 RETURNING " WALLET_COLS;
/* Spendable plan credits first, the rest from paid; expired plan credits stay where they
 * are (the plan_expire operation removes them). Every SET expression sees the old row (SQL
 * semantics, which SQLite follows), so all of them use the plan balance from before the
 * update. The guard is written `paid >= amount - spendable` rather than `spendable + paid
 * >= amount` because the sum of two int64 balances can overflow; the difference of two
 * non-negative int64 values cannot. */
static const char SQL_DEBIT_PLAN_FIRST[] =
    "UPDATE wallets SET plan_credits = plan_credits - min(" PLAN_SPENDABLE ", ?2),"
    " paid_credits = paid_credits - (?2 - min(" PLAN_SPENDABLE ", ?2)), updated_at = ?3"
    " WHERE user_id = ?1 AND paid_credits >= ?2 - " PLAN_SPENDABLE " RETURNING " WALLET_COLS;

static const char SQL_REF_IN_BUCKET[] =
    "SELECT 1 FROM ledger WHERE kind = ?1 AND ref_type = ?2 AND ref_id = ?3 AND bucket = ?4";
static const char SQL_REF_ANY[] =
    "SELECT 1 FROM ledger WHERE kind = ?1 AND ref_type = ?2 AND ref_id = ?3 LIMIT 1";
static const char SQL_ENTRY_INSERT[] =
    "INSERT INTO ledger(" ENTRY_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";
/* At most two rows (the unique key includes the bucket); plan first. */
static const char SQL_ENTRIES_BY_REF[] =
    "SELECT " ENTRY_COLS " FROM ledger WHERE kind = ?1 AND ref_type = ?2 AND ref_id = ?3"
    " ORDER BY CASE bucket WHEN 'plan' THEN 0 ELSE 1 END LIMIT 2";
static const char SQL_ENTRIES_NEWEST[] =
    "SELECT " ENTRY_COLS " FROM ledger WHERE user_id = ?1 ORDER BY seq DESC LIMIT ?2";
/* The cursor is the id of the last entry shown; its seq is looked up among the user's own
 * entries, so another user's id (or an unknown one) compares with NULL: an empty page. */
static const char SQL_ENTRIES_BEFORE[] =
    "SELECT " ENTRY_COLS " FROM ledger WHERE user_id = ?1"
    " AND seq < (SELECT seq FROM ledger WHERE id = ?3 AND user_id = ?1) ORDER BY seq DESC LIMIT ?2";

static const char *bucket_name(enum ledger_bucket b)
{
    return b == BUCKET_PLAN ? "plan" : "paid";
}

/* Reads WALLET_COLS from column 0 into w. */
static int wallet_read(sqlite3_stmt *st, struct wallet *w)
{
    memset(w, 0, sizeof *w);
    if (sq_col_text(st, 0, w->user_id, sizeof w->user_id) < 0)
        return -1;
    w->plan_credits = sq_col_int(st, 1);
    w->paid_credits = sq_col_int(st, 2);
    w->plan_expires_at = sq_col_int(st, 3);
    w->updated_at = sq_col_int(st, 4);
    return 0;
}

/* Reads ENTRY_COLS from column 0 into e. */
static int entry_read(sqlite3_stmt *st, struct ledger_entry *e)
{
    char bucket[8], kind[32];
    memset(e, 0, sizeof *e);
    if (sq_col_text(st, 0, e->id, sizeof e->id) < 0 ||
        sq_col_text(st, 1, e->user_id, sizeof e->user_id) < 0 ||
        sq_col_text(st, 2, bucket, sizeof bucket) < 0 || sq_col_text(st, 5, kind, sizeof kind) < 0 ||
        sq_col_text(st, 6, e->ref_type, sizeof e->ref_type) < 0 ||
        sq_col_text(st, 7, e->ref_id, sizeof e->ref_id) < 0 ||
        sq_col_text(st, 8, e->note, sizeof e->note) < 0)
        return -1;
    int k = sq_kind_parse(kind);
    if (k < 0)
        return -1;
    e->kind = (enum ledger_kind)k;
    e->bucket = strcmp(bucket, "plan") == 0 ? BUCKET_PLAN : BUCKET_PAID;
    e->delta = sq_col_int(st, 3);
    e->balance_after = sq_col_int(st, 4);
    e->created_at = sq_col_int(st, 9);
    return 0;
}

/*
 * 1 if op can be stored and read back intact. domain/ledger.c validates operations; this is
 * the NEVER() guard for what would corrupt storage: strings that would not fit the
 * ledger_entry buffers they are read back into, an unknown kind or bucket, and a
 * non-positive amount, for which the overflow guards in the UPDATEs would not hold.
 */
static int ledger_op_storable(const struct ledger_op *op)
{
    struct ledger_entry e;
    return sq_fits(op->user_id, sizeof e.user_id) && op->amount > 0 &&
           (op->bucket == BUCKET_PLAN || op->bucket == BUCKET_PAID) && sq_kind_name(op->kind) != NULL &&
           sq_fits(op->ref_type, sizeof e.ref_type) && sq_fits(op->ref_id, sizeof e.ref_id) &&
           (op->note == NULL || sq_fits(op->note, sizeof e.note));
}

static enum store_rc ledger_insert_entry(struct sq *c, const struct ledger_op *op, const char *id,
                                         enum ledger_bucket b, int64_t delta, int64_t balance_after,
                                         int64_t now)
{
    enum store_rc rc = STORE_OK;
    sqlite3_stmt *st = sq_stmt(c, SQL_ENTRY_INSERT);
    if (st == NULL)
        return STORE_ERROR;
    sq_bind_text(st, 1, id);
    sq_bind_text(st, 2, op->user_id);
    sq_bind_text(st, 3, bucket_name(b));
    sqlite3_bind_int64(st, 4, delta);
    sqlite3_bind_int64(st, 5, balance_after);
    sq_bind_text(st, 6, sq_kind_name(op->kind));
    sq_bind_text(st, 7, op->ref_type);
    sq_bind_text(st, 8, op->ref_id);
    sq_bind_text(st, 9, op->note);
    sqlite3_bind_int64(st, 10, now);
    int src = sqlite3_step(st);
    if (src != SQLITE_DONE)
        rc = sq_fail(c, src, "ledger_apply", 1); /* UNIQUE: the ref was applied: DUPLICATE */
    sq_done(st);
    return rc;
}

/* Steps a statement that selects whether a row exists: 1, 0, or -1 with *rc set. */
static int sq_exists(struct sq *c, sqlite3_stmt *st, enum store_rc *rc)
{
    int src = sqlite3_step(st);
    if (src == SQLITE_ROW)
        return 1;
    if (src == SQLITE_DONE)
        return 0;
    *rc = sq_fail(c, src, "ledger_apply", 0);
    return -1;
}

/* Reads the wallet of user_id into w: STORE_OK, STORE_NOTFOUND or an error. */
static enum store_rc wallet_get_tx(struct sq *c, const char *user_id, struct wallet *w, const char *op)
{
    enum store_rc rc = STORE_OK;
    sqlite3_stmt *st = sq_stmt(c, SQL_WALLET_GET);
    if (st == NULL)
        return STORE_ERROR;
    sq_bind_text(st, 1, user_id);
    int src = sqlite3_step(st);
    if (src == SQLITE_DONE) {
        rc = STORE_NOTFOUND;
    } else if (src != SQLITE_ROW) {
        rc = sq_fail(c, src, op, 0);
    } else if (wallet_read(st, w) < 0) {
        sq_log_error(op, "stored wallet user id too long");
        rc = STORE_ERROR;
    }
    sq_done(st);
    return rc;
}

struct ledger_apply_args {
    const struct ledger_op *op;
    int64_t now;
    struct wallet *before; /* may be NULL */
    struct wallet *after;
};

static enum store_rc ledger_apply_tx(struct sq *c, void *arg)
{
    struct ledger_apply_args *a = arg;
    const struct ledger_op *op = a->op;
    enum store_rc rc = STORE_OK;
    sqlite3_stmt *st = NULL;
    int plan_first = op->debit && op->from_plan_first;
    /* The wallet before the change is only needed when RETURNING's new values cannot give
     * it: a plan-first split (how much came from each bucket) or a caller asking for it
     * (its old expiry and update time are not derivable). No other writer can change it in
     * between: a write transaction holds the lock, and in a read snapshot the UPDATE fails
     * with BUSY if the row moved. The conditional UPDATE below still decides alone whether
     * the debit is allowed. */
    int want_before = plan_first || a->before != NULL;
    struct wallet old;
    int64_t d_plan = 0, d_paid = 0;

    memset(a->after, 0, sizeof *a->after);
    if (a->before != NULL)
        memset(a->before, 0, sizeof *a->before);

    /* Idempotency first: a retried operation reports DUPLICATE even if the balance has
     * moved since (a replayed debit must not turn into INSUFFICIENT). A plan-first debit
     * may touch either bucket, so a row in any bucket is its duplicate; any other
     * operation touches exactly op->bucket. The UNIQUE key remains the backstop. */
    st = sq_stmt(c, plan_first ? SQL_REF_ANY : SQL_REF_IN_BUCKET);
    if (st == NULL)
        return STORE_ERROR;
    sq_bind_text(st, 1, sq_kind_name(op->kind));
    sq_bind_text(st, 2, op->ref_type);
    sq_bind_text(st, 3, op->ref_id);
    if (!plan_first)
        sq_bind_text(st, 4, bucket_name(op->bucket));
    int found = sq_exists(c, st, &rc);
    sq_done(st);
    st = NULL;
    if (found < 0)
        goto cleanup;
    if (found) {
        rc = STORE_DUPLICATE;
        goto cleanup;
    }

    if (want_before) {
        rc = wallet_get_tx(c, op->user_id, &old, "ledger_apply");
        if (rc != STORE_OK)
            goto cleanup;
    }

    const char *sql;
    if (plan_first)
        sql = SQL_DEBIT_PLAN_FIRST;
    else if (op->debit)
        sql = op->bucket == BUCKET_PLAN ? SQL_DEBIT_PLAN : SQL_DEBIT_PAID;
    else
        sql = op->bucket == BUCKET_PLAN ? SQL_CREDIT_PLAN : SQL_CREDIT_PAID;
    st = sq_stmt(c, sql);
    if (st == NULL) {
        rc = STORE_ERROR;
        goto cleanup;
    }
    sq_bind_text(st, 1, op->user_id);
    sqlite3_bind_int64(st, 2, op->amount);
    sqlite3_bind_int64(st, 3, a->now);
    if (sql == SQL_CREDIT_PLAN)
        sqlite3_bind_int64(st, 4, op->plan_expires_at);
    else if (sql == SQL_DEBIT_PLAN || sql == SQL_DEBIT_PLAN_FIRST)
        sqlite3_bind_int64(st, 4, op->plan_valid_at);
    int src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        if (wallet_read(st, a->after) < 0) {
            sq_log_error("ledger_apply", "stored wallet user id too long");
            rc = STORE_ERROR;
            goto cleanup;
        }
        src = sqlite3_step(st); /* RETURNING: the change is complete; drain to DONE */
    }
    if (src != SQLITE_DONE) {
        rc = sq_fail(c, src, "ledger_apply", 0);
        goto cleanup;
    }
    int updated = a->after->user_id[0] != '\0';
    sq_done(st);
    st = NULL;

    if (!updated) {
        /* The WHERE clause refused: tell "no wallet" from "not enough" / "would overflow". */
        int exists = 1;
        if (!want_before) {
            st = sq_stmt(c, SQL_WALLET_EXISTS);
            if (st == NULL) {
                rc = STORE_ERROR;
                goto cleanup;
            }
            sq_bind_text(st, 1, op->user_id);
            exists = sq_exists(c, st, &rc);
            if (exists < 0)
                goto cleanup;
        }
        if (!exists) {
            rc = STORE_NOTFOUND;
        } else if (op->debit) {
            rc = STORE_INSUFFICIENT;
        } else {
            sq_log_error("ledger_apply", "credit refused: the balance would overflow int64");
            rc = STORE_ERROR;
        }
        goto cleanup;
    }

    if (plan_first) {
        d_plan = a->after->plan_credits - old.plan_credits;
        d_paid = a->after->paid_credits - old.paid_credits;
    } else if (op->bucket == BUCKET_PLAN) {
        d_plan = op->debit ? -op->amount : op->amount;
    } else {
        d_paid = op->debit ? -op->amount : op->amount;
    }

    /* One row per bucket touched, plan first: the order plan-first spending applies them,
     * which their seq records. */
    char id[TG_ID_MAX];
    if (d_plan != 0) {
        rc = ledger_insert_entry(c, op, id_new(id, "led"), BUCKET_PLAN, d_plan, a->after->plan_credits, a->now);
        if (rc != STORE_OK)
            goto cleanup;
    }
    if (d_paid != 0) {
        rc = ledger_insert_entry(c, op, id_new(id, "led"), BUCKET_PAID, d_paid, a->after->paid_credits, a->now);
        if (rc != STORE_OK)
            goto cleanup;
    }
    if (a->before != NULL)
        *a->before = old;

cleanup:
    sq_done(st);
    if (rc != STORE_OK) {
        /* A later step failed after the UPDATE filled these: the transaction is undone,
         * so must they be. */
        memset(a->after, 0, sizeof *a->after);
        if (a->before != NULL)
            memset(a->before, 0, sizeof *a->before);
    }
    return rc;
}

enum store_rc sq_ledger_apply(struct store *s, const struct ledger_op *op, int64_t now, struct wallet *before,
                              struct wallet *after)
{
    if (!ledger_op_storable(op)) {
        sq_log_error("ledger_apply", "ledger operation cannot be stored (amount, kind, bucket or a field's size)");
        return STORE_ERROR;
    }
    struct ledger_apply_args a = {op, now, before, after};
    return sq_run((struct sq *)s, SQ_WRITE, "ledger_apply", ledger_apply_tx, &a);
}

struct wallet_get_args {
    const char *user_id;
    struct wallet *out;
};

static enum store_rc wallet_get_run(struct sq *c, void *arg)
{
    struct wallet_get_args *a = arg;
    return wallet_get_tx(c, a->user_id, a->out, "wallet_get");
}

enum store_rc sq_wallet_get(struct store *s, const char *user_id, struct wallet *out)
{
    struct wallet_get_args a = {user_id, out};
    return sq_run((struct sq *)s, SQ_AUTOCOMMIT, "wallet_get", wallet_get_run, &a);
}

struct by_ref_args {
    enum ledger_kind kind;
    const char *ref_type;
    const char *ref_id;
    struct ledger_entry *out; /* [2] */
    size_t *n;
};

static enum store_rc by_ref_run(struct sq *c, void *arg)
{
    struct by_ref_args *a = arg;
    enum store_rc rc = STORE_OK;
    int src = SQLITE_DONE;
    *a->n = 0;
    sqlite3_stmt *st = sq_stmt(c, SQL_ENTRIES_BY_REF);
    if (st == NULL)
        return STORE_ERROR;
    sq_bind_text(st, 1, sq_kind_name(a->kind));
    sq_bind_text(st, 2, a->ref_type);
    sq_bind_text(st, 3, a->ref_id);
    while (*a->n < 2 && (src = sqlite3_step(st)) == SQLITE_ROW) {
        if (entry_read(st, &a->out[*a->n]) < 0) {
            sq_log_error("ledger_get_by_ref", "stored ledger entry malformed");
            rc = STORE_ERROR;
            goto cleanup;
        }
        (*a->n)++;
    }
    if (*a->n < 2 && src != SQLITE_DONE)
        rc = sq_fail(c, src, "ledger_get_by_ref", 0);
    else if (*a->n == 0)
        rc = STORE_NOTFOUND;

cleanup:
    sq_done(st);
    return rc;
}

enum store_rc sq_ledger_get_by_ref(struct store *s, enum ledger_kind kind, const char *ref_type,
                                   const char *ref_id, struct ledger_entry out[2], size_t *n)
{
    *n = 0;
    if (sq_kind_name(kind) == NULL || ref_type == NULL || ref_id == NULL)
        return STORE_NOTFOUND;
    struct by_ref_args a = {kind, ref_type, ref_id, out, n};
    return sq_run((struct sq *)s, SQ_AUTOCOMMIT, "ledger_get_by_ref", by_ref_run, &a);
}

struct list_args {
    const char *user_id;
    const char *before_id;
    size_t limit;
    struct ledger_entry **out;
    size_t *n;
};

static enum store_rc list_run(struct sq *c, void *arg)
{
    struct list_args *a = arg;
    enum store_rc rc = STORE_OK;
    size_t cap = 0;
    int src;

    free(*a->out);
    *a->out = NULL;
    *a->n = 0;
    sqlite3_stmt *st = sq_stmt(c, a->before_id ? SQL_ENTRIES_BEFORE : SQL_ENTRIES_NEWEST);
    if (st == NULL)
        return STORE_ERROR;
    sq_bind_text(st, 1, a->user_id);
    sqlite3_bind_int64(st, 2, a->limit > (size_t)INT64_MAX ? INT64_MAX : (int64_t)a->limit);
    if (a->before_id)
        sq_bind_text(st, 3, a->before_id);
    /* Grown as rows arrive: `limit` comes from the caller and may be far above the rows. */
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        if (*a->n == cap) {
            cap = cap ? cap * 2 : 16;
            *a->out = xrealloc(*a->out, cap * sizeof **a->out);
        }
        if (entry_read(st, &(*a->out)[*a->n]) < 0) {
            sq_log_error("ledger_list", "stored ledger entry malformed");
            rc = STORE_ERROR;
            goto cleanup;
        }
        (*a->n)++;
    }
    if (src != SQLITE_DONE)
        rc = sq_fail(c, src, "ledger_list", 0);

cleanup:
    sq_done(st);
    if (rc != STORE_OK) {
        free(*a->out);
        *a->out = NULL;
        *a->n = 0;
    }
    return rc;
}

enum store_rc sq_ledger_list(struct store *s, const char *user_id, const char *before_id, size_t limit,
                             struct ledger_entry **out, size_t *n)
{
    struct list_args a = {user_id, before_id, limit, out, n};
    *out = NULL;
    *n = 0;
    return sq_run((struct sq *)s, SQ_AUTOCOMMIT, "ledger_list", list_run, &a);
}
