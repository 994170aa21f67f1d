/*
 * password.h - password hashing with argon2id (libsodium crypto_pwhash).
 *
 * Slow on purpose (~tens of ms and 64 MiB): call from the blocking pool, never a loop.
 */
#ifndef TG_CRYPTO_PASSWORD_H
#define TG_CRYPTO_PASSWORD_H

#include <stddef.h>

/* Room for an encoded hash (libsodium's crypto_pwhash_STRBYTES). */
#define PASSWORD_HASH_MAX 128

/*
 * Hashes pw (len bytes) into out as an encoded string "$argon2id$v=19$m=...,t=...,p=1$..."
 * with libsodium's interactive limits (opslimit 2, memlimit 64 MiB). Returns 0, or -1
 * (out is then "") if hashing failed (out of memory).
 */
int password_hash(const char *pw, size_t len, char out[PASSWORD_HASH_MAX]);
/*
 * 1 if pw matches the encoded argon2id hash, 0 otherwise (including malformed hashes,
 * other algorithms such as argon2i, NULL, and strings of PASSWORD_HASH_MAX bytes or more).
 * Accepts any argon2id parameters, so hashes made with other settings keep working.
 */
int password_verify(const char *encoded, const char *pw, size_t len);
/*
 * Runs one verification against a fixed dummy hash with the current parameters and
 * returns 0. Used when the account does not exist so that the response takes as long as
 * for a real account (no account enumeration through timing). The dummy is made by
 * crypto_init() (or on first use if that was skipped).
 */
int password_verify_dummy(const char *pw, size_t len);
/*
 * 1 if encoded was made with weaker parameters than today's (memory or passes below the
 * interactive limits) or is not an argon2id v19 hash we can read: rehash on next login.
 * 0 if its parameters are today's or stronger.
 */
int password_needs_rehash(const char *encoded);

#endif
