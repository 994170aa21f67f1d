/*
 * router.c - compiles the route table into segments once, matches without allocating.
 */
#include "http/router.h"

#include <stdlib.h>
#include <string.h>

#include "core/mem.h"

static const struct {
    const char *name;
    size_t len;
    unsigned bit;
} http_router_methods[] = {
    {"GET", 3, HTTP_M_GET},       {"HEAD", 4, HTTP_M_HEAD},     {"POST", 4, HTTP_M_POST},
    {"PUT", 3, HTTP_M_PUT},       {"PATCH", 5, HTTP_M_PATCH},   {"DELETE", 6, HTTP_M_DELETE},
    {"OPTIONS", 7, HTTP_M_OPTIONS},
};

unsigned http_router_method_bit(const char *m, size_t len)
{
    for (size_t i = 0; i < sizeof http_router_methods / sizeof http_router_methods[0]; i++)
        if (http_router_methods[i].len == len && memcmp(http_router_methods[i].name, m, len) == 0)
            return http_router_methods[i].bit;
    return 0;
}

size_t http_router_allow_string(unsigned mask, int with_head_options, char *buf, size_t cap)
{
    size_t len = 0;
    if (cap == 0)
        return 0;
    buf[0] = '\0';
    if (with_head_options) {
        if (mask & HTTP_M_GET)
            mask |= HTTP_M_HEAD;
        mask |= HTTP_M_OPTIONS;
    }
    for (size_t i = 0; i < sizeof http_router_methods / sizeof http_router_methods[0]; i++) {
        if (!(mask & http_router_methods[i].bit))
            continue;
        size_t need = (len ? 2 : 0) + http_router_methods[i].len;
        if (len + need + 1 > cap)
            break;
        if (len) {
            memcpy(buf + len, ", ", 2);
            len += 2;
        }
        memcpy(buf + len, http_router_methods[i].name, http_router_methods[i].len);
        len += http_router_methods[i].len;
        buf[len] = '\0';
    }
    return len;
}

/*
 * Splits path ("/a/b") into segments. One trailing slash is dropped. Returns the segment
 * count, or -1 when the path does not start with '/', has an empty segment or too many.
 */
static int http_router_split(const char *path, size_t plen, const char *seg[], size_t seglen[])
{
    if (plen == 0 || path[0] != '/')
        return -1;
    if (plen > 1 && path[plen - 1] == '/')
        plen--;
    int n = 0;
    size_t i = 1;
    if (plen == 1)
        return 0;
    while (i <= plen) {
        size_t start = i;
        while (i < plen && path[i] != '/')
            i++;
        if (i == start)
            return -1; /* empty segment */
        if (n == HTTP_ROUTER_MAX_SEGMENTS)
            return -1;
        seg[n] = path + start;
        seglen[n] = i - start;
        n++;
        i++; /* skip '/' */
    }
    return n;
}

static int http_router_cmp_nseg(const void *a, const void *b)
{
    const struct http_route_c *x = a, *y = b;
    if (x->nseg != y->nseg)
        return x->nseg < y->nseg ? -1 : 1;
    /* keep table order among equals: ties are broken by the first listed */
    return x->index < y->index ? -1 : x->index > y->index;
}

static int http_router_param_name_ok(const char *s, size_t len)
{
    if (len == 0)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
            return 0;
    }
    return 1;
}

int http_router_compile(struct http_router *rt, const struct route *routes, size_t n, char **err)
{
    int ret = -1;
    size_t nsegs_total = 0;
    const char *seg[HTTP_ROUTER_MAX_SEGMENTS];
    size_t seglen[HTTP_ROUTER_MAX_SEGMENTS];

    memset(rt, 0, sizeof *rt);
    *err = NULL;
    rt->routes = xcalloc(n ? n : 1, sizeof *rt->routes);
    rt->labels = xcalloc(n ? n : 1, sizeof *rt->labels);
    rt->n = n;
    for (size_t i = 0; i < n; i++) {
        const struct route *r = &routes[i];
        int k = r->pattern ? http_router_split(r->pattern, strlen(r->pattern), seg, seglen) : -1;
        if (k < 0) {
            *err = xasprintf("route %zu: bad pattern \"%s\"", i, r->pattern ? r->pattern : "(null)");
            goto cleanup;
        }
        nsegs_total += (size_t)k;
    }
    rt->segs = xcalloc(nsegs_total ? nsegs_total : 1, sizeof *rt->segs);

    uint32_t off = 0;
    for (size_t i = 0; i < n; i++) {
        const struct route *r = &routes[i];
        struct http_route_c *c = &rt->routes[i];
        int k = http_router_split(r->pattern, strlen(r->pattern), seg, seglen);
        size_t nparams = 0;
        c->route = r;
        c->index = i;
        c->method = r->method ? http_router_method_bit(r->method, strlen(r->method)) : 0;
        if (c->method == 0 || c->method == HTTP_M_OPTIONS || c->method == HTTP_M_HEAD || r->handler == NULL) {
            *err = xasprintf("route %zu (%s): unsupported method or no handler", i, r->pattern);
            goto cleanup;
        }
        c->nseg = (uint16_t)k;
        c->seg_off = off;
        for (int s = 0; s < k; s++) {
            struct http_route_seg *g = &rt->segs[off + (uint32_t)s];
            if (seglen[s] >= 2 && seg[s][0] == '{' && seg[s][seglen[s] - 1] == '}') {
                g->text = seg[s] + 1;
                g->len = (uint16_t)(seglen[s] - 2);
                g->is_param = 1;
                if (!http_router_param_name_ok(g->text, g->len) || ++nparams > HTTP_ROUTER_MAX_PARAMS) {
                    *err = xasprintf("route %zu (%s): bad or too many parameters", i, r->pattern);
                    goto cleanup;
                }
                for (int t = 0; t < s; t++) {
                    const struct http_route_seg *o = &rt->segs[off + (uint32_t)t];
                    if (o->is_param && o->len == g->len && memcmp(o->text, g->text, g->len) == 0) {
                        *err = xasprintf("route %zu (%s): duplicate parameter", i, r->pattern);
                        goto cleanup;
                    }
                }
            } else {
                if (memchr(seg[s], '{', seglen[s]) || memchr(seg[s], '}', seglen[s])) {
                    *err = xasprintf("route %zu (%s): a parameter must be a whole segment", i, r->pattern);
                    goto cleanup;
                }
                g->text = seg[s];
                g->len = (uint16_t)seglen[s];
                c->literal_key |= 1u << (31 - s);
            }
        }
        off += (uint32_t)k;
        rt->labels[i] = xasprintf("%s %s", r->method, r->pattern);
        for (size_t j = 0; j < i; j++) {
            if (rt->routes[j].method == c->method && strcmp(routes[j].pattern, r->pattern) == 0) {
                *err = xasprintf("route %zu: duplicate %s %s", i, r->method, r->pattern);
                goto cleanup;
            }
        }
    }
    qsort(rt->routes, n, sizeof *rt->routes, http_router_cmp_nseg);
    for (size_t k = 0, i = 0; k <= HTTP_ROUTER_MAX_SEGMENTS + 1; k++) {
        while (i < n && rt->routes[i].nseg < k)
            i++;
        rt->by_nseg[k] = (uint32_t)i;
    }
    ret = 0;

cleanup:
    if (ret != 0)
        http_router_free(rt);
    return ret;
}

void http_router_free(struct http_router *rt)
{
    if (rt->labels)
        for (size_t i = 0; i < rt->n; i++)
            free(rt->labels[i]);
    free(rt->labels);
    free(rt->routes);
    free(rt->segs);
    memset(rt, 0, sizeof *rt);
}

void http_router_match(const struct http_router *rt, const char *method, size_t mlen, const char *path, size_t plen,
                       struct http_match *m)
{
    const char *seg[HTTP_ROUTER_MAX_SEGMENTS];
    size_t seglen[HTTP_ROUTER_MAX_SEGMENTS];
    unsigned mbit = http_router_method_bit(method, mlen);
    const struct http_route_c *best = NULL;
    int best_exact = 0;

    m->status = 404;
    m->rc = NULL;
    m->allow = 0;
    m->nparams = 0;
    int k = http_router_split(path, plen, seg, seglen);
    if (k < 0)
        return;
    for (uint32_t i = rt->by_nseg[k]; i < rt->by_nseg[k + 1]; i++) {
        const struct http_route_c *c = &rt->routes[i];
        const struct http_route_seg *g = &rt->segs[c->seg_off];
        int s;
        for (s = 0; s < k; s++)
            if (!g[s].is_param && (g[s].len != seglen[s] || memcmp(g[s].text, seg[s], seglen[s]) != 0))
                break;
        if (s < k)
            continue;
        m->allow |= c->method;
        /* HEAD is served by the GET route unless the table has an explicit HEAD (it cannot). */
        int exact = c->method == mbit;
        if (!exact && !(mbit == HTTP_M_HEAD && c->method == HTTP_M_GET))
            continue;
        if (best == NULL || c->literal_key > best->literal_key ||
            (c->literal_key == best->literal_key && exact && !best_exact)) {
            best = c;
            best_exact = exact;
        }
    }
    if (best == NULL) {
        m->status = m->allow ? 405 : 404;
        return;
    }
    m->status = 200;
    m->rc = best;
    const struct http_route_seg *g = &rt->segs[best->seg_off];
    for (int s = 0; s < k; s++) {
        if (!g[s].is_param)
            continue;
        struct http_param *p = &m->params[m->nparams++];
        p->name = g[s].text;
        p->name_len = g[s].len;
        p->value = seg[s];
        p->len = seglen[s];
    }
}
