/*
 * Unit tests for src/domain/email.c (mail tokens, verification, password reset) and the
 * signup-credit rule of src/domain/signin.c, against a temporary SQLite store. Time is an
 * argument of every flow, so expiry is tested here with exact instants (the end-to-end
 * tests cannot move the server's clock).
 */
#include "../test.h"

#include <ftw.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/config.h"
#include "core/ids.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "crypto/encode.h"
#include "crypto/hash.h"
#include "crypto/password.h"
#include "crypto/random.h"
#include "domain/email.h"
#include "domain/signin.h"
#include "store/call.h"
#include "store/store.h"

static char tmpdir[] = "/tmp/tg_test_email_XXXXXX";
static struct store_exec g_ex;
static struct store *g_s;

#define HOUR INT64_C(3600000)
#define DAY (24 * HOUR)

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

/* ---- helpers: run a flow on the synchronous executor and keep what it called back with ---- */

struct out {
    int called;
    enum email_rc rc;
    struct user user;
    char token[EMAIL_TOKEN_LEN + 1];
    int again;
};

static void out_cb(void *arg, const struct email_result *res)
{
    struct out *o = arg;
    o->called++;
    o->rc = res->rc;
    o->user = res->user;
    o->again = res->again;
    snprintf(o->token, sizeof o->token, "%s", res->token ? res->token : "");
}

static const struct email_signup_rule RULE_VERIFIED = {8, 1};
static const struct email_signup_rule RULE_OPEN = {8, 0};

static struct out verify(const char *tok, int64_t now)
{
    struct out o = {0};
    email_verify(&g_ex, tok, strlen(tok), &RULE_VERIFIED, "192.0.2.1", "req_test", now, out_cb, &o);
    if (o.called != 1)
        printf("# verify called back %d times\n", o.called);
    return o;
}

static struct out resend(const char *uid, int64_t now)
{
    struct out o = {0};
    email_resend(&g_ex, uid, DAY, now, out_cb, &o);
    return o;
}

static struct out reset_request(const char *email, int64_t now)
{
    struct out o = {0};
    email_reset_request(&g_ex, email, HOUR, "192.0.2.1", "req_test", now, out_cb, &o);
    return o;
}

static struct out reset_confirm(const char *tok, const char *pw, int64_t now)
{
    struct out o = {0};
    struct email_reset *ctx = email_reset_new(tok, strlen(tok), pw, strlen(pw), "192.0.2.1", "req_test");
    email_reset_work(ctx);
    email_reset_finish(&g_ex, ctx, &RULE_VERIFIED, now, out_cb, &o);
    if (o.called != 1)
        printf("# reset confirm called back %d times\n", o.called);
    return o;
}

struct reg_out {
    int called;
    enum signin_rc rc;
    struct user user;
    char token[EMAIL_TOKEN_LEN + 1];
    char refresh[64];
};

static void reg_cb(void *arg, struct signin *ctx, const struct signin_result *res)
{
    struct reg_out *o = arg;
    (void)ctx;
    o->called++;
    o->rc = res->rc;
    o->user = res->user;
    snprintf(o->token, sizeof o->token, "%s", res->mail_token ? res->mail_token : "");
    snprintf(o->refresh, sizeof o->refresh, "%s", res->tokens.refresh_token ? res->tokens.refresh_token : "");
}

/* Registers through signin.c exactly as the API does. */
static struct reg_out do_register(const char *email, const char *locale, const struct email_signup_rule *rule,
                                  int64_t now)
{
    struct reg_out o = {0};
    struct signin *ctx = signin_register_new(email, "", locale, "CN", "correct horse battery", 21);
    signin_work(ctx);
    signin_register_finish(&g_ex, ctx, rule, DAY, now, reg_cb, &o);
    signin_free(ctx);
    return o;
}

static int64_t paid(const char *uid)
{
    struct wallet w;
    return store_wallet_get(g_s, uid, &w) == STORE_OK ? w.paid_credits : -1;
}

static size_t grants(const char *uid)
{
    struct ledger_entry e[2];
    size_t n = 0;
    return store_ledger_get_by_ref(g_s, LK_SIGNUP_GRANT, "user", uid, e, &n) == STORE_OK ? n : 0;
}

static struct user get_user(const char *uid)
{
    struct user u;
    store_user_get(g_s, uid, &u);
    return u;
}

static int uniq;
static const char *addr(char buf[64], const char *tag)
{
    snprintf(buf, 64, "%s.%d.%lld@example.test", tag, ++uniq, (long long)(time_mono_ns() % 1000000));
    return buf;
}

/* ---- tests ---- */

static void test_tokens(void)
{
    struct email_token a, b;
    unsigned char h[32], want[32];
    email_token_make(&a);
    email_token_make(&b);
    CHECK(strlen(a.text) == EMAIL_TOKEN_LEN && strcmp(a.text, b.text) != 0, "43 characters, fresh each time");
    int charset = 1;
    for (size_t i = 0; i < EMAIL_TOKEN_LEN; i++) {
        char c = a.text[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
              c == '_'))
            charset = 0;
    }
    CHECK(charset, "base64url alphabet only (safe in a URL fragment)");
    sha256(a.text, EMAIL_TOKEN_LEN, want);
    CHECK(memcmp(a.hash, want, 32) == 0, "the stored form is SHA-256 of the text");
    CHECK(email_token_hash(a.text, EMAIL_TOKEN_LEN, h) == 0 && memcmp(h, a.hash, 32) == 0,
          "a presented token hashes to the stored form");

    char t[64];
    snprintf(t, sizeof t, "%s", a.text);
    CHECK(email_token_hash(t, EMAIL_TOKEN_LEN - 1, h) == -1, "one character short: not ours");
    snprintf(t, sizeof t, "%sA", a.text);
    CHECK(email_token_hash(t, EMAIL_TOKEN_LEN + 1, h) == -1, "one character long: not ours");
    snprintf(t, sizeof t, "%s", a.text);
    t[5] = '+';
    CHECK(email_token_hash(t, EMAIL_TOKEN_LEN, h) == -1, "standard base64's '+': not ours");
    snprintf(t, sizeof t, "%s", a.text);
    t[5] = '=';
    CHECK(email_token_hash(t, EMAIL_TOKEN_LEN, h) == -1, "padding: not ours");
    /* 32 bytes leave 2 spare bits in the last character: only the canonical one is ours. */
    snprintf(t, sizeof t, "%s", a.text);
    int v = (int)(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", t[42]) -
                  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");
    t[42] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[v ^ 1];
    CHECK(email_token_hash(t, EMAIL_TOKEN_LEN, h) == -1, "a non-canonical last character: not ours");
    CHECK(email_token_hash(NULL, 0, h) == -1, "NULL: not ours");
}

struct grant_call {
    struct store_call call;
    const char *uid;
    int verified, require;
    int64_t credits;
};

static enum store_rc grant_run(struct store *s, struct store_call *c)
{
    struct grant_call *g = (struct grant_call *)c;
    return signin_signup_grant_tx(s, g->uid, g->verified, g->credits, g->require, time_now_ms());
}

static enum store_rc grant(const char *uid, int verified, int64_t credits, int require)
{
    struct grant_call g = {{0}, uid, verified, require, credits};
    g.call.kind = STORE_CALL_WRITE;
    g.call.run = grant_run;
    return store_call_run_sync(g_s, &g.call);
}

/* The rule: granted when require_verified is off, or the address is verified; once. */
static void test_grant_rule(void)
{
    static const struct {
        int require, verified;
        int64_t credits, want;
    } rows[] = {
        {1, 0, 8, 0},               /* the default: an unverified address waits */
        {1, 1, 8, 8},               /* verified: granted */
        {0, 0, 8, 8},               /* the rule off: granted at once */
        {0, 1, 8, 8}, {1, 1, 0, 0}, /* TG_SIGNUP_CREDITS=0: nothing to grant, nothing written */
        {0, 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char a[64];
        struct user u = {0};
        id_new(u.id, "usr");
        snprintf(u.email, sizeof u.email, "%s", addr(a, "grant"));
        snprintf(u.role, sizeof u.role, "user");
        u.created_at = u.updated_at = time_now_ms();
        store_user_create(g_s, &u);
        enum store_rc rc = grant(u.id, rows[i].verified, rows[i].credits, rows[i].require);
        CHECK(rc == STORE_OK && paid(u.id) == rows[i].want && grants(u.id) == (rows[i].want ? 1u : 0u),
              "require_verified=%d verified=%d credits=%lld -> %lld credits", rows[i].require,
              rows[i].verified, (long long)rows[i].credits, (long long)rows[i].want);
        rc = grant(u.id, 1, rows[i].credits, 0);
        CHECK(rc == STORE_OK && paid(u.id) == rows[i].credits && grants(u.id) == (rows[i].credits ? 1u : 0u),
              "a second call grants at most once in all (row %zu)", i);
        rc = grant(u.id, 1, rows[i].credits, 0);
        CHECK(rc == STORE_OK && paid(u.id) == rows[i].credits, "and a third changes nothing (row %zu)", i);
    }
}

static void test_register_and_verify(void)
{
    char a[64];
    int64_t now = time_now_ms();

    struct reg_out r = do_register(addr(a, "reg"), "zh-CN", &RULE_VERIFIED, now);
    CHECK(r.called == 1 && r.rc == SIGNIN_OK && strlen(r.token) == EMAIL_TOKEN_LEN,
          "register answers with a verification token to mail");
    CHECK(strcmp(r.user.locale, "zh-CN") == 0 && r.user.email_verified == 0,
          "locale stored, address unverified");
    CHECK(paid(r.user.id) == 0 && grants(r.user.id) == 0, "no signup credits before verification");

    struct out o = verify("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", now);
    CHECK(o.rc == EMAIL_INVALID, "a made-up token of the right form: invalid");
    o = verify("not-a-token", now);
    CHECK(o.rc == EMAIL_INVALID && o.called == 1, "garbage: invalid, without the store");
    o = verify(r.token, now + DAY);
    CHECK(o.rc == EMAIL_INVALID, "at its expiry instant the token is dead (expires_at is exclusive)");
    CHECK(paid(r.user.id) == 0, "an expired token changed nothing");

    o = verify(r.token, now + DAY - 1);
    CHECK(o.rc == EMAIL_OK && o.again == 0 && o.user.email_verified == 1 && strcmp(o.user.id, r.user.id) == 0,
          "one millisecond before expiry it verifies the address");
    CHECK(paid(r.user.id) == 8 && grants(r.user.id) == 1, "and the signup credits are granted");
    CHECK(get_user(r.user.id).email_verified == 1, "stored verified");

    o = verify(r.token, now + DAY - 1);
    CHECK(o.rc == EMAIL_OK && o.again == 1 && o.user.email_verified == 1,
          "the same link again: 200, nothing new");
    CHECK(paid(r.user.id) == 8 && grants(r.user.id) == 1, "no second grant");

    /* The rule off: credits at registration, and verifying later adds nothing. */
    struct reg_out r2 = do_register(addr(a, "open"), "en-US", &RULE_OPEN, now);
    CHECK(r2.rc == SIGNIN_OK && paid(r2.user.id) == 8 && grants(r2.user.id) == 1,
          "TG_SIGNUP_CREDITS_REQUIRE_VERIFIED off: credits at registration");
    o = verify(r2.token, now);
    CHECK(o.rc == EMAIL_OK && paid(r2.user.id) == 8 && grants(r2.user.id) == 1,
          "verifying then grants nothing more");

    /* A token proves the address it was sent to, and no other. */
    struct reg_out r3 = do_register(addr(a, "moved"), "en-US", &RULE_VERIFIED, now);
    char other[64];
    CHECK(store_user_set_email(g_s, r3.user.id, addr(other, "moved-to"), 0, now) == STORE_OK,
          "the address changes");
    o = verify(r3.token, now);
    CHECK(o.rc == EMAIL_INVALID && get_user(r3.user.id).email_verified == 0 && paid(r3.user.id) == 0,
          "a token sent to the old address does not verify the new one");

    /* A disabled account cannot verify. */
    struct reg_out r4 = do_register(addr(a, "off"), "en-US", &RULE_VERIFIED, now);
    store_user_set_disabled(g_s, r4.user.id, 1, now);
    o = verify(r4.token, now);
    CHECK(o.rc == EMAIL_INVALID && paid(r4.user.id) == 0, "a disabled account: invalid, nothing granted");
    store_user_set_disabled(g_s, r4.user.id, 0, now);
    o = verify(r4.token, now);
    CHECK(o.rc == EMAIL_OK && paid(r4.user.id) == 8,
          "the refusal rolled back: enabled again, the link works");

    /* A used token of an account that is not verified with it (it moved since) says "used". */
    store_user_set_email(g_s, r4.user.id, addr(other, "off-moved"), 0, now);
    o = verify(r4.token, now);
    CHECK(o.rc == EMAIL_USED, "a used token whose account is no longer verified with it: used");

    /* Purposes do not mix. */
    struct reg_out r5 = do_register(addr(a, "mix"), "en-US", &RULE_VERIFIED, now);
    o = reset_confirm(r5.token, "a brand new password", now);
    CHECK(o.rc == EMAIL_INVALID, "a verification token cannot reset a password");
}

static void test_resend(void)
{
    char a[64];
    int64_t now = time_now_ms();
    struct reg_out r = do_register(addr(a, "resend"), "en-US", &RULE_VERIFIED, now);

    struct out o1 = resend(r.user.id, now + 1000);
    struct out o2 = resend(r.user.id, now + 2000);
    CHECK(o1.rc == EMAIL_OK && o2.rc == EMAIL_OK && strlen(o1.token) == EMAIL_TOKEN_LEN &&
              strcmp(o1.token, o2.token) != 0 && strcmp(o1.user.email, r.user.email) == 0,
          "two resends within the hour: new tokens for the account's address");
    struct out o3 = resend(r.user.id, now + 3000);
    CHECK(o3.rc == EMAIL_THROTTLED && o3.token[0] == '\0',
          "a third within the hour (registration's mail counts): throttled, no token");
    struct out o4 = resend(r.user.id, now + HOUR + 1000);
    CHECK(o4.rc == EMAIL_OK, "once the registration's mail is an hour old, one more is allowed");
    CHECK(verify(o1.token, now + 5000).rc == EMAIL_OK && paid(r.user.id) == 8,
          "an earlier resent token still works");
    CHECK(verify(r.token, now + 5000).rc == EMAIL_OK, "as does the first (unused) one: nothing more granted");
    CHECK(paid(r.user.id) == 8, "still 8");
    struct out o5 = resend(r.user.id, now + 6000);
    CHECK(o5.rc == EMAIL_ALREADY_VERIFIED && o5.token[0] == '\0', "verified: nothing to resend");

    struct reg_out n = do_register(addr(a, "noaddr"), "en-US", &RULE_VERIFIED, now);
    store_user_set_email(g_s, n.user.id, NULL, 0, now);
    CHECK(resend(n.user.id, now).rc == EMAIL_NO_ADDRESS, "an account without an address: nothing to verify");
}

static void test_reset(void)
{
    char a[64];
    int64_t now = time_now_ms();
    struct reg_out r = do_register(addr(a, "reset"), "zh-CN", &RULE_VERIFIED, now);

    struct out u = reset_request("nobody.at.all@example.test", now);
    CHECK(u.rc == EMAIL_OK && u.token[0] == '\0', "an unknown address: OK, and no token");
    struct audit_entry *rows = NULL;
    size_t n = 0;
    CHECK(store_audit_list(g_s, NULL, 1, &rows, &n) == STORE_OK && n == 1 &&
              strcmp(rows[0].action, "auth.password_reset_requested") == 0 && rows[0].target_id[0] == '\0' &&
              strstr(rows[0].details_json, "none") != NULL,
          "which still wrote (an audit row without a target)");
    store_audit_free(rows, n);

    struct out k1 = reset_request(r.user.email, now);
    struct out k2 = reset_request(r.user.email, now + 1);
    CHECK(k1.rc == EMAIL_OK && strlen(k1.token) == EMAIL_TOKEN_LEN && strcmp(k1.user.locale, "zh-CN") == 0 &&
              strlen(k2.token) == EMAIL_TOKEN_LEN,
          "a known address: a token to mail, with the account's locale");

    /* A refresh token from before the reset. */
    struct user before = get_user(r.user.id);

    struct out bad =
        reset_confirm("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "a brand new password", now);
    CHECK(bad.rc == EMAIL_INVALID, "a made-up token: invalid");
    struct out late = reset_confirm(k1.token, "a brand new password", now + HOUR);
    CHECK(late.rc == EMAIL_INVALID, "at its expiry: invalid");
    CHECK(strcmp(get_user(r.user.id).password_hash, before.password_hash) == 0,
          "and the password is unchanged");

    struct out ok = reset_confirm(k1.token, "a brand new password", now + HOUR - 1);
    struct user after = get_user(r.user.id);
    CHECK(ok.rc == EMAIL_OK && strcmp(ok.user.id, r.user.id) == 0, "the reset succeeds just before expiry");
    CHECK(password_verify(after.password_hash, "a brand new password", 20) == 1 &&
              password_verify(after.password_hash, "correct horse battery", 21) == 0,
          "the new password is set, the old one is gone");
    CHECK(after.auth_epoch == before.auth_epoch + 1, "the auth epoch moved (access tokens end)");
    CHECK(after.email_verified == 1 && paid(r.user.id) == 8 && grants(r.user.id) == 1,
          "the address counts as verified and the signup credits are granted");

    unsigned char h[32];
    enum refresh_outcome outcome;
    char uid[TG_ID_MAX];
    struct refresh_token next = {0};
    id_new(next.id, "rtk");
    sha256(r.refresh, strlen(r.refresh), h);
    next.created_at = now;
    next.expires_at = now + DAY;
    CHECK(store_refresh_rotate(g_s, h, &next, now + 2, &outcome, uid) == STORE_OK &&
              outcome == REFRESH_EXPIRED,
          "the registration's refresh token is revoked");

    CHECK(reset_confirm(k1.token, "another new password", now + 3).rc == EMAIL_USED,
          "the token cannot be used twice");
    CHECK(reset_confirm(k2.token, "another new password", now + 3).rc == EMAIL_USED,
          "the other outstanding reset token was revoked with it");

    /* A reset link works only while the account has the address it was sent to. */
    struct out k3 = reset_request(r.user.email, now + 10);
    char other[64];
    store_user_set_email(g_s, r.user.id, addr(other, "reset-moved"), 0, now + 11);
    CHECK(reset_confirm(k3.token, "yet another password", now + 12).rc == EMAIL_INVALID,
          "sent to an address the account no longer has: invalid");
    store_user_set_email(g_s, r.user.id, r.user.email, 1, now + 13);
    CHECK(reset_confirm(k3.token, "yet another password", now + 14).rc == EMAIL_OK,
          "that refusal rolled back: with the address back, the link works");

    /* Disabled accounts get no reset mail. */
    struct reg_out d = do_register(addr(a, "reset-off"), "en-US", &RULE_VERIFIED, now);
    store_user_set_disabled(g_s, d.user.id, 1, now);
    struct out dr = reset_request(d.user.email, now);
    CHECK(dr.rc == EMAIL_OK && dr.token[0] == '\0', "a disabled account: the same OK, no token");
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
    test_tokens();
    test_grant_rule();
    test_register_and_verify();
    test_resend();
    test_reset();
    store_exec_dispose(&g_ex);
    store_close(g_s);
    config_free();
    nftw(tmpdir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    return test_done();
}
