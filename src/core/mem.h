/*
 * mem.h - allocation that aborts on out-of-memory.
 *
 * Like Redis' zmalloc: an allocation failure is not a recoverable condition for a
 * server that holds money state, and untested OOM branches hide real bugs. Every
 * x* function either returns usable memory or aborts the process with a message.
 */
#ifndef TG_CORE_MEM_H
#define TG_CORE_MEM_H

#include <stdarg.h>
#include <stddef.h>

/* malloc/calloc/realloc that never return NULL. Caller frees with free(). */
void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
/* Copies of strings. Caller frees with free(). xstrndup copies at most n bytes and
 * always NUL-terminates. */
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* printf into a new string. Caller frees with free(). */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *xvasprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

/*
 * A growable byte buffer (always NUL-terminated so it can be used as a string).
 * Initialise with `struct sbuf b = {0};`, release with sbuf_free().
 */
struct sbuf {
    char *data;
    size_t len;
    size_t cap;
};
void sbuf_append(struct sbuf *b, const void *data, size_t n);
void sbuf_puts(struct sbuf *b, const char *s);
void sbuf_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s as the inside of a JSON string (core/jsonesc.h: invalid UTF-8 becomes \ufffd). */
void sbuf_json_escape(struct sbuf *b, const char *s);
void sbuf_reset(struct sbuf *b);
void sbuf_free(struct sbuf *b);

#endif
