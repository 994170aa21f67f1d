/*
 * jobs.h - what the server does on its own, on a schedule (DESIGN section 4: "the scheduler
 * also queries pending orders").
 *
 * jobs_tick runs every JOBS_INTERVAL_MS on the first HTTP worker's loop (http_server_set_job)
 * and starts each due job's asynchronous work - store calls and provider calls through the
 * loop's executors - never waiting for it: a loop thread never sleeps. A job that is still
 * running when the next tick comes is not started again. With several nodes each runs its
 * jobs; every job is safe to run twice (the queries are reads, the outcomes idempotent).
 *
 * Jobs now: the pending-order job (pending_orders.c), pending refunds (pending_refunds.c) and
 * subscriptions (subscriptions.c). Task polling joins here.
 */
#ifndef TG_JOBS_JOBS_H
#define TG_JOBS_JOBS_H

#include <stdint.h>

struct store_exec;
struct net_exec;

#define JOBS_INTERVAL_MS 1000

void jobs_tick(struct store_exec *ex, struct net_exec *nx, int64_t now_ms);

/*
 * The pending-order job: asks the provider about every pending order whose next query is
 * due (TG_ORDER_QUERY_AFTER after creation, then with doubling gaps, at most
 * TG_ORDER_QUERY_MAX times), fulfils a payment it reports exactly like a notification
 * would, marks failed what the provider closed, and expires orders past TG_ORDER_TTL (after
 * a last query: a payment made at the last second is still found). A lost notification
 * never loses a payment.
 */
void jobs_pending_orders(struct store_exec *ex, struct net_exec *nx, int64_t now_ms);

/* Pending refunds not settled TG_ORDER_QUERY_AFTER after their last change: the same refund
 * is asked for again (pending_refunds.c). */
void jobs_pending_refunds(struct store_exec *ex, struct net_exec *nx, int64_t now_ms);

/* Subscriptions whose credit period ended, whose paid period ran out, or whose prepaid
 * reminder or past-due notice is due (subscriptions.c, domain/subscriptions.h). */
void jobs_subscriptions(struct store_exec *ex, int64_t now_ms);

#endif
