/*
 * ledger.c - validated credit operations over the store (see ledger.h).
 */
#include "domain/ledger.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/ids.h"
#include "core/log.h"
#include "core/mem.h"
#include "domain/audit.h"
#include "domain/idempotency.h"
#include "store/call.h"
#include "store/store.h"

/* ref_type of admin adjustments (their ref_id is a generated "adj_" id). */
#define LEDGER_REF_ADMIN "admin"

const char *ledger_rc_name(enum ledger_rc rc)
{
    switch (rc) {
    case LEDGER_OK:
        return "ok";
    case LEDGER_INVALID:
        return "invalid";
    case LEDGER_NOTFOUND:
        return "not_found";
    case LEDGER_DUPLICATE:
        return "duplicate";
    case LEDGER_INSUFFICIENT:
        return "insufficient";
    case LEDGER_OVERFLOW:
        return "overflow";
    case LEDGER_CONFLICT:
        return "conflict";
    case LEDGER_NO_PLAN:
        return "no_plan";
    case LEDGER_BUSY:
        return "busy";
    case LEDGER_UNAVAILABLE:
        return "unavailable";
    case LEDGER_ERROR:
        return "error";
    }
    return "unknown";
}

const char *ledger_bucket_name(enum ledger_bucket b)
{
    return b == BUCKET_PLAN ? "plan" : "paid";
}

int ledger_bucket_parse(const char *s, enum ledger_bucket *out)
{
    if (s && strcmp(s, "plan") == 0) {
        *out = BUCKET_PLAN;
        return 0;
    }
    if (s && strcmp(s, "paid") == 0) {
        *out = BUCKET_PAID;
        return 0;
    }
    return -1;
}

const char *ledger_kind_name(enum ledger_kind k)
{
    static const char *const names[] = {
#define X(id, name) name,
        LEDGER_KINDS(X)
#undef X
    };
    return (unsigned)k < LK__COUNT ? names[k] : "unknown";
}

static enum ledger_rc ledger_from_store(enum store_rc rc)
{
    switch (rc) {
    case STORE_OK:
        return LEDGER_OK;
    case STORE_NOTFOUND:
        return LEDGER_NOTFOUND;
    case STORE_DUPLICATE:
        return LEDGER_DUPLICATE;
    case STORE_INSUFFICIENT:
        return LEDGER_INSUFFICIENT;
    case STORE_BUSY:
        return LEDGER_BUSY;
    case STORE_UNAVAILABLE:
        return LEDGER_UNAVAILABLE;
    case STORE_CONFLICT:
    case STORE_ERROR:
        return LEDGER_ERROR;
    }
    return LEDGER_ERROR;
}

enum store_rc ledger_to_store(enum ledger_rc rc)
{
    switch (rc) {
    case LEDGER_OK:
        return STORE_OK;
    case LEDGER_NOTFOUND:
        return STORE_NOTFOUND;
    case LEDGER_DUPLICATE:
        return STORE_DUPLICATE;
    case LEDGER_INSUFFICIENT:
        return STORE_INSUFFICIENT;
    case LEDGER_BUSY:
        return STORE_BUSY;
    case LEDGER_UNAVAILABLE:
        return STORE_UNAVAILABLE;
    case LEDGER_CONFLICT:
    case LEDGER_NO_PLAN:
        return STORE_CONFLICT;
    case LEDGER_INVALID:
    case LEDGER_OVERFLOW:
    case LEDGER_ERROR:
        return STORE_ERROR;
    }
    return STORE_ERROR;
}

int ledger_op_valid(const struct ledger_op *op)
{
    struct ledger_entry e;
    return op->user_id != NULL && op->user_id[0] != '\0' && strlen(op->user_id) < sizeof e.user_id &&
           op->amount >= 1 && op->amount <= LEDGER_MAX_AMOUNT &&
           (op->bucket == BUCKET_PLAN || op->bucket == BUCKET_PAID) && (unsigned)op->kind < LK__COUNT &&
           op->ref_type != NULL && op->ref_type[0] != '\0' && strlen(op->ref_type) < sizeof e.ref_type &&
           op->ref_id != NULL && op->ref_id[0] != '\0' && strlen(op->ref_id) <= TG_REF_MAX &&
           (op->note == NULL || strlen(op->note) <= TG_NOTE_MAX) && op->plan_expires_at >= 0 &&
           op->plan_valid_at >= 0;
}

int64_t ledger_spendable_plan(const struct wallet *w, int64_t now_ms)
{
    /* Plan credits belong to a period: once it has ended they cannot be spent (the
     * subscription scheduler writes them off as plan_expire). */
    if (w->plan_expires_at != 0 && w->plan_expires_at <= now_ms)
        return 0;
    return w->plan_credits;
}

/* Applies op (validated first) inside the caller's transaction. */
static enum ledger_rc ledger_apply_tx(struct store *s, const struct ledger_op *op, int64_t now_ms,
                                      struct wallet *before, struct wallet *after)
{
    if (!ledger_op_valid(op))
        return LEDGER_INVALID;
    return ledger_from_store(store_ledger_apply(s, op, now_ms, before, after));
}

/*
 * Inside a write transaction: LEDGER_OVERFLOW when crediting amount would take the bucket
 * past LEDGER_MAX_BALANCE. Read and then written in one transaction, which the writer
 * serializes with every other write, so no concurrent credit can pass it at the same time.
 */
static enum ledger_rc ledger_headroom_tx(struct store *s, const char *user_id, enum ledger_bucket bucket,
                                         int64_t amount)
{
    struct wallet w;
    enum store_rc rc = store_wallet_get(s, user_id, &w);
    if (rc != STORE_OK)
        return ledger_from_store(rc);
    int64_t bal = bucket == BUCKET_PLAN ? w.plan_credits : w.paid_credits;
    return bal > LEDGER_MAX_BALANCE - amount ? LEDGER_OVERFLOW : LEDGER_OK;
}

enum ledger_rc ledger_grant_tx(struct store *s, const char *user_id, enum ledger_bucket bucket,
                               int64_t amount, enum ledger_kind kind, const char *ref_type,
                               const char *ref_id, const char *note, int64_t plan_expires_at, int64_t now_ms,
                               struct wallet *after)
{
    struct ledger_op op = {
        .user_id = user_id,
        .amount = amount,
        .debit = 0,
        .bucket = bucket,
        .kind = kind,
        .ref_type = ref_type,
        .ref_id = ref_id,
        .note = note,
        .plan_expires_at = bucket == BUCKET_PLAN ? plan_expires_at : 0,
    };

    if (after)
        memset(after, 0, sizeof *after);
    if (!ledger_op_valid(&op))
        return LEDGER_INVALID;
    enum ledger_rc rc = ledger_headroom_tx(s, user_id, bucket, amount);
    if (rc != LEDGER_OK)
        return rc;
    return ledger_apply_tx(s, &op, now_ms, NULL, after);
}

enum ledger_rc ledger_take_tx(struct store *s, const char *user_id, enum ledger_bucket bucket, int64_t amount,
                              enum ledger_kind kind, const char *ref_type, const char *ref_id, const char *note,
                              int64_t now_ms, struct wallet *after)
{
    /* One conditional UPDATE in the store, like every debit. */
    struct ledger_op op = {
        .user_id = user_id,
        .amount = amount,
        .debit = 1,
        .bucket = bucket,
        .kind = kind,
        .ref_type = ref_type,
        .ref_id = ref_id,
        .note = note,
    };
    if (after)
        memset(after, 0, sizeof *after);
    if (!ledger_op_valid(&op))
        return LEDGER_INVALID;
    return ledger_apply_tx(s, &op, now_ms, NULL, after);
}

enum ledger_rc ledger_spend_tx(struct store *s, const char *user_id, int64_t amount, enum ledger_kind kind,
                               const char *ref_type, const char *ref_id, const char *note, int64_t now_ms,
                               struct wallet *after)
{
    /* The store's debit is one conditional UPDATE: no read here, so no race to lose. */
    struct ledger_op op = {
        .user_id = user_id,
        .amount = amount,
        .debit = 1,
        .from_plan_first = 1,
        .bucket = BUCKET_PLAN,
        .kind = kind,
        .ref_type = ref_type,
        .ref_id = ref_id,
        .note = note,
        .plan_valid_at = now_ms,
    };
    if (after)
        memset(after, 0, sizeof *after);
    return ledger_apply_tx(s, &op, now_ms, NULL, after);
}

/* ---- admin adjustments ---- */

struct adjust_call {
    struct store_call call;
    char actor_id[TG_ID_MAX];
    char user_id[TG_ID_MAX];
    char reason[TG_NOTE_MAX + 1];
    struct audit_origin from;
    char ref_id[TG_ID_MAX];
    struct ledger_adjust adj; /* points into the buffers above */
    int has_idem;
    struct idem idem;
    ledger_adjust_render_fn render;
    int64_t now_ms;
    struct ledger_adjust_result res; /* out */
    ledger_adjust_fn cb;
    void *arg;
};

static enum store_rc adjust_run(struct store *s, struct store_call *c)
{
    struct adjust_call *a = (struct adjust_call *)c;
    const struct ledger_adjust *adj = &a->adj;
    struct wallet before, after;
    enum store_rc rc;
    char *details = NULL, *body = NULL;

    memset(&a->res, 0, sizeof a->res);
    if (a->has_idem) {
        rc = idem_check_tx(s, &a->idem);
        if (rc != STORE_OK || a->idem.replay || a->idem.mismatch)
            return rc; /* a replay or a mismatch changes nothing */
    }
    struct ledger_op op = {
        .user_id = adj->user_id,
        .amount = adj->delta > 0 ? adj->delta : -adj->delta,
        .debit = adj->delta < 0,
        .from_plan_first = 0,
        .bucket = adj->bucket,
        .kind = LK_ADMIN_ADJUST,
        .ref_type = LEDGER_REF_ADMIN,
        .ref_id = a->ref_id,
        .note = adj->reason,
    };
    if (adj->delta > 0 && adj->bucket == BUCKET_PLAN) {
        /* Plan credits live as long as the plan's month (DESIGN section 3): without one
         * running they would never expire, which `tollgate audit` reports. */
        struct wallet w;
        rc = store_wallet_get(s, adj->user_id, &w);
        if (rc != STORE_OK)
            return rc;
        if (w.plan_expires_at <= a->now_ms) {
            a->res.rc = LEDGER_NO_PLAN;
            return STORE_CONFLICT;
        }
    }
    if (adj->delta > 0) {
        a->res.rc = ledger_headroom_tx(s, adj->user_id, adj->bucket, adj->delta);
        if (a->res.rc != LEDGER_OK)
            return ledger_to_store(a->res.rc);
    }
    a->res.rc = ledger_apply_tx(s, &op, a->now_ms, &before, &after);
    if (a->res.rc != LEDGER_OK)
        return ledger_to_store(a->res.rc);
    a->res.old_balance = adj->bucket == BUCKET_PLAN ? before.plan_credits : before.paid_credits;
    a->res.new_balance = adj->bucket == BUCKET_PLAN ? after.plan_credits : after.paid_credits;
    a->res.wallet = after;
    snprintf(a->res.ref_id, sizeof a->res.ref_id, "%s", a->ref_id);

    /* The audit row carries what an auditor asks first: from what, to what, and why. */
    json_t *dj = json_pack("{s:s, s:s, s:I, s:I, s:I}", "reason", adj->reason, "bucket",
                           ledger_bucket_name(adj->bucket), "delta", (json_int_t)adj->delta, "old",
                           (json_int_t)a->res.old_balance, "new", (json_int_t)a->res.new_balance);
    details = dj ? json_dumps(dj, JSON_COMPACT) : NULL;
    json_decref(dj);
    if (details == NULL) {
        log_event(LOG_ERROR, "ledger_adjust_details_failed", NULL);
        a->res.rc = LEDGER_ERROR;
        return STORE_ERROR;
    }
    struct audit_entry audit;
    audit_entry_fill(&audit, adj->actor_id, "credits.adjust", "user", adj->user_id, adj->ip, adj->request_id,
                     details, a->now_ms);
    rc = store_audit_insert(s, &audit);
    if (rc == STORE_OK && a->has_idem && a->render != NULL) {
        int status = 0;
        body = a->render(adj, &a->res, &status);
        rc = body ? idem_save_tx(s, &a->idem, status, body, a->now_ms) : STORE_ERROR;
    }
    free(details);
    free(body);
    if (rc != STORE_OK)
        a->res.rc = ledger_from_store(rc);
    return rc;
}

static void adjust_done(struct store_call *c)
{
    struct adjust_call *a = (struct adjust_call *)c;
    if (c->rc != STORE_OK && a->res.rc == LEDGER_OK)
        a->res.rc = ledger_from_store(c->rc); /* the commit failed */
    if (c->rc != STORE_OK && (a->idem.replay || a->idem.mismatch))
        idem_clear(&a->idem);
    a->cb(a->arg, &a->res, a->has_idem ? &a->idem : NULL);
    idem_clear(&a->idem);
    free(a);
}

void ledger_admin_adjust(struct store_exec *ex, const struct ledger_adjust *adj, const struct idem *idem,
                         ledger_adjust_render_fn render, int64_t now_ms, ledger_adjust_fn cb, void *arg)
{
    struct ledger_adjust_result res;

    if (adj->actor_id == NULL || adj->user_id == NULL || adj->user_id[0] == '\0' ||
        strlen(adj->user_id) >= TG_ID_MAX || strlen(adj->actor_id) >= TG_ID_MAX || adj->delta == 0 ||
        adj->delta > LEDGER_MAX_AMOUNT || adj->delta < -LEDGER_MAX_AMOUNT ||
        (adj->bucket != BUCKET_PLAN && adj->bucket != BUCKET_PAID) || adj->reason == NULL ||
        adj->reason[0] == '\0' || strlen(adj->reason) > TG_NOTE_MAX) {
        memset(&res, 0, sizeof res);
        res.rc = LEDGER_INVALID;
        cb(arg, &res, NULL);
        return;
    }
    struct adjust_call *a = xcalloc(1, sizeof *a);
    snprintf(a->actor_id, sizeof a->actor_id, "%s", adj->actor_id);
    snprintf(a->user_id, sizeof a->user_id, "%s", adj->user_id);
    snprintf(a->reason, sizeof a->reason, "%s", adj->reason);
    audit_origin_set(&a->from, adj->ip, adj->request_id);
    a->adj = *adj;
    a->adj.actor_id = a->actor_id;
    a->adj.user_id = a->user_id;
    a->adj.reason = a->reason;
    a->adj.ip = a->from.ip;
    a->adj.request_id = a->from.request_id;
    id_new(a->ref_id, "adj");
    if (idem != NULL) {
        a->has_idem = 1;
        idem_copy(&a->idem, idem);
    }
    a->render = render;
    a->now_ms = now_ms;
    a->cb = cb;
    a->arg = arg;
    store_exec_call(ex, &a->call, STORE_CALL_WRITE, adjust_run, adjust_done);
}
