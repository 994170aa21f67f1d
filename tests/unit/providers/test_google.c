/*
 * Unit tests for the pure parts of Google sign-in (src/providers/auth/google_id.c, jwks.c):
 * every verification outcome on ID tokens signed by jose (data/google_tokens.txt, made by
 * tests/fakes/gen_vectors.mjs for a fixed now), JWKS parsing, Cache-Control parsing, the key
 * cache policy with an injected clock, and the URLs and forms sent to Google.
 */
#include "../test.h"

#include <pthread.h>
#include <stdlib.h>

#include "core/mem.h"
#include "crypto/encode.h"
#include "net/net.h"
#include "providers/auth/google.h"
#include "providers/auth/jwks.h"

#define NOW 1700000000LL
#define CLIENT "test-client.apps.googleusercontent.com"

static char *slurp(const char *name, size_t *len)
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
    if (len != NULL)
        *len = (size_t)n;
    return buf;
}

/* ---- the token vectors ----------------------------------------------------------------- */

static char *tokens_text;

/* The token named name in google_tokens.txt (borrowed), or a bail-out. */
static const char *tok(const char *name)
{
    size_t n = strlen(name);
    for (char *line = tokens_text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        if (strncmp(line, name, n) == 0 && line[n] == ' ') {
            static char buf[16384];
            size_t len = strcspn(line + n + 1, "\n");
            memcpy(buf, line + n + 1, len);
            buf[len] = '\0';
            return buf;
        }
    }
    printf("Bail out! no token %s in google_tokens.txt\n", name);
    exit(1);
}

static struct jwks_set *keys1, *keys_rotated;

/* Verifies a token as the provider does, without the network: parse, key, claims. */
static void verify(const char *token, const struct jwks_set *s, const char *client, const char *nonce, int64_t now_s,
                   struct auth_result *res)
{
    struct jwt_rs256 t;
    enum jwt_rc rc = jwt_rs256_parse(token, strlen(token), &t);

    memset(res, 0, sizeof *res);
    if (rc != JWT_OK) {
        res->rc = AUTH_P_INVALID;
        snprintf(res->reason, sizeof res->reason, "%s", google_parse_reason(rc));
        return;
    }
    if (google_verify_keys(&t, s, client, nonce, now_s, res) != 0) {
        res->rc = AUTH_P_INVALID;
        snprintf(res->reason, sizeof res->reason, "unknown_kid");
    }
}

/* Checks that token `name` gives want_reason ("" for AUTH_P_OK) at now. */
static void expect(const char *name, const char *nonce, int64_t now_s, const char *want_reason)
{
    struct auth_result res;
    verify(tok(name), keys1, CLIENT, nonce, now_s, &res);
    if (want_reason[0] == '\0') {
        CHECK(res.rc == AUTH_P_OK, "%s: accepted (got %d %s)", name, (int)res.rc, res.reason);
    } else {
        CHECK(res.rc == AUTH_P_INVALID && strcmp(res.reason, want_reason) == 0, "%s: invalid, %s (got %d %s)", name,
              want_reason, (int)res.rc, res.reason);
    }
}

static void test_tokens(void)
{
    struct auth_result res;

    verify(tok("good"), keys1, CLIENT, NULL, NOW, &res);
    CHECK_INT_EQ(res.rc, AUTH_P_OK, "good token accepted");
    CHECK_STR_EQ(res.id.provider, "google", "provider");
    CHECK_STR_EQ(res.id.subject, "110169484474386276334", "subject is sub");
    CHECK_STR_EQ(res.id.email, "alice.example@gmail.com", "email lower-cased");
    CHECK_INT_EQ(res.id.email_verified, 1, "email_verified true");
    CHECK_STR_EQ(res.id.display_name, "Alice Example", "name");
    CHECK_STR_EQ(res.id.locale, "en-US", "locale en -> en-US");
    CHECK_STR_EQ(res.reason, "", "no reason on success");

    expect("good_kid2", NULL, NOW, "");
    expect("good_kid3", NULL, NOW, "unknown_kid");
    verify(tok("good_kid3"), keys_rotated, CLIENT, NULL, NOW, &res);
    CHECK_INT_EQ(res.rc, AUTH_P_OK, "kid3 accepted with the rotated set");
    verify(tok("good"), keys_rotated, CLIENT, NULL, NOW, &res);
    CHECK_STR_EQ(res.reason, "unknown_kid", "kid1 unknown once rotated out");

    expect("good_nonce", "n-0S6_WzA2Mj", NOW, "");
    expect("good_nonce", NULL, NOW, "");
    expect("good_nonce", "n-0S6_WzA2Mk", NOW, "nonce_mismatch");
    expect("good_nonce", "n-0S6_WzA2M", NOW, "nonce_mismatch");
    expect("good", "n-0S6_WzA2Mj", NOW, "nonce_mismatch");
    expect("good_nonce", "", NOW, "nonce_mismatch");

    expect("iss_bare", NULL, NOW, "");
    expect("wrong_iss", NULL, NOW, "wrong_issuer");
    expect("http_iss", NULL, NOW, "wrong_issuer");
    expect("wrong_aud", NULL, NOW, "wrong_audience");
    verify(tok("good"), keys1, "other.apps.googleusercontent.com", NULL, NOW, &res);
    CHECK_STR_EQ(res.reason, "wrong_audience", "a token for another client id");
    expect("aud_array_ok", NULL, NOW, "");
    expect("aud_array_bad_azp", NULL, NOW, "wrong_azp");
    expect("aud_array_without", NULL, NOW, "wrong_audience");

    /* Time rules with skew 300 s: exp + 300 is the last accepted second. */
    expect("exp_edge_ok", NULL, NOW, "");
    expect("expired", NULL, NOW, "expired");
    expect("good", NULL, NOW + 3540 + 300, "");
    expect("good", NULL, NOW + 3540 + 301, "expired");
    expect("iat_edge_ok", NULL, NOW, "");
    expect("future_iat", NULL, NOW, "issued_in_future");
    expect("good", NULL, NOW - 60 - 300, "");
    expect("good", NULL, NOW - 60 - 301, "issued_in_future");
    expect("lifetime_edge_ok", NULL, NOW, "");
    expect("long_lifetime", NULL, NOW, "lifetime_too_long");
    expect("exp_float", NULL, NOW, "bad_exp");
    expect("exp_string", NULL, NOW, "bad_exp");
    expect("no_exp", NULL, NOW, "bad_exp");
    expect("no_iat", NULL, NOW, "bad_iat");

    expect("no_sub", NULL, NOW, "bad_subject");
    expect("empty_sub", NULL, NOW, "bad_subject");
    expect("sub_255", NULL, NOW, "");
    expect("sub_256", NULL, NOW, "bad_subject");

    /* An unverified address still signs the person in, flagged. */
    verify(tok("unverified_email"), keys1, CLIENT, NULL, NOW, &res);
    CHECK(res.rc == AUTH_P_OK && res.id.email_verified == 0 && strcmp(res.id.email, "alice.example@gmail.com") == 0,
          "email_verified false: signed in, email kept, not verified");
    verify(tok("email_verified_string"), keys1, CLIENT, NULL, NOW, &res);
    CHECK(res.rc == AUTH_P_OK && res.id.email_verified == 0, "email_verified \"true\" (a string) is not verified");
    verify(tok("no_email"), keys1, CLIENT, NULL, NOW, &res);
    CHECK(res.rc == AUTH_P_OK && res.id.email[0] == '\0' && res.id.email_verified == 0, "no email: empty, unverified");

    verify(tok("locale_zh"), keys1, CLIENT, NULL, NOW, &res);
    CHECK_STR_EQ(res.id.locale, "zh-CN", "zh-TW -> zh-CN");
    verify(tok("locale_fr"), keys1, CLIENT, NULL, NOW, &res);
    CHECK_STR_EQ(res.id.locale, "", "fr -> none");
    verify(tok("name_long"), keys1, CLIENT, NULL, NOW, &res);
    CHECK(res.rc == AUTH_P_OK && strlen(res.id.display_name) == 99 && strncmp(res.id.display_name, "张张张", 9) == 0,
          "a 150-byte name is cut to 99 bytes at a character boundary (got %zu)", strlen(res.id.display_name));
    verify(tok("name_control"), keys1, CLIENT, NULL, NOW, &res);
    CHECK(res.rc == AUTH_P_OK && res.id.display_name[0] == '\0', "a name with a control character is dropped");

    /* What an attacker sends. */
    expect("alg_none", NULL, NOW, "alg_not_allowed");
    expect("hs256_public", NULL, NOW, "alg_not_allowed");
    expect("rs384", NULL, NOW, "alg_not_allowed");
    expect("ps256", NULL, NOW, "alg_not_allowed");
    expect("es256", NULL, NOW, "alg_not_allowed");
    expect("crit", NULL, NOW, "alg_not_allowed");
    expect("no_kid", NULL, NOW, "missing_kid");
    expect("unknown_kid", NULL, NOW, "unknown_kid");
    expect("bad_sig", NULL, NOW, "bad_signature");
    expect("tampered", NULL, NOW, "bad_signature");
    expect("too_large", NULL, NOW, "token_too_large");
}

/* Builds b64url(header).b64url(payload).sig_text. */
static char *build(const char *header, const char *payload, const char *sig)
{
    char *out = xmalloc(b64url_encoded_len(strlen(header)) + b64url_encoded_len(strlen(payload)) + strlen(sig) + 3);
    size_t o = b64url_encode(header, strlen(header), out);
    out[o++] = '.';
    o += b64url_encode(payload, strlen(payload), out + o);
    out[o++] = '.';
    strcpy(out + o, sig);
    return out;
}

static enum jwt_rc parse(const char *s)
{
    struct jwt_rs256 t;
    return jwt_rs256_parse(s, strlen(s), &t);
}

static void test_parse(void)
{
    static const struct {
        const char *header;
        enum jwt_rc want;
        const char *what;
    } hs[] = {
        {"{\"alg\":\"RS256\",\"kid\":\"k1\"}", JWT_OK, "minimal RS256 header"},
        {"{\"alg\":\"RS256\",\"kid\":\"k1\",\"typ\":\"JWT\"}", JWT_OK, "typ JWT"},
        {"{\"alg\":\"RS256\",\"kid\":\"k1\",\"typ\":\"at+jwt\"}", JWT_BAD_ALG, "other typ"},
        {"{\"alg\":\"rs256\",\"kid\":\"k1\"}", JWT_BAD_ALG, "lower-case alg"},
        {"{\"alg\":\"RS256 \",\"kid\":\"k1\"}", JWT_BAD_ALG, "alg with a blank"},
        {"{\"alg\":\"RS256\\u0000\",\"kid\":\"k1\"}", JWT_MALFORMED, "alg with a NUL (jansson refuses \\u0000)"},
        {"{\"alg\":[\"RS256\"],\"kid\":\"k1\"}", JWT_BAD_ALG, "alg array"},
        {"{\"kid\":\"k1\"}", JWT_BAD_ALG, "no alg"},
        {"{\"alg\":\"HS256\",\"kid\":\"k1\"}", JWT_BAD_ALG, "HS256"},
        {"{\"alg\":\"none\",\"kid\":\"k1\"}", JWT_BAD_ALG, "none"},
        {"{\"alg\":\"RS256\"}", JWT_NO_KID, "no kid"},
        {"{\"alg\":\"RS256\",\"kid\":7}", JWT_NO_KID, "numeric kid"},
        {"{\"alg\":\"RS256\",\"kid\":\"\"}", JWT_MALFORMED, "empty kid"},
        {"{\"alg\":\"RS256\",\"kid\":\"a b\"}", JWT_MALFORMED, "kid with a blank"},
        {"{\"alg\":\"RS256\",\"kid\":\"k1\",\"alg\":\"RS256\"}", JWT_MALFORMED, "duplicate member"},
        {"[\"RS256\"]", JWT_MALFORMED, "header not an object"},
        {"{\"alg\":\"RS256\",\"kid\":\"k1\"", JWT_MALFORMED, "header not JSON"},
    };
    char kid[200], header[300], *t;

    for (size_t i = 0; i < sizeof hs / sizeof hs[0]; i++) {
        t = build(hs[i].header, "{}", "AAAA");
        CHECK_INT_EQ(parse(t), hs[i].want, "parse: %s", hs[i].what);
        free(t);
    }
    memset(kid, 'k', JWT_KID_MAX);
    kid[JWT_KID_MAX] = '\0';
    snprintf(header, sizeof header, "{\"alg\":\"RS256\",\"kid\":\"%s\"}", kid);
    t = build(header, "{}", "AAAA");
    CHECK_INT_EQ(parse(t), JWT_OK, "parse: kid of JWT_KID_MAX characters");
    free(t);
    snprintf(header, sizeof header, "{\"alg\":\"RS256\",\"kid\":\"%sk\"}", kid);
    t = build(header, "{}", "AAAA");
    CHECK_INT_EQ(parse(t), JWT_MALFORMED, "parse: kid one longer");
    free(t);

    const char *h = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0"; /* {"alg":"RS256","kid":"k1"} */
    char buf[JWT_RS_MAX_LEN + 64];
    snprintf(buf, sizeof buf, "%s.e30", h);
    CHECK_INT_EQ(parse(buf), JWT_MALFORMED, "parse: two segments");
    snprintf(buf, sizeof buf, "%s.e30.AAAA.AAAA", h);
    CHECK_INT_EQ(parse(buf), JWT_MALFORMED, "parse: four segments");
    snprintf(buf, sizeof buf, "%s..AAAA", h);
    CHECK_INT_EQ(parse(buf), JWT_MALFORMED, "parse: empty payload");
    snprintf(buf, sizeof buf, "%s.e30.", h);
    CHECK_INT_EQ(parse(buf), JWT_MALFORMED, "parse: empty signature (alg none shape)");
    snprintf(buf, sizeof buf, "%s=.e30.AAAA", h);
    CHECK_INT_EQ(parse(buf), JWT_MALFORMED, "parse: padded header");
    snprintf(buf, sizeof buf, "%s.e30.AA+A", h);
    CHECK_INT_EQ(parse(buf), JWT_MALFORMED, "parse: standard-base64 signature");
    snprintf(buf, sizeof buf, "%s.e30.AAB", h);
    CHECK_INT_EQ(parse(buf), JWT_MALFORMED, "parse: non-canonical trailing bits");
    CHECK_INT_EQ(parse(""), JWT_MALFORMED, "parse: empty");
    CHECK_INT_EQ(jwt_rs256_parse(NULL, 0, &(struct jwt_rs256){0}), JWT_MALFORMED, "parse: NULL");

    /* Size: exactly the limit is parsed; one byte more is refused before anything else. */
    size_t o = (size_t)snprintf(buf, sizeof buf, "%s.e30.", h);
    memset(buf + o, 'A', JWT_RS_MAX_LEN - o);
    buf[JWT_RS_MAX_LEN] = '\0';
    struct jwt_rs256 t1;
    CHECK(jwt_rs256_parse(buf, JWT_RS_MAX_LEN, &t1) != JWT_TOO_LARGE, "parse: JWT_RS_MAX_LEN bytes is not too large");
    buf[JWT_RS_MAX_LEN] = 'A';
    CHECK_INT_EQ(jwt_rs256_parse(buf, JWT_RS_MAX_LEN + 1, &t1), JWT_TOO_LARGE, "parse: one byte over the limit");

    /* The RS256 verifier never accepts our HS256 access tokens, and vice versa. */
    struct jwt_rs256 tg;
    const char *good = tok("good");
    CHECK_INT_EQ(jwt_rs256_parse(good, strlen(good), &tg), JWT_OK, "parse: good token");
    CHECK_STR_EQ(tg.kid, keys1->keys[0].kid, "parse: kid read");
    CHECK_INT_EQ(tg.sig_len, 256, "parse: 2048-bit signature");
    CHECK_INT_EQ(jwt_verify_hs256(good, strlen(good), (const unsigned char *)"k", 1, NOW, 0, NULL), JWT_BAD_ALG,
                 "the HS256 verifier refuses an RS256 token");
    json_t *claims = NULL;
    CHECK_INT_EQ(jwt_rs256_verify(&tg, keys1->keys[1].key, &claims), JWT_BAD_SIG, "verify: wrong key");
    CHECK(claims == NULL, "verify: no claims on failure");
    CHECK_INT_EQ(jwt_rs256_verify(&tg, keys1->keys[0].key, &claims), JWT_OK, "verify: right key");
    CHECK(json_is_object(claims), "verify: claims returned");
    json_decref(claims);
}

static void test_claims_direct(void)
{
    static const struct {
        const char *json;
        const char *reason; /* "" = ok */
        const char *what;
    } cs[] = {
        {"{\"iss\":\"https://accounts.google.com\",\"aud\":\"" CLIENT "\",\"sub\":\"1\",\"iat\":1700000000,\"exp\":1700003600}",
         "", "minimal"},
        {"{\"iss\":\"https://accounts.google.com\",\"aud\":7,\"sub\":\"1\",\"iat\":1700000000,\"exp\":1700003600}",
         "wrong_audience", "numeric aud"},
        {"{\"iss\":\"https://accounts.google.com\",\"aud\":[],\"sub\":\"1\",\"iat\":1700000000,\"exp\":1700003600}",
         "wrong_audience", "empty aud array"},
        {"{\"iss\":\"https://accounts.google.com\",\"aud\":[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\",\"i\",\"j\",\"" CLIENT
         "\"],\"azp\":\"" CLIENT "\",\"sub\":\"1\",\"iat\":1700000000,\"exp\":1700003600}",
         "wrong_audience", "aud array of 11"},
        {"{\"iss\":\"https://accounts.google.com\",\"aud\":[\"" CLIENT "\"],\"sub\":\"1\",\"iat\":1700000000,\"exp\":1700003600}",
         "wrong_azp", "aud array without azp"},
        {"{\"iss\":\"https://accounts.google.com\",\"aud\":\"" CLIENT "\",\"sub\":\"1\",\"iat\":1700000000,\"exp\":9223372036854775807}",
         "lifetime_too_long", "exp INT64_MAX"},
        {"{\"iss\":\"https://accounts.google.com\",\"aud\":\"" CLIENT "\",\"sub\":\"1\",\"iat\":-9223372036854775808,\"exp\":1700003600}",
         "lifetime_too_long", "iat INT64_MIN"},
        {"{\"iss\":\"https://accounts.google.com\",\"aud\":\"" CLIENT "\",\"sub\":\"1\",\"iat\":1700000000,\"exp\":-9223372036854775808}",
         "expired", "exp INT64_MIN"},
        {"{\"iss\":\"https://accounts.google.com\",\"aud\":\"" CLIENT "\",\"sub\":\"a\\u00e9\",\"iat\":1700000000,\"exp\":1700003600}",
         "bad_subject", "non-ASCII sub"},
        {"{\"iss\":\"https://accounts.google.com\",\"aud\":\"" CLIENT "\",\"sub\":17,\"iat\":1700000000,\"exp\":1700003600}",
         "bad_subject", "numeric sub"},
        {"{\"iss\":\"accounts.google.com \",\"aud\":\"" CLIENT "\",\"sub\":\"1\",\"iat\":1700000000,\"exp\":1700003600}",
         "wrong_issuer", "issuer with a blank"},
        {"{\"aud\":\"" CLIENT "\",\"sub\":\"1\",\"iat\":1700000000,\"exp\":1700003600}", "wrong_issuer", "no issuer"},
        {"{\"iss\":\"https://accounts.google.com\",\"aud\":\"" CLIENT "\",\"sub\":\"1\",\"iat\":true,\"exp\":1700003600}",
         "bad_iat", "boolean iat"},
    };
    struct auth_result res;

    for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) {
        json_t *j = json_loads(cs[i].json, 0, NULL);
        google_check_claims(j, CLIENT, NULL, NOW, &res);
        if (cs[i].reason[0] == '\0')
            CHECK(j != NULL && res.rc == AUTH_P_OK, "claims: %s accepted (%s)", cs[i].what, res.reason);
        else
            CHECK(j != NULL && res.rc == AUTH_P_INVALID && strcmp(res.reason, cs[i].reason) == 0,
                  "claims: %s -> %s (got %s)", cs[i].what, cs[i].reason, res.reason);
        json_decref(j);
    }
    CHECK((google_check_claims(NULL, CLIENT, NULL, NOW, &res), res.rc == AUTH_P_INVALID), "claims: NULL refused");

    /* Identity details. */
    static const struct {
        const char *email_json, *email;
        int verified;
    } es[] = {
        {"\"Bob@Example.COM\"", "bob@example.com", 1},
        {"\"bob.example.com\"", "", 0},
        {"\"a@b@c\"", "", 0},
        {"\"@example.com\"", "", 0},
        {"\"bob@\"", "", 0},
        {"\"bob smith@example.com\"", "", 0},
        {"\"b\\u00f6b@example.com\"", "", 0},
        {"17", "", 0},
    };
    for (size_t i = 0; i < sizeof es / sizeof es[0]; i++) {
        char text[512];
        snprintf(text, sizeof text,
                 "{\"iss\":\"accounts.google.com\",\"aud\":\"" CLIENT
                 "\",\"sub\":\"1\",\"iat\":1700000000,\"exp\":1700003600,\"email\":%s,\"email_verified\":true}",
                 es[i].email_json);
        json_t *j = json_loads(text, 0, NULL);
        google_check_claims(j, CLIENT, NULL, NOW, &res);
        CHECK(j != NULL && res.rc == AUTH_P_OK && strcmp(res.id.email, es[i].email) == 0 &&
                  res.id.email_verified == es[i].verified,
              "email %s -> \"%s\" verified %d (got \"%s\" %d)", es[i].email_json, es[i].email, es[i].verified,
              res.id.email, res.id.email_verified);
        json_decref(j);
    }
    {
        char text[1024], local[300];
        memset(local, 'a', 251);
        local[251] = '\0';
        snprintf(text, sizeof text,
                 "{\"iss\":\"accounts.google.com\",\"aud\":\"" CLIENT
                 "\",\"sub\":\"1\",\"iat\":1700000000,\"exp\":1700003600,\"email\":\"%s@b.c\"}",
                 local);
        json_t *j = json_loads(text, 0, NULL);
        google_check_claims(j, CLIENT, NULL, NOW, &res);
        CHECK(res.rc == AUTH_P_OK && res.id.email[0] == '\0', "a 255-character address is dropped (limit 254)");
        json_decref(j);
    }
    static const struct {
        const char *in, *out;
    } ls[] = {{"zh", "zh-CN"}, {"zh_Hans", "zh-CN"}, {"ZH-cn", "zh-CN"}, {"EN-gb", "en-US"}, {"en", "en-US"},
              {"zhx", ""},     {"e", ""},            {"", ""},         {"eng", ""}};
    for (size_t i = 0; i < sizeof ls / sizeof ls[0]; i++) {
        json_t *j = json_pack("{s:s,s:s,s:s,s:I,s:I,s:s}", "iss", "accounts.google.com", "aud", CLIENT, "sub", "1",
                              "iat", (json_int_t)NOW, "exp", (json_int_t)NOW + 60, "locale", ls[i].in);
        google_check_claims(j, CLIENT, NULL, NOW, &res);
        CHECK_STR_EQ(res.id.locale, ls[i].out, "locale \"%s\"", ls[i].in);
        json_decref(j);
    }
    {
        char name[TG_NAME_MAX + 2];
        memset(name, 'n', TG_NAME_MAX);
        name[TG_NAME_MAX] = '\0';
        json_t *j = json_pack("{s:s,s:s,s:s,s:I,s:I,s:s}", "iss", "accounts.google.com", "aud", CLIENT, "sub", "1",
                              "iat", (json_int_t)NOW, "exp", (json_int_t)NOW + 60, "name", name);
        google_check_claims(j, CLIENT, NULL, NOW, &res);
        CHECK_INT_EQ(strlen(res.id.display_name), TG_NAME_MAX, "a name of exactly TG_NAME_MAX bytes is kept whole");
        json_decref(j);
    }
    json_t *j = json_loads(cs[0].json, 0, NULL);
    google_check_claims(j, NULL, NULL, NOW, &res);
    CHECK_STR_EQ(res.reason, "wrong_audience", "claims: no client id configured accepts nothing");
    json_decref(j);
}

/* ---- JWKS ------------------------------------------------------------------------------ */

static enum jwks_rc parse_jwks(const char *text, size_t *ignored, size_t *n)
{
    struct jwks_set *s = NULL;
    enum jwks_rc rc = jwks_parse(text, strlen(text), &s, ignored);
    if (n != NULL)
        *n = s ? s->n : 0;
    if ((rc == JWKS_OK) != (s != NULL))
        printf("# jwks_parse: set returned iff JWKS_OK broken\n");
    jwks_set_unref(s);
    return rc;
}

static void test_jwks(void)
{
    size_t ignored = 0, n = 0;
    char *text = slurp("google_jwks.json", NULL);
    json_t *doc = json_loads(text, 0, NULL);
    json_t *k1 = json_array_get(json_object_get(doc, "keys"), 0);
    char *k1s = json_dumps(k1, JSON_COMPACT);
    struct sbuf b = {0};

    CHECK_INT_EQ(parse_jwks(text, &ignored, &n), JWKS_OK, "jwks: Google-shaped set parses");
    CHECK_INT_EQ(n, 2, "jwks: two RS256 signing keys");
    CHECK_INT_EQ(ignored, 3, "jwks: EC, encryption and RS384 keys skipped");
    CHECK(jwks_find(keys1, json_string_value(json_object_get(k1, "kid"))) != NULL, "jwks: find by kid");
    CHECK(jwks_find(keys1, "ec-key") == NULL, "jwks: skipped keys are not found");
    CHECK(jwks_find(keys1, "") == NULL && jwks_find(NULL, "x") == NULL, "jwks: find misses");

    CHECK_INT_EQ(parse_jwks("", NULL, NULL), JWKS_MALFORMED, "jwks: empty");
    CHECK_INT_EQ(parse_jwks("[]", NULL, NULL), JWKS_MALFORMED, "jwks: array");
    CHECK_INT_EQ(parse_jwks("{}", NULL, NULL), JWKS_MALFORMED, "jwks: no keys member");
    CHECK_INT_EQ(parse_jwks("{\"keys\":{}}", NULL, NULL), JWKS_MALFORMED, "jwks: keys not an array");
    CHECK_INT_EQ(parse_jwks("{\"keys\":[]}", NULL, NULL), JWKS_NO_KEYS, "jwks: no keys");
    CHECK_INT_EQ(parse_jwks("{\"keys\":[1]}", NULL, NULL), JWKS_MALFORMED, "jwks: entry not an object");
    CHECK_INT_EQ(parse_jwks("{\"keys\":[],\"keys\":[]}", NULL, NULL), JWKS_MALFORMED, "jwks: duplicate member");

    /* Variations of one good key: which make it skipped. */
    static const struct {
        const char *set, *del;
        const char *val; /* JSON */
        int usable;
    } vs[] = {
        {"use", NULL, "\"sig\"", 1},   {"alg", NULL, "\"RS256\"", 1}, {NULL, "alg", NULL, 1},
        {NULL, "use", NULL, 1},        {"use", NULL, "\"enc\"", 0},   {"alg", NULL, "\"RS512\"", 0},
        {"alg", NULL, "\"none\"", 0},  {"kty", NULL, "\"EC\"", 0},    {NULL, "kty", NULL, 0},
        {NULL, "kid", NULL, 0},        {"kid", NULL, "\"a b\"", 0},   {"kid", NULL, "5", 0},
        {"e", NULL, "\"Ag\"", 0},      {"n", NULL, "\"AQAB\"", 0},    {NULL, "n", NULL, 0},
        {"n", NULL, "7", 0},           {"use", NULL, "7", 0},
    };
    for (size_t i = 0; i < sizeof vs / sizeof vs[0]; i++) {
        json_t *k = json_deep_copy(k1);
        json_t *set = json_pack("{s:[O]}", "keys", k);
        char *s;
        if (vs[i].set != NULL)
            json_object_set_new(k, vs[i].set, json_loads(vs[i].val, JSON_DECODE_ANY, NULL));
        if (vs[i].del != NULL)
            json_object_del(k, vs[i].del);
        s = json_dumps(set, JSON_COMPACT);
        CHECK_INT_EQ(parse_jwks(s, NULL, NULL), vs[i].usable ? JWKS_OK : JWKS_NO_KEYS, "jwks: key with %s%s %s",
                     vs[i].set ? "" : "no ", vs[i].set ? vs[i].set : vs[i].del, vs[i].val ? vs[i].val : "");
        free(s);
        json_decref(set);
        json_decref(k);
    }

    /* Two usable keys with one kid: ambiguous. */
    sbuf_printf(&b, "{\"keys\":[%s,%s]}", k1s, k1s);
    CHECK_INT_EQ(parse_jwks(b.data, NULL, NULL), JWKS_MALFORMED, "jwks: duplicate kid refused");
    /* 20 entries (2 usable + 18 skipped) pass, 21 are refused. */
    sbuf_reset(&b);
    sbuf_printf(&b, "{\"keys\":[%s", k1s);
    for (int i = 1; i < JWKS_MAX_KEYS; i++)
        sbuf_puts(&b, ",{\"kty\":\"oct\"}");
    sbuf_puts(&b, "]}");
    CHECK_INT_EQ(parse_jwks(b.data, &ignored, &n), JWKS_OK, "jwks: JWKS_MAX_KEYS entries");
    CHECK(n == 1 && ignored == JWKS_MAX_KEYS - 1, "jwks: 1 usable, %d skipped", JWKS_MAX_KEYS - 1);
    b.len -= 2;
    sbuf_puts(&b, ",{\"kty\":\"oct\"}]}");
    CHECK_INT_EQ(parse_jwks(b.data, NULL, NULL), JWKS_TOO_LARGE, "jwks: one entry too many");
    /* Size bound. */
    sbuf_reset(&b);
    sbuf_printf(&b, "{\"keys\":[%s],\"pad\":\"", k1s);
    while (b.len < JWKS_MAX_BYTES - 2)
        sbuf_puts(&b, "x");
    sbuf_puts(&b, "\"}");
    CHECK_INT_EQ(parse_jwks(b.data, NULL, NULL), JWKS_OK, "jwks: exactly JWKS_MAX_BYTES");
    b.len -= 2;
    sbuf_puts(&b, "x\"}");
    CHECK_INT_EQ(parse_jwks(b.data, NULL, NULL), JWKS_TOO_LARGE, "jwks: one byte over");
    {
        struct jwks_set *s = (struct jwks_set *)1;
        CHECK(jwks_parse(NULL, 0, &s, NULL) == JWKS_MALFORMED && s == NULL, "jwks: NULL body");
    }

    sbuf_free(&b);
    free(k1s);
    json_decref(doc);
    free(text);
}

/* ---- Cache-Control ------------------------------------------------------------------------ */

static void test_cache_control(void)
{
    static const struct {
        const char *v;
        int64_t ttl;
    } cs[] = {
        {"public, max-age=19845, must-revalidate, no-transform", 19845},
        {"max-age=120", 120},
        {"MAX-AGE=120", 120},
        {"Max-Age=\"120\"", 120},
        {"max-age=30", JWKS_TTL_MIN_S},
        {"max-age=0", JWKS_TTL_MIN_S},
        {"max-age=100000", JWKS_TTL_MAX_S},
        {"max-age=99999999999999999999999999", JWKS_TTL_MAX_S},
        {"", JWKS_TTL_MIN_S},
        {"public", JWKS_TTL_MIN_S},
        {"no-store", JWKS_TTL_MIN_S},
        {"no-cache, max-age=3600", JWKS_TTL_MIN_S},
        {"max-age=3600, NO-STORE", JWKS_TTL_MIN_S},
        {"no-cache=\"set-cookie\", max-age=500", JWKS_TTL_MIN_S},
        {"max-age=600, max-age=1200", JWKS_TTL_MIN_S},
        {"max-age=abc", JWKS_TTL_MIN_S},
        {"max-age=", JWKS_TTL_MIN_S},
        {"max-age", JWKS_TTL_MIN_S},
        {"max-age = 600", JWKS_TTL_MIN_S},
        {"max-age=-1", JWKS_TTL_MIN_S},
        {"max-age=600;", JWKS_TTL_MIN_S},
        {"max-age=6e2", JWKS_TTL_MIN_S},
        {"max-age=\"600", JWKS_TTL_MIN_S},
        {"private=\"a, max-age=5\", max-age=300", 300},
        {"private=\"a\\\"b, max-age=5\", max-age=300", 300},
        {",, max-age=300 ,,", 300},
        {" \tmax-age=300\t ", 300},
        {"s-maxage=10, max-age=500", 500},
        {"public,max-age=86400", 86400},
        {"public,max-age=86401", 86400},
        {"x=\"\x01\", max-age=500", JWKS_TTL_MIN_S},
    };
    struct cache_control cc;

    for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++)
        CHECK_INT_EQ(jwks_ttl_s(cs[i].v), cs[i].ttl, "ttl of \"%s\"", cs[i].v);
    CHECK_INT_EQ(jwks_ttl_s(NULL), JWKS_TTL_MIN_S, "ttl without the header");

    CHECK_INT_EQ(cache_control_parse("max-age=60, no-cache", 20, &cc), 0, "parse ok");
    CHECK(cc.max_age == 60 && cc.n_max_age == 1 && cc.no_cache == 1 && cc.no_store == 0, "parsed fields");
    CHECK_INT_EQ(cache_control_parse("max-age=60 x", 12, &cc), -1, "junk after a directive");
    CHECK(cc.max_age == -1 && cc.n_max_age == 0, "fields reset on failure");
    CHECK_INT_EQ(cache_control_parse("max-age=99999999999", 19, &cc), 0, "huge max-age parses");
    CHECK_INT_EQ(cc.max_age, 2147483647, "and saturates at 2^31 - 1");
    CHECK_INT_EQ(cache_control_parse("max-age=60", 6, &cc), 0, "the length is respected (\"max-ag\")");
    CHECK_INT_EQ(cc.n_max_age, 0, "\"max-ag\" is another directive");
}

/* ---- the cache policy --------------------------------------------------------------------- */

static struct jwks_set *copy_set(void)
{
    char *text = slurp("google_jwks.json", NULL);
    struct jwks_set *s = NULL;
    jwks_parse(text, strlen(text), &s, NULL);
    free(text);
    return s;
}

static void test_cache_policy(void)
{
    struct jwks_cache c = JWKS_CACHE_INIT;
    struct jwks_set *a = copy_set(), *b = copy_set(), *old = copy_set(), *got = NULL;
    const int64_t t0 = NOW * 1000;

    CHECK_INT_EQ(jwks_cache_begin(&c, t0, &got), JWKS_FETCH, "cache: empty -> fetch");
    CHECK(got == NULL, "cache: nothing to fall back on");

    jwks_cache_install(&c, a, t0, 100);
    CHECK_INT_EQ(a->expires_ms, t0 + 100000, "cache: expiry from the ttl");
    CHECK_INT_EQ(jwks_cache_begin(&c, t0 + 1, &got), JWKS_USE, "cache: fresh -> use");
    CHECK(got == a, "cache: the installed set");
    jwks_set_unref(got);
    CHECK_INT_EQ(jwks_cache_begin(&c, t0 + 99999, &got), JWKS_USE, "cache: last fresh millisecond");
    jwks_set_unref(got);

    /* Stale within the grace: one caller refreshes, the others use the stale set. */
    CHECK_INT_EQ(jwks_cache_begin(&c, t0 + 100000, &got), JWKS_FETCH, "cache: stale -> the first caller fetches");
    CHECK(got == a, "cache: with the stale set as fallback");
    CHECK(jwks_set_usable(got, t0 + 100000), "cache: stale set usable within the grace");
    jwks_set_unref(got);
    CHECK_INT_EQ(jwks_cache_begin(&c, t0 + 100001, &got), JWKS_USE, "cache: others use the stale set meanwhile");
    jwks_set_unref(got);
    CHECK_INT_EQ(jwks_cache_begin(&c, t0 + 100000 + JWKS_REFRESH_CLAIM_MS - 1, &got), JWKS_USE,
                 "cache: claim holds for JWKS_REFRESH_CLAIM_MS");
    jwks_set_unref(got);
    CHECK_INT_EQ(jwks_cache_begin(&c, t0 + 100000 + JWKS_REFRESH_CLAIM_MS, &got), JWKS_FETCH,
                 "cache: a claim that never reported back lapses (a failed refresh retried after 30 s)");
    jwks_set_unref(got);

    /* A newer set replaces it and ends the claim; an older one never replaces a newer. */
    jwks_cache_install(&c, b, t0 + 200000, 3600);
    CHECK_INT_EQ(jwks_cache_begin(&c, t0 + 200001, &got), JWKS_USE, "cache: new set fresh");
    CHECK(got == b, "cache: new set in use");
    jwks_set_unref(got);
    CHECK_INT_EQ(c.refresh_claimed_ms, 0, "cache: install ends the claim");
    jwks_cache_install(&c, old, t0 + 150000, 3600);
    CHECK_INT_EQ(jwks_cache_begin(&c, t0 + 200002, &got), JWKS_USE, "cache: late older fetch");
    CHECK(got == b, "cache: an older fetch finishing late does not replace a newer set");
    jwks_set_unref(got);

    /* Past the grace: not usable at all. */
    int64_t past = b->expires_ms + JWKS_STALE_GRACE_MS;
    CHECK(!jwks_set_usable(b, past), "cache: not usable past the grace");
    CHECK(jwks_set_usable(b, past - 1), "cache: usable until the last millisecond of the grace");
    CHECK_INT_EQ(jwks_cache_begin(&c, past, &got), JWKS_FETCH, "cache: past the grace -> fetch");
    CHECK(got == NULL, "cache: no fallback past the grace");
    CHECK_INT_EQ(jwks_cache_begin(&c, past, &got), JWKS_FETCH, "cache: every caller fetches when nothing is usable");

    /* Unknown kid: one fetch per 30 s, process-wide. */
    int64_t u = t0 + 500000;
    CHECK_INT_EQ(jwks_cache_claim_unknown_kid(&c, u), 1, "unknown kid: first fetch allowed");
    CHECK_INT_EQ(jwks_cache_claim_unknown_kid(&c, u), 0, "unknown kid: a second one at once refused");
    CHECK_INT_EQ(jwks_cache_claim_unknown_kid(&c, u + JWKS_UNKNOWN_KID_INTERVAL_MS - 1), 0,
                 "unknown kid: refused until the interval passed");
    CHECK_INT_EQ(jwks_cache_claim_unknown_kid(&c, u + JWKS_UNKNOWN_KID_INTERVAL_MS), 1,
                 "unknown kid: allowed again after JWKS_UNKNOWN_KID_INTERVAL_MS");
    CHECK_INT_EQ(jwks_cache_claim_unknown_kid(&c, u), 1, "unknown kid: a clock that went back does not lock us out");
    int allowed = 0;
    struct jwks_cache fresh = JWKS_CACHE_INIT;
    for (int64_t t = u; t < u + 10 * 60 * 1000; t += 100)
        allowed += jwks_cache_claim_unknown_kid(&fresh, t);
    CHECK_INT_EQ(allowed, 20, "unknown kid: 6000 forged kids over 10 minutes cause 20 fetches");

    /* A set outlives the cache's reference while a caller holds one (ASan checks). */
    jwks_cache_begin(&c, past - JWKS_STALE_GRACE_MS - 1, &got);
    jwks_cache_clear(&c);
    CHECK(got == b && jwks_find(got, b->keys[0].kid) != NULL, "cache: a held set survives clear");
    jwks_set_unref(got);

    jwks_set_unref(a);
    jwks_set_unref(b);
    jwks_set_unref(old);
}

/* Threads verify with whatever set is current while others install new ones. */
static struct jwks_cache stress_cache = JWKS_CACHE_INIT;
static struct jwks_set *stress_sets[4];

static void *stress_thread(void *arg)
{
    long id = (long)arg;
    int ok = 1;
    for (int i = 0; i < 2000; i++) {
        struct jwks_set *s = NULL;
        int64_t now = NOW * 1000 + i;
        if (i % 50 == (int)id) {
            jwks_cache_install(&stress_cache, stress_sets[(i / 50) % 4], now, 60);
            continue;
        }
        jwks_cache_begin(&stress_cache, now, &s);
        if (s != NULL && (s->n != 2 || jwks_find(s, s->keys[1].kid) == NULL))
            ok = 0;
        jwks_set_unref(s);
    }
    return (void *)(long)ok;
}

static void test_cache_threads(void)
{
    pthread_t th[4];
    int ok = 1;
    for (int i = 0; i < 4; i++)
        stress_sets[i] = copy_set();
    for (long i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, stress_thread, (void *)i);
    for (int i = 0; i < 4; i++) {
        void *r;
        pthread_join(th[i], &r);
        ok &= (int)(long)r;
    }
    CHECK(ok, "cache: 4 threads reading and installing concurrently see whole sets");
    jwks_cache_clear(&stress_cache);
    for (int i = 0; i < 4; i++) {
        CHECK_INT_EQ(atomic_load(&stress_sets[i]->refs), 1, "cache: set %d back to one reference", i);
        jwks_set_unref(stress_sets[i]);
    }
}

/* ---- URLs, forms and the token endpoint ---------------------------------------------- */

static void test_wire(void)
{
    struct auth_flow f = {
        .redirect_uri = "http://127.0.0.1:8080/api/v1/auth/oauth/google/callback",
        .state = "st/1+2=3",
        .code_challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        .nonce = "n 1",
    };
    char *u = google_authorize_url_build("https://accounts.google.com/o/oauth2/v2/auth", "cid.apps.googleusercontent.com", &f);
    CHECK_STR_EQ(u,
                 "https://accounts.google.com/o/oauth2/v2/auth?client_id=cid.apps.googleusercontent.com"
                 "&redirect_uri=http%3A%2F%2F127.0.0.1%3A8080%2Fapi%2Fv1%2Fauth%2Foauth%2Fgoogle%2Fcallback"
                 "&response_type=code&scope=openid%20email%20profile&state=st%2F1%2B2%3D3&nonce=n%201"
                 "&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256",
                 "authorize URL, every value percent-encoded");
    free(u);
    f.nonce = NULL;
    f.code_challenge = NULL;
    u = google_authorize_url_build("https://idp.test/auth?hd=example.com", "c", &f);
    CHECK_STR_EQ(u,
                 "https://idp.test/auth?hd=example.com&client_id=c&redirect_uri=http%3A%2F%2F127.0.0.1%3A8080%2Fapi%2Fv1%2F"
                 "auth%2Foauth%2Fgoogle%2Fcallback&response_type=code&scope=openid%20email%20profile&state=st%2F1%2B2%3D3",
                 "authorize URL on a base with a query, without nonce and PKCE");
    free(u);

    char *form = google_token_form("4/0Ab&c", "cid", "GOCSPX-s=cr+t", "http://x.test/cb", "v~v.v_v-v");
    CHECK_STR_EQ(form,
                 "code=4%2F0Ab%26c&client_id=cid&client_secret=GOCSPX-s%3Dcr%2Bt&redirect_uri=http%3A%2F%2Fx.test%2Fcb"
                 "&grant_type=authorization_code&code_verifier=v~v.v_v-v",
                 "token form");
    free(form);
    form = google_token_form("c", "i", "s", "r", NULL);
    CHECK_STR_EQ(form, "code=c&client_id=i&client_secret=s&redirect_uri=r&grant_type=authorization_code",
                 "token form without a verifier");
    free(form);

    static const struct {
        int err;
        long status;
        const char *body;
        enum auth_prc rc;
        const char *reason;
    } rs[] = {
        {NET_OK, 200, "{\"access_token\":\"ya29.x\",\"expires_in\":3599,\"token_type\":\"Bearer\",\"id_token\":\"aa.bb.cc\"}",
         AUTH_P_OK, ""},
        {NET_OK, 200, "{\"access_token\":\"ya29.x\"}", AUTH_P_UNAVAILABLE, "bad_token_response"},
        {NET_OK, 200, "{\"id_token\":\"\"}", AUTH_P_UNAVAILABLE, "bad_token_response"},
        {NET_OK, 200, "{\"id_token\":\"a b.c\"}", AUTH_P_UNAVAILABLE, "bad_token_response"},
        {NET_OK, 200, "{\"id_token\":7}", AUTH_P_UNAVAILABLE, "bad_token_response"},
        {NET_OK, 200, "<html>", AUTH_P_UNAVAILABLE, "bad_token_response"},
        {NET_OK, 200, NULL, AUTH_P_UNAVAILABLE, "bad_token_response"},
        {NET_OK, 400, "{\"error\":\"invalid_grant\",\"error_description\":\"Bad Request\"}", AUTH_P_INVALID, "invalid_grant"},
        {NET_OK, 400, "{\"error\":\"invalid_request\"}", AUTH_P_INVALID, "invalid_request"},
        {NET_OK, 401, "{\"error\":\"invalid_client\",\"error_description\":\"Unauthorized\"}", AUTH_P_MISCONFIGURED,
         "invalid_client"},
        {NET_OK, 400, "{\"error\":\"unauthorized_client\"}", AUTH_P_MISCONFIGURED, "unauthorized_client"},
        {NET_OK, 400, "{\"error\":\"redirect_uri_mismatch\"}", AUTH_P_MISCONFIGURED, "redirect_uri_mismatch"},
        {NET_OK, 400, "{\"error\":\"unsupported_grant_type\"}", AUTH_P_MISCONFIGURED, "unsupported_grant_type"},
        {NET_OK, 400, "{\"error\":\"Bad Thing!\"}", AUTH_P_INVALID, "http_400"},
        {NET_OK, 403, "<html>denied</html>", AUTH_P_INVALID, "http_403"},
        {NET_OK, 429, "{}", AUTH_P_UNAVAILABLE, "http_429"},
        {NET_OK, 500, "{\"error\":\"internal_failure\"}", AUTH_P_UNAVAILABLE, "http_500"},
        {NET_OK, 503, "<html>", AUTH_P_UNAVAILABLE, "http_503"},
        {NET_OK, 302, "", AUTH_P_UNAVAILABLE, "http_302"},
        {NET_TIMEOUT, 0, NULL, AUTH_P_UNAVAILABLE, "timeout"},
        {NET_CONNECT, 0, NULL, AUTH_P_UNAVAILABLE, "connect"},
        {NET_TLS, 0, NULL, AUTH_P_UNAVAILABLE, "tls"},
        {NET_TOO_LARGE, 200, NULL, AUTH_P_UNAVAILABLE, "too_large"},
        {NET_ERROR, 0, NULL, AUTH_P_UNAVAILABLE, "error"},
        {NET_SHUTDOWN, 0, NULL, AUTH_P_UNAVAILABLE, "shutdown"},
    };
    for (size_t i = 0; i < sizeof rs / sizeof rs[0]; i++) {
        struct auth_result res;
        size_t id_len = 99;
        char *id = google_token_response(rs[i].err, rs[i].status, rs[i].body, rs[i].body ? strlen(rs[i].body) : 0,
                                         &id_len, &res);
        CHECK(res.rc == rs[i].rc && strcmp(res.reason, rs[i].reason) == 0 && (id != NULL) == (rs[i].rc == AUTH_P_OK),
              "token answer %d/%ld %s -> %d %s (got %d %s)", rs[i].err, rs[i].status, rs[i].body ? rs[i].body : "-",
              (int)rs[i].rc, rs[i].reason, (int)res.rc, res.reason);
        if (id != NULL)
            CHECK(strcmp(id, "aa.bb.cc") == 0 && id_len == 8, "id_token returned");
        free(id);
    }
}

int main(void)
{
    char *text;

    tokens_text = slurp("google_tokens.txt", NULL);
    text = slurp("google_jwks.json", NULL);
    if (jwks_parse(text, strlen(text), &keys1, NULL) != JWKS_OK)
        printf("Bail out! google_jwks.json does not parse\n");
    free(text);
    text = slurp("google_jwks_rotated.json", NULL);
    if (jwks_parse(text, strlen(text), &keys_rotated, NULL) != JWKS_OK)
        printf("Bail out! google_jwks_rotated.json does not parse\n");
    free(text);
    if (keys1 == NULL || keys_rotated == NULL)
        return 1;

    test_tokens();
    test_parse();
    test_claims_direct();
    test_jwks();
    test_cache_control();
    test_cache_policy();
    test_cache_threads();
    test_wire();

    jwks_set_unref(keys1);
    jwks_set_unref(keys_rotated);
    free(tokens_text);
    return test_done();
}
