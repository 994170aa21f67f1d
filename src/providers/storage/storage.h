/*
 * storage.h - where files live: the local disk under $TG_DATA_DIR/files (default), AWS S3
 * (TG_STORAGE=s3, TG_S3_*) and Aliyun OSS through its S3-compatible API (TG_OSS_*). DESIGN
 * sections 2 and 7.
 *
 * Keys are "in/<user id>/<file id>" for uploads and "out/<user id>/<task id>/<n>" for task
 * outputs: segments of [A-Za-z0-9_.-] not starting with '.', joined by '/', so a key can
 * never climb out of its folder nor need escaping in a URL (storage_key_valid).
 *
 * Clients never get credentials, only signed URLs that expire:
 *   - local: <TG_PUBLIC_URL>/files/<key>?expires=<unix s>&sig=<hex>, sig an HMAC-SHA256 under a
 *     key derived from the JWT secret over the method, the key, the expiry and, for a PUT,
 *     the content type and size; Tollgate serves those routes itself (api/files.c);
 *   - s3/oss: SigV4 presigned URLs (sigv4.h) on the bucket; a PUT signs Content-Type and
 *     Content-Length, so the bucket refuses any other type or size.
 * Server-side writes (a task's outputs) go through storage_store_file.
 *
 * Everything here may be called from any thread after storage_init; nothing blocks except
 * storage_init and the file system calls named below (for the blocking pool, not a loop).
 */
#ifndef TG_PROVIDERS_STORAGE_STORAGE_H
#define TG_PROVIDERS_STORAGE_STORAGE_H

#include <stddef.h>
#include <stdint.h>

struct net_exec;

enum storage_kind { STORAGE_LOCAL = 0, STORAGE_S3 };

/* A configured backend. Read-only after storage_init. */
struct storage_backend {
    const char *name;      /* "local", "s3", "oss": what stored_file.backend records */
    enum storage_kind kind;
    /* s3 and oss only */
    char *scheme;          /* "https" */
    char *endpoint_host;   /* "s3.us-east-1.amazonaws.com", "oss-cn-hangzhou.aliyuncs.com", "127.0.0.1:9000" */
    char *region;
    char *bucket;
    char *access_key_id;
    char *secret_access_key;
    int path_style;        /* 1: https://host/bucket/key; 0: https://bucket.host/key (virtual-hosted) */
};

/* Longest signed URL built here (a key of TG_FILE_KEY_MAX, a long endpoint, SigV4 query). */
#define STORAGE_URL_MAX 2048
/* Longest lifetime of a signed URL: SigV4's own ceiling (7 days). */
#define STORAGE_URL_TTL_MAX_S 604800

/*
 * At start, after config_load and before threads: creates $TG_DATA_DIR/files and
 * $TG_DATA_DIR/tmp (removing temporary files over an hour old: left by a process that
 * died mid-upload), sets up the backends the configuration names (local always; s3 when
 * TG_STORAGE=s3; oss when TG_OSS_BUCKET is set) and derives the local signing key.
 * Returns 0, or -1 with *err set (caller frees).
 */
int storage_init(char **err);
/* Releases what storage_init built (tests, leak checkers). */
void storage_shutdown(void);

/* The backend of that name ("local", "s3", "oss"), or NULL when not configured. */
const struct storage_backend *storage_find(const char *name);
/* Where a user of region "CN" or "GLOBAL" uploads: CN -> oss when configured, GLOBAL -> s3
 * when TG_STORAGE=s3, otherwise (and for anything else) local. Never NULL after init. */
const struct storage_backend *storage_for_region(const char *region);
/* The default backend for server-side files (TG_STORAGE): s3 or local. */
const struct storage_backend *storage_default(void);

/* The origin browsers reach b's files at ("https://bucket.s3.amazonaws.com", or
 * "http://127.0.0.1:9000" path-style), written into out (cap bytes): its length, or -1 for
 * the local backend (files are on TG_PUBLIC_URL itself) or when out is too small. */
int storage_origin(const struct storage_backend *b, char *out, size_t cap);

/* 1 if key has the shape described above (at most TG_FILE_KEY_MAX - 1 bytes), else 0. */
int storage_key_valid(const char *key);

/*
 * A signed URL for a client to PUT exactly `size` bytes of `content_type` at key, valid
 * from now_ms for ttl_s seconds (1..STORAGE_URL_TTL_MAX_S). The client must send that
 * Content-Type (and, for s3/oss, that Content-Length, which every HTTP client does).
 * New string, caller frees; NULL on a bad key or ttl.
 */
char *storage_presign_put(const struct storage_backend *b, const char *key, const char *content_type, int64_t size,
                          int64_t now_ms, int64_t ttl_s);
/* A signed URL to GET key, absolute (local ones on TG_PUBLIC_URL), valid for ttl_s seconds
 * from now_ms. New string, caller frees; NULL on a bad key or ttl. */
char *storage_presign_get(const struct storage_backend *b, const char *key, int64_t now_ms, int64_t ttl_s);

/* What storage_local_verify found of a local signed URL. */
enum storage_sig {
    STORAGE_SIG_OK = 0,
    STORAGE_SIG_BAD,     /* missing, malformed or not matching: forged or altered */
    STORAGE_SIG_EXPIRED, /* authentic but past its expiry */
};
/*
 * Checks the expires and sig query values of a local signed URL for method ("GET" or
 * "PUT") on key; for a PUT, content_type and size are the ones the URL was minted for
 * (ignored for a GET). The comparison is in constant time; the signature is checked
 * before the expiry, so an altered expiry is BAD, not EXPIRED.
 */
enum storage_sig storage_local_verify(const char *method, const char *key, const char *content_type, int64_t size,
                                      const char *expires, const char *sig, int64_t now_ms);

/* Path of key under $TG_DATA_DIR/files into out (cap bytes). Returns 0, or -1 for a bad key
 * or a path too long. */
int storage_local_path(const char *key, char *out, size_t cap);
/*
 * Opens the local file of key for reading (O_RDONLY | O_CLOEXEC | O_NOFOLLOW), *size set
 * to its size. Returns the descriptor, or -1 with errno set (EINVAL for a bad key).
 * File system call: the blocking pool, or a loop when the file is local and small.
 */
int storage_open_local(const char *key, int64_t *size);

/*
 * Links the finished temporary file tmp_path (under $TG_DATA_DIR/tmp) into place as key's
 * local file, creating its folders, and removes tmp_path either way. An existing file is
 * never replaced (two uploads racing to one key: one wins). Returns 0, or -1 with errno set
 * (EEXIST when the key is taken, EINVAL for a bad key). File system calls: blocking pool.
 */
int storage_local_place(const char *key, const char *tmp_path);

/* A fresh, unique path under $TG_DATA_DIR/tmp (nothing is created). Caller frees. */
char *storage_tmp_path(void);

/*
 * Moves the finished temporary file tmp_path to key in backend b, then calls done(arg, ok)
 * with ok 1 when stored, 0 when not; the temporary file is gone either way.
 *   - local: link into place (the same file system, so no copy; an existing key is not
 *     overwritten: ok 0), on the calling thread, and done() before this returns;
 *   - s3/oss: one PUT of the file's bytes with a SigV4 Authorization header through nx
 *     (net.h; nx may be synchronous for the CLI and tests), done() later on nx's owner
 *     thread. The temporary file is removed before done() runs.
 * key and content_type are copied.
 */
void storage_store_file(const struct storage_backend *b, struct net_exec *nx, const char *key,
                        const char *content_type, const char *tmp_path, void (*done)(void *arg, int ok),
                        void *arg);

/* ---- for tests and the `tollgate storage-presign` command ---- */

/* As storage_presign_put / _get with an explicit backend built from its parts (no
 * configuration needed): b->kind STORAGE_S3 and all its s3 fields set. */
char *storage_s3_presign(const struct storage_backend *b, const char *method, const char *key,
                         const char *content_type, int64_t size, int64_t now_s, int64_t ttl_s);
/* Parses an endpoint URL "https://host[:port]" into b->scheme and b->endpoint_host (new
 * strings) and picks path-style addressing for an IP literal or localhost. 0 or -1. */
int storage_s3_endpoint(struct storage_backend *b, const char *url);

#endif
