/*
 * credits.c - GET /api/v1/credits (balance by bucket) and GET /api/v1/credits/ledger.
 *
 * GET /api/v1/credits is the benchmarked hot path (DESIGN section 1): one point read (inline
 * on SQLite) and a reply formatted by hand into a stack buffer, no JSON tree.
 */
#include "api/api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "domain/ledger.h"

struct credits_get {
    struct api_call base;
    char user_id[TG_ID_MAX];
    struct wallet w;
};

static enum store_rc credits_get_run(struct store *s, struct store_call *c)
{
    struct credits_get *g = (struct credits_get *)c;
    return store_wallet_get(s, g->user_id, &g->w);
}

static void credits_get_reply(struct req *r, struct api_call *c)
{
    struct credits_get *g = (struct credits_get *)c;
    char buf[192]; /* 3 x 20 digits + a timestamp + keys: ~150 bytes */

    if (c->call.rc != STORE_OK) {
        api_reply_store(r, c->call.rc, "wallet_get");
        return;
    }
    int n = api_credits_format(&g->w, time_now_ms(), buf, sizeof buf);
    if (n < 0) {
        log_event(LOG_ERROR, "credits_format_failed", "request_id", req_id(r), "user_id", g->w.user_id, NULL);
        res_error(r, TG_E_INTERNAL, NULL, NULL);
        return;
    }
    res_json_text(r, 200, buf, (size_t)n);
}

void api_credits_get(struct req *r)
{
    struct credits_get *g = api_call_new(r, sizeof *g, STORE_CALL_READ);
    memcpy(g->user_id, req_principal(r)->user_id, sizeof g->user_id);
    api_submit(r, &g->base, credits_get_run, credits_get_reply, NULL);
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

struct credits_ledger {
    struct api_call base;
    char user_id[TG_ID_MAX];
    char cursor[TG_ID_MAX];
    size_t limit;
    struct ledger_entry *entries;
    size_t n;
};

static enum store_rc credits_ledger_run(struct store *s, struct store_call *c)
{
    struct credits_ledger *l = (struct credits_ledger *)c;
    free(l->entries);
    l->entries = NULL;
    l->n = 0;
    /* One more than asked for tells whether another page exists without a second query. */
    return store_ledger_list(s, l->user_id, l->cursor[0] ? l->cursor : NULL, l->limit + 1, &l->entries,
                             &l->n);
}

static void credits_ledger_reply(struct req *r, struct api_call *c)
{
    struct credits_ledger *l = (struct credits_ledger *)c;
    if (c->call.rc != STORE_OK) {
        api_reply_store(r, c->call.rc == STORE_NOTFOUND ? STORE_ERROR : c->call.rc, "ledger_list");
        return;
    }
    json_t *data = json_array();
    size_t shown = l->n > l->limit ? l->limit : l->n;
    for (size_t i = 0; i < shown; i++) {
        json_t *item = ledger_entry_json(&l->entries[i]);
        if (item == NULL) {
            /* Only invalid UTF-8 in a stored note could do this; the API never writes one. */
            json_decref(data);
            log_event(LOG_ERROR, "ledger_entry_json_failed", "request_id", req_id(r), "entry_id",
                      l->entries[i].id, NULL);
            res_error(r, TG_E_INTERNAL, NULL, NULL);
            return;
        }
        json_array_append_new(data, item);
    }
    json_t *next = l->n > l->limit ? json_string(l->entries[l->limit - 1].id) : json_null();
    res_json(r, 200, json_pack("{s:o, s:o}", "data", data, "next_cursor", next));
}

static void credits_ledger_cleanup(struct api_call *c)
{
    free(((struct credits_ledger *)c)->entries);
}

void api_credits_ledger(struct req *r)
{
    size_t limit;
    const char *cursor;

    if (api_page_params_or_reply(r, "led", &limit, &cursor) != 0)
        return;
    struct credits_ledger *l = api_call_new(r, sizeof *l, STORE_CALL_READ);
    memcpy(l->user_id, req_principal(r)->user_id, sizeof l->user_id);
    snprintf(l->cursor, sizeof l->cursor, "%s", cursor ? cursor : "");
    l->limit = limit;
    api_submit(r, &l->base, credits_ledger_run, credits_ledger_reply, credits_ledger_cleanup);
}
