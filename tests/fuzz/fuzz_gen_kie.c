/*
 * fuzz_gen_kie.c - fuzz target for kie.ai (src/providers/gen/kie.c): the generate and
 * record-info answers, the callback body's task id, and the callback signature check.
 *
 * The first byte picks the mode, the rest is the input:
 *   0: status, flags, body -> parse_submit;   1: the same -> parse_poll (asking taskId=veo_task_f);
 *   2: a callback body -> gen_kie_callback_task_id;
 *   3: timestamp NUL signature NUL task id -> gen_kie_callback_verify at a fixed time;
 *   4: a callback body whose data.taskId the target signs itself -> verify must accept it,
 *      and refuse it one second past the tolerance or with one character changed.
 * Invariants (gen_fuzz.h), and here: a poll result names no other task than the one asked;
 * a success lists only URLs found in data.response.resultUrls; a callback task id is a
 * string of the body; verify agrees with a reference (libsodium HMAC-SHA256, base64 with
 * padding, exact string equality, the timestamp all digits and within tolerance).
 */
#include <stdio.h>

#include <jansson.h>
#include <sodium.h>

#include "fuzz.h"
#include "gen_fuzz.h"

#define HKEY "kie_test_key"
#define NOW 1700000000
#define TOL 300

static unsigned long counts[5][GEN_KEY_REJECTED + 1];

static void reference_sig(const char *task, const char *ts, char out[64])
{
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, (const unsigned char *)HKEY, strlen(HKEY));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)task, strlen(task));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)".", 1);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)ts, strlen(ts));
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_bin2base64(out, 64, mac, sizeof mac, sodium_base64_VARIANT_ORIGINAL);
}

static int reference_ts_ok(const char *ts)
{
    size_t n = strlen(ts);
    long long t = 0;
    if (n == 0 || n > 12)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (ts[i] < '0' || ts[i] > '9')
            return 0;
        t = t * 10 + (ts[i] - '0');
    }
    return t >= NOW - TOL && t <= NOW + TOL;
}

static void mode_answer(int poll, const uint8_t *d, size_t n)
{
    struct net_call c;
    struct gen_result r;
    if (fuzz_call(&c, "https://kie.test/api/v1/veo/record-info?taskId=veo_task_f", "Authorization: Bearer " FUZZ_KEY, d,
                  n) != 0)
        return;
    (poll ? gen_provider_find("kie")->parse_poll : gen_provider_find("kie")->parse_submit)(&c, &r);
    fuzz_check_result(&c, &r);
    counts[poll][r.outcome]++;
    if (!poll && r.outcome != GEN_ACCEPTED && r.outcome != GEN_INVALID && r.outcome != GEN_RETRY &&
        r.outcome != GEN_RATE_LIMITED && r.outcome != GEN_KEY_REJECTED && r.outcome != GEN_FAILED)
        abort();
    if (poll && r.outcome == GEN_ACCEPTED)
        abort();
    if (poll && r.provider_task_id[0] != '\0' && strcmp(r.provider_task_id, "veo_task_f") != 0)
        abort();
    if (r.outcome == GEN_SUCCEEDED) {
        json_t *j = json_loadb(c.resp_body, c.resp_len, 0, NULL);
        json_t *urls = json_object_get(json_object_get(json_object_get(j, "data"), "response"), "resultUrls");
        for (size_t i = 0; i < r.n_outputs; i++) {
            int found = 0;
            for (size_t k = 0; k < json_array_size(urls); k++)
                found |= json_is_string(json_array_get(urls, k)) &&
                         strcmp(json_string_value(json_array_get(urls, k)), r.outputs[i].url) == 0;
            if (!found)
                abort();
        }
        json_decref(j);
    }
    gen_result_clear(&r);
    gen_call_release(&c);
}

static void mode_task_id(const uint8_t *d, size_t n)
{
    char id[TG_PROVIDER_TASK_MAX];
    char *b = xmalloc(n + 1);
    memcpy(b, d, n);
    b[n] = '\0';
    if (gen_kie_callback_task_id(b, n, id) == 0) {
        counts[2][0]++;
        if (!fuzz_word_ok(id, sizeof id, 0) || memmem(b, n, id, strlen(id)) == NULL)
            abort();
    } else {
        counts[2][1]++;
        if (id[0] != '\0')
            abort();
    }
    free(b);
}

static void mode_verify(const uint8_t *d, size_t n)
{
    char *b = xmalloc(n + 3), *ts, *sig, *task, want[64];
    int got, ref;
    memcpy(b, d, n);
    b[n] = b[n + 1] = b[n + 2] = '\0';
    ts = b;
    sig = ts + strlen(ts) + 1;
    task = sig + strlen(sig) + 1;
    if (task > b + n)
        task = b + n;
    got = gen_kie_callback_verify(HKEY, task, ts, sig, NOW, TOL);
    reference_sig(task, ts, want);
    ref = reference_ts_ok(ts) && fuzz_word_ok(task, TG_PROVIDER_TASK_MAX, 0) && strcmp(sig, want) == 0;
    if (got != ref)
        abort();
    counts[3][got]++;
    free(b);
}

static void mode_signed(const uint8_t *d, size_t n)
{
    char id[TG_PROVIDER_TASK_MAX], sig[64], ts[16];
    char *b = xmalloc(n + 1);
    memcpy(b, d, n);
    b[n] = '\0';
    if (gen_kie_callback_task_id(b, n, id) == 0) {
        snprintf(ts, sizeof ts, "%d", NOW + (int)(n % (2 * TOL + 1)) - TOL);
        reference_sig(id, ts, sig);
        if (gen_kie_callback_verify(HKEY, id, ts, sig, NOW, TOL) != 1)
            abort();
        if (gen_kie_callback_verify(HKEY, id, ts, sig, NOW + 2 * TOL + 1, TOL) != 0)
            abort();
        sig[n % 43] = sig[n % 43] == 'A' ? 'B' : 'A';
        if (gen_kie_callback_verify(HKEY, id, ts, sig, NOW, TOL) != 0)
            abort();
        counts[4][1]++;
    } else {
        counts[4][0]++;
    }
    free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    switch (data[0] % 5) {
    case 0: mode_answer(0, data + 1, size - 1); break;
    case 1: mode_answer(1, data + 1, size - 1); break;
    case 2: mode_task_id(data + 1, size - 1); break;
    case 3: mode_verify(data + 1, size - 1); break;
    default: mode_signed(data + 1, size - 1); break;
    }
    return 0;
}

void fuzz_seeds(void (*add)(const uint8_t *data, size_t size))
{
    static const char callback[] =
        "{\"code\":200,\"msg\":\"Veo3 video generated successfully.\",\"data\":{\"taskId\":\"veo_task_abcdef123456\","
        "\"promptJson\":\"{\\\"aspectRatio\\\":\\\"16:9\\\",\\\"model\\\":\\\"veo3_fast\\\",\\\"prompt\\\":\\\"cat\\\"}\","
        "\"info\":{\"resultUrls\":[\"http://example.com/video1.mp4\"],\"originUrls\":[\"http://example.com/o.mp4\"],"
        "\"resolution\":\"1080p\"},\"fallbackFlag\":false}}";
    static const char verify[] = "1700000000\0UYFcq6jg4IzoH0KdBi0wXgnFBhdsh5C2QJ9yKHhKtfU=\0veo_task_abcdef123456";
    uint8_t buf[1024];

    fuzz_gen_seed(add, 0, 200, 0, "{\"code\":200,\"msg\":\"success\",\"data\":{\"taskId\":\"veo_task_abcdef123456\"}}");
    fuzz_gen_seed(add, 0, 200, 0, "{\"code\":402,\"msg\":\"Insufficient credits\",\"data\":null}");
    fuzz_gen_seed(add, 0, 401, 0, "{\"code\":401,\"msg\":\"Unauthorized " FUZZ_KEY "\"}");
    fuzz_gen_seed(add, 0, 429, 1, "9{\"code\":429,\"msg\":\"Rate limited\"}");
    fuzz_gen_seed(add, 0, 200, 0, "{\"code\":455,\"msg\":\"maintenance\"}");
    fuzz_gen_seed(add, 0, 200, 0, "{\"code\":501,\"msg\":\"Generation failed\"}");
    fuzz_gen_seed(add, 1, 200, 0,
                  "{\"code\":200,\"msg\":\"success\",\"data\":{\"taskId\":\"veo_task_f\",\"paramJson\":\"{}\","
                  "\"completeTime\":\"2025-06-06 10:30:00\",\"response\":{\"taskId\":\"veo_task_f\",\"resultUrls\":["
                  "\"http://example.com/video1.mp4\"],\"originUrls\":[\"http://example.com/o.mp4\"],\"resolution\":\"1080p\"},"
                  "\"successFlag\":1,\"errorCode\":null,\"errorMessage\":\"\",\"fallbackFlag\":false}}");
    fuzz_gen_seed(add, 1, 200, 0, "{\"code\":200,\"data\":{\"taskId\":\"veo_task_f\",\"successFlag\":0,\"response\":null}}");
    fuzz_gen_seed(add, 1, 200, 0,
                  "{\"code\":200,\"data\":{\"taskId\":\"veo_task_f\",\"successFlag\":2,\"errorCode\":400,\"errorMessage\":"
                  "\"flagged\"}}");
    fuzz_gen_seed(add, 1, 200, 0, "{\"code\":200,\"data\":{\"taskId\":\"veo_task_g\",\"successFlag\":3}}");
    buf[0] = 2;
    memcpy(buf + 1, callback, sizeof callback - 1);
    add(buf, sizeof callback);
    buf[0] = 4;
    add(buf, sizeof callback);
    buf[0] = 3;
    memcpy(buf + 1, verify, sizeof verify - 1);
    add(buf, sizeof verify);
}

void fuzz_report(void)
{
    printf("fuzz_gen_kie: generate %lu accepted %lu invalid %lu retry %lu rejected; record-info %lu running %lu "
           "succeeded %lu failed %lu retry; callback ids %lu read %lu refused; verify %lu ok %lu refused; signed %lu\n",
           counts[0][GEN_ACCEPTED], counts[0][GEN_INVALID], counts[0][GEN_RETRY], counts[0][GEN_KEY_REJECTED],
           counts[1][GEN_RUNNING], counts[1][GEN_SUCCEEDED], counts[1][GEN_FAILED], counts[1][GEN_RETRY], counts[2][0],
           counts[2][1], counts[3][1], counts[3][0], counts[4][1]);
}
