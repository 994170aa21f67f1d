/*
 * mail.h - the mails Tollgate sends (DESIGN section 5): what they say, in which language,
 * and the RFC 5322 message that carries them. No I/O: the transports (providers/mail/)
 * send what this builds.
 *
 * A message is plain text in UTF-8, base64-encoded (RFC 2045) so that no line of the body
 * can be mistaken for SMTP's end of data or exceed a line limit, with CRLF line endings
 * throughout. Header values are refused, never cleaned, when they hold CR, LF or another
 * control character: nothing a caller passes can add a header or a recipient.
 *
 * Each mail carries a link to the web UI with the token in the fragment
 * (TG_PUBLIC_URL + "/verify-email#token=..."), which browsers never send to a server, so the
 * token stays out of access logs and Referer headers; and the token itself for API users.
 * Nothing the account holder chose (the display name) appears in a mail: anyone can
 * register any address, and their text must not reach someone else's inbox from us.
 */
#ifndef TG_DOMAIN_MAIL_H
#define TG_DOMAIN_MAIL_H

#include <stddef.h>
#include <stdint.h>

#include "core/types.h"

struct sbuf;

enum mail_kind {
    MAIL_VERIFY = 0,    /* "verify your email" */
    MAIL_RESET,         /* "reset your password" */
    MAIL_SUB_REMIND,    /* a prepaid plan ends on {date}: buy the next period (no token) */
    MAIL_SUB_PAST_DUE,  /* the plan's renewal payment failed (no token) */
    MAIL_SUB_ENDED,     /* the plan ended on {date} (no token) */
    MAIL__COUNT
};

/* Room for the random part of a Message-ID (32 hex digits), which also names outbox files. */
#define MAIL_ID_MAX 40
/* Longest link base (TG_PUBLIC_URL) accepted, and so every mail is bounded. */
#define MAIL_URL_MAX 1024

/* One message, ready for a transport. Free with mail_msg_free. */
struct mail_msg {
    enum mail_kind kind;
    char from[TG_EMAIL_MAX + 1]; /* envelope sender (= From) */
    char to[TG_EMAIL_MAX + 1];   /* envelope recipient (= To) */
    char id[MAIL_ID_MAX];        /* the random part of its Message-ID */
    int64_t created_ms;
    char *data; /* the whole RFC 5322 message, CRLF line endings; heap */
    size_t len;
};

/* A new random Message-ID part (32 hex digits). */
void mail_id_new(char out[MAIL_ID_MAX]);

/* "verify", "reset", "sub_remind", ... (logs). */
const char *mail_kind_name(enum mail_kind kind);

/* The recipient's domain (the part after the last '@', or "" when none): what logs may
 * say about a recipient. Borrowed from addr. */
const char *mail_domain(const char *addr);

/* What a message says: subject and text (LF line endings), both UTF-8. */
struct mail_text {
    char *subject; /* heap */
    char *body;    /* heap */
};
/*
 * The subject and text of `kind` in `locale` ("zh-CN"; anything else is en-US): the link
 * public_url + "/verify-email#token=" + token (MAIL_VERIFY) or "/reset-password#token=" +
 * token (MAIL_RESET), the token on a line of its own, and how long it stays valid (ttl_s).
 * The subscription mails carry no token: `token` is then the date they speak of
 * ("2026-12-29", UTC) and the link opens public_url + "/pricing" or "/dashboard".
 * Caller frees with mail_text_free.
 */
void mail_text_render(enum mail_kind kind, const char *locale, const char *public_url, const char *token,
                      int64_t ttl_s, struct mail_text *out);
void mail_text_free(struct mail_text *t);

/*
 * Composes the RFC 5322 message into out (appended): From and To (bare addresses: printable
 * ASCII without blanks, '<', '>' or ','), Subject (UTF-8; RFC 2047 encoded-words when it is
 * not plain ASCII, folded so that no line passes 78 characters), Date (date_ms, UTC),
 * Message-ID <id@domain of from>, MIME-Version, Content-Type text/plain; charset=UTF-8,
 * Content-Transfer-Encoding base64, Auto-Submitted auto-generated (RFC 3834: no
 * auto-replies), then the body (UTF-8, LF or CRLF line endings) as base64 in lines of 76.
 * id: [0-9a-f]{1,32}. Returns 0, or -1 when a value is refused (CR/LF or another control
 * character, invalid UTF-8, a malformed address or id): out is then unchanged.
 */
int mail_compose(const char *from, const char *to, const char *subject, const char *body, int64_t date_ms,
                 const char *id, struct sbuf *out);

/*
 * Renders and composes the mail `kind` for `to`: a new message (caller frees with
 * mail_msg_free), or NULL when mail_compose refused a value or public_url is too long.
 */
struct mail_msg *mail_build(enum mail_kind kind, const char *from, const char *to, const char *locale,
                            const char *public_url, const char *token, int64_t ttl_s, int64_t now_ms,
                            const char *id);
void mail_msg_free(struct mail_msg *m);

#endif
