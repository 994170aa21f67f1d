/*
 * rsa.h - RSA keys and RSASSA-PKCS1-v1_5 with SHA-256 (RFC 8017 section 8.2; JWS "RS256",
 * RFC 7518 section 3.3), on OpenSSL 3 libcrypto.
 *
 * Keys are loaded under one policy wherever they come from (a JWK's n and e, a PEM file):
 * a modulus of 2048 to 8192 bits and an odd public exponent between 3 and 2^32 - 1. Smaller
 * moduli are forgeable in practice; larger ones only make verification slow enough to be a
 * denial of service; huge or even exponents are never produced by honest key generators.
 *
 * A loaded key is immutable and may be used by several threads at once.
 */
#ifndef TG_CRYPTO_RSA_H
#define TG_CRYPTO_RSA_H

#include <stddef.h>

struct rsa_key; /* opaque */

enum rsa_rc {
    RSA_OK = 0,
    RSA_MALFORMED, /* not base64url / not a PEM SubjectPublicKeyInfo / not an RSA key */
    RSA_WEAK,      /* outside the policy above (modulus size, exponent) */
};

#define RSA_MIN_BITS 2048
#define RSA_MAX_BITS 8192
/* Longest PEM text accepted (an 8192-bit public key is about 1.5 KiB of PEM). */
#define RSA_PEM_MAX 16384

/* "ok", "malformed", "weak" (static strings). */
const char *rsa_rc_name(enum rsa_rc rc);

/*
 * Loads a public key from a JWK's "n" and "e" members (RFC 7518 section 6.3.1: unpadded
 * base64url of the big-endian integers; strict decoding, leading zero octets tolerated in
 * n). On RSA_OK *out is a new key (caller frees with rsa_key_free); otherwise *out is NULL.
 */
enum rsa_rc rsa_pub_from_jwk(const char *n_b64, size_t n_len, const char *e_b64, size_t e_len,
                             struct rsa_key **out);

/*
 * Loads a public key from PEM text "-----BEGIN PUBLIC KEY-----" (X.509 SubjectPublicKeyInfo,
 * as payment providers publish them; OpenSSL also reads PKCS#1 "BEGIN RSA PUBLIC KEY"), len
 * bytes (at most RSA_PEM_MAX, need not be NUL-terminated). Keys of other types (EC, RSA-PSS)
 * and private keys are RSA_MALFORMED. On RSA_OK *out is a
 * new key (caller frees with rsa_key_free); otherwise *out is NULL.
 */
enum rsa_rc rsa_pub_from_pem(const char *pem, size_t len, struct rsa_key **out);

/* Modulus size in bits. */
unsigned rsa_key_bits(const struct rsa_key *k);

/*
 * 1 when sig (siglen bytes) is a valid RSASSA-PKCS1-v1_5 SHA-256 signature of the n bytes
 * at msg under k, else 0 (including a signature of the wrong length). Thread-safe.
 */
int rsa_verify_sha256(const struct rsa_key *k, const void *msg, size_t n, const void *sig, size_t siglen);

/* Frees k (NULL is fine). */
void rsa_key_free(struct rsa_key *k);

#endif
