/*
 * email.h - proving an email address and resetting a password through it (DESIGN section 5).
 *
 * A mail token is 32 random bytes in base64url (43 characters). Only its SHA-256 is stored
 * (email_tokens), with its purpose, its user, the address it was sent to and its expiry, so
 * a database leak gives away no usable link. Tokens are single-use; a verification token
 * proves only the address it was sent to (an account that changed its address since cannot
 * be verified with it), and a reset token works only while the account still has that
 * address.
 *
 * The flows are asynchronous store calls in the shape of signin.h: arguments are copied,
 * the callback runs exactly once on the caller's thread (possibly before the call
 * returns), and its result is borrowed for the callback. None of them sends a mail: a
 * result with a token is the caller's cue to send it, after the transaction committed.
 */
#ifndef TG_DOMAIN_EMAIL_H
#define TG_DOMAIN_EMAIL_H

#include <stddef.h>
#include <stdint.h>

#include "core/types.h"

struct store_exec;

/* Random bytes in a token, and the length of its base64url text. */
#define EMAIL_TOKEN_BYTES 32
#define EMAIL_TOKEN_LEN 43
/* Verification mails one account may ask for per EMAIL_RESEND_WINDOW_MS, the one sent at
 * registration included: enough to get past a mail lost to a spam folder, too few to turn
 * us into a way of flooding a mailbox. */
#define EMAIL_RESEND_MAX 3
#define EMAIL_RESEND_WINDOW_MS (3600 * INT64_C(1000))

/* A new token: the text for the mail and the hash for the store. */
struct email_token {
    char text[EMAIL_TOKEN_LEN + 1];
    unsigned char hash[32];
};
/* Makes a fresh token (random: call it outside a store call's run(), which may repeat). */
void email_token_make(struct email_token *t);
/*
 * The stored form of a presented token (len bytes): SHA-256 of its text. Returns 0, or -1
 * when it cannot be one of ours (not exactly 43 characters of canonical base64url), so
 * that garbage never reaches the store.
 */
int email_token_hash(const char *presented, size_t len, unsigned char hash[32]);

enum email_rc {
    EMAIL_OK = 0,
    EMAIL_INVALID,          /* unknown or expired token, an address the account no longer has,
                             * a disabled account (400 invalid_email_token) */
    EMAIL_USED,             /* the token was used already (400 invalid_email_token) */
    EMAIL_ALREADY_VERIFIED, /* resend: the address is verified (409) */
    EMAIL_NO_ADDRESS,       /* resend: the account has no email (422) */
    EMAIL_THROTTLED,        /* resend: EMAIL_RESEND_MAX mails within the window (429) */
    EMAIL_UNAVAILABLE,      /* the store is busy or cannot write: retry (503) */
    EMAIL_ERROR,            /* logged; 500 */
};

/* "ok", "invalid", "used", ... for logs and audit rows. */
const char *email_rc_name(enum email_rc rc);

/* The signup-credit rule of a deployment (TG_SIGNUP_CREDITS, TG_SIGNUP_CREDITS_REQUIRE_VERIFIED). */
struct email_signup_rule {
    int64_t credits;
    int require_verified;
};

struct email_result {
    enum email_rc rc;
    struct user user;  /* EMAIL_OK (and EMAIL_ALREADY_VERIFIED): the account as stored */
    const char *token; /* EMAIL_OK of email_resend and a reset request for a mailable
                        * account: the new token to mail; NULL otherwise */
    int again;         /* verify: the token had been used by this same, verified account:
                        * nothing changed (a second click on the link) */
};
typedef void (*email_fn)(void *arg, const struct email_result *res);

/*
 * POST /auth/verify-email: in one transaction, consumes the verification token, marks the
 * address it was sent to verified (only while it is still the account's), grants the signup
 * credits when the rule says so (at most once per account) and writes the
 * "auth.email_verified" audit row (ip, request_id). A token used before by an account that
 * is verified with that address answers EMAIL_OK with again = 1 and changes nothing.
 */
void email_verify(struct store_exec *ex, const char *presented, size_t len,
                  const struct email_signup_rule *rule, const char *ip, const char *request_id,
                  int64_t now_ms, email_fn cb, void *arg);

/*
 * POST /auth/verify-email/resend for user_id: a new verification token valid ttl_ms for the
 * account's address, unless it has none (EMAIL_NO_ADDRESS), is verified
 * (EMAIL_ALREADY_VERIFIED) or was sent EMAIL_RESEND_MAX tokens within the window
 * (EMAIL_THROTTLED). Count and insert are one transaction, so concurrent requests cannot
 * pass the limit together. Earlier tokens stay valid.
 */
void email_resend(struct store_exec *ex, const char *user_id, int64_t ttl_ms, int64_t now_ms, email_fn cb,
                  void *arg);

/*
 * POST /auth/password-reset for a normalized address: one write transaction whether or not
 * an account has the address (so that the time taken does not tell): for an enabled
 * account, a reset token valid ttl_ms (res->token and res->user set); always an
 * "auth.password_reset_requested" audit row (ip, request_id; its target is the account
 * when there is one). The callback's rc is EMAIL_OK in every case the caller must answer
 * alike.
 */
void email_reset_request(struct store_exec *ex, const char *email, int64_t ttl_ms, const char *ip,
                         const char *request_id, int64_t now_ms, email_fn cb, void *arg);

/*
 * POST /auth/password-reset/confirm, in steps like signin.h's flows:
 * ctx = email_reset_new(token, password (checked by the caller against the policy), ...);
 * email_reset_work(ctx) off the loop (argon2id; the password is wiped afterwards);
 * email_reset_finish(ex, ctx, rule, now, cb, arg): one transaction consumes the token, sets
 * the new password, revokes every refresh token, bumps the auth epoch (access tokens die at
 * once), revokes the account's other reset tokens, marks the address verified (the person
 * proved the mailbox), grants the signup credits when due and writes the
 * "auth.password_reset" audit row. email_reset_finish takes ctx over (it is freed after the
 * callback); email_reset_free releases one that is not finished (the client went away).
 */
struct email_reset;
struct email_reset *email_reset_new(const char *presented, size_t len, const char *pw, size_t pw_len,
                                    const char *ip, const char *request_id);
void email_reset_work(void *ctx);
void email_reset_finish(struct store_exec *ex, struct email_reset *ctx, const struct email_signup_rule *rule,
                        int64_t now_ms, email_fn cb, void *arg);
void email_reset_free(struct email_reset *ctx);

#endif
