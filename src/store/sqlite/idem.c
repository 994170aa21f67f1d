/*
 * idem.c - idempotency records (DESIGN section 8): the first answer to a request that
 * carried an Idempotency-Key, kept so that a retry of it gets the same answer. Whether a
 * retry is the same request (request_hash) and how long records live are domain/'s rules.
 */
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "store/sqlite/sq.h"

static const char SQL_IDEM_GET[] =
    "SELECT request_hash, status, body, created_at FROM idempotency_keys WHERE scope = ?1 AND key = ?2";
static const char SQL_IDEM_PUT[] =
    "INSERT INTO idempotency_keys(scope, key, request_hash, status, body, created_at)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6)";

struct idem_get_args {
    const char *scope;
    const char *key;
    struct idem_record *out;
};

static enum store_rc idem_get_tx(struct sq *c, void *arg)
{
    struct idem_get_args *a = arg;
    enum store_rc rc = STORE_OK;

    /* A retried attempt starts from nothing. */
    free(a->out->body);
    memset(a->out, 0, sizeof *a->out);
    sqlite3_stmt *st = sq_stmt(c, SQL_IDEM_GET);
    if (st == NULL)
        return STORE_ERROR;
    sq_bind_text(st, 1, a->scope);
    sq_bind_text(st, 2, a->key);
    int src = sqlite3_step(st);
    if (src == SQLITE_DONE) {
        rc = STORE_NOTFOUND;
        goto cleanup;
    }
    if (src != SQLITE_ROW) {
        rc = sq_fail(c, src, "idem_get", 0);
        goto cleanup;
    }
    /* The CHECK constraint keeps the hash at 32 bytes; a row that says otherwise was not
     * written by this store. */
    const void *h = sqlite3_column_blob(st, 0);
    const unsigned char *body = sqlite3_column_text(st, 2);
    if (h == NULL || sqlite3_column_bytes(st, 0) != 32 || body == NULL) {
        sq_log_error("idem_get", "stored idempotency record malformed");
        rc = STORE_ERROR;
        goto cleanup;
    }
    memcpy(a->out->request_hash, h, 32);
    a->out->status = (int)sq_col_int(st, 1);
    a->out->body = xstrndup((const char *)body, (size_t)sqlite3_column_bytes(st, 2));
    a->out->created_at = sq_col_int(st, 3);

cleanup:
    sq_done(st);
    return rc;
}

enum store_rc sq_idem_get(struct store *s, const char *scope, const char *key, struct idem_record *out)
{
    struct idem_get_args a = {scope, key, out};
    return sq_run((struct sq *)s, SQ_AUTOCOMMIT, "idem_get", idem_get_tx, &a);
}

struct idem_put_args {
    const char *scope;
    const char *key;
    const struct idem_record *rec;
};

static enum store_rc idem_put_tx(struct sq *c, void *arg)
{
    struct idem_put_args *a = arg;
    enum store_rc rc = STORE_OK;
    sqlite3_stmt *st = sq_stmt(c, SQL_IDEM_PUT);
    if (st == NULL)
        return STORE_ERROR;
    sq_bind_text(st, 1, a->scope);
    sq_bind_text(st, 2, a->key);
    sqlite3_bind_blob(st, 3, a->rec->request_hash, 32, SQLITE_STATIC);
    sqlite3_bind_int(st, 4, a->rec->status);
    sq_bind_text(st, 5, a->rec->body);
    sqlite3_bind_int64(st, 6, a->rec->created_at);
    int src = sqlite3_step(st);
    /* PRIMARY KEY (scope, key): the first answer stays; the caller replays or refuses. */
    if (src != SQLITE_DONE)
        rc = sq_fail(c, src, "idem_put", 1);
    sq_done(st);
    return rc;
}

enum store_rc sq_idem_put(struct store *s, const char *scope, const char *key, const struct idem_record *rec)
{
    struct idem_put_args a = {scope, key, rec};
    return sq_run((struct sq *)s, SQ_WRITE, "idem_put", idem_put_tx, &a);
}

static const char SQL_IDEM_DELETE[] = "DELETE FROM idempotency_keys WHERE scope = ?1 AND key = ?2";

static enum store_rc idem_delete_tx(struct sq *c, void *arg)
{
    const char *const *k = arg;
    enum store_rc rc = STORE_OK;
    sqlite3_stmt *st = sq_stmt(c, SQL_IDEM_DELETE);
    if (st == NULL)
        return STORE_ERROR;
    sq_bind_text(st, 1, k[0]);
    sq_bind_text(st, 2, k[1]);
    int src = sqlite3_step(st);
    if (src != SQLITE_DONE)
        rc = sq_fail(c, src, "idem_delete", 0);
    else if (sqlite3_changes(c->db) == 0)
        rc = STORE_NOTFOUND;
    sq_done(st);
    return rc;
}

enum store_rc sq_idem_delete(struct store *s, const char *scope, const char *key)
{
    const char *k[2] = {scope, key};
    return sq_run((struct sq *)s, SQ_WRITE, "idem_delete", idem_delete_tx, (void *)k);
}
