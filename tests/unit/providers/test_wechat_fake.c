/*
 * WeChat sign-in end to end: the "wechat" provider from the registry, through the real net
 * client (its thread, an executor woken like a loop's), against the fake WeChat
 * (tests/fakes/wechat.mjs) started as a child process.
 *
 * Covers the browser's round trip (authorize URL -> the fake's page -> 302 with code and
 * state) for both apps, linking by unionid across them, appid:openid without one, the
 * errcodes (40029, 40163, 40125, -1), a malformed answer, a failing front end (502 not
 * retried for the code exchange, 503 retried for userinfo), slow answers that must end in
 * AUTH_P_UNAVAILABLE "timeout" within the per-call timeout (never a hang), denied consent,
 * and a provider that is down.
 *
 * Needs node (NODE, found by meson) and the fake (WECHAT_FAKE); missing either fails the
 * test, it does not skip it.
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
#include <sodium.h>

#include "core/config.h"
#include "core/log.h"
#include "core/mem.h"
#include "net/net.h"
#include "providers/auth/auth.h"
#include "providers/auth/wechat.h"

static char tmp_root[] = "/tmp/tg_test_wechat_fake.XXXXXX";
static struct fakeproc fake;
static char fake_url[128];
static char web_appid[64], web_secret[128], mp_appid[64], mp_secret[128];

static struct net_client *client;
static struct net_exec ex; /* completions woken like a loop's */
static struct net_exec sx; /* synchronous: the test's own requests to the fake */

static struct fake_waker W = FAKE_WAKER_INIT;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the fake as a child process ---------------------------------------------------------- */

static int start_fake(void)
{
    json_t *j = fakeproc_start(&fake, "WECHAT_FAKE", NULL), *apps;
    if (j == NULL)
        return -1;
    apps = json_object_get(j, "apps");
    fakeproc_str(j, "url", fake_url, sizeof fake_url);
    fakeproc_str(json_object_get(apps, "web"), "appid", web_appid, sizeof web_appid);
    fakeproc_str(json_object_get(apps, "web"), "secret", web_secret, sizeof web_secret);
    fakeproc_str(json_object_get(apps, "mp"), "appid", mp_appid, sizeof mp_appid);
    fakeproc_str(json_object_get(apps, "mp"), "secret", mp_secret, sizeof mp_secret);
    json_decref(j);
    return 0;
}

static int stop_fake(void) { return fakeproc_stop(&fake); }

static void sync_done(struct net_call *c)
{
    (void)c;
}

/* One synchronous request to the fake; returns the answer's JSON (caller decrefs) or NULL.
 * *location gets the Location header when asked for (caller frees). */
static json_t *fake_req(const char *method, const char *url, const char *body, char **location)
{
    struct net_call c;
    json_t *j = NULL;

    net_call_init(&c, "test", method, url);
    if (body != NULL)
        net_call_body(&c, "application/json", body, strlen(body));
    net_exec_submit(&sx, &c, sync_done); /* synchronous: done before it returns */
    if (location != NULL) {
        const char *loc = net_resp_header(&c, "location");
        *location = loc ? xstrdup(loc) : NULL;
    }
    if (c.err == NET_OK && c.resp_body != NULL)
        j = json_loads(c.resp_body, 0, NULL);
    net_call_release(&c);
    return j;
}

static void fake_post(const char *path, const char *body)
{
    char *u = xasprintf("%s%s", fake_url, path);
    json_decref(fake_req("POST", u, body, NULL));
    free(u);
}

static long long fake_counter(const char *name)
{
    char *u = xasprintf("%s/__control/counters", fake_url);
    json_t *j = fake_req("GET", u, NULL, NULL);
    long long v = json_integer_value(json_object_get(json_object_get(j, "result"), name));
    json_decref(j);
    free(u);
    return v;
}

/* The fake's identity of a person in an app: field "openid" or "unionid" (caller frees). */
static char *fake_identity(const char *person, int with_unionid, const char *app, const char *field)
{
    char *u = xasprintf("%s/__control/identity", fake_url), *b, *v;
    json_t *j, *res;
    b = xasprintf("[{\"person\":\"%s\"%s},\"%s\"]", person, with_unionid ? "" : ",\"unionid\":null", app);
    j = fake_req("POST", u, b, NULL);
    res = json_object_get(j, "result");
    v = json_is_string(json_object_get(res, field)) ? xstrdup(json_string_value(json_object_get(res, field)))
                                                    : xstrdup("");
    json_decref(j);
    free(u);
    free(b);
    return v;
}

/* ---- the provider ------------------------------------------------------------------------ */

static void configure(const char *web_secret_value)
{
    char dir[512], *err = NULL;
    snprintf(dir, sizeof dir, "%s/data", tmp_root);
    setenv("TG_DATA_DIR", dir, 1);
    setenv("TG_WECHAT_APPID", web_appid, 1);
    setenv("TG_WECHAT_SECRET", web_secret_value, 1);
    setenv("TG_WECHAT_MP_APPID", mp_appid, 1);
    setenv("TG_WECHAT_MP_SECRET", mp_secret, 1);
    setenv("TG_WECHAT_OPEN_BASE", fake_url, 1);
    setenv("TG_WECHAT_API_BASE", fake_url, 1);
    if (config_load(NULL, &err) != 0) {
        printf("Bail out! config_load: %s\n", err);
        exit(1);
    }
}

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

/* Runs exchange() and waits (draining like a loop) for its completion, at most wait_ms.
 * *elapsed_ms gets the time it took. */
static struct outcome exchange(const struct auth_provider *p, const char *variant, const char *code,
                               int wait_ms, int64_t *elapsed_ms)
{
    struct auth_flow f;
    struct outcome o;
    int64_t t0 = now_ms(), deadline = t0 + wait_ms;

    memset(&f, 0, sizeof f);
    memset(&o, 0, sizeof o);
    snprintf(f.variant, sizeof f.variant, "%s", variant);
    p->exchange(&ex, &f, code, NULL, 0, on_done, &o);
    for (;;) {
        net_exec_drain(&ex);
        if (o.calls > 0 || now_ms() > deadline)
            break;
        fake_waker_nap(&W);
    }
    if (elapsed_ms)
        *elapsed_ms = now_ms() - t0;
    return o;
}

/* What the browser does: start at the provider's URL, follow the fake's consent to our
 * callback. Returns the code (caller frees) or NULL; checks the state came back. */
static char *browser_round_trip(const struct auth_provider *p, const char *ua, char variant[AUTH_VARIANT_MAX],
                                int *state_ok)
{
    struct auth_flow f;
    char *url, *loc = NULL, *code = NULL, *hash;
    const char *q;

    memset(&f, 0, sizeof f);
    f.redirect_uri = "https://pay.example.com/api/v1/auth/oauth/wechat/callback";
    f.state = "Zm9vYmFyYmF6cXV4";
    f.user_agent = ua;
    url = p->authorize_url(&f);
    snprintf(variant, AUTH_VARIANT_MAX, "%s", f.variant);
    *state_ok = 0;
    if (url == NULL)
        return NULL;
    hash = strchr(url, '#'); /* a browser never sends the fragment */
    if (hash)
        *hash = '\0';
    json_decref(fake_req("GET", url, NULL, &loc));
    free(url);
    if (loc == NULL)
        return NULL;
    if (strncmp(loc, f.redirect_uri, strlen(f.redirect_uri)) == 0 && (q = strstr(loc, "code=")) != NULL) {
        size_t n = strcspn(q + 5, "&");
        code = xstrndup(q + 5, n);
    }
    *state_ok = strstr(loc, "state=Zm9vYmFyYmF6cXV4") != NULL;
    free(loc);
    return code;
}

int main(void)
{
    const struct auth_provider *p;
    struct outcome o;
    char variant[AUTH_VARIANT_MAX], *code, *want, *err = NULL;
    int state_ok;
    int64_t ms;
    long long before;

    signal(SIGPIPE, SIG_IGN);
    if (sodium_init() < 0 || mkdtemp(tmp_root) == NULL || net_global_init() != 0)
        return 1;
    net_exec_init(&sx, NULL, NULL, NULL);
    if (start_fake() != 0)
        return 1;
    client = net_client_start(64, &err);
    if (client == NULL) {
        printf("Bail out! net_client_start: %s\n", err);
        return 1;
    }
    net_exec_init(&ex, client, fake_waker_wake, &W);
    log_set_level("warn");
    configure(web_secret);

    p = auth_provider_find("wechat");
    CHECK(p != NULL, "the registry has wechat");
    if (p == NULL)
        return test_done();
    CHECK(p->configured(), "configured with both apps");

    /* A person with a unionid signs in on a desktop browser, then inside WeChat. */
    fake_post("/__control/setUser", "[{\"person\":\"alice\",\"nickname\":\"\\u5c0f\\u660e\"}]");
    code = browser_round_trip(p, "Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0", variant, &state_ok);
    CHECK(code != NULL, "desktop: the fake's QR page consented with a code");
    CHECK(state_ok, "desktop: the state came back");
    CHECK_STR_EQ(variant, "web", "desktop: website app");
    o = exchange(p, variant, code, 15000, &ms);
    want = fake_identity("alice", 1, "web", "unionid");
    CHECK(o.calls == 1 && o.res.rc == AUTH_P_OK, "desktop: signed in (%s %s)", auth_prc_name(o.res.rc),
          o.res.reason);
    CHECK_STR_EQ(o.res.id.subject, want, "desktop: subject is alice's unionid");
    CHECK_STR_EQ(o.res.id.display_name, "\xe5\xb0\x8f\xe6\x98\x8e", "desktop: display name");
    CHECK_STR_EQ(o.res.id.provider, "wechat", "desktop: provider");

    /* The same code again: WeChat's 40163. */
    o = exchange(p, "web", code, 15000, NULL);
    CHECK(o.res.rc == AUTH_P_INVALID && strcmp(o.res.reason, "wechat_40163") == 0,
          "a used code: invalid wechat_40163 (got %s %s)", auth_prc_name(o.res.rc), o.res.reason);
    free(code);

    code =
        browser_round_trip(p, "Mozilla/5.0 (iPhone) MicroMessenger/8.0.44 NetType/WIFI", variant, &state_ok);
    CHECK(code != NULL && state_ok, "inside WeChat: the H5 page consented");
    CHECK_STR_EQ(variant, "mp", "inside WeChat: Official Account");
    o = exchange(p, variant, code, 15000, NULL);
    CHECK(o.res.rc == AUTH_P_OK, "inside WeChat: signed in (%s %s)", auth_prc_name(o.res.rc), o.res.reason);
    CHECK_STR_EQ(o.res.id.subject, want, "inside WeChat: the same subject as on the desktop (one unionid)");
    free(want);
    free(code);

    /* A person without unionid: appid:openid. */
    fake_post("/__control/setUser", "[{\"person\":\"bob\",\"unionid\":null,\"nickname\":\"Bob\"}]");
    code = browser_round_trip(p, "MicroMessenger", variant, &state_ok);
    o = exchange(p, variant, code, 15000, NULL);
    {
        char *openid = fake_identity("bob", 0, "mp", "openid");
        char *subject = xasprintf("%s:%s", mp_appid, openid);
        CHECK(o.res.rc == AUTH_P_OK, "no unionid: signed in");
        CHECK_STR_EQ(o.res.id.subject, subject, "no unionid: subject is mp_appid:openid");
        free(openid);
        free(subject);
    }
    free(code);

    /* Errors WeChat reports as HTTP 200 + errcode. */
    o = exchange(p, "web", "ffffffffffffffffffffffffffffffff", 15000, NULL);
    CHECK(o.res.rc == AUTH_P_INVALID && strcmp(o.res.reason, "wechat_40029") == 0,
          "unknown code: wechat_40029");
    fake_post("/__control/forceErrcode", "[-1,\"token\",{\"times\":1}]");
    o = exchange(p, "web", "c0de", 15000, NULL);
    CHECK(o.res.rc == AUTH_P_UNAVAILABLE && strcmp(o.res.reason, "wechat_-1") == 0,
          "system busy: unavailable");
    fake_post("/__control/forceBody", "[\"<html>oops</html>\",\"userinfo\",{\"times\":1}]");
    {
        char *u = xasprintf("%s/__control/issueCode", fake_url);
        json_t *j = fake_req("POST", u, "[\"web\"]", NULL);
        o = exchange(p, "web", json_string_value(json_object_get(j, "result")), 15000, NULL);
        CHECK(o.res.rc == AUTH_P_UNAVAILABLE && strcmp(o.res.reason, "bad_answer") == 0,
              "malformed userinfo: bad_answer");
        json_decref(j);
        free(u);
    }
    configure("wrong-secret");
    {
        char *u = xasprintf("%s/__control/issueCode", fake_url);
        json_t *j = fake_req("POST", u, "[\"web\"]", NULL);
        o = exchange(p, "web", json_string_value(json_object_get(j, "result")), 15000, NULL);
        CHECK(o.res.rc == AUTH_P_MISCONFIGURED && strcmp(o.res.reason, "wechat_40125") == 0,
              "wrong app secret: misconfigured wechat_40125");
        json_decref(j);
        free(u);
    }
    configure(web_secret);

    /* A failing front end: the code exchange is never retried, userinfo is. */
    fake_post("/__control/forceHttp", "[502,\"token\"]");
    before = fake_counter("token");
    o = exchange(p, "web", "c0de", 15000, NULL);
    CHECK(o.res.rc == AUTH_P_UNAVAILABLE && strcmp(o.res.reason, "http_502") == 0,
          "502 on the code: http_502");
    CHECK_INT_EQ(fake_counter("token") - before, 1, "the single-use code was sent once");
    fake_post("/__control/clearForced", "[]");
    fake_post("/__control/forceHttp", "[503,\"userinfo\"]");
    before = fake_counter("userinfo");
    code = browser_round_trip(p, NULL, variant, &state_ok);
    o = exchange(p, variant, code, 15000, NULL);
    free(code);
    CHECK(o.res.rc == AUTH_P_UNAVAILABLE && strcmp(o.res.reason, "http_503") == 0,
          "503 on userinfo: http_503");
    CHECK_INT_EQ(fake_counter("userinfo") - before, 1 + WECHAT_USERINFO_RETRIES, "userinfo was retried");
    fake_post("/__control/clearForced", "[]");

    /* Slow answers end in "timeout" within the per-call timeout, never a hang. */
    fake_post("/__control/setDelay", "[30000,\"token\"]");
    before = fake_counter("token");
    o = exchange(p, "web", "c0de", 20000, &ms);
    CHECK(o.calls == 1 && o.res.rc == AUTH_P_UNAVAILABLE && strcmp(o.res.reason, "timeout") == 0,
          "slow code exchange: unavailable timeout (got %s %s)", auth_prc_name(o.res.rc), o.res.reason);
    CHECK(ms >= WECHAT_CALL_TIMEOUT_MS - 100 && ms < WECHAT_CALL_TIMEOUT_MS + 1500,
          "slow code exchange answered after %lld ms (timeout %d ms)", (long long)ms, WECHAT_CALL_TIMEOUT_MS);
    CHECK_INT_EQ(fake_counter("token") - before, 1, "a timed-out code exchange is not retried");
    fake_post("/__control/setDelay", "[0,\"all\"]");
    code = browser_round_trip(p, NULL, variant, &state_ok);
    fake_post("/__control/setDelay", "[30000,\"userinfo\"]");
    before = fake_counter("userinfo");
    o = exchange(p, variant, code, 30000, &ms);
    free(code);
    CHECK(o.calls == 1 && o.res.rc == AUTH_P_UNAVAILABLE && strcmp(o.res.reason, "timeout") == 0,
          "slow userinfo: unavailable timeout");
    /* Every attempt its timeout, plus at most one backoff (NET_RETRY_BASE_MS * 2^0). */
    CHECK(ms < (1 + WECHAT_USERINFO_RETRIES) * WECHAT_CALL_TIMEOUT_MS + NET_RETRY_BASE_MS + 1500,
          "slow userinfo answered after %lld ms", (long long)ms);
    CHECK_INT_EQ(fake_counter("userinfo") - before, 1 + WECHAT_USERINFO_RETRIES, "userinfo tried %d times",
                 1 + WECHAT_USERINFO_RETRIES);
    fake_post("/__control/setDelay", "[0,\"all\"]");

    /* The person refuses: the callback has no code. */
    fake_post("/__control/setDenied", "[true]");
    code = browser_round_trip(p, NULL, variant, &state_ok);
    CHECK(code == NULL && state_ok, "denied: back with the state and no code");
    o = exchange(p, variant, code, 15000, NULL);
    CHECK(o.res.rc == AUTH_P_DENIED, "denied: AUTH_P_DENIED");
    fake_post("/__control/setDenied", "[false]");

    /* WeChat down: the fake is gone. */
    CHECK(WIFEXITED(stop_fake()), "the fake stopped");
    o = exchange(p, "web", "c0de", 15000, &ms);
    CHECK(o.calls == 1 && o.res.rc == AUTH_P_UNAVAILABLE && strcmp(o.res.reason, "connect") == 0,
          "provider down: unavailable connect (got %s %s)", auth_prc_name(o.res.rc), o.res.reason);
    CHECK(ms < 2000, "provider down: answered in %lld ms", (long long)ms);

    net_client_stop(client);
    net_exec_dispose(&ex);
    net_exec_dispose(&sx);
    config_free();
    net_global_cleanup();
    {
        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_root);
        if (system(cmd) != 0)
            printf("# could not remove %s\n", tmp_root);
    }
    return test_done();
}
