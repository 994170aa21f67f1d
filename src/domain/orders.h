/*
 * orders.h - orders and their fulfilment (DESIGN section 4): the rule that turns a verified
 * provider notification into credits exactly once.
 *
 * A notification is matched to its order by our order id (which every provider carries back:
 * Stripe's client_reference_id, WeChat Pay's and Alipay's out_trade_no, PayPal's custom_id)
 * or else by the provider's reference. It fulfils the order only when it names the order's own
 * provider, amount and currency. Then, in one transaction: the notification goes into the
 * inbox under (provider, event id) - a second delivery of the same notification stops there -
 * the order moves to paid with a conditional update - a second, different notification for a
 * paid order stops there - and the credits are one ledger entry whose reference is the order.
 * A payment that arrives after the order expired or failed is still fulfilled: money that was
 * taken is never lost.
 *
 * The same path takes a provider's "failed" and "refunded" notifications (refunds.h), and
 * the answers of the pending-order job's queries, which are notifications we asked for.
 *
 * Creating an order spans a provider call, so it takes two transactions: orders_create_tx
 * stores the pending order (and, with an Idempotency-Key, a marker that a retry of the same
 * request finds), the checkout is created at the provider, and orders_checkout_tx (or
 * orders_checkout_failed_tx when every provider failed) records it with the final answer.
 */
#ifndef TG_DOMAIN_ORDERS_H
#define TG_DOMAIN_ORDERS_H

#include <stddef.h>
#include <stdint.h>

#include "core/types.h"
#include "store/store.h"

struct store_exec;

enum payment_notice_kind {
    NOTICE_PAID = 0, /* the payment succeeded */
    NOTICE_FAILED,   /* the payment failed or its checkout expired at the provider */
    NOTICE_REFUND,   /* a refund succeeded */
    /* A subscription the provider renews (domain/subscriptions.h), by subscription_ref: */
    NOTICE_SUB_PERIOD,   /* a period was paid */
    NOTICE_SUB_PAST_DUE, /* a renewal payment failed */
    NOTICE_SUB_STATE,    /* cancel_at_period_end / period_end / product changed */
    NOTICE_SUB_ENDED,    /* it ended at the provider */
};

/* A verified notification, as a provider module hands it over (strings borrowed). */
struct payment_notice {
    const char *provider;     /* the provider whose signature was verified */
    const char *event_id;     /* its unique id for this notification (Stripe evt_..., WeChat Pay
                                 transaction id + state, ...) */
    const char *kind;         /* the provider's event type, for the inbox */
    const char *order_id;     /* our order id when the notification carries it, else NULL */
    const char *provider_ref; /* the provider's payment id, else NULL */
    int64_t amount;           /* minor units, as paid */
    const char *currency;     /* ISO 4217, upper-case */
    enum payment_notice_kind notice; /* NOTICE_PAID unless said otherwise */
    const char *refund_id;          /* NOTICE_REFUND: our refund id when carried, else NULL */
    const char *provider_refund_id; /* NOTICE_REFUND: the provider's refund id, else NULL */
    /* Subscriptions (a plan's NOTICE_PAID, NOTICE_SUB_*); NULL / 0 when not carried: */
    const char *subscription_ref;   /* the provider's subscription id */
    const char *invoice_ref;        /* NOTICE_SUB_PERIOD: the provider's invoice id */
    int64_t period_start, period_end;
    const char *product;            /* our product id for the subscription's price */
    int cancel_at_period_end;       /* NOTICE_SUB_STATE */
};

enum orders_outcome {
    ORDERS_FULFILLED = 0,     /* paid now; credits added */
    ORDERS_DUPLICATE,         /* this very notification was handled before: nothing to do */
    ORDERS_ALREADY_PAID,      /* another notification paid the order before: recorded only */
    ORDERS_UNKNOWN_ORDER,     /* no such order: nothing written */
    ORDERS_PROVIDER_MISMATCH, /* the order belongs to another provider: nothing written */
    ORDERS_AMOUNT_MISMATCH,   /* amount or currency differ from the order's: nothing written */
    ORDERS_UNSUPPORTED,       /* a notice this order cannot take: nothing written */
    ORDERS_MARKED_FAILED,     /* a failure notice moved the pending order to failed */
    ORDERS_NOT_PENDING,       /* a failure notice for an order no longer pending: recorded only */
    ORDERS_REFUNDED,          /* a refund notice was recorded (credits taken back) */
    ORDERS_REFUND_KNOWN,      /* a refund notice for a refund already recorded: recorded only */
    ORDERS_REFUND_MISMATCH,   /* a refund notice past what was paid, or for an unpaid order:
                                 nothing written */
    ORDERS_SUB_RENEWED,       /* a subscription's new period was paid and granted */
    ORDERS_SUB_UPDATED,       /* a subscription's state changed (past due, canceling, ended) */
    ORDERS_SUB_KNOWN,         /* a subscription notice with nothing new: recorded only */
    ORDERS_UNKNOWN_SUBSCRIPTION, /* a subscription notice for none we know: nothing written */
};

/* "fulfilled", "duplicate", ... (also the inbox's outcome text). */
const char *orders_outcome_name(enum orders_outcome o);

/*
 * Inside a write transaction: applies notice n at now_ms. *outcome says what happened and
 * *order (may be NULL) receives the order as it stands afterwards when one was found.
 * Returns STORE_OK for FULFILLED, DUPLICATE and ALREADY_PAID (acknowledge the provider);
 * STORE_CONFLICT for the outcomes that write nothing (answer 400 and audit); any other
 * store result is a failure to commit (answer 5xx so the provider retries).
 */
enum store_rc orders_fulfil_tx(struct store *s, const struct payment_notice *n, int64_t now_ms,
                               enum orders_outcome *outcome, struct order *order);

/* Same as orders_fulfil_tx for any notice kind (paid, failed, refund). */
enum store_rc orders_notice_tx(struct store *s, const struct payment_notice *n, int64_t now_ms,
                               enum orders_outcome *outcome, struct order *order);

/* What orders_fulfil reports. */
struct orders_fulfil_result {
    enum store_rc rc;             /* STORE_OK, STORE_CONFLICT, or a failure */
    enum orders_outcome outcome;
    struct order order;           /* when one was found */
};
typedef void (*orders_fulfil_fn)(void *arg, const struct orders_fulfil_result *res);

/* orders_fulfil_tx as one store call (the webhook endpoints); n is copied. cb runs on the
 * caller's loop once the result is durable. */
void orders_fulfil(struct store_exec *ex, const struct payment_notice *n, int64_t now_ms, orders_fulfil_fn cb,
                   void *arg);

/* ---- creating orders ---- */

struct idem;

enum orders_create_outcome {
    ORDERS_CREATED = 0, /* stored: go and create the checkout */
    ORDERS_REPLAY,      /* the same request was answered before: idem holds the answer */
    ORDERS_IN_PROGRESS, /* the same request is still creating its checkout (*existing) */
    ORDERS_KEY_REUSED,  /* the Idempotency-Key was used for another request */
};

/*
 * Inside a write transaction: stores pending order o, and with idem (may be NULL) first
 * checks the key and then keeps a marker naming the order as the key's answer-to-be. A
 * marker whose order failed (every provider failed, or the process stopped before the
 * checkout was recorded and the order expired) is forgotten, and the request proceeds anew.
 */
enum store_rc orders_create_tx(struct store *s, struct idem *idem, const struct order *o, int64_t now_ms,
                               enum orders_create_outcome *outcome, struct order *existing);

/* One checkout attempt at a provider, for the record. */
struct orders_attempt {
    char provider[TG_PROVIDER_MAX];
    int ok;
    char detail[64];
};

/*
 * Inside a write transaction: records the attempts, the checkout made at `provider` (ref may
 * be "" or NULL) and, with idem, the final answer (status, body) in place of the marker.
 * STORE_CONFLICT when the order is no longer pending.
 */
enum store_rc orders_checkout_tx(struct store *s, const char *order_id, const char *provider, const char *ref,
                                 const char *checkout_json, const struct orders_attempt *at, size_t n,
                                 const struct idem *idem, int status, const char *body, int64_t now_ms);
/* Inside a write transaction: every provider failed. Records the attempts, moves the order
 * to failed and forgets the key (a retry with it may try again). */
enum store_rc orders_checkout_failed_tx(struct store *s, const char *order_id, const struct orders_attempt *at,
                                        size_t n, const struct idem *idem, int64_t now_ms);

/* ---- the pending-order job ---- */

/* When to ask the provider about a pending order after `attempts` queries (the first at
 * created_at + after_ms, then doubling, at most an hour apart); 0 after max_attempts. */
int64_t orders_next_query_at(int64_t created_at, int64_t attempts, int64_t after_ms, int64_t max_attempts);

/*
 * Inside a write transaction, for a due pending order o that was asked about (or could not
 * be, query_ok 0): when it expired (expires_at <= now) and is still pending, moves it to
 * expired; else counts the query and schedules the next one.
 */
enum store_rc orders_after_query_tx(struct store *s, const struct order *o, int query_ok, int64_t after_ms,
                                    int64_t max_attempts, int64_t now_ms);

#endif
