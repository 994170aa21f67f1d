/*
 * tokens.c - rotating refresh tokens (DESIGN section 5): insert, rotate with reuse
 * detection, revoke a family (logout) or all of a user's tokens.
 *
 * Only the SHA-256 of a token is stored and looked up; the token itself never reaches the
 * store, so nothing here can log it.
 */
#include <string.h>

#include "store/sqlite/sq.h"

static const char SQL_RT_INSERT[] =
    "INSERT INTO refresh_tokens(id, user_id, family_id, hash, created_at, expires_at)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
static const char SQL_RT_BY_HASH[] =
    "SELECT id, user_id, family_id, expires_at, used_at, revoked_at FROM refresh_tokens WHERE hash = ?1";
static const char SQL_RT_MARK_USED[] =
    "UPDATE refresh_tokens SET used_at = ?2 WHERE id = ?1 AND used_at IS NULL";
static const char SQL_RT_REVOKE_FAMILY[] =
    "UPDATE refresh_tokens SET revoked_at = ?2 WHERE family_id = ?1 AND revoked_at IS NULL";
static const char SQL_RT_REVOKE_USER[] =
    "UPDATE refresh_tokens SET revoked_at = ?2 WHERE user_id = ?1 AND revoked_at IS NULL";

/* Inserts t with user and family given separately (rotation takes them from the old token). */
static enum store_rc rt_insert_tx(struct sq *c, const struct refresh_token *t, const char *user_id,
                                  const char *family_id, const char *op)
{
    enum store_rc rc = STORE_OK;
    sqlite3_stmt *st = sq_stmt(c, SQL_RT_INSERT);
    if (st == NULL)
        return STORE_ERROR;
    sq_bind_text(st, 1, t->id);
    sq_bind_text(st, 2, user_id);
    sq_bind_text(st, 3, family_id);
    sqlite3_bind_blob(st, 4, t->hash, 32, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, t->created_at);
    sqlite3_bind_int64(st, 6, t->expires_at);
    int src = sqlite3_step(st);
    if (src != SQLITE_DONE)
        rc = sq_fail(c, src, op, 1);
    sq_done(st);
    return rc;
}

struct rt_insert_args {
    const struct refresh_token *t;
};

static enum store_rc rt_insert_one_tx(struct sq *c, void *arg)
{
    const struct refresh_token *t = ((struct rt_insert_args *)arg)->t;
    return rt_insert_tx(c, t, t->user_id, t->family_id, "refresh_insert");
}

enum store_rc sq_refresh_insert(struct store *s, const struct refresh_token *t)
{
    if (!sq_fits(t->id, TG_ID_MAX) || !sq_fits(t->user_id, TG_ID_MAX) || !sq_fits(t->family_id, TG_ID_MAX)) {
        sq_log_error("refresh_insert", "unterminated id");
        return STORE_ERROR;
    }
    struct rt_insert_args a = {t};
    return sq_run((struct sq *)s, SQ_WRITE, "refresh_insert", rt_insert_one_tx, &a);
}

/* Revokes every live token of family_id. */
static enum store_rc rt_revoke_family_tx(struct sq *c, const char *family_id, int64_t now, const char *op)
{
    enum store_rc rc = STORE_OK;
    sqlite3_stmt *st = sq_stmt(c, SQL_RT_REVOKE_FAMILY);
    if (st == NULL)
        return STORE_ERROR;
    sq_bind_text(st, 1, family_id);
    sqlite3_bind_int64(st, 2, now);
    int src = sqlite3_step(st);
    if (src != SQLITE_DONE)
        rc = sq_fail(c, src, op, 0);
    sq_done(st);
    return rc;
}

struct rt_found {
    char id[TG_ID_MAX];
    char user_id[TG_ID_MAX];
    char family_id[TG_ID_MAX];
    int64_t expires_at;
    int64_t used_at;
    int64_t revoked_at;
};

/* Looks the token up by hash: STORE_OK, STORE_NOTFOUND or an error. */
static enum store_rc rt_find_tx(struct sq *c, const unsigned char hash[32], struct rt_found *f,
                                const char *op)
{
    enum store_rc rc = STORE_OK;
    sqlite3_stmt *st = sq_stmt(c, SQL_RT_BY_HASH);
    if (st == NULL)
        return STORE_ERROR;
    sqlite3_bind_blob(st, 1, hash, 32, SQLITE_STATIC);
    int src = sqlite3_step(st);
    if (src == SQLITE_DONE) {
        rc = STORE_NOTFOUND;
        goto cleanup;
    }
    if (src != SQLITE_ROW) {
        rc = sq_fail(c, src, op, 0);
        goto cleanup;
    }
    if (sq_col_text(st, 0, f->id, sizeof f->id) < 0 ||
        sq_col_text(st, 1, f->user_id, sizeof f->user_id) < 0 ||
        sq_col_text(st, 2, f->family_id, sizeof f->family_id) < 0) {
        sq_log_error(op, "stored token id too long");
        rc = STORE_ERROR;
        goto cleanup;
    }
    f->expires_at = sq_col_int(st, 3);
    f->used_at = sqlite3_column_type(st, 4) == SQLITE_NULL ? 0 : sq_col_int(st, 4);
    f->revoked_at = sqlite3_column_type(st, 5) == SQLITE_NULL ? 0 : sq_col_int(st, 5);
    /* A used or revoked time of 0 would read as "never": clamp so the flags stay set. */
    if (sqlite3_column_type(st, 4) != SQLITE_NULL && f->used_at == 0)
        f->used_at = 1;
    if (sqlite3_column_type(st, 5) != SQLITE_NULL && f->revoked_at == 0)
        f->revoked_at = 1;

cleanup:
    sq_done(st);
    return rc;
}

struct rt_rotate_args {
    const unsigned char *old_hash;
    const struct refresh_token *next;
    int64_t now;
    enum refresh_outcome *outcome;
    char *user_id_out;
};

static enum store_rc rt_rotate_tx(struct sq *c, void *arg)
{
    struct rt_rotate_args *a = arg;
    struct rt_found f;
    sqlite3_stmt *st = NULL;

    *a->outcome = REFRESH_UNKNOWN;
    a->user_id_out[0] = '\0';
    enum store_rc rc = rt_find_tx(c, a->old_hash, &f, "refresh_rotate");
    if (rc == STORE_NOTFOUND) {
        rc = STORE_OK; /* outcome UNKNOWN is the answer */
        goto cleanup;
    }
    if (rc != STORE_OK)
        goto cleanup;
    memcpy(a->user_id_out, f.user_id, TG_ID_MAX);

    /* Order matters: a revoked family stays dead (EXPIRED) whatever else is true; a token
     * presented a second time is theft even if it has since expired, so reuse is checked
     * before expiry and revokes the family that the thief or the victim still holds. */
    if (f.revoked_at != 0) {
        *a->outcome = REFRESH_EXPIRED;
        goto cleanup;
    }
    if (f.used_at != 0) {
        rc = rt_revoke_family_tx(c, f.family_id, a->now, "refresh_rotate");
        if (rc == STORE_OK)
            *a->outcome = REFRESH_REUSED;
        goto cleanup;
    }
    if (a->now >= f.expires_at) {
        *a->outcome = REFRESH_EXPIRED;
        goto cleanup;
    }

    st = sq_stmt(c, SQL_RT_MARK_USED);
    if (st == NULL) {
        rc = STORE_ERROR;
        goto cleanup;
    }
    sq_bind_text(st, 1, f.id);
    sqlite3_bind_int64(st, 2, a->now);
    int src = sqlite3_step(st);
    if (src != SQLITE_DONE) {
        rc = sq_fail(c, src, "refresh_rotate", 0);
        goto cleanup;
    }
    rc = rt_insert_tx(c, a->next, f.user_id, f.family_id, "refresh_rotate");
    if (rc == STORE_DUPLICATE) {
        /* Fresh random tokens do not collide; if they do, the caller must not hand this
         * one out, and "duplicate" from a rotate would be meaningless to it. */
        sq_log_error("refresh_rotate", "new token id or hash already exists");
        rc = STORE_ERROR;
    }
    if (rc == STORE_OK)
        *a->outcome = REFRESH_ROTATED;

cleanup:
    sq_done(st);
    return rc;
}

enum store_rc sq_refresh_rotate(struct store *s, const unsigned char old_hash[32],
                                const struct refresh_token *next, int64_t now, enum refresh_outcome *outcome,
                                char user_id_out[TG_ID_MAX])
{
    if (!sq_fits(next->id, TG_ID_MAX)) {
        sq_log_error("refresh_rotate", "unterminated id");
        return STORE_ERROR;
    }
    struct rt_rotate_args a = {old_hash, next, now, outcome, user_id_out};
    return sq_run((struct sq *)s, SQ_WRITE, "refresh_rotate", rt_rotate_tx, &a);
}

struct rt_revoke_args {
    const unsigned char *hash;
    int64_t now;
    char *user_id_out;
};

static enum store_rc rt_revoke_by_hash_tx(struct sq *c, void *arg)
{
    struct rt_revoke_args *a = arg;
    struct rt_found f;
    a->user_id_out[0] = '\0';
    enum store_rc rc = rt_find_tx(c, a->hash, &f, "refresh_revoke_family");
    if (rc == STORE_OK)
        rc = rt_revoke_family_tx(c, f.family_id, a->now, "refresh_revoke_family");
    /* The user is named so that the caller can end the access tokens too (auth epoch). */
    if (rc == STORE_OK)
        memcpy(a->user_id_out, f.user_id, TG_ID_MAX);
    return rc;
}

enum store_rc sq_refresh_revoke_family(struct store *s, const unsigned char hash[32], int64_t now,
                                       char user_id_out[TG_ID_MAX])
{
    struct rt_revoke_args a = {hash, now, user_id_out};
    return sq_run((struct sq *)s, SQ_WRITE, "refresh_revoke_family", rt_revoke_by_hash_tx, &a);
}

static enum store_rc rt_revoke_user_tx(struct sq *c, const char *user_id, int64_t now)
{
    enum store_rc rc = STORE_OK;
    sqlite3_stmt *st = sq_stmt(c, SQL_RT_REVOKE_USER);
    if (st == NULL)
        return STORE_ERROR;
    sq_bind_text(st, 1, user_id);
    sqlite3_bind_int64(st, 2, now);
    int src = sqlite3_step(st);
    if (src != SQLITE_DONE)
        rc = sq_fail(c, src, "refresh_revoke_user", 0);
    sq_done(st);
    return rc;
}

struct rt_revoke_user_args {
    const char *user_id;
    int64_t now;
};

static enum store_rc rt_revoke_user_run(struct sq *c, void *arg)
{
    struct rt_revoke_user_args *a = arg;
    return rt_revoke_user_tx(c, a->user_id, a->now);
}

enum store_rc sq_refresh_revoke_user(struct store *s, const char *user_id, int64_t now)
{
    struct rt_revoke_user_args a = {user_id, now};
    return sq_run((struct sq *)s, SQ_WRITE, "refresh_revoke_user", rt_revoke_user_run, &a);
}

static enum store_rc rt_live_user_tx(struct sq *c, void *arg)
{
    struct rt_revoke_args *a = arg;
    struct rt_found f;
    enum store_rc rc = rt_find_tx(c, a->hash, &f, "refresh_live_user");
    if (rc != STORE_OK)
        return rc;
    /* A used, revoked or expired token names its user but proves nothing any more. */
    if (f.used_at != 0 || f.revoked_at != 0 || f.expires_at <= a->now)
        return STORE_NOTFOUND;
    memcpy(a->user_id_out, f.user_id, TG_ID_MAX);
    return STORE_OK;
}

enum store_rc sq_refresh_live_user(struct store *s, const unsigned char hash[32], int64_t now,
                                   char user_id_out[TG_ID_MAX])
{
    struct rt_revoke_args a = {hash, now, user_id_out};
    user_id_out[0] = '\0';
    return sq_run((struct sq *)s, SQ_READ, "refresh_live_user", rt_live_user_tx, &a);
}
