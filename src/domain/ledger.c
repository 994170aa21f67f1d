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
#include "store/store.h"

/* ref_type of admin adjustments that carry a client Idempotency-Key, distinct from the
 * generated ones so that a key can never collide with a generated id. */
#define LEDGER_REF_IDEMPOTENCY "idempotency_key"
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
    case LEDGER_BUSY:
        return "busy";
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
    case STORE_ERROR:
        return LEDGER_ERROR;
    }
    return LEDGER_ERROR;
}

/* The reference becomes part of a unique key: it must be present and bounded. */
static int ledger_ref_ok(const char *ref_type, const char *ref_id)
{
    return ref_type && ref_type[0] && strlen(ref_type) < sizeof(((struct ledger_entry *)0)->ref_type) &&
           ref_id && ref_id[0] && strlen(ref_id) <= TG_REF_MAX;
}

static int ledger_note_ok(const char *note)
{
    return note == NULL || strlen(note) <= TG_NOTE_MAX;
}

/*
 * Refuses a credit that would push the bucket past LEDGER_MAX_BALANCE. This reads before
 * the write, so two concurrent credits may both pass; that is fine because the cap is
 * ~9000x below INT64_MAX and each credit is at most LEDGER_MAX_AMOUNT: the cap can be
 * exceeded by a little, int64 can never be.
 */
static enum ledger_rc ledger_check_headroom(struct store *s, const char *user_id, enum ledger_bucket bucket,
                                            int64_t amount)
{
    struct wallet w;
    enum store_rc rc = store_wallet_get(s, user_id, &w);
    if (rc != STORE_OK)
        return ledger_from_store(rc);
    int64_t bal = bucket == BUCKET_PLAN ? w.plan_credits : w.paid_credits;
    if (bal > LEDGER_MAX_BALANCE - amount)
        return LEDGER_OVERFLOW;
    return LEDGER_OK;
}

enum ledger_rc ledger_grant(struct store *s, const char *user_id, enum ledger_bucket bucket, int64_t amount,
                            enum ledger_kind kind, const char *ref_type, const char *ref_id, const char *note,
                            int64_t plan_expires_at, int64_t now_ms, struct wallet *after)
{
    enum ledger_rc ret = LEDGER_INVALID;

    if (after)
        memset(after, 0, sizeof *after);
    if (user_id == NULL || user_id[0] == '\0' || amount < 1 || amount > LEDGER_MAX_AMOUNT ||
        (unsigned)kind >= LK__COUNT || (bucket != BUCKET_PLAN && bucket != BUCKET_PAID) ||
        !ledger_ref_ok(ref_type, ref_id) || !ledger_note_ok(note) || plan_expires_at < 0)
        goto cleanup;
    ret = ledger_check_headroom(s, user_id, bucket, amount);
    if (ret != LEDGER_OK)
        goto cleanup;

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
    ret = ledger_from_store(store_ledger_apply(s, &op, now_ms, after));

cleanup:
    return ret;
}

enum ledger_rc ledger_spend(struct store *s, const char *user_id, int64_t amount, enum ledger_kind kind,
                            const char *ref_type, const char *ref_id, const char *note, int64_t now_ms,
                            struct wallet *after)
{
    enum ledger_rc ret = LEDGER_INVALID;

    if (after)
        memset(after, 0, sizeof *after);
    if (user_id == NULL || user_id[0] == '\0' || amount < 1 || amount > LEDGER_MAX_AMOUNT ||
        (unsigned)kind >= LK__COUNT || !ledger_ref_ok(ref_type, ref_id) || !ledger_note_ok(note))
        goto cleanup;

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
    };
    ret = ledger_from_store(store_ledger_apply(s, &op, now_ms, after));

cleanup:
    return ret;
}

/*
 * Compares an earlier entry made with the same Idempotency-Key against this request:
 * the same change is a replay (fill *res with what it did and the wallet now), anything
 * else is a conflict.
 */
static enum ledger_rc ledger_adjust_replay(struct store *s, const struct ledger_adjust *adj,
                                           const struct ledger_entry *prev, struct ledger_adjust_result *res)
{
    if (strcmp(prev->user_id, adj->user_id) != 0 || prev->bucket != adj->bucket || prev->delta != adj->delta)
        return LEDGER_CONFLICT;
    enum store_rc rc = store_wallet_get(s, adj->user_id, &res->wallet);
    if (rc != STORE_OK)
        return ledger_from_store(rc);
    res->new_balance = prev->balance_after;
    res->old_balance = prev->balance_after - prev->delta; /* |delta| <= 1e9: no overflow */
    res->replayed = 1;
    return LEDGER_OK;
}

enum ledger_rc ledger_admin_adjust(struct store *s, const struct ledger_adjust *adj, int64_t now_ms,
                                   struct ledger_adjust_result *res)
{
    enum ledger_rc ret = LEDGER_INVALID;
    char gen_ref[TG_ID_MAX];
    char *details = NULL;
    json_t *dj = NULL;
    const char *ref_type, *ref_id;
    struct ledger_entry prev;
    struct wallet before, after;

    memset(res, 0, sizeof *res);
    if (adj->actor_id == NULL || adj->user_id == NULL || adj->user_id[0] == '\0' || adj->delta == 0 ||
        adj->delta > LEDGER_MAX_AMOUNT || adj->delta < -LEDGER_MAX_AMOUNT ||
        (adj->bucket != BUCKET_PLAN && adj->bucket != BUCKET_PAID) || adj->reason == NULL ||
        adj->reason[0] == '\0' || strlen(adj->reason) > TG_NOTE_MAX)
        goto cleanup;
    if (adj->idempotency_key) {
        size_t klen = strlen(adj->idempotency_key);
        if (klen < 1 || klen > TG_REF_MAX)
            goto cleanup;
        ref_type = LEDGER_REF_IDEMPOTENCY;
        ref_id = adj->idempotency_key;
        /* Checked before applying as well as after: the store's unique key includes the
         * bucket, so the same key reused for the other bucket would not collide there. */
        enum store_rc rc = store_ledger_get_by_ref(s, LK_ADMIN_ADJUST, ref_type, ref_id, &prev);
        if (rc == STORE_OK) {
            ret = ledger_adjust_replay(s, adj, &prev, res);
            goto cleanup;
        }
        if (rc != STORE_NOTFOUND) {
            ret = ledger_from_store(rc);
            goto cleanup;
        }
    } else {
        ref_type = LEDGER_REF_ADMIN;
        ref_id = id_new(gen_ref, "adj");
    }
    if (adj->delta > 0) {
        ret = ledger_check_headroom(s, adj->user_id, adj->bucket, adj->delta);
        if (ret != LEDGER_OK)
            goto cleanup;
    }

    dj = json_pack("{s:s, s:s, s:I}", "reason", adj->reason, "bucket", ledger_bucket_name(adj->bucket),
                   "delta", (json_int_t)adj->delta);
    details = dj ? json_dumps(dj, JSON_COMPACT) : NULL;
    if (details == NULL) {
        /* jansson only fails here on out-of-memory or invalid UTF-8 in reason, which the
         * API has already excluded. */
        log_event(LOG_ERROR, "ledger_adjust_details_failed", NULL);
        ret = LEDGER_ERROR;
        goto cleanup;
    }

    struct ledger_op op = {
        .user_id = adj->user_id,
        .amount = adj->delta > 0 ? adj->delta : -adj->delta,
        .debit = adj->delta < 0,
        .from_plan_first = 0,
        .bucket = adj->bucket,
        .kind = LK_ADMIN_ADJUST,
        .ref_type = ref_type,
        .ref_id = ref_id,
        .note = adj->reason,
    };
    struct audit_entry audit;
    memset(&audit, 0, sizeof audit);
    id_new(audit.id, "aud");
    snprintf(audit.actor_id, sizeof audit.actor_id, "%s", adj->actor_id);
    snprintf(audit.action, sizeof audit.action, "%s", "credits.adjust");
    snprintf(audit.target_type, sizeof audit.target_type, "%s", "user");
    snprintf(audit.target_id, sizeof audit.target_id, "%s", adj->user_id);
    snprintf(audit.ip, sizeof audit.ip, "%s", adj->ip ? adj->ip : "");
    snprintf(audit.request_id, sizeof audit.request_id, "%s", adj->request_id ? adj->request_id : "");
    audit.details_json = details;
    audit.created_at = now_ms;

    enum store_rc rc = store_admin_adjust(s, &op, &audit, now_ms, &before, &after);
    if (rc == STORE_DUPLICATE && adj->idempotency_key) {
        /* A concurrent retry with the same key won the race: answer as it did. */
        rc = store_ledger_get_by_ref(s, LK_ADMIN_ADJUST, ref_type, ref_id, &prev);
        ret = rc == STORE_OK ? ledger_adjust_replay(s, adj, &prev, res) : ledger_from_store(rc);
        goto cleanup;
    }
    ret = ledger_from_store(rc);
    if (ret != LEDGER_OK)
        goto cleanup;
    res->old_balance = adj->bucket == BUCKET_PLAN ? before.plan_credits : before.paid_credits;
    res->new_balance = adj->bucket == BUCKET_PLAN ? after.plan_credits : after.paid_credits;
    res->wallet = after;

cleanup:
    if (ret != LEDGER_OK)
        memset(res, 0, sizeof *res);
    free(details);
    json_decref(dj);
    return ret;
}
