/*
 * hash.c - SHA-256, HMAC-SHA256 and constant-time comparison on top of libsodium.
 */
#include "crypto/hash.h"

#include <sodium.h>

void sha256(const void *data, size_t n, unsigned char out[32])
{
    crypto_hash_sha256(out, data, n);
}

void hmac_sha256(const void *key, size_t keylen, const void *data, size_t n, unsigned char out[32])
{
    /* The init/update/final form takes a key of any length; the one-shot
     * crypto_auth_hmacsha256() insists on exactly 32 bytes. */
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, key, keylen);
    crypto_auth_hmacsha256_update(&st, data, n);
    crypto_auth_hmacsha256_final(&st, out);
    /* The state holds the padded key: do not leave it on the stack. */
    sodium_memzero(&st, sizeof st);
}

int ct_equal(const void *a, const void *b, size_t n)
{
    return sodium_memcmp(a, b, n) == 0;
}
