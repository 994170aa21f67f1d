/*
 * uploads.c - POST /api/v1/uploads (a signed URL to upload one input file),
 * GET /api/v1/uploads/{id} (the caller's file: what was found in it, and a signed URL to
 * read it once ready) and POST /api/v1/uploads/{id}/complete (S3/OSS: the bytes are in the
 * bucket - read them back, probe them, mark the file ready).
 *
 * The file's backend follows the caller's region (storage_for_region: OSS for CN, S3 for
 * GLOBAL when configured, else the local disk); its key is in/<user id>/<file id>, so a URL
 * is only ever minted for the owner's own keys. A local upload is checked and probed when it
 * arrives (files.c); the record stays "pending" until then.
 */
#include "api/api.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/ids.h"
#include "core/media.h"
#include "core/mem.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "net/net.h"
#include "providers/storage/storage.h"

#include <unistd.h>

/* How long an upload URL and a download URL stay valid. An hour covers a slow upload of
 * the largest video; the file record expires with its upload URL while pending. */
#define UPLOAD_URL_TTL_S 3600
#define DOWNLOAD_URL_TTL_S 3600
/* Images: 10 MiB, the input image limit of DashScope's animate models and Gemini's inline
 * images (PROVIDERS.md). Videos: TG_MAX_UPLOAD_BYTES (200 MiB, DashScope's video limit). */
#define UPLOAD_IMAGE_MAX (10 * 1024 * 1024)

static const char *const upload_types[] = {"image/jpeg", "image/png", "image/webp", "image/bmp",
                                           "video/mp4", "video/quicktime", "video/x-msvideo", NULL};

struct upload_create {
    struct api_call base;
    struct stored_file f;
};

static enum store_rc upload_create_run(struct store *s, struct store_call *sc)
{
    struct upload_create *c = (struct upload_create *)sc;
    return store_file_insert(s, &c->f);
}

static void upload_create_reply(struct req *r, struct api_call *ac)
{
    struct upload_create *c = (struct upload_create *)ac;
    char ts[32];
    if (ac->call.rc != STORE_OK) {
        api_reply_store(r, ac->call.rc, "file_insert");
        return;
    }
    const struct storage_backend *b = storage_find(c->f.backend);
    char *url = b ? storage_presign_put(b, c->f.key, c->f.content_type, c->f.size, c->f.created_at,
                                        UPLOAD_URL_TTL_S)
                  : NULL;
    if (url == NULL) {
        res_error(r, TG_E_INTERNAL, NULL, NULL);
        return;
    }
    json_t *body = json_pack("{s:s, s:s, s:s, s:{s:s}, s:s}", "id", c->f.id, "upload_url", url, "method", "PUT",
                             "headers", "Content-Type", c->f.content_type, "expires_at",
                             time_rfc3339(c->f.expires_at, ts));
    free(url);
    /* A signed URL is a credential: never cached. */
    res_header(r, "cache-control", "no-store");
    res_json(r, 201, body);
}

struct upload_pending {
    char content_type[TG_CONTENT_TYPE_MAX];
    int64_t size;
};

static void upload_region_done(struct req *r, const struct region_decision *d, void *arg)
{
    struct upload_pending *p = arg;
    if (r == NULL || d == NULL) {
        free(p);
        return;
    }
    const struct storage_backend *b = storage_for_region(region_name(d->region));
    struct upload_create *c = api_call_new(r, sizeof *c, STORE_CALL_WRITE);
    struct stored_file *f = &c->f;
    int64_t now = time_now_ms();
    id_new(f->id, "fil");
    snprintf(f->user_id, sizeof f->user_id, "%s", req_principal(r)->user_id);
    snprintf(f->purpose, sizeof f->purpose, "input");
    snprintf(f->backend, sizeof f->backend, "%s", b->name);
    snprintf(f->key, sizeof f->key, "in/%s/%s", f->user_id, f->id);
    snprintf(f->content_type, sizeof f->content_type, "%s", p->content_type);
    f->size = p->size;
    snprintf(f->status, sizeof f->status, "pending");
    f->created_at = f->updated_at = now;
    f->expires_at = now + (int64_t)UPLOAD_URL_TTL_S * 1000;
    free(p);
    api_submit(r, &c->base, upload_create_run, upload_create_reply, NULL);
}

void api_uploads_create(struct req *r)
{
    static const char *const allowed[] = {"content_type", "size", NULL};
    struct jerr e;
    const char *ct;
    int64_t size = 0;
    json_t *body = req_json_or_reply(r);
    if (body == NULL)
        return;
    if (jv_only(body, allowed, &e) != 0 || jv_string(body, "content_type", 1, 1, TG_CONTENT_TYPE_MAX - 1, &ct, &e) != 0 ||
        jv_int(body, "size", 1, 1, INT64_MAX, &size, &e) != 0) {
        api_reply_jerr(r, &e);
        return;
    }
    size_t i = 0;
    while (upload_types[i] != NULL && strcmp(upload_types[i], ct) != 0)
        i++;
    if (upload_types[i] == NULL) {
        json_t *types = json_array();
        for (size_t k = 0; upload_types[k]; k++)
            json_array_append_new(types, json_string(upload_types[k]));
        res_error(r, TG_E_INVALID_INPUT, "This type of file cannot be uploaded.",
                  json_pack("{s:s, s:o}", "field", "content_type", "allowed", types));
        return;
    }
    int64_t max = media_is_image(ct) ? UPLOAD_IMAGE_MAX : tg_cfg->max_upload_bytes;
    if (size > max) {
        res_error(r, TG_E_INVALID_INPUT, media_is_image(ct) ? "Images may be at most 10 MiB." : "The video is too large.",
                  json_pack("{s:s, s:I}", "field", "size", "max", (json_int_t)max));
        return;
    }
    struct upload_pending *p = xcalloc(1, sizeof *p);
    snprintf(p->content_type, sizeof p->content_type, "%s", ct);
    p->size = size;
    api_region_for_request(r, upload_region_done, p);
}

/* ---- GET /api/v1/uploads/{id} ---- */

struct upload_read {
    struct api_call base;
    char id[TG_ID_MAX];
    char owner[TG_ID_MAX];
    struct stored_file f;
};

static enum store_rc upload_read_run(struct store *s, struct store_call *sc)
{
    struct upload_read *c = (struct upload_read *)sc;
    return store_file_get(s, c->id, c->owner, &c->f);
}

/* The StoredFile shape (docs/openapi.yaml), with a signed read URL once ready. New reference. */
static json_t *upload_file_json(const struct stored_file *f)
{
    char ts[32];
    json_t *url = json_null();
    const struct storage_backend *b = storage_find(f->backend);
    if (strcmp(f->status, "ready") == 0 && b != NULL) {
        char *u = storage_presign_get(b, f->key, time_now_ms(), DOWNLOAD_URL_TTL_S);
        if (u != NULL)
            url = json_string(u);
        free(u);
    }
    return json_pack("{s:s, s:s, s:s, s:I, s:s, s:I, s:I, s:I, s:s, s:o}", "id", f->id, "purpose", f->purpose,
                     "content_type", f->content_type, "size", (json_int_t)f->size, "status", f->status, "width",
                     (json_int_t)f->width, "height", (json_int_t)f->height, "duration_ms", (json_int_t)f->duration_ms,
                     "created_at", time_rfc3339(f->created_at, ts), "url", url);
}

static void upload_read_reply(struct req *r, struct api_call *ac)
{
    struct upload_read *c = (struct upload_read *)ac;
    if (ac->call.rc != STORE_OK) {
        api_reply_store(r, ac->call.rc, "file_get");
        return;
    }
    res_header(r, "cache-control", "no-store");
    res_json(r, 200, upload_file_json(&c->f));
}

void api_uploads_get(struct req *r)
{
    const char *id = api_id_param_or_reply(r, "fil");
    if (id == NULL)
        return;
    struct upload_read *c = api_call_new(r, sizeof *c, STORE_CALL_READ);
    snprintf(c->id, sizeof c->id, "%s", id);
    /* Another user's file does not exist for the caller. */
    snprintf(c->owner, sizeof c->owner, "%s", req_principal(r)->user_id);
    api_submit(r, &c->base, upload_read_run, upload_read_reply, NULL);
}

/* ---- POST /api/v1/uploads/{id}/complete ---- */

/*
 * With S3 or OSS the bytes go to the bucket, not through Tollgate, so the client says when
 * they are there: the object is read back (to a temporary file, at most its declared size),
 * probed like a local upload - the sniffed type must be the declared one - and the record
 * marked ready. A local upload is completed by its PUT already: then this only answers.
 */
struct upload_fetch {
    struct net_call call; /* first: the net done() gets it back */
    struct req_ref *ref;
    struct stored_file f;
    char *tmp;
    struct media_info mi;
    int probed; /* 1 when the bytes are the declared type */
};

static void upload_fetch_free(struct upload_fetch *x)
{
    if (x->tmp != NULL) {
        unlink(x->tmp);
        free(x->tmp);
    }
    net_call_release(&x->call);
    free(x);
}

struct upload_ready {
    struct api_call base;
    struct stored_file f;
};

static enum store_rc upload_ready_run(struct store *s, struct store_call *sc)
{
    struct upload_ready *c = (struct upload_ready *)sc;
    return store_file_set_ready(s, c->f.id, c->f.content_type, c->f.size, c->f.width, c->f.height,
                                c->f.duration_ms, time_now_ms());
}

static void upload_ready_reply(struct req *r, struct api_call *ac)
{
    struct upload_ready *c = (struct upload_ready *)ac;
    if (ac->call.rc == STORE_CONFLICT) {
        res_error(r, TG_E_CONFLICT, "This file was already completed.", NULL);
        return;
    }
    if (ac->call.rc != STORE_OK) {
        api_reply_store(r, ac->call.rc, "file_set_ready");
        return;
    }
    snprintf(c->f.status, sizeof c->f.status, "ready");
    res_header(r, "cache-control", "no-store");
    res_json(r, 200, upload_file_json(&c->f));
}

/* Blocking pool: probes the downloaded copy, then removes it. */
static void upload_probe_work(void *arg)
{
    struct upload_fetch *x = arg;
    int fd = open(x->tmp, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        x->probed = media_probe_fd(fd, x->f.size, &x->mi) == MEDIA_OK &&
                    strcmp(x->mi.content_type, x->f.content_type) == 0;
        close(fd);
    }
}

static void upload_probe_done(struct req *r, void *arg)
{
    struct upload_fetch *x = arg;
    if (r != NULL && !x->probed) {
        res_error(r, TG_E_INVALID_INPUT, "The file's content is not of the declared type.",
                  json_pack("{s:s, s:s, s:o}", "field", "content_type", "declared", x->f.content_type, "detected",
                            x->mi.content_type ? json_string(x->mi.content_type) : json_null()));
    } else if (r != NULL) {
        struct upload_ready *c = api_call_new(r, sizeof *c, STORE_CALL_WRITE);
        c->f = x->f;
        c->f.width = x->mi.width;
        c->f.height = x->mi.height;
        c->f.duration_ms = x->mi.duration_ms;
        api_submit(r, &c->base, upload_ready_run, upload_ready_reply, NULL);
    }
    upload_fetch_free(x);
}

static void upload_fetch_done(struct net_call *nc)
{
    struct upload_fetch *x = (struct upload_fetch *)nc;
    struct req *r = req_ref_take(x->ref);
    if (r == NULL) {
        upload_fetch_free(x);
        return;
    }
    if (nc->err == NET_OK && (nc->status == 404 || nc->status == 403)) {
        /* Not there (S3 answers 403 for a missing key without ListBucket permission). */
        res_error(r, TG_E_FILE_NOT_READY, "The file has not been uploaded yet; PUT it to upload_url first.", NULL);
        upload_fetch_free(x);
        return;
    }
    if (nc->err == NET_TOO_LARGE || (nc->err == NET_OK && nc->status == 200 && (int64_t)nc->resp_len != x->f.size)) {
        res_error(r, TG_E_INVALID_INPUT, "The stored object is not the declared size.",
                  json_pack("{s:s, s:I}", "field", "size", "size", (json_int_t)x->f.size));
        upload_fetch_free(x);
        return;
    }
    if (nc->err != NET_OK || nc->status != 200) {
        log_event(LOG_WARN, "upload_fetch_failed", "backend", x->f.backend, "error", net_err_name(nc->err), NULL);
        res_error(r, TG_E_UNAVAILABLE, NULL, NULL);
        upload_fetch_free(x);
        return;
    }
    req_defer(r, REQ_WORK_GENERAL, upload_probe_work, upload_probe_done, x);
}

static void upload_complete_found(struct req *r, struct api_call *ac)
{
    struct upload_read *c = (struct upload_read *)ac;
    const struct stored_file *f = &c->f;
    if (ac->call.rc != STORE_OK) {
        api_reply_store(r, ac->call.rc, "file_get");
        return;
    }
    if (strcmp(f->status, "ready") == 0) {
        res_header(r, "cache-control", "no-store");
        res_json(r, 200, upload_file_json(f));
        return;
    }
    const struct storage_backend *b = storage_find(f->backend);
    if (b == NULL || b->kind == STORAGE_LOCAL) {
        /* Local uploads are completed by their PUT (or the backend is no longer configured). */
        res_error(r, TG_E_FILE_NOT_READY, "The file has not been uploaded yet; PUT it to upload_url first.", NULL);
        return;
    }
    char *url = storage_presign_get(b, f->key, time_now_ms(), 600);
    if (url == NULL) {
        res_error(r, TG_E_INTERNAL, NULL, NULL);
        return;
    }
    struct upload_fetch *x = xcalloc(1, sizeof *x);
    x->f = *f;
    x->tmp = storage_tmp_path();
    net_call_init(&x->call, b->name, "GET", url);
    free(url);
    x->call.max_response = (size_t)f->size;
    x->call.timeout_ms = 10 * 60 * 1000; /* the largest video over a slow link */
    net_call_save_to(&x->call, x->tmp);
    x->ref = req_ref_new(r);
    net_exec_submit(req_net(r), &x->call, upload_fetch_done);
}

void api_uploads_complete(struct req *r)
{
    const char *id = api_id_param_or_reply(r, "fil");
    if (id == NULL)
        return;
    struct upload_read *c = api_call_new(r, sizeof *c, STORE_CALL_READ);
    snprintf(c->id, sizeof c->id, "%s", id);
    snprintf(c->owner, sizeof c->owner, "%s", req_principal(r)->user_id);
    api_submit(r, &c->base, upload_read_run, upload_complete_found, NULL);
}
