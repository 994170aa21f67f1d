/*
 * auth.c - bearer authentication per route (DESIGN section 5): glue between the
 * Authorization header and domain/session.h.
 */
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

int http_auth_or_reply(struct req *r, enum auth_level level)
{
    h2o_req_t *h = r->h;
    if (level == AUTH_NONE)
        return 0;
    ssize_t i = h2o_find_header(&h->headers, H2O_TOKEN_AUTHORIZATION, -1);
    const char *cred = NULL;
    size_t len = 0;
    int rc = i < 0 ? 0 : http_auth_parse_bearer(h->headers.entries[i].value.base, h->headers.entries[i].value.len, &cred, &len);
    if (rc == 0) {
        if (level == AUTH_OPTIONAL)
            return 0;
        res_error(r, TG_E_UNAUTHORIZED, NULL, NULL);
        return -1;
    }
    if (rc < 0) {
        res_error(r, TG_E_INVALID_TOKEN, NULL, NULL);
        return -1;
    }
    switch (session_authenticate(r->w->store, cred, len, r->now_ms, &r->principal)) {
    case AUTHN_OK:
        break;
    case AUTHN_UNAVAILABLE:
        memset(&r->principal, 0, sizeof r->principal);
        res_error(r, TG_E_UNAVAILABLE, NULL, NULL);
        return -1;
    default:
        memset(&r->principal, 0, sizeof r->principal);
        res_error(r, TG_E_INVALID_TOKEN, NULL, NULL);
        return -1;
    }
    if (level == AUTH_ADMIN && strcmp(r->principal.role, "admin") != 0) {
        res_error(r, TG_E_FORBIDDEN, NULL, NULL);
        return -1;
    }
    return 0;
}
