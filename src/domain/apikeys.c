/*
 * apikeys.c - API keys (see apikeys.h).
 */
#include "domain/apikeys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/errors.h"
#include "core/ids.h"
#include "core/log.h"
#include "core/mem.h"
#include "crypto/encode.h"
#include "crypto/hash.h"
#include "crypto/random.h"
#include "domain/audit.h"
#include "store/call.h"
#include "store/store.h"

static enum apikeys_rc apikeys_from_store(enum store_rc rc)
{
    switch (rc) {
    case STORE_OK:
        return APIKEYS_OK;
    case STORE_NOTFOUND:
        return APIKEYS_NOTFOUND;
    case STORE_BUSY:
    case STORE_UNAVAILABLE:
        return APIKEYS_UNAVAILABLE;
    case STORE_CONFLICT:
        return APIKEYS_STALE;
    case STORE_INSUFFICIENT:
        return APIKEYS_LIMIT;
    default:
        return APIKEYS_ERROR;
    }
}

/* ---- create ---- */

struct create_call {
    struct store_call call;
    int64_t token_epoch;
    struct audit_origin from;
    int64_t now_ms;
    struct apikeys_created res;
    apikeys_create_fn cb;
    void *arg;
};

static enum store_rc create_run(struct store *s, struct store_call *c)
{
    struct create_call *a = (struct create_call *)c;
    struct user u;
    int64_t active = 0;
    char *details = NULL;

    enum store_rc rc = store_user_get(s, a->res.key.user_id, &u);
    if (rc == STORE_NOTFOUND)
        return STORE_CONFLICT;
    if (rc != STORE_OK)
        return rc;
    if (u.disabled || u.auth_epoch != a->token_epoch)
        return STORE_CONFLICT;
    /* Counted and inserted in one transaction: two concurrent creations serialize here. */
    rc = store_api_key_count_active(s, u.id, &active);
    if (rc != STORE_OK)
        return rc;
    if (active >= APIKEYS_MAX_ACTIVE)
        return STORE_INSUFFICIENT;
    rc = store_api_key_insert(s, &a->res.key);
    if (rc != STORE_OK)
        return rc == STORE_DUPLICATE ? STORE_ERROR : rc; /* 256 random bits do not collide */
    json_t *dj = json_pack("{s:s, s:s}", "name", a->res.key.name, "prefix", a->res.key.prefix);
    details = dj ? json_dumps(dj, JSON_COMPACT) : NULL;
    json_decref(dj);
    if (details == NULL)
        return STORE_ERROR;
    struct audit_entry e;
    audit_entry_fill(&e, u.id, "api_key.created", "api_key", a->res.key.id, a->from.ip, a->from.request_id,
                     details, a->now_ms);
    rc = store_audit_insert(s, &e);
    free(details);
    return rc;
}

static void create_done(struct store_call *c)
{
    struct create_call *a = (struct create_call *)c;
    a->res.rc = apikeys_from_store(c->rc);
    if (a->res.rc == APIKEYS_ERROR)
        log_event(LOG_ERROR, "api_key_create_failed", "rc", store_rc_name(c->rc), NULL);
    if (a->res.rc != APIKEYS_OK)
        explicit_bzero(a->res.secret, sizeof a->res.secret);
    a->cb(a->arg, &a->res);
    explicit_bzero(a, sizeof *a);
    free(a);
}

void apikeys_create(struct store_exec *ex, const char *user_id, int64_t token_epoch, const char *name,
                    const char *ip, const char *request_id, int64_t now_ms, apikeys_create_fn cb, void *arg)
{
    unsigned char rnd[APIKEYS_RANDOM_BYTES];
    struct create_call *a = xcalloc(1, sizeof *a);

    rand_bytes(rnd, sizeof rnd);
    memcpy(a->res.secret, APIKEYS_PREFIX, 8);
    /* 62^43 > 2^256: 32 bytes always fit, so this cannot fail. */
    if (NEVER(base62_encode(rnd, sizeof rnd, a->res.secret + 8, APIKEYS_RANDOM_CHARS) != 0)) {
        explicit_bzero(rnd, sizeof rnd);
        a->res.rc = APIKEYS_ERROR;
        cb(arg, &a->res);
        free(a);
        return;
    }
    explicit_bzero(rnd, sizeof rnd);
    a->res.secret[APIKEYS_LEN] = '\0';
    id_new(a->res.key.id, "key");
    snprintf(a->res.key.user_id, sizeof a->res.key.user_id, "%s", user_id);
    snprintf(a->res.key.name, sizeof a->res.key.name, "%s", name);
    memcpy(a->res.key.prefix, a->res.secret, APIKEYS_SHOWN);
    a->res.key.prefix[APIKEYS_SHOWN] = '\0';
    sha256(a->res.secret, APIKEYS_LEN, a->res.key.hash);
    a->res.key.created_at = now_ms;
    a->token_epoch = token_epoch;
    audit_origin_set(&a->from, ip, request_id);
    a->now_ms = now_ms;
    a->cb = cb;
    a->arg = arg;
    store_exec_call(ex, &a->call, STORE_CALL_WRITE, create_run, create_done);
}

/* ---- list ---- */

struct list_call {
    struct store_call call;
    char user_id[TG_ID_MAX];
    struct api_key *keys;
    size_t n;
    apikeys_list_fn cb;
    void *arg;
};

static enum store_rc list_run(struct store *s, struct store_call *c)
{
    struct list_call *a = (struct list_call *)c;
    free(a->keys);
    a->keys = NULL;
    a->n = 0;
    return store_api_key_list(s, a->user_id, &a->keys, &a->n);
}

static void list_done(struct store_call *c)
{
    struct list_call *a = (struct list_call *)c;
    enum apikeys_rc rc = c->rc == STORE_NOTFOUND ? APIKEYS_ERROR : apikeys_from_store(c->rc);
    a->cb(a->arg, rc, rc == APIKEYS_OK ? a->keys : NULL, rc == APIKEYS_OK ? a->n : 0);
    free(a->keys);
    free(a);
}

void apikeys_list(struct store_exec *ex, const char *user_id, apikeys_list_fn cb, void *arg)
{
    struct list_call *a = xcalloc(1, sizeof *a);
    snprintf(a->user_id, sizeof a->user_id, "%s", user_id);
    a->cb = cb;
    a->arg = arg;
    store_exec_call(ex, &a->call, STORE_CALL_READ, list_run, list_done);
}

/* ---- revoke ---- */

struct revoke_call {
    struct store_call call;
    char user_id[TG_ID_MAX];
    char key_id[TG_ID_MAX];
    struct audit_origin from;
    int64_t now_ms;
    apikeys_rc_fn cb;
    void *arg;
};

static enum store_rc revoke_run(struct store *s, struct store_call *c)
{
    struct revoke_call *a = (struct revoke_call *)c;
    enum store_rc rc = store_api_key_revoke(s, a->user_id, a->key_id, a->now_ms);
    if (rc != STORE_OK)
        return rc;
    struct audit_entry e;
    audit_entry_fill(&e, a->user_id, "api_key.revoked", "api_key", a->key_id, a->from.ip, a->from.request_id,
                     NULL, a->now_ms);
    return store_audit_insert(s, &e);
}

static void revoke_done(struct store_call *c)
{
    struct revoke_call *a = (struct revoke_call *)c;
    enum apikeys_rc rc = apikeys_from_store(c->rc);
    if (rc == APIKEYS_ERROR)
        log_event(LOG_ERROR, "api_key_revoke_failed", "rc", store_rc_name(c->rc), NULL);
    a->cb(a->arg, rc);
    free(a);
}

void apikeys_revoke(struct store_exec *ex, const char *user_id, const char *key_id, const char *ip,
                    const char *request_id, int64_t now_ms, apikeys_rc_fn cb, void *arg)
{
    struct revoke_call *a = xcalloc(1, sizeof *a);
    snprintf(a->user_id, sizeof a->user_id, "%s", user_id);
    snprintf(a->key_id, sizeof a->key_id, "%s", key_id);
    audit_origin_set(&a->from, ip, request_id);
    a->now_ms = now_ms;
    a->cb = cb;
    a->arg = arg;
    store_exec_call(ex, &a->call, STORE_CALL_WRITE, revoke_run, revoke_done);
}
