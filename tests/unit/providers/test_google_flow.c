/*
 * Unit tests for the Google provider's network glue (src/providers/auth/google.c): One Tap
 * verification with the key cache (cold fetch, rotation, the unknown-kid throttle, stale keys
 * during an outage) and the code exchange, driven through a scripted stand-in for net.h that
 * records every call and answers like Google (or fails like it) when the test drains it.
 * The stand-in makes every outcome reachable at will, with a clock the test sets; the real
 * client is exercised against tests/fakes/google.mjs by test_google_net.c. (It defines every
 * net.h function google.c uses, so none of net's objects is linked in.)
 */
#include "../test.h"

#include <stdlib.h>
#include <unistd.h>

#include "core/config.h"
#include "core/mem.h"
#include "net/net.h"
#include "providers/auth/google.h"

#define NOW_MS 1700000000000LL
#define CLIENT "test-client.apps.googleusercontent.com"
#define JWKS_URL "https://fake.test/oauth2/v3/certs"
#define TOKEN_URL "https://fake.test/token"
#define AUTH_URL "https://fake.test/o/oauth2/v2/auth"

/* ---- the stand-in for net.h ------------------------------------------------------------ */

/* How the stand-in answers a call when drained. */
struct answer {
    enum net_err err;
    long status;
    const char *body;          /* borrowed */
    const char *cache_control; /* response header, or NULL */
};

static struct answer jwks_answer, token_answer;
static int complete_at_once; /* 1: submit completes the call before returning (NET_SHUTDOWN) */

static struct {
    struct net_call *c;
    net_done_fn done;
} queue[256];
static size_t nqueue;
static int n_jwks_calls, n_token_calls;
/* The last call of each kind, as submitted (copies). */
static char last_method[8], last_url[256], last_body[4096], last_ctype[128];
static int last_idempotent, last_retries, last_timeout;
static size_t last_max_response;

void net_call_init(struct net_call *c, const char *provider, const char *method, const char *url)
{
    memset(c, 0, sizeof *c);
    c->provider = provider;
    snprintf(c->method, sizeof c->method, "%s", method);
    c->url = xstrdup(url);
    c->timeout_ms = NET_DEFAULT_TIMEOUT_MS;
    c->connect_timeout_ms = NET_DEFAULT_CONNECT_TIMEOUT_MS;
    c->max_response = NET_DEFAULT_MAX_RESPONSE;
    c->idempotent = strcmp(method, "GET") == 0;
    c->retries = 2;
}

void net_call_header(struct net_call *c, const char *name, const char *value)
{
    if (c->n_headers == NET_MAX_HEADERS)
        abort();
    c->headers[c->n_headers++] = xasprintf("%s: %s", name, value);
}

void net_call_body(struct net_call *c, const char *content_type, const char *body, size_t len)
{
    free(c->body);
    c->body = xmalloc(len + 1);
    memcpy(c->body, body, len);
    c->body[len] = '\0';
    c->body_len = len;
    if (content_type != NULL)
        net_call_header(c, "Content-Type", content_type);
}

const char *net_resp_header(const struct net_call *c, const char *lname)
{
    for (size_t i = 0; i < c->n_resp_headers; i++)
        if (strcmp(c->resp_headers[i].name, lname) == 0)
            return c->resp_headers[i].value;
    return NULL;
}

void net_call_release(struct net_call *c)
{
    free(c->url);
    for (size_t i = 0; i < c->n_headers; i++)
        free(c->headers[i]);
    free(c->body);
    free(c->resp_body);
    for (size_t i = 0; i < c->n_resp_headers; i++) {
        free(c->resp_headers[i].name);
        free(c->resp_headers[i].value);
    }
    memset(c, 0, sizeof *c);
}

const char *net_err_name(enum net_err e)
{
    static const char *names[] = {"ok", "timeout", "connect", "tls", "too_large", "protocol", "shutdown", "error"};
    return (unsigned)e < sizeof names / sizeof names[0] ? names[e] : "error";
}

static void answer_call(struct net_call *c, const struct answer *a)
{
    c->err = a->err;
    c->status = a->err == NET_OK ? a->status : 0;
    c->attempts = 1;
    if (a->err == NET_OK && a->body != NULL) {
        c->resp_body = xstrdup(a->body);
        c->resp_len = strlen(a->body);
    }
    if (a->err == NET_OK && a->cache_control != NULL) {
        c->resp_headers[0].name = xstrdup("cache-control");
        c->resp_headers[0].value = xstrdup(a->cache_control);
        c->n_resp_headers = 1;
    }
}

void net_exec_submit(struct net_exec *ex, struct net_call *c, net_done_fn done)
{
    int is_jwks = strcmp(c->url, JWKS_URL) == 0;
    (void)ex;
    if (is_jwks)
        n_jwks_calls++;
    else
        n_token_calls++;
    snprintf(last_method, sizeof last_method, "%s", c->method);
    snprintf(last_url, sizeof last_url, "%s", c->url);
    snprintf(last_body, sizeof last_body, "%s", c->body ? c->body : "");
    last_ctype[0] = '\0';
    for (size_t i = 0; i < c->n_headers; i++)
        if (strncmp(c->headers[i], "Content-Type: ", 14) == 0)
            snprintf(last_ctype, sizeof last_ctype, "%s", c->headers[i] + 14);
    last_idempotent = c->idempotent;
    last_retries = c->retries;
    last_timeout = c->timeout_ms;
    last_max_response = c->max_response;
    if (complete_at_once) {
        c->err = NET_SHUTDOWN;
        done(c);
        return;
    }
    if (nqueue == sizeof queue / sizeof queue[0])
        abort();
    queue[nqueue].c = c;
    queue[nqueue].done = done;
    nqueue++;
}

/* Answers and completes every queued call (and those their completions submit), in order. */
static void drain(void)
{
    while (nqueue > 0) {
        struct net_call *c = queue[0].c;
        net_done_fn done = queue[0].done;
        memmove(queue, queue + 1, (nqueue - 1) * sizeof queue[0]);
        nqueue--;
        answer_call(c, strcmp(c->url, JWKS_URL) == 0 ? &jwks_answer : &token_answer);
        done(c);
    }
}

/* ---- results --------------------------------------------------------------------------- */

struct outcome {
    int calls; /* done() runs: must end at exactly 1 */
    struct auth_result res;
};

static void on_done(void *arg, const struct auth_result *res)
{
    struct outcome *o = arg;
    o->calls++;
    o->res = *res;
}

static char *tokens_text, *jwks_text, *jwks_rotated_text;

static char *slurp(const char *name)
{
    const char *dir = getenv("TEST_DATA_DIR");
    char path[512];
    FILE *f;
    char *buf;
    long n;

    snprintf(path, sizeof path, "%s/%s", dir ? dir : "tests/unit/providers/data", name);
    f = fopen(path, "rb");
    if (f == NULL) {
        printf("Bail out! cannot open %s (TEST_DATA_DIR)\n", path);
        exit(1);
    }
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = xmalloc((size_t)n + 1);
    if (fread(buf, 1, (size_t)n, f) != (size_t)n)
        exit(1);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static const char *tok(const char *name)
{
    size_t n = strlen(name);
    for (char *line = tokens_text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        if (strncmp(line, name, n) == 0 && line[n] == ' ') {
            static char buf[4][16384];
            static int which;
            char *b = buf[which++ % 4];
            size_t len = strcspn(line + n + 1, "\n");
            memcpy(b, line + n + 1, len);
            b[len] = '\0';
            return b;
        }
    }
    printf("Bail out! no token %s\n", name);
    exit(1);
}

static void onetap(const char *name, const char *nonce, int64_t now_ms, struct outcome *o)
{
    const char *t = tok(name);
    memset(o, 0, sizeof *o);
    google_verify_credential(NULL, t, strlen(t), nonce, now_ms, on_done, o);
}

static int is(const struct outcome *o, enum auth_prc rc, const char *reason)
{
    return o->calls == 1 && o->res.rc == rc && strcmp(o->res.reason, reason) == 0;
}

#define CHECK_OUTCOME(o, want_rc, want_reason, ...)                                                              \
    do {                                                                                                           \
        CHECK(is(&(o), want_rc, want_reason), __VA_ARGS__);                                                        \
        if (!is(&(o), want_rc, want_reason))                                                                       \
            printf("#   got: calls %d rc %s reason \"%s\"\n", (o).calls, auth_prc_name((o).res.rc), (o).res.reason); \
    } while (0)

static void jwks_serves(const char *body, const char *cc)
{
    jwks_answer = (struct answer){NET_OK, 200, body, cc};
}

/* ---- configuration --------------------------------------------------------------------- */

static char data_dir[] = "/tmp/tg-google-flow-XXXXXX";

static void load_config(int with_secret)
{
    char *err = NULL;
    setenv("TG_DATA_DIR", data_dir, 1);
    setenv("TG_JWT_SECRET", "unit-test-secret-0123456789abcdef-0123456789", 1);
    setenv("TG_GOOGLE_CLIENT_ID", CLIENT, 1);
    setenv("TG_GOOGLE_JWKS_URL", JWKS_URL, 1);
    setenv("TG_GOOGLE_TOKEN_URL", TOKEN_URL, 1);
    setenv("TG_GOOGLE_AUTH_URL", AUTH_URL, 1);
    if (with_secret)
        setenv("TG_GOOGLE_CLIENT_SECRET", "GOCSPX-unit-secret", 1);
    else
        unsetenv("TG_GOOGLE_CLIENT_SECRET");
    config_free();
    if (config_load(NULL, &err) != 0) {
        printf("Bail out! config_load: %s\n", err);
        exit(1);
    }
}

/* ---- tests ----------------------------------------------------------------------------- */

static void test_unconfigured(void)
{
    const struct auth_provider *p = auth_provider_find("google");
    struct outcome o;
    struct auth_flow f = {.redirect_uri = "http://x.test/cb", .state = "s", .code_challenge = "c", .nonce = "n"};

    CHECK(p == &auth_google, "registry: google is registered");
    CHECK(p != NULL && p->pkce == 1 && p->trust_email == 1, "registry: PKCE and trusted e-mail");
    CHECK(p != NULL && p->configured() == 0, "not configured without TG_GOOGLE_CLIENT_ID");
    CHECK(p != NULL && p->authorize_url(&f) == NULL, "no authorize URL when not configured");
    onetap("good", NULL, NOW_MS, &o);
    CHECK_OUTCOME(o, AUTH_P_MISCONFIGURED, "not_configured", "One Tap without a client id: misconfigured, at once");
    memset(&o, 0, sizeof o);
    p->exchange(NULL, &f, "code", "verifier", NOW_MS, on_done, &o);
    CHECK_OUTCOME(o, AUTH_P_MISCONFIGURED, "not_configured", "exchange without a client id: misconfigured");
    CHECK(n_jwks_calls == 0 && n_token_calls == 0, "nothing sent");
}

static void test_onetap(void)
{
    struct outcome o, o2, many[100];
    int64_t t = NOW_MS;

    load_config(0);
    CHECK(auth_google.configured() == 1, "configured with the client id alone");
    struct auth_flow f = {.redirect_uri = "http://x.test/cb", .state = "s", .code_challenge = "c", .nonce = "n"};
    CHECK(auth_google.authorize_url(&f) == NULL, "no code flow without the client secret");

    /* Cold cache: one GET of the JWKS, then the answer. */
    jwks_serves(jwks_text, "public, max-age=600, must-revalidate, no-transform");
    onetap("good", NULL, t, &o);
    CHECK(o.calls == 0 && n_jwks_calls == 1, "cold cache: waits for one JWKS fetch");
    CHECK_STR_EQ(last_method, "GET", "JWKS fetch is a GET");
    CHECK_STR_EQ(last_url, JWKS_URL, "of TG_GOOGLE_JWKS_URL");
    CHECK(last_idempotent == 1 && last_retries == 1 && last_timeout > 0 && last_timeout <= 5000 &&
              last_max_response == JWKS_MAX_BYTES,
          "idempotent, retried once, <= 5 s per attempt, bounded size");
    drain();
    CHECK_OUTCOME(o, AUTH_P_OK, "", "cold cache: verified after the fetch");
    CHECK_STR_EQ(o.res.id.subject, "110169484474386276334", "identity from the token");
    CHECK_STR_EQ(o.res.id.email, "alice.example@gmail.com", "email");
    CHECK(google_jwks.cur != NULL && google_jwks.cur->expires_ms == t + 600000, "cached for the max-age");

    onetap("good_kid2", NULL, t + 1000, &o);
    CHECK_OUTCOME(o, AUTH_P_OK, "", "warm cache: verified at once, no fetch");
    CHECK_INT_EQ(n_jwks_calls, 1, "still one fetch");
    onetap("good_nonce", "n-0S6_WzA2Mj", t + 1000, &o);
    CHECK_OUTCOME(o, AUTH_P_OK, "", "nonce expected and present");
    onetap("good_nonce", "other", t + 1000, &o);
    CHECK_OUTCOME(o, AUTH_P_INVALID, "nonce_mismatch", "nonce expected and different");

    /* Attacks are refused without touching the network. */
    static const struct {
        const char *name, *reason;
    } bad[] = {{"bad_sig", "bad_signature"},     {"tampered", "bad_signature"}, {"alg_none", "alg_not_allowed"},
               {"hs256_public", "alg_not_allowed"}, {"rs384", "alg_not_allowed"},  {"es256", "alg_not_allowed"},
               {"no_kid", "missing_kid"},         {"too_large", "token_too_large"}, {"wrong_aud", "wrong_audience"},
               {"wrong_iss", "wrong_issuer"},     {"expired", "expired"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        onetap(bad[i].name, NULL, t + 1000, &o);
        CHECK_OUTCOME(o, AUTH_P_INVALID, bad[i].reason, "%s: invalid %s, at once", bad[i].name, bad[i].reason);
    }
    CHECK_INT_EQ(n_jwks_calls, 1, "no fetch for any of them");
    memset(&o, 0, sizeof o);
    google_verify_credential(NULL, "x", 0, NULL, t, on_done, &o);
    CHECK_OUTCOME(o, AUTH_P_INVALID, "malformed", "empty credential");

    /* Google rotated: kid3 is unknown, one refetch finds it. */
    jwks_serves(jwks_rotated_text, "public, max-age=600");
    onetap("good_kid3", NULL, t + 2000, &o);
    CHECK(o.calls == 0 && n_jwks_calls == 2, "unknown kid: one refetch");
    drain();
    CHECK_OUTCOME(o, AUTH_P_OK, "", "rotated key found after the refetch");
    /* kid1 was rotated out; within 30 s of that refetch, no other one. */
    onetap("good", NULL, t + 3000, &o);
    CHECK_OUTCOME(o, AUTH_P_INVALID, "unknown_kid", "rotated-out kid: invalid");
    CHECK_INT_EQ(n_jwks_calls, 2, "throttled: no second fetch within 30 s");

    /* A flood of forged kids after the interval: one fetch for all of them. */
    int64_t t2 = t + 2000 + JWKS_UNKNOWN_KID_INTERVAL_MS;
    for (int i = 0; i < 100; i++) {
        const char *tk = tok("unknown_kid");
        memset(&many[i], 0, sizeof many[i]);
        google_verify_credential(NULL, tk, strlen(tk), NULL, t2 + i, on_done, &many[i]);
    }
    CHECK_INT_EQ(n_jwks_calls, 3, "100 forged kids: one fetch");
    drain();
    int all = 1;
    for (int i = 0; i < 100; i++)
        all &= is(&many[i], AUTH_P_INVALID, "unknown_kid");
    CHECK(all, "all 100 forged kids invalid, each answered once");

    /* The set goes stale while Google fails: the first caller refreshes, and falls back. */
    int64_t t3 = google_jwks.cur->expires_ms + 1;
    jwks_answer = (struct answer){NET_OK, 503, "<html>", NULL};
    onetap("good_kid3", NULL, t3, &o);
    CHECK(o.calls == 0 && n_jwks_calls == 4, "stale: refresh attempted");
    onetap("good_kid2", NULL, t3 + 10, &o2);
    CHECK_OUTCOME(o2, AUTH_P_OK, "", "meanwhile others use the stale set at once");
    CHECK_INT_EQ(n_jwks_calls, 4, "one refresh at a time");
    drain();
    CHECK_OUTCOME(o, AUTH_P_OK, "", "refresh failed (503): the stale set within its grace still verifies");
    onetap("good_kid3", NULL, t3 + 20, &o);
    CHECK_OUTCOME(o, AUTH_P_OK, "", "and keeps working without hammering Google");
    CHECK_INT_EQ(n_jwks_calls, 4, "no new fetch before the claim lapses");

    /* Past the grace with Google down: a clear unavailable, not a hang and not a pass. */
    int64_t t4 = google_jwks.cur->expires_ms + JWKS_STALE_GRACE_MS;
    jwks_answer = (struct answer){NET_TIMEOUT, 0, NULL, NULL};
    onetap("good_kid3", NULL, t4, &o);
    drain();
    CHECK_OUTCOME(o, AUTH_P_UNAVAILABLE, "jwks_unavailable", "keys too old and Google times out: unavailable");
    jwks_answer = (struct answer){NET_OK, 200, "{\"keys\":\"nope\"}", "max-age=600"};
    onetap("good_kid3", NULL, t4, &o);
    drain();
    CHECK_OUTCOME(o, AUTH_P_UNAVAILABLE, "jwks_unavailable", "a malformed JWKS: unavailable");
    complete_at_once = 1;
    onetap("good_kid3", NULL, t4, &o);
    complete_at_once = 0;
    CHECK_OUTCOME(o, AUTH_P_UNAVAILABLE, "jwks_unavailable", "client shutting down (completes inside submit)");

    /* Two cold misses at once each fetch; both complete once. */
    jwks_cache_clear(&google_jwks);
    jwks_serves(jwks_text, "max-age=3600");
    int before = n_jwks_calls;
    onetap("good", NULL, NOW_MS, &o);
    onetap("good_kid2", NULL, NOW_MS, &o2);
    CHECK_INT_EQ(n_jwks_calls - before, 2, "two cold misses: two fetches");
    drain();
    CHECK_OUTCOME(o, AUTH_P_OK, "", "first cold miss verified");
    CHECK_OUTCOME(o2, AUTH_P_OK, "", "second cold miss verified");
    CHECK(google_jwks.cur != NULL && google_jwks.cur->expires_ms == NOW_MS + 3600000, "one set installed");
}

static void test_code_flow(void)
{
    struct outcome o;
    struct auth_flow f = {
        .redirect_uri = "http://127.0.0.1:8080/api/v1/auth/oauth/google/callback",
        .state = "state-1",
        .code_challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        .nonce = "n-0S6_WzA2Mj",
    };
    char body[20000];

    load_config(1);
    memcpy(f.variant, "zz", 3);
    char *u = auth_google.authorize_url(&f);
    CHECK(u != NULL && strncmp(u, AUTH_URL "?client_id=" CLIENT "&redirect_uri=http%3A%2F%2F127.0.0.1%3A8080", 94) == 0,
          "authorize URL on TG_GOOGLE_AUTH_URL: %s", u ? u : "(null)");
    CHECK(u != NULL && strstr(u, "&state=state-1&nonce=n-0S6_WzA2Mj&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
                                 "&code_challenge_method=S256") != NULL,
          "with state, nonce and PKCE");
    CHECK_STR_EQ(f.variant, "", "one app: variant empty");
    free(u);

    /* Success: POST form, then the ID token verified (warm cache), nonce included. */
    snprintf(body, sizeof body,
             "{\"access_token\":\"ya29.abc\",\"expires_in\":3599,\"scope\":\"openid\",\"token_type\":\"Bearer\",\"id_token\":\"%s\"}",
             tok("good_nonce"));
    token_answer = (struct answer){NET_OK, 200, body, "no-cache, no-store, max-age=0, must-revalidate"};
    int before = n_token_calls;
    memset(&o, 0, sizeof o);
    auth_google.exchange(NULL, &f, "4/0Ab&c", "verifier-123", NOW_MS, on_done, &o);
    CHECK(o.calls == 0 && n_token_calls == before + 1, "exchange: one token call, answer pending");
    CHECK_STR_EQ(last_method, "POST", "token call is a POST");
    CHECK_STR_EQ(last_url, TOKEN_URL, "to TG_GOOGLE_TOKEN_URL");
    CHECK_STR_EQ(last_ctype, "application/x-www-form-urlencoded", "form-encoded");
    CHECK_STR_EQ(last_body,
                 "code=4%2F0Ab%26c&client_id=" CLIENT "&client_secret=GOCSPX-unit-secret&redirect_uri=http%3A%2F%2F127.0.0.1%3A8080"
                 "%2Fapi%2Fv1%2Fauth%2Foauth%2Fgoogle%2Fcallback&grant_type=authorization_code&code_verifier=verifier-123",
                 "form body");
    CHECK(last_idempotent == 0 && last_retries == 0 && last_timeout == 10000, "not retried, 10 s timeout");
    drain();
    CHECK_OUTCOME(o, AUTH_P_OK, "", "exchange: identity");
    CHECK_STR_EQ(o.res.id.subject, "110169484474386276334", "exchange: subject");

    /* The ID token must carry this flow's nonce. */
    f.nonce = "another-nonce";
    memset(&o, 0, sizeof o);
    auth_google.exchange(NULL, &f, "code", "v", NOW_MS, on_done, &o);
    drain();
    CHECK_OUTCOME(o, AUTH_P_INVALID, "nonce_mismatch", "exchange: ID token with another nonce refused");
    f.nonce = "n-0S6_WzA2Mj";

    /* Cold cache: token call, then the JWKS fetch, then the answer. */
    jwks_cache_clear(&google_jwks);
    jwks_serves(jwks_text, "max-age=3600");
    int jb = n_jwks_calls;
    memset(&o, 0, sizeof o);
    auth_google.exchange(NULL, &f, "code", "v", NOW_MS, on_done, &o);
    drain();
    CHECK_OUTCOME(o, AUTH_P_OK, "", "exchange with a cold cache: token, then keys");
    CHECK_INT_EQ(n_jwks_calls - jb, 1, "one JWKS fetch");

    static const struct {
        struct answer a;
        enum auth_prc rc;
        const char *reason, *what;
    } errs[] = {
        {{NET_OK, 400, "{\"error\":\"invalid_grant\",\"error_description\":\"Bad Request\"}", NULL}, AUTH_P_INVALID,
         "invalid_grant", "used or bad code"},
        {{NET_OK, 401, "{\"error\":\"invalid_client\",\"error_description\":\"Unauthorized\"}", NULL}, AUTH_P_MISCONFIGURED,
         "invalid_client", "wrong client secret"},
        {{NET_OK, 400, "{\"error\":\"redirect_uri_mismatch\"}", NULL}, AUTH_P_MISCONFIGURED, "redirect_uri_mismatch",
         "redirect URI not registered"},
        {{NET_OK, 503, "<html>", NULL}, AUTH_P_UNAVAILABLE, "http_503", "Google 503"},
        {{NET_OK, 500, "<html>", NULL}, AUTH_P_UNAVAILABLE, "http_500", "Google 500"},
        {{NET_TIMEOUT, 0, NULL, NULL}, AUTH_P_UNAVAILABLE, "timeout", "timeout"},
        {{NET_CONNECT, 0, NULL, NULL}, AUTH_P_UNAVAILABLE, "connect", "connection refused"},
        {{NET_OK, 200, "{\"access_token\":\"x\"}", NULL}, AUTH_P_UNAVAILABLE, "bad_token_response", "no id_token"},
    };
    for (size_t i = 0; i < sizeof errs / sizeof errs[0]; i++) {
        token_answer = errs[i].a;
        memset(&o, 0, sizeof o);
        auth_google.exchange(NULL, &f, "code", "v", NOW_MS, on_done, &o);
        drain();
        CHECK_OUTCOME(o, errs[i].rc, errs[i].reason, "exchange: %s", errs[i].what);
    }
    complete_at_once = 1;
    memset(&o, 0, sizeof o);
    auth_google.exchange(NULL, &f, "code", "v", NOW_MS, on_done, &o);
    complete_at_once = 0;
    CHECK_OUTCOME(o, AUTH_P_UNAVAILABLE, "shutdown", "exchange: client stopping (completes inside submit)");

    /* Codes are bounded before anything is sent. */
    char longcode[GOOGLE_CODE_MAX + 2];
    memset(longcode, 'c', sizeof longcode - 1);
    longcode[sizeof longcode - 1] = '\0';
    before = n_token_calls;
    memset(&o, 0, sizeof o);
    auth_google.exchange(NULL, &f, longcode, "v", NOW_MS, on_done, &o);
    CHECK_OUTCOME(o, AUTH_P_INVALID, "bad_code", "a code over GOOGLE_CODE_MAX");
    memset(&o, 0, sizeof o);
    auth_google.exchange(NULL, &f, "", "v", NOW_MS, on_done, &o);
    CHECK_OUTCOME(o, AUTH_P_INVALID, "bad_code", "an empty code");
    CHECK_INT_EQ(n_token_calls, before, "neither was sent");
}

int main(void)
{
    if (mkdtemp(data_dir) == NULL) {
        printf("Bail out! mkdtemp\n");
        return 1;
    }
    tokens_text = slurp("google_tokens.txt");
    jwks_text = slurp("google_jwks.json");
    jwks_rotated_text = slurp("google_jwks_rotated.json");
    unsetenv("TEST_DATA_DIR");

    test_unconfigured();
    test_onetap();
    test_code_flow();

    jwks_cache_clear(&google_jwks);
    config_free();
    free(tokens_text);
    free(jwks_text);
    free(jwks_rotated_text);
    {
        char *cmd = xasprintf("rm -rf '%s'", data_dir);
        if (system(cmd) != 0)
            printf("# could not remove %s\n", data_dir);
        free(cmd);
    }
    return test_done();
}
