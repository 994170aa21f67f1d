/*
 * alipay.c - Alipay through the OpenAPI gateway (alipay.h; wire formats in PROVIDERS.md
 * section 3).
 *
 * Calls, each one POST to the gateway through net.h, on the caller's loop:
 *   checkout "qr"  alipay.trade.precreate          (idempotent for one out_trade_no: retried)
 *   query          alipay.trade.query              (retried)
 *   refund         alipay.trade.refund             (idempotent for one out_request_no: retried),
 *                  then alipay.trade.fastpay.refund.query when fund_change is "N" (a repeated
 *                  request: did the first one go through, and for how much?)
 *   notification   alipay.trade.fastpay.refund.query for a refund notification, which
 *                  carries the total refunded so far but not the amount of this refund.
 * Checkout "page" and "wap" make no call: the browser takes the signed URL to the gateway.
 */
#include "providers/pay/alipay.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/config.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/money.h"
#include "core/timeutil.h"
#include "crypto/encode.h"
#include "crypto/hash.h"
#include "crypto/rsa.h"
#include "net/net.h"

#define ALIPAY_SIG_MAX (RSA_MAX_BITS / 8)

static int cfg_set(const char *key)
{
    const char *v = config_get(key);
    return v != NULL && v[0] != '\0';
}

static int alipay_configured(void)
{
    return cfg_set("TG_ALIPAY_APP_ID") && cfg_set("TG_ALIPAY_PRIVATE_KEY_FILE") &&
           cfg_set("TG_ALIPAY_PUBLIC_KEY_FILE");
}

/* ---- parameters ------------------------------------------------------------------------ */

int alipay_params_add(struct alipay_params *ps, const char *key, const char *value)
{
    if (ps->n >= ALIPAY_PARAMS_MAX || alipay_params_get(ps, key) != NULL)
        return -1;
    ps->p[ps->n].key = xstrdup(key);
    ps->p[ps->n].value = xstrdup(value);
    ps->n++;
    return 0;
}

const char *alipay_params_get(const struct alipay_params *ps, const char *key)
{
    for (size_t i = 0; i < ps->n; i++)
        if (strcmp(ps->p[i].key, key) == 0)
            return ps->p[i].value;
    return NULL;
}

void alipay_params_free(struct alipay_params *ps)
{
    for (size_t i = 0; i < ps->n; i++) {
        free(ps->p[i].key);
        free(ps->p[i].value);
    }
    ps->n = 0;
}

static int key_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

int alipay_form_parse(const char *body, size_t len, struct alipay_params *ps)
{
    size_t i = 0;
    char *k = NULL, *v = NULL;

    ps->n = 0;
    if (body == NULL || len == 0 || len > ALIPAY_NOTIFY_MAX)
        return -1;
    k = xmalloc(len + 1);
    v = xmalloc(len + 1);
    while (i <= len) {
        size_t start = i, end, klen;
        const char *eq;
        long kl, vl;

        while (i < len && body[i] != '&')
            i++;
        end = i++;
        eq = memchr(body + start, '=', end - start);
        if (eq == NULL)
            goto fail; /* also an empty pair ("a=1&&b=2", a trailing '&') */
        klen = (size_t)(eq - (body + start));
        kl = pct_decode(body + start, klen, k, 1);
        vl = pct_decode(eq + 1, (size_t)(body + end - (eq + 1)), v, 1);
        if (kl <= 0 || kl > ALIPAY_KEY_MAX || vl < 0 || vl > ALIPAY_VALUE_MAX)
            goto fail;
        for (long j = 0; j < kl; j++)
            if (!key_char(k[j]))
                goto fail;
        if (alipay_params_add(ps, k, v) != 0)
            goto fail; /* too many, or a name given twice */
    }
    free(k);
    free(v);
    return 0;
fail:
    free(k);
    free(v);
    alipay_params_free(ps);
    return -1;
}

static int cmp_param(const void *a, const void *b)
{
    const struct alipay_param *const *x = a, *const *y = b;
    return strcmp((*x)->key, (*y)->key);
}

char *alipay_sign_content(const struct alipay_params *ps, int notify)
{
    const struct alipay_param *sorted[ALIPAY_PARAMS_MAX];
    struct sbuf b = {0};
    size_t n = 0;

    for (size_t i = 0; i < ps->n; i++) {
        const struct alipay_param *p = &ps->p[i];
        if (p->value[0] == '\0' || strcmp(p->key, "sign") == 0 ||
            (notify && strcmp(p->key, "sign_type") == 0))
            continue;
        sorted[n++] = p;
    }
    qsort(sorted, n, sizeof sorted[0], cmp_param);
    sbuf_puts(&b, ""); /* an empty set signs the empty string */
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            sbuf_puts(&b, "&");
        sbuf_puts(&b, sorted[i]->key);
        sbuf_puts(&b, "=");
        sbuf_puts(&b, sorted[i]->value);
    }
    return b.data;
}

char *alipay_sign_b64(const struct rsa_key *k, const char *content)
{
    size_t siglen = 0;
    unsigned char *sig = rsa_sign_sha256(k, content, strlen(content), &siglen);
    char *out;
    if (sig == NULL)
        return NULL;
    out = xmalloc(b64_encoded_len(siglen) + 1);
    b64_encode(sig, siglen, out);
    free(sig);
    return out;
}

int alipay_verify_b64(const struct rsa_key *k, const void *msg, size_t len, const char *sig_b64)
{
    unsigned char sig[ALIPAY_SIG_MAX];
    long n = b64_decode(sig_b64, strlen(sig_b64), sig, sizeof sig);
    if (n <= 0)
        return 0;
    return rsa_verify_sha256(k, msg, len, sig, (size_t)n);
}

char *alipay_time(int64_t ms, char out[20])
{
    time_t t = (time_t)(ms / 1000) + 8 * 3600; /* Asia/Shanghai: UTC+8 all year */
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL || strftime(out, 20, "%Y-%m-%d %H:%M:%S", &tm) != 19)
        snprintf(out, 20, "1970-01-01 08:00:00"); /* a year past 9999: never a real clock */
    return out;
}

/* 1..max bytes of [A-Za-z0-9_.-]: ids Alipay echoes (out_trade_no, trade_no, notify_id). */
static int id_ok(const char *s, size_t max)
{
    size_t n;
    if (s == NULL)
        return 0;
    n = strlen(s);
    if (n == 0 || n > max)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!key_char(s[i]) && s[i] != '.' && s[i] != '-')
            return 0;
    return 1;
}

static void set_reason(char reason[64], const char *why)
{
    snprintf(reason, 64, "%s", why);
}

/* ---- notifications --------------------------------------------------------------------- */

static void notify_fail(struct pay_webhook_res *res, enum pay_rc rc, const char *why)
{
    memset(&res->ev, 0, sizeof res->ev);
    res->rc = rc;
    set_reason(res->reason, why);
}

void alipay_notify_check(const char *body, size_t len, const struct rsa_key *pub, const char *app_id,
                         struct pay_webhook_res *res)
{
    struct alipay_params ps = {.n = 0};
    const char *sign, *sign_type, *charset, *v, *status, *notify_id, *out_trade_no, *trade_no, *out_biz_no;
    char *content;
    int ok, is_refund;
    int64_t amount = 0;

    memset(res, 0, sizeof *res);
    if (len == 0 || len > ALIPAY_NOTIFY_MAX)
        return notify_fail(res, PAY_INVALID, "body_size");
    if (alipay_form_parse(body, len, &ps) != 0)
        return notify_fail(res, PAY_INVALID, "body_malformed");

    /* The signature first: nothing else in the body means anything before it verifies. */
    sign = alipay_params_get(&ps, "sign");
    sign_type = alipay_params_get(&ps, "sign_type");
    charset = alipay_params_get(&ps, "charset");
    if (sign == NULL || sign[0] == '\0') {
        notify_fail(res, PAY_INVALID, "signature_missing");
        goto done;
    }
    if (sign_type == NULL || strcmp(sign_type, "RSA2") != 0) {
        notify_fail(res, PAY_INVALID, "sign_type_not_rsa2");
        goto done;
    }
    /* The signature is over the UTF-8 bytes; our requests say charset=utf-8, and so must Alipay. */
    if (charset != NULL && strcasecmp(charset, "utf-8") != 0) {
        notify_fail(res, PAY_INVALID, "charset_not_utf8");
        goto done;
    }
    content = alipay_sign_content(&ps, 1);
    ok = alipay_verify_b64(pub, content, strlen(content), sign);
    free(content);
    if (!ok) {
        notify_fail(res, PAY_INVALID, "signature_mismatch");
        goto done;
    }

    v = alipay_params_get(&ps, "app_id");
    if (v == NULL || app_id == NULL || strlen(v) != strlen(app_id) || !ct_equal(v, app_id, strlen(v))) {
        notify_fail(res, PAY_INVALID, "app_id_mismatch");
        goto done;
    }
    notify_id = alipay_params_get(&ps, "notify_id");
    status = alipay_params_get(&ps, "trade_status");
    out_trade_no = alipay_params_get(&ps, "out_trade_no");
    trade_no = alipay_params_get(&ps, "trade_no");
    if (!id_ok(notify_id, TG_PROVIDER_REF_MAX - 1) || status == NULL || status[0] == '\0') {
        notify_fail(res, PAY_INVALID, "body_malformed");
        goto done;
    }
    /* Cross-border contracts name a currency; ours is CNY, so any other one is not our payment. */
    v = alipay_params_get(&ps, "trans_currency");
    if (v != NULL && v[0] != '\0' && strcmp(v, "CNY") != 0) {
        notify_fail(res, PAY_INVALID, "currency_not_cny");
        goto done;
    }

    snprintf(res->ev.event_id, sizeof res->ev.event_id, "%s", notify_id);
    snprintf(res->ev.type, sizeof res->ev.type, "%s", status);
    snprintf(res->ev.currency, sizeof res->ev.currency, "CNY");

    /* A refund is notified as a trade_status_sync of the trade (TRADE_SUCCESS after a partial
     * refund, TRADE_CLOSED after a full one) with gmt_refund, refund_fee and out_biz_no (the
     * refund's out_request_no). */
    out_biz_no = alipay_params_get(&ps, "out_biz_no");
    v = alipay_params_get(&ps, "gmt_refund");
    is_refund = (out_biz_no != NULL && out_biz_no[0] != '\0') || (v != NULL && v[0] != '\0');
    if (is_refund) {
        /* Ours carry our refund id ("rfd_..."); one made in Alipay's merchant dashboard
         * carries Alipay's, and is recorded as a refund made there. */
        if (!id_ok(out_biz_no, 64)) {
            notify_fail(res, PAY_IGNORED, "refund_not_identifiable");
            goto done;
        }
        if (!id_ok(out_trade_no, TG_ID_MAX - 1) || !id_ok(trade_no, 64)) {
            notify_fail(res, PAY_INVALID, "body_malformed");
            goto done;
        }
        res->ev.kind = PAY_EVENT_REFUND;
        snprintf(res->ev.type, sizeof res->ev.type, "refund");
        snprintf(res->ev.order_id, sizeof res->ev.order_id, "%s", out_trade_no);
        snprintf(res->ev.provider_ref, sizeof res->ev.provider_ref, "%s", trade_no);
        if (strncmp(out_biz_no, "rfd_", 4) == 0 && strlen(out_biz_no) < sizeof res->ev.refund_id)
            snprintf(res->ev.refund_id, sizeof res->ev.refund_id, "%s", out_biz_no);
        snprintf(res->ev.provider_refund_id, sizeof res->ev.provider_refund_id, "%s:%s", trade_no,
                 out_biz_no);
        res->rc = PAY_OK;
        goto done;
    }

    if (strcmp(status, "TRADE_SUCCESS") == 0 || strcmp(status, "TRADE_FINISHED") == 0) {
        v = alipay_params_get(&ps, "total_amount");
        if (!id_ok(out_trade_no, TG_ID_MAX - 1) || !id_ok(trade_no, 64) || v == NULL ||
            money_parse(v, strlen(v), "CNY", &amount) != 0 || amount <= 0) {
            notify_fail(res, PAY_INVALID, "body_malformed");
            goto done;
        }
        res->ev.kind = PAY_EVENT_PAID;
    } else if (strcmp(status, "TRADE_CLOSED") == 0) {
        if (!id_ok(out_trade_no, TG_ID_MAX - 1)) {
            notify_fail(res, PAY_INVALID, "body_malformed");
            goto done;
        }
        v = alipay_params_get(&ps, "total_amount");
        if (v == NULL || money_parse(v, strlen(v), "CNY", &amount) != 0)
            amount = 0;
        res->ev.kind = PAY_EVENT_FAILED;
    } else { /* WAIT_BUYER_PAY, or a status we do not know */
        notify_fail(res, PAY_IGNORED,
                    strcmp(status, "WAIT_BUYER_PAY") == 0 ? "wait_buyer_pay" : "status_not_handled");
        goto done;
    }
    res->ev.amount = amount;
    snprintf(res->ev.order_id, sizeof res->ev.order_id, "%s", out_trade_no);
    if (id_ok(trade_no, TG_PROVIDER_REF_MAX - 1))
        snprintf(res->ev.provider_ref, sizeof res->ev.provider_ref, "%s", trade_no);
    res->rc = PAY_OK;
done:
    alipay_params_free(&ps);
}

/* ---- answers ----------------------------------------------------------------------------- */

static size_t skip_ws(const char *s, size_t len, size_t i)
{
    while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
        i++;
    return i;
}

/* Index just past the JSON string that starts at s[i] == '"', or 0. */
static size_t skip_string(const char *s, size_t len, size_t i)
{
    for (i++; i < len; i++) {
        if (s[i] == '\\')
            i++;
        else if (s[i] == '"')
            return i + 1;
    }
    return 0;
}

/* Index just past the JSON value that starts at s[i], or 0. Only spans are found here: the
 * whole text is also parsed by jansson, which refuses what is not JSON. */
static size_t skip_value(const char *s, size_t len, size_t i)
{
    size_t start = i;
    int depth = 0;
    if (i >= len)
        return 0;
    if (s[i] == '"')
        return skip_string(s, len, i);
    if (s[i] == '{' || s[i] == '[') {
        while (i < len) {
            char c = s[i];
            if (c == '"') {
                i = skip_string(s, len, i);
                if (i == 0)
                    return 0;
                continue;
            }
            if (c == '{' || c == '[')
                depth++;
            else if ((c == '}' || c == ']') && --depth == 0)
                return i + 1;
            i++;
        }
        return 0;
    }
    while (i < len && s[i] != ',' && s[i] != '}' && s[i] != ']' && s[i] != ' ' && s[i] != '\t' &&
           s[i] != '\n' && s[i] != '\r')
        i++;
    return i > start ? i : 0;
}

/* Finds the raw span of the top-level member `name` (exact spelling, no escapes) of the
 * object text s. Returns 1 and sets *at, *n; 0 when absent; -1 when s is not an object. */
static int find_member(const char *s, size_t len, const char *name, size_t *at, size_t *n)
{
    size_t i = skip_ws(s, len, 0), nlen = strlen(name);
    if (i >= len || s[i] != '{')
        return -1;
    i = skip_ws(s, len, i + 1);
    if (i < len && s[i] == '}')
        return 0;
    while (i < len) {
        size_t kstart = i, kend, vstart, vend;
        if (s[i] != '"' || (kend = skip_string(s, len, i)) == 0)
            return -1;
        i = skip_ws(s, len, kend);
        if (i >= len || s[i] != ':')
            return -1;
        vstart = skip_ws(s, len, i + 1);
        vend = skip_value(s, len, vstart);
        if (vend == 0)
            return -1;
        if (kend - kstart - 2 == nlen && memcmp(s + kstart + 1, name, nlen) == 0) {
            *at = vstart;
            *n = vend - vstart;
            return 1;
        }
        i = skip_ws(s, len, vend);
        if (i < len && s[i] == ',') {
            i = skip_ws(s, len, i + 1);
            continue;
        }
        return i < len && s[i] == '}' ? 0 : -1;
    }
    return -1;
}

enum pay_rc alipay_answer_open(const char *body, size_t len, const char *method, const struct rsa_key *pub,
                               json_t **resp, int *signed_, char reason[64])
{
    char key[96];
    size_t at = 0, n = 0, klen;
    json_t *root = NULL, *obj = NULL, *sign;
    json_error_t jerr;
    enum pay_rc rc = PAY_UNAVAILABLE;
    int found;

    *resp = NULL;
    *signed_ = 0;
    set_reason(reason, "bad_answer");
    klen = strlen(method);
    if (body == NULL || len == 0 || len > ALIPAY_ANSWER_MAX || klen + sizeof "_response" > sizeof key)
        return rc;
    for (size_t i = 0; i < klen; i++)
        key[i] = method[i] == '.' ? '_' : method[i];
    memcpy(key + klen, "_response", sizeof "_response");

    root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(root))
        goto out;
    found = find_member(body, len, key, &at, &n);
    if (found == 0) {
        snprintf(key, sizeof key, "error_response");
        found = find_member(body, len, key, &at, &n);
    }
    /* The span found must be the member jansson read (a name spelled with escapes is not). */
    if (found != 1 || !json_is_object(json_object_get(root, key)))
        goto out;
    obj = json_loadb(body + at, n, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(obj))
        goto out;
    sign = json_object_get(root, "sign");
    if (sign != NULL) {
        if (!json_is_string(sign) || !alipay_verify_b64(pub, body + at, n, json_string_value(sign))) {
            rc = PAY_MISCONFIGURED;
            set_reason(reason, "response_signature_invalid");
            goto out;
        }
        *signed_ = 1;
    }
    *resp = obj;
    obj = NULL;
    rc = PAY_OK;
    set_reason(reason, "");
out:
    json_decref(obj);
    json_decref(root);
    return rc;
}

enum pay_rc alipay_code_rc(const char *code, const char *sub_code, char reason[64])
{
    const char *sub = sub_code != NULL ? sub_code : "";
    if (code == NULL)
        code = "";
    if (sub[0] != '\0' && strlen(sub) < 64 && id_ok(sub, 63))
        snprintf(reason, 64, "%s", sub);
    else
        snprintf(reason, 64, "alipay_%.16s", id_ok(code, 16) ? code : "unknown");
    if (strcmp(code, "20001") == 0 || strcmp(code, "40006") == 0 ||
        strncmp(sub, "isv.invalid-signature", 21) == 0 || strncmp(sub, "isv.invalid-app-id", 18) == 0 ||
        strncmp(sub, "isv.insufficient-isv-permissions", 32) == 0 ||
        strncmp(sub, "isv.invalid-app-auth-token", 26) == 0 || strcmp(sub, "ACQ.ACCESS_FORBIDDEN") == 0)
        return PAY_MISCONFIGURED;
    if (strcmp(code, "20000") == 0 || strcmp(sub, "ACQ.SYSTEM_ERROR") == 0)
        return PAY_UNAVAILABLE;
    if (strcmp(code, "40001") == 0 || strcmp(code, "40002") == 0)
        return PAY_INVALID;
    if (strcmp(code, "40004") == 0)
        return PAY_DECLINED;
    return PAY_UNAVAILABLE;
}

/* ---- keys ---------------------------------------------------------------------------- */

/* Keys by file path, loaded once and kept for the life of the process (a key is immutable
 * and thread-safe once loaded; the lock is held only to look up or add one). */
#define ALIPAY_KEY_SLOTS 16
static struct {
    pthread_mutex_t mu;
    struct {
        char *path;
        int priv;
        struct rsa_key *key;
    } slot[ALIPAY_KEY_SLOTS];
    size_t n;
} K = {.mu = PTHREAD_MUTEX_INITIALIZER};

static const struct rsa_key *key_get(const char *path, int priv)
{
    struct rsa_key *k = NULL;
    enum rsa_rc rc;

    if (path == NULL || path[0] == '\0')
        return NULL;
    pthread_mutex_lock(&K.mu);
    for (size_t i = 0; i < K.n; i++)
        if (K.slot[i].priv == priv && strcmp(K.slot[i].path, path) == 0) {
            k = K.slot[i].key;
            pthread_mutex_unlock(&K.mu);
            return k;
        }
    if (priv) {
        rc = rsa_priv_from_file(path, &k);
    } else {
        char *pem = NULL;
        size_t plen = 0;
        rc = RSA_MALFORMED;
        if (config_read_file(path, RSA_PEM_MAX, &pem, &plen) == 0)
            rc = rsa_pub_from_pem(pem, plen, &k);
        free(pem);
    }
    if (rc == RSA_OK && K.n < ALIPAY_KEY_SLOTS) {
        K.slot[K.n].path = xstrdup(path);
        K.slot[K.n].priv = priv;
        K.slot[K.n].key = k;
        K.n++;
    } else {
        if (rc == RSA_OK) /* more key files than any configuration has: a bug */
            rsa_key_free(k);
        k = NULL;
        log_event(LOG_ERROR, "alipay_key_unusable", "key",
                  priv ? "TG_ALIPAY_PRIVATE_KEY_FILE" : "TG_ALIPAY_PUBLIC_KEY_FILE", "reason",
                  rsa_rc_name(rc), NULL);
    }
    pthread_mutex_unlock(&K.mu);
    return k;
}

int alipay_pay_load_keys(char **err)
{
    *err = NULL;
    if (!alipay_configured())
        return 0;
    if (key_get(config_get("TG_ALIPAY_PRIVATE_KEY_FILE"), 1) == NULL) {
        *err = xstrdup("TG_ALIPAY_PRIVATE_KEY_FILE: not a readable RSA private key (PEM, 2048 bits or more)");
        return -1;
    }
    if (key_get(config_get("TG_ALIPAY_PUBLIC_KEY_FILE"), 0) == NULL) {
        *err = xstrdup("TG_ALIPAY_PUBLIC_KEY_FILE: not a readable RSA public key (PEM, 2048 bits or more)");
        return -1;
    }
    return 0;
}

/* The configured app and its keys, or 0 with reason set. */
struct alipay_app {
    const char *app_id, *gateway;
    const struct rsa_key *priv, *pub;
};

static int app_get(struct alipay_app *a, char reason[64])
{
    if (!alipay_configured()) {
        set_reason(reason, "not_configured");
        return 0;
    }
    a->app_id = config_get("TG_ALIPAY_APP_ID");
    a->gateway = config_get("TG_ALIPAY_GATEWAY");
    a->priv = key_get(config_get("TG_ALIPAY_PRIVATE_KEY_FILE"), 1);
    a->pub = key_get(config_get("TG_ALIPAY_PUBLIC_KEY_FILE"), 0);
    if (a->priv == NULL || a->pub == NULL || !rsa_key_is_private(a->priv)) {
        set_reason(reason, a->priv == NULL ? "private_key_unusable" : "public_key_unusable");
        return 0;
    }
    if (a->gateway == NULL || a->gateway[0] == '\0') {
        set_reason(reason, "no_gateway");
        return 0;
    }
    return 1;
}

/* ---- requests -------------------------------------------------------------------------- */

/*
 * The signed parameters of one call: the common ones, then biz_content. notify_url and
 * return_url may be NULL (left out). Returns 0, or -1 when signing failed.
 */
static int request_params(const struct alipay_app *a, const char *method, const char *biz,
                          const char *notify_url, const char *return_url, int64_t now_ms,
                          struct alipay_params *ps)
{
    char ts[20], *content, *sig;

    ps->n = 0;
    alipay_params_add(ps, "app_id", a->app_id);
    alipay_params_add(ps, "method", method);
    alipay_params_add(ps, "format", "JSON");
    alipay_params_add(ps, "charset", "utf-8");
    alipay_params_add(ps, "sign_type", "RSA2");
    alipay_params_add(ps, "timestamp", alipay_time(now_ms, ts));
    alipay_params_add(ps, "version", "1.0");
    if (notify_url != NULL && notify_url[0] != '\0')
        alipay_params_add(ps, "notify_url", notify_url);
    if (return_url != NULL && return_url[0] != '\0')
        alipay_params_add(ps, "return_url", return_url);
    alipay_params_add(ps, "biz_content", biz);
    content = alipay_sign_content(ps, 0);
    sig = alipay_sign_b64(a->priv, content);
    free(content);
    if (sig == NULL) {
        alipay_params_free(ps);
        return -1;
    }
    alipay_params_add(ps, "sign", sig);
    free(sig);
    return 0;
}

/* "k=v&k=v" with every name and value percent-encoded (a query string or a form body). */
static void params_encode(const struct alipay_params *ps, struct sbuf *b)
{
    for (size_t i = 0; i < ps->n; i++) {
        const char *v = ps->p[i].value;
        size_t vn = strlen(v);
        char *enc = xmalloc(pct_encoded_len(v, vn) + 1);
        if (i > 0)
            sbuf_puts(b, "&");
        sbuf_puts(b, ps->p[i].key); /* names are [a-z_] */
        sbuf_puts(b, "=");
        sbuf_append(b, enc, pct_encode(v, vn, enc));
        free(enc);
    }
}

/* biz_content: a compact JSON text of obj (stolen). NULL when a value is not UTF-8. */
static char *biz_text(json_t *obj)
{
    char *s;
    if (obj == NULL)
        return NULL;
    s = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(obj);
    return s;
}

/* One gateway call in flight; the net call is reused for a follow-up. */
enum alipay_op { OP_PRECREATE, OP_QUERY, OP_REFUND, OP_REFUND_CHECK, OP_NOTIFY_REFUND };

struct alipay_ctx {
    struct net_call call;
    struct net_exec *nx;
    enum alipay_op op;
    struct alipay_app app;
    const char *method;
    char order_id[TG_ID_MAX];
    char refund_id[65]; /* out_request_no: ours ("rfd_...") or a dashboard refund's number */
    int64_t amount;
    union {
        pay_checkout_fn checkout;
        pay_query_fn query;
        pay_refund_fn refund;
        pay_webhook_fn webhook;
    } done;
    void *arg;
    struct pay_checkout_res checkout;
    struct pay_query_res query;
    struct pay_refund_res refund;
    struct pay_webhook_res webhook;
};

static struct alipay_ctx *ctx_of(struct net_call *c)
{
    return (struct alipay_ctx *)(void *)((char *)c - offsetof(struct alipay_ctx, call));
}

static void call_done(struct net_call *c);

/* Signs and submits method with biz (freed here). Returns 0, or -1 (nothing submitted). */
static int submit(struct alipay_ctx *x, const char *method, char *biz, const char *notify_url, int64_t now_ms)
{
    struct alipay_params ps = {.n = 0};
    struct sbuf body = {0};

    if (biz == NULL)
        return -1;
    if (request_params(&x->app, method, biz, notify_url, NULL, now_ms, &ps) != 0) {
        free(biz);
        return -1;
    }
    free(biz);
    params_encode(&ps, &body);
    alipay_params_free(&ps);
    x->method = method;
    net_call_init(&x->call, "alipay", "POST", x->app.gateway);
    net_call_body(&x->call, "application/x-www-form-urlencoded;charset=utf-8", body.data, body.len);
    net_call_header(&x->call, "Accept", "application/json");
    sbuf_free(&body);
    x->call.timeout_ms = x->op == OP_PRECREATE ? ALIPAY_CHECKOUT_TIMEOUT_MS : ALIPAY_CALL_TIMEOUT_MS;
    x->call.max_response = ALIPAY_ANSWER_MAX;
    /* Every call made here is idempotent at Alipay: one out_trade_no is one trade, one
     * out_request_no one refund, and queries change nothing. */
    x->call.idempotent = 1;
    x->call.retries = x->op == OP_PRECREATE ? ALIPAY_CHECKOUT_RETRIES : ALIPAY_CALL_RETRIES;
    net_exec_submit(x->nx, &x->call, call_done); /* x may be gone from here on */
    return 0;
}

/* Opens the answer of the finished call: PAY_OK with *resp (caller decrefs) and *signed_. */
static enum pay_rc answer_of(struct alipay_ctx *x, json_t **resp, int *signed_, char reason[64])
{
    *resp = NULL;
    *signed_ = 0;
    if (x->call.err != NET_OK) {
        snprintf(reason, 64, "%s", net_err_name(x->call.err));
        return PAY_UNAVAILABLE;
    }
    if (x->call.status != 200) { /* Alipay answers 200 even for its errors */
        snprintf(reason, 64, "http_%ld", x->call.status);
        return PAY_UNAVAILABLE;
    }
    return alipay_answer_open(x->call.resp_body, x->call.resp_len, x->method, x->app.pub, resp, signed_,
                              reason);
}

static const char *str_of(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static void log_failure(const struct alipay_ctx *x, enum pay_rc rc, const char *reason)
{
    if (rc == PAY_OK || rc == PAY_NOTFOUND || rc == PAY_IGNORED)
        return;
    log_event(rc == PAY_MISCONFIGURED ? LOG_ERROR : LOG_WARN, "alipay_call_failed", "method", x->method,
              "outcome", pay_rc_name(rc), "reason", reason, "order_id", x->order_id[0] ? x->order_id : NULL,
              NULL);
}

static void finish(struct alipay_ctx *x)
{
    net_call_release(&x->call);
    switch (x->op) {
    case OP_PRECREATE:
        log_failure(x, x->checkout.rc, x->checkout.reason);
        x->done.checkout(x->arg, &x->checkout);
        break;
    case OP_QUERY:
        log_failure(x, x->query.rc, x->query.reason);
        x->done.query(x->arg, &x->query);
        break;
    case OP_REFUND:
    case OP_REFUND_CHECK:
        log_failure(x, x->refund.rc, x->refund.reason);
        x->done.refund(x->arg, &x->refund);
        break;
    case OP_NOTIFY_REFUND:
        log_failure(x, x->webhook.rc, x->webhook.reason);
        x->done.webhook(x->arg, &x->webhook);
        break;
    }
    free(x);
}

/* alipay.trade.fastpay.refund.query for (order_id, refund_id): submitted on x (reused). */
static int submit_refund_query(struct alipay_ctx *x)
{
    net_call_release(&x->call);
    return submit(
        x, "alipay.trade.fastpay.refund.query",
        biz_text(json_pack("{s:s, s:s}", "out_trade_no", x->order_id, "out_request_no", x->refund_id)), NULL,
        time_now_ms());
}

/*
 * A refund query's answer: 1 with *amount when the refund exists and succeeded, 0 when
 * Alipay knows no such (successful) refund, or -1 with rc/reason when the answer says
 * nothing we can believe. Alipay answers 10000 with no refund fields for an unknown refund.
 */
static int refund_found(struct alipay_ctx *x, enum pay_rc *rc, char reason[64], int64_t *amount)
{
    json_t *resp;
    int signed_, ret = -1;
    const char *code, *st, *amt, *req;

    *rc = answer_of(x, &resp, &signed_, reason);
    if (*rc != PAY_OK)
        return -1;
    code = str_of(resp, "code");
    if (code == NULL || strcmp(code, "10000") != 0) {
        *rc = alipay_code_rc(code, str_of(resp, "sub_code"), reason);
        if (*rc != PAY_MISCONFIGURED)
            *rc = PAY_UNAVAILABLE;
    } else if (!signed_) {
        *rc = PAY_UNAVAILABLE;
        set_reason(reason, "response_unsigned");
    } else {
        st = str_of(resp, "refund_status");
        amt = str_of(resp, "refund_amount");
        req = str_of(resp, "out_request_no");
        if (amt == NULL || amt[0] == '\0' ||
            (st != NULL && st[0] != '\0' && strcmp(st, "REFUND_SUCCESS") != 0)) {
            ret = 0;
        } else if ((req != NULL && strcmp(req, x->refund_id) != 0) ||
                   money_parse(amt, strlen(amt), "CNY", amount) != 0 || *amount <= 0) {
            *rc = PAY_UNAVAILABLE;
            set_reason(reason, "bad_answer");
        } else {
            ret = 1;
        }
    }
    json_decref(resp);
    return ret;
}

static void precreate_done(struct alipay_ctx *x)
{
    struct pay_checkout_res *res = &x->checkout;
    json_t *resp;
    int signed_;
    const char *code, *qr, *otn;
    struct sbuf b = {0};

    res->rc = answer_of(x, &resp, &signed_, res->reason);
    if (res->rc != PAY_OK)
        return;
    code = str_of(resp, "code");
    qr = str_of(resp, "qr_code");
    otn = str_of(resp, "out_trade_no");
    if (code == NULL || strcmp(code, "10000") != 0) {
        res->rc = alipay_code_rc(code, str_of(resp, "sub_code"), res->reason);
    } else if (!signed_) {
        res->rc = PAY_UNAVAILABLE;
        set_reason(res->reason, "response_unsigned");
    } else if (otn == NULL || strcmp(otn, x->order_id) != 0 || qr == NULL || strlen(qr) > ALIPAY_QR_MAX ||
               strncmp(qr, "https://", 8) != 0 || strcspn(qr, " \"\\<>") != strlen(qr)) {
        res->rc = PAY_UNAVAILABLE;
        set_reason(res->reason, "bad_answer");
    } else {
        sbuf_puts(&b, "{\"code_url\":\"");
        sbuf_json_escape(&b, qr);
        sbuf_puts(&b, "\"}");
        if (b.len >= sizeof res->checkout) {
            res->rc = PAY_UNAVAILABLE;
            set_reason(res->reason, "bad_answer");
        } else {
            memcpy(res->checkout, b.data, b.len + 1);
        }
        sbuf_free(&b);
    }
    json_decref(resp);
}

static void query_done(struct alipay_ctx *x)
{
    struct pay_query_res *res = &x->query;
    json_t *resp;
    int signed_;
    const char *code, *sub, *status, *otn, *tno, *amt;
    int64_t amount = 0;

    res->rc = answer_of(x, &resp, &signed_, res->reason);
    if (res->rc != PAY_OK)
        return;
    code = str_of(resp, "code");
    sub = str_of(resp, "sub_code");
    if (code == NULL || strcmp(code, "10000") != 0) {
        if (signed_ && code != NULL && strcmp(code, "40004") == 0 && sub != NULL &&
            strcmp(sub, "ACQ.TRADE_NOT_EXIST") == 0) {
            res->rc = PAY_NOTFOUND;
            set_reason(res->reason, "trade_not_exist");
        } else {
            res->rc = alipay_code_rc(code, sub, res->reason);
            if (res->rc != PAY_MISCONFIGURED)
                res->rc = PAY_UNAVAILABLE;
        }
        goto out;
    }
    if (!signed_) {
        res->rc = PAY_UNAVAILABLE;
        set_reason(res->reason, "response_unsigned");
        goto out;
    }
    status = str_of(resp, "trade_status");
    otn = str_of(resp, "out_trade_no");
    tno = str_of(resp, "trade_no");
    if (status == NULL || otn == NULL || strcmp(otn, x->order_id) != 0) {
        res->rc = PAY_UNAVAILABLE;
        set_reason(res->reason, "bad_answer");
        goto out;
    }
    if (strcmp(status, "TRADE_SUCCESS") == 0 || strcmp(status, "TRADE_FINISHED") == 0) {
        amt = str_of(resp, "total_amount");
        if (!id_ok(tno, 64) || amt == NULL || money_parse(amt, strlen(amt), "CNY", &amount) != 0 ||
            amount <= 0) {
            res->rc = PAY_UNAVAILABLE;
            set_reason(res->reason, "bad_answer");
            goto out;
        }
        res->state = PAY_STATE_PAID;
        res->ev.kind = PAY_EVENT_PAID;
        snprintf(res->ev.event_id, sizeof res->ev.event_id, "query:%s", tno);
        snprintf(res->ev.type, sizeof res->ev.type, "%s", status);
        snprintf(res->ev.order_id, sizeof res->ev.order_id, "%s", otn);
        snprintf(res->ev.provider_ref, sizeof res->ev.provider_ref, "%s", tno);
        res->ev.amount = amount;
        snprintf(res->ev.currency, sizeof res->ev.currency, "CNY");
    } else if (strcmp(status, "TRADE_CLOSED") == 0) {
        res->state = PAY_STATE_CLOSED;
    } else { /* WAIT_BUYER_PAY */
        res->state = PAY_STATE_PENDING;
    }
out:
    json_decref(resp);
}

/* Returns 1 when a follow-up call was submitted (x lives on). */
static int refund_done(struct alipay_ctx *x)
{
    struct pay_refund_res *res = &x->refund;
    json_t *resp;
    int signed_;
    const char *code, *sub, *fund_change, *tno;

    res->rc = answer_of(x, &resp, &signed_, res->reason);
    if (res->rc != PAY_OK)
        return 0;
    code = str_of(resp, "code");
    sub = str_of(resp, "sub_code");
    tno = str_of(resp, "trade_no");
    fund_change = str_of(resp, "fund_change");
    if (code == NULL || strcmp(code, "10000") != 0) {
        res->rc = alipay_code_rc(code, sub, res->reason);
        if (!signed_ && (res->rc == PAY_DECLINED || res->rc == PAY_INVALID)) {
            /* Only a signed answer is believed when it refuses: try again later. */
            res->rc = PAY_UNAVAILABLE;
            set_reason(res->reason, "response_unsigned");
        } else if (sub != NULL && strcmp(sub, "ACQ.TRADE_NOT_EXIST") == 0) {
            res->rc = PAY_INVALID;
        }
    } else if (!signed_) {
        res->rc = PAY_UNAVAILABLE;
        set_reason(res->reason, "response_unsigned");
    } else if (!id_ok(tno, 64) || fund_change == NULL) {
        res->rc = PAY_UNAVAILABLE;
        set_reason(res->reason, "bad_answer");
    } else {
        snprintf(res->provider_refund_id, sizeof res->provider_refund_id, "%.64s:%.63s", tno, x->refund_id);
        if (strcmp(fund_change, "Y") == 0) {
            res->pending = 0;
        } else {
            /* "N": no money moved by this call - the same out_request_no was refunded before
             * (our earlier attempt went through) or nothing happened. Ask. */
            json_decref(resp);
            x->op = OP_REFUND_CHECK;
            if (submit_refund_query(x) == 0)
                return 1;
            res->rc = PAY_MISCONFIGURED;
            set_reason(res->reason, "sign_failed");
            return 0;
        }
    }
    json_decref(resp);
    return 0;
}

static void refund_check_done(struct alipay_ctx *x)
{
    struct pay_refund_res *res = &x->refund;
    int64_t amount = 0;
    int found = refund_found(x, &res->rc, res->reason, &amount);

    if (found < 0)
        return;
    if (found == 0) {
        res->rc = PAY_UNAVAILABLE;
        set_reason(res->reason, "refund_unconfirmed");
    } else if (amount != x->amount) {
        res->rc = PAY_DECLINED; /* the refund id was used before for another amount */
        set_reason(res->reason, "refund_amount_differs");
    } else {
        res->rc = PAY_OK;
        res->reason[0] = '\0';
        res->pending = 0;
    }
}

static void notify_refund_done(struct alipay_ctx *x)
{
    struct pay_webhook_res *res = &x->webhook;
    enum pay_rc rc;
    char reason[64];
    int64_t amount = 0;
    int found = refund_found(x, &rc, reason, &amount);

    if (found == 1) {
        res->ev.amount = amount;
        return;
    }
    /* The notification is authentic but its amount is not known yet: let Alipay deliver it
     * again (503) rather than acknowledge a refund we could not size. */
    memset(&res->ev, 0, sizeof res->ev);
    if (found == 0 && x->refund_id[0] != '\0' && strncmp(x->refund_id, "rfd_", 4) != 0) {
        /* A dashboard refund Alipay cannot find by its number: nothing we can record. */
        res->rc = PAY_IGNORED;
        set_reason(res->reason, "refund_not_found");
        return;
    }
    res->rc = found == 0 ? PAY_UNAVAILABLE : (rc == PAY_MISCONFIGURED ? PAY_MISCONFIGURED : PAY_UNAVAILABLE);
    set_reason(res->reason, found == 0 ? "refund_unconfirmed" : reason);
}

static void call_done(struct net_call *c)
{
    struct alipay_ctx *x = ctx_of(c);
    switch (x->op) {
    case OP_PRECREATE:
        precreate_done(x);
        break;
    case OP_QUERY:
        query_done(x);
        break;
    case OP_REFUND:
        if (refund_done(x))
            return;
        break;
    case OP_REFUND_CHECK:
        refund_check_done(x);
        break;
    case OP_NOTIFY_REFUND:
        notify_refund_done(x);
        break;
    }
    finish(x);
}

/* ---- the operations ------------------------------------------------------------------ */

static void checkout_now(pay_checkout_fn done, void *arg, enum pay_rc rc, const char *reason)
{
    struct pay_checkout_res res;
    memset(&res, 0, sizeof res);
    res.rc = rc;
    set_reason(res.reason, reason);
    if (rc != PAY_OK)
        log_event(rc == PAY_MISCONFIGURED ? LOG_ERROR : LOG_WARN, "alipay_checkout_failed", "outcome",
                  pay_rc_name(rc), "reason", reason, NULL);
    done(arg, &res);
}

static void alipay_checkout(struct net_exec *nx, const struct pay_checkout_req *req, pay_checkout_fn done,
                            void *arg)
{
    const struct order *o = req->order;
    const char *channel = req->channel != NULL && req->channel[0] != '\0' ? req->channel : "page";
    const char *method, *product_code;
    struct alipay_app app;
    char reason[64], amount[32], expire[20];
    json_t *biz;
    struct alipay_ctx *x;

    if (!app_get(&app, reason))
        return checkout_now(done, arg, PAY_MISCONFIGURED, reason);
    if (strcmp(channel, "page") == 0) {
        method = "alipay.trade.page.pay";
        product_code = "FAST_INSTANT_TRADE_PAY";
    } else if (strcmp(channel, "wap") == 0) {
        method = "alipay.trade.wap.pay";
        product_code = "QUICK_WAP_WAY";
    } else if (strcmp(channel, "qr") == 0) {
        method = "alipay.trade.precreate";
        product_code = "FACE_TO_FACE_PAYMENT";
    } else {
        return checkout_now(done, arg, PAY_INVALID, "channel_unknown");
    }
    /* Alipay's domestic acquiring settles in yuan only. */
    if (strcmp(o->currency, "CNY") != 0)
        return checkout_now(done, arg, PAY_INVALID, "currency_not_cny");
    if (o->amount <= 0 || money_format(o->amount, "CNY", amount, sizeof amount) < 0)
        return checkout_now(done, arg, PAY_INVALID, "amount_invalid");
    if (!id_ok(o->id, TG_ID_MAX - 1))
        return checkout_now(done, arg, PAY_INVALID, "order_id_invalid");
    if (req->description == NULL || req->description[0] == '\0' ||
        strlen(req->description) > ALIPAY_SUBJECT_MAX)
        return checkout_now(done, arg, PAY_INVALID, "subject_invalid");

    biz = json_pack("{s:s, s:s, s:s, s:s}", "out_trade_no", o->id, "total_amount", amount, "subject",
                    req->description, "product_code", product_code);
    if (biz == NULL)
        return checkout_now(done, arg, PAY_INVALID, "subject_invalid"); /* not UTF-8 */
    /* The order's own expiry, so that Alipay stops taking money when we stop waiting for it. */
    if (o->expires_at > req->now_ms)
        json_object_set_new(biz, "time_expire", json_string(alipay_time(o->expires_at, expire)));
    if (strcmp(channel, "wap") == 0 && req->cancel_url != NULL && req->cancel_url[0] != '\0')
        json_object_set_new(biz, "quit_url", json_string(req->cancel_url));

    if (strcmp(channel, "qr") != 0) {
        /* Page and wap pay: the browser goes to the gateway with the signed parameters. */
        struct alipay_params ps = {.n = 0};
        struct pay_checkout_res res;
        struct sbuf url = {0};
        char *text = biz_text(biz);
        memset(&res, 0, sizeof res);
        if (text == NULL ||
            request_params(&app, method, text, req->notify_url, req->return_url, req->now_ms, &ps) != 0) {
            free(text);
            return checkout_now(done, arg, PAY_MISCONFIGURED, "sign_failed");
        }
        free(text);
        sbuf_puts(&url, "{\"url\":\"");
        sbuf_json_escape(&url, app.gateway);
        sbuf_puts(&url, strchr(app.gateway, '?') != NULL ? "&" : "?");
        params_encode(&ps, &url); /* percent-encoded: nothing to escape for JSON */
        sbuf_puts(&url, "\"}");
        alipay_params_free(&ps);
        if (url.len >= sizeof res.checkout) {
            sbuf_free(&url);
            return checkout_now(done, arg, PAY_MISCONFIGURED, "checkout_url_too_long");
        }
        memcpy(res.checkout, url.data, url.len + 1);
        sbuf_free(&url);
        done(arg, &res);
        return;
    }

    x = xcalloc(1, sizeof *x);
    x->nx = nx;
    x->op = OP_PRECREATE;
    x->app = app;
    x->done.checkout = done;
    x->arg = arg;
    snprintf(x->order_id, sizeof x->order_id, "%s", o->id);
    if (submit(x, method, biz_text(biz), req->notify_url, req->now_ms) != 0) {
        free(x);
        return checkout_now(done, arg, PAY_MISCONFIGURED, "sign_failed");
    }
}

static void alipay_query(struct net_exec *nx, const struct order *o, int64_t now_ms, pay_query_fn done,
                         void *arg)
{
    struct alipay_ctx *x;
    struct alipay_app app;
    struct pay_query_res res;

    memset(&res, 0, sizeof res);
    if (!app_get(&app, res.reason)) {
        res.rc = PAY_MISCONFIGURED;
        done(arg, &res);
        return;
    }
    if (!id_ok(o->id, TG_ID_MAX - 1)) { /* never an out_trade_no of ours */
        res.rc = PAY_NOTFOUND;
        set_reason(res.reason, "order_id_invalid");
        done(arg, &res);
        return;
    }
    x = xcalloc(1, sizeof *x);
    x->nx = nx;
    x->op = OP_QUERY;
    x->app = app;
    x->done.query = done;
    x->arg = arg;
    snprintf(x->order_id, sizeof x->order_id, "%s", o->id);
    if (submit(x, "alipay.trade.query", biz_text(json_pack("{s:s}", "out_trade_no", o->id)), NULL, now_ms) !=
        0) {
        free(x);
        res.rc = PAY_MISCONFIGURED;
        set_reason(res.reason, "sign_failed");
        done(arg, &res);
    }
}

static void alipay_refund(struct net_exec *nx, const struct pay_refund_req *req, pay_refund_fn done,
                          void *arg)
{
    const struct order *o = req->order;
    struct alipay_ctx *x;
    struct alipay_app app;
    struct pay_refund_res res;
    char amount[32];
    json_t *biz;

    memset(&res, 0, sizeof res);
    res.rc = PAY_INVALID;
    if (!app_get(&app, res.reason)) {
        res.rc = PAY_MISCONFIGURED;
    } else if (strcmp(o->currency, "CNY") != 0) {
        set_reason(res.reason, "currency_not_cny");
    } else if (req->amount <= 0 || money_format(req->amount, "CNY", amount, sizeof amount) < 0) {
        set_reason(res.reason, "amount_invalid");
    } else if (!id_ok(o->id, TG_ID_MAX - 1) || !id_ok(req->refund_id, 64)) {
        set_reason(res.reason, "id_invalid");
    } else if (req->reason != NULL && strlen(req->reason) > ALIPAY_REASON_MAX) {
        set_reason(res.reason, "reason_too_long");
    } else {
        res.rc = PAY_OK;
    }
    if (res.rc != PAY_OK) {
        done(arg, &res);
        return;
    }
    biz = json_pack("{s:s, s:s, s:s}", "out_trade_no", o->id, "refund_amount", amount, "out_request_no",
                    req->refund_id);
    if (biz != NULL && req->reason != NULL && req->reason[0] != '\0')
        json_object_set_new(biz, "refund_reason", json_string(req->reason)); /* NULL (not UTF-8): left out */

    x = xcalloc(1, sizeof *x);
    x->nx = nx;
    x->op = OP_REFUND;
    x->app = app;
    x->done.refund = done;
    x->arg = arg;
    x->amount = req->amount;
    snprintf(x->order_id, sizeof x->order_id, "%s", o->id);
    snprintf(x->refund_id, sizeof x->refund_id, "%s", req->refund_id);
    if (submit(x, "alipay.trade.refund", biz_text(biz), NULL, time_now_ms()) != 0) {
        free(x);
        res.rc = PAY_MISCONFIGURED;
        set_reason(res.reason, "sign_failed");
        done(arg, &res);
    }
}

static void alipay_verify(struct net_exec *nx, const struct pay_webhook_req *req, pay_webhook_fn done,
                          void *arg)
{
    struct alipay_app app;
    struct pay_webhook_res res;
    struct alipay_ctx *x;

    memset(&res, 0, sizeof res);
    if (!app_get(&app, res.reason)) {
        res.rc = PAY_MISCONFIGURED; /* 503: Alipay delivers it again once the keys are fixed */
        log_event(LOG_ERROR, "alipay_webhook_unverifiable", "reason", res.reason, NULL);
        done(arg, &res);
        return;
    }
    alipay_notify_check(req->body, req->len, app.pub, app.app_id, &res);
    if (res.rc != PAY_OK || res.ev.kind != PAY_EVENT_REFUND) {
        done(arg, &res);
        return;
    }
    /* A refund notification: how much did this refund return? */
    x = xcalloc(1, sizeof *x);
    x->nx = nx;
    x->op = OP_NOTIFY_REFUND;
    x->app = app;
    x->done.webhook = done;
    x->arg = arg;
    x->webhook = res;
    snprintf(x->order_id, sizeof x->order_id, "%s", res.ev.order_id);
    /* out_biz_no: what follows "<trade_no>:" in provider_refund_id (bounded to 64 above). */
    snprintf(x->refund_id, sizeof x->refund_id, "%s", strchr(res.ev.provider_refund_id, ':') + 1);
    if (submit_refund_query(x) != 0) {
        free(x);
        memset(&res, 0, sizeof res);
        res.rc = PAY_MISCONFIGURED;
        set_reason(res.reason, "sign_failed");
        done(arg, &res);
    }
}

const struct pay_provider pay_alipay = {
    .name = "alipay",
    .configured = alipay_configured,
    .preload = alipay_pay_load_keys,
    .checkout = alipay_checkout,
    .verify_webhook = alipay_verify,
    .query = alipay_query,
    .refund = alipay_refund,
    /* Alipay reads exactly "success"; anything else is a failure it retries. */
    .ack_type = "text/plain",
    .ack_body = "success",
    .fail_type = "text/plain",
    .fail_body = "fail",
};
