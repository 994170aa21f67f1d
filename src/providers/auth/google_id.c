/*
 * google_id.c - the parts of Google Sign-In that need neither configuration nor a network:
 * ID token claim rules, verification with a given key set, the token endpoint's answers and
 * the URLs and forms we send (see google.h). google.c wires them to net.h and the config.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "crypto/encode.h"
#include "crypto/hash.h"
#include "net/net.h"
#include "providers/auth/google.h"

/* Most entries an "aud" array may have (Google sends a string). */
#define GOOGLE_MAX_AUD 10

static void set_reason(struct auth_result *res, enum auth_prc rc, const char *reason)
{
    res->rc = rc;
    snprintf(res->reason, sizeof res->reason, "%s", reason);
}

/* 1 when v is a JSON string exactly equal to s. */
static int str_eq(const json_t *v, const char *s)
{
    size_t n = strlen(s);
    return json_is_string(v) && json_string_length(v) == n && memcmp(json_string_value(v), s, n) == 0;
}

static int aud_ok(const json_t *aud, const json_t *azp, const char *client_id, const char **why)
{
    size_t i, n;
    int found = 0;

    *why = "wrong_audience";
    if (json_is_string(aud))
        return str_eq(aud, client_id);
    if (!json_is_array(aud) || json_array_size(aud) == 0 || json_array_size(aud) > GOOGLE_MAX_AUD)
        return 0;
    n = json_array_size(aud);
    for (i = 0; i < n; i++)
        if (str_eq(json_array_get(aud, i), client_id))
            found = 1;
    if (!found)
        return 0;
    /* Several audiences: the token must have been issued to us (OIDC Core 3.1.3.7 5-6). */
    *why = "wrong_azp";
    return str_eq(azp, client_id);
}

/* Copies a plausible e-mail address, lower-cased, into out; "" when it is not one. */
static void copy_email(const json_t *v, char out[TG_EMAIL_MAX + 1])
{
    const char *s;
    size_t n, at = 0, ats = 0;

    out[0] = '\0';
    if (!json_is_string(v))
        return;
    s = json_string_value(v);
    n = json_string_length(v);
    if (n < 3 || n > TG_EMAIL_MAX)
        return;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        /* Printable ASCII without blanks, quotes or angle brackets: Google's addresses are. */
        if (c <= 0x20 || c >= 0x7f || c == '"' || c == '<' || c == '>' || c == '\\' || c == ',')
            return;
        if (c == '@') {
            ats++;
            at = i;
        }
    }
    if (ats != 1 || at == 0 || at == n - 1)
        return;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        out[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    out[n] = '\0';
}

/* The display name: a string without control characters, cut at a UTF-8 character
 * boundary to TG_NAME_MAX bytes. A name is decoration, so a long one is shortened rather
 * than refusing the sign-in; one with control characters is dropped. */
static void copy_name(const json_t *v, char out[TG_NAME_MAX + 1])
{
    const char *s;
    size_t n;

    out[0] = '\0';
    if (!json_is_string(v))
        return;
    s = json_string_value(v);
    n = json_string_length(v);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            return; /* also catches an escaped NUL (\u0000) */
    }
    if (n > TG_NAME_MAX) {
        n = TG_NAME_MAX;
        /* jansson guarantees valid UTF-8: back off the continuation bytes of a cut character. */
        while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
            n--;
    }
    memcpy(out, s, n);
    out[n] = '\0';
}

/* "zh-CN" for zh, zh-TW, zh_Hans...; "en-US" for en, en-GB...; else "". */
static const char *map_locale(const json_t *v)
{
    const char *s;
    if (!json_is_string(v) || json_string_length(v) < 2)
        return "";
    s = json_string_value(v);
    if (s[2] != '\0' && s[2] != '-' && s[2] != '_')
        return "";
    if ((s[0] == 'z' || s[0] == 'Z') && (s[1] == 'h' || s[1] == 'H'))
        return "zh-CN";
    if ((s[0] == 'e' || s[0] == 'E') && (s[1] == 'n' || s[1] == 'N'))
        return "en-US";
    return "";
}

void google_check_claims(const json_t *claims, const char *client_id, const char *nonce, int64_t now_s,
                         struct auth_result *res)
{
    const json_t *iss = json_object_get(claims, "iss"), *aud = json_object_get(claims, "aud");
    const json_t *exp = json_object_get(claims, "exp"), *iat = json_object_get(claims, "iat");
    const json_t *sub = json_object_get(claims, "sub");
    const char *why = "wrong_audience";
    json_int_t e, i;
    size_t sublen;

    memset(res, 0, sizeof *res);
    snprintf(res->id.provider, sizeof res->id.provider, "google");
    if (!json_is_object(claims)) {
        set_reason(res, AUTH_P_INVALID, "malformed");
        return;
    }
    if (!str_eq(iss, "accounts.google.com") && !str_eq(iss, "https://accounts.google.com")) {
        set_reason(res, AUTH_P_INVALID, "wrong_issuer");
        return;
    }
    if (client_id == NULL || !aud_ok(aud, json_object_get(claims, "azp"), client_id, &why)) {
        set_reason(res, AUTH_P_INVALID, why);
        return;
    }
    /* Integers only: Google issues them, and a float could be read differently elsewhere. */
    if (!json_is_integer(exp)) {
        set_reason(res, AUTH_P_INVALID, "bad_exp");
        return;
    }
    if (!json_is_integer(iat)) {
        set_reason(res, AUTH_P_INVALID, "bad_iat");
        return;
    }
    e = json_integer_value(exp);
    i = json_integer_value(iat);
    /* now > exp + skew, written so that no operand can overflow (now_s is a real clock). */
    if (e < now_s - GOOGLE_SKEW_S) {
        set_reason(res, AUTH_P_INVALID, "expired");
        return;
    }
    if (i > now_s + GOOGLE_SKEW_S) {
        set_reason(res, AUTH_P_INVALID, "issued_in_future");
        return;
    }
    /* e > i makes the true difference fit in uint64 whatever the values. */
    if (e > i && (uint64_t)e - (uint64_t)i > GOOGLE_MAX_LIFETIME_S) {
        set_reason(res, AUTH_P_INVALID, "lifetime_too_long");
        return;
    }
    if (!json_is_string(sub) || (sublen = json_string_length(sub)) == 0 || sublen >= AUTH_SUBJECT_MAX) {
        set_reason(res, AUTH_P_INVALID, "bad_subject");
        return;
    }
    for (size_t k = 0; k < sublen; k++) {
        unsigned char c = (unsigned char)json_string_value(sub)[k];
        if (c < 0x21 || c > 0x7e) {
            set_reason(res, AUTH_P_INVALID, "bad_subject");
            return;
        }
    }
    if (nonce != NULL) {
        const json_t *tn = json_object_get(claims, "nonce");
        size_t n = strlen(nonce);
        if (!json_is_string(tn) || json_string_length(tn) != n || n == 0 ||
            !ct_equal(json_string_value(tn), nonce, n)) {
            set_reason(res, AUTH_P_INVALID, "nonce_mismatch");
            return;
        }
    }

    memcpy(res->id.subject, json_string_value(sub), sublen + 1);
    copy_email(json_object_get(claims, "email"), res->id.email);
    /* JSON true only: the string "true" (tokeninfo's spelling) is not the ID token's. */
    res->id.email_verified = res->id.email[0] != '\0' && json_is_true(json_object_get(claims, "email_verified"));
    copy_name(json_object_get(claims, "name"), res->id.display_name);
    snprintf(res->id.locale, sizeof res->id.locale, "%s", map_locale(json_object_get(claims, "locale")));
    res->rc = AUTH_P_OK;
    res->reason[0] = '\0';
}

int google_verify_keys(const struct jwt_rs256 *t, const struct jwks_set *s, const char *client_id,
                       const char *nonce, int64_t now_s, struct auth_result *res)
{
    const struct rsa_key *key = jwks_find(s, t->kid);
    json_t *claims = NULL;
    enum jwt_rc rc;

    if (key == NULL)
        return 1;
    rc = jwt_rs256_verify(t, key, &claims);
    if (rc != JWT_OK) {
        memset(res, 0, sizeof *res);
        snprintf(res->id.provider, sizeof res->id.provider, "google");
        set_reason(res, AUTH_P_INVALID, rc == JWT_BAD_SIG ? "bad_signature" : "malformed");
        return 0;
    }
    google_check_claims(claims, client_id, nonce, now_s, res);
    json_decref(claims);
    return 0;
}

const char *google_parse_reason(enum jwt_rc rc)
{
    switch (rc) {
    case JWT_TOO_LARGE:
        return "token_too_large";
    case JWT_BAD_ALG:
        return "alg_not_allowed";
    case JWT_NO_KID:
        return "missing_kid";
    default:
        return "malformed";
    }
}

/* 1 when s (n bytes) is a plain lower-case word fit to be a reason: [a-z0-9_]{1,40}. */
static int plain_word(const char *s, size_t n)
{
    if (n == 0 || n > 40)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return 0;
    return 1;
}

char *google_token_response(int net_err, long status, const char *body, size_t len, size_t *id_len,
                            struct auth_result *res)
{
    static const char *const ours[] = {"invalid_client", "unauthorized_client", "redirect_uri_mismatch",
                                       "unsupported_grant_type"};
    char *id = NULL;
    json_t *doc = NULL;
    const json_t *v;
    char reason[64];

    memset(res, 0, sizeof *res);
    snprintf(res->id.provider, sizeof res->id.provider, "google");
    *id_len = 0;
    if (net_err != NET_OK) {
        set_reason(res, AUTH_P_UNAVAILABLE, net_err_name((enum net_err)net_err));
        goto cleanup;
    }
    if (status == 429 || status >= 500 || status < 200 || (status > 200 && status < 400)) {
        snprintf(reason, sizeof reason, "http_%ld", status);
        set_reason(res, AUTH_P_UNAVAILABLE, reason);
        goto cleanup;
    }
    doc = body != NULL ? json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL) : NULL;
    if (status == 200) {
        v = json_object_get(doc, "id_token");
        if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > JWT_RS_MAX_LEN) {
            set_reason(res, AUTH_P_UNAVAILABLE, "bad_token_response");
            goto cleanup;
        }
        if (strspn(json_string_value(v), "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.") !=
            json_string_length(v)) {
            set_reason(res, AUTH_P_UNAVAILABLE, "bad_token_response");
            goto cleanup;
        }
        id = xstrdup(json_string_value(v));
        *id_len = json_string_length(v);
        res->rc = AUTH_P_OK;
        goto cleanup;
    }
    /* 4xx: RFC 6749 section 5.2 error object. */
    v = json_object_get(doc, "error");
    if (json_is_string(v) && plain_word(json_string_value(v), json_string_length(v))) {
        snprintf(reason, sizeof reason, "%s", json_string_value(v));
        for (size_t i = 0; i < sizeof ours / sizeof ours[0]; i++) {
            if (strcmp(reason, ours[i]) == 0) {
                set_reason(res, AUTH_P_MISCONFIGURED, reason);
                goto cleanup;
            }
        }
    } else {
        snprintf(reason, sizeof reason, "http_%ld", status);
    }
    set_reason(res, AUTH_P_INVALID, reason);

cleanup:
    json_decref(doc);
    return id;
}

/* Appends "&name=" (or "name=" at the start) and value percent-encoded. */
static void add_param(struct sbuf *b, int first, const char *name, const char *value)
{
    size_t n = strlen(value);
    char *enc = xmalloc(3 * n + 1);
    pct_encode(value, n, enc);
    if (!first)
        sbuf_puts(b, "&");
    sbuf_puts(b, name);
    sbuf_puts(b, "=");
    sbuf_puts(b, enc);
    free(enc);
}

char *google_authorize_url_build(const char *base, const char *client_id, const struct auth_flow *f)
{
    struct sbuf b = {0};

    sbuf_puts(&b, base);
    if (strchr(base, '?') == NULL)
        sbuf_puts(&b, "?");
    else if (b.data[b.len - 1] != '?' && b.data[b.len - 1] != '&')
        sbuf_puts(&b, "&");
    add_param(&b, 1, "client_id", client_id);
    add_param(&b, 0, "redirect_uri", f->redirect_uri != NULL ? f->redirect_uri : "");
    add_param(&b, 0, "response_type", "code");
    add_param(&b, 0, "scope", "openid email profile");
    add_param(&b, 0, "state", f->state != NULL ? f->state : "");
    if (f->nonce != NULL)
        add_param(&b, 0, "nonce", f->nonce);
    if (f->code_challenge != NULL) {
        add_param(&b, 0, "code_challenge", f->code_challenge);
        add_param(&b, 0, "code_challenge_method", "S256");
    }
    return b.data;
}

char *google_token_form(const char *code, const char *client_id, const char *client_secret, const char *redirect_uri,
                        const char *code_verifier)
{
    struct sbuf b = {0};

    add_param(&b, 1, "code", code);
    add_param(&b, 0, "client_id", client_id);
    add_param(&b, 0, "client_secret", client_secret);
    add_param(&b, 0, "redirect_uri", redirect_uri);
    add_param(&b, 0, "grant_type", "authorization_code");
    if (code_verifier != NULL)
        add_param(&b, 0, "code_verifier", code_verifier);
    return b.data;
}
