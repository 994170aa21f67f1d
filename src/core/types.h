/*
 * types.h - plain data shared by domain/, store/ and api/ (no logic). It lives in core/ so
 * that store/ includes nothing from domain/: the backends store these, the domain decides.
 *
 * Fixed-size buffers keep these structs copyable without ownership questions; the
 * bounds are the same limits the API validates input against.
 */
#ifndef TG_CORE_TYPES_H
#define TG_CORE_TYPES_H

#include <stdint.h>
#include <stdlib.h>

#include "core/ids.h"

#define TG_EMAIL_MAX 254        /* RFC 5321 path limit */
#define TG_NAME_MAX 100         /* display names, API key names (bytes) */
#define TG_ROLE_MAX 16
#define TG_REGION_MAX 16
#define TG_PWHASH_MAX 160       /* libsodium crypto_pwhash_STRBYTES is 128 */
#define TG_NOTE_MAX 500         /* ledger notes, admin reasons (bytes) */
#define TG_REF_MAX 128          /* ledger ref ids (may carry an Idempotency-Key) */
#define TG_LOCALE_MAX 8         /* "zh-CN", "en-US" */
#define TG_PROVIDER_MAX 16      /* sign-in provider names ("google", "wechat", ...) */
#define TG_SUBJECT_MAX 256      /* an identity's id at its provider */

struct user {
    char id[TG_ID_MAX];
    char email[TG_EMAIL_MAX + 1];          /* normalized; "" for an account without one */
    int email_verified;                    /* 1 once the owner proved the address */
    char display_name[TG_NAME_MAX + 1];
    char role[TG_ROLE_MAX];                /* "user" or "admin" */
    char region[TG_REGION_MAX];            /* saved choice ("CN", "GLOBAL"), "" when none */
    char signup_region[TG_REGION_MAX];     /* the region it signed up in, "" when unknown */
    char locale[TG_LOCALE_MAX];            /* "zh-CN", "en-US", "" when none */
    char password_hash[TG_PWHASH_MAX];     /* argon2id encoded string, "" when none */
    int64_t created_at;                    /* ms since epoch */
    int64_t updated_at;
    int64_t auth_epoch;                    /* bumped on every change that must end sessions */
    int disabled;
};

/* A sign-in identity at a provider, linked to one user. */
struct identity {
    char id[TG_ID_MAX];                    /* "idn_..." */
    char user_id[TG_ID_MAX];
    char provider[TG_PROVIDER_MAX];
    char subject[TG_SUBJECT_MAX];
    char email[TG_EMAIL_MAX + 1];          /* what the provider said, "" when nothing */
    int email_verified;                    /* ... and whether it vouched for it */
    char display_name[TG_NAME_MAX + 1];
    int64_t created_at;
    int64_t last_used_at;                  /* 0 = never since linking */
};

#define TG_PRODUCT_MAX 65       /* catalog product ids ([a-z0-9_]{1,64}) */
#define TG_PROVIDER_REF_MAX 129 /* a provider's payment id (Stripe cs_..., PayPal order id) */
#define TG_RETURN_URL_MAX 513     /* an order's return URL, NUL included */
#define TG_CHECKOUT_MAX 4096    /* the checkout JSON an order keeps (an Alipay page-pay URL is ~2 KB) */

/* An order for a credit pack or a plan (DESIGN section 4). Text fields are "" when unset. */
struct order {
    char id[TG_ID_MAX];                    /* "ord_..." */
    char user_id[TG_ID_MAX];
    char product[TG_PRODUCT_MAX];          /* "credits_115", "pro_monthly" */
    char kind[8];                          /* "pack" or "plan" */
    int64_t credits;
    int64_t amount;                        /* minor units of currency */
    char currency[4];                      /* "USD", "CNY" */
    char provider[TG_PROVIDER_MAX];
    char provider_ref[TG_PROVIDER_REF_MAX];
    char status[24];                       /* pending, paid, failed, expired, refunded, partially_refunded */
    char region[TG_REGION_MAX];
    char checkout[TG_CHECKOUT_MAX];        /* JSON object, "" before the checkout exists */
    int64_t refunded_amount;
    int64_t created_at, updated_at;
    int64_t paid_at;                       /* 0 = not paid */
    int64_t expires_at;
    char return_url[TG_RETURN_URL_MAX];    /* where the browser goes after paying, "" = none */
    char channel[16];                      /* the provider's way to pay ("native", "page"), "" = default */
    int64_t query_attempts;                /* times the pending-order job asked the provider */
    int64_t next_query_at;                 /* when it asks next; 0 = not scheduled */
    char subscription_id[TG_ID_MAX];       /* plan orders: the subscription it started, extended
                                              or renewed; "" otherwise */
};

/* Which orders a search returns (empty strings and zeros: any). */
struct order_filter {
    const char *user_id;
    const char *status;
    const char *provider;
    int64_t created_from, created_to; /* [from, to) in ms */
};

/*
 * A subscription to a plan (DESIGN section 3-4, docs/PAYMENTS.md "Plans"). Two clocks:
 *   - the paid period [period_start, period_end): what was paid for, a month or a year. A
 *     provider that renews (Stripe, Creem) moves it at each paid renewal; a prepaid plan
 *     (WeChat Pay, Alipay, PayPal, the sandbox) moves period_end out by one period per
 *     order bought;
 *   - the credit period [credit_start, credit_end): one month (or less, at the end of a paid
 *     period), numbered credit_index 1, 2, ...; its credits are granted at its start into the
 *     plan bucket, expiring at credit_end, and what is left is written off as plan_expire
 *     when it ends. A yearly plan has twelve credit periods in its paid period.
 * Text fields are "" when unset.
 */
struct subscription {
    char id[TG_ID_MAX];                    /* "sub_..." */
    char user_id[TG_ID_MAX];
    char plan[TG_PRODUCT_MAX];             /* the catalog plan: "pro" */
    char product[TG_PRODUCT_MAX];          /* the plan period in force: "pro_monthly" */
    char next_product[TG_PRODUCT_MAX];     /* a downgrade that takes effect at next_product_at */
    int64_t next_product_at;               /* 0 = none */
    char provider[TG_PROVIDER_MAX];
    char provider_ref[TG_PROVIDER_REF_MAX];/* the provider's subscription id; "" = prepaid */
    char status[12];                       /* active, past_due, canceled, expired */
    int cancel_at_period_end;              /* 1: no renewal; it ends at period_end */
    int64_t credits_per_month;             /* of `product`, kept as in force when bought */
    int64_t amount;                        /* price of one paid period, minor units */
    char currency[4];
    int64_t period_start, period_end;      /* the paid period */
    int64_t credit_index;                  /* 1.. (0 before the first grant) */
    int64_t credit_start, credit_end;      /* the current credit period */
    int64_t credits_granted;               /* granted in this credit period (upgrades add) */
    int64_t reminded_for;                  /* the period_end a renewal reminder was sent for */
    int64_t next_due_at;                   /* when the subscription job must look at it; 0 never */
    char order_id[TG_ID_MAX];              /* the order that started it */
    int64_t created_at, updated_at;
    int64_t ended_at;                      /* 0 while active or past_due */
};

/* Which subscriptions a search returns (empty strings: any). */
struct subscription_filter {
    const char *user_id;
    const char *status;
    const char *provider;
};

/* A refund of (part of) a paid order. */
struct refund {
    char id[TG_ID_MAX];                    /* "rfd_..." */
    char order_id[TG_ID_MAX];
    char user_id[TG_ID_MAX];
    int64_t amount;                        /* minor units of currency */
    char currency[4];
    int64_t credits;                       /* taken back from the buyer */
    int64_t shortfall;                     /* credits that could not be taken back (spent) */
    char status[12];                       /* pending, succeeded, failed */
    char reason[501];
    char provider_refund_id[TG_PROVIDER_REF_MAX];
    char actor_id[TG_ID_MAX];              /* the admin, "" for a provider-initiated refund */
    int64_t created_at, updated_at;
};

/* A verified provider notification as the inbox stores it. */
struct payment_event {
    char provider[TG_PROVIDER_MAX];
    char event_id[TG_PROVIDER_REF_MAX];
    char kind[48];                         /* "payment.succeeded", ... (the provider's type) */
    char order_id[TG_ID_MAX];              /* "" when it matched no order */
    int64_t amount;                        /* minor units; 0 when the event has none */
    char currency[4];
    char outcome[24];                      /* what it did: fulfilled, already_paid, ... */
    int64_t received_at;
};

/* Mail flow token purposes (email_tokens.purpose). */
enum email_token_purpose { EMAIL_TOKEN_VERIFY = 0, EMAIL_TOKEN_RESET = 1 };

/* One rotating refresh token. Only the SHA-256 of the token is ever stored. */
struct refresh_token {
    char id[TG_ID_MAX];                    /* "rtk_..." */
    char user_id[TG_ID_MAX];
    char family_id[TG_ID_MAX];             /* all rotations of one sign-in share it */
    unsigned char hash[32];
    int64_t created_at;
    int64_t expires_at;
};

/* Outcome of presenting a refresh token (store_refresh_rotate). */
enum refresh_outcome {
    REFRESH_ROTATED = 0,    /* valid: marked used, replacement stored */
    REFRESH_UNKNOWN,        /* no such token */
    REFRESH_EXPIRED,        /* past expires_at, or family revoked (logout, password change) */
    REFRESH_REUSED,         /* already rotated: theft suspected, whole family now revoked */
};

struct api_key {
    char id[TG_ID_MAX];                    /* "key_..." */
    char user_id[TG_ID_MAX];
    char name[TG_NAME_MAX + 1];
    char prefix[24];                       /* first characters of the key, shown in lists */
    unsigned char hash[32];                /* SHA-256 of the whole key */
    int64_t created_at;
    int64_t last_used_at;                  /* 0 = never */
    int64_t revoked_at;                    /* 0 = active */
};

enum ledger_bucket { BUCKET_PLAN = 0, BUCKET_PAID = 1 };

/* Ledger entry kinds (DESIGN section 3). Names are stored as text. */
#define LEDGER_KINDS(X)                                                                           \
    X(SIGNUP_GRANT, "signup_grant")                                                               \
    X(PURCHASE, "purchase")                                                                       \
    X(PLAN_GRANT, "plan_grant")                                                                   \
    X(PLAN_EXPIRE, "plan_expire")                                                                 \
    X(SPEND, "spend")                                                                             \
    X(SETTLE, "settle")                                                                           \
    X(REFUND, "refund")                                                                           \
    X(ADMIN_ADJUST, "admin_adjust")                                                               \
    X(PAYMENT_REFUND, "payment_refund")

enum ledger_kind {
#define X(id, name) LK_##id,
    LEDGER_KINDS(X)
#undef X
        LK__COUNT
};

struct wallet {
    char user_id[TG_ID_MAX];
    int64_t plan_credits;
    int64_t paid_credits;
    int64_t plan_expires_at;               /* 0 = no plan credits expiry */
    int64_t updated_at;
};

struct ledger_entry {
    char id[TG_ID_MAX];                    /* "led_...", time-ordered: the pagination cursor */
    char user_id[TG_ID_MAX];
    enum ledger_bucket bucket;
    int64_t delta;                         /* signed */
    int64_t balance_after;                 /* this bucket's balance after the change */
    enum ledger_kind kind;
    char ref_type[32];
    char ref_id[TG_REF_MAX + 1];
    char note[TG_NOTE_MAX + 1];
    int64_t created_at;
};

/*
 * One balance change, applied atomically by store_ledger_apply().
 * amount > 0 always; `debit` says the direction.
 * Debits with from_plan_first take plan credits first, then paid (DESIGN section 3), and
 * may therefore write two ledger rows (one per bucket touched); other operations touch
 * exactly `bucket`.
 */
struct ledger_op {
    const char *user_id;
    int64_t amount;
    int debit;                             /* 0 = credit, 1 = debit */
    int from_plan_first;                   /* debits only */
    enum ledger_bucket bucket;             /* when !from_plan_first */
    enum ledger_kind kind;
    const char *ref_type;                  /* e.g. "user", "admin", "task", "order" */
    const char *ref_id;                    /* unique per (kind, ref_type, bucket) */
    const char *note;                      /* may be NULL */
    int64_t plan_expires_at;               /* credits to BUCKET_PLAN: new expiry, 0 = keep */
    /*
     * Debits only: plan credits count as spendable only when the wallet's plan_expires_at
     * is unset or later than this instant (ms); 0 ignores the expiry. The domain sets it to
     * "now" so that plan credits past their period cannot be spent, decided inside the one
     * conditional UPDATE (never read-then-write).
     */
    int64_t plan_valid_at;
};

struct audit_entry {
    char id[TG_ID_MAX];                    /* "aud_..." */
    char actor_id[TG_ID_MAX];              /* user id, or "" for anonymous/system */
    char action[48];                       /* "credits.adjust", "auth.login_failed", ... */
    char target_type[32];
    char target_id[TG_ID_MAX];
    char ip[64];
    char request_id[TG_ID_MAX];
    char *details_json;                    /* heap, JSON object text; owner frees */
    int64_t created_at;
};

/*
 * A stored answer to an idempotent request (Idempotency-Key), DESIGN section 8: the key is
 * scoped to the caller, the request is identified by a hash of what was asked, and the
 * first answer is replayed for a retry of the same request.
 */
struct idem_record {
    unsigned char request_hash[32];        /* SHA-256 over method, route and body */
    int status;                            /* HTTP status of the first answer */
    char *body;                            /* heap, the first answer's JSON; owner frees */
    int64_t created_at;
};

/* Who is calling: filled by the HTTP auth middleware (domain/session.h) before a handler runs. */
struct principal {
    int authenticated;
    char user_id[TG_ID_MAX];
    char role[TG_ROLE_MAX];         /* "user" or "admin" */
    char api_key_id[TG_ID_MAX];     /* "" when authenticated by an access token */
    int64_t epoch;                  /* the access token's auth epoch (-1 for an API key) */
};

/* ---- generation tasks (DESIGN section 7, docs/GENERATION.md) ---- */

#define TG_TASK_KIND_MAX 16      /* "animate_move", "animate_mix", "text_to_video", "image" */
#define TG_TASK_STATUS_MAX 12    /* "queued" ... "timed_out" */
#define TG_MODEL_MAX 48          /* "wan2.2-animate-move", "veo3_fast", ... */
#define TG_PROVIDER_TASK_MAX 129 /* a provider's task id */
#define TG_TASK_ERROR_CODE_MAX 64
#define TG_TASK_ERROR_MAX 256    /* error message shown to the user (bytes, UTF-8) */

/*
 * A generation task. Money: `reserved` credits were debited at submit (kind spend, ref
 * task/<id>), `reserved_plan` of them from the plan bucket of the month ending
 * plan_expires_at; a terminal status moves `refunded` back (all of it on failure, timeout
 * or cancel; reserved - settled on success), so reserved = settled + refunded once terminal.
 * The dispatcher's own step is `phase`: "submit" (to send), "poll" (at the provider),
 * "collect" (the provider finished: copying outputs), "" once terminal.
 * inputs_json / outputs_json are heap strings (task_clear frees them), NULL when absent.
 */
struct task {
    char id[TG_ID_MAX];                    /* "tsk_..." */
    char user_id[TG_ID_MAX];
    char kind[TG_TASK_KIND_MAX];
    char provider[TG_PROVIDER_MAX];        /* "dashscope", "kie", "gemini", "sandbox" */
    char model[TG_MODEL_MAX];
    char status[TG_TASK_STATUS_MAX];       /* queued, submitted, running, succeeded, failed, timed_out, canceled */
    char phase[TG_TASK_STATUS_MAX];        /* submit, poll, collect, "" */
    int progress;                          /* 0..100 */
    char *inputs_json;                     /* the validated inputs, as the API shows them */
    char *outputs_json;                    /* collect: the provider's result; succeeded: our files */
    char price_unit[8];                    /* "task" or "second" */
    int64_t unit_credits;                  /* the price in force at submit, per unit */
    int64_t est_units;                     /* units reserved (estimated seconds, or 1) */
    int64_t reserved;                      /* unit_credits * est_units, debited at submit */
    int64_t reserved_plan;                 /* of which from the plan bucket */
    int64_t plan_expires_at;               /* the plan month those came from (0: none) */
    int64_t settled;                       /* -1 until terminal; then what was finally charged */
    int64_t refunded;                      /* credits given back */
    char provider_task_id[TG_PROVIDER_TASK_MAX]; /* "" until submitted */
    char key_id[TG_ID_MAX];                /* the pool key that submitted it ("" for sandbox) */
    int attempts;                          /* submit attempts */
    int polls;                             /* status queries made */
    int64_t next_at;                       /* when the dispatcher looks at it next; 0 once terminal */
    int64_t deadline_at;                   /* timed_out (with a refund) past this */
    char error_code[TG_TASK_ERROR_CODE_MAX];
    char error_message[TG_TASK_ERROR_MAX];
    int64_t created_at, updated_at;
    int64_t submitted_at;                  /* 0 until the provider accepted it */
    int64_t finished_at;                   /* 0 until terminal */
};

static inline void task_clear(struct task *t)
{
    free(t->inputs_json);
    free(t->outputs_json);
    t->inputs_json = NULL;
    t->outputs_json = NULL;
}

/* Which tasks a list returns (NULL or "": any). */
struct task_filter {
    const char *user_id;
    const char *status;
    const char *kind;
};

/*
 * A key of a provider's pool. Keys from TG_*_API_KEYS are recorded with source "env" and no
 * secret (the secret stays in the environment); keys added by an admin keep theirs sealed
 * (AES-256-GCM, domain/keypool.h) in secret_box. Health that changes by the second
 * (consecutive errors, cool-downs) lives in the dispatcher's memory; what must survive a
 * restart (disabled and why, counters) is stored.
 */
#define TG_KEY_SECRET_MAX 512                      /* an API key's text */
#define TG_KEY_BOX_MAX (TG_KEY_SECRET_MAX + 64)    /* sealed: nonce + ciphertext + tag */
struct provider_key {
    char id[TG_ID_MAX];                    /* "pk_..." */
    char provider[TG_PROVIDER_MAX];        /* "dashscope", "kie", "gemini" */
    char label[TG_NAME_MAX + 1];
    char prefix[16];                       /* the secret's first characters, to recognise it */
    char source[8];                        /* "env" or "admin" */
    unsigned char secret_box[TG_KEY_BOX_MAX];
    size_t secret_box_len;                 /* 0 for env keys */
    int disabled;
    char disabled_reason[128];             /* "" when enabled */
    int64_t uses, failures;                /* calls made with it, and of those failed */
    int64_t last_used_at;
    char last_error[128];
    int64_t created_at, updated_at;
};

/* A file: an upload (input) or a task's output, owned by one user. */
#define TG_FILE_KEY_MAX 160
#define TG_CONTENT_TYPE_MAX 64
struct stored_file {
    char id[TG_ID_MAX];                    /* "fil_..." */
    char user_id[TG_ID_MAX];
    char purpose[8];                       /* "input" or "output" */
    char task_id[TG_ID_MAX];               /* outputs: the task; "" for inputs */
    char backend[8];                       /* "local", "s3", "oss" */
    char key[TG_FILE_KEY_MAX];             /* the object key in the backend */
    char content_type[TG_CONTENT_TYPE_MAX];
    int64_t size;                          /* declared at upload; actual once ready */
    char status[8];                        /* "pending" (upload URL issued) or "ready" */
    int64_t width, height;                 /* pixels, probed; 0 unknown */
    int64_t duration_ms;                   /* video length, probed; 0 unknown */
    int64_t created_at, updated_at;
    int64_t expires_at;                    /* pending: the upload URL's end */
};

#endif
