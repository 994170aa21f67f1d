/*
 * metrics.c - GET /metrics in the Prometheus text exposition format 0.0.4.
 *
 * No authentication: like most exporters it is meant to be scraped from inside the
 * network. Deployments must not expose it publicly (deploy/nginx.conf restricts it), since
 * user counts and credit totals are business data.
 *
 * The ledger totals are aggregates over whole tables, which may take far longer than the
 * ~1 ms a loop thread may block (DESIGN section 1). They are therefore computed on the
 * blocking pool through a connection of their own (the loop's belongs to the loop), and
 * the reply is assembled back on the loop.
 */
#include "api/api.h"
#include "worker/dispatcher.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/log.h"
#include "core/mem.h"
#include "domain/audit.h"
#include "domain/keypool.h"
#include "domain/ledger.h"
#include "http/server.h"
#include "net/net.h"
#include "providers/mail/mailer.h"

struct metrics_ctx {
    int ok; /* 1 when totals were read */
    struct ledger_totals totals;
};

/* Runs on the blocking pool: never touches the request or the loop's store. */
static void metrics_work(void *arg)
{
    struct metrics_ctx *ctx = arg;
    char *err = NULL;
    struct store *s = store_open(tg_cfg->database_url, &err);

    if (s == NULL) {
        log_event(LOG_ERROR, "metrics_store_open_failed", "error", err, NULL);
        free(err);
        return;
    }
    ctx->ok = store_ledger_totals(s, &ctx->totals) == STORE_OK;
    store_close(s);
}

static void metrics_header(struct sbuf *b, const char *name, const char *type, const char *help)
{
    sbuf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void metrics_ledger(struct sbuf *b, const struct ledger_totals *t)
{
    metrics_header(b, "tollgate_users", "gauge", "Registered user accounts.");
    sbuf_printf(b, "tollgate_users %" PRId64 "\n", t->users);
    metrics_header(b, "tollgate_wallets", "gauge", "Credit wallets.");
    sbuf_printf(b, "tollgate_wallets %" PRId64 "\n", t->wallets);
    metrics_header(b, "tollgate_credits_balance", "gauge", "Credits held in all wallets, by bucket.");
    sbuf_printf(b, "tollgate_credits_balance{bucket=\"plan\"} %" PRId64 "\n", t->plan_credits);
    sbuf_printf(b, "tollgate_credits_balance{bucket=\"paid\"} %" PRId64 "\n", t->paid_credits);
    /* Ledger rows are never deleted, so their count only grows: a counter. */
    metrics_header(b, "tollgate_ledger_entries_total", "counter", "Ledger entries written, by kind.");
    for (int k = 0; k < LK__COUNT; k++)
        sbuf_printf(b, "tollgate_ledger_entries_total{kind=\"%s\"} %" PRId64 "\n",
                    ledger_kind_name((enum ledger_kind)k), t->entries_by_kind[k]);
    /* Sums of signed deltas may go down (spends are negative): a gauge. */
    metrics_header(b, "tollgate_ledger_delta_sum", "gauge", "Sum of ledger deltas (credits), by kind.");
    for (int k = 0; k < LK__COUNT; k++)
        sbuf_printf(b, "tollgate_ledger_delta_sum{kind=\"%s\"} %" PRId64 "\n",
                    ledger_kind_name((enum ledger_kind)k), t->delta_by_kind[k]);
}

/* Outbound provider calls (net/net.h): finished calls by outcome, and retries. */
static void metrics_outbound(struct sbuf *b)
{
    struct net_stats st;
    net_stats_get(&st);
    metrics_header(b, "tollgate_outbound_calls_total", "counter",
                   "Outbound provider calls finished, by outcome: the answer's status class, or failed "
                   "(timeout, connection, TLS, too large, refused).");
    const struct {
        const char *outcome;
        uint64_t n;
    } rows[] = {{"2xx", st.ok_2xx}, {"3xx", st.http_3xx}, {"4xx", st.http_4xx}, {"5xx", st.http_5xx},
                {"failed", st.failed}};
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        sbuf_printf(b, "tollgate_outbound_calls_total{outcome=\"%s\"} %" PRIu64 "\n", rows[i].outcome, rows[i].n);
    metrics_header(b, "tollgate_outbound_retries_total", "counter",
                   "Outbound call attempts repeated after a connection failure, timeout, 429 or 5xx.");
    sbuf_printf(b, "tollgate_outbound_retries_total %" PRIu64 "\n", st.retries);
}

/* Mails (providers/mail/mailer.h) by transport and outcome; both transports are listed so a
 * rate over either is defined from the first scrape. */
static void metrics_mail(struct sbuf *b)
{
    struct mailer_stats st;
    mailer_stats_get(&st);
    metrics_header(b, "tollgate_mail_sent_total", "counter",
                   "Mails by transport (smtp, outbox) and outcome (sent; failed: refused, timed out, "
                   "unwritable or dropped).");
    static const char *const names[2] = {[MAILER_SMTP] = "smtp", [MAILER_OUTBOX] = "outbox"};
    for (int t = 0; t < 2; t++) {
        sbuf_printf(b, "tollgate_mail_sent_total{transport=\"%s\",outcome=\"sent\"} %" PRIu64 "\n", names[t],
                    st.sent[t]);
        sbuf_printf(b, "tollgate_mail_sent_total{transport=\"%s\",outcome=\"failed\"} %" PRIu64 "\n", names[t],
                    st.failed[t]);
    }
}

static void metrics_done(struct req *r, void *arg)
{
    struct metrics_ctx *ctx = arg;
    struct sbuf b = {0};

    if (r == NULL)
        goto cleanup;
    http_metrics_render(&b);
    metrics_header(&b, "tollgate_db_errors_total", "counter", "Failed database statements since start.");
    sbuf_printf(&b, "tollgate_db_errors_total %" PRIu64 "\n", store_error_count());
    metrics_header(&b, "tollgate_audit_dropped_total", "counter",
                   "Security events (failed logins, refresh reuse) that could not be written to the audit log.");
    sbuf_printf(&b, "tollgate_audit_dropped_total %" PRIu64 "\n", audit_dropped_count());
    metrics_header(&b, "tollgate_store_writable", "gauge",
                   "1 while the database accepts writes, 0 after a write failed for lack of space or I/O.");
    sbuf_printf(&b, "tollgate_store_writable %d\n", store_writable());
    http_writer_metrics_render(&b);
    metrics_outbound(&b);
    metrics_mail(&b);
    api_webhooks_metrics(&b);
    keypool_metrics_render(&b);
    dispatcher_metrics_render(&b);
    metrics_header(&b, "tollgate_ledger_scrape_success", "gauge",
                   "1 when the ledger totals below could be read, else 0.");
    sbuf_printf(&b, "tollgate_ledger_scrape_success %d\n", ctx->ok);
    if (ctx->ok)
        metrics_ledger(&b, &ctx->totals);
    res_text(r, 200, "text/plain; version=0.0.4; charset=utf-8", b.data ? b.data : "", b.len);

cleanup:
    sbuf_free(&b);
    free(ctx);
}

void api_metrics_get(struct req *r)
{
    struct metrics_ctx *ctx = xcalloc(1, sizeof *ctx);
    req_defer(r, REQ_WORK_GENERAL, metrics_work, metrics_done, ctx);
}
