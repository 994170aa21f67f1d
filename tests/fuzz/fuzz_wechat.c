/*
 * fuzz_wechat.c - fuzz target for the WeChat sign-in wire formats (src/providers/auth/wechat.c,
 * included here h2o style): the answers of /sns/oauth2/access_token and /sns/userinfo, the
 * subject chosen from a pair of them, the nickname cleaner and the authorize URL builder.
 *
 * The first byte picks the mode, the rest is the input:
 *   0: a token answer;  1: a userinfo answer;
 *   2: a token answer and a userinfo answer separated by a NUL byte -> wechat_subject;
 *   3: raw bytes -> wechat_clean_nickname;
 *   4: appid NUL redirect_uri NUL state -> wechat_build_authorize_url (both variants).
 * Invariants (abort() when broken):
 *  - parsers: AUTH_P_OK exactly when the reason is empty; on success the ids are 1..64 of
 *    [A-Za-z0-9_-], the access token 1..512 printable ASCII without spaces, the nickname
 *    clean; on failure nothing but errcode/errmsg is left in the struct, errcode != 0 exactly
 *    when the reason is "wechat_<errcode>", and the rc is what wechat_errcode_prc says;
 *  - subject: either the unionid one of the answers carried, or "appid:openid"; ':' only in
 *    the second form; NUL-terminated within AUTH_SUBJECT_MAX;
 *  - nickname: valid UTF-8 (checked by jansson, a decoder written differently), at most
 *    TG_NAME_MAX bytes, no C0/C1 controls, no space at either end, and cleaning it again
 *    changes nothing;
 *  - authorize URL: refused exactly when an input is out of its documented bounds; else
 *    base + path + "?appid=" ... "#wechat_redirect" with the five parameters in WeChat's
 *    order, one '?', one '#', and each value percent-decoding back to the input.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "providers/auth/wechat.c"

/* wechat.c's exchange() is never called here: net and the registry are not linked. */
void net_call_init(struct net_call *c, const char *provider, const char *method, const char *url)
{
    (void)c, (void)provider, (void)method, (void)url;
    abort();
}
void net_call_release(struct net_call *c)
{
    (void)c;
    abort();
}
void net_exec_submit(struct net_exec *ex, struct net_call *c, net_done_fn done)
{
    (void)ex, (void)c, (void)done;
    abort();
}
const char *auth_prc_name(enum auth_prc rc)
{
    (void)rc;
    return "?";
}

static unsigned long counts[5][6];

static int is_zero(const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return 0;
    return 1;
}

static void check_clean(const char *s)
{
    size_t n = strlen(s);
    char again[TG_NAME_MAX + 1];
    json_t *j;

    if (n > TG_NAME_MAX || (n > 0 && (s[0] == ' ' || s[n - 1] == ' ')))
        abort();
    j = json_stringn(s, n); /* NULL for invalid UTF-8 */
    if (j == NULL)
        abort();
    json_decref(j);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            abort();
        if (c == 0xc2 && i + 1 < n && (unsigned char)s[i + 1] >= 0x80 && (unsigned char)s[i + 1] <= 0x9f)
            abort(); /* C1 control */
    }
    wechat_clean_nickname(s, n, again);
    if (strcmp(again, s) != 0)
        abort();
}

/* The error side of a parser's result: reason and errcode agree, errmsg clean. */
static void check_error(enum auth_prc rc, const struct auth_result *res, long long errcode,
                        const char *errmsg)
{
    char want[64];
    if (rc == AUTH_P_OK || res->rc != rc || res->reason[0] == '\0')
        abort();
    if (errcode != 0) {
        if (wechat_errcode_prc(errcode, want) != rc || strcmp(want, res->reason) != 0)
            abort();
    } else if (rc != AUTH_P_UNAVAILABLE || strcmp(res->reason, "bad_answer") != 0 || errmsg[0] != '\0') {
        abort();
    }
    check_clean(errmsg);
}

static enum auth_prc run_token(const char *body, size_t n, struct wechat_token *tok)
{
    struct auth_result res;
    enum auth_prc rc;

    memset(&res, 0xa5, sizeof res);
    rc = wechat_parse_token(body, n, tok, &res);
    if (rc == AUTH_P_OK) {
        if (res.rc != AUTH_P_OK || res.reason[0] != '\0' || tok->errcode != 0 || tok->errmsg[0] != '\0' ||
            !wechat_id_ok(tok->openid, WECHAT_ID_MAX) ||
            (tok->unionid[0] && !wechat_id_ok(tok->unionid, WECHAT_ID_MAX)) ||
            strlen(tok->access_token) > WECHAT_TOKEN_MAX || !token_ok(tok->access_token))
            abort();
    } else {
        check_error(rc, &res, tok->errcode, tok->errmsg);
        if (!is_zero(tok->access_token, sizeof tok->access_token) ||
            !is_zero(tok->openid, sizeof tok->openid) || !is_zero(tok->unionid, sizeof tok->unionid))
            abort();
    }
    return rc;
}

static enum auth_prc run_userinfo(const char *body, size_t n, struct wechat_userinfo *ui)
{
    struct auth_result res;
    enum auth_prc rc;

    memset(&res, 0xa5, sizeof res);
    rc = wechat_parse_userinfo(body, n, ui, &res);
    if (rc == AUTH_P_OK) {
        if (res.rc != AUTH_P_OK || res.reason[0] != '\0' || ui->errcode != 0 ||
            !wechat_id_ok(ui->openid, WECHAT_ID_MAX) ||
            (ui->unionid[0] && !wechat_id_ok(ui->unionid, WECHAT_ID_MAX)))
            abort();
        check_clean(ui->nickname);
    } else {
        check_error(rc, &res, ui->errcode, ui->errmsg);
        if (!is_zero(ui->openid, sizeof ui->openid) || !is_zero(ui->unionid, sizeof ui->unionid) ||
            !is_zero(ui->nickname, sizeof ui->nickname))
            abort();
    }
    return rc;
}

static void run_subject(const char *a, size_t an, const char *b, size_t bn)
{
    struct wechat_token tok;
    struct wechat_userinfo ui;
    struct auth_result res;
    char sub[AUTH_SUBJECT_MAX];
    static const char appid[] = "wxd477edab60670232";

    if (run_token(a, an, &tok) != AUTH_P_OK || run_userinfo(b, bn, &ui) != AUTH_P_OK)
        return;
    memset(sub, 0xa5, sizeof sub);
    if (wechat_subject(appid, &tok, &ui, sub, &res) == AUTH_P_OK) {
        char want[AUTH_SUBJECT_MAX];
        if (memchr(sub, '\0', sizeof sub) == NULL || strcmp(tok.openid, ui.openid) != 0)
            abort();
        if (ui.unionid[0] || tok.unionid[0]) {
            if (strcmp(sub, ui.unionid[0] ? ui.unionid : tok.unionid) != 0 || strchr(sub, ':') != NULL ||
                (ui.unionid[0] && tok.unionid[0] && strcmp(ui.unionid, tok.unionid) != 0))
                abort();
        } else {
            snprintf(want, sizeof want, "%s:%s", appid, ui.openid);
            if (strcmp(sub, want) != 0)
                abort();
        }
        counts[2][AUTH_P_OK]++;
    } else {
        if (sub[0] != '\0' || res.rc != AUTH_P_UNAVAILABLE)
            abort();
        counts[2][res.rc]++;
    }
}

/* Percent-decodes s[0..n) into out; returns the length or -1. */
static long ref_pct_decode(const char *s, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            if (i + 2 >= n || hex_value(s[i + 1]) < 0 || hex_value(s[i + 2]) < 0)
                return -1;
            out[o++] = (char)(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    return (long)o;
}

/* Checks "name=value" at *p (up to the next '&' or '#'), value decoding to want. */
static const char *expect_param(const char *p, const char *name, const char *want)
{
    size_t nl = strlen(name), vl;
    char *dec;
    if (strncmp(p, name, nl) != 0 || p[nl] != '=')
        abort();
    p += nl + 1;
    vl = strcspn(p, "&#");
    dec = malloc(vl + 1);
    if (dec == NULL || ref_pct_decode(p, vl, dec) < 0 || strcmp(dec, want) != 0)
        abort();
    free(dec);
    return p + vl;
}

static void run_authorize(const char *in, size_t n)
{
    static const char base[] = "https://open.weixin.qq.com";
    const char *parts[3] = {"", "", ""};
    char *copy = malloc(n + 1);
    size_t k = 0, start = 0;

    if (copy == NULL)
        abort();
    memcpy(copy, in, n);
    copy[n] = '\0';
    for (size_t i = 0; i <= n && k < 3; i++)
        if (i == n || copy[i] == '\0') {
            parts[k++] = copy + start;
            start = i + 1;
        }
    for (int v = 0; v < 2; v++) {
        const char *variant = v ? WECHAT_VARIANT_MP : WECHAT_VARIANT_WEB;
        char *url = wechat_build_authorize_url(base, variant, parts[0], parts[1], parts[2]);
        size_t rl = strlen(parts[1]), sl = strlen(parts[2]);
        int valid = wechat_id_ok(parts[0], WECHAT_APPID_MAX) && rl > 0 && rl <= WECHAT_REDIRECT_MAX &&
                    sl > 0 && sl <= WECHAT_STATE_MAX;
        if ((url != NULL) != valid)
            abort();
        if (url != NULL) {
            const char *prefix = v ? "https://open.weixin.qq.com/connect/oauth2/authorize?"
                                   : "https://open.weixin.qq.com/connect/qrconnect?";
            const char *p = url + strlen(prefix);
            size_t ul = strlen(url);
            if (strncmp(url, prefix, strlen(prefix)) != 0 || strchr(url, '?') != url + strlen(prefix) - 1 ||
                strchr(url, '#') != url + ul - strlen("#wechat_redirect") ||
                strcmp(url + ul - strlen("#wechat_redirect"), "#wechat_redirect") != 0)
                abort();
            p = expect_param(p, "appid", parts[0]);
            if (*p++ != '&')
                abort();
            p = expect_param(p, "redirect_uri", parts[1]);
            if (*p++ != '&')
                abort();
            p = expect_param(p, "response_type", "code");
            if (*p++ != '&')
                abort();
            p = expect_param(p, "scope", v ? "snsapi_userinfo" : "snsapi_login");
            if (*p++ != '&')
                abort();
            p = expect_param(p, "state", parts[2]);
            if (strcmp(p, "#wechat_redirect") != 0)
                abort();
            free(url);
        }
        counts[4][valid]++;
    }
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *rest = (const char *)data + 1;
    size_t n = size ? size - 1 : 0;
    /* Exact-size copies so that reading past the given length is caught by ASan. */
    char *exact;

    if (size == 0)
        return 0;
    exact = malloc(n ? n : 1);
    if (exact == NULL)
        abort();
    memcpy(exact, rest, n);
    switch (data[0] % 5) {
    case 0: {
        struct wechat_token tok;
        counts[0][run_token(exact, n, &tok)]++;
        break;
    }
    case 1: {
        struct wechat_userinfo ui;
        counts[1][run_userinfo(exact, n, &ui)]++;
        break;
    }
    case 2: {
        const char *nul = memchr(exact, '\0', n);
        size_t an = nul ? (size_t)(nul - exact) : n;
        run_subject(exact, an, nul ? nul + 1 : exact + n, nul ? n - an - 1 : 0);
        break;
    }
    case 3: {
        char out[TG_NAME_MAX + 1];
        memset(out, 0xa5, sizeof out);
        wechat_clean_nickname(exact, n, out);
        check_clean(out);
        counts[3][out[0] != '\0']++;
        break;
    }
    default:
        run_authorize(exact, n);
        break;
    }
    free(exact);
    return 0;
}

static void add_mode(void (*add)(const uint8_t *, size_t), uint8_t mode, const char *text, size_t n)
{
    uint8_t buf[2048];
    if (n + 1 > sizeof buf)
        return;
    buf[0] = mode;
    memcpy(buf + 1, text, n);
    add(buf, n + 1);
}

void fuzz_seeds(void (*add)(const uint8_t *data, size_t size))
{
    static const char *tokens[] = {
        ("{\"access_token\":\"ACCESS_TOKEN\",\"expires_in\":7200,\"refresh_token\":\"REFRESH_TOKEN\","
         "\"openid\":\"oLVPpjqs9BhvzwPj5A-vTYAX3GLc\",\"scope\":\"snsapi_login\","
         "\"unionid\":\"o6_bmasdasdsad6_2sgVt7hMZOPfL\"}"),
        ("{\"access_token\":\"AT\",\"expires_in\":7200,\"refresh_token\":\"R\",\"openid\":\"oMP\","
         "\"scope\":\"snsapi_userinfo\",\"is_snapshotuser\":1}"),
        "{\"errcode\":40029,\"errmsg\":\"invalid code, rid: 6581b0c7-1b2d3e4f-5a6b7c8d\"}",
        "{\"errcode\":40163,\"errmsg\":\"code been used, rid: 1\"}",
        "{\"errcode\":40125,\"errmsg\":\"invalid appsecret\"}",
        "{\"errcode\":-1,\"errmsg\":\"system error\"}",
        "{\"errcode\":0,\"errmsg\":\"ok\",\"access_token\":\"T\",\"openid\":\"O\",\"unionid\":\"\"}",
    };
    static const char *infos[] = {
        ("{\"openid\":\"oLVPpjqs9BhvzwPj5A-vTYAX3GLc\",\"nickname\":\"\\u5c0f\\u660e\",\"sex\":1,"
         "\"province\":"
         "\"P\","
         "\"city\":\"C\",\"country\":\"CN\",\"headimgurl\":\"http://wx.qlogo.cn/mmopen/g3/0\","
         "\"privilege\":[\"PRIVILEGE1\"],\"unionid\":\"o6_bmasdasdsad6_2sgVt7hMZOPfL\"}"),
        "{\"openid\":\"oMP\",\"nickname\":\"\\u202eevil\\u0007 \\ud83d\\ude00\",\"privilege\":[]}",
        "{\"errcode\":40003,\"errmsg\":\"invalid openid\"}",
    };
    static const char *nicknames[] = {"Alice", "  \xe5\xb0\x8f\xe6\x98\x8e \xe2\x80\xae",
                                      ("a\xc2\x85"
                                       "b\xff\xed\xa0\x80")};
    static const char authz[] =
        "wxd477edab60670232\0https://pay.example.com/api/v1/auth/oauth/wechat/callback\0st4te";
    size_t i;
    char pair[2048];

    for (i = 0; i < sizeof tokens / sizeof tokens[0]; i++)
        add_mode(add, 0, tokens[i], strlen(tokens[i]));
    for (i = 0; i < sizeof infos / sizeof infos[0]; i++)
        add_mode(add, 1, infos[i], strlen(infos[i]));
    for (i = 0; i < 2; i++) {
        int n = snprintf(pair, sizeof pair, "%s", tokens[i]);
        pair[n] = '\0';
        n += 1 + snprintf(pair + n + 1, sizeof pair - (size_t)n - 1, "%s", infos[i]);
        add_mode(add, 2, pair, (size_t)n);
    }
    for (i = 0; i < sizeof nicknames / sizeof nicknames[0]; i++)
        add_mode(add, 3, nicknames[i], strlen(nicknames[i]));
    add_mode(add, 4, authz, sizeof authz - 1);
}

void fuzz_report(void)
{
    static const char *modes[] = {"token", "userinfo", "subject", "nickname", "authorize"};
    for (int m = 0; m < 5; m++) {
        printf("%-9s", modes[m]);
        if (m == 3)
            printf(" empty=%lu non-empty=%lu\n", counts[m][0], counts[m][1]);
        else if (m == 4)
            printf(" refused=%lu built=%lu\n", counts[m][0], counts[m][1]);
        else
            printf(" ok=%lu denied=%lu invalid=%lu unavailable=%lu misconfigured=%lu\n", counts[m][0],
                   counts[m][1], counts[m][2], counts[m][3], counts[m][4]);
    }
}
