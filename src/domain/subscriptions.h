/*
 * subscriptions.h - plans (DESIGN sections 3-4, docs/PAYMENTS.md "Plans"): what a paid plan
 * order, a provider's renewal and the passing of time do to a subscription and to the plan
 * bucket of the ledger.
 *
 * A subscription has a paid period (what was paid for: a month or a year) and, inside it,
 * credit periods of one month (struct subscription in core/types.h). Credits are granted at
 * the start of each credit period into the plan bucket with plan_expires_at at its end, as
 * one plan_grant entry referenced ("subscription", "<sub id>:<credit index>"), so a period
 * is granted once whatever asks twice. When a credit period ends, what is left of the plan
 * bucket is written off as one plan_expire entry under the same reference - never silently
 * zeroed - in the same transaction that grants the next period's credits, expiry first: the
 * old period's credits can never be carried into the new one, nor the new ones written off.
 *
 * Renewal:
 *   - a provider that runs subscriptions (Stripe, Creem) renews and says so (a SUB_PERIOD
 *     notice): the paid period moves to the provider's, exactly once per period - a notice
 *     counts only when its period ends later than the one we hold and starts at least half
 *     a period after it, so a repeated or a first-period notice never grants twice;
 *   - a prepaid plan (WeChat Pay, Alipay, PayPal, the sandbox) is renewed by buying the
 *     next period as an order, which extends period_end by one period of what was bought.
 *     The job reminds the buyer SUBS_REMIND_BEFORE_MS before period_end.
 * Changes: an upgrade (a plan with more credits a month) takes effect at once and grants
 * the difference for the current credit period (its own plan_grant reference
 * "<sub>:<index>:<product>"); a downgrade takes effect at the end of the paid period.
 * Cancel stops renewal at period end; resume undoes it while the period runs. A failed
 * renewal moves the subscription to past_due: no credits until a renewal is paid; it ends
 * when the provider says so.
 *
 * Every *_tx function runs inside a caller's write transaction (store/call.h) and decides
 * from what it reads there: the single writer makes read-then-write safe.
 */
#ifndef TG_DOMAIN_SUBSCRIPTIONS_H
#define TG_DOMAIN_SUBSCRIPTIONS_H

#include <stdint.h>

#include "core/types.h"
#include "domain/orders.h"
#include "store/store.h"

struct catalog_product;

/* Prepaid plans: the renewal reminder goes out this long before the paid period ends. */
#define SUBS_REMIND_BEFORE_MS (3LL * 24 * 60 * 60 * 1000)

/* ms plus n calendar months in UTC, the day clamped to the target month's last day
 * (Jan 31 + 1 month = Feb 28 or 29), the time of day kept. n >= 0. */
int64_t subs_add_months(int64_t ms, int n);
/* One paid period of p from start: + 1 month or + 12 months. */
int64_t subs_period_end(const struct catalog_product *p, int64_t start);

/* "active" etc. 1 when status is live (active, past_due). */
int subs_live(const struct subscription *sub);
/* 1 when the provider renews the subscription (it has a provider_ref). */
int subs_renews(const struct subscription *sub);

/* Credits of the current credit period still in the plan bucket (w the user's wallet). */
int64_t subs_credits_remaining(const struct subscription *sub, const struct wallet *w, int64_t now_ms);

/* ---- may a request go ahead (the API asks before calling a provider) ---- */

enum subs_check {
    SUBS_OK = 0,
    SUBS_NONE,           /* no live subscription: 404 no_subscription */
    SUBS_EXISTS,         /* a plan order while a subscription the provider renews is live,
                            or one from another provider: 409 subscription_exists */
    SUBS_PREPAID,        /* a plan change of a prepaid subscription: buy the plan instead
                            (409 subscription_prepaid) */
    SUBS_SAME_PLAN,      /* a change to the product in force: 409 subscription_same_plan */
    SUBS_NOT_RESUMABLE,  /* resume of one not canceling, or past its period: 409 */
    SUBS_CURRENCY,       /* a change to a product not sold in the subscription's currency:
                            409 subscription_currency */
    SUBS_PERIOD_CHANGE,  /* a change between a monthly and a yearly plan (the provider would
                            restart the billing period): 409 subscription_period_change;
                            cancel, then subscribe to the other at period end */
};
/* "ok", "none", ... */
const char *subs_check_name(enum subs_check c);

/* Buying plan product p at provider `provider` (renews: 1 when that provider runs
 * subscriptions) while live (may be NULL) is the user's live subscription. */
enum subs_check subs_may_order(const struct subscription *live, const struct catalog_product *p,
                               const char *provider, int renews);
/* Switching live (may be NULL) to product p. *upgrade receives 1 when p grants more credits
 * a month (takes effect now), 0 for a downgrade (at period end). */
enum subs_check subs_may_change(const struct subscription *live, const struct catalog_product *p, int *upgrade);
enum subs_check subs_may_cancel(const struct subscription *live);
enum subs_check subs_may_resume(const struct subscription *live, int64_t now_ms);

/* ---- what changes them (inside a write transaction) ---- */

/*
 * A plan order o was just paid (orders_notice_tx, after it moved the order to paid): starts
 * the user's subscription with its first credit period granted, or extends the live prepaid
 * one (upgrading now or downgrading at its end when another plan was bought). n carries the
 * provider's subscription id and, when known, its first period. Links the order to the
 * subscription. Never refuses: the money was taken.
 */
enum store_rc subs_order_paid_tx(struct store *s, const struct order *o, const struct payment_notice *n,
                                 int64_t now_ms);
/*
 * A plan order o that was already paid got another PAID notice (Stripe sends the session
 * and the first invoice): aligns the subscription's first paid period with the provider's
 * when n carries one. Grants nothing.
 */
enum store_rc subs_order_repaid_tx(struct store *s, const struct order *o, const struct payment_notice *n,
                                   int64_t now_ms);

/*
 * A provider's subscription notice (NOTICE_SUB_PERIOD / _PAST_DUE / _STATE / _ENDED) for
 * the subscription it knows as n->subscription_ref. *outcome: ORDERS_SUB_RENEWED (a new
 * period, recorded as a paid plan order named in renewal_order_id, may be NULL),
 * ORDERS_SUB_UPDATED, ORDERS_SUB_KNOWN (nothing new: a repeated period), or
 * ORDERS_UNKNOWN_SUBSCRIPTION (STORE_CONFLICT: no such subscription, nothing written).
 */
enum store_rc subs_notice_tx(struct store *s, const struct payment_notice *n, int64_t now_ms,
                             enum orders_outcome *outcome, char renewal_order_id[TG_ID_MAX]);

/* What the job decided should be mailed (after the commit). */
enum subs_mail {
    SUBS_MAIL_NONE = 0,
    SUBS_MAIL_REMIND,   /* a prepaid period ends in SUBS_REMIND_BEFORE_MS: buy the next */
    SUBS_MAIL_EXPIRED,  /* the subscription ended */
    SUBS_MAIL_PAST_DUE, /* a renewal payment failed */
};

/*
 * The job, for one subscription whose next_due_at came: ends the credit periods that
 * ended (plan_expire), grants the next one while paid time is left (applying a downgrade
 * whose time came), ends the subscription when its paid period is over and nothing renews
 * it, marks the prepaid reminder sent. Safe to run twice. *mail (may be NULL) receives what
 * to tell the user; *sub_out (may be NULL) the subscription afterwards.
 */
enum store_rc subs_due_tx(struct store *s, const char *sub_id, int64_t now_ms, enum subs_mail *mail,
                          struct subscription *sub_out);

/* Cancel at period end (at_period_end 1) or now (0: its plan credits are written off now),
 * after the provider agreed when it renews. actor_id: who (for the audit row; "" for the
 * user themselves is written as the user). Idempotent. */
enum store_rc subs_cancel_tx(struct store *s, const char *sub_id, int at_period_end, const char *actor_id,
                             const char *ip, const char *request_id, int64_t now_ms, struct subscription *out);
/* Undo a cancel at period end, after the provider agreed. Idempotent: when it is not
 * canceling (the provider's notice of this resume came first) nothing changes. CONFLICT when
 * it ended or its period is over. */
enum store_rc subs_resume_tx(struct store *s, const char *sub_id, const char *actor_id, const char *ip,
                             const char *request_id, int64_t now_ms, struct subscription *out);
/* Switch to product (after the provider agreed when it renews): an upgrade now (the
 * difference of this credit period granted), a downgrade at period end. Idempotent: when the
 * product is already in force or already the pending downgrade (the provider's notice came
 * first) nothing changes. CONFLICT when the change is not allowed (subs_may_change). */
enum store_rc subs_change_tx(struct store *s, const char *sub_id, const char *product, const char *actor_id,
                             const char *ip, const char *request_id, int64_t now_ms, struct subscription *out);

#endif
