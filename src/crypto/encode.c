/*
 * encode.c - base64url, base64, hex, base62 and percent-encoding (see encode.h).
 *
 * Written here rather than taken from libsodium's sodium_base642bin so that one strict
 * decoder serves both alphabets with the exact rejection rules the JWT code relies on, and
 * is fast enough for the token on every request (see the tables below).
 */
#include "crypto/encode.h"

#include <limits.h>
#include <stdint.h>

static const char b64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t b64url_encoded_len(size_t n)
{
    /* 4 characters per 3 bytes; a final 1 or 2 bytes take 2 or 3 characters. */
    static const size_t tail[3] = {0, 2, 3};
    return n / 3 * 4 + tail[n % 3];
}

size_t b64_encoded_len(size_t n)
{
    return (n + 2) / 3 * 4;
}

/* Encodes without padding; returns the number of characters written (no NUL). */
static size_t encode_core(const unsigned char *in, size_t n, char *out, const char *alpha)
{
    size_t i = 0, o = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = alpha[v >> 18 & 63];
        out[o++] = alpha[v >> 12 & 63];
        out[o++] = alpha[v >> 6 & 63];
        out[o++] = alpha[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = alpha[v >> 18 & 63];
        out[o++] = alpha[v >> 12 & 63];
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = alpha[v >> 18 & 63];
        out[o++] = alpha[v >> 12 & 63];
        out[o++] = alpha[v >> 6 & 63];
    }
    return o;
}

size_t b64url_encode(const void *in, size_t n, char *out)
{
    size_t o = encode_core(in, n, out, b64url_alphabet);
    out[o] = '\0';
    return o;
}

size_t b64_encode(const void *in, size_t n, char *out)
{
    size_t o = encode_core(in, n, out, b64_alphabet);
    while (o % 4 != 0)
        out[o++] = '=';
    out[o] = '\0';
    return o;
}

/*
 * Value of each byte as a base64 character, or BAD (bit 8 set) outside the alphabet; the
 * decoder ORs the values together and checks bit 8 once per text instead of branching per
 * character. Tables rather than arithmetic because every request's token is decoded here
 * (a masked range computation took 18 percent of a verification). A table indexed by the
 * text can leak through cache timing, which matters only for secret text: the secrets we
 * decode (keys from the configuration) are decoded once, at start-up.
 */
#define BAD 0x100
static const uint16_t b64url_values[256] = {
    BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD,
    BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD,
    BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD,  62, BAD, BAD,
     52,  53,  54,  55,  56,  57,  58,  59,  60,  61, BAD, BAD, BAD, BAD, BAD, BAD,
    BAD,   0,   1,   2,   3,   4,   5,   6,   7,   8,   9,  10,  11,  12,  13,  14,
     15,  16,  17,  18,  19,  20,  21,  22,  23,  24,  25, BAD, BAD, BAD, BAD,  63,
    BAD,  26,  27,  28,  29,  30,  31,  32,  33,  34,  35,  36,  37,  38,  39,  40,
     41,  42,  43,  44,  45,  46,  47,  48,  49,  50,  51, BAD, BAD, BAD, BAD, BAD,
    BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD,
    BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD,
    BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD,
    BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD,
    BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD,
    BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD,
    BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD,
    BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD,
};
static const uint16_t b64_values[256] = {
    BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD,
    BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD,
    BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD,  62, BAD, BAD, BAD,  63,
     52,  53,  54,  55,  56,  57,  58,  59,  60,  61, BAD, BAD, BAD, BAD, BAD, BAD,
    BAD,   0,   1,   2,   3,   4,   5,   6,   7,   8,   9,  10,  11,  12,  13,  14,
     15,  16,  17,  18,  19,  20,  21,  22,  23,  24,  25, BAD, BAD, BAD, BAD, BAD,
    BAD,  26,  27,  28,  29,  30,  31,  32,  33,  34,  35,  36,  37,  38,  39,  40,
     41,  42,  43,  44,  45,  46,  47,  48,  49,  50,  51, BAD, BAD, BAD, BAD, BAD,
    BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD,
    BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD,
    BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD,
    BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD,
    BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD,
    BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD,
    BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD,
    BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD,
};
#undef BAD

/*
 * Decodes unpadded text of either alphabet. Rejects len % 4 == 1 (no byte count gives
 * that length), any character outside the alphabet, and set bits in the unused low bits of
 * the last character (they would make a second spelling of the same bytes).
 */
static long decode_core(const char *in, size_t len, unsigned char *out, size_t cap, const uint16_t *val)
{
    size_t rem = len % 4, full = len - rem;
    size_t outlen = full / 4 * 3 + (rem ? rem - 1 : 0);
    unsigned bad = 0;
    size_t i, o = 0;

    if (rem == 1 || outlen > cap || outlen > (size_t)LONG_MAX)
        return -1;
    for (i = 0; i < full; i += 4) {
        unsigned a = val[(unsigned char)in[i]];
        unsigned b = val[(unsigned char)in[i + 1]];
        unsigned c = val[(unsigned char)in[i + 2]];
        unsigned d = val[(unsigned char)in[i + 3]];
        uint32_t v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 | d;
        bad |= a | b | c | d;
        out[o++] = (unsigned char)(v >> 16);
        out[o++] = (unsigned char)(v >> 8);
        out[o++] = (unsigned char)v;
    }
    if (rem == 2) {
        unsigned a = val[(unsigned char)in[i]];
        unsigned b = val[(unsigned char)in[i + 1]];
        bad |= a | b | (((b & 0x0fu) + 0x0fu) & 0x10u) << 4; /* 4 unused bits must be 0 */
        out[o++] = (unsigned char)(a << 2 | (b & 0xff) >> 4);
    } else if (rem == 3) {
        unsigned a = val[(unsigned char)in[i]];
        unsigned b = val[(unsigned char)in[i + 1]];
        unsigned c = val[(unsigned char)in[i + 2]];
        bad |= a | b | c | (((c & 0x03u) + 0x03u) & 0x04u) << 6; /* 2 unused bits must be 0 */
        out[o++] = (unsigned char)(a << 2 | (b & 0xff) >> 4);
        out[o++] = (unsigned char)(b << 4 | (c & 0xff) >> 2);
    }
    return (bad & 0x100) ? -1 : (long)o;
}

long b64url_decode(const char *in, size_t len, void *out, size_t cap)
{
    return decode_core(in, len, out, cap, b64url_values);
}

long b64_decode(const char *in, size_t len, void *out, size_t cap)
{
    size_t pad = 0;

    if (len % 4 != 0)
        return -1;
    /* At most two '=' and only at the very end; a third (or an inner) '=' falls through
     * to decode_core, which rejects it as outside the alphabet. */
    if (len >= 4 && in[len - 1] == '=') {
        pad = 1;
        if (in[len - 2] == '=')
            pad = 2;
    }
    return decode_core(in, len - pad, out, cap, b64_values);
}

static void hex_with(const char digits[16], const void *in, size_t n, char *out)
{
    const unsigned char *p = in;
    size_t i;
    for (i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

void hex_encode(const void *in, size_t n, char *out) { hex_with("0123456789abcdef", in, n, out); }

void hex_encode_upper(const void *in, size_t n, char *out) { hex_with("0123456789ABCDEF", in, n, out); }

int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int hex_decode(const char *in, size_t len, void *out, size_t n)
{
    unsigned char *p = out;
    size_t i;

    if (n > SIZE_MAX / 2 || len != 2 * n)
        return -1;
    for (i = 0; i < n; i++) {
        int hi = hex_value(in[2 * i]), lo = hex_value(in[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        p[i] = (unsigned char)(hi << 4 | lo);
    }
    return 0;
}

int base62_encode(const unsigned char *in, size_t n, char *out, size_t chars)
{
    static const char alphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    unsigned carry_out = 0;
    size_t i, j;

    /*
     * Schoolbook conversion using out itself as the little-endian digit array (values
     * 0..61): for every input byte, digits = digits * 256 + byte. No heap, and the work
     * depends only on n and chars, never on the (secret) value.
     */
    for (j = 0; j < chars; j++)
        out[j] = 0;
    for (i = 0; i < n; i++) {
        unsigned carry = in[i];
        for (j = 0; j < chars; j++) {
            unsigned v = (unsigned)(unsigned char)out[j] * 256u + carry;
            out[j] = (char)(v % 62u);
            carry = v / 62u;
        }
        carry_out |= carry;
    }
    if (carry_out != 0) {
        out[0] = '\0';
        return -1;
    }
    /* Most significant digit first, as text. */
    for (j = 0; j < chars / 2; j++) {
        char t = out[j];
        out[j] = out[chars - 1 - j];
        out[chars - 1 - j] = t;
    }
    for (j = 0; j < chars; j++)
        out[j] = alphabet[(unsigned char)out[j]];
    out[chars] = '\0';
    return 0;
}

/* RFC 3986 section 2.3: the only characters never percent-encoded. */
static int pct_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
           c == '_' || c == '~';
}

size_t pct_encoded_len(const void *in, size_t n)
{
    const unsigned char *p = in;
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        len += pct_unreserved(p[i]) ? 1 : 3;
    return len;
}

size_t pct_encode(const void *in, size_t n, char *out)
{
    static const char hexu[] = "0123456789ABCDEF";
    const unsigned char *p = in;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (pct_unreserved(p[i])) {
            out[o++] = (char)p[i];
        } else {
            out[o++] = '%';
            out[o++] = hexu[p[i] >> 4];
            out[o++] = hexu[p[i] & 15];
        }
    }
    out[o] = '\0';
    return o;
}

long pct_decode(const char *in, size_t len, char *out, int plus_space)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        if (c == '%') {
            int hi, lo;
            if (i + 2 >= len)
                return -1;
            hi = hex_value(in[i + 1]);
            lo = hex_value(in[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            c = (char)(hi << 4 | lo);
            i += 2;
        } else if (c == '+' && plus_space) {
            c = ' ';
        }
        if (c == '\0')
            return -1;
        out[o++] = c;
    }
    out[o] = '\0';
    return (long)o;
}
