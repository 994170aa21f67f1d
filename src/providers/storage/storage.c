/*
 * storage.c - the backends' registry and the local disk backend (storage.h).
 *
 * Local files live at $TG_DATA_DIR/files/<key>; temporary files at $TG_DATA_DIR/tmp, on the
 * same file system, so that a finished upload is linked into place without a copy.
 */
#include "providers/storage/storage.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "core/config.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/types.h"
#include "crypto/encode.h"
#include "crypto/hash.h"
#include "crypto/random.h"
#include "providers/storage/internal.h"

static struct storage_backend storage_local = {.name = "local", .kind = STORAGE_LOCAL};
static struct storage_backend *storage_s3_b, *storage_oss_b;
static char *storage_files_dir, *storage_tmp_dir;
/* The local URLs' signing key: HMAC-SHA256(JWT secret, "tollgate files v1"), so that no new
 * secret has to be configured and the JWT key itself never signs anything but tokens. */
static unsigned char storage_sig_key[32];
static atomic_uint_fast64_t storage_tmp_seq;

static int storage_mkdir(const char *path, char **err)
{
    if (mkdir(path, 0700) != 0 && errno != EEXIST) {
        *err = xasprintf("storage: cannot create %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

static void storage_backend_free(struct storage_backend *b)
{
    if (b == NULL)
        return;
    free(b->scheme);
    free(b->endpoint_host);
    free(b->region);
    free(b->bucket);
    free(b->access_key_id);
    if (b->secret_access_key) {
        sodium_memzero(b->secret_access_key, strlen(b->secret_access_key));
        free(b->secret_access_key);
    }
    free(b);
}

/* An s3-kind backend from the TG_<prefix>_* keys; endpoint_def when TG_<prefix>_ENDPOINT is unset. */
static struct storage_backend *storage_s3_from_config(const char *name, const char *prefix, char **err)
{
    char key[40];
    struct storage_backend *b = xcalloc(1, sizeof *b);
    b->name = name;
    b->kind = STORAGE_S3;
#define CFG(suffix) (snprintf(key, sizeof key, "TG_%s_%s", prefix, suffix), config_get(key))
    const char *region = CFG("REGION");
    b->region = xstrdup(region ? region : "us-east-1");
    b->bucket = xstrdup(CFG("BUCKET"));
    b->access_key_id = xstrdup(CFG("ACCESS_KEY_ID"));
    b->secret_access_key = xstrdup(CFG("SECRET_ACCESS_KEY"));
    const char *endpoint = CFG("ENDPOINT");
#undef CFG
    char *def = endpoint ? NULL : xasprintf("https://s3.%s.amazonaws.com", b->region);
    if (storage_s3_endpoint(b, endpoint ? endpoint : def) != 0) {
        *err = xasprintf("TG_%s_ENDPOINT: must be http(s)://host[:port] without a path", prefix);
        free(def);
        storage_backend_free(b);
        return NULL;
    }
    free(def);
    return b;
}

/* Removes temporary files left by a process that died mid-upload (kill -9, power loss):
 * ours end in ".part" and none lives longer than an upload, so an hour-old one is garbage. */
static void storage_sweep_tmp(void)
{
    DIR *d = opendir(storage_tmp_dir);
    struct dirent *e;
    time_t now = time(NULL);
    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        struct stat st;
        if (n < 6 || strcmp(e->d_name + n - 5, ".part") != 0)
            continue;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
            st.st_mtime < now - 3600)
            unlinkat(dirfd(d), e->d_name, 0);
    }
    closedir(d);
}

int storage_init(char **err)
{
    *err = NULL;
    storage_shutdown();
    storage_files_dir = xasprintf("%s/files", tg_cfg->data_dir);
    storage_tmp_dir = xasprintf("%s/tmp", tg_cfg->data_dir);
    if (storage_mkdir(storage_files_dir, err) != 0 || storage_mkdir(storage_tmp_dir, err) != 0)
        return -1;
    storage_sweep_tmp();
    hmac_sha256(tg_cfg->jwt_secret, tg_cfg->jwt_secret_len, "tollgate files v1", 17, storage_sig_key);
    const char *kind = config_get("TG_STORAGE");
    if (kind != NULL && strcmp(kind, "s3") == 0) {
        storage_s3_b = storage_s3_from_config("s3", "S3", err);
        if (storage_s3_b == NULL)
            return -1;
    }
    if (config_get("TG_OSS_BUCKET") != NULL) {
        storage_oss_b = storage_s3_from_config("oss", "OSS", err);
        if (storage_oss_b == NULL)
            return -1;
    }
    return 0;
}

void storage_shutdown(void)
{
    storage_backend_free(storage_s3_b);
    storage_backend_free(storage_oss_b);
    storage_s3_b = storage_oss_b = NULL;
    free(storage_files_dir);
    free(storage_tmp_dir);
    storage_files_dir = storage_tmp_dir = NULL;
    sodium_memzero(storage_sig_key, sizeof storage_sig_key);
}

const struct storage_backend *storage_find(const char *name)
{
    if (name == NULL)
        return NULL;
    if (strcmp(name, "local") == 0)
        return &storage_local;
    if (strcmp(name, "s3") == 0)
        return storage_s3_b;
    if (strcmp(name, "oss") == 0)
        return storage_oss_b;
    return NULL;
}

const struct storage_backend *storage_for_region(const char *region)
{
    if (region != NULL && strcmp(region, "CN") == 0 && storage_oss_b != NULL)
        return storage_oss_b;
    if (region != NULL && strcmp(region, "GLOBAL") == 0 && storage_s3_b != NULL)
        return storage_s3_b;
    return &storage_local;
}

const struct storage_backend *storage_default(void)
{
    return storage_s3_b ? storage_s3_b : &storage_local;
}

int storage_key_valid(const char *key)
{
    size_t seg = 0, n = 0;
    if (key == NULL)
        return 0;
    for (const char *p = key; *p; p++, n++) {
        char c = *p;
        if (n >= TG_FILE_KEY_MAX - 1)
            return 0;
        if (c == '/') {
            if (seg == 0)
                return 0; /* leading, trailing or doubled '/' */
            seg = 0;
            continue;
        }
        if (c == '.' && seg == 0)
            return 0; /* ".", "..", ".hidden" */
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
              c == '.'))
            return 0;
        seg++;
    }
    return n > 0 && seg > 0;
}

/* ---- local signed URLs ---- */

/* hex HMAC of "METHOD\nkey\nexpires[\ncontent_type\nsize]" under the files key. */
static void storage_local_sig(const char *method, const char *key, const char *expires, const char *content_type,
                              int64_t size, char out[65])
{
    unsigned char mac[32];
    char *msg = strcmp(method, "PUT") == 0
                    ? xasprintf("PUT\n%s\n%s\n%s\n%lld", key, expires, content_type, (long long)size)
                    : xasprintf("%s\n%s\n%s", method, key, expires);
    hmac_sha256(storage_sig_key, sizeof storage_sig_key, msg, strlen(msg), mac);
    free(msg);
    hex_encode(mac, sizeof mac, out);
}

static char *storage_local_url(const char *method, const char *key, const char *content_type, int64_t size,
                               int64_t now_ms, int64_t ttl_s)
{
    char expires[24], sig[65];
    if (!storage_key_valid(key) || ttl_s < 1 || ttl_s > STORAGE_URL_TTL_MAX_S)
        return NULL;
    snprintf(expires, sizeof expires, "%lld", (long long)(now_ms / 1000 + ttl_s));
    storage_local_sig(method, key, expires, content_type, size, sig);
    return xasprintf("%s/files/%s?expires=%s&sig=%s", tg_cfg->public_url, key, expires, sig);
}

enum storage_sig storage_local_verify(const char *method, const char *key, const char *content_type, int64_t size,
                                      const char *expires, const char *sig, int64_t now_ms)
{
    char want[65];
    if (!storage_key_valid(key) || expires == NULL || sig == NULL || strlen(sig) != 64)
        return STORAGE_SIG_BAD;
    /* One spelling of the expiry only: 1..12 digits, no sign, no leading zero. */
    size_t n = strlen(expires);
    if (n == 0 || n > 12 || expires[0] == '0' || strspn(expires, "0123456789") != n)
        return STORAGE_SIG_BAD;
    storage_local_sig(method, key, expires, content_type ? content_type : "", size, want);
    if (!ct_equal(want, sig, 64))
        return STORAGE_SIG_BAD;
    if (strtoll(expires, NULL, 10) * 1000 <= now_ms)
        return STORAGE_SIG_EXPIRED;
    return STORAGE_SIG_OK;
}

char *storage_presign_put(const struct storage_backend *b, const char *key, const char *content_type, int64_t size,
                          int64_t now_ms, int64_t ttl_s)
{
    if (b->kind == STORAGE_LOCAL)
        return storage_local_url("PUT", key, content_type, size, now_ms, ttl_s);
    return storage_s3_presign(b, "PUT", key, content_type, size, now_ms / 1000, ttl_s);
}

char *storage_presign_get(const struct storage_backend *b, const char *key, int64_t now_ms, int64_t ttl_s)
{
    if (b->kind == STORAGE_LOCAL)
        return storage_local_url("GET", key, "", 0, now_ms, ttl_s);
    return storage_s3_presign(b, "GET", key, NULL, 0, now_ms / 1000, ttl_s);
}

/* ---- local files ---- */

int storage_local_path(const char *key, char *out, size_t cap)
{
    if (!storage_key_valid(key) || storage_files_dir == NULL)
        return -1;
    int n = snprintf(out, cap, "%s/%s", storage_files_dir, key);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

int storage_open_local(const char *key, int64_t *size)
{
    char path[PATH_MAX];
    struct stat st;
    *size = 0;
    if (storage_local_path(key, path, sizeof path) != 0) {
        errno = EINVAL;
        return -1;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return -1;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        int e = errno ? errno : EINVAL;
        close(fd);
        errno = e;
        return -1;
    }
    *size = (int64_t)st.st_size;
    return fd;
}

char *storage_tmp_path(void)
{
    unsigned char rnd[8];
    char hex[17];
    rand_bytes(rnd, sizeof rnd);
    hex_encode(rnd, sizeof rnd, hex);
    return xasprintf("%s/%ld-%llu-%s.part", storage_tmp_dir ? storage_tmp_dir : ".", (long)getpid(),
                     (unsigned long long)atomic_fetch_add(&storage_tmp_seq, 1), hex);
}

/* Creates the folders of path below the files folder (key segments only). */
static int storage_mkparents(char *path)
{
    size_t base = strlen(storage_files_dir);
    for (char *p = path + base + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        int rc = mkdir(path, 0700);
        *p = '/';
        if (rc != 0 && errno != EEXIST)
            return -1;
    }
    return 0;
}

int storage_local_place(const char *key, const char *tmp_path)
{
    char path[PATH_MAX];
    int rc = -1, e = EINVAL;
    if (storage_local_path(key, path, sizeof path) != 0)
        goto cleanup;
    /* link, not rename: an existing file is never replaced (two uploads racing to one key). */
    if (storage_mkparents(path) != 0 || link(tmp_path, path) != 0) {
        e = errno;
        if (e != EEXIST)
            log_msgf(LOG_WARN, "storage_local_failed", "%s", strerror(e));
        goto cleanup;
    }
    rc = 0;
cleanup:
    unlink(tmp_path);
    errno = e;
    return rc;
}

void storage_store_file(const struct storage_backend *b, struct net_exec *nx, const char *key,
                        const char *content_type, const char *tmp_path, void (*done)(void *arg, int ok),
                        void *arg)
{
    if (b->kind == STORAGE_LOCAL) {
        done(arg, storage_local_place(key, tmp_path) == 0);
        return;
    }
    storage_s3_put_file(b, nx, key, content_type, tmp_path, done, arg);
}
