/*
 * wechat.c - WeChat sign-in: the website app's QR login and the Official Account's H5
 * authorization (see wechat.h; wire formats in PROVIDERS.md section 7).
 *
 * exchange() is two calls through net.h, one after the other, on the caller's loop:
 *   1. GET {api}/sns/oauth2/access_token?appid&secret&code&grant_type=authorization_code
 *      (not retried: the code is single-use);
 *   2. GET {api}/sns/userinfo?access_token&openid&lang=zh_CN (retried once by net).
 * Both URLs carry a secret (the app secret, then the user's access token). net's log line
 * leaves query strings out; nothing here logs a URL, and both URLs and both answers are
 * wiped before their memory is released.
 */
#include "providers/auth/wechat.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "core/config.h"
#include "core/log.h"
#include "core/mem.h"
#include "crypto/encode.h"
#include "net/net.h"

/* ---- wire formats (pure) ------------------------------------------------------------ */

int wechat_id_ok(const char *s, size_t max)
{
    size_t n;
    if (s == NULL)
        return 0;
    n = strlen(s);
    if (n == 0 || n > max)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '-'))
            return 0;
    }
    return 1;
}

/* Appends the percent-encoded value s. */
static void sbuf_pct(struct sbuf *b, const char *s)
{
    size_t n = strlen(s);
    char *enc = xmalloc(pct_encoded_len(s, n) + 1);
    size_t o = pct_encode(s, n, enc);
    sbuf_append(b, enc, o);
    free(enc);
}

char *wechat_build_authorize_url(const char *open_base, const char *variant, const char *appid,
                                 const char *redirect_uri, const char *state)
{
    struct sbuf b = {0};
    const char *path, *scope;
    size_t rlen, slen;

    if (open_base == NULL || variant == NULL || redirect_uri == NULL || state == NULL)
        return NULL;
    if (strcmp(variant, WECHAT_VARIANT_WEB) == 0) {
        path = "/connect/qrconnect";
        scope = "snsapi_login";
    } else if (strcmp(variant, WECHAT_VARIANT_MP) == 0) {
        path = "/connect/oauth2/authorize";
        scope = "snsapi_userinfo";
    } else {
        return NULL;
    }
    rlen = strlen(redirect_uri);
    slen = strlen(state);
    if (!wechat_id_ok(appid, WECHAT_APPID_MAX) || rlen == 0 || rlen > WECHAT_REDIRECT_MAX || slen == 0 ||
        slen > WECHAT_STATE_MAX)
        return NULL;

    /* The order below is WeChat's: its pages match the query strictly and refuse another
     * order with "参数错误". The fragment is required too. */
    sbuf_puts(&b, open_base);
    sbuf_puts(&b, path);
    sbuf_puts(&b, "?appid=");
    sbuf_pct(&b, appid);
    sbuf_puts(&b, "&redirect_uri=");
    sbuf_pct(&b, redirect_uri);
    sbuf_puts(&b, "&response_type=code&scope=");
    sbuf_puts(&b, scope);
    sbuf_puts(&b, "&state=");
    sbuf_pct(&b, state);
    sbuf_puts(&b, "#wechat_redirect");
    return b.data;
}

static void set_reason(struct auth_result *res, enum auth_prc rc, const char *reason)
{
    res->rc = rc;
    snprintf(res->reason, sizeof res->reason, "%s", reason);
}

enum auth_prc wechat_errcode_prc(long long errcode, char reason[64])
{
    enum auth_prc rc;
    snprintf(reason, 64, "wechat_%lld", errcode);
    switch (errcode) {
    case 40029: /* invalid code (unknown, expired, or another app's) */
    case 40163: /* code been used */
    case 41008: /* missing code */
    case 40030: /* invalid refresh_token */
    case 40003: /* invalid openid */
    case 40001: /* invalid credential (the access token) */
    case 42001: /* access token expired */
        rc = AUTH_P_INVALID;
        break;
    case 40125: /* invalid appsecret */
    case 40013: /* invalid appid */
    case 40164: /* this server's address is not in the app's IP allow list */
    case 48001: /* api unauthorized: the app lacks the sign-in permission */
        rc = AUTH_P_MISCONFIGURED;
        break;
    default: /* -1 system busy, 45009/45011 quotas, and codes we do not know */
        rc = AUTH_P_UNAVAILABLE;
        break;
    }
    return rc;
}

/*
 * Loads an answer object and handles the error form. Returns the object (caller decrefs)
 * when it is a JSON object without a non-zero errcode; else NULL with res set and
 * *errcode / errmsg filled when the answer was a WeChat error.
 */
static json_t *load_answer(const char *body, size_t len, struct auth_result *res, long long *errcode,
                           char errmsg[WECHAT_ERRMSG_MAX + 1])
{
    json_t *j, *ec, *em;

    *errcode = 0;
    errmsg[0] = '\0';
    if (body == NULL || len == 0 || len > WECHAT_ANSWER_MAX) {
        set_reason(res, AUTH_P_UNAVAILABLE, "bad_answer");
        return NULL;
    }
    j = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(j)) {
        json_decref(j);
        set_reason(res, AUTH_P_UNAVAILABLE, "bad_answer");
        return NULL;
    }
    ec = json_object_get(j, "errcode");
    if (ec != NULL) {
        if (!json_is_integer(ec)) {
            json_decref(j);
            set_reason(res, AUTH_P_UNAVAILABLE, "bad_answer");
            return NULL;
        }
        if (json_integer_value(ec) != 0) {
            *errcode = (long long)json_integer_value(ec);
            em = json_object_get(j, "errmsg");
            if (json_is_string(em)) /* the cleaner also cuts it to WECHAT_ERRMSG_MAX */
                wechat_clean_nickname(json_string_value(em), json_string_length(em), errmsg);
            res->rc = wechat_errcode_prc(*errcode, res->reason);
            json_decref(j);
            return NULL;
        }
    }
    return j;
}

/*
 * Copies the string field key of j into out (room for max + 1). required: absence is an
 * error; an empty string counts as absent. check: the value must pass wechat_id_ok.
 * Returns 0, or -1 when the field is of the wrong type, too long or fails the check.
 */
static int get_field(json_t *j, const char *key, int required, int id, size_t max, char *out)
{
    json_t *v = json_object_get(j, key);
    const char *s;
    size_t n;

    out[0] = '\0';
    if (v == NULL || json_is_null(v))
        return required ? -1 : 0;
    if (!json_is_string(v))
        return -1;
    s = json_string_value(v);
    n = json_string_length(v);
    if (n == 0)
        return required ? -1 : 0;
    if (n > max || strlen(s) != n)
        return -1;
    if (id && !wechat_id_ok(s, max))
        return -1;
    memcpy(out, s, n + 1);
    return 0;
}

/* An access token goes back into a URL: printable ASCII without spaces, at most
 * WECHAT_TOKEN_MAX. */
static int token_ok(const char *s)
{
    if (s[0] == '\0')
        return 0;
    for (; *s; s++)
        if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
            return 0;
    return 1;
}

enum auth_prc wechat_parse_token(const char *body, size_t len, struct wechat_token *out,
                                 struct auth_result *res)
{
    json_t *j;

    memset(out, 0, sizeof *out);
    j = load_answer(body, len, res, &out->errcode, out->errmsg);
    if (j == NULL)
        return res->rc;
    if (get_field(j, "access_token", 1, 0, WECHAT_TOKEN_MAX, out->access_token) != 0 ||
        !token_ok(out->access_token) || get_field(j, "openid", 1, 1, WECHAT_ID_MAX, out->openid) != 0 ||
        get_field(j, "unionid", 0, 1, WECHAT_ID_MAX, out->unionid) != 0) {
        json_decref(j);
        sodium_memzero(out->access_token, sizeof out->access_token);
        memset(out, 0, sizeof *out);
        set_reason(res, AUTH_P_UNAVAILABLE, "bad_answer");
        return res->rc;
    }
    json_decref(j);
    set_reason(res, AUTH_P_OK, "");
    return AUTH_P_OK;
}

enum auth_prc wechat_parse_userinfo(const char *body, size_t len, struct wechat_userinfo *out,
                                    struct auth_result *res)
{
    json_t *j, *nick;

    memset(out, 0, sizeof *out);
    j = load_answer(body, len, res, &out->errcode, out->errmsg);
    if (j == NULL)
        return res->rc;
    nick = json_object_get(j, "nickname");
    if (get_field(j, "openid", 1, 1, WECHAT_ID_MAX, out->openid) != 0 ||
        get_field(j, "unionid", 0, 1, WECHAT_ID_MAX, out->unionid) != 0 ||
        (nick != NULL && !json_is_null(nick) &&
         (!json_is_string(nick) || json_string_length(nick) > WECHAT_NICKNAME_RAW_MAX))) {
        json_decref(j);
        memset(out, 0, sizeof *out);
        set_reason(res, AUTH_P_UNAVAILABLE, "bad_answer");
        return res->rc;
    }
    if (json_is_string(nick))
        wechat_clean_nickname(json_string_value(nick), json_string_length(nick), out->nickname);
    json_decref(j);
    set_reason(res, AUTH_P_OK, "");
    return AUTH_P_OK;
}

enum auth_prc wechat_subject(const char *appid, const struct wechat_token *tok,
                             const struct wechat_userinfo *ui, char out[AUTH_SUBJECT_MAX],
                             struct auth_result *res)
{
    const char *unionid;

    out[0] = '\0';
    if (strcmp(tok->openid, ui->openid) != 0) {
        set_reason(res, AUTH_P_UNAVAILABLE, "openid_mismatch");
        return res->rc;
    }
    if (tok->unionid[0] != '\0' && ui->unionid[0] != '\0' && strcmp(tok->unionid, ui->unionid) != 0) {
        set_reason(res, AUTH_P_UNAVAILABLE, "unionid_mismatch");
        return res->rc;
    }
    unionid = ui->unionid[0] != '\0' ? ui->unionid : tok->unionid;
    if (unionid[0] != '\0') {
        if (!wechat_id_ok(unionid, WECHAT_ID_MAX)) { /* the parsers never let one through */
            set_reason(res, AUTH_P_UNAVAILABLE, "bad_answer");
            return res->rc;
        }
        snprintf(out, AUTH_SUBJECT_MAX, "%s", unionid);
    } else {
        if (!wechat_id_ok(appid, WECHAT_APPID_MAX)) {
            set_reason(res, AUTH_P_MISCONFIGURED, "bad_appid");
            return res->rc;
        }
        if (!wechat_id_ok(ui->openid, WECHAT_ID_MAX)) { /* the parsers never let one through */
            set_reason(res, AUTH_P_UNAVAILABLE, "bad_answer");
            return res->rc;
        }
        /* WECHAT_APPID_MAX + 1 + WECHAT_ID_MAX < AUTH_SUBJECT_MAX: always fits. */
        snprintf(out, AUTH_SUBJECT_MAX, "%s:%s", appid, ui->openid);
    }
    set_reason(res, AUTH_P_OK, "");
    return AUTH_P_OK;
}

/* Decodes one UTF-8 character at s (n bytes left). Returns its length and sets *cp, or 0
 * for an invalid sequence (overlong, surrogate, past U+10FFFF, truncated). */
static size_t utf8_next(const unsigned char *s, size_t n, unsigned *cp)
{
    unsigned c = s[0], v;
    size_t len, i;

    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        v = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        v = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        v = c & 0x07;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        v = v << 6 | (s[i] & 0x3f);
    }
    if ((len == 3 && v < 0x800) || (len == 4 && (v < 0x10000 || v > 0x10ffff)) ||
        (v >= 0xd800 && v <= 0xdfff))
        return 0;
    *cp = v;
    return len;
}

/* Characters a display name must not carry: controls, and invisible ones that reorder or
 * hide text (a name that renders as someone else's). */
static int nickname_drop(unsigned cp)
{
    return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0xad || (cp >= 0x200b && cp <= 0x200f) ||
           (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2060 && cp <= 0x2064) ||
           (cp >= 0x2066 && cp <= 0x2069) || cp == 0xfeff;
}

void wechat_clean_nickname(const char *in, size_t len, char out[TG_NAME_MAX + 1])
{
    const unsigned char *s = (const unsigned char *)in;
    size_t i = 0, o = 0, k;
    unsigned cp;

    while (i < len) {
        k = utf8_next(s + i, len - i, &cp);
        if (k == 0) { /* skip one byte of an invalid sequence */
            i++;
            continue;
        }
        if (!nickname_drop(cp) && !(o == 0 && cp == ' ')) {
            if (o + k > TG_NAME_MAX) /* cut at a character boundary */
                break;
            memcpy(out + o, s + i, k);
            o += k;
        }
        i += k;
    }
    while (o > 0 && out[o - 1] == ' ')
        o--;
    out[o] = '\0';
}

/* ---- the provider --------------------------------------------------------------------- */

struct wechat_app {
    const char *appid;
    const char *secret;
};

static int cfg_set(const char *key)
{
    const char *v = config_get(key);
    return v != NULL && v[0] != '\0';
}

/* The app behind a variant, or 0 when it is not (fully) configured. */
static int wechat_app_get(const char *variant, struct wechat_app *app)
{
    const char *id_key, *secret_key;
    if (strcmp(variant, WECHAT_VARIANT_WEB) == 0) {
        id_key = "TG_WECHAT_APPID";
        secret_key = "TG_WECHAT_SECRET";
    } else if (strcmp(variant, WECHAT_VARIANT_MP) == 0) {
        id_key = "TG_WECHAT_MP_APPID";
        secret_key = "TG_WECHAT_MP_SECRET";
    } else {
        return 0;
    }
    if (!cfg_set(id_key) || !cfg_set(secret_key))
        return 0;
    app->appid = config_get(id_key);
    app->secret = config_get(secret_key);
    return 1;
}

static int wechat_configured(void)
{
    struct wechat_app app;
    return wechat_app_get(WECHAT_VARIANT_WEB, &app) || wechat_app_get(WECHAT_VARIANT_MP, &app);
}

/*
 * Inside WeChat (its browser says "MicroMessenger") the Official Account's consent page is
 * the only one that works: a QR code cannot be scanned by the phone showing it. Elsewhere
 * the website app's QR code. With only one app configured that app is used everywhere: the
 * Official Account's page opened outside WeChat tells the person to open the link in
 * WeChat, which is the right advice when no QR login exists.
 */
static char *wechat_authorize_url(struct auth_flow *f)
{
    struct wechat_app web, mp;
    int has_web = wechat_app_get(WECHAT_VARIANT_WEB, &web), has_mp = wechat_app_get(WECHAT_VARIANT_MP, &mp);
    int in_wechat = f->user_agent != NULL && strstr(f->user_agent, "MicroMessenger") != NULL;
    int use_mp;
    char *url;

    f->variant[0] = '\0';
    if (!has_web && !has_mp)
        return NULL;
    use_mp = has_mp && (in_wechat || !has_web);
    url = wechat_build_authorize_url(config_get("TG_WECHAT_OPEN_BASE"),
                                     use_mp ? WECHAT_VARIANT_MP : WECHAT_VARIANT_WEB,
                                     use_mp ? mp.appid : web.appid, f->redirect_uri, f->state);
    if (url == NULL) {
        log_event(LOG_ERROR, "wechat_authorize_refused", "variant",
                  use_mp ? WECHAT_VARIANT_MP : WECHAT_VARIANT_WEB, "reason",
                  "appid, redirect_uri or state out of bounds", NULL);
        return NULL;
    }
    snprintf(f->variant, sizeof f->variant, "%s", use_mp ? WECHAT_VARIANT_MP : WECHAT_VARIANT_WEB);
    return url;
}

/* One exchange in flight: the net call is reused for the second request. */
struct wechat_exchange {
    struct net_call call;
    struct net_exec *nx;
    char variant[AUTH_VARIANT_MAX];
    char appid[WECHAT_APPID_MAX + 1];
    struct wechat_token tok;
    struct auth_result res;
    auth_done_fn done;
    void *arg;
};

static struct wechat_exchange *exchange_of(struct net_call *c)
{
    return (struct wechat_exchange *)(void *)((char *)c - offsetof(struct wechat_exchange, call));
}

/* Zeroes what the call carried (a URL with a secret, an answer with tokens) and frees it. */
static void call_wipe(struct net_call *c)
{
    if (c->url != NULL)
        sodium_memzero(c->url, strlen(c->url));
    if (c->resp_body != NULL)
        sodium_memzero(c->resp_body, c->resp_len);
    net_call_release(c);
}

/* Classifies what net brought back before the body is read. AUTH_P_OK: a 2xx answer. */
static enum auth_prc answer_prc(const struct net_call *c, struct auth_result *res)
{
    char reason[32];
    const char *why;

    if (c->err != NET_OK) {
        switch (c->err) {
        case NET_TIMEOUT:
            why = "timeout";
            break;
        case NET_CONNECT:
            why = "connect";
            break;
        case NET_TLS:
            why = "tls";
            break;
        case NET_TOO_LARGE: /* over WECHAT_ANSWER_MAX: no WeChat answer is that big */
            why = "bad_answer";
            break;
        case NET_SHUTDOWN:
            why = "shutdown";
            break;
        default:
            why = "net_error";
            break;
        }
        set_reason(res, AUTH_P_UNAVAILABLE, why);
        return res->rc;
    }
    /* WeChat answers 200 even for its errors; any other status is a failing front end. */
    if (c->status < 200 || c->status > 299) {
        snprintf(reason, sizeof reason, "http_%ld", c->status);
        set_reason(res, AUTH_P_UNAVAILABLE, reason);
        return res->rc;
    }
    set_reason(res, AUTH_P_OK, "");
    return AUTH_P_OK;
}

/* Logs a failed sign-in at a level that says who has to act, and completes. */
static void exchange_finish(struct wechat_exchange *x, const char *stage, const char *errmsg)
{
    if (x->res.rc != AUTH_P_OK)
        log_event(x->res.rc == AUTH_P_MISCONFIGURED ? LOG_ERROR
                  : x->res.rc == AUTH_P_UNAVAILABLE ? LOG_WARN
                                                    : LOG_INFO,
                  "wechat_signin_failed", "variant", x->variant, "stage", stage, "outcome",
                  auth_prc_name(x->res.rc), "reason", x->res.reason, "errmsg",
                  errmsg != NULL && errmsg[0] ? errmsg : NULL, NULL);
    x->done(x->arg, &x->res);
    sodium_memzero(&x->tok, sizeof x->tok);
    free(x);
}

static void userinfo_done(struct net_call *c)
{
    struct wechat_exchange *x = exchange_of(c);
    struct wechat_userinfo ui;

    memset(&ui, 0, sizeof ui);
    if (answer_prc(c, &x->res) == AUTH_P_OK &&
        wechat_parse_userinfo(c->resp_body, c->resp_len, &ui, &x->res) == AUTH_P_OK &&
        wechat_subject(x->appid, &x->tok, &ui, x->res.id.subject, &x->res) == AUTH_P_OK) {
        struct auth_identity *id = &x->res.id;
        snprintf(id->provider, sizeof id->provider, "%s", "wechat");
        id->email[0] = '\0'; /* WeChat never gives one */
        id->email_verified = 0;
        snprintf(id->display_name, sizeof id->display_name, "%s", ui.nickname);
        snprintf(id->locale, sizeof id->locale, "%s", "zh-CN");
    }
    call_wipe(c);
    exchange_finish(x, "userinfo", ui.errmsg);
}

static void token_done(struct net_call *c)
{
    struct wechat_exchange *x = exchange_of(c);
    struct sbuf url = {0};

    if (answer_prc(c, &x->res) != AUTH_P_OK ||
        wechat_parse_token(c->resp_body, c->resp_len, &x->tok, &x->res) != AUTH_P_OK) {
        call_wipe(c);
        exchange_finish(x, "access_token", x->tok.errmsg);
        return;
    }
    call_wipe(c);

    sbuf_puts(&url, config_get("TG_WECHAT_API_BASE"));
    sbuf_puts(&url, "/sns/userinfo?access_token=");
    sbuf_pct(&url, x->tok.access_token);
    sbuf_puts(&url, "&openid=");
    sbuf_pct(&url, x->tok.openid);
    sbuf_puts(&url, "&lang=zh_CN");
    net_call_init(&x->call, "wechat", "GET", url.data);
    sodium_memzero(url.data, url.len);
    sbuf_free(&url);
    x->call.timeout_ms = WECHAT_CALL_TIMEOUT_MS;
    x->call.max_response = WECHAT_ANSWER_MAX;
    x->call.idempotent = 1;
    x->call.retries = WECHAT_USERINFO_RETRIES;
    net_exec_submit(x->nx, &x->call, userinfo_done); /* x may be gone from here on */
}

/* Completes at once, without a network call. */
static void exchange_fail_now(const char *variant, enum auth_prc rc, const char *reason, auth_done_fn done,
                              void *arg)
{
    struct auth_result res;
    memset(&res, 0, sizeof res);
    set_reason(&res, rc, reason);
    log_event(rc == AUTH_P_MISCONFIGURED ? LOG_ERROR : LOG_INFO, "wechat_signin_failed", "variant", variant,
              "stage", "callback", "outcome", auth_prc_name(rc), "reason", reason, NULL);
    done(arg, &res);
}

static void wechat_exchange(struct net_exec *nx, const struct auth_flow *f, const char *code,
                            const char *code_verifier, int64_t now_ms, auth_done_fn done, void *arg)
{
    struct wechat_exchange *x;
    struct wechat_app app;
    struct sbuf url = {0};
    const char *variant = f->variant;
    size_t clen;

    (void)code_verifier; /* WeChat has no PKCE */
    (void)now_ms;        /* nothing WeChat sends expires on our clock */

    if (memchr(f->variant, '\0', sizeof f->variant) == NULL ||
        (strcmp(variant, WECHAT_VARIANT_WEB) != 0 && strcmp(variant, WECHAT_VARIANT_MP) != 0)) {
        exchange_fail_now("", AUTH_P_INVALID, "bad_variant", done, arg);
        return;
    }
    /* WeChat sends the person back without a code when they refused. */
    if (code == NULL || code[0] == '\0') {
        exchange_fail_now(variant, AUTH_P_DENIED, "no_code", done, arg);
        return;
    }
    clen = strlen(code);
    if (clen > WECHAT_CODE_MAX || !token_ok(code)) {
        exchange_fail_now(variant, AUTH_P_INVALID, "bad_code", done, arg);
        return;
    }
    /* The app may have been unconfigured between the start and the callback. */
    if (!wechat_app_get(variant, &app)) {
        exchange_fail_now(variant, AUTH_P_MISCONFIGURED, "app_not_configured", done, arg);
        return;
    }
    if (!wechat_id_ok(app.appid, WECHAT_APPID_MAX)) {
        exchange_fail_now(variant, AUTH_P_MISCONFIGURED, "bad_appid", done, arg);
        return;
    }

    x = xcalloc(1, sizeof *x);
    x->nx = nx;
    x->done = done;
    x->arg = arg;
    snprintf(x->variant, sizeof x->variant, "%s", variant);
    snprintf(x->appid, sizeof x->appid, "%s", app.appid);

    sbuf_puts(&url, config_get("TG_WECHAT_API_BASE"));
    sbuf_puts(&url, "/sns/oauth2/access_token?appid=");
    sbuf_pct(&url, app.appid);
    sbuf_puts(&url, "&secret=");
    sbuf_pct(&url, app.secret);
    sbuf_puts(&url, "&code=");
    sbuf_pct(&url, code);
    sbuf_puts(&url, "&grant_type=authorization_code");
    net_call_init(&x->call, "wechat", "GET", url.data);
    sodium_memzero(url.data, url.len);
    sbuf_free(&url);
    x->call.timeout_ms = WECHAT_CALL_TIMEOUT_MS;
    x->call.max_response = WECHAT_ANSWER_MAX;
    x->call.idempotent = 0; /* single-use code: never sent twice */
    x->call.retries = 0;
    net_exec_submit(nx, &x->call, token_done);
}

const struct auth_provider auth_wechat = {
    .name = "wechat",
    .pkce = 0,
    .trust_email = 0, /* WeChat gives no email */
    .vouches = 1,     /* every WeChat account is bound to a verified phone number */
    .configured = wechat_configured,
    .authorize_url = wechat_authorize_url,
    .exchange = wechat_exchange,
};
