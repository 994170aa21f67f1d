/*
 * mailer.c - the mail thread and its queue (see mailer.h).
 */
#include "providers/mail/mailer.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/log.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "net/net.h"
#include "providers/mail/transport.h"

struct mailer {
    pthread_t tid;
    char *smtp_url; /* NULL: the outbox */
    char *outbox_dir;
    pthread_mutex_t mu; /* guards the five below: held for a few pointer moves only */
    pthread_cond_t cv;
    struct mailer_item *head, *tail;
    size_t queued;
    int stopping;
    int64_t stop_deadline_ms;
};

struct mailer_item {
    struct mailer_item *next;
    struct mail_msg *m;
};

/* Written by the mail thread and by mailer_send's drops, read by /metrics. */
static _Atomic uint64_t mailer_sent[2], mailer_failed[2];
/* The running mailer; set before its thread starts and cleared after it is joined, on the
 * thread that starts and stops the server. */
static struct mailer *mailer_cur;
/* The transport chosen at start, readable without the mailer (metrics after a stop). */
static _Atomic int mailer_which = MAILER_OUTBOX;

const char *mailer_transport(void)
{
    return atomic_load(&mailer_which) == MAILER_SMTP ? "smtp" : "outbox";
}

void mailer_stats_get(struct mailer_stats *out)
{
    for (int i = 0; i < 2; i++) {
        out->sent[i] = atomic_load_explicit(&mailer_sent[i], memory_order_relaxed);
        out->failed[i] = atomic_load_explicit(&mailer_failed[i], memory_order_relaxed);
    }
}

void mailer_note_unsent(enum mail_kind kind, const char *to, const char *why)
{
    int t = atomic_load(&mailer_which);
    atomic_fetch_add_explicit(&mailer_failed[t], 1, memory_order_relaxed);
    log_event(LOG_ERROR, "mail_failed", "transport", mailer_transport(), "kind", mail_kind_name(kind),
              "domain", mail_domain(to), "reason", why, NULL);
}

/* Logs and counts a mail that did not leave, and frees it. */
static void mailer_drop(struct mail_msg *m, const char *why)
{
    mailer_note_unsent(m->kind, m->to, why);
    mail_msg_free(m);
}

void mailer_send(struct mail_msg *m)
{
    struct mailer *ml = mailer_cur;
    struct mailer_item *it;
    const char *refused = NULL;

    if (m == NULL)
        return;
    if (ml == NULL) {
        mailer_drop(m, "mailer_stopped");
        return;
    }
    it = xcalloc(1, sizeof *it);
    it->m = m;
    pthread_mutex_lock(&ml->mu);
    if (ml->stopping)
        refused = "mailer_stopped";
    else if (ml->queued >= MAILER_QUEUE_MAX)
        refused = "queue_full";
    if (refused == NULL) {
        if (ml->tail)
            ml->tail->next = it;
        else
            ml->head = it;
        ml->tail = it;
        ml->queued++;
        pthread_cond_signal(&ml->cv);
    }
    pthread_mutex_unlock(&ml->mu);
    if (refused != NULL) {
        free(it);
        mailer_drop(m, refused);
    }
}

/* What one send reports back (the transports complete before returning here). */
struct mailer_sent_ctx {
    const struct mail_msg *m;
    int transport;
    int64_t started_ms;
};

static void mailer_sent_cb(void *arg, int ok, const char *why, long code, const char *file)
{
    struct mailer_sent_ctx *sc = arg;
    const struct mail_msg *m = sc->m;
    char ms[24], codes[24];

    snprintf(ms, sizeof ms, "%lld", (long long)(time_now_ms() - sc->started_ms));
    snprintf(codes, sizeof codes, "%ld", code);
    if (ok) {
        atomic_fetch_add_explicit(&mailer_sent[sc->transport], 1, memory_order_relaxed);
        log_event(LOG_INFO, "mail_sent", "transport", mailer_transport(), "kind", mail_kind_name(m->kind),
                  "domain", mail_domain(m->to), "file", file[0] ? file : NULL, "ms", ms, NULL);
    } else {
        atomic_fetch_add_explicit(&mailer_failed[sc->transport], 1, memory_order_relaxed);
        log_event(LOG_ERROR, "mail_failed", "transport", mailer_transport(), "kind", mail_kind_name(m->kind),
                  "domain", mail_domain(m->to), "reason", why ? why : "error", "smtp_code",
                  code ? codes : NULL, "ms", ms, NULL);
    }
}

/* Sends one message on the mail thread, then frees it. */
static void mailer_deliver(struct mailer *ml, struct net_exec *nx, struct mail_msg *m)
{
    struct mailer_sent_ctx sc = {m, ml->smtp_url ? MAILER_SMTP : MAILER_OUTBOX, time_now_ms()};
    if (ml->smtp_url != NULL)
        mail_smtp_send(nx, ml->smtp_url, m, MAILER_SMTP_TIMEOUT_MS, mailer_sent_cb, &sc);
    else
        mail_outbox_write(ml->outbox_dir, m, mailer_sent_cb, &sc);
    /* The executor is synchronous: the send has completed (and reported) by now. */
    mail_msg_free(m);
}

static void *mailer_main(void *arg)
{
    struct mailer *ml = arg;
    struct net_exec nx;

    /* A synchronous executor (net.h): each SMTP exchange runs to its end on this thread,
     * which is what this thread is for (see mailer.h). */
    net_exec_init(&nx, NULL, NULL, NULL);
    for (;;) {
        pthread_mutex_lock(&ml->mu);
        while (ml->head == NULL && !ml->stopping)
            pthread_cond_wait(&ml->cv, &ml->mu);
        struct mailer_item *it = ml->head;
        if (it == NULL) { /* stopping and nothing left */
            pthread_mutex_unlock(&ml->mu);
            break;
        }
        ml->head = it->next;
        if (ml->head == NULL)
            ml->tail = NULL;
        ml->queued--;
        int late = ml->stopping && time_now_ms() > ml->stop_deadline_ms;
        pthread_mutex_unlock(&ml->mu);
        struct mail_msg *m = it->m;
        free(it);
        if (late)
            mailer_drop(m, "shutdown");
        else
            mailer_deliver(ml, &nx, m);
    }
    net_exec_dispose(&nx);
    return NULL;
}

static void mailer_free(struct mailer *ml)
{
    pthread_cond_destroy(&ml->cv);
    pthread_mutex_destroy(&ml->mu);
    free(ml->smtp_url);
    free(ml->outbox_dir);
    free(ml);
}

int mailer_start(const char *smtp_url, const char *outbox_dir, char **err)
{
    struct mailer *ml;
    *err = NULL;
    if (mailer_cur != NULL) {
        *err = xstrdup("mailer: already started");
        return -1;
    }
    if (smtp_url == NULL && mkdir(outbox_dir, 0700) != 0 && errno != EEXIST) {
        *err = xasprintf("mail outbox: cannot create %s: %s", outbox_dir, strerror(errno));
        return -1;
    }
    ml = xcalloc(1, sizeof *ml);
    ml->smtp_url = smtp_url ? xstrdup(smtp_url) : NULL;
    ml->outbox_dir = xstrdup(outbox_dir);
    pthread_mutex_init(&ml->mu, NULL);
    pthread_cond_init(&ml->cv, NULL);
    atomic_store(&mailer_which, smtp_url ? MAILER_SMTP : MAILER_OUTBOX);
    mailer_cur = ml;
    /* The thread starts with every signal blocked: SIGTERM and SIGINT belong to the thread
     * that waits for them (http/server.c), and a thread that leaves them open would let the
     * kernel deliver one there - and end the process with the default action. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&ml->tid, NULL, mailer_main, ml);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        mailer_cur = NULL;
        mailer_free(ml);
        *err = xasprintf("mailer: cannot start its thread: %s", strerror(rc));
        return -1;
    }
    return 0;
}

void mailer_stop(void)
{
    struct mailer *ml = mailer_cur;
    if (ml == NULL)
        return;
    pthread_mutex_lock(&ml->mu);
    ml->stopping = 1;
    ml->stop_deadline_ms = time_now_ms() + MAILER_STOP_GRACE_MS;
    pthread_cond_signal(&ml->cv);
    pthread_mutex_unlock(&ml->mu);
    pthread_join(ml->tid, NULL);
    mailer_cur = NULL;
    mailer_free(ml);
}
