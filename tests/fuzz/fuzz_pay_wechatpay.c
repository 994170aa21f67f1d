/*
 * fuzz_pay_wechatpay.c - fuzz target for what WeChat Pay sends Tollgate
 * (src/providers/pay/wechatpay.c): notifications, the plaintext of their encrypted
 * resources, query and refund answers, certificate lists and the signature headers.
 *
 * Input: one selector byte, then the data.
 *   0: the data as a whole notification body (read after its signature held);
 *   1: the data as the decrypted resource of a TRANSACTION.SUCCESS notification (encrypted
 *      here with the APIv3 key and wrapped in an envelope, so the reader goes past the
 *      decryption); 2: the same for REFUND.SUCCESS; 3: for REFUND.ABNORMAL;
 *   4: a query answer (Transaction); 5: a refund answer; 6: a GET /v3/certificates answer;
 *   7: four header values separated by newlines (timestamp, nonce, signature, serial).
 *
 * Invariants (abort() when broken): an accepted event names an order id of WeChat Pay's
 * out_trade_no characters (at most 32), a positive amount, a three-letter upper-case
 * currency and a non-empty event id, and its strings are terminated; a paid query result's
 * event id starts "query:"; every refusal carries a reason; nothing accepts a refund with no
 * refund id.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/aesgcm.h"
#include "crypto/encode.h"
#include "crypto/rsa.h"
#include "fuzz.h"
#include "providers/pay/wechatpay.h"

#define KEY "0123456789abcdef0123456789abcdef"
#define MCHID "1230000109"
#define ORDER "ord_01KB5Q3VJ4ZQ8E2W6T9YH3N7MA"

static unsigned long paid, refunds, ignored, queried, refund_answers;

static void *xalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL)
        abort();
    return p;
}

static void check_str(const char *s, size_t cap)
{
    if (memchr(s, '\0', cap) == NULL)
        abort();
}

static void check_event(const struct pay_event *ev)
{
    size_t n;
    check_str(ev->event_id, sizeof ev->event_id);
    check_str(ev->type, sizeof ev->type);
    check_str(ev->order_id, sizeof ev->order_id);
    check_str(ev->provider_ref, sizeof ev->provider_ref);
    check_str(ev->currency, sizeof ev->currency);
    check_str(ev->refund_id, sizeof ev->refund_id);
    check_str(ev->provider_refund_id, sizeof ev->provider_refund_id);
    n = strlen(ev->order_id);
    if (ev->event_id[0] == '\0' || n == 0 || n > 32 || ev->amount <= 0 || strlen(ev->currency) != 3)
        abort();
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)ev->order_id[i]) && ev->order_id[i] != '_' && ev->order_id[i] != '-')
            abort();
    for (size_t i = 0; i < 3; i++)
        if (!isupper((unsigned char)ev->currency[i]))
            abort();
    if (ev->kind == PAY_EVENT_REFUND && (ev->refund_id[0] == '\0' || ev->provider_refund_id[0] == '\0'))
        abort();
}

static void check_webhook(const struct pay_webhook_res *r)
{
    check_str(r->reason, sizeof r->reason);
    if (r->rc == PAY_OK) {
        check_event(&r->ev);
        if (r->ev.kind == PAY_EVENT_PAID)
            paid++;
        else
            refunds++;
    } else if (r->rc == PAY_IGNORED || r->rc == PAY_INVALID) {
        if (r->reason[0] == '\0')
            abort();
        ignored += r->rc == PAY_IGNORED;
    } else {
        abort(); /* reading never needs the network */
    }
}

/* An envelope around plaintext encrypted with KEY. Caller frees. */
static char *wrap(const char *event_type, const uint8_t *plain, size_t n)
{
    static const char nonce[] = "abcdef012345";
    const char *aad = strncmp(event_type, "REFUND", 6) == 0 ? "refund" : "transaction";
    unsigned char *ct = xalloc(n + AESGCM_TAG_LEN);
    char *b64, *env;
    long got = aesgcm_encrypt(KEY, 32, nonce, 12, aad, strlen(aad), plain, n, ct, n + AESGCM_TAG_LEN);
    if (got < 0)
        abort();
    b64 = xalloc(b64_encoded_len((size_t)got) + 1);
    b64_encode(ct, (size_t)got, b64);
    env = xalloc(strlen(b64) + 512);
    sprintf(env,
            "{\"id\":\"EV-1\",\"create_time\":\"2025-11-29T15:06:00+08:00\",\"resource_type\":\"encrypt-"
            "resource\","
            "\"event_type\":\"%s\",\"summary\":\"x\",\"resource\":{\"original_type\":\"%s\",\"algorithm\":"
            "\"AEAD_AES_256_GCM\",\"ciphertext\":\"%s\",\"associated_data\":\"%s\",\"nonce\":\"%s\"}}",
            event_type, aad, b64, aad, nonce);
    free(ct);
    free(b64);
    return env;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pay_webhook_res wr;
    struct pay_query_res qr;
    struct pay_refund_res rr;
    const uint8_t *d = size > 0 ? data + 1 : data;
    size_t n = size > 0 ? size - 1 : 0;
    unsigned sel = size > 0 ? data[0] % 8 : 0;
    char *text = xalloc(n + 1), *env;

    if (n > 65536)
        n = 65536;
    memcpy(text, d, n);
    text[n] = '\0';
    switch (sel) {
    case 0:
        wechatpay_read_notification(text, n, KEY, MCHID, &wr);
        check_webhook(&wr);
        break;
    case 1:
    case 2:
    case 3:
        env = wrap(sel == 1 ? "TRANSACTION.SUCCESS" : sel == 2 ? "REFUND.SUCCESS" : "REFUND.ABNORMAL", d, n);
        wechatpay_read_notification(env, strlen(env), KEY, MCHID, &wr);
        check_webhook(&wr);
        if (sel == 3 && wr.rc == PAY_OK)
            abort(); /* an abnormal refund never takes credits back */
        free(env);
        break;
    case 4:
        wechatpay_read_transaction(text, n, MCHID, ORDER, &qr);
        check_str(qr.reason, sizeof qr.reason);
        if (qr.rc == PAY_OK) {
            if (qr.state == PAY_STATE_PAID) {
                check_event(&qr.ev);
                if (strncmp(qr.ev.event_id, "query:", 6) != 0 || strcmp(qr.ev.order_id, ORDER) != 0)
                    abort();
                queried++;
            }
        } else if (qr.rc != PAY_UNAVAILABLE || qr.reason[0] == '\0') {
            abort();
        }
        break;
    case 5:
        wechatpay_read_refund(text, n, "rfd_1", &rr);
        check_str(rr.reason, sizeof rr.reason);
        check_str(rr.provider_refund_id, sizeof rr.provider_refund_id);
        if (rr.rc == PAY_OK) {
            if (rr.provider_refund_id[0] == '\0')
                abort();
            refund_answers++;
        } else if (rr.reason[0] == '\0') {
            abort();
        }
        break;
    case 6: {
        struct rsa_key *keys[WECHATPAY_MAX_CERTS];
        char serials[WECHATPAY_MAX_CERTS][RSA_SERIAL_HEX_MAX];
        int k = wechatpay_read_certificates(text, n, KEY, keys, serials, WECHATPAY_MAX_CERTS);
        if (k > WECHATPAY_MAX_CERTS)
            abort();
        while (k > 0)
            rsa_key_free(keys[--k]);
        break;
    }
    default: {
        char *f[4] = {NULL, NULL, NULL, NULL}, reason[64], *p = text;
        for (int i = 0; i < 4 && p != NULL; i++) {
            f[i] = p;
            p = strchr(p, '\n');
            if (p != NULL)
                *p++ = '\0';
        }
        if (wechatpay_check_headers(f[0], f[1], f[2], f[3], 1764400000000LL, reason) == PAY_OK) {
            if (f[3] == NULL || strlen(f[3]) > WECHATPAY_SERIAL_MAX || strlen(f[2]) > WECHATPAY_SIG_B64_MAX)
                abort();
        } else if (reason[0] == '\0') {
            abort();
        }
        break;
    }
    }
    free(text);
    return 0;
}

void fuzz_seeds(void (*add)(const uint8_t *data, size_t size))
{
    static const char *const seeds[] = {
        "\x01{\"mchid\":\"1230000109\",\"appid\":\"wxd678efh567hg6787\",\"out_trade_no\":\"" ORDER "\","
        "\"transaction_id\":\"4200002741202511290000000001\",\"trade_type\":\"NATIVE\",\"trade_state\":"
        "\"SUCCESS\","
        "\"amount\":{\"total\":6800,\"payer_total\":6800,\"currency\":\"CNY\",\"payer_currency\":\"CNY\"}}",
        "\x02{\"mchid\":\"1230000109\",\"transaction_id\":\"4200002741202511290000000001\",\"out_trade_no\":"
        "\"" ORDER "\","
        "\"refund_id\":\"50000000382019052709732678859\",\"out_refund_no\":\"rfd_"
        "01KB5Q9M0R7C2X4V6B8N1M3K5J\","
        "\"refund_status\":\"SUCCESS\",\"amount\":{\"total\":6800,\"refund\":1700,\"payer_total\":6800,"
        "\"payer_refund\":1700}}",
        "\x03{\"mchid\":\"1230000109\",\"out_trade_no\":\"" ORDER
        "\",\"refund_id\":\"5000\",\"out_refund_no\":\"rfd_1\","
        "\"refund_status\":\"ABNORMAL\",\"amount\":{\"total\":6800,\"refund\":1700}}",
        "\x00{\"id\":\"EV-1\",\"event_type\":\"TRANSACTION.SUCCESS\",\"resource_type\":\"encrypt-resource\","
        "\"resource\":{\"algorithm\":\"AEAD_AES_256_GCM\",\"ciphertext\":\"AAAAAAAAAAAAAAAAAAAAAA==\","
        "\"associated_data\":\"transaction\",\"nonce\":\"abcdef012345\"}}",
        "\x04{\"mchid\":\"1230000109\",\"out_trade_no\":\"" ORDER
        "\",\"transaction_id\":\"4200002741202511290000000001\","
        "\"trade_state\":\"SUCCESS\",\"amount\":{\"total\":6800,\"currency\":\"CNY\"}}",
        "\x04{\"mchid\":\"1230000109\",\"out_trade_no\":\"" ORDER
        "\",\"trade_state\":\"NOTPAY\",\"amount\":{\"total\":6800}}",
        "\x05{\"refund_id\":\"50000000382019052709732678859\",\"out_refund_no\":\"rfd_1\",\"status\":"
        "\"PROCESSING\"}",
        "\x06{\"data\":[{\"serial_no\":\"5904C1B1BB40B820580ACA957461FF8BF94D1F0A\",\"encrypt_certificate\":"
        "{\"algorithm\":\"AEAD_AES_256_GCM\",\"nonce\":\"43061e3f2b4d\",\"associated_data\":\"certificate\","
        "\"ciphertext\":\"AAAAAAAAAAAAAAAAAAAAAA==\"}}]}",
        "\x07"
        "1764400000\nC4MUD6o4Ye5z0wUVgRD1W4yMyUXRs5Ep\nJXWOIe9uowUYC4rJ==\nPUB_KEY_ID_"
        "0112300001092025112900000000000001",
    };
    for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++)
        add((const uint8_t *)seeds[i], seeds[i][0] == 0 ? 1 + strlen(seeds[i] + 1) : strlen(seeds[i]));
}

void fuzz_report(void)
{
    printf("paid %lu, refunds %lu, ignored %lu, paid queries %lu, refund answers %lu\n", paid, refunds,
           ignored, queried, refund_answers);
}
