/*
 * oauth.c - the browser sign-in flow shared by every provider, and signing in with an
 * identity a provider vouched for (oauth.h has the design).
 */
#include "domain/oauth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "core/config.h"
#include "core/ids.h"
#include "core/log.h"
#include "core/mem.h"
#include "crypto/encode.h"
#include "crypto/hash.h"
#include "crypto/random.h"
#include "domain/signin.h"
#include "store/call.h"

/* ---- keys ---- */

/* A key for one purpose, derived from TG_JWT_SECRET: HMAC(secret, label). Keys for
 * different purposes differ, so a MAC made for one thing never verifies as another. */
static void oauth_key(const char *label, unsigned char out[32])
{
    hmac_sha256(tg_cfg->jwt_secret, tg_cfg->jwt_secret_len, label, strlen(label), out);
}

/* HMAC(key(label), data) */
static void oauth_mac(const char *label, const void *data, size_t n, unsigned char out[32])
{
    unsigned char key[32];
    oauth_key(label, key);
    hmac_sha256(key, sizeof key, data, n, out);
}

/* b64url(HMAC(key(label), nonce)): 43 characters (PKCE verifiers need 43..128 of them). */
static void oauth_derive(const char *label, const unsigned char nonce[16], char out[64])
{
    unsigned char mac[32];
    oauth_mac(label, nonce, 16, mac);
    size_t n = b64url_encode(mac, sizeof mac, out);
    out[n] = '\0';
}

/* ---- return_to ---- */

int oauth_return_to_valid(const char *path)
{
    if (path == NULL || path[0] != '/')
        return 0;
    /* "//host" and "/\host" are network-path references to a browser: another origin. */
    if (path[1] == '/' || path[1] == '\\')
        return 0;
    size_t n = 0;
    for (const char *p = path; *p; p++, n++) {
        unsigned char c = (unsigned char)*p;
        if (n >= OAUTH_RETURN_MAX || c <= 0x20 || c >= 0x7f || c == '\\' || c == '#')
            return 0;
    }
    return 1;
}

/* ---- start ---- */

static void oauth_cookie_name_of(const unsigned char nonce[16], char out[OAUTH_COOKIE_NAME_MAX])
{
    char hex[13];
    hex_encode(nonce, 6, hex);
    hex[12] = '\0';
    snprintf(out, OAUTH_COOKIE_NAME_MAX, OAUTH_COOKIE_PREFIX "%s", hex);
}

void oauth_start_make(struct oauth_start *out)
{
    unsigned char raw[32], mac[32];
    memset(out, 0, sizeof *out);
    rand_bytes(out->raw_nonce, 16);
    memcpy(raw, out->raw_nonce, 16);
    oauth_mac("tollgate oauth state v1", out->raw_nonce, 16, mac);
    memcpy(raw + 16, mac, 16);
    hex_encode(raw, 32, out->state);
    out->state[OAUTH_STATE_LEN] = '\0';
    oauth_cookie_name_of(out->raw_nonce, out->cookie_name);
    oauth_derive("tollgate oauth pkce v1", out->raw_nonce, out->verifier);
    unsigned char digest[32];
    sha256(out->verifier, strlen(out->verifier), digest);
    size_t n = b64url_encode(digest, sizeof digest, out->challenge);
    out->challenge[n] = '\0';
    oauth_derive("tollgate oauth oidc nonce v1", out->raw_nonce, out->nonce);
}

int oauth_cookie_make(const struct oauth_start *st, const char *provider, const char *variant, const char *return_to,
                      const char *link_user_id, int64_t now_ms, char *out, size_t cap)
{
    int ret = -1;
    char nonce_hex[33];
    hex_encode(st->raw_nonce, 16, nonce_hex);
    nonce_hex[32] = '\0';
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I}", "p", provider, "v", variant ? variant : "", "r",
                          return_to, "l", link_user_id ? link_user_id : "", "n", nonce_hex, "e",
                          (json_int_t)(now_ms + OAUTH_STATE_TTL_MS));
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (text == NULL)
        return -1;
    size_t tlen = strlen(text);
    size_t need = b64url_encoded_len(tlen) + 1 + b64url_encoded_len(32) + 1;
    if (need > cap || need > OAUTH_COOKIE_MAX)
        goto cleanup;
    size_t n = b64url_encode(text, tlen, out);
    unsigned char mac[32];
    oauth_mac("tollgate oauth cookie v1", out, n, mac);
    out[n++] = '.';
    n += b64url_encode(mac, sizeof mac, out + n);
    out[n] = '\0';
    ret = 0;

cleanup:
    free(text);
    return ret;
}

/* ---- callback ---- */

const char *oauth_state_rc_name(enum oauth_state_rc rc)
{
    switch (rc) {
    case OAUTH_STATE_OK: return "ok";
    case OAUTH_STATE_MALFORMED: return "malformed";
    case OAUTH_STATE_NO_COOKIE: return "no_cookie";
    case OAUTH_STATE_MISMATCH: return "mismatch";
    case OAUTH_STATE_EXPIRED: return "expired";
    }
    return "unknown";
}

/* Decodes and authenticates the state: its nonce on success, -1 otherwise. */
static int oauth_state_parse(const char *state, unsigned char nonce[16])
{
    unsigned char raw[32], mac[32];
    if (state == NULL || strlen(state) != OAUTH_STATE_LEN || hex_decode(state, OAUTH_STATE_LEN, raw, 32) != 0)
        return -1;
    oauth_mac("tollgate oauth state v1", raw, 16, mac);
    if (!ct_equal(mac, raw + 16, 16))
        return -1;
    memcpy(nonce, raw, 16);
    return 0;
}

int oauth_state_cookie_name(const char *state, char out[OAUTH_COOKIE_NAME_MAX])
{
    unsigned char nonce[16];
    if (oauth_state_parse(state, nonce) != 0)
        return -1;
    oauth_cookie_name_of(nonce, out);
    return 0;
}

/* Copies JSON string member `key` of o into out (cap bytes); -1 when absent or too long. */
static int oauth_json_str(json_t *o, const char *key, char *out, size_t cap)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_string(v) || json_string_length(v) >= cap)
        return -1;
    memcpy(out, json_string_value(v), json_string_length(v) + 1);
    return 0;
}

enum oauth_state_rc oauth_state_check(const char *provider, const char *state, const char *cookie, int64_t now_ms,
                                      struct oauth_flow_state *out)
{
    enum oauth_state_rc rc = OAUTH_STATE_MISMATCH;
    unsigned char nonce[16];
    char payload[OAUTH_COOKIE_MAX];
    json_t *j = NULL;

    memset(out, 0, sizeof *out);
    if (oauth_state_parse(state, nonce) != 0)
        return OAUTH_STATE_MALFORMED;
    if (cookie == NULL || cookie[0] == '\0')
        return OAUTH_STATE_NO_COOKIE;

    size_t clen = strlen(cookie);
    const char *dot = memchr(cookie, '.', clen);
    if (clen >= OAUTH_COOKIE_MAX || dot == NULL)
        return OAUTH_STATE_MISMATCH;
    size_t plen = (size_t)(dot - cookie);
    unsigned char mac[32], want[32];
    if (b64url_decode(dot + 1, clen - plen - 1, mac, sizeof mac) != 32)
        return OAUTH_STATE_MISMATCH;
    oauth_mac("tollgate oauth cookie v1", cookie, plen, want);
    if (!ct_equal(mac, want, 32))
        return OAUTH_STATE_MISMATCH;
    long n = b64url_decode(cookie, plen, payload, sizeof payload - 1);
    if (n <= 0)
        return OAUTH_STATE_MISMATCH;
    payload[n] = '\0';
    j = json_loadb(payload, (size_t)n, JSON_REJECT_DUPLICATES, NULL);

    char nonce_hex[33], want_hex[33];
    hex_encode(nonce, 16, want_hex);
    want_hex[32] = '\0';
    json_t *e = json_object_get(j, "e");
    if (!json_is_object(j) || oauth_json_str(j, "p", out->provider, sizeof out->provider) != 0 ||
        oauth_json_str(j, "v", out->variant, sizeof out->variant) != 0 ||
        oauth_json_str(j, "r", out->return_to, sizeof out->return_to) != 0 ||
        oauth_json_str(j, "l", out->link_user_id, sizeof out->link_user_id) != 0 ||
        oauth_json_str(j, "n", nonce_hex, sizeof nonce_hex) != 0 || !json_is_integer(e))
        goto cleanup;
    /* The cookie is ours (its MAC holds) but must be this state's and this provider's. */
    if (strcmp(nonce_hex, want_hex) != 0 || strcmp(out->provider, provider) != 0 ||
        !oauth_return_to_valid(out->return_to))
        goto cleanup;
    out->expires_ms = json_integer_value(e);
    if (now_ms >= out->expires_ms) {
        rc = OAUTH_STATE_EXPIRED;
        goto cleanup;
    }
    memcpy(out->nonce, nonce, 16);
    oauth_derive("tollgate oauth pkce v1", nonce, out->verifier);
    oauth_derive("tollgate oauth oidc nonce v1", nonce, out->oidc_nonce);
    rc = OAUTH_STATE_OK;

cleanup:
    json_decref(j);
    if (rc != OAUTH_STATE_OK) {
        struct oauth_flow_state zero = {0};
        *out = zero;
    }
    return rc;
}

/* ---- signing in with an identity ---- */

enum oauth_mode { OAUTH_MODE_SIGNIN, OAUTH_MODE_EXCHANGE, OAUTH_MODE_STATE };

struct oauth_call {
    struct store_call call;
    enum oauth_mode mode;
    /* inputs */
    char provider[TG_PROVIDER_MAX];
    int trust_email, vouches;
    struct auth_identity id;
    int has_state;
    unsigned char state_nonce[16];
    int64_t state_expires_ms;
    char link_user_id[TG_ID_MAX];
    int want_session;
    struct oauth_policy policy;
    int64_t now_ms;
    char new_user_id[TG_ID_MAX];
    char new_identity_id[TG_ID_MAX];
    struct session_new_refresh nr;
    char code_text[OAUTH_LOGIN_CODE_LEN + 1]; /* the login code made for this sign-in */
    unsigned char code_hash[32];
    /* outputs (rewritten on every run) */
    struct oauth_result res;
    oauth_fn cb;
    void *arg;
};

static enum store_rc oauth_fail(struct oauth_call *c, enum oauth_rc rc)
{
    c->res.rc = rc;
    /* Not STORE_OK, so the call's writes roll back; the done step reads res.rc. */
    return STORE_CONFLICT;
}

/* Links c->id to user_id as a new identity. */
static enum store_rc oauth_link_tx(struct store *s, struct oauth_call *c, const char *user_id)
{
    struct identity idn;
    memset(&idn, 0, sizeof idn);
    memcpy(idn.id, c->new_identity_id, sizeof idn.id);
    snprintf(idn.user_id, sizeof idn.user_id, "%s", user_id);
    snprintf(idn.provider, sizeof idn.provider, "%s", c->provider);
    snprintf(idn.subject, sizeof idn.subject, "%s", c->id.subject);
    snprintf(idn.email, sizeof idn.email, "%s", c->id.email);
    idn.email_verified = c->id.email_verified && c->id.email[0];
    snprintf(idn.display_name, sizeof idn.display_name, "%s", c->id.display_name);
    idn.created_at = c->now_ms;
    return store_identity_insert(s, &idn);
}

/* A new account for c->id. */
static enum store_rc oauth_create_tx(struct store *s, struct oauth_call *c, struct user *u)
{
    enum store_rc rc;
    memset(u, 0, sizeof *u);
    memcpy(u->id, c->new_user_id, sizeof u->id);
    /* The address comes along only when the provider verified it and no account holds it:
     * an account that holds it but did not verify it does not get this identity (see the
     * linking rule), and the new one goes without the address. */
    if (c->id.email[0] && c->id.email_verified) {
        struct user other;
        rc = store_user_get_by_email(s, c->id.email, &other);
        if (rc == STORE_NOTFOUND) {
            snprintf(u->email, sizeof u->email, "%s", c->id.email);
            u->email_verified = 1;
        } else if (rc != STORE_OK) {
            return rc;
        }
    }
    snprintf(u->display_name, sizeof u->display_name, "%s", c->id.display_name);
    snprintf(u->role, sizeof u->role, "user");
    snprintf(u->locale, sizeof u->locale, "%s", c->id.locale);
    memcpy(u->signup_region, c->policy.signup_region, sizeof u->signup_region);
    u->created_at = u->updated_at = c->now_ms;
    rc = store_user_create(s, u);
    if (rc != STORE_OK)
        return rc == STORE_DUPLICATE ? STORE_ERROR : rc;
    rc = oauth_link_tx(s, c, u->id);
    if (rc != STORE_OK)
        return rc;
    c->res.created = 1;
    return signin_signup_grant_tx(s, u->id, c->vouches || u->email_verified, c->policy.signup_credits,
                                  c->policy.require_verified, c->now_ms);
}

static enum store_rc oauth_signin_run(struct store *s, struct store_call *sc)
{
    struct oauth_call *c = (struct oauth_call *)sc;
    struct identity idn;
    struct user u;
    enum store_rc rc;

    memset(&c->res, 0, sizeof c->res);
    if (c->has_state) {
        rc = store_oauth_state_use(s, c->state_nonce, c->state_expires_ms);
        if (rc == STORE_DUPLICATE)
            return oauth_fail(c, OAUTH_STATE_USED);
        if (rc != STORE_OK)
            return rc;
    }

    rc = store_identity_find(s, c->provider, c->id.subject, &idn, &u);
    if (rc == STORE_OK) {
        if (c->link_user_id[0] && strcmp(u.id, c->link_user_id) != 0)
            return oauth_fail(c, OAUTH_LINKED_ELSEWHERE);
        if (u.disabled)
            return oauth_fail(c, OAUTH_DISABLED);
        rc = store_identity_touch(s, idn.id, c->id.email, c->id.email_verified, c->id.display_name, c->now_ms);
        if (rc != STORE_OK)
            return rc;
    } else if (rc != STORE_NOTFOUND) {
        return rc;
    } else if (c->link_user_id[0]) {
        rc = store_user_get(s, c->link_user_id, &u);
        if (rc == STORE_NOTFOUND || (rc == STORE_OK && u.disabled))
            return oauth_fail(c, OAUTH_LINK_USER_GONE);
        if (rc != STORE_OK)
            return rc;
        if ((rc = oauth_link_tx(s, c, u.id)) != STORE_OK)
            return rc;
        c->res.linked = 1;
    } else {
        int linked = 0;
        /* Linking by address needs both sides to have proved it: otherwise whoever
         * registers someone else's address first (or a provider that does not check
         * addresses) would be handed that person's account. */
        if (c->trust_email && c->id.email_verified && c->id.email[0]) {
            rc = store_user_get_by_email(s, c->id.email, &u);
            if (rc == STORE_OK && u.email_verified) {
                if (u.disabled)
                    return oauth_fail(c, OAUTH_DISABLED);
                if ((rc = oauth_link_tx(s, c, u.id)) != STORE_OK)
                    return rc;
                linked = 1;
                c->res.linked = 1;
            } else if (rc != STORE_OK && rc != STORE_NOTFOUND) {
                return rc;
            }
        }
        if (!linked && (rc = oauth_create_tx(s, c, &u)) != STORE_OK)
            return rc;
    }

    if (c->want_session) {
        rc = session_issue_tx(s, u.id, NULL, -1, &c->nr, c->now_ms, &c->res.user);
        if (rc == STORE_CONFLICT)
            return oauth_fail(c, OAUTH_DISABLED);
        return rc;
    }
    c->res.user = u;
    return store_login_code_insert(s, c->code_hash, u.id, c->provider, c->now_ms,
                                   c->now_ms + OAUTH_LOGIN_CODE_TTL_MS);
}

static enum store_rc oauth_exchange_run(struct store *s, struct store_call *sc)
{
    struct oauth_call *c = (struct oauth_call *)sc;
    char user_id[TG_ID_MAX];
    memset(&c->res, 0, sizeof c->res);
    enum store_rc rc = store_login_code_consume(s, c->code_hash, c->now_ms, user_id);
    if (rc == STORE_CONFLICT)
        return oauth_fail(c, OAUTH_CODE_USED);
    if (rc == STORE_NOTFOUND)
        return oauth_fail(c, OAUTH_CODE_INVALID);
    if (rc != STORE_OK)
        return rc;
    rc = session_issue_tx(s, user_id, NULL, -1, &c->nr, c->now_ms, &c->res.user);
    if (rc == STORE_CONFLICT || rc == STORE_NOTFOUND)
        return oauth_fail(c, OAUTH_DISABLED);
    return rc;
}

static enum store_rc oauth_state_run(struct store *s, struct store_call *sc)
{
    struct oauth_call *c = (struct oauth_call *)sc;
    memset(&c->res, 0, sizeof c->res);
    enum store_rc rc = store_oauth_state_use(s, c->state_nonce, c->state_expires_ms);
    return rc == STORE_DUPLICATE ? oauth_fail(c, OAUTH_STATE_USED) : rc;
}

static void oauth_done(struct store_call *sc)
{
    struct oauth_call *c = (struct oauth_call *)sc;
    if (sc->rc == STORE_OK) {
        c->res.rc = OAUTH_OK;
        if (c->mode == OAUTH_MODE_EXCHANGE || (c->mode == OAUTH_MODE_SIGNIN && c->want_session)) {
            if (session_tokens_finish(&c->res.user, &c->nr, c->now_ms, &c->res.tokens) != 0)
                c->res.rc = OAUTH_ERROR;
        } else if (c->mode == OAUTH_MODE_SIGNIN) {
            memcpy(c->res.login_code, c->code_text, sizeof c->res.login_code);
        }
    } else if (sc->rc == STORE_CONFLICT && c->res.rc != OAUTH_OK) {
        /* an outcome set by oauth_fail */
    } else if (sc->rc == STORE_BUSY || sc->rc == STORE_UNAVAILABLE) {
        c->res.rc = OAUTH_UNAVAILABLE;
    } else {
        log_event(LOG_ERROR, "oauth_store_failed", "rc", store_rc_name(sc->rc), "provider", c->provider, NULL);
        c->res.rc = OAUTH_ERROR;
    }
    c->cb(c->arg, &c->res);
    session_tokens_free(&c->res.tokens);
    /* The context held a login code or a refresh token. */
    sodium_memzero(c, sizeof *c);
    free(c);
}

static struct oauth_call *oauth_call_new(enum oauth_mode mode, int64_t now_ms, oauth_fn cb, void *arg)
{
    struct oauth_call *c = xcalloc(1, sizeof *c);
    c->mode = mode;
    c->now_ms = now_ms;
    c->cb = cb;
    c->arg = arg;
    return c;
}

void oauth_signin(struct store_exec *ex, const struct auth_provider *p, const struct auth_identity *id,
                  const unsigned char *state_nonce, int64_t state_expires_ms, const char *link_user_id,
                  int want_session, const struct oauth_policy *policy, int64_t now_ms, oauth_fn cb, void *arg)
{
    struct oauth_call *c = oauth_call_new(OAUTH_MODE_SIGNIN, now_ms, cb, arg);
    snprintf(c->provider, sizeof c->provider, "%s", p->name);
    c->trust_email = p->trust_email;
    c->vouches = p->vouches;
    c->id = *id;
    if (state_nonce != NULL) {
        c->has_state = 1;
        memcpy(c->state_nonce, state_nonce, 16);
        c->state_expires_ms = state_expires_ms;
    }
    snprintf(c->link_user_id, sizeof c->link_user_id, "%s", link_user_id ? link_user_id : "");
    c->want_session = want_session;
    c->policy = *policy;
    /* Everything random is made here, once: run() may run more than once. */
    id_new(c->new_user_id, "usr");
    id_new(c->new_identity_id, "idn");
    if (want_session) {
        session_refresh_make(now_ms, &c->nr);
    } else {
        unsigned char raw[32];
        rand_bytes(raw, sizeof raw);
        size_t n = b64url_encode(raw, sizeof raw, c->code_text);
        c->code_text[n] = '\0';
        sha256(c->code_text, n, c->code_hash);
    }
    store_exec_call(ex, &c->call, STORE_CALL_WRITE, oauth_signin_run, oauth_done);
}

void oauth_exchange(struct store_exec *ex, const char *code, size_t len, int64_t now_ms, oauth_fn cb, void *arg)
{
    struct oauth_call *c = oauth_call_new(OAUTH_MODE_EXCHANGE, now_ms, cb, arg);
    /* Hashing whatever was presented: an unknown code is simply not found. */
    sha256(code, len, c->code_hash);
    session_refresh_make(now_ms, &c->nr);
    store_exec_call(ex, &c->call, STORE_CALL_WRITE, oauth_exchange_run, oauth_done);
}

void oauth_state_consume(struct store_exec *ex, const unsigned char nonce[16], int64_t expires_ms, oauth_fn cb,
                         void *arg)
{
    struct oauth_call *c = oauth_call_new(OAUTH_MODE_STATE, 0, cb, arg);
    memcpy(c->state_nonce, nonce, 16);
    c->state_expires_ms = expires_ms;
    store_exec_call(ex, &c->call, STORE_CALL_WRITE, oauth_state_run, oauth_done);
}

/* ---- unlinking ---- */

struct oauth_unlink_call {
    struct store_call call;
    char user_id[TG_ID_MAX];
    char identity_id[TG_ID_MAX];
    enum oauth_unlink_rc rc;
    struct identity removed;
    oauth_unlink_fn cb;
    void *arg;
};

static enum store_rc oauth_unlink_run(struct store *s, struct store_call *sc)
{
    struct oauth_unlink_call *c = (struct oauth_unlink_call *)sc;
    struct identity *list = NULL;
    size_t n = 0, i;
    struct user u;
    c->rc = OAUTH_UNLINK_OK;
    memset(&c->removed, 0, sizeof c->removed);
    enum store_rc rc = store_user_get(s, c->user_id, &u);
    if (rc != STORE_OK)
        return rc;
    rc = store_identity_list(s, c->user_id, &list, &n);
    if (rc != STORE_OK)
        return rc;
    for (i = 0; i < n && strcmp(list[i].id, c->identity_id) != 0; i++)
        ;
    if (i == n) {
        c->rc = OAUTH_UNLINK_NOTFOUND;
        rc = STORE_NOTFOUND;
    } else if (n < 2 && !(u.email[0] && u.password_hash[0])) {
        /* The last identity of an account without a password: removing it would leave an
         * account nobody can sign in to. */
        c->rc = OAUTH_UNLINK_LAST;
        rc = STORE_CONFLICT;
    } else {
        c->removed = list[i];
        rc = store_identity_delete(s, c->user_id, c->identity_id);
    }
    free(list);
    return rc;
}

static void oauth_unlink_done(struct store_call *sc)
{
    struct oauth_unlink_call *c = (struct oauth_unlink_call *)sc;
    enum oauth_unlink_rc rc = c->rc;
    if (sc->rc == STORE_OK)
        rc = OAUTH_UNLINK_OK;
    else if (sc->rc == STORE_NOTFOUND)
        rc = OAUTH_UNLINK_NOTFOUND; /* the identity, or the user itself */
    else if (sc->rc == STORE_CONFLICT && c->rc == OAUTH_UNLINK_LAST)
        rc = OAUTH_UNLINK_LAST;
    else if (sc->rc == STORE_BUSY || sc->rc == STORE_UNAVAILABLE)
        rc = OAUTH_UNLINK_UNAVAILABLE;
    else
        rc = OAUTH_UNLINK_ERROR;
    if (rc == OAUTH_UNLINK_ERROR)
        log_event(LOG_ERROR, "identity_unlink_failed", "rc", store_rc_name(sc->rc), NULL);
    c->cb(c->arg, rc, rc == OAUTH_UNLINK_OK ? &c->removed : NULL);
    free(c);
}

void oauth_unlink(struct store_exec *ex, const char *user_id, const char *identity_id, int64_t now_ms,
                  oauth_unlink_fn cb, void *arg)
{
    (void)now_ms;
    struct oauth_unlink_call *c = xcalloc(1, sizeof *c);
    snprintf(c->user_id, sizeof c->user_id, "%s", user_id);
    snprintf(c->identity_id, sizeof c->identity_id, "%s", identity_id);
    c->cb = cb;
    c->arg = arg;
    store_exec_call(ex, &c->call, STORE_CALL_WRITE, oauth_unlink_run, oauth_unlink_done);
}
