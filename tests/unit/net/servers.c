/*
 * servers.c - the in-process peers of test_net.c (see servers.h).
 */
#include "servers.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#define SRV_MAX_RECORDS 4096
#define SRV_HEAD_MAX 65536

static int listen_on(const char *addr, int *port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t sl = sizeof sa;
    int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1 || bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        listen(fd, 512) != 0 || getsockname(fd, (struct sockaddr *)&sa, &sl) != 0) {
        close(fd);
        return -1;
    }
    *port = ntohs(sa.sin_port);
    return fd;
}

/* accept(2) that gives up every 100 ms to look at *stop. Returns the fd or -1 when stopping. */
static int accept_until(int lfd, _Atomic int *stop)
{
    while (!atomic_load(stop)) {
        struct pollfd p = {.fd = lfd, .events = POLLIN};
        if (poll(&p, 1, 100) <= 0)
            continue;
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd >= 0)
            return fd;
    }
    return -1;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* ---- HTTP ---- */

static struct {
    int lfd, port, tls_lfd, tls_port;
    pthread_t acceptor, tls_acceptor;
    _Atomic int stop, conns, tls_accepts;
    pthread_mutex_t mu;
    struct srv_request *recs[SRV_MAX_RECORDS];
    size_t nrecs;
    SSL_CTX *tls;
} H = {.mu = PTHREAD_MUTEX_INITIALIZER};

int srv_http_port(void)
{
    return H.port;
}

int srv_tls_port(void)
{
    return H.tls_port;
}

int srv_tls_accepts(void)
{
    return atomic_load(&H.tls_accepts);
}

static int hits_locked(const char *target)
{
    int n = 0;
    for (size_t i = 0; i < H.nrecs; i++)
        n += strcmp(H.recs[i]->target, target) == 0;
    return n;
}

int srv_hits(const char *target)
{
    pthread_mutex_lock(&H.mu);
    int n = hits_locked(target);
    pthread_mutex_unlock(&H.mu);
    return n;
}

static struct srv_request *request_copy(const struct srv_request *r)
{
    struct srv_request *c = calloc(1, sizeof *c);
    memcpy(c, r, sizeof *c);
    c->head = strdup(r->head);
    c->body = malloc(r->body_len + 1);
    memcpy(c->body, r->body, r->body_len + 1);
    return c;
}

struct srv_request *srv_last(const char *target)
{
    struct srv_request *c = NULL;
    pthread_mutex_lock(&H.mu);
    for (size_t i = H.nrecs; i-- > 0;)
        if (strcmp(H.recs[i]->target, target) == 0) {
            c = request_copy(H.recs[i]);
            break;
        }
    pthread_mutex_unlock(&H.mu);
    return c;
}

void srv_request_free(struct srv_request *r)
{
    if (r == NULL)
        return;
    free(r->head);
    free(r->body);
    free(r);
}

/* Records r and returns how many requests had its target before it (its hit index). */
static int record(struct srv_request *r)
{
    pthread_mutex_lock(&H.mu);
    int before = hits_locked(r->target);
    if (H.nrecs < SRV_MAX_RECORDS)
        H.recs[H.nrecs++] = r;
    else
        srv_request_free(r);
    pthread_mutex_unlock(&H.mu);
    return before;
}

/* The request being answered on this thread is a HEAD: the head only. */
static __thread int head_only;

static int send_response(int fd, int status, const char *extra, const char *body, size_t len)
{
    char *head = NULL;
    int n =
        asprintf(&head, "HTTP/1.1 %d X\r\nContent-Length: %zu\r\n%s\r\n", status, len, extra ? extra : "");
    int rc = n < 0 ? -1 : write_all(fd, head, (size_t)n);
    free(head);
    if (rc != 0)
        return -1;
    return len && !head_only ? write_all(fd, body, len) : 0;
}

/* Answers one request; returns 0 to keep the connection, -1 to close it. */
static int answer(int fd, const struct srv_request *r, int hit)
{
    char path[1024], name[256];
    int n = 0;
    snprintf(path, sizeof path, "%s", r->target);
    head_only = strcmp(r->method, "HEAD") == 0;
    path[strcspn(path, "?")] = '\0';

    if (strcmp(path, "/ok") == 0)
        return send_response(fd, 200, "X-Test: yes\r\nX-Empty:\r\n", "hello", 5);
    if (strcmp(path, "/echo") == 0)
        return send_response(fd, 200, NULL, r->body, r->body_len);
    if (strcmp(path, "/target") == 0)
        return send_response(fd, 200, NULL, r->target, strlen(r->target));
    if (sscanf(path, "/status/%d", &n) == 1)
        return send_response(fd, n, NULL, "s", 1);
    if (sscanf(path, "/flaky/%d/%255s", &n, name) == 2)
        return hit < n ? send_response(fd, 503, NULL, "busy", 4)
                       : send_response(fd, 200, NULL, "recovered", 9);
    if (sscanf(path, "/retry-after/%d/%255s", &n, name) == 2) {
        char h[64];
        snprintf(h, sizeof h, "Retry-After: %d\r\n", n);
        return hit == 0 ? send_response(fd, 503, h, "later", 5) : send_response(fd, 200, NULL, "ok", 2);
    }
    if (sscanf(path, "/retry-date/%d/%255s", &n, name) == 2) {
        char h[96], d[64];
        time_t t = time(NULL) + n;
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(d, sizeof d, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        snprintf(h, sizeof h, "Retry-After: %s\r\n", d);
        return hit == 0 ? send_response(fd, 429, h, "later", 5) : send_response(fd, 200, NULL, "ok", 2);
    }
    if (sscanf(path, "/sleep/%d/%255s", &n, name) == 2) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, n) != 0)
            return -1; /* the client closed (or sent something unexpected) */
        return send_response(fd, 200, NULL, "slept", 5);
    }
    if (strncmp(path, "/close/", 7) == 0)
        return -1;
    if (strcmp(path, "/garbage") == 0) {
        const char *g = "SSH-2.0-OpenSSH_9.2\r\n\r\n";
        write_all(fd, g, strlen(g));
        return -1;
    }
    if (sscanf(path, "/big/%d", &n) == 1) {
        char *b = malloc((size_t)n + 1);
        memset(b, 'x', (size_t)n);
        int rc = send_response(fd, 200, NULL, b, (size_t)n);
        free(b);
        return rc;
    }
    if (sscanf(path, "/bigchunked/%d", &n) == 1) {
        const char *h = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
        char chunk[600];
        memset(chunk, 'y', sizeof chunk);
        if (write_all(fd, h, strlen(h)) != 0)
            return -1;
        while (n > 0) {
            int k = n > 500 ? 500 : n;
            char sz[16];
            snprintf(sz, sizeof sz, "%x\r\n", k);
            if (write_all(fd, sz, strlen(sz)) != 0 || write_all(fd, chunk, (size_t)k) != 0 ||
                write_all(fd, "\r\n", 2) != 0)
                return -1;
            n -= k;
        }
        return write_all(fd, "0\r\n\r\n", 5);
    }
    if (sscanf(path, "/headers/%d", &n) == 1) {
        size_t cap = (size_t)n * 220 + 1, len = 0;
        char *h = malloc(cap);
        char v[201];
        memset(v, 'v', 200);
        v[200] = '\0';
        h[0] = '\0';
        for (int i = 0; i < n; i++)
            len += (size_t)snprintf(h + len, cap - len, "X-H%d: %s\r\n", i, v);
        int rc = send_response(fd, 200, h, "h", 1);
        free(h);
        return rc;
    }
    if (strcmp(path, "/redirect") == 0) {
        char h[128];
        snprintf(h, sizeof h, "Location: http://127.0.0.1:%d/ok\r\n", H.port);
        return send_response(fd, 302, h, "moved", 5);
    }
    return send_response(fd, 404, NULL, "nf", 2);
}

static void *http_conn(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char *buf = malloc(SRV_HEAD_MAX);
    size_t have = 0;
    for (;;) {
        char *end = NULL;
        while ((end = have ? memmem(buf, have, "\r\n\r\n", 4) : NULL) == NULL) {
            if (have == SRV_HEAD_MAX)
                goto done;
            ssize_t k = recv(fd, buf + have, SRV_HEAD_MAX - have, 0);
            if (k <= 0)
                goto done;
            have += (size_t)k;
        }
        size_t hlen = (size_t)(end - buf) + 4, clen = 0;
        struct srv_request *r = calloc(1, sizeof *r);
        r->head = malloc(hlen + 1);
        memcpy(r->head, buf, hlen);
        r->head[hlen] = '\0';
        sscanf(r->head, "%15s %1023s", r->method, r->target);
        for (char *l = strstr(r->head, "\r\n"); l != NULL; l = strstr(l + 2, "\r\n"))
            if (strncasecmp(l + 2, "Content-Length:", 15) == 0)
                clen = strtoul(l + 17, NULL, 10);
        r->body = malloc(clen + 1);
        size_t got = have - hlen < clen ? have - hlen : clen;
        memcpy(r->body, buf + hlen, got);
        while (got < clen) {
            ssize_t k = recv(fd, r->body + got, clen - got, 0);
            if (k <= 0) {
                srv_request_free(r);
                goto done;
            }
            got += (size_t)k;
        }
        r->body[clen] = '\0';
        r->body_len = clen;
        size_t used = hlen + (have - hlen < clen ? have - hlen : clen);
        memmove(buf, buf + used, have - used);
        have -= used;
        struct srv_request *copy = request_copy(r);
        int hit = record(r);
        int rc = answer(fd, copy, hit);
        srv_request_free(copy);
        if (rc != 0)
            break;
    }
done:
    free(buf);
    close(fd);
    atomic_fetch_sub(&H.conns, 1);
    return NULL;
}

static void *http_acceptor(void *arg)
{
    (void)arg;
    int fd;
    while ((fd = accept_until(H.lfd, &H.stop)) >= 0) {
        pthread_t t;
        atomic_fetch_add(&H.conns, 1);
        if (pthread_create(&t, NULL, http_conn, (void *)(intptr_t)fd) != 0) {
            close(fd);
            atomic_fetch_sub(&H.conns, 1);
            continue;
        }
        pthread_detach(t);
    }
    return NULL;
}

/* A self-signed P-256 certificate for 127.0.0.1, made now: no client trusts it. */
static SSL_CTX *tls_ctx_selfsigned(void)
{
    EVP_PKEY *pk = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, pk);
    X509_NAME *n = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"127.0.0.1", -1, -1, 0);
    X509_set_issuer_name(x, n);
    X509_sign(x, pk, EVP_sha256());
    if (ctx == NULL || SSL_CTX_use_certificate(ctx, x) != 1 || SSL_CTX_use_PrivateKey(ctx, pk) != 1) {
        SSL_CTX_free(ctx);
        ctx = NULL;
    }
    X509_free(x);
    EVP_PKEY_free(pk);
    return ctx;
}

static void *tls_acceptor(void *arg)
{
    (void)arg;
    int fd;
    while ((fd = accept_until(H.tls_lfd, &H.stop)) >= 0) {
        atomic_fetch_add(&H.tls_accepts, 1);
        SSL *ssl = SSL_new(H.tls);
        SSL_set_fd(ssl, fd);
        if (SSL_accept(ssl) == 1) {
            char b[256];
            (void)SSL_read(ssl, b, sizeof b); /* never reached when the client verifies */
        }
        SSL_free(ssl);
        close(fd);
    }
    return NULL;
}

int srv_http_start(int tls)
{
    H.lfd = listen_on("127.0.0.1", &H.port);
    if (H.lfd < 0 || pthread_create(&H.acceptor, NULL, http_acceptor, NULL) != 0)
        return -1;
    if (!tls)
        return 0;
    H.tls = tls_ctx_selfsigned();
    H.tls_lfd = listen_on("127.0.0.1", &H.tls_port);
    if (H.tls == NULL || H.tls_lfd < 0 || pthread_create(&H.tls_acceptor, NULL, tls_acceptor, NULL) != 0)
        return -1;
    return 0;
}

void srv_http_stop(void)
{
    atomic_store(&H.stop, 1);
    pthread_join(H.acceptor, NULL);
    close(H.lfd);
    if (H.tls) {
        pthread_join(H.tls_acceptor, NULL);
        close(H.tls_lfd);
        SSL_CTX_free(H.tls);
    }
    /* Connection threads end when their clients close (sleeping ones included). */
    for (int i = 0; i < 500 && atomic_load(&H.conns) > 0; i++) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    pthread_mutex_lock(&H.mu);
    for (size_t i = 0; i < H.nrecs; i++)
        srv_request_free(H.recs[i]);
    H.nrecs = 0;
    pthread_mutex_unlock(&H.mu);
}

/* ---- SMTP ---- */

struct smtp_srv {
    int lfd, port;
    pthread_t tid;
    _Atomic int stop;
    pthread_mutex_t mu;
    char *from, *rcpt, *data;
    int mails;
};

int smtp_port(const struct smtp_srv *s)
{
    return s->port;
}

static const char *smtp_get(struct smtp_srv *s, char **field)
{
    /* The strings are replaced only by the next transaction; tests read them after theirs. */
    pthread_mutex_lock(&s->mu);
    const char *v = *field;
    pthread_mutex_unlock(&s->mu);
    return v;
}

const char *smtp_mail_from(struct smtp_srv *s)
{
    return smtp_get(s, &s->from);
}

const char *smtp_rcpt(struct smtp_srv *s)
{
    return smtp_get(s, &s->rcpt);
}

const char *smtp_data(struct smtp_srv *s)
{
    return smtp_get(s, &s->data);
}

int smtp_commands(struct smtp_srv *s)
{
    pthread_mutex_lock(&s->mu);
    int n = s->mails;
    pthread_mutex_unlock(&s->mu);
    return n;
}

/* Reads one CRLF line into out (without the CRLF). Returns its length or -1. */
static long smtp_line(int fd, char *buf, size_t *have, char *out, size_t cap)
{
    for (;;) {
        char *nl = *have ? memmem(buf, *have, "\r\n", 2) : NULL;
        if (nl != NULL) {
            size_t n = (size_t)(nl - buf);
            if (n >= cap)
                return -1;
            memcpy(out, buf, n);
            out[n] = '\0';
            memmove(buf, nl + 2, *have - n - 2);
            *have -= n + 2;
            return (long)n;
        }
        if (*have == 8192)
            return -1;
        ssize_t k = recv(fd, buf + *have, 8192 - *have, 0);
        if (k <= 0)
            return -1;
        *have += (size_t)k;
    }
}

static void smtp_session(struct smtp_srv *s, int fd)
{
    char buf[8192], line[4096];
    size_t have = 0;
    char *msg = NULL;
    size_t mlen = 0;
    const char *hello = "220 test ESMTP\r\n";
    if (write_all(fd, hello, strlen(hello)) != 0)
        return;
    while (smtp_line(fd, buf, &have, line, sizeof line) >= 0) {
        const char *reply = "250 OK\r\n";
        if (strncasecmp(line, "EHLO", 4) == 0) {
            reply = "250-test\r\n250 8BITMIME\r\n"; /* no STARTTLS */
        } else if (strncasecmp(line, "MAIL FROM:", 10) == 0) {
            pthread_mutex_lock(&s->mu);
            free(s->from);
            s->from = strdup(line);
            s->mails++;
            pthread_mutex_unlock(&s->mu);
        } else if (strncasecmp(line, "RCPT TO:", 8) == 0) {
            pthread_mutex_lock(&s->mu);
            free(s->rcpt);
            s->rcpt = strdup(line);
            pthread_mutex_unlock(&s->mu);
            if (strstr(line, "reject") != NULL)
                reply = "550 5.1.1 no such user\r\n";
        } else if (strcasecmp(line, "DATA") == 0) {
            const char *go = "354 go ahead\r\n";
            if (write_all(fd, go, strlen(go)) != 0)
                return;
            long n;
            while ((n = smtp_line(fd, buf, &have, line, sizeof line)) >= 0 && strcmp(line, ".") != 0) {
                const char *l = line[0] == '.' ? line + 1 : line; /* dot-unstuffing */
                size_t k = strlen(l);
                msg = realloc(msg, mlen + k + 3);
                memcpy(msg + mlen, l, k);
                memcpy(msg + mlen + k, "\r\n", 3);
                mlen += k + 2;
            }
            if (n < 0)
                break;
            pthread_mutex_lock(&s->mu);
            free(s->data);
            s->data = msg ? msg : strdup("");
            msg = NULL;
            mlen = 0;
            pthread_mutex_unlock(&s->mu);
            reply = "250 2.0.0 queued\r\n";
        } else if (strcasecmp(line, "QUIT") == 0) {
            write_all(fd, "221 bye\r\n", 9);
            break;
        }
        if (write_all(fd, reply, strlen(reply)) != 0)
            break;
    }
    free(msg);
}

static void *smtp_main(void *arg)
{
    struct smtp_srv *s = arg;
    int fd;
    while ((fd = accept_until(s->lfd, &s->stop)) >= 0) {
        smtp_session(s, fd);
        close(fd);
    }
    return NULL;
}

struct smtp_srv *smtp_start(const char *addr)
{
    struct smtp_srv *s = calloc(1, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
    s->lfd = listen_on(addr, &s->port);
    if (s->lfd < 0 || pthread_create(&s->tid, NULL, smtp_main, s) != 0) {
        if (s->lfd >= 0)
            close(s->lfd);
        free(s);
        return NULL;
    }
    return s;
}

void smtp_stop(struct smtp_srv *s)
{
    if (s == NULL)
        return;
    atomic_store(&s->stop, 1);
    pthread_join(s->tid, NULL);
    close(s->lfd);
    free(s->from);
    free(s->rcpt);
    free(s->data);
    pthread_mutex_destroy(&s->mu);
    free(s);
}
