/*
 * req.c - http.h implemented over h2o_req_t.
 *
 * All per-request memory comes from the h2o request pool. Header names and the fixed
 * header values are static h2o_iovec_t objects so that adding them costs a vector slot and
 * no copy.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <sodium.h>

#include "core/config.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "http/internal.h"
#include "http/server.h"

/* ---- constant headers ---- */

static h2o_iovec_t hn_x_request_id = {"x-request-id", 12};
static h2o_iovec_t hn_csp = {"content-security-policy", 23};
static h2o_iovec_t hn_xfo = {"x-frame-options", 15};
static h2o_iovec_t hn_xcto = {"x-content-type-options", 22};
static h2o_iovec_t hn_referrer = {"referrer-policy", 15};
static h2o_iovec_t hn_permissions = {"permissions-policy", 18};
static h2o_iovec_t hn_coop = {"cross-origin-opener-policy", 26};
static h2o_iovec_t hn_xpcdp = {"x-permitted-cross-domain-policies", 33};

#define HV(s) {s, sizeof(s) - 1}
struct http_sec_header {
    h2o_iovec_t *name; /* NULL: strict-transport-security (an h2o token) */
    h2o_iovec_t value;
};

/*
 * Headers for documents (HTML: the web UI's index.html, the sandbox pages). The policy
 * allows scripts and styles from this origin only (no inline script or style, no eval, no
 * third-party origin); images, media and fetches also from the storage buckets the browser
 * uploads to and plays outputs from (http_page_csp_set), plus data:/blob: for previews.
 * The browser-feature policies only mean something for documents.
 */
#define HTTP_PAGE_CSP_1 "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:"
#define HTTP_PAGE_CSP_2 "; media-src 'self' blob:"
#define HTTP_PAGE_CSP_3 "; connect-src 'self'"
#define HTTP_PAGE_CSP_4 "; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
static struct http_sec_header http_sec_document[] = {
    /* without storage origins until http_page_csp_set */
    {&hn_csp, HV(HTTP_PAGE_CSP_1 HTTP_PAGE_CSP_2 HTTP_PAGE_CSP_3 HTTP_PAGE_CSP_4)},
    {NULL, HV("max-age=31536000; includeSubDomains")},
    {&hn_xfo, HV("DENY")},
    {&hn_xcto, HV("nosniff")},
    {&hn_referrer, HV("strict-origin-when-cross-origin")},
    {&hn_permissions, HV("camera=(), microphone=(), geolocation=()")},
    {&hn_coop, HV("same-origin")},
    {&hn_xpcdp, HV("none")},
};
static char *http_page_csp; /* with the storage origins: built once, never freed (lives as long as the process) */

/* 1 for "http(s)://host[:port]" of characters that can stand in a CSP source list. */
static int http_csp_origin_ok(const char *o)
{
    const char *rest = strncmp(o, "https://", 8) == 0 ? o + 8 : strncmp(o, "http://", 7) == 0 ? o + 7 : NULL;
    if (rest == NULL || *rest == '\0' || strlen(o) > 300)
        return 0;
    for (const char *p = rest; *p; p++)
        if (!isalnum((unsigned char)*p) && strchr(".-:[]", *p) == NULL)
            return 0;
    return 1;
}

int http_page_csp_set(const char *const *origins, size_t n, char **err)
{
    struct sbuf extra = {0};
    *err = NULL;
    for (size_t i = 0; i < n; i++) {
        if (!http_csp_origin_ok(origins[i])) {
            *err = xasprintf("storage origin \"%s\" cannot be put in the page's Content-Security-Policy", origins[i]);
            sbuf_free(&extra);
            return -1;
        }
        sbuf_printf(&extra, " %s", origins[i]);
    }
    const char *x = extra.data ? extra.data : "";
    char *csp = xasprintf(HTTP_PAGE_CSP_1 "%s" HTTP_PAGE_CSP_2 "%s" HTTP_PAGE_CSP_3 "%s" HTTP_PAGE_CSP_4, x, x, x);
    sbuf_free(&extra);
    free(http_page_csp);
    http_page_csp = csp;
    http_sec_document[0].value = h2o_iovec_init(csp, strlen(csp));
    return 0;
}

/*
 * Headers for everything else (JSON, Prometheus text): OWASP's REST set. A response that is
 * not a document must never be rendered or framed, so its policy allows nothing at all,
 * which is stricter than the document policy in every directive; the feature policies only
 * mean something for documents and would add ~200 bytes to every API answer.
 */
static const struct http_sec_header http_sec_api[] = {
    {&hn_csp, HV("default-src 'none'; frame-ancestors 'none'")},
    {NULL, HV("max-age=31536000; includeSubDomains")},
    {&hn_xfo, HV("DENY")},
    {&hn_xcto, HV("nosniff")},
    {&hn_referrer, HV("strict-origin-when-cross-origin")},
};
#define HTTP_SEC_MAX (sizeof http_sec_document / sizeof http_sec_document[0])

static h2o_generator_t http_res_generator = {NULL, NULL};

const char *http_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 402: return "Payment Required";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 413: return "Payload Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return status < 300 ? "OK" : status < 400 ? "Redirect" : status < 500 ? "Client Error" : "Server Error";
    }
}

void http_hdr_push(h2o_req_t *h, h2o_iovec_t *name, const char *v, size_t vlen)
{
    h2o_vector_reserve(&h->pool, &h->res.headers, h->res.headers.size + 1);
    h2o_header_t *x = h->res.headers.entries + h->res.headers.size++;
    x->name = name;
    x->orig_name = NULL;
    x->value = h2o_iovec_init(v, vlen);
}

void http_hdr_push_identity(h2o_req_t *h, const char *id, size_t idlen, int document)
{
    http_hdr_push(h, &hn_x_request_id, id, idlen);
    const struct http_sec_header *sec = document ? http_sec_document : http_sec_api;
    size_t nsec = document ? HTTP_SEC_MAX : sizeof http_sec_api / sizeof http_sec_api[0];
    for (size_t i = 0; i < nsec; i++) {
        h2o_iovec_t *name = sec[i].name ? sec[i].name : &H2O_TOKEN_STRICT_TRANSPORT_SECURITY->buf;
        http_hdr_push(h, name, sec[i].value.base, sec[i].value.len);
    }
}

void http_res_header_static(struct req *r, const char *name, size_t nlen, const char *value, size_t vlen)
{
    /* maybe_token: known names become h2o tokens (HPACK static table on HTTP/2) */
    h2o_add_header_by_str(&r->h->pool, &r->h->res.headers, name, nlen, 1, NULL, value, vlen);
}

/* ---- request ids ---- */

static uint64_t http_rng_next(uint64_t s[2])
{
    /* xorshift128+: request ids need to be unique, not secret; a getrandom(2) per request
     * (what id_new costs through libsodium) is measurable at this rate. Seeded from
     * libsodium per worker. */
    uint64_t x = s[0], y = s[1];
    s[0] = y;
    x ^= x << 23;
    s[1] = x ^ y ^ (x >> 17) ^ (y >> 26);
    return s[1] + y;
}

void http_reqid_new(struct http_worker *w, char out[TG_ID_MAX], int64_t now_ms)
{
    static const char alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    if (w->rng[0] == 0 && w->rng[1] == 0) {
        randombytes_buf(w->rng, sizeof w->rng);
        w->rng[0] |= 1;
    }
    /* Same layout as core/ids.c: 10 symbols of milliseconds then 16 of 80 random bits. */
    memcpy(out, "req_", 4);
    char *p = out + 4;
    uint64_t t = (uint64_t)now_ms & 0xFFFFFFFFFFFFULL;
    for (int i = 9; i >= 0; i--) {
        p[i] = alphabet[t & 31];
        t >>= 5;
    }
    uint64_t a = http_rng_next(w->rng), b = http_rng_next(w->rng);
    for (int i = 0; i < 8; i++) {
        p[10 + i] = alphabet[a & 31];
        a >>= 5;
        p[18 + i] = alphabet[b & 31];
        b >>= 5;
    }
    p[26] = '\0';
}

/* ---- our request, found from h2o's ---- */

void http_req_on_setup_ostream(h2o_req_prefilter_t *self, h2o_req_t *req, h2o_ostream_t **slot)
{
    h2o_setup_next_prefilter(self, req, slot);
}

struct req *http_req_from_h2o(h2o_req_t *h)
{
    for (h2o_req_prefilter_t *p = h->prefilters; p != NULL; p = p->next)
        if (p->on_setup_ostream == http_req_on_setup_ostream)
            return (struct req *)p;
    return NULL;
}

/* ---- accessors ---- */

const char *req_method(const struct req *r)
{
    return r->method;
}

const char *req_path(const struct req *r)
{
    return r->path;
}

const char *req_param(const struct req *r, const char *name)
{
    size_t nlen = strlen(name);
    for (size_t i = 0; i < r->nparams; i++) {
        const struct http_param *p = &r->params[i];
        if (p->name_len != nlen || memcmp(p->name, name, nlen) != 0)
            continue;
        /* Decoded on demand; the dispatcher already refused parameters that fail to decode. */
        char *out = h2o_mem_alloc_pool(&((struct req *)(uintptr_t)r)->h->pool, p->len + 1);
        if (http_pct_decode(p->value, p->len, out, 0) < 0)
            return NULL;
        return out;
    }
    return NULL;
}

const char *req_query(struct req *r, const char *name)
{
    h2o_req_t *h = r->h;
    if (h->query_at == SIZE_MAX)
        return NULL;
    return http_query_get(&h->pool, h->path.base + h->query_at + 1, h->path.len - h->query_at - 1, name);
}

const char *req_header(struct req *r, const char *lname)
{
    h2o_req_t *h = r->h;
    size_t nlen = strlen(lname);
    const h2o_token_t *tok = h2o_lookup_token(lname, nlen);
    ssize_t i = tok ? h2o_find_header(&h->headers, tok, -1) : h2o_find_header_by_str(&h->headers, lname, nlen, -1);
    if (i < 0)
        return NULL;
    const h2o_iovec_t *v = &h->headers.entries[i].value;
    char *out = h2o_mem_alloc_pool(&h->pool, v->len + 1);
    memcpy(out, v->base, v->len);
    out[v->len] = '\0';
    return out;
}

const char *req_header_unique(struct req *r, const char *lname)
{
    h2o_req_t *h = r->h;
    size_t nlen = strlen(lname);
    const h2o_token_t *tok = h2o_lookup_token(lname, nlen);
    ssize_t i = tok ? h2o_find_header(&h->headers, tok, -1) : h2o_find_header_by_str(&h->headers, lname, nlen, -1);
    if (i < 0)
        return NULL;
    ssize_t j = tok ? h2o_find_header(&h->headers, tok, i) : h2o_find_header_by_str(&h->headers, lname, nlen, i);
    if (j >= 0)
        return NULL; /* two lines of one signature header: which one was checked would be a guess */
    return req_header(r, lname);
}

const char *req_authority(struct req *r)
{
    h2o_req_t *h = r->h;
    if (h->input.authority.base == NULL || h->input.authority.len == 0)
        return NULL;
    char *out = h2o_mem_alloc_pool(&h->pool, h->input.authority.len + 1);
    memcpy(out, h->input.authority.base, h->input.authority.len);
    out[h->input.authority.len] = '\0';
    return out;
}

const char *req_cookie(struct req *r, const char *name)
{
    h2o_req_t *h = r->h;
    char buf[HTTP_COOKIE_VALUE_MAX];
    /* HTTP/2 may split the Cookie header into one field per cookie (RFC 9113 8.2.3). */
    for (ssize_t i = -1; (i = h2o_find_header(&h->headers, H2O_TOKEN_COOKIE, i)) >= 0;) {
        const h2o_iovec_t *v = &h->headers.entries[i].value;
        long n = http_cookie_get(v->base, v->len, name, buf, sizeof buf);
        if (n >= 0) {
            char *out = h2o_mem_alloc_pool(&h->pool, (size_t)n + 1);
            memcpy(out, buf, (size_t)n + 1);
            return out;
        }
    }
    return NULL;
}

size_t req_cookie_count(struct req *r, const char *name)
{
    h2o_req_t *h = r->h;
    size_t n = 0;
    for (ssize_t i = -1; (i = h2o_find_header(&h->headers, H2O_TOKEN_COOKIE, i)) >= 0;)
        n += http_cookie_count(h->headers.entries[i].value.base, h->headers.entries[i].value.len, name);
    return n;
}

const char *req_body(const struct req *r, size_t *len)
{
    const h2o_req_t *h = r->h;
    if (h->entity.base == NULL) {
        *len = 0;
        return "";
    }
    *len = h->entity.len;
    return h->entity.base;
}

const char *req_id(const struct req *r)
{
    return r->id;
}

const char *req_client_ip(const struct req *r)
{
    struct req *m = (struct req *)(uintptr_t)r; /* lazily filled cache, logically const */
    if (m->ip_done)
        return m->ip;
    m->ip_done = 1;
    h2o_req_t *h = m->h;
    char peer[HTTP_IP_MAX] = "";
    http_clientip_peer(m, peer);
    if (tg_cfg->n_trusted_proxies == 0) {
        memcpy(m->ip, peer, sizeof peer);
        return m->ip;
    }
    /* All X-Forwarded-For lines, the last first: a client that sends many lines must not push
     * the one its proxy appended out of view. */
    http_clientip_from_headers(peer, &h->headers, config_is_trusted_proxy, m->ip);
    return m->ip;
}

const struct principal *req_principal(const struct req *r)
{
    return &r->principal;
}

struct store_exec *req_exec(struct req *r)
{
    return &r->w->exec;
}

struct net_exec *req_net(struct req *r)
{
    return &r->w->net;
}

void *req_alloc(struct req *r, size_t n)
{
    return h2o_mem_alloc_pool(&r->h->pool, n ? n : 1);
}

char *req_strdup(struct req *r, const char *s)
{
    size_t n = strlen(s);
    char *p = h2o_mem_alloc_pool(&r->h->pool, n + 1);
    memcpy(p, s, n + 1);
    return p;
}

/* ---- body ---- */

/* 1 when the Content-Type media type is application/json (parameters allowed). */
static int http_is_json_ctype(const h2o_iovec_t *v)
{
    size_t n = v->len;
    const char *s = v->base;
    while (n && (*s == ' ' || *s == '\t')) {
        s++;
        n--;
    }
    const char *semi = memchr(s, ';', n);
    if (semi)
        n = (size_t)(semi - s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    return h2o_lcstris(s, n, H2O_STRLIT("application/json"));
}

json_t *req_json_or_reply(struct req *r)
{
    h2o_req_t *h = r->h;
    if (r->json != NULL)
        return r->json;
    ssize_t ct = h2o_find_header(&h->headers, H2O_TOKEN_CONTENT_TYPE, -1);
    if (ct < 0 || !http_is_json_ctype(&h->headers.entries[ct].value)) {
        res_error(r, TG_E_UNSUPPORTED_MEDIA, NULL, NULL);
        return NULL;
    }
    size_t len;
    const char *body = req_body(r, &len);
    if (len > http_srv->max_body) {
        res_error(r, TG_E_PAYLOAD_TOO_LARGE, NULL, NULL);
        return NULL;
    }
    json_error_t jerr;
    json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    /* An integer beyond int64 is valid JSON: read it as a real so that the handler's bounds
     * refuse it as a bad value of its field (400 validation_failed naming it). */
    if (j == NULL && json_error_code(&jerr) == json_error_numeric_overflow)
        j = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_DECODE_INT_AS_REAL, &jerr);
    if (j == NULL || !json_is_object(j)) {
        json_decref(j);
        res_error(r, TG_E_INVALID_JSON, j ? "The request body must be a JSON object." : NULL, NULL);
        return NULL;
    }
    r->json = j; /* released by the access logger when the request ends */
    return j;
}

int req_rate_limit_or_reply(struct req *r, enum rl_policy p, const char *key)
{
    return http_limit_or_reply(r, p, key);
}

/* ---- responses ---- */

void res_header(struct req *r, const char *name, const char *value)
{
    size_t nlen = strlen(name), vlen = strlen(value);
    int ok = nlen > 0 && nlen < 256 && vlen < 8192;
    for (size_t i = 0; ok && i < nlen; i++)
        ok = isalnum((unsigned char)name[i]) || strchr("!#$%&'*+-.^_`|~", name[i]) != NULL;
    /* CR or LF in a value would let a caller-controlled string inject headers */
    for (size_t i = 0; ok && i < vlen; i++)
        ok = value[i] != '\r' && value[i] != '\n';
    if (NEVER(!ok)) {
        log_event(LOG_ERROR, "bad_response_header", "request_id", r->id, NULL);
        return;
    }
    char *n = h2o_mem_alloc_pool(&r->h->pool, nlen + 1);
    for (size_t i = 0; i <= nlen; i++)
        n[i] = (char)tolower((unsigned char)name[i]);
    char *v = h2o_mem_alloc_pool(&r->h->pool, vlen + 1);
    memcpy(v, value, vlen + 1);
    http_res_header_static(r, n, nlen, v, vlen);
}

/*
 * The test clock (TG_TEST_CLOCK) moves time_now_ms(), but h2o writes the Date header itself
 * from its loop's cached timestamp string, which is not ours to replace header by header
 * (h2o 2.2 prints Date unconditionally). So while the clock is moved, the cached string is
 * rewritten to the moved time just before the answer is flattened: the refresh below makes
 * it current for this loop tick, and h2o reuses it until the second changes, when it
 * allocates a new one that the next answer rewrites again. Never runs with the clock unmoved.
 */
static void http_date_follow_clock(h2o_req_t *h)
{
    h2o_context_t *ctx = h->conn->ctx;
    h2o_get_timestamp(ctx, NULL, NULL);
    if (ctx->_timestamp_cache.value == NULL)
        return;
    time_t secs = (time_t)(time_now_ms() / 1000);
    struct tm gmt;
    gmtime_r(&secs, &gmt);
    h2o_time2str_rfc1123(ctx->_timestamp_cache.value->rfc1123, &gmt);
}

int http_res_begin(struct req *r, int status, const char *ctype, size_t ctype_len, int json)
{
    h2o_req_t *h = r->h;
    if (NEVER(r->replied)) {
        log_event(LOG_ERROR, "double_reply", "request_id", r->id, NULL);
        return -1;
    }
    r->replied = 1;
    r->status = status;
    h->res.status = status;
    h->res.reason = http_reason(status);

    h2o_vector_reserve(&h->pool, &h->res.headers, h->res.headers.size + HTTP_SEC_MAX + 12);
    int document = ctype != NULL && ctype_len >= 9 && strncasecmp(ctype, "text/html", 9) == 0;
    http_hdr_push_identity(h, r->id, strlen(r->id), document);
    if (ctype != NULL)
        http_hdr_push(h, &H2O_TOKEN_CONTENT_TYPE->buf, ctype, ctype_len);
    if (json && h2o_find_header(&h->res.headers, H2O_TOKEN_CACHE_CONTROL, -1) < 0)
        http_hdr_push(h, &H2O_TOKEN_CACHE_CONTROL->buf, H2O_STRLIT("no-store"));
    /* With CORS configured every answer depends on Origin (allowed ones get
     * Access-Control-Allow-Origin, others do not), so every answer says so: otherwise a
     * shared cache could hand one origin's answer to another. */
    if (tg_cfg->n_cors_origins > 0)
        http_hdr_push(h, &H2O_TOKEN_VARY->buf, H2O_STRLIT("Origin"));
    if (r->origin != NULL)
        http_cors_add_headers(r);
    if (r->rl_set)
        http_limit_add_headers(r);

    if (time_offset_ms() != 0)
        http_date_follow_clock(h);
    return 0;
}

void http_res_send(struct req *r, int status, const char *ctype, size_t ctype_len, int json, const char *body,
                   size_t len)
{
    h2o_req_t *h = r->h;
    if (http_res_begin(r, status, ctype, ctype_len, json) != 0)
        return;
    int no_body = status == 204 || status == 304 || (status >= 100 && status < 200);
    h->res.content_length = no_body ? SIZE_MAX : len;
    h2o_start_response(h, &http_res_generator);
    if (no_body || r->is_head || len == 0) {
        h2o_send(h, NULL, 0, H2O_SEND_STATE_FINAL);
    } else {
        h2o_iovec_t buf = h2o_iovec_init(body, len);
        h2o_send(h, &buf, 1, H2O_SEND_STATE_FINAL);
    }
}

#define HTTP_CT_JSON "application/json; charset=utf-8"

void res_json(struct req *r, int status, json_t *body)
{
    char *buf = NULL;
    size_t n = 0;
    if (body != NULL) {
        /* Serialize straight into pool memory: one guess, one retry when it was too small. */
        size_t cap = 1024;
        buf = h2o_mem_alloc_pool(&r->h->pool, cap);
        n = json_dumpb(body, buf, cap, JSON_COMPACT | JSON_ENCODE_ANY);
        if (n > cap) {
            cap = n;
            buf = h2o_mem_alloc_pool(&r->h->pool, cap);
            n = json_dumpb(body, buf, cap, JSON_COMPACT | JSON_ENCODE_ANY);
        }
        json_decref(body);
    }
    if (n == 0) {
        log_event(LOG_ERROR, "json_encode_failed", "request_id", r->id, NULL);
        res_error(r, TG_E_INTERNAL, NULL, NULL);
        return;
    }
    http_res_send(r, status, H2O_STRLIT(HTTP_CT_JSON), 1, buf, n);
}

void res_error(struct req *r, enum tg_err e, const char *message, json_t *details)
{
    int status = tg_err_status(e);
    if (status >= 500) {
        /* 5xx never carry internals: the catalogue's words only. A 500 carries no details
         * either; a 502/503 keeps the ones its handler chose (the provider that failed, the
         * order left unpaid, the refund a provider declined and its reason code), which say
         * what to do next and are never internals. */
        message = NULL;
        if (status == 500) {
            json_decref(details);
            details = NULL;
        }
    }
    if (details == NULL)
        details = json_object();
    json_t *body = json_pack("{s:{s:s,s:s,s:o},s:s}", "error", "code", tg_err_code(e), "message",
                             message ? message : tg_err_message(e), "details", details, "request_id", r->id);
    if (body == NULL) {
        /* only on invalid UTF-8 in message: fall back to the catalogue text */
        body = json_pack("{s:{s:s,s:s,s:{}},s:s}", "error", "code", tg_err_code(e), "message", tg_err_message(e),
                         "details", "request_id", r->id);
    }
    if (status == 401 && h2o_find_header(&r->h->res.headers, H2O_TOKEN_WWW_AUTHENTICATE, -1) < 0)
        http_hdr_push(r->h, &H2O_TOKEN_WWW_AUTHENTICATE->buf, H2O_STRLIT("Bearer"));
    res_json(r, status, body);
}

void http_res_error_msg(struct req *r, enum tg_err e, const char *message)
{
    res_error(r, e, message, NULL);
}

void res_json_text(struct req *r, int status, const char *json, size_t len)
{
    char *copy = h2o_mem_alloc_pool(&r->h->pool, len ? len : 1);
    memcpy(copy, json, len);
    http_res_send(r, status, H2O_STRLIT(HTTP_CT_JSON), 1, copy, len);
}

void res_text(struct req *r, int status, const char *content_type, const char *body, size_t len)
{
    char *copy = h2o_mem_alloc_pool(&r->h->pool, len ? len : 1);
    memcpy(copy, body, len);
    size_t ctlen = strlen(content_type);
    char *ct = h2o_mem_alloc_pool(&r->h->pool, ctlen + 1);
    memcpy(ct, content_type, ctlen + 1);
    http_res_send(r, status, ct, ctlen, 0, copy, len);
}

void res_empty(struct req *r, int status)
{
    http_res_send(r, status, NULL, 0, 0, NULL, 0);
}
