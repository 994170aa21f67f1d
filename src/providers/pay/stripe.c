/*
 * stripe.c - the Stripe payment provider (stripe.h; PROVIDERS.md section 1).
 *
 * Every call is made through net.h with the secret key as a Bearer token, which net never
 * logs; the header text is wiped before its memory is released. Every POST that creates
 * something carries an Idempotency-Key (our order or refund id, a subscription change's
 * key), so net may retry it: Stripe answers a repeated key with the first answer instead of
 * creating a second session, refund or proration invoice.
 */
#include "providers/pay/stripe.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "core/config.h"
#include "core/ids.h"
#include "core/jsonesc.h"
#include "core/log.h"
#include "core/mem.h"
#include "crypto/encode.h"
#include "crypto/hash.h"
#include "domain/catalog.h"
#include "net/net.h"

/* ---- small checks ------------------------------------------------------------------------ */

static void set_reason(char reason[64], const char *why)
{
    snprintf(reason, 64, "%s", why);
}

/* A Stripe object id: one of the prefixes (NULL-terminated list), then [A-Za-z0-9_], the
 * whole shorter than TG_PROVIDER_REF_MAX. */
static int stripe_id_ok(const char *s, size_t n, const char *const *prefixes)
{
    int pfx = 0;
    if (s == NULL || n == 0 || n >= TG_PROVIDER_REF_MAX || strlen(s) != n)
        return 0;
    for (size_t i = 0; prefixes[i] != NULL; i++) {
        size_t pl = strlen(prefixes[i]);
        if (n > pl && strncmp(s, prefixes[i], pl) == 0)
            pfx = 1;
    }
    if (!pfx)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return 0;
    }
    return 1;
}

static const char *const EVT_PREFIX[] = {"evt_", NULL};
static const char *const CS_PREFIX[] = {"cs_", NULL};
static const char *const PI_PREFIX[] = {"pi_", NULL};
/* Refunds of some payment methods are "pyr_" (payment refunds) rather than "re_". */
static const char *const RE_PREFIX[] = {"re_", "pyr_", NULL};
static const char *const SUB_PREFIX[] = {"sub_", NULL};
static const char *const SI_PREFIX[] = {"si_", NULL};
static const char *const IN_PREFIX[] = {"in_", NULL};

/* Copies the string member key of obj into out (cap bytes) when it is a valid id.
 * Absent or null: out = "" and 0 (when !required). Returns 0 or -1. */
static int get_id(json_t *obj, const char *key, const char *const *prefixes, int required,
                  char out[TG_PROVIDER_REF_MAX])
{
    json_t *v = json_object_get(obj, key);
    out[0] = '\0';
    if (v == NULL || json_is_null(v))
        return required ? -1 : 0;
    if (!json_is_string(v) || !stripe_id_ok(json_string_value(v), json_string_length(v), prefixes))
        return -1;
    memcpy(out, json_string_value(v), json_string_length(v) + 1);
    return 0;
}

/* A short enum-like string member ([a-z_], shorter than cap) into out; absent/null: "". */
static int get_word(json_t *obj, const char *key, char *out, size_t cap)
{
    json_t *v = json_object_get(obj, key);
    const char *s;
    size_t n;
    out[0] = '\0';
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return -1;
    s = json_string_value(v);
    n = json_string_length(v);
    if (n >= cap || strlen(s) != n)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || s[i] == '_' || s[i] == '.'))
            return -1;
    memcpy(out, s, n + 1);
    return 0;
}

/* Stripe spells currencies as three lower-case letters; out gets them upper-case. Absent or
 * null: "" (when !required). Anything else ("USD", "usd ", "us") is malformed. */
static int get_currency(json_t *obj, const char *key, int required, char out[4])
{
    json_t *v = json_object_get(obj, key);
    const char *s;
    out[0] = '\0';
    if (v == NULL || json_is_null(v))
        return required ? -1 : 0;
    if (!json_is_string(v) || json_string_length(v) != 3)
        return -1;
    s = json_string_value(v);
    for (int i = 0; i < 3; i++) {
        if (s[i] < 'a' || s[i] > 'z')
            return -1;
        out[i] = (char)(s[i] - 'a' + 'A');
    }
    out[3] = '\0';
    return 0;
}

/* A non-negative integer member; absent or null: *out = -1 (when !required). */
static int get_amount(json_t *obj, const char *key, int required, int64_t *out)
{
    json_t *v = json_object_get(obj, key);
    *out = -1;
    if (v == NULL || json_is_null(v))
        return required ? -1 : 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return -1;
    *out = (int64_t)json_integer_value(v);
    return 0;
}

/* Our id of kind prefix ("ord", "rfd") from a string member of obj, when it is one; a value
 * that is not one of our ids leaves out "" (the object is someone else's). */
static int get_our_id(json_t *obj, const char *key, const char *prefix, char out[TG_ID_MAX])
{
    json_t *v = obj != NULL ? json_object_get(obj, key) : NULL;
    out[0] = '\0';
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return -1;
    if (json_string_length(v) < TG_ID_MAX && strlen(json_string_value(v)) == json_string_length(v) &&
        id_valid(json_string_value(v), prefix))
        memcpy(out, json_string_value(v), json_string_length(v) + 1);
    return 0;
}

/* A Stripe id without a fixed prefix (a price, a product: both may be custom ids, and a
 * legacy plan's id is the price's): [A-Za-z0-9_-], shorter than TG_PROVIDER_REF_MAX.
 * Absent or null: "". An object (expanded) gives its own "id". Returns 0 or -1. */
static int get_token(json_t *obj, const char *key, char out[TG_PROVIDER_REF_MAX])
{
    json_t *v = json_object_get(obj, key);
    const char *s;
    size_t n;
    out[0] = '\0';
    if (json_is_object(v))
        v = json_object_get(v, "id");
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return -1;
    s = json_string_value(v);
    n = json_string_length(v);
    if (n == 0 || n >= TG_PROVIDER_REF_MAX || strlen(s) != n)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
              s[i] == '_' || s[i] == '-'))
            return -1;
    memcpy(out, s, n + 1);
    return 0;
}

/* An id member that may also be the expanded object (subscription, invoice), by prefix. */
static int get_ref(json_t *obj, const char *key, const char *const *prefixes, char out[TG_PROVIDER_REF_MAX])
{
    json_t *v = json_object_get(obj, key);
    if (json_is_object(v))
        return get_id(v, "id", prefixes, 1, out);
    return get_id(obj, key, prefixes, 0, out);
}

/* A Unix time in seconds within STRIPE_TIME_*_S into ms; absent or null: 0. */
static int get_time(json_t *obj, const char *key, int64_t *ms)
{
    json_t *v = json_object_get(obj, key);
    json_int_t t;
    *ms = 0;
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_integer(v))
        return -1;
    t = json_integer_value(v);
    if (t < STRIPE_TIME_MIN_S || t > STRIPE_TIME_MAX_S)
        return -1;
    *ms = (int64_t)t * 1000;
    return 0;
}

/* A boolean member; absent or null: 0. */
static int get_bool(json_t *obj, const char *key, int *out)
{
    json_t *v = json_object_get(obj, key);
    *out = 0;
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_boolean(v))
        return -1;
    *out = json_is_true(v);
    return 0;
}

/* A member that must be an object when present: 0 (absent, null or an object) or -1. */
static int object_or_null(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return v == NULL || json_is_null(v) || json_is_object(v) ? 0 : -1;
}

/* Our catalog product id from metadata[product] when it is spelled as one ([a-z0-9_]{1,64});
 * metadata is free text anyone with dashboard access may edit: anything else is "". */
static void meta_product(json_t *meta, char out[TG_PRODUCT_MAX])
{
    json_t *v = json_object_get(meta, "product");
    const char *s;
    size_t n;
    out[0] = '\0';
    if (!json_is_string(v))
        return;
    s = json_string_value(v);
    n = json_string_length(v);
    if (n == 0 || n >= TG_PRODUCT_MAX || strlen(s) != n)
        return;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return;
    memcpy(out, s, n + 1);
}

/* The catalog product whose stripe_price_id is price, else "" (also before the catalog is
 * loaded): a subscription changed in Stripe's dashboard carries only its price. */
static void product_of_price(const char *price, char out[TG_PRODUCT_MAX])
{
    const struct catalog *cat = catalog_get();
    out[0] = '\0';
    if (cat == NULL || price == NULL || price[0] == '\0')
        return;
    for (size_t i = 0; i < cat->n_products; i++)
        if (strcmp(cat->products[i].stripe_price_id, price) == 0) {
            snprintf(out, TG_PRODUCT_MAX, "%s", cat->products[i].id);
            return;
        }
}

static json_t *load_object(const char *body, size_t len, size_t max)
{
    json_t *j;
    if (body == NULL || len == 0 || len > max)
        return NULL;
    j = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    return j;
}

/* ---- Checkout Sessions ------------------------------------------------------------------ */

/* Fills s from a session object; 0 or -1 (s zeroed). */
static int session_read(json_t *o, struct stripe_session *s)
{
    json_t *obj = json_object_get(o, "object"), *url = json_object_get(o, "url"), *pi;
    char ref[TG_ID_MAX], meta[TG_ID_MAX];

    memset(s, 0, sizeof *s);
    if (!json_is_object(o) ||
        (obj != NULL && !(json_is_string(obj) && strcmp(json_string_value(obj), "checkout.session") == 0)))
        goto bad;
    if (get_id(o, "id", CS_PREFIX, 1, s->id) != 0 ||
        get_word(o, "status", s->status, sizeof s->status) != 0 ||
        get_word(o, "payment_status", s->payment_status, sizeof s->payment_status) != 0 ||
        get_amount(o, "amount_total", 0, &s->amount_total) != 0 ||
        get_currency(o, "currency", 0, s->currency) != 0 ||
        get_our_id(o, "client_reference_id", "ord", ref) != 0 ||
        get_our_id(json_object_get(o, "metadata"), "order_id", "ord", meta) != 0)
        goto bad;
    if (ref[0] && meta[0] && strcmp(ref, meta) != 0) /* two different orders: ambiguous */
        goto bad;
    snprintf(s->order_id, sizeof s->order_id, "%s", ref[0] ? ref : meta);
    if (url != NULL && !json_is_null(url)) {
        const char *u;
        if (!json_is_string(url) || json_string_length(url) > STRIPE_URL_MAX)
            goto bad;
        u = json_string_value(url);
        if (strlen(u) != json_string_length(url) ||
            (strncmp(u, "https://", 8) != 0 && strncmp(u, "http://", 7) != 0))
            goto bad;
        memcpy(s->url, u, json_string_length(url) + 1);
    }
    /* payment_intent is an id, or the object itself when expanded. */
    pi = json_object_get(o, "payment_intent");
    if (json_is_object(pi) ? get_id(pi, "id", PI_PREFIX, 1, s->payment_intent) != 0
                           : get_id(o, "payment_intent", PI_PREFIX, 0, s->payment_intent) != 0)
        goto bad;
    if (get_word(o, "mode", s->mode, sizeof s->mode) != 0 || get_ref(o, "subscription", SUB_PREFIX, s->subscription) != 0 ||
        get_ref(o, "invoice", IN_PREFIX, s->invoice) != 0)
        goto bad;
    return 0;
bad:
    memset(s, 0, sizeof *s);
    return -1;
}

int stripe_session_parse(const char *body, size_t len, struct stripe_session *s)
{
    json_t *j = load_object(body, len, STRIPE_ANSWER_MAX);
    int rc;
    if (j == NULL) {
        memset(s, 0, sizeof *s);
        return -1;
    }
    rc = session_read(j, s);
    json_decref(j);
    return rc;
}

/* ---- Subscriptions ---------------------------------------------------------------------- */

/* Fills s from a Subscription object; 0 or -1 (s zeroed). */
static int subscription_read(json_t *o, struct stripe_subscription *s)
{
    json_t *obj = json_object_get(o, "object"), *meta = json_object_get(o, "metadata");
    json_t *items = json_object_get(o, "items"), *data, *item = NULL, *price = NULL;
    int64_t cancel_at;

    memset(s, 0, sizeof *s);
    if (!json_is_object(o) ||
        (obj != NULL && !(json_is_string(obj) && strcmp(json_string_value(obj), "subscription") == 0)) ||
        object_or_null(o, "metadata") != 0 || object_or_null(o, "items") != 0)
        goto bad;
    if (get_id(o, "id", SUB_PREFIX, 1, s->id) != 0 || get_word(o, "status", s->status, sizeof s->status) != 0 ||
        get_bool(o, "cancel_at_period_end", &s->cancel_at_period_end) != 0 ||
        get_time(o, "cancel_at", &cancel_at) != 0 || get_currency(o, "currency", 0, s->currency) != 0 ||
        get_our_id(meta, "order_id", "ord", s->order_id) != 0)
        goto bad;
    /* The subscription's first item: its price and, since API 2025-03-31, its period. */
    data = json_object_get(items, "data");
    if (json_is_object(items) && !json_is_array(data))
        goto bad;
    if (json_array_size(data) > 0) {
        item = json_array_get(data, 0);
        if (!json_is_object(item) || get_id(item, "id", SI_PREFIX, 0, s->item_id) != 0 ||
            object_or_null(item, "price") != 0 || get_time(item, "current_period_start", &s->period_start) != 0 ||
            get_time(item, "current_period_end", &s->period_end) != 0)
            goto bad;
        price = json_object_get(item, "price");
        if (json_is_object(price) &&
            (get_token(price, "id", s->price_id) != 0 || get_token(price, "product", s->stripe_product) != 0 ||
             (s->currency[0] == '\0' && get_currency(price, "currency", 0, s->currency) != 0)))
            goto bad;
    }
    if (s->period_end == 0) { /* API versions before 2025-03-31 */
        if (get_time(o, "current_period_start", &s->period_start) != 0 ||
            get_time(o, "current_period_end", &s->period_end) != 0)
            goto bad;
    }
    if (s->period_end != 0 && s->period_start >= s->period_end)
        goto bad;
    /* Newer dashboards cancel "at period end" by setting cancel_at to the period's end. */
    if (cancel_at != 0 && cancel_at == s->period_end)
        s->cancel_at_period_end = 1;
    meta_product(meta, s->product);
    if (s->product[0] == '\0')
        product_of_price(s->price_id, s->product);
    s->ours = s->order_id[0] != '\0';
    return 0;
bad:
    memset(s, 0, sizeof *s);
    return -1;
}

int stripe_subscription_parse(const char *body, size_t len, struct stripe_subscription *s)
{
    json_t *j = load_object(body, len, STRIPE_ANSWER_MAX);
    int rc;
    if (j == NULL) {
        memset(s, 0, sizeof *s);
        return -1;
    }
    rc = subscription_read(j, s);
    json_decref(j);
    return rc;
}

/* Invoice payments read for the one that paid it (an invoice is paid once; retries of a
 * failed attempt add a few). */
#define STRIPE_INVOICE_PAYMENTS_MAX 16

int stripe_invoice_pi_parse(const char *body, size_t len, char id[TG_PROVIDER_REF_MAX], char pi[TG_PROVIDER_REF_MAX])
{
    json_t *j = load_object(body, len, STRIPE_ANSWER_MAX), *obj = json_object_get(j, "object");
    json_t *payments, *data;
    int rc = -1;

    id[0] = pi[0] = '\0';
    if (j == NULL || (obj != NULL && !(json_is_string(obj) && strcmp(json_string_value(obj), "invoice") == 0)) ||
        get_id(j, "id", IN_PREFIX, 1, id) != 0 || object_or_null(j, "payments") != 0)
        goto done;
    /* API versions before 2025-03-31: the invoice's own payment_intent. */
    if (get_ref(j, "payment_intent", PI_PREFIX, pi) != 0)
        goto done;
    /* Since then: payments (expanded), the paid one's payment intent. */
    payments = json_object_get(j, "payments");
    data = json_object_get(payments, "data");
    if (json_is_object(payments) && !json_is_array(data))
        goto done;
    for (size_t i = 0; pi[0] == '\0' && i < json_array_size(data) && i < STRIPE_INVOICE_PAYMENTS_MAX; i++) {
        json_t *ip = json_array_get(data, i), *pay = json_object_get(ip, "payment");
        char status[24], type[24];
        if (!json_is_object(ip) || !json_is_object(pay) || get_word(ip, "status", status, sizeof status) != 0 ||
            get_word(pay, "type", type, sizeof type) != 0)
            goto done;
        if (strcmp(status, "paid") == 0 && strcmp(type, "payment_intent") == 0 &&
            get_ref(pay, "payment_intent", PI_PREFIX, pi) != 0)
            goto done;
    }
    rc = 0;
done:
    if (rc != 0)
        id[0] = pi[0] = '\0';
    json_decref(j);
    return rc;
}

/* The fields of an Invoice that Tollgate reads (webhooks only). */
struct stripe_invoice {
    char id[TG_PROVIDER_REF_MAX]; /* in_... */
    char billing_reason[32];
    int64_t amount_paid, amount_due;
    char currency[4];
    char subscription[TG_PROVIDER_REF_MAX]; /* sub_..., "" when not a subscription's */
    int has_meta;                           /* the subscription's metadata is on the invoice */
    char order_id[TG_ID_MAX];
    char product[TG_PRODUCT_MAX];
    int64_t period_start, period_end;       /* of the subscription line, ms; 0 when none */
};

/* Lines read for the subscription's own line (a renewal has one; an upgrade's a few). */
#define STRIPE_INVOICE_LINES_MAX 100

/* The period (and price) of the invoice's subscription line: the first line that a
 * subscription item made and that is not a proration. */
static int invoice_line(json_t *o, struct stripe_invoice *v, char price[TG_PROVIDER_REF_MAX])
{
    json_t *lines = json_object_get(o, "lines"), *data = json_object_get(lines, "data");
    price[0] = '\0';
    if (lines == NULL || json_is_null(lines))
        return 0;
    if (!json_is_object(lines) || !json_is_array(data))
        return -1;
    for (size_t i = 0; i < json_array_size(data) && i < STRIPE_INVOICE_LINES_MAX; i++) {
        json_t *l = json_array_get(data, i), *parent, *sid, *period, *pricing;
        char type[32], ptype[32];
        int proration = 0, sid_proration = 0;
        if (!json_is_object(l) || object_or_null(l, "parent") != 0 || get_word(l, "type", type, sizeof type) != 0 ||
            get_bool(l, "proration", &proration) != 0)
            return -1;
        parent = json_object_get(l, "parent");
        sid = json_object_get(parent, "subscription_item_details");
        if (get_word(parent, "type", ptype, sizeof ptype) != 0 || object_or_null(parent, "subscription_item_details") != 0 ||
            get_bool(sid, "proration", &sid_proration) != 0)
            return -1;
        /* 2025-03-31 and later: parent.type; before: type "subscription" */
        if (!(strcmp(ptype, "subscription_item_details") == 0 || strcmp(type, "subscription") == 0) || proration ||
            sid_proration)
            continue;
        period = json_object_get(l, "period");
        if (!json_is_object(period) || get_time(period, "start", &v->period_start) != 0 ||
            get_time(period, "end", &v->period_end) != 0 || v->period_start == 0 ||
            v->period_start >= v->period_end)
            return -1;
        /* the price: pricing.price_details.price (2025-03-31 and later), else price / plan */
        pricing = json_object_get(json_object_get(l, "pricing"), "price_details");
        if (json_is_object(pricing)) {
            if (get_token(pricing, "price", price) != 0)
                return -1;
        } else if (object_or_null(l, "price") != 0 || object_or_null(l, "plan") != 0 ||
                   get_token(l, "price", price) != 0 || (price[0] == '\0' && get_token(l, "plan", price) != 0)) {
            return -1;
        }
        return 0;
    }
    return 0;
}

/* Fills v from an Invoice object; 0 or -1 (v zeroed). */
static int invoice_read(json_t *o, struct stripe_invoice *v)
{
    json_t *obj = json_object_get(o, "object"), *parent = json_object_get(o, "parent"), *sd, *meta = NULL;
    char legacy[TG_PROVIDER_REF_MAX], price[TG_PROVIDER_REF_MAX];

    memset(v, 0, sizeof *v);
    if (!json_is_object(o) ||
        (obj != NULL && !(json_is_string(obj) && strcmp(json_string_value(obj), "invoice") == 0)) ||
        object_or_null(o, "parent") != 0 || object_or_null(o, "subscription_details") != 0)
        goto bad;
    if (get_id(o, "id", IN_PREFIX, 1, v->id) != 0 ||
        get_word(o, "billing_reason", v->billing_reason, sizeof v->billing_reason) != 0 ||
        get_amount(o, "amount_paid", 1, &v->amount_paid) != 0 || get_amount(o, "amount_due", 1, &v->amount_due) != 0 ||
        get_currency(o, "currency", 1, v->currency) != 0 || get_ref(o, "subscription", SUB_PREFIX, legacy) != 0)
        goto bad;
    /* The subscription and a copy of its metadata: parent.subscription_details since API
     * 2025-03-31; subscription and subscription_details before. */
    sd = json_object_get(parent, "subscription_details");
    if (object_or_null(parent, "subscription_details") != 0)
        goto bad;
    if (json_is_object(sd)) {
        if (get_ref(sd, "subscription", SUB_PREFIX, v->subscription) != 0 || object_or_null(sd, "metadata") != 0)
            goto bad;
        meta = json_object_get(sd, "metadata");
    }
    if (legacy[0] && v->subscription[0] && strcmp(legacy, v->subscription) != 0)
        goto bad; /* two different subscriptions: ambiguous */
    if (v->subscription[0] == '\0')
        snprintf(v->subscription, sizeof v->subscription, "%s", legacy);
    if (!json_is_object(meta)) {
        sd = json_object_get(o, "subscription_details");
        if (object_or_null(sd, "metadata") != 0)
            goto bad;
        meta = json_object_get(sd, "metadata");
    }
    v->has_meta = json_is_object(meta);
    if (get_our_id(meta, "order_id", "ord", v->order_id) != 0 || invoice_line(o, v, price) != 0)
        goto bad;
    meta_product(meta, v->product);
    if (v->product[0] == '\0')
        product_of_price(price, v->product);
    return 0;
bad:
    memset(v, 0, sizeof *v);
    return -1;
}

/* ---- forms ----------------------------------------------------------------------------- */

/* Appends "&key=<pct value>" (no '&' first). Keys are ours and written as they are: Stripe
 * reads the brackets of nested keys literally, as its own libraries send them. */
static void form_add(struct sbuf *b, const char *key, const char *value)
{
    size_t n = strlen(value);
    char *enc = xmalloc(pct_encoded_len(value, n) + 1);
    size_t o = pct_encode(value, n, enc);
    if (b->len > 0)
        sbuf_puts(b, "&");
    sbuf_puts(b, key);
    sbuf_puts(b, "=");
    sbuf_append(b, enc, o);
    free(enc);
}

static void form_add_int(struct sbuf *b, const char *key, int64_t v)
{
    char num[24];
    snprintf(num, sizeof num, "%" PRId64, v);
    form_add(b, key, num);
}

static int currency_ok(const char *c)
{
    if (c == NULL || strlen(c) != 3)
        return 0;
    for (int i = 0; i < 3; i++)
        if (c[i] < 'A' || c[i] > 'Z')
            return 0;
    return 1;
}

/* A recurring price's interval as the catalog names plan periods. */
static int interval_ok(const char *interval)
{
    return interval != NULL && (strcmp(interval, "month") == 0 || strcmp(interval, "year") == 0);
}

/* Cuts s to at most max bytes at a UTF-8 character boundary into a new string. */
static char *utf8_cut(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n > max) {
        n = max;
        while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
            n--;
    }
    return xstrndup(s, n);
}

char *stripe_checkout_form(const struct pay_checkout_req *req)
{
    const struct order *o = req->order;
    struct sbuf b = {0};
    char cur[4];
    int64_t now_s = req->now_ms / 1000, exp_s;
    int sub = req->interval != NULL;

    if (o == NULL || o->amount <= 0 || !currency_ok(o->currency) || req->return_url == NULL ||
        req->return_url[0] == '\0' || req->cancel_url == NULL || req->cancel_url[0] == '\0')
        return NULL;
    for (int i = 0; i < 4; i++)
        cur[i] = (char)(i < 3 ? o->currency[i] - 'A' + 'a' : '\0');

    if (sub && !interval_ok(req->interval))
        return NULL;

    form_add(&b, "mode", sub ? "subscription" : "payment");
    form_add(&b, "success_url", req->return_url);
    form_add(&b, "cancel_url", req->cancel_url);
    form_add(&b, "client_reference_id", o->id);
    form_add(&b, "metadata[order_id]", o->id);
    if (sub) {
        /* Copied to the subscription, and from it to every invoice it makes
         * (parent.subscription_details.metadata): renewals name our order and product. */
        form_add(&b, "subscription_data[metadata][order_id]", o->id);
        form_add(&b, "subscription_data[metadata][product]", o->product);
    } else {
        /* Session metadata is not copied to the PaymentIntent and its charges: this is. */
        form_add(&b, "payment_intent_data[metadata][order_id]", o->id);
    }
    if (req->provider_product_id != NULL && req->provider_product_id[0] != '\0') {
        form_add(&b, "line_items[0][price]", req->provider_product_id);
    } else {
        char *name = utf8_cut(req->description != NULL && req->description[0] ? req->description : o->product,
                              STRIPE_METADATA_VALUE_MAX);
        form_add(&b, "line_items[0][price_data][currency]", cur);
        form_add_int(&b, "line_items[0][price_data][unit_amount]", o->amount);
        form_add(&b, "line_items[0][price_data][product_data][name]", name);
        if (sub)
            form_add(&b, "line_items[0][price_data][recurring][interval]", req->interval);
        free(name);
    }
    form_add(&b, "line_items[0][quantity]", "1");
    if (req->email != NULL && req->email[0] != '\0')
        form_add(&b, "customer_email", req->email);
    /* The session lives as long as the order, within Stripe's bounds. Derived from the order
     * alone when it fits, so a retried create sends the same body under the same key. */
    if (o->expires_at > 0) {
        exp_s = o->expires_at / 1000;
        if (exp_s < now_s + STRIPE_EXPIRES_MIN_S)
            exp_s = now_s + STRIPE_EXPIRES_MIN_S;
        if (exp_s > now_s + STRIPE_EXPIRES_MAX_S)
            exp_s = now_s + STRIPE_EXPIRES_MAX_S;
        form_add_int(&b, "expires_at", exp_s);
    }
    return b.data;
}

char *stripe_refund_form(const struct pay_refund_req *req, const char *payment_intent)
{
    struct sbuf b = {0};
    form_add(&b, "payment_intent", payment_intent);
    form_add_int(&b, "amount", req->amount);
    form_add(&b, "metadata[refund_id]", req->refund_id);
    form_add(&b, "metadata[order_id]", req->order->id);
    if (req->reason != NULL && req->reason[0] != '\0') {
        char *why = utf8_cut(req->reason, STRIPE_METADATA_VALUE_MAX);
        form_add(&b, "metadata[reason]", why);
        free(why);
    }
    return b.data;
}

char *stripe_sub_form(const struct pay_sub_req *req, const char *item_id, const char *stripe_product)
{
    struct sbuf b = {0};
    char cur[4];

    switch (req->action) {
    case PAY_SUB_CANCEL:
    case PAY_SUB_RESUME:
        form_add(&b, "cancel_at_period_end", req->action == PAY_SUB_CANCEL ? "true" : "false");
        return b.data;
    case PAY_SUB_CHANGE:
        break;
    default:
        return NULL;
    }
    if (item_id == NULL || item_id[0] == '\0' || req->product == NULL || req->product[0] == '\0' ||
        req->amount <= 0 || !currency_ok(req->currency) || !interval_ok(req->interval))
        return NULL;
    for (int i = 0; i < 4; i++)
        cur[i] = (char)(i < 3 ? req->currency[i] - 'A' + 'a' : '\0');
    form_add(&b, "items[0][id]", item_id);
    if (req->provider_product_id != NULL && req->provider_product_id[0] != '\0') {
        form_add(&b, "items[0][price]", req->provider_product_id);
    } else {
        if (stripe_product == NULL || stripe_product[0] == '\0') {
            sbuf_free(&b);
            return NULL;
        }
        form_add(&b, "items[0][price_data][currency]", cur);
        form_add(&b, "items[0][price_data][product]", stripe_product);
        form_add_int(&b, "items[0][price_data][unit_amount]", req->amount);
        form_add(&b, "items[0][price_data][recurring][interval]", req->interval);
    }
    /* An upgrade is charged its prorated difference now, and must be paid for the change to
     * happen (its credits are granted on our answer): a declined card refuses the update
     * rather than leaving it in force with an open invoice. A downgrade bills the new price
     * from the next period. */
    form_add(&b, "proration_behavior", req->prorate_now ? "always_invoice" : "none");
    if (req->prorate_now)
        form_add(&b, "payment_behavior", "error_if_incomplete");
    form_add(&b, "metadata[product]", req->product);
    return b.data;
}

/* ---- errors ------------------------------------------------------------------------------ */

/* Refusals of a refund that say "not this payment", not "not now" (docs.stripe.com/error-codes). */
static const char *const DECLINE_CODES[] = {
    "charge_already_refunded",    "charge_disputed",
    "amount_too_large",           "balance_insufficient",
    "insufficient_funds",         "refund_disputed_payment",
    "charge_expired_for_capture", NULL,
};

enum pay_rc stripe_error_rc(long status, const char *body, size_t len, char reason[64])
{
    json_t *j = load_object(body, len, STRIPE_ANSWER_MAX), *e = json_object_get(j, "error");
    char code[48] = "", type[32] = "";
    enum pay_rc rc;

    if (json_is_object(e)) {
        if (get_word(e, "code", code, sizeof code) != 0)
            code[0] = '\0';
        if (get_word(e, "type", type, sizeof type) != 0)
            type[0] = '\0';
    }
    json_decref(j);
    if (code[0])
        snprintf(reason, 64, "stripe_%s", code);
    else if (type[0])
        snprintf(reason, 64, "stripe_%s", type);
    else
        snprintf(reason, 64, "http_%ld", status);

    if (status == 401 || status == 403)
        rc = PAY_MISCONFIGURED;
    else if (status == 429 || status >= 500 || status < 400)
        rc = PAY_UNAVAILABLE;
    else if (status == 404)
        rc = PAY_NOTFOUND;
    else if (status == 402 || strcmp(type, "card_error") == 0)
        rc = PAY_DECLINED;
    else {
        rc = PAY_INVALID;
        for (size_t i = 0; DECLINE_CODES[i] != NULL; i++)
            if (strcmp(code, DECLINE_CODES[i]) == 0)
                rc = PAY_DECLINED;
    }
    return rc;
}

/* ---- webhook signatures ------------------------------------------------------------------- */

static int is_lower_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

int stripe_sig_parse(const char *h, int64_t *t, char v1[STRIPE_SIG_MAX_V1][65], size_t *n_v1)
{
    size_t hl, n = 0;
    int seen_t = 0;
    int64_t tv = 0;
    const char *p, *end;

    *t = 0;
    *n_v1 = 0;
    if (h == NULL)
        return -1;
    hl = strnlen(h, STRIPE_SIG_HEADER_MAX + 1);
    if (hl == 0 || hl > STRIPE_SIG_HEADER_MAX)
        return -1;
    for (p = h; p <= h + hl; p = end + 1) {
        const char *eq;
        size_t klen, vlen;
        end = memchr(p, ',', (size_t)(h + hl - p));
        if (end == NULL)
            end = h + hl;
        eq = memchr(p, '=', (size_t)(end - p));
        if (eq == NULL || eq == p) /* an empty item or one without a key */
            return -1;
        klen = (size_t)(eq - p);
        vlen = (size_t)(end - eq - 1);
        if (klen == 1 && p[0] == 't') {
            if (seen_t++ || vlen == 0 || vlen > 12)
                return -1;
            tv = 0;
            for (size_t i = 0; i < vlen; i++) {
                char c = eq[1 + i];
                if (c < '0' || c > '9')
                    return -1;
                tv = tv * 10 + (c - '0');
            }
        } else if (klen == 2 && p[0] == 'v' && p[1] == '1') {
            if (vlen != 64 || !is_lower_hex(eq + 1, 64) || n == STRIPE_SIG_MAX_V1)
                return -1;
            memcpy(v1[n], eq + 1, 64);
            v1[n][64] = '\0';
            n++;
        }
        /* other schemes (v0: Stripe's test-mode legacy one) carry nothing we check */
        if (end == h + hl)
            break;
    }
    if (!seen_t || n == 0)
        return -1;
    *t = tv;
    *n_v1 = n;
    return 0;
}

static void wh_fail(struct pay_webhook_res *res, enum pay_rc rc, const char *why)
{
    memset(&res->ev, 0, sizeof res->ev);
    res->rc = rc;
    set_reason(res->reason, why);
}

/* Fills res->ev from a session event; rc set. */
static void event_session(json_t *obj, const char *type, struct pay_webhook_res *res)
{
    struct stripe_session s;
    int paid_type = strcmp(type, "checkout.session.completed") == 0 ||
                    strcmp(type, "checkout.session.async_payment_succeeded") == 0;

    if (session_read(obj, &s) != 0)
        return wh_fail(res, PAY_INVALID, "session_malformed");
    if (s.order_id[0] == '\0') /* a session another integration on this account created */
        return wh_fail(res, PAY_IGNORED, "not_our_session");
    /* Stripe always sends both for a payment-mode session; the domain compares them. */
    if (s.amount_total < 0 || s.currency[0] == '\0')
        return wh_fail(res, PAY_INVALID, "session_malformed");
    if (paid_type) {
        if (strcmp(s.payment_status, "paid") != 0 && strcmp(s.payment_status, "no_payment_required") != 0)
            return wh_fail(res, PAY_IGNORED, "payment_processing");
        res->ev.kind = PAY_EVENT_PAID;
        /* A plan's session: the subscription it started (Stripe sets it on completion). */
        if (strcmp(s.mode, "subscription") == 0) {
            if (s.subscription[0] == '\0')
                return wh_fail(res, PAY_INVALID, "session_malformed");
            snprintf(res->ev.subscription_ref, sizeof res->ev.subscription_ref, "%s", s.subscription);
        }
    } else {
        res->ev.kind = PAY_EVENT_FAILED;
    }
    snprintf(res->ev.order_id, sizeof res->ev.order_id, "%s", s.order_id);
    snprintf(res->ev.provider_ref, sizeof res->ev.provider_ref, "%s", s.id);
    res->ev.amount = s.amount_total;
    snprintf(res->ev.currency, sizeof res->ev.currency, "%s", s.currency);
    res->rc = PAY_OK;
}

/* Fills res->ev from a Refund object; order_fallback: the charge's order id (charge.refunded). */
static void event_refund(json_t *r, const char *order_fallback, struct pay_webhook_res *res)
{
    char id[TG_PROVIDER_REF_MAX], status[24], cur[4], refund_id[TG_ID_MAX], order_id[TG_ID_MAX];
    json_t *meta = json_object_get(r, "metadata"), *obj = json_object_get(r, "object");
    int64_t amount;

    if (!json_is_object(r) ||
        (obj != NULL && !(json_is_string(obj) && strcmp(json_string_value(obj), "refund") == 0)) ||
        (meta != NULL && !json_is_null(meta) && !json_is_object(meta)) ||
        get_id(r, "id", RE_PREFIX, 1, id) != 0 || get_amount(r, "amount", 1, &amount) != 0 || amount == 0 ||
        get_currency(r, "currency", 1, cur) != 0 || get_word(r, "status", status, sizeof status) != 0 ||
        get_our_id(meta, "refund_id", "rfd", refund_id) != 0 ||
        get_our_id(meta, "order_id", "ord", order_id) != 0)
        return wh_fail(res, PAY_INVALID, "refund_malformed");
    if (order_id[0] && order_fallback[0] && strcmp(order_id, order_fallback) != 0)
        return wh_fail(res, PAY_INVALID, "refund_malformed");
    if (order_id[0] == '\0')
        snprintf(order_id, sizeof order_id, "%s", order_fallback);
    if (strcmp(status, "succeeded") != 0) /* pending, requires_action, failed, canceled */
        return wh_fail(res, PAY_IGNORED, "refund_not_succeeded");
    if (order_id[0] == '\0') /* not ours, or made in the dashboard of a payment we cannot name */
        return wh_fail(res, PAY_IGNORED, "refund_without_order");
    res->ev.kind = PAY_EVENT_REFUND;
    snprintf(res->ev.order_id, sizeof res->ev.order_id, "%s", order_id);
    res->ev.amount = amount;
    snprintf(res->ev.currency, sizeof res->ev.currency, "%s", cur);
    snprintf(res->ev.refund_id, sizeof res->ev.refund_id, "%s", refund_id);
    snprintf(res->ev.provider_refund_id, sizeof res->ev.provider_refund_id, "%s", id);
    res->rc = PAY_OK;
}

/* charge.refunded: the charge carries our order id (payment_intent_data metadata); the refund
 * is the newest of charge.refunds, which API versions before 2022-11-15 include. */
static void event_charge_refunded(json_t *ch, struct pay_webhook_res *res)
{
    char order_id[TG_ID_MAX];
    json_t *refunds, *data, *meta = json_object_get(ch, "metadata");

    if (!json_is_object(ch) || (meta != NULL && !json_is_null(meta) && !json_is_object(meta)) ||
        get_our_id(meta, "order_id", "ord", order_id) != 0)
        return wh_fail(res, PAY_INVALID, "charge_malformed");
    refunds = json_object_get(ch, "refunds");
    data = json_object_get(refunds, "data");
    if (refunds == NULL || json_is_null(refunds))
        return wh_fail(res, PAY_IGNORED, "charge_without_refunds");
    if (!json_is_array(data))
        return wh_fail(res, PAY_INVALID, "charge_malformed");
    if (json_array_size(data) == 0)
        return wh_fail(res, PAY_IGNORED, "charge_without_refunds");
    event_refund(json_array_get(data, 0), order_id, res);
}

/* Fills res->ev from an invoice.* event of a subscription; rc set. */
static void event_invoice(json_t *obj, const char *type, struct pay_webhook_res *res)
{
    struct stripe_invoice v;
    int failed = strcmp(type, "invoice.payment_failed") == 0;

    if (invoice_read(obj, &v) != 0)
        return wh_fail(res, PAY_INVALID, "invoice_malformed");
    if (v.subscription[0] == '\0') /* a one-off invoice: not ours to act on */
        return wh_fail(res, PAY_IGNORED, "not_a_subscription_invoice");
    /* The subscription's metadata names none of our orders: another integration's. (An API
     * version too old to copy it onto the invoice leaves it to the domain to know the id.) */
    if (v.has_meta && v.order_id[0] == '\0')
        return wh_fail(res, PAY_IGNORED, "not_our_subscription");
    if (failed) {
        /* The first payment is taken by Checkout, which reports its own outcome. */
        if (strcmp(v.billing_reason, "subscription_create") == 0)
            return wh_fail(res, PAY_IGNORED, "first_payment_failed");
        res->ev.kind = PAY_EVENT_SUB_PAST_DUE;
        res->ev.amount = v.amount_due;
    } else if (strcmp(v.billing_reason, "subscription_create") == 0) {
        if (v.order_id[0] == '\0')
            return wh_fail(res, PAY_IGNORED, "not_our_subscription");
        res->ev.kind = PAY_EVENT_PAID;
        snprintf(res->ev.order_id, sizeof res->ev.order_id, "%s", v.order_id);
        res->ev.amount = v.amount_paid;
    } else if (strcmp(v.billing_reason, "subscription_cycle") == 0) {
        if (v.period_end == 0) /* a renewal without its period cannot be placed */
            return wh_fail(res, PAY_INVALID, "invoice_malformed");
        res->ev.kind = PAY_EVENT_SUB_PERIOD;
        res->ev.amount = v.amount_paid;
    } else if (strcmp(v.billing_reason, "subscription_update") == 0) {
        /* An upgrade's proration: money only; its credits were granted on our change call. */
        return wh_fail(res, PAY_IGNORED, "proration_invoice");
    } else {
        return wh_fail(res, PAY_IGNORED, "billing_reason_not_handled");
    }
    snprintf(res->ev.subscription_ref, sizeof res->ev.subscription_ref, "%s", v.subscription);
    snprintf(res->ev.invoice_ref, sizeof res->ev.invoice_ref, "%s", v.id);
    snprintf(res->ev.currency, sizeof res->ev.currency, "%s", v.currency);
    snprintf(res->ev.product, sizeof res->ev.product, "%s", v.product);
    res->ev.period_start = v.period_start;
    res->ev.period_end = v.period_end;
    res->rc = PAY_OK;
}

/* Fills res->ev from a customer.subscription.* event; rc set. */
static void event_subscription(json_t *obj, const char *type, struct pay_webhook_res *res)
{
    struct stripe_subscription s;
    const char *st = s.status;

    if (subscription_read(obj, &s) != 0)
        return wh_fail(res, PAY_INVALID, "subscription_malformed");
    if (!s.ours)
        return wh_fail(res, PAY_IGNORED, "not_our_subscription");
    if (strcmp(type, "customer.subscription.deleted") == 0 || strcmp(st, "canceled") == 0 ||
        strcmp(st, "incomplete_expired") == 0 || strcmp(st, "unpaid") == 0)
        res->ev.kind = PAY_EVENT_SUB_ENDED; /* unpaid: Stripe gave up retrying the renewal */
    else if (strcmp(st, "past_due") == 0)
        res->ev.kind = PAY_EVENT_SUB_PAST_DUE;
    else if (strcmp(st, "active") == 0 || strcmp(st, "trialing") == 0)
        res->ev.kind = PAY_EVENT_SUB_STATE;
    else /* incomplete (the first payment pending), paused */
        return wh_fail(res, PAY_IGNORED, "subscription_status_not_handled");
    snprintf(res->ev.subscription_ref, sizeof res->ev.subscription_ref, "%s", s.id);
    snprintf(res->ev.product, sizeof res->ev.product, "%s", s.product);
    snprintf(res->ev.currency, sizeof res->ev.currency, "%s", s.currency);
    res->ev.period_start = s.period_start;
    res->ev.period_end = s.period_end;
    res->ev.cancel_at_period_end = s.cancel_at_period_end;
    res->rc = PAY_OK;
}

static void stripe_event(const char *body, size_t len, struct pay_webhook_res *res)
{
    json_t *j = load_object(body, len, STRIPE_EVENT_MAX), *data, *obj, *type_j, *o;
    const char *type;
    char evt[TG_PROVIDER_REF_MAX];

    if (j == NULL)
        return wh_fail(res, PAY_INVALID, "body_not_json");
    o = json_object_get(j, "object");
    data = json_object_get(j, "data");
    obj = json_object_get(data, "object");
    type_j = json_object_get(j, "type");
    if (get_id(j, "id", EVT_PREFIX, 1, evt) != 0 || !json_is_string(o) ||
        strcmp(json_string_value(o), "event") != 0 || !json_is_string(type_j) ||
        json_string_length(type_j) >= 48 || strlen(json_string_value(type_j)) != json_string_length(type_j) ||
        !json_is_object(obj)) {
        json_decref(j);
        return wh_fail(res, PAY_INVALID, "event_malformed");
    }
    type = json_string_value(type_j);
    if (strcmp(type, "checkout.session.completed") == 0 ||
        strcmp(type, "checkout.session.async_payment_succeeded") == 0 ||
        strcmp(type, "checkout.session.async_payment_failed") == 0 ||
        strcmp(type, "checkout.session.expired") == 0)
        event_session(obj, type, res);
    else if (strcmp(type, "refund.created") == 0 || strcmp(type, "refund.updated") == 0)
        event_refund(obj, "", res);
    else if (strcmp(type, "charge.refunded") == 0)
        event_charge_refunded(obj, res);
    else if (strcmp(type, "invoice.paid") == 0 || strcmp(type, "invoice.payment_succeeded") == 0 ||
             strcmp(type, "invoice.payment_failed") == 0)
        event_invoice(obj, type, res);
    else if (strcmp(type, "customer.subscription.updated") == 0 ||
             strcmp(type, "customer.subscription.deleted") == 0)
        event_subscription(obj, type, res);
    else
        wh_fail(res, PAY_IGNORED, "event_type_not_handled");
    if (res->rc == PAY_OK) {
        /* A refund succeeds once but is told up to three times (refund.created or
         * refund.updated, and charge.refunded), each with its own evt_ id: keyed by the refund
         * itself, the inbox takes it once whichever arrives first. */
        snprintf(res->ev.event_id, sizeof res->ev.event_id, "%s",
                 res->ev.kind == PAY_EVENT_REFUND ? res->ev.provider_refund_id : evt);
        snprintf(res->ev.type, sizeof res->ev.type, "%s", type);
        res->reason[0] = '\0';
    }
    json_decref(j);
}

void stripe_pay_verify(const char *secret, const struct pay_webhook_req *req, struct pay_webhook_res *res)
{
    const char *h;
    char v1[STRIPE_SIG_MAX_V1][65], want[65];
    unsigned char mac[32];
    size_t n_v1 = 0;
    int64_t t, now_s = req->now_ms / 1000;
    int match = 0;
    char ts[24];
    int tl;
    struct sbuf msg = {0};

    memset(res, 0, sizeof *res);
    if (secret == NULL || secret[0] == '\0')
        return wh_fail(res, PAY_MISCONFIGURED, "webhook_secret_missing");
    h = req->header(req->hctx, "stripe-signature");
    if (h == NULL)
        return wh_fail(res, PAY_INVALID, "signature_missing");
    if (stripe_sig_parse(h, &t, v1, &n_v1) != 0)
        return wh_fail(res, PAY_INVALID, "signature_malformed");
    if (req->len > STRIPE_EVENT_MAX)
        return wh_fail(res, PAY_INVALID, "body_too_large");

    tl = snprintf(ts, sizeof ts, "%" PRId64 ".", t);
    sbuf_append(&msg, ts, (size_t)tl);
    sbuf_append(&msg, req->body, req->len);
    /* The key is the secret as the dashboard shows it, "whsec_" included, not decoded. */
    hmac_sha256(secret, strlen(secret), msg.data, msg.len, mac);
    sbuf_free(&msg);
    hex_encode(mac, sizeof mac, want);
    for (size_t i = 0; i < n_v1; i++) /* every candidate, whatever matched before */
        match |= ct_equal(v1[i], want, 64);
    if (!match)
        return wh_fail(res, PAY_INVALID, "signature_mismatch");
    if (t < now_s - STRIPE_TOLERANCE_S || t > now_s + STRIPE_TOLERANCE_S)
        return wh_fail(res, PAY_INVALID, "timestamp_out_of_tolerance");
    stripe_event(req->body, req->len, res);
}

/* ---- the provider ------------------------------------------------------------------------- */

static const char *secret_key(void)
{
    const char *k = config_get("TG_STRIPE_SECRET_KEY");
    return k != NULL && k[0] != '\0' ? k : NULL;
}

static int stripe_configured(void)
{
    const char *w = config_get("TG_STRIPE_WEBHOOK_SECRET");
    return secret_key() != NULL && w != NULL && w[0] != '\0';
}

/* Starts a call to {base}{path} with the key; body NULL for a GET. */
static void call_start(struct net_call *c, const char *method, const char *path, const char *idem_key,
                       const char *body)
{
    char *url = xasprintf("%s%s", config_get("TG_STRIPE_API_BASE"), path);
    char *auth = xasprintf("Bearer %s", secret_key());
    net_call_init(c, "stripe", method, url);
    free(url);
    net_call_header(c, "Authorization", auth);
    sodium_memzero(auth, strlen(auth));
    free(auth);
    if (idem_key != NULL)
        net_call_header(c, "Idempotency-Key", idem_key);
    if (body != NULL)
        net_call_body(c, "application/x-www-form-urlencoded", body, strlen(body));
    c->timeout_ms = STRIPE_CALL_TIMEOUT_MS;
    c->max_response = STRIPE_ANSWER_MAX;
    /* A GET, or a POST under an Idempotency-Key: Stripe makes a repeat harmless. */
    c->idempotent = 1;
    c->retries = STRIPE_RETRIES;
}

/* Wipes the request headers (the key) and releases the call. */
static void call_wipe(struct net_call *c)
{
    for (size_t i = 0; i < c->n_headers; i++)
        if (c->headers[i] != NULL)
            sodium_memzero(c->headers[i], strlen(c->headers[i]));
    net_call_release(c);
}

/* Classifies what net brought back; PAY_OK for a 2xx answer, else rc with reason set. */
static enum pay_rc answer_rc(const struct net_call *c, char reason[64])
{
    if (c->err != NET_OK) {
        set_reason(reason, c->err == NET_TOO_LARGE ? "bad_answer" : net_err_name(c->err));
        return PAY_UNAVAILABLE;
    }
    if (c->status < 200 || c->status > 299)
        return stripe_error_rc(c->status, c->resp_body, c->resp_len, reason);
    reason[0] = '\0';
    return PAY_OK;
}

static void log_outcome(const char *op, const char *order_id, enum pay_rc rc, const char *reason)
{
    if (rc == PAY_OK)
        return;
    log_event(rc == PAY_MISCONFIGURED ? LOG_ERROR
              : rc == PAY_UNAVAILABLE ? LOG_WARN
                                      : LOG_INFO,
              "stripe_call_failed", "op", op, "order_id", order_id, "outcome", pay_rc_name(rc), "reason",
              reason, NULL);
}

/* A session id goes into a URL path: only a well-formed one. */
static int session_id_ok(const char *s)
{
    return s != NULL && stripe_id_ok(s, strlen(s), CS_PREFIX);
}

/* ---- checkout ---- */

struct stripe_checkout {
    struct net_call call;
    char order_id[TG_ID_MAX];
    int64_t amount;
    char currency[4];
    pay_checkout_fn done;
    void *arg;
};

static void checkout_done(struct net_call *c)
{
    struct stripe_checkout *x =
        (struct stripe_checkout *)(void *)((char *)c - offsetof(struct stripe_checkout, call));
    struct pay_checkout_res res;
    struct stripe_session s;

    memset(&res, 0, sizeof res);
    res.rc = answer_rc(c, res.reason);
    if (res.rc == PAY_OK) {
        if (stripe_session_parse(c->resp_body, c->resp_len, &s) != 0 || s.url[0] == '\0') {
            res.rc = PAY_UNAVAILABLE;
            set_reason(res.reason, "bad_answer");
        } else if (strcmp(s.order_id, x->order_id) != 0) {
            res.rc = PAY_UNAVAILABLE;
            set_reason(res.reason, "session_order_mismatch");
        } else if (s.amount_total != x->amount || strcmp(s.currency, x->currency) != 0) {
            /* A catalog stripe_price_id priced differently from the catalog: the buyer would be
             * charged another amount than the order's, which no notification could fulfil. */
            res.rc = PAY_MISCONFIGURED;
            set_reason(res.reason, "price_mismatch");
        } else {
            size_t n = strlen(s.url);
            char *esc = xmalloc(6 * n + 1);
            size_t e = json_escape(esc, 6 * n + 1, s.url, n);
            if (e + 10 >= sizeof res.checkout) {
                res.rc = PAY_UNAVAILABLE;
                set_reason(res.reason, "url_too_long");
            } else {
                snprintf(res.checkout, sizeof res.checkout, "{\"url\":\"%.*s\"}", (int)e, esc);
                snprintf(res.provider_ref, sizeof res.provider_ref, "%s", s.id);
            }
            free(esc);
        }
    }
    call_wipe(c);
    log_outcome("checkout", x->order_id, res.rc, res.reason);
    x->done(x->arg, &res);
    free(x);
}

static void stripe_checkout(struct net_exec *nx, const struct pay_checkout_req *req, pay_checkout_fn done,
                            void *arg)
{
    struct stripe_checkout *x;
    char *form;

    if (secret_key() == NULL) {
        struct pay_checkout_res res = {.rc = PAY_MISCONFIGURED};
        set_reason(res.reason, "secret_key_missing");
        done(arg, &res);
        return;
    }
    form = stripe_checkout_form(req);
    if (form == NULL) {
        struct pay_checkout_res res = {.rc = PAY_INVALID};
        set_reason(res.reason, "order_not_expressible");
        done(arg, &res);
        return;
    }
    x = xcalloc(1, sizeof *x);
    snprintf(x->order_id, sizeof x->order_id, "%s", req->order->id);
    x->amount = req->order->amount;
    snprintf(x->currency, sizeof x->currency, "%s", req->order->currency);
    x->done = done;
    x->arg = arg;
    call_start(&x->call, "POST", "/v1/checkout/sessions", req->order->id, form);
    free(form);
    net_exec_submit(nx, &x->call, checkout_done); /* x may be gone from here on */
}

/* ---- query ---- */

struct stripe_query {
    struct net_call call;
    char order_id[TG_ID_MAX];
    pay_query_fn done;
    void *arg;
};

/* What a session says about the order's payment (rc OK), into res. */
static void session_state(const struct stripe_session *s, const char *order_id, struct pay_query_res *res)
{
    res->rc = PAY_OK;
    if (strcmp(s->order_id, order_id) != 0) {
        res->rc = PAY_UNAVAILABLE;
        set_reason(res->reason, "session_order_mismatch");
    } else if (strcmp(s->status, "expired") == 0) {
        res->state = PAY_STATE_CLOSED;
    } else if (strcmp(s->status, "complete") == 0 &&
               (strcmp(s->payment_status, "paid") == 0 ||
                strcmp(s->payment_status, "no_payment_required") == 0)) {
        if (s->amount_total < 0 || s->currency[0] == '\0' || strlen(s->id) + 6 >= sizeof res->ev.event_id) {
            res->rc = PAY_UNAVAILABLE;
            set_reason(res->reason, "bad_answer");
            return;
        }
        res->state = PAY_STATE_PAID;
        res->ev.kind = PAY_EVENT_PAID;
        memcpy(res->ev.event_id, "query:", 6);
        memcpy(res->ev.event_id + 6, s->id, strlen(s->id) + 1); /* fits: checked above */
        snprintf(res->ev.type, sizeof res->ev.type, "checkout.session");
        snprintf(res->ev.order_id, sizeof res->ev.order_id, "%s", s->order_id);
        snprintf(res->ev.provider_ref, sizeof res->ev.provider_ref, "%s", s->id);
        res->ev.amount = s->amount_total;
        snprintf(res->ev.currency, sizeof res->ev.currency, "%s", s->currency);
        if (strcmp(s->mode, "subscription") == 0)
            snprintf(res->ev.subscription_ref, sizeof res->ev.subscription_ref, "%s", s->subscription);
    } else {
        /* open (the buyer has not paid), or complete and unpaid (a delayed method processing) */
        res->state = PAY_STATE_PENDING;
    }
}

static void query_done(struct net_call *c)
{
    struct stripe_query *x = (struct stripe_query *)(void *)((char *)c - offsetof(struct stripe_query, call));
    struct pay_query_res res;
    struct stripe_session s;

    memset(&res, 0, sizeof res);
    res.rc = answer_rc(c, res.reason);
    if (res.rc == PAY_OK) {
        if (stripe_session_parse(c->resp_body, c->resp_len, &s) != 0) {
            res.rc = PAY_UNAVAILABLE;
            set_reason(res.reason, "bad_answer");
        } else {
            session_state(&s, x->order_id, &res);
        }
    } else if (res.rc != PAY_NOTFOUND && res.rc != PAY_MISCONFIGURED) {
        res.rc = PAY_UNAVAILABLE; /* INVALID, DECLINED: nothing a query can report */
    }
    call_wipe(c);
    log_outcome("query", x->order_id, res.rc == PAY_NOTFOUND ? PAY_OK : res.rc, res.reason);
    x->done(x->arg, &res);
    free(x);
}

static void stripe_query(struct net_exec *nx, const struct order *o, int64_t now_ms, pay_query_fn done,
                         void *arg)
{
    struct stripe_query *x;
    char *path;
    (void)now_ms;

    if (secret_key() == NULL || !session_id_ok(o->provider_ref)) {
        struct pay_query_res res;
        memset(&res, 0, sizeof res);
        /* No session: the checkout never reached Stripe, so it has no payment for this order. */
        res.rc = secret_key() == NULL ? PAY_MISCONFIGURED : PAY_NOTFOUND;
        set_reason(res.reason, secret_key() == NULL ? "secret_key_missing" : "no_session");
        done(arg, &res);
        return;
    }
    x = xcalloc(1, sizeof *x);
    snprintf(x->order_id, sizeof x->order_id, "%s", o->id);
    x->done = done;
    x->arg = arg;
    path = xasprintf("/v1/checkout/sessions/%s", o->provider_ref);
    call_start(&x->call, "GET", path, NULL, NULL);
    free(path);
    net_exec_submit(nx, &x->call, query_done);
}

/* ---- refund: the session (for its payment_intent), then the refund ---- */

struct stripe_refund {
    struct net_call call;
    struct net_exec *nx;
    struct order order;
    char refund_id[TG_ID_MAX];
    char invoice[TG_PROVIDER_REF_MAX]; /* the invoice asked for, when the payment is one's */
    int64_t amount;
    char *reason;
    pay_refund_fn done;
    void *arg;
};

static struct stripe_refund *refund_of(struct net_call *c)
{
    return (struct stripe_refund *)(void *)((char *)c - offsetof(struct stripe_refund, call));
}

static void refund_finish(struct stripe_refund *x, struct pay_refund_res *res)
{
    log_outcome("refund", x->order.id, res->rc, res->reason);
    x->done(x->arg, res);
    free(x->reason);
    free(x);
}

static void refund_created(struct net_call *c)
{
    struct stripe_refund *x = refund_of(c);
    struct pay_refund_res res;
    json_t *j;
    char status[24], cur[4];
    int64_t amount;

    memset(&res, 0, sizeof res);
    res.rc = answer_rc(c, res.reason);
    if (res.rc == PAY_NOTFOUND)
        res.rc = PAY_INVALID; /* the payment intent we just read is unknown to the refund call */
    if (res.rc == PAY_OK) {
        j = load_object(c->resp_body, c->resp_len, STRIPE_ANSWER_MAX);
        if (j == NULL || get_id(j, "id", RE_PREFIX, 1, res.provider_refund_id) != 0 ||
            get_word(j, "status", status, sizeof status) != 0 || get_amount(j, "amount", 1, &amount) != 0 ||
            get_currency(j, "currency", 1, cur) != 0) {
            /* The refund may exist: a retry under the same key returns it. */
            res.rc = PAY_UNAVAILABLE;
            set_reason(res.reason, "bad_answer");
            res.provider_refund_id[0] = '\0';
        } else if (amount != x->amount || strcmp(cur, x->order.currency) != 0) {
            res.rc = PAY_UNAVAILABLE;
            set_reason(res.reason, "refund_amount_mismatch");
        } else if (strcmp(status, "succeeded") == 0) {
            res.pending = 0;
        } else if (strcmp(status, "pending") == 0 || strcmp(status, "requires_action") == 0) {
            res.pending = 1;
        } else { /* failed, canceled */
            res.rc = PAY_DECLINED;
            snprintf(res.reason, sizeof res.reason, "refund_%s", status[0] ? status : "unknown");
        }
        json_decref(j);
    }
    call_wipe(c);
    refund_finish(x, &res);
}

/* The refund itself, of payment intent pi. */
static void refund_post(struct stripe_refund *x, const char *pi)
{
    struct pay_refund_req req;
    char *form;
    memset(&req, 0, sizeof req);
    req.order = &x->order;
    req.refund_id = x->refund_id;
    req.amount = x->amount;
    req.reason = x->reason;
    form = stripe_refund_form(&req, pi);
    call_start(&x->call, "POST", "/v1/refunds", x->refund_id, form);
    free(form);
    net_exec_submit(x->nx, &x->call, refund_created);
}

/* A plan's payment is an invoice's: its payment intent, then the refund. */
static void refund_invoice_done(struct net_call *c)
{
    struct stripe_refund *x = refund_of(c);
    struct pay_refund_res res;
    char id[TG_PROVIDER_REF_MAX], pi[TG_PROVIDER_REF_MAX];

    memset(&res, 0, sizeof res);
    res.rc = answer_rc(c, res.reason);
    if (res.rc == PAY_OK && stripe_invoice_pi_parse(c->resp_body, c->resp_len, id, pi) != 0) {
        res.rc = PAY_UNAVAILABLE;
        set_reason(res.reason, "bad_answer");
    } else if (res.rc == PAY_OK && strcmp(id, x->invoice) != 0) {
        res.rc = PAY_UNAVAILABLE;
        set_reason(res.reason, "invoice_mismatch");
    } else if (res.rc == PAY_OK && pi[0] == '\0') {
        res.rc = PAY_DECLINED;
        set_reason(res.reason, "not_paid");
    } else if (res.rc == PAY_NOTFOUND) {
        res.rc = PAY_INVALID;
    }
    call_wipe(c);
    if (res.rc != PAY_OK) {
        refund_finish(x, &res);
        return;
    }
    refund_post(x, pi);
}

static void refund_invoice_get(struct stripe_refund *x, const char *invoice)
{
    /* payments is included only when asked for (API 2025-03-31 and later). */
    char *path = xasprintf("/v1/invoices/%s?expand%%5B%%5D=payments", invoice);
    snprintf(x->invoice, sizeof x->invoice, "%s", invoice);
    call_start(&x->call, "GET", path, NULL, NULL);
    free(path);
    net_exec_submit(x->nx, &x->call, refund_invoice_done);
}

static void refund_session_done(struct net_call *c)
{
    struct stripe_refund *x = refund_of(c);
    struct pay_refund_res res;
    struct stripe_session s;

    memset(&res, 0, sizeof res);
    res.rc = answer_rc(c, res.reason);
    if (res.rc == PAY_OK && stripe_session_parse(c->resp_body, c->resp_len, &s) != 0) {
        res.rc = PAY_UNAVAILABLE;
        set_reason(res.reason, "bad_answer");
    } else if (res.rc == PAY_OK && strcmp(s.order_id, x->order.id) != 0) {
        res.rc = PAY_UNAVAILABLE;
        set_reason(res.reason, "session_order_mismatch");
    } else if (res.rc == PAY_OK && s.payment_intent[0] == '\0' && s.invoice[0] == '\0') {
        res.rc = PAY_DECLINED;
        set_reason(res.reason, "not_paid");
    } else if (res.rc == PAY_NOTFOUND) {
        res.rc = PAY_INVALID;
    }
    call_wipe(c);
    if (res.rc != PAY_OK) {
        refund_finish(x, &res);
        return;
    }
    if (s.payment_intent[0] == '\0') /* a subscription-mode session: paid by its invoice */
        refund_invoice_get(x, s.invoice);
    else
        refund_post(x, s.payment_intent);
}

static void stripe_refund(struct net_exec *nx, const struct pay_refund_req *req, pay_refund_fn done,
                          void *arg)
{
    struct stripe_refund *x;
    char *path;
    struct pay_refund_res res;

    memset(&res, 0, sizeof res);
    if (secret_key() == NULL) {
        res.rc = PAY_MISCONFIGURED;
        set_reason(res.reason, "secret_key_missing");
    } else if (!session_id_ok(req->order->provider_ref) &&
               !stripe_id_ok(req->order->provider_ref, strlen(req->order->provider_ref), IN_PREFIX)) {
        res.rc = PAY_INVALID;
        set_reason(res.reason, "no_session");
    } else if (req->amount <= 0 || req->refund_id == NULL || !id_valid(req->refund_id, "rfd") ||
               !currency_ok(req->order->currency)) {
        res.rc = PAY_INVALID;
        set_reason(res.reason, "bad_refund_request");
    }
    if (res.rc != PAY_OK) {
        log_outcome("refund", req->order->id, res.rc, res.reason);
        done(arg, &res);
        return;
    }
    x = xcalloc(1, sizeof *x);
    x->nx = nx;
    x->order = *req->order;
    snprintf(x->refund_id, sizeof x->refund_id, "%s", req->refund_id);
    x->amount = req->amount;
    x->reason = xstrdup(req->reason != NULL ? req->reason : "");
    x->done = done;
    x->arg = arg;
    if (strncmp(req->order->provider_ref, "in_", 3) == 0) { /* a plan's renewal: its invoice */
        refund_invoice_get(x, req->order->provider_ref);
        return;
    }
    path = xasprintf("/v1/checkout/sessions/%s", req->order->provider_ref);
    call_start(&x->call, "GET", path, NULL, NULL);
    free(path);
    net_exec_submit(nx, &x->call, refund_session_done);
}

/* ---- subscriptions: one call, or (CHANGE) the subscription first, then the update ---- */

struct stripe_sub {
    struct net_call call;
    struct net_exec *nx;
    struct pay_sub_req req; /* its strings point into the copies below */
    char sub_ref[TG_PROVIDER_REF_MAX];
    char sub_id[TG_ID_MAX];
    char product[TG_PRODUCT_MAX];
    char currency[4];
    char interval[8];
    char price_id[CATALOG_PROVIDER_ID_MAX];
    char idem_key[TG_PROVIDER_REF_MAX];
    pay_sub_fn done;
    void *arg;
};

static const char *const SUB_ACTION_NAMES[] = {"cancel", "resume", "cancel_now", "change"};

static struct stripe_sub *sub_of(struct net_call *c)
{
    return (struct stripe_sub *)(void *)((char *)c - offsetof(struct stripe_sub, call));
}

static void sub_finish(struct stripe_sub *x, struct pay_sub_res *res)
{
    if (res->rc != PAY_OK)
        log_event(res->rc == PAY_MISCONFIGURED ? LOG_ERROR
                  : res->rc == PAY_UNAVAILABLE ? LOG_WARN
                                               : LOG_INFO,
                  "stripe_call_failed", "op", "subscription", "action", SUB_ACTION_NAMES[x->req.action],
                  "subscription_id", x->sub_id, "outcome", pay_rc_name(res->rc), "reason", res->reason, NULL);
    x->done(x->arg, res);
    free(x);
}

/* What a 2xx or error answer to a subscription call means, into res (period_end -1 when
 * the answer does not say). */
static void sub_answer(struct net_call *c, struct stripe_sub *x, struct pay_sub_res *res,
                       struct stripe_subscription *s)
{
    memset(res, 0, sizeof *res);
    res->period_end = -1;
    res->cancel_at_period_end = -1;
    res->rc = answer_rc(c, res->reason);
    /* The contract knows no NOTFOUND or DECLINED here: a subscription Stripe does not know,
     * or an upgrade whose proration the card refused, is a refusal of the request. */
    if (res->rc == PAY_NOTFOUND || res->rc == PAY_DECLINED)
        res->rc = PAY_INVALID;
    if (res->rc != PAY_OK)
        return;
    if (stripe_subscription_parse(c->resp_body, c->resp_len, s) != 0 || strcmp(s->id, x->sub_ref) != 0) {
        res->rc = PAY_UNAVAILABLE;
        set_reason(res->reason, "bad_answer");
        return;
    }
    res->period_end = s->period_end != 0 ? s->period_end : -1;
    res->cancel_at_period_end = s->cancel_at_period_end;
}

static void sub_updated(struct net_call *c)
{
    struct stripe_sub *x = sub_of(c);
    struct pay_sub_res res;
    struct stripe_subscription s;

    sub_answer(c, x, &res, &s);
    call_wipe(c);
    sub_finish(x, &res);
}

/* CHANGE: the subscription as it stands (its item, product and currency), then the update. */
static void sub_read_done(struct net_call *c)
{
    struct stripe_sub *x = sub_of(c);
    struct pay_sub_res res;
    struct stripe_subscription s;
    char *form = NULL, *path;

    sub_answer(c, x, &res, &s);
    call_wipe(c);
    if (res.rc == PAY_OK) {
        if (s.item_id[0] == '\0' || (s.currency[0] && strcmp(s.currency, x->currency) != 0)) {
            res.rc = PAY_INVALID;
            set_reason(res.reason, s.item_id[0] ? "currency_mismatch" : "subscription_without_item");
        } else if ((form = stripe_sub_form(&x->req, s.item_id, s.stripe_product)) == NULL) {
            res.rc = PAY_INVALID;
            set_reason(res.reason, "change_not_expressible");
        }
    }
    if (res.rc != PAY_OK) {
        res.period_end = -1;
        res.cancel_at_period_end = -1;
        sub_finish(x, &res);
        return;
    }
    path = xasprintf("/v1/subscriptions/%s", x->sub_ref);
    call_start(&x->call, "POST", path, x->idem_key[0] ? x->idem_key : NULL, form);
    /* A proration charged twice is money: without a key, net must not repeat it. */
    x->call.idempotent = x->idem_key[0] != '\0';
    free(path);
    free(form);
    net_exec_submit(x->nx, &x->call, sub_updated);
}

static void stripe_subscription(struct net_exec *nx, const struct pay_sub_req *req, pay_sub_fn done, void *arg)
{
    struct stripe_sub *x;
    struct pay_sub_res res;
    char *path, *form = NULL;

    memset(&res, 0, sizeof res);
    res.period_end = -1;
    res.cancel_at_period_end = -1;
    if (secret_key() == NULL) {
        res.rc = PAY_MISCONFIGURED;
        set_reason(res.reason, "secret_key_missing");
    } else if ((unsigned)req->action > PAY_SUB_CHANGE || req->subscription_ref == NULL ||
               !stripe_id_ok(req->subscription_ref, strlen(req->subscription_ref), SUB_PREFIX)) {
        res.rc = PAY_INVALID;
        set_reason(res.reason, "no_subscription");
    } else if (req->idem_key != NULL && strlen(req->idem_key) >= TG_PROVIDER_REF_MAX) {
        res.rc = PAY_INVALID;
        set_reason(res.reason, "bad_subscription_request");
    } else if (req->action == PAY_SUB_CHANGE &&
               (req->product == NULL || strlen(req->product) >= TG_PRODUCT_MAX || req->amount <= 0 ||
                !currency_ok(req->currency) || !interval_ok(req->interval) ||
                (req->provider_product_id != NULL && strlen(req->provider_product_id) >= CATALOG_PROVIDER_ID_MAX))) {
        res.rc = PAY_INVALID;
        set_reason(res.reason, "bad_subscription_request");
    }
    if (res.rc != PAY_OK) {
        log_event(LOG_INFO, "stripe_call_failed", "op", "subscription", "outcome", pay_rc_name(res.rc), "reason",
                  res.reason, NULL);
        done(arg, &res);
        return;
    }
    x = xcalloc(1, sizeof *x);
    x->nx = nx;
    x->done = done;
    x->arg = arg;
    snprintf(x->sub_ref, sizeof x->sub_ref, "%s", req->subscription_ref);
    snprintf(x->sub_id, sizeof x->sub_id, "%s", req->sub_id != NULL ? req->sub_id : "");
    snprintf(x->product, sizeof x->product, "%s", req->product != NULL ? req->product : "");
    snprintf(x->currency, sizeof x->currency, "%s", req->currency != NULL ? req->currency : "");
    snprintf(x->interval, sizeof x->interval, "%s", req->interval != NULL ? req->interval : "");
    snprintf(x->price_id, sizeof x->price_id, "%s", req->provider_product_id != NULL ? req->provider_product_id : "");
    snprintf(x->idem_key, sizeof x->idem_key, "%s", req->idem_key != NULL ? req->idem_key : "");
    x->req = *req;
    x->req.subscription_ref = x->sub_ref;
    x->req.sub_id = x->sub_id;
    x->req.product = x->product;
    x->req.currency = x->currency;
    x->req.interval = x->interval;
    x->req.provider_product_id = x->price_id;
    x->req.idem_key = x->idem_key;
    path = xasprintf("/v1/subscriptions/%s", x->sub_ref);
    switch (req->action) {
    case PAY_SUB_CANCEL:
    case PAY_SUB_RESUME:
        /* Setting a flag: the same request twice leaves the same state, so a retry is safe
         * with or without a key. */
        form = stripe_sub_form(&x->req, NULL, NULL);
        call_start(&x->call, "POST", path, x->idem_key[0] ? x->idem_key : NULL, form);
        net_exec_submit(nx, &x->call, sub_updated);
        break;
    case PAY_SUB_CANCEL_NOW:
        call_start(&x->call, "DELETE", path, NULL, NULL);
        net_exec_submit(nx, &x->call, sub_updated);
        break;
    default:
        call_start(&x->call, "GET", path, NULL, NULL);
        net_exec_submit(nx, &x->call, sub_read_done);
        break;
    }
    free(path);
    free(form);
}

/* ---- notifications ---- */

static void stripe_verify(struct net_exec *nx, const struct pay_webhook_req *req, pay_webhook_fn done,
                          void *arg)
{
    struct pay_webhook_res res;
    (void)nx;
    stripe_pay_verify(config_get("TG_STRIPE_WEBHOOK_SECRET"), req, &res);
    done(arg, &res);
}

const struct pay_provider pay_stripe = {
    .name = "stripe",
    .configured = stripe_configured,
    .checkout = stripe_checkout,
    .verify_webhook = stripe_verify,
    .query = stripe_query,
    .refund = stripe_refund,
    .subscription = stripe_subscription,
    /* Stripe reads only the status; its own libraries answer this body. */
    .ack_type = "application/json",
    .ack_body = "{\"received\":true}",
    .fail_type = NULL,
    .fail_body = NULL,
};
