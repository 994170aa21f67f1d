/*
 * rsa.h - RSA keys and RSASSA-PKCS1-v1_5 with SHA-256 (RFC 8017 section 8.2; JWS "RS256",
 * RFC 7518 section 3.3), on OpenSSL 3 libcrypto.
 *
 * Keys are loaded under one policy wherever they come from (a JWK's n and e, a PEM file):
 * a modulus of 2048 to 8192 bits and an odd public exponent between 3 and 2^32 - 1. Smaller
 * moduli are forgeable in practice; larger ones only make verification slow enough to be a
 * denial of service; huge or even exponents are never produced by honest key generators.
 *
 * A loaded key is immutable and may be used by several threads at once. A key loaded from
 * a private key (rsa_priv_from_pem, rsa_priv_from_file) also signs; its memory is wiped
 * when it is freed.
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
/* Longest PEM text accepted (an 8192-bit public key is about 1.5 KiB of PEM, its PKCS#8
 * private key about 6.4 KiB, a certificate for it under 4 KiB). */
#define RSA_PEM_MAX 16384
/* Room for a certificate serial in hex with its NUL: RFC 5280 section 4.1.2.2 caps serials
 * at 20 octets. */
#define RSA_SERIAL_HEX_MAX 41

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

/*
 * Loads a private key from PEM text, PKCS#8 "-----BEGIN PRIVATE KEY-----" or PKCS#1
 * "-----BEGIN RSA PRIVATE KEY-----" (as WeChat Pay's apiclient_key.pem and Alipay's app
 * private key come), len bytes (at most RSA_PEM_MAX, need not be NUL-terminated), under
 * the policy above. The key's consistency (n = p * q and the exponents) is checked, so a
 * damaged file fails here rather than at the first signature. Encrypted PEM (no
 * passphrase is ever asked for), public keys and non-RSA keys are RSA_MALFORMED. On RSA_OK
 * *out is a new key that signs and verifies (caller frees with rsa_key_free, which wipes
 * it); otherwise *out is NULL. The caller should wipe its copy of the text.
 */
enum rsa_rc rsa_priv_from_pem(const char *pem, size_t len, struct rsa_key **out);

/*
 * rsa_priv_from_pem on the contents of the file at path (for TG_WECHATPAY_PRIVATE_KEY_FILE,
 * TG_ALIPAY_PRIVATE_KEY_FILE). Reads the file at startup only (blocking I/O); a missing or
 * unreadable file, or one over RSA_PEM_MAX bytes, is RSA_MALFORMED. The bytes read are
 * wiped before returning. Same *out contract as rsa_priv_from_pem.
 */
enum rsa_rc rsa_priv_from_file(const char *path, struct rsa_key **out);

/*
 * Loads the public key of an X.509 certificate in PEM text "-----BEGIN CERTIFICATE-----",
 * len bytes (at most RSA_PEM_MAX), under the policy above (WeChat Pay platform
 * certificates). Only the key and serial are read: the certificate's issuer, signature and
 * validity dates are NOT checked (the caller pins the certificate it was configured with).
 * On RSA_OK *out is a new key (caller frees with rsa_key_free) and serial_hex (room for
 * RSA_SERIAL_HEX_MAX) holds the serial number in upper-case hex without leading zeros, as
 * WeChat Pay prints it in Wechatpay-Serial (e.g. "1DDE55AD98ED71D6EDD4A4A16996DE7B47773A8C");
 * otherwise *out is NULL and serial_hex is "". A negative serial or one over 20 octets is
 * RSA_MALFORMED.
 */
enum rsa_rc rsa_pub_from_cert_pem(const char *pem, size_t len, struct rsa_key **out,
                                  char serial_hex[RSA_SERIAL_HEX_MAX]);

/* 1 when k holds a private key (can sign), else 0. */
int rsa_key_is_private(const struct rsa_key *k);

/* Modulus size in bits. */
unsigned rsa_key_bits(const struct rsa_key *k);

/*
 * 1 when sig (siglen bytes) is a valid RSASSA-PKCS1-v1_5 SHA-256 signature of the n bytes
 * at msg under k, else 0 (including a signature of the wrong length). Thread-safe.
 */
int rsa_verify_sha256(const struct rsa_key *k, const void *msg, size_t n, const void *sig, size_t siglen);

/*
 * Signs the n bytes at msg with RSASSA-PKCS1-v1_5 SHA-256 (RFC 8017 section 8.2.1; WeChat Pay
 * "WECHATPAY2-SHA256-RSA2048", Alipay "RSA2"; deterministic, so equal inputs give equal
 * signatures). Returns a new buffer of (rsa_key_bits(k) + 7) / 8 raw signature bytes, its
 * length in *siglen (callers base64 it; caller frees with free()), or NULL with *siglen 0
 * when k holds no private key or signing failed. Thread-safe.
 */
unsigned char *rsa_sign_sha256(const struct rsa_key *k, const void *msg, size_t n, size_t *siglen);

/* Frees k (NULL is fine); private key material is wiped first. */
void rsa_key_free(struct rsa_key *k);

#endif
