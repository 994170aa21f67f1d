/*
 * net.c - building calls, the executors that hand finished calls back to their thread,
 * the synchronous executor, the log line and the counters (see net.h).
 */
#include "net/net.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "net/internal.h"

/* ---- process-wide ---- */

static _Atomic uint64_t net_n_calls, net_n_2xx, net_n_3xx, net_n_4xx, net_n_5xx, net_n_failed, net_n_retries;

int net_global_init(void)
{
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

void net_global_cleanup(void)
{
    curl_global_cleanup();
}

void net_stats_note_call(const struct net_call *c)
{
    _Atomic uint64_t *slot;
    long cls = c->status / 100;
    if (c->err != NET_OK)
        slot = &net_n_failed;
    else if (cls == 2)
        slot = &net_n_2xx;
    else if (cls == 4)
        slot = &net_n_4xx;
    else if (cls == 5)
        slot = &net_n_5xx;
    else
        slot = &net_n_3xx;
    atomic_fetch_add_explicit(slot, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&net_n_calls, 1, memory_order_relaxed);
}

void net_stats_note_retry(void)
{
    atomic_fetch_add_explicit(&net_n_retries, 1, memory_order_relaxed);
}

void net_stats_get(struct net_stats *out)
{
    out->calls = atomic_load_explicit(&net_n_calls, memory_order_relaxed);
    out->ok_2xx = atomic_load_explicit(&net_n_2xx, memory_order_relaxed);
    out->http_3xx = atomic_load_explicit(&net_n_3xx, memory_order_relaxed);
    out->http_4xx = atomic_load_explicit(&net_n_4xx, memory_order_relaxed);
    out->http_5xx = atomic_load_explicit(&net_n_5xx, memory_order_relaxed);
    out->failed = atomic_load_explicit(&net_n_failed, memory_order_relaxed);
    out->retries = atomic_load_explicit(&net_n_retries, memory_order_relaxed);
}

const char *net_err_name(enum net_err e)
{
    switch (e) {
    case NET_OK:
        return "ok";
    case NET_TIMEOUT:
        return "timeout";
    case NET_CONNECT:
        return "connect";
    case NET_TLS:
        return "tls";
    case NET_TOO_LARGE:
        return "too_large";
    case NET_PROTOCOL:
        return "protocol";
    case NET_SHUTDOWN:
        return "shutdown";
    case NET_ERROR:
        break;
    }
    return "error";
}

/*
 * The one line per call. Host and path come from libcurl's own URL parser (the one that
 * chose where to connect), so the line names what was really called; the query string,
 * fragment, userinfo, headers and bodies are never read here.
 */
void net_log_call(const struct net_call *c, CURLU *url)
{
    CURLU *own = NULL;
    char *host = NULL, *path = NULL, *scheme = NULL;
    char status[24], attempts[16], dur[24];
    int smtp;

    if (url == NULL && c->url != NULL) {
        own = curl_url();
        if (own != NULL && curl_url_set(own, CURLUPART_URL, c->url, 0) == CURLUE_OK)
            url = own;
    }
    if (url != NULL) {
        curl_url_get(url, CURLUPART_HOST, &host, 0);
        curl_url_get(url, CURLUPART_PATH, &path, 0);
        curl_url_get(url, CURLUPART_SCHEME, &scheme, 0);
    }
    smtp = scheme != NULL && (strcmp(scheme, "smtp") == 0 || strcmp(scheme, "smtps") == 0);
    snprintf(status, sizeof status, "%ld", c->status);
    snprintf(attempts, sizeof attempts, "%d", c->attempts);
    snprintf(dur, sizeof dur, "%lld", (long long)c->duration_ms);
    log_event(c->err != NET_OK || c->status >= 500 ? LOG_WARN : LOG_INFO, "net_call", "provider", c->provider,
              "method", smtp ? "SMTP" : c->method, "host", host, "path", path, "status",
              c->status != 0 ? status : NULL, "error", c->err != NET_OK ? net_err_name(c->err) : NULL,
              "attempts", attempts, "duration_ms", dur, NULL);
    curl_free(host);
    curl_free(path);
    curl_free(scheme);
    curl_url_cleanup(own);
}

/* ---- calls ---- */

void net_call_init(struct net_call *c, const char *provider, const char *method, const char *url)
{
    memset(c, 0, sizeof *c);
    size_t n = strlen(method);
    if (n >= sizeof c->method)
        abort(); /* a bug: no HTTP method we use is that long */
    memcpy(c->method, method, n + 1);
    c->provider = provider;
    c->url = url != NULL ? xstrdup(url) : NULL;
    c->timeout_ms = NET_DEFAULT_TIMEOUT_MS;
    c->connect_timeout_ms = NET_DEFAULT_CONNECT_TIMEOUT_MS;
    c->max_response = NET_DEFAULT_MAX_RESPONSE;
    c->idempotent = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    c->retries = NET_DEFAULT_RETRIES;
}

void net_call_header(struct net_call *c, const char *name, const char *value)
{
    if (c->n_headers >= NET_MAX_HEADERS)
        abort(); /* a bug: no provider needs that many */
    /* "Name;" is libcurl's way of sending a header with an empty value; "Name:" removes one.
     * We only ever want the removal for an empty value (net.h). */
    c->headers[c->n_headers++] = xasprintf("%s: %s", name, value);
    if (value[0] == '\0')
        c->headers[c->n_headers - 1][strlen(name) + 1] = '\0';
}

void net_call_body(struct net_call *c, const char *content_type, const char *body, size_t len)
{
    free(c->body);
    c->body = xmalloc(len + 1);
    if (len > 0)
        memcpy(c->body, body, len);
    c->body[len] = '\0';
    c->body_len = len;
    if (content_type != NULL)
        net_call_header(c, "Content-Type", content_type);
}

void net_call_body_file(struct net_call *c, const char *content_type, const char *path)
{
    free(c->body);
    c->body = NULL;
    c->body_len = 0;
    free(c->body_path);
    c->body_path = xstrdup(path);
    if (content_type != NULL)
        net_call_header(c, "Content-Type", content_type);
}

void net_call_save_to(struct net_call *c, const char *path)
{
    free(c->save_path);
    c->save_path = xstrdup(path);
}

void net_call_mail(struct net_call *c, const char *from, const char *rcpt)
{
    free(c->mail_from);
    free(c->mail_rcpt);
    c->mail_from = xstrdup(from);
    c->mail_rcpt = xstrdup(rcpt);
}

const char *net_resp_header(const struct net_call *c, const char *lname)
{
    for (size_t i = 0; i < c->n_resp_headers; i++)
        if (strcmp(c->resp_headers[i].name, lname) == 0)
            return c->resp_headers[i].value;
    return NULL;
}

void net_call_release(struct net_call *c)
{
    free(c->url);
    for (size_t i = 0; i < c->n_headers; i++)
        free(c->headers[i]);
    free(c->body);
    free(c->body_path);
    free(c->save_path);
    free(c->mail_from);
    free(c->mail_rcpt);
    free(c->resp_body);
    for (size_t i = 0; i < c->n_resp_headers; i++) {
        free(c->resp_headers[i].name);
        free(c->resp_headers[i].value);
    }
    /* c->priv is NULL here: it lives only while the call is performed (net_finish frees it
     * before done() runs), and a call may not be released while in flight. */
    memset(c, 0, sizeof *c);
}

/* ---- executors ---- */

void net_exec_init(struct net_exec *ex, struct net_client *client, void (*wake)(void *arg), void *wake_arg)
{
    memset(ex, 0, sizeof *ex);
    ex->client = client;
    ex->wake = wake;
    ex->wake_arg = wake_arg;
    pthread_mutex_init(&ex->mu, NULL);
}

void net_exec_dispose(struct net_exec *ex)
{
    pthread_mutex_destroy(&ex->mu);
}

void net_exec_deliver(struct net_call *c)
{
    struct net_exec *ex = c->exec;
    c->next = NULL;
    pthread_mutex_lock(&ex->mu);
    int need_wake = !ex->wake_pending;
    ex->wake_pending = 1;
    if (ex->done_tail)
        ex->done_tail->next = c;
    else
        ex->done_head = c;
    ex->done_tail = c;
    pthread_mutex_unlock(&ex->mu);
    /* One wake until the owner takes the queue: it drains everything queued by then. */
    if (need_wake && ex->wake)
        ex->wake(ex->wake_arg);
}

/* Performs c on this thread, retry waits included (sleeping: never on a loop). */
static void net_perform_sync(struct net_call *c)
{
    enum net_err err = net_xfer_setup(c);
    struct net_xfer *x = c->priv;
    while (err == NET_OK) {
        net_xfer_begin_attempt(x);
        err = net_xfer_result(x, curl_easy_perform(x->easy));
        int64_t wait = net_xfer_retry_delay_ms(x, err, time_now_ms());
        if (wait < 0)
            break;
        net_stats_note_retry();
        struct timespec ts = {.tv_sec = wait / 1000, .tv_nsec = (wait % 1000) * 1000000L};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
            ;
    }
    net_finish(c, err);
}

void net_exec_submit(struct net_exec *ex, struct net_call *c, net_done_fn done)
{
    c->done = done;
    c->exec = ex;
    c->next = NULL;
    c->err = NET_OK;
    c->status = 0;
    c->attempts = 0;
    c->duration_ms = 0;
    ex->inflight++;
    if (ex->client == NULL) {
        net_perform_sync(c);
    } else {
        if (net_client_submit(ex->client, c) == 0)
            return;
        /* Refused (stopping, or max_inflight reached): never sent. */
        net_finish(c, NET_SHUTDOWN);
    }
    ex->inflight--;
    c->done(c);
}

void net_exec_drain(struct net_exec *ex)
{
    /* One take per wake: completions queued after it send a wake of their own, so the
     * wake is never sent again while it is still in flight. */
    pthread_mutex_lock(&ex->mu);
    struct net_call *list = ex->done_head;
    ex->done_head = ex->done_tail = NULL;
    ex->wake_pending = 0;
    pthread_mutex_unlock(&ex->mu);
    while (list != NULL) {
        struct net_call *c = list;
        list = c->next;
        c->next = NULL;
        ex->inflight--;
        c->done(c); /* may free c */
    }
}
