/*
 * sigv4.c - AWS Signature Version 4 (see sigv4.h).
 *
 * The four steps of the signing process:
 *   1. canonical request: method, URI path, sorted encoded query, sorted lower-case headers
 *      with trimmed values, the signed header list, the payload hash - joined by '\n';
 *   2. string to sign: "AWS4-HMAC-SHA256", the date, the scope date/region/service/aws4_request,
 *      hex SHA-256 of the canonical request;
 *   3. signing key: HMAC chain "AWS4"+secret -> date -> region -> service -> "aws4_request";
 *   4. signature: hex HMAC of the string to sign under that key.
 */
#include "providers/storage/sigv4.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "core/mem.h"
#include "crypto/encode.h"
#include "crypto/hash.h"

void sigv4_amz_date(int64_t t, char out[SIGV4_DATE_LEN + 1])
{
    struct tm tm;
    time_t tt = (time_t)t;
    gmtime_r(&tt, &tm);
    strftime(out, SIGV4_DATE_LEN + 1, "%Y%m%dT%H%M%SZ", &tm);
}

/* One encoded name=value pair of the canonical query. */
struct sigv4_pair {
    char *name;
    char *value;
};

static char *sigv4_pct(const char *s)
{
    size_t n = strlen(s);
    char *out = xmalloc(pct_encoded_len(s, n) + 1);
    pct_encode(s, n, out);
    return out;
}

static int sigv4_pair_cmp(const void *a, const void *b)
{
    const struct sigv4_pair *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c != 0 ? c : strcmp(x->value, y->value);
}

/* Encoded and sorted query of n raw pairs, joined with '&' (new string). */
static char *sigv4_query_string(const struct sigv4_kv *q, size_t n)
{
    struct sigv4_pair p[SIGV4_MAX_ITEMS + 8];
    struct sbuf b = {0};
    for (size_t i = 0; i < n; i++) {
        p[i].name = sigv4_pct(q[i].name);
        p[i].value = sigv4_pct(q[i].value ? q[i].value : "");
    }
    qsort(p, n, sizeof p[0], sigv4_pair_cmp);
    sbuf_puts(&b, "");
    for (size_t i = 0; i < n; i++) {
        sbuf_printf(&b, "%s%s=%s", i ? "&" : "", p[i].name, p[i].value);
        free(p[i].name);
        free(p[i].value);
    }
    return b.data;
}

/* A header's canonical value: blanks around trimmed, runs of blanks inside made one space. */
static void sigv4_header_value(struct sbuf *b, const char *v)
{
    int pending_space = 0, started = 0;
    for (; *v; v++) {
        if (*v == ' ' || *v == '\t') {
            pending_space = started;
            continue;
        }
        if (pending_space)
            sbuf_append(b, " ", 1);
        pending_space = 0;
        started = 1;
        sbuf_append(b, v, 1);
    }
}

static int sigv4_pair_name_cmp(const void *a, const void *b)
{
    const struct sigv4_pair *x = a, *y = b;
    return strcmp(x->name, y->name);
}

char *sigv4_canonical_request(const struct sigv4_req *r, char **signed_headers)
{
    struct sigv4_pair h[SIGV4_MAX_ITEMS];
    struct sbuf b = {0}, sh = {0};
    char *q;

    if (signed_headers)
        *signed_headers = NULL;
    if (r->n_query > SIGV4_MAX_ITEMS || r->n_headers > SIGV4_MAX_ITEMS)
        return NULL;
    for (size_t i = 0; i < r->n_headers; i++) {
        struct sbuf v = {0};
        h[i].name = xstrdup(r->headers[i].name);
        for (char *c = h[i].name; *c; c++)
            *c = (char)tolower((unsigned char)*c);
        sbuf_puts(&v, "");
        sigv4_header_value(&v, r->headers[i].value);
        h[i].value = v.data;
    }
    /* A stable order keeps repeated headers in the order given: their values join with ','. */
    for (size_t i = 1; i < r->n_headers; i++)
        for (size_t j = i; j > 0 && sigv4_pair_name_cmp(&h[j - 1], &h[j]) > 0; j--) {
            struct sigv4_pair t = h[j];
            h[j] = h[j - 1];
            h[j - 1] = t;
        }
    q = sigv4_query_string(r->query, r->n_query);
    sbuf_printf(&b, "%s\n%s\n%s\n", r->method, r->path, q);
    free(q);
    sbuf_puts(&sh, "");
    for (size_t i = 0; i < r->n_headers; i++) {
        if (i > 0 && strcmp(h[i].name, h[i - 1].name) == 0) {
            sbuf_printf(&b, ",%s", h[i].value);
            continue;
        }
        sbuf_printf(&b, "%s%s:%s", i ? "\n" : "", h[i].name, h[i].value);
        sbuf_printf(&sh, "%s%s", sh.len ? ";" : "", h[i].name);
    }
    sbuf_printf(&b, "\n\n%s\n%s", sh.data, r->payload_hash);
    for (size_t i = 0; i < r->n_headers; i++) {
        free(h[i].name);
        free(h[i].value);
    }
    if (signed_headers)
        *signed_headers = sh.data;
    else
        sbuf_free(&sh);
    return b.data;
}

/* "20130524/us-east-1/s3/aws4_request" */
static char *sigv4_scope(const struct sigv4_cred *c, const char *amz_date)
{
    return xasprintf("%.8s/%s/%s/aws4_request", amz_date, c->region, c->service);
}

int sigv4_sign(const struct sigv4_cred *c, const char *amz_date, const struct sigv4_req *r, char sig[65],
               char **signed_headers)
{
    unsigned char h[32], k[32];
    char hex[65];
    char *creq = sigv4_canonical_request(r, signed_headers);
    if (creq == NULL) {
        sig[0] = '\0';
        return -1;
    }
    sha256(creq, strlen(creq), h);
    free(creq);
    hex_encode(h, 32, hex);
    char *scope = sigv4_scope(c, amz_date);
    char *sts = xasprintf("AWS4-HMAC-SHA256\n%s\n%s\n%s", amz_date, scope, hex);
    free(scope);

    char *ksecret = xasprintf("AWS4%s", c->secret_access_key);
    hmac_sha256(ksecret, strlen(ksecret), amz_date, 8, k);
    sodium_memzero(ksecret, strlen(ksecret));
    free(ksecret);
    hmac_sha256(k, 32, c->region, strlen(c->region), k);
    hmac_sha256(k, 32, c->service, strlen(c->service), k);
    hmac_sha256(k, 32, "aws4_request", 12, k);
    hmac_sha256(k, 32, sts, strlen(sts), h);
    sodium_memzero(k, sizeof k);
    free(sts);
    hex_encode(h, 32, sig);
    return 0;
}

char *sigv4_authorization(const struct sigv4_cred *c, const char *amz_date, const struct sigv4_req *r)
{
    char sig[65], *sh = NULL;
    if (sigv4_sign(c, amz_date, r, sig, &sh) != 0)
        return NULL;
    char *out = xasprintf("AWS4-HMAC-SHA256 Credential=%s/%.8s/%s/%s/aws4_request, SignedHeaders=%s, Signature=%s",
                          c->access_key_id, amz_date, c->region, c->service, sh, sig);
    free(sh);
    return out;
}

char *sigv4_presign_query(const struct sigv4_cred *c, const char *amz_date, int64_t expires_s,
                          const struct sigv4_req *r, int s3_unsigned_payload)
{
    struct sigv4_kv q[SIGV4_MAX_ITEMS + 8];
    struct sigv4_req rr = *r;
    char expires[24], sig[65], *sh = NULL, *creq;
    size_t n = 0;

    if (r->n_query > SIGV4_MAX_ITEMS || r->n_headers > SIGV4_MAX_ITEMS)
        return NULL;
    /* The signed header list is part of what is signed: work it out first. */
    creq = sigv4_canonical_request(r, &sh);
    free(creq);
    if (sh == NULL)
        return NULL;
    char *cred = xasprintf("%s/%.8s/%s/%s/aws4_request", c->access_key_id, amz_date, c->region, c->service);
    snprintf(expires, sizeof expires, "%lld", (long long)expires_s);
    for (size_t i = 0; i < r->n_query; i++)
        q[n++] = r->query[i];
    q[n++] = (struct sigv4_kv){"X-Amz-Algorithm", "AWS4-HMAC-SHA256"};
    if (s3_unsigned_payload)
        q[n++] = (struct sigv4_kv){"X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD"};
    q[n++] = (struct sigv4_kv){"X-Amz-Credential", cred};
    q[n++] = (struct sigv4_kv){"X-Amz-Date", amz_date};
    q[n++] = (struct sigv4_kv){"X-Amz-Expires", expires};
    q[n++] = (struct sigv4_kv){"X-Amz-SignedHeaders", sh};
    rr.query = q;
    rr.n_query = n;
    rr.payload_hash = "UNSIGNED-PAYLOAD";
    char *out = NULL;
    if (sigv4_sign(c, amz_date, &rr, sig, NULL) == 0) {
        q[n++] = (struct sigv4_kv){"X-Amz-Signature", sig};
        out = sigv4_query_string(q, n);
    }
    free(cred);
    free(sh);
    return out;
}
