/*
 * dispatch.c - the middleware chain, in order:
 *   request id -> path checks -> CORS origin -> routing (404/405/OPTIONS) -> body limit
 *   -> the web UI's pages and assets (static.c) for paths no route has
 *   -> authentication (route.auth) -> rate limit (route.rate) -> handler
 * and its end: the access log line, metrics and in-flight bookkeeping when h2o disposes
 * the request (an h2o logger, which runs whether or not a response was sent).
 */
#include <string.h>
#include <time.h>

#include "core/config.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "http/internal.h"
#include "worker/pool.h"

static int64_t http_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Methods as static strings: no copy for the common ones. */
static const char *http_method_static(const h2o_iovec_t *m)
{
    static const char *const known[] = {"GET", "POST", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS"};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (h2o_memis(m->base, m->len, known[i], strlen(known[i])))
            return known[i];
    return NULL;
}

/* 1 for a raw path with a NUL, an encoded NUL, or a "." / ".." segment (also encoded). */
static int http_path_suspicious(const char *p, size_t len)
{
    if (memchr(p, '\0', len))
        return 1;
    for (size_t i = 0; i + 2 < len; i++)
        if (p[i] == '%' && p[i + 1] == '0' && p[i + 2] == '0')
            return 1;
    size_t i = 0;
    while (i < len) {
        while (i < len && p[i] == '/')
            i++;
        size_t start = i;
        while (i < len && p[i] != '/')
            i++;
        size_t sl = i - start;
        if (sl == 0 || sl > 6)
            continue;
        char dec[8];
        long n = http_pct_decode(p + start, sl, dec, 0);
        if (n < 0)
            continue; /* a bad escape is not a traversal; the route decides */
        if ((n == 1 && dec[0] == '.') || (n == 2 && dec[0] == '.' && dec[1] == '.'))
            return 1;
    }
    return 0;
}

static void http_run_handler(struct req *r)
{
    r->rc->route->handler(r);
    if (!r->replied && r->deferred == 0) {
        /* A handler must reply or defer; answering here keeps the client from hanging. */
        log_event(LOG_ERROR, "handler_no_reply", "request_id", r->id, "route", r->rc->route->pattern, NULL);
        res_error(r, TG_E_INTERNAL, NULL, NULL);
    }
}

int http_dispatch_on_req(h2o_handler_t *self, h2o_req_t *h)
{
    (void)self;
    struct http_worker *w = H2O_STRUCT_FROM_MEMBER(struct http_worker, ctx, h->conn->ctx);
    struct req *r = (struct req *)h2o_add_prefilter(h, sizeof *r);
    h2o_req_prefilter_t *next = r->super.next;
    memset(r, 0, offsetof(struct req, ip)); /* ip and id are written before being read */
    r->super.next = next;
    r->super.on_setup_ostream = http_req_on_setup_ostream;
    r->h = h;
    r->w = w;
    r->ip[0] = '\0';
    r->start_ns = http_now_ns();
    /* The request's "now" (tokens, rate limits, ids) follows the test clock like
     * time_now_ms(); durations are measured on start_ns, which does not. */
    r->now_ms = r->start_ns / 1000000 + time_offset_ms();
    w->in_flight++;
    http_metrics_inflight_add(w->metrics, 1);
    http_reqid_new(w, r->id, r->now_ms);

    /* method and path as NUL-terminated strings */
    r->method_len = h->method.len;
    r->method = http_method_static(&h->method);
    if (r->method == NULL) {
        size_t ml = h->method.len > 32 ? 32 : h->method.len;
        char *m = h2o_mem_alloc_pool(&h->pool, ml + 1);
        memcpy(m, h->method.base, ml);
        m[ml] = '\0';
        r->method = m;
        r->method_len = ml;
    }
    r->is_head = r->method_len == 4 && memcmp(r->method, "HEAD", 4) == 0;
    size_t plen = h->query_at != SIZE_MAX ? h->query_at : h->path.len;
    size_t keep = plen > HTTP_PATH_MAX ? HTTP_PATH_MAX : plen;
    char *path = h2o_mem_alloc_pool(&h->pool, keep + 1);
    memcpy(path, h->path.base, keep);
    path[keep] = '\0';
    r->path = path;
    r->path_len = keep;

    /* CORS: remember an allowed Origin; every response then carries the CORS headers */
    ssize_t oi = h2o_find_header_by_str(&h->headers, H2O_STRLIT("origin"), -1);
    if (oi >= 0 && tg_cfg->n_cors_origins > 0) {
        const h2o_iovec_t *ov = &h->headers.entries[oi].value;
        if (config_cors_allowed(ov->base, ov->len)) {
            char *o = h2o_mem_alloc_pool(&h->pool, ov->len + 1);
            memcpy(o, ov->base, ov->len);
            o[ov->len] = '\0';
            r->origin = o;
        }
    }

    /* Ambiguous body framing (request smuggling): refused before anything reads the request,
     * and the connection closed after the answer so that the bytes after it are never parsed
     * as a request. */
    if (!http_framing_ok(h)) {
        h->http1_is_persistent = 0;
        http_conn_linger(h);
        http_res_error_msg(r, TG_E_BAD_REQUEST, "The request body framing is ambiguous.");
        return 0;
    }
    if (plen > HTTP_PATH_MAX) {
        http_res_error_msg(r, TG_E_BAD_REQUEST, "The request path is too long.");
        return 0;
    }
    if (http_path_suspicious(h->path.base, plen)) {
        http_res_error_msg(r, TG_E_BAD_REQUEST, "The request path is not valid.");
        return 0;
    }
    if (h->query_at != SIZE_MAX &&
        !http_query_valid(h->path.base + h->query_at + 1, h->path.len - h->query_at - 1)) {
        http_res_error_msg(r, TG_E_BAD_REQUEST, "The query string is not validly percent-encoded.");
        return 0;
    }

    struct http_match m;
    http_router_match(&http_srv->router, h->method.base, h->method.len, h->path.base, plen, &m);
    if (r->method_len == 7 && memcmp(r->method, "OPTIONS", 7) == 0 && m.allow != 0) {
        http_cors_options(r, m.allow);
        return 0;
    }
    /* h2o enforces only the largest limit while the body streams in (server.c): each route's
     * own limit is applied here, before authentication or any handler; a path that matches
     * no route gets the API limit. */
    size_t limit = m.status == 200 && m.rc->route->body == ROUTE_BODY_UPLOAD ? http_srv->max_upload
                                                                             : http_srv->max_body;
    if (h->entity.base != NULL && h->entity.len > limit) {
        h->http1_is_persistent = 0;
        res_error(r, TG_E_PAYLOAD_TOO_LARGE, NULL, NULL);
        return 0;
    }
    if (m.status == 404) {
        /* Not the API's: the web UI's page paths and assets, else the JSON 404. */
        if (http_static_try(r, h->path.base, plen))
            return 0;
        res_error(r, TG_E_NOT_FOUND, NULL, NULL);
        return 0;
    }
    if (m.status == 405) {
        char *allow = h2o_mem_alloc_pool(&h->pool, 96);
        size_t n = http_router_allow_string(m.allow, 1, allow, 96);
        http_hdr_push(h, &H2O_TOKEN_ALLOW->buf, allow, n);
        res_error(r, TG_E_METHOD_NOT_ALLOWED, NULL, NULL);
        return 0;
    }
    r->rc = m.rc;
    r->nparams = m.nparams;
    memcpy(r->params, m.params, m.nparams * sizeof m.params[0]);
    for (size_t i = 0; i < m.nparams; i++) {
        char tmp[HTTP_PATH_MAX + 1];
        if (http_pct_decode(m.params[i].value, m.params[i].len, tmp, 0) < 0) {
            http_res_error_msg(r, TG_E_BAD_REQUEST, "The request path is not valid.");
            return 0;
        }
    }

    /* Continues in http_dispatch_authenticated, now or when the store has answered. */
    http_auth_start(r, r->rc->route->auth);
    return 0;
}

void http_dispatch_authenticated(struct req *r)
{
    if (r->rc->route->rate != RL_NONE) {
        char key[HTTP_IP_MAX + TG_ID_MAX + 4];
        if (r->principal.authenticated) {
            memcpy(key, "u:", 2);
            strcpy(key + 2, r->principal.user_id);
        } else if (ratelimit_ip_key(req_client_ip(r), key, sizeof key) != 0) {
            /* Anonymous clients by address, IPv6 by its /64 (one host usually owns it). */
            strcpy(key, "ip:unknown"); /* req_client_ip is inet_ntop output: cannot happen */
        }
        if (http_limit_or_reply(r, r->rc->route->rate, key) != 0)
            return;
    }
    http_run_handler(r);
}

void http_dispatch_on_log(h2o_logger_t *self, h2o_req_t *h)
{
    (void)self;
    struct req *r = http_req_from_h2o(h);
    if (r == NULL)
        return; /* answered by h2o itself before our handler ran */
    struct http_worker *w = r->w;
    int64_t end_ns = http_now_ns();
    int64_t dur_ns = end_ns - r->start_ns;
    if (dur_ns < 0)
        dur_ns = 0; /* the wall clock stepped back */
    /* 499 (nginx's "client closed request"): the request ended before we answered */
    int status = r->replied ? r->status : 499;
    size_t slot = (size_t)-1;
    if (r->rc != NULL)
        slot = r->rc->index;
    else if (r->web_route != 0)
        slot = http_srv->router.n + r->web_route - 1;
    http_metrics_observe(w->metrics, slot, status, (uint64_t)dur_ns);
    http_metrics_inflight_add(w->metrics, -1);
    if (w->alog_on) {
        struct http_accesslog_fields f = {
            .ts_ms = end_ns / 1000000,
            .request_id = r->id,
            .method = r->method,
            .method_len = r->method_len,
            .path = r->path,
            .path_len = r->path_len,
            .route = r->rc ? r->rc->route->pattern : http_static_pattern(r),
            .status = status,
            .bytes_sent = h->bytes_sent,
            .duration_us = dur_ns / 1000,
            .ip = req_client_ip(r),
            .user_id = r->principal.authenticated ? r->principal.user_id : NULL,
        };
        int was_empty = w->alog.len == 0;
        http_accesslog_add(&w->alog, &f);
        /* the timer runs only while lines wait, so an idle worker never wakes up for it */
        if (was_empty && !h2o_timeout_is_linked(&w->tick_entry))
            h2o_timeout_link(w->loop, &w->tick, &w->tick_entry);
    }
    json_decref(r->json);
    r->json = NULL;
    w->in_flight--;
    if (w->shutting_down) {
        w->drained++;
        http_worker_check_drained(w);
    }
}

/* ---- req_defer ---- */

static void http_defer_finish(struct req *r, req_done_fn done, void *arg, void *ctx)
{
    struct http_worker *w = ctx;
    if (r != NULL)
        r->deferred--;
    done(r, arg);
    if (r != NULL && !r->replied && r->deferred == 0) {
        log_event(LOG_ERROR, "handler_no_reply", "request_id", r->id, NULL);
        res_error(r, TG_E_INTERNAL, NULL, NULL);
    }
    http_worker_check_drained(w);
}

void req_defer(struct req *r, enum req_work_class cls, req_work_fn work, req_done_fn done, void *arg)
{
    struct http_worker *w = r->w;
    struct pool *p = cls == REQ_WORK_PASSWORD ? http_srv->pw_pool : http_srv->pool;
    if (http_defer_submit(p, &w->jobs, &r->h->pool, r, work, done, arg, &w->pending_jobs,
                          http_defer_finish, w) != 0) {
        /* Queue full: shed load now rather than queue without bound. done(NULL, arg) lets
         * the handler release arg exactly as if the client had gone away. */
        log_event(LOG_WARN, "blocking_pool_full", "request_id", r->id, NULL);
        res_error(r, TG_E_UNAVAILABLE, NULL, NULL);
        done(NULL, arg);
        return;
    }
    r->deferred++;
}
