/*
 * apikeys.c - GET, POST /api/v1/api-keys and DELETE /api/v1/api-keys/{id}.
 *
 * The rules (format, ceiling, that the asking session must still be current) live in
 * domain/apikeys.c. Managing keys needs a signed-in session (not an API key), so a leaked
 * key cannot mint others.
 */
#include "api/api.h"

#include <stdlib.h>
#include <string.h>

#include "core/ids.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "domain/accounts.h"
#include "domain/apikeys.h"

static json_t *apikey_json(const struct api_key *k)
{
    char ts[32];
    return json_pack("{s:s, s:s, s:s, s:s, s:o}", "id", k->id, "name", k->name, "prefix", k->prefix,
                     "created_at", time_rfc3339(k->created_at, ts), "last_used_at",
                     api_time_or_null(k->last_used_at));
}

/* Replies for a failed domain result. */
static void apikeys_reply_error(struct req *r, enum apikeys_rc rc)
{
    switch (rc) {
    case APIKEYS_LIMIT:
        res_error(r, TG_E_UNPROCESSABLE, "You have 20 active API keys; revoke one before creating another.",
                  NULL);
        break;
    case APIKEYS_STALE:
        /* Signed out, password changed or disabled since the token was issued. */
        res_error(r, TG_E_INVALID_TOKEN, NULL, NULL);
        break;
    case APIKEYS_NOTFOUND:
        res_error(r, TG_E_NOT_FOUND, NULL, NULL);
        break;
    case APIKEYS_UNAVAILABLE:
        res_error(r, TG_E_UNAVAILABLE, NULL, NULL);
        break;
    default:
        res_error(r, TG_E_INTERNAL, NULL, NULL);
        break;
    }
}

static void list_done(void *arg, enum apikeys_rc rc, const struct api_key *keys, size_t n)
{
    struct req *r = req_ref_take(arg);
    if (r == NULL)
        return;
    if (rc != APIKEYS_OK) {
        apikeys_reply_error(r, rc);
        return;
    }
    json_t *data = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(data, apikey_json(&keys[i]));
    res_json(r, 200, json_pack("{s:o}", "data", data));
}

void api_apikeys_list(struct req *r)
{
    if (api_require_session_or_reply(r) != 0)
        return;
    apikeys_list(req_exec(r), req_principal(r)->user_id, list_done, req_ref_new(r));
}

static void create_done(void *arg, const struct apikeys_created *res)
{
    char ts[32];
    struct req *r = req_ref_take(arg);
    if (r == NULL)
        return;
    if (res->rc != APIKEYS_OK) {
        apikeys_reply_error(r, res->rc);
        return;
    }
    json_t *reply =
        json_pack("{s:s, s:s, s:s, s:s, s:s}", "id", res->key.id, "name", res->key.name, "prefix",
                  res->key.prefix, "key", res->secret, "created_at", time_rfc3339(res->key.created_at, ts));
    /* The only time the key is ever shown: make sure nothing caches it. */
    res_header(r, "cache-control", "no-store");
    res_json(r, 201, reply);
}

void api_apikeys_create(struct req *r)
{
    static const char *const allowed[] = {"name", NULL};
    struct jerr e;
    const char *raw, *why;
    char name[TG_NAME_MAX + 1];
    json_t *body;

    if (api_require_session_or_reply(r) != 0)
        return;
    body = req_json_or_reply(r);
    if (body == NULL)
        return;
    if (jv_only(body, allowed, &e) != 0 || jv_string(body, "name", 1, 1, 4 * TG_NAME_MAX, &raw, &e) != 0) {
        api_reply_jerr(r, &e);
        return;
    }
    if (accounts_display_name_normalize(raw, name, &why) != 0 || name[0] == '\0') {
        api_reply_field(r, TG_E_VALIDATION, "name", why ? why : "name: must not be empty");
        return;
    }
    const struct principal *p = req_principal(r);
    apikeys_create(req_exec(r), p->user_id, p->epoch, name, req_client_ip(r), req_id(r), time_now_ms(),
                   create_done, req_ref_new(r));
}

static void delete_done(void *arg, enum apikeys_rc rc)
{
    struct req *r = req_ref_take(arg);
    if (r == NULL)
        return;
    if (rc != APIKEYS_OK) {
        apikeys_reply_error(r, rc);
        return;
    }
    res_empty(r, 204);
}

void api_apikeys_delete(struct req *r)
{
    const char *id = req_param(r, "id");

    if (api_require_session_or_reply(r) != 0)
        return;
    /* Garbage ids cannot name a key: 404 without asking the store. */
    if (!id_valid(id, "key")) {
        res_error(r, TG_E_NOT_FOUND, NULL, NULL);
        return;
    }
    apikeys_revoke(req_exec(r), req_principal(r)->user_id, id, req_client_ip(r), req_id(r), time_now_ms(),
                   delete_done, req_ref_new(r));
}
