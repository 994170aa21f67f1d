/*
 * test_storage_s3.c - the S3 backend's server-side PUT (storage_store_file: a file streamed
 * with a SigV4 Authorization header through the real outbound client) against the fake S3
 * (tests/fakes/s3.mjs, which verifies SigV4 on its own), and its presigned GET of the result;
 * the asynchronous executor and the synchronous one; a wrong secret is refused and the
 * temporary file is gone either way.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../test.h"
#include "core/mem.h"
#include "fakeproc.h"
#include "net/net.h"
#include "providers/storage/storage.h"

static int stored = -1;
static void on_stored(void *arg, int ok)
{
    (void)arg;
    stored = ok;
}

static char *write_tmp(const char *dir, const char *content, size_t len)
{
    static int n;
    char *p = xasprintf("%s/part-%d", dir, n++);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || write(fd, content, len) != (ssize_t)len)
        abort();
    close(fd);
    return p;
}

struct get_call {
    struct net_call call;
    int done;
};
static void get_done(struct net_call *c)
{
    ((struct get_call *)c)->done = 1;
}

int main(void)
{
    struct fakeproc fp;
    char url[256], ak[128], sk[128], region[64], *err = NULL;
    unsetenv("http_proxy");
    unsetenv("HTTP_PROXY");
    unsetenv("all_proxy");
    unsetenv("ALL_PROXY");
    json_t *j = fakeproc_start(&fp, "FAKE_S3", NULL);
    if (j == NULL)
        return 1;
    fakeproc_str(j, "url", url, sizeof url);
    fakeproc_str(j, "accessKeyId", ak, sizeof ak);
    fakeproc_str(j, "secretAccessKey", sk, sizeof sk);
    fakeproc_str(j, "region", region, sizeof region);
    json_decref(j);
    if (net_global_init() != 0) {
        printf("Bail out! libcurl\n");
        return 1;
    }
    struct net_client *cl = net_client_start(64, &err);
    struct net_exec ex, sx;
    struct fake_waker W = FAKE_WAKER_INIT;
    net_exec_init(&ex, cl, fake_waker_wake, &W);
    net_exec_init(&sx, NULL, NULL, NULL);

    char dir[] = "/tmp/tg-s3-XXXXXX";
    if (mkdtemp(dir) == NULL)
        abort();
    struct storage_backend b = {.name = "s3", .kind = STORAGE_S3, .region = region, .bucket = "tollgate-test",
                                .access_key_id = ak, .secret_access_key = sk};
    CHECK(storage_s3_endpoint(&b, url) == 0 && b.path_style, "fake endpoint: path-style");

    /* A file of 300 kB through the asynchronous client. */
    size_t big = 300000;
    char *content = xmalloc(big);
    for (size_t i = 0; i < big; i++)
        content[i] = (char)('a' + i % 26);
    char *tmp = write_tmp(dir, content, big);
    storage_store_file(&b, &ex, "out/usr_a/tsk_b/0", "video/mp4", tmp, on_stored, NULL);
    for (int i = 0; i < 500 && stored < 0; i++) {
        net_exec_drain(&ex);
        if (stored < 0)
            fake_waker_nap(&W);
    }
    CHECK(stored == 1, "stored through the client (header-signed PUT accepted by the fake)");
    CHECK(access(tmp, F_OK) != 0, "the temporary file is gone");
    free(tmp);

    /* Read it back through a presigned GET. */
    char *get = storage_s3_presign(&b, "GET", "out/usr_a/tsk_b/0", NULL, 0, time(NULL), 60);
    struct get_call g = {0};
    net_call_init(&g.call, "s3", "GET", get);
    g.call.max_response = 1 << 20;
    net_exec_submit(&sx, &g.call, get_done);
    CHECK(g.done && g.call.err == NET_OK && g.call.status == 200 && g.call.resp_len == big &&
              memcmp(g.call.resp_body, content, big) == 0,
          "presigned GET returns the same bytes");
    CHECK_STR_EQ(net_resp_header(&g.call, "content-type"), "video/mp4", "stored with its content type");
    net_call_release(&g.call);
    free(get);

    /* The synchronous executor: done() before storage_store_file returns. */
    stored = -1;
    tmp = write_tmp(dir, "tiny", 4);
    storage_store_file(&b, &sx, "out/usr_a/tsk_b/1", "image/png", tmp, on_stored, NULL);
    CHECK(stored == 1, "stored through the synchronous executor");
    free(tmp);

    /* A wrong secret: the fake refuses the signature, ok is 0, the temporary file still goes. */
    b.secret_access_key = "not-the-secret";
    stored = -1;
    tmp = write_tmp(dir, "nope", 4);
    storage_store_file(&b, &sx, "out/usr_a/tsk_b/2", "image/png", tmp, on_stored, NULL);
    CHECK(stored == 0, "a wrong secret is refused");
    CHECK(access(tmp, F_OK) != 0, "the temporary file is gone after a failure too");
    free(tmp);
    /* A bad key never leaves. */
    b.secret_access_key = sk;
    stored = -1;
    tmp = write_tmp(dir, "nope", 4);
    storage_store_file(&b, &sx, "../escape", "image/png", tmp, on_stored, NULL);
    CHECK(stored == 0 && access(tmp, F_OK) != 0, "a bad key fails unsent, the temporary file removed");
    free(tmp);

    free(content);
    free(b.scheme);
    free(b.endpoint_host);
    rmdir(dir);
    net_exec_dispose(&sx);
    net_client_stop(cl);
    net_exec_dispose(&ex);
    net_global_cleanup();
    fakeproc_stop(&fp);
    return test_done();
}
