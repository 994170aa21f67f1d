/*
 * Unit tests for src/providers/auth/wechat.c: authorize URLs, answer parsing, errcode
 * mapping, subject choice, nickname cleaning, and exchange() driven through a scripted
 * stand-in for net.h (this file includes wechat.c, h2o style, and defines the net_*
 * functions it calls), so every path runs without a network.
 */
#include "../test.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "providers/auth/wechat.c"

/* ---- a scripted net ---------------------------------------------------------------- */

struct scripted {
    enum net_err err;
    long status;
    const char *body; /* NULL: no body */
};

struct seen_call {
    char provider[16];
    char method[8];
    char url[2048];
    int timeout_ms, idempotent, retries;
    size_t max_response;
};

static struct scripted script[8];
static size_t n_script, script_pos;
static struct seen_call seen[8];
static size_t n_seen;
static int deferred; /* 1: done() runs from drain(), not inside submit */
static struct net_call *pending;

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
    c->headers[c->n_headers++] = xasprintf("%s: %s", name, value);
}

void net_call_body(struct net_call *c, const char *content_type, const char *body, size_t len)
{
    (void)content_type;
    c->body = xstrndup(body, len);
    c->body_len = len;
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
    free(c->body);
    free(c->resp_body);
    for (size_t i = 0; i < c->n_headers; i++)
        free(c->headers[i]);
    for (size_t i = 0; i < c->n_resp_headers; i++) {
        free(c->resp_headers[i].name);
        free(c->resp_headers[i].value);
    }
    memset(c, 0, sizeof *c);
}

void net_exec_submit(struct net_exec *ex, struct net_call *c, net_done_fn done)
{
    struct seen_call *s = &seen[n_seen < 8 ? n_seen : 7];
    (void)ex;
    n_seen++;
    snprintf(s->provider, sizeof s->provider, "%s", c->provider);
    snprintf(s->method, sizeof s->method, "%s", c->method);
    snprintf(s->url, sizeof s->url, "%s", c->url);
    s->timeout_ms = c->timeout_ms;
    s->idempotent = c->idempotent;
    s->retries = c->retries;
    s->max_response = c->max_response;
    c->done = done;
    if (script_pos < n_script) {
        const struct scripted *a = &script[script_pos++];
        c->err = a->err;
        c->status = a->status;
        if (a->body != NULL) {
            /* Exactly the answer's bytes (+ NUL, as net.h promises): ASan sees overreads. */
            c->resp_len = strlen(a->body);
            c->resp_body = xmalloc(c->resp_len + 1);
            memcpy(c->resp_body, a->body, c->resp_len + 1);
        }
        /* WeChat serves its JSON as text/plain. */
        c->resp_headers[0].name = xstrdup("content-type");
        c->resp_headers[0].value = xstrdup("text/plain");
        c->n_resp_headers = 1;
    } else {
        c->err = NET_CONNECT; /* an unscripted call: nobody is listening */
    }
    c->attempts = 1;
    if (deferred)
        pending = c;
    else
        done(c);
}

/* registry.c's, which this test does not link (it would pull every provider in). */
const char *auth_prc_name(enum auth_prc rc)
{
    static const char *names[] = {"ok", "denied", "invalid", "unavailable", "misconfigured"};
    return (unsigned)rc < 5 ? names[rc] : "unknown";
}

static void drain(void)
{
    while (pending != NULL) {
        struct net_call *c = pending;
        pending = NULL;
        c->done(c);
    }
}

/* ---- helpers ---------------------------------------------------------------------------- */

#define WEB_APPID "wxd477edab60670232"
#define WEB_SECRET "web-secret_0123456789abcdef0123"
#define MP_APPID "wx5f0a3c1b2d4e6f78"
#define MP_SECRET "mp+secret/with&odd=chars"
#define REDIRECT "https://pay.example.com/api/v1/auth/oauth/wechat/callback"
#define REDIRECT_ENC "https%3A%2F%2Fpay.example.com%2Fapi%2Fv1%2Fauth%2Foauth%2Fwechat%2Fcallback"
#define UA_DESKTOP "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"
#define UA_WECHAT                                                                                            \
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "       \
    "Mobile/15E148 MicroMessenger/8.0.44(0x18002c2a) NetType/WIFI Language/zh_CN"

static char tmp_root[] = "/tmp/tg_test_wechat.XXXXXX";
static int dir_seq;

static void env_clear(void)
{
    for (;;) {
        char name[256] = "";
        for (char **e = environ; *e; e++)
            if (strncmp(*e, "TG_", 3) == 0) {
                const char *eq = strchr(*e, '=');
                size_t n = eq ? (size_t)(eq - *e) : strlen(*e);
                if (n < sizeof name) {
                    memcpy(name, *e, n);
                    name[n] = '\0';
                }
                break;
            }
        if (name[0] == '\0')
            return;
        unsetenv(name);
    }
}

/* Loads a configuration with the given apps (NULL: not set). */
static void configure(const char *web_id, const char *web_secret, const char *mp_id, const char *mp_secret)
{
    char dir[512], *err = NULL;
    env_clear();
    snprintf(dir, sizeof dir, "%s/d%d", tmp_root, ++dir_seq);
    setenv("TG_DATA_DIR", dir, 1);
    setenv("TG_LOG_LEVEL", "debug", 1);
    if (web_id)
        setenv("TG_WECHAT_APPID", web_id, 1);
    if (web_secret)
        setenv("TG_WECHAT_SECRET", web_secret, 1);
    if (mp_id)
        setenv("TG_WECHAT_MP_APPID", mp_id, 1);
    if (mp_secret)
        setenv("TG_WECHAT_MP_SECRET", mp_secret, 1);
    if (config_load(NULL, &err) != 0) {
        printf("Bail out! config_load: %s\n", err);
        exit(1);
    }
    log_set_level("debug");
}

static char *authorize(const char *ua, char variant_out[AUTH_VARIANT_MAX])
{
    struct auth_flow f;
    char *url;
    memset(&f, 0, sizeof f);
    f.redirect_uri = REDIRECT;
    f.state = "st4teABC123";
    f.user_agent = ua;
    memcpy(f.variant, "junk", 5);
    url = auth_wechat.authorize_url(&f);
    snprintf(variant_out, AUTH_VARIANT_MAX, "%s", f.variant);
    return url;
}

/* Parses body as a token answer from an exact-size copy. */
static enum auth_prc parse_tok(const char *body, struct wechat_token *tok, struct auth_result *res)
{
    size_t n = strlen(body);
    char *copy = xmalloc(n ? n : 1);
    enum auth_prc rc;
    memcpy(copy, body, n);
    memset(res, 0, sizeof *res);
    rc = wechat_parse_token(copy, n, tok, res);
    free(copy);
    return rc;
}

static enum auth_prc parse_ui(const char *body, struct wechat_userinfo *ui, struct auth_result *res)
{
    size_t n = strlen(body);
    char *copy = xmalloc(n ? n : 1);
    enum auth_prc rc;
    memcpy(copy, body, n);
    memset(res, 0, sizeof *res);
    rc = wechat_parse_userinfo(copy, n, ui, res);
    free(copy);
    return rc;
}

/* ---- authorize URLs ----------------------------------------------------------------------- */

static void test_provider(void)
{
    CHECK_STR_EQ(auth_wechat.name, "wechat", "registered as wechat");
    CHECK_INT_EQ(auth_wechat.pkce, 0, "WeChat has no PKCE");
    CHECK_INT_EQ(auth_wechat.trust_email, 0, "WeChat gives no email to trust");
    CHECK_INT_EQ(auth_wechat.vouches, 1, "WeChat vouches for the person (a verified phone)");
    CHECK(auth_wechat.configured && auth_wechat.authorize_url && auth_wechat.exchange,
          "all operations present");

    configure(NULL, NULL, NULL, NULL);
    CHECK_INT_EQ(auth_wechat.configured(), 0, "nothing set: not configured");
    configure(WEB_APPID, NULL, NULL, NULL);
    CHECK_INT_EQ(auth_wechat.configured(), 0, "website appid without secret: not configured");
    configure(NULL, NULL, NULL, MP_SECRET);
    CHECK_INT_EQ(auth_wechat.configured(), 0, "Official Account secret without appid: not configured");
    configure(WEB_APPID, WEB_SECRET, NULL, NULL);
    CHECK_INT_EQ(auth_wechat.configured(), 1, "website app alone: configured");
    configure(NULL, NULL, MP_APPID, MP_SECRET);
    CHECK_INT_EQ(auth_wechat.configured(), 1, "Official Account alone: configured");
    CHECK_STR_EQ(config_get("TG_WECHAT_OPEN_BASE"), "https://open.weixin.qq.com",
                 "TG_WECHAT_OPEN_BASE default");
    CHECK_STR_EQ(config_get("TG_WECHAT_API_BASE"), "https://api.weixin.qq.com", "TG_WECHAT_API_BASE default");
}

static void test_authorize_urls(void)
{
    char variant[AUTH_VARIANT_MAX], *url;
    struct auth_flow f;

    configure(WEB_APPID, WEB_SECRET, MP_APPID, MP_SECRET);
    url = authorize(UA_DESKTOP, variant);
    CHECK_STR_EQ(url,
                 "https://open.weixin.qq.com/connect/qrconnect?appid=" WEB_APPID "&redirect_uri=" REDIRECT_ENC
                 "&response_type=code&scope=snsapi_login&state=st4teABC123#wechat_redirect",
                 "desktop browser: website QR login, parameters in WeChat's order");
    CHECK_STR_EQ(variant, "web", "desktop browser: variant web");
    free(url);

    url = authorize(UA_WECHAT, variant);
    CHECK_STR_EQ(url,
                 "https://open.weixin.qq.com/connect/oauth2/authorize?appid=" MP_APPID
                 "&redirect_uri=" REDIRECT_ENC
                 "&response_type=code&scope=snsapi_userinfo&state=st4teABC123#wechat_redirect",
                 "inside WeChat: Official Account H5 authorization");
    CHECK_STR_EQ(variant, "mp", "inside WeChat: variant mp");
    free(url);

    url = authorize(NULL, variant);
    CHECK(url != NULL && strncmp(url, "https://open.weixin.qq.com/connect/qrconnect?", 45) == 0,
          "no User-Agent: website QR login");
    CHECK_STR_EQ(variant, "web", "no User-Agent: variant web");
    free(url);

    url = authorize("Mozilla/5.0 micromessenger/8.0", variant);
    CHECK_STR_EQ(variant, "web", "WeChat's token is matched as WeChat writes it (MicroMessenger)");
    free(url);

    configure(NULL, NULL, MP_APPID, MP_SECRET);
    url = authorize(UA_DESKTOP, variant);
    CHECK(url != NULL && strstr(url, "/connect/oauth2/authorize?appid=" MP_APPID "&") != NULL,
          "only the Official Account: its page even outside WeChat (it says to open WeChat)");
    CHECK_STR_EQ(variant, "mp", "only the Official Account: variant mp");
    free(url);

    configure(WEB_APPID, WEB_SECRET, NULL, NULL);
    url = authorize(UA_WECHAT, variant);
    CHECK(url != NULL && strstr(url, "/connect/qrconnect?appid=" WEB_APPID "&") != NULL,
          "only the website app: QR login even inside WeChat");
    CHECK_STR_EQ(variant, "web", "only the website app: variant web");
    free(url);

    configure(NULL, NULL, NULL, NULL);
    url = authorize(UA_DESKTOP, variant);
    CHECK(url == NULL, "no app configured: no URL");
    CHECK_STR_EQ(variant, "", "no app configured: variant cleared");

    configure(WEB_APPID, WEB_SECRET, MP_APPID, MP_SECRET);
    setenv("TG_WECHAT_OPEN_BASE", "http://127.0.0.1:43210/", 1);
    {
        char *err = NULL;
        CHECK(config_load(NULL, &err) == 0, "TG_WECHAT_OPEN_BASE accepted");
        free(err);
    }
    url = authorize(UA_DESKTOP, variant);
    CHECK(url != NULL && strncmp(url, "http://127.0.0.1:43210/connect/qrconnect?appid=", 47) == 0,
          "TG_WECHAT_OPEN_BASE (trailing slash removed) points the page at a fake");
    free(url);

    /* State and redirect_uri are encoded: nothing in them can add a parameter or a fragment. */
    memset(&f, 0, sizeof f);
    f.redirect_uri = "https://a.example/cb?x=1&y=2#frag";
    f.state = "a+b/c=d&scope=snsapi_base#x";
    f.user_agent = UA_DESKTOP;
    url = auth_wechat.authorize_url(&f);
    CHECK_STR_EQ(url,
                 "http://127.0.0.1:43210/connect/qrconnect?appid=" WEB_APPID
                 "&redirect_uri=https%3A%2F%2Fa.example%2Fcb%3Fx%3D1%26y%3D2%23frag"
                 "&response_type=code&scope=snsapi_login&state=a%2Bb%2Fc%3Dd%26scope%3Dsnsapi_base%23x#"
                 "wechat_redirect",
                 "reserved characters in redirect_uri and state are percent-encoded");
    free(url);

    {
        char state[WECHAT_STATE_MAX + 2];
        memset(state, 'A', sizeof state);
        state[WECHAT_STATE_MAX] = '\0';
        f.state = state;
        f.redirect_uri = REDIRECT;
        url = auth_wechat.authorize_url(&f);
        CHECK(url != NULL, "a state of %d bytes (WeChat's limit) is accepted", WECHAT_STATE_MAX);
        free(url);
        state[WECHAT_STATE_MAX] = 'A';
        state[WECHAT_STATE_MAX + 1] = '\0';
        url = auth_wechat.authorize_url(&f);
        CHECK(url == NULL, "a state over WeChat's limit is refused, not sent");
        CHECK_STR_EQ(f.variant, "", "refused: no variant");
        f.state = "";
        CHECK(auth_wechat.authorize_url(&f) == NULL, "an empty state is refused");
        f.state = NULL;
        CHECK(auth_wechat.authorize_url(&f) == NULL, "a missing state is refused");
        f.state = "s";
        f.redirect_uri = "";
        CHECK(auth_wechat.authorize_url(&f) == NULL, "an empty redirect_uri is refused");
    }

    CHECK(wechat_build_authorize_url("https://o", "web", "wx1&evil=1", REDIRECT, "s") == NULL,
          "an appid outside [A-Za-z0-9_-] is refused");
    CHECK(wechat_build_authorize_url("https://o", "sandbox", WEB_APPID, REDIRECT, "s") == NULL,
          "an unknown variant is refused");
    url = wechat_build_authorize_url("https://o", "mp", "wx_-Z9", "r", "s");
    CHECK_STR_EQ(url,
                 "https://o/connect/oauth2/"
                 "authorize?appid=wx_-Z9&redirect_uri=r&response_type=code&scope=snsapi_userinfo"
                 "&state=s#wechat_redirect",
                 "wechat_build_authorize_url mp form");
    free(url);
}

/* ---- answer parsing --------------------------------------------------------------------- */

static void test_parse_token(void)
{
    struct wechat_token tok;
    struct auth_result res;
    char big[WECHAT_ANSWER_MAX + 64];
    size_t i;

    CHECK_INT_EQ(
        parse_tok("{\"access_token\":\"ACCESS_TOKEN-x.y\",\"expires_in\":7200,\"refresh_token\":\"REFRESH\","
                  "\"openid\":\"oLVPpjqs9BhvzwPj5A-vTYAX3GLc\",\"scope\":\"snsapi_login\","
                  "\"unionid\":\"o6_bmasdasdsad6_2sgVt7hMZOPfL\"}",
                  &tok, &res),
        AUTH_P_OK, "token answer with unionid");
    CHECK_STR_EQ(tok.access_token, "ACCESS_TOKEN-x.y", "access_token");
    CHECK_STR_EQ(tok.openid, "oLVPpjqs9BhvzwPj5A-vTYAX3GLc", "openid");
    CHECK_STR_EQ(tok.unionid, "o6_bmasdasdsad6_2sgVt7hMZOPfL", "unionid");
    CHECK_INT_EQ(tok.errcode, 0, "no errcode");

    CHECK_INT_EQ(
        parse_tok("{\"access_token\":\"T\",\"expires_in\":7200,\"refresh_token\":\"R\",\"openid\":\"OPENID\","
                  "\"scope\":\"snsapi_userinfo\",\"is_snapshotuser\":1}",
                  &tok, &res),
        AUTH_P_OK, "token answer without unionid");
    CHECK_STR_EQ(tok.unionid, "", "unionid empty when absent");
    CHECK_INT_EQ(parse_tok("{\"access_token\":\"T\",\"openid\":\"O\",\"unionid\":\"\"}", &tok, &res),
                 AUTH_P_OK, "empty unionid counts as absent");
    CHECK_STR_EQ(tok.unionid, "", "empty unionid stays empty");
    CHECK_INT_EQ(parse_tok("{\"access_token\":\"T\",\"openid\":\"O\",\"unionid\":null}", &tok, &res),
                 AUTH_P_OK, "null unionid counts as absent");
    CHECK_INT_EQ(
        parse_tok("{\"errcode\":0,\"errmsg\":\"ok\",\"access_token\":\"T\",\"openid\":\"O\"}", &tok, &res),
        AUTH_P_OK, "errcode 0 is not an error");
    CHECK_INT_EQ(parse_tok("  \r\n{\"access_token\":\"T\",\"openid\":\"O\"}\n", &tok, &res), AUTH_P_OK,
                 "whitespace around the object");

    /* The error form: HTTP 200 with errcode. */
    CHECK_INT_EQ(parse_tok("{\"errcode\":40029,\"errmsg\":\"invalid code, rid: 6581b0c7-1b2d3e4f-5a6b7c8d\"}",
                           &tok, &res),
                 AUTH_P_INVALID, "40029 invalid code");
    CHECK_STR_EQ(res.reason, "wechat_40029", "40029 reason");
    CHECK_INT_EQ(tok.errcode, 40029, "errcode kept");
    CHECK_STR_EQ(tok.errmsg, "invalid code, rid: 6581b0c7-1b2d3e4f-5a6b7c8d", "errmsg kept for the log");
    CHECK_STR_EQ(tok.access_token, "", "no token on an error");
    CHECK_INT_EQ(parse_tok("{\"errcode\":40163,\"errmsg\":\"code been used, rid: x\"}", &tok, &res),
                 AUTH_P_INVALID, "40163 code been used");
    CHECK_STR_EQ(res.reason, "wechat_40163", "40163 reason");
    CHECK_INT_EQ(parse_tok("{\"errcode\":40125,\"errmsg\":\"invalid appsecret\"}", &tok, &res),
                 AUTH_P_MISCONFIGURED, "40125 invalid appsecret is ours to fix");
    CHECK_INT_EQ(parse_tok("{\"errcode\":-1,\"errmsg\":\"system error\"}", &tok, &res), AUTH_P_UNAVAILABLE,
                 "-1 system busy");
    CHECK_STR_EQ(res.reason, "wechat_-1", "-1 reason");
    CHECK_INT_EQ(parse_tok("{\"errcode\":40029}", &tok, &res), AUTH_P_INVALID, "errcode without errmsg");
    CHECK_INT_EQ(parse_tok("{\"errcode\":40029,\"errmsg\":\"a\\u0000b\"}", &tok, &res), AUTH_P_UNAVAILABLE,
                 "a NUL inside a string is a bad answer");
    CHECK_INT_EQ(
        parse_tok("{\"errcode\":40029,\"errmsg\":\"evil\\n{\\\"level\\\":\\\"x\\\"}\\u202e\"}", &tok, &res),
        AUTH_P_INVALID, "errmsg with controls");
    CHECK_STR_EQ(tok.errmsg, "evil{\"level\":\"x\"}", "errmsg is cleaned of controls before it is logged");

    /* Bad answers. */
    {
        static const char *bad[] = {
            "",
            "not json",
            "<html><body>502 Bad Gateway</body></html>",
            "[]",
            "null",
            "\"str\"",
            "{",
            "{\"access_token\":\"T\",\"openid\":\"O\"",
            "{\"access_token\":\"T\",\"openid\":\"O\"} trailing",
            "{\"access_token\":\"T\",\"openid\":\"O\",\"openid\":\"P\"}",
            "{\"access_token\":\"T\"}",
            "{\"openid\":\"O\"}",
            "{\"access_token\":\"\",\"openid\":\"O\"}",
            "{\"access_token\":\"T\",\"openid\":\"\"}",
            "{\"access_token\":\"T\",\"openid\":42}",
            "{\"access_token\":7,\"openid\":\"O\"}",
            "{\"access_token\":\"T\",\"openid\":\"O\",\"unionid\":5}",
            "{\"access_token\":\"T\",\"openid\":\"wx:O\"}",
            "{\"access_token\":\"T\",\"openid\":\"O\",\"unionid\":\"wx1:O\"}",
            "{\"access_token\":\"T\",\"openid\":\"O P\"}",
            "{\"access_token\":\"T\",\"openid\":\"O/../x\"}",
            "{\"access_token\":\"T\",\"openid\":\"\\u00e9\"}",
            "{\"access_token\":\"T T\",\"openid\":\"O\"}",
            "{\"access_token\":\"T\\u0001\",\"openid\":\"O\"}",
            "{\"access_token\":\"\\u4e2d\",\"openid\":\"O\"}",
            "{\"errcode\":\"40029\",\"errmsg\":\"invalid code\"}",
            "{\"errcode\":40029.0,\"errmsg\":\"invalid code\"}",
            "{\"errcode\":null}",
            "{\"errcode\":true}",
            "{\"access_token\":\"T\",\"openid\":\"O\",\"x\":\"\xff\"}",
        };
        int wrong = 0;
        for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
            if (parse_tok(bad[i], &tok, &res) != AUTH_P_UNAVAILABLE ||
                strcmp(res.reason, "bad_answer") != 0 || tok.access_token[0] != '\0' ||
                tok.openid[0] != '\0') {
                printf("# accepted or misread: %s\n", bad[i]);
                wrong++;
            }
        CHECK_INT_EQ(wrong, 0, "%zu malformed token answers are all AUTH_P_UNAVAILABLE bad_answer",
                     sizeof bad / sizeof bad[0]);
    }

    /* Bounds: ids of 64 characters pass, 65 do not; a token of 512 passes, 513 does not. */
    {
        char id64[WECHAT_ID_MAX + 2], tk[WECHAT_TOKEN_MAX + 2], body[1400];
        memset(id64, 'a', WECHAT_ID_MAX);
        id64[WECHAT_ID_MAX] = '\0';
        memset(tk, 'T', WECHAT_TOKEN_MAX);
        tk[WECHAT_TOKEN_MAX] = '\0';
        snprintf(body, sizeof body, "{\"access_token\":\"%s\",\"openid\":\"%s\",\"unionid\":\"%s\"}", tk,
                 id64, id64);
        CHECK_INT_EQ(parse_tok(body, &tok, &res), AUTH_P_OK, "ids of %d and a token of %d characters fit",
                     WECHAT_ID_MAX, WECHAT_TOKEN_MAX);
        id64[WECHAT_ID_MAX] = 'a';
        id64[WECHAT_ID_MAX + 1] = '\0';
        snprintf(body, sizeof body, "{\"access_token\":\"T\",\"openid\":\"%s\"}", id64);
        CHECK_INT_EQ(parse_tok(body, &tok, &res), AUTH_P_UNAVAILABLE,
                     "an openid over %d characters is refused", WECHAT_ID_MAX);
        snprintf(body, sizeof body, "{\"access_token\":\"T\",\"openid\":\"O\",\"unionid\":\"%s\"}", id64);
        CHECK_INT_EQ(parse_tok(body, &tok, &res), AUTH_P_UNAVAILABLE,
                     "a unionid over %d characters is refused", WECHAT_ID_MAX);
        tk[WECHAT_TOKEN_MAX] = 'T';
        tk[WECHAT_TOKEN_MAX + 1] = '\0';
        snprintf(body, sizeof body, "{\"access_token\":\"%s\",\"openid\":\"O\"}", tk);
        CHECK_INT_EQ(parse_tok(body, &tok, &res), AUTH_P_UNAVAILABLE,
                     "an access_token over %d characters is refused", WECHAT_TOKEN_MAX);
    }

    /* An oversized answer is refused before it is parsed. */
    {
        size_t n;
        n = (size_t)snprintf(big, sizeof big, "{\"access_token\":\"T\",\"openid\":\"O\",\"pad\":\"");
        memset(big + n, 'x', WECHAT_ANSWER_MAX - n - 2);
        memcpy(big + WECHAT_ANSWER_MAX - 2, "\"}", 3);
        CHECK_INT_EQ(strlen(big), WECHAT_ANSWER_MAX, "answer of exactly %d bytes built", WECHAT_ANSWER_MAX);
        CHECK_INT_EQ(parse_tok(big, &tok, &res), AUTH_P_OK, "an answer of WECHAT_ANSWER_MAX bytes is read");
        memmove(big + n + 1, big + n, WECHAT_ANSWER_MAX - n + 1);
        big[n] = 'x';
        CHECK_INT_EQ(parse_tok(big, &tok, &res), AUTH_P_UNAVAILABLE, "one byte more is refused");
        CHECK_STR_EQ(res.reason, "bad_answer", "oversized: bad_answer");
    }
    memset(&res, 0, sizeof res);
    CHECK_INT_EQ(wechat_parse_token(NULL, 0, &tok, &res), AUTH_P_UNAVAILABLE, "no body at all");
    /* The length given is the length read: no NUL needed, nothing read past it. */
    CHECK_INT_EQ(wechat_parse_token("{\"access_token\":\"T\",\"openid\":\"O\"}GARBAGE", 33, &tok, &res),
                 AUTH_P_OK, "only len bytes are parsed");
}

static void test_errcodes(void)
{
    static const struct {
        long long code;
        enum auth_prc rc;
    } map[] = {
        {40029, AUTH_P_INVALID},       {40163, AUTH_P_INVALID},       {41008, AUTH_P_INVALID},
        {40030, AUTH_P_INVALID},       {40003, AUTH_P_INVALID},       {40001, AUTH_P_INVALID},
        {42001, AUTH_P_INVALID},       {40125, AUTH_P_MISCONFIGURED}, {40013, AUTH_P_MISCONFIGURED},
        {40164, AUTH_P_MISCONFIGURED}, {48001, AUTH_P_MISCONFIGURED}, {-1, AUTH_P_UNAVAILABLE},
        {45009, AUTH_P_UNAVAILABLE},   {45011, AUTH_P_UNAVAILABLE},   {99999, AUTH_P_UNAVAILABLE},
        {1, AUTH_P_UNAVAILABLE},
    };
    struct wechat_token tok;
    struct wechat_userinfo ui;
    struct auth_result res;
    char reason[64], body[128], want[64];

    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        snprintf(want, sizeof want, "wechat_%lld", map[i].code);
        CHECK_INT_EQ(wechat_errcode_prc(map[i].code, reason), map[i].rc, "errcode %lld -> %s", map[i].code,
                     auth_prc_name(map[i].rc));
        CHECK_STR_EQ(reason, want, "errcode %lld reason", map[i].code);
        snprintf(body, sizeof body, "{\"errcode\":%lld,\"errmsg\":\"m\"}", map[i].code);
        CHECK(parse_tok(body, &tok, &res) == map[i].rc && strcmp(res.reason, want) == 0 &&
                  parse_ui(body, &ui, &res) == map[i].rc && strcmp(res.reason, want) == 0,
              "errcode %lld in either answer", map[i].code);
    }
    CHECK_INT_EQ(wechat_errcode_prc(-9223372036854775807LL - 1, reason), AUTH_P_UNAVAILABLE,
                 "INT64_MIN errcode");
    CHECK_STR_EQ(reason, "wechat_-9223372036854775808", "INT64_MIN errcode reason fits");
}

static void test_parse_userinfo(void)
{
    struct wechat_userinfo ui;
    struct auth_result res;
    char body[4096];

    CHECK_INT_EQ(
        parse_ui(
            "{\"openid\":\"OPENID\",\"nickname\":\"\\u5c0f\\u660e\",\"sex\":1,\"province\":\"PROVINCE\","
            "\"city\":\"CITY\",\"country\":\"COUNTRY\",\"headimgurl\":\"http://wx.qlogo.cn/mmopen/g3/0\","
            "\"privilege\":[\"PRIVILEGE1\",\"PRIVILEGE2\"],\"unionid\":\"o6_bmasdasdsad6_2sgVt7hMZOPfL\"}",
            &ui, &res),
        AUTH_P_OK, "userinfo answer (the documented example)");
    CHECK_STR_EQ(ui.openid, "OPENID", "userinfo openid");
    CHECK_STR_EQ(ui.unionid, "o6_bmasdasdsad6_2sgVt7hMZOPfL", "userinfo unionid");
    CHECK_STR_EQ(ui.nickname, "\xe5\xb0\x8f\xe6\x98\x8e", "nickname (UTF-8)");

    CHECK_INT_EQ(
        parse_ui("{\"openid\":\"OPENID\",\"nickname\":\"Bob\",\"sex\":0,\"language\":\"\",\"city\":\"\","
                 "\"province\":\"\",\"country\":\"\",\"headimgurl\":\"\",\"privilege\":[]}",
                 &ui, &res),
        AUTH_P_OK, "userinfo without unionid (anonymised fields)");
    CHECK_STR_EQ(ui.unionid, "", "no unionid");
    CHECK_INT_EQ(parse_ui("{\"openid\":\"OPENID\"}", &ui, &res), AUTH_P_OK, "userinfo without nickname");
    CHECK_STR_EQ(ui.nickname, "", "no nickname");
    CHECK_INT_EQ(parse_ui("{\"openid\":\"OPENID\",\"nickname\":null}", &ui, &res), AUTH_P_OK,
                 "null nickname");
    CHECK_INT_EQ(
        parse_ui("{\"openid\":\"OPENID\",\"nickname\":\"\\u202eevil\\u202c \\u0007Bob\\n \"}", &ui, &res),
        AUTH_P_OK, "nickname with controls");
    CHECK_STR_EQ(ui.nickname, "evil Bob", "bidi overrides and controls stripped, ends trimmed");
    CHECK_INT_EQ(parse_ui("{\"openid\":\"OPENID\",\"nickname\":\"\\ud83d\\ude00 Ann\"}", &ui, &res),
                 AUTH_P_OK, "emoji nickname");
    CHECK_STR_EQ(ui.nickname, "\xf0\x9f\x98\x80 Ann", "emoji kept");

    /* 300 bytes of CJK (100 characters of 3 bytes): cut to 33 characters = 99 bytes. */
    {
        size_t n = (size_t)snprintf(body, sizeof body, "{\"openid\":\"O\",\"nickname\":\"");
        for (int i = 0; i < 100; i++)
            n += (size_t)snprintf(body + n, sizeof body - n, "\xe4\xb8\xad");
        snprintf(body + n, sizeof body - n, "\"}");
        CHECK_INT_EQ(parse_ui(body, &ui, &res), AUTH_P_OK, "long CJK nickname accepted");
        CHECK_INT_EQ(strlen(ui.nickname), 99, "cut at a character boundary within %d bytes", TG_NAME_MAX);
    }
    /* WECHAT_NICKNAME_RAW_MAX bytes pass (then cut); one more is an absurd answer. */
    {
        size_t n = (size_t)snprintf(body, sizeof body, "{\"openid\":\"O\",\"nickname\":\"");
        memset(body + n, 'n', WECHAT_NICKNAME_RAW_MAX);
        snprintf(body + n + WECHAT_NICKNAME_RAW_MAX, sizeof body - n - WECHAT_NICKNAME_RAW_MAX, "\"}");
        CHECK_INT_EQ(parse_ui(body, &ui, &res), AUTH_P_OK, "nickname of %d bytes accepted",
                     WECHAT_NICKNAME_RAW_MAX);
        CHECK_INT_EQ(strlen(ui.nickname), TG_NAME_MAX, "and kept to %d bytes", TG_NAME_MAX);
        memset(body + n, 'n', WECHAT_NICKNAME_RAW_MAX + 1);
        snprintf(body + n + WECHAT_NICKNAME_RAW_MAX + 1, sizeof body - n - WECHAT_NICKNAME_RAW_MAX - 1,
                 "\"}");
        CHECK_INT_EQ(parse_ui(body, &ui, &res), AUTH_P_UNAVAILABLE, "nickname over %d bytes refused",
                     WECHAT_NICKNAME_RAW_MAX);
    }
    CHECK_INT_EQ(parse_ui("{\"openid\":\"O\",\"nickname\":42}", &ui, &res), AUTH_P_UNAVAILABLE,
                 "numeric nickname");
    CHECK_INT_EQ(parse_ui("{\"nickname\":\"Bob\"}", &ui, &res), AUTH_P_UNAVAILABLE,
                 "userinfo without openid");
    CHECK_STR_EQ(res.reason, "bad_answer", "userinfo without openid: bad_answer");
    CHECK_INT_EQ(parse_ui("{\"errcode\":40003,\"errmsg\":\"invalid openid\"}", &ui, &res), AUTH_P_INVALID,
                 "userinfo 40003");
    CHECK_STR_EQ(ui.errmsg, "invalid openid", "userinfo errmsg kept");
}

static void test_subject(void)
{
    struct wechat_token tok;
    struct wechat_userinfo ui;
    struct auth_result res;
    char sub[AUTH_SUBJECT_MAX];

    memset(&tok, 0, sizeof tok);
    memset(&ui, 0, sizeof ui);
    strcpy(tok.openid, "oOPEN");
    strcpy(ui.openid, "oOPEN");
    strcpy(ui.unionid, "oUNION");
    CHECK_INT_EQ(wechat_subject(WEB_APPID, &tok, &ui, sub, &res), AUTH_P_OK, "unionid from userinfo");
    CHECK_STR_EQ(sub, "oUNION", "subject = unionid");
    strcpy(tok.unionid, "oUNION");
    CHECK_INT_EQ(wechat_subject(WEB_APPID, &tok, &ui, sub, &res), AUTH_P_OK, "unionid in both answers");
    CHECK_STR_EQ(sub, "oUNION", "subject = the agreed unionid");
    ui.unionid[0] = '\0';
    CHECK_INT_EQ(wechat_subject(WEB_APPID, &tok, &ui, sub, &res), AUTH_P_OK,
                 "unionid only in the token answer");
    CHECK_STR_EQ(sub, "oUNION", "subject = the token answer's unionid");
    tok.unionid[0] = '\0';
    CHECK_INT_EQ(wechat_subject(WEB_APPID, &tok, &ui, sub, &res), AUTH_P_OK, "no unionid");
    CHECK_STR_EQ(sub, WEB_APPID ":oOPEN", "subject = appid:openid");
    CHECK_INT_EQ(wechat_subject(MP_APPID, &tok, &ui, sub, &res), AUTH_P_OK, "no unionid, other app");
    CHECK_STR_EQ(sub, MP_APPID ":oOPEN", "the same openid in another app is another subject");

    strcpy(ui.openid, "oOTHER");
    CHECK_INT_EQ(wechat_subject(WEB_APPID, &tok, &ui, sub, &res), AUTH_P_UNAVAILABLE,
                 "userinfo about another openid is refused");
    CHECK_STR_EQ(res.reason, "openid_mismatch", "openid_mismatch");
    CHECK_STR_EQ(sub, "", "no subject on a mismatch");
    strcpy(ui.openid, "oOPEN");
    strcpy(tok.unionid, "oUNION1");
    strcpy(ui.unionid, "oUNION2");
    CHECK_INT_EQ(wechat_subject(WEB_APPID, &tok, &ui, sub, &res), AUTH_P_UNAVAILABLE,
                 "answers naming two unionids are refused");
    CHECK_STR_EQ(res.reason, "unionid_mismatch", "unionid_mismatch");
    tok.unionid[0] = ui.unionid[0] = '\0';
    CHECK_INT_EQ(wechat_subject("wx:bad", &tok, &ui, sub, &res), AUTH_P_MISCONFIGURED,
                 "an appid with ':' never makes a subject");
    {
        /* The longest subject fits. */
        char appid[WECHAT_APPID_MAX + 1];
        memset(appid, 'w', WECHAT_APPID_MAX);
        appid[WECHAT_APPID_MAX] = '\0';
        memset(tok.openid, 'o', WECHAT_ID_MAX);
        tok.openid[WECHAT_ID_MAX] = '\0';
        memcpy(ui.openid, tok.openid, sizeof ui.openid);
        CHECK_INT_EQ(wechat_subject(appid, &tok, &ui, sub, &res), AUTH_P_OK, "longest appid:openid");
        CHECK_INT_EQ(strlen(sub), WECHAT_APPID_MAX + 1 + WECHAT_ID_MAX, "longest subject is whole");
    }
}

static void test_nickname(void)
{
    char out[TG_NAME_MAX + 1];
    static const struct {
        const char *in, *out;
    } v[] = {
        {"Alice", "Alice"},
        {"   padded  ", "padded"},
        {"a\tb\r\nc", "abc"},
        {"\x7f\xc2\x80\xc2\x9f"
         "x",
         "x"},                                                    /* DEL and C1 */
        {"zero\xe2\x80\x8bwidth", "zerowidth"},                   /* U+200B */
        {"\xe2\x80\xaeRTL\xe2\x81\xa6iso\xe2\x81\xa9", "RTLiso"}, /* U+202E, U+2066, U+2069 */
        {"\xef\xbb\xbf"
         "bom",
         "bom"}, /* U+FEFF */
        {"bad\xff\xfe"
         "bytes",
         "badbytes"},
        {"over\xc0\xaflong", "overlong"},       /* overlong '/' */
        {"sur\xed\xa0\x80rogate", "surrogate"}, /* U+D800 in UTF-8 */
        {"cut\xe4\xb8", "cut"},                 /* truncated sequence */
        {"\xe5\xbe\xae\xe4\xbf\xa1\xe7\x94\xa8\xe6\x88\xb7",
         "\xe5\xbe\xae\xe4\xbf\xa1\xe7\x94\xa8\xe6\x88\xb7"},
        {"\xf4\x90\x80\x80"
         "big",
         "big"}, /* past U+10FFFF */
        {"", ""},
        {" \t ", ""},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        wechat_clean_nickname(v[i].in, strlen(v[i].in), out);
        CHECK_STR_EQ(out, v[i].out, "nickname #%zu cleaned", i);
    }
    wechat_clean_nickname("a\0b", 3, out);
    CHECK_STR_EQ(out, "ab", "an embedded NUL is dropped");
}

/* ---- exchange through the scripted net -------------------------------------------------- */

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

/* Runs one exchange with the given answers; returns the outcome. */
static struct outcome run_exchange(const char *variant, const char *code, size_t n,
                                   const struct scripted *answers)
{
    struct auth_flow f;
    struct outcome o;
    struct net_exec ex;

    memset(&ex, 0, sizeof ex);
    memset(&o, 0, sizeof o);
    memset(&f, 0, sizeof f);
    snprintf(f.variant, sizeof f.variant, "%s", variant);
    f.redirect_uri = REDIRECT;
    f.state = "s";
    if (n > 0)
        memcpy(script, answers, n * sizeof *answers);
    n_script = n;
    script_pos = 0;
    n_seen = 0;
    memset(seen, 0, sizeof seen);
    auth_wechat.exchange(&ex, &f, code, "ignored-verifier", 1700000000000LL, on_done, &o);
    drain();
    return o;
}

#define TOKEN_OK_UNION                                                                                       \
    "{\"access_token\":\"ACCESS_TOKEN_abc\",\"expires_in\":7200,\"refresh_token\":\"REFRESH_TOKEN_def\","    \
    "\"openid\":\"oWEB_openid_1\",\"scope\":\"snsapi_login\",\"unionid\":\"oUNION_person_1\"}"
#define USERINFO_OK_UNION                                                                                    \
    "{\"openid\":\"oWEB_openid_1\",\"nickname\":\"\\u5c0f\\u660e\",\"sex\":0,\"language\":\"\",\"city\":"    \
    "\"\","                                                                                                  \
    "\"province\":\"\",\"country\":\"\",\"headimgurl\":\"\",\"privilege\":[],\"unionid\":\"oUNION_person_"   \
    "1\"}"

static void test_exchange(void)
{
    struct outcome o;

    configure(WEB_APPID, WEB_SECRET, MP_APPID, MP_SECRET);
    for (deferred = 0; deferred < 2; deferred++) {
        const char *mode = deferred ? "deferred" : "synchronous";
        struct scripted ok[] = {{NET_OK, 200, TOKEN_OK_UNION}, {NET_OK, 200, USERINFO_OK_UNION}};
        o = run_exchange("web", "0316B8000c2fEb1h4y200dCj0K36B80a", 2, ok);
        CHECK_INT_EQ(o.calls, 1, "%s: done exactly once", mode);
        CHECK_INT_EQ(o.res.rc, AUTH_P_OK, "%s: website sign-in succeeds", mode);
        CHECK_INT_EQ(n_seen, 2, "%s: two calls", mode);
        CHECK_STR_EQ(seen[0].url,
                     "https://api.weixin.qq.com/sns/oauth2/access_token?appid=" WEB_APPID
                     "&secret=web-secret_0123456789abcdef0123&code=0316B8000c2fEb1h4y200dCj0K36B80a"
                     "&grant_type=authorization_code",
                     "%s: code exchange URL", mode);
        CHECK_STR_EQ(seen[0].method, "GET", "%s: code exchange is a GET", mode);
        CHECK_STR_EQ(seen[0].provider, "wechat", "%s: net logs it as wechat", mode);
        CHECK(seen[0].idempotent == 0 && seen[0].retries == 0, "%s: the single-use code is never retried",
              mode);
        CHECK_INT_EQ(seen[0].timeout_ms, WECHAT_CALL_TIMEOUT_MS, "%s: exchange timeout", mode);
        CHECK_INT_EQ(seen[0].max_response, WECHAT_ANSWER_MAX, "%s: exchange answer bounded", mode);
        CHECK_STR_EQ(
            seen[1].url,
            "https://api.weixin.qq.com/sns/userinfo?access_token=ACCESS_TOKEN_abc&openid=oWEB_openid_1"
            "&lang=zh_CN",
            "%s: userinfo URL", mode);
        CHECK(seen[1].idempotent == 1 && seen[1].retries == WECHAT_USERINFO_RETRIES,
              "%s: userinfo is retried by net", mode);
        CHECK_INT_EQ(seen[1].timeout_ms, WECHAT_CALL_TIMEOUT_MS, "%s: userinfo timeout", mode);
        CHECK_INT_EQ(seen[1].max_response, WECHAT_ANSWER_MAX, "%s: userinfo answer bounded", mode);
        CHECK_STR_EQ(o.res.id.provider, "wechat", "%s: identity provider", mode);
        CHECK_STR_EQ(o.res.id.subject, "oUNION_person_1", "%s: subject is the unionid", mode);
        CHECK_STR_EQ(o.res.id.email, "", "%s: no email", mode);
        CHECK_INT_EQ(o.res.id.email_verified, 0, "%s: nothing verified", mode);
        CHECK_STR_EQ(o.res.id.display_name, "\xe5\xb0\x8f\xe6\x98\x8e", "%s: display name is the nickname",
                     mode);
        CHECK_STR_EQ(o.res.id.locale, "zh-CN", "%s: locale", mode);
    }
    deferred = 1;

    {
        struct scripted ok[] = {
            {NET_OK, 200,
             "{\"access_token\":\"AT2\",\"expires_in\":7200,\"refresh_token\":\"R\",\"openid\":\"oMP_"
             "openid\","
             "\"scope\":\"snsapi_userinfo\"}"},
            {NET_OK, 200, "{\"openid\":\"oMP_openid\",\"nickname\":\"Bob\",\"privilege\":[]}"}};
        o = run_exchange("mp", "CODE2", 2, ok);
        CHECK_INT_EQ(o.res.rc, AUTH_P_OK, "Official Account sign-in without unionid succeeds");
        CHECK_STR_EQ(seen[0].url,
                     "https://api.weixin.qq.com/sns/oauth2/access_token?appid=" MP_APPID
                     "&secret=mp%2Bsecret%2Fwith%26odd%3Dchars&code=CODE2&grant_type=authorization_code",
                     "mp: the Official Account's app, secret percent-encoded");
        CHECK_STR_EQ(o.res.id.subject, MP_APPID ":oMP_openid", "mp without unionid: appid:openid");
        CHECK_STR_EQ(o.res.id.display_name, "Bob", "mp: nickname");
    }

    /* A code that tries to add parameters stays one value. */
    {
        struct scripted err[] = {{NET_OK, 200, "{\"errcode\":40029,\"errmsg\":\"invalid code\"}"}};
        o = run_exchange("web", "x&appid=wxevil&secret=s#", 1, err);
        CHECK(strstr(seen[0].url, "&code=x%26appid%3Dwxevil%26secret%3Ds%23&grant_type=") != NULL,
              "code is percent-encoded into one parameter");
        CHECK_INT_EQ(o.res.rc, AUTH_P_INVALID, "40029 -> invalid");
        CHECK_STR_EQ(o.res.reason, "wechat_40029", "40029 reason");
        CHECK_INT_EQ(n_seen, 1, "no userinfo call after an error");
        CHECK_INT_EQ(o.calls, 1, "done once on an error");
    }

    {
        static const struct {
            const char *body;
            enum auth_prc rc;
            const char *reason;
        } token_errs[] = {
            {"{\"errcode\":40163,\"errmsg\":\"code been used, rid: 1\"}", AUTH_P_INVALID, "wechat_40163"},
            {"{\"errcode\":41008,\"errmsg\":\"missing code\"}", AUTH_P_INVALID, "wechat_41008"},
            {"{\"errcode\":40125,\"errmsg\":\"invalid appsecret\"}", AUTH_P_MISCONFIGURED, "wechat_40125"},
            {"{\"errcode\":40013,\"errmsg\":\"invalid appid\"}", AUTH_P_MISCONFIGURED, "wechat_40013"},
            {"{\"errcode\":-1,\"errmsg\":\"system error\"}", AUTH_P_UNAVAILABLE, "wechat_-1"},
            {"<html>bad gateway</html>", AUTH_P_UNAVAILABLE, "bad_answer"},
        };
        for (size_t i = 0; i < sizeof token_errs / sizeof token_errs[0]; i++) {
            struct scripted a[] = {{NET_OK, 200, token_errs[i].body}};
            o = run_exchange("web", "C", 1, a);
            CHECK(o.calls == 1 && o.res.rc == token_errs[i].rc &&
                      strcmp(o.res.reason, token_errs[i].reason) == 0 && n_seen == 1 &&
                      o.res.id.subject[0] == '\0',
                  "token answer %s -> %s %s", token_errs[i].body, auth_prc_name(token_errs[i].rc),
                  token_errs[i].reason);
        }
    }

    {
        static const struct {
            enum net_err err;
            long status;
            const char *reason;
        } net_errs[] = {
            {NET_TIMEOUT, 0, "timeout"},        {NET_CONNECT, 0, "connect"},   {NET_TLS, 0, "tls"},
            {NET_TOO_LARGE, 200, "bad_answer"}, {NET_SHUTDOWN, 0, "shutdown"}, {NET_ERROR, 0, "net_error"},
            {NET_PROTOCOL, 0, "net_error"},     {NET_OK, 502, "http_502"},     {NET_OK, 503, "http_503"},
            {NET_OK, 404, "http_404"},
        };
        for (size_t i = 0; i < sizeof net_errs / sizeof net_errs[0]; i++) {
            struct scripted a[] = {{net_errs[i].err, net_errs[i].status,
                                    net_errs[i].status ? "{\"access_token\":\"T\",\"openid\":\"O\"}" : NULL}};
            o = run_exchange("web", "C", 1, a);
            CHECK(o.calls == 1 && o.res.rc == AUTH_P_UNAVAILABLE &&
                      strcmp(o.res.reason, net_errs[i].reason) == 0 && n_seen == 1,
                  "code exchange %s -> unavailable %s", net_errs[i].reason, net_errs[i].reason);
            {
                struct scripted two[] = {{NET_OK, 200, TOKEN_OK_UNION}, a[0]};
                two[1].body = net_errs[i].status ? "{\"openid\":\"oWEB_openid_1\"}" : NULL;
                o = run_exchange("web", "C", 2, two);
                CHECK(o.calls == 1 && o.res.rc == AUTH_P_UNAVAILABLE &&
                          strcmp(o.res.reason, net_errs[i].reason) == 0 && n_seen == 2 &&
                          o.res.id.subject[0] == '\0',
                      "userinfo %s -> unavailable %s", net_errs[i].reason, net_errs[i].reason);
            }
        }
    }

    {
        struct scripted a[] = {{NET_OK, 200, TOKEN_OK_UNION},
                               {NET_OK, 200, "{\"errcode\":40003,\"errmsg\":\"invalid openid\"}"}};
        o = run_exchange("web", "C", 2, a);
        CHECK(o.res.rc == AUTH_P_INVALID && strcmp(o.res.reason, "wechat_40003") == 0,
              "userinfo 40003 -> invalid");
        a[1].body = "{\"openid\":\"oSOMEONE_ELSE\",\"unionid\":\"oUNION_person_1\"}";
        o = run_exchange("web", "C", 2, a);
        CHECK(o.res.rc == AUTH_P_UNAVAILABLE && strcmp(o.res.reason, "openid_mismatch") == 0 &&
                  o.res.id.subject[0] == '\0',
              "userinfo about another person -> refused");
        a[1].body = "{\"openid\":\"oWEB_openid_1\",\"unionid\":\"oUNION_other\"}";
        o = run_exchange("web", "C", 2, a);
        CHECK(o.res.rc == AUTH_P_UNAVAILABLE && strcmp(o.res.reason, "unionid_mismatch") == 0,
              "two unionids -> refused");
        a[1].body = "{\"openid\":\"oWEB_openid_1\"}";
        o = run_exchange("web", "C", 2, a);
        CHECK(o.res.rc == AUTH_P_OK && strcmp(o.res.id.subject, "oUNION_person_1") == 0 &&
                  strcmp(o.res.id.display_name, "") == 0,
              "userinfo without unionid or nickname: the token answer's unionid, no display name");
    }

    /* Refused before any call. */
    {
        char longcode[WECHAT_CODE_MAX + 2];
        memset(longcode, 'c', sizeof longcode - 1);
        longcode[sizeof longcode - 1] = '\0';
        o = run_exchange("web", NULL, 0, NULL);
        CHECK(o.calls == 1 && o.res.rc == AUTH_P_DENIED && strcmp(o.res.reason, "no_code") == 0 &&
                  n_seen == 0,
              "no code (the person refused): denied, no call");
        o = run_exchange("web", "", 0, NULL);
        CHECK(o.res.rc == AUTH_P_DENIED && n_seen == 0, "empty code: denied, no call");
        o = run_exchange("web", "a b", 0, NULL);
        CHECK(o.res.rc == AUTH_P_INVALID && strcmp(o.res.reason, "bad_code") == 0 && n_seen == 0,
              "code with a space: invalid, no call");
        o = run_exchange("web", "a\r\nb", 0, NULL);
        CHECK(o.res.rc == AUTH_P_INVALID && n_seen == 0, "code with CRLF: invalid, no call");
        o = run_exchange("web", longcode, 0, NULL);
        CHECK(o.res.rc == AUTH_P_INVALID && n_seen == 0, "code over %d bytes: invalid, no call",
              WECHAT_CODE_MAX);
        longcode[WECHAT_CODE_MAX] = '\0';
        {
            struct scripted a[] = {{NET_OK, 200, "{\"errcode\":40029}"}};
            o = run_exchange("web", longcode, 1, a);
            CHECK(n_seen == 1, "code of %d bytes is sent", WECHAT_CODE_MAX);
        }
        o = run_exchange("", "C", 0, NULL);
        CHECK(o.res.rc == AUTH_P_INVALID && strcmp(o.res.reason, "bad_variant") == 0 && n_seen == 0,
              "no variant: invalid, no call");
        {
            struct auth_flow f;
            struct net_exec ex;
            memset(&f, 0, sizeof f);
            memset(&ex, 0, sizeof ex);
            memset(&o, 0, sizeof o);
            memset(f.variant, 'w', sizeof f.variant); /* no NUL anywhere */
            n_seen = 0;
            auth_wechat.exchange(&ex, &f, "C", NULL, 0, on_done, &o);
            CHECK(o.calls == 1 && o.res.rc == AUTH_P_INVALID && strcmp(o.res.reason, "bad_variant") == 0 &&
                      n_seen == 0,
                  "an unterminated variant is refused without reading past it");
        }
        o = run_exchange("sandbox", "C", 0, NULL);
        CHECK(o.res.rc == AUTH_P_INVALID && n_seen == 0, "unknown variant: invalid, no call");
        configure(WEB_APPID, WEB_SECRET, NULL, NULL);
        o = run_exchange("mp", "C", 0, NULL);
        CHECK(o.res.rc == AUTH_P_MISCONFIGURED && strcmp(o.res.reason, "app_not_configured") == 0 &&
                  n_seen == 0,
              "variant whose app is no longer configured: misconfigured, no call");
        configure("wx bad", WEB_SECRET, NULL, NULL);
        o = run_exchange("web", "C", 0, NULL);
        CHECK(o.res.rc == AUTH_P_MISCONFIGURED && strcmp(o.res.reason, "bad_appid") == 0 && n_seen == 0,
              "an appid that cannot be right: misconfigured, no call");
    }

    /* TG_WECHAT_API_BASE points both calls at a fake. */
    configure(WEB_APPID, WEB_SECRET, MP_APPID, MP_SECRET);
    setenv("TG_WECHAT_API_BASE", "http://127.0.0.1:40001/", 1);
    {
        char *err = NULL;
        struct scripted ok[] = {{NET_OK, 200, TOKEN_OK_UNION}, {NET_OK, 200, USERINFO_OK_UNION}};
        CHECK(config_load(NULL, &err) == 0, "TG_WECHAT_API_BASE accepted");
        free(err);
        o = run_exchange("web", "C", 2, ok);
        CHECK(o.res.rc == AUTH_P_OK &&
                  strncmp(seen[0].url, "http://127.0.0.1:40001/sns/oauth2/access_token?", 47) == 0 &&
                  strncmp(seen[1].url, "http://127.0.0.1:40001/sns/userinfo?", 36) == 0,
              "both calls go to TG_WECHAT_API_BASE");
    }
}

/* The log never carries the app secret, the access token or the refresh token. */
static void test_no_secrets_logged(void)
{
    char path[600], buf[65536];
    int fd, saved;
    ssize_t n;
    struct outcome o;

    configure(WEB_APPID, WEB_SECRET, MP_APPID, MP_SECRET);
    snprintf(path, sizeof path, "%s/log.txt", tmp_root);
    fd = open(path, O_CREAT | O_TRUNC | O_RDWR, 0600);
    saved = dup(2);
    dup2(fd, 2);
    {
        struct scripted a[] = {{NET_OK, 200, TOKEN_OK_UNION}, {NET_OK, 200, USERINFO_OK_UNION}};
        struct scripted b[] = {{NET_OK, 200, "{\"errcode\":40125,\"errmsg\":\"invalid appsecret\"}"}};
        struct scripted c[] = {{NET_OK, 200, TOKEN_OK_UNION},
                               {NET_OK, 200, "{\"errcode\":-1,\"errmsg\":\"busy\"}"}};
        struct scripted d[] = {{NET_OK, 200, TOKEN_OK_UNION}, {NET_TIMEOUT, 0, NULL}};
        o = run_exchange("web", "SECRETCODE123", 2, a);
        o = run_exchange("web", "SECRETCODE123", 1, b);
        o = run_exchange("web", "SECRETCODE123", 2, c);
        o = run_exchange("mp", "SECRETCODE123", 2, d);
    }
    (void)o;
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    lseek(fd, 0, SEEK_SET);
    n = read(fd, buf, sizeof buf - 1);
    close(fd);
    buf[n > 0 ? n : 0] = '\0';
    CHECK(strstr(buf, "wechat_signin_failed") != NULL && strstr(buf, "wechat_40125") != NULL,
          "failures are logged with their reason");
    CHECK(strstr(buf, "\"level\":\"error\"") != NULL, "a refused app secret is logged as an error");
    CHECK(strstr(buf, "web-secret") == NULL && strstr(buf, "mp+secret") == NULL, "no app secret in the log");
    CHECK(strstr(buf, "ACCESS_TOKEN_abc") == NULL && strstr(buf, "REFRESH_TOKEN_def") == NULL,
          "no access or refresh token in the log");
    CHECK(strstr(buf, "SECRETCODE123") == NULL, "no authorization code in the log");
}

int main(void)
{
    if (sodium_init() < 0 || mkdtemp(tmp_root) == NULL)
        return 1;
    test_provider();
    test_authorize_urls();
    test_parse_token();
    test_errcodes();
    test_parse_userinfo();
    test_subject();
    test_nickname();
    test_exchange();
    test_no_secrets_logged();
    config_free();
    {
        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_root);
        if (system(cmd) != 0)
            printf("# could not remove %s\n", tmp_root);
    }
    return test_done();
}
