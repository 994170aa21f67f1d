/*
 * gen.h - generation providers (DESIGN section 2: `struct gen_provider`, PROVIDERS.md
 * sections 8-10): the wire formats of DashScope (wan2.2-animate-move / -mix), kie.ai (Veo3)
 * and Gemini (image), plus the sandbox.
 *
 * A provider here does no I/O and keeps no state: it turns a task's inputs into a request
 * (a struct net_call the dispatcher sends through src/net/) and an answer into a
 * struct gen_result. Which key, when to retry, what a result costs and where outputs go are
 * the dispatcher's business (src/worker/dispatcher.c) and the domain's (domain/tasks.h,
 * domain/keypool.h). The sandbox answers in-process (local_submit / local_poll) without
 * any network, after TG_GEN_SANDBOX_DELAY_MS, with sample media built into the binary.
 *
 * Adding a model is one file plus one line in registry.c.
 */
#ifndef TG_PROVIDERS_GEN_GEN_H
#define TG_PROVIDERS_GEN_GEN_H

#include <stddef.h>
#include <stdint.h>

#include "core/types.h"
#include "domain/tasks.h"

struct net_call;

#define GEN_MAX_OUTPUTS 4
#define GEN_MAX_IMAGES 4     /* input images of one task */
#define GEN_URL_MAX 2048
#define GEN_PROMPT_MAX 4000  /* bytes of UTF-8 */
/* Largest answer read from a provider: Gemini returns images inline in base64. */
#define GEN_MAX_RESPONSE (32 * 1024 * 1024)

/* An input image given as bytes (Gemini takes images inline; the dispatcher fetches them). */
struct gen_blob {
    const char *mime;
    const unsigned char *data;
    size_t len;
};

/* What a task asks for, validated by the API (api/tasks.c) before it gets here. */
struct gen_input {
    enum task_kind_id kind;
    const char *task_id;      /* ours, for logs and the sandbox */
    const char *model;        /* as chosen by gen_provider.model() */
    const char *image_url;    /* animate_*: the person (https URL the provider can fetch) */
    const char *video_url;    /* animate_*: the motion / the scene */
    const char *mode;         /* animate_*: "wan-std" or "wan-pro" */
    const char *prompt;       /* text_to_video, image */
    const char *aspect_ratio; /* text_to_video: "16:9" or "9:16"; image: optional */
    const char *image_urls[GEN_MAX_IMAGES]; /* text_to_video: optional frames (URLs) */
    size_t n_image_urls;
    struct gen_blob images[GEN_MAX_IMAGES]; /* image: optional inputs as bytes */
    size_t n_images;
    const char *callback_url; /* kie.ai: where it posts when done (NULL: none) */
    const char *sandbox_outcome; /* sandbox only: "succeed" (default), "fail", "never" */
};

enum gen_outcome {
    GEN_ACCEPTED = 0, /* submit: the provider took it; provider_task_id is set */
    GEN_RUNNING,      /* poll: still working (progress may be set) */
    GEN_SUCCEEDED,    /* outputs are set (URLs to copy, or bytes) */
    GEN_FAILED,       /* the provider ran the task and it failed (content refused, generation
                         failed): final, refund */
    GEN_INVALID,      /* the provider refused the request as invalid (400/422): final, refund;
                         the key is not at fault */
    GEN_UNKNOWN_TASK, /* poll: the provider does not know the task (expired): final, refund */
    GEN_RETRY,        /* transient (5xx, timeout, connection, malformed answer): try again */
    GEN_RATE_LIMITED, /* 429: retry_after_ms (0: unknown) */
    GEN_KEY_REJECTED, /* 401/403, or the account is out of credit/quota: the key is unusable
                         until an admin looks (error_message says why) */
};

struct gen_output {
    char url[GEN_URL_MAX];  /* a URL to download ("" when data is set) */
    unsigned char *data;    /* or the bytes themselves (heap unless `borrowed`) */
    size_t len;
    int borrowed;           /* data is static (sandbox samples): not freed */
    char mime[TG_CONTENT_TYPE_MAX]; /* "video/mp4", "image/png"; "" unknown */
};

struct gen_result {
    enum gen_outcome outcome;
    char provider_task_id[TG_PROVIDER_TASK_MAX];
    int progress;                                  /* 0..100, or -1 when not reported */
    int64_t output_ms;                             /* output length the provider bills (DashScope
                                                      usage.video_duration); 0 unknown */
    int64_t retry_after_ms;
    char error_code[TG_TASK_ERROR_CODE_MAX];       /* the provider's code, e.g. "InvalidApiKey" */
    char error_message[TG_TASK_ERROR_MAX];         /* the provider's message, sanitized (no
                                                      secrets, printable UTF-8, bounded) */
    size_t n_outputs;
    struct gen_output outputs[GEN_MAX_OUTPUTS];
};

/* Frees the outputs' heap bytes and zeroes r. */
void gen_result_clear(struct gen_result *r);
/* Wipes the call's request headers (they carry the API key) and releases it
 * (net_call_release): how the dispatcher ends every call a provider built. */
void gen_call_release(struct net_call *c);
/* "accepted", "running", ... for logs. */
const char *gen_outcome_name(enum gen_outcome o);

struct gen_provider {
    const char *name;        /* "dashscope", "kie", "gemini", "sandbox" */
    const char *keys_env;    /* "TG_DASHSCOPE_API_KEYS"; NULL: needs no key (sandbox) */
    unsigned kinds;          /* bit (1u << kind) for each kind it runs */
    int synchronous;         /* 1: the submit answer is the result (no polling) */
    int needs_image_bytes;   /* 1: input images go in gen_input.images, not as URLs */
    int64_t poll_first_ms;   /* first poll after submit */
    int64_t poll_max_ms;     /* polls back off (doubling) up to this gap */
    int timeout_ms;          /* per HTTP call */
    /* The model for a kind and mode ("wan2.2-animate-move", "veo3_fast"). */
    const char *(*model)(enum task_kind_id kind, const char *mode);
    /*
     * Network providers: builds the submit request into c (c is initialised here, with the
     * provider's base URL from the configuration, headers, body, timeout and
     * max_response). Returns 0, or -1 when the input cannot be expressed (nothing built).
     */
    int (*build_submit)(const struct gen_input *in, const char *api_key, struct net_call *c);
    /* Reads the submit answer (c finished: err, status, body) into out (zeroed first). */
    void (*parse_submit)(const struct net_call *c, struct gen_result *out);
    /* Builds the status query for provider_task_id (NULL for synchronous providers). */
    int (*build_poll)(const char *provider_task_id, const char *api_key, struct net_call *c);
    void (*parse_poll)(const struct net_call *c, struct gen_result *out);
    /* The sandbox instead: answers in-process. submitted_at and now in ms. */
    void (*local_submit)(const struct gen_input *in, int64_t now_ms, struct gen_result *out);
    void (*local_poll)(const char *provider_task_id, int64_t submitted_at, int64_t now_ms,
                       struct gen_result *out);
};

/* The provider with this name, or NULL. */
const struct gen_provider *gen_provider_find(const char *name);
/* All providers, NULL-terminated, in registry order. */
const struct gen_provider *const *gen_providers(void);

/*
 * kie.ai callbacks (PROVIDERS.md 9.1): 1 when X-Webhook-Signature equals
 * base64(HMAC-SHA256(hmac_key, task_id + "." + timestamp)) (compared in constant time) and
 * the timestamp is within tolerance_s of now_s; else 0. The signature does not cover the
 * body: the caller re-reads the task from kie.ai before trusting anything in it.
 */
int gen_kie_callback_verify(const char *hmac_key, const char *task_id, const char *timestamp,
                            const char *signature, int64_t now_s, int64_t tolerance_s);
/* The task id a kie.ai callback body names (data.taskId, or data.task_id), copied into out.
 * 0, or -1 when the body is not such a callback. */
int gen_kie_callback_task_id(const char *body, size_t len, char out[TG_PROVIDER_TASK_MAX]);

/* The sandbox's sample output for a kind (static bytes built into the binary). */
void gen_sandbox_sample(enum task_kind_id kind, const unsigned char **data, size_t *len, const char **mime);

#endif
