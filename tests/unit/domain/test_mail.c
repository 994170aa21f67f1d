/* Unit tests for src/domain/mail.c: the mails' words and their RFC 5322 form. */
#include "../test.h"

#include <stdlib.h>

#include "core/mem.h"
#include "core/utf8.h"
#include "crypto/encode.h"
#include "domain/mail.h"

/* 2023-11-14T22:13:20Z */
#define T0 INT64_C(1700000000000)

/* The header block (up to and including the empty line) and the body of a message. */
static void split(const char *msg, struct sbuf *head, struct sbuf *body)
{
    const char *sep = strstr(msg, "\r\n\r\n");
    sbuf_reset(head);
    sbuf_reset(body);
    if (sep == NULL)
        return;
    sbuf_append(head, msg, (size_t)(sep - msg) + 4);
    sbuf_puts(body, sep + 4);
}

/* Decodes a base64 body made of CRLF-terminated lines of at most 76 characters; NULL when
 * a line is longer, a line break is not CRLF, or the text is not canonical base64. */
static char *decode_body(const char *b64)
{
    struct sbuf joined = {0};
    for (const char *p = b64; *p;) {
        const char *eol = strstr(p, "\r\n");
        if (eol == NULL || eol - p > 76 || memchr(p, '\n', (size_t)(eol - p)) != NULL) {
            sbuf_free(&joined);
            return NULL;
        }
        sbuf_append(&joined, p, (size_t)(eol - p));
        p = eol + 2;
    }
    char *out = xmalloc(joined.len + 1);
    long n = b64_decode(joined.data ? joined.data : "", joined.len, out, joined.len + 1);
    sbuf_free(&joined);
    if (n < 0) {
        free(out);
        return NULL;
    }
    out[n] = '\0';
    return out;
}

/* The Subject header's value, unfolded and with RFC 2047 "B" words decoded; NULL when a
 * word is malformed or does not hold whole UTF-8 characters. *lines receives how many lines
 * the header took and *longest the longest of them. */
static char *decode_subject(const char *head, int *lines, size_t *longest)
{
    const char *s = strstr(head, "\r\nSubject: ");
    struct sbuf out = {0};
    *lines = 0;
    *longest = 0;
    if (s == NULL)
        return NULL;
    s += 2;
    const char *p = s + 9;
    for (;;) {
        const char *eol = strstr(s, "\r\n");
        size_t linelen = (size_t)(eol - s);
        if (linelen > *longest)
            *longest = linelen;
        (*lines)++;
        while (p < eol) {
            if (strncmp(p, "=?UTF-8?B?", 10) == 0) {
                const char *end = strstr(p + 10, "?=");
                if (end == NULL || end > eol) {
                    sbuf_free(&out);
                    return NULL;
                }
                char dec[128];
                long n = b64_decode(p + 10, (size_t)(end - p - 10), dec, sizeof dec);
                if (n < 0 || !utf8_valid(dec, (size_t)n)) {
                    sbuf_free(&out);
                    return NULL;
                }
                sbuf_append(&out, dec, (size_t)n);
                p = end + 2;
            } else {
                sbuf_append(&out, p, 1);
                p++;
            }
        }
        s = eol + 2;
        if (*s != ' ')
            break;
        p = s + 1; /* a folded line: the blank between two encoded-words is not text */
    }
    char *r = xstrdup(out.data ? out.data : "");
    sbuf_free(&out);
    return r;
}

/* Every line of msg ends with CRLF (no bare CR or LF) and none is over 78 characters. */
static int lines_ok(const char *msg)
{
    size_t col = 0;
    for (const char *p = msg; *p; p++) {
        if (*p == '\r') {
            if (p[1] != '\n')
                return 0;
            p++;
            col = 0;
            continue;
        }
        if (*p == '\n' || ++col > 78)
            return 0;
    }
    return col == 0;
}

static void test_compose_ascii(void)
{
    struct sbuf m = {0}, head = {0}, body = {0};
    CHECK(mail_compose("no-reply@tollgate.example", "ada@example.com", "Hello there", "Line one\nLine two\n",
                       T0, "0123456789abcdef0123456789abcdef", &m) == 0,
          "compose a plain message");
    split(m.data, &head, &body);
    CHECK_STR_EQ(head.data,
                 "From: no-reply@tollgate.example\r\n"
                 "To: ada@example.com\r\n"
                 "Subject: Hello there\r\n"
                 "Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n"
                 "Message-ID: <0123456789abcdef0123456789abcdef@tollgate.example>\r\n"
                 "MIME-Version: 1.0\r\n"
                 "Content-Type: text/plain; charset=UTF-8\r\n"
                 "Content-Transfer-Encoding: base64\r\n"
                 "Auto-Submitted: auto-generated\r\n"
                 "\r\n",
                 "the header block, exactly");
    char *text = decode_body(body.data);
    CHECK_STR_EQ(text, "Line one\r\nLine two\r\n", "the body decodes to the text in canonical CRLF form");
    free(text);
    CHECK(lines_ok(m.data), "CRLF line endings only, no line over 78 characters");
    sbuf_free(&m);
    sbuf_free(&head);
    sbuf_free(&body);

    /* Line breaks of every kind become CRLF, once. */
    CHECK(mail_compose("a@b.test", "c@d.test", "s", "a\r\nb\rc\nd", T0, "1", &m) == 0, "mixed line breaks");
    split(m.data, &head, &body);
    text = decode_body(body.data);
    CHECK_STR_EQ(text, "a\r\nb\r\nc\r\nd", "CRLF, CR and LF each become one CRLF");
    free(text);
    sbuf_free(&m);

    /* A long body wraps at 76 base64 characters. */
    struct sbuf big = {0};
    for (int i = 0; i < 200; i++)
        sbuf_puts(&big, "0123456789");
    CHECK(mail_compose("a@b.test", "c@d.test", "s", big.data, T0, "1", &m) == 0 && lines_ok(m.data),
          "a 2000-byte body: lines of 76");
    split(m.data, &head, &body);
    text = decode_body(body.data);
    CHECK(text != NULL && strcmp(text, big.data) == 0, "and it decodes back");
    free(text);
    sbuf_free(&big);
    sbuf_free(&m);
    sbuf_free(&head);
    sbuf_free(&body);
}

static void test_compose_subject(void)
{
    struct sbuf m = {0}, head = {0}, body = {0};
    int lines = 0;
    size_t longest = 0;

    CHECK(mail_compose("a@b.test", "c@d.test", "请验证您的邮箱地址", "x", T0, "1", &m) == 0,
          "a Chinese subject");
    split(m.data, &head, &body);
    CHECK(strstr(head.data, "\r\nSubject: =?UTF-8?B?") != NULL, "is an RFC 2047 encoded-word");
    char *subj = decode_subject(head.data, &lines, &longest);
    CHECK_STR_EQ(subj, "请验证您的邮箱地址", "which decodes to the subject");
    CHECK(lines == 1 && longest <= 76, "on one line of at most 76 characters (%d lines, %zu)", lines,
          longest);
    free(subj);
    sbuf_free(&m);

    /* 60 characters of 3 bytes each: several words, each whole characters, folded. */
    struct sbuf s = {0};
    for (int i = 0; i < 60; i++)
        sbuf_puts(&s, i % 2 ? "码" : "密");
    sbuf_puts(&s, " end");
    CHECK(mail_compose("a@b.test", "c@d.test", s.data, "x", T0, "1", &m) == 0, "a long Chinese subject");
    split(m.data, &head, &body);
    subj = decode_subject(head.data, &lines, &longest);
    CHECK(subj != NULL && strcmp(subj, s.data) == 0,
          "decodes back whole (every word holds whole characters)");
    CHECK(lines >= 4 && longest <= 76, "folded over %d lines of at most 76 characters (longest %zu)", lines,
          longest);
    CHECK(lines_ok(m.data), "and the message keeps its line rules");
    free(subj);
    sbuf_free(&s);
    sbuf_free(&m);

    /* ASCII that looks like an encoded-word, or is too long for one line, is encoded too. */
    CHECK(mail_compose("a@b.test", "c@d.test", "=?UTF-8?B?aGk=?=", "x", T0, "1", &m) == 0,
          "an ASCII '=?' subject");
    split(m.data, &head, &body);
    subj = decode_subject(head.data, &lines, &longest);
    CHECK(strstr(head.data, "Subject: =?UTF-8?B?PT9VVEYtOD9CP2FHaz0/PQ==?=\r\n") != NULL && subj != NULL &&
              strcmp(subj, "=?UTF-8?B?aGk=?=") == 0,
          "is encoded, so a reader cannot decode it into something else");
    free(subj);
    sbuf_free(&m);
    struct sbuf longs = {0};
    for (int i = 0; i < 10; i++)
        sbuf_puts(&longs, "Subject! ");
    CHECK(mail_compose("a@b.test", "c@d.test", longs.data, "x", T0, "1", &m) == 0 && lines_ok(m.data),
          "a 90-character ASCII subject keeps lines under 78");
    split(m.data, &head, &body);
    subj = decode_subject(head.data, &lines, &longest);
    CHECK(subj != NULL && strcmp(subj, longs.data) == 0, "and decodes back");
    free(subj);
    sbuf_free(&longs);
    sbuf_free(&m);
    sbuf_free(&head);
    sbuf_free(&body);
}

/* Header injection: a value with CR, LF or another control character is refused, whole. */
static void test_compose_refused(void)
{
    static const struct {
        const char *from, *to, *subject, *body, *id, *what;
    } bad[] = {
        {"a@b.test", "c@d.test\r\nBcc: victim@x.test", "s", "b", "1", "CRLF in To"},
        {"a@b.test", "c@d.test\nBcc: victim@x.test", "s", "b", "1", "LF in To"},
        {"a@b.test\r\nBcc: v@x.test", "c@d.test", "s", "b", "1", "CRLF in From"},
        {"a@b.test", "c@d.test", "Hi\r\nBcc: victim@x.test", "b", "1", "CRLF in Subject"},
        {"a@b.test", "c@d.test", "Hi\nBcc: victim@x.test", "b", "1", "LF in Subject"},
        {"a@b.test", "c@d.test", "Hi\rthere", "b", "1", "CR in Subject"},
        {"a@b.test", "c@d.test", "Hi\tthere", "b", "1", "TAB in Subject"},
        {"a@b.test", "c@d.test", "Hi\x01", "b", "1", "C0 in Subject"},
        {"a@b.test", "c@d.test", "Hi\x7f", "b", "1", "DEL in Subject"},
        {"a@b.test", "c@d.test", "Hi\xc2\x85there", "b", "1", "U+0085 (NEL) in Subject"},
        {"a@b.test", "c@d.test", "Hi\xe2\x80\xa8there", "b", "1", "U+2028 in Subject"},
        {"a@b.test", "c@d.test", "Hi\xc0\xafthere", "b", "1", "an overlong sequence in Subject"},
        {"a@b.test", "c@d.test", "Hi\xe8\xaf", "b", "1", "a truncated sequence in Subject"},
        {"a@b.test", "c@d.test", "s", "b\xff", "1", "invalid UTF-8 in the body"},
        {"a@b.test", "Ada <c@d.test>", "s", "b", "1", "a display name in To"},
        {"a@b.test", "c@d.test, e@f.test", "s", "b", "1", "a list in To"},
        {"a@b.test", "c d@e.test", "s", "b", "1", "a blank in To"},
        {"a@b.test", "\"c\"@d.test", "s", "b", "1", "a quoted local part in To"},
        {"a@b.test", "c@d.test(x)", "s", "b", "1", "a comment in To"},
        {"a@b.test", "cd.test", "s", "b", "1", "no '@' in To"},
        {"a@b.test", "c@@d.test", "s", "b", "1", "two '@' in To"},
        {"a@b.test", "c@d.test", "s", "b", "ABC", "upper-case hex in the id"},
        {"a@b.test", "c@d.test", "s", "b", "xyz", "not hex in the id"},
        {"a@b.test", "c@d.test", "s", "b", "", "an empty id"},
        {"a@b.test", "c@d.test", "s", "b", "0123456789abcdef0123456789abcdef0", "an id of 33 digits"},
        {"a@b.test", "c@d.test", "s", "b", "1>\r\nBcc: v@x.test", "CRLF in the id"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct sbuf m = {0};
        sbuf_puts(&m, "kept");
        int rc = mail_compose(bad[i].from, bad[i].to, bad[i].subject, bad[i].body, T0, bad[i].id, &m);
        CHECK(rc == -1 && strcmp(m.data, "kept") == 0, "refused, nothing written: %s", bad[i].what);
        sbuf_free(&m);
    }
    CHECK(mail_build(MAIL_VERIFY, "a@b.test", "c@d.test\r\nBcc: v@x.test", "en-US", "https://x.test", "tok",
                     3600, T0, "1") == NULL,
          "mail_build refuses what mail_compose refuses");
}

static void test_texts(void)
{
    struct mail_text t;
    const char *tok = "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcde";

    mail_text_render(MAIL_VERIFY, "en-US", "https://app.example", tok, 86400, &t);
    CHECK_STR_EQ(t.subject, "Verify your email address", "en-US verify subject");
    CHECK(strstr(t.body,
                 "\nhttps://app.example/verify-email#token=AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcde\n"),
          "the link: public URL + /verify-email + the token in the fragment");
    CHECK(strstr(t.body, "\nAbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcde\n"),
          "the token on a line of its own");
    CHECK(strstr(t.body, "expires in 1 day.") && strstr(t.body, "POST /api/v1/auth/verify-email"),
          "how long it lasts, and where API users send the token");
    CHECK(strchr(t.body, '{') == NULL, "no placeholder left");
    mail_text_free(&t);

    mail_text_render(MAIL_RESET, "en-US", "https://app.example", tok, 3600, &t);
    CHECK_STR_EQ(t.subject, "Reset your password", "en-US reset subject");
    CHECK(
        strstr(t.body,
               "\nhttps://app.example/reset-password#token=AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcde\n") &&
            strstr(t.body, "expires in 1 hour.") && strstr(t.body, "/api/v1/auth/password-reset/confirm"),
        "reset: link to /reset-password, 1 hour, the confirm endpoint");
    mail_text_free(&t);

    mail_text_render(MAIL_VERIFY, "zh-CN", "https://app.example", tok, 86400, &t);
    CHECK_STR_EQ(t.subject, "请验证您的邮箱地址", "zh-CN verify subject");
    CHECK(strstr(t.body, "https://app.example/verify-email#token=") && strstr(t.body, "1 天内有效") &&
              strstr(t.body, "\nAbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcde\n"),
          "zh-CN verify: link, lifetime in Chinese, the token");
    mail_text_free(&t);

    mail_text_render(MAIL_RESET, "zh-CN", "https://app.example", tok, 3600, &t);
    CHECK_STR_EQ(t.subject, "重置您的密码", "zh-CN reset subject");
    CHECK(strstr(t.body, "/reset-password#token=") && strstr(t.body, "1 小时内有效"), "zh-CN reset body");
    mail_text_free(&t);

    mail_text_render(MAIL_VERIFY, "", "https://app.example", tok, 86400, &t);
    CHECK_STR_EQ(t.subject, "Verify your email address", "no locale: en-US");
    mail_text_free(&t);
    mail_text_render(MAIL_VERIFY, NULL, "https://app.example", tok, 86400, &t);
    CHECK_STR_EQ(t.subject, "Verify your email address", "NULL locale: en-US");
    mail_text_free(&t);

    static const struct {
        int64_t ttl;
        const char *en, *zh;
    } ttls[] = {
        {60, "1 minute", "1 分钟"}, {61, "2 minutes", "2 分钟"},     {90, "2 minutes", "2 分钟"},
        {3600, "1 hour", "1 小时"}, {5400, "90 minutes", "90 分钟"}, {7200, "2 hours", "2 小时"},
        {86400, "1 day", "1 天"},   {129600, "36 hours", "36 小时"}, {2592000, "30 days", "30 天"},
    };
    for (size_t i = 0; i < sizeof ttls / sizeof ttls[0]; i++) {
        char want[64];
        mail_text_render(MAIL_VERIFY, "en-US", "https://x", tok, ttls[i].ttl, &t);
        snprintf(want, sizeof want, "expires in %s.", ttls[i].en);
        CHECK(strstr(t.body, want) != NULL, "%lld s reads \"%s\"", (long long)ttls[i].ttl, ttls[i].en);
        mail_text_free(&t);
        mail_text_render(MAIL_VERIFY, "zh-CN", "https://x", tok, ttls[i].ttl, &t);
        snprintf(want, sizeof want, "%s内有效", ttls[i].zh);
        CHECK(strstr(t.body, want) != NULL, "%lld s reads \"%s\"", (long long)ttls[i].ttl, ttls[i].zh);
        mail_text_free(&t);
    }
}

static void test_build(void)
{
    struct sbuf head = {0}, body = {0};
    const char *tok = "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcde";
    int lines;
    size_t longest;

    struct mail_msg *m = mail_build(MAIL_RESET, "no-reply@tollgate.example", "ada@example.com", "zh-CN",
                                    "https://app.example", tok, 3600, T0, "00ff");
    CHECK(m != NULL, "build a zh-CN reset mail");
    CHECK(m->kind == MAIL_RESET && strcmp(m->from, "no-reply@tollgate.example") == 0 &&
              strcmp(m->to, "ada@example.com") == 0 && strcmp(m->id, "00ff") == 0 && m->created_ms == T0 &&
              m->len == strlen(m->data),
          "the envelope and bookkeeping fields");
    split(m->data, &head, &body);
    CHECK(strncmp(head.data, "From: no-reply@tollgate.example\r\nTo: ada@example.com\r\n", 53) == 0 &&
              strstr(head.data, "Message-ID: <00ff@tollgate.example>\r\n"),
          "From, To and Message-ID headers");
    char *subj = decode_subject(head.data, &lines, &longest);
    CHECK_STR_EQ(subj, "重置您的密码", "the zh-CN subject, encoded");
    free(subj);
    char *text = decode_body(body.data);
    CHECK(text &&
              strstr(
                  text,
                  "https://app.example/reset-password#token=AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcde\r\n"),
          "the body carries the link");
    CHECK(strstr(m->data, tok) == NULL, "the token appears in the message only inside the base64 body");
    free(text);
    CHECK(lines_ok(m->data), "line rules hold for a whole mail");
    mail_msg_free(m);

    struct sbuf url = {0};
    sbuf_puts(&url, "https://");
    for (int i = 0; i < MAIL_URL_MAX; i++)
        sbuf_puts(&url, "a");
    CHECK(mail_build(MAIL_VERIFY, "a@b.test", "c@d.test", "en-US", url.data, tok, 60, T0, "1") == NULL,
          "a public URL over MAIL_URL_MAX is refused");
    sbuf_free(&url);
    mail_msg_free(NULL);

    CHECK_STR_EQ(mail_domain("ada@example.com"), "example.com", "mail_domain");
    CHECK_STR_EQ(mail_domain("nobody"), "", "mail_domain without '@'");
    CHECK_STR_EQ(mail_kind_name(MAIL_VERIFY), "verify", "kind names");
    CHECK_STR_EQ(mail_kind_name(MAIL_RESET), "reset", "kind names");
    sbuf_free(&head);
    sbuf_free(&body);
}

int main(void)
{
    test_compose_ascii();
    test_compose_subject();
    test_compose_refused();
    test_texts();
    test_build();
    return test_done();
}
