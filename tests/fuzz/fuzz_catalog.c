/*
 * fuzz_catalog.c - fuzz target for the catalog parser (catalog_parse, src/domain/catalog.c),
 * which reads TG_CATALOG.
 *
 * The input is the whole document. Invariants (abort() when broken):
 *  - success only for what jansson reads as a JSON object without duplicate keys;
 *  - every product accepted obeys the rules: ids [a-z0-9_]{1,64} and unique (plans too),
 *    credits 1..1e9, 1..8 prices in known currencies, amounts 1..CATALOG_MAX_AMOUNT, packs
 *    without a plan or period, plan periods with their plan's monthly credits; lookups find
 *    each product by id;
 *  - written back as a catalog document (a writer of our own), it parses to equal products;
 *  - a refusal leaves nothing and a one-line printable message starting with the source.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "domain/catalog.h"
#include "fuzz.h"

#define FAIL() (fprintf(stderr, "fuzz_catalog: invariant at line %d\n", __LINE__), abort())
#define SOURCE "fuzz.json"

static unsigned long n_ok, n_bad, n_products;

static int id_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return 0;
    return 1;
}

static void check_catalog(const struct catalog *c)
{
    if (c->n_products > CATALOG_MAX_PRODUCTS)
        FAIL();
    for (size_t i = 0; i < c->n_products; i++) {
        const struct catalog_product *p = &c->products[i];
        if (!id_ok(p->id) || catalog_lookup(c, p->id) != p)
            FAIL();
        for (size_t k = 0; k < c->n_plans; k++)
            if (strcmp(c->plans[k].id, p->id) == 0)
                FAIL();
        if (p->credits < 1 || p->credits > CATALOG_MAX_CREDITS || p->n_prices < 1 || p->n_prices > 8)
            FAIL();
        for (size_t k = 0; k < p->n_prices; k++) {
            const struct catalog_price *pr = &p->prices[k];
            if (catalog_currency_exponent(pr->currency) < 0 || pr->amount < 1 ||
                pr->amount > CATALOG_MAX_AMOUNT || catalog_price(p, pr->currency) != pr)
                FAIL();
        }
        if (p->kind == CATALOG_PACK) {
            if (p->plan != NULL || p->period != CATALOG_PERIOD_NONE)
                FAIL();
        } else if (p->kind == CATALOG_PLAN) {
            if (p->plan == NULL || p->credits != p->plan->credits_per_month ||
                catalog_period_name(p->period) == NULL)
                FAIL();
        } else {
            FAIL();
        }
    }
    for (size_t k = 0; k < c->n_plans; k++) {
        if (!id_ok(c->plans[k].id))
            FAIL();
        for (size_t j = 0; j < k; j++)
            if (strcmp(c->plans[j].id, c->plans[k].id) == 0)
                FAIL();
    }
}

static void put_prices(json_t *o, const struct catalog_product *p)
{
    json_t *prices = json_object();
    for (size_t k = 0; k < p->n_prices; k++)
        json_object_set_new(prices, p->prices[k].currency, json_integer(p->prices[k].amount));
    json_object_set_new(o, "prices", prices);
    if (p->creem_product_id[0])
        json_object_set_new(o, "creem_product_id", json_string(p->creem_product_id));
    if (p->stripe_price_id[0])
        json_object_set_new(o, "stripe_price_id", json_string(p->stripe_price_id));
}

/* The catalog written back as a document. */
static char *write_back(const struct catalog *c)
{
    json_t *root = json_object(), *packs = json_array(), *plans = json_array();
    for (size_t i = 0; i < c->n_products; i++) {
        const struct catalog_product *p = &c->products[i];
        if (p->kind != CATALOG_PACK)
            continue;
        json_t *o = json_pack("{s:s, s:I}", "id", p->id, "credits", (json_int_t)p->credits);
        put_prices(o, p);
        json_array_append_new(packs, o);
    }
    for (size_t k = 0; k < c->n_plans; k++) {
        const struct catalog_plan *plan = &c->plans[k];
        json_t *periods = json_array(), *features = json_object();
        for (size_t f = 0; f < plan->n_features; f++) {
            json_t *list = json_array();
            for (size_t j = 0; j < plan->features[f].n; j++)
                json_array_append_new(list, json_string(plan->features[f].items[j]));
            json_object_set_new(features, plan->features[f].locale, list);
        }
        for (size_t i = 0; i < c->n_products; i++) {
            const struct catalog_product *p = &c->products[i];
            if (p->plan != plan)
                continue;
            json_t *o = json_pack("{s:s, s:s}", "id", p->id, "period", catalog_period_name(p->period));
            put_prices(o, p);
            json_array_append_new(periods, o);
        }
        json_array_append_new(plans, json_pack("{s:s, s:I, s:o, s:o}", "id", plan->id, "credits_per_month",
                                               (json_int_t)plan->credits_per_month, "features", features,
                                               "periods", periods));
    }
    json_object_set_new(root, "packs", packs);
    json_object_set_new(root, "plans", plans);
    char *s = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    return s;
}

static void same(const struct catalog *a, const struct catalog *b)
{
    if (a->n_products != b->n_products || a->n_plans != b->n_plans)
        FAIL();
    for (size_t i = 0; i < a->n_products; i++) {
        const struct catalog_product *p = &a->products[i], *q = &b->products[i];
        if (strcmp(p->id, q->id) != 0 || p->kind != q->kind || p->credits != q->credits ||
            p->period != q->period || p->n_prices != q->n_prices ||
            strcmp(p->creem_product_id, q->creem_product_id) != 0 ||
            strcmp(p->stripe_price_id, q->stripe_price_id) != 0)
            FAIL();
        for (size_t k = 0; k < p->n_prices; k++)
            if (catalog_price(q, p->prices[k].currency) == NULL ||
                catalog_price(q, p->prices[k].currency)->amount != p->prices[k].amount)
                FAIL();
        if ((p->plan == NULL) != (q->plan == NULL) || (p->plan && strcmp(p->plan->id, q->plan->id) != 0))
            FAIL();
    }
    for (size_t k = 0; k < a->n_plans; k++) {
        const struct catalog_plan *x = &a->plans[k], *y = &b->plans[k];
        if (x->n_features != y->n_features)
            FAIL();
        for (size_t f = 0; f < x->n_features; f++) {
            if (strcmp(x->features[f].locale, y->features[f].locale) != 0 ||
                x->features[f].n != y->features[f].n)
                FAIL();
            for (size_t j = 0; j < x->features[f].n; j++)
                if (strcmp(x->features[f].items[j], y->features[f].items[j]) != 0)
                    FAIL();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *err = (char *)1;
    struct catalog *c = catalog_parse((const char *)data, size, SOURCE, &err);
    json_error_t je;
    json_t *ref = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &je);
    if (c != NULL) {
        if (err != NULL || ref == NULL || !json_is_object(ref))
            FAIL();
        check_catalog(c);
        char *doc = write_back(c);
        char *err2 = NULL;
        struct catalog *again = catalog_parse(doc, strlen(doc), SOURCE, &err2);
        if (again == NULL)
            FAIL();
        same(c, again);
        catalog_free(again);
        free(doc);
        n_products += c->n_products;
        n_ok++;
        catalog_free(c);
    } else {
        size_t n;
        if (err == NULL || err == (char *)1)
            FAIL();
        n = strlen(err);
        if (n > 400 || strncmp(err, SOURCE ": ", strlen(SOURCE) + 2) != 0)
            FAIL();
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)err[i] < 0x20 || (unsigned char)err[i] >= 0x7f)
                FAIL();
        free(err);
        n_bad++;
    }
    json_decref(ref);
    return 0;
}

void fuzz_seeds(void (*add)(const uint8_t *data, size_t size))
{
    static const char *const seeds[] = {
        "{\"packs\":[{\"id\":\"p_1\",\"credits\":10,\"prices\":{\"JPY\":150,\"USD\":99},"
        "\"creem_product_id\":\"prod_ABC\",\"stripe_price_id\":\"price_123\"}]}",
        "{\"plans\":[{\"id\":\"solo\",\"credits_per_month\":1000000000,\"features\":{\"zh-CN\":[\"一\"],"
        "\"en-US\":[\"one\",\"two\"]},\"periods\":[{\"id\":\"solo_y\",\"period\":\"year\",\"prices\":"
        "{\"CNY\":10000000000},\"creem_product_id\":\"prod_Y\"},{\"id\":\"solo_m\",\"period\":\"month\","
        "\"prices\":{\"EUR\":5,\"GBP\":4,\"HKD\":40}}]}]}",
        "{\"packs\":[{\"id\":\"a\",\"credits\":1,\"prices\":{\"USD\":1}},{\"id\":\"a\",\"credits\":1,"
        "\"prices\":{\"USD\":1}}]}",
        "{\"packs\":[],\"plans\":[]}",
        "{\"tasks\":{}}",
    };
    add((const uint8_t *)catalog_default_json, strlen(catalog_default_json));
    for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++)
        add((const uint8_t *)seeds[i], strlen(seeds[i]));
}

void fuzz_report(void)
{
    printf("fuzz_catalog: %lu accepted (%lu products), %lu refused\n", n_ok, n_products, n_bad);
}
