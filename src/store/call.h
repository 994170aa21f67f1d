/*
 * call.h - asynchronous store calls: the one shape in which api/ and domain/ use the store
 * (DESIGN section 1).
 *
 * A store_call is a whole operation: run() composes store.h primitives (reads, or writes
 * that must happen together) and done() continues the caller on its own loop thread once
 * the result is known - for a write, once its transaction is durable. Callers embed the
 * call in their own context struct, fill run/done/kind and hand it to store_exec_submit():
 *
 *   - STORE_CALL_READ runs inline on SQLite: run() on the caller's connection, then done(),
 *     both before store_exec_submit() returns. A networked backend would answer the same
 *     call later; callers must not rely on either, so nothing may touch the call after
 *     submitting it except through done().
 *   - STORE_CALL_WRITE goes to the process's writer thread (store/writer.c), which runs every
 *     queued write as a savepoint inside one transaction and commits once (group commit),
 *     then hands each call back to the loop it came from, where done() runs.
 *
 * run() may run on another thread than the caller's (the writer) and may run more than
 * once (a batch retried after lock contention), so it must only use its arguments and the
 * store it is given, and rewrite all of its outputs on every run. It returns the call's
 * result; a result other than STORE_OK rolls back everything that call wrote (and only
 * that call). done() owns the call and may free it.
 */
#ifndef TG_STORE_CALL_H
#define TG_STORE_CALL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

struct store_call;
struct store_writer;

enum store_call_kind {
    STORE_CALL_READ = 0, /* reads only: runs inline on the caller's connection */
    STORE_CALL_WRITE,    /* writes: group-committed by the writer thread */
};

typedef enum store_rc (*store_run_fn)(struct store *s, struct store_call *c);
typedef void (*store_done_fn)(struct store_call *c);

struct store_call {
    enum store_call_kind kind;
    store_run_fn run;
    store_done_fn done;
    enum store_rc rc; /* set before done() runs */
    /* Executor-private. */
    struct store_call *next;
    struct store_exec *exec;
};

/*
 * One per loop thread: the loop's own connection for inline reads, the shared writer, and
 * the queue of completed writes waiting to run their done() on this loop. The owner of the
 * loop supplies `wake`, which the writer calls (from its own thread) when completions were
 * queued on an empty queue; the loop then calls store_exec_drain().
 */
struct store_exec {
    struct store *conn;
    struct store_writer *writer;
    void (*wake)(void *arg);
    void *wake_arg;
    pthread_mutex_t mu; /* guards the three below: held for a few pointer moves only */
    struct store_call *done_head, *done_tail;
    int wake_pending;  /* a wake was sent and the loop has not taken the queue since */
    uint64_t inflight; /* submitted and not yet done (loop thread only) */
};

/*
 * Sets up ex. conn is borrowed (the loop's connection). writer NULL makes a synchronous
 * executor: writes run at once on conn in a transaction of their own
 * (store_call_run_sync) and complete before store_exec_submit returns - for the CLI and
 * tests, never for a loop thread.
 */
void store_exec_init(struct store_exec *ex, struct store *conn, struct store_writer *writer,
                     void (*wake)(void *arg), void *wake_arg);
void store_exec_dispose(struct store_exec *ex);

/*
 * Submits c (kind, run and done filled). A read completes before this returns; a write
 * completes later through store_exec_drain() on this loop. When the writer refuses the call
 * (its queue is full, or it is stopping), done() still runs, with STORE_BUSY.
 */
void store_exec_submit(struct store_exec *ex, struct store_call *c);

/*
 * 1 when reads on ex complete before store_exec_submit returns (SQLite): a caller may then
 * keep a read's context in memory that ends with its request. Code must stay correct when
 * this is 0 (a networked backend), which is why the call shape is asynchronous anyway.
 */
int store_exec_reads_inline(const struct store_exec *ex);

/* Fills c's kind, run and done, then store_exec_submit(ex, c). */
void store_exec_call(struct store_exec *ex, struct store_call *c, enum store_call_kind kind, store_run_fn run,
                     store_done_fn done);

/* Runs done() of every completed call queued for this loop. Call it on the loop thread when
 * woken, after consuming the wake (so that the next completion sends a new one). */
void store_exec_drain(struct store_exec *ex);

/*
 * Runs c synchronously on s in one transaction of its own (BEGIN IMMEDIATE for writes, with
 * bounded retries on lock contention; sleeping is fine: this is for the CLI, tests and other
 * threads that are not loops), then calls done() when it is not NULL. Returns c->rc.
 */
enum store_rc store_call_run_sync(struct store *s, struct store_call *c);

/*
 * Process-wide write health for GET /ready: 0 after a write failed with STORE_UNAVAILABLE
 * (disk full, I/O error) until a later transaction or the writer's probe commits again.
 */
int store_writable(void);
/* Called by the executors: records the outcome of a commit attempt. */
void store_note_write_result(enum store_rc rc);

#endif
