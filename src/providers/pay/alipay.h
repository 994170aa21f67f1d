/*
 * alipay.h - Alipay through the OpenAPI gateway (PROVIDERS.md section 3): page pay (PC web),
 * wap pay (mobile web), precreate (a QR code), the trade query, refunds and the asynchronous
 * notification (异步通知).
 *
 * Configuration (read when an operation runs): TG_ALIPAY_APP_ID, TG_ALIPAY_PRIVATE_KEY_FILE
 * (the app private key, PKCS#8 or PKCS#1 PEM: it signs our requests), TG_ALIPAY_PUBLIC_KEY_FILE
 * (the *Alipay* public key of the app, "-----BEGIN PUBLIC KEY-----": it verifies Alipay's
 * answers and notifications), TG_ALIPAY_GATEWAY (https://openapi.alipay.com/gateway.do).
 * The key files are read the first time an operation needs them and kept for the life of the
 * process (one small local read; alipay_pay_load_keys() reads them at start-up instead).
 *
 * Requests (section 3.2): every parameter sent except `sign`, empty ones left out, sorted by
 * key in byte order, joined as key=value with '&' on the raw (not URL-encoded) values, signed
 * with RSASSA-PKCS1-v1_5 SHA-256 under the app private key, base64. Page and wap pay are a
 * GET URL to the gateway that the browser opens ({"url": ...}); precreate, query and refund
 * are a POST of the same parameters form-encoded to the gateway.
 *
 * Answers: {"<method with '.' as '_'>_response":{...},"sign":"..."} (or "error_response").
 * The signature covers the exact bytes of the response object as received, which is what is
 * verified (never a re-serialization). Only a signed answer is believed for what it says
 * about a payment; an unsigned one can only make an operation fail.
 *
 * Notifications: a form-encoded POST. The signature covers every parameter except `sign`
 * and `sign_type`, empty ones left out, sorted, on the URL-decoded values, verified with the
 * Alipay public key before anything in it is read. A parameter given twice is refused.
 * Alipay expects the body `success` (text/plain) when handled; anything else makes it
 * deliver the notification again (about 8 times over 25 hours).
 *
 * Notifications carry no delivery time Tollgate can bound (Alipay retries over a day): a
 * replayed notification is harmless because its notify_id is the event id (de-duplicated by
 * the inbox) and an order is paid once.
 */
#ifndef TG_PROVIDERS_PAY_ALIPAY_H
#define TG_PROVIDERS_PAY_ALIPAY_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "providers/pay/pay.h"

struct rsa_key;

extern const struct pay_provider pay_alipay;

/* Bounds on what Alipay sends us. A notification body is a few hundred bytes to 2 KiB
 * (fund_bill_list, subject and body are the long fields); answers are smaller still. */
#define ALIPAY_NOTIFY_MAX 32768
#define ALIPAY_ANSWER_MAX 65536
#define ALIPAY_PARAMS_MAX 64   /* parameters in a notification (about 30 are documented) */
#define ALIPAY_KEY_MAX 64      /* bytes of a parameter name */
#define ALIPAY_VALUE_MAX 8192  /* bytes of a decoded parameter value */
#define ALIPAY_SUBJECT_MAX 256 /* subject: 256 characters at Alipay; we count bytes */
#define ALIPAY_REASON_MAX 256  /* refund_reason */
#define ALIPAY_QR_MAX 1024     /* a qr_code URL (https://qr.alipay.com/...) */
#define ALIPAY_CALL_TIMEOUT_MS 8000
/* A QR checkout keeps the buyer waiting: a shorter wait and one retry (about 10 s at worst)
 * before the order goes to the region's next provider. */
#define ALIPAY_CHECKOUT_TIMEOUT_MS 5000
#define ALIPAY_CHECKOUT_RETRIES 1
#define ALIPAY_CALL_RETRIES 2 /* for calls Alipay makes idempotent (out_trade_no, out_request_no) */

/* One parameter (both strings owned by the set). */
struct alipay_param {
    char *key;
    char *value;
};

/* A set of parameters: a request being built or a notification parsed. */
struct alipay_params {
    struct alipay_param p[ALIPAY_PARAMS_MAX];
    size_t n;
};

/* Adds key=value (both copied). Returns 0, or -1 when the set is full or key is already in it. */
int alipay_params_add(struct alipay_params *ps, const char *key, const char *value);
/* The value of key, or NULL. */
const char *alipay_params_get(const struct alipay_params *ps, const char *key);
/* Frees the strings and empties the set. */
void alipay_params_free(struct alipay_params *ps);

/*
 * Parses an application/x-www-form-urlencoded body (len bytes, at most ALIPAY_NOTIFY_MAX)
 * into ps (empty on entry), decoding '+' and %XX. Refused (-1, ps left empty): an empty
 * body, a pair without '=', an empty name, a name that is not 1..ALIPAY_KEY_MAX of
 * [A-Za-z0-9_], a bad escape or a NUL byte, a value over ALIPAY_VALUE_MAX, more than
 * ALIPAY_PARAMS_MAX pairs, and a name given twice (which of two values was signed is
 * ambiguous). Returns 0.
 */
int alipay_form_parse(const char *body, size_t len, struct alipay_params *ps);

/*
 * The text Alipay signs over ps: every parameter but `sign` (and `sign_type` when notify is
 * 1: the notification rule, rsaCheckV1), empty values left out, sorted by name in byte
 * order, "k=v" joined with '&', raw values. Returns a new string (caller frees).
 */
char *alipay_sign_content(const struct alipay_params *ps, int notify);

/* base64 of the RSA2 signature of content under the private key k, or NULL when k cannot
 * sign (caller frees). */
char *alipay_sign_b64(const struct rsa_key *k, const char *content);

/* 1 when sig_b64 (strict padded base64) is k's RSA2 signature of the len bytes at msg. */
int alipay_verify_b64(const struct rsa_key *k, const void *msg, size_t len, const char *sig_b64);

/* "yyyy-MM-dd HH:mm:ss" in Beijing time (UTC+8, no daylight saving since 1991) of ms since
 * the epoch, into out (20 bytes). Returns out. */
char *alipay_time(int64_t ms, char out[20]);

/*
 * Verifies a notification (raw body) with the Alipay public key pub and reads it for the
 * app app_id. res->rc:
 *   PAY_OK: res->ev is what it reports - PAID (TRADE_SUCCESS, TRADE_FINISHED), FAILED
 *     (TRADE_CLOSED without a refund), or REFUND for a refund notification (out_biz_no, the
 *     refund's out_request_no: ev.refund_id when it is one of ours, "rfd_...", else "" for a
 *     refund made in Alipay's dashboard; ev.provider_refund_id "<trade_no>:<out_biz_no>").
 *     A REFUND's ev.amount is 0: Alipay reports the total refunded so far (refund_fee), not
 *     this refund's amount - the caller asks alipay.trade.fastpay.refund.query for it;
 *   PAY_IGNORED: authentic, nothing to do (WAIT_BUYER_PAY, an unknown status, a refund
 *     notification without a usable out_biz_no);
 *   PAY_INVALID: forged, tampered, malformed, ambiguous, another app's, or not RSA2/UTF-8.
 */
void alipay_notify_check(const char *body, size_t len, const struct rsa_key *pub, const char *app_id,
                         struct pay_webhook_res *res);

/*
 * Opens a gateway answer (len bytes) to method ("alipay.trade.query"): finds the response
 * object ("alipay_trade_query_response", else "error_response") and the "sign" member at the
 * top level, and verifies sign with pub over the exact bytes of that object. On PAY_OK *resp
 * is the parsed response object (caller json_decref()s) and *signed_ is 1 when a signature
 * was present and valid, 0 when the answer carried none. A signature that does not verify is
 * PAY_MISCONFIGURED "response_signature_invalid" (most often TG_ALIPAY_PUBLIC_KEY_FILE holds
 * the app's own public key instead of Alipay's); anything unreadable (not JSON, duplicate
 * names, no response object) is PAY_UNAVAILABLE "bad_answer". reason gets the short reason.
 */
enum pay_rc alipay_answer_open(const char *body, size_t len, const char *method, const struct rsa_key *pub,
                               json_t **resp, int *signed_, char reason[64]);

/*
 * What an answer's code says when it is not "10000": PAY_MISCONFIGURED for our app's
 * problems (20001, 40006, and 40002 with an isv.invalid-signature / invalid-app-id /
 * insufficient-isv-permissions sub_code), PAY_UNAVAILABLE for 20000 and ACQ.SYSTEM_ERROR,
 * PAY_INVALID for other 40001/40002, PAY_DECLINED for other 40004. reason is "alipay_<code>"
 * or the sub_code (bounded). Used by every operation; query and refund look at particular
 * sub_codes first.
 */
enum pay_rc alipay_code_rc(const char *code, const char *sub_code, char reason[64]);

/* Reads the key files now (blocking: at start-up). Returns 0, or -1 with *err set (caller
 * frees) naming the key that could not be loaded. Not configured is not an error. */
int alipay_pay_load_keys(char **err);

#endif
