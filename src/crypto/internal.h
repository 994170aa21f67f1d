/*
 * internal.h - functions shared between files of src/crypto only; not for other layers.
 */
#ifndef TG_CRYPTO_INTERNAL_H
#define TG_CRYPTO_INTERNAL_H

/*
 * Computes the dummy hash used by password_verify_dummy() (once per process; later calls
 * return at once; safe from any thread). Returns 0, or -1 if hashing failed (out of memory
 * for argon2id's 64 MiB).
 */
int password_dummy_init(void);

#endif
