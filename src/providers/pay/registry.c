/*
 * registry.c - the payment providers this build knows, one line each (pay.h).
 *
 * A provider whose operations are not built yet has a line with only its name and how to
 * tell that it is configured (the region profiles need that); the orders API treats a
 * provider without a checkout operation as unavailable.
 */
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/mem.h"
#include "providers/pay/alipay.h"
#include "providers/pay/creem.h"
#include "providers/pay/pay.h"
#include "providers/pay/sandbox.h"
#include "providers/pay/stripe.h"
#include "providers/pay/wechatpay.h"
#include "providers/providers.h"

static int set(const char *key)
{
    const char *v = config_get(key);
    return v != NULL && v[0] != '\0';
}

static int paypal_configured(void) { return set("TG_PAYPAL_CLIENT_ID") && set("TG_PAYPAL_CLIENT_SECRET"); }

static const struct pay_provider pay_paypal_line = {.name = "paypal", .configured = paypal_configured};

const struct pay_provider *const pay_providers[] = {
    &pay_stripe,
    &pay_paypal_line,
    &pay_creem,
    &pay_wechatpay,
    &pay_alipay,
    &pay_sandbox,
    NULL,
};

const struct pay_provider *pay_provider_find(const char *name)
{
    for (size_t i = 0; name != NULL && pay_providers[i] != NULL; i++)
        if (strcmp(pay_providers[i]->name, name) == 0)
            return pay_providers[i];
    return NULL;
}

const char *pay_rc_name(enum pay_rc rc)
{
    switch (rc) {
    case PAY_OK: return "ok";
    case PAY_IGNORED: return "ignored";
    case PAY_INVALID: return "invalid";
    case PAY_DECLINED: return "declined";
    case PAY_NOTFOUND: return "not_found";
    case PAY_UNAVAILABLE: return "unavailable";
    case PAY_MISCONFIGURED: return "misconfigured";
    }
    return "unknown";
}

int pay_providers_preload(char **err)
{
    *err = NULL;
    for (size_t i = 0; pay_providers[i] != NULL; i++) {
        const struct pay_provider *p = pay_providers[i];
        char *why = NULL;
        if (p->preload == NULL || !p->configured() || p->preload(&why) == 0)
            continue;
        *err = xasprintf("payment provider %s: %s", p->name, why ? why : "cannot load its keys");
        free(why);
        return -1;
    }
    return 0;
}

int providers_payment_known(const char *name) { return pay_provider_find(name) != NULL; }

int providers_payment_available(const char *name)
{
    const struct pay_provider *p = pay_provider_find(name);
    return p != NULL && p->configured();
}
