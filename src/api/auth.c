/*
 * auth.c - POST /api/v1/auth/register, /login, /refresh, /logout (email + password
 * accounts, DESIGN section 5).
 *
 * argon2id takes tens of milliseconds, so hashing and verifying run on the blocking pool
 * (req_defer) and the handler continues in a *_done callback on the loop. Passwords are
 * copied into the work context and wiped as soon as the pool is done with them.
 *
 * Account enumeration: login answers the same 401 for an unknown email, a wrong password
 * and a disabled account, and spends the same argon2id time in each case. Registration
 * cannot hide that an address is taken (it must say 409 email_taken), but it hashes
 * first so the answer takes the same time either way, and the route's auth_ip rate limit
 * bounds how fast anyone can ask.
 */
#include "api/api.h"

#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/ids.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "crypto/password.h"
#include "domain/accounts.h"
#include "domain/session.h"

/* Largest password we read from a body; the policy (accounts.h) says 256 for new ones,
 * login accepts a little more so that a too-long password is a plain 401. */
#define AUTH_PASSWORD_READ_MAX 1024
/* Largest email we read before normalizing (surrounding whitespace is trimmed). */
#define AUTH_EMAIL_READ_MAX 320
/* Refresh tokens are 46 bytes; anything up to this is looked at, beyond it is a 400. */
#define AUTH_REFRESH_READ_MAX 512

/* Reads and normalizes the "email" field; replies 400 and returns -1 when invalid. */
static int auth_email_or_reply(struct req *r, json_t *body, char out[TG_EMAIL_MAX + 1])
{
    struct jerr e;
    const char *raw, *why;

    if (jv_string(body, "email", 1, 1, AUTH_EMAIL_READ_MAX, &raw, &e) != 0) {
        api_reply_jerr(r, &e);
        return -1;
    }
    if (accounts_email_normalize(raw, out, &why) != 0) {
        api_reply_field(r, TG_E_VALIDATION, "email", why);
        return -1;
    }
    return 0;
}

/* ---- register ---- */

struct register_ctx {
    char email[TG_EMAIL_MAX + 1];
    char display_name[TG_NAME_MAX + 1];
    char *pw;
    size_t pw_len;
    char hash[PASSWORD_HASH_MAX];
    int hash_ok;
};

static void register_work(void *arg)
{
    struct register_ctx *ctx = arg;
    ctx->hash_ok = password_hash(ctx->pw, ctx->pw_len, ctx->hash) == 0;
    api_secret_free(ctx->pw, ctx->pw_len);
    ctx->pw = NULL;
}

static void register_done(struct req *r, void *arg)
{
    struct register_ctx *ctx = arg;
    struct user u;
    int64_t now = time_now_ms();
    enum store_rc rc;

    if (r == NULL)
        goto cleanup;
    if (!ctx->hash_ok) {
        log_event(LOG_ERROR, "password_hash_failed", "request_id", req_id(r), NULL);
        res_error(r, TG_E_INTERNAL, NULL, NULL);
        goto cleanup;
    }
    memset(&u, 0, sizeof u);
    id_new(u.id, "usr");
    snprintf(u.email, sizeof u.email, "%s", ctx->email);
    snprintf(u.display_name, sizeof u.display_name, "%s", ctx->display_name);
    snprintf(u.role, sizeof u.role, "%s", "user");
    snprintf(u.password_hash, sizeof u.password_hash, "%s", ctx->hash);
    u.created_at = u.updated_at = now;
    /* One transaction: the user, the wallet and the signup grant. */
    rc = store_user_create(req_store(r), &u, tg_cfg->signup_credits);
    if (rc == STORE_DUPLICATE) {
        res_error(r, TG_E_EMAIL_TAKEN, NULL, NULL);
        goto cleanup;
    }
    if (rc != STORE_OK) {
        api_reply_store(r, rc, "user_create");
        goto cleanup;
    }
    log_event(LOG_INFO, "user_registered", "request_id", req_id(r), "user_id", u.id, NULL);
    /* If this fails the account exists; the client can sign in once the store recovers. */
    api_issue_session(r, 201, &u, now);

cleanup:
    api_secret_free(ctx->pw, ctx->pw_len);
    explicit_bzero(ctx->hash, sizeof ctx->hash);
    free(ctx);
}

void api_auth_register(struct req *r)
{
    static const char *const allowed[] = {"email", "password", "display_name", NULL};
    struct register_ctx *ctx = NULL;
    struct jerr e;
    const char *pw, *name, *why;
    json_t *body = req_json_or_reply(r);

    if (body == NULL)
        return;
    if (jv_only(body, allowed, &e) != 0 ||
        jv_string(body, "password", 1, 0, AUTH_PASSWORD_READ_MAX, &pw, &e) != 0 ||
        jv_string(body, "display_name", 0, 0, 4 * TG_NAME_MAX, &name, &e) != 0) {
        api_reply_jerr(r, &e);
        return;
    }
    ctx = xcalloc(1, sizeof *ctx);
    if (auth_email_or_reply(r, body, ctx->email) != 0)
        goto fail;
    size_t pw_len = json_string_length(json_object_get(body, "password"));
    if (accounts_password_check(pw, pw_len, &why) != 0) {
        api_reply_field(r, TG_E_WEAK_PASSWORD, "password", why);
        goto fail;
    }
    if (name && accounts_display_name_normalize(name, ctx->display_name, &why) != 0) {
        api_reply_field(r, TG_E_VALIDATION, "display_name", why);
        goto fail;
    }
    ctx->pw = api_secret_dup(pw, pw_len);
    ctx->pw_len = pw_len;
    req_defer(r, register_work, register_done, ctx);
    return;

fail:
    free(ctx);
}

/* ---- login ---- */

struct login_ctx {
    struct user user; /* valid when have_user */
    int have_user;
    char *pw;
    size_t pw_len;
    int ok;       /* password matched */
    int rehashed; /* new_hash holds a hash with today's parameters */
    char new_hash[PASSWORD_HASH_MAX];
};

static void login_work(void *arg)
{
    struct login_ctx *ctx = arg;

    if (ctx->have_user && ctx->user.password_hash[0]) {
        ctx->ok = password_verify(ctx->user.password_hash, ctx->pw, ctx->pw_len) == 1;
        if (ctx->ok && password_needs_rehash(ctx->user.password_hash))
            ctx->rehashed = password_hash(ctx->pw, ctx->pw_len, ctx->new_hash) == 0;
    } else {
        /* Same work as a real verification, so timing does not tell whether the account
         * exists (or signs in only through Google/WeChat). */
        (void)password_verify_dummy(ctx->pw, ctx->pw_len);
        ctx->ok = 0;
    }
    api_secret_free(ctx->pw, ctx->pw_len);
    ctx->pw = NULL;
}

static void login_done(struct req *r, void *arg)
{
    struct login_ctx *ctx = arg;
    const char *reason = NULL;
    int64_t now = time_now_ms();
    enum store_rc rc;

    if (r == NULL)
        goto cleanup;
    if (!ctx->have_user)
        reason = "unknown_email";
    else if (!ctx->user.password_hash[0])
        reason = "no_password";
    else if (!ctx->ok)
        reason = "bad_password";
    else if (ctx->user.disabled)
        reason = "disabled";
    if (reason) {
        api_audit(r, "", "auth.login_failed", ctx->have_user ? "user" : "",
                  ctx->have_user ? ctx->user.id : "", json_pack("{s:s}", "reason", reason));
        log_event(LOG_INFO, "login_failed", "request_id", req_id(r), "reason", reason, NULL);
        res_error(r, TG_E_INVALID_CREDENTIALS, NULL, NULL);
        goto cleanup;
    }
    if (ctx->rehashed) {
        /* Best effort: the old hash still works if this fails, and NOTFOUND means the
         * password changed while we hashed (the newer hash wins). Sessions stay valid. */
        rc = store_user_rehash_password(req_store(r), ctx->user.id, ctx->user.password_hash, ctx->new_hash, now);
        if (rc != STORE_OK && rc != STORE_NOTFOUND)
            log_event(LOG_WARN, "password_rehash_failed", "request_id", req_id(r), "user_id", ctx->user.id,
                      "rc", store_rc_name(rc), NULL);
    }
    api_issue_session(r, 200, &ctx->user, now);

cleanup:
    api_secret_free(ctx->pw, ctx->pw_len);
    explicit_bzero(ctx, sizeof *ctx);
    free(ctx);
}

void api_auth_login(struct req *r)
{
    static const char *const allowed[] = {"email", "password", NULL};
    struct login_ctx *ctx = NULL;
    struct jerr e;
    const char *pw;
    char email[TG_EMAIL_MAX + 1];
    char rl_key[8 + TG_EMAIL_MAX];
    json_t *body = req_json_or_reply(r);

    if (body == NULL)
        return;
    if (jv_only(body, allowed, &e) != 0 ||
        jv_string(body, "password", 1, 1, AUTH_PASSWORD_READ_MAX, &pw, &e) != 0) {
        api_reply_jerr(r, &e);
        return;
    }
    /* A malformed address cannot belong to an account; saying so reveals nothing. */
    if (auth_email_or_reply(r, body, email) != 0)
        return;
    /* Per account, whatever the client address: slows password guessing from many IPs. */
    snprintf(rl_key, sizeof rl_key, "acct:%s", email);
    if (req_rate_limit_or_reply(r, RL_AUTH_ACCOUNT, rl_key) != 0)
        return;

    ctx = xcalloc(1, sizeof *ctx);
    enum store_rc rc = store_user_get_by_email(req_store(r), email, &ctx->user);
    if (rc == STORE_OK) {
        ctx->have_user = 1;
    } else if (rc != STORE_NOTFOUND) {
        api_reply_store(r, rc, "user_get_by_email");
        free(ctx);
        return;
    }
    ctx->pw_len = json_string_length(json_object_get(body, "password"));
    ctx->pw = api_secret_dup(pw, ctx->pw_len);
    req_defer(r, login_work, login_done, ctx);
}

/* ---- refresh and logout ---- */

/* Reads {"refresh_token": "..."}; replies 400 and returns NULL when absent or malformed. */
static const char *auth_refresh_token_or_reply(struct req *r)
{
    static const char *const allowed[] = {"refresh_token", NULL};
    struct jerr e;
    const char *tok;
    json_t *body = req_json_or_reply(r);

    if (body == NULL)
        return NULL;
    if (jv_only(body, allowed, &e) != 0 ||
        jv_string(body, "refresh_token", 1, 1, AUTH_REFRESH_READ_MAX, &tok, &e) != 0) {
        api_reply_jerr(r, &e);
        return NULL;
    }
    return tok;
}

void api_auth_refresh(struct req *r)
{
    struct session_tokens tok = {0};
    struct user u;
    enum refresh_outcome outcome;
    const char *presented = auth_refresh_token_or_reply(r);

    if (presented == NULL)
        return;
    enum store_rc rc =
        (enum store_rc)session_refresh(req_store(r), presented, time_now_ms(), &outcome, &u, &tok);
    if (rc != STORE_OK) {
        api_reply_store(r, rc == STORE_NOTFOUND ? STORE_ERROR : rc, "session_refresh");
        goto cleanup;
    }
    switch (outcome) {
    case REFRESH_ROTATED:
        api_reply_session(r, 200, &u, &tok);
        break;
    case REFRESH_REUSED:
        /* A rotated token came back: either the client retried a lost response or the
         * token was stolen. Its family is revoked either way; record it as a security
         * event for the account. */
        api_audit(r, "", "auth.refresh_reuse", "user", u.id,
                  json_pack("{s:s}", "reason", "rotated_token_presented"));
        log_event(LOG_WARN, "refresh_token_reuse", "request_id", req_id(r), "user_id", u.id, "ip",
                  req_client_ip(r), NULL);
        res_error(r, TG_E_INVALID_REFRESH, NULL, NULL);
        break;
    case REFRESH_UNKNOWN:
    case REFRESH_EXPIRED:
    default:
        res_error(r, TG_E_INVALID_REFRESH, NULL, NULL);
        break;
    }

cleanup:
    session_tokens_free(&tok);
}

void api_auth_logout(struct req *r)
{
    const char *presented = auth_refresh_token_or_reply(r);

    if (presented == NULL)
        return;
    /* Idempotent: an unknown or already revoked token is still a 204. */
    enum store_rc rc = (enum store_rc)session_logout(req_store(r), presented, time_now_ms());
    if (rc != STORE_OK) {
        api_reply_store(r, rc == STORE_NOTFOUND ? STORE_ERROR : rc, "session_logout");
        return;
    }
    res_empty(r, 204);
}
