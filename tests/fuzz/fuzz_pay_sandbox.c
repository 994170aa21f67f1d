/*
 * fuzz_pay_sandbox.c - fuzz target for the sandbox provider's notification check
 * sandbox_pay_verify() (src/providers/pay/sandbox.c): a Stripe-like signature header
 * (Tollgate-Sandbox-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">)
 * over a JSON body.
 *
 * The first byte holds flags, the rest is "<header value>\n<body>" (no newline: all header,
 * empty body):
 *   bit 0: no header at all;
 *   bit 1: the target signs the body itself - the header becomes a correct signature at
 *          now + 3 * (int8)second byte seconds (both sides of the 300 s tolerance) - so that
 *          the JSON checks behind the signature are reached; the header text is then unused;
 *   bit 2: the signature is made with another secret (must never verify).
 * Invariants (abort() when broken):
 *  - never a result other than OK, IGNORED or INVALID, and a reason that is a bounded string
 *    (non-empty exactly when not OK);
 *  - OK or IGNORED only when the signature verifies by an independent check: the header is
 *    exactly "t=" 1..12 digits ",v1=" 64 lower-case hex digits, t within 300 s of now, and the
 *    hex is the HMAC-SHA256, computed here with OpenSSL's HMAC() under the key derived from
 *    the configured secret, of the decimal t, ".", and the body bytes;
 *  - when it verifies, a refusal is about the body only (body_not_json or body_malformed);
 *  - on OK the event fields are NUL-terminated within their arrays and equal what the body
 *    says (re-read here with jansson): id, type, order_id, amount > 0, a 3-letter currency,
 *    and for a refund its refund_id; anything else leaves the event all zero.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "core/config.h"
#include "crypto/encode.h"
#include "fuzz.h"
#include "providers/pay/sandbox.h"

#define SECRET "whsec_fuzz_0123456789abcdef0123456789"
#define OTHER_SECRET "whsec_fuzz_another_secret_000000000"
static const int64_t NOW_MS = 1764400000123LL;

static unsigned long n_ok, n_ignored, n_invalid_sig, n_invalid_body;

static void setup(void)
{
    static int done;
    char dir[] = "/tmp/tg_fuzz_sandbox_XXXXXX";
    char *err = NULL;
    if (done)
        return;
    done = 1;
    if (mkdtemp(dir) == NULL)
        abort();
    setenv("TG_DATA_DIR", dir, 1);
    setenv("TG_JWT_SECRET", "fuzz-jwt-secret-0123456789abcdef0123456789", 1);
    setenv("TG_SANDBOX_WEBHOOK_SECRET", SECRET, 1);
    if (config_load(NULL, &err) != 0) {
        fprintf(stderr, "config_load: %s\n", err ? err : "?");
        abort();
    }
    rmdir(dir); /* nothing was written into it */
}

/* The notification key: HMAC-SHA256(secret, label), as PROVIDERS.md describes it. */
static void ref_key(const char *secret, unsigned char key[32])
{
    static const char label[] = "tollgate sandbox payments v1";
    unsigned int n = 32;
    if (HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)label, sizeof label - 1, key, &n) ==
            NULL ||
        n != 32)
        abort();
}

/* Lower-case hex of HMAC-SHA256(key(secret), "<t>." || body). */
static void ref_mac(const char *secret, int64_t t, const char *body, size_t len, char hex[65])
{
    unsigned char key[32], mac[32];
    unsigned int n = 32;
    char ts[32];
    int tl = snprintf(ts, sizeof ts, "%" PRId64 ".", t);
    unsigned char *msg = malloc((size_t)tl + len + 1);
    if (msg == NULL)
        abort();
    memcpy(msg, ts, (size_t)tl);
    if (len)
        memcpy(msg + tl, body, len);
    ref_key(secret, key);
    if (HMAC(EVP_sha256(), key, sizeof key, msg, (size_t)tl + len, mac, &n) == NULL || n != 32)
        abort();
    free(msg);
    hex_encode(mac, sizeof mac, hex);
}

/* 1 when header h verifies for body under SECRET at NOW_MS, by a parse written apart from
 * sandbox.c's. */
static int ref_verifies(const char *h, const char *body, size_t len)
{
    if (h == NULL || strncmp(h, "t=", 2) != 0)
        return 0;
    const char *d = h + 2, *comma = strchr(d, ',');
    if (comma == NULL || comma == d || comma - d > 12)
        return 0;
    int64_t t = 0;
    for (const char *q = d; q < comma; q++) {
        if (*q < '0' || *q > '9')
            return 0;
        t = t * 10 + (*q - '0');
    }
    const char *v = comma + 1;
    if (strncmp(v, "v1=", 3) != 0 || strlen(v + 3) != 64)
        return 0;
    int64_t now_s = NOW_MS / 1000;
    if (t < now_s - SANDBOX_PAY_TOLERANCE_S || t > now_s + SANDBOX_PAY_TOLERANCE_S)
        return 0;
    char want[65];
    ref_mac(SECRET, t, body, len, want);
    return strcmp(v + 3, want) == 0;
}

struct hdr {
    const char *value; /* NULL: absent */
};

static const char *get_header(void *hctx, const char *lname)
{
    const struct hdr *h = hctx;
    return strcmp(lname, "tollgate-sandbox-signature") == 0 ? h->value : NULL;
}

static int terminated(const char *s, size_t cap)
{
    return memchr(s, '\0', cap) != NULL;
}

static int all_zero(const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return 0;
    return 1;
}

static int json_str_is(json_t *j, const char *key, const char *want)
{
    const char *v = json_string_value(json_object_get(j, key));
    return v != NULL && strcmp(v, want) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    setup();
    uint8_t flags = data[0];
    const char *in = (const char *)data + 1;
    size_t len = size - 1;
    const char *nl = memchr(in, '\n', len);
    size_t hlen = nl ? (size_t)(nl - in) : len;
    size_t blen = nl ? len - hlen - 1 : 0;

    /* The body in a buffer of exactly its length: a read past it is caught. */
    char *body = malloc(blen ? blen : 1);
    char *hval = malloc(hlen + 1);
    char *signed_hdr = NULL;
    if (body == NULL || hval == NULL)
        abort();
    if (blen)
        memcpy(body, nl + 1, blen);
    memcpy(hval, in, hlen);
    hval[hlen] = '\0';

    struct hdr h = {hval};
    if (flags & 1) {
        h.value = NULL;
    } else if (flags & 2) {
        int8_t off = hlen > 0 ? (int8_t)in[0] : 0;
        int64_t t = NOW_MS / 1000 + 3 * (int64_t)off;
        char hex[65];
        ref_mac((flags & 4) ? OTHER_SECRET : SECRET, t, body, blen, hex);
        size_t cap = 96;
        signed_hdr = malloc(cap);
        if (signed_hdr == NULL)
            abort();
        snprintf(signed_hdr, cap, "t=%" PRId64 ",v1=%s", t, hex);
        h.value = signed_hdr;
    }

    struct pay_webhook_req req = {body, blen, get_header, &h, NOW_MS};
    struct pay_webhook_res res;
    memset(&res, 0xa5, sizeof res); /* whatever was there must not show through */
    sandbox_pay_verify(&req, &res);

    int verifies = ref_verifies(h.value, body, blen);
    if (!terminated(res.reason, sizeof res.reason))
        abort();
    if (res.rc != PAY_OK && res.rc != PAY_IGNORED && res.rc != PAY_INVALID)
        abort();
    if ((res.rc == PAY_OK) != (res.reason[0] == '\0'))
        abort();
    if (res.rc != PAY_INVALID && !verifies)
        abort(); /* accepted without a valid signature */
    if ((flags & 6) == 6 && h.value != NULL && res.rc != PAY_INVALID)
        abort(); /* signed with another secret */
    if (res.rc == PAY_INVALID) {
        int body_reason = strcmp(res.reason, "body_not_json") == 0 || strcmp(res.reason, "body_malformed") == 0;
        if (verifies != body_reason)
            abort(); /* a good signature refused for its signature, or a bad one for its body */
        n_invalid_sig += !verifies;
        n_invalid_body += verifies;
    }
    if (res.rc != PAY_OK) {
        if (!all_zero(&res.ev, sizeof res.ev))
            abort();
        n_ignored += res.rc == PAY_IGNORED;
    } else {
        struct pay_event *e = &res.ev;
        if (!terminated(e->event_id, sizeof e->event_id) || !terminated(e->type, sizeof e->type) ||
            !terminated(e->order_id, sizeof e->order_id) || !terminated(e->provider_ref, sizeof e->provider_ref) ||
            !terminated(e->currency, sizeof e->currency) || !terminated(e->refund_id, sizeof e->refund_id) ||
            !terminated(e->provider_refund_id, sizeof e->provider_refund_id))
            abort();
        if (e->amount <= 0 || strlen(e->currency) != 3)
            abort();
        json_t *j = json_loadb(body, blen, JSON_REJECT_DUPLICATES, NULL);
        if (j == NULL || !json_str_is(j, "id", e->event_id) || !json_str_is(j, "type", e->type) ||
            !json_str_is(j, "order_id", e->order_id) || !json_str_is(j, "currency", e->currency) ||
            json_integer_value(json_object_get(j, "amount")) != e->amount ||
            !json_is_integer(json_object_get(j, "amount")))
            abort();
        if (strcmp(e->type, "payment.succeeded") == 0) {
            if (e->kind != PAY_EVENT_PAID || e->refund_id[0] || e->provider_refund_id[0])
                abort();
        } else if (strcmp(e->type, "payment.failed") == 0) {
            if (e->kind != PAY_EVENT_FAILED || e->refund_id[0] || e->provider_refund_id[0])
                abort();
        } else if (strcmp(e->type, "refund.succeeded") == 0) {
            if (e->kind != PAY_EVENT_REFUND || !json_str_is(j, "refund_id", e->refund_id))
                abort();
        } else {
            abort(); /* an event type the sandbox does not send */
        }
        if (e->provider_ref[0])
            abort();
        json_decref(j);
        n_ok++;
    }
    free(signed_hdr);
    free(hval);
    free(body);
    return 0;
}

void fuzz_seeds(void (*add)(const uint8_t *data, size_t size))
{
    /* Flag 2 (signed by the target); the header part's first byte is the time offset. */
    static const char *texts[] = {
        "\x02\x01\n{\"amount\":990,\"created\":1764400000,\"currency\":\"USD\",\"id\":\"sbx_evt_1\","
        "\"order_id\":\"ord_01HZX3K9Q4M2W8E5R7T6Y1U0PA\",\"type\":\"payment.succeeded\"}",
        "\x02\x10\n{\"amount\":990,\"currency\":\"USD\",\"id\":\"sbx_evt_2\",\"order_id\":\"ord_1\","
        "\"type\":\"payment.failed\"}",
        "\x02\x7f\n{\"amount\":100,\"currency\":\"USD\",\"id\":\"sbx_evt_3\",\"order_id\":\"ord_1\","
        "\"type\":\"refund.succeeded\",\"refund_id\":\"rfd_01HZX3K9Q4M2W8E5R7T6Y1U0PA\"}",
        "\x02\x80\n{\"amount\":990,\"currency\":\"USD\",\"id\":\"e\",\"order_id\":\"o\",\"type\":\"payment.succeeded\"}",
        "\x02\x01\n{\"amount\":990,\"currency\":\"USD\",\"id\":\"e\",\"order_id\":\"o\",\"type\":\"charge.pending\"}",
        "\x02\x01\n{\"amount\":100,\"currency\":\"USD\",\"id\":\"e\",\"order_id\":\"o\",\"type\":\"refund.succeeded\"}",
        "\x02\x01\n{\"amount\":-1,\"currency\":\"USD\",\"id\":\"e\",\"order_id\":\"o\",\"type\":\"payment.succeeded\"}",
        "\x02\x01\n{\"amount\":1,\"currency\":\"USDX\",\"id\":\"e\",\"order_id\":\"o\",\"type\":\"payment.succeeded\"}",
        "\x02\x01\n{\"id\":\"a\",\"id\":\"b\"}",
        "\x02\x01\nnot json",
        "\x06\x01\n{\"amount\":990,\"currency\":\"USD\",\"id\":\"e\",\"order_id\":\"o\",\"type\":\"payment.succeeded\"}",
        "\x01\n{}",
        "\x00t=1764400000,v1=0000000000000000000000000000000000000000000000000000000000000000\n{}",
        "\x00t=1764400000,v1=ABCDEF0000000000000000000000000000000000000000000000000000000000\n{}",
        "\x00t=,v1=00\n{}",
        "\x00t=1764400000000,v1=x\n{}",
        "\x00v1=00,t=1\n{}",
        "\x00t=1764400000,v1=00000000000000000000000000000000000000000000000000000000000000000\n{}",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
        add((const uint8_t *)texts[i], strlen(texts[i] + 1) + 1);
}

void fuzz_report(void)
{
    printf("notifications accepted %lu, ignored %lu, refused for the signature %lu, for the body %lu\n", n_ok,
           n_ignored, n_invalid_sig, n_invalid_body);
}
