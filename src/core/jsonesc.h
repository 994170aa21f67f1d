/*
 * jsonesc.h - escaping text into the inside of a JSON string.
 *
 * One escaper for everything that writes JSON by hand (the logger, the access log, sbuf):
 * text often comes from outside (paths, emails, provider error bodies), so invalid UTF-8
 * (overlongs, surrogates, past U+10FFFF, truncated sequences) becomes \ufffd and every
 * line stays valid JSON.
 */
#ifndef TG_CORE_JSONESC_H
#define TG_CORE_JSONESC_H

#include <stddef.h>

/* The most bytes json_escape can write for len input bytes. */
#define JSON_ESCAPE_MAX(len) ((len) * 6)

/*
 * Writes s (len bytes; NUL is escaped like any control character) escaped into out, at most
 * cap bytes, never splitting an escape or a UTF-8 sequence: it stops before the first one
 * that would not fit. Returns the number of bytes written. Quotes are not added.
 */
size_t json_escape(char *out, size_t cap, const char *s, size_t len);

#endif
