/*
 * apikeys.h - API keys (DESIGN section 5): minting, listing, revoking.
 *
 * A key is "tg_live_" + 32 random bytes in base62 (43 chars). Only its SHA-256 is stored:
 * the full key is handed out once, when it is made. A user holds at most
 * APIKEYS_MAX_ACTIVE active keys. Minting is refused unless the session that asks is still
 * current (the account enabled and its epoch the token's), checked in the same transaction
 * that stores the key: a token from before a logout or password change cannot mint a
 * permanent credential.
 */
#ifndef TG_DOMAIN_APIKEYS_H
#define TG_DOMAIN_APIKEYS_H

#include <stddef.h>
#include <stdint.h>

#include "core/types.h"

struct store_exec;

#define APIKEYS_PREFIX "tg_live_"
#define APIKEYS_RANDOM_BYTES 32
/* ceil(256 / log2(62)) = 43 base62 digits hold 32 bytes. */
#define APIKEYS_RANDOM_CHARS 43
#define APIKEYS_LEN (8 + APIKEYS_RANDOM_CHARS)
/* Characters shown in lists: "tg_live_" + 4, enough to tell keys apart, useless to guess. */
#define APIKEYS_SHOWN 12
/* Active keys per user: generous for real use, bounds what one account can store. */
#define APIKEYS_MAX_ACTIVE 20

enum apikeys_rc {
    APIKEYS_OK = 0,
    APIKEYS_LIMIT,       /* APIKEYS_MAX_ACTIVE active keys already */
    APIKEYS_STALE,       /* the session is no longer current (logout, password change, disabled) */
    APIKEYS_NOTFOUND,    /* revoke: not the user's active key */
    APIKEYS_UNAVAILABLE, /* busy or cannot write: 503 */
    APIKEYS_ERROR,
};

struct apikeys_created {
    enum apikeys_rc rc;
    struct api_key key;           /* stored form (id, name, prefix, created_at) */
    char secret[APIKEYS_LEN + 1]; /* the key itself: shown once, wiped after the callback */
};
typedef void (*apikeys_create_fn)(void *arg, const struct apikeys_created *res);

/*
 * Mints a key named `name` (already normalized, 1..TG_NAME_MAX bytes) for user_id, whose
 * session carries token_epoch (-1: an API key is asking, which api/ refuses before this).
 * Writes the "api_key.created" audit row in the same transaction.
 */
void apikeys_create(struct store_exec *ex, const char *user_id, int64_t token_epoch, const char *name,
                    const char *ip, const char *request_id, int64_t now_ms, apikeys_create_fn cb, void *arg);

typedef void (*apikeys_list_fn)(void *arg, enum apikeys_rc rc, const struct api_key *keys, size_t n);
/* The user's active keys, newest first. */
void apikeys_list(struct store_exec *ex, const char *user_id, apikeys_list_fn cb, void *arg);

typedef void (*apikeys_rc_fn)(void *arg, enum apikeys_rc rc);
/* Revokes key_id if it is the user's active key (audit row "api_key.revoked" in the same
 * transaction). */
void apikeys_revoke(struct store_exec *ex, const char *user_id, const char *key_id, const char *ip,
                    const char *request_id, int64_t now_ms, apikeys_rc_fn cb, void *arg);

#endif
