/*
 * Unit tests for src/providers/gen/kie.c (Veo3 fast through kie.ai, PROVIDERS.md 9.1): the
 * generate and record-info requests, the answers (HTTP status and body code both), and
 * the callback signature (vector 11 of PROVIDERS.md) with the attacks on it.
 */
#include "../test.h"

#include "gen_test.h"

#include "crypto/encode.h"
#include "crypto/hash.h"

#define KEY "kie_live_0123456789abcdef"
#define TASK "veo_task_abcdef123456"

static const struct gen_provider *kie;

static void parse(int poll, long status, const char *body, const char *retry_after, struct gen_result *r)
{
    struct net_call c;
    answer_call(&c, "Authorization: Bearer " KEY, status, body, retry_after); /* URL asks taskId=TASK */
    (poll ? kie->parse_poll : kie->parse_submit)(&c, r);
    gen_call_release(&c);
}

static void test_build(void)
{
    struct gen_input in = {0};
    struct net_call c;

    CHECK(kie != NULL, "registry has kie");
    if (kie == NULL)
        return;
    CHECK_STR_EQ(kie->keys_env, "TG_KIE_API_KEYS", "key pool env");
    CHECK(kie->kinds == 1u << TASK_TEXT_TO_VIDEO, "text_to_video only");
    CHECK_STR_EQ(kie->model(TASK_TEXT_TO_VIDEO, NULL), "veo3_fast", "model veo3_fast");
    in.kind = TASK_TEXT_TO_VIDEO;
    in.prompt = "A dog playing in a park";
    in.aspect_ratio = "9:16";
    CHECK(kie->build_submit(&in, KEY, &c) == 0, "builds generate");
    CHECK_STR_EQ(c.method, "POST", "POST");
    CHECK_STR_EQ(c.url, "https://api.kie.ai/api/v1/veo/generate", "generate URL");
    CHECK_STR_EQ(req_header(&c, "Authorization"), "Bearer " KEY, "Bearer key");
    CHECK_STR_EQ(req_header(&c, "Content-Type"), "application/json", "JSON");
    CHECK_STR_EQ(c.body, "{\"prompt\":\"A dog playing in a park\",\"model\":\"veo3_fast\",\"aspectRatio\":\"9:16\"}",
                 "text body");
    CHECK(c.idempotent == 0 && c.retries == 0, "never retried by net");
    gen_call_release(&c);

    in.image_urls[0] = "https://example.com/a.jpg";
    in.image_urls[1] = "https://example.com/b.jpg";
    in.n_image_urls = 2;
    in.aspect_ratio = NULL;
    in.callback_url = "https://tollgate.example/api/v1/callbacks/kie";
    CHECK(kie->build_submit(&in, KEY, &c) == 0, "builds with frames and callback");
    CHECK_STR_EQ(c.body,
                 "{\"prompt\":\"A dog playing in a park\",\"model\":\"veo3_fast\",\"aspectRatio\":\"16:9\",\"imageUrls\":"
                 "[\"https://example.com/a.jpg\",\"https://example.com/b.jpg\"],\"generationType\":"
                 "\"FIRST_AND_LAST_FRAMES_2_VIDEO\",\"callBackUrl\":\"https://tollgate.example/api/v1/callbacks/kie\"}",
                 "frames body (16:9 default)");
    gen_call_release(&c);
    in.n_image_urls = 3;
    CHECK(kie->build_submit(&in, KEY, &c) == -1, "three frames refused");
    in.n_image_urls = 0;
    in.aspect_ratio = "4:3";
    CHECK(kie->build_submit(&in, KEY, &c) == -1, "4:3 refused");
    in.aspect_ratio = NULL;
    in.prompt = "";
    CHECK(kie->build_submit(&in, KEY, &c) == -1, "empty prompt refused");

    CHECK(kie->build_poll(TASK, KEY, &c) == 0, "builds record-info");
    CHECK_STR_EQ(c.method, "GET", "GET");
    CHECK_STR_EQ(c.url, "https://api.kie.ai/api/v1/veo/record-info?taskId=" TASK, "record-info URL");
    CHECK_STR_EQ(req_header(&c, "Authorization"), "Bearer " KEY, "Bearer key");
    gen_call_release(&c);
    CHECK(kie->build_poll("a&b=c", KEY, &c) == -1, "query injection refused");
}

static void test_answers(void)
{
    struct gen_result r;
    parse(0, 200, "{\"code\":200,\"msg\":\"success\",\"data\":{\"taskId\":\"" TASK "\"}}", NULL, &r);
    CHECK(r.outcome == GEN_ACCEPTED && strcmp(r.provider_task_id, TASK) == 0, "accepted with taskId");
    parse(0, 200, "{\"code\":402,\"msg\":\"Insufficient credits\",\"data\":null}", NULL, &r);
    CHECK(r.outcome == GEN_KEY_REJECTED, "body code 402: key rejected (account out of credits)");
    CHECK_STR_EQ(r.error_message, "Insufficient credits", "with the reason");
    CHECK_STR_EQ(r.error_code, "402", "code 402");
    parse(0, 402, "{\"code\":402,\"msg\":\"Insufficient credits\",\"data\":null}", NULL, &r);
    CHECK(r.outcome == GEN_KEY_REJECTED, "HTTP 402: key rejected");
    parse(0, 401, "{\"code\":401,\"msg\":\"You do not have access permissions\"}", NULL, &r);
    CHECK(r.outcome == GEN_KEY_REJECTED, "HTTP 401: key rejected");
    parse(0, 200, "{\"code\":401,\"msg\":\"Unauthorized\"}", NULL, &r);
    CHECK(r.outcome == GEN_KEY_REJECTED, "body code 401 on HTTP 200: key rejected");
    parse(0, 429, "{\"code\":429,\"msg\":\"Rate limited\"}", "12", &r);
    CHECK(r.outcome == GEN_RATE_LIMITED && r.retry_after_ms == 12000, "429 + Retry-After");
    parse(0, 200, "{\"code\":429,\"msg\":\"Rate limited\"}", NULL, &r);
    CHECK(r.outcome == GEN_RATE_LIMITED && r.retry_after_ms == 0, "body 429");
    parse(0, 200, "{\"code\":422,\"msg\":\"prompt is required\"}", NULL, &r);
    CHECK(r.outcome == GEN_INVALID, "422: invalid");
    parse(0, 400, "{\"code\":400,\"msg\":\"bad\"}", NULL, &r);
    CHECK(r.outcome == GEN_INVALID, "400: invalid");
    parse(0, 200, "{\"code\":455,\"msg\":\"Service unavailable (maintenance)\"}", NULL, &r);
    CHECK(r.outcome == GEN_RETRY, "455: retry");
    parse(0, 500, "{\"code\":500,\"msg\":\"Server error\"}", NULL, &r);
    CHECK(r.outcome == GEN_RETRY, "500: retry");
    parse(0, 200, "{\"code\":501,\"msg\":\"Generation failed\"}", NULL, &r);
    CHECK(r.outcome == GEN_FAILED, "501: failed");
    parse(0, 200, "{\"code\":505,\"msg\":\"Feature disabled\"}", NULL, &r);
    CHECK(r.outcome == GEN_FAILED, "505: failed");
    parse(0, 200, "{\"code\":200,\"msg\":\"success\",\"data\":null}", NULL, &r);
    CHECK(r.outcome == GEN_RETRY, "no taskId: retry");
    parse(0, 200, "{\"code\":\"200\",\"data\":{\"taskId\":\"x\"}}", NULL, &r);
    CHECK(r.outcome == GEN_RETRY, "code as a string: malformed");
    parse(0, 200, "not json", NULL, &r);
    CHECK(r.outcome == GEN_RETRY, "not JSON: retry");

    parse(1, 200,
          "{\"code\":200,\"msg\":\"success\",\"data\":{\"taskId\":\"" TASK "\",\"paramJson\":\"{}\",\"completeTime\":null,"
          "\"response\":null,\"successFlag\":0,\"errorCode\":null,\"errorMessage\":\"\"}}",
          NULL, &r);
    CHECK(r.outcome == GEN_RUNNING, "successFlag 0: running");
    parse(1, 200,
          "{\"code\":200,\"msg\":\"success\",\"data\":{\"taskId\":\"" TASK "\",\"paramJson\":\"{\\\"prompt\\\":\\\"A futuristic "
          "city\\\"}\",\"completeTime\":\"2025-06-06 10:30:00\",\"createTime\":\"2025-06-06 10:25:00\",\"response\":{"
          "\"taskId\":\"" TASK "\",\"resultUrls\":[\"http://example.com/video1.mp4\"],\"originUrls\":[\"http://example.com/"
          "original_video1.mp4\"],\"resolution\":\"1080p\"},\"successFlag\":1,\"errorCode\":null,\"errorMessage\":\"\","
          "\"fallbackFlag\":false}}",
          NULL, &r);
    CHECK(r.outcome == GEN_SUCCEEDED, "successFlag 1 (doc sample): succeeded");
    CHECK(r.n_outputs == 1 && strcmp(r.outputs[0].url, "http://example.com/video1.mp4") == 0, "response.resultUrls");
    CHECK_STR_EQ(r.outputs[0].mime, "video/mp4", "mp4");
    CHECK_STR_EQ(r.provider_task_id, TASK, "task id");
    parse(1, 200, "{\"code\":200,\"data\":{\"taskId\":\"" TASK "\",\"successFlag\":1,\"response\":{\"resultUrls\":[]}}}", NULL,
          &r);
    CHECK(r.outcome == GEN_RETRY, "success without URLs: retry");
    parse(1, 200,
          "{\"code\":200,\"data\":{\"taskId\":\"" TASK "\",\"successFlag\":2,\"errorCode\":400,\"errorMessage\":\"Your prompt "
          "was flagged\"}}",
          NULL, &r);
    CHECK(r.outcome == GEN_FAILED, "successFlag 2: failed");
    CHECK_STR_EQ(r.error_code, "400", "numeric errorCode");
    CHECK_STR_EQ(r.error_message, "Your prompt was flagged", "errorMessage");
    parse(1, 200, "{\"code\":200,\"data\":{\"taskId\":\"" TASK "\",\"successFlag\":3,\"errorCode\":null,\"errorMessage\":null}}",
          NULL, &r);
    CHECK(r.outcome == GEN_FAILED && r.error_message[0] != '\0', "successFlag 3: failed, with a message");
    parse(1, 200, "{\"code\":200,\"data\":{\"taskId\":\"veo_task_other\",\"successFlag\":1,\"response\":{\"resultUrls\":["
                  "\"https://x.test/v.mp4\"]}}}",
          NULL, &r);
    CHECK(r.outcome == GEN_RETRY, "an answer about another task never finishes this one");
    parse(1, 200, "{\"code\":200,\"data\":{\"taskId\":\"" TASK "\",\"successFlag\":7}}", NULL, &r);
    CHECK(r.outcome == GEN_RETRY, "unknown flag: retry");
    parse(1, 200, "{\"code\":404,\"msg\":\"task not found\"}", NULL, &r);
    CHECK(r.outcome == GEN_UNKNOWN_TASK, "404 on record-info: unknown task");
    parse(1, 401, "{\"code\":401,\"msg\":\"unauthorized\"}", NULL, &r);
    CHECK(r.outcome == GEN_KEY_REJECTED, "401 on record-info: key rejected");
    {
        struct net_call c;
        failed_call(&c, NET_CONNECT);
        kie->parse_poll(&c, &r);
        gen_call_release(&c);
        CHECK(r.outcome == GEN_RETRY, "connection error: retry");
    }
    parse(0, 402, "{\"code\":402,\"msg\":\"Insufficient credits for key " KEY "\"}", NULL, &r);
    CHECK(strstr(r.error_message, KEY) == NULL, "the key is never echoed: %s", r.error_message);
}

static void test_callback(void)
{
    char id[TG_PROVIDER_TASK_MAX];
    const char *sig = "UYFcq6jg4IzoH0KdBi0wXgnFBhdsh5C2QJ9yKHhKtfU=";
    CHECK(gen_kie_callback_verify("kie_test_key", TASK, "1700000000", sig, 1700000000, 300) == 1,
          "PROVIDERS.md vector 11 verifies");
    CHECK(gen_kie_callback_verify("kie_test_key", TASK, "1700000000", sig, 1700000300, 300) == 1, "at the tolerance edge");
    CHECK(gen_kie_callback_verify("kie_test_key", TASK, "1700000000", sig, 1700000301, 300) == 0, "stale refused");
    CHECK(gen_kie_callback_verify("kie_test_key", TASK, "1700000000", sig, 1699999699, 300) == 0, "future refused");
    CHECK(gen_kie_callback_verify("kie_test_kex", TASK, "1700000000", sig, 1700000000, 300) == 0, "other key refused");
    CHECK(gen_kie_callback_verify("kie_test_key", "veo_task_abcdef123457", "1700000000", sig, 1700000000, 300) == 0,
          "other task refused");
    CHECK(gen_kie_callback_verify("kie_test_key", TASK, "1700000001", sig, 1700000000, 300) == 0, "other time refused");
    CHECK(gen_kie_callback_verify("kie_test_key", TASK, "01700000000", sig, 1700000000, 300) == 0,
          "another spelling of the time is another message");
    CHECK(gen_kie_callback_verify("kie_test_key", TASK, "1700000000", "UYFcq6jg4IzoH0KdBi0wXgnFBhdsh5C2QJ9yKHhKtfU", 1700000000,
                                  300) == 0,
          "unpadded signature refused");
    CHECK(gen_kie_callback_verify("kie_test_key", TASK, "1700000000", "", 1700000000, 300) == 0, "empty signature refused");
    CHECK(gen_kie_callback_verify("kie_test_key", TASK, "1700000000", NULL, 1700000000, 300) == 0, "no signature refused");
    CHECK(gen_kie_callback_verify("kie_test_key", TASK, NULL, sig, 1700000000, 300) == 0, "no timestamp refused");
    CHECK(gen_kie_callback_verify("kie_test_key", TASK, "+1700000000", sig, 1700000000, 300) == 0, "signed timestamp refused");
    CHECK(gen_kie_callback_verify("", TASK, "1700000000", sig, 1700000000, 300) == 0, "no configured key: nothing verifies");
    CHECK(gen_kie_callback_verify(NULL, TASK, "1700000000", sig, 1700000000, 300) == 0, "NULL key: nothing verifies");
    {
        /* the empty-key HMAC is not a way in either */
        unsigned char mac[32];
        char b64[64];
        const char *m = TASK ".1700000000";
        hmac_sha256("", 0, m, strlen(m), mac);
        b64_encode(mac, 32, b64);
        CHECK(gen_kie_callback_verify("", TASK, "1700000000", b64, 1700000000, 300) == 0, "empty-key signature refused");
    }

    CHECK(gen_kie_callback_task_id("{\"code\":200,\"msg\":\"Veo3 video generated successfully.\",\"data\":{\"taskId\":\"" TASK
                                   "\",\"info\":{\"resultUrls\":[\"http://example.com/video1.mp4\"]},\"fallbackFlag\":false}}",
                                   strlen("{\"code\":200,\"msg\":\"Veo3 video generated successfully.\",\"data\":{\"taskId\":\"" TASK
                                          "\",\"info\":{\"resultUrls\":[\"http://example.com/video1.mp4\"]},\"fallbackFlag\":false}}"),
                                   id) == 0 &&
              strcmp(id, TASK) == 0,
          "callback data.taskId");
    {
        const char *b = "{\"code\":501,\"msg\":\"failed\",\"data\":{\"task_id\":\"" TASK "\"}}";
        CHECK(gen_kie_callback_task_id(b, strlen(b), id) == 0 && strcmp(id, TASK) == 0, "data.task_id");
        b = "{\"data\":{\"taskId\":\"a b\"}}";
        CHECK(gen_kie_callback_task_id(b, strlen(b), id) == -1 && id[0] == '\0', "bad id refused");
        b = "{\"data\":{\"taskId\":\"x\"},\"data\":{\"taskId\":\"y\"}}";
        CHECK(gen_kie_callback_task_id(b, strlen(b), id) == -1, "duplicate keys refused");
        b = "[1]";
        CHECK(gen_kie_callback_task_id(b, strlen(b), id) == -1, "not an object");
        CHECK(gen_kie_callback_task_id("", 0, id) == -1, "empty");
    }
}

int main(void)
{
    kie = gen_provider_find("kie");
    test_build();
    if (kie != NULL) {
        test_answers();
        test_callback();
    }
    return test_done();
}
