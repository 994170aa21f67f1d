/*
 * migrate.c - applies the embedded numbered migrations (migrations/NNNN_name.sql).
 *
 * Each migration runs in its own BEGIN IMMEDIATE transaction that first re-checks
 * schema_migrations, so two processes migrating at once serialize on the write lock and
 * the second one finds the work done. A database that has a migration this binary does not
 * know (it was migrated by a newer tollgate) is refused: running old code against a newer
 * schema can corrupt money state silently.
 */
#include "store/sqlite/migrate.h"

#include <stdlib.h>

#include "core/mem.h"
#include "core/timeutil.h"
#include "store/sqlite/sq.h"

/* A long migration in another process holds the write lock; waiting a minute for it beats
 * failing a deployment. */
#define SQ_MIGRATE_BUSY_BUDGET_NS (60LL * 1000 * 1000 * 1000)

static const char SQL_MIGRATIONS_TABLE[] = "CREATE TABLE IF NOT EXISTS schema_migrations ("
                                           " version INTEGER PRIMARY KEY,"
                                           " name TEXT NOT NULL,"
                                           " applied_at INTEGER NOT NULL)";
static const char SQL_MAX_VERSION[] = "SELECT coalesce(max(version), 0) FROM schema_migrations";
static const char SQL_HAS_VERSION[] = "SELECT 1 FROM schema_migrations WHERE version = ?1";
static const char SQL_FK_CHECK[] = "PRAGMA foreign_key_check";
static const char SQL_RECORD[] =
    "INSERT INTO schema_migrations(version, name, applied_at) VALUES (?1, ?2, ?3)";

struct migrate_step {
    const struct sq_migration *m; /* NULL: only create the table and check the version */
    int applied;                  /* out: 1 when this attempt applied m */
    char *err;                    /* out: message for the caller, heap */
};

/* Creates schema_migrations if needed and refuses a database newer than this binary. */
static enum store_rc migrate_prepare_tx(struct sq *c, struct migrate_step *ms)
{
    enum store_rc rc = STORE_OK;
    sqlite3_stmt *st = NULL;
    char *emsg = NULL;
    int src = sqlite3_exec(c->db, SQL_MIGRATIONS_TABLE, NULL, NULL, &emsg);
    if (src != SQLITE_OK) {
        rc = sq_fail(c, src, "migrate", 0);
        goto cleanup;
    }
    st = sq_stmt(c, SQL_MAX_VERSION);
    if (st == NULL) {
        rc = STORE_ERROR;
        goto cleanup;
    }
    src = sqlite3_step(st);
    if (src != SQLITE_ROW) {
        rc = sq_fail(c, src, "migrate", 0);
        goto cleanup;
    }
    int64_t have = sq_col_int(st, 0);
    int64_t know = (int64_t)sq_migrations_count;
    if (have > know) {
        free(ms->err);
        ms->err = xasprintf("the database schema is at version %lld but this tollgate knows only up to %lld: "
                            "it was migrated by a newer release; run that release (or newer)",
                            (long long)have, (long long)know);
        rc = STORE_ERROR;
        goto cleanup;
    }

cleanup:
    sqlite3_free(emsg);
    sq_done(st);
    return rc;
}

static enum store_rc migrate_step_tx(struct sq *c, void *arg)
{
    struct migrate_step *ms = arg;
    enum store_rc rc;
    sqlite3_stmt *st = NULL;
    char *emsg = NULL;

    ms->applied = 0;
    rc = migrate_prepare_tx(c, ms);
    if (rc != STORE_OK || ms->m == NULL)
        goto cleanup;

    st = sq_stmt(c, SQL_HAS_VERSION);
    if (st == NULL) {
        rc = STORE_ERROR;
        goto cleanup;
    }
    sqlite3_bind_int(st, 1, ms->m->version);
    int src = sqlite3_step(st);
    sq_done(st);
    st = NULL;
    if (src == SQLITE_ROW)
        goto cleanup; /* another process (or an earlier run) applied it */
    if (src != SQLITE_DONE) {
        rc = sq_fail(c, src, "migrate", 0);
        goto cleanup;
    }

    src = sqlite3_exec(c->db, ms->m->sql, NULL, NULL, &emsg);
    if (src != SQLITE_OK) {
        rc = sq_fail(c, src, ms->m->name, 0);
        if (rc != STORE_BUSY) {
            free(ms->err);
            ms->err = xasprintf("migration %s failed: %s", ms->m->name, emsg ? emsg : sqlite3_errstr(src));
        }
        goto cleanup;
    }

    /* Foreign keys are not enforced while migrating (see sq_migrate_conn): check them all
     * before this migration may commit. */
    st = sq_stmt(c, SQL_FK_CHECK);
    if (st == NULL) {
        rc = STORE_ERROR;
        goto cleanup;
    }
    src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        free(ms->err);
        ms->err = xasprintf("migration %s failed: it leaves a row of %s whose reference is missing", ms->m->name,
                            (const char *)sqlite3_column_text(st, 0));
        rc = STORE_ERROR;
        goto cleanup;
    }
    if (src != SQLITE_DONE) {
        rc = sq_fail(c, src, "migrate", 0);
        goto cleanup;
    }
    sq_done(st);
    st = NULL;

    st = sq_stmt(c, SQL_RECORD);
    if (st == NULL) {
        rc = STORE_ERROR;
        goto cleanup;
    }
    sqlite3_bind_int(st, 1, ms->m->version);
    sq_bind_text(st, 2, ms->m->name);
    sqlite3_bind_int64(st, 3, time_now_ms());
    src = sqlite3_step(st);
    if (src != SQLITE_DONE) {
        rc = sq_fail(c, src, "migrate", 0);
        goto cleanup;
    }
    ms->applied = 1;

cleanup:
    sqlite3_free(emsg);
    sq_done(st);
    return rc;
}

int sq_migrate_conn(struct sq *c, int *applied, char **err)
{
    int ret = -1;
    struct migrate_step ms = {0};
    int64_t budget = c->busy_budget_ns;

    *applied = 0;
    *err = NULL;
    c->busy_budget_ns = SQ_MIGRATE_BUSY_BUDGET_NS;
    /* A migration may rebuild a table that others reference (create, copy, drop, rename:
     * SQLite's documented way to change a column's constraints). With enforcement on, the
     * DROP's implicit delete would fail on the referencing rows, so enforcement is off while
     * migrating (it cannot change inside a transaction) and every migration instead runs
     * PRAGMA foreign_key_check before committing. */
    if (sqlite3_exec(c->db, "PRAGMA foreign_keys=OFF", NULL, NULL, NULL) != SQLITE_OK) {
        *err = xstrdup("migration could not begin: PRAGMA foreign_keys failed");
        goto cleanup;
    }
    for (size_t i = 0; i <= sq_migrations_count; i++) {
        /* Round 0 only creates the table and checks the version, so a too-new database is
         * refused before anything is applied. */
        ms.m = i == 0 ? NULL : &sq_migrations[i - 1];
        enum store_rc rc = sq_run(c, SQ_WRITE, "migrate", migrate_step_tx, &ms);
        if (rc != STORE_OK) {
            if (ms.err != NULL) {
                *err = ms.err;
                ms.err = NULL;
            } else if (rc == STORE_BUSY) {
                *err = xstrdup("the database stayed locked by another process; migration not finished");
            } else {
                *err = xasprintf("migration %s failed (see the store_error log line)",
                                 ms.m ? ms.m->name : "bookkeeping");
            }
            goto cleanup;
        }
        *applied += ms.applied;
    }
    ret = 0;

cleanup:
    if (sqlite3_exec(c->db, "PRAGMA foreign_keys=ON", NULL, NULL, NULL) != SQLITE_OK && ret == 0) {
        *err = xstrdup("migration finished but PRAGMA foreign_keys=ON failed");
        ret = -1;
    }
    c->busy_budget_ns = budget;
    free(ms.err);
    return ret;
}

int sq_migrate(const char *url, int *applied, char **err)
{
    int ret = -1;
    struct sq *c = sq_open(url, err);

    *applied = 0;
    if (c != NULL)
        ret = sq_migrate_conn(c, applied, err);
    sq_close(c);
    return ret;
}
