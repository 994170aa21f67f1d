// Email + password accounts: register, login, refresh rotation and reuse detection, logout,
// generic login errors, the profile and password change.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { jwtVerify, decodeProtectedHeader } from 'jose';
import { startServer, invariantTest, assertError, assertStatus, uniqueEmail, strongPassword, JWT_KEY, USER_ID_RE } from './lib/server.mjs';
import { assertDocumented } from './lib/openapi.mjs';

const REG = '/api/v1/auth/register';
const LOGIN = '/api/v1/auth/login';
const REFRESH = '/api/v1/auth/refresh';
const LOGOUT = '/api/v1/auth/logout';

/** The server's access token, checked with jose (code we did not write). */
async function checkAccessToken(token, user) {
  assert.deepEqual(decodeProtectedHeader(token).alg, 'HS256');
  const { payload } = await jwtVerify(token, JWT_KEY, { algorithms: ['HS256'] });
  assert.equal(payload.sub, user.id);
  assert.equal(payload.role, user.role);
  assert.equal(payload.typ, 'access');
  assert.equal(typeof payload.jti, 'string');
  assert.ok(payload.jti.length >= 8);
  assert.equal(payload.exp - payload.iat, 900, 'TG_ACCESS_TOKEN_TTL default 900 s');
  assert.ok(Math.abs(payload.iat - Date.now() / 1000) < 60, 'iat is now');
  return payload;
}

describe('auth', () => {
  let srv;
  before(async () => {
    srv = await startServer();
  });
  after(() => srv?.cleanup());

  let alice; // { email, password, access_token, refresh_token, user }

  it('register -> 201 with the session shape, normalized email, no credits until the address is verified', async () => {
    const raw = `  Alice.${Date.now()}@Example.COM `;
    const password = strongPassword();
    const r = await srv.post(REG, { email: raw, password, display_name: 'Alice' });
    assertStatus(r, 201);
    assertDocumented(r, 'POST', REG);
    const b = r.body;
    assert.equal(b.user.email, raw.trim().toLowerCase());
    assert.match(b.user.id, USER_ID_RE);
    assert.equal(b.user.role, 'user');
    assert.equal(b.user.display_name, 'Alice');
    assert.equal(b.user.email_verified, false);
    assert.equal(b.user.locale, 'en-US', 'no Accept-Language: en-US');
    assert.equal(b.token_type, 'Bearer');
    assert.equal(b.expires_in, 900);
    assert.notEqual(b.access_token, b.refresh_token);
    await checkAccessToken(b.access_token, b.user);
    alice = { email: b.user.email, rawEmail: raw, password, ...b };

    const me = await srv.get('/api/v1/me', { token: b.access_token });
    assertStatus(me, 200);
    assertDocumented(me, 'GET', '/api/v1/me');
    assert.equal(me.body.id, b.user.id);
    assert.equal(me.body.email, b.user.email);
    assert.ok(Math.abs(Date.parse(me.body.created_at) - Date.now()) < 120000, 'created_at is now');
    assert.match(me.body.created_at, /Z$|[+-]00:00$/, 'UTC');

    const c = await srv.get('/api/v1/credits', { token: b.access_token });
    assertStatus(c, 200);
    // TG_SIGNUP_CREDITS_REQUIRE_VERIFIED is on by default: the 8 come with verification
    // (email.test.mjs).
    assert.equal(c.body.available, 0);
    assert.equal(c.body.paid_credits, 0);
    assert.equal(c.body.plan_credits, 0);
  });

  it('login works with any case and surrounding spaces of the email', async () => {
    for (const email of [alice.email, alice.email.toUpperCase(), ` ${alice.email} `]) {
      const r = await srv.post(LOGIN, { email, password: alice.password });
      assertStatus(r, 200, `login as ${JSON.stringify(email)}`);
      assertDocumented(r, 'POST', LOGIN);
      assert.equal(r.body.user.id, alice.user.id);
      assert.notEqual(r.body.refresh_token, alice.refresh_token);
      await checkAccessToken(r.body.access_token, r.body.user);
    }
  });

  it('duplicate email (any case) -> 409 email_taken', async () => {
    const r1 = await srv.post(REG, { email: alice.email, password: strongPassword() });
    assertError(r1, 409, 'email_taken');
    assertDocumented(r1, 'POST', REG);
    const r2 = await srv.post(REG, { email: ` ${alice.email.toUpperCase()}`, password: strongPassword() });
    assertError(r2, 409, 'email_taken');
    assert.ok(!JSON.stringify(r2.body).includes(alice.user.id), 'does not leak the existing user id');
  });

  it('invalid emails -> 400 validation_failed', async () => {
    for (const email of ['', '   ', 'no-at-sign', '@example.com', 'a@', 'a b@example.com', 'a@@example.com', `${'x'.repeat(250)}@example.com`, 'a@example', 'a@.']) {
      const r = await srv.post(REG, { email, password: strongPassword() });
      assertError(r, 400, 'validation_failed', `email ${JSON.stringify(email)}`);
      assertDocumented(r, 'POST', REG);
    }
  });

  it('an email with a NUL byte -> 400 (jansson refuses \\u0000 as invalid JSON)', async () => {
    const r = await srv.post(REG, { email: 'a\u0000b@example.com', password: strongPassword() });
    assertError(r, 400, 'invalid_json');
  });

  it('missing or mistyped fields -> 400 validation_failed', async () => {
    for (const json of [{}, { email: uniqueEmail() }, { password: strongPassword() }, { email: 42, password: strongPassword() }, { email: uniqueEmail(), password: 12345678 }, { email: uniqueEmail(), password: null }, { email: uniqueEmail(), password: strongPassword(), display_name: 7 }, { email: uniqueEmail(), password: strongPassword(), display_name: 'x'.repeat(101) }]) {
      const r = await srv.post(REG, json);
      assertError(r, 400, 'validation_failed', JSON.stringify(json));
    }
  });

  it('short password -> 422 weak_password, and no account is created', async () => {
    const email = uniqueEmail('weak');
    for (const password of ['', 'short', '1234567']) {
      const r = await srv.post(REG, { email, password });
      assertError(r, 422, 'weak_password', `password ${JSON.stringify(password)}`);
      assertDocumented(r, 'POST', REG);
    }
    const l = await srv.post(LOGIN, { email, password: 'short' });
    assertError(l, 401, 'invalid_credentials');
  });

  it('wrong password and unknown email give identical 401 invalid_credentials bodies', async () => {
    const wrong = await srv.post(LOGIN, { email: alice.email, password: `${alice.password}x` });
    const unknown = await srv.post(LOGIN, { email: uniqueEmail('ghost'), password: alice.password });
    assertError(wrong, 401, 'invalid_credentials');
    assertError(unknown, 401, 'invalid_credentials');
    assertDocumented(wrong, 'POST', LOGIN);
    const strip = (b) => ({ ...b, request_id: undefined });
    assert.deepEqual(strip(wrong.body), strip(unknown.body));
    assert.notEqual(wrong.body.request_id, unknown.body.request_id);
  });

  it('an empty password is a wrong password -> 401 invalid_credentials', async () => {
    // LoginRequest sets no minimum length, and registration answers an empty password with
    // 422 weak_password, not 400: at sign-in it is one more wrong password.
    const wrong = await srv.post(LOGIN, { email: alice.email, password: `${alice.password}x` });
    const empty = await srv.post(LOGIN, { email: alice.email, password: '' });
    assertError(empty, 401, 'invalid_credentials', 'empty password');
    assertDocumented(empty, 'POST', LOGIN);
    const strip = (b) => ({ ...b, request_id: undefined });
    assert.deepEqual(strip(empty.body), strip(wrong.body));
  });

  it('refresh rotates: new pair, the old refresh token is used up', async () => {
    const s = await srv.login(alice.email, alice.password);
    const r = await srv.post(REFRESH, { refresh_token: s.refresh_token });
    assertStatus(r, 200);
    assertDocumented(r, 'POST', REFRESH);
    assert.equal(r.body.user.id, alice.user.id);
    assert.notEqual(r.body.refresh_token, s.refresh_token);
    assert.notEqual(r.body.access_token, s.access_token);
    const p = await checkAccessToken(r.body.access_token, r.body.user);
    const p0 = await checkAccessToken(s.access_token, s.user);
    assert.notEqual(p.jti, p0.jti);
    // The next rotation works from the new token.
    const r2 = await srv.post(REFRESH, { refresh_token: r.body.refresh_token });
    assertStatus(r2, 200);
    const me = await srv.get('/api/v1/me', { token: r2.body.access_token });
    assertStatus(me, 200);
  });

  it('reusing a rotated refresh token -> 401 and the whole family is revoked', async () => {
    const s = await srv.login(alice.email, alice.password);
    const other = await srv.login(alice.email, alice.password); // a second family, unaffected
    const r1 = await srv.post(REFRESH, { refresh_token: s.refresh_token });
    assertStatus(r1, 200);
    const r2 = await srv.post(REFRESH, { refresh_token: r1.body.refresh_token });
    assertStatus(r2, 200);
    const newest = r2.body.refresh_token;

    const reuse = await srv.post(REFRESH, { refresh_token: s.refresh_token });
    assertError(reuse, 401, 'invalid_refresh_token');
    assertDocumented(reuse, 'POST', REFRESH);
    const afterReuse = await srv.post(REFRESH, { refresh_token: newest });
    assertError(afterReuse, 401, 'invalid_refresh_token', 'the newest token of a revoked family');
    const mid = await srv.post(REFRESH, { refresh_token: r1.body.refresh_token });
    assertError(mid, 401, 'invalid_refresh_token');

    const ok = await srv.post(REFRESH, { refresh_token: other.refresh_token });
    assertStatus(ok, 200, 'another family of the same user is not revoked');
  });

  it('parallel presentations of one refresh token: exactly one wins', async () => {
    const s = await srv.login(alice.email, alice.password);
    const rs = await Promise.all(Array.from({ length: 8 }, () => srv.post(REFRESH, { refresh_token: s.refresh_token })));
    const wins = rs.filter((r) => r.status === 200);
    assert.equal(wins.length, 1, `statuses ${rs.map((r) => r.status)}`);
    for (const r of rs) if (r.status !== 200) assertError(r, 401, 'invalid_refresh_token');
    // The losers were reuse: the winner's new token belongs to a revoked family.
    assertError(await srv.post(REFRESH, { refresh_token: wins[0].body.refresh_token }), 401, 'invalid_refresh_token');
  });

  it('unknown or malformed refresh tokens -> 401 invalid_refresh_token / 400', async () => {
    for (const t of ['rt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', 'garbage', 'x'.repeat(200)]) {
      assertError(await srv.post(REFRESH, { refresh_token: t }), 401, 'invalid_refresh_token', t.slice(0, 20));
    }
    assertError(await srv.post(REFRESH, {}), 400, 'validation_failed');
    assertError(await srv.post(REFRESH, { refresh_token: 5 }), 400, 'validation_failed');
    // An access token is not a refresh token.
    assertError(await srv.post(REFRESH, { refresh_token: alice.access_token }), 401, 'invalid_refresh_token');
  });

  it('logout -> 204; the refresh token then fails; logout is idempotent', async () => {
    const s = await srv.login(alice.email, alice.password);
    const r = await srv.post(LOGOUT, { refresh_token: s.refresh_token });
    assertStatus(r, 204);
    assert.equal(r.text, '');
    assertDocumented(r, 'POST', LOGOUT);
    assertError(await srv.post(REFRESH, { refresh_token: s.refresh_token }), 401, 'invalid_refresh_token');
    assertStatus(await srv.post(LOGOUT, { refresh_token: s.refresh_token }), 204);
    assertStatus(await srv.post(LOGOUT, { refresh_token: 'rt_unknown_token_value_000000' }), 204);
    assertError(await srv.post(LOGOUT, {}), 400, 'validation_failed');
    // Logging out ends the account's access tokens at once; other sessions refresh.
    assertError(await srv.get('/api/v1/me', { token: alice.access_token }), 401, 'invalid_token');
    const again = await srv.post(REFRESH, { refresh_token: alice.refresh_token });
    assertStatus(again, 200);
    alice = { ...alice, ...again.body };
  });

  it('PATCH /me updates the display name; validation', async () => {
    const r = await srv.patch('/api/v1/me', { display_name: 'Alice Liddell' }, { token: alice.access_token });
    assertStatus(r, 200);
    assertDocumented(r, 'PATCH', '/api/v1/me');
    assert.equal(r.body.display_name, 'Alice Liddell');
    const me = await srv.get('/api/v1/me', { token: alice.access_token });
    assert.equal(me.body.display_name, 'Alice Liddell');
    const uni = await srv.patch('/api/v1/me', { display_name: '爱丽丝 🐇' }, { token: alice.access_token });
    assertStatus(uni, 200);
    assert.equal(uni.body.display_name, '爱丽丝 🐇');
    for (const json of [{ display_name: 'x'.repeat(101) }, { display_name: 3 }, { email: 'new@example.com' }, { role: 'admin' }]) {
      const e = await srv.patch('/api/v1/me', json, { token: alice.access_token });
      assertError(e, 400, 'validation_failed', JSON.stringify(json));
      assertDocumented(e, 'PATCH', '/api/v1/me');
    }
    const me2 = await srv.get('/api/v1/me', { token: alice.access_token });
    assert.equal(me2.body.role, 'user');
    assert.equal(me2.body.email, alice.email);
    assertError(await srv.patch('/api/v1/me', { display_name: 'x' }), 401);
  });

  it('PATCH /me saves the language (the web UI\'s switch) without touching the name; null clears it', async () => {
    const zh = await srv.patch('/api/v1/me', { locale: 'zh-CN' }, { token: alice.access_token });
    assertStatus(zh, 200);
    assertDocumented(zh, 'PATCH', '/api/v1/me');
    assert.equal(zh.body.locale, 'zh-CN');
    assert.equal(zh.body.display_name, '爱丽丝 🐇');
    assert.equal((await srv.get('/api/v1/me', { token: alice.access_token })).body.locale, 'zh-CN');
    const both = await srv.patch('/api/v1/me', { locale: 'en-US', display_name: 'Alice' }, { token: alice.access_token });
    assertStatus(both, 200);
    assert.equal(both.body.locale, 'en-US');
    assert.equal(both.body.display_name, 'Alice');
    const cleared = await srv.patch('/api/v1/me', { locale: null }, { token: alice.access_token });
    assertStatus(cleared, 200);
    assert.equal(cleared.body.locale, null);
    assert.equal(cleared.body.display_name, 'Alice');
    for (const locale of ['fr-FR', 'zh', 'ZH-CN', '', 7, ['zh-CN']]) {
      const e = await srv.patch('/api/v1/me', { locale }, { token: alice.access_token });
      assertError(e, 400, 'validation_failed', JSON.stringify(locale));
      assert.equal(e.body.error.details.field, 'locale');
    }
    assert.equal((await srv.get('/api/v1/me', { token: alice.access_token })).body.locale, null);
  });

  it('password change: needs the current password, revokes refresh tokens, new password works', async () => {
    const s1 = await srv.login(alice.email, alice.password);
    const bad = await srv.post('/api/v1/me/password', { current_password: 'not-the-password', new_password: strongPassword() }, { token: s1.access_token });
    assertError(bad, 401, 'invalid_credentials');
    assertDocumented(bad, 'POST', '/api/v1/me/password');
    const weak = await srv.post('/api/v1/me/password', { current_password: alice.password, new_password: 'short' }, { token: s1.access_token });
    assertError(weak, 422, 'weak_password');
    assertError(await srv.post('/api/v1/me/password', { new_password: strongPassword() }, { token: s1.access_token }), 400, 'validation_failed');

    const newPassword = strongPassword();
    const r = await srv.post('/api/v1/me/password', { current_password: alice.password, new_password: newPassword }, { token: s1.access_token });
    assertStatus(r, 200);
    assertDocumented(r, 'POST', '/api/v1/me/password');
    assert.equal(r.body.user.id, alice.user.id);
    await checkAccessToken(r.body.access_token, r.body.user);

    assertError(await srv.post(REFRESH, { refresh_token: s1.refresh_token }), 401, 'invalid_refresh_token', 'old refresh token after password change');
    assertError(await srv.post(REFRESH, { refresh_token: alice.refresh_token }), 401, 'invalid_refresh_token', 'registration refresh token after password change');
    assertStatus(await srv.post(REFRESH, { refresh_token: r.body.refresh_token }), 200, 'the new session refreshes');
    assertError(await srv.post(LOGIN, { email: alice.email, password: alice.password }), 401, 'invalid_credentials');
    await srv.login(alice.email, newPassword);
    alice.password = newPassword;
  });

  it('requests without credentials -> 401 unauthorized', async () => {
    for (const p of ['/api/v1/me', '/api/v1/credits', '/api/v1/credits/ledger', '/api/v1/api-keys', '/api/v1/admin/audit-log']) {
      const r = await srv.get(p);
      assertError(r, 401, 'unauthorized', p);
    }
  });

  invariantTest(() => srv);
});
