/*
 * admin.c - administrator endpoints (AUTH_ADMIN in the route table):
 *   POST  /api/v1/admin/users/{id}/credits  adjust a bucket, audited, idempotent by key
 *   GET   /api/v1/admin/users/{id}          a user and their credits
 *   PATCH /api/v1/admin/users/{id}          role and disabled flag, audited, effective at once
 *   GET  /api/v1/admin/audit-log            the audit log, newest first (cursor)
 *   GET  /api/v1/admin/users                search and list users, newest first (cursor)
 *   GET  /api/v1/admin/stats                users, orders, revenue and tasks by day, region
 *                                           and provider (domain/stats.h defines them)
 *
 * The user search and the statistics read whole tables (a substring search cannot use an
 * index), which may take far longer than a loop may block: they run on the blocking pool
 * through a connection of their own (as /metrics does), in one read snapshot.
 */
#include "api/api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/ids.h"
#include "core/utf8.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "core/mem.h"
#include "domain/idempotency.h"
#include "domain/ledger.h"
#include "domain/stats.h"
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
    json_object_set_new(user, "signup_region", u->signup_region[0] ? json_string(u->signup_region) : json_null());
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

/* ---- reads on the blocking pool ---- */

/*
 * A read too large for a loop (a scan, an aggregate): run() on the blocking pool, in one
 * read transaction on a connection of its own (the loop's belongs to the loop), then
 * reply() on the loop with the request - unless the client went away - and cleanup().
 * The context is heap memory: it may outlive the request.
 */
struct admin_read;
typedef void (*admin_read_reply_fn)(struct req *r, struct admin_read *a);
typedef void (*admin_read_cleanup_fn)(struct admin_read *a);
struct admin_read {
    struct store_call call; /* first: run() receives it */
    admin_read_reply_fn reply;
    admin_read_cleanup_fn cleanup;
};

static void admin_read_work(void *arg)
{
    struct admin_read *a = arg;
    char *err = NULL;
    struct store *s = store_open(tg_cfg->database_url, &err);
    if (s == NULL) {
        log_event(LOG_ERROR, "admin_read_store_open_failed", "error", err, NULL);
        free(err);
        a->call.rc = STORE_UNAVAILABLE;
        return;
    }
    store_call_run_sync(s, &a->call);
    store_close(s);
}

static void admin_read_done(struct req *r, void *arg)
{
    struct admin_read *a = arg;
    if (r != NULL)
        a->reply(r, a);
    if (a->cleanup)
        a->cleanup(a);
    free(a);
}

/* a: xcalloc'ed, struct admin_read first. */
static void admin_read_submit(struct req *r, struct admin_read *a, store_run_fn run, admin_read_reply_fn reply,
                              admin_read_cleanup_fn cleanup)
{
    a->call.kind = STORE_CALL_READ;
    a->call.run = run;
    a->call.done = NULL;
    a->call.rc = STORE_ERROR;
    a->reply = reply;
    a->cleanup = cleanup;
    req_defer(r, REQ_WORK_GENERAL, admin_read_work, admin_read_done, a);
}

/* ---- GET /api/v1/admin/users ---- */

/* The longest q: longer than any email (254) or display name the API accepts. */
#define ADMIN_USERS_Q_MAX 256

struct users_list {
    struct admin_read base;
    char q[ADMIN_USERS_Q_MAX + 1];
    char role[TG_ROLE_MAX];
    int disabled; /* -1 any */
    char cursor[TG_ID_MAX];
    size_t limit;
    struct user *users;
    struct wallet *wallets;
    size_t n;
};

static enum store_rc users_list_run(struct store *s, struct store_call *c)
{
    struct users_list *l = (struct users_list *)c;
    struct user_filter f = {l->q[0] ? l->q : NULL, l->role[0] ? l->role : NULL, l->disabled};
    free(l->users);
    free(l->wallets);
    l->users = NULL;
    l->wallets = NULL;
    l->n = 0;
    return store_user_search(s, &f, l->cursor[0] ? l->cursor : NULL, l->limit + 1, &l->users, &l->wallets, &l->n);
}

static void users_list_reply(struct req *r, struct admin_read *a)
{
    struct users_list *l = (struct users_list *)a;
    if (a->call.rc != STORE_OK) {
        api_reply_store(r, a->call.rc == STORE_NOTFOUND ? STORE_ERROR : a->call.rc, "admin_user_search");
        return;
    }
    int64_t now = time_now_ms();
    json_t *data = json_array();
    size_t shown = l->n > l->limit ? l->limit : l->n;
    for (size_t i = 0; i < shown; i++) {
        json_t *credits = api_credits_json(&l->wallets[i], now);
        if (credits == NULL) {
            json_decref(data);
            res_error(r, TG_E_INTERNAL, NULL, NULL);
            return;
        }
        json_array_append_new(data,
                              json_pack("{s:o, s:o}", "user", admin_user_json(&l->users[i]), "credits", credits));
    }
    json_t *next = l->n > l->limit ? json_string(l->users[l->limit - 1].id) : json_null();
    res_header(r, "cache-control", "no-store");
    res_json(r, 200, json_pack("{s:o, s:o}", "data", data, "next_cursor", next));
}

static void users_list_cleanup(struct admin_read *a)
{
    struct users_list *l = (struct users_list *)a;
    free(l->users);
    free(l->wallets);
}

void api_admin_users_list(struct req *r)
{
    size_t limit;
    const char *cursor;
    const char *q = req_query(r, "q"), *role = req_query(r, "role"), *disabled = req_query(r, "disabled");

    if (api_page_params_or_reply(r, "usr", &limit, &cursor) != 0)
        return;
    if (q != NULL) {
        size_t len = strlen(q);
        int ok = len <= ADMIN_USERS_Q_MAX && utf8_valid(q, len);
        for (size_t i = 0; ok && i < len; i++)
            if ((unsigned char)q[i] < 0x20 || q[i] == 0x7f)
                ok = 0;
        if (!ok) {
            api_reply_field(r, TG_E_VALIDATION, "q", "q: at most 256 bytes of UTF-8 text without control characters");
            return;
        }
    }
    if (role != NULL && strcmp(role, "user") != 0 && strcmp(role, "admin") != 0) {
        api_reply_field(r, TG_E_VALIDATION, "role", "role: must be \"user\" or \"admin\"");
        return;
    }
    int dis = -1;
    if (disabled != NULL) {
        if (strcmp(disabled, "true") == 0)
            dis = 1;
        else if (strcmp(disabled, "false") == 0)
            dis = 0;
        else {
            api_reply_field(r, TG_E_VALIDATION, "disabled", "disabled: must be true or false");
            return;
        }
    }
    struct users_list *l = xcalloc(1, sizeof *l);
    snprintf(l->q, sizeof l->q, "%s", q ? q : "");
    snprintf(l->role, sizeof l->role, "%s", role ? role : "");
    snprintf(l->cursor, sizeof l->cursor, "%s", cursor ? cursor : "");
    l->disabled = dis;
    l->limit = limit;
    admin_read_submit(r, &l->base, users_list_run, users_list_reply, users_list_cleanup);
}

/* ---- GET /api/v1/admin/stats ---- */

struct stats_read {
    struct admin_read base;
    struct stats_query q;
    enum stats_rc src;
    struct stats_report rep; /* STATS_OK */
};

static enum store_rc stats_read_run(struct store *s, struct store_call *c)
{
    struct stats_read *x = (struct stats_read *)c;
    if (x->src == STATS_OK)
        stats_report_clear(&x->rep); /* a retried run starts over */
    x->src = stats_compute(s, &x->q, &x->rep);
    return x->src == STATS_UNAVAILABLE ? STORE_BUSY : STORE_OK;
}

static json_t *moneys_json(const struct stats_moneys *m)
{
    json_t *a = json_array();
    for (size_t i = 0; i < m->n; i++)
        json_array_append_new(a, json_pack("{s:s, s:I}", "currency", m->v[i].currency, "amount",
                                           (json_int_t)m->v[i].amount));
    return a;
}

static json_t *stats_json(const struct stats_report *rep)
{
    char from[11], to[11], day[11];
    const struct stats_counts *t = &rep->totals;
    json_t *days = json_array(), *regions = json_array(), *providers = json_array();

    for (size_t i = 0; i < rep->ndays; i++) {
        const struct stats_counts *d = &rep->days[i];
        json_array_append_new(
            days, json_pack("{s:s, s:I, s:I, s:I, s:o, s:I, s:I}", "date",
                            stats_date_format(rep->q.from_day + (int64_t)i, day), "new_users",
                            (json_int_t)d->new_users, "active_users", (json_int_t)d->active_users, "orders_paid",
                            (json_int_t)d->orders_paid, "revenue", moneys_json(&d->revenue), "tasks",
                            (json_int_t)d->tasks, "tasks_succeeded", (json_int_t)d->tasks_succeeded));
    }
    /* CN first, then GLOBAL; only the region asked for when there is one. */
    static const enum region order[REGION_COUNT] = {REGION_CN, REGION_GLOBAL};
    for (int i = 0; i < REGION_COUNT; i++) {
        enum region g = order[i];
        if (!rep->q.all_regions && rep->q.region != g)
            continue;
        const struct stats_counts *c = &rep->regions[g];
        json_array_append_new(regions, json_pack("{s:s, s:I, s:I, s:I, s:I, s:o}", "region", region_name(g),
                                                 "users", (json_int_t)c->users, "new_users",
                                                 (json_int_t)c->new_users, "active_users",
                                                 (json_int_t)c->active_users, "orders_paid",
                                                 (json_int_t)c->orders_paid, "revenue", moneys_json(&c->revenue)));
    }
    for (size_t i = 0; i < rep->nproviders; i++) {
        const struct stats_provider *p = &rep->providers[i];
        json_t *lat = p->has_latency ? json_pack("{s:I, s:I, s:I}", "p50", (json_int_t)p->p50, "p90",
                                                 (json_int_t)p->p90, "max", (json_int_t)p->max)
                                     : json_null();
        json_array_append_new(
            providers, json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:o, s:o}", "provider", p->name, "tasks",
                                 (json_int_t)p->tasks, "succeeded", (json_int_t)p->succeeded, "failed",
                                 (json_int_t)p->failed, "timed_out", (json_int_t)p->timed_out, "canceled",
                                 (json_int_t)p->canceled, "success_rate",
                                 p->has_rate ? json_real(p->success_rate) : json_null(), "latency_ms", lat));
    }
    json_t *totals = json_pack("{s:I, s:I, s:I, s:I, s:o, s:o, s:I, s:I, s:I}", "users", (json_int_t)t->users,
                               "new_users", (json_int_t)t->new_users, "active_users", (json_int_t)t->active_users,
                               "orders_paid", (json_int_t)t->orders_paid, "revenue", moneys_json(&t->revenue),
                               "refunds", moneys_json(&t->refunds), "tasks", (json_int_t)t->tasks,
                               "tasks_succeeded", (json_int_t)t->tasks_succeeded, "tasks_failed",
                               (json_int_t)t->tasks_failed);
    return json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:o}", "from", stats_date_format(rep->q.from_day, from), "to",
                     stats_date_format(rep->q.to_day, to), "region",
                     rep->q.all_regions ? json_null() : json_string(region_name(rep->q.region)), "totals", totals,
                     "days", days, "regions", regions, "providers", providers);
}

static void stats_read_reply(struct req *r, struct admin_read *a)
{
    struct stats_read *x = (struct stats_read *)a;
    if (a->call.rc != STORE_OK) {
        api_reply_store(r, a->call.rc == STORE_NOTFOUND ? STORE_ERROR : a->call.rc, "admin_stats");
        return;
    }
    switch (x->src) {
    case STATS_OK:
        break;
    case STATS_TOO_MANY:
        res_error(r, TG_E_UNPROCESSABLE,
                  "Too many tasks in this range to compute exact latencies: ask for a shorter range.", NULL);
        return;
    case STATS_UNAVAILABLE:
        res_error(r, TG_E_UNAVAILABLE, NULL, NULL);
        return;
    case STATS_ERROR:
    default:
        res_error(r, TG_E_INTERNAL, NULL, NULL);
        return;
    }
    json_t *body = stats_json(&x->rep);
    if (body == NULL) {
        res_error(r, TG_E_INTERNAL, NULL, NULL);
        return;
    }
    res_header(r, "cache-control", "no-store");
    res_json(r, 200, body);
}

static void stats_read_cleanup(struct admin_read *a)
{
    struct stats_read *x = (struct stats_read *)a;
    if (x->src == STATS_OK)
        stats_report_clear(&x->rep);
}

void api_admin_stats(struct req *r)
{
    const char *msg = NULL;
    struct stats_query q;
    const char *bad =
        stats_query_make(req_query(r, "from"), req_query(r, "to"), req_query(r, "region"), time_now_ms(), &q, &msg);
    if (bad != NULL) {
        api_reply_field(r, TG_E_VALIDATION, bad, msg);
        return;
    }
    struct stats_read *x = xcalloc(1, sizeof *x);
    x->q = q;
    x->src = STATS_ERROR; /* nothing to clear until a run succeeds */
    admin_read_submit(r, &x->base, stats_read_run, stats_read_reply, stats_read_cleanup);
}
