/*
 * creem.h - the Creem payment provider (creem.io, a merchant of record; PROVIDERS.md section 5).
 *
 * Wire format, as creem.c speaks it:
 *   - API: TG_CREEM_API_BASE (https://api.creem.io; test mode https://test-api.creem.io),
 *     header `x-api-key: TG_CREEM_API_KEY`, JSON both ways, amounts in cents, currency ISO
 *     upper-case.
 *   - checkout: POST /v1/checkouts {"product_id": the catalog's creem_product_id,
 *     "request_id": our order id, "success_url": the order's return URL,
 *     "metadata": {"order_id": our order id}, "customer": {"email"} when known}. The price is
 *     the one set on the Creem product: the amount a notification reports is compared with
 *     the order's by the domain like any provider's. provider_ref is the checkout id (ch_...),
 *     the client gets {"url": checkout_url}. A plan (req->interval set) is sold the same way
 *     with the plan's recurring Creem product; its metadata also names the plan
 *     ({"order_id", "product"}), which the subscription Creem starts inherits.
 *   - query: GET /v1/checkouts?checkout_id=<provider_ref>; "completed" with a paid order is
 *     PAID, "expired" is CLOSED, anything else PENDING.
 *   - refund: Creem refunds a payment in full only (POST /v1/refunds {"transaction_id"}, the
 *     creem npm SDK 1.13.0 `transactions.refund`), so a refund must be for the whole amount
 *     not yet refunded (anything else is PAY_DECLINED "partial_refund_unsupported"); the
 *     transaction id is read from the checkout first. Creem's answer carries no refund id,
 *     so the transaction id stands for it (provider_refund_id), and refund.created reports
 *     the transaction id for the refund that leaves the transaction refunded in full (its
 *     own ref_... id otherwise): the notification then finds the refund made here. Partial
 *     refunds are made in Creem's dashboard and arrive as refund.created.
 *   - notifications: two signature schemes, both HMAC-SHA256 with TG_CREEM_WEBHOOK_SECRET:
 *       Standard Webhooks: `webhook-id`, `webhook-timestamp` (unix seconds, 300 s either way)
 *         and `webhook-signature: v1,<base64>` (several may be listed, space-separated), over
 *         "<id>.<timestamp>.<raw body>" with the key base64-decoded from the secret after its
 *         "whsec_" prefix;
 *       legacy: `creem-signature: <hex>` over the raw body with the secret string as it is
 *         (no timestamp: a replay is stopped only by the inbox's event id).
 *     When the three Standard Webhooks headers are present they decide, whatever
 *     creem-signature says (the creem SDK's order); only some of them is ambiguous (INVALID).
 *     Events: checkout.completed with a paid order -> PAID (with subscription_ref, and the
 *     period when its subscription entity carries it, for a recurring product);
 *     refund.created that succeeded -> REFUND; of the subscription.* events (object: the
 *     subscription entity, product mapped back to our plan through the catalog's
 *     creem_product_id):
 *       paid                 -> SUB_PERIOD (current_period_start_date/_end_date, else the last
 *                               transaction's period_start/_end; amount and currency of the
 *                               last transaction, else the product's price; invoice_ref =
 *                               last_transaction_id, else the event id)
 *       past_due, unpaid     -> SUB_PAST_DUE
 *       scheduled_cancel     -> SUB_STATE cancel_at_period_end 1
 *       canceled             -> SUB_ENDED (SUB_STATE cancel_at_period_end 1 when its status
 *                               is scheduled_cancel)
 *       expired              -> SUB_ENDED
 *       update               -> SUB_STATE (product, period end, cancel_at_period_end 1 exactly
 *                               when its status is scheduled_cancel)
 *     anything else authentic (subscription.active, .trialing, .paused, disputes) -> IGNORED.
 *     Creem wants a 200 (any body).
 *   - subscription: POST /v1/subscriptions/{id}/cancel {"mode":"scheduled","onExecute":
 *     "cancel"} (CANCEL) or {"mode":"immediate"} (CANCEL_NOW); POST .../resume, no body
 *     (RESUME: Creem resumes a subscription in scheduled_cancel); POST .../upgrade
 *     {"product_id": creem_product_id, "update_behavior": "proration-charge-immediately"
 *     (prorate_now) | "proration-none"} (CHANGE). Never retried (Creem has no idempotency key;
 *     an upgrade repeated is charged twice). Any 2xx is done; the subscription entity it
 *     answers gives period_end and cancel_at_period_end (status scheduled_cancel).
 *     404 and other 4xx are INVALID, 401/403 MISCONFIGURED, 429/5xx/network UNAVAILABLE.
 *
 * The product mapping reads the process's catalog (domain/catalog.h, catalog_get()).
 */
#ifndef TG_PROVIDERS_PAY_CREEM_H
#define TG_PROVIDERS_PAY_CREEM_H

#include <stddef.h>

#include "providers/pay/pay.h"

extern const struct pay_provider pay_creem;

/* Standard Webhooks timestamp tolerance (the creem SDK's and the standardwebhooks default). */
#define CREEM_TOLERANCE_S 300
/* Largest notification accepted: a checkout.completed with its product, customer and order
 * is a few kB; anything near this is not Creem's. */
#define CREEM_MAX_BODY (256 * 1024)

/*
 * Verifies a notification with webhook secret `secret` and fills *res (the verify_webhook
 * operation without configuration or network: tests and fuzzing). secret NULL or "" is
 * PAY_MISCONFIGURED; a secret whose base64 part does not decode is PAY_MISCONFIGURED when a
 * Standard Webhooks signature must be checked with it.
 */
void creem_pay_verify(const struct pay_webhook_req *req, const char *secret, struct pay_webhook_res *res);

#endif
