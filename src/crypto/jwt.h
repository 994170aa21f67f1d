/*
 * jwt.h - JSON Web Tokens (RFC 7519 / RFC 7515): HS256 for our own tokens, RS256 for tokens
 * that identity providers sign (Google ID tokens).
 *
 * Each verifier accepts exactly one algorithm, chosen by the caller, never by the token: a
 * header with any other "alg" (including "none", and HS256 presented to the RS256 verifier,
 * the "public key as HMAC secret" confusion) is rejected before the signature is looked at.
 * The signature is checked before the payload is parsed.
 */
#ifndef TG_CRYPTO_JWT_H
#define TG_CRYPTO_JWT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "crypto/rsa.h"

enum jwt_rc {
    JWT_OK = 0,
    JWT_MALFORMED,   /* not three non-empty strict base64url parts, header or payload not a
                        JSON object (or with duplicate keys), over the size limit */
    JWT_BAD_ALG,     /* alg is not HS256 (e.g. "none", missing) or typ is present and not
                        "JWT", or the header has "crit" (we support no extensions) */
    JWT_BAD_SIG,     /* signature does not match (or is not 32 bytes) */
    JWT_EXPIRED,     /* exp missing, not an integer, or <= now */
    JWT_NOT_YET,     /* nbf or iat not an integer, or in the future beyond the allowed skew */
    JWT_NO_KID,      /* RS256: the header has no "kid" string (we pick the key by it) */
    JWT_TOO_LARGE,   /* RS256: longer than JWT_RS_MAX_LEN (HS256 says JWT_MALFORMED) */
};

/* Longest token accepted, bytes. */
#define JWT_MAX_LEN 4096
/* Longest RS256 token accepted: a Google ID token is about 1.2 KiB; 8 KiB leaves room for
 * long names and a 4096-bit signature while bounding the work a forged token can cause. */
#define JWT_RS_MAX_LEN 8192
/* Longest "kid" accepted (Google's are 40 hex digits). */
#define JWT_KID_MAX 128

/* "ok", "malformed", "bad_alg", "bad_sig", "expired", "not_yet", "no_kid", "too_large"
 * (static strings). */
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

/*
 * An RS256 token split and its header checked, not yet verified (jwt_rs256_parse). It
 * borrows the token text, which must outlive it.
 */
struct jwt_rs256 {
    const char *token;         /* borrowed */
    size_t signed_len;         /* length of "header.payload", the signing input */
    const char *payload_b64;   /* inside token */
    size_t payload_len;
    unsigned char sig[RSA_MAX_BITS / 8];
    size_t sig_len;
    char kid[JWT_KID_MAX + 1]; /* printable ASCII, 1..JWT_KID_MAX characters */
};

/*
 * Splits token (len bytes, need not be NUL-terminated) and checks its header: exactly three
 * non-empty strict base64url parts; a JSON object header (no duplicate keys) whose "alg" is
 * exactly "RS256", "typ" absent or "JWT", no "crit", and a "kid" string of printable ASCII.
 * Returns JWT_OK with *out filled, JWT_TOO_LARGE, JWT_MALFORMED, JWT_BAD_ALG or JWT_NO_KID.
 * Nothing of the payload is decoded. Thread-safe.
 */
enum jwt_rc jwt_rs256_parse(const char *token, size_t len, struct jwt_rs256 *out);

/*
 * Verifies the signature of a parsed token with key (RSASSA-PKCS1-v1_5 SHA-256 over the
 * raw bytes of "header.payload"), and only then decodes the payload. Returns JWT_OK with
 * *claims set to the payload object (caller json_decref()s), JWT_BAD_SIG, or JWT_MALFORMED
 * (the payload is not a JSON object, or has duplicate keys); *claims is NULL unless JWT_OK.
 * No claim is checked here: the issuer's rules (iss, aud, exp...) are the caller's.
 * Thread-safe.
 */
enum jwt_rc jwt_rs256_verify(const struct jwt_rs256 *t, const struct rsa_key *key, json_t **claims);

#endif
