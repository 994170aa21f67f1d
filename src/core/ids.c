#include "core/ids.h"

#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "core/timeutil.h"

static const char id_alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/*
 * Random bytes for ids, drawn from libsodium 320 at a time per thread. randombytes_buf is a
 * getrandom(2) system call per use, and the writer thread makes two ids per credit
 * adjustment (ledger entry, audit row): at ten thousand a second the calls showed as a tenth
 * of the system time in a profile. Ids are unique names, not secrets (tokens and keys take
 * their own bytes from rand_bytes), and nothing forks, so a per-thread reserve is safe.
 */
#define ID_POOL_BYTES 320
static _Thread_local unsigned char id_pool[ID_POOL_BYTES];
static _Thread_local size_t id_pool_left;

static void id_random(unsigned char out[10])
{
    if (id_pool_left < 10) {
        randombytes_buf(id_pool, sizeof id_pool);
        id_pool_left = sizeof id_pool;
    }
    memcpy(out, id_pool + sizeof id_pool - id_pool_left, 10);
    /* Used bytes are not kept around for anyone to read back. */
    memset(id_pool + sizeof id_pool - id_pool_left, 0, 10);
    id_pool_left -= 10;
}

/* Writes prefix + '_' + 26 symbols: 48 bits of t, then the 80 bits of b. */
static char *id_encode(char out[TG_ID_MAX], const char *prefix, uint64_t t, const unsigned char b[10])
{
    size_t plen = strlen(prefix);
    if (plen > 8)
        plen = 8;
    memcpy(out, prefix, plen);
    out[plen] = '_';
    char *p = out + plen + 1;
    t &= 0xFFFFFFFFFFFFULL;
    for (int i = 9; i >= 0; i--) {
        p[i] = id_alphabet[t & 31];
        t >>= 5;
    }
    /* 80 bits -> 16 symbols of 5 bits. */
    uint64_t hi = 0, lo = 0;
    for (int i = 0; i < 5; i++)
        hi = (hi << 8) | b[i];
    for (int i = 5; i < 10; i++)
        lo = (lo << 8) | b[i];
    for (int i = 7; i >= 0; i--) {
        p[10 + i] = id_alphabet[hi & 31];
        hi >>= 5;
        p[18 + i] = id_alphabet[lo & 31];
        lo >>= 5;
    }
    p[26] = '\0';
    return out;
}

char *id_new_at(char out[TG_ID_MAX], const char *prefix, int64_t ms)
{
    unsigned char rnd[10];
    id_random(rnd);
    return id_encode(out, prefix, (uint64_t)ms, rnd);
}

char *id_from_bytes(char out[TG_ID_MAX], const char *prefix, const unsigned char b[16])
{
    uint64_t t = 0;
    for (int i = 0; i < 6; i++)
        t = (t << 8) | b[i];
    return id_encode(out, prefix, t, b + 6);
}

char *id_new(char out[TG_ID_MAX], const char *prefix)
{
    return id_new_at(out, prefix, time_now_ms());
}

int id_valid(const char *s, const char *prefix)
{
    if (s == NULL)
        return 0;
    size_t plen = strlen(prefix);
    if (strncmp(s, prefix, plen) != 0 || s[plen] != '_')
        return 0;
    const char *p = s + plen + 1;
    if (strlen(p) != 26)
        return 0;
    for (int i = 0; i < 26; i++)
        if (strchr(id_alphabet, p[i]) == NULL || p[i] == '\0')
            return 0;
    return 1;
}
