/*
 * kie.c - Veo 3 (fast) through kie.ai (PROVIDERS.md section 9.1): POST /api/v1/veo/generate
 * creates a task, GET /api/v1/veo/record-info?taskId= reports it (successFlag 0 running,
 * 1 success, 2 and 3 failed), and kie.ai may POST a callback when it is done, signed over
 * the task id and a timestamp only (X-Webhook-Signature): the body is never trusted, the
 * caller re-reads the task with record-info.
 *
 * kie.ai reports errors in the body's `code` (clients check `response.ok && code == 200`);
 * whether the HTTP status mirrors it is not documented, so both are read: a non-2xx status
 * decides, else the body's code.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "core/config.h"
#include "core/mem.h"
#include "crypto/encode.h"
#include "crypto/hash.h"
#include "net/net.h"
#include "providers/gen/internal.h"

#define KIE_GENERATE_PATH "/api/v1/veo/generate"
#define KIE_RECORD_PATH "/api/v1/veo/record-info?taskId="
#define KIE_TIMEOUT_MS 30000
/* A Veo 3 fast video takes one to three minutes; callbacks usually say when sooner. */
#define KIE_POLL_FIRST_MS 10000
#define KIE_POLL_MAX_MS 30000
/* Largest callback body read for its task id (a callback is well under 4 KiB). */
#define KIE_CALLBACK_MAX (64 * 1024)
/* The X-Webhook-Timestamp: unix seconds, at most 12 digits. */
#define KIE_TS_MAX_DIGITS 12

static const char *kie_model(enum task_kind_id kind, const char *mode)
{
    (void)mode;
    return kind == TASK_TEXT_TO_VIDEO ? "veo3_fast" : NULL;
}

static void kie_start(struct net_call *c, const char *method, const char *path, const char *api_key)
{
    char *url = xasprintf("%s%s", config_get("TG_KIE_API_BASE"), path);
    char *auth = xasprintf("Bearer %s", api_key);
    net_call_init(c, "kie", method, url);
    free(url);
    net_call_header(c, "Authorization", auth);
    sodium_memzero(auth, strlen(auth));
    free(auth);
    c->timeout_ms = KIE_TIMEOUT_MS;
    c->max_response = GEN_MAX_STATUS_ANSWER;
}

static int kie_build_submit(const struct gen_input *in, const char *api_key, struct net_call *c)
{
    const char *model = in->model != NULL ? in->model : kie_model(in->kind, in->mode);
    const char *ar = in->aspect_ratio != NULL ? in->aspect_ratio : "16:9";
    json_t *body, *urls;

    if (model == NULL || in->prompt == NULL || in->prompt[0] == '\0' || strlen(in->prompt) > GEN_PROMPT_MAX ||
        api_key == NULL || in->n_image_urls > 2 ||
        (strcmp(ar, "16:9") != 0 && strcmp(ar, "9:16") != 0 && strcmp(ar, "Auto") != 0))
        return -1;
    body = json_pack("{s:s, s:s, s:s}", "prompt", in->prompt, "model", model, "aspectRatio", ar);
    if (body == NULL)
        return -1; /* not UTF-8 */
    if (in->n_image_urls > 0) {
        /* one image: a video around it; two: the first and the last frame */
        urls = json_array();
        for (size_t i = 0; i < in->n_image_urls; i++) {
            if (in->image_urls[i] == NULL || json_array_append_new(urls, json_string(in->image_urls[i])) != 0) {
                json_decref(urls);
                json_decref(body);
                return -1;
            }
        }
        json_object_set_new(body, "imageUrls", urls);
        json_object_set_new(body, "generationType", json_string("FIRST_AND_LAST_FRAMES_2_VIDEO"));
    }
    if (in->callback_url != NULL) {
        json_t *cb = json_string(in->callback_url);
        if (cb == NULL) {
            json_decref(body);
            return -1;
        }
        json_object_set_new(body, "callBackUrl", cb);
    }
    kie_start(c, "POST", KIE_GENERATE_PATH, api_key);
    gen_call_json(c, body);
    c->idempotent = 0; /* a repeat would start (and bill) a second video */
    c->retries = 0;
    return 0;
}

static int kie_build_poll(const char *provider_task_id, const char *api_key, struct net_call *c)
{
    char *path;
    if (!gen_task_id_ok(provider_task_id) || api_key == NULL)
        return -1;
    path = xasprintf(KIE_RECORD_PATH "%s", provider_task_id); /* [A-Za-z0-9_.:-]: nothing to escape */
    kie_start(c, "GET", path, api_key);
    free(path);
    c->idempotent = 1;
    return 0;
}

/* The outcome of a kie.ai error code (HTTP status or body code; PROVIDERS.md 9.1). */
static enum gen_outcome kie_code(const struct net_call *c, long code, const char *msg, int polling,
                                 struct gen_result *out)
{
    char num[16], fallback[48];
    snprintf(num, sizeof num, "%ld", code);
    snprintf(fallback, sizeof fallback, "kie.ai answered code %ld", code);
    switch (code) {
    case 401:
    case 403:
        return gen_fail(out, GEN_KEY_REJECTED, num, msg, fallback, c);
    case 402: /* the account is out of credits: unusable until it is topped up */
        return gen_fail(out, GEN_KEY_REJECTED, num, msg, "kie.ai: insufficient credits", c);
    case 429:
        gen_fail(out, GEN_RATE_LIMITED, num, msg, fallback, c);
        out->retry_after_ms = gen_retry_after_ms(c);
        return GEN_RATE_LIMITED;
    case 404:
        return gen_fail(out, polling ? GEN_UNKNOWN_TASK : GEN_INVALID, num, msg, fallback, c);
    case 400:
    case 422:
        return gen_fail(out, polling ? GEN_UNKNOWN_TASK : GEN_INVALID, num, msg, fallback, c);
    case 501: /* generation failed */
    case 505: /* the feature is disabled */
        return gen_fail(out, GEN_FAILED, num, msg, fallback, c);
    default:
        /* 455 maintenance, 500, other 5xx, anything unexpected: try again later */
        if (code >= 400 && code < 500 && code != 455)
            return gen_fail(out, polling ? GEN_RETRY : GEN_INVALID, num, msg, fallback, c);
        return gen_fail(out, GEN_RETRY, num, msg, fallback, c);
    }
}

/* Reads either answer; returns its "data" (may be JSON null) with *root to decref, or NULL
 * with out set. */
static json_t *kie_open(const struct net_call *c, int polling, json_t **root, struct gen_result *out)
{
    json_t *j, *code;
    *root = NULL;
    if (c->err != NET_OK) {
        gen_net_error(out, c);
        return NULL;
    }
    j = gen_answer_json(c, GEN_MAX_STATUS_ANSWER);
    if (c->status < 200 || c->status > 299) {
        kie_code(c, c->status, gen_json_str(j, "msg"), polling, out);
        json_decref(j);
        return NULL;
    }
    code = json_object_get(j, "code");
    if (j == NULL || !json_is_integer(code)) {
        gen_fail(out, GEN_RETRY, NULL, "malformed kie.ai answer", NULL, NULL);
        json_decref(j);
        return NULL;
    }
    if (json_integer_value(code) != 200) {
        json_int_t v = json_integer_value(code);
        kie_code(c, v > 0 && v < 1000 ? (long)v : 500, gen_json_str(j, "msg"), polling, out);
        json_decref(j);
        return NULL;
    }
    *root = j;
    return json_object_get(j, "data");
}

static void kie_parse_submit(const struct net_call *c, struct gen_result *out)
{
    json_t *root, *data;
    const char *id;
    gen_result_init(out);
    if ((data = kie_open(c, 0, &root, out)) == NULL && root == NULL)
        return;
    id = gen_json_str(data, "taskId");
    if (!gen_task_id_ok(id)) {
        gen_fail(out, GEN_RETRY, NULL, "malformed kie.ai answer: no taskId", NULL, NULL);
    } else {
        out->outcome = GEN_ACCEPTED;
        memcpy(out->provider_task_id, id, strlen(id) + 1);
    }
    json_decref(root);
}

/* The taskId the poll asked about (the end of its URL), or NULL. */
static const char *kie_asked(const struct net_call *c)
{
    const char *q = c->url != NULL ? strstr(c->url, "taskId=") : NULL;
    return q != NULL ? q + 7 : NULL;
}

/* errorCode may be a number, a string or null. */
static void kie_error_code(json_t *data, char out[24])
{
    json_t *v = json_object_get(data, "errorCode");
    out[0] = '\0';
    if (json_is_integer(v))
        snprintf(out, 24, "%lld", (long long)json_integer_value(v));
    else if (json_is_string(v))
        snprintf(out, 24, "%s", json_string_value(v));
}

static void kie_parse_poll(const struct net_call *c, struct gen_result *out)
{
    json_t *root, *data, *flag, *urls;
    const char *id, *asked;
    json_int_t f;
    char ecode[24];

    gen_result_init(out);
    if ((data = kie_open(c, 1, &root, out)) == NULL && root == NULL)
        return;
    flag = json_object_get(data, "successFlag");
    id = gen_json_str(data, "taskId");
    asked = kie_asked(c);
    if (!json_is_object(data) || !json_is_integer(flag)) {
        gen_fail(out, GEN_RETRY, NULL, "malformed kie.ai answer: no successFlag", NULL, NULL);
        goto done;
    }
    if (id != NULL && asked != NULL && strcmp(id, asked) != 0) {
        /* an answer about another task must never finish this one */
        gen_fail(out, GEN_RETRY, NULL, "kie.ai answered about another task", NULL, NULL);
        goto done;
    }
    if (gen_task_id_ok(id))
        memcpy(out->provider_task_id, id, strlen(id) + 1);
    f = json_integer_value(flag);
    switch (f) {
    case 0:
        out->outcome = GEN_RUNNING;
        break;
    case 1:
        urls = json_object_get(json_object_get(data, "response"), "resultUrls");
        for (size_t i = 0; json_is_array(urls) && i < json_array_size(urls) && i < GEN_MAX_OUTPUTS; i++)
            gen_add_url(out, gen_json_str_at(urls, i), "video/mp4");
        if (out->n_outputs == 0) {
            gen_fail(out, GEN_RETRY, NULL, "malformed kie.ai answer: no resultUrls", NULL, NULL);
        } else {
            out->outcome = GEN_SUCCEEDED;
            out->progress = 100;
        }
        break;
    case 2:
    case 3:
        kie_error_code(data, ecode);
        gen_fail(out, GEN_FAILED, ecode[0] ? ecode : (f == 2 ? "failed" : "generation_failed"),
                 gen_json_str(data, "errorMessage"), "kie.ai could not generate the video", c);
        break;
    default:
        gen_fail(out, GEN_RETRY, NULL, "malformed kie.ai answer: unknown successFlag", NULL, NULL);
        break;
    }
done:
    json_decref(root);
}

int gen_kie_callback_verify(const char *hmac_key, const char *task_id, const char *timestamp,
                            const char *signature, int64_t now_s, int64_t tolerance_s)
{
    unsigned char mac[32];
    char want[64], *msg;
    size_t n = 0, sl;
    int64_t ts = 0;
    int ok;

    if (hmac_key == NULL || hmac_key[0] == '\0' || !gen_task_id_ok(task_id) || timestamp == NULL ||
        signature == NULL || tolerance_s < 0)
        return 0;
    for (; timestamp[n] != '\0'; n++) {
        if (n >= KIE_TS_MAX_DIGITS || timestamp[n] < '0' || timestamp[n] > '9')
            return 0;
        ts = ts * 10 + (timestamp[n] - '0');
    }
    if (n == 0 || ts < now_s - tolerance_s || ts > now_s + tolerance_s)
        return 0;
    msg = xasprintf("%s.%s", task_id, timestamp);
    hmac_sha256(hmac_key, strlen(hmac_key), msg, strlen(msg), mac);
    free(msg);
    b64_encode(mac, sizeof mac, want); /* 44 characters */
    sl = strlen(signature);
    ok = sl == strlen(want) && ct_equal(signature, want, sl);
    sodium_memzero(mac, sizeof mac);
    return ok;
}

int gen_kie_callback_task_id(const char *body, size_t len, char out[TG_PROVIDER_TASK_MAX])
{
    json_t *j, *data;
    const char *id;
    int rc = -1;
    out[0] = '\0';
    if (body == NULL || len == 0 || len > KIE_CALLBACK_MAX)
        return -1;
    j = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
    data = json_object_get(j, "data");
    id = gen_json_str(data, "taskId");
    if (id == NULL)
        id = gen_json_str(data, "task_id");
    if (json_is_object(j) && json_is_object(data) && gen_task_id_ok(id)) {
        memcpy(out, id, strlen(id) + 1);
        rc = 0;
    }
    json_decref(j);
    return rc;
}

const struct gen_provider gen_kie = {
    .name = "kie",
    .keys_env = "TG_KIE_API_KEYS",
    .kinds = 1u << TASK_TEXT_TO_VIDEO,
    .synchronous = 0,
    .needs_image_bytes = 0,
    .poll_first_ms = KIE_POLL_FIRST_MS,
    .poll_max_ms = KIE_POLL_MAX_MS,
    .timeout_ms = KIE_TIMEOUT_MS,
    .model = kie_model,
    .build_submit = kie_build_submit,
    .parse_submit = kie_parse_submit,
    .build_poll = kie_build_poll,
    .parse_poll = kie_parse_poll,
};
