/*
 * fuzz_xff.c - fuzz target for X-Forwarded-For resolution (src/http/clientip.c), over h2o
 * request headers as req_client_ip() passes them.
 *
 * Input: the first byte picks the peer (trusted or not, IPv4 or IPv6); the rest is header
 * lines separated by '\n', each an X-Forwarded-For value, or another header when it starts
 * with '@' (so that the walk has to skip them).
 * Trusted proxies: 10.0.0.0/8, 127.0.0.1, fd00::/8 and ::1.
 * Invariants (abort() when broken):
 *  - an untrusted peer is the answer, whatever the headers say;
 *  - the client cannot hide its proxy: when the peer is trusted and the last line's last
 *    entry is a valid untrusted address, that address is the answer, however many lines
 *    came before;
 *  - the answer equals a reference walk over the flattened list (right to left, stop at the
 *    first untrusted or malformed entry, at most HTTP_XFF_MAX_HOPS entries) and
 *    http_clientip_resolve() over the same lines;
 *  - the answer is the peer or a normalized address (inet_ntop(inet_pton(x)) == x, IPv4-mapped
 *    shown as IPv4) that appears in the headers; at most HTTP_XFF_MAX_HOPS + 1 trust checks.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/http/clientip.c"
#include "fuzz.h"

static size_t trust_calls;
static unsigned long answers[4]; /* peer untrusted, peer, from the headers, hidden-proxy case */

static int trusted(const char *ip)
{
    trust_calls++;
    return strncmp(ip, "10.", 3) == 0 || strcmp(ip, "127.0.0.1") == 0 || strncmp(ip, "fd", 2) == 0 ||
           strcmp(ip, "::1") == 0;
}

static int normalized(const char *ip)
{
    struct in_addr a4;
    struct in6_addr a6;
    char again[HTTP_IP_MAX];
    if (inet_pton(AF_INET, ip, &a4) == 1)
        return inet_ntop(AF_INET, &a4, again, sizeof again) && strcmp(again, ip) == 0;
    if (inet_pton(AF_INET6, ip, &a6) == 1)
        return !IN6_IS_ADDR_V4MAPPED(&a6) && inet_ntop(AF_INET6, &a6, again, sizeof again) &&
               strcmp(again, ip) == 0;
    return 0;
}

struct entry {
    const char *s;
    size_t n;
};

/* The reference: all X-Forwarded-For entries flattened in order, walked from the right. */
static void reference(const char *peer, const h2o_headers_t *hs, char out[HTTP_IP_MAX], int *seen_in_headers)
{
    struct entry *all = NULL;
    size_t n = 0, cap = 0;
    char cur[HTTP_IP_MAX];
    snprintf(cur, sizeof cur, "%s", peer);
    for (size_t i = 0; i < hs->size; i++) {
        const h2o_header_t *h = &hs->entries[i];
        if (h->name != &H2O_TOKEN_X_FORWARDED_FOR->buf)
            continue;
        const char *s = h->value.base, *end = s + h->value.len;
        for (;;) {
            const char *c = memchr(s, ',', (size_t)(end - s));
            if (n == cap) {
                cap = cap ? 2 * cap : 16;
                all = realloc(all, cap * sizeof *all);
                if (all == NULL)
                    abort();
            }
            all[n].s = s;
            all[n++].n = (size_t)((c ? c : end) - s);
            if (c == NULL)
                break;
            s = c + 1;
        }
    }
    *seen_in_headers = 0;
    for (size_t k = 0; trusted(cur) && k < n && k < HTTP_XFF_MAX_HOPS; k++) {
        char cand[HTTP_IP_MAX];
        if (http_clientip_parse(all[n - 1 - k].s, all[n - 1 - k].n, cand) != 0)
            break;
        memcpy(cur, cand, sizeof cur);
        *seen_in_headers = 1;
    }
    memcpy(out, cur, HTTP_IP_MAX);
    free(all);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const peers[] = {"10.0.0.1", "::1", "203.0.113.9", "2001:db8::9"};
    const char *peer;
    h2o_mem_pool_t pool;
    h2o_headers_t hs = {0};
    h2o_iovec_t *lines = NULL;
    size_t nlines = 0, last = SIZE_MAX;
    char out[HTTP_IP_MAX], want[HTTP_IP_MAX], via_resolve[HTTP_IP_MAX];
    int from_headers;

    if (size == 0)
        return 0;
    peer = peers[data[0] % 4];
    h2o_mem_init_pool(&pool);
    /* Exact-size copies of each line so that reading past a value is caught by ASan. */
    for (size_t i = 1; i <= size;) {
        const uint8_t *nl = memchr(data + i, '\n', size - i);
        size_t len = (size_t)((nl ? nl : data + size) - (data + i));
        int other = len > 0 && data[i] == '@';
        char *v = malloc(len ? len : 1);
        if (v == NULL)
            abort();
        memcpy(v, data + i, len);
        h2o_vector_reserve(&pool, &hs, hs.size + 1);
        h2o_header_t *h = &hs.entries[hs.size++];
        h->name = other ? &H2O_TOKEN_USER_AGENT->buf : &H2O_TOKEN_X_FORWARDED_FOR->buf;
        h->orig_name = NULL;
        h->value = h2o_iovec_init(v, len);
        if (!other)
            last = hs.size - 1;
        i += len + 1;
    }

    trust_calls = 0;
    http_clientip_from_headers(peer, &hs, trusted, out);
    if (trust_calls > HTTP_XFF_MAX_HOPS + 1 || memchr(out, '\0', HTTP_IP_MAX) == NULL)
        abort();
    reference(peer, &hs, want, &from_headers);
    if (strcmp(out, want) != 0) {
        fprintf(stderr, "peer %s: got %s, reference %s\n", peer, out, want);
        abort();
    }
    if (from_headers ? !normalized(out) : strcmp(out, peer) != 0)
        abort();

    lines = calloc(hs.size + 1, sizeof *lines);
    if (lines == NULL)
        abort();
    for (size_t i = 0; i < hs.size; i++)
        if (hs.entries[i].name == &H2O_TOKEN_X_FORWARDED_FOR->buf)
            lines[nlines++] = hs.entries[i].value;
    http_clientip_resolve(peer, lines, nlines, trusted, via_resolve);
    if (strcmp(out, via_resolve) != 0)
        abort();

    if (!trusted(peer)) {
        if (strcmp(out, peer) != 0)
            abort();
        answers[0]++;
    } else {
        answers[from_headers ? 2 : 1]++;
        if (last != SIZE_MAX) {
            /* The entry a proxy appends is the last line's last entry. */
            const h2o_iovec_t *v = &hs.entries[last].value;
            size_t start = v->len;
            char appended[HTTP_IP_MAX];
            while (start > 0 && v->base[start - 1] != ',')
                start--;
            if (http_clientip_parse(v->base + start, v->len - start, appended) == 0 && !trusted(appended)) {
                if (strcmp(out, appended) != 0)
                    abort();
                answers[3]++;
            }
        }
    }

    for (size_t i = 0; i < hs.size; i++)
        free((void *)hs.entries[i].value.base);
    free(lines);
    h2o_mem_clear_pool(&pool);
    return 0;
}

/* Adds peer selector + text. */
static void add_text(void (*add)(const uint8_t *, size_t), uint8_t peer, const char *text)
{
    uint8_t buf[4096];
    size_t n = strlen(text);
    if (n + 1 > sizeof buf)
        return;
    buf[0] = peer;
    memcpy(buf + 1, text, n);
    add(buf, n + 1);
}

void fuzz_seeds(void (*add)(const uint8_t *data, size_t size))
{
    static const char *texts[] = {
        "203.0.113.7",
        "6.6.6.6, 203.0.113.7, 10.0.0.2",
        "1.2.3.4\n10.0.0.2",
        " [2001:db8::7]:443 \n@curl/8.0\n::ffff:10.0.0.3",
        "1.2.3.4, garbage",
        "garbage, 203.0.113.7",
        "10.0.0.3, 10.0.0.2\nfd00::1",
        "1.2.3.4:5678,,\n",
        "2001:DB8:0::2",
        "unknown",
    };
    struct sbuf b = {0};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
        for (uint8_t p = 0; p < 4; p += 2)
            add_text(add, (uint8_t)(p + i % 2), texts[i]);
    /* 19 lines from the client, then its proxy's. */
    for (int i = 0; i < 19; i++)
        sbuf_puts(&b, i % 3 ? "6.6.6.6\n" : "10.9.8.7, 127.0.0.1\n");
    sbuf_puts(&b, "198.51.100.23");
    add_text(add, 0, b.data);
    sbuf_reset(&b);
    /* A long all-trusted chain: the hop limit. */
    for (int i = 0; i < 100; i++)
        sbuf_printf(&b, "10.0.%d.%d%s", i / 256, i % 256, i % 10 == 9 ? "\n" : ", ");
    add_text(add, 0, b.data);
    sbuf_free(&b);
}

void fuzz_report(void)
{
    printf("untrusted peer %lu, peer kept %lu, from the headers %lu (last entry untrusted: %lu)\n",
           answers[0], answers[1], answers[2], answers[3]);
}
