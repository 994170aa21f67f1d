/*
 * fuzz_pay_alipay.c - fuzz target for the Alipay provider's parsers (src/providers/pay/alipay.c):
 * notification bodies (alipay_form_parse, alipay_notify_check) and gateway answers
 * (alipay_answer_open).
 *
 * The first byte picks the mode, the rest is the input:
 *   0..6: a raw notification body, checked with the Alipay key;
 *   7:    a notification body without a signature, which the target signs with the Alipay
 *         key before checking (so that everything past the signature is reached);
 *   8..13: a raw gateway answer to alipay.trade.query;
 *   14:   a response object, which the target wraps in {"alipay_trade_query_response":...,
 *         "sign":...} signed with the Alipay key;
 *   15:   a form body -> alipay_form_parse round trip.
 * Signing costs about a millisecond, so only one mode in sixteen signs.
 * Invariants (abort() when broken):
 *  - form bodies: a parse gives 1..ALIPAY_PARAMS_MAX distinct names of [A-Za-z0-9_] and
 *    bounded values; re-encoded (pct_encode) it parses back to the same pairs; a refusal
 *    leaves the set empty;
 *  - notifications: the rc is ok, ignored or invalid; a reason exactly when not ok; no event
 *    unless ok; an event has an id of [A-Za-z0-9_.-], CNY, our app's order id shape, a paid
 *    amount equal to money_parse(total_amount) and > 0, a refund id that is out_biz_no when it
 *    is ours ("rfd_") and empty otherwise; a body
 *    the target signed itself never fails with signature_mismatch, and one byte changed in a
 *    signed body that was accepted is never accepted with another meaning;
 *  - answers: ok exactly with a response object; signed only when the text has a "sign"; an
 *    object the target signed opens signed and equal to the object as jansson reads it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/mem.h"
#include "core/money.h"
#include "crypto/encode.h"
#include "crypto/rsa.h"
#include "fuzz.h"
#include "providers/pay/alipay.h"

/* A TEST-ONLY key playing Alipay's (made for this file; it signs nothing real). */
static const char alipay_test_key[] = "-----BEGIN PRIVATE KEY-----\n"
                                      "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQDPgeIzhUKdJmQL\n"
                                      "cxLsaq7sduqK3tYioFOUMs04EhMHcNAupwSRlgi/Nf+sqqEVLpiW2oCq/c0y4FUI\n"
                                      "diTlACINYQJ9PIfwOGY2bmKwdJE1Kk0jNA4z9wSWtlm9p2Tk0mWLpkw7e0NW+2NK\n"
                                      "E3ce+C21f2oeCdmAbzDInCsrseke0mIIIFWlY5A5RhqRZZMx1m7B1U/y5onr4uu7\n"
                                      "qINDODFInx1KG6J8nsXxsmKBUSArQe6r4KG0YkjDj+mIZVLCe68NjL9j3ZUzdCVi\n"
                                      "Rdy9niJv6dUQ+MOCo4cb2CNLKPvm6FIl051KM6poAw1R9YVBR5jU2IxRa6i8kTbB\n"
                                      "sVfm4oTZAgMBAAECggEAA6hEohypv1F8pxYCDKAsZpcJobp1ODrZVkNB9N3JWj14\n"
                                      "XIYi5rpSpk9vlZhpSpFdwko7b9LALIgh1N/Dh99lej+44UJb8VWGeame5tYbHr6D\n"
                                      "ibNibQiKxb7qMdVINN8/cm4TKbjjB4lakeTqGdCNJQXdSzETFWLVpNzZxu/1uE5m\n"
                                      "qK/D+RWV8ffe+FAoqvzPTt358tjUZ/mJqf8G2I6i0ee9S6dHpuKcb9Nnkvo2kHrK\n"
                                      "8tqLAyYWEBc3To4OP/d7wMGscrV/4knq2oa4T8lDbhoP0ONCbO57aP8h66/nk4Gl\n"
                                      "c8pSOjGr+Twb5oi5OcXcCkDgeCPaujNd1pywUONRXQKBgQDpijWlloyiMsvmUAqf\n"
                                      "RXHXAXDGGNU3M5YYaW3BD/M8WBUU0weHQaCs0TFY3l2TPxRD06u2ywZOr+6u/wua\n"
                                      "MxeFVReO/6PQ9e/u2T4MuZzElBJV5j/SZSyOBZuHtSrR/K9ffD3m84QPTHx463pH\n"
                                      "BvQAYsNOl4PIOedcHIyBUjSplQKBgQDjdr+/qSLB30ouAkX1KlMhH1DyWiT99AXp\n"
                                      "DUK3gay0172SnoME+b0IuNEa1sRx7vZB7RjbGLEzpH6yGcps9hCKqsBjAR0ZtO0a\n"
                                      "twCSWJO92p/nkLqbyFMDBygR654HeKmB9awXxzQaV+ICNEq4/h3tyOM7nfIZ7+Mn\n"
                                      "rzQcEB2FNQKBgQCzXxQVOqyJZ7p0CsYdzpjBKroTbL9Wxqhh15gU0MthbcXDWNJP\n"
                                      "cHiYQ5RDTYdRsQE/lzQsEYOmrDoG7p1asiM+pTyS+IY52KuQKAsgeu+NjK0IjPA4\n"
                                      "CL1P1769XMimwA1yqVpiKGcl2PlBZptkMlL2eOTJWFY/Uzn/5W2FZj5MgQKBgDXC\n"
                                      "PgVNMxLA9CY1kVUlIKqGXTo6Bd4jSzZOVQNL2YaQKpS5c9u8LmoeTAVc1ubahEcG\n"
                                      "g0Zc6px69xqer9HawgQT4Q5FGByYPyV+NNthpeFMB1jSQthImx3vFhBOMHYxlVZK\n"
                                      "utaP1QeY16iPtU1NecNWJCZV6P8qS/R4Gwe64081AoGAKbT/cP+E6msfJoxjZxfc\n"
                                      "kzKwGSYkPvA0XCUPfFZO7Yj4IzwCLjuLWgZqHKk9mqjuRKnAtILgAE4nhV9PEyP5\n"
                                      "VlrzAoh2oEIik4P41O6vzJdlYTuYHAazKRvNpZA2D7yRwXVFKOc96TCvLuJqLo+n\n"
                                      "X2+E2lYLLTjdbMNZctpbf50=\n"
                                      "-----END PRIVATE KEY-----\n";

#define APP_ID "2021000000000001"

static struct rsa_key *K;
static unsigned long counts[4][8];

static const struct rsa_key *key(void)
{
    if (K == NULL && rsa_priv_from_pem(alipay_test_key, sizeof alipay_test_key - 1, &K) != RSA_OK)
        abort();
    return K;
}

static int is_zero(const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return 0;
    return 1;
}

static int id_chars(const char *s)
{
    if (s[0] == '\0')
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_' ||
              *s == '.' || *s == '-'))
            return 0;
    return 1;
}

static void encode_params(const struct alipay_params *ps, struct sbuf *b)
{
    for (size_t i = 0; i < ps->n; i++) {
        size_t vn = strlen(ps->p[i].value);
        char *enc = xmalloc(pct_encoded_len(ps->p[i].value, vn) + 1);
        pct_encode(ps->p[i].value, vn, enc);
        sbuf_printf(b, "%s%s=%s", i ? "&" : "", ps->p[i].key, enc);
        free(enc);
    }
}

static void run_form(const char *in, size_t n)
{
    struct alipay_params ps = {.n = 0}, back = {.n = 0};
    struct sbuf b = {0};

    if (alipay_form_parse(in, n, &ps) != 0) {
        if (ps.n != 0)
            abort();
        counts[3][0]++;
        return;
    }
    counts[3][1]++;
    if (ps.n == 0 || ps.n > ALIPAY_PARAMS_MAX)
        abort();
    for (size_t i = 0; i < ps.n; i++) {
        const char *k = ps.p[i].key;
        size_t kl = strlen(k);
        if (kl == 0 || kl > ALIPAY_KEY_MAX || strlen(ps.p[i].value) > ALIPAY_VALUE_MAX)
            abort();
        for (size_t j = 0; j < kl; j++)
            if (!((k[j] >= 'a' && k[j] <= 'z') || (k[j] >= 'A' && k[j] <= 'Z') ||
                  (k[j] >= '0' && k[j] <= '9') || k[j] == '_'))
                abort();
        for (size_t j = 0; j < i; j++)
            if (strcmp(ps.p[j].key, k) == 0)
                abort();
    }
    encode_params(&ps, &b);
    if (b.len <= ALIPAY_NOTIFY_MAX) {
        if (alipay_form_parse(b.data, b.len, &back) != 0 || back.n != ps.n)
            abort();
        for (size_t i = 0; i < ps.n; i++)
            if (strcmp(back.p[i].key, ps.p[i].key) != 0 || strcmp(back.p[i].value, ps.p[i].value) != 0)
                abort();
    }
    sbuf_free(&b);
    alipay_params_free(&back);
    alipay_params_free(&ps);
}

static void check_result(const struct pay_webhook_res *res, const char *body, size_t n)
{
    const struct pay_event *ev = &res->ev;
    struct alipay_params ps = {.n = 0};
    int64_t amt;
    const char *v;

    if (res->rc != PAY_OK && res->rc != PAY_IGNORED && res->rc != PAY_INVALID)
        abort();
    if ((res->rc == PAY_OK) != (res->reason[0] == '\0') ||
        memchr(res->reason, '\0', sizeof res->reason) == NULL)
        abort();
    if (res->rc != PAY_OK) {
        if (!is_zero(ev, sizeof *ev))
            abort();
        return;
    }
    if (!id_chars(ev->event_id) || strcmp(ev->currency, "CNY") != 0 || !id_chars(ev->order_id) ||
        strlen(ev->order_id) >= TG_ID_MAX)
        abort();
    if (alipay_form_parse(body, n, &ps) != 0)
        abort(); /* it was accepted, so it parses */
    if (strcmp(alipay_params_get(&ps, "app_id"), APP_ID) != 0 ||
        strcmp(alipay_params_get(&ps, "notify_id"), ev->event_id) != 0 ||
        strcmp(alipay_params_get(&ps, "out_trade_no"), ev->order_id) != 0)
        abort();
    switch (ev->kind) {
    case PAY_EVENT_PAID:
        v = alipay_params_get(&ps, "trade_status");
        if (strcmp(v, "TRADE_SUCCESS") != 0 && strcmp(v, "TRADE_FINISHED") != 0)
            abort();
        v = alipay_params_get(&ps, "total_amount");
        if (money_parse(v, strlen(v), "CNY", &amt) != 0 || amt != ev->amount || amt <= 0)
            abort();
        if (ev->refund_id[0] != '\0')
            abort();
        break;
    case PAY_EVENT_FAILED:
        if (strcmp(alipay_params_get(&ps, "trade_status"), "TRADE_CLOSED") != 0 || ev->amount < 0)
            abort();
        break;
    case PAY_EVENT_REFUND:
        v = alipay_params_get(&ps, "out_biz_no");
        if (ev->amount != 0 || v == NULL || !id_chars(v) ||
            (ev->refund_id[0] != '\0' &&
             (strncmp(ev->refund_id, "rfd_", 4) != 0 || strcmp(v, ev->refund_id) != 0)) ||
            (ev->refund_id[0] == '\0' && strncmp(v, "rfd_", 4) == 0 && strlen(v) < TG_ID_MAX) ||
            strcmp(strchr(ev->provider_refund_id, ':') + 1, v) != 0)
            abort();
        break;
    default:
        abort();
    }
    alipay_params_free(&ps);
}

static void run_notify(const char *in, size_t n, int sign)
{
    struct pay_webhook_res res;
    struct alipay_params ps = {.n = 0};
    struct sbuf b = {0};
    const char *body = in;
    size_t blen = n;

    if (sign) {
        char *content, *sig;
        if (alipay_form_parse(in, n, &ps) != 0 || alipay_params_get(&ps, "sign") != NULL ||
            ps.n >= ALIPAY_PARAMS_MAX) {
            alipay_params_free(&ps);
            return;
        }
        content = alipay_sign_content(&ps, 1);
        sig = alipay_sign_b64(key(), content);
        free(content);
        if (sig == NULL)
            abort();
        alipay_params_add(&ps, "sign", sig);
        free(sig);
        encode_params(&ps, &b);
        alipay_params_free(&ps);
        body = b.data;
        blen = b.len;
    }
    alipay_notify_check(body, blen, key(), APP_ID, &res);
    counts[sign][res.rc < 8 ? res.rc : 7]++;
    check_result(&res, body, blen);
    if (sign && blen <= ALIPAY_NOTIFY_MAX && strcmp(res.reason, "signature_mismatch") == 0)
        abort();
    if (sign && res.rc == PAY_OK && blen > 0) {
        /* One byte changed: either refused, or the same event (a change the decoder undoes,
         * like '+' for "%20"). */
        struct pay_webhook_res again;
        char *copy = xmalloc(blen + 1);
        size_t at = (size_t)(b.len * 7 / 13) % blen;
        memcpy(copy, body, blen);
        copy[at] = copy[at] == 'A' ? 'B' : 'A';
        alipay_notify_check(copy, blen, key(), APP_ID, &again);
        if (again.rc == PAY_OK && memcmp(&again.ev, &res.ev, sizeof res.ev) != 0) {
            struct alipay_params x = {.n = 0}, y = {.n = 0};
            int same = alipay_form_parse(body, blen, &x) == 0 && alipay_form_parse(copy, blen, &y) == 0 &&
                       x.n == y.n;
            for (size_t i = 0; same && i < x.n; i++)
                same = strcmp(x.p[i].key, y.p[i].key) == 0 && strcmp(x.p[i].value, y.p[i].value) == 0;
            alipay_params_free(&x);
            alipay_params_free(&y);
            if (!same)
                abort();
        }
        free(copy);
    }
    sbuf_free(&b);
}

static void run_answer(const char *in, size_t n, int sign)
{
    json_t *resp = NULL, *want = NULL;
    int signed_ = -1;
    char reason[64];
    enum pay_rc rc;
    struct sbuf b = {0};
    const char *text = in;
    size_t len = n;

    if (sign) {
        char *s, *sig;
        /* Alipay signs the bytes of the object, from its '{' to its '}'. */
        while (n > 0 && (in[0] == ' ' || in[0] == '\t' || in[0] == '\n' || in[0] == '\r'))
            in++, n--;
        while (n > 0 && (in[n - 1] == ' ' || in[n - 1] == '\t' || in[n - 1] == '\n' || in[n - 1] == '\r'))
            n--;
        s = xstrndup(in, n);
        if (strlen(s) != n) {
            free(s);
            return;
        }
        sig = alipay_sign_b64(key(), s);
        sbuf_puts(&b, "{\"alipay_trade_query_response\":");
        sbuf_append(&b, in, n);
        sbuf_printf(&b, ",\"sign\":\"%s\"}", sig);
        free(sig);
        free(s);
        text = b.data;
        len = b.len;
        want = json_loadb(in, n, JSON_REJECT_DUPLICATES, NULL);
    }
    rc = alipay_answer_open(text, len, "alipay.trade.query", key(), &resp, &signed_, reason);
    counts[2][rc < 8 ? rc : 7]++;
    if (rc == PAY_OK) {
        if (!json_is_object(resp) || (signed_ != 0 && signed_ != 1) || reason[0] != '\0')
            abort();
        if (signed_ && memmem(text, len, "\"sign\"", 6) == NULL)
            abort();
    } else {
        if (resp != NULL || signed_ != 0 || reason[0] == '\0' ||
            (rc != PAY_UNAVAILABLE && rc != PAY_MISCONFIGURED))
            abort();
    }
    /* A well-formed object we signed must open, signed, as itself. */
    if (sign && json_is_object(want) && len <= ALIPAY_ANSWER_MAX &&
        (rc != PAY_OK || !signed_ || !json_equal(resp, want)))
        abort();
    json_decref(want);
    json_decref(resp);
    sbuf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data + 1;
    size_t n;
    if (size == 0)
        return 0;
    n = size - 1;
    switch (data[0] % 16) {
    case 7:
        run_notify(in, n, 1);
        break;
    case 14:
        run_answer(in, n, 1);
        break;
    case 15:
        run_form(in, n);
        break;
    default:
        if (data[0] % 16 < 7)
            run_notify(in, n, 0);
        else
            run_answer(in, n, 0);
        break;
    }
    return 0;
}

void fuzz_seeds(void (*add)(const uint8_t *data, size_t size))
{
    static const char *const notifies[] = {
        "gmt_create=2026-11-29+16%3A30%3A05&charset=utf-8&subject=115+%E7%A7%AF%E5%88%86&sign_type=RSA2&"
        "notify_id=2026112900222163005067460509318650&notify_type=trade_status_sync&trade_status=TRADE_"
        "SUCCESS&"
        "app_id=2021000000000001&out_trade_no=ord_01JNOTIFYVECTOR00000000000&total_amount=68.00&"
        "trade_no=2026112922001446880500123456&fund_bill_list=%5B%7B%22amount%22%3A%2268.00%22%7D%5D",
        "charset=utf-8&sign_type=RSA2&notify_id=n2&trade_status=TRADE_CLOSED&app_id=2021000000000001&"
        "out_trade_no=ord_1&total_amount=68.00&trade_no=2026&gmt_close=2026-11-29+16%3A45%3A00",
        "charset=utf-8&sign_type=RSA2&notify_id=n3&trade_status=TRADE_SUCCESS&app_id=2021000000000001&"
        "out_trade_no=ord_1&total_amount=68.00&trade_no=2026&refund_fee=20.00&gmt_refund=2026-11-30+10%3A00%"
        "3A00&"
        "out_biz_no=rfd_01JREFUND",
        "charset=utf-8&sign_type=RSA2&notify_id=n4&trade_status=WAIT_BUYER_PAY&app_id=2021000000000001&"
        "out_trade_no=ord_1&total_amount=0.01&trade_no=2026",
    };
    static const char *const answers[] = {
        "{\"alipay_trade_query_response\":{\"code\":\"10000\",\"msg\":\"Success\",\"trade_no\":\"2026\","
        "\"out_trade_no\":\"ord_1\",\"trade_status\":\"TRADE_SUCCESS\",\"total_amount\":\"68.00\"},"
        "\"sign\":\"AAAA\"}",
        "{\"error_response\":{\"code\":\"40002\",\"msg\":\"Invalid "
        "Arguments\",\"sub_code\":\"isv.invalid-app-id\"}}",
        "{\"alipay_trade_query_response\":{\"code\":\"40004\",\"sub_code\":\"ACQ.TRADE_NOT_EXIST\",\"x\":[1,{"
        "\"a\":\"}\"}]}}",
    };
    static const char *const objects[] = {
        "{\"code\":\"10000\",\"qr_code\":\"https:\\/\\/qr.alipay.com\\/bax03206\"}",
        "{\"code\":\"10000\",\"nested\":{\"a\":[1,2,{\"b\":\"}]\\\"\"}]}}",
        " { } ",
    };
    uint8_t buf[2048];
    size_t i, n;

    for (i = 0; i < sizeof notifies / sizeof notifies[0]; i++) {
        n = strlen(notifies[i]);
        buf[0] = 0;
        memcpy(buf + 1, notifies[i], n);
        add(buf, n + 1);
        buf[0] = 7; /* the same, signed by the target */
        add(buf, n + 1);
        buf[0] = 15;
        add(buf, n + 1);
    }
    for (i = 0; i < sizeof answers / sizeof answers[0]; i++) {
        n = strlen(answers[i]);
        buf[0] = 8;
        memcpy(buf + 1, answers[i], n);
        add(buf, n + 1);
    }
    for (i = 0; i < sizeof objects / sizeof objects[0]; i++) {
        n = strlen(objects[i]);
        buf[0] = 14;
        memcpy(buf + 1, objects[i], n);
        add(buf, n + 1);
    }
}

void fuzz_report(void)
{
    printf("notify raw: ok %lu ignored %lu invalid %lu; signed here: ok %lu ignored %lu invalid %lu; "
           "answers: ok %lu unavailable %lu misconfigured %lu; forms parsed %lu refused %lu\n",
           counts[0][PAY_OK], counts[0][PAY_IGNORED], counts[0][PAY_INVALID], counts[1][PAY_OK],
           counts[1][PAY_IGNORED], counts[1][PAY_INVALID], counts[2][PAY_OK], counts[2][PAY_UNAVAILABLE],
           counts[2][PAY_MISCONFIGURED], counts[3][1], counts[3][0]);
}
