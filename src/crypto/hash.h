/*
 * hash.h - SHA-256, HMAC-SHA256 and constant-time comparison (libsodium); MD5 (OpenSSL) and
 * CRC-32 for the payment providers' legacy formats.
 */
#ifndef TG_CRYPTO_HASH_H
#define TG_CRYPTO_HASH_H

#include <stddef.h>
#include <stdint.h>

/* SHA-256 (FIPS 180-4) of the n bytes at data into out. */
void sha256(const void *data, size_t n, unsigned char out[32]);
/* HMAC-SHA256 (RFC 2104) of the n bytes at data under a key of any length (keys longer
 * than the 64-byte block are hashed first, as RFC 2104 says) into out. */
void hmac_sha256(const void *key, size_t keylen, const void *data, size_t n, unsigned char out[32]);
/* 1 if the n bytes at a and b are equal, else 0; time depends only on n. */
int ct_equal(const void *a, const void *b, size_t n);

/* MD5 (RFC 1321) of the n bytes at data into out. Broken as a hash: only for WeChat Pay
 * APIv2 "sign" (sign_type MD5, PROVIDERS.md 2.5), where the provider dictates it. */
void md5(const void *data, size_t n, unsigned char out[16]);
/* CRC-32 as zlib, PNG and Ethernet compute it (reflected polynomial 0xEDB88320, initial and
 * final XOR 0xFFFFFFFF; check value: "123456789" -> 0xCBF43926) of the n bytes at data.
 * For PayPal's webhook signature message, which carries CRC32(raw body) in decimal
 * (PROVIDERS.md 4.4). Not a security check on its own. */
uint32_t crc32_ieee(const void *data, size_t n);

#endif
