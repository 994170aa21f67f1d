/*
 * gen_fuzz.h - what the generation provider fuzz targets share: a finished net_call made
 * from fuzz bytes (status and body, sometimes a Retry-After), and the invariants every
 * struct gen_result obeys whatever the answer.
 */
#ifndef TG_FUZZ_GEN_FUZZ_H
#define TG_FUZZ_GEN_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "core/utf8.h"
#include "net/net.h"
#include "providers/gen/gen.h"

/* Reports which invariant broke, then abort(). */
#define FUZZ_FAIL()                                                                                \
    do {                                                                                           \
        fprintf(stderr, "invariant broken at %s:%d\n", __FILE__, __LINE__);                       \
        abort();                                                                                   \
    } while (0)

/* The key every fuzzed call carried: no message may ever contain it. */
#define FUZZ_KEY "sk-fuzzkey0123456789abcdef"

/* A finished call: d[0..1] the status (mod 600), d[2] bit 0: a Retry-After of d[3] digits,
 * the rest the body. key_header "Name: value" or NULL. 0, or -1 when too short. */
static inline int fuzz_call(struct net_call *c, const char *url, const char *key_header, const uint8_t *d,
                            size_t n)
{
    size_t off = 3;
    if (n < 3)
        return -1;
    net_call_init(c, "fuzz", "GET", url);
    if (key_header != NULL) {
        const char *colon = strchr(key_header, ':');
        char *name = xstrndup(key_header, (size_t)(colon - key_header));
        net_call_header(c, name, colon + 2);
        free(name);
    }
    c->err = NET_OK;
    c->status = (long)((d[0] << 8 | d[1]) % 600);
    if (d[2] & 1 && n > 3) {
        c->resp_headers[0].name = xstrdup("retry-after");
        c->resp_headers[0].value = xasprintf("%u", d[3]);
        c->n_resp_headers = 1;
        off = 4;
    }
    if (d[2] & 2) /* no answer at all */
        c->err = (enum net_err)(1 + d[2] % 7);
    c->resp_len = n - off;
    c->resp_body = xmalloc(c->resp_len + 1);
    memcpy(c->resp_body, d + off, c->resp_len);
    c->resp_body[c->resp_len] = '\0';
    return 0;
}

static inline int fuzz_url_ok(const char *u)
{
    size_t n = strnlen(u, GEN_URL_MAX);
    if (n == GEN_URL_MAX || (strncmp(u, "https://", 8) != 0 && strncmp(u, "http://", 7) != 0))
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)u[i] <= 0x20 || (unsigned char)u[i] >= 0x7f)
            return 0;
    return 1;
}

static inline int fuzz_word_ok(const char *s, size_t cap, int may_be_empty)
{
    size_t n = strnlen(s, cap);
    if (n == cap || (n == 0 && !may_be_empty))
        return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' ||
              ch == '_' || ch == '.' || ch == ':'))
            return 0;
    }
    return 1;
}

/*
 * The invariants of any result (abort() when broken): a known outcome; a bounded,
 * printable, valid UTF-8 message that never holds 8 bytes of the key; a code of word characters;
 * outputs only on success, each a URL or bytes with a MIME type; a task id of word
 * characters when set; progress -1..100; lengths and waits not negative; nothing
 * successful without a 2xx answer.
 */
static inline void fuzz_check_result(const struct net_call *c, const struct gen_result *r)
{
    const char *m = r->error_message;
    size_t ml = strnlen(m, sizeof r->error_message);
    if ((unsigned)r->outcome > GEN_KEY_REJECTED)
        FUZZ_FAIL();
    if (ml == sizeof r->error_message || !utf8_valid(m, ml))
        FUZZ_FAIL();
    for (size_t k = 0; k + 8 <= strlen(FUZZ_KEY); k++) /* no 8 bytes of the key */
        if (memmem(m, ml, &FUZZ_KEY[k], 8) != NULL)
            FUZZ_FAIL();
    for (size_t i = 0; i < ml; i++)
        if ((unsigned char)m[i] < 0x20 || m[i] == 0x7f)
            FUZZ_FAIL();
    if (!fuzz_word_ok(r->error_code, sizeof r->error_code, 1) || !fuzz_word_ok(r->provider_task_id, sizeof r->provider_task_id, 1))
        FUZZ_FAIL();
    if (r->progress < -1 || r->progress > 100 || r->output_ms < 0 || r->retry_after_ms < 0 ||
        r->retry_after_ms > 24LL * 3600 * 1000)
        FUZZ_FAIL();
    if (r->outcome != GEN_RATE_LIMITED && r->retry_after_ms != 0)
        FUZZ_FAIL();
    if (r->outcome == GEN_SUCCEEDED) {
        if (r->n_outputs < 1 || r->n_outputs > GEN_MAX_OUTPUTS)
            FUZZ_FAIL();
        for (size_t i = 0; i < r->n_outputs; i++) {
            const struct gen_output *o = &r->outputs[i];
            if (o->data == NULL ? !fuzz_url_ok(o->url) : (o->url[0] != '\0' || o->len == 0))
                FUZZ_FAIL();
            if (strnlen(o->mime, sizeof o->mime) == sizeof o->mime || o->mime[0] == '\0')
                FUZZ_FAIL();
        }
    } else if (r->n_outputs != 0) {
        FUZZ_FAIL();
    }
    if ((r->outcome == GEN_ACCEPTED || r->outcome == GEN_SUCCEEDED || r->outcome == GEN_RUNNING) &&
        (c->err != NET_OK || c->status < 200 || c->status > 299))
        FUZZ_FAIL();
    if (r->outcome == GEN_ACCEPTED && r->provider_task_id[0] == '\0')
        FUZZ_FAIL();
    if (c->err != NET_OK && r->outcome != GEN_RETRY)
        FUZZ_FAIL();
    if (c->err == NET_OK && (c->status == 401 || c->status == 403) && r->outcome != GEN_KEY_REJECTED &&
        r->outcome != GEN_INVALID)
        FUZZ_FAIL();
    if (c->err == NET_OK && c->status == 429 && r->outcome != GEN_RATE_LIMITED && r->outcome != GEN_KEY_REJECTED &&
        r->outcome != GEN_INVALID)
        FUZZ_FAIL();
}

/* Adds a seed: mode byte, status, flags, body. */
static inline void fuzz_gen_seed(void (*add)(const uint8_t *, size_t), uint8_t mode, unsigned status, uint8_t flags,
                                 const char *body)
{
    size_t n = strlen(body);
    uint8_t *b = xmalloc(n + 4);
    b[0] = mode;
    b[1] = (uint8_t)(status >> 8);
    b[2] = (uint8_t)status;
    b[3] = flags;
    memcpy(b + 4, body, n);
    add(b, n + 4);
    free(b);
}

#endif
