/*
 * routes.c - the route table: data, not code (STYLE: "the route table is data").
 *
 * Each row: {method, pattern, handler, auth level, rate-limit policy}. The HTTP layer
 * matches literal segments and {name} parameters, authenticates per `auth`, applies
 * `rate` (keyed by user when authenticated, else by client IP) and calls the handler.
 * `tollgate routes` prints this table; a test keeps docs/openapi.yaml equal to it.
 *
 * /metrics has no authentication on purpose (Prometheus scrapes it from inside the
 * network); the deployment must not expose it publicly (deploy/nginx.conf).
 */
#include "api/api.h"

const struct route api_routes[] = {
    {"GET", "/health", api_health_get, AUTH_NONE, RL_NONE},
    {"GET", "/ready", api_ready_get, AUTH_NONE, RL_NONE},
    {"GET", "/metrics", api_metrics_get, AUTH_NONE, RL_NONE},

    {"POST", "/api/v1/auth/register", api_auth_register, AUTH_NONE, RL_AUTH_IP},
    {"POST", "/api/v1/auth/login", api_auth_login, AUTH_NONE, RL_AUTH_IP},
    {"POST", "/api/v1/auth/refresh", api_auth_refresh, AUTH_NONE, RL_AUTH_IP},
    {"POST", "/api/v1/auth/logout", api_auth_logout, AUTH_NONE, RL_AUTH_IP},
    {"POST", "/api/v1/auth/exchange", api_auth_exchange, AUTH_NONE, RL_AUTH_IP},
    {"POST", "/api/v1/auth/google/id-token", api_auth_google_id_token, AUTH_NONE, RL_AUTH_IP},
    {"GET", "/api/v1/auth/oauth/{provider}/start", api_oauth_start, AUTH_NONE, RL_AUTH_IP},
    {"GET", "/api/v1/auth/oauth/{provider}/callback", api_oauth_callback, AUTH_NONE, RL_AUTH_IP},
    /* Linking another sign-in to the signed-in account; the browser then follows the URL. */
    {"POST", "/api/v1/auth/oauth/{provider}/link", api_me_identity_link, AUTH_USER, RL_AUTH_IP},
    {"GET", "/api/v1/auth/providers", api_auth_providers, AUTH_OPTIONAL, RL_API_QUERY},
    /* Mail flows: a token is the credential. The reset request adds mail_address per address;
     * resend is keyed by the user (authenticated) and capped per hour by the store. */
    {"POST", "/api/v1/auth/verify-email", api_auth_verify_email, AUTH_NONE, RL_AUTH_IP},
    {"POST", "/api/v1/auth/verify-email/resend", api_auth_verify_resend, AUTH_USER, RL_AUTH_IP},
    {"POST", "/api/v1/auth/password-reset", api_auth_password_reset, AUTH_NONE, RL_AUTH_IP},
    {"POST", "/api/v1/auth/password-reset/confirm", api_auth_password_reset_confirm, AUTH_NONE, RL_AUTH_IP},

    {"GET", "/api/v1/region", api_region_get, AUTH_OPTIONAL, RL_API_QUERY},
    {"PUT", "/api/v1/region", api_region_put, AUTH_USER, RL_API_QUERY},

    /* Public; a signed-in caller's saved region applies, so the token is read when sent. */
    {"GET", "/api/v1/catalog", api_catalog_get, AUTH_OPTIONAL, RL_API_QUERY},

    {"GET", "/api/v1/me", api_me_get, AUTH_USER, RL_API_QUERY},
    {"PATCH", "/api/v1/me", api_me_patch, AUTH_USER, RL_API_QUERY},
    /* auth_ip here is keyed by the user (authenticated); the handler adds auth_account. */
    {"POST", "/api/v1/me/password", api_me_password, AUTH_USER, RL_AUTH_IP},
    {"DELETE", "/api/v1/me/identities/{id}", api_me_identity_unlink, AUTH_USER, RL_API_QUERY},

    {"GET", "/api/v1/api-keys", api_apikeys_list, AUTH_USER, RL_API_QUERY},
    {"POST", "/api/v1/api-keys", api_apikeys_create, AUTH_USER, RL_API_QUERY},
    {"DELETE", "/api/v1/api-keys/{id}", api_apikeys_delete, AUTH_USER, RL_API_QUERY},

    /* Buying: order creation counts against the payment policy (seeds: 5 per hour). */
    {"POST", "/api/v1/orders", api_orders_create, AUTH_USER, RL_PAYMENT},
    {"GET", "/api/v1/orders", api_orders_list, AUTH_USER, RL_API_QUERY},
    {"GET", "/api/v1/orders/{id}", api_orders_get, AUTH_USER, RL_API_QUERY},
    /* The browser back from a provider: no token travels with it; the provider is asked. */
    {"GET", "/api/v1/orders/{id}/return", api_orders_return, AUTH_NONE, RL_AUTH_IP},
    /* Provider notifications: verified by signature, never rate limited (a provider retrying
     * a backlog must get through). */
    {"POST", "/api/v1/webhooks/{provider}", api_webhooks_post, AUTH_NONE, RL_NONE},

    /* Plans bought: reading, cancelling and resuming are queries; a change of plan may
     * charge (an upgrade's proration), so it counts against the payment policy. */
    {"GET", "/api/v1/subscription", api_subscription_get, AUTH_USER, RL_API_QUERY},
    {"POST", "/api/v1/subscription/cancel", api_subscription_cancel, AUTH_USER, RL_API_QUERY},
    {"POST", "/api/v1/subscription/resume", api_subscription_resume, AUTH_USER, RL_API_QUERY},
    {"POST", "/api/v1/subscription/change", api_subscription_change, AUTH_USER, RL_PAYMENT},

    /* Generation: a submission is priced and reserved here; video kinds also count against
     * the video policy inside the handler (images do not). A provider callback is only a
     * hint to look again (the task is re-read from the provider), never rate limited. */
    {"POST", "/api/v1/tasks", api_tasks_create, AUTH_USER, RL_API_QUERY},
    {"GET", "/api/v1/tasks", api_tasks_list, AUTH_USER, RL_API_QUERY},
    {"GET", "/api/v1/tasks/{id}", api_tasks_get, AUTH_USER, RL_API_QUERY},
    {"POST", "/api/v1/tasks/{id}/cancel", api_tasks_cancel, AUTH_USER, RL_API_QUERY},
    {"POST", "/api/v1/callbacks/{provider}", api_callbacks_post, AUTH_NONE, RL_NONE},
    /* A task's events (Server-Sent Events): opening one is a query; it then stays open. */
    {"GET", "/api/v1/tasks/{id}/events", api_task_events, AUTH_USER, RL_API_QUERY},

    {"GET", "/api/v1/credits", api_credits_get, AUTH_USER, RL_API_QUERY},
    {"GET", "/api/v1/credits/ledger", api_credits_ledger, AUTH_USER, RL_API_QUERY},

    {"POST", "/api/v1/admin/users/{id}/credits", api_admin_adjust_credits, AUTH_ADMIN, RL_NONE},
    {"GET", "/api/v1/admin/users", api_admin_users_list, AUTH_ADMIN, RL_NONE},
    {"GET", "/api/v1/admin/users/{id}", api_admin_user_get, AUTH_ADMIN, RL_NONE},
    {"PATCH", "/api/v1/admin/users/{id}", api_admin_user_patch, AUTH_ADMIN, RL_NONE},
    {"GET", "/api/v1/admin/audit-log", api_admin_audit_log, AUTH_ADMIN, RL_NONE},
    {"GET", "/api/v1/admin/stats", api_admin_stats, AUTH_ADMIN, RL_NONE},
    {"GET", "/api/v1/admin/orders", api_admin_orders_list, AUTH_ADMIN, RL_NONE},
    {"GET", "/api/v1/admin/orders/{id}", api_admin_order_get, AUTH_ADMIN, RL_NONE},
    {"POST", "/api/v1/admin/orders/{id}/refund", api_admin_order_refund, AUTH_ADMIN, RL_NONE},
    {"GET", "/api/v1/admin/subscriptions", api_admin_subscriptions_list, AUTH_ADMIN, RL_NONE},
    {"GET", "/api/v1/admin/subscriptions/{id}", api_admin_subscription_get, AUTH_ADMIN, RL_NONE},
    {"POST", "/api/v1/admin/subscriptions/{id}/cancel", api_admin_subscription_cancel, AUTH_ADMIN, RL_NONE},
    /* The generation providers' key pools: secrets go in, never come out. */
    {"GET", "/api/v1/admin/provider-keys", api_admin_provider_keys_list, AUTH_ADMIN, RL_NONE},
    {"POST", "/api/v1/admin/provider-keys", api_admin_provider_keys_add, AUTH_ADMIN, RL_NONE},
    {"POST", "/api/v1/admin/provider-keys/{id}/disable", api_admin_provider_key_disable, AUTH_ADMIN, RL_NONE},
    {"POST", "/api/v1/admin/provider-keys/{id}/enable", api_admin_provider_key_enable, AUTH_ADMIN, RL_NONE},
    /* The test clock: 404 unless TG_TEST_CLOCK is on (tests only). */
    {"GET", "/api/v1/admin/clock", api_admin_clock_get, AUTH_ADMIN, RL_NONE},
    {"POST", "/api/v1/admin/clock", api_admin_clock_advance, AUTH_ADMIN, RL_NONE},

    /* Input files: the upload URL is minted for the caller's own key only. */
    {"POST", "/api/v1/uploads", api_uploads_create, AUTH_USER, RL_API_QUERY},
    {"GET", "/api/v1/uploads/{id}", api_uploads_get, AUTH_USER, RL_API_QUERY},
    /* S3/OSS: the bytes went to the bucket; this reads them back, probes and marks ready. */
    {"POST", "/api/v1/uploads/{id}/complete", api_uploads_complete, AUTH_USER, RL_API_QUERY},
    /* The local storage backend: the signed URL is the credential (api/files.c). The PUT is
     * the one route whose body may reach TG_MAX_UPLOAD_BYTES; reads are not rate limited
     * (a video player asks for many ranges). */
    {"PUT", "/files/in/{user}/{file}", api_files_put, AUTH_NONE, RL_API_QUERY, ROUTE_BODY_UPLOAD},
    {"GET", "/files/in/{user}/{file}", api_files_get, AUTH_NONE, RL_NONE},
    {"GET", "/files/out/{user}/{task}/{n}", api_files_get, AUTH_NONE, RL_NONE},

    /* The sandbox provider's pages (404 unless TG_SANDBOX is on). */
    {"GET", "/sandbox/sign-in", api_sandbox_signin_page, AUTH_NONE, RL_AUTH_IP},
    {"GET", "/sandbox/sign-in/approve", api_sandbox_signin_approve, AUTH_NONE, RL_AUTH_IP},
    {"GET", "/sandbox/checkout/{order}", api_sandbox_checkout_page, AUTH_NONE, RL_AUTH_IP},
    {"POST", "/sandbox/checkout/{order}/pay", api_sandbox_checkout_pay, AUTH_NONE, RL_AUTH_IP},
    {"POST", "/sandbox/checkout/{order}/fail", api_sandbox_checkout_fail, AUTH_NONE, RL_AUTH_IP},
};

const size_t api_routes_count = sizeof api_routes / sizeof api_routes[0];
