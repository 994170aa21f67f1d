/*
 * Unit tests for src/providers/gen/gemini.c (gemini-2.5-flash-image, PROVIDERS.md section
 * 10): the generateContent request (key in a header, never the URL; input images inline
 * in base64), images read back from inlineData / inline_data, refusals without an image,
 * and Google's error shape mapped to outcomes.
 */
#include "../test.h"

#include "gen_test.h"

#include "crypto/encode.h"

#define KEY "AIzaSyD-0123456789abcdefghijklmnopqrs"

static const struct gen_provider *gm;

static void parse(long status, const char *body, const char *retry_after, struct gen_result *r)
{
    struct net_call c;
    answer_call(&c, "x-goog-api-key: " KEY, status, body, retry_after);
    gm->parse_submit(&c, r);
    gen_call_release(&c);
}

static void test_build(void)
{
    static const unsigned char png[] = {0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a, 0x00};
    struct gen_input in = {0};
    struct net_call c;
    char *b64, *want;

    CHECK(gm != NULL, "registry has gemini");
    if (gm == NULL)
        return;
    CHECK(gm->synchronous == 1 && gm->needs_image_bytes == 1, "synchronous, images as bytes");
    CHECK(gm->build_poll == NULL && gm->parse_poll == NULL, "no polling");
    CHECK(gm->kinds == 1u << TASK_IMAGE, "image only");
    CHECK_STR_EQ(gm->model(TASK_IMAGE, NULL), "gemini-2.5-flash-image", "model");
    in.kind = TASK_IMAGE;
    in.prompt = "Put this cat in a tuxedo";
    CHECK(gm->build_submit(&in, KEY, &c) == 0, "builds");
    CHECK_STR_EQ(c.method, "POST", "POST");
    CHECK_STR_EQ(c.url, "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash-image:generateContent",
                 "URL");
    CHECK(strstr(c.url, "key=") == NULL && strstr(c.url, KEY) == NULL, "the key is never in the URL");
    CHECK_STR_EQ(req_header(&c, "x-goog-api-key"), KEY, "x-goog-api-key header");
    CHECK(req_header(&c, "Authorization") == NULL, "no Authorization header");
    CHECK_STR_EQ(c.body,
                 "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"Put this cat in a tuxedo\"}]}],"
                 "\"generationConfig\":{\"responseModalities\":[\"IMAGE\"]}}",
                 "text-only body");
    CHECK(c.timeout_ms == 120000 && c.max_response == GEN_MAX_RESPONSE, "120 s, GEN_MAX_RESPONSE");
    CHECK(c.idempotent == 0 && c.retries == 0, "never retried by net");
    gen_call_release(&c);

    in.images[0].mime = "image/png";
    in.images[0].data = png;
    in.images[0].len = sizeof png;
    in.n_images = 1;
    in.aspect_ratio = "16:9";
    CHECK(gm->build_submit(&in, KEY, &c) == 0, "builds with an image");
    b64 = xmalloc(b64_encoded_len(sizeof png) + 1);
    b64_encode(png, sizeof png, b64);
    want = xasprintf("{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"Put this cat in a tuxedo\"},{\"inline_data\":{"
                     "\"mime_type\":\"image/png\",\"data\":\"%s\"}}]}],\"generationConfig\":{\"responseModalities\":[\"IMAGE\"],"
                     "\"imageConfig\":{\"aspectRatio\":\"16:9\"}}}",
                     b64);
    CHECK_STR_EQ(c.body, want, "image inline in base64, aspect ratio");
    free(b64);
    free(want);
    gen_call_release(&c);

    in.images[0].mime = "text/html";
    CHECK(gm->build_submit(&in, KEY, &c) == -1, "a non-image input refused");
    in.images[0].mime = "image/png";
    in.images[0].len = 0;
    CHECK(gm->build_submit(&in, KEY, &c) == -1, "an empty image refused");
    in.n_images = 0;
    in.model = "../../evil";
    CHECK(gm->build_submit(&in, KEY, &c) == -1, "a model that is not a path segment refused");
}

static void test_answers(void)
{
    struct gen_result r;
    /* "Tollgate!" */
    parse(200,
          "{\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"text\":\"Here is your nano banana dish\"},"
          "{\"inlineData\":{\"mimeType\":\"image/png\",\"data\":\"VG9sbGdhdGUh\"}}]},\"finishReason\":\"STOP\"}],"
          "\"usageMetadata\":{\"promptTokenCount\":17,\"candidatesTokenCount\":1306,\"totalTokenCount\":1323},"
          "\"modelVersion\":\"gemini-2.5-flash-image\",\"responseId\":\"deO6aLeTE4fYvdIPuIm_kQQ\"}",
          NULL, &r);
    CHECK(r.outcome == GEN_SUCCEEDED, "image answer: succeeded");
    CHECK(r.n_outputs == 1 && r.outputs[0].len == 9 && memcmp(r.outputs[0].data, "Tollgate!", 9) == 0, "decoded bytes");
    CHECK(!r.outputs[0].borrowed && r.outputs[0].url[0] == '\0', "heap bytes, no URL");
    CHECK_STR_EQ(r.outputs[0].mime, "image/png", "mime from inlineData.mimeType");
    gen_result_clear(&r);
    CHECK(r.n_outputs == 0 && r.outputs[0].data == NULL, "clear frees and zeroes");

    parse(200,
          "{\"candidates\":[{\"content\":{\"parts\":[{\"inline_data\":{\"mime_type\":\"image/jpeg\",\"data\":\"/9j/\"}},"
          "{\"inline_data\":{\"mime_type\":\"image/webp\",\"data\":\"UklGRg==\"}}]}}]}",
          NULL, &r);
    CHECK(r.outcome == GEN_SUCCEEDED && r.n_outputs == 2, "snake_case parts, two images");
    CHECK_STR_EQ(r.outputs[0].mime, "image/jpeg", "jpeg");
    CHECK(r.outputs[1].len == 4 && memcmp(r.outputs[1].data, "RIFF", 4) == 0, "second image decoded");
    gen_result_clear(&r);

    parse(200, "{\"candidates\":[{\"content\":{\"parts\":[{\"inlineData\":{\"mimeType\":\"image/png\",\"data\":\"VG9s*\"}}]}}]}",
          NULL, &r);
    CHECK(r.outcome == GEN_RETRY && r.n_outputs == 0, "bad base64: retry, nothing kept");
    parse(200, "{\"candidates\":[{\"content\":{\"parts\":[{\"inlineData\":{\"mimeType\":\"text/html\",\"data\":\"VG9s\"}}]}}]}",
          NULL, &r);
    CHECK(r.outcome == GEN_RETRY, "a non-image part: malformed");

    parse(200, "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"I can't draw that.\"}]},\"finishReason\":\"STOP\"}]}", NULL,
          &r);
    CHECK(r.outcome == GEN_FAILED, "words only: failed");
    CHECK_STR_EQ(r.error_code, "STOP", "finish reason as the code");
    CHECK_STR_EQ(r.error_message, "Gemini returned no image: I can't draw that.", "message with the model's words");
    parse(200, "{\"candidates\":[{\"finishReason\":\"IMAGE_SAFETY\"}]}", NULL, &r);
    CHECK(r.outcome == GEN_FAILED && strcmp(r.error_code, "IMAGE_SAFETY") == 0, "IMAGE_SAFETY: failed");
    CHECK_STR_EQ(r.error_message, "Gemini returned no image (IMAGE_SAFETY)", "says why");
    parse(200, "{\"promptFeedback\":{\"blockReason\":\"PROHIBITED_CONTENT\"}}", NULL, &r);
    CHECK(r.outcome == GEN_FAILED && strcmp(r.error_code, "PROHIBITED_CONTENT") == 0, "blocked prompt: failed");
    CHECK_STR_EQ(r.error_message, "Gemini blocked the prompt (PROHIBITED_CONTENT)", "says blocked");
    parse(200, "{}", NULL, &r);
    CHECK(r.outcome == GEN_FAILED && strcmp(r.error_code, "NO_IMAGE") == 0, "empty answer: failed NO_IMAGE");
    parse(200, "{\"candidates\":", NULL, &r);
    CHECK(r.outcome == GEN_RETRY, "truncated: retry");

    parse(400,
          "{\"error\":{\"code\":400,\"message\":\"API key not valid. Please pass a valid API key.\",\"status\":"
          "\"INVALID_ARGUMENT\",\"details\":[{\"@type\":\"type.googleapis.com/google.rpc.ErrorInfo\",\"reason\":"
          "\"API_KEY_INVALID\",\"domain\":\"googleapis.com\"}]}}",
          NULL, &r);
    CHECK(r.outcome == GEN_KEY_REJECTED, "400 API_KEY_INVALID: key rejected");
    CHECK_STR_EQ(r.error_code, "INVALID_ARGUMENT", "status as the code");
    parse(403, "{\"error\":{\"code\":403,\"message\":\"Permission denied\",\"status\":\"PERMISSION_DENIED\"}}", NULL, &r);
    CHECK(r.outcome == GEN_KEY_REJECTED, "403 PERMISSION_DENIED: key rejected");
    parse(400, "{\"error\":{\"code\":400,\"message\":\"User location is not supported for the API use.\",\"status\":"
               "\"FAILED_PRECONDITION\"}}",
          NULL, &r);
    CHECK(r.outcome == GEN_KEY_REJECTED, "FAILED_PRECONDITION (account): key rejected");
    parse(429,
          "{\"error\":{\"code\":429,\"message\":\"You exceeded your current quota\",\"status\":\"RESOURCE_EXHAUSTED\","
          "\"details\":[{\"@type\":\"type.googleapis.com/google.rpc.RetryInfo\",\"retryDelay\":\"31s\"}]}}",
          NULL, &r);
    CHECK(r.outcome == GEN_RATE_LIMITED && r.retry_after_ms == 31000, "429 RESOURCE_EXHAUSTED with RetryInfo");
    parse(429, "{\"error\":{\"code\":429,\"message\":\"slow down\",\"status\":\"RESOURCE_EXHAUSTED\"}}", "5", &r);
    CHECK(r.outcome == GEN_RATE_LIMITED && r.retry_after_ms == 5000, "429 with Retry-After");
    parse(400, "{\"error\":{\"code\":400,\"message\":\"Request contains an invalid argument.\",\"status\":\"INVALID_ARGUMENT\"}}",
          NULL, &r);
    CHECK(r.outcome == GEN_INVALID, "400 INVALID_ARGUMENT: invalid");
    parse(500, "{\"error\":{\"code\":500,\"message\":\"Internal error\",\"status\":\"INTERNAL\"}}", NULL, &r);
    CHECK(r.outcome == GEN_RETRY, "500: retry");
    parse(503, "{\"error\":{\"code\":503,\"message\":\"The model is overloaded.\",\"status\":\"UNAVAILABLE\"}}", NULL, &r);
    CHECK(r.outcome == GEN_RETRY, "503: retry");
    parse(400, "{\"error\":{\"code\":400,\"message\":\"bad key " KEY "\",\"status\":\"INVALID_ARGUMENT\"}}", NULL, &r);
    CHECK(strstr(r.error_message, KEY) == NULL && strstr(r.error_message, "AIza") == NULL, "key never echoed: %s",
          r.error_message);
    {
        struct net_call c;
        failed_call(&c, NET_TOO_LARGE);
        gm->parse_submit(&c, &r);
        gen_call_release(&c);
        CHECK(r.outcome == GEN_RETRY, "too large: retry");
    }
}

int main(void)
{
    gm = gen_provider_find("gemini");
    test_build();
    if (gm != NULL)
        test_answers();
    return test_done();
}
