/* Unit tests for src/domain/catalog.c: the built-in catalog, the file format (every refusal
 * with the JSON path it names), lookups and pricing by currency. */
#include "../test.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/mem.h"
#include "domain/catalog.h"

static struct catalog *parse(const char *json, char **err)
{
    return catalog_parse(json, strlen(json), "test.json", err);
}

static int64_t amount(const struct catalog_product *p, const char *cur)
{
    const struct catalog_price *pr = p ? catalog_price(p, cur) : NULL;
    return pr ? pr->amount : -1;
}

static void check_pack(const struct catalog *c, const char *id, int64_t credits, int64_t usd, int64_t cny)
{
    const struct catalog_product *p = catalog_lookup(c, id);
    CHECK(p != NULL && p->kind == CATALOG_PACK && p->period == CATALOG_PERIOD_NONE && p->plan == NULL,
          "default pack %s exists", id);
    CHECK_INT_EQ(p ? p->credits : -1, credits, "%s credits", id);
    CHECK_INT_EQ(amount(p, "USD"), usd, "%s USD", id);
    CHECK_INT_EQ(amount(p, "CNY"), cny, "%s CNY", id);
    CHECK_INT_EQ(p ? p->n_prices : 0, 2, "%s has exactly two prices", id);
    CHECK(p && catalog_provider_id(p, "creem_product_id") == NULL &&
              catalog_provider_id(p, "stripe_price_id") == NULL,
          "%s names no provider product", id);
}

static void check_plan(const struct catalog *c, const char *id, const char *plan, enum catalog_period period,
                       int64_t credits, int64_t usd, int64_t cny)
{
    const struct catalog_product *p = catalog_lookup(c, id);
    CHECK(p != NULL && p->kind == CATALOG_PLAN && p->period == period, "default plan product %s", id);
    CHECK_STR_EQ(p && p->plan ? p->plan->id : NULL, plan, "%s belongs to plan %s", id, plan);
    CHECK_INT_EQ(p ? p->credits : -1, credits, "%s credits per month", id);
    CHECK_INT_EQ(p && p->plan ? p->plan->credits_per_month : -1, credits, "%s plan credits_per_month", id);
    CHECK_INT_EQ(amount(p, "USD"), usd, "%s USD", id);
    CHECK_INT_EQ(amount(p, "CNY"), cny, "%s CNY", id);
}

static void test_defaults(void)
{
    char *err = NULL;
    struct catalog *c =
        catalog_parse(catalog_default_json, strlen(catalog_default_json), "built-in catalog", &err);
    CHECK(c != NULL && err == NULL, "the built-in catalog parses: %s", err ? err : "");
    if (c == NULL)
        return;
    CHECK_INT_EQ(c->n_products, 7, "3 packs + 4 plan periods");
    CHECK_INT_EQ(c->n_plans, 2, "2 plans");
    check_pack(c, "credits_115", 115, 990, 6800);
    check_pack(c, "credits_355", 355, 3000, 19800);
    check_pack(c, "credits_1450", 1450, 9900, 69800);
    check_plan(c, "pro_monthly", "pro", CATALOG_PERIOD_MONTH, 300, 1990, 12800);
    check_plan(c, "pro_yearly", "pro", CATALOG_PERIOD_YEAR, 300, 19900, 128000);
    check_plan(c, "max_monthly", "max", CATALOG_PERIOD_MONTH, 900, 4990, 32800);
    check_plan(c, "max_yearly", "max", CATALOG_PERIOD_YEAR, 900, 49900, 328000);
    /* Order: packs first in file order, then the plans' periods. */
    static const char *const order[] = {"credits_115", "credits_355", "credits_1450", "pro_monthly",
                                        "pro_yearly",  "max_monthly", "max_yearly"};
    for (size_t i = 0; i < 7; i++)
        CHECK_STR_EQ(c->products[i].id, order[i], "product %zu in order", i);
    CHECK(catalog_lookup(c, "pro") == NULL, "a plan id is not a product to buy");
    CHECK(catalog_lookup(c, "credits_999") == NULL, "unknown id -> NULL");
    CHECK(catalog_price(catalog_lookup(c, "credits_115"), "EUR") == NULL, "no EUR price in the defaults");

    const struct catalog_plan *pro = catalog_lookup(c, "pro_monthly")->plan;
    const struct catalog_features *en = catalog_plan_features(pro, "en-US");
    const struct catalog_features *zh = catalog_plan_features(pro, "zh-CN");
    CHECK(en && strcmp(en->locale, "en-US") == 0 && en->n == 4, "pro has 4 en-US features");
    CHECK(zh && strcmp(zh->locale, "zh-CN") == 0 && zh->n == 4, "pro has 4 zh-CN features");
    CHECK_STR_EQ(zh ? zh->items[0] : NULL, "每月 300 积分", "zh-CN features are Chinese");
    CHECK(catalog_plan_features(pro, "fr-FR") == en, "another locale falls back to en-US");
    CHECK(catalog_plan_features(pro, NULL) == en, "no locale falls back to en-US");
    catalog_free(c);
}

static void test_good_file(void)
{
    char *err = NULL;
    const char *doc = "{\"packs\":[{\"id\":\"p_1\",\"credits\":10,\"prices\":{\"JPY\":150,\"USD\":99},"
                      "\"creem_product_id\":\"prod_ABC\",\"stripe_price_id\":\"price_123\"}],"
                      "\"plans\":[{\"id\":\"solo\",\"credits_per_month\":1000000000,"
                      "\"features\":{\"zh-CN\":[\"一\"]},"
                      "\"periods\":[{\"id\":\"solo_y\",\"period\":\"year\",\"prices\":{\"CNY\":10000000000},"
                      "\"creem_product_id\":\"prod_Y\"}]}]}";
    struct catalog *c = parse(doc, &err);
    CHECK(c != NULL, "a full custom file parses: %s", err ? err : "");
    if (c == NULL)
        return;
    const struct catalog_product *p = catalog_lookup(c, "p_1");
    CHECK_INT_EQ(amount(p, "JPY"), 150, "JPY price");
    CHECK_INT_EQ(catalog_currency_exponent("JPY"), 0, "JPY has no minor unit");
    CHECK_INT_EQ(catalog_currency_exponent("USD"), 2, "USD cents");
    CHECK_INT_EQ(catalog_currency_exponent("CNY"), 2, "CNY fen");
    CHECK_INT_EQ(catalog_currency_exponent("XBT"), -1, "unknown currency");
    CHECK_STR_EQ(catalog_provider_id(p, "creem_product_id"), "prod_ABC", "Creem product id");
    CHECK_STR_EQ(catalog_provider_id(p, "stripe_price_id"), "price_123", "Stripe price id");
    CHECK(catalog_provider_id(p, "paypal_id") == NULL, "no other provider key");
    const struct catalog_product *y = catalog_lookup(c, "solo_y");
    CHECK(y && y->kind == CATALOG_PLAN && y->period == CATALOG_PERIOD_YEAR && y->credits == 1000000000,
          "bounds are inclusive (credits 1e9)");
    CHECK_INT_EQ(amount(y, "CNY"), CATALOG_MAX_AMOUNT, "amount at the bound");
    CHECK(amount(y, "USD") == -1, "a plan without a USD price is not offered in USD");
    CHECK(catalog_plan_features(y->plan, "en-US") == &y->plan->features[0],
          "only zh-CN: that one for every locale");
    CHECK_STR_EQ(catalog_provider_id(y, "creem_product_id"), "prod_Y", "a period's own Creem product");
    catalog_free(c);

    c = parse("{\"packs\":[{\"id\":\"x234567890123456789012345678901234567890123456789012345678901234\","
              "\"credits\":1,\"prices\":{\"USD\":1}}]}",
              &err);
    CHECK(c != NULL &&
              catalog_lookup(c, "x234567890123456789012345678901234567890123456789012345678901234") != NULL,
          "a 64-character id is accepted");
    catalog_free(c);
    c = parse("{}", &err);
    CHECK(c != NULL && c->n_products == 0, "an empty catalog sells nothing");
    catalog_free(c);
    c = parse("{\"packs\":[],\"plans\":[]}", &err);
    CHECK(c != NULL && c->n_products == 0 && c->n_plans == 0, "empty sections");
    catalog_free(c);
}

/* Each document is refused with exactly this message. */
static void refused(const char *doc, const char *want)
{
    char *err = NULL;
    struct catalog *c = parse(doc, &err);
    CHECK(c == NULL, "refused: %s", doc);
    CHECK_STR_EQ(err, want, "message for %s", doc);
    catalog_free(c);
    free(err);
}

#define PACK(inner) "{\"packs\":[{\"id\":\"a\",\"credits\":1,\"prices\":{\"USD\":1}}," inner "]}"
#define PLAN(inner) "{\"plans\":[" inner "]}"

static void test_bad_files(void)
{
    refused("", "test.json: line 1 column 0: not valid JSON: '[' or '{' expected near end of file");
    refused("[]", "test.json: $: must be a JSON object with \"packs\" and \"plans\"");
    refused("{\"prices\":{}}", "test.json: $: unknown key \"prices\"");
    refused("{\"packs\":[],\"packs\":[]}",
            "test.json: line 1 column 19: not valid JSON: duplicate object key near '\"packs\"'");
    refused("{\"packs\":{}}", "test.json: packs: must be an array");
    refused("{\"packs\":[1]}", "test.json: packs[0]: must be an object");
    refused(PACK("{\"credits\":1,\"prices\":{\"USD\":1}}"), "test.json: packs[1]: \"id\" is required");
    refused(PACK("{\"id\":\"B\",\"credits\":1,\"prices\":{\"USD\":1}}"),
            "test.json: packs[1].id: must be 1 to 64 characters of a-z, 0-9 and _");
    refused(PACK("{\"id\":\"\",\"credits\":1,\"prices\":{\"USD\":1}}"),
            "test.json: packs[1].id: must be 1 to 64 characters of a-z, 0-9 and _");
    refused(PACK("{\"id\":\"a-b\",\"credits\":1,\"prices\":{\"USD\":1}}"),
            "test.json: packs[1].id: must be 1 to 64 characters of a-z, 0-9 and _");
    refused(
        PACK("{\"id\":\"x2345678901234567890123456789012345678901234567890123456789012345\",\"credits\":1,"
             "\"prices\":{\"USD\":1}}"),
        "test.json: packs[1].id: must be 1 to 64 characters of a-z, 0-9 and _");
    refused(PACK("{\"id\":7,\"credits\":1,\"prices\":{\"USD\":1}}"),
            "test.json: packs[1].id: must be 1 to 64 characters of a-z, 0-9 and _");
    refused(PACK("{\"id\":\"a\",\"credits\":1,\"prices\":{\"USD\":1}}"),
            "test.json: packs[1].id: \"a\" is used twice");
    refused(PACK("{\"id\":\"b\",\"prices\":{\"USD\":1}}"), "test.json: packs[1]: \"credits\" is required");
    refused(PACK("{\"id\":\"b\",\"credits\":0,\"prices\":{\"USD\":1}}"),
            "test.json: packs[1].credits: must be an integer from 1 to 1000000000");
    refused(PACK("{\"id\":\"b\",\"credits\":1000000001,\"prices\":{\"USD\":1}}"),
            "test.json: packs[1].credits: must be an integer from 1 to 1000000000");
    refused(PACK("{\"id\":\"b\",\"credits\":1.5,\"prices\":{\"USD\":1}}"),
            "test.json: packs[1].credits: must be an integer from 1 to 1000000000");
    refused(PACK("{\"id\":\"b\",\"credits\":\"5\",\"prices\":{\"USD\":1}}"),
            "test.json: packs[1].credits: must be an integer from 1 to 1000000000");
    refused(PACK("{\"id\":\"b\",\"credits\":1}"), "test.json: packs[1]: \"prices\" is required");
    refused(PACK("{\"id\":\"b\",\"credits\":1,\"prices\":{}}"),
            "test.json: packs[1].prices: must be an object of at least one currency: amount in minor units");
    refused(PACK("{\"id\":\"b\",\"credits\":1,\"prices\":{\"EURO\":1}}"),
            "test.json: packs[1].prices.EURO: unknown currency (known: USD, CNY, EUR, GBP, HKD, JPY)");
    refused(PACK("{\"id\":\"b\",\"credits\":1,\"prices\":{\"usd\":1}}"),
            "test.json: packs[1].prices.usd: unknown currency (known: USD, CNY, EUR, GBP, HKD, JPY)");
    refused(PACK("{\"id\":\"b\",\"credits\":1,\"prices\":{\"USD\":0}}"),
            "test.json: packs[1].prices.USD: must be an integer amount in minor units from 1 to 10000000000");
    refused(PACK("{\"id\":\"b\",\"credits\":1,\"prices\":{\"USD\":-990}}"),
            "test.json: packs[1].prices.USD: must be an integer amount in minor units from 1 to 10000000000");
    refused(PACK("{\"id\":\"b\",\"credits\":1,\"prices\":{\"USD\":9.9}}"),
            "test.json: packs[1].prices.USD: must be an integer amount in minor units from 1 to 10000000000");
    refused(PACK("{\"id\":\"b\",\"credits\":1,\"prices\":{\"USD\":10000000001}}"),
            "test.json: packs[1].prices.USD: must be an integer amount in minor units from 1 to 10000000000");
    refused(PACK("{\"id\":\"b\",\"credits\":1,\"prices\":{\"USD\":99999999999999999999}}"),
            "test.json: line 1 column 110: not valid JSON: too big integer near '99999999999999999999'");
    refused(PACK("{\"id\":\"b\",\"credits\":1,\"prices\":{\"USD\":1},\"price\":1}"),
            "test.json: packs[1]: unknown key \"price\"");
    refused(
        PACK("{\"id\":\"b\",\"credits\":1,\"prices\":{\"USD\":1},\"creem_product_id\":\"\"}"),
        "test.json: packs[1].creem_product_id: must be 1 to 128 printable ASCII characters without blanks");
    refused(
        PACK("{\"id\":\"b\",\"credits\":1,\"prices\":{\"USD\":1},\"stripe_price_id\":\"a b\"}"),
        "test.json: packs[1].stripe_price_id: must be 1 to 128 printable ASCII characters without blanks");

    refused(PLAN("{\"id\":\"p\",\"credits_per_month\":1}"), "test.json: plans[0]: \"periods\" is required");
    refused(PLAN("{\"id\":\"p\",\"periods\":[]}"), "test.json: plans[0]: \"credits_per_month\" is required");
    refused(PLAN("{\"id\":\"p\",\"credits_per_month\":1,\"periods\":[]}"),
            "test.json: plans[0].periods: must be an array of one or two periods");
    refused(PLAN("{\"id\":\"p\",\"credits_per_month\":1,\"periods\":[{\"id\":\"p_m\",\"period\":\"week\","
                 "\"prices\":{\"USD\":1}}]}"),
            "test.json: plans[0].periods[0].period: must be \"month\" or \"year\"");
    refused(
        PLAN("{\"id\":\"p\",\"credits_per_month\":1,\"periods\":[{\"id\":\"p_m\",\"prices\":{\"USD\":1}}]}"),
        "test.json: plans[0].periods[0]: \"period\" is required");
    refused(PLAN("{\"id\":\"p\",\"credits_per_month\":1,\"periods\":[{\"id\":\"p_m\",\"period\":\"month\","
                 "\"prices\":{\"USD\":1}},{\"id\":\"p_n\",\"period\":\"month\",\"prices\":{\"USD\":1}}]}"),
            "test.json: plans[0].periods[1].period: the plan already has a \"month\" period");
    refused(PLAN("{\"id\":\"p\",\"credits_per_month\":1,\"periods\":[{\"id\":\"p\",\"period\":\"month\","
                 "\"prices\":{\"USD\":1}}]}"),
            "test.json: plans[0].periods[0].id: \"p\" is used twice");
    refused(PLAN("{\"id\":\"p\",\"credits_per_month\":1,\"periods\":[{\"id\":\"p_m\",\"period\":\"month\","
                 "\"prices\":{\"USD\":1},\"credits\":5}]}"),
            "test.json: plans[0].periods[0]: unknown key \"credits\"");
    refused(PLAN("{\"id\":\"p\",\"credits_per_month\":1,\"features\":{\"fr-FR\":[]},\"periods\":[]}"),
            "test.json: plans[0].features.fr-FR: unknown locale (known: en-US, zh-CN)");
    refused(PLAN("{\"id\":\"p\",\"credits_per_month\":1,\"features\":[\"x\"],\"periods\":[]}"),
            "test.json: plans[0].features: must be an object of locale: list of strings");
    refused(
        PLAN("{\"id\":\"p\",\"credits_per_month\":1,\"features\":{\"en-US\":[\"ok\",\"\"]},\"periods\":[]}"),
        "test.json: plans[0].features.en-US[1]: must be a string of 1 to 200 bytes without control "
        "characters");
    refused(
        PLAN("{\"id\":\"p\",\"credits_per_month\":1,\"features\":{\"en-US\":[\"a\\nb\"]},\"periods\":[]}"),
        "test.json: plans[0].features.en-US[0]: must be a string of 1 to 200 bytes without control "
        "characters");
    refused(PLAN("{\"id\":\"p\",\"credits_per_month\":1,\"features\":{\"en-US\":\"x\"},\"periods\":[]}"),
            "test.json: plans[0].features.en-US: must be an array of at most 32 strings");
    refused(
        "{\"packs\":[{\"id\":\"pro\",\"credits\":1,\"prices\":{\"USD\":1}}],\"plans\":[{\"id\":\"pro\"}]}",
        "test.json: plans[0].id: \"pro\" is used twice");
    refused("{\"packs\":[{\"id\":\"x\",\"credits\":1,\"prices\":{\"USD\":1},\"\\u0000\":1}]}",
            "test.json: line 1 column 59: not valid JSON: NUL byte in object key not supported near "
            "'\"\\u0000\"'");
    refused("{\"packs\":[{\"id\":\"x\",\"credits\":1,\"prices\":{\"USD\":1},\"\xe2\x82\xacx\":1}]}",
            "test.json: packs[0]: unknown key \"???x\"");

    /* Too many products. */
    struct sbuf b = {0};
    sbuf_puts(&b, "{\"packs\":[");
    for (int i = 0; i <= CATALOG_MAX_PRODUCTS; i++)
        sbuf_printf(&b, "%s{\"id\":\"p%d\",\"credits\":1,\"prices\":{\"USD\":1}}", i ? "," : "", i);
    sbuf_puts(&b, "]}");
    refused(b.data, "test.json: packs[64]: more than 64 products");
    sbuf_free(&b);

    /* Too large: refused before parsing. */
    char *err = NULL;
    CHECK(catalog_parse("{}", CATALOG_FILE_MAX + 1, "big.json", &err) == NULL, "larger than 1 MiB refused");
    CHECK_STR_EQ(err, "big.json: $: larger than 1 MiB", "size message");
    free(err);
}

static void test_task_prices(void)
{
    char *err = NULL;
    const char *unit = NULL;
    int64_t credits = -1;
    CHECK_INT_EQ(catalog_init(NULL, &err), 0, "defaults");
    CHECK(catalog_task_price(2, NULL, &unit, &credits) == 0 && strcmp(unit, "task") == 0 && credits == 10,
          "a Veo3 video is 10 credits (seeds)");
    CHECK(catalog_task_price(3, "", &unit, &credits) == 0 && strcmp(unit, "task") == 0 && credits == 2,
          "an image is 2 credits");
    CHECK(catalog_task_price(0, "wan-std", &unit, &credits) == 0 && strcmp(unit, "second") == 0 &&
              credits == 1,
          "animate_move wan-std: 1 credit per second");
    CHECK(catalog_task_price(1, "wan-pro", &unit, &credits) == 0 && credits == 2, "animate_mix wan-pro: 2");
    CHECK_INT_EQ(catalog_task_price(0, NULL, &unit, &credits), -1, "animation needs a mode");
    CHECK_INT_EQ(catalog_task_price(0, "wan-max", &unit, &credits), -1, "an unknown mode");
    CHECK_INT_EQ(catalog_task_price(4, NULL, &unit, &credits), -1, "an unknown kind");

    struct catalog *c = parse("{\"tasks\":{\"image\":{\"credits\":3}}}", &err);
    CHECK(c != NULL && c->tasks[3].credits == 3 && !c->tasks[3].per_second, "a kind given is priced");
    CHECK(c != NULL && c->tasks[2].credits == 10 && c->tasks[0].per_second_by_mode[1] == 2,
          "kinds not given keep the built-in prices");
    catalog_free(c);
    refused("{\"tasks\":[]}", "test.json: tasks: must be an object");
    refused("{\"tasks\":{\"video\":{}}}", "test.json: tasks: unknown key \"video\"");
    refused("{\"tasks\":{\"image\":{\"credits\":0}}}",
            "test.json: tasks.image.credits: must be an integer from 1 to 1000000000");
    refused("{\"tasks\":{\"image\":{\"per_second\":{}}}}", "test.json: tasks.image: unknown key \"per_second\"");
    refused("{\"tasks\":{\"animate_mix\":{\"credits\":3}}}",
            "test.json: tasks.animate_mix: unknown key \"credits\"");
    refused("{\"tasks\":{\"animate_mix\":{\"per_second\":{\"wan-std\":1}}}}",
            "test.json: tasks.animate_mix.per_second: \"wan-pro\" is required");
    refused("{\"tasks\":{\"animate_move\":{\"per_second\":{\"wan-std\":1,\"wan-pro\":277778}}}}",
            "test.json: tasks.animate_move.per_second.wan-pro: must be an integer from 1 to 277777");
    catalog_shutdown();
}

static void test_init(void)
{
    char *err = NULL;
    char path[] = "/tmp/tg_catalog_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0, "temporary file");
    const char *doc = "{\"packs\":[{\"id\":\"only\",\"credits\":5,\"prices\":{\"CNY\":100}}]}";
    CHECK((size_t)write(fd, doc, strlen(doc)) == strlen(doc), "written");
    close(fd);

    CHECK(catalog_find("credits_115") == NULL, "nothing before catalog_init");
    CHECK_INT_EQ(catalog_init(NULL, &err), 0, "defaults when TG_CATALOG is unset");
    CHECK(catalog_find("credits_115") != NULL && catalog_find("only") == NULL, "defaults loaded");
    CHECK_INT_EQ(catalog_init(path, &err), 0, "a file when set");
    CHECK(catalog_find("credits_115") == NULL && catalog_find("only") != NULL,
          "the file replaces the defaults");

    FILE *f = fopen(path, "w");
    fputs("{\"packs\":[{\"id\":\"only\",\"credits\":5,\"prices\":{\"CNY\":0}}]}", f);
    fclose(f);
    CHECK_INT_EQ(catalog_init(path, &err), -1, "a bad file fails");
    char *want =
        xasprintf("TG_CATALOG %s: packs[0].prices.CNY: must be an integer amount in minor units from 1 "
                  "to 10000000000",
                  path);
    CHECK_STR_EQ(err, want, "the message names TG_CATALOG, the file and the JSON path");
    free(want);
    free(err);
    CHECK(catalog_find("only") != NULL, "a failed load keeps the previous catalog");

    unlink(path);
    CHECK_INT_EQ(catalog_init(path, &err), -1, "a missing file fails");
    want = xasprintf("TG_CATALOG %s: No such file or directory", path);
    CHECK_STR_EQ(err, want, "missing file message");
    free(want);
    free(err);
    catalog_shutdown();
    CHECK(catalog_find("only") == NULL, "shut down");
}

int main(void)
{
    test_defaults();
    test_good_file();
    test_bad_files();
    test_task_prices();
    test_init();
    return test_done();
}
