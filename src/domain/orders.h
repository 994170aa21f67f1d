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
 * What is built so far (the payments issue is in progress): the rule and its storage. Provider
 * checkouts, the webhook endpoints and the pending-order job call these.
 */
#ifndef TG_DOMAIN_ORDERS_H
#define TG_DOMAIN_ORDERS_H

#include <stddef.h>
#include <stdint.h>

#include "core/types.h"
#include "store/store.h"

struct store_exec;

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
};

enum orders_outcome {
    ORDERS_FULFILLED = 0,     /* paid now; credits added */
    ORDERS_DUPLICATE,         /* this very notification was handled before: nothing to do */
    ORDERS_ALREADY_PAID,      /* another notification paid the order before: recorded only */
    ORDERS_UNKNOWN_ORDER,     /* no such order: nothing written */
    ORDERS_PROVIDER_MISMATCH, /* the order belongs to another provider: nothing written */
    ORDERS_AMOUNT_MISMATCH,   /* amount or currency differ from the order's: nothing written */
    ORDERS_UNSUPPORTED,       /* a plan order (subscriptions are not built yet): nothing written */
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

#endif
