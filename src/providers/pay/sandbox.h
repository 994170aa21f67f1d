/*
 * sandbox.h - the sandbox payment provider: a checkout page served by Tollgate itself
 * (/sandbox/checkout/{order}) with Pay and Fail buttons, so that a newcomer buys credits with
 * no account anywhere (DESIGN section 9). On while TG_SANDBOX is on.
 *
 * It behaves like a real provider where it matters: its notifications are JSON signed like
 * Stripe's (header `Tollgate-Sandbox-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 over
 * "<t>.<raw body>">`, 300 s tolerance) with TG_SANDBOX_WEBHOOK_SECRET (else a key derived
 * from the server's secret), and they go through the same notification path as every other
 * provider's - verification included.
 *
 * Body: {"id":"sbx_evt_...","type":"payment.succeeded"|"payment.failed"|"refund.succeeded",
 *        "order_id","amount","currency","refund_id"?,"created"}
 */
#ifndef TG_PROVIDERS_PAY_SANDBOX_H
#define TG_PROVIDERS_PAY_SANDBOX_H

#include <stddef.h>
#include <stdint.h>

#include "core/types.h"
#include "providers/pay/pay.h"

extern const struct pay_provider pay_sandbox;

#define SANDBOX_PAY_TOLERANCE_S 300

/*
 * A signed notification of `type` for order o (amount and currency as the order's; refund_id
 * and amount for "refund.succeeded"), at now_ms. *body and *signature receive new strings
 * (caller frees). Returns 0, or -1 when type is unknown.
 */
int sandbox_pay_notification(const struct order *o, const char *type, int64_t amount, const char *refund_id,
                             int64_t now_ms, char **body, char **signature);

/* The signature header value for body at unix time t (tests, and the function above). */
char *sandbox_pay_sign(const char *body, size_t len, int64_t t);

/* Verifies a notification and fills *res (the verify_webhook operation, synchronous). */
void sandbox_pay_verify(const struct pay_webhook_req *req, struct pay_webhook_res *res);

#endif
