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
 *
 * A new account gets a locale for its mails (the body's "locale", else Accept-Language) and
 * a verification mail once its transaction committed (api/email.c); its signup credits wait
 * for the verification unless TG_SIGNUP_CREDITS_REQUIRE_VERIFIED is off (domain/signin.c).
 */
#include "api/api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/ids.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "domain/accounts.h"
#include "domain/session.h"
#include "domain/signin.h"

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

static void register_done(void *arg, struct signin *ctx, const struct signin_result *res)
{
    struct req *r = req_ref_take(arg);
    /* The account and its verification token are stored: the mail goes out whether or not
     * the client is still there. */
    if (res->rc == SIGNIN_OK && res->mail_token != NULL)
        api_mail_send(MAIL_VERIFY, res->user.email, res->user.locale, res->mail_token);
    if (r != NULL) {
        switch (res->rc) {
        case SIGNIN_OK:
            log_event(LOG_INFO, "user_registered", "request_id", req_id(r), "user_id", res->user.id, NULL);
            api_reply_session(r, 201, &res->user, &res->tokens);
            break;
        case SIGNIN_EMAIL_TAKEN:
            api_reply_field(r, TG_E_EMAIL_TAKEN, "email", NULL);
            break;
        default:
            api_reply_signin_failure(r, res->rc);
            break;
        }
    }
    signin_free(ctx);
}

static void register_hashed(struct req *r, void *arg)
{
    struct signin *ctx = arg;
    if (r == NULL) {
        signin_free(ctx);
        return;
    }
    struct email_signup_rule rule = {tg_cfg->signup_credits, tg_cfg->signup_require_verified};
    signin_register_finish(req_exec(r), ctx, &rule, (int64_t)tg_cfg->email_verify_ttl_s * 1000, time_now_ms(),
                           register_done, req_ref_new(r));
}

void api_auth_register(struct req *r)
{
    static const char *const allowed[] = {"email", "password", "display_name", "locale", NULL};
    struct jerr e;
    const char *pw, *name, *why, *locale = NULL;
    char email[TG_EMAIL_MAX + 1], display_name[TG_NAME_MAX + 1] = "";
    char ipk[RATELIMIT_IP_KEY_MAX];
    json_t *body = req_json_or_reply(r);

    if (body == NULL)
        return;
    if (jv_only(body, allowed, &e) != 0 ||
        jv_string(body, "password", 1, 0, AUTH_PASSWORD_READ_MAX, &pw, &e) != 0 ||
        jv_string(body, "display_name", 0, 0, 4 * TG_NAME_MAX, &name, &e) != 0 ||
        jv_string(body, "locale", 0, 1, 16, &locale, &e) != 0) {
        api_reply_jerr(r, &e);
        return;
    }
    /* The language of the account's mails: what the client says, else its Accept-Language. */
    if (locale != NULL && !accounts_locale_valid(locale)) {
        api_reply_field(r, TG_E_VALIDATION, "locale", "locale: must be zh-CN or en-US");
        return;
    }
    if (locale == NULL)
        locale = accounts_locale_pick(req_header(r, "accept-language"));
    if (auth_email_or_reply(r, body, email) != 0)
        return;
    size_t pw_len = json_string_length(json_object_get(body, "password"));
    if (accounts_password_check(pw, pw_len, &why) != 0) {
        api_reply_field(r, TG_E_WEAK_PASSWORD, "password", why);
        return;
    }
    if (name && accounts_display_name_normalize(name, display_name, &why) != 0) {
        api_reply_field(r, TG_E_VALIDATION, "display_name", why);
        return;
    }
    /* A registration costs an argon2id hash and grants free credits: limited per address
     * (an IPv6 client by its /64) and for the whole process, before any work is done. */
    /* The address first, so that one address's refused attempts do not use up the global
     * budget. */
    if (ratelimit_ip_key(req_client_ip(r), ipk, sizeof ipk) != 0)
        strcpy(ipk, "ip:unknown"); /* req_client_ip is inet_ntop output: cannot happen */
    if (req_rate_limit_or_reply(r, RL_REGISTER_IP, ipk) != 0 ||
        req_rate_limit_or_reply(r, RL_REGISTER_GLOBAL, RATELIMIT_KEY_GLOBAL) != 0)
        return;
    req_defer(r, REQ_WORK_PASSWORD, signin_work, register_hashed,
              signin_register_new(email, display_name, locale, region_name(api_region_of_new_account(r)), pw,
                                  pw_len));
}

/* ---- login ---- */

static void login_done(void *arg, struct signin *ctx, const struct signin_result *res)
{
    struct req *r = req_ref_take(arg);
    if (r != NULL) {
        switch (res->rc) {
        case SIGNIN_OK:
            api_reply_session(r, 200, &res->user, &res->tokens);
            break;
        case SIGNIN_BAD_CREDENTIALS: {
            const struct user *u = signin_user(ctx);
            log_event(LOG_INFO, "login_failed", "request_id", req_id(r), "reason",
                      res->fail_reason ? res->fail_reason : "bad_password", NULL);
            api_audit_then_error(
                r, "", "auth.login_failed", u ? "user" : "", u ? u->id : "",
                json_pack("{s:s}", "reason", res->fail_reason ? res->fail_reason : "bad_password"),
                TG_E_INVALID_CREDENTIALS, NULL, NULL);
            break;
        }
        default:
            api_reply_signin_failure(r, res->rc);
            break;
        }
    }
    signin_free(ctx);
}

static void login_verified(struct req *r, void *arg)
{
    struct signin *ctx = arg;
    if (r == NULL) {
        signin_free(ctx);
        return;
    }
    signin_login_finish(req_exec(r), ctx, time_now_ms(), login_done, req_ref_new(r));
}

static void login_looked_up(void *arg, struct signin *ctx, const struct signin_result *res)
{
    struct req *r = req_ref_take(arg);
    if (r == NULL) {
        signin_free(ctx);
        return;
    }
    if (res->rc != SIGNIN_OK) {
        api_reply_signin_failure(r, res->rc);
        signin_free(ctx);
        return;
    }
    req_defer(r, REQ_WORK_PASSWORD, signin_work, login_verified, ctx);
}

void api_auth_login(struct req *r)
{
    static const char *const allowed[] = {"email", "password", NULL};
    struct jerr e;
    const char *pw;
    char email[TG_EMAIL_MAX + 1];
    char rl_key[8 + TG_EMAIL_MAX];
    json_t *body = req_json_or_reply(r);

    if (body == NULL)
        return;
    /* An empty password is a wrong password, not a malformed request. */
    if (jv_only(body, allowed, &e) != 0 ||
        jv_string(body, "password", 1, 0, AUTH_PASSWORD_READ_MAX, &pw, &e) != 0) {
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
    size_t pw_len = json_string_length(json_object_get(body, "password"));
    signin_login_lookup(req_exec(r), signin_login_new(email, pw, pw_len), login_looked_up, req_ref_new(r));
}

/* ---- refresh and logout ---- */

/* Where the refresh token of a refresh or a logout came from. */
enum auth_src {
    AUTH_SRC_NONE = 0,
    AUTH_SRC_BODY,   /* "refresh_token" in the body: API clients */
    AUTH_SRC_COOKIE, /* the session cookie: browsers (api_session_cookie_name) */
};

/* What a refresh or logout asked for; lives in the request's memory. */
struct auth_tok {
    const char *token; /* NULL when src is NONE */
    enum auth_src src;
    int everywhere;
};

/*
 * Reads the body - {"refresh_token"?, "everywhere"? (logout only)}, {} or nothing - and finds
 * the refresh token: the body's, else the session cookie's. Without either, a request that
 * asked for a browser session (or a sign-out everywhere, which may rest on the bearer) goes
 * on with src NONE; any other is the 400 of a missing field, as it always was. A cookie is an ambient
 * credential, so it only counts on a request whose Origin is this site's (a page elsewhere
 * cannot make the browser spend it), and only when there is exactly one: two cookies of that
 * name mean another path or a sibling domain planted one, and guessing which is ours could
 * sign the person into someone else's account. Replies and returns -1 when the request
 * cannot go on (400 malformed body, 403 origin_mismatch, 401 for several cookies); nothing
 * is consumed then.
 */
static int auth_token_or_reply(struct req *r, int logout, struct auth_tok *t)
{
    static const char *const allowed_refresh[] = {"refresh_token", NULL};
    static const char *const allowed_logout[] = {"refresh_token", "everywhere", NULL};
    struct jerr e;
    size_t blen;
    const char *name = api_session_cookie_name();

    memset(t, 0, sizeof *t);
    (void)req_body(r, &blen);
    size_t n = req_cookie_count(r, name);
    /* A browser (X-Tollgate-Session: cookie) or a request with the cookie may send no body
     * at all; for anyone else an empty body is the 400 it always was. */
    if (blen == 0 && n == 0 && !api_session_cookie_asked(r)) {
        if (req_json_or_reply(r) != NULL) /* zero bytes are no JSON document: it replied */
            res_error(r, TG_E_INVALID_JSON, NULL, NULL);
        return -1;
    }
    int empty;
    json_t *body = api_optional_body_or_reply(r, logout ? allowed_logout : allowed_refresh, &empty);
    if (body == NULL && !empty)
        return -1;
    if (body != NULL && (jv_string(body, "refresh_token", 0, 1, AUTH_REFRESH_READ_MAX, &t->token, &e) != 0 ||
                         jv_bool(body, "everywhere", 0, &t->everywhere, &e) != 0)) {
        api_reply_jerr(r, &e);
        return -1;
    }
    if (t->token != NULL) {
        t->src = AUTH_SRC_BODY;
        return 0;
    }
    if (n == 0) {
        /* API clients keep the answer they always had for a missing token; a browser gets
         * the 401 of a session that is over. */
        if (!api_session_cookie_asked(r) && !t->everywhere) {
            api_reply_field(r, TG_E_VALIDATION, "refresh_token", "refresh_token: is required");
            return -1;
        }
        return 0;
    }
    const char *origin = req_header_unique(r, "origin");
    int same = session_origin_ok(origin, tg_cfg->public_origin) ||
               (tg_cfg->public_url_default && session_origin_is_host(origin, req_authority(r)));
    if (!same) {
        log_event(LOG_INFO, "session_cookie_origin_refused", "request_id", req_id(r), "ip", req_client_ip(r), NULL);
        res_error(r, TG_E_ORIGIN_MISMATCH, NULL,
                  json_pack("{s:s, s:s}", "reason", origin == NULL ? "missing" : "mismatch", "expected",
                            tg_cfg->public_origin));
        return -1;
    }
    if (n > 1) {
        log_event(LOG_WARN, "session_cookie_ambiguous", "request_id", req_id(r), "ip", req_client_ip(r), NULL);
        res_error(r, TG_E_INVALID_REFRESH,
                  "The request carries more than one session cookie, so none of them is used. Clear this "
                  "site's cookies and sign in again.",
                  json_pack("{s:s}", "reason", "ambiguous_cookie"));
        return -1;
    }
    /* A malformed or oversized value is no token of ours: "" is refused as unknown. */
    const char *v = req_cookie(r, name);
    t->token = v != NULL ? v : "";
    t->src = AUTH_SRC_COOKIE;
    return 0;
}

/* The 401 for a refresh or logout that has no token at all. */
static void auth_reply_no_token(struct req *r)
{
    res_error(r, TG_E_INVALID_REFRESH,
              "No refresh token: send \"refresh_token\" in the body, or the session cookie with this site's "
              "Origin.",
              json_pack("{s:s}", "reason", "missing"));
}

/* A refresh or logout waiting for the store. */
struct auth_wait {
    struct req_ref *ref;
    enum auth_src src;
    int cookie_mode; /* answer with the cookie rather than a refresh_token in the body */
};

static struct auth_wait *auth_wait_new(struct req *r, enum auth_src src)
{
    struct auth_wait *w = xcalloc(1, sizeof *w);
    w->ref = req_ref_new(r);
    w->src = src;
    /* A token that came from the cookie is replaced there, whatever the headers say: a
     * rotated token left in the cookie would look like theft on the next refresh. */
    w->cookie_mode = src == AUTH_SRC_COOKIE || api_session_cookie_asked(r);
    return w;
}

/* Gives the request back and frees w. */
static struct req *auth_wait_take(struct auth_wait *w, enum auth_src *src, int *cookie_mode)
{
    struct req *r = req_ref_take(w->ref);
    *src = w->src;
    *cookie_mode = w->cookie_mode;
    free(w);
    return r;
}

static void refresh_done(void *arg, struct session_refresh_result *res)
{
    enum auth_src src;
    int cookie_mode;
    struct req *r = auth_wait_take(arg, &src, &cookie_mode);
    if (r == NULL)
        return;
    if (res->rc != STORE_OK) {
        api_reply_store(r, res->rc == STORE_NOTFOUND ? STORE_ERROR : res->rc, "session_refresh");
        return;
    }
    if (res->outcome != REFRESH_ROTATED && src == AUTH_SRC_COOKIE)
        api_session_cookie_set(r, NULL); /* a dead token: the browser may as well forget it */
    switch (res->outcome) {
    case REFRESH_ROTATED:
        api_reply_session_as(r, 200, &res->user, &res->tokens, cookie_mode);
        break;
    case REFRESH_REUSED:
        /* A rotated token came back: either the client retried a lost response or the
         * token was stolen. Its family is revoked either way; record it as a security
         * event for the account. */
        log_event(LOG_WARN, "refresh_token_reuse", "request_id", req_id(r), "user_id", res->user.id, "ip",
                  req_client_ip(r), NULL);
        api_audit_then_error(r, "", "auth.refresh_reuse", "user", res->user.id,
                             json_pack("{s:s, s:s}", "reason", "rotated_token_presented", "via",
                                       src == AUTH_SRC_COOKIE ? "cookie" : "refresh_token"),
                             TG_E_INVALID_REFRESH, NULL, NULL);
        break;
    case REFRESH_UNKNOWN:
    case REFRESH_EXPIRED:
    default:
        res_error(r, TG_E_INVALID_REFRESH, NULL, NULL);
        break;
    }
}

void api_auth_refresh(struct req *r)
{
    struct auth_tok t;
    if (auth_token_or_reply(r, 0, &t) != 0)
        return;
    if (t.src == AUTH_SRC_NONE) {
        auth_reply_no_token(r);
        return;
    }
    session_refresh(req_exec(r), t.token, time_now_ms(), refresh_done, auth_wait_new(r, t.src));
}

static void logout_done(void *arg, enum store_rc rc)
{
    enum auth_src src;
    int cookie_mode;
    struct req *r = auth_wait_take(arg, &src, &cookie_mode);
    if (r == NULL)
        return;
    if (rc != STORE_OK) {
        api_reply_store(r, rc == STORE_NOTFOUND ? STORE_ERROR : rc, "session_logout");
        return;
    }
    res_empty(r, 204);
}

/* ---- sign out everywhere ---- */

static void everywhere_by_bearer(struct req *r, enum auth_src src);

static void everywhere_done(void *arg, enum store_rc rc, const char *user_id)
{
    enum auth_src src;
    int cookie_mode;
    struct req *r = auth_wait_take(arg, &src, &cookie_mode);
    if (r == NULL)
        return;
    if (rc == STORE_OK) {
        log_event(LOG_INFO, "logout_everywhere", "request_id", req_id(r), "user_id", user_id, NULL);
        res_empty(r, 204);
        return;
    }
    if (rc != STORE_NOTFOUND) {
        api_reply_store(r, rc, "session_logout_everywhere");
        return;
    }
    /* The refresh token names no live session (it was used, revoked or is unknown): the
     * caller's access token or API key may still say who they are. */
    if (src != AUTH_SRC_NONE) {
        const char *cred;
        size_t len;
        if (req_bearer(r, &cred, &len) == 1) {
            everywhere_by_bearer(r, src);
            return;
        }
        res_error(r, TG_E_INVALID_REFRESH, NULL, NULL);
        return;
    }
    /* The account of a valid bearer is gone. */
    res_error(r, TG_E_INVALID_TOKEN, NULL, NULL);
}

static void everywhere_authenticated(void *arg, enum authn_rc rc, const struct principal *p)
{
    enum auth_src src;
    int cookie_mode;
    struct req *r = auth_wait_take(arg, &src, &cookie_mode);
    if (r == NULL)
        return;
    if (rc == AUTHN_UNAVAILABLE) {
        res_error(r, TG_E_UNAVAILABLE, NULL, NULL);
        return;
    }
    if (rc != AUTHN_OK) {
        res_error(r, TG_E_INVALID_TOKEN, NULL, NULL);
        return;
    }
    struct session_everywhere w = {NULL, p->user_id, "bearer", req_client_ip(r), req_id(r)};
    /* NONE: a NOTFOUND now means the account itself is gone (everywhere_done). */
    session_logout_everywhere(req_exec(r), &w, time_now_ms(), everywhere_done, auth_wait_new(r, AUTH_SRC_NONE));
}

/* Signs out everywhere the account of the request's bearer credential (access token or API
 * key), or answers 401. */
static void everywhere_by_bearer(struct req *r, enum auth_src src)
{
    const char *cred;
    size_t len;
    int b = req_bearer(r, &cred, &len);
    if (b == 0) {
        if (src == AUTH_SRC_NONE)
            auth_reply_no_token(r);
        else
            res_error(r, TG_E_INVALID_REFRESH, NULL, NULL);
        return;
    }
    if (b < 0) {
        res_error(r, TG_E_INVALID_TOKEN, NULL, NULL);
        return;
    }
    session_authenticate(req_exec(r), cred, len, time_now_ms(), everywhere_authenticated,
                         auth_wait_new(r, src));
}

void api_auth_logout(struct req *r)
{
    struct auth_tok t;
    if (auth_token_or_reply(r, 1, &t) != 0)
        return;
    /* Whatever happens next, this browser's session ends: every answer deletes the cookie. */
    api_session_cookie_set(r, NULL);
    if (t.everywhere) {
        if (t.src == AUTH_SRC_NONE) {
            everywhere_by_bearer(r, AUTH_SRC_NONE);
            return;
        }
        struct session_everywhere w = {t.token, NULL, t.src == AUTH_SRC_COOKIE ? "cookie" : "refresh_token",
                                       req_client_ip(r), req_id(r)};
        session_logout_everywhere(req_exec(r), &w, time_now_ms(), everywhere_done, auth_wait_new(r, t.src));
        return;
    }
    if (t.src == AUTH_SRC_NONE) {
        auth_reply_no_token(r);
        return;
    }
    /* Idempotent: an unknown or already revoked token is still a 204. */
    session_logout(req_exec(r), t.token, time_now_ms(), logout_done, auth_wait_new(r, t.src));
}
