/*
 * random.h - cryptographically secure randomness (libsodium's randombytes).
 */
#ifndef TG_CRYPTO_RANDOM_H
#define TG_CRYPTO_RANDOM_H

#include <stddef.h>

/*
 * Initialises libsodium and prepares the dummy password hash (one argon2id hash, ~64 MiB
 * for a moment). Call once at start-up before any other crypto function; calling it again,
 * from any thread, is harmless. Returns 0 or -1.
 */
int crypto_init(void);
/* Fills buf with n random bytes (never fails). */
void rand_bytes(void *buf, size_t n);

#endif
