/*
 * google.c - the Google sign-in provider: configuration and network glue around the pure
 * pieces of google_id.c and jwks.c.
 *
 * Verifying an ID token is a small state machine on the caller's loop:
 *
 *   parse the token (alg, kid) --refused--> done(INVALID)
 *   ask the key cache:  USE   -> verify; an unknown kid may trigger one fetch (throttled)
 *                       FETCH -> GET TG_GOOGLE_JWKS_URL through net.h, then verify with
 *                                what came back, or with the stale set if the fetch failed
 *   done(result)
 *
 * At most one fetch per verification, and every completion runs on the executor of the
 * caller that started it (net.h's promise), so the cache is the only shared state.
 */
#include "providers/auth/google.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/log.h"
#include "core/mem.h"
#include "net/net.h"

/* JWKS fetch: an idempotent GET that net.h retries once; 4 s per attempt keeps a dead
 * endpoint's answer (503) under ~10 s, like the token call. */
#define GOOGLE_JWKS_TIMEOUT_MS 4000
#define GOOGLE_JWKS_RETRIES 1
/* Token call: not idempotent (a code is single-use), never retried. */
#define GOOGLE_TOKEN_TIMEOUT_MS 10000
#define GOOGLE_TOKEN_MAX_RESPONSE (64 * 1024)

struct jwks_cache google_jwks = JWKS_CACHE_INIT;

static const char *cfg(const char *key)
{
    const char *v = config_get(key);
    return v != NULL && v[0] != '\0' ? v : NULL;
}

static int google_configured(void) { return cfg("TG_GOOGLE_CLIENT_ID") != NULL; }

static void fail_now(auth_done_fn done, void *arg, enum auth_prc rc, const char *reason)
{
    struct auth_result res;
    memset(&res, 0, sizeof res);
    strcpy(res.id.provider, "google");
    res.rc = rc;
    snprintf(res.reason, sizeof res.reason, "%s", reason);
    done(arg, &res);
}

/* ---- ID token verification ------------------------------------------------------------- */

struct gverify {
    struct net_call call; /* the JWKS fetch */
    struct net_exec *nx;
    char *jwt;            /* our copy; t borrows it */
    struct jwt_rs256 t;
    char *nonce;          /* NULL: none expected */
    int64_t now_ms;
    auth_done_fn done;
    void *arg;
    struct jwks_set *fallback; /* a stale set to use if the fetch fails, or NULL */
};

static void gverify_finish(struct gverify *g, const struct auth_result *res)
{
    auth_done_fn done = g->done;
    void *arg = g->arg;

    if (res->rc != AUTH_P_OK)
        log_event(res->rc == AUTH_P_INVALID ? LOG_INFO : LOG_WARN, "google_id_token", "result",
                  auth_prc_name(res->rc), "reason", res->reason, "kid", g->t.kid[0] ? g->t.kid : NULL, NULL);
    jwks_set_unref(g->fallback);
    free(g->jwt);
    free(g->nonce);
    free(g);
    done(arg, res);
}

static void gverify_fail(struct gverify *g, enum auth_prc rc, const char *reason)
{
    struct auth_result res;
    memset(&res, 0, sizeof res);
    strcpy(res.id.provider, "google");
    res.rc = rc;
    snprintf(res.reason, sizeof res.reason, "%s", reason);
    gverify_finish(g, &res);
}

/* Verifies with s; 1 when the kid is not in s (g untouched), else 0 and g is finished. */
static int gverify_with(struct gverify *g, const struct jwks_set *s)
{
    struct auth_result res;
    const char *client_id = cfg("TG_GOOGLE_CLIENT_ID");

    if (google_verify_keys(&g->t, s, client_id, g->nonce, g->now_ms / 1000, &res) != 0)
        return 1;
    gverify_finish(g, &res);
    return 0;
}

static void gverify_fetched(struct net_call *c)
{
    struct gverify *g = (struct gverify *)((char *)c - offsetof(struct gverify, call));
    struct jwks_set *s = NULL;
    enum jwks_rc jrc = JWKS_MALFORMED;
    char why[32];

    if (c->err == NET_OK && c->status == 200) {
        jrc = jwks_parse(c->resp_body, c->resp_len, &s, NULL);
        if (jrc == JWKS_OK) {
            jwks_cache_install(&google_jwks, s, g->now_ms + c->duration_ms,
                               jwks_ttl_s(net_resp_header(c, "cache-control")));
            net_call_release(c);
            if (gverify_with(g, s) != 0)
                gverify_fail(g, AUTH_P_INVALID, "unknown_kid");
            jwks_set_unref(s);
            return;
        }
        snprintf(why, sizeof why, "jwks_%s", jwks_rc_name(jrc));
    } else if (c->err == NET_OK) {
        snprintf(why, sizeof why, "http_%ld", c->status);
    } else {
        snprintf(why, sizeof why, "%s", net_err_name(c->err));
    }
    log_event(LOG_WARN, "google_jwks_fetch_failed", "reason", why, NULL);
    net_call_release(c);

    /* The fetch failed: a stale set still within its grace keeps sign-in working, except
     * for a kid it does not have (maybe a new key we could not fetch: unavailable, not
     * invalid, so the person can retry). */
    if (g->fallback != NULL && jwks_set_usable(g->fallback, g->now_ms) && gverify_with(g, g->fallback) == 0)
        return;
    gverify_fail(g, AUTH_P_UNAVAILABLE, "jwks_unavailable");
}

static void gverify_fetch(struct gverify *g)
{
    net_call_init(&g->call, "google", "GET", cfg("TG_GOOGLE_JWKS_URL"));
    net_call_header(&g->call, "Accept", "application/json");
    g->call.timeout_ms = GOOGLE_JWKS_TIMEOUT_MS;
    g->call.max_response = JWKS_MAX_BYTES;
    g->call.idempotent = 1;
    g->call.retries = GOOGLE_JWKS_RETRIES;
    net_exec_submit(g->nx, &g->call, gverify_fetched);
}

void google_verify_credential(struct net_exec *nx, const char *jwt, size_t len, const char *nonce, int64_t now_ms,
                              auth_done_fn done, void *arg)
{
    struct gverify *g;
    struct jwks_set *s = NULL;
    enum jwt_rc prc;

    if (!google_configured() || cfg("TG_GOOGLE_JWKS_URL") == NULL) {
        fail_now(done, arg, AUTH_P_MISCONFIGURED, "not_configured");
        return;
    }
    /* Refuse before copying anything an attacker sent in bulk. */
    if (jwt == NULL || len > JWT_RS_MAX_LEN) {
        fail_now(done, arg, AUTH_P_INVALID, jwt == NULL ? "malformed" : "token_too_large");
        return;
    }
    g = xcalloc(1, sizeof *g);
    g->nx = nx;
    g->jwt = xstrndup(jwt, len);
    g->nonce = nonce != NULL ? xstrdup(nonce) : NULL;
    g->now_ms = now_ms;
    g->done = done;
    g->arg = arg;
    prc = jwt_rs256_parse(g->jwt, len, &g->t);
    if (prc != JWT_OK) {
        gverify_fail(g, AUTH_P_INVALID, google_parse_reason(prc));
        return;
    }

    if (jwks_cache_begin(&google_jwks, now_ms, &s) == JWKS_USE) {
        if (gverify_with(g, s) == 0) {
            jwks_set_unref(s);
            return;
        }
        /* Not in the current set: Google may have rotated. One throttled refetch. */
        if (!jwks_cache_claim_unknown_kid(&google_jwks, now_ms)) {
            jwks_set_unref(s);
            gverify_fail(g, AUTH_P_INVALID, "unknown_kid");
            return;
        }
    }
    g->fallback = s; /* the reference passes to g */
    gverify_fetch(g);
}

/* ---- authorization-code flow ----------------------------------------------------------- */

static char *google_authorize_url(struct auth_flow *f)
{
    const char *client_id = cfg("TG_GOOGLE_CLIENT_ID"), *base = cfg("TG_GOOGLE_AUTH_URL");

    f->variant[0] = '\0';
    /* The code flow needs the secret at the token endpoint: without it, no redirect that
     * could only fail later (One Tap still works with the client id alone). */
    if (client_id == NULL || base == NULL || cfg("TG_GOOGLE_CLIENT_SECRET") == NULL)
        return NULL;
    return google_authorize_url_build(base, client_id, f);
}

struct gexchange {
    struct net_call call;
    struct net_exec *nx;
    char *nonce;
    int64_t now_ms;
    auth_done_fn done;
    void *arg;
};

static void gexchange_done(struct net_call *c)
{
    struct gexchange *x = (struct gexchange *)((char *)c - offsetof(struct gexchange, call));
    struct auth_result res;
    size_t id_len = 0;
    char *id_token = google_token_response((int)c->err, c->status, c->resp_body, c->resp_len, &id_len, &res);

    if (id_token == NULL) {
        log_event(res.rc == AUTH_P_INVALID ? LOG_INFO : LOG_WARN, "google_code_exchange", "result",
                  auth_prc_name(res.rc), "reason", res.reason, NULL);
        net_call_release(c);
        x->done(x->arg, &res);
    } else {
        /* The same checks as a One Tap credential, plus the nonce this flow sent. */
        int64_t now_ms = x->now_ms + c->duration_ms;
        net_call_release(c);
        google_verify_credential(x->nx, id_token, id_len, x->nonce, now_ms, x->done, x->arg);
        free(id_token);
    }
    free(x->nonce);
    free(x);
}

/* auth_provider.exchange: the ID token must carry f->nonce (when the flow sent one). */
static void google_exchange(struct net_exec *nx, const struct auth_flow *f, const char *code,
                            const char *code_verifier, int64_t now_ms, auth_done_fn done, void *arg)
{
    const char *client_id = cfg("TG_GOOGLE_CLIENT_ID"), *secret = cfg("TG_GOOGLE_CLIENT_SECRET");
    const char *url = cfg("TG_GOOGLE_TOKEN_URL");
    struct gexchange *x;
    char *form;
    size_t clen = code != NULL ? strlen(code) : 0;

    if (client_id == NULL || secret == NULL || url == NULL) {
        fail_now(done, arg, AUTH_P_MISCONFIGURED, "not_configured");
        return;
    }
    if (clen == 0 || clen > GOOGLE_CODE_MAX) {
        fail_now(done, arg, AUTH_P_INVALID, "bad_code");
        return;
    }
    x = xcalloc(1, sizeof *x);
    x->nx = nx;
    x->nonce = f->nonce != NULL ? xstrdup(f->nonce) : NULL;
    x->now_ms = now_ms;
    x->done = done;
    x->arg = arg;
    form = google_token_form(code, client_id, secret, f->redirect_uri != NULL ? f->redirect_uri : "", code_verifier);
    net_call_init(&x->call, "google", "POST", url);
    net_call_body(&x->call, "application/x-www-form-urlencoded", form, strlen(form));
    net_call_header(&x->call, "Accept", "application/json");
    x->call.timeout_ms = GOOGLE_TOKEN_TIMEOUT_MS;
    x->call.max_response = GOOGLE_TOKEN_MAX_RESPONSE;
    x->call.idempotent = 0;
    x->call.retries = 0;
    free(form);
    net_exec_submit(nx, &x->call, gexchange_done);
}

const struct auth_provider auth_google = {
    .name = "google",
    .pkce = 1,
    .trust_email = 1,
    .configured = google_configured,
    .authorize_url = google_authorize_url,
    .exchange = google_exchange,
};
