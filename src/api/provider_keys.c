/*
 * provider_keys.c - the key pools of the generation providers, for admins (AUTH_ADMIN):
 *   GET  /api/v1/admin/provider-keys                 every key with its health and counters
 *   POST /api/v1/admin/provider-keys                 {"provider","key","label"?}: add a key
 *   POST /api/v1/admin/provider-keys/{id}/disable    {"reason"}: stop using it
 *   POST /api/v1/admin/provider-keys/{id}/enable     use it again, healthy
 *
 * A secret is taken once, sealed at once (domain/keypool.h) and never shown again: answers
 * carry its prefix only. Health comes from what the dispatcher publishes (wait-free: never a
 * lock the dispatcher holds); changes reach the dispatcher when it reloads the keys from the
 * store, every few seconds. Every change writes an audit row in its own transaction.
 */
#include "api/api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/ids.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "domain/accounts.h"
#include "domain/audit.h"
#include "domain/keypool.h"

/* The longest reason an admin may give (the stored field holds 127 bytes). */
#define PKEY_REASON_MAX 120

static json_t *str_or_null(const char *s) { return s != NULL && s[0] != '\0' ? json_string(s) : json_null(); }

/* The key as admins see it: the row, with the pool's published health over it. */
static json_t *pkey_json(const struct provider_key *k, int64_t now)
{
    char ts[32];
    struct keypool_view v;
    keypool_view(k, now, &v);
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:I, s:o, s:I, s:I, s:o, s:o, s:s}", "id", k->id,
                     "provider", k->provider, "label", k->label, "prefix", k->prefix, "source", k->source, "status",
                     keypool_status_name(v.status), "disabled_reason", str_or_null(v.disabled_reason),
                     "consecutive_errors", (json_int_t)v.consecutive_errors, "available_at",
                     api_time_or_null(v.available_at), "uses", (json_int_t)v.uses, "failures", (json_int_t)v.failures,
                     "last_used_at", api_time_or_null(v.last_used_at), "last_error", str_or_null(v.last_error),
                     "created_at", time_rfc3339(k->created_at, ts));
}

/* ---- GET ---- */

struct pkey_list {
    struct api_call base;
    struct provider_key *keys;
    size_t n;
};

static enum store_rc pkey_list_run(struct store *s, struct store_call *c)
{
    struct pkey_list *l = (struct pkey_list *)c;
    free(l->keys);
    l->keys = NULL;
    l->n = 0;
    return store_pkey_list(s, NULL, &l->keys, &l->n);
}

static void pkey_list_reply(struct req *r, struct api_call *c)
{
    struct pkey_list *l = (struct pkey_list *)c;
    if (c->call.rc != STORE_OK) {
        api_reply_store(r, c->call.rc == STORE_NOTFOUND ? STORE_ERROR : c->call.rc, "provider_keys_list");
        return;
    }
    int64_t now = time_now_ms();
    json_t *data = json_array();
    for (size_t i = 0; i < l->n; i++)
        json_array_append_new(data, pkey_json(&l->keys[i], now));
    res_json(r, 200, json_pack("{s:o}", "data", data));
}

static void pkey_list_cleanup(struct api_call *c)
{
    struct pkey_list *l = (struct pkey_list *)c;
    if (l->keys != NULL)
        sodium_memzero(l->keys, l->n * sizeof *l->keys);
    free(l->keys);
}

void api_admin_provider_keys_list(struct req *r)
{
    struct pkey_list *l = api_call_new(r, sizeof *l, STORE_CALL_READ);
    api_submit(r, &l->base, pkey_list_run, pkey_list_reply, pkey_list_cleanup);
}

/* ---- the changes: add, disable, enable ---- */

enum pkey_op { PKEY_ADD, PKEY_DISABLE, PKEY_ENABLE };

struct pkey_change {
    struct api_call base;
    enum pkey_op op;
    struct provider_key key; /* add: the new row; else: the row after the change */
    char id[TG_ID_MAX];
    char reason[PKEY_REASON_MAX + 1];
    char actor_id[TG_ID_MAX];
    struct audit_origin from;
    int64_t now;
};

static enum store_rc pkey_change_run(struct store *s, struct store_call *c)
{
    struct pkey_change *p = (struct pkey_change *)c;
    static const char *const actions[] = {"provider_key.add", "provider_key.disable", "provider_key.enable"};
    enum store_rc rc;
    json_t *dj;

    if (p->op == PKEY_ADD) {
        rc = store_pkey_insert(s, &p->key);
        if (rc != STORE_OK)
            return rc == STORE_DUPLICATE ? STORE_ERROR : rc; /* a fresh random id */
        dj = json_pack("{s:s, s:s, s:s}", "provider", p->key.provider, "label", p->key.label, "prefix",
                       p->key.prefix);
    } else {
        int disable = p->op == PKEY_DISABLE;
        rc = store_pkey_set_disabled(s, p->id, disable, disable ? p->reason : "", p->now);
        if (rc != STORE_OK)
            return rc;
        rc = store_pkey_get(s, p->id, &p->key);
        if (rc != STORE_OK)
            return rc;
        dj = disable ? json_pack("{s:s, s:s}", "provider", p->key.provider, "reason", p->reason)
                     : json_pack("{s:s}", "provider", p->key.provider);
    }
    char *details = dj ? json_dumps(dj, JSON_COMPACT) : NULL;
    json_decref(dj);
    if (details == NULL)
        return STORE_ERROR;
    struct audit_entry e;
    audit_entry_fill(&e, p->actor_id, actions[p->op], "provider_key", p->op == PKEY_ADD ? p->key.id : p->id,
                     p->from.ip, p->from.request_id, details, p->now);
    rc = store_audit_insert(s, &e);
    free(details); /* borrowed by e until the insert */
    return rc;
}

static void pkey_change_reply(struct req *r, struct api_call *c)
{
    struct pkey_change *p = (struct pkey_change *)c;
    if (c->call.rc != STORE_OK) {
        if (c->call.rc == STORE_NOTFOUND)
            res_error(r, TG_E_NOT_FOUND, "No such provider key.", NULL);
        else
            api_reply_store(r, c->call.rc, "provider_key_change");
        return;
    }
    res_header(r, "cache-control", "no-store");
    res_json(r, p->op == PKEY_ADD ? 201 : 200, pkey_json(&p->key, time_now_ms()));
}

static void pkey_change_cleanup(struct api_call *c)
{
    struct pkey_change *p = (struct pkey_change *)c;
    sodium_memzero(&p->key, sizeof p->key);
}

static struct pkey_change *pkey_change_new(struct req *r, enum pkey_op op)
{
    struct pkey_change *p = api_call_new(r, sizeof *p, STORE_CALL_WRITE);
    p->op = op;
    snprintf(p->actor_id, sizeof p->actor_id, "%s", req_principal(r)->user_id);
    audit_origin_set(&p->from, req_client_ip(r), req_id(r));
    p->now = time_now_ms();
    return p;
}

void api_admin_provider_keys_add(struct req *r)
{
    static const char *const allowed[] = {"provider", "key", "label", NULL};
    struct jerr e;
    const char *provider = NULL, *secret = NULL, *raw_label = NULL, *why = NULL;
    char label[TG_NAME_MAX + 1] = "";

    json_t *body = req_json_or_reply(r);
    if (body == NULL)
        return;
    if (jv_only(body, allowed, &e) != 0 || jv_string(body, "provider", 1, 1, TG_PROVIDER_MAX - 1, &provider, &e) != 0 ||
        jv_string(body, "label", 0, 0, 4 * TG_NAME_MAX, &raw_label, &e) != 0) {
        api_reply_jerr(r, &e);
        return;
    }
    if (!keypool_provider_valid(provider)) {
        api_reply_field(r, TG_E_VALIDATION, "provider", "provider: must be \"dashscope\", \"kie\" or \"gemini\"");
        return;
    }
    /* The key's own text is never quoted back, not even in an error. */
    json_t *jk = json_object_get(body, "key");
    secret = json_string_value(jk);
    if (secret == NULL || !keypool_secret_valid(secret, json_string_length(jk))) {
        api_reply_field(r, TG_E_VALIDATION, "key",
                        "key: must be the provider's API key, 8 to 512 characters of A-Z a-z 0-9 - _ . ~ + / = :");
        return;
    }
    if (raw_label != NULL && accounts_display_name_normalize(raw_label, label, &why) != 0) {
        api_reply_field(r, TG_E_VALIDATION, "label", why ? why : "label: not a valid label");
        return;
    }

    struct provider_key k;
    int64_t now = time_now_ms();
    memset(&k, 0, sizeof k);
    id_new_at(k.id, "pk", now);
    snprintf(k.provider, sizeof k.provider, "%s", provider);
    snprintf(k.label, sizeof k.label, "%s", label);
    keypool_prefix(secret, k.prefix);
    snprintf(k.source, sizeof k.source, "admin");
    long n = keypool_seal(k.id, secret, json_string_length(jk), k.secret_box, sizeof k.secret_box);
    if (NEVER(n < 0)) { /* the length was checked above */
        res_error(r, TG_E_INTERNAL, NULL, NULL);
        return;
    }
    k.secret_box_len = (size_t)n;
    k.created_at = k.updated_at = now;
    struct pkey_change *p = pkey_change_new(r, PKEY_ADD);
    p->key = k;
    p->now = now;
    sodium_memzero(&k, sizeof k);
    api_submit(r, &p->base, pkey_change_run, pkey_change_reply, pkey_change_cleanup);
}

/* The {id} of a key route, or NULL after answering 404 (garbage never reaches the store). */
static const char *pkey_id_or_reply(struct req *r)
{
    const char *id = req_param(r, "id");
    if (!id_valid(id, "pk")) {
        res_error(r, TG_E_NOT_FOUND, "No such provider key.", NULL);
        return NULL;
    }
    return id;
}

void api_admin_provider_key_disable(struct req *r)
{
    static const char *const allowed[] = {"reason", NULL};
    struct jerr e;
    const char *reason = NULL;
    const char *id = pkey_id_or_reply(r);
    if (id == NULL)
        return;
    json_t *body = req_json_or_reply(r);
    if (body == NULL)
        return;
    if (jv_only(body, allowed, &e) != 0 || jv_string(body, "reason", 1, 1, PKEY_REASON_MAX, &reason, &e) != 0) {
        api_reply_jerr(r, &e);
        return;
    }
    for (const char *c = reason; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7F) {
            api_reply_field(r, TG_E_VALIDATION, "reason", "reason: must not contain control characters");
            return;
        }
    struct pkey_change *p = pkey_change_new(r, PKEY_DISABLE);
    snprintf(p->id, sizeof p->id, "%s", id);
    snprintf(p->reason, sizeof p->reason, "%s", reason);
    api_submit(r, &p->base, pkey_change_run, pkey_change_reply, pkey_change_cleanup);
}

void api_admin_provider_key_enable(struct req *r)
{
    static const char *const allowed[] = {NULL};
    int empty;
    const char *id = pkey_id_or_reply(r);
    if (id == NULL)
        return;
    if (api_optional_body_or_reply(r, allowed, &empty) == NULL && !empty)
        return;
    struct pkey_change *p = pkey_change_new(r, PKEY_ENABLE);
    snprintf(p->id, sizeof p->id, "%s", id);
    api_submit(r, &p->base, pkey_change_run, pkey_change_reply, pkey_change_cleanup);
}
