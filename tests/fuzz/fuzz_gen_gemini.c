/*
 * fuzz_gen_gemini.c - fuzz target for the Gemini image answers (src/providers/gen/gemini.c):
 * generateContent answers under any status and body.
 *
 * Input: a mode byte (unused), two status bytes, a flags byte (gen_fuzz.h), the body.
 * Invariants (gen_fuzz.h), and here: the only outcomes of a synchronous call are SUCCEEDED,
 * FAILED, INVALID, RETRY, RATE_LIMITED and KEY_REJECTED; a success holds bytes (never
 * URLs) of an image/ type, and each image re-encoded in base64 appears in the body (what we
 * return is exactly what Gemini sent); FAILED only for a 2xx answer without images.
 */
#include <stdio.h>

#include "crypto/encode.h"
#include "fuzz.h"
#include "gen_fuzz.h"

static unsigned long counts[GEN_KEY_REJECTED + 1];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct net_call c;
    struct gen_result r;
    if (size < 1 || fuzz_call(&c, "https://gemini.test/v1beta/models/m:generateContent", "x-goog-api-key: " FUZZ_KEY,
                              data + 1, size - 1) != 0)
        return 0;
    gen_provider_find("gemini")->parse_submit(&c, &r);
    fuzz_check_result(&c, &r);
    counts[r.outcome]++;
    if (r.outcome == GEN_ACCEPTED || r.outcome == GEN_RUNNING || r.outcome == GEN_UNKNOWN_TASK)
        abort();
    if (r.outcome == GEN_FAILED && (c.status < 200 || c.status > 299))
        abort();
    for (size_t i = 0; r.outcome == GEN_SUCCEEDED && i < r.n_outputs; i++) {
        const struct gen_output *o = &r.outputs[i];
        char *b64;
        if (o->data == NULL || o->borrowed || strncmp(o->mime, "image/", 6) != 0)
            abort();
        b64 = xmalloc(b64_encoded_len(o->len) + 1);
        b64_encode(o->data, o->len, b64);
        if (memmem(c.resp_body, c.resp_len, b64, strlen(b64)) == NULL)
            abort();
        free(b64);
    }
    gen_result_clear(&r);
    gen_call_release(&c);
    return 0;
}

void fuzz_seeds(void (*add)(const uint8_t *data, size_t size))
{
    fuzz_gen_seed(add, 0, 200, 0,
                  "{\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"text\":\"Here is your nano banana dish\"},"
                  "{\"inlineData\":{\"mimeType\":\"image/png\",\"data\":\"iVBORw0KGgo=\"}}]},\"finishReason\":\"STOP\"}],"
                  "\"usageMetadata\":{\"promptTokenCount\":17,\"candidatesTokenCount\":1306,\"totalTokenCount\":1323},"
                  "\"modelVersion\":\"gemini-2.5-flash-image\",\"responseId\":\"deO6aLeTE4fYvdIPuIm_kQQ\"}");
    fuzz_gen_seed(add, 0, 200, 0,
                  "{\"candidates\":[{\"content\":{\"parts\":[{\"inline_data\":{\"mime_type\":\"image/jpeg\",\"data\":\"/9j/\"}},"
                  "{\"inline_data\":{\"mime_type\":\"image/webp\",\"data\":\"UklGRg==\"}}]}}]}");
    fuzz_gen_seed(add, 0, 200, 0, "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"I can't.\"}]},\"finishReason\":\"STOP\"}]}");
    fuzz_gen_seed(add, 0, 200, 0, "{\"candidates\":[{\"finishReason\":\"IMAGE_SAFETY\"}]}");
    fuzz_gen_seed(add, 0, 200, 0, "{\"promptFeedback\":{\"blockReason\":\"PROHIBITED_CONTENT\"}}");
    fuzz_gen_seed(add, 0, 400, 0,
                  "{\"error\":{\"code\":400,\"message\":\"API key not valid. " FUZZ_KEY "\",\"status\":\"INVALID_ARGUMENT\","
                  "\"details\":[{\"@type\":\"type.googleapis.com/google.rpc.ErrorInfo\",\"reason\":\"API_KEY_INVALID\"}]}}");
    fuzz_gen_seed(add, 0, 429, 0,
                  "{\"error\":{\"code\":429,\"message\":\"quota\",\"status\":\"RESOURCE_EXHAUSTED\",\"details\":[{\"@type\":"
                  "\"type.googleapis.com/google.rpc.RetryInfo\",\"retryDelay\":\"31s\"}]}}");
    fuzz_gen_seed(add, 0, 503, 0, "{\"error\":{\"code\":503,\"message\":\"The model is overloaded.\",\"status\":\"UNAVAILABLE\"}}");
}

void fuzz_report(void)
{
    printf("fuzz_gen_gemini: %lu succeeded %lu failed %lu invalid %lu retry %lu limited %lu rejected\n",
           counts[GEN_SUCCEEDED], counts[GEN_FAILED], counts[GEN_INVALID], counts[GEN_RETRY], counts[GEN_RATE_LIMITED],
           counts[GEN_KEY_REJECTED]);
}
