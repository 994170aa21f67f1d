// i18n.js - message catalogs (i18n/en-US.json, i18n/zh-CN.json, the same keys in both) and the
// Intl formatters. No user-visible string lives in code: pages call t('key', {vars}).
//
// The language: the one the person chose (remembered in localStorage), else the region
// profile's locale (GET /api/v1/region), else the browser's.

export const LANGS = ['en-US', 'zh-CN'];
const STORE_KEY = 'tollgate.lang';

let lang = 'en-US';
let messages = {};
const listeners = new Set();

function pick(tag) {
  if (!tag) return null;
  if (LANGS.includes(tag)) return tag;
  return String(tag).toLowerCase().startsWith('zh') ? 'zh-CN' : String(tag).toLowerCase().startsWith('en') ? 'en-US' : null;
}

/** The language to start with, given the region profile's locale. */
export function initialLang(regionLocale) {
  let saved = null;
  try {
    saved = localStorage.getItem(STORE_KEY);
  } catch {
    saved = null;
  }
  return pick(saved) || pick(regionLocale) || pick(navigator.language) || 'en-US';
}

/** Loads a catalog and makes it current; remember=true stores the choice. */
export async function setLang(tag, remember = false) {
  const next = pick(tag) || 'en-US';
  const res = await fetch(new URL(`./i18n/${next}.json`, import.meta.url));
  if (!res.ok) throw new Error(`catalog ${next}: HTTP ${res.status}`);
  messages = await res.json();
  lang = next;
  document.documentElement.lang = next;
  if (remember) {
    try {
      localStorage.setItem(STORE_KEY, next);
    } catch {
      /* private mode: the choice lasts for this page only */
    }
  }
  for (const fn of listeners) fn(lang);
}

export function currentLang() {
  return lang;
}

export function onLang(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/**
 * The message for a dotted key ("nav.pricing"), with {name} placeholders filled from vars.
 * A missing key shows as the key itself (the catalog test fails on it first).
 */
export function t(key, vars) {
  let m = key.split('.').reduce((o, k) => (o && typeof o === 'object' ? o[k] : undefined), messages);
  if (typeof m !== 'string') return key;
  if (vars) m = m.replace(/\{(\w+)\}/g, (all, k) => (vars[k] === undefined ? all : String(vars[k])));
  return m;
}

/** Whether the catalog has a key (for optional messages such as error codes). */
export function has(key) {
  return typeof key.split('.').reduce((o, k) => (o && typeof o === 'object' ? o[k] : undefined), messages) === 'string';
}

// ---- formatting (Intl only) ----

const DIGITS = { CNY: 2, USD: 2, EUR: 2, JPY: 0 };

/** How many minor units make one major unit of a currency, as a power of ten (USD: 2). */
export function minorDigits(currency) {
  return DIGITS[currency] ?? 2;
}

/** Money from minor units (the API's integers): money(1150, 'CNY') -> "¥11.50". */
export function money(minor, currency) {
  const d = minorDigits(currency);
  return new Intl.NumberFormat(lang, { style: 'currency', currency, currencyDisplay: 'narrowSymbol' }).format(
    Number(minor) / 10 ** d,
  );
}

export function number(n) {
  return new Intl.NumberFormat(lang).format(n);
}

export function percent(x) {
  return new Intl.NumberFormat(lang, { style: 'percent', maximumFractionDigits: 1 }).format(x);
}

/** An RFC 3339 time as a date ("Nov 29, 2026" / "2026年11月29日"). */
export function date(iso) {
  if (!iso) return '';
  return new Intl.DateTimeFormat(lang, { dateStyle: 'medium' }).format(new Date(iso));
}

export function dateTime(iso) {
  if (!iso) return '';
  return new Intl.DateTimeFormat(lang, { dateStyle: 'medium', timeStyle: 'short' }).format(new Date(iso));
}

/** "3 minutes ago" style, for recent events. */
export function relative(iso) {
  if (!iso) return '';
  const s = Math.round((new Date(iso).getTime() - Date.now()) / 1000);
  const rtf = new Intl.RelativeTimeFormat(lang, { numeric: 'auto' });
  const a = Math.abs(s);
  if (a < 60) return rtf.format(s, 'second');
  if (a < 3600) return rtf.format(Math.round(s / 60), 'minute');
  if (a < 86400) return rtf.format(Math.round(s / 3600), 'hour');
  return rtf.format(Math.round(s / 86400), 'day');
}

/**
 * The minor units (an integer) of an amount typed in major units ("9.9" USD -> 990), exactly
 * (decimal digits, no floating point), or null when the text is not a plain positive amount
 * with at most the currency's decimals ("." or "," as the decimal mark, no grouping).
 */
export function parseMoney(text, currency) {
  const d = minorDigits(currency);
  const m = /^(\d{1,15})(?:[.,](\d*))?$/.exec(String(text).trim());
  if (!m || (m[2] || '').length > d) return null;
  const minor = BigInt(m[1]) * 10n ** BigInt(d) + BigInt((m[2] || '').padEnd(d, '0') || '0');
  return minor > BigInt(Number.MAX_SAFE_INTEGER) ? null : Number(minor);
}
