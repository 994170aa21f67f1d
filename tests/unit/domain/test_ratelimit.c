/* Unit tests for src/domain/ratelimit.c: GCRA arithmetic on a fake clock, policy specs,
 * isolation, bounded memory and behaviour under threads. */
#include "../test.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdlib.h>

#include "core/mem.h"
#include "domain/ratelimit.h"

/* Test hooks defined in ratelimit.c (not yet in ratelimit.h). */
size_t ratelimit_size(void);
size_t ratelimit_capacity(void);

#define T0 INT64_C(1700000000000) /* an arbitrary wall-clock ms */

static char *err;

static int init(const char *spec)
{
    free(err);
    err = NULL;
    int rc = ratelimit_init(spec, &err);
    if (err)
        printf("# ratelimit_init: %s\n", err);
    return rc;
}

/* Number admitted out of n requests for (p, key) at one instant. */
static int burst(enum rl_policy p, const char *key, int64_t now, int n)
{
    struct rl_result r;
    int ok = 0;
    for (int i = 0; i < n; i++) {
        ratelimit_check(p, key, now, &r);
        ok += r.allowed;
    }
    return ok;
}

static int admits(enum rl_policy p, const char *key, int64_t now)
{
    struct rl_result r;
    ratelimit_check(p, key, now, &r);
    return r.allowed;
}

static void test_burst_and_steady(void)
{
    struct rl_result r;
    int remaining_ok = 1;
    init(NULL);
    /* api_query: 100 per 60 s, so T = 600 ms and tau = 59.4 s */
    for (int i = 0; i < 100; i++) {
        ratelimit_check(RL_API_QUERY, "usr_1", T0, &r);
        if (!r.allowed || r.remaining != 99 - i || r.limit != 100)
            remaining_ok = 0;
    }
    CHECK(remaining_ok, "a fresh key admits exactly L=100 at once, remaining 99..0");
    CHECK_INT_EQ(r.reset_s, 60, "after the burst the bucket is full again in 60 s");
    ratelimit_check(RL_API_QUERY, "usr_1", T0, &r);
    CHECK(!r.allowed && r.remaining == 0, "request L+1 is refused");
    CHECK_INT_EQ(r.retry_after_s, 1, "Retry-After rounds 600 ms up to 1 s");
    CHECK_INT_EQ(r.reset_s, 60, "reset on refusal");
    CHECK(burst(RL_API_QUERY, "usr_1", T0, 1000) == 0, "refusals do not count or help");
    CHECK(!admits(RL_API_QUERY, "usr_1", T0 + 599), "599 ms later: still refused");
    int steady = 1;
    for (int k = 1; k <= 50; k++) {
        int64_t t = T0 + k * 600;
        if (burst(RL_API_QUERY, "usr_1", t, 5) != 1)
            steady = 0;
    }
    CHECK(steady, "then exactly one per T = 600 ms (50 periods)");
    CHECK(!admits(RL_API_QUERY, "usr_1", T0 + 50 * 600 - 5000), "a clock stepping back does not refill");
    CHECK(burst(RL_API_QUERY, "usr_1", T0 + 50 * 600 + 60000, 200) == 100,
          "after a full period idle: L again");
}

static void test_headers(void)
{
    struct rl_result r;
    init(NULL);
    /* payment: 5 per hour, T = 720 s, tau = 2880 s */
    ratelimit_check(RL_PAYMENT, "usr_p", T0, &r);
    CHECK(r.allowed && r.limit == 5 && r.remaining == 4 && r.reset_s == 720 && r.retry_after_s == 0,
          "first: remaining 4, reset 720 s");
    burst(RL_PAYMENT, "usr_p", T0, 4);
    ratelimit_check(RL_PAYMENT, "usr_p", T0, &r);
    CHECK(!r.allowed && r.remaining == 0 && r.reset_s == 3600 && r.retry_after_s == 720,
          "sixth: refused, retry after 720 s, reset 3600 s (got %lld/%lld)", (long long)r.retry_after_s,
          (long long)r.reset_s);
    ratelimit_check(RL_PAYMENT, "usr_p", T0 + 719999, &r);
    CHECK(!r.allowed && r.retry_after_s == 1, "1 ms before: retry after rounds up to 1");
    ratelimit_check(RL_PAYMENT, "usr_p", T0 + 719500, &r);
    CHECK(!r.allowed && r.retry_after_s == 1, "retry after 0.5 s rounds up to 1");
    ratelimit_check(RL_PAYMENT, "usr_p", T0 + 720000, &r);
    CHECK(r.allowed && r.remaining == 0 && r.reset_s == 3600, "exactly T later: admitted, remaining 0");
    /* two emission intervals idle give back two, one of which this request uses */
    ratelimit_check(RL_PAYMENT, "usr_p", T0 + 720000 + 2 * 720000, &r);
    CHECK(r.allowed && r.remaining == 1 && r.reset_s == 3600 - 720,
          "partial refill: remaining %lld, reset %lld", (long long)r.remaining, (long long)r.reset_s);
    ratelimit_check(RL_PAYMENT, "usr_q", T0 + 1, &r);
    CHECK(r.allowed && r.reset_s == 720, "reset rounds up from whole ms");

    /* a policy whose T is not a whole second: 3 per 1 s */
    init("auth_ip=3/1s");
    CHECK(burst(RL_AUTH_IP, "ip", T0, 10) == 3, "3/1s burst of 3");
    ratelimit_check(RL_AUTH_IP, "ip", T0, &r);
    CHECK(!r.allowed && r.retry_after_s == 1 && r.reset_s == 1, "3/1s refused: retry 1, reset 1");
    CHECK(!admits(RL_AUTH_IP, "ip", T0 + 333) && admits(RL_AUTH_IP, "ip", T0 + 334),
          "T = 333.33 ms kept exactly");
}

static void test_window_edge(void)
{
    init(NULL);
    /* The fixed-window attack: L just before a minute boundary, L just after. */
    int64_t edge = (T0 / 60000 + 1) * 60000;
    int first = burst(RL_API_QUERY, "attacker", edge - 1, 100);
    int second = burst(RL_API_QUERY, "attacker", edge, 100);
    CHECK(first == 100 && second == 0, "L before the window edge, none right after (%d + %d)", first, second);
    int third = burst(RL_API_QUERY, "attacker", edge - 1 + 600, 100);
    CHECK(third == 1, "one emission interval after the burst: exactly one more");

    /* A client firing every 10 ms for 10 minutes: no interval of length 2T ever holds more
     * than L+1 admissions, and the long-run total is L + duration/T. */
    init(NULL);
    const int64_t step = 10, dur = 600000, T = 600;
    int64_t *at = xmalloc(sizeof *at * (size_t)(dur / step));
    size_t n = 0;
    for (int64_t t = 0; t < dur; t += step)
        if (admits(RL_API_QUERY, "sweeper", T0 + t))
            at[n++] = t;
    size_t worst = 0;
    for (size_t i = 0, j = 0; i < n; i++) {
        while (j < n && at[j] < at[i] + 2 * T)
            j++;
        if (j - i > worst)
            worst = j - i;
    }
    CHECK(worst <= 101, "at most L+1 admitted in any interval of 2T (worst %zu)", worst);
    CHECK(n <= (size_t)(100 + dur / T), "long-run total %zu <= L + duration/T", n);
    CHECK(n >= (size_t)(100 + dur / T - 1), "and the full rate is available (%zu)", n);
    free(at);
}

static void test_specs(void)
{
    struct rl_result r;
    CHECK(init(NULL) == 0 && init("") == 0, "NULL and empty keep the defaults");
    CHECK(burst(RL_AUTH_IP, "x", T0, 50) == 20 && burst(RL_AUTH_ACCOUNT, "x", T0, 50) == 10 &&
              burst(RL_PAYMENT, "x", T0, 50) == 5 && burst(RL_VIDEO, "x", T0, 50) == 10 &&
              burst(RL_API_QUERY, "x", T0, 500) == 100,
          "defaults: auth_ip 20, auth_account 10, payment 5, video 10, api_query 100");
    CHECK(init("api_query=7/60s, auth_ip=20/1m ,payment=2/1h,video=off") == 0, "a full spec parses");
    CHECK(burst(RL_API_QUERY, "y", T0, 50) == 7 && burst(RL_PAYMENT, "y", T0, 50) == 2, "limits applied");
    CHECK(!admits(RL_API_QUERY, "y", T0 + 60000 / 7 - 1) && admits(RL_API_QUERY, "y", T0 + 60000 / 7 + 1),
          "7/60s emits one per 8.57 s");
    CHECK(!ratelimit_enabled(RL_VIDEO) && ratelimit_enabled(RL_PAYMENT), "name=off disables one");
    ratelimit_check(RL_VIDEO, "y", T0, &r);
    CHECK(r.allowed && r.limit == 0, "a disabled policy admits with limit 0");
    CHECK(burst(RL_AUTH_ACCOUNT, "y", T0, 50) == 10, "unnamed policies keep defaults");
    CHECK(init("auth_account=1000000/168h") == 0 && burst(RL_AUTH_ACCOUNT, "z", T0, 3) == 3,
          "upper bounds accepted");

    CHECK(init("off") == 0, "off parses");
    int all_off = 1;
    for (int p = RL_API_QUERY; p < RL__COUNT; p++) {
        ratelimit_check((enum rl_policy)p, "k", T0, &r);
        all_off &= !ratelimit_enabled((enum rl_policy)p) && r.allowed && r.limit == 0;
    }
    CHECK(all_off, "off disables every policy");
    ratelimit_check(RL_NONE, "k", T0, &r);
    CHECK(r.allowed && r.limit == 0 && !ratelimit_enabled(RL_NONE), "RL_NONE always admits");

    static const struct {
        const char *spec, *needle;
    } bad[] = {
        {"foo=1/1s", "unknown policy 'foo'"},
        {"none=1/1s", "unknown policy 'none'"},
        {"API_QUERY=1/1s", "unknown policy"},
        {"api_query=0/1s", "api_query"},
        {"api_query=1/0s", "api_query"},
        {"api_query=-1/1s", "api_query"},
        {"api_query=99999999999999999999/1s", "api_query"},
        {"api_query=1/99999999999999999999s", "api_query"},
        {"api_query=1000001/1s", "api_query"},
        {"api_query=1/169h", "api_query"},
        {"api_query=1/1d", "api_query"},
        {"api_query=1/s", "api_query"},
        {"api_query=1/1sx", "api_query"},
        {"api_query=1", "api_query"},
        {"api_query=abc", "api_query"},
        {"api_query=", "api_query"},
        {"api_query=1/1 s", "api_query"},
        {"api_query", "should look like"},
        {"api_query=1/1s,", "empty entry"},
        {",api_query=1/1s", "empty entry"},
        {"api_query=1/1s,,payment=1/1h", "empty entry"},
        {"api_query=1/1s,api_query=2/1s", "given twice"},
        {"off,api_query=1/1s", "alone"},
        {"OFF", "should look like"},
        {"api_query=OFF", "api_query"},
    };
    CHECK(init("payment=3/1h") == 0, "baseline before the error cases");
    int all_bad = 1;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = init(bad[i].spec);
        int ok = rc == -1 && err && strstr(err, "TG_RATE_LIMITS") && strstr(err, bad[i].needle);
        if (!ok)
            printf("#   spec '%s' -> rc %d, err %s\n", bad[i].spec, rc, err ? err : "(null)");
        all_bad &= ok;
    }
    CHECK(all_bad, "every malformed spec is refused with a message naming TG_RATE_LIMITS (%zu cases)",
          sizeof bad / sizeof bad[0]);
    CHECK(burst(RL_PAYMENT, "w", T0, 10) == 3, "a refused spec leaves the running policies alone");
    CHECK_STR_EQ(ratelimit_policy_name(RL_AUTH_ACCOUNT), "auth_account", "policy names");
    CHECK_STR_EQ(ratelimit_policy_name(RL__COUNT), "unknown", "out-of-range policy name");
}

/* The registration and failed-authentication policies. */
static void test_new_policies(void)
{
    struct rl_result r;
    init(NULL);
    CHECK_STR_EQ(ratelimit_policy_name(RL_REGISTER_IP), "register_ip", "name of RL_REGISTER_IP");
    CHECK_STR_EQ(ratelimit_policy_name(RL_REGISTER_GLOBAL), "register_global", "name of RL_REGISTER_GLOBAL");
    CHECK_STR_EQ(ratelimit_policy_name(RL_AUTH_FAIL), "auth_fail", "name of RL_AUTH_FAIL");
    CHECK(ratelimit_enabled(RL_REGISTER_IP) && ratelimit_enabled(RL_REGISTER_GLOBAL) &&
              ratelimit_enabled(RL_AUTH_FAIL),
          "the new policies are on by default");

    /* register_ip: 5 per hour, then one per 12 min */
    CHECK(burst(RL_REGISTER_IP, "ip:192.0.2.1", T0, 10) == 5, "register_ip default: 5 at once");
    ratelimit_check(RL_REGISTER_IP, "ip:192.0.2.1", T0, &r);
    CHECK(!r.allowed && r.limit == 5 && r.retry_after_s == 720, "then refused, retry after 720 s");
    CHECK(!admits(RL_REGISTER_IP, "ip:192.0.2.1", T0 + 719999) &&
              admits(RL_REGISTER_IP, "ip:192.0.2.1", T0 + 720000),
          "register_ip: one more after 12 min");
    /* register_global: 60 per minute, then one per second */
    CHECK(burst(RL_REGISTER_GLOBAL, RATELIMIT_KEY_GLOBAL, T0, 100) == 60,
          "register_global default: 60 at once");
    CHECK(!admits(RL_REGISTER_GLOBAL, RATELIMIT_KEY_GLOBAL, T0 + 999) &&
              admits(RL_REGISTER_GLOBAL, RATELIMIT_KEY_GLOBAL, T0 + 1000),
          "register_global: one more after 1 s");
    /* auth_fail: 20 per minute, then one per 3 s */
    CHECK(burst(RL_AUTH_FAIL, "ip:2001:db8::/64", T0, 50) == 20, "auth_fail default: 20 at once");
    CHECK(!admits(RL_AUTH_FAIL, "ip:2001:db8::/64", T0 + 2999) &&
              admits(RL_AUTH_FAIL, "ip:2001:db8::/64", T0 + 3000),
          "auth_fail: one more after 3 s");
    CHECK(burst(RL_AUTH_IP, "ip:2001:db8::/64", T0, 50) == 20,
          "auth_fail does not use up auth_ip for the same key");

    CHECK(init("register_ip=2/1h, register_global=off,auth_fail=3/10s") == 0, "the new names parse");
    CHECK(burst(RL_REGISTER_IP, "k", T0, 10) == 2 && burst(RL_AUTH_FAIL, "k", T0, 10) == 3 &&
              !ratelimit_enabled(RL_REGISTER_GLOBAL),
          "and their limits apply");
    CHECK(burst(RL_AUTH_IP, "k", T0, 50) == 20 && burst(RL_API_QUERY, "k", T0, 500) == 100,
          "while the others keep their defaults");

    /* Every policy can be named in TG_RATE_LIMITS by ratelimit_policy_name(). */
    int named = 1;
    for (int p = RL_API_QUERY; p < RL__COUNT; p++) {
        char spec[64];
        snprintf(spec, sizeof spec, "%s=1/1h", ratelimit_policy_name((enum rl_policy)p));
        named &= init(spec) == 0 && burst((enum rl_policy)p, "n", T0, 3) == 1;
    }
    CHECK(named, "every policy's name is accepted in a spec and sets that policy");
    CHECK(init("nope=1/1s") == -1 && strstr(err, "api_query") && strstr(err, "auth_ip") &&
              strstr(err, "auth_account") && strstr(err, "payment") && strstr(err, "video") &&
              strstr(err, "register_ip") && strstr(err, "register_global") && strstr(err, "auth_fail"),
          "an unknown name lists every known policy: %s", err ? err : "(null)");
}

/* ratelimit_peek answers what ratelimit_check would, without counting. */
static void test_peek(void)
{
    struct rl_result r, c;
    init("auth_fail=3/60s,video=off");
    size_t before = ratelimit_size();
    ratelimit_peek(RL_AUTH_FAIL, "ip:192.0.2.7", T0, &r);
    CHECK(r.allowed && r.limit == 3 && r.remaining == 3 && r.reset_s == 0 && r.retry_after_s == 0,
          "fresh key: allowed, all 3 remaining, nothing to reset");
    CHECK(ratelimit_size() == before, "a peek at an unknown key stores nothing");
    int free_peeks = 1;
    for (int i = 0; i < 100; i++) {
        ratelimit_peek(RL_AUTH_FAIL, "ip:192.0.2.7", T0, &r);
        free_peeks &= r.allowed && r.remaining == 3;
    }
    CHECK(free_peeks, "peeks do not count");
    ratelimit_check(RL_AUTH_FAIL, "ip:192.0.2.7", T0, &c);
    ratelimit_peek(RL_AUTH_FAIL, "ip:192.0.2.7", T0, &r);
    CHECK(r.allowed && r.remaining == 2 && c.remaining == 2 && r.reset_s == 20,
          "after one counted failure: 2 remaining, reset 20 s (got %lld, %lld)", (long long)r.remaining,
          (long long)r.reset_s);
    burst(RL_AUTH_FAIL, "ip:192.0.2.7", T0, 2);
    ratelimit_peek(RL_AUTH_FAIL, "ip:192.0.2.7", T0 + 500, &r);
    ratelimit_check(RL_AUTH_FAIL, "ip:192.0.2.7", T0 + 500, &c);
    CHECK(!r.allowed && r.remaining == 0 && r.retry_after_s == 20 && r.reset_s == 60,
          "exhausted: refused, retry after 20 s, reset 60 s (got %lld, %lld)", (long long)r.retry_after_s,
          (long long)r.reset_s);
    CHECK(!c.allowed && c.retry_after_s == r.retry_after_s && c.reset_s == r.reset_s,
          "and ratelimit_check agrees");
    ratelimit_peek(RL_AUTH_FAIL, "ip:192.0.2.7", T0 + 20000, &r);
    CHECK(r.allowed && r.remaining == 1, "one emission interval later: one admitted again");
    ratelimit_peek(RL_AUTH_FAIL, "ip:192.0.2.8", T0, &r);
    CHECK(r.allowed && r.remaining == 3, "another address is not affected");
    ratelimit_peek(RL_VIDEO, "u:x", T0, &r);
    CHECK(r.allowed && r.limit == 0, "a disabled policy: allowed with limit 0");

    /* The auth_fail pattern: peek before checking credentials, count only failures. */
    init("auth_fail=20/60s");
    int served = 0, refused = 0;
    for (int i = 0; i < 100; i++) {
        ratelimit_peek(RL_AUTH_FAIL, "ip:2001:db8::/64", T0 + i, &r);
        if (!r.allowed) {
            refused++;
            continue;
        }
        served++;
        if (i % 2 == 0) /* every other request has bad credentials */
            ratelimit_check(RL_AUTH_FAIL, "ip:2001:db8::/64", T0 + i, &c);
    }
    CHECK(served == 39 && refused == 61, "20 failures among 39 requests, then 429 (served %d, refused %d)",
          served, refused);

    /* Against ratelimit_check on one key, over a pseudo-random timeline. */
    init("payment=7/70s");
    uint64_t st = 42;
    int64_t t = T0;
    int agree = 1;
    for (int i = 0; i < 20000; i++) {
        st = st * 6364136223846793005ULL + 1442695040888963407ULL;
        t += (int64_t)(st >> 33) % 15000;
        ratelimit_peek(RL_PAYMENT, "u:p", t, &r);
        ratelimit_check(RL_PAYMENT, "u:p", t, &c);
        if (r.allowed != c.allowed || r.limit != c.limit ||
            (c.allowed ? r.remaining != c.remaining + 1 || r.retry_after_s != 0
                       : r.remaining != 0 || r.reset_s != c.reset_s || r.retry_after_s != c.retry_after_s))
            agree = 0;
    }
    CHECK(agree, "20000 steps: peek's verdict equals check's, with remaining one higher when admitted");
}

static void test_isolation(void)
{
    init(NULL);
    CHECK(burst(RL_PAYMENT, "usr_a", T0, 10) == 5, "usr_a uses its payment budget");
    CHECK(burst(RL_PAYMENT, "usr_b", T0, 10) == 5, "usr_b has its own");
    CHECK(burst(RL_VIDEO, "usr_a", T0, 20) == 10, "usr_a's video policy is separate from payment");
    CHECK(burst(RL_PAYMENT, "", T0, 10) == 5, "the empty key is a key like others");

    /* Keys longer than the stored 128 bytes are hashed whole, never truncated. */
    char a[301], b[301];
    memset(a, 'k', 300);
    a[300] = '\0';
    memcpy(b, a, sizeof a);
    b[299] = 'j';
    CHECK(burst(RL_PAYMENT, a, T0, 10) == 5 && burst(RL_PAYMENT, b, T0, 10) == 5,
          "two long keys differing only in the last byte are separate");
    CHECK(burst(RL_PAYMENT, a, T0, 10) == 0, "a long key is limited consistently");
    a[128] = '\0';
    b[128] = '\0';
    b[127] = 'j';
    CHECK(burst(RL_PAYMENT, a, T0, 10) == 5 && burst(RL_PAYMENT, b, T0, 10) == 5,
          "128-byte keys stored whole");
    a[128] = 'k';
    a[129] = '\0';
    CHECK(burst(RL_PAYMENT, a, T0, 10) == 5, "129 bytes (digest) differs from its 128-byte prefix");
}

static void test_eviction(void)
{
    char key[32];
    size_t cap = ratelimit_capacity();
    init(NULL);
    CHECK(burst(RL_PAYMENT, "victim", T0, 10) == 5, "a key at its limit");
    /* A flood of distinct keys at one instant: nothing has expired, so the oldest TATs go. */
    size_t flood = cap * 3, max_seen = 0;
    for (size_t i = 0; i < flood; i++) {
        snprintf(key, sizeof key, "flood-%zu", i);
        admits(RL_PAYMENT, key, T0);
        if ((i & 0xffff) == 0 && ratelimit_size() > max_seen)
            max_seen = ratelimit_size();
    }
    size_t size = ratelimit_size();
    CHECK(size <= cap && max_seen <= cap, "memory stays bounded: %zu keys held after %zu inserted (cap %zu)",
          size, flood, cap);
    CHECK(size >= cap / 2, "and the table stays useful (%zu held)", size);
    CHECK(!admits(RL_PAYMENT, "victim", T0), "the key with the latest TAT survives the flood: still limited");
    /* Once the flood's buckets are full again (TAT <= now), they are dropped first. */
    int64_t later = T0 + 3600 * 1000;
    for (size_t i = 0; i < cap; i++) {
        snprintf(key, sizeof key, "later-%zu", i);
        admits(RL_API_QUERY, key, later);
    }
    CHECK(ratelimit_size() <= cap, "second flood also bounded (%zu)", ratelimit_size());
    ratelimit_shutdown();
    CHECK(ratelimit_size() == 0, "shutdown frees all state");
}

static void test_ip_key(void)
{
    static const struct {
        const char *ip, *want; /* want NULL: refused */
    } cases[] = {
        {"192.0.2.1", "ip:192.0.2.1"},
        {"255.255.255.255", "ip:255.255.255.255"},
        {"0.0.0.0", "ip:0.0.0.0"},
        /* IPv4-mapped IPv6 (a dual-stack socket's view of an IPv4 client) is that client */
        {"::ffff:192.0.2.1", "ip:192.0.2.1"},
        {"::FFFF:192.0.2.1", "ip:192.0.2.1"},
        {"::ffff:c000:201", "ip:192.0.2.1"},
        {"0:0:0:0:0:ffff:192.0.2.1", "ip:192.0.2.1"},
        {"0000:0000:0000:0000:0000:FFFF:C000:0201", "ip:192.0.2.1"},
        /* IPv6: the /64, in one spelling whatever the input's */
        {"2001:db8:1:2:3:4:5:6", "ip:2001:db8:1:2::/64"},
        {"2001:DB8:1:2::1", "ip:2001:db8:1:2::/64"},
        {"2001:0db8:0001:0002:ffff:ffff:ffff:ffff", "ip:2001:db8:1:2::/64"},
        {"2001:db8:1:2::", "ip:2001:db8:1:2::/64"},
        {"2001:db8:1:3::1", "ip:2001:db8:1:3::/64"},
        {"2001:db8:0:0:1::1", "ip:2001:db8::/64"},
        {"2001:db8::", "ip:2001:db8::/64"},
        {"fe80::1", "ip:fe80::/64"},
        {"::1", "ip:::/64"},
        {"::", "ip:::/64"},
        {"::192.0.2.1", "ip:::/64"},               /* IPv4-compatible (deprecated): plain IPv6 */
        {"64:ff9b::192.0.2.1", "ip:64:ff9b::/64"}, /* NAT64: the translator's /64 */
        {"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "ip:ffff:ffff:ffff:ffff::/64"},
        {"ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255", "ip:ffff:ffff:ffff:ffff::/64"},
        {"", NULL},
        {"1.2.3", NULL},
        {"1.2.3.4.5", NULL},
        {"256.1.1.1", NULL},
        {"01.2.3.4", NULL},
        {"0x7f.0.0.1", NULL},
        {"1.2.3.4:80", NULL},
        {" 1.2.3.4", NULL},
        {"1.2.3.4 ", NULL},
        {"1.2.3.4\n", NULL},
        {"[2001:db8::1]", NULL},
        {"[2001:db8::1]:443", NULL},
        {"2001:db8::1%eth0", NULL},
        {"2001:db8::1/64", NULL},
        {"2001:db8:::1", NULL},
        {"2001:db8::1::2", NULL},
        {"1:2:3:4:5:6:7:8:9", NULL},
        {"::ffff:1.2.3", NULL},
        {"12345::1", NULL},
        {"localhost", NULL},
        {"ip:192.0.2.1", NULL},
        {"0000:0000:0000:0000:0000:FFFF:255.255.255.255 ", NULL},
    };
    int all = 1;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[RATELIMIT_IP_KEY_MAX];
        memset(out, 'x', sizeof out);
        int rc = ratelimit_ip_key(cases[i].ip, out, sizeof out);
        int ok = cases[i].want ? rc == 0 && strcmp(out, cases[i].want) == 0 : rc == -1 && out[0] == '\0';
        if (!ok) {
            printf("#   '%s' -> rc %d '%.*s', want %s\n", cases[i].ip, rc, (int)sizeof out, out,
                   cases[i].want ? cases[i].want : "refused");
            all = 0;
        }
    }
    CHECK(all, "ratelimit_ip_key: IPv4, IPv4-mapped, IPv6 /64 and malformed input (%zu cases)",
          sizeof cases / sizeof cases[0]);

    char out[RATELIMIT_IP_KEY_MAX], big[1000];
    CHECK(ratelimit_ip_key(NULL, out, sizeof out) == -1 && out[0] == '\0', "NULL address refused");
    memset(big, '1', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    CHECK(ratelimit_ip_key(big, out, sizeof out) == -1 && out[0] == '\0', "1000-byte input refused");
    /* "ip:ffff:ffff:ffff:ffff::/64" is the longest key: 27 bytes and a NUL */
    CHECK(ratelimit_ip_key("ffff:ffff:ffff:ffff::1", out, 28) == 0 && strlen(out) == 27,
          "the longest key fits in 28 bytes");
    CHECK(ratelimit_ip_key("ffff:ffff:ffff:ffff::1", out, 27) == -1 && out[0] == '\0',
          "a key that does not fit is refused, not truncated");
    CHECK(ratelimit_ip_key("192.0.2.1", out, 13) == 0 && ratelimit_ip_key("192.0.2.1", out, 12) == -1,
          "IPv4 key needs exactly its length plus one");
    out[0] = 'x';
    CHECK(ratelimit_ip_key("192.0.2.1", out, 0) == -1 && out[0] == 'x', "cap 0 writes nothing");
    CHECK(RATELIMIT_IP_KEY_MAX >= 28, "RATELIMIT_IP_KEY_MAX holds the longest key");

    /* Random addresses in three spellings give one key; another host in the same /64 shares
     * it, a different /64 does not. */
    uint64_t st = 0x1234567;
    int same = 1, shared = 1, apart = 1;
    for (int n = 0; n < 2000; n++) {
        unsigned char a[16], b[16];
        char t1[64], t2[64], t3[64], k1[RATELIMIT_IP_KEY_MAX], k2[RATELIMIT_IP_KEY_MAX],
            k3[RATELIMIT_IP_KEY_MAX];
        for (int j = 0; j < 16; j++) {
            st = st * 6364136223846793005ULL + 1442695040888963407ULL;
            a[j] = (unsigned char)(st >> 56);
        }
        a[0] |= 0x20; /* never ::/80 (IPv4-mapped and friends) */
        inet_ntop(AF_INET6, a, t1, sizeof t1);
        snprintf(t2, sizeof t2, "%02X%02X:%02X%02X:%02X%02X:%02X%02X:%02X%02X:%02X%02X:%02X%02X:%02X%02X",
                 a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11], a[12], a[13],
                 a[14], a[15]);
        snprintf(t3, sizeof t3, "%x:%x:%x:%x:%x:%x:%x:%x", a[0] << 8 | a[1], a[2] << 8 | a[3],
                 a[4] << 8 | a[5], a[6] << 8 | a[7], a[8] << 8 | a[9], a[10] << 8 | a[11], a[12] << 8 | a[13],
                 a[14] << 8 | a[15]);
        if (ratelimit_ip_key(t1, k1, sizeof k1) || ratelimit_ip_key(t2, k2, sizeof k2) ||
            ratelimit_ip_key(t3, k3, sizeof k3) || strcmp(k1, k2) || strcmp(k1, k3))
            same = 0;
        memcpy(b, a, 16);
        b[8 + n % 8] ^= (unsigned char)(1u << (n % 7));
        inet_ntop(AF_INET6, b, t2, sizeof t2);
        if (ratelimit_ip_key(t2, k2, sizeof k2) || strcmp(k1, k2))
            shared = 0;
        memcpy(b, a, 16);
        b[1 + n % 7] ^= (unsigned char)(1u << (n % 8));
        inet_ntop(AF_INET6, b, t2, sizeof t2);
        if (ratelimit_ip_key(t2, k2, sizeof k2) || strcmp(k1, k2) == 0)
            apart = 0;
    }
    CHECK(same, "2000 random IPv6 addresses: compressed, full upper-case and unpadded spellings agree");
    CHECK(shared, "a change in the low 64 bits keeps the key");
    CHECK(apart, "a change in the high 64 bits changes the key");
}

/* The point of the /64 key: one host owns a /64 and can use any address in it. */
static void test_ip_key_limits(void)
{
    char k[RATELIMIT_IP_KEY_MAX];
    init("auth_ip=2/60s");
    ratelimit_ip_key("2001:db8:1:2::1", k, sizeof k);
    CHECK(burst(RL_AUTH_IP, k, T0, 5) == 2, "2001:db8:1:2::1 uses its /64's budget");
    ratelimit_ip_key("2001:db8:1:2:dead:beef:0:7", k, sizeof k);
    CHECK(burst(RL_AUTH_IP, k, T0, 5) == 0, "another address in the same /64 is limited with it");
    ratelimit_ip_key("2001:0DB8:0001:0002:0000:0000:0000:0009", k, sizeof k);
    CHECK(burst(RL_AUTH_IP, k, T0, 5) == 0, "so is a differently spelled one");
    ratelimit_ip_key("2001:db8:1:3::1", k, sizeof k);
    CHECK(burst(RL_AUTH_IP, k, T0, 5) == 2, "the next /64 has its own budget");
    ratelimit_ip_key("192.0.2.1", k, sizeof k);
    CHECK(burst(RL_AUTH_IP, k, T0, 5) == 2, "an IPv4 client");
    ratelimit_ip_key("::ffff:192.0.2.1", k, sizeof k);
    CHECK(burst(RL_AUTH_IP, k, T0, 5) == 0, "is the same client when seen IPv4-mapped");
    ratelimit_ip_key("192.0.2.2", k, sizeof k);
    CHECK(burst(RL_AUTH_IP, k, T0, 5) == 2, "the next IPv4 address is another client");
}

#define THREADS 8
#define PER_THREAD 2000

static pthread_barrier_t start;
static int admitted[THREADS];

static void *hammer(void *arg)
{
    int id = (int)(intptr_t)arg;
    char own[32];
    snprintf(own, sizeof own, "own-%d", id);
    pthread_barrier_wait(&start);
    for (int i = 0; i < PER_THREAD; i++) {
        admitted[id] += admits(RL_API_QUERY, "shared", T0);
        admits(RL_AUTH_IP, own, T0 + i); /* unrelated traffic on other shards meanwhile */
    }
    return NULL;
}

static void test_threads(void)
{
    pthread_t t[THREADS];
    init(NULL);
    pthread_barrier_init(&start, NULL, THREADS);
    for (intptr_t i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, hammer, (void *)i);
    int total = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        total += admitted[i];
    }
    pthread_barrier_destroy(&start);
    CHECK_INT_EQ(total, 100, "8 threads hammering one key at one instant admit exactly L");
    CHECK(!admits(RL_AUTH_IP, "own-0", T0), "per-thread keys were limited too");
}

int main(void)
{
    test_burst_and_steady();
    test_headers();
    test_window_edge();
    test_specs();
    test_new_policies();
    test_peek();
    test_isolation();
    test_ip_key();
    test_ip_key_limits();
    test_eviction();
    test_threads();
    ratelimit_shutdown();
    free(err);
    return test_done();
}
