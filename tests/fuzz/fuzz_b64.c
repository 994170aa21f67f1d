/*
 * fuzz_b64.c - fuzz target for the encoders in src/crypto/encode.c.
 *
 * Invariants (abort() when broken):
 *  - strictness: any text that decodes re-encodes to exactly the same text (one spelling
 *    per byte string), for base64url, base64 and (case-folded) hex;
 *  - the decoded length is the one the text length implies, and a cap one byte short is
 *    refused without writing past it (the buffers are exact-size heap blocks for ASan);
 *  - any bytes encode and decode back to themselves;
 *  - base62 of up to 64 bytes fits in ceil(8n / log2 62) characters of [0-9A-Za-z].
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/encode.h"
#include "fuzz.h"

static unsigned long accepted_url, accepted_std, accepted_hex;

static void *xalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL)
        abort();
    return p;
}

/* Decodes text with the given decoder and checks the canonical round trip. */
static void check_decoder(const char *text, size_t n, int url)
{
    size_t want, cap;
    unsigned char *out;
    char *again;
    long got;

    if (url) {
        want = n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0);
    } else if (n % 4 == 0 && n > 0) { /* padded: the length counts '=' */
        want = n / 4 * 3 - (text[n - 1] == '=') - (text[n - 2] == '=');
    } else {
        want = 0;
    }
    cap = want + 1;
    out = xalloc(cap);
    got = url ? b64url_decode(text, n, out, cap) : b64_decode(text, n, out, cap);
    if (got >= 0) {
        /* No byte count encodes to these lengths. */
        if ((url && n % 4 == 1) || (!url && n % 4 != 0))
            abort();
        if ((size_t)got != want)
            abort();
        again = xalloc((url ? b64url_encoded_len((size_t)got) : b64_encoded_len((size_t)got)) + 1);
        if (url ? b64url_encode(out, (size_t)got, again) != n : b64_encode(out, (size_t)got, again) != n)
            abort();
        if (memcmp(again, text, n) != 0)
            abort();
        free(again);
        free(out);
        /* The same text with a cap one byte short must be refused (and not overflow). */
        if (got > 0) {
            out = xalloc((size_t)got - 1);
            if ((url ? b64url_decode(text, n, out, (size_t)got - 1) : b64_decode(text, n, out, (size_t)got - 1)) != -1)
                abort();
            free(out);
        }
        if (url)
            accepted_url++;
        else
            accepted_std++;
        return;
    }
    free(out);
}

static void check_hex(const char *text, size_t n)
{
    unsigned char *out;
    char *again;
    size_t i;

    if (n % 2)
        return;
    out = xalloc(n / 2);
    if (hex_decode(text, n, out, n / 2) == 0) {
        again = xalloc(n + 1);
        hex_encode(out, n / 2, again);
        for (i = 0; i < n; i++)
            if (again[i] != tolower((unsigned char)text[i]))
                abort();
        free(again);
        accepted_hex++;
    }
    free(out);
}

static void check_encoders(const uint8_t *data, size_t size)
{
    char *text = xalloc(b64_encoded_len(size) + 1);
    unsigned char *back = xalloc(size);
    size_t t;

    t = b64url_encode(data, size, text);
    if (t != b64url_encoded_len(size) || strlen(text) != t)
        abort();
    if (b64url_decode(text, t, back, size) != (long)size || memcmp(back, data, size) != 0)
        abort();
    t = b64_encode(data, size, text);
    if (t != b64_encoded_len(size) || strlen(text) != t)
        abort();
    if (b64_decode(text, t, back, size) != (long)size || memcmp(back, data, size) != 0)
        abort();
    free(text);
    free(back);

    if (size <= 64) {
        /* chars = ceil(8n / log2(62)); log2(62) > 5.954, so 8n*1000/5954 + 1 is enough. */
        size_t chars = size * 8 * 1000 / 5954 + 1;
        char *b62 = xalloc(chars + 1);
        if (base62_encode(data, size, b62, chars) != 0 || strlen(b62) != chars ||
            strspn(b62, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") != chars)
            abort();
        free(b62);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size copy so that reading past the length is caught by ASan. */
    char *text = xalloc(size);
    memcpy(text, data, size);
    check_decoder(text, size, 1);
    check_decoder(text, size, 0);
    check_hex(text, size);
    check_encoders(data, size);
    free(text);
    return 0;
}

void fuzz_seeds(void (*add)(const uint8_t *data, size_t size))
{
    static const char *texts[] = {
        "", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy", "Zg==", "Zm8=", "Zm9vYmE=", "-_-_", "+/+/",
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9", "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", "00ff10aB",
        "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow",
    };
    size_t i;
    for (i = 0; i < sizeof texts / sizeof texts[0]; i++)
        add((const uint8_t *)texts[i], strlen(texts[i]));
}

void fuzz_report(void)
{
    printf("accepted: base64url %lu, base64 %lu, hex %lu\n", accepted_url, accepted_std, accepted_hex);
}
