/*
 * test_storage.c - SigV4 (sigv4.h) against AWS's signature test suite and the S3 examples
 * of the AWS documentation, the S3 backend's presigned URLs, key validation, and the local
 * backend's signed URLs (forged, altered, expired) and file placement (storage.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../test.h"
#include "core/config.h"
#include "providers/storage/sigv4.h"
#include "providers/storage/storage.h"

/* The test suite's credentials and time ("aws-sig-v4-test-suite", service "service"). */
static const struct sigv4_cred suite = {"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "us-east-1",
                                        "service"};
#define SUITE_DATE "20150830T123600Z"
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define SUITE_PREFIX "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "

static void suite_case(const char *name, const char *method, const struct sigv4_kv *q, size_t nq,
                       const struct sigv4_kv *extra, size_t nextra, const char *want)
{
    struct sigv4_kv h[8] = {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", SUITE_DATE}};
    size_t nh = 2;
    for (size_t i = 0; i < nextra; i++)
        h[nh++] = extra[i];
    struct sigv4_req r = {.method = method, .path = "/", .query = q, .n_query = nq, .headers = h, .n_headers = nh,
                          .payload_hash = EMPTY_SHA256};
    char *auth = sigv4_authorization(&suite, SUITE_DATE, &r);
    char *full = NULL;
    size_t n = strlen(SUITE_PREFIX) + strlen(want) + 1;
    full = malloc(n);
    snprintf(full, n, "%s%s", SUITE_PREFIX, want);
    CHECK_STR_EQ(auth, full, "test suite: %s", name);
    free(auth);
    free(full);
}

static void test_suite(void)
{
    char date[SIGV4_DATE_LEN + 1];
    sigv4_amz_date(1440938160, date);
    CHECK_STR_EQ(date, SUITE_DATE, "amz date of 2015-08-30T12:36:00Z");

    suite_case("get-vanilla", "GET", NULL, 0, NULL, 0,
               "SignedHeaders=host;x-amz-date, "
               "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
    suite_case("post-vanilla", "POST", NULL, 0, NULL, 0,
               "SignedHeaders=host;x-amz-date, "
               "Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b");
    struct sigv4_kv q[] = {{"Param2", "value2"}, {"Param1", "value1"}};
    suite_case("get-vanilla-query-order-key-case", "GET", q, 2, NULL, 0,
               "SignedHeaders=host;x-amz-date, "
               "Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");
    struct sigv4_kv vc[] = {{"My-Header1", "VALUE1"}};
    suite_case("post-header-value-case", "POST", NULL, 0, vc, 1,
               "SignedHeaders=host;my-header1;x-amz-date, "
               "Signature=cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d");
    struct sigv4_kv trim[] = {{"My-Header1", " value1"}, {"My-Header2", "\"a   b   c\""}};
    suite_case("get-header-value-trim", "GET", NULL, 0, trim, 2,
               "SignedHeaders=host;my-header1;my-header2;x-amz-date, "
               "Signature=acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736");

    /* The canonical request of get-vanilla-query-order-key-case, as the suite's .creq. */
    struct sigv4_kv h[] = {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", SUITE_DATE}};
    struct sigv4_req r = {.method = "GET", .path = "/", .query = q, .n_query = 2, .headers = h, .n_headers = 2,
                          .payload_hash = EMPTY_SHA256};
    char *creq = sigv4_canonical_request(&r, NULL);
    CHECK_STR_EQ(creq,
                 "GET\n/\nParam1=value1&Param2=value2\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
                 "host;x-amz-date\n" EMPTY_SHA256,
                 "canonical request of get-vanilla-query-order-key-case");
    free(creq);
}

/* The S3 examples of "Authenticating Requests (AWS Signature Version 4)". */
static const struct sigv4_cred s3ex = {"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                                       "us-east-1", "s3"};

static void test_s3_examples(void)
{
    /* Header auth: GET Object with a Range. */
    struct sigv4_kv h[] = {{"host", "examplebucket.s3.amazonaws.com"},
                           {"range", "bytes=0-9"},
                           {"x-amz-content-sha256", EMPTY_SHA256},
                           {"x-amz-date", "20130524T000000Z"}};
    struct sigv4_req r = {.method = "GET", .path = "/test.txt", .headers = h, .n_headers = 4,
                          .payload_hash = EMPTY_SHA256};
    char *auth = sigv4_authorization(&s3ex, "20130524T000000Z", &r);
    CHECK_STR_EQ(auth,
                 "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
                 "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
                 "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
                 "S3 example: GET Object, header auth");
    free(auth);

    /* Query auth: the presigned GET of test.txt for 86400 s. */
    struct sigv4_kv hh[] = {{"host", "examplebucket.s3.amazonaws.com"}};
    struct sigv4_req pr = {.method = "GET", .path = "/test.txt", .headers = hh, .n_headers = 1};
    char *q = sigv4_presign_query(&s3ex, "20130524T000000Z", 86400, &pr, 0);
    CHECK_STR_EQ(q,
                 "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%"
                 "2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-Signature="
                 "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404&X-Amz-SignedHeaders=host",
                 "S3 example: presigned GET, signature aeeed9bb...");
    free(q);
}

static void test_s3_backend(void)
{
    struct storage_backend b = {.name = "s3", .kind = STORAGE_S3, .region = "us-east-1", .bucket = "examplebucket",
                                .access_key_id = "AKIAIOSFODNN7EXAMPLE",
                                .secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"};
    CHECK(storage_s3_endpoint(&b, "https://s3.amazonaws.com") == 0 && !b.path_style, "AWS endpoint: virtual-hosted");
    /* What @aws-sdk/s3-request-presigner 3.1169.0 gives for the same inputs (the e2e test
     * storage_presign.test.mjs checks many more against the SDK itself). */
    char *u = storage_s3_presign(&b, "GET", "test.txt", NULL, 0, 1369353600, 86400);
    CHECK_STR_EQ(u,
                 "https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Content-"
                 "Sha256=UNSIGNED-PAYLOAD&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%"
                 "2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-Signature="
                 "7c66ee2a8f3d418b10e74b41ba1e114ec349feb696f43a3dd136eed4fa1a2ac6&X-Amz-SignedHeaders=host",
                 "presigned GET as the AWS SDK signs it");
    free(u);
    CHECK(storage_s3_presign(&b, "GET", "../x", NULL, 0, 1369353600, 86400) == NULL, "a bad key is refused");
    CHECK(storage_s3_presign(&b, "GET", "a", NULL, 0, 1369353600, 604801) == NULL, "past 7 days is refused");
    char origin[128];
    CHECK(storage_origin(&b, origin, sizeof origin) == 38 &&
              strcmp(origin, "https://examplebucket.s3.amazonaws.com") == 0,
          "the origin browsers reach a virtual-hosted bucket at: %s", origin);
    CHECK(storage_origin(&b, origin, 38) == -1, "an origin that does not fit is refused");
    free(b.scheme);
    free(b.endpoint_host);

    struct storage_backend l = {0};
    CHECK(storage_s3_endpoint(&l, "http://127.0.0.1:9000") == 0 && l.path_style &&
              strcmp(l.endpoint_host, "127.0.0.1:9000") == 0,
          "IP endpoint: path-style, port kept");
    l.kind = STORAGE_S3;
    l.bucket = "b";
    CHECK(storage_origin(&l, origin, sizeof origin) > 0 && strcmp(origin, "http://127.0.0.1:9000") == 0,
          "path-style: the endpoint is the origin (%s)", origin);
    struct storage_backend local = {.name = "local", .kind = STORAGE_LOCAL};
    CHECK(storage_origin(&local, origin, sizeof origin) == -1, "local files have no origin of their own");
    free(l.scheme);
    free(l.endpoint_host);
    memset(&l, 0, sizeof l);
    CHECK(storage_s3_endpoint(&l, "https://oss-cn-hangzhou.aliyuncs.com") == 0 && !l.path_style,
          "OSS endpoint: virtual-hosted");
    free(l.scheme);
    free(l.endpoint_host);
    memset(&l, 0, sizeof l);
    CHECK(storage_s3_endpoint(&l, "https://host/path") == -1, "an endpoint with a path is refused");
    free(l.scheme);
    memset(&l, 0, sizeof l);
    CHECK(storage_s3_endpoint(&l, "ftp://host") == -1, "an endpoint of another scheme is refused");
}

static void test_keys(void)
{
    CHECK(storage_key_valid("in/usr_1/fil_2"), "upload key");
    CHECK(storage_key_valid("out/usr_1/tsk_2/0"), "output key");
    CHECK(storage_key_valid("out/usr_1/tsk_2/0.mp4"), "a dot inside a segment");
    static const char *bad[] = {"", "/a", "a/", "a//b", "..", "a/../b", "a/./b", "%2e%2e", "a\\b", "a b", ".a", "a/.b",
                                "a?b", NULL};
    for (size_t i = 0; bad[i]; i++)
        CHECK(!storage_key_valid(bad[i]), "bad key refused: '%s'", bad[i]);
    char longkey[300];
    memset(longkey, 'a', sizeof longkey - 1);
    longkey[sizeof longkey - 1] = '\0';
    CHECK(!storage_key_valid(longkey), "a key over TG_FILE_KEY_MAX is refused");
}

/* The value of query parameter name in url (static buffer). */
static const char *qval(const char *url, const char *name)
{
    static char out[256];
    const char *q = strchr(url, '?');
    size_t n = strlen(name);
    for (const char *p = q; p && *p; p = strchr(p + 1, '&')) {
        if (strncmp(p + 1, name, n) == 0 && p[1 + n] == '=') {
            size_t k = strcspn(p + 2 + n, "&");
            memcpy(out, p + 2 + n, k);
            out[k] = '\0';
            return out;
        }
    }
    return NULL;
}

static void done_fn(void *arg, int okv)
{
    *(int *)arg = okv;
}

static void test_local(void)
{
    char dir[] = "/tmp/tg-storage-XXXXXX", *err = NULL;
    CHECK(mkdtemp(dir) != NULL, "temp dir");
    setenv("TG_DATA_DIR", dir, 1);
    setenv("TG_PUBLIC_URL", "https://tg.example", 1);
    CHECK(config_load(NULL, &err) == 0, "config loads (%s)", err ? err : "");
    free(err);
    CHECK(storage_init(&err) == 0, "storage_init");
    free(err);
    struct stat st;
    char path[4096];
    snprintf(path, sizeof path, "%s/tmp", dir);
    CHECK(stat(path, &st) == 0 && S_ISDIR(st.st_mode), "tmp folder created");
    CHECK(storage_find("local") != NULL && storage_find("s3") == NULL && storage_find("oss") == NULL,
          "only local is configured");
    CHECK(storage_for_region("CN") == storage_find("local") && storage_for_region("GLOBAL") == storage_find("local"),
          "both regions fall back to local");

    const int64_t now = 1700000000000;
    const struct storage_backend *b = storage_find("local");
    char *put = storage_presign_put(b, "in/usr_a/fil_b", "image/png", 1234, now, 900);
    CHECK(put != NULL && strncmp(put, "https://tg.example/files/in/usr_a/fil_b?expires=1700000900&sig=", 63) == 0,
          "PUT URL absolute on TG_PUBLIC_URL: %s", put ? put : "");
    char exp[32], sig[80];
    snprintf(exp, sizeof exp, "%s", qval(put, "expires"));
    snprintf(sig, sizeof sig, "%s", qval(put, "sig"));
    CHECK(storage_local_verify("PUT", "in/usr_a/fil_b", "image/png", 1234, exp, sig, now) == STORAGE_SIG_OK,
          "PUT signature verifies");
    CHECK(storage_local_verify("PUT", "in/usr_a/fil_b", "image/png", 1234, exp, sig, now + 900000) ==
              STORAGE_SIG_EXPIRED,
          "expired at its second");
    CHECK(storage_local_verify("PUT", "in/usr_a/fil_b", "image/jpeg", 1234, exp, sig, now) == STORAGE_SIG_BAD,
          "another content type: refused");
    CHECK(storage_local_verify("PUT", "in/usr_a/fil_b", "image/png", 1235, exp, sig, now) == STORAGE_SIG_BAD,
          "another size: refused");
    CHECK(storage_local_verify("PUT", "in/usr_c/fil_b", "image/png", 1234, exp, sig, now) == STORAGE_SIG_BAD,
          "another user's key: refused");
    CHECK(storage_local_verify("GET", "in/usr_a/fil_b", NULL, 0, exp, sig, now) == STORAGE_SIG_BAD,
          "a PUT signature does not GET");
    CHECK(storage_local_verify("PUT", "in/usr_a/fil_b", "image/png", 1234, "1700009999", sig, now) ==
              STORAGE_SIG_BAD,
          "a lengthened expiry: refused (not 'expired')");
    CHECK(storage_local_verify("PUT", "in/usr_a/fil_b", "image/png", 1234, "01700000900", sig, now) ==
              STORAGE_SIG_BAD,
          "a second spelling of the expiry: refused");
    sig[0] = sig[0] == 'a' ? 'b' : 'a';
    CHECK(storage_local_verify("PUT", "in/usr_a/fil_b", "image/png", 1234, exp, sig, now) == STORAGE_SIG_BAD,
          "one changed signature digit: refused");
    CHECK(storage_local_verify("PUT", "in/usr_a/fil_b", "image/png", 1234, exp, NULL, now) == STORAGE_SIG_BAD,
          "no signature: refused");
    free(put);
    char *get = storage_presign_get(b, "in/usr_a/fil_b", now, 60);
    snprintf(exp, sizeof exp, "%s", qval(get, "expires"));
    snprintf(sig, sizeof sig, "%s", qval(get, "sig"));
    CHECK(storage_local_verify("GET", "in/usr_a/fil_b", NULL, 0, exp, sig, now) == STORAGE_SIG_OK,
          "GET signature verifies");
    CHECK(storage_local_verify("PUT", "in/usr_a/fil_b", "", 0, exp, sig, now) == STORAGE_SIG_BAD,
          "a GET signature does not PUT");
    free(get);

    /* Placement: link into place, never replace. */
    char *tmp = storage_tmp_path(), *tmp2 = storage_tmp_path();
    CHECK(strcmp(tmp, tmp2) != 0, "temp paths are unique");
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0600);
    CHECK(fd >= 0 && write(fd, "hello", 5) == 5, "temp file written");
    close(fd);
    int ok = -1;
    storage_store_file(b, NULL, "in/usr_a/fil_b", "text/plain", tmp, done_fn, &ok);
    CHECK(ok == 1, "stored locally, done() at once");
    CHECK(access(tmp, F_OK) != 0, "temp file gone");
    int64_t size = 0;
    fd = storage_open_local("in/usr_a/fil_b", &size);
    CHECK(fd >= 0 && size == 5, "opened with its size");
    if (fd >= 0)
        close(fd);
    fd = open(tmp2, O_WRONLY | O_CREAT | O_EXCL, 0600);
    CHECK(fd >= 0 && write(fd, "other", 5) == 5, "second temp file written");
    close(fd);
    ok = -1;
    storage_store_file(b, NULL, "in/usr_a/fil_b", "text/plain", tmp2, done_fn, &ok);
    CHECK(ok == 0, "an existing file is never replaced");
    CHECK(access(tmp2, F_OK) != 0, "the refused temp file is gone too");
    errno = 0;
    CHECK(storage_open_local("../../etc/passwd", &size) == -1 && errno == EINVAL, "open refuses a bad key");
    free(tmp);
    free(tmp2);
    storage_shutdown();
    config_free();
}

/* OSS is all or nothing; with S3 and OSS configured, each region finds its own. */
static void test_regions(void)
{
    char dir[] = "/tmp/tg-storage-XXXXXX", *err = NULL;
    CHECK(mkdtemp(dir) != NULL, "temp dir");
    setenv("TG_DATA_DIR", dir, 1);
    setenv("TG_OSS_BUCKET", "cn-bucket", 1);
    CHECK(config_load(NULL, &err) == -1 && err && strstr(err, "TG_OSS_ENDPOINT"), "OSS without an endpoint: %s",
          err ? err : "");
    free(err);
    err = NULL;
    setenv("TG_OSS_ENDPOINT", "https://oss-cn-hangzhou.aliyuncs.com", 1);
    setenv("TG_OSS_REGION", "oss-cn-hangzhou", 1);
    setenv("TG_OSS_ACCESS_KEY_ID", "LTAIexample", 1);
    setenv("TG_OSS_SECRET_ACCESS_KEY", "oss-secret", 1);
    setenv("TG_STORAGE", "s3", 1);
    setenv("TG_S3_BUCKET", "global-bucket", 1);
    setenv("TG_S3_ACCESS_KEY_ID", "AKIAexample", 1);
    setenv("TG_S3_SECRET_ACCESS_KEY", "s3-secret", 1);
    CHECK(config_load(NULL, &err) == 0, "S3 and OSS configured (%s)", err ? err : "");
    free(err);
    err = NULL;
    /* A stale temporary file (two hours old) is swept at start; a fresh one stays. */
    char tmpdir[300], old[400], fresh[400];
    snprintf(tmpdir, sizeof tmpdir, "%s/tmp", dir);
    mkdir(tmpdir, 0700);
    snprintf(old, sizeof old, "%s/1-1-x.part", tmpdir);
    snprintf(fresh, sizeof fresh, "%s/1-2-y.part", tmpdir);
    close(open(old, O_WRONLY | O_CREAT, 0600));
    close(open(fresh, O_WRONLY | O_CREAT, 0600));
    struct timespec ts[2] = {{time(NULL) - 7200, 0}, {time(NULL) - 7200, 0}};
    utimensat(AT_FDCWD, old, ts, 0);
    CHECK(storage_init(&err) == 0, "storage_init with S3 and OSS (%s)", err ? err : "");
    free(err);
    CHECK(access(old, F_OK) != 0 && access(fresh, F_OK) == 0, "stale temporary files swept, fresh ones kept");
    const struct storage_backend *s3 = storage_find("s3"), *oss = storage_find("oss");
    CHECK(s3 && oss && strcmp(s3->endpoint_host, "s3.us-east-1.amazonaws.com") == 0 && !s3->path_style,
          "S3 without an endpoint: AWS's for the default region, virtual-hosted");
    CHECK(storage_for_region("CN") == oss && storage_for_region("GLOBAL") == s3 &&
              storage_for_region("XX") == storage_find("local") && storage_for_region(NULL) == storage_find("local"),
          "CN -> oss, GLOBAL -> s3, anything else -> local");
    CHECK(storage_default() == s3, "server-side files default to TG_STORAGE");
    char *u = storage_presign_put(oss, "in/usr_a/fil_b", "image/png", 10, 1700000000000, 60);
    CHECK(u && strncmp(u, "https://cn-bucket.oss-cn-hangzhou.aliyuncs.com/in/usr_a/fil_b?", 62) == 0 &&
              strstr(u, "%2Foss-cn-hangzhou%2Fs3%2Faws4_request") != NULL,
          "OSS upload URL: virtual-hosted, scoped to the OSS region: %s", u ? u : "");
    free(u);
    storage_shutdown();
    config_free();
    unlink(fresh);
    static const char *const keys[] = {"TG_OSS_BUCKET", "TG_OSS_ENDPOINT", "TG_OSS_REGION", "TG_OSS_ACCESS_KEY_ID",
                                       "TG_OSS_SECRET_ACCESS_KEY", "TG_STORAGE", "TG_S3_BUCKET", "TG_S3_ACCESS_KEY_ID",
                                       "TG_S3_SECRET_ACCESS_KEY", NULL};
    for (size_t i = 0; keys[i]; i++)
        unsetenv(keys[i]);
}

int main(void)
{
    test_suite();
    test_s3_examples();
    test_s3_backend();
    test_keys();
    test_local();
    test_regions();
    return test_done();
}
