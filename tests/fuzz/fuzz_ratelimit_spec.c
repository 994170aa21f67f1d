/*
 * fuzz_ratelimit_spec.c - fuzz target for the TG_RATE_LIMITS parser in
 * src/domain/ratelimit.c.
 *
 * The parser is static, so this file includes ratelimit.c itself (as h2o's tests include
 * the file under test) and calls rl_parse() directly; one input in 16 also goes through
 * ratelimit_init() to check the public path agrees. The input is the spec text up to its
 * first NUL (an environment variable cannot hold one).
 * Invariants (abort() when broken):
 *  - accepted: no error string; every enabled policy has 1 <= L <= RL_LIMIT_MAX and a whole
 *    number of seconds from 1 to RL_PERIOD_MAX_S, with T = period / L >= 1 ns and
 *    tau = period - T >= 0; RL_NONE stays disabled; a policy whose "name=" does not occur in
 *    the spec keeps its default; "off" disables every policy; printing the result as a spec
 *    and parsing that gives the same policies;
 *  - refused: an error string that starts with "TG_RATE_LIMITS: ", is printable ASCII (the
 *    input is echoed into logs) and is at most 400 bytes; ratelimit_init() then leaves the
 *    running policies unchanged.
 * For coverage-guided fuzzing with libFuzzer:
 *   clang -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Isrc tests/fuzz/fuzz_ratelimit_spec.c \
 *     src/core/mem.c -lsodium -o fuzz_ratelimit_spec && ./fuzz_ratelimit_spec
 */
#include "domain/ratelimit.c"

#include "fuzz.h"

#define SPEC_MAX 4096
#define ERR_MAX 400

static unsigned long n_accepted, n_refused, n_off, n_init;

static void check_err(const char *err)
{
    size_t n;
    if (err == NULL || strncmp(err, "TG_RATE_LIMITS: ", 16) != 0)
        abort();
    n = strlen(err);
    if (n > ERR_MAX)
        abort();
    for (size_t i = 0; i < n; i++)
        if (err[i] < 0x20 || err[i] > 0x7e)
            abort();
}

static int pol_equal(const struct rl_pol *a, const struct rl_pol *b)
{
    if (a->enabled != b->enabled)
        return 0;
    return !a->enabled || (a->limit == b->limit && a->period_ns == b->period_ns && a->t_ns == b->t_ns &&
                           a->tau_ns == b->tau_ns);
}

static void check_accepted(const char *spec, const struct rl_pol *pols)
{
    struct rl_pol def[RL__COUNT] = {{0}}, again[RL__COUNT] = {{0}};
    char text[RL__COUNT * 48], *err = NULL;
    size_t o = 0;

    if (rl_parse(NULL, def, &err) != 0 || err != NULL)
        abort();
    if (pols[RL_NONE].enabled)
        abort();
    for (int p = 1; p < RL__COUNT; p++) {
        const struct rl_pol *pol = &pols[p];
        char needle[40];
        if (pol->enabled) {
            if (pol->limit < 1 || pol->limit > RL_LIMIT_MAX || pol->period_ns % RL_NS_PER_S != 0 ||
                pol->period_ns < RL_NS_PER_S || pol->period_ns > RL_PERIOD_MAX_S * RL_NS_PER_S)
                abort();
            if (pol->t_ns < 1 || pol->t_ns != pol->period_ns / pol->limit || pol->tau_ns < 0 ||
                pol->tau_ns != pol->period_ns - pol->t_ns)
                abort();
        }
        if (strcmp(spec, "off") == 0 && pol->enabled)
            abort();
        snprintf(needle, sizeof needle, "%s=", rl_defaults[p].name);
        if (strcmp(spec, "off") != 0 && strstr(spec, needle) == NULL && !pol_equal(pol, &def[p]))
            abort();
        /* the canonical spelling of this policy, for the round trip */
        if (pol->enabled)
            o += (size_t)snprintf(text + o, sizeof text - o, "%s%s=%lld/%llds", p > 1 ? "," : "",
                                  rl_defaults[p].name, (long long)pol->limit,
                                  (long long)(pol->period_ns / RL_NS_PER_S));
        else
            o += (size_t)snprintf(text + o, sizeof text - o, "%s%s=off", p > 1 ? "," : "",
                                  rl_defaults[p].name);
        if (o >= sizeof text)
            abort();
    }
    if (rl_parse(text, again, &err) != 0 || err != NULL)
        abort();
    for (int p = 1; p < RL__COUNT; p++)
        if (!pol_equal(&pols[p], &again[p]))
            abort();
}

/* The public path: same verdict; on success the policies run, on failure the old ones stay. */
static void check_init(const char *spec, int parsed, const struct rl_pol *pols)
{
    int before[RL__COUNT];
    char *err = NULL;
    struct rl_result r;

    for (int p = 0; p < RL__COUNT; p++)
        before[p] = ratelimit_enabled((enum rl_policy)p);
    int rc = ratelimit_init(spec, &err);
    if (rc != parsed || (rc == 0) != (err == NULL))
        abort();
    for (int p = 1; p < RL__COUNT; p++) {
        int want = rc == 0 ? pols[p].enabled : before[p];
        if (ratelimit_enabled((enum rl_policy)p) != want)
            abort();
        if (rc == 0) {
            ratelimit_check((enum rl_policy)p, "fuzz", INT64_C(1700000000000), &r);
            if (!r.allowed || r.limit != (pols[p].enabled ? pols[p].limit : 0))
                abort();
        }
    }
    free(err);
    n_init++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    struct rl_pol pols[RL__COUNT] = {{0}};
    char *spec, *err = NULL;
    int rc;

    if (!ready) {
        char *e = NULL;
        if (ratelimit_init(NULL, &e) != 0)
            abort();
        ready = 1;
    }
    if (size > SPEC_MAX)
        return 0;
    /* An exact-size copy, so that reading past the terminator is caught by ASan. */
    spec = malloc(size + 1);
    if (spec == NULL)
        abort();
    memcpy(spec, data, size);
    spec[size] = '\0';

    rc = rl_parse(spec, pols, &err);
    if (rc == 0) {
        if (err != NULL)
            abort();
        check_accepted(spec, pols);
        n_accepted++;
        n_off += strcmp(spec, "off") == 0;
    } else {
        if (rc != -1)
            abort();
        check_err(err);
        n_refused++;
    }
    free(err);
    if (size % 16 == 0)
        check_init(spec, rc, pols);
    free(spec);
    return 0;
}

void fuzz_seeds(void (*add)(const uint8_t *data, size_t size))
{
    static const char *seeds[] = {
        "",
        "off",
        "api_query=100/60s,auth_ip=20/60s,auth_account=10/15m,payment=5/1h,video=10/1h",
        "register_ip=5/1h, register_global=60/1m ,auth_fail=20/1m",
        "api_query=1000000/1s,auth_ip=1000000/1s,auth_account=1000000/1s",
        "video=off",
        "auth_account=1000000/168h",
        "api_query=1/1s\t,\tpayment=off,register_global=7/604800s",
        "api_query=7/60s,api_query=8/60s",
        "off,video=off",
        "auth_fail=0/1m",
        "payment=5/1d",
        "unknown=1/1s",
        "register_ip=99999999999999999999/1h",
        ",,",
    };
    for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++)
        add((const uint8_t *)seeds[i], strlen(seeds[i]));
}

void fuzz_report(void)
{
    printf("accepted=%lu (off=%lu) refused=%lu through ratelimit_init=%lu\n", n_accepted, n_off, n_refused,
           n_init);
    ratelimit_shutdown();
}
