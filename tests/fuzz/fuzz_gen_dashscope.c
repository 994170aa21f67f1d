/*
 * fuzz_gen_dashscope.c - fuzz target for the DashScope answers (src/providers/gen/dashscope.c,
 * through the registry): the create and query answers under any status, body and
 * Retry-After.
 *
 * Input: mode byte (even: create answer, odd: query answer), two status bytes, a flags byte
 * (bit 0: a Retry-After of the next byte's value; bit 1: no answer, a network error), the body.
 * Invariants (gen_fuzz.h, abort() when broken), and here: a create answer is never RUNNING,
 * SUCCEEDED, FAILED or UNKNOWN_TASK, a query never ACCEPTED; an accepted task id appears in
 * the body; a success's URL appears in the body (JSON escapes aside: "/" may be "\/"), and
 * its length is what usage.video_duration says, rounded up to the ms, within an hour.
 */
#include <stdio.h>

#include <jansson.h>

#include "fuzz.h"
#include "gen_fuzz.h"

static unsigned long counts[2][GEN_KEY_REJECTED + 1];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct gen_provider *p = gen_provider_find("dashscope");
    struct net_call c;
    struct gen_result r;
    int poll;

    if (size < 1 || fuzz_call(&c, "https://dashscope.test/api/v1/tasks/t", "Authorization: Bearer " FUZZ_KEY, data + 1,
                              size - 1) != 0)
        return 0;
    poll = data[0] & 1;
    (poll ? p->parse_poll : p->parse_submit)(&c, &r);
    fuzz_check_result(&c, &r);
    counts[poll][r.outcome]++;
    if (!poll && (r.outcome == GEN_RUNNING || r.outcome == GEN_SUCCEEDED || r.outcome == GEN_FAILED ||
                  r.outcome == GEN_UNKNOWN_TASK))
        abort();
    if (poll && r.outcome == GEN_ACCEPTED)
        abort();
    if (r.outcome == GEN_ACCEPTED && strstr(c.resp_body, r.provider_task_id) == NULL)
        abort();
    if (r.outcome == GEN_SUCCEEDED) {
        json_t *j = json_loadb(c.resp_body, c.resp_len, 0, NULL);
        json_t *o = json_object_get(j, "output");
        json_t *u = json_object_get(json_object_get(o, "results"), "video_url");
        json_t *dur = json_object_get(json_object_get(j, "usage"), "video_duration");
        if (!json_is_string(u))
            u = json_object_get(o, "video_url");
        if (!json_is_string(u) || strcmp(json_string_value(u), r.outputs[0].url) != 0 || r.n_outputs != 1 ||
            r.outputs[0].data != NULL)
            abort();
        if (json_is_number(dur) && json_number_value(dur) > 0 && json_number_value(dur) <= 3600) {
            double want = json_number_value(dur) * 1000.0;
            if ((double)r.output_ms < want - 1.0 || (double)r.output_ms > want + 1.0)
                abort();
        } else if (r.output_ms != 0) {
            abort();
        }
        json_decref(j);
    }
    gen_result_clear(&r);
    gen_call_release(&c);
    return 0;
}

void fuzz_seeds(void (*add)(const uint8_t *data, size_t size))
{
    fuzz_gen_seed(add, 0, 200, 0,
                  "{\"request_id\":\"4909100c-7b5a-9f92-bfe5-xxxxxx\",\"output\":{\"task_id\":\"0385dc79-5ff8-4d82-bcb6-"
                  "xxxxxx\",\"task_status\":\"PENDING\"}}");
    fuzz_gen_seed(add, 0, 401, 0, "{\"request_id\":\"x\",\"code\":\"InvalidApiKey\",\"message\":\"Invalid API-key provided: " FUZZ_KEY "\"}");
    fuzz_gen_seed(add, 0, 400, 0, "{\"code\":\"Arrearage\",\"message\":\"Access denied, please make sure your account is in good standing.\"}");
    fuzz_gen_seed(add, 0, 403, 0, "{\"code\":\"AccessDenied\",\"message\":\"current user api does not support synchronous calls\"}");
    fuzz_gen_seed(add, 0, 429, 1, "7{\"code\":\"Throttling.RateQuota\",\"message\":\"Requests rate limit exceeded.\"}");
    fuzz_gen_seed(add, 0, 400, 0, "{\"code\":\"InvalidParameter\",\"message\":\"The video is too long\"}");
    fuzz_gen_seed(add, 0, 500, 0, "{\"code\":\"InternalError\",\"message\":\"oops\"}");
    fuzz_gen_seed(add, 1, 200, 0, "{\"request_id\":\"r\",\"output\":{\"task_id\":\"t1\",\"task_status\":\"RUNNING\"}}");
    fuzz_gen_seed(add, 1, 200, 0,
                  "{\"request_id\":\"a67f8716\",\"output\":{\"task_id\":\"0385dc79\",\"task_status\":\"SUCCEEDED\","
                  "\"submit_time\":\"2025-09-18 15:32:00.105\",\"results\":{\"video_url\":\"https://dashscope-result-sh."
                  "oss-accelerate.aliyuncs.com/xxxxx.mp4?Expires=xxxxxx\"}},\"usage\":{\"video_duration\":5.2,\"video_ratio\":"
                  "\"standard\"}}");
    fuzz_gen_seed(add, 1, 200, 0,
                  "{\"output\":{\"task_id\":\"t\",\"task_status\":\"SUCCEEDED\",\"video_url\":\"https://x.test/v.mp4\"},"
                  "\"usage\":{\"video_duration\":5}}");
    fuzz_gen_seed(add, 1, 200, 0,
                  "{\"output\":{\"task_id\":\"t\",\"task_status\":\"FAILED\",\"code\":\"InvalidParameter.DataInspection\","
                  "\"message\":\"The image or video failed the inspection\"}}");
    fuzz_gen_seed(add, 1, 200, 0, "{\"output\":{\"task_id\":\"t\",\"task_status\":\"UNKNOWN\"}}");
    fuzz_gen_seed(add, 1, 200, 0, "{\"output\":{\"task_id\":\"t\",\"task_status\":\"CANCELED\"}}");
    fuzz_gen_seed(add, 1, 404, 0, "{\"code\":\"NotFound\",\"message\":\"task not found\"}");
}

void fuzz_report(void)
{
    printf("fuzz_gen_dashscope: create %lu accepted %lu invalid %lu retry %lu limited %lu rejected; query %lu running "
           "%lu succeeded %lu failed %lu unknown %lu retry %lu limited %lu rejected\n",
           counts[0][GEN_ACCEPTED], counts[0][GEN_INVALID], counts[0][GEN_RETRY], counts[0][GEN_RATE_LIMITED],
           counts[0][GEN_KEY_REJECTED], counts[1][GEN_RUNNING], counts[1][GEN_SUCCEEDED], counts[1][GEN_FAILED],
           counts[1][GEN_UNKNOWN_TASK], counts[1][GEN_RETRY], counts[1][GEN_RATE_LIMITED], counts[1][GEN_KEY_REJECTED]);
}
