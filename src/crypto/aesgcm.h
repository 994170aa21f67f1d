/*
 * aesgcm.h - AES-256-GCM (NIST SP 800-38D) on OpenSSL 3 libcrypto, in the shape WeChat Pay
 * APIv3 uses for notification resources (PROVIDERS.md 2.3, AEAD_AES_256_GCM): the key is
 * the 32-byte APIv3 key used as is, the nonce 12 bytes, the associated data any bytes, and
 * the ciphertext is followed by its 16-byte tag (base64 of ciphertext || tag on the wire).
 *
 * Only 12-byte nonces are accepted (wechatpay-go's cipher.NewGCM accepts no other), every
 * length is bounded, and decryption releases nothing unless the tag is right: on a wrong
 * tag the output buffer is wiped, since OpenSSL writes unauthenticated plaintext into it
 * before it checks the tag. The tag is compared in constant time by OpenSSL.
 */
#ifndef TG_CRYPTO_AESGCM_H
#define TG_CRYPTO_AESGCM_H

#include <stddef.h>

#define AESGCM_KEY_LEN 32
#define AESGCM_NONCE_LEN 12
#define AESGCM_TAG_LEN 16
/* Longest plaintext (and associated data) accepted: WeChat Pay resources are a few KiB;
 * 1 MiB bounds the work an attacker can cause without refusing anything honest. */
#define AESGCM_MAX_LEN (1024 * 1024)

/*
 * Encrypts the n bytes at plain under key (keylen must be AESGCM_KEY_LEN) and nonce
 * (nonce_len must be AESGCM_NONCE_LEN; never reuse one with the same key), authenticating
 * the aad_len bytes at aad too (aad may be NULL when aad_len is 0). Writes ciphertext ||
 * tag, n + AESGCM_TAG_LEN bytes, to out (room for cap bytes). Returns that length, or -1 on
 * a bad key or nonce length, n or aad_len over AESGCM_MAX_LEN, cap too small, or an
 * OpenSSL failure. Used to seal admin-added provider keys (domain/keypool.h), and by fakes and
 * tests.
 */
long aesgcm_encrypt(const void *key, size_t keylen, const void *nonce, size_t nonce_len, const void *aad,
                    size_t aad_len, const void *plain, size_t n, void *out, size_t cap);

/*
 * Decrypts ct (ct_len bytes: ciphertext || 16-byte tag) under key, nonce and aad as for
 * aesgcm_encrypt. Writes ct_len - AESGCM_TAG_LEN plaintext bytes to out (room for cap).
 * Returns the plaintext length, or -1 when the tag does not verify (wrong key, nonce, aad,
 * or altered or truncated ciphertext), ct_len < AESGCM_TAG_LEN, a length is out of bounds,
 * or cap is too small; on -1 nothing of out holds plaintext (it is zeroed).
 */
long aesgcm_decrypt(const void *key, size_t keylen, const void *nonce, size_t nonce_len, const void *aad,
                    size_t aad_len, const void *ct, size_t ct_len, void *out, size_t cap);

/*
 * The WeChat Pay resource form: ct_b64 is the padded standard base64 of ciphertext || tag
 * (b64_len bytes, strict decoding as b64_decode). Returns a new NUL-terminated buffer with
 * the plaintext (caller frees with free(); plaintext may itself contain NUL bytes, so its
 * length is in *out_len), or NULL with *out_len 0 on any failure named in aesgcm_decrypt
 * or bad base64.
 */
char *aesgcm_decrypt_b64(const void *key, size_t keylen, const void *nonce, size_t nonce_len, const void *aad,
                         size_t aad_len, const char *ct_b64, size_t b64_len, size_t *out_len);

#endif
