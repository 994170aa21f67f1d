/* Unit tests for src/crypto/jwt.c: RFC 7515 A.1 / RFC 7519 3.1 vectors and the rejection
 * rules (alg confusion, tampering, structure, claims). */
#include "../test.h"

#include <stdlib.h>

#include "crypto/encode.h"
#include "crypto/hash.h"
#include "crypto/jwt.h"
#include "crypto/random.h"

/* RFC 7515 appendix A.1: the JWK "k" of the HS256 example. */
static const char rfc_k[] = "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";
/* The exact protected header and payload octets of A.1 (with CRLF line breaks). */
static const char rfc_header[] = "{\"typ\":\"JWT\",\r\n \"alg\":\"HS256\"}";
static const char rfc_payload[] = "{\"iss\":\"joe\",\r\n \"exp\":1300819380,\r\n \"http://example.com/is_root\":true}";
static const char rfc_sig[] = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
/* RFC 7519 section 3.1: the example JWT (the same JWS). */
static const char rfc7519_token[] =
    "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9"
    ".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
    ".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
#define RFC_EXP 1300819380

static unsigned char key[64];
static size_t keylen;

static const unsigned char key2[] = "another key, not the right one";

#define NOW 1700000000LL
#define SKEW 60

/*
 * Builds b64url(header) "." b64url(payload) "." sig into out, where sig is the given text,
 * or (sig == NULL) the correct HMAC-SHA256 under k. Returns out.
 */
static char *build(char *out, const char *header, const char *payload, const unsigned char *k, size_t klen,
                   const char *sig)
{
    size_t o = b64url_encode(header, strlen(header), out);
    out[o++] = '.';
    o += b64url_encode(payload, strlen(payload), out + o);
    if (sig == NULL) {
        unsigned char mac[32];
        hmac_sha256(k, klen, out, o, mac);
        out[o++] = '.';
        b64url_encode(mac, 32, out + o);
    } else {
        out[o++] = '.';
        strcpy(out + o, sig);
    }
    return out;
}

static enum jwt_rc verify(const char *tok, json_t **claims)
{
    return jwt_verify_hs256(tok, strlen(tok), key, keylen, NOW, SKEW, claims);
}

/* Verifies tok and checks both the result code and that claims are NULL unless JWT_OK. */
static void expect(const char *tok, enum jwt_rc want, const char *what)
{
    json_t *claims = (json_t *)&claims; /* poison: must be overwritten */
    enum jwt_rc got = verify(tok, &claims);
    CHECK(got == want && (got == JWT_OK) == (claims != NULL), "%s -> %s (got %s)", what, jwt_rc_name(want),
          jwt_rc_name(got));
    if (got == JWT_OK)
        json_decref(claims);
}

static const char *good_payload = "{\"sub\":\"usr_1\",\"exp\":1700000900,\"iat\":1700000000}";
static const char *hs256 = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";

static void test_rfc7515(void)
{
    unsigned char mac[32];
    char tok[1024], sig[64];
    json_t *claims = NULL;
    enum jwt_rc rc;

    /* Signing input built from the exact RFC octets must give the RFC's signature. */
    build(tok, rfc_header, rfc_payload, key, keylen, NULL);
    CHECK_STR_EQ(tok, rfc7519_token, "RFC 7515 A.1: encoded header, payload and HS256 signature");
    hmac_sha256(key, keylen, rfc7519_token, strlen(rfc7519_token) - 44, mac);
    b64url_encode(mac, 32, sig);
    CHECK_STR_EQ(sig, rfc_sig, "RFC 7515 A.1: signature value");

    rc = jwt_verify_hs256(rfc7519_token, strlen(rfc7519_token), key, keylen, RFC_EXP - 1, 0, &claims);
    CHECK(rc == JWT_OK, "RFC 7519 3.1 token verifies before exp (%s)", jwt_rc_name(rc));
    CHECK_STR_EQ(json_string_value(json_object_get(claims, "iss")), "joe", "RFC 7519 3.1: iss is joe");
    CHECK(json_is_true(json_object_get(claims, "http://example.com/is_root")), "RFC 7519 3.1: is_root is true");
    json_decref(claims);

    rc = jwt_verify_hs256(rfc7519_token, strlen(rfc7519_token), key, keylen, RFC_EXP, 0, &claims);
    CHECK(rc == JWT_EXPIRED && claims == NULL, "RFC 7519 3.1 token is expired at exp (%s)", jwt_rc_name(rc));
    rc = jwt_verify_hs256(rfc7519_token, strlen(rfc7519_token), key, keylen, RFC_EXP + 3600, 3600, &claims);
    CHECK(rc == JWT_EXPIRED, "skew does not extend exp");
    rc = jwt_verify_hs256(rfc7519_token, strlen(rfc7519_token), key2, sizeof key2 - 1, RFC_EXP - 1, 0, &claims);
    CHECK(rc == JWT_BAD_SIG && claims == NULL, "RFC 7519 3.1 token with another key is BAD_SIG");
}

static void test_alg(void)
{
    char tok[1024];

    expect(build(tok, "{\"alg\":\"none\"}", good_payload, key, keylen, ""), JWT_MALFORMED,
           "alg none, unsigned (empty third part)");
    expect(build(tok, "{\"alg\":\"none\"}", good_payload, key, keylen, "c2lnbmF0dXJl"), JWT_BAD_ALG,
           "alg none with a bogus signature");
    expect(build(tok, "{\"alg\":\"none\",\"typ\":\"JWT\"}", good_payload, key, keylen, NULL), JWT_BAD_ALG,
           "alg none with a valid HMAC signature");
    expect(build(tok, "{\"alg\":\"HS512\",\"typ\":\"JWT\"}", good_payload, key, keylen, NULL), JWT_BAD_ALG,
           "alg HS512");
    expect(build(tok, "{\"alg\":\"RS256\"}", good_payload, key, keylen, NULL), JWT_BAD_ALG, "alg RS256");
    expect(build(tok, "{\"alg\":\"hs256\"}", good_payload, key, keylen, NULL), JWT_BAD_ALG, "alg in lower case");
    expect(build(tok, "{\"alg\":\"HS256 \"}", good_payload, key, keylen, NULL), JWT_BAD_ALG, "alg with a space");
    expect(build(tok, "{\"alg\":256}", good_payload, key, keylen, NULL), JWT_BAD_ALG, "alg not a string");
    expect(build(tok, "{\"typ\":\"JWT\"}", good_payload, key, keylen, NULL), JWT_BAD_ALG, "alg missing");
    expect(build(tok, "{}", good_payload, key, keylen, NULL), JWT_BAD_ALG, "empty header");
    expect(build(tok, "{\"alg\":\"HS256\",\"typ\":\"jwt+x\"}", good_payload, key, keylen, NULL), JWT_BAD_ALG,
           "typ other than JWT");
    expect(build(tok, "{\"alg\":\"HS256\",\"typ\":1}", good_payload, key, keylen, NULL), JWT_BAD_ALG,
           "typ not a string");
    expect(build(tok, "{\"alg\":\"HS256\",\"crit\":[\"exp\"]}", good_payload, key, keylen, NULL), JWT_BAD_ALG,
           "crit header");
    expect(build(tok, "{\"alg\":\"HS256\"}", good_payload, key, keylen, NULL), JWT_OK, "typ absent is fine");
    expect(build(tok, "{\"kid\":\"k1\",\"alg\":\"HS256\",\"typ\":\"JWT\"}", good_payload, key, keylen, NULL),
           JWT_OK, "other header members are fine");
    expect(build(tok, "{\"alg\":\"HS256\",\"alg\":\"none\"}", good_payload, key, keylen, NULL), JWT_MALFORMED,
           "duplicate alg in header");
    expect(build(tok, "{\"alg\":\"none\",\"alg\":\"HS256\"}", good_payload, key, keylen, NULL), JWT_MALFORMED,
           "duplicate alg in header, HS256 last");
    expect(build(tok, "[\"HS256\"]", good_payload, key, keylen, NULL), JWT_MALFORMED, "header is an array");
    expect(build(tok, "\"HS256\"", good_payload, key, keylen, NULL), JWT_MALFORMED, "header is a string");
    expect(build(tok, "{\"alg\":\"HS256\"", good_payload, key, keylen, NULL), JWT_MALFORMED, "header truncated JSON");
    expect(build(tok, "{\"alg\":\"HS256\"} x", good_payload, key, keylen, NULL), JWT_MALFORMED,
           "header with trailing garbage");
}

static void test_structure(void)
{
    char tok[8192], tmp[8192];
    size_t n;
    char *dot;

    build(tok, hs256, good_payload, key, keylen, NULL);
    expect(tok, JWT_OK, "well-formed token");

    /* Tampering */
    strcpy(tmp, tok);
    dot = strchr(tmp, '.');
    dot[1] = dot[1] == 'e' ? 'f' : 'e';
    expect(tmp, JWT_BAD_SIG, "tampered payload");
    strcpy(tmp, tok);
    dot = strrchr(tmp, '.');
    dot[1] = dot[1] == 'A' ? 'B' : 'A';
    expect(tmp, JWT_BAD_SIG, "tampered signature");
    strcpy(tmp, tok);
    n = strlen(tmp);
    tmp[n - 1] = tmp[n - 1] == 'A' ? 'E' : 'A'; /* keeps the 2 unused bits zero */
    expect(tmp, JWT_BAD_SIG, "tampered last signature character");
    strcpy(tmp, tok);
    tmp[strlen(tmp) - 1] ^= 0x01; /* most likely sets an unused bit or leaves the alphabet */
    {
        json_t *c = NULL;
        enum jwt_rc rc = verify(tmp, &c);
        CHECK(rc == JWT_BAD_SIG || rc == JWT_MALFORMED, "flipped low bit of the signature is rejected (%s)",
              jwt_rc_name(rc));
    }
    strcpy(tmp, tok);
    tmp[strlen(tmp) - 2] = '\0';
    expect(tmp, JWT_MALFORMED, "signature cut to an impossible base64 length");
    build(tmp, hs256, good_payload, key, keylen, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    expect(tmp, JWT_BAD_SIG, "31-byte signature");
    build(tmp, hs256, good_payload, key, keylen, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    expect(tmp, JWT_BAD_SIG, "all-zero signature");
    build(tmp, hs256, good_payload, key, keylen, "dBjftJeZ4CVP+mB92K27uhbUJU1p1r/wW1gFWFOEjXk");
    expect(tmp, JWT_MALFORMED, "signature in standard base64");
    build(tmp, hs256, "not json", key, keylen, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    expect(tmp, JWT_BAD_SIG, "bad signature is reported before the (invalid) payload is looked at");
    CHECK(jwt_verify_hs256(tok, strlen(tok), key2, sizeof key2 - 1, NOW, SKEW, NULL) == JWT_BAD_SIG,
          "wrong key");
    CHECK(jwt_verify_hs256(tok, strlen(tok), key, keylen - 1, NOW, SKEW, NULL) == JWT_BAD_SIG,
          "key one byte short");

    /* Shape */
    snprintf(tmp, sizeof tmp, "%s.", tok);
    expect(tmp, JWT_MALFORMED, "trailing dot");
    snprintf(tmp, sizeof tmp, "%s.%s", tok, strrchr(tok, '.') + 1);
    expect(tmp, JWT_MALFORMED, "four parts");
    snprintf(tmp, sizeof tmp, ".%s", tok);
    expect(tmp, JWT_MALFORMED, "leading dot");
    strcpy(tmp, tok);
    *strchr(tmp, '.') = '\0';
    expect(tmp, JWT_MALFORMED, "one part");
    strcpy(tmp, tok);
    *strrchr(tmp, '.') = '\0';
    expect(tmp, JWT_MALFORMED, "two parts");
    snprintf(tmp, sizeof tmp, "%.*s..%s", (int)(strchr(tok, '.') - tok), tok, strrchr(tok, '.') + 1);
    expect(tmp, JWT_MALFORMED, "empty payload part");
    expect("..", JWT_MALFORMED, "only dots");
    expect("", JWT_MALFORMED, "empty token");
    CHECK(jwt_verify_hs256(NULL, 0, key, keylen, NOW, SKEW, NULL) == JWT_MALFORMED, "NULL token");
    {
        /* Correctly signed, so the strict payload decoding is what rejects it. */
        unsigned char mac[32];
        n = (size_t)snprintf(tmp, sizeof tmp, "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.e30=");
        hmac_sha256(key, keylen, tmp, n, mac);
        tmp[n++] = '.';
        b64url_encode(mac, 32, tmp + n);
        expect(tmp, JWT_MALFORMED, "padded payload part with a valid signature");
    }
    expect("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.e30=.AAAA", JWT_BAD_SIG,
           "padded payload part with a bad signature: the payload is not looked at");
    expect("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9=.e30.AAAA", JWT_MALFORMED, "padded header part");
    snprintf(tmp, sizeof tmp, " %s", tok);
    expect(tmp, JWT_MALFORMED, "leading space");
    snprintf(tmp, sizeof tmp, "%s\n", tok);
    expect(tmp, JWT_MALFORMED, "trailing newline");

    /* Length: not NUL-terminated input is fine, the limit is enforced. */
    memcpy(tmp, tok, strlen(tok));
    memcpy(tmp + strlen(tok), "garbage", 8);
    CHECK(jwt_verify_hs256(tmp, strlen(tok), key, keylen, NOW, SKEW, NULL) == JWT_OK,
          "token given by length, followed by other bytes");
    memset(tmp, 'A', JWT_MAX_LEN + 1);
    tmp[10] = '.';
    tmp[20] = '.';
    CHECK(jwt_verify_hs256(tmp, JWT_MAX_LEN + 1, key, keylen, NOW, SKEW, NULL) == JWT_MALFORMED,
          "oversized token");
    {
        /* A valid token of exactly JWT_MAX_LEN bytes passes; one byte more does not. */
        json_t *c = json_pack("{s:s, s:I}", "pad", "", "exp", (json_int_t)(NOW + 60));
        char *t = jwt_sign_hs256(c, key, keylen);
        size_t base = strlen(t), padlen;
        char *pad, *big;
        free(t);
        /* each 3 payload bytes add 4 characters; base is the token with an empty "pad" */
        padlen = (JWT_MAX_LEN - base) / 4 * 3;
        pad = calloc(1, padlen + 4);
        memset(pad, 'x', padlen);
        json_object_set_new(c, "pad", json_string(pad));
        big = jwt_sign_hs256(c, key, keylen);
        CHECK(big != NULL && strlen(big) <= JWT_MAX_LEN && strlen(big) > JWT_MAX_LEN - 4,
              "signed a token just under the limit (%zu bytes)", big ? strlen(big) : 0);
        if (big)
            expect(big, JWT_OK, "token just under JWT_MAX_LEN verifies");
        free(big);
        memset(pad, 'x', padlen + 3);
        json_object_set_new(c, "pad", json_string(pad));
        big = jwt_sign_hs256(c, key, keylen);
        CHECK(big == NULL, "signing refuses a token over JWT_MAX_LEN");
        free(big);
        free(pad);
        json_decref(c);
    }
}

static void test_payload(void)
{
    char tok[2048];

    expect(build(tok, hs256, "[1,2]", key, keylen, NULL), JWT_MALFORMED, "payload is an array");
    expect(build(tok, hs256, "42", key, keylen, NULL), JWT_MALFORMED, "payload is a number");
    expect(build(tok, hs256, "\"exp\"", key, keylen, NULL), JWT_MALFORMED, "payload is a string");
    expect(build(tok, hs256, "{\"exp\":1700000900", key, keylen, NULL), JWT_MALFORMED, "payload truncated JSON");
    expect(build(tok, hs256, "{\"exp\":1700000900}{}", key, keylen, NULL), JWT_MALFORMED,
           "payload with trailing JSON");
    expect(build(tok, hs256, "{\"exp\":1700000900,\"exp\":1}", key, keylen, NULL), JWT_MALFORMED,
           "duplicate exp");
    expect(build(tok, hs256, "{\"sub\":\"a\",\"exp\":1700000900,\"sub\":\"b\"}", key, keylen, NULL), JWT_MALFORMED,
           "duplicate sub");
    expect(build(tok, hs256, "{\"sub\":\"a\\u0000b\",\"exp\":1700000900}", key, keylen, NULL), JWT_MALFORMED,
           "NUL inside a claim string");
    expect(build(tok, hs256, "{\"exp\":99999999999999999999999}", key, keylen, NULL), JWT_MALFORMED,
           "exp too big for an integer");

    expect(build(tok, hs256, "{\"sub\":\"a\"}", key, keylen, NULL), JWT_EXPIRED, "exp missing");
    expect(build(tok, hs256, "{\"exp\":\"1700000900\"}", key, keylen, NULL), JWT_EXPIRED, "exp as a string");
    expect(build(tok, hs256, "{\"exp\":1700000900.0}", key, keylen, NULL), JWT_EXPIRED, "exp as a float");
    expect(build(tok, hs256, "{\"exp\":1.7e9}", key, keylen, NULL), JWT_EXPIRED, "exp with an exponent");
    expect(build(tok, hs256, "{\"exp\":null}", key, keylen, NULL), JWT_EXPIRED, "exp null");
    expect(build(tok, hs256, "{\"exp\":1700000000}", key, keylen, NULL), JWT_EXPIRED, "exp == now");
    expect(build(tok, hs256, "{\"exp\":1699999999}", key, keylen, NULL), JWT_EXPIRED, "exp in the past");
    expect(build(tok, hs256, "{\"exp\":-9223372036854775808}", key, keylen, NULL), JWT_EXPIRED, "exp INT64_MIN");
    expect(build(tok, hs256, "{\"exp\":1700000001}", key, keylen, NULL), JWT_OK, "exp == now + 1");

    expect(build(tok, hs256, "{\"exp\":1700000900,\"nbf\":1700000061}", key, keylen, NULL), JWT_NOT_YET,
           "nbf beyond the skew");
    expect(build(tok, hs256, "{\"exp\":1700000900,\"nbf\":1700000060}", key, keylen, NULL), JWT_OK,
           "nbf within the skew");
    expect(build(tok, hs256, "{\"exp\":1700000900,\"nbf\":1600000000}", key, keylen, NULL), JWT_OK, "nbf past");
    expect(build(tok, hs256, "{\"exp\":1700000900,\"nbf\":\"0\"}", key, keylen, NULL), JWT_NOT_YET,
           "nbf as a string");
    expect(build(tok, hs256, "{\"exp\":1700000900,\"nbf\":9223372036854775807}", key, keylen, NULL), JWT_NOT_YET,
           "nbf INT64_MAX (no overflow)");
    expect(build(tok, hs256, "{\"exp\":1700000900,\"nbf\":-9223372036854775808}", key, keylen, NULL), JWT_OK,
           "nbf INT64_MIN");
    expect(build(tok, hs256, "{\"exp\":1700000900,\"iat\":1700000061}", key, keylen, NULL), JWT_NOT_YET,
           "iat beyond the skew");
    expect(build(tok, hs256, "{\"exp\":1700000900,\"iat\":1700000000.5}", key, keylen, NULL), JWT_NOT_YET,
           "iat as a float");
    expect(build(tok, hs256, "{\"exp\":1700000900,\"iat\":1700000060}", key, keylen, NULL), JWT_OK,
           "iat within the skew");
    CHECK(jwt_verify_hs256(build(tok, hs256, "{\"exp\":1700000900,\"nbf\":1700000001}", key, keylen, NULL),
                           strlen(tok), key, keylen, NOW, -5, NULL) == JWT_NOT_YET,
          "negative skew counts as zero");
    build(tok, hs256, "{\"exp\":9223372036854775807,\"nbf\":9223372036854775807}", key, keylen, NULL);
    CHECK(jwt_verify_hs256(tok, strlen(tok), key, keylen, NOW, INT64_MAX, NULL) == JWT_OK,
          "nbf INT64_MAX within a skew of INT64_MAX (no overflow)");
    CHECK(jwt_verify_hs256(tok, strlen(tok), key, keylen, INT64_MIN, INT64_MAX, NULL) == JWT_NOT_YET,
          "now INT64_MIN: nbf INT64_MAX is beyond any skew (no overflow)");
}

static void test_roundtrip(void)
{
    json_t *claims = json_pack("{s:s, s:I, s:I, s:s, s:s}", "sub", "usr_01HZX", "exp", (json_int_t)(NOW + 900),
                               "iat", (json_int_t)NOW, "typ", "access", "jti", "\xe4\xbd\xa0\xe5\xa5\xbd\"/\\");
    json_t *got = NULL;
    char *tok = jwt_sign_hs256(claims, key, keylen);
    unsigned char buf[512];
    const char *dot1, *dot2;
    long n;

    CHECK(tok != NULL, "jwt_sign_hs256 signs");
    if (tok == NULL)
        goto cleanup;
    dot1 = strchr(tok, '.');
    dot2 = strrchr(tok, '.');
    n = b64url_decode(tok, (size_t)(dot1 - tok), buf, sizeof buf);
    CHECK(n == 27 && memcmp(buf, "{\"alg\":\"HS256\",\"typ\":\"JWT\"}", 27) == 0, "header is {\"alg\":\"HS256\",\"typ\":\"JWT\"}");
    n = b64url_decode(dot1 + 1, (size_t)(dot2 - dot1 - 1), buf, sizeof buf - 1);
    CHECK(n > 0, "payload decodes");
    buf[n > 0 ? n : 0] = '\0';
    CHECK(strchr((char *)buf, ' ') == NULL && strncmp((char *)buf, "{\"sub\":\"usr_01HZX\",\"exp\":", 25) == 0,
          "payload is compact JSON in insertion order (%s)", buf);
    CHECK_INT_EQ(strlen(dot2 + 1), 43, "signature is 43 characters");

    CHECK(jwt_verify_hs256(tok, strlen(tok), key, keylen, NOW, SKEW, &got) == JWT_OK, "sign -> verify round trip");
    CHECK(json_equal(got, claims), "claims survive the round trip");
    json_decref(got);
    CHECK(jwt_verify_hs256(tok, strlen(tok), key, keylen, NOW + 900, SKEW, &got) == JWT_EXPIRED && got == NULL,
          "round-trip token expires at exp");

    {
        json_t *one = json_integer(1);
        CHECK(jwt_sign_hs256(one, key, keylen) == NULL, "signing a non-object is refused");
        json_decref(one);
    }

cleanup:
    free(tok);
    json_decref(claims);
}

/* Keys of other lengths, and switching keys, give the same MACs as hmac_sha256() (the
 * verifier keeps a per-thread precomputed key state). */
static void test_keys(void)
{
    unsigned char longkey[100], k32[32];
    char tok[1024];
    size_t i;

    for (i = 0; i < sizeof longkey; i++)
        longkey[i] = (unsigned char)(i * 13 + 1);
    memcpy(k32, longkey, 32);
    build(tok, hs256, good_payload, longkey, sizeof longkey, NULL);
    CHECK(jwt_verify_hs256(tok, strlen(tok), longkey, sizeof longkey, NOW, SKEW, NULL) == JWT_OK,
          "100-byte key (longer than a SHA-256 block)");
    CHECK(jwt_verify_hs256(tok, strlen(tok), longkey, 64, NOW, SKEW, NULL) == JWT_BAD_SIG,
          "its 64-byte prefix is another key");
    build(tok, hs256, good_payload, longkey, 0, NULL);
    CHECK(jwt_verify_hs256(tok, strlen(tok), longkey, 0, NOW, SKEW, NULL) == JWT_OK, "empty key");
    for (i = 0; i < 3; i++) {
        build(tok, hs256, good_payload, k32, sizeof k32, NULL);
        CHECK(jwt_verify_hs256(tok, strlen(tok), k32, sizeof k32, NOW, SKEW, NULL) == JWT_OK &&
                  jwt_verify_hs256(tok, strlen(tok), key, keylen, NOW, SKEW, NULL) == JWT_BAD_SIG,
              "alternating keys, round %zu", i);
        k32[0] ^= 1; /* same buffer, new contents: the cache must notice */
        CHECK(jwt_verify_hs256(tok, strlen(tok), k32, sizeof k32, NOW, SKEW, NULL) == JWT_BAD_SIG,
              "key changed in place is a different key, round %zu", i);
    }
}

static void test_names(void)
{
    CHECK_STR_EQ(jwt_rc_name(JWT_OK), "ok", "name of JWT_OK");
    CHECK_STR_EQ(jwt_rc_name(JWT_MALFORMED), "malformed", "name of JWT_MALFORMED");
    CHECK_STR_EQ(jwt_rc_name(JWT_BAD_ALG), "bad_alg", "name of JWT_BAD_ALG");
    CHECK_STR_EQ(jwt_rc_name(JWT_BAD_SIG), "bad_sig", "name of JWT_BAD_SIG");
    CHECK_STR_EQ(jwt_rc_name(JWT_EXPIRED), "expired", "name of JWT_EXPIRED");
    CHECK_STR_EQ(jwt_rc_name(JWT_NOT_YET), "not_yet", "name of JWT_NOT_YET");
}

int main(void)
{
    long n;

    CHECK(crypto_init() == 0, "crypto_init");
    n = b64url_decode(rfc_k, strlen(rfc_k), key, sizeof key);
    CHECK_INT_EQ(n, 64, "RFC 7515 A.1 key decodes to 64 bytes");
    keylen = n > 0 ? (size_t)n : 0;

    test_rfc7515();
    test_alg();
    test_structure();
    test_payload();
    test_roundtrip();
    test_keys();
    test_names();
    return test_done();
}
