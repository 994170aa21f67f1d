/*
 * registry.c - the sign-in methods this build knows, one line each.
 *
 * "email" (password accounts, domain/signin.c) has no browser flow and is always available.
 * Google and WeChat are listed with how to tell that each is configured, which is all the
 * region profiles need; their files (google.c, wechat.c) replace these lines with the full
 * providers, keeping the same configured() rules. Until then they have no authorize_url,
 * so the browser sign-in routes treat them as unknown.
 */
#include <string.h>

#include "core/config.h"
#include "providers/auth/auth.h"
#include "providers/auth/sandbox.h"
#include "providers/providers.h"

static int set(const char *key)
{
    const char *v = config_get(key);
    return v != NULL && v[0] != '\0';
}

static int email_configured(void) { return 1; }
/* An ID token (One Tap) needs only the client id; the code flow also uses the secret. */
static int google_configured(void) { return set("TG_GOOGLE_CLIENT_ID"); }
static int wechat_configured(void) { return set("TG_WECHAT_APPID") && set("TG_WECHAT_SECRET"); }

static const struct auth_provider auth_email = {
    .name = "email",
    .configured = email_configured,
};
static const struct auth_provider auth_google = {
    .name = "google",
    .pkce = 1,
    .trust_email = 1,
    .configured = google_configured,
};
static const struct auth_provider auth_wechat = {
    .name = "wechat",
    .configured = wechat_configured,
};

const struct auth_provider *const auth_providers[] = {
    &auth_email,
    &auth_google,
    &auth_wechat,
    &auth_sandbox,
    NULL,
};

const struct auth_provider *auth_provider_find(const char *name)
{
    for (size_t i = 0; auth_providers[i] != NULL; i++)
        if (strcmp(auth_providers[i]->name, name) == 0)
            return auth_providers[i];
    return NULL;
}

const char *auth_prc_name(enum auth_prc rc)
{
    switch (rc) {
    case AUTH_P_OK: return "ok";
    case AUTH_P_DENIED: return "denied";
    case AUTH_P_INVALID: return "invalid";
    case AUTH_P_UNAVAILABLE: return "unavailable";
    case AUTH_P_MISCONFIGURED: return "misconfigured";
    }
    return "unknown";
}

int providers_signin_known(const char *name) { return auth_provider_find(name) != NULL; }

int providers_signin_available(const char *name)
{
    const struct auth_provider *p = auth_provider_find(name);
    return p != NULL && p->configured();
}
