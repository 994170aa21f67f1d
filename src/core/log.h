/*
 * log.h - structured logging: one JSON object per line on stderr.
 *
 *   {"ts":"2026-11-22T02:43:17.123Z","level":"info","event":"http","request_id":"...",...}
 *
 * Never pass secrets, tokens, API keys, passwords or full webhook bodies as fields.
 * Lines are written with one write(2) each so lines from different threads never
 * interleave.
 */
#ifndef TG_CORE_LOG_H
#define TG_CORE_LOG_H

#include <stdarg.h>
#include <stddef.h>

enum log_level { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR };

/* Sets the minimum level written ("debug", "info", "warn", "error"). Returns 0 or -1. */
int log_set_level(const char *name);
/* 1 if a line at this level would be written. */
int log_enabled(enum log_level lvl);

/*
 * Writes one line. `kv` is a list of key/value string pairs ended by NULL:
 *   log_event(LOG_WARN, "login_failed", "ip", ip, "reason", "bad_password", NULL);
 * A NULL value is written as JSON null. Values are JSON-escaped.
 */
void log_event(enum log_level lvl, const char *event, ...) __attribute__((sentinel));

/* Like log_event with a free-text "msg" field formatted printf-style. */
void log_msgf(enum log_level lvl, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Writes an already-formatted JSON object (without the trailing newline) as one line.
 * Used by the access log, which formats its line itself for speed.
 */
void log_raw_line(const char *json, size_t len);

#endif
