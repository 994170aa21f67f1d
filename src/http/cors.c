/*
 * cors.c - CORS for the origins listed in TG_CORS_ORIGINS, exactly; never "*".
 *
 * The web UI is served by tollgate itself (same origin), so CORS only matters for other
 * front-ends the operator lists. A disallowed origin gets no CORS headers at all and the
 * browser blocks the response, which is the point.
 */
#include <string.h>

#include "http/internal.h"

static h2o_iovec_t hn_acao_expose = {"access-control-expose-headers", 29};
static h2o_iovec_t hn_acam = {"access-control-allow-methods", 28};
static h2o_iovec_t hn_acah = {"access-control-allow-headers", 28};
static h2o_iovec_t hn_acma = {"access-control-max-age", 22};

void http_cors_add_headers(struct req *r)
{
    h2o_req_t *h = r->h;
    http_hdr_push(h, &H2O_TOKEN_ACCESS_CONTROL_ALLOW_ORIGIN->buf, r->origin, strlen(r->origin));
    http_hdr_push(h, &hn_acao_expose,
                  H2O_STRLIT("X-Request-Id, Retry-After, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset"));
}

void http_cors_options(struct req *r, unsigned allow)
{
    h2o_req_t *h = r->h;
    char *allow_all = h2o_mem_alloc_pool(&h->pool, 96);
    size_t n = http_router_allow_string(allow, 1, allow_all, 96);
    http_hdr_push(h, &H2O_TOKEN_ALLOW->buf, allow_all, n);
    int preflight = h2o_find_header_by_str(&h->headers, H2O_STRLIT("access-control-request-method"), -1) >= 0;
    if (r->origin != NULL && preflight) {
        char *methods = h2o_mem_alloc_pool(&h->pool, 96);
        size_t m = http_router_allow_string(allow, 0, methods, 96);
        http_hdr_push(h, &hn_acam, methods, m);
        http_hdr_push(h, &hn_acah, H2O_STRLIT("Authorization, Content-Type, Idempotency-Key"));
        http_hdr_push(h, &hn_acma, H2O_STRLIT("600"));
        /* Allow-Origin comes from http_cors_add_headers, Vary from http_res_send */
    }
    http_res_send(r, 204, NULL, 0, 0, NULL, 0);
}
