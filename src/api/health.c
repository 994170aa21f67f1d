/*
 * health.c - GET /health (the process answers) and GET /ready (it can reach its database).
 *
 * Load balancers poll these often, so both are constant bodies: no JSON building.
 */
#include "api/api.h"

#include <string.h>

void api_health_get(struct req *r)
{
    static const char body[] = "{\"status\":\"ok\",\"version\":\"" TG_VERSION "\"}";
    res_json_text(r, 200, body, sizeof body - 1);
}

void api_ready_get(struct req *r)
{
    static const char body[] = "{\"status\":\"ready\"}";
    enum store_rc rc = store_ping(req_store(r));
    if (rc != STORE_OK) {
        /* Not ready whatever the reason: the balancer should route elsewhere. */
        res_error(r, TG_E_UNAVAILABLE, "The database is not reachable.", NULL);
        return;
    }
    res_json_text(r, 200, body, sizeof body - 1);
}
