/*
 * fuzz_mail.c - fuzz target for mail_compose() in src/domain/mail.c: the RFC 5322 writer
 * that must make header injection impossible.
 *
 * The input is split at its first three NUL bytes into From, To, Subject and the body (a
 * missing part is ""), the id is fixed. Invariants (abort() when broken):
 *  - refused (-1) exactly when a reference check written here says a value is unacceptable
 *    (an address that is not a bare local@domain of printable ASCII without specials, a
 *    subject or body that is not valid UTF-8, a subject with a control character), and
 *    then nothing is written;
 *  - accepted: the output is exactly nine header lines in a fixed order - From and To equal
 *    to the input, no other header, no recipient the caller did not give - then an empty
 *    line and the base64 body; every line ends with CRLF (no bare CR or LF anywhere), no
 *    line passes 78 characters; the Subject decodes (RFC 2047) to the input subject, each
 *    encoded-word holding whole UTF-8 characters; the body decodes to the input body with
 *    every line break written CRLF.
 */
#include "domain/mail.c"

#include <stdio.h>

#include "fuzz.h"

#define IN_MAX 8192

static unsigned long n_ok, n_refused, n_encoded;

static int ref_addr_ok(const char *a)
{
    size_t n = strlen(a), ats = 0;
    if (n < 3 || n > TG_EMAIL_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)a[i];
        if (c == '@')
            ats++;
        if (c < 0x21 || c > 0x7e || c == '<' || c == '>' || c == '(' || c == ')' || c == '[' || c == ']' ||
            c == '\\' || c == ',' || c == ';' || c == ':' || c == '"')
            return 0;
    }
    return ats == 1 && a[0] != '@' && a[n - 1] != '@';
}

/* Valid UTF-8 (decoded here by bit patterns, not with utf8_next); no_controls refuses
 * C0, DEL, C1, U+2028 and U+2029. */
static int ref_text_ok(const char *s, int no_controls)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        uint32_t cp;
        int k;
        if (p[0] < 0x80)
            cp = p[0], k = 1;
        else if ((p[0] & 0xE0) == 0xC0)
            cp = p[0] & 0x1F, k = 2;
        else if ((p[0] & 0xF0) == 0xE0)
            cp = p[0] & 0x0F, k = 3;
        else if ((p[0] & 0xF8) == 0xF0)
            cp = p[0] & 0x07, k = 4;
        else
            return 0;
        for (int i = 1; i < k; i++) {
            if ((p[i] & 0xC0) != 0x80)
                return 0;
            cp = (cp << 6) | (p[i] & 0x3F);
        }
        static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < min[k] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        if (no_controls &&
            (cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp < 0xA0) || cp == 0x2028 || cp == 0x2029))
            return 0;
        p += k;
    }
    return 1;
}

/* Decodes a base64 block of CRLF lines of at most 76 characters into out (NUL-terminated). */
static int dec_body(const char *b, struct sbuf *out)
{
    struct sbuf joined = {0};
    int ok = 1;
    for (const char *p = b; *p && ok;) {
        const char *eol = strstr(p, "\r\n");
        if (eol == NULL || eol - p > 76 || eol == p)
            ok = 0;
        else
            sbuf_append(&joined, p, (size_t)(eol - p)), p = eol + 2;
    }
    if (ok) {
        size_t cap = joined.len + 1;
        char *tmp = xmalloc(cap);
        long n = b64_decode(joined.data ? joined.data : "", joined.len, tmp, cap);
        if (n < 0)
            ok = 0;
        else
            sbuf_append(out, tmp, (size_t)n);
        free(tmp);
    }
    sbuf_free(&joined);
    return ok;
}

/* Decodes the Subject value (after "Subject: ", unfolded at CRLF SP) into out. */
static int dec_subject(const char *v, const char *end, struct sbuf *out)
{
    if (strncmp(v, "=?UTF-8?B?", 10) != 0) {
        sbuf_append(out, v, (size_t)(end - v));
        return memchr(v, '\r', (size_t)(end - v)) == NULL;
    }
    n_encoded++;
    for (const char *p = v; p < end;) {
        if (strncmp(p, "=?UTF-8?B?", 10) != 0)
            return 0;
        const char *q = strstr(p + 10, "?=");
        if (q == NULL || q > end)
            return 0;
        char tmp[128];
        long n = b64_decode(p + 10, (size_t)(q - p - 10), tmp, sizeof tmp - 1);
        if (n < 0)
            return 0;
        tmp[n] = '\0';
        if (!ref_text_ok(tmp, 0) || strlen(tmp) != (size_t)n)
            return 0; /* a word must hold whole characters */
        sbuf_append(out, tmp, (size_t)n);
        p = q + 2;
        if (p < end) {
            if (strncmp(p, "\r\n ", 3) != 0)
                return 0;
            p += 3;
        }
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char buf[IN_MAX + 4];
    const char *part[4] = {"", "", "", ""};
    if (size > IN_MAX)
        size = IN_MAX;
    memcpy(buf, data, size);
    buf[size] = '\0';
    /* Parts at the first three NULs; without them, From and To are plausible and the input
     * is the subject. */
    size_t k = 0;
    part[0] = buf;
    for (size_t i = 0; i < size && k < 3; i++)
        if (buf[i] == '\0')
            part[++k] = buf + i + 1;
    if (k == 0) {
        part[0] = "from@example.com";
        part[1] = "to@example.com";
        part[2] = buf;
        part[3] = "body\n";
    }
    const char *from = part[0], *to = part[1], *subject = part[2], *body = part[3];

    struct sbuf out = {0};
    sbuf_puts(&out, "X");
    int rc = mail_compose(from, to, subject, body, INT64_C(1700000000000), "0123abcd", &out);
    int want = ref_addr_ok(from) && ref_addr_ok(to) && ref_text_ok(subject, 1) && ref_text_ok(body, 0);
    if ((rc == 0) != want)
        abort();
    if (rc != 0) {
        if (strcmp(out.data, "X") != 0)
            abort();
        n_refused++;
        sbuf_free(&out);
        return 0;
    }
    n_ok++;
    const char *m = out.data + 1;

    /* Line structure: CRLF only; the lines that hold an address (From, To, Message-ID with
     * the sender's domain) as long as it makes them (RFC 5322's 998 at most), every other
     * line within 78. */
    const char *start = m;
    size_t col = 0;
    for (const char *p = m; *p; p++) {
        if (*p == '\r') {
            if (p[1] != '\n')
                abort();
            p++;
            start = p + 1;
            col = 0;
            continue;
        }
        int addr_line = strncmp(start, "From: ", 6) == 0 || strncmp(start, "To: ", 4) == 0 ||
                        strncmp(start, "Message-ID: ", 12) == 0;
        if (*p == '\n' || ++col > (addr_line ? 998u : 78u))
            abort();
    }
    if (col != 0)
        abort();

    /* The header block, in order. */
    struct sbuf want_head = {0}, subj = {0}, text = {0}, canon = {0};
    sbuf_printf(&want_head, "From: %s\r\nTo: %s\r\nSubject: ", from, to);
    if (strncmp(m, want_head.data, want_head.len) != 0)
        abort();
    const char *sv = m + want_head.len;
    const char *date = strstr(sv, "\r\nDate: ");
    if (date == NULL || !dec_subject(sv, date, &subj) || strcmp(subj.data ? subj.data : "", subject) != 0)
        abort();
    const char *rest = date + 2;
    sbuf_reset(&want_head);
    sbuf_printf(&want_head,
                "Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n"
                "Message-ID: <0123abcd@%s>\r\n"
                "MIME-Version: 1.0\r\n"
                "Content-Type: text/plain; charset=UTF-8\r\n"
                "Content-Transfer-Encoding: base64\r\n"
                "Auto-Submitted: auto-generated\r\n"
                "\r\n",
                strrchr(from, '@') + 1);
    if (strncmp(rest, want_head.data, want_head.len) != 0)
        abort();

    /* The body. */
    for (const char *p = body; *p; p++) {
        if (*p == '\r' && p[1] == '\n')
            continue;
        if (*p == '\r' || *p == '\n')
            sbuf_puts(&canon, "\r\n");
        else
            sbuf_append(&canon, p, 1);
    }
    if (!dec_body(rest + want_head.len, &text) || text.len != canon.len ||
        (canon.len && memcmp(text.data, canon.data, canon.len) != 0))
        abort();

    sbuf_free(&want_head);
    sbuf_free(&subj);
    sbuf_free(&text);
    sbuf_free(&canon);
    sbuf_free(&out);
    return 0;
}

void fuzz_seeds(void (*add)(const uint8_t *data, size_t size))
{
#define SEED(lit)                                                                                            \
    {                                                                                                        \
        lit, sizeof(lit) - 1                                                                                 \
    }
    static const struct {
        const char *s;
        size_t n;
    } seeds[] = {
        SEED("Verify your email address"),
        SEED("请验证您的邮箱地址"),
        SEED("no-reply@tollgate.example\0ada@example.com\0重置您的密码\0line one\nline two\r\n"),
        SEED("a@b.test\0c@d.test\0Hi\r\nBcc: victim@x.test\0body"),
        SEED("a@b.test\0c@d.test\r\nBcc: v@x.test\0s\0b"),
        SEED("a@b.test\0Ada <c@d.test>\0s\0b"),
        SEED("a@b.test\0c@d.test\0=?UTF-8?B?aGk=?=\0.\r\n.\r\n"),
        SEED("a@b.test\0c@d.test\0\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80"
             "\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80\0b"),
        SEED("a@b.test\0c@d.test\0Hi\xc2\x85there\0b"),
    };
#undef SEED
    for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++)
        add((const uint8_t *)seeds[i].s, seeds[i].n);
}

void fuzz_report(void)
{
    printf("composed=%lu (subject encoded %lu) refused=%lu\n", n_ok, n_encoded, n_refused);
}
