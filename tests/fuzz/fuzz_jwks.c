/*
 * fuzz_jwks.c - fuzz target for jwks_parse() (a provider's JSON Web Key Set,
 * providers/auth/jwks.c) and, through it, rsa_pub_from_jwk().
 *
 * The first byte picks how the rest is used:
 *   0: the rest is a JWKS document, parsed as is;
 *   1: the rest is split at NUL bytes into kid, n, e (and alg, use) strings put into one
 *      otherwise valid key of a valid document, so that the key loader sees arbitrary
 *      base64url moduli and exponents and the filters arbitrary members.
 * Invariants (abort() when broken): a set is returned exactly on JWKS_OK; it holds 1 to
 * JWKS_MAX_KEYS keys with distinct printable kids that jwks_find() finds, each 2048 to 8192
 * bits; skipped + kept never exceed the entries; the document is read only within its length.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fuzz.h"
#include "providers/auth/jwks.h"

static unsigned long counts[2][JWKS_NO_KEYS + 1];

/* A real 2048-bit modulus (tests/unit/crypto/data/rsa2048.jwk.json). */
static const char good_n[] =
    "vLkTQxZtjmVV9AlPHT5A-UgRQiMTQFGHaVtMDCnwI9KU9GnLYotdYeJLlDlWhPc82vuut4amB-rkS_pjkmYk6cfJAmyGX_s3foWHZg4b0H0o"
    "oeXEx2jw8tNOrtiFpPZCMXH1njPhCn3DIDh7hVoeicN8mEn0RCaUgiI6QvaEqseC9IKh4vWCsF4kH1kaI4UvIgWaxVJfs07Js4lzzj_F5SLg"
    "kzdfy6nnqhz_ihs4wwseZHroC0iF-o7p8woitqiWOOtVFW7u6lyx56Xwwh_ROok_EWS8JSnYLT3COi-QPnWDGFcmYqJZztdZh0BTB4yYWP_m"
    "7_7fKUtMruwkjtEAMQ";

static void check_set(const struct jwks_set *s, size_t ignored, size_t entries)
{
    if (s->n == 0 || s->n > JWKS_MAX_KEYS || s->n + ignored > entries || atomic_load(&s->refs) != 1)
        abort();
    for (size_t i = 0; i < s->n; i++) {
        size_t len = strlen(s->keys[i].kid);
        if (len == 0 || len > JWT_KID_MAX || s->keys[i].key == NULL)
            abort();
        for (size_t k = 0; k < len; k++)
            if ((unsigned char)s->keys[i].kid[k] < 0x21 || (unsigned char)s->keys[i].kid[k] > 0x7e)
                abort();
        if (jwks_find(s, s->keys[i].kid) != s->keys[i].key)
            abort(); /* also proves the kids are distinct */
        if (rsa_key_bits(s->keys[i].key) < RSA_MIN_BITS || rsa_key_bits(s->keys[i].key) > RSA_MAX_BITS)
            abort();
    }
}

static void run(int mode, const char *doc, size_t len, size_t entries)
{
    struct jwks_set *s = NULL;
    size_t ignored = 12345;
    char *exact = malloc(len ? len : 1);
    enum jwks_rc rc;

    if (exact == NULL)
        abort();
    memcpy(exact, doc, len);
    rc = jwks_parse(exact, len, &s, &ignored);
    free(exact);
    if ((rc == JWKS_OK) != (s != NULL) || rc > JWKS_NO_KEYS || ignored > JWKS_MAX_KEYS)
        abort();
    counts[mode][rc]++;
    if (s != NULL) {
        check_set(s, ignored, entries ? entries : JWKS_MAX_KEYS);
        jwks_set_unref(s);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *rest = (const char *)data + 1;
    size_t n = size ? size - 1 : 0;

    if (size == 0)
        return 0;
    if (data[0] % 2 == 0) {
        run(0, rest, n, 0);
        return 0;
    }
    /* Mode 1: kid \0 n \0 e \0 alg \0 use; missing parts take good values, "-" leaves out. */
    {
        const char *part[5] = {"k1", good_n, "AQAB", "RS256", "sig"};
        size_t plen[5] = {2, sizeof good_n - 1, 4, 5, 3};
        const char *names[5] = {"kid", "n", "e", "alg", "use"};
        size_t p = 0, start = 0;
        json_t *key = json_object(), *doc;
        char *text;

        for (size_t i = 0; i <= n && p < 5; i++) {
            if (i == n || rest[i] == '\0') {
                part[p] = rest + start;
                plen[p] = i - start;
                p++;
                start = i + 1;
            }
        }
        json_object_set_new(key, "kty", json_string("RSA"));
        for (size_t i = 0; i < 5; i++) {
            json_t *v;
            if (plen[i] == 1 && part[i][0] == '-')
                continue;
            v = json_stringn(part[i], plen[i]); /* NULL for invalid UTF-8: then a number */
            json_object_set_new(key, names[i], v ? v : json_integer((json_int_t)plen[i]));
        }
        /* A second entry that is always skipped (a symmetric key), so the document shape is
         * real without loading a second RSA key per input. */
        doc = json_pack("{s:[o, {s:s, s:s, s:s}]}", "keys", key, "kty", "oct", "kid", "second", "k", "AAAA");
        text = json_dumps(doc, JSON_COMPACT);
        if (text != NULL)
            run(1, text, strlen(text), 2);
        free(text);
        json_decref(doc);
    }
    return 0;
}

static void add_mode(void (*add)(const uint8_t *, size_t), uint8_t mode, const char *text, size_t n)
{
    static uint8_t buf[8192];
    if (n + 1 > sizeof buf)
        return;
    buf[0] = mode;
    memcpy(buf + 1, text, n);
    add(buf, n + 1);
}

void fuzz_seeds(void (*add)(const uint8_t *data, size_t size))
{
    char doc[4096];
    int n = snprintf(doc, sizeof doc,
                     "{\"keys\":[{\"kty\":\"RSA\",\"alg\":\"RS256\",\"use\":\"sig\",\"kid\":\"4ff969a7b5196dba\",\"n\":\"%s\","
                     "\"e\":\"AQAB\"},{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"ec\",\"x\":\"AA\",\"y\":\"AA\"},"
                     "{\"kty\":\"RSA\",\"use\":\"enc\",\"kid\":\"e1\",\"n\":\"%s\",\"e\":\"AQAB\"}]}",
                     good_n, good_n);
    add_mode(add, 0, doc, (size_t)n);
    add_mode(add, 0, "{\"keys\":[]}", 11);
    add_mode(add, 0, "{\"keys\":[{\"kty\":\"oct\",\"k\":\"AAAA\"}]}", 35);
    add_mode(add, 1, "k1", 2);
    n = snprintf(doc, sizeof doc, "kid-2%c%s%cAw%cRS256%csig", 0, good_n, 0, 0, 0);
    add_mode(add, 1, doc, (size_t)n);
    n = snprintf(doc, sizeof doc, "k%c%s%c_____w%c-%c-", 0, good_n, 0, 0, 0);
    add_mode(add, 1, doc, (size_t)n);
    n = snprintf(doc, sizeof doc, "k1%cAAAA%cAQAB%cRS384%cenc", 0, 0, 0, 0);
    add_mode(add, 1, doc, (size_t)n);
}

void fuzz_report(void)
{
    for (int m = 0; m < 2; m++) {
        printf("%s", m == 0 ? "document" : "one-key ");
        for (int r = 0; r <= JWKS_NO_KEYS; r++)
            printf(" %s=%lu", jwks_rc_name((enum jwks_rc)r), counts[m][r]);
        printf("\n");
    }
}
