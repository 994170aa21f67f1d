/*
 * registry.c - the sign-in methods this build knows, one line each.
 *
 * "email" (password accounts, domain/signin.c) has no browser flow and is always available.
 */
#include <string.h>

#include "providers/auth/auth.h"
#include "providers/auth/google.h"
#include "providers/auth/sandbox.h"
#include "providers/auth/wechat.h"
#include "providers/providers.h"

static int email_configured(void) { return 1; }

static const struct auth_provider auth_email = {
    .name = "email",
    .configured = email_configured,
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
