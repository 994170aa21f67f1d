// Operations endpoints, security headers, CORS, unknown routes and methods.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, invariantTest, assertError, assertStatus, runCli, SECURITY_HEADERS } from './lib/server.mjs';
import { assertDocumented } from './lib/openapi.mjs';

const ALLOWED = 'https://app.example.com';
const ALLOWED2 = 'https://admin.example.com:8443';

describe('health, ready, metrics, headers, CORS', () => {
  let srv;
  before(async () => {
    srv = await startServer({ env: { TG_CORS_ORIGINS: `${ALLOWED},${ALLOWED2}` } });
  });
  after(() => srv?.cleanup());

  it('GET /health answers ok with the binary version', async () => {
    const r = await srv.get('/health');
    assertStatus(r, 200);
    assert.match(r.headers.get('content-type'), /^application\/json/);
    assert.equal(r.body.status, 'ok');
    assertDocumented(r, 'GET', '/health');
    const v = runCli(['version']);
    assert.equal(v.code, 0, v.stderr);
    assert.ok(v.stdout.includes(r.body.version), `tollgate version (${v.stdout.trim()}) names ${r.body.version}`);
  });

  it('GET /ready answers ready', async () => {
    const r = await srv.get('/ready');
    assertStatus(r, 200);
    assert.deepEqual(r.body, { status: 'ready' });
    assertDocumented(r, 'GET', '/ready');
  });

  it('GET /metrics is Prometheus text with the documented families, labelled by route pattern', async () => {
    const marker = `nope-${Date.now()}`;
    await srv.get(`/api/v1/${marker}`);
    await srv.get('/health');
    const r = await srv.get('/metrics');
    assertStatus(r, 200);
    assert.match(r.headers.get('content-type'), /^text\/plain/);
    assertDocumented(r, 'GET', '/metrics');
    const lines = r.text.split('\n').filter((l) => l && !l.startsWith('#'));
    const sample = /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*",?)*\})? -?([0-9.e+-]+|NaN|\+Inf|-Inf)( [0-9]+)?$/;
    for (const l of lines) assert.match(l, sample, `valid exposition line: ${l}`);
    // The route label is "METHOD PATTERN" (e.g. "GET /health").
    const healthLine = lines.find((l) => l.startsWith('tollgate_http_requests_total{') && l.includes('route="GET /health"') && l.includes('status="200"'));
    assert.ok(healthLine, 'tollgate_http_requests_total{route="GET /health",status="200"} present');
    assert.ok(Number(healthLine.split(' ').pop()) >= 1);
    assert.ok(lines.some((l) => l.startsWith('tollgate_http_request_duration_seconds_bucket{')), 'duration histogram');
    assert.ok(lines.some((l) => l.startsWith('tollgate_http_request_duration_seconds_bucket{') && l.includes('le="+Inf"')), 'histogram has +Inf bucket');
    assert.ok(lines.some((l) => /^tollgate_db_errors_total(\{[^}]*\})? /.test(l)), 'tollgate_db_errors_total');
    assert.ok(lines.some((l) => /^tollgate_ledger_/.test(l)), 'ledger totals (tollgate_ledger_*)');
    // Outbound provider calls (src/net): one sample per outcome, and the retries.
    for (const outcome of ['2xx', '3xx', '4xx', '5xx', 'failed']) {
      assert.ok(lines.some((l) => l.startsWith(`tollgate_outbound_calls_total{outcome="${outcome}"} `)), `outbound calls ${outcome}`);
    }
    assert.ok(lines.some((l) => /^tollgate_outbound_retries_total \d+$/.test(l)), 'tollgate_outbound_retries_total');
    assert.ok(!r.text.includes(marker), 'raw unmatched paths never become label values');
    // Every # TYPE names a family that has samples.
    for (const m of r.text.matchAll(/^# TYPE (\S+) (counter|gauge|histogram|summary|untyped)$/gm)) {
      assert.ok(lines.some((l) => l.startsWith(m[1])), `samples for ${m[1]}`);
    }
  });

  it('security headers are on every kind of response', async () => {
    const responses = [
      await srv.get('/health'),
      await srv.get('/api/v1/me'),
      await srv.get('/api/v1/does-not-exist'),
      await srv.req('DELETE', '/health'),
      await srv.req('POST', '/api/v1/auth/login', { body: 'x', headers: { 'content-type': 'text/plain' } }),
      await srv.get('/metrics'),
    ];
    for (const r of responses) {
      for (const h of SECURITY_HEADERS) assert.ok(r.headers.get(h), `${h} on ${r.method} ${r.path} (${r.status})`);
      assert.equal(r.headers.get('x-frame-options'), 'DENY');
      assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
      assert.match(r.headers.get('strict-transport-security'), /max-age=\d+/);
      assert.ok(r.headers.get('x-request-id'), 'X-Request-Id');
      assert.equal(r.headers.get('access-control-allow-origin'), null, 'no CORS header without Origin');
    }
    const ids = new Set(responses.map((r) => r.headers.get('x-request-id')));
    assert.equal(ids.size, responses.length, 'request ids are unique');
  });

  it('unknown route -> 404 JSON; wrong method -> 405 JSON', async () => {
    assertError(await srv.get('/api/v1/does-not-exist'), 404, 'not_found');
    assertError(await srv.get('/api/v1/me/extra/segments'), 404, 'not_found');
    assertError(await srv.get('/api/v2/me'), 404, 'not_found');
    const r = await srv.req('DELETE', '/api/v1/auth/login');
    assertError(r, 405, 'method_not_allowed');
    const allow = r.headers.get('allow');
    if (allow !== null) assert.match(allow, /POST/, 'Allow lists POST');
    assertError(await srv.req('PUT', '/health'), 405, 'method_not_allowed');
    assertError(await srv.req('POST', '/api/v1/credits', { json: {} }), 405, 'method_not_allowed');
    assertError(await srv.req('GET', '/api/v1/auth/register'), 405, 'method_not_allowed');
  });

  it('CORS: an allowed origin is echoed (never *), with Vary: Origin', async () => {
    for (const origin of [ALLOWED, ALLOWED2]) {
      const r = await srv.get('/health', { headers: { origin } });
      assertStatus(r, 200);
      assert.equal(r.headers.get('access-control-allow-origin'), origin);
      assert.match(r.headers.get('vary') ?? '', /origin/i);
    }
    // Errors carry it too, so browsers can read the error body.
    const e = await srv.get('/api/v1/me', { headers: { origin: ALLOWED } });
    assertError(e, 401, 'unauthorized');
    assert.equal(e.headers.get('access-control-allow-origin'), ALLOWED);
  });

  it('CORS: other origins get no Access-Control-Allow-Origin', async () => {
    for (const origin of ['https://evil.example.com', 'null', 'https://app.example.com.evil.com', 'http://app.example.com', 'https://APP.example.com', `${ALLOWED}/`, 'https://admin.example.com']) {
      const r = await srv.get('/health', { headers: { origin } });
      assertStatus(r, 200);
      assert.equal(r.headers.get('access-control-allow-origin'), null, `origin ${origin}`);
      assert.equal(r.headers.get('access-control-allow-credentials'), null, `origin ${origin}`);
    }
  });

  it('CORS: preflight from an allowed origin -> 204 with methods and headers', async () => {
    const r = await srv.req('OPTIONS', '/api/v1/me', {
      headers: { origin: ALLOWED, 'access-control-request-method': 'PATCH', 'access-control-request-headers': 'authorization, content-type' },
    });
    assertStatus(r, 204);
    assert.equal(r.text, '');
    assert.equal(r.headers.get('access-control-allow-origin'), ALLOWED);
    assert.match(r.headers.get('access-control-allow-methods') ?? '', /PATCH/i);
    const ah = (r.headers.get('access-control-allow-headers') ?? '').toLowerCase();
    assert.ok(ah.includes('authorization') && ah.includes('content-type'), `allow-headers: ${ah}`);
    const maxAge = r.headers.get('access-control-max-age');
    if (maxAge !== null) assert.match(maxAge, /^\d+$/);
  });

  it('CORS: preflight from another origin grants nothing', async () => {
    const r = await srv.req('OPTIONS', '/api/v1/me', {
      headers: { origin: 'https://evil.example.com', 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' },
    });
    // Answered like any OPTIONS (204 with Allow), with no CORS grant.
    assertStatus(r, 204);
    assert.equal(r.text, '');
    assert.equal(r.headers.get('allow'), 'GET, HEAD, PATCH, OPTIONS');
    assert.equal(r.headers.get('access-control-allow-origin'), null);
    assert.equal(r.headers.get('access-control-allow-methods'), null);
    assert.equal(r.headers.get('access-control-allow-headers'), null);
  });

  invariantTest(() => srv);
});

describe('CORS with no TG_CORS_ORIGINS', () => {
  let srv;
  before(async () => {
    srv = await startServer();
  });
  after(() => srv?.cleanup());

  it('no origin is allowed by default', async () => {
    const r = await srv.get('/health', { headers: { origin: ALLOWED } });
    assertStatus(r, 200);
    assert.equal(r.headers.get('access-control-allow-origin'), null);
    const p = await srv.req('OPTIONS', '/api/v1/me', { headers: { origin: ALLOWED, 'access-control-request-method': 'GET' } });
    assertStatus(p, 204);
    assert.equal(p.text, '');
    assert.equal(p.headers.get('allow'), 'GET, HEAD, PATCH, OPTIONS');
    assert.equal(p.headers.get('access-control-allow-origin'), null);
  });

  invariantTest(() => srv);
});
