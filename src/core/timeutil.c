#include "core/timeutil.h"

#include <stdio.h>
#include <time.h>

int64_t time_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t time_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

char *time_rfc3339(int64_t ms, char out[32])
{
    time_t secs = (time_t)(ms / 1000);
    int frac = (int)(ms % 1000);
    if (frac < 0) {
        frac += 1000;
        secs -= 1;
    }
    struct tm tm;
    gmtime_r(&secs, &tm);
    /* Years outside 0..9999 cannot be written in RFC 3339; clamp (never reached in practice). */
    unsigned year = (unsigned)(tm.tm_year + 1900) % 10000u;
    snprintf(out, 32, "%04u-%02u-%02uT%02u:%02u:%02u.%03uZ", year, (unsigned)(tm.tm_mon + 1) % 100u,
             (unsigned)tm.tm_mday % 100u, (unsigned)tm.tm_hour % 100u, (unsigned)tm.tm_min % 100u,
             (unsigned)tm.tm_sec % 100u, (unsigned)frac % 1000u);
    return out;
}

char *time_rfc5322(int64_t ms, char out[32])
{
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t secs = (time_t)(ms / 1000);
    if (ms % 1000 < 0)
        secs -= 1;
    struct tm tm;
    gmtime_r(&secs, &tm);
    unsigned year = (unsigned)(tm.tm_year + 1900) % 10000u;
    snprintf(out, 32, "%s, %02u %s %04u %02u:%02u:%02u +0000", days[(unsigned)tm.tm_wday % 7u],
             (unsigned)tm.tm_mday % 100u, months[(unsigned)tm.tm_mon % 12u], year,
             (unsigned)tm.tm_hour % 100u, (unsigned)tm.tm_min % 100u, (unsigned)tm.tm_sec % 100u);
    return out;
}
