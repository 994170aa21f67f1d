/*
 * admin.c - administrator endpoints (AUTH_ADMIN in the route table):
 *   POST /api/v1/admin/users/{id}/credits   adjust a bucket, audited, idempotent by key
 *   GET  /api/v1/admin/users/{id}           a user and their credits
 *   GET  /api/v1/admin/audit-log            the audit log, newest first (cursor)
 */
#include "api/api.h"

#include <stdlib.h>
#include <string.h>

#include "core/ids.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "domain/ledger.h"

/* Idempotency-Key: 1..TG_REF_MAX visible ASCII characters (it becomes a ledger ref and
 * is echoed in logs, so nothing else is accepted). */
static int admin_idempotency_key_ok(const char *k)
{
    size_t n = strlen(k);
    if (n < 1 || n > TG_REF_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)k[i] < 0x21 || (unsigned char)k[i] > 0x7E)
            return 0;
    return 1;
}

static void admin_adjust_reply_error(struct req *r, enum ledger_rc rc)
{
    switch (rc) {
    case LEDGER_INSUFFICIENT:
        res_error(r, TG_E_INSUFFICIENT_CREDITS,
                  "The bucket does not hold enough credits for this adjustment.", NULL);
        break;
    case LEDGER_NOTFOUND:
        res_error(r, TG_E_NOT_FOUND, "No such user.", NULL);
        break;
    case LEDGER_CONFLICT:
        res_error(r, TG_E_IDEMPOTENCY_MISMATCH, NULL, NULL);
        break;
    case LEDGER_OVERFLOW:
        res_error(r, TG_E_UNPROCESSABLE, "The balance would exceed the largest allowed balance.", NULL);
        break;
    case LEDGER_INVALID:
        res_error(r, TG_E_VALIDATION, NULL, NULL);
        break;
    case LEDGER_BUSY:
        res_error(r, TG_E_UNAVAILABLE, NULL, NULL);
        break;
    case LEDGER_DUPLICATE: /* impossible: generated refs are unique, keyed ones replay */
    case LEDGER_ERROR:
    case LEDGER_OK:
    default:
        log_event(LOG_ERROR, "admin_adjust_failed", "request_id", req_id(r), "rc", ledger_rc_name(rc), NULL);
        res_error(r, TG_E_INTERNAL, NULL, NULL);
        break;
    }
}

void api_admin_adjust_credits(struct req *r)
{
    static const char *const allowed[] = {"delta", "bucket", "reason", NULL};
    struct jerr e;
    struct ledger_adjust adj;
    struct ledger_adjust_result res;
    const char *user_id = req_param(r, "id");
    const char *bucket = NULL, *reason = NULL;
    const char *key = req_header(r, "idempotency-key");
    int64_t delta = 0;
    json_t *body;

    if (!id_valid(user_id, "usr")) {
        res_error(r, TG_E_NOT_FOUND, "No such user.", NULL);
        return;
    }
    body = req_json_or_reply(r);
    if (body == NULL)
        return;
    if (jv_only(body, allowed, &e) != 0 ||
        jv_int(body, "delta", 1, -LEDGER_MAX_AMOUNT, LEDGER_MAX_AMOUNT, &delta, &e) != 0 ||
        jv_string(body, "bucket", 1, 1, 8, &bucket, &e) != 0 ||
        jv_string(body, "reason", 1, 1, TG_NOTE_MAX, &reason, &e) != 0) {
        api_reply_jerr(r, &e);
        return;
    }
    memset(&adj, 0, sizeof adj);
    if (delta == 0) {
        api_reply_field(r, TG_E_VALIDATION, "delta", "delta: must not be zero");
        return;
    }
    if (ledger_bucket_parse(bucket, &adj.bucket) != 0) {
        api_reply_field(r, TG_E_VALIDATION, "bucket", "bucket: must be \"paid\" or \"plan\"");
        return;
    }
    if (key && !admin_idempotency_key_ok(key)) {
        api_reply_field(r, TG_E_VALIDATION, "Idempotency-Key",
                        "Idempotency-Key: must be 1 to 128 visible ASCII characters");
        return;
    }
    adj.actor_id = req_principal(r)->user_id;
    adj.user_id = user_id;
    adj.delta = delta;
    adj.reason = reason;
    adj.idempotency_key = key;
    adj.ip = req_client_ip(r);
    adj.request_id = req_id(r);

    enum ledger_rc rc = ledger_admin_adjust(req_store(r), &adj, time_now_ms(), &res);
    if (rc != LEDGER_OK) {
        admin_adjust_reply_error(r, rc);
        return;
    }
    json_t *credits = api_credits_json(&res.wallet);
    if (credits == NULL) {
        res_error(r, TG_E_INTERNAL, NULL, NULL);
        return;
    }
    if (res.replayed)
        res_header(r, "idempotent-replayed", "true");
    res_json(r, 200,
             json_pack("{s:s, s:s, s:I, s:I, s:I, s:o}", "user_id", user_id, "bucket",
                       ledger_bucket_name(adj.bucket), "delta", (json_int_t)delta, "old",
                       (json_int_t)res.old_balance, "new", (json_int_t)res.new_balance, "credits", credits));
}

void api_admin_user_get(struct req *r)
{
    struct user u;
    struct wallet w;
    char ts[32];
    const char *id = req_param(r, "id");

    if (!id_valid(id, "usr")) {
        res_error(r, TG_E_NOT_FOUND, "No such user.", NULL);
        return;
    }
    enum store_rc rc = store_user_get(req_store(r), id, &u);
    if (rc == STORE_OK)
        rc = store_wallet_get(req_store(r), id, &w);
    if (rc != STORE_OK) {
        api_reply_store(r, rc, "admin_user_get");
        return;
    }
    json_t *user = api_user_json(&u);
    json_object_set_new(user, "created_at", json_string(time_rfc3339(u.created_at, ts)));
    json_object_set_new(user, "updated_at", json_string(time_rfc3339(u.updated_at, ts)));
    json_object_set_new(user, "disabled", json_boolean(u.disabled));
    json_object_set_new(user, "has_password", json_boolean(u.password_hash[0] != '\0'));
    json_t *credits = api_credits_json(&w);
    if (credits == NULL) {
        json_decref(user);
        res_error(r, TG_E_INTERNAL, NULL, NULL);
        return;
    }
    res_json(r, 200, json_pack("{s:o, s:o}", "user", user, "credits", credits));
}

static json_t *audit_json(const struct audit_entry *a)
{
    char ts[32];
    json_t *details = a->details_json ? json_loads(a->details_json, 0, NULL) : NULL;
    if (details == NULL)
        details = json_object();
#define OR_NULL(s) ((s)[0] ? json_string(s) : json_null())
    return json_pack("{s:s, s:o, s:s, s:o, s:o, s:o, s:o, s:o, s:s}", "id", a->id, "actor_id",
                     OR_NULL(a->actor_id), "action", a->action, "target_type", OR_NULL(a->target_type),
                     "target_id", OR_NULL(a->target_id), "ip", OR_NULL(a->ip), "request_id",
                     OR_NULL(a->request_id), "details", details, "created_at",
                     time_rfc3339(a->created_at, ts));
#undef OR_NULL
}

void api_admin_audit_log(struct req *r)
{
    struct audit_entry *entries = NULL;
    size_t limit, n = 0;
    const char *cursor;

    if (api_page_params_or_reply(r, "aud", &limit, &cursor) != 0)
        return;
    enum store_rc rc = store_audit_list(req_store(r), cursor, limit + 1, &entries, &n);
    if (rc != STORE_OK) {
        api_reply_store(r, rc == STORE_NOTFOUND ? STORE_ERROR : rc, "audit_list");
        goto cleanup;
    }
    json_t *data = json_array();
    size_t shown = n > limit ? limit : n;
    for (size_t i = 0; i < shown; i++) {
        json_t *item = audit_json(&entries[i]);
        if (item)
            json_array_append_new(data, item);
    }
    json_t *next = n > limit ? json_string(entries[limit - 1].id) : json_null();
    res_json(r, 200, json_pack("{s:o, s:o}", "data", data, "next_cursor", next));

cleanup:
    store_audit_free(entries, n);
}
