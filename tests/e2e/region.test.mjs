// Region detection and region profiles (docs/REGIONS.md): GET and PUT /api/v1/region and
// GET /api/v1/auth/providers against the real binary with MaxMind's GeoIP2 test database
// (tests/data/geoip; its README lists the addresses used here).
//
// The server trusts 127.0.0.1 as its proxy. Requests from 127.0.0.1 are "through the
// proxy"; requests bound to 127.0.0.2 (also loopback on Linux) come from a peer that is not
// trusted, so the very same X-User-Region and X-Forwarded-For headers must change nothing.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import path from 'node:path';
import { writeFileSync, mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { startServer, invariantTest, assertError, assertStatus, repoRoot, runUntilExit, sleep } from './lib/server.mjs';
import { assertDocumented } from './lib/openapi.mjs';

const GEOIP_DIR = path.join(repoRoot, 'tests', 'data', 'geoip');
const GEOIP_DB = path.join(GEOIP_DIR, 'GeoIP2-Country-Test.mmdb');
const UNTRUSTED = '127.0.0.2';

// Addresses of the test database (tests/data/geoip/README.md).
const CN_V6 = '2001:250::1';
const CN_V4 = '175.16.199.1';
const HK_V6 = '2001:2e0::1';
const JP_V6 = '2001:218::1';
const GB_V6 = '2a02:d3c0::1';
const US_V4 = '216.160.83.56';

/** The profiles of a server with WeChat and Google sign-in configured and no payment credentials. */
const CN_PROFILE = { currency: 'CNY', locale: 'zh-CN', sign_in: ['wechat', 'email'], payment: [] };
const GLOBAL_PROFILE = { currency: 'USD', locale: 'en-US', sign_in: ['google', 'email'], payment: [] };

/**
 * One request on a new connection with exactly these header lines (a [name, value] list, so
 * a header may repeat), from local address `from`. Counted and checked like srv.req().
 */
function rawFrom(srv, from, method, urlPath, headerLines = [], { token, json } = {}) {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ port: srv.port, host: '127.0.0.1', localAddress: from });
    let data = Buffer.alloc(0);
    const t = setTimeout(() => {
      sock.destroy();
      reject(new Error(`no complete response within 5 s: ${data.toString('latin1').slice(0, 300)}`));
    }, 5000);
    sock.on('data', (d) => (data = Buffer.concat([data, d])));
    sock.on('error', (e) => {
      clearTimeout(t);
      reject(e);
    });
    sock.on('close', () => {
      clearTimeout(t);
      const text = data.toString('utf8');
      const end = text.indexOf('\r\n\r\n');
      if (end < 0) return reject(new Error(`no response head: ${text.slice(0, 300)}`));
      const [statusLine, ...lines] = text.slice(0, end).split('\r\n');
      const headers = new Headers();
      for (const l of lines) {
        const i = l.indexOf(':');
        headers.append(l.slice(0, i).trim(), l.slice(i + 1).trim());
      }
      const body = text.slice(end + 4);
      let parsed = null;
      try {
        parsed = body ? JSON.parse(body) : null;
      } catch {
        parsed = null;
      }
      const r = { status: Number(statusLine.split(' ')[1]), headers, text: body, body: parsed, method, path: urlPath };
      srv.requests += 1;
      srv.observe(r);
      resolve(r);
    });
    sock.on('connect', () => {
      const head = [`${method} ${urlPath} HTTP/1.1`, 'Host: 127.0.0.1', 'Connection: close'];
      for (const [k, v] of headerLines) head.push(`${k}: ${v}`);
      if (token) head.push(`Authorization: Bearer ${token}`);
      const payload = json === undefined ? '' : JSON.stringify(json);
      if (json !== undefined) head.push('Content-Type: application/json', `Content-Length: ${Buffer.byteLength(payload)}`);
      sock.end(`${head.join('\r\n')}\r\n\r\n${payload}`);
    });
  });
}

/** GET /api/v1/region through the proxy (127.0.0.1) or from `from`, with header lines. */
const regionVia = (srv, from, lines, opts) => rawFrom(srv, from, 'GET', '/api/v1/region', lines, opts);

function assertRegion(r, want, msg) {
  assertStatus(r, 200, msg);
  assert.deepEqual(r.body, want, `${msg}: ${r.text}`);
  assert.equal(r.headers.get('cache-control'), 'private, no-store', `${msg}: the answer depends on the caller`);
  assertDocumented(r, 'GET', '/api/v1/region');
}

/** The access-log line of a request id (the log is flushed every 100 ms). */
async function accessLine(srv, requestId) {
  const deadline = Date.now() + 5000;
  for (;;) {
    const line = srv.logLines().find((l) => l.event === 'http' && l.request_id === requestId);
    if (line) return line;
    assert.ok(Date.now() < deadline, `no access-log line for ${requestId} within 5 s`);
    await sleep(50);
  }
}

describe('region detection behind a trusted proxy, with GeoIP', () => {
  let srv;
  before(async () => {
    srv = await startServer({
      env: {
        TG_GEOIP_DB: GEOIP_DB,
        TG_TRUSTED_PROXIES: '127.0.0.1/32',
        TG_WECHAT_APPID: 'wx00000000e2e',
        TG_WECHAT_SECRET: 'e2e-wechat-secret-not-real',
        TG_GOOGLE_CLIENT_ID: 'e2e.apps.googleusercontent.example',
      },
    });
  });
  after(() => srv?.cleanup());

  it('the database and the profiles are announced at start', () => {
    const lines = srv.logLines();
    const db = lines.find((l) => l.event === 'geoip_db_opened');
    assert.ok(db, 'geoip_db_opened logged');
    assert.equal(db.type, 'GeoIP2-Country');
    const profiles = lines.filter((l) => l.event === 'region_profile').map(({ region, sign_in, payment, currency, locale }) => ({ region, sign_in, payment, currency, locale }));
    assert.deepEqual(profiles, [
      { region: 'GLOBAL', sign_in: 'google,email', payment: '', currency: 'USD', locale: 'en-US' },
      { region: 'CN', sign_in: 'wechat,email', payment: '', currency: 'CNY', locale: 'zh-CN' },
    ]);
    // No payment provider has credentials and the sandbox is off (credentials are set).
    assert.deepEqual(lines.filter((l) => l.event === 'region_no_payment').map((l) => l.region).sort(), ['CN', 'GLOBAL']);
  });

  it('a China user (trusted proxy, CN address) sees WeChat sign-in and CNY', async () => {
    const r = await regionVia(srv, '127.0.0.1', [['X-Forwarded-For', CN_V6]]);
    assertRegion(r, { region: 'CN', country: 'CN', source: 'geoip', profile: CN_PROFILE }, 'CN IPv6 address');
    assert.equal((await accessLine(srv, r.headers.get('x-request-id'))).ip, CN_V6, 'the client address is the forwarded one');
    const v4 = await regionVia(srv, '127.0.0.1', [['X-Forwarded-For', CN_V4]]);
    assertRegion(v4, { region: 'CN', country: 'CN', source: 'geoip', profile: CN_PROFILE }, 'CN IPv4 address');
    const hk = await regionVia(srv, '127.0.0.1', [['X-Forwarded-For', HK_V6]]);
    assertRegion(hk, { region: 'CN', country: 'HK', source: 'geoip', profile: CN_PROFILE }, 'HK is served as China');

    const p = await rawFrom(srv, '127.0.0.1', 'GET', '/api/v1/auth/providers', [['X-Forwarded-For', CN_V6]]);
    assertStatus(p, 200);
    assert.deepEqual(p.body, {
      region: 'CN',
      sign_in: [
        { id: 'wechat', kind: 'oauth', start_url: '/api/v1/auth/oauth/wechat/start' },
        { id: 'email', kind: 'password' },
      ],
    });
    assert.equal(p.headers.get('cache-control'), 'private, no-store');
    assertDocumented(p, 'GET', '/api/v1/auth/providers');
  });

  it('a global user sees Google sign-in and USD', async () => {
    for (const [ip, country] of [[US_V4, 'US'], [JP_V6, 'JP'], [GB_V6, 'GB']]) {
      const r = await regionVia(srv, '127.0.0.1', [['X-Forwarded-For', ip]]);
      assertRegion(r, { region: 'GLOBAL', country, source: 'geoip', profile: GLOBAL_PROFILE }, `${country} address`);
    }
    const p = await rawFrom(srv, '127.0.0.1', 'GET', '/api/v1/auth/providers', [['X-Forwarded-For', US_V4]]);
    assert.deepEqual(p.body, {
      region: 'GLOBAL',
      sign_in: [
        { id: 'google', kind: 'oauth', start_url: '/api/v1/auth/oauth/google/start', id_token_url: '/api/v1/auth/google/id-token' },
        { id: 'email', kind: 'password' },
      ],
    });
  });

  it('an address the database does not know gets the default region', async () => {
    const r = await regionVia(srv, '127.0.0.1', [['X-Forwarded-For', '10.0.0.1']]);
    assertRegion(r, { region: 'GLOBAL', country: null, source: 'default', profile: GLOBAL_PROFILE }, 'private address');
    const direct = await regionVia(srv, '127.0.0.1', []);
    assertRegion(direct, { region: 'GLOBAL', country: null, source: 'default', profile: GLOBAL_PROFILE }, 'the proxy itself');
  });

  it('X-User-Region from the trusted proxy wins over GeoIP', async () => {
    const cases = [
      [[['X-User-Region', 'CN'], ['X-Forwarded-For', US_V4]], { region: 'CN', country: 'US', source: 'header', profile: CN_PROFILE }],
      [[['X-User-Region', 'cn']], { region: 'CN', country: null, source: 'header', profile: CN_PROFILE }],
      [[['X-User-Region', 'GLOBAL'], ['X-Forwarded-For', CN_V6]], { region: 'GLOBAL', country: 'CN', source: 'header', profile: GLOBAL_PROFILE }],
      // a country code, as nginx's GeoIP2 module gives it, maps through TG_REGION_CN_COUNTRIES
      [[['X-User-Region', 'MO'], ['X-Forwarded-For', US_V4]], { region: 'CN', country: 'MO', source: 'header', profile: CN_PROFILE }],
      [[['X-User-Region', 'de']], { region: 'GLOBAL', country: 'DE', source: 'header', profile: GLOBAL_PROFILE }],
      // repeated: the last line is the one nearest to us
      [[['X-User-Region', 'GLOBAL'], ['X-User-Region', 'CN']], { region: 'CN', country: null, source: 'header', profile: CN_PROFILE }],
    ];
    for (const [lines, want] of cases) {
      assertRegion(await regionVia(srv, '127.0.0.1', lines), want, JSON.stringify(lines));
    }
  });

  it('values of X-User-Region that are neither a region nor a country code are ignored', async () => {
    for (const v of ['China', 'C', '--', 'CN,GLOBAL', 'GLOBAL;q=1', '中国', 'EU1', 'x'.repeat(200)]) {
      const r = await regionVia(srv, '127.0.0.1', [['X-User-Region', v], ['X-Forwarded-For', CN_V6]]);
      assertRegion(r, { region: 'CN', country: 'CN', source: 'geoip', profile: CN_PROFILE }, `X-User-Region: ${v}`);
    }
  });

  it('the same headers from a peer that is not a trusted proxy change nothing', async () => {
    const want = { region: 'GLOBAL', country: null, source: 'default', profile: GLOBAL_PROFILE };
    const plain = await regionVia(srv, UNTRUSTED, []);
    assertRegion(plain, want, 'untrusted peer without headers');
    assert.equal((await accessLine(srv, plain.headers.get('x-request-id'))).ip, UNTRUSTED, 'the test really connects from 127.0.0.2');
    for (const lines of [
      [['X-User-Region', 'CN']],
      [['X-Forwarded-For', CN_V6]],
      [['X-Forwarded-For', CN_V4]],
      [['X-User-Region', 'CN'], ['X-Forwarded-For', CN_V6]],
      [['X-User-Region', 'HK'], ['X-Forwarded-For', `${HK_V6}, 127.0.0.1`]],
      [['X-Forwarded-For', CN_V6], ['X-Forwarded-For', '127.0.0.1']],
    ]) {
      const r = await regionVia(srv, UNTRUSTED, lines);
      assertRegion(r, want, `untrusted peer with ${JSON.stringify(lines)}`);
      assert.equal((await accessLine(srv, r.headers.get('x-request-id'))).ip, UNTRUSTED, 'X-Forwarded-For ignored too');
    }
    const p = await rawFrom(srv, UNTRUSTED, 'GET', '/api/v1/auth/providers', [['X-User-Region', 'CN'], ['X-Forwarded-For', CN_V6]]);
    assert.deepEqual(p.body.region, 'GLOBAL');
    assert.deepEqual(p.body.sign_in.map((m) => m.id), ['google', 'email']);
  });

  it('many X-User-Region lines from an untrusted peer change nothing', async () => {
    const lines = [];
    for (let i = 0; i < 60; i++) lines.push(['X-User-Region', ['CN', 'cn', 'HK', 'MO', 'GLOBAL'][i % 5]]);
    lines.push(['X-User-Region', 'CN']);
    const r = await regionVia(srv, UNTRUSTED, [...lines, ['X-Forwarded-For', CN_V6]]);
    assertRegion(r, { region: 'GLOBAL', country: null, source: 'default', profile: GLOBAL_PROFILE }, '61 lines, untrusted');
    // From the proxy the last line counts.
    const t = await regionVia(srv, '127.0.0.1', [...lines.slice(0, 60), ['X-User-Region', 'GLOBAL'], ['X-Forwarded-For', CN_V6]]);
    assertRegion(t, { region: 'GLOBAL', country: 'CN', source: 'header', profile: GLOBAL_PROFILE }, '61 lines, trusted: the last');
  });

  it("a signed-in user's saved choice wins over headers and GeoIP, survives a restart, and null clears it", async () => {
    const u = await srv.register();
    const chinaHeaders = [['X-User-Region', 'CN'], ['X-Forwarded-For', CN_V6]];
    // Signed in but no choice yet: detected like anyone.
    assertRegion(await regionVia(srv, '127.0.0.1', chinaHeaders, { token: u.token }),
      { region: 'CN', country: 'CN', source: 'header', profile: CN_PROFILE }, 'no choice yet');

    const put = await rawFrom(srv, '127.0.0.1', 'PUT', '/api/v1/region', chinaHeaders, { token: u.token, json: { region: 'GLOBAL' } });
    assertStatus(put, 200);
    assert.deepEqual(put.body, { region: 'GLOBAL', country: 'CN', source: 'user', profile: GLOBAL_PROFILE });
    assert.equal(put.headers.get('cache-control'), 'private, no-store');
    assertDocumented(put, 'PUT', '/api/v1/region');

    const want = { region: 'GLOBAL', country: 'CN', source: 'user', profile: GLOBAL_PROFILE };
    assertRegion(await regionVia(srv, '127.0.0.1', chinaHeaders, { token: u.token }), want, 'the choice beats header and GeoIP');
    const p = await rawFrom(srv, '127.0.0.1', 'GET', '/api/v1/auth/providers', chinaHeaders, { token: u.token });
    assert.deepEqual(p.body.sign_in.map((m) => m.id), ['google', 'email'], 'sign-in methods follow the choice');
    const me = await srv.get('/api/v1/me', { token: u.token });
    assert.equal(me.body.region, 'GLOBAL', 'GET /me shows the saved choice');
    // Anonymous callers with the same headers are not affected.
    assertRegion(await regionVia(srv, '127.0.0.1', chinaHeaders), { region: 'CN', country: 'CN', source: 'header', profile: CN_PROFILE }, 'anonymous');

    // A clean restart on the same data folder. The first run's log is checked here (exit 0,
    // JSON lines, one access line per request) and kept for the final secret scan.
    assert.deepEqual(await srv.stop(), { code: 0, signal: null });
    assert.ok(srv.logLines().filter((l) => l.event === 'http').length >= srv.requests, 'access lines of the first run');
    srv.killedStderr = (srv.killedStderr ?? '') + srv.stderr;
    srv.requests = 0;
    await srv.start();
    assertRegion(await regionVia(srv, '127.0.0.1', chinaHeaders, { token: u.token }), want, 'after a restart');

    // The other way round, from an untrusted peer: only the choice counts.
    const cn = await rawFrom(srv, UNTRUSTED, 'PUT', '/api/v1/region', chinaHeaders, { token: u.token, json: { region: 'CN' } });
    assert.deepEqual(cn.body, { region: 'CN', country: null, source: 'user', profile: CN_PROFILE });
    assertRegion(await regionVia(srv, UNTRUSTED, [], { token: u.token }), { region: 'CN', country: null, source: 'user', profile: CN_PROFILE }, 'CN choice, untrusted peer');

    const cleared = await rawFrom(srv, '127.0.0.1', 'PUT', '/api/v1/region', [['X-Forwarded-For', US_V4]], { token: u.token, json: { region: null } });
    assertStatus(cleared, 200);
    assert.deepEqual(cleared.body, { region: 'GLOBAL', country: 'US', source: 'geoip', profile: GLOBAL_PROFILE });
    assertRegion(await regionVia(srv, '127.0.0.1', chinaHeaders, { token: u.token }), { region: 'CN', country: 'CN', source: 'header', profile: CN_PROFILE }, 'cleared: detected again');
    assert.equal((await srv.get('/api/v1/me', { token: u.token })).body.region, null, 'GET /me: no choice');

    // An API key acts for its user.
    const key = await srv.post('/api/v1/api-keys', { name: 'region' }, { token: u.token });
    assertStatus(key, 201);
    const byKey = await srv.req('PUT', '/api/v1/region', { json: { region: 'CN' }, token: key.body.key });
    assertStatus(byKey, 200);
    assert.equal(byKey.body.source, 'user');
    assert.equal((await srv.get('/api/v1/region', { token: key.body.key })).body.region, 'CN');
  });

  it('PUT refuses anything but "CN", "GLOBAL" or null, and needs a signed-in user', async () => {
    const u = await srv.register();
    for (const body of [{ region: 'EU' }, { region: 'cn' }, { region: 'Global' }, { region: '' }, { region: 'CN ' }, { region: 1 }, { region: true }, { region: ['CN'] }, { region: { id: 'CN' } }, {}]) {
      const r = await srv.req('PUT', '/api/v1/region', { json: body, token: u.token });
      assertError(r, 400, 'validation_failed', JSON.stringify(body));
      assert.equal(r.body.error.details.field, 'region', JSON.stringify(body));
    }
    const extra = await srv.req('PUT', '/api/v1/region', { json: { region: 'CN', country: 'CN' }, token: u.token });
    assertError(extra, 400, 'validation_failed');
    assert.equal(extra.body.error.details.field, 'country');
    assertError(await srv.req('PUT', '/api/v1/region', { body: '{"region":', headers: { 'content-type': 'application/json' }, token: u.token }), 400, 'invalid_json');
    assertError(await srv.req('PUT', '/api/v1/region', { body: '"CN"', headers: { 'content-type': 'application/json' }, token: u.token }), 400, 'invalid_json');
    assertError(await srv.req('PUT', '/api/v1/region', { body: 'region=CN', headers: { 'content-type': 'application/x-www-form-urlencoded' }, token: u.token }), 415, 'unsupported_media_type');
    assertError(await srv.req('PUT', '/api/v1/region', { json: { region: 'CN' } }), 401, 'unauthorized');
    assertError(await srv.req('PUT', '/api/v1/region', { json: { region: 'CN' }, token: 'not-a-token' }), 401, 'invalid_token');
    // Nothing was saved by the refused requests.
    assert.equal((await srv.get('/api/v1/me', { token: u.token })).body.region, null);
    // An invalid credential on the optional-auth GETs is a 401, not an anonymous answer.
    assertError(await srv.get('/api/v1/region', { token: 'not-a-token' }), 401, 'invalid_token');
    assertError(await srv.get('/api/v1/auth/providers', { token: 'not-a-token' }), 401, 'invalid_token');
  });

  invariantTest(() => srv);
});

describe('region out of the box: no GeoIP database, no trusted proxy, no credentials', () => {
  let srv;
  before(async () => {
    srv = await startServer({ env: { TG_DEFAULT_REGION: 'CN' } });
  });
  after(() => srv?.cleanup());

  it('the sandbox fills both profiles and headers are not believed', async () => {
    const want = {
      region: 'CN',
      country: null,
      source: 'default',
      profile: { currency: 'CNY', locale: 'zh-CN', sign_in: ['email', 'sandbox'], payment: ['sandbox'] },
    };
    assertRegion(await srv.get('/api/v1/region'), want, 'default CN');
    assertRegion(await srv.get('/api/v1/region', { headers: { 'x-user-region': 'GLOBAL', 'x-forwarded-for': US_V4 } }), want, 'headers without TG_TRUSTED_PROXIES');
    const p = await srv.get('/api/v1/auth/providers');
    assert.deepEqual(p.body, {
      region: 'CN',
      sign_in: [
        { id: 'email', kind: 'password' },
        { id: 'sandbox', kind: 'oauth', start_url: '/api/v1/auth/oauth/sandbox/start' },
      ],
    });
    // The advertised start_url is the browser sign-in route of that provider.
    const start = await srv.get(p.body.sign_in[1].start_url);
    assertStatus(start, 302, 'the sandbox sign-in starts where the list says');
    const u = await srv.register();
    const put = await srv.req('PUT', '/api/v1/region', { json: { region: 'GLOBAL' }, token: u.token });
    assert.deepEqual(put.body, {
      region: 'GLOBAL',
      country: null,
      source: 'user',
      profile: { currency: 'USD', locale: 'en-US', sign_in: ['email', 'sandbox'], payment: ['sandbox'] },
    });
  });

  invariantTest(() => srv);
});

describe('region settings', () => {
  let srv;
  before(async () => {
    srv = await startServer({
      env: {
        TG_GEOIP_DB: GEOIP_DB,
        TG_TRUSTED_PROXIES: '127.0.0.1/32',
        TG_SANDBOX: 'on',
        TG_REGION_CN_COUNTRIES: 'cn, jp',
        TG_REGION_CN_SIGN_IN: 'email',
        TG_REGION_CN_CURRENCY: 'JPY',
        TG_REGION_CN_LOCALE: 'ja-JP',
        TG_REGION_GLOBAL_PAYMENT: 'creem,stripe',
        TG_REGION_GLOBAL_SIGN_IN: 'email,google',
      },
    });
  });
  after(() => srv?.cleanup());

  it('the country list and the profiles follow the configuration', async () => {
    const cn = { currency: 'JPY', locale: 'ja-JP', sign_in: ['email', 'sandbox'], payment: ['sandbox'] };
    const global = { currency: 'USD', locale: 'en-US', sign_in: ['email', 'sandbox'], payment: ['sandbox'] };
    assertRegion(await regionVia(srv, '127.0.0.1', [['X-Forwarded-For', JP_V6]]), { region: 'CN', country: 'JP', source: 'geoip', profile: cn }, 'JP listed');
    assertRegion(await regionVia(srv, '127.0.0.1', [['X-Forwarded-For', HK_V6]]), { region: 'GLOBAL', country: 'HK', source: 'geoip', profile: global }, 'HK not listed');
    assertRegion(await regionVia(srv, '127.0.0.1', [['X-User-Region', 'jp']]), { region: 'CN', country: 'JP', source: 'header', profile: cn }, 'header country JP');
  });

  invariantTest(() => srv);
});

describe('region start-up errors', () => {
  let dir;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'tollgate-region-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const start = (env) => runUntilExit(['serve'], { TG_DATA_DIR: path.join(dir, 'data'), TG_LISTEN: '127.0.0.1:1', ...env });

  it('a missing, corrupt or truncated GeoIP database stops start-up with a clear message', async () => {
    const junk = path.join(dir, 'junk.mmdb');
    writeFileSync(junk, Buffer.alloc(4096, 0x5a));
    const cut = path.join(dir, 'cut.mmdb');
    writeFileSync(cut, readFileSync(GEOIP_DB).subarray(0, 8192));
    const cases = [
      [path.join(dir, 'missing.mmdb'), /configuration error: TG_GEOIP_DB: cannot open .*missing\.mmdb: No such file or directory/],
      [dir, /configuration error: TG_GEOIP_DB: .* is not a regular file/],
      [junk, /configuration error: TG_GEOIP_DB: .*junk\.mmdb is not a usable MaxMind DB/],
      [cut, /configuration error: TG_GEOIP_DB: .*cut\.mmdb is not a usable MaxMind DB/],
    ];
    for (const [file, re] of cases) {
      const r = await start({ TG_GEOIP_DB: file });
      assert.equal(r.code, 2, `${file}: exit 2; stderr: ${r.stderr}`);
      assert.match(r.stderr, re);
    }
  });

  it('unknown providers and malformed settings stop start-up, naming the key', async () => {
    const cases = [
      [{ TG_REGION_CN_SIGN_IN: 'wechat,qq' }, "TG_REGION_CN_SIGN_IN: unknown sign-in method 'qq'"],
      [{ TG_REGION_GLOBAL_PAYMENT: 'stripe,venmo' }, "TG_REGION_GLOBAL_PAYMENT: unknown payment provider 'venmo'"],
      [{ TG_REGION_GLOBAL_SIGN_IN: 'google,google' }, 'TG_REGION_GLOBAL_SIGN_IN: google is listed twice'],
      [{ TG_REGION_CN_COUNTRIES: 'CN,China' }, "TG_REGION_CN_COUNTRIES: 'China' is not a two-letter country code"],
      [{ TG_REGION_CN_CURRENCY: 'rmb' }, "TG_REGION_CN_CURRENCY: 'rmb' is not an ISO 4217 code"],
      [{ TG_REGION_GLOBAL_LOCALE: 'en_US' }, "TG_REGION_GLOBAL_LOCALE: 'en_US' is not a language tag"],
      [{ TG_REGION_CN_PAYMNT: 'alipay' }, 'unknown setting TG_REGION_CN_PAYMNT (did you mean TG_REGION_CN_PAYMENT?)'],
    ];
    for (const [env, msg] of cases) {
      const r = await start(env);
      assert.equal(r.code, 2, `${JSON.stringify(env)}: exit 2; stderr: ${r.stderr}`);
      assert.ok(r.stderr.includes(msg), `${JSON.stringify(env)}: stderr ${r.stderr}`);
    }
  });
});
