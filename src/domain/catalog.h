/*
 * catalog.h - what Tollgate sells and at which price (docs/CATALOG.md): one-off credit packs
 * and subscription plans, priced per currency in minor units, with the product ids some
 * payment providers need of their own.
 *
 * The catalog is a JSON document: TG_CATALOG names a file, else the built-in defaults apply
 * (an embedded document read by the same parser, so both share one code path). It is read
 * once at start (catalog_init) and never changes while the process runs, so every thread may
 * read it without a lock.
 *
 * Prices come only from here: a product without a price in a region's currency is not
 * offered in that region, and nothing a client sends changes an amount.
 *
 * The parser is pure (tests and the fuzz target call catalog_parse directly).
 */
#ifndef TG_DOMAIN_CATALOG_H
#define TG_DOMAIN_CATALOG_H

#include <stddef.h>
#include <stdint.h>

/* Largest catalog file read (a full catalog is a few KiB). */
#define CATALOG_FILE_MAX (1024 * 1024)
/* Product and plan ids: [a-z0-9_]{1,64}. */
#define CATALOG_ID_MAX 65
/* Products (packs plus plan periods) in one catalog; a pricing page shows a handful. */
#define CATALOG_MAX_PRODUCTS 64
/* Credits of a pack, or of a plan's month. */
#define CATALOG_MAX_CREDITS INT64_C(1000000000)
/* Largest price in minor units: 10^10 (100 million US dollars); keeps sums of a few
 * prices far from overflowing int64. */
#define CATALOG_MAX_AMOUNT INT64_C(10000000000)
/* Provider product ids (Creem "prod_...", Stripe "price_..."): printable ASCII, 1..128. */
#define CATALOG_PROVIDER_ID_MAX 129
/* Features of a plan per locale, and the length of one in bytes (UTF-8). */
#define CATALOG_MAX_FEATURES 32
#define CATALOG_FEATURE_MAX 200

enum catalog_kind { CATALOG_PACK = 0, CATALOG_PLAN = 1 };
enum catalog_period { CATALOG_PERIOD_NONE = 0, CATALOG_PERIOD_MONTH, CATALOG_PERIOD_YEAR };

/* One price: amount in the currency's minor units (cents, fen). */
struct catalog_price {
    char currency[4]; /* ISO 4217, one of the known currencies */
    int64_t amount;   /* 1..CATALOG_MAX_AMOUNT */
};

/* A plan's feature list in one locale. */
struct catalog_features {
    char locale[8]; /* "en-US", "zh-CN" */
    size_t n;
    char **items; /* n UTF-8 strings */
};

/* A subscription plan ("pro"): what its periods (products) share. */
struct catalog_plan {
    char id[CATALOG_ID_MAX];
    int64_t credits_per_month;
    size_t n_features;
    struct catalog_features *features; /* one per locale, in file order */
};

/* Something a user can buy: a pack, or one period of a plan ("pro_monthly"). */
struct catalog_product {
    char id[CATALOG_ID_MAX];
    enum catalog_kind kind;
    /* Pack: the credits granted. Plan: the credits granted each month (a yearly plan grants
     * them every month of its year). */
    int64_t credits;
    enum catalog_period period;      /* CATALOG_PERIOD_NONE for packs */
    const struct catalog_plan *plan; /* NULL for packs; borrowed from the catalog */
    size_t n_prices;
    struct catalog_price prices[8];                 /* one per known currency at most, in file order */
    char creem_product_id[CATALOG_PROVIDER_ID_MAX]; /* "" when none */
    char stripe_price_id[CATALOG_PROVIDER_ID_MAX];  /* "" when none */
};

/*
 * What a generation task costs, per kind (order of enum task_kind_id in domain/tasks.h:
 * animate_move, animate_mix, text_to_video, image). A kind is priced either per task
 * ("credits") or per second of output by mode ("per_second": {"wan-std": N, "wan-pro": M}).
 * A catalog file without "tasks", or without a kind, keeps the built-in price of that kind.
 */
#define CATALOG_TASK_KINDS 4
#define CATALOG_TASK_MODES 2 /* "wan-std", "wan-pro" */
struct catalog_task_price {
    int per_second;                            /* 0: per task */
    int64_t credits;                           /* per task */
    int64_t per_second_by_mode[CATALOG_TASK_MODES]; /* wan-std, wan-pro */
};

struct catalog {
    struct catalog_task_price tasks[CATALOG_TASK_KINDS];
    size_t n_products;
    struct catalog_product products[CATALOG_MAX_PRODUCTS]; /* packs first, then plan periods */
    size_t n_plans;
    struct catalog_plan *plans;
};

/* The built-in catalog document (docs/CATALOG.md lists it). */
extern const char catalog_default_json[];

/*
 * Parses a catalog document (len bytes). source names it in messages (a file name, or
 * "built-in catalog"). Strict: unknown keys, duplicate keys or ids, malformed ids, credits
 * or amounts out of bounds, unknown currencies are refused. Returns a new catalog (caller
 * frees with catalog_free), or NULL with *err a one-line message "SOURCE: PATH: reason",
 * PATH the JSON path of the problem ("packs[1].prices.EUR"; caller frees with free()).
 */
struct catalog *catalog_parse(const char *json, size_t len, const char *source, char **err);
void catalog_free(struct catalog *c);

/* The product with this id in c, or NULL. */
const struct catalog_product *catalog_lookup(const struct catalog *c, const char *id);

/*
 * Loads the process's catalog: the file at path (at most CATALOG_FILE_MAX bytes), or the
 * built-in defaults when path is NULL or "". Call once at start, before any thread reads it.
 * Returns 0, or -1 with *err (one line naming TG_CATALOG, the file and the JSON path; caller
 * frees).
 */
int catalog_init(const char *path, char **err);
void catalog_shutdown(void);
/* The process's catalog (borrowed, read-only; valid after catalog_init). */
const struct catalog *catalog_get(void);
/* The process's product with this id, or NULL (also NULL before catalog_init). */
const struct catalog_product *catalog_find(const char *id);

/* The price of p in currency (ISO 4217), or NULL when p is not sold in that currency. */
const struct catalog_price *catalog_price(const struct catalog_product *p, const char *currency);
/* The task kind names in catalog order ("animate_move", ...), and the mode names
 * ("wan-std", "wan-pro"). */
extern const char *const catalog_task_kinds[CATALOG_TASK_KINDS];
extern const char *const catalog_task_modes[CATALOG_TASK_MODES];
/*
 * The price in force for a task of kind (index in catalog_task_kinds) and mode (NULL or ""
 * for kinds priced per task): *unit "task" or "second" and *credits per unit. 0, or -1 when
 * the kind or the mode is unknown.
 */
int catalog_task_price(int kind, const char *mode, const char **unit, int64_t *credits);

/* The minor-unit exponent of a known currency (USD 2, CNY 2, ...), or -1 when unknown. */
int catalog_currency_exponent(const char *currency);
/* A provider's own product id for p ("creem_product_id", "stripe_price_id"), or NULL when
 * the catalog names none (or the key is not one of these). */
const char *catalog_provider_id(const struct catalog_product *p, const char *key);
/* "month" / "year" (NULL for CATALOG_PERIOD_NONE). */
const char *catalog_period_name(enum catalog_period period);
/*
 * The features of plan in locale: that locale's list, else en-US's, else the first listed;
 * NULL (and *n 0) when the plan lists none.
 */
const struct catalog_features *catalog_plan_features(const struct catalog_plan *plan, const char *locale);

#endif
