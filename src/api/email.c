/*
 * email.c - POST /api/v1/auth/verify-email, /verify-email/resend, /password-reset and
 * /password-reset/confirm: the mail flows (DESIGN section 5, domain/email.h).
 *
 * Mails go out after the transaction that stored their token committed, through the
 * mailer (providers/mail/mailer.h); the answers never wait for them, and a mail that
 * fails is logged and counted, never an error for the client (who may ask again).
 *
 * Account enumeration: a password reset answers the same 202 with the same body whether or
 * not an account has the address, after one write transaction in both cases; only the mail
 * differs, and it goes to the address's owner. The per-address limit (mail_address) counts
 * every request for the address, so a 429 tells nothing either.
 */
#include "api/api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "crypto/encode.h"
#include "crypto/random.h"
#include "domain/accounts.h"
#include "domain/email.h"
#include "providers/mail/mailer.h"

/* Largest token read from a body: ours are 43 characters; anything up to this is a 400
 * invalid_email_token, beyond it a malformed request. */
#define EMAIL_TOKEN_READ_MAX 512
/* As auth.c: passwords and addresses are read up to these before the policy speaks. */
#define EMAIL_PASSWORD_READ_MAX 1024
#define EMAIL_ADDRESS_READ_MAX 320

/* The one answer to a password-reset request, whatever happened. */
static const char EMAIL_RESET_ACCEPTED[] =
    "{\"status\":\"accepted\",\"message\":\"If an account uses this address, a link to reset its password "
    "has been sent to it.\"}";

void api_mail_send(enum mail_kind kind, const char *to, const char *locale, const char *token)
{
    char id[MAIL_ID_MAX];
    int64_t ttl_s = kind == MAIL_RESET ? tg_cfg->password_reset_ttl_s : tg_cfg->email_verify_ttl_s;

    mail_id_new(id);
    struct mail_msg *m = mail_build(kind, tg_cfg->smtp_from ? tg_cfg->smtp_from : MAILER_DEFAULT_FROM, to,
                                    locale, tg_cfg->public_url, token, ttl_s, time_now_ms(), id);
    if (m == NULL) {
        mailer_note_unsent(kind, to, "compose_refused");
        return;
    }
    mailer_send(m);
}

static struct email_signup_rule email_rule(void)
{
    struct email_signup_rule rule = {tg_cfg->signup_credits, tg_cfg->signup_require_verified};
    return rule;
}

/* The answers every flow shares for a bad token and for store failures. */
static void email_reply_failure(struct req *r, enum email_rc rc)
{
    switch (rc) {
    case EMAIL_INVALID:
        res_error(r, TG_E_INVALID_EMAIL_TOKEN, NULL, json_pack("{s:s}", "reason", "invalid"));
        return;
    case EMAIL_USED:
        res_error(r, TG_E_INVALID_EMAIL_TOKEN, "This link was already used; ask for a new one.",
                  json_pack("{s:s}", "reason", "used"));
        return;
    case EMAIL_UNAVAILABLE:
        res_error(r, TG_E_UNAVAILABLE, NULL, NULL);
        return;
    default:
        res_error(r, TG_E_INTERNAL, NULL, NULL);
        return;
    }
}

/* Reads {"token"} (and the other allowed fields); replies 400 and returns NULL when absent
 * or malformed. *len receives its length. */
static const char *email_token_or_reply(struct req *r, json_t *body, size_t *len)
{
    struct jerr e;
    const char *tok;
    if (jv_string(body, "token", 1, 1, EMAIL_TOKEN_READ_MAX, &tok, &e) != 0) {
        api_reply_jerr(r, &e);
        return NULL;
    }
    *len = json_string_length(json_object_get(body, "token"));
    return tok;
}

/* ---- verify ---- */

static void verify_done(void *arg, const struct email_result *res)
{
    struct req *r = req_ref_take(arg);
    if (r == NULL)
        return;
    if (res->rc != EMAIL_OK) {
        email_reply_failure(r, res->rc);
        return;
    }
    if (!res->again)
        log_event(LOG_INFO, "email_verified", "request_id", req_id(r), "user_id", res->user.id, NULL);
    res_json(r, 200, json_pack("{s:o}", "user", api_user_json(&res->user)));
}

void api_auth_verify_email(struct req *r)
{
    static const char *const allowed[] = {"token", NULL};
    struct jerr e;
    size_t len = 0;
    json_t *body = req_json_or_reply(r);

    if (body == NULL)
        return;
    if (jv_only(body, allowed, &e) != 0) {
        api_reply_jerr(r, &e);
        return;
    }
    const char *tok = email_token_or_reply(r, body, &len);
    if (tok == NULL)
        return;
    struct email_signup_rule rule = email_rule();
    email_verify(req_exec(r), tok, len, &rule, req_client_ip(r), req_id(r), time_now_ms(), verify_done,
                 req_ref_new(r));
}

/* ---- resend ---- */

static void resend_done(void *arg, const struct email_result *res)
{
    struct req *r = req_ref_take(arg);
    /* The token is stored: the mail goes out whether or not the client is still there. */
    if (res->rc == EMAIL_OK)
        api_mail_send(MAIL_VERIFY, res->user.email, res->user.locale, res->token);
    if (r == NULL)
        return;
    switch (res->rc) {
    case EMAIL_OK:
        res_json(r, 202,
                 json_pack("{s:s, s:i}", "email", res->user.email, "expires_in", tg_cfg->email_verify_ttl_s));
        return;
    case EMAIL_ALREADY_VERIFIED:
        res_error(r, TG_E_CONFLICT, "The email address is already verified.", NULL);
        return;
    case EMAIL_NO_ADDRESS:
        res_error(r, TG_E_UNPROCESSABLE, "The account has no email address to verify.", NULL);
        return;
    case EMAIL_THROTTLED: {
        char after[16];
        snprintf(after, sizeof after, "%lld", (long long)(EMAIL_RESEND_WINDOW_MS / 1000));
        res_header(r, "retry-after", after);
        res_error(r, TG_E_RATE_LIMITED, "At most 3 verification mails per hour; try again later.", NULL);
        return;
    }
    default:
        email_reply_failure(r, res->rc);
        return;
    }
}

void api_auth_verify_resend(struct req *r)
{
    email_resend(req_exec(r), req_principal(r)->user_id, (int64_t)tg_cfg->email_verify_ttl_s * 1000,
                 time_now_ms(), resend_done, req_ref_new(r));
}

/* ---- password reset: the request ---- */

static void reset_requested(void *arg, const struct email_result *res)
{
    struct req *r = req_ref_take(arg);
    if (res->rc == EMAIL_OK && res->token != NULL)
        api_mail_send(MAIL_RESET, res->user.email, res->user.locale, res->token);
    if (r == NULL)
        return;
    if (res->rc != EMAIL_OK) {
        email_reply_failure(r, res->rc);
        return;
    }
    res_json_text(r, 202, EMAIL_RESET_ACCEPTED, sizeof EMAIL_RESET_ACCEPTED - 1);
}

void api_auth_password_reset(struct req *r)
{
    static const char *const allowed[] = {"email", NULL};
    struct jerr e;
    const char *raw, *why;
    char email[TG_EMAIL_MAX + 1];
    char rl_key[8 + TG_EMAIL_MAX];
    json_t *body = req_json_or_reply(r);

    if (body == NULL)
        return;
    if (jv_only(body, allowed, &e) != 0 ||
        jv_string(body, "email", 1, 1, EMAIL_ADDRESS_READ_MAX, &raw, &e) != 0) {
        api_reply_jerr(r, &e);
        return;
    }
    /* A malformed address cannot belong to an account: saying so reveals nothing. */
    if (accounts_email_normalize(raw, email, &why) != 0) {
        api_reply_field(r, TG_E_VALIDATION, "email", why);
        return;
    }
    snprintf(rl_key, sizeof rl_key, "mail:%s", email);
    if (req_rate_limit_or_reply(r, RL_MAIL_ADDRESS, rl_key) != 0)
        return;
    email_reset_request(req_exec(r), email, (int64_t)tg_cfg->password_reset_ttl_s * 1000, req_client_ip(r),
                        req_id(r), time_now_ms(), reset_requested, req_ref_new(r));
}

/* ---- password reset: the new password ---- */

static void confirm_done(void *arg, const struct email_result *res)
{
    struct req *r = req_ref_take(arg);
    if (r == NULL)
        return;
    if (res->rc != EMAIL_OK) {
        email_reply_failure(r, res->rc);
        return;
    }
    log_event(LOG_INFO, "password_reset", "request_id", req_id(r), "user_id", res->user.id, NULL);
    res_empty(r, 204);
}

static void confirm_hashed(struct req *r, void *arg)
{
    struct email_reset *ctx = arg;
    if (r == NULL) {
        email_reset_free(ctx);
        return;
    }
    struct email_signup_rule rule = email_rule();
    email_reset_finish(req_exec(r), ctx, &rule, time_now_ms(), confirm_done, req_ref_new(r));
}

void api_auth_password_reset_confirm(struct req *r)
{
    static const char *const allowed[] = {"token", "password", NULL};
    struct jerr e;
    const char *pw, *why;
    size_t len = 0;
    json_t *body = req_json_or_reply(r);

    if (body == NULL)
        return;
    if (jv_only(body, allowed, &e) != 0 ||
        jv_string(body, "password", 1, 0, EMAIL_PASSWORD_READ_MAX, &pw, &e) != 0) {
        api_reply_jerr(r, &e);
        return;
    }
    const char *tok = email_token_or_reply(r, body, &len);
    if (tok == NULL)
        return;
    size_t pw_len = json_string_length(json_object_get(body, "password"));
    if (accounts_password_check(pw, pw_len, &why) != 0) {
        api_reply_field(r, TG_E_WEAK_PASSWORD, "password", why);
        return;
    }
    req_defer(r, REQ_WORK_PASSWORD, email_reset_work, confirm_hashed,
              email_reset_new(tok, len, pw, pw_len, req_client_ip(r), req_id(r)));
}
