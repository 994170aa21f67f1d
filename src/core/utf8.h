/*
 * utf8.h - decoding UTF-8 strictly (RFC 3629).
 */
#ifndef TG_CORE_UTF8_H
#define TG_CORE_UTF8_H

#include <stddef.h>
#include <stdint.h>

/*
 * Decodes one UTF-8 sequence at s (n >= 1 bytes available). Returns its length (1..4) and
 * the code point in *cp, or 0 for anything RFC 3629 forbids: overlong forms, surrogates,
 * code points above U+10FFFF, truncated sequences, stray continuation bytes.
 */
size_t utf8_next(const unsigned char *s, size_t n, uint32_t *cp);

/* 1 when the n bytes at s are valid UTF-8 (NUL bytes included), else 0. */
int utf8_valid(const char *s, size_t n);

#endif
