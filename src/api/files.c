/*
 * files.c - the local storage backend's signed URLs, served by Tollgate itself:
 *   PUT /files/in/{user}/{file}          an upload's bytes (signed by POST /api/v1/uploads)
 *   GET /files/in/{user}/{file}          an upload, with Range
 *   GET /files/out/{user}/{task}/{n}     a task's output, with Range
 * No account is involved: the signature is the credential (storage.h). It binds the method,
 * the key - hence the owner's user id - the expiry and, for a PUT, the declared type and
 * size, so an altered URL, another user's key or another body is refused.
 *
 * Every refusal of the URL itself (missing, forged, altered or expired signature, a key that
 * is not a storage key, a key nothing was signed for) is the same 403; the message says
 * which, the status gives nothing away. Path segments are used as they arrive (never
 * percent-decoded), and storage_key_valid admits only [A-Za-z0-9_.-] segments not starting
 * with '.', so "..", "%2e%2e", NUL and backslashes never reach the file system.
 *
 * A PUT's body (up to TG_MAX_UPLOAD_BYTES, the one route with that limit) is written to a
 * temporary file, probed (core/media.h) and linked into place on the blocking pool, never on
 * the loop; the sniffed type must be the declared one (422 invalid_input), then the record
 * is marked ready with what was found.
 */
#include "api/api.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/media.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "providers/storage/storage.h"

/* The key of this route's path parameters into key; 0, or -1 when they make no valid key. */
static int files_key(struct req *r, char key[TG_FILE_KEY_MAX])
{
    const char *user = req_param(r, "user");
    const char *task = req_param(r, "task");
    int n;
    if (task != NULL)
        n = snprintf(key, TG_FILE_KEY_MAX, "out/%s/%s/%s", user, task, req_param(r, "n"));
    else
        n = snprintf(key, TG_FILE_KEY_MAX, "in/%s/%s", user, req_param(r, "file"));
    return n > 0 && n < TG_FILE_KEY_MAX && storage_key_valid(key) ? 0 : -1;
}

static void files_forbidden(struct req *r, const char *why)
{
    res_error(r, TG_E_FORBIDDEN, why, NULL);
}

/* ---- PUT: an upload arrives ---- */

enum files_put_outcome {
    FILES_PUT_PLACED = 0, /* probed as declared and linked into place */
    FILES_PUT_MISMATCH,   /* not the declared type, or not readable as it */
    FILES_PUT_EXISTS,     /* a file is already at the key */
    FILES_PUT_IO,         /* the disk failed */
};

/* The blocking part's context (heap: it may outlive the request). */
struct files_put {
    char key[TG_FILE_KEY_MAX];
    char id[TG_ID_MAX];
    char content_type[TG_CONTENT_TYPE_MAX];
    char *body; /* a copy: the request's memory may go while the pool writes */
    size_t len;
    enum files_put_outcome outcome;
    struct media_info mi;
    const char *detected; /* static type string, or NULL */
};

static int files_write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

static void files_put_work(void *arg)
{
    struct files_put *j = arg;
    char *tmp = storage_tmp_path();
    j->outcome = FILES_PUT_IO;
    int fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        log_msgf(LOG_ERROR, "upload_write_failed", "%s", strerror(errno));
        goto cleanup;
    }
    /* Durable before the record says ready: fsync, then link. */
    int ok = files_write_all(fd, j->body, j->len) == 0 && fsync(fd) == 0;
    free(j->body);
    j->body = NULL;
    if (!ok) {
        log_msgf(LOG_ERROR, "upload_write_failed", "%s", strerror(errno));
        close(fd);
        unlink(tmp);
        goto cleanup;
    }
    enum media_rc mrc = media_probe_fd(fd, (int64_t)j->len, &j->mi);
    close(fd);
    j->detected = j->mi.content_type;
    if (mrc == MEDIA_IO) {
        log_msgf(LOG_ERROR, "upload_probe_failed", "%s", strerror(errno));
        unlink(tmp);
        goto cleanup;
    }
    if (mrc != MEDIA_OK || strcmp(j->mi.content_type, j->content_type) != 0) {
        j->outcome = FILES_PUT_MISMATCH;
        unlink(tmp);
        goto cleanup;
    }
    if (storage_local_place(j->key, tmp) == 0)
        j->outcome = FILES_PUT_PLACED;
    else
        j->outcome = errno == EEXIST ? FILES_PUT_EXISTS : FILES_PUT_IO;
cleanup:
    free(tmp);
}

/* The final store write: the record becomes ready with what the probe found. */
struct files_ready {
    struct api_call base;
    struct files_put job; /* body already freed */
    int64_t now;
};

static enum store_rc files_ready_run(struct store *s, struct store_call *sc)
{
    struct files_ready *c = (struct files_ready *)sc;
    const struct files_put *j = &c->job;
    return store_file_set_ready(s, j->id, j->content_type, (int64_t)j->len, j->mi.width, j->mi.height,
                                j->mi.duration_ms, c->now);
}

/* Removes the placed file again, so that the client may upload once more. */
static void files_unplace(const char *key)
{
    char path[4096];
    if (storage_local_path(key, path, sizeof path) == 0)
        unlink(path);
}

static void files_ready_reply(struct req *r, struct api_call *ac)
{
    struct files_ready *c = (struct files_ready *)ac;
    const struct files_put *j = &c->job;
    if (ac->call.rc == STORE_CONFLICT) {
        res_error(r, TG_E_CONFLICT, "This file was already uploaded.", NULL);
        return;
    }
    if (ac->call.rc != STORE_OK) {
        api_reply_store(r, ac->call.rc, "file_set_ready");
        return;
    }
    json_t *body = json_pack("{s:s, s:I, s:s, s:I, s:I, s:I}", "id", j->id, "size", (json_int_t)j->len,
                             "content_type", j->content_type, "width", (json_int_t)j->mi.width, "height",
                             (json_int_t)j->mi.height, "duration_ms", (json_int_t)j->mi.duration_ms);
    res_json(r, 200, body);
}

static void files_ready_cleanup(struct api_call *ac)
{
    /* Not recorded (whether or not the client is still there): the placed file goes, so
     * that the client may upload again instead of finding the key taken. */
    if (ac->call.rc != STORE_OK && ac->call.rc != STORE_CONFLICT)
        files_unplace(((struct files_ready *)ac)->job.key);
}

static void files_put_done(struct req *r, void *arg)
{
    struct files_put *j = arg;
    if (r == NULL) {
        /* The client went away: nothing records the file, so it must not stay placed
         * (the next attempt would find the key taken). */
        if (j->outcome == FILES_PUT_PLACED)
            files_unplace(j->key);
        free(j->body);
        free(j);
        return;
    }
    switch (j->outcome) {
    case FILES_PUT_MISMATCH:
        res_error(r, TG_E_INVALID_INPUT, "The file's content is not of the declared type.",
                  json_pack("{s:s, s:s, s:o}", "field", "content_type", "declared", j->content_type, "detected",
                            j->detected ? json_string(j->detected) : json_null()));
        break;
    case FILES_PUT_EXISTS:
        res_error(r, TG_E_CONFLICT, "This file was already uploaded.", NULL);
        break;
    case FILES_PUT_IO:
        res_error(r, TG_E_INTERNAL, NULL, NULL);
        break;
    case FILES_PUT_PLACED: {
        struct files_ready *c = api_call_new(r, sizeof *c, STORE_CALL_WRITE);
        c->job = *j;
        c->now = time_now_ms();
        api_submit(r, &c->base, files_ready_run, files_ready_reply, files_ready_cleanup);
        break;
    }
    }
    free(j->body);
    free(j);
}

struct files_lookup {
    struct api_call base;
    char key[TG_FILE_KEY_MAX];
    struct stored_file f;
};

static enum store_rc files_lookup_run(struct store *s, struct store_call *sc)
{
    struct files_lookup *c = (struct files_lookup *)sc;
    return store_file_get_by_key(s, "local", c->key, &c->f);
}

static void files_put_checked(struct req *r, struct api_call *ac)
{
    struct files_lookup *c = (struct files_lookup *)ac;
    const struct stored_file *f = &c->f;
    if (ac->call.rc == STORE_NOTFOUND) {
        files_forbidden(r, "The upload URL is not valid.");
        return;
    }
    if (ac->call.rc != STORE_OK) {
        api_reply_store(r, ac->call.rc, "file_get_by_key");
        return;
    }
    switch (storage_local_verify("PUT", c->key, f->content_type, f->size, req_query(r, "expires"),
                                 req_query(r, "sig"), time_now_ms())) {
    case STORAGE_SIG_OK:
        break;
    case STORAGE_SIG_EXPIRED:
        files_forbidden(r, "The upload URL has expired.");
        return;
    default:
        files_forbidden(r, "The upload URL is not valid.");
        return;
    }
    const char *ct = req_header_unique(r, "content-type");
    if (ct == NULL || strcmp(ct, f->content_type) != 0) {
        res_error(r, TG_E_UNSUPPORTED_MEDIA, "Content-Type must be the declared type.",
                  json_pack("{s:s}", "content_type", f->content_type));
        return;
    }
    size_t len;
    const char *body = req_body(r, &len);
    if ((int64_t)len != f->size) {
        res_error(r, TG_E_BAD_REQUEST, "The body must be exactly the declared size.",
                  json_pack("{s:I}", "size", (json_int_t)f->size));
        return;
    }
    if (strcmp(f->status, "pending") != 0) {
        res_error(r, TG_E_CONFLICT, "This file was already uploaded.", NULL);
        return;
    }
    struct files_put *j = xcalloc(1, sizeof *j);
    memcpy(j->key, c->key, sizeof j->key);
    memcpy(j->id, f->id, sizeof j->id);
    memcpy(j->content_type, f->content_type, sizeof j->content_type);
    /* libh2o 2.2.5 keeps the body in the connection's buffer, which is gone if the client
     * leaves while the pool writes: the job writes its own copy (docs/OPERATIONS.md). */
    j->body = xmalloc(len ? len : 1);
    memcpy(j->body, body, len);
    j->len = len;
    req_defer(r, REQ_WORK_GENERAL, files_put_work, files_put_done, j);
}

void api_files_put(struct req *r)
{
    char key[TG_FILE_KEY_MAX];
    if (files_key(r, key) != 0 || req_query(r, "sig") == NULL || req_query(r, "expires") == NULL) {
        files_forbidden(r, "The upload URL is not valid.");
        return;
    }
    struct files_lookup *c = api_call_new(r, sizeof *c, STORE_CALL_READ);
    memcpy(c->key, key, sizeof c->key);
    api_submit(r, &c->base, files_lookup_run, files_put_checked, NULL);
}

/* ---- GET: a file is read ---- */

static void files_get_found(struct req *r, struct api_call *ac)
{
    struct files_lookup *c = (struct files_lookup *)ac;
    if (ac->call.rc == STORE_NOTFOUND || (ac->call.rc == STORE_OK && strcmp(c->f.status, "ready") != 0)) {
        res_error(r, TG_E_NOT_FOUND, NULL, NULL);
        return;
    }
    if (ac->call.rc != STORE_OK) {
        api_reply_store(r, ac->call.rc, "file_get_by_key");
        return;
    }
    int64_t size;
    int fd = storage_open_local(c->key, &size);
    if (fd < 0) {
        log_msgf(LOG_WARN, "file_missing", "a ready file is not on disk: %s", strerror(errno));
        res_error(r, TG_E_NOT_FOUND, NULL, NULL);
        return;
    }
    /* The URL is a credential: shared caches must not keep what it fetched. */
    res_header(r, "cache-control", "private, max-age=3600");
    res_file(r, fd, size, c->f.content_type);
}

void api_files_get(struct req *r)
{
    char key[TG_FILE_KEY_MAX];
    if (files_key(r, key) != 0) {
        files_forbidden(r, "The download URL is not valid.");
        return;
    }
    /* The signature first: without it, nothing is looked up. */
    switch (storage_local_verify("GET", key, NULL, 0, req_query(r, "expires"), req_query(r, "sig"), time_now_ms())) {
    case STORAGE_SIG_OK:
        break;
    case STORAGE_SIG_EXPIRED:
        files_forbidden(r, "The download URL has expired.");
        return;
    default:
        files_forbidden(r, "The download URL is not valid.");
        return;
    }
    struct files_lookup *c = api_call_new(r, sizeof *c, STORE_CALL_READ);
    memcpy(c->key, key, sizeof c->key);
    api_submit(r, &c->base, files_lookup_run, files_get_found, NULL);
}
