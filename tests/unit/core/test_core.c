/* Unit tests for src/core: ids, time, mem, jsonv, errors. */
#include "../test.h"

#include <stdlib.h>

#include <sodium.h>

#include "core/errors.h"
#include "core/ids.h"
#include "core/jsonesc.h"
#include "core/jsonv.h"
#include "core/mem.h"
#include "core/timeutil.h"

static void test_ids(void)
{
    char a[TG_ID_MAX], b[TG_ID_MAX];
    id_new_at(a, "usr", 1000);
    id_new_at(b, "usr", 1001);
    CHECK(strlen(a) == 4 + 26, "id has prefix + 26 chars (%s)", a);
    CHECK(strcmp(a, b) < 0, "ids sort by time");
    CHECK(id_valid(a, "usr"), "id_valid accepts a fresh id");
    CHECK(!id_valid(a, "key"), "id_valid rejects the wrong prefix");
    CHECK(!id_valid("usr_short", "usr"), "id_valid rejects a short id");
    CHECK(!id_valid("usr_0000000000000000000000000u", "usr"), "id_valid rejects lower-case/ambiguous letters");
    CHECK(!id_valid(NULL, "usr"), "id_valid rejects NULL");
    id_new_at(a, "usr", 0);
    CHECK(strncmp(a, "usr_0000000000", 14) == 0, "timestamp 0 encodes as zeros");
    /* 2^48-1 is the largest ULID time: 10 symbols "7ZZZZZZZZZ" */
    id_new_at(a, "x", 0xFFFFFFFFFFFFLL);
    CHECK(strncmp(a, "x_7ZZZZZZZZZ", 12) == 0, "max timestamp encodes as 7ZZZZZZZZZ");
    /* Derived ids: the 128 bits as they are (48 + 80), the same bytes the same id. */
    unsigned char bytes[16];
    memset(bytes, 0xFF, sizeof bytes);
    id_from_bytes(a, "pk", bytes);
    CHECK_STR_EQ(a, "pk_7ZZZZZZZZZZZZZZZZZZZZZZZZZ", "all ones: the largest id");
    for (int i = 0; i < 16; i++)
        bytes[i] = (unsigned char)(i * 17);
    id_from_bytes(a, "pk", bytes);
    id_from_bytes(b, "pk", bytes);
    CHECK(id_valid(a, "pk") && strcmp(a, b) == 0, "id_from_bytes: valid and deterministic (%s)", a);
    CHECK_STR_EQ(a, "pk_0024H36H2NCSVRH6DAQF6DVVQZ", "id_from_bytes: the bytes 00 11 22 .. ff in base32");
}

static void test_time(void)
{
    char buf[32];
    CHECK_STR_EQ(time_rfc3339(0, buf), "1970-01-01T00:00:00.000Z", "epoch formats");
    CHECK_STR_EQ(time_rfc3339(1300819380123LL, buf), "2011-03-22T18:43:00.123Z", "RFC 7519 exp formats");
    {
        static const struct {
            const char *s;
            int ok;
            int64_t ms;
        } v[] = {
            {"2016-02-18T20:01:35Z", 1, 1455825695000LL}, /* PROVIDERS.md 4.4's example */
            {"1970-01-01T00:00:00Z", 1, 0},
            {"2011-03-22T18:43:00.123Z", 1, 1300819380123LL},
            {"2011-03-22T18:43:00.1239999Z", 1, 1300819380123LL},
            {"2011-03-22t18:43:00.5z", 1, 1300819380500LL},
            {"2011-03-23T02:43:00+08:00", 1, 1300819380000LL},
            {"2011-03-22T17:43:00-01:00", 1, 1300819380000LL},
            {"2024-02-29T00:00:00Z", 1, 1709164800000LL},
            {"2016-12-31T23:59:60Z", 1, 1483228800000LL},
            {"2023-02-29T00:00:00Z", 0, 0},
            {"2016-02-18 20:01:35Z", 0, 0},
            {"2016-02-18T20:01:35", 0, 0},
            {"2016-02-18T20:01:35.Z", 0, 0},
            {"2016-02-18T20:01:35.1234567890Z", 0, 0},
            {"2016-02-18T24:00:00Z", 0, 0},
            {"2016-13-18T20:01:35Z", 0, 0},
            {"2016-02-18T20:01:35+0800", 0, 0},
            {"2016-02-18T20:01:35Z ", 0, 0},
            {" 2016-02-18T20:01:35Z", 0, 0},
            {"1969-12-31T23:59:59Z", 0, 0},
            {"2016-02-18T20:01:35+24:00", 0, 0},
            {"+016-02-18T20:01:35Z", 0, 0},
            {"", 0, 0},
        };
        for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
            int64_t got = -7;
            int rc = time_parse_rfc3339(v[i].s, strlen(v[i].s), &got);
            CHECK(v[i].ok ? rc == 0 && got == v[i].ms : rc == -1 && got == -7, "rfc3339 parse '%s'", v[i].s);
        }
    }
    CHECK(time_now_ms() > 1600000000000LL, "wall clock is sane");

    /* The test clock: an offset moves every later reading, and 0 puts it back. */
    CHECK(time_offset_ms() == 0, "the clock starts unmoved");
    int64_t before = time_now_ms();
    const int64_t year = 365LL * 24 * 3600 * 1000;
    time_set_offset_ms(year);
    int64_t moved = time_now_ms();
    CHECK(time_offset_ms() == year, "offset read back");
    CHECK(moved - before >= year && moved - before < year + 60000, "time_now_ms moved by the offset");
    time_set_offset_ms(0);
    CHECK(time_now_ms() - before < 60000, "offset 0 is the real clock again");

    /* Calendar months (subscription periods): the day clamps to the month's last, the time
     * of day and milliseconds stay. */
    {
        static const struct {
            const char *from;
            int n;
            const char *want;
        } v[] = {
            {"2026-01-15T10:20:30.456Z", 1, "2026-02-15T10:20:30.456Z"},
            {"2026-01-31T00:00:00.000Z", 1, "2026-02-28T00:00:00.000Z"},
            {"2028-01-31T23:59:59.999Z", 1, "2028-02-29T23:59:59.999Z"},
            {"2026-03-31T12:00:00.000Z", 1, "2026-04-30T12:00:00.000Z"},
            {"2026-12-31T08:00:00.000Z", 1, "2027-01-31T08:00:00.000Z"},
            {"2026-11-29T11:00:00.000Z", 12, "2027-11-29T11:00:00.000Z"},
            {"2028-02-29T00:00:00.000Z", 12, "2029-02-28T00:00:00.000Z"},
            {"2026-05-10T00:00:00.000Z", 0, "2026-05-10T00:00:00.000Z"},
            {"2026-01-31T00:00:00.000Z", 25, "2028-02-29T00:00:00.000Z"},
            {"1970-01-01T00:00:00.000Z", 1, "1970-02-01T00:00:00.000Z"},
        };
        for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
            int64_t from = 0;
            char sbuf_[32];
            CHECK(time_parse_rfc3339(v[i].from, strlen(v[i].from), &from) == 0, "parse %s", v[i].from);
            CHECK_STR_EQ(time_rfc3339(time_add_months(from, v[i].n), sbuf_), v[i].want, "%s + %d months", v[i].from,
                         v[i].n);
        }
        /* Twelve single steps from the 31st drift to the 28th; one step of 12 does not: periods
         * are counted from their anchor. */
        int64_t a = 0, t;
        time_parse_rfc3339("2026-01-31T00:00:00Z", 20, &a);
        t = a;
        for (int k = 0; k < 12; k++)
            t = time_add_months(t, 1);
        char b1[32], b2[32];
        CHECK_STR_EQ(time_rfc3339(t, b1), "2027-01-28T00:00:00.000Z", "stepwise months drift");
        CHECK_STR_EQ(time_rfc3339(time_add_months(a, 12), b2), "2027-01-31T00:00:00.000Z", "anchored months do not");
    }
}

static void test_sbuf(void)
{
    struct sbuf b = {0};
    sbuf_puts(&b, "a");
    sbuf_printf(&b, "%d", 42);
    sbuf_json_escape(&b, "\"\\\n\x01");
    CHECK_STR_EQ(b.data, "a42\\\"\\\\\\n\\u0001", "sbuf appends and escapes");
    for (int i = 0; i < 1000; i++)
        sbuf_puts(&b, "0123456789");
    CHECK(b.len == 15 + 10000, "sbuf grows");
    sbuf_free(&b);
    char *s = xasprintf("%s-%d", "x", 7);
    CHECK_STR_EQ(s, "x-7", "xasprintf");
    free(s);
}

static void esc_check(const char *in, size_t len, size_t cap, const char *want, const char *what)
{
    char out[256];
    size_t n = json_escape(out, cap, in, len);
    out[n] = '\0';
    CHECK_STR_EQ(out, want, "json_escape: %s", what);
}

static void test_jsonesc(void)
{
    esc_check("plain /path", 11, 100, "plain /path", "printable ASCII unchanged");
    esc_check("a\"b\\c", 5, 100, "a\\\"b\\\\c", "quote and backslash");
    esc_check("\n\r\t\x01\x7f", 5, 100, "\\n\\r\\t\\u0001\\u007f", "controls");
    esc_check("a\0b", 3, 100, "a\\u0000b", "NUL escaped");
    esc_check("\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80", 9, 100, "\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80", "valid UTF-8 kept");
    esc_check("\xff", 1, 100, "\\ufffd", "invalid byte replaced");
    esc_check("\xc0\xaf", 2, 100, "\\ufffd\\ufffd", "overlong replaced");
    esc_check("\xed\xa0\x80", 3, 100, "\\ufffd\\ufffd\\ufffd", "surrogate replaced");
    esc_check("\xf4\x90\x80\x80", 4, 100, "\\ufffd\\ufffd\\ufffd\\ufffd", "past U+10FFFF replaced");
    esc_check("ab\xe4\xb8", 4, 100, "ab\\ufffd\\ufffd", "truncated sequence replaced");
    esc_check("abc\"", 4, 4, "abc", "an escape that does not fit is not split");
    esc_check("ab\xc3\xa9", 4, 3, "ab", "a UTF-8 sequence that does not fit is not split");
}

static void test_jsonv(void)
{
    json_error_t je;
    json_t *o = json_loads("{\"email\":\"a@b.c\",\"n\":5,\"f\":1.5,\"b\":true,\"s\":7}", 0, &je);
    struct jerr e;
    const char *s = NULL;
    int64_t n = 0;
    int bv = 0;
    static const char *const allowed[] = {"email", "n", "f", "b", "s", NULL};
    static const char *const fewer[] = {"email", NULL};
    CHECK(jv_only(o, allowed, &e) == 0, "jv_only accepts listed keys");
    CHECK(jv_only(o, fewer, &e) == -1, "jv_only rejects unknown keys");
    CHECK(jv_string(o, "email", 1, 1, 254, &s, &e) == 0 && strcmp(s, "a@b.c") == 0, "jv_string reads");
    CHECK(jv_string(o, "email", 1, 10, 254, &s, &e) == -1, "jv_string enforces min length");
    CHECK(jv_string(o, "s", 1, 0, 10, &s, &e) == -1 && strcmp(e.field, "s") == 0, "jv_string rejects numbers");
    CHECK(jv_string(o, "missing", 1, 0, 10, &s, &e) == -1, "jv_string required");
    CHECK(jv_string(o, "missing", 0, 0, 10, &s, &e) == 0 && s == NULL, "jv_string optional");
    CHECK(jv_int(o, "n", 1, 0, 10, &n, &e) == 0 && n == 5, "jv_int reads");
    CHECK(jv_int(o, "n", 1, 6, 10, &n, &e) == -1, "jv_int enforces bounds");
    CHECK(jv_int(o, "f", 1, 0, 10, &n, &e) == -1, "jv_int rejects reals");
    CHECK(jv_int(o, "email", 1, 0, 10, &n, &e) == -1, "jv_int rejects strings");
    CHECK(jv_bool(o, "b", 1, &bv, &e) == 0 && bv == 1, "jv_bool reads");
    CHECK(jv_bool(o, "n", 1, &bv, &e) == -1, "jv_bool rejects integers");
    json_decref(o);
    json_t *arr = json_loads("[1]", 0, &je);
    CHECK(jv_only(arr, allowed, &e) == -1, "jv_only rejects non-objects");
    json_decref(arr);
    const char *nul_text = "{\"email\":\"a\\u0000b\"}";
    json_t *nul = json_loadb(nul_text, strlen(nul_text), JSON_ALLOW_NUL, &je);
    CHECK(nul && jv_string(nul, "email", 1, 0, 10, &s, &e) == -1, "jv_string rejects embedded NUL");
    json_decref(nul);
}

static void test_errors(void)
{
    CHECK_STR_EQ(tg_err_code(TG_E_INSUFFICIENT_CREDITS), "insufficient_credits", "error code");
    CHECK_INT_EQ(tg_err_status(TG_E_INSUFFICIENT_CREDITS), 402, "402 for insufficient credits");
    CHECK_INT_EQ(tg_err_status(TG_E_PAYLOAD_TOO_LARGE), 413, "413 for large bodies");
    CHECK_INT_EQ(tg_err_status(TG_E_RATE_LIMITED), 429, "429 for rate limits");
    for (int i = 0; i < TG_E__COUNT; i++)
        if (tg_err_status((enum tg_err)i) < 400 || tg_err_status((enum tg_err)i) > 599)
            CHECK(0, "status of %s in 4xx/5xx", tg_err_code((enum tg_err)i));
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    test_ids();
    test_time();
    test_sbuf();
    test_jsonesc();
    test_jsonv();
    test_errors();
    return test_done();
}
