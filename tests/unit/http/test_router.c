/* Unit tests for src/http/router.c: params, trailing slash, 404 vs 405, HEAD, priority. */
#include "../test.h"

#include <stdlib.h>

#include "../../../src/http/router.c"

static void h_a(struct req *r) { (void)r; }
static void h_b(struct req *r) { (void)r; }

static const struct route table[] = {
    {"GET", "/health", h_a, AUTH_NONE, RL_NONE},
    {"GET", "/api/v1/credits", h_a, AUTH_USER, RL_API_QUERY},
    {"GET", "/api/v1/api-keys", h_a, AUTH_USER, RL_API_QUERY},
    {"POST", "/api/v1/api-keys", h_b, AUTH_USER, RL_API_QUERY},
    {"DELETE", "/api/v1/api-keys/{id}", h_b, AUTH_USER, RL_API_QUERY},
    {"POST", "/api/v1/admin/users/{id}/credits", h_a, AUTH_ADMIN, RL_NONE},
    {"GET", "/api/v1/tasks/{id}", h_a, AUTH_USER, RL_NONE},
    {"GET", "/api/v1/tasks/stats", h_b, AUTH_USER, RL_NONE},
    {"GET", "/", h_b, AUTH_NONE, RL_NONE},
};

static struct http_match m;

static int match(const struct http_router *rt, const char *method, const char *path)
{
    http_router_match(rt, method, strlen(method), path, strlen(path), &m);
    return m.status;
}

static int param_is(const char *name, const char *want)
{
    for (size_t i = 0; i < m.nparams; i++)
        if (m.params[i].name_len == strlen(name) && memcmp(m.params[i].name, name, m.params[i].name_len) == 0)
            return m.params[i].len == strlen(want) && memcmp(m.params[i].value, want, m.params[i].len) == 0;
    return 0;
}

int main(void)
{
    struct http_router rt;
    char *err = NULL;
    CHECK(http_router_compile(&rt, table, sizeof table / sizeof table[0], &err) == 0, "table compiles (%s)",
          err ? err : "");

    CHECK_INT_EQ(match(&rt, "GET", "/health"), 200, "literal match");
    CHECK(m.rc->route == &table[0], "right route");
    CHECK_INT_EQ(match(&rt, "GET", "/health/"), 200, "one trailing slash ignored");
    CHECK_INT_EQ(match(&rt, "GET", "/health//"), 404, "two trailing slashes do not match");
    CHECK_INT_EQ(match(&rt, "GET", "//health"), 404, "empty segment does not match");
    CHECK_INT_EQ(match(&rt, "GET", "/"), 200, "root");
    CHECK(m.rc->route == &table[8], "root route");
    CHECK_INT_EQ(match(&rt, "GET", "/nope"), 404, "unknown path is 404");
    CHECK_INT_EQ(match(&rt, "GET", "health"), 404, "path without leading slash is 404");
    CHECK_INT_EQ(match(&rt, "POST", "/health"), 405, "known path, wrong method is 405");
    CHECK(m.allow == HTTP_M_GET, "allow mask is GET");
    CHECK_INT_EQ(match(&rt, "HEAD", "/api/v1/credits"), 200, "HEAD is served by the GET route");
    CHECK(m.rc->route == &table[1], "HEAD picks the GET route");
    CHECK_INT_EQ(match(&rt, "PUT", "/api/v1/api-keys"), 405, "PUT on GET+POST path is 405");
    char allow[96];
    http_router_allow_string(m.allow, 1, allow, sizeof allow);
    CHECK_STR_EQ(allow, "GET, HEAD, POST, OPTIONS", "Allow lists the path's methods");
    CHECK_INT_EQ(match(&rt, "POST", "/api/v1/api-keys"), 200, "method selects among routes of one path");
    CHECK(m.rc->route == &table[3], "POST route");

    CHECK_INT_EQ(match(&rt, "DELETE", "/api/v1/api-keys/key_123"), 200, "parameter matches");
    CHECK(param_is("id", "key_123"), "parameter value");
    CHECK_INT_EQ(match(&rt, "DELETE", "/api/v1/api-keys/"), 405, "missing parameter is the collection (405)");
    CHECK_INT_EQ(match(&rt, "DELETE", "/api/v1/api-keys/a/b"), 404, "extra segment is 404");
    CHECK_INT_EQ(match(&rt, "POST", "/api/v1/admin/users/usr_9/credits"), 200, "parameter in the middle");
    CHECK(param_is("id", "usr_9"), "middle parameter value");
    CHECK_INT_EQ(match(&rt, "GET", "/api/v1/tasks/stats"), 200, "literal beats parameter");
    CHECK(m.rc->route == &table[7], "stats route chosen over {id}");
    CHECK_INT_EQ(match(&rt, "GET", "/api/v1/tasks/tsk_1"), 200, "parameter route still matches others");
    CHECK(m.rc->route == &table[6] && param_is("id", "tsk_1"), "{id} route");
    CHECK_INT_EQ(match(&rt, "BREW", "/health"), 405, "unknown method on known path is 405");
    CHECK_STR_EQ(rt.labels[1], "GET /api/v1/credits", "metrics label");
    http_router_free(&rt);

    static const struct route bad1[] = {{"GET", "/a/{id", h_a, AUTH_NONE, RL_NONE}};
    static const struct route bad2[] = {{"GET", "/a", h_a, AUTH_NONE, RL_NONE}, {"GET", "/a", h_b, AUTH_NONE, RL_NONE}};
    static const struct route bad3[] = {{"FETCH", "/a", h_a, AUTH_NONE, RL_NONE}};
    static const struct route bad4[] = {{"GET", "/a/{x}/{x}", h_a, AUTH_NONE, RL_NONE}};
    CHECK(http_router_compile(&rt, bad1, 1, &err) == -1 && err, "unbalanced brace rejected");
    free(err);
    CHECK(http_router_compile(&rt, bad2, 2, &err) == -1 && err, "duplicate route rejected");
    free(err);
    CHECK(http_router_compile(&rt, bad3, 1, &err) == -1 && err, "unknown method rejected");
    free(err);
    CHECK(http_router_compile(&rt, bad4, 1, &err) == -1 && err, "duplicate parameter name rejected");
    free(err);
    return test_done();
}
