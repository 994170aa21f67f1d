/*
 * health.c - GET /health (the process answers) and GET /ready (it can reach its database
 * and write to it).
 *
 * Load balancers poll these often, so both are constant bodies: no JSON building.
 */
#include "api/api.h"

#include <string.h>

#include "core/mem.h"

void api_health_get(struct req *r)
{
    static const char body[] = "{\"status\":\"ok\",\"version\":\"" TG_VERSION "\"}";
    res_json_text(r, 200, body, sizeof body - 1);
}

struct ready_call {
    struct api_call base;
};

static enum store_rc ready_run(struct store *s, struct store_call *c)
{
    (void)c;
    return store_ping(s);
}

static void ready_reply(struct req *r, struct api_call *c)
{
    static const char body[] = "{\"status\":\"ready\"}";
    if (c->call.rc != STORE_OK) {
        /* Not ready whatever the reason: the balancer should route elsewhere. */
        res_error(r, TG_E_UNAVAILABLE, "The database is not reachable.", NULL);
        return;
    }
    if (!store_writable()) {
        /* Reads work but writes fail (disk full): money cannot move here; route elsewhere
         * until the writer's probe commits again. */
        res_error(r, TG_E_UNAVAILABLE, "The database cannot write.", NULL);
        return;
    }
    res_json_text(r, 200, body, sizeof body - 1);
}

void api_ready_get(struct req *r)
{
    struct ready_call *c = api_call_new(r, sizeof *c, STORE_CALL_READ);
    api_submit(r, &c->base, ready_run, ready_reply, NULL);
}
