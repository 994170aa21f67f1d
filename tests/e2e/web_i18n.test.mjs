// The web UI's message catalogs (web/i18n/*.json): both languages have exactly the same keys,
// every message is a non-empty string with the same {placeholders} as the other language's,
// and every key a page or component names literally - t('ns.key') - exists. A key missing
// from a catalog would show on screen as the key itself.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { repoRoot } from './lib/server.mjs';

const WEB = path.join(repoRoot, 'web');
const LANGS = ['en-US', 'zh-CN'];

function flatten(obj, prefix = '', out = new Map()) {
  for (const [k, v] of Object.entries(obj)) {
    const key = prefix ? prefix + '.' + k : k;
    if (v && typeof v === 'object' && !Array.isArray(v)) flatten(v, key, out);
    else out.set(key, v);
  }
  return out;
}

function sources(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    if (name === 'node_modules' || name === 'vendor' || name === 'i18n') continue;
    if (statSync(p).isDirectory()) out.push(...sources(p));
    else if (name.endsWith('.js')) out.push(p);
  }
  return out;
}

const catalogs = Object.fromEntries(
  LANGS.map((l) => [l, flatten(JSON.parse(readFileSync(path.join(WEB, 'i18n', l + '.json'), 'utf8')))]),
);
const placeholders = (s) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

describe('web catalogs', () => {
  it('have the same keys in every language', () => {
    const [a, b] = LANGS.map((l) => [...catalogs[l].keys()].sort());
    assert.deepEqual(a.filter((k) => !b.includes(k)), [], 'keys only in en-US');
    assert.deepEqual(b.filter((k) => !a.includes(k)), [], 'keys only in zh-CN');
  });

  it('hold non-empty strings with the same placeholders in every language', () => {
    for (const [key, en] of catalogs['en-US']) {
      const zh = catalogs['zh-CN'].get(key);
      for (const [l, v] of [['en-US', en], ['zh-CN', zh]])
        assert.ok(typeof v === 'string' && v.trim() !== '', `${l} ${key} is not a non-empty string`);
      // The same values in both: one the other language lacks is a typo shown as "{x}", and
      // one left out hides what the person needs (the amount, the reason) in one language.
      assert.deepEqual(placeholders(zh), placeholders(en), `placeholders of ${key}`);
    }
  });

  it('have every key the pages and components name', () => {
    const files = sources(WEB);
    assert.ok(files.some((f) => f.endsWith(path.join('pages', 'pricing.js'))), 'web/pages/pricing.js is missing');
    const missing = [];
    for (const f of files) {
      // Comments (which show how t() is called) are not calls.
      const text = readFileSync(f, 'utf8')
        .split('\n')
        .filter((line) => !/^\s*(\/\/|\/?\*)/.test(line))
        .join('\n');
      // t('a.b') with a literal key; keys built at run time ('ns.' + x) end in '.' or '_'.
      for (const m of text.matchAll(/\bt\('([A-Za-z0-9_.-]+)'/g)) {
        const key = m[1];
        if (key.endsWith('.') || key.endsWith('_')) continue;
        for (const l of LANGS)
          if (!catalogs[l].has(key)) missing.push(`${path.relative(WEB, f)}: ${l} ${key}`);
      }
    }
    assert.deepEqual(missing, []);
  });

  it('name every order status, ledger kind and task kind the API can answer', () => {
    const openapi = readFileSync(path.join(repoRoot, 'docs', 'openapi.yaml'), 'utf8');
    const enumOf = (schema) => {
      const m = new RegExp(`\\n    ${schema}:\\n(?:.*\\n)*?\\s+enum: \\[([^\\]]+)\\]`).exec(openapi);
      assert.ok(m, `openapi has no enum for ${schema}`);
      return m[1].split(',').map((s) => s.trim());
    };
    const ledgerKinds = /kind:\n\s+type: string\n\s+enum: \[(signup_grant[^\]]+)\]/.exec(openapi);
    assert.ok(ledgerKinds, 'openapi has no ledger kinds');
    const need = [
      ...enumOf('OrderStatus').map((s) => 'orders.status.' + s),
      ...enumOf('SubscriptionStatus').map((s) => 'subscription.status.' + s),
      ...enumOf('TaskKind').map((s) => 'dashboard.kind.' + s),
      ...enumOf('TaskStatus').map((s) => 'dashboard.task_status.' + s),
      ...enumOf('PayProviderName').map((s) => 'pricing.provider.' + s),
      ...ledgerKinds[1].split(',').map((s) => 'ledger.kind.' + s.trim()),
    ];
    for (const l of LANGS) assert.deepEqual(need.filter((k) => !catalogs[l].has(k)), [], l);
  });
});
