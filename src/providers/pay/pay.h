/*
 * pay.h - payment providers (DESIGN section 4): one file each in providers/pay/, one line
 * each in registry.c.
 *
 * A provider knows its wire format and nothing else. It creates a checkout for an order,
 * verifies a notification on its raw bytes and says what it reports, asks the provider how
 * a payment stands, and asks for a refund. What follows - matching the order, comparing
 * amount and currency, crediting exactly once, answering the provider - is decided once, in
 * domain/orders.c and api/webhooks.c, the same for every provider.
 *
 * Every operation that talks to the network goes through a net executor (net/net.h) and
 * reports through its done(arg, result) exactly once, on the caller's thread (possibly
 * before the operation returns, for a provider that needs no call). Results are borrowed for
 * the duration of done(). Requests are borrowed for the duration of the call that takes
 * them: a provider copies what it still needs after returning.
 *
 * Configuration is read with config_get() when an operation runs (TG_<PROVIDER>_...), so a
 * provider holds no state but caches it builds itself (PayPal's OAuth token, WeChat Pay's
 * platform certificates), which must be thread-safe: several HTTP loops call a provider.
 */
#ifndef TG_PROVIDERS_PAY_PAY_H
#define TG_PROVIDERS_PAY_PAY_H

#include <stddef.h>
#include <stdint.h>

#include "core/types.h"

struct net_exec;

enum pay_rc {
    PAY_OK = 0,
    PAY_IGNORED,       /* notification: authentic, but nothing for us to do (an event type we
                          do not act on, a payment still in progress): acknowledge it */
    PAY_INVALID,       /* notification: forged, stale, malformed or ambiguous (answer 400, audit);
                          other calls: the provider refused the request as invalid */
    PAY_DECLINED,      /* refund: the provider refused it (balance, age, already refunded) */
    PAY_NOTFOUND,      /* query: the provider knows no such payment (never started) */
    PAY_UNAVAILABLE,   /* no usable answer in time (timeout, connection, 5xx, 429): try again
                          later or another provider */
    PAY_MISCONFIGURED, /* our credentials or settings were refused (401/403, bad key file):
                          logged for the operator */
};

/* "ok", "ignored", "invalid", ... for logs and attempt records. */
const char *pay_rc_name(enum pay_rc rc);

/* ---- checkout ---- */

struct pay_checkout_req {
    const struct order *order;       /* id, product, amount, currency, user_id, region, expires_at */
    const char *description;         /* what the buyer sees on the provider's page ("115 credits") */
    const char *channel;             /* how to pay at providers that offer several, "" for the
                                        provider's default: wechatpay "native" (QR, default) |
                                        "jsapi" | "h5"; alipay "page" (default) | "wap" | "qr" */
    const char *notify_url;          /* TG_PUBLIC_URL/api/v1/webhooks/<name> */
    const char *return_url;          /* TG_PUBLIC_URL/api/v1/orders/<id>/return: where the provider
                                        sends the browser after paying; that endpoint asks the
                                        provider (query) and then redirects to the client's page */
    const char *cancel_url;          /* where the browser goes when the buyer cancels */
    const char *email;               /* the buyer's email, or NULL */
    const char *payer_openid;        /* jsapi: the buyer's openid for our appid, or NULL */
    const char *client_ip;           /* the buyer's address (WeChat Pay h5 requires it) */
    const char *provider_product_id; /* the catalog's product id at this provider (Creem's
                                        creem_product_id, Stripe's stripe_price_id), or NULL */
    /* A plan bought from a provider that runs subscriptions (one whose `subscription`
     * operation is not NULL): "month" or "year", and the checkout starts a subscription
     * that the provider renews (Stripe Checkout in subscription mode with
     * subscription_data.metadata.order_id; Creem's recurring product). NULL for a pack, and
     * for a plan sold as one prepaid period by a provider without subscriptions. */
    const char *interval;
    int64_t now_ms;
};

struct pay_checkout_res {
    enum pay_rc rc;
    char reason[64]; /* short machine reason for logs and attempts, never a secret */
    /* The provider's id for the payment when it has its own (Stripe Checkout Session cs_...,
     * PayPal order id, Creem checkout id); "" when it knows the payment by our order id
     * (WeChat Pay's and Alipay's out_trade_no). */
    char provider_ref[TG_PROVIDER_REF_MAX];
    /* JSON object the client needs: {"url":...} to redirect to, {"code_url":...} for a QR
     * code (the API adds "qr_svg"), or {"jsapi":{...}} signed parameters for WeChat's
     * in-app payment. */
    char checkout[TG_CHECKOUT_MAX];
};
typedef void (*pay_checkout_fn)(void *arg, const struct pay_checkout_res *res);

/* ---- what a notification or a query reports ---- */

enum pay_event_kind {
    PAY_EVENT_PAID = 0, /* the payment succeeded: amount and currency as paid. For the first
                           payment of a subscription also subscription_ref and, when the
                           event carries it, the period (period_start, period_end) */
    PAY_EVENT_FAILED,   /* the payment failed or the checkout expired at the provider */
    PAY_EVENT_REFUND,   /* a refund succeeded: amount and currency refunded by this refund */
    /* ---- subscriptions the provider renews (Stripe, Creem); subscription_ref is set ---- */
    PAY_EVENT_SUB_PERIOD,   /* a period was paid (a renewal; the first one too when the
                               provider reports it separately): period_start, period_end,
                               amount, currency, invoice_ref; product when known */
    PAY_EVENT_SUB_PAST_DUE, /* a renewal payment failed; the provider will retry */
    PAY_EVENT_SUB_STATE,    /* the subscription changed: cancel_at_period_end, period_end
                               (0 when not carried), product when known */
    PAY_EVENT_SUB_ENDED,    /* the subscription ended at the provider (canceled, expired, or
                               the provider gave up after failed renewals) */
};

struct pay_event {
    enum pay_event_kind kind;
    /* Unique per notification at this provider, stable across its retries (Stripe evt_...,
     * PayPal WH-..., Creem's event id, WeChat Pay's transaction_id (its refund_id for a
     * refund), Alipay's notify_id). A query result uses "query:" + the provider's payment id. */
    char event_id[TG_PROVIDER_REF_MAX];
    char type[48];                          /* the provider's event type, for the inbox */
    char order_id[TG_ID_MAX];               /* our order id when the event carries it, else "" */
    char provider_ref[TG_PROVIDER_REF_MAX]; /* the provider's id for the payment, else "" */
    int64_t amount;                         /* minor units */
    char currency[4];                       /* ISO 4217, upper-case */
    char refund_id[TG_ID_MAX];              /* PAY_EVENT_REFUND: our refund id when carried
                                               (out_refund_no, metadata), else "" */
    char provider_refund_id[TG_PROVIDER_REF_MAX]; /* PAY_EVENT_REFUND: the provider's refund id */
    /* Subscriptions (PAY_EVENT_PAID of a plan, PAY_EVENT_SUB_*): */
    char subscription_ref[TG_PROVIDER_REF_MAX]; /* the provider's subscription id (sub_...) */
    char invoice_ref[TG_PROVIDER_REF_MAX];      /* SUB_PERIOD: the provider's invoice or
                                                   transaction id for the period, else "" */
    int64_t period_start, period_end;           /* ms since the epoch; 0 when not carried */
    /* Our catalog product id for the subscription's price when the event says which
     * (metadata.product, or the provider product id mapped back through the catalog), else "" */
    char product[TG_PRODUCT_MAX];
    int cancel_at_period_end;                   /* SUB_STATE: 1 when it ends at period end */
};

/* ---- notifications ---- */

struct pay_webhook_req {
    const char *body; /* the raw body, exactly as received (not NUL-terminated) */
    size_t len;
    /* A request header by lower-case name. NULL when absent, and also when the request has
     * more than one line of that name: a provider treats an ambiguous header as missing. */
    const char *(*header)(void *hctx, const char *lname);
    void *hctx;
    int64_t now_ms;
};

struct pay_webhook_res {
    enum pay_rc rc; /* OK: ev holds what was verified; IGNORED: acknowledge, nothing else;
                       INVALID: answer 400 and audit; UNAVAILABLE / MISCONFIGURED: the
                       verification itself could not be done (PayPal's verify call, WeChat
                       Pay's certificate download): answer 503 so the provider retries */
    char reason[64];
    struct pay_event ev;
};
typedef void (*pay_webhook_fn)(void *arg, const struct pay_webhook_res *res);

/* ---- queries (missed notifications, the browser's return) ---- */

enum pay_state {
    PAY_STATE_PENDING = 0, /* not paid yet (created, waiting for the buyer, processing) */
    PAY_STATE_PAID,        /* paid: ev is filled as a PAY_EVENT_PAID notification would be */
    PAY_STATE_CLOSED,      /* will never be paid (closed, expired, cancelled, failed) */
};

struct pay_query_res {
    enum pay_rc rc; /* OK: state is known; NOTFOUND; UNAVAILABLE; MISCONFIGURED */
    char reason[64];
    enum pay_state state;
    struct pay_event ev;
};
typedef void (*pay_query_fn)(void *arg, const struct pay_query_res *res);

/* ---- refunds ---- */

struct pay_refund_req {
    const struct order *order; /* paid; provider_ref as the checkout recorded it */
    const char *refund_id;     /* ours ("rfd_..."): the provider's idempotency key or out_refund_no */
    int64_t amount;            /* this refund, minor units of order->currency, > 0 */
    const char *reason;        /* the admin's words (may be shown to the buyer), or "" */
    const char *notify_url;    /* TG_PUBLIC_URL/api/v1/webhooks/<name> */
};

struct pay_refund_res {
    enum pay_rc rc; /* OK: accepted; DECLINED; INVALID; UNAVAILABLE; MISCONFIGURED */
    char reason[64];
    char provider_refund_id[TG_PROVIDER_REF_MAX];
    int pending; /* 1: accepted, a notification or a later query confirms it; 0: done */
};
typedef void (*pay_refund_fn)(void *arg, const struct pay_refund_res *res);

/* ---- subscriptions the provider renews ---- */

enum pay_sub_action {
    PAY_SUB_CANCEL = 0, /* stop renewing: it ends at the end of the paid period */
    PAY_SUB_RESUME,     /* undo PAY_SUB_CANCEL before the period ends */
    PAY_SUB_CANCEL_NOW, /* end it now (an admin's decision); no refund is implied */
    PAY_SUB_CHANGE,     /* switch to another plan product of the same currency */
};

struct pay_sub_req {
    enum pay_sub_action action;
    const char *subscription_ref; /* the provider's subscription id */
    const char *sub_id;           /* ours ("sub_..."), for logs and metadata */
    /* PAY_SUB_CHANGE: the new product (our id), its price in the subscription's currency,
     * its interval ("month" | "year"), the catalog's id of it at this provider (Creem's
     * creem_product_id, Stripe's stripe_price_id; NULL when none: Stripe then prices it
     * inline with price_data on the subscription's own product) and whether the provider
     * should charge the prorated difference now (1: an upgrade, which takes effect at once)
     * or simply bill the new price from the next period (0: a downgrade). */
    const char *product;
    int64_t amount;
    const char *currency;
    const char *interval;
    const char *provider_product_id;
    int prorate_now;
    /* A key the provider may use to make a retry of this same change idempotent. */
    const char *idem_key;
    int64_t now_ms;
};

struct pay_sub_res {
    enum pay_rc rc; /* OK; INVALID (refused: no such subscription, already canceled);
                       UNAVAILABLE; MISCONFIGURED */
    char reason[64];
    /* What the provider reported after the change, when it did (0 / -1 when unknown). */
    int64_t period_end;
    int cancel_at_period_end;
};
typedef void (*pay_sub_fn)(void *arg, const struct pay_sub_res *res);

struct pay_provider {
    const char *name;
    int (*configured)(void);
    /* Reads what the provider keeps from files (keys, certificates) at start-up, so that no
     * loop thread ever reads a file and a bad key stops the start with a clear message
     * rather than failing the first payment. Called only when configured. NULL: nothing to
     * read. Returns 0, or -1 with *err set (caller frees). */
    int (*preload)(char **err);
    /* Creates the checkout for req->order (pending, amount from the catalog). */
    void (*checkout)(struct net_exec *nx, const struct pay_checkout_req *req, pay_checkout_fn done, void *arg);
    /* Verifies a notification on its raw bytes and says what it reports. */
    void (*verify_webhook)(struct net_exec *nx, const struct pay_webhook_req *req, pay_webhook_fn done, void *arg);
    /* Asks how the order's payment stands. A provider whose payments need a second step
     * (PayPal: capture an approved order) takes it here, idempotently. NULL: not offered. */
    void (*query)(struct net_exec *nx, const struct order *o, int64_t now_ms, pay_query_fn done, void *arg);
    /* Asks for a refund of req->amount. NULL: refunds are made in the provider's dashboard. */
    void (*refund)(struct net_exec *nx, const struct pay_refund_req *req, pay_refund_fn done, void *arg);
    /* Changes a subscription the provider renews (cancel, resume, change plan). NULL: the
     * provider sells plans as prepaid periods (WeChat Pay, Alipay, PayPal, the sandbox), and
     * Tollgate keeps the subscription alone: the buyer pays each next period as an order. */
    void (*subscription)(struct net_exec *nx, const struct pay_sub_req *req, pay_sub_fn done, void *arg);
    /* How the provider wants notifications answered: the body (and its Content-Type) for a
     * notification that was handled or ignored (status 200), and the body for one that must
     * be delivered again (status 400 or 5xx). NULL: an empty body / our JSON error. */
    const char *ack_type, *ack_body, *fail_type, *fail_body;
};

/* Runs preload for every configured provider (main, before serving). Returns 0, or -1 with
 * *err set (caller frees) naming the provider and what is wrong. */
int pay_providers_preload(char **err);

/* The provider registered under name, or NULL. */
const struct pay_provider *pay_provider_find(const char *name);

/* The providers, for listing (NULL-terminated). */
extern const struct pay_provider *const pay_providers[];

#endif
