/*
 * pool.h - the blocking pool: threads for work that must not run on a loop thread
 * (argon2id, large aggregates), DESIGN section 1. Outbound HTTP does not use it: it has
 * the net client's thread (net/net.h), where waiting costs no thread per call.
 *
 * Jobs wait in one bounded FIFO (mutex + condition variable); a full queue refuses new
 * jobs instead of growing without bound, so overload turns into fast 503s rather than
 * unbounded memory and latency. When a job's run() returns, the job is handed back to the
 * loop it came from through that loop's h2o_multithread receiver, where complete() runs.
 */
#ifndef TG_WORKER_POOL_H
#define TG_WORKER_POOL_H

#include <stddef.h>

#include <h2o.h>

struct pool;

struct pool_job {
    /* Runs on a pool thread. */
    void (*run)(struct pool_job *job);
    /* Runs afterwards on the thread of `receiver`'s loop. May free the job. */
    void (*complete)(struct pool_job *job);
    /* Receiver registered with pool_receiver_init() on the submitting loop. */
    h2o_multithread_receiver_t *receiver;
    /* Internal: queue link and the message carrying the job back. Zero them. */
    struct pool_job *next;
    h2o_multithread_message_t msg;
};

/*
 * Starts nthreads threads with a queue of at most max_queued waiting jobs.
 * Returns the pool (free with pool_destroy) or NULL with *err set (caller frees).
 */
struct pool *pool_create(unsigned nthreads, size_t max_queued, char **err);
/* Queues job. Returns 0, or -1 when the queue is full or the pool is stopping (the job is
 * untouched and still owned by the caller). Thread-safe. */
int pool_submit(struct pool *p, struct pool_job *job);
/* Jobs waiting plus running (approximate, for metrics and tests). */
size_t pool_backlog(struct pool *p);
/* Lets queued jobs run, stops and joins the threads, frees the pool. Completions already
 * sent stay in their receivers' queues. */
void pool_destroy(struct pool *p);

/* Registers `r` on `queue` (a loop's h2o_multithread queue) so that completed jobs whose
 * receiver is r get their complete() called on that loop. */
void pool_receiver_init(h2o_multithread_queue_t *queue, h2o_multithread_receiver_t *r);
/* Unregisters r (call before destroying the queue). */
void pool_receiver_dispose(h2o_multithread_queue_t *queue, h2o_multithread_receiver_t *r);

#endif
