/*
 * uploads.c - POST /api/v1/uploads (a signed URL to upload one input file) and
 * GET /api/v1/uploads/{id} (the caller's file: what was found in it, and a signed URL to
 * read it once ready).
 *
 * The file's backend follows the caller's region (storage_for_region: OSS for CN, S3 for
 * GLOBAL when configured, else the local disk); its key is in/<user id>/<file id>, so a URL
 * is only ever minted for the owner's own keys. A local upload is checked and probed when it
 * arrives (files.c); the record stays "pending" until then.
 */
#include "api/api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/ids.h"
#include "core/media.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "providers/storage/storage.h"

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

static void upload_read_reply(struct req *r, struct api_call *ac)
{
    struct upload_read *c = (struct upload_read *)ac;
    const struct stored_file *f = &c->f;
    char ts[32];
    if (ac->call.rc != STORE_OK) {
        api_reply_store(r, ac->call.rc, "file_get");
        return;
    }
    json_t *url = json_null();
    const struct storage_backend *b = storage_find(f->backend);
    if (strcmp(f->status, "ready") == 0 && b != NULL) {
        char *u = storage_presign_get(b, f->key, time_now_ms(), DOWNLOAD_URL_TTL_S);
        if (u != NULL)
            url = json_string(u);
        free(u);
    }
    json_t *body = json_pack("{s:s, s:s, s:s, s:I, s:s, s:I, s:I, s:I, s:s, s:o}", "id", f->id, "purpose", f->purpose,
                             "content_type", f->content_type, "size", (json_int_t)f->size, "status", f->status,
                             "width", (json_int_t)f->width, "height", (json_int_t)f->height, "duration_ms",
                             (json_int_t)f->duration_ms, "created_at", time_rfc3339(f->created_at, ts), "url", url);
    res_header(r, "cache-control", "no-store");
    res_json(r, 200, body);
}

void api_uploads_get(struct req *r)
{
    const char *id = req_param(r, "id");
    /* Garbage ids cannot name a file: 404 without asking the store. */
    if (!id_valid(id, "fil")) {
        res_error(r, TG_E_NOT_FOUND, NULL, NULL);
        return;
    }
    struct upload_read *c = api_call_new(r, sizeof *c, STORE_CALL_READ);
    snprintf(c->id, sizeof c->id, "%s", id);
    /* Another user's file does not exist for the caller. */
    snprintf(c->owner, sizeof c->owner, "%s", req_principal(r)->user_id);
    api_submit(r, &c->base, upload_read_run, upload_read_reply, NULL);
}
