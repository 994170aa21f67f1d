/*
 * refunds.h - refunds of paid orders (DESIGN section 4): how much may be refunded, which
 * credits go back, and what a provider's refund notification changes.
 *
 * The rules:
 *   - refunds of an order add up to at most what was paid: the order's refunded_amount is
 *     the sum of its pending and succeeded refunds, moved by one conditional statement, so
 *     concurrent refunds cannot pass the payment;
 *   - a refund takes back the credits the money bought, in proportion (floor of
 *     credits * amount / paid), and the refund that completes the order takes back exactly
 *     what is left, so a sequence of partial refunds takes back the order's credits in full;
 *   - credits are taken from the bucket the order filled (paid for a pack, plan for a
 *     plan), before the provider is asked, in the same transaction that reserves the
 *     amount. When they were spent the refund is refused (402 insufficient_credits),
 *     unless the admin passed allow_negative: then what is left is taken and the rest is
 *     recorded as the refund's shortfall (balances never go below zero, DESIGN section 3);
 *   - when the provider declines, the reservation is undone: amount released, credits
 *     returned (a payment_refund entry referring to "refund_reversal"), refund failed;
 *   - a refund notification completes a pending refund, revives a failed one whose money did
 *     move after all, and records a refund made in the provider's dashboard (credits taken
 *     back as far as they are left: the money is already gone).
 */
#ifndef TG_DOMAIN_REFUNDS_H
#define TG_DOMAIN_REFUNDS_H

#include <stddef.h>
#include <stdint.h>

#include "core/types.h"
#include "domain/orders.h"
#include "store/store.h"

enum refunds_rc {
    REFUNDS_OK = 0,
    REFUNDS_NOT_FOUND,  /* no such order */
    REFUNDS_NOT_PAID,   /* the order is not paid (pending, failed, expired) or is a plan */
    REFUNDS_EXCEEDS,    /* the amount is more than what is left to refund */
    REFUNDS_SPENT,      /* the credits were spent and allow_negative was not given */
    REFUNDS_INVALID,    /* amount out of range, reason too long */
};

/* "ok", "not_found", ... */
const char *refunds_rc_name(enum refunds_rc rc);

/* What an admin asks for (strings borrowed). */
struct refund_request {
    const char *order_id;
    int64_t amount; /* minor units of the order's currency, > 0 */
    const char *reason;
    int allow_negative;
    const char *actor_id; /* the admin */
    const char *ip, *request_id;
};

/* Credits a refund of `amount` takes back from an order of `credits` for `paid`, when
 * `refunded_before` of it was refunded before, taking back `credits_before`. */
int64_t refunds_credits_for(int64_t credits, int64_t paid, int64_t refunded_before, int64_t credits_before,
                            int64_t amount);

/*
 * Inside a write transaction: reserves the refund (amount, credits, a pending refund row
 * with a new "rfd_" id, an "order.refund" audit row). *out says what happened; STORE_CONFLICT
 * (nothing written) for every outcome but REFUNDS_OK. *rf and *o (may be NULL) receive the
 * refund and the order as they stand.
 */
enum store_rc refunds_begin_tx(struct store *s, const struct refund_request *rq, int64_t now_ms,
                               enum refunds_rc *out, struct refund *rf, struct order *o);

/*
 * Inside a write transaction: the provider's answer to a reserved refund. succeeded 1 and
 * pending 0: done; pending 1: accepted, stays pending (a notification completes it);
 * succeeded 0: declined - the reservation is undone. *rf and *o (may be NULL) receive them
 * afterwards.
 */
enum store_rc refunds_finish_tx(struct store *s, const char *refund_id, int succeeded, int pending,
                                const char *provider_refund_id, int64_t now_ms, struct refund *rf, struct order *o);

/* Inside orders_notice_tx: a verified refund notice for order o (provider and currency
 * already checked). Sets *outcome; STORE_CONFLICT for REFUND_MISMATCH. */
enum store_rc refunds_notice_tx(struct store *s, const struct payment_notice *n, const struct order *o,
                                int64_t now_ms, enum orders_outcome *outcome);

#endif
