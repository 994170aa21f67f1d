/*
 * dispatcher.h - the generation-task dispatcher (DESIGN sections 1 and 7, docs/GENERATION.md).
 *
 * One thread per process with its own event loop, store connection and outbound executor:
 * nothing it does - provider calls, polls, downloads, key bookkeeping - ever runs on an HTTP
 * loop. Every DISP_TICK_MS it claims due tasks from the store (store_tasks_claim: the claim
 * is a lease, so a task whose dispatcher died is taken again when the lease runs out, by
 * this process after a restart or by another node) and moves each one step:
 *
 *   phase submit   pick a key (domain/keypool.h), send the task (providers/gen/gen.h);
 *                  accepted -> submitted; a transient error or a refused key -> another try
 *                  later, on another key, the reservation untouched (the user was charged
 *                  once, at submit, and never again); an invalid request -> failed, refunded
 *   phase poll     ask the provider with the key that submitted (its tasks belong to that
 *                  account), backing off from poll_first_ms to poll_max_ms; a kie.ai callback
 *                  only makes the next poll due at once
 *   phase collect  the provider finished: each output is copied into our storage (provider
 *                  URLs expire), then one transaction stores the files and settles the task
 *
 * Past its deadline a live task is timed_out and refunded. Every terminal change goes
 * through domain/tasks.h, where a conditional status update and the ledger's unique keys
 * make a refund or a settlement happen exactly once, whoever races.
 */
#ifndef TG_WORKER_DISPATCHER_H
#define TG_WORKER_DISPATCHER_H

#include "core/mem.h"

struct store_writer;
struct net_client;

/* Starts the dispatcher thread (writer and client borrowed; they outlive it). 0, or -1 with
 * *err set (caller frees). */
int dispatcher_start(struct store_writer *writer, struct net_client *client, char **err);
/* Stops claiming, lets the steps in flight finish for a short while, joins the thread. What
 * is left is resumed from the store by the next start (leases). */
void dispatcher_stop(void);

/* Appends tollgate_tasks_* and tollgate_dispatcher_* metrics (Prometheus text). Thread-safe. */
void dispatcher_metrics_render(struct sbuf *out);

#endif
