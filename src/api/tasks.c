/*
 * tasks.c - generation tasks (DESIGN section 7, docs/GENERATION.md):
 *   POST /api/v1/tasks                 submit (Idempotency-Key): checked, priced, reserved
 *   GET  /api/v1/tasks                 the caller's tasks, newest first (cursor; ?status= ?kind=)
 *   GET  /api/v1/tasks/{id}            one task: status, progress, cost, outputs, error
 *   POST /api/v1/tasks/{id}/cancel     cancel a live task: everything reserved comes back
 *   POST /api/v1/callbacks/{provider}  a provider says a task finished (kie.ai): a hint only
 *
 * A submission is checked completely before any credit moves: the kind's fields, each input
 * (a file of the caller's that is uploaded, of a type, size, length and resolution the model
 * takes, or an https URL), the price in force, the provider. Then one write transaction
 * (domain/tasks.h) checks the Idempotency-Key and the cap on live tasks, debits the estimate
 * and stores the task; the dispatcher (worker/dispatcher.c) takes it from there. Nothing
 * reaches a provider from here, so a refusal (402, 422, 429) costs nothing anywhere.
 */
#include "api/api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "core/utf8.h"
#include "domain/catalog.h"
#include "domain/idempotency.h"
#include "domain/tasks.h"
#include "providers/gen/gen.h"
#include "providers/storage/storage.h"

/* How long the signed URL of an output in an answer works: long enough to watch or download
 * a video, short enough that a link passed on stops working. */
#define API_OUTPUT_URL_TTL_S 3600
/* How old a kie.ai callback's timestamp may be (it is only a hint: the task is re-read). */
#define API_CALLBACK_TOLERANCE_S 300

/* ---- the task as clients see it ---- */

/* outputs_json of a succeeded task is [{"file_id","content_type","size","key","backend"}];
 * clients get the file with a signed URL minted now (it expires; GET the task again for a
 * fresh one), never the storage key. */
static json_t *task_outputs_json(const struct task *t, int64_t now_ms)
{
    json_t *out = json_array();
    if (strcmp(t->status, "succeeded") != 0 || t->outputs_json == NULL)
        return out;
    json_t *stored = json_loads(t->outputs_json, 0, NULL);
    size_t i;
    json_t *o;
    json_array_foreach(stored, i, o)
    {
        const char *key = json_string_value(json_object_get(o, "key"));
        const char *backend = json_string_value(json_object_get(o, "backend"));
        const struct storage_backend *b = backend ? storage_find(backend) : NULL;
        char *url = b != NULL && key != NULL ? storage_presign_get(b, key, now_ms, API_OUTPUT_URL_TTL_S) : NULL;
        json_t *u = url ? json_string(url) : json_null();
        free(url);
        json_array_append_new(out, json_pack("{s:O, s:O, s:O, s:o}", "file_id", json_object_get(o, "file_id"),
                                             "content_type", json_object_get(o, "content_type"), "size",
                                             json_object_get(o, "size"), "url", u));
    }
    json_decref(stored);
    return out;
}

json_t *api_task_json(const struct task *t, int64_t now_ms)
{
    json_t *inputs = t->inputs_json ? json_loads(t->inputs_json, 0, NULL) : NULL;
    json_t *err = t->error_code[0] ? json_pack("{s:s, s:s}", "code", t->error_code, "message", t->error_message)
                                   : json_null();
    char cts[32], uts[32]; /* one buffer each: both are read only once json_pack runs */
    json_t *j = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:i, s:{s:I, s:o, s:I, s:s, s:I}, s:o, s:o, s:o, s:s, s:s}", "id", t->id, "kind",
        t->kind, "status", t->status, "provider", t->provider, "model", t->model, "progress", t->progress, "cost",
        "reserved", (json_int_t)t->reserved, "settled", t->settled >= 0 ? json_integer(t->settled) : json_null(),
        "refunded", (json_int_t)t->refunded, "unit", t->price_unit, "unit_credits", (json_int_t)t->unit_credits,
        "inputs", inputs ? inputs : json_object(), "outputs", task_outputs_json(t, now_ms), "error", err,
        "created_at", time_rfc3339(t->created_at, cts), "updated_at", time_rfc3339(t->updated_at, uts));
    if (j == NULL)
        return NULL;
    json_object_set_new(j, "submitted_at", api_time_or_null(t->submitted_at));
    json_object_set_new(j, "finished_at", api_time_or_null(t->finished_at));
    return j;
}

/* The answer stored for an Idempotency-Key with the task it created. */
static char *task_render(const struct task *t, int *status)
{
    json_t *j = api_task_json(t, t->created_at);
    *status = 202;
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    return s;
}

/* ---- what each kind takes ---- */

/* An input's place in the request and what it must be. */
enum media_class { MEDIA_IMAGE, MEDIA_VIDEO };

struct media_limits {
    const char *const *types; /* accepted content types, NULL-terminated */
    int64_t max_bytes;
    int64_t min_px, max_px;  /* each side, when known */
    int64_t min_ms, max_ms;  /* videos, when known */
    int aspect_3;            /* 1: sides within 1:3 .. 3:1 */
};

static const char *const animate_image_types[] = {"image/jpeg", "image/png", "image/bmp", "image/webp", NULL};
static const char *const animate_video_types[] = {"video/mp4", "video/quicktime", "video/x-msvideo", NULL};
static const char *const frame_types[] = {"image/jpeg", "image/png", "image/webp", NULL};

/* DashScope's wan2.2-animate limits (PROVIDERS.md 8.1). */
static const struct media_limits animate_image = {animate_image_types, 5 * 1024 * 1024, 200, 4096, 0, 0, 1};
static const struct media_limits animate_video = {animate_video_types, 200 * 1024 * 1024, 200, 2048, 2000, 30000, 1};
/* Veo3 frames and Gemini inputs: Gemini takes at most 20 MB of inline data per request, so
 * four images of up to 5 MiB each. */
static const struct media_limits frame_image = {frame_types, 5 * 1024 * 1024, 1, 8192, 0, 0, 0};

/* Seconds of output reserved when the input video's length is unknown (a URL): the longest
 * the models take. Settled on the real length afterwards. */
#define TASKS_UNKNOWN_VIDEO_S 30

/* A reference to an input as sent: a file id of the caller's, or an https URL. */
struct media_ref {
    char field[16];          /* "image", "video", "images[2]" */
    const struct media_limits *lim;
    enum media_class cls;
    char file_id[TG_ID_MAX]; /* or */
    char url[GEN_URL_MAX];
    int64_t duration_ms;     /* found in run(): 0 unknown */
};

#define TASKS_MAX_REFS (2 + GEN_MAX_IMAGES)

struct task_create {
    struct api_call base;
    struct task t;
    enum task_kind_id kind;
    char provider_req[TG_PROVIDER_MAX];
    char mode[16];
    char aspect[8];
    char outcome_req[8]; /* sandbox only */
    char *prompt;
    struct media_ref refs[TASKS_MAX_REFS];
    size_t n_refs;
    size_t n_images; /* of refs, the "images" array */
    int has_idem;
    struct idem idem;
    int64_t max_live;
    /* results of run() */
    enum tasks_submit_outcome outcome;
    enum tg_err bad;       /* 0 none, else the refusal */
    char bad_field[16];
    char bad_msg[200];
};

static void task_create_cleanup(struct api_call *ac)
{
    struct task_create *c = (struct task_create *)ac;
    task_clear(&c->t);
    free(c->prompt);
    if (c->has_idem)
        idem_clear(&c->idem);
}

/* An https URL a provider can fetch: ASCII only (DashScope refuses others), no spaces,
 * bounded. Not fetched here. */
static int url_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 9 || n >= GEN_URL_MAX || strncmp(s, "https://", 8) != 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
            return 0;
    return 1;
}

/* Reads one input (a string: file id or URL) into ref. Replies 400 and returns -1 on bad
 * input. */
static int ref_parse(struct req *r, json_t *v, const char *field, enum media_class cls,
                     const struct media_limits *lim, struct media_ref *ref)
{
    const char *s = json_string_value(v);
    snprintf(ref->field, sizeof ref->field, "%s", field);
    ref->cls = cls;
    ref->lim = lim;
    if (s != NULL && id_valid(s, "fil")) {
        snprintf(ref->file_id, sizeof ref->file_id, "%s", s);
        return 0;
    }
    if (s != NULL && url_ok(s)) {
        snprintf(ref->url, sizeof ref->url, "%s", s);
        return 0;
    }
    api_reply_field(r, TG_E_VALIDATION, field,
                    "Must be the id of a file you uploaded (fil_...) or an https URL of ASCII characters.");
    return -1;
}

static int in_list(const char *s, const char *const *list)
{
    for (size_t i = 0; list[i] != NULL; i++)
        if (strcmp(s, list[i]) == 0)
            return 1;
    return 0;
}

/* Checks a stored file against ref's limits; sets c->bad and returns -1 when it fails. */
static int ref_check_file(struct task_create *c, struct media_ref *ref, const struct stored_file *f)
{
    const struct media_limits *l = ref->lim;
    snprintf(c->bad_field, sizeof c->bad_field, "%s", ref->field);
    c->bad = TG_E_INVALID_INPUT;
    if (strcmp(f->status, "ready") != 0) {
        c->bad = TG_E_FILE_NOT_READY;
        snprintf(c->bad_msg, sizeof c->bad_msg,
                 "Upload the file first (with S3 or OSS storage, then POST /api/v1/uploads/{id}/complete).");
        return -1;
    }
    if (!in_list(f->content_type, l->types)) {
        snprintf(c->bad_msg, sizeof c->bad_msg, "This model does not take %s here.", f->content_type);
        return -1;
    }
    if (f->size > l->max_bytes) {
        snprintf(c->bad_msg, sizeof c->bad_msg, "The file is larger than %lld MiB.",
                 (long long)(l->max_bytes / (1024 * 1024)));
        return -1;
    }
    if (f->width > 0 && f->height > 0) {
        if (f->width < l->min_px || f->height < l->min_px || f->width > l->max_px || f->height > l->max_px) {
            snprintf(c->bad_msg, sizeof c->bad_msg, "Width and height must be from %lld to %lld pixels.",
                     (long long)l->min_px, (long long)l->max_px);
            return -1;
        }
        if (l->aspect_3 && (f->width > 3 * f->height || f->height > 3 * f->width)) {
            snprintf(c->bad_msg, sizeof c->bad_msg, "The aspect ratio must be between 1:3 and 3:1.");
            return -1;
        }
    }
    if (ref->cls == MEDIA_VIDEO && f->duration_ms > 0 && (f->duration_ms < l->min_ms || f->duration_ms > l->max_ms)) {
        snprintf(c->bad_msg, sizeof c->bad_msg, "The video must last from %lld to %lld seconds.",
                 (long long)(l->min_ms / 1000), (long long)(l->max_ms / 1000));
        return -1;
    }
    ref->duration_ms = f->duration_ms;
    c->bad = 0;
    c->bad_field[0] = '\0';
    return 0;
}

static json_t *ref_json(const struct media_ref *ref)
{
    return ref->file_id[0] ? json_pack("{s:s}", "file_id", ref->file_id) : json_pack("{s:s}", "url", ref->url);
}

/* The provider that runs kind when the caller names none, or checks the one named: the
 * kind's real provider when it has a usable key, else the sandbox when it is offered.
 * Returns the provider or NULL (c->bad set). */
static const struct gen_provider *task_pick_provider(struct store *s, struct task_create *c)
{
    static const char *const real[TASK__COUNT] = {"dashscope", "dashscope", "kie", "gemini"};
    const char *want = c->provider_req;
    if (want[0] && strcmp(want, "sandbox") != 0 && strcmp(want, real[c->kind]) != 0) {
        c->bad = TG_E_VALIDATION;
        snprintf(c->bad_field, sizeof c->bad_field, "provider");
        snprintf(c->bad_msg, sizeof c->bad_msg, "%s tasks run on %s%s.", task_kind_name(c->kind), real[c->kind],
                 tg_cfg->sandbox ? " or sandbox" : "");
        return NULL;
    }
    if (!want[0] || strcmp(want, "sandbox") != 0) {
        struct provider_key *keys = NULL;
        size_t n = 0, usable = 0;
        if (store_pkey_list(s, real[c->kind], &keys, &n) == STORE_OK)
            for (size_t i = 0; i < n; i++)
                usable += !keys[i].disabled;
        free(keys);
        if (usable > 0)
            return gen_provider_find(real[c->kind]);
        if (want[0]) {
            c->bad = TG_E_GENERATION_UNAVAILABLE;
            snprintf(c->bad_msg, sizeof c->bad_msg, "%s has no usable API key right now.", real[c->kind]);
            return NULL;
        }
    }
    if (tg_cfg->sandbox)
        return gen_provider_find("sandbox");
    c->bad = TG_E_GENERATION_UNAVAILABLE;
    c->bad_msg[0] = '\0';
    return NULL;
}

static enum store_rc task_create_run(struct store *s, struct store_call *sc)
{
    struct task_create *c = (struct task_create *)sc;
    int64_t now = c->t.created_at;
    c->bad = 0;
    c->bad_field[0] = c->bad_msg[0] = '\0';
    c->outcome = TASKS_CREATED;
    free(c->t.inputs_json);
    c->t.inputs_json = NULL;

    const struct gen_provider *p = task_pick_provider(s, c);
    if (p == NULL)
        return STORE_OK;
    /* Inputs: each file must be the caller's, uploaded, and within the model's limits. */
    for (size_t i = 0; i < c->n_refs; i++) {
        struct media_ref *ref = &c->refs[i];
        ref->duration_ms = 0;
        if (!ref->file_id[0])
            continue;
        struct stored_file f;
        enum store_rc rc = store_file_get(s, ref->file_id, c->t.user_id, &f);
        if (rc == STORE_NOTFOUND || (rc == STORE_OK && strcmp(f.purpose, "input") != 0)) {
            c->bad = TG_E_INVALID_INPUT;
            snprintf(c->bad_field, sizeof c->bad_field, "%s", ref->field);
            snprintf(c->bad_msg, sizeof c->bad_msg, "There is no such file of yours.");
            return STORE_OK;
        }
        if (rc != STORE_OK)
            return rc;
        if (ref_check_file(c, ref, &f) != 0)
            return STORE_OK;
    }
    /* The price in force, and the units reserved. */
    const char *unit = NULL;
    int64_t credits = 0, units = 1;
    if (catalog_task_price((int)c->kind, c->mode, &unit, &credits) != 0)
        return STORE_ERROR; /* the kind and mode were checked: the catalog lost them */
    if (strcmp(unit, "second") == 0) {
        units = TASKS_UNKNOWN_VIDEO_S;
        for (size_t i = 0; i < c->n_refs; i++)
            if (c->refs[i].cls == MEDIA_VIDEO && c->refs[i].duration_ms > 0)
                units = (c->refs[i].duration_ms + 999) / 1000;
    }
    /* The inputs as stored and shown. */
    json_t *in = json_object();
    size_t k = 0;
    for (; k < c->n_refs - c->n_images; k++)
        json_object_set_new(in, c->refs[k].field, ref_json(&c->refs[k]));
    if (c->n_images > 0) {
        json_t *a = json_array();
        for (; k < c->n_refs; k++)
            json_array_append_new(a, ref_json(&c->refs[k]));
        json_object_set_new(in, "images", a);
    }
    if (c->mode[0])
        json_object_set_new(in, "mode", json_string(c->mode));
    if (c->prompt != NULL)
        json_object_set_new(in, "prompt", json_string(c->prompt));
    if (c->aspect[0])
        json_object_set_new(in, "aspect_ratio", json_string(c->aspect));
    if (strcmp(p->name, "sandbox") == 0 && c->outcome_req[0])
        json_object_set_new(in, "sandbox_outcome", json_string(c->outcome_req));
    c->t.inputs_json = json_dumps(in, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(in);
    if (c->t.inputs_json == NULL)
        return STORE_ERROR;

    struct task *t = &c->t;
    snprintf(t->provider, sizeof t->provider, "%s", p->name);
    snprintf(t->model, sizeof t->model, "%s", p->model(c->kind, c->mode));
    snprintf(t->price_unit, sizeof t->price_unit, "%s", unit);
    t->unit_credits = credits;
    t->est_units = units;
    t->reserved = credits * units;
    t->next_at = now;
    t->deadline_at = now + (int64_t)tg_cfg->task_timeout_s * 1000;
    t->settled = -1;
    return tasks_submit_tx(s, c->has_idem ? &c->idem : NULL, t, c->max_live, task_render, now, &c->outcome);
}

static void task_create_reply(struct req *r, struct api_call *ac)
{
    struct task_create *c = (struct task_create *)ac;
    if (ac->call.rc != STORE_OK) {
        api_reply_store(r, ac->call.rc == STORE_NOTFOUND ? STORE_ERROR : ac->call.rc, "task_create");
        return;
    }
    if (c->bad) {
        if (c->bad_field[0])
            api_reply_field(r, c->bad, c->bad_field, c->bad_msg[0] ? c->bad_msg : NULL);
        else
            res_error(r, c->bad, c->bad_msg[0] ? c->bad_msg : NULL, NULL);
        return;
    }
    switch (c->outcome) {
    case TASKS_CREATED: {
        json_t *j = api_task_json(&c->t, c->t.created_at);
        if (j == NULL) {
            res_error(r, TG_E_INTERNAL, NULL, NULL);
            return;
        }
        char loc[80];
        snprintf(loc, sizeof loc, "/api/v1/tasks/%s", c->t.id);
        res_header(r, "location", loc);
        res_header(r, "cache-control", "no-store");
        res_json(r, 202, j);
        log_event(LOG_INFO, "task_created", "task", c->t.id, "kind", c->t.kind, "provider", c->t.provider, NULL);
        return;
    }
    case TASKS_REPLAY:
        res_header(r, "cache-control", "no-store");
        res_header(r, "idempotent-replayed", "true");
        res_json_text(r, c->idem.status, c->idem.body, strlen(c->idem.body));
        return;
    case TASKS_KEY_REUSED:
        res_error(r, TG_E_IDEMPOTENCY_MISMATCH, NULL, NULL);
        return;
    case TASKS_INSUFFICIENT:
        res_error(r, TG_E_INSUFFICIENT_CREDITS, NULL,
                  json_pack("{s:I}", "required", (json_int_t)c->t.reserved));
        return;
    case TASKS_TOO_MANY:
        /* A live task takes from seconds (images) to minutes (video): look again shortly. */
        res_header(r, "retry-after", "15");
        res_error(r, TG_E_TOO_MANY_TASKS, NULL, json_pack("{s:I}", "limit", (json_int_t)c->max_live));
        return;
    }
    res_error(r, TG_E_INTERNAL, NULL, NULL);
}

/* Reads a string field of bounded length (bytes) into out; "" when absent. -1 replied. */
static int opt_string(struct req *r, json_t *body, const char *name, char *out, size_t cap,
                      const char *const *allowed, const char *help)
{
    json_t *v = json_object_get(body, name);
    out[0] = '\0';
    if (v == NULL || json_is_null(v))
        return 0;
    const char *s = json_string_value(v);
    if (s == NULL || s[0] == '\0' || strlen(s) >= cap || (allowed != NULL && !in_list(s, allowed))) {
        api_reply_field(r, TG_E_VALIDATION, name, help);
        return -1;
    }
    memcpy(out, s, strlen(s) + 1);
    return 0;
}

void api_tasks_create(struct req *r)
{
    static const char *const allowed[] = {"kind",   "provider",     "mode",   "image",   "video",
                                          "prompt", "aspect_ratio", "images", "sandbox", NULL};
    static const char *const modes[] = {"wan-std", "wan-pro", NULL};
    static const char *const video_aspects[] = {"16:9", "9:16", NULL};
    static const char *const image_aspects[] = {"1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4",
                                                "9:16", "16:9", "21:9", NULL};
    static const char *const outcomes[] = {"succeed", "fail", "never", NULL};
    const char *key = req_header(r, "idempotency-key");
    if (key != NULL && !idem_key_valid(key)) {
        api_reply_field(r, TG_E_VALIDATION, "Idempotency-Key", "1 to 128 visible ASCII characters.");
        return;
    }
    struct jerr e;
    json_t *body = req_json_or_reply(r);
    if (body == NULL)
        return;
    if (jv_only(body, allowed, &e) != 0) {
        api_reply_jerr(r, &e);
        return;
    }
    const char *kind = NULL;
    if (jv_string(body, "kind", 1, 1, 32, &kind, &e) != 0) {
        api_reply_jerr(r, &e);
        return;
    }
    enum task_kind_id k;
    if (task_kind_parse(kind, &k) != 0) {
        api_reply_field(r, TG_E_VALIDATION, "kind", "One of animate_move, animate_mix, text_to_video, image.");
        return;
    }
    int animate = k == TASK_ANIMATE_MOVE || k == TASK_ANIMATE_MIX;
    /* Fields of another kind are refused rather than ignored: a client that sends a prompt
     * to an animation expects it to matter. */
    static const char *const animate_fields[] = {"kind", "provider", "mode", "image", "video", "sandbox", NULL};
    static const char *const t2v_fields[] = {"kind", "provider", "prompt", "aspect_ratio", "images", "sandbox", NULL};
    static const char *const image_fields[] = {"kind", "provider", "prompt", "aspect_ratio", "images", "sandbox",
                                               NULL};
    if (jv_only(body, animate ? animate_fields : k == TASK_TEXT_TO_VIDEO ? t2v_fields : image_fields, &e) != 0) {
        api_reply_jerr(r, &e);
        return;
    }
    /* Video kinds count against the seeds' video policy (10 an hour per user). */
    if (k != TASK_IMAGE) {
        char rk[TG_ID_MAX + 4];
        snprintf(rk, sizeof rk, "u:%s", req_principal(r)->user_id);
        if (req_rate_limit_or_reply(r, RL_VIDEO, rk) != 0)
            return;
    }

    struct task_create *c = api_call_new(r, sizeof *c, STORE_CALL_WRITE);
    c->kind = k;
    c->max_live = tg_cfg->tasks_max_live;
    if (opt_string(r, body, "provider", c->provider_req, sizeof c->provider_req, NULL,
                   "The name of a generation provider.") != 0)
        goto fail;
    if (animate) {
        if (opt_string(r, body, "mode", c->mode, sizeof c->mode, modes, "wan-std or wan-pro.") != 0)
            goto fail;
        if (!c->mode[0])
            strcpy(c->mode, "wan-std");
        json_t *img = json_object_get(body, "image"), *vid = json_object_get(body, "video");
        if (img == NULL || vid == NULL) {
            api_reply_field(r, TG_E_VALIDATION, img == NULL ? "image" : "video", "This field is required.");
            goto fail;
        }
        if (ref_parse(r, img, "image", MEDIA_IMAGE, &animate_image, &c->refs[0]) != 0 ||
            ref_parse(r, vid, "video", MEDIA_VIDEO, &animate_video, &c->refs[1]) != 0)
            goto fail;
        c->n_refs = 2;
    } else {
        const char *prompt = NULL;
        if (jv_string(body, "prompt", 1, 1, GEN_PROMPT_MAX, &prompt, &e) != 0) {
            api_reply_jerr(r, &e);
            goto fail;
        }
        if (!utf8_valid(prompt, strlen(prompt))) {
            api_reply_field(r, TG_E_VALIDATION, "prompt", "Must be UTF-8 text.");
            goto fail;
        }
        for (const char *q = prompt; *q; q++)
            if ((unsigned char)*q < 0x20 && *q != '\n' && *q != '\t') {
                api_reply_field(r, TG_E_VALIDATION, "prompt", "Must not contain control characters.");
                goto fail;
            }
        c->prompt = xstrdup(prompt);
        if (opt_string(r, body, "aspect_ratio", c->aspect, sizeof c->aspect,
                       k == TASK_TEXT_TO_VIDEO ? video_aspects : image_aspects,
                       k == TASK_TEXT_TO_VIDEO ? "16:9 or 9:16." : "One of 1:1, 2:3, 3:2, 3:4, 4:3, 4:5, 5:4, 9:16, 16:9, 21:9.") != 0)
            goto fail;
        if (k == TASK_TEXT_TO_VIDEO && !c->aspect[0])
            strcpy(c->aspect, "16:9");
        json_t *imgs = json_object_get(body, "images");
        size_t max = k == TASK_TEXT_TO_VIDEO ? 2 : GEN_MAX_IMAGES;
        if (imgs != NULL && !json_is_null(imgs)) {
            if (!json_is_array(imgs) || json_array_size(imgs) > max) {
                char help[80];
                snprintf(help, sizeof help, "An array of at most %zu images (file ids or https URLs).", max);
                api_reply_field(r, TG_E_VALIDATION, "images", help);
                goto fail;
            }
            size_t i;
            json_t *v;
            json_array_foreach(imgs, i, v)
            {
                char field[16];
                snprintf(field, sizeof field, "images[%u]", (unsigned)(i % 10));
                if (ref_parse(r, v, field, MEDIA_IMAGE, &frame_image, &c->refs[c->n_refs]) != 0)
                    goto fail;
                c->n_refs++;
                c->n_images++;
            }
        }
    }
    json_t *sb = json_object_get(body, "sandbox");
    if (sb != NULL) {
        static const char *const sb_allowed[] = {"outcome", NULL};
        if (jv_only(sb, sb_allowed, &e) != 0) {
            api_reply_jerr(r, &e);
            goto fail;
        }
        if (opt_string(r, sb, "outcome", c->outcome_req, sizeof c->outcome_req, outcomes,
                       "succeed, fail or never.") != 0)
            goto fail;
    }
    if (key != NULL) {
        size_t blen;
        const char *braw = req_body(r, &blen);
        c->has_idem = 1;
        idem_init(&c->idem, req_principal(r)->user_id, key, "POST", "/api/v1/tasks", braw, blen);
    }
    struct task *t = &c->t;
    id_new(t->id, "tsk");
    memcpy(t->user_id, req_principal(r)->user_id, sizeof t->user_id);
    snprintf(t->kind, sizeof t->kind, "%s", task_kind_name(k));
    t->created_at = time_now_ms();
    api_submit(r, &c->base, task_create_run, task_create_reply, task_create_cleanup);
    return;
fail:
    /* A write context is always on the heap (api_call_new): released here, never submitted. */
    task_create_cleanup(&c->base);
    free(c);
}

/* ---- reading ---- */

struct task_read {
    struct api_call base;
    char id[TG_ID_MAX];
    char owner[TG_ID_MAX];
    struct task t;
};

static enum store_rc task_read_run(struct store *s, struct store_call *sc)
{
    struct task_read *c = (struct task_read *)sc;
    task_clear(&c->t);
    return store_task_get(s, c->id, c->owner, &c->t);
}

static void task_read_reply(struct req *r, struct api_call *ac)
{
    struct task_read *c = (struct task_read *)ac;
    if (ac->call.rc != STORE_OK) {
        api_reply_store(r, ac->call.rc, "task_get");
        return;
    }
    json_t *j = api_task_json(&c->t, time_now_ms());
    if (j == NULL) {
        res_error(r, TG_E_INTERNAL, NULL, NULL);
        return;
    }
    res_header(r, "cache-control", "no-store");
    res_json(r, 200, j);
}

static void task_read_cleanup(struct api_call *ac) { task_clear(&((struct task_read *)ac)->t); }

void api_tasks_get(struct req *r)
{
    const char *id = api_id_param_or_reply(r, "tsk");
    if (id == NULL)
        return;
    struct task_read *c = api_call_new(r, sizeof *c, STORE_CALL_READ);
    snprintf(c->id, sizeof c->id, "%s", id);
    memcpy(c->owner, req_principal(r)->user_id, sizeof c->owner);
    api_submit(r, &c->base, task_read_run, task_read_reply, task_read_cleanup);
}

struct task_list {
    struct api_call base;
    char user_id[TG_ID_MAX], status[TG_TASK_STATUS_MAX], kind[TG_TASK_KIND_MAX], cursor[TG_ID_MAX];
    size_t limit;
    struct task *tasks;
    size_t n;
};

static void task_list_free(struct task_list *c)
{
    for (size_t i = 0; i < c->n; i++)
        task_clear(&c->tasks[i]);
    free(c->tasks);
    c->tasks = NULL;
    c->n = 0;
}

static enum store_rc task_list_run(struct store *s, struct store_call *sc)
{
    struct task_list *c = (struct task_list *)sc;
    task_list_free(c);
    struct task_filter f = {c->user_id, c->status, c->kind};
    /* One more than asked for tells whether another page exists. */
    return store_task_list(s, &f, c->cursor[0] ? c->cursor : NULL, c->limit + 1, &c->tasks, &c->n);
}

static void task_list_reply(struct req *r, struct api_call *ac)
{
    struct task_list *c = (struct task_list *)ac;
    if (ac->call.rc != STORE_OK) {
        api_reply_store(r, ac->call.rc == STORE_NOTFOUND ? STORE_ERROR : ac->call.rc, "task_list");
        return;
    }
    int64_t now = time_now_ms();
    json_t *data = json_array();
    size_t shown = c->n > c->limit ? c->limit : c->n;
    for (size_t i = 0; i < shown; i++)
        json_array_append_new(data, api_task_json(&c->tasks[i], now));
    json_t *next = c->n > c->limit ? json_string(c->tasks[c->limit - 1].id) : json_null();
    res_header(r, "cache-control", "no-store");
    res_json(r, 200, json_pack("{s:o, s:o}", "data", data, "next_cursor", next));
}

static void task_list_cleanup(struct api_call *ac) { task_list_free((struct task_list *)ac); }

void api_tasks_list(struct req *r)
{
    size_t limit;
    const char *cursor;
    if (api_page_params_or_reply(r, "tsk", &limit, &cursor) != 0)
        return;
    const char *status = req_query(r, "status"), *kind = req_query(r, "kind");
    enum task_kind_id k;
    if (status != NULL && status[0] && !task_status_valid(status)) {
        api_reply_field(r, TG_E_VALIDATION, "status",
                        "One of queued, submitted, running, succeeded, failed, timed_out, canceled.");
        return;
    }
    if (kind != NULL && kind[0] && task_kind_parse(kind, &k) != 0) {
        api_reply_field(r, TG_E_VALIDATION, "kind", "One of animate_move, animate_mix, text_to_video, image.");
        return;
    }
    struct task_list *c = api_call_new(r, sizeof *c, STORE_CALL_READ);
    c->limit = limit;
    snprintf(c->cursor, sizeof c->cursor, "%s", cursor ? cursor : "");
    memcpy(c->user_id, req_principal(r)->user_id, sizeof c->user_id);
    snprintf(c->status, sizeof c->status, "%s", status ? status : "");
    snprintf(c->kind, sizeof c->kind, "%s", kind ? kind : "");
    api_submit(r, &c->base, task_list_run, task_list_reply, task_list_cleanup);
}

/* ---- cancel ---- */

static enum store_rc task_cancel_run(struct store *s, struct store_call *sc)
{
    struct task_read *c = (struct task_read *)sc;
    task_clear(&c->t);
    return tasks_cancel_tx(s, c->owner, c->id, time_now_ms(), &c->t);
}

static void task_cancel_reply(struct req *r, struct api_call *ac)
{
    struct task_read *c = (struct task_read *)ac;
    if (ac->call.rc == STORE_CONFLICT) {
        res_error(r, TG_E_TASK_FINISHED, NULL, json_pack("{s:s}", "status", c->t.status));
        return;
    }
    if (ac->call.rc == STORE_OK)
        log_event(LOG_INFO, "task_canceled", "task", c->t.id, "refunded", NULL, NULL);
    task_read_reply(r, ac);
}

void api_tasks_cancel(struct req *r)
{
    const char *id = api_id_param_or_reply(r, "tsk");
    if (id == NULL)
        return;
    struct task_read *c = api_call_new(r, sizeof *c, STORE_CALL_WRITE);
    snprintf(c->id, sizeof c->id, "%s", id);
    memcpy(c->owner, req_principal(r)->user_id, sizeof c->owner);
    api_submit(r, &c->base, task_cancel_run, task_cancel_reply, task_read_cleanup);
}

/* ---- provider callbacks ---- */

/*
 * kie.ai posts here when a task ends. Its signature (when a key is configured) covers only
 * the task id and a timestamp, not the body, so nothing in the body is believed: the task is
 * only woken, and the dispatcher asks kie.ai for its state at once.
 */
struct task_wake {
    struct api_call base;
    char provider[TG_PROVIDER_MAX];
    char ptid[TG_PROVIDER_TASK_MAX];
    int found;
};

static enum store_rc task_wake_run(struct store *s, struct store_call *sc)
{
    struct task_wake *c = (struct task_wake *)sc;
    struct task t = {0};
    c->found = 0;
    enum store_rc rc = store_task_get_by_provider_ref(s, c->provider, c->ptid, &t);
    if (rc == STORE_NOTFOUND)
        return STORE_OK;
    if (rc != STORE_OK)
        return rc;
    rc = store_task_set_next(s, t.id, time_now_ms(), time_now_ms());
    task_clear(&t);
    if (rc == STORE_NOTFOUND)
        return STORE_OK; /* finished meanwhile */
    c->found = rc == STORE_OK;
    return rc;
}

static void task_wake_reply(struct req *r, struct api_call *ac)
{
    struct task_wake *c = (struct task_wake *)ac;
    if (ac->call.rc != STORE_OK) {
        api_reply_store(r, ac->call.rc == STORE_NOTFOUND ? STORE_ERROR : ac->call.rc, "task_wake");
        return;
    }
    log_event(LOG_INFO, "task_callback", "provider", c->provider, "known", c->found ? "true" : "false", NULL);
    res_json(r, 200, json_pack("{s:b}", "received", 1));
}

void api_callbacks_post(struct req *r)
{
    const char *provider = req_param(r, "provider");
    if (provider == NULL || strcmp(provider, "kie") != 0) {
        res_error(r, TG_E_NOT_FOUND, NULL, NULL);
        return;
    }
    size_t len;
    const char *body = req_body(r, &len);
    char ptid[TG_PROVIDER_TASK_MAX];
    if (body == NULL || gen_kie_callback_task_id(body, len, ptid) != 0) {
        res_error(r, TG_E_WEBHOOK_REJECTED, "Not a kie.ai task callback.", NULL);
        return;
    }
    const char *hkey = config_get("TG_KIE_WEBHOOK_HMAC_KEY");
    if (hkey != NULL && hkey[0] &&
        !gen_kie_callback_verify(hkey, ptid, req_header_unique(r, "x-webhook-timestamp"),
                                 req_header_unique(r, "x-webhook-signature"), time_now_ms() / 1000,
                                 API_CALLBACK_TOLERANCE_S)) {
        api_audit_then_error(r, "", "callback.rejected", "provider", "kie", NULL, TG_E_WEBHOOK_REJECTED,
                             "The callback signature does not verify.", NULL);
        return;
    }
    struct task_wake *c = api_call_new(r, sizeof *c, STORE_CALL_WRITE);
    snprintf(c->provider, sizeof c->provider, "kie");
    snprintf(c->ptid, sizeof c->ptid, "%s", ptid);
    api_submit(r, &c->base, task_wake_run, task_wake_reply, NULL);
}
