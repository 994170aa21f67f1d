/*
 * dispatcher.c - claims generation tasks and moves them through their providers
 * (dispatcher.h has the shape; docs/GENERATION.md the operator's view).
 *
 * Everything here runs on the dispatcher's own thread and loop. A task being worked is a
 * `struct job`: the task as claimed, the outbound call of its current step, and the store
 * call that records the step's outcome. At most DISP_MAX_ACTIVE jobs exist at once, so
 * memory stays flat however many tasks wait at the providers (they wait in the store, not
 * here), and a task claimed twice in one process (its lease ran out during a slow call) is
 * skipped while its first job is alive.
 */
#include "worker/dispatcher.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <h2o.h>
#include <jansson.h>
#include <sodium.h>

#include "core/config.h"
#include "core/ids.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "domain/keypool.h"
#include "domain/tasks.h"
#include "net/net.h"
#include "providers/gen/gen.h"
#include "providers/storage/storage.h"
#include "store/call.h"
#include "store/store.h"

/* How often due tasks are claimed: a sandbox image finishes in seconds, and a fifth of a
 * second is a delay nobody sees, for a cheap indexed query when nothing is due. */
#define DISP_TICK_MS 200
/* Jobs at once: enough to keep thousands of tasks polled at the providers' pace (a poll
 * every 5-30 s each), few enough that memory does not depend on the backlog. */
#define DISP_MAX_ACTIVE 256
/* A claimed task is claimed again after this unless its step wrote it back first: longer
 * than any one step normally takes, short enough that a task whose process died moves on
 * within a minute. */
#define DISP_LEASE_MS 30000
/* Submissions of one task (each may go to another key) before it is failed and refunded. */
#define DISP_SUBMIT_MAX_ATTEMPTS 6
/* Output downloads of one task before it is failed and refunded. */
#define DISP_COLLECT_MAX_ATTEMPTS 6
/* How often the key list is read again (admin changes apply within this), and counters
 * written back. */
#define DISP_KEYS_RELOAD_MS 5000
#define DISP_STATS_FLUSH_MS 10000
/* Signed URLs handed to providers for our files: the provider may fetch the input long
 * after submission (a queue), so a day (DashScope keeps a task 24 h). */
#define DISP_INPUT_URL_TTL_S 86400
/* Largest output copied (DashScope takes videos up to 200 MB; outputs are smaller). */
#define DISP_MAX_OUTPUT_BYTES (512LL * 1024 * 1024)
/* Input images fetched for providers that take bytes (Gemini): the API's per-file limit. */
#define DISP_MAX_IMAGE_BYTES (5 * 1024 * 1024)

struct disp;

enum job_write { JW_UPDATE, JW_SUCCEED, JW_FAIL };

struct job {
    struct disp *d;
    struct task t;
    const struct gen_provider *p;
    struct net_call call;
    struct store_call sc;
    struct gen_result res;
    char secret[TG_KEY_SECRET_MAX + 1];
    /* inputs fetched as bytes (Gemini) */
    unsigned char *img[GEN_MAX_IMAGES];
    size_t img_len[GEN_MAX_IMAGES];
    char img_mime[GEN_MAX_IMAGES][TG_CONTENT_TYPE_MAX];
    size_t n_img, img_i;
    /* collect */
    json_t *outs;      /* the provider's outputs: [{"url"} or bytes in res] */
    json_t *stored;    /* our files: [{"file_id","key","backend","content_type","size"}] */
    size_t out_i;
    char tmp[512];
    char key[TG_FILE_KEY_MAX];
    const struct storage_backend *backend;
    /* the write that ends this step */
    enum job_write wkind;
    char expect[TG_TASK_STATUS_MAX];
    char fstatus[TG_TASK_STATUS_MAX];
    char fcode[TG_TASK_ERROR_CODE_MAX];
    char fmsg[TG_TASK_ERROR_MAX];
    int64_t units;
    char *files_json; /* JW_SUCCEED: outputs_json */
    struct job *next_active;
};

struct disp {
    pthread_t tid;
    struct store_writer *writer;
    struct net_client *client;
    h2o_evloop_t *loop;
    h2o_multithread_queue_t *queue;
    h2o_multithread_receiver_t store_rcv, net_rcv, ctl_rcv;
    h2o_multithread_message_t store_msg, net_msg, ctl_msg;
    h2o_timeout_t tick;
    h2o_timeout_entry_t tick_entry;
    struct store *conn;
    struct store_exec sx;
    struct net_exec nx;
    struct keypool *kp;
    struct job *active_head;
    size_t active;
    int claiming;
    int stopping;
    int stopped;
    int clean; /* stopped with nothing in flight: everything was released */
    int64_t keys_loaded_at, stats_flushed_at;
    struct store_call claim_call;
    struct task *claimed;
    size_t n_claimed;
    int64_t claim_now;
    pthread_mutex_t ready_mu;
    pthread_cond_t ready_cv;
    int ready; /* 1 started, -1 failed */
    char *start_err;
};

static struct disp *disp_global;

/* Counters for /metrics (any thread reads them). */
static _Atomic uint64_t m_claimed, m_submitted, m_polls, m_finished[4], m_submit_errors, m_collect_errors;
static _Atomic int64_t m_active;
enum { FIN_SUCCEEDED, FIN_FAILED, FIN_TIMED_OUT, FIN_CANCELED };

/* ---- jobs ---- */

static void job_free(struct job *j)
{
    struct disp *d = j->d;
    struct job **pp = &d->active_head;
    while (*pp != NULL && *pp != j)
        pp = &(*pp)->next_active;
    if (*pp == j)
        *pp = j->next_active;
    d->active--;
    atomic_store(&m_active, (int64_t)d->active);
    task_clear(&j->t);
    gen_call_release(&j->call);
    gen_result_clear(&j->res);
    for (size_t i = 0; i < j->n_img; i++)
        free(j->img[i]);
    json_decref(j->outs);
    json_decref(j->stored);
    free(j->files_json);
    if (j->tmp[0])
        unlink(j->tmp);
    sodium_memzero(j->secret, sizeof j->secret);
    free(j);
}

static int disp_is_active(struct disp *d, const char *id)
{
    for (struct job *j = d->active_head; j != NULL; j = j->next_active)
        if (strcmp(j->t.id, id) == 0)
            return 1;
    return 0;
}

/* ---- writing a step's outcome ---- */

static enum store_rc job_write_run(struct store *s, struct store_call *sc)
{
    struct job *j = H2O_STRUCT_FROM_MEMBER(struct job, sc, sc);
    int64_t now = time_now_ms();
    if (j->wkind == JW_UPDATE)
        return store_task_update(s, &j->t, j->expect);
    /* The domain updates the task it is given; run() may run again (a batch retried), so it
     * works on a copy each time and the heap fields stay with the job. */
    struct task tmp = j->t;
    tmp.inputs_json = NULL;
    tmp.outputs_json = NULL;
    enum store_rc rc;
    if (j->wkind == JW_FAIL) {
        rc = tasks_fail_tx(s, &tmp, j->fstatus, j->fcode, j->fmsg, now);
    } else {
        rc = STORE_OK;
        size_t i;
        json_t *o;
        json_array_foreach(j->stored, i, o)
        {
            struct stored_file f = {0};
            snprintf(f.id, sizeof f.id, "%s", json_string_value(json_object_get(o, "file_id")));
            snprintf(f.user_id, sizeof f.user_id, "%s", j->t.user_id);
            snprintf(f.purpose, sizeof f.purpose, "output");
            snprintf(f.task_id, sizeof f.task_id, "%s", j->t.id);
            snprintf(f.backend, sizeof f.backend, "%s", json_string_value(json_object_get(o, "backend")));
            snprintf(f.key, sizeof f.key, "%s", json_string_value(json_object_get(o, "key")));
            snprintf(f.content_type, sizeof f.content_type, "%s",
                     json_string_value(json_object_get(o, "content_type")));
            f.size = (int64_t)json_integer_value(json_object_get(o, "size"));
            snprintf(f.status, sizeof f.status, "ready");
            f.created_at = f.updated_at = now;
            if ((rc = store_file_insert(s, &f)) != STORE_OK)
                break;
        }
        if (rc == STORE_OK)
            rc = tasks_succeed_tx(s, &tmp, j->units, j->files_json, now);
    }
    j->t.status[0] = '\0';
    snprintf(j->t.status, sizeof j->t.status, "%s", tmp.status);
    j->t.refunded = tmp.refunded;
    j->t.settled = tmp.settled;
    task_clear(&tmp);
    return rc;
}

static void job_write_done(struct store_call *sc)
{
    struct job *j = H2O_STRUCT_FROM_MEMBER(struct job, sc, sc);
    if (sc->rc == STORE_OK && j->wkind != JW_UPDATE) {
        int k = strcmp(j->t.status, "succeeded") == 0   ? FIN_SUCCEEDED
                : strcmp(j->t.status, "timed_out") == 0 ? FIN_TIMED_OUT
                : strcmp(j->t.status, "canceled") == 0  ? FIN_CANCELED
                                                        : FIN_FAILED;
        atomic_fetch_add(&m_finished[k], 1);
        char settled[24], refunded[24];
        snprintf(settled, sizeof settled, "%lld", (long long)j->t.settled);
        snprintf(refunded, sizeof refunded, "%lld", (long long)j->t.refunded);
        log_event(k == FIN_SUCCEEDED ? LOG_INFO : LOG_WARN, "task_finished", "task", j->t.id, "status", j->t.status,
                  "provider", j->t.provider, "settled", settled, "refunded", refunded, "error",
                  j->wkind == JW_FAIL ? j->fcode : "", NULL);
    } else if (sc->rc == STORE_CONFLICT) {
        /* Canceled, timed out or moved on by someone else meanwhile: their outcome stands. */
        log_event(LOG_INFO, "task_step_superseded", "task", j->t.id, NULL);
    } else if (sc->rc != STORE_OK) {
        /* Not recorded: the lease brings the task back and the step is done again. */
        log_event(LOG_WARN, "task_step_not_recorded", "task", j->t.id, "error", store_rc_name(sc->rc), NULL);
    }
    job_free(j);
}

static void job_write(struct job *j, enum job_write kind)
{
    j->wkind = kind;
    j->t.updated_at = time_now_ms();
    store_exec_call(&j->d->sx, &j->sc, STORE_CALL_WRITE, job_write_run, job_write_done);
}

/* Records the next look at the task while it stays live (status expect). */
static void job_reschedule(struct job *j, const char *expect, int64_t next_at)
{
    snprintf(j->expect, sizeof j->expect, "%s", expect);
    j->t.next_at = next_at;
    job_write(j, JW_UPDATE);
}

static void job_fail(struct job *j, const char *status, const char *code, const char *msg)
{
    snprintf(j->fstatus, sizeof j->fstatus, "%s", status);
    snprintf(j->fcode, sizeof j->fcode, "%s", code);
    snprintf(j->fmsg, sizeof j->fmsg, "%s", msg ? msg : "");
    job_write(j, JW_FAIL);
}

/* ---- keys ---- */

static void disp_persist_disable(struct disp *d, const char *key_id, const char *reason);

/* Reports a provider call's outcome to the key's health. */
static void job_key_report(struct job *j, enum gen_outcome o)
{
    if (!j->t.key_id[0])
        return;
    enum keypool_outcome ko = keypool_outcome_of(o);
    int persist = 0;
    keypool_report(j->d->kp, j->t.key_id, ko, j->res.retry_after_ms, j->res.error_message, time_now_ms(), &persist);
    if (persist)
        disp_persist_disable(j->d, j->t.key_id, j->res.error_message[0] ? j->res.error_message : "rejected");
}

/* ---- inputs ---- */

/* The URL a provider fetches for input ref ({"file_id"} or {"url"}), into out. */
static int job_input_url(struct job *j, json_t *ref, char *out, size_t cap)
{
    const char *url = json_string_value(json_object_get(ref, "url"));
    if (url != NULL) {
        snprintf(out, cap, "%s", url);
        return 0;
    }
    const char *fid = json_string_value(json_object_get(ref, "file_id"));
    struct stored_file f;
    if (fid == NULL || store_file_get(j->d->conn, fid, j->t.user_id, &f) != STORE_OK)
        return -1;
    const struct storage_backend *b = storage_find(f.backend);
    char *u = b ? storage_presign_get(b, f.key, time_now_ms(), DISP_INPUT_URL_TTL_S) : NULL;
    if (u == NULL || strlen(u) >= cap) {
        free(u);
        return -1;
    }
    memcpy(out, u, strlen(u) + 1);
    free(u);
    return 0;
}

static void job_submit_send(struct job *j);
static void job_start(struct job *j);

/* Gemini takes input images as bytes: each is read from local storage or downloaded (its
 * signed URL, or the user's URL) before the submission is built. */
static void job_image_fetched(struct net_call *c)
{
    struct job *j = H2O_STRUCT_FROM_MEMBER(struct job, call, c);
    size_t i = j->img_i;
    if (c->err != NET_OK || c->status != 200 || c->resp_len == 0) {
        gen_call_release(c);
        if (j->d->stopping) {
            job_free(j);
            return;
        }
        job_fail(j, "failed", "input_unavailable", "An input image could not be downloaded.");
        return;
    }
    j->img[i] = (unsigned char *)c->resp_body;
    j->img_len[i] = c->resp_len;
    const char *ct = net_resp_header(c, "content-type");
    snprintf(j->img_mime[i], sizeof j->img_mime[i], "%s", ct ? ct : "image/png");
    char *semi = strchr(j->img_mime[i], ';');
    if (semi)
        *semi = '\0';
    c->resp_body = NULL;
    c->resp_len = 0;
    gen_call_release(c);
    j->img_i++;
    job_submit_send(j);
}

/* Reads a local file of at most max bytes (input images: a few MiB from the page cache, on
 * this thread, which serves no client). 0, or -1. */
static int read_small_file(const char *path, size_t max, unsigned char **out, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size <= 0 || (size_t)st.st_size > max) {
        close(fd);
        return -1;
    }
    unsigned char *buf = xmalloc((size_t)st.st_size);
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
        if (n <= 0) {
            if (n < 0 && errno == EINTR)
                continue;
            close(fd);
            free(buf);
            return -1;
        }
        got += (size_t)n;
    }
    close(fd);
    *out = buf;
    *len = got;
    return 0;
}

/* Fetches the next input image that must go as bytes; 1 when a download was started (the
 * submission continues in job_image_fetched), 0 when every image is here, -1 on failure
 * (the job was failed). */
static int job_fetch_next_image(struct job *j, json_t *images)
{
    while (j->img_i < json_array_size(images) && j->img_i < GEN_MAX_IMAGES) {
        json_t *ref = json_array_get(images, j->img_i);
        size_t i = j->img_i;
        if (j->img[i] != NULL) {
            j->img_i++;
            continue;
        }
        j->n_img = i + 1 > j->n_img ? i + 1 : j->n_img;
        const char *fid = json_string_value(json_object_get(ref, "file_id"));
        struct stored_file f;
        if (fid != NULL && store_file_get(j->d->conn, fid, j->t.user_id, &f) == STORE_OK &&
            strcmp(f.backend, "local") == 0) {
            char path[1024];
            if (storage_local_path(f.key, path, sizeof path) != 0 ||
                read_small_file(path, DISP_MAX_IMAGE_BYTES, &j->img[i], &j->img_len[i]) != 0) {
                job_fail(j, "failed", "input_unavailable", "An input image could not be read.");
                return -1;
            }
            snprintf(j->img_mime[i], sizeof j->img_mime[i], "%s", f.content_type);
            j->img_i++;
            continue;
        }
        char url[GEN_URL_MAX];
        if (job_input_url(j, ref, url, sizeof url) != 0) {
            job_fail(j, "failed", "input_unavailable", "An input file no longer exists.");
            return -1;
        }
        net_call_init(&j->call, "gen_input", "GET", url);
        j->call.max_response = DISP_MAX_IMAGE_BYTES;
        j->call.timeout_ms = 30000;
        net_exec_submit(&j->d->nx, &j->call, job_image_fetched);
        return 1;
    }
    return 0;
}

static void job_submitted(struct net_call *c);
static void job_handle_submit(struct job *j);

/* Builds and sends the submission (the key is picked, images are here). */
static void job_submit_send(struct job *j)
{
    json_t *in = json_loads(j->t.inputs_json ? j->t.inputs_json : "{}", 0, NULL);
    if (in == NULL) {
        job_fail(j, "failed", "invalid_task", "The task's inputs cannot be read.");
        return;
    }
    json_t *images = json_object_get(in, "images");
    if (j->p->needs_image_bytes && images != NULL) {
        int f = job_fetch_next_image(j, images);
        if (f != 0) {
            json_decref(in);
            return;
        }
    }
    struct gen_input gi = {0};
    char image_url[GEN_URL_MAX] = "", video_url[GEN_URL_MAX] = "";
    char frame_urls[GEN_MAX_IMAGES][GEN_URL_MAX];
    char callback[600];
    enum task_kind_id kind;
    task_kind_parse(j->t.kind, &kind);
    gi.kind = kind;
    gi.task_id = j->t.id;
    gi.model = j->t.model;
    gi.mode = json_string_value(json_object_get(in, "mode"));
    gi.prompt = json_string_value(json_object_get(in, "prompt"));
    gi.aspect_ratio = json_string_value(json_object_get(in, "aspect_ratio"));
    gi.sandbox_outcome = json_string_value(json_object_get(in, "sandbox_outcome"));
    int bad = 0;
    if (json_object_get(in, "image") != NULL) {
        bad |= job_input_url(j, json_object_get(in, "image"), image_url, sizeof image_url);
        gi.image_url = image_url;
    }
    if (json_object_get(in, "video") != NULL) {
        bad |= job_input_url(j, json_object_get(in, "video"), video_url, sizeof video_url);
        gi.video_url = video_url;
    }
    if (images != NULL) {
        if (j->p->needs_image_bytes) {
            for (size_t i = 0; i < j->n_img; i++) {
                gi.images[i].data = j->img[i];
                gi.images[i].len = j->img_len[i];
                gi.images[i].mime = j->img_mime[i];
            }
            gi.n_images = j->n_img;
        } else {
            size_t i;
            json_t *ref;
            json_array_foreach(images, i, ref)
            {
                if (i >= GEN_MAX_IMAGES)
                    break;
                bad |= job_input_url(j, ref, frame_urls[i], sizeof frame_urls[i]);
                gi.image_urls[i] = frame_urls[i];
                gi.n_image_urls = i + 1;
            }
        }
    }
    if (bad) {
        json_decref(in);
        job_fail(j, "failed", "input_unavailable", "An input file no longer exists.");
        return;
    }
    snprintf(callback, sizeof callback, "%s/api/v1/callbacks/%s", tg_cfg->public_url, j->p->name);
    gi.callback_url = callback;
    j->t.attempts++;
    atomic_fetch_add(&m_submitted, 1);
    if (j->p->local_submit != NULL) {
        j->p->local_submit(&gi, time_now_ms(), &j->res);
        json_decref(in);
        job_handle_submit(j);
        return;
    }
    int rc = j->p->build_submit(&gi, j->secret, &j->call);
    json_decref(in);
    if (rc != 0) {
        gen_call_release(&j->call);
        job_fail(j, "failed", "invalid_task", "The provider cannot take these inputs.");
        return;
    }
    net_exec_submit(&j->d->nx, &j->call, job_submitted);
}

/* A provider call that ended because the dispatcher is stopping: the job is dropped
 * (released, never recorded), and its lease brings the task back. 1 when so. */
static int job_dropped_by_stop(struct job *j, struct net_call *c)
{
    if (c->err != NET_SHUTDOWN || !j->d->stopping)
        return 0;
    gen_call_release(c);
    job_free(j);
    return 1;
}

static void job_submitted(struct net_call *c)
{
    struct job *j = H2O_STRUCT_FROM_MEMBER(struct job, call, c);
    if (job_dropped_by_stop(j, c))
        return;
    j->p->parse_submit(c, &j->res);
    gen_call_release(c);
    job_handle_submit(j);
}

static void job_collect(struct job *j);

/* Gap before the n-th poll: doubling from poll_first_ms up to poll_max_ms. */
static int64_t job_poll_gap(const struct gen_provider *p, int polls)
{
    int64_t gap = p->poll_first_ms > 0 ? p->poll_first_ms : 1000;
    for (int i = 0; i < polls && gap < p->poll_max_ms; i++)
        gap *= 2;
    if (p->poll_max_ms > 0 && gap > p->poll_max_ms)
        gap = p->poll_max_ms;
    return gap;
}

/* Gap before the n-th submission attempt after a transient failure. */
static int64_t job_retry_gap(int attempts)
{
    int64_t gap = 2000;
    for (int i = 1; i < attempts && gap < 60000; i++)
        gap *= 2;
    return gap > 60000 ? 60000 : gap;
}

static void job_handle_submit(struct job *j)
{
    struct gen_result *r = &j->res;
    int64_t now = time_now_ms();
    job_key_report(j, r->outcome);
    switch (r->outcome) {
    case GEN_ACCEPTED:
        snprintf(j->t.provider_task_id, sizeof j->t.provider_task_id, "%s", r->provider_task_id);
        snprintf(j->t.status, sizeof j->t.status, "submitted");
        snprintf(j->t.phase, sizeof j->t.phase, "poll");
        j->t.submitted_at = now;
        j->t.progress = r->progress > 0 ? r->progress : 0;
        j->t.polls = 0;
        j->t.error_code[0] = j->t.error_message[0] = '\0';
        job_reschedule(j, "queued", now + job_poll_gap(j->p, 0));
        return;
    case GEN_SUCCEEDED:
        /* A synchronous provider: the answer is the result. */
        j->t.submitted_at = now;
        job_collect(j);
        return;
    case GEN_FAILED:
    case GEN_INVALID:
    case GEN_UNKNOWN_TASK:
        job_fail(j, "failed", r->error_code[0] ? r->error_code : "provider_refused",
                 r->error_message[0] ? r->error_message : "The provider refused the task.");
        return;
    case GEN_RUNNING: /* not an answer to a submission: treat as transient */
    case GEN_RETRY:
    case GEN_RATE_LIMITED:
    case GEN_KEY_REJECTED:
        break;
    }
    atomic_fetch_add(&m_submit_errors, 1);
    if (j->t.attempts >= DISP_SUBMIT_MAX_ATTEMPTS) {
        job_fail(j, "failed", "provider_unavailable",
                 "The provider could not take the task after several tries; your credits are back.");
        return;
    }
    snprintf(j->t.error_code, sizeof j->t.error_code, "%s", r->error_code[0] ? r->error_code : gen_outcome_name(r->outcome));
    snprintf(j->t.error_message, sizeof j->t.error_message, "%s", r->error_message);
    /* Another key may take it at once; the same one after its Retry-After. */
    int64_t gap = r->outcome == GEN_RETRY ? job_retry_gap(j->t.attempts) : 500;
    job_reschedule(j, "queued", now + gap);
}

static void job_submit(struct job *j)
{
    if (j->p->keys_env != NULL) {
        int64_t wait_ms = -1;
        j->t.key_id[0] = '\0';
        if (keypool_pick(j->d->kp, j->p->name, time_now_ms(), j->t.key_id, j->secret, &wait_ms) != 0) {
            if (wait_ms < 0) {
                job_fail(j, "failed", "no_provider_key",
                         "No usable API key for this provider; your credits are back.");
                return;
            }
            /* Every key is cooling down or rate limited: look again when one is back. */
            job_reschedule(j, j->t.status, time_now_ms() + (wait_ms < 1000 ? 1000 : wait_ms));
            return;
        }
    }
    j->img_i = 0;
    job_submit_send(j);
}

/* ---- polling ---- */

static void job_handle_poll(struct job *j);

static void job_polled(struct net_call *c)
{
    struct job *j = H2O_STRUCT_FROM_MEMBER(struct job, call, c);
    if (job_dropped_by_stop(j, c))
        return;
    j->p->parse_poll(c, &j->res);
    gen_call_release(c);
    job_handle_poll(j);
}

static void job_poll(struct job *j)
{
    atomic_fetch_add(&m_polls, 1);
    j->t.polls++;
    if (j->p->local_poll != NULL) {
        j->p->local_poll(j->t.provider_task_id, j->t.submitted_at, time_now_ms(), &j->res);
        job_handle_poll(j);
        return;
    }
    if (j->p->keys_env != NULL && keypool_secret(j->d->kp, j->t.key_id, j->secret) != 0) {
        /* The key that submitted is gone from the pool (removed from the environment): its
         * account owns the task and nobody else may ask. Keep trying until the deadline in
         * case it comes back. */
        job_reschedule(j, j->t.status, time_now_ms() + job_poll_gap(j->p, j->t.polls));
        return;
    }
    if (j->p->build_poll(j->t.provider_task_id, j->secret, &j->call) != 0) {
        gen_call_release(&j->call);
        job_fail(j, "failed", "invalid_task", "The provider's task id cannot be queried.");
        return;
    }
    net_exec_submit(&j->d->nx, &j->call, job_polled);
}

static void job_handle_poll(struct job *j)
{
    struct gen_result *r = &j->res;
    int64_t now = time_now_ms();
    if (j->p->keys_env != NULL)
        job_key_report(j, r->outcome);
    switch (r->outcome) {
    case GEN_SUCCEEDED:
        job_collect(j);
        return;
    case GEN_FAILED:
    case GEN_INVALID:
    case GEN_UNKNOWN_TASK:
        job_fail(j, "failed", r->error_code[0] ? r->error_code : "generation_failed",
                 r->error_message[0] ? r->error_message : "The provider could not generate this.");
        return;
    case GEN_RUNNING:
    case GEN_ACCEPTED: {
        const char *was = j->t.status;
        char expect[TG_TASK_STATUS_MAX];
        snprintf(expect, sizeof expect, "%s", was);
        if (r->outcome == GEN_RUNNING)
            snprintf(j->t.status, sizeof j->t.status, "running");
        if (r->progress >= 0 && r->progress <= 100 && r->progress > j->t.progress)
            j->t.progress = r->progress > 99 ? 99 : r->progress;
        job_reschedule(j, expect, now + job_poll_gap(j->p, j->t.polls));
        return;
    }
    case GEN_RETRY:
    case GEN_RATE_LIMITED:
    case GEN_KEY_REJECTED:
        break;
    }
    /* A poll that failed: the task is still the provider's; ask again later. */
    int64_t gap = job_poll_gap(j->p, j->t.polls);
    if (r->outcome == GEN_RATE_LIMITED && r->retry_after_ms > gap)
        gap = r->retry_after_ms;
    job_reschedule(j, j->t.status, now + gap);
}

/* ---- collecting outputs ---- */

static void job_collect_next(struct job *j);

/* Starts collecting: the provider's outputs are recorded first (outputs_json, phase
 * collect) so that a restart copies them instead of generating again, except for bytes
 * that exist only in memory (Gemini, the sandbox), which are copied at once. */
static void job_collect(struct job *j)
{
    json_decref(j->outs);
    j->outs = json_array();
    for (size_t i = 0; i < j->res.n_outputs; i++) {
        const struct gen_output *o = &j->res.outputs[i];
        json_array_append_new(j->outs, json_pack("{s:s, s:s, s:i}", "url", o->url, "mime", o->mime, "bytes",
                                                 o->data != NULL ? (int)i : -1));
    }
    if (j->res.n_outputs == 0) {
        job_fail(j, "failed", "no_output", "The provider finished without any output.");
        return;
    }
    j->units = 0;
    if (strcmp(j->t.price_unit, "second") == 0 && j->res.output_ms > 0)
        j->units = (j->res.output_ms + 999) / 1000;
    json_decref(j->stored);
    j->stored = json_array();
    j->out_i = 0;
    j->backend = storage_default();
    job_collect_next(j);
}

static void job_stored(void *arg, int ok);

static void job_downloaded(struct net_call *c)
{
    struct job *j = H2O_STRUCT_FROM_MEMBER(struct job, call, c);
    int ok = c->err == NET_OK && c->status == 200;
    const char *ct = net_resp_header(c, "content-type");
    json_t *o = json_array_get(j->outs, j->out_i);
    if (ok && ct != NULL && !json_string_value(json_object_get(o, "mime"))[0]) {
        char mime[TG_CONTENT_TYPE_MAX];
        snprintf(mime, sizeof mime, "%s", ct);
        char *semi = strchr(mime, ';');
        if (semi)
            *semi = '\0';
        json_object_set_new(o, "mime", json_string(mime));
    }
    if (job_dropped_by_stop(j, c))
        return;
    gen_call_release(c);
    if (!ok) {
        atomic_fetch_add(&m_collect_errors, 1);
        j->t.attempts++;
        if (j->t.attempts >= DISP_SUBMIT_MAX_ATTEMPTS + DISP_COLLECT_MAX_ATTEMPTS) {
            job_fail(j, "failed", "output_unavailable",
                     "The result could not be downloaded from the provider; your credits are back.");
            return;
        }
        /* Keep what the provider said (phase collect), try again later. */
        snprintf(j->t.phase, sizeof j->t.phase, "collect");
        free(j->t.outputs_json);
        j->t.outputs_json = json_dumps(j->outs, JSON_COMPACT);
        job_reschedule(j, j->t.status, time_now_ms() + job_retry_gap(j->t.attempts));
        return;
    }
    struct stat st;
    int64_t size = stat(j->tmp, &st) == 0 ? (int64_t)st.st_size : 0;
    json_object_set_new(o, "size", json_integer(size));
    const char *mime = json_string_value(json_object_get(o, "mime"));
    storage_store_file(j->backend, &j->d->nx, j->key, mime && mime[0] ? mime : "application/octet-stream", j->tmp,
                       job_stored, j);
}

/* Writes bytes into a fresh temporary file (outputs held in memory: an image, a sample). */
static int write_tmp(const char *path, const unsigned char *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    size_t put = 0;
    while (put < len) {
        ssize_t n = write(fd, data + put, len - put);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            close(fd);
            return -1;
        }
        put += (size_t)n;
    }
    return close(fd);
}

static void job_collect_next(struct job *j)
{
    if (j->out_i >= json_array_size(j->outs)) {
        /* Everything is in our storage: one transaction stores the files and settles. */
        free(j->files_json);
        j->files_json = json_dumps(j->stored, JSON_COMPACT);
        j->t.progress = 100;
        job_write(j, JW_SUCCEED);
        return;
    }
    json_t *o = json_array_get(j->outs, j->out_i);
    char fid[TG_ID_MAX];
    id_new(fid, "fil");
    /* A key per attempt (the file id): a copy placed by an attempt that died before its
     * transaction committed is never in the way of the next one. */
    snprintf(j->key, sizeof j->key, "out/%s/%s/%s", j->t.user_id, j->t.id, fid);
    json_object_set_new(o, "file_id", json_string(fid));
    char *tmp = storage_tmp_path();
    if (tmp != NULL && strlen(tmp) < sizeof j->tmp)
        memcpy(j->tmp, tmp, strlen(tmp) + 1);
    else
        j->tmp[0] = '\0';
    free(tmp);
    if (!j->tmp[0]) {
        job_fail(j, "failed", "storage_unavailable", "The result could not be stored; your credits are back.");
        return;
    }
    int bi = (int)json_integer_value(json_object_get(o, "bytes"));
    if (bi >= 0 && (size_t)bi < j->res.n_outputs && j->res.outputs[bi].data != NULL) {
        const struct gen_output *go = &j->res.outputs[bi];
        if (write_tmp(j->tmp, go->data, go->len) != 0) {
            job_fail(j, "failed", "storage_unavailable", "The result could not be stored; your credits are back.");
            return;
        }
        json_object_set_new(o, "size", json_integer((json_int_t)go->len));
        storage_store_file(j->backend, &j->d->nx, j->key, go->mime[0] ? go->mime : "application/octet-stream",
                           j->tmp, job_stored, j);
        return;
    }
    const char *url = json_string_value(json_object_get(o, "url"));
    if (url == NULL || !url[0]) {
        job_fail(j, "failed", "no_output", "The provider finished without a usable output.");
        return;
    }
    net_call_init(&j->call, j->p->name, "GET", url);
    j->call.max_response = (size_t)DISP_MAX_OUTPUT_BYTES;
    j->call.timeout_ms = 300000;
    net_call_save_to(&j->call, j->tmp);
    net_exec_submit(&j->d->nx, &j->call, job_downloaded);
}

static void job_stored(void *arg, int ok)
{
    struct job *j = arg;
    json_t *o = json_array_get(j->outs, j->out_i);
    j->tmp[0] = '\0'; /* moved or removed by the storage */
    if (!ok) {
        atomic_fetch_add(&m_collect_errors, 1);
        j->t.attempts++;
        if (j->t.attempts >= DISP_SUBMIT_MAX_ATTEMPTS + DISP_COLLECT_MAX_ATTEMPTS) {
            job_fail(j, "failed", "storage_unavailable", "The result could not be stored; your credits are back.");
            return;
        }
        snprintf(j->t.phase, sizeof j->t.phase, "collect");
        free(j->t.outputs_json);
        j->t.outputs_json = json_dumps(j->outs, JSON_COMPACT);
        job_reschedule(j, j->t.status, time_now_ms() + job_retry_gap(j->t.attempts));
        return;
    }
    const char *mime = json_string_value(json_object_get(o, "mime"));
    json_array_append_new(j->stored,
                          json_pack("{s:O, s:s, s:s, s:s, s:O}", "file_id", json_object_get(o, "file_id"), "key",
                                    j->key, "backend", j->backend->name, "content_type",
                                    mime && mime[0] ? mime : "application/octet-stream", "size",
                                    json_object_get(o, "size")));
    j->out_i++;
    job_collect_next(j);
}

/* A task claimed in phase collect: its outputs_json holds what the provider returned. */
static void job_resume_collect(struct job *j)
{
    json_t *outs = j->t.outputs_json ? json_loads(j->t.outputs_json, 0, NULL) : NULL;
    if (!json_is_array(outs) || json_array_size(outs) == 0) {
        json_decref(outs);
        /* Nothing recorded (bytes that lived in memory): ask the provider again. */
        snprintf(j->t.phase, sizeof j->t.phase, "%s", j->t.provider_task_id[0] ? "poll" : "submit");
        job_start(j);
        return;
    }
    json_decref(j->outs);
    j->outs = outs;
    size_t i;
    json_t *o;
    json_array_foreach(outs, i, o) json_object_set_new(o, "bytes", json_integer(-1));
    json_decref(j->stored);
    j->stored = json_array();
    j->out_i = 0;
    j->units = 0;
    j->backend = storage_default();
    job_collect_next(j);
}

/* ---- one claimed task ---- */

static void job_start(struct job *j)
{
    int64_t now = time_now_ms();
    if (j->t.deadline_at > 0 && now >= j->t.deadline_at) {
        job_fail(j, "timed_out", "timeout",
                 "The provider did not finish in time; your credits are back.");
        return;
    }
    j->p = gen_provider_find(j->t.provider);
    if (j->p == NULL) {
        job_fail(j, "failed", "provider_unavailable", "This provider is no longer available; your credits are back.");
        return;
    }
    if (strcmp(j->t.phase, "submit") == 0 || !j->t.phase[0]) {
        job_submit(j);
    } else if (strcmp(j->t.phase, "poll") == 0) {
        job_poll(j);
    } else if (strcmp(j->t.phase, "collect") == 0) {
        job_resume_collect(j);
    } else {
        job_fail(j, "failed", "invalid_task", "The task is in an unknown state; your credits are back.");
    }
}

/* ---- claiming ---- */

static enum store_rc disp_claim_run(struct store *s, struct store_call *sc)
{
    struct disp *d = H2O_STRUCT_FROM_MEMBER(struct disp, claim_call, sc);
    for (size_t i = 0; i < d->n_claimed; i++)
        task_clear(&d->claimed[i]);
    free(d->claimed);
    d->claimed = NULL;
    d->n_claimed = 0;
    size_t room = DISP_MAX_ACTIVE - d->active;
    return store_tasks_claim(s, d->claim_now, d->claim_now + DISP_LEASE_MS, room, &d->claimed, &d->n_claimed);
}

static void disp_claim_done(struct store_call *sc)
{
    struct disp *d = H2O_STRUCT_FROM_MEMBER(struct disp, claim_call, sc);
    d->claiming = 0;
    if (sc->rc != STORE_OK) {
        if (sc->rc != STORE_BUSY)
            log_event(LOG_WARN, "task_claim_failed", "error", store_rc_name(sc->rc), NULL);
        return;
    }
    for (size_t i = 0; i < d->n_claimed; i++) {
        struct task *t = &d->claimed[i];
        if (d->stopping || disp_is_active(d, t->id)) {
            task_clear(t);
            continue;
        }
        struct job *j = xcalloc(1, sizeof *j);
        j->d = d;
        j->t = *t; /* takes the heap fields */
        memset(t, 0, sizeof *t);
        j->next_active = d->active_head;
        d->active_head = j;
        d->active++;
        atomic_store(&m_active, (int64_t)d->active);
        atomic_fetch_add(&m_claimed, 1);
        job_start(j);
    }
    free(d->claimed);
    d->claimed = NULL;
    d->n_claimed = 0;
}

/* ---- keys ---- */

struct keys_read {
    struct store_call sc;
    struct disp *d;
    struct provider_key *keys;
    size_t n;
};

static enum store_rc keys_read_run(struct store *s, struct store_call *sc)
{
    struct keys_read *k = (struct keys_read *)sc;
    free(k->keys);
    k->keys = NULL;
    return store_pkey_list(s, NULL, &k->keys, &k->n);
}

static void keys_read_done(struct store_call *sc)
{
    struct keys_read *k = (struct keys_read *)sc;
    if (sc->rc == STORE_OK)
        keypool_load(k->d->kp, k->keys, k->n, time_now_ms());
    free(k->keys);
    free(k);
}

static void disp_reload_keys(struct disp *d)
{
    struct keys_read *k = xcalloc(1, sizeof *k);
    k->d = d;
    store_exec_call(&d->sx, &k->sc, STORE_CALL_READ, keys_read_run, keys_read_done);
}

struct key_disable {
    struct store_call sc;
    char id[TG_ID_MAX];
    char reason[128];
};

static enum store_rc key_disable_run(struct store *s, struct store_call *sc)
{
    struct key_disable *k = (struct key_disable *)sc;
    return store_pkey_set_disabled(s, k->id, 1, k->reason, time_now_ms());
}

static void key_disable_done(struct store_call *sc)
{
    struct key_disable *k = (struct key_disable *)sc;
    log_event(LOG_WARN, "provider_key_disabled", "key", k->id, "reason", k->reason, "stored",
              sc->rc == STORE_OK ? "true" : "false", NULL);
    free(k);
}

static void disp_persist_disable(struct disp *d, const char *key_id, const char *reason)
{
    struct key_disable *k = xcalloc(1, sizeof *k);
    snprintf(k->id, sizeof k->id, "%s", key_id);
    snprintf(k->reason, sizeof k->reason, "%.127s", reason);
    store_exec_call(&d->sx, &k->sc, STORE_CALL_WRITE, key_disable_run, key_disable_done);
}

/* One key's counters to add to its row (copied out of the pool). */
struct key_stat {
    char id[TG_ID_MAX];
    int64_t uses, failures, last_used_at;
    int has_error;
    char last_error[KEYPOOL_TEXT_MAX];
};

struct key_stats {
    struct store_call sc;
    struct key_stat *rows;
    size_t n, cap;
};

static int key_stats_add(void *arg, const struct keypool_stats *st)
{
    struct key_stats *k = arg;
    if (k->n == k->cap) {
        k->cap = k->cap ? k->cap * 2 : 8;
        k->rows = xrealloc(k->rows, k->cap * sizeof *k->rows);
    }
    struct key_stat *row = &k->rows[k->n++];
    memset(row, 0, sizeof *row);
    snprintf(row->id, sizeof row->id, "%s", st->id);
    row->uses = st->uses;
    row->failures = st->failures;
    row->last_used_at = st->last_used_at;
    if (st->last_error != NULL) {
        row->has_error = 1;
        snprintf(row->last_error, sizeof row->last_error, "%s", st->last_error);
    }
    return 0; /* taken: the pool forgets them (a failed write loses a few counts, never money) */
}

static enum store_rc key_stats_run(struct store *s, struct store_call *sc)
{
    struct key_stats *k = (struct key_stats *)sc;
    int64_t now = time_now_ms();
    for (size_t i = 0; i < k->n; i++) {
        const struct key_stat *st = &k->rows[i];
        enum store_rc rc = store_pkey_add_stats(s, st->id, st->uses, st->failures, st->last_used_at,
                                                st->has_error ? st->last_error : NULL, now);
        if (rc != STORE_OK && rc != STORE_NOTFOUND)
            return rc;
    }
    return STORE_OK;
}

static void key_stats_done(struct store_call *sc)
{
    struct key_stats *k = (struct key_stats *)sc;
    free(k->rows);
    free(k);
}

static void disp_flush_stats(struct disp *d)
{
    struct key_stats *k = xcalloc(1, sizeof *k);
    keypool_flush_stats(d->kp, key_stats_add, k);
    if (k->n == 0) {
        free(k);
        return;
    }
    store_exec_call(&d->sx, &k->sc, STORE_CALL_WRITE, key_stats_run, key_stats_done);
}

/* ---- the loop ---- */

static void disp_on_tick(h2o_timeout_entry_t *e)
{
    struct disp *d = H2O_STRUCT_FROM_MEMBER(struct disp, tick_entry, e);
    int64_t now = time_now_ms();
    if (!d->stopping) {
        if (now - d->keys_loaded_at >= DISP_KEYS_RELOAD_MS) {
            d->keys_loaded_at = now;
            disp_reload_keys(d);
        }
        if (now - d->stats_flushed_at >= DISP_STATS_FLUSH_MS) {
            d->stats_flushed_at = now;
            disp_flush_stats(d);
        }
        if (!d->claiming && d->active < DISP_MAX_ACTIVE) {
            d->claiming = 1;
            d->claim_now = now;
            store_exec_call(&d->sx, &d->claim_call, STORE_CALL_WRITE, disp_claim_run, disp_claim_done);
        }
    }
    h2o_timeout_link(d->loop, &d->tick, &d->tick_entry);
}

static void disp_store_wake(void *arg)
{
    struct disp *d = arg;
    h2o_multithread_send_message(&d->store_rcv, &d->store_msg);
}

static void disp_on_store(h2o_multithread_receiver_t *rcv, h2o_linklist_t *messages)
{
    struct disp *d = H2O_STRUCT_FROM_MEMBER(struct disp, store_rcv, rcv);
    while (!h2o_linklist_is_empty(messages))
        h2o_linklist_unlink(messages->next);
    store_exec_drain(&d->sx);
}

static void disp_net_wake(void *arg)
{
    struct disp *d = arg;
    h2o_multithread_send_message(&d->net_rcv, &d->net_msg);
}

static void disp_on_net(h2o_multithread_receiver_t *rcv, h2o_linklist_t *messages)
{
    struct disp *d = H2O_STRUCT_FROM_MEMBER(struct disp, net_rcv, rcv);
    while (!h2o_linklist_is_empty(messages))
        h2o_linklist_unlink(messages->next);
    net_exec_drain(&d->nx);
}

static void disp_on_ctl(h2o_multithread_receiver_t *rcv, h2o_linklist_t *messages)
{
    struct disp *d = H2O_STRUCT_FROM_MEMBER(struct disp, ctl_rcv, rcv);
    while (!h2o_linklist_is_empty(messages))
        h2o_linklist_unlink(messages->next);
    d->stopping = 1;
}

/* How long stopping waits for steps in flight before leaving them to the leases. */
#define DISP_STOP_GRACE_MS 3000

static void *disp_main(void *arg)
{
    struct disp *d = arg;
    d->loop = h2o_evloop_create();
    d->queue = h2o_multithread_create_queue(d->loop);
    h2o_multithread_register_receiver(d->queue, &d->store_rcv, disp_on_store);
    h2o_multithread_register_receiver(d->queue, &d->net_rcv, disp_on_net);
    h2o_multithread_register_receiver(d->queue, &d->ctl_rcv, disp_on_ctl);
    store_exec_init(&d->sx, d->conn, d->writer, disp_store_wake, d);
    net_exec_init(&d->nx, d->client, disp_net_wake, d);
    h2o_timeout_init(d->loop, &d->tick, DISP_TICK_MS);
    d->tick_entry.cb = disp_on_tick;
    h2o_timeout_link(d->loop, &d->tick, &d->tick_entry);
    pthread_mutex_lock(&d->ready_mu);
    d->ready = 1;
    pthread_cond_broadcast(&d->ready_cv);
    pthread_mutex_unlock(&d->ready_mu);

    while (!d->stopping)
        h2o_evloop_run(d->loop, INT32_MAX);
    /* Stopping: no new claims; let the steps in flight record what they can. */
    int64_t until = time_now_ms() + DISP_STOP_GRACE_MS;
    while ((d->sx.inflight > 0 || d->nx.inflight > 0) && time_now_ms() < until)
        h2o_evloop_run(d->loop, 100);
    char left[24];
    snprintf(left, sizeof left, "%zu", d->active);
    log_event(LOG_INFO, "dispatcher_stopped", "tasks_left", left, NULL);
    d->stopped = 1;
    if (d->sx.inflight > 0 || d->nx.inflight > 0 || d->active > 0)
        return NULL; /* Whatever is still out completes into executors nobody drains: the loop
                      * and its queue stay allocated (the process is exiting) so that a late
                      * wake-up finds them. */
    /* Nothing left: released here, on the loop's own thread, like the HTTP workers' loops. */
    d->clean = 1;
    if (h2o_timeout_is_linked(&d->tick_entry))
        h2o_timeout_unlink(&d->tick_entry);
    h2o_timeout_dispose(d->loop, &d->tick);
    store_exec_dispose(&d->sx);
    net_exec_dispose(&d->nx);
    h2o_multithread_unregister_receiver(d->queue, &d->store_rcv);
    h2o_multithread_unregister_receiver(d->queue, &d->net_rcv);
    h2o_multithread_unregister_receiver(d->queue, &d->ctl_rcv);
    h2o_multithread_destroy_queue(d->queue);
    /* libh2o 2.2.5's h2o_multithread_destroy_queue closes the queue's socket but never frees
     * the queue itself (as in http/server.c). */
    free(d->queue);
    h2o_evloop_destroy(d->loop);
    return NULL;
}

int dispatcher_start(struct store_writer *writer, struct net_client *client, char **err)
{
    struct disp *d = xcalloc(1, sizeof *d);
    d->writer = writer;
    d->client = client;
    d->conn = store_open(tg_cfg->database_url, err);
    if (d->conn == NULL) {
        free(d);
        return -1;
    }
    /* The dispatcher's reads never wait on a lock either: a busy read is retried next tick. */
    store_set_nowait(d->conn);
    d->kp = keypool_new();
    pthread_mutex_init(&d->ready_mu, NULL);
    pthread_cond_init(&d->ready_cv, NULL);
    int rc = pthread_create(&d->tid, NULL, disp_main, d);
    if (rc != 0) {
        *err = xasprintf("dispatcher thread: %s", strerror(rc));
        keypool_free(d->kp);
        store_close(d->conn);
        free(d);
        return -1;
    }
    pthread_mutex_lock(&d->ready_mu);
    while (d->ready == 0)
        pthread_cond_wait(&d->ready_cv, &d->ready_mu);
    pthread_mutex_unlock(&d->ready_mu);
    disp_global = d;
    log_event(LOG_INFO, "dispatcher_started", NULL);
    return 0;
}

void dispatcher_stop(void)
{
    struct disp *d = disp_global;
    if (d == NULL)
        return;
    h2o_multithread_send_message(&d->ctl_rcv, &d->ctl_msg);
    pthread_join(d->tid, NULL);
    disp_global = NULL;
    if (!d->clean)
        return; /* left allocated on purpose (see disp_main): the process ends next */
    for (size_t i = 0; i < d->n_claimed; i++)
        task_clear(&d->claimed[i]);
    free(d->claimed);
    keypool_free(d->kp);
    store_close(d->conn);
    pthread_mutex_destroy(&d->ready_mu);
    pthread_cond_destroy(&d->ready_cv);
    free(d);
}

void dispatcher_metrics_render(struct sbuf *out)
{
    static const char *const names[] = {"succeeded", "failed", "timed_out", "canceled"};
    sbuf_puts(out, "# HELP tollgate_tasks_finished_total Tasks ended by the dispatcher, by status.\n"
                   "# TYPE tollgate_tasks_finished_total counter\n");
    for (int i = 0; i < 4; i++)
        sbuf_printf(out, "tollgate_tasks_finished_total{status=\"%s\"} %llu\n", names[i],
                    (unsigned long long)atomic_load(&m_finished[i]));
    sbuf_printf(out,
                "# HELP tollgate_dispatcher_claims_total Tasks claimed for a step.\n"
                "# TYPE tollgate_dispatcher_claims_total counter\n"
                "tollgate_dispatcher_claims_total %llu\n"
                "# HELP tollgate_dispatcher_submissions_total Submissions sent to providers.\n"
                "# TYPE tollgate_dispatcher_submissions_total counter\n"
                "tollgate_dispatcher_submissions_total %llu\n"
                "# HELP tollgate_dispatcher_submission_errors_total Submissions that failed and will be retried.\n"
                "# TYPE tollgate_dispatcher_submission_errors_total counter\n"
                "tollgate_dispatcher_submission_errors_total %llu\n"
                "# HELP tollgate_dispatcher_polls_total Status queries sent to providers.\n"
                "# TYPE tollgate_dispatcher_polls_total counter\n"
                "tollgate_dispatcher_polls_total %llu\n"
                "# HELP tollgate_dispatcher_collect_errors_total Output copies that failed and will be retried.\n"
                "# TYPE tollgate_dispatcher_collect_errors_total counter\n"
                "tollgate_dispatcher_collect_errors_total %llu\n"
                "# HELP tollgate_dispatcher_active Tasks being worked right now.\n"
                "# TYPE tollgate_dispatcher_active gauge\n"
                "tollgate_dispatcher_active %lld\n",
                (unsigned long long)atomic_load(&m_claimed), (unsigned long long)atomic_load(&m_submitted),
                (unsigned long long)atomic_load(&m_submit_errors), (unsigned long long)atomic_load(&m_polls),
                (unsigned long long)atomic_load(&m_collect_errors), (long long)atomic_load(&m_active));
}
