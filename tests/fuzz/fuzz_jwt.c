/*
 * fuzz_jwt.c - fuzz target for jwt_verify_hs256().
 *
 * The first byte picks how the rest is used, so that mutated inputs reach every stage and
 * not only the signature check (which stops almost every random token):
 *   0: the rest is a token, verified as is;
 *   1: the rest is the signing input "header.payload"; the target appends the correct
 *      signature, so the header rules and the payload parser are exercised;
 *   2: the rest is a payload (JSON text); the target adds our header and signature, so the
 *      claim rules see arbitrary JSON.
 * Invariants (abort() when broken): claims are returned exactly on JWT_OK, are an object
 * with an integer exp after now; a verified token fails under another key; claims that
 * verified re-sign into a token that verifies to equal claims.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/encode.h"
#include "crypto/hash.h"
#include "crypto/jwt.h"
#include "crypto/random.h"
#include "fuzz.h"

static const unsigned char key[] = "fuzzing key: 32 bytes of secret";
static const unsigned char other_key[] = "a different key of the same size";
#define NOW 1700000000LL
#define SKEW 30
static const char our_header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";

static unsigned long counts[3][JWT_NOT_YET + 1];

static void ensure_init(void)
{
    static int done;
    if (!done) {
        if (crypto_init() != 0)
            abort();
        done = 1;
    }
}

static enum jwt_rc check(const char *tok, size_t len)
{
    json_t *claims = NULL;
    enum jwt_rc rc = jwt_verify_hs256(tok, len, key, sizeof key - 1, NOW, SKEW, &claims);

    if ((rc == JWT_OK) != (claims != NULL))
        abort();
    if (rc == JWT_OK) {
        json_t *exp = json_object_get(claims, "exp"), *again = NULL;
        char *resigned;
        if (!json_is_object(claims) || !json_is_integer(exp) || json_integer_value(exp) <= NOW)
            abort();
        if (jwt_verify_hs256(tok, len, other_key, sizeof other_key - 1, NOW, SKEW, NULL) != JWT_BAD_SIG)
            abort();
        resigned = jwt_sign_hs256(claims, key, sizeof key - 1);
        if (resigned != NULL) { /* NULL only when the compact form is over the limit */
            if (jwt_verify_hs256(resigned, strlen(resigned), key, sizeof key - 1, NOW, SKEW, &again) != JWT_OK ||
                !json_equal(claims, again))
                abort();
            json_decref(again);
            free(resigned);
        }
        json_decref(claims);
    }
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Room for a payload of JWT_MAX_LEN bytes in base64url plus header and signature. */
    static char tok[JWT_MAX_LEN * 2 + 128];
    const char *rest = (const char *)data + 1;
    size_t n = size ? size - 1 : 0, o;
    unsigned char mac[32];
    unsigned mode;

    ensure_init();
    if (size == 0)
        return 0;
    mode = data[0] % 3;
    switch (mode) {
    case 0: {
        /* Copy so that reading one byte past the given length is caught by ASan. */
        char *exact = malloc(n ? n : 1);
        if (exact == NULL)
            abort();
        memcpy(exact, rest, n);
        counts[0][check(exact, n)]++;
        free(exact);
        break;
    }
    case 1:
        if (n > JWT_MAX_LEN)
            return 0;
        memcpy(tok, rest, n);
        hmac_sha256(key, sizeof key - 1, tok, n, mac);
        tok[n] = '.';
        o = n + 1 + b64url_encode(mac, 32, tok + n + 1);
        counts[1][check(tok, o)]++;
        break;
    default:
        if (n > JWT_MAX_LEN)
            return 0;
        o = b64url_encode(our_header, sizeof our_header - 1, tok);
        tok[o++] = '.';
        o += b64url_encode(rest, n, tok + o);
        hmac_sha256(key, sizeof key - 1, tok, o, mac);
        tok[o++] = '.';
        o += b64url_encode(mac, 32, tok + o);
        counts[2][check(tok, o)]++;
        break;
    }
    return 0;
}

/* Adds mode byte + text. */
static void add_text(void (*add)(const uint8_t *, size_t), uint8_t mode, const char *text)
{
    uint8_t buf[JWT_MAX_LEN + 1];
    size_t n = strlen(text);
    if (n > JWT_MAX_LEN)
        return;
    buf[0] = mode;
    memcpy(buf + 1, text, n);
    add(buf, n + 1);
}

void fuzz_seeds(void (*add)(const uint8_t *data, size_t size))
{
    static const char *payloads[] = {
        "{\"sub\":\"usr_01HZX\",\"exp\":1700000900,\"iat\":1700000000,\"typ\":\"access\",\"jti\":\"abc\"}",
        "{\"exp\":1700000001,\"nbf\":1700000030}",
        "{\"exp\":1700000900,\"nbf\":1700000031,\"iat\":-1}",
        "{\"exp\":1.7e9,\"a\":[1,2,{\"b\":null}],\"c\":\"\\u00e9\\ud83d\\ude00\"}",
        "{\"iss\":\"joe\",\r\n \"exp\":1300819380,\r\n \"http://example.com/is_root\":true}",
    };
    static const char *headers[] = {
        "{\"alg\":\"HS256\",\"typ\":\"JWT\"}",
        "{\"typ\":\"JWT\",\r\n \"alg\":\"HS256\"}",
        "{\"alg\":\"none\"}",
        "{\"alg\":\"HS256\",\"crit\":[\"x\"],\"kid\":\"k\"}",
    };
    char text[JWT_MAX_LEN + 1];
    size_t i, j;

    ensure_init();
    for (i = 0; i < sizeof payloads / sizeof payloads[0]; i++) {
        json_t *claims = json_loads(payloads[i], 0, NULL);
        char *tok = claims ? jwt_sign_hs256(claims, key, sizeof key - 1) : NULL;
        if (tok != NULL)
            add_text(add, 0, tok);
        free(tok);
        json_decref(claims);
        add_text(add, 2, payloads[i]);
        for (j = 0; j < sizeof headers / sizeof headers[0]; j++) {
            size_t o = b64url_encode(headers[j], strlen(headers[j]), text);
            text[o++] = '.';
            b64url_encode(payloads[i], strlen(payloads[i]), text + o);
            add_text(add, 1, text);
        }
    }
}

void fuzz_report(void)
{
    static const char *mode_names[] = {"as-is", "re-signed", "payload"};
    int m, r;
    for (m = 0; m < 3; m++) {
        printf("%-9s", mode_names[m]);
        for (r = 0; r <= JWT_NOT_YET; r++)
            printf(" %s=%lu", jwt_rc_name((enum jwt_rc)r), counts[m][r]);
        printf("\n");
    }
}
