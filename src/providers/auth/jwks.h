/*
 * jwks.h - JSON Web Key Sets (RFC 7517) of an identity provider's RS256 signing keys, and
 * the process-wide cache of the current set.
 *
 * Nothing here touches the network: the provider's glue (google.c) asks the cache what to do
 * (jwks_cache_begin, jwks_cache_claim_unknown_kid), fetches through net.h on its own loop,
 * parses the answer (jwks_parse, jwks_ttl_s) and installs it (jwks_cache_install). Every
 * function takes the time from its caller, so the policy is tested with an injected clock.
 *
 * Sets are immutable once built and reference-counted: every loop thread may verify with the
 * set it holds while another installs a new one. The cache's mutex is held only to swap a
 * pointer or read a timestamp, never during a fetch, a parse or a verification.
 */
#ifndef TG_PROVIDERS_AUTH_JWKS_H
#define TG_PROVIDERS_AUTH_JWKS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/jwt.h"
#include "crypto/rsa.h"

/* Largest JWKS document read (Google's is about 1 KiB for its 2 or 3 keys). */
#define JWKS_MAX_BYTES (64 * 1024)
/* Most entries a document may have, usable or not; more is refused, not truncated. */
#define JWKS_MAX_KEYS 20
/* Bounds of the time a fetched set is fresh, from its Cache-Control max-age. Google sends
 * about 6 hours; below a minute we would fetch on almost every sign-in, past a day we
 * would miss a revocation for too long. */
#define JWKS_TTL_MIN_S 60
#define JWKS_TTL_MAX_S 86400
/* How long past its freshness a set may still be used while refreshing it keeps failing:
 * long enough to ride out a provider hiccup, short enough that a key the provider withdrew
 * stops being trusted soon. */
#define JWKS_STALE_GRACE_MS (3600 * 1000LL)
/* A refresh that one caller claimed and that has not been installed within this time may be
 * claimed again (the claimant failed, or is slow): at most one refresh every 30 s. */
#define JWKS_REFRESH_CLAIM_MS 30000
/* At most one fetch per this interval, process-wide, because of a token whose kid is not in
 * the current set, so that forged kids cannot make us hammer the provider. */
#define JWKS_UNKNOWN_KID_INTERVAL_MS 30000

struct jwks_key {
    char kid[JWT_KID_MAX + 1];
    struct rsa_key *key;
};

/* An immutable key set. */
struct jwks_set {
    atomic_long refs;
    int64_t fetched_ms;  /* when it was fetched (caller's clock) */
    int64_t expires_ms;  /* fresh until then */
    size_t n;
    struct jwks_key keys[JWKS_MAX_KEYS];
};

enum jwks_rc {
    JWKS_OK = 0,
    JWKS_MALFORMED, /* not a JSON object with a "keys" array of objects, or duplicate kids */
    JWKS_TOO_LARGE, /* over JWKS_MAX_BYTES, or more than JWKS_MAX_KEYS entries */
    JWKS_NO_KEYS,   /* no usable key in it */
};

/* "ok", "malformed", "too_large", "no_keys" (static strings). */
const char *jwks_rc_name(enum jwks_rc rc);

/*
 * Parses a JWKS document (len bytes, need not be NUL-terminated). Usable keys are those with
 * kty "RSA", a kid of printable ASCII (1..JWT_KID_MAX), "alg" absent or "RS256", "use" absent
 * or "sig", and n and e that load under the RSA key policy (crypto/rsa.h); other entries are
 * skipped and counted in *ignored (when not NULL). Two usable keys with one kid make the
 * document JWKS_MALFORMED (which key would sign is then ambiguous).
 * On JWKS_OK *out is a new set with one reference, fetched_ms and expires_ms 0 (release with
 * jwks_set_unref); otherwise *out is NULL.
 */
enum jwks_rc jwks_parse(const char *body, size_t len, struct jwks_set **out, size_t *ignored);

/* The key with this kid in s, or NULL. Borrowed while the caller holds a reference to s. */
const struct rsa_key *jwks_find(const struct jwks_set *s, const char *kid);

/* Takes / releases a reference; the last release frees the set and its keys. NULL is fine. */
void jwks_set_ref(struct jwks_set *s);
void jwks_set_unref(struct jwks_set *s);

/* 1 when s may still be used at now_ms (fresh, or stale by less than the grace), else 0. */
int jwks_set_usable(const struct jwks_set *s, int64_t now_ms);

/*
 * Cache-Control (RFC 9111 section 5.2), parsed for what a JWKS client needs. The value is a
 * comma-separated list of directives `token [ "=" ( token / quoted-string ) ]` with optional
 * blanks; names are case-insensitive; a quoted-string may hold commas and \-escapes.
 */
struct cache_control {
    int64_t max_age;  /* delta-seconds of the one max-age directive (saturates at 2^31 - 1,
                         as RFC 9111 1.2.2 says), -1 when absent */
    int n_max_age;    /* how many max-age directives there were */
    int no_store;     /* no-store present */
    int no_cache;     /* no-cache present (with or without a field list) */
};
/*
 * Parses a Cache-Control value (len bytes). Returns 0 with *out set, or -1 when the text does
 * not follow the grammar (or a max-age value is not delta-seconds); *out is then zeroed with
 * max_age -1.
 */
int cache_control_parse(const char *v, size_t len, struct cache_control *out);

/*
 * How long, in seconds, a JWKS fetched with this Cache-Control value (NULL: no header) stays
 * fresh: its max-age within [JWKS_TTL_MIN_S, JWKS_TTL_MAX_S]; the minimum when the header is
 * absent or malformed, has no or several max-age directives, or says no-store or no-cache.
 */
int64_t jwks_ttl_s(const char *cache_control);

/* The process-wide cache of one provider's keys. Initialise with JWKS_CACHE_INIT. */
struct jwks_cache {
    pthread_mutex_t mu;
    struct jwks_set *cur;        /* NULL until the first fetch succeeds */
    int64_t refresh_claimed_ms;  /* when a caller claimed the refresh of a stale set, or 0 */
    int64_t unknown_kid_ms;      /* when the last unknown-kid fetch was allowed, or 0 */
    uint64_t fetches_installed;  /* for tests and metrics */
};
#define JWKS_CACHE_INIT {PTHREAD_MUTEX_INITIALIZER, NULL, 0, 0, 0}

enum jwks_plan {
    JWKS_USE,   /* use *set as it is */
    JWKS_FETCH, /* fetch the document; *set (may be NULL) is a stale set to fall back on if
                   the fetch fails and jwks_set_usable() still says so */
};

/*
 * What a verification at now_ms should do. *set receives the current set with a reference
 * (release with jwks_set_unref), or NULL:
 *   - no set, or a set past its grace: JWKS_FETCH, *set NULL (every such caller fetches);
 *   - a fresh set: JWKS_USE;
 *   - a stale set within its grace: the first caller claims the refresh and gets JWKS_FETCH
 *     (with the stale set as fallback); while that claim is younger than
 *     JWKS_REFRESH_CLAIM_MS, the others get JWKS_USE with the stale set.
 */
enum jwks_plan jwks_cache_begin(struct jwks_cache *c, int64_t now_ms, struct jwks_set **set);

/*
 * A token's kid is not in the set the caller used: returns 1 when the caller may fetch now
 * (and records the time, so that other callers get 0 for JWKS_UNKNOWN_KID_INTERVAL_MS), else 0.
 */
int jwks_cache_claim_unknown_kid(struct jwks_cache *c, int64_t now_ms);

/*
 * Installs s, fetched at fetched_ms and fresh for ttl_s seconds (sets its times), unless the
 * cache already holds a set fetched later. The cache takes its own reference; the caller
 * keeps its own. Ends a claimed refresh.
 */
void jwks_cache_install(struct jwks_cache *c, struct jwks_set *s, int64_t fetched_ms, int64_t ttl_s);

/* Drops the current set and the claims (tests; shutdown). */
void jwks_cache_clear(struct jwks_cache *c);

#endif
