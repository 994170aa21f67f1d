/*
 * ratelimit.h - named rate-limit policies with a GCRA limiter (DESIGN section 10).
 *
 * GCRA (generic cell rate algorithm) keeps one "theoretical arrival time" per key. A policy
 * of L requests per period P admits a burst of at most L and then one request every P/L:
 * unlike fixed windows it never admits 2L around a window edge.
 * State is in memory, shared by all worker threads (striped locks), bounded in size.
 */
#ifndef TG_DOMAIN_RATELIMIT_H
#define TG_DOMAIN_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

/* Keep RL__COUNT last: it sizes the tables. Defaults and why they are what they are: in
 * ratelimit.c. Keys: "u:<user id>" for users, ratelimit_ip_key() for client addresses. */
enum rl_policy {
    RL_NONE = 0,
    RL_API_QUERY,       /* api_query: 100 per 60 s per user (seeds: API_QUERY) */
    RL_AUTH_IP,         /* auth_ip: 20 per 60 s per client IP on sign-in/up/refresh */
    RL_AUTH_ACCOUNT,    /* auth_account: 10 per 15 min per account (email) on login */
    RL_PAYMENT,         /* payment: 5 per hour per user (seeds: PAYMENT_REQUEST) */
    RL_VIDEO,           /* video: 10 per hour per user (seeds: VIDEO_GENERATION) */
    RL_REGISTER_IP,     /* register_ip: 5 registrations per hour per client address */
    RL_REGISTER_GLOBAL, /* register_global: 60 registrations per minute per process,
                           counted under RATELIMIT_KEY_GLOBAL */
    RL_AUTH_FAIL,       /* auth_fail: 20 failed authentications (bad access token, bad API
                           key) per minute per client address; see ratelimit_peek() */
    RL_MAIL_ADDRESS,    /* mail_address: 3 password-reset mails per hour per address,
                           keyed "mail:<normalized address>" */
    RL__COUNT
};

/* The one key of a policy counted for the whole process (register_global). With several
 * nodes each counts its own: the ceiling is per node. */
#define RATELIMIT_KEY_GLOBAL "*"

struct rl_result {
    int allowed;
    int64_t limit;         /* L of the policy */
    int64_t remaining;     /* requests still admitted right now */
    int64_t reset_s;       /* seconds until the bucket is full again */
    int64_t retry_after_s; /* when !allowed: seconds until one more is admitted (>= 1) */
};

/*
 * Sets up the policies: defaults above, overridden by `spec` (TG_RATE_LIMITS), e.g.
 * "api_query=100/60s,auth_ip=20/60s,payment=5/1h,register_ip=5/1h" (units s, m, h; L from
 * 1 to 1000000, period from 1 s to 168 h; "name=off" disables one policy, "off" alone
 * disables all; NULL or "" keeps defaults; a name given twice is an error). Returns 0, or
 * -1 with *err set (caller frees) and the running policies unchanged.
 */
int ratelimit_init(const char *spec, char **err);
/* Frees all state. */
void ratelimit_shutdown(void);
/* The policy's name in TG_RATE_LIMITS ("api_query", ...; "unknown" when out of range). */
const char *ratelimit_policy_name(enum rl_policy p);
/* 1 when the policy is active (not disabled). */
int ratelimit_enabled(enum rl_policy p);
/* Counts one request for (p, key) at now_ms and says whether it is admitted. Thread-safe.
 * A disabled policy always admits, with limit 0. */
void ratelimit_check(enum rl_policy p, const char *key, int64_t now_ms, struct rl_result *out);
/*
 * Says what ratelimit_check() would answer for (p, key) at now_ms, without counting
 * anything: allowed, and remaining = how many checks would be admitted now (one more than
 * a check would report after counting itself). For policies that count failures rather
 * than requests (auth_fail): peek before the expensive work and refuse with 429 when not
 * allowed, then ratelimit_check() once per failure. Peek and check are separate steps, so
 * concurrent failures from one key can pass the limit by the number in flight. Thread-safe.
 */
void ratelimit_peek(enum rl_policy p, const char *key, int64_t now_ms, struct rl_result *out);

/* Room for any key ratelimit_ip_key() writes, NUL included: the longest is
 * "ip:ffff:ffff:ffff:ffff::/64" (27 bytes). */
#define RATELIMIT_IP_KEY_MAX 32

/*
 * Turns a client address (the text of an IPv4 or IPv6 address, as from inet_ntop: no
 * brackets, port, zone or surrounding spaces) into the rate-limit key for that client:
 *   IPv4                  "ip:192.0.2.1"
 *   IPv4-mapped IPv6      "ip:192.0.2.1" (::ffff:192.0.2.1 is that IPv4 client)
 *   other IPv6            "ip:2001:db8:1:2::/64", its /64 in RFC 5952 form
 * Why the /64: a host is usually given a whole /64 (SLAAC, privacy addresses, RFC 6177)
 * and may pick any of its 2^64 addresses per request, so a per-address key would not limit
 * it at all. Different spellings of one address or /64 give one key. The "ip:" prefix keeps
 * these keys apart from "u:<user id>" keys when both are counted under one policy.
 * out: cap bytes; RATELIMIT_IP_KEY_MAX always suffice. Returns 0, or -1 with out "" (when
 * cap > 0) if ip is NULL or not an address, or the key does not fit (never truncated).
 * Callers must not skip limiting on -1.
 */
int ratelimit_ip_key(const char *ip, char *out, size_t cap);

/* Number of keys currently tracked, and the most that can be (memory bound). For tests
 * and metrics. */
size_t ratelimit_size(void);
size_t ratelimit_capacity(void);

#endif
