/*
 * keypool.c - the key pools of the generation providers (see keypool.h).
 */
#include "domain/keypool.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/config.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "crypto/aesgcm.h"
#include "crypto/hash.h"
#include "crypto/random.h"
#include "store/store.h"

/* ---- names ---- */

static const struct {
    const char *name;
    const char *env;
} kp_providers[] = {
    {"dashscope", "TG_DASHSCOPE_API_KEYS"},
    {"kie", "TG_KIE_API_KEYS"},
    {"gemini", "TG_GEMINI_API_KEYS"},
};
#define KP_N_PROVIDERS (sizeof kp_providers / sizeof kp_providers[0])

const char *keypool_outcome_name(enum keypool_outcome o)
{
    static const char *const names[KEYPOOL__OUTCOMES] = {"ok", "error", "rate_limited", "rejected"};
    return (unsigned)o < KEYPOOL__OUTCOMES ? names[o] : "unknown";
}

const char *keypool_status_name(enum keypool_status s)
{
    switch (s) {
    case KEYPOOL_ST_HEALTHY:
        return "healthy";
    case KEYPOOL_ST_COOLING_DOWN:
        return "cooling_down";
    case KEYPOOL_ST_RATE_LIMITED:
        return "rate_limited";
    case KEYPOOL_ST_DISABLED:
        return "disabled";
    }
    return "unknown";
}

enum keypool_outcome keypool_outcome_of(enum gen_outcome o)
{
    switch (o) {
    case GEN_RETRY:
        return KEYPOOL_ERROR;
    case GEN_RATE_LIMITED:
        return KEYPOOL_RATE_LIMITED;
    case GEN_KEY_REJECTED:
        return KEYPOOL_REJECTED;
    case GEN_ACCEPTED:
    case GEN_RUNNING:
    case GEN_SUCCEEDED:
    case GEN_FAILED:
    case GEN_INVALID:
    case GEN_UNKNOWN_TASK:
        break;
    }
    return KEYPOOL_OK;
}

const char *keypool_provider_env(const char *name)
{
    for (size_t i = 0; name != NULL && i < KP_N_PROVIDERS; i++)
        if (strcmp(kp_providers[i].name, name) == 0)
            return kp_providers[i].env;
    return NULL;
}

int keypool_provider_valid(const char *name) { return keypool_provider_env(name) != NULL; }

int keypool_secret_valid(const char *secret, size_t len)
{
    if (secret == NULL || len < KEYPOOL_SECRET_MIN || len > TG_KEY_SECRET_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)secret[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              strchr("-_.~+/=:", c) != NULL) ||
            c == '\0')
            return 0;
    }
    return 1;
}

void keypool_prefix(const char *secret, char out[16])
{
    size_t n = strnlen(secret, KEYPOOL_PREFIX_CHARS);
    memcpy(out, secret, n);
    memcpy(out + n, "...", 4);
}

/* Copies text into out (KEYPOOL_TEXT_MAX): control bytes become blanks, and a cut never
 * splits a UTF-8 sequence. */
static void kp_text(char out[KEYPOOL_TEXT_MAX], const char *text)
{
    size_t n = 0;
    if (text != NULL) {
        n = strnlen(text, KEYPOOL_TEXT_MAX);
        if (n == KEYPOOL_TEXT_MAX) {
            n = KEYPOOL_TEXT_MAX - 1;
            while (n > 0 && ((unsigned char)text[n] & 0xC0) == 0x80)
                n--;
        }
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)text[i];
            out[i] = c < 0x20 || c == 0x7F ? ' ' : (char)c;
        }
    }
    out[n] = '\0';
}

/* ---- server keys and secrets ---- */

/* A key for one purpose derived from the server's secret, as the other derived keys are
 * (HMAC(secret, label): oauth.c, the sandbox providers). */
static void kp_server_key(const char *label, unsigned char out[32])
{
    hmac_sha256(tg_cfg->jwt_secret, tg_cfg->jwt_secret_len, label, strlen(label), out);
}

void keypool_env_key_id(const char *provider, const char *secret, char id_out[TG_ID_MAX])
{
    unsigned char key[32], mac[32];
    size_t plen = strlen(provider), slen = strlen(secret);
    unsigned char *msg = xmalloc(plen + 1 + slen);

    memcpy(msg, provider, plen);
    msg[plen] = 0;
    memcpy(msg + plen + 1, secret, slen);
    kp_server_key("tollgate provider key id v1", key);
    hmac_sha256(key, sizeof key, msg, plen + 1 + slen, mac);
    sodium_memzero(msg, plen + 1 + slen);
    free(msg);
    sodium_memzero(key, sizeof key);
    id_from_bytes(id_out, "pk", mac);
}

long keypool_seal(const char *id, const char *secret, size_t len, unsigned char *box, size_t cap)
{
    unsigned char key[32];
    long n;

    if (len == 0 || len > TG_KEY_SECRET_MAX || cap < len + KEYPOOL_BOX_OVERHEAD)
        return -1;
    rand_bytes(box, AESGCM_NONCE_LEN);
    kp_server_key("tollgate provider key seal v1", key);
    n = aesgcm_encrypt(key, sizeof key, box, AESGCM_NONCE_LEN, id, strlen(id), secret, len, box + AESGCM_NONCE_LEN,
                       cap - AESGCM_NONCE_LEN);
    sodium_memzero(key, sizeof key);
    return n < 0 ? -1 : n + AESGCM_NONCE_LEN;
}

long keypool_unseal(const char *id, const unsigned char *box, size_t box_len, char out[TG_KEY_SECRET_MAX + 1])
{
    unsigned char key[32];
    long n = -1;

    out[0] = '\0';
    if (box_len < KEYPOOL_BOX_OVERHEAD + 1 || box_len > TG_KEY_SECRET_MAX + KEYPOOL_BOX_OVERHEAD)
        return -1;
    kp_server_key("tollgate provider key seal v1", key);
    n = aesgcm_decrypt(key, sizeof key, box, AESGCM_NONCE_LEN, id, strlen(id), box + AESGCM_NONCE_LEN,
                       box_len - AESGCM_NONCE_LEN, out, TG_KEY_SECRET_MAX);
    sodium_memzero(key, sizeof key);
    if (n < 0 || memchr(out, '\0', (size_t)n) != NULL) {
        sodium_memzero(out, TG_KEY_SECRET_MAX + 1);
        return -1;
    }
    out[n] = '\0';
    return n;
}

/* ---- env keys ---- */

/* Calls fn for each entry of provider p's env list: its 1-based position, the text (NUL-
 * terminated, blanks trimmed; wiped after the call) and its length. Empty entries are
 * skipped without using up a position. */
typedef void (*kp_env_fn)(void *arg, size_t p, size_t pos, const char *secret, size_t len);
static void kp_env_each(size_t p, kp_env_fn fn, void *arg)
{
    const char *list = config_get(kp_providers[p].env);
    size_t pos = 0;
    if (list == NULL)
        return;
    for (const char *s = list; *s != '\0';) {
        const char *end = strchr(s, ',');
        if (end == NULL)
            end = s + strlen(s);
        const char *a = s, *b = end;
        while (a < b && (*a == ' ' || *a == '\t'))
            a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
            b--;
        if (b > a) {
            size_t len = (size_t)(b - a);
            char *one = xstrndup(a, len);
            pos++;
            fn(arg, p, pos, one, len);
            sodium_memzero(one, len);
            free(one);
        }
        s = *end == ',' ? end + 1 : end;
    }
}

struct kp_sync {
    struct store *s;
    int64_t now;
    enum store_rc rc;
};

static void kp_sync_one(void *arg, size_t p, size_t pos, const char *secret, size_t len)
{
    struct kp_sync *y = arg;
    struct provider_key k;
    char posbuf[24];

    if (y->rc != STORE_OK)
        return;
    if (!keypool_secret_valid(secret, len)) {
        snprintf(posbuf, sizeof posbuf, "%zu", pos);
        log_event(LOG_WARN, "provider_key_env_invalid", "variable", kp_providers[p].env, "position", posbuf,
                  "detail", "not an API key (8 to 512 of A-Z a-z 0-9 - _ . ~ + / = :); skipped", NULL);
        return;
    }
    memset(&k, 0, sizeof k);
    keypool_env_key_id(kp_providers[p].name, secret, k.id);
    enum store_rc rc = store_pkey_get(y->s, k.id, &k);
    if (rc == STORE_OK)
        return;
    if (rc != STORE_NOTFOUND) {
        y->rc = rc;
        return;
    }
    memset(&k, 0, sizeof k);
    keypool_env_key_id(kp_providers[p].name, secret, k.id);
    snprintf(k.provider, sizeof k.provider, "%s", kp_providers[p].name);
    snprintf(k.label, sizeof k.label, "env #%zu", pos);
    keypool_prefix(secret, k.prefix);
    snprintf(k.source, sizeof k.source, "env");
    k.created_at = k.updated_at = y->now;
    rc = store_pkey_insert(y->s, &k);
    if (rc != STORE_OK && rc != STORE_DUPLICATE) /* DUPLICATE: the same key twice in the list */
        y->rc = rc;
}

enum store_rc keypool_sync_env(struct store *s, int64_t now)
{
    struct kp_sync y = {s, now, STORE_OK};
    for (size_t p = 0; p < KP_N_PROVIDERS; p++)
        kp_env_each(p, kp_sync_one, &y);
    return y.rc;
}

/* ---- the published table ---- */

#define KP_ID_WORDS (TG_ID_MAX / 8)
#define KP_WORDS ((sizeof(struct keypool_health) + 7) / 8)

enum { KP_SLOT_FREE = 0, KP_SLOT_CLAIMING, KP_SLOT_READY };

struct kp_slot {
    _Atomic int state;
    _Atomic uint64_t idw[KP_ID_WORDS]; /* written once, before state becomes READY */
    _Atomic uint64_t seq;              /* odd while the owner writes w */
    _Atomic uint64_t w[KP_WORDS];      /* a struct keypool_health */
};

static struct kp_slot kp_slots[KEYPOOL_SLOTS];

static size_t kp_hash(const char *id)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (const char *p = id; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    return (size_t)(h % KEYPOOL_SLOTS);
}

static int kp_slot_is(struct kp_slot *s, const uint64_t want[KP_ID_WORDS])
{
    for (size_t i = 0; i < KP_ID_WORDS; i++)
        if (atomic_load_explicit(&s->idw[i], memory_order_relaxed) != want[i])
            return 0;
    return 1;
}

/* The slot of id; with claim, a new one when it has none (NULL when the table is full). */
static struct kp_slot *kp_slot_find(const char *id, int claim)
{
    uint64_t want[KP_ID_WORDS];
    memset(want, 0, sizeof want);
    memcpy(want, id, strnlen(id, TG_ID_MAX - 1));
    size_t h = kp_hash(id);
    for (size_t i = 0; i < KEYPOOL_SLOTS; i++) {
        struct kp_slot *s = &kp_slots[(h + i) % KEYPOOL_SLOTS];
        int st = atomic_load_explicit(&s->state, memory_order_acquire);
        if (st == KP_SLOT_FREE && claim) {
            int expect = KP_SLOT_FREE;
            if (atomic_compare_exchange_strong(&s->state, &expect, KP_SLOT_CLAIMING)) {
                for (size_t j = 0; j < KP_ID_WORDS; j++)
                    atomic_store_explicit(&s->idw[j], want[j], memory_order_relaxed);
                atomic_store_explicit(&s->state, KP_SLOT_READY, memory_order_release);
                return s;
            }
            st = expect;
        }
        /* Another owner claiming this very slot (tests with two pools): it becomes READY
         * after a few stores. */
        while (claim && st == KP_SLOT_CLAIMING)
            st = atomic_load_explicit(&s->state, memory_order_acquire);
        if (st == KP_SLOT_FREE)
            return NULL;
        if (st == KP_SLOT_READY && kp_slot_is(s, want))
            return s;
    }
    return NULL;
}

/* The owner's write (Boehm's C11 sequence lock: every access atomic). */
static void kp_slot_write(struct kp_slot *s, const struct keypool_health *h)
{
    uint64_t w[KP_WORDS];
    memset(w, 0, sizeof w);
    memcpy(w, h, sizeof *h);
    uint64_t q = atomic_load_explicit(&s->seq, memory_order_relaxed);
    atomic_store_explicit(&s->seq, q + 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    for (size_t i = 0; i < KP_WORDS; i++)
        atomic_store_explicit(&s->w[i], w[i], memory_order_relaxed);
    atomic_store_explicit(&s->seq, q + 2, memory_order_release);
}

/* A reader's copy: 0, or -1 when the slot kept changing (KEYPOOL_READ_TRIES). */
static int kp_slot_read(struct kp_slot *s, struct keypool_health *h)
{
    uint64_t w[KP_WORDS];
    for (int t = 0; t < KEYPOOL_READ_TRIES; t++) {
        uint64_t q1 = atomic_load_explicit(&s->seq, memory_order_acquire);
        if (q1 & 1)
            continue;
        for (size_t i = 0; i < KP_WORDS; i++)
            w[i] = atomic_load_explicit(&s->w[i], memory_order_relaxed);
        atomic_thread_fence(memory_order_acquire);
        if (atomic_load_explicit(&s->seq, memory_order_relaxed) == q1) {
            memcpy(h, w, sizeof *h);
            h->provider[sizeof h->provider - 1] = '\0';
            h->reason[sizeof h->reason - 1] = '\0';
            h->last_error[sizeof h->last_error - 1] = '\0';
            return 0;
        }
    }
    return -1;
}

/* What the state means at now: a rest that ended is over (a probe may go). */
static void kp_health_at(struct keypool_health *h, int64_t now)
{
    if ((h->status == KEYPOOL_ST_COOLING_DOWN || h->status == KEYPOOL_ST_RATE_LIMITED) && !h->probing &&
        h->available_at <= now) {
        h->status = KEYPOOL_ST_HEALTHY;
        h->available_at = 0;
    }
}

int keypool_health_get(const char *id, int64_t now, struct keypool_health *out)
{
    memset(out, 0, sizeof *out);
    struct kp_slot *s = id != NULL ? kp_slot_find(id, 0) : NULL;
    if (s == NULL || kp_slot_read(s, out) != 0) {
        memset(out, 0, sizeof *out);
        return -1;
    }
    kp_health_at(out, now);
    return 0;
}

void keypool_view(const struct provider_key *row, int64_t now, struct keypool_view *v)
{
    memset(v, 0, sizeof *v);
    v->uses = row->uses;
    v->failures = row->failures;
    v->last_used_at = row->last_used_at;
    v->last_error = row->last_error;
    v->disabled_reason = "";
    v->status = KEYPOOL_ST_HEALTHY;
    if (keypool_health_get(row->id, now, &v->h) == 0) {
        v->uses += v->h.uses;
        v->failures += v->h.failures;
        if (v->h.last_used_at > v->last_used_at)
            v->last_used_at = v->h.last_used_at;
        if (v->h.last_error[0] != '\0')
            v->last_error = v->h.last_error;
        /* Disabled by the stored row while the row now says enabled: an admin enabled it
         * and the pool has not reloaded yet; it will start healthy. */
        if (!(v->h.status == KEYPOOL_ST_DISABLED && v->h.stored_disabled)) {
            v->status = v->h.status;
            v->consecutive_errors = v->h.consecutive_errors;
            v->available_at = v->h.available_at;
            if (v->status == KEYPOOL_ST_DISABLED)
                v->disabled_reason = v->h.reason;
        }
    }
    /* The row wins: an admin's disable shows at once, before the pool reloads. */
    if (row->disabled) {
        v->status = KEYPOOL_ST_DISABLED;
        v->disabled_reason = row->disabled_reason;
        v->available_at = 0;
    }
}

void keypool_metrics_render(struct sbuf *out)
{
    struct keypool_health h;
    char id[TG_ID_MAX];
    int64_t now = time_now_ms();
    struct {
        char id[TG_ID_MAX];
        struct keypool_health h;
    } *rows = xcalloc(KEYPOOL_SLOTS, sizeof *rows);
    size_t n = 0;

    for (size_t i = 0; i < KEYPOOL_SLOTS; i++) {
        struct kp_slot *s = &kp_slots[i];
        if (atomic_load_explicit(&s->state, memory_order_acquire) != KP_SLOT_READY)
            continue;
        uint64_t w[KP_ID_WORDS];
        for (size_t j = 0; j < KP_ID_WORDS; j++)
            w[j] = atomic_load_explicit(&s->idw[j], memory_order_relaxed);
        memcpy(id, w, sizeof id);
        id[TG_ID_MAX - 1] = '\0';
        if (kp_slot_read(s, &h) != 0)
            continue;
        kp_health_at(&h, now);
        memcpy(rows[n].id, id, sizeof id);
        rows[n].h = h;
        n++;
    }
    if (n == 0) {
        /* No key loaded (none configured, or the dispatcher has not read them yet): a family
         * is announced only with samples. */
        free(rows);
        return;
    }
    sbuf_printf(out, "# HELP tollgate_provider_key_calls_total Calls made with a provider key, by what the answer "
                     "said of the key (ok, error, rate_limited, rejected).\n"
                     "# TYPE tollgate_provider_key_calls_total counter\n");
    for (size_t i = 0; i < n; i++)
        for (int o = 0; o < KEYPOOL__OUTCOMES; o++)
            sbuf_printf(out, "tollgate_provider_key_calls_total{provider=\"%s\",key=\"%s\",outcome=\"%s\"} %" PRIu64 "\n",
                        rows[i].h.provider, rows[i].id, keypool_outcome_name((enum keypool_outcome)o),
                        rows[i].h.calls[o]);
    sbuf_printf(out, "# HELP tollgate_provider_key_up 1 when the provider key may be picked now, 0 when it is "
                     "disabled, cooling down or rate limited.\n"
                     "# TYPE tollgate_provider_key_up gauge\n");
    for (size_t i = 0; i < n; i++)
        sbuf_printf(out, "tollgate_provider_key_up{provider=\"%s\",key=\"%s\"} %d\n", rows[i].h.provider, rows[i].id,
                    rows[i].h.status == KEYPOOL_ST_HEALTHY);
    free(rows);
}

/* ---- the pool ---- */

enum kp_why { KP_WHY_NONE = 0, KP_WHY_STORED, KP_WHY_REJECTED, KP_WHY_NO_SECRET };

struct kp_key {
    char id[TG_ID_MAX];
    char provider[TG_PROVIDER_MAX];
    char secret[TG_KEY_SECRET_MAX + 1]; /* "" when none could be read */
    int stored_disabled;                /* the row's flag at the last load */
    enum kp_why disabled;               /* why it is not picked at all (NONE: it may be) */
    int64_t rejected_at;                /* disabled by a report at (0: not) */
    char reason[KEYPOOL_TEXT_MAX];
    int64_t errors;                     /* consecutive */
    int64_t cool_until, limited_until;
    int probing;
    int64_t probe_at;
    int64_t lru_at;                     /* last picked (or stored last use) */
    uint64_t lru_seq;                   /* breaks ties within a millisecond */
    /* Not yet handed to keypool_flush_stats' callback. */
    int64_t d_uses, d_failures, d_last_used_at;
    char d_last_error[KEYPOOL_TEXT_MAX];
    int d_error_set;
    uint64_t calls[KEYPOOL__OUTCOMES];
    struct kp_slot *slot;
};

struct keypool {
    struct kp_key **keys;
    size_t n;
    uint64_t seq;
    int64_t now; /* of the latest call, for publishing from flush */
};

struct keypool *keypool_new(void) { return xcalloc(1, sizeof(struct keypool)); }

static void kp_key_free(struct kp_key *k)
{
    if (k == NULL)
        return;
    sodium_memzero(k, sizeof *k);
    free(k);
}

void keypool_free(struct keypool *kp)
{
    if (kp == NULL)
        return;
    for (size_t i = 0; i < kp->n; i++)
        kp_key_free(kp->keys[i]);
    free(kp->keys);
    free(kp);
}

static struct kp_key *kp_find(const struct keypool *kp, const char *id)
{
    for (size_t i = 0; id != NULL && i < kp->n; i++)
        if (strcmp(kp->keys[i]->id, id) == 0)
            return kp->keys[i];
    return NULL;
}

static void kp_publish(struct kp_key *k, int64_t now)
{
    struct keypool_health h;
    if (k->slot == NULL)
        return;
    memset(&h, 0, sizeof h);
    memcpy(h.provider, k->provider, sizeof h.provider);
    h.probing = k->probing;
    h.consecutive_errors = k->errors;
    h.uses = k->d_uses;
    h.failures = k->d_failures;
    h.last_used_at = k->d_last_used_at > k->lru_at ? k->d_last_used_at : k->lru_at;
    memcpy(h.calls, k->calls, sizeof h.calls);
    if (k->d_error_set)
        memcpy(h.last_error, k->d_last_error, sizeof h.last_error);
    if (k->disabled != KP_WHY_NONE) {
        h.status = KEYPOOL_ST_DISABLED;
        h.stored_disabled = k->disabled == KP_WHY_STORED;
        memcpy(h.reason, k->reason, sizeof h.reason);
    } else if (k->limited_until > now && k->limited_until >= k->cool_until) {
        h.status = KEYPOOL_ST_RATE_LIMITED;
        h.available_at = k->limited_until;
    } else if (k->errors >= KEYPOOL_COOL_AFTER || k->cool_until > now) {
        /* Also once the rest is over: readers see "healthy" until a probe goes out. */
        h.status = KEYPOOL_ST_COOLING_DOWN;
        h.available_at = k->cool_until > k->limited_until ? k->cool_until : k->limited_until;
    } else {
        h.status = KEYPOOL_ST_HEALTHY;
    }
    kp_slot_write(k->slot, &h);
}

/* Env secrets of every provider, by id, for one load. */
struct kp_env_secret {
    char id[TG_ID_MAX];
    char secret[TG_KEY_SECRET_MAX + 1];
};
struct kp_env_set {
    struct kp_env_secret *v;
    size_t n, cap;
};

static void kp_env_collect(void *arg, size_t p, size_t pos, const char *secret, size_t len)
{
    struct kp_env_set *set = arg;
    (void)pos;
    if (!keypool_secret_valid(secret, len))
        return;
    if (set->n == set->cap) {
        size_t cap = set->cap ? set->cap * 2 : 8;
        struct kp_env_secret *v = xcalloc(cap, sizeof *v);
        if (set->n)
            memcpy(v, set->v, set->n * sizeof *v);
        sodium_memzero(set->v, set->cap * sizeof *set->v);
        free(set->v);
        set->v = v;
        set->cap = cap;
    }
    keypool_env_key_id(kp_providers[p].name, secret, set->v[set->n].id);
    memcpy(set->v[set->n].secret, secret, len + 1);
    set->n++;
}

static const char *kp_env_find(const struct kp_env_set *set, const char *id)
{
    for (size_t i = 0; i < set->n; i++)
        if (strcmp(set->v[i].id, id) == 0)
            return set->v[i].secret;
    return NULL;
}

/* Forgets every sign of trouble: an admin enabled the key. */
static void kp_reset_health(struct kp_key *k)
{
    k->errors = 0;
    k->cool_until = k->limited_until = 0;
    k->probing = 0;
    k->probe_at = 0;
    k->rejected_at = 0;
}

int keypool_load(struct keypool *kp, const struct provider_key *rows, size_t n, int64_t now)
{
    struct kp_env_set env = {0};
    struct kp_key **keys = n ? xcalloc(n, sizeof *keys) : NULL;
    size_t kept = 0;

    kp->now = now;
    for (size_t p = 0; p < KP_N_PROVIDERS; p++)
        kp_env_each(p, kp_env_collect, &env);
    for (size_t i = 0; i < n; i++) {
        const struct provider_key *row = &rows[i];
        struct kp_key *k = NULL;
        for (size_t j = 0; j < kp->n; j++)
            if (kp->keys[j] != NULL && strcmp(kp->keys[j]->id, row->id) == 0) {
                k = kp->keys[j];
                kp->keys[j] = NULL; /* moved */
                break;
            }
        for (size_t j = 0; k == NULL && j < kept; j++)
            if (strcmp(keys[j]->id, row->id) == 0)
                k = keys[j]; /* the same id twice in rows: the later row wins */
        if (k == NULL) {
            k = xcalloc(1, sizeof *k);
            snprintf(k->id, sizeof k->id, "%s", row->id);
            k->lru_at = row->last_used_at;
            k->stored_disabled = row->disabled;
            k->slot = kp_slot_find(k->id, 1);
            if (k->slot == NULL)
                log_event(LOG_WARN, "provider_key_unpublished", "key", k->id, "detail",
                          "the table of published keys is full: this key is missing from /metrics", NULL);
            struct keypool_health prev;
            if (k->slot != NULL && kp_slot_read(k->slot, &prev) == 0) /* counters never go back */
                memcpy(k->calls, prev.calls, sizeof k->calls);
            keys[kept++] = k;
        } else {
            int found = 0;
            for (size_t j = 0; j < kept; j++)
                found |= keys[j] == k;
            if (!found)
                keys[kept++] = k;
        }
        snprintf(k->provider, sizeof k->provider, "%s", row->provider);
        if (k->stored_disabled && !row->disabled)
            kp_reset_health(k);
        k->stored_disabled = row->disabled;

        sodium_memzero(k->secret, sizeof k->secret);
        const char *why_none = NULL;
        if (strcmp(row->source, "env") == 0) {
            const char *sec = kp_env_find(&env, row->id);
            if (sec != NULL)
                snprintf(k->secret, sizeof k->secret, "%s", sec);
            else
                why_none = "not configured";
        } else if (keypool_unseal(row->id, row->secret_box, row->secret_box_len, k->secret) < 0) {
            why_none = "cannot be unsealed with this server's secret";
        }

        if (row->disabled) {
            k->disabled = KP_WHY_STORED;
            k->rejected_at = 0;
            kp_text(k->reason, row->disabled_reason[0] ? row->disabled_reason : "disabled");
        } else if (k->rejected_at != 0 && now - k->rejected_at < KEYPOOL_PERSIST_GRACE_MS) {
            k->disabled = KP_WHY_REJECTED; /* its disable is on the way to the store */
        } else if (why_none != NULL) {
            k->disabled = KP_WHY_NO_SECRET;
            k->rejected_at = 0;
            if (strcmp(why_none, "not configured") == 0) {
                const char *env_name = keypool_provider_env(row->provider);
                snprintf(k->reason, sizeof k->reason, "not configured in %s", env_name ? env_name : "the environment");
            } else {
                kp_text(k->reason, why_none);
            }
        } else {
            k->disabled = KP_WHY_NONE;
            k->rejected_at = 0;
            k->reason[0] = '\0';
        }
        kp_publish(k, now);
    }
    /* Keys no longer stored: forgotten, shown as disabled to anyone still looking. */
    for (size_t j = 0; j < kp->n; j++) {
        struct kp_key *k = kp->keys[j];
        if (k == NULL)
            continue;
        k->disabled = KP_WHY_NO_SECRET;
        kp_text(k->reason, "no longer stored");
        kp_publish(k, now);
        kp_key_free(k);
    }
    free(kp->keys);
    kp->keys = keys;
    kp->n = kept;
    if (env.v != NULL) {
        sodium_memzero(env.v, env.cap * sizeof *env.v);
        free(env.v);
    }
    return 0;
}

/* 1 when a picks before b (older use first; ties by order of use, then by load order). */
static int kp_older(const struct kp_key *a, const struct kp_key *b)
{
    if (a->lru_at != b->lru_at)
        return a->lru_at < b->lru_at;
    return a->lru_seq < b->lru_seq;
}

int keypool_pick(struct keypool *kp, const char *provider, int64_t now, char id_out[TG_ID_MAX],
                 char secret_out[TG_KEY_SECRET_MAX + 1], int64_t *wait_ms)
{
    struct kp_key *best = NULL;
    int64_t wait = -1;

    kp->now = now;
    id_out[0] = '\0';
    secret_out[0] = '\0';
    for (size_t i = 0; i < kp->n; i++) {
        struct kp_key *k = kp->keys[i];
        if (strcmp(k->provider, provider) != 0 || k->disabled != KP_WHY_NONE)
            continue;
        int64_t until = k->cool_until > k->limited_until ? k->cool_until : k->limited_until;
        if (until > now) {
            if (wait < 0 || until - now < wait)
                wait = until - now;
            continue;
        }
        if (k->errors >= KEYPOOL_COOL_AFTER && k->probing && now - k->probe_at < KEYPOOL_PROBE_LOST_MS) {
            int64_t w = KEYPOOL_PROBE_WAIT_MS;
            if (wait < 0 || w < wait)
                wait = w;
            continue;
        }
        if (best == NULL || kp_older(k, best))
            best = k;
    }
    if (best == NULL) {
        *wait_ms = wait;
        return -1;
    }
    if (best->errors >= KEYPOOL_COOL_AFTER) {
        best->probing = 1;
        best->probe_at = now;
    }
    best->lru_at = now;
    best->lru_seq = ++kp->seq;
    if (now > best->d_last_used_at)
        best->d_last_used_at = now;
    kp_publish(best, now);
    memcpy(id_out, best->id, TG_ID_MAX);
    memcpy(secret_out, best->secret, TG_KEY_SECRET_MAX + 1);
    *wait_ms = 0;
    return 0;
}

int keypool_secret(const struct keypool *kp, const char *id, char secret_out[TG_KEY_SECRET_MAX + 1])
{
    const struct kp_key *k = kp_find(kp, id);
    secret_out[0] = '\0';
    if (k == NULL || k->secret[0] == '\0')
        return -1;
    memcpy(secret_out, k->secret, TG_KEY_SECRET_MAX + 1);
    return 0;
}

int keypool_report(struct keypool *kp, const char *id, enum keypool_outcome outcome, int64_t retry_after_ms,
                   const char *reason, int64_t now, int *must_persist_disable)
{
    struct kp_key *k = kp_find(kp, id);

    *must_persist_disable = 0;
    if (k == NULL || (unsigned)outcome >= KEYPOOL__OUTCOMES)
        return -1;
    kp->now = now;
    k->calls[outcome]++;
    k->d_uses++;
    if (now > k->d_last_used_at)
        k->d_last_used_at = now;
    if (outcome != KEYPOOL_OK)
        k->d_failures++;

    switch (outcome) {
    case KEYPOOL_OK:
        k->errors = 0;
        k->cool_until = 0;
        k->probing = 0;
        break;
    case KEYPOOL_ERROR:
        kp_text(k->d_last_error, reason != NULL && reason[0] ? reason : "error");
        k->d_error_set = 1;
        k->errors++;
        /* The third error in a row, or a failed probe: rest. Errors of calls made before
         * the rest began do not lengthen it. */
        if (k->errors >= KEYPOOL_COOL_AFTER && k->cool_until <= now)
            k->cool_until = now + KEYPOOL_COOL_MS;
        k->probing = 0;
        break;
    case KEYPOOL_RATE_LIMITED: {
        int64_t ra = retry_after_ms > 0 ? retry_after_ms : KEYPOOL_RETRY_AFTER_DEFAULT_MS;
        if (ra > KEYPOOL_RETRY_AFTER_MAX_MS)
            ra = KEYPOOL_RETRY_AFTER_MAX_MS;
        if (now + ra > k->limited_until)
            k->limited_until = now + ra;
        kp_text(k->d_last_error, reason != NULL && reason[0] ? reason : "rate limited (429)");
        k->d_error_set = 1;
        k->probing = 0; /* says nothing of the key's health: probe again after the wait */
        break;
    }
    case KEYPOOL_REJECTED:
        kp_text(k->d_last_error, reason != NULL && reason[0] ? reason : "rejected by the provider");
        k->d_error_set = 1;
        k->probing = 0;
        if (k->disabled == KP_WHY_NONE) {
            k->disabled = KP_WHY_REJECTED;
            k->rejected_at = now;
            memcpy(k->reason, k->d_last_error, sizeof k->reason);
            *must_persist_disable = 1;
        }
        break;
    case KEYPOOL__OUTCOMES:
        break;
    }
    kp_publish(k, now);
    return 0;
}

void keypool_flush_stats(struct keypool *kp, keypool_stats_fn fn, void *arg)
{
    for (size_t i = 0; i < kp->n; i++) {
        struct kp_key *k = kp->keys[i];
        if (k->d_uses == 0 && k->d_failures == 0 && k->d_last_used_at == 0 && !k->d_error_set)
            continue;
        struct keypool_stats st = {k->id, k->d_uses, k->d_failures, k->d_last_used_at,
                                   k->d_error_set ? k->d_last_error : NULL};
        if (fn(arg, &st) != 0)
            continue;
        k->d_uses = k->d_failures = k->d_last_used_at = 0;
        k->d_error_set = 0;
        k->d_last_error[0] = '\0';
        kp_publish(k, kp->now);
    }
}
