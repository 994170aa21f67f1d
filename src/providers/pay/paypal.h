/*
 * paypal.h - the PayPal payment provider: REST Orders v2 (PROVIDERS.md section 4).
 *
 *   checkout  POST /v2/checkout/orders (intent CAPTURE, custom_id = invoice_id = our order
 *             id, PayPal-Request-Id = our order id) -> provider_ref = PayPal's order id,
 *             checkout {"url": the "payer-action" (or legacy "approve") link}.
 *   query     GET /v2/checkout/orders/{id}; an APPROVED order is captured here
 *             (POST .../capture, PayPal-Request-Id "cap-" + our order id): PayPal takes the
 *             money only when we capture, which the browser's return or the pending-order
 *             job makes happen.
 *   refund    GET the order for its capture, then POST /v2/payments/captures/{id}/refund
 *             (PayPal-Request-Id = our refund id, custom_id = our refund id, invoice_id = our
 *             order id).
 *   webhooks  verified by PayPal itself: POST /v1/notifications/verify-webhook-signature
 *             with the five PAYPAL-* transmission headers, TG_PAYPAL_WEBHOOK_ID and the raw
 *             event bytes spliced in as webhook_event (never re-serialised). A transmission
 *             time more than PAYPAL_TOLERANCE_S away from our clock is refused first.
 *
 * Every call carries an OAuth2 client-credentials token (POST /v1/oauth2/token, Basic
 * client_id:secret) from a process-wide cache, refreshed shortly before it expires and once
 * more when an API call answers 401.
 *
 * Configuration: TG_PAYPAL_CLIENT_ID, TG_PAYPAL_CLIENT_SECRET, TG_PAYPAL_WEBHOOK_ID,
 * TG_PAYPAL_API_BASE (docs/payments/paypal.md).
 *
 * The pure pieces below (bodies we send, answers we read) are exposed for the unit tests and
 * the fuzz target.
 */
#ifndef TG_PROVIDERS_PAY_PAYPAL_H
#define TG_PROVIDERS_PAY_PAYPAL_H

#include <stddef.h>
#include <stdint.h>

#include "core/types.h"
#include "providers/pay/pay.h"

extern const struct pay_provider pay_paypal;

/* A transmission time further than this from our clock is refused (PayPal mandates none;
 * PROVIDERS.md 4.4 suggests 5 minutes, the tolerance Stripe uses). */
#define PAYPAL_TOLERANCE_S 300
/* Largest notification body accepted (PayPal's events are a few KB; an order with many items
 * is larger, and a refused one is lost after PayPal's retries). */
#define PAYPAL_EVENT_MAX (256 * 1024)
/* Largest answer read from PayPal's API. */
#define PAYPAL_ANSWER_MAX (256 * 1024)
/* Largest access token kept (PayPal's are about 100 characters). */
#define PAYPAL_TOKEN_MAX 2048
/* Bounds of the transmission headers. */
#define PAYPAL_TRANSMISSION_ID_MAX 64
#define PAYPAL_TRANSMISSION_TIME_MAX 40
#define PAYPAL_TRANSMISSION_SIG_MAX 1024 /* base64 of an RSA-8192 signature is 1368: 4096 bits fit */
#define PAYPAL_CERT_URL_MAX 512
/* PayPal's own limits on fields we fill (Orders v2 / Payments v2 reference). */
#define PAYPAL_DESCRIPTION_MAX 127
#define PAYPAL_NOTE_MAX 255
#define PAYPAL_LINK_MAX 2048

/* The transmission headers of a notification, checked and copied. */
struct paypal_transmission {
    char id[PAYPAL_TRANSMISSION_ID_MAX + 1];
    char time[PAYPAL_TRANSMISSION_TIME_MAX + 1];
    char sig[PAYPAL_TRANSMISSION_SIG_MAX + 1];
    char cert_url[PAYPAL_CERT_URL_MAX + 1];
    char auth_algo[16];
};

/*
 * Reads and checks the five PAYPAL-* headers of req: each present once, within its bounds
 * and alphabet; PAYPAL-AUTH-ALGO exactly "SHA256withRSA"; PAYPAL-CERT-URL an https URL on
 * paypal.com or a subdomain; PAYPAL-TRANSMISSION-TIME RFC 3339 within PAYPAL_TOLERANCE_S of
 * req->now_ms. Returns 0, or -1 with reason set ("transmission_headers_missing",
 * "transmission_header_malformed", "cert_url_not_paypal", "timestamp_out_of_tolerance").
 */
int paypal_transmission_get(const struct pay_webhook_req *req, struct paypal_transmission *t,
                            char reason[64]);

/*
 * The body of POST /v1/notifications/verify-webhook-signature: the transmission fields and
 * webhook_id as JSON strings, and the event's raw bytes as webhook_event exactly as received.
 * event must be one JSON object (the caller checked it: spliced text is never trusted to be
 * JSON). Returns a new string (caller frees).
 */
char *paypal_verify_body(const struct paypal_transmission *t, const char *webhook_id, const char *event,
                         size_t len);

/* 1 when the answer says "SUCCESS", 0 when it says anything else, -1 when it is not an
 * answer of that call ({"verification_status": string}). */
int paypal_verify_status(const char *body, size_t len);

/*
 * Says what a verified event reports (res->rc OK with res->ev, IGNORED, or INVALID for a
 * malformed one): PAYMENT.CAPTURE.COMPLETED -> PAID, PAYMENT.CAPTURE.DENIED -> FAILED,
 * PAYMENT.CAPTURE.REFUNDED -> REFUND; every other type IGNORED. Fills res entirely.
 */
void paypal_parse_event(const char *body, size_t len, struct pay_webhook_res *res);

/* The body of POST /v2/checkout/orders for req, or NULL (reason set) when a field cannot be
 * sent (caller frees). */
char *paypal_order_body(const struct pay_checkout_req *req, char reason[64]);

/* Reads the answer to POST /v2/checkout/orders into res (rc OK with provider_ref and
 * checkout, or UNAVAILABLE "bad_answer"). */
void paypal_parse_created(const char *body, size_t len, struct pay_checkout_res *res);

/*
 * Reads an order (GET /v2/checkout/orders/{id}, or the answer of its capture) for our order
 * o into res: state PAID with ev (event_id "query:" + capture id), PENDING or CLOSED, or rc
 * UNAVAILABLE when the answer is malformed or belongs to another order. *status receives the
 * order's status ("APPROVED" means: capture it), capture_id the completed capture's id
 * ("" when none).
 */
void paypal_parse_order(const char *body, size_t len, const struct order *o, struct pay_query_res *res,
                        char status[32], char capture_id[TG_PROVIDER_REF_MAX]);

/* The body of POST /v2/payments/captures/{id}/refund, or NULL with reason (caller frees). */
char *paypal_refund_body(const struct pay_refund_req *req, char reason[64]);

/* Reads the answer to a refund into res (OK, pending when PayPal says PENDING; DECLINED for
 * FAILED or CANCELLED; UNAVAILABLE "bad_answer"). */
void paypal_parse_refund(const char *body, size_t len, struct pay_refund_res *res);

/* Reads a token answer: 0 with the token copied into tok and *expires_in, or -1. */
int paypal_parse_token(const char *body, size_t len, char tok[PAYPAL_TOKEN_MAX + 1], int64_t *expires_in);

/* The first details[].issue of a REST error answer ("ORDER_ALREADY_CAPTURED"), or "" . */
void paypal_error_issue(const char *body, size_t len, char issue[64]);

/* Forgets the cached access token (tests). */
void paypal_token_reset(void);

#endif
