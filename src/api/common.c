/*
 * common.c - reply helpers shared by the API handlers (see api.h).
 */
#include "api/api.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/config.h"
#include "core/ids.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "domain/audit.h"
#include "domain/ledger.h"
#include "domain/signin.h"
#include "domain/users.h"
#include "providers/providers.h"

void api_reply_store(struct req *r, enum store_rc rc, const char *what)
{
    switch (rc) {
    case STORE_BUSY:
    case STORE_UNAVAILABLE:
        res_error(r, TG_E_UNAVAILABLE, NULL, NULL);
        return;
    case STORE_NOTFOUND:
        res_error(r, TG_E_NOT_FOUND, NULL, NULL);
        return;
    default:
        /* The backend already logged the statement; this line ties it to the request. */
        log_event(LOG_ERROR, "api_store_failed", "request_id", req_id(r), "op", what, "rc", store_rc_name(rc),
                  NULL);
        res_error(r, TG_E_INTERNAL, NULL, NULL);
        return;
    }
}

void api_reply_signin_failure(struct req *r, int signin_rc)
{
    res_error(r, signin_rc == SIGNIN_UNAVAILABLE ? TG_E_UNAVAILABLE : TG_E_INTERNAL, NULL, NULL);
}

void api_reply_field(struct req *r, enum tg_err e, const char *field, const char *message)
{
    res_error(r, e, message, json_pack("{s:s}", "field", field));
}

void api_reply_own_account_failure(struct req *r, int users_rc)
{
    switch ((enum users_rc)users_rc) {
    case USERS_NOTFOUND:
        res_error(r, TG_E_INVALID_TOKEN, NULL, NULL);
        break;
    case USERS_UNAVAILABLE:
        res_error(r, TG_E_UNAVAILABLE, NULL, NULL);
        break;
    default:
        res_error(r, TG_E_INTERNAL, NULL, NULL);
        break;
    }
}

void api_reply_jerr(struct req *r, const struct jerr *e)
{
    api_reply_field(r, TG_E_VALIDATION, e->field, e->msg);
}

json_t *api_optional_body_or_reply(struct req *r, const char *const *allowed, int *empty)
{
    size_t len;
    req_body(r, &len);
    *empty = len == 0;
    if (*empty)
        return NULL;
    json_t *body = req_json_or_reply(r);
    if (body == NULL)
        return NULL;
    struct jerr e;
    if (jv_only(body, allowed, &e) != 0) {
        api_reply_jerr(r, &e);
        return NULL;
    }
    return body;
}

int api_require_session_or_reply(struct req *r)
{
    const struct principal *p = req_principal(r);
    if (p->api_key_id[0] != '\0') {
        res_error(r, TG_E_FORBIDDEN, "This action requires a signed-in session, not an API key.", NULL);
        return -1;
    }
    return 0;
}

/* Parses a decimal page size strictly: digits only, no sign, no leading junk, 1..max. */
static int api_parse_limit(const char *s, size_t max, size_t *out)
{
    size_t n = strlen(s), v = 0;
    if (n == 0 || n > 3)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (size_t)(s[i] - '0');
    }
    if (v < 1 || v > max)
        return -1;
    *out = v;
    return 0;
}

int api_page_params_or_reply(struct req *r, const char *cursor_prefix, size_t *limit, const char **cursor)
{
    const char *l = req_query(r, "limit");
    const char *c = req_query(r, "cursor");

    *limit = API_PAGE_DEFAULT;
    *cursor = NULL;
    if (l && api_parse_limit(l, API_PAGE_MAX, limit) != 0) {
        api_reply_field(r, TG_E_VALIDATION, "limit", "limit: must be an integer between 1 and 100");
        return -1;
    }
    if (c && !id_valid(c, cursor_prefix)) {
        api_reply_field(r, TG_E_VALIDATION, "cursor", "cursor: is not a valid cursor");
        return -1;
    }
    *cursor = c;
    return 0;
}

json_t *api_user_json(const struct user *u)
{
    return json_pack("{s:s, s:o, s:b, s:s, s:s, s:o, s:o}", "id", u->id, "email",
                     u->email[0] ? json_string(u->email) : json_null(), "email_verified", u->email_verified,
                     "display_name", u->display_name, "role", u->role, "region",
                     u->region[0] ? json_string(u->region) : json_null(), "locale",
                     u->locale[0] ? json_string(u->locale) : json_null());
}

const char *api_session_cookie_name(void)
{
    /* With https the __Secure- prefix makes browsers refuse the cookie from a page that is
     * not secure, so a plain-http page on the same host cannot plant one. */
    return strncmp(tg_cfg->public_origin, "https://", 8) == 0 ? API_SESSION_COOKIE_SECURE : API_SESSION_COOKIE;
}

void api_session_cookie_set(struct req *r, const char *token)
{
    int https = strncmp(tg_cfg->public_origin, "https://", 8) == 0;
    char *c = xasprintf("%s=%s; Path=%s; HttpOnly; SameSite=Strict; Max-Age=%d%s", api_session_cookie_name(),
                        token ? token : "", API_SESSION_COOKIE_PATH, token ? tg_cfg->refresh_token_ttl_s : 0,
                        https ? "; Secure" : "");
    res_header(r, "set-cookie", c);
    explicit_bzero(c, strlen(c));
    free(c);
}

int api_session_cookie_asked(struct req *r)
{
    const char *v = req_header(r, "x-tollgate-session");
    return v != NULL && strcasecmp(v, "cookie") == 0;
}

void api_reply_session_as(struct req *r, int status, const struct user *u, const struct session_tokens *t,
                          int cookie)
{
    json_t *body = json_pack("{s:o, s:s, s:s, s:i}", "user", api_user_json(u), "access_token", t->access_token,
                             "token_type", "Bearer", "expires_in", t->expires_in);
    if (body == NULL || (!cookie && json_object_set_new(body, "refresh_token", json_string(t->refresh_token)) != 0)) {
        json_decref(body);
        res_error(r, TG_E_INTERNAL, NULL, NULL);
        return;
    }
    /* In cookie mode the refresh token never reaches script: only the HttpOnly cookie has it. */
    if (cookie)
        api_session_cookie_set(r, t->refresh_token);
    /* RFC 6749 section 5.1: responses carrying tokens must not be cached. */
    res_header(r, "cache-control", "no-store");
    res_json(r, status, body);
}

void api_reply_session(struct req *r, int status, const struct user *u, const struct session_tokens *t)
{
    api_reply_session_as(r, status, u, t, api_session_cookie_asked(r));
}

static void api_call_done(struct store_call *sc)
{
    struct api_call *c = (struct api_call *)sc;
    struct req *r = c->in_request ? c->r : req_ref_take(c->ref);
    if (r != NULL)
        c->reply(r, c);
    if (c->cleanup != NULL)
        c->cleanup(c);
    if (!c->in_request)
        free(c);
}

void *api_call_new(struct req *r, size_t size, enum store_call_kind kind)
{
    struct api_call *c;
    if (kind == STORE_CALL_READ && store_exec_reads_inline(req_exec(r))) {
        c = req_alloc(r, size);
        memset(c, 0, size);
        c->in_request = 1;
        c->r = r;
    } else {
        c = xcalloc(1, size);
    }
    c->call.kind = kind;
    return c;
}

void api_submit(struct req *r, struct api_call *c, store_run_fn run, api_reply_fn reply,
                api_cleanup_fn cleanup)
{
    c->call.run = run;
    c->call.done = api_call_done;
    c->reply = reply;
    c->cleanup = cleanup;
    if (!c->in_request)
        c->ref = req_ref_new(r);
    store_exec_submit(req_exec(r), &c->call);
}

/* Appends s (n bytes) at *pos if it fits in cap; returns -1 otherwise. */
static int api_put(char *buf, size_t cap, size_t *pos, const char *s, size_t n)
{
    if (cap - *pos < n)
        return -1;
    memcpy(buf + *pos, s, n);
    *pos += n;
    return 0;
}

/* Appends the decimal form of v. By hand: printf was measurable on the hot path. */
static int api_put_int(char *buf, size_t cap, size_t *pos, int64_t v)
{
    char tmp[24];
    size_t n = 0;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[sizeof tmp - 1 - n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        tmp[sizeof tmp - 1 - n++] = '-';
    return api_put(buf, cap, pos, tmp + sizeof tmp - n, n);
}

int api_credits_format(const struct wallet *w, int64_t now_ms, char *buf, size_t cap)
{
    int64_t avail;
    char ts[32];
    size_t pos = 0;

    if (__builtin_add_overflow(ledger_spendable_plan(w, now_ms), w->paid_credits, &avail))
        return -1;
#define PUT_LIT(s) api_put(buf, cap, &pos, s, sizeof(s) - 1)
    if (PUT_LIT("{\"available\":") || api_put_int(buf, cap, &pos, avail) || PUT_LIT(",\"plan_credits\":") ||
        api_put_int(buf, cap, &pos, w->plan_credits) || PUT_LIT(",\"paid_credits\":") ||
        api_put_int(buf, cap, &pos, w->paid_credits) || PUT_LIT(",\"plan_expires_at\":"))
        return -1;
    if (w->plan_expires_at > 0) {
        time_rfc3339(w->plan_expires_at, ts);
        if (PUT_LIT("\"") || api_put(buf, cap, &pos, ts, strlen(ts)) || PUT_LIT("\""))
            return -1;
    } else if (PUT_LIT("null")) {
        return -1;
    }
    if (PUT_LIT("}"))
        return -1;
#undef PUT_LIT
    return (int)pos;
}

json_t *api_time_or_null(int64_t ms)
{
    char ts[32];
    return ms > 0 ? json_string(time_rfc3339(ms, ts)) : json_null();
}

json_t *api_credits_json(const struct wallet *w, int64_t now_ms)
{
    int64_t avail;
    if (__builtin_add_overflow(ledger_spendable_plan(w, now_ms), w->paid_credits, &avail))
        return NULL;
    return json_pack("{s:I, s:I, s:I, s:o}", "available", (json_int_t)avail, "plan_credits",
                     (json_int_t)w->plan_credits, "paid_credits", (json_int_t)w->paid_credits,
                     "plan_expires_at", api_time_or_null(w->plan_expires_at));
}

struct audit_wait {
    struct req_ref *ref;
    enum tg_err e;
    char message[160];
    int has_message;
    json_t *details;
};

static void api_audit_written(void *arg)
{
    struct audit_wait *aw = arg;
    struct req *r = req_ref_take(aw->ref);
    if (r != NULL)
        res_error(r, aw->e, aw->has_message ? aw->message : NULL, aw->details);
    else
        json_decref(aw->details);
    free(aw);
}

void api_audit_then_error(struct req *r, const char *actor_id, const char *action, const char *target_type,
                          const char *target_id, json_t *details, enum tg_err e, const char *message,
                          json_t *err_details)
{
    struct audit_wait *aw = xcalloc(1, sizeof *aw);
    char *dj = details ? json_dumps(details, JSON_COMPACT) : NULL;
    aw->e = e;
    if (message != NULL) {
        snprintf(aw->message, sizeof aw->message, "%s", message);
        aw->has_message = 1;
    }
    aw->details = err_details;
    aw->ref = req_ref_new(r);
    audit_event(req_exec(r), actor_id, action, target_type, target_id, req_client_ip(r), req_id(r), dj,
                time_now_ms(), api_audit_written, aw);
    free(dj);
    json_decref(details);
}

char *api_secret_dup(const char *s, size_t len)
{
    char *p = xmalloc(len + 1);
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

void api_secret_free(char *s, size_t len)
{
    if (s == NULL)
        return;
    /* explicit_bzero is not optimized away like a memset before free() may be. */
    explicit_bzero(s, len);
    free(s);
}

int api_admin_filters_or_reply(struct req *r, const char *const *statuses, const char *status_help,
                               char status[24], char provider[TG_PROVIDER_MAX], char user_id[TG_ID_MAX])
{
    const char *u = req_query(r, "user_id"), *st = req_query(r, "status"), *pv = req_query(r, "provider");
    status[0] = provider[0] = user_id[0] = '\0';
    if (st != NULL && st[0]) {
        int ok = 0;
        for (size_t i = 0; statuses[i]; i++)
            ok |= strcmp(statuses[i], st) == 0;
        if (!ok) {
            api_reply_field(r, TG_E_VALIDATION, "status", status_help);
            return -1;
        }
        snprintf(status, 24, "%s", st);
    }
    if (pv != NULL && pv[0]) {
        if (!providers_payment_known(pv)) {
            api_reply_field(r, TG_E_VALIDATION, "provider", NULL);
            return -1;
        }
        snprintf(provider, TG_PROVIDER_MAX, "%s", pv);
    }
    if (u != NULL && u[0]) {
        if (strlen(u) >= TG_ID_MAX) {
            api_reply_field(r, TG_E_VALIDATION, "user_id", NULL);
            return -1;
        }
        snprintf(user_id, TG_ID_MAX, "%s", u);
    }
    return 0;
}

const char *api_id_param_or_reply(struct req *r, const char *prefix)
{
    const char *id = req_param(r, "id");
    if (id == NULL || !id_valid(id, prefix)) {
        res_error(r, TG_E_NOT_FOUND, NULL, NULL);
        return NULL;
    }
    return id;
}
