// The message catalogs (web/i18n/en-US.json, zh-CN.json) against each other and against the
// code: the same keys in both, no empty message, the same {placeholders} in both languages,
// every t('literal.key') of web/**/*.js present, and a title for every page of routes.json
// (main.js shows t('title.<page>')). No browser needed.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../e2e/lib/server.mjs';
import { LANGS, catalogs, flatten } from './lib/i18n.mjs';

const WEB = path.join(repoRoot, 'web');
const flat = Object.fromEntries(LANGS.map((l) => [l, new Map(flatten(catalogs[l]))]));

/** web/**\/*.js outside node_modules. */
function sources(dir = WEB) {
  const out = [];
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) out.push(...sources(full));
    else if (name.endsWith('.js') || name.endsWith('.mjs')) out.push(full);
  }
  return out;
}

/** Every t('key') / t("key") / t(`key`) whose key is one literal (not built from parts). */
function literalKeys() {
  const rx = /(?<![\w$.])t\(\s*(?:'([^'\\\n]+)'|"([^"\\\n]+)"|`([^`\\$\n]+)`)\s*[,)]/g;
  const uses = [];
  for (const file of sources()) {
    // Comments out (line numbers kept): they quote t('key', vars) as documentation.
    const text = readFileSync(file, 'utf8')
      .replace(/\/\*[\s\S]*?\*\//g, (c) => c.replace(/[^\n]/g, ' '))
      .replace(/(^|[ \t])\/\/[^\n]*/gm, '$1');
    for (const m of text.matchAll(rx)) {
      const key = m[1] ?? m[2] ?? m[3];
      const line = text.slice(0, m.index).split('\n').length;
      uses.push({ key, where: `${path.relative(repoRoot, file)}:${line}` });
    }
  }
  return uses;
}

const placeholders = (s) => [...new Set([...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]))].sort();

describe('message catalogs', () => {
  it('en-US and zh-CN have exactly the same keys', () => {
    const [a, b] = LANGS.map((l) => [...flat[l].keys()]);
    const onlyA = a.filter((k) => !flat['zh-CN'].has(k));
    const onlyB = b.filter((k) => !flat['en-US'].has(k));
    assert.deepEqual({ onlyInEnUS: onlyA, onlyInZhCN: onlyB }, { onlyInEnUS: [], onlyInZhCN: [] });
  });

  it('every message is a non-empty string', () => {
    const bad = [];
    for (const l of LANGS) {
      for (const [k, v] of flat[l]) if (typeof v !== 'string' || !v.trim()) bad.push(`${l} ${k}: ${JSON.stringify(v)}`);
    }
    assert.deepEqual(bad, []);
  });

  it('the {placeholders} of each message are the same in both languages', () => {
    const bad = [];
    for (const [k, v] of flat['en-US']) {
      const z = flat['zh-CN'].get(k);
      if (typeof v !== 'string' || typeof z !== 'string') continue;
      const pa = placeholders(v);
      const pb = placeholders(z);
      if (pa.join() !== pb.join()) bad.push(`${k}: en-US {${pa}} zh-CN {${pb}}`);
    }
    assert.deepEqual(bad, []);
  });

  it('the Chinese catalog is Chinese: most messages hold CJK characters', () => {
    const all = [...flat['zh-CN'].entries()].filter(([k]) => !k.startsWith('lang.'));
    const cjk = all.filter(([, v]) => /[\u3400-\u9fff]/.test(v));
    assert.ok(all.length > 0);
    assert.ok(cjk.length / all.length > 0.8, `only ${cjk.length} of ${all.length} zh-CN messages have Chinese characters`);
  });

  it("every t('key') literal in web/**/*.js is in both catalogs", () => {
    const uses = literalKeys();
    assert.ok(uses.length > 10, `found only ${uses.length} t('...') calls in web/: the scan is broken`);
    const missing = [];
    for (const u of uses) for (const l of LANGS) if (typeof flat[l].get(u.key) !== 'string') missing.push(`${u.where}: ${l} has no "${u.key}"`);
    assert.deepEqual(missing, []);
  });

  it('every page of routes.json has a title (title.<page>), and so do not-found and forbidden', () => {
    const routes = JSON.parse(readFileSync(path.join(WEB, 'routes.json'), 'utf8'));
    const pages = [...routes.map((r) => r.page), 'not-found', 'forbidden'];
    const missing = [];
    for (const p of pages) {
      const key = 'title.' + p.replace('/', '_');
      for (const l of LANGS) if (typeof flat[l].get(key) !== 'string') missing.push(`${l} ${key}`);
    }
    assert.deepEqual(missing, []);
  });

  it('every page of routes.json has its module in web/pages', () => {
    const routes = JSON.parse(readFileSync(path.join(WEB, 'routes.json'), 'utf8'));
    const missing = routes.map((r) => `web/pages/${r.page}.js`).filter((f) => {
      try {
        return !statSync(path.join(repoRoot, f)).isFile();
      } catch {
        return true;
      }
    });
    assert.deepEqual(missing, []);
  });
});
