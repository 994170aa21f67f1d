/*
 * jwt.h - JSON Web Tokens, HS256 only (RFC 7519 / RFC 7515).
 *
 * Verification accepts exactly one algorithm, chosen by us, never by the token: a header
 * with any "alg" other than "HS256" (including "none") is rejected before the signature is
 * looked at. The signature is checked (constant time) before the payload is parsed.
 */
#ifndef TG_CRYPTO_JWT_H
#define TG_CRYPTO_JWT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

enum jwt_rc {
    JWT_OK = 0,
    JWT_MALFORMED,   /* not three base64url parts, bad JSON, over the size limit */
    JWT_BAD_ALG,     /* alg is not HS256 (e.g. "none") or typ is present and not "JWT" */
    JWT_BAD_SIG,     /* signature does not match */
    JWT_EXPIRED,     /* exp missing, not an integer, or <= now */
    JWT_NOT_YET,     /* nbf or iat in the future beyond the allowed skew */
};

/* Longest token accepted, bytes. */
#define JWT_MAX_LEN 4096

/* "ok", "malformed", ... */
const char *jwt_rc_name(enum jwt_rc rc);

/*
 * Signs claims (not modified) with header {"alg":"HS256","typ":"JWT"}.
 * Returns a new string (caller frees with free()).
 */
char *jwt_sign_hs256(const json_t *claims, const unsigned char *key, size_t keylen);

/*
 * Verifies token (len bytes) with key at time now_s (Unix seconds), allowing skew_s of
 * clock skew for nbf/iat. On JWT_OK, *claims receives the payload (caller json_decref()s);
 * otherwise *claims is NULL. `exp` is required.
 */
enum jwt_rc jwt_verify_hs256(const char *token, size_t len, const unsigned char *key, size_t keylen,
                             int64_t now_s, int64_t skew_s, json_t **claims);

#endif
