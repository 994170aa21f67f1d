/*
 * audit.c - audit rows (see audit.h).
 */
#include "domain/audit.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ids.h"
#include "core/log.h"
#include "core/mem.h"
#include "store/call.h"
#include "store/store.h"

static _Atomic uint64_t audit_dropped;

uint64_t audit_dropped_count(void)
{
    return atomic_load_explicit(&audit_dropped, memory_order_relaxed);
}

void audit_origin_set(struct audit_origin *o, const char *ip, const char *request_id)
{
    snprintf(o->ip, sizeof o->ip, "%s", ip ? ip : "");
    snprintf(o->request_id, sizeof o->request_id, "%s", request_id ? request_id : "");
}

void audit_entry_fill(struct audit_entry *e, const char *actor_id, const char *action,
                      const char *target_type, const char *target_id, const char *ip, const char *request_id,
                      const char *details_json, int64_t now_ms)
{
    memset(e, 0, sizeof *e);
    id_new(e->id, "aud");
    snprintf(e->actor_id, sizeof e->actor_id, "%s", actor_id ? actor_id : "");
    snprintf(e->action, sizeof e->action, "%s", action);
    snprintf(e->target_type, sizeof e->target_type, "%s", target_type ? target_type : "");
    snprintf(e->target_id, sizeof e->target_id, "%s", target_id ? target_id : "");
    snprintf(e->ip, sizeof e->ip, "%s", ip ? ip : "");
    snprintf(e->request_id, sizeof e->request_id, "%s", request_id ? request_id : "");
    e->details_json = (char *)(uintptr_t)(details_json ? details_json : "{}");
    e->created_at = now_ms;
}

struct audit_call {
    struct store_call call;
    struct audit_entry e;
    char *details;
    void (*then)(void *arg);
    void *arg;
};

static enum store_rc audit_run(struct store *s, struct store_call *c)
{
    return store_audit_insert(s, &((struct audit_call *)c)->e);
}

static void audit_done(struct store_call *c)
{
    struct audit_call *a = (struct audit_call *)c;
    if (c->rc != STORE_OK) {
        atomic_fetch_add_explicit(&audit_dropped, 1, memory_order_relaxed);
        log_event(LOG_ERROR, "audit_dropped", "action", a->e.action, "request_id", a->e.request_id, "rc",
                  store_rc_name(c->rc), NULL);
    }
    void (*then)(void *) = a->then;
    void *arg = a->arg;
    free(a->details);
    free(a);
    if (then != NULL)
        then(arg);
}

void audit_event(struct store_exec *ex, const char *actor_id, const char *action, const char *target_type,
                 const char *target_id, const char *ip, const char *request_id, const char *details_json,
                 int64_t now_ms, void (*then)(void *arg), void *arg)
{
    struct audit_call *a = xcalloc(1, sizeof *a);
    a->then = then;
    a->arg = arg;
    a->details = xstrdup(details_json ? details_json : "{}");
    audit_entry_fill(&a->e, actor_id, action, target_type, target_id, ip, request_id, a->details, now_ms);
    store_exec_call(ex, &a->call, STORE_CALL_WRITE, audit_run, audit_done);
}
