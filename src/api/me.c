/*
 * me.c - the signed-in user: GET and PATCH /api/v1/me, POST /api/v1/me/password.
 */
#include "api/api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "domain/accounts.h"
#include "domain/signin.h"
#include "domain/users.h"

/* Largest password read from a body (the policy for new ones is 256 bytes). */
#define ME_PASSWORD_READ_MAX 1024

static void me_reply(struct req *r, const struct user *u)
{
    char ts[32];
    json_t *body = api_user_json(u);
    json_object_set_new(body, "created_at", json_string(time_rfc3339(u->created_at, ts)));
    res_json(r, 200, body);
}

struct me_get {
    struct api_call base;
    char user_id[TG_ID_MAX];
    struct user user;
    struct identity *ids; /* heap, freed by me_get_cleanup */
    size_t n_ids;
};

static enum store_rc me_get_run(struct store *s, struct store_call *c)
{
    struct me_get *m = (struct me_get *)c;
    free(m->ids);
    m->ids = NULL;
    m->n_ids = 0;
    enum store_rc rc = store_user_get(s, m->user_id, &m->user);
    if (rc != STORE_OK)
        return rc;
    return store_identity_list(s, m->user_id, &m->ids, &m->n_ids);
}

static void me_get_cleanup(struct api_call *c)
{
    free(((struct me_get *)c)->ids);
}

static void me_get_reply(struct req *r, struct api_call *c)
{
    struct me_get *m = (struct me_get *)c;
    /* The middleware checked the account a moment ago; gone since means the token is. */
    if (c->call.rc == STORE_NOTFOUND || (c->call.rc == STORE_OK && m->user.disabled)) {
        res_error(r, TG_E_INVALID_TOKEN, NULL, NULL);
        return;
    }
    if (c->call.rc != STORE_OK) {
        api_reply_store(r, c->call.rc, "user_get");
        return;
    }
    char ts[32];
    json_t *body = api_user_json(&m->user);
    json_object_set_new(body, "created_at", json_string(time_rfc3339(m->user.created_at, ts)));
    json_object_set_new(body, "has_password", json_boolean(m->user.password_hash[0] != '\0'));
    /* The ways to sign in: linked identities (unlinking keeps at least one way in). */
    json_t *ids = json_array();
    for (size_t i = 0; i < m->n_ids; i++) {
        const struct identity *d = &m->ids[i];
        json_array_append_new(ids, json_pack("{s:s, s:s, s:o, s:b, s:s, s:s}", "id", d->id, "provider", d->provider,
                                             "email", d->email[0] ? json_string(d->email) : json_null(),
                                             "email_verified", d->email_verified, "display_name", d->display_name,
                                             "created_at", time_rfc3339(d->created_at, ts)));
    }
    json_object_set_new(body, "identities", ids);
    res_json(r, 200, body);
}

void api_me_get(struct req *r)
{
    struct me_get *m = api_call_new(r, sizeof *m, STORE_CALL_READ);
    snprintf(m->user_id, sizeof m->user_id, "%s", req_principal(r)->user_id);
    api_submit(r, &m->base, me_get_run, me_get_reply, me_get_cleanup);
}

static void me_patch_done(void *arg, enum users_rc rc, const struct user *u)
{
    struct req *r = req_ref_take(arg);
    if (r == NULL)
        return;
    switch (rc) {
    case USERS_OK:
        me_reply(r, u);
        break;
    default:
        api_reply_own_account_failure(r, rc);
        break;
    }
}

void api_me_patch(struct req *r)
{
    static const char *const allowed[] = {"display_name", "locale", NULL};
    struct jerr e;
    const char *raw, *why, *locale = NULL;
    char name[TG_NAME_MAX + 1] = "";
    json_t *body = req_json_or_reply(r);

    if (body == NULL)
        return;
    /* Raw names may carry surrounding whitespace that normalization trims; 4x bounds it. */
    if (jv_only(body, allowed, &e) != 0 ||
        jv_string(body, "display_name", 0, 0, 4 * TG_NAME_MAX, &raw, &e) != 0) {
        api_reply_jerr(r, &e);
        return;
    }
    /* "locale": "zh-CN" | "en-US" chooses the language of the UI and of mails; null clears the
     * choice (the region's language is used again). */
    json_t *lv = json_object_get(body, "locale");
    if (lv != NULL) {
        if (json_is_null(lv)) {
            locale = "";
        } else if (!json_is_string(lv) || !accounts_locale_valid(json_string_value(lv))) {
            api_reply_field(r, TG_E_VALIDATION, "locale", "locale must be \"zh-CN\", \"en-US\" or null");
            return;
        } else {
            locale = json_string_value(lv);
        }
    }
    if (raw == NULL && locale == NULL) {
        api_me_get(r); /* nothing to change: the account as it is */
        return;
    }
    if (raw != NULL && accounts_display_name_normalize(raw, name, &why) != 0) {
        api_reply_field(r, TG_E_VALIDATION, "display_name", why);
        return;
    }
    users_update_profile(req_exec(r), req_principal(r)->user_id, raw != NULL ? name : NULL, locale, time_now_ms(), me_patch_done,
                         req_ref_new(r));
}

/* ---- password change ---- */

static void pwchange_done(void *arg, struct signin *ctx, const struct signin_result *res)
{
    struct req *r = req_ref_take(arg);
    if (r != NULL) {
        const struct user *u = signin_user(ctx);
        switch (res->rc) {
        case SIGNIN_OK:
            /* Audited in the change's own transaction. This client keeps working: it gets
             * the only live session. */
            api_reply_session(r, 200, &res->user, &res->tokens);
            break;
        case SIGNIN_BAD_CREDENTIALS:
            api_audit_then_error(
                r, u ? u->id : "", "auth.password_change_failed", "user", u ? u->id : "",
                json_pack("{s:s}", "reason", res->fail_reason ? res->fail_reason : "bad_password"),
                TG_E_INVALID_CREDENTIALS, "The current password is incorrect.",
                json_pack("{s:s}", "field", "current_password"));
            break;
        default:
            api_reply_signin_failure(r, res->rc);
            break;
        }
    }
    signin_free(ctx);
}

static void pwchange_verified(struct req *r, void *arg)
{
    struct signin *ctx = arg;
    if (r == NULL) {
        signin_free(ctx);
        return;
    }
    signin_password_finish(req_exec(r), ctx, time_now_ms(), pwchange_done, req_ref_new(r));
}

static void pwchange_looked_up(void *arg, struct signin *ctx, const struct signin_result *res)
{
    char rl_key[8 + TG_EMAIL_MAX];
    struct req *r = req_ref_take(arg);
    if (r == NULL) {
        signin_free(ctx);
        return;
    }
    if (res->rc != SIGNIN_OK) {
        if (res->rc == SIGNIN_BAD_CREDENTIALS)
            res_error(r, TG_E_INVALID_TOKEN, NULL, NULL); /* the account is gone or disabled */
        else
            api_reply_signin_failure(r, res->rc);
        signin_free(ctx);
        return;
    }
    /* The same per-account budget as login: a stolen access token must not become a way
     * to guess the password quickly. */
    snprintf(rl_key, sizeof rl_key, "acct:%s",
             signin_user(ctx)->email[0] ? signin_user(ctx)->email : signin_user(ctx)->id);
    if (req_rate_limit_or_reply(r, RL_AUTH_ACCOUNT, rl_key) != 0) {
        signin_free(ctx);
        return;
    }
    req_defer(r, REQ_WORK_PASSWORD, signin_work, pwchange_verified, ctx);
}

void api_me_password(struct req *r)
{
    static const char *const allowed[] = {"current_password", "new_password", NULL};
    struct jerr e;
    const char *cur, *next, *why;
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
    struct signin *ctx = signin_password_new(req_principal(r)->user_id, cur, cur_len, next, next_len,
                                             req_client_ip(r), req_id(r));
    signin_password_lookup(req_exec(r), ctx, pwchange_looked_up, req_ref_new(r));
}
