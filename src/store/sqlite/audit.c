/*
 * audit.c - the append-only audit log (admin actions, security events), listed in commit
 * order (seq) like the ledger.
 */
#include <stdlib.h>
#include <string.h>

#include "core/ids.h"
#include "core/mem.h"
#include "store/sqlite/sq.h"

#define AUDIT_COLS "id, actor_id, action, target_type, target_id, ip, request_id, details, created_at"

static const char SQL_AUDIT_INSERT[] =
    "INSERT INTO audit_log(" AUDIT_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
static const char SQL_AUDIT_NEWEST[] = "SELECT " AUDIT_COLS " FROM audit_log ORDER BY seq DESC LIMIT ?1";
/* Cursor: the id of the last entry shown; an unknown id compares with NULL (empty page). */
static const char SQL_AUDIT_BEFORE[] = "SELECT " AUDIT_COLS " FROM audit_log"
                                       " WHERE seq < (SELECT seq FROM audit_log WHERE id = ?2)"
                                       " ORDER BY seq DESC LIMIT ?1";

struct audit_insert_args {
    const struct audit_entry *e;
};

/* 1 if every fixed-size field of e is terminated (so it reads back intact). */
static int audit_fields_ok(const struct audit_entry *e)
{
    return sq_fits(e->id, sizeof e->id) && sq_fits(e->actor_id, sizeof e->actor_id) &&
           sq_fits(e->action, sizeof e->action) && e->action[0] != '\0' &&
           sq_fits(e->target_type, sizeof e->target_type) && sq_fits(e->target_id, sizeof e->target_id) &&
           sq_fits(e->ip, sizeof e->ip) && sq_fits(e->request_id, sizeof e->request_id);
}

static enum store_rc audit_insert_tx(struct sq *c, void *arg)
{
    const struct audit_entry *e = ((struct audit_insert_args *)arg)->e;
    enum store_rc rc = STORE_OK;
    char id[TG_ID_MAX];
    /* The id is normally the caller's (it may log it); a system event may leave it empty. */
    if (e->id[0] != '\0')
        memcpy(id, e->id, sizeof id);
    else
        id_new(id, "aud");
    sqlite3_stmt *st = sq_stmt(c, SQL_AUDIT_INSERT);
    if (st == NULL)
        return STORE_ERROR;
    sq_bind_text(st, 1, id);
    sq_bind_text_or_null(st, 2, e->actor_id);
    sq_bind_text(st, 3, e->action);
    sq_bind_text_or_null(st, 4, e->target_type);
    sq_bind_text_or_null(st, 5, e->target_id);
    sq_bind_text_or_null(st, 6, e->ip);
    sq_bind_text_or_null(st, 7, e->request_id);
    sq_bind_text(st, 8, e->details_json);
    sqlite3_bind_int64(st, 9, e->created_at);
    int src = sqlite3_step(st);
    if (src != SQLITE_DONE)
        rc = sq_fail(c, src, "audit_insert", 1); /* CHECK json_valid() failure is logged */
    sq_done(st);
    return rc;
}

enum store_rc sq_audit_insert(struct store *s, const struct audit_entry *e)
{
    if (!audit_fields_ok(e)) {
        sq_log_error("audit_insert", "audit entry field unterminated or action empty");
        return STORE_ERROR;
    }
    struct audit_insert_args a = {e};
    return sq_run((struct sq *)s, SQ_WRITE, "audit_insert", audit_insert_tx, &a);
}

/* Reads AUDIT_COLS from column 0; details_json is heap (NULL when none). */
static int audit_read(sqlite3_stmt *st, struct audit_entry *e)
{
    memset(e, 0, sizeof *e);
    if (sq_col_text(st, 0, e->id, sizeof e->id) < 0 ||
        sq_col_text(st, 1, e->actor_id, sizeof e->actor_id) < 0 ||
        sq_col_text(st, 2, e->action, sizeof e->action) < 0 ||
        sq_col_text(st, 3, e->target_type, sizeof e->target_type) < 0 ||
        sq_col_text(st, 4, e->target_id, sizeof e->target_id) < 0 ||
        sq_col_text(st, 5, e->ip, sizeof e->ip) < 0 ||
        sq_col_text(st, 6, e->request_id, sizeof e->request_id) < 0)
        return -1;
    const unsigned char *d = sqlite3_column_text(st, 7);
    if (d != NULL)
        e->details_json = xstrndup((const char *)d, (size_t)sqlite3_column_bytes(st, 7));
    e->created_at = sq_col_int(st, 8);
    return 0;
}

struct audit_list_args {
    const char *before_id;
    size_t limit;
    struct audit_entry **out;
    size_t *n;
};

static enum store_rc audit_list_run(struct sq *c, void *arg)
{
    struct audit_list_args *a = arg;
    enum store_rc rc = STORE_OK;
    size_t cap = 0;
    int src;

    store_audit_free(*a->out, *a->n);
    *a->out = NULL;
    *a->n = 0;
    sqlite3_stmt *st = sq_stmt(c, a->before_id ? SQL_AUDIT_BEFORE : SQL_AUDIT_NEWEST);
    if (st == NULL)
        return STORE_ERROR;
    sqlite3_bind_int64(st, 1, a->limit > (size_t)INT64_MAX ? INT64_MAX : (int64_t)a->limit);
    if (a->before_id)
        sq_bind_text(st, 2, a->before_id);
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        if (*a->n == cap) {
            cap = cap ? cap * 2 : 16;
            *a->out = xrealloc(*a->out, cap * sizeof **a->out);
        }
        if (audit_read(st, &(*a->out)[*a->n]) < 0) {
            sq_log_error("audit_list", "stored audit entry malformed");
            rc = STORE_ERROR;
            goto cleanup;
        }
        (*a->n)++;
    }
    if (src != SQLITE_DONE)
        rc = sq_fail(c, src, "audit_list", 0);

cleanup:
    sq_done(st);
    if (rc != STORE_OK) {
        store_audit_free(*a->out, *a->n);
        *a->out = NULL;
        *a->n = 0;
    }
    return rc;
}

enum store_rc sq_audit_list(struct store *s, const char *before_id, size_t limit, struct audit_entry **out,
                            size_t *n)
{
    struct audit_list_args a = {before_id, limit, out, n};
    *out = NULL;
    *n = 0;
    return sq_run((struct sq *)s, SQ_AUTOCOMMIT, "audit_list", audit_list_run, &a);
}
