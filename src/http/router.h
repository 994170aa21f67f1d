/*
 * router.h - the route table compiled once at start, matched without allocation.
 *
 * Patterns ("/api/v1/api-keys/{id}") are split into segments when the server starts; a
 * request path is split into at most HTTP_ROUTER_MAX_SEGMENTS (pointer, length) pairs on the
 * stack and compared only against routes with the same number of segments. When several
 * patterns match a path, the one with a literal segment at the first position where they
 * differ wins ("/tasks/stats" beats "/tasks/{id}"). One trailing slash is ignored
 * ("/api/v1/credits/" is "/api/v1/credits"); empty segments ("//") never match.
 * Internal to src/http (no h2o types needed, so it is unit-testable on its own).
 */
#ifndef TG_HTTP_ROUTER_H
#define TG_HTTP_ROUTER_H

#include <stddef.h>
#include <stdint.h>

#include "http/http.h"

#define HTTP_ROUTER_MAX_SEGMENTS 32
#define HTTP_ROUTER_MAX_PARAMS 8

/* Method bits (HEAD is answered by GET routes). */
enum {
    HTTP_M_GET = 1u << 0,
    HTTP_M_HEAD = 1u << 1,
    HTTP_M_POST = 1u << 2,
    HTTP_M_PUT = 1u << 3,
    HTTP_M_PATCH = 1u << 4,
    HTTP_M_DELETE = 1u << 5,
    HTTP_M_OPTIONS = 1u << 6,
};

struct http_route_seg {
    const char *text; /* literal text, or the parameter name */
    uint16_t len;
    uint8_t is_param;
};

struct http_route_c {
    const struct route *route;
    size_t index;          /* position in the table (metrics) */
    unsigned method;       /* one HTTP_M_* bit */
    uint16_t nseg;
    uint32_t seg_off;      /* first segment in http_router.segs */
    uint32_t literal_key;  /* bit (31 - i) set when segment i is literal: bigger = more specific */
};

struct http_router {
    struct http_route_c *routes; /* sorted by segment count */
    size_t n;
    struct http_route_seg *segs;
    char **labels;               /* labels[index] = "GET /api/v1/credits" (metrics) */
    uint32_t by_nseg[HTTP_ROUTER_MAX_SEGMENTS + 2]; /* routes[by_nseg[k] .. by_nseg[k+1]) have k segments */
};

struct http_param {
    const char *name;  /* points into the pattern, not NUL-terminated */
    size_t name_len;
    const char *value; /* points into the request path, not NUL-terminated, not decoded */
    size_t len;
};

struct http_match {
    int status;                        /* 200 matched, 404 unknown path, 405 wrong method */
    const struct http_route_c *rc;     /* when 200 */
    unsigned allow;                    /* HTTP_M_* of every pattern matching the path */
    size_t nparams;
    struct http_param params[HTTP_ROUTER_MAX_PARAMS];
};

/*
 * Compiles `routes` (borrowed: must outlive the router). Returns 0, or -1 with *err set
 * (caller frees) for a bad pattern, an unknown method or a duplicate (method, pattern).
 */
int http_router_compile(struct http_router *rt, const struct route *routes, size_t n, char **err);
/* Frees what http_router_compile allocated. */
void http_router_free(struct http_router *rt);
/* The HTTP_M_* bit for a method, 0 when unknown. */
unsigned http_router_method_bit(const char *m, size_t len);
/*
 * Matches (method, path). path is the request path without the query string. Fills *m;
 * no allocation.
 */
void http_router_match(const struct http_router *rt, const char *method, size_t mlen, const char *path, size_t plen,
                       struct http_match *m);
/*
 * Writes an Allow header value for `mask` ("GET, HEAD, POST") into buf (NUL-terminated,
 * truncated to cap). with_head_options adds HEAD when GET is there and OPTIONS.
 * Returns the length written.
 */
size_t http_router_allow_string(unsigned mask, int with_head_options, char *buf, size_t cap);

#endif
