/* Unit tests for src/worker/pool.c and src/http/defer.c: jobs complete on the loop they
 * came from; a request that ends while its job runs gets done(NULL, arg). */
#include "../test.h"

#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "../../../src/worker/pool.c"
#include "../../../src/http/defer.c"

/* defer.c's req_ref calls this when a handle outlived its request; server.c is not linked. */
static int drained_checks;
void http_worker_check_drained(struct http_worker *w)
{
    (void)w;
    drained_checks++;
}

struct loop {
    h2o_evloop_t *loop;
    h2o_multithread_queue_t *queue;
    h2o_multithread_receiver_t rcv;
    pthread_t tid;
    int done;
    int wrong_thread;
    int target;
};

struct job {
    struct pool_job super;
    struct loop *origin;
    int ran_on_pool;
};

static void job_run(struct pool_job *pj)
{
    struct job *j = (struct job *)pj;
    j->ran_on_pool = !pthread_equal(pthread_self(), j->origin->tid);
    usleep(1000);
}

static void job_complete(struct pool_job *pj)
{
    struct job *j = (struct job *)pj;
    if (!pthread_equal(pthread_self(), j->origin->tid) || !j->ran_on_pool)
        j->origin->wrong_thread++;
    j->origin->done++;
    free(j);
}

static struct pool *the_pool;

static void *loop_main(void *arg)
{
    struct loop *l = arg;
    for (int i = 0; i < l->target; i++) {
        struct job *j = calloc(1, sizeof *j);
        j->super.run = job_run;
        j->super.complete = job_complete;
        j->super.receiver = &l->rcv;
        j->origin = l;
        while (pool_submit(the_pool, &j->super) != 0)
            usleep(100);
    }
    while (l->done < l->target)
        h2o_evloop_run(l->loop, 100);
    return NULL;
}

static void test_pool_routing(void)
{
    char *err = NULL;
    the_pool = pool_create(3, 64, &err);
    CHECK(the_pool != NULL, "pool starts");
    struct loop loops[2] = {0};
    for (int i = 0; i < 2; i++) {
        loops[i].loop = h2o_evloop_create();
        loops[i].queue = h2o_multithread_create_queue(loops[i].loop);
        pool_receiver_init(loops[i].queue, &loops[i].rcv);
        loops[i].target = 50;
    }
    for (int i = 0; i < 2; i++)
        pthread_create(&loops[i].tid, NULL, loop_main, &loops[i]);
    for (int i = 0; i < 2; i++)
        pthread_join(loops[i].tid, NULL);
    for (int i = 0; i < 2; i++) {
        CHECK_INT_EQ(loops[i].done, 50, "loop %d got all its completions", i);
        CHECK_INT_EQ(loops[i].wrong_thread, 0, "loop %d: work on the pool, completion on the loop", i);
        pool_receiver_dispose(loops[i].queue, &loops[i].rcv);
        h2o_multithread_destroy_queue(loops[i].queue);
        free(loops[i].queue); /* libh2o 2.2.5's destroy does not free the queue itself */
        h2o_evloop_destroy(loops[i].loop);
    }
    pool_destroy(the_pool);
}

/* ---- bounded queue ---- */

static pthread_mutex_t gate = PTHREAD_MUTEX_INITIALIZER;
static void blocked_run(struct pool_job *pj)
{
    (void)pj;
    pthread_mutex_lock(&gate);
    pthread_mutex_unlock(&gate);
}
static int completed;
static void count_complete(struct pool_job *pj)
{
    (void)pj;
    completed++;
}

static void test_pool_bounded(void)
{
    char *err = NULL;
    struct pool *p = pool_create(1, 2, &err);
    h2o_evloop_t *loop = h2o_evloop_create();
    h2o_multithread_queue_t *q = h2o_multithread_create_queue(loop);
    h2o_multithread_receiver_t rcv;
    pool_receiver_init(q, &rcv);
    struct pool_job jobs[4];
    memset(jobs, 0, sizeof jobs);
    pthread_mutex_lock(&gate);
    int accepted = 0;
    for (int i = 0; i < 4; i++) {
        jobs[i].run = blocked_run;
        jobs[i].complete = count_complete;
        jobs[i].receiver = &rcv;
        if (pool_submit(p, &jobs[i]) == 0)
            accepted++;
        if (i == 0)
            while (pool_backlog(p) != 1 || p->queued != 0) /* the thread picked job 0 */
                usleep(100);
    }
    CHECK_INT_EQ(accepted, 3, "1 running + 2 queued accepted, the 4th refused");
    pthread_mutex_unlock(&gate);
    while (completed < 3)
        h2o_evloop_run(loop, 10);
    CHECK_INT_EQ(completed, 3, "accepted jobs complete");
    pool_destroy(p);
    pool_receiver_dispose(q, &rcv);
    h2o_multithread_destroy_queue(q);
    free(q);
    h2o_evloop_destroy(loop);
}

/* ---- orphaned requests ---- */

struct fake_arg {
    int worked;
    int done_calls;
    struct req *seen;
};

static void fwork(void *arg)
{
    struct fake_arg *a = arg;
    usleep(2000);
    a->worked = 1;
}

static void fdone(struct req *r, void *arg)
{
    struct fake_arg *a = arg;
    a->done_calls++;
    a->seen = r;
}

static void test_defer_orphan(void)
{
    char *err = NULL;
    struct pool *p = pool_create(1, 8, &err);
    h2o_evloop_t *loop = h2o_evloop_create();
    h2o_multithread_queue_t *q = h2o_multithread_create_queue(loop);
    h2o_multithread_receiver_t rcv;
    pool_receiver_init(q, &rcv);
    uint64_t pending = 0;
    struct req *fake_req = (struct req *)(uintptr_t)0x1000; /* never dereferenced by defer.c */

    /* request alive at completion */
    h2o_mem_pool_t mp;
    h2o_mem_init_pool(&mp);
    struct fake_arg a1 = {0};
    CHECK(http_defer_submit(p, &rcv, &mp, fake_req, fwork, fdone, &a1, &pending, NULL, NULL) == 0, "submitted");
    CHECK_INT_EQ(pending, 1, "pending counted");
    while (a1.done_calls == 0)
        h2o_evloop_run(loop, 10);
    CHECK(a1.worked && a1.done_calls == 1 && a1.seen == fake_req, "live request: done(r, arg)");
    CHECK_INT_EQ(pending, 0, "pending released");
    h2o_mem_clear_pool(&mp); /* request ends after completion: nothing happens */

    /* request ends while the job runs */
    h2o_mem_init_pool(&mp);
    struct fake_arg a2 = {0};
    CHECK(http_defer_submit(p, &rcv, &mp, fake_req, fwork, fdone, &a2, &pending, NULL, NULL) == 0, "submitted");
    h2o_mem_clear_pool(&mp); /* client went away */
    while (a2.done_calls == 0)
        h2o_evloop_run(loop, 10);
    CHECK(a2.worked && a2.done_calls == 1 && a2.seen == NULL, "orphaned request: done(NULL, arg)");
    CHECK_INT_EQ(pending, 0, "pending released after orphan");

    pool_destroy(p);
    pool_receiver_dispose(q, &rcv);
    h2o_multithread_destroy_queue(q);
    free(q);
    h2o_evloop_destroy(loop);
}

/* req_ref: a handle taken after its request ended answers NULL; before, the request. */
static void test_req_ref(void)
{
    static struct http_worker w; /* large; zeroed */
    h2o_req_t h;
    struct req r;

    memset(&h, 0, sizeof h);
    memset(&r, 0, sizeof r);
    r.h = &h;
    r.w = &w;
    h2o_mem_init_pool(&h.pool);
    struct req_ref *a = req_ref_new(&r);
    struct req_ref *b = req_ref_new(&r);
    CHECK(r.deferred == 2 && w.pending_jobs == 2, "two handles: the request waits, the worker has work");
    CHECK(req_ref_take(a) == &r, "taken while the request lives: the request");
    CHECK(r.deferred == 1 && w.pending_jobs == 1, "one handle left");
    h2o_mem_clear_pool(&h.pool); /* the client went away */
    int before = drained_checks;
    CHECK(req_ref_take(b) == NULL, "taken after the request ended: NULL");
    CHECK(w.pending_jobs == 0 && drained_checks == before + 1, "the worker may drain now");
}

int main(void)
{
    test_pool_routing();
    test_pool_bounded();
    test_defer_orphan();
    test_req_ref();
    return test_done();
}
