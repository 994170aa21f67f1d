/*
 * hash.c - SHA-256, HMAC-SHA256 and constant-time comparison on top of libsodium.
 */
#include "crypto/hash.h"

#include <stdint.h>
#include <string.h>

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
    /*
     * Eight bytes at a time, every byte read, no early exit: the time depends on n only.
     * libsodium's sodium_memcmp reads a byte at a time through volatile pointers, which was
     * 3% of the hot read, where every request compares its ~300-byte access token with the
     * cached one. The empty asm makes d opaque to the compiler, so it cannot turn the
     * accumulation back into a comparison that stops at the first difference.
     */
    const unsigned char *x = a, *y = b;
    uint64_t d = 0;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t u, v;
        memcpy(&u, x + i, 8);
        memcpy(&v, y + i, 8);
        d |= u ^ v;
        __asm__("" : "+r"(d));
    }
    for (; i < n; i++) {
        d |= (uint64_t)(x[i] ^ y[i]);
        __asm__("" : "+r"(d));
    }
    /* 1 when d == 0, without a branch on d. */
    return (int)(((d | (0 - d)) >> 63) ^ 1);
}
