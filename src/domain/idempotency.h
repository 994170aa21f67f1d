/*
 * idempotency.h - Idempotency-Key for requests that create money or work (DESIGN section 8).
 *
 * One mechanism for every such endpoint (admin adjustments now; orders, tasks and refunds
 * later): the key is scoped to the caller (a key of one user can never collide with
 * another's), the request is identified by a SHA-256 over its method, route and body, and
 * the first answer (status and JSON body) is stored in the same transaction as the change
 * it describes. Inside that transaction, before changing anything:
 *   - no record: proceed, then idem_save() the answer;
 *   - a record with the same request hash: replay its answer, change nothing;
 *   - a record with another request hash: 409 idempotency_key_reused, change nothing.
 * Because writes are serialized by the writer, two concurrent requests with one key cannot
 * both proceed. Only successful answers are stored: a refused request (insufficient
 * credits, say) may be retried with the same key once the cause is gone.
 */
#ifndef TG_DOMAIN_IDEMPOTENCY_H
#define TG_DOMAIN_IDEMPOTENCY_H

#include <stddef.h>
#include <stdint.h>

#include "core/types.h"

struct store;

/* Longest key accepted: 1..IDEM_KEY_MAX visible ASCII characters. */
#define IDEM_KEY_MAX TG_REF_MAX

struct idem {
    char scope[TG_ID_MAX]; /* the caller's user id */
    char key[IDEM_KEY_MAX + 1];
    unsigned char request_hash[32];
    /* outcomes of idem_check_tx */
    int replay;   /* the first answer is in status/body */
    int mismatch; /* the key was used for another request */
    int status;
    char *body; /* heap; released by idem_reset / idem_clear */
};

/* 1 if key is 1..IDEM_KEY_MAX visible ASCII characters (it is echoed in logs and stored). */
int idem_key_valid(const char *key);

/* Fills i for (scope, key) and the request's method, route pattern and body. */
void idem_init(struct idem *i, const char *scope, const char *key, const char *method, const char *route,
               const char *body, size_t body_len);

/* Inside a write transaction: looks the key up and sets replay / mismatch (with the stored
 * answer on replay). Rewrites its outcomes on every call (run() may be repeated). */
enum store_rc idem_check_tx(struct store *s, struct idem *i);

/* Inside the same transaction, after the change: stores the answer. */
enum store_rc idem_save_tx(struct store *s, const struct idem *i, int status, const char *body,
                           int64_t now_ms);

/* Inside a transaction: replaces the stored answer (a request answered in two steps, like
 * an order whose checkout is created between two transactions, first stores a marker). */
enum store_rc idem_replace_tx(struct store *s, const struct idem *i, int status, const char *body, int64_t now_ms);
/* Inside a transaction: forgets the key, so that a request that finally failed may be
 * retried with it. */
enum store_rc idem_forget_tx(struct store *s, const struct idem *i);

/* Copies src's key and hash into dst (outcomes cleared), for a context that outlives src. */
void idem_copy(struct idem *dst, const struct idem *src);
/* Releases the stored answer and clears the outcomes. */
void idem_clear(struct idem *i);

#endif
