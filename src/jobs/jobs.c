/*
 * jobs.c - the tick that starts the scheduled jobs (jobs.h).
 */
#include "jobs/jobs.h"

void jobs_tick(struct store_exec *ex, struct net_exec *nx, int64_t now_ms)
{
    jobs_pending_orders(ex, nx, now_ms);
    jobs_pending_refunds(ex, nx, now_ms);
    jobs_subscriptions(ex, now_ms);
}
