/*
 * mailer.h - sending mails (DESIGN section 5): SMTP when TG_SMTP_URL is set, else one file
 * per message in TG_DATA_DIR/outbox/.
 *
 * Handlers hand a composed message (domain/mail.h) to mailer_send() after the transaction
 * that made its token committed; the answer to the request never waits for the mail and
 * never fails because of it (the person can ask again). Failures are logged - with the
 * recipient's domain, never the address's local part nor the message - and counted for
 * /metrics (tollgate_mail_sent_total{transport,outcome}).
 *
 * Where the work happens: one mail thread per process, fed through a bounded queue under a
 * lock held for a few pointer moves, so mailer_send() never blocks a loop. Neither the
 * blocking pool nor the requests' loops are used, because
 *   - a mail must go out even when its request ended (the client went away after the
 *     account was created), so it cannot hang off a request as req_defer's jobs do;
 *   - an SMTP exchange is several round trips and a relay may be slow or unreachable (a
 *     connect timeout, then the whole exchange's): on the blocking pool that would take
 *     threads password hashing and /metrics need, and a burst of sign-ups against a dead
 *     relay could take them all. Here it delays only other mails;
 *   - outbox files are written in order, by one writer, off every loop.
 * Mails are rare (each costs a registration, a reset request or a resend, all rate-limited)
 * and the relay is usually close, so sending them one at a time on one thread keeps up;
 * when it does not, the queue is bounded (MAILER_QUEUE_MAX) and mails past it are counted
 * as failed rather than held in memory.
 */
#ifndef TG_PROVIDERS_MAIL_MAILER_H
#define TG_PROVIDERS_MAIL_MAILER_H

#include <stdint.h>

#include "domain/mail.h"

/* Messages waiting for the mail thread; past it mailer_send drops (and counts) them. */
#define MAILER_QUEUE_MAX 1024
/* One SMTP exchange, connection and TLS included: relays answer within seconds, and a
 * stuck one must not hold the queue (nor shutdown) for long. */
#define MAILER_SMTP_TIMEOUT_MS 15000
/* After mailer_stop() began, mails still waiting are sent for this long, then dropped
 * (and counted): shutdown must end, and a person can ask for the mail again. */
#define MAILER_STOP_GRACE_MS 5000
/* The sender when TG_SMTP_FROM is unset (outbox mails are never delivered). */
#define MAILER_DEFAULT_FROM "no-reply@localhost"

/*
 * Starts the mail thread: SMTP through smtp_url when not NULL, else files in outbox_dir
 * (created, mode 0700, when missing). Once per process, after net_global_init.
 * Returns 0, or -1 with *err set (caller frees).
 */
int mailer_start(const char *smtp_url, const char *outbox_dir, char **err);
/* Sends what is queued (for at most MAILER_STOP_GRACE_MS, plus the exchange in progress),
 * then stops the thread. Safe to call when not started. */
void mailer_stop(void);

/* Queues m (ownership passes; it is freed after sending). Never blocks. Thread-safe.
 * Without a running mailer the mail is dropped, logged and counted as failed. */
void mailer_send(struct mail_msg *m);

/* Logs and counts as failed a mail that could not be composed (mail_build refused a value),
 * naming only the recipient's domain. Thread-safe. */
void mailer_note_unsent(enum mail_kind kind, const char *to, const char *why);

/* The transport in use: "smtp" or "outbox" (metrics labels). */
const char *mailer_transport(void);

/* Mails by transport and outcome since start, for /metrics. */
enum { MAILER_SMTP = 0, MAILER_OUTBOX = 1 };
struct mailer_stats {
    uint64_t sent[2];   /* by MAILER_SMTP / MAILER_OUTBOX */
    uint64_t failed[2]; /* refused, timed out, unwritable, dropped */
};
void mailer_stats_get(struct mailer_stats *out);

#endif
