/*
 * oauth.c - browser sign-in with Google, WeChat and the sandbox (DESIGN sections 5 and 11):
 *
 *   GET  /api/v1/auth/oauth/{provider}/start?return_to=PATH   302 to the provider
 *   GET  /api/v1/auth/oauth/{provider}/callback?code&state     302 to PATH#login_code=...
 *   POST /api/v1/auth/exchange {"code"}                         the session
 *   POST /api/v1/auth/oauth/{provider}/link                     {"url"}: link another sign-in
 *   DELETE /api/v1/me/identities/{id}                           unlink (never the last way in)
 *   POST /api/v1/auth/google/id-token {"credential"}            Google One Tap: the session
 *
 * The rules (state, cookie binding, linking, login codes) are in domain/oauth.c; the
 * providers' wire formats in providers/auth/. Tokens never appear in a URL: the callback
 * hands the browser a one-time login code in the fragment (which browsers send to no
 * server and leave out of Referer), and the page trades it for the session with a POST.
 *
 * Failures before a trusted return_to is known (a forged, replayed or expired state) are
 * JSON errors, audit-logged. After it, a refusal at the provider (the person pressed
 * "cancel") goes back to the page as #login_error=...; a provider that fails or does not
 * answer is a 502/503 JSON error within the provider's timeout.
 */
#include "api/api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "domain/audit.h"
#include "domain/oauth.h"
#include "net/net.h"
#include "providers/auth/auth.h"
#include "providers/auth/google.h"

#define OAUTH_CODE_READ_MAX 2048
#define OAUTH_LOGIN_CODE_READ_MAX 128

/* The provider named by the route, when it has a browser flow and is configured; else
 * replies 404 and returns NULL. */
static const struct auth_provider *oauth_provider_or_reply(struct req *r)
{
    const char *name = req_param(r, "provider");
    const struct auth_provider *p = name ? auth_provider_find(name) : NULL;
    if (p == NULL || p->authorize_url == NULL || !p->configured()) {
        res_error(r, TG_E_NOT_FOUND, "There is no such sign-in provider here.", NULL);
        return NULL;
    }
    return p;
}

static char *oauth_redirect_uri(const struct auth_provider *p)
{
    return xasprintf("%s/api/v1/auth/oauth/%s/callback", tg_cfg->public_url, p->name);
}

static int oauth_public_https(void)
{
    return strncmp(tg_cfg->public_url, "https://", 8) == 0;
}

/* Set-Cookie for the flow cookie (value NULL: delete it). */
static void oauth_set_cookie(struct req *r, const char *name, const char *value)
{
    char *c = xasprintf("%s=%s; Path=/api/v1/auth/oauth/; Max-Age=%d; HttpOnly; SameSite=Lax%s", name,
                        value ? value : "", value ? OAUTH_STATE_TTL_MS / 1000 : 0,
                        oauth_public_https() ? "; Secure" : "");
    res_header(r, "set-cookie", c);
    free(c);
}

/*
 * Builds the provider's authorize URL for a new flow and sets its cookie on r.
 * link_user_id: "" to sign in, or the account linking this provider. Returns the URL
 * (caller frees) or NULL after replying.
 */
static char *oauth_begin_or_reply(struct req *r, const struct auth_provider *p, const char *return_to,
                                  const char *link_user_id)
{
    struct oauth_start st;
    char cookie[OAUTH_COOKIE_MAX];
    oauth_start_make(&st);
    char *redirect_uri = oauth_redirect_uri(p);
    struct auth_flow f = {
        .redirect_uri = redirect_uri,
        .state = st.state,
        .code_challenge = p->pkce ? st.challenge : NULL,
        .nonce = st.nonce,
        .user_agent = req_header(r, "user-agent"),
    };
    char *url = p->authorize_url(&f);
    free(redirect_uri);
    if (url == NULL) {
        res_error(r, TG_E_NOT_FOUND, "This sign-in provider is not set up for browser sign-in.", NULL);
        return NULL;
    }
    if (oauth_cookie_make(&st, p->name, f.variant, return_to, link_user_id, time_now_ms(), cookie, sizeof cookie) !=
        0) {
        free(url);
        api_reply_field(r, TG_E_VALIDATION, "return_to", "return_to is too long");
        return NULL;
    }
    oauth_set_cookie(r, st.cookie_name, cookie);
    res_header(r, "cache-control", "no-store");
    return url;
}

void api_oauth_start(struct req *r)
{
    const struct auth_provider *p = oauth_provider_or_reply(r);
    if (p == NULL)
        return;
    const char *return_to = req_query(r, "return_to");
    if (return_to == NULL || return_to[0] == '\0')
        return_to = "/";
    if (!oauth_return_to_valid(return_to)) {
        api_reply_field(r, TG_E_VALIDATION, "return_to",
                        "return_to must be a path on this site (starting with a single '/', no '#')");
        return;
    }
    char *url = oauth_begin_or_reply(r, p, return_to, "");
    if (url == NULL)
        return;
    res_header(r, "location", url);
    free(url);
    res_empty(r, 302);
}

/* ---- callback ---- */

struct oauth_cb {
    struct req_ref *ref;
    const struct auth_provider *p;
    struct oauth_flow_state fs;
    char cookie_name[OAUTH_COOKIE_NAME_MAX];
    char *redirect_uri;
    char *code;
    char request_id[TG_ID_MAX + 8];
    char ip[64];
};

static void oauth_cb_free(struct oauth_cb *cb)
{
    if (cb->code != NULL)
        api_secret_free(cb->code, strlen(cb->code));
    free(cb->redirect_uri);
    free(cb);
}

/* Audit details {"provider", "reason"} (new reference). */
static json_t *oauth_details(const char *provider, const char *reason)
{
    return json_pack("{s:s, s:s}", "provider", provider, "reason", reason);
}

/* Records a successful security event for the request's user (fire and forget); details
 * (stolen) is a JSON object. */
static void oauth_audit(struct req *r, const char *user_id, const char *action, json_t *details)
{
    char *dj = json_dumps(details, JSON_COMPACT);
    json_decref(details);
    audit_event(req_exec(r), user_id, action, "user", user_id, req_client_ip(r), req_id(r), dj, time_now_ms(), NULL,
                NULL);
    free(dj);
}

/* 302 to return_to with a fragment, deleting the flow cookie. */
static void oauth_redirect_back(struct req *r, const struct oauth_cb *cb, const char *fragment)
{
    char *loc = xasprintf("%s#%s", cb->fs.return_to, fragment);
    oauth_set_cookie(r, cb->cookie_name, NULL);
    res_header(r, "location", loc);
    res_header(r, "cache-control", "no-store");
    free(loc);
    res_empty(r, 302);
}

static void oauth_signed_in(void *arg, const struct oauth_result *res)
{
    struct oauth_cb *cb = arg;
    struct req *r = req_ref_take(cb->ref);
    if (r == NULL)
        goto cleanup;
    switch (res->rc) {
    case OAUTH_OK: {
        oauth_audit(r, res->user.id, cb->fs.link_user_id[0] ? "auth.identity_linked" : "auth.oauth_signin",
                    json_pack("{s:s, s:b, s:b}", "provider", cb->p->name, "created", res->created, "linked",
                              res->linked));
        if (cb->fs.link_user_id[0]) {
            char frag[64];
            snprintf(frag, sizeof frag, "linked=%s", cb->p->name);
            oauth_redirect_back(r, cb, frag);
        } else {
            char frag[OAUTH_LOGIN_CODE_LEN + 16];
            snprintf(frag, sizeof frag, "login_code=%s", res->login_code);
            oauth_redirect_back(r, cb, frag);
        }
        break;
    }
    case OAUTH_STATE_USED:
        api_audit_then_error(r, NULL, "auth.oauth_rejected", "provider", cb->p->name,
                             oauth_details(cb->p->name, "state_replayed"), TG_E_INVALID_STATE, NULL, NULL);
        break;
    case OAUTH_DISABLED:
        api_audit_then_error(r, res->user.id[0] ? res->user.id : NULL, "auth.oauth_rejected", "provider",
                             cb->p->name, oauth_details(cb->p->name, "account_disabled"), TG_E_ACCOUNT_DISABLED,
                             NULL, NULL);
        break;
    case OAUTH_LINKED_ELSEWHERE:
        api_audit_then_error(r, cb->fs.link_user_id, "auth.oauth_rejected", "provider", cb->p->name,
                             oauth_details(cb->p->name, "linked_elsewhere"), TG_E_IDENTITY_IN_USE, NULL, NULL);
        break;
    case OAUTH_LINK_USER_GONE:
        res_error(r, TG_E_INVALID_TOKEN, "The account that started linking is gone or disabled.", NULL);
        break;
    case OAUTH_UNAVAILABLE:
        res_header(r, "retry-after", "1");
        res_error(r, TG_E_UNAVAILABLE, NULL, NULL);
        break;
    default:
        res_error(r, TG_E_INTERNAL, NULL, NULL);
        break;
    }

cleanup:
    oauth_cb_free(cb);
}

static void oauth_exchanged(void *arg, const struct auth_result *ar)
{
    struct oauth_cb *cb = arg;
    struct req *r = req_ref_take(cb->ref);
    if (r == NULL) {
        oauth_cb_free(cb);
        return;
    }
    log_event(ar->rc == AUTH_P_OK ? LOG_INFO : LOG_WARN, "oauth_exchange", "request_id", req_id(r), "provider",
              cb->p->name, "outcome", auth_prc_name(ar->rc), "reason", ar->reason[0] ? ar->reason : "-", NULL);
    switch (ar->rc) {
    case AUTH_P_OK: {
        struct oauth_policy pol = {tg_cfg->signup_credits, tg_cfg->signup_require_verified, ""};
        snprintf(pol.signup_region, sizeof pol.signup_region, "%s", region_name(api_region_of_new_account(r)));
        cb->ref = req_ref_new(r);
        oauth_signin(req_exec(r), cb->p, &ar->id, cb->fs.nonce, cb->fs.expires_ms, cb->fs.link_user_id, 0, &pol,
                     time_now_ms(), oauth_signed_in, cb);
        return;
    }
    case AUTH_P_INVALID:
    case AUTH_P_DENIED:
        api_audit_then_error(r, NULL, "auth.oauth_rejected", "provider", cb->p->name,
                             oauth_details(cb->p->name, ar->reason[0] ? ar->reason : "provider_rejected"),
                             TG_E_PROVIDER_REJECTED, NULL, json_pack("{s:s}", "reason", ar->reason));
        break;
    case AUTH_P_UNAVAILABLE:
        res_header(r, "retry-after", "5");
        /* The reason (an errcode, a timeout) is logged, not sent: the provider suffices. */
        res_error(r, TG_E_PROVIDER_UNAVAILABLE, NULL, json_pack("{s:s}", "provider", cb->p->name));
        break;
    case AUTH_P_MISCONFIGURED:
    default:
        log_event(LOG_ERROR, "oauth_provider_misconfigured", "provider", cb->p->name, "reason", ar->reason, NULL);
        res_error(r, TG_E_PROVIDER_ERROR, NULL, json_pack("{s:s}", "provider", cb->p->name));
        break;
    }
    oauth_cb_free(cb);
}

static void oauth_state_consumed(void *arg, const struct oauth_result *res)
{
    struct oauth_cb *cb = arg;
    struct req *r = req_ref_take(cb->ref);
    if (r != NULL) {
        if (res->rc == OAUTH_OK)
            oauth_redirect_back(r, cb, "login_error=access_denied");
        else if (res->rc == OAUTH_STATE_USED)
            api_audit_then_error(r, NULL, "auth.oauth_rejected", "provider", cb->p->name,
                                 oauth_details(cb->p->name, "state_replayed"), TG_E_INVALID_STATE, NULL, NULL);
        else if (res->rc == OAUTH_UNAVAILABLE)
            res_error(r, TG_E_UNAVAILABLE, NULL, NULL);
        else
            res_error(r, TG_E_INTERNAL, NULL, NULL);
    }
    oauth_cb_free(cb);
}

void api_oauth_callback(struct req *r)
{
    const struct auth_provider *p = oauth_provider_or_reply(r);
    if (p == NULL)
        return;
    const char *state = req_query(r, "state");
    const char *code = req_query(r, "code");
    const char *error = req_query(r, "error");
    struct oauth_cb *cb = xcalloc(1, sizeof *cb);
    cb->p = p;

    if (state == NULL || oauth_state_cookie_name(state, cb->cookie_name) != 0) {
        oauth_cb_free(cb);
        api_audit_then_error(r, NULL, "auth.oauth_rejected", "provider", p->name,
                             oauth_details(p->name, "state_malformed"), TG_E_INVALID_STATE, NULL, NULL);
        return;
    }
    enum oauth_state_rc src =
        oauth_state_check(p->name, state, req_cookie(r, cb->cookie_name), time_now_ms(), &cb->fs);
    if (src != OAUTH_STATE_OK) {
        oauth_cb_free(cb);
        api_audit_then_error(r, NULL, "auth.oauth_rejected", "provider", p->name,
                             oauth_details(p->name, oauth_state_rc_name(src)), TG_E_INVALID_STATE,
                             src == OAUTH_STATE_NO_COOKIE
                                 ? "This sign-in was started in another browser, or cookies are blocked. "
                                   "Please start again."
                                 : NULL,
                             json_pack("{s:s}", "reason", oauth_state_rc_name(src)));
        return;
    }
    /* The person refused at the provider (error=access_denied), or the provider sent no
     * code (WeChat: a refusal comes back with the state only). The state is used up. */
    if (code == NULL || code[0] == '\0' || error != NULL) {
        cb->ref = req_ref_new(r);
        oauth_state_consume(req_exec(r), cb->fs.nonce, cb->fs.expires_ms, oauth_state_consumed, cb);
        return;
    }
    if (strlen(code) > OAUTH_CODE_READ_MAX) {
        oauth_cb_free(cb);
        res_error(r, TG_E_PROVIDER_REJECTED, "The code from the provider is too long.", NULL);
        return;
    }
    cb->code = api_secret_dup(code, strlen(code));
    cb->redirect_uri = oauth_redirect_uri(p);
    struct auth_flow f = {
        .redirect_uri = cb->redirect_uri,
        .state = state,
        .code_challenge = NULL,
        .nonce = cb->fs.oidc_nonce,
        .user_agent = NULL,
    };
    snprintf(f.variant, sizeof f.variant, "%s", cb->fs.variant);
    cb->ref = req_ref_new(r);
    p->exchange(req_net(r), &f, cb->code, p->pkce ? cb->fs.verifier : NULL, time_now_ms(), oauth_exchanged, cb);
}

/* ---- exchange ---- */

static void oauth_exchange_done(void *arg, const struct oauth_result *res)
{
    struct req *r = req_ref_take(arg);
    if (r == NULL)
        return;
    switch (res->rc) {
    case OAUTH_OK:
        api_reply_session(r, 200, &res->user, &res->tokens);
        break;
    case OAUTH_CODE_USED:
        api_audit_then_error(r, NULL, "auth.login_code_replayed", NULL, NULL, NULL, TG_E_INVALID_LOGIN_CODE, NULL,
                             NULL);
        break;
    case OAUTH_CODE_INVALID:
        res_error(r, TG_E_INVALID_LOGIN_CODE, NULL, NULL);
        break;
    case OAUTH_DISABLED:
        res_error(r, TG_E_ACCOUNT_DISABLED, NULL, NULL);
        break;
    case OAUTH_UNAVAILABLE:
        res_error(r, TG_E_UNAVAILABLE, NULL, NULL);
        break;
    default:
        res_error(r, TG_E_INTERNAL, NULL, NULL);
        break;
    }
}

void api_auth_exchange(struct req *r)
{
    static const char *const allowed[] = {"code", NULL};
    struct jerr e;
    const char *code;
    json_t *body = req_json_or_reply(r);
    if (body == NULL)
        return;
    if (jv_only(body, allowed, &e) != 0 || jv_string(body, "code", 1, 1, OAUTH_LOGIN_CODE_READ_MAX, &code, &e) != 0) {
        api_reply_jerr(r, &e);
        return;
    }
    oauth_exchange(req_exec(r), code, strlen(code), time_now_ms(), oauth_exchange_done, req_ref_new(r));
}

/* ---- Google One Tap ---- */

/* Google's ID tokens are about 1 KiB; jwt.c refuses anything past 8 KiB anyway. */
#define OAUTH_CREDENTIAL_READ_MAX 8192


static void onetap_signed_in(void *arg, const struct oauth_result *res)
{
    struct req *r = req_ref_take(arg);
    if (r == NULL)
        return;
    switch (res->rc) {
    case OAUTH_OK:
        oauth_audit(r, res->user.id, "auth.oauth_signin",
                    json_pack("{s:s, s:b, s:b}", "provider", "google", "created", res->created, "linked", res->linked));
        api_reply_session(r, 200, &res->user, &res->tokens);
        break;
    case OAUTH_DISABLED:
        api_audit_then_error(r, NULL, "auth.oauth_rejected", "provider", "google",
                             oauth_details("google", "account_disabled"), TG_E_ACCOUNT_DISABLED, NULL, NULL);
        break;
    case OAUTH_UNAVAILABLE:
        res_error(r, TG_E_UNAVAILABLE, NULL, NULL);
        break;
    default:
        res_error(r, TG_E_INTERNAL, NULL, NULL);
        break;
    }
}

static void onetap_verified(void *arg, const struct auth_result *ar)
{
    struct req *r = req_ref_take(arg);
    if (r == NULL)
        return;
    log_event(ar->rc == AUTH_P_OK ? LOG_INFO : LOG_WARN, "google_credential", "request_id", req_id(r), "outcome",
              auth_prc_name(ar->rc), "reason", ar->reason[0] ? ar->reason : "-", NULL);
    switch (ar->rc) {
    case AUTH_P_OK: {
        struct oauth_policy pol = {tg_cfg->signup_credits, tg_cfg->signup_require_verified, ""};
        snprintf(pol.signup_region, sizeof pol.signup_region, "%s", region_name(api_region_of_new_account(r)));
        oauth_signin(req_exec(r), &auth_google, &ar->id, NULL, 0, "", 1, &pol, time_now_ms(), onetap_signed_in,
                     req_ref_new(r));
        return;
    }
    case AUTH_P_INVALID:
    case AUTH_P_DENIED:
        api_audit_then_error(r, NULL, "auth.oauth_rejected", "provider", "google",
                             oauth_details("google", ar->reason[0] ? ar->reason : "invalid"), TG_E_INVALID_CREDENTIAL,
                             NULL, json_pack("{s:s}", "reason", ar->reason));
        return;
    case AUTH_P_UNAVAILABLE:
        res_header(r, "retry-after", "5");
        res_error(r, TG_E_PROVIDER_UNAVAILABLE, NULL, json_pack("{s:s}", "provider", "google"));
        return;
    case AUTH_P_MISCONFIGURED:
    default:
        log_event(LOG_ERROR, "oauth_provider_misconfigured", "provider", "google", "reason", ar->reason, NULL);
        res_error(r, TG_E_PROVIDER_ERROR, NULL, json_pack("{s:s}", "provider", "google"));
        return;
    }
}

void api_auth_google_id_token(struct req *r)
{
    static const char *const allowed[] = {"credential", NULL};
    struct jerr e;
    const char *cred;
    if (!auth_google.configured()) {
        res_error(r, TG_E_NOT_FOUND, "Google sign-in is not set up here.", NULL);
        return;
    }
    json_t *body = req_json_or_reply(r);
    if (body == NULL)
        return;
    if (jv_only(body, allowed, &e) != 0 ||
        jv_string(body, "credential", 1, 1, OAUTH_CREDENTIAL_READ_MAX, &cred, &e) != 0) {
        api_reply_jerr(r, &e);
        return;
    }
    google_verify_credential(req_net(r), cred, strlen(cred), NULL, time_now_ms(), onetap_verified, req_ref_new(r));
}

/* ---- linking and unlinking (signed in) ---- */

void api_me_identity_link(struct req *r)
{
    if (api_require_session_or_reply(r) != 0)
        return;
    const struct auth_provider *p = oauth_provider_or_reply(r);
    if (p == NULL)
        return;
    const char *return_to = req_query(r, "return_to");
    if (return_to == NULL || return_to[0] == '\0')
        return_to = "/";
    if (!oauth_return_to_valid(return_to)) {
        api_reply_field(r, TG_E_VALIDATION, "return_to",
                        "return_to must be a path on this site (starting with a single '/', no '#')");
        return;
    }
    char *url = oauth_begin_or_reply(r, p, return_to, req_principal(r)->user_id);
    if (url == NULL)
        return;
    res_json(r, 200, json_pack("{s:s}", "url", url));
    free(url);
}

static void unlink_done(void *arg, enum oauth_unlink_rc rc, const struct identity *removed)
{
    struct req *r = req_ref_take(arg);
    if (r == NULL)
        return;
    switch (rc) {
    case OAUTH_UNLINK_OK:
        oauth_audit(r, req_principal(r)->user_id, "auth.identity_unlinked",
                    json_pack("{s:s, s:s}", "provider", removed->provider, "identity_id", removed->id));
        res_empty(r, 204);
        break;
    case OAUTH_UNLINK_NOTFOUND:
        res_error(r, TG_E_NOT_FOUND, NULL, NULL);
        break;
    case OAUTH_UNLINK_LAST:
        res_error(r, TG_E_LAST_SIGN_IN_METHOD, NULL, NULL);
        break;
    case OAUTH_UNLINK_UNAVAILABLE:
        res_error(r, TG_E_UNAVAILABLE, NULL, NULL);
        break;
    default:
        res_error(r, TG_E_INTERNAL, NULL, NULL);
        break;
    }
}

void api_me_identity_unlink(struct req *r)
{
    if (api_require_session_or_reply(r) != 0)
        return;
    const char *id = req_param(r, "id");
    if (id == NULL || !id_valid(id, "idn")) {
        res_error(r, TG_E_NOT_FOUND, NULL, NULL);
        return;
    }
    oauth_unlink(req_exec(r), req_principal(r)->user_id, id, time_now_ms(), unlink_done, req_ref_new(r));
}
