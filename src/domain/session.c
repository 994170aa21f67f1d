/*
 * session.c - access tokens, refresh tokens and bearer authentication (see session.h).
 */
#include "domain/session.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include <jansson.h>

#include "core/config.h"
#include "core/ids.h"
#include "core/log.h"
#include "core/mem.h"
#include "crypto/encode.h"
#include "crypto/hash.h"
#include "crypto/jwt.h"
#include "crypto/random.h"
#include "domain/audit.h"
#include "store/call.h"
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
/* last_used_at of an API key is recorded at most this often (ms). */
#define SESSION_API_KEY_TOUCH_MS 60000

/*
 * Verified access-token cache, one per thread (no locks).
 *
 * A client presents the same access token on every request for up to its 15-minute life,
 * and re-verifying it each time (HMAC-SHA256 plus two JSON parses) was the largest single
 * cost of an authenticated read. An entry is only ever made from a token that verified
 * completely, a hit requires the presented bytes to equal the cached token exactly, and the
 * token's own exp is checked on every hit, so a hit answers exactly what a full
 * verification would (the comparison is constant-time: timing must not tell how much of a
 * forged token matched a cached one). What the token may do is decided afterwards from the
 * account's current state, so the cache changes no revocation behaviour. Changing
 * TG_JWT_SECRET needs a restart, which empties the cache. Direct-mapped by bytes of the
 * signature (uniformly random).
 */
#define SESSION_TOKEN_CACHE_SLOTS 256
#define SESSION_TOKEN_CACHE_MAXLEN 512
struct session_token_slot {
    size_t len;
    int64_t exp_s;        /* valid while now < exp_s ... */
    int64_t not_before_s; /* ... and now >= max(iat, nbf) - skew, as jwt_verify_hs256 checks */
    int64_t epoch;        /* the token's "ep" claim */
    char user_id[TG_ID_MAX];
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

/* ---- account state: per-thread cache, invalidated by generation counters ---- */

/*
 * Every authenticated request needs the account's current role, disabled flag and epoch.
 * Reading them from the store each time would add a query to every request; caching them
 * without invalidation would let a demoted admin keep admin rights. So: a per-thread cache
 * (no locks), and a process-wide array of generation counters indexed by a hash of the user
 * id. A change bumps the user's counter; an entry remembers the counter it was read under
 * and is stale once it differs (or after SESSION_USER_TTL_MS, for changes made by another
 * process). The counter is read before the store is, so a read that races a change can only
 * be re-read, never cached as current.
 */
#define SESSION_GEN_SLOTS 4096
#define SESSION_USER_CACHE_SLOTS 512
static _Atomic uint32_t session_user_gen[SESSION_GEN_SLOTS];

struct session_user_slot {
    char user_id[TG_ID_MAX];
    char role[TG_ROLE_MAX];
    int64_t epoch;
    int disabled;
    uint32_t gen;
    int64_t fetched_ms;
};
static _Thread_local struct session_user_slot session_user_cache[SESSION_USER_CACHE_SLOTS];

static uint32_t session_hash_id(const char *id)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)id; *p; p++)
        h = (h ^ *p) * 16777619u;
    return h;
}

static uint32_t session_gen_load(const char *user_id)
{
    return atomic_load_explicit(&session_user_gen[session_hash_id(user_id) % SESSION_GEN_SLOTS],
                                memory_order_acquire);
}

void session_user_changed(const char *user_id)
{
    if (user_id == NULL || user_id[0] == '\0')
        return;
    atomic_fetch_add_explicit(&session_user_gen[session_hash_id(user_id) % SESSION_GEN_SLOTS], 1,
                              memory_order_acq_rel);
}

static struct session_user_slot *session_user_slot(const char *user_id)
{
    return &session_user_cache[(session_hash_id(user_id) >> 12) % SESSION_USER_CACHE_SLOTS];
}

/* The cached state of user_id if it is still current, else NULL. */
static const struct session_user_slot *session_user_cached(const char *user_id, int64_t now_ms)
{
    const struct session_user_slot *e = session_user_slot(user_id);
    if (strcmp(e->user_id, user_id) != 0 || e->gen != session_gen_load(user_id) ||
        now_ms - e->fetched_ms >= SESSION_USER_TTL_MS || now_ms < e->fetched_ms)
        return NULL;
    return e;
}

static void session_user_cache_put(const struct user *u, uint32_t gen, int64_t now_ms)
{
    struct session_user_slot *e = session_user_slot(u->id);
    snprintf(e->user_id, sizeof e->user_id, "%s", u->id);
    snprintf(e->role, sizeof e->role, "%s", u->role);
    e->epoch = u->auth_epoch;
    e->disabled = u->disabled;
    e->gen = gen;
    e->fetched_ms = now_ms;
}

/* The verdict for a verified token (user, epoch) given the account's state. */
static enum authn_rc session_decide(const char *user_id, int64_t token_epoch, const char *role, int64_t epoch,
                                    int disabled, struct principal *out)
{
    memset(out, 0, sizeof *out);
    if (disabled || token_epoch != epoch)
        return AUTHN_INVALID;
    if (strcmp(role, "user") != 0 && strcmp(role, "admin") != 0)
        return AUTHN_INVALID;
    /* session_copy, not snprintf: this runs on every authenticated request, and printf was
     * measurable there. Both strings come from our own fixed-size fields and fit. */
    if (session_copy(out->user_id, sizeof out->user_id, user_id) != 0 ||
        session_copy(out->role, sizeof out->role, role) != 0) {
        memset(out, 0, sizeof *out);
        return AUTHN_INVALID;
    }
    out->authenticated = 1;
    out->epoch = token_epoch;
    return AUTHN_OK;
}

/* ---- access tokens ---- */

/*
 * Verifies an access JWT (signature, exp, iat/nbf, typ) through the per-thread cache.
 * Returns 0 with *user_id and *epoch set, or -1.
 */
static int session_verify_jwt(const char *cred, size_t len, int64_t now_ms, char user_id[TG_ID_MAX],
                              int64_t *epoch)
{
    int ret = -1;
    json_t *claims = NULL;
    int64_t now_s = now_ms / 1000;
    struct session_token_slot *slot = session_token_slot(cred, len);

    if (slot != NULL && slot->len == len && ct_equal(slot->token, cred, len)) {
        if (slot->exp_s <= now_s || now_s < slot->not_before_s)
            return -1; /* the verdicts jwt_verify_hs256 gives: expired / not yet */
        memcpy(user_id, slot->user_id, TG_ID_MAX);
        *epoch = slot->epoch;
        return 0;
    }
    if (jwt_verify_hs256(cred, len, tg_cfg->jwt_secret, tg_cfg->jwt_secret_len, now_s, SESSION_JWT_SKEW_S,
                         &claims) != JWT_OK)
        goto cleanup;
    /* Only access tokens authenticate requests: any other typ (a future "oauth_state" JWT
     * signed with the same key) must not. */
    const char *typ = json_string_value(json_object_get(claims, "typ"));
    const char *sub = json_string_value(json_object_get(claims, "sub"));
    json_t *ep = json_object_get(claims, "ep");
    json_t *exp = json_object_get(claims, "exp");
    if (typ == NULL || strcmp(typ, "access") != 0)
        goto cleanup;
    if (sub == NULL || !id_valid(sub, "usr") || session_copy(user_id, TG_ID_MAX, sub) != 0)
        goto cleanup;
    /* Tokens without an epoch predate it and cannot be checked against sign-outs. */
    if (!json_is_integer(ep) || json_integer_value(ep) < 0 || !json_is_integer(exp))
        goto cleanup;
    *epoch = (int64_t)json_integer_value(ep);
    ret = 0;
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
        slot->epoch = *epoch;
        memcpy(slot->user_id, user_id, TG_ID_MAX);
        memcpy(slot->token, cred, len);
    }

cleanup:
    json_decref(claims);
    return ret;
}

int session_token_known(const char *credential, size_t len, int64_t now_ms)
{
    const struct session_token_slot *slot = session_token_slot(credential, len);
    int64_t now_s = now_ms / 1000;
    return slot != NULL && slot->len == len && ct_equal(slot->token, credential, len) && slot->exp_s > now_s &&
           now_s >= slot->not_before_s;
}

/* Signs a fresh access token for u. Returns a new string (caller frees) or NULL. */
static char *session_access_token(const struct user *u, int64_t now_ms)
{
    unsigned char jti_raw[16];
    char jti[32];
    int64_t iat = now_ms / 1000;

    rand_bytes(jti_raw, sizeof jti_raw);
    b64url_encode(jti_raw, sizeof jti_raw, jti);
    json_t *claims = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:s}", "sub", u->id, "role", u->role, "typ",
                               "access", "ep", (json_int_t)u->auth_epoch, "iat", (json_int_t)iat, "exp",
                               (json_int_t)(iat + tg_cfg->access_token_ttl_s), "jti", jti);
    if (claims == NULL)
        return NULL;
    char *tok = jwt_sign_hs256(claims, tg_cfg->jwt_secret, tg_cfg->jwt_secret_len);
    json_decref(claims);
    return tok;
}

/* ---- authentication ---- */

struct auth_call {
    struct store_call call;
    int api_key;
    unsigned char hash[32];  /* API key: SHA-256 of the key */
    char user_id[TG_ID_MAX]; /* JWT: the token's subject */
    int64_t token_epoch;
    uint32_t gen; /* generation read before the store */
    int64_t now_ms;
    struct api_key key; /* out */
    struct user user;   /* out */
    session_auth_fn cb;
    void *arg;
    struct store_exec *ex;
};

static enum store_rc auth_run(struct store *s, struct store_call *c)
{
    struct auth_call *a = (struct auth_call *)c;
    if (a->api_key)
        return store_api_key_authenticate(s, a->hash, &a->key, &a->user);
    return store_user_get(s, a->user_id, &a->user);
}

struct touch_call {
    struct store_call call;
    char key_id[TG_ID_MAX];
    int64_t now_ms;
};

static enum store_rc touch_run(struct store *s, struct store_call *c)
{
    struct touch_call *t = (struct touch_call *)c;
    return store_api_key_touch(s, t->key_id, t->now_ms, t->now_ms - SESSION_API_KEY_TOUCH_MS + 1, NULL);
}

static void touch_done(struct store_call *c)
{
    /* Best effort: a lost last_used_at is not worth failing a valid request for. */
    if (c->rc != STORE_OK && c->rc != STORE_NOTFOUND)
        log_event(LOG_WARN, "api_key_touch_failed", "rc", store_rc_name(c->rc), NULL);
    free(c);
}

static void auth_done(struct store_call *c)
{
    struct auth_call *a = (struct auth_call *)c;
    struct principal p;
    enum authn_rc rc;

    memset(&p, 0, sizeof p);
    if (c->rc == STORE_NOTFOUND) {
        rc = AUTHN_INVALID;
    } else if (c->rc != STORE_OK) {
        rc = AUTHN_UNAVAILABLE;
    } else if (a->api_key) {
        rc = a->user.disabled
                 ? AUTHN_INVALID
                 : session_decide(a->user.id, a->user.auth_epoch, a->user.role, a->user.auth_epoch, 0, &p);
        if (rc == AUTHN_OK) {
            snprintf(p.api_key_id, sizeof p.api_key_id, "%s", a->key.id);
            p.epoch = -1;
            /* last_used_at at most once a minute per key, so that a busy API client does not
             * turn every request into a write. */
            if (a->key.last_used_at == 0 || a->now_ms - a->key.last_used_at >= SESSION_API_KEY_TOUCH_MS) {
                struct touch_call *t = xcalloc(1, sizeof *t);
                memcpy(t->key_id, a->key.id, sizeof t->key_id);
                t->now_ms = a->now_ms;
                store_exec_call(a->ex, &t->call, STORE_CALL_WRITE, touch_run, touch_done);
            }
        }
    } else {
        session_user_cache_put(&a->user, a->gen, a->now_ms);
        rc = session_decide(a->user.id, a->token_epoch, a->user.role, a->user.auth_epoch, a->user.disabled,
                            &p);
    }
    session_auth_fn cb = a->cb;
    void *arg = a->arg;
    free(a);
    cb(arg, rc, rc == AUTHN_OK ? &p : NULL);
}

void session_authenticate(struct store_exec *ex, const char *credential, size_t len, int64_t now_ms,
                          session_auth_fn cb, void *arg)
{
    struct principal p;
    struct auth_call *a = NULL;

    if (credential == NULL || len == 0)
        goto invalid;
    if (len >= 3 && memcmp(credential, SESSION_API_KEY_PREFIX, 3) == 0) {
        /* API keys are "tg_live_" + 43 base62 chars; anything much longer is not one of
         * ours and is refused before it is hashed. */
        if (len > SESSION_API_KEY_MAX)
            goto invalid;
        a = xcalloc(1, sizeof *a);
        a->api_key = 1;
        sha256(credential, len, a->hash);
    } else {
        char user_id[TG_ID_MAX];
        int64_t epoch;
        if (session_verify_jwt(credential, len, now_ms, user_id, &epoch) != 0)
            goto invalid;
        const struct session_user_slot *e = session_user_cached(user_id, now_ms);
        if (e != NULL) {
            enum authn_rc rc = session_decide(user_id, epoch, e->role, e->epoch, e->disabled, &p);
            cb(arg, rc, rc == AUTHN_OK ? &p : NULL);
            return;
        }
        a = xcalloc(1, sizeof *a);
        memcpy(a->user_id, user_id, sizeof a->user_id);
        a->token_epoch = epoch;
        a->gen = session_gen_load(user_id);
    }
    a->now_ms = now_ms;
    a->cb = cb;
    a->arg = arg;
    a->ex = ex;
    store_exec_call(ex, &a->call, STORE_CALL_READ, auth_run, auth_done);
    return;

invalid:
    cb(arg, AUTHN_INVALID, NULL);
}

/* ---- issuing ---- */

void session_refresh_make(int64_t now_ms, struct session_new_refresh *out)
{
    unsigned char raw[SESSION_RT_RANDOM];

    memset(out, 0, sizeof *out);
    rand_bytes(raw, sizeof raw);
    memcpy(out->text, SESSION_RT_PREFIX, 3);
    b64url_encode(raw, sizeof raw, out->text + 3);
    id_new(out->stored.id, "rtk");
    id_new(out->stored.family_id, "fam");
    sha256(out->text, strlen(out->text), out->stored.hash);
    out->stored.created_at = now_ms;
    out->stored.expires_at = now_ms + (int64_t)tg_cfg->refresh_token_ttl_s * 1000;
    explicit_bzero(raw, sizeof raw);
}

enum store_rc session_issue_tx(struct store *s, const char *user_id, const char *expect_hash,
                               int64_t expect_epoch, struct session_new_refresh *nr, int64_t now_ms,
                               struct user *u)
{
    enum store_rc rc = store_user_get(s, user_id, u);
    if (rc != STORE_OK)
        return rc;
    /* The session is issued only while what the caller checked is still true: a login that
     * verified the old password must not outlive a password change that committed while it
     * was hashing, nor a disabled account. */
    if (u->disabled || (expect_hash != NULL && strcmp(u->password_hash, expect_hash) != 0) ||
        (expect_epoch >= 0 && u->auth_epoch != expect_epoch))
        return STORE_CONFLICT;
    snprintf(nr->stored.user_id, sizeof nr->stored.user_id, "%s", u->id);
    (void)now_ms;
    return store_refresh_insert(s, &nr->stored);
}

int session_tokens_finish(const struct user *u, const struct session_new_refresh *nr, int64_t now_ms,
                          struct session_tokens *out)
{
    memset(out, 0, sizeof *out);
    out->access_token = session_access_token(u, now_ms);
    if (out->access_token == NULL) {
        log_event(LOG_ERROR, "session_sign_failed", "user_id", u->id, NULL);
        return -1;
    }
    out->refresh_token = xstrdup(nr->text);
    out->expires_in = tg_cfg->access_token_ttl_s;
    return 0;
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

/* ---- refresh ---- */

struct refresh_call {
    struct store_call call;
    unsigned char old_hash[32];
    struct session_new_refresh next;
    int64_t now_ms;
    enum refresh_outcome outcome; /* out */
    char user_id[TG_ID_MAX];      /* out */
    struct user user;             /* out, on ROTATED */
    session_refresh_fn cb;
    void *arg;
};

static enum store_rc refresh_run(struct store *s, struct store_call *c)
{
    struct refresh_call *a = (struct refresh_call *)c;
    memset(&a->user, 0, sizeof a->user);
    a->user_id[0] = '\0';
    enum store_rc rc =
        store_refresh_rotate(s, a->old_hash, &a->next.stored, a->now_ms, &a->outcome, a->user_id);
    if (rc != STORE_OK || a->outcome != REFRESH_ROTATED)
        return rc;
    rc = store_user_get(s, a->user_id, &a->user);
    if (rc == STORE_NOTFOUND || (rc == STORE_OK && a->user.disabled)) {
        /* A disabled (or vanished) account cannot keep a session alive: its sessions end. */
        a->outcome = REFRESH_EXPIRED;
        memset(&a->user, 0, sizeof a->user);
        return store_refresh_revoke_user(s, a->user_id, a->now_ms);
    }
    return rc;
}

static void refresh_done(struct store_call *c)
{
    struct refresh_call *a = (struct refresh_call *)c;
    struct session_refresh_result res;

    memset(&res, 0, sizeof res);
    res.rc = c->rc;
    res.outcome = c->rc == STORE_OK ? a->outcome : REFRESH_UNKNOWN;
    if (c->rc == STORE_OK && a->outcome == REFRESH_ROTATED) {
        res.user = a->user;
        if (session_tokens_finish(&a->user, &a->next, a->now_ms, &res.tokens) != 0)
            res.rc = STORE_ERROR;
    } else if (c->rc == STORE_OK && a->outcome != REFRESH_UNKNOWN) {
        /* The user id is handed back on REUSED/EXPIRED so the caller can audit-log the
         * theft signal against the account; no other field is filled. */
        snprintf(res.user.id, sizeof res.user.id, "%s", a->user_id);
    }
    session_refresh_fn cb = a->cb;
    void *arg = a->arg;
    explicit_bzero(a, sizeof *a);
    free(a);
    cb(arg, &res);
    session_tokens_free(&res.tokens);
}

void session_refresh(struct store_exec *ex, const char *presented, int64_t now_ms, session_refresh_fn cb,
                     void *arg)
{
    unsigned char hash[32];
    if (session_refresh_hash(presented, hash) != 0) {
        /* Not a token we could have issued: unknown, without asking the store. */
        struct session_refresh_result res;
        memset(&res, 0, sizeof res);
        res.rc = STORE_OK;
        res.outcome = REFRESH_UNKNOWN;
        cb(arg, &res);
        return;
    }
    struct refresh_call *a = xcalloc(1, sizeof *a);
    memcpy(a->old_hash, hash, sizeof hash);
    session_refresh_make(now_ms, &a->next);
    a->now_ms = now_ms;
    a->cb = cb;
    a->arg = arg;
    store_exec_call(ex, &a->call, STORE_CALL_WRITE, refresh_run, refresh_done);
}

/* ---- logout ---- */

struct logout_call {
    struct store_call call;
    unsigned char hash[32];
    int64_t now_ms;
    char user_id[TG_ID_MAX]; /* out */
    session_rc_fn cb;
    void *arg;
};

static enum store_rc logout_run(struct store *s, struct store_call *c)
{
    struct logout_call *a = (struct logout_call *)c;
    a->user_id[0] = '\0';
    enum store_rc rc = store_refresh_revoke_family(s, a->hash, a->now_ms, a->user_id);
    if (rc == STORE_NOTFOUND) {
        a->user_id[0] = '\0';
        return STORE_OK; /* idempotent */
    }
    if (rc != STORE_OK)
        return rc;
    rc = store_user_bump_epoch(s, a->user_id, a->now_ms, NULL);
    return rc == STORE_NOTFOUND ? STORE_OK : rc;
}

static void logout_done(struct store_call *c)
{
    struct logout_call *a = (struct logout_call *)c;
    if (c->rc == STORE_OK)
        session_user_changed(a->user_id);
    session_rc_fn cb = a->cb;
    void *arg = a->arg;
    enum store_rc rc = c->rc;
    free(a);
    cb(arg, rc);
}

void session_logout(struct store_exec *ex, const char *presented, int64_t now_ms, session_rc_fn cb, void *arg)
{
    unsigned char hash[32];
    if (session_refresh_hash(presented, hash) != 0) {
        cb(arg, STORE_OK);
        return;
    }
    struct logout_call *a = xcalloc(1, sizeof *a);
    memcpy(a->hash, hash, sizeof hash);
    a->now_ms = now_ms;
    a->cb = cb;
    a->arg = arg;
    store_exec_call(ex, &a->call, STORE_CALL_WRITE, logout_run, logout_done);
}

/* ---- sign out everywhere ---- */

struct everywhere_call {
    struct store_call call;
    int by_token;
    unsigned char hash[32];
    char user_id[TG_ID_MAX]; /* in (by user) or out (by token) */
    char via[16];
    struct audit_origin from;
    int64_t now_ms;
    session_everywhere_fn cb;
    void *arg;
};

static enum store_rc everywhere_run(struct store *s, struct store_call *c)
{
    struct everywhere_call *a = (struct everywhere_call *)c;
    struct audit_entry e;
    enum store_rc rc;
    if (a->by_token) {
        rc = store_refresh_live_user(s, a->hash, a->now_ms, a->user_id);
        if (rc != STORE_OK)
            return rc;
    }
    rc = store_refresh_revoke_user(s, a->user_id, a->now_ms);
    if (rc == STORE_OK)
        rc = store_user_bump_epoch(s, a->user_id, a->now_ms, NULL);
    if (rc != STORE_OK)
        return rc;
    char details[48];
    snprintf(details, sizeof details, "{\"via\":\"%s\"}", a->via);
    audit_entry_fill(&e, a->user_id, "auth.logout_everywhere", "user", a->user_id, a->from.ip, a->from.request_id,
                     details, a->now_ms);
    return store_audit_insert(s, &e);
}

static void everywhere_done(struct store_call *c)
{
    struct everywhere_call *a = (struct everywhere_call *)c;
    enum store_rc rc = c->rc;
    char user_id[TG_ID_MAX];
    memcpy(user_id, a->user_id, sizeof user_id);
    if (rc == STORE_OK)
        session_user_changed(user_id);
    session_everywhere_fn cb = a->cb;
    void *arg = a->arg;
    free(a);
    cb(arg, rc, rc == STORE_OK ? user_id : NULL);
}

void session_logout_everywhere(struct store_exec *ex, const struct session_everywhere *w, int64_t now_ms,
                               session_everywhere_fn cb, void *arg)
{
    unsigned char hash[32];
    int bad = w->presented != NULL ? session_refresh_hash(w->presented, hash) != 0
                                   : (w->user_id == NULL || w->user_id[0] == '\0' || strlen(w->user_id) >= TG_ID_MAX);
    if (bad) {
        cb(arg, STORE_NOTFOUND, NULL);
        return;
    }
    struct everywhere_call *a = xcalloc(1, sizeof *a);
    if (w->presented != NULL) {
        a->by_token = 1;
        memcpy(a->hash, hash, sizeof hash);
    } else {
        memcpy(a->user_id, w->user_id, strlen(w->user_id) + 1);
    }
    snprintf(a->via, sizeof a->via, "%s", w->via ? w->via : "");
    audit_origin_set(&a->from, w->ip, w->request_id);
    a->now_ms = now_ms;
    a->cb = cb;
    a->arg = arg;
    store_exec_call(ex, &a->call, STORE_CALL_WRITE, everywhere_run, everywhere_done);
}

int session_origin_ok(const char *origin, const char *public_origin)
{
    if (origin == NULL || public_origin == NULL || public_origin[0] == '\0')
        return 0;
    size_t n = strlen(public_origin);
    /* Not secret, but a fixed-time compare costs nothing here. */
    return strlen(origin) == n && ct_equal(origin, public_origin, n);
}

int session_origin_is_host(const char *origin, const char *host)
{
    if (origin == NULL || host == NULL || host[0] == '\0' || strncmp(origin, "http://", 7) != 0)
        return 0;
    size_t n = strlen(host);
    return strlen(origin + 7) == n && ct_equal(origin + 7, host, n);
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
