/*
 * gemini.c - Gemini 2.5 Flash Image ("Nano Banana") through the Gemini Developer API
 * (PROVIDERS.md section 10): one synchronous POST
 * /v1beta/models/gemini-2.5-flash-image:generateContent whose answer carries the images
 * inline in base64. The key goes in the x-goog-api-key header, never in the URL (URLs end
 * up in logs). Errors use Google's JSON error shape {"error":{code,message,status}}.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "core/config.h"
#include "core/mem.h"
#include "crypto/encode.h"
#include "net/net.h"
#include "providers/gen/internal.h"

#define GEMINI_MODEL "gemini-2.5-flash-image"
/* Generating an image takes 5-30 s; a slow one with several inputs up to a minute or two. */
#define GEMINI_TIMEOUT_MS 120000
/* Largest input image sent inline (Gemini's inline request limit is 20 MB in all). */
#define GEMINI_IMAGE_MAX (7 * 1024 * 1024)

static const char *gemini_model(enum task_kind_id kind, const char *mode)
{
    (void)mode;
    return kind == TASK_IMAGE ? GEMINI_MODEL : NULL;
}

/* A model name that may go into the URL path: [a-z0-9.-], 1..64. */
static int model_ok(const char *m)
{
    size_t n = 0;
    for (; m[n] != '\0'; n++)
        if (n >= 64 || !((m[n] >= 'a' && m[n] <= 'z') || (m[n] >= '0' && m[n] <= '9') || m[n] == '.' || m[n] == '-'))
            return 0;
    return n > 0;
}

/* An image MIME type we pass on or accept back: "image/" + [a-z0-9.+-]. */
static int image_mime_ok(const char *m)
{
    size_t n;
    if (m == NULL || strncmp(m, "image/", 6) != 0)
        return 0;
    n = strlen(m);
    if (n <= 6 || n >= TG_CONTENT_TYPE_MAX)
        return 0;
    for (size_t i = 6; i < n; i++)
        if (!((m[i] >= 'a' && m[i] <= 'z') || (m[i] >= '0' && m[i] <= '9') || m[i] == '.' || m[i] == '+' ||
              m[i] == '-'))
            return 0;
    return 1;
}

static int gemini_build_submit(const struct gen_input *in, const char *api_key, struct net_call *c)
{
    const char *model = in->model != NULL ? in->model : gemini_model(in->kind, in->mode);
    json_t *body, *parts, *cfg;
    char *url;

    if (model == NULL || !model_ok(model) || in->prompt == NULL || in->prompt[0] == '\0' ||
        strlen(in->prompt) > GEN_PROMPT_MAX || api_key == NULL || in->n_images > GEN_MAX_IMAGES)
        return -1;
    parts = json_array();
    if (json_array_append_new(parts, json_pack("{s:s}", "text", in->prompt)) != 0) {
        json_decref(parts);
        return -1; /* not UTF-8 */
    }
    for (size_t i = 0; i < in->n_images; i++) {
        const struct gen_blob *b = &in->images[i];
        char *b64;
        if (!image_mime_ok(b->mime) || b->data == NULL || b->len == 0 || b->len > GEMINI_IMAGE_MAX) {
            json_decref(parts);
            return -1;
        }
        b64 = xmalloc(b64_encoded_len(b->len) + 1);
        b64_encode(b->data, b->len, b64);
        json_array_append_new(parts, json_pack("{s:{s:s, s:s}}", "inline_data", "mime_type", b->mime, "data", b64));
        free(b64);
    }
    cfg = json_pack("{s:[s]}", "responseModalities", "IMAGE");
    if (in->aspect_ratio != NULL) {
        json_t *ar = json_string(in->aspect_ratio);
        if (ar == NULL) {
            json_decref(cfg);
            json_decref(parts);
            return -1;
        }
        json_object_set_new(cfg, "imageConfig", json_pack("{s:o}", "aspectRatio", ar));
    }
    body = json_pack("{s:[{s:s, s:o}], s:o}", "contents", "role", "user", "parts", parts, "generationConfig", cfg);
    url = xasprintf("%s/v1beta/models/%s:generateContent", config_get("TG_GEMINI_API_BASE"), model);
    net_call_init(c, "gemini", "POST", url);
    free(url);
    net_call_header(c, "x-goog-api-key", api_key);
    gen_call_json(c, body);
    c->timeout_ms = GEMINI_TIMEOUT_MS;
    c->max_response = GEN_MAX_RESPONSE;
    c->idempotent = 0; /* each answer is billed */
    c->retries = 0;
    return 0;
}

/* Seconds of a RetryInfo retryDelay ("30s", "1.5s") in error.details, as ms; 0 none. */
static int64_t retry_info_ms(json_t *err)
{
    json_t *details = json_object_get(err, "details");
    for (size_t i = 0; json_is_array(details) && i < json_array_size(details); i++) {
        const char *d = gen_json_str(json_array_get(details, i), "retryDelay");
        char *end;
        double s;
        if (d == NULL)
            continue;
        s = strtod(d, &end);
        if (end != d && strcmp(end, "s") == 0 && s > 0 && s < 86400)
            return (int64_t)(s * 1000.0 + 0.5);
    }
    return 0;
}

/* 1 when error.details names reason API_KEY_INVALID (ErrorInfo). */
static int key_invalid(json_t *err)
{
    json_t *details = json_object_get(err, "details");
    const char *msg = gen_json_str(err, "message");
    for (size_t i = 0; json_is_array(details) && i < json_array_size(details); i++) {
        const char *r = gen_json_str(json_array_get(details, i), "reason");
        if (r != NULL && (strcmp(r, "API_KEY_INVALID") == 0 || strcmp(r, "API_KEY_SERVICE_BLOCKED") == 0))
            return 1;
    }
    return msg != NULL && strstr(msg, "API key not valid") != NULL;
}

static void gemini_error(const struct net_call *c, json_t *j, struct gen_result *out)
{
    json_t *err = json_object_get(j, "error");
    const char *status = gen_json_str(err, "status"), *msg = gen_json_str(err, "message");
    long st = c->status;
    char fallback[48];
    snprintf(fallback, sizeof fallback, "Gemini answered HTTP %ld", st);

    if (st == 401 || st == 403 || key_invalid(err) ||
        (status != NULL && (strcmp(status, "PERMISSION_DENIED") == 0 || strcmp(status, "UNAUTHENTICATED") == 0)) ||
        /* "free tier not available in your country, enable billing": the account's */
        (st == 400 && status != NULL && strcmp(status, "FAILED_PRECONDITION") == 0)) {
        gen_fail(out, GEN_KEY_REJECTED, status, msg, fallback, c);
    } else if (st == 429 || (status != NULL && strcmp(status, "RESOURCE_EXHAUSTED") == 0)) {
        gen_fail(out, GEN_RATE_LIMITED, status, msg, fallback, c);
        out->retry_after_ms = gen_retry_after_ms(c);
        if (out->retry_after_ms == 0)
            out->retry_after_ms = retry_info_ms(err);
    } else if (st >= 500 || st < 400) {
        gen_fail(out, GEN_RETRY, status, msg, fallback, c);
    } else {
        gen_fail(out, GEN_INVALID, status, msg, fallback, c);
    }
}

/* Decodes one inline image part (inlineData or inline_data) into out's next output.
 * 1 added, 0 not an image part, -1 a malformed one. */
static int add_inline(json_t *part, struct gen_result *out)
{
    json_t *d = json_object_get(part, "inlineData");
    const char *mime, *b64;
    struct gen_output *o;
    size_t n, cap;
    long len;
    unsigned char *bytes;

    if (d == NULL)
        d = json_object_get(part, "inline_data");
    if (d == NULL)
        return 0;
    mime = gen_json_str(d, "mimeType");
    if (mime == NULL)
        mime = gen_json_str(d, "mime_type");
    b64 = gen_json_str(d, "data");
    if (!json_is_object(d) || b64 == NULL || !image_mime_ok(mime))
        return -1;
    n = strlen(b64);
    if (n == 0)
        return -1;
    cap = n / 4 * 3 + 3;
    bytes = xmalloc(cap);
    len = b64_decode(b64, n, bytes, cap);
    if (len <= 0) {
        free(bytes);
        return -1;
    }
    o = &out->outputs[out->n_outputs++];
    memset(o, 0, sizeof *o);
    o->data = bytes;
    o->len = (size_t)len;
    snprintf(o->mime, sizeof o->mime, "%s", mime);
    return 1;
}

static void gemini_parse_submit(const struct net_call *c, struct gen_result *out)
{
    json_t *j, *cand, *parts;
    const char *finish, *block, *text = NULL;
    char msg[160];

    gen_result_init(out);
    if (c->err != NET_OK) {
        gen_net_error(out, c);
        return;
    }
    j = gen_answer_json(c, GEN_MAX_RESPONSE);
    if (c->status < 200 || c->status > 299) {
        gemini_error(c, j, out);
        json_decref(j);
        return;
    }
    if (j == NULL) {
        gen_fail(out, GEN_RETRY, NULL, "malformed Gemini answer", NULL, NULL);
        return;
    }
    cand = json_array_get(json_object_get(j, "candidates"), 0);
    parts = json_object_get(json_object_get(cand, "content"), "parts");
    for (size_t i = 0; json_is_array(parts) && i < json_array_size(parts); i++) {
        json_t *p = json_array_get(parts, i);
        if (text == NULL)
            text = gen_json_str(p, "text");
        if (out->n_outputs < GEN_MAX_OUTPUTS && add_inline(p, out) < 0) {
            gen_result_clear(out);
            gen_result_init(out);
            gen_fail(out, GEN_RETRY, NULL, "malformed Gemini answer: bad inline image", NULL, NULL);
            json_decref(j);
            return;
        }
    }
    if (out->n_outputs > 0) {
        out->outcome = GEN_SUCCEEDED;
        out->progress = 100;
        json_decref(j);
        return;
    }
    /* No image: refused (safety) or the model answered in words only. */
    finish = gen_json_str(cand, "finishReason");
    block = gen_json_str(json_object_get(j, "promptFeedback"), "blockReason");
    if (block != NULL)
        snprintf(msg, sizeof msg, "Gemini blocked the prompt (%.64s)", block);
    else if (finish != NULL && strcmp(finish, "STOP") != 0)
        snprintf(msg, sizeof msg, "Gemini returned no image (%.64s)", finish);
    else
        snprintf(msg, sizeof msg, "Gemini returned no image");
    gen_fail(out, GEN_FAILED, block != NULL ? block : finish != NULL ? finish : "NO_IMAGE", msg, NULL, c);
    if (text != NULL && block == NULL) {
        /* the model's own words say why; appended, sanitized */
        size_t have = strlen(out->error_message);
        if (have + 3 < sizeof out->error_message) {
            memcpy(out->error_message + have, ": ", 3);
            gen_sanitize(out->error_message + have + 2, sizeof out->error_message - have - 2, text, strlen(text), c);
        }
    }
    json_decref(j);
}

const struct gen_provider gen_gemini = {
    .name = "gemini",
    .keys_env = "TG_GEMINI_API_KEYS",
    .kinds = 1u << TASK_IMAGE,
    .synchronous = 1,
    .needs_image_bytes = 1,
    .poll_first_ms = 0,
    .poll_max_ms = 0,
    .timeout_ms = GEMINI_TIMEOUT_MS,
    .model = gemini_model,
    .build_submit = gemini_build_submit,
    .parse_submit = gemini_parse_submit,
    .build_poll = NULL,
    .parse_poll = NULL,
};
