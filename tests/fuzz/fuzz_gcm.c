/*
 * fuzz_gcm.c - fuzz target for AES-256-GCM (src/crypto/aesgcm.c), the decryption of WeChat
 * Pay notification resources.
 *
 * Input: one byte giving the associated data length (mod 48), the 32-byte key, the 12-byte
 * nonce, the associated data, then the payload (missing bytes read as zero).
 *
 * Invariants (abort() when broken):
 *  - the payload as ciphertext || tag: refused unless it re-encrypts to itself, and a
 *    refusal leaves the output all zero (no unauthenticated plaintext escapes);
 *  - the payload as plaintext: encrypts to payload + 16 bytes and decrypts back; one flipped
 *    bit anywhere, a byte cut off, or other associated data is refused;
 *  - the payload as base64 text: aesgcm_decrypt_b64 succeeds only when the text is the
 *    canonical base64 of what the plaintext re-encrypts to;
 *  - a nonce of 11 or 13 bytes and a key of 31 bytes are always refused.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/aesgcm.h"
#include "crypto/encode.h"
#include "fuzz.h"

static unsigned long opened, opened_b64;

static void *xalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL)
        abort();
    return p;
}

static int all_zero(const unsigned char *p, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (p[i] != 0)
            return 0;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char head[1 + AESGCM_KEY_LEN + AESGCM_NONCE_LEN + 47] = {0};
    const unsigned char *key = head + 1, *nonce = head + 1 + AESGCM_KEY_LEN, *aad;
    const uint8_t *payload;
    size_t aadn, hn, n, i;
    unsigned char *ct, *pt, *out;
    long got;

    if (size > 0)
        head[0] = data[0];
    aadn = head[0] % 48;
    hn = 1 + AESGCM_KEY_LEN + AESGCM_NONCE_LEN + aadn;
    memcpy(head, data, size < hn ? size : hn);
    aad = nonce + AESGCM_NONCE_LEN;
    payload = size > hn ? data + hn : data + size;
    n = size > hn ? size - hn : 0;
    if (n > 4096)
        n = 4096;

    /* Payload as ciphertext || tag, into an exact-size buffer. */
    if (n >= AESGCM_TAG_LEN) {
        out = xalloc(n - AESGCM_TAG_LEN);
        memset(out, 0x5A, n - AESGCM_TAG_LEN);
        got = aesgcm_decrypt(key, 32, nonce, 12, aad, aadn, payload, n, out, n - AESGCM_TAG_LEN);
        if (got == -1) {
            if (!all_zero(out, n - AESGCM_TAG_LEN))
                abort();
        } else {
            ct = xalloc(n);
            if (got != (long)(n - AESGCM_TAG_LEN) ||
                aesgcm_encrypt(key, 32, nonce, 12, aad, aadn, out, (size_t)got, ct, n) != (long)n ||
                memcmp(ct, payload, n) != 0)
                abort();
            free(ct);
            opened++;
        }
        free(out);
    } else if (aesgcm_decrypt(key, 32, nonce, 12, aad, aadn, payload, n, NULL, 0) != -1) {
        abort();
    }

    /* Payload as plaintext. */
    ct = xalloc(n + AESGCM_TAG_LEN);
    pt = xalloc(n);
    if (aesgcm_encrypt(key, 32, nonce, 12, aad, aadn, payload, n, ct, n + AESGCM_TAG_LEN) !=
        (long)(n + AESGCM_TAG_LEN))
        abort();
    if (aesgcm_decrypt(key, 32, nonce, 12, aad, aadn, ct, n + AESGCM_TAG_LEN, pt, n) != (long)n ||
        memcmp(pt, payload, n) != 0)
        abort();
    i = (n + AESGCM_TAG_LEN) > 0 ? (size_t)(head[0] * 131u + n) % (n + AESGCM_TAG_LEN) : 0;
    ct[i] ^= (unsigned char)(1u << (head[0] & 7));
    memset(pt, 0x5A, n);
    if (aesgcm_decrypt(key, 32, nonce, 12, aad, aadn, ct, n + AESGCM_TAG_LEN, pt, n) != -1 ||
        !all_zero(pt, n))
        abort();
    ct[i] ^= (unsigned char)(1u << (head[0] & 7));
    if (aesgcm_decrypt(key, 32, nonce, 12, aad, aadn, ct, n + AESGCM_TAG_LEN - 1, pt, n) != -1)
        abort();
    if (aesgcm_decrypt(key, 32, nonce, 12, aad, aadn + 1, ct, n + AESGCM_TAG_LEN, pt, n) != -1)
        abort();
    if (aesgcm_decrypt(key, 32, nonce, 11, aad, aadn, ct, n + AESGCM_TAG_LEN, pt, n) != -1 ||
        aesgcm_decrypt(key, 32, nonce, 13, aad, aadn, ct, n + AESGCM_TAG_LEN, pt, n) != -1 ||
        aesgcm_decrypt(key, 31, nonce, 12, aad, aadn, ct, n + AESGCM_TAG_LEN, pt, n) != -1 ||
        aesgcm_encrypt(key, 32, nonce, 13, aad, aadn, payload, n, ct, n + AESGCM_TAG_LEN) != -1)
        abort();
    free(ct);
    free(pt);

    /* Payload as base64 text (an exact-size copy, for ASan). */
    {
        char *text = xalloc(n), *again;
        size_t len = 0;
        char *plain;
        memcpy(text, payload, n);
        plain = aesgcm_decrypt_b64(key, 32, nonce, 12, aad, aadn, text, n, &len);
        if (plain != NULL) {
            if (plain[len] != '\0')
                abort();
            ct = xalloc(len + AESGCM_TAG_LEN);
            if (aesgcm_encrypt(key, 32, nonce, 12, aad, aadn, plain, len, ct, len + AESGCM_TAG_LEN) !=
                (long)(len + AESGCM_TAG_LEN))
                abort();
            again = xalloc(b64_encoded_len(len + AESGCM_TAG_LEN) + 1);
            if (b64_encode(ct, len + AESGCM_TAG_LEN, again) != n || memcmp(again, text, n) != 0)
                abort();
            free(again);
            free(ct);
            free(plain);
            opened_b64++;
        } else if (len != 0) {
            abort();
        }
        free(text);
    }
    return 0;
}

/* Seeds: valid encryptions (so mutations start from openable inputs), in both payload forms. */
void fuzz_seeds(void (*add)(const uint8_t *data, size_t size))
{
    static const char *const plains[] = {
        "",
        "{\"refund_status\":\"SUCCESS\"}",
        "{\"mchid\":\"1230000109\",\"out_trade_no\":\"ord_1\",\"trade_state\":\"SUCCESS\"}",
    };
    static const char *const aads[] = {"", "transaction", "refund"};
    unsigned char buf[1 + 32 + 12 + 47 + 512];
    char b64[1024];
    size_t i, hn, pn;
    long got;

    for (i = 0; i < 3; i++) {
        size_t aadn = strlen(aads[i]);
        buf[0] = (unsigned char)aadn;
        memcpy(buf + 1, "0123456789abcdef0123456789abcdef", 32);
        memcpy(buf + 33, "abcdef012345", 12);
        memcpy(buf + 45, aads[i], aadn);
        hn = 45 + aadn;
        pn = strlen(plains[i]);
        got = aesgcm_encrypt(buf + 1, 32, buf + 33, 12, aads[i], aadn, plains[i], pn, buf + hn,
                             sizeof buf - hn);
        if (got < 0)
            abort();
        add(buf, hn + (size_t)got);
        b64_encode(buf + hn, (size_t)got, b64);
        memcpy(buf + hn, b64, strlen(b64));
        add(buf, hn + strlen(b64));
        memcpy(buf + hn, plains[i], pn);
        add(buf, hn + pn);
    }
}

void fuzz_report(void)
{
    printf("opened: raw %lu, base64 %lu\n", opened, opened_b64);
}
