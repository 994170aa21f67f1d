/* Unit tests for src/domain/oauth.c: states and their cookies, return_to, the linking
 * rules, login codes and unlinking, against a temporary SQLite store. */
#include "../test.h"

#include <ftw.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/config.h"
#include "core/ids.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "crypto/random.h"
#include "domain/oauth.h"
#include "store/call.h"
#include "store/store.h"

static char tmpdir[] = "/tmp/tg_test_oauth_XXXXXX";
static struct store_exec g_ex;
static struct store *g_s;

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static struct store *setup(void)
{
    char url[300], *err = NULL;
    int applied = 0;
    if (mkdtemp(tmpdir) == NULL)
        return NULL;
    setenv("TG_DATA_DIR", tmpdir, 1);
    setenv("TG_PUBLIC_URL", "https://app.example.test", 1);
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
    return store_open(url, &err);
}

/* ---- states and cookies ---- */

static void test_return_to(void)
{
    static const char *const good[] = {"/", "/dashboard", "/a/b?c=d&e=%20", "/settings?tab=identities"};
    static const char *const bad[] = {NULL, "", "dashboard", "//evil.example", "/\\evil.example", "https://x/",
                                      "/a#b", "/a b", "/a\tb", "/a\\b", "/\x7f", "/\xe4\xb8\xad"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        CHECK(oauth_return_to_valid(good[i]), "return_to %s accepted", good[i]);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        CHECK(!oauth_return_to_valid(bad[i]), "return_to %zu refused", i);
    char longp[OAUTH_RETURN_MAX + 2];
    memset(longp, 'a', sizeof longp);
    longp[0] = '/';
    longp[OAUTH_RETURN_MAX] = '\0';
    CHECK(oauth_return_to_valid(longp), "return_to of the longest length");
    longp[OAUTH_RETURN_MAX] = 'a';
    longp[OAUTH_RETURN_MAX + 1] = '\0';
    CHECK(!oauth_return_to_valid(longp), "return_to one byte too long");
}

static void test_state(void)
{
    struct oauth_start st;
    struct oauth_flow_state fs;
    char cookie[OAUTH_COOKIE_MAX], name[OAUTH_COOKIE_NAME_MAX];
    int64_t now = 1700000000000;

    oauth_start_make(&st);
    CHECK(strlen(st.state) == 64 && strspn(st.state, "0123456789abcdef") == 64, "state is 64 hex characters");
    CHECK(strlen(st.verifier) == 43 && strlen(st.challenge) == 43 && strlen(st.nonce) == 43,
          "PKCE verifier, challenge and OIDC nonce are 43 characters");
    CHECK(oauth_cookie_make(&st, "google", "", "/back?x=1", "", now, cookie, sizeof cookie) == 0, "cookie made");
    CHECK(oauth_state_cookie_name(st.state, name) == 0 && strcmp(name, st.cookie_name) == 0,
          "the state names its cookie");
    CHECK(oauth_state_check("google", st.state, cookie, now + 1000, &fs) == OAUTH_STATE_OK, "state and cookie check");
    CHECK(strcmp(fs.return_to, "/back?x=1") == 0 && strcmp(fs.provider, "google") == 0 &&
              memcmp(fs.nonce, st.raw_nonce, 16) == 0 && strcmp(fs.verifier, st.verifier) == 0 &&
              strcmp(fs.oidc_nonce, st.nonce) == 0,
          "the check gives back what the start put in, and the same PKCE verifier and nonce");
    CHECK(oauth_state_check("wechat", st.state, cookie, now + 1000, &fs) == OAUTH_STATE_MISMATCH &&
              fs.return_to[0] == '\0',
          "another provider's callback: mismatch, nothing filled");
    CHECK(oauth_state_check("google", st.state, NULL, now, &fs) == OAUTH_STATE_NO_COOKIE, "no cookie");
    CHECK(oauth_state_check("google", st.state, cookie, now + OAUTH_STATE_TTL_MS, &fs) == OAUTH_STATE_EXPIRED,
          "expired after the TTL");

    /* Every single-character change of the state is refused. */
    int refused = 0;
    for (int i = 0; i < 64; i++) {
        char t[65];
        memcpy(t, st.state, 65);
        t[i] = t[i] == '0' ? '1' : '0';
        refused += oauth_state_check("google", t, cookie, now, &fs) != OAUTH_STATE_OK;
    }
    CHECK(refused == 64, "every one-character change of the state is refused (%d/64)", refused);
    /* ... and of the cookie. */
    refused = 0;
    size_t cl = strlen(cookie);
    for (size_t i = 0; i < cl; i++) {
        char t[OAUTH_COOKIE_MAX];
        memcpy(t, cookie, cl + 1);
        t[i] = t[i] == 'A' ? 'B' : 'A';
        refused += oauth_state_check("google", st.state, t, now, &fs) != OAUTH_STATE_OK;
    }
    CHECK(refused == (int)cl, "every one-character change of the cookie is refused (%d/%zu)", refused, cl);

    /* Another flow's genuine cookie does not fit this state. */
    struct oauth_start st2;
    char cookie2[OAUTH_COOKIE_MAX];
    oauth_start_make(&st2);
    oauth_cookie_make(&st2, "google", "", "/", "", now, cookie2, sizeof cookie2);
    CHECK(oauth_state_check("google", st.state, cookie2, now, &fs) == OAUTH_STATE_MISMATCH, "a cookie of another flow");
    CHECK(oauth_state_check("google", "zz", cookie, now, &fs) == OAUTH_STATE_MALFORMED &&
              oauth_state_cookie_name("zz", name) != 0,
          "malformed state");
    /* A state made with another secret (another server) is malformed here. */
    char foreign[65];
    memcpy(foreign, st.state, 65);
    foreign[40] = foreign[40] == 'f' ? 'e' : 'f';
    CHECK(oauth_state_cookie_name(foreign, name) != 0, "a state whose MAC does not hold names no cookie");
    char big[OAUTH_RETURN_MAX + 2];
    memset(big, 'a', sizeof big);
    big[0] = '/';
    big[OAUTH_RETURN_MAX] = '\0';
    CHECK(oauth_cookie_make(&st, "wechat", "mp", big, "usr_01HZX3K9Q4M2W8E5R7T6Y1U0PA", now, cookie, sizeof cookie) == 0 &&
              strlen(cookie) < OAUTH_COOKIE_MAX && oauth_state_check("wechat", st.state, cookie, now, &fs) == OAUTH_STATE_OK &&
              strcmp(fs.variant, "mp") == 0 && strcmp(fs.link_user_id, "usr_01HZX3K9Q4M2W8E5R7T6Y1U0PA") == 0,
          "the largest cookie fits a browser's limit and carries variant and link user");
}

/* ---- signing in with identities ---- */

static int p_configured(void) { return 1; }
static struct auth_provider p_trusting = {.name = "google", .trust_email = 1, .configured = p_configured};
static struct auth_provider p_vouching = {.name = "wechat", .vouches = 1, .configured = p_configured};
static struct auth_provider p_plain = {.name = "plain", .configured = p_configured};

struct out {
    int called;
    struct oauth_result res;
    char access[2048];
};

static void out_cb(void *arg, const struct oauth_result *res)
{
    struct out *o = arg;
    o->called++;
    o->res = *res;
    snprintf(o->access, sizeof o->access, "%s", res->tokens.access_token ? res->tokens.access_token : "");
    o->res.tokens.access_token = o->res.tokens.refresh_token = NULL;
}

static struct auth_identity ident(const char *provider, const char *subject, const char *email, int verified)
{
    struct auth_identity id;
    memset(&id, 0, sizeof id);
    snprintf(id.provider, sizeof id.provider, "%s", provider);
    snprintf(id.subject, sizeof id.subject, "%s", subject);
    snprintf(id.email, sizeof id.email, "%s", email);
    id.email_verified = verified;
    snprintf(id.display_name, sizeof id.display_name, "Person %s", subject);
    return id;
}

static struct out signin(const struct auth_provider *p, struct auth_identity id, const char *link, int session,
                         const unsigned char *nonce)
{
    struct out o = {0};
    struct oauth_policy pol = {8, 1};
    oauth_signin(&g_ex, p, &id, nonce, time_now_ms() + 60000, link, session, &pol, time_now_ms(), out_cb, &o);
    CHECK(o.called == 1, "callback ran once");
    return o;
}

static int64_t paid(const char *user_id)
{
    struct wallet w;
    return store_wallet_get(g_s, user_id, &w) == STORE_OK ? w.paid_credits : -1;
}

static struct user make_password_user(const char *email, int verified)
{
    struct user u;
    memset(&u, 0, sizeof u);
    id_new(u.id, "usr");
    snprintf(u.email, sizeof u.email, "%s", email);
    u.email_verified = verified;
    snprintf(u.role, sizeof u.role, "user");
    snprintf(u.password_hash, sizeof u.password_hash, "$argon2id$fake");
    u.created_at = u.updated_at = time_now_ms();
    CHECK(store_user_create(g_s, &u) == STORE_OK, "password user %s", email);
    return u;
}

static void test_linking(void)
{
    char sub[64];
    snprintf(sub, sizeof sub, "g-%lld", (long long)time_now_ms());

    /* A new identity with a verified, free address: a new verified account with credits. */
    struct out a = signin(&p_trusting, ident("google", sub, "new@example.test", 1), "", 0, NULL);
    CHECK(a.res.rc == OAUTH_OK && a.res.created && !a.res.linked && strcmp(a.res.user.email, "new@example.test") == 0 &&
              a.res.user.email_verified && strlen(a.res.login_code) == OAUTH_LOGIN_CODE_LEN,
          "new account from a verified identity, with a login code");
    CHECK(paid(a.res.user.id) == 8, "signup credits for a verified address");
    struct out again = signin(&p_trusting, ident("google", sub, "new@example.test", 1), "", 0, NULL);
    CHECK(again.res.rc == OAUTH_OK && !again.res.created && strcmp(again.res.user.id, a.res.user.id) == 0 &&
              paid(a.res.user.id) == 8,
          "the same identity signs the same account in; no second grant");

    /* Linking by address needs both sides verified. */
    struct user v = make_password_user("verified@example.test", 1);
    struct out l = signin(&p_trusting, ident("google", "g-v", "verified@example.test", 1), "", 0, NULL);
    CHECK(l.res.rc == OAUTH_OK && l.res.linked && !l.res.created && strcmp(l.res.user.id, v.id) == 0,
          "verified identity + verified account: linked");
    struct user uv = make_password_user("unverified@example.test", 0);
    struct out n1 = signin(&p_trusting, ident("google", "g-uv", "unverified@example.test", 1), "", 0, NULL);
    CHECK(n1.res.rc == OAUTH_OK && n1.res.created && strcmp(n1.res.user.id, uv.id) != 0 && n1.res.user.email[0] == '\0',
          "account did not verify the address: a new account without it");
    CHECK(paid(n1.res.user.id) == 0, "... and without credits (no verified address, provider does not vouch)");
    struct user v2 = make_password_user("verified2@example.test", 1);
    struct out n2 = signin(&p_trusting, ident("google", "g-v2", "verified2@example.test", 0), "", 0, NULL);
    CHECK(n2.res.rc == OAUTH_OK && n2.res.created && strcmp(n2.res.user.id, v2.id) != 0,
          "provider did not verify the address: a new account");
    struct user v3 = make_password_user("verified3@example.test", 1);
    struct out n3 = signin(&p_plain, ident("plain", "p-v3", "verified3@example.test", 1), "", 0, NULL);
    CHECK(n3.res.rc == OAUTH_OK && n3.res.created && strcmp(n3.res.user.id, v3.id) != 0,
          "a provider that may not link by address: a new account");

    /* A provider that vouches for the person: credits without an address. */
    struct out w = signin(&p_vouching, ident("wechat", "union-1", "", 0), "", 0, NULL);
    CHECK(w.res.rc == OAUTH_OK && w.res.created && w.res.user.email[0] == '\0' && paid(w.res.user.id) == 8,
          "a vouching provider's new account gets the credits without an email");

    /* Sessions directly (One Tap). */
    struct out s = signin(&p_trusting, ident("google", sub, "new@example.test", 1), "", 1, NULL);
    CHECK(s.res.rc == OAUTH_OK && s.access[0] != '\0' && s.res.login_code[0] == '\0', "session mode issues tokens");

    /* Linking explicitly. */
    struct out lk = signin(&p_plain, ident("plain", "p-link", "", 0), v.id, 0, NULL);
    CHECK(lk.res.rc == OAUTH_OK && lk.res.linked && strcmp(lk.res.user.id, v.id) == 0, "explicit link");
    struct out le = signin(&p_plain, ident("plain", "p-link", "", 0), uv.id, 0, NULL);
    CHECK(le.res.rc == OAUTH_LINKED_ELSEWHERE, "an identity linked elsewhere cannot be linked again");
    struct out lg = signin(&p_plain, ident("plain", "p-gone", "", 0), "usr_01HZX3K9Q4M2W8E5R7T6Y1U0PA", 0, NULL);
    CHECK(lg.res.rc == OAUTH_LINK_USER_GONE, "linking to a missing account");

    /* Disabled accounts. */
    CHECK(store_user_set_disabled(g_s, v.id, 1, time_now_ms()) == STORE_OK, "disable");
    struct out d = signin(&p_trusting, ident("google", "g-v", "verified@example.test", 1), "", 0, NULL);
    CHECK(d.res.rc == OAUTH_DISABLED, "a disabled account's identity does not sign in");
    store_user_set_disabled(g_s, v.id, 0, time_now_ms());

    /* A state works once. */
    unsigned char nonce[16];
    rand_bytes(nonce, sizeof nonce);
    struct out s1 = signin(&p_trusting, ident("google", sub, "new@example.test", 1), "", 0, nonce);
    struct out s2 = signin(&p_trusting, ident("google", sub, "new@example.test", 1), "", 0, nonce);
    CHECK(s1.res.rc == OAUTH_OK && s2.res.rc == OAUTH_STATE_USED, "a state's second use is refused");

    /* Login codes. */
    struct out ex = {0};
    oauth_exchange(&g_ex, a.res.login_code, strlen(a.res.login_code), time_now_ms(), out_cb, &ex);
    CHECK(ex.called == 1 && ex.res.rc == OAUTH_OK && strcmp(ex.res.user.id, a.res.user.id) == 0 && ex.access[0],
          "a login code gives a session for its account");
    struct out ex2 = {0};
    oauth_exchange(&g_ex, a.res.login_code, strlen(a.res.login_code), time_now_ms(), out_cb, &ex2);
    CHECK(ex2.res.rc == OAUTH_CODE_USED, "a used login code is a replay");
    struct out ex3 = {0};
    oauth_exchange(&g_ex, "nope", 4, time_now_ms(), out_cb, &ex3);
    CHECK(ex3.res.rc == OAUTH_CODE_INVALID, "an unknown login code");
    struct out ex4 = {0};
    oauth_exchange(&g_ex, again.res.login_code, strlen(again.res.login_code), time_now_ms() + OAUTH_LOGIN_CODE_TTL_MS,
                   out_cb, &ex4);
    CHECK(ex4.res.rc == OAUTH_CODE_INVALID, "a login code after 60 s");
}

struct unlink_out {
    int called;
    enum oauth_unlink_rc rc;
};

static void unlink_cb(void *arg, enum oauth_unlink_rc rc, const struct identity *removed)
{
    struct unlink_out *o = arg;
    o->called++;
    o->rc = rc;
    (void)removed;
}

static enum oauth_unlink_rc unlink_one(const char *user_id, const char *identity_id)
{
    struct unlink_out o = {0};
    oauth_unlink(&g_ex, user_id, identity_id, time_now_ms(), unlink_cb, &o);
    return o.called == 1 ? o.rc : (enum oauth_unlink_rc)-1;
}

static void test_unlink(void)
{
    /* An account with only a provider identity. */
    struct out w = signin(&p_vouching, ident("wechat", "union-unlink", "", 0), "", 0, NULL);
    struct identity *ids = NULL;
    size_t n = 0;
    CHECK(store_identity_list(g_s, w.res.user.id, &ids, &n) == STORE_OK && n == 1, "one identity");
    CHECK(unlink_one(w.res.user.id, ids[0].id) == OAUTH_UNLINK_LAST, "the last way in cannot be unlinked");
    struct out second = signin(&p_plain, ident("plain", "p-second", "", 0), w.res.user.id, 0, NULL);
    CHECK(second.res.rc == OAUTH_OK, "a second identity linked");
    CHECK(unlink_one(w.res.user.id, ids[0].id) == OAUTH_UNLINK_OK, "with two, one can go");
    CHECK(unlink_one(w.res.user.id, ids[0].id) == OAUTH_UNLINK_NOTFOUND, "gone");
    free(ids);
    /* A password account may drop its only identity. */
    struct user p = make_password_user("unlink-pw@example.test", 1);
    signin(&p_plain, ident("plain", "p-pw", "", 0), p.id, 0, NULL);
    CHECK(store_identity_list(g_s, p.id, &ids, &n) == STORE_OK && n == 1, "password account with one identity");
    CHECK(unlink_one(p.id, ids[0].id) == OAUTH_UNLINK_OK, "email + password remain: unlinked");
    free(ids);
    CHECK(unlink_one(p.id, "idn_01HZX3K9Q4M2W8E5R7T6Y1U0PA") == OAUTH_UNLINK_NOTFOUND, "someone else's or no identity");
}

int main(void)
{
    if (crypto_init() != 0) {
        printf("Bail out! crypto_init failed\n");
        return 1;
    }
    g_s = setup();
    if (g_s == NULL) {
        printf("Bail out! cannot set up config and store\n");
        return 1;
    }
    store_exec_init(&g_ex, g_s, NULL, NULL, NULL);
    test_return_to();
    test_state();
    test_linking();
    test_unlink();
    store_exec_dispose(&g_ex);
    store_close(g_s);
    config_free();
    nftw(tmpdir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    return test_done();
}
