/*
 * sandbox.c - the sandbox provider's pages (DESIGN section 9): a test sign-in page at
 * /sandbox/sign-in that stands in for Google's or WeChat's consent screen, so a newcomer can
 * try every browser flow with no account anywhere. Served only while TG_SANDBOX is on.
 *
 * The page is plain HTML with forms (no script, so the document CSP holds) and echoes
 * nothing it did not check: the state must look like one of ours and the PKCE challenge like
 * an S256 challenge. It sends people back only to our own sandbox callback.
 *
 * The checkout page /sandbox/checkout/{order} stands in for a payment provider's: Pay and
 * Fail make the sandbox provider's signed notification (providers/pay/sandbox.h) and run it
 * through the same path as every provider's webhook - verification included - then send
 * the browser back to the page the order was created with.
 */
#include "api/api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/mem.h"
#include "core/money.h"
#include "core/timeutil.h"
#include "crypto/encode.h"
#include "domain/oauth.h"
#include "providers/auth/sandbox.h"
#include "providers/pay/sandbox.h"

/* Sends a page written into html (n bytes of cap; n >= cap means it did not fit). */
static void sandbox_send_page(struct req *r, const char *html, size_t n, size_t cap)
{
    if (n >= cap) {
        res_error(r, TG_E_INTERNAL, NULL, NULL);
        return;
    }
    res_header(r, "cache-control", "no-store");
    res_text(r, 200, "text/html; charset=utf-8", html, n);
}

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
    sandbox_send_page(r, html, n, cap);
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

/* ---- the checkout page ---- */

struct sandbox_checkout {
    struct api_call base;
    char id[TG_ID_MAX];
    int action; /* 0 show, 1 pay, 2 fail */
    struct order o;
    char *body, *sig; /* the notification, while it is processed */
};

static enum store_rc sandbox_checkout_run(struct store *s, struct store_call *sc)
{
    struct sandbox_checkout *c = (struct sandbox_checkout *)sc;
    enum store_rc rc = store_order_get(s, c->id, &c->o);
    if (rc == STORE_OK && strcmp(c->o.provider, "sandbox") != 0)
        return STORE_NOTFOUND; /* not a sandbox checkout */
    return rc;
}

static void sandbox_checkout_show(struct req *r, const struct order *o)
{
    char price[32];
    money_format(o->amount, o->currency, price, sizeof price);
    size_t cap = 4096, n = 0;
    char *html = req_alloc(r, cap);
#define OUT(...) n += (size_t)snprintf(html + n, n < cap ? cap - n : 0, __VA_ARGS__)
    OUT("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        "<title>Sandbox checkout</title></head><body>\n<main><h1>Sandbox checkout</h1>\n"
        "<p>This page stands in for a payment provider (Stripe, WeChat Pay, Alipay...) so that you can try "
        "Tollgate without any account. No money moves. It is on while <code>TG_SANDBOX</code> is on; turn it "
        "off in production.</p>\n"
        "<dl><dt>Order</dt><dd id=\"order\">%s</dd><dt>Product</dt><dd>%s (%lld credits)</dd>"
        "<dt>Amount</dt><dd id=\"amount\">%s %s</dd><dt>Status</dt><dd id=\"status\">%s</dd></dl>\n",
        o->id, o->product, (long long)o->credits, price, o->currency, o->status);
    if (strcmp(o->status, "pending") == 0)
        OUT("<form method=\"post\" action=\"/sandbox/checkout/%s/pay\"><button type=\"submit\">Pay %s %s</button>"
            "</form>\n<form method=\"post\" action=\"/sandbox/checkout/%s/fail\"><button type=\"submit\">"
            "Fail the payment</button></form>\n",
            o->id, price, o->currency, o->id);
    else
        OUT("<p><a href=\"%s%s\">Back</a></p>\n", o->return_url[0] ? "" : "/", o->return_url);
    OUT("</main></body></html>\n");
#undef OUT
    sandbox_send_page(r, html, n, cap);
}

static const char *sandbox_checkout_header(void *hctx, const char *lname)
{
    struct sandbox_checkout *c = hctx;
    return strcmp(lname, "tollgate-sandbox-signature") == 0 ? c->sig : NULL;
}

static void sandbox_checkout_processed(struct req *r, const struct pay_provider *p, int status, const char *outcome,
                                       const char *order_id, void *arg)
{
    char *back = arg;
    (void)p;
    (void)order_id;
    if (r != NULL) {
        if (status == 200) {
            res_header(r, "location", back);
            res_header(r, "cache-control", "no-store");
            res_empty(r, 303);
        } else {
            res_error(r, status == 400 ? TG_E_WEBHOOK_REJECTED : TG_E_UNAVAILABLE, NULL,
                      json_pack("{s:s}", "outcome", outcome));
        }
    }
    free(back);
}

static void sandbox_checkout_reply(struct req *r, struct api_call *ac)
{
    struct sandbox_checkout *c = (struct sandbox_checkout *)ac;
    if (ac->call.rc != STORE_OK) {
        api_reply_store(r, ac->call.rc, "sandbox_checkout");
        return;
    }
    if (c->action == 0) {
        sandbox_checkout_show(r, &c->o);
        return;
    }
    if (strcmp(c->o.status, "pending") != 0) {
        res_error(r, TG_E_CONFLICT, "This order is no longer waiting for a payment.",
                  json_pack("{s:s}", "status", c->o.status));
        return;
    }
    if (sandbox_pay_notification(&c->o, c->action == 1 ? "payment.succeeded" : "payment.failed", c->o.amount, NULL,
                                 time_now_ms(), &c->body, &c->sig) != 0) {
        res_error(r, TG_E_INTERNAL, NULL, NULL);
        return;
    }
    char *back = c->o.return_url[0]
                     ? xasprintf("%s%s%sorder_id=%s", tg_cfg->public_url, c->o.return_url,
                                 strchr(c->o.return_url, '?') ? "&" : "?", c->o.id)
                     : xasprintf("%s/sandbox/checkout/%s", tg_cfg->public_url, c->o.id);
    api_webhook_process(r, &pay_sandbox, c->body, strlen(c->body), sandbox_checkout_header, c,
                        sandbox_checkout_processed, back);
}

static void sandbox_checkout_cleanup(struct api_call *ac)
{
    struct sandbox_checkout *c = (struct sandbox_checkout *)ac;
    free(c->body);
    free(c->sig);
}

static void sandbox_checkout_start(struct req *r, int action)
{
    const char *id = req_param(r, "order");
    if (sandbox_on_or_reply(r) != 0)
        return;
    if (id == NULL || strlen(id) >= TG_ID_MAX || strncmp(id, "ord_", 4) != 0) {
        res_error(r, TG_E_NOT_FOUND, NULL, NULL);
        return;
    }
    struct sandbox_checkout *c = api_call_new(r, sizeof *c, STORE_CALL_READ);
    snprintf(c->id, sizeof c->id, "%s", id);
    c->action = action;
    api_submit(r, &c->base, sandbox_checkout_run, sandbox_checkout_reply, sandbox_checkout_cleanup);
}

void api_sandbox_checkout_page(struct req *r) { sandbox_checkout_start(r, 0); }
void api_sandbox_checkout_pay(struct req *r) { sandbox_checkout_start(r, 1); }
void api_sandbox_checkout_fail(struct req *r) { sandbox_checkout_start(r, 2); }
