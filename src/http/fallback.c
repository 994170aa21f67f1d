/*
 * fallback.c - our JSON error envelope and access-log line for the answers libh2o gives by
 * itself, before any handler of ours runs.
 *
 * libh2o 2.2.5 answers some HTTP/1 requests while reading them (lib/http1.c): 413 when the
 * Content-Length is over globalconf.max_request_entity_size or a chunked body reaches it,
 * 400 for a broken chunked body, an unknown Transfer-Encoding or a bad Content-Length, 417
 * for an Expect other than 100-continue. All go through h2o_send_error_generic
 * (lib/core/request.c), which binds the request to the host's fallback path (no handler has
 * bound it to a path yet) and starts the response through that path's filters, with the
 * connection marked not persistent. A filter registered on the fallback path therefore
 * sees exactly these answers and may rewrite their status line, headers and body before
 * anything is written; a logger registered there runs when such a request is disposed.
 *
 * Not reachable this way: an unparseable request line or header block, and a head over
 * H2O_MAX_REQLEN, are answered by send_bad_request in lib/http1.c, which writes a fixed
 * text/plain 400 straight to the socket (no request object, no filter, no logger).
 */
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <jansson.h>

#include "core/config.h"
#include "core/errors.h"
#include "core/timeutil.h"
#include "http/internal.h"

/* Where the filter leaves the request id for the logger (h2o's per-request env). */
#define HTTP_FALLBACK_ID_ENV "tollgate.request_id"

/* Replaces the body h2o sends (one buffer, H2O_SEND_STATE_FINAL) with ours. */
struct http_fallback_ostream {
    h2o_ostream_t super;
    h2o_iovec_t body;
    int sent;
};

static void http_fallback_do_send(h2o_ostream_t *self, h2o_req_t *req, h2o_iovec_t *inbufs, size_t inbufcnt,
                                  h2o_send_state_t state)
{
    struct http_fallback_ostream *o = (struct http_fallback_ostream *)self;
    (void)inbufs;
    if (inbufcnt == 0 || o->sent) {
        h2o_ostream_send_next(self, req, NULL, 0, state); /* HEAD, or nothing left of ours */
        return;
    }
    o->sent = 1;
    h2o_ostream_send_next(self, req, &o->body, 1, state);
}

/* The catalogue error for a status h2o chose, and a more precise message or NULL. */
static enum tg_err http_fallback_error(int status, const char **message)
{
    *message = NULL;
    switch (status) {
    case 413:
        return TG_E_PAYLOAD_TOO_LARGE;
    case 404:
        return TG_E_NOT_FOUND;
    case 405:
        return TG_E_METHOD_NOT_ALLOWED;
    case 417:
        /* The catalogue has no 417, and RFC 9110 section 10.1.1 only says a server MAY
         * answer an unknown expectation with 417: a 400 is as correct. */
        *message = "Only the 100-continue expectation is supported.";
        return TG_E_BAD_REQUEST;
    default:
        if (status >= 500)
            return TG_E_INTERNAL;
        /* h2o's other answers here are about how the body is framed */
        *message = "The request body is not validly framed.";
        return TG_E_BAD_REQUEST;
    }
}

static void http_fallback_on_setup_ostream(h2o_filter_t *self, h2o_req_t *req, h2o_ostream_t **slot)
{
    (void)self;
    if (req->res.status < 400) {
        h2o_setup_next_ostream(req, slot);
        return;
    }
    struct http_worker *w = H2O_STRUCT_FROM_MEMBER(struct http_worker, ctx, req->conn->ctx);
    const char *message;
    enum tg_err e = http_fallback_error(req->res.status, &message);
    char *id = h2o_mem_alloc_pool(&req->pool, TG_ID_MAX);
    http_reqid_new(w, id, time_now_ms());
    size_t idlen = strlen(id);
    *h2o_req_getenv(req, H2O_STRLIT(HTTP_FALLBACK_ID_ENV), 1) = h2o_iovec_init(id, idlen);

    json_t *j = json_pack("{s:{s:s,s:s,s:{}},s:s}", "error", "code", tg_err_code(e), "message",
                          message ? message : tg_err_message(e), "details", "request_id", id);
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (NEVER(text == NULL)) {
        /* only when out of memory: h2o's own text answer still goes out */
        h2o_setup_next_ostream(req, slot);
        return;
    }
    h2o_iovec_t body = h2o_strdup(&req->pool, text, SIZE_MAX);
    free(text);

    /* h2o_send_error_generic left its text/plain type as the only header */
    req->res.status = tg_err_status(e);
    req->res.reason = http_reason(req->res.status);
    req->res.headers = (h2o_headers_t){NULL, 0, 0};
    http_hdr_push_identity(req, id, idlen, 0);
    http_hdr_push(req, &H2O_TOKEN_CONTENT_TYPE->buf, H2O_STRLIT("application/json; charset=utf-8"));
    http_hdr_push(req, &H2O_TOKEN_CACHE_CONTROL->buf, H2O_STRLIT("no-store"));
    req->res.content_length = body.len;
    /* the rest of the refused body may still be on its way: let the client read this answer */
    http_conn_linger(req);

    struct http_fallback_ostream *o = (struct http_fallback_ostream *)h2o_add_ostream(req, sizeof *o, slot);
    o->super.do_send = http_fallback_do_send;
    o->body = body;
    o->sent = 0;
    h2o_setup_next_ostream(req, &o->super.next);
}

/* The client address as req_client_ip would give it (X-Forwarded-For from trusted proxies). */
static void http_fallback_client_ip(h2o_req_t *req, char out[HTTP_IP_MAX])
{
    char peer[HTTP_IP_MAX];
    struct sockaddr_storage ss;
    socklen_t sl = req->conn->callbacks->get_peername(req->conn, (struct sockaddr *)&ss);
    if (sl == 0 || http_clientip_text((struct sockaddr *)&ss, peer) != 0)
        strcpy(peer, "0.0.0.0");
    if (tg_cfg->n_trusted_proxies == 0 || !config_is_trusted_proxy(peer)) {
        memcpy(out, peer, sizeof peer);
        return;
    }
    h2o_iovec_t xff[16];
    size_t n = 0;
    for (ssize_t i = -1; n < 16 && (i = h2o_find_header(&req->headers, H2O_TOKEN_X_FORWARDED_FOR, i)) != -1;)
        xff[n++] = req->headers.entries[i].value;
    http_clientip_resolve(peer, xff, n, config_is_trusted_proxy, out);
}

static void http_fallback_on_log(h2o_logger_t *self, h2o_req_t *req)
{
    (void)self;
    struct http_worker *w = H2O_STRUCT_FROM_MEMBER(struct http_worker, ctx, req->conn->ctx);
    h2o_iovec_t *id = h2o_req_getenv(req, H2O_STRLIT(HTTP_FALLBACK_ID_ENV), 0);
    struct timeval now;
    gettimeofday(&now, NULL);
    int64_t dur_us = h2o_timeval_is_null(&req->timestamps.request_begin_at)
                         ? 0
                         : h2o_timeval_subtract(&req->timestamps.request_begin_at, &now);
    if (dur_us < 0)
        dur_us = 0; /* the wall clock stepped back */
    /* 499 (nginx's "client closed request"): the connection ended before the answer */
    int status = req->res.status != 0 ? req->res.status : 499;
    http_metrics_observe(w->metrics, (size_t)-1, status, (uint64_t)dur_us * 1000);
    if (!w->alog_on)
        return;
    size_t plen = req->input.path.len;
    const char *q = memchr(req->input.path.base, '?', plen);
    if (q != NULL)
        plen = (size_t)(q - req->input.path.base); /* the query string is never logged */
    char ip[HTTP_IP_MAX];
    http_fallback_client_ip(req, ip);
    struct http_accesslog_fields f = {
        .ts_ms = time_now_ms(),
        .request_id = id != NULL ? id->base : "",
        .method = req->input.method.base,
        .method_len = req->input.method.len,
        .path = req->input.path.base,
        .path_len = plen,
        .route = NULL,
        .status = status,
        .bytes_sent = req->bytes_sent,
        .duration_us = dur_us,
        .ip = ip,
        .user_id = NULL,
    };
    int was_empty = w->alog.len == 0;
    http_accesslog_add(&w->alog, &f);
    /* the worker's tick flushes the buffer; it runs only while lines wait */
    if (was_empty && !h2o_timeout_is_linked(&w->tick_entry))
        h2o_timeout_link(w->loop, &w->tick, &w->tick_entry);
}

void http_fallback_register(h2o_hostconf_t *host)
{
    h2o_filter_t *f = h2o_create_filter(&host->fallback_path, sizeof *f);
    f->on_setup_ostream = http_fallback_on_setup_ostream;
    h2o_logger_t *l = h2o_create_logger(&host->fallback_path, sizeof *l);
    l->log_access = http_fallback_on_log;
}
