/*
 * wechatpay.h - WeChat Pay APIv3 for direct merchants (PROVIDERS.md section 2).
 *
 * Checkout: Native (QR code, the default), JSAPI (inside WeChat, the buyer's openid) and H5
 * (a phone's browser), chosen by the order's channel ("native" | "jsapi" | "h5"). WeChat Pay
 * knows the payment by our order id (out_trade_no), so provider_ref stays "".
 *
 * Every request is signed with the merchant's API key (TG_WECHATPAY_PRIVATE_KEY_FILE):
 *   Authorization: WECHATPAY2-SHA256-RSA2048 mchid="..",nonce_str="..",signature="..",
 *                  timestamp="..",serial_no=".."
 * over "METHOD\nPATH?QUERY\nTIMESTAMP\nNONCE\nBODY\n". Every 2xx answer and every
 * notification is verified with a platform key chosen by its Wechatpay-Serial header over
 * "TIMESTAMP\nNONCE\nBODY\n" (300 s tolerance) before anything in it is believed:
 *   - public-key mode: TG_WECHATPAY_PLATFORM_PUBLIC_KEY_FILE + TG_WECHATPAY_PLATFORM_KEY_ID
 *     ("PUB_KEY_ID_...");
 *   - certificate mode: platform certificates from GET /v3/certificates (each one
 *     AES-256-GCM encrypted with the APIv3 key, which is what makes it trustworthy), cached
 *     for the process; an unknown serial makes one download, at most one a minute.
 *     TG_WECHATPAY_PLATFORM_CERT_FILE preloads one certificate.
 * Both may be configured at once (WeChat Pay's migration from certificates to public keys).
 *
 * Notifications (TRANSACTION.SUCCESS, REFUND.*) carry an AES-256-GCM encrypted `resource`,
 * decrypted with TG_WECHATPAY_APIV3_KEY once the signature holds.
 */
#ifndef TG_PROVIDERS_PAY_WECHATPAY_H
#define TG_PROVIDERS_PAY_WECHATPAY_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/rsa.h"
#include "providers/pay/pay.h"

extern const struct pay_provider pay_wechatpay;

/* Platform signatures older or newer than this are refused (wechatpay-go consts.FiveMinute). */
#define WECHATPAY_TOLERANCE_S 300
/* Largest notification body accepted (a real one is under 2 KiB). */
#define WECHATPAY_NOTIFY_MAX (64 * 1024)
/* Largest API answer read (a certificate list with a few certificates is under 10 KiB). */
#define WECHATPAY_ANSWER_MAX (256 * 1024)
/* At most one certificate download per this many seconds, whatever serials arrive. */
#define WECHATPAY_CERT_REFRESH_MIN_S 60
/* Platform certificates kept (WeChat Pay has one or two valid at a time). */
#define WECHATPAY_MAX_CERTS 8
/* Header bounds: an 8192-bit signature is 1368 base64 characters. */
#define WECHATPAY_SIG_B64_MAX 1400
#define WECHATPAY_NONCE_MAX 64
#define WECHATPAY_SERIAL_MAX 64
/* WeChat Pay's field limits (description string[1,127], refund reason string[1,80]). */
#define WECHATPAY_DESCRIPTION_MAX 127
#define WECHATPAY_REASON_MAX 80

/* ---- pure pieces, exposed for tests and fuzzing -------------------------------------- */

/*
 * The Authorization header value for a request, signed with k (a private key). path_query is
 * the URL's path and query ("/v3/pay/transactions/native"); body (len bytes) as sent, "" for
 * GET. Returns a new string (caller frees), or NULL when signing failed.
 */
char *wechatpay_authorization(const struct rsa_key *k, const char *mchid, const char *serial_no,
                              const char *method, const char *path_query, const char *body, size_t len,
                              int64_t timestamp, const char *nonce);

/*
 * The JSAPI parameters for WeChat's in-app payment (wx.requestPayment / WeixinJSBridge),
 * signed with k over "appId\ntimeStamp\nnonceStr\npackage\n": writes
 * {"jsapi":{"appId","timeStamp","nonceStr","package":"prepay_id=...","signType":"RSA","paySign"}}
 * into out (cap bytes). Returns 0, or -1 when signing failed or it does not fit.
 */
int wechatpay_jsapi_checkout(const struct rsa_key *k, const char *appid, const char *prepay_id,
                             int64_t timestamp, const char *nonce, char *out, size_t cap);

/* ms since epoch as RFC 3339 in China's time, "2026-11-29T16:20:00+08:00" (out >= 32). */
char *wechatpay_time(int64_t ms, char out[32]);

/*
 * The order creation body for channel ("native", "jsapi", "h5") as sent: a new string
 * (caller frees), or NULL with *why set when the request cannot be made (no openid for
 * jsapi, no client address for h5, a currency other than CNY, an unknown channel).
 */
char *wechatpay_order_body(const char *channel, const char *appid, const char *mchid,
                           const struct pay_checkout_req *req, const char **why);

/*
 * Checks the four signature headers of an answer or notification and the signature itself
 * over "ts\nnonce\nbody\n" with key (found by the caller from serial). Returns PAY_OK, or
 * PAY_INVALID with reason set (missing/malformed header, stale, bad signature).
 */
enum pay_rc wechatpay_check_headers(const char *ts, const char *nonce, const char *sig, const char *serial,
                                    int64_t now_ms, char reason[64]);
int wechatpay_verify_sig(const struct rsa_key *key, const char *ts, const char *nonce, const char *sig,
                         const char *body, size_t len);

/*
 * Reads a notification whose signature has been verified: the envelope, the encrypted
 * resource (decrypted with apiv3_key, 32 bytes) and what it reports, for merchant mchid.
 * Sets res->rc to PAY_OK (ev filled), PAY_IGNORED (authentic, nothing to do) or PAY_INVALID.
 */
void wechatpay_read_notification(const char *body, size_t len, const char *apiv3_key, const char *mchid,
                                 struct pay_webhook_res *res);

/*
 * Reads a query answer (a Transaction) for order_id of merchant mchid into res: state and,
 * when paid, ev. res->rc PAY_OK, or PAY_UNAVAILABLE when the answer is malformed or about
 * another order.
 */
void wechatpay_read_transaction(const char *body, size_t len, const char *mchid, const char *order_id,
                                struct pay_query_res *res);

/* Reads a refund answer into res (rc, pending, provider_refund_id). */
void wechatpay_read_refund(const char *body, size_t len, const char *refund_id, struct pay_refund_res *res);

/*
 * Reads a GET /v3/certificates answer: decrypts each certificate with apiv3_key and loads it.
 * Writes up to max keys and their serials (upper-case hex) to keys[] / serials[]; returns how
 * many, or -1 when the answer is malformed or one certificate does not decrypt or load
 * (caller frees the keys with rsa_key_free when it keeps none).
 */
int wechatpay_read_certificates(const char *body, size_t len, const char *apiv3_key, struct rsa_key **keys,
                                char (*serials)[RSA_SERIAL_HEX_MAX], int max);

/* Reads the key files now (the preload operation: at start-up). Returns 0, or -1 with *err
 * set (caller frees). */
int wechatpay_pay_load_keys(char **err);

/* Frees the keys and certificates cached for the process (tests, leak checkers; nothing may
 * be in flight). */
void wechatpay_pay_reset(void);

#endif
