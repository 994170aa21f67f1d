/*
 * session.h - sessions and bearer authentication (DESIGN section 5).
 *
 * Access token: JWT HS256 signed with TG_JWT_SECRET, claims
 *   {"sub":user_id,"role","typ":"access","ep":auth_epoch,"iat","exp","jti"}; lifetime
 *   TG_ACCESS_TOKEN_TTL (15 min). The signature is checked without the database; what the
 *   token may do is not: every request sees the account's current role, disabled flag and
 *   auth epoch. The epoch is bumped by every change that must end sessions (logout, a
 *   password change, a role change, disabling), so a token whose "ep" is older stops
 *   working at once. The account's state is cached per thread and re-read when this process
 *   changed it (session_user_changed) or after SESSION_USER_TTL_MS (changes made by another
 *   process, such as the CLI).
 * Refresh token: 32 random bytes, base64url, prefixed "rt_"; only its SHA-256 is stored;
 *   rotated on every use, reuse of a rotated token revokes the whole family.
 * API key: "tg_live_" + 32 random bytes in base62 (43 chars); only its SHA-256 is stored.
 *
 * Every operation here that needs the store is asynchronous (store/call.h): it takes the
 * caller's executor and a callback that runs exactly once on the caller's thread - possibly
 * before the function returns. Arguments are copied; nothing the caller passed is used
 * after the call returns.
 */
#ifndef TG_DOMAIN_SESSION_H
#define TG_DOMAIN_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "core/types.h"
#include "store/store.h"

struct store_exec;

/* How long a cached account state is trusted when this process did not change it: bounds
 * how long a change made by another process (the CLI, another node) takes to apply. */
#define SESSION_USER_TTL_MS 1000

enum authn_rc {
    AUTHN_OK = 0,
    AUTHN_INVALID,     /* malformed, forged, expired, revoked, disabled, stale epoch: a 401 */
    AUTHN_UNAVAILABLE, /* the store failed: a 503, the credential may be fine */
};

typedef void (*session_auth_fn)(void *arg, enum authn_rc rc, const struct principal *p);
/*
 * Authenticates the credential from `Authorization: Bearer <credential>` (len bytes):
 * API keys ("tg_" prefix) through the store, anything else as an access JWT (typ "access")
 * checked against the account's current state. cb receives the principal on AUTHN_OK.
 * An API key's last_used_at is recorded at most once a minute (a write of its own that
 * the answer does not wait for).
 */
void session_authenticate(struct store_exec *ex, const char *credential, size_t len, int64_t now_ms,
                          session_auth_fn cb, void *arg);

/*
 * 1 when credential is an access token this thread has already verified completely and
 * that has not expired: it cannot be a guess, so the HTTP layer skips the failed-
 * authentication budget check (a lock and an address lookup) for it. Does not decide
 * whether the token may still be used; session_authenticate does.
 */
int session_token_known(const char *credential, size_t len, int64_t now_ms);

/*
 * Tells the account-state caches of every thread that user_id changed (role, disabled,
 * epoch). Call it after the change is durable and before answering the request that made
 * it. Thread-safe and lock-free.
 */
void session_user_changed(const char *user_id);

/* Tokens handed to a client after sign-in, refresh, or registration. */
struct session_tokens {
    char *access_token; /* caller frees with session_tokens_free() */
    char *refresh_token;
    int expires_in; /* access token lifetime, seconds */
};
void session_tokens_free(struct session_tokens *t);

/* ---- building blocks for domain/ flows (run inside a store_call) ---- */

/* A refresh token made before a transaction: the text for the client and the stored form. */
struct session_new_refresh {
    char text[64];               /* "rt_..." (46 chars) */
    struct refresh_token stored; /* id, hash, times; user and family filled by the issuer */
};
/* Makes a fresh refresh token (random; call it outside run(), which may be repeated). */
void session_refresh_make(int64_t now_ms, struct session_new_refresh *out);
/*
 * Inside a write transaction: re-reads user_id and stores `nr` as a new token family for
 * it, only if the account is enabled and, when expect_hash is not NULL, its password hash
 * is still expect_hash and, when expect_epoch >= 0, its epoch is still expect_epoch.
 * STORE_CONFLICT when a condition no longer holds (nothing is written), NOTFOUND when the
 * user is gone. *u receives the account as stored.
 */
enum store_rc session_issue_tx(struct store *s, const char *user_id, const char *expect_hash,
                               int64_t expect_epoch, struct session_new_refresh *nr, int64_t now_ms,
                               struct user *u);
/*
 * After the transaction committed: signs the access token for u and moves the refresh
 * token text into *out. Returns 0, or -1 (logged) when signing failed.
 */
int session_tokens_finish(const struct user *u, const struct session_new_refresh *nr, int64_t now_ms,
                          struct session_tokens *out);

/* ---- refresh and logout ---- */

struct session_refresh_result {
    enum store_rc rc;             /* STORE_OK when outcome is meaningful */
    enum refresh_outcome outcome; /* REFRESH_ROTATED: user and tokens are set */
    struct user user;             /* on ROTATED; on REUSED/EXPIRED only user.id */
    struct session_tokens tokens; /* on ROTATED; freed by the caller */
};
typedef void (*session_refresh_fn)(void *arg, struct session_refresh_result *res);
/*
 * Rotates refresh token `presented`: the rotation and the account read are one
 * transaction, so a failure never leaves a rotated token behind whose retry would look like
 * theft. A disabled or vanished account's family is revoked and the outcome is
 * REFRESH_EXPIRED.
 */
void session_refresh(struct store_exec *ex, const char *presented, int64_t now_ms, session_refresh_fn cb,
                     void *arg);

typedef void (*session_rc_fn)(void *arg, enum store_rc rc);
/*
 * Logout: revokes the family of refresh token `presented` and bumps the account's epoch so
 * that access tokens issued before stop working at once (other devices refresh silently).
 * Unknown tokens are not an error (logout is idempotent): rc STORE_OK.
 */
void session_logout(struct store_exec *ex, const char *presented, int64_t now_ms, session_rc_fn cb,
                    void *arg);

/* How a sign-out everywhere was asked for, for its audit row. */
struct session_everywhere {
    const char *presented; /* a refresh token naming the account, or NULL */
    const char *user_id;   /* else the authenticated account */
    const char *via;       /* "refresh_token", "cookie" or "bearer" */
    const char *ip;
    const char *request_id;
};
typedef void (*session_everywhere_fn)(void *arg, enum store_rc rc, const char *user_id);
/*
 * Sign out everywhere: every refresh token of the account is revoked and its epoch bumped,
 * so every access token issued before stops working at once on every device, and
 * "auth.logout_everywhere" is audited - one transaction. The account is the one of
 * w->presented when set, which must be a token that could still be rotated (a used, revoked,
 * expired or unknown token proves nothing: rc STORE_NOTFOUND, nothing changes), else
 * w->user_id. cb receives the account's id on STORE_OK.
 */
void session_logout_everywhere(struct store_exec *ex, const struct session_everywhere *w, int64_t now_ms,
                               session_everywhere_fn cb, void *arg);

/*
 * 1 when `origin` (the request's Origin header, NULL when absent) is exactly `public_origin`
 * (config_url_origin of TG_PUBLIC_URL), else 0. "null", another scheme, host or port, or a
 * different spelling of the same one are all 0: browsers send the serialized form.
 */
int session_origin_ok(const char *origin, const char *public_origin);

/*
 * 1 when origin is "http://" + host exactly: a browser on the page this host served. Only for
 * a server whose TG_PUBLIC_URL is the default made from TG_LISTEN (a first run on
 * 127.0.0.1:8080 opened as http://localhost:8080 would otherwise lose its session on every
 * reload). The cookie is SameSite=Strict and bound to the host it was set for, so another
 * site's page neither sends it nor can name this host as its origin.
 */
int session_origin_is_host(const char *origin, const char *host);

#endif
