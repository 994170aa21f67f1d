/*
 * fuzz_dotenv.c - fuzz target for config_parse_dotenv() (the --config file reader).
 *
 * The input is the file's text. Invariants (abort() when broken):
 *  - every assignment has a key [A-Za-z_][A-Za-z0-9_]* and a NUL-free, NUL-terminated value,
 *    at most one per line, reported with strictly increasing line numbers;
 *  - a failure is exactly one message "NAME:LINE: <fixed reason>" (or the NUL-byte one): the
 *    line itself, which may hold a secret, is never quoted; a callback's error is passed on
 *    untouched and stops the parse;
 *  - round trips: the accepted pairs written back double-quoted, single-quoted or unquoted
 *    (where each can express the value), with "export " and blanks around '=', parse back to
 *    the same pairs; the same text with CRLF line ends parses to the same pairs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/mem.h"
#include "fuzz.h"

#define NAME "fuzz.env"

struct pair {
    char *key, *val;
    size_t vlen;
};

struct pairs {
    struct pair *v;
    size_t n;
    unsigned long last_line;
    int stop_at_key; /* the callback fails on the key "TG_STOP" (not while re-parsing) */
    char *stop_err;  /* the message it returned */
};

static unsigned long accepted, rejected, pairs_seen, stopped;

static int key_ok(const char *k, size_t n)
{
    if (n == 0 || !(k[0] == '_' || (k[0] >= 'A' && k[0] <= 'Z') || (k[0] >= 'a' && k[0] <= 'z')))
        return 0;
    for (size_t i = 1; i < n; i++)
        if (!(k[i] == '_' || (k[i] >= 'A' && k[i] <= 'Z') || (k[i] >= 'a' && k[i] <= 'z') ||
              (k[i] >= '0' && k[i] <= '9')))
            return 0;
    return 1;
}

/* Line number of a "NAME:LINE: ..." prefix, or 0 when s does not start like that. */
static unsigned long line_of(const char *s, const char **rest)
{
    unsigned long line = 0;
    const char *p;
    if (strncmp(s, NAME ":", sizeof NAME) != 0)
        return 0;
    p = s + sizeof NAME;
    if (*p < '1' || *p > '9')
        return 0;
    while (*p >= '0' && *p <= '9')
        line = line * 10 + (unsigned long)(*p++ - '0');
    if (p[0] != ':' || p[1] != ' ')
        return 0;
    *rest = p + 2;
    return line;
}

static int collect(void *ctx, const char *where, const char *key, size_t klen, const char *val, size_t vlen,
                   char **err)
{
    struct pairs *ps = ctx;
    const char *rest = NULL;
    unsigned long line = line_of(where, &rest);
    if (line == 0 || *rest != '\0' || line <= ps->last_line)
        abort();
    ps->last_line = line;
    if (!key_ok(key, klen) || val[vlen] != '\0' || memchr(val, '\0', vlen) != NULL)
        abort();
    if (ps->stop_at_key && klen == 7 && memcmp(key, "TG_STOP", 7) == 0) {
        ps->stop_err = xstrdup("stopped by the callback");
        *err = ps->stop_err;
        return -1;
    }
    ps->v = xrealloc(ps->v, (ps->n + 1) * sizeof *ps->v);
    ps->v[ps->n].key = xstrndup(key, klen);
    ps->v[ps->n].val = xmalloc(vlen + 1);
    memcpy(ps->v[ps->n].val, val, vlen + 1);
    ps->v[ps->n].vlen = vlen;
    ps->n++;
    return 0;
}

static void pairs_free(struct pairs *ps)
{
    for (size_t i = 0; i < ps->n; i++) {
        free(ps->v[i].key);
        free(ps->v[i].val);
    }
    free(ps->v);
    memset(ps, 0, sizeof *ps);
}

static int pairs_equal(const struct pairs *a, const struct pairs *b)
{
    if (a->n != b->n)
        return 0;
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->v[i].key, b->v[i].key) != 0 || a->v[i].vlen != b->v[i].vlen ||
            memcmp(a->v[i].val, b->v[i].val, a->v[i].vlen) != 0)
            return 0;
    return 1;
}

/* Checks a failure message: one line, a known reason, never the text of the line. */
static void check_error(const char *err, const uint8_t *data, size_t size, unsigned long lines)
{
    static const char *const reasons[] = {
        "expected KEY=value",
        "unterminated quoted value (values cannot span lines)",
        "unknown escape in double-quoted value (use \\n \\r \\t \\\" \\\\)",
        "unexpected text after the closing quote",
    };
    const char *rest = NULL;
    unsigned long line;
    if (err == NULL || strchr(err, '\n') != NULL || strchr(err, '\r') != NULL)
        abort();
    if (memchr(data, '\0', size) != NULL) {
        if (strcmp(err, NAME ": file contains a NUL byte") != 0)
            abort();
        return;
    }
    line = line_of(err, &rest);
    if (line == 0 || line > lines)
        abort();
    for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++)
        if (strcmp(rest, reasons[i]) == 0)
            return;
    abort();
}

static int parse(const char *text, size_t len, struct pairs *ps, char **err)
{
    int rc = config_parse_dotenv(NAME, text, len, collect, ps, err);
    if ((rc == 0) != (*err == NULL) || (rc != 0 && rc != -1))
        abort();
    return rc;
}

/* Writes the pairs back, the style of each chosen by its position where it can hold the
 * value, and checks that they parse back to the same pairs. */
static void check_rewrite(const struct pairs *ps, unsigned variant)
{
    struct sbuf b = {0};
    struct pairs again = {0};
    char *err = NULL;
    for (size_t i = 0; i < ps->n; i++) {
        const char *v = ps->v[i].val;
        size_t n = ps->v[i].vlen;
        unsigned style = (unsigned)(i + variant) % 3;
        int has_nl = memchr(v, '\n', n) != NULL;
        if (style == 1 && (has_nl || memchr(v, '\'', n) != NULL))
            style = 0;
        if (style == 2) {
            int ok = !has_nl && (n == 0 || (v[0] != '"' && v[0] != '\'' && v[0] != ' ' && v[0] != '\t' &&
                                            v[n - 1] != ' ' && v[n - 1] != '\t' && v[n - 1] != '\r'));
            for (size_t k = 1; ok && k < n; k++)
                if (v[k] == '#' && (v[k - 1] == ' ' || v[k - 1] == '\t'))
                    ok = 0;
            if (!ok)
                style = 0;
        }
        if ((i + variant) % 5 == 2)
            sbuf_puts(&b, "\t# a comment line\n  ");
        if ((i + variant) % 4 == 1)
            sbuf_puts(&b, "export ");
        sbuf_puts(&b, ps->v[i].key);
        /* "export = x" reads as the export prefix before "= x", as a shell would. */
        sbuf_puts(&b, (i + variant) % 2 && strcmp(ps->v[i].key, "export") != 0 ? " = " : "=");
        if (style == 0) {
            sbuf_puts(&b, "\"");
            for (size_t k = 0; k < n; k++) {
                switch (v[k]) {
                case '\n':
                    sbuf_puts(&b, "\\n");
                    break;
                case '\r':
                    sbuf_puts(&b, "\\r");
                    break;
                case '\t':
                    sbuf_puts(&b, "\\t");
                    break;
                case '"':
                    sbuf_puts(&b, "\\\"");
                    break;
                case '\\':
                    sbuf_puts(&b, "\\\\");
                    break;
                case '$':
                    sbuf_puts(&b, (k % 2) ? "\\$" : "$");
                    break;
                default:
                    sbuf_append(&b, &v[k], 1);
                }
            }
            sbuf_puts(&b, "\" # trailing comment");
        } else if (style == 1) {
            sbuf_puts(&b, "'");
            sbuf_append(&b, v, n);
            sbuf_puts(&b, "'  ");
        } else {
            sbuf_append(&b, v, n);
            if (n > 0)
                sbuf_puts(&b, " # comment 'with' \"quotes\"");
        }
        sbuf_puts(&b, "\n");
    }
    if (parse(b.data ? b.data : "", b.len, &again, &err) != 0 || !pairs_equal(ps, &again)) {
        fprintf(stderr, "rewrite did not round-trip (%s):\n%s\n", err ? err : "different pairs",
                b.data ? b.data : "");
        abort();
    }
    pairs_free(&again);
    sbuf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size copy so that reading past the length is caught by ASan. */
    char *text = xmalloc(size ? size : 1);
    struct pairs ps = {0};
    char *err = NULL;
    unsigned long lines = 1;
    int rc;

    if (size > CONFIG_DOTENV_MAX)
        goto cleanup;
    memcpy(text, data, size);
    for (size_t i = 0; i < size; i++)
        lines += text[i] == '\n';
    ps.stop_at_key = 1;
    rc = parse(text, size, &ps, &err);
    if (ps.n > lines)
        abort();
    if (ps.stop_err != NULL) {
        /* The callback failed: its message is what the caller gets, nothing after it ran. */
        if (rc != -1 || err != ps.stop_err)
            abort();
        stopped++;
        goto cleanup;
    }
    if (rc != 0) {
        check_error(err, data, size, lines);
        rejected++;
        goto cleanup;
    }
    accepted++;
    pairs_seen += ps.n;
    for (unsigned variant = 0; variant < 3; variant++)
        check_rewrite(&ps, variant);
    if (memchr(text, '\r', size) == NULL) {
        struct sbuf crlf = {0};
        struct pairs again = {0};
        char *err2 = NULL;
        for (size_t i = 0; i < size; i++)
            sbuf_puts(&crlf, text[i] == '\n' ? "\r\n" : (char[2]){text[i], 0});
        if (parse(crlf.data ? crlf.data : "", crlf.len, &again, &err2) != 0 || !pairs_equal(&ps, &again))
            abort();
        pairs_free(&again);
        sbuf_free(&crlf);
    }
cleanup:
    free(err);
    pairs_free(&ps);
    free(text);
    return 0;
}

void fuzz_seeds(void (*add)(const uint8_t *data, size_t size))
{
    static const char *texts[] = {
        "TG_LISTEN=127.0.0.1:8080\nTG_WORKERS=4\n",
        "# comment\n\nexport TG_PUBLIC_URL=https://tg.example.com\r\nTG_DATA_DIR = /srv/tg  # where\n",
        "TG_JWT_SECRET=\"a\\tb\\n\\\"c\\\"\\\\ \\$HOME\" # quoted\nTG_X='single # not a comment'\n",
        "A=unquoted#hash kept\nB=value # comment\nC=\nD=''\nE=\"\"\n",
        "TG_STOP=1\nTG_AFTER=2\n",
        "=novalue\n",
        "KEY=\"unterminated\n",
        "KEY=\"bad \\q escape\"\n",
        "KEY='x' junk\n",
        "export\tTG_CORS_ORIGINS=https://a.example.com, http://localhost:3000\n",
        "  \t  \n\t# only comments\n",
        "TG_TRUSTED_PROXIES=10.0.0.0/8,::1\nTG_RATE_LIMITS=api_query=100/60s,auth_ip=20/60s",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
        add((const uint8_t *)texts[i], strlen(texts[i]));
}

void fuzz_report(void)
{
    printf("accepted %lu (%lu pairs), rejected %lu, stopped by the callback %lu\n", accepted, pairs_seen,
           rejected, stopped);
}
