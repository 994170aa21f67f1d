/*
 * Unit tests for src/providers/gen/dashscope.c (wan2.2-animate-move / -mix, PROVIDERS.md
 * section 8): the create request byte for byte, the query request, and every answer the
 * docs show (and the errors around them) mapped to its outcome.
 */
#include "../test.h"

#include "gen_test.h"

#define KEY "sk-0123456789abcdef0123456789abcdef"

static const struct gen_provider *ds;

static void parse(int poll, long status, const char *body, const char *retry_after, struct gen_result *r)
{
    struct net_call c;
    answer_call(&c, "Authorization: Bearer " KEY, status, body, retry_after);
    (poll ? ds->parse_poll : ds->parse_submit)(&c, r);
    gen_call_release(&c);
}

static void test_provider(void)
{
    CHECK(ds != NULL, "registry has dashscope");
    CHECK_STR_EQ(ds->keys_env, "TG_DASHSCOPE_API_KEYS", "key pool env");
    CHECK(ds->kinds == ((1u << TASK_ANIMATE_MOVE) | (1u << TASK_ANIMATE_MIX)), "runs the two animate kinds");
    CHECK(!ds->synchronous && !ds->needs_image_bytes, "asynchronous, images by URL");
    CHECK(ds->poll_first_ms == 5000 && ds->poll_max_ms == 15000, "polls from 5 s up to 15 s");
    CHECK_STR_EQ(ds->model(TASK_ANIMATE_MOVE, "wan-std"), "wan2.2-animate-move", "move model");
    CHECK_STR_EQ(ds->model(TASK_ANIMATE_MIX, "wan-pro"), "wan2.2-animate-mix", "mix model");
    CHECK(ds->model(TASK_IMAGE, NULL) == NULL, "no image model");
}

static void test_build(void)
{
    struct gen_input in = {0};
    struct net_call c;
    json_t *j;

    in.kind = TASK_ANIMATE_MOVE;
    in.model = "wan2.2-animate-move";
    in.image_url = "https://example.com/in/p.jpg";
    in.video_url = "https://example.com/in/m.mp4";
    in.mode = "wan-std";
    CHECK(ds->build_submit(&in, KEY, &c) == 0, "builds the create call");
    CHECK_STR_EQ(c.method, "POST", "POST");
    CHECK_STR_EQ(c.url, "https://dashscope.aliyuncs.com/api/v1/services/aigc/image2video/video-synthesis", "create URL");
    CHECK_STR_EQ(req_header(&c, "Authorization"), "Bearer " KEY, "Bearer key");
    CHECK_STR_EQ(req_header(&c, "X-DashScope-Async"), "enable", "X-DashScope-Async: enable (required)");
    CHECK_STR_EQ(req_header(&c, "Content-Type"), "application/json", "JSON body");
    CHECK_STR_EQ(c.body,
                 "{\"model\":\"wan2.2-animate-move\",\"input\":{\"image_url\":\"https://example.com/in/p.jpg\","
                 "\"video_url\":\"https://example.com/in/m.mp4\"},\"parameters\":{\"mode\":\"wan-std\"}}",
                 "create body");
    CHECK(c.idempotent == 0 && c.retries == 0, "a create is never retried by net (it would bill twice)");
    CHECK(c.timeout_ms == 30000 && c.max_response == 256 * 1024, "timeout and answer bound");
    CHECK(strstr(c.url, KEY) == NULL, "key not in the URL");
    gen_call_release(&c);

    in.model = NULL;
    in.kind = TASK_ANIMATE_MIX;
    in.mode = "wan-pro";
    CHECK(ds->build_submit(&in, KEY, &c) == 0, "builds with the kind's model");
    j = json_loads(c.body, 0, NULL);
    CHECK_STR_EQ(json_string_value(json_object_get(j, "model")), "wan2.2-animate-mix", "mix model chosen");
    CHECK_STR_EQ(json_string_value(json_object_get(json_object_get(j, "parameters"), "mode")), "wan-pro", "mode");
    json_decref(j);
    gen_call_release(&c);

    in.mode = "wan-turbo";
    CHECK(ds->build_submit(&in, KEY, &c) == -1, "unknown mode refused");
    in.mode = "wan-std";
    in.video_url = NULL;
    CHECK(ds->build_submit(&in, KEY, &c) == -1, "no video refused");
    in.video_url = "https://example.com/\xff.mp4";
    CHECK(ds->build_submit(&in, KEY, &c) == -1, "not UTF-8 refused");

    CHECK(ds->build_poll("0385dc79-5ff8-4d82-bcb6-xxxxxx", KEY, &c) == 0, "builds the query");
    CHECK_STR_EQ(c.method, "GET", "GET");
    CHECK_STR_EQ(c.url, "https://dashscope.aliyuncs.com/api/v1/tasks/0385dc79-5ff8-4d82-bcb6-xxxxxx", "query URL");
    CHECK_STR_EQ(req_header(&c, "Authorization"), "Bearer " KEY, "query Bearer key");
    CHECK(req_header_count(&c, "X-DashScope-Async") == 0, "no async header on the query");
    CHECK(c.idempotent == 1, "a query may be retried");
    gen_call_release(&c);
    CHECK(ds->build_poll("../admin", KEY, &c) == -1, "a task id with a slash refused");
    CHECK(ds->build_poll("", KEY, &c) == -1, "empty task id refused");
    CHECK(ds->build_poll("..", KEY, &c) == -1, "a dot-dot task id refused");
}

static void test_submit_answers(void)
{
    struct gen_result r;
    parse(0, 200,
          "{\"request_id\":\"4909100c-7b5a-9f92-bfe5-xxxxxx\",\"output\":{\"task_id\":\"0385dc79-5ff8-4d82-bcb6-xxxxxx\","
          "\"task_status\":\"PENDING\"}}",
          NULL, &r);
    CHECK(r.outcome == GEN_ACCEPTED, "accepted");
    CHECK_STR_EQ(r.provider_task_id, "0385dc79-5ff8-4d82-bcb6-xxxxxx", "task id");
    gen_result_clear(&r);

    parse(0, 401, "{\"request_id\":\"x\",\"code\":\"InvalidApiKey\",\"message\":\"Invalid API-key provided.\"}", NULL, &r);
    CHECK(r.outcome == GEN_KEY_REJECTED, "401 InvalidApiKey: key rejected");
    CHECK_STR_EQ(r.error_code, "InvalidApiKey", "code kept");
    CHECK_STR_EQ(r.error_message, "Invalid API-key provided.", "message kept");
    parse(0, 400, "{\"code\":\"InvalidApiKey\",\"message\":\"Invalid API-key provided.\"}", NULL, &r);
    CHECK(r.outcome == GEN_KEY_REJECTED, "code InvalidApiKey on a 400: key rejected");
    parse(0, 403, "{\"code\":\"AccessDenied\",\"message\":\"Access denied.\"}", NULL, &r);
    CHECK(r.outcome == GEN_KEY_REJECTED, "403: key rejected");
    parse(0, 400, "{\"code\":\"Arrearage\",\"message\":\"Access denied, please make sure your account is in good standing.\"}",
          NULL, &r);
    CHECK(r.outcome == GEN_KEY_REJECTED, "Arrearage: key rejected");
    CHECK(strstr(r.error_message, "good standing") != NULL, "with the reason");
    parse(0, 403, "{\"code\":\"AllocationQuota.FreeTierOnly\",\"message\":\"The free tier of the model has been exhausted.\"}",
          NULL, &r);
    CHECK(r.outcome == GEN_KEY_REJECTED, "free tier exhausted: key rejected");
    parse(0, 403, "{\"code\":\"AccessDenied\",\"message\":\"current user api does not support synchronous calls\"}", NULL, &r);
    CHECK(r.outcome == GEN_INVALID, "synchronous call refused: our request, not the key");
    parse(0, 429, "{\"code\":\"Throttling.RateQuota\",\"message\":\"Requests rate limit exceeded.\"}", "7", &r);
    CHECK(r.outcome == GEN_RATE_LIMITED, "429: rate limited");
    CHECK_INT_EQ(r.retry_after_ms, 7000, "Retry-After seconds");
    parse(0, 429, "{\"code\":\"Throttling\",\"message\":\"x\"}", "Wed, 21 Oct 2015 07:28:00 GMT", &r);
    CHECK(r.outcome == GEN_RATE_LIMITED && r.retry_after_ms == 0, "Retry-After date: unknown wait");
    parse(0, 400, "{\"code\":\"InvalidParameter\",\"message\":\"The video is too long\"}", NULL, &r);
    CHECK(r.outcome == GEN_INVALID, "400 InvalidParameter: invalid");
    CHECK_STR_EQ(r.error_code, "InvalidParameter", "its code");
    parse(0, 500, "{\"code\":\"InternalError\",\"message\":\"oops\"}", NULL, &r);
    CHECK(r.outcome == GEN_RETRY, "500: retry");
    parse(0, 503, NULL, NULL, &r);
    CHECK(r.outcome == GEN_RETRY, "503 without a body: retry");
    CHECK_STR_EQ(r.error_message, "DashScope answered HTTP 503", "fallback message");
    parse(0, 200, "{\"output\":{\"task_status\":\"PENDING\"}}", NULL, &r);
    CHECK(r.outcome == GEN_RETRY, "no task id: retry (malformed)");
    parse(0, 200, "{\"output\":", NULL, &r);
    CHECK(r.outcome == GEN_RETRY, "truncated JSON: retry");
    parse(0, 200, "<html>gateway</html>", NULL, &r);
    CHECK(r.outcome == GEN_RETRY, "HTML: retry");
    parse(0, 200, "{\"output\":{\"task_id\":\"a/b\"}}", NULL, &r);
    CHECK(r.outcome == GEN_RETRY, "a task id with a slash is not kept");

    {
        struct net_call c;
        failed_call(&c, NET_TIMEOUT);
        ds->parse_submit(&c, &r);
        gen_call_release(&c);
        CHECK(r.outcome == GEN_RETRY, "timeout: retry");
        CHECK_STR_EQ(r.error_message, "network error: timeout", "says so");
    }
}

static void test_poll_answers(void)
{
    struct gen_result r;
    parse(1, 200, "{\"request_id\":\"r\",\"output\":{\"task_id\":\"t1\",\"task_status\":\"RUNNING\"}}", NULL, &r);
    CHECK(r.outcome == GEN_RUNNING && r.progress == -1, "RUNNING, no progress reported");
    CHECK_STR_EQ(r.provider_task_id, "t1", "task id echoed");
    parse(1, 200, "{\"output\":{\"task_id\":\"t1\",\"task_status\":\"PENDING\"}}", NULL, &r);
    CHECK(r.outcome == GEN_RUNNING, "PENDING: running");

    parse(1, 200,
          "{\"request_id\":\"a67f8716-18ef-447c-a286-xxxxxx\",\"output\":{\"task_id\":\"0385dc79-5ff8-4d82-bcb6-xxxxxx\","
          "\"task_status\":\"SUCCEEDED\",\"submit_time\":\"2025-09-18 15:32:00.105\",\"scheduled_time\":\"2025-09-18 "
          "15:32:15.066\",\"end_time\":\"2025-09-18 15:34:41.898\",\"results\":{\"video_url\":\"https://"
          "dashscope-result-sh.oss-accelerate.aliyuncs.com/xxxxx.mp4?Expires=xxxxxx\"}},\"usage\":{\"video_duration\":5.2,"
          "\"video_ratio\":\"standard\"}}",
          NULL, &r);
    CHECK(r.outcome == GEN_SUCCEEDED, "SUCCEEDED (doc sample)");
    CHECK(r.n_outputs == 1, "one output");
    CHECK_STR_EQ(r.outputs[0].url, "https://dashscope-result-sh.oss-accelerate.aliyuncs.com/xxxxx.mp4?Expires=xxxxxx",
                 "output.results.video_url");
    CHECK_STR_EQ(r.outputs[0].mime, "video/mp4", "mp4");
    CHECK(r.outputs[0].data == NULL, "a URL, not bytes");
    CHECK_INT_EQ(r.output_ms, 5200, "usage.video_duration 5.2 s");
    CHECK(r.progress == 100, "progress 100");
    gen_result_clear(&r);

    parse(1, 200,
          "{\"output\":{\"task_id\":\"t\",\"task_status\":\"SUCCEEDED\",\"video_url\":\"https://x.test/v.mp4\"},"
          "\"usage\":{\"video_duration\":5}}",
          NULL, &r);
    CHECK(r.outcome == GEN_SUCCEEDED && strcmp(r.outputs[0].url, "https://x.test/v.mp4") == 0, "flat output.video_url");
    CHECK_INT_EQ(r.output_ms, 5000, "integer duration");
    parse(1, 200,
          "{\"output\":{\"task_id\":\"t\",\"task_status\":\"SUCCEEDED\",\"results\":{\"video_url\":\"https://x.test/v\"}},"
          "\"usage\":{\"video_duration\":2.0001}}",
          NULL, &r);
    CHECK_INT_EQ(r.output_ms, 2001, "fractional ms rounded up");
    parse(1, 200, "{\"output\":{\"task_id\":\"t\",\"task_status\":\"SUCCEEDED\",\"results\":{\"video_url\":\"https://x.test/v\"}}}",
          NULL, &r);
    CHECK(r.outcome == GEN_SUCCEEDED && r.output_ms == 0, "no usage: length unknown");
    parse(1, 200, "{\"output\":{\"task_id\":\"t\",\"task_status\":\"SUCCEEDED\",\"results\":{\"video_url\":\"https://x.test/v\"}},"
                  "\"usage\":{\"video_duration\":-3}}",
          NULL, &r);
    CHECK(r.output_ms == 0, "negative duration not believed");
    parse(1, 200, "{\"output\":{\"task_id\":\"t\",\"task_status\":\"SUCCEEDED\"}}", NULL, &r);
    CHECK(r.outcome == GEN_RETRY && r.n_outputs == 0, "SUCCEEDED without a URL: retry (malformed)");
    parse(1, 200, "{\"output\":{\"task_id\":\"t\",\"task_status\":\"SUCCEEDED\",\"results\":{\"video_url\":\"file:///etc/passwd\"}}}",
          NULL, &r);
    CHECK(r.outcome == GEN_RETRY, "a non-http URL is never an output");
    parse(1, 200, "{\"output\":{\"task_id\":\"t\",\"task_status\":\"SUCCEEDED\",\"results\":{\"video_url\":\"https://a b\"}}}", NULL,
          &r);
    CHECK(r.outcome == GEN_RETRY, "a URL with a space is never an output");

    parse(1, 200,
          "{\"request_id\":\"...\",\"output\":{\"task_id\":\"t\",\"task_status\":\"FAILED\",\"code\":\"InvalidParameter."
          "DataInspection\",\"message\":\"The image or video failed the inspection\"}}",
          NULL, &r);
    CHECK(r.outcome == GEN_FAILED, "FAILED");
    CHECK_STR_EQ(r.error_code, "InvalidParameter.DataInspection", "failure code");
    CHECK_STR_EQ(r.error_message, "The image or video failed the inspection", "failure message");
    parse(1, 200, "{\"output\":{\"task_id\":\"t\",\"task_status\":\"FAILED\"}}", NULL, &r);
    CHECK(r.outcome == GEN_FAILED && strcmp(r.error_message, "DashScope task failed") == 0, "FAILED without words");
    parse(1, 200, "{\"output\":{\"task_id\":\"t\",\"task_status\":\"CANCELED\"}}", NULL, &r);
    CHECK(r.outcome == GEN_FAILED, "CANCELED: failed");
    parse(1, 200, "{\"output\":{\"task_id\":\"t\",\"task_status\":\"UNKNOWN\"}}", NULL, &r);
    CHECK(r.outcome == GEN_UNKNOWN_TASK, "UNKNOWN: unknown task");
    parse(1, 200, "{\"output\":{\"task_id\":\"t\",\"task_status\":\"DONE\"}}", NULL, &r);
    CHECK(r.outcome == GEN_RETRY, "unknown status word: retry");
    parse(1, 404, "{\"code\":\"NotFound\",\"message\":\"task not found\"}", NULL, &r);
    CHECK(r.outcome == GEN_UNKNOWN_TASK, "404 on a query: unknown task");
    parse(1, 401, "{\"code\":\"InvalidApiKey\",\"message\":\"Invalid API-key provided.\"}", NULL, &r);
    CHECK(r.outcome == GEN_KEY_REJECTED, "401 on a query: key rejected");
    parse(1, 502, "bad gateway", NULL, &r);
    CHECK(r.outcome == GEN_RETRY, "502: retry");
}

static void test_sanitize(void)
{
    struct gen_result r;
    char body[2048];
    snprintf(body, sizeof body,
             "{\"code\":\"InvalidApiKey\",\"message\":\"Invalid API-key provided: " KEY
             "\\n\\u0007 other sk-ZZZZZZZZZZZZZZZZ\\u202e end\"}");
    parse(0, 401, body, NULL, &r);
    CHECK(strstr(r.error_message, KEY) == NULL, "the key is never echoed");
    CHECK(strstr(r.error_message, "sk-ZZZZ") == NULL, "nor anything key-shaped");
    CHECK(printable(r.error_message), "printable: %s", r.error_message);
    CHECK(strstr(r.error_message, "Invalid API-key provided: ***") != NULL, "rest kept: %s", r.error_message);

    {
        char big[8192];
        size_t n = 0;
        n += (size_t)snprintf(big, sizeof big, "{\"code\":\"InternalError\",\"message\":\"");
        while (n < 5000)
            n += (size_t)snprintf(big + n, sizeof big - n, "\xc3\xa9"); /* é */
        snprintf(big + n, sizeof big - n, "\"}");
        parse(0, 500, big, NULL, &r);
        CHECK(strlen(r.error_message) < TG_TASK_ERROR_MAX, "bounded");
        CHECK(strcmp(r.error_message + strlen(r.error_message) - 3, "...") == 0, "cut with ...");
        CHECK(utf8_ok_test(r.error_message), "cut on a character boundary");
    }
    parse(0, 500, "{\"code\":\"bad code with spaces\",\"message\":\"m\"}", NULL, &r);
    CHECK_STR_EQ(r.error_code, "", "a code that is not a word is dropped");
}

int main(void)
{
    ds = gen_provider_find("dashscope");
    test_provider();
    if (ds == NULL)
        return test_done();
    test_build();
    test_submit_answers();
    test_poll_answers();
    test_sanitize();
    return test_done();
}
