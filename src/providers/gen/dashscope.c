/*
 * dashscope.c - Alibaba Cloud DashScope (Model Studio) wan2.2-animate-move / -mix
 * (PROVIDERS.md section 8): an asynchronous task created with
 * POST /api/v1/services/aigc/image2video/video-synthesis (X-DashScope-Async: enable, without
 * which DashScope refuses: "current user api does not support synchronous calls") and
 * polled with GET /api/v1/tasks/{id}, with the key that created it (tasks belong to the
 * account). Billed per second of output, reported in usage.video_duration.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "core/config.h"
#include "core/mem.h"
#include "net/net.h"
#include "providers/gen/internal.h"

#define DS_SUBMIT_PATH "/api/v1/services/aigc/image2video/video-synthesis"
#define DS_TASK_PATH "/api/v1/tasks/"
/* A create or query answers in well under a second; 30 s covers a slow region. */
#define DS_TIMEOUT_MS 30000
/* The doc's advice is a poll about every 15 s; the first one sooner, since the task id is
 * fresh and a PENDING answer costs nothing. */
#define DS_POLL_FIRST_MS 5000
#define DS_POLL_MAX_MS 15000
/* usage.video_duration beyond this is not believed (the models make at most 30 s). */
#define DS_MAX_DURATION_S 3600.0

static const char *ds_model(enum task_kind_id kind, const char *mode)
{
    (void)mode; /* wan-std / wan-pro is a parameter, not a model */
    switch (kind) {
    case TASK_ANIMATE_MOVE: return "wan2.2-animate-move";
    case TASK_ANIMATE_MIX: return "wan2.2-animate-mix";
    default: return NULL;
    }
}

static void ds_start(struct net_call *c, const char *method, const char *path, const char *api_key)
{
    char *url = xasprintf("%s%s", config_get("TG_DASHSCOPE_API_BASE"), path);
    char *auth = xasprintf("Bearer %s", api_key);
    net_call_init(c, "dashscope", method, url);
    free(url);
    net_call_header(c, "Authorization", auth);
    sodium_memzero(auth, strlen(auth));
    free(auth);
    c->timeout_ms = DS_TIMEOUT_MS;
    c->max_response = GEN_MAX_STATUS_ANSWER;
}

static int ds_build_submit(const struct gen_input *in, const char *api_key, struct net_call *c)
{
    const char *model = in->model != NULL ? in->model : ds_model(in->kind, in->mode);
    json_t *body;
    if (model == NULL || in->image_url == NULL || in->video_url == NULL || in->mode == NULL || api_key == NULL ||
        (strcmp(in->mode, "wan-std") != 0 && strcmp(in->mode, "wan-pro") != 0))
        return -1;
    body = json_pack("{s:s, s:{s:s, s:s}, s:{s:s}}", "model", model, "input", "image_url", in->image_url,
                     "video_url", in->video_url, "parameters", "mode", in->mode);
    if (body == NULL)
        return -1; /* not UTF-8 */
    ds_start(c, "POST", DS_SUBMIT_PATH, api_key);
    net_call_header(c, "X-DashScope-Async", "enable");
    gen_call_json(c, body);
    /* A repeated create would start (and bill) a second task. */
    c->idempotent = 0;
    c->retries = 0;
    return 0;
}

static int ds_build_poll(const char *provider_task_id, const char *api_key, struct net_call *c)
{
    char *path;
    /* the id is a path segment: never "." or ".." */
    if (!gen_task_id_ok(provider_task_id) || api_key == NULL || strspn(provider_task_id, ".") == strlen(provider_task_id))
        return -1;
    path = xasprintf(DS_TASK_PATH "%s", provider_task_id);
    ds_start(c, "GET", path, api_key);
    free(path);
    c->idempotent = 1;
    return 0;
}

/* Codes that say the account cannot pay or may not use the model: the key is unusable
 * until someone looks (Arrearage: overdue bill; FreeTierOnly: the free quota is spent and
 * the account only allows the free tier). */
static int ds_account_code(const char *code)
{
    static const char *const words[] = {"Arrearage", "FreeTierOnly", "QuotaExhausted", "InsufficientBalance",
                                        "InsufficientQuota", "AccessDenied.Unpurchased", NULL};
    for (size_t i = 0; code != NULL && words[i] != NULL; i++)
        if (strstr(code, words[i]) != NULL)
            return 1;
    return 0;
}

/* A non-2xx answer (or a 2xx carrying an error code) of either call. */
static enum gen_outcome ds_error(const struct net_call *c, json_t *j, int polling, struct gen_result *out)
{
    const char *code = gen_json_str(j, "code"), *msg = gen_json_str(j, "message");
    long st = c->status;
    char fallback[48];
    snprintf(fallback, sizeof fallback, "DashScope answered HTTP %ld", st);

    /* Our request without X-DashScope-Async (AccessDenied, 403): the key is not at fault. */
    if (msg != NULL && strstr(msg, "synchronous calls") != NULL)
        return gen_fail(out, GEN_INVALID, code, msg, fallback, c);
    if (st == 401 || st == 403 || (code != NULL && (strcmp(code, "InvalidApiKey") == 0 ||
                                                    strncmp(code, "AccessDenied", 12) == 0)) ||
        ds_account_code(code))
        return gen_fail(out, GEN_KEY_REJECTED, code, msg, fallback, c);
    if (st == 429 || (code != NULL && strncmp(code, "Throttling", 10) == 0)) {
        gen_fail(out, GEN_RATE_LIMITED, code, msg, fallback, c);
        out->retry_after_ms = gen_retry_after_ms(c);
        return out->outcome;
    }
    if (st >= 500 || st < 400)
        return gen_fail(out, GEN_RETRY, code, msg, fallback, c);
    if (polling) /* a 400 or 404 about a task id: DashScope does not know it */
        return gen_fail(out, GEN_UNKNOWN_TASK, code, msg, fallback, c);
    return gen_fail(out, GEN_INVALID, code, msg, fallback, c);
}

/* Reads the answer common to both calls; returns the object "output" or NULL with out set. */
static json_t *ds_open(const struct net_call *c, int polling, json_t **root, struct gen_result *out)
{
    json_t *j, *o;
    *root = NULL;
    if (c->err != NET_OK) {
        gen_net_error(out, c);
        return NULL;
    }
    j = gen_answer_json(c, GEN_MAX_STATUS_ANSWER);
    if (c->status < 200 || c->status > 299) {
        ds_error(c, j, polling, out);
        json_decref(j);
        return NULL;
    }
    o = json_object_get(j, "output");
    if (!json_is_object(o)) {
        if (j != NULL && gen_json_str(j, "code") != NULL)
            ds_error(c, j, polling, out);
        else
            gen_fail(out, GEN_RETRY, NULL, "malformed DashScope answer", NULL, NULL);
        json_decref(j);
        return NULL;
    }
    *root = j;
    return o;
}

static void ds_parse_submit(const struct net_call *c, struct gen_result *out)
{
    json_t *root, *o;
    const char *id;
    gen_result_init(out);
    if ((o = ds_open(c, 0, &root, out)) == NULL)
        return;
    id = gen_json_str(o, "task_id");
    if (!gen_task_id_ok(id)) {
        gen_fail(out, GEN_RETRY, NULL, "malformed DashScope answer: no task_id", NULL, NULL);
    } else {
        out->outcome = GEN_ACCEPTED;
        memcpy(out->provider_task_id, id, strlen(id) + 1);
    }
    json_decref(root);
}

/* usage.video_duration (seconds, may be fractional) as whole ms rounded up; 0 unknown. */
static int64_t ds_duration_ms(json_t *root)
{
    json_t *v = json_object_get(json_object_get(root, "usage"), "video_duration");
    double s;
    if (!json_is_number(v))
        return 0;
    s = json_number_value(v);
    if (!(s > 0) || s > DS_MAX_DURATION_S)
        return 0;
    {
        /* rounded up, with a micro-second of slack for binary fractions (5.2 * 1000) */
        double ms = s * 1000.0 - 1e-3;
        int64_t whole = (int64_t)ms;
        return whole < ms ? whole + 1 : whole;
    }
}

static void ds_parse_poll(const struct net_call *c, struct gen_result *out)
{
    json_t *root, *o;
    const char *st, *id;
    gen_result_init(out);
    if ((o = ds_open(c, 1, &root, out)) == NULL)
        return;
    id = gen_json_str(o, "task_id");
    if (gen_task_id_ok(id))
        memcpy(out->provider_task_id, id, strlen(id) + 1);
    st = gen_json_str(o, "task_status");
    if (st == NULL) {
        gen_fail(out, GEN_RETRY, NULL, "malformed DashScope answer: no task_status", NULL, NULL);
    } else if (strcmp(st, "PENDING") == 0 || strcmp(st, "RUNNING") == 0) {
        out->outcome = GEN_RUNNING;
    } else if (strcmp(st, "SUCCEEDED") == 0) {
        /* animate-move/-mix: output.results.video_url; other wan models: output.video_url */
        const char *url = gen_json_str(json_object_get(o, "results"), "video_url");
        if (url == NULL)
            url = gen_json_str(o, "video_url");
        if (gen_add_url(out, url, "video/mp4") != 0) {
            gen_fail(out, GEN_RETRY, NULL, "malformed DashScope answer: no video_url", NULL, NULL);
        } else {
            out->outcome = GEN_SUCCEEDED;
            out->progress = 100;
            out->output_ms = ds_duration_ms(root);
        }
    } else if (strcmp(st, "FAILED") == 0) {
        gen_fail(out, GEN_FAILED, gen_json_str(o, "code"), gen_json_str(o, "message"), "DashScope task failed", c);
    } else if (strcmp(st, "CANCELED") == 0) {
        gen_fail(out, GEN_FAILED, "CANCELED", "DashScope canceled the task", NULL, NULL);
    } else if (strcmp(st, "UNKNOWN") == 0) {
        gen_fail(out, GEN_UNKNOWN_TASK, "UNKNOWN", "DashScope does not know the task (expired)", NULL, NULL);
    } else {
        gen_fail(out, GEN_RETRY, NULL, "malformed DashScope answer: unknown task_status", NULL, NULL);
    }
    json_decref(root);
}

const struct gen_provider gen_dashscope = {
    .name = "dashscope",
    .keys_env = "TG_DASHSCOPE_API_KEYS",
    .kinds = (1u << TASK_ANIMATE_MOVE) | (1u << TASK_ANIMATE_MIX),
    .synchronous = 0,
    .needs_image_bytes = 0,
    .poll_first_ms = DS_POLL_FIRST_MS,
    .poll_max_ms = DS_POLL_MAX_MS,
    .timeout_ms = DS_TIMEOUT_MS,
    .model = ds_model,
    .build_submit = ds_build_submit,
    .parse_submit = ds_parse_submit,
    .build_poll = ds_build_poll,
    .parse_poll = ds_parse_poll,
};
