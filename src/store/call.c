/*
 * call.c - the per-loop executor of store calls and the synchronous runner (see call.h).
 */
#include "store/call.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "core/timeutil.h"
#include "store/backend.h"
#include "store/writer.h"

/* The synchronous runner's budget for another process's lock (the CLI waits; it is not a
 * loop). */
#define CALL_SYNC_BUSY_BUDGET_NS (10000LL * 1000 * 1000)

void store_exec_init(struct store_exec *ex, struct store *conn, struct store_writer *writer,
                     void (*wake)(void *arg), void *wake_arg)
{
    memset(ex, 0, sizeof *ex);
    ex->conn = conn;
    ex->writer = writer;
    ex->wake = wake;
    ex->wake_arg = wake_arg;
    pthread_mutex_init(&ex->mu, NULL);
}

void store_exec_dispose(struct store_exec *ex)
{
    pthread_mutex_destroy(&ex->mu);
}

int store_exec_reads_inline(const struct store_exec *ex)
{
    return ex->conn != NULL && ex->conn->ops->reads_inline;
}

void store_exec_submit(struct store_exec *ex, struct store_call *c)
{
    c->exec = ex;
    c->next = NULL;
    ex->inflight++;
    if (c->kind == STORE_CALL_WRITE && ex->writer == NULL) {
        ex->inflight--;
        store_call_run_sync(ex->conn, c); /* calls done() */
        return;
    }
    if (c->kind == STORE_CALL_WRITE) {
        if (store_writer_submit(ex->writer, c) == 0)
            return;
        /* Refused (queue full or stopping): shed load now with a retryable answer. */
        log_event(LOG_WARN, "store_writer_full", NULL);
        c->rc = STORE_BUSY;
    } else {
        c->rc = c->run(ex->conn, c);
    }
    ex->inflight--;
    c->done(c);
}

void store_exec_call(struct store_exec *ex, struct store_call *c, enum store_call_kind kind, store_run_fn run,
                     store_done_fn done)
{
    c->kind = kind;
    c->run = run;
    c->done = done;
    store_exec_submit(ex, c);
}

void store_exec_drain(struct store_exec *ex)
{
    /* One take per wake: completions queued after it send a wake of their own, so the
     * wake message is never sent again while it is still in flight. */
    pthread_mutex_lock(&ex->mu);
    struct store_call *list = ex->done_head;
    ex->done_head = ex->done_tail = NULL;
    ex->wake_pending = 0;
    pthread_mutex_unlock(&ex->mu);
    while (list != NULL) {
        struct store_call *c = list;
        list = c->next;
        c->next = NULL;
        ex->inflight--;
        c->done(c); /* may free c */
    }
}

enum store_rc store_call_run_sync(struct store *s, struct store_call *c)
{
    const struct store_ops *ops = s->ops;
    int write = c->kind == STORE_CALL_WRITE;
    int64_t deadline = time_mono_ns() + CALL_SYNC_BUSY_BUDGET_NS;
    int64_t delay = 200 * 1000;
    enum store_rc rc;

    for (;;) {
        rc = ops->begin(s, write);
        if (rc == STORE_OK) {
            rc = c->run(s, c);
            if (rc == STORE_OK) {
                rc = ops->commit(s);
                if (rc != STORE_OK)
                    ops->rollback(s);
                else if (write)
                    store_note_write_result(rc);
            } else {
                ops->rollback(s);
            }
        }
        if (rc != STORE_BUSY || time_mono_ns() + delay >= deadline)
            break;
        struct timespec ts = {.tv_sec = delay / 1000000000LL, .tv_nsec = delay % 1000000000LL};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
            ;
        delay = delay * 2 > 50LL * 1000 * 1000 ? 50LL * 1000 * 1000 : delay * 2;
    }
    if (rc == STORE_UNAVAILABLE && write)
        store_note_write_result(rc);
    c->rc = rc;
    if (c->done != NULL)
        c->done(c);
    return rc;
}
