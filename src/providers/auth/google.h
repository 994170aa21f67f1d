/*
 * google.h - Google Sign-In (PROVIDERS.md section 6): ID tokens (One Tap, and the code flow's
 * id_token) verified with RS256 against Google's JWKS, and the OAuth authorization-code flow
 * with PKCE.
 *
 * The provider itself is `auth_google` in the registry (providers/auth/auth.h). This header
 * adds the One Tap entry point, and the pure pieces the provider is made of (claim rules,
 * token-endpoint answers, URLs), exposed so that they are tested and fuzzed without a network.
 *
 * Configuration: TG_GOOGLE_CLIENT_ID (required: the provider is configured when it is set),
 * TG_GOOGLE_CLIENT_SECRET (the code flow only), TG_GOOGLE_AUTH_URL, TG_GOOGLE_TOKEN_URL,
 * TG_GOOGLE_JWKS_URL.
 */
#ifndef TG_PROVIDERS_AUTH_GOOGLE_H
#define TG_PROVIDERS_AUTH_GOOGLE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "crypto/jwt.h"
#include "providers/auth/auth.h"
#include "providers/auth/jwks.h"

struct net_exec;

extern const struct auth_provider auth_google;

/*
 * Verifies a Google ID token (the One Tap / Sign-In "credential", len bytes, copied) at
 * now_ms, through nx when Google's keys must be fetched (never blocking the caller), and
 * calls done(arg, result) exactly once on the caller's thread, possibly before returning.
 * nonce: the nonce the token must carry (compared exactly), or NULL when none is expected.
 * Results: AUTH_P_OK with the identity; AUTH_P_INVALID with a reason (see google_verify_keys);
 * AUTH_P_UNAVAILABLE "jwks_unavailable" when Google's keys cannot be had; AUTH_P_MISCONFIGURED
 * "not_configured" without TG_GOOGLE_CLIENT_ID.
 */
void google_verify_credential(struct net_exec *nx, const char *jwt, size_t len, const char *nonce, int64_t now_ms,
                              auth_done_fn done, void *arg);

/* The process-wide cache of Google's keys (tests look at it and clear it). */
extern struct jwks_cache google_jwks;

/* ---- pure pieces (no configuration, no network) ---------------------------------------- */

/* Clock skew allowed on exp and iat, and the longest lifetime accepted (exp - iat), seconds;
 * the values google-auth-library uses (CLOCK_SKEW_SECS_, DEFAULT_MAX_TOKEN_LIFETIME_SECS_). */
#define GOOGLE_SKEW_S 300
#define GOOGLE_MAX_LIFETIME_S 86400
/* Longest authorization code accepted from a callback (Google's are about 70 characters). */
#define GOOGLE_CODE_MAX 2048

/*
 * Applies Google's claim rules to a verified payload at now_s (Unix seconds) for client_id,
 * with the expected nonce (NULL: none expected). Fills res: AUTH_P_OK with res->id, or
 * AUTH_P_INVALID with one of these reasons:
 *   wrong_issuer      iss is not "accounts.google.com" or "https://accounts.google.com"
 *   wrong_audience    aud is not client_id (a string), or an array without it (at most 10)
 *   wrong_azp         aud is an array and azp is not client_id
 *   bad_exp, bad_iat  missing or not a JSON integer
 *   expired           now > exp + GOOGLE_SKEW_S
 *   issued_in_future  now < iat - GOOGLE_SKEW_S
 *   lifetime_too_long exp - iat > GOOGLE_MAX_LIFETIME_S
 *   bad_subject       sub missing, empty, longer than AUTH_SUBJECT_MAX - 1, or not printable ASCII
 *   nonce_mismatch    a nonce was expected and the token's is absent or different
 * The identity: provider "google", subject = sub, email lower-cased ("" when absent or not a
 * plausible address), email_verified 1 only when the claim is JSON true (a token with
 * email_verified false still signs the person in: the flow decides what an unverified
 * address may do), display_name from name (control characters refused, cut at a character
 * boundary to TG_NAME_MAX bytes), locale "zh-CN" / "en-US" when it starts with zh / en.
 */
void google_check_claims(const json_t *claims, const char *client_id, const char *nonce, int64_t now_s,
                         struct auth_result *res);

/*
 * Verifies a parsed token with the key set s: 1 when t's kid is not in s (nothing else was
 * done; res untouched), else 0 with res filled: AUTH_P_INVALID "bad_signature" or
 * "malformed" (payload), or google_check_claims' verdict.
 */
int google_verify_keys(const struct jwt_rs256 *t, const struct jwks_set *s, const char *client_id,
                       const char *nonce, int64_t now_s, struct auth_result *res);

/* The reason for a token jwt_rs256_parse() refused: "token_too_large", "alg_not_allowed",
 * "missing_kid", "malformed" (static strings). */
const char *google_parse_reason(enum jwt_rc rc);

/*
 * Reads the token endpoint's answer (RFC 6749 section 5): net_err (an enum net_err value) and
 * HTTP status of the call, and its body. Fills res and returns the id_token (a new string of
 * *id_len bytes, caller frees) when the answer is a 200 with one, else NULL with res->rc:
 *   AUTH_P_UNAVAILABLE    no answer ("timeout", "connect", ...: net_err_name()), 429 or
 *                         5xx ("http_503"), or a 200 without a usable id_token
 *                         ("bad_token_response");
 *   AUTH_P_MISCONFIGURED  error invalid_client, unauthorized_client, redirect_uri_mismatch or
 *                         unsupported_grant_type (our registration is wrong);
 *   AUTH_P_INVALID        any other 4xx: reason is the RFC 6749 error code when it is a plain
 *                         [a-z0-9_] word of at most 40 characters ("invalid_grant"), else
 *                         "http_<status>".
 */
char *google_token_response(int net_err, long status, const char *body, size_t len, size_t *id_len,
                            struct auth_result *res);

/*
 * The authorize URL for flow f: base (TG_GOOGLE_AUTH_URL; '?' or '&' is added as needed)
 * with client_id, redirect_uri, response_type=code, scope "openid email profile", state,
 * nonce and the PKCE code_challenge with code_challenge_method=S256 (the last three only
 * when set in f), every value percent-encoded. Returns a new string (caller frees).
 */
char *google_authorize_url_build(const char *base, const char *client_id, const struct auth_flow *f);

/*
 * The token request body (application/x-www-form-urlencoded): code, client_id,
 * client_secret, redirect_uri, grant_type=authorization_code and code_verifier (when not
 * NULL), every value percent-encoded. Returns a new string (caller frees; it holds the
 * client secret: never log it).
 */
char *google_token_form(const char *code, const char *client_id, const char *client_secret, const char *redirect_uri,
                        const char *code_verifier);

#endif
