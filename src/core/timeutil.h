/*
 * timeutil.h - clocks and RFC 3339 formatting.
 */
#ifndef TG_CORE_TIMEUTIL_H
#define TG_CORE_TIMEUTIL_H

#include <stddef.h>
#include <stdint.h>

/* Wall clock, milliseconds since the Unix epoch (UTC), plus the offset of
 * time_set_offset_ms (0 unless a test moved the clock). */
int64_t time_now_ms(void);
/*
 * The test clock (TG_TEST_CLOCK, api/clock.c; `tollgate audit --now`): every later
 * time_now_ms() in the process, on any thread, answers the real time plus offset_ms. Never
 * moved in production, where the offset stays 0. Thread-safe (an atomic).
 */
void time_set_offset_ms(int64_t offset_ms);
/* The offset time_now_ms() adds (0 unless moved). */
int64_t time_offset_ms(void);
/* Monotonic clock in nanoseconds (for durations only). */
int64_t time_mono_ns(void);
/* Formats ms since epoch as "2026-11-22T02:43:17.123Z" into out (at least 32 bytes).
 * Returns out. */
char *time_rfc3339(int64_t ms, char out[32]);

/* Formats ms since epoch as an RFC 5322 date in UTC, "Sun, 22 Nov 2026 02:43:17 +0000"
 * (English names, whatever the C locale), into out (at least 32 bytes). Returns out. */
char *time_rfc5322(int64_t ms, char out[32]);

/*
 * Parses an RFC 3339 date-time (section 5.6) of len bytes: "2016-02-18T20:01:35Z",
 * lower-case 't'/'z' too, optional fraction (its first 3 digits count, at most 9), "Z" or a
 * numeric offset "+08:00" (hours 0..23, minutes 0..59). Years 1970..9999; day checked
 * against the month (leap years included); seconds 0..60 (a leap second reads as :59 + 1 s).
 * Strict: no blanks, no missing fields. Returns 0 with *ms (since the epoch, UTC), or -1
 * with *ms untouched. For providers' timestamps (PayPal's PAYPAL-TRANSMISSION-TIME).
 */
int time_parse_rfc3339(const char *s, size_t len, int64_t *ms);

/*
 * ms (since the epoch, >= 0) plus n calendar months in UTC (n >= 0): the same day of the
 * month and time of day, the day clamped to the target month's last (Jan 31 + 1 month is
 * Feb 28, or 29 in a leap year). For subscription periods.
 */
int64_t time_add_months(int64_t ms, int n);
#endif
