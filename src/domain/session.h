/*
 * session.h - access tokens, refresh tokens and bearer authentication (DESIGN section 5).
 *
 * Access token: JWT HS256 signed with TG_JWT_SECRET, claims
 *   {"sub":user_id,"role":"user|admin","typ":"access","iat","exp","jti"}; lifetime
 *   TG_ACCESS_TOKEN_TTL (15 min). Stateless: verifying it touches no database.
 * Refresh token: 32 random bytes, base64url, prefixed "rt_"; only its SHA-256 is stored;
 *   rotated on every use, reuse of a rotated token revokes the whole family.
 * API key: "tg_live_" + 32 random bytes in base62 (43 chars); only its SHA-256 is stored.
 */
#ifndef TG_DOMAIN_SESSION_H
#define TG_DOMAIN_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "domain/types.h"

struct store;

enum authn_rc {
    AUTHN_OK = 0,
    AUTHN_INVALID,      /* malformed, forged, expired, alg:none, revoked, unknown: a 401 */
    AUTHN_UNAVAILABLE,  /* the store failed: a 503, the credential may be fine */
};

/*
 * Authenticates the credential from `Authorization: Bearer <credential>` (len bytes):
 * API keys ("tg_" prefix) through the store, anything else as an access JWT (typ "access").
 * Fills *out on AUTHN_OK (authenticated = 1).
 */
enum authn_rc session_authenticate(struct store *s, const char *credential, size_t len, int64_t now_ms,
                                   struct principal *out);

/* Tokens handed to a client after sign-in, refresh, or registration. */
struct session_tokens {
    char *access_token;     /* caller frees with session_tokens_free() */
    char *refresh_token;
    int expires_in;         /* access token lifetime, seconds */
};

/*
 * Issues an access token and a new refresh token family for user u and stores the refresh
 * token. Returns STORE_OK (as int) or the store's error code.
 */
int session_issue(struct store *s, const struct user *u, int64_t now_ms, struct session_tokens *out);

/*
 * Rotates refresh token `presented`. On REFRESH_ROTATED fills *out (new tokens) and *u
 * (the user, reloaded so role changes apply). *outcome says what happened; on REFRESH_REUSED
 * the family has been revoked. Returns STORE_OK (as int) or a store error.
 */
int session_refresh(struct store *s, const char *presented, int64_t now_ms, enum refresh_outcome *outcome,
                    struct user *u, struct session_tokens *out);

/* Revokes the family of refresh token `presented` (logout). Unknown tokens are not an
 * error (logout is idempotent). Returns STORE_OK (as int) or a store error. */
int session_logout(struct store *s, const char *presented, int64_t now_ms);

void session_tokens_free(struct session_tokens *t);

#endif
