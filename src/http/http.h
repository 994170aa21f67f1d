/*
 * http.h - what handlers see of HTTP. No h2o type crosses this line (DESIGN section 1).
 *
 * A handler receives a `struct req`, and must end it exactly once with one of the res_*
 * calls, either before it returns or later from a req_defer() completion. All memory
 * returned by req_* accessors lives until the request ends (per-request pool).
 * Every function here must be called on the request's loop thread.
 */
#ifndef TG_HTTP_HTTP_H
#define TG_HTTP_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/errors.h"
#include "core/ids.h"
#include "core/types.h"
#include "domain/ratelimit.h"

struct req;
struct store_exec;
struct net_exec;

enum auth_level {
    AUTH_NONE = 0,  /* no credentials looked at */
    AUTH_OPTIONAL,  /* credentials used when present and valid; invalid ones are a 401 */
    AUTH_USER,      /* a valid access token or API key is required (401) */
    AUTH_ADMIN,     /* as AUTH_USER and role admin (403) */
};

typedef void (*http_handler_fn)(struct req *r);

/* How large a request body a route takes. */
enum route_body {
    ROUTE_BODY_API = 0, /* TG_MAX_BODY_BYTES (the default: JSON and forms) */
    ROUTE_BODY_UPLOAD,  /* TG_MAX_UPLOAD_BYTES (PUT /files/...: file bytes) */
};

/*
 * One row of the route table (api/routes.c). Patterns are literal segments and `{name}`
 * parameters ("/api/v1/api-keys/{id}"). `rate` is applied before the handler, keyed by user
 * id when authenticated and by client IP otherwise; RL_NONE for none. `body` is the route's
 * body limit (left out: ROUTE_BODY_API); a larger body is answered 413 before anything else.
 */
struct route {
    const char *method;
    const char *pattern;
    http_handler_fn handler;
    enum auth_level auth;
    enum rl_policy rate;
    enum route_body body;
};

/* The route table, defined in api/routes.c. */
extern const struct route api_routes[];
extern const size_t api_routes_count;

/* ---- request accessors ---- */

const char *req_method(const struct req *r);
/* Path without the query string, percent-decoding not applied. */
const char *req_path(const struct req *r);
/* Value of route parameter `name`, or NULL. */
const char *req_param(const struct req *r, const char *name);
/* Percent-decoded query parameter, or NULL when absent. */
const char *req_query(struct req *r, const char *name);
/* Request header by lower-case name, NUL-terminated, or NULL. First one if repeated. */
const char *req_header(struct req *r, const char *lname);
/* The header's value when the request has exactly one line of that name, else NULL (absent,
 * or repeated: for signature headers, where a second line is an attack, not a detail). */
const char *req_header_unique(struct req *r, const char *lname);
/* Value of cookie `name` from the Cookie header(s), or NULL when absent, malformed or longer
 * than HTTP_COOKIE_VALUE_MAX - 1 bytes. */
#define HTTP_COOKIE_VALUE_MAX 4096
const char *req_cookie(struct req *r, const char *name);

/* The host the client addressed (Host, or :authority on HTTP/2) as sent, or NULL. */
const char *req_authority(struct req *r);
/* How many cookies named `name` the Cookie header(s) carry (a browser sends two of one name
 * when another path or domain set one too). */
size_t req_cookie_count(struct req *r, const char *name);
/* The credential of "Authorization: Bearer <credential>" (not NUL-terminated): 1 with *cred
 * and *len set, 0 when there is no bearer credential, -1 when it is malformed or too long.
 * For routes that authenticate themselves (AUTH_NONE) with domain/session.h. */
int req_bearer(struct req *r, const char **cred, size_t *len);
/* Raw body bytes (not NUL-terminated), *len receives the size; "" and 0 when none. */
const char *req_body(const struct req *r, size_t *len);
/* This request's id ("req_..."), also sent back as X-Request-Id. */
const char *req_id(const struct req *r);
/* Client IP: the peer, or the right-most untrusted X-Forwarded-For hop when the peer is a
 * trusted proxy (TG_TRUSTED_PROXIES). */
const char *req_client_ip(const struct req *r);
/* Request header lname (lower case) as a trusted proxy sent it: NULL unless the TCP peer
 * (not an X-Forwarded-For hop) is in TG_TRUSTED_PROXIES, or when absent. A repeated header
 * gives its last line. For headers only our own proxy may set (X-User-Region). */
const char *req_trusted_header(struct req *r, const char *lname);
/* Authenticated caller (authenticated == 0 on AUTH_NONE routes or anonymous calls). */
const struct principal *req_principal(const struct req *r);
/* This loop thread's store executor (store/call.h): where handlers and domain/ submit their
 * store calls. Borrowed; valid on this loop thread for the life of the server. */
struct store_exec *req_exec(struct req *r);
/* This loop thread's executor of outbound calls (net/net.h): submit provider calls here and
 * their done() runs later on this loop (keep a req_ref_new handle to reply from it). The
 * worker does not finish shutting down while calls it submitted are in flight. Borrowed;
 * valid on this loop thread for the life of the server. */
struct net_exec *req_net(struct req *r);
/* Memory freed when the request ends. */
void *req_alloc(struct req *r, size_t n);
char *req_strdup(struct req *r, const char *s);

/*
 * Parses the body as a JSON object. On success returns it (borrowed: freed when the request
 * ends). On failure replies (415 unless Content-Type is application/json, 400 invalid_json
 * for bad JSON or a non-object, 413 past TG_MAX_BODY_BYTES) and returns NULL: the handler
 * must then just return.
 */
json_t *req_json_or_reply(struct req *r);

/*
 * Applies rate-limit policy p to `key` (e.g. "acct:<email>"). Returns 0 when allowed (the
 * X-RateLimit-* headers are set), or replies 429 with Retry-After and returns -1.
 */
int req_rate_limit_or_reply(struct req *r, enum rl_policy p, const char *key);

/* ---- responses: exactly one per request ---- */

/* Adds a response header (name and value are copied). Call before the res_* that ends it. */
void res_header(struct req *r, const char *name, const char *value);
/* Replies with body serialized compactly; steals the reference to body. */
void res_json(struct req *r, int status, json_t *body);
/*
 * Replies with the catalogue error e:
 *   {"error":{"code","message","details"},"request_id"}
 * message NULL uses the catalogue's; details (stolen, may be NULL) defaults to {}.
 */
void res_error(struct req *r, enum tg_err e, const char *message, json_t *details);
/* Replies with already-serialized JSON (copied), with the same headers as res_json. For hot
 * paths that format a small fixed-shape body themselves. */
void res_json_text(struct req *r, int status, const char *json, size_t len);
/* Replies with a body of the given content type (body copied). */
void res_text(struct req *r, int status, const char *content_type, const char *body, size_t len);
/* Replies with no body (204, or 200 with empty body). */
void res_empty(struct req *r, int status);
/*
 * Replies with the file open at fd (taken: closed when the answer ends, whatever happens)
 * of `size` bytes and type content_type, honouring a single-range Range header (RFC 9233:
 * 206 with Content-Range; an unsatisfiable range 416 with "Content-Range: bytes * /size";
 * several ranges or a malformed header: the whole file, 200). Accept-Ranges: bytes. HEAD
 * gets the headers only. The bytes are read in 64 KiB preads as the client takes them, on
 * the loop (as h2o's own file handler does: page-cache reads of a local disk).
 */
void res_file(struct req *r, int fd, int64_t size, const char *content_type);
/*
 * The single range a Range header value asks of a body of `size` bytes (pure; exposed for
 * tests): 1 with *start and *len set, 0 when the header is to be ignored (absent, not
 * "bytes=", malformed, several ranges: the whole body is sent), -1 when unsatisfiable.
 */
int http_range_parse(const char *v, int64_t size, int64_t *start, int64_t *len);

/* ---- streamed answers (Server-Sent Events) ---- */

/*
 * A response whose body is written piece by piece for as long as it lasts: HTTP/1.1 chunked
 * or HTTP/2 DATA frames. All calls on the request's loop thread.
 */
struct http_stream;
typedef void (*http_stream_close_fn)(void *arg);

/* Bytes a stream may hold that the client has not taken yet (queued behind a write in
 * flight). An event of a task is ~1 KiB; a client that lets 64 KiB pile up is not reading,
 * and is cut off instead of growing memory (1,000 streams can hold at most 64 MiB). */
#define HTTP_STREAM_BUF_MAX 65536

/*
 * Answers r with status 200 and a body of content_type (copied) to be written later, with
 * the headers of every answer (request id, security set, CORS), any res_header() set
 * before, Cache-Control: no-store (unless set) and X-Accel-Buffering: no (a proxy must not
 * hold the stream back). This is r's reply: no res_* afterwards.
 * Returns the stream, or NULL when none was opened and r was answered already: a HEAD
 * request (headers only), or the server is shutting down (503); on_close never runs then.
 * on_close(arg) runs exactly once, on this loop thread, when the stream is over for its
 * handler: the client went away, it stopped reading (HTTP_STREAM_BUF_MAX), the server is
 * shutting down, or http_stream_end was called (then before that returns). The stream must
 * not be used once on_close has been called. The request counts as in flight and its
 * access-log line is written when the response has really ended.
 */
struct http_stream *res_stream_start(struct req *r, const char *content_type, http_stream_close_fn on_close,
                                     void *arg);
/*
 * Queues len bytes of data (copied) to be sent as soon as the write before them is done;
 * the response's head goes out with the first write.
 * Returns 0, or -1 when the stream was closed because the client is not reading (more than
 * HTTP_STREAM_BUF_MAX bytes waiting): on_close has run by then, and st is gone.
 */
int http_stream_write(struct http_stream *st, const void *data, size_t len);
/* Ends the response after what was written (on_close runs before this returns). */
void http_stream_end(struct http_stream *st);

/*
 * A periodic callback on a loop thread, for work that concerns many requests of one loop
 * at once (one timer for all the streams of a loop rather than one each): fn(arg) runs on
 * r's loop thread every interval_ms until http_timer_stop. r is only used to find the loop.
 */
struct http_timer;
struct http_timer *http_timer_start(struct req *r, unsigned interval_ms, void (*fn)(void *arg), void *arg);
/* Stops and frees t (also from within its own fn). */
void http_timer_stop(struct http_timer *t);

/* ---- continuing later ---- */

/*
 * A handle on a request that a handler keeps while it waits for something (a store call
 * through domain/, the blocking pool): the request may end meanwhile (client gone, stream
 * reset) and its memory with it. req_ref_new marks the request as waiting (the handler may
 * return without replying) and keeps the worker from shutting down under it;
 * req_ref_take, on the same loop thread, gives the request back - or NULL when it ended -
 * and releases the handle. Every ref must be taken exactly once; after taking a non-NULL
 * request the handler must reply (or take another ref).
 */
struct req_ref;
struct req_ref *req_ref_new(struct req *r);
struct req *req_ref_take(struct req_ref *ref);

/* Which share of the blocking pool a job uses. Password hashing (argon2id, 64 MiB and
 * ~100 ms each) has its own bounded share so that a flood of logins cannot starve the
 * other blocking work. */
enum req_work_class { REQ_WORK_GENERAL = 0, REQ_WORK_PASSWORD };

typedef void (*req_work_fn)(void *arg);
typedef void (*req_done_fn)(struct req *r, void *arg);
/*
 * Runs work(arg) on the blocking pool (argon2id, large aggregates: anything that may take
 * more than ~1 ms; outbound HTTP goes through req_net instead), then done(r, arg) back on
 * this request's loop thread, where the handler continues and replies. If the client went
 * away meanwhile, done is called with r == NULL so that arg can still be released. work must not touch r or the store. When the pool's
 * queue is full the request is answered 503 at once and done(NULL, arg) runs.
 */
void req_defer(struct req *r, enum req_work_class cls, req_work_fn work, req_done_fn done, void *arg);

#endif
