/*
 * rsa.c - RSA keys, RSASSA-PKCS1-v1_5 SHA-256 signing and verification on OpenSSL 3 (EVP,
 * no deprecated RSA_*).
 *
 * Every failure path clears OpenSSL's per-thread error queue: a loop thread that verifies
 * forged tokens all day must not accumulate error records.
 */
#include "crypto/rsa.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "core/mem.h"
#include "crypto/encode.h"

struct rsa_key {
    EVP_PKEY *pkey;
    unsigned bits;
    int priv; /* 1 when pkey holds the private key */
};

/* Exponents above this are refused (RFC 8017 allows any odd e >= 3; real keys use 65537). */
#define RSA_MAX_E 0xffffffffUL

const char *rsa_rc_name(enum rsa_rc rc)
{
    switch (rc) {
    case RSA_OK:
        return "ok";
    case RSA_MALFORMED:
        return "malformed";
    case RSA_WEAK:
        return "weak";
    }
    return "unknown";
}

/* Applies the key policy to pkey (an RSA key): modulus size and exponent. */
static enum rsa_rc check_policy(EVP_PKEY *pkey, unsigned *bits_out)
{
    BIGNUM *e = NULL;
    enum rsa_rc rc = RSA_WEAK;
    int bits = EVP_PKEY_get_bits(pkey);

    if (bits < RSA_MIN_BITS || bits > RSA_MAX_BITS)
        goto cleanup;
    if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &e) != 1) {
        rc = RSA_MALFORMED;
        goto cleanup;
    }
    if (!BN_is_odd(e) || BN_num_bits(e) > 32 || BN_get_word(e) < 3 || BN_get_word(e) > RSA_MAX_E)
        goto cleanup;
    *bits_out = (unsigned)bits;
    rc = RSA_OK;

cleanup:
    BN_free(e);
    return rc;
}

/* Wraps pkey (ownership moves to the new key). */
static struct rsa_key *key_new(EVP_PKEY *pkey, unsigned bits, int priv)
{
    struct rsa_key *k = xmalloc(sizeof *k);
    k->pkey = pkey;
    k->bits = bits;
    k->priv = priv;
    return k;
}

enum rsa_rc rsa_pub_from_jwk(const char *n_b64, size_t n_len, const char *e_b64, size_t e_len,
                             struct rsa_key **out)
{
    unsigned char nbuf[RSA_MAX_BITS / 8 + 16], ebuf[8];
    const unsigned char *np = nbuf;
    long nn, en;
    BIGNUM *n = NULL, *e = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *pkey = NULL;
    enum rsa_rc rc = RSA_MALFORMED;
    unsigned bits = 0;

    *out = NULL;
    nn = b64url_decode(n_b64, n_len, nbuf, sizeof nbuf);
    en = b64url_decode(e_b64, e_len, ebuf, sizeof ebuf);
    if (nn <= 0 || en <= 0) {
        /* Too long to decode into the buffers is a size problem, not a syntax one. */
        if ((nn < 0 && n_len > b64url_encoded_len(sizeof nbuf)) || (en < 0 && e_len > b64url_encoded_len(sizeof ebuf)))
            rc = RSA_WEAK;
        goto cleanup;
    }
    /* Leading zero octets carry no value (some libraries emit one to keep n positive). */
    while (nn > 0 && *np == 0) {
        np++;
        nn--;
    }
    if (nn == 0) {
        rc = RSA_WEAK;
        goto cleanup;
    }
    if ((size_t)nn * 8 > RSA_MAX_BITS + 7 || (size_t)nn * 8 < RSA_MIN_BITS) {
        rc = RSA_WEAK;
        goto cleanup;
    }
    n = BN_bin2bn(np, (int)nn, NULL);
    e = BN_bin2bn(ebuf, (int)en, NULL);
    bld = OSSL_PARAM_BLD_new();
    if (n == NULL || e == NULL || bld == NULL || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e))
        goto cleanup;
    params = OSSL_PARAM_BLD_to_param(bld);
    ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    if (params == NULL || ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
        goto cleanup;
    rc = check_policy(pkey, &bits);
    if (rc != RSA_OK)
        goto cleanup;
    *out = key_new(pkey, bits, 0);
    pkey = NULL;

cleanup:
    EVP_PKEY_free(pkey);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(n);
    BN_free(e);
    if (rc != RSA_OK)
        ERR_clear_error();
    return rc;
}

enum rsa_rc rsa_pub_from_pem(const char *pem, size_t len, struct rsa_key **out)
{
    BIO *bio = NULL;
    EVP_PKEY *pkey = NULL;
    enum rsa_rc rc = RSA_MALFORMED;
    unsigned bits = 0;

    *out = NULL;
    if (pem == NULL || len == 0 || len > RSA_PEM_MAX)
        goto cleanup;
    bio = BIO_new_mem_buf(pem, (int)len);
    if (bio == NULL)
        goto cleanup;
    /* PUBKEY is SubjectPublicKeyInfo only: no passphrase callback, no private keys. */
    pkey = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
    if (pkey == NULL || EVP_PKEY_get_base_id(pkey) != EVP_PKEY_RSA)
        goto cleanup;
    rc = check_policy(pkey, &bits);
    if (rc != RSA_OK)
        goto cleanup;
    *out = key_new(pkey, bits, 0);
    pkey = NULL;

cleanup:
    EVP_PKEY_free(pkey);
    BIO_free(bio);
    if (rc != RSA_OK)
        ERR_clear_error();
    return rc;
}

/*
 * Passphrase callback that refuses: without one, OpenSSL would prompt on the terminal for an
 * encrypted key (PEM_def_callback), which a server must never do.
 */
static int refuse_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1;
}

enum rsa_rc rsa_priv_from_pem(const char *pem, size_t len, struct rsa_key **out)
{
    BIO *bio = NULL;
    EVP_PKEY *pkey = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    enum rsa_rc rc = RSA_MALFORMED;
    unsigned bits = 0;

    *out = NULL;
    if (pem == NULL || len == 0 || len > RSA_PEM_MAX)
        goto cleanup;
    bio = BIO_new_mem_buf(pem, (int)len);
    if (bio == NULL)
        goto cleanup;
    /* Reads "PRIVATE KEY" (PKCS#8) and "RSA PRIVATE KEY" (PKCS#1); encrypted forms fail in
     * the callback; public keys and certificates do not decode as private keys. */
    pkey = PEM_read_bio_PrivateKey(bio, NULL, refuse_passphrase, NULL);
    if (pkey == NULL || EVP_PKEY_get_base_id(pkey) != EVP_PKEY_RSA)
        goto cleanup;
    rc = check_policy(pkey, &bits);
    if (rc != RSA_OK)
        goto cleanup;
    /* n = p * q, d * e = 1 mod lcm(p-1, q-1), p and q prime: a corrupted key file is found
     * at startup instead of as signatures the provider rejects. */
    ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    if (ctx == NULL || EVP_PKEY_pairwise_check(ctx) != 1) {
        rc = RSA_MALFORMED;
        goto cleanup;
    }
    *out = key_new(pkey, bits, 1);
    pkey = NULL;

cleanup:
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(pkey); /* frees the private numbers with BN_clear_free */
    BIO_free(bio);
    if (rc != RSA_OK)
        ERR_clear_error();
    return rc;
}

enum rsa_rc rsa_priv_from_file(const char *path, struct rsa_key **out)
{
    char buf[RSA_PEM_MAX + 1];
    size_t n = 0;
    FILE *f = NULL;
    enum rsa_rc rc = RSA_MALFORMED;

    *out = NULL;
    if (path == NULL)
        return RSA_MALFORMED;
    f = fopen(path, "rb");
    if (f == NULL)
        goto cleanup;
    /* Unbuffered, so that no copy of the key stays behind in a stdio buffer. */
    setvbuf(f, NULL, _IONBF, 0);
    n = fread(buf, 1, sizeof buf, f);
    if (ferror(f) || n == 0 || n > RSA_PEM_MAX)
        goto cleanup;
    rc = rsa_priv_from_pem(buf, n, out);

cleanup:
    if (f != NULL)
        fclose(f);
    OPENSSL_cleanse(buf, sizeof buf);
    return rc;
}

enum rsa_rc rsa_pub_from_cert_pem(const char *pem, size_t len, struct rsa_key **out,
                                  char serial_hex[RSA_SERIAL_HEX_MAX])
{
    BIO *bio = NULL;
    X509 *x = NULL;
    EVP_PKEY *pkey = NULL;
    BIGNUM *sn = NULL;
    char *hex = NULL;
    const char *h;
    enum rsa_rc rc = RSA_MALFORMED;
    unsigned bits = 0;

    *out = NULL;
    serial_hex[0] = '\0';
    if (pem == NULL || len == 0 || len > RSA_PEM_MAX)
        goto cleanup;
    bio = BIO_new_mem_buf(pem, (int)len);
    if (bio == NULL)
        goto cleanup;
    x = PEM_read_bio_X509(bio, NULL, refuse_passphrase, NULL);
    if (x == NULL)
        goto cleanup;
    sn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
    if (sn == NULL || BN_is_negative(sn) || BN_num_bytes(sn) > 20)
        goto cleanup;
    hex = BN_bn2hex(sn); /* upper case, whole octets (may start with one '0') */
    if (hex == NULL)
        goto cleanup;
    for (h = hex; h[0] == '0' && h[1] != '\0'; h++)
        ;
    if (strlen(h) >= RSA_SERIAL_HEX_MAX)
        goto cleanup;
    pkey = X509_get_pubkey(x); /* a new reference */
    if (pkey == NULL || EVP_PKEY_get_base_id(pkey) != EVP_PKEY_RSA)
        goto cleanup;
    rc = check_policy(pkey, &bits);
    if (rc != RSA_OK)
        goto cleanup;
    *out = key_new(pkey, bits, 0);
    pkey = NULL;
    memcpy(serial_hex, h, strlen(h) + 1);

cleanup:
    EVP_PKEY_free(pkey);
    OPENSSL_free(hex);
    BN_free(sn);
    X509_free(x);
    BIO_free(bio);
    if (rc != RSA_OK)
        ERR_clear_error();
    return rc;
}

int rsa_key_is_private(const struct rsa_key *k) { return k != NULL && k->priv; }

unsigned rsa_key_bits(const struct rsa_key *k) { return k->bits; }

unsigned char *rsa_sign_sha256(const struct rsa_key *k, const void *msg, size_t n, size_t *siglen)
{
    EVP_MD_CTX *md = NULL;
    EVP_PKEY_CTX *pctx = NULL;
    unsigned char *sig = NULL;
    size_t want, len = 0;
    int ok = 0;

    *siglen = 0;
    if (k == NULL || !k->priv || (msg == NULL && n > 0))
        goto cleanup;
    want = (k->bits + 7) / 8;
    md = EVP_MD_CTX_new();
    if (md == NULL)
        goto cleanup;
    if (EVP_DigestSignInit(md, &pctx, EVP_sha256(), NULL, k->pkey) != 1 ||
        EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1)
        goto cleanup;
    sig = xmalloc(want);
    len = want;
    if (EVP_DigestSign(md, sig, &len, msg, n) != 1 || len != want)
        goto cleanup;
    *siglen = len;
    ok = 1;

cleanup:
    EVP_MD_CTX_free(md);
    if (!ok) {
        free(sig);
        sig = NULL;
        ERR_clear_error();
    }
    return sig;
}

int rsa_verify_sha256(const struct rsa_key *k, const void *msg, size_t n, const void *sig, size_t siglen)
{
    EVP_MD_CTX *md = NULL;
    EVP_PKEY_CTX *pctx = NULL;
    int ok = 0;

    /* PKCS#1 v1.5 signatures are exactly as long as the modulus (RFC 8017 8.2.2 step 1). */
    if (k == NULL || sig == NULL || siglen != (k->bits + 7) / 8)
        goto cleanup;
    md = EVP_MD_CTX_new();
    if (md == NULL)
        goto cleanup;
    /* The key is only read; EVP_DigestVerifyInit takes a non-const pointer for its API. */
    if (EVP_DigestVerifyInit(md, &pctx, EVP_sha256(), NULL, k->pkey) != 1 ||
        EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1)
        goto cleanup;
    ok = EVP_DigestVerify(md, sig, siglen, msg, n) == 1;

cleanup:
    EVP_MD_CTX_free(md);
    if (!ok)
        ERR_clear_error();
    return ok;
}

void rsa_key_free(struct rsa_key *k)
{
    if (k == NULL)
        return;
    EVP_PKEY_free(k->pkey); /* RSA private numbers are freed with BN_clear_free */
    OPENSSL_cleanse(k, sizeof *k);
    free(k);
}
