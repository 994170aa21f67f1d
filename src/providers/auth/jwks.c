/*
 * jwks.c - JWKS parsing, Cache-Control parsing and the key-set cache policy (see jwks.h).
 */
#include "providers/auth/jwks.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/mem.h"

const char *jwks_rc_name(enum jwks_rc rc)
{
    switch (rc) {
    case JWKS_OK:
        return "ok";
    case JWKS_MALFORMED:
        return "malformed";
    case JWKS_TOO_LARGE:
        return "too_large";
    case JWKS_NO_KEYS:
        return "no_keys";
    }
    return "unknown";
}

/* 1 when member `name` of o is absent, or a string exactly equal to want. */
static int absent_or_eq(const json_t *o, const char *name, const char *want)
{
    const json_t *v = json_object_get(o, name);
    size_t n = strlen(want);
    if (v == NULL)
        return 1;
    return json_is_string(v) && json_string_length(v) == n && memcmp(json_string_value(v), want, n) == 0;
}

/* 1 when v is a string of 1..JWT_KID_MAX printable ASCII characters. */
static int kid_ok(const json_t *v)
{
    size_t n;
    const char *s;
    if (!json_is_string(v))
        return 0;
    n = json_string_length(v);
    s = json_string_value(v);
    if (n == 0 || n > JWT_KID_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
            return 0;
    return 1;
}

static void set_free(struct jwks_set *s)
{
    for (size_t i = 0; i < s->n; i++)
        rsa_key_free(s->keys[i].key);
    free(s);
}

enum jwks_rc jwks_parse(const char *body, size_t len, struct jwks_set **out, size_t *ignored)
{
    json_t *doc = NULL;
    const json_t *keys;
    struct jwks_set *s = NULL;
    enum jwks_rc rc = JWKS_TOO_LARGE;
    size_t skipped = 0, i;

    *out = NULL;
    if (len > JWKS_MAX_BYTES)
        goto cleanup;
    rc = JWKS_MALFORMED;
    if (body == NULL)
        goto cleanup;
    doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
    keys = json_object_get(doc, "keys");
    if (!json_is_object(doc) || !json_is_array(keys))
        goto cleanup;
    if (json_array_size(keys) > JWKS_MAX_KEYS) {
        rc = JWKS_TOO_LARGE;
        goto cleanup;
    }
    s = xcalloc(1, sizeof *s);
    atomic_init(&s->refs, 1);
    for (i = 0; i < json_array_size(keys); i++) {
        const json_t *k = json_array_get(keys, i), *kid, *n, *e;
        struct rsa_key *key = NULL;
        if (!json_is_object(k))
            goto cleanup;
        kid = json_object_get(k, "kid");
        n = json_object_get(k, "n");
        e = json_object_get(k, "e");
        /* Keys for other algorithms or uses are not ours to verify with: skipped, so that a
         * provider adding an EC or encryption key does not break sign-in. */
        if (!absent_or_eq(k, "kty", "RSA") || json_object_get(k, "kty") == NULL || !absent_or_eq(k, "alg", "RS256") ||
            !absent_or_eq(k, "use", "sig") || !kid_ok(kid) || !json_is_string(n) || !json_is_string(e) ||
            rsa_pub_from_jwk(json_string_value(n), json_string_length(n), json_string_value(e), json_string_length(e),
                             &key) != RSA_OK) {
            skipped++;
            continue;
        }
        if (jwks_find(s, json_string_value(kid)) != NULL) {
            rsa_key_free(key);
            goto cleanup;
        }
        memcpy(s->keys[s->n].kid, json_string_value(kid), json_string_length(kid) + 1);
        s->keys[s->n].key = key;
        s->n++;
    }
    rc = s->n > 0 ? JWKS_OK : JWKS_NO_KEYS;
    if (rc == JWKS_OK) {
        *out = s;
        s = NULL;
    }

cleanup:
    if (s != NULL)
        set_free(s);
    json_decref(doc);
    if (ignored != NULL)
        *ignored = skipped;
    return rc;
}

const struct rsa_key *jwks_find(const struct jwks_set *s, const char *kid)
{
    if (s == NULL || kid == NULL)
        return NULL;
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->keys[i].kid, kid) == 0)
            return s->keys[i].key;
    return NULL;
}

void jwks_set_ref(struct jwks_set *s)
{
    if (s != NULL)
        atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
}

void jwks_set_unref(struct jwks_set *s)
{
    /* acq_rel: the thread that frees sees every other thread's reads of the set done. */
    if (s != NULL && atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) == 1)
        set_free(s);
}

int jwks_set_usable(const struct jwks_set *s, int64_t now_ms)
{
    return s != NULL && now_ms < s->expires_ms + JWKS_STALE_GRACE_MS;
}

/* ---- Cache-Control --------------------------------------------------------------------- */

/* RFC 9110 section 5.6.2 tchar. */
static int is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return 1;
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static int is_ows(unsigned char c) { return c == ' ' || c == '\t'; }

/* Case-insensitive comparison of a token (n bytes) with a lower-case name. */
static int token_is(const char *t, size_t n, const char *name)
{
    size_t m = strlen(name);
    if (n != m)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)t[i];
        if (c >= 'A' && c <= 'Z')
            c = (unsigned char)(c - 'A' + 'a');
        if (c != (unsigned char)name[i])
            return 0;
    }
    return 1;
}

/* Parses delta-seconds (1*DIGIT) from n bytes, saturating at 2^31 - 1. -1 if not digits. */
static int64_t delta_seconds(const char *s, size_t n)
{
    int64_t v = 0;
    if (n == 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
        if (v > 2147483647)
            v = 2147483647;
    }
    return v;
}

int cache_control_parse(const char *v, size_t len, struct cache_control *out)
{
    /* The unescaped text of a quoted max-age, which can only be digits worth keeping. */
    char qbuf[32];
    size_t i = 0;

    memset(out, 0, sizeof *out);
    out->max_age = -1;
    if (v == NULL)
        goto fail;
    for (;;) {
        size_t name_start, name_len, val_len = 0;
        const char *val = NULL;
        int quoted_too_long = 0;

        /* Empty list elements and blanks are allowed (RFC 9110 5.6.1). */
        while (i < len && (is_ows((unsigned char)v[i]) || v[i] == ','))
            i++;
        if (i == len)
            break;
        name_start = i;
        while (i < len && is_tchar((unsigned char)v[i]))
            i++;
        name_len = i - name_start;
        if (name_len == 0)
            goto fail;
        if (i < len && v[i] == '=') {
            i++;
            if (i < len && v[i] == '"') {
                size_t q = 0;
                i++;
                for (;;) {
                    unsigned char c;
                    if (i == len)
                        goto fail; /* unterminated */
                    c = (unsigned char)v[i++];
                    if (c == '"')
                        break;
                    if (c == '\\') {
                        if (i == len)
                            goto fail;
                        c = (unsigned char)v[i++];
                    }
                    /* qdtext / quoted-pair: HTAB, SP, VCHAR, obs-text; no other controls. */
                    if ((c < 0x20 && c != '\t') || c == 0x7f)
                        goto fail;
                    if (q < sizeof qbuf)
                        qbuf[q++] = (char)c;
                    else
                        quoted_too_long = 1;
                }
                val = qbuf;
                val_len = q;
            } else {
                size_t vs = i;
                while (i < len && is_tchar((unsigned char)v[i]))
                    i++;
                val = v + vs;
                val_len = i - vs;
                if (val_len == 0)
                    goto fail;
            }
        }
        if (token_is(v + name_start, name_len, "max-age")) {
            int64_t secs = -1;
            /* A quoted form is not what RFC 9111 asks senders to use, but is readable. */
            if (val != NULL && !quoted_too_long)
                secs = delta_seconds(val, val_len);
            if (secs < 0)
                goto fail;
            out->max_age = secs;
            out->n_max_age++;
        } else if (token_is(v + name_start, name_len, "no-store")) {
            out->no_store = 1;
        } else if (token_is(v + name_start, name_len, "no-cache")) {
            out->no_cache = 1;
        }
        while (i < len && is_ows((unsigned char)v[i]))
            i++;
        if (i == len)
            break;
        if (v[i] != ',')
            goto fail;
    }
    return 0;

fail:
    memset(out, 0, sizeof *out);
    out->max_age = -1;
    return -1;
}

int64_t jwks_ttl_s(const char *cache_control)
{
    struct cache_control cc;
    int64_t ttl;

    if (cache_control == NULL || cache_control_parse(cache_control, strlen(cache_control), &cc) != 0)
        return JWKS_TTL_MIN_S;
    /* Several max-age directives: RFC 9111 4.2.1 says to treat the response as stale. */
    if (cc.no_store || cc.no_cache || cc.n_max_age != 1)
        return JWKS_TTL_MIN_S;
    ttl = cc.max_age;
    if (ttl < JWKS_TTL_MIN_S)
        ttl = JWKS_TTL_MIN_S;
    if (ttl > JWKS_TTL_MAX_S)
        ttl = JWKS_TTL_MAX_S;
    return ttl;
}

/* ---- the cache ------------------------------------------------------------------------- */

enum jwks_plan jwks_cache_begin(struct jwks_cache *c, int64_t now_ms, struct jwks_set **set)
{
    enum jwks_plan plan = JWKS_FETCH;
    struct jwks_set *cur;

    pthread_mutex_lock(&c->mu);
    cur = c->cur;
    if (cur == NULL || !jwks_set_usable(cur, now_ms)) {
        cur = NULL;
    } else if (now_ms < cur->expires_ms) {
        plan = JWKS_USE;
    } else if (c->refresh_claimed_ms != 0 && now_ms - c->refresh_claimed_ms < JWKS_REFRESH_CLAIM_MS &&
               now_ms >= c->refresh_claimed_ms) {
        plan = JWKS_USE; /* stale, but someone is refreshing it */
    } else {
        c->refresh_claimed_ms = now_ms != 0 ? now_ms : 1;
    }
    jwks_set_ref(cur);
    pthread_mutex_unlock(&c->mu);
    *set = cur;
    return plan;
}

int jwks_cache_claim_unknown_kid(struct jwks_cache *c, int64_t now_ms)
{
    int ok = 0;
    pthread_mutex_lock(&c->mu);
    /* A clock that went backwards (now before the last claim) also allows a fetch: the
     * throttle must not lock us out for the size of the jump. */
    if (c->unknown_kid_ms == 0 || now_ms - c->unknown_kid_ms >= JWKS_UNKNOWN_KID_INTERVAL_MS ||
        now_ms < c->unknown_kid_ms) {
        c->unknown_kid_ms = now_ms != 0 ? now_ms : 1;
        ok = 1;
    }
    pthread_mutex_unlock(&c->mu);
    return ok;
}

void jwks_cache_install(struct jwks_cache *c, struct jwks_set *s, int64_t fetched_ms, int64_t ttl_s)
{
    struct jwks_set *old = NULL;

    /* The set is not shared yet (the caller built it), so its times can be set unlocked. */
    s->fetched_ms = fetched_ms;
    s->expires_ms = fetched_ms + ttl_s * 1000;
    pthread_mutex_lock(&c->mu);
    if (c->cur == NULL || c->cur->fetched_ms <= fetched_ms) {
        old = c->cur;
        jwks_set_ref(s);
        c->cur = s;
        c->fetches_installed++;
    }
    c->refresh_claimed_ms = 0;
    pthread_mutex_unlock(&c->mu);
    jwks_set_unref(old); /* outside the lock: freeing keys is not a pointer swap */
}

void jwks_cache_clear(struct jwks_cache *c)
{
    struct jwks_set *old;
    pthread_mutex_lock(&c->mu);
    old = c->cur;
    c->cur = NULL;
    c->refresh_claimed_ms = 0;
    c->unknown_kid_ms = 0;
    pthread_mutex_unlock(&c->mu);
    jwks_set_unref(old);
}
