/*
 * apikeys.c - API keys: insert, list, count, revoke, authenticate (the hot path: one read)
 * and touch (last_used_at). How many keys a user may hold, whether a disabled user's key
 * counts and how often to touch are domain/'s decisions.
 */
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "store/sqlite/sq.h"

#define APIKEY_COLS "k.id, k.user_id, k.name, k.prefix, k.hash, k.created_at, k.last_used_at, k.revoked_at"

static const char SQL_KEY_INSERT[] =
    "INSERT INTO api_keys(id, user_id, name, prefix, hash, created_at, last_used_at, revoked_at)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULL, NULL)";
static const char SQL_KEY_LIST[] =
    "SELECT " APIKEY_COLS " FROM api_keys k WHERE k.user_id = ?1 AND k.revoked_at IS NULL"
    " ORDER BY k.created_at DESC, k.id DESC";
static const char SQL_KEY_COUNT[] = "SELECT count(*) FROM api_keys WHERE user_id = ?1 AND revoked_at IS NULL";
static const char SQL_KEY_REVOKE[] =
    "UPDATE api_keys SET revoked_at = ?3 WHERE id = ?2 AND user_id = ?1 AND revoked_at IS NULL";
static const char SQL_KEY_AUTH[] =
    "SELECT " APIKEY_COLS ", " SQ_USER_COLS " FROM api_keys k JOIN users u ON u.id = k.user_id"
    " WHERE k.hash = ?1 AND k.revoked_at IS NULL";
/* ?2 now, ?3 not_since: the conditional write is the whole throttle, so two requests racing
 * to touch one key write it once. */
static const char SQL_KEY_TOUCH[] = "UPDATE api_keys SET last_used_at = ?2 WHERE id = ?1"
                                    " AND (last_used_at IS NULL OR last_used_at < ?3)";
static const char SQL_KEY_EXISTS[] = "SELECT 1 FROM api_keys WHERE id = ?1";

/* Reads APIKEY_COLS from column 0. Returns 0 or -1 (oversized value). */
static int apikey_read(sqlite3_stmt *st, struct api_key *k)
{
    memset(k, 0, sizeof *k);
    if (sq_col_text(st, 0, k->id, sizeof k->id) < 0 ||
        sq_col_text(st, 1, k->user_id, sizeof k->user_id) < 0 ||
        sq_col_text(st, 2, k->name, sizeof k->name) < 0 ||
        sq_col_text(st, 3, k->prefix, sizeof k->prefix) < 0)
        return -1;
    const void *h = sqlite3_column_blob(st, 4);
    if (h == NULL || sqlite3_column_bytes(st, 4) != 32)
        return -1;
    memcpy(k->hash, h, 32);
    k->created_at = sq_col_int(st, 5);
    k->last_used_at = sq_col_int(st, 6);
    k->revoked_at = sq_col_int(st, 7);
    return 0;
}

struct key_insert_args {
    const struct api_key *k;
};

static enum store_rc key_insert_tx(struct sq *c, void *arg)
{
    const struct api_key *k = ((struct key_insert_args *)arg)->k;
    enum store_rc rc = STORE_OK;
    sqlite3_stmt *st = sq_stmt(c, SQL_KEY_INSERT);
    if (st == NULL)
        return STORE_ERROR;
    sq_bind_text(st, 1, k->id);
    sq_bind_text(st, 2, k->user_id);
    sq_bind_text(st, 3, k->name);
    sq_bind_text(st, 4, k->prefix);
    sqlite3_bind_blob(st, 5, k->hash, 32, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, k->created_at);
    int src = sqlite3_step(st);
    if (src != SQLITE_DONE)
        rc = sq_fail(c, src, "api_key_insert", 1);
    sq_done(st);
    return rc;
}

enum store_rc sq_api_key_insert(struct store *s, const struct api_key *k)
{
    if (!sq_fits(k->id, sizeof k->id) || !sq_fits(k->user_id, sizeof k->user_id) ||
        !sq_fits(k->name, sizeof k->name) || !sq_fits(k->prefix, sizeof k->prefix)) {
        sq_log_error("api_key_insert", "unterminated field");
        return STORE_ERROR;
    }
    struct key_insert_args a = {k};
    return sq_run((struct sq *)s, SQ_WRITE, "api_key_insert", key_insert_tx, &a);
}

struct key_list_args {
    const char *user_id;
    struct api_key **out;
    size_t *n;
};

static enum store_rc key_list_tx(struct sq *c, void *arg)
{
    struct key_list_args *a = arg;
    enum store_rc rc = STORE_OK;
    size_t cap = 0;
    int src;

    /* A retried attempt starts from nothing. */
    free(*a->out);
    *a->out = NULL;
    *a->n = 0;
    sqlite3_stmt *st = sq_stmt(c, SQL_KEY_LIST);
    if (st == NULL)
        return STORE_ERROR;
    sq_bind_text(st, 1, a->user_id);
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        if (*a->n == cap) {
            cap = cap ? cap * 2 : 8;
            *a->out = xrealloc(*a->out, cap * sizeof **a->out);
        }
        if (apikey_read(st, &(*a->out)[*a->n]) < 0) {
            sq_log_error("api_key_list", "stored key field malformed");
            rc = STORE_ERROR;
            goto cleanup;
        }
        (*a->n)++;
    }
    if (src != SQLITE_DONE)
        rc = sq_fail(c, src, "api_key_list", 0);

cleanup:
    sq_done(st);
    if (rc != STORE_OK) {
        free(*a->out);
        *a->out = NULL;
        *a->n = 0;
    }
    return rc;
}

enum store_rc sq_api_key_list(struct store *s, const char *user_id, struct api_key **out, size_t *n)
{
    struct key_list_args a = {user_id, out, n};
    *out = NULL;
    *n = 0;
    return sq_run((struct sq *)s, SQ_AUTOCOMMIT, "api_key_list", key_list_tx, &a);
}

struct key_count_args {
    const char *user_id;
    int64_t *count;
};

static enum store_rc key_count_tx(struct sq *c, void *arg)
{
    struct key_count_args *a = arg;
    enum store_rc rc = STORE_OK;
    sqlite3_stmt *st = sq_stmt(c, SQL_KEY_COUNT);
    if (st == NULL)
        return STORE_ERROR;
    sq_bind_text(st, 1, a->user_id);
    int src = sqlite3_step(st);
    if (src == SQLITE_ROW)
        *a->count = sq_col_int(st, 0);
    else
        rc = sq_fail(c, src, "api_key_count_active", 0);
    sq_done(st);
    return rc;
}

enum store_rc sq_api_key_count_active(struct store *s, const char *user_id, int64_t *count)
{
    struct key_count_args a = {user_id, count};
    return sq_run((struct sq *)s, SQ_AUTOCOMMIT, "api_key_count_active", key_count_tx, &a);
}

struct key_revoke_args {
    const char *user_id;
    const char *key_id;
    int64_t now;
};

static enum store_rc key_revoke_tx(struct sq *c, void *arg)
{
    struct key_revoke_args *a = arg;
    enum store_rc rc = STORE_OK;
    sqlite3_stmt *st = sq_stmt(c, SQL_KEY_REVOKE);
    if (st == NULL)
        return STORE_ERROR;
    sq_bind_text(st, 1, a->user_id);
    sq_bind_text(st, 2, a->key_id);
    sqlite3_bind_int64(st, 3, a->now);
    int src = sqlite3_step(st);
    if (src != SQLITE_DONE)
        rc = sq_fail(c, src, "api_key_revoke", 0);
    else if (sqlite3_changes(c->db) == 0)
        rc = STORE_NOTFOUND; /* someone else's key, unknown, or already revoked */
    sq_done(st);
    return rc;
}

enum store_rc sq_api_key_revoke(struct store *s, const char *user_id, const char *key_id, int64_t now)
{
    struct key_revoke_args a = {user_id, key_id, now};
    return sq_run((struct sq *)s, SQ_WRITE, "api_key_revoke", key_revoke_tx, &a);
}

struct key_auth_args {
    const unsigned char *hash;
    struct api_key *key;
    struct user *user;
};

static enum store_rc key_auth_tx(struct sq *c, void *arg)
{
    struct key_auth_args *a = arg;
    enum store_rc rc = STORE_OK;
    sqlite3_stmt *st = sq_stmt(c, SQL_KEY_AUTH);
    if (st == NULL)
        return STORE_ERROR;
    sqlite3_bind_blob(st, 1, a->hash, 32, SQLITE_STATIC);
    int src = sqlite3_step(st);
    if (src == SQLITE_DONE) {
        rc = STORE_NOTFOUND;
    } else if (src != SQLITE_ROW) {
        rc = sq_fail(c, src, "api_key_authenticate", 0);
    } else if (apikey_read(st, a->key) < 0 || sq_read_user(st, 8, a->user) < 0) {
        sq_log_error("api_key_authenticate", "stored key or user field malformed");
        rc = STORE_ERROR;
    }
    sq_done(st);
    return rc;
}

enum store_rc sq_api_key_authenticate(struct store *s, const unsigned char hash[32], struct api_key *key,
                                      struct user *user)
{
    struct key_auth_args a = {hash, key, user};
    /* The lookup is one statement, so it needs no explicit transaction (one less round of
     * BEGIN/COMMIT on every API request). */
    return sq_run((struct sq *)s, SQ_AUTOCOMMIT, "api_key_authenticate", key_auth_tx, &a);
}

struct key_touch_args {
    const char *key_id;
    int64_t now;
    int64_t not_since;
    int *touched;
};

static enum store_rc key_touch_tx(struct sq *c, void *arg)
{
    struct key_touch_args *a = arg;
    enum store_rc rc = STORE_OK;
    *a->touched = 0;
    sqlite3_stmt *st = sq_stmt(c, SQL_KEY_TOUCH);
    if (st == NULL)
        return STORE_ERROR;
    sq_bind_text(st, 1, a->key_id);
    sqlite3_bind_int64(st, 2, a->now);
    sqlite3_bind_int64(st, 3, a->not_since);
    int src = sqlite3_step(st);
    if (src != SQLITE_DONE)
        rc = sq_fail(c, src, "api_key_touch", 0);
    else
        *a->touched = sqlite3_changes(c->db) > 0;
    sq_done(st);
    if (rc != STORE_OK || *a->touched)
        return rc;

    /* Untouched: someone touched it since the caller read it, or there is no such key.
     * Callers touch only a key that authenticated with a stale last_used_at, so this
     * extra read is the rare path. */
    st = sq_stmt(c, SQL_KEY_EXISTS);
    if (st == NULL)
        return STORE_ERROR;
    sq_bind_text(st, 1, a->key_id);
    src = sqlite3_step(st);
    if (src == SQLITE_DONE)
        rc = STORE_NOTFOUND;
    else if (src != SQLITE_ROW)
        rc = sq_fail(c, src, "api_key_touch", 0);
    sq_done(st);
    return rc;
}

enum store_rc sq_api_key_touch(struct store *s, const char *key_id, int64_t now, int64_t not_since,
                               int *touched)
{
    struct key_touch_args a = {key_id, now, not_since, touched};
    return sq_run((struct sq *)s, SQ_WRITE, "api_key_touch", key_touch_tx, &a);
}
