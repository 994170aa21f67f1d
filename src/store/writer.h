/*
 * writer.h - the one writer thread per process that group-commits every write
 * (DESIGN section 1).
 *
 * SQLite has one writer at a time and a durable commit (synchronous=FULL) costs an fsync.
 * Committing each request's transaction on its own capped money writes near the disk's
 * commit rate (6k/s measured here); one transaction holding every write that is waiting,
 * each in its own savepoint, pays that fsync once per batch instead (128k/s measured with
 * 50 per commit). The writer takes whatever is queued (up to a cap), runs each call's run()
 * between SAVEPOINT and RELEASE (a failing call rolls back alone and gets its own result),
 * commits once, and only then hands every call back to its loop: a request is answered
 * only after its transaction is durable.
 *
 * SQLITE_BUSY (another process, such as the CLI, holding the write lock) is waited out here
 * with jittered sleeps, never on a loop. When the disk is full the calls get
 * STORE_UNAVAILABLE and the writer probes with a tiny write until one commits again.
 */
#ifndef TG_STORE_WRITER_H
#define TG_STORE_WRITER_H

#include <stddef.h>
#include <stdint.h>

struct store_call;
struct store_writer;

/* Largest batch: bounds how long the first call of a batch waits for the last one to run. */
#define STORE_WRITER_BATCH_MAX 256
/* Calls waiting beyond this are refused with STORE_BUSY (503) instead of queueing without
 * bound. */
#define STORE_WRITER_QUEUE_MAX 16384

/* Counters for /metrics (monotonic since start). */
struct store_writer_stats {
    uint64_t batches;      /* transactions committed or attempted */
    uint64_t calls;        /* calls completed */
    uint64_t busy_retries; /* BEGIN or COMMIT retried because another process held the lock */
    uint64_t failed_commits;
    uint64_t queued; /* waiting right now */
};

/*
 * Opens a connection of its own to url and starts the writer thread.
 * Returns NULL with *err set (caller frees).
 */
struct store_writer *store_writer_start(const char *url, char **err);

/* Queues a write call (thread-safe). Returns 0, or -1 when the queue is full or the writer
 * is stopping (the call is untouched and still the caller's). */
int store_writer_submit(struct store_writer *w, struct store_call *c);

void store_writer_stats(struct store_writer *w, struct store_writer_stats *out);

/* Runs what is queued, stops the thread, closes its connection and frees w. Every call that
 * was accepted has been completed (handed back) when this returns. */
void store_writer_stop(struct store_writer *w);

#endif
