/*
 * stats.c - the admin statistics (stats.h has the definitions): the store returns stored
 * values grouped by day; here they are assigned to regions, filtered, added up and turned
 * into rates and percentiles.
 */
#include "domain/stats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/mem.h"
#include "core/timeutil.h"

int stats_date_parse(const char *s, int64_t *day)
{
    char buf[32];
    int64_t ms;
    if (s == NULL || strlen(s) != 10)
        return -1;
    for (int i = 0; i < 10; i++) {
        int dash = i == 4 || i == 7;
        if (dash ? s[i] != '-' : (s[i] < '0' || s[i] > '9'))
            return -1;
    }
    /* The RFC 3339 parser checks the calendar (month lengths, leap years, 1970..9999). */
    snprintf(buf, sizeof buf, "%sT00:00:00Z", s);
    if (time_parse_rfc3339(buf, strlen(buf), &ms) != 0)
        return -1;
    *day = ms / STATS_DAY_MS;
    return 0;
}

char *stats_date_format(int64_t day, char out[11])
{
    char ts[32];
    time_rfc3339(day * STATS_DAY_MS, ts);
    memcpy(out, ts, 10);
    out[10] = '\0';
    return out;
}

const char *stats_query_make(const char *from, const char *to, const char *region, int64_t now_ms,
                             struct stats_query *q, const char **msg)
{
    memset(q, 0, sizeof *q);
    q->all_regions = 1;
    q->to_day = now_ms / STATS_DAY_MS;
    if (to != NULL && stats_date_parse(to, &q->to_day) != 0) {
        *msg = "to: must be a date like 2026-11-30 (YYYY-MM-DD, UTC)";
        return "to";
    }
    q->from_day = q->to_day - (STATS_DAYS_DEFAULT - 1);
    if (from != NULL && stats_date_parse(from, &q->from_day) != 0) {
        *msg = "from: must be a date like 2026-11-01 (YYYY-MM-DD, UTC)";
        return "from";
    }
    if (q->from_day < 0) /* the default range of a clock near 1970: start at the epoch */
        q->from_day = 0;
    if (q->to_day < q->from_day) {
        *msg = "to: must not be before from";
        return "to";
    }
    if (q->to_day - q->from_day + 1 > STATS_DAYS_MAX) {
        *msg = "to: the range may span at most 366 days";
        return "to";
    }
    if (region != NULL) {
        if (region_parse_name(region, strlen(region), &q->region) != 0) {
            *msg = "region: must be CN or GLOBAL";
            return "region";
        }
        q->all_regions = 0;
    }
    return NULL;
}

enum region stats_user_region(const char *saved, const char *signup)
{
    enum region r;
    if (saved && region_parse_name(saved, strlen(saved), &r) == 0)
        return r;
    if (signup && region_parse_name(signup, strlen(signup), &r) == 0)
        return r;
    return REGION_GLOBAL;
}

enum region stats_order_region(const char *stored, const char *currency)
{
    enum region r;
    if (stored && region_parse_name(stored, strlen(stored), &r) == 0)
        return r;
    return currency && strcmp(currency, "CNY") == 0 ? REGION_CN : REGION_GLOBAL;
}

int64_t stats_percentile(const int64_t *sorted, size_t n, int p)
{
    /* Nearest rank: the ceil(p/100 * n)-th value, 1-based. */
    size_t rank = ((size_t)p * n + 99) / 100;
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return sorted[rank - 1];
}

/* ---- adding up ---- */

static int money_add(struct stats_moneys *m, const char *currency, int64_t amount)
{
    size_t i;
    for (i = 0; i < m->n; i++)
        if (strcmp(m->v[i].currency, currency) == 0)
            break;
    if (i == m->n) {
        if (m->n == STATS_CURRENCIES_MAX || strlen(currency) != 3)
            return -1;
        snprintf(m->v[i].currency, sizeof m->v[i].currency, "%s", currency);
        m->v[i].amount = 0;
        m->n++;
    }
    return __builtin_add_overflow(m->v[i].amount, amount, &m->v[i].amount) ? -1 : 0;
}

static int money_cmp(const void *a, const void *b)
{
    return strcmp(((const struct stats_money *)a)->currency, ((const struct stats_money *)b)->currency);
}

static void moneys_sort(struct stats_moneys *m) { qsort(m->v, m->n, sizeof m->v[0], money_cmp); }

static int add(int64_t *to, int64_t v) { return __builtin_add_overflow(*to, v, to) ? -1 : 0; }

static struct stats_provider *provider_slot(struct stats_report *r, const char *name)
{
    for (size_t i = 0; i < r->nproviders; i++)
        if (strcmp(r->providers[i].name, name) == 0)
            return &r->providers[i];
    if (r->nproviders == STATS_PROVIDERS_MAX)
        return NULL;
    struct stats_provider *p = &r->providers[r->nproviders++];
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    return p;
}

static int matches(const struct stats_query *q, enum region r) { return q->all_regions || q->region == r; }

/* The day of a bucket, or NULL (logged) for one outside the range: the store's grouping
 * and ours disagree, which must not pass silently. */
static struct stats_counts *day_of(struct stats_report *r, int64_t bucket, const char *what)
{
    if (bucket < 0 || (uint64_t)bucket >= r->ndays) {
        log_event(LOG_ERROR, "stats_bucket_out_of_range", "what", what, NULL);
        return NULL;
    }
    return &r->days[bucket];
}

static enum stats_rc from_store(enum store_rc rc)
{
    if (rc == STORE_BUSY || rc == STORE_UNAVAILABLE)
        return STATS_UNAVAILABLE;
    return STATS_ERROR;
}

static int add_users(struct stats_report *r, const struct stats_row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct stats_row *w = &rows[i];
        enum region rg = stats_user_region(w->region, w->region2);
        struct stats_counts *reg = &r->regions[rg];
        if (add(&reg->users, w->count) != 0)
            return -1;
        if (matches(&r->q, rg) && add(&r->totals.users, w->count) != 0)
            return -1;
        if (w->bucket < 0)
            continue;
        struct stats_counts *d = day_of(r, w->bucket, "users");
        if (d == NULL || add(&reg->new_users, w->count) != 0)
            return -1;
        if (matches(&r->q, rg) && (add(&r->totals.new_users, w->count) != 0 || add(&d->new_users, w->count) != 0))
            return -1;
    }
    return 0;
}

static int add_active(struct stats_report *r, const struct stats_row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct stats_row *w = &rows[i];
        enum region rg = stats_user_region(w->region, w->region2);
        /* A user has one region, so distinct counts of different (region, signup_region)
         * groups add up to the distinct count of the region. */
        if (w->bucket < 0) {
            if (add(&r->regions[rg].active_users, w->count) != 0)
                return -1;
            if (matches(&r->q, rg) && add(&r->totals.active_users, w->count) != 0)
                return -1;
            continue;
        }
        struct stats_counts *d = day_of(r, w->bucket, "active");
        if (d == NULL)
            return -1;
        if (matches(&r->q, rg) && add(&d->active_users, w->count) != 0)
            return -1;
    }
    return 0;
}

static int add_orders(struct stats_report *r, const struct stats_row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct stats_row *w = &rows[i];
        enum region rg = stats_order_region(w->region, w->key);
        struct stats_counts *d = day_of(r, w->bucket, "orders");
        if (d == NULL || add(&r->regions[rg].orders_paid, w->count) != 0 ||
            money_add(&r->regions[rg].revenue, w->key, w->sum) != 0)
            return -1;
        if (!matches(&r->q, rg))
            continue;
        if (add(&r->totals.orders_paid, w->count) != 0 || money_add(&r->totals.revenue, w->key, w->sum) != 0 ||
            add(&d->orders_paid, w->count) != 0 || money_add(&d->revenue, w->key, w->sum) != 0)
            return -1;
    }
    return 0;
}

static int add_refunds(struct stats_report *r, const struct stats_row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct stats_row *w = &rows[i];
        enum region rg = stats_order_region(w->region, w->key);
        struct stats_counts *d = day_of(r, w->bucket, "refunds");
        if (d == NULL || money_add(&r->regions[rg].refunds, w->key, w->sum) != 0)
            return -1;
        if (matches(&r->q, rg) &&
            (money_add(&r->totals.refunds, w->key, w->sum) != 0 || money_add(&d->refunds, w->key, w->sum) != 0))
            return -1;
    }
    return 0;
}

static int add_tasks(struct stats_report *r, const struct stats_row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct stats_row *w = &rows[i];
        enum region rg = stats_user_region(w->region, w->region2);
        struct stats_counts *d = day_of(r, w->bucket, "tasks");
        if (d == NULL)
            return -1;
        if (!matches(&r->q, rg))
            continue;
        struct stats_provider *p = provider_slot(r, w->key);
        if (p == NULL) {
            log_event(LOG_ERROR, "stats_too_many_providers", NULL);
            return -1;
        }
        int succeeded = strcmp(w->status, "succeeded") == 0;
        int failed = strcmp(w->status, "failed") == 0;
        int timed_out = strcmp(w->status, "timed_out") == 0;
        int canceled = strcmp(w->status, "canceled") == 0;
        if (add(&r->totals.tasks, w->count) != 0 || add(&d->tasks, w->count) != 0 || add(&p->tasks, w->count) != 0)
            return -1;
        if (succeeded && (add(&r->totals.tasks_succeeded, w->count) != 0 ||
                          add(&d->tasks_succeeded, w->count) != 0 || add(&p->succeeded, w->count) != 0))
            return -1;
        if ((failed || timed_out) && (add(&r->totals.tasks_failed, w->count) != 0 ||
                                      add(&d->tasks_failed, w->count) != 0))
            return -1;
        if ((failed && add(&p->failed, w->count) != 0) || (timed_out && add(&p->timed_out, w->count) != 0) ||
            (canceled && add(&p->canceled, w->count) != 0))
            return -1;
    }
    return 0;
}

static int i64_cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Percentiles per provider from the latencies of the matching region(s). */
static int add_latencies(struct stats_report *r, const struct stats_latency *l, size_t n)
{
    int64_t *v = n ? xmalloc(n * sizeof *v) : NULL;
    for (size_t pi = 0; pi < r->nproviders; pi++) {
        struct stats_provider *p = &r->providers[pi];
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
            if (strcmp(l[i].provider, p->name) == 0 && matches(&r->q, stats_user_region(l[i].region, l[i].region2)))
                v[k++] = l[i].ms;
        if (k == 0)
            continue;
        qsort(v, k, sizeof *v, i64_cmp);
        p->has_latency = 1;
        p->p50 = stats_percentile(v, k, 50);
        p->p90 = stats_percentile(v, k, 90);
        p->max = v[k - 1];
    }
    free(v);
    return 0;
}

static int provider_cmp(const void *a, const void *b)
{
    return strcmp(((const struct stats_provider *)a)->name, ((const struct stats_provider *)b)->name);
}

void stats_report_clear(struct stats_report *r)
{
    free(r->days);
    memset(r, 0, sizeof *r);
}

enum stats_rc stats_compute(struct store *s, const struct stats_query *q, struct stats_report *out)
{
    enum stats_rc ret = STATS_ERROR;
    enum store_rc rc = STORE_OK;
    struct stats_row *rows = NULL;
    struct stats_latency *lat = NULL;
    size_t n = 0, nlat = 0;
    int64_t from = q->from_day * STATS_DAY_MS, to = (q->to_day + 1) * STATS_DAY_MS;

    memset(out, 0, sizeof *out);
    out->q = *q;
    out->ndays = (size_t)(q->to_day - q->from_day + 1);
    out->days = xcalloc(out->ndays, sizeof *out->days);

#define STEP(call, adder)                                                                                     \
    do {                                                                                                      \
        rc = (call);                                                                                          \
        if (rc != STORE_OK) {                                                                                 \
            ret = from_store(rc);                                                                             \
            goto cleanup;                                                                                     \
        }                                                                                                     \
        if (adder(out, rows, n) != 0)                                                                         \
            goto cleanup;                                                                                     \
        free(rows);                                                                                           \
        rows = NULL;                                                                                          \
    } while (0)

    STEP(store_stats_users(s, from, to, STATS_DAY_MS, &rows, &n), add_users);
    STEP(store_stats_active(s, from, to, STATS_DAY_MS, STORE_ACT_TASKS | STORE_ACT_ORDERS | STORE_ACT_SESSIONS, &rows,
                            &n),
         add_active);
    STEP(store_stats_orders_paid(s, from, to, STATS_DAY_MS, &rows, &n), add_orders);
    STEP(store_stats_refunds(s, from, to, STATS_DAY_MS, &rows, &n), add_refunds);
    STEP(store_stats_tasks(s, from, to, STATS_DAY_MS, &rows, &n), add_tasks);
#undef STEP

    rc = store_stats_latencies(s, from, to, STATS_LATENCY_SAMPLES_MAX, &lat, &nlat);
    if (rc == STORE_CONFLICT) {
        ret = STATS_TOO_MANY;
        goto cleanup;
    }
    if (rc != STORE_OK) {
        ret = from_store(rc);
        goto cleanup;
    }
    add_latencies(out, lat, nlat);

    for (size_t i = 0; i < out->nproviders; i++) {
        struct stats_provider *p = &out->providers[i];
        int64_t finished = p->succeeded + p->failed + p->timed_out + p->canceled;
        p->has_rate = finished > 0;
        p->success_rate = finished > 0 ? (double)p->succeeded / (double)finished : 0.0;
    }
    qsort(out->providers, out->nproviders, sizeof out->providers[0], provider_cmp);
    moneys_sort(&out->totals.revenue);
    moneys_sort(&out->totals.refunds);
    for (int g = 0; g < REGION_COUNT; g++) {
        moneys_sort(&out->regions[g].revenue);
        moneys_sort(&out->regions[g].refunds);
    }
    for (size_t d = 0; d < out->ndays; d++) {
        moneys_sort(&out->days[d].revenue);
        moneys_sort(&out->days[d].refunds);
    }
    ret = STATS_OK;

cleanup:
    free(rows);
    free(lat);
    if (ret != STATS_OK) {
        if (ret == STATS_ERROR && rc == STORE_OK)
            log_event(LOG_ERROR, "stats_failed", "why", "a count overflowed or a limit was passed", NULL);
        stats_report_clear(out);
    }
    return ret;
}
