/*
 * internal.h - what the generation providers share (common.c): reading answers, bounded
 * copies of provider text, and the result setters. Not for use outside src/providers/gen/.
 */
#ifndef TG_PROVIDERS_GEN_INTERNAL_H
#define TG_PROVIDERS_GEN_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "providers/gen/gen.h"

struct net_call;

/* Largest JSON answer the polling providers read (a task status is a few hundred bytes). */
#define GEN_MAX_STATUS_ANSWER (256 * 1024)
/* A Retry-After longer than this is read as this (a day: a key is not parked for longer
 * on a provider's word). */
#define GEN_RETRY_AFTER_MAX_MS (24LL * 3600 * 1000)

/* Zeroes out (outputs included: it must hold no heap bytes) and sets progress to -1. */
void gen_result_init(struct gen_result *out);

/*
 * Copies provider text (len bytes, any bytes) into out (cap bytes, NUL-terminated) for a
 * message a user or an operator may read: the API key the call `c` carried (its
 * Authorization or x-goog-api-key header; c may be NULL) and anything shaped like a
 * provider key (sk-..., AIza...) become "***" (so does any piece of 8 or more bytes of the
 * key), invalid UTF-8 becomes '?', control
 * characters become spaces, runs of blanks one space, and the text is cut on a character
 * boundary, ending in "..." when cut.
 */
void gen_sanitize(char *out, size_t cap, const char *in, size_t len, const struct net_call *c);

/*
 * Sets out->outcome and, from the provider's words, error_code (only [A-Za-z0-9_.:-], cut
 * to fit; NULL or anything else: "") and error_message (gen_sanitize; NULL or empty: the
 * `fallback`). Returns out->outcome.
 */
enum gen_outcome gen_fail(struct gen_result *out, enum gen_outcome o, const char *code, const char *msg,
                          const char *fallback, const struct net_call *c);

/* The Retry-After of c's answer in ms when it is delta-seconds (capped at
 * GEN_RETRY_AFTER_MAX_MS), else 0 (absent, an HTTP-date, anything else: unknown). */
int64_t gen_retry_after_ms(const struct net_call *c);

/*
 * Parses c's answer body as a JSON object (duplicate keys refused). NULL when there is no
 * body, it is larger than max, or is not such an object. Caller json_decref()s.
 */
json_t *gen_answer_json(const struct net_call *c, size_t max);

/* A string member of obj (NULL when absent or not a string). */
const char *gen_json_str(json_t *obj, const char *key);

/* The string at index i of array a (NULL when absent or not a string). */
const char *gen_json_str_at(json_t *a, size_t i);

/* 1 when s (NUL-terminated) is a provider task id we keep: 1..TG_PROVIDER_TASK_MAX-1 bytes
 * of [A-Za-z0-9_.:-]. */
int gen_task_id_ok(const char *s);

/*
 * Appends url as output n of out when it is an http(s) URL shorter than GEN_URL_MAX
 * without spaces or control characters (mime copied when not NULL). Returns 0, or -1
 * (nothing added) for anything else or when the outputs are full.
 */
int gen_add_url(struct gen_result *out, const char *url, const char *mime);

/* Builds a JSON request body on c (jansson's compact form; body is decref'd). */
void gen_call_json(struct net_call *c, json_t *body);

/* The text of net's error for c ("timeout", ...) as a message: "network error: timeout". */
enum gen_outcome gen_net_error(struct gen_result *out, const struct net_call *c);

/* The providers (registry.c lists them). */
extern const struct gen_provider gen_dashscope;
extern const struct gen_provider gen_kie;
extern const struct gen_provider gen_gemini;
extern const struct gen_provider gen_sandbox;

#endif
