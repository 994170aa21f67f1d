/*
 * wechat.h - WeChat sign-in (PROVIDERS.md section 7, DESIGN section 5).
 *
 * Two WeChat apps can stand behind the one "wechat" sign-in method:
 *   - "web": the Open Platform website app (TG_WECHAT_APPID / TG_WECHAT_SECRET), whose
 *     qrconnect page shows a QR code that the person scans with WeChat (scope snsapi_login);
 *   - "mp": the Official Account (TG_WECHAT_MP_APPID / TG_WECHAT_MP_SECRET), whose
 *     oauth2/authorize page asks for consent inside WeChat's own browser (snsapi_userinfo).
 * Both send the browser back with a single-use code that exchange() turns into an identity:
 * GET /sns/oauth2/access_token, then GET /sns/userinfo. WeChat reports errors as HTTP 200
 * with {"errcode":N,"errmsg":"..."} and serves JSON as text/plain, so answers are parsed
 * whatever their Content-Type and classified by errcode.
 *
 * The subject is the unionid when WeChat gives one (the same person has the same unionid in
 * every app bound to one Open Platform account), else "<appid>:<openid>" (an openid is only
 * unique within its app). The two forms cannot collide: ids are [A-Za-z0-9_-] only, so a
 * unionid never contains ':'.
 *
 * The wire-format parts are pure functions (body in, struct or error out) so that the unit
 * tests and tests/fuzz/fuzz_wechat.c reach them without a network.
 */
#ifndef TG_PROVIDERS_AUTH_WECHAT_H
#define TG_PROVIDERS_AUTH_WECHAT_H

#include <stddef.h>

#include "core/types.h"
#include "providers/auth/auth.h"

/* The registry's entry (providers/auth/registry.c). */
extern const struct auth_provider auth_wechat;

/*
 * Bounds. Real values are far smaller (answers ~300 bytes, openid and unionid 28-29
 * characters, access_token ~110, code 32, appid 18); anything past these is refused as a
 * bad answer (or a bad request) rather than truncated.
 */
#define WECHAT_ANSWER_MAX (16 * 1024) /* one answer body; also the net call's max_response */
#define WECHAT_ID_MAX 64              /* openid, unionid */
#define WECHAT_APPID_MAX 32
#define WECHAT_TOKEN_MAX 512 /* access_token */
#define WECHAT_CODE_MAX 128  /* the callback's code */
#define WECHAT_STATE_MAX 128 /* WeChat's documented limit for state */
#define WECHAT_REDIRECT_MAX 2048
#define WECHAT_NICKNAME_RAW_MAX 1024  /* nickname as sent; kept to TG_NAME_MAX after cleaning */
#define WECHAT_ERRMSG_MAX TG_NAME_MAX /* errmsg kept (cleaned, cut) for the log line */

/* Per call timeout: WeChat answers in well under a second; 5 s is a stalled provider. */
#define WECHAT_CALL_TIMEOUT_MS 5000
/* Extra attempts for userinfo (an idempotent GET). The code exchange is never retried: the
 * code is single-use, so a retry after a lost answer would only earn 40163. */
#define WECHAT_USERINFO_RETRIES 1

/* The variants a flow carries between authorize_url and exchange. */
#define WECHAT_VARIANT_WEB "web"
#define WECHAT_VARIANT_MP "mp"

/* An answer of /sns/oauth2/access_token. */
struct wechat_token {
    char access_token[WECHAT_TOKEN_MAX + 1];
    char openid[WECHAT_ID_MAX + 1];
    char unionid[WECHAT_ID_MAX + 1]; /* "" when absent */
    long long errcode;               /* 0, or WeChat's errcode when the answer was an error */
    char errmsg[WECHAT_ERRMSG_MAX + 1];
};

/* An answer of /sns/userinfo (only what sign-in uses). */
struct wechat_userinfo {
    char openid[WECHAT_ID_MAX + 1];
    char unionid[WECHAT_ID_MAX + 1]; /* "" when absent */
    char nickname[TG_NAME_MAX + 1];  /* cleaned (wechat_clean_nickname), "" when none */
    long long errcode;
    char errmsg[WECHAT_ERRMSG_MAX + 1];
};

/*
 * Builds the authorize URL (new string, caller frees):
 *   {open_base}/connect/qrconnect?appid=..&redirect_uri=..&response_type=code&scope=snsapi_login&state=..#wechat_redirect
 * for "web", and /connect/oauth2/authorize with scope=snsapi_userinfo for "mp", parameters
 * in exactly this order (WeChat matches them strictly), redirect_uri and state
 * percent-encoded. NULL when variant is unknown, appid is not 1..WECHAT_APPID_MAX of
 * [A-Za-z0-9_-], redirect_uri is empty or longer than WECHAT_REDIRECT_MAX, or state is
 * empty or longer than WECHAT_STATE_MAX.
 */
char *wechat_build_authorize_url(const char *open_base, const char *variant, const char *appid,
                                 const char *redirect_uri, const char *state);

/*
 * Parses a /sns/oauth2/access_token answer of len bytes (not necessarily NUL-terminated).
 * Returns AUTH_P_OK with *out filled, or sets res->rc and res->reason and returns res->rc:
 * an errcode through wechat_errcode_prc ("wechat_<errcode>"), anything else that is not a
 * well-formed answer within the bounds above AUTH_P_UNAVAILABLE "bad_answer". *out is
 * zeroed first on every path (errcode/errmsg set when the answer was an error).
 */
enum auth_prc wechat_parse_token(const char *body, size_t len, struct wechat_token *out,
                                 struct auth_result *res);
/* The same for a /sns/userinfo answer. */
enum auth_prc wechat_parse_userinfo(const char *body, size_t len, struct wechat_userinfo *out,
                                    struct auth_result *res);

/*
 * What a WeChat errcode means for sign-in:
 *   40029 invalid code, 40163 code been used, 41008 missing code, 40030 invalid
 *   refresh_token, 40003 invalid openid, 40001/42001 invalid or expired access_token
 *     -> AUTH_P_INVALID (the person starts again);
 *   40125 invalid appsecret, 40013 invalid appid, 40164 caller IP not allowed, 48001 API
 *     not authorized for the app -> AUTH_P_MISCONFIGURED (the operator must act);
 *   -1 system busy, 45009/45011 quota, and any code not listed -> AUTH_P_UNAVAILABLE.
 * Writes "wechat_<errcode>" into reason (room for 64 bytes).
 */
enum auth_prc wechat_errcode_prc(long long errcode, char reason[64]);

/*
 * The identity's subject for an answer pair: the unionid (userinfo's, else the token
 * answer's) when present, else "<appid>:<openid>". Fails with AUTH_P_UNAVAILABLE
 * "openid_mismatch" / "unionid_mismatch" when the two answers disagree about the person.
 * Returns AUTH_P_OK and fills out (room for AUTH_SUBJECT_MAX), or sets res.
 */
enum auth_prc wechat_subject(const char *appid, const struct wechat_token *tok,
                             const struct wechat_userinfo *ui, char out[AUTH_SUBJECT_MAX],
                             struct auth_result *res);

/*
 * A nickname fit to show: control characters (C0, DEL, C1), invisible format characters
 * (zero-width, bidirectional overrides and isolates, BOM) and invalid UTF-8 removed, spaces
 * trimmed at both ends, then cut at a character boundary to at most TG_NAME_MAX bytes.
 * out has room for TG_NAME_MAX + 1; always NUL-terminated valid UTF-8.
 */
void wechat_clean_nickname(const char *in, size_t len, char out[TG_NAME_MAX + 1]);

/* 1 when s is 1..max characters of [A-Za-z0-9_-] (appids, openids, unionids). */
int wechat_id_ok(const char *s, size_t max);

#endif
