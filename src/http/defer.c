/*
 * defer.c - req_defer's bookkeeping: the job outlives the request if it must.
 *
 * The job is heap memory (it may outlive the request), and a small link lives in the
 * request's pool as a shared chunk whose dispose callback runs when the request ends. If the
 * request ends first (client gone, HTTP/2 stream reset), dispose tells the job, and the
 * completion calls done(NULL, arg) so the handler can still release arg. Both the dispose
 * and the completion run on the loop thread, so the flag needs no lock.
 */
#include <stdlib.h>

#include "core/mem.h"
#include "http/internal.h"
#include "worker/pool.h"

struct http_defer_job;

struct http_defer_link {
    struct http_defer_job *job; /* NULL once the job completed */
};

struct http_defer_job {
    struct pool_job super;
    struct http_defer_link *link; /* valid while r != NULL */
    struct req *r;                /* NULL once the request ended */
    req_work_fn work;
    req_done_fn done;
    void *arg;
    uint64_t *pending;
    http_defer_finish_fn finish;
    void *finish_ctx;
};

static void http_defer_link_dispose(void *p)
{
    struct http_defer_link *link = p;
    if (link->job != NULL)
        link->job->r = NULL; /* orphaned: the completion will call done(NULL, arg) */
}

static void http_defer_run(struct pool_job *pj)
{
    struct http_defer_job *job = (struct http_defer_job *)pj;
    job->work(job->arg);
}

static void http_defer_complete(struct pool_job *pj)
{
    struct http_defer_job *job = (struct http_defer_job *)pj;
    struct req *r = job->r;
    if (r != NULL)
        job->link->job = NULL;
    (*job->pending)--;
    req_done_fn done = job->done;
    void *arg = job->arg;
    http_defer_finish_fn finish = job->finish;
    void *finish_ctx = job->finish_ctx;
    free(job);
    if (finish)
        finish(r, done, arg, finish_ctx);
    else
        done(r, arg);
}

int http_defer_submit(struct pool *p, h2o_multithread_receiver_t *rcv, h2o_mem_pool_t *mpool, struct req *r,
                      req_work_fn work, req_done_fn done, void *arg, uint64_t *pending,
                      http_defer_finish_fn finish, void *finish_ctx)
{
    struct http_defer_job *job = xcalloc(1, sizeof *job);
    job->super.run = http_defer_run;
    job->super.complete = http_defer_complete;
    job->super.receiver = rcv;
    job->r = r;
    job->work = work;
    job->done = done;
    job->arg = arg;
    job->pending = pending;
    job->finish = finish;
    job->finish_ctx = finish_ctx;
    if (pool_submit(p, &job->super) != 0) {
        free(job);
        return -1;
    }
    /* Linked after a successful submit: the completion cannot run before we return to the
     * loop, because it is delivered on this very thread. */
    job->link = h2o_mem_alloc_shared(mpool, sizeof *job->link, http_defer_link_dispose);
    job->link->job = job;
    (*pending)++;
    return 0;
}

/* ---- req_ref: a handle that survives the request ---- */

struct req_ref_link {
    struct req_ref *ref; /* NULL once taken */
};

struct req_ref {
    struct req *r; /* NULL once the request ended */
    struct http_worker *w;
    struct req_ref_link *link; /* in the request's pool; valid while r != NULL */
};

static void http_ref_link_dispose(void *p)
{
    struct req_ref_link *link = p;
    if (link->ref != NULL)
        link->ref->r = NULL; /* the request ended first: take() will answer NULL */
}

struct req_ref *req_ref_new(struct req *r)
{
    struct req_ref *ref = xcalloc(1, sizeof *ref);
    ref->r = r;
    ref->w = r->w;
    ref->link = h2o_mem_alloc_shared(&r->h->pool, sizeof *ref->link, http_ref_link_dispose);
    ref->link->ref = ref;
    r->deferred++;
    r->w->pending_jobs++;
    return ref;
}

struct req *req_ref_take(struct req_ref *ref)
{
    struct req *r = ref->r;
    struct http_worker *w = ref->w;
    if (r != NULL) {
        ref->link->ref = NULL;
        r->deferred--;
    }
    w->pending_jobs--;
    free(ref);
    if (r == NULL)
        http_worker_check_drained(w);
    return r;
}
