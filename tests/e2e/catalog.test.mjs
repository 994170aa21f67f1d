// The product catalog (docs/CATALOG.md): GET /api/v1/catalog with the built-in defaults and
// with a TG_CATALOG file, priced in the caller's region currency; a bad file stops the start.
//
// The server trusts 127.0.0.1 as its proxy, so X-User-Region sent by the test (from
// 127.0.0.1) is the proxy's; a second server without trusted proxies shows the same header
// changing nothing.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { startServer, invariantTest, assertStatus, runUntilExit, freePort, JWT_SECRET, repoRoot } from './lib/server.mjs';
import { assertDocumented } from './lib/openapi.mjs';

const GEOIP_DB = path.join(repoRoot, 'tests', 'data', 'geoip', 'GeoIP2-Country-Test.mmdb');
const CN_V6 = '2001:250::1';

const PRO_EN = ['300 credits every month', 'About 30 Veo3 videos a month', 'Unused credits last until the period ends', 'Cancel any time'];
const MAX_EN = ['900 credits every month', 'About 90 Veo3 videos a month', 'Unused credits last until the period ends', 'Priority support', 'Cancel any time'];
const PRO_ZH = ['每月 300 积分', '每月约 30 个 Veo3 视频', '未用积分在本周期内有效', '随时取消'];
const MAX_ZH = ['每月 900 积分', '每月约 90 个 Veo3 视频', '未用积分在本周期内有效', '优先支持', '随时取消'];

/** The built-in task prices (a catalog file without "tasks" keeps them). */
const DEFAULT_TASKS = {
  animate_move: { unit: 'second', credits: { 'wan-std': 1, 'wan-pro': 2 } },
  animate_mix: { unit: 'second', credits: { 'wan-std': 1, 'wan-pro': 2 } },
  text_to_video: { unit: 'task', credits: 10 },
  image: { unit: 'task', credits: 2 },
};

/** The file's task prices: the kinds it names, the built-in ones for the others. */
const FILE_TASKS = {
  ...DEFAULT_TASKS,
  image: { unit: 'task', credits: 3 },
  animate_mix: { unit: 'second', credits: { 'wan-std': 4, 'wan-pro': 9 } },
};

/** The defaults priced in one currency, features in one language. */
function defaults(region, currency, proFeatures, maxFeatures) {
  const usd = currency === 'USD';
  const price = (u, c) => ({ amount: usd ? u : c, currency });
  const plan = (id, planId, period, credits, u, c, features) => ({ id, plan: planId, period, credits_per_month: credits, price: price(u, c), features });
  return {
    region,
    currency,
    packs: [
      { id: 'credits_115', credits: 115, price: price(990, 6800) },
      { id: 'credits_355', credits: 355, price: price(3000, 19800) },
      { id: 'credits_1450', credits: 1450, price: price(9900, 69800) },
    ],
    plans: [
      plan('pro_monthly', 'pro', 'month', 300, 1990, 12800, proFeatures),
      plan('pro_yearly', 'pro', 'year', 300, 19900, 128000, proFeatures),
      plan('max_monthly', 'max', 'month', 900, 4990, 32800, maxFeatures),
      plan('max_yearly', 'max', 'year', 900, 49900, 328000, maxFeatures),
    ],
    tasks: DEFAULT_TASKS,
  };
}
const GLOBAL_DEFAULTS = defaults('GLOBAL', 'USD', PRO_EN, MAX_EN);
const CN_DEFAULTS = defaults('CN', 'CNY', PRO_ZH, MAX_ZH);

function assertCatalog(r, want, msg) {
  assertStatus(r, 200, msg);
  assert.deepEqual(r.body, want, `${msg}: ${r.text}`);
  assert.equal(r.headers.get('cache-control'), 'private, max-age=60', `${msg}: cacheable by the caller only`);
  assert.match(r.headers.get('vary') ?? '', /Authorization, X-User-Region/, `${msg}: Vary names the headers that choose the region`);
  assertDocumented(r, 'GET', '/api/v1/catalog');
}

describe('GET /api/v1/catalog with the built-in catalog', () => {
  let srv;
  before(async () => {
    srv = await startServer({ env: { TG_TRUSTED_PROXIES: '127.0.0.1/32', TG_GEOIP_DB: GEOIP_DB } });
  });
  after(() => srv?.cleanup());

  it('the catalog is announced at start', () => {
    const line = srv.logLines().find((l) => l.event === 'catalog_loaded');
    assert.ok(line, 'catalog_loaded logged');
    assert.equal(line.source, 'built-in');
    assert.equal(line.products, '7');
    assert.equal(srv.logLines().filter((l) => l.event === 'catalog_region_empty').length, 0);
  });

  it('GLOBAL (the default region) -> USD prices and English features', async () => {
    assertCatalog(await srv.get('/api/v1/catalog'), GLOBAL_DEFAULTS, 'no region signal');
    assertCatalog(await srv.get('/api/v1/catalog', { headers: { 'x-user-region': 'GLOBAL' } }), GLOBAL_DEFAULTS, 'X-User-Region: GLOBAL');
  });

  it('CN through the trusted proxy (X-User-Region or a China address) -> CNY prices and Chinese features', async () => {
    assertCatalog(await srv.get('/api/v1/catalog', { headers: { 'x-user-region': 'CN' } }), CN_DEFAULTS, 'X-User-Region: CN');
    assertCatalog(await srv.get('/api/v1/catalog', { headers: { 'x-forwarded-for': CN_V6 } }), CN_DEFAULTS, 'GeoIP CN address');
  });

  it('a signed-in user with a saved region gets that region, whatever the proxy says', async () => {
    const u = await srv.register();
    assertCatalog(await srv.get('/api/v1/catalog', { token: u.token }), GLOBAL_DEFAULTS, 'signed in, no saved region');
    const put = await srv.req('PUT', '/api/v1/region', { json: { region: 'CN' }, token: u.token });
    assertStatus(put, 200);
    assertCatalog(await srv.get('/api/v1/catalog', { token: u.token, headers: { 'x-user-region': 'GLOBAL' } }), CN_DEFAULTS, 'saved CN wins');
  });

  it('nothing a client sends changes a price', async () => {
    const tries = [
      '/api/v1/catalog?currency=EUR',
      '/api/v1/catalog?amount=1&price=1&region=CN',
      '/api/v1/catalog?credits_115=1',
    ];
    for (const p of tries) assertCatalog(await srv.get(p), GLOBAL_DEFAULTS, p);
    const headers = { 'accept-language': 'zh-CN', 'x-currency': 'CNY', 'x-price': '1', cookie: 'currency=CNY; region=CN' };
    assertCatalog(await srv.get('/api/v1/catalog', { headers }), GLOBAL_DEFAULTS, 'price-ish headers and cookies');
    // A body on a GET is not read either.
    const withBody = await srv.req('GET', '/api/v1/catalog', { headers: { 'content-type': 'application/json' } });
    assertCatalog(withBody, GLOBAL_DEFAULTS, 'GET with a content type');
  });

  it('a bad or expired token is refused, not served a guessed region', async () => {
    const r = await srv.get('/api/v1/catalog', { token: 'not-a-token' });
    assertStatus(r, 401);
    assertDocumented(r, 'GET', '/api/v1/catalog');
  });

  invariantTest(() => srv);
});

describe('X-User-Region from a peer that is not a trusted proxy', () => {
  let srv;
  before(async () => {
    srv = await startServer();
  });
  after(() => srv?.cleanup());

  it('changes nothing: the default region and its prices', async () => {
    assertCatalog(await srv.get('/api/v1/catalog', { headers: { 'x-user-region': 'CN' } }), GLOBAL_DEFAULTS, 'untrusted X-User-Region');
  });

  invariantTest(() => srv);
});

describe('a TG_CATALOG file', () => {
  let srv;
  let dir;
  const file = () => path.join(dir, 'catalog.json');
  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'tollgate-catalog-'));
    writeFileSync(
      file(),
      JSON.stringify({
        packs: [
          { id: 'starter', credits: 50, prices: { USD: 500 } },
          { id: 'cn_only', credits: 80, prices: { CNY: 3000 } },
          { id: 'both', credits: 1000, prices: { CNY: 50000, USD: 7000 }, creem_product_id: 'prod_e2e', stripe_price_id: 'price_e2e' },
        ],
        plans: [
          {
            id: 'team',
            credits_per_month: 5000,
            features: { 'en-US': ['Five thousand credits'] },
            periods: [
              { id: 'team_monthly', period: 'month', prices: { USD: 9900 } },
              { id: 'team_yearly', period: 'year', prices: { USD: 99000, CNY: 700000 } },
            ],
          },
        ],
        tasks: { image: { credits: 3 }, animate_mix: { per_second: { 'wan-std': 4, 'wan-pro': 9 } } },
      }),
    );
    srv = await startServer({ env: { TG_CATALOG: file(), TG_TRUSTED_PROXIES: '127.0.0.1/32' } });
  });
  after(() => {
    srv?.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('replaces the defaults; a product without a price in the region currency is not offered there', async () => {
    assertCatalog(await srv.get('/api/v1/catalog'), {
      region: 'GLOBAL',
      currency: 'USD',
      packs: [
        { id: 'starter', credits: 50, price: { amount: 500, currency: 'USD' } },
        { id: 'both', credits: 1000, price: { amount: 7000, currency: 'USD' } },
      ],
      plans: [
        { id: 'team_monthly', plan: 'team', period: 'month', credits_per_month: 5000, price: { amount: 9900, currency: 'USD' }, features: ['Five thousand credits'] },
        { id: 'team_yearly', plan: 'team', period: 'year', credits_per_month: 5000, price: { amount: 99000, currency: 'USD' }, features: ['Five thousand credits'] },
      ],
      tasks: FILE_TASKS,
    }, 'GLOBAL');
    // zh-CN has no features in this file: the English list is shown.
    assertCatalog(await srv.get('/api/v1/catalog', { headers: { 'x-user-region': 'CN' } }), {
      region: 'CN',
      currency: 'CNY',
      packs: [
        { id: 'cn_only', credits: 80, price: { amount: 3000, currency: 'CNY' } },
        { id: 'both', credits: 1000, price: { amount: 50000, currency: 'CNY' } },
      ],
      plans: [
        { id: 'team_yearly', plan: 'team', period: 'year', credits_per_month: 5000, price: { amount: 700000, currency: 'CNY' }, features: ['Five thousand credits'] },
      ],
      tasks: FILE_TASKS,
    }, 'CN');
  });

  it('provider product ids stay on the server', async () => {
    const r = await srv.get('/api/v1/catalog');
    assert.ok(!r.text.includes('prod_e2e') && !r.text.includes('price_e2e'), r.text);
  });

  it('the file is announced at start', () => {
    const line = srv.logLines().find((l) => l.event === 'catalog_loaded');
    assert.equal(line?.source, 'TG_CATALOG');
    assert.equal(line?.products, '5');
  });

  invariantTest(() => srv);
});

describe('a bad TG_CATALOG stops the start', () => {
  let dir;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'tollgate-catalog-bad-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const start = async (catalog) => runUntilExit(['serve'], {
    TG_DATA_DIR: path.join(dir, 'data'),
    TG_JWT_SECRET: JWT_SECRET,
    TG_LISTEN: `127.0.0.1:${await freePort()}`,
    TG_CATALOG: catalog,
  });

  // The region profiles are logged (JSON lines on stderr) before the catalog is read; the
  // reason comes last, as one plain line.
  const lastLine = (text) => text.trim().split('\n').pop();

  const cases = [
    ['a negative price', { packs: [{ id: 'p', credits: 1, prices: { USD: -1 } }] },
      'packs[0].prices.USD: must be an integer amount in minor units from 1 to 10000000000'],
    ['an unknown currency', { packs: [{ id: 'p', credits: 1, prices: { XYZ: 100 } }] },
      'packs[0].prices.XYZ: unknown currency (known: USD, CNY, EUR, GBP, HKD, JPY)'],
    ['an unknown key', { packs: [{ id: 'p', credits: 1, prices: { USD: 1 }, discount: 50 }] }, 'packs[0]: unknown key "discount"'],
    ['a duplicate id', { packs: [{ id: 'p', credits: 1, prices: { USD: 1 } }], plans: [{ id: 'x', credits_per_month: 1, periods: [{ id: 'p', period: 'month', prices: { USD: 1 } }] }] },
      'plans[0].periods[0].id: "p" is used twice'],
  ];
  for (const [what, doc, message] of cases) {
    it(`${what} -> exit 2, the message names the file and the JSON path`, async () => {
      const f = path.join(dir, 'bad.json');
      writeFileSync(f, JSON.stringify(doc));
      const r = await start(f);
      assert.equal(r.code, 2, `exit ${r.code} ${r.signal}; stderr: ${r.stderr.slice(0, 500)}`);
      assert.equal(lastLine(r.stderr), `tollgate: configuration error: TG_CATALOG ${f}: ${message}`);
    });
  }

  it('not JSON -> exit 2 with the line and column', async () => {
    const f = path.join(dir, 'broken.json');
    writeFileSync(f, '{"packs": [\n  {"id": "p",}\n]}');
    const r = await start(f);
    assert.equal(r.code, 2);
    assert.match(lastLine(r.stderr), new RegExp(`^tollgate: configuration error: TG_CATALOG ${f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: line 2 column \\d+: not valid JSON: `));
  });

  it('a missing file -> exit 2 naming it', async () => {
    const f = path.join(dir, 'nope.json');
    const r = await start(f);
    assert.equal(r.code, 2);
    assert.equal(lastLine(r.stderr), `tollgate: configuration error: TG_CATALOG ${f}: No such file or directory`);
  });
});
