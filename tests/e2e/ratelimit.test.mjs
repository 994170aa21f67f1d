// Rate limits (GCRA): exact headers, 429 with Retry-After, no 2x burst, per-key isolation,
// recovery after one emission interval, per-account login limit, and `off`.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, invariantTest, assertError, assertStatus, sleep, uniqueEmail } from './lib/server.mjs';
import { assertDocumented } from './lib/openapi.mjs';

const intHeader = (r, h) => {
  const v = r.headers.get(h);
  assert.ok(v !== null, `${h} present on ${r.method} ${r.path} (${r.status})`);
  assert.match(v, /^\d+$/, `${h} is an integer: ${v}`);
  return Number(v);
};

function assertLimited(r, limit, maxRetryAfter) {
  assertError(r, 429, 'rate_limited');
  const ra = intHeader(r, 'retry-after');
  assert.ok(ra >= 1 && ra <= maxRetryAfter, `Retry-After ${ra} in [1, ${maxRetryAfter}]`);
  assert.equal(intHeader(r, 'x-ratelimit-limit'), limit);
  assert.equal(intHeader(r, 'x-ratelimit-remaining'), 0);
  return ra;
}

describe('rate limits: auth_ip=3/60s, api_query=5/60s', () => {
  let srv;
  let admin;
  before(async () => {
    srv = await startServer({ env: { TG_RATE_LIMITS: 'auth_ip=3/60s,api_query=5/60s' } });
    admin = await srv.admin({ login: false }); // no HTTP sign-in: keeps the auth_ip budget
  });
  after(() => srv?.cleanup());

  let u;
  let loginHeaders;

  it('api_query: exactly 5 admitted with counting-down headers, then 429 with Retry-After', async () => {
    for (let i = 0; i < 5; i++) {
      const r = await srv.get('/api/v1/me', { token: admin.token });
      assertStatus(r, 200, `request ${i + 1}`);
      assertDocumented(r, 'GET', '/api/v1/me');
      assert.equal(intHeader(r, 'x-ratelimit-limit'), 5);
      assert.equal(intHeader(r, 'x-ratelimit-remaining'), 4 - i);
      const reset = intHeader(r, 'x-ratelimit-reset');
      assert.ok(reset >= 1 && reset <= 60, `X-RateLimit-Reset ${reset}`);
    }
    const r = await srv.get('/api/v1/me', { token: admin.token });
    assertLimited(r, 5, 12);
    assertDocumented(r, 'GET', '/api/v1/me');
  });

  it('no 2x burst: waiting less than one emission interval (12 s) still refuses', async () => {
    await sleep(1500);
    for (let i = 0; i < 3; i++) assertLimited(await srv.get('/api/v1/me', { token: admin.token }), 5, 12);
    // Other routes of the same policy share the user's allowance.
    const c = await srv.get('/api/v1/credits', { token: admin.token });
    assertLimited(c, 5, 12);
  });

  it('auth_ip: register + 2 logins admitted, then 429 on login, register and refresh', async () => {
    const email = uniqueEmail('rl');
    const reg = await srv.post('/api/v1/auth/register', { email, password: 'correct horse battery' });
    assertStatus(reg, 201);
    assert.equal(intHeader(reg, 'x-ratelimit-limit'), 3);
    assert.equal(intHeader(reg, 'x-ratelimit-remaining'), 2);
    u = { email, token: reg.body.access_token, refresh: reg.body.refresh_token };
    const l1 = await srv.post('/api/v1/auth/login', { email, password: 'correct horse battery' });
    assertStatus(l1, 200);
    loginHeaders = { limit: intHeader(l1, 'x-ratelimit-limit'), remaining: intHeader(l1, 'x-ratelimit-remaining') };
    const l2 = await srv.post('/api/v1/auth/login', { email, password: 'wrong password!!' });
    assertError(l2, 401, 'invalid_credentials');
    const l3 = await srv.post('/api/v1/auth/login', { email, password: 'correct horse battery' });
    assertLimited(l3, 3, 20);
    assertDocumented(l3, 'POST', '/api/v1/auth/login');
    assertLimited(await srv.post('/api/v1/auth/register', { email: uniqueEmail('rl'), password: 'correct horse battery' }), 3, 20);
    assertLimited(await srv.post('/api/v1/auth/refresh', { refresh_token: u.refresh }), 3, 20);
    await sleep(1000);
    assertLimited(await srv.post('/api/v1/auth/login', { email, password: 'correct horse battery' }), 3, 20);
  });

  it('login (auth_ip 3/60s and auth_account 10/15m) advertises the most restrictive policy', () => {
    assert.ok(loginHeaders, 'the auth_ip test ran');
    // auth_ip had 1 request left after register + this login; auth_account had 9.
    assert.deepEqual(loginHeaders, { limit: 3, remaining: 1 });
  });

  it('api_query is per user: another user is not limited by the first', async () => {
    const r = await srv.get('/api/v1/me', { token: u.token });
    assertStatus(r, 200);
    assert.equal(intHeader(r, 'x-ratelimit-limit'), 5);
    assert.equal(intHeader(r, 'x-ratelimit-remaining'), 4);
  });

  it('routes without a policy carry no rate-limit headers and are never limited', async () => {
    for (let i = 0; i < 10; i++) {
      const r = await srv.get('/health');
      assertStatus(r, 200);
      assert.equal(r.headers.get('x-ratelimit-limit'), null);
    }
  });

  invariantTest(() => srv);
});

describe('rate limits: recovery after one emission interval (api_query=2/2s)', () => {
  let srv;
  let admin;
  before(async () => {
    srv = await startServer({ env: { TG_RATE_LIMITS: 'api_query=2/2s' } });
    admin = await srv.admin({ login: false });
  });
  after(() => srv?.cleanup());

  it('one request per second is regained, never a new burst', async () => {
    assertStatus(await srv.get('/api/v1/me', { token: admin.token }), 200);
    assertStatus(await srv.get('/api/v1/me', { token: admin.token }), 200);
    const t0 = Date.now();
    const ra = assertLimited(await srv.get('/api/v1/me', { token: admin.token }), 2, 1);
    assert.equal(ra, 1);
    await sleep(300);
    assertLimited(await srv.get('/api/v1/me', { token: admin.token }), 2, 1);
    await sleep(Math.max(0, t0 + 1150 - Date.now()));
    const again = await srv.get('/api/v1/me', { token: admin.token });
    assertStatus(again, 200, 'one emission interval later one request is admitted');
    assert.equal(intHeader(again, 'x-ratelimit-remaining'), 0);
    assertLimited(await srv.get('/api/v1/me', { token: admin.token }), 2, 1);
    // After the full period the whole burst is back.
    await sleep(2200);
    const full = await srv.get('/api/v1/me', { token: admin.token });
    assertStatus(full, 200);
    assert.equal(intHeader(full, 'x-ratelimit-remaining'), 1);
  });

  invariantTest(() => srv);
});

describe('rate limits: per-account login limit (auth_account=2/15m)', () => {
  let srv;
  before(async () => {
    srv = await startServer({ env: { TG_RATE_LIMITS: 'auth_account=2/15m,auth_ip=1000/60s' } });
  });
  after(() => srv?.cleanup());

  it('an account is locked after its allowance, whatever the password; others are not', async () => {
    const a = await srv.register({ tag: 'acct-a' });
    const b = await srv.register({ tag: 'acct-b' });
    assertError(await srv.post('/api/v1/auth/login', { email: a.email, password: 'wrong-password-1' }), 401, 'invalid_credentials');
    assertError(await srv.post('/api/v1/auth/login', { email: a.email, password: 'wrong-password-2' }), 401, 'invalid_credentials');
    const locked = await srv.post('/api/v1/auth/login', { email: a.email, password: a.password });
    assertError(locked, 429, 'rate_limited');
    const ra = intHeader(locked, 'retry-after');
    assert.ok(ra >= 1 && ra <= 450, `Retry-After ${ra} (15 min / 2 = 450 s)`);
    // The account key is the normalized email.
    assertError(await srv.post('/api/v1/auth/login', { email: ` ${a.email.toUpperCase()} `, password: a.password }), 429, 'rate_limited');
    await srv.login(b.email, b.password);
  });

  invariantTest(() => srv);
});

describe('rate limits: registrations (register_ip=2/1h) and failed authentication (auth_fail=3/60s)', () => {
  let srv;
  before(async () => {
    srv = await startServer({ env: { TG_RATE_LIMITS: 'register_ip=2/1h,auth_fail=3/60s,auth_ip=1000/60s,api_query=1000/60s' } });
  });
  after(() => srv?.cleanup());

  it('register_ip: two sign-ups from one address, then 429 before any hashing', async () => {
    await srv.register({ tag: 'reg-a' });
    await srv.register({ tag: 'reg-b' });
    const r = await srv.post('/api/v1/auth/register', { email: uniqueEmail('reg-c'), password: 'correct-horse-battery' });
    assertLimited(r, 2, 1800);
  });

  it('auth_fail: three bad credentials, then 429 before any credential is looked at', async () => {
    for (const t of ['garbage-token', 'tg_live_not-a-real-key', 'a.b.c']) {
      assertError(await srv.get('/api/v1/me', { token: t }), 401, 'invalid_token');
    }
    const r = await srv.get('/api/v1/me', { token: 'tg_live_another-guess' });
    assertError(r, 429, 'rate_limited');
    assert.ok(intHeader(r, 'retry-after') >= 1, 'Retry-After');
    // Requests without credentials are not affected.
    assertStatus(await srv.get('/health'), 200);
  });

  invariantTest(() => srv);
});

describe('rate limits: TG_RATE_LIMITS=off', () => {
  let srv;
  before(async () => {
    srv = await startServer({ env: { TG_RATE_LIMITS: 'off' } });
  });
  after(() => srv?.cleanup());

  it('nothing is limited and no rate-limit headers are sent', async () => {
    const admin = await srv.admin({ login: false });
    const rs = await Promise.all(Array.from({ length: 150 }, () => srv.get('/api/v1/me', { token: admin.token })));
    for (const r of rs) {
      assertStatus(r, 200);
      assert.equal(r.headers.get('x-ratelimit-limit'), null);
    }
    for (let i = 0; i < 25; i++) {
      const r = await srv.post('/api/v1/auth/refresh', { refresh_token: `rt_unknown_${i}_xxxxxxxxxxxx` });
      assertError(r, 401, 'invalid_refresh_token');
    }
  });

  invariantTest(() => srv);
});

describe('rate limits: invalid TG_RATE_LIMITS is a start-up error', () => {
  it('bad specs exit 2 naming the variable', async () => {
    const { runUntilExit, JWT_SECRET, freePort } = await import('./lib/server.mjs');
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const path = await import('node:path');
    for (const spec of ['api_query=abc', 'nosuchpolicy=1/60s', 'api_query=5/60x']) {
      const dir = mkdtempSync(path.join(tmpdir(), 'tollgate-e2e-'));
      const r = await runUntilExit(['serve'], { TG_DATA_DIR: dir, TG_JWT_SECRET: JWT_SECRET, TG_LISTEN: `127.0.0.1:${await freePort()}`, TG_RATE_LIMITS: spec });
      rmSync(dir, { recursive: true, force: true });
      assert.equal(r.code, 2, `TG_RATE_LIMITS=${spec}: exit ${r.code}; stderr ${r.stderr.slice(0, 300)}`);
      assert.match(r.stderr, /TG_RATE_LIMITS|rate/i);
    }
  });
});
