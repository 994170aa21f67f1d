/*
 * tasks.c - generation tasks (migration 0007). Storage only: what a task costs, when it is
 * charged and what goes back is decided in domain/tasks.c, which composes these with the
 * ledger in one transaction.
 *
 * Every change of a task is one conditional UPDATE whose WHERE clause names the status it
 * expects, so two writers (the dispatcher and a cancel, two dispatchers, the timeout sweep)
 * can never both move the same task: the loser changes no row and hears STORE_CONFLICT.
 */
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "store/sqlite/sq.h"

#define TASK_COLS                                                                                            \
    "id, user_id, kind, provider, model, status, phase, progress, inputs_json, outputs_json, price_unit, "   \
    "unit_credits, est_units, reserved, reserved_plan, plan_expires_at, settled, refunded, provider_task_id, " \
    "key_id, attempts, polls, next_at, deadline_at, error_code, error_message, created_at, updated_at, "      \
    "submitted_at, finished_at"
/* The live statuses, as every query and the partial indexes of 0007 spell them (the planner
 * uses a partial index only when the query repeats its condition). */
#define TASK_LIVE "status IN ('queued', 'submitted', 'running')"

static const char SQL_TASK_INSERT[] =
    "INSERT INTO tasks(" TASK_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15,"
    " ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30)";
/* ?2 unbound (NULL) reads any user's task. */
static const char SQL_TASK_GET[] = "SELECT " TASK_COLS " FROM tasks WHERE id = ?1 AND (?2 IS NULL OR user_id = ?2)";
static const char SQL_TASK_BY_REF[] =
    "SELECT " TASK_COLS " FROM tasks WHERE provider = ?1 AND provider_task_id = ?2 AND provider_task_id <> ''";
/* Each filter is "any" when its parameter is NULL. */
static const char SQL_TASK_LIST[] =
    "SELECT " TASK_COLS " FROM tasks WHERE (?1 IS NULL OR user_id = ?1) AND (?2 IS NULL OR status = ?2)"
    " AND (?3 IS NULL OR kind = ?3) AND (?4 IS NULL OR id < ?4) ORDER BY id DESC LIMIT ?5";
static const char SQL_TASK_COUNT_LIVE[] = "SELECT count(*) FROM tasks WHERE user_id = ?1 AND " TASK_LIVE;
/*
 * One statement picks and leases: SQLite runs it under the write lock, so a second
 * dispatcher's claim, serialized after it, sees next_at already moved to the lease's end
 * and cannot pick the same task. ?1 now, ?2 lease_until, ?3 limit.
 */
static const char SQL_TASKS_CLAIM[] =
    "UPDATE tasks SET next_at = ?2 WHERE id IN (SELECT id FROM tasks WHERE " TASK_LIVE
    " AND next_at <= ?1 ORDER BY next_at, id LIMIT ?3) RETURNING " TASK_COLS;
/* ?1 id, ?2 expected status; the dispatcher's fields follow. */
static const char SQL_TASK_UPDATE[] =
    "UPDATE tasks SET status = ?3, phase = ?4, progress = ?5, provider_task_id = ?6, key_id = ?7, attempts = ?8,"
    " polls = ?9, next_at = ?10, outputs_json = ?11, error_code = ?12, error_message = ?13, submitted_at = ?14,"
    " updated_at = ?15 WHERE id = ?1 AND status = ?2 AND " TASK_LIVE;
static const char SQL_TASK_FINISH[] =
    "UPDATE tasks SET status = ?2, phase = '', progress = ?3, settled = ?4, refunded = ?5, outputs_json = ?6,"
    " error_code = ?7, error_message = ?8, next_at = 0, finished_at = ?9, updated_at = ?10 WHERE id = ?1 AND "
    TASK_LIVE;
static const char SQL_TASK_SET_NEXT[] =
    "UPDATE tasks SET next_at = ?2, updated_at = ?3 WHERE id = ?1 AND " TASK_LIVE;

static int task_is_live(const char *status)
{
    return status != NULL &&
           (strcmp(status, "queued") == 0 || strcmp(status, "submitted") == 0 || strcmp(status, "running") == 0);
}

/* Column i as a heap string (NULL stays NULL). */
static char *col_heap(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? xstrdup((const char *)t) : NULL;
}

static int task_read(sqlite3_stmt *st, struct task *t)
{
    memset(t, 0, sizeof *t);
    if (sq_col_text(st, 0, t->id, sizeof t->id) < 0 || sq_col_text(st, 1, t->user_id, sizeof t->user_id) < 0 ||
        sq_col_text(st, 2, t->kind, sizeof t->kind) < 0 || sq_col_text(st, 3, t->provider, sizeof t->provider) < 0 ||
        sq_col_text(st, 4, t->model, sizeof t->model) < 0 || sq_col_text(st, 5, t->status, sizeof t->status) < 0 ||
        sq_col_text(st, 6, t->phase, sizeof t->phase) < 0 ||
        sq_col_text(st, 10, t->price_unit, sizeof t->price_unit) < 0 ||
        sq_col_text(st, 18, t->provider_task_id, sizeof t->provider_task_id) < 0 ||
        sq_col_text(st, 19, t->key_id, sizeof t->key_id) < 0 ||
        sq_col_text(st, 24, t->error_code, sizeof t->error_code) < 0 ||
        sq_col_text(st, 25, t->error_message, sizeof t->error_message) < 0)
        return -1;
    t->progress = (int)sq_col_int(st, 7);
    t->inputs_json = col_heap(st, 8);
    t->outputs_json = col_heap(st, 9);
    t->unit_credits = sq_col_int(st, 11);
    t->est_units = sq_col_int(st, 12);
    t->reserved = sq_col_int(st, 13);
    t->reserved_plan = sq_col_int(st, 14);
    t->plan_expires_at = sq_col_int(st, 15);
    t->settled = sq_col_int(st, 16);
    t->refunded = sq_col_int(st, 17);
    t->attempts = (int)sq_col_int(st, 20);
    t->polls = (int)sq_col_int(st, 21);
    t->next_at = sq_col_int(st, 22);
    t->deadline_at = sq_col_int(st, 23);
    t->created_at = sq_col_int(st, 26);
    t->updated_at = sq_col_int(st, 27);
    t->submitted_at = sq_col_int(st, 28);
    t->finished_at = sq_col_int(st, 29);
    return 0;
}

/* Readers for sq_row_tx / sq_rows_owned. */
static int task_read_row(sqlite3_stmt *st, void *out) { return task_read(st, out); }
static void task_clear_elem(void *elem) { task_clear(elem); }

static int task_fields_ok(const struct task *t)
{
    return sq_fits(t->id, sizeof t->id) && t->id[0] && sq_fits(t->user_id, sizeof t->user_id) &&
           sq_fits(t->kind, sizeof t->kind) && sq_fits(t->provider, sizeof t->provider) &&
           sq_fits(t->model, sizeof t->model) && sq_fits(t->status, sizeof t->status) &&
           sq_fits(t->phase, sizeof t->phase) && sq_fits(t->price_unit, sizeof t->price_unit) &&
           sq_fits(t->provider_task_id, sizeof t->provider_task_id) && sq_fits(t->key_id, sizeof t->key_id) &&
           sq_fits(t->error_code, sizeof t->error_code) && sq_fits(t->error_message, sizeof t->error_message);
}

static enum store_rc task_insert_tx(struct sq *c, void *arg)
{
    const struct task *t = arg;
    sqlite3_stmt *st = sq_stmt(c, SQL_TASK_INSERT);
    if (st == NULL)
        return STORE_ERROR;
    sq_bind_text(st, 1, t->id);
    sq_bind_text(st, 2, t->user_id);
    sq_bind_text(st, 3, t->kind);
    sq_bind_text(st, 4, t->provider);
    sq_bind_text(st, 5, t->model);
    sq_bind_text(st, 6, t->status);
    sq_bind_text(st, 7, t->phase);
    sqlite3_bind_int64(st, 8, t->progress);
    sq_bind_text(st, 9, t->inputs_json);
    sq_bind_text(st, 10, t->outputs_json);
    sq_bind_text(st, 11, t->price_unit);
    sqlite3_bind_int64(st, 12, t->unit_credits);
    sqlite3_bind_int64(st, 13, t->est_units);
    sqlite3_bind_int64(st, 14, t->reserved);
    sqlite3_bind_int64(st, 15, t->reserved_plan);
    sq_bind_time(st, 16, t->plan_expires_at);
    sqlite3_bind_int64(st, 17, t->settled);
    sqlite3_bind_int64(st, 18, t->refunded);
    sq_bind_text(st, 19, t->provider_task_id);
    sq_bind_text(st, 20, t->key_id);
    sqlite3_bind_int64(st, 21, t->attempts);
    sqlite3_bind_int64(st, 22, t->polls);
    sqlite3_bind_int64(st, 23, t->next_at);
    sqlite3_bind_int64(st, 24, t->deadline_at);
    sq_bind_text(st, 25, t->error_code);
    sq_bind_text(st, 26, t->error_message);
    sqlite3_bind_int64(st, 27, t->created_at);
    sqlite3_bind_int64(st, 28, t->updated_at ? t->updated_at : t->created_at);
    sq_bind_time(st, 29, t->submitted_at);
    sq_bind_time(st, 30, t->finished_at);
    return sq_exec(c, st, "task_insert", 1, STORE_OK);
}

enum store_rc sq_task_insert(struct store *s, const struct task *t)
{
    if (!task_fields_ok(t)) {
        sq_log_error("task_insert", "task field unterminated or empty");
        return STORE_ERROR;
    }
    return sq_run((struct sq *)s, SQ_WRITE, "task_insert", task_insert_tx, (void *)(uintptr_t)t);
}

/* One task read through sq_row_tx; a retried attempt releases what the last one read. */
static enum store_rc task_row_tx(struct sq *c, void *arg)
{
    struct sq_row_args *a = arg;
    task_clear(a->out);
    enum store_rc rc = sq_row_tx(c, a);
    if (rc != STORE_OK)
        task_clear(a->out);
    return rc;
}

enum store_rc sq_task_get(struct store *s, const char *id, const char *user_id, struct task *out)
{
    memset(out, 0, sizeof *out);
    struct sq_row_args a = {SQL_TASK_GET, id, user_id, task_read_row, out, "task_get"};
    return sq_run((struct sq *)s, SQ_AUTOCOMMIT, "task_get", task_row_tx, &a);
}

enum store_rc sq_task_get_by_provider_ref(struct store *s, const char *provider, const char *provider_task_id,
                                          struct task *out)
{
    memset(out, 0, sizeof *out);
    struct sq_row_args a = {SQL_TASK_BY_REF, provider, provider_task_id, task_read_row, out, "task_get_by_ref"};
    return sq_run((struct sq *)s, SQ_AUTOCOMMIT, "task_get_by_ref", task_row_tx, &a);
}

/* Releases a list of tasks. */
static void task_list_free(struct task **out, size_t *n)
{
    for (size_t i = 0; *out != NULL && i < *n; i++)
        task_clear(&(*out)[i]);
    free(*out);
    *out = NULL;
    *n = 0;
}

struct task_list_args {
    const char *sql;
    const struct task_filter *f; /* the list; NULL: the claim */
    const char *before_id;
    int64_t now, lease_until;
    size_t limit;
    struct task **out;
    size_t *n;
};

static int cmp_task_id(const void *a, const void *b)
{
    return strcmp(((const struct task *)a)->id, ((const struct task *)b)->id);
}

static enum store_rc task_list_tx(struct sq *c, void *arg)
{
    struct task_list_args *a = arg;
    int64_t lim = a->limit > (size_t)INT64_MAX ? INT64_MAX : (int64_t)a->limit;
    task_list_free(a->out, a->n); /* a retried attempt starts over */
    sqlite3_stmt *st = sq_stmt(c, a->sql);
    if (st == NULL)
        return STORE_ERROR;
    if (a->f != NULL) {
        sq_bind_text_or_null(st, 1, a->f->user_id);
        sq_bind_text_or_null(st, 2, a->f->status);
        sq_bind_text_or_null(st, 3, a->f->kind);
        sq_bind_text_or_null(st, 4, a->before_id);
        sqlite3_bind_int64(st, 5, lim);
    } else {
        sqlite3_bind_int64(st, 1, a->now);
        sqlite3_bind_int64(st, 2, a->lease_until);
        sqlite3_bind_int64(st, 3, lim);
    }
    void *rows = NULL;
    enum store_rc rc = sq_rows_owned(c, st, sizeof **a->out, task_read_row, task_clear_elem, &rows, a->n, "task_list");
    *a->out = rows;
    /* RETURNING yields rows in no promised order, and with next_at already rewritten:
     * the claim answers oldest task first. */
    if (rc == STORE_OK && a->f == NULL && *a->n > 1)
        qsort(*a->out, *a->n, sizeof **a->out, cmp_task_id);
    return rc;
}

enum store_rc sq_task_list(struct store *s, const struct task_filter *f, const char *before_id, size_t limit,
                           struct task **out, size_t *n)
{
    static const struct task_filter any = {0};
    struct task_list_args a = {SQL_TASK_LIST, f ? f : &any, before_id, 0, 0, limit, out, n};
    enum store_rc rc = sq_run((struct sq *)s, SQ_AUTOCOMMIT, "task_list", task_list_tx, &a);
    if (rc != STORE_OK)
        task_list_free(out, n);
    return rc;
}

enum store_rc sq_tasks_claim(struct store *s, int64_t now, int64_t lease_until, size_t limit, struct task **out,
                             size_t *n)
{
    struct task_list_args a = {SQL_TASKS_CLAIM, NULL, NULL, now, lease_until, limit, out, n};
    enum store_rc rc = sq_run((struct sq *)s, SQ_WRITE, "tasks_claim", task_list_tx, &a);
    if (rc != STORE_OK)
        task_list_free(out, n);
    return rc;
}

struct count_args {
    const char *user_id;
    int64_t *n;
};

static enum store_rc task_count_tx(struct sq *c, void *arg)
{
    struct count_args *a = arg;
    enum store_rc rc = STORE_OK;
    sqlite3_stmt *st = sq_stmt(c, SQL_TASK_COUNT_LIVE);
    if (st == NULL)
        return STORE_ERROR;
    sq_bind_text(st, 1, a->user_id);
    int src = sqlite3_step(st);
    if (src == SQLITE_ROW)
        *a->n = sq_col_int(st, 0);
    else
        rc = sq_fail(c, src, "task_count_live", 0);
    sq_done(st);
    return rc;
}

enum store_rc sq_task_count_live(struct store *s, const char *user_id, int64_t *n)
{
    struct count_args a = {user_id, n};
    *n = 0;
    return sq_run((struct sq *)s, SQ_AUTOCOMMIT, "task_count_live", task_count_tx, &a);
}

struct task_write_args {
    const struct task *t;
    const char *expect_status; /* update only */
};

static enum store_rc task_update_tx(struct sq *c, void *arg)
{
    struct task_write_args *a = arg;
    const struct task *t = a->t;
    sqlite3_stmt *st = sq_stmt(c, SQL_TASK_UPDATE);
    if (st == NULL)
        return STORE_ERROR;
    sq_bind_text(st, 1, t->id);
    sq_bind_text(st, 2, a->expect_status);
    sq_bind_text(st, 3, t->status);
    sq_bind_text(st, 4, t->phase);
    sqlite3_bind_int64(st, 5, t->progress);
    sq_bind_text(st, 6, t->provider_task_id);
    sq_bind_text(st, 7, t->key_id);
    sqlite3_bind_int64(st, 8, t->attempts);
    sqlite3_bind_int64(st, 9, t->polls);
    sqlite3_bind_int64(st, 10, t->next_at);
    sq_bind_text(st, 11, t->outputs_json);
    sq_bind_text(st, 12, t->error_code);
    sq_bind_text(st, 13, t->error_message);
    sq_bind_time(st, 14, t->submitted_at);
    sqlite3_bind_int64(st, 15, t->updated_at);
    return sq_exec(c, st, "task_update", 1, STORE_CONFLICT);
}

enum store_rc sq_task_update(struct store *s, const struct task *t, const char *expect_status)
{
    if (!task_fields_ok(t) || !task_is_live(t->status) || expect_status == NULL) {
        sq_log_error("task_update", "task field unterminated, or a terminal status (store_task_finish)");
        return STORE_ERROR;
    }
    struct task_write_args a = {t, expect_status};
    return sq_run((struct sq *)s, SQ_WRITE, "task_update", task_update_tx, &a);
}

static enum store_rc task_finish_tx(struct sq *c, void *arg)
{
    struct task_write_args *a = arg;
    const struct task *t = a->t;
    sqlite3_stmt *st = sq_stmt(c, SQL_TASK_FINISH);
    if (st == NULL)
        return STORE_ERROR;
    sq_bind_text(st, 1, t->id);
    sq_bind_text(st, 2, t->status);
    sqlite3_bind_int64(st, 3, t->progress);
    sqlite3_bind_int64(st, 4, t->settled);
    sqlite3_bind_int64(st, 5, t->refunded);
    sq_bind_text(st, 6, t->outputs_json);
    sq_bind_text(st, 7, t->error_code);
    sq_bind_text(st, 8, t->error_message);
    sqlite3_bind_int64(st, 9, t->finished_at);
    sqlite3_bind_int64(st, 10, t->updated_at);
    return sq_exec(c, st, "task_finish", 0, STORE_CONFLICT);
}

enum store_rc sq_task_finish(struct store *s, const struct task *t)
{
    if (!task_fields_ok(t) || t->status[0] == '\0' || task_is_live(t->status) || t->finished_at == 0) {
        sq_log_error("task_finish", "task field unterminated, a live status or no finished_at");
        return STORE_ERROR;
    }
    struct task_write_args a = {t, NULL};
    return sq_run((struct sq *)s, SQ_WRITE, "task_finish", task_finish_tx, &a);
}

struct set_next_args {
    const char *id;
    int64_t next_at, now;
};

static enum store_rc task_set_next_tx(struct sq *c, void *arg)
{
    struct set_next_args *a = arg;
    sqlite3_stmt *st = sq_stmt(c, SQL_TASK_SET_NEXT);
    if (st == NULL)
        return STORE_ERROR;
    sq_bind_text(st, 1, a->id);
    sqlite3_bind_int64(st, 2, a->next_at);
    sqlite3_bind_int64(st, 3, a->now);
    return sq_exec(c, st, "task_set_next", 0, STORE_NOTFOUND);
}

enum store_rc sq_task_set_next(struct store *s, const char *id, int64_t next_at, int64_t now)
{
    struct set_next_args a = {id, next_at, now};
    return sq_run((struct sq *)s, SQ_WRITE, "task_set_next", task_set_next_tx, &a);
}

/* ---- the audit ---- */

/* The sum of t's ledger entries of one kind (and an extra condition), by its user. */
#define TASK_SUM(kind, extra)                                                                                \
    "(SELECT COALESCE(SUM(l.delta), 0) FROM ledger l WHERE l.kind = '" kind "' AND l.ref_type = 'task'"       \
    " AND l.ref_id = t.id AND l.user_id = t.user_id" extra ")"

/* Tasks whose spend entries are not their reservation, or whose plan-bucket spend is not
 * reserved_plan (the refund rules depend on it). */
static const char SQL_CHECK_SPEND[] =
    "SELECT t.user_id, t.id FROM tasks t WHERE " TASK_SUM("spend", "") " <> -t.reserved"
    " OR " TASK_SUM("spend", " AND l.bucket = 'plan'") " <> -t.reserved_plan ORDER BY 1, 2";
/* Terminal tasks whose credits given back are not their entries (settle on success,
 * refund otherwise), or whose charge and refund do not add up to the reservation. */
static const char SQL_CHECK_TERMINAL[] =
    "SELECT t.user_id, t.id FROM tasks t WHERE t.status NOT IN ('queued', 'submitted', 'running') AND ("
    " t.settled + t.refunded <> t.reserved"
    " OR (t.status = 'succeeded' AND " TASK_SUM("settle", "") " <> t.refunded)"
    " OR (t.status <> 'succeeded' AND " TASK_SUM("refund", "") " <> t.refunded)) ORDER BY 1, 2";
/* Entries that give credits back to a task that is still running, or of the kind its end
 * does not write (a refund of a succeeded task, a settle of a failed one). */
static const char SQL_CHECK_EARLY[] =
    "SELECT t.user_id, t.id || ' (' || t.status || ', ' || l.kind || ')' FROM tasks t JOIN ledger l"
    " ON l.ref_type = 'task' AND l.ref_id = t.id AND l.kind IN ('settle', 'refund')"
    " WHERE " "t." TASK_LIVE " OR (t.status = 'succeeded' AND l.kind = 'refund')"
    " OR (t.status <> 'succeeded' AND l.kind = 'settle') ORDER BY 1, 2";
/* Task entries that name no task of their user. Spelled with the kinds so that the ledger's
 * unique (kind, ref_type, ref_id, bucket) index answers it instead of a walk of the ledger. */
static const char SQL_CHECK_ORPHAN[] =
    "SELECT l.user_id, l.kind || ' ' || l.ref_id FROM ledger l WHERE l.kind IN ('spend', 'settle', 'refund')"
    " AND l.ref_type = 'task'"
    " AND NOT EXISTS (SELECT 1 FROM tasks t WHERE t.id = l.ref_id AND t.user_id = l.user_id) ORDER BY 1, 2";

static enum store_rc tasks_check_run(struct sq *c, void *arg)
{
    struct sq_violations *v = arg;
    sq_violations_reset(v); /* a retried attempt starts over */
    enum store_rc rc = sq_violations_query(c, v, SQL_CHECK_SPEND, NULL, "a task whose spend is not its reservation");
    if (rc == STORE_OK)
        rc = sq_violations_query(c, v, SQL_CHECK_TERMINAL, NULL,
                                 "a finished task whose charge and refund do not match its entries");
    if (rc == STORE_OK)
        rc = sq_violations_query(c, v, SQL_CHECK_EARLY, NULL, "credits given back out of turn");
    if (rc == STORE_OK)
        rc = sq_violations_query(c, v, SQL_CHECK_ORPHAN, NULL, "a task entry without its user's task");
    return rc;
}

enum store_rc sq_tasks_check(struct store *s, store_violation_fn fn, void *arg, int64_t *violations)
{
    struct sq_violations v = {0};
    enum store_rc rc = sq_run((struct sq *)s, SQ_READ, "tasks_check", tasks_check_run, &v);
    if (rc == STORE_OK)
        sq_violations_report(&v, fn, arg, violations);
    sq_violations_reset(&v);
    return rc;
}
