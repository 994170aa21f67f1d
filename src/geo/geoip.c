/*
 * geoip.c - country lookups in a MaxMind DB file (see geo.h).
 *
 * The text of an address is parsed with inet_pton into a sockaddr and looked up with
 * MMDB_lookup_sockaddr: MMDB_lookup_string would go through getaddrinfo, which allocates
 * and may consult the resolver configuration. MMDB_aget_value with a fixed path walks the
 * mapped data without allocating (MMDB_get_value's variadic form builds a path array on
 * the heap first).
 */
#include "geo/geo.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>

#include <maxminddb.h>

#include "core/log.h"
#include "core/mem.h"

struct geo_db {
    MMDB_s mmdb;
};

static struct geo_db *geo_default;

int geo_db_open(const char *path, struct geo_db **out, char **err)
{
    struct stat sb;
    *out = NULL;
    *err = NULL;
    /* libmaxminddb says "Error opening the specified MaxMind DB file" for every reason;
     * errno after stat() tells the operator which one. */
    if (stat(path, &sb) != 0) {
        *err = xasprintf("TG_GEOIP_DB: cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    if (!S_ISREG(sb.st_mode)) {
        *err = xasprintf("TG_GEOIP_DB: %s is not a regular file", path);
        return -1;
    }
    struct geo_db *db = xcalloc(1, sizeof *db);
    int rc = MMDB_open(path, MMDB_MODE_MMAP, &db->mmdb);
    if (rc != MMDB_SUCCESS) {
        int saved = errno;
        if (rc == MMDB_IO_ERROR || rc == MMDB_FILE_OPEN_ERROR)
            *err = xasprintf("TG_GEOIP_DB: cannot read %s: %s (%s)", path, MMDB_strerror(rc), strerror(saved));
        else
            *err = xasprintf("TG_GEOIP_DB: %s is not a usable MaxMind DB (GeoIP2/GeoLite2 Country) file: %s", path,
                             MMDB_strerror(rc));
        free(db);
        return -1;
    }
    *out = db;
    return 0;
}

void geo_db_close(struct geo_db *db)
{
    if (db == NULL)
        return;
    MMDB_close(&db->mmdb);
    free(db);
}

const char *geo_db_type(const struct geo_db *db)
{
    return db->mmdb.metadata.database_type ? db->mmdb.metadata.database_type : "";
}

int64_t geo_db_built(const struct geo_db *db)
{
    return (int64_t)db->mmdb.metadata.build_epoch;
}

/* Parses a textual address into ss. IPv4-mapped IPv6 (::ffff:a.b.c.d) becomes IPv4 so that
 * it is looked up in the IPv4 part of the tree like the address it stands for. */
static int geo_parse(const char *ip, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *in = (struct sockaddr_in *)(void *)ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)(void *)ss;
    if (inet_pton(AF_INET, ip, &in->sin_addr) == 1) {
        in->sin_family = AF_INET;
        return 0;
    }
    if (inet_pton(AF_INET6, ip, &in6->sin6_addr) != 1)
        return -1;
    if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
        struct in_addr v4;
        memcpy(&v4, &in6->sin6_addr.s6_addr[12], 4);
        memset(ss, 0, sizeof *ss);
        in->sin_family = AF_INET;
        in->sin_addr = v4;
        return 0;
    }
    in6->sin6_family = AF_INET6;
    return 0;
}

/* Copies a two-letter code from entry data; 0 when it is one. */
static int geo_take_code(const MMDB_entry_data_s *d, char country[GEO_COUNTRY_LEN])
{
    if (!d->has_data || d->type != MMDB_DATA_TYPE_UTF8_STRING || d->data_size != 2)
        return -1;
    for (int i = 0; i < 2; i++) {
        char c = d->utf8_string[i];
        if (c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        if (c < 'A' || c > 'Z')
            return -1;
        country[i] = c;
    }
    country[2] = '\0';
    return 0;
}

enum geo_rc geo_db_country(const struct geo_db *db, const char *ip, char country[GEO_COUNTRY_LEN])
{
    static const char *const country_path[] = {"country", "iso_code", NULL};
    static const char *const registered_path[] = {"registered_country", "iso_code", NULL};
    struct sockaddr_storage ss;
    int mmdb_err = MMDB_SUCCESS;
    MMDB_entry_data_s data;

    country[0] = '\0';
    if (db == NULL)
        return GEO_NO_DB;
    if (ip == NULL || geo_parse(ip, &ss) != 0)
        return GEO_BAD_ADDRESS;
    MMDB_lookup_result_s res = MMDB_lookup_sockaddr(&db->mmdb, (const struct sockaddr *)&ss, &mmdb_err);
    /* MMDB_IPV6_LOOKUP_IN_IPV4_DATABASE_ERROR: an IPv4-only database has no IPv6 networks;
     * any other error is a damaged tree, which for one address means "unknown" too. */
    if (mmdb_err != MMDB_SUCCESS || !res.found_entry)
        return GEO_NOT_FOUND;
    /* aget_value takes the entry by non-const pointer: each path gets its own copy. */
    MMDB_entry_s entry = res.entry;
    if (MMDB_aget_value(&entry, &data, country_path) == MMDB_SUCCESS && geo_take_code(&data, country) == 0)
        return GEO_FOUND;
    entry = res.entry;
    if (MMDB_aget_value(&entry, &data, registered_path) == MMDB_SUCCESS && geo_take_code(&data, country) == 0)
        return GEO_FOUND;
    country[0] = '\0';
    return GEO_NOT_FOUND;
}

int geo_init(const char *path, char **err)
{
    *err = NULL;
    geo_shutdown();
    if (path == NULL || path[0] == '\0')
        return 0;
    if (geo_db_open(path, &geo_default, err) != 0)
        return -1;
    char built[32] = "unknown", age[24];
    int64_t epoch = geo_db_built(geo_default);
    int64_t days = ((int64_t)time(NULL) - epoch) / 86400;
    struct tm tm;
    time_t t = (time_t)epoch;
    if (gmtime_r(&t, &tm) != NULL)
        strftime(built, sizeof built, "%Y-%m-%d", &tm);
    snprintf(age, sizeof age, "%lld", (long long)days);
    log_event(LOG_INFO, "geoip_db_opened", "path", path, "type", geo_db_type(geo_default), "built", built,
              "age_days", age, NULL);
    if (days > GEO_STALE_DAYS)
        log_event(LOG_WARN, "geoip_db_stale", "path", path, "built", built, "age_days", age, "hint",
                  "update it (geoipupdate) and restart", NULL);
    return 0;
}

void geo_shutdown(void)
{
    geo_db_close(geo_default);
    geo_default = NULL;
}

enum geo_rc geo_country(const char *ip, char country[GEO_COUNTRY_LEN])
{
    return geo_db_country(geo_default, ip, country);
}
