// Authorization freshness: every request sees the account's current role, disabled flag and
// sessions. Each test is named after what broke before (a demoted admin kept admin rights, a
// logged-out token minted API keys, a login that raced a password change won, two password
// changes both succeeded, the same Idempotency-Key applied twice).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, invariantTest, assertError, assertStatus, strongPassword } from './lib/server.mjs';
import { subscribeSandbox } from './lib/pay.mjs';
import { assertDocumented } from './lib/openapi.mjs';

describe('authorization freshness', () => {
  let srv;
  let root;
  before(async () => {
    // Credits at registration: the Idempotency-Key tests count from the signup grant.
    srv = await startServer({ env: { TG_RATE_LIMITS: 'off', TG_SIGNUP_CREDITS_REQUIRE_VERIFIED: 'off' } });
    root = await srv.admin();
  });
  after(() => srv?.cleanup());

  const mintKey = (token, name = 'k') => srv.post('/api/v1/api-keys', { name }, { token });

  it('a demoted admin loses admin routes on the next request (same token)', async () => {
    const other = await srv.admin();
    assertStatus(await srv.get('/api/v1/admin/audit-log', { token: other.token }), 200);
    const r = await srv.patch(`/api/v1/admin/users/${other.id}`, { role: 'user' }, { token: root.token });
    assertStatus(r, 200);
    assert.equal(r.body.user.role, 'user');
    assertDocumented(r, 'PATCH', '/api/v1/admin/users/{id}');
    // The role change bumps the epoch: the old token is invalid altogether, not merely demoted.
    assertError(await srv.get('/api/v1/admin/audit-log', { token: other.token }), 401, 'invalid_token');
    const again = await srv.login(other.email, other.password);
    assert.equal(again.user.role, 'user');
    assertError(await srv.get('/api/v1/admin/audit-log', { token: again.token }), 403, 'forbidden');
    // The change is audited with old and new values.
    const log = await srv.get('/api/v1/admin/audit-log?limit=10', { token: root.token });
    const row = log.body.data.find((e) => e.action === 'user.update' && e.target_id === other.id);
    assert.ok(row, 'user.update audit row');
    assert.deepEqual(row.details, { old: { role: 'admin', disabled: false }, new: { role: 'user', disabled: false } });
    assert.equal(row.actor_id, root.id);
  });

  it('an admin cannot demote or disable themselves', async () => {
    const r = await srv.patch(`/api/v1/admin/users/${root.id}`, { role: 'user' }, { token: root.token });
    assertError(r, 422, 'unprocessable');
    assertError(await srv.patch(`/api/v1/admin/users/${root.id}`, { disabled: true }, { token: root.token }), 422, 'unprocessable');
    assertError(await srv.patch(`/api/v1/admin/users/${root.id}`, {}, { token: root.token }), 400, 'validation_failed');
    assertError(await srv.patch(`/api/v1/admin/users/${root.id}`, { role: 'root' }, { token: root.token }), 400, 'validation_failed');
    assertError(await srv.patch(`/api/v1/admin/users/${root.id}`, { disabled: 'yes' }, { token: root.token }), 400, 'validation_failed');
  });

  it('disabling a user stops its access tokens, API keys and refresh tokens at once', async () => {
    const u = await srv.register({ tag: 'disable' });
    const key = await mintKey(u.token);
    assertStatus(key, 201);
    assertStatus(await srv.get('/api/v1/credits', { token: key.body.key }), 200);
    assertStatus(await srv.patch(`/api/v1/admin/users/${u.id}`, { disabled: true }, { token: root.token }), 200);
    assertError(await srv.get('/api/v1/credits', { token: u.token }), 401, 'invalid_token');
    assertError(await srv.get('/api/v1/credits', { token: key.body.key }), 401, 'invalid_token');
    assertError(await srv.post('/api/v1/auth/refresh', { refresh_token: u.refresh_token }), 401, 'invalid_refresh_token');
    assertError(await srv.post('/api/v1/auth/login', { email: u.email, password: u.password }), 401, 'invalid_credentials');
    // Enabled again: the key works again, the old session does not come back.
    assertStatus(await srv.patch(`/api/v1/admin/users/${u.id}`, { disabled: false }, { token: root.token }), 200);
    assertStatus(await srv.get('/api/v1/credits', { token: key.body.key }), 200);
    assertError(await srv.get('/api/v1/credits', { token: u.token }), 401, 'invalid_token');
    assertStatus(await srv.post('/api/v1/auth/login', { email: u.email, password: u.password }), 200);
  });

  it('after logout the old access token cannot mint an API key', async () => {
    const u = await srv.register({ tag: 'logout' });
    const second = await srv.login(u.email, u.password);
    assertStatus(await srv.post('/api/v1/auth/logout', { refresh_token: u.refresh_token }), 204);
    assertError(await mintKey(u.token), 401, 'invalid_token');
    // Other sessions lose their access token too, and get a new one by refreshing.
    assertError(await srv.get('/api/v1/me', { token: second.token }), 401, 'invalid_token');
    const fresh = await srv.post('/api/v1/auth/refresh', { refresh_token: second.refresh_token });
    assertStatus(fresh, 200);
    assertStatus(await mintKey(fresh.body.access_token), 201);
  });

  it('after a password change elsewhere the old token cannot mint an API key', async () => {
    const u = await srv.register({ tag: 'pwchange' });
    const other = await srv.login(u.email, u.password);
    const next = strongPassword();
    const r = await srv.post('/api/v1/me/password', { current_password: u.password, new_password: next }, { token: other.token });
    assertStatus(r, 200);
    assertError(await mintKey(u.token), 401, 'invalid_token');
    assertError(await srv.post('/api/v1/auth/refresh', { refresh_token: u.refresh_token }), 401, 'invalid_refresh_token');
    assertStatus(await mintKey(r.body.access_token), 201, 'the session the change handed out works');
  });

  it('two concurrent password changes: exactly one succeeds', async () => {
    for (let round = 0; round < 5; round++) {
      const u = await srv.register({ tag: `pw2-${round}` });
      const a = strongPassword();
      const b = strongPassword();
      const [ra, rb] = await Promise.all([
        srv.post('/api/v1/me/password', { current_password: u.password, new_password: a }, { token: u.token }),
        srv.post('/api/v1/me/password', { current_password: u.password, new_password: b }, { token: u.token }),
      ]);
      const statuses = [ra.status, rb.status].sort();
      assert.deepEqual(statuses, [200, 401], `round ${round}: ${ra.status} ${ra.text.slice(0, 80)} / ${rb.status} ${rb.text.slice(0, 80)}`);
      const winner = ra.status === 200 ? a : b;
      const loser = ra.status === 200 ? b : a;
      assertError(ra.status === 200 ? rb : ra, 401, 'invalid_credentials');
      assertStatus(await srv.post('/api/v1/auth/login', { email: u.email, password: winner }), 200);
      assertError(await srv.post('/api/v1/auth/login', { email: u.email, password: loser }), 401, 'invalid_credentials');
    }
  });

  it('a login racing a password change never leaves a working session behind', async () => {
    for (let round = 0; round < 8; round++) {
      const u = await srv.register({ tag: `race-${round}` });
      const next = strongPassword();
      const [login, change] = await Promise.all([
        srv.post('/api/v1/auth/login', { email: u.email, password: u.password }),
        srv.post('/api/v1/me/password', { current_password: u.password, new_password: next }, { token: u.token }),
      ]);
      assertStatus(change, 200, `round ${round}: the change`);
      if (login.status === 200) {
        // It signed in with the old password before the change committed: the change ended it.
        assertError(await srv.get('/api/v1/me', { token: login.body.access_token }), 401, 'invalid_token');
        assertError(await srv.post('/api/v1/auth/refresh', { refresh_token: login.body.refresh_token }), 401, 'invalid_refresh_token');
      } else {
        assertError(login, 401, 'invalid_credentials', `round ${round}: the login lost the race`);
      }
      assertStatus(await srv.get('/api/v1/me', { token: change.body.access_token }), 200);
    }
  });

  it('the same Idempotency-Key with another body is always 409, also concurrently (200 pairs)', async () => {
    const u = await srv.register({ tag: 'idem-pairs' });
    await subscribeSandbox(srv, u.token, 'pro_monthly'); // plan credits need a plan month running
    const before = (await srv.get('/api/v1/credits', { token: u.token })).body;
    const pairs = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        Promise.all([
          srv.adjust(root.token, u.id, 1, { bucket: 'plan', reason: `pair ${i}`, idempotencyKey: `pair-${i}` }),
          srv.adjust(root.token, u.id, 1, { bucket: 'paid', reason: `pair ${i}`, idempotencyKey: `pair-${i}` }),
        ]),
      ),
    );
    let plan = 0;
    let paid = 0;
    for (const [i, [a, b]] of pairs.entries()) {
      const st = [a.status, b.status].sort();
      assert.deepEqual(st, [200, 409], `pair ${i}: ${a.status} / ${b.status}`);
      const loser = a.status === 409 ? a : b;
      assertError(loser, 409, 'idempotency_key_reused');
      if (a.status === 200) plan++;
      else paid++;
    }
    const after = (await srv.get('/api/v1/credits', { token: u.token })).body;
    assert.equal(after.plan_credits - before.plan_credits, plan, 'exactly the winners applied (plan)');
    assert.equal(after.paid_credits - before.paid_credits, paid, 'exactly the winners applied (paid)');
  });

  it('the same key and body concurrently: applied once, the other replays the first answer byte for byte', async () => {
    const u = await srv.register({ tag: 'idem-same' });
    const rs = await Promise.all(Array.from({ length: 20 }, () => srv.adjust(root.token, u.id, 5, { reason: 'same', idempotencyKey: 'same-key' })));
    for (const r of rs) assertStatus(r, 200);
    const fresh = rs.filter((r) => r.headers.get('idempotent-replayed') !== 'true');
    assert.equal(fresh.length, 1, 'one answer is the original');
    for (const r of rs) assert.equal(r.text, fresh[0].text, 'every replay is the first answer');
    const c = (await srv.get('/api/v1/credits', { token: u.token })).body;
    assert.equal(c.paid_credits, 8 + 5, 'applied once');
    // Keys are scoped to the admin: another admin's same key is another key.
    const second = await srv.admin();
    const r2 = await srv.adjust(second.token, u.id, 5, { reason: 'same', idempotencyKey: 'same-key' });
    assertStatus(r2, 200);
    assert.equal(r2.headers.get('idempotent-replayed'), null);
    assert.equal((await srv.get('/api/v1/credits', { token: u.token })).body.paid_credits, 8 + 10);
  });

  invariantTest(() => srv);
});

describe('Vary: Origin', () => {
  let srv;
  before(async () => {
    srv = await startServer({ env: { TG_CORS_ORIGINS: 'https://app.example.com' } });
  });
  after(() => srv?.cleanup());

  it('every answer says it depends on Origin when CORS is configured', async () => {
    for (const [path, headers] of [
      ['/health', {}],
      ['/health', { origin: 'https://app.example.com' }],
      ['/health', { origin: 'https://evil.example.com' }],
      ['/api/v1/credits', {}],
      ['/nope', { origin: 'https://evil.example.com' }],
    ]) {
      const r = await srv.get(path, { headers });
      assert.equal(r.headers.get('vary'), 'Origin', `${path} ${JSON.stringify(headers)}`);
    }
  });

  invariantTest(() => srv);
});
