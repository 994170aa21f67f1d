/*
 * tasks.c - the money rules of generation tasks (tasks.h): reserve on submit, settle on
 * success, refund on failure, timeout or cancel, each exactly once.
 *
 * Every terminal change writes the task first (store_task_finish, conditional on a live
 * status) and the ledger rows after it: a writer that lost the race hears STORE_CONFLICT
 * before it has written anything, so no caller can commit a refund for a task someone else
 * finished, even one that ignored the result.
 */
#include "domain/tasks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/mem.h"
#include "core/utf8.h"
#include "domain/idempotency.h"
#include "domain/ledger.h"

/* ref_type of every ledger entry of a task (its ref_id is the task id). */
#define TASKS_REF "task"

static const char *const task_kind_names[TASK__COUNT] = {
    [TASK_ANIMATE_MOVE] = "animate_move",
    [TASK_ANIMATE_MIX] = "animate_mix",
    [TASK_TEXT_TO_VIDEO] = "text_to_video",
    [TASK_IMAGE] = "image",
};

const char *task_kind_name(enum task_kind_id k)
{
    return (unsigned)k < TASK__COUNT ? task_kind_names[k] : "unknown";
}

int task_kind_parse(const char *s, enum task_kind_id *out)
{
    for (int i = 0; s != NULL && i < TASK__COUNT; i++) {
        if (strcmp(s, task_kind_names[i]) == 0) {
            *out = (enum task_kind_id)i;
            return 0;
        }
    }
    return -1;
}

int task_status_live(const char *status)
{
    return status != NULL &&
           (strcmp(status, "queued") == 0 || strcmp(status, "submitted") == 0 || strcmp(status, "running") == 0);
}

/* 1 for the statuses a task ends in. */
static int task_status_terminal(const char *status)
{
    return status != NULL && (strcmp(status, "succeeded") == 0 || strcmp(status, "failed") == 0 ||
                              strcmp(status, "timed_out") == 0 || strcmp(status, "canceled") == 0);
}

int task_status_valid(const char *status)
{
    return task_status_live(status) || task_status_terminal(status);
}

int64_t tasks_cost(const struct task *t, int64_t units)
{
    /* A task priced per task costs its price whatever the provider reports. */
    if (units <= 0 || strcmp(t->price_unit, "second") != 0)
        units = t->est_units;
    if (units > TASKS_MAX_UNITS)
        units = TASKS_MAX_UNITS;
    if (t->reserved <= 0 || t->unit_credits <= 0 || units <= 0)
        return 0;
    /* units <= TASKS_MAX_UNITS and a price above reserved / units already exceeds the cap,
     * so the product is only formed when it cannot overflow. */
    if (t->unit_credits > t->reserved / units)
        return t->reserved;
    int64_t cost = t->unit_credits * units;
    return cost < t->reserved ? cost : t->reserved;
}

/* Copies src into dst[cap], cut at a UTF-8 character boundary when it does not fit, and
 * before the first invalid byte (an error text is shown to the user in JSON; half a
 * character or a stray byte would make it invalid). */
static void copy_text(char *dst, size_t cap, const char *src)
{
    size_t n = 0, len = src ? strlen(src) : 0;
    while (n < len) {
        uint32_t cp;
        size_t k = utf8_next((const unsigned char *)src + n, len - n, &cp);
        if (k == 0 || n + k >= cap)
            break;
        n += k;
    }
    if (n > 0)
        memcpy(dst, src, n);
    dst[n] = '\0';
}

/* 1 when the caller filled t within the bounds the store and the ledger rely on. */
static int tasks_valid_new(const struct task *t)
{
    enum task_kind_id k;
    return t->id[0] && t->user_id[0] && task_kind_parse(t->kind, &k) == 0 && t->provider[0] &&
           (strcmp(t->price_unit, "task") == 0 || strcmp(t->price_unit, "second") == 0) && t->unit_credits >= 0 &&
           t->est_units >= 1 && t->est_units <= TASKS_MAX_UNITS && t->reserved >= 0 &&
           t->reserved <= LEDGER_MAX_AMOUNT && t->unit_credits <= LEDGER_MAX_AMOUNT &&
           t->reserved == t->unit_credits * t->est_units;
}

enum store_rc tasks_submit_tx(struct store *s, struct idem *idem, struct task *t, int64_t max_live,
                              tasks_render_fn render, int64_t now_ms, enum tasks_submit_outcome *outcome)
{
    enum store_rc rc;
    *outcome = TASKS_CREATED;
    if (idem != NULL) {
        rc = idem_check_tx(s, idem);
        if (rc != STORE_OK)
            return rc;
        if (idem->mismatch) {
            *outcome = TASKS_KEY_REUSED;
            return STORE_OK;
        }
        if (idem->replay) {
            *outcome = TASKS_REPLAY;
            return STORE_OK;
        }
    }
    if (!tasks_valid_new(t)) {
        log_event(LOG_ERROR, "task_invalid", "task_id", t->id, "kind", t->kind, NULL);
        return STORE_ERROR;
    }
    if (max_live > 0) {
        int64_t live = 0;
        rc = store_task_count_live(s, t->user_id, &live);
        if (rc != STORE_OK)
            return rc;
        if (live >= max_live) {
            *outcome = TASKS_TOO_MANY;
            return STORE_OK;
        }
    }

    /* Rewritten on every run (run() may be repeated). */
    snprintf(t->status, sizeof t->status, "queued");
    snprintf(t->phase, sizeof t->phase, "submit");
    t->progress = 0;
    t->reserved_plan = 0;
    t->plan_expires_at = 0;
    t->settled = -1;
    t->refunded = 0;
    t->finished_at = 0;
    t->submitted_at = 0;
    if (t->updated_at == 0)
        t->updated_at = t->created_at;
    if (t->reserved > 0) {
        /* Read in the same write transaction as the debit, so the difference is this
         * debit's and nobody else's. */
        struct wallet before, after;
        rc = store_wallet_get(s, t->user_id, &before);
        if (rc != STORE_OK)
            return rc;
        enum ledger_rc lrc =
            ledger_spend_tx(s, t->user_id, t->reserved, LK_SPEND, TASKS_REF, t->id, NULL, now_ms, &after);
        if (lrc == LEDGER_INSUFFICIENT) {
            *outcome = TASKS_INSUFFICIENT;
            return STORE_OK;
        }
        if (lrc != LEDGER_OK)
            return ledger_to_store(lrc);
        t->reserved_plan = before.plan_credits - after.plan_credits;
        if (t->reserved_plan > 0)
            t->plan_expires_at = after.plan_expires_at;
    }
    rc = store_task_insert(s, t);
    if (rc != STORE_OK)
        return rc;
    if (idem != NULL && render != NULL) {
        int status = 0;
        char *body = render(t, &status);
        if (body == NULL)
            return STORE_ERROR;
        rc = idem_save_tx(s, idem, status, body, now_ms);
        free(body);
    }
    return rc;
}

/*
 * Gives `amount` of t's reservation back as `kind` entries: paid credits first, then plan
 * credits - into the plan bucket while the plan month they came from still runs (the
 * wallet's plan still ends when it did at submit, and that is later than now), otherwise
 * into the paid bucket. At most one entry per bucket, as the ledger's key requires.
 */
static enum store_rc tasks_give_back_tx(struct store *s, const struct task *t, int64_t amount, enum ledger_kind kind,
                                        int64_t now_ms)
{
    if (amount <= 0)
        return STORE_OK;
    int64_t paid_part = t->reserved - t->reserved_plan;
    int64_t to_paid = amount < paid_part ? amount : paid_part;
    int64_t to_plan = amount - to_paid;
    if (to_plan > 0) {
        struct wallet w;
        enum store_rc rc = store_wallet_get(s, t->user_id, &w);
        if (rc != STORE_OK)
            return rc;
        if (t->plan_expires_at == 0 || w.plan_expires_at != t->plan_expires_at || w.plan_expires_at <= now_ms) {
            to_paid += to_plan;
            to_plan = 0;
        }
    }
    enum ledger_rc lrc = LEDGER_OK;
    if (to_paid > 0)
        lrc = ledger_grant_tx(s, t->user_id, BUCKET_PAID, to_paid, kind, TASKS_REF, t->id, NULL, 0, now_ms, NULL);
    if (lrc == LEDGER_OK && to_plan > 0)
        lrc = ledger_grant_tx(s, t->user_id, BUCKET_PLAN, to_plan, kind, TASKS_REF, t->id, NULL, 0, now_ms, NULL);
    if (lrc != LEDGER_OK) {
        /* The task was finished by this transaction just before, so its reference cannot
         * be taken: a duplicate here means the ledger and the task disagree. */
        log_event(LOG_ERROR, "task_give_back_failed", "task_id", t->id, "result", ledger_rc_name(lrc), NULL);
        return lrc == LEDGER_DUPLICATE ? STORE_ERROR : ledger_to_store(lrc);
    }
    return STORE_OK;
}

/*
 * Finishes n (t with its terminal fields set) and gives back n->refunded. On STORE_OK t
 * becomes n (t's old outputs released); otherwise t is left as it was and n's own outputs
 * (when not t's) are released.
 */
static enum store_rc tasks_finish_tx(struct store *s, struct task *t, struct task *n, enum ledger_kind kind,
                                     int64_t now_ms)
{
    enum store_rc rc = store_task_finish(s, n);
    if (rc == STORE_OK)
        rc = tasks_give_back_tx(s, n, n->refunded, kind, now_ms);
    if (rc != STORE_OK) {
        if (n->outputs_json != t->outputs_json)
            free(n->outputs_json);
        return rc;
    }
    if (t->outputs_json != n->outputs_json)
        free(t->outputs_json);
    *t = *n;
    return STORE_OK;
}

/* t with the fields every terminal change writes. inputs_json and outputs_json still
 * belong to t. */
static struct task tasks_terminal(const struct task *t, const char *status, int64_t settled, int64_t now_ms)
{
    struct task n = *t;
    snprintf(n.status, sizeof n.status, "%s", status);
    n.phase[0] = '\0';
    n.settled = settled;
    n.refunded = t->reserved - settled;
    n.next_at = 0;
    n.finished_at = now_ms;
    n.updated_at = now_ms;
    return n;
}

enum store_rc tasks_succeed_tx(struct store *s, struct task *t, int64_t units, const char *outputs_json,
                               int64_t now_ms)
{
    /* Whether t is still live is the store's conditional update to decide, not the copy in
     * memory: run() may be repeated with t as an earlier attempt left it. */
    struct task n = tasks_terminal(t, "succeeded", tasks_cost(t, units), now_ms);
    n.progress = 100;
    n.error_code[0] = '\0';
    n.error_message[0] = '\0';
    n.outputs_json = outputs_json ? xstrdup(outputs_json) : NULL;
    return tasks_finish_tx(s, t, &n, LK_SETTLE, now_ms);
}

enum store_rc tasks_fail_tx(struct store *s, struct task *t, const char *status, const char *code,
                            const char *message, int64_t now_ms)
{
    if (!task_status_terminal(status) || strcmp(status, "succeeded") == 0) {
        log_event(LOG_ERROR, "task_fail_status", "task_id", t->id, "status", status ? status : "(null)", NULL);
        return STORE_ERROR;
    }
    struct task n = tasks_terminal(t, status, 0, now_ms);
    copy_text(n.error_code, sizeof n.error_code, code);
    copy_text(n.error_message, sizeof n.error_message, message);
    return tasks_finish_tx(s, t, &n, LK_REFUND, now_ms);
}

enum store_rc tasks_cancel_tx(struct store *s, const char *user_id, const char *id, int64_t now_ms,
                              struct task *out)
{
    task_clear(out);
    enum store_rc rc = store_task_get(s, id, user_id, out);
    if (rc != STORE_OK)
        return rc;
    if (!task_status_live(out->status))
        return STORE_CONFLICT;
    return tasks_fail_tx(s, out, "canceled", "canceled", "Canceled by the user.", now_ms);
}
