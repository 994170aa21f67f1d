/*
 * servers.h - the in-process peers of test_net.c: a tiny scriptable HTTP/1.1 server, a
 * TLS server with a self-signed certificate made at start, and a minimal SMTP responder.
 * Each runs on threads of its own on 127.0.0.1 (or a given address), port chosen by the
 * kernel, and records what it received.
 *
 * HTTP routes (by path, query ignored for routing; every request is recorded):
 *   /ok                      200 "hello" with X-Test: yes
 *   /echo                    200 with the request body
 *   /target                  200 with the request target (path and query) as body
 *   /status/NNN              NNN, body "s"
 *   /flaky/N/name            503 for the first N hits of this path, then 200 "recovered"
 *   /retry-after/S/name      first hit 503 with "Retry-After: S", then 200
 *   /retry-date/S/name       first hit 503 with Retry-After an HTTP-date S seconds ahead, then 200
 *   /sleep/MS/name           answers 200 after MS ms (at once when the client closes)
 *   /close/name              closes the connection without answering
 *   /garbage                 answers something that is not HTTP
 *   /big/N, /bigchunked/N    200 with N bytes, sized or chunked
 *   /headers/N               200 with N headers "X-H<i>: <200 bytes>"
 *   /redirect                302 to /ok
 */
#ifndef TG_TEST_NET_SERVERS_H
#define TG_TEST_NET_SERVERS_H

#include <stddef.h>

struct srv_request {
    char method[16];
    char target[1024];
    char *head; /* the request head as received, CRLFs included */
    char *body;
    size_t body_len;
};

/* The HTTP server (tls = 1: the TLS server, which only handshakes and closes). */
int srv_http_start(int tls);
int srv_http_port(void);
int srv_tls_port(void);
void srv_http_stop(void);
/* Requests whose target is exactly `target` so far. */
int srv_hits(const char *target);
/* A copy of the last request with this target (caller frees with srv_request_free), or NULL. */
struct srv_request *srv_last(const char *target);
void srv_request_free(struct srv_request *r);
/* Connections the TLS server accepted. */
int srv_tls_accepts(void);

/* The SMTP responder on addr (dotted IPv4), or -1. */
struct smtp_srv;
struct smtp_srv *smtp_start(const char *addr);
int smtp_port(const struct smtp_srv *s);
void smtp_stop(struct smtp_srv *s);
/* What the last transaction carried: "MAIL FROM:..." and "RCPT TO:..." lines as received, and
 * the message (dot-unstuffed, without the final "."). NULL before one arrived. */
const char *smtp_mail_from(struct smtp_srv *s);
const char *smtp_rcpt(struct smtp_srv *s);
const char *smtp_data(struct smtp_srv *s);
int smtp_commands(struct smtp_srv *s); /* MAIL FROM commands received */

#endif
