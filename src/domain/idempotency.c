/*
 * idempotency.c - Idempotency-Key records (see idempotency.h).
 */
#include "domain/idempotency.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto/hash.h"
#include "store/store.h"

int idem_key_valid(const char *key)
{
    size_t n = key ? strnlen(key, IDEM_KEY_MAX + 1) : 0;
    if (n < 1 || n > IDEM_KEY_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)key[i] < 0x21 || (unsigned char)key[i] > 0x7E)
            return 0;
    return 1;
}

void idem_init(struct idem *i, const char *scope, const char *key, const char *method, const char *route,
               const char *body, size_t body_len)
{
    crypto_hash_sha256_state st;
    /* Length-prefixed parts: "POST" + "/a" + "b" and "POST" + "/ab" + "" must differ. */
    const char *parts[3] = {method, route, body};
    size_t lens[3] = {strlen(method), strlen(route), body_len};

    memset(i, 0, sizeof *i);
    snprintf(i->scope, sizeof i->scope, "%s", scope);
    snprintf(i->key, sizeof i->key, "%s", key);
    crypto_hash_sha256_init(&st);
    for (int k = 0; k < 3; k++) {
        unsigned char len8[8];
        uint64_t n = lens[k];
        for (int b = 0; b < 8; b++)
            len8[b] = (unsigned char)(n >> (8 * b));
        crypto_hash_sha256_update(&st, len8, sizeof len8);
        crypto_hash_sha256_update(&st, (const unsigned char *)parts[k], lens[k]);
    }
    crypto_hash_sha256_final(&st, i->request_hash);
}

void idem_clear(struct idem *i)
{
    free(i->body);
    i->body = NULL;
    i->replay = i->mismatch = 0;
    i->status = 0;
}

void idem_copy(struct idem *dst, const struct idem *src)
{
    memset(dst, 0, sizeof *dst);
    memcpy(dst->scope, src->scope, sizeof dst->scope);
    memcpy(dst->key, src->key, sizeof dst->key);
    memcpy(dst->request_hash, src->request_hash, sizeof dst->request_hash);
}

enum store_rc idem_check_tx(struct store *s, struct idem *i)
{
    struct idem_record rec;
    idem_clear(i);
    enum store_rc rc = store_idem_get(s, i->scope, i->key, &rec);
    if (rc == STORE_NOTFOUND)
        return STORE_OK;
    if (rc != STORE_OK)
        return rc;
    if (ct_equal(rec.request_hash, i->request_hash, sizeof rec.request_hash)) {
        i->replay = 1;
        i->status = rec.status;
        i->body = rec.body; /* moved */
        rec.body = NULL;
    } else {
        i->mismatch = 1;
    }
    store_idem_free(&rec);
    return STORE_OK;
}

enum store_rc idem_replace_tx(struct store *s, const struct idem *i, int status, const char *body, int64_t now_ms)
{
    enum store_rc rc = store_idem_delete(s, i->scope, i->key);
    if (rc != STORE_OK && rc != STORE_NOTFOUND)
        return rc;
    return idem_save_tx(s, i, status, body, now_ms);
}

enum store_rc idem_forget_tx(struct store *s, const struct idem *i)
{
    enum store_rc rc = store_idem_delete(s, i->scope, i->key);
    return rc == STORE_NOTFOUND ? STORE_OK : rc;
}

enum store_rc idem_save_tx(struct store *s, const struct idem *i, int status, const char *body,
                           int64_t now_ms)
{
    struct idem_record rec;
    memset(&rec, 0, sizeof rec);
    memcpy(rec.request_hash, i->request_hash, sizeof rec.request_hash);
    rec.status = status;
    rec.body = (char *)(uintptr_t)body; /* borrowed: idem_put only reads it */
    rec.created_at = now_ms;
    return store_idem_put(s, i->scope, i->key, &rec);
}
