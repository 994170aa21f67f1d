/*
 * stripe.h - the Stripe payment provider: Checkout Sessions (payment mode for packs,
 * subscription mode for plans), signed webhook events, session queries, refunds and
 * subscription changes (wire formats in PROVIDERS.md section 1).
 *
 *   checkout  POST {TG_STRIPE_API_BASE}/v1/checkout/sessions (form), Idempotency-Key = our
 *             order id; provider_ref = the session id (cs_...), checkout {"url": session.url}
 *   webhook   Stripe-Signature: t=<unix s>,v1=<hex HMAC-SHA256("<t>.<raw body>")>[,v1=..][,v0=..]
 *             keyed with TG_STRIPE_WEBHOOK_SECRET as it is (whsec_... not decoded), any v1
 *             may match, STRIPE_TOLERANCE_S either way
 *   query     GET {base}/v1/checkout/sessions/{cs}
 *   refund    GET the session for its payment_intent, then POST {base}/v1/refunds (form),
 *             Idempotency-Key = our refund id. A plan's payment is an invoice's: the
 *             subscription-mode session's invoice, or a renewal order's own (provider_ref
 *             in_...), read with GET {base}/v1/invoices/{in}?expand[]=payments for its
 *             payment intent
 *   subscription  CANCEL / RESUME: POST {base}/v1/subscriptions/{sub} cancel_at_period_end;
 *             CANCEL_NOW: DELETE {base}/v1/subscriptions/{sub}; CHANGE: GET the subscription
 *             (its item and product), then POST it with the new price (Idempotency-Key =
 *             the request's idem_key on POSTs)
 *
 * Sessions and refunds carry our ids back: client_reference_id and metadata[order_id] on the
 * session, payment_intent_data[metadata][order_id] (so charges carry it), and
 * metadata[refund_id] + metadata[order_id] on refunds we create. An event about a session or
 * refund that carries no id of ours (another integration on the same Stripe account, a refund
 * made in the dashboard without one) is acknowledged and ignored, never answered 400.
 *
 * The pure functions below are the wire formats; the unit tests and the fuzz target call them
 * directly.
 */
#ifndef TG_PROVIDERS_PAY_STRIPE_H
#define TG_PROVIDERS_PAY_STRIPE_H

#include <stddef.h>
#include <stdint.h>

#include "core/types.h"
#include "providers/pay/pay.h"

extern const struct pay_provider pay_stripe;

/* Stripe's own default tolerance (stripe-node Webhooks.ts DEFAULT_TOLERANCE = 300 s). Unlike
 * stripe-node we also refuse timestamps this far in the future: a signed event must not be
 * replayable until some later time. */
#define STRIPE_TOLERANCE_S 300
#define STRIPE_SIG_HEADER_MAX 2048     /* Stripe-Signature bytes accepted (a real one is ~150) */
#define STRIPE_SIG_MAX_V1 8            /* v1 signatures in one header (two during a secret roll) */
#define STRIPE_EVENT_MAX (512 * 1024)  /* webhook body bytes accepted (events are a few KiB) */
#define STRIPE_ANSWER_MAX (256 * 1024) /* API answer bytes accepted */
#define STRIPE_URL_MAX 2048            /* a Checkout URL (with its long fragment) */
#define STRIPE_CALL_TIMEOUT_MS 8000    /* per attempt; the order request waits for the checkout */
#define STRIPE_RETRIES 2               /* every call carries an Idempotency-Key or is a GET */
#define STRIPE_METADATA_VALUE_MAX 500  /* Stripe's limit on a metadata value (characters) */
/* Checkout Sessions expire between 30 minutes and 24 hours after creation (Stripe's bounds
 * for expires_at), with a minute of margin each side for clock differences. */
#define STRIPE_EXPIRES_MIN_S (30 * 60 + 60)
#define STRIPE_EXPIRES_MAX_S (24 * 60 * 60 - 60)
/* Unix seconds Tollgate accepts from Stripe for a period boundary: after 2001-09-09 and
 * before 5138 (anything else is malformed, and the bound keeps the ms product in range). */
#define STRIPE_TIME_MIN_S INT64_C(1000000000)
#define STRIPE_TIME_MAX_S INT64_C(99999999999)

/*
 * Parses a Stripe-Signature header: exactly one t (1 to 12 digits) and 1 to STRIPE_SIG_MAX_V1
 * v1 entries of 64 lower-case hex digits; other schemes (v0, ...) are skipped; items are
 * "key=value" separated by ',' with no spaces, as Stripe writes them. A second t, an empty
 * item, a v1 that is not 64 lower-case hex digits or a header over STRIPE_SIG_HEADER_MAX
 * make it ambiguous or malformed. Returns 0 with *t, v1[0..*n_v1) set, or -1.
 */
int stripe_sig_parse(const char *h, int64_t *t, char v1[STRIPE_SIG_MAX_V1][65], size_t *n_v1);

/*
 * Verifies a webhook request with the webhook secret (NULL or "": MISCONFIGURED) and says
 * what it reports (the verify_webhook operation, synchronous): the signature on the raw
 * bytes first, then the timestamp, and only then the JSON.
 *   checkout.session.completed        payment_status paid or no_payment_required -> PAID,
 *                                     unpaid (a delayed method still processing) -> IGNORED
 *   checkout.session.async_payment_succeeded -> PAID
 *   checkout.session.async_payment_failed, checkout.session.expired -> FAILED
 *   refund.created, refund.updated    status succeeded -> REFUND of that refund, else IGNORED
 *   charge.refunded                   the newest refund in charge.refunds (API versions that
 *                                     still include it) when succeeded -> REFUND, else IGNORED
 * Subscriptions (a session in subscription mode, invoices and subscriptions that name one of
 * our orders in their metadata; one that names none is another integration's: IGNORED):
 *   checkout.session.completed        mode subscription, paid -> PAID with subscription_ref
 *   invoice.paid, invoice.payment_succeeded (both are sent for one invoice: the same report)
 *                                     billing_reason subscription_create -> PAID of the order
 *                                     (amount_paid, subscription_ref, invoice_ref, period of
 *                                     the subscription line); subscription_cycle -> SUB_PERIOD;
 *                                     subscription_update (an upgrade's proration) and the
 *                                     others -> IGNORED
 *   invoice.payment_failed            a renewal's -> SUB_PAST_DUE (the first payment's is the
 *                                     checkout's business: IGNORED)
 *   customer.subscription.updated     status canceled | incomplete_expired | unpaid ->
 *                                     SUB_ENDED, past_due -> SUB_PAST_DUE, active | trialing
 *                                     -> SUB_STATE, others (incomplete, paused) -> IGNORED
 *   customer.subscription.deleted     -> SUB_ENDED
 * The subscription's period is items.data[0].current_period_* (API 2025-03-31 and later) or
 * the top-level current_period_* (earlier versions); an invoice's subscription and metadata
 * are parent.subscription_details (2025-03-31 and later) or subscription and
 * subscription_details (earlier). The product is metadata[product], else the price id mapped
 * back through the catalog's stripe_price_id (catalog_get()), else "". Times become ms.
 *   anything else -> IGNORED
 * The event id is the event's evt_ id, except for a refund: the refund's own id (re_...),
 * the same in every event that tells of it, so that it is taken once.
 */
void stripe_pay_verify(const char *secret, const struct pay_webhook_req *req, struct pay_webhook_res *res);

/* The fields of a Checkout Session that Tollgate reads. */
struct stripe_session {
    char id[TG_PROVIDER_REF_MAX];             /* cs_... */
    char url[STRIPE_URL_MAX + 1];             /* "" when absent or null */
    char status[16];                          /* open | complete | expired */
    char payment_status[24];                  /* paid | unpaid | no_payment_required */
    char order_id[TG_ID_MAX];                 /* client_reference_id / metadata[order_id] when they
                                                 name one of our orders, else "" */
    int64_t amount_total;                     /* -1 when null */
    char currency[4];                         /* upper-case, "" when null */
    char payment_intent[TG_PROVIDER_REF_MAX]; /* pi_..., "" when null */
    char mode[16];                            /* payment | subscription | setup, "" when absent */
    char subscription[TG_PROVIDER_REF_MAX];   /* sub_..., "" when null */
    char invoice[TG_PROVIDER_REF_MAX];        /* in_... (subscription mode), "" when null */
};

/*
 * Parses a Checkout Session (an API answer, or data.object of an event) from JSON text.
 * Bounds every field and refuses malformed ones (an id with the wrong prefix or characters, a
 * currency that is not three lower-case letters, a negative amount, client_reference_id and
 * metadata[order_id] naming different orders). Returns 0, or -1 with *s zeroed.
 */
int stripe_session_parse(const char *body, size_t len, struct stripe_session *s);

/*
 * The form body of the Checkout Session create call for req (caller frees): payment mode for a
 * pack; subscription mode when req->interval is set (a recurring price: the catalog's
 * stripe_price_id, else price_data with recurring[interval], and subscription_data[metadata]
 * naming our order and product). NULL when the request cannot be expressed (amount not
 * positive, currency not three letters, a URL missing, an interval other than month/year).
 */
char *stripe_checkout_form(const struct pay_checkout_req *req);

/* The fields of a Subscription object that Tollgate reads (an API answer, or data.object of
 * a customer.subscription.* event). Times in ms, 0 when absent. */
struct stripe_subscription {
    char id[TG_PROVIDER_REF_MAX];             /* sub_... */
    char status[24];                          /* active | past_due | canceled | ... */
    int cancel_at_period_end;                 /* 1 also when cancel_at is the period's end */
    int64_t period_start, period_end;         /* items.data[0].current_period_*, else top-level */
    char item_id[TG_PROVIDER_REF_MAX];        /* items.data[0].id (si_...), "" when absent */
    char price_id[TG_PROVIDER_REF_MAX];       /* items.data[0].price.id, "" when absent */
    char stripe_product[TG_PROVIDER_REF_MAX]; /* items.data[0].price.product (prod_... or a
                                                 custom id), "" when absent */
    char currency[4];                         /* upper-case, "" when absent */
    char order_id[TG_ID_MAX];                 /* metadata[order_id] when one of our ids, else "" */
    char product[TG_PRODUCT_MAX];             /* metadata[product], else the catalog product of
                                                 price_id, else "" */
    int ours;                                 /* metadata names one of our orders */
};

/*
 * Parses a Subscription object from JSON text, bounding and checking every field it reads
 * (ids by prefix and characters, times within STRIPE_TIME_*_S, a lower-case currency).
 * Returns 0, or -1 with *s zeroed.
 */
int stripe_subscription_parse(const char *body, size_t len, struct stripe_subscription *s);

/*
 * The form body of a subscription update (POST /v1/subscriptions/{id}) for req (caller
 * frees): CANCEL / RESUME set cancel_at_period_end; CHANGE replaces item item_id's price
 * (the catalog's stripe_price_id, else price_data on stripe_product) with the proration
 * req->prorate_now asks for, and records our product in metadata. NULL when req cannot be
 * expressed (CANCEL_NOW, which is a DELETE without a body; a CHANGE without an item, a
 * product, a positive amount, a currency or a month/year interval).
 */
char *stripe_sub_form(const struct pay_sub_req *req, const char *item_id, const char *stripe_product);

/*
 * Reads an Invoice (an API answer) for its id and the payment intent that paid it: the
 * top-level payment_intent (API versions before 2025-03-31), else the first paid entry of the
 * expanded payments list of type payment_intent. Returns 0 with id set and pi set or "" (not
 * paid by a payment intent), or -1 with both "" (malformed).
 */
int stripe_invoice_pi_parse(const char *body, size_t len, char id[TG_PROVIDER_REF_MAX], char pi[TG_PROVIDER_REF_MAX]);

/* The form body of the refund create call (caller frees). */
char *stripe_refund_form(const struct pay_refund_req *req, const char *payment_intent);

/*
 * Classifies a non-2xx API answer: 401/403 MISCONFIGURED, 429 and 5xx UNAVAILABLE, 404
 * NOTFOUND, 402 and card/refund refusals DECLINED, other 4xx INVALID. reason gets
 * "stripe_<error code>" (or "http_<status>"), made of [a-z0-9_] only.
 */
enum pay_rc stripe_error_rc(long status, const char *body, size_t len, char reason[64]);

#endif
