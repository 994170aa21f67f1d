/*
 * fuzz_json.c - fuzz target for JSON request bodies as the handlers read them:
 * json_loadb(JSON_REJECT_DUPLICATES) (req_json_or_reply in src/http/req.c), then the
 * validators of src/core/jsonv.c in the handlers' order (jv_only, then each field).
 *
 * The input is a request body. Invariants (abort() when broken):
 *  - parsing: a body that loads is an object or array that dumps and loads back equal; the
 *    same object with one key repeated is refused (and accepted without the flag, so it is
 *    the duplicate that is refused); a body that does not load has an error message;
 *  - every validator agrees with a reference of its documented contract (jv_only: an object
 *    with allowed keys only; jv_string: absent or null is fine unless required, else a
 *    NUL-free string of min..max bytes, returned borrowed from the object; jv_int: an
 *    integer, not a real, within min..max, *out untouched when absent; jv_bool likewise);
 *  - a failure names its field (struct jerr: field, and msg starting "field: "), both
 *    NUL-terminated valid UTF-8, since they go into the JSON error reply;
 *  - accepted values re-validate: the fields a chain accepted, packed into a fresh body,
 *    dumped and loaded again, pass the same chain with the same values.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/jsonv.h"
#include "fuzz.h"

enum ftype { F_STR, F_INT, F_BOOL };

struct field {
    const char *key;
    enum ftype type;
    int required;
    int64_t min, max;
};

/* The handlers' chains (src/api: auth register/login/refresh, apikeys create, me update and
 * password change, admin credit adjustment), plus one with the types no handler uses yet. */
struct chain {
    const char *name;
    const char *const *allowed;
    struct field fields[4];
};

static const char *const a_register[] = {"email", "password", "display_name", NULL};
static const char *const a_login[] = {"email", "password", NULL};
static const char *const a_refresh[] = {"refresh_token", NULL};
static const char *const a_apikey[] = {"name", NULL};
static const char *const a_me[] = {"display_name", NULL};
static const char *const a_pw[] = {"current_password", "new_password", NULL};
static const char *const a_adjust[] = {"delta", "bucket", "reason", NULL};
static const char *const a_flags[] = {"enabled", "count", "label", NULL};

static const struct chain chains[] = {
    {"register",
     a_register,
     {{"email", F_STR, 1, 1, 320}, {"password", F_STR, 1, 0, 1024}, {"display_name", F_STR, 0, 0, 400}}},
    {"login", a_login, {{"email", F_STR, 1, 1, 320}, {"password", F_STR, 1, 1, 1024}}},
    {"refresh", a_refresh, {{"refresh_token", F_STR, 1, 1, 512}}},
    {"apikey", a_apikey, {{"name", F_STR, 1, 1, 400}}},
    {"me", a_me, {{"display_name", F_STR, 0, 0, 400}}},
    {"password", a_pw, {{"current_password", F_STR, 1, 1, 1024}, {"new_password", F_STR, 1, 0, 1024}}},
    {"adjust",
     a_adjust,
     {{"delta", F_INT, 1, -1000000000, 1000000000},
      {"bucket", F_STR, 1, 1, 8},
      {"reason", F_STR, 1, 1, 500}}},
    {"flags",
     a_flags,
     {{"enabled", F_BOOL, 0, 0, 0}, {"count", F_INT, 0, 0, 100}, {"label", F_STR, 0, 0, 0}}},
};
#define N_CHAINS (sizeof chains / sizeof chains[0])

static unsigned long loaded, refused, passed[N_CHAINS];

/* 1 if s (NUL-terminated within n bytes) is valid UTF-8. */
static int utf8_ok(const char *s, size_t n)
{
    const char *nul = memchr(s, '\0', n);
    json_t *j;
    if (nul == NULL)
        return 0;
    /* jansson validates UTF-8 in json_string(). */
    j = json_string(s);
    json_decref(j);
    return j != NULL;
}

static void check_jerr(const struct jerr *e, const char *field)
{
    size_t fl;
    if (!utf8_ok(e->field, sizeof e->field) || !utf8_ok(e->msg, sizeof e->msg))
        abort();
    if (field != NULL && strcmp(e->field, field) != 0)
        abort();
    fl = strlen(e->field);
    if (strncmp(e->msg, e->field, fl) != 0 || strncmp(e->msg + fl, ": ", 2) != 0)
        abort();
}

static int allowed_key(const char *const *allowed, const char *k)
{
    for (size_t i = 0; allowed[i]; i++)
        if (strcmp(allowed[i], k) == 0)
            return 1;
    return 0;
}

/* The accepted value of one field, for the re-validation. */
struct got {
    int present;
    const char *s;
    int64_t i;
    int b;
};

/* Runs one chain as a handler does; returns 0 when everything passed (values in got). */
static int run_chain(const struct chain *c, json_t *body, struct got got[4])
{
    struct jerr e;
    const char *k;
    json_t *v;
    int want, rc;

    memset(&e, 0x5a, sizeof e);
    rc = jv_only(body, c->allowed, &e);
    want = json_is_object(body);
    if (want) {
        json_object_foreach(body, k, v) {
            if (!allowed_key(c->allowed, k))
                want = 0;
        }
    }
    if ((rc == 0) != want)
        abort();
    if (rc != 0) {
        check_jerr(&e, json_is_object(body) ? NULL : "body");
        if (json_is_object(body)) {
            /* The field is an unknown key, at most shortened. */
            int match = 0;
            json_object_foreach(body, k, v) {
                if (!allowed_key(c->allowed, k) && strncmp(k, e.field, strlen(e.field)) == 0)
                    match = 1;
            }
            if (!match || strcmp(e.msg + strlen(e.field), ": unknown field") != 0)
                abort();
        }
        return -1;
    }
    for (size_t f = 0; f < 4 && c->fields[f].key; f++) {
        const struct field *fd = &c->fields[f];
        json_t *val = json_object_get(body, fd->key);
        int absent = val == NULL || json_is_null(val);
        memset(&e, 0x5a, sizeof e);
        memset(&got[f], 0, sizeof got[f]);
        got[f].present = !absent;
        if (fd->type == F_STR) {
            const char *out = (const char *)1;
            size_t len = json_is_string(val) ? json_string_length(val) : 0;
            rc = jv_string(body, fd->key, fd->required, (size_t)fd->min, (size_t)fd->max, &out, &e);
            want = absent ? !fd->required
                          : json_is_string(val) && strlen(json_string_value(val)) == len &&
                                len >= (size_t)fd->min && len <= (size_t)fd->max;
            if ((rc == 0) != want)
                abort();
            if (rc == 0 && out != (absent ? NULL : json_string_value(val)))
                abort();
            got[f].s = out;
        } else if (fd->type == F_INT) {
            int64_t out = 0x1234567;
            rc = jv_int(body, fd->key, fd->required, fd->min, fd->max, &out, &e);
            want = absent ? !fd->required
                          : json_is_integer(val) && json_integer_value(val) >= fd->min &&
                                json_integer_value(val) <= fd->max;
            if ((rc == 0) != want)
                abort();
            if (rc == 0 && out != (absent ? 0x1234567 : (int64_t)json_integer_value(val)))
                abort();
            got[f].i = out;
        } else {
            int out = 7;
            rc = jv_bool(body, fd->key, fd->required, &out, &e);
            want = absent ? !fd->required : json_is_boolean(val);
            if ((rc == 0) != want)
                abort();
            if (rc == 0 && out != (absent ? 7 : json_is_true(val)))
                abort();
            got[f].b = out;
        }
        if (rc != 0) {
            check_jerr(&e, fd->key);
            return -1;
        }
    }
    return 0;
}

/* Packs the accepted values into a new body, round-trips it through text, and runs the chain
 * again: it must pass with the same values. */
static void revalidate(const struct chain *c, const struct got got[4])
{
    json_t *fresh = json_object(), *again;
    struct got got2[4];
    char *text;
    for (size_t f = 0; f < 4 && c->fields[f].key; f++) {
        if (!got[f].present)
            continue;
        json_t *v = c->fields[f].type == F_STR   ? json_stringn(got[f].s, strlen(got[f].s))
                    : c->fields[f].type == F_INT ? json_integer(got[f].i)
                                                 : json_boolean(got[f].b);
        if (v == NULL || json_object_set_new(fresh, c->fields[f].key, v) != 0)
            abort();
    }
    text = json_dumps(fresh, JSON_COMPACT);
    if (text == NULL)
        abort();
    again = json_loadb(text, strlen(text), JSON_REJECT_DUPLICATES, NULL);
    if (again == NULL || run_chain(c, again, got2) != 0)
        abort();
    for (size_t f = 0; f < 4 && c->fields[f].key; f++) {
        if (got2[f].present != got[f].present || got2[f].i != got[f].i || got2[f].b != got[f].b ||
            (got[f].s == NULL) != (got2[f].s == NULL) || (got[f].s && strcmp(got[f].s, got2[f].s) != 0))
            abort();
    }
    json_decref(again);
    json_decref(fresh);
    free(text);
}

/* The object's text with its first key repeated in front must be refused as a duplicate. */
static void check_duplicate(json_t *obj, const char *dumped)
{
    const char *k = json_object_iter_key(json_object_iter(obj));
    json_t *key = json_string(k);
    char *ktext = json_dumps(key, JSON_ENCODE_ANY);
    size_t n = strlen(ktext) + strlen(dumped) + 16;
    char *dup = malloc(n);
    json_t *j;
    if (ktext == NULL || dup == NULL)
        abort();
    snprintf(dup, n, "{%s:null,%s", ktext, dumped + 1);
    j = json_loadb(dup, strlen(dup), JSON_REJECT_DUPLICATES, NULL);
    if (j != NULL)
        abort();
    j = json_loadb(dup, strlen(dup), 0, NULL);
    if (j == NULL)
        abort();
    json_decref(j);
    json_decref(key);
    free(ktext);
    free(dup);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size copy so that reading past the length is caught by ASan. */
    char *body = malloc(size ? size : 1);
    json_error_t err;
    json_t *j, *again;
    char *text;

    if (body == NULL)
        abort();
    memcpy(body, data, size);
    j = json_loadb(body, size, JSON_REJECT_DUPLICATES, &err);
    if (j == NULL) {
        if (err.text[0] == '\0' || memchr(err.text, '\0', sizeof err.text) == NULL)
            abort();
        refused++;
        free(body);
        return 0;
    }
    loaded++;
    if (!json_is_object(j) && !json_is_array(j))
        abort();
    text = json_dumps(j, JSON_COMPACT);
    if (text == NULL)
        abort();
    again = json_loadb(text, strlen(text), JSON_REJECT_DUPLICATES, NULL);
    if (again == NULL || !json_equal(j, again))
        abort();
    json_decref(again);
    if (json_is_object(j) && json_object_size(j) > 0)
        check_duplicate(j, text);
    free(text);

    /* Handlers only get objects (req_json_or_reply answers 400 otherwise), but the validators
     * must stand any value. */
    for (size_t c = 0; c < N_CHAINS; c++) {
        struct got got[4];
        if (run_chain(&chains[c], j, got) == 0) {
            passed[c]++;
            revalidate(&chains[c], got);
        }
    }
    json_decref(j);
    free(body);
    return 0;
}

void fuzz_seeds(void (*add)(const uint8_t *data, size_t size))
{
    static const char *texts[] = {
        "{\"email\":\"ada@example.com\",\"password\":\"correct-horse-battery\"}",
        "{\"email\":\"ada@example.com\",\"password\":\"\",\"display_name\":\"Ada \\u00e9\\ud83d\\ude00\"}",
        "{\"refresh_token\":\"rt_0123456789abcdef\"}",
        "{\"name\":\"ci key\"}",
        "{\"display_name\":null}",
        "{\"current_password\":\"old-password-1\",\"new_password\":\"new-password-2\"}",
        "{\"delta\":-5,\"bucket\":\"paid\",\"reason\":\"refund\"}",
        "{\"delta\":1.0,\"bucket\":\"paid\",\"reason\":\"x\"}",
        "{\"delta\":1000000001,\"bucket\":\"promo-bucket\",\"reason\":\"\"}",
        "{\"enabled\":true,\"count\":100,\"label\":\"\"}",
        "{\"email\":\"a\",\"email\":\"b\"}",
        "{\"email\":\"a\\u0000b\"}",
        "{\"unknown_field_with_a_long_name_that_goes_past_sixty_bytes_\\u00e9\\u00e9\":1}",
        "[1,2,{\"a\":[]}]",
        "{\"a\":{\"b\":{\"c\":[true,false,null,-0,1e308,\"\\\"\"]}}}",
        "\"just a string\"",
        "{",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
        add((const uint8_t *)texts[i], strlen(texts[i]));
}

void fuzz_report(void)
{
    printf("loaded %lu, refused %lu; chains passed:", loaded, refused);
    for (size_t c = 0; c < N_CHAINS; c++)
        printf(" %s=%lu", chains[c].name, passed[c]);
    printf("\n");
}
