/*
 * keypool.h - the key pools of the generation providers (DESIGN section 7): which key a
 * call uses, how a key's health follows its answers, and how the secrets of the keys are
 * kept.
 *
 * Keys come from two places. TG_DASHSCOPE_API_KEYS, TG_KIE_API_KEYS and TG_GEMINI_API_KEYS
 * (comma lists) are recorded at start as rows with source "env" and no secret; their id is
 * derived from an HMAC of the secret under a server key (keypool_env_key_id), so it is the
 * same on every start and tells nothing about the secret. Keys added by an admin are stored
 * sealed with AES-256-GCM (keypool_seal). Both server keys are derived from the server's
 * secret (TG_JWT_SECRET or the generated one in the data folder): changing that secret
 * makes admin keys unreadable (they show as disabled, "cannot be unsealed") and gives env
 * keys new ids (new rows; the old rows show as disabled, "not configured").
 *
 * The rules, per key:
 *   - pick: the least recently used healthy key of the provider;
 *   - an error (5xx, timeout, malformed answer) counts; KEYPOOL_COOL_AFTER in a row cool the
 *     key down for KEYPOOL_COOL_MS; then exactly one call (a probe) may use it: success makes
 *     it healthy, an error cools it down again; while the probe is out it is not picked;
 *   - 429: unusable until now + Retry-After (KEYPOOL_RETRY_AFTER_DEFAULT_MS when absent, at
 *     most KEYPOOL_RETRY_AFTER_MAX_MS); not an error of the key;
 *   - rejected (401/403, account out of quota): disabled with the reason; the caller stores
 *     that (store_pkey_set_disabled) so that it lasts across restarts until an admin enables
 *     the key, which makes it healthy again;
 *   - success resets the error count.
 *
 * Threads. A struct keypool belongs to one thread (the dispatcher) and takes no lock. What
 * other threads need (the admin API and /metrics on the HTTP loops, which must never wait
 * for the dispatcher) is published into one process-wide table of KEYPOOL_SLOTS slots, one
 * per key id. Each slot is written by the owner only, as a sequence lock whose every field
 * is an atomic word: readers (keypool_health_get, keypool_metrics_render) copy a slot and
 * retry when it changed under them, at most KEYPOOL_READ_TRIES times, then give up on that
 * slot ("not published"); they never block and never wait for the owner. One keypool per
 * process publishes (the dispatcher's); a second one with the same ids would overwrite the
 * same slots.
 */
#ifndef TG_DOMAIN_KEYPOOL_H
#define TG_DOMAIN_KEYPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "core/ids.h"
#include "core/types.h"
#include "providers/gen/gen.h"
#include "store/store.h"

struct sbuf;
struct store;

/* Three errors in a row, then five minutes of rest (DESIGN section 7). */
#define KEYPOOL_COOL_AFTER 3
#define KEYPOOL_COOL_MS (5 * 60 * 1000)
/* A 429 without Retry-After rests the key this long; a longer Retry-After than the cap is
 * taken as the cap, so a provider's odd answer cannot park a key for a day. */
#define KEYPOOL_RETRY_AFTER_DEFAULT_MS (30 * 1000)
#define KEYPOOL_RETRY_AFTER_MAX_MS (15 * 60 * 1000)
/* A probe nobody reported on for this long (its task was canceled, the process lost it) no
 * longer holds the key: another probe may go. Longer than any provider call's timeout. */
#define KEYPOOL_PROBE_LOST_MS (10 * 60 * 1000)
/* wait_ms that keypool_pick gives when the next usable key is one whose probe is out:
 * its answer decides, so ask again soon. */
#define KEYPOOL_PROBE_WAIT_MS 1000
/* A key rejected in memory stays disabled this long even while the store still says
 * enabled: time for the caller's store_pkey_set_disabled to commit before a reload. Past
 * it, the store wins again (a write that failed is retried by the next rejection). */
#define KEYPOOL_PERSIST_GRACE_MS (60 * 1000)
/* Keys published for other threads (all providers, all ids ever loaded in this process). */
#define KEYPOOL_SLOTS 512
#define KEYPOOL_READ_TRIES 64
/* Text kept for reasons and errors (the provider_key fields' size). */
#define KEYPOOL_TEXT_MAX 128
/* An API key's text: 8..TG_KEY_SECRET_MAX of [A-Za-z0-9] and - _ . ~ + / = : */
#define KEYPOOL_SECRET_MIN 8
/* Characters of a secret shown as its prefix (then "..."). */
#define KEYPOOL_PREFIX_CHARS 6
/* A sealed secret: 12-byte nonce, the ciphertext, the 16-byte tag. */
#define KEYPOOL_BOX_OVERHEAD (12 + 16)

enum keypool_outcome {
    KEYPOOL_OK = 0,       /* the key worked (whatever became of the task) */
    KEYPOOL_ERROR,        /* 5xx, timeout, connection, malformed answer */
    KEYPOOL_RATE_LIMITED, /* 429 */
    KEYPOOL_REJECTED,     /* 401/403, out of credit or quota */
    KEYPOOL__OUTCOMES
};

enum keypool_status {
    KEYPOOL_ST_HEALTHY = 0,
    KEYPOOL_ST_COOLING_DOWN,
    KEYPOOL_ST_RATE_LIMITED,
    KEYPOOL_ST_DISABLED,
};

/* "ok", "error", "rate_limited", "rejected" (the metrics label). */
const char *keypool_outcome_name(enum keypool_outcome o);
/* What a provider's answer (providers/gen/gen.h) says about the key that made the call:
 * GEN_RETRY -> ERROR, GEN_RATE_LIMITED -> RATE_LIMITED, GEN_KEY_REJECTED -> REJECTED,
 * anything else -> OK (the key worked, whatever became of the task). */
enum keypool_outcome keypool_outcome_of(enum gen_outcome o);
/* "healthy", "cooling_down", "rate_limited", "disabled" (the API's status). */
const char *keypool_status_name(enum keypool_status s);

/* 1 when name is a provider with a key pool ("dashscope", "kie", "gemini"), else 0. */
int keypool_provider_valid(const char *name);
/* The configuration key of a provider's env keys ("TG_DASHSCOPE_API_KEYS"), or NULL. */
const char *keypool_provider_env(const char *name);
/* 1 when secret (len bytes) is acceptable as an API key: KEYPOOL_SECRET_MIN..
 * TG_KEY_SECRET_MAX characters of the set above (nothing that could break a header). */
int keypool_secret_valid(const char *secret, size_t len);
/* The prefix shown for a secret: its first KEYPOOL_PREFIX_CHARS characters + "...". */
void keypool_prefix(const char *secret, char out[16]);

/* ---- secrets ---- */

/*
 * The id of an env key: "pk_" + 26 Crockford base32 characters from
 * HMAC-SHA256(server key, provider || 0 || secret), valid for id_valid(id, "pk"). The same
 * secret of the same provider gives the same id on every start (while the server's secret
 * stays); the id reveals nothing about the secret.
 */
void keypool_env_key_id(const char *provider, const char *secret, char id_out[TG_ID_MAX]);

/*
 * Seals secret (len bytes, 1..TG_KEY_SECRET_MAX) for the key `id` into box (room for cap
 * bytes, at least len + KEYPOOL_BOX_OVERHEAD): AES-256-GCM under a key derived from the
 * server's secret, a random nonce, and id as associated data (a box moved to another row
 * does not open). Returns the box length, or -1 (bad length, cap too small).
 */
long keypool_seal(const char *id, const char *secret, size_t len, unsigned char *box, size_t cap);
/*
 * Opens a box made by keypool_seal for the same id. Writes the secret NUL-terminated into
 * out. Returns its length, or -1 when the box was altered, belongs to another id, was
 * sealed under another server secret, or is malformed (out is then "").
 */
long keypool_unseal(const char *id, const unsigned char *box, size_t box_len, char out[TG_KEY_SECRET_MAX + 1]);

/*
 * Records the env keys of every provider as rows (source "env", no secret, prefix, label
 * "env #n" with n the position in its list) unless their id is stored already. Runs store
 * operations directly on s (start-up, the dispatcher's own connection: not a loop).
 * Entries that are not valid keys are skipped with a warning naming the variable and the
 * position, never the text. Returns STORE_OK or the first failure.
 */
enum store_rc keypool_sync_env(struct store *s, int64_t now);

/* ---- the pool (owner thread only) ---- */

struct keypool;

struct keypool *keypool_new(void);
/* Frees kp and wipes the secrets it held. NULL is fine. */
void keypool_free(struct keypool *kp);

/*
 * Replaces the key list with rows (n of them, from store_pkey_list; borrowed for the call).
 * Health in memory (errors, cool-downs, Retry-After, probes, counters not flushed) is kept
 * for ids known already; a key whose row went from disabled to enabled starts healthy; a
 * row disabled is disabled with its stored reason. Env keys take their secret from the
 * configuration (matched by keypool_env_key_id), admin keys from their box; a key without
 * a readable secret is kept but never picked (disabled: "not configured" / "cannot be
 * unsealed"). Publishes every key. Returns 0.
 */
int keypool_load(struct keypool *kp, const struct provider_key *rows, size_t n, int64_t now);

/*
 * Picks the least recently used healthy key of provider at now (ms) and marks it used.
 * A key whose cool-down is over is picked as its probe (once: not again until the probe
 * is reported or lost). Returns 0 with id_out and secret_out (NUL-terminated; wipe after
 * use) and *wait_ms 0; or -1 when no key is usable, with *wait_ms the time until the
 * earliest one may be (KEYPOOL_PROBE_WAIT_MS when that is a probe's answer), or -1 when
 * none will be without an admin (all disabled, or no keys).
 */
int keypool_pick(struct keypool *kp, const char *provider, int64_t now, char id_out[TG_ID_MAX],
                 char secret_out[TG_KEY_SECRET_MAX + 1], int64_t *wait_ms);

/*
 * The secret of key id, whatever its health (a task is polled with the key that submitted
 * it: the provider's task belongs to that account). 0, or -1 when the id is unknown or has
 * no readable secret (secret_out is then "").
 */
int keypool_secret(const struct keypool *kp, const char *id, char secret_out[TG_KEY_SECRET_MAX + 1]);

/*
 * Reports the outcome of one call made with key id at now. retry_after_ms: for
 * KEYPOOL_RATE_LIMITED (0 or less: unknown). reason: for KEYPOOL_REJECTED why (kept as the
 * disabled reason), for KEYPOOL_ERROR the last error; NULL is fine; cut to
 * KEYPOOL_TEXT_MAX - 1 bytes, control characters replaced. *must_persist_disable is set to 1
 * when this report disabled the key: the caller then stores it with
 * store_pkey_set_disabled(s, id, 1, reason, now); else 0. Counts the call (uses, failures
 * for anything but KEYPOOL_OK, last error, metrics). Returns 0, or -1 for an unknown id.
 */
int keypool_report(struct keypool *kp, const char *id, enum keypool_outcome outcome, int64_t retry_after_ms,
                   const char *reason, int64_t now, int *must_persist_disable);

/* The counters of one key gathered since the last flush (strings borrowed for the call). */
struct keypool_stats {
    const char *id;
    int64_t uses, failures;
    int64_t last_used_at; /* 0: not used since */
    const char *last_error; /* NULL: unchanged */
};
/* Stores one key's counters (store_pkey_add_stats). Returns 0 when they were taken (the
 * pool forgets them), else non-zero (kept, handed over again next time). */
typedef int (*keypool_stats_fn)(void *arg, const struct keypool_stats *st);
/* Calls fn for every key with counters not yet handed over. */
void keypool_flush_stats(struct keypool *kp, keypool_stats_fn fn, void *arg);

/* ---- what other threads read (wait-free; see the top of this file) ---- */

struct keypool_health {
    char provider[TG_PROVIDER_MAX];
    enum keypool_status status;   /* at the time it was read (a cool-down may have ended) */
    int probing;                  /* a probe is out */
    int64_t available_at;         /* cooling down / rate limited: when usable again (ms); else 0 */
    int64_t consecutive_errors;
    int64_t uses, failures;       /* not yet flushed to the store */
    int64_t last_used_at;         /* latest use seen by the pool, 0 none */
    uint64_t calls[KEYPOOL__OUTCOMES]; /* reports since start, by outcome */
    char reason[KEYPOOL_TEXT_MAX];     /* status disabled: why */
    char last_error[KEYPOOL_TEXT_MAX]; /* latest error not flushed yet, "" none */
    int stored_disabled;               /* disabled because its stored row was (not by a report
                                          or a missing secret) */
};

/* The published health of key id at now. 0, or -1 when no pool published it (no
 * dispatcher yet) or its slot kept changing while read. */
int keypool_health_get(const char *id, int64_t now, struct keypool_health *out);

/* A key as the admin API shows it: the stored row with the published health over it. */
struct keypool_view {
    enum keypool_status status;
    const char *disabled_reason; /* "" unless disabled; borrowed from row or view */
    int64_t consecutive_errors;
    int64_t available_at;        /* 0: now / not applicable */
    int64_t uses, failures;      /* stored + not flushed */
    int64_t last_used_at;
    const char *last_error;      /* "" none */
    struct keypool_health h;     /* storage for the strings above */
};
/* Fills v for row at now (with no published health: disabled or healthy from the row). */
void keypool_view(const struct provider_key *row, int64_t now, struct keypool_view *v);

/*
 * Appends to a /metrics body: tollgate_provider_key_calls_total{provider,key,outcome}
 * (counter) and tollgate_provider_key_up{provider,key} (1 usable, 0 not); key is the key
 * id, never anything of the secret. Wait-free.
 */
void keypool_metrics_render(struct sbuf *out);

#endif
