/*
 * s3.c - the S3 backend: AWS S3 and Aliyun OSS (its S3-compatible API, same SigV4), for
 * presigned client URLs and server-side PUTs (storage.h).
 *
 * Addressing: virtual-hosted (https://<bucket>.<endpoint>/<key>) by default, as AWS S3
 * recommends and OSS requires; path-style (https://<endpoint>/<bucket>/<key>) when the
 * endpoint is an IP address or localhost (a local S3-compatible server has no wildcard DNS).
 * Keys are storage_key_valid, so they never need percent-encoding in the path.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/mem.h"
#include "core/timeutil.h"
#include "net/net.h"
#include "providers/storage/internal.h"
#include "providers/storage/sigv4.h"

int storage_s3_endpoint(struct storage_backend *b, const char *url)
{
    const char *rest;
    char host[256];
    if (strncmp(url, "https://", 8) == 0) {
        b->scheme = xstrdup("https");
        rest = url + 8;
    } else if (strncmp(url, "http://", 7) == 0) {
        b->scheme = xstrdup("http");
        rest = url + 7;
    } else {
        return -1;
    }
    size_t n = strcspn(rest, "/?#");
    if (n == 0 || n >= sizeof host || rest[n] != '\0' || strchr(rest, '@') != NULL)
        return -1;
    memcpy(host, rest, n);
    host[n] = '\0';
    b->endpoint_host = xstrdup(host);
    /* The host without its port, to recognise an IP literal. */
    char bare[256];
    if (host[0] == '[') {
        b->path_style = 1;
    } else {
        size_t k = strcspn(host, ":");
        memcpy(bare, host, k);
        bare[k] = '\0';
        unsigned char tmp[16];
        b->path_style = inet_pton(AF_INET, bare, tmp) == 1 || strcasecmp(bare, "localhost") == 0;
    }
    return 0;
}

int storage_origin(const struct storage_backend *b, char *out, size_t cap)
{
    if (b->kind != STORAGE_S3)
        return -1;
    int n = b->path_style ? snprintf(out, cap, "%s://%s", b->scheme, b->endpoint_host)
                          : snprintf(out, cap, "%s://%s.%s", b->scheme, b->bucket, b->endpoint_host);
    return n < 0 || (size_t)n >= cap ? -1 : n;
}

/* Host header and URI path of key in b (new strings). */
static void s3_locate(const struct storage_backend *b, const char *key, char **host, char **path)
{
    if (b->path_style) {
        *host = xstrdup(b->endpoint_host);
        *path = xasprintf("/%s/%s", b->bucket, key);
    } else {
        *host = xasprintf("%s.%s", b->bucket, b->endpoint_host);
        *path = xasprintf("/%s", key);
    }
}

static void s3_cred(const struct storage_backend *b, struct sigv4_cred *c)
{
    c->access_key_id = b->access_key_id;
    c->secret_access_key = b->secret_access_key;
    c->region = b->region;
    c->service = "s3";
}

char *storage_s3_presign(const struct storage_backend *b, const char *method, const char *key,
                         const char *content_type, int64_t size, int64_t now_s, int64_t ttl_s)
{
    struct sigv4_cred cred;
    struct sigv4_kv h[3];
    char date[SIGV4_DATE_LEN + 1], len[24], *host, *path, *q, *url = NULL;
    size_t nh = 0;
    int put = strcmp(method, "PUT") == 0;

    if (!storage_key_valid(key) || ttl_s < 1 || ttl_s > STORAGE_URL_TTL_MAX_S)
        return NULL;
    s3_cred(b, &cred);
    s3_locate(b, key, &host, &path);
    sigv4_amz_date(now_s, date);
    if (put) {
        /* Signed, so the bucket refuses another type or size (S3 checks signed headers). */
        snprintf(len, sizeof len, "%lld", (long long)size);
        h[nh++] = (struct sigv4_kv){"content-length", len};
        h[nh++] = (struct sigv4_kv){"content-type", content_type};
    }
    h[nh++] = (struct sigv4_kv){"host", host};
    struct sigv4_req r = {.method = method, .path = path, .headers = h, .n_headers = nh};
    q = sigv4_presign_query(&cred, date, ttl_s, &r, 1);
    if (q != NULL)
        url = xasprintf("%s://%s%s?%s", b->scheme, host, path, q);
    free(q);
    free(host);
    free(path);
    return url;
}

/* ---- server-side PUT ---- */

struct s3_put {
    struct net_call call; /* first: done() gets it back */
    char *tmp_path;
    void (*done)(void *arg, int ok);
    void *arg;
};

static void s3_put_done(struct net_call *c)
{
    struct s3_put *p = (struct s3_put *)c;
    int ok = c->err == NET_OK && c->status >= 200 && c->status <= 299;
    unlink(p->tmp_path);
    free(p->tmp_path);
    void (*done)(void *, int) = p->done;
    void *arg = p->arg;
    net_call_release(c);
    free(p);
    done(arg, ok);
}

void storage_s3_put_file(const struct storage_backend *b, struct net_exec *nx, const char *key,
                         const char *content_type, const char *tmp_path, void (*done)(void *arg, int ok),
                         void *arg)
{
    struct sigv4_cred cred;
    struct stat st;
    char date[SIGV4_DATE_LEN + 1], *host, *path, *url, *auth;
    struct s3_put *p = xcalloc(1, sizeof *p);

    p->tmp_path = xstrdup(tmp_path);
    p->done = done;
    p->arg = arg;
    s3_cred(b, &cred);
    s3_locate(b, key, &host, &path);
    url = xasprintf("%s://%s%s", b->scheme, host, path);
    net_call_init(&p->call, b->name, "PUT", url);
    free(url);
    /* A file of a few hundred MiB over a slow link: minutes, not the API default. */
    p->call.timeout_ms = 10 * 60 * 1000;
    /* A PUT of the same bytes to the same key is idempotent: retrying it is safe. */
    p->call.idempotent = 1;
    if (!storage_key_valid(key) || stat(tmp_path, &st) != 0) {
        free(host);
        free(path);
        net_call_release(&p->call);
        net_call_init(&p->call, b->name, "PUT", NULL); /* fails as NET_ERROR, unsent */
        net_exec_submit(nx, &p->call, s3_put_done);
        return;
    }
    sigv4_amz_date(time_now_ms() / 1000, date);
    /* The body is not hashed (UNSIGNED-PAYLOAD, which S3 and OSS accept over TLS): reading
     * the whole file once more only to sign it would double the disk work. */
    struct sigv4_kv h[] = {
        {"content-type", content_type},
        {"host", host},
        {"x-amz-content-sha256", "UNSIGNED-PAYLOAD"},
        {"x-amz-date", date},
    };
    struct sigv4_req r = {.method = "PUT", .path = path, .headers = h, .n_headers = 4,
                          .payload_hash = "UNSIGNED-PAYLOAD"};
    auth = sigv4_authorization(&cred, date, &r);
    net_call_body_file(&p->call, content_type, tmp_path);
    net_call_header(&p->call, "x-amz-content-sha256", "UNSIGNED-PAYLOAD");
    net_call_header(&p->call, "x-amz-date", date);
    net_call_header(&p->call, "Authorization", auth);
    free(auth);
    free(host);
    free(path);
    net_exec_submit(nx, &p->call, s3_put_done);
}
