/*
 * clock.c - the test clock (TG_TEST_CLOCK, tests only; docs/OPERATIONS.md):
 *   GET  /api/v1/admin/clock   the server's now
 *   POST /api/v1/admin/clock   {"advance_ms":N}: moves it forward by N ms
 *
 * Subscriptions run for months and years; end-to-end tests move the server's clock instead
 * of waiting. Every time_now_ms() in the process follows (core/timeutil.h), so periods end,
 * jobs find what became due, and access tokens expire as they would that much later. The
 * clock only moves forward. With the key off (always, in production) both routes are 404,
 * as if they did not exist.
 */
#include "api/api.h"

#include <stdio.h>

#include "core/config.h"
#include "core/log.h"
#include "core/timeutil.h"

/* One step is at most ten years of 366 days (a yearly plan run ten times over), and the
 * clock never gets more than a hundred years ahead: far past any test, far from overflow. */
#define CLOCK_ADVANCE_MAX_MS (10LL * 366 * 24 * 3600 * 1000)
#define CLOCK_OFFSET_MAX_MS (100LL * 366 * 24 * 3600 * 1000)

static void clock_reply(struct req *r)
{
    char ts[32];
    int64_t now = time_now_ms();
    res_header(r, "cache-control", "no-store");
    res_json(r, 200, json_pack("{s:s, s:I}", "now", time_rfc3339(now, ts), "now_ms", (json_int_t)now));
}

void api_admin_clock_get(struct req *r)
{
    if (!tg_cfg->test_clock) {
        res_error(r, TG_E_NOT_FOUND, NULL, NULL);
        return;
    }
    clock_reply(r);
}

void api_admin_clock_advance(struct req *r)
{
    if (!tg_cfg->test_clock) {
        res_error(r, TG_E_NOT_FOUND, NULL, NULL);
        return;
    }
    static const char *const allowed[] = {"advance_ms", NULL};
    struct jerr e;
    json_t *body = req_json_or_reply(r);
    if (body == NULL)
        return;
    if (jv_only(body, allowed, &e) != 0) {
        api_reply_jerr(r, &e);
        return;
    }
    json_t *v = json_object_get(body, "advance_ms");
    if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > CLOCK_ADVANCE_MAX_MS) {
        api_reply_field(r, TG_E_VALIDATION, "advance_ms",
                        "An integer number of milliseconds from 1 to ten years (316224000000).");
        return;
    }
    int64_t step = json_integer_value(v);
    if (time_offset_ms() > CLOCK_OFFSET_MAX_MS - step) {
        api_reply_field(r, TG_E_VALIDATION, "advance_ms", "The clock may not get more than a hundred years ahead.");
        return;
    }
    /* Two admins advancing at once both count: the sum is what they asked for together. The
     * read and the store are not one atomic step, which a test-only route can afford. */
    time_set_offset_ms(time_offset_ms() + step);
    char ms[24];
    snprintf(ms, sizeof ms, "%lld", (long long)time_offset_ms());
    log_event(LOG_WARN, "test_clock_advanced", "request_id", req_id(r), "offset_ms", ms, NULL);
    clock_reply(r);
}
