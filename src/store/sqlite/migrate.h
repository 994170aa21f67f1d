/*
 * migrate.h - the SQLite migrations embedded at build time (see tools/embed.py).
 */
#ifndef TG_STORE_SQLITE_MIGRATE_H
#define TG_STORE_SQLITE_MIGRATE_H

#include <stddef.h>

struct sq_migration {
    int version;      /* 1, 2, 3... without gaps */
    const char *name; /* "0001_init" */
    const char *sql;  /* the whole file, run with sqlite3_exec */
};

/* Generated: every migration in version order. */
extern const struct sq_migration sq_migrations[];
extern const size_t sq_migrations_count;

/* Applies pending migrations to the database at url ("sqlite:..."); store_migrate(). */
int sq_migrate(const char *url, int *applied, char **err);

struct sq;
/* Same, on an open connection. Returns 0 or -1 with *err set (caller frees). */
int sq_migrate_conn(struct sq *c, int *applied, char **err);

#endif
