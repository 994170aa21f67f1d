/*
 * signin.h - the email + password flows (DESIGN section 5): register, login, password
 * change. The rules live here; api/auth.c and api/me.c only parse, schedule the slow steps
 * and reply.
 *
 * Each flow is a context that moves through steps: a lookup (store read), the argon2id
 * work (*_work: blocking, ~100 ms, to run on the password share of the blocking pool, never
 * on a loop), and a finishing transaction (store write) that issues the session only if
 * what was checked is still true. The caller runs the steps in order and owns the context
 * (free it with signin_free). Passwords are copied in and wiped as soon as the work step is
 * done with them.
 */
#ifndef TG_DOMAIN_SIGNIN_H
#define TG_DOMAIN_SIGNIN_H

#include <stddef.h>
#include <stdint.h>

#include "core/types.h"
#include "domain/email.h"
#include "domain/session.h"
#include "store/store.h"

struct store;
struct store_exec;

enum signin_rc {
    SIGNIN_OK = 0,
    SIGNIN_EMAIL_TAKEN,     /* register: the address has an account */
    SIGNIN_BAD_CREDENTIALS, /* login / password change: wrong password, unknown or disabled
                             * account, or the password changed while we were checking */
    SIGNIN_UNAVAILABLE,     /* the store is busy or cannot write: retry (503) */
    SIGNIN_ERROR,           /* logged; 500 */
};

struct signin;

/* What a flow ended with; valid during the callback. */
struct signin_result {
    enum signin_rc rc;
    struct user user;             /* SIGNIN_OK: the account */
    struct session_tokens tokens; /* SIGNIN_OK: the new session (freed after the callback) */
    const char *fail_reason;      /* BAD_CREDENTIALS: "unknown_email", "no_password",
                                   * "bad_password", "disabled", "changed" (for the audit) */
    const char *mail_token;       /* register, SIGNIN_OK: the verification token to mail to
                                   * the new address (domain/email.h), NULL otherwise */
};
typedef void (*signin_fn)(void *arg, struct signin *ctx, const struct signin_result *res);

/* Frees a context (wiping its secrets). NULL is fine. */
void signin_free(struct signin *ctx);
/* The blocking step of every flow: argon2id hashing / verification. */
void signin_work(void *ctx);

/*
 * Register: ctx = signin_register_new(email (normalized), display_name (normalized, may be
 * ""), locale ("zh-CN"/"en-US"), signup_region (the request's region, "CN"/"GLOBAL"; NULL or
 * "" when unknown), password, len); signin_work(ctx) off the loop; then
 * signin_register_finish(ex, ctx, rule, verify_ttl_ms, now, cb, arg): one transaction
 * creates the account, its wallet, a verification token for its address (valid
 * verify_ttl_ms; res->mail_token, for the caller to mail once this returned), the signup
 * grant when the rule allows it for an unverified address (signin_signup_grant_tx) and the
 * first session.
 */
struct signin *signin_register_new(const char *email, const char *display_name, const char *locale,
                                   const char *signup_region, const char *pw, size_t len);
void signin_register_finish(struct store_exec *ex, struct signin *ctx, const struct email_signup_rule *rule,
                            int64_t verify_ttl_ms, int64_t now_ms, signin_fn cb, void *arg);

/* Inside the caller's transaction: grants the signup credits to user_id when the rule allows it
 * - require_verified == 0, or email_verified == 1. At most once per user ever (the ledger's
 * unique reference makes a second call a no-op). */
enum store_rc signin_signup_grant_tx(struct store *s, const char *user_id, int email_verified,
                                     int64_t credits, int require_verified, int64_t now_ms);

/*
 * Login: ctx = signin_login_new(email (normalized), password, len);
 * signin_login_lookup(ex, ctx, cb, arg) reads the account (cb with rc OK to continue; an
 * unknown address also continues, so that the time spent does not tell whether it exists);
 * signin_work(ctx) off the loop; signin_login_finish(...) issues the session only if the
 * password hash and epoch that were verified are still the account's (and rehashes a
 * password stored with older argon2id parameters in the same transaction).
 */
struct signin *signin_login_new(const char *email, const char *pw, size_t len);
void signin_login_lookup(struct store_exec *ex, struct signin *ctx, signin_fn cb, void *arg);
void signin_login_finish(struct store_exec *ex, struct signin *ctx, int64_t now_ms, signin_fn cb, void *arg);

/*
 * Password change for the signed-in user_id: ctx = signin_password_new(user_id, current,
 * next); signin_password_lookup(ex, ctx, cb, arg) reads the account; signin_work(ctx);
 * signin_password_finish(...) - one transaction: the new hash only if the verified one is
 * still stored (two concurrent changes cannot both succeed), every refresh token revoked,
 * the epoch bumped (every access token issued before stops working), a new session for
 * this client and the "auth.password_changed" audit row (ip, request_id: for it).
 */
struct signin *signin_password_new(const char *user_id, const char *cur, size_t cur_len, const char *next,
                                   size_t next_len, const char *ip, const char *request_id);
void signin_password_lookup(struct store_exec *ex, struct signin *ctx, signin_fn cb, void *arg);
void signin_password_finish(struct store_exec *ex, struct signin *ctx, int64_t now_ms, signin_fn cb,
                            void *arg);

/* The account looked up by a login or password lookup (NULL when none): for audit rows. */
const struct user *signin_user(const struct signin *ctx);

#endif
