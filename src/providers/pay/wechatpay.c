/*
 * wechatpay.c - WeChat Pay APIv3 (wechatpay.h; wire formats in PROVIDERS.md section 2).
 *
 * Every operation is one small state machine on the caller's loop:
 *
 *   build and sign the request --> net.h --> a 2xx answer?
 *     no:  map the status and WeChat Pay's error code to a pay_rc
 *     yes: verify the answer's platform signature (headers, 300 s, key by Wechatpay-Serial)
 *          unknown serial: download the platform certificates once (throttled), verify again
 *          then read the answer
 *
 * A notification enters the same machine at the verification step. Keys and certificates
 * are the only shared state (one mutex, held for a lookup and an RSA verification, never
 * across a network call). The merchant key, the platform public key and a preloaded
 * certificate are read from their files at their first use (a few KiB on local disk) and
 * then kept for the process.
 */
#include "providers/pay/wechatpay.h"

#include <ctype.h>
#include <inttypes.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>
#include <sodium.h>

#include "core/config.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "crypto/aesgcm.h"
#include "crypto/encode.h"
#include "crypto/random.h"
#include "net/net.h"

/* Per-attempt timeout; answers come in well under a second. Order creation, queries and
 * refunds are idempotent at WeChat Pay (out_trade_no, out_refund_no), so net retries them. */
#define WXP_TIMEOUT_MS 8000
#define WXP_RETRIES 1
#define WXP_ID_MAX 64    /* transaction_id, refund_id, prepay_id (WeChat: string[1,64]) */
#define WXP_URL_MAX 1024 /* code_url, h5_url */
#define WXP_CODE_MAX 40  /* an error code ("ORDER_NOT_EXIST") */
#define WXP_CT_MAX (48 * 1024)

static const char *cfg(const char *key)
{
    const char *v = config_get(key);
    return v != NULL && v[0] != '\0' ? v : NULL;
}

static int wechatpay_configured(void)
{
    return cfg("TG_WECHATPAY_MCHID") && cfg("TG_WECHATPAY_APPID") && cfg("TG_WECHATPAY_SERIAL_NO") &&
           cfg("TG_WECHATPAY_PRIVATE_KEY_FILE") && cfg("TG_WECHATPAY_APIV3_KEY");
}

/* [A-Za-z0-9_-] and the extra characters allowed, 1..max bytes. */
static int token_ok(const char *s, size_t max, const char *extra)
{
    size_t n = s != NULL ? strlen(s) : 0;
    if (n == 0 || n > max)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!isalnum(c) && c != '_' && c != '-' && (extra == NULL || strchr(extra, c) == NULL))
            return 0;
    }
    return 1;
}

/* ---- shared keys ------------------------------------------------------------------------ */

struct retired {
    struct rsa_key *k;
    struct retired *next;
};

static struct {
    pthread_mutex_t mu;
    char *mkey_path; /* the merchant key and the path it came from (NULL key: failed) */
    struct rsa_key *mkey;
    struct retired *retired; /* merchant keys replaced while a signer may hold them */
    char *pub_path;
    struct rsa_key *pub;
    char *cert_path;
    struct rsa_key *cert;
    char cert_serial[RSA_SERIAL_HEX_MAX];
    struct rsa_key *dl[WECHATPAY_MAX_CERTS]; /* downloaded platform certificates */
    char dl_serial[WECHATPAY_MAX_CERTS][RSA_SERIAL_HEX_MAX];
    int n_dl;
    int refreshing;       /* a download is in flight */
    int64_t refreshed_ms; /* when the last download started */
} K = {.mu = PTHREAD_MUTEX_INITIALIZER};

static int same_path(const char *a, const char *b)
{
    return a != NULL && b != NULL && strcmp(a, b) == 0;
}

/* Reads a PEM file of at most RSA_PEM_MAX bytes; the text is wiped by the caller. */
static char *read_pem(const char *path, size_t *len)
{
    char *text = NULL;
    if (config_read_file(path, RSA_PEM_MAX, &text, len) != 0)
        return NULL;
    return text;
}

/* The merchant's private key; never freed before wechatpay_pay_reset (signers use it
 * outside the lock). NULL when not configured or unusable (logged once per path). */
static struct rsa_key *merchant_key(void)
{
    const char *path = cfg("TG_WECHATPAY_PRIVATE_KEY_FILE");
    struct rsa_key *k;
    if (path == NULL)
        return NULL;
    pthread_mutex_lock(&K.mu);
    if (!same_path(K.mkey_path, path)) {
        enum rsa_rc rc;
        if (K.mkey != NULL) {
            struct retired *r = xcalloc(1, sizeof *r);
            r->k = K.mkey;
            r->next = K.retired;
            K.retired = r;
            K.mkey = NULL;
        }
        free(K.mkey_path);
        K.mkey_path = xstrdup(path);
        rc = rsa_priv_from_file(path, &K.mkey);
        if (rc != RSA_OK)
            log_event(LOG_ERROR, "wechatpay_key_unusable", "key", "TG_WECHATPAY_PRIVATE_KEY_FILE", "reason",
                      rsa_rc_name(rc), NULL);
    }
    k = K.mkey;
    pthread_mutex_unlock(&K.mu);
    return k;
}

/* Loads the configured platform public key and certificate when their paths changed.
 * K.mu held. */
static void platform_keys_load(void)
{
    const char *pub = cfg("TG_WECHATPAY_PLATFORM_PUBLIC_KEY_FILE");
    const char *cert = cfg("TG_WECHATPAY_PLATFORM_CERT_FILE");
    size_t len = 0;
    char *text;

    if (pub == NULL) {
        rsa_key_free(K.pub);
        K.pub = NULL;
        free(K.pub_path);
        K.pub_path = NULL;
    } else if (!same_path(K.pub_path, pub)) {
        enum rsa_rc rc = RSA_MALFORMED;
        rsa_key_free(K.pub);
        K.pub = NULL;
        free(K.pub_path);
        K.pub_path = xstrdup(pub);
        text = read_pem(pub, &len);
        if (text != NULL)
            rc = rsa_pub_from_pem(text, len, &K.pub);
        free(text);
        if (rc != RSA_OK)
            log_event(LOG_ERROR, "wechatpay_key_unusable", "key", "TG_WECHATPAY_PLATFORM_PUBLIC_KEY_FILE",
                      "reason", rsa_rc_name(rc), NULL);
    }
    if (cert == NULL) {
        rsa_key_free(K.cert);
        K.cert = NULL;
        free(K.cert_path);
        K.cert_path = NULL;
        K.cert_serial[0] = '\0';
    } else if (!same_path(K.cert_path, cert)) {
        enum rsa_rc rc = RSA_MALFORMED;
        rsa_key_free(K.cert);
        K.cert = NULL;
        K.cert_serial[0] = '\0';
        free(K.cert_path);
        K.cert_path = xstrdup(cert);
        text = read_pem(cert, &len);
        if (text != NULL)
            rc = rsa_pub_from_cert_pem(text, len, &K.cert, K.cert_serial);
        free(text);
        if (rc != RSA_OK)
            log_event(LOG_ERROR, "wechatpay_key_unusable", "key", "TG_WECHATPAY_PLATFORM_CERT_FILE", "reason",
                      rsa_rc_name(rc), NULL);
    }
}

/* The platform key for serial. K.mu held. *misconfigured set when the serial names the
 * configured public key but its file is unusable. */
static const struct rsa_key *platform_key(const char *serial, int *misconfigured)
{
    const char *key_id = cfg("TG_WECHATPAY_PLATFORM_KEY_ID");
    *misconfigured = 0;
    platform_keys_load();
    if (key_id != NULL && strcmp(serial, key_id) == 0) {
        *misconfigured = K.pub == NULL;
        return K.pub;
    }
    if (K.cert != NULL && strcasecmp(serial, K.cert_serial) == 0)
        return K.cert;
    for (int i = 0; i < K.n_dl; i++)
        if (strcasecmp(serial, K.dl_serial[i]) == 0)
            return K.dl[i];
    return NULL;
}

int wechatpay_pay_load_keys(char **err)
{
    *err = NULL;
    if (merchant_key() == NULL) {
        *err = xstrdup("TG_WECHATPAY_PRIVATE_KEY_FILE: not a readable RSA private key (PEM)");
        return -1;
    }
    pthread_mutex_lock(&K.mu);
    platform_keys_load();
    int pub_bad = cfg("TG_WECHATPAY_PLATFORM_PUBLIC_KEY_FILE") != NULL && K.pub == NULL;
    int cert_bad = cfg("TG_WECHATPAY_PLATFORM_CERT_FILE") != NULL && K.cert == NULL;
    pthread_mutex_unlock(&K.mu);
    if (pub_bad)
        *err = xstrdup("TG_WECHATPAY_PLATFORM_PUBLIC_KEY_FILE: not a readable RSA public key (PEM)");
    else if (cert_bad)
        *err = xstrdup("TG_WECHATPAY_PLATFORM_CERT_FILE: not a readable certificate (PEM)");
    return *err != NULL ? -1 : 0;
}

void wechatpay_pay_reset(void)
{
    pthread_mutex_lock(&K.mu);
    rsa_key_free(K.mkey);
    K.mkey = NULL;
    free(K.mkey_path);
    K.mkey_path = NULL;
    while (K.retired != NULL) {
        struct retired *r = K.retired;
        K.retired = r->next;
        rsa_key_free(r->k);
        free(r);
    }
    rsa_key_free(K.pub);
    K.pub = NULL;
    free(K.pub_path);
    K.pub_path = NULL;
    rsa_key_free(K.cert);
    K.cert = NULL;
    free(K.cert_path);
    K.cert_path = NULL;
    K.cert_serial[0] = '\0';
    for (int i = 0; i < K.n_dl; i++)
        rsa_key_free(K.dl[i]);
    K.n_dl = 0;
    K.refreshing = 0;
    K.refreshed_ms = 0;
    pthread_mutex_unlock(&K.mu);
}

/* ---- signatures --------------------------------------------------------------------------- */

static char *sign_b64(const struct rsa_key *k, const char *msg, size_t n)
{
    size_t siglen = 0;
    unsigned char *sig = rsa_sign_sha256(k, msg, n, &siglen);
    char *b64;
    if (sig == NULL)
        return NULL;
    b64 = xmalloc(b64_encoded_len(siglen) + 1);
    b64_encode(sig, siglen, b64);
    free(sig);
    return b64;
}

char *wechatpay_authorization(const struct rsa_key *k, const char *mchid, const char *serial_no,
                              const char *method, const char *path_query, const char *body, size_t len,
                              int64_t timestamp, const char *nonce)
{
    struct sbuf msg = {0};
    char *sig, *h;
    sbuf_printf(&msg, "%s\n%s\n%" PRId64 "\n%s\n", method, path_query, timestamp, nonce);
    sbuf_append(&msg, body, len);
    sbuf_puts(&msg, "\n");
    sig = sign_b64(k, msg.data, msg.len);
    sbuf_free(&msg);
    if (sig == NULL)
        return NULL;
    h = xasprintf(
        "WECHATPAY2-SHA256-RSA2048 mchid=\"%s\",nonce_str=\"%s\",signature=\"%s\",timestamp=\"%" PRId64
        "\",serial_no=\"%s\"",
        mchid, nonce, sig, timestamp, serial_no);
    free(sig);
    return h;
}

int wechatpay_jsapi_checkout(const struct rsa_key *k, const char *appid, const char *prepay_id,
                             int64_t timestamp, const char *nonce, char *out, size_t cap)
{
    char ts[24], *pkg, *msg, *sig, *text;
    json_t *j;
    int rc = -1;

    snprintf(ts, sizeof ts, "%" PRId64, timestamp);
    pkg = xasprintf("prepay_id=%s", prepay_id);
    msg = xasprintf("%s\n%s\n%s\n%s\n", appid, ts, nonce, pkg);
    sig = sign_b64(k, msg, strlen(msg));
    free(msg);
    if (sig == NULL) {
        free(pkg);
        return -1;
    }
    j = json_pack("{s:{s:s, s:s, s:s, s:s, s:s, s:s}}", "jsapi", "appId", appid, "timeStamp", ts, "nonceStr",
                  nonce, "package", pkg, "signType", "RSA", "paySign", sig);
    free(pkg);
    free(sig);
    if (j == NULL)
        return -1;
    text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (text != NULL && strlen(text) < cap) {
        memcpy(out, text, strlen(text) + 1);
        rc = 0;
    }
    free(text);
    return rc;
}

static int digits_only(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

/* A nonce: printable ASCII without spaces or quotes (it is part of a signed message whose
 * fields are separated by newlines). */
static int nonce_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > WECHATPAY_NONCE_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
            return 0;
    return 1;
}

enum pay_rc wechatpay_check_headers(const char *ts, const char *nonce, const char *sig, const char *serial,
                                    int64_t now_ms, char reason[64])
{
    int64_t t = 0, now_s = now_ms / 1000;
    const char *why = NULL;

    if (ts == NULL || nonce == NULL || sig == NULL || serial == NULL)
        why = "signature_header_missing";
    else if (!digits_only(ts, 12))
        why = "timestamp_malformed";
    else if (!nonce_ok(nonce))
        why = "nonce_malformed";
    else if (sig[0] == '\0' || strlen(sig) > WECHATPAY_SIG_B64_MAX)
        why = "signature_malformed";
    else if (!token_ok(serial, WECHATPAY_SERIAL_MAX, NULL))
        why = "serial_malformed";
    if (why == NULL) {
        t = strtoll(ts, NULL, 10);
        if (t <= now_s - WECHATPAY_TOLERANCE_S || t >= now_s + WECHATPAY_TOLERANCE_S)
            why = "timestamp_out_of_tolerance";
    }
    snprintf(reason, 64, "%s", why != NULL ? why : "");
    return why != NULL ? PAY_INVALID : PAY_OK;
}

int wechatpay_verify_sig(const struct rsa_key *key, const char *ts, const char *nonce, const char *sig,
                         const char *body, size_t len)
{
    unsigned char raw[WECHATPAY_SIG_B64_MAX];
    long n = b64_decode(sig, strlen(sig), raw, sizeof raw);
    struct sbuf msg = {0};
    int ok;
    if (n <= 0)
        return 0;
    sbuf_printf(&msg, "%s\n%s\n", ts, nonce);
    sbuf_append(&msg, body, len);
    sbuf_puts(&msg, "\n");
    ok = rsa_verify_sha256(key, msg.data, msg.len, raw, (size_t)n);
    sbuf_free(&msg);
    return ok;
}

/* ---- request bodies ------------------------------------------------------------------------ */

char *wechatpay_time(int64_t ms, char out[32])
{
    time_t t = (time_t)(ms / 1000) + 8 * 3600;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%S+08:00", &tm);
    return out;
}

/* Copies s cut to at most max bytes at a UTF-8 character boundary. */
static char *utf8_cut(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n > max) {
        n = max;
        while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
            n--;
    }
    return xstrndup(s, n);
}

char *wechatpay_order_body(const char *channel, const char *appid, const char *mchid,
                           const struct pay_checkout_req *req, const char **why)
{
    const struct order *o = req->order;
    json_t *j;
    char *desc, *text, when[32];

    *why = NULL;
    if (strcmp(o->currency, "CNY") != 0) {
        *why = "currency_not_cny";
        return NULL;
    }
    if (o->amount <= 0) {
        *why = "amount_not_positive";
        return NULL;
    }
    if (!token_ok(o->id, 32, NULL) || strlen(o->id) < 6) { /* out_trade_no string[6,32] */
        *why = "order_id_unusable";
        return NULL;
    }
    desc = utf8_cut(req->description != NULL && req->description[0] ? req->description : o->product,
                    WECHATPAY_DESCRIPTION_MAX);
    j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:{s:I, s:s}}", "appid", appid, "mchid", mchid, "description",
                  desc, "out_trade_no", o->id, "notify_url", req->notify_url, "amount", "total",
                  (json_int_t)o->amount, "currency", "CNY");
    free(desc);
    if (j == NULL)
        abort(); /* out of memory, or a string that is not UTF-8: neither comes from outside */
    if (o->expires_at > 0)
        json_object_set_new(j, "time_expire", json_string(wechatpay_time(o->expires_at, when)));
    if (strcmp(channel, "jsapi") == 0) {
        if (req->payer_openid == NULL || !token_ok(req->payer_openid, 128, NULL)) {
            json_decref(j);
            *why = "openid_required";
            return NULL;
        }
        json_object_set_new(j, "payer", json_pack("{s:s}", "openid", req->payer_openid));
    } else if (strcmp(channel, "h5") == 0) {
        if (req->client_ip == NULL || !token_ok(req->client_ip, 45, ".:")) {
            json_decref(j);
            *why = "client_ip_required";
            return NULL;
        }
        json_object_set_new(
            j, "scene_info",
            json_pack("{s:s, s:{s:s}}", "payer_client_ip", req->client_ip, "h5_info", "type", "Wap"));
    } else if (strcmp(channel, "native") != 0) {
        json_decref(j);
        *why = "unknown_channel";
        return NULL;
    }
    text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (text == NULL)
        abort();
    return text;
}

/* ---- reading answers and notifications ---------------------------------------------------- */

/* A string member of at most max bytes without NUL, or NULL. */
static const char *str_member(json_t *obj, const char *key, size_t max)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > max ||
        strlen(json_string_value(v)) != json_string_length(v))
        return NULL;
    return json_string_value(v);
}

/* An ISO 4217 code as WeChat Pay writes it: three upper-case letters. */
static int currency_ok(const char *s)
{
    return s != NULL && strlen(s) == 3 && isupper((unsigned char)s[0]) && isupper((unsigned char)s[1]) &&
           isupper((unsigned char)s[2]);
}

/* amount.<key>: a positive integer below 10^12 fen. */
static int amount_member(json_t *amount, const char *key, int64_t *out)
{
    json_t *v = json_object_get(amount, key);
    if (!json_is_integer(v) || json_integer_value(v) <= 0 || json_integer_value(v) >= 1000000000000LL)
        return -1;
    *out = (int64_t)json_integer_value(v);
    return 0;
}

static void set_reason(char reason[64], const char *why)
{
    snprintf(reason, 64, "%s", why);
}

/* Decrypts the notification's resource. Returns the parsed plaintext (caller decrefs) or
 * NULL with reason set. */
static json_t *decrypt_resource(json_t *res, const char *apiv3_key, char reason[64])
{
    const char *alg = str_member(res, "algorithm", 32), *ct = str_member(res, "ciphertext", WXP_CT_MAX);
    const char *nonce = str_member(res, "nonce", AESGCM_NONCE_LEN);
    json_t *ad = json_object_get(res, "associated_data"), *plain_j;
    const char *aad = "";
    char *plain;
    size_t plen = 0;

    if (ad != NULL && !json_is_null(ad)) {
        if (!json_is_string(ad) || json_string_length(ad) > 256 ||
            strlen(json_string_value(ad)) != json_string_length(ad)) {
            set_reason(reason, "resource_malformed");
            return NULL;
        }
        aad = json_string_value(ad);
    }
    if (alg == NULL || strcmp(alg, "AEAD_AES_256_GCM") != 0 || ct == NULL || nonce == NULL ||
        strlen(nonce) != AESGCM_NONCE_LEN) {
        set_reason(reason, "resource_malformed");
        return NULL;
    }
    plain = aesgcm_decrypt_b64(apiv3_key, strlen(apiv3_key), nonce, AESGCM_NONCE_LEN, aad, strlen(aad), ct,
                               strlen(ct), &plen);
    if (plain == NULL) {
        set_reason(reason, "resource_not_decrypted");
        return NULL;
    }
    plain_j = json_loadb(plain, plen, JSON_REJECT_DUPLICATES, NULL);
    sodium_memzero(plain, plen);
    free(plain);
    if (!json_is_object(plain_j)) {
        json_decref(plain_j);
        set_reason(reason, "resource_not_json");
        return NULL;
    }
    return plain_j;
}

static void read_paid(json_t *p, const char *mchid, const char *event_type, struct pay_webhook_res *res)
{
    const char *m = str_member(p, "mchid", 32), *otn = str_member(p, "out_trade_no", 32);
    const char *tid = str_member(p, "transaction_id", WXP_ID_MAX), *state = str_member(p, "trade_state", 32);
    json_t *amount = json_object_get(p, "amount");
    const char *cur = str_member(amount, "currency", 8);
    int64_t total = 0;

    if (m == NULL || strcmp(m, mchid) != 0) {
        res->rc = PAY_INVALID;
        set_reason(res->reason, "mchid_mismatch");
        return;
    }
    if (state == NULL || otn == NULL || !token_ok(otn, 32, NULL)) {
        res->rc = PAY_INVALID;
        set_reason(res->reason, "resource_malformed");
        return;
    }
    if (strcmp(state, "SUCCESS") != 0) { /* only successes are notified; anything else is not ours */
        res->rc = PAY_IGNORED;
        set_reason(res->reason, "trade_state_not_success");
        return;
    }
    if (tid == NULL || !token_ok(tid, WXP_ID_MAX, NULL) || !json_is_object(amount) ||
        amount_member(amount, "total", &total) != 0) {
        res->rc = PAY_INVALID;
        set_reason(res->reason, "resource_malformed");
        return;
    }
    if (!currency_ok(cur)) {
        res->rc = PAY_INVALID;
        set_reason(res->reason, "currency_malformed");
        return;
    }
    res->ev.kind = PAY_EVENT_PAID;
    snprintf(res->ev.event_id, sizeof res->ev.event_id, "%s", tid);
    snprintf(res->ev.type, sizeof res->ev.type, "%s", event_type);
    snprintf(res->ev.order_id, sizeof res->ev.order_id, "%s", otn);
    snprintf(res->ev.provider_ref, sizeof res->ev.provider_ref, "%s", tid);
    res->ev.amount = total;
    memcpy(res->ev.currency, cur, 4);
    res->rc = PAY_OK;
}

static void read_refund(json_t *p, const char *mchid, const char *event_type, struct pay_webhook_res *res)
{
    const char *m = str_member(p, "mchid", 32), *otn = str_member(p, "out_trade_no", 32);
    const char *tid = str_member(p, "transaction_id", WXP_ID_MAX),
               *rid = str_member(p, "refund_id", WXP_ID_MAX);
    const char *orn = str_member(p, "out_refund_no", 64), *status = str_member(p, "refund_status", 32);
    json_t *amount = json_object_get(p, "amount"), *cur_j = json_object_get(amount, "currency");
    const char *cur = "CNY"; /* domestic refunds are in CNY; the notification carries no currency */
    int64_t refund = 0;

    if (m == NULL || strcmp(m, mchid) != 0) {
        res->rc = PAY_INVALID;
        set_reason(res->reason, "mchid_mismatch");
        return;
    }
    if (status == NULL || otn == NULL || !token_ok(otn, 32, NULL) || rid == NULL ||
        !token_ok(rid, WXP_ID_MAX, NULL) || orn == NULL || !token_ok(orn, 64, "|*@") ||
        (tid != NULL && !token_ok(tid, WXP_ID_MAX, NULL))) {
        res->rc = PAY_INVALID;
        set_reason(res->reason, "resource_malformed");
        return;
    }
    if (strcmp(status, "SUCCESS") != 0 || strcmp(event_type, "REFUND.SUCCESS") != 0) {
        res->rc = PAY_IGNORED;
        set_reason(res->reason, strcmp(status, "ABNORMAL") == 0 ? "refund_abnormal"
                                : strcmp(status, "CLOSED") == 0 ? "refund_closed"
                                                                : "refund_not_success");
        snprintf(res->ev.order_id, sizeof res->ev.order_id, "%s", otn);
        if (strlen(orn) < sizeof res->ev.refund_id)
            snprintf(res->ev.refund_id, sizeof res->ev.refund_id, "%s", orn);
        return;
    }
    if (!json_is_object(amount) || amount_member(amount, "refund", &refund) != 0 ||
        strlen(orn) >= sizeof res->ev.refund_id) {
        res->rc = PAY_INVALID;
        set_reason(res->reason, "resource_malformed");
        return;
    }
    if (cur_j != NULL) {
        cur = json_is_string(cur_j) ? json_string_value(cur_j) : NULL;
        if (!currency_ok(cur)) {
            res->rc = PAY_INVALID;
            set_reason(res->reason, "currency_malformed");
            return;
        }
    }
    res->ev.kind = PAY_EVENT_REFUND;
    snprintf(res->ev.event_id, sizeof res->ev.event_id, "%s", rid);
    snprintf(res->ev.type, sizeof res->ev.type, "%s", event_type);
    snprintf(res->ev.order_id, sizeof res->ev.order_id, "%s", otn);
    snprintf(res->ev.provider_ref, sizeof res->ev.provider_ref, "%s", tid != NULL ? tid : "");
    res->ev.amount = refund;
    memcpy(res->ev.currency, cur, 4);
    snprintf(res->ev.refund_id, sizeof res->ev.refund_id, "%s", orn);
    snprintf(res->ev.provider_refund_id, sizeof res->ev.provider_refund_id, "%s", rid);
    res->rc = PAY_OK;
}

void wechatpay_read_notification(const char *body, size_t len, const char *apiv3_key, const char *mchid,
                                 struct pay_webhook_res *res)
{
    json_t *env = NULL, *resource, *plain = NULL;
    const char *event_type, *rtype;

    memset(res, 0, sizeof *res);
    res->rc = PAY_INVALID;
    if (len == 0 || len > WECHATPAY_NOTIFY_MAX) {
        set_reason(res->reason, "body_size");
        return;
    }
    env = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
    event_type = str_member(env, "event_type", 47);
    rtype = str_member(env, "resource_type", 32);
    resource = json_object_get(env, "resource");
    if (!json_is_object(env) || event_type == NULL || str_member(env, "id", 64) == NULL) {
        set_reason(res->reason, "body_malformed");
        goto cleanup;
    }
    if (strcmp(event_type, "TRANSACTION.SUCCESS") != 0 && strncmp(event_type, "REFUND.", 7) != 0) {
        /* Authentic (the signature held) but not an event we act on. */
        res->rc = PAY_IGNORED;
        set_reason(res->reason, "event_type_not_handled");
        goto cleanup;
    }
    if (rtype == NULL || strcmp(rtype, "encrypt-resource") != 0 || !json_is_object(resource)) {
        set_reason(res->reason, "body_malformed");
        goto cleanup;
    }
    plain = decrypt_resource(resource, apiv3_key, res->reason);
    if (plain == NULL)
        goto cleanup;
    if (strcmp(event_type, "TRANSACTION.SUCCESS") == 0)
        read_paid(plain, mchid, event_type, res);
    else
        read_refund(plain, mchid, event_type, res);
cleanup:
    json_decref(plain);
    json_decref(env);
}

void wechatpay_read_transaction(const char *body, size_t len, const char *mchid, const char *order_id,
                                struct pay_query_res *res)
{
    json_t *j = json_loadb(body != NULL ? body : "", len, JSON_REJECT_DUPLICATES, NULL);
    const char *m = str_member(j, "mchid", 32), *otn = str_member(j, "out_trade_no", 32);
    const char *state = str_member(j, "trade_state", 32), *tid = str_member(j, "transaction_id", WXP_ID_MAX);
    json_t *amount = json_object_get(j, "amount");
    const char *cur = str_member(amount, "currency", 8);
    int64_t total = 0;

    memset(res, 0, sizeof *res);
    res->rc = PAY_UNAVAILABLE;
    if (!json_is_object(j) || state == NULL || otn == NULL) {
        set_reason(res->reason, "answer_malformed");
        goto cleanup;
    }
    if ((m != NULL && strcmp(m, mchid) != 0) || strcmp(otn, order_id) != 0) {
        set_reason(res->reason, "answer_other_order");
        goto cleanup;
    }
    if (strcmp(state, "NOTPAY") == 0 || strcmp(state, "USERPAYING") == 0) {
        res->state = PAY_STATE_PENDING;
    } else if (strcmp(state, "CLOSED") == 0 || strcmp(state, "PAYERROR") == 0 ||
               strcmp(state, "REVOKED") == 0) {
        res->state = PAY_STATE_CLOSED;
    } else if (strcmp(state, "SUCCESS") == 0 || strcmp(state, "REFUND") == 0) {
        /* REFUND: paid, then (partly) refunded - the payment happened. */
        if (tid == NULL || !token_ok(tid, WXP_ID_MAX, NULL) || !json_is_object(amount) ||
            amount_member(amount, "total", &total) != 0 || !currency_ok(cur)) {
            set_reason(res->reason, "answer_malformed");
            goto cleanup;
        }
        res->state = PAY_STATE_PAID;
        res->ev.kind = PAY_EVENT_PAID;
        snprintf(res->ev.event_id, sizeof res->ev.event_id, "query:%s", tid);
        snprintf(res->ev.type, sizeof res->ev.type, "query.%s", state);
        snprintf(res->ev.order_id, sizeof res->ev.order_id, "%s", otn);
        snprintf(res->ev.provider_ref, sizeof res->ev.provider_ref, "%s", tid);
        res->ev.amount = total;
        memcpy(res->ev.currency, cur, 4);
    } else {
        set_reason(res->reason, "trade_state_unknown");
        goto cleanup;
    }
    res->rc = PAY_OK;
cleanup:
    json_decref(j);
}

void wechatpay_read_refund(const char *body, size_t len, const char *refund_id, struct pay_refund_res *res)
{
    json_t *j = json_loadb(body != NULL ? body : "", len, JSON_REJECT_DUPLICATES, NULL);
    const char *rid = str_member(j, "refund_id", WXP_ID_MAX), *orn = str_member(j, "out_refund_no", 64);
    const char *status = str_member(j, "status", 32);

    memset(res, 0, sizeof *res);
    res->rc = PAY_UNAVAILABLE;
    if (!json_is_object(j) || rid == NULL || !token_ok(rid, WXP_ID_MAX, NULL) || orn == NULL ||
        status == NULL) {
        set_reason(res->reason, "answer_malformed");
        goto cleanup;
    }
    if (strcmp(orn, refund_id) != 0) {
        set_reason(res->reason, "answer_other_refund");
        goto cleanup;
    }
    snprintf(res->provider_refund_id, sizeof res->provider_refund_id, "%s", rid);
    if (strcmp(status, "SUCCESS") == 0) {
        res->rc = PAY_OK;
    } else if (strcmp(status, "PROCESSING") == 0) {
        res->rc = PAY_OK;
        res->pending = 1;
    } else if (strcmp(status, "ABNORMAL") == 0) {
        /* Accepted, but the money could not go back the way it came (a closed card): the
         * merchant finishes it by hand in the dashboard; REFUND.SUCCESS follows if it does. */
        res->rc = PAY_OK;
        res->pending = 1;
        set_reason(res->reason, "refund_abnormal");
    } else if (strcmp(status, "CLOSED") == 0) {
        res->rc = PAY_DECLINED;
        set_reason(res->reason, "refund_closed");
    } else {
        set_reason(res->reason, "refund_status_unknown");
    }
cleanup:
    json_decref(j);
}

int wechatpay_read_certificates(const char *body, size_t len, const char *apiv3_key, struct rsa_key **keys,
                                char (*serials)[RSA_SERIAL_HEX_MAX], int max)
{
    json_t *j = json_loadb(body != NULL ? body : "", len, JSON_REJECT_DUPLICATES, NULL);
    json_t *data = json_object_get(j, "data"), *item;
    size_t i;
    int n = 0;

    if (!json_is_array(data) || json_array_size(data) == 0 || json_array_size(data) > (size_t)max)
        goto fail;
    json_array_foreach(data, i, item)
    {
        const char *serial = str_member(item, "serial_no", RSA_SERIAL_HEX_MAX - 1);
        json_t *enc = json_object_get(item, "encrypt_certificate");
        const char *alg = str_member(enc, "algorithm", 32), *ct = str_member(enc, "ciphertext", WXP_CT_MAX);
        const char *nonce = str_member(enc, "nonce", AESGCM_NONCE_LEN), *aad = "";
        json_t *ad = json_object_get(enc, "associated_data");
        char *pem;
        size_t plen = 0;
        enum rsa_rc rc;

        if (serial == NULL || !json_is_object(enc) || alg == NULL || strcmp(alg, "AEAD_AES_256_GCM") != 0 ||
            ct == NULL || nonce == NULL || strlen(nonce) != AESGCM_NONCE_LEN)
            goto fail;
        if (ad != NULL && !json_is_null(ad)) {
            if (!json_is_string(ad) || json_string_length(ad) > 256 ||
                strlen(json_string_value(ad)) != json_string_length(ad))
                goto fail;
            aad = json_string_value(ad);
        }
        pem = aesgcm_decrypt_b64(apiv3_key, strlen(apiv3_key), nonce, AESGCM_NONCE_LEN, aad, strlen(aad), ct,
                                 strlen(ct), &plen);
        if (pem == NULL)
            goto fail;
        rc = plen <= RSA_PEM_MAX ? rsa_pub_from_cert_pem(pem, plen, &keys[n], serials[n]) : RSA_MALFORMED;
        free(pem);
        if (rc != RSA_OK)
            goto fail;
        n++;
        /* The certificate must be the one the list says it is. */
        if (strcasecmp(serials[n - 1], serial) != 0)
            goto fail;
    }
    json_decref(j);
    return n;
fail:
    while (n > 0)
        rsa_key_free(keys[--n]);
    json_decref(j);
    return -1;
}

/* ---- operations ---------------------------------------------------------------------------- */

enum op_kind { OP_CHECKOUT, OP_QUERY, OP_REFUND, OP_WEBHOOK };

struct op {
    struct net_call call;
    struct net_exec *nx;
    enum op_kind kind;
    int64_t now_ms;
    int refreshed; /* one certificate download per operation at most */
    /* the signed answer or notification being verified (copies) */
    char *body;
    size_t len;
    char *ts, *nonce, *sig, *serial;
    /* what the operation needs afterwards */
    char mchid[33];
    char appid[33];
    char order_id[TG_ID_MAX];
    char refund_id[TG_ID_MAX];
    char channel[8];
    char *return_url;
    union {
        pay_checkout_fn checkout;
        pay_webhook_fn webhook;
        pay_query_fn query;
        pay_refund_fn refund;
    } done;
    void *arg;
};

static struct op *op_of(struct net_call *c)
{
    return (struct op *)(void *)((char *)c - offsetof(struct op, call));
}

static void op_free(struct op *op)
{
    free(op->body);
    free(op->ts);
    free(op->nonce);
    free(op->sig);
    free(op->serial);
    free(op->return_url);
    free(op);
}

/* Completes op with a failure (rc, reason) of its kind, and frees it. */
static void op_fail(struct op *op, enum pay_rc rc, const char *reason)
{
    switch (op->kind) {
    case OP_CHECKOUT: {
        struct pay_checkout_res r;
        memset(&r, 0, sizeof r);
        r.rc = rc;
        set_reason(r.reason, reason);
        log_event(rc == PAY_MISCONFIGURED ? LOG_ERROR : LOG_WARN, "wechatpay_checkout_failed", "order_id",
                  op->order_id, "outcome", pay_rc_name(rc), "reason", reason, NULL);
        op->done.checkout(op->arg, &r);
        break;
    }
    case OP_QUERY: {
        struct pay_query_res r;
        memset(&r, 0, sizeof r);
        r.rc = rc;
        set_reason(r.reason, reason);
        if (rc != PAY_NOTFOUND)
            log_event(rc == PAY_MISCONFIGURED ? LOG_ERROR : LOG_WARN, "wechatpay_query_failed", "order_id",
                      op->order_id, "outcome", pay_rc_name(rc), "reason", reason, NULL);
        op->done.query(op->arg, &r);
        break;
    }
    case OP_REFUND: {
        struct pay_refund_res r;
        memset(&r, 0, sizeof r);
        r.rc = rc;
        set_reason(r.reason, reason);
        log_event(rc == PAY_MISCONFIGURED ? LOG_ERROR : LOG_WARN, "wechatpay_refund_failed", "order_id",
                  op->order_id, "refund_id", op->refund_id, "outcome", pay_rc_name(rc), "reason", reason,
                  NULL);
        op->done.refund(op->arg, &r);
        break;
    }
    case OP_WEBHOOK: {
        struct pay_webhook_res r;
        memset(&r, 0, sizeof r);
        r.rc = rc;
        set_reason(r.reason, reason);
        log_event(rc == PAY_INVALID ? LOG_INFO : LOG_WARN, "wechatpay_notification_refused", "outcome",
                  pay_rc_name(rc), "reason", reason, NULL);
        op->done.webhook(op->arg, &r);
        break;
    }
    }
    op_free(op);
}

/* A fresh nonce: 32 upper-case hex digits, like the official examples. */
static void new_nonce(char out[33])
{
    unsigned char raw[16];
    rand_bytes(raw, sizeof raw);
    hex_encode_upper(raw, sizeof raw, out);
}

/* Prepares op->call as a signed request. Returns 0, or -1 with op completed (failed). */
static int op_request(struct op *op, const char *method, const char *path_query, const char *body)
{
    struct rsa_key *k = merchant_key();
    const char *base = config_get("TG_WECHATPAY_API_BASE"), *serial = cfg("TG_WECHATPAY_SERIAL_NO");
    char nonce[33], *auth, *url;
    size_t len = body != NULL ? strlen(body) : 0;

    if (k == NULL || serial == NULL || !token_ok(serial, WECHATPAY_SERIAL_MAX, NULL)) {
        op_fail(op, PAY_MISCONFIGURED, k == NULL ? "merchant_key_unusable" : "serial_no_unusable");
        return -1;
    }
    new_nonce(nonce);
    auth = wechatpay_authorization(k, op->mchid, serial, method, path_query, body != NULL ? body : "", len,
                                   time_now_ms() / 1000, nonce);
    if (auth == NULL) {
        op_fail(op, PAY_MISCONFIGURED, "signing_failed");
        return -1;
    }
    url = xasprintf("%s%s", base, path_query);
    net_call_init(&op->call, "wechatpay", method, url);
    free(url);
    net_call_header(&op->call, "Authorization", auth);
    free(auth);
    net_call_header(&op->call, "Accept", "application/json");
    net_call_header(&op->call, "User-Agent", "Tollgate");
    if (body != NULL)
        net_call_body(&op->call, "application/json", body, len);
    op->call.timeout_ms = WXP_TIMEOUT_MS;
    op->call.max_response = WECHATPAY_ANSWER_MAX;
    op->call.idempotent = 1;
    op->call.retries = WXP_RETRIES;
    return 0;
}

/* The error code of a non-2xx answer ({"code":"...","message":"..."}), sanitised. */
static void error_code(const struct net_call *c, char out[WXP_CODE_MAX + 1])
{
    json_t *j = c->resp_body != NULL ? json_loadb(c->resp_body, c->resp_len, 0, NULL) : NULL;
    const char *code = str_member(j, "code", WXP_CODE_MAX);
    out[0] = '\0';
    if (code != NULL && token_ok(code, WXP_CODE_MAX, NULL))
        snprintf(out, WXP_CODE_MAX + 1, "%s", code);
    json_decref(j);
}

/* Maps a failed call (no answer, or not 2xx) to its outcome. */
static enum pay_rc call_failure(const struct op *op, const struct net_call *c, char reason[64])
{
    char code[WXP_CODE_MAX + 1];
    long s = c->status;

    if (c->err != NET_OK) {
        snprintf(reason, 64, "%s", net_err_name(c->err));
        return PAY_UNAVAILABLE;
    }
    error_code(c, code);
    snprintf(reason, 64, "http_%ld%s%s", s, code[0] ? "_" : "", code);
    if (s == 429 || s >= 500 || s < 400)
        return PAY_UNAVAILABLE;
    if (s == 401 || strcmp(code, "NO_AUTH") == 0 || strcmp(code, "APPID_MCHID_NOT_MATCH") == 0 ||
        strcmp(code, "MCH_NOT_EXISTS") == 0 || strcmp(code, "SIGN_ERROR") == 0)
        return PAY_MISCONFIGURED;
    switch (op->kind) {
    case OP_QUERY:
        if (s == 404 && (strcmp(code, "ORDER_NOT_EXIST") == 0 || strcmp(code, "ORDERNOTEXIST") == 0 ||
                         strcmp(code, "RESOURCE_NOT_EXISTS") == 0))
            return PAY_NOTFOUND;
        return PAY_UNAVAILABLE;
    case OP_REFUND:
        if (strcmp(code, "PARAM_ERROR") == 0)
            return PAY_INVALID;
        /* NOT_ENOUGH (balance), USER_ACCOUNT_ABNORMAL, INVALID_REQUEST (already refunded,
         * too old, over the payment), RESOURCE_NOT_EXISTS, ... */
        return PAY_DECLINED;
    default:
        return PAY_INVALID;
    }
}

static void op_verified(struct op *op);
static void op_verify(struct op *op);

/* ---- certificate download ------------------------------------------------------------------- */

/* 1: this caller downloads; 0: a download is in flight; -1: one happened recently. */
static int refresh_claim(int64_t now_ms)
{
    int rc;
    pthread_mutex_lock(&K.mu);
    if (K.refreshing)
        rc = 0;
    else if (K.refreshed_ms != 0 && now_ms - K.refreshed_ms < WECHATPAY_CERT_REFRESH_MIN_S * 1000)
        rc = -1;
    else {
        K.refreshing = 1;
        K.refreshed_ms = now_ms;
        rc = 1;
    }
    pthread_mutex_unlock(&K.mu);
    return rc;
}

/*
 * Checks the certificate list's own signature (made with one of the certificates it holds,
 * or one we know) and installs the certificates. Returns NULL or the reason it failed.
 */
static const char *certs_install(const struct net_call *c, int64_t now_ms)
{
    struct rsa_key *keys[WECHATPAY_MAX_CERTS];
    char serials[WECHATPAY_MAX_CERTS][RSA_SERIAL_HEX_MAX], reason[64];
    const char *ts = net_resp_header(c, "wechatpay-timestamp"),
               *nonce = net_resp_header(c, "wechatpay-nonce");
    const char *sig = net_resp_header(c, "wechatpay-signature"),
               *serial = net_resp_header(c, "wechatpay-serial");
    const char *apiv3 = cfg("TG_WECHATPAY_APIV3_KEY");
    const struct rsa_key *signer = NULL;
    int n, ok = 0, misconf;

    if (apiv3 == NULL || strlen(apiv3) != AESGCM_KEY_LEN)
        return "apiv3_key_unusable";
    if (wechatpay_check_headers(ts, nonce, sig, serial, now_ms, reason) != PAY_OK)
        return "certificates_signature_headers";
    n = wechatpay_read_certificates(c->resp_body, c->resp_len, apiv3, keys, serials, WECHATPAY_MAX_CERTS);
    if (n < 0)
        return "certificates_malformed";
    for (int i = 0; i < n; i++)
        if (strcasecmp(serials[i], serial) == 0)
            signer = keys[i];
    pthread_mutex_lock(&K.mu);
    if (signer == NULL)
        signer = platform_key(serial, &misconf);
    if (signer != NULL)
        ok = wechatpay_verify_sig(signer, ts, nonce, sig, c->resp_body != NULL ? c->resp_body : "",
                                  c->resp_len);
    if (ok) {
        for (int i = 0; i < K.n_dl; i++)
            rsa_key_free(K.dl[i]);
        for (int i = 0; i < n; i++) {
            K.dl[i] = keys[i];
            memcpy(K.dl_serial[i], serials[i], RSA_SERIAL_HEX_MAX);
        }
        K.n_dl = n;
    }
    pthread_mutex_unlock(&K.mu);
    if (!ok) {
        for (int i = 0; i < n; i++)
            rsa_key_free(keys[i]);
        return "certificates_signature_mismatch";
    }
    log_msgf(LOG_INFO, "wechatpay_certificates", "%d platform certificate(s) installed", n);
    return NULL;
}

static void certs_done(struct net_call *c)
{
    struct op *op = op_of(c);
    const char *why = NULL;
    char reason[64];

    if (c->err != NET_OK || c->status < 200 || c->status > 299) {
        call_failure(op, c, reason);
        why = "certificates_unavailable";
        log_event(LOG_WARN, "wechatpay_certificates_failed", "reason", reason, NULL);
    } else {
        why = certs_install(c, time_now_ms());
        if (why != NULL)
            log_event(LOG_ERROR, "wechatpay_certificates_failed", "reason", why, NULL);
    }
    pthread_mutex_lock(&K.mu);
    K.refreshing = 0;
    pthread_mutex_unlock(&K.mu);
    net_call_release(c);
    if (why != NULL) {
        op_fail(op, PAY_UNAVAILABLE, why);
        return;
    }
    op_verify(op);
}

/* ---- verification of answers and notifications ----------------------------------------------- */

static void op_verify(struct op *op)
{
    char reason[64];
    const struct rsa_key *key;
    int ok = 0, misconf = 0, known;
    enum pay_rc bad = op->kind == OP_WEBHOOK ? PAY_INVALID : PAY_UNAVAILABLE;

    /* A notification is judged at the time it arrived, an answer when it came back. */
    if (wechatpay_check_headers(op->ts, op->nonce, op->sig, op->serial, op->now_ms, reason) != PAY_OK) {
        op_fail(op, bad, reason);
        return;
    }
    pthread_mutex_lock(&K.mu);
    key = platform_key(op->serial, &misconf);
    known = key != NULL;
    if (known)
        ok = wechatpay_verify_sig(key, op->ts, op->nonce, op->sig, op->body != NULL ? op->body : "", op->len);
    pthread_mutex_unlock(&K.mu);
    if (misconf) {
        op_fail(op, PAY_MISCONFIGURED, "platform_public_key_unusable");
        return;
    }
    if (known) {
        if (!ok) {
            op_fail(op, bad, "signature_mismatch");
            return;
        }
        op_verified(op);
        return;
    }
    /* An unknown serial: a new platform certificate, or a forgery. Public keys are never
     * downloaded; certificates are, once per operation and once a minute at most. */
    if (op->refreshed || strncmp(op->serial, "PUB_KEY_ID_", 11) == 0) {
        op_fail(op, bad, "unknown_serial");
        return;
    }
    switch (refresh_claim(time_now_ms())) {
    case 0:
        op_fail(op, PAY_UNAVAILABLE, "certificates_refreshing");
        return;
    case -1:
        op_fail(op, bad, "unknown_serial");
        return;
    default:
        break;
    }
    op->refreshed = 1;
    if (op_request(op, "GET", "/v3/certificates", NULL) != 0) {
        pthread_mutex_lock(&K.mu);
        K.refreshing = 0;
        pthread_mutex_unlock(&K.mu);
        return;
    }
    net_exec_submit(op->nx, &op->call, certs_done);
}

/* An API answer came back: keep what verification needs, or fail. */
static void api_done(struct net_call *c)
{
    struct op *op = op_of(c);
    char reason[64];
    const char *h;

    if (c->err != NET_OK || c->status < 200 || c->status > 299) {
        enum pay_rc rc = call_failure(op, c, reason);
        net_call_release(c);
        op_fail(op, rc, reason);
        return;
    }
    op->now_ms = time_now_ms();
    op->len = c->resp_len;
    op->body = c->resp_body != NULL ? xstrndup(c->resp_body, c->resp_len) : xstrdup("");
    if ((h = net_resp_header(c, "wechatpay-timestamp")) != NULL)
        op->ts = xstrdup(h);
    if ((h = net_resp_header(c, "wechatpay-nonce")) != NULL)
        op->nonce = xstrdup(h);
    if ((h = net_resp_header(c, "wechatpay-signature")) != NULL)
        op->sig = xstrdup(h);
    if ((h = net_resp_header(c, "wechatpay-serial")) != NULL)
        op->serial = xstrdup(h);
    net_call_release(c);
    op_verify(op);
}

static void checkout_verified(struct op *op)
{
    struct pay_checkout_res r;
    json_t *j = json_loadb(op->body, op->len, JSON_REJECT_DUPLICATES, NULL), *out = NULL;
    const char *why = NULL;
    char *text = NULL;

    memset(&r, 0, sizeof r);
    if (strcmp(op->channel, "native") == 0) {
        const char *u = str_member(j, "code_url", WXP_URL_MAX);
        if (u == NULL || strncmp(u, "weixin://", 9) != 0)
            why = "answer_malformed";
        else
            out = json_pack("{s:s}", "code_url", u);
    } else if (strcmp(op->channel, "h5") == 0) {
        const char *u = str_member(j, "h5_url", WXP_URL_MAX);
        if (u == NULL || strncmp(u, "https://", 8) != 0 || strpbrk(u, " \"<>") != NULL) {
            why = "answer_malformed";
        } else {
            /* WeChat Pay sends the buyer back to redirect_url appended to h5_url. */
            struct sbuf b = {0};
            sbuf_puts(&b, u);
            if (op->return_url != NULL && op->return_url[0]) {
                size_t n = strlen(op->return_url);
                char *enc = xmalloc(pct_encoded_len(op->return_url, n) + 1);
                pct_encode(op->return_url, n, enc);
                sbuf_puts(&b, strchr(u, '?') != NULL ? "&redirect_url=" : "?redirect_url=");
                sbuf_puts(&b, enc);
                free(enc);
            }
            out = json_pack("{s:s}", "url", b.data);
            sbuf_free(&b);
        }
    } else { /* jsapi */
        const char *p = str_member(j, "prepay_id", WXP_ID_MAX);
        struct rsa_key *k = merchant_key();
        char nonce[33];
        if (p == NULL || !token_ok(p, WXP_ID_MAX, NULL)) {
            why = "answer_malformed";
        } else if (k == NULL) {
            why = "merchant_key_unusable";
        } else {
            new_nonce(nonce);
            if (wechatpay_jsapi_checkout(k, op->appid, p, time_now_ms() / 1000, nonce, r.checkout,
                                         sizeof r.checkout) != 0)
                why = "signing_failed";
        }
    }
    json_decref(j);
    if (out != NULL) {
        text = json_dumps(out, JSON_COMPACT);
        json_decref(out);
        if (text == NULL || strlen(text) >= sizeof r.checkout)
            why = "checkout_too_long";
        else
            memcpy(r.checkout, text, strlen(text) + 1);
        free(text);
    }
    if (why != NULL) {
        op_fail(op, PAY_UNAVAILABLE, why);
        return;
    }
    r.rc = PAY_OK;
    op->done.checkout(op->arg, &r);
    op_free(op);
}

static void op_verified(struct op *op)
{
    switch (op->kind) {
    case OP_CHECKOUT:
        checkout_verified(op);
        return;
    case OP_QUERY: {
        struct pay_query_res r;
        wechatpay_read_transaction(op->body, op->len, op->mchid, op->order_id, &r);
        if (r.rc != PAY_OK) {
            op_fail(op, r.rc, r.reason);
            return;
        }
        op->done.query(op->arg, &r);
        break;
    }
    case OP_REFUND: {
        struct pay_refund_res r;
        wechatpay_read_refund(op->body, op->len, op->refund_id, &r);
        if (r.rc != PAY_OK && r.rc != PAY_DECLINED) {
            op_fail(op, r.rc, r.reason);
            return;
        }
        if (r.reason[0])
            log_event(LOG_WARN, "wechatpay_refund", "order_id", op->order_id, "refund_id", op->refund_id,
                      "reason", r.reason, NULL);
        op->done.refund(op->arg, &r);
        break;
    }
    case OP_WEBHOOK: {
        struct pay_webhook_res r;
        const char *apiv3 = cfg("TG_WECHATPAY_APIV3_KEY");
        if (apiv3 == NULL || strlen(apiv3) != AESGCM_KEY_LEN) {
            op_fail(op, PAY_MISCONFIGURED, "apiv3_key_unusable");
            return;
        }
        wechatpay_read_notification(op->body, op->len, apiv3, op->mchid, &r);
        if (r.rc == PAY_INVALID) {
            op_fail(op, r.rc, r.reason);
            return;
        }
        if (r.rc == PAY_IGNORED)
            log_event(strncmp(r.reason, "refund_", 7) == 0 ? LOG_WARN : LOG_INFO,
                      "wechatpay_notification_ignored", "reason", r.reason, "order_id",
                      r.ev.order_id[0] ? r.ev.order_id : NULL, "refund_id",
                      r.ev.refund_id[0] ? r.ev.refund_id : NULL, NULL);
        op->done.webhook(op->arg, &r);
        break;
    }
    }
    op_free(op);
}

/* ---- the provider's operations --------------------------------------------------------------- */

/* A new operation (caller sets its done callback, then calls op_start). */
static struct op *op_new(struct net_exec *nx, enum op_kind kind, void *arg, const char *order_id)
{
    struct op *op = xcalloc(1, sizeof *op);
    op->nx = nx;
    op->kind = kind;
    op->arg = arg;
    op->now_ms = time_now_ms();
    if (order_id != NULL)
        snprintf(op->order_id, sizeof op->order_id, "%s", order_id);
    return op;
}

/* Checks the merchant id. Returns 0, or -1 with op completed (failed). */
static int op_start(struct op *op)
{
    const char *mchid = cfg("TG_WECHATPAY_MCHID");
    if (mchid == NULL || !digits_only(mchid, 32)) {
        op_fail(op, PAY_MISCONFIGURED, "mchid_unusable");
        return -1;
    }
    snprintf(op->mchid, sizeof op->mchid, "%s", mchid);
    return 0;
}

static void wxp_checkout(struct net_exec *nx, const struct pay_checkout_req *req, pay_checkout_fn done,
                         void *arg)
{
    struct op *op = op_new(nx, OP_CHECKOUT, arg, req->order->id);
    const char *appid = cfg("TG_WECHATPAY_APPID"), *channel, *why;
    char path[64], *body;

    op->done.checkout = done;
    if (op_start(op) != 0)
        return;
    if (appid == NULL || !token_ok(appid, 32, NULL)) {
        op_fail(op, PAY_MISCONFIGURED, "appid_unusable");
        return;
    }
    snprintf(op->appid, sizeof op->appid, "%s", appid);
    channel = req->channel != NULL && req->channel[0] ? req->channel : "native";
    if (strcmp(channel, "native") != 0 && strcmp(channel, "jsapi") != 0 && strcmp(channel, "h5") != 0) {
        op_fail(op, PAY_INVALID, "unknown_channel");
        return;
    }
    snprintf(op->channel, sizeof op->channel, "%s", channel);
    if (req->return_url != NULL)
        op->return_url = xstrdup(req->return_url);
    body = wechatpay_order_body(channel, appid, op->mchid, req, &why);
    if (body == NULL) {
        op_fail(op, PAY_INVALID, why);
        return;
    }
    snprintf(path, sizeof path, "/v3/pay/transactions/%s", channel);
    if (op_request(op, "POST", path, body) == 0)
        net_exec_submit(nx, &op->call, api_done);
    free(body);
}

static void wxp_verify(struct net_exec *nx, const struct pay_webhook_req *req, pay_webhook_fn done, void *arg)
{
    struct op *op = op_new(nx, OP_WEBHOOK, arg, NULL);
    const char *h, *type;

    op->done.webhook = done;
    op->now_ms = req->now_ms;
    if (op_start(op) != 0)
        return;
    if (req->len == 0 || req->len > WECHATPAY_NOTIFY_MAX) {
        op_fail(op, PAY_INVALID, "body_size");
        return;
    }
    type = req->header(req->hctx, "wechatpay-signature-type");
    if (type != NULL && strcmp(type, "WECHATPAY2-SHA256-RSA2048") != 0) {
        op_fail(op, PAY_INVALID, "signature_type_unknown");
        return;
    }
    op->body = xstrndup(req->body, req->len);
    op->len = req->len;
    if ((h = req->header(req->hctx, "wechatpay-timestamp")) != NULL)
        op->ts = xstrdup(h);
    if ((h = req->header(req->hctx, "wechatpay-nonce")) != NULL)
        op->nonce = xstrdup(h);
    if ((h = req->header(req->hctx, "wechatpay-signature")) != NULL)
        op->sig = xstrdup(h);
    if ((h = req->header(req->hctx, "wechatpay-serial")) != NULL)
        op->serial = xstrdup(h);
    op_verify(op);
}

static void wxp_query(struct net_exec *nx, const struct order *o, int64_t now_ms, pay_query_fn done,
                      void *arg)
{
    struct op *op = op_new(nx, OP_QUERY, arg, o->id);
    char *path;

    (void)now_ms; /* answers are checked against the clock when they arrive */
    op->done.query = done;
    if (op_start(op) != 0)
        return;
    if (!token_ok(o->id, 32, NULL)) {
        op_fail(op, PAY_NOTFOUND, "order_id_unusable");
        return;
    }
    path = xasprintf("/v3/pay/transactions/out-trade-no/%s?mchid=%s", o->id, op->mchid);
    if (op_request(op, "GET", path, NULL) == 0)
        net_exec_submit(nx, &op->call, api_done);
    free(path);
}

static void wxp_refund(struct net_exec *nx, const struct pay_refund_req *req, pay_refund_fn done, void *arg)
{
    struct op *op = op_new(nx, OP_REFUND, arg, req->order->id);
    const struct order *o = req->order;
    json_t *j;
    char *body, *reason;

    op->done.refund = done;
    if (op_start(op) != 0)
        return;
    snprintf(op->refund_id, sizeof op->refund_id, "%s", req->refund_id);
    if (!token_ok(req->refund_id, 64, NULL) || strcmp(o->currency, "CNY") != 0 || req->amount <= 0 ||
        req->amount > o->amount) {
        op_fail(op, PAY_INVALID, "refund_request_unusable");
        return;
    }
    j = json_pack("{s:s, s:s, s:s, s:{s:I, s:I, s:s}}", "out_trade_no", o->id, "out_refund_no",
                  req->refund_id, "notify_url", req->notify_url, "amount", "refund", (json_int_t)req->amount,
                  "total", (json_int_t)o->amount, "currency", "CNY");
    if (j == NULL)
        abort();
    if (req->reason != NULL && req->reason[0]) {
        reason = utf8_cut(req->reason, WECHATPAY_REASON_MAX);
        json_object_set_new(j, "reason", json_string(reason));
        free(reason);
    }
    body = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (body == NULL)
        abort();
    if (op_request(op, "POST", "/v3/refund/domestic/refunds", body) == 0)
        net_exec_submit(nx, &op->call, api_done);
    free(body);
}

const struct pay_provider pay_wechatpay = {
    .name = "wechatpay",
    .configured = wechatpay_configured,
    .preload = wechatpay_pay_load_keys,
    .checkout = wxp_checkout,
    .verify_webhook = wxp_verify,
    .query = wxp_query,
    .refund = wxp_refund,
    /* PROVIDERS.md 2.3: 200 with this body is what WeChat Pay documents for success; a
     * failure is 4xx/5xx with code FAIL, after which it delivers again. */
    .ack_type = "application/json",
    .ack_body = "{\"code\":\"SUCCESS\",\"message\":\"成功\"}",
    .fail_type = "application/json",
    .fail_body = "{\"code\":\"FAIL\",\"message\":\"失败\"}",
};
