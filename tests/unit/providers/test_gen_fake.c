/*
 * test_gen_fake: the generation providers (src/providers/gen/) over the real outbound client
 * (a synchronous executor) against the fakes of DashScope, kie.ai and Gemini
 * (tests/fakes/{dashscope,kie,gemini}.mjs) started as child processes: what the dispatcher
 * will do, call by call - submit, poll to the end, download the output - and what every
 * injected fault becomes. The fakes serve the sandbox's sample media, so an output must equal
 * the bytes compiled into the binary. A missing node fails the test.
 */
#include "../test.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/time.h>
#include <unistd.h>

#include <sodium.h>

#include "core/config.h"
#include "core/log.h"
#include "fakeproc.h"
#include "gen_test.h"

static char tmp_root[] = "/tmp/tg_gen_fake_XXXXXX";
static struct net_exec sx;
static struct fakeproc fk[3];
static char urls[3][256], keys[3][2][128], webhook_key[128];
enum { DS, KIE, GM };

static int64_t wall_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static void sync_done(struct net_call *c) { (void)c; }

static int start(int i, const char *env)
{
    json_t *j = fakeproc_start(&fk[i], env, NULL), *k;
    if (j == NULL)
        return -1;
    fakeproc_str(j, "url", urls[i], sizeof urls[i]);
    k = json_object_get(j, "keys");
    for (int n = 0; n < 2; n++)
        snprintf(keys[i][n], sizeof keys[i][n], "%s", json_string_value(json_array_get(k, (size_t)n)));
    if (i == KIE)
        fakeproc_str(j, "webhookKey", webhook_key, sizeof webhook_key);
    json_decref(j);
    return 0;
}

/* POST <fake>/__control/<method> with a JSON array; returns "result" (caller decrefs). */
static json_t *control(int i, const char *method, const char *args)
{
    struct net_call c;
    json_t *j = NULL, *r = NULL;
    char *u = xasprintf("%s/__control/%s", urls[i], method);
    net_call_init(&c, "test", "POST", u);
    net_call_body(&c, "application/json", args, strlen(args));
    net_exec_submit(&sx, &c, sync_done);
    if (c.err == NET_OK && c.resp_body != NULL)
        j = json_loads(c.resp_body, 0, NULL);
    if (j != NULL)
        r = json_incref(json_object_get(j, "result"));
    if (j == NULL || json_object_get(j, "error") != NULL)
        printf("# control %s failed: %s\n", method, c.resp_body ? c.resp_body : "(no answer)");
    json_decref(j);
    net_call_release(&c);
    free(u);
    return r;
}
#define CONTROL(i, m, a) json_decref(control(i, m, a))

/* Submits through provider p with key; r gets the parsed answer. timeout_ms > 0 overrides. */
static void submit(const struct gen_provider *p, const struct gen_input *in, const char *key, int timeout_ms,
                   struct gen_result *r)
{
    struct net_call c;
    if (p->build_submit(in, key, &c) != 0) {
        gen_result_clear(r);
        r->outcome = (enum gen_outcome)-1;
        return;
    }
    if (timeout_ms > 0)
        c.timeout_ms = timeout_ms;
    net_exec_submit(&sx, &c, sync_done);
    p->parse_submit(&c, r);
    gen_call_release(&c);
}

static void poll_once(const struct gen_provider *p, const char *id, const char *key, int timeout_ms, struct gen_result *r)
{
    struct net_call c;
    if (p->build_poll(id, key, &c) != 0) {
        r->outcome = (enum gen_outcome)-1;
        return;
    }
    if (timeout_ms > 0)
        c.timeout_ms = timeout_ms;
    net_exec_submit(&sx, &c, sync_done);
    p->parse_poll(&c, r);
    gen_call_release(&c);
}

/* Polls every 100 ms until the task is no longer running (at most 10 s). */
static void poll_to_end(const struct gen_provider *p, const char *id, const char *key, struct gen_result *r)
{
    int64_t end = wall_ms() + 10000;
    do {
        gen_result_clear(r);
        poll_once(p, id, key, 0, r);
        if (r->outcome != GEN_RUNNING)
            return;
        usleep(100 * 1000);
    } while (wall_ms() < end);
}

/* 1 when url downloads to exactly the sandbox's sample for kind. */
static int output_is_sample(const char *url, enum task_kind_id kind)
{
    struct net_call c;
    const unsigned char *d;
    size_t n;
    const char *mime;
    int ok;
    gen_sandbox_sample(kind, &d, &n, &mime);
    net_call_init(&c, "test", "GET", url);
    net_exec_submit(&sx, &c, sync_done);
    ok = c.err == NET_OK && c.status == 200 && c.resp_len == n && memcmp(c.resp_body, d, n) == 0;
    net_call_release(&c);
    return ok;
}

static long long count_of(int i, const char *key, const char *what)
{
    json_t *j = control(i, "counts", "[]");
    long long v = json_integer_value(json_object_get(json_object_get(j, key), what));
    json_decref(j);
    return v;
}

static void test_dashscope(void)
{
    const struct gen_provider *p = gen_provider_find("dashscope");
    const char *k1 = keys[DS][0], *k2 = keys[DS][1];
    struct gen_input in = {0};
    struct gen_result r = {0};
    char id[TG_PROVIDER_TASK_MAX];
    char args[256];

    in.kind = TASK_ANIMATE_MOVE;
    in.image_url = "https://example.com/person.jpg";
    in.video_url = "https://example.com/motion.mp4";
    in.mode = "wan-pro";
    CONTROL(DS, "setTaskTime", "[300]");
    CONTROL(DS, "setVideoDuration", "[5.2]");
    submit(p, &in, k1, 0, &r);
    CHECK(r.outcome == GEN_ACCEPTED && r.provider_task_id[0], "dashscope: accepted (%s)", gen_outcome_name(r.outcome));
    snprintf(id, sizeof id, "%s", r.provider_task_id);
    poll_once(p, id, k1, 0, &r);
    CHECK(r.outcome == GEN_RUNNING, "dashscope: running at first");
    poll_to_end(p, id, k1, &r);
    CHECK(r.outcome == GEN_SUCCEEDED && r.n_outputs == 1, "dashscope: succeeded (%s %s)", gen_outcome_name(r.outcome),
          r.error_message);
    CHECK_INT_EQ(r.output_ms, 5200, "dashscope: usage.video_duration read");
    CHECK(r.n_outputs == 1 && output_is_sample(r.outputs[0].url, TASK_ANIMATE_MOVE),
          "dashscope: the output downloads to the sample video");
    gen_result_clear(&r);
    poll_once(p, id, k2, 0, &r);
    CHECK(r.outcome == GEN_UNKNOWN_TASK, "dashscope: another key does not know the task");

    submit(p, &in, "sk-notakey00000000000", 0, &r);
    CHECK(r.outcome == GEN_KEY_REJECTED && strcmp(r.error_code, "InvalidApiKey") == 0, "dashscope: unknown key rejected");
    snprintf(args, sizeof args, "[\"unauthorized\",{\"key\":\"%s\",\"times\":null}]", k1);
    CONTROL(DS, "fail", args);
    submit(p, &in, k1, 0, &r);
    CHECK(r.outcome == GEN_KEY_REJECTED, "dashscope: 401 for one key");
    submit(p, &in, k2, 0, &r);
    CHECK(r.outcome == GEN_ACCEPTED, "dashscope: the other key works");
    CONTROL(DS, "clearFaults", "[]");
    CONTROL(DS, "fail", "[\"rate_limit\",{\"retryAfter\":3}]");
    submit(p, &in, k1, 0, &r);
    CHECK(r.outcome == GEN_RATE_LIMITED && r.retry_after_ms == 3000, "dashscope: 429 + Retry-After 3");
    CONTROL(DS, "fail", "[\"error500\"]");
    submit(p, &in, k1, 0, &r);
    CHECK(r.outcome == GEN_RETRY, "dashscope: 500 retry");
    CONTROL(DS, "fail", "[\"malformed\"]");
    submit(p, &in, k1, 0, &r);
    CHECK(r.outcome == GEN_RETRY, "dashscope: malformed retry");
    CONTROL(DS, "fail", "[\"hang\"]");
    submit(p, &in, k1, 500, &r);
    CHECK(r.outcome == GEN_RETRY && strstr(r.error_message, "timeout") != NULL, "dashscope: hang -> timeout -> retry");

    CONTROL(DS, "setOutcome", "[\"fail\",{\"code\":\"InvalidParameter.DataInspection\",\"message\":\"Inspection failed\"}]");
    submit(p, &in, k1, 0, &r);
    snprintf(id, sizeof id, "%s", r.provider_task_id);
    poll_to_end(p, id, k1, &r);
    CHECK(r.outcome == GEN_FAILED && strcmp(r.error_code, "InvalidParameter.DataInspection") == 0 &&
              strcmp(r.error_message, "Inspection failed") == 0,
          "dashscope: a failed task");
    CHECK(count_of(DS, k2, "submit") == 1 && count_of(DS, k2, "poll") == 1, "dashscope: requests counted per key");
}

static void test_kie(void)
{
    const struct gen_provider *p = gen_provider_find("kie");
    const char *k1 = keys[KIE][0];
    struct gen_input in = {0};
    struct gen_result r = {0};
    char id[TG_PROVIDER_TASK_MAX], args[256];
    json_t *sig;

    in.kind = TASK_TEXT_TO_VIDEO;
    in.prompt = "A cat surfing at sunset";
    in.aspect_ratio = "9:16";
    CONTROL(KIE, "setTaskTime", "[300]");
    submit(p, &in, k1, 0, &r);
    CHECK(r.outcome == GEN_ACCEPTED && strncmp(r.provider_task_id, "veo_task_", 9) == 0, "kie: accepted");
    snprintf(id, sizeof id, "%s", r.provider_task_id);
    poll_once(p, id, k1, 0, &r);
    CHECK(r.outcome == GEN_RUNNING, "kie: running at first");
    poll_to_end(p, id, k1, &r);
    CHECK(r.outcome == GEN_SUCCEEDED && r.n_outputs == 1, "kie: succeeded");
    CHECK(r.n_outputs == 1 && output_is_sample(r.outputs[0].url, TASK_TEXT_TO_VIDEO), "kie: output is the sample video");
    gen_result_clear(&r);
    poll_once(p, id, keys[KIE][1], 0, &r);
    CHECK(r.outcome == GEN_UNKNOWN_TASK, "kie: another key does not know the task");

    snprintf(args, sizeof args, "[\"%s\",1700000000]", id);
    sig = control(KIE, "signature", args);
    CHECK(json_is_string(sig) &&
              gen_kie_callback_verify(webhook_key, id, "1700000000", json_string_value(sig), 1700000100, 300) == 1,
          "kie: the fake's callback signature verifies");
    CHECK(json_is_string(sig) &&
              gen_kie_callback_verify("another key", id, "1700000000", json_string_value(sig), 1700000100, 300) == 0,
          "kie: not under another key");
    json_decref(sig);

    CONTROL(KIE, "fail", "[\"insufficient\"]");
    submit(p, &in, k1, 0, &r);
    CHECK(r.outcome == GEN_KEY_REJECTED && strstr(r.error_message, "Insufficient Credits") != NULL,
          "kie: 402 -> key rejected with the reason (%s)", r.error_message);
    CONTROL(KIE, "setHttpMirror", "[true]");
    CONTROL(KIE, "fail", "[\"insufficient\"]");
    submit(p, &in, k1, 0, &r);
    CHECK(r.outcome == GEN_KEY_REJECTED, "kie: HTTP 402 as well");
    CONTROL(KIE, "fail", "[\"rate_limit\",{\"retryAfter\":9}]");
    submit(p, &in, k1, 0, &r);
    CHECK(r.outcome == GEN_RATE_LIMITED && r.retry_after_ms == 9000, "kie: mirrored 429 + Retry-After");
    CONTROL(KIE, "setHttpMirror", "[false]");
    submit(p, &in, "kie_not_a_key", 0, &r);
    CHECK(r.outcome == GEN_KEY_REJECTED, "kie: unknown key rejected");
    in.aspect_ratio = "Auto";
    in.prompt = " ";
    submit(p, &in, k1, 0, &r);
    CHECK(r.outcome == GEN_INVALID, "kie: 422 invalid");
    in.prompt = "A cat";
    CONTROL(KIE, "setOutcome", "[\"fail\",{\"message\":\"flagged\"}]");
    submit(p, &in, k1, 0, &r);
    snprintf(id, sizeof id, "%s", r.provider_task_id);
    poll_to_end(p, id, k1, &r);
    CHECK(r.outcome == GEN_FAILED && strcmp(r.error_message, "flagged") == 0, "kie: failed task");
    CONTROL(KIE, "fail", "[\"malformed\",{\"endpoint\":\"poll\"}]");
    poll_once(p, id, k1, 0, &r);
    CHECK(r.outcome == GEN_RETRY, "kie: malformed record-info retry");
}

static void test_gemini(void)
{
    const struct gen_provider *p = gen_provider_find("gemini");
    const char *k1 = keys[GM][0];
    struct gen_input in = {0};
    struct gen_result r = {0};
    const unsigned char *png;
    size_t n;
    const char *mime;

    gen_sandbox_sample(TASK_IMAGE, &png, &n, &mime);
    in.kind = TASK_IMAGE;
    in.prompt = "Put this pattern on a mug";
    in.images[0].mime = "image/png";
    in.images[0].data = png;
    in.images[0].len = n;
    in.n_images = 1;
    in.aspect_ratio = "1:1";
    submit(p, &in, k1, 0, &r);
    CHECK(r.outcome == GEN_SUCCEEDED && r.n_outputs == 1, "gemini: succeeded (%s %s)", gen_outcome_name(r.outcome),
          r.error_message);
    CHECK(r.n_outputs == 1 && r.outputs[0].len == n && memcmp(r.outputs[0].data, png, n) == 0 &&
              strcmp(r.outputs[0].mime, "image/png") == 0,
          "gemini: the image is the sample PNG");
    gen_result_clear(&r);
    CONTROL(GM, "setResponseCase", "[\"snake\"]");
    CONTROL(GM, "setImages", "[2]");
    submit(p, &in, k1, 0, &r);
    CHECK(r.outcome == GEN_SUCCEEDED && r.n_outputs == 2, "gemini: snake_case answer, two images");
    gen_result_clear(&r);
    submit(p, &in, "AIzaNotAKey", 0, &r);
    CHECK(r.outcome == GEN_KEY_REJECTED, "gemini: API_KEY_INVALID rejected");
    CONTROL(GM, "fail", "[\"rate_limit\",{\"retryAfter\":31}]");
    submit(p, &in, k1, 0, &r);
    CHECK(r.outcome == GEN_RATE_LIMITED && r.retry_after_ms == 31000, "gemini: 429");
    CONTROL(GM, "fail", "[\"error500\"]");
    submit(p, &in, k1, 0, &r);
    CHECK(r.outcome == GEN_RETRY, "gemini: 500 retry");
    CONTROL(GM, "setOutcome", "[\"fail\"]");
    submit(p, &in, k1, 0, &r);
    CHECK(r.outcome == GEN_FAILED && strcmp(r.error_code, "IMAGE_SAFETY") == 0, "gemini: no image, IMAGE_SAFETY");
    CONTROL(GM, "setOutcome", "[\"fail\",{\"block\":true}]");
    submit(p, &in, k1, 0, &r);
    CHECK(r.outcome == GEN_FAILED && strcmp(r.error_code, "PROHIBITED_CONTENT") == 0, "gemini: blocked prompt");
    CONTROL(GM, "setOutcome", "[\"never\"]");
    submit(p, &in, k1, 500, &r);
    CHECK(r.outcome == GEN_RETRY, "gemini: no answer -> timeout -> retry");
    CHECK(count_of(GM, k1, "submit") == 7, "gemini: requests counted");
}

int main(void)
{
    char dir[512], *err = NULL, *kk;
    signal(SIGPIPE, SIG_IGN);
    if (sodium_init() < 0 || mkdtemp(tmp_root) == NULL || net_global_init() != 0)
        return 1;
    net_exec_init(&sx, NULL, NULL, NULL);
    if (start(DS, "DASHSCOPE_FAKE") != 0 || start(KIE, "KIE_FAKE") != 0 || start(GM, "GEMINI_FAKE") != 0)
        return 1;
    snprintf(dir, sizeof dir, "%s/data", tmp_root);
    setenv("TG_DATA_DIR", dir, 1);
    setenv("TG_DASHSCOPE_API_BASE", urls[DS], 1);
    setenv("TG_KIE_API_BASE", urls[KIE], 1);
    setenv("TG_GEMINI_API_BASE", urls[GM], 1);
    kk = xasprintf("%s,%s", keys[DS][0], keys[DS][1]);
    setenv("TG_DASHSCOPE_API_KEYS", kk, 1);
    free(kk);
    setenv("TG_KIE_WEBHOOK_HMAC_KEY", webhook_key, 1);
    if (config_load(NULL, &err) != 0) {
        printf("Bail out! config_load: %s\n", err);
        return 1;
    }
    log_set_level("error");
    CHECK_STR_EQ(config_get("TG_KIE_WEBHOOK_HMAC_KEY"), webhook_key, "TG_KIE_WEBHOOK_HMAC_KEY is a key");
    CHECK_STR_EQ(config_get("TG_GEN_SANDBOX_DELAY_MS"), "4000", "TG_GEN_SANDBOX_DELAY_MS defaults to 4000");
    test_dashscope();
    test_kie();
    test_gemini();
    for (int i = 0; i < 3; i++)
        fakeproc_stop(&fk[i]);
    net_exec_dispose(&sx);
    config_free();
    net_global_cleanup();
    return test_done();
}
