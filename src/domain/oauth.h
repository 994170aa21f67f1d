/*
 * oauth.h - the browser sign-in flow shared by every provider (DESIGN section 5):
 *
 *   GET  /api/v1/auth/oauth/{provider}/start?return_to=PATH
 *        -> 302 to the provider, with a state and (where supported) PKCE;
 *   GET  /api/v1/auth/oauth/{provider}/callback?code&state
 *        -> 302 to return_to#login_code=... (a one-time code, 60 s);
 *   POST /api/v1/auth/exchange {"code"} -> the session.
 *
 * Starting writes nothing. The state sent to the provider is 64 hex characters: a random
 * nonce and a MAC of it (WeChat accepts at most 128 characters of [A-Za-z0-9], so the state
 * cannot carry more). Everything else the callback needs - provider, which of its apps,
 * return_to, the user linking an identity, the expiry - travels in a signed HttpOnly cookie
 * named after the nonce, which binds the state to the browser that started the flow. The
 * PKCE verifier and the OIDC nonce are derived from the nonce with a server key, so they need
 * no storage either. The callback records the nonce as used (store_oauth_state_use): a state
 * works once.
 *
 * Keys are derived from TG_JWT_SECRET with labels, so no new secret has to be configured.
 */
#ifndef TG_DOMAIN_OAUTH_H
#define TG_DOMAIN_OAUTH_H

#include <stddef.h>
#include <stdint.h>

#include "core/types.h"
#include "domain/session.h"
#include "providers/auth/auth.h"

struct store_exec;

#define OAUTH_STATE_TTL_MS (10 * 60 * 1000) /* the time a person has at the provider */
#define OAUTH_LOGIN_CODE_TTL_MS (60 * 1000)
#define OAUTH_RETURN_MAX 512
#define OAUTH_STATE_LEN 64                  /* hex(nonce 16 || mac 16) */
#define OAUTH_COOKIE_PREFIX "tg_oauth_"
#define OAUTH_COOKIE_NAME_MAX 32
#define OAUTH_COOKIE_MAX 1400
#define OAUTH_LOGIN_CODE_LEN 43             /* base64url of 32 random bytes */

/*
 * 1 when path may be a return_to: a same-origin absolute path ("/..."), at most
 * OAUTH_RETURN_MAX bytes, printable ASCII, no "//" or "/\" start (those are other origins to
 * a browser), no backslash anywhere, and no fragment (the login code goes there).
 */
int oauth_return_to_valid(const char *path);

/* Everything a new flow needs; made by oauth_start_make. */
struct oauth_start {
    char state[OAUTH_STATE_LEN + 1];
    char cookie_name[OAUTH_COOKIE_NAME_MAX];
    char verifier[64];  /* PKCE code_verifier (43 chars) */
    char challenge[64]; /* its S256 challenge */
    char nonce[64];     /* OIDC nonce */
    unsigned char raw_nonce[16];
};

/* Makes the state, the cookie's name, the PKCE pair and the OIDC nonce of a new flow. */
void oauth_start_make(struct oauth_start *out);

/*
 * The cookie's value for a flow started by oauth_start_make (call it after the provider's
 * authorize_url set the variant): signed, carrying provider, variant, return_to,
 * link_user_id ("" when signing in) and the expiry. Returns 0, or -1 when a field is too long.
 */
int oauth_cookie_make(const struct oauth_start *st, const char *provider, const char *variant, const char *return_to,
                      const char *link_user_id, int64_t now_ms, char *out, size_t cap);

/* The name of the cookie that must accompany `state`, or -1 when state is malformed. */
int oauth_state_cookie_name(const char *state, char out[OAUTH_COOKIE_NAME_MAX]);

/* What a valid state and cookie say. */
struct oauth_flow_state {
    char provider[TG_PROVIDER_MAX];
    char variant[AUTH_VARIANT_MAX];
    char return_to[OAUTH_RETURN_MAX + 1];
    char link_user_id[TG_ID_MAX];
    unsigned char nonce[16];
    int64_t expires_ms;
    char verifier[64];
    char oidc_nonce[64];
};

enum oauth_state_rc {
    OAUTH_STATE_OK = 0,
    OAUTH_STATE_MALFORMED, /* not a state we could have made, or its MAC is wrong */
    OAUTH_STATE_NO_COOKIE, /* another browser, or cookies blocked */
    OAUTH_STATE_MISMATCH,  /* the cookie is not this state's, is forged, or names another provider */
    OAUTH_STATE_EXPIRED,
};
const char *oauth_state_rc_name(enum oauth_state_rc rc);

/*
 * Checks `state` (from the callback's query) against `cookie` (the value of the cookie
 * oauth_state_cookie_name named; NULL when absent) for `provider` at now_ms. Pure: it does
 * not consume the state (the caller records the nonce with store_oauth_state_use).
 */
enum oauth_state_rc oauth_state_check(const char *provider, const char *state, const char *cookie, int64_t now_ms,
                                      struct oauth_flow_state *out);

/* ---- signing in with an identity ---- */

enum oauth_rc {
    OAUTH_OK = 0,
    OAUTH_DISABLED,          /* the account is disabled */
    OAUTH_LINKED_ELSEWHERE,  /* linking: the identity belongs to another account */
    OAUTH_LINK_USER_GONE,    /* linking: the account that started the flow is gone or disabled */
    OAUTH_STATE_USED,        /* the state was used before (a replay) */
    OAUTH_CODE_INVALID,      /* exchange: unknown or expired login code */
    OAUTH_CODE_USED,         /* exchange: a used login code (a replay) */
    OAUTH_UNAVAILABLE,       /* the store is busy or cannot write: retry (503) */
    OAUTH_ERROR,             /* logged; 500 */
};

/* How accounts are created from identities (from configuration). */
struct oauth_policy {
    int64_t signup_credits;
    int require_verified; /* TG_SIGNUP_CREDITS_REQUIRE_VERIFIED */
    char signup_region[TG_REGION_MAX]; /* a new account's signup region ("" unknown) */
};

/* What a sign-in with an identity ended with; valid during the callback. */
struct oauth_result {
    enum oauth_rc rc;
    struct user user;             /* OAUTH_OK */
    int created;                  /* a new account was made */
    int linked;                   /* the identity was linked to an existing account now */
    char login_code[OAUTH_LOGIN_CODE_LEN + 1]; /* OAUTH_OK in login-code mode */
    struct session_tokens tokens; /* OAUTH_OK in session mode (freed after the callback) */
};
typedef void (*oauth_fn)(void *arg, const struct oauth_result *res);

/*
 * Signs in (or links) with identity `id` vouched for by provider p, in one transaction:
 *  - state_nonce (NULL for credentials that need none, like Google One Tap): the flow's state
 *    is consumed in the same transaction (OAUTH_STATE_USED when it was used before);
 *  - a linked identity signs its account in (OAUTH_DISABLED when disabled); when link_user_id
 *    is set it must be that account (OAUTH_LINKED_ELSEWHERE otherwise);
 *  - an unknown identity links to link_user_id when set; else to the account holding the
 *    same address when the provider may link by email (p->trust_email), it verified the
 *    address, and the account verified it too; else it becomes a new account, which takes
 *    the address only when verified and free, and gets the signup credits by the policy
 *    (verified by the provider: p->vouches or a verified address);
 *  - then either a one-time login code (want_session 0) or a session (want_session 1).
 * cb runs on the caller's loop.
 */
void oauth_signin(struct store_exec *ex, const struct auth_provider *p, const struct auth_identity *id,
                  const unsigned char *state_nonce, int64_t state_expires_ms, const char *link_user_id,
                  int want_session, const struct oauth_policy *policy, int64_t now_ms, oauth_fn cb, void *arg);

/* POST /api/v1/auth/exchange: consumes the login code and issues a session in one
 * transaction. */
void oauth_exchange(struct store_exec *ex, const char *code, size_t len, int64_t now_ms, oauth_fn cb, void *arg);

/* Records a state as used on its own (a callback that ends before a sign-in: the person
 * refused at the provider, or the provider failed), so it cannot be replayed. */
void oauth_state_consume(struct store_exec *ex, const unsigned char nonce[16], int64_t expires_ms, oauth_fn cb,
                         void *arg);

/*
 * Unlinks the user's identity identity_id, only while the account keeps another way to
 * sign in: another identity, or an email address with a password. OAUTH_UNLINK_NOTFOUND
 * when the user has no such identity, OAUTH_UNLINK_LAST when it is their last way in.
 * `removed` is the identity on OAUTH_UNLINK_OK.
 */
enum oauth_unlink_rc { OAUTH_UNLINK_OK = 0, OAUTH_UNLINK_NOTFOUND, OAUTH_UNLINK_LAST, OAUTH_UNLINK_UNAVAILABLE,
                       OAUTH_UNLINK_ERROR };
typedef void (*oauth_unlink_fn)(void *arg, enum oauth_unlink_rc rc, const struct identity *removed);
void oauth_unlink(struct store_exec *ex, const char *user_id, const char *identity_id, int64_t now_ms,
                  oauth_unlink_fn cb, void *arg);

#endif
