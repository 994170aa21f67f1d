/*
 * internal.h - what the files of src/net share: the transfer of one call (xfer.c), the
 * pure parsers (parse.c), the completion path (net.c). Nothing outside src/net includes it
 * except the unit and fuzz tests.
 */
#ifndef TG_NET_INTERNAL_H
#define TG_NET_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <curl/curl.h>

#include "net/net.h"

/* Longest Retry-After value looked at (an IMF-fixdate is 29 characters). */
#define NET_RETRY_AFTER_TEXT_MAX 64

/* ---- parse.c: pure functions (fuzzed by tests/fuzz/fuzz_net_parse.c) ---- */

/*
 * Splits one response header line line[0..len) ("Name: value", CRLF or LF optional) into a
 * name (RFC 9110 token characters, at least one, the colon right after it) and a value with
 * surrounding spaces and tabs removed (may be empty). Returns 0, or -1 when the line is not a
 * field line (a status line, the blank line, an obs-fold continuation, a bad name, a NUL,
 * CR or LF inside the value).
 */
int net_header_split(const char *line, size_t len, const char **name, size_t *nlen, const char **value,
                     size_t *vlen);
/*
 * Parses s[0..len) as a decimal number made of digits only (at least one). Returns 0 with
 * *out set when it is at most max, 1 when it is larger (*out = max), -1 when malformed.
 */
int net_parse_uint(const char *s, size_t len, uint64_t max, uint64_t *out);
/*
 * The wait a Retry-After value v[0..len) asks for, in ms from now_ms (wall clock): the
 * delay-seconds form, or an HTTP-date (any of RFC 9110's three formats, as libcurl's
 * curl_getdate reads them; a date in the past is 0). Spaces and tabs around are ignored.
 * Returns 0 with *delay_ms set (>= 0, capped at one day), or -1 when v is neither.
 */
int net_retry_after_ms(const char *v, size_t len, int64_t now_ms, int64_t *delay_ms);
/* 1 when host (as in a URL: "127.0.0.1", "[::1]", "localhost") is a loopback address
 * (127.0.0.0/8, ::1, or the name localhost in any case), else 0. */
int net_host_is_loopback(const char *host);
/*
 * CURLOPT_USE_SSL for an SMTP URL with this scheme ("smtp" or "smtps") and host:
 * CURLUSESSL_ALL (TLS required: STARTTLS for smtp://, implicit for smtps://), except
 * CURLUSESSL_TRY for smtp:// to a loopback host (a local relay commonly has no TLS).
 */
long net_smtp_use_ssl(const char *scheme, const char *host);
/* The ceiling of the n-th backoff wait (n >= 1): min(NET_RETRY_CAP_MS, NET_RETRY_BASE_MS *
 * 2^(n-1)); the wait is drawn uniformly in [0, ceiling] (full jitter). */
int64_t net_backoff_ceiling_ms(int n);

/* ---- xfer.c: one call's libcurl transfer ---- */

/* The private state of a call being performed (net_call.priv). */
struct net_xfer {
    struct net_call *call;
    CURL *easy;
    CURLU *url; /* parsed once; also what libcurl connects to (CURLOPT_CURLU) */
    struct curl_slist *hdrs, *rcpt;
    char *buf;            /* response body of the current attempt */
    size_t len, cap, max; /* max: the call's effective max_response */
    size_t read_off;      /* SMTP: bytes of the message already handed to libcurl */
    size_t hdr_bytes;     /* kept response header bytes of the current attempt */
    int too_large, is_smtp, is_head;
    FILE *in;             /* net_call_body_file: the open body file */
    int64_t in_size;
    int save_fd;          /* net_call_save_to: the file of this attempt, or -1 */
    int save_state;       /* per attempt: 0 undecided, 1 writing to the file, 2 to memory */
    int save_failed;      /* a write to the file failed (the call ends in NET_ERROR) */
    int retries;                  /* effective (clamped) */
    int64_t start_ns, due_ns;     /* first attempt's start; when a waiting retry is due */
    struct net_xfer *prev, *next; /* the client's list of running transfers */
    struct net_xfer *wnext;       /* the client's list of waiting retries */
};

/*
 * Creates c->priv and its easy handle with every option of the policy. Returns NET_OK, or
 * NET_ERROR for a malformed call (bad or disallowed URL, bad method, CR/LF in a header or
 * an address, SMTP without envelope or message), when c->priv may still be set (freed by
 * net_finish).
 */
enum net_err net_xfer_setup(struct net_call *c);
/* Before each attempt: counts it, clears the previous attempt's result. */
void net_xfer_begin_attempt(struct net_xfer *x);
/* After an attempt ended with rc: sets the call's status and returns its error. */
enum net_err net_xfer_result(struct net_xfer *x, CURLcode rc);
/* The error of an attempt that ended with rc (too_large: our size cap aborted it; status:
 * the last status or SMTP reply code). */
enum net_err net_err_from_curl(CURLcode rc, int too_large, int is_smtp, long status);
/*
 * Whether the attempt that just ended with err is retried, and after how long: the wait
 * in ms (>= 0), or -1 for no retry. now_ms is the wall clock (for an HTTP-date Retry-After).
 */
int64_t net_xfer_retry_delay_ms(const struct net_xfer *x, enum net_err err, int64_t now_ms);
/*
 * Ends the call with err: moves the response body into the call, sets err and
 * duration_ms, writes the log line, counts it, frees the transfer (its easy handle must no
 * longer be in a multi handle). c->priv may be NULL (a call never started).
 */
void net_finish(struct net_call *c, enum net_err err);

/* ---- net.c ---- */

/* Hands a finished call to its executor's done queue (client thread). */
void net_exec_deliver(struct net_call *c);
void net_stats_note_call(const struct net_call *c);
void net_stats_note_retry(void);
/* The log line of a finished call (url: its parsed URL, or NULL to parse c->url). */
void net_log_call(const struct net_call *c, CURLU *url);

/* ---- client.c ---- */

/* Queues c on the client thread. Returns 0, or -1 when the client is stopping or full. */
int net_client_submit(struct net_client *cl, struct net_call *c);

#endif
