/*
 * client.c - the process's client thread: every outbound transfer on one libcurl multi
 * handle (see net.h).
 *
 * Submissions from any thread go into a queue under a lock held for a few pointer moves,
 * and the thread is woken with curl_multi_wakeup() - once per batch: a submitter that finds
 * a wake already on its way does not send another. The thread takes the whole queue at
 * once, adds each call's easy handle to the multi handle, and sleeps in curl_multi_poll()
 * until a socket is ready, one of libcurl's timers is due, the next waiting retry is due,
 * or it is woken. A retry is a deadline on a list kept by due time, never a sleep: the
 * thread keeps serving every other transfer meanwhile.
 *
 * Stopping: net_client_stop sets `stopping` under the lock (after which submissions are
 * refused), wakes the thread, which completes everything it holds with NET_SHUTDOWN and
 * exits. A submitter may still be between its enqueue and its curl_multi_wakeup() at that
 * moment; the multi handle is freed only once no submitter is (`wakers`).
 */
#include "net/internal.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/log.h"
#include "core/mem.h"
#include "core/timeutil.h"

/* Longest sleep in curl_multi_poll with nothing due: a safety net only, since submissions
 * wake the thread and libcurl shortens the wait for its own timers. */
#define NET_POLL_MAX_MS 1000

struct net_client {
    CURLM *multi;
    pthread_t tid;
    size_t max_inflight;
    pthread_mutex_t mu;           /* guards the four below: held for a few pointer moves only */
    struct net_call *head, *tail; /* submitted, not yet taken by the thread */
    int stopping;
    int wake_sent;        /* a wakeup is on its way and the thread has not taken the queue since */
    _Atomic size_t count; /* accepted and not yet handed back (incremented under mu) */
    _Atomic int wakers;   /* submitters between their enqueue and their curl_multi_wakeup */
    /* client thread only */
    struct net_xfer running;  /* anchor of the list of transfers in the multi handle */
    struct net_xfer *waiting; /* retries waiting for their due time, earliest first */
};

static void client_link_running(struct net_client *cl, struct net_xfer *x)
{
    x->next = cl->running.next;
    x->prev = &cl->running;
    cl->running.next->prev = x;
    cl->running.next = x;
}

static void client_unlink_running(struct net_xfer *x)
{
    x->prev->next = x->next;
    x->next->prev = x->prev;
    x->prev = x->next = NULL;
}

/* Hands c back to its executor: the end of every accepted call. */
static void client_finish(struct net_client *cl, struct net_call *c, enum net_err err)
{
    net_finish(c, err);
    net_exec_deliver(c);
    atomic_fetch_sub_explicit(&cl->count, 1, memory_order_relaxed);
}

static void client_start_attempt(struct net_client *cl, struct net_xfer *x)
{
    net_xfer_begin_attempt(x);
    if (curl_multi_add_handle(cl->multi, x->easy) != CURLM_OK) {
        client_finish(cl, x->call, NET_ERROR);
        return;
    }
    client_link_running(cl, x);
}

static void client_take(struct net_client *cl, struct net_call *c)
{
    if (net_xfer_setup(c) != NET_OK) {
        client_finish(cl, c, NET_ERROR);
        return;
    }
    client_start_attempt(cl, c->priv);
}

/* Inserts x into the waiting list, kept by due time (ties in arrival order). */
static void client_wait(struct net_client *cl, struct net_xfer *x)
{
    struct net_xfer **p = &cl->waiting;
    while (*p != NULL && (*p)->due_ns <= x->due_ns)
        p = &(*p)->wnext;
    x->wnext = *p;
    *p = x;
}

/* A transfer ended: retry it later, or complete its call. */
static void client_on_done(struct net_client *cl, CURL *easy, CURLcode rc)
{
    struct net_call *c = NULL;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&c);
    struct net_xfer *x = c->priv;
    client_unlink_running(x);
    curl_multi_remove_handle(cl->multi, easy);
    enum net_err err = net_xfer_result(x, rc);
    int64_t wait = net_xfer_retry_delay_ms(x, err, time_now_ms());
    if (wait < 0) {
        client_finish(cl, c, err);
        return;
    }
    net_stats_note_retry();
    x->due_ns = time_mono_ns() + wait * 1000000;
    client_wait(cl, x);
}

/* Completes everything the thread holds, and the list just taken, with NET_SHUTDOWN. */
static void client_cancel_all(struct net_client *cl, struct net_call *list)
{
    while (list != NULL) {
        struct net_call *c = list;
        list = c->next;
        c->next = NULL;
        client_finish(cl, c, NET_SHUTDOWN);
    }
    while (cl->running.next != &cl->running) {
        struct net_xfer *x = cl->running.next;
        client_unlink_running(x);
        curl_multi_remove_handle(cl->multi, x->easy);
        client_finish(cl, x->call, NET_SHUTDOWN);
    }
    while (cl->waiting != NULL) {
        struct net_xfer *x = cl->waiting;
        cl->waiting = x->wnext;
        client_finish(cl, x->call, NET_SHUTDOWN);
    }
}

static void *client_main(void *arg)
{
    struct net_client *cl = arg;
    for (;;) {
        pthread_mutex_lock(&cl->mu);
        struct net_call *list = cl->head;
        cl->head = cl->tail = NULL;
        cl->wake_sent = 0;
        int stopping = cl->stopping;
        pthread_mutex_unlock(&cl->mu);
        if (stopping) {
            client_cancel_all(cl, list);
            break;
        }
        while (list != NULL) {
            struct net_call *c = list;
            list = c->next;
            c->next = NULL;
            client_take(cl, c);
        }
        int64_t now = time_mono_ns();
        while (cl->waiting != NULL && cl->waiting->due_ns <= now) {
            struct net_xfer *x = cl->waiting;
            cl->waiting = x->wnext;
            x->wnext = NULL;
            client_start_attempt(cl, x);
        }

        int still = 0, left = 0;
        curl_multi_perform(cl->multi, &still);
        CURLMsg *m;
        while ((m = curl_multi_info_read(cl->multi, &left)) != NULL) {
            if (m->msg != CURLMSG_DONE)
                continue;
            /* m does not survive curl_multi_remove_handle: copy what we need first. */
            CURL *easy = m->easy_handle;
            CURLcode rc = m->data.result;
            client_on_done(cl, easy, rc);
        }

        int timeout = NET_POLL_MAX_MS;
        if (cl->waiting != NULL) {
            int64_t until = cl->waiting->due_ns - time_mono_ns();
            int64_t ms = until <= 0 ? 0 : (until + 999999) / 1000000;
            if (ms < timeout)
                timeout = (int)ms;
        }
        curl_multi_poll(cl->multi, NULL, 0, timeout, NULL);
    }
    return NULL;
}

struct net_client *net_client_start(size_t max_inflight, char **err)
{
    struct net_client *cl = xcalloc(1, sizeof *cl);
    *err = NULL;
    /* libsodium's random numbers for the backoff jitter (sodium_init is idempotent). */
    if (sodium_init() < 0) {
        *err = xstrdup("net client: sodium_init failed");
        free(cl);
        return NULL;
    }
    cl->multi = curl_multi_init();
    if (cl->multi == NULL) {
        *err = xstrdup("net client: curl_multi_init failed (was net_global_init called?)");
        free(cl);
        return NULL;
    }
    cl->max_inflight = max_inflight > 0 ? max_inflight : 1;
    cl->running.next = cl->running.prev = &cl->running;
    pthread_mutex_init(&cl->mu, NULL);
    int rc = pthread_create(&cl->tid, NULL, client_main, cl);
    if (rc != 0) {
        *err = xasprintf("net client: pthread_create: %s", strerror(rc));
        pthread_mutex_destroy(&cl->mu);
        curl_multi_cleanup(cl->multi);
        free(cl);
        return NULL;
    }
    return cl;
}

int net_client_submit(struct net_client *cl, struct net_call *c)
{
    int need_wake;
    c->next = NULL;
    pthread_mutex_lock(&cl->mu);
    if (cl->stopping || atomic_load_explicit(&cl->count, memory_order_relaxed) >= cl->max_inflight) {
        pthread_mutex_unlock(&cl->mu);
        return -1;
    }
    if (cl->tail)
        cl->tail->next = c;
    else
        cl->head = c;
    cl->tail = c;
    atomic_fetch_add_explicit(&cl->count, 1, memory_order_relaxed);
    need_wake = !cl->wake_sent;
    cl->wake_sent = 1;
    if (need_wake)
        atomic_fetch_add(&cl->wakers, 1); /* under mu: stop sees it before it frees the multi */
    pthread_mutex_unlock(&cl->mu);
    if (need_wake) {
        curl_multi_wakeup(cl->multi);
        atomic_fetch_sub(&cl->wakers, 1);
    }
    return 0;
}

void net_client_stop(struct net_client *cl)
{
    if (cl == NULL)
        return;
    pthread_mutex_lock(&cl->mu);
    cl->stopping = 1;
    pthread_mutex_unlock(&cl->mu);
    curl_multi_wakeup(cl->multi);
    pthread_join(cl->tid, NULL);
    /* A submitter that enqueued before `stopping` may still be inside curl_multi_wakeup. */
    while (atomic_load(&cl->wakers) != 0)
        sched_yield();
    curl_multi_cleanup(cl->multi);
    pthread_mutex_destroy(&cl->mu);
    free(cl);
}
