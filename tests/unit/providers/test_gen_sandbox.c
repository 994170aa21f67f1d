/*
 * Unit tests for src/providers/gen/sandbox.c and the registry: the sandbox finishes
 * TG_GEN_SANDBOX_DELAY_MS (default 4000) after submission with its built-in samples (a
 * real MP4 and PNG), progress grows linearly, "fail" fails and "never" never finishes.
 */
#include "../test.h"

#include "gen_test.h"

static void test_registry(void)
{
    const struct gen_provider *const *all = gen_providers();
    const char *names[] = {"dashscope", "kie", "gemini", "sandbox"};
    size_t n = 0;
    while (all[n] != NULL)
        n++;
    CHECK(n == 4, "four providers");
    for (size_t i = 0; i < 4 && i < n; i++) {
        CHECK_STR_EQ(all[i]->name, names[i], "registry order %zu", i);
        CHECK(gen_provider_find(names[i]) == all[i], "find %s", names[i]);
        if (all[i]->local_submit == NULL)
            CHECK(all[i]->build_submit != NULL && all[i]->parse_submit != NULL && all[i]->keys_env != NULL &&
                      (all[i]->synchronous || (all[i]->build_poll != NULL && all[i]->parse_poll != NULL)),
                  "%s has a network vtable", names[i]);
    }
    CHECK(gen_provider_find("openai") == NULL && gen_provider_find(NULL) == NULL, "unknown names");
    for (int k = 0; k < TASK__COUNT; k++) {
        int runs = 0;
        for (size_t i = 0; i < n; i++)
            if (all[i]->kinds & (1u << k) && strcmp(all[i]->name, "sandbox") != 0) {
                runs++;
                CHECK(all[i]->model((enum task_kind_id)k, "wan-std") != NULL, "%s has a model for kind %d", all[i]->name, k);
            }
        CHECK(runs == 1, "kind %d has one real provider", k);
    }
    CHECK_STR_EQ(gen_outcome_name(GEN_KEY_REJECTED), "key_rejected", "outcome names");
    CHECK_STR_EQ(gen_outcome_name(GEN_UNKNOWN_TASK), "unknown_task", "outcome names");
}

static void test_samples(void)
{
    const unsigned char *d;
    size_t n;
    const char *mime;
    gen_sandbox_sample(TASK_ANIMATE_MOVE, &d, &n, &mime);
    CHECK_STR_EQ(mime, "video/mp4", "video sample mime");
    CHECK(n > 1000 && n < 60 * 1024, "video sample is small (%zu bytes)", n);
    CHECK(n > 12 && memcmp(d + 4, "ftyp", 4) == 0, "an MP4 (ftyp box first)");
    {
        /* faststart: the moov box comes before mdat */
        const unsigned char *moov = NULL, *mdat = NULL;
        for (size_t i = 0; i + 4 <= n; i++) {
            if (!moov && memcmp(d + i, "moov", 4) == 0)
                moov = d + i;
            if (!mdat && memcmp(d + i, "mdat", 4) == 0)
                mdat = d + i;
        }
        CHECK(moov != NULL && mdat != NULL && moov < mdat, "faststart (moov before mdat)");
        CHECK(memmem(d, n, "avc1", 4) != NULL, "H.264 (avc1)");
    }
    gen_sandbox_sample(TASK_TEXT_TO_VIDEO, &d, &n, &mime);
    CHECK_STR_EQ(mime, "video/mp4", "text_to_video gives the video");
    gen_sandbox_sample(TASK_IMAGE, &d, &n, &mime);
    CHECK_STR_EQ(mime, "image/png", "image sample mime");
    CHECK(n > 100 && memcmp(d, "\x89PNG\r\n\x1a\n", 8) == 0, "a PNG");
}

static void test_lifecycle(void)
{
    const struct gen_provider *sb = gen_provider_find("sandbox");
    struct gen_input in = {0};
    struct gen_result r;
    const int64_t t0 = 1700000000000;

    CHECK(sb != NULL && sb->local_submit != NULL && sb->local_poll != NULL && sb->keys_env == NULL, "sandbox vtable");
    CHECK(sb->kinds == (1u << TASK__COUNT) - 1, "runs every kind");
    in.kind = TASK_ANIMATE_MIX;
    in.task_id = "tsk_01JDZ8K6Q3V5X7Y9A1B2C3D4E5";
    sb->local_submit(&in, t0, &r);
    CHECK(r.outcome == GEN_ACCEPTED && r.progress == 0, "accepted");
    CHECK_STR_EQ(r.provider_task_id, "sbx_succeed_1_tsk_01JDZ8K6Q3V5X7Y9A1B2C3D4E5", "id carries outcome, kind, task");
    {
        char id[TG_PROVIDER_TASK_MAX];
        memcpy(id, r.provider_task_id, sizeof id);
        sb->local_poll(id, t0, t0, &r);
        CHECK(r.outcome == GEN_RUNNING && r.progress == 0, "running at once");
        sb->local_poll(id, t0, t0 + 1000, &r);
        CHECK(r.outcome == GEN_RUNNING && r.progress == 25, "25%% after a quarter of 4 s");
        sb->local_poll(id, t0, t0 + 3999, &r);
        CHECK(r.outcome == GEN_RUNNING && r.progress == 99, "99%% just before");
        sb->local_poll(id, t0, t0 - 5000, &r);
        CHECK(r.outcome == GEN_RUNNING && r.progress == 0, "a clock going back is not progress");
        sb->local_poll(id, t0, t0 + 4000, &r);
        CHECK(r.outcome == GEN_SUCCEEDED && r.progress == 100, "succeeded at 4 s");
        CHECK(r.n_outputs == 1 && r.outputs[0].borrowed && r.outputs[0].data != NULL, "one borrowed output");
        CHECK_STR_EQ(r.outputs[0].mime, "video/mp4", "the video");
        CHECK_INT_EQ(r.output_ms, 2000, "the sample's 2 s");
        gen_result_clear(&r); /* must not free the static bytes (ASan would say) */
    }

    in.kind = TASK_IMAGE;
    in.sandbox_outcome = "succeed";
    sb->local_submit(&in, t0, &r);
    {
        char id[TG_PROVIDER_TASK_MAX];
        memcpy(id, r.provider_task_id, sizeof id);
        sb->local_poll(id, t0, t0 + 10000, &r);
        CHECK(r.outcome == GEN_SUCCEEDED && strcmp(r.outputs[0].mime, "image/png") == 0 && r.output_ms == 0, "image: the PNG");
    }

    in.kind = TASK_TEXT_TO_VIDEO;
    in.sandbox_outcome = "fail";
    sb->local_submit(&in, t0, &r);
    CHECK(r.outcome == GEN_ACCEPTED, "a failing task is accepted first");
    {
        char id[TG_PROVIDER_TASK_MAX];
        memcpy(id, r.provider_task_id, sizeof id);
        sb->local_poll(id, t0, t0 + 2000, &r);
        CHECK(r.outcome == GEN_RUNNING, "runs until the delay");
        sb->local_poll(id, t0, t0 + 4000, &r);
        CHECK(r.outcome == GEN_FAILED && r.n_outputs == 0, "then fails");
        CHECK_STR_EQ(r.error_code, "sandbox_failed", "code");
        CHECK(strstr(r.error_message, "sandbox") != NULL && printable(r.error_message), "clear message");
    }

    in.sandbox_outcome = "never";
    sb->local_submit(&in, t0, &r);
    {
        char id[TG_PROVIDER_TASK_MAX];
        memcpy(id, r.provider_task_id, sizeof id);
        sb->local_poll(id, t0, t0 + 86400000LL * 30, &r);
        CHECK(r.outcome == GEN_RUNNING && r.progress == 99, "never: still running after 30 days");
    }

    in.sandbox_outcome = "explode";
    sb->local_submit(&in, t0, &r);
    CHECK(r.outcome == GEN_INVALID && r.provider_task_id[0] == '\0', "unknown outcome: invalid");
    in.sandbox_outcome = NULL;
    in.task_id = NULL;
    sb->local_submit(&in, t0, &r);
    CHECK(r.outcome == GEN_INVALID, "no task id: invalid");

    sb->local_poll("veo_task_abc", t0, t0 + 10000, &r);
    CHECK(r.outcome == GEN_UNKNOWN_TASK, "not a sandbox id: unknown task");
    sb->local_poll("sbx_succeed_9_tsk_x", t0, t0 + 10000, &r);
    CHECK(r.outcome == GEN_UNKNOWN_TASK, "kind out of range: unknown task");
    sb->local_poll("sbx_succeed_1_", t0, t0 + 10000, &r);
    CHECK(r.outcome == GEN_UNKNOWN_TASK, "no task: unknown task");
}

int main(void)
{
    test_registry();
    test_samples();
    test_lifecycle();
    return test_done();
}
