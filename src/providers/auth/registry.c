/*
 * registry.c - the sign-in methods this build knows, one line each.
 *
 * "email" (password accounts, domain/signin.c) has no browser flow and is always available.
 * WeChat is listed with how to tell that it is configured, which is all the region profiles
 * need; its file (wechat.c) replaces this line with the full provider, keeping the same
 * configured() rule. Until then it has no authorize_url, so the browser sign-in routes
 * treat it as unknown.
 */
#include <string.h>

#include "core/config.h"
#include "providers/auth/auth.h"
#include "providers/auth/google.h"
#include "providers/auth/sandbox.h"
#include "providers/auth/wechat.h"
#include "providers/providers.h"

static int set(const char *key)
{
    const char *v = config_get(key);
    return v != NULL && v[0] != '\0';
}

static int email_configured(void) { return 1; }
static int wechat_configured(void) { return set("TG_WECHAT_APPID") && set("TG_WECHAT_SECRET"); }

static const struct auth_provider auth_email = {
    .name = "email",
    .configured = email_configured,
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
    &auth_wechat,
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
