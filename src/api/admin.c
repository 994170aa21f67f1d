/*
 * admin.c - administrator endpoints (AUTH_ADMIN in the route table):
 *   POST  /api/v1/admin/users/{id}/credits  adjust a bucket, audited, idempotent by key
 *   GET   /api/v1/admin/users/{id}          a user and their credits
 *   PATCH /api/v1/admin/users/{id}          role and disabled flag, audited, effective at once
 *   GET  /api/v1/admin/audit-log            the audit log, newest first (cursor)
 */
#include "api/api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ids.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "core/mem.h"
#include "domain/idempotency.h"
#include "domain/ledger.h"
#include "domain/users.h"

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
    case LEDGER_NO_PLAN:
        res_error(r, TG_E_NO_PLAN_PERIOD, NULL, NULL);
        break;
    case LEDGER_OVERFLOW:
        res_error(r, TG_E_UNPROCESSABLE, "The balance would exceed the largest allowed balance.", NULL);
        break;
    case LEDGER_INVALID:
        res_error(r, TG_E_VALIDATION, NULL, NULL);
        break;
    case LEDGER_BUSY:
    case LEDGER_UNAVAILABLE:
        res_error(r, TG_E_UNAVAILABLE, NULL, NULL);
        break;
    case LEDGER_DUPLICATE: /* impossible: every adjustment has a fresh reference */
    case LEDGER_ERROR:
    case LEDGER_OK:
    default:
        log_event(LOG_ERROR, "admin_adjust_failed", "request_id", req_id(r), "rc", ledger_rc_name(rc), NULL);
        res_error(r, TG_E_INTERNAL, NULL, NULL);
        break;
    }
}

/* The answer to an adjustment, also stored for its Idempotency-Key (runs in the writer's
 * transaction: pure). */
static char *admin_adjust_render(const struct ledger_adjust *adj, const struct ledger_adjust_result *res,
                                 int *status)
{
    json_t *credits = api_credits_json(&res->wallet, time_now_ms());
    if (credits == NULL)
        return NULL;
    json_t *body =
        json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:o}", "user_id", adj->user_id, "ref_id", res->ref_id,
                  "bucket", ledger_bucket_name(adj->bucket), "delta", (json_int_t)adj->delta, "old",
                  (json_int_t)res->old_balance, "new", (json_int_t)res->new_balance, "credits", credits);
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    *status = 200;
    return text;
}

struct adjust_wait {
    struct req_ref *ref;
    struct ledger_adjust adj; /* bucket and delta for the reply; strings not kept */
    char user_id[TG_ID_MAX];
};

static void admin_adjust_done(void *arg, const struct ledger_adjust_result *res, const struct idem *idem)
{
    struct adjust_wait *wt = arg;
    struct req *r = req_ref_take(wt->ref);
    if (r == NULL)
        goto cleanup;
    if (idem != NULL && idem->mismatch) {
        res_error(r, TG_E_IDEMPOTENCY_MISMATCH, NULL, NULL);
        goto cleanup;
    }
    if (idem != NULL && idem->replay && idem->body != NULL) {
        /* The same request again: the first answer, exactly. */
        res_header(r, "idempotent-replayed", "true");
        res_json_text(r, idem->status, idem->body, strlen(idem->body));
        goto cleanup;
    }
    if (res->rc != LEDGER_OK) {
        admin_adjust_reply_error(r, res->rc);
        goto cleanup;
    }
    wt->adj.user_id = wt->user_id;
    int status = 0;
    char *body = admin_adjust_render(&wt->adj, res, &status);
    if (body == NULL) {
        res_error(r, TG_E_INTERNAL, NULL, NULL);
        goto cleanup;
    }
    res_json_text(r, status, body, strlen(body));
    free(body);

cleanup:
    free(wt);
}

void api_admin_adjust_credits(struct req *r)
{
    static const char *const allowed[] = {"delta", "bucket", "reason", NULL};
    struct jerr e;
    struct ledger_adjust adj;
    struct idem idem;
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
    if (key && !idem_key_valid(key)) {
        api_reply_field(r, TG_E_VALIDATION, "Idempotency-Key",
                        "Idempotency-Key: must be 1 to 128 visible ASCII characters");
        return;
    }
    adj.actor_id = req_principal(r)->user_id;
    adj.user_id = user_id;
    adj.delta = delta;
    adj.reason = reason;
    adj.ip = req_client_ip(r);
    adj.request_id = req_id(r);
    if (key) {
        /* Scoped to the acting admin; the request is the route, the target and the body. */
        size_t blen;
        const char *braw = req_body(r, &blen);
        idem_init(&idem, adj.actor_id, key, "POST", req_path(r), braw, blen);
    }

    struct adjust_wait *wt = xcalloc(1, sizeof *wt);
    wt->adj.bucket = adj.bucket;
    wt->adj.delta = delta;
    snprintf(wt->user_id, sizeof wt->user_id, "%s", user_id);
    wt->ref = req_ref_new(r);
    ledger_admin_adjust(req_exec(r), &adj, key ? &idem : NULL, admin_adjust_render, time_now_ms(),
                        admin_adjust_done, wt);
}

/* ---- GET /api/v1/admin/users/{id} ---- */

struct user_get {
    struct api_call base;
    char id[TG_ID_MAX];
    struct user u;
    struct wallet w;
};

static enum store_rc user_get_run(struct store *s, struct store_call *c)
{
    struct user_get *g = (struct user_get *)c;
    enum store_rc rc = store_user_get(s, g->id, &g->u);
    if (rc == STORE_OK)
        rc = store_wallet_get(s, g->id, &g->w);
    return rc;
}

static json_t *admin_user_json(const struct user *u)
{
    char ts[32];
    json_t *user = api_user_json(u);
    json_object_set_new(user, "created_at", json_string(time_rfc3339(u->created_at, ts)));
    json_object_set_new(user, "updated_at", json_string(time_rfc3339(u->updated_at, ts)));
    json_object_set_new(user, "disabled", json_boolean(u->disabled));
    json_object_set_new(user, "has_password", json_boolean(u->password_hash[0] != '\0'));
    return user;
}

static void user_get_reply(struct req *r, struct api_call *c)
{
    struct user_get *g = (struct user_get *)c;
    if (c->call.rc != STORE_OK) {
        api_reply_store(r, c->call.rc, "admin_user_get");
        return;
    }
    json_t *credits = api_credits_json(&g->w, time_now_ms());
    if (credits == NULL) {
        res_error(r, TG_E_INTERNAL, NULL, NULL);
        return;
    }
    res_json(r, 200, json_pack("{s:o, s:o}", "user", admin_user_json(&g->u), "credits", credits));
}

void api_admin_user_get(struct req *r)
{
    const char *id = req_param(r, "id");

    if (!id_valid(id, "usr")) {
        res_error(r, TG_E_NOT_FOUND, "No such user.", NULL);
        return;
    }
    struct user_get *g = api_call_new(r, sizeof *g, STORE_CALL_READ);
    snprintf(g->id, sizeof g->id, "%s", id);
    api_submit(r, &g->base, user_get_run, user_get_reply, NULL);
}

/* ---- PATCH /api/v1/admin/users/{id} ---- */

static void user_patch_done(void *arg, enum users_rc rc, const struct user *u)
{
    struct req *r = req_ref_take(arg);
    if (r == NULL)
        return;
    switch (rc) {
    case USERS_OK:
        res_json(r, 200, json_pack("{s:o}", "user", admin_user_json(u)));
        break;
    case USERS_NOTFOUND:
        res_error(r, TG_E_NOT_FOUND, "No such user.", NULL);
        break;
    case USERS_SELF:
        res_error(r, TG_E_UNPROCESSABLE, "Administrators cannot change their own role or disable themselves.",
                  NULL);
        break;
    case USERS_UNAVAILABLE:
        res_error(r, TG_E_UNAVAILABLE, NULL, NULL);
        break;
    default:
        res_error(r, TG_E_INTERNAL, NULL, NULL);
        break;
    }
}

void api_admin_user_patch(struct req *r)
{
    static const char *const allowed[] = {"role", "disabled", NULL};
    struct jerr e;
    const char *id = req_param(r, "id");
    const char *role = NULL;
    int disabled = -1;

    if (!id_valid(id, "usr")) {
        res_error(r, TG_E_NOT_FOUND, "No such user.", NULL);
        return;
    }
    json_t *body = req_json_or_reply(r);
    if (body == NULL)
        return;
    if (jv_only(body, allowed, &e) != 0 || jv_string(body, "role", 0, 1, TG_ROLE_MAX - 1, &role, &e) != 0) {
        api_reply_jerr(r, &e);
        return;
    }
    if (role && strcmp(role, "user") != 0 && strcmp(role, "admin") != 0) {
        api_reply_field(r, TG_E_VALIDATION, "role", "role: must be \"user\" or \"admin\"");
        return;
    }
    if (json_object_get(body, "disabled") != NULL && jv_bool(body, "disabled", 1, &disabled, &e) != 0) {
        api_reply_jerr(r, &e);
        return;
    }
    if (role == NULL && disabled < 0) {
        api_reply_field(r, TG_E_VALIDATION, "role", "Give at least one of role and disabled.");
        return;
    }
    users_admin_update(req_exec(r), req_principal(r)->user_id, id, role, disabled, req_client_ip(r),
                       req_id(r), time_now_ms(), user_patch_done, req_ref_new(r));
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

struct audit_list {
    struct api_call base;
    char cursor[TG_ID_MAX];
    size_t limit;
    struct audit_entry *entries;
    size_t n;
};

static enum store_rc audit_list_run(struct store *s, struct store_call *c)
{
    struct audit_list *l = (struct audit_list *)c;
    store_audit_free(l->entries, l->n);
    l->entries = NULL;
    l->n = 0;
    return store_audit_list(s, l->cursor[0] ? l->cursor : NULL, l->limit + 1, &l->entries, &l->n);
}

static void audit_list_reply(struct req *r, struct api_call *c)
{
    struct audit_list *l = (struct audit_list *)c;
    if (c->call.rc != STORE_OK) {
        api_reply_store(r, c->call.rc == STORE_NOTFOUND ? STORE_ERROR : c->call.rc, "audit_list");
        return;
    }
    json_t *data = json_array();
    size_t shown = l->n > l->limit ? l->limit : l->n;
    for (size_t i = 0; i < shown; i++) {
        json_t *item = audit_json(&l->entries[i]);
        if (item)
            json_array_append_new(data, item);
    }
    json_t *next = l->n > l->limit ? json_string(l->entries[l->limit - 1].id) : json_null();
    res_json(r, 200, json_pack("{s:o, s:o}", "data", data, "next_cursor", next));
}

static void audit_list_cleanup(struct api_call *c)
{
    struct audit_list *l = (struct audit_list *)c;
    store_audit_free(l->entries, l->n);
}

void api_admin_audit_log(struct req *r)
{
    size_t limit;
    const char *cursor;

    if (api_page_params_or_reply(r, "aud", &limit, &cursor) != 0)
        return;
    struct audit_list *l = api_call_new(r, sizeof *l, STORE_CALL_READ);
    snprintf(l->cursor, sizeof l->cursor, "%s", cursor ? cursor : "");
    l->limit = limit;
    api_submit(r, &l->base, audit_list_run, audit_list_reply, audit_list_cleanup);
}
