/*
 * password.c - argon2id password hashing through libsodium's crypto_pwhash.
 */
#include "crypto/password.h"

#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include "crypto/internal.h"

_Static_assert(PASSWORD_HASH_MAX == crypto_pwhash_STRBYTES, "PASSWORD_HASH_MAX must match libsodium");

/* libsodium's "interactive" limits: 2 passes over 64 MiB, the values its documentation
 * recommends for online logins. Changing them makes password_needs_rehash() upgrade old
 * hashes on the next successful login. */
#define PW_OPSLIMIT crypto_pwhash_OPSLIMIT_INTERACTIVE
#define PW_MEMLIMIT crypto_pwhash_MEMLIMIT_INTERACTIVE

static const char argon2id_prefix[] = "$argon2id$";

static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;
static char dummy_hash[PASSWORD_HASH_MAX];
static int dummy_ok;

static void dummy_make(void)
{
    unsigned char pw[32];
    /* A random password nobody knows: the dummy can never match anything. */
    randombytes_buf(pw, sizeof pw);
    dummy_ok = password_hash((const char *)pw, sizeof pw, dummy_hash) == 0;
    sodium_memzero(pw, sizeof pw);
}

int password_dummy_init(void)
{
    pthread_once(&dummy_once, dummy_make);
    return dummy_ok ? 0 : -1;
}

/* 1 if encoded is a NUL-terminated string shorter than PASSWORD_HASH_MAX that names
 * argon2id: the only algorithm we accept, and bounded before libsodium runs strlen on it. */
static int is_argon2id(const char *encoded)
{
    return encoded != NULL && strnlen(encoded, PASSWORD_HASH_MAX) < PASSWORD_HASH_MAX &&
           strncmp(encoded, argon2id_prefix, sizeof argon2id_prefix - 1) == 0;
}

int password_hash(const char *pw, size_t len, char out[PASSWORD_HASH_MAX])
{
    if (crypto_pwhash_str_alg(out, pw, len, PW_OPSLIMIT, PW_MEMLIMIT, crypto_pwhash_ALG_ARGON2ID13) != 0) {
        out[0] = '\0';
        return -1;
    }
    return 0;
}

int password_verify(const char *encoded, const char *pw, size_t len)
{
    if (!is_argon2id(encoded))
        return 0;
    return crypto_pwhash_str_verify(encoded, pw, len) == 0;
}

int password_verify_dummy(const char *pw, size_t len)
{
    if (password_dummy_init() == 0) {
        /* The result is meaningless (nobody knows the dummy's password); only the time
         * spent matters. */
        int ignored = crypto_pwhash_str_verify(dummy_hash, pw, len);
        (void)ignored;
    } else {
        /* No dummy (it could not be made at start-up): hashing costs the same as a
         * verification, so the timing still matches a real account. */
        char tmp[PASSWORD_HASH_MAX];
        (void)password_hash(pw, len, tmp);
    }
    return 0;
}

/* Parses a decimal uint32 at *p (1-10 digits, no leading '+'/'-') and advances *p.
 * Returns 0 or -1. */
static int parse_u32(const char **p, uint32_t *out)
{
    uint64_t v = 0;
    int n = 0;
    while (**p >= '0' && **p <= '9' && n < 11) {
        v = v * 10 + (uint64_t)(**p - '0');
        (*p)++;
        n++;
    }
    if (n == 0 || n > 10 || v > UINT32_MAX)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

/* Reads the cost parameters of "$argon2id$v=19$m=M,t=T,p=P$...". Returns 0 or -1. */
static int parse_params(const char *s, uint32_t *m, uint32_t *t)
{
    static const char head[] = "$argon2id$v=19$m=";
    uint32_t p;
    if (strncmp(s, head, sizeof head - 1) != 0)
        return -1;
    s += sizeof head - 1;
    if (parse_u32(&s, m) != 0 || strncmp(s, ",t=", 3) != 0)
        return -1;
    s += 3;
    if (parse_u32(&s, t) != 0 || strncmp(s, ",p=", 3) != 0)
        return -1;
    s += 3;
    if (parse_u32(&s, &p) != 0 || *s != '$')
        return -1;
    return 0;
}

int password_needs_rehash(const char *encoded)
{
    uint32_t m, t;
    int rc;

    if (!is_argon2id(encoded))
        return 1;
    rc = crypto_pwhash_str_needs_rehash(encoded, PW_OPSLIMIT, PW_MEMLIMIT);
    if (rc == 0)
        return 0;
    if (rc < 0 || parse_params(encoded, &m, &t) != 0)
        return 1;
    /* libsodium answers 1 for any difference; keep hashes that are stronger than ours
     * (an operator who lowers the limits should not weaken existing hashes). */
    return m < PW_MEMLIMIT / 1024u || t < PW_OPSLIMIT;
}
