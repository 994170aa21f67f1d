/*
 * random.c - libsodium initialisation and random bytes.
 */
#include "crypto/random.h"

#include <sodium.h>

#include "crypto/internal.h"

int crypto_init(void)
{
    /* sodium_init() is itself thread-safe and idempotent (returns 1 when already done). */
    if (sodium_init() < 0)
        return -1;
    /* Done here, at start-up, so that the first login for a missing account does not pay
     * for it and stand out by its timing. */
    return password_dummy_init();
}

void rand_bytes(void *buf, size_t n)
{
    randombytes_buf(buf, n);
}
