/*
 * email.c - mail tokens, email verification and password reset (see email.h).
 */
#include "domain/email.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/mem.h"
#include "crypto/encode.h"
#include "crypto/hash.h"
#include "crypto/password.h"
#include "crypto/random.h"
#include "domain/audit.h"
#include "domain/session.h"
#include "domain/signin.h"
#include "store/call.h"
#include "store/store.h"

/* ---- tokens ---- */

void email_token_make(struct email_token *t)
{
    unsigned char raw[EMAIL_TOKEN_BYTES];
    rand_bytes(raw, sizeof raw);
    b64url_encode(raw, sizeof raw, t->text);
    sha256(t->text, EMAIL_TOKEN_LEN, t->hash);
    explicit_bzero(raw, sizeof raw);
}

int email_token_hash(const char *presented, size_t len, unsigned char hash[32])
{
    unsigned char raw[EMAIL_TOKEN_BYTES];
    /* The strict decoder accepts one spelling per value: a token is recognised only in the
     * exact form we sent. */
    if (presented == NULL || len != EMAIL_TOKEN_LEN ||
        b64url_decode(presented, len, raw, sizeof raw) != EMAIL_TOKEN_BYTES)
        return -1;
    explicit_bzero(raw, sizeof raw);
    sha256(presented, len, hash);
    return 0;
}

const char *email_rc_name(enum email_rc rc)
{
    switch (rc) {
    case EMAIL_OK:
        return "ok";
    case EMAIL_INVALID:
        return "invalid";
    case EMAIL_USED:
        return "used";
    case EMAIL_ALREADY_VERIFIED:
        return "already_verified";
    case EMAIL_NO_ADDRESS:
        return "no_address";
    case EMAIL_THROTTLED:
        return "throttled";
    case EMAIL_UNAVAILABLE:
        return "unavailable";
    case EMAIL_ERROR:
        break;
    }
    return "error";
}

/* ---- the shared call context ---- */

/*
 * run() decides an outcome and either commits (STORE_OK) or, when the outcome means that
 * nothing may change, rolls back by returning EMAIL_ROLLBACK's store code with `decided`
 * set; done() then reports the outcome rather than a store failure.
 */
#define EMAIL_ROLLBACK STORE_CONFLICT

struct email_call {
    struct store_call call;
    /* inputs */
    unsigned char hash[32];
    struct email_token fresh; /* resend, reset request: the token to store and mail */
    char user_id[TG_ID_MAX];
    char email[TG_EMAIL_MAX + 1];
    struct email_signup_rule rule;
    struct audit_origin from;
    int64_t ttl_ms;
    int64_t now_ms;
    /* outputs, rewritten by every run */
    int decided;
    enum email_rc outcome;
    int again;
    int mail; /* a token was stored: mail it */
    struct user user;
    email_fn cb;
    void *arg;
};

static void email_call_reset(struct email_call *a)
{
    a->decided = 0;
    a->outcome = EMAIL_ERROR;
    a->again = 0;
    a->mail = 0;
    memset(&a->user, 0, sizeof a->user);
}

/* Sets the outcome of a run; returns the store code that commits (OK) or rolls back. */
static enum store_rc email_decide(struct email_call *a, enum email_rc rc, int commit)
{
    a->decided = 1;
    a->outcome = rc;
    return commit ? STORE_OK : EMAIL_ROLLBACK;
}

static enum email_rc email_from_store(enum store_rc rc)
{
    return rc == STORE_BUSY || rc == STORE_UNAVAILABLE ? EMAIL_UNAVAILABLE : EMAIL_ERROR;
}

/* Calls back with the run's outcome, or the store failure, then frees a. */
static void email_finish(struct email_call *a, const char *op)
{
    struct email_result res;
    memset(&res, 0, sizeof res);
    if (a->decided && (a->call.rc == STORE_OK || a->call.rc == EMAIL_ROLLBACK)) {
        res.rc = a->outcome;
    } else {
        res.rc = email_from_store(a->call.rc);
        if (res.rc == EMAIL_ERROR)
            log_event(LOG_ERROR, "email_flow_failed", "op", op, "rc", store_rc_name(a->call.rc), NULL);
    }
    if (res.rc == EMAIL_OK || res.rc == EMAIL_ALREADY_VERIFIED)
        res.user = a->user;
    if (res.rc == EMAIL_OK && a->mail)
        res.token = a->fresh.text;
    res.again = a->again;
    a->cb(a->arg, &res);
    explicit_bzero(a, sizeof *a);
    free(a);
}

static struct email_call *email_call_new(int64_t now_ms, email_fn cb, void *arg)
{
    struct email_call *a = xcalloc(1, sizeof *a);
    a->now_ms = now_ms;
    a->cb = cb;
    a->arg = arg;
    return a;
}

/* Calls back at once (a token that cannot be ours never reaches the store). */
static void email_reply_now(enum email_rc rc, email_fn cb, void *arg)
{
    struct email_result res;
    memset(&res, 0, sizeof res);
    res.rc = rc;
    cb(arg, &res);
}

/* Writes an audit row about the account user_id in the current transaction. */
static enum store_rc email_audit_tx(struct store *s, const struct email_call *a, const char *actor,
                                    const char *action, const char *target_id, const char *details)
{
    struct audit_entry e;
    audit_entry_fill(&e, actor, action, target_id[0] ? "user" : "", target_id, a->from.ip, a->from.request_id,
                     details, a->now_ms);
    return store_audit_insert(s, &e);
}

/* ---- verify ---- */

static enum store_rc verify_run(struct store *s, struct store_call *c)
{
    struct email_call *a = (struct email_call *)c;
    char uid[TG_ID_MAX], sent_to[TG_EMAIL_MAX + 1];

    email_call_reset(a);
    enum store_rc rc = store_email_token_consume(s, a->hash, EMAIL_TOKEN_VERIFY, a->now_ms, uid, sent_to);
    if (rc == STORE_NOTFOUND)
        return email_decide(a, EMAIL_INVALID, 1);
    if (rc == STORE_CONFLICT) {
        /* Used before. A second click on the link by the account it verified is not an
         * error; anything else is (a used token proves nothing any more). */
        rc = store_user_get(s, uid, &a->user);
        if (rc == STORE_NOTFOUND)
            return email_decide(a, EMAIL_INVALID, 1);
        if (rc != STORE_OK)
            return rc;
        if (!a->user.disabled && a->user.email_verified && strcmp(a->user.email, sent_to) == 0) {
            a->again = 1;
            return email_decide(a, EMAIL_OK, 1);
        }
        return email_decide(a, EMAIL_USED, 1);
    }
    if (rc != STORE_OK)
        return rc;
    rc = store_user_get(s, uid, &a->user);
    if (rc == STORE_NOTFOUND || (rc == STORE_OK && a->user.disabled))
        return email_decide(a, EMAIL_INVALID, 0);
    if (rc != STORE_OK)
        return rc;
    /* Only the address the token was sent to, and only while the account still has it. */
    rc = store_user_set_email_verified(s, uid, sent_to, a->now_ms);
    if (rc == STORE_CONFLICT)
        return email_decide(a, EMAIL_INVALID, 0);
    if (rc == STORE_OK)
        rc = signin_signup_grant_tx(s, uid, 1, a->rule.credits, a->rule.require_verified, a->now_ms);
    if (rc == STORE_OK)
        rc = email_audit_tx(s, a, uid, "auth.email_verified", uid, NULL);
    if (rc == STORE_OK)
        rc = store_user_get(s, uid, &a->user);
    if (rc != STORE_OK)
        return rc;
    return email_decide(a, EMAIL_OK, 1);
}

static void verify_done(struct store_call *c)
{
    email_finish((struct email_call *)c, "verify");
}

void email_verify(struct store_exec *ex, const char *presented, size_t len,
                  const struct email_signup_rule *rule, const char *ip, const char *request_id,
                  int64_t now_ms, email_fn cb, void *arg)
{
    unsigned char hash[32];
    if (email_token_hash(presented, len, hash) != 0) {
        email_reply_now(EMAIL_INVALID, cb, arg);
        return;
    }
    struct email_call *a = email_call_new(now_ms, cb, arg);
    memcpy(a->hash, hash, sizeof hash);
    a->rule = *rule;
    audit_origin_set(&a->from, ip, request_id);
    store_exec_call(ex, &a->call, STORE_CALL_WRITE, verify_run, verify_done);
}

/* ---- resend ---- */

static enum store_rc resend_run(struct store *s, struct store_call *c)
{
    struct email_call *a = (struct email_call *)c;
    int64_t sent = 0;

    email_call_reset(a);
    enum store_rc rc = store_user_get(s, a->user_id, &a->user);
    if (rc != STORE_OK)
        return rc; /* the signed-in account vanished: NOTFOUND, an error */
    if (a->user.email[0] == '\0')
        return email_decide(a, EMAIL_NO_ADDRESS, 1);
    if (a->user.email_verified)
        return email_decide(a, EMAIL_ALREADY_VERIFIED, 1);
    rc = store_email_token_count_since(s, a->user.id, EMAIL_TOKEN_VERIFY, a->now_ms - EMAIL_RESEND_WINDOW_MS,
                                       &sent);
    if (rc != STORE_OK)
        return rc;
    if (sent >= EMAIL_RESEND_MAX)
        return email_decide(a, EMAIL_THROTTLED, 1);
    rc = store_email_token_insert(s, a->fresh.hash, a->user.id, EMAIL_TOKEN_VERIFY, a->user.email, a->now_ms,
                                  a->now_ms + a->ttl_ms);
    if (rc != STORE_OK)
        return rc;
    a->mail = 1;
    return email_decide(a, EMAIL_OK, 1);
}

static void resend_done(struct store_call *c)
{
    email_finish((struct email_call *)c, "resend");
}

void email_resend(struct store_exec *ex, const char *user_id, int64_t ttl_ms, int64_t now_ms, email_fn cb,
                  void *arg)
{
    struct email_call *a = email_call_new(now_ms, cb, arg);
    snprintf(a->user_id, sizeof a->user_id, "%s", user_id);
    a->ttl_ms = ttl_ms;
    email_token_make(&a->fresh);
    store_exec_call(ex, &a->call, STORE_CALL_WRITE, resend_run, resend_done);
}

/* ---- reset request ---- */

static enum store_rc reset_request_run(struct store *s, struct store_call *c)
{
    struct email_call *a = (struct email_call *)c;

    email_call_reset(a);
    enum store_rc rc = store_user_get_by_email(s, a->email, &a->user);
    if (rc == STORE_NOTFOUND) {
        /* Written all the same: this request must cost what a real one costs. */
        rc = email_audit_tx(s, a, "", "auth.password_reset_requested", "", "{\"account\":\"none\"}");
        memset(&a->user, 0, sizeof a->user);
        return rc == STORE_OK ? email_decide(a, EMAIL_OK, 1) : rc;
    }
    if (rc != STORE_OK)
        return rc;
    if (a->user.disabled) {
        rc = email_audit_tx(s, a, "", "auth.password_reset_requested", a->user.id,
                            "{\"account\":\"disabled\"}");
        return rc == STORE_OK ? email_decide(a, EMAIL_OK, 1) : rc;
    }
    rc = store_email_token_insert(s, a->fresh.hash, a->user.id, EMAIL_TOKEN_RESET, a->user.email, a->now_ms,
                                  a->now_ms + a->ttl_ms);
    if (rc == STORE_OK)
        rc = email_audit_tx(s, a, "", "auth.password_reset_requested", a->user.id, NULL);
    if (rc != STORE_OK)
        return rc;
    a->mail = 1;
    return email_decide(a, EMAIL_OK, 1);
}

static void reset_request_done(struct store_call *c)
{
    email_finish((struct email_call *)c, "reset_request");
}

void email_reset_request(struct store_exec *ex, const char *email, int64_t ttl_ms, const char *ip,
                         const char *request_id, int64_t now_ms, email_fn cb, void *arg)
{
    struct email_call *a = email_call_new(now_ms, cb, arg);
    snprintf(a->email, sizeof a->email, "%s", email);
    a->ttl_ms = ttl_ms;
    audit_origin_set(&a->from, ip, request_id);
    /* Made whether or not it will be used, so both paths do the same work. */
    email_token_make(&a->fresh);
    store_exec_call(ex, &a->call, STORE_CALL_WRITE, reset_request_run, reset_request_done);
}

/* ---- reset confirm ---- */

struct email_reset {
    struct email_call a; /* first: the store call */
    int token_ok;        /* the presented token has our form */
    char *pw;            /* wiped and freed by email_reset_work */
    size_t pw_len;
    int hash_ok;
    char hash[PASSWORD_HASH_MAX];
};

struct email_reset *email_reset_new(const char *presented, size_t len, const char *pw, size_t pw_len,
                                    const char *ip, const char *request_id)
{
    struct email_reset *ctx = xcalloc(1, sizeof *ctx);
    ctx->token_ok = email_token_hash(presented, len, ctx->a.hash) == 0;
    ctx->pw = xmalloc(pw_len + 1);
    memcpy(ctx->pw, pw, pw_len);
    ctx->pw[pw_len] = '\0';
    ctx->pw_len = pw_len;
    audit_origin_set(&ctx->a.from, ip, request_id);
    return ctx;
}

void email_reset_work(void *arg)
{
    struct email_reset *ctx = arg;
    /* Hashed even for a token that cannot be ours: the answer then takes as long as for a
     * real one. */
    ctx->hash_ok = password_hash(ctx->pw, ctx->pw_len, ctx->hash) == 0;
    explicit_bzero(ctx->pw, ctx->pw_len);
    free(ctx->pw);
    ctx->pw = NULL;
    ctx->pw_len = 0;
}

void email_reset_free(struct email_reset *ctx)
{
    if (ctx == NULL)
        return;
    if (ctx->pw != NULL) {
        explicit_bzero(ctx->pw, ctx->pw_len);
        free(ctx->pw);
    }
    explicit_bzero(ctx, sizeof *ctx);
    free(ctx);
}

static enum store_rc reset_confirm_run(struct store *s, struct store_call *c)
{
    struct email_reset *ctx = (struct email_reset *)c;
    struct email_call *a = &ctx->a;
    char uid[TG_ID_MAX], sent_to[TG_EMAIL_MAX + 1];

    email_call_reset(a);
    enum store_rc rc = store_email_token_consume(s, a->hash, EMAIL_TOKEN_RESET, a->now_ms, uid, sent_to);
    if (rc == STORE_NOTFOUND)
        return email_decide(a, EMAIL_INVALID, 1);
    if (rc == STORE_CONFLICT)
        return email_decide(a, EMAIL_USED, 1);
    if (rc != STORE_OK)
        return rc;
    rc = store_user_get(s, uid, &a->user);
    /* The link was sent to an address: it resets the account only while that is still the
     * account's address, and never a disabled account. Rolled back, so nothing changes. */
    if (rc == STORE_NOTFOUND || (rc == STORE_OK && (a->user.disabled || strcmp(a->user.email, sent_to) != 0)))
        return email_decide(a, EMAIL_INVALID, 0);
    if (rc == STORE_OK)
        rc = store_user_set_password(s, uid, NULL, ctx->hash, a->now_ms);
    if (rc == STORE_OK)
        rc = store_refresh_revoke_user(s, uid, a->now_ms);
    if (rc == STORE_OK)
        rc = store_user_bump_epoch(s, uid, a->now_ms, NULL);
    if (rc == STORE_OK)
        rc = store_email_token_revoke(s, uid, EMAIL_TOKEN_RESET, a->now_ms);
    if (rc == STORE_OK)
        rc = store_user_set_email_verified(s, uid, sent_to, a->now_ms);
    if (rc == STORE_OK)
        rc = signin_signup_grant_tx(s, uid, 1, a->rule.credits, a->rule.require_verified, a->now_ms);
    if (rc == STORE_OK)
        rc = email_audit_tx(s, a, uid, "auth.password_reset", uid, NULL);
    if (rc == STORE_OK)
        rc = store_user_get(s, uid, &a->user);
    if (rc != STORE_OK)
        return rc;
    return email_decide(a, EMAIL_OK, 1);
}

static void reset_confirm_done(struct store_call *c)
{
    struct email_reset *ctx = (struct email_reset *)c;
    struct email_call *a = &ctx->a;
    struct email_result res;

    memset(&res, 0, sizeof res);
    if (a->decided && (c->rc == STORE_OK || c->rc == EMAIL_ROLLBACK)) {
        res.rc = a->outcome;
    } else {
        res.rc = email_from_store(c->rc);
        if (res.rc == EMAIL_ERROR)
            log_event(LOG_ERROR, "email_flow_failed", "op", "reset_confirm", "rc", store_rc_name(c->rc),
                      NULL);
    }
    if (res.rc == EMAIL_OK) {
        res.user = a->user;
        /* Every thread's cached account state must see the new epoch before we answer. */
        session_user_changed(a->user.id);
    }
    a->cb(a->arg, &res);
    email_reset_free(ctx);
}

void email_reset_finish(struct store_exec *ex, struct email_reset *ctx, const struct email_signup_rule *rule,
                        int64_t now_ms, email_fn cb, void *arg)
{
    struct email_call *a = &ctx->a;
    a->cb = cb;
    a->arg = arg;
    a->now_ms = now_ms;
    a->rule = *rule;
    if (!ctx->token_ok || !ctx->hash_ok) {
        enum email_rc rc = ctx->token_ok ? EMAIL_ERROR : EMAIL_INVALID;
        if (rc == EMAIL_ERROR)
            log_event(LOG_ERROR, "password_hash_failed", NULL);
        email_reset_free(ctx);
        email_reply_now(rc, cb, arg);
        return;
    }
    store_exec_call(ex, &a->call, STORE_CALL_WRITE, reset_confirm_run, reset_confirm_done);
}
