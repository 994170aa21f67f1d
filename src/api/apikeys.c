/*
 * apikeys.c - GET, POST /api/v1/api-keys and DELETE /api/v1/api-keys/{id}.
 *
 * A key is "tg_live_" + 32 random bytes in base62 (43 chars, DESIGN section 5). Only its
 * SHA-256 is stored: the full key appears once, in the creation reply. Managing keys
 * needs a signed-in session (not an API key), so a leaked key cannot mint others.
 */
#include "api/api.h"

#include <stdlib.h>
#include <string.h>

#include "core/ids.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "crypto/encode.h"
#include "crypto/hash.h"
#include "crypto/random.h"
#include "domain/accounts.h"

#define APIKEY_PREFIX "tg_live_"
#define APIKEY_RANDOM_BYTES 32
/* ceil(256 / log2(62)) = 43 base62 digits hold 32 bytes. */
#define APIKEY_RANDOM_CHARS 43
#define APIKEY_LEN (8 + APIKEY_RANDOM_CHARS)
/* Characters shown in lists: "tg_live_" + 4, enough to tell keys apart, useless to guess. */
#define APIKEY_SHOWN 12
/* Active keys per user: generous for real use, bounds what one account can store. */
#define APIKEY_MAX_ACTIVE 20

static json_t *apikey_json(const struct api_key *k)
{
    char ts[32];
    return json_pack("{s:s, s:s, s:s, s:s, s:o}", "id", k->id, "name", k->name, "prefix", k->prefix,
                     "created_at", time_rfc3339(k->created_at, ts), "last_used_at",
                     api_time_or_null(k->last_used_at));
}

void api_apikeys_list(struct req *r)
{
    struct api_key *keys = NULL;
    size_t n = 0;

    if (api_require_session_or_reply(r) != 0)
        return;
    enum store_rc rc = store_api_key_list(req_store(r), req_principal(r)->user_id, &keys, &n);
    if (rc != STORE_OK) {
        api_reply_store(r, rc == STORE_NOTFOUND ? STORE_ERROR : rc, "api_key_list");
        goto cleanup;
    }
    json_t *data = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(data, apikey_json(&keys[i]));
    res_json(r, 200, json_pack("{s:o}", "data", data));

cleanup:
    free(keys);
}

void api_apikeys_create(struct req *r)
{
    static const char *const allowed[] = {"name", NULL};
    struct jerr e;
    struct api_key k;
    const char *raw, *why;
    char key[APIKEY_LEN + 1];
    unsigned char rnd[APIKEY_RANDOM_BYTES];
    int64_t now = time_now_ms();
    const char *user_id = req_principal(r)->user_id;
    json_t *body;

    memset(&k, 0, sizeof k);
    if (api_require_session_or_reply(r) != 0)
        return;
    body = req_json_or_reply(r);
    if (body == NULL)
        return;
    if (jv_only(body, allowed, &e) != 0 || jv_string(body, "name", 1, 1, 4 * TG_NAME_MAX, &raw, &e) != 0) {
        api_reply_jerr(r, &e);
        return;
    }
    if (accounts_display_name_normalize(raw, k.name, &why) != 0 || k.name[0] == '\0') {
        api_reply_field(r, TG_E_VALIDATION, "name", why ? why : "name: must not be empty");
        return;
    }

    rand_bytes(rnd, sizeof rnd);
    memcpy(key, APIKEY_PREFIX, 8);
    /* 62^43 > 2^256: 32 bytes always fit, so this cannot fail. */
    if (NEVER(base62_encode(rnd, sizeof rnd, key + 8, APIKEY_RANDOM_CHARS) != 0)) {
        res_error(r, TG_E_INTERNAL, NULL, NULL);
        goto cleanup;
    }
    key[APIKEY_LEN] = '\0';
    id_new(k.id, "key");
    snprintf(k.user_id, sizeof k.user_id, "%s", user_id);
    memcpy(k.prefix, key, APIKEY_SHOWN);
    k.prefix[APIKEY_SHOWN] = '\0';
    sha256(key, APIKEY_LEN, k.hash);
    k.created_at = now;
    enum store_rc rc = store_api_key_insert(req_store(r), &k, APIKEY_MAX_ACTIVE);
    if (rc == STORE_INSUFFICIENT) {
        res_error(r, TG_E_UNPROCESSABLE, "You have 20 active API keys; revoke one before creating another.",
                  NULL);
        goto cleanup;
    }
    if (rc != STORE_OK) {
        api_reply_store(r, rc == STORE_NOTFOUND ? STORE_ERROR : rc, "api_key_insert");
        goto cleanup;
    }
    api_audit(r, user_id, "api_key.created", "api_key", k.id,
              json_pack("{s:s, s:s}", "name", k.name, "prefix", k.prefix));

    char ts[32];
    json_t *reply = json_pack("{s:s, s:s, s:s, s:s, s:s}", "id", k.id, "name", k.name, "prefix", k.prefix,
                              "key", key, "created_at", time_rfc3339(k.created_at, ts));
    /* The only time the key is ever shown: make sure nothing caches it. */
    res_header(r, "cache-control", "no-store");
    res_json(r, 201, reply);

cleanup:
    explicit_bzero(key, sizeof key);
    explicit_bzero(rnd, sizeof rnd);
}

void api_apikeys_delete(struct req *r)
{
    const char *id = req_param(r, "id");
    const char *user_id = req_principal(r)->user_id;

    if (api_require_session_or_reply(r) != 0)
        return;
    /* Garbage ids cannot name a key: 404 without asking the store. */
    if (!id_valid(id, "key")) {
        res_error(r, TG_E_NOT_FOUND, NULL, NULL);
        return;
    }
    enum store_rc rc = store_api_key_revoke(req_store(r), user_id, id, time_now_ms());
    if (rc != STORE_OK) {
        api_reply_store(r, rc, "api_key_revoke");
        return;
    }
    api_audit(r, user_id, "api_key.revoked", "api_key", id, NULL);
    res_empty(r, 204);
}
