/*
 * timeutil.h - clocks and RFC 3339 formatting.
 */
#ifndef TG_CORE_TIMEUTIL_H
#define TG_CORE_TIMEUTIL_H

#include <stdint.h>

/* Wall clock, milliseconds since the Unix epoch (UTC). */
int64_t time_now_ms(void);
/* Monotonic clock in nanoseconds (for durations only). */
int64_t time_mono_ns(void);
/* Formats ms since epoch as "2026-11-22T02:43:17.123Z" into out (at least 32 bytes).
 * Returns out. */
char *time_rfc3339(int64_t ms, char out[32]);

/* Formats ms since epoch as an RFC 5322 date in UTC, "Sun, 22 Nov 2026 02:43:17 +0000"
 * (English names, whatever the C locale), into out (at least 32 bytes). Returns out. */
char *time_rfc5322(int64_t ms, char out[32]);

#endif
