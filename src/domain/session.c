/*
 * session.c - access tokens, refresh tokens and bearer authentication (see session.h).
 */
#include "domain/session.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/config.h"
#include "core/ids.h"
#include "core/log.h"
#include "core/mem.h"
#include "crypto/encode.h"
#include "crypto/hash.h"
#include "crypto/jwt.h"
#include "crypto/random.h"
#include "store/store.h"

/* Clock skew tolerated on iat/nbf between nodes (seconds). */
#define SESSION_JWT_SKEW_S 30
/* API keys are "tg_live_" + 43 base62 chars; anything much longer is not one of ours and
 * is refused before it is hashed. */
#define SESSION_API_KEY_MAX 64
#define SESSION_API_KEY_PREFIX "tg_"
/* Refresh tokens are "rt_" + base64url(32 bytes) = 46 chars. */
#define SESSION_RT_PREFIX "rt_"
#define SESSION_RT_RANDOM 32
#define SESSION_RT_LEN (3 + 43)

static enum authn_rc session_auth_api_key(struct store *s, const char *cred, size_t len, int64_t now_ms,
                                          struct principal *out)
{
    unsigned char hash[32];
    struct api_key key;
    struct user u;

    if (len > SESSION_API_KEY_MAX)
        return AUTHN_INVALID;
    sha256(cred, len, hash);
    enum store_rc rc = store_api_key_authenticate(s, hash, now_ms, &key, &u);
    if (rc == STORE_NOTFOUND)
        return AUTHN_INVALID;
    if (rc != STORE_OK)
        return AUTHN_UNAVAILABLE;
    /* The store already refuses disabled users; checked again because a mistake there
     * would let a disabled account keep calling the API. */
    if (u.disabled)
        return AUTHN_INVALID;
    out->authenticated = 1;
    snprintf(out->user_id, sizeof out->user_id, "%s", u.id);
    snprintf(out->role, sizeof out->role, "%s", u.role);
    snprintf(out->api_key_id, sizeof out->api_key_id, "%s", key.id);
    return AUTHN_OK;
}

/*
 * Verified access-token cache, one per thread (no locks).
 *
 * A client presents the same access token on every request for up to its 15-minute life,
 * and re-verifying it each time (HMAC-SHA256 plus two JSON parses) was the largest single
 * cost of an authenticated read. An entry is only ever made from a token that verified
 * completely, a hit requires the presented bytes to equal the cached token exactly, and the
 * token's own exp is checked on every hit, so a hit answers exactly what a full
 * verification would. Access tokens are stateless by design (not revocable before exp),
 * so caching them changes no revocation behaviour. Changing TG_JWT_SECRET needs a restart,
 * which empties the cache. Direct-mapped by bytes of the signature (uniformly random).
 */
#define SESSION_TOKEN_CACHE_SLOTS 256
#define SESSION_TOKEN_CACHE_MAXLEN 512
struct session_token_slot {
    size_t len;
    int64_t exp_s;        /* valid while now < exp_s ... */
    int64_t not_before_s; /* ... and now >= max(iat, nbf) - skew, as jwt_verify_hs256 checks */
    char user_id[TG_ID_MAX];
    char role[TG_ROLE_MAX];
    char token[SESSION_TOKEN_CACHE_MAXLEN];
};
/* Static thread-local storage (~150 KB a thread) rather than heap, so that nothing is left
 * to free when a thread ends. */
static _Thread_local struct session_token_slot session_token_cache[SESSION_TOKEN_CACHE_SLOTS];

static struct session_token_slot *session_token_slot(const char *cred, size_t len)
{
    if (len > SESSION_TOKEN_CACHE_MAXLEN || len < 16)
        return NULL;
    /* The last characters are the base64url signature: random, so any of them index well. */
    unsigned h = (unsigned char)cred[len - 2] * 31u + (unsigned char)cred[len - 5];
    return &session_token_cache[h % SESSION_TOKEN_CACHE_SLOTS];
}

/* Copies a NUL-terminated string into a fixed buffer; 0 when it fits, else -1. */
static int session_copy(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n >= cap)
        return -1;
    memcpy(dst, src, n + 1);
    return 0;
}

static enum authn_rc session_auth_jwt(const char *cred, size_t len, int64_t now_ms, struct principal *out)
{
    enum authn_rc ret = AUTHN_INVALID;
    json_t *claims = NULL;
    int64_t now_s = now_ms / 1000;
    struct session_token_slot *slot = session_token_slot(cred, len);

    if (slot != NULL && slot->len == len && memcmp(slot->token, cred, len) == 0) {
        if (slot->exp_s <= now_s || now_s < slot->not_before_s)
            return AUTHN_INVALID; /* the verdicts jwt_verify_hs256 gives: expired / not yet */
        out->authenticated = 1;
        memcpy(out->user_id, slot->user_id, sizeof out->user_id);
        memcpy(out->role, slot->role, sizeof out->role);
        out->api_key_id[0] = '\0';
        return AUTHN_OK;
    }

    if (jwt_verify_hs256(cred, len, tg_cfg->jwt_secret, tg_cfg->jwt_secret_len, now_s, SESSION_JWT_SKEW_S,
                         &claims) != JWT_OK)
        goto cleanup;
    /* Only access tokens authenticate requests: any other typ (a future "refresh" or
     * "oauth_state" JWT signed with the same key) must not. */
    const char *typ = json_string_value(json_object_get(claims, "typ"));
    const char *sub = json_string_value(json_object_get(claims, "sub"));
    const char *role = json_string_value(json_object_get(claims, "role"));
    json_t *exp = json_object_get(claims, "exp");
    if (typ == NULL || strcmp(typ, "access") != 0)
        goto cleanup;
    if (sub == NULL || !id_valid(sub, "usr"))
        goto cleanup;
    if (role == NULL || (strcmp(role, "user") != 0 && strcmp(role, "admin") != 0))
        goto cleanup;
    if (!json_is_integer(exp)) /* cannot happen: jwt_verify_hs256 requires an integer exp */
        goto cleanup;
    if (session_copy(out->user_id, sizeof out->user_id, sub) != 0 ||
        session_copy(out->role, sizeof out->role, role) != 0)
        goto cleanup;
    out->authenticated = 1;
    out->api_key_id[0] = '\0';
    ret = AUTHN_OK;
    if (slot != NULL) {
        int64_t nb = INT64_MIN;
        json_t *iat = json_object_get(claims, "iat"), *nbf = json_object_get(claims, "nbf");
        if (json_is_integer(iat))
            nb = (int64_t)json_integer_value(iat);
        if (json_is_integer(nbf) && (int64_t)json_integer_value(nbf) > nb)
            nb = (int64_t)json_integer_value(nbf);
        slot->len = len;
        slot->exp_s = (int64_t)json_integer_value(exp);
        slot->not_before_s = nb == INT64_MIN ? INT64_MIN : nb - SESSION_JWT_SKEW_S;
        memcpy(slot->user_id, out->user_id, sizeof slot->user_id);
        memcpy(slot->role, out->role, sizeof slot->role);
        memcpy(slot->token, cred, len);
    }

cleanup:
    json_decref(claims);
    if (ret != AUTHN_OK)
        memset(out, 0, sizeof *out);
    return ret;
}

enum authn_rc session_authenticate(struct store *s, const char *credential, size_t len, int64_t now_ms,
                                   struct principal *out)
{
    enum authn_rc rc;

    memset(out, 0, sizeof *out);
    if (credential == NULL || len == 0)
        return AUTHN_INVALID;
    if (len >= 3 && memcmp(credential, SESSION_API_KEY_PREFIX, 3) == 0)
        rc = session_auth_api_key(s, credential, len, now_ms, out);
    else
        rc = session_auth_jwt(credential, len, now_ms, out);
    if (rc != AUTHN_OK)
        memset(out, 0, sizeof *out);
    return rc;
}

/* Signs a fresh access token for u. Returns a new string (caller frees) or NULL. */
static char *session_access_token(const struct user *u, int64_t now_ms)
{
    unsigned char jti_raw[16];
    char jti[32];
    int64_t iat = now_ms / 1000;

    rand_bytes(jti_raw, sizeof jti_raw);
    b64url_encode(jti_raw, sizeof jti_raw, jti);
    json_t *claims =
        json_pack("{s:s, s:s, s:s, s:I, s:I, s:s}", "sub", u->id, "role", u->role, "typ", "access", "iat",
                  (json_int_t)iat, "exp", (json_int_t)(iat + tg_cfg->access_token_ttl_s), "jti", jti);
    if (claims == NULL)
        return NULL;
    char *tok = jwt_sign_hs256(claims, tg_cfg->jwt_secret, tg_cfg->jwt_secret_len);
    json_decref(claims);
    return tok;
}

/* Makes a new refresh token: *text receives "rt_..." (caller frees), t its stored form
 * (id, hash, times; user and family left to the caller). */
static void session_new_refresh(int64_t now_ms, char **text, struct refresh_token *t)
{
    unsigned char raw[SESSION_RT_RANDOM];
    char *out = xmalloc(SESSION_RT_LEN + 1);

    rand_bytes(raw, sizeof raw);
    memcpy(out, SESSION_RT_PREFIX, 3);
    b64url_encode(raw, sizeof raw, out + 3);
    memset(t, 0, sizeof *t);
    id_new(t->id, "rtk");
    sha256(out, strlen(out), t->hash);
    t->created_at = now_ms;
    t->expires_at = now_ms + (int64_t)tg_cfg->refresh_token_ttl_s * 1000;
    *text = out;
}

/* Hashes a presented refresh token, or returns -1 when it cannot be one of ours. */
static int session_refresh_hash(const char *presented, unsigned char hash[32])
{
    if (presented == NULL || strncmp(presented, SESSION_RT_PREFIX, 3) != 0 ||
        strlen(presented) != SESSION_RT_LEN)
        return -1;
    sha256(presented, SESSION_RT_LEN, hash);
    return 0;
}

int session_issue(struct store *s, const struct user *u, int64_t now_ms, struct session_tokens *out)
{
    int ret = STORE_ERROR;
    struct refresh_token t;

    memset(out, 0, sizeof *out);
    out->access_token = session_access_token(u, now_ms);
    if (out->access_token == NULL) {
        log_event(LOG_ERROR, "session_sign_failed", "user_id", u->id, NULL);
        goto cleanup;
    }
    session_new_refresh(now_ms, &out->refresh_token, &t);
    snprintf(t.user_id, sizeof t.user_id, "%s", u->id);
    id_new(t.family_id, "fam");
    ret = store_refresh_insert(s, &t);
    if (ret != STORE_OK)
        goto cleanup;
    out->expires_in = tg_cfg->access_token_ttl_s;

cleanup:
    if (ret != STORE_OK)
        session_tokens_free(out);
    return ret;
}

int session_refresh(struct store *s, const char *presented, int64_t now_ms, enum refresh_outcome *outcome,
                    struct user *u, struct session_tokens *out)
{
    int ret = STORE_ERROR;
    unsigned char old_hash[32];
    char user_id[TG_ID_MAX] = "";
    struct refresh_token next;

    memset(out, 0, sizeof *out);
    memset(u, 0, sizeof *u);
    *outcome = REFRESH_UNKNOWN;
    if (session_refresh_hash(presented, old_hash) != 0) {
        ret = STORE_OK; /* not a token we could have issued: unknown */
        goto cleanup;
    }
    session_new_refresh(now_ms, &out->refresh_token, &next);
    ret = store_refresh_rotate(s, old_hash, &next, now_ms, outcome, user_id);
    if (ret != STORE_OK || *outcome != REFRESH_ROTATED) {
        /* The user id is handed back on REUSED/EXPIRED so the caller can audit-log the
         * theft signal against the account; no other field is filled. */
        if (ret == STORE_OK && *outcome != REFRESH_UNKNOWN)
            snprintf(u->id, sizeof u->id, "%s", user_id);
        goto cleanup;
    }
    ret = store_user_get(s, user_id, u);
    if (ret == STORE_NOTFOUND || (ret == STORE_OK && u->disabled)) {
        /* A disabled (or vanished) account cannot keep a session alive: answer as for an
         * expired token, and kill the replacement we just stored. */
        (void)store_refresh_revoke_family(s, next.hash, now_ms);
        memset(u, 0, sizeof *u);
        snprintf(u->id, sizeof u->id, "%s", user_id);
        *outcome = REFRESH_EXPIRED;
        ret = STORE_OK;
        goto cleanup;
    }
    if (ret != STORE_OK)
        goto cleanup;
    out->access_token = session_access_token(u, now_ms);
    if (out->access_token == NULL) {
        log_event(LOG_ERROR, "session_sign_failed", "user_id", u->id, NULL);
        ret = STORE_ERROR;
        goto cleanup;
    }
    out->expires_in = tg_cfg->access_token_ttl_s;

cleanup:
    if (ret != STORE_OK || *outcome != REFRESH_ROTATED) {
        session_tokens_free(out);
        if (ret != STORE_OK)
            memset(u, 0, sizeof *u);
    }
    return ret;
}

int session_logout(struct store *s, const char *presented, int64_t now_ms)
{
    unsigned char hash[32];

    if (session_refresh_hash(presented, hash) != 0)
        return STORE_OK;
    enum store_rc rc = store_refresh_revoke_family(s, hash, now_ms);
    return rc == STORE_NOTFOUND ? STORE_OK : (int)rc;
}

void session_tokens_free(struct session_tokens *t)
{
    if (t == NULL)
        return;
    free(t->access_token);
    if (t->refresh_token) {
        /* Wipe the bearer secret before the memory goes back to the allocator. */
        explicit_bzero(t->refresh_token, strlen(t->refresh_token));
        free(t->refresh_token);
    }
    t->access_token = NULL;
    t->refresh_token = NULL;
    t->expires_in = 0;
}
