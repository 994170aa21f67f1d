/*
 * me.c - the signed-in user: GET and PATCH /api/v1/me, POST /api/v1/me/password.
 */
#include "api/api.h"

#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "crypto/password.h"
#include "domain/accounts.h"

/* Largest password read from a body (the policy for new ones is 256 bytes). */
#define ME_PASSWORD_READ_MAX 1024

/*
 * Loads the caller's account. Access tokens are stateless, so a token issued before an
 * account was disabled still verifies for up to its lifetime; wherever the account is
 * loaded anyway it is checked here too. Replies and returns -1 on failure.
 */
static int me_load_or_reply(struct req *r, struct user *u)
{
    enum store_rc rc = store_user_get(req_store(r), req_principal(r)->user_id, u);
    if (rc == STORE_NOTFOUND || (rc == STORE_OK && u->disabled)) {
        res_error(r, TG_E_INVALID_TOKEN, NULL, NULL);
        return -1;
    }
    if (rc != STORE_OK) {
        api_reply_store(r, rc, "user_get");
        return -1;
    }
    return 0;
}

static void me_reply(struct req *r, const struct user *u)
{
    char ts[32];
    json_t *body = api_user_json(u);
    json_object_set_new(body, "created_at", json_string(time_rfc3339(u->created_at, ts)));
    res_json(r, 200, body);
}

void api_me_get(struct req *r)
{
    struct user u;
    if (me_load_or_reply(r, &u) != 0)
        return;
    me_reply(r, &u);
}

void api_me_patch(struct req *r)
{
    static const char *const allowed[] = {"display_name", NULL};
    struct jerr e;
    struct user u;
    const char *raw, *why;
    char name[TG_NAME_MAX + 1];
    json_t *body = req_json_or_reply(r);

    if (body == NULL)
        return;
    /* Raw names may carry surrounding whitespace that normalization trims; 4x bounds it. */
    if (jv_only(body, allowed, &e) != 0 ||
        jv_string(body, "display_name", 0, 0, 4 * TG_NAME_MAX, &raw, &e) != 0) {
        api_reply_jerr(r, &e);
        return;
    }
    if (raw && accounts_display_name_normalize(raw, name, &why) != 0) {
        api_reply_field(r, TG_E_VALIDATION, "display_name", why);
        return;
    }
    if (me_load_or_reply(r, &u) != 0)
        return;
    if (raw) {
        enum store_rc rc = store_user_update_profile(req_store(r), u.id, name, NULL, time_now_ms());
        if (rc != STORE_OK) {
            api_reply_store(r, rc, "user_update_profile");
            return;
        }
        snprintf(u.display_name, sizeof u.display_name, "%s", name);
    }
    me_reply(r, &u);
}

struct pwchange_ctx {
    struct user user;
    char *cur;
    size_t cur_len;
    char *next;
    size_t next_len;
    int ok;      /* current password matched */
    int hash_ok; /* hash holds the new password's hash */
    char hash[PASSWORD_HASH_MAX];
};

static void pwchange_work(void *arg)
{
    struct pwchange_ctx *ctx = arg;

    if (ctx->user.password_hash[0]) {
        ctx->ok = password_verify(ctx->user.password_hash, ctx->cur, ctx->cur_len) == 1;
    } else {
        (void)password_verify_dummy(ctx->cur, ctx->cur_len);
        ctx->ok = 0;
    }
    if (ctx->ok)
        ctx->hash_ok = password_hash(ctx->next, ctx->next_len, ctx->hash) == 0;
    api_secret_free(ctx->cur, ctx->cur_len);
    api_secret_free(ctx->next, ctx->next_len);
    ctx->cur = ctx->next = NULL;
}

static void pwchange_done(struct req *r, void *arg)
{
    struct pwchange_ctx *ctx = arg;
    int64_t now = time_now_ms();
    enum store_rc rc;

    if (r == NULL)
        goto cleanup;
    if (!ctx->ok) {
        api_audit(r, ctx->user.id, "auth.password_change_failed", "user", ctx->user.id,
                  json_pack("{s:s}", "reason", ctx->user.password_hash[0] ? "bad_password" : "no_password"));
        res_error(r, TG_E_INVALID_CREDENTIALS, "The current password is incorrect.",
                  json_pack("{s:s}", "field", "current_password"));
        goto cleanup;
    }
    if (!ctx->hash_ok) {
        log_event(LOG_ERROR, "password_hash_failed", "request_id", req_id(r), NULL);
        res_error(r, TG_E_INTERNAL, NULL, NULL);
        goto cleanup;
    }
    /* One transaction: the new hash, and every refresh token of the account revoked, so a
     * thief holding one loses it. */
    rc = store_user_set_password(req_store(r), ctx->user.id, ctx->hash, now);
    if (rc != STORE_OK) {
        api_reply_store(r, rc, "user_set_password");
        goto cleanup;
    }
    api_audit(r, ctx->user.id, "auth.password_changed", "user", ctx->user.id, NULL);
    /* This client keeps working: it gets the only live session. */
    api_issue_session(r, 200, &ctx->user, now);

cleanup:
    api_secret_free(ctx->cur, ctx->cur_len);
    api_secret_free(ctx->next, ctx->next_len);
    explicit_bzero(ctx, sizeof *ctx);
    free(ctx);
}

void api_me_password(struct req *r)
{
    static const char *const allowed[] = {"current_password", "new_password", NULL};
    struct pwchange_ctx *ctx = NULL;
    struct jerr e;
    const char *cur, *next, *why;
    char rl_key[8 + TG_EMAIL_MAX];
    json_t *body;

    if (api_require_session_or_reply(r) != 0)
        return;
    body = req_json_or_reply(r);
    if (body == NULL)
        return;
    if (jv_only(body, allowed, &e) != 0 ||
        jv_string(body, "current_password", 1, 1, ME_PASSWORD_READ_MAX, &cur, &e) != 0 ||
        jv_string(body, "new_password", 1, 0, ME_PASSWORD_READ_MAX, &next, &e) != 0) {
        api_reply_jerr(r, &e);
        return;
    }
    size_t cur_len = json_string_length(json_object_get(body, "current_password"));
    size_t next_len = json_string_length(json_object_get(body, "new_password"));
    if (accounts_password_check(next, next_len, &why) != 0) {
        api_reply_field(r, TG_E_WEAK_PASSWORD, "new_password", why);
        return;
    }
    ctx = xcalloc(1, sizeof *ctx);
    if (me_load_or_reply(r, &ctx->user) != 0)
        goto fail;
    /* The same per-account budget as login: a stolen access token must not become a way
     * to guess the password quickly. */
    snprintf(rl_key, sizeof rl_key, "acct:%s", ctx->user.email);
    if (req_rate_limit_or_reply(r, RL_AUTH_ACCOUNT, rl_key) != 0)
        goto fail;
    ctx->cur = api_secret_dup(cur, cur_len);
    ctx->cur_len = cur_len;
    ctx->next = api_secret_dup(next, next_len);
    ctx->next_len = next_len;
    req_defer(r, pwchange_work, pwchange_done, ctx);
    return;

fail:
    explicit_bzero(ctx, sizeof *ctx);
    free(ctx);
}
