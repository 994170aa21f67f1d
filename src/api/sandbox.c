/*
 * sandbox.c - the sandbox provider's pages (DESIGN section 9): a test sign-in page at
 * /sandbox/sign-in that stands in for Google's or WeChat's consent screen, so a newcomer can
 * try every browser flow with no account anywhere. Served only while TG_SANDBOX is on.
 *
 * The page is plain HTML with forms (no script, so the document CSP holds) and echoes
 * nothing it did not check: the state must look like one of ours and the PKCE challenge like
 * an S256 challenge. It sends people back only to our own sandbox callback.
 */
#include "api/api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "crypto/encode.h"
#include "domain/oauth.h"
#include "providers/auth/sandbox.h"

static int sandbox_on_or_reply(struct req *r)
{
    if (tg_cfg->sandbox)
        return 0;
    res_error(r, TG_E_NOT_FOUND, NULL, NULL);
    return -1;
}

/* The state (64 hex) and challenge (43 base64url) of the query, checked; -1 after replying. */
static int sandbox_params_or_reply(struct req *r, const char **state, const char **challenge)
{
    char name[OAUTH_COOKIE_NAME_MAX];
    unsigned char d[32];
    *state = req_query(r, "state");
    *challenge = req_query(r, "code_challenge");
    if (*state == NULL || oauth_state_cookie_name(*state, name) != 0) {
        api_reply_field(r, TG_E_VALIDATION, "state", "not a sign-in state made by this server");
        return -1;
    }
    if (*challenge == NULL || strlen(*challenge) != 43 || b64url_decode(*challenge, 43, d, sizeof d) != 32) {
        api_reply_field(r, TG_E_VALIDATION, "code_challenge", "not a PKCE S256 challenge");
        return -1;
    }
    return 0;
}

void api_sandbox_signin_page(struct req *r)
{
    const char *state, *challenge;
    if (sandbox_on_or_reply(r) != 0 || sandbox_params_or_reply(r, &state, &challenge) != 0)
        return;
    size_t cap = 8192, n = 0;
    char *html = req_alloc(r, cap);
#define OUT(...) n += (size_t)snprintf(html + n, n < cap ? cap - n : 0, __VA_ARGS__)
    OUT("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        "<title>Sandbox sign-in</title></head><body>\n"
        "<main><h1>Sandbox sign-in</h1>\n"
        "<p>This page stands in for a real sign-in provider (Google, WeChat) so that you can try "
        "Tollgate without any account. Choose who you are. It is on while <code>TG_SANDBOX</code> is on; "
        "turn it off in production.</p>\n<ul>\n");
    for (size_t i = 0; i < sandbox_people_count; i++) {
        const struct sandbox_person *p = &sandbox_people[i];
        OUT("<li><form method=\"get\" action=\"/sandbox/sign-in/approve\">"
            "<input type=\"hidden\" name=\"state\" value=\"%s\">"
            "<input type=\"hidden\" name=\"code_challenge\" value=\"%s\">"
            "<input type=\"hidden\" name=\"who\" value=\"%s\">"
            "<button type=\"submit\">Continue as %s</button> <span>%s%s%s</span></form></li>\n",
            state, challenge, p->key, p->display_name, p->about, p->email[0] ? " " : "", p->email);
    }
    OUT("</ul>\n<form method=\"get\" action=\"/sandbox/sign-in/approve\">"
        "<input type=\"hidden\" name=\"state\" value=\"%s\">"
        "<input type=\"hidden\" name=\"code_challenge\" value=\"%s\">"
        "<input type=\"hidden\" name=\"deny\" value=\"1\">"
        "<button type=\"submit\">Cancel (deny access)</button></form>\n</main></body></html>\n",
        state, challenge);
#undef OUT
    if (n >= cap) {
        res_error(r, TG_E_INTERNAL, NULL, NULL);
        return;
    }
    res_header(r, "cache-control", "no-store");
    res_text(r, 200, "text/html; charset=utf-8", html, n);
}

void api_sandbox_signin_approve(struct req *r)
{
    const char *state, *challenge;
    if (sandbox_on_or_reply(r) != 0 || sandbox_params_or_reply(r, &state, &challenge) != 0)
        return;
    char *back = sandbox_signin_redirect_uri();
    char *loc;
    if (req_query(r, "deny") != NULL) {
        loc = xasprintf("%s?error=access_denied&state=%s", back, state);
    } else {
        const char *who = req_query(r, "who");
        char *code = who ? sandbox_signin_code(who, challenge, time_now_ms()) : NULL;
        if (code == NULL) {
            free(back);
            api_reply_field(r, TG_E_VALIDATION, "who", "choose one of the people on the page");
            return;
        }
        /* The code is base64url with one '.': nothing in it needs escaping in a query. */
        loc = xasprintf("%s?code=%s&state=%s", back, code, state);
        free(code);
    }
    free(back);
    res_header(r, "location", loc);
    res_header(r, "cache-control", "no-store");
    free(loc);
    res_empty(r, 302);
}
