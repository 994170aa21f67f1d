/*
 * money.h - amounts in minor units and the decimal strings some providers speak
 * (DESIGN section 3: money is int64 minor units plus an ISO 4217 code, never a float).
 *
 * Stripe and WeChat Pay take minor units as integers; PayPal ("9.90"), Alipay ("68.00") and
 * Creem's displays use decimal strings. These two functions are the only place where one
 * becomes the other, exactly, digit by digit.
 */
#ifndef TG_CORE_MONEY_H
#define TG_CORE_MONEY_H

#include <stddef.h>
#include <stdint.h>

/* Digits after the decimal point for currency (ISO 4217 exponent): 0 for JPY, KRW, ...; 2
 * otherwise. */
int money_exponent(const char *currency);

/*
 * Writes amount (minor units, >= 0) of currency as a decimal string: 990 USD -> "9.90",
 * 6800 CNY -> "68.00", 500 JPY -> "500". Returns the length, or -1 when amount is negative
 * or out does not hold it (out is then "").
 */
int money_format(int64_t amount, const char *currency, char *out, size_t cap);

/*
 * Parses a decimal string of currency into minor units, strictly: digits, then optionally a
 * point and at most the currency's exponent of digits ("9.9" is 990, "9.901" is refused, so
 * is "9.", ".9", "+1", " 1", "1e2", an empty string and anything past INT64_MAX).
 * Returns 0, or -1 with *out untouched.
 */
int money_parse(const char *s, size_t len, const char *currency, int64_t *out);

#endif
