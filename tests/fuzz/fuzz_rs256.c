/*
 * fuzz_rs256.c - fuzz target for the RS256 ID token path: jwt_rs256_parse() (header rules),
 * jwt_rs256_verify() and google_check_claims() (Google's claim rules, providers/auth).
 *
 * The first byte picks how the rest is used:
 *   0: the rest is a token: parsed, and verified with a fixed key when the header passes;
 *   1: the rest is a header (JSON text): the target adds a payload and a signature, so the
 *      header rules see arbitrary JSON;
 *   2: the rest is a payload (JSON text), handed to the claim rules as a verified payload
 *      would be, at a fixed now.
 * Invariants (abort() when broken): the header passes only with alg exactly "RS256", a kid
 * of 1..JWT_KID_MAX printable characters, no crit and typ absent or "JWT" (checked again here
 * with jansson); claims come back exactly on JWT_OK; a refused token always has a reason from
 * the documented list; an accepted payload obeys every rule when re-checked here, written
 * differently (issuer, audience, 128-bit time arithmetic, subject), and yields an identity
 * within its bounds (lower-case address with one '@', verified only with an address, a
 * display name of valid UTF-8 within TG_NAME_MAX bytes, locale "", "zh-CN" or "en-US").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "crypto/encode.h"
#include "crypto/jwt.h"
#include "crypto/rsa.h"
#include "fuzz.h"
#include "providers/auth/google.h"

#define NOW 1700000000LL
#define CLIENT "c.apps.googleusercontent.com"

static unsigned long hdr_counts[JWT_TOO_LARGE + 1], claim_ok, claim_bad;
static struct rsa_key *key;

/* tests/unit/crypto/data/rsa2048.jwk.json */
static const char key_n[] =
    "vLkTQxZtjmVV9AlPHT5A-UgRQiMTQFGHaVtMDCnwI9KU9GnLYotdYeJLlDlWhPc82vuut4amB-rkS_pjkmYk6cfJAmyGX_s3foWHZg4b0H0o"
    "oeXEx2jw8tNOrtiFpPZCMXH1njPhCn3DIDh7hVoeicN8mEn0RCaUgiI6QvaEqseC9IKh4vWCsF4kH1kaI4UvIgWaxVJfs07Js4lzzj_F5SLg"
    "kzdfy6nnqhz_ihs4wwseZHroC0iF-o7p8woitqiWOOtVFW7u6lyx56Xwwh_ROok_EWS8JSnYLT3COi-QPnWDGFcmYqJZztdZh0BTB4yYWP_m"
    "7_7fKUtMruwkjtEAMQ";

static void ensure_init(void)
{
    if (key == NULL && rsa_pub_from_jwk(key_n, sizeof key_n - 1, "AQAB", 4, &key) != RSA_OK)
        abort();
}

/* The header rules, written again with jansson: 1 when h (decoded JSON text) should pass. */
static int header_should_pass(const char *text, size_t len)
{
    json_t *h = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
    const json_t *alg = json_object_get(h, "alg"), *kid = json_object_get(h, "kid"), *typ = json_object_get(h, "typ");
    int ok = json_is_object(h) && json_is_string(alg) && strcmp(json_string_value(alg), "RS256") == 0 &&
             json_string_length(alg) == 5 && json_is_string(kid) && json_string_length(kid) >= 1 &&
             json_string_length(kid) <= JWT_KID_MAX && json_object_get(h, "crit") == NULL &&
             (typ == NULL || (json_is_string(typ) && json_string_length(typ) == 3 &&
                              strcmp(json_string_value(typ), "JWT") == 0));
    if (ok)
        for (size_t i = 0; i < json_string_length(kid); i++)
            if ((unsigned char)json_string_value(kid)[i] < 0x21 || (unsigned char)json_string_value(kid)[i] > 0x7e)
                ok = 0;
    json_decref(h);
    return ok;
}

static void check_parse(const char *tok, size_t len, const char *header_text, size_t header_len)
{
    struct jwt_rs256 t;
    char *exact = malloc(len ? len : 1);
    enum jwt_rc rc;

    if (exact == NULL)
        abort();
    memcpy(exact, tok, len);
    rc = jwt_rs256_parse(exact, len, &t);
    if (rc > JWT_TOO_LARGE || rc == JWT_BAD_SIG || rc == JWT_EXPIRED || rc == JWT_NOT_YET)
        abort();
    hdr_counts[rc]++;
    if ((len > JWT_RS_MAX_LEN) != (rc == JWT_TOO_LARGE))
        abort();
    if (header_text != NULL && (rc == JWT_OK) != header_should_pass(header_text, header_len))
        abort();
    if (rc == JWT_OK) {
        json_t *claims = NULL;
        enum jwt_rc v;
        if (t.kid[0] == '\0' || strlen(t.kid) > JWT_KID_MAX || t.sig_len == 0 || t.signed_len >= len ||
            t.token != exact || t.payload_b64 + t.payload_len != exact + t.signed_len)
            abort();
        v = jwt_rs256_verify(&t, key, &claims);
        if ((v == JWT_OK) != (claims != NULL) || (v != JWT_OK && v != JWT_BAD_SIG && v != JWT_MALFORMED))
            abort();
        json_decref(claims);
    } else {
        const char *r = google_parse_reason(rc);
        if (strcmp(r, "malformed") && strcmp(r, "alg_not_allowed") && strcmp(r, "missing_kid") &&
            strcmp(r, "token_too_large"))
            abort();
    }
    free(exact);
}

static int str_is(const json_t *v, const char *s)
{
    return json_is_string(v) && json_string_length(v) == strlen(s) && strcmp(json_string_value(v), s) == 0;
}

static void check_claims(const char *text, size_t len)
{
    static const char *reasons[] = {"malformed", "wrong_issuer", "wrong_audience", "wrong_azp", "bad_exp",
                                    "bad_iat", "expired", "issued_in_future", "lifetime_too_long",
                                    "bad_subject", "nonce_mismatch"};
    json_t *c = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
    struct auth_result res;
    int known = 0;

    if (!json_is_object(c)) {
        json_decref(c);
        return;
    }
    google_check_claims(c, CLIENT, (len & 1) ? "nonce-1" : NULL, NOW, &res);
    if (strcmp(res.id.provider, "google") != 0)
        abort();
    if (res.rc != AUTH_P_OK) {
        claim_bad++;
        if (res.rc != AUTH_P_INVALID)
            abort();
        for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++)
            known |= strcmp(res.reason, reasons[i]) == 0;
        if (!known)
            abort();
        json_decref(c);
        return;
    }
    claim_ok++;
    /* Re-check every rule. */
    const json_t *iss = json_object_get(c, "iss"), *aud = json_object_get(c, "aud"), *sub = json_object_get(c, "sub");
    const json_t *exp = json_object_get(c, "exp"), *iat = json_object_get(c, "iat");
    if (!str_is(iss, "accounts.google.com") && !str_is(iss, "https://accounts.google.com"))
        abort();
    if (json_is_array(aud)) {
        int found = 0;
        for (size_t i = 0; i < json_array_size(aud); i++)
            found |= str_is(json_array_get(aud, i), CLIENT);
        if (!found || !str_is(json_object_get(c, "azp"), CLIENT) || json_array_size(aud) > 10)
            abort();
    } else if (!str_is(aud, CLIENT)) {
        abort();
    }
    if (!json_is_integer(exp) || !json_is_integer(iat))
        abort();
    __int128 e = json_integer_value(exp), i = json_integer_value(iat);
    if ((__int128)NOW > e + 300 || (__int128)NOW < i - 300 || e - i > 86400)
        abort();
    if (!json_is_string(sub) || strcmp(res.id.subject, json_string_value(sub)) != 0 || res.id.subject[0] == '\0')
        abort();
    if ((len & 1) && !str_is(json_object_get(c, "nonce"), "nonce-1"))
        abort();
    /* The identity's bounds. */
    size_t el = strlen(res.id.email);
    if (el > 0) {
        const char *at = strchr(res.id.email, '@');
        if (at == NULL || strchr(at + 1, '@') != NULL || at == res.id.email || at[1] == '\0')
            abort();
        for (size_t k = 0; k < el; k++)
            if (res.id.email[k] >= 'A' && res.id.email[k] <= 'Z')
                abort();
    }
    if (res.id.email_verified && (el == 0 || !json_is_true(json_object_get(c, "email_verified"))))
        abort();
    {
        size_t nl = strlen(res.id.display_name);
        json_t *u = json_stringn(res.id.display_name, nl); /* NULL unless valid UTF-8 */
        if (nl > TG_NAME_MAX || u == NULL)
            abort();
        json_decref(u);
    }
    if (strcmp(res.id.locale, "") && strcmp(res.id.locale, "zh-CN") && strcmp(res.id.locale, "en-US"))
        abort();
    json_decref(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char tok[JWT_RS_MAX_LEN * 2 + 512];
    const char *rest = (const char *)data + 1;
    size_t n = size ? size - 1 : 0, o;

    ensure_init();
    if (size == 0)
        return 0;
    switch (data[0] % 3) {
    case 0:
        check_parse(rest, n, NULL, 0);
        break;
    case 1:
        if (n > JWT_RS_MAX_LEN)
            return 0;
        o = b64url_encode(rest, n, tok);
        memcpy(tok + o, ".e30.AAAA", 9);
        o += 9;
        /* Only when it fits does the header decide (past the limit, size does). */
        check_parse(tok, o, o <= JWT_RS_MAX_LEN ? rest : NULL, n);
        break;
    default:
        check_claims(rest, n);
        break;
    }
    return 0;
}

static void add_mode(void (*add)(const uint8_t *, size_t), uint8_t mode, const char *text)
{
    static uint8_t buf[8192];
    size_t n = strlen(text);
    if (n + 1 > sizeof buf)
        return;
    buf[0] = mode;
    memcpy(buf + 1, text, n);
    add(buf, n + 1);
}

void fuzz_seeds(void (*add)(const uint8_t *data, size_t size))
{
    static const char *headers[] = {
        "{\"alg\":\"RS256\",\"kid\":\"4ff969a7b5196dba682214d2b2d81ce3a9233c71\",\"typ\":\"JWT\"}",
        "{\"alg\":\"RS256\",\"kid\":\"k\"}",
        "{\"alg\":\"none\",\"kid\":\"k\"}",
        "{\"alg\":\"HS256\",\"kid\":\"k\",\"typ\":\"JWT\"}",
        "{\"alg\":\"RS256\",\"kid\":\"k\",\"crit\":[\"b64\"],\"b64\":false}",
    };
    static const char *payloads[] = {
        "{\"iss\":\"https://accounts.google.com\",\"azp\":\"" CLIENT "\",\"aud\":\"" CLIENT "\",\"sub\":\"1101694844\","
        "\"email\":\"Alice@Gmail.com\",\"email_verified\":true,\"name\":\"Alice \\u5f20\",\"locale\":\"zh-TW\","
        "\"iat\":1699999940,\"exp\":1700003540,\"nonce\":\"nonce-1\"}",
        "{\"iss\":\"accounts.google.com\",\"aud\":[\"x\",\"" CLIENT "\"],\"azp\":\"" CLIENT "\",\"sub\":\"1\","
        "\"iat\":1700000300,\"exp\":1700086700}",
        "{\"iss\":\"accounts.google.com\",\"aud\":\"" CLIENT "\",\"sub\":\"1\",\"iat\":1.7e9,\"exp\":\"1700003540\"}",
    };
    char tok[4096];
    size_t o;

    ensure_init();
    for (size_t i = 0; i < sizeof headers / sizeof headers[0]; i++) {
        add_mode(add, 1, headers[i]);
        o = b64url_encode(headers[i], strlen(headers[i]), tok);
        tok[o++] = '.';
        o += b64url_encode(payloads[0], strlen(payloads[0]), tok + o);
        memcpy(tok + o, ".AAAA", 6);
        add_mode(add, 0, tok);
    }
    for (size_t i = 0; i < sizeof payloads / sizeof payloads[0]; i++)
        add_mode(add, 2, payloads[i]);
}

void fuzz_report(void)
{
    printf("header:");
    for (int r = 0; r <= JWT_TOO_LARGE; r++)
        printf(" %s=%lu", jwt_rc_name((enum jwt_rc)r), hdr_counts[r]);
    printf("\nclaims: accepted=%lu refused=%lu\n", claim_ok, claim_bad);
}
