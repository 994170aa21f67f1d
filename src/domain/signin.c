/*
 * signin.c - register, login and password change (see signin.h).
 */
#include "domain/signin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ids.h"
#include "core/log.h"
#include "core/mem.h"
#include "crypto/password.h"
#include "domain/audit.h"
#include "domain/ledger.h"
#include "store/call.h"
#include "store/store.h"

enum signin_kind { SIGNIN_REGISTER, SIGNIN_LOGIN, SIGNIN_PASSWORD };

struct signin {
    struct store_call call;
    enum signin_kind kind;
    /* inputs */
    char email[TG_EMAIL_MAX + 1];
    char display_name[TG_NAME_MAX + 1];
    char locale[TG_LOCALE_MAX];
    char signup_region[TG_REGION_MAX];
    char user_id[TG_ID_MAX];
    char *pw; /* wiped and freed by signin_work */
    size_t pw_len;
    char *next; /* password change: the new password */
    size_t next_len;
    /* lookup */
    int have_user;
    struct user user;
    /* work */
    int ok; /* password matched (login, change) / hash made (register) */
    int hash_ok;
    char hash[PASSWORD_HASH_MAX]; /* register / change: the new hash */
    int rehashed;
    char new_hash[PASSWORD_HASH_MAX]; /* login: today's parameters */
    /* finish */
    struct email_signup_rule rule;
    struct email_token vt; /* register: the verification token */
    int64_t verify_ttl_ms;
    int64_t now_ms;
    struct audit_origin from; /* for audit rows written in a flow's transaction */
    struct session_new_refresh nr;
    struct user issued;
    signin_fn cb;
    void *arg;
};

static void signin_wipe(char **p, size_t *len)
{
    if (*p != NULL) {
        explicit_bzero(*p, *len);
        free(*p);
    }
    *p = NULL;
    *len = 0;
}

static char *signin_dup(const char *s, size_t len)
{
    char *p = xmalloc(len + 1);
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

void signin_free(struct signin *ctx)
{
    if (ctx == NULL)
        return;
    signin_wipe(&ctx->pw, &ctx->pw_len);
    signin_wipe(&ctx->next, &ctx->next_len);
    explicit_bzero(ctx, sizeof *ctx);
    free(ctx);
}

const struct user *signin_user(const struct signin *ctx)
{
    return ctx->have_user ? &ctx->user : NULL;
}

void signin_work(void *arg)
{
    struct signin *ctx = arg;
    switch (ctx->kind) {
    case SIGNIN_REGISTER:
        ctx->hash_ok = password_hash(ctx->pw, ctx->pw_len, ctx->hash) == 0;
        ctx->ok = ctx->hash_ok;
        break;
    case SIGNIN_LOGIN:
    case SIGNIN_PASSWORD:
        if (ctx->have_user && ctx->user.password_hash[0]) {
            ctx->ok = password_verify(ctx->user.password_hash, ctx->pw, ctx->pw_len) == 1;
            if (ctx->ok && ctx->kind == SIGNIN_LOGIN && password_needs_rehash(ctx->user.password_hash))
                ctx->rehashed = password_hash(ctx->pw, ctx->pw_len, ctx->new_hash) == 0;
        } else {
            /* Same work as a real verification, so timing does not tell whether the account
             * exists (or signs in only through Google/WeChat). */
            (void)password_verify_dummy(ctx->pw, ctx->pw_len);
            ctx->ok = 0;
        }
        if (ctx->ok && ctx->kind == SIGNIN_PASSWORD)
            ctx->hash_ok = password_hash(ctx->next, ctx->next_len, ctx->hash) == 0;
        break;
    }
    signin_wipe(&ctx->pw, &ctx->pw_len);
    signin_wipe(&ctx->next, &ctx->next_len);
}

static enum signin_rc signin_from_store(enum store_rc rc)
{
    switch (rc) {
    case STORE_OK:
        return SIGNIN_OK;
    case STORE_BUSY:
    case STORE_UNAVAILABLE:
        return SIGNIN_UNAVAILABLE;
    case STORE_CONFLICT:
    case STORE_NOTFOUND:
        return SIGNIN_BAD_CREDENTIALS;
    case STORE_DUPLICATE:
        return SIGNIN_EMAIL_TAKEN;
    default:
        return SIGNIN_ERROR;
    }
}

/* Calls back with rc (and the issued session when rc is SIGNIN_OK). */
static void signin_reply(struct signin *ctx, enum signin_rc rc, const char *reason)
{
    struct signin_result res;
    memset(&res, 0, sizeof res);
    res.rc = rc;
    res.fail_reason = reason;
    if (rc == SIGNIN_OK) {
        res.user = ctx->issued;
        if (ctx->kind == SIGNIN_REGISTER)
            res.mail_token = ctx->vt.text;
        if (session_tokens_finish(&ctx->issued, &ctx->nr, ctx->now_ms, &res.tokens) != 0)
            res.rc = SIGNIN_ERROR;
    }
    explicit_bzero(&ctx->nr, sizeof ctx->nr);
    ctx->cb(ctx->arg, ctx, &res);
    session_tokens_free(&res.tokens);
}

/* ---- register ---- */

struct signin *signin_register_new(const char *email, const char *display_name, const char *locale,
                                   const char *signup_region, const char *pw, size_t len)
{
    struct signin *ctx = xcalloc(1, sizeof *ctx);
    ctx->kind = SIGNIN_REGISTER;
    snprintf(ctx->email, sizeof ctx->email, "%s", email);
    snprintf(ctx->display_name, sizeof ctx->display_name, "%s", display_name ? display_name : "");
    snprintf(ctx->locale, sizeof ctx->locale, "%s", locale ? locale : "");
    snprintf(ctx->signup_region, sizeof ctx->signup_region, "%s", signup_region ? signup_region : "");
    ctx->pw = signin_dup(pw, len);
    ctx->pw_len = len;
    return ctx;
}

static enum store_rc register_run(struct store *s, struct store_call *c)
{
    struct signin *ctx = (struct signin *)c;
    struct user u;

    memset(&u, 0, sizeof u);
    memcpy(u.id, ctx->user_id, sizeof u.id);
    snprintf(u.email, sizeof u.email, "%s", ctx->email);
    snprintf(u.display_name, sizeof u.display_name, "%s", ctx->display_name);
    snprintf(u.role, sizeof u.role, "user");
    snprintf(u.password_hash, sizeof u.password_hash, "%s", ctx->hash);
    snprintf(u.locale, sizeof u.locale, "%s", ctx->locale);
    memcpy(u.signup_region, ctx->signup_region, sizeof u.signup_region);
    u.created_at = u.updated_at = ctx->now_ms;
    enum store_rc rc = store_user_create(s, &u);
    if (rc == STORE_OK)
        rc = store_email_token_insert(s, ctx->vt.hash, u.id, EMAIL_TOKEN_VERIFY, u.email, ctx->now_ms,
                                      ctx->now_ms + ctx->verify_ttl_ms);
    if (rc == STORE_OK)
        rc = signin_signup_grant_tx(s, u.id, 0, ctx->rule.credits, ctx->rule.require_verified, ctx->now_ms);
    if (rc != STORE_OK)
        return rc;
    return session_issue_tx(s, u.id, NULL, -1, &ctx->nr, ctx->now_ms, &ctx->issued);
}

enum store_rc signin_signup_grant_tx(struct store *s, const char *user_id, int email_verified,
                                     int64_t credits, int require_verified, int64_t now_ms)
{
    if (credits <= 0 || (require_verified && !email_verified))
        return STORE_OK;
    /* The reference ("user", user_id) is unique per kind: a second grant is refused by the
     * ledger's unique key and changes nothing, whichever way the account got here first
     * (registration, verification, a password reset, a provider's verified address). */
    enum ledger_rc lrc = ledger_grant_tx(s, user_id, BUCKET_PAID, credits, LK_SIGNUP_GRANT, "user", user_id,
                                         "signup grant", 0, now_ms, NULL);
    if (lrc == LEDGER_DUPLICATE)
        return STORE_OK;
    return ledger_to_store(lrc);
}

static void register_done(struct store_call *c)
{
    struct signin *ctx = (struct signin *)c;
    if (c->rc != STORE_OK && c->rc != STORE_DUPLICATE && c->rc != STORE_BUSY && c->rc != STORE_UNAVAILABLE)
        log_event(LOG_ERROR, "register_failed", "rc", store_rc_name(c->rc), NULL);
    signin_reply(ctx, signin_from_store(c->rc), NULL);
}

void signin_register_finish(struct store_exec *ex, struct signin *ctx, const struct email_signup_rule *rule,
                            int64_t verify_ttl_ms, int64_t now_ms, signin_fn cb, void *arg)
{
    ctx->cb = cb;
    ctx->arg = arg;
    if (!ctx->hash_ok) {
        log_event(LOG_ERROR, "password_hash_failed", NULL);
        signin_reply(ctx, SIGNIN_ERROR, NULL);
        return;
    }
    ctx->rule = *rule;
    ctx->verify_ttl_ms = verify_ttl_ms;
    ctx->now_ms = now_ms;
    id_new(ctx->user_id, "usr");
    email_token_make(&ctx->vt);
    session_refresh_make(now_ms, &ctx->nr);
    store_exec_call(ex, &ctx->call, STORE_CALL_WRITE, register_run, register_done);
}

/* ---- lookups (login, password change) ---- */

static enum store_rc lookup_run(struct store *s, struct store_call *c)
{
    struct signin *ctx = (struct signin *)c;
    if (ctx->kind == SIGNIN_LOGIN)
        return store_user_get_by_email(s, ctx->email, &ctx->user);
    return store_user_get(s, ctx->user_id, &ctx->user);
}

static void lookup_done(struct store_call *c)
{
    struct signin *ctx = (struct signin *)c;
    struct signin_result res;
    memset(&res, 0, sizeof res);
    ctx->have_user = c->rc == STORE_OK;
    if (c->rc == STORE_OK || (c->rc == STORE_NOTFOUND && ctx->kind == SIGNIN_LOGIN))
        res.rc = SIGNIN_OK; /* an unknown address still spends the verification time */
    else if (c->rc == STORE_NOTFOUND)
        res.rc = SIGNIN_BAD_CREDENTIALS;
    else
        res.rc = signin_from_store(c->rc);
    if (ctx->have_user && ctx->user.disabled && ctx->kind == SIGNIN_PASSWORD) {
        res.rc = SIGNIN_BAD_CREDENTIALS;
        res.fail_reason = "disabled";
    }
    ctx->cb(ctx->arg, ctx, &res);
}

static void signin_lookup(struct store_exec *ex, struct signin *ctx, signin_fn cb, void *arg)
{
    ctx->cb = cb;
    ctx->arg = arg;
    store_exec_call(ex, &ctx->call, STORE_CALL_READ, lookup_run, lookup_done);
}

/* ---- login ---- */

struct signin *signin_login_new(const char *email, const char *pw, size_t len)
{
    struct signin *ctx = xcalloc(1, sizeof *ctx);
    ctx->kind = SIGNIN_LOGIN;
    snprintf(ctx->email, sizeof ctx->email, "%s", email);
    ctx->pw = signin_dup(pw, len);
    ctx->pw_len = len;
    return ctx;
}

void signin_login_lookup(struct store_exec *ex, struct signin *ctx, signin_fn cb, void *arg)
{
    signin_lookup(ex, ctx, cb, arg);
}

static enum store_rc login_run(struct store *s, struct store_call *c)
{
    struct signin *ctx = (struct signin *)c;
    enum store_rc rc = session_issue_tx(s, ctx->user.id, ctx->user.password_hash, ctx->user.auth_epoch,
                                        &ctx->nr, ctx->now_ms, &ctx->issued);
    if (rc != STORE_OK || !ctx->rehashed)
        return rc;
    /* Stronger parameters than the stored hash was made with: store the new hash, in the
     * same transaction and only over the hash that was verified. Sessions stay valid: the
     * password did not change. */
    return store_user_set_password(s, ctx->user.id, ctx->user.password_hash, ctx->new_hash, ctx->now_ms);
}

static void login_done(struct store_call *c)
{
    struct signin *ctx = (struct signin *)c;
    enum signin_rc rc = signin_from_store(c->rc);
    if (rc == SIGNIN_ERROR)
        log_event(LOG_ERROR, "login_failed_store", "user_id", ctx->user.id, "rc", store_rc_name(c->rc), NULL);
    signin_reply(ctx, rc, rc == SIGNIN_BAD_CREDENTIALS ? "changed" : NULL);
}

void signin_login_finish(struct store_exec *ex, struct signin *ctx, int64_t now_ms, signin_fn cb, void *arg)
{
    const char *reason = NULL;
    ctx->cb = cb;
    ctx->arg = arg;
    ctx->now_ms = now_ms;
    if (!ctx->have_user)
        reason = "unknown_email";
    else if (!ctx->user.password_hash[0])
        reason = "no_password";
    else if (!ctx->ok)
        reason = "bad_password";
    else if (ctx->user.disabled)
        reason = "disabled";
    if (reason != NULL) {
        signin_reply(ctx, SIGNIN_BAD_CREDENTIALS, reason);
        return;
    }
    session_refresh_make(now_ms, &ctx->nr);
    store_exec_call(ex, &ctx->call, STORE_CALL_WRITE, login_run, login_done);
}

/* ---- password change ---- */

struct signin *signin_password_new(const char *user_id, const char *cur, size_t cur_len, const char *next,
                                   size_t next_len, const char *ip, const char *request_id)
{
    struct signin *ctx = xcalloc(1, sizeof *ctx);
    ctx->kind = SIGNIN_PASSWORD;
    audit_origin_set(&ctx->from, ip, request_id);
    snprintf(ctx->user_id, sizeof ctx->user_id, "%s", user_id);
    ctx->pw = signin_dup(cur, cur_len);
    ctx->pw_len = cur_len;
    ctx->next = signin_dup(next, next_len);
    ctx->next_len = next_len;
    return ctx;
}

void signin_password_lookup(struct store_exec *ex, struct signin *ctx, signin_fn cb, void *arg)
{
    signin_lookup(ex, ctx, cb, arg);
}

static enum store_rc password_run(struct store *s, struct store_call *c)
{
    struct signin *ctx = (struct signin *)c;
    /* Only over the hash that was verified: of two concurrent changes, the second finds the
     * first one's hash and fails (CONFLICT) instead of both succeeding. */
    enum store_rc rc =
        store_user_set_password(s, ctx->user.id, ctx->user.password_hash, ctx->hash, ctx->now_ms);
    if (rc == STORE_OK)
        rc = store_refresh_revoke_user(s, ctx->user.id, ctx->now_ms);
    if (rc == STORE_OK)
        rc = store_user_bump_epoch(s, ctx->user.id, ctx->now_ms, NULL);
    if (rc == STORE_OK)
        rc = session_issue_tx(s, ctx->user.id, ctx->hash, -1, &ctx->nr, ctx->now_ms, &ctx->issued);
    if (rc == STORE_OK) {
        struct audit_entry e;
        audit_entry_fill(&e, ctx->user.id, "auth.password_changed", "user", ctx->user.id, ctx->from.ip,
                         ctx->from.request_id, NULL, ctx->now_ms);
        rc = store_audit_insert(s, &e);
    }
    return rc;
}

static void password_done(struct store_call *c)
{
    struct signin *ctx = (struct signin *)c;
    enum signin_rc rc = signin_from_store(c->rc);
    if (c->rc == STORE_OK)
        session_user_changed(ctx->user.id);
    if (rc == SIGNIN_ERROR)
        log_event(LOG_ERROR, "password_change_failed_store", "user_id", ctx->user.id, "rc",
                  store_rc_name(c->rc), NULL);
    signin_reply(ctx, rc, rc == SIGNIN_BAD_CREDENTIALS ? "changed" : NULL);
}

void signin_password_finish(struct store_exec *ex, struct signin *ctx, int64_t now_ms, signin_fn cb,
                            void *arg)
{
    ctx->cb = cb;
    ctx->arg = arg;
    ctx->now_ms = now_ms;
    if (!ctx->have_user || !ctx->ok) {
        signin_reply(ctx, SIGNIN_BAD_CREDENTIALS,
                     !ctx->have_user              ? "unknown_user"
                     : ctx->user.password_hash[0] ? "bad_password"
                                                  : "no_password");
        return;
    }
    if (!ctx->hash_ok) {
        log_event(LOG_ERROR, "password_hash_failed", NULL);
        signin_reply(ctx, SIGNIN_ERROR, NULL);
        return;
    }
    session_refresh_make(now_ms, &ctx->nr);
    store_exec_call(ex, &ctx->call, STORE_CALL_WRITE, password_run, password_done);
}
