/*
 * catalog.c - GET /api/v1/catalog: the packs and plans on sale in the caller's region,
 * priced in its currency (domain/catalog.h, docs/CATALOG.md).
 *
 * The region (and so the currency and the locale of the plans' features) is decided like
 * GET /api/v1/region: the signed-in caller's saved choice, X-User-Region from a trusted
 * proxy, GeoIP, the default. A product without a price in that currency is left out.
 * Nothing in the request names an amount or a currency: prices come only from the catalog.
 *
 * Caching: the answer is the same for everyone in a region, but which region a caller is in
 * depends on the account, a proxy's header and the client address - and no Vary header can
 * name an address. So it is `private, max-age=60` (the caller's own browser may keep it for
 * a minute; no shared cache may hand it to someone else) with `Vary: Authorization,
 * X-User-Region` for the inputs a header carries. A region change shows up in the catalog
 * within that minute; orders are priced on the server at creation regardless.
 */
#include "api/api.h"

#include "domain/catalog.h"

/* {"amount","currency"} of p in currency, or NULL when p is not sold in it. New reference. */
static json_t *catalog_price_json(const struct catalog_product *p, const char *currency)
{
    const struct catalog_price *pr = catalog_price(p, currency);
    if (pr == NULL)
        return NULL;
    return json_pack("{s:I, s:s}", "amount", (json_int_t)pr->amount, "currency", pr->currency);
}

static json_t *catalog_features_json(const struct catalog_plan *plan, const char *locale)
{
    json_t *a = json_array();
    const struct catalog_features *f = catalog_plan_features(plan, locale);
    for (size_t i = 0; f != NULL && i < f->n; i++)
        json_array_append_new(a, json_string(f->items[i]));
    return a;
}

/* What each kind of generation task costs, in credits: {"image":{"unit":"task","credits":2},
 * "animate_move":{"unit":"second","credits":{"wan-std":1,"wan-pro":2}}, ...}. */
static json_t *catalog_tasks_json(const struct catalog *c)
{
    json_t *t = json_object();
    for (int k = 0; c != NULL && k < CATALOG_TASK_KINDS; k++) {
        const struct catalog_task_price *tp = &c->tasks[k];
        json_t *credits;
        if (tp->per_second) {
            credits = json_object();
            for (int m = 0; m < CATALOG_TASK_MODES; m++)
                json_object_set_new(credits, catalog_task_modes[m], json_integer((json_int_t)tp->per_second_by_mode[m]));
        } else {
            credits = json_integer((json_int_t)tp->credits);
        }
        json_object_set_new(t, catalog_task_kinds[k],
                            json_pack("{s:s, s:o}", "unit", tp->per_second ? "second" : "task", "credits", credits));
    }
    return t;
}

/* The body for region decision d. New reference (NULL only when out of memory). */
static json_t *catalog_body(const struct catalog *c, const struct region_decision *d)
{
    const char *currency = d->profile->currency;
    json_t *packs = json_array(), *plans = json_array();
    for (size_t i = 0; c != NULL && i < c->n_products; i++) {
        const struct catalog_product *p = &c->products[i];
        json_t *price = catalog_price_json(p, currency);
        if (price == NULL)
            continue; /* not offered in this region */
        if (p->kind == CATALOG_PACK) {
            json_array_append_new(packs, json_pack("{s:s, s:I, s:o}", "id", p->id, "credits",
                                                   (json_int_t)p->credits, "price", price));
        } else {
            json_array_append_new(
                plans, json_pack("{s:s, s:s, s:s, s:I, s:o, s:o}", "id", p->id, "plan", p->plan->id, "period",
                                 catalog_period_name(p->period), "credits_per_month",
                                 (json_int_t)p->plan->credits_per_month, "price", price, "features",
                                 catalog_features_json(p->plan, d->profile->locale)));
        }
    }
    return json_pack("{s:s, s:s, s:o, s:o, s:o}", "region", region_name(d->region), "currency", currency, "packs",
                     packs, "plans", plans, "tasks", catalog_tasks_json(c));
}

static void catalog_get_done(struct req *r, const struct region_decision *d, void *arg)
{
    (void)arg;
    if (r == NULL)
        return;
    json_t *body = catalog_body(catalog_get(), d);
    if (body == NULL) {
        res_error(r, TG_E_INTERNAL, NULL, NULL);
        return;
    }
    res_header(r, "cache-control", "private, max-age=60");
    res_header(r, "vary", "Authorization, X-User-Region");
    res_json(r, 200, body);
}

void api_catalog_get(struct req *r)
{
    api_region_for_request(r, catalog_get_done, NULL);
}
