/*
 * sandbox.c - the sandbox generation provider: every kind, no network, no key. A task
 * finishes TG_GEN_SANDBOX_DELAY_MS after its submission with the sample video or image
 * built into the binary (samples/), its progress growing linearly meanwhile. A task's
 * gen_input.sandbox_outcome makes it fail ("fail") or never finish ("never", for timeout
 * tests) instead.
 *
 * local_poll gets nothing but the provider task id and the times, so the id carries what
 * it needs: "sbx_<outcome>_<kind number>_<our task id>".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "providers/gen/internal.h"
#include "providers/gen/samples.h"

enum sbx_outcome { SBX_SUCCEED = 0, SBX_FAIL, SBX_NEVER };
static const char *const sbx_words[] = {"succeed", "fail", "never"};

#define SBX_DEFAULT_DELAY_MS 4000

static const char *sbx_model(enum task_kind_id kind, const char *mode)
{
    (void)mode;
    switch (kind) {
    case TASK_ANIMATE_MOVE: return "sandbox-animate-move";
    case TASK_ANIMATE_MIX: return "sandbox-animate-mix";
    case TASK_TEXT_TO_VIDEO: return "sandbox-video";
    case TASK_IMAGE: return "sandbox-image";
    default: return NULL;
    }
}

static int64_t sbx_delay_ms(void)
{
    const char *v = config_get("TG_GEN_SANDBOX_DELAY_MS");
    char *end;
    long long d;
    if (v == NULL)
        return SBX_DEFAULT_DELAY_MS;
    d = strtoll(v, &end, 10);
    return end != v && *end == '\0' && d >= 0 ? (int64_t)d : SBX_DEFAULT_DELAY_MS;
}

void gen_sandbox_sample(enum task_kind_id kind, const unsigned char **data, size_t *len, const char **mime)
{
    if (kind == TASK_IMAGE) {
        *data = gen_sample_png;
        *len = gen_sample_png_len;
        *mime = "image/png";
    } else {
        *data = gen_sample_mp4;
        *len = gen_sample_mp4_len;
        *mime = "video/mp4";
    }
}

static void sbx_local_submit(const struct gen_input *in, int64_t now_ms, struct gen_result *out)
{
    const char *want = in->sandbox_outcome != NULL ? in->sandbox_outcome : "succeed";
    int oc = -1;
    (void)now_ms;
    gen_result_init(out);
    for (int i = 0; i < 3; i++)
        if (strcmp(want, sbx_words[i]) == 0)
            oc = i;
    if (oc < 0) {
        gen_fail(out, GEN_INVALID, "sandbox_outcome", "sandbox_outcome must be succeed, fail or never", NULL, NULL);
        return;
    }
    if ((unsigned)in->kind >= TASK__COUNT || in->task_id == NULL ||
        snprintf(out->provider_task_id, sizeof out->provider_task_id, "sbx_%s_%d_%s", sbx_words[oc], (int)in->kind,
                 in->task_id) >= (int)sizeof out->provider_task_id ||
        !gen_task_id_ok(out->provider_task_id)) {
        out->provider_task_id[0] = '\0';
        gen_fail(out, GEN_INVALID, "sandbox_input", "the sandbox cannot run this task", NULL, NULL);
        return;
    }
    out->outcome = GEN_ACCEPTED;
    out->progress = 0;
}

/* Reads "sbx_<outcome>_<kind>_<id>". 0, or -1 when id is not one of ours. */
static int sbx_parse_id(const char *id, enum sbx_outcome *oc, enum task_kind_id *kind)
{
    if (id == NULL || strncmp(id, "sbx_", 4) != 0)
        return -1;
    id += 4;
    for (int i = 0; i < 3; i++) {
        size_t n = strlen(sbx_words[i]);
        if (strncmp(id, sbx_words[i], n) == 0 && id[n] == '_' && id[n + 1] >= '0' &&
            id[n + 1] < '0' + TASK__COUNT && id[n + 2] == '_' && id[n + 3] != '\0') {
            *oc = (enum sbx_outcome)i;
            *kind = (enum task_kind_id)(id[n + 1] - '0');
            return 0;
        }
    }
    return -1;
}

static void sbx_local_poll(const char *provider_task_id, int64_t submitted_at, int64_t now_ms,
                           struct gen_result *out)
{
    enum sbx_outcome oc;
    enum task_kind_id kind;
    int64_t delay = sbx_delay_ms(), elapsed = now_ms - submitted_at;
    struct gen_output *o;
    const unsigned char *data;
    const char *mime;

    gen_result_init(out);
    if (sbx_parse_id(provider_task_id, &oc, &kind) != 0) {
        gen_fail(out, GEN_UNKNOWN_TASK, "sandbox_unknown_task", "the sandbox does not know this task", NULL, NULL);
        return;
    }
    memcpy(out->provider_task_id, provider_task_id, strlen(provider_task_id) + 1);
    if (elapsed < 0)
        elapsed = 0;
    if (oc == SBX_NEVER || elapsed < delay) {
        out->outcome = GEN_RUNNING;
        /* linear up to 99: 100 is for the finished task */
        out->progress = delay > 0 && elapsed < delay ? (int)(elapsed * 100 / delay) : 99;
        if (out->progress > 99)
            out->progress = 99;
        return;
    }
    if (oc == SBX_FAIL) {
        gen_fail(out, GEN_FAILED, "sandbox_failed",
                 "The sandbox failed this task, as asked (sandbox_outcome \"fail\")", NULL, NULL);
        return;
    }
    out->outcome = GEN_SUCCEEDED;
    out->progress = 100;
    out->n_outputs = 1;
    o = &out->outputs[0];
    gen_sandbox_sample(kind, &data, &o->len, &mime);
    o->data = (unsigned char *)(uintptr_t)data; /* borrowed: never freed */
    o->borrowed = 1;
    snprintf(o->mime, sizeof o->mime, "%s", mime);
    out->output_ms = kind == TASK_IMAGE ? 0 : GEN_SAMPLE_MP4_MS;
}

const struct gen_provider gen_sandbox = {
    .name = "sandbox",
    .keys_env = NULL,
    .kinds = (1u << TASK_ANIMATE_MOVE) | (1u << TASK_ANIMATE_MIX) | (1u << TASK_TEXT_TO_VIDEO) | (1u << TASK_IMAGE),
    .synchronous = 0,
    .needs_image_bytes = 0,
    .poll_first_ms = 500,
    .poll_max_ms = 2000,
    .timeout_ms = 0,
    .model = sbx_model,
    .local_submit = sbx_local_submit,
    .local_poll = sbx_local_poll,
};
