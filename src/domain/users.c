/*
 * users.c - account changes with rules attached (see users.h).
 */
#include "domain/users.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/log.h"
#include "core/mem.h"
#include "core/ids.h"
#include "domain/audit.h"
#include "domain/ledger.h"
#include "domain/region.h"
#include "domain/session.h"
#include "store/call.h"
#include "store/store.h"

static enum users_rc users_from_store(enum store_rc rc)
{
    switch (rc) {
    case STORE_OK:
        return USERS_OK;
    case STORE_NOTFOUND:
        return USERS_NOTFOUND;
    case STORE_BUSY:
    case STORE_UNAVAILABLE:
        return USERS_UNAVAILABLE;
    default:
        return USERS_ERROR;
    }
}

struct users_call {
    struct store_call call;
    char actor_id[TG_ID_MAX];
    char target_id[TG_ID_MAX];
    char display_name[TG_NAME_MAX + 1];
    int set_name;                       /* users_update_profile: whether to write display_name */
    char locale[TG_LOCALE_MAX];         /* users_update_profile: "" clears it */
    int set_locale;                     /* users_update_profile: whether to write locale */
    char region[TG_REGION_MAX];         /* users_set_region: "" clears it */
    char role[TG_ROLE_MAX]; /* "" keeps it */
    int disabled;           /* -1 keeps it */
    struct audit_origin from;
    int64_t now_ms;
    int changed;      /* out: role or disabled changed */
    struct user user; /* out */
    users_fn cb;
    void *arg;
};

static void users_done(struct store_call *c)
{
    struct users_call *a = (struct users_call *)c;
    enum users_rc rc = users_from_store(c->rc);
    if (rc == USERS_ERROR)
        log_event(LOG_ERROR, "user_update_failed", "user_id", a->target_id, "rc", store_rc_name(c->rc), NULL);
    if (rc == USERS_OK && a->changed)
        session_user_changed(a->target_id); /* before anyone is told it happened */
    a->cb(a->arg, rc, rc == USERS_OK ? &a->user : NULL);
    free(a);
}

static enum store_rc profile_run(struct store *s, struct store_call *c)
{
    struct users_call *a = (struct users_call *)c;
    enum store_rc rc = STORE_OK;
    if (a->set_name)
        rc = store_user_update_profile(s, a->target_id, a->display_name, NULL, a->now_ms);
    if (rc == STORE_OK && a->set_locale)
        rc = store_user_set_locale(s, a->target_id, a->locale[0] ? a->locale : NULL, a->now_ms);
    if (rc == STORE_OK)
        rc = store_user_get(s, a->target_id, &a->user);
    return rc;
}

void users_update_profile(struct store_exec *ex, const char *user_id, const char *display_name, const char *locale,
                          int64_t now_ms, users_fn cb, void *arg)
{
    struct users_call *a = xcalloc(1, sizeof *a);
    snprintf(a->target_id, sizeof a->target_id, "%s", user_id);
    if (display_name != NULL) {
        a->set_name = 1;
        snprintf(a->display_name, sizeof a->display_name, "%s", display_name);
    }
    if (locale != NULL) {
        a->set_locale = 1;
        snprintf(a->locale, sizeof a->locale, "%s", locale);
    }
    a->now_ms = now_ms;
    a->cb = cb;
    a->arg = arg;
    store_exec_call(ex, &a->call, STORE_CALL_WRITE, profile_run, users_done);
}

static enum store_rc region_run(struct store *s, struct store_call *c)
{
    struct users_call *a = (struct users_call *)c;
    enum store_rc rc = store_user_update_profile(s, a->target_id, NULL, a->region, a->now_ms);
    if (rc == STORE_OK)
        rc = store_user_get(s, a->target_id, &a->user);
    return rc;
}

void users_set_region(struct store_exec *ex, const char *user_id, const char *region, int64_t now_ms, users_fn cb,
                      void *arg)
{
    enum region r;
    /* Only the names region_decide reads back are stored: anything else would be a value
     * no request could ever honour. */
    if (region[0] != '\0' && region_parse_name(region, strlen(region), &r) != 0) {
        cb(arg, USERS_ERROR, NULL);
        return;
    }
    struct users_call *a = xcalloc(1, sizeof *a);
    snprintf(a->target_id, sizeof a->target_id, "%s", user_id);
    snprintf(a->region, sizeof a->region, "%s", region);
    a->now_ms = now_ms;
    a->cb = cb;
    a->arg = arg;
    store_exec_call(ex, &a->call, STORE_CALL_WRITE, region_run, users_done);
}

static enum store_rc admin_run(struct store *s, struct store_call *c)
{
    struct users_call *a = (struct users_call *)c;
    struct user old;
    char *details = NULL;

    a->changed = 0;
    enum store_rc rc = store_user_get(s, a->target_id, &old);
    if (rc != STORE_OK)
        return rc;
    int role_changes = a->role[0] != '\0' && strcmp(a->role, old.role) != 0;
    int flag_changes = a->disabled >= 0 && (a->disabled != 0) != (old.disabled != 0);
    if (role_changes)
        rc = store_user_set_role(s, a->target_id, a->role, a->now_ms);
    if (rc == STORE_OK && flag_changes)
        rc = store_user_set_disabled(s, a->target_id, a->disabled, a->now_ms);
    if (rc == STORE_OK && flag_changes && a->disabled)
        rc = store_refresh_revoke_user(s, a->target_id, a->now_ms);
    if (rc == STORE_OK && (role_changes || flag_changes))
        rc = store_user_bump_epoch(s, a->target_id, a->now_ms, NULL);
    if (rc == STORE_OK)
        rc = store_user_get(s, a->target_id, &a->user);
    if (rc != STORE_OK)
        return rc;
    json_t *dj = json_pack("{s:{s:s, s:b}, s:{s:s, s:b}}", "old", "role", old.role, "disabled", old.disabled,
                           "new", "role", a->user.role, "disabled", a->user.disabled);
    details = dj ? json_dumps(dj, JSON_COMPACT) : NULL;
    json_decref(dj);
    if (details == NULL)
        return STORE_ERROR;
    struct audit_entry e;
    audit_entry_fill(&e, a->actor_id, "user.update", "user", a->target_id, a->from.ip, a->from.request_id,
                     details, a->now_ms);
    rc = store_audit_insert(s, &e);
    free(details);
    a->changed = role_changes || flag_changes;
    return rc;
}

void users_admin_update(struct store_exec *ex, const char *actor_id, const char *target_id, const char *role,
                        int disabled, const char *ip, const char *request_id, int64_t now_ms, users_fn cb,
                        void *arg)
{
    if (strcmp(actor_id, target_id) == 0) {
        cb(arg, USERS_SELF, NULL);
        return;
    }
    struct users_call *a = xcalloc(1, sizeof *a);
    snprintf(a->actor_id, sizeof a->actor_id, "%s", actor_id);
    snprintf(a->target_id, sizeof a->target_id, "%s", target_id);
    snprintf(a->role, sizeof a->role, "%s", role ? role : "");
    a->disabled = disabled;
    audit_origin_set(&a->from, ip, request_id);
    a->now_ms = now_ms;
    a->cb = cb;
    a->arg = arg;
    store_exec_call(ex, &a->call, STORE_CALL_WRITE, admin_run, users_done);
}

/* ---- bootstrap ---- */

struct bootstrap_call {
    struct store_call call;
    char email[TG_EMAIL_MAX + 1];
    char display_name[TG_NAME_MAX + 1];
    int has_name;
    char role[TG_ROLE_MAX];
    char hash[TG_PWHASH_MAX];
    char new_id[TG_ID_MAX];
    int64_t signup_credits;
    int64_t now_ms;
    struct users_bootstrap_result res;
    users_bootstrap_fn cb;
    void *arg;
};

static enum store_rc bootstrap_run(struct store *s, struct store_call *c)
{
    struct bootstrap_call *a = (struct bootstrap_call *)c;
    struct user u;
    char *details = NULL;

    memset(&a->res, 0, sizeof a->res);
    enum store_rc rc = store_user_get_by_email(s, a->email, &u);
    if (rc == STORE_NOTFOUND) {
        memset(&u, 0, sizeof u);
        memcpy(u.id, a->new_id, sizeof u.id);
        snprintf(u.email, sizeof u.email, "%s", a->email);
        snprintf(u.display_name, sizeof u.display_name, "%s", a->display_name);
        snprintf(u.role, sizeof u.role, "%s", a->role);
        snprintf(u.password_hash, sizeof u.password_hash, "%s", a->hash);
        u.created_at = u.updated_at = a->now_ms;
        rc = store_user_create(s, &u);
        if (rc == STORE_OK && a->signup_credits > 0) {
            enum ledger_rc lrc = ledger_grant_tx(s, u.id, BUCKET_PAID, a->signup_credits, LK_SIGNUP_GRANT,
                                                 "user", u.id, "signup grant", 0, a->now_ms, NULL);
            rc = ledger_to_store(lrc);
        }
        a->res.created = 1;
    } else if (rc == STORE_OK) {
        rc = store_user_set_password(s, u.id, NULL, a->hash, a->now_ms);
        if (rc == STORE_OK)
            rc = store_user_set_role(s, u.id, a->role, a->now_ms);
        if (rc == STORE_OK && a->has_name)
            rc = store_user_update_profile(s, u.id, a->display_name, NULL, a->now_ms);
        if (rc == STORE_OK && u.disabled) {
            rc = store_user_set_disabled(s, u.id, 0, a->now_ms);
            a->res.reenabled = 1;
        }
        /* A new password ends every session made with the old one. */
        if (rc == STORE_OK)
            rc = store_refresh_revoke_user(s, u.id, a->now_ms);
        if (rc == STORE_OK)
            rc = store_user_bump_epoch(s, u.id, a->now_ms, NULL);
    }
    if (rc == STORE_OK)
        rc = store_user_get(s, u.id, &a->res.user);
    if (rc != STORE_OK)
        return rc;
    json_t *dj = json_pack("{s:s, s:b, s:b}", "role", a->role, "created", a->res.created, "reenabled",
                           a->res.reenabled);
    details = dj ? json_dumps(dj, JSON_COMPACT) : NULL;
    json_decref(dj);
    if (details == NULL)
        return STORE_ERROR;
    struct audit_entry e;
    audit_entry_fill(&e, "", "admin.bootstrap", "user", a->res.user.id, "", "", details, a->now_ms);
    rc = store_audit_insert(s, &e);
    free(details);
    return rc;
}

static void bootstrap_done(struct store_call *c)
{
    struct bootstrap_call *a = (struct bootstrap_call *)c;
    a->res.rc = users_from_store(c->rc);
    if (a->res.rc == USERS_OK && !a->res.created)
        session_user_changed(a->res.user.id);
    a->cb(a->arg, &a->res);
    explicit_bzero(a, sizeof *a);
    free(a);
}

void users_bootstrap(struct store_exec *ex, const char *email, const char *display_name, const char *role,
                     const char *hash, int64_t signup_credits, int64_t now_ms, users_bootstrap_fn cb,
                     void *arg)
{
    struct bootstrap_call *a = xcalloc(1, sizeof *a);
    snprintf(a->email, sizeof a->email, "%s", email);
    if (display_name != NULL) {
        a->has_name = 1;
        snprintf(a->display_name, sizeof a->display_name, "%s", display_name);
    }
    snprintf(a->role, sizeof a->role, "%s", role);
    snprintf(a->hash, sizeof a->hash, "%s", hash);
    id_new(a->new_id, "usr");
    a->signup_credits = signup_credits;
    a->now_ms = now_ms;
    a->cb = cb;
    a->arg = arg;
    store_exec_call(ex, &a->call, STORE_CALL_WRITE, bootstrap_run, bootstrap_done);
}
