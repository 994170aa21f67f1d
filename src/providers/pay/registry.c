/*
 * registry.c - the payment providers this build knows, one line each.
 *
 * For now each line says only how to tell that the provider is configured (the region
 * profiles need that); the payment operations join each line as the providers are built.
 */
#include <string.h>

#include "core/config.h"
#include "providers/providers.h"

static int set(const char *key)
{
    const char *v = config_get(key);
    return v != NULL && v[0] != '\0';
}

static int stripe_configured(void) { return set("TG_STRIPE_SECRET_KEY") && set("TG_STRIPE_WEBHOOK_SECRET"); }
static int paypal_configured(void) { return set("TG_PAYPAL_CLIENT_ID") && set("TG_PAYPAL_CLIENT_SECRET"); }
static int creem_configured(void) { return set("TG_CREEM_API_KEY") && set("TG_CREEM_WEBHOOK_SECRET"); }
static int wechatpay_configured(void)
{
    return set("TG_WECHATPAY_MCHID") && set("TG_WECHATPAY_APPID") && set("TG_WECHATPAY_SERIAL_NO") &&
           set("TG_WECHATPAY_PRIVATE_KEY_FILE") && set("TG_WECHATPAY_APIV3_KEY");
}
static int alipay_configured(void)
{
    return set("TG_ALIPAY_APP_ID") && set("TG_ALIPAY_PRIVATE_KEY_FILE") && set("TG_ALIPAY_PUBLIC_KEY_FILE");
}
static int sandbox_configured(void) { return tg_cfg != NULL && tg_cfg->sandbox; }

static const struct {
    const char *name;
    int (*configured)(void);
} pay_registry[] = {
    {"stripe", stripe_configured},
    {"paypal", paypal_configured},
    {"creem", creem_configured},
    {"wechatpay", wechatpay_configured},
    {"alipay", alipay_configured},
    {"sandbox", sandbox_configured},
};

int providers_payment_known(const char *name)
{
    for (size_t i = 0; i < sizeof pay_registry / sizeof pay_registry[0]; i++)
        if (strcmp(pay_registry[i].name, name) == 0)
            return 1;
    return 0;
}

int providers_payment_available(const char *name)
{
    for (size_t i = 0; i < sizeof pay_registry / sizeof pay_registry[0]; i++)
        if (strcmp(pay_registry[i].name, name) == 0)
            return pay_registry[i].configured();
    return 0;
}
