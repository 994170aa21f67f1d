/*
 * auth.c - bearer authentication per route (DESIGN section 5): glue between the
 * Authorization header and domain/session.h.
 */
#include <stdio.h>
#include <string.h>

#include "domain/session.h"
#include "http/internal.h"

int http_auth_parse_bearer(const char *v, size_t vlen, const char **cred, size_t *len)
{
    *cred = NULL;
    *len = 0;
    while (vlen && (*v == ' ' || *v == '\t')) {
        v++;
        vlen--;
    }
    if (vlen < 6 || !h2o_lcstris(v, 6, H2O_STRLIT("bearer")) || (vlen > 6 && v[6] != ' ' && v[6] != '\t'))
        return 0;
    v += 6;
    vlen -= 6;
    while (vlen && (*v == ' ' || *v == '\t')) {
        v++;
        vlen--;
    }
    while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
        vlen--;
    if (vlen == 0 || vlen > HTTP_CREDENTIAL_MAX)
        return -1;
    *cred = v;
    *len = vlen;
    return 1;
}

int req_bearer(struct req *r, const char **cred, size_t *len)
{
    h2o_req_t *h = r->h;
    ssize_t i = h2o_find_header(&h->headers, H2O_TOKEN_AUTHORIZATION, -1);
    *cred = NULL;
    *len = 0;
    if (i < 0)
        return 0;
    return http_auth_parse_bearer(h->headers.entries[i].value.base, h->headers.entries[i].value.len, cred, len);
}

/* The client's key for the failed-authentication budget (auth_fail): its address, an IPv6
 * client by its /64. */
static void http_auth_fail_key(struct req *r, char key[RATELIMIT_IP_KEY_MAX])
{
    if (ratelimit_ip_key(req_client_ip(r), key, RATELIMIT_IP_KEY_MAX) != 0)
        strcpy(key, "ip:unknown"); /* req_client_ip is inet_ntop output: cannot happen */
}

static void http_auth_done(void *arg, enum authn_rc rc, const struct principal *p)
{
    struct req *r = req_ref_take(arg);
    if (r == NULL)
        return;
    switch (rc) {
    case AUTHN_OK:
        r->principal = *p;
        break;
    case AUTHN_UNAVAILABLE:
        res_error(r, TG_E_UNAVAILABLE, NULL, NULL);
        return;
    case AUTHN_INVALID:
    default: {
        /* Every failure spends from the client's auth_fail budget: guessing API keys or
         * forging tokens from one address stops at the budget (checked before verifying). */
        char key[RATELIMIT_IP_KEY_MAX];
        struct rl_result res;
        http_auth_fail_key(r, key);
        ratelimit_check(RL_AUTH_FAIL, key, r->now_ms, &res);
        res_error(r, TG_E_INVALID_TOKEN, NULL, NULL);
        return;
    }
    }
    if (r->rc->route->auth == AUTH_ADMIN && strcmp(r->principal.role, "admin") != 0) {
        res_error(r, TG_E_FORBIDDEN, NULL, NULL);
        return;
    }
    http_dispatch_authenticated(r);
}

void http_auth_start(struct req *r, enum auth_level level)
{
    h2o_req_t *h = r->h;
    if (level == AUTH_NONE) {
        http_dispatch_authenticated(r);
        return;
    }
    ssize_t i = h2o_find_header(&h->headers, H2O_TOKEN_AUTHORIZATION, -1);
    const char *cred = NULL;
    size_t len = 0;
    int rc = i < 0 ? 0 : http_auth_parse_bearer(h->headers.entries[i].value.base, h->headers.entries[i].value.len, &cred, &len);
    if (rc == 0) {
        if (level == AUTH_OPTIONAL) {
            http_dispatch_authenticated(r);
            return;
        }
        res_error(r, TG_E_UNAUTHORIZED, NULL, NULL);
        return;
    }
    if (rc < 0) {
        res_error(r, TG_E_INVALID_TOKEN, NULL, NULL);
        return;
    }
    /* An address that has spent its failed-authentication budget is refused before its
     * credential is even looked at, so the budget really bounds guessing - except for a token
     * this thread has verified before, which is no guess (and is the hot path). */
    if (!session_token_known(cred, len, r->now_ms)) {
        char key[RATELIMIT_IP_KEY_MAX];
        struct rl_result res;
        http_auth_fail_key(r, key);
        ratelimit_peek(RL_AUTH_FAIL, key, r->now_ms, &res);
        if (!res.allowed) {
            r->rl = res;
            r->rl_set = 1;
            res_error(r, TG_E_RATE_LIMITED, "Too many failed authentication attempts. Try again later.", NULL);
            return;
        }
    }
    session_authenticate(&r->w->exec, cred, len, r->now_ms, http_auth_done, req_ref_new(r));
}
