/*
 * aesgcm.c - AES-256-GCM on OpenSSL 3's EVP interface.
 *
 * OpenSSL takes int lengths; AESGCM_MAX_LEN keeps every length far below INT_MAX, so the
 * casts below cannot overflow. Failure paths clear OpenSSL's per-thread error queue.
 */
#include "crypto/aesgcm.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "core/mem.h"
#include "crypto/encode.h"

/* Checks the parameters common to both directions. */
static int params_ok(size_t keylen, const void *nonce, size_t nonce_len, const void *aad, size_t aad_len)
{
    return keylen == AESGCM_KEY_LEN && nonce != NULL && nonce_len == AESGCM_NONCE_LEN &&
           aad_len <= AESGCM_MAX_LEN && (aad != NULL || aad_len == 0);
}

long aesgcm_encrypt(const void *key, size_t keylen, const void *nonce, size_t nonce_len, const void *aad,
                    size_t aad_len, const void *plain, size_t n, void *out, size_t cap)
{
    EVP_CIPHER_CTX *ctx = NULL;
    unsigned char *o = out;
    int len = 0, fin = 0;
    long ret = -1;

    if (key == NULL || !params_ok(keylen, nonce, nonce_len, aad, aad_len) || n > AESGCM_MAX_LEN ||
        (plain == NULL && n > 0) || out == NULL || cap < n + AESGCM_TAG_LEN)
        goto cleanup;
    ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL || EVP_EncryptInit_ex2(ctx, EVP_aes_256_gcm(), key, nonce, NULL) != 1)
        goto cleanup;
    if (aad_len > 0 && EVP_EncryptUpdate(ctx, NULL, &len, aad, (int)aad_len) != 1)
        goto cleanup;
    len = 0;
    if (n > 0 && EVP_EncryptUpdate(ctx, o, &len, plain, (int)n) != 1)
        goto cleanup;
    if (EVP_EncryptFinal_ex(ctx, o + len, &fin) != 1 || (size_t)len + (size_t)fin != n)
        goto cleanup;
    if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, AESGCM_TAG_LEN, o + n) != 1)
        goto cleanup;
    ret = (long)(n + AESGCM_TAG_LEN);

cleanup:
    EVP_CIPHER_CTX_free(ctx); /* wipes the key schedule */
    if (ret < 0)
        ERR_clear_error();
    return ret;
}

long aesgcm_decrypt(const void *key, size_t keylen, const void *nonce, size_t nonce_len, const void *aad,
                    size_t aad_len, const void *ct, size_t ct_len, void *out, size_t cap)
{
    EVP_CIPHER_CTX *ctx = NULL;
    const unsigned char *c = ct;
    unsigned char tag[AESGCM_TAG_LEN];
    unsigned char *o = out;
    size_t n = 0;
    int len = 0, fin = 0;
    long ret = -1;

    if (key == NULL || !params_ok(keylen, nonce, nonce_len, aad, aad_len) || ct == NULL ||
        ct_len < AESGCM_TAG_LEN || ct_len - AESGCM_TAG_LEN > AESGCM_MAX_LEN ||
        (out == NULL && ct_len > AESGCM_TAG_LEN) || cap < ct_len - AESGCM_TAG_LEN) {
        o = NULL; /* nothing written: nothing to wipe */
        goto cleanup;
    }
    n = ct_len - AESGCM_TAG_LEN;
    memcpy(tag, c + n, AESGCM_TAG_LEN);
    ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL || EVP_DecryptInit_ex2(ctx, EVP_aes_256_gcm(), key, nonce, NULL) != 1)
        goto cleanup;
    if (aad_len > 0 && EVP_DecryptUpdate(ctx, NULL, &len, aad, (int)aad_len) != 1)
        goto cleanup;
    len = 0;
    if (n > 0 && EVP_DecryptUpdate(ctx, o, &len, c, (int)n) != 1)
        goto cleanup;
    if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, AESGCM_TAG_LEN, tag) != 1)
        goto cleanup;
    /* The tag check (CRYPTO_memcmp, constant time) happens here; GCM writes no bytes in
     * Final, the pointer only has to be valid (not NULL + 0). */
    if (EVP_DecryptFinal_ex(ctx, o != NULL ? o + len : tag, &fin) != 1 || (size_t)len + (size_t)fin != n)
        goto cleanup;
    ret = (long)n;

cleanup:
    EVP_CIPHER_CTX_free(ctx);
    if (ret < 0) {
        if (o != NULL && n > 0)
            OPENSSL_cleanse(o, n);
        ERR_clear_error();
    }
    return ret;
}

char *aesgcm_decrypt_b64(const void *key, size_t keylen, const void *nonce, size_t nonce_len, const void *aad,
                         size_t aad_len, const char *ct_b64, size_t b64_len, size_t *out_len)
{
    unsigned char *ct = NULL;
    char *plain = NULL;
    size_t cap;
    long ctn, pn = -1;

    *out_len = 0;
    /* Longest accepted text: base64 of the longest ciphertext || tag. */
    if (ct_b64 == NULL || b64_len > b64_encoded_len(AESGCM_MAX_LEN + AESGCM_TAG_LEN))
        return NULL;
    cap = b64_len / 4 * 3 + 1;
    ct = xmalloc(cap);
    ctn = b64_decode(ct_b64, b64_len, ct, cap);
    if (ctn < AESGCM_TAG_LEN)
        goto cleanup;
    plain = xmalloc((size_t)ctn - AESGCM_TAG_LEN + 1);
    pn = aesgcm_decrypt(key, keylen, nonce, nonce_len, aad, aad_len, ct, (size_t)ctn, plain,
                        (size_t)ctn - AESGCM_TAG_LEN);
    if (pn < 0)
        goto cleanup;
    plain[pn] = '\0';
    *out_len = (size_t)pn;

cleanup:
    free(ct);
    if (pn < 0) {
        free(plain); /* aesgcm_decrypt zeroed it */
        plain = NULL;
    }
    return plain;
}
