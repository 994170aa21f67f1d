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
    JWT_MALFORMED,   /* not three non-empty strict base64url parts, header or payload not a
                        JSON object (or with duplicate keys), over the size limit */
    JWT_BAD_ALG,     /* alg is not HS256 (e.g. "none", missing) or typ is present and not
                        "JWT", or the header has "crit" (we support no extensions) */
    JWT_BAD_SIG,     /* signature does not match (or is not 32 bytes) */
    JWT_EXPIRED,     /* exp missing, not an integer, or <= now */
    JWT_NOT_YET,     /* nbf or iat not an integer, or in the future beyond the allowed skew */
};

/* Longest token accepted, bytes. */
#define JWT_MAX_LEN 4096

/* "ok", "malformed", "bad_alg", "bad_sig", "expired", "not_yet" (static strings). */
const char *jwt_rc_name(enum jwt_rc rc);

/*
 * Signs claims (not modified; must be a JSON object) with header {"alg":"HS256","typ":"JWT"},
 * serializing the claims compactly in their insertion order.
 * Returns a new string (caller frees with free()), or NULL if claims is not an object,
 * cannot be serialized, or the token would exceed JWT_MAX_LEN.
 */
char *jwt_sign_hs256(const json_t *claims, const unsigned char *key, size_t keylen);

/*
 * Verifies token (len bytes, need not be NUL-terminated) with key at time now_s (Unix
 * seconds), allowing skew_s of clock skew for nbf/iat. On JWT_OK, *claims receives the
 * payload (caller json_decref()s); otherwise *claims is NULL. claims may be NULL when only
 * the verdict is wanted. `exp` is required. For tokens from jwt_sign_hs256() the only heap
 * allocation is the claims object. Thread-safe.
 */
enum jwt_rc jwt_verify_hs256(const char *token, size_t len, const unsigned char *key, size_t keylen,
                             int64_t now_s, int64_t skew_s, json_t **claims);

#endif
