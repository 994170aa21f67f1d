/* TEMP stub: stands in for domain/subscriptions.c and the store's subscription calls until
 * they land on main. Reverted before the branch is merged. */
#include <stdlib.h>
#include <string.h>

#include "domain/catalog.h"
#include "domain/subscriptions.h"

int subs_live(const struct subscription *sub)
{
    return sub != NULL && (strcmp(sub->status, "active") == 0 || strcmp(sub->status, "past_due") == 0);
}
int subs_renews(const struct subscription *sub) { return sub != NULL && sub->provider_ref[0] != '\0'; }
int64_t subs_credits_remaining(const struct subscription *sub, const struct wallet *w, int64_t now_ms)
{
    if (!subs_live(sub) || w == NULL || w->plan_expires_at <= now_ms)
        return 0;
    return w->plan_credits < sub->credits_granted ? w->plan_credits : sub->credits_granted;
}
const char *subs_check_name(enum subs_check c) { return c == SUBS_OK ? "ok" : "refused"; }
enum subs_check subs_may_order(const struct subscription *live, const struct catalog_product *p,
                               const char *provider, int renews)
{
    (void)p;
    if (live == NULL)
        return SUBS_OK;
    return subs_renews(live) || renews || strcmp(live->provider, provider) != 0 ? SUBS_EXISTS : SUBS_OK;
}
enum subs_check subs_may_change(const struct subscription *live, const struct catalog_product *p, int *upgrade)
{
    *upgrade = 0;
    if (live == NULL)
        return SUBS_NONE;
    if (!subs_renews(live))
        return SUBS_PREPAID;
    if (strcmp(live->product, p->id) == 0)
        return SUBS_SAME_PLAN;
    *upgrade = p->credits > live->credits_per_month;
    return SUBS_OK;
}
enum subs_check subs_may_cancel(const struct subscription *live) { return live == NULL ? SUBS_NONE : SUBS_OK; }
enum subs_check subs_may_resume(const struct subscription *live, int64_t now_ms)
{
    if (live == NULL)
        return SUBS_NONE;
    return live->cancel_at_period_end && now_ms < live->period_end ? SUBS_OK : SUBS_NOT_RESUMABLE;
}
enum store_rc subs_cancel_tx(struct store *s, const char *sub_id, int at_period_end, const char *actor_id,
                             const char *ip, const char *request_id, int64_t now_ms, struct subscription *out)
{
    (void)s, (void)sub_id, (void)at_period_end, (void)actor_id, (void)ip, (void)request_id, (void)now_ms, (void)out;
    return STORE_NOTFOUND;
}
enum store_rc subs_resume_tx(struct store *s, const char *sub_id, const char *actor_id, const char *ip,
                             const char *request_id, int64_t now_ms, struct subscription *out)
{
    (void)s, (void)sub_id, (void)actor_id, (void)ip, (void)request_id, (void)now_ms, (void)out;
    return STORE_NOTFOUND;
}
enum store_rc subs_change_tx(struct store *s, const char *sub_id, const char *product, const char *actor_id,
                             const char *ip, const char *request_id, int64_t now_ms, struct subscription *out)
{
    (void)s, (void)sub_id, (void)product, (void)actor_id, (void)ip, (void)request_id, (void)now_ms, (void)out;
    return STORE_NOTFOUND;
}

