/*
 * mail.c - the mails' words and their RFC 5322 form (see mail.h).
 */
#include "domain/mail.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/errors.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "core/utf8.h"
#include "crypto/encode.h"
#include "crypto/random.h"
#include "domain/accounts.h"

/* RFC 2045 6.8: encoded lines are at most 76 characters. */
#define MAIL_B64_LINE 76
/*
 * Bytes of subject per RFC 2047 encoded-word: 39 bytes are 52 base64 characters, and
 * "Subject: " + "=?UTF-8?B?" + 52 + "?=" is 73 characters, under the 76 RFC 2047 section 2
 * allows a line holding encoded-words (a folded line, " " + word, is shorter still).
 */
#define MAIL_WORD_BYTES 39
/* "Subject: " plus an ASCII subject up to this stays within RFC 5322's 78 characters. */
#define MAIL_SUBJECT_PLAIN_MAX 69

/* ---- the words, one table per locale ---- */

struct mail_strings {
    const char *subject[MAIL__COUNT]; /* by enum mail_kind */
    const char *body[MAIL__COUNT];    /* {link}, {token}, {ttl} and {date} are filled in */
    /* what follows the number in "24 hours": singular and plural (the same in Chinese) */
    const char *days[2], *hours[2], *minutes[2];
};

static const struct mail_strings mail_en = {
    .subject = {"Verify your email address", "Reset your password", "Your plan ends soon",
                "Your plan's renewal payment failed", "Your plan has ended"},
    .body =
        {
            "Hello,\n"
            "\n"
            "Please confirm that this email address belongs to you by opening this link:\n"
            "\n"
            "{link}\n"
            "\n"
            "The link works once and expires in {ttl}.\n"
            "\n"
            "Using the API? Send this token to POST /api/v1/auth/verify-email:\n"
            "\n"
            "{token}\n"
            "\n"
            "If you did not create an account, ignore this email: nothing happens without the link.\n",

            "Hello,\n"
            "\n"
            "Someone asked to reset the password of the account with this email address. To choose a new\n"
            "password, open this link:\n"
            "\n"
            "{link}\n"
            "\n"
            "The link works once and expires in {ttl}. Setting a new password signs you out everywhere.\n"
            "\n"
            "Using the API? Send this token with your new password to\n"
            "POST /api/v1/auth/password-reset/confirm:\n"
            "\n"
            "{token}\n"
            "\n"
            "If you did not ask for this, ignore this email: your password stays as it is.\n",

            "Hello,\n"
            "\n"
            "Your prepaid plan ends on {date} (UTC). Its monthly credits stop then, and plan credits\n"
            "not spent by that day expire.\n"
            "\n"
            "To keep it, buy the next period before then; it starts where this one ends:\n"
            "\n"
            "{link}\n",

            "Hello,\n"
            "\n"
            "The payment for your plan's renewal did not go through. The payment provider will try\n"
            "again; until a payment succeeds, no new monthly credits are added.\n"
            "\n"
            "Please check your payment method with the provider. Your plan:\n"
            "\n"
            "{link}\n",

            "Hello,\n"
            "\n"
            "Your plan ended on {date} (UTC). Plan credits not spent by then have expired; credits you\n"
            "bought as packs stay yours.\n"
            "\n"
            "You can choose a plan again at any time:\n"
            "\n"
            "{link}\n",
        },
    .days = {" day", " days"},
    .hours = {" hour", " hours"},
    .minutes = {" minute", " minutes"},
};

static const struct mail_strings mail_zh = {
    .subject = {"请验证您的邮箱地址", "重置您的密码", "您的套餐即将到期", "您的套餐续费扣款失败", "您的套餐已结束"},
    .body =
        {
            "您好：\n"
            "\n"
            "请打开以下链接，确认这个邮箱地址属于您：\n"
            "\n"
            "{link}\n"
            "\n"
            "链接只能使用一次，{ttl}内有效。\n"
            "\n"
            "如果您使用 API，请将以下令牌发送到 POST /api/v1/auth/verify-email：\n"
            "\n"
            "{token}\n"
            "\n"
            "如果您没有注册过账户，请忽略这封邮件；没有这个链接，什么都不会发生。\n",

            "您好：\n"
            "\n"
            "有人请求重置与此邮箱地址关联的账户密码。要设置新密码，请打开以下链接：\n"
            "\n"
            "{link}\n"
            "\n"
            "链接只能使用一次，{ttl}内有效。设置新密码后，您在所有设备上的登录都会退出。\n"
            "\n"
            "如果您使用 API，请将以下令牌和新密码一起发送到 POST /api/v1/auth/password-reset/confirm：\n"
            "\n"
            "{token}\n"
            "\n"
            "如果这不是您本人的操作，请忽略这封邮件，您的密码不会改变。\n",

            "您好：\n"
            "\n"
            "您的预付费套餐将于 {date}（UTC）到期。届时每月积分停止发放，未用完的套餐积分将过期。\n"
            "\n"
            "如需继续使用，请在到期前购买下一个周期，新周期从本周期结束时开始：\n"
            "\n"
            "{link}\n",

            "您好：\n"
            "\n"
            "您的套餐续费扣款未成功。支付服务商会再次尝试；扣款成功之前不会发放新的月度积分。\n"
            "\n"
            "请在支付服务商处检查您的支付方式。您的套餐：\n"
            "\n"
            "{link}\n",

            "您好：\n"
            "\n"
            "您的套餐已于 {date}（UTC）结束，届时未用完的套餐积分已过期；单独购买的积分包不受影响。\n"
            "\n"
            "您可以随时重新选择套餐：\n"
            "\n"
            "{link}\n",
        },
    .days = {" 天", " 天"},
    .hours = {" 小时", " 小时"},
    .minutes = {" 分钟", " 分钟"},
};

/* The web UI pages the links open (web/ reads the token from the fragment). */
static const char *const mail_paths[MAIL__COUNT] = {"/verify-email", "/reset-password", "/pricing", "/dashboard",
                                                    "/pricing"};

/* Frees s, first wiping it: texts and messages carry a one-time token. */
static void mail_wipe_free(char *s, size_t len)
{
    if (s == NULL)
        return;
    explicit_bzero(s, len);
    free(s);
}

void mail_id_new(char out[MAIL_ID_MAX])
{
    unsigned char raw[16];
    rand_bytes(raw, sizeof raw);
    hex_encode(raw, sizeof raw, out);
}

const char *mail_kind_name(enum mail_kind kind)
{
    switch (kind) {
    case MAIL_VERIFY: return "verify";
    case MAIL_RESET: return "reset";
    case MAIL_SUB_REMIND: return "sub_remind";
    case MAIL_SUB_PAST_DUE: return "sub_past_due";
    case MAIL_SUB_ENDED: return "sub_ended";
    case MAIL__COUNT: break;
    }
    return "unknown";
}

const char *mail_domain(const char *addr)
{
    const char *at = addr ? strrchr(addr, '@') : NULL;
    return at ? at + 1 : "";
}

/* "24 hours", "1 day", "15 minutes": the largest unit that divides ttl_s exactly, minutes
 * rounded up otherwise. */
static void mail_ttl_text(const struct mail_strings *t, int64_t ttl_s, char *out, size_t cap)
{
    const char *const *unit;
    int64_t n;
    if (ttl_s >= 86400 && ttl_s % 86400 == 0) {
        unit = t->days, n = ttl_s / 86400;
    } else if (ttl_s >= 3600 && ttl_s % 3600 == 0) {
        unit = t->hours, n = ttl_s / 3600;
    } else {
        unit = t->minutes, n = (ttl_s + 59) / 60;
    }
    snprintf(out, cap, "%" PRId64 "%s", n, unit[n == 1 ? 0 : 1]);
}

/* Appends tmpl with {link}, {token} and {ttl} replaced. */
static void mail_fill(struct sbuf *b, const char *tmpl, const char *link, const char *token, const char *ttl)
{
    static const char *const names[4] = {"{link}", "{token}", "{ttl}", "{date}"};
    const char *vals[4] = {link, token, ttl, token};
    const char *p = tmpl;
    for (;;) {
        const char *brace = strchr(p, '{');
        if (brace == NULL)
            break;
        sbuf_append(b, p, (size_t)(brace - p));
        p = brace;
        int k;
        for (k = 0; k < 4; k++)
            if (strncmp(p, names[k], strlen(names[k])) == 0)
                break;
        if (k == 4) {
            sbuf_append(b, p, 1);
            p++;
            continue;
        }
        sbuf_puts(b, vals[k]);
        p += strlen(names[k]);
    }
    sbuf_puts(b, p);
}

void mail_text_render(enum mail_kind kind, const char *locale, const char *public_url, const char *token,
                      int64_t ttl_s, struct mail_text *out)
{
    const struct mail_strings *t =
        locale != NULL && strcmp(locale, ACCOUNTS_LOCALE_ZH) == 0 ? &mail_zh : &mail_en;
    int k = kind >= 0 && kind < MAIL__COUNT ? (int)kind : 0;
    char ttl[64];
    struct sbuf link = {0}, body = {0};

    mail_ttl_text(t, ttl_s, ttl, sizeof ttl);
    if (kind == MAIL_VERIFY || kind == MAIL_RESET)
        sbuf_printf(&link, "%s%s#token=%s", public_url, mail_paths[k], token);
    else
        sbuf_printf(&link, "%s%s", public_url, mail_paths[k]);
    mail_fill(&body, t->body[k], link.data, token, ttl);
    out->subject = xstrdup(t->subject[k]);
    out->body = body.data;
    mail_wipe_free(link.data, link.len);
}

void mail_text_free(struct mail_text *t)
{
    free(t->subject);
    mail_wipe_free(t->body, t->body ? strlen(t->body) : 0);
    t->subject = t->body = NULL;
}

/* ---- the message ---- */

/*
 * A bare address we can put in a header and an envelope as it is: local@domain, 3..254
 * bytes of printable ASCII without blanks and without the characters that would make it
 * something else in a header (a list, a display name, a comment, a group, a quoted string).
 */
static int mail_addr_ok(const char *a)
{
    size_t n = strlen(a);
    const char *at = strchr(a, '@');
    if (n < 3 || n > TG_EMAIL_MAX || at == NULL || at == a || at[1] == '\0' || strchr(at + 1, '@') != NULL)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)a[i];
        if (c <= 0x20 || c >= 0x7f || strchr("<>()[]\\,;:\"", c) != NULL)
            return 0;
    }
    return 1;
}

/* Valid UTF-8 without control characters (C0 with CR and LF, DEL, C1, U+2028/U+2029). */
static int mail_header_text_ok(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t k = utf8_next(p + i, n - i, &cp);
        if (k == 0 || cp < 0x20 || (cp >= 0x7f && cp < 0xa0) || cp == 0x2028 || cp == 0x2029)
            return 0;
        i += k;
    }
    return 1;
}

static int mail_id_ok(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n > 32)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (hex_value(id[i]) < 0 || (id[i] >= 'A' && id[i] <= 'F'))
            return 0;
    return 1;
}

/* Subject: plain when it is short printable ASCII that cannot be read as an encoded-word,
 * else RFC 2047 "B" encoded-words of whole UTF-8 characters, one per folded line. */
static void mail_put_subject(struct sbuf *b, const char *subject)
{
    size_t n = strlen(subject);
    int plain = n <= MAIL_SUBJECT_PLAIN_MAX && strstr(subject, "=?") == NULL;
    for (size_t i = 0; plain && i < n; i++)
        if ((unsigned char)subject[i] >= 0x7f)
            plain = 0;
    sbuf_puts(b, "Subject: ");
    if (plain) {
        sbuf_append(b, subject, n);
        sbuf_puts(b, "\r\n");
        return;
    }
    const unsigned char *p = (const unsigned char *)subject;
    for (size_t i = 0; i < n;) {
        size_t take = 0;
        while (i + take < n) {
            uint32_t cp;
            size_t k = utf8_next(p + i + take, n - i - take, &cp); /* validated by the caller */
            if (k == 0 || take + k > MAIL_WORD_BYTES)
                break;
            take += k;
        }
        if (NEVER(take == 0))
            break;
        char enc[4 * (MAIL_WORD_BYTES + 2) / 3 + 4];
        b64_encode(p + i, take, enc);
        sbuf_printf(b, "%s=?UTF-8?B?%s?=", i > 0 ? "\r\n " : "", enc);
        i += take;
    }
    sbuf_puts(b, "\r\n");
}

/* The body in canonical form (CRLF line breaks, RFC 2046 4.1.1), base64 in lines of 76. */
static void mail_put_body(struct sbuf *b, const char *body)
{
    struct sbuf crlf = {0};
    for (const char *p = body; *p; p++) {
        if (*p == '\r' && p[1] == '\n')
            continue; /* the '\n' writes the pair */
        if (*p == '\n' || *p == '\r')
            sbuf_puts(&crlf, "\r\n");
        else
            sbuf_append(&crlf, p, 1);
    }
    size_t len = crlf.len;
    char *enc = xmalloc(b64_encoded_len(len) + 1);
    size_t elen = b64_encode(crlf.data ? crlf.data : "", len, enc);
    for (size_t i = 0; i < elen; i += MAIL_B64_LINE) {
        size_t k = elen - i < MAIL_B64_LINE ? elen - i : MAIL_B64_LINE;
        sbuf_append(b, enc + i, k);
        sbuf_puts(b, "\r\n");
    }
    mail_wipe_free(enc, elen);
    mail_wipe_free(crlf.data, crlf.len);
}

int mail_compose(const char *from, const char *to, const char *subject, const char *body, int64_t date_ms,
                 const char *id, struct sbuf *out)
{
    char date[32];
    if (!mail_addr_ok(from) || !mail_addr_ok(to) || !mail_header_text_ok(subject) || !mail_id_ok(id) ||
        !utf8_valid(body, strlen(body)))
        return -1;
    sbuf_printf(out, "From: %s\r\nTo: %s\r\n", from, to);
    mail_put_subject(out, subject);
    sbuf_printf(out,
                "Date: %s\r\n"
                "Message-ID: <%s@%s>\r\n"
                "MIME-Version: 1.0\r\n"
                "Content-Type: text/plain; charset=UTF-8\r\n"
                "Content-Transfer-Encoding: base64\r\n"
                "Auto-Submitted: auto-generated\r\n"
                "\r\n",
                time_rfc5322(date_ms, date), id, mail_domain(from));
    mail_put_body(out, body);
    return 0;
}

struct mail_msg *mail_build(enum mail_kind kind, const char *from, const char *to, const char *locale,
                            const char *public_url, const char *token, int64_t ttl_s, int64_t now_ms,
                            const char *id)
{
    struct mail_text t;
    struct sbuf b = {0};
    struct mail_msg *m = NULL;

    if (strlen(public_url) > MAIL_URL_MAX)
        return NULL;
    mail_text_render(kind, locale, public_url, token, ttl_s, &t);
    if (mail_compose(from, to, t.subject, t.body, now_ms, id, &b) != 0)
        goto cleanup;
    m = xcalloc(1, sizeof *m);
    m->kind = kind;
    snprintf(m->from, sizeof m->from, "%s", from);
    snprintf(m->to, sizeof m->to, "%s", to);
    snprintf(m->id, sizeof m->id, "%s", id);
    m->created_ms = now_ms;
    m->data = b.data;
    m->len = b.len;
    b.data = NULL;
cleanup:
    mail_wipe_free(b.data, b.len);
    mail_text_free(&t);
    return m;
}

void mail_msg_free(struct mail_msg *m)
{
    if (m == NULL)
        return;
    mail_wipe_free(m->data, m->len);
    free(m);
}
