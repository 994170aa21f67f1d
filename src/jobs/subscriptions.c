/*
 * subscriptions.c - the subscription job (jobs.h): credit periods that ended, paid periods
 * that ran out, prepaid renewal reminders and past-due notices.
 *
 * Each due subscription is one write transaction (subs_due_tx): whatever the job decides -
 * plan credits written off, the next month granted, the subscription ended - commits
 * together, and a mail it decided on is handed to the mailer only after that commit (a
 * rolled-back run sends nothing; a mail is at most once per period, recorded in
 * reminded_for in the same transaction).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "domain/mail.h"
#include "domain/subscriptions.h"
#include "jobs/jobs.h"
#include "providers/mail/mailer.h"
#include "store/call.h"

#define SUBS_BATCH 32

static int subs_running;

struct subs_run {
    struct store_call call;
    struct store_exec *ex;
    int64_t now;
    struct subscription *subs;
    size_t n, left;
};

struct subs_item {
    struct store_call call;
    struct subs_run *run;
    char id[TG_ID_MAX];
    enum subs_mail mail;
    struct subscription sub;
    struct user user;
};

static void subs_run_end(struct subs_run *run)
{
    if (--run->left == 0) {
        free(run->subs);
        free(run);
        subs_running = 0;
    }
}

static enum store_rc subs_item_run(struct store *s, struct store_call *sc)
{
    struct subs_item *it = (struct subs_item *)sc;
    enum store_rc rc = subs_due_tx(s, it->id, time_now_ms(), &it->mail, &it->sub);
    if (rc == STORE_OK && it->mail != SUBS_MAIL_NONE) {
        rc = store_user_get(s, it->sub.user_id, &it->user);
        if (rc == STORE_NOTFOUND) {
            it->mail = SUBS_MAIL_NONE;
            rc = STORE_OK;
        }
    }
    return rc;
}

/* Tells the user what the job decided, once it is durable. */
static void subs_item_mail(const struct subs_item *it)
{
    static const enum mail_kind kinds[] = {[SUBS_MAIL_REMIND] = MAIL_SUB_REMIND,
                                           [SUBS_MAIL_EXPIRED] = MAIL_SUB_ENDED,
                                           [SUBS_MAIL_PAST_DUE] = MAIL_SUB_PAST_DUE};
    enum mail_kind kind = kinds[it->mail];
    char date[32], id[MAIL_ID_MAX];
    int64_t when = it->mail == SUBS_MAIL_EXPIRED ? it->sub.ended_at : it->sub.period_end;
    if (it->user.email[0] == '\0' || it->user.disabled)
        return;
    time_rfc3339(when, date);
    date[10] = '\0'; /* the day */
    mail_id_new(id);
    struct mail_msg *m = mail_build(kind, tg_cfg->smtp_from ? tg_cfg->smtp_from : MAILER_DEFAULT_FROM,
                                    it->user.email, it->user.locale, tg_cfg->public_url, date, 0, time_now_ms(), id);
    if (m == NULL) {
        mailer_note_unsent(kind, it->user.email, "compose_refused");
        return;
    }
    mailer_send(m);
}

static void subs_item_done(struct store_call *sc)
{
    struct subs_item *it = (struct subs_item *)sc;
    struct subs_run *run = it->run;
    if (sc->rc != STORE_OK) {
        log_event(LOG_WARN, "subscription_job_failed", "subscription_id", it->id, "rc", store_rc_name(sc->rc), NULL);
    } else {
        if (it->mail != SUBS_MAIL_NONE)
            subs_item_mail(it);
        if (it->mail == SUBS_MAIL_EXPIRED)
            log_event(LOG_INFO, "subscription_ended", "subscription_id", it->id, "status", it->sub.status, NULL);
    }
    free(it);
    subs_run_end(run);
}

static enum store_rc subs_load_run(struct store *s, struct store_call *sc)
{
    struct subs_run *run = (struct subs_run *)sc;
    return store_subs_due(s, run->now, SUBS_BATCH, &run->subs, &run->n);
}

static void subs_load_done(struct store_call *sc)
{
    struct subs_run *run = (struct subs_run *)sc;
    if (sc->rc != STORE_OK || run->n == 0) {
        if (sc->rc != STORE_OK)
            log_event(LOG_WARN, "subscription_job_load_failed", "rc", store_rc_name(sc->rc), NULL);
        free(run->subs);
        free(run);
        subs_running = 0;
        return;
    }
    run->left = run->n;
    for (size_t i = 0; i < run->n; i++) {
        struct subs_item *it = xcalloc(1, sizeof *it);
        it->run = run;
        snprintf(it->id, sizeof it->id, "%s", run->subs[i].id);
        store_exec_call(run->ex, &it->call, STORE_CALL_WRITE, subs_item_run, subs_item_done);
    }
}

void jobs_subscriptions(struct store_exec *ex, int64_t now_ms)
{
    if (subs_running)
        return;
    subs_running = 1;
    struct subs_run *run = xcalloc(1, sizeof *run);
    run->ex = ex;
    run->now = now_ms;
    store_exec_call(ex, &run->call, STORE_CALL_READ, subs_load_run, subs_load_done);
}
