/*
 * gen_test.h - what the generation provider tests share: a finished net_call made from a
 * canned answer (the providers only read a call's result, so no network is involved), and
 * lookups in a built request.
 */
#ifndef TG_TEST_GEN_TEST_H
#define TG_TEST_GEN_TEST_H

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/mem.h"
#include "core/utf8.h"
#include "net/net.h"
#include "providers/gen/gen.h"

/* Makes c a finished call to url (with the key header when key is set) that got an answer:
 * status and body (NULL: none), and a Retry-After when retry_after is set. */
static inline void answer_call(struct net_call *c, const char *key_header, long status, const char *body,
                               const char *retry_after)
{
    net_call_init(c, "test", "GET", "https://provider.test/x?taskId=veo_task_abcdef123456");
    if (key_header != NULL) {
        const char *colon = strchr(key_header, ':');
        char *name = xstrndup(key_header, (size_t)(colon - key_header));
        net_call_header(c, name, colon + 2);
        free(name);
    }
    c->err = NET_OK;
    c->status = status;
    if (body != NULL) { /* exactly the bytes + NUL: ASan sees overreads */
        c->resp_len = strlen(body);
        c->resp_body = xmalloc(c->resp_len + 1);
        memcpy(c->resp_body, body, c->resp_len + 1);
    }
    if (retry_after != NULL) {
        c->resp_headers[0].name = xstrdup("retry-after");
        c->resp_headers[0].value = xstrdup(retry_after);
        c->n_resp_headers = 1;
    }
}

/* A call that got no answer (err). */
static inline void failed_call(struct net_call *c, enum net_err err)
{
    net_call_init(c, "test", "GET", "https://provider.test/x");
    c->err = err;
}

/* The value of request header name (case-insensitive) in c, or NULL. */
static inline const char *req_header(const struct net_call *c, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < c->n_headers; i++)
        if (strncasecmp(c->headers[i], name, n) == 0 && c->headers[i][n] == ':')
            return c->headers[i] + n + 2;
    return NULL;
}

/* How many request headers are named name. */
static inline int req_header_count(const struct net_call *c, const char *name)
{
    size_t n = strlen(name);
    int k = 0;
    for (size_t i = 0; i < c->n_headers; i++)
        k += strncasecmp(c->headers[i], name, n) == 0 && c->headers[i][n] == ':';
    return k;
}

/* 1 when s is printable: no byte below 0x20 nor 0x7f. */
static inline int printable(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 0;
    return 1;
}

/* 1 when s is valid UTF-8. */
static inline int utf8_ok_test(const char *s) { return utf8_valid(s, strlen(s)); }

#endif
