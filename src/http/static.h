/*
 * static.h - the web UI compiled into the binary (tools/embed.py writes web_assets.c from
 * web/ at build time) and how it is served (static.c):
 *
 *   GET/HEAD /assets/<build id>/<path>  an asset: Cache-Control immutable for a year (the
 *                                       build id changes whenever any asset does), strong
 *                                       ETag, gzip when the client takes it; another build
 *                                       id is a 404, never today's file under an old name
 *   GET/HEAD /  and web/routes.json's paths   index.html (Cache-Control: no-cache), with the
 *                                       page's security headers and Content-Security-Policy
 *
 * Anything else is not ours: the API's JSON 404 stands.
 */
#ifndef TG_HTTP_STATIC_H
#define TG_HTTP_STATIC_H

#include <stddef.h>

/* One embedded file. gz is NULL when gzip does not save more than 10% (or the file is
 * under 512 bytes). etag / etag_gz are the quoted strong tags of the two bodies. */
struct web_asset {
    const char *path; /* "main.js", "vendor/preact.js" ("index.html" for web_index) */
    size_t path_len;
    const char *ctype;
    const unsigned char *data;
    size_t len;
    const unsigned char *gz;
    size_t gz_len;
    const char *etag;
    const char *etag_gz;
};

extern const char web_build_id[];           /* 12 hex digits */
extern const struct web_asset web_assets[]; /* sorted by path (strcmp) */
extern const size_t web_assets_count;
extern const struct web_asset web_index; /* index.html, /assets/ already /assets/<id>/ */
/* web/routes.json's paths as router patterns ("/tasks/{id}"). */
extern const char *const web_page_patterns[];
extern const size_t web_page_patterns_count;

#endif
