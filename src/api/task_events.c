/*
 * task_events.c - GET /api/v1/tasks/{id}/events: a task's progress as Server-Sent Events.
 *
 *   retry: 3000
 *
 *   id: <updated_at>
 *   event: task
 *   data: {...the same object as GET /api/v1/tasks/{id}...}
 *
 * The current state goes at once, then one event each time the status or the progress
 * changes; the stream ends after a terminal status. Event ids are the task's updated_at
 * (ms), so a client reconnecting with Last-Event-ID is not sent the state it already has,
 * and one that already saw the terminal state is answered 204 (which tells an EventSource
 * to stop reconnecting). A comment (": ping") goes out every 15 s of silence so that no
 * proxy in between takes the stream for idle.
 *
 * Watching costs little with a thousand streams open: no thread and no timer per stream.
 * Each loop thread keeps the list of its own streams and one timer (every TEV_TICK_MS)
 * that reads the version (status, progress, updated_at) of all their tasks in one store
 * statement (store_task_versions), and reads a whole task only when it changed. A loop
 * with no stream has no timer at all.
 */
#include "api/api.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "domain/tasks.h"

/* How often a loop looks at its streams' tasks: the dispatcher itself moves a task at most
 * about once a second (its poll gaps start there), so looking more often finds nothing. */
#define TEV_TICK_MS 1000
/* Silence after which a comment is sent: under the 30-60 s idle timeouts of common proxies
 * and load balancers (nginx proxy_read_timeout 60 s, AWS ALB 60 s). */
#define TEV_HEARTBEAT_MS 15000
/* What the client waits before reconnecting (the SSE `retry` field). */
#define TEV_RETRY_MS 3000
/* Open streams per user: a page per task the user watches, a few tabs; more is a leak or
 * abuse, answered 429. */
#define TEV_PER_USER_MAX 10

/* ---- process-wide counts (the caps) ---- */

static _Atomic int tev_total;

struct tev_user {
    struct tev_user *next;
    int n;
    char user_id[TG_ID_MAX];
};
#define TEV_USER_BUCKETS 256
static pthread_mutex_t tev_users_mu = PTHREAD_MUTEX_INITIALIZER;
static struct tev_user *tev_users[TEV_USER_BUCKETS];

static size_t tev_user_bucket(const char *user_id)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (const char *p = user_id; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    return h % TEV_USER_BUCKETS;
}

/* Takes one stream slot of user_id: 0, or -1 when the user has TEV_PER_USER_MAX open. The
 * lock is held for a short list walk. */
static int tev_user_take(const char *user_id)
{
    size_t b = tev_user_bucket(user_id);
    int ret = 0;
    pthread_mutex_lock(&tev_users_mu);
    struct tev_user *u = tev_users[b];
    while (u != NULL && strcmp(u->user_id, user_id) != 0)
        u = u->next;
    if (u == NULL) {
        u = xcalloc(1, sizeof *u);
        snprintf(u->user_id, sizeof u->user_id, "%s", user_id);
        u->next = tev_users[b];
        tev_users[b] = u;
    }
    if (u->n >= TEV_PER_USER_MAX)
        ret = -1;
    else
        u->n++;
    if (u->n == 0) { /* just created and refused: TEV_PER_USER_MAX is never 0 */
        tev_users[b] = u->next;
        free(u);
    }
    pthread_mutex_unlock(&tev_users_mu);
    return ret;
}

static void tev_user_release(const char *user_id)
{
    size_t b = tev_user_bucket(user_id);
    pthread_mutex_lock(&tev_users_mu);
    for (struct tev_user **pp = &tev_users[b]; *pp != NULL; pp = &(*pp)->next) {
        struct tev_user *u = *pp;
        if (strcmp(u->user_id, user_id) != 0)
            continue;
        if (--u->n <= 0) {
            *pp = u->next;
            free(u);
        }
        break;
    }
    pthread_mutex_unlock(&tev_users_mu);
}

/* ---- the streams of one loop ---- */

struct tev_loop;

struct tev_stream {
    struct tev_stream *prev, *next; /* in loop->streams */
    struct tev_loop *loop;
    struct http_stream *st;
    char task_id[TG_ID_MAX];
    char user_id[TG_ID_MAX];
    char status[TG_TASK_STATUS_MAX]; /* what the client was last sent */
    int progress;
    int64_t last_write_ms;
};

struct tev_loop {
    struct tev_stream *streams;
    size_t n;
    struct http_timer *timer;
    struct store_exec *exec; /* the loop's executor (borrowed for the server's life) */
    int looking;             /* a look is in the store, or the streams are being walked:
                              * the loop state is not freed meanwhile */
};

/* One per loop thread: the streams of this loop, never touched by another thread. */
static _Thread_local struct tev_loop *tev_loop;

static void tev_loop_release_if_idle(struct tev_loop *l)
{
    if (l->n > 0 || l->looking)
        return;
    http_timer_stop(l->timer);
    if (tev_loop == l)
        tev_loop = NULL;
    free(l);
}

/* on_close of the stream: the client went away, the stream ended, or the server stops. */
static void tev_on_close(void *arg)
{
    struct tev_stream *ts = arg;
    struct tev_loop *l = ts->loop;
    if (ts->prev)
        ts->prev->next = ts->next;
    else
        l->streams = ts->next;
    if (ts->next)
        ts->next->prev = ts->prev;
    l->n--;
    tev_user_release(ts->user_id);
    atomic_fetch_sub(&tev_total, 1);
    free(ts);
    tev_loop_release_if_idle(l);
}

/* Writes len bytes to ts's stream. 0, or -1 when the stream is gone (ts freed). */
static int tev_write(struct tev_stream *ts, const char *s, size_t len, int64_t now_ms)
{
    ts->last_write_ms = now_ms;
    return http_stream_write(ts->st, s, len);
}

/*
 * Sends t to ts as an event and remembers what was sent; ends the stream after a terminal
 * status. 0, or -1 when the stream is gone.
 */
static int tev_send_task(struct tev_stream *ts, const struct task *t, int64_t now_ms)
{
    snprintf(ts->status, sizeof ts->status, "%s", t->status);
    ts->progress = t->progress;
    json_t *j = api_task_json(t, now_ms);
    char *data = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (data == NULL) {
        log_event(LOG_ERROR, "task_event_encode_failed", "task_id", t->id, NULL);
        http_stream_end(ts->st);
        return -1;
    }
    /* Compact JSON has no newline, so one data line carries it (an SSE data field ends at
     * the first line break). */
    char head[96];
    int hl = snprintf(head, sizeof head, "id: %" PRId64 "\nevent: task\ndata: ", t->updated_at);
    size_t dl = strlen(data);
    char *ev = xmalloc((size_t)hl + dl + 3);
    memcpy(ev, head, (size_t)hl);
    memcpy(ev + hl, data, dl);
    memcpy(ev + hl + dl, "\n\n", 3);
    free(data);
    int rc = tev_write(ts, ev, (size_t)hl + dl + 2, now_ms);
    free(ev);
    if (rc != 0)
        return -1;
    if (!task_status_live(t->status)) {
        http_stream_end(ts->st);
        return -1;
    }
    return 0;
}

/* ---- the loop's look at its tasks ---- */

struct tev_look {
    struct store_call call; /* first */
    struct tev_loop *loop;
    size_t n;                 /* ids asked about */
    char (*ids)[TG_ID_MAX];   /* distinct task ids */
    char (*users)[TG_ID_MAX]; /* the owner a stream of that task was opened by */
    char (*status)[TG_TASK_STATUS_MAX]; /* what a stream of that task was last sent */
    int *progress;
    const char **idp;         /* ids as pointers, for the store */
    struct task_version *v;   /* the versions read (nv) */
    size_t nv;
    struct task *changed;     /* whole tasks read because they changed (nchanged) */
    size_t nchanged;
    int64_t now_ms;
};

static void tev_look_free(struct tev_look *k)
{
    for (size_t i = 0; i < k->nchanged; i++)
        task_clear(&k->changed[i]);
    free(k->changed);
    free(k->ids);
    free(k->users);
    free(k->status);
    free(k->progress);
    free(k->idp);
    free(k->v);
    free(k);
}

static int tev_cmp_id(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

static int tev_cmp_version(const void *a, const void *b)
{
    return strcmp(((const struct task_version *)a)->id, ((const struct task_version *)b)->id);
}

static enum store_rc tev_look_run(struct store *s, struct store_call *c)
{
    struct tev_look *k = (struct tev_look *)c;
    /* outputs rewritten on every run */
    for (size_t i = 0; i < k->nchanged; i++)
        task_clear(&k->changed[i]);
    k->nchanged = 0;
    k->nv = 0;
    for (size_t off = 0; off < k->n; off += STORE_TASK_VERSIONS_MAX) {
        size_t m = k->n - off < STORE_TASK_VERSIONS_MAX ? k->n - off : STORE_TASK_VERSIONS_MAX, got = 0;
        enum store_rc rc = store_task_versions(s, k->idp + off, m, k->v + k->nv, &got);
        if (rc != STORE_OK)
            return rc;
        k->nv += got;
    }
    qsort(k->v, k->nv, sizeof *k->v, tev_cmp_version);
    /* k->ids is sorted too: walk both */
    size_t j = 0;
    for (size_t i = 0; i < k->nv; i++) {
        while (j < k->n && strcmp(k->ids[j], k->v[i].id) < 0)
            j++;
        if (j == k->n || strcmp(k->ids[j], k->v[i].id) != 0)
            continue;
        if (strcmp(k->status[j], k->v[i].status) == 0 && k->progress[j] == k->v[i].progress)
            continue;
        struct task *t = &k->changed[k->nchanged];
        enum store_rc rc = store_task_get(s, k->ids[j], k->users[j], t);
        if (rc == STORE_NOTFOUND)
            continue;
        if (rc != STORE_OK)
            return rc;
        k->nchanged++;
    }
    return STORE_OK;
}

static void tev_look_done(struct store_call *c)
{
    struct tev_look *k = (struct tev_look *)c;
    struct tev_loop *l = k->loop;
    /* l->looking stays up while events go out: a send that closes the last stream must
     * not free l under this loop. */
    if (c->rc == STORE_OK) {
        for (size_t i = 0; i < k->nchanged; i++) {
            const struct task *t = &k->changed[i];
            struct tev_stream *ts = l->streams, *next;
            for (; ts != NULL; ts = next) {
                next = ts->next; /* ts may be freed by the send */
                if (strcmp(ts->task_id, t->id) != 0 ||
                    (strcmp(ts->status, t->status) == 0 && ts->progress == t->progress))
                    continue;
                /* A stream whose send ended another may have made next stale: restart. */
                size_t before = l->n;
                int gone = tev_send_task(ts, t, k->now_ms) != 0;
                if (gone && l->n + 1 != before)
                    next = l->streams;
            }
        }
    } else if (c->rc != STORE_BUSY) {
        log_event(LOG_WARN, "task_events_look_failed", "rc", store_rc_name(c->rc), NULL);
    }
    tev_look_free(k);
    l->looking--;
    tev_loop_release_if_idle(l);
}

static void tev_look_start(struct tev_loop *l, int64_t now_ms)
{
    struct tev_look *k = xcalloc(1, sizeof *k);
    k->loop = l;
    k->now_ms = now_ms;
    k->ids = xcalloc(l->n, sizeof *k->ids);
    size_t n = 0;
    for (struct tev_stream *ts = l->streams; ts != NULL; ts = ts->next)
        memcpy(k->ids[n++], ts->task_id, TG_ID_MAX);
    qsort(k->ids, n, sizeof *k->ids, tev_cmp_id);
    size_t d = 0; /* distinct */
    for (size_t i = 0; i < n; i++)
        if (d == 0 || strcmp(k->ids[d - 1], k->ids[i]) != 0)
            memmove(k->ids[d++], k->ids[i], TG_ID_MAX);
    k->n = d;
    k->users = xcalloc(d, sizeof *k->users);
    k->status = xcalloc(d, sizeof *k->status);
    k->progress = xcalloc(d, sizeof *k->progress);
    k->idp = xcalloc(d, sizeof *k->idp);
    k->v = xcalloc(d, sizeof *k->v);
    k->changed = xcalloc(d, sizeof *k->changed);
    for (size_t i = 0; i < d; i++)
        k->idp[i] = k->ids[i];
    for (struct tev_stream *ts = l->streams; ts != NULL; ts = ts->next) {
        char(*p)[TG_ID_MAX] = bsearch(ts->task_id, k->ids, d, sizeof *k->ids, tev_cmp_id);
        size_t i = (size_t)(p - k->ids);
        /* Streams of one task may have been sent different states (one opened later): the
         * first one's decides whether the task is read; each is then compared on its own. */
        if (k->users[i][0] == '\0') {
            memcpy(k->users[i], ts->user_id, TG_ID_MAX);
            memcpy(k->status[i], ts->status, TG_TASK_STATUS_MAX);
            k->progress[i] = ts->progress;
        } else if (strcmp(k->status[i], ts->status) != 0 || k->progress[i] != ts->progress) {
            k->status[i][0] = '\0'; /* differs from any stored status: read it */
        }
    }
    l->looking++;
    store_exec_call(l->exec, &k->call, STORE_CALL_READ, tev_look_run, tev_look_done);
}

static void tev_on_tick(void *arg)
{
    struct tev_loop *l = arg;
    int64_t now = time_now_ms();
    l->looking++; /* keeps l while heartbeats may close its last stream */
    struct tev_stream *ts = l->streams, *next;
    for (; ts != NULL; ts = next) {
        next = ts->next;
        if (now - ts->last_write_ms < TEV_HEARTBEAT_MS)
            continue;
        size_t before = l->n;
        if (tev_write(ts, ": ping\n\n", 8, now) != 0 && l->n + 1 != before)
            next = l->streams;
    }
    l->looking--;
    if (l->n > 0 && !l->looking)
        tev_look_start(l, now);
    else
        tev_loop_release_if_idle(l);
}

/* ---- GET /api/v1/tasks/{id}/events ---- */

struct tev_open {
    struct api_call base;
    char id[TG_ID_MAX];
    char user_id[TG_ID_MAX];
    struct task t;
};

static enum store_rc tev_open_run(struct store *s, struct store_call *c)
{
    struct tev_open *o = (struct tev_open *)c;
    task_clear(&o->t);
    return store_task_get(s, o->id, o->user_id, &o->t);
}

static void tev_open_cleanup(struct api_call *c)
{
    task_clear(&((struct tev_open *)c)->t);
}

/* Last-Event-ID as an event id of ours (an updated_at), or -1 when absent or not one. */
static int64_t tev_last_event_id(struct req *r)
{
    const char *v = req_header(r, "last-event-id");
    if (v == NULL || v[0] == '\0' || strlen(v) > 19)
        return -1;
    int64_t x = 0;
    for (const char *p = v; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        x = x * 10 + (*p - '0');
    }
    return x;
}

static void tev_open_reply(struct req *r, struct api_call *c)
{
    struct tev_open *o = (struct tev_open *)c;
    if (o->base.call.rc != STORE_OK) {
        api_reply_store(r, o->base.call.rc, "task_get");
        return;
    }
    const struct task *t = &o->t;
    int64_t last = tev_last_event_id(r);
    int live = task_status_live(t->status);
    if (!live && last >= t->updated_at) {
        res_empty(r, 204); /* the client has seen the end: an EventSource stops here */
        return;
    }
    int max = tg_cfg->max_event_streams;
    if (atomic_fetch_add(&tev_total, 1) >= max) {
        atomic_fetch_sub(&tev_total, 1);
        res_header(r, "Retry-After", "30");
        res_error(r, TG_E_UNAVAILABLE, NULL, NULL);
        return;
    }
    if (tev_user_take(o->user_id) != 0) {
        atomic_fetch_sub(&tev_total, 1);
        res_header(r, "Retry-After", "30");
        res_error(r, TG_E_RATE_LIMITED, "You have too many event streams open; close one first.", NULL);
        return;
    }
    struct tev_loop *l = tev_loop;
    if (l == NULL) {
        l = tev_loop = xcalloc(1, sizeof *l);
        l->exec = req_exec(r);
    }
    struct tev_stream *ts = xcalloc(1, sizeof *ts);
    ts->loop = l;
    memcpy(ts->task_id, t->id, TG_ID_MAX);
    memcpy(ts->user_id, o->user_id, TG_ID_MAX);
    ts->next = l->streams;
    if (l->streams)
        l->streams->prev = ts;
    l->streams = ts;
    l->n++;
    ts->st = res_stream_start(r, "text/event-stream", tev_on_close, ts);
    if (ts->st == NULL) {
        tev_on_close(ts); /* answered already (HEAD, shutting down) */
        return;
    }
    if (l->timer == NULL)
        l->timer = http_timer_start(r, TEV_TICK_MS, tev_on_tick, l);
    int64_t now = time_now_ms();
    char retry[32];
    int n = snprintf(retry, sizeof retry, "retry: %d\n\n", TEV_RETRY_MS);
    if (tev_write(ts, retry, (size_t)n, now) != 0)
        return;
    if (live && last == t->updated_at) {
        /* The client has this state: remember it as sent, and wait for the next. */
        snprintf(ts->status, sizeof ts->status, "%s", t->status);
        ts->progress = t->progress;
        return;
    }
    (void)tev_send_task(ts, t, now);
}

void api_task_events(struct req *r)
{
    const char *id = api_id_param_or_reply(r, "tsk");
    if (id == NULL)
        return;
    struct tev_open *o = api_call_new(r, sizeof *o, STORE_CALL_READ);
    snprintf(o->id, sizeof o->id, "%s", id);
    memcpy(o->user_id, req_principal(r)->user_id, sizeof o->user_id);
    api_submit(r, &o->base, tev_open_run, tev_open_reply, tev_open_cleanup);
}
