/*
 * tasks.h - the money rules of generation tasks (DESIGN sections 3 and 7, PEERS "task
 * billing"): reserve on submit, settle on success, refund on failure, timeout or cancel -
 * each exactly once.
 *
 * Exactly once comes from two guards that commit together: every terminal change is a
 * conditional update on a live status (store_task_finish: only one writer wins, the loser
 * sees STORE_CONFLICT and moves no credit), and every ledger row carries the reference
 * task/<id> under the ledger's unique key (a second refund of one task cannot be written).
 * A retry on another key, a restart or a second dispatcher never debits again: the debit
 * happens once, in the transaction that creates the task.
 *
 * Refunds go back where the credits came from: the paid part to the paid bucket; the plan
 * part to the plan bucket while the plan month it came from is still running, else to the
 * paid bucket (the user asked while those credits were valid, so they are not lost with the
 * month). A partial refund on success (the output was shorter than estimated) returns paid
 * credits first, since plan credits expire anyway.
 *
 * All *_tx functions run inside the caller's write transaction (a store_call's run()).
 */
#ifndef TG_DOMAIN_TASKS_H
#define TG_DOMAIN_TASKS_H

#include <stdint.h>

#include "core/types.h"
#include "store/store.h"

struct idem;

enum task_kind_id {
    TASK_ANIMATE_MOVE = 0, /* "animate_move": wan2.2-animate-move */
    TASK_ANIMATE_MIX,      /* "animate_mix": wan2.2-animate-mix */
    TASK_TEXT_TO_VIDEO,    /* "text_to_video": Veo3 through kie.ai */
    TASK_IMAGE,            /* "image": Gemini image */
    TASK__COUNT
};

/* "animate_move", ... ("unknown" out of range). */
const char *task_kind_name(enum task_kind_id k);
/* Parses a kind name. 0, or -1 when unknown. */
int task_kind_parse(const char *s, enum task_kind_id *out);
/* 1 for queued, submitted, running; 0 for anything else. */
int task_status_live(const char *status);
/* 1 for any of the seven statuses. */
int task_status_valid(const char *status);

/* Largest number of units a task may be priced at (seconds of video: far above any model's
 * limit), so that unit_credits * units can never overflow. */
#define TASKS_MAX_UNITS 3600

/* The credits a task costs for `units` units at its price in force, capped at reserved
 * (a provider reporting a longer output than estimated never charges more than the user
 * agreed to at submit). units <= 0 means the estimate. */
int64_t tasks_cost(const struct task *t, int64_t units);

enum tasks_submit_outcome {
    TASKS_CREATED = 0,  /* stored and reserved */
    TASKS_REPLAY,       /* the same request was answered before: idem holds the answer */
    TASKS_KEY_REUSED,   /* the Idempotency-Key was used for another request */
    TASKS_INSUFFICIENT, /* fewer spendable credits than t->reserved: nothing stored */
    TASKS_TOO_MANY,     /* the user already has max_live live tasks: nothing stored */
};

/* Renders the answer stored for the Idempotency-Key from the created task (heap string,
 * caller frees; NULL on failure). *status is the HTTP status. */
typedef char *(*tasks_render_fn)(const struct task *t, int *status);

/*
 * Inside a write transaction: with idem (may be NULL) checks the key first; then refuses
 * when the user has max_live live tasks or more (max_live <= 0: no cap); then debits
 * t->reserved (ledger_spend_tx, kind spend, ref task/<id>, plan credits first), records in
 * t which part came from the plan bucket (reserved_plan, plan_expires_at), stores t with
 * status queued and phase submit, and with idem saves render(t) as the key's answer.
 * t must be filled by the caller: id, user_id, kind, provider, model, inputs_json,
 * price_unit, unit_credits, est_units, reserved, next_at, deadline_at, created_at.
 * *outcome says which; the return value is STORE_OK for every outcome above (nothing is
 * written for the refusals) and a store error otherwise.
 */
enum store_rc tasks_submit_tx(struct store *s, struct idem *idem, struct task *t, int64_t max_live,
                              tasks_render_fn render, int64_t now_ms, enum tasks_submit_outcome *outcome);

/*
 * Inside a write transaction: t (as read, live) succeeded with outputs_json (our files) and
 * `units` units of real output (<= 0: the estimate). Settles tasks_cost(t, units), refunds
 * the rest (kind settle), and finishes the task as succeeded. t is updated to what was
 * stored. STORE_CONFLICT when the task is no longer live (nothing changes).
 */
enum store_rc tasks_succeed_tx(struct store *s, struct task *t, int64_t units, const char *outputs_json,
                               int64_t now_ms);

/*
 * Inside a write transaction: t (as read, live) ends as `status` (failed, timed_out or
 * canceled) with error code and message (may be NULL); everything reserved is refunded
 * (kind refund). t is updated to what was stored. STORE_CONFLICT when no longer live.
 */
enum store_rc tasks_fail_tx(struct store *s, struct task *t, const char *status, const char *code,
                            const char *message, int64_t now_ms);

/*
 * Inside a write transaction: the user cancels their task id. Reads it, refuses with
 * STORE_NOTFOUND when it is not theirs and STORE_CONFLICT when it is terminal (out then
 * holds it as it is), else tasks_fail_tx(canceled). out receives the task as stored; it
 * must start zeroed or hold a task of an earlier run (released here: run() may repeat).
 */
enum store_rc tasks_cancel_tx(struct store *s, const char *user_id, const char *id, int64_t now_ms,
                              struct task *out);

#endif
