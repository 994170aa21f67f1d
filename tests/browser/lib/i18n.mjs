// The UI's message catalogs (web/i18n/*.json), read by the tests so that controls are found by
// the very names the pages show: a wording change in a catalog does not break a test, a
// missing key does (with the key's name in the message).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../../e2e/lib/server.mjs';

export const LANGS = ['en-US', 'zh-CN'];
export const catalogs = Object.fromEntries(
  LANGS.map((l) => [l, JSON.parse(readFileSync(path.join(repoRoot, 'web', 'i18n', `${l}.json`), 'utf8'))]),
);

/** The dotted keys of a catalog with their string values: [['nav.pricing', 'Pricing'], ...]. */
export function flatten(obj, prefix = '') {
  const out = [];
  for (const [k, v] of Object.entries(obj)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v && typeof v === 'object' && !Array.isArray(v)) out.push(...flatten(v, key));
    else out.push([key, v]);
  }
  return out;
}

/**
 * The message for key in lang with {placeholders} filled from vars, as web/i18n.js's t() does.
 * Throws when the key is missing, naming it.
 */
export function msg(lang, key, vars) {
  const m = key.split('.').reduce((o, k) => (o && typeof o === 'object' ? o[k] : undefined), catalogs[lang]);
  if (typeof m !== 'string') throw new Error(`catalog ${lang} has no message "${key}"`);
  return vars ? m.replace(/\{(\w+)\}/g, (all, k) => (vars[k] === undefined ? all : String(vars[k]))) : m;
}

/** A function t(key, vars) bound to one language. */
export function T(lang) {
  return (key, vars) => msg(lang, key, vars);
}

/** Escapes a string for use inside a RegExp. */
export function reEscape(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * A RegExp matching the message for key with every {placeholder} standing for any text (for
 * messages whose variables the test does not know exactly).
 */
export function msgPattern(lang, key, flags = '') {
  const m = msg(lang, key);
  return new RegExp(m.split(/\{\w+\}/).map(reEscape).join('.+?'), flags);
}
