/*
 * common.c - what the generation providers share (internal.h), and gen_call_release.
 */
#include "providers/gen/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/mem.h"
#include "core/utf8.h"
#include "net/net.h"

void gen_result_init(struct gen_result *out)
{
    memset(out, 0, sizeof *out);
    out->progress = -1;
}

void gen_result_clear(struct gen_result *r)
{
    for (size_t i = 0; i < r->n_outputs && i < GEN_MAX_OUTPUTS; i++)
        if (!r->outputs[i].borrowed)
            free(r->outputs[i].data);
    memset(r, 0, sizeof *r);
}

void gen_call_release(struct net_call *c)
{
    for (size_t i = 0; i < c->n_headers; i++)
        if (c->headers[i] != NULL)
            sodium_memzero(c->headers[i], strlen(c->headers[i]));
    net_call_release(c);
}

const char *gen_outcome_name(enum gen_outcome o)
{
    switch (o) {
    case GEN_ACCEPTED: return "accepted";
    case GEN_RUNNING: return "running";
    case GEN_SUCCEEDED: return "succeeded";
    case GEN_FAILED: return "failed";
    case GEN_INVALID: return "invalid";
    case GEN_UNKNOWN_TASK: return "unknown_task";
    case GEN_RETRY: return "retry";
    case GEN_RATE_LIMITED: return "rate_limited";
    case GEN_KEY_REJECTED: return "key_rejected";
    }
    return "unknown";
}

/* ---- sanitizing provider text --------------------------------------------------------- */

/* The key c carried, from the headers the providers set ("Authorization: Bearer K",
 * "x-goog-api-key: K"), or NULL. */
static const char *call_key(const struct net_call *c, size_t *len)
{
    static const char *const prefixes[] = {"Authorization: Bearer ", "x-goog-api-key: "};
    for (size_t i = 0; c != NULL && i < c->n_headers; i++) {
        const char *h = c->headers[i];
        for (size_t k = 0; h != NULL && k < sizeof prefixes / sizeof *prefixes; k++) {
            size_t pl = strlen(prefixes[k]);
            if (strncasecmp(h, prefixes[k], pl) == 0 && h[pl] != '\0') {
                *len = strlen(h + pl);
                return h + pl;
            }
        }
    }
    return NULL;
}

static int key_char(unsigned char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' ||
           ch == '_';
}

/* Length of a provider-key-shaped token at s (n bytes left), 0 when none: DashScope and
 * OpenAI-style "sk-" + 8 or more key characters, Google's "AIza" + 20 or more. */
static size_t keyish_at(const char *s, size_t n)
{
    static const struct { const char *prefix; size_t min; } shapes[] = {{"sk-", 8}, {"AIza", 20}};
    for (size_t k = 0; k < sizeof shapes / sizeof *shapes; k++) {
        size_t pl = strlen(shapes[k].prefix), m = pl;
        if (n < pl || memcmp(s, shapes[k].prefix, pl) != 0)
            continue;
        while (m < n && key_char((unsigned char)s[m]))
            m++;
        if (m - pl >= shapes[k].min)
            return m;
    }
    return 0;
}

/* A piece of the key shows at least this many of its bytes (a provider echoing a cut or
 * masked key, "sk-abcd****wxyz", must not show its longer parts). */
#define KEY_PIECE_MIN 8

/* Length of the longest piece (KEY_PIECE_MIN bytes or more) of key that s (n bytes left)
 * starts with, 0 when none. */
static size_t key_piece_at(const char *s, size_t n, const char *key, size_t klen)
{
    size_t best = 0;
    if (key == NULL || n < KEY_PIECE_MIN || klen < KEY_PIECE_MIN)
        return 0;
    for (size_t k = 0; k + KEY_PIECE_MIN <= klen; k++) {
        size_t m = 0;
        while (m < n && k + m < klen && s[m] == key[k + m])
            m++;
        if (m >= KEY_PIECE_MIN && m > best)
            best = m;
    }
    return best;
}

/* Most provider bytes looked at: messages are cut to TG_TASK_ERROR_MAX anyway. */
#define SANITIZE_WINDOW 4096

void gen_sanitize(char *out, size_t cap, const char *in, size_t len, const struct net_call *c)
{
    size_t klen = 0, o = 0, i = 0;
    const char *key = call_key(c, &klen);
    int blank = 1, cut = 0;

    if (cap == 0)
        return;
    out[0] = '\0';
    if (in == NULL)
        return;
    if (len > SANITIZE_WINDOW) {
        len = SANITIZE_WINDOW;
        cut = 1;
    }
    while (i < len) {
        const unsigned char *p = (const unsigned char *)in + i;
        char piece[8];
        size_t plen = 0, adv;
        uint32_t cp;
        size_t kl;

        if ((kl = key_piece_at(in + i, len - i, key, klen)) > 0) {
            memcpy(piece, "***", 3);
            plen = 3;
            adv = kl;
        } else if ((kl = keyish_at(in + i, len - i)) > 0) {
            memcpy(piece, "***", 3);
            plen = 3;
            adv = kl;
        } else if ((adv = utf8_next(p, len - i, &cp)) == 0) {
            piece[0] = '?';
            plen = 1;
            adv = 1;
        } else if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0) || cp == 0x2028 || cp == 0x2029) {
            adv = adv ? adv : 1;
            if (blank) {
                i += adv;
                continue;
            }
            piece[0] = ' ';
            plen = 1;
        } else {
            memcpy(piece, p, adv);
            plen = adv;
        }
        if (plen == 1 && piece[0] == ' ') {
            if (blank) {
                i += adv;
                continue;
            }
            blank = 1;
        } else {
            blank = 0;
        }
        if (o + plen + 1 > cap) {
            cut = 1;
            break;
        }
        memcpy(out + o, piece, plen);
        o += plen;
        i += adv;
    }
    while (o > 0 && out[o - 1] == ' ')
        o--;
    if (cut && cap >= 4) {
        /* room for "...": step back over whole characters */
        while (o + 4 > cap) {
            o--;
            while (o > 0 && ((unsigned char)out[o] & 0xc0) == 0x80)
                o--;
        }
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
}

/* ---- results -------------------------------------------------------------------------- */

static void set_code(char out[TG_TASK_ERROR_CODE_MAX], const char *code)
{
    size_t n = 0;
    out[0] = '\0';
    if (code == NULL)
        return;
    for (; code[n] != '\0'; n++) {
        char ch = code[n];
        if (!key_char((unsigned char)ch) && ch != '.' && ch != ':')
            return;
    }
    if (n >= TG_TASK_ERROR_CODE_MAX)
        n = TG_TASK_ERROR_CODE_MAX - 1;
    memcpy(out, code, n);
    out[n] = '\0';
}

enum gen_outcome gen_fail(struct gen_result *out, enum gen_outcome o, const char *code, const char *msg,
                          const char *fallback, const struct net_call *c)
{
    out->outcome = o;
    set_code(out->error_code, code);
    out->error_message[0] = '\0';
    if (msg != NULL)
        gen_sanitize(out->error_message, sizeof out->error_message, msg, strlen(msg), c);
    if (out->error_message[0] == '\0' && fallback != NULL)
        gen_sanitize(out->error_message, sizeof out->error_message, fallback, strlen(fallback), c);
    return o;
}

enum gen_outcome gen_net_error(struct gen_result *out, const struct net_call *c)
{
    char msg[64];
    snprintf(msg, sizeof msg, "network error: %s", net_err_name(c->err));
    return gen_fail(out, GEN_RETRY, NULL, msg, NULL, NULL);
}

int64_t gen_retry_after_ms(const struct net_call *c)
{
    const char *v = net_resp_header(c, "retry-after");
    int64_t s = 0;
    size_t n = 0;
    if (v == NULL)
        return 0;
    while (*v == ' ' || *v == '\t')
        v++;
    for (; v[n] >= '0' && v[n] <= '9'; n++) {
        if (s <= GEN_RETRY_AFTER_MAX_MS / 1000)
            s = s * 10 + (v[n] - '0');
    }
    if (n == 0)
        return 0;
    for (const char *t = v + n; *t != '\0'; t++)
        if (*t != ' ' && *t != '\t')
            return 0;
    return s * 1000 > GEN_RETRY_AFTER_MAX_MS ? GEN_RETRY_AFTER_MAX_MS : s * 1000;
}

json_t *gen_answer_json(const struct net_call *c, size_t max)
{
    json_t *j;
    if (c->resp_body == NULL || c->resp_len == 0 || c->resp_len > max)
        return NULL;
    j = json_loadb(c->resp_body, c->resp_len, JSON_REJECT_DUPLICATES, NULL);
    if (j != NULL && !json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    return j;
}

const char *gen_json_str(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

const char *gen_json_str_at(json_t *a, size_t i)
{
    json_t *v = json_array_get(a, i);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

int gen_task_id_ok(const char *s)
{
    size_t n = 0;
    if (s == NULL)
        return 0;
    for (; s[n] != '\0'; n++)
        if (n >= TG_PROVIDER_TASK_MAX - 1 || !(key_char((unsigned char)s[n]) || s[n] == '.' || s[n] == ':'))
            return 0;
    return n > 0;
}

int gen_add_url(struct gen_result *out, const char *url, const char *mime)
{
    struct gen_output *o;
    size_t n;
    if (url == NULL || out->n_outputs >= GEN_MAX_OUTPUTS)
        return -1;
    if (strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0)
        return -1;
    n = strlen(url);
    if (n >= GEN_URL_MAX || n <= 8)
        return -1;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)url[i] <= 0x20 || (unsigned char)url[i] >= 0x7f)
            return -1;
    o = &out->outputs[out->n_outputs++];
    memset(o, 0, sizeof *o);
    memcpy(o->url, url, n + 1);
    if (mime != NULL)
        snprintf(o->mime, sizeof o->mime, "%s", mime);
    return 0;
}

void gen_call_json(struct net_call *c, json_t *body)
{
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (text == NULL)
        abort(); /* only on out-of-memory */
    net_call_body(c, "application/json", text, strlen(text));
    free(text);
}
