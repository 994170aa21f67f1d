/*
 * subscriptions.c - plans: periods, grants, expiry, renewals and changes (subscriptions.h).
 */
#include "domain/subscriptions.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/ids.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "domain/audit.h"
#include "domain/catalog.h"
#include "domain/ledger.h"

/* Most credit periods one job run walks through (a process stopped for years). */
#define SUBS_ROLL_MAX 1200
/* The shortest credit period: half a month. */
#define SUBS_MIN_CREDIT_PERIOD_MS (15LL * 24 * 60 * 60 * 1000)

int64_t subs_period_end(const struct catalog_product *p, int64_t start)
{
    return time_add_months(start, p != NULL && p->period == CATALOG_PERIOD_YEAR ? 12 : 1);
}

int64_t subs_add_months(int64_t ms, int n) { return time_add_months(ms, n); }

int subs_live(const struct subscription *sub)
{
    return sub != NULL && (strcmp(sub->status, "active") == 0 || strcmp(sub->status, "past_due") == 0);
}

int subs_renews(const struct subscription *sub) { return sub != NULL && sub->provider_ref[0] != '\0'; }

/* 1 while the subscription holds a credit period that has not been written off. */
static int credit_open(const struct subscription *sub) { return sub->credit_end > sub->credit_start; }

int64_t subs_credits_remaining(const struct subscription *sub, const struct wallet *w, int64_t now_ms)
{
    if (sub == NULL || w == NULL || !subs_live(sub) || !credit_open(sub) || sub->credit_end <= now_ms)
        return 0;
    return ledger_spendable_plan(w, now_ms);
}

const char *subs_check_name(enum subs_check c)
{
    switch (c) {
    case SUBS_OK: return "ok";
    case SUBS_NONE: return "none";
    case SUBS_EXISTS: return "exists";
    case SUBS_PREPAID: return "prepaid";
    case SUBS_SAME_PLAN: return "same_plan";
    case SUBS_NOT_RESUMABLE: return "not_resumable";
    case SUBS_CURRENCY: return "currency";
    case SUBS_PERIOD_CHANGE: return "period_change";
    }
    return "unknown";
}

enum subs_check subs_may_order(const struct subscription *live, const struct catalog_product *p,
                               const char *provider, int renews)
{
    (void)p;
    (void)provider;
    if (live == NULL || !subs_live(live))
        return SUBS_OK;
    /* A subscription the provider renews is changed there (POST /subscription/change); a
     * second one would charge twice. A prepaid one is extended by buying more, but only
     * as prepaid periods: a renewing checkout would start a second subscription. */
    if (subs_renews(live) || renews)
        return SUBS_EXISTS;
    return SUBS_OK;
}

enum subs_check subs_may_change(const struct subscription *live, const struct catalog_product *p, int *upgrade)
{
    const struct catalog_product *cur;
    if (upgrade)
        *upgrade = 0;
    if (live == NULL || !subs_live(live))
        return SUBS_NONE;
    if (!subs_renews(live))
        return SUBS_PREPAID;
    if (p == NULL || p->kind != CATALOG_PLAN || strcmp(p->id, live->product) == 0)
        return SUBS_SAME_PLAN;
    cur = catalog_find(live->product);
    if (cur != NULL && cur->period != p->period)
        return SUBS_PERIOD_CHANGE;
    if (catalog_price(p, live->currency) == NULL)
        return SUBS_CURRENCY;
    if (upgrade)
        *upgrade = p->credits > live->credits_per_month;
    return SUBS_OK;
}

enum subs_check subs_may_cancel(const struct subscription *live)
{
    return live != NULL && subs_live(live) ? SUBS_OK : SUBS_NONE;
}

enum subs_check subs_may_resume(const struct subscription *live, int64_t now_ms)
{
    if (live == NULL || !subs_live(live))
        return SUBS_NONE;
    if (!live->cancel_at_period_end || live->period_end <= now_ms)
        return SUBS_NOT_RESUMABLE;
    return SUBS_OK;
}

/* ---- inside a transaction ---- */

/* The ledger reference of credit period `index` (and of an upgrade's top-up in it). */
static void credit_ref(char out[TG_REF_MAX + 1], const struct subscription *sub, int64_t index, const char *product)
{
    if (product != NULL)
        snprintf(out, TG_REF_MAX + 1, "%s:%lld:%s", sub->id, (long long)index, product);
    else
        snprintf(out, TG_REF_MAX + 1, "%s:%lld", sub->id, (long long)index);
}

/* When the job must look at sub next: the end of its credit period, the prepaid reminder,
 * or (a credit period written off while paid time is left or the end is ours to make) now. */
static void subs_schedule(struct subscription *sub, int64_t now_ms)
{
    int64_t due = 0;
    if (!subs_live(sub)) {
        sub->next_due_at = 0;
        return;
    }
    if (credit_open(sub))
        due = sub->credit_end;
    else if (sub->credit_end < sub->period_end && strcmp(sub->status, "active") == 0)
        due = sub->credit_end;
    else if (!subs_renews(sub) || sub->cancel_at_period_end)
        due = sub->period_end;
    /* A renewing subscription between its period's end and the renewal waits for the
     * provider's notice (or its ending one): nothing for the job. */
    if (!subs_renews(sub) && !sub->cancel_at_period_end && sub->reminded_for != sub->period_end) {
        int64_t remind = sub->period_end - SUBS_REMIND_BEFORE_MS;
        if (remind < sub->period_end && (due == 0 || remind < due))
            due = remind;
    }
    if (strcmp(sub->status, "past_due") == 0 && sub->reminded_for != sub->period_end)
        due = now_ms;
    sub->next_due_at = due;
}

/* Writes off what is left of the plan bucket as the end of credit period sub->credit_index,
 * and closes it at cut_at when that is before its end. */
static enum store_rc credit_close(struct store *s, struct subscription *sub, int64_t cut_at, int64_t now_ms)
{
    struct wallet w;
    enum store_rc rc;
    if (!credit_open(sub))
        return STORE_OK;
    rc = store_wallet_get(s, sub->user_id, &w);
    if (rc != STORE_OK)
        return rc;
    if (w.plan_credits > 0) {
        char ref[TG_REF_MAX + 1];
        credit_ref(ref, sub, sub->credit_index, NULL);
        enum ledger_rc lrc = ledger_take_tx(s, sub->user_id, BUCKET_PLAN, w.plan_credits, LK_PLAN_EXPIRE,
                                            "subscription", ref, sub->product, now_ms, NULL);
        if (lrc != LEDGER_OK && lrc != LEDGER_DUPLICATE)
            return ledger_to_store(lrc);
    }
    /* The period ends where it ended, or where it is cut short. */
    if (sub->credit_end > cut_at)
        sub->credit_end = cut_at;
    sub->credit_start = sub->credit_end;
    return STORE_OK;
}

/* Opens credit period index+1 as [start, end) and grants its credits. */
static enum store_rc credit_open_next(struct store *s, struct subscription *sub, int64_t start, int64_t end,
                                      int64_t now_ms)
{
    char ref[TG_REF_MAX + 1];
    sub->credit_index++;
    sub->credit_start = start;
    sub->credit_end = end;
    sub->credits_granted = 0;
    /* A period that is already over when it is opened (the process was stopped past it)
     * grants nothing: nobody could have spent it. */
    if (end <= now_ms) {
        sub->credit_start = sub->credit_end;
        return STORE_OK;
    }
    credit_ref(ref, sub, sub->credit_index, NULL);
    enum ledger_rc lrc = ledger_grant_tx(s, sub->user_id, BUCKET_PLAN, sub->credits_per_month, LK_PLAN_GRANT,
                                         "subscription", ref, sub->product, end, now_ms, NULL);
    if (lrc != LEDGER_OK && lrc != LEDGER_DUPLICATE)
        return ledger_to_store(lrc);
    sub->credits_granted = sub->credits_per_month;
    return STORE_OK;
}

/* The end of the credit period that starts at `start`: a month counted from the paid
 * period's anchor (so the 31st stays the 31st where the month has one), never past the
 * paid period. */
static int64_t credit_end_from(const struct subscription *sub, int64_t start)
{
    int64_t e = sub->period_start;
    for (int k = 1; e <= start && k <= SUBS_ROLL_MAX; k++)
        e = time_add_months(sub->period_start, k);
    if (e <= start)
        e = time_add_months(start, 1);
    /* A provider's period need not be whole months from its start (Stripe renews Feb 28 -
     * Mar 31 when the subscription began on a 31st): a remainder under half a month joins
     * the last month rather than becoming a credit period of its own. */
    if (sub->period_end - e < SUBS_MIN_CREDIT_PERIOD_MS)
        e = sub->period_end;
    return e;
}

/* Takes product p (now in force) into sub: its plan, credits and price. */
static void take_product(struct subscription *sub, const struct catalog_product *p, const char *id)
{
    snprintf(sub->product, sizeof sub->product, "%s", p ? p->id : id);
    if (p != NULL && p->plan != NULL)
        snprintf(sub->plan, sizeof sub->plan, "%s", p->plan->id);
    if (p != NULL) {
        sub->credits_per_month = p->credits;
        const struct catalog_price *pr = catalog_price(p, sub->currency);
        if (pr != NULL)
            sub->amount = pr->amount;
    }
}

/* A downgrade whose time came (at or before `at`) takes effect. */
static void apply_pending(struct subscription *sub, int64_t at)
{
    if (sub->next_product[0] && sub->next_product_at <= at) {
        const struct catalog_product *p = catalog_find(sub->next_product);
        if (p != NULL)
            take_product(sub, p, sub->next_product);
        sub->next_product[0] = '\0';
        sub->next_product_at = 0;
    }
}

/* Ends a live subscription now: its plan credits are written off. */
static enum store_rc subs_end(struct store *s, struct subscription *sub, const char *status, int64_t now_ms)
{
    enum store_rc rc = credit_close(s, sub, now_ms, now_ms);
    if (rc != STORE_OK)
        return rc;
    snprintf(sub->status, sizeof sub->status, "%s", status);
    sub->ended_at = now_ms;
    sub->next_product[0] = '\0';
    sub->next_product_at = 0;
    return STORE_OK;
}

/*
 * Brings sub up to now: writes off credit periods that ended, opens the next while paid
 * time is left, ends it when nothing renews it. *mail (may be NULL) gets SUBS_MAIL_EXPIRED
 * when it ended here. Does not store sub.
 */
static enum store_rc subs_roll(struct store *s, struct subscription *sub, int64_t now_ms, enum subs_mail *mail)
{
    enum store_rc rc;
    for (int i = 0; i < SUBS_ROLL_MAX && subs_live(sub); i++) {
        if (credit_open(sub)) {
            if (sub->credit_end > now_ms)
                break;
            rc = credit_close(s, sub, now_ms, now_ms);
            if (rc != STORE_OK)
                return rc;
            continue;
        }
        /* No open credit period. Paid time left: the next one (a past_due subscription gets
         * none until a renewal is paid). */
        if (sub->credit_end < sub->period_end && strcmp(sub->status, "active") == 0) {
            if (sub->credit_end > now_ms)
                break;
            apply_pending(sub, sub->credit_end);
            rc = credit_open_next(s, sub, sub->credit_end, credit_end_from(sub, sub->credit_end), now_ms);
            if (rc != STORE_OK)
                return rc;
            continue;
        }
        if (sub->period_end > now_ms)
            break;
        /* The paid period is over. A prepaid one, or one that will not renew, ends; one the
         * provider renews waits for its notice. */
        if (!subs_renews(sub) || sub->cancel_at_period_end) {
            rc = subs_end(s, sub, sub->cancel_at_period_end ? "canceled" : "expired", now_ms);
            if (rc != STORE_OK)
                return rc;
            sub->ended_at = sub->period_end;
            if (mail)
                *mail = SUBS_MAIL_EXPIRED;
        }
        break;
    }
    return STORE_OK;
}

/* Stores sub after scheduling it. */
static enum store_rc subs_save(struct store *s, struct subscription *sub, int64_t now_ms)
{
    subs_schedule(sub, now_ms);
    sub->updated_at = now_ms;
    return store_sub_update(s, sub);
}

static enum store_rc subs_audit(struct store *s, const struct subscription *sub, const char *action,
                                const char *actor_id, const char *ip, const char *request_id, json_t *details,
                                int64_t now_ms)
{
    struct audit_entry e;
    json_object_set_new(details, "user_id", json_string(sub->user_id));
    json_object_set_new(details, "product", json_string(sub->product));
    char *text = json_dumps(details, JSON_COMPACT);
    json_decref(details);
    audit_entry_fill(&e, actor_id && actor_id[0] ? actor_id : sub->user_id, action, "subscription", sub->id, ip,
                     request_id, text, now_ms);
    enum store_rc rc = store_audit_insert(s, &e);
    free(text);
    return rc;
}

/* An upgrade to p now: the difference of this credit period's credits (its own ledger
 * reference, so a repeated change grants once). */
static enum store_rc upgrade_now(struct store *s, struct subscription *sub, const struct catalog_product *p,
                                 int64_t now_ms)
{
    int64_t diff = p->credits - sub->credits_per_month;
    take_product(sub, p, p->id);
    sub->next_product[0] = '\0';
    sub->next_product_at = 0;
    if (diff > 0 && credit_open(sub) && sub->credit_end > now_ms) {
        char ref[TG_REF_MAX + 1];
        credit_ref(ref, sub, sub->credit_index, p->id);
        enum ledger_rc lrc = ledger_grant_tx(s, sub->user_id, BUCKET_PLAN, diff, LK_PLAN_GRANT, "subscription", ref,
                                             p->id, sub->credit_end, now_ms, NULL);
        if (lrc == LEDGER_OK)
            sub->credits_granted += diff;
        else if (lrc != LEDGER_DUPLICATE)
            return ledger_to_store(lrc);
    }
    return STORE_OK;
}

/* The paid period's end after one more period of p: counted in months from the anchor
 * (period_start), so that a subscription that began on the 31st keeps ending on the 31st
 * where a month has one. */
static int64_t extend_end(const struct subscription *sub, const struct catalog_product *p)
{
    int add = p != NULL && p->period == CATALOG_PERIOD_YEAR ? 12 : 1;
    for (int k = 1; k <= SUBS_ROLL_MAX; k++) {
        int64_t e = time_add_months(sub->period_start, k);
        if (e == sub->period_end)
            return time_add_months(sub->period_start, k + add);
        if (e > sub->period_end)
            break;
    }
    return time_add_months(sub->period_end, add);
}

/* A downgrade to p at the end of the paid period. */
static void downgrade_later(struct subscription *sub, const struct catalog_product *p)
{
    snprintf(sub->next_product, sizeof sub->next_product, "%s", p->id);
    sub->next_product_at = sub->period_end;
}

static enum store_rc subs_start(struct store *s, const struct order *o, const struct catalog_product *p,
                                const struct payment_notice *n, int64_t now_ms, struct subscription *sub)
{
    enum store_rc rc;
    memset(sub, 0, sizeof *sub);
    id_new(sub->id, "sub");
    snprintf(sub->user_id, sizeof sub->user_id, "%s", o->user_id);
    snprintf(sub->currency, sizeof sub->currency, "%s", o->currency);
    snprintf(sub->plan, sizeof sub->plan, "%s", p && p->plan ? p->plan->id : o->product);
    snprintf(sub->product, sizeof sub->product, "%s", o->product);
    snprintf(sub->provider, sizeof sub->provider, "%s", o->provider);
    if (n->subscription_ref != NULL)
        snprintf(sub->provider_ref, sizeof sub->provider_ref, "%s", n->subscription_ref);
    snprintf(sub->status, sizeof sub->status, "active");
    snprintf(sub->order_id, sizeof sub->order_id, "%s", o->id);
    /* The order's credits and amount are the ones paid for, whatever the catalog says now. */
    sub->credits_per_month = o->credits;
    sub->amount = o->amount;
    sub->period_start = n->period_start > 0 && n->period_end > n->period_start ? n->period_start : now_ms;
    sub->period_end =
        n->period_start > 0 && n->period_end > n->period_start ? n->period_end : subs_period_end(p, sub->period_start);
    sub->credit_start = sub->credit_end = sub->period_start;
    sub->created_at = sub->updated_at = now_ms;
    rc = store_sub_insert(s, sub);
    if (rc != STORE_OK)
        return rc;
    return credit_open_next(s, sub, sub->period_start, credit_end_from(sub, sub->period_start), now_ms);
}

enum store_rc subs_order_paid_tx(struct store *s, const struct order *o, const struct payment_notice *n,
                                 int64_t now_ms)
{
    const struct catalog_product *p = catalog_find(o->product);
    struct subscription sub;
    enum store_rc rc = store_sub_get_live(s, o->user_id, &sub);
    if (rc != STORE_OK && rc != STORE_NOTFOUND)
        return rc;
    if (rc == STORE_OK) {
        /* A period that ran out before this payment arrived ends first: the new one starts
         * now, not in the past. */
        rc = subs_roll(s, &sub, now_ms, NULL);
        if (rc != STORE_OK)
            return rc;
        if (!subs_live(&sub)) {
            rc = subs_save(s, &sub, now_ms);
            if (rc != STORE_OK)
                return rc;
        }
    }
    if (rc == STORE_NOTFOUND || !subs_live(&sub)) {
        rc = subs_start(s, o, p, n, now_ms, &sub);
    } else {
        /* The next prepaid period (or, when a renewing subscription raced this order past the
         * API's check, time added to it: the money was taken, so it buys what it was for). */
        if (subs_renews(&sub))
            log_event(LOG_WARN, "subscription_extended_by_order", "subscription_id", sub.id, "order_id", o->id, NULL);
        const char *effective = sub.next_product[0] ? sub.next_product : sub.product;
        if (p != NULL && strcmp(p->id, effective) != 0) {
            if (p->credits > sub.credits_per_month) {
                rc = upgrade_now(s, &sub, p, now_ms);
                if (rc != STORE_OK)
                    return rc;
            } else if (strcmp(p->id, sub.product) != 0) {
                downgrade_later(&sub, p);
            } else {
                /* Back to the product in force: a pending downgrade is dropped. */
                sub.next_product[0] = '\0';
                sub.next_product_at = 0;
            }
        }
        sub.period_end = extend_end(&sub, p);
        if (sub.amount == 0 || p == NULL)
            sub.amount = o->amount;
        /* A credit period cut at the old end continues to a full month now. */
        if (credit_open(&sub))
            sub.credit_end = credit_end_from(&sub, sub.credit_start);
        sub.cancel_at_period_end = 0;
        rc = STORE_OK;
    }
    if (rc != STORE_OK)
        return rc;
    rc = subs_roll(s, &sub, now_ms, NULL);
    if (rc != STORE_OK)
        return rc;
    rc = subs_save(s, &sub, now_ms);
    if (rc != STORE_OK)
        return rc;
    return store_order_set_subscription(s, o->id, sub.id, now_ms);
}

enum store_rc subs_order_repaid_tx(struct store *s, const struct order *o, const struct payment_notice *n,
                                   int64_t now_ms)
{
    struct subscription sub;
    enum store_rc rc;
    if (o->subscription_id[0] == '\0')
        return STORE_OK;
    rc = store_sub_get(s, o->subscription_id, &sub);
    if (rc != STORE_OK)
        return rc == STORE_NOTFOUND ? STORE_OK : rc;
    int changed = 0;
    if (n->subscription_ref != NULL && n->subscription_ref[0] && sub.provider_ref[0] == '\0' &&
        strcmp(sub.order_id, o->id) == 0) {
        snprintf(sub.provider_ref, sizeof sub.provider_ref, "%s", n->subscription_ref);
        changed = 1;
    }
    /* The provider's own bounds of the first period, so that its renewals line up. */
    if (subs_renews(&sub) && strcmp(sub.order_id, o->id) == 0 && sub.credit_index <= 1 && n->period_start > 0 &&
        n->period_end > n->period_start && (n->period_start != sub.period_start || n->period_end != sub.period_end)) {
        sub.period_start = n->period_start;
        sub.period_end = n->period_end;
        if (credit_open(&sub)) {
            /* The first month's credits now end with the provider's period, in the wallet too. */
            sub.credit_end = credit_end_from(&sub, sub.credit_start);
            enum store_rc wrc = store_wallet_set_plan_expiry(s, sub.user_id, sub.credit_end, now_ms);
            if (wrc != STORE_OK)
                return wrc;
        }
        changed = 1;
    }
    return changed ? subs_save(s, &sub, now_ms) : STORE_OK;
}

/* A renewal paid at the provider: recorded as a paid plan order keyed by the invoice. */
static enum store_rc renewal_order(struct store *s, const struct subscription *sub, const struct payment_notice *n,
                                   int64_t now_ms, char order_id[TG_ID_MAX], int *duplicate)
{
    struct order o;
    enum store_rc rc;
    static const char *const pending[] = {"pending", NULL};
    *duplicate = 0;
    memset(&o, 0, sizeof o);
    id_new(o.id, "ord");
    snprintf(o.user_id, sizeof o.user_id, "%s", sub->user_id);
    snprintf(o.product, sizeof o.product, "%s", sub->product);
    snprintf(o.kind, sizeof o.kind, "plan");
    o.credits = sub->credits_per_month > 0 ? sub->credits_per_month : 1;
    o.amount = n->amount > 0 ? n->amount : sub->amount;
    snprintf(o.currency, sizeof o.currency, "%s", n->currency && n->currency[0] ? n->currency : sub->currency);
    snprintf(o.provider, sizeof o.provider, "%s", sub->provider);
    snprintf(o.provider_ref, sizeof o.provider_ref, "%s",
             n->invoice_ref && n->invoice_ref[0] ? n->invoice_ref : n->event_id);
    snprintf(o.status, sizeof o.status, "pending");
    snprintf(o.subscription_id, sizeof o.subscription_id, "%s", sub->id);
    o.created_at = o.updated_at = now_ms;
    o.expires_at = now_ms;
    rc = store_order_insert(s, &o);
    if (rc == STORE_DUPLICATE) {
        /* The same invoice through another event type: already recorded. */
        *duplicate = 1;
        return STORE_OK;
    }
    if (rc != STORE_OK)
        return rc;
    rc = store_order_transition(s, o.id, pending, "paid", now_ms);
    if (rc != STORE_OK)
        return rc;
    rc = store_order_set_subscription(s, o.id, sub->id, now_ms);
    if (rc == STORE_OK && order_id)
        snprintf(order_id, TG_ID_MAX, "%s", o.id);
    return rc;
}

enum store_rc subs_notice_tx(struct store *s, const struct payment_notice *n, int64_t now_ms,
                             enum orders_outcome *outcome, char renewal_order_id[TG_ID_MAX])
{
    struct subscription sub;
    enum store_rc rc;
    const struct catalog_product *p;

    *outcome = ORDERS_UNKNOWN_SUBSCRIPTION;
    if (renewal_order_id)
        renewal_order_id[0] = '\0';
    if (n->subscription_ref == NULL || n->subscription_ref[0] == '\0')
        return STORE_CONFLICT;
    rc = store_sub_get_by_ref(s, n->provider, n->subscription_ref, &sub);
    if (rc == STORE_NOTFOUND)
        return STORE_CONFLICT;
    if (rc != STORE_OK)
        return rc;
    if (renewal_order_id)
        snprintf(renewal_order_id, TG_ID_MAX, "%s", sub.order_id);
    *outcome = ORDERS_SUB_KNOWN;

    switch (n->notice) {
    case NOTICE_SUB_PERIOD: {
        int64_t held = sub.period_end - sub.period_start;
        int dup = 0;
        /* A new period ends later than the one held and starts well after it began: a
         * repeated notice, or the first period's own invoice, is neither. */
        if (n->period_end <= sub.period_end || n->period_start < sub.period_start + held / 2 ||
            n->period_end <= n->period_start)
            break;
        if (!subs_live(&sub)) {
            /* Renewed after we ended it (a cancel that did not reach the provider): the money
             * was taken, so the subscription lives again if nothing else took its place. */
            struct subscription other;
            rc = store_sub_get_live(s, sub.user_id, &other);
            if (rc == STORE_OK) {
                log_event(LOG_ERROR, "subscription_renewed_after_end", "subscription_id", sub.id, NULL);
                break;
            }
            if (rc != STORE_NOTFOUND)
                return rc;
            snprintf(sub.status, sizeof sub.status, "active");
            sub.ended_at = 0;
            sub.cancel_at_period_end = 0;
        }
        rc = credit_close(s, &sub, now_ms < n->period_start ? now_ms : n->period_start, now_ms);
        if (rc != STORE_OK)
            return rc;
        apply_pending(&sub, n->period_start);
        rc = renewal_order(s, &sub, n, now_ms, renewal_order_id, &dup);
        if (rc != STORE_OK)
            return rc;
        if (dup)
            break;
        snprintf(sub.status, sizeof sub.status, "active");
        sub.period_start = n->period_start;
        sub.period_end = n->period_end;
        sub.reminded_for = 0;
        rc = credit_open_next(s, &sub, n->period_start, credit_end_from(&sub, n->period_start), now_ms);
        if (rc != STORE_OK)
            return rc;
        *outcome = ORDERS_SUB_RENEWED;
        break;
    }
    case NOTICE_SUB_PAST_DUE:
        if (strcmp(sub.status, "active") == 0) {
            snprintf(sub.status, sizeof sub.status, "past_due");
            *outcome = ORDERS_SUB_UPDATED;
        }
        break;
    case NOTICE_SUB_STATE:
        if (!subs_live(&sub))
            break;
        if (n->cancel_at_period_end != sub.cancel_at_period_end) {
            sub.cancel_at_period_end = n->cancel_at_period_end ? 1 : 0;
            *outcome = ORDERS_SUB_UPDATED;
        }
        /* A plan changed at the provider (its dashboard, or our own change coming back). */
        p = n->product && n->product[0] ? catalog_find(n->product) : NULL;
        if (p != NULL && p->kind == CATALOG_PLAN && strcmp(p->id, sub.product) != 0 &&
            strcmp(p->id, sub.next_product) != 0) {
            if (p->credits > sub.credits_per_month) {
                rc = upgrade_now(s, &sub, p, now_ms);
                if (rc != STORE_OK)
                    return rc;
            } else {
                downgrade_later(&sub, p);
            }
            *outcome = ORDERS_SUB_UPDATED;
        }
        break;
    case NOTICE_SUB_ENDED:
        if (subs_live(&sub)) {
            rc = subs_end(s, &sub, "canceled", now_ms);
            if (rc != STORE_OK)
                return rc;
            /* A cancel at period end that the provider reports before the job got to it
             * ended at the period's end, not at the notice. */
            if (sub.cancel_at_period_end && sub.period_end <= now_ms)
                sub.ended_at = sub.period_end;
            *outcome = ORDERS_SUB_UPDATED;
        }
        break;
    default: break;
    }
    if (*outcome == ORDERS_SUB_KNOWN)
        return STORE_OK;
    return subs_save(s, &sub, now_ms);
}

enum store_rc subs_due_tx(struct store *s, const char *sub_id, int64_t now_ms, enum subs_mail *mail,
                          struct subscription *sub_out)
{
    struct subscription sub;
    enum subs_mail m = SUBS_MAIL_NONE;
    enum store_rc rc = store_sub_get(s, sub_id, &sub);
    if (mail)
        *mail = SUBS_MAIL_NONE;
    if (rc != STORE_OK)
        return rc;
    if (subs_live(&sub)) {
        rc = subs_roll(s, &sub, now_ms, &m);
        if (rc != STORE_OK)
            return rc;
        if (subs_live(&sub) && sub.reminded_for != sub.period_end) {
            if (strcmp(sub.status, "past_due") == 0) {
                m = SUBS_MAIL_PAST_DUE;
                sub.reminded_for = sub.period_end;
            } else if (!subs_renews(&sub) && !sub.cancel_at_period_end &&
                       sub.period_end - SUBS_REMIND_BEFORE_MS <= now_ms && now_ms < sub.period_end) {
                m = SUBS_MAIL_REMIND;
                sub.reminded_for = sub.period_end;
            }
        }
        rc = subs_save(s, &sub, now_ms);
        if (rc != STORE_OK)
            return rc;
    }
    if (mail)
        *mail = m;
    if (sub_out)
        *sub_out = sub;
    return STORE_OK;
}

/* Reads the live subscription sub_id for a user or admin action. */
static enum store_rc action_get(struct store *s, const char *sub_id, int64_t now_ms, struct subscription *sub)
{
    enum store_rc rc = store_sub_get(s, sub_id, sub);
    if (rc != STORE_OK)
        return rc;
    /* Whatever the job has not done yet is done first. */
    rc = subs_roll(s, sub, now_ms, NULL);
    if (rc != STORE_OK)
        return rc;
    return subs_live(sub) ? STORE_OK : STORE_CONFLICT;
}

enum store_rc subs_cancel_tx(struct store *s, const char *sub_id, int at_period_end, const char *actor_id,
                             const char *ip, const char *request_id, int64_t now_ms, struct subscription *out)
{
    struct subscription sub;
    enum store_rc rc = action_get(s, sub_id, now_ms, &sub);
    if (rc == STORE_CONFLICT && out)
        *out = sub;
    if (rc != STORE_OK)
        return rc;
    if (at_period_end) {
        if (sub.cancel_at_period_end) {
            if (out)
                *out = sub;
            return STORE_OK;
        }
        sub.cancel_at_period_end = 1;
    } else {
        rc = subs_end(s, &sub, "canceled", now_ms);
        if (rc != STORE_OK)
            return rc;
    }
    rc = subs_save(s, &sub, now_ms);
    if (rc != STORE_OK)
        return rc;
    rc = subs_audit(s, &sub, "subscription.cancel", actor_id, ip, request_id,
                    json_pack("{s:b}", "at_period_end", at_period_end ? 1 : 0), now_ms);
    if (rc == STORE_OK && out)
        *out = sub;
    return rc;
}

enum store_rc subs_resume_tx(struct store *s, const char *sub_id, const char *actor_id, const char *ip,
                             const char *request_id, int64_t now_ms, struct subscription *out)
{
    struct subscription sub;
    enum store_rc rc = action_get(s, sub_id, now_ms, &sub);
    if (rc != STORE_OK)
        return rc;
    /* Already not canceling: the provider's own notice of this resume came first. */
    if (!sub.cancel_at_period_end) {
        if (out)
            *out = sub;
        return STORE_OK;
    }
    if (subs_may_resume(&sub, now_ms) != SUBS_OK)
        return STORE_CONFLICT;
    sub.cancel_at_period_end = 0;
    rc = subs_save(s, &sub, now_ms);
    if (rc != STORE_OK)
        return rc;
    rc = subs_audit(s, &sub, "subscription.resume", actor_id, ip, request_id, json_object(), now_ms);
    if (rc == STORE_OK && out)
        *out = sub;
    return rc;
}

enum store_rc subs_change_tx(struct store *s, const char *sub_id, const char *product, const char *actor_id,
                             const char *ip, const char *request_id, int64_t now_ms, struct subscription *out)
{
    struct subscription sub;
    const struct catalog_product *p = catalog_find(product);
    int upgrade = 0;
    enum store_rc rc = action_get(s, sub_id, now_ms, &sub);
    if (rc != STORE_OK)
        return rc;
    /* Already done: the provider's own notice of this change came first. */
    if (p != NULL && (strcmp(sub.product, p->id) == 0 || strcmp(sub.next_product, p->id) == 0)) {
        if (out)
            *out = sub;
        return STORE_OK;
    }
    if (p == NULL || subs_may_change(&sub, p, &upgrade) != SUBS_OK)
        return STORE_CONFLICT;
    char from[TG_PRODUCT_MAX];
    snprintf(from, sizeof from, "%s", sub.product);
    if (upgrade) {
        rc = upgrade_now(s, &sub, p, now_ms);
        if (rc != STORE_OK)
            return rc;
    } else {
        downgrade_later(&sub, p);
    }
    rc = subs_save(s, &sub, now_ms);
    if (rc != STORE_OK)
        return rc;
    rc = subs_audit(s, &sub, "subscription.change", actor_id, ip, request_id,
                    json_pack("{s:s, s:s, s:s}", "from", from, "to", p->id, "when", upgrade ? "now" : "period_end"),
                    now_ms);
    if (rc == STORE_OK && out)
        *out = sub;
    return rc;
}
