/*
 * auth.h - sign-in providers (DESIGN sections 2 and 5): one file each in providers/auth/,
 * one line each in registry.c.
 *
 * A provider knows its wire format and nothing else: how to send the browser to its
 * authorize page, and how to turn the code it sends back into an identity it vouches for.
 * What happens next (state, PKCE, linking, sessions) is the flow's business (domain/oauth.c,
 * domain/identities.c), the same for every provider.
 */
#ifndef TG_PROVIDERS_AUTH_AUTH_H
#define TG_PROVIDERS_AUTH_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "core/types.h"

struct net_exec;

#define AUTH_SUBJECT_MAX TG_SUBJECT_MAX
#define AUTH_PROVIDER_MAX TG_PROVIDER_MAX
#define AUTH_VARIANT_MAX 8
#define AUTH_LOCALE_MAX TG_LOCALE_MAX

/* What a provider vouches for about the person who signed in. */
struct auth_identity {
    char provider[AUTH_PROVIDER_MAX];     /* registry name: "google", "wechat", "sandbox" */
    char subject[AUTH_SUBJECT_MAX];       /* stable id at the provider (Google `sub`, WeChat
                                             unionid else "<appid>:<openid>") */
    char email[TG_EMAIL_MAX + 1];         /* normalized (lower-case), "" when none */
    int email_verified;                   /* 1 only when the provider says the address is theirs */
    char display_name[TG_NAME_MAX + 1];   /* "" when none */
    char locale[AUTH_LOCALE_MAX];         /* "zh-CN", "en-US" or "" */
};

/* One browser sign-in as a provider sees it. */
struct auth_flow {
    const char *redirect_uri;   /* our callback URL, TG_PUBLIC_URL + /api/v1/auth/oauth/NAME/callback */
    const char *state;          /* opaque: send it, it comes back with the code */
    const char *code_challenge; /* PKCE S256 challenge (base64url), used when provider->pkce */
    const char *nonce;          /* OIDC nonce: put in the request, expected in the ID token */
    const char *user_agent;     /* the browser's, at start only (may be NULL) */
    /* Which of the provider's apps the flow used (WeChat: "web" for the website QR login,
     * "mp" inside WeChat). authorize_url sets it; the flow carries it in the state and hands
     * it back to exchange. "" for providers with one app. */
    char variant[AUTH_VARIANT_MAX];
};

enum auth_prc {
    AUTH_P_OK = 0,
    AUTH_P_DENIED,        /* the person refused, or the provider refused them (403) */
    AUTH_P_INVALID,       /* the code or credential is bad, expired or used (400/401) */
    AUTH_P_UNAVAILABLE,   /* the provider did not answer in time, or failed (503 / 502) */
    AUTH_P_MISCONFIGURED, /* our credentials were refused (500, logged for the operator) */
};

struct auth_result {
    enum auth_prc rc;
    char reason[64];  /* short machine reason for logs and error details ("40029",
                         "invalid_grant", "wrong_audience"); never a secret */
    struct auth_identity id; /* on AUTH_P_OK */
};

/* Completion of exchange/verify. Runs on the caller's thread (possibly before the call that
 * started it returns), exactly once; res is borrowed for the call. */
typedef void (*auth_done_fn)(void *arg, const struct auth_result *res);

struct auth_provider {
    const char *name;
    int pkce;        /* 1: supports PKCE S256 (the flow sends a challenge) */
    int trust_email; /* 1: its verified email may link to an existing account with that
                        verified email (DESIGN section 5); 0 for the sandbox */
    int vouches;     /* 1: the provider verified the person even without an email (WeChat
                        accounts are bound to a verified phone), so a new account from it
                        gets the signup credits that otherwise wait for a verified address */
    int (*configured)(void);
    /* The provider's authorize URL for f (new string, caller frees), setting f->variant.
     * NULL for methods with no browser flow ("email"). */
    char *(*authorize_url)(struct auth_flow *f);
    /* Exchanges the callback's code (and the PKCE verifier when pkce) for an identity,
     * through nx (never blocking the caller); done(arg, result) exactly once. */
    void (*exchange)(struct net_exec *nx, const struct auth_flow *f, const char *code, const char *code_verifier,
                     int64_t now_ms, auth_done_fn done, void *arg);
};

/* The provider registered under name, or NULL. */
const struct auth_provider *auth_provider_find(const char *name);

/* The providers, for listing (NULL-terminated). */
extern const struct auth_provider *const auth_providers[];

/* "ok", "denied", ... for logs. */
const char *auth_prc_name(enum auth_prc rc);

#endif
