// The admin pages of the web UI, without a browser: amounts typed as money become exact minor
// units (a refund must never be off by a cent), and every catalog key the pages use exists in
// both languages, with a text for every status the API can answer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const WEB = path.join(ROOT, 'web');
const { parseMoney, minorDigits } = await import(new URL('../../web/i18n.js', import.meta.url));

test('parseMoney: an amount in major units becomes exact minor units', () => {
  assert.equal(parseMoney('9.9', 'USD'), 990);
  assert.equal(parseMoney('9.90', 'USD'), 990);
  assert.equal(parseMoney('0.29', 'USD'), 29); // 0.29 * 100 is 28.999999999999996 in floating point
  assert.equal(parseMoney('1.13', 'CNY'), 113); // 1.13 * 100 is 112.99999999999999
  assert.equal(parseMoney('128', 'CNY'), 12800);
  assert.equal(parseMoney('12,50', 'CNY'), 1250);
  assert.equal(parseMoney(' 3 ', 'USD'), 300);
  assert.equal(parseMoney('12.', 'USD'), 1200);
  assert.equal(parseMoney('100', 'JPY'), 100);
  assert.equal(minorDigits('JPY'), 0);
  assert.equal(minorDigits('USD'), 2);
});

test('parseMoney: anything but a plain positive amount is refused (null), never guessed', () => {
  for (const bad of ['', ' ', 'abc', '-5', '+5', '1e3', '0x10', '9.999', '1.5.0', '1,000.00', '1 000', 'NaN', 'Infinity',
    '.5', '१२', '9.9\u0000', '99999999999999999999']) {
    assert.equal(parseMoney(bad, 'USD'), null, JSON.stringify(bad));
  }
  assert.equal(parseMoney('1.5', 'JPY'), null); // yen has no minor unit
  assert.equal(parseMoney('90071992547409.92', 'USD'), null); // past Number.MAX_SAFE_INTEGER minor units
});

function flat(o, p = '') {
  return Object.entries(o).flatMap(([k, v]) => (v && typeof v === 'object' ? flat(v, p + k + '.') : [p + k]));
}

const en = JSON.parse(fs.readFileSync(path.join(WEB, 'i18n/en-US.json'), 'utf8'));
const zh = JSON.parse(fs.readFileSync(path.join(WEB, 'i18n/zh-CN.json'), 'utf8'));
const enKeys = new Set(flat(en));
const zhKeys = new Set(flat(zh));

test('catalogs: the same keys in English and Chinese, none empty', () => {
  assert.deepEqual([...enKeys].filter((k) => !zhKeys.has(k)), []);
  assert.deepEqual([...zhKeys].filter((k) => !enKeys.has(k)), []);
  const get = (o, k) => k.split('.').reduce((x, s) => x[s], o);
  for (const k of enKeys) {
    assert.notEqual(get(en, k).trim(), '', 'en ' + k);
    assert.notEqual(get(zh, k).trim(), '', 'zh ' + k);
  }
});

test('catalogs: every key the admin pages name exists', () => {
  const files = [path.join(WEB, 'components/admin.js'),
    ...fs.readdirSync(path.join(WEB, 'pages/admin')).map((f) => path.join(WEB, 'pages/admin', f))];
  assert.ok(files.length >= 8, 'the admin pages are there');
  const missing = [];
  for (const f of files) {
    const src = fs.readFileSync(f, 'utf8');
    for (const m of src.matchAll(/'((?:admin|common|errors|title|lang)\.[A-Za-z0-9_.-]+)'/g)) {
      const key = m[1];
      if (key.endsWith('.')) continue; // a prefix completed at run time (checked below)
      if (!enKeys.has(key) && ![...enKeys].some((k) => k.startsWith(key + '.'))) missing.push(path.basename(f) + ': ' + key);
    }
  }
  assert.deepEqual(missing, []);
});

test('catalogs: a text for every status, provider and audit action the API can answer', () => {
  const api = YAML.parse(fs.readFileSync(path.join(ROOT, 'docs/openapi.yaml'), 'utf8')).components.schemas;
  const need = {
    'admin.status.order': api.OrderStatus.enum,
    'admin.status.subscription': api.SubscriptionStatus.enum,
    'admin.status.refund': api.Refund.properties.status.enum,
    'admin.status.key': api.ProviderKey.properties.status.enum,
    'admin.provider': [...api.PayProviderName.enum, ...api.ProviderKey.properties.provider.enum],
    'admin.keys.source': api.ProviderKey.properties.source.enum,
    'admin.role': api.Role.enum,
    'admin.bucket': api.AdminCreditsRequest.properties.bucket.enum,
  };
  const missing = [];
  for (const [prefix, values] of Object.entries(need))
    for (const v of values) if (!enKeys.has(prefix + '.' + v)) missing.push(prefix + '.' + v);
  // Audit actions written by the server (action strings in src/) have a translation.
  const actions = new Set();
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.c$/.test(e.name)) {
        const src = fs.readFileSync(p, 'utf8');
        for (const m of src.matchAll(/audit[a-z_]*\([^;]*?"([a-z_]+\.[a-z_]+)"/gs)) actions.add(m[1]);
      }
    }
  };
  walk(path.join(ROOT, 'src'));
  assert.ok(actions.has('credits.adjust') && actions.has('user.update'), 'found the audit actions in src/');
  for (const a of actions) if (!enKeys.has('admin.audit.action.' + a.replace(/\./g, '_'))) missing.push('admin.audit.action.' + a);
  assert.deepEqual(missing, []);
});
