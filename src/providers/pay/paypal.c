/*
 * paypal.c - the PayPal payment provider (paypal.h; wire formats in PROVIDERS.md section 4).
 *
 * Every operation is a short chain of calls through net.h on the caller's loop:
 *
 *   [token: POST /v1/oauth2/token, when the cache has none] -> the API call
 *     -> 401? forget that token, fetch a new one, send the call once more
 *     -> the operation's next step (query: capture an APPROVED order; refund: GET the
 *        order for its capture id, then refund it) -> done()
 *
 * Every API call is safe to send twice: GETs, the signature verification (it changes
 * nothing), and POSTs carrying a PayPal-Request-Id, which PayPal answers with the first
 * result when it sees the id again. So each is marked idempotent and net.h retries it once
 * on a timeout, a connection failure, 429 or 5xx.
 *
 * The token cache is the only state shared between loops: its mutex is held to copy a token
 * in or out, never across a call. Two loops that miss at once each fetch a token; the last
 * one installed wins, and both are valid.
 */
#include "providers/pay/paypal.h"

#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <sodium.h>

#include "core/config.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/money.h"
#include "core/timeutil.h"
#include "core/utf8.h"
#include "crypto/encode.h"
#include "crypto/hash.h"
#include "net/net.h"

/* Per attempt; with one retry a dead PayPal costs the caller about 2 x 8 s at most. */
#define PAYPAL_CALL_TIMEOUT_MS 8000
#define PAYPAL_CALL_RETRIES 1
/* A token is used until this long before PayPal says it expires (it says 32400 s). */
#define PAYPAL_TOKEN_MARGIN_S 60
/* Longest a token is kept, whatever expires_in says. */
#define PAYPAL_TOKEN_TTL_MAX_S 86400

/* ---- small helpers --------------------------------------------------------------------- */

/* 1 when s (n bytes) is 1..max characters of [A-Za-z0-9_-.]: PayPal's ids (order, capture,
 * refund, event "WH-..."), ours ("ord_..."), transmission ids (uuids). */
static int id_ok(const char *s, size_t n, size_t max)
{
    if (s == NULL || n == 0 || n > max)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '-' || c == '.'))
            return 0;
    }
    return 1;
}

static void set_reason(char reason[64], const char *why)
{
    snprintf(reason, 64, "%s", why);
}

/* The string member key of j when it is a string without NUL bytes, else NULL. */
static const char *jstr(json_t *j, const char *key)
{
    json_t *v = json_object_get(j, key);
    if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
        return NULL;
    return json_string_value(v);
}

/* Copies an id member into out (room for max + 1) when present and well-formed. Returns 1
 * when copied, 0 when absent, -1 when present but not an id of at most max characters. */
static int jid(json_t *j, const char *key, char *out, size_t max)
{
    json_t *v = json_object_get(j, key);
    const char *s;
    out[0] = '\0';
    if (v == NULL || json_is_null(v))
        return 0;
    s = jstr(j, key);
    if (s == NULL || !id_ok(s, strlen(s), max))
        return -1;
    memcpy(out, s, strlen(s) + 1);
    return 1;
}

static int currency_ok(const char *c)
{
    return c != NULL && strlen(c) == 3 && c[0] >= 'A' && c[0] <= 'Z' && c[1] >= 'A' && c[1] <= 'Z' &&
           c[2] >= 'A' && c[2] <= 'Z';
}

/* Reads {"currency_code":"USD","value":"9.90"}. Returns 0, or -1 when malformed. */
static int amount_get(json_t *a, int64_t *amount, char currency[4])
{
    const char *cur, *val;
    int64_t v;
    if (!json_is_object(a))
        return -1;
    cur = jstr(a, "currency_code");
    val = jstr(a, "value");
    if (!currency_ok(cur) || val == NULL || money_parse(val, strlen(val), cur, &v) != 0)
        return -1;
    *amount = v;
    memcpy(currency, cur, 4);
    return 0;
}

/* Appends s cut to at most max bytes at a character boundary, JSON-escaped. */
static void json_cut(struct sbuf *b, const char *s, size_t max)
{
    size_t n = strlen(s), o = 0, k;
    uint32_t cp;
    char *copy;
    while (o < n) {
        k = utf8_next((const unsigned char *)s + o, n - o, &cp);
        if (k == 0)
            k = 1; /* invalid byte: the escaper writes U+FFFD for it */
        if (o + k > max)
            break;
        o += k;
    }
    copy = xstrndup(s, o);
    sbuf_json_escape(b, copy);
    free(copy);
}

/* ---- notifications (pure) -------------------------------------------------------------- */

/* 1 when s is printable ASCII from the set accept (plus alphanumerics), 1..max long. */
static int hdr_ok(const char *s, size_t max, const char *accept)
{
    size_t n;
    if (s == NULL)
        return 0;
    n = strlen(s);
    if (n == 0 || n > max)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              (c != '\0' && strchr(accept, c) != NULL)))
            return 0;
    }
    return 1;
}

/* https://paypal.com/... or https://<sub>.paypal.com/... (PayPal's certificates live on
 * api.paypal.com and api.sandbox.paypal.com). The host is compared case-insensitively. The
 * caller allows no '@', '#', '\\' or brackets anywhere, so that no URL parser can read
 * another host out of it. */
static int cert_url_ok(const char *u)
{
    static const char scheme[] = "https://", suffix[] = "paypal.com";
    const char *host, *end;
    size_t hn, sn = sizeof suffix - 1;
    if (strncmp(u, scheme, sizeof scheme - 1) != 0)
        return 0;
    host = u + sizeof scheme - 1;
    end = host + strcspn(host, "/?#");
    if (*end != '/') /* a path is required; no userinfo, port or query before it */
        return 0;
    hn = (size_t)(end - host);
    if (memchr(host, '@', hn) != NULL || memchr(host, ':', hn) != NULL || hn < sn)
        return 0;
    if (strncasecmp(end - sn, suffix, sn) != 0)
        return 0;
    return hn == sn || end[-(long)sn - 1] == '.';
}

int paypal_transmission_get(const struct pay_webhook_req *req, struct paypal_transmission *t, char reason[64])
{
    const char *id = req->header(req->hctx, "paypal-transmission-id");
    const char *tm = req->header(req->hctx, "paypal-transmission-time");
    const char *sig = req->header(req->hctx, "paypal-transmission-sig");
    const char *cert = req->header(req->hctx, "paypal-cert-url");
    const char *algo = req->header(req->hctx, "paypal-auth-algo");
    int64_t at;

    memset(t, 0, sizeof *t);
    if (id == NULL || tm == NULL || sig == NULL || cert == NULL || algo == NULL) {
        set_reason(reason, "transmission_headers_missing");
        return -1;
    }
    if (!hdr_ok(id, PAYPAL_TRANSMISSION_ID_MAX, "-_") ||
        !hdr_ok(tm, PAYPAL_TRANSMISSION_TIME_MAX, "-:.+TZtz") ||
        !hdr_ok(sig, PAYPAL_TRANSMISSION_SIG_MAX, "+/=") ||
        !hdr_ok(cert, PAYPAL_CERT_URL_MAX, "-._~:/?=&%") || strcmp(algo, "SHA256withRSA") != 0) {
        set_reason(reason, "transmission_header_malformed");
        return -1;
    }
    if (!cert_url_ok(cert)) {
        set_reason(reason, "cert_url_not_paypal");
        return -1;
    }
    if (time_parse_rfc3339(tm, strlen(tm), &at) != 0) {
        set_reason(reason, "transmission_header_malformed");
        return -1;
    }
    if (at < req->now_ms - (int64_t)PAYPAL_TOLERANCE_S * 1000 ||
        at > req->now_ms + (int64_t)PAYPAL_TOLERANCE_S * 1000) {
        set_reason(reason, "timestamp_out_of_tolerance");
        return -1;
    }
    snprintf(t->id, sizeof t->id, "%s", id);
    snprintf(t->time, sizeof t->time, "%s", tm);
    snprintf(t->sig, sizeof t->sig, "%s", sig);
    snprintf(t->cert_url, sizeof t->cert_url, "%s", cert);
    snprintf(t->auth_algo, sizeof t->auth_algo, "%s", algo);
    reason[0] = '\0';
    return 0;
}

char *paypal_verify_body(const struct paypal_transmission *t, const char *webhook_id, const char *event,
                         size_t len)
{
    struct sbuf b = {0};
    sbuf_puts(&b, "{\"auth_algo\":\"");
    sbuf_json_escape(&b, t->auth_algo);
    sbuf_puts(&b, "\",\"cert_url\":\"");
    sbuf_json_escape(&b, t->cert_url);
    sbuf_puts(&b, "\",\"transmission_id\":\"");
    sbuf_json_escape(&b, t->id);
    sbuf_puts(&b, "\",\"transmission_sig\":\"");
    sbuf_json_escape(&b, t->sig);
    sbuf_puts(&b, "\",\"transmission_time\":\"");
    sbuf_json_escape(&b, t->time);
    sbuf_puts(&b, "\",\"webhook_id\":\"");
    sbuf_json_escape(&b, webhook_id);
    /* PayPal checks its signature over CRC32 of the bytes it sent: any re-serialisation
     * (key order, spacing, escapes, number forms) would make it fail. */
    sbuf_puts(&b, "\",\"webhook_event\":");
    sbuf_append(&b, event, len);
    sbuf_puts(&b, "}");
    return b.data;
}

int paypal_verify_status(const char *body, size_t len)
{
    json_t *j;
    const char *st;
    int rc;
    if (body == NULL || len == 0)
        return -1;
    j = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
    st = json_is_object(j) ? jstr(j, "verification_status") : NULL;
    rc = st == NULL ? -1 : strcmp(st, "SUCCESS") == 0 ? 1 : 0;
    json_decref(j);
    return rc;
}

static void ev_invalid(struct pay_webhook_res *res, const char *why)
{
    memset(&res->ev, 0, sizeof res->ev);
    res->rc = PAY_INVALID;
    set_reason(res->reason, why);
}

static void ev_ignored(struct pay_webhook_res *res, const char *why)
{
    memset(&res->ev, 0, sizeof res->ev);
    res->rc = PAY_IGNORED;
    set_reason(res->reason, why);
}

void paypal_parse_event(const char *body, size_t len, struct pay_webhook_res *res)
{
    json_t *j, *r, *rel;
    const char *id, *type, *status;
    struct pay_event *ev = &res->ev;
    int is_paid, is_denied, is_refund, has_order, has_ref;

    memset(res, 0, sizeof *res);
    j = body != NULL && len > 0 && len <= PAYPAL_EVENT_MAX
            ? json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL)
            : NULL;
    if (!json_is_object(j)) {
        json_decref(j);
        return ev_invalid(res, "body_malformed");
    }
    id = jstr(j, "id");
    type = jstr(j, "event_type");
    r = json_object_get(j, "resource");
    if (id == NULL || !id_ok(id, strlen(id), sizeof ev->event_id - 1) || type == NULL || type[0] == '\0' ||
        strlen(type) >= sizeof ev->type) {
        json_decref(j);
        return ev_invalid(res, "body_malformed");
    }
    is_paid = strcmp(type, "PAYMENT.CAPTURE.COMPLETED") == 0;
    is_denied = strcmp(type, "PAYMENT.CAPTURE.DENIED") == 0;
    is_refund = strcmp(type, "PAYMENT.CAPTURE.REFUNDED") == 0;
    if (!is_paid && !is_denied && !is_refund) {
        /* CHECKOUT.ORDER.APPROVED included: the capture happens on the buyer's return or in
         * the pending-order job, and its own PAYMENT.CAPTURE.COMPLETED follows. */
        json_decref(j);
        return ev_ignored(res, "event_type_not_handled");
    }
    if (!json_is_object(r)) {
        json_decref(j);
        return ev_invalid(res, "body_malformed");
    }
    status = jstr(r, "status");
    snprintf(ev->event_id, sizeof ev->event_id, "%s", id);
    snprintf(ev->type, sizeof ev->type, "%s", type);

    if (is_refund) {
        /* A refund: id is PayPal's refund id; custom_id ours (set by paypal_refund_body),
         * invoice_id our order id. A refund made in PayPal's dashboard carries neither. */
        if (jid(r, "id", ev->provider_refund_id, sizeof ev->provider_refund_id - 1) != 1 ||
            jid(r, "custom_id", ev->refund_id, sizeof ev->refund_id - 1) < 0 ||
            jid(r, "invoice_id", ev->order_id, sizeof ev->order_id - 1) < 0 ||
            amount_get(json_object_get(r, "amount"), &ev->amount, ev->currency) != 0 || ev->amount <= 0) {
            json_decref(j);
            return ev_invalid(res, "body_malformed");
        }
        if (status != NULL && strcmp(status, "COMPLETED") != 0) {
            json_decref(j);
            return ev_ignored(res, "refund_not_completed");
        }
        ev->kind = PAY_EVENT_REFUND;
        json_decref(j);
        res->rc = PAY_OK;
        return;
    }

    /* A capture: custom_id is our order id, related_ids.order_id PayPal's. */
    rel = json_object_get(json_object_get(r, "supplementary_data"), "related_ids");
    has_order = jid(r, "custom_id", ev->order_id, sizeof ev->order_id - 1);
    has_ref = json_is_object(rel) ? jid(rel, "order_id", ev->provider_ref, sizeof ev->provider_ref - 1) : 0;
    if (has_order < 0 || has_ref < 0) {
        json_decref(j);
        return ev_invalid(res, "body_malformed");
    }
    if (!has_order && !has_ref) {
        json_decref(j);
        return ev_ignored(res, "no_order_reference"); /* not a payment of ours */
    }
    if (is_paid) {
        if (amount_get(json_object_get(r, "amount"), &ev->amount, ev->currency) != 0 || ev->amount <= 0) {
            json_decref(j);
            return ev_invalid(res, "amount_malformed");
        }
        if (status == NULL || strcmp(status, "COMPLETED") != 0) {
            json_decref(j);
            return ev_invalid(res, "capture_not_completed");
        }
        ev->kind = PAY_EVENT_PAID;
    } else {
        if (amount_get(json_object_get(r, "amount"), &ev->amount, ev->currency) != 0) {
            ev->amount = 0;
            ev->currency[0] = '\0';
        }
        ev->kind = PAY_EVENT_FAILED;
    }
    json_decref(j);
    res->rc = PAY_OK;
}

/* ---- checkout, query and refund bodies and answers (pure) ------------------------------- */

char *paypal_order_body(const struct pay_checkout_req *req, char reason[64])
{
    const struct order *o = req->order;
    char value[32];
    struct sbuf b = {0};
    const char *ret = req->return_url, *cancel = req->cancel_url;

    if (!id_ok(o->id, strlen(o->id), 127)) {
        set_reason(reason, "order_id_malformed");
        return NULL;
    }
    if (!currency_ok(o->currency) || o->amount <= 0 ||
        money_format(o->amount, o->currency, value, sizeof value) < 0) {
        set_reason(reason, "amount_malformed");
        return NULL;
    }
    if (ret == NULL || ret[0] == '\0') {
        set_reason(reason, "return_url_missing");
        return NULL;
    }
    if (cancel == NULL || cancel[0] == '\0')
        cancel = ret;
    sbuf_puts(&b, "{\"intent\":\"CAPTURE\",\"purchase_units\":[{\"reference_id\":\"");
    sbuf_puts(&b, o->id);
    sbuf_puts(&b, "\",\"custom_id\":\"");
    sbuf_puts(&b, o->id);
    sbuf_puts(&b, "\",\"invoice_id\":\"");
    sbuf_puts(&b, o->id);
    sbuf_puts(&b, "\",");
    if (req->description != NULL && req->description[0] != '\0') {
        sbuf_puts(&b, "\"description\":\"");
        json_cut(&b, req->description, PAYPAL_DESCRIPTION_MAX);
        sbuf_puts(&b, "\",");
    }
    sbuf_printf(&b, "\"amount\":{\"currency_code\":\"%s\",\"value\":\"%s\"}}],", o->currency, value);
    sbuf_puts(&b, "\"payment_source\":{\"paypal\":{\"experience_context\":{\"return_url\":\"");
    sbuf_json_escape(&b, ret);
    sbuf_puts(&b, "\",\"cancel_url\":\"");
    sbuf_json_escape(&b, cancel);
    /* No email_address: PayPal refuses the whole order (422) for an address it does not
     * like, and the buyer signs in at PayPal anyway. */
    sbuf_puts(&b, "\",\"user_action\":\"PAY_NOW\",\"shipping_preference\":\"NO_SHIPPING\"}}}}");
    return b.data;
}

void paypal_parse_created(const char *body, size_t len, struct pay_checkout_res *res)
{
    json_t *j, *links, *l, *u;
    const char *id, *href = NULL;
    size_t i;
    char *out;

    memset(res, 0, sizeof *res);
    j = body != NULL && len > 0 ? json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL) : NULL;
    id = json_is_object(j) ? jstr(j, "id") : NULL;
    if (id == NULL || !id_ok(id, strlen(id), TG_PROVIDER_REF_MAX - 1)) {
        json_decref(j);
        res->rc = PAY_UNAVAILABLE;
        set_reason(res->reason, "bad_answer");
        return;
    }
    links = json_object_get(j, "links");
    json_array_foreach(links, i, l)
    {
        const char *rel = jstr(l, "rel");
        /* "payer-action" with payment_source.paypal.experience_context, "approve" with the
         * legacy application_context (PROVIDERS.md 4.2). */
        if (rel != NULL && (strcmp(rel, "payer-action") == 0 || strcmp(rel, "approve") == 0)) {
            href = jstr(l, "href");
            break;
        }
    }
    if (href == NULL || strlen(href) > PAYPAL_LINK_MAX ||
        (strncmp(href, "https://", 8) != 0 && strncmp(href, "http://", 7) != 0) ||
        !hdr_ok(href, PAYPAL_LINK_MAX, "-._~:/?#[]@!$&'()*+,;=%")) {
        json_decref(j);
        res->rc = PAY_UNAVAILABLE;
        set_reason(res->reason, "bad_answer");
        return;
    }
    u = json_pack("{s:s}", "url", href);
    out = u != NULL ? json_dumps(u, JSON_COMPACT) : NULL;
    json_decref(u);
    if (out == NULL || strlen(out) >= sizeof res->checkout) {
        free(out);
        json_decref(j);
        res->rc = PAY_UNAVAILABLE;
        set_reason(res->reason, "bad_answer");
        return;
    }
    snprintf(res->checkout, sizeof res->checkout, "%s", out);
    snprintf(res->provider_ref, sizeof res->provider_ref, "%s", id);
    free(out);
    json_decref(j);
    res->rc = PAY_OK;
}

static void q_unavailable(struct pay_query_res *res, const char *why)
{
    memset(res, 0, sizeof *res);
    res->rc = PAY_UNAVAILABLE;
    set_reason(res->reason, why);
}

void paypal_parse_order(const char *body, size_t len, const struct order *o, struct pay_query_res *res,
                        char status[32], char capture_id[TG_PROVIDER_REF_MAX])
{
    json_t *j, *units, *pu, *caps, *cap, *done_cap = NULL;
    const char *id, *st, *custom;
    size_t i;
    int pending = 0, declined = 0;

    memset(res, 0, sizeof *res);
    status[0] = '\0';
    capture_id[0] = '\0';
    j = body != NULL && len > 0 ? json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL) : NULL;
    id = json_is_object(j) ? jstr(j, "id") : NULL;
    st = json_is_object(j) ? jstr(j, "status") : NULL;
    if (id == NULL || st == NULL || strlen(st) >= 32) {
        json_decref(j);
        return q_unavailable(res, "bad_answer");
    }
    /* The answer must be about the order we asked for, made for our order. */
    if (strcmp(id, o->provider_ref) != 0) {
        json_decref(j);
        return q_unavailable(res, "order_mismatch");
    }
    units = json_object_get(j, "purchase_units");
    pu = json_array_get(units, 0);
    custom = json_is_object(pu) ? jstr(pu, "custom_id") : NULL;
    if (custom != NULL && strcmp(custom, o->id) != 0) {
        json_decref(j);
        return q_unavailable(res, "order_mismatch");
    }
    snprintf(status, 32, "%s", st);
    caps = json_is_object(pu) ? json_object_get(json_object_get(pu, "payments"), "captures") : NULL;
    json_array_foreach(caps, i, cap)
    {
        const char *cs = jstr(cap, "status"), *cc = jstr(cap, "custom_id");
        if (cs == NULL || (cc != NULL && strcmp(cc, o->id) != 0))
            continue;
        /* A refunded capture was paid first: the refund is its own event. */
        if (strcmp(cs, "COMPLETED") == 0 || strcmp(cs, "PARTIALLY_REFUNDED") == 0 ||
            strcmp(cs, "REFUNDED") == 0) {
            if (done_cap == NULL)
                done_cap = cap;
        } else if (strcmp(cs, "PENDING") == 0) {
            pending = 1;
        } else if (strcmp(cs, "DECLINED") == 0 || strcmp(cs, "FAILED") == 0) {
            declined = 1;
        }
    }
    if (done_cap != NULL) {
        struct pay_event *ev = &res->ev;
        char cid[TG_PROVIDER_REF_MAX - 6]; /* room for "query:" before it */
        if (jid(done_cap, "id", cid, sizeof cid - 1) != 1 ||
            amount_get(json_object_get(done_cap, "amount"), &ev->amount, ev->currency) != 0 ||
            ev->amount <= 0) {
            json_decref(j);
            status[0] = '\0';
            return q_unavailable(res, "bad_answer");
        }
        ev->kind = PAY_EVENT_PAID;
        snprintf(ev->event_id, sizeof ev->event_id, "query:%s", cid);
        snprintf(ev->type, sizeof ev->type, "%s", "PAYMENT.CAPTURE.COMPLETED");
        snprintf(ev->order_id, sizeof ev->order_id, "%s", o->id);
        snprintf(ev->provider_ref, sizeof ev->provider_ref, "%s", id);
        snprintf(capture_id, TG_PROVIDER_REF_MAX, "%s", cid);
        res->state = PAY_STATE_PAID;
    } else if (strcmp(st, "VOIDED") == 0 || (strcmp(st, "COMPLETED") == 0 && declined && !pending)) {
        res->state = PAY_STATE_CLOSED;
    } else {
        /* CREATED, SAVED, PAYER_ACTION_REQUIRED, APPROVED (the caller captures), or a
         * capture still PENDING at PayPal. */
        res->state = PAY_STATE_PENDING;
    }
    json_decref(j);
    res->rc = PAY_OK;
}

char *paypal_refund_body(const struct pay_refund_req *req, char reason[64])
{
    const struct order *o = req->order;
    char value[32];
    struct sbuf b = {0};

    if (!currency_ok(o->currency) || req->amount <= 0 ||
        money_format(req->amount, o->currency, value, sizeof value) < 0) {
        set_reason(reason, "amount_malformed");
        return NULL;
    }
    if (req->refund_id == NULL || !id_ok(req->refund_id, strlen(req->refund_id), 127) ||
        !id_ok(o->id, strlen(o->id), 127)) {
        set_reason(reason, "id_malformed");
        return NULL;
    }
    sbuf_printf(&b, "{\"amount\":{\"value\":\"%s\",\"currency_code\":\"%s\"},", value, o->currency);
    sbuf_printf(&b, "\"custom_id\":\"%s\",\"invoice_id\":\"%s\"", req->refund_id, o->id);
    if (req->reason != NULL && req->reason[0] != '\0') {
        sbuf_puts(&b, ",\"note_to_payer\":\"");
        json_cut(&b, req->reason, PAYPAL_NOTE_MAX);
        sbuf_puts(&b, "\"");
    }
    sbuf_puts(&b, "}");
    return b.data;
}

void paypal_parse_refund(const char *body, size_t len, struct pay_refund_res *res)
{
    json_t *j;
    const char *st;

    memset(res, 0, sizeof *res);
    j = body != NULL && len > 0 ? json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL) : NULL;
    st = json_is_object(j) ? jstr(j, "status") : NULL;
    if (st == NULL || jid(j, "id", res->provider_refund_id, sizeof res->provider_refund_id - 1) != 1) {
        json_decref(j);
        memset(res, 0, sizeof *res);
        res->rc = PAY_UNAVAILABLE;
        set_reason(res->reason, "bad_answer");
        return;
    }
    if (strcmp(st, "COMPLETED") == 0) {
        res->rc = PAY_OK;
    } else if (strcmp(st, "PENDING") == 0) {
        res->rc = PAY_OK;
        res->pending = 1; /* PAYMENT.CAPTURE.REFUNDED confirms it */
    } else if (strcmp(st, "FAILED") == 0 || strcmp(st, "CANCELLED") == 0) {
        res->rc = PAY_DECLINED;
        snprintf(res->reason, sizeof res->reason, "refund_%s",
                 strcmp(st, "FAILED") == 0 ? "failed" : "cancelled");
    } else {
        memset(res, 0, sizeof *res);
        res->rc = PAY_UNAVAILABLE;
        set_reason(res->reason, "bad_answer");
    }
    json_decref(j);
}

int paypal_parse_token(const char *body, size_t len, char tok[PAYPAL_TOKEN_MAX + 1], int64_t *expires_in)
{
    json_t *j, *ei;
    const char *t, *type;
    int rc = -1;

    tok[0] = '\0';
    j = body != NULL && len > 0 ? json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL) : NULL;
    if (!json_is_object(j))
        goto cleanup;
    t = jstr(j, "access_token");
    type = jstr(j, "token_type");
    ei = json_object_get(j, "expires_in");
    /* A token goes into a header: printable ASCII without blanks. */
    if (t == NULL || !hdr_ok(t, PAYPAL_TOKEN_MAX, "-._~+/=!#$%&'*^`|") || type == NULL ||
        strcasecmp(type, "Bearer") != 0 || !json_is_integer(ei) || json_integer_value(ei) <= 0)
        goto cleanup;
    memcpy(tok, t, strlen(t) + 1);
    *expires_in = json_integer_value(ei);
    rc = 0;
cleanup:
    json_decref(j); /* jansson's strings are freed without wiping: tokens live 9 hours anyway */
    return rc;
}

void paypal_error_issue(const char *body, size_t len, char issue[64])
{
    json_t *j = body != NULL && len > 0 ? json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL) : NULL;
    json_t *d0 = json_array_get(json_object_get(j, "details"), 0);
    const char *s = json_is_object(d0) ? jstr(d0, "issue") : NULL;
    issue[0] = '\0';
    if (s != NULL && hdr_ok(s, 63, "_-."))
        snprintf(issue, 64, "%s", s);
    json_decref(j);
}

/* ---- the token cache ------------------------------------------------------------------- */

static struct {
    pthread_mutex_t mu;
    unsigned char who[32]; /* SHA-256 of the API base and credentials the token was made for */
    char token[PAYPAL_TOKEN_MAX + 1];
    int64_t expires_ms; /* monotonic */
} tokens = {PTHREAD_MUTEX_INITIALIZER, {0}, {0}, 0};

static int64_t mono_ms(void)
{
    return time_mono_ns() / 1000000;
}

/* Which credentials a token belongs to: a change of configuration (tests) never reuses one. */
static void cred_key(unsigned char out[32])
{
    struct sbuf b = {0};
    sbuf_puts(&b, config_get("TG_PAYPAL_API_BASE"));
    sbuf_append(&b, "\n", 1);
    sbuf_puts(&b, config_get("TG_PAYPAL_CLIENT_ID"));
    sbuf_append(&b, "\n", 1);
    sbuf_puts(&b, config_get("TG_PAYPAL_CLIENT_SECRET"));
    sha256(b.data, b.len, out);
    sodium_memzero(b.data, b.len);
    sbuf_free(&b);
}

static int token_lookup(const unsigned char who[32], char out[PAYPAL_TOKEN_MAX + 1])
{
    int hit;
    pthread_mutex_lock(&tokens.mu);
    hit = tokens.token[0] != '\0' && tokens.expires_ms > mono_ms() && memcmp(tokens.who, who, 32) == 0;
    if (hit)
        memcpy(out, tokens.token, sizeof tokens.token);
    pthread_mutex_unlock(&tokens.mu);
    return hit;
}

static void token_install(const unsigned char who[32], const char *tok, int64_t expires_in)
{
    int64_t ttl = expires_in > PAYPAL_TOKEN_TTL_MAX_S ? PAYPAL_TOKEN_TTL_MAX_S : expires_in;
    ttl = ttl > 2 * PAYPAL_TOKEN_MARGIN_S ? ttl - PAYPAL_TOKEN_MARGIN_S : ttl / 2;
    pthread_mutex_lock(&tokens.mu);
    memcpy(tokens.who, who, 32);
    snprintf(tokens.token, sizeof tokens.token, "%s", tok);
    tokens.expires_ms = mono_ms() + ttl * 1000;
    pthread_mutex_unlock(&tokens.mu);
}

/* Forgets tok if it is still the cached one (another loop may have installed a new one). */
static void token_forget(const char *tok)
{
    pthread_mutex_lock(&tokens.mu);
    if (strcmp(tokens.token, tok) == 0) {
        sodium_memzero(tokens.token, sizeof tokens.token);
        tokens.expires_ms = 0;
    }
    pthread_mutex_unlock(&tokens.mu);
}

void paypal_token_reset(void)
{
    pthread_mutex_lock(&tokens.mu);
    sodium_memzero(tokens.token, sizeof tokens.token);
    tokens.expires_ms = 0;
    pthread_mutex_unlock(&tokens.mu);
}

/* ---- operations over the network ------------------------------------------------------- */

enum op_kind { OP_CHECKOUT, OP_QUERY, OP_REFUND, OP_VERIFY };

struct pp_op;
typedef void (*op_next_fn)(struct pp_op *op, struct net_call *c);

struct pp_op {
    struct net_call call;
    struct net_exec *nx;
    enum op_kind kind;
    unsigned char who[32];
    char token[PAYPAL_TOKEN_MAX + 1]; /* the token the current request carries */
    /* the API request in progress, kept to send it again with a new token */
    char method[8];
    char *path;
    char *body;
    char request_id[TG_REF_MAX + 8];
    int refreshed; /* this request already fetched a new token after a 401 */
    op_next_fn next;
    const char *stage; /* for the log line: "token", "create", "get", "capture", ... */
    /* what the operation is about */
    struct order order;
    char refund_id[TG_ID_MAX];
    char *refund_body;
    int regot;   /* query: the order was read again after ORDER_ALREADY_CAPTURED */
    char *event; /* verify: our copy of the raw notification */
    size_t event_len;
    /* results and where they go */
    struct pay_checkout_res cres;
    struct pay_query_res qres;
    struct pay_refund_res rres;
    struct pay_webhook_res wres;
    pay_checkout_fn checkout_done;
    pay_query_fn query_done;
    pay_refund_fn refund_done;
    pay_webhook_fn webhook_done;
    void *arg;
};

static struct pp_op *op_of(struct net_call *c)
{
    return (struct pp_op *)(void *)((char *)c - offsetof(struct pp_op, call));
}

/* Zeroes what a call carried (the Basic or Bearer header, a token answer) and frees it. */
static void call_wipe(struct net_call *c)
{
    for (size_t i = 0; i < c->n_headers; i++)
        if (c->headers[i] != NULL)
            sodium_memzero(c->headers[i], strlen(c->headers[i]));
    if (c->body != NULL)
        sodium_memzero(c->body, c->body_len);
    if (c->resp_body != NULL)
        sodium_memzero(c->resp_body, c->resp_len);
    net_call_release(c);
}

static const char *kind_name(enum op_kind k)
{
    switch (k) {
    case OP_CHECKOUT:
        return "checkout";
    case OP_QUERY:
        return "query";
    case OP_REFUND:
        return "refund";
    case OP_VERIFY:
        return "verify_webhook";
    }
    return "?";
}

/* Completes the operation: logs a failure at a level that says who must act, calls done()
 * and frees op. */
static void op_finish(struct pp_op *op)
{
    enum pay_rc rc;
    const char *reason;
    switch (op->kind) {
    case OP_CHECKOUT:
        rc = op->cres.rc, reason = op->cres.reason;
        break;
    case OP_QUERY:
        rc = op->qres.rc, reason = op->qres.reason;
        break;
    case OP_REFUND:
        rc = op->rres.rc, reason = op->rres.reason;
        break;
    default:
        rc = op->wres.rc, reason = op->wres.reason;
        break;
    }
    if (rc != PAY_OK && rc != PAY_IGNORED)
        log_event(rc == PAY_MISCONFIGURED ? LOG_ERROR
                  : rc == PAY_UNAVAILABLE ? LOG_WARN
                                          : LOG_INFO,
                  "paypal_call", "operation", kind_name(op->kind), "stage", op->stage, "order_id",
                  op->order.id[0] ? op->order.id : NULL, "outcome", pay_rc_name(rc), "reason", reason, NULL);
    switch (op->kind) {
    case OP_CHECKOUT:
        op->checkout_done(op->arg, &op->cres);
        break;
    case OP_QUERY:
        op->query_done(op->arg, &op->qres);
        break;
    case OP_REFUND:
        op->refund_done(op->arg, &op->rres);
        break;
    case OP_VERIFY:
        op->webhook_done(op->arg, &op->wres);
        break;
    }
    sodium_memzero(op->token, sizeof op->token);
    free(op->path);
    free(op->body);
    free(op->refund_body);
    free(op->event);
    free(op);
}

static void op_fail(struct pp_op *op, enum pay_rc rc, const char *reason)
{
    switch (op->kind) {
    case OP_CHECKOUT:
        memset(&op->cres, 0, sizeof op->cres);
        op->cres.rc = rc;
        set_reason(op->cres.reason, reason);
        break;
    case OP_QUERY:
        memset(&op->qres, 0, sizeof op->qres);
        op->qres.rc = rc;
        set_reason(op->qres.reason, reason);
        break;
    case OP_REFUND:
        memset(&op->rres, 0, sizeof op->rres);
        op->rres.rc = rc;
        set_reason(op->rres.reason, reason);
        break;
    case OP_VERIFY:
        memset(&op->wres, 0, sizeof op->wres);
        op->wres.rc = rc;
        set_reason(op->wres.reason, reason);
        break;
    }
    op_finish(op);
}

/* What a finished call says before its body is read: PAY_OK for a 2xx answer, else the
 * outcome and its reason. 404 is PAY_NOTFOUND and 400/422 PAY_INVALID; callers refine. */
static enum pay_rc answer_rc(const struct net_call *c, char reason[64])
{
    if (c->err != NET_OK) {
        snprintf(reason, 64, "%s", c->err == NET_TOO_LARGE ? "bad_answer" : net_err_name(c->err));
        return PAY_UNAVAILABLE;
    }
    if (c->status >= 200 && c->status <= 299) {
        reason[0] = '\0';
        return PAY_OK;
    }
    snprintf(reason, 64, "http_%ld", c->status);
    if (c->status == 401 || c->status == 403)
        return PAY_MISCONFIGURED;
    if (c->status == 404)
        return PAY_NOTFOUND;
    if (c->status == 400 || c->status == 422)
        return PAY_INVALID;
    return PAY_UNAVAILABLE;
}

static void op_submit_api(struct pp_op *op);

static void token_done(struct net_call *c)
{
    struct pp_op *op = op_of(c);
    char reason[64];
    int64_t expires_in = 0;
    enum pay_rc rc = answer_rc(c, reason);

    if (rc == PAY_OK && paypal_parse_token(c->resp_body, c->resp_len, op->token, &expires_in) != 0) {
        rc = PAY_UNAVAILABLE;
        set_reason(reason, "bad_token_answer");
    } else if (rc == PAY_MISCONFIGURED || rc == PAY_INVALID || rc == PAY_NOTFOUND) {
        /* {"error":"invalid_client"}: the client id or secret is wrong. */
        rc = PAY_MISCONFIGURED;
        set_reason(reason, "token_refused");
    }
    call_wipe(c);
    if (rc != PAY_OK) {
        op->stage = "token";
        op_fail(op, rc, reason);
        return;
    }
    token_install(op->who, op->token, expires_in);
    op_submit_api(op);
}

static void op_fetch_token(struct pp_op *op)
{
    const char *id = config_get("TG_PAYPAL_CLIENT_ID"), *secret = config_get("TG_PAYPAL_CLIENT_SECRET");
    struct sbuf cred = {0}, hdr = {0}, url = {0};
    char *b64;
    static const char form[] = "grant_type=client_credentials";

    if (id == NULL || id[0] == '\0' || secret == NULL || secret[0] == '\0') {
        op->stage = "token";
        op_fail(op, PAY_MISCONFIGURED, "credentials_missing");
        return;
    }
    sbuf_puts(&cred, id);
    sbuf_puts(&cred, ":");
    sbuf_puts(&cred, secret);
    b64 = xmalloc(b64_encoded_len(cred.len) + 1);
    b64_encode(cred.data, cred.len, b64);
    sbuf_puts(&hdr, "Basic ");
    sbuf_puts(&hdr, b64);
    sbuf_puts(&url, config_get("TG_PAYPAL_API_BASE"));
    sbuf_puts(&url, "/v1/oauth2/token");
    net_call_init(&op->call, "paypal", "POST", url.data);
    net_call_header(&op->call, "Authorization", hdr.data);
    net_call_header(&op->call, "Accept", "application/json");
    net_call_body(&op->call, "application/x-www-form-urlencoded", form, sizeof form - 1);
    sodium_memzero(cred.data, cred.len);
    sodium_memzero(hdr.data, hdr.len);
    sodium_memzero(b64, strlen(b64));
    sbuf_free(&cred);
    sbuf_free(&hdr);
    sbuf_free(&url);
    free(b64);
    op->call.timeout_ms = PAYPAL_CALL_TIMEOUT_MS;
    op->call.max_response = PAYPAL_ANSWER_MAX;
    op->call.idempotent = 1; /* asking for a token changes nothing */
    op->call.retries = PAYPAL_CALL_RETRIES;
    net_exec_submit(op->nx, &op->call, token_done);
}

static void api_done(struct net_call *c)
{
    struct pp_op *op = op_of(c);
    if (c->err == NET_OK && c->status == 401 && !op->refreshed) {
        /* The token was revoked or expired early: one new token, one more try. */
        op->refreshed = 1;
        token_forget(op->token);
        call_wipe(c);
        op_fetch_token(op);
        return;
    }
    op->next(op, c);
}

static void op_submit_api(struct pp_op *op)
{
    char *url = xasprintf("%s%s", config_get("TG_PAYPAL_API_BASE"), op->path);
    char *auth = xasprintf("Bearer %s", op->token);
    net_call_init(&op->call, "paypal", op->method, url);
    net_call_header(&op->call, "Authorization", auth);
    net_call_header(&op->call, "Accept", "application/json");
    if (op->request_id[0] != '\0')
        net_call_header(&op->call, "PayPal-Request-Id", op->request_id);
    if (op->body != NULL)
        net_call_body(&op->call, "application/json", op->body, strlen(op->body));
    sodium_memzero(auth, strlen(auth));
    free(auth);
    free(url);
    op->call.timeout_ms = PAYPAL_CALL_TIMEOUT_MS;
    op->call.max_response = PAYPAL_ANSWER_MAX;
    op->call.idempotent = 1; /* GETs, verification, or a PayPal-Request-Id (see the top) */
    op->call.retries = PAYPAL_CALL_RETRIES;
    net_exec_submit(op->nx, &op->call, api_done);
}

/* Sends an API request (body and request_id may be NULL) and hands its answer to next. */
static void op_api(struct pp_op *op, const char *stage, const char *method, const char *path,
                   const char *body, const char *request_id, op_next_fn next)
{
    free(op->path);
    free(op->body);
    op->stage = stage;
    snprintf(op->method, sizeof op->method, "%s", method);
    op->path = xstrdup(path);
    op->body = body != NULL ? xstrdup(body) : NULL;
    snprintf(op->request_id, sizeof op->request_id, "%s", request_id != NULL ? request_id : "");
    op->refreshed = 0;
    op->next = next;
    if (token_lookup(op->who, op->token))
        op_submit_api(op);
    else
        op_fetch_token(op);
}

static struct pp_op *op_new(struct net_exec *nx, enum op_kind kind, void *arg)
{
    struct pp_op *op = xcalloc(1, sizeof *op);
    op->nx = nx;
    op->kind = kind;
    op->arg = arg;
    op->stage = "start";
    cred_key(op->who);
    return op;
}

/* 1 when PayPal's ids may go into a URL path as they are. */
static int ref_ok(const char *s)
{
    return id_ok(s, strlen(s), TG_PROVIDER_REF_MAX - 1);
}

static int cfg_set(const char *key)
{
    const char *v = config_get(key);
    return v != NULL && v[0] != '\0';
}

static int paypal_configured(void)
{
    /* Without the webhook id no notification can be verified: every one would be refused. */
    return cfg_set("TG_PAYPAL_CLIENT_ID") && cfg_set("TG_PAYPAL_CLIENT_SECRET") &&
           cfg_set("TG_PAYPAL_WEBHOOK_ID");
}

/* ---- checkout ---- */

static void created_done(struct pp_op *op, struct net_call *c)
{
    char reason[64];
    enum pay_rc rc = answer_rc(c, reason);
    if (rc == PAY_OK)
        paypal_parse_created(c->resp_body, c->resp_len, &op->cres);
    else {
        if (rc == PAY_NOTFOUND)
            rc = PAY_MISCONFIGURED; /* the API base is wrong */
        memset(&op->cres, 0, sizeof op->cres);
        op->cres.rc = rc;
        set_reason(op->cres.reason, reason);
        if (rc == PAY_INVALID) {
            char issue[64];
            paypal_error_issue(c->resp_body, c->resp_len, issue);
            if (issue[0])
                snprintf(op->cres.reason, sizeof op->cres.reason, "%s", issue);
        }
    }
    call_wipe(c);
    op_finish(op);
}

static void paypal_checkout(struct net_exec *nx, const struct pay_checkout_req *req, pay_checkout_fn done,
                            void *arg)
{
    struct pp_op *op = op_new(nx, OP_CHECKOUT, arg);
    char reason[64];
    char *body;

    op->checkout_done = done;
    op->order = *req->order;
    body = paypal_order_body(req, reason);
    if (body == NULL) {
        op_fail(op, PAY_INVALID, reason);
        return;
    }
    /* The order id as PayPal-Request-Id: a checkout retried for the same order gets the same
     * PayPal order back instead of a second one. */
    op_api(op, "create", "POST", "/v2/checkout/orders", body, op->order.id, created_done);
    free(body);
}

/* ---- query (and capture) ---- */

static void order_read(struct pp_op *op, struct net_call *c);

static void captured_done(struct pp_op *op, struct net_call *c)
{
    char reason[64], issue[64] = "", status[32], cap[TG_PROVIDER_REF_MAX];
    enum pay_rc rc = answer_rc(c, reason);

    if (rc == PAY_OK) {
        paypal_parse_order(c->resp_body, c->resp_len, &op->order, &op->qres, status, cap);
        call_wipe(c);
        op_finish(op);
        return;
    }
    if (rc == PAY_INVALID)
        paypal_error_issue(c->resp_body, c->resp_len, issue);
    call_wipe(c);
    if (strcmp(issue, "ORDER_ALREADY_CAPTURED") == 0 && !op->regot) {
        /* Captured by another request id (a second node, the dashboard): read the result. */
        char *path = xasprintf("/v2/checkout/orders/%s", op->order.provider_ref);
        op->regot = 1;
        op_api(op, "get", "GET", path, NULL, NULL, order_read);
        free(path);
        return;
    }
    if (rc == PAY_INVALID) {
        /* INSTRUMENT_DECLINED, ORDER_NOT_APPROVED, PAYER_ACTION_REQUIRED...: the buyer has to
         * act again at PayPal; the order is not paid, and may still be. */
        memset(&op->qres, 0, sizeof op->qres);
        op->qres.rc = PAY_OK;
        op->qres.state = PAY_STATE_PENDING;
        snprintf(op->qres.reason, sizeof op->qres.reason, "%s", issue[0] ? issue : reason);
        op_finish(op);
        return;
    }
    op_fail(op, rc, reason);
}

static void order_read(struct pp_op *op, struct net_call *c)
{
    char reason[64], status[32], cap[TG_PROVIDER_REF_MAX], rid[TG_ID_MAX + 8];
    enum pay_rc rc = answer_rc(c, reason);

    if (rc != PAY_OK) {
        call_wipe(c);
        op_fail(op, rc == PAY_INVALID ? PAY_UNAVAILABLE : rc, reason);
        return;
    }
    paypal_parse_order(c->resp_body, c->resp_len, &op->order, &op->qres, status, cap);
    call_wipe(c);
    if (op->qres.rc == PAY_OK && strcmp(status, "APPROVED") == 0 && !op->regot) {
        char *path = xasprintf("/v2/checkout/orders/%s/capture", op->order.provider_ref);
        snprintf(rid, sizeof rid, "cap-%s", op->order.id);
        op_api(op, "capture", "POST", path, "{}", rid, captured_done);
        free(path);
        return;
    }
    op_finish(op);
}

static void paypal_query(struct net_exec *nx, const struct order *o, int64_t now_ms, pay_query_fn done,
                         void *arg)
{
    struct pp_op *op = op_new(nx, OP_QUERY, arg);
    char *path;
    (void)now_ms;
    op->query_done = done;
    op->order = *o;
    if (o->provider_ref[0] == '\0') {
        op_fail(op, PAY_NOTFOUND, "no_provider_ref"); /* the checkout never reached PayPal */
        return;
    }
    if (!ref_ok(o->provider_ref) || !id_ok(o->id, strlen(o->id), TG_ID_MAX - 1)) {
        op_fail(op, PAY_NOTFOUND, "provider_ref_malformed");
        return;
    }
    path = xasprintf("/v2/checkout/orders/%s", o->provider_ref);
    op_api(op, "get", "GET", path, NULL, NULL, order_read);
    free(path);
}

/* ---- refunds ---- */

static void refunded_done(struct pp_op *op, struct net_call *c)
{
    char reason[64], issue[64] = "";
    enum pay_rc rc = answer_rc(c, reason);
    if (rc == PAY_OK) {
        paypal_parse_refund(c->resp_body, c->resp_len, &op->rres);
        call_wipe(c);
        op_finish(op);
        return;
    }
    long status = c->status;
    if (rc == PAY_INVALID || rc == PAY_NOTFOUND)
        paypal_error_issue(c->resp_body, c->resp_len, issue);
    call_wipe(c);
    /* 422: REFUND_AMOUNT_EXCEEDED, CAPTURE_FULLY_REFUNDED, REFUND_TIME_LIMIT_EXCEEDED,
     * INSUFFICIENT_FUNDS...: PayPal will not refund this. 404: no such capture. */
    if (status == 422 || rc == PAY_NOTFOUND)
        op_fail(op, PAY_DECLINED, issue[0] ? issue : reason);
    else
        op_fail(op, rc, issue[0] ? issue : reason);
}

static void refund_order_read(struct pp_op *op, struct net_call *c)
{
    char reason[64], status[32], cap[TG_PROVIDER_REF_MAX];
    enum pay_rc rc = answer_rc(c, reason);
    char *path;

    if (rc != PAY_OK) {
        call_wipe(c);
        op_fail(op,
                rc == PAY_NOTFOUND  ? PAY_DECLINED
                : rc == PAY_INVALID ? PAY_UNAVAILABLE
                                    : rc,
                rc == PAY_NOTFOUND ? "order_not_found" : reason);
        return;
    }
    paypal_parse_order(c->resp_body, c->resp_len, &op->order, &op->qres, status, cap);
    call_wipe(c);
    if (op->qres.rc != PAY_OK) {
        op_fail(op, PAY_UNAVAILABLE, op->qres.reason);
        return;
    }
    if (cap[0] == '\0') {
        op_fail(op, PAY_DECLINED, "not_captured");
        return;
    }
    path = xasprintf("/v2/payments/captures/%s/refund", cap);
    op_api(op, "refund", "POST", path, op->refund_body, op->refund_id, refunded_done);
    free(path);
}

static void paypal_refund(struct net_exec *nx, const struct pay_refund_req *req, pay_refund_fn done,
                          void *arg)
{
    struct pp_op *op = op_new(nx, OP_REFUND, arg);
    char reason[64], *path;
    op->refund_done = done;
    op->order = *req->order;
    op->refund_body = paypal_refund_body(req, reason);
    if (op->refund_body == NULL) {
        op_fail(op, PAY_INVALID, reason);
        return;
    }
    snprintf(op->refund_id, sizeof op->refund_id, "%s", req->refund_id);
    if (!ref_ok(op->order.provider_ref)) {
        op_fail(op, PAY_INVALID, "provider_ref_malformed");
        return;
    }
    path = xasprintf("/v2/checkout/orders/%s", op->order.provider_ref);
    op_api(op, "get", "GET", path, NULL, NULL, refund_order_read);
    free(path);
}

/* ---- notifications ---- */

static void verified_done(struct pp_op *op, struct net_call *c)
{
    char reason[64];
    enum pay_rc rc = answer_rc(c, reason);
    int st;

    if (rc != PAY_OK) {
        call_wipe(c);
        /* 400/422: PayPal refused the request we built from what was received (a malformed
         * signature or certificate URL): the notification is at fault. 404: our webhook id
         * is unknown to PayPal. 401/403/5xx/timeouts: we could not verify; 503 so that PayPal
         * delivers it again. */
        if (rc == PAY_INVALID)
            op_fail(op, PAY_INVALID, "verification_refused");
        else
            op_fail(op, rc == PAY_NOTFOUND ? PAY_MISCONFIGURED : rc,
                    rc == PAY_NOTFOUND ? "webhook_id_unknown" : reason);
        return;
    }
    st = paypal_verify_status(c->resp_body, c->resp_len);
    call_wipe(c);
    if (st < 0) {
        op_fail(op, PAY_UNAVAILABLE, "bad_answer");
        return;
    }
    if (st == 0) {
        op_fail(op, PAY_INVALID, "signature_mismatch");
        return;
    }
    /* Verified: only now is the event read for meaning. */
    paypal_parse_event(op->event, op->event_len, &op->wres);
    op->stage = "event";
    op_finish(op);
}

static void paypal_verify(struct net_exec *nx, const struct pay_webhook_req *req, pay_webhook_fn done,
                          void *arg)
{
    struct pp_op *op = op_new(nx, OP_VERIFY, arg);
    struct paypal_transmission t;
    const char *webhook_id = config_get("TG_PAYPAL_WEBHOOK_ID");
    char reason[64], *body;
    json_t *j;

    op->webhook_done = done;
    op->stage = "check";
    if (webhook_id == NULL || webhook_id[0] == '\0') {
        op_fail(op, PAY_MISCONFIGURED, "webhook_id_missing");
        return;
    }
    if (req->len == 0 || req->len > PAYPAL_EVENT_MAX) {
        op_fail(op, PAY_INVALID, req->len == 0 ? "body_empty" : "body_too_large");
        return;
    }
    if (paypal_transmission_get(req, &t, reason) != 0) {
        op_fail(op, PAY_INVALID, reason);
        return;
    }
    /* The raw bytes are spliced into our request: they must be exactly one JSON object, or
     * a body like `{}, "webhook_id": "..."` could rewrite what we ask PayPal. Read for form
     * only here; for meaning only once PayPal has vouched for them. */
    j = json_loadb(req->body, req->len, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(j)) {
        json_decref(j);
        op_fail(op, PAY_INVALID, "body_malformed");
        return;
    }
    json_decref(j);
    op->event = xmalloc(req->len + 1);
    memcpy(op->event, req->body, req->len);
    op->event[req->len] = '\0';
    op->event_len = req->len;
    body = paypal_verify_body(&t, webhook_id, op->event, op->event_len);
    op_api(op, "verify", "POST", "/v1/notifications/verify-webhook-signature", body, NULL, verified_done);
    free(body);
}

const struct pay_provider pay_paypal = {
    .name = "paypal",
    .configured = paypal_configured,
    .checkout = paypal_checkout,
    .verify_webhook = paypal_verify,
    .query = paypal_query,
    .refund = paypal_refund,
    /* "HTTP 2xx (any body)" (PROVIDERS.md 4.4): an empty 200. Anything else is retried. */
    .ack_type = NULL,
    .ack_body = NULL,
    .fail_type = NULL,
    .fail_body = NULL,
};
