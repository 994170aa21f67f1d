/*
 * audit.h - the audit log (admin actions, security events): how rows are made and the
 * fire-and-forget writes of security events.
 *
 * Rows that record an action are written in the action's own transaction (admin
 * adjustments, API keys, user changes). Security events that are not part of a change - a
 * failed login, a refresh token presented twice - are written on their own: the answer does
 * not wait for them, and one that cannot be written (disk full) is counted, logged and
 * dropped rather than failing the request (tollgate_audit_dropped_total in /metrics).
 */
#ifndef TG_DOMAIN_AUDIT_H
#define TG_DOMAIN_AUDIT_H

#include <stdint.h>

#include "core/types.h"

struct store_exec;

/* Where a change came from, for its audit row: copied, so that it outlives the request. */
struct audit_origin {
    char ip[64];
    char request_id[TG_ID_MAX];
};
/* Copies ip and request_id (NULL becomes "") into o. */
void audit_origin_set(struct audit_origin *o, const char *ip, const char *request_id);

/*
 * Fills e with a new "aud_" id and the given fields (NULL strings become ""; each is cut
 * to its field: they are ids, names and addresses the caller has already bounded).
 * details_json is borrowed (a JSON object text, or NULL for "{}").
 */
void audit_entry_fill(struct audit_entry *e, const char *actor_id, const char *action,
                      const char *target_type, const char *target_id, const char *ip, const char *request_id,
                      const char *details_json, int64_t now_ms);

/*
 * Writes a security event on its own (see above). Everything is copied. then(arg), when not
 * NULL, runs once the row is written or dropped - so that the answer to the request it
 * records comes after it (an operator reading the log after the answer finds the row) -
 * but never fails because of it.
 */
void audit_event(struct store_exec *ex, const char *actor_id, const char *action, const char *target_type,
                 const char *target_id, const char *ip, const char *request_id, const char *details_json,
                 int64_t now_ms, void (*then)(void *arg), void *arg);

/* Security events that could not be written since start. */
uint64_t audit_dropped_count(void);

#endif
