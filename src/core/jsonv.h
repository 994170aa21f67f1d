/*
 * jsonv.h - strict validation of JSON request bodies.
 *
 * Every accessor bounds what it accepts and reports the first problem in a `struct jerr`
 * that the API layer turns into a 400 `validation_failed` with {"field": ...} details.
 * Strings must be valid UTF-8 (jansson guarantees it) without NUL bytes.
 */
#ifndef TG_CORE_JSONV_H
#define TG_CORE_JSONV_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct jerr {
    char field[64];
    char msg[192];
};

/* Fails if obj is not an object or has a key not listed in `allowed` (NULL-terminated). */
int jv_only(json_t *obj, const char *const allowed[], struct jerr *e);
/*
 * String field: on success *out is borrowed from obj (NULL when absent and not required).
 * Length is counted in bytes and must be within [min_len, max_len].
 */
int jv_string(json_t *obj, const char *key, int required, size_t min_len, size_t max_len,
              const char **out, struct jerr *e);
/* Integer field within [min, max]; *out untouched when absent and not required.
 * Reals (1.0), strings and booleans are rejected. */
int jv_int(json_t *obj, const char *key, int required, int64_t min, int64_t max, int64_t *out,
           struct jerr *e);
/* Boolean field; *out untouched when absent and not required. */
int jv_bool(json_t *obj, const char *key, int required, int *out, struct jerr *e);

#endif
