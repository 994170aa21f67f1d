/*
 * writer.c - the group-committing writer thread (see writer.h).
 */
#include "store/writer.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "store/backend.h"
#include "store/call.h"

/* How long a batch may wait for another process's write lock before its calls get
 * STORE_BUSY (503): long enough for a CLI command's transaction, short enough that a client
 * gets an answer instead of hanging. */
#define WRITER_BUSY_BUDGET_NS (5000LL * 1000 * 1000)
/* First retry sleep 0.2 ms (a short transaction of another process, plus its fsync), doubled
 * up to 25 ms. */
#define WRITER_RETRY_FIRST_NS (200LL * 1000)
#define WRITER_RETRY_MAX_NS (25LL * 1000 * 1000)
/* While the database cannot write (disk full), probe this often. */
#define WRITER_PROBE_MS 250

struct store_writer {
    struct store *conn;
    pthread_t tid;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct store_call *head, *tail;
    size_t queued;
    int stopping;
    uint64_t rng;
    /* stats, written by the writer thread, read by anyone */
    _Atomic uint64_t batches, calls, busy_retries, failed_commits;
};

static _Atomic int store_write_ok = 1;

int store_writable(void)
{
    return atomic_load_explicit(&store_write_ok, memory_order_relaxed);
}

void store_note_write_result(enum store_rc rc)
{
    if (rc == STORE_OK) {
        if (!atomic_exchange(&store_write_ok, 1))
            log_event(LOG_INFO, "store_writable", "msg", "the database accepts writes again", NULL);
    } else if (rc == STORE_UNAVAILABLE) {
        if (atomic_exchange(&store_write_ok, 0))
            log_event(LOG_ERROR, "store_unwritable", "msg",
                      "the database cannot write (disk full or I/O error): writes answer 503", NULL);
    }
}

/* Sleeps about ns (jittered in [ns/2, ns]) on the writer thread. */
static void writer_sleep(struct store_writer *w, int64_t ns)
{
    w->rng ^= w->rng << 13;
    w->rng ^= w->rng >> 7;
    w->rng ^= w->rng << 17;
    int64_t half = ns / 2;
    int64_t d = half + (int64_t)(w->rng % (uint64_t)(half + 1));
    struct timespec ts = {.tv_sec = d / 1000000000LL, .tv_nsec = d % 1000000000LL};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Hands every call of the list back to its loop. */
static void writer_deliver(struct store_writer *w, struct store_call *list)
{
    while (list != NULL) {
        struct store_call *c = list;
        list = c->next;
        c->next = NULL;
        struct store_exec *ex = c->exec;
        pthread_mutex_lock(&ex->mu);
        int need_wake = !ex->wake_pending;
        ex->wake_pending = 1;
        if (ex->done_tail)
            ex->done_tail->next = c;
        else
            ex->done_head = c;
        ex->done_tail = c;
        pthread_mutex_unlock(&ex->mu);
        /* One wake until the loop takes the queue: it drains everything queued by then. */
        if (need_wake && ex->wake)
            ex->wake(ex->wake_arg);
        atomic_fetch_add_explicit(&w->calls, 1, memory_order_relaxed);
    }
}

/* Sets the result of every call in list to rc. */
static void writer_fail_all(struct store_call *list, enum store_rc rc)
{
    for (struct store_call *c = list; c != NULL; c = c->next)
        c->rc = rc;
}

/*
 * Runs one batch: BEGIN IMMEDIATE, each call in a savepoint, COMMIT. Sets every call's rc.
 * Lock contention (another process) is retried here, as a whole batch, within the budget.
 */
static void writer_run_batch(struct store_writer *w, struct store_call *list)
{
    const struct store_ops *ops = w->conn->ops;
    int64_t deadline = time_mono_ns() + WRITER_BUSY_BUDGET_NS;
    int64_t delay = WRITER_RETRY_FIRST_NS;
    enum store_rc rc;

    atomic_fetch_add_explicit(&w->batches, 1, memory_order_relaxed);
    for (;;) {
        /* Every call starts each attempt unanswered: one that never runs because the batch
         * broke before it gets the batch's result below, never a stale one. */
        for (struct store_call *c = list; c != NULL; c = c->next)
            c->rc = STORE_OK;
        rc = ops->begin(w->conn, 1);
        if (rc == STORE_OK) {
            enum store_rc broken = STORE_OK;
            int retry = 0;
            for (struct store_call *c = list; c != NULL; c = c->next) {
                enum store_rc sp = ops->savepoint(w->conn);
                if (sp != STORE_OK) {
                    broken = sp;
                    break;
                }
                c->rc = c->run(w->conn, c);
                if (c->rc == STORE_OK) {
                    enum store_rc rel = ops->release(w->conn);
                    if (rel != STORE_OK) {
                        c->rc = rel;
                        broken = rel;
                        break;
                    }
                    continue;
                }
                if (c->rc == STORE_BUSY) {
                    /* Cannot happen while we hold the write lock, but if it does the safe
                     * answer is to run the whole batch again, not to fail this call. */
                    retry = 1;
                    break;
                }
                /* This call alone is undone (ROLLBACK TO its savepoint) and the batch goes
                 * on. If SQLite abandoned the whole transaction by itself (an I/O error or a
                 * full disk can), the COMMIT below reports it and nothing of the batch is
                 * applied. */
                ops->rollback_to(w->conn);
            }
            if (!retry && broken == STORE_OK) {
                rc = ops->commit(w->conn);
                while (rc == STORE_BUSY && time_mono_ns() + delay < deadline) {
                    /* A reader in another process can hold up a WAL checkpoint, not our
                     * commit; still, a busy COMMIT keeps the transaction, so retry it. */
                    atomic_fetch_add_explicit(&w->busy_retries, 1, memory_order_relaxed);
                    writer_sleep(w, delay);
                    delay = delay * 2 > WRITER_RETRY_MAX_NS ? WRITER_RETRY_MAX_NS : delay * 2;
                    rc = ops->commit(w->conn);
                }
                if (rc != STORE_OK) {
                    ops->rollback(w->conn);
                    atomic_fetch_add_explicit(&w->failed_commits, 1, memory_order_relaxed);
                    /* Nothing of the batch is durable: calls that had succeeded fail with
                     * the commit's result; the ones that failed keep their own answer,
                     * which did not depend on the others. */
                    for (struct store_call *c = list; c != NULL; c = c->next)
                        if (c->rc == STORE_OK)
                            c->rc = rc == STORE_BUSY ? STORE_BUSY : rc;
                }
                store_note_write_result(rc);
                return;
            }
            ops->rollback(w->conn);
            if (!retry) {
                atomic_fetch_add_explicit(&w->failed_commits, 1, memory_order_relaxed);
                for (struct store_call *c = list; c != NULL; c = c->next)
                    if (c->rc == STORE_OK || c->rc == STORE_BUSY)
                        c->rc = broken;
                store_note_write_result(broken);
                /* Calls after the break never ran: they get the batch's result too. */
                return;
            }
            rc = STORE_BUSY;
        }
        if (rc != STORE_BUSY) {
            writer_fail_all(list, rc);
            store_note_write_result(rc);
            return;
        }
        if (time_mono_ns() + delay >= deadline) {
            log_event(LOG_WARN, "store_busy", "msg", "another process held the write lock past the budget",
                      NULL);
            store_count_error();
            writer_fail_all(list, STORE_BUSY);
            return;
        }
        atomic_fetch_add_explicit(&w->busy_retries, 1, memory_order_relaxed);
        writer_sleep(w, delay);
        delay = delay * 2 > WRITER_RETRY_MAX_NS ? WRITER_RETRY_MAX_NS : delay * 2;
    }
}

/* While writes fail with STORE_UNAVAILABLE, checks whether one can commit again. */
static void writer_probe(struct store_writer *w)
{
    const struct store_ops *ops = w->conn->ops;
    enum store_rc rc = ops->begin(w->conn, 1);
    if (rc != STORE_OK)
        return;
    rc = ops->write_probe(w->conn, time_now_ms());
    if (rc == STORE_OK)
        rc = ops->commit(w->conn);
    if (rc != STORE_OK)
        ops->rollback(w->conn);
    if (rc == STORE_OK || rc == STORE_UNAVAILABLE)
        store_note_write_result(rc);
}

static void *writer_main(void *arg)
{
    struct store_writer *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (w->head == NULL && !w->stopping) {
            if (store_writable()) {
                pthread_cond_wait(&w->cv, &w->mu);
                continue;
            }
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += WRITER_PROBE_MS * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            if (pthread_cond_timedwait(&w->cv, &w->mu, &ts) == ETIMEDOUT && w->head == NULL) {
                pthread_mutex_unlock(&w->mu);
                writer_probe(w);
                pthread_mutex_lock(&w->mu);
            }
        }
        if (w->head == NULL)
            break; /* stopping and drained */
        struct store_call *list = w->head, *last = list;
        size_t n = 1;
        while (n < STORE_WRITER_BATCH_MAX && last->next != NULL) {
            last = last->next;
            n++;
        }
        w->head = last->next;
        if (w->head == NULL)
            w->tail = NULL;
        last->next = NULL;
        w->queued -= n;
        pthread_mutex_unlock(&w->mu);

        writer_run_batch(w, list);
        writer_deliver(w, list);

        pthread_mutex_lock(&w->mu);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

struct store_writer *store_writer_start(const char *url, char **err)
{
    struct store_writer *w = xcalloc(1, sizeof *w);
    *err = NULL;
    w->conn = store_open(url, err);
    if (w->conn == NULL) {
        free(w);
        return NULL;
    }
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    w->rng = (uint64_t)(uintptr_t)w ^ (uint64_t)time_mono_ns() ^ 0x9e3779b97f4a7c15ULL;
    if (w->rng == 0)
        w->rng = 1;
    int rc = pthread_create(&w->tid, NULL, writer_main, w);
    if (rc != 0) {
        *err = xasprintf("store writer: pthread_create: %s", strerror(rc));
        store_close(w->conn);
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mu);
        free(w);
        return NULL;
    }
    return w;
}

int store_writer_submit(struct store_writer *w, struct store_call *c)
{
    int ret = -1;
    pthread_mutex_lock(&w->mu);
    if (w->stopping || w->queued >= STORE_WRITER_QUEUE_MAX)
        goto cleanup;
    c->next = NULL;
    if (w->tail)
        w->tail->next = c;
    else
        w->head = c;
    w->tail = c;
    w->queued++;
    pthread_cond_signal(&w->cv);
    ret = 0;
cleanup:
    pthread_mutex_unlock(&w->mu);
    return ret;
}

void store_writer_stats(struct store_writer *w, struct store_writer_stats *out)
{
    memset(out, 0, sizeof *out);
    if (w == NULL)
        return;
    out->batches = atomic_load(&w->batches);
    out->calls = atomic_load(&w->calls);
    out->busy_retries = atomic_load(&w->busy_retries);
    out->failed_commits = atomic_load(&w->failed_commits);
    pthread_mutex_lock(&w->mu);
    out->queued = w->queued;
    pthread_mutex_unlock(&w->mu);
}

void store_writer_stop(struct store_writer *w)
{
    if (w == NULL)
        return;
    pthread_mutex_lock(&w->mu);
    w->stopping = 1;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->tid, NULL);
    store_close(w->conn);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w);
}
