/*
 * identities.c - sign-in identities at providers (Google, WeChat, ...): link, find with the
 * user, list, refresh what the provider said, unlink. Which identity may link to which
 * account is decided in domain/; this file only stores.
 */
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "store/sqlite/sq.h"

#define IDN_COLS "i.id, i.user_id, i.provider, i.subject, i.email, i.email_verified, i.display_name, " \
                 "i.created_at, i.last_used_at"

static const char SQL_IDN_INSERT[] =
    "INSERT INTO identities(id, user_id, provider, subject, email, email_verified, display_name, created_at)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
static const char SQL_IDN_FIND[] = "SELECT " IDN_COLS ", " SQ_USER_COLS
                                   " FROM identities i JOIN users u ON u.id = i.user_id"
                                   " WHERE i.provider = ?1 AND i.subject = ?2";
static const char SQL_IDN_LIST[] =
    "SELECT " IDN_COLS " FROM identities i WHERE i.user_id = ?1 ORDER BY i.created_at, i.id";
static const char SQL_IDN_TOUCH[] = "UPDATE identities SET email = ?2, email_verified = ?3,"
                                    " display_name = coalesce(?4, display_name), last_used_at = ?5 WHERE id = ?1";
static const char SQL_IDN_DELETE[] = "DELETE FROM identities WHERE id = ?2 AND user_id = ?1";

#define IDN_NCOLS 9

static int idn_read(sqlite3_stmt *st, struct identity *i)
{
    memset(i, 0, sizeof *i);
    if (sq_col_text(st, 0, i->id, sizeof i->id) < 0 || sq_col_text(st, 1, i->user_id, sizeof i->user_id) < 0 ||
        sq_col_text(st, 2, i->provider, sizeof i->provider) < 0 ||
        sq_col_text(st, 3, i->subject, sizeof i->subject) < 0 || sq_col_text(st, 4, i->email, sizeof i->email) < 0 ||
        sq_col_text(st, 6, i->display_name, sizeof i->display_name) < 0)
        return -1;
    i->email_verified = (int)sq_col_int(st, 5);
    i->created_at = sq_col_int(st, 7);
    i->last_used_at = sq_col_int(st, 8);
    return 0;
}

static enum store_rc idn_insert_tx(struct sq *c, void *arg)
{
    const struct identity *i = arg;
    enum store_rc rc = STORE_OK;
    sqlite3_stmt *st = sq_stmt(c, SQL_IDN_INSERT);
    if (st == NULL)
        return STORE_ERROR;
    sq_bind_text(st, 1, i->id);
    sq_bind_text(st, 2, i->user_id);
    sq_bind_text(st, 3, i->provider);
    sq_bind_text(st, 4, i->subject);
    sq_bind_text_or_null(st, 5, i->email);
    sqlite3_bind_int(st, 6, i->email_verified && i->email[0] ? 1 : 0);
    sq_bind_text_or_null(st, 7, i->display_name);
    sqlite3_bind_int64(st, 8, i->created_at);
    int src = sqlite3_step(st);
    if (src != SQLITE_DONE)
        rc = sq_fail(c, src, "identity_insert", 1);
    sq_done(st);
    return rc;
}

enum store_rc sq_identity_insert(struct store *s, const struct identity *i)
{
    if (!sq_fits(i->id, sizeof i->id) || i->id[0] == '\0' || !sq_fits(i->user_id, sizeof i->user_id) ||
        !sq_fits(i->provider, sizeof i->provider) || i->provider[0] == '\0' ||
        !sq_fits(i->subject, sizeof i->subject) || i->subject[0] == '\0' || !sq_fits(i->email, sizeof i->email) ||
        !sq_fits(i->display_name, sizeof i->display_name)) {
        sq_log_error("identity_insert", "identity field unterminated or empty");
        return STORE_ERROR;
    }
    return sq_run((struct sq *)s, SQ_WRITE, "identity_insert", idn_insert_tx, (void *)(uintptr_t)i);
}

struct idn_find_args {
    const char *provider, *subject;
    struct identity *out;
    struct user *user;
};

static enum store_rc idn_find_tx(struct sq *c, void *arg)
{
    struct idn_find_args *a = arg;
    enum store_rc rc = STORE_OK;
    sqlite3_stmt *st = sq_stmt(c, SQL_IDN_FIND);
    if (st == NULL)
        return STORE_ERROR;
    sq_bind_text(st, 1, a->provider);
    sq_bind_text(st, 2, a->subject);
    int src = sqlite3_step(st);
    if (src == SQLITE_DONE) {
        rc = STORE_NOTFOUND;
    } else if (src != SQLITE_ROW) {
        rc = sq_fail(c, src, "identity_find", 0);
    } else if (idn_read(st, a->out) < 0 || sq_read_user(st, IDN_NCOLS, a->user) < 0) {
        sq_log_error("identity_find", "stored field too long");
        rc = STORE_ERROR;
    }
    sq_done(st);
    return rc;
}

enum store_rc sq_identity_find(struct store *s, const char *provider, const char *subject, struct identity *out,
                               struct user *user)
{
    struct idn_find_args a = {provider, subject, out, user};
    return sq_run((struct sq *)s, SQ_AUTOCOMMIT, "identity_find", idn_find_tx, &a);
}

struct idn_list_args {
    const char *user_id;
    struct identity **out;
    size_t *n;
};

static enum store_rc idn_list_tx(struct sq *c, void *arg)
{
    struct idn_list_args *a = arg;
    enum store_rc rc = STORE_OK;
    size_t cap = 0;
    int src;
    free(*a->out);
    *a->out = NULL;
    *a->n = 0;
    sqlite3_stmt *st = sq_stmt(c, SQL_IDN_LIST);
    if (st == NULL)
        return STORE_ERROR;
    sq_bind_text(st, 1, a->user_id);
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        if (*a->n == cap) {
            cap = cap ? cap * 2 : 4;
            *a->out = xrealloc(*a->out, cap * sizeof **a->out);
        }
        if (idn_read(st, &(*a->out)[*a->n]) < 0) {
            sq_log_error("identity_list", "stored identity field too long");
            rc = STORE_ERROR;
            goto cleanup;
        }
        (*a->n)++;
    }
    if (src != SQLITE_DONE)
        rc = sq_fail(c, src, "identity_list", 0);

cleanup:
    sq_done(st);
    if (rc != STORE_OK) {
        free(*a->out);
        *a->out = NULL;
        *a->n = 0;
    }
    return rc;
}

enum store_rc sq_identity_list(struct store *s, const char *user_id, struct identity **out, size_t *n)
{
    struct idn_list_args a = {user_id, out, n};
    *out = NULL;
    *n = 0;
    return sq_run((struct sq *)s, SQ_AUTOCOMMIT, "identity_list", idn_list_tx, &a);
}

struct idn_change_args {
    const char *sql, *op;
    const char *id, *user_id, *email, *display_name;
    int email_verified;
    int64_t now;
};

static enum store_rc idn_change_tx(struct sq *c, void *arg)
{
    struct idn_change_args *a = arg;
    enum store_rc rc = STORE_OK;
    sqlite3_stmt *st = sq_stmt(c, a->sql);
    if (st == NULL)
        return STORE_ERROR;
    if (a->sql == SQL_IDN_TOUCH) {
        sq_bind_text(st, 1, a->id);
        sq_bind_text_or_null(st, 2, a->email);
        sqlite3_bind_int(st, 3, a->email_verified && a->email && a->email[0] ? 1 : 0);
        sq_bind_text_or_null(st, 4, a->display_name);
        sqlite3_bind_int64(st, 5, a->now);
    } else {
        sq_bind_text(st, 1, a->user_id);
        sq_bind_text(st, 2, a->id);
    }
    int src = sqlite3_step(st);
    if (src != SQLITE_DONE)
        rc = sq_fail(c, src, a->op, 0);
    else if (sqlite3_changes(c->db) == 0)
        rc = STORE_NOTFOUND;
    sq_done(st);
    return rc;
}

enum store_rc sq_identity_touch(struct store *s, const char *identity_id, const char *email, int email_verified,
                                const char *display_name, int64_t now)
{
    struct identity i;
    if ((email != NULL && !sq_fits(email, sizeof i.email)) ||
        (display_name != NULL && !sq_fits(display_name, sizeof i.display_name))) {
        sq_log_error("identity_touch", "field too long");
        return STORE_ERROR;
    }
    struct idn_change_args a = {SQL_IDN_TOUCH, "identity_touch", identity_id, NULL, email, display_name,
                                email_verified, now};
    return sq_run((struct sq *)s, SQ_WRITE, a.op, idn_change_tx, &a);
}

enum store_rc sq_identity_delete(struct store *s, const char *user_id, const char *identity_id)
{
    struct idn_change_args a = {SQL_IDN_DELETE, "identity_delete", identity_id, user_id, NULL, NULL, 0, 0};
    return sq_run((struct sq *)s, SQ_WRITE, a.op, idn_change_tx, &a);
}
