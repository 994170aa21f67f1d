/*
 * static.c - the web UI's answers (static.h): index.html for the app's paths and the
 * fingerprinted assets, from memory. Nothing here allocates beyond the request's pool or
 * touches a file, so a page load costs a lookup and a write per file.
 *
 * These answers are not rate limited: a page load asks for some twenty files at once, and
 * each costs less than a rate-limit check would (no store, no crypto, no disk); the limits
 * protect work, and there is none here. A deployment caps raw request rates at its proxy
 * (deploy/nginx.conf), which can also cache /assets/ for as long as it likes.
 */
#include "http/static.h"

#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "http/internal.h"

#define STATIC_PREFIX "/assets/"
#define STATIC_PREFIX_LEN (sizeof STATIC_PREFIX - 1)

static h2o_iovec_t hn_etag = {"etag", 4};

static const char cc_immutable[] = "public, max-age=31536000, immutable";
static const char cc_no_cache[] = "no-cache";

/* web/routes.json's paths, compiled by the API's router (the same segment rules: one
 * trailing slash ignored, "{id}" one non-empty segment). Read-only once built. */
static struct http_router static_pages;
static struct route *static_page_routes;

static char static_assets_label[] = "GET /assets/{build}/{path}";
#define STATIC_ASSETS_PATTERN (static_assets_label + 4)

size_t http_static_labels(char **labels)
{
    for (size_t i = 0; i < static_pages.n; i++)
        labels[i] = static_pages.labels[i];
    labels[static_pages.n] = static_assets_label;
    return static_pages.n + 1;
}

const char *http_static_pattern(const struct req *r)
{
    if (r->web_route == 0)
        return NULL;
    size_t i = r->web_route - 1;
    return i < static_pages.n ? web_page_patterns[i] : STATIC_ASSETS_PATTERN;
}

static void static_page_unused(struct req *r)
{
    (void)r; /* never called: the page router is only matched, answers are static_send's */
}

int http_static_init(char **err)
{
    size_t n = web_page_patterns_count;
    static_page_routes = xcalloc(n ? n : 1, sizeof *static_page_routes);
    for (size_t i = 0; i < n; i++) {
        struct route *rt = &static_page_routes[i];
        rt->method = "GET";
        rt->pattern = web_page_patterns[i];
        rt->handler = static_page_unused;
        rt->auth = AUTH_NONE;
        rt->rate = RL_NONE;
    }
    if (http_router_compile(&static_pages, static_page_routes, n, err) != 0) {
        free(static_page_routes);
        static_page_routes = NULL;
        return -1;
    }
    return 0;
}

void http_static_free(void)
{
    http_router_free(&static_pages);
    free(static_page_routes);
    static_page_routes = NULL;
}

static int static_cmp(const void *key, const void *elem)
{
    const h2o_iovec_t *k = key;
    const struct web_asset *a = elem;
    size_t n = k->len < a->path_len ? k->len : a->path_len;
    int c = memcmp(k->base, a->path, n);
    if (c != 0)
        return c;
    return k->len < a->path_len ? -1 : k->len > a->path_len;
}

/* 1 when the request takes a gzip body (every Accept-Encoding line read). */
static int static_gzip_ok(h2o_req_t *h)
{
    int q_gzip = -1, q_star = -1;
    for (ssize_t i = -1; (i = h2o_find_header(&h->headers, H2O_TOKEN_ACCEPT_ENCODING, i)) >= 0;)
        http_accept_encoding_scan(h->headers.entries[i].value.base, h->headers.entries[i].value.len, &q_gzip,
                                  &q_star);
    return q_gzip > 0 || (q_gzip < 0 && q_star > 0);
}

/* 1 when an If-None-Match line lists one of a's tags (both name the same bytes). */
static int static_not_modified(h2o_req_t *h, const struct web_asset *a)
{
    for (ssize_t i = -1; (i = h2o_find_header(&h->headers, H2O_TOKEN_IF_NONE_MATCH, i)) >= 0;) {
        const h2o_iovec_t *v = &h->headers.entries[i].value;
        if (http_etag_listed(v->base, v->len, a->etag, strlen(a->etag)) ||
            (a->gz != NULL && http_etag_listed(v->base, v->len, a->etag_gz, strlen(a->etag_gz))))
            return 1;
    }
    return 0;
}

static void static_send(struct req *r, const struct web_asset *a, const char *cache_control, size_t cc_len)
{
    h2o_req_t *h = r->h;
    int gz = a->gz != NULL && static_gzip_ok(h);
    const char *etag = gz ? a->etag_gz : a->etag;
    http_hdr_push(h, &H2O_TOKEN_CACHE_CONTROL->buf, cache_control, cc_len);
    http_hdr_push(h, &hn_etag, etag, strlen(etag));
    /* The body depends on Accept-Encoding only when there is a gzipped one. */
    if (a->gz != NULL)
        http_hdr_push(h, &H2O_TOKEN_VARY->buf, H2O_STRLIT("Accept-Encoding"));
    if (static_not_modified(h, a)) {
        /* The 304 carries the 200's Content-Type, so that it gets the same security headers:
         * a cache refreshes the stored answer's headers from it, and the page's policy must
         * not become the API's. */
        http_res_send(r, 304, a->ctype, strlen(a->ctype), 0, NULL, 0);
        return;
    }
    if (gz)
        http_hdr_push(h, &H2O_TOKEN_CONTENT_ENCODING->buf, H2O_STRLIT("gzip"));
    /* The body is the embedded array itself: read-only data that outlives every request. */
    http_res_send(r, 200, a->ctype, strlen(a->ctype), 0, (const char *)(gz ? a->gz : a->data),
                  gz ? a->gz_len : a->len);
}

int http_static_try(struct req *r, const char *path, size_t plen)
{
    if (!(r->method_len == 3 && memcmp(r->method, "GET", 3) == 0) && !r->is_head)
        return 0;
    if (plen >= STATIC_PREFIX_LEN && memcmp(path, STATIC_PREFIX, STATIC_PREFIX_LEN) == 0) {
        /* /assets/<build id>/<path>: compared byte for byte, nothing decoded, so "%2e%2e" or
         * "%2F" can only ever miss (asset names never hold '%'). */
        const char *id = path + STATIC_PREFIX_LEN;
        size_t rest = plen - STATIC_PREFIX_LEN, idlen = strlen(web_build_id);
        if (rest <= idlen + 1 || memcmp(id, web_build_id, idlen) != 0 || id[idlen] != '/')
            return 0;
        h2o_iovec_t key = h2o_iovec_init(id + idlen + 1, rest - idlen - 1);
        const struct web_asset *a =
            bsearch(&key, web_assets, web_assets_count, sizeof web_assets[0], static_cmp);
        if (a == NULL)
            return 0;
        r->web_route = (unsigned)static_pages.n + 1;
        static_send(r, a, cc_immutable, sizeof cc_immutable - 1);
        return 1;
    }
    if (memmem(path, plen, "//", 2) != NULL)
        return 0; /* empty segments never match ("//" is not "/") */
    struct http_match m;
    http_router_match(&static_pages, "GET", 3, path, plen, &m);
    if (m.status != 200)
        return 0;
    r->web_route = (unsigned)m.rc->index + 1;
    static_send(r, &web_index, cc_no_cache, sizeof cc_no_cache - 1);
    return 1;
}
