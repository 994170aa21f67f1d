/*
 * hash.h - SHA-256, HMAC-SHA256 and constant-time comparison (libsodium).
 */
#ifndef TG_CRYPTO_HASH_H
#define TG_CRYPTO_HASH_H

#include <stddef.h>

/* SHA-256 (FIPS 180-4) of the n bytes at data into out. */
void sha256(const void *data, size_t n, unsigned char out[32]);
/* HMAC-SHA256 (RFC 2104) of the n bytes at data under a key of any length (keys longer
 * than the 64-byte block are hashed first, as RFC 2104 says) into out. */
void hmac_sha256(const void *key, size_t keylen, const void *data, size_t n, unsigned char out[32]);
/* 1 if the n bytes at a and b are equal, else 0; time depends only on n. */
int ct_equal(const void *a, const void *b, size_t n);

#endif
