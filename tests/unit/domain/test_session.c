/* Unit tests for src/domain/session.c against a temporary SQLite store. */
#include "../test.h"

#include <stdlib.h>
#include <ftw.h>
#include <unistd.h>

#include <jansson.h>

#include "core/config.h"
#include "core/ids.h"
#include "core/timeutil.h"
#include "crypto/encode.h"
#include "crypto/hash.h"
#include "crypto/jwt.h"
#include "crypto/random.h"
#include "core/mem.h"
#include "domain/session.h"
#include "store/call.h"
#include "store/store.h"

static char tmpdir[] = "/tmp/tg_test_session_XXXXXX";

/* Removes the temporary folder (nftw depth-first: files before their folder). */
static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static void rm_tree(const char *dir)
{
    if (dir[0])
        nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static struct store *setup(void)
{
    char url[300], *err = NULL;
    int applied = 0;

    if (mkdtemp(tmpdir) == NULL)
        return NULL;
    /* Only our own TG_ settings: the environment of the test runner must not leak in. */
    setenv("TG_DATA_DIR", tmpdir, 1);
    setenv("TG_ACCESS_TOKEN_TTL", "900", 1);
    setenv("TG_REFRESH_TOKEN_TTL", "3600", 1);
    if (config_load(NULL, &err) != 0) {
        printf("# config_load: %s\n", err ? err : "?");
        free(err);
        return NULL;
    }
    snprintf(url, sizeof url, "sqlite:%s/test.db", tmpdir);
    if (store_migrate(url, &applied, &err) != 0) {
        printf("# migrate: %s\n", err ? err : "?");
        free(err);
        return NULL;
    }
    struct store *s = store_open(url, &err);
    if (s == NULL) {
        printf("# open: %s\n", err ? err : "?");
        free(err);
    }
    return s;
}

/* The synchronous executor the tests run domain calls on (writes commit at once). */
static struct store_exec g_ex;

static void make_user(struct store *s, struct user *u, const char *role, int disabled)
{
    memset(u, 0, sizeof *u);
    id_new(u->id, "usr");
    snprintf(u->email, sizeof u->email, "u%lld%d@example.com", (long long)time_mono_ns(), rand());
    snprintf(u->role, sizeof u->role, "%s", role);
    u->created_at = u->updated_at = time_now_ms();
    u->disabled = disabled;
    CHECK(store_user_create(s, u) == STORE_OK, "user created (%s%s)", role, disabled ? ", disabled" : "");
}

struct auth_out {
    int called;
    enum authn_rc rc;
    struct principal p;
};

static void auth_cb(void *arg, enum authn_rc rc, const struct principal *p)
{
    struct auth_out *o = arg;
    o->called++;
    o->rc = rc;
    if (p)
        o->p = *p;
    else
        memset(&o->p, 0, sizeof o->p);
}

static enum authn_rc auth_len(const char *cred, size_t len, int64_t now, struct principal *p)
{
    struct auth_out o = {0};
    session_authenticate(&g_ex, cred, len, now, auth_cb, &o);
    if (o.called != 1)
        printf("# callback ran %d times\n", o.called);
    *p = o.p;
    return o.called == 1 ? o.rc : (enum authn_rc)-1;
}

static enum authn_rc auth(struct store *s, const char *cred, int64_t now, struct principal *p)
{
    (void)s;
    return auth_len(cred, strlen(cred), now, p);
}

/* Issues a session for u as sign-in does: refresh token stored in one transaction, then
 * the access token signed with the account as stored. */
struct issue_call {
    struct store_call call;
    char user_id[TG_ID_MAX];
    struct session_new_refresh nr;
    int64_t now;
    struct user u;
};

static enum store_rc issue_run(struct store *s, struct store_call *c)
{
    struct issue_call *a = (struct issue_call *)c;
    return session_issue_tx(s, a->user_id, NULL, -1, &a->nr, a->now, &a->u);
}

static enum store_rc issue(struct store *s, const struct user *u, int64_t now, struct session_tokens *t)
{
    struct issue_call a;
    memset(&a, 0, sizeof a);
    memset(t, 0, sizeof *t);
    a.call.kind = STORE_CALL_WRITE;
    a.call.run = issue_run;
    snprintf(a.user_id, sizeof a.user_id, "%s", u->id);
    a.now = now;
    session_refresh_make(now, &a.nr);
    enum store_rc rc = store_call_run_sync(s, &a.call);
    if (rc == STORE_OK && session_tokens_finish(&a.u, &a.nr, now, t) != 0)
        rc = STORE_ERROR;
    return rc;
}

struct refresh_out {
    enum store_rc rc;
    enum refresh_outcome oc;
    struct user u;
    struct session_tokens t;
};

static void refresh_cb(void *arg, struct session_refresh_result *res)
{
    struct refresh_out *o = arg;
    o->rc = res->rc;
    o->oc = res->outcome;
    o->u = res->user;
    o->t = res->tokens; /* moved: the test frees */
    memset(&res->tokens, 0, sizeof res->tokens);
}

static enum store_rc refresh(const char *tok, int64_t now, enum refresh_outcome *oc, struct user *u,
                             struct session_tokens *t)
{
    struct refresh_out o;
    memset(&o, 0, sizeof o);
    o.rc = (enum store_rc)-1;
    session_refresh(&g_ex, tok, now, refresh_cb, &o);
    *oc = o.oc;
    *u = o.u;
    *t = o.t;
    return o.rc;
}

static void rc_cb(void *arg, enum store_rc rc)
{
    *(enum store_rc *)arg = rc;
}

static enum store_rc logout(const char *tok, int64_t now)
{
    enum store_rc rc = (enum store_rc)-1;
    session_logout(&g_ex, tok, now, rc_cb, &rc);
    return rc;
}

/* Signs arbitrary claims with the configured key (or another key). */
static char *sign(json_t *claims, int wrong_key)
{
    unsigned char other[32];
    memset(other, 7, sizeof other);
    char *t = wrong_key ? jwt_sign_hs256(claims, other, sizeof other)
                        : jwt_sign_hs256(claims, tg_cfg->jwt_secret, tg_cfg->jwt_secret_len);
    json_decref(claims);
    return t;
}

static void test_access_tokens(struct store *s)
{
    struct user u;
    struct session_tokens t;
    struct principal p;
    int64_t now = time_now_ms();

    make_user(s, &u, "admin", 0);
    CHECK(issue(s, &u, now, &t) == STORE_OK, "issue a session");
    CHECK(t.access_token && t.refresh_token && t.expires_in == 900, "tokens and lifetime are filled");
    CHECK(t.refresh_token && strncmp(t.refresh_token, "rt_", 3) == 0 && strlen(t.refresh_token) == 46,
          "refresh token is rt_ + 43 base64url chars");

    CHECK_INT_EQ(auth(s, t.access_token, now, &p), AUTHN_OK, "access token authenticates");
    CHECK(p.authenticated && strcmp(p.user_id, u.id) == 0 && strcmp(p.role, "admin") == 0 &&
              p.api_key_id[0] == 0,
          "principal carries sub and role, no api key");
    CHECK_INT_EQ(auth(s, t.access_token, now + 899000, &p), AUTHN_OK, "still valid just before exp");
    CHECK_INT_EQ(auth(s, t.access_token, now + 901000, &p), AUTHN_INVALID,
                 "expired after TG_ACCESS_TOKEN_TTL");
    CHECK(!p.authenticated && p.user_id[0] == 0, "principal is cleared on failure");
    CHECK_INT_EQ(auth(s, t.access_token, now - 60000, &p), AUTHN_INVALID,
                 "issued 60 s in the future: refused");
    {
        /* The verified-token cache indexes by signature bytes: a token with the cached
         * token's signature but another payload lands in the same slot and must still fail. */
        char *forged = xstrdup(t.access_token);
        char *dot = strchr(forged, '.');
        dot[3] = dot[3] == 'A' ? 'B' : 'A';
        CHECK_INT_EQ(auth(s, forged, now, &p), AUTHN_INVALID, "cached signature with another payload: refused");
        CHECK_INT_EQ(auth(s, t.access_token, now, &p), AUTHN_OK, "the genuine token still authenticates");
        free(forged);
    }
    CHECK_INT_EQ(auth(s, t.access_token, now - 20000, &p), AUTHN_OK, "20 s of clock skew is tolerated");

    /* Forged signature: change one character of the signature part. */
    char *forged = strdup(t.access_token);
    size_t n = strlen(forged);
    forged[n - 2] = forged[n - 2] == 'A' ? 'B' : 'A';
    CHECK_INT_EQ(auth(s, forged, now, &p), AUTHN_INVALID, "forged signature refused");
    free(forged);

    json_t *c = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:s}", "sub", u.id, "role", "admin", "typ", "access",
                          "ep", (json_int_t)0, "iat", (json_int_t)(now / 1000), "exp", (json_int_t)(now / 1000 + 600),
                          "jti", "x");
    char *other_key = sign(c, 1);
    CHECK_INT_EQ(auth(s, other_key, now, &p), AUTHN_INVALID, "token signed with another key refused");
    free(other_key);

    c = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:s}", "sub", u.id, "role", "user", "typ", "refresh", "ep",
                  (json_int_t)0, "iat", (json_int_t)(now / 1000), "exp", (json_int_t)(now / 1000 + 600), "jti", "x");
    char *refresh_typ = sign(c, 0);
    CHECK_INT_EQ(auth(s, refresh_typ, now, &p), AUTHN_INVALID, "typ \"refresh\" refused");
    free(refresh_typ);

    c = json_pack("{s:s, s:s, s:I, s:I, s:I}", "sub", u.id, "role", "user", "ep", (json_int_t)0, "iat",
                  (json_int_t)(now / 1000), "exp", (json_int_t)(now / 1000 + 600));
    char *no_typ = sign(c, 0);
    CHECK_INT_EQ(auth(s, no_typ, now, &p), AUTHN_INVALID, "missing typ refused");
    free(no_typ);

    /* The role claim is informational: rights come from the account, not the token. */
    c = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I}", "sub", u.id, "role", "root", "typ", "access", "ep",
                  (json_int_t)0, "iat", (json_int_t)(now / 1000), "exp", (json_int_t)(now / 1000 + 600));
    char *bad_role = sign(c, 0);
    CHECK_INT_EQ(auth(s, bad_role, now, &p), AUTHN_OK, "a role claim of \"root\" grants nothing...");
    CHECK(strcmp(p.role, "admin") == 0, "...the account's stored role is what counts");
    free(bad_role);

    c = json_pack("{s:s, s:s, s:s, s:I, s:I}", "sub", u.id, "role", "admin", "typ", "access", "iat",
                  (json_int_t)(now / 1000), "exp", (json_int_t)(now / 1000 + 600));
    char *no_ep = sign(c, 0);
    CHECK_INT_EQ(auth(s, no_ep, now, &p), AUTHN_INVALID, "a token without an epoch is refused");
    free(no_ep);

    c = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I}", "sub", "admin", "role", "admin", "typ", "access", "ep",
                  (json_int_t)0, "iat", (json_int_t)(now / 1000), "exp", (json_int_t)(now / 1000 + 600));
    char *bad_sub = sign(c, 0);
    CHECK_INT_EQ(auth(s, bad_sub, now, &p), AUTHN_INVALID, "sub that is not a user id refused");
    free(bad_sub);

    /* alg "none": header {"alg":"none","typ":"JWT"}, valid claims, empty signature. */
    char hdr[64], body[256], none_tok[400];
    const char *h = "{\"alg\":\"none\",\"typ\":\"JWT\"}";
    char claims[200];
    snprintf(claims, sizeof claims,
             "{\"sub\":\"%s\",\"role\":\"admin\",\"typ\":\"access\",\"iat\":%lld,\"exp\":%lld}", u.id,
             (long long)(now / 1000), (long long)(now / 1000 + 600));
    b64url_encode(h, strlen(h), hdr);
    b64url_encode(claims, strlen(claims), body);
    snprintf(none_tok, sizeof none_tok, "%s.%s.", hdr, body);
    CHECK_INT_EQ(auth(s, none_tok, now, &p), AUTHN_INVALID, "alg none refused");

    CHECK_INT_EQ(auth_len("", 0, now, &p), AUTHN_INVALID, "empty credential refused");
    CHECK_INT_EQ(auth(s, "garbage", now, &p), AUTHN_INVALID, "garbage refused");
    CHECK_INT_EQ(auth(s, "a.b.c", now, &p), AUTHN_INVALID, "three junk parts refused");
    char big[5000];
    memset(big, 'a', sizeof big - 1), big[sizeof big - 1] = '\0';
    CHECK_INT_EQ(auth(s, big, now, &p), AUTHN_INVALID, "5000-byte credential refused");
    /* Authenticate must honour len, not read to a NUL: pass a prefix of a valid token. */
    CHECK_INT_EQ(auth_len(t.access_token, strlen(t.access_token) - 1, now, &p), AUTHN_INVALID,
                 "a truncated token (by len) is refused");
    session_tokens_free(&t);
    CHECK(t.access_token == NULL && t.refresh_token == NULL, "tokens freed and cleared");
}

static void test_api_keys(struct store *s)
{
    struct user u;
    struct principal p;
    struct api_key k;
    unsigned char rnd[32];
    char key[52];
    int64_t now = time_now_ms();

    make_user(s, &u, "user", 0);
    rand_bytes(rnd, sizeof rnd);
    memcpy(key, "tg_live_", 8);
    CHECK(base62_encode(rnd, sizeof rnd, key + 8, 43) == 0, "base62 of 32 bytes fits 43 chars");
    key[51] = '\0';
    memset(&k, 0, sizeof k);
    id_new(k.id, "key");
    snprintf(k.user_id, sizeof k.user_id, "%s", u.id);
    snprintf(k.name, sizeof k.name, "ci");
    memcpy(k.prefix, key, 12);
    sha256(key, strlen(key), k.hash);
    k.created_at = now;
    CHECK(store_api_key_insert(s, &k) == STORE_OK, "api key stored");

    CHECK_INT_EQ(auth(s, key, now, &p), AUTHN_OK, "api key authenticates");
    CHECK(strcmp(p.user_id, u.id) == 0 && strcmp(p.role, "user") == 0 && strcmp(p.api_key_id, k.id) == 0,
          "principal carries user, role and key id");
    char saved = key[20];
    key[20] = key[20] == 'a' ? 'b' : 'a';
    CHECK_INT_EQ(auth(s, key, now, &p), AUTHN_INVALID, "a different key is refused");
    key[20] = saved;
    CHECK_INT_EQ(auth(s, "tg_", now, &p), AUTHN_INVALID, "bare prefix refused");
    {
        struct api_key k2;
        struct user u2;
        CHECK(store_api_key_authenticate(s, k.hash, &k2, &u2) == STORE_OK && k2.last_used_at == now,
              "first use records last_used_at");
        CHECK_INT_EQ(auth(s, key, now + 30000, &p), AUTHN_OK, "used again 30 s later");
        CHECK(store_api_key_authenticate(s, k.hash, &k2, &u2) == STORE_OK && k2.last_used_at == now,
              "last_used_at is not rewritten within a minute");
        CHECK_INT_EQ(auth(s, key, now + 61000, &p), AUTHN_OK, "used again after a minute");
        CHECK(store_api_key_authenticate(s, k.hash, &k2, &u2) == STORE_OK && k2.last_used_at == now + 61000,
              "last_used_at is recorded again after a minute");
    }
    CHECK(store_user_set_disabled(s, u.id, 1, now) == STORE_OK, "disable the key's user");
    CHECK_INT_EQ(auth(s, key, now, &p), AUTHN_INVALID, "a disabled user's key is refused at once");
    CHECK(store_user_set_disabled(s, u.id, 0, now) == STORE_OK, "enable again");
    CHECK_INT_EQ(auth(s, key, now, &p), AUTHN_OK, "the key works again");
    CHECK(store_api_key_revoke(s, u.id, k.id, now) == STORE_OK, "revoke the key");
    CHECK_INT_EQ(auth(s, key, now, &p), AUTHN_INVALID, "revoked key refused");
}

static void test_origin(void)
{
    CHECK(session_origin_ok("https://pay.example.com", "https://pay.example.com"), "origin: exact match");
    CHECK(!session_origin_ok(NULL, "https://pay.example.com"), "origin: absent");
    CHECK(!session_origin_ok("null", "https://pay.example.com"), "origin: null (sandboxed frame, file:)");
    CHECK(!session_origin_ok("", "https://pay.example.com"), "origin: empty");
    CHECK(!session_origin_ok("https://pay.example.com/", "https://pay.example.com"), "origin: trailing slash");
    CHECK(!session_origin_ok("https://pay.example.com:443", "https://pay.example.com"), "origin: default port");
    CHECK(!session_origin_ok("https://Pay.example.com", "https://pay.example.com"), "origin: case");
    CHECK(!session_origin_ok("http://pay.example.com", "https://pay.example.com"), "origin: scheme");
    CHECK(!session_origin_ok("https://pay.example.com.evil.test", "https://pay.example.com"), "origin: suffix");
    CHECK(!session_origin_ok("https://pay.example.co", "https://pay.example.com"), "origin: prefix");
    CHECK(!session_origin_ok("https://pay.example.com", ""), "origin: no public origin refuses all");
    CHECK(!session_origin_ok("https://pay.example.com", NULL), "origin: NULL public origin");

    CHECK(session_origin_is_host("http://localhost:8080", "localhost:8080"), "host origin: the host addressed");
    CHECK(!session_origin_is_host("https://localhost:8080", "localhost:8080"), "host origin: https is not this page");
    CHECK(!session_origin_is_host("http://localhost:8081", "localhost:8080"), "host origin: another port");
    CHECK(!session_origin_is_host("http://localhost", "localhost:8080"), "host origin: no port");
    CHECK(!session_origin_is_host("http://localhost:8080/", "localhost:8080"), "host origin: trailing slash");
    CHECK(!session_origin_is_host("http://localhost:80800", "localhost:8080"), "host origin: longer");
    CHECK(!session_origin_is_host("null", "localhost:8080"), "host origin: null");
    CHECK(!session_origin_is_host(NULL, "localhost:8080"), "host origin: absent");
    CHECK(!session_origin_is_host("http://", ""), "host origin: empty host");
    CHECK(!session_origin_is_host("http://x", NULL), "host origin: no host");
}

static void test_refresh(struct store *s)
{
    struct user u, got;
    struct session_tokens t, t2, t3;
    enum refresh_outcome oc;
    int64_t now = time_now_ms();

    make_user(s, &u, "user", 0);
    CHECK(issue(s, &u, now, &t) == STORE_OK, "issue");
    CHECK(refresh(t.refresh_token, now + 1000, &oc, &got, &t2) == STORE_OK &&
              oc == REFRESH_ROTATED,
          "refresh rotates");
    CHECK(strcmp(got.id, u.id) == 0 && strcmp(got.email, u.email) == 0, "refresh reloads the user");
    CHECK(t2.access_token && t2.refresh_token && strcmp(t2.refresh_token, t.refresh_token) != 0,
          "refresh hands out a new refresh token");
    struct principal p;
    CHECK_INT_EQ(auth(s, t2.access_token, now + 1000, &p), AUTHN_OK, "the new access token works");

    CHECK(refresh(t.refresh_token, now + 2000, &oc, &got, &t3) == STORE_OK && oc == REFRESH_REUSED,
          "presenting the rotated token again is reuse");
    CHECK(strcmp(got.id, u.id) == 0, "reuse reports whose token it was");
    CHECK(t3.access_token == NULL && t3.refresh_token == NULL, "reuse hands out nothing");
    CHECK(refresh(t2.refresh_token, now + 3000, &oc, &got, &t3) == STORE_OK &&
              oc == REFRESH_EXPIRED,
          "after reuse the whole family is revoked");
    session_tokens_free(&t);
    session_tokens_free(&t2);

    CHECK(refresh("rt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", now, &oc, &got, &t3) ==
                  STORE_OK &&
              oc == REFRESH_UNKNOWN,
          "unknown token");
    CHECK(refresh("not-a-token", now, &oc, &got, &t3) == STORE_OK && oc == REFRESH_UNKNOWN,
          "malformed token is unknown");

    /* Expiry: TG_REFRESH_TOKEN_TTL is 3600 s here. */
    CHECK(issue(s, &u, now - 3601000, &t) == STORE_OK, "issue an hour ago");
    CHECK(refresh(t.refresh_token, now, &oc, &got, &t3) == STORE_OK && oc == REFRESH_EXPIRED,
          "refresh token past its lifetime is expired");
    session_tokens_free(&t);

    /* Logout revokes the family and is idempotent. */
    CHECK(issue(s, &u, now, &t) == STORE_OK, "issue for logout");
    CHECK(logout(t.refresh_token, now) == STORE_OK, "logout");
    CHECK(refresh(t.refresh_token, now + 1000, &oc, &got, &t3) == STORE_OK &&
              oc == REFRESH_EXPIRED,
          "a logged-out token no longer refreshes");
    CHECK(logout(t.refresh_token, now) == STORE_OK, "logout twice is fine");
    CHECK(logout("rt_unknown", now) == STORE_OK, "logout of an unknown token is fine");
    CHECK(logout(NULL, now) == STORE_OK, "logout of nothing is fine");
    session_tokens_free(&t);

    /* A disabled account cannot refresh, and its API keys stop working. */
    struct user d;
    make_user(s, &d, "user", 0);
    CHECK(issue(s, &d, now, &t) == STORE_OK, "issue for a user about to be disabled");
    CHECK(store_user_set_disabled(s, d.id, 1, now) == STORE_OK, "disable the user");
    session_user_changed(d.id);
    CHECK(refresh(t.refresh_token, now + 1000, &oc, &got, &t3) == STORE_OK &&
              oc == REFRESH_EXPIRED,
          "disabled user: refresh answers expired");
    CHECK(t3.access_token == NULL && t3.refresh_token == NULL, "disabled user gets no token");
    session_tokens_free(&t);
}

/* Authorization freshness: what a token may do follows the account, at once. */
static void test_freshness(struct store *s)
{
    struct user u;
    struct session_tokens t, t2;
    struct principal p;
    int64_t now = time_now_ms(), ep = -1;

    make_user(s, &u, "admin", 0);
    CHECK(issue(s, &u, now, &t) == STORE_OK, "issue an admin session");
    CHECK(auth(s, t.access_token, now, &p) == AUTHN_OK && strcmp(p.role, "admin") == 0, "admin while admin");
    CHECK(store_user_set_role(s, u.id, "user", now) == STORE_OK, "demote (as an admin's PATCH does)...");
    session_user_changed(u.id);
    CHECK(auth(s, t.access_token, now, &p) == AUTHN_OK && strcmp(p.role, "user") == 0,
          "...the same token is a user's at once (regression: a demoted admin kept admin rights)");

    CHECK(store_user_bump_epoch(s, u.id, now, &ep) == STORE_OK && ep == 1, "bump the epoch (logout elsewhere)");
    session_user_changed(u.id);
    CHECK_INT_EQ(auth(s, t.access_token, now, &p), AUTHN_INVALID, "a token from an older epoch is refused");
    CHECK(issue(s, &u, now, &t2) == STORE_OK, "a new session");
    CHECK_INT_EQ(auth(s, t2.access_token, now, &p), AUTHN_OK, "carries the new epoch and works");
    CHECK(p.epoch == 1, "the principal carries the token's epoch");

    /* A change made by another process (the CLI) is not announced: it applies within the
     * cache's lifetime. */
    CHECK(store_user_set_disabled(s, u.id, 1, now) == STORE_OK, "disabled by another process");
    CHECK_INT_EQ(auth(s, t2.access_token, now + SESSION_USER_TTL_MS, &p), AUTHN_INVALID,
                 "seen after SESSION_USER_TTL_MS without any announcement");
    CHECK(store_user_set_disabled(s, u.id, 0, now) == STORE_OK, "enabled again");
    session_user_changed(u.id);
    CHECK_INT_EQ(auth(s, t2.access_token, now, &p), AUTHN_OK, "works again once enabled");

    /* Logout ends the access tokens of the account too. */
    CHECK(logout(t2.refresh_token, now) == STORE_OK, "logout");
    CHECK_INT_EQ(auth(s, t2.access_token, now, &p), AUTHN_INVALID,
                 "the logged-out session's access token stops at once (regression: it could mint API keys)");
    session_tokens_free(&t);
    session_tokens_free(&t2);

    /* A session is issued only while what the caller checked still holds. */
    struct issue_call a;
    struct user cur, out;
    CHECK(store_user_get(s, u.id, &cur) == STORE_OK, "read the account");
    memset(&a, 0, sizeof a);
    a.call.kind = STORE_CALL_WRITE;
    a.call.run = issue_run;
    snprintf(a.user_id, sizeof a.user_id, "%s", u.id);
    session_refresh_make(now, &a.nr);
    CHECK(store_user_set_password(s, u.id, NULL, "$argon2id$v=19$changed", now) == STORE_OK,
          "the password changes while a login was verifying the old one");
    CHECK_INT_EQ(session_issue_tx(s, u.id, cur.password_hash, cur.auth_epoch, &a.nr, now, &out), STORE_CONFLICT,
                 "the login's session is refused: the hash it verified is gone");
    CHECK(store_user_get(s, u.id, &cur) == STORE_OK, "read again");
    CHECK_INT_EQ(session_issue_tx(s, u.id, cur.password_hash, cur.auth_epoch - 1, &a.nr, now, &out),
                 STORE_CONFLICT, "an older epoch is refused too");
    CHECK_INT_EQ(session_issue_tx(s, u.id, cur.password_hash, cur.auth_epoch, &a.nr, now, &out), STORE_OK,
                 "with the current hash and epoch the session is issued");
}

int main(void)
{
    if (crypto_init() != 0) {
        printf("Bail out! crypto_init failed\n");
        return 1;
    }
    struct store *s = setup();
    if (s == NULL) {
        printf("Bail out! cannot set up config and store\n");
        return 1;
    }
    store_exec_init(&g_ex, s, NULL, NULL, NULL);
    test_access_tokens(s);
    test_api_keys(s);
    test_refresh(s);
    test_freshness(s);
    test_origin();
    store_exec_dispose(&g_ex);
    store_close(s);
    config_free();
    rm_tree(tmpdir);
    return test_done();
}
