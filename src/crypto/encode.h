/*
 * encode.h - base64url (RFC 4648 section 5, no padding), base64 (section 4, padded), hex,
 * base62 and percent-encoding (RFC 3986).
 *
 * The decoders are strict: every text has exactly one accepted spelling, so decoding and
 * re-encoding gives back the same text. Signed formats (JWT) depend on that: a decoder
 * that ignored stray bits or characters would let an attacker make many spellings of one
 * signed token.
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
/* Length of the padded base64 text for n bytes (without NUL): 4 * ceil(n / 3). */
size_t b64_encoded_len(size_t n);
/* Standard base64 with padding (RFC 4648 section 4) for provider formats. Encodes n bytes
 * into out (room for b64_encoded_len(n) + 1); NUL-terminates. Returns the text length. */
size_t b64_encode(const void *in, size_t n, char *out);
/* Decodes padded standard base64 (strict: length a multiple of 4, '=' only as the final
 * one or two characters, no '-', '_' or whitespace, zero trailing bits). Writes at most cap
 * bytes. Returns the decoded length or -1 on any error (including a result over cap). */
long b64_decode(const char *in, size_t len, void *out, size_t cap);
/* Lower-case hex of n bytes into out (2n + 1), NUL-terminated. */
void hex_encode(const void *in, size_t n, char *out);
/* Upper-case hex of n bytes into out (2n + 1), NUL-terminated (WeChat Pay APIv2 signs,
 * certificate serials). */
void hex_encode_upper(const void *in, size_t n, char *out);
/* Value of one hex digit (either case), or -1. */
int hex_value(char c);
/* Parses exactly 2*n hex digits (either case) into n bytes at out. Returns 0, or -1 when
 * len != 2*n or a character is not a hex digit (out may then be partly written). */
int hex_decode(const char *in, size_t len, void *out, size_t n);
/* Encodes n random-looking bytes as base62 [0-9A-Za-z] of exactly `chars` characters
 * (a big-number conversion, left-padded with '0'); out has room for chars + 1.
 * Returns 0, or -1 if the value does not fit in `chars` characters (out is then ""). */
int base62_encode(const unsigned char *in, size_t n, char *out, size_t chars);
/* Length of the percent-encoding of n bytes (without NUL): see pct_encode. */
size_t pct_encoded_len(const void *in, size_t n);
/* Percent-encodes n bytes for a URL query value or an application/x-www-form-urlencoded
 * field: RFC 3986 unreserved characters (A-Z a-z 0-9 - . _ ~) as they are, every other byte
 * as %XX (upper-case hex; a space is %20, which form decoders read as a space too). out has
 * room for pct_encoded_len(in, n) + 1 (3n + 1 always suffices); NUL-terminates. Returns the
 * text length. */
size_t pct_encode(const void *in, size_t n, char *out);
/* Percent-decodes len bytes at in into out (room for len + 1; NUL-terminated): %XX in either
 * case becomes its byte and, when plus_space, '+' a space (application/x-www-form-urlencoded).
 * Returns the decoded length, or -1 for a truncated or non-hex escape or a NUL byte (which
 * would silently cut every C string made from the value). */
long pct_decode(const char *in, size_t len, char *out, int plus_space);

#endif
