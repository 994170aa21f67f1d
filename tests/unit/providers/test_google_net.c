/*
 * End-to-end test of the Google provider over the real outbound client (src/net) against the
 * fake Google (tests/fakes/google.mjs, started here with Node): One Tap with keys fetched
 * from the fake's JWKS, the authorization-code flow with PKCE, key rotation, a JWKS outage
 * and a token endpoint that hangs. Completions arrive through a net_exec on this thread, as on
 * a loop. Node and `npm ci` in tests/e2e are required: without them this test fails.
 */
#include "../test.h"
#include "fakeproc.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "core/config.h"
#include "core/mem.h"
#include "crypto/encode.h"
#include "crypto/hash.h"
#include "net/net.h"
#include "providers/auth/google.h"

static pid_t fake_pid;
static char base[128];
static char client_id[256];

/* ---- a loop stand-in: wake signals, this thread drains ---------------------------------- */

static struct fake_waker W = FAKE_WAKER_INIT;

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct net_client *client;
static struct net_exec ex;  /* asynchronous: the provider's calls */
static struct net_exec sx;  /* synchronous: the test's own calls to the fake */

struct outcome {
    int calls;
    struct auth_result res;
};

static void on_done(void *arg, const struct auth_result *res)
{
    struct outcome *o = arg;
    o->calls++;
    o->res = *res;
}

/* Drains ex until o->calls > 0 or timeout_ms passes. Returns the elapsed milliseconds. */
static int64_t wait_done(struct outcome *o, int timeout_ms)
{
    int64_t t0 = mono_ms();
    while (o->calls == 0 && mono_ms() - t0 < timeout_ms) {
        fake_waker_nap(&W);
        net_exec_drain(&ex);
    }
    return mono_ms() - t0;
}

#define CHECK_OUTCOME(o, want_rc, want_reason, ...)                                                              \
    do {                                                                                                         \
        int ok_o = (o).calls == 1 && (o).res.rc == (want_rc) && strcmp((o).res.reason, (want_reason)) == 0;      \
        CHECK(ok_o, __VA_ARGS__);                                                                                \
        if (!ok_o)                                                                                               \
            printf("#   got: calls %d rc %s reason \"%s\"\n", (o).calls, auth_prc_name((o).res.rc), (o).res.reason); \
    } while (0)

/* ---- the fake ---------------------------------------------------------------------------- */

static void sync_done(struct net_call *c) { (void)c; }

/* POST /__control/<method> with a JSON array of arguments; returns "result" (caller decrefs). */
static json_t *ctl(const char *method, const char *args)
{
    struct net_call c;
    char *u = xasprintf("%s/__control/%s", base, method);
    json_t *doc, *r = NULL;

    net_call_init(&c, "fake", "POST", u);
    net_call_body(&c, "application/json", args, strlen(args));
    net_exec_submit(&sx, &c, sync_done);
    doc = c.err == NET_OK && c.status == 200 ? json_loadb(c.resp_body, c.resp_len, 0, NULL) : NULL;
    if (doc != NULL)
        r = json_incref(json_object_get(doc, "result"));
    if (r == NULL)
        printf("# control %s failed: err %d status %ld\n", method, (int)c.err, c.status);
    json_decref(doc);
    net_call_release(&c);
    free(u);
    return r;
}

static long ctl_stat(const char *name)
{
    struct net_call c;
    char *u = xasprintf("%s/__control/stats", base);
    long v = -1;
    net_call_init(&c, "fake", "GET", u);
    net_exec_submit(&sx, &c, sync_done);
    if (c.err == NET_OK && c.status == 200) {
        json_t *doc = json_loadb(c.resp_body, c.resp_len, 0, NULL);
        v = (long)json_integer_value(json_object_get(json_object_get(doc, "result"), name));
        json_decref(doc);
    }
    net_call_release(&c);
    free(u);
    return v;
}

/* A token minted by the fake from its current standard claims, with overrides (JSON object
 * text) and mint options (JSON object text). Caller frees. */
static char *mint(const char *overrides, const char *options)
{
    json_t *claims = ctl("claims", "[]"), *over = json_loads(overrides, 0, NULL), *opts = json_loads(options, 0, NULL);
    json_t *args, *tok;
    char *text, *out = NULL;

    json_object_update(claims, over);
    args = json_pack("[OO]", claims, opts);
    text = json_dumps(args, JSON_COMPACT);
    tok = ctl("mint", text);
    if (json_is_string(tok))
        out = xstrdup(json_string_value(tok));
    json_decref(tok);
    free(text);
    json_decref(args);
    json_decref(claims);
    json_decref(over);
    json_decref(opts);
    return out ? out : xstrdup("");
}

static int start_fake(void)
{
    const char *node = getenv("NODE"), *script = getenv("FAKE_GOOGLE");
    int fds[2];
    char line[1024];
    size_t n = 0;
    json_t *info;

    if (node == NULL || node[0] == '\0' || script == NULL) {
        printf("Bail out! Node.js not found (NODE): the fake Google cannot run\n");
        return -1;
    }
    if (pipe(fds) != 0)
        return -1;
    fake_pid = fork();
    if (fake_pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execl(node, node, script, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    while (n < sizeof line - 1) {
        ssize_t r = read(fds[0], line + n, 1);
        if (r <= 0 || line[n] == '\n')
            break;
        n++;
    }
    line[n] = '\0';
    close(fds[0]);
    info = json_loads(line, 0, NULL);
    if (!json_is_integer(json_object_get(info, "port"))) {
        printf("Bail out! the fake Google did not start (npm ci in tests/e2e?): \"%s\"\n", line);
        json_decref(info);
        return -1;
    }
    snprintf(base, sizeof base, "http://127.0.0.1:%d", (int)json_integer_value(json_object_get(info, "port")));
    snprintf(client_id, sizeof client_id, "%s", json_string_value(json_object_get(info, "clientId")));
    json_decref(info);
    return 0;
}

static char data_dir[] = "/tmp/tg-google-net-XXXXXX";

static int load_config(void)
{
    char *err = NULL, *u;
    setenv("TG_DATA_DIR", data_dir, 1);
    setenv("TG_JWT_SECRET", "unit-test-secret-0123456789abcdef-0123456789", 1);
    setenv("TG_GOOGLE_CLIENT_ID", client_id, 1);
    setenv("TG_GOOGLE_CLIENT_SECRET", "GOCSPX-test-secret", 1);
    u = xasprintf("%s/oauth2/v3/certs", base);
    setenv("TG_GOOGLE_JWKS_URL", u, 1);
    free(u);
    u = xasprintf("%s/token", base);
    setenv("TG_GOOGLE_TOKEN_URL", u, 1);
    free(u);
    u = xasprintf("%s/o/oauth2/v2/auth", base);
    setenv("TG_GOOGLE_AUTH_URL", u, 1);
    free(u);
    if (config_load(NULL, &err) != 0) {
        printf("Bail out! config_load: %s\n", err);
        return -1;
    }
    return 0;
}

/* ---- the tests ------------------------------------------------------------------------- */

static void onetap(const char *tok, struct outcome *o)
{
    memset(o, 0, sizeof *o);
    google_verify_credential(&ex, tok, strlen(tok), NULL, wall_ms(), on_done, o);
    wait_done(o, 20000);
}

static void test_onetap(void)
{
    struct outcome o;
    char *t;
    long f0 = ctl_stat("jwksFetches");

    t = mint("{\"email\":\"Carol@Example.com\"}", "{}");
    onetap(t, &o);
    CHECK_OUTCOME(o, AUTH_P_OK, "", "One Tap: a token from the fake verifies with its JWKS");
    CHECK_STR_EQ(o.res.id.email, "carol@example.com", "One Tap: identity from the token");
    CHECK_INT_EQ(ctl_stat("jwksFetches") - f0, 1, "One Tap: the JWKS was fetched once");
    CHECK(google_jwks.cur != NULL && google_jwks.cur->expires_ms - google_jwks.cur->fetched_ms == 21600 * 1000LL,
          "cached for the fake's max-age (6 h)");
    free(t);

    t = mint("{}", "{}");
    onetap(t, &o);
    CHECK_OUTCOME(o, AUTH_P_OK, "", "One Tap again: from the cache");
    CHECK_INT_EQ(ctl_stat("jwksFetches") - f0, 1, "no second fetch");
    free(t);

    static const struct {
        const char *over, *opts, *reason, *what;
    } bad[] = {
        {"{\"aud\":\"someone-else.apps.googleusercontent.com\"}", "{}", "wrong_audience", "wrong audience"},
        {"{\"iss\":\"https://evil.example\"}", "{}", "wrong_issuer", "wrong issuer"},
        {"{\"exp\":1000000000,\"iat\":999996400}", "{}", "expired", "expired"},
        {"{}", "{\"alg\":\"none\"}", "alg_not_allowed", "alg none"},
        {"{}", "{\"alg\":\"HS256-public\"}", "alg_not_allowed", "HS256 keyed with the public key"},
        {"{}", "{\"alg\":\"RS384\"}", "alg_not_allowed", "RS384"},
        {"{}", "{\"kid\":null}", "missing_kid", "no kid"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        t = mint(bad[i].over, bad[i].opts);
        onetap(t, &o);
        CHECK_OUTCOME(o, AUTH_P_INVALID, bad[i].reason, "One Tap: %s refused", bad[i].what);
        free(t);
    }
    json_t *ev = ctl("claims", "[]");
    CHECK(ev != NULL, "fake answers");
    json_decref(ev);
    t = mint("{\"email_verified\":false}", "{}");
    onetap(t, &o);
    CHECK(o.calls == 1 && o.res.rc == AUTH_P_OK && o.res.id.email_verified == 0,
          "One Tap: email_verified false signs in unverified");
    free(t);
}

static void test_rotation(void)
{
    struct outcome o;
    long f0 = ctl_stat("jwksFetches");
    json_t *r1 = ctl("rotateKeys", "[]"), *r2 = ctl("rotateKeys", "[]");
    char *t = mint("{}", "{}"); /* signed with the fake's current first key: a new kid */

    CHECK(json_is_string(r1) && json_is_string(r2), "fake rotated both keys");
    onetap(t, &o);
    CHECK_OUTCOME(o, AUTH_P_OK, "", "rotation: a new kid triggers one refetch and verifies");
    CHECK_INT_EQ(ctl_stat("jwksFetches") - f0, 1, "rotation: exactly one refetch");
    free(t);
    t = mint("{}", "{\"kid\":\"ffffffffffffffffffffffffffffffffffffffff\"}");
    onetap(t, &o);
    CHECK_OUTCOME(o, AUTH_P_INVALID, "unknown_kid", "forged kid right after: refused without a fetch (throttled)");
    CHECK_INT_EQ(ctl_stat("jwksFetches") - f0, 1, "throttle held");
    free(t);
    json_decref(r1);
    json_decref(r2);
}

static void code_flow(const char *verifier, const char *nonce, char *code_out, size_t cap)
{
    unsigned char h[32];
    char challenge[64];
    struct auth_flow f = {.redirect_uri = "http://127.0.0.1:9/api/v1/auth/oauth/google/callback", .state = "st-42",
                          .nonce = nonce};
    struct net_call c;
    char *u;
    const char *loc, *p;

    sha256(verifier, strlen(verifier), h);
    b64url_encode(h, sizeof h, challenge);
    f.code_challenge = challenge;
    u = auth_google.authorize_url(&f);
    code_out[0] = '\0';
    net_call_init(&c, "fake", "GET", u);
    net_exec_submit(&sx, &c, sync_done);
    loc = net_resp_header(&c, "location");
    CHECK(c.err == NET_OK && c.status == 302 && loc != NULL, "authorize: 302 back to the callback");
    if (loc != NULL && strstr(loc, "state=st-42") != NULL && (p = strstr(loc, "code=")) != NULL) {
        size_t n = strcspn(p + 5, "&");
        char enc[512];
        if (n < sizeof enc && n < cap) {
            memcpy(enc, p + 5, n);
            enc[n] = '\0';
            /* The fake's codes are 4/0A...: '/' comes percent-encoded. */
            size_t o = 0;
            for (size_t i = 0; i < n; i++) {
                if (enc[i] == '%' && i + 2 < n) {
                    code_out[o++] = (char)(hex_value(enc[i + 1]) << 4 | hex_value(enc[i + 2]));
                    i += 2;
                } else {
                    code_out[o++] = enc[i];
                }
            }
            code_out[o] = '\0';
        }
    }
    net_call_release(&c);
    free(u);
}

static void exchange(const char *code, const char *verifier, const char *nonce, struct outcome *o, int timeout_ms)
{
    struct auth_flow f = {.redirect_uri = "http://127.0.0.1:9/api/v1/auth/oauth/google/callback", .state = "st-42",
                          .nonce = nonce};
    memset(o, 0, sizeof *o);
    auth_google.exchange(&ex, &f, code, verifier, wall_ms(), on_done, o);
    wait_done(o, timeout_ms);
}

static void test_code_flow(void)
{
    struct outcome o;
    char code[512];
    const char *verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk-0123456789";

    json_decref(ctl("setNextIdentity", "[{\"sub\":\"424242\",\"email\":\"dave@example.org\",\"locale\":\"zh-CN\"}]"));
    code_flow(verifier, "nonce-xyz", code, sizeof code);
    CHECK(strncmp(code, "4/0A", 4) == 0, "authorize: a code came back with our state");
    exchange(code, verifier, "nonce-xyz", &o, 20000);
    CHECK_OUTCOME(o, AUTH_P_OK, "", "code flow: PKCE exchange and ID token verified");
    CHECK(strcmp(o.res.id.subject, "424242") == 0 && strcmp(o.res.id.email, "dave@example.org") == 0 &&
              strcmp(o.res.id.locale, "zh-CN") == 0,
          "code flow: identity");
    exchange(code, verifier, "nonce-xyz", &o, 20000);
    CHECK_OUTCOME(o, AUTH_P_INVALID, "invalid_grant", "code flow: a code works once");

    code_flow(verifier, "nonce-1", code, sizeof code);
    exchange(code, "wrong-verifier-wrong-verifier-wrong-verifier-00", "nonce-1", &o, 20000);
    CHECK_OUTCOME(o, AUTH_P_INVALID, "invalid_grant", "code flow: wrong PKCE verifier refused by Google");

    code_flow(verifier, "nonce-2", code, sizeof code);
    exchange(code, verifier, "another-nonce", &o, 20000);
    CHECK_OUTCOME(o, AUTH_P_INVALID, "nonce_mismatch", "code flow: ID token for another nonce refused");

    json_decref(ctl("setClaimOverrides", "[{\"aud\":\"other.apps.googleusercontent.com\"}]"));
    code_flow(verifier, "nonce-3", code, sizeof code);
    exchange(code, verifier, "nonce-3", &o, 20000);
    json_decref(ctl("setClaimOverrides", "[{}]"));
    CHECK_OUTCOME(o, AUTH_P_INVALID, "wrong_audience", "code flow: ID token for another audience refused");

    json_decref(ctl("setFault", "[{\"path\":\"token\",\"status\":503}]"));
    code_flow(verifier, "nonce-4", code, sizeof code);
    exchange(code, verifier, "nonce-4", &o, 20000);
    CHECK_OUTCOME(o, AUTH_P_UNAVAILABLE, "http_503", "code flow: token endpoint 503 -> unavailable");

    /* A token endpoint that never answers: unavailable when the 10 s timeout fires. */
    json_decref(ctl("setFault", "[{\"path\":\"token\",\"delayMs\":30000}]"));
    code_flow(verifier, "nonce-5", code, sizeof code);
    int64_t t0 = mono_ms();
    exchange(code, verifier, "nonce-5", &o, 20000);
    int64_t ms = mono_ms() - t0;
    json_decref(ctl("setFault", "[null]"));
    CHECK_OUTCOME(o, AUTH_P_UNAVAILABLE, "timeout", "code flow: hanging token endpoint -> unavailable (timeout)");
    CHECK(ms >= 9500 && ms < 13000, "within the 10 s timeout, not a hang (%lld ms)", (long long)ms);
}

static void test_outage(void)
{
    struct outcome o;
    char *t = mint("{}", "{}");
    long f0;
    int64_t t0;

    jwks_cache_clear(&google_jwks);
    json_decref(ctl("setFault", "[{\"path\":\"jwks\",\"status\":503}]"));
    f0 = ctl_stat("jwksFetches");
    t0 = mono_ms();
    onetap(t, &o);
    int64_t ms = mono_ms() - t0;
    json_decref(ctl("setFault", "[null]"));
    CHECK_OUTCOME(o, AUTH_P_UNAVAILABLE, "jwks_unavailable", "JWKS outage with no keys: unavailable");
    CHECK(ms < 10000, "answered in %lld ms (under 10 s)", (long long)ms);
    CHECK_INT_EQ(ctl_stat("jwksFetches") - f0, 2, "the idempotent GET was retried once");
    onetap(t, &o);
    CHECK_OUTCOME(o, AUTH_P_OK, "", "Google back: verified");
    free(t);
}

int main(void)
{
    char *err = NULL;

    signal(SIGPIPE, SIG_IGN);
    if (mkdtemp(data_dir) == NULL || start_fake() != 0)
        return 1;
    if (net_global_init() != 0 || (client = net_client_start(256, &err)) == NULL) {
        printf("Bail out! net client: %s\n", err ? err : "?");
        kill(fake_pid, SIGTERM);
        return 1;
    }
    net_exec_init(&ex, client, fake_waker_wake, &W);
    net_exec_init(&sx, NULL, NULL, NULL);
    if (load_config() != 0) {
        kill(fake_pid, SIGTERM);
        return 1;
    }
    unsetenv("FAKE_GOOGLE");

    test_onetap();
    test_rotation();
    test_code_flow();
    test_outage();

    net_client_stop(client);
    net_exec_dispose(&ex);
    net_exec_dispose(&sx);
    net_global_cleanup();
    jwks_cache_clear(&google_jwks);
    config_free();
    kill(fake_pid, SIGTERM);
    waitpid(fake_pid, NULL, 0);
    {
        char *cmd = xasprintf("rm -rf '%s'", data_dir);
        if (system(cmd) != 0)
            printf("# could not remove %s\n", data_dir);
        free(cmd);
    }
    return test_done();
}
