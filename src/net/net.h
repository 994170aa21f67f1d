/*
 * net.h - outbound HTTP and SMTP on libcurl's multi interface (DESIGN sections 1 and 2).
 *
 * Every provider call (Google, WeChat, payments, models, mail) goes through here, and none
 * of them ever runs on a loop thread: one client thread per process drives all transfers
 * with curl_multi_poll(), and a finished call is handed back to the loop that submitted it,
 * where its done() runs - the same shape as store calls (store/call.h):
 *
 *   struct my_ctx { struct net_call call; ... };      // the call embedded in a context
 *   net_call_init(&ctx->call, "google", "GET", url);  // url copied
 *   ctx->call.timeout_ms = 5000;
 *   net_exec_submit(req_net(r), &ctx->call, my_done); // my_done(&ctx->call) later, on this loop
 *
 * Policy the client enforces for every call, whoever configures it:
 *   - TLS peer and host verification are always on (no option turns them off);
 *   - a connect timeout and a total timeout per attempt; a response larger than max_response
 *     bytes is aborted (NET_TOO_LARGE);
 *   - retries (at most `retries` more attempts, with exponential backoff and full jitter,
 *     waiting on the client thread's timers, never sleeping) only for calls marked
 *     idempotent, only on connection failures, timeouts, 429 and 5xx (a 429's or 503's
 *     Retry-After up to 30 s is honoured);
 *   - one log line per call: provider, method, host, path (never the query string), status,
 *     attempts and duration; never a header value, a body, a token or a secret.
 */
#ifndef TG_NET_NET_H
#define TG_NET_NET_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

struct net_client;
struct net_exec;
struct net_call;

typedef void (*net_done_fn)(struct net_call *c);

/* Why a call produced no HTTP answer (err), or NET_OK when it did (any status). */
enum net_err {
    NET_OK = 0,
    NET_TIMEOUT,   /* connect or total timeout */
    NET_CONNECT,   /* DNS, refused, reset */
    NET_TLS,       /* handshake or verification failure */
    NET_TOO_LARGE, /* response body over max_response */
    NET_PROTOCOL,  /* malformed answer, SMTP refusal */
    NET_SHUTDOWN,  /* the client is stopping or its queue is full: not sent */
    NET_ERROR,     /* anything else */
};

#define NET_MAX_HEADERS 32           /* request headers a call may add */
#define NET_MAX_RESP_HEADERS 64      /* response headers kept (others dropped) */
#define NET_DEFAULT_TIMEOUT_MS 10000
#define NET_DEFAULT_CONNECT_TIMEOUT_MS 3000
#define NET_DEFAULT_MAX_RESPONSE (1024 * 1024)

struct net_resp_header {
    char *name; /* lower-case */
    char *value;
};

struct net_call {
    /* ---- request: filled by net_call_init and the caller; owned by the call ---- */
    const char *provider;        /* static string for the log line ("google") */
    char method[8];              /* "GET", "POST", ... (ignored for smtp:// URLs) */
    char *url;                   /* http(s):// or smtp(s):// */
    char *headers[NET_MAX_HEADERS]; /* "Name: value", added with net_call_header */
    size_t n_headers;
    char *body;                  /* request body (or the whole RFC 5322 message for SMTP) */
    size_t body_len;
    char *mail_from;             /* SMTP envelope sender (smtp:// URLs only) */
    char *mail_rcpt;             /* SMTP envelope recipient (one) */
    int timeout_ms;              /* total per attempt (NET_DEFAULT_TIMEOUT_MS) */
    int connect_timeout_ms;      /* NET_DEFAULT_CONNECT_TIMEOUT_MS */
    size_t max_response;         /* NET_DEFAULT_MAX_RESPONSE */
    int idempotent;              /* 1: may be retried (GET defaults to 1, others to 0) */
    int retries;                 /* extra attempts when idempotent (default 2) */

    /* ---- result: set before done() runs ---- */
    enum net_err err;
    long status;                 /* HTTP status (or the last SMTP reply code); 0 when none */
    char *resp_body;             /* NUL-terminated (NUL not counted), NULL when empty */
    size_t resp_len;
    struct net_resp_header resp_headers[NET_MAX_RESP_HEADERS]; /* of the final attempt */
    size_t n_resp_headers;
    int attempts;
    int64_t duration_ms;         /* first attempt start to completion, backoff included */

    /* ---- private ---- */
    net_done_fn done;
    struct net_exec *exec;
    struct net_call *next;
    void *priv;
};

/* Zeroes c and sets provider, method, url (copied) and the defaults above. */
void net_call_init(struct net_call *c, const char *provider, const char *method, const char *url);
/* Adds a request header "name: value" (copied). Aborts past NET_MAX_HEADERS (a bug). */
void net_call_header(struct net_call *c, const char *name, const char *value);
/* Sets the request body (copied) and, when content_type is not NULL, its Content-Type. */
void net_call_body(struct net_call *c, const char *content_type, const char *body, size_t len);
/* Value of a response header by lower-case name, or NULL. */
const char *net_resp_header(const struct net_call *c, const char *lname);
/* Frees everything the call owns (request and result) and zeroes it. Not the call itself. */
void net_call_release(struct net_call *c);

/*
 * The process's client: starts its thread. max_inflight bounds queued + running calls
 * (past it, submissions complete at once with NET_SHUTDOWN). Returns NULL with *err set
 * (caller frees) when libcurl or the thread cannot start.
 */
struct net_client *net_client_start(size_t max_inflight, char **err);
/* Cancels what is still running (those calls complete with NET_SHUTDOWN), joins, frees. */
void net_client_stop(struct net_client *cl);

/*
 * One per submitting thread (each HTTP loop, the dispatcher...): where finished calls wait
 * for their done(). `wake` is called from the client thread when completions were queued
 * on an empty queue; the owner then calls net_exec_drain() on its own thread.
 * client NULL makes a synchronous executor: net_exec_submit performs the call at once with
 * curl_easy_perform (blocking: for the CLI and tests, never for a loop) and runs done()
 * before returning.
 */
struct net_exec {
    struct net_client *client;
    void (*wake)(void *arg);
    void *wake_arg;
    pthread_mutex_t mu; /* guards the three below */
    struct net_call *done_head, *done_tail;
    int wake_pending;
    uint64_t inflight; /* submitted, done() not yet run (owner thread only) */
};

void net_exec_init(struct net_exec *ex, struct net_client *client, void (*wake)(void *arg), void *wake_arg);
void net_exec_dispose(struct net_exec *ex);
/* Submits c; done(c) runs later on the owner's thread (through net_exec_drain), exactly once. */
void net_exec_submit(struct net_exec *ex, struct net_call *c, net_done_fn done);
/* Runs done() of every finished call queued for this executor. */
void net_exec_drain(struct net_exec *ex);

/* Counters for /metrics: calls finished, by outcome. */
struct net_stats {
    uint64_t calls, ok_2xx, http_4xx, http_5xx, failed, retries;
};
void net_stats_get(struct net_stats *out);

#endif
