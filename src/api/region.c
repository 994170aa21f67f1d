/*
 * region.c - the caller's region: GET and PUT /api/v1/region, GET /api/v1/auth/providers,
 * and api_region_for_request(), which every handler that prices or offers something by
 * region (catalog, orders, storage) uses to learn the region and its profile in one call.
 *
 * The inputs come from here (HTTP): the signed-in user's saved choice (one store read),
 * X-User-Region only from a trusted proxy (req_trusted_header), and the GeoIP country of
 * req_client_ip(), which is the peer itself unless the peer is a trusted proxy. The
 * decision itself is domain/region.c's.
 *
 * Answers depend on who asks and from where (headers, address, account), so they are sent
 * with Cache-Control: private, no-store: no shared cache may hand one caller's region to
 * another.
 */
#include "api/api.h"

#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "core/timeutil.h"
#include "domain/region.h"
#include "domain/users.h"
#include "geo/geo.h"

/* The decision for r given the saved choice (NULL or "" when none). */
static void region_decide_for(struct req *r, const char *saved, struct region_decision *d)
{
    char country[GEO_COUNTRY_LEN];
    struct region_inputs in = {saved, req_trusted_header(r, "x-user-region"), NULL};
    if (geo_country(req_client_ip(r), country) == GEO_FOUND)
        in.geo_country = country;
    region_decide(region_rules(), &in, d);
}

/* ---- api_region_for_request --------------------------------------------------------------- */

struct region_read {
    struct api_call base;
    char user_id[TG_ID_MAX];
    char saved[TG_REGION_MAX]; /* out */
    int disabled;              /* out */
    int answered;              /* done() was called */
    api_region_fn done;
    void *arg;
};

static enum store_rc region_read_run(struct store *s, struct store_call *c)
{
    struct region_read *m = (struct region_read *)c;
    struct user u;
    enum store_rc rc = store_user_get(s, m->user_id, &u);
    m->saved[0] = '\0';
    m->disabled = 0;
    if (rc == STORE_OK) {
        memcpy(m->saved, u.region, sizeof m->saved);
        m->disabled = u.disabled;
    }
    return rc;
}

static void region_read_reply(struct req *r, struct api_call *c)
{
    struct region_read *m = (struct region_read *)c;
    struct region_decision d;
    m->answered = 1;
    /* The middleware checked the account a moment ago; gone since means the token is. */
    if (c->call.rc == STORE_NOTFOUND || (c->call.rc == STORE_OK && m->disabled)) {
        res_error(r, TG_E_INVALID_TOKEN, NULL, NULL);
        m->done(NULL, NULL, m->arg);
        return;
    }
    if (c->call.rc != STORE_OK) {
        api_reply_store(r, c->call.rc, "user_get");
        m->done(NULL, NULL, m->arg);
        return;
    }
    region_decide_for(r, m->saved, &d);
    m->done(r, &d, m->arg);
}

static void region_read_cleanup(struct api_call *c)
{
    struct region_read *m = (struct region_read *)c;
    if (!m->answered) /* the client went away while the store answered */
        m->done(NULL, NULL, m->arg);
}

void api_region_for_request(struct req *r, api_region_fn done, void *arg)
{
    const struct principal *p = req_principal(r);
    if (!p->authenticated) {
        struct region_decision d;
        region_decide_for(r, NULL, &d);
        done(r, &d, arg);
        return;
    }
    struct region_read *m = api_call_new(r, sizeof *m, STORE_CALL_READ);
    snprintf(m->user_id, sizeof m->user_id, "%s", p->user_id);
    m->done = done;
    m->arg = arg;
    api_submit(r, &m->base, region_read_run, region_read_reply, region_read_cleanup);
}

enum region api_region_of_new_account(struct req *r)
{
    struct region_decision d;
    region_decide_for(r, NULL, &d);
    return d.region;
}

/* ---- replies ------------------------------------------------------------------------------ */

static json_t *region_names_json(const char *first, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(first + i * REGION_PROVIDER_MAX));
    return a;
}

json_t *api_region_json(const struct region_decision *d)
{
    const struct region_profile *p = d->profile;
    return json_pack("{s:s, s:o, s:s, s:{s:s, s:s, s:o, s:o}}", "region", region_name(d->region), "country",
                     d->country[0] ? json_string(d->country) : json_null(), "source",
                     region_source_name(d->source), "profile", "currency", p->currency, "locale", p->locale,
                     "sign_in", region_names_json(p->sign_in[0], p->n_sign_in), "payment",
                     region_names_json(p->payment[0], p->n_payment));
}

static void region_reply(struct req *r, json_t *body)
{
    if (body == NULL) {
        res_error(r, TG_E_INTERNAL, NULL, NULL);
        return;
    }
    res_header(r, "cache-control", "private, no-store");
    res_json(r, 200, body);
}

/* ---- GET /api/v1/region ------------------------------------------------------------------- */

static void region_get_done(struct req *r, const struct region_decision *d, void *arg)
{
    (void)arg;
    if (r != NULL)
        region_reply(r, api_region_json(d));
}

void api_region_get(struct req *r)
{
    api_region_for_request(r, region_get_done, NULL);
}

/* ---- PUT /api/v1/region ------------------------------------------------------------------- */

static void region_put_done(void *arg, enum users_rc rc, const struct user *u)
{
    struct req *r = req_ref_take(arg);
    struct region_decision d;
    if (r == NULL)
        return;
    switch (rc) {
    case USERS_OK:
        /* The account as just written: no second read for the answer. */
        region_decide_for(r, u->region, &d);
        region_reply(r, api_region_json(&d));
        break;
    default:
        api_reply_own_account_failure(r, rc);
        break;
    }
}

void api_region_put(struct req *r)
{
    static const char *const allowed[] = {"region", NULL};
    struct jerr e;
    enum region reg;
    const char *save;
    json_t *body = req_json_or_reply(r);

    if (body == NULL)
        return;
    if (jv_only(body, allowed, &e) != 0) {
        api_reply_jerr(r, &e);
        return;
    }
    json_t *v = json_object_get(body, "region");
    if (v == NULL) {
        api_reply_field(r, TG_E_VALIDATION, "region", "region: is required (\"CN\", \"GLOBAL\", or null to clear)");
        return;
    }
    if (json_is_null(v)) {
        save = "";
    } else if (json_is_string(v) && region_parse_name(json_string_value(v), json_string_length(v), &reg) == 0) {
        save = region_name(reg);
    } else {
        api_reply_field(r, TG_E_VALIDATION, "region", "region: must be \"CN\", \"GLOBAL\", or null to clear");
        return;
    }
    users_set_region(req_exec(r), req_principal(r)->user_id, save, time_now_ms(), region_put_done, req_ref_new(r));
}

/* ---- GET /api/v1/auth/providers ----------------------------------------------------------- */

static void providers_done(struct req *r, const struct region_decision *d, void *arg)
{
    const struct region_profile *p;
    char url[96];
    (void)arg;
    if (r == NULL)
        return;
    p = d->profile;
    json_t *list = json_array();
    for (size_t i = 0; i < p->n_sign_in; i++) {
        const char *id = p->sign_in[i];
        json_t *m;
        if (strcmp(id, "email") == 0) {
            m = json_pack("{s:s, s:s}", "id", id, "kind", "password");
        } else {
            /* Every other method is a browser sign-in through the provider's pages. */
            snprintf(url, sizeof url, "/api/v1/auth/oauth/%s/start", id);
            m = json_pack("{s:s, s:s, s:s}", "id", id, "kind", "oauth", "start_url", url);
            if (m != NULL && strcmp(id, "google") == 0)
                json_object_set_new(m, "id_token_url", json_string("/api/v1/auth/google/id-token"));
        }
        json_array_append_new(list, m);
    }
    region_reply(r, json_pack("{s:s, s:o}", "region", region_name(d->region), "sign_in", list));
}

void api_auth_providers(struct req *r)
{
    api_region_for_request(r, providers_done, NULL);
}
