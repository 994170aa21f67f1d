/*
 * ratelimit.c - GCRA limiter with striped, bounded in-memory state.
 *
 * GCRA in its "virtual scheduling" form, in integer nanoseconds:
 *   T   = period / limit          emission interval: one request per T in the long run
 *   tau = period - T              burst tolerance: how far ahead of now TAT may run
 *   TAT = max(stored TAT, now)    theoretical arrival time of the next request
 *   admit iff TAT - now <= tau, and then store TAT + T.
 * A fresh key has TAT = now, so it admits exactly `limit` requests at once (the k-th one sees
 * TAT - now = (k-1)T <= (limit-1)T = tau) and then one per T. Refused requests change nothing.
 *
 * State: RL_SHARDS shards picked by a keyed hash, each a mutex plus an open-addressing index
 * (linear probing, load <= 1/2) over a dense array of at most RL_SHARD_CAP entries. The whole
 * table is thus bounded at RL_SHARDS * RL_SHARD_CAP keys (~40 MiB at 152 bytes an entry, only
 * reached under a flood of distinct keys; memory grows with use). The hash is SipHash with a
 * random key per process and per policy, so clients cannot aim many keys at one shard or one
 * probe chain. Keys up to RL_KEY_MAX bytes are stored whole and compared exactly; longer keys
 * are replaced by a 128-bit keyed digest (never truncated, which would let two long keys with
 * a common prefix share a bucket).
 *
 * Eviction, when a shard is full: first every entry whose TAT <= now goes (such an entry
 * says "bucket full", exactly what a missing entry says, so dropping it changes nothing);
 * if that frees less than an eighth of the shard, the entries with the oldest TATs go until
 * an eighth is free. Working in batches keeps the O(n) sweep amortised to O(1) per insert
 * under a flood. An evicted key that is still limited starts again with a full bucket: eviction
 * can only make limiting more lenient for that key, never stricter for anyone.
 */
#include "domain/ratelimit.h"

#include <arpa/inet.h>
#include <limits.h>
#include <stddef.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/errors.h"
#include "core/mem.h"

#define RL_SHARDS 64      /* power of two; 64 >> 2-8 worker threads, so locks rarely meet */
#define RL_SHARD_CAP 4096 /* entries per shard: 262144 keys in all */
#define RL_SLOTS (RL_SHARD_CAP * 2)
#define RL_KEY_MAX 128
#define RL_NS_PER_MS INT64_C(1000000)
#define RL_NS_PER_S INT64_C(1000000000)
/* Bounds of a policy: a million a period is beyond any per-key need; a week is the longest
 * window anyone asks of an in-memory limiter (state is lost on restart anyway). */
#define RL_LIMIT_MAX 1000000
#define RL_PERIOD_MAX_S (7 * 24 * 3600)
/* now_ms is clamped to this (year 2255) so now_ns + period can never overflow int64. */
#define RL_NOW_MS_MAX INT64_C(9000000000000)

struct rl_entry {
    int64_t tat; /* ns since the epoch */
    uint64_t hash;
    uint8_t policy;
    uint8_t klen;
    uint8_t digest; /* key holds the 16-byte digest of a longer key */
    char key[RL_KEY_MAX];
};

struct rl_slot {
    uint32_t tag;  /* high hash bits, to skip most non-matching entries without touching them */
    uint32_t idx1; /* entry index + 1; 0 = empty */
};

struct rl_shard {
    _Alignas(64) pthread_mutex_t mu; /* own cache line: shards must not share one */
    struct rl_slot *slots;           /* RL_SLOTS, allocated on first insert */
    struct rl_entry *entries;
    uint32_t n, alloc;
};

struct rl_pol {
    int enabled;
    int64_t limit, period_ns, t_ns, tau_ns;
};

/*
 * Names and defaults. The first five come from the seeds' limits. The others:
 *  - register_ip 5/1h: a registration costs an argon2id hash (64 MiB and the CPU time that
 *    holds this 2-core machine to 18 logins/s, docs/PERFORMANCE.md) and grants
 *    TG_SIGNUP_CREDITS free credits. Five at once lets a household or office behind one
 *    address sign up together; then one per 12 min caps credit farming from one address
 *    (or IPv6 /64) at ~120 accounts a day. Raise it when many users share a carrier-grade
 *    NAT address.
 *  - register_global 60/1m: the ceiling for an attacker with many addresses, which
 *    register_ip cannot see. One a second in the long run keeps registration hashing at
 *    about 1/18 of what the hashing pool can do, so logins are not starved, and minting at
 *    60 * TG_SIGNUP_CREDITS credits a minute; the burst of 60 absorbs a launch-day spike.
 *  - auth_fail 20/1m: a client with good credentials fails at most now and then (an
 *    expired access token costs one 401 before the refresh), so 20 a minute is never
 *    reached by honest use, while a stolen-key list or a token forger gets one try per 3 s
 *    per address and the HTTP layer stops paying for the lookups beyond that.
 *  - mail_address 3/1h: password-reset mails to one address, whoever asks and whether or
 *    not an account has it (so the limit tells nothing either). Three let someone retry a
 *    mail that went to spam twice; beyond that nobody can use us to flood a mailbox.
 */
static const struct {
    const char *name;
    int64_t limit, period_s;
} rl_defaults[RL__COUNT] = {
    [RL_NONE] = {"none", 0, 0},
    [RL_API_QUERY] = {"api_query", 100, 60},
    [RL_AUTH_IP] = {"auth_ip", 20, 60},
    [RL_AUTH_ACCOUNT] = {"auth_account", 10, 15 * 60},
    [RL_PAYMENT] = {"payment", 5, 3600},
    [RL_VIDEO] = {"video", 10, 3600},
    [RL_REGISTER_IP] = {"register_ip", 5, 3600},
    [RL_REGISTER_GLOBAL] = {"register_global", 60, 60},
    [RL_AUTH_FAIL] = {"auth_fail", 20, 60},
    [RL_MAIL_ADDRESS] = {"mail_address", 3, 3600},
};

static struct rl_shard rl_shards[RL_SHARDS];
static struct rl_pol rl_pols[RL__COUNT];
static unsigned char rl_hkey[RL__COUNT][crypto_shorthash_KEYBYTES];
static unsigned char rl_dkey[crypto_shorthash_siphashx24_KEYBYTES];
static int rl_ready;

const char *ratelimit_policy_name(enum rl_policy p)
{
    if ((int)p < 0 || p >= RL__COUNT)
        return "unknown";
    return rl_defaults[p].name;
}

int ratelimit_enabled(enum rl_policy p)
{
    return (int)p > 0 && p < RL__COUNT && rl_pols[p].enabled;
}

static void rl_pol_set(struct rl_pol *pol, int64_t limit, int64_t period_s)
{
    pol->enabled = 1;
    pol->limit = limit;
    pol->period_ns = period_s * RL_NS_PER_S;
    pol->t_ns = pol->period_ns / limit;
    pol->tau_ns = pol->period_ns - pol->t_ns;
}

/* Parses 1..max from exactly [s, e); -1 for junk, zero or overflow. */
static int64_t rl_number(const char *s, const char *e, int64_t max)
{
    int64_t v = 0;
    if (s == e)
        return -1;
    for (; s < e; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        v = v * 10 + (*s - '0');
        if (v > max)
            return -1;
    }
    return v == 0 ? -1 : v;
}

static const char *rl_show(const char *s, size_t n, char out[72])
{
    size_t j = 0;
    for (size_t i = 0; i < n && j < 64; i++)
        out[j++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
    out[j] = '\0';
    return out;
}

/*
 * Parses one "name=L/Nu" or "name=off" item [s, e) into pols. `given` records names already
 * seen so that a name listed twice is reported instead of silently taking the last.
 */
static int rl_parse_item(const char *s, const char *e, struct rl_pol *pols, int *given, char **err)
{
    char shown[72];
    const char *eq = memchr(s, '=', (size_t)(e - s));
    int p = -1;
    if (eq == NULL) {
        *err = xasprintf("TG_RATE_LIMITS: '%s' should look like api_query=100/60s or api_query=off",
                         rl_show(s, (size_t)(e - s), shown));
        return -1;
    }
    for (int i = 1; i < RL__COUNT; i++)
        if (strlen(rl_defaults[i].name) == (size_t)(eq - s) &&
            memcmp(rl_defaults[i].name, s, (size_t)(eq - s)) == 0)
            p = i;
    if (p < 0) {
        /* The list comes from the table, so a new policy cannot be left out of it. */
        char known[256];
        size_t k = 0;
        known[0] = '\0';
        for (int i = 1; i < RL__COUNT; i++) {
            int w = snprintf(known + k, sizeof known - k, "%s%s", i > 1 ? ", " : "", rl_defaults[i].name);
            if (NEVER(w < 0 || (size_t)w >= sizeof known - k))
                break; /* the names fill a third of the buffer */
            k += (size_t)w;
        }
        *err = xasprintf("TG_RATE_LIMITS: unknown policy '%s' (known: %s)",
                         rl_show(s, (size_t)(eq - s), shown), known);
        return -1;
    }
    if (given[p]) {
        *err = xasprintf("TG_RATE_LIMITS: policy %s is given twice", rl_defaults[p].name);
        return -1;
    }
    given[p] = 1;
    const char *v = eq + 1;
    if (e - v == 3 && memcmp(v, "off", 3) == 0) {
        pols[p].enabled = 0;
        return 0;
    }
    const char *slash = memchr(v, '/', (size_t)(e - v));
    int64_t limit = slash ? rl_number(v, slash, RL_LIMIT_MAX) : -1;
    int64_t unit = 0, n = -1;
    if (slash && e - slash >= 3) {
        switch (e[-1]) {
        case 's':
            unit = 1;
            break;
        case 'm':
            unit = 60;
            break;
        case 'h':
            unit = 3600;
            break;
        default:
            break;
        }
        if (unit)
            n = rl_number(slash + 1, e - 1, RL_PERIOD_MAX_S / unit);
    }
    if (limit < 0 || n < 0) {
        *err = xasprintf(
            "TG_RATE_LIMITS: %s='%s' should be N/<period><s|m|h> with N from 1 to %d and a period "
            "from 1s to 168h, e.g. %s=100/60s, or off",
            rl_defaults[p].name, rl_show(v, (size_t)(e - v), shown), RL_LIMIT_MAX, rl_defaults[p].name);
        return -1;
    }
    rl_pol_set(&pols[p], limit, n * unit);
    return 0;
}

static int rl_parse(const char *spec, struct rl_pol *pols, char **err)
{
    int given[RL__COUNT] = {0};
    for (int i = 1; i < RL__COUNT; i++)
        rl_pol_set(&pols[i], rl_defaults[i].limit, rl_defaults[i].period_s);
    if (spec == NULL || *spec == '\0')
        return 0;
    if (strcmp(spec, "off") == 0) {
        for (int i = 1; i < RL__COUNT; i++)
            pols[i].enabled = 0;
        return 0;
    }
    for (const char *s = spec;;) {
        const char *comma = strchr(s, ',');
        const char *e = comma ? comma : s + strlen(s);
        const char *b = s;
        while (b < e && (*b == ' ' || *b == '\t'))
            b++;
        while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if (b == e) {
            *err = xasprintf("TG_RATE_LIMITS: empty entry (check for stray commas)");
            return -1;
        }
        if (e - b == 3 && memcmp(b, "off", 3) == 0) {
            *err =
                xasprintf("TG_RATE_LIMITS: 'off' disables every policy and must be used alone; use name=off "
                          "for one");
            return -1;
        }
        if (rl_parse_item(b, e, pols, given, err) != 0)
            return -1;
        if (comma == NULL)
            break;
        s = comma + 1;
    }
    return 0;
}

static void rl_free_tables(void)
{
    for (int i = 0; i < RL_SHARDS; i++) {
        free(rl_shards[i].slots);
        free(rl_shards[i].entries);
        rl_shards[i].slots = NULL;
        rl_shards[i].entries = NULL;
        rl_shards[i].n = rl_shards[i].alloc = 0;
    }
}

int ratelimit_init(const char *spec, char **err)
{
    struct rl_pol pols[RL__COUNT] = {{0}};
    *err = NULL;
    if (sodium_init() < 0) {
        *err = xasprintf("ratelimit: libsodium failed to initialise");
        return -1;
    }
    if (rl_parse(spec, pols, err) != 0)
        return -1;
    ratelimit_shutdown();
    memcpy(rl_pols, pols, sizeof pols);
    for (int i = 0; i < RL__COUNT; i++)
        crypto_shorthash_keygen(rl_hkey[i]);
    randombytes_buf(rl_dkey, sizeof rl_dkey);
    for (int i = 0; i < RL_SHARDS; i++)
        pthread_mutex_init(&rl_shards[i].mu, NULL);
    rl_ready = 1;
    return 0;
}

void ratelimit_shutdown(void)
{
    if (!rl_ready)
        return;
    rl_free_tables();
    for (int i = 0; i < RL_SHARDS; i++)
        pthread_mutex_destroy(&rl_shards[i].mu);
    memset(rl_pols, 0, sizeof rl_pols);
    rl_ready = 0;
}

static uint32_t rl_tag(uint64_t h)
{
    return (uint32_t)(h >> 32);
}

/* Index of the entry for the key, or -1 with *empty set to the slot where it would go. */
static int64_t rl_find(const struct rl_shard *s, const struct rl_entry *k, uint32_t *empty)
{
    uint32_t i = (uint32_t)k->hash & (RL_SLOTS - 1);
    for (;;) {
        struct rl_slot sl = s->slots[i];
        if (sl.idx1 == 0) {
            *empty = i;
            return -1;
        }
        if (sl.tag == rl_tag(k->hash)) {
            const struct rl_entry *e = &s->entries[sl.idx1 - 1];
            if (e->hash == k->hash && e->policy == k->policy && e->klen == k->klen &&
                e->digest == k->digest && memcmp(e->key, k->key, k->klen) == 0)
                return (int64_t)sl.idx1 - 1;
        }
        i = (i + 1) & (RL_SLOTS - 1);
    }
}

static void rl_reindex(struct rl_shard *s)
{
    memset(s->slots, 0, RL_SLOTS * sizeof *s->slots);
    for (uint32_t j = 0; j < s->n; j++) {
        uint32_t i = (uint32_t)s->entries[j].hash & (RL_SLOTS - 1);
        while (s->slots[i].idx1 != 0)
            i = (i + 1) & (RL_SLOTS - 1);
        s->slots[i].tag = rl_tag(s->entries[j].hash);
        s->slots[i].idx1 = j + 1;
    }
}

static int rl_cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Makes room in a full shard (see the top of this file), then rebuilds the index. */
static void rl_evict(struct rl_shard *s, int64_t now_ns)
{
    const uint32_t target = RL_SHARD_CAP - RL_SHARD_CAP / 8;
    uint32_t j = 0;
    for (uint32_t i = 0; i < s->n; i++)
        if (s->entries[i].tat > now_ns) {
            if (i != j)
                s->entries[j] = s->entries[i];
            j++;
        }
    s->n = j;
    if (s->n > target) {
        size_t drop = s->n - target;
        int64_t *tats = xmalloc(s->n * sizeof *tats);
        for (uint32_t i = 0; i < s->n; i++)
            tats[i] = s->entries[i].tat;
        /* A sort (not a selection) because it is obviously right and runs once per eighth of
         * a shard's inserts: ~50k comparisons per 512 inserts. */
        qsort(tats, s->n, sizeof *tats, rl_cmp_i64);
        int64_t thr = tats[drop - 1];
        free(tats);
        /* drop everything below the threshold, and as many at it as still needed */
        size_t below = 0;
        for (uint32_t i = 0; i < s->n; i++)
            below += s->entries[i].tat < thr;
        size_t at_quota = drop - below;
        j = 0;
        for (uint32_t i = 0; i < s->n; i++) {
            int64_t t = s->entries[i].tat;
            if (t < thr)
                continue;
            if (t == thr && at_quota > 0) {
                at_quota--;
                continue;
            }
            if (i != j)
                s->entries[j] = s->entries[i];
            j++;
        }
        s->n = j;
    }
    rl_reindex(s);
}

/* Fills the lookup form of (policy, key): hash and the stored key bytes. */
static void rl_make_key(struct rl_entry *k, enum rl_policy p, const char *key)
{
    size_t n = strlen(key);
    unsigned char h[crypto_shorthash_BYTES];
    k->policy = (uint8_t)p;
    if (n <= RL_KEY_MAX) {
        memcpy(k->key, key, n);
        k->klen = (uint8_t)n;
        k->digest = 0;
    } else {
        crypto_shorthash_siphashx24((unsigned char *)k->key, (const unsigned char *)key, n, rl_dkey);
        k->klen = crypto_shorthash_siphashx24_BYTES;
        k->digest = 1;
    }
    crypto_shorthash(h, (const unsigned char *)key, n, rl_hkey[p]);
    memcpy(&k->hash, h, sizeof k->hash);
}

static int64_t rl_ceil_s(int64_t ns)
{
    return ns <= 0 ? 0 : (ns + RL_NS_PER_S - 1) / RL_NS_PER_S;
}

/* floor(a / b) for b > 0, also for negative a (C division truncates toward zero). */
static int64_t rl_floor_div(int64_t a, int64_t b)
{
    return a >= 0 ? a / b : -((-a + b - 1) / b);
}

/* ratelimit_check() (commit = 1) and ratelimit_peek() (commit = 0). */
static void rl_run(enum rl_policy p, const char *key, int64_t now_ms, struct rl_result *out, int commit)
{
    struct rl_entry k;
    uint32_t empty = 0;
    memset(out, 0, sizeof *out);
    if (!rl_ready) {
        /* A limiter that silently admits everything would hide a missing init call. */
        fprintf(stderr, "tollgate: ratelimit_check/peek before ratelimit_init (programming error)\n");
        abort();
    }
    if (!ratelimit_enabled(p)) {
        out->allowed = 1;
        return;
    }
    const struct rl_pol *pol = &rl_pols[p];
    if (now_ms < 0)
        now_ms = 0;
    if (now_ms > RL_NOW_MS_MAX)
        now_ms = RL_NOW_MS_MAX;
    const int64_t now = now_ms * RL_NS_PER_MS;
    rl_make_key(&k, p, key ? key : "");
    struct rl_shard *s = &rl_shards[k.hash >> 58]; /* top 6 bits; the index uses the low ones */

    pthread_mutex_lock(&s->mu);
    int64_t idx = -1;
    if (s->slots == NULL && commit)
        s->slots = xcalloc(RL_SLOTS, sizeof *s->slots);
    if (s->slots != NULL)
        idx = rl_find(s, &k, &empty);
    int64_t tat = idx >= 0 ? s->entries[idx].tat : now;
    if (tat < now)
        tat = now;
    out->limit = pol->limit;
    if (tat - now > pol->tau_ns) {
        /* refused: nothing is stored, so a client hammering away gains or loses nothing */
        out->allowed = 0;
        out->remaining = 0;
        out->reset_s = rl_ceil_s(tat - now);
        out->retry_after_s = rl_ceil_s(tat - pol->tau_ns - now);
        if (out->retry_after_s < 1)
            out->retry_after_s = 1;
        goto unlock;
    }
    /* A peek reports the state as it is (the request is not counted), a check the state
     * after counting this request. */
    const int64_t new_tat = commit ? tat + pol->t_ns : tat;
    if (commit && idx >= 0) {
        s->entries[idx].tat = new_tat;
    } else if (commit) {
        if (s->n == RL_SHARD_CAP) {
            rl_evict(s, now);
            rl_find(s, &k, &empty); /* the index was rebuilt: find the free slot again */
        }
        if (s->n == s->alloc) {
            s->alloc = s->alloc ? s->alloc * 2 : 16;
            s->entries = xrealloc(s->entries, s->alloc * sizeof *s->entries);
        }
        k.tat = new_tat;
        s->entries[s->n] = k;
        s->slots[empty].tag = rl_tag(k.hash);
        s->slots[empty].idx1 = ++s->n;
    }
    /* X-RateLimit-Remaining: how many more fit before TAT would pass now + tau. */
    int64_t rem = rl_floor_div(pol->tau_ns - (new_tat - now), pol->t_ns) + 1;
    out->allowed = 1;
    out->remaining = rem < 0 ? 0 : rem > pol->limit ? pol->limit : rem;
    out->reset_s = rl_ceil_s(new_tat - now);
    out->retry_after_s = 0;
unlock:
    pthread_mutex_unlock(&s->mu);
}

void ratelimit_check(enum rl_policy p, const char *key, int64_t now_ms, struct rl_result *out)
{
    rl_run(p, key, now_ms, out, 1);
}

void ratelimit_peek(enum rl_policy p, const char *key, int64_t now_ms, struct rl_result *out)
{
    rl_run(p, key, now_ms, out, 0);
}

int ratelimit_ip_key(const char *ip, char *out, size_t cap)
{
    int ret = -1;
    unsigned char a[16];
    char text[INET6_ADDRSTRLEN];
    size_t n = 0;
    int w;

    if (cap > 0)
        out[0] = '\0';
    if (ip == NULL)
        goto cleanup;
    /* The longest address text is 45 bytes; do not hand inet_pton megabytes to scan. */
    while (n < INET6_ADDRSTRLEN && ip[n] != '\0')
        n++;
    if (n == INET6_ADDRSTRLEN)
        goto cleanup;
    if (inet_pton(AF_INET, ip, a) == 1) {
        if (inet_ntop(AF_INET, a, text, sizeof text) == NULL)
            goto cleanup;
        w = snprintf(out, cap, "ip:%s", text);
    } else if (inet_pton(AF_INET6, ip, a) == 1) {
        static const unsigned char v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (memcmp(a, v4mapped, sizeof v4mapped) == 0) {
            if (inet_ntop(AF_INET, a + 12, text, sizeof text) == NULL)
                goto cleanup;
            w = snprintf(out, cap, "ip:%s", text);
        } else {
            /* Zero the interface identifier, then let inet_ntop pick the one canonical
             * spelling of what is left. */
            memset(a + 8, 0, 8);
            if (inet_ntop(AF_INET6, a, text, sizeof text) == NULL)
                goto cleanup;
            w = snprintf(out, cap, "ip:%s/64", text);
        }
    } else {
        goto cleanup;
    }
    if (w < 0 || (size_t)w >= cap)
        goto cleanup;
    ret = 0;

cleanup:
    if (ret != 0 && cap > 0)
        out[0] = '\0';
    return ret;
}

/* ratelimit_size() is the number of keys held now, ratelimit_capacity() the most it holds. */

size_t ratelimit_size(void)
{
    size_t n = 0;
    if (!rl_ready)
        return 0;
    for (int i = 0; i < RL_SHARDS; i++) {
        pthread_mutex_lock(&rl_shards[i].mu);
        n += rl_shards[i].n;
        pthread_mutex_unlock(&rl_shards[i].mu);
    }
    return n;
}

size_t ratelimit_capacity(void)
{
    return (size_t)RL_SHARDS * RL_SHARD_CAP;
}
