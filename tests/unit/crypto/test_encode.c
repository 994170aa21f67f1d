/* Unit tests for src/crypto/encode.c: base64url, base64, hex, base62. */
#include "../test.h"

#include <stdlib.h>

#include "crypto/encode.h"

/* RFC 4648 section 10 test vectors (BASE64 column; base64url is the same without '='
 * for these inputs, as none of them produce '+' or '/'). */
static const struct {
    const char *in, *b64, *b64url;
} rfc4648[] = {
    {"", "", ""},
    {"f", "Zg==", "Zg"},
    {"fo", "Zm8=", "Zm8"},
    {"foo", "Zm9v", "Zm9v"},
    {"foob", "Zm9vYg==", "Zm9vYg"},
    {"fooba", "Zm9vYmE=", "Zm9vYmE"},
    {"foobar", "Zm9vYmFy", "Zm9vYmFy"},
};

static long url_dec(const char *s, unsigned char *out, size_t cap)
{
    return b64url_decode(s, strlen(s), out, cap);
}

static long std_dec(const char *s, unsigned char *out, size_t cap)
{
    return b64_decode(s, strlen(s), out, cap);
}

static void test_rfc4648(void)
{
    char text[64];
    unsigned char bin[64];
    size_t i;

    for (i = 0; i < sizeof rfc4648 / sizeof rfc4648[0]; i++) {
        const char *in = rfc4648[i].in;
        size_t n = strlen(in);
        long got;

        CHECK_INT_EQ(b64_encode(in, n, text), strlen(rfc4648[i].b64), "b64 length of \"%s\"", in);
        CHECK_STR_EQ(text, rfc4648[i].b64, "RFC 4648 base64(\"%s\")", in);
        CHECK_INT_EQ(b64_encoded_len(n), strlen(rfc4648[i].b64), "b64_encoded_len(%zu)", n);
        got = std_dec(rfc4648[i].b64, bin, sizeof bin);
        CHECK(got == (long)n && memcmp(bin, in, n) == 0, "RFC 4648 base64 decode \"%s\"", rfc4648[i].b64);

        CHECK_INT_EQ(b64url_encode(in, n, text), strlen(rfc4648[i].b64url), "b64url length of \"%s\"", in);
        CHECK_STR_EQ(text, rfc4648[i].b64url, "RFC 4648 base64url(\"%s\")", in);
        CHECK_INT_EQ(b64url_encoded_len(n), strlen(rfc4648[i].b64url), "b64url_encoded_len(%zu)", n);
        got = url_dec(rfc4648[i].b64url, bin, sizeof bin);
        CHECK(got == (long)n && memcmp(bin, in, n) == 0, "RFC 4648 base64url decode \"%s\"", rfc4648[i].b64url);
    }
}

static void test_alphabets(void)
{
    /* 0xfb 0xff 0xbf encodes to the last two symbols of each alphabet (RFC 4648 table 1/2). */
    static const unsigned char hi[] = {0xfb, 0xff, 0xbf};
    char text[16];
    unsigned char bin[16];

    b64url_encode(hi, 3, text);
    CHECK_STR_EQ(text, "-_-_", "base64url uses '-' and '_'");
    b64_encode(hi, 3, text);
    CHECK_STR_EQ(text, "+/+/", "base64 uses '+' and '/'");
    CHECK(url_dec("-_-_", bin, sizeof bin) == 3 && memcmp(bin, hi, 3) == 0, "base64url decodes '-_'");
    CHECK(std_dec("+/+/", bin, sizeof bin) == 3 && memcmp(bin, hi, 3) == 0, "base64 decodes '+/'");
    CHECK_INT_EQ(url_dec("+/+/", bin, sizeof bin), -1, "base64url rejects '+' and '/'");
    CHECK_INT_EQ(std_dec("-_-_", bin, sizeof bin), -1, "base64 rejects '-' and '_'");

    /* Every byte value: only the 64 alphabet characters are accepted in any position. */
    {
        static const char url_alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        static const char std_alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        int c, pos, bad_url = 0, bad_std = 0;
        for (c = 0; c < 256; c++) {
            int in_url = c != 0 && strchr(url_alpha, c) != NULL;
            int in_std = c != 0 && strchr(std_alpha, c) != NULL;
            for (pos = 0; pos < 4; pos++) {
                char q[4] = {'A', 'A', 'A', 'A'};
                q[pos] = (char)c;
                if ((b64url_decode(q, 4, bin, sizeof bin) == 3) != in_url)
                    bad_url++;
                if ((b64_decode(q, 4, bin, sizeof bin) == 3) != in_std)
                    bad_std++;
            }
            /* and the value is the character's index */
            if (in_url) {
                char q[4] = {(char)c, 'A', 'A', 'A'};
                b64url_decode(q, 4, bin, sizeof bin);
                if (bin[0] >> 2 != (unsigned)(strchr(url_alpha, c) - url_alpha))
                    bad_url++;
            }
        }
        CHECK_INT_EQ(bad_url, 0, "base64url accepts exactly its alphabet, with the right values");
        CHECK_INT_EQ(bad_std, 0, "base64 accepts exactly its alphabet");
    }
}

static void test_strict(void)
{
    unsigned char bin[64];

    CHECK_INT_EQ(url_dec("Zg==", bin, sizeof bin), -1, "base64url rejects padding");
    CHECK_INT_EQ(url_dec("Zg=", bin, sizeof bin), -1, "base64url rejects a single '='");
    CHECK_INT_EQ(url_dec("Zm9v YmFy", bin, sizeof bin), -1, "base64url rejects a space");
    CHECK_INT_EQ(url_dec("Zm9v\nYmFy", bin, sizeof bin), -1, "base64url rejects a newline");
    CHECK_INT_EQ(url_dec("Zm9vY", bin, sizeof bin), -1, "base64url rejects length %% 4 == 1");
    CHECK_INT_EQ(url_dec("Z", bin, sizeof bin), -1, "base64url rejects a lone character");
    CHECK_INT_EQ(url_dec("Zh", bin, sizeof bin), -1, "base64url rejects non-zero trailing bits (2 chars)");
    CHECK_INT_EQ(url_dec("Zm9", bin, sizeof bin), -1, "base64url rejects non-zero trailing bits (3 chars)");
    CHECK_INT_EQ(url_dec("Zm8", bin, sizeof bin), 2, "base64url accepts the canonical spelling");
    CHECK_INT_EQ(b64url_decode("Zm\0v", 4, bin, sizeof bin), -1, "base64url rejects NUL");
    CHECK_INT_EQ(url_dec("Zm9vYmFy", bin, 5), -1, "base64url rejects output over cap (no truncation)");
    CHECK_INT_EQ(url_dec("Zm9vYmFy", bin, 6), 6, "base64url fits exactly in cap");
    CHECK_INT_EQ(b64url_decode("", 0, bin, 0), 0, "base64url decodes empty text");

    CHECK_INT_EQ(std_dec("Zg", bin, sizeof bin), -1, "base64 requires padding");
    CHECK_INT_EQ(std_dec("Zg=", bin, sizeof bin), -1, "base64 requires full padding");
    CHECK_INT_EQ(std_dec("Z===", bin, sizeof bin), -1, "base64 rejects three '='");
    CHECK_INT_EQ(std_dec("====", bin, sizeof bin), -1, "base64 rejects only padding");
    CHECK_INT_EQ(std_dec("Zg==Zg==", bin, sizeof bin), -1, "base64 rejects inner padding");
    CHECK_INT_EQ(std_dec("Z=g=", bin, sizeof bin), -1, "base64 rejects '=' before data");
    CHECK_INT_EQ(std_dec("Zh==", bin, sizeof bin), -1, "base64 rejects non-zero trailing bits (==)");
    CHECK_INT_EQ(std_dec("Zm9=", bin, sizeof bin), -1, "base64 rejects non-zero trailing bits (=)");
    CHECK_INT_EQ(std_dec("Zm9v\r\n", bin, sizeof bin), -1, "base64 rejects CRLF");
    CHECK_INT_EQ(std_dec(" Zm9v", bin, sizeof bin), -1, "base64 rejects leading space");
    CHECK_INT_EQ(std_dec("Zm9vYg==", bin, 3), -1, "base64 rejects output over cap");
    CHECK_INT_EQ(std_dec("Zm9vYg==", bin, 4), 4, "base64 fits exactly in cap");
}

static void test_roundtrip(void)
{
    unsigned char data[300], back[300];
    char text[512];
    size_t n;
    int bad = 0;

    for (n = 0; n < sizeof data; n++)
        data[n] = (unsigned char)(n * 7 + 3);
    for (n = 0; n <= sizeof data; n++) {
        size_t t = b64url_encode(data, n, text);
        if (t != b64url_encoded_len(n) || b64url_decode(text, t, back, n) != (long)n || memcmp(back, data, n))
            bad++;
        t = b64_encode(data, n, text);
        if (t != b64_encoded_len(n) || b64_decode(text, t, back, n) != (long)n || memcmp(back, data, n))
            bad++;
    }
    CHECK_INT_EQ(bad, 0, "encode -> decode round trips for lengths 0..300 (both alphabets)");
}

static void test_hex(void)
{
    static const unsigned char b[] = {0x00, 0xff, 0x10, 0xab};
    unsigned char out[4];
    char text[9];

    hex_encode(b, 4, text);
    CHECK_STR_EQ(text, "00ff10ab", "hex_encode is lower case");
    CHECK(hex_decode("00FF10aB", 8, out, 4) == 0 && memcmp(out, b, 4) == 0, "hex_decode takes either case");
    CHECK_INT_EQ(hex_decode("00ff10a", 7, out, 4), -1, "hex_decode rejects odd length");
    CHECK_INT_EQ(hex_decode("00ff10ab00", 10, out, 4), -1, "hex_decode rejects too long input");
    CHECK_INT_EQ(hex_decode("00ff10ag", 8, out, 4), -1, "hex_decode rejects non-hex");
    CHECK_INT_EQ(hex_decode("00ff 0ab", 8, out, 4), -1, "hex_decode rejects space");
    CHECK_INT_EQ(hex_decode("", 0, out, 0), 0, "hex_decode of nothing");
}

/* Test-side inverse of base62_encode (a different algorithm: multiply the big-endian
 * byte array by 62 and add each digit), so the round trip checks the conversion. */
static int base62_decode(const char *s, unsigned char *out, size_t n)
{
    static const char alphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    size_t i;
    memset(out, 0, n);
    for (; *s; s++) {
        const char *p = strchr(alphabet, *s);
        unsigned carry;
        if (p == NULL)
            return -1;
        carry = (unsigned)(p - alphabet);
        for (i = n; i-- > 0;) {
            unsigned v = out[i] * 62u + carry;
            out[i] = (unsigned char)v;
            carry = v >> 8;
        }
        if (carry)
            return -1;
    }
    return 0;
}

static void test_base62(void)
{
    unsigned char b[32], back[32];
    char text[64];
    int i, bad = 0;

    memset(b, 0, sizeof b);
    CHECK(base62_encode(b, 32, text, 43) == 0 && strlen(text) == 43 && strspn(text, "0") == 43,
          "zero bytes encode as all '0'");
    CHECK(base62_encode((const unsigned char *)"\x01\x00", 2, text, 2) == 0, "256 fits in 2 chars");
    CHECK_STR_EQ(text, "48", "256 = 4*62 + 8");
    CHECK(base62_encode((const unsigned char *)"\x3e", 1, text, 3) == 0, "62 fits in 3 chars");
    CHECK_STR_EQ(text, "010", "62 is '10', left-padded");
    CHECK(base62_encode((const unsigned char *)"\xff", 1, text, 2) == 0, "255 fits in 2 chars");
    CHECK_STR_EQ(text, "47", "255 = 4*62 + 7");
    CHECK(base62_encode((const unsigned char *)"\x3d", 1, text, 1) == 0, "61 fits in 1 char");
    CHECK_STR_EQ(text, "z", "61 is 'z'");
    CHECK_INT_EQ(base62_encode((const unsigned char *)"\x3e", 1, text, 1), -1, "62 does not fit in 1 char");
    CHECK_STR_EQ(text, "", "out is empty on overflow");

    memset(b, 0xff, sizeof b);
    /* 62^43 > 2^256 > 62^42 */
    CHECK(base62_encode(b, 32, text, 43) == 0 && strlen(text) == 43, "2^256-1 fits in 43 chars");
    CHECK(base62_decode(text, back, 32) == 0 && memcmp(back, b, 32) == 0, "2^256-1 round trips");
    CHECK_INT_EQ(base62_encode(b, 32, text, 42), -1, "2^256-1 does not fit in 42 chars");

    for (i = 0; i < 200; i++) {
        size_t j;
        for (j = 0; j < 32; j++)
            b[j] = (unsigned char)(rand() & 0xff);
        if (base62_encode(b, 32, text, 43) != 0 || strlen(text) != 43 ||
            strspn(text, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") != 43 ||
            base62_decode(text, back, 32) != 0 || memcmp(back, b, 32) != 0)
            bad++;
    }
    CHECK_INT_EQ(bad, 0, "200 random 32-byte keys encode to 43 chars and round trip");
}

static void test_pct(void)
{
    char out[256];
    const char raw[] = "a b&c=d/e?f+g%h~i.j_k-l\xe5\x9c\x8b";

    CHECK_INT_EQ(pct_encode("", 0, out), 0, "pct: empty");
    CHECK_STR_EQ(out, "", "pct: empty is empty");
    CHECK_INT_EQ(pct_encode(raw, sizeof raw - 1, out), pct_encoded_len(raw, sizeof raw - 1), "pct: length agrees");
    CHECK_STR_EQ(out, "a%20b%26c%3Dd%2Fe%3Ff%2Bg%25h~i.j_k-l%E5%9C%8B", "pct: reserved, space and UTF-8 bytes encoded");
    CHECK_INT_EQ(pct_encode("AZaz09-._~", 10, out), 10, "pct: unreserved kept");
    CHECK_STR_EQ(out, "AZaz09-._~", "pct: unreserved unchanged");
    CHECK_INT_EQ(pct_encode("\0\n", 2, out), 6, "pct: NUL and newline");
    CHECK_STR_EQ(out, "%00%0A", "pct: control bytes encoded");
    CHECK_STR_EQ((pct_encode("https://x.test/cb?a=1", 21, out), out), "https%3A%2F%2Fx.test%2Fcb%3Fa%3D1",
                 "pct: a redirect_uri value");

    /* Decoding: form bodies (Alipay notifications) and query strings. */
    {
        char enc[256];
        size_t n = pct_encode(raw, sizeof raw - 1, enc);
        CHECK_INT_EQ(pct_decode(enc, n, out, 1), (long)(sizeof raw - 1), "pct_decode: round trip length");
        CHECK(memcmp(out, raw, sizeof raw - 1) == 0, "pct_decode: round trip bytes");
    }
    CHECK_INT_EQ(pct_decode("a+b%2Bc%2bd", 11, out, 1), 7, "pct_decode: plus is a space, escaped plus (either case) a plus");
    CHECK_STR_EQ(out, "a b+c+d", "pct_decode: form decoding");
    CHECK_INT_EQ(pct_decode("a+b", 3, out, 0), 3, "pct_decode: '+' kept without plus_space");
    CHECK_STR_EQ(out, "a+b", "pct_decode: literal plus");
    CHECK_INT_EQ(pct_decode("%4", 2, out, 1), -1, "pct_decode: truncated escape refused");
    CHECK_INT_EQ(pct_decode("ab%", 3, out, 1), -1, "pct_decode: lone percent refused");
    CHECK_INT_EQ(pct_decode("%G1", 3, out, 1), -1, "pct_decode: non-hex escape refused");
    CHECK_INT_EQ(pct_decode("a%00b", 5, out, 1), -1, "pct_decode: an escaped NUL refused");
    CHECK_INT_EQ(pct_decode("a\0b", 3, out, 1), -1, "pct_decode: a raw NUL refused");
    CHECK_INT_EQ(pct_decode("", 0, out, 1), 0, "pct_decode: empty");
}

int main(void)
{
    test_rfc4648();
    test_alphabets();
    test_strict();
    test_roundtrip();
    test_hex();
    test_base62();
    test_pct();
    return test_done();
}
