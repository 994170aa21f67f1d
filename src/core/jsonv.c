#include "core/jsonv.h"

#include <stdio.h>
#include <string.h>

static int jv_fail(struct jerr *e, const char *field, const char *msg)
{
    snprintf(e->field, sizeof e->field, "%s", field);
    snprintf(e->msg, sizeof e->msg, "%s: %s", field, msg);
    return -1;
}

int jv_only(json_t *obj, const char *const allowed[], struct jerr *e)
{
    if (!json_is_object(obj))
        return jv_fail(e, "body", "must be a JSON object");
    const char *key;
    json_t *val;
    json_object_foreach(obj, key, val) {
        (void)val;
        int ok = 0;
        for (size_t i = 0; allowed[i]; i++)
            if (strcmp(allowed[i], key) == 0) {
                ok = 1;
                break;
            }
        if (!ok) {
            /* At most 60 bytes of the key, cut at a character boundary: the name goes into
             * the JSON error reply, which must be valid UTF-8 (a cut inside a character made
             * the reply lose its details; found by fuzz_json). */
            char name[64];
            size_t n = strlen(key);
            if (n > 60) {
                n = 60;
                while (n > 0 && ((unsigned char)key[n] & 0xC0) == 0x80)
                    n--;
            }
            snprintf(name, sizeof name, "%.*s", (int)n, key);
            return jv_fail(e, name, "unknown field");
        }
    }
    return 0;
}

int jv_string(json_t *obj, const char *key, int required, size_t min_len, size_t max_len,
              const char **out, struct jerr *e)
{
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (v == NULL || json_is_null(v)) {
        if (required)
            return jv_fail(e, key, "is required");
        return 0;
    }
    if (!json_is_string(v))
        return jv_fail(e, key, "must be a string");
    size_t len = json_string_length(v);
    const char *s = json_string_value(v);
    if (strlen(s) != len)
        return jv_fail(e, key, "must not contain NUL characters");
    if (len < min_len || len > max_len) {
        char msg[96];
        snprintf(msg, sizeof msg, "must be between %zu and %zu bytes long", min_len, max_len);
        return jv_fail(e, key, msg);
    }
    *out = s;
    return 0;
}

int jv_int(json_t *obj, const char *key, int required, int64_t min, int64_t max, int64_t *out,
           struct jerr *e)
{
    json_t *v = json_object_get(obj, key);
    if (v == NULL || json_is_null(v)) {
        if (required)
            return jv_fail(e, key, "is required");
        return 0;
    }
    if (!json_is_integer(v))
        return jv_fail(e, key, "must be an integer");
    json_int_t i = json_integer_value(v);
    if (i < min || i > max) {
        char msg[96];
        snprintf(msg, sizeof msg, "must be between %lld and %lld", (long long)min, (long long)max);
        return jv_fail(e, key, msg);
    }
    *out = (int64_t)i;
    return 0;
}

int jv_bool(json_t *obj, const char *key, int required, int *out, struct jerr *e)
{
    json_t *v = json_object_get(obj, key);
    if (v == NULL || json_is_null(v)) {
        if (required)
            return jv_fail(e, key, "is required");
        return 0;
    }
    if (!json_is_boolean(v))
        return jv_fail(e, key, "must be true or false");
    *out = json_is_true(v);
    return 0;
}
