/*
 * encode.h - base64url (RFC 4648 section 5, no padding), hex and base62.
 */
#ifndef TG_CRYPTO_ENCODE_H
#define TG_CRYPTO_ENCODE_H

#include <stddef.h>

/* Length of the unpadded base64url text for n bytes (without NUL). */
size_t b64url_encoded_len(size_t n);
/* Encodes n bytes into out (room for b64url_encoded_len(n) + 1); NUL-terminates.
 * Returns the text length. */
size_t b64url_encode(const void *in, size_t n, char *out);
/* Decodes unpadded base64url text (strict: rejects '=', '+', '/', whitespace and
 * non-canonical trailing bits). Writes at most cap bytes. Returns the decoded length or
 * -1 on any error. */
long b64url_decode(const char *in, size_t len, void *out, size_t cap);
/* Standard base64 with padding (RFC 4648 section 4) for provider formats. */
size_t b64_encode(const void *in, size_t n, char *out);
long b64_decode(const char *in, size_t len, void *out, size_t cap);
/* Lower-case hex of n bytes into out (2n + 1). */
void hex_encode(const void *in, size_t n, char *out);
/* Parses exactly 2*n hex digits (either case). Returns 0 or -1. */
int hex_decode(const char *in, size_t len, void *out, size_t n);
/* Encodes n random-looking bytes as base62 [0-9A-Za-z] of exactly `chars` characters
 * (a big-number conversion, left-padded with '0'); out has room for chars + 1.
 * Returns 0, or -1 if the value does not fit in `chars` characters. */
int base62_encode(const unsigned char *in, size_t n, char *out, size_t chars);

#endif
