/*
 * pkeys.c - the keys of the providers' pools (migration 0007). Storage only: which key a
 * task uses, when one cools down or is disabled, and sealing the secrets are
 * domain/keypool.c's business.
 */
#include <stdlib.h>
#include <string.h>

#include "store/sqlite/sq.h"

#define PKEY_COLS                                                                                            \
    "id, provider, label, prefix, source, secret_box, disabled, disabled_reason, uses, failures, "          \
    "last_used_at, last_error, created_at, updated_at"

static const char SQL_PKEY_INSERT[] =
    "INSERT INTO provider_keys(" PKEY_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)";
static const char SQL_PKEY_GET[] = "SELECT " PKEY_COLS " FROM provider_keys WHERE id = ?1";
/* ?1 NULL: every provider. Ids of admin keys are time-ordered; env ids are not, so the
 * order is creation time first. */
static const char SQL_PKEY_LIST[] =
    "SELECT " PKEY_COLS " FROM provider_keys WHERE (?1 IS NULL OR provider = ?1) ORDER BY created_at, id";
static const char SQL_PKEY_SET_DISABLED[] =
    "UPDATE provider_keys SET disabled = ?2, disabled_reason = CASE WHEN ?2 = 1 THEN ?3 ELSE '' END,"
    " updated_at = ?4 WHERE id = ?1";
/* Counters only grow (the CHECKs refuse a negative one); last_used_at only moves forward. */
static const char SQL_PKEY_ADD_STATS[] =
    "UPDATE provider_keys SET uses = uses + ?2, failures = failures + ?3,"
    " last_used_at = CASE WHEN ?4 > COALESCE(last_used_at, 0) THEN ?4 ELSE last_used_at END,"
    " last_error = COALESCE(?5, last_error), updated_at = ?6 WHERE id = ?1";

static int pkey_read(sqlite3_stmt *st, void *out)
{
    struct provider_key *k = out;
    memset(k, 0, sizeof *k);
    if (sq_col_text(st, 0, k->id, sizeof k->id) < 0 || sq_col_text(st, 1, k->provider, sizeof k->provider) < 0 ||
        sq_col_text(st, 2, k->label, sizeof k->label) < 0 || sq_col_text(st, 3, k->prefix, sizeof k->prefix) < 0 ||
        sq_col_text(st, 4, k->source, sizeof k->source) < 0 ||
        sq_col_text(st, 7, k->disabled_reason, sizeof k->disabled_reason) < 0 ||
        sq_col_text(st, 11, k->last_error, sizeof k->last_error) < 0)
        return -1;
    const void *box = sqlite3_column_blob(st, 5);
    int len = sqlite3_column_bytes(st, 5);
    if (len < 0 || (size_t)len > sizeof k->secret_box)
        return -1;
    if (box != NULL && len > 0)
        memcpy(k->secret_box, box, (size_t)len);
    k->secret_box_len = (size_t)len;
    k->disabled = sq_col_int(st, 6) != 0;
    k->uses = sq_col_int(st, 8);
    k->failures = sq_col_int(st, 9);
    k->last_used_at = sq_col_int(st, 10);
    k->created_at = sq_col_int(st, 12);
    k->updated_at = sq_col_int(st, 13);
    return 0;
}

static int pkey_fields_ok(const struct provider_key *k)
{
    return sq_fits(k->id, sizeof k->id) && k->id[0] && sq_fits(k->provider, sizeof k->provider) &&
           sq_fits(k->label, sizeof k->label) && sq_fits(k->prefix, sizeof k->prefix) &&
           sq_fits(k->source, sizeof k->source) && sq_fits(k->disabled_reason, sizeof k->disabled_reason) &&
           sq_fits(k->last_error, sizeof k->last_error) && k->secret_box_len <= sizeof k->secret_box;
}

static enum store_rc pkey_insert_tx(struct sq *c, void *arg)
{
    const struct provider_key *k = arg;
    sqlite3_stmt *st = sq_stmt(c, SQL_PKEY_INSERT);
    if (st == NULL)
        return STORE_ERROR;
    sq_bind_text(st, 1, k->id);
    sq_bind_text(st, 2, k->provider);
    sq_bind_text(st, 3, k->label);
    sq_bind_text(st, 4, k->prefix);
    sq_bind_text(st, 5, k->source);
    if (k->secret_box_len > 0)
        sqlite3_bind_blob(st, 6, k->secret_box, (int)k->secret_box_len, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 6);
    sqlite3_bind_int64(st, 7, k->disabled ? 1 : 0);
    sq_bind_text(st, 8, k->disabled ? k->disabled_reason : "");
    sqlite3_bind_int64(st, 9, k->uses);
    sqlite3_bind_int64(st, 10, k->failures);
    sq_bind_time(st, 11, k->last_used_at);
    sq_bind_text(st, 12, k->last_error);
    sqlite3_bind_int64(st, 13, k->created_at);
    sqlite3_bind_int64(st, 14, k->updated_at ? k->updated_at : k->created_at);
    return sq_exec(c, st, "pkey_insert", 1, STORE_OK);
}

enum store_rc sq_pkey_insert(struct store *s, const struct provider_key *k)
{
    if (!pkey_fields_ok(k)) {
        sq_log_error("pkey_insert", "provider key field unterminated or empty");
        return STORE_ERROR;
    }
    return sq_run((struct sq *)s, SQ_WRITE, "pkey_insert", pkey_insert_tx, (void *)(uintptr_t)k);
}

enum store_rc sq_pkey_get(struct store *s, const char *id, struct provider_key *out)
{
    struct sq_row_args a = {SQL_PKEY_GET, id, NULL, pkey_read, out, "pkey_get"};
    return sq_run((struct sq *)s, SQ_AUTOCOMMIT, "pkey_get", sq_row_tx, &a);
}

struct pkey_list_args {
    const char *provider;
    struct provider_key **out;
    size_t *n;
};

static enum store_rc pkey_list_tx(struct sq *c, void *arg)
{
    struct pkey_list_args *a = arg;
    free(*a->out);
    *a->out = NULL;
    *a->n = 0;
    sqlite3_stmt *st = sq_stmt(c, SQL_PKEY_LIST);
    if (st == NULL)
        return STORE_ERROR;
    sq_bind_text_or_null(st, 1, a->provider);
    void *rows = NULL;
    enum store_rc rc = sq_rows(c, st, sizeof **a->out, pkey_read, &rows, a->n, "pkey_list");
    *a->out = rows;
    return rc;
}

enum store_rc sq_pkey_list(struct store *s, const char *provider, struct provider_key **out, size_t *n)
{
    struct pkey_list_args a = {provider, out, n};
    return sq_run((struct sq *)s, SQ_AUTOCOMMIT, "pkey_list", pkey_list_tx, &a);
}

struct pkey_write_args {
    const char *id, *text;
    int64_t a, b, c, now;
};

static enum store_rc pkey_step(struct sq *c, sqlite3_stmt *st, const char *op)
{
    return sq_exec(c, st, op, 0, STORE_NOTFOUND);
}

static enum store_rc pkey_disable_tx(struct sq *c, void *arg)
{
    struct pkey_write_args *a = arg;
    sqlite3_stmt *st = sq_stmt(c, SQL_PKEY_SET_DISABLED);
    if (st == NULL)
        return STORE_ERROR;
    sq_bind_text(st, 1, a->id);
    sqlite3_bind_int64(st, 2, a->a);
    sq_bind_text(st, 3, a->text ? a->text : "");
    sqlite3_bind_int64(st, 4, a->now);
    return pkey_step(c, st, "pkey_set_disabled");
}

enum store_rc sq_pkey_set_disabled(struct store *s, const char *id, int disabled, const char *reason, int64_t now)
{
    struct provider_key k;
    if (reason != NULL && !sq_fits(reason, sizeof k.disabled_reason)) {
        sq_log_error("pkey_set_disabled", "reason too long");
        return STORE_ERROR;
    }
    struct pkey_write_args a = {.id = id, .text = reason, .a = disabled ? 1 : 0, .now = now};
    return sq_run((struct sq *)s, SQ_WRITE, "pkey_set_disabled", pkey_disable_tx, &a);
}

static enum store_rc pkey_stats_tx(struct sq *c, void *arg)
{
    struct pkey_write_args *a = arg;
    sqlite3_stmt *st = sq_stmt(c, SQL_PKEY_ADD_STATS);
    if (st == NULL)
        return STORE_ERROR;
    sq_bind_text(st, 1, a->id);
    sqlite3_bind_int64(st, 2, a->a);
    sqlite3_bind_int64(st, 3, a->b);
    sqlite3_bind_int64(st, 4, a->c);
    sq_bind_text(st, 5, a->text);
    sqlite3_bind_int64(st, 6, a->now);
    return pkey_step(c, st, "pkey_add_stats");
}

enum store_rc sq_pkey_add_stats(struct store *s, const char *id, int64_t uses, int64_t failures,
                                int64_t last_used_at, const char *last_error, int64_t now)
{
    struct provider_key k;
    if ((last_error != NULL && !sq_fits(last_error, sizeof k.last_error)) || uses < 0 || failures < 0) {
        sq_log_error("pkey_add_stats", "negative counters or an error text too long");
        return STORE_ERROR;
    }
    struct pkey_write_args a = {.id = id, .text = last_error, .a = uses, .b = failures, .c = last_used_at, .now = now};
    return sq_run((struct sq *)s, SQ_WRITE, "pkey_add_stats", pkey_stats_tx, &a);
}
