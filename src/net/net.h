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
 *   - only the http, https, smtp and smtps protocols, and redirects are never followed (the
 *     providers' APIs do not redirect: a 3xx comes back as it is);
 *   - a connect timeout and a total timeout per attempt; a response larger than max_response
 *     bytes is aborted (NET_TOO_LARGE), at once when its Content-Length says so;
 *   - retries (at most `retries` more attempts, with exponential backoff and full jitter -
 *     base 200 ms, cap 5 s - waiting on the client thread's timers, never sleeping) only for
 *     calls marked idempotent, only on connection failures, timeouts, 429 and 5xx. A
 *     Retry-After on such an answer (seconds or an HTTP-date) is waited for when it is at
 *     most 30 s; a longer one means no retry: the answer is returned as it is;
 *   - one log line per call (event "net_call"): provider, method, host, path (never the
 *     query string nor userinfo), status or error, attempts and duration; info, or warn for
 *     an error or a 5xx. Never a header value, a body, a token or a secret.
 *
 * SMTP (smtp:// and smtps:// URLs): body is the whole RFC 5322 message, sent with the
 * envelope mail_from and mail_rcpt (one recipient). smtps:// is implicit TLS. smtp:// requires
 * STARTTLS (the call fails with NET_TLS when the server does not offer it), except when the
 * URL's host is a loopback address (127.0.0.0/8, ::1, localhost): a local relay commonly
 * has no TLS, so STARTTLS is then used only when offered. TLS is verified either way. SMTP
 * calls are never retried (a message must not be sent twice); status is the last SMTP reply
 * code, and a refusal (a 4xx or 5xx reply) is NET_PROTOCOL.
 *
 * Proxies: libcurl's environment variables (https_proxy, no_proxy, ...) are honoured.
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
    NET_CONNECT,   /* DNS, refused, reset, closed without an answer */
    NET_TLS,       /* handshake or verification failure; STARTTLS required and not offered */
    NET_TOO_LARGE, /* response body over max_response */
    NET_PROTOCOL,  /* malformed answer, SMTP refusal */
    NET_SHUTDOWN,  /* the client is stopping or its queue is full: not sent */
    NET_ERROR,     /* anything else (a malformed call: bad URL, protocol not allowed, CR/LF in a header) */
};

#define NET_MAX_HEADERS 32             /* request headers a call may add */
#define NET_MAX_RESP_HEADERS 64        /* response headers kept (others dropped) */
#define NET_MAX_RESP_HEADER_BYTES 8192 /* names + values of the kept response headers */
#define NET_DEFAULT_TIMEOUT_MS 10000
#define NET_DEFAULT_CONNECT_TIMEOUT_MS 3000
#define NET_DEFAULT_MAX_RESPONSE (1024 * 1024)
#define NET_DEFAULT_RETRIES 2
#define NET_MAX_RETRIES 5     /* retries is clamped to this */
#define NET_RETRY_BASE_MS 200 /* backoff: a random wait in [0, min(cap, base * 2^n)] */
#define NET_RETRY_CAP_MS 5000
#define NET_RETRY_AFTER_MAX_MS 30000 /* a longer Retry-After means no retry */

struct net_resp_header {
    char *name; /* lower-case */
    char *value;
};

struct net_call {
    /* ---- request: filled by net_call_init and the caller; owned by the call ---- */
    const char *provider;           /* static string for the log line ("google") */
    char method[8];                 /* "GET", "POST", ... (ignored for smtp:// URLs) */
    char *url;                      /* http(s):// or smtp(s):// */
    char *headers[NET_MAX_HEADERS]; /* "Name: value", added with net_call_header */
    size_t n_headers;
    char *body; /* request body (or the whole RFC 5322 message for SMTP) */
    size_t body_len;
    char *mail_from;        /* SMTP envelope sender (smtp:// URLs only) */
    char *mail_rcpt;        /* SMTP envelope recipient (one) */
    int timeout_ms;         /* total per attempt (NET_DEFAULT_TIMEOUT_MS; <= 0: the default) */
    int connect_timeout_ms; /* NET_DEFAULT_CONNECT_TIMEOUT_MS (<= 0: the default) */
    size_t max_response;    /* NET_DEFAULT_MAX_RESPONSE (0: the default) */
    char *body_path;        /* net_call_body_file: the request body is this file's bytes */
    char *save_path;        /* net_call_save_to: a 2xx answer's body goes to this file */
    int idempotent;         /* 1: may be retried (GET and HEAD default to 1, others to 0) */
    int retries;            /* extra attempts when idempotent (default 2, at most NET_MAX_RETRIES) */

    /* ---- result: set before done() runs ---- */
    enum net_err err;
    long status;     /* HTTP status (or the last SMTP reply code) of the final
                      * attempt; 0 when none. Only an answer when err == NET_OK
                      * (or, for SMTP, the code of the refusing reply). */
    char *resp_body; /* NUL-terminated (NUL not counted), NULL when empty or saved to a file */
    size_t resp_len; /* body bytes (also when saved to a file) */
    struct net_resp_header resp_headers[NET_MAX_RESP_HEADERS]; /* of the final attempt */
    size_t n_resp_headers;
    int attempts;
    int64_t duration_ms; /* first attempt start to completion, backoff included */

    /* ---- private ---- */
    net_done_fn done;
    struct net_exec *exec;
    struct net_call *next;
    void *priv;
};

/*
 * Once per process, before any thread uses the network (curl_global_init), and at exit
 * after every client has stopped (curl_global_cleanup). init returns 0 or -1.
 */
int net_global_init(void);
void net_global_cleanup(void);

/* Zeroes c and sets provider, method, url (copied) and the defaults above. A method longer
 * than 7 characters is a bug (abort). */
void net_call_init(struct net_call *c, const char *provider, const char *method, const char *url);
/*
 * Adds a request header "name: value" (copied). An empty value removes a header libcurl
 * would send by itself ("Expect", "Accept"). Aborts past NET_MAX_HEADERS (a bug). A CR or LF
 * in name or value makes the call fail with NET_ERROR when submitted (never sent).
 */
void net_call_header(struct net_call *c, const char *name, const char *value);
/* Sets the request body (copied; a second call replaces it) and, when content_type is not
 * NULL, adds its Content-Type header. GET and HEAD never send a body. */
void net_call_body(struct net_call *c, const char *content_type, const char *body, size_t len);
/*
 * Streams the request body from the file at path (copied) instead of memory: the client
 * opens it when the call starts (a missing or unreadable file fails the call with
 * NET_ERROR, unsent), sends its size as Content-Length and reads it as it goes, from the
 * start again on a retry. Adds Content-Type when content_type is not NULL. Replaces a body
 * set with net_call_body. For PUT and POST (and other methods with a body); the file must
 * not change while the call is in flight. The file is left in place.
 */
void net_call_body_file(struct net_call *c, const char *content_type, const char *path);
/*
 * Writes the body of a 2xx answer to the file at path (copied; created with mode 0600,
 * truncated at each attempt) instead of memory: resp_body stays NULL and resp_len counts
 * the bytes written. max_response still bounds it (NET_TOO_LARGE). The file is removed
 * before done() runs unless the call ended with err == NET_OK and a 2xx status, so the
 * caller never finds a partial file; a non-2xx answer's body comes in memory as usual.
 * Writing to the file fails the call with NET_ERROR (disk full, bad folder).
 */
void net_call_save_to(struct net_call *c, const char *path);
/* Sets the SMTP envelope (both copied). */
void net_call_mail(struct net_call *c, const char *from, const char *rcpt);
/* Value of a response header by lower-case name (the first one), or NULL. */
const char *net_resp_header(const struct net_call *c, const char *lname);
/* Frees everything the call owns (request and result) and zeroes it. Not the call itself. */
void net_call_release(struct net_call *c);
/* "ok", "timeout", "connect", "tls", "too_large", "protocol", "shutdown", "error". */
const char *net_err_name(enum net_err e);

/*
 * The process's client: starts its thread. max_inflight bounds queued + running calls
 * (past it, submissions complete at once with NET_SHUTDOWN). Returns NULL with *err set
 * (caller frees) when libcurl or the thread cannot start. net_global_init must have run.
 */
struct net_client *net_client_start(size_t max_inflight, char **err);
/*
 * Cancels what is still queued, running or waiting for a retry (those calls complete with
 * NET_SHUTDOWN, through their executors as usual), joins the thread and frees cl. Calls
 * submitted while it runs complete at once with NET_SHUTDOWN; nothing may submit to cl
 * once it has returned (stop the submitting threads first).
 */
void net_client_stop(struct net_client *cl);

/*
 * One per submitting thread (each HTTP loop, the dispatcher...): where finished calls wait
 * for their done(). `wake` is called from the client thread when completions were queued
 * on an empty queue; the owner then calls net_exec_drain() on its own thread.
 * client NULL makes a synchronous executor: net_exec_submit performs the call at once with
 * curl_easy_perform (blocking, retry waits included: for the CLI and tests, never for a
 * loop) and runs done() before returning.
 */
struct net_exec {
    struct net_client *client;
    void (*wake)(void *arg);
    void *wake_arg;
    pthread_mutex_t mu; /* guards the three below: held for a few pointer moves only */
    struct net_call *done_head, *done_tail;
    int wake_pending;  /* a wake was sent and the owner has not taken the queue since */
    uint64_t inflight; /* submitted, done() not yet run (owner thread only) */
};

/* Sets up ex on its owner's thread. client (borrowed) must outlive ex, or be NULL. */
void net_exec_init(struct net_exec *ex, struct net_client *client, void (*wake)(void *arg), void *wake_arg);
/* Releases ex; nothing may be in flight (inflight == 0). */
void net_exec_dispose(struct net_exec *ex);
/*
 * Submits c (fresh from net_call_init: a finished call is released and initialised again
 * before it is reused). done(c) runs later on the owner's thread, through net_exec_drain,
 * exactly once. A call the client refuses (it is stopping, or max_inflight calls are in
 * flight) is never sent and completes at once with NET_SHUTDOWN: done(c) runs before this
 * returns. A malformed call completes with NET_ERROR like any other, unsent. So nothing may
 * touch c after submitting it except through done(); done() owns c again and may release
 * and free it.
 */
void net_exec_submit(struct net_exec *ex, struct net_call *c, net_done_fn done);
/* Runs done() of every finished call queued for this executor. Call it on the owner's
 * thread when woken, after consuming the wake (so that the next completion sends a new one). */
void net_exec_drain(struct net_exec *ex);

/* Counters for /metrics since start (process-wide): calls finished, by outcome; an HTTP
 * answer is counted by its status class (SMTP replies too), anything else as failed. */
struct net_stats {
    uint64_t calls, ok_2xx, http_3xx, http_4xx, http_5xx, failed, retries;
};
void net_stats_get(struct net_stats *out);

#endif
