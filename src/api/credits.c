/*
 * credits.c - GET /api/v1/credits (balance by bucket) and GET /api/v1/credits/ledger.
 *
 * GET /api/v1/credits is the benchmarked hot path (DESIGN section 1): one point read and a
 * reply formatted by hand into a stack buffer, no JSON tree, no allocation.
 */
#include "api/api.h"

#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/timeutil.h"
#include "domain/ledger.h"

void api_credits_get(struct req *r)
{
    struct wallet w;
    char buf[192]; /* 3 x 20 digits + a timestamp + keys: ~150 bytes */
    int n;

    enum store_rc rc = store_wallet_get(req_store(r), req_principal(r)->user_id, &w);
    if (rc != STORE_OK) {
        api_reply_store(r, rc, "wallet_get");
        return;
    }
    n = api_credits_format(&w, buf, sizeof buf);
    if (n < 0) {
        log_event(LOG_ERROR, "credits_format_failed", "request_id", req_id(r), "user_id", w.user_id, NULL);
        res_error(r, TG_E_INTERNAL, NULL, NULL);
        return;
    }
    res_json_text(r, 200, buf, (size_t)n);
}

static json_t *ledger_entry_json(const struct ledger_entry *e)
{
    char ts[32];
    return json_pack("{s:s, s:s, s:I, s:I, s:s, s:s, s:s, s:o, s:s}", "id", e->id, "bucket",
                     ledger_bucket_name(e->bucket), "delta", (json_int_t)e->delta, "balance_after",
                     (json_int_t)e->balance_after, "kind", ledger_kind_name(e->kind), "ref_type", e->ref_type,
                     "ref_id", e->ref_id, "note", e->note[0] ? json_string(e->note) : json_null(),
                     "created_at", time_rfc3339(e->created_at, ts));
}

void api_credits_ledger(struct req *r)
{
    struct ledger_entry *entries = NULL;
    size_t limit, n = 0;
    const char *cursor;

    if (api_page_params_or_reply(r, "led", &limit, &cursor) != 0)
        return;
    /* One more than asked for tells whether another page exists without a second query. */
    enum store_rc rc =
        store_ledger_list(req_store(r), req_principal(r)->user_id, cursor, limit + 1, &entries, &n);
    if (rc != STORE_OK) {
        api_reply_store(r, rc == STORE_NOTFOUND ? STORE_ERROR : rc, "ledger_list");
        goto cleanup;
    }
    json_t *data = json_array();
    size_t shown = n > limit ? limit : n;
    for (size_t i = 0; i < shown; i++) {
        json_t *item = ledger_entry_json(&entries[i]);
        if (item == NULL) {
            /* Only invalid UTF-8 in a stored note could do this; the API never writes one. */
            json_decref(data);
            log_event(LOG_ERROR, "ledger_entry_json_failed", "request_id", req_id(r), "entry_id",
                      entries[i].id, NULL);
            res_error(r, TG_E_INTERNAL, NULL, NULL);
            goto cleanup;
        }
        json_array_append_new(data, item);
    }
    json_t *next = n > limit ? json_string(entries[limit - 1].id) : json_null();
    res_json(r, 200, json_pack("{s:o, s:o}", "data", data, "next_cursor", next));

cleanup:
    free(entries);
}
