/*
 * stats.h - what the numbers of GET /api/v1/admin/stats mean (DESIGN section 11), computed
 * from the store's grouped reads (store_stats_*).
 *
 * Definitions (docs/openapi.yaml repeats them for the readers of the API):
 *   - days are UTC days; a range is from..to, both days included;
 *   - a user's region is their saved choice, else the region they signed up in, else GLOBAL
 *     (accounts made before signup regions were recorded, or by the CLI);
 *   - an order's region is the one stored with it (the buyer's region when ordering), else
 *     CN for a CNY order and GLOBAL for any other currency;
 *   - users: accounts created by the end of `to`; new_users: created in the range;
 *   - active_users: distinct users who created a task, created an order, or started or
 *     refreshed a session (a refresh token issued) in the day or the range;
 *   - orders_paid and revenue: orders by the day they were paid (paid_at), whatever became
 *     of them since; refunds: succeeded refunds by the day they succeeded;
 *   - tasks: tasks created in the range; tasks_failed: those that ended failed or timed out;
 *     a provider's success_rate is succeeded / finished (succeeded, failed, timed_out,
 *     canceled), none when nothing finished; latency is finished - submitted of its
 *     succeeded tasks, percentiles by nearest rank over every one of them (exact).
 */
#ifndef TG_DOMAIN_STATS_H
#define TG_DOMAIN_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "core/types.h"
#include "domain/region.h"
#include "store/store.h"

#define STATS_DAY_MS 86400000LL
/* The longest range: a year, leap day included. */
#define STATS_DAYS_MAX 366
/* The range when none is given: the last 30 days, today included. */
#define STATS_DAYS_DEFAULT 30
/* Distinct currencies and task providers one report holds; more is an error, never a
 * silently shortened answer (the catalog has two currencies and four providers today). */
#define STATS_CURRENCIES_MAX 16
#define STATS_PROVIDERS_MAX 16
/* Succeeded tasks whose latencies one report sorts (16 MB of samples at most); a range with
 * more answers STATS_TOO_MANY, to be asked for in shorter ranges. */
#define STATS_LATENCY_SAMPLES_MAX 400000

/* What to report on: days since 1970-01-01 (UTC), both included, and a region or all. */
struct stats_query {
    int64_t from_day, to_day;
    int all_regions; /* 1: every region; 0: only `region` */
    enum region region;
};

/* "2026-11-30" (exactly YYYY-MM-DD, a real date, year 1970..9999) to days since the epoch.
 * Returns 0, or -1 with *day untouched. */
int stats_date_parse(const char *s, int64_t *day);
/* Days since the epoch as "YYYY-MM-DD" into out. Returns out. */
char *stats_date_format(int64_t day, char out[11]);

/*
 * The query for ?from=, ?to= and ?region= (each NULL when absent) at now_ms: to defaults to
 * today, from to 29 days before to; to >= from; at most STATS_DAYS_MAX days; region "CN" or
 * "GLOBAL". Returns NULL with *q set, or the name of the bad parameter with *msg saying why.
 */
const char *stats_query_make(const char *from, const char *to, const char *region, int64_t now_ms,
                             struct stats_query *q, const char **msg);

struct stats_money {
    char currency[4];
    int64_t amount;
};
/* Amounts by currency, in the order currencies were first met; sorted by currency when the
 * report is done. */
struct stats_moneys {
    size_t n;
    struct stats_money v[STATS_CURRENCIES_MAX];
};
/* The counts of a day, a region or the whole report (each shape reads the ones it needs). */
struct stats_counts {
    int64_t users, new_users, active_users, orders_paid;
    int64_t tasks, tasks_succeeded, tasks_failed;
    struct stats_moneys revenue, refunds;
};
struct stats_provider {
    char name[TG_PROVIDER_MAX];
    int64_t tasks, succeeded, failed, timed_out, canceled;
    int has_rate;        /* 0 when none finished */
    double success_rate; /* succeeded / finished */
    int has_latency;     /* 0 when none succeeded */
    int64_t p50, p90, max;
};
struct stats_report {
    struct stats_query q;
    struct stats_counts totals;                 /* the region asked for, or all */
    size_t ndays;
    struct stats_counts *days;                  /* ndays, from from_day on (heap) */
    struct stats_counts regions[REGION_COUNT];  /* by enum region, whatever q asks */
    size_t nproviders;
    struct stats_provider providers[STATS_PROVIDERS_MAX]; /* by name */
};

enum stats_rc {
    STATS_OK = 0,
    STATS_TOO_MANY,    /* more than STATS_LATENCY_SAMPLES_MAX succeeded tasks in the range */
    STATS_UNAVAILABLE, /* the store is busy or cannot read now: retry */
    STATS_ERROR,       /* logged */
};

/* The region a user counts in: saved choice, else signup region, else GLOBAL. */
enum region stats_user_region(const char *saved, const char *signup);
/* The region an order counts in: its stored region, else CN for CNY, else GLOBAL. */
enum region stats_order_region(const char *stored, const char *currency);
/* The p-th percentile (1..100) of sorted[0..n) by nearest rank: the smallest value with at
 * least p% of the values at or below it. n >= 1. */
int64_t stats_percentile(const int64_t *sorted, size_t n, int p);

/*
 * Computes the report for q with the store_stats_* reads on s (call it inside one read
 * transaction for a consistent snapshot: store_call_run_sync with STORE_CALL_READ). Slow on
 * large tables: never on a loop thread. On STATS_OK the caller frees with
 * stats_report_clear; on any other result nothing is left to free.
 */
enum stats_rc stats_compute(struct store *s, const struct stats_query *q, struct stats_report *out);
void stats_report_clear(struct stats_report *r);

#endif
