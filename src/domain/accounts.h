/*
 * accounts.h - the rules for what a valid email, password and display name are (DESIGN
 * section 5). Pure functions: no store, no HTTP, no allocation, so they are cheap to unit
 * test with tables and safe to call from any thread.
 *
 * Each function reports why it refused through *reason: a static English sentence meant
 * for the API's error message (never containing the input, which may be a password).
 */
#ifndef TG_DOMAIN_ACCOUNTS_H
#define TG_DOMAIN_ACCOUNTS_H

#include <stddef.h>

#include "core/types.h"

/* Password length bounds in bytes. 256 keeps argon2id's input and our request sizes sane. */
#define ACCOUNTS_PASSWORD_MIN_BYTES 8
#define ACCOUNTS_PASSWORD_MAX_BYTES 256
/* At least this many Unicode code points (so 8 bytes of one 4-byte emoji pair do not count
 * as an 8-character password). */
#define ACCOUNTS_PASSWORD_MIN_CHARS 8

/*
 * Normalizes and validates an email address: trims ASCII whitespace around it, lower-cases
 * it (ASCII), then requires exactly one '@', a local part of 1..64 bytes that is a dot-atom
 * (letters, digits and #$&'*+-/=?^_`{|}~ in runs separated by single dots, no dot at either
 * end), a domain of 1..253 bytes with at least one dot whose labels are 1..63 of [a-z0-9-]
 * not starting or ending with '-' and whose last label is not all digits, and at most
 * TG_EMAIL_MAX bytes in total. Quoted local parts, backslash escapes, comments, address
 * literals ([192.0.2.1]), source routes and the '%' and '!' relay forms are refused: each
 * would be a second spelling of a mailbox. Plus-addressing (ada+tag@) is kept as is.
 * in: NUL-terminated. out: receives the normalized address ("" on failure).
 * Returns 0, or -1 with *reason set.
 */
int accounts_email_normalize(const char *in, char out[TG_EMAIL_MAX + 1], const char **reason);

/*
 * Checks a new password (len bytes, may contain any UTF-8) against the policy:
 * 8..256 bytes, valid UTF-8 without NUL, at least 8 code points, not only whitespace.
 * Returns 0, or -1 with *reason set.
 */
int accounts_password_check(const char *pw, size_t len, const char **reason);

/*
 * Normalizes a display name: requires valid UTF-8, trims Unicode whitespace around it
 * (ASCII, NBSP, U+3000, ...), then requires at most TG_NAME_MAX bytes and refuses anything
 * that could reorder, hide or break the text it is shown in: control characters (C0, DEL,
 * C1), U+2028 and U+2029, the bidi controls (U+061C, U+200E, U+200F, U+202A..U+202E,
 * U+2066..U+2069) and every other format (Cf) or default-ignorable character (zero width
 * space, word joiner, BOM, soft hyphen, tags, Hangul fillers, ...). The exceptions are
 * ZWNJ/ZWJ between visible characters and one variation selector (VS1..VS16, Mongolian
 * FVS1..FVS4) right after a visible character, which Persian, Indic and Mongolian names and
 * emoji need. "" is allowed.
 * Also used for API key names (with the caller requiring a non-empty result).
 * out: receives the trimmed name ("" on failure). Returns 0, or -1 with *reason set.
 */
int accounts_display_name_normalize(const char *in, char out[TG_NAME_MAX + 1], const char **reason);

/* The locales mails (and the web UI) come in. */
#define ACCOUNTS_LOCALE_ZH "zh-CN"
#define ACCOUNTS_LOCALE_EN "en-US"
/* The part of an Accept-Language header looked at: real ones are under 200 bytes. */
#define ACCOUNTS_ACCEPT_LANGUAGE_MAX 1024

/* 1 when s is exactly "zh-CN" or "en-US" (a locale a client may ask for), else 0. */
int accounts_locale_valid(const char *s);

/*
 * The locale for an account from an Accept-Language header value (RFC 9110 12.5.4; NULL
 * when absent): the language range with the highest q-value wins (the first of equals;
 * "*", q=0 and malformed entries are skipped). A Chinese range (zh, zh-CN, zh-TW, zh-Hans,
 * ...) gives "zh-CN", anything else - or nothing usable - "en-US". Only the first
 * ACCOUNTS_ACCEPT_LANGUAGE_MAX bytes are read. Returns one of the two static strings.
 */
const char *accounts_locale_pick(const char *accept_language);

#endif
