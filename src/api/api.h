/*
 * api.h - the HTTP handlers (one file per resource, DESIGN section 2) and the few reply
 * helpers they share (api/common.c).
 *
 * Every handler follows the same shape: parse the request -> check it -> one store
 * transaction (through domain/) -> reply. Client mistakes always end in a 4xx from the
 * error catalogue; store failures in 503 (busy) or 500 (logged, no internals).
 */
#ifndef TG_API_API_H
#define TG_API_API_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/jsonv.h"
#include "domain/mail.h"
#include "domain/region.h"
#include "domain/session.h"
#include "domain/subscriptions.h"
#include "core/types.h"
#include "http/http.h"
#include "store/call.h"
#include "store/store.h"

/* ---- handlers (the route table in routes.c points at these) ---- */

/* health.c: GET /health, GET /ready */
void api_health_get(struct req *r);
void api_ready_get(struct req *r);
/* metrics.c: GET /metrics (Prometheus text format 0.0.4) */
void api_metrics_get(struct req *r);
/* auth.c: POST /api/v1/auth/{register,login,refresh,logout} */
void api_auth_register(struct req *r);
void api_auth_login(struct req *r);
void api_auth_refresh(struct req *r);
void api_auth_logout(struct req *r);
/* email.c: POST /api/v1/auth/verify-email, /verify-email/resend, /password-reset,
 * /password-reset/confirm */
void api_auth_verify_email(struct req *r);
void api_auth_verify_resend(struct req *r);
void api_auth_password_reset(struct req *r);
void api_auth_password_reset_confirm(struct req *r);
/* me.c: GET, PATCH /api/v1/me; POST /api/v1/me/password */
void api_me_get(struct req *r);
void api_me_patch(struct req *r);
void api_me_password(struct req *r);
/* apikeys.c: GET, POST /api/v1/api-keys; DELETE /api/v1/api-keys/{id} */
void api_apikeys_list(struct req *r);
void api_apikeys_create(struct req *r);
void api_apikeys_delete(struct req *r);
/* credits.c: GET /api/v1/credits, GET /api/v1/credits/ledger */
void api_credits_get(struct req *r);
void api_credits_ledger(struct req *r);
/* catalog.c: GET /api/v1/catalog */
void api_catalog_get(struct req *r);
/* region.c: GET and PUT /api/v1/region, GET /api/v1/auth/providers */
void api_region_get(struct req *r);
void api_region_put(struct req *r);
void api_auth_providers(struct req *r);
/* admin.c: POST /api/v1/admin/users/{id}/credits, GET and PATCH /api/v1/admin/users/{id},
 * GET /api/v1/admin/audit-log, GET /api/v1/admin/users, GET /api/v1/admin/stats */
void api_admin_adjust_credits(struct req *r);
void api_admin_user_get(struct req *r);
void api_admin_user_patch(struct req *r);
void api_admin_audit_log(struct req *r);
void api_admin_users_list(struct req *r);
void api_admin_stats(struct req *r);
/* provider_keys.c: GET, POST /api/v1/admin/provider-keys, POST
 * /api/v1/admin/provider-keys/{id}/disable and /enable */
void api_admin_provider_keys_list(struct req *r);
void api_admin_provider_keys_add(struct req *r);
void api_admin_provider_key_disable(struct req *r);
void api_admin_provider_key_enable(struct req *r);

/* oauth.c: browser sign-in (GET /api/v1/auth/oauth/{provider}/start and /callback),
 * POST /api/v1/auth/exchange, POST /api/v1/auth/oauth/{provider}/link,
 * DELETE /api/v1/me/identities/{id} (unlink) */
void api_oauth_start(struct req *r);
void api_oauth_callback(struct req *r);
void api_auth_exchange(struct req *r);
void api_me_identity_link(struct req *r);
void api_me_identity_unlink(struct req *r);
void api_auth_google_id_token(struct req *r);
/* sandbox.c: GET /sandbox/sign-in, GET /sandbox/sign-in/approve */
void api_sandbox_signin_page(struct req *r);
void api_sandbox_signin_approve(struct req *r);

/* orders.c: POST and GET /api/v1/orders, GET /api/v1/orders/{id}, GET /api/v1/orders/{id}/return,
 * GET /api/v1/admin/orders, GET /api/v1/admin/orders/{id}, POST /api/v1/admin/orders/{id}/refund */
void api_orders_create(struct req *r);
void api_orders_list(struct req *r);
void api_orders_get(struct req *r);
void api_orders_return(struct req *r);
void api_admin_orders_list(struct req *r);
void api_admin_order_get(struct req *r);
void api_admin_order_refund(struct req *r);
/* subscription.c: GET /api/v1/subscription, POST /api/v1/subscription/{cancel,resume,change},
 * GET /api/v1/admin/subscriptions, GET /api/v1/admin/subscriptions/{id},
 * POST /api/v1/admin/subscriptions/{id}/cancel */
void api_subscription_get(struct req *r);
void api_subscription_cancel(struct req *r);
void api_subscription_resume(struct req *r);
void api_subscription_change(struct req *r);
void api_admin_subscriptions_list(struct req *r);
void api_admin_subscription_get(struct req *r);
void api_admin_subscription_cancel(struct req *r);
/* clock.c: GET and POST /api/v1/admin/clock (the test clock; 404 unless TG_TEST_CLOCK) */
void api_admin_clock_get(struct req *r);
void api_admin_clock_advance(struct req *r);
/* webhooks.c: POST /api/v1/webhooks/{provider} */
void api_webhooks_post(struct req *r);
/* sandbox.c: the sandbox checkout page, GET /sandbox/checkout/{order}, POST .../pay and .../fail */
void api_sandbox_checkout_page(struct req *r);
void api_sandbox_checkout_pay(struct req *r);
void api_sandbox_checkout_fail(struct req *r);

/* task_events.c: GET /api/v1/tasks/{id}/events (Server-Sent Events) */
void api_task_events(struct req *r);

/* uploads.c: POST /api/v1/uploads, GET /api/v1/uploads/{id}, POST /api/v1/uploads/{id}/complete */
void api_uploads_create(struct req *r);
void api_uploads_get(struct req *r);
void api_uploads_complete(struct req *r);
/* files.c: PUT /files/in/{user}/{file}, GET /files/in/{user}/{file} and
 * /files/out/{user}/{task}/{n} (the local storage backend's signed URLs) */
void api_files_put(struct req *r);
void api_files_get(struct req *r);
/* tasks.c: POST and GET /api/v1/tasks, GET /api/v1/tasks/{id}, POST /api/v1/tasks/{id}/cancel,
 * POST /api/v1/callbacks/{provider} */
void api_tasks_create(struct req *r);
void api_tasks_list(struct req *r);
void api_tasks_get(struct req *r);
void api_tasks_cancel(struct req *r);
void api_callbacks_post(struct req *r);
/*
 * A task as clients see it (DESIGN section 11): {"id","kind","status","provider","model",
 * "progress","cost":{"reserved","settled","refunded","unit","unit_credits"},"inputs",
 * "outputs":[{"file_id","content_type","size","url"}],"error":null|{"code","message"},
 * "created_at","updated_at","submitted_at","finished_at"}; output URLs are signed at now_ms.
 * New reference, NULL only when out of memory.
 */
json_t *api_task_json(const struct task *t, int64_t now_ms);

/* ---- payments (orders.c, webhooks.c, qr.c) ---- */

struct pay_provider;
/* The order shape of DESIGN section 11 (checkout with "qr_svg" added for a code_url). New
 * reference, NULL only when out of memory. */
json_t *api_order_json(const struct order *o);
/* The catalog's own product id of p at payment provider `provider` (Creem's
 * creem_product_id, Stripe's stripe_price_id), or NULL when it names none (orders.c). */
const char *api_provider_product_id(const struct catalog_product *p, const char *provider);
/*
 * A subscription as clients see it (subscription.c): {"id","plan","product","period",
 * "status","provider","auto_renew","cancel_at_period_end","current_period":{"start","end"},
 * "credit_period":{"start","end"},"credits":{"per_month","granted","used","remaining"},
 * "renews_at","ends_at","next_product","amount":{"amount","currency"},"created_at",
 * "updated_at","ended_at"}. w is the owner's wallet, for the credits left of this credit
 * period at now_ms; NULL makes "used" and "remaining" null. New reference, NULL only when
 * out of memory.
 */
json_t *api_subscription_json(const struct subscription *sub, const struct wallet *w, int64_t now_ms);
/* Replies with the error a refused check stands for (SUBS_NONE 404 no_subscription, the
 * others 409 subscription_*). c is never SUBS_OK. */
void api_reply_subs_check(struct req *r, enum subs_check c);
/* A refund {"id","order_id","amount":{...},"credits","shortfall","status",...}. New reference. */
json_t *api_refund_json(const struct refund *rf);
/* text as a QR code in SVG (new string, caller frees), or NULL when empty or too long. */
char *api_qr_svg(const char *text);
/*
 * What a processed notification came to: r is NULL when the request ended meanwhile;
 * status 200 (acknowledge), 400 (rejected: forged, stale, mismatched; audited) or 503 (not
 * committed: deliver again); outcome a short word ("fulfilled", "duplicate", ...); order_id
 * "" when none was matched.
 */
typedef void (*api_webhook_fn)(struct req *r, const struct pay_provider *p, int status, const char *outcome,
                               const char *order_id, void *arg);
/* Runs a notification for provider p through verification and the domain (webhooks.c).
 * body and header lookups are used only during this call. done runs exactly once. */
void api_webhook_process(struct req *r, const struct pay_provider *p, const char *body, size_t len,
                         const char *(*header)(void *hctx, const char *lname), void *hctx, api_webhook_fn done,
                         void *arg);
/* Appends tollgate_payment_notifications_total to a /metrics body. */
void api_webhooks_metrics(struct sbuf *b);

/* ---- the caller's region (region.c) ---- */

/*
 * Called with the caller's region decision (d->region, d->profile, ...; borrowed for the
 * call), or with r and d NULL when the request ended meanwhile or an error was already
 * answered (the account vanished, the store is unavailable): then only release arg.
 */
typedef void (*api_region_fn)(struct req *r, const struct region_decision *d, void *arg);
/*
 * Decides r's region (domain/region.h): the signed-in user's saved choice (one store read,
 * so the answer may come later: asynchronous in shape), X-User-Region from a trusted proxy,
 * the GeoIP country of the client address, TG_DEFAULT_REGION. done runs exactly once, on
 * r's loop thread, possibly before this returns. For every handler that offers or prices
 * something by region (catalog, orders, storage).
 */
void api_region_for_request(struct req *r, api_region_fn done, void *arg);
/* The region a request that creates an account comes from (X-User-Region from a trusted
 * proxy, GeoIP, TG_DEFAULT_REGION: the decision without a saved choice), recorded as the
 * account's signup region. Synchronous. */
enum region api_region_of_new_account(struct req *r);
/* The GET /api/v1/region body {"region","country","source","profile":{"currency","locale",
 * "sign_in","payment"}}. New reference (NULL only when out of memory). */
json_t *api_region_json(const struct region_decision *d);

/* ---- shared helpers (common.c) ---- */

/* Default and largest page size of list endpoints. */
#define API_PAGE_DEFAULT 20
#define API_PAGE_MAX 100

/*
 * Replies for a store result other than STORE_OK: BUSY and UNAVAILABLE -> 503 unavailable
 * (safe to retry), NOTFOUND -> 404 not_found, anything else -> 500 internal_error (logged
 * with `what`, e.g. the operation name; never with request data).
 */
void api_reply_store(struct req *r, enum store_rc rc, const char *what);

/*
 * A store call made by a handler for itself (reads, mostly; writes with rules go through
 * domain/). Embed it first in a context struct, get that with api_call_new(), fill the
 * inputs, and api_submit(): run() works on the store (maybe on another thread: inputs must
 * be copies, never request memory); reply() then runs on the loop with the request - unless
 * the client went away - and cleanup() (may be NULL) releases what the context holds.
 */
struct api_call;
typedef void (*api_reply_fn)(struct req *r, struct api_call *c);
typedef void (*api_cleanup_fn)(struct api_call *c);
struct api_call {
    struct store_call call;
    struct req_ref *ref;   /* while it waits (heap contexts) */
    struct req *r;         /* request-memory contexts: the request itself */
    int in_request;        /* allocated in request memory (inline reads) */
    api_reply_fn reply;
    api_cleanup_fn cleanup;
};
/*
 * A zeroed context of `size` bytes (an api_call first) for a call of this kind. Reads that
 * the store answers inline (SQLite) live in request memory - no allocation to free and no
 * handle on the request, which the hot reads measured - anything else on the heap, where
 * it may outlive its request.
 */
void *api_call_new(struct req *r, size_t size, enum store_call_kind kind);
void api_submit(struct req *r, struct api_call *c, store_run_fn run, api_reply_fn reply, api_cleanup_fn cleanup);
/* Replies for the store-side failures every sign-in flow shares: SIGNIN_UNAVAILABLE -> 503,
 * anything else -> 500. (The rc is an enum signin_rc; the flows' own answers - email taken,
 * bad credentials - are the caller's.) */
void api_reply_signin_failure(struct req *r, int signin_rc);
/* Replies for a failed change to the caller's own account (an enum users_rc other than
 * USERS_OK): the account gone -> 401 invalid_token (its token with it), UNAVAILABLE -> 503,
 * anything else -> 500. */
void api_reply_own_account_failure(struct req *r, int users_rc);
/* The {id} route parameter when it is an id with this prefix ("tsk", "fil", ...); else
 * replies 404 (garbage never reaches the store) and returns NULL. */
const char *api_id_param_or_reply(struct req *r, const char *prefix);
/* Replies 400 validation_failed with e's message and details {"field": e->field}. */
void api_reply_jerr(struct req *r, const struct jerr *e);
/* Replies error e with `message` and details {"field": field}. */
void api_reply_field(struct req *r, enum tg_err e, const char *field, const char *message);

/*
 * An empty body, or a JSON object with only the `allowed` keys (NULL-terminated), for
 * POSTs whose body is optional. Returns the object (borrowed; NULL with *empty 1 when there
 * is no body), or NULL with *empty 0 after replying.
 */
json_t *api_optional_body_or_reply(struct req *r, const char *const *allowed, int *empty);

/*
 * Replies 403 and returns -1 when the caller authenticated with an API key: changing the
 * password or managing keys needs a signed-in session, so a leaked key cannot mint more
 * keys or lock the owner out. Returns 0 for a session.
 */
int api_require_session_or_reply(struct req *r);

/*
 * Reads ?limit= (API_PAGE_DEFAULT when absent, 1..API_PAGE_MAX) and ?cursor= (NULL when
 * absent, else an id with prefix cursor_prefix). Replies 400 and returns -1 on bad input.
 */
int api_page_params_or_reply(struct req *r, const char *cursor_prefix, size_t *limit, const char **cursor);
/* The admin lists' filters: ?status= (one of statuses, a NULL-terminated list), ?provider= (a
 * payment provider Tollgate knows) and ?user_id=, each copied ("" when absent) into its
 * TG_*-sized field. Returns 0, or -1 after answering 400 naming the bad field. */
int api_admin_filters_or_reply(struct req *r, const char *const *statuses, const char *status_help,
                               char status[24], char provider[TG_PROVIDER_MAX], char user_id[TG_ID_MAX]);

/* {"id","email","email_verified","display_name","role","region","locale"} (email, region and
 * locale null when none). New reference. */
json_t *api_user_json(const struct user *u);
/* The session reply shape of DESIGN section 11: {"user":{...},"access_token",
 * "refresh_token","token_type":"Bearer","expires_in"}, sent with Cache-Control: no-store. */
void api_reply_session(struct req *r, int status, const struct user *u, const struct session_tokens *t);

/*
 * Writes the GET /api/v1/credits body {"available","plan_credits","paid_credits",
 * "plan_expires_at"} into buf: available counts plan credits only while their period has
 * not ended at now_ms. Returns its length, or -1 when buf is too small or the sum
 * overflows (impossible below LEDGER_MAX_BALANCE; checked anyway).
 */
int api_credits_format(const struct wallet *w, int64_t now_ms, char *buf, size_t cap);
/* The same object as JSON (new reference), or NULL on overflow. */
json_t *api_credits_json(const struct wallet *w, int64_t now_ms);
/* RFC 3339 string for ms, or JSON null for 0. New reference. */
json_t *api_time_or_null(int64_t ms);

/*
 * Records a security event for this request (ip and request id taken from r) on its own
 * (domain/audit.h: a row that cannot be written is counted as dropped, never fails the
 * request), then replies with error e (message and err_details as for res_error; stolen).
 * details is a JSON object, stolen (may be NULL). The reply comes after the row is written,
 * so whoever reads the audit log after the answer finds it.
 */
void api_audit_then_error(struct req *r, const char *actor_id, const char *action, const char *target_type,
                          const char *target_id, json_t *details, enum tg_err e, const char *message,
                          json_t *err_details);

/*
 * Composes mail `kind` (domain/mail.h) carrying token for the address `to`, in `locale`
 * ("" or NULL: en-US), and hands it to the mailer (email.c). Call it once the token is
 * stored (after the commit), whether or not the request is still there. Never fails the
 * caller: a mail that cannot be composed or sent is logged and counted.
 */
void api_mail_send(enum mail_kind kind, const char *to, const char *locale, const char *token);

/* Copies len bytes of a secret into a new NUL-terminated buffer (caller releases it with
 * api_secret_free, which wipes it). */
char *api_secret_dup(const char *s, size_t len);
void api_secret_free(char *s, size_t len);

#endif
