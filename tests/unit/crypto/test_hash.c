/* Unit tests for src/crypto/hash.c: SHA-256 (FIPS 180-2 examples), HMAC-SHA256 (RFC 4231),
 * constant-time compare. */
#include "../test.h"

#include "crypto/encode.h"
#include "crypto/hash.h"
#include "crypto/random.h"

static void check_sha256(const char *msg, const char *want_hex)
{
    unsigned char d[32];
    char hex[65];
    sha256(msg, strlen(msg), d);
    hex_encode(d, 32, hex);
    CHECK_STR_EQ(hex, want_hex, "SHA-256(\"%s\")", msg);
}

static void check_hmac(const char *name, const unsigned char *key, size_t keylen, const void *data, size_t n,
                       const char *want_hex)
{
    unsigned char d[32];
    char hex[65];
    hmac_sha256(key, keylen, data, n, d);
    hex_encode(d, 32, hex);
    CHECK_STR_EQ(hex, want_hex, "HMAC-SHA256 %s", name);
}

static void test_hmac(void)
{
    unsigned char key[131], data[50];
    size_t i;

    memset(key, 0x0b, 20);
    check_hmac("RFC 4231 test case 1", key, 20, "Hi There", 8,
               "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    check_hmac("RFC 4231 test case 2", (const unsigned char *)"Jefe", 4, "what do ya want for nothing?", 28,
               "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    memset(key, 0xaa, 20);
    memset(data, 0xdd, 50);
    check_hmac("RFC 4231 test case 3", key, 20, data, 50,
               "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe");
    for (i = 0; i < 25; i++)
        key[i] = (unsigned char)(i + 1);
    memset(data, 0xcd, 50);
    check_hmac("RFC 4231 test case 4", key, 25, data, 50,
               "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b");
    memset(key, 0xaa, 131);
    check_hmac("RFC 4231 test case 6 (131-byte key)", key, 131,
               "Test Using Larger Than Block-Size Key - Hash Key First", 54,
               "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

static void test_ct_equal(void)
{
    CHECK(ct_equal("abcdef", "abcdef", 6) == 1, "ct_equal: equal");
    CHECK(ct_equal("abcdef", "abcdeg", 6) == 0, "ct_equal: last byte differs");
    CHECK(ct_equal("xbcdef", "abcdef", 6) == 0, "ct_equal: first byte differs");
    CHECK(ct_equal("a", "b", 0) == 1, "ct_equal: zero length is equal");
    /* Every length 1..40 (whole words and tails) with one bit flipped at every position. */
    unsigned char x[40], y[40];
    int all = 1;
    for (size_t n = 1; n <= sizeof x; n++)
        for (size_t at = 0; at < n; at++)
            for (int bit = 0; bit < 8; bit++) {
                for (size_t i = 0; i < n; i++)
                    x[i] = y[i] = (unsigned char)(i * 37 + n);
                if (!ct_equal(x, y, n))
                    all = 0;
                y[at] ^= (unsigned char)(1u << bit);
                if (ct_equal(x, y, n))
                    all = 0;
            }
    CHECK(all, "ct_equal: any single differing bit in 1..40 bytes is found; equal buffers are equal");
}

static void test_random(void)
{
    unsigned char a[32], b[32], zero[32] = {0};
    rand_bytes(a, sizeof a);
    rand_bytes(b, sizeof b);
    CHECK(memcmp(a, b, 32) != 0 && memcmp(a, zero, 32) != 0, "rand_bytes gives different, non-zero output");
}

int main(void)
{
    CHECK(crypto_init() == 0, "crypto_init");
    CHECK(crypto_init() == 0, "crypto_init again is harmless");
    check_sha256("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    check_sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
                 "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    check_sha256("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    test_hmac();
    test_ct_equal();
    test_random();
    return test_done();
}
