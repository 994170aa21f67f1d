/*
 * pool.c - bounded FIFO + threads; completions go back over h2o_multithread.
 */
#include "worker/pool.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"

struct pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct pool_job *head, *tail;
    size_t queued;
    size_t running;
    size_t max_queued;
    int stopping;
    unsigned nthreads;
    pthread_t *threads;
};

static void *pool_thread_main(void *arg)
{
    struct pool *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->head == NULL && !p->stopping)
            pthread_cond_wait(&p->cv, &p->mu);
        if (p->head == NULL)
            break; /* stopping and nothing left */
        struct pool_job *job = p->head;
        p->head = job->next;
        if (p->head == NULL)
            p->tail = NULL;
        p->queued--;
        p->running++;
        pthread_mutex_unlock(&p->mu);

        job->next = NULL;
        job->run(job);
        /* After this send the job belongs to the receiving loop: do not touch it again. */
        h2o_multithread_send_message(job->receiver, &job->msg);

        pthread_mutex_lock(&p->mu);
        p->running--;
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

struct pool *pool_create(unsigned nthreads, size_t max_queued, char **err)
{
    struct pool *p = xcalloc(1, sizeof *p);
    *err = NULL;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->max_queued = max_queued;
    p->threads = xcalloc(nthreads ? nthreads : 1, sizeof *p->threads);
    for (unsigned i = 0; i < nthreads; i++) {
        int rc = pthread_create(&p->threads[i], NULL, pool_thread_main, p);
        if (rc != 0) {
            *err = xasprintf("blocking pool: pthread_create: %s", strerror(rc));
            pool_destroy(p);
            return NULL;
        }
        p->nthreads++;
    }
    return p;
}

int pool_submit(struct pool *p, struct pool_job *job)
{
    int ret = -1;
    pthread_mutex_lock(&p->mu);
    if (p->stopping || p->queued >= p->max_queued)
        goto cleanup;
    job->next = NULL;
    memset(&job->msg, 0, sizeof job->msg);
    if (p->tail)
        p->tail->next = job;
    else
        p->head = job;
    p->tail = job;
    p->queued++;
    pthread_cond_signal(&p->cv);
    ret = 0;
cleanup:
    pthread_mutex_unlock(&p->mu);
    return ret;
}

size_t pool_backlog(struct pool *p)
{
    pthread_mutex_lock(&p->mu);
    size_t n = p->queued + p->running;
    pthread_mutex_unlock(&p->mu);
    return n;
}

void pool_destroy(struct pool *p)
{
    if (p == NULL)
        return;
    pthread_mutex_lock(&p->mu);
    p->stopping = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (unsigned i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p->threads);
    free(p);
}

static void pool_on_complete(h2o_multithread_receiver_t *r, h2o_linklist_t *messages)
{
    (void)r;
    while (!h2o_linklist_is_empty(messages)) {
        h2o_multithread_message_t *msg = H2O_STRUCT_FROM_MEMBER(h2o_multithread_message_t, link, messages->next);
        h2o_linklist_unlink(&msg->link);
        struct pool_job *job = H2O_STRUCT_FROM_MEMBER(struct pool_job, msg, msg);
        job->complete(job);
    }
}

void pool_receiver_init(h2o_multithread_queue_t *queue, h2o_multithread_receiver_t *r)
{
    h2o_multithread_register_receiver(queue, r, pool_on_complete);
}

void pool_receiver_dispose(h2o_multithread_queue_t *queue, h2o_multithread_receiver_t *r)
{
    h2o_multithread_unregister_receiver(queue, r);
}
