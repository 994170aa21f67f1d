/*
 * users.c - accounts: create (with its empty wallet), read, profile, password, role,
 * disabled flag and the auth epoch. Storage only: which of these changes must end sessions
 * is decided in domain/, which composes them with the token operations.
 */
#include <string.h>

#include "store/sqlite/sq.h"

static const char SQL_USER_INSERT[] = "INSERT INTO users(id, email, display_name, role, region, "
                                      "password_hash, created_at, updated_at, disabled, email_verified, locale, signup_region)"
                                      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)";
static const char SQL_WALLET_INSERT[] =
    "INSERT INTO wallets(user_id, plan_credits, paid_credits, plan_expires_at, updated_at)"
    " VALUES (?1, 0, 0, NULL, ?2)";
static const char SQL_USER_BY_ID[] = "SELECT " SQ_USER_COLS " FROM users u WHERE u.id = ?1";
static const char SQL_USER_BY_EMAIL[] = "SELECT " SQ_USER_COLS " FROM users u WHERE u.email = ?1";
static const char SQL_USER_PROFILE[] =
    "UPDATE users SET display_name = coalesce(?2, display_name),"
    " region = CASE WHEN ?3 IS NULL THEN region WHEN ?3 = '' THEN NULL ELSE ?3 END,"
    " updated_at = ?4 WHERE id = ?1";
/* ?3 NULL: unconditional. Otherwise only while the stored hash still equals ?3, where a
 * NULL column (no password) equals "" (how struct user reads it back). */
static const char SQL_USER_PASSWORD[] =
    "UPDATE users SET password_hash = ?2, updated_at = ?4"
    " WHERE id = ?1 AND (?3 IS NULL OR coalesce(password_hash, '') = ?3)";
static const char SQL_USER_EXISTS[] = "SELECT 1 FROM users WHERE id = ?1";
static const char SQL_USER_ROLE[] = "UPDATE users SET role = ?2, updated_at = ?3 WHERE id = ?1";
static const char SQL_USER_DISABLED[] = "UPDATE users SET disabled = ?2, updated_at = ?3 WHERE id = ?1";
/* The address must still be the one the token was sent to. */
static const char SQL_USER_EMAIL_VERIFIED[] =
    "UPDATE users SET email_verified = 1, updated_at = ?3 WHERE id = ?1 AND email = ?2";
static const char SQL_USER_SET_EMAIL[] =
    "UPDATE users SET email = ?2, email_verified = CASE WHEN ?2 IS NULL THEN 0 ELSE ?3 END, updated_at = ?4"
    " WHERE id = ?1";
static const char SQL_USER_SET_LOCALE[] = "UPDATE users SET locale = ?2, updated_at = ?3 WHERE id = ?1";
static const char SQL_USER_BUMP_EPOCH[] =
    "UPDATE users SET auth_epoch = auth_epoch + 1, updated_at = ?2 WHERE id = ?1 RETURNING auth_epoch";

int sq_read_user(sqlite3_stmt *st, int first, struct user *u)
{
    memset(u, 0, sizeof *u);
    if (sq_col_text(st, first + 0, u->id, sizeof u->id) < 0 ||
        sq_col_text(st, first + 1, u->email, sizeof u->email) < 0 ||
        sq_col_text(st, first + 2, u->display_name, sizeof u->display_name) < 0 ||
        sq_col_text(st, first + 3, u->role, sizeof u->role) < 0 ||
        sq_col_text(st, first + 4, u->region, sizeof u->region) < 0 ||
        sq_col_text(st, first + 5, u->password_hash, sizeof u->password_hash) < 0)
        return -1;
    u->created_at = sq_col_int(st, first + 6);
    u->updated_at = sq_col_int(st, first + 7);
    u->disabled = (int)sq_col_int(st, first + 8);
    u->auth_epoch = sq_col_int(st, first + 9);
    u->email_verified = (int)sq_col_int(st, first + 10);
    if (sq_col_text(st, first + 11, u->locale, sizeof u->locale) < 0 ||
        sq_col_text(st, first + 12, u->signup_region, sizeof u->signup_region) < 0)
        return -1;
    return 0;
}

/* Rejects user fields that would not read back intact (they are fixed-size in struct user,
 * so only a missing terminator can make them too long). */
static int user_fields_ok(const struct user *u)
{
    return sq_fits(u->id, sizeof u->id) && u->id[0] != '\0' && sq_fits(u->email, sizeof u->email) &&
           sq_fits(u->locale, sizeof u->locale) && sq_fits(u->display_name, sizeof u->display_name) &&
           sq_fits(u->role, sizeof u->role) && sq_fits(u->region, sizeof u->region) &&
           sq_fits(u->signup_region, sizeof u->signup_region) &&
           sq_fits(u->password_hash, sizeof u->password_hash);
}

struct user_create_args {
    const struct user *u;
};

static enum store_rc user_create_tx(struct sq *c, void *arg)
{
    const struct user *u = ((struct user_create_args *)arg)->u;
    enum store_rc rc = STORE_OK;
    sqlite3_stmt *st = sq_stmt(c, SQL_USER_INSERT);
    if (st == NULL)
        return STORE_ERROR;
    sq_bind_text(st, 1, u->id);
    /* An account without an address stores NULL: UNIQUE allows any number of those. */
    sq_bind_text_or_null(st, 2, u->email);
    sq_bind_text_or_null(st, 3, u->display_name);
    sq_bind_text(st, 4, u->role[0] ? u->role : "user");
    sq_bind_text_or_null(st, 5, u->region);
    sq_bind_text_or_null(st, 6, u->password_hash);
    sqlite3_bind_int64(st, 7, u->created_at);
    sqlite3_bind_int64(st, 8, u->updated_at ? u->updated_at : u->created_at);
    sqlite3_bind_int(st, 9, u->disabled ? 1 : 0);
    sqlite3_bind_int(st, 10, u->email_verified && u->email[0] ? 1 : 0);
    sq_bind_text_or_null(st, 11, u->locale);
    sq_bind_text_or_null(st, 12, u->signup_region);
    int src = sqlite3_step(st);
    if (src != SQLITE_DONE) {
        rc = sq_fail(c, src, "user_create", 1);
        goto cleanup;
    }
    sq_done(st);

    st = sq_stmt(c, SQL_WALLET_INSERT);
    if (st == NULL) {
        rc = STORE_ERROR;
        goto cleanup;
    }
    sq_bind_text(st, 1, u->id);
    sqlite3_bind_int64(st, 2, u->created_at);
    src = sqlite3_step(st);
    if (src != SQLITE_DONE)
        rc = sq_fail(c, src, "user_create", 1);

cleanup:
    sq_done(st);
    return rc;
}

enum store_rc sq_user_create(struct store *s, const struct user *u)
{
    if (!user_fields_ok(u)) {
        sq_log_error("user_create", "user field unterminated, or id empty");
        return STORE_ERROR;
    }
    /* auth_epoch is not bound: a new account starts at the column's default, 0. */
    struct user_create_args a = {u};
    return sq_run((struct sq *)s, SQ_WRITE, "user_create", user_create_tx, &a);
}

struct user_get_args {
    const char *sql;
    const char *key;
    struct user *out;
};

static enum store_rc user_get_tx(struct sq *c, void *arg)
{
    struct user_get_args *a = arg;
    enum store_rc rc = STORE_OK;
    sqlite3_stmt *st = sq_stmt(c, a->sql);
    if (st == NULL)
        return STORE_ERROR;
    sq_bind_text(st, 1, a->key);
    int src = sqlite3_step(st);
    if (src == SQLITE_DONE) {
        rc = STORE_NOTFOUND;
    } else if (src != SQLITE_ROW) {
        rc = sq_fail(c, src, "user_get", 0);
    } else if (sq_read_user(st, 0, a->out) < 0) {
        sq_log_error("user_get", "stored user field too long");
        rc = STORE_ERROR;
    }
    sq_done(st);
    return rc;
}

enum store_rc sq_user_get(struct store *s, const char *id, struct user *out)
{
    struct user_get_args a = {SQL_USER_BY_ID, id, out};
    return sq_run((struct sq *)s, SQ_AUTOCOMMIT, "user_get", user_get_tx, &a);
}

enum store_rc sq_user_get_by_email(struct store *s, const char *email, struct user *out)
{
    struct user_get_args a = {SQL_USER_BY_EMAIL, email, out};
    return sq_run((struct sq *)s, SQ_AUTOCOMMIT, "user_get_by_email", user_get_tx, &a);
}

/* One UPDATE users ... WHERE id = ?1 with text ?2 and time ?3 (or the profile variant). */
struct user_update_args {
    const char *sql;
    const char *op;
    const char *id;
    const char *t2;
    const char *t3; /* profile only */
    int i2;         /* disabled: integer ?2 instead of t2 */
    int64_t now;
};

static enum store_rc user_update_tx(struct sq *c, void *arg)
{
    struct user_update_args *a = arg;
    enum store_rc rc = STORE_OK;
    sqlite3_stmt *st = sq_stmt(c, a->sql);
    if (st == NULL)
        return STORE_ERROR;
    sq_bind_text(st, 1, a->id);
    if (a->sql == SQL_USER_DISABLED)
        sqlite3_bind_int(st, 2, a->i2);
    else
        sq_bind_text(st, 2, a->t2);
    if (a->sql == SQL_USER_PROFILE) {
        sq_bind_text(st, 3, a->t3);
        sqlite3_bind_int64(st, 4, a->now);
    } else {
        sqlite3_bind_int64(st, 3, a->now);
    }
    int src = sqlite3_step(st);
    if (src != SQLITE_DONE) {
        rc = sq_fail(c, src, a->op, 0);
        goto cleanup;
    }
    if (sqlite3_changes(c->db) == 0)
        rc = STORE_NOTFOUND;

cleanup:
    sq_done(st);
    return rc;
}

enum store_rc sq_user_update_profile(struct store *s, const char *id, const char *display_name,
                                     const char *region, int64_t now)
{
    struct user u;
    if ((display_name != NULL && !sq_fits(display_name, sizeof u.display_name)) ||
        (region != NULL && !sq_fits(region, sizeof u.region))) {
        sq_log_error("user_update_profile", "display_name or region too long");
        return STORE_ERROR;
    }
    struct user_update_args a = {SQL_USER_PROFILE, "user_update_profile", id, display_name, region, 0, now};
    return sq_run((struct sq *)s, SQ_WRITE, a.op, user_update_tx, &a);
}

/* Steps `SELECT 1 FROM users WHERE id = ?1`: STORE_OK when the user exists, STORE_NOTFOUND
 * when not, or an error. */
static enum store_rc user_exists_tx(struct sq *c, const char *id, const char *op)
{
    enum store_rc rc = STORE_OK;
    sqlite3_stmt *st = sq_stmt(c, SQL_USER_EXISTS);
    if (st == NULL)
        return STORE_ERROR;
    sq_bind_text(st, 1, id);
    int src = sqlite3_step(st);
    if (src == SQLITE_DONE)
        rc = STORE_NOTFOUND;
    else if (src != SQLITE_ROW)
        rc = sq_fail(c, src, op, 0);
    sq_done(st);
    return rc;
}

struct user_password_args {
    const char *id, *old_hash, *new_hash;
    int64_t now;
};

static enum store_rc user_password_tx(struct sq *c, void *arg)
{
    struct user_password_args *a = arg;
    enum store_rc rc = STORE_OK;
    sqlite3_stmt *st = sq_stmt(c, SQL_USER_PASSWORD);
    if (st == NULL)
        return STORE_ERROR;
    sq_bind_text(st, 1, a->id);
    /* "" is stored as NULL, as user_create stores an account without a password. */
    sq_bind_text_or_null(st, 2, a->new_hash);
    sq_bind_text(st, 3, a->old_hash);
    sqlite3_bind_int64(st, 4, a->now);
    int src = sqlite3_step(st);
    int changed = src == SQLITE_DONE && sqlite3_changes(c->db) > 0;
    if (src != SQLITE_DONE)
        rc = sq_fail(c, src, "user_set_password", 0);
    sq_done(st);
    if (rc != STORE_OK || changed)
        return rc;
    /* Nothing changed: either there is no such user or the condition failed. The second
     * read is in the same transaction, so the answer is about the same state. */
    rc = user_exists_tx(c, a->id, "user_set_password");
    return rc == STORE_OK ? STORE_CONFLICT : rc;
}

enum store_rc sq_user_set_password(struct store *s, const char *id, const char *old_hash, const char *new_hash,
                                   int64_t now)
{
    struct user u;
    /* The only check here is the one that keeps the column readable: a hash that does not
     * fit struct user's buffer would be stored and never read back. */
    if (!sq_fits(new_hash, sizeof u.password_hash)) {
        sq_log_error("user_set_password", "password hash missing or too long");
        return STORE_ERROR;
    }
    struct user_password_args a = {id, old_hash, new_hash, now};
    return sq_run((struct sq *)s, SQ_WRITE, "user_set_password", user_password_tx, &a);
}

enum store_rc sq_user_set_role(struct store *s, const char *id, const char *role, int64_t now)
{
    /* The CHECK constraint refuses anything but 'user'/'admin' (logged as an error). */
    struct user_update_args a = {SQL_USER_ROLE, "user_set_role", id, role, NULL, 0, now};
    return sq_run((struct sq *)s, SQ_WRITE, a.op, user_update_tx, &a);
}

enum store_rc sq_user_set_disabled(struct store *s, const char *id, int disabled, int64_t now)
{
    struct user_update_args a = {SQL_USER_DISABLED, "user_set_disabled", id, NULL, NULL, disabled ? 1 : 0, now};
    return sq_run((struct sq *)s, SQ_WRITE, a.op, user_update_tx, &a);
}

struct user_epoch_args {
    const char *id;
    int64_t now;
    int64_t *epoch;
};

static enum store_rc user_epoch_tx(struct sq *c, void *arg)
{
    struct user_epoch_args *a = arg;
    enum store_rc rc = STORE_OK;
    *a->epoch = 0;
    sqlite3_stmt *st = sq_stmt(c, SQL_USER_BUMP_EPOCH);
    if (st == NULL)
        return STORE_ERROR;
    sq_bind_text(st, 1, a->id);
    sqlite3_bind_int64(st, 2, a->now);
    int src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        *a->epoch = sq_col_int(st, 0);
        src = sqlite3_step(st); /* RETURNING: the change is complete; drain to DONE */
        if (src == SQLITE_DONE)
            goto cleanup;
    } else if (src == SQLITE_DONE) {
        rc = STORE_NOTFOUND;
        goto cleanup;
    }
    rc = sq_fail(c, src, "user_bump_epoch", 0);

cleanup:
    sq_done(st);
    return rc;
}

enum store_rc sq_user_bump_epoch(struct store *s, const char *id, int64_t now, int64_t *epoch)
{
    struct user_epoch_args a = {id, now, epoch};
    return sq_run((struct sq *)s, SQ_WRITE, "user_bump_epoch", user_epoch_tx, &a);
}

/* ---- email and locale ---- */

struct user_email_args {
    const char *sql, *op, *id, *text;
    int verified;
    int64_t now;
};

static enum store_rc user_email_tx(struct sq *c, void *arg)
{
    struct user_email_args *a = arg;
    enum store_rc rc = STORE_OK;
    sqlite3_stmt *st = sq_stmt(c, a->sql);
    if (st == NULL)
        return STORE_ERROR;
    sq_bind_text(st, 1, a->id);
    if (a->sql == SQL_USER_EMAIL_VERIFIED) {
        sq_bind_text(st, 2, a->text);
        sqlite3_bind_int64(st, 3, a->now);
    } else if (a->sql == SQL_USER_SET_EMAIL) {
        sq_bind_text_or_null(st, 2, a->text);
        sqlite3_bind_int(st, 3, a->verified ? 1 : 0);
        sqlite3_bind_int64(st, 4, a->now);
    } else {
        sq_bind_text_or_null(st, 2, a->text);
        sqlite3_bind_int64(st, 3, a->now);
    }
    int src = sqlite3_step(st);
    int changed = src == SQLITE_DONE && sqlite3_changes(c->db) > 0;
    if (src != SQLITE_DONE)
        rc = sq_fail(c, src, a->op, 1);
    sq_done(st);
    if (rc != STORE_OK || changed)
        return rc;
    rc = user_exists_tx(c, a->id, a->op);
    /* The user exists: only the verification's address condition can have failed. */
    return rc == STORE_OK && a->sql == SQL_USER_EMAIL_VERIFIED ? STORE_CONFLICT : rc;
}

enum store_rc sq_user_set_email_verified(struct store *s, const char *id, const char *email, int64_t now)
{
    struct user_email_args a = {SQL_USER_EMAIL_VERIFIED, "user_set_email_verified", id, email, 1, now};
    return sq_run((struct sq *)s, SQ_WRITE, a.op, user_email_tx, &a);
}

enum store_rc sq_user_set_email(struct store *s, const char *id, const char *email, int verified, int64_t now)
{
    struct user u;
    if (email != NULL && !sq_fits(email, sizeof u.email)) {
        sq_log_error("user_set_email", "email too long");
        return STORE_ERROR;
    }
    struct user_email_args a = {SQL_USER_SET_EMAIL, "user_set_email", id, email, verified, now};
    return sq_run((struct sq *)s, SQ_WRITE, a.op, user_email_tx, &a);
}

enum store_rc sq_user_set_locale(struct store *s, const char *id, const char *locale, int64_t now)
{
    struct user u;
    if (locale != NULL && !sq_fits(locale, sizeof u.locale)) {
        sq_log_error("user_set_locale", "locale too long");
        return STORE_ERROR;
    }
    struct user_email_args a = {SQL_USER_SET_LOCALE, "user_set_locale", id, locale, 0, now};
    return sq_run((struct sq *)s, SQ_WRITE, a.op, user_email_tx, &a);
}
