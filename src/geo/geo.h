/*
 * geo.h - the country of an IP address, from a GeoIP2 / GeoLite2 Country (or City) database
 * read with libmaxminddb (DESIGN section 6).
 *
 * The database is opened once at start (memory-mapped) and only read afterwards, so lookups
 * are safe from any thread at once and cost a walk of the search tree: no allocation, no
 * system call, no lock (measured in tests/unit/domain/test_region.c: about a microsecond).
 * That is why they may run on a loop thread.
 */
#ifndef TG_GEO_GEO_H
#define TG_GEO_GEO_H

#include <stdint.h>

/* An ISO 3166-1 alpha-2 country code and its NUL ("CN"). */
#define GEO_COUNTRY_LEN 3

enum geo_rc {
    GEO_FOUND = 0,   /* country[] holds the upper-case code */
    GEO_NOT_FOUND,   /* the address is in no network of the database, or that network has no
                        country (private and reserved ranges, 127.0.0.1) */
    GEO_BAD_ADDRESS, /* ip is not a textual IPv4 or IPv6 address */
    GEO_NO_DB,       /* no database is open */
};

struct geo_db;

/*
 * Opens the mmdb file at path (MMDB_MODE_MMAP). Returns 0 with *out (close with
 * geo_db_close), or -1 with *out NULL and *err a one-line message naming the file
 * (caller frees with free()): missing, unreadable, not an mmdb, or corrupt.
 */
int geo_db_open(const char *path, struct geo_db **out, char **err);
void geo_db_close(struct geo_db *db);
/*
 * The country of ip (textual IPv4 or IPv6; IPv4-mapped IPv6 is looked up as IPv4):
 * country.iso_code, else registered_country.iso_code (MaxMind's networks that have no
 * location of their own, such as some anycast ranges). country receives "" unless GEO_FOUND.
 * db may be NULL (GEO_NO_DB). Thread-safe.
 */
enum geo_rc geo_db_country(const struct geo_db *db, const char *ip, char country[GEO_COUNTRY_LEN]);
/* The database's type ("GeoLite2-Country") and build time (seconds since the epoch). */
const char *geo_db_type(const struct geo_db *db);
int64_t geo_db_built(const struct geo_db *db);

/*
 * The process's database: geo_init opens path (NULL or "": none, and every lookup answers
 * GEO_NO_DB) and logs its type and age, warning when it is older than GEO_STALE_DAYS.
 * Call once at start, before any thread looks up. Returns 0, or -1 with *err as for
 * geo_db_open (caller frees).
 */
int geo_init(const char *path, char **err);
/* Closes it (after the threads that look up have stopped). */
void geo_shutdown(void);
/* geo_db_country on the process's database. */
enum geo_rc geo_country(const char *ip, char country[GEO_COUNTRY_LEN]);

/* MaxMind publishes GeoLite2 twice a week; a database this old has missed many updates. */
#define GEO_STALE_DAYS 60

#endif
