/*
 * providers.h - which providers this deployment can offer (DESIGN section 2: "a region
 * profile names which providers a region offers").
 *
 * Each provider kind has a registry (providers/auth/registry.c, providers/pay/registry.c):
 * one line per provider. A provider is available when its credentials are configured; the
 * sandbox providers are available while TG_SANDBOX is on. Region profiles (domain/region.c)
 * list only available providers.
 */
#ifndef TG_PROVIDERS_PROVIDERS_H
#define TG_PROVIDERS_PROVIDERS_H

/* 1 when the sign-in method `name` ("email", "google", "wechat", "sandbox") is known and
 * configured, else 0. */
int providers_signin_available(const char *name);
/* 1 when the payment provider `name` ("stripe", "paypal", "creem", "wechatpay", "alipay",
 * "sandbox") is known and configured, else 0. */
int providers_payment_available(const char *name);
/* 1 when `name` is a sign-in method / payment provider this build knows, configured or not
 * (for validating region profile settings at start-up). */
int providers_signin_known(const char *name);
int providers_payment_known(const char *name);

#endif
