/*
 * ids.h - prefixed, time-ordered identifiers (DESIGN section 8).
 *
 * Format: "<prefix>_" + 26 characters of Crockford base32: 10 for the millisecond
 * timestamp (48 bits) then 16 for 80 random bits (ULID layout). Lexical order equals
 * creation order to the millisecond, which makes ids usable as pagination cursors.
 */
#ifndef TG_CORE_IDS_H
#define TG_CORE_IDS_H

#include <stddef.h>
#include <stdint.h>

/* Room for any id: prefix up to 8 chars + '_' + 26 + NUL. */
#define TG_ID_MAX 40

/* Writes a new id with prefix ("usr", "key", "led", ...) into out. Returns out. */
char *id_new(char out[TG_ID_MAX], const char *prefix);
/* Same, with an explicit timestamp (tests). */
char *id_new_at(char out[TG_ID_MAX], const char *prefix, int64_t ms);
/* A deterministic id in the same format from 16 bytes (6 in place of the timestamp, then
 * 10), for names derived from something else (a MAC): not time-ordered. Returns out. */
char *id_from_bytes(char out[TG_ID_MAX], const char *prefix, const unsigned char b[16]);
/* 1 if s looks like an id with this prefix (right prefix, 26 base32 chars), else 0.
 * Use it to reject garbage path parameters before touching the store. */
int id_valid(const char *s, const char *prefix);

#endif
