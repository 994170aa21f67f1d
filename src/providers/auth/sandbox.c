/*
 * sandbox.c - the sandbox sign-in provider (sandbox.h).
 */
#include "providers/auth/sandbox.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/config.h"
#include "core/mem.h"
#include "crypto/encode.h"
#include "crypto/hash.h"

/* Five minutes: a real provider's codes live about as long (Google's, WeChat's 10 min). */
#define SANDBOX_CODE_TTL_MS (5 * 60 * 1000)
#define SANDBOX_CODE_MAX 512

const struct sandbox_person sandbox_people[] = {
    {"alice", "Alice (global)", "alice@sandbox.tollgate.test", 1, "en-US",
     "A global user with a verified email address."},
    {"lilei", "李雷", "", 0, "zh-CN", "A China user without an email address, like a WeChat account."},
    {"bob", "Bob (unverified)", "bob@sandbox.tollgate.test", 0, "en-US",
     "A user whose email address the provider did not verify."},
};
const size_t sandbox_people_count = sizeof sandbox_people / sizeof sandbox_people[0];

static const struct sandbox_person *sandbox_find(const char *key)
{
    for (size_t i = 0; i < sandbox_people_count; i++)
        if (strcmp(sandbox_people[i].key, key) == 0)
            return &sandbox_people[i];
    return NULL;
}

static void sandbox_mac(const void *data, size_t n, unsigned char out[32])
{
    unsigned char key[32];
    static const char label[] = "tollgate sandbox sign-in v1";
    hmac_sha256(tg_cfg->jwt_secret, tg_cfg->jwt_secret_len, label, sizeof label - 1, key);
    hmac_sha256(key, sizeof key, data, n, out);
}

char *sandbox_signin_redirect_uri(void)
{
    return xasprintf("%s/api/v1/auth/oauth/sandbox/callback", tg_cfg->public_url);
}

static int sandbox_challenge_ok(const char *c)
{
    unsigned char d[32];
    return c != NULL && strlen(c) == 43 && b64url_decode(c, 43, d, sizeof d) == 32;
}

char *sandbox_signin_code(const char *key, const char *challenge, int64_t now_ms)
{
    if (sandbox_find(key) == NULL || !sandbox_challenge_ok(challenge))
        return NULL;
    json_t *j = json_pack("{s:s, s:s, s:I}", "w", key, "c", challenge, "e", (json_int_t)(now_ms + SANDBOX_CODE_TTL_MS));
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (text == NULL)
        return NULL;
    size_t tlen = strlen(text);
    char *out = xmalloc(b64url_encoded_len(tlen) + 1 + b64url_encoded_len(32) + 1);
    size_t n = b64url_encode(text, tlen, out);
    free(text);
    unsigned char mac[32];
    sandbox_mac(out, n, mac);
    out[n++] = '.';
    n += b64url_encode(mac, sizeof mac, out + n);
    out[n] = '\0';
    return out;
}

int sandbox_signin_check(const char *code, const char *verifier, int64_t now_ms, struct auth_identity *out,
                         const char **why)
{
    char payload[SANDBOX_CODE_MAX];
    unsigned char mac[32], want[32], digest[32];
    char challenge[64];
    json_t *j = NULL;
    int ret = -1;

    memset(out, 0, sizeof *out);
    *why = "bad_code";
    size_t len = code ? strlen(code) : 0;
    const char *dot = len ? memchr(code, '.', len) : NULL;
    if (dot == NULL || len >= SANDBOX_CODE_MAX)
        return -1;
    size_t plen = (size_t)(dot - code);
    if (b64url_decode(dot + 1, len - plen - 1, mac, sizeof mac) != 32)
        return -1;
    sandbox_mac(code, plen, want);
    if (!ct_equal(mac, want, sizeof mac))
        return -1;
    long n = b64url_decode(code, plen, payload, sizeof payload - 1);
    if (n <= 0)
        return -1;
    payload[n] = '\0';
    j = json_loadb(payload, (size_t)n, JSON_REJECT_DUPLICATES, NULL);
    json_t *w = json_object_get(j, "w"), *c = json_object_get(j, "c"), *e = json_object_get(j, "e");
    if (!json_is_string(w) || !json_is_string(c) || !json_is_integer(e))
        goto cleanup;
    if (now_ms >= json_integer_value(e)) {
        *why = "code_expired";
        goto cleanup;
    }
    /* PKCE (RFC 7636 4.6): BASE64URL(SHA256(verifier)) must equal the challenge. */
    if (verifier == NULL || strlen(verifier) < 43 || strlen(verifier) > 128) {
        *why = "pkce_failed";
        goto cleanup;
    }
    sha256(verifier, strlen(verifier), digest);
    size_t cl = b64url_encode(digest, sizeof digest, challenge);
    challenge[cl] = '\0';
    if (strcmp(challenge, json_string_value(c)) != 0) {
        *why = "pkce_failed";
        goto cleanup;
    }
    const struct sandbox_person *p = sandbox_find(json_string_value(w));
    if (p == NULL)
        goto cleanup;
    snprintf(out->provider, sizeof out->provider, "sandbox");
    snprintf(out->subject, sizeof out->subject, "%s", p->key);
    snprintf(out->email, sizeof out->email, "%s", p->email);
    out->email_verified = p->email_verified && p->email[0];
    snprintf(out->display_name, sizeof out->display_name, "%s", p->display_name);
    snprintf(out->locale, sizeof out->locale, "%s", p->locale);
    *why = NULL;
    ret = 0;

cleanup:
    json_decref(j);
    return ret;
}

static int sandbox_configured(void)
{
    return tg_cfg != NULL && tg_cfg->sandbox;
}

static char *sandbox_authorize_url(struct auth_flow *f)
{
    f->variant[0] = '\0';
    /* The page takes only the state and the challenge: it sends people back to our own
     * callback, never to a URL from the query (no open redirect). */
    return xasprintf("%s/sandbox/sign-in?state=%s&code_challenge=%s", tg_cfg->public_url, f->state,
                     f->code_challenge);
}

static void sandbox_exchange(struct net_exec *nx, const struct auth_flow *f, const char *code, const char *verifier,
                             int64_t now_ms, auth_done_fn done, void *arg)
{
    (void)nx;
    (void)f;
    struct auth_result res;
    const char *why;
    memset(&res, 0, sizeof res);
    if (sandbox_signin_check(code, verifier, now_ms, &res.id, &why) == 0) {
        res.rc = AUTH_P_OK;
    } else {
        res.rc = AUTH_P_INVALID;
        snprintf(res.reason, sizeof res.reason, "%s", why);
    }
    done(arg, &res);
}

const struct auth_provider auth_sandbox = {
    .name = "sandbox",
    .pkce = 1,
    .trust_email = 0, /* made-up people must never be handed a real account by address */
    .vouches = 1,     /* a demo: its accounts get the signup credits */
    .configured = sandbox_configured,
    .authorize_url = sandbox_authorize_url,
    .exchange = sandbox_exchange,
};
