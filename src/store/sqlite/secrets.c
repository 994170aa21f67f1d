/*
 * secrets.c - one-time secrets: login codes from browser sign-in, used OAuth state nonces,
 * and mail tokens (verify an address, reset a password).
 *
 * Only SHA-256 hashes of codes and tokens reach this file. Consuming is one conditional
 * UPDATE (used_at IS NULL AND not expired), so of two concurrent presentations exactly one
 * wins; the loser is told whether it was a replay (CONFLICT) or never valid (NOTFOUND).
 */
#include <string.h>

#include "store/sqlite/sq.h"

static const char SQL_LC_INSERT[] = "INSERT INTO login_codes(hash, user_id, provider, created_at, expires_at)"
                                    " VALUES (?1, ?2, ?3, ?4, ?5)";
static const char SQL_LC_CONSUME[] = "UPDATE login_codes SET used_at = ?2"
                                     " WHERE hash = ?1 AND used_at IS NULL AND expires_at > ?2 RETURNING user_id";
static const char SQL_LC_PEEK[] = "SELECT user_id FROM login_codes WHERE hash = ?1 AND used_at IS NOT NULL";
static const char SQL_STATE_USE[] = "INSERT INTO oauth_states_used(nonce, expires_at) VALUES (?1, ?2)";
static const char SQL_ET_INSERT[] =
    "INSERT INTO email_tokens(hash, user_id, purpose, email, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
static const char SQL_ET_CONSUME[] =
    "UPDATE email_tokens SET used_at = ?3 WHERE hash = ?1 AND purpose = ?2 AND used_at IS NULL AND expires_at > ?3"
    " RETURNING user_id, email";
static const char SQL_ET_PEEK[] =
    "SELECT user_id, email FROM email_tokens WHERE hash = ?1 AND purpose = ?2 AND used_at IS NOT NULL";
static const char SQL_ET_REVOKE[] =
    "UPDATE email_tokens SET used_at = ?3 WHERE user_id = ?1 AND purpose = ?2 AND used_at IS NULL";
static const char SQL_ET_COUNT[] =
    "SELECT count(*) FROM email_tokens WHERE user_id = ?1 AND purpose = ?2 AND created_at >= ?3";

static const char *purpose_name(enum email_token_purpose p)
{
    return p == EMAIL_TOKEN_RESET ? "reset" : "verify";
}

/* ---- login codes ---- */

struct lc_args {
    const unsigned char *hash;
    const char *user_id, *provider;
    int64_t now, expires_at;
    char *user_id_out;
};

static enum store_rc lc_insert_tx(struct sq *c, void *arg)
{
    struct lc_args *a = arg;
    enum store_rc rc = STORE_OK;
    sqlite3_stmt *st = sq_stmt(c, SQL_LC_INSERT);
    if (st == NULL)
        return STORE_ERROR;
    sqlite3_bind_blob(st, 1, a->hash, 32, SQLITE_STATIC);
    sq_bind_text(st, 2, a->user_id);
    sq_bind_text(st, 3, a->provider);
    sqlite3_bind_int64(st, 4, a->now);
    sqlite3_bind_int64(st, 5, a->expires_at);
    int src = sqlite3_step(st);
    if (src != SQLITE_DONE)
        rc = sq_fail(c, src, "login_code_insert", 1);
    sq_done(st);
    return rc;
}

enum store_rc sq_login_code_insert(struct store *s, const unsigned char hash[32], const char *user_id,
                                   const char *provider, int64_t now, int64_t expires_at)
{
    struct lc_args a = {hash, user_id, provider, now, expires_at, NULL};
    return sq_run((struct sq *)s, SQ_WRITE, "login_code_insert", lc_insert_tx, &a);
}

/*
 * Runs a consuming UPDATE ... RETURNING (cols into out1/out2); when it changed nothing, the
 * peek statement tells a used secret (CONFLICT, outputs filled) from an unknown or expired
 * one (NOTFOUND). Both statements bind ?1 hash, and ?2 purpose when `purpose` >= 0.
 */
static enum store_rc consume_tx(struct sq *c, const char *sql, const char *peek, const char *op,
                                const unsigned char *hash, int purpose, int64_t now, char *out1, size_t cap1,
                                char *out2, size_t cap2)
{
    enum store_rc rc = STORE_OK;
    sqlite3_stmt *st = sq_stmt(c, sql);
    if (st == NULL)
        return STORE_ERROR;
    sqlite3_bind_blob(st, 1, hash, 32, SQLITE_STATIC);
    if (purpose >= 0) {
        sq_bind_text(st, 2, purpose_name((enum email_token_purpose)purpose));
        sqlite3_bind_int64(st, 3, now);
    } else {
        sqlite3_bind_int64(st, 2, now);
    }
    int src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        if (sq_col_text(st, 0, out1, cap1) < 0 || (out2 != NULL && sq_col_text(st, 1, out2, cap2) < 0)) {
            sq_log_error(op, "stored field too long");
            rc = STORE_ERROR;
        } else {
            src = sqlite3_step(st); /* finishes the UPDATE */
            if (src != SQLITE_DONE)
                rc = sq_fail(c, src, op, 0);
        }
        sq_done(st);
        return rc;
    }
    if (src != SQLITE_DONE) {
        rc = sq_fail(c, src, op, 0);
        sq_done(st);
        return rc;
    }
    sq_done(st);

    st = sq_stmt(c, peek);
    if (st == NULL)
        return STORE_ERROR;
    sqlite3_bind_blob(st, 1, hash, 32, SQLITE_STATIC);
    if (purpose >= 0)
        sq_bind_text(st, 2, purpose_name((enum email_token_purpose)purpose));
    src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        rc = STORE_CONFLICT;
        if (sq_col_text(st, 0, out1, cap1) < 0 || (out2 != NULL && sq_col_text(st, 1, out2, cap2) < 0))
            rc = STORE_ERROR;
    } else if (src == SQLITE_DONE) {
        rc = STORE_NOTFOUND;
    } else {
        rc = sq_fail(c, src, op, 0);
    }
    sq_done(st);
    return rc;
}

static enum store_rc lc_consume_tx(struct sq *c, void *arg)
{
    struct lc_args *a = arg;
    return consume_tx(c, SQL_LC_CONSUME, SQL_LC_PEEK, "login_code_consume", a->hash, -1, a->now, a->user_id_out,
                      TG_ID_MAX, NULL, 0);
}

enum store_rc sq_login_code_consume(struct store *s, const unsigned char hash[32], int64_t now,
                                    char user_id_out[TG_ID_MAX])
{
    struct lc_args a = {hash, NULL, NULL, now, 0, user_id_out};
    return sq_run((struct sq *)s, SQ_WRITE, "login_code_consume", lc_consume_tx, &a);
}

/* ---- OAuth states ---- */

struct state_args {
    const unsigned char *nonce;
    int64_t expires_at;
};

static enum store_rc state_use_tx(struct sq *c, void *arg)
{
    struct state_args *a = arg;
    enum store_rc rc = STORE_OK;
    sqlite3_stmt *st = sq_stmt(c, SQL_STATE_USE);
    if (st == NULL)
        return STORE_ERROR;
    sqlite3_bind_blob(st, 1, a->nonce, 16, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, a->expires_at);
    int src = sqlite3_step(st);
    if (src != SQLITE_DONE)
        rc = sq_fail(c, src, "oauth_state_use", 1);
    sq_done(st);
    return rc;
}

enum store_rc sq_oauth_state_use(struct store *s, const unsigned char nonce[16], int64_t expires_at)
{
    struct state_args a = {nonce, expires_at};
    return sq_run((struct sq *)s, SQ_WRITE, "oauth_state_use", state_use_tx, &a);
}

/* ---- mail tokens ---- */

struct et_args {
    const unsigned char *hash;
    const char *user_id, *email;
    enum email_token_purpose purpose;
    int64_t now, expires_at;
    char *user_id_out, *email_out;
    int64_t *count;
};

static enum store_rc et_insert_tx(struct sq *c, void *arg)
{
    struct et_args *a = arg;
    enum store_rc rc = STORE_OK;
    sqlite3_stmt *st = sq_stmt(c, SQL_ET_INSERT);
    if (st == NULL)
        return STORE_ERROR;
    sqlite3_bind_blob(st, 1, a->hash, 32, SQLITE_STATIC);
    sq_bind_text(st, 2, a->user_id);
    sq_bind_text(st, 3, purpose_name(a->purpose));
    sq_bind_text(st, 4, a->email);
    sqlite3_bind_int64(st, 5, a->now);
    sqlite3_bind_int64(st, 6, a->expires_at);
    int src = sqlite3_step(st);
    if (src != SQLITE_DONE)
        rc = sq_fail(c, src, "email_token_insert", 1);
    sq_done(st);
    return rc;
}

enum store_rc sq_email_token_insert(struct store *s, const unsigned char hash[32], const char *user_id,
                                    enum email_token_purpose purpose, const char *email, int64_t now,
                                    int64_t expires_at)
{
    if (email == NULL || email[0] == '\0' || !sq_fits(email, TG_EMAIL_MAX + 1)) {
        sq_log_error("email_token_insert", "email empty or too long");
        return STORE_ERROR;
    }
    struct et_args a = {.hash = hash, .user_id = user_id, .email = email, .purpose = purpose, .now = now,
                        .expires_at = expires_at};
    return sq_run((struct sq *)s, SQ_WRITE, "email_token_insert", et_insert_tx, &a);
}

static enum store_rc et_consume_tx(struct sq *c, void *arg)
{
    struct et_args *a = arg;
    return consume_tx(c, SQL_ET_CONSUME, SQL_ET_PEEK, "email_token_consume", a->hash, (int)a->purpose, a->now,
                      a->user_id_out, TG_ID_MAX, a->email_out, TG_EMAIL_MAX + 1);
}

enum store_rc sq_email_token_consume(struct store *s, const unsigned char hash[32], enum email_token_purpose purpose,
                                     int64_t now, char user_id_out[TG_ID_MAX], char email_out[TG_EMAIL_MAX + 1])
{
    struct et_args a = {.hash = hash, .purpose = purpose, .now = now, .user_id_out = user_id_out,
                        .email_out = email_out};
    return sq_run((struct sq *)s, SQ_WRITE, "email_token_consume", et_consume_tx, &a);
}

static enum store_rc et_revoke_tx(struct sq *c, void *arg)
{
    struct et_args *a = arg;
    enum store_rc rc = STORE_OK;
    sqlite3_stmt *st = sq_stmt(c, SQL_ET_REVOKE);
    if (st == NULL)
        return STORE_ERROR;
    sq_bind_text(st, 1, a->user_id);
    sq_bind_text(st, 2, purpose_name(a->purpose));
    sqlite3_bind_int64(st, 3, a->now);
    int src = sqlite3_step(st);
    if (src != SQLITE_DONE)
        rc = sq_fail(c, src, "email_token_revoke", 0);
    sq_done(st);
    return rc;
}

enum store_rc sq_email_token_revoke(struct store *s, const char *user_id, enum email_token_purpose purpose,
                                    int64_t now)
{
    struct et_args a = {.user_id = user_id, .purpose = purpose, .now = now};
    return sq_run((struct sq *)s, SQ_WRITE, "email_token_revoke", et_revoke_tx, &a);
}

static enum store_rc et_count_tx(struct sq *c, void *arg)
{
    struct et_args *a = arg;
    enum store_rc rc = STORE_OK;
    sqlite3_stmt *st = sq_stmt(c, SQL_ET_COUNT);
    if (st == NULL)
        return STORE_ERROR;
    sq_bind_text(st, 1, a->user_id);
    sq_bind_text(st, 2, purpose_name(a->purpose));
    sqlite3_bind_int64(st, 3, a->now);
    int src = sqlite3_step(st);
    if (src == SQLITE_ROW)
        *a->count = sq_col_int(st, 0);
    else
        rc = sq_fail(c, src, "email_token_count_since", 0);
    sq_done(st);
    return rc;
}

enum store_rc sq_email_token_count_since(struct store *s, const char *user_id, enum email_token_purpose purpose,
                                         int64_t since, int64_t *count)
{
    struct et_args a = {.user_id = user_id, .purpose = purpose, .now = since, .count = count};
    return sq_run((struct sq *)s, SQ_AUTOCOMMIT, "email_token_count_since", et_count_tx, &a);
}
