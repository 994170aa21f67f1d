/*
 * transport.h - the two ways a mail leaves (providers/mail/), driven by mailer.c.
 *
 * Both run on the mail thread only: they may block it (a file write, an SMTP exchange),
 * never a loop. Neither logs the message: it carries a one-time token.
 */
#ifndef TG_PROVIDERS_MAIL_TRANSPORT_H
#define TG_PROVIDERS_MAIL_TRANSPORT_H

#include <stddef.h>

#include "domain/mail.h"

struct net_exec;

/* Completion of a send: ok 1 when the message was accepted (by the SMTP server, or written
 * to the outbox); why is a static reason for the log otherwise ("refused", "timeout", ...),
 * code the last SMTP reply code (0 when none), file the outbox file's name ("" for SMTP). */
typedef void (*mail_sent_fn)(void *arg, int ok, const char *why, long code, const char *file);

/* The SMTP exchange for one message through url (TG_SMTP_URL): envelope m->from -> m->to,
 * m->data as DATA, timeout_ms in all. done runs exactly once, on the thread that drains nx
 * (at once with a synchronous executor). */
void mail_smtp_send(struct net_exec *nx, const char *url, const struct mail_msg *m, int timeout_ms,
                    mail_sent_fn done, void *arg);

/* Room for an outbox file name: 13-digit milliseconds, '-', the message id, ".eml". */
#define MAIL_OUTBOX_NAME_MAX (24 + MAIL_ID_MAX)

/*
 * Writes m into dir as "<created_ms>-<id>.eml" (mode 0600): first under a hidden temporary
 * name, synced, then renamed, so that whoever reads the folder never sees half a message.
 * done runs before this returns.
 */
void mail_outbox_write(const char *dir, const struct mail_msg *m, mail_sent_fn done, void *arg);

#endif
