/*
 * xfer.c - one call's libcurl transfer: the options every call gets (the policy of net.h),
 * the callbacks that bound what comes back, how an attempt's outcome becomes an error, and
 * whether it is tried again. Used by the client thread (client.c) and by the synchronous
 * executor (net.c) alike, so both behave the same.
 */
#include "net/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "core/mem.h"
#include "core/timeutil.h"

#define NET_USER_AGENT "tollgate/" TG_VERSION

/* Frees the response headers kept so far. */
static void xfer_clear_headers(struct net_call *c)
{
    for (size_t i = 0; i < c->n_resp_headers; i++) {
        free(c->resp_headers[i].name);
        free(c->resp_headers[i].value);
        c->resp_headers[i].name = c->resp_headers[i].value = NULL;
    }
    c->n_resp_headers = 0;
}

/* Writes a 2xx body chunk to the call's file (net_call_save_to). Returns len, or 0 to abort. */
static size_t xfer_save(struct net_xfer *x, const char *p, size_t len)
{
    size_t off = 0;
    while (off < len) {
        ssize_t k = write(x->save_fd, p + off, len - off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            x->save_failed = 1;
            return 0;
        }
        off += (size_t)k;
    }
    x->len += len;
    return len;
}

static size_t xfer_on_body(char *p, size_t size, size_t n, void *arg)
{
    struct net_xfer *x = arg;
    size_t len = size * n;
    if (len > x->max - x->len) {
        x->too_large = 1;
        return 0; /* anything but len aborts the transfer */
    }
    if (x->call->save_path != NULL && x->save_state == 0) {
        long status = 0;
        curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
        x->save_state = status >= 200 && status <= 299 ? 1 : 2;
    }
    if (x->save_state == 1)
        return xfer_save(x, p, len);
    if (x->len + len + 1 > x->cap) {
        size_t cap = x->cap ? x->cap : 4096;
        while (cap < x->len + len + 1)
            cap *= 2;
        if (cap > x->max + 1)
            cap = x->max + 1;
        x->buf = xrealloc(x->buf, cap);
        x->cap = cap;
    }
    memcpy(x->buf + x->len, p, len);
    x->len += len;
    return len;
}

/* 1 when a response with this status carries no body whatever its Content-Length says. */
static int xfer_status_has_no_body(long status)
{
    return status < 200 || status == 204 || status == 304;
}

static size_t xfer_on_header(char *p, size_t size, size_t n, void *arg)
{
    struct net_xfer *x = arg;
    struct net_call *c = x->call;
    size_t len = size * n;
    const char *name, *value;
    size_t nlen, vlen;

    if (x->is_smtp)
        return len; /* server replies, not headers */
    if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) {
        /* A new response (after a 1xx): only the final one's headers are kept. */
        xfer_clear_headers(c);
        x->hdr_bytes = 0;
        return len;
    }
    if (net_header_split(p, len, &name, &nlen, &value, &vlen) != 0)
        return len;
    if (nlen == 14 && strncasecmp(name, "content-length", 14) == 0 && !x->is_head) {
        long status = 0;
        uint64_t cl;
        curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
        /* Refused before any of the body is read when it says it is too large. */
        if (!xfer_status_has_no_body(status) && net_parse_uint(value, vlen, (uint64_t)x->max, &cl) == 1) {
            x->too_large = 1;
            return 0;
        }
    }
    if (c->n_resp_headers >= NET_MAX_RESP_HEADERS || nlen + vlen > NET_MAX_RESP_HEADER_BYTES - x->hdr_bytes)
        return len; /* dropped: the bound is on what we keep, not on what the server sends */
    char *lname = xstrndup(name, nlen);
    for (char *q = lname; *q; q++)
        if (*q >= 'A' && *q <= 'Z')
            *q = (char)(*q - 'A' + 'a');
    c->resp_headers[c->n_resp_headers].name = lname;
    c->resp_headers[c->n_resp_headers].value = xstrndup(value, vlen);
    c->n_resp_headers++;
    x->hdr_bytes += nlen + vlen;
    return len;
}

static size_t xfer_on_read(char *buf, size_t size, size_t n, void *arg)
{
    struct net_xfer *x = arg;
    const struct net_call *c = x->call;
    size_t room = size * n, left = c->body_len - x->read_off;
    size_t k = left < room ? left : room;
    memcpy(buf, c->body + x->read_off, k);
    x->read_off += k;
    return k;
}

static size_t xfer_on_read_file(char *buf, size_t size, size_t n, void *arg)
{
    struct net_xfer *x = arg;
    size_t k = fread(buf, 1, size * n, x->in);
    if (k == 0 && ferror(x->in))
        return CURL_READFUNC_ABORT;
    return k;
}

static int xfer_has_crlf(const char *s)
{
    return s != NULL && strpbrk(s, "\r\n") != NULL;
}

/* 1 when the method is 1 to 7 upper-case letters. */
static int xfer_method_ok(const char *m)
{
    size_t n = strlen(m);
    if (n == 0 || n >= sizeof((struct net_call *)0)->method)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (m[i] < 'A' || m[i] > 'Z')
            return 0;
    return 1;
}

/* 1 when one of the call's headers is named name (case-insensitive). */
static int xfer_has_header(const struct net_call *c, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < c->n_headers; i++)
        if (strncasecmp(c->headers[i], name, n) == 0 && (c->headers[i][n] == ':' || c->headers[i][n] == ';'))
            return 1;
    return 0;
}

#define SETOPT(opt, val)                                                                                     \
    do {                                                                                                     \
        if (curl_easy_setopt(e, opt, val) != CURLE_OK)                                                       \
            goto cleanup;                                                                                    \
    } while (0)

enum net_err net_xfer_setup(struct net_call *c)
{
    enum net_err ret = NET_ERROR;
    struct net_xfer *x = xcalloc(1, sizeof *x);
    char *scheme = NULL, *host = NULL;
    CURL *e;

    c->priv = x;
    x->call = c;
    x->save_fd = -1;
    x->max = c->max_response > 0 ? c->max_response : NET_DEFAULT_MAX_RESPONSE;
    if (x->max > SIZE_MAX / 4)
        x->max = SIZE_MAX / 4; /* keeps the buffer arithmetic far from overflow */
    x->retries = c->retries < 0 ? 0 : c->retries > NET_MAX_RETRIES ? NET_MAX_RETRIES : c->retries;
    if (c->url == NULL)
        goto cleanup;
    x->url = curl_url();
    if (x->url == NULL || curl_url_set(x->url, CURLUPART_URL, c->url, 0) != CURLUE_OK ||
        curl_url_get(x->url, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(x->url, CURLUPART_HOST, &host, 0) != CURLUE_OK)
        goto cleanup;
    if (strcmp(scheme, "smtp") == 0 || strcmp(scheme, "smtps") == 0)
        x->is_smtp = 1;
    else if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)
        goto cleanup; /* file://, ftp://, gopher://...: never */
    for (size_t i = 0; i < c->n_headers; i++)
        if (xfer_has_crlf(c->headers[i]))
            goto cleanup;
    if (x->is_smtp) {
        if (c->mail_from == NULL || c->mail_rcpt == NULL || c->mail_rcpt[0] == '\0' || c->body == NULL ||
            xfer_has_crlf(c->mail_from) || xfer_has_crlf(c->mail_rcpt))
            goto cleanup;
    } else if (!xfer_method_ok(c->method)) {
        goto cleanup;
    }

    x->easy = e = curl_easy_init();
    if (e == NULL)
        goto cleanup;
    SETOPT(CURLOPT_CURLU, x->url);
    /* The policy: only these protocols, no redirect, TLS always verified. */
    SETOPT(CURLOPT_PROTOCOLS_STR, x->is_smtp ? "smtp,smtps" : "http,https");
    SETOPT(CURLOPT_REDIR_PROTOCOLS_STR, x->is_smtp ? "smtp,smtps" : "http,https");
    SETOPT(CURLOPT_FOLLOWLOCATION, 0L);
    SETOPT(CURLOPT_SSL_VERIFYPEER, 1L);
    SETOPT(CURLOPT_SSL_VERIFYHOST, 2L);
    SETOPT(CURLOPT_NOSIGNAL, 1L); /* threads: no SIGALRM for DNS timeouts */
    SETOPT(CURLOPT_TIMEOUT_MS, (long)(c->timeout_ms > 0 ? c->timeout_ms : NET_DEFAULT_TIMEOUT_MS));
    SETOPT(CURLOPT_CONNECTTIMEOUT_MS,
           (long)(c->connect_timeout_ms > 0 ? c->connect_timeout_ms : NET_DEFAULT_CONNECT_TIMEOUT_MS));
    SETOPT(CURLOPT_PRIVATE, (void *)c);
    SETOPT(CURLOPT_WRITEFUNCTION, xfer_on_body);
    SETOPT(CURLOPT_WRITEDATA, (void *)x);
    SETOPT(CURLOPT_HEADERFUNCTION, xfer_on_header);
    SETOPT(CURLOPT_HEADERDATA, (void *)x);

    for (size_t i = 0; i < c->n_headers; i++) {
        struct curl_slist *l = curl_slist_append(x->hdrs, c->headers[i]);
        if (l == NULL)
            goto cleanup;
        x->hdrs = l;
    }
    if (x->is_smtp) {
        x->rcpt = curl_slist_append(NULL, c->mail_rcpt);
        if (x->rcpt == NULL)
            goto cleanup;
        SETOPT(CURLOPT_USE_SSL, net_smtp_use_ssl(scheme, host));
        SETOPT(CURLOPT_MAIL_FROM, c->mail_from);
        SETOPT(CURLOPT_MAIL_RCPT, x->rcpt);
        SETOPT(CURLOPT_UPLOAD, 1L);
        SETOPT(CURLOPT_READFUNCTION, xfer_on_read);
        SETOPT(CURLOPT_READDATA, (void *)x);
        SETOPT(CURLOPT_INFILESIZE_LARGE, (curl_off_t)c->body_len);
    } else {
        /* Expect: 100-continue costs a round trip per large body and some APIs refuse it. */
        if (!xfer_has_header(c, "Expect")) {
            struct curl_slist *l = curl_slist_append(x->hdrs, "Expect:");
            if (l == NULL)
                goto cleanup;
            x->hdrs = l;
        }
        SETOPT(CURLOPT_HTTPHEADER, x->hdrs);
        SETOPT(CURLOPT_USERAGENT, NET_USER_AGENT);
        if (strcmp(c->method, "GET") == 0) {
            SETOPT(CURLOPT_HTTPGET, 1L);
        } else if (strcmp(c->method, "HEAD") == 0) {
            x->is_head = 1;
            SETOPT(CURLOPT_NOBODY, 1L);
        } else if (c->body_path != NULL) {
            struct stat st;
            x->in = fopen(c->body_path, "rbe");
            if (x->in == NULL || fstat(fileno(x->in), &st) != 0 || !S_ISREG(st.st_mode))
                goto cleanup;
            x->in_size = (int64_t)st.st_size;
            SETOPT(CURLOPT_READFUNCTION, xfer_on_read_file);
            SETOPT(CURLOPT_READDATA, (void *)x);
            if (strcmp(c->method, "POST") == 0) {
                SETOPT(CURLOPT_POST, 1L);
                SETOPT(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->in_size);
            } else {
                SETOPT(CURLOPT_UPLOAD, 1L);
                SETOPT(CURLOPT_INFILESIZE_LARGE, (curl_off_t)x->in_size);
                if (strcmp(c->method, "PUT") != 0)
                    SETOPT(CURLOPT_CUSTOMREQUEST, c->method);
            }
        } else if (c->body == NULL && strcmp(c->method, "POST") != 0) {
            SETOPT(CURLOPT_CUSTOMREQUEST, c->method); /* DELETE and the like: no body at all */
        } else {
            SETOPT(CURLOPT_POSTFIELDS, c->body != NULL ? c->body : "");
            SETOPT(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)c->body_len);
            if (strcmp(c->method, "POST") != 0)
                SETOPT(CURLOPT_CUSTOMREQUEST, c->method);
        }
    }
    ret = NET_OK;
cleanup:
    curl_free(scheme);
    curl_free(host);
    return ret;
}

#undef SETOPT

void net_xfer_begin_attempt(struct net_xfer *x)
{
    struct net_call *c = x->call;
    if (c->attempts == 0)
        x->start_ns = time_mono_ns();
    c->attempts++;
    c->status = 0;
    xfer_clear_headers(c);
    x->hdr_bytes = 0;
    x->len = 0;
    x->read_off = 0;
    x->too_large = 0;
    x->save_state = 0;
    if (x->in != NULL)
        rewind(x->in); /* a retry sends the whole file again */
    if (c->save_path != NULL) {
        if (x->save_fd >= 0)
            close(x->save_fd);
        x->save_fd = open(c->save_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
        x->save_failed = x->save_fd < 0;
    }
}

enum net_err net_err_from_curl(CURLcode rc, int too_large, int is_smtp, long status)
{
    if (rc == CURLE_OK)
        return NET_OK;
    if (too_large)
        return NET_TOO_LARGE;
    /* libcurl reports a refused MAIL FROM, RCPT TO or DATA as a send or receive error;
     * the reply code says it was a refusal. */
    if (is_smtp && status >= 400)
        return NET_PROTOCOL;
    switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
        return NET_TIMEOUT;
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
        return NET_CONNECT;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_USE_SSL_FAILED: /* STARTTLS required and not offered */
        return NET_TLS;
    case CURLE_FILESIZE_EXCEEDED:
        return NET_TOO_LARGE;
    case CURLE_UNSUPPORTED_PROTOCOL: /* the scheme was checked: this is an HTTP/0.9-like answer */
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_HTTP3:
    case CURLE_PARTIAL_FILE:
    case CURLE_BAD_CONTENT_ENCODING:
    case CURLE_LOGIN_DENIED:
    case CURLE_RANGE_ERROR:
    case CURLE_UPLOAD_FAILED:
        return NET_PROTOCOL;
    default:
        return NET_ERROR;
    }
}

enum net_err net_xfer_result(struct net_xfer *x, CURLcode rc)
{
    long status = 0;
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
    x->call->status = status;
    if (x->save_failed)
        return NET_ERROR; /* the file could not be opened or written: not worth a retry */
    return net_err_from_curl(rc, x->too_large, x->is_smtp, status);
}

int64_t net_xfer_retry_delay_ms(const struct net_xfer *x, enum net_err err, int64_t now_ms)
{
    const struct net_call *c = x->call;
    int64_t ceiling;

    /* A message must not be sent twice, nor a non-idempotent request applied twice. */
    if (x->is_smtp || !c->idempotent || c->attempts > x->retries)
        return -1;
    if (err == NET_OK && (c->status == 429 || (c->status >= 500 && c->status <= 599))) {
        const char *ra = net_resp_header(c, "retry-after");
        int64_t wait;
        if (ra != NULL && net_retry_after_ms(ra, strlen(ra), now_ms, &wait) == 0)
            return wait <= NET_RETRY_AFTER_MAX_MS ? wait : -1;
    } else if (err != NET_CONNECT && err != NET_TIMEOUT) {
        return -1;
    }
    /* Full jitter (a uniform wait below an exponential ceiling): retries of many callers
     * that failed together spread out instead of arriving together again. */
    ceiling = net_backoff_ceiling_ms(c->attempts);
    return (int64_t)randombytes_uniform((uint32_t)ceiling + 1);
}

void net_finish(struct net_call *c, enum net_err err)
{
    struct net_xfer *x = c->priv;
    c->err = err;
    if (x != NULL && x->start_ns != 0)
        c->duration_ms = (time_mono_ns() - x->start_ns) / 1000000;
    if (x != NULL && x->save_fd >= 0) {
        int keep = err == NET_OK && c->status >= 200 && c->status <= 299;
        if (close(x->save_fd) != 0 && keep) {
            keep = 0;
            c->err = err = NET_ERROR;
        }
        x->save_fd = -1;
        if (keep) {
            c->resp_len = x->len;
            x->len = 0; /* nothing in memory to hand over */
        } else {
            unlink(c->save_path);
        }
    } else if (x == NULL && c->save_path != NULL) {
        unlink(c->save_path); /* never started: no file of ours should be there */
    }
    if (x != NULL && x->in != NULL) {
        fclose(x->in);
        x->in = NULL;
    }
    if (x != NULL && x->len > 0 && err == NET_OK) {
        x->buf[x->len] = '\0';
        c->resp_body = x->buf;
        c->resp_len = x->len;
        x->buf = NULL;
    }
    net_log_call(c, x != NULL ? x->url : NULL);
    net_stats_note_call(c);
    if (x != NULL) {
        if (x->easy != NULL)
            curl_easy_cleanup(x->easy);
        curl_url_cleanup(x->url);
        curl_slist_free_all(x->hdrs);
        curl_slist_free_all(x->rcpt);
        free(x->buf);
        free(x);
        c->priv = NULL;
    }
}
