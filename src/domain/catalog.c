/*
 * catalog.c - the product catalog: parser, built-in defaults, lookups (catalog.h).
 *
 * The parser checks everything once, at start, so the rest of the program can trust a
 * product it finds: ids follow the id grammar, credits and amounts are within bounds,
 * currencies are known. Messages name the JSON path of the problem so an operator can find
 * it in a file of any size.
 */
#include "domain/catalog.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/config.h"
#include "core/mem.h"

/*
 * The built-in catalog: the credit packs of the payments issue and the plans of the
 * subscriptions issue (prices from the seeds' pricing cards). docs/CATALOG.md shows it.
 */
const char catalog_default_json[] =
    "{\n"
    "  \"packs\": [\n"
    "    {\"id\": \"credits_115\", \"credits\": 115, \"prices\": {\"USD\": 990, \"CNY\": 6800}},\n"
    "    {\"id\": \"credits_355\", \"credits\": 355, \"prices\": {\"USD\": 3000, \"CNY\": 19800}},\n"
    "    {\"id\": \"credits_1450\", \"credits\": 1450, \"prices\": {\"USD\": 9900, \"CNY\": 69800}}\n"
    "  ],\n"
    "  \"plans\": [\n"
    "    {\"id\": \"pro\", \"credits_per_month\": 300,\n"
    "     \"features\": {\n"
    "       \"en-US\": [\"300 credits every month\", \"About 30 Veo3 videos a month\", \"Unused credits last "
    "until the period ends\", \"Cancel any time\"],\n"
    "       \"zh-CN\": [\"每月 300 积分\", \"每月约 30 个 Veo3 视频\", \"未用积分在本周期内有效\", "
    "\"随时取消\"]\n"
    "     },\n"
    "     \"periods\": [\n"
    "       {\"id\": \"pro_monthly\", \"period\": \"month\", \"prices\": {\"USD\": 1990, \"CNY\": 12800}},\n"
    "       {\"id\": \"pro_yearly\", \"period\": \"year\", \"prices\": {\"USD\": 19900, \"CNY\": 128000}}\n"
    "     ]},\n"
    "    {\"id\": \"max\", \"credits_per_month\": 900,\n"
    "     \"features\": {\n"
    "       \"en-US\": [\"900 credits every month\", \"About 90 Veo3 videos a month\", \"Unused credits last "
    "until the period ends\", \"Priority support\", \"Cancel any time\"],\n"
    "       \"zh-CN\": [\"每月 900 积分\", \"每月约 90 个 Veo3 视频\", \"未用积分在本周期内有效\", "
    "\"优先支持\", \"随时取消\"]\n"
    "     },\n"
    "     \"periods\": [\n"
    "       {\"id\": \"max_monthly\", \"period\": \"month\", \"prices\": {\"USD\": 4990, \"CNY\": 32800}},\n"
    "       {\"id\": \"max_yearly\", \"period\": \"year\", \"prices\": {\"USD\": 49900, \"CNY\": 328000}}\n"
    "     ]}\n"
    "  ],\n"
    "  \"tasks\": {\n"
    "    \"animate_move\": {\"per_second\": {\"wan-std\": 1, \"wan-pro\": 2}},\n"
    "    \"animate_mix\": {\"per_second\": {\"wan-std\": 1, \"wan-pro\": 2}},\n"
    "    \"text_to_video\": {\"credits\": 10},\n"
    "    \"image\": {\"credits\": 2}\n"
    "  }\n"
    "}\n";

const char *const catalog_task_kinds[CATALOG_TASK_KINDS] = {"animate_move", "animate_mix", "text_to_video",
                                                            "image"};
const char *const catalog_task_modes[CATALOG_TASK_MODES] = {"wan-std", "wan-pro"};

/* What a kind costs when a catalog does not say: the built-in document's prices (seeds: a
 * Veo3 video is 10 credits; an image 2; animation by the second of output, the professional
 * mode twice the standard one). catalog_parse starts every catalog from these. */
static const struct catalog_task_price catalog_task_defaults[CATALOG_TASK_KINDS] = {
    {1, 0, {1, 2}},
    {1, 0, {1, 2}},
    {0, 10, {0, 0}},
    {0, 2, {0, 0}},
};

/* Known currencies and their minor-unit exponent (ISO 4217's table). A currency outside
 * this list is refused: its exponent decides how an amount is shown and charged. */
static const struct {
    const char *code;
    int exponent;
} catalog_currencies[] = {
    {"USD", 2}, {"CNY", 2}, {"EUR", 2}, {"GBP", 2}, {"HKD", 2}, {"JPY", 0},
};
#define CATALOG_N_CURRENCIES (sizeof catalog_currencies / sizeof catalog_currencies[0])

/* Locales a feature list may be written in (the web UI's languages). */
static const char *const catalog_locales[] = {"en-US", "zh-CN", NULL};

int catalog_currency_exponent(const char *currency)
{
    for (size_t i = 0; i < CATALOG_N_CURRENCIES; i++)
        if (strcmp(catalog_currencies[i].code, currency) == 0)
            return catalog_currencies[i].exponent;
    return -1;
}

const char *catalog_period_name(enum catalog_period period)
{
    switch (period) {
    case CATALOG_PERIOD_MONTH:
        return "month";
    case CATALOG_PERIOD_YEAR:
        return "year";
    default:
        return NULL;
    }
}

/* ---- the parser ---------------------------------------------------------------------------- */

struct cat_ctx {
    const char *source;
    char **err;
    struct catalog *c;
};

/* Sets *err to "SOURCE: PATH: message" (the first problem only). Returns -1. */
static int cat_fail(struct cat_ctx *x, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int cat_fail(struct cat_ctx *x, const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = xvasprintf(fmt, ap);
    va_end(ap);
    if (*x->err == NULL)
        *x->err = xasprintf("%s: %s: %s", x->source, path, msg);
    free(msg);
    return -1;
}

/* Writes a JSON path (bounded: a path too deep to fit is cut, which only shortens a
 * message). */
static void cat_path(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void cat_path(char *out, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, cap, fmt, ap);
    va_end(ap);
}

/* A key as shown in a path: a bounded, printable prefix (keys are any JSON text), so a
 * message stays one short line. */
static void cat_key_shown(const char *key, char out[40])
{
    size_t n = 0;
    for (const char *p = key; *p && n < 39; p++)
        out[n++] = ((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f) ? *p : '?';
    out[n] = '\0';
}

/* Refuses keys outside allowed (NULL-terminated). */
static int cat_only(struct cat_ctx *x, const char *path, json_t *obj, const char *const allowed[])
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        size_t i = 0;
        while (allowed[i] != NULL && strcmp(allowed[i], key) != 0)
            i++;
        if (allowed[i] == NULL) {
            char shown[40];
            cat_key_shown(key, shown);
            return cat_fail(x, path, "unknown key \"%s\"", shown);
        }
    }
    (void)v;
    return 0;
}

/* [a-z0-9_]{1,64} */
static int cat_id_ok(const char *s, size_t n)
{
    if (n < 1 || n >= CATALOG_ID_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return 0;
    return 1;
}

/* Ids share one namespace: products and plans alike (an order names one of them). */
static int cat_id_taken(const struct catalog *c, const char *id)
{
    for (size_t i = 0; i < c->n_products; i++)
        if (strcmp(c->products[i].id, id) == 0)
            return 1;
    for (size_t i = 0; i < c->n_plans; i++)
        if (strcmp(c->plans[i].id, id) == 0)
            return 1;
    return 0;
}

/* Reads the required "id" of obj into out (CATALOG_ID_MAX bytes), unique in the catalog. */
static int cat_id(struct cat_ctx *x, const char *path, json_t *obj, char *out)
{
    char where[128];
    json_t *v = json_object_get(obj, "id");
    cat_path(where, sizeof where, "%s.id", path);
    if (v == NULL)
        return cat_fail(x, path, "\"id\" is required");
    if (!json_is_string(v) || !cat_id_ok(json_string_value(v), json_string_length(v)))
        return cat_fail(x, where, "must be 1 to 64 characters of a-z, 0-9 and _");
    if (cat_id_taken(x->c, json_string_value(v)))
        return cat_fail(x, where, "\"%s\" is used twice", json_string_value(v));
    memcpy(out, json_string_value(v), json_string_length(v) + 1);
    return 0;
}

/* A required integer key within 1..max. */
static int cat_count(struct cat_ctx *x, const char *path, json_t *obj, const char *key, int64_t max,
                     int64_t *out)
{
    char where[128];
    json_t *v = json_object_get(obj, key);
    cat_path(where, sizeof where, "%s.%s", path, key);
    if (v == NULL)
        return cat_fail(x, path, "\"%s\" is required", key);
    if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > max)
        return cat_fail(x, where, "must be an integer from 1 to %lld", (long long)max);
    *out = (int64_t)json_integer_value(v);
    return 0;
}

/* "prices": {"USD": 990, ...}, at least one, known currencies, amounts in bounds. */
static int cat_prices(struct cat_ctx *x, const char *path, json_t *obj, struct catalog_product *p)
{
    char where[160];
    const char *cur;
    json_t *v, *prices = json_object_get(obj, "prices");
    cat_path(where, sizeof where, "%s.prices", path);
    if (prices == NULL)
        return cat_fail(x, path, "\"prices\" is required");
    if (!json_is_object(prices) || json_object_size(prices) == 0)
        return cat_fail(x, where, "must be an object of at least one currency: amount in minor units");
    json_object_foreach(prices, cur, v)
    {
        char at[200], shown[40];
        cat_key_shown(cur, shown);
        cat_path(at, sizeof at, "%s.%s", where, shown);
        if (catalog_currency_exponent(cur) < 0)
            return cat_fail(x, at, "unknown currency (known: USD, CNY, EUR, GBP, HKD, JPY)");
        if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > CATALOG_MAX_AMOUNT)
            return cat_fail(x, at, "must be an integer amount in minor units from 1 to %lld",
                            (long long)CATALOG_MAX_AMOUNT);
        /* Known currencies are distinct keys (duplicates are refused by the JSON reader),
         * so n_prices never exceeds the array. */
        if (p->n_prices >= sizeof p->prices / sizeof p->prices[0])
            return cat_fail(x, where, "too many currencies");
        memcpy(p->prices[p->n_prices].currency, cur, 4);
        p->prices[p->n_prices].amount = (int64_t)json_integer_value(v);
        p->n_prices++;
    }
    return 0;
}

/* An optional provider product id: printable ASCII without blanks, 1..128 bytes. */
static int cat_provider_id(struct cat_ctx *x, const char *path, json_t *obj, const char *key, char *out)
{
    char where[160];
    json_t *v = json_object_get(obj, key);
    out[0] = '\0';
    if (v == NULL)
        return 0;
    cat_path(where, sizeof where, "%s.%s", path, key);
    size_t n = json_is_string(v) ? json_string_length(v) : 0;
    const char *s = json_is_string(v) ? json_string_value(v) : "";
    int ok = n >= 1 && n < CATALOG_PROVIDER_ID_MAX;
    for (size_t i = 0; ok && i < n; i++)
        ok = (unsigned char)s[i] > 0x20 && (unsigned char)s[i] < 0x7f;
    if (!ok)
        return cat_fail(x, where, "must be 1 to 128 printable ASCII characters without blanks");
    memcpy(out, s, n + 1);
    return 0;
}

/* A new product slot, or NULL (error set) when the catalog is full. */
static struct catalog_product *cat_new_product(struct cat_ctx *x, const char *path)
{
    if (x->c->n_products >= CATALOG_MAX_PRODUCTS) {
        cat_fail(x, path, "more than %d products", CATALOG_MAX_PRODUCTS);
        return NULL;
    }
    struct catalog_product *p = &x->c->products[x->c->n_products];
    memset(p, 0, sizeof *p);
    return p;
}

static int cat_packs(struct cat_ctx *x, json_t *packs)
{
    static const char *const allowed[] = {"id", "credits", "prices", "creem_product_id", "stripe_price_id",
                                          NULL};
    size_t i;
    json_t *o;
    if (!json_is_array(packs))
        return cat_fail(x, "packs", "must be an array");
    json_array_foreach(packs, i, o)
    {
        char path[64];
        cat_path(path, sizeof path, "packs[%zu]", i);
        struct catalog_product *p = cat_new_product(x, path);
        if (p == NULL)
            return -1;
        if (!json_is_object(o))
            return cat_fail(x, path, "must be an object");
        if (cat_only(x, path, o, allowed) != 0 || cat_id(x, path, o, p->id) != 0 ||
            cat_count(x, path, o, "credits", CATALOG_MAX_CREDITS, &p->credits) != 0 ||
            cat_prices(x, path, o, p) != 0 ||
            cat_provider_id(x, path, o, "creem_product_id", p->creem_product_id) != 0 ||
            cat_provider_id(x, path, o, "stripe_price_id", p->stripe_price_id) != 0)
            return -1;
        p->kind = CATALOG_PACK;
        p->period = CATALOG_PERIOD_NONE;
        x->c->n_products++;
    }
    return 0;
}

/* "features": {"en-US": ["...", ...], "zh-CN": [...]} */
static int cat_features(struct cat_ctx *x, const char *path, json_t *obj, struct catalog_plan *plan)
{
    char where[128];
    const char *loc;
    json_t *list, *f = json_object_get(obj, "features");
    if (f == NULL)
        return 0;
    cat_path(where, sizeof where, "%s.features", path);
    if (!json_is_object(f))
        return cat_fail(x, where, "must be an object of locale: list of strings");
    plan->features = xcalloc(json_object_size(f) + 1, sizeof *plan->features);
    json_object_foreach(f, loc, list)
    {
        char at[160], shown[40];
        size_t k = 0, j;
        json_t *s;
        cat_key_shown(loc, shown);
        cat_path(at, sizeof at, "%s.%s", where, shown);
        while (catalog_locales[k] != NULL && strcmp(catalog_locales[k], loc) != 0)
            k++;
        if (catalog_locales[k] == NULL)
            return cat_fail(x, at, "unknown locale (known: en-US, zh-CN)");
        if (!json_is_array(list) || json_array_size(list) > CATALOG_MAX_FEATURES)
            return cat_fail(x, at, "must be an array of at most %d strings", CATALOG_MAX_FEATURES);
        struct catalog_features *cf = &plan->features[plan->n_features++];
        snprintf(cf->locale, sizeof cf->locale, "%s", loc);
        cf->items = xcalloc(json_array_size(list) + 1, sizeof *cf->items);
        json_array_foreach(list, j, s)
        {
            char item[192];
            cat_path(item, sizeof item, "%s[%zu]", at, j);
            size_t n = json_is_string(s) ? json_string_length(s) : 0;
            int ok = n >= 1 && n <= CATALOG_FEATURE_MAX;
            /* Valid UTF-8 already (jansson); no control characters for a pricing page. */
            for (size_t b = 0; ok && b < n; b++)
                ok = (unsigned char)json_string_value(s)[b] >= 0x20 && json_string_value(s)[b] != 0x7f;
            if (!ok)
                return cat_fail(x, item, "must be a string of 1 to %d bytes without control characters",
                                CATALOG_FEATURE_MAX);
            cf->items[cf->n++] = xstrdup(json_string_value(s));
        }
    }
    return 0;
}

static int cat_period(struct cat_ctx *x, const char *path, json_t *o, struct catalog_plan *plan,
                      unsigned *seen)
{
    static const char *const allowed[] = {"id", "period", "prices", "creem_product_id", "stripe_price_id",
                                          NULL};
    char where[128];
    struct catalog_product *p = cat_new_product(x, path);
    if (p == NULL)
        return -1;
    if (!json_is_object(o))
        return cat_fail(x, path, "must be an object");
    if (cat_only(x, path, o, allowed) != 0 || cat_id(x, path, o, p->id) != 0)
        return -1;
    json_t *v = json_object_get(o, "period");
    cat_path(where, sizeof where, "%s.period", path);
    if (v == NULL)
        return cat_fail(x, path, "\"period\" is required");
    if (json_is_string(v) && strcmp(json_string_value(v), "month") == 0)
        p->period = CATALOG_PERIOD_MONTH;
    else if (json_is_string(v) && strcmp(json_string_value(v), "year") == 0)
        p->period = CATALOG_PERIOD_YEAR;
    else
        return cat_fail(x, where, "must be \"month\" or \"year\"");
    if (*seen & (1u << p->period))
        return cat_fail(x, where, "the plan already has a \"%s\" period", catalog_period_name(p->period));
    *seen |= 1u << p->period;
    if (cat_prices(x, path, o, p) != 0 ||
        cat_provider_id(x, path, o, "creem_product_id", p->creem_product_id) != 0 ||
        cat_provider_id(x, path, o, "stripe_price_id", p->stripe_price_id) != 0)
        return -1;
    p->kind = CATALOG_PLAN;
    p->credits = plan->credits_per_month;
    p->plan = plan;
    x->c->n_products++;
    return 0;
}

static int cat_plans(struct cat_ctx *x, json_t *plans)
{
    static const char *const allowed[] = {"id", "credits_per_month", "features", "periods", NULL};
    size_t i;
    json_t *o;
    if (!json_is_array(plans))
        return cat_fail(x, "plans", "must be an array");
    if (json_array_size(plans) > CATALOG_MAX_PRODUCTS)
        return cat_fail(x, "plans", "more than %d plans", CATALOG_MAX_PRODUCTS);
    /* Allocated whole up front: products point into this array. */
    x->c->plans = xcalloc(json_array_size(plans) + 1, sizeof *x->c->plans);
    json_array_foreach(plans, i, o)
    {
        char path[64], where[96];
        size_t j;
        json_t *per;
        unsigned seen = 0;
        struct catalog_plan *plan = &x->c->plans[i];
        cat_path(path, sizeof path, "plans[%zu]", i);
        if (!json_is_object(o))
            return cat_fail(x, path, "must be an object");
        if (cat_only(x, path, o, allowed) != 0 || cat_id(x, path, o, plan->id) != 0)
            return -1;
        x->c->n_plans++; /* from here on freed with the catalog, and its id taken */
        if (cat_count(x, path, o, "credits_per_month", CATALOG_MAX_CREDITS, &plan->credits_per_month) != 0 ||
            cat_features(x, path, o, plan) != 0)
            return -1;
        json_t *periods = json_object_get(o, "periods");
        cat_path(where, sizeof where, "%s.periods", path);
        if (periods == NULL)
            return cat_fail(x, path, "\"periods\" is required");
        if (!json_is_array(periods) || json_array_size(periods) == 0)
            return cat_fail(x, where, "must be an array of one or two periods");
        json_array_foreach(periods, j, per)
        {
            char at[128];
            cat_path(at, sizeof at, "%s[%zu]", where, j);
            if (cat_period(x, at, per, plan, &seen) != 0)
                return -1;
        }
    }
    return 0;
}

/* "tasks": {"image": {"credits": 2}, "animate_move": {"per_second": {"wan-std": 1, ...}}} */
static int cat_tasks(struct cat_ctx *x, json_t *tasks)
{
    static const char *const kinds[] = {"animate_move", "animate_mix", "text_to_video", "image", NULL};
    static const char *const per_task[] = {"credits", NULL};
    static const char *const per_second[] = {"per_second", NULL};
    static const char *const modes[] = {"wan-std", "wan-pro", NULL};
    if (!json_is_object(tasks))
        return cat_fail(x, "tasks", "must be an object");
    if (cat_only(x, "tasks", tasks, kinds) != 0)
        return -1;
    for (int k = 0; k < CATALOG_TASK_KINDS; k++) {
        json_t *o = json_object_get(tasks, catalog_task_kinds[k]);
        char path[64];
        struct catalog_task_price *tp = &x->c->tasks[k];
        if (o == NULL)
            continue;
        cat_path(path, sizeof path, "tasks.%s", catalog_task_kinds[k]);
        if (!json_is_object(o))
            return cat_fail(x, path, "must be an object");
        /* Animation is billed by the provider per second of output; the others per task. */
        if (k <= 1) {
            json_t *m = json_object_get(o, "per_second");
            char where[96];
            cat_path(where, sizeof where, "%s.per_second", path);
            if (cat_only(x, path, o, per_second) != 0)
                return -1;
            if (m == NULL)
                return cat_fail(x, path, "\"per_second\" is required");
            if (!json_is_object(m))
                return cat_fail(x, where, "must be an object of modes");
            if (cat_only(x, where, m, modes) != 0)
                return -1;
            for (int i = 0; i < CATALOG_TASK_MODES; i++)
                if (cat_count(x, where, m, catalog_task_modes[i], CATALOG_MAX_CREDITS / 3600,
                              &tp->per_second_by_mode[i]) != 0)
                    return -1;
            tp->per_second = 1;
            tp->credits = 0;
        } else {
            if (cat_only(x, path, o, per_task) != 0 ||
                cat_count(x, path, o, "credits", CATALOG_MAX_CREDITS, &tp->credits) != 0)
                return -1;
            tp->per_second = 0;
        }
    }
    return 0;
}

struct catalog *catalog_parse(const char *json, size_t len, const char *source, char **err)
{
    static const char *const allowed[] = {"packs", "plans", "tasks", NULL};
    json_error_t je;
    struct catalog *c = xcalloc(1, sizeof *c);
    struct cat_ctx x = {source, err, c};
    memcpy(c->tasks, catalog_task_defaults, sizeof c->tasks);
    json_t *root = NULL, *v;
    *err = NULL;
    if (len > CATALOG_FILE_MAX) {
        cat_fail(&x, "$", "larger than 1 MiB");
        goto fail;
    }
    /* JSON_REJECT_DUPLICATES: a price or id given twice is a mistake, not "the last wins".
     * NUL bytes inside strings are refused by jansson's default. */
    root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    if (root == NULL) {
        char where[64];
        cat_path(where, sizeof where, "line %d column %d", je.line, je.column);
        /* jansson may quote a bit of the input: keep the message printable. */
        char text[JSON_ERROR_TEXT_LENGTH];
        size_t n = 0;
        for (const char *p = je.text; *p && n < sizeof text - 1; p++)
            text[n++] = ((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f) ? *p : '?';
        text[n] = '\0';
        cat_fail(&x, where, "not valid JSON: %s", text);
        goto fail;
    }
    if (!json_is_object(root)) {
        cat_fail(&x, "$", "must be a JSON object with \"packs\" and \"plans\"");
        goto fail;
    }
    if (cat_only(&x, "$", root, allowed) != 0)
        goto fail;
    if ((v = json_object_get(root, "packs")) != NULL && cat_packs(&x, v) != 0)
        goto fail;
    if ((v = json_object_get(root, "plans")) != NULL && cat_plans(&x, v) != 0)
        goto fail;
    if ((v = json_object_get(root, "tasks")) != NULL && cat_tasks(&x, v) != 0)
        goto fail;
    json_decref(root);
    return c;
fail:
    json_decref(root);
    catalog_free(c);
    return NULL;
}

void catalog_free(struct catalog *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->n_plans; i++) {
        struct catalog_plan *plan = &c->plans[i];
        for (size_t k = 0; k < plan->n_features; k++) {
            for (size_t j = 0; j < plan->features[k].n; j++)
                free(plan->features[k].items[j]);
            free(plan->features[k].items);
        }
        free(plan->features);
    }
    free(c->plans);
    free(c);
}

/* ---- lookups ------------------------------------------------------------------------------- */

const struct catalog_product *catalog_lookup(const struct catalog *c, const char *id)
{
    if (c == NULL || id == NULL)
        return NULL;
    for (size_t i = 0; i < c->n_products; i++)
        if (strcmp(c->products[i].id, id) == 0)
            return &c->products[i];
    return NULL;
}

const struct catalog_price *catalog_price(const struct catalog_product *p, const char *currency)
{
    for (size_t i = 0; i < p->n_prices; i++)
        if (strcmp(p->prices[i].currency, currency) == 0)
            return &p->prices[i];
    return NULL;
}

const char *catalog_provider_id(const struct catalog_product *p, const char *key)
{
    const char *v = NULL;
    if (strcmp(key, "creem_product_id") == 0)
        v = p->creem_product_id;
    else if (strcmp(key, "stripe_price_id") == 0)
        v = p->stripe_price_id;
    return v != NULL && v[0] ? v : NULL;
}

const struct catalog_features *catalog_plan_features(const struct catalog_plan *plan, const char *locale)
{
    if (plan == NULL || plan->n_features == 0)
        return NULL;
    for (size_t i = 0; i < plan->n_features; i++)
        if (locale != NULL && strcmp(plan->features[i].locale, locale) == 0)
            return &plan->features[i];
    for (size_t i = 0; i < plan->n_features; i++)
        if (strcmp(plan->features[i].locale, "en-US") == 0)
            return &plan->features[i];
    return &plan->features[0];
}

/* ---- the process's catalog ---------------------------------------------------------------- */

static struct catalog *catalog_current;

int catalog_init(const char *path, char **err)
{
    struct catalog *c;
    *err = NULL;
    if (path == NULL || path[0] == '\0') {
        c = catalog_parse(catalog_default_json, strlen(catalog_default_json), "built-in catalog", err);
    } else {
        char *text = NULL, *source = xasprintf("TG_CATALOG %s", path);
        size_t len = 0;
        if (config_read_file(path, CATALOG_FILE_MAX, &text, &len) != 0) {
            *err = xasprintf("%s: %s", source, errno == EFBIG ? "file larger than 1 MiB" : strerror(errno));
            free(source);
            return -1;
        }
        c = catalog_parse(text, len, source, err);
        free(text);
        free(source);
    }
    if (c == NULL)
        return -1;
    catalog_free(catalog_current);
    catalog_current = c;
    return 0;
}

void catalog_shutdown(void)
{
    catalog_free(catalog_current);
    catalog_current = NULL;
}

const struct catalog *catalog_get(void)
{
    return catalog_current;
}

const struct catalog_product *catalog_find(const char *id)
{
    return catalog_lookup(catalog_current, id);
}

int catalog_task_price(int kind, const char *mode, const char **unit, int64_t *credits)
{
    const struct catalog *c = catalog_get();
    if (c == NULL || kind < 0 || kind >= CATALOG_TASK_KINDS)
        return -1;
    const struct catalog_task_price *tp = &c->tasks[kind];
    if (!tp->per_second) {
        *unit = "task";
        *credits = tp->credits;
        return 0;
    }
    for (int i = 0; i < CATALOG_TASK_MODES; i++)
        if (mode != NULL && strcmp(mode, catalog_task_modes[i]) == 0) {
            *unit = "second";
            *credits = tp->per_second_by_mode[i];
            return 0;
        }
    return -1;
}
