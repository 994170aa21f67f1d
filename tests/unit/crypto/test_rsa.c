/* Unit tests for src/crypto/rsa.c: keys from JWK and PEM, RS256 verification, and the key
 * policy. The vectors in data/ were made by node:crypto (tests/fakes/gen_vectors.mjs). */
#include "../test.h"

#include <stdlib.h>

#include <jansson.h>

#include "core/mem.h"
#include "crypto/encode.h"
#include "crypto/rsa.h"

/* Reads data/<name> into a new NUL-terminated buffer; aborts the test run when missing. */
static char *slurp(const char *name, size_t *len)
{
    const char *dir = getenv("TEST_DATA_DIR");
    char path[512];
    FILE *f;
    char *buf;
    long n;

    snprintf(path, sizeof path, "%s/%s", dir ? dir : "tests/unit/crypto/data", name);
    f = fopen(path, "rb");
    if (f == NULL) {
        printf("Bail out! cannot open %s (TEST_DATA_DIR)\n", path);
        exit(1);
    }
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = xmalloc((size_t)n + 1);
    if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
        printf("Bail out! cannot read %s\n", path);
        exit(1);
    }
    buf[n] = '\0';
    fclose(f);
    if (len != NULL)
        *len = (size_t)n;
    return buf;
}

static enum rsa_rc load_jwk_file(const char *name, struct rsa_key **k)
{
    char *text = slurp(name, NULL);
    json_t *j = json_loads(text, 0, NULL);
    const char *n = json_string_value(json_object_get(j, "n")), *e = json_string_value(json_object_get(j, "e"));
    enum rsa_rc rc = rsa_pub_from_jwk(n, strlen(n), e, strlen(e), k);
    json_decref(j);
    free(text);
    return rc;
}

static enum rsa_rc load_pem_file(const char *name, struct rsa_key **k)
{
    size_t len;
    char *text = slurp(name, &len);
    enum rsa_rc rc = rsa_pub_from_pem(text, len, k);
    free(text);
    return rc;
}

/* The signature data/<name>.sig.hex as bytes. */
static size_t load_sig(const char *name, unsigned char *sig, size_t cap)
{
    char file[128];
    char *hex;
    size_t n;
    snprintf(file, sizeof file, "%s.sig.hex", name);
    hex = slurp(file, NULL);
    n = strcspn(hex, "\n");
    if (n / 2 > cap || hex_decode(hex, n, sig, n / 2) != 0)
        n = 0;
    free(hex);
    return n / 2;
}

static enum rsa_rc jwk(const char *n, const char *e, struct rsa_key **k)
{
    return rsa_pub_from_jwk(n, strlen(n), e, strlen(e), k);
}

static void test_good_keys(const char *msg, size_t mlen)
{
    static const struct {
        const char *name;
        unsigned bits;
    } keys[] = {{"rsa2048", 2048}, {"rsa4096", 4096}, {"rsa2048_e3", 2048}};
    unsigned char sig[1024], bad[1024];

    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        char f[64];
        struct rsa_key *kj = NULL, *kp = NULL;
        size_t slen = load_sig(keys[i].name, sig, sizeof sig);

        snprintf(f, sizeof f, "%s.jwk.json", keys[i].name);
        CHECK_INT_EQ(load_jwk_file(f, &kj), RSA_OK, "%s: JWK loads", keys[i].name);
        snprintf(f, sizeof f, "%s.pem", keys[i].name);
        CHECK_INT_EQ(load_pem_file(f, &kp), RSA_OK, "%s: PEM loads", keys[i].name);
        if (kj == NULL || kp == NULL) {
            rsa_key_free(kj);
            rsa_key_free(kp);
            continue;
        }
        CHECK_INT_EQ(rsa_key_bits(kj), keys[i].bits, "%s: JWK key size", keys[i].name);
        CHECK_INT_EQ(rsa_key_bits(kp), keys[i].bits, "%s: PEM key size", keys[i].name);
        CHECK_INT_EQ(slen, keys[i].bits / 8, "%s: signature is modulus-sized", keys[i].name);
        CHECK(rsa_verify_sha256(kj, msg, mlen, sig, slen), "%s: node's signature verifies (JWK key)", keys[i].name);
        CHECK(rsa_verify_sha256(kp, msg, mlen, sig, slen), "%s: node's signature verifies (PEM key)", keys[i].name);

        /* Every single-bit change of the signature, in a few places, fails. */
        int all_fail = 1;
        for (size_t pos = 0; pos < slen; pos += slen / 7) {
            memcpy(bad, sig, slen);
            bad[pos] ^= 0x01;
            if (rsa_verify_sha256(kj, msg, mlen, bad, slen))
                all_fail = 0;
        }
        CHECK(all_fail, "%s: flipped signature bits fail", keys[i].name);
        CHECK(!rsa_verify_sha256(kj, msg, mlen - 1, sig, slen), "%s: shortened message fails", keys[i].name);
        char *msg2 = xstrdup(msg);
        msg2[0] ^= 0x20;
        CHECK(!rsa_verify_sha256(kj, msg2, mlen, sig, slen), "%s: changed message fails", keys[i].name);
        free(msg2);
        CHECK(!rsa_verify_sha256(kj, msg, mlen, sig, slen - 1), "%s: truncated signature fails", keys[i].name);
        memcpy(bad, sig, slen);
        bad[slen] = 0;
        CHECK(!rsa_verify_sha256(kj, msg, mlen, bad, slen + 1), "%s: signature with an extra byte fails",
              keys[i].name);
        memset(bad, 0, slen);
        CHECK(!rsa_verify_sha256(kj, msg, mlen, bad, slen), "%s: all-zero signature fails", keys[i].name);
        memset(bad, 0xff, slen);
        CHECK(!rsa_verify_sha256(kj, msg, mlen, bad, slen), "%s: all-ones signature (> n) fails", keys[i].name);
        CHECK(!rsa_verify_sha256(kj, msg, mlen, NULL, 0), "%s: no signature fails", keys[i].name);
        rsa_key_free(kj);
        rsa_key_free(kp);
    }

    /* A signature by another key of the same size does not verify. */
    {
        struct rsa_key *k2048 = NULL, *k2048e3 = NULL;
        size_t slen = load_sig("rsa2048_e3", sig, sizeof sig);
        load_jwk_file("rsa2048.jwk.json", &k2048);
        load_jwk_file("rsa2048_e3.jwk.json", &k2048e3);
        CHECK(k2048 && !rsa_verify_sha256(k2048, msg, mlen, sig, slen), "another key's signature fails");
        slen = load_sig("rsa4096", sig, sizeof sig);
        CHECK(k2048 && !rsa_verify_sha256(k2048, msg, mlen, sig, slen), "a 4096-bit signature fails on 2048");
        rsa_key_free(k2048);
        rsa_key_free(k2048e3);
    }
}

static void test_policy(void)
{
    struct rsa_key *k = (struct rsa_key *)1;
    char *text;
    json_t *j;
    const char *n;

    CHECK_INT_EQ(load_jwk_file("rsa1024.jwk.json", &k), RSA_WEAK, "1024-bit JWK refused as weak");
    CHECK(k == NULL, "no key on failure");
    CHECK_INT_EQ(load_pem_file("rsa1024.pem", &k), RSA_WEAK, "1024-bit PEM refused as weak");
    CHECK_INT_EQ(load_jwk_file("rsa2040.jwk.json", &k), RSA_WEAK, "2040-bit JWK refused (under 2048)");
    CHECK_INT_EQ(load_pem_file("rsa2040.pem", &k), RSA_WEAK, "2040-bit PEM refused (under 2048)");
    CHECK_INT_EQ(load_pem_file("ec256.pem", &k), RSA_MALFORMED, "EC P-256 PEM is not an RSA key");
    CHECK_INT_EQ(load_pem_file("rsa_pss.pem", &k), RSA_MALFORMED, "RSA-PSS key refused (another algorithm)");
    CHECK_INT_EQ(load_pem_file("rsa2048_pkcs1.pem", &k), RSA_OK, "PKCS#1 RSA PUBLIC KEY block accepted too");
    CHECK(k != NULL && rsa_key_bits(k) == 2048, "PKCS#1 key is 2048 bits");
    rsa_key_free(k);
    CHECK_INT_EQ(load_pem_file("rsa2048_private.pem", &k), RSA_MALFORMED, "a private key PEM is not a public key");
    CHECK_INT_EQ(rsa_pub_from_pem("", 0, &k), RSA_MALFORMED, "empty PEM");
    CHECK_INT_EQ(rsa_pub_from_pem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", 57, &k),
                 RSA_MALFORMED, "garbage PEM");
    {
        size_t len;
        char *pem = slurp("rsa2048.pem", &len);
        char *big = xmalloc(RSA_PEM_MAX + 2);
        memset(big, '\n', RSA_PEM_MAX + 1);
        memcpy(big, pem, len);
        CHECK_INT_EQ(rsa_pub_from_pem(big, RSA_PEM_MAX, &k), RSA_OK, "PEM with trailing blank lines up to the cap");
        rsa_key_free(k);
        CHECK_INT_EQ(rsa_pub_from_pem(big, RSA_PEM_MAX + 1, &k), RSA_MALFORMED, "PEM over RSA_PEM_MAX refused");
        CHECK_INT_EQ(rsa_pub_from_pem(pem, len - 30, &k), RSA_MALFORMED, "truncated PEM refused");
        free(big);
        free(pem);
    }

    text = slurp("rsa2048.jwk.json", NULL);
    j = json_loads(text, 0, NULL);
    n = json_string_value(json_object_get(j, "n"));
    CHECK_INT_EQ(jwk(n, "Ag", &k), RSA_WEAK, "even exponent 2 refused");
    CHECK_INT_EQ(jwk(n, "AQ", &k), RSA_WEAK, "exponent 1 refused");
    CHECK_INT_EQ(jwk(n, "AA", &k), RSA_WEAK, "exponent 0 refused");
    CHECK_INT_EQ(jwk(n, "AQAAAAE", &k), RSA_WEAK, "exponent 2^32 + 1 refused (too large)");
    CHECK_INT_EQ(jwk(n, "AQAAAAAAAAAB", &k), RSA_WEAK, "9-byte exponent refused");
    CHECK_INT_EQ(jwk(n, "_____w", &k), RSA_OK, "exponent 2^32 - 1 (odd, 32 bits) accepted");
    rsa_key_free(k);
    CHECK_INT_EQ(jwk(n, "AQAB=", &k), RSA_MALFORMED, "padded exponent refused (strict base64url)");
    CHECK_INT_EQ(jwk(n, "", &k), RSA_MALFORMED, "empty exponent refused");
    CHECK_INT_EQ(jwk("", "AQAB", &k), RSA_MALFORMED, "empty modulus refused");
    CHECK_INT_EQ(jwk("AAAA", "AQAB", &k), RSA_WEAK, "zero modulus refused");
    {
        /* n with '+' or '/' (standard base64) is not base64url. */
        char *std = xstrdup(n);
        char *p = strpbrk(std, "-_");
        if (p != NULL) {
            *p = *p == '-' ? '+' : '/';
            CHECK_INT_EQ(jwk(std, "AQAB", &k), RSA_MALFORMED, "standard-base64 modulus refused");
        } else {
            CHECK(1, "standard-base64 modulus refused (no - or _ in this n: nothing to change)");
        }
        free(std);
    }
    {
        /* A leading zero octet (some encoders keep one) is tolerated. */
        unsigned char raw[600];
        char enc[900];
        long len = b64url_decode(n, strlen(n), raw + 1, sizeof raw - 1);
        raw[0] = 0;
        b64url_encode(raw, (size_t)len + 1, enc);
        CHECK_INT_EQ(jwk(enc, "AQAB", &k), RSA_OK, "modulus with a leading zero octet accepted");
        CHECK(k != NULL && rsa_key_bits(k) == 2048, "and is still 2048 bits");
        rsa_key_free(k);
    }
    {
        /* 8200-bit modulus (odd, top bit set): over RSA_MAX_BITS. */
        unsigned char raw[1025];
        char enc[1400];
        memset(raw, 0xa5, sizeof raw);
        raw[0] = 0xff;
        raw[sizeof raw - 1] |= 1;
        b64url_encode(raw, sizeof raw, enc);
        CHECK_INT_EQ(jwk(enc, "AQAB", &k), RSA_WEAK, "8200-bit modulus refused");
        b64url_encode(raw, 1024, enc);
        CHECK_INT_EQ(jwk(enc, "AQAB", &k), RSA_OK, "8192-bit modulus accepted (the maximum)");
        CHECK(k != NULL && rsa_key_bits(k) == 8192, "8192 bits");
        rsa_key_free(k);
        char *huge = xmalloc(20000);
        memset(huge, 'A', 19999);
        huge[19999] = '\0';
        CHECK_INT_EQ(jwk(huge, "AQAB", &k), RSA_WEAK, "a 15000-byte modulus is refused by size");
        free(huge);
    }
    json_decref(j);
    free(text);
    CHECK_STR_EQ(rsa_rc_name(RSA_WEAK), "weak", "rc names");
}

int main(void)
{
    size_t mlen;
    char *msg = slurp("message.txt", &mlen);
    test_good_keys(msg, mlen);
    test_policy();
    free(msg);
    return test_done();
}
