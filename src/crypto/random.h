/*
 * random.h - cryptographically secure randomness (libsodium's randombytes).
 */
#ifndef TG_CRYPTO_RANDOM_H
#define TG_CRYPTO_RANDOM_H

#include <stddef.h>

/* Initialises libsodium; call once before any other crypto_ function. Returns 0 or -1. */
int crypto_init(void);
/* Fills buf with n random bytes. */
void rand_bytes(void *buf, size_t n);

#endif
