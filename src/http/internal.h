/*
 * internal.h - what the files of src/http share. h2o types are allowed here and in
 * src/worker only; nothing outside src/http includes this file.
 */
#ifndef TG_HTTP_INTERNAL_H
#define TG_HTTP_INTERNAL_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <h2o.h>

#include "domain/ratelimit.h"
#include "core/types.h"
#include "http/accesslog.h"
#include "http/http.h"
#include "http/metrics.h"
#include "http/router.h"
#include "net/net.h"
#include "store/call.h"

struct pool;
struct store_writer;

/* Longest request path (without the query string) we route; longer ones get a JSON 400. */
#define HTTP_PATH_MAX 2048
/* Longest bearer credential looked at (a JWT with our claims is ~300 bytes). */
#define HTTP_CREDENTIAL_MAX 4096
/* Waiting jobs in the blocking pool before req_defer answers 503. */
#define HTTP_POOL_QUEUE_MAX 4096
/* Waiting password hashes (argon2id, ~100 ms each on one thread): beyond a few seconds of
 * work a login is better answered 503 at once than after a long wait. */
#define HTTP_PW_QUEUE_MAX 64
/* Outbound calls queued or running in the process's net client before submissions are
 * answered NET_SHUTDOWN at once: far more than the providers are ever asked at a time, and
 * each costs only its buffers (a sudden flood fails fast instead of growing memory). */
#define HTTP_NET_MAX_INFLIGHT 4096
/* Direct-mapped cache of peer address text by connection id (saves inet_ntop per request). */
#define HTTP_PEER_CACHE 256
/* Text of an IPv6 address with scope: INET6_ADDRSTRLEN is 46. */
#define HTTP_IP_MAX 64

struct http_peer_cache_entry {
    uint64_t conn_id; /* 0 = empty (h2o connection ids start at 1) */
    char ip[HTTP_IP_MAX];
};

/* One HTTP worker thread: its loop, context, listener, store connection and counters. */
struct http_worker {
    h2o_context_t ctx;
    h2o_accept_ctx_t accept_ctx;
    h2o_evloop_t *loop;
    h2o_socket_t *listener;
    int listen_fd;
    unsigned index;
    pthread_t tid;
    int started;
    struct store *store;                /* this loop's connection (inline reads) */
    struct store_exec exec;             /* store calls: reads inline, writes to the writer */
    h2o_multithread_receiver_t store_rcv; /* the writer's "completions queued" wake */
    h2o_multithread_message_t store_msg;
    struct net_exec net;                /* outbound calls (net/net.h), set up on the loop's thread */
    h2o_multithread_receiver_t net_rcv; /* the net client's "completions queued" wake */
    h2o_multithread_message_t net_msg;
    h2o_multithread_receiver_t jobs;    /* blocking-pool completions */
    h2o_multithread_receiver_t control; /* shutdown requests from the main thread */
    h2o_multithread_message_t control_msg;
    h2o_timeout_t tick;                 /* 100 ms: access-log flush, shutdown checks */
    h2o_timeout_entry_t tick_entry;
    int alog_on;
    struct http_accesslog alog;
    struct http_metrics_worker *metrics;
    uint64_t in_flight;    /* requests received and not yet disposed (loop thread only) */
    uint64_t pending_jobs; /* deferred jobs not completed; may outlive their request */
    int shutting_down;
    int stop;              /* leave the loop */
    int64_t deadline_ms;
    uint64_t drained;      /* requests that ended after shutdown began */
    uint64_t rng[2];       /* request-id generator state (xorshift128+) */
    _Atomic int ready;     /* its loop, context and receivers exist (set on its own thread) */
    _Atomic int exited;
    struct http_peer_cache_entry peers[HTTP_PEER_CACHE];
    /* connection cap and accept back-off (server.c); loop thread only unless atomic */
    h2o_linklist_t conns;              /* struct http_conn of our open connections, oldest first */
    h2o_timeout_t accept_backoff;      /* HTTP_ACCEPT_BACKOFF_MS */
    h2o_timeout_entry_t accept_backoff_entry;
    int accept_paused;                 /* listener not read until the back-off ends or a slot frees */
    h2o_socket_cb h1_read_cb;          /* h2o's HTTP/1 request reader, learnt at the first accept */
    h2o_multithread_receiver_t evict;  /* another worker at the cap asks us to close idle ones */
    h2o_multithread_message_t evict_msg;
    _Atomic int evict_queued;          /* evict_msg is in the queue: not to be sent twice */
    h2o_linklist_t lingering;          /* struct http_linger: closed connections still drained */
    h2o_timeout_t linger_timeout;      /* HTTP_LINGER_MS */
    h2o_timeout_t job_timeout;         /* worker 0 only: the periodic job (http_server_set_job) */
    h2o_timeout_entry_t job_entry;
    h2o_linklist_t streams;            /* struct http_stream open on this loop (stream.c) */
    uint64_t nstreams;
};

/* Process-wide server state, set up once by http_server_run. */
struct http_server {
    h2o_globalconf_t gconf;
    struct http_router router;
    char **metric_labels;    /* the router's labels, then the web UI's (static.c) */
    struct http_metrics metrics;
    struct pool *pool;       /* blocking work */
    struct pool *pw_pool;    /* password hashing: its own bounded share of threads */
    struct store_writer *writer;
    struct net_client *net;  /* outbound calls: started before the workers, stopped after */
    struct http_worker *workers;
    size_t nworkers;
    size_t max_body;      /* TG_MAX_BODY_BYTES */
    size_t max_upload;    /* TG_MAX_UPLOAD_BYTES (routes with ROUTE_BODY_UPLOAD) */
    int access_log;
    /*
     * Start and end of the workers' loops. Each worker creates and disposes of its h2o loop
     * and context on its own thread (see http_worker_main), so the main thread and the
     * workers meet twice: `go` once every worker is ready (run = 1) or start-up failed
     * (run = 0); `dispose` once every worker has left its loop, with the verdict whether
     * everything ended (clean) and may be freed.
     */
    pthread_mutex_t phase_mu;
    pthread_cond_t phase_cv;
    int go, run;
    int dispose, clean;
};

extern struct http_server *http_srv;

/* The per-request state behind `struct req`; lives in the h2o request pool. */
struct req {
    h2o_req_prefilter_t super; /* first: the access logger finds us in h->prefilters */
    h2o_req_t *h;
    struct http_worker *w;
    const struct http_route_c *rc; /* NULL when no route matched */
    size_t nparams;
    struct http_param params[HTTP_ROUTER_MAX_PARAMS];
    const char *method; /* NUL-terminated */
    size_t method_len;
    const char *path;   /* NUL-terminated copy, no query string */
    size_t path_len;
    int64_t start_ns;   /* CLOCK_REALTIME at arrival in our handler */
    int64_t now_ms;     /* same instant, for tokens and rate limits */
    json_t *json;       /* parsed body, released when the request ends */
    const char *origin; /* the Origin header when allowed by TG_CORS_ORIGINS */
    int status;         /* status sent, 0 before */
    unsigned replied : 1;
    unsigned is_head : 1;
    unsigned ip_done : 1;
    unsigned rl_set : 1;
    unsigned web_route; /* static.c's answer: its metrics slot past the API's + 1 (0: none) */
    unsigned deferred; /* req_defer jobs outstanding */
    struct rl_result rl;
    struct principal principal;
    char ip[HTTP_IP_MAX];
    char id[TG_ID_MAX];
};

/* ---- req.c ---- */

/* Sends the response with every common header; the one exit of all res_* calls.
 * ctype may be NULL (no body type). json adds Cache-Control: no-store unless set. */
void http_res_send(struct req *r, int status, const char *ctype, size_t ctype_len, int json, const char *body,
                   size_t len);
/* The first half of http_res_send for answers that stream their body (res_file): marks r
 * replied and sets status and the common headers, but starts nothing. 0, or -1 when r was
 * already answered (a bug, logged). */
int http_res_begin(struct req *r, int status, const char *ctype, size_t ctype_len, int json);
/* res_error with an explicit message and no details (for middleware). */
void http_res_error_msg(struct req *r, enum tg_err e, const char *message);
/* Adds a header whose name and value live at least until the response is sent
 * (static strings or pool memory). name must be lower case. */
void http_res_header_static(struct req *r, const char *name, size_t nlen, const char *value, size_t vlen);
/* Appends a response header slot; name and value must outlive the response (static strings,
 * h2o tokens' buf, or pool memory). name must be lower case. */
void http_hdr_push(h2o_req_t *h, h2o_iovec_t *name, const char *v, size_t vlen);
/* Adds X-Request-Id (id must outlive the response) and the security headers: the page set
 * when document, else OWASP's REST set. The one home of both sets, for our answers and for
 * the errors h2o answers itself (fallback.c). */
void http_hdr_push_identity(h2o_req_t *h, const char *id, size_t idlen, int document);
/* The reason phrase for status ("Not Found"). */
const char *http_reason(int status);
/* Formats this worker's next request id ("req_" + ULID layout) into out. */
void http_reqid_new(struct http_worker *w, char out[TG_ID_MAX], int64_t now_ms);
/* The h2o prefilter callback that marks our struct req (passes through). */
void http_req_on_setup_ostream(h2o_req_prefilter_t *self, h2o_req_t *req, h2o_ostream_t **slot);
/* Finds our struct req in h's prefilters, or NULL when our handler never saw h. */
struct req *http_req_from_h2o(h2o_req_t *h);

/* ---- dispatch.c: the middleware chain ---- */

int http_dispatch_on_req(h2o_handler_t *self, h2o_req_t *h);
void http_dispatch_on_log(h2o_logger_t *self, h2o_req_t *h);
/* Leaves the loop when shutdown is under way and nothing is left in flight. */
void http_worker_check_drained(struct http_worker *w);

/* ---- auth.c ---- */

/*
 * Applies the route's auth level, then continues with http_dispatch_authenticated(r), or
 * replies (401/403/429/503). The continuation may run before this returns (cached or
 * inline answers) or later (a store call); r is not touched after it.
 */
void http_auth_start(struct req *r, enum auth_level level);
/* The rest of the middleware chain after authentication: rate limit, then the handler. */
void http_dispatch_authenticated(struct req *r);
/*
 * Extracts the credential of an Authorization header value. Returns 1 and sets *cred and *len for
 * "Bearer <cred>" (scheme case-insensitive), 0 when the header is absent or another
 * scheme, -1 for a Bearer header with an empty or oversized credential.
 */
int http_auth_parse_bearer(const char *v, size_t vlen, const char **cred, size_t *len);

/* ---- limit.c ---- */

/* Applies policy p to key, stores the result for the X-RateLimit-* headers. Returns 0 when
 * admitted, -1 after replying 429. */
int http_limit_or_reply(struct req *r, enum rl_policy p, const char *key);
/* Adds X-RateLimit-* (and Retry-After) headers for the stored result. */
void http_limit_add_headers(struct req *r);

/* ---- cors.c ---- */

/* Adds the CORS headers of an actual (non-preflight) response from an allowed origin. */
void http_cors_add_headers(struct req *r);
/* Answers OPTIONS on a known path (allow = methods of the path): 204 with Allow, plus the
 * preflight headers when the origin is allowed. */
void http_cors_options(struct req *r, unsigned allow);

/* ---- clientip.c ---- */

/* Textual peer address of sa (IPv4-mapped IPv6 shown as IPv4). Returns 0 or -1. */
int http_clientip_text(const struct sockaddr *sa, char out[HTTP_IP_MAX]);
/* The TCP peer of r as text, through the worker's per-connection cache ("0.0.0.0" when the
 * socket cannot say). */
void http_clientip_peer(const struct req *r, char peer[HTTP_IP_MAX]);
/* The value of the last header line named lname (lower case) copied into pool memory
 * (NUL-terminated), or NULL when there is none. */
const char *http_header_last(const h2o_headers_t *headers, h2o_mem_pool_t *pool, const char *lname);
/* Most X-Forwarded-For entries examined per request. Real chains are one to three proxies
 * long; the bound keeps a long all-trusted list from costing more than a few microseconds. */
#define HTTP_XFF_MAX_HOPS 64
/*
 * Client address given the peer and the X-Forwarded-For header values in order
 * (xff may be NULL when n == 0). When the peer is trusted (trusted(peer) != 0), walks the
 * entries from the right (last line first) and returns the first untrusted one; a malformed
 * or empty entry stops the walk at the last address reached before it; when every examined
 * entry is trusted (all of them, or HTTP_XFF_MAX_HOPS), the left-most examined one. out
 * receives a normalized address (IPv4-mapped IPv6 as IPv4), or the peer as given.
 */
void http_clientip_resolve(const char *peer, const h2o_iovec_t *xff, size_t n, int (*trusted)(const char *ip),
                           char out[HTTP_IP_MAX]);
/*
 * The same over a request's headers: every X-Forwarded-For line in headers, however many,
 * the last one first. Work is bounded by HTTP_XFF_MAX_HOPS entries plus one comparison per
 * header. This is what req_client_ip() uses.
 */
void http_clientip_from_headers(const char *peer, const h2o_headers_t *headers,
                                int (*trusted)(const char *ip), char out[HTTP_IP_MAX]);

/* ---- codec.c ---- */

/*
 * Percent-decodes s[0..len) into out (room for len + 1), '+' as space when plus_space.
 * Returns the decoded length, or -1 for a bad escape or a NUL byte.
 */
long http_pct_decode(const char *s, size_t len, char *out, int plus_space);
/*
 * Finds query parameter `name` in query (the text after '?', length qlen) and decodes its
 * value into pool memory. Returns NULL when absent or badly encoded.
 */
const char *http_query_get(h2o_mem_pool_t *pool, const char *query, size_t qlen, const char *name);
/*
 * Finds cookie `name` in one Cookie header value (len bytes): copies its value (unquoted) into
 * out (cap bytes, NUL-terminated) and returns its length; -1 when absent, malformed (a
 * character RFC 6265 does not allow in a name or value) or not shorter than cap. The first
 * pair with that name wins, as browsers send the most specific cookie first.
 */
long http_cookie_get(const char *header, size_t len, const char *name, char *out, size_t cap);
/* 1 if every '%' in the query string starts a valid escape other than %00, else 0. Checked
 * once before the handler so that a malformed value is a 400, not mistaken for "absent". */
int http_query_valid(const char *query, size_t qlen);

/*
 * Reads one Accept-Encoding header value: *q_gzip receives gzip's (or x-gzip's) qvalue in
 * thousandths (0..1000) and *q_star that of "*", each only when still -1 (not mentioned so
 * far: the first mention counts, also across header lines). A malformed element is skipped.
 * gzip is acceptable when q_gzip > 0, or q_gzip == -1 and q_star > 0.
 */
void http_accept_encoding_scan(const char *v, size_t len, int *q_gzip, int *q_star);
/*
 * 1 when the If-None-Match value v lists "*" or an entity tag equal to etag (quotes
 * included, e.g. "\"abc\"") by the weak comparison of RFC 9110 13.1.2 (W/ ignored); 0 when
 * not, or when v is not a list of entity tags.
 */
int http_etag_listed(const char *v, size_t len, const char *etag, size_t etag_len);

/* ---- static.c: the web UI (static.h) ---- */

/* Compiles the page paths (web/routes.json) at start. 0, or -1 with *err set (caller frees). */
int http_static_init(char **err);
void http_static_free(void);
/* Answers a GET or HEAD of path[0..plen) (no query) that is an asset of this build or a page
 * path and returns 1; returns 0 without touching r for anything else. */
int http_static_try(struct req *r, const char *path, size_t plen);
/* How many metrics slots (routes) the web UI's answers use: one per page path, then one for
 * the assets. Their labels ("GET /tasks/{id}", "GET /assets/{build}/{path}") go into
 * labels[0 .. count). Valid after http_static_init. */
size_t http_static_labels(char **labels);
/* The route pattern of r's web UI answer for the access log, or NULL when it had none. */
const char *http_static_pattern(const struct req *r);

/* ---- defer.c ---- */

/* Called on completion instead of done(r, arg) when given; must call done(r, arg) itself. */
typedef void (*http_defer_finish_fn)(struct req *r, req_done_fn done, void *arg, void *ctx);
/*
 * Queues work on pool p for the request r (whose memory pool is mpool): done(r, arg) runs on
 * the loop of receiver rcv, or done(NULL, arg) when the request ended meanwhile (through
 * finish when not NULL). *pending is incremented now and decremented on completion (loop
 * thread). Returns 0, or -1 when the pool refused the job (nothing queued, counters unchanged).
 */
int http_defer_submit(struct pool *p, h2o_multithread_receiver_t *rcv, h2o_mem_pool_t *mpool, struct req *r,
                      req_work_fn work, req_done_fn done, void *arg, uint64_t *pending,
                      http_defer_finish_fn finish, void *finish_ctx);

/* ---- server.c: connection cap ---- */

/*
 * Closes up to max idle HTTP/1 connections of w, oldest accepted first, through h2o's own
 * path (as if the peer had reset them). Idle means waiting for the first byte of a request
 * (a keep-alive connection between requests, or a new one), where closing loses nothing
 * (RFC 9112 section 9.5 lets a server close an idle connection at any time); a connection
 * that has not sent a byte yet is left alone for HTTP_IDLE_GRACE_MS after its accept.
 * Loop thread of w only. Returns the number closed.
 */
size_t http_conns_evict_idle(struct http_worker *w, size_t max, int64_t now_ms);
/*
 * Makes the close that follows the answer to h graceful (lingering close): once h2o has
 * written the answer and closed the connection, the socket is half-closed (FIN) and what
 * the client still sends is read and discarded for up to HTTP_LINGER_MS. Without it, a
 * close with unread request bytes makes the kernel send a reset, and a client still
 * sending a large body often loses the answer (a 413) it had already been sent.
 * For HTTP/1 connections that h2o closes after this answer (http1_is_persistent == 0);
 * does nothing for others, or when no descriptor is left to keep the socket open with.
 */
void http_conn_linger(h2o_req_t *h);

/* ---- framing.c ---- */

/*
 * 0 when the HTTP/1 request h must be refused because its body framing is ambiguous: two
 * Content-Length headers (equal or not), Content-Length with Transfer-Encoding, more than
 * one Transfer-Encoding, Transfer-Encoding in HTTP/1.0, or an obs-fold continuation line;
 * also 0 when the request head cannot be found. 1 otherwise, and always for HTTP/2.
 * The caller answers 400 and must set h->http1_is_persistent = 0 before replying, so that
 * h2o closes the connection after the answer and never parses the bytes that follow.
 */
int http_framing_ok(h2o_req_t *h);
/*
 * The check of http_framing_ok on a raw request head head[0..len) (bytes after the head are
 * ignored): method[0..method_len) is the method h2o parsed, http10 is 1 for HTTP/1.0.
 * Returns 1 when the framing is unambiguous, 0 otherwise (also when the head does not start
 * with that method or has no end within len).
 */
int http_framing_check(const char *head, size_t len, const char *method, size_t method_len, int http10);

/* ---- stream.c: streamed answers (http.h's res_stream_start) ---- */

/*
 * Ends every stream open on w (shutdown): their handlers' on_close run now, and each
 * response ends as soon as what it had queued is written; an HTTP/1 connection is closed
 * after it. Loop thread of w only.
 */
void http_streams_shutdown(struct http_worker *w);

/* ---- fallback.c: answers h2o gives before any handler ---- */

/*
 * Registers, on the host's fallback path, the filter that turns h2o's own error answers
 * (413 for a body over max_request_entity_size, 400 for broken body framing, 417) into our
 * JSON error envelope with the security headers and an X-Request-Id, and the logger that
 * writes their access-log line and counts them in the metrics.
 */
void http_fallback_register(h2o_hostconf_t *host);

#endif
