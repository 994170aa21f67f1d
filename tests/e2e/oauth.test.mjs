// The browser sign-in flow (state bound to a cookie, PKCE, one-time login codes, linking),
// driven through the sandbox provider, which behaves like a real OAuth provider.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, invariantTest, assertStatus } from './lib/server.mjs';
import { CookieJar, fragment } from './lib/browser.mjs';

/** Starts a sandbox flow; returns {jar, page (URL of the sandbox page), state, challenge, cookieName}. */
async function startFlow(srv, returnTo = '/after', headers = {}) {
  const jar = new CookieJar();
  const q = returnTo === null ? '' : `?return_to=${encodeURIComponent(returnTo)}`;
  const res = await fetch(`${srv.url}/api/v1/auth/oauth/sandbox/start${q}`, { redirect: 'manual', headers });
  srv.requests += 1;
  assert.equal(res.status, 302, await res.text());
  jar.take(res);
  const loc = new URL(res.headers.get('location'));
  assert.equal(loc.origin + loc.pathname, `${srv.url}/sandbox/sign-in`);
  const state = loc.searchParams.get('state');
  const challenge = loc.searchParams.get('code_challenge');
  assert.match(state, /^[0-9a-f]{64}$/);
  assert.match(challenge, /^[A-Za-z0-9_-]{43}$/);
  const names = [...jar.cookies.keys()];
  assert.equal(names.length, 1);
  assert.match(names[0], /^tg_oauth_[0-9a-f]{12}$/);
  return { jar, page: loc, state, challenge, cookieName: names[0], setCookie: jar.cookies.get(names[0]) };
}

/** Chooses `who` on the sandbox page; returns the callback URL the page sends the browser to. */
async function approve(srv, flow, who = 'alice', challenge = flow.challenge) {
  const r = await srv.get(`/sandbox/sign-in/approve?state=${flow.state}&code_challenge=${challenge}&who=${who}`);
  assertStatus(r, 302);
  const cb = new URL(r.headers.get('location'));
  assert.equal(cb.origin + cb.pathname, `${srv.url}/api/v1/auth/oauth/sandbox/callback`);
  return cb;
}

/** Calls the callback with the flow's cookies (or `cookie`). */
async function callback(srv, flow, cbUrl, { cookie } = {}) {
  const path = cbUrl.pathname + cbUrl.search;
  const headers = { cookie: cookie ?? flow.jar.header(cbUrl.pathname) };
  const r = await srv.req('GET', path, { headers });
  flow.jar.take(r);
  return r;
}

async function signIn(srv, who) {
  const flow = await startFlow(srv, '/welcome');
  const cb = await approve(srv, flow, who);
  const r = await callback(srv, flow, cb);
  assertStatus(r, 302);
  const loc = new URL(r.headers.get('location'), srv.url);
  const { login_code: code } = fragment(loc.href);
  assert.match(code, /^[A-Za-z0-9_-]{43}$/);
  srv.secrets.add(code);
  const ex = await srv.post('/api/v1/auth/exchange', { code });
  assertStatus(ex, 200);
  return { ...ex.body, code, token: ex.body.access_token };
}

describe('browser sign-in through the sandbox provider', () => {
  let srv;
  before(async () => {
    srv = await startServer({ env: { TG_SANDBOX: 'on', TG_SIGNUP_CREDITS: '8' } });
  });
  after(() => srv?.cleanup());

  it('start sets a bound, HttpOnly, Lax cookie and sends the browser to the provider with a state and PKCE', async () => {
    const flow = await startFlow(srv);
    const a = flow.setCookie.attrs;
    assert.equal(a.httponly, true);
    assert.equal(a.samesite, 'Lax');
    assert.equal(a.path, '/api/v1/auth/oauth/');
    assert.equal(a['max-age'], '600');
    assert.equal(a.secure, undefined, 'http public URL: no Secure attribute');
    const page = await srv.get(flow.page.pathname + flow.page.search);
    assertStatus(page, 200);
    assert.match(page.headers.get('content-type'), /^text\/html/);
    assert.match(page.headers.get('content-security-policy'), /script-src 'self'/);
    assert.ok(!/<script/i.test(page.text), 'the page has no script');
    for (const who of ['alice', 'lilei', 'bob']) assert.ok(page.text.includes(`value="${who}"`));
  });

  it('the whole flow: provider page -> callback -> #login_code -> exchange -> session', async () => {
    const flow = await startFlow(srv, '/dashboard?tab=1');
    const cb = await approve(srv, flow, 'alice');
    const r = await callback(srv, flow, cb);
    assertStatus(r, 302);
    const loc = new URL(r.headers.get('location'), srv.url);
    assert.equal(loc.pathname + loc.search, '/dashboard?tab=1');
    const { login_code: code } = fragment(loc.href);
    assert.ok(code, r.headers.get('location'));
    srv.secrets.add(code);
    assert.ok(!r.headers.get('location').includes('access_token'), 'no token in a URL');
    assert.equal(flow.jar.cookies.size, 0, 'the flow cookie is deleted');
    // A fragment is never sent in Referer; the policy keeps the path's query to this origin too.
    assert.equal(r.headers.get('referrer-policy'), 'strict-origin-when-cross-origin');

    const ex = await srv.post('/api/v1/auth/exchange', { code });
    assertStatus(ex, 200);
    assert.equal(ex.body.user.email, 'alice@sandbox.tollgate.test');
    assert.equal(ex.body.user.email_verified, true);
    assert.equal(ex.body.token_type, 'Bearer');
    const me = await srv.get('/api/v1/me', { token: ex.body.access_token });
    assertStatus(me, 200);
    assert.equal(me.body.has_password, false);
    assert.deepEqual(me.body.identities.map((i) => [i.provider, i.email]), [['sandbox', 'alice@sandbox.tollgate.test']]);
    const credits = await srv.get('/api/v1/credits', { token: ex.body.access_token });
    assert.equal(credits.body.available, 8, 'the sandbox vouches for its people: signup credits granted');

    // A replayed login code is refused and audit-logged.
    const again = await srv.post('/api/v1/auth/exchange', { code });
    assertStatus(again, 400);
    assert.equal(again.body.error.code, 'invalid_login_code');
    const admin = await srv.admin();
    const log = await srv.get('/api/v1/admin/audit-log?limit=100', { token: admin.token });
    assert.ok(log.body.data.some((e) => e.action === 'auth.login_code_replayed'));
    assert.ok(log.body.data.some((e) => e.action === 'auth.oauth_signin' && e.target_id === ex.body.user.id));

    // The second sign-in finds the same account.
    const second = await signIn(srv, 'alice');
    assert.equal(second.user.id, ex.body.user.id);
  });

  it('a replayed callback (same state, code and cookie) is refused', async () => {
    const flow = await startFlow(srv);
    const cb = await approve(srv, flow, 'alice');
    const cookie = flow.jar.header(cb.pathname);
    const first = await callback(srv, flow, cb, { cookie });
    assertStatus(first, 302);
    const replay = await callback(srv, flow, cb, { cookie });
    assertStatus(replay, 400);
    assert.equal(replay.body.error.code, 'invalid_state');
  });

  it('concurrent replays of one callback: exactly one signs in', async () => {
    const flow = await startFlow(srv);
    const cb = await approve(srv, flow, 'alice');
    const cookie = flow.jar.header(cb.pathname);
    const rs = await Promise.all(Array.from({ length: 8 }, () => srv.req('GET', cb.pathname + cb.search, { headers: { cookie } })));
    assert.deepEqual(rs.map((r) => r.status).sort(), [302, 400, 400, 400, 400, 400, 400, 400]);
  });

  it('tampered, foreign and cookie-less states are refused with invalid_state', async () => {
    const flow = await startFlow(srv);
    const cb = await approve(srv, flow, 'alice');
    const cookie = flow.jar.header(cb.pathname);
    // One hex digit of the state changed: the MAC no longer holds.
    const st = cb.searchParams.get('state');
    const flipped = st.slice(0, 40) + (st[40] === 'a' ? 'b' : 'a') + st.slice(41);
    const t = new URL(cb);
    t.searchParams.set('state', flipped);
    const r1 = await callback(srv, flow, t, { cookie });
    assertStatus(r1, 400);
    assert.equal(r1.body.error.code, 'invalid_state');
    assert.equal(r1.body.error.details.reason ?? 'malformed', 'malformed');
    // No cookie: the flow was started in another browser.
    const r2 = await callback(srv, flow, cb, { cookie: '' });
    assertStatus(r2, 400);
    assert.equal(r2.body.error.details.reason, 'no_cookie');
    // Another flow's cookie under this flow's name.
    const other = await startFlow(srv);
    const otherCookie = other.jar.cookies.get(other.cookieName).value;
    const r3 = await callback(srv, flow, cb, { cookie: `${flow.cookieName}=${otherCookie}` });
    assertStatus(r3, 400);
    assert.equal(r3.body.error.details.reason, 'mismatch');
    // A forged cookie value.
    const r4 = await callback(srv, flow, cb, { cookie: `${flow.cookieName}=eyJwIjoic2FuZGJveCJ9.AAAA` });
    assertStatus(r4, 400);
    assert.equal(r4.body.error.details.reason, 'mismatch');
    // The genuine pair still works afterwards (nothing above consumed the state).
    const ok = await callback(srv, flow, cb, { cookie });
    assertStatus(ok, 302);
  });

  it('a code bound to another PKCE challenge is refused by the provider', async () => {
    const a = await startFlow(srv);
    const b = await startFlow(srv);
    const cb = await approve(srv, a, 'alice', b.challenge);
    const r = await callback(srv, a, cb);
    assertStatus(r, 400);
    assert.equal(r.body.error.code, 'provider_rejected');
    assert.equal(r.body.error.details.reason, 'pkce_failed');
  });

  it('return_to must be a path on this site', async () => {
    for (const bad of ['//evil.example/x', 'https://evil.example/', '/\\evil.example', 'relative', '/a#b', '/a b', '/' + 'a'.repeat(600)]) {
      const r = await srv.get(`/api/v1/auth/oauth/sandbox/start?return_to=${encodeURIComponent(bad)}`);
      assertStatus(r, 400);
      assert.equal(r.body.error.details.field, 'return_to', bad);
    }
    const flow = await startFlow(srv, null);
    const cb = await approve(srv, flow, 'alice');
    const r = await callback(srv, flow, cb);
    assert.match(r.headers.get('location'), /^\/#login_code=/, 'default return_to is /');
  });

  it('denying at the provider returns to the page with login_error, and uses the state up', async () => {
    const flow = await startFlow(srv, '/signin');
    const d = await srv.get(`/sandbox/sign-in/approve?state=${flow.state}&code_challenge=${flow.challenge}&deny=1`);
    assertStatus(d, 302);
    const cb = new URL(d.headers.get('location'));
    const cookie = flow.jar.header(cb.pathname);
    const r = await callback(srv, flow, cb, { cookie });
    assertStatus(r, 302);
    assert.equal(r.headers.get('location'), '/signin#login_error=access_denied');
    const replay = await callback(srv, flow, cb, { cookie });
    assertStatus(replay, 400);
    assert.equal(replay.body.error.code, 'invalid_state');
  });

  it('a person without an email gets an account without one; an unverified email is not taken', async () => {
    const li = await signIn(srv, 'lilei');
    assert.equal(li.user.email, null);
    assert.equal(li.user.email_verified, false);
    assert.equal(li.user.display_name, '李雷');
    assert.equal(li.user.locale, 'zh-CN');
    const bob = await signIn(srv, 'bob');
    assert.equal(bob.user.email, null, 'an address the provider did not verify is not given to the account');
  });

  it('the sandbox never links to an existing account by email', async () => {
    // An account registered with bob's address; signing in as sandbox bob does not reach it.
    const victim = await srv.register({ email: 'bob@sandbox.tollgate.test' });
    const bob = await signIn(srv, 'bob');
    assert.notEqual(bob.user.id, victim.id);
  });

  it('unlinking never removes the last way to sign in', async () => {
    const li = await srv.get('/api/v1/me', { token: (await signIn(srv, 'lilei')).token });
    assert.equal(li.body.identities.length, 1);
    const token = (await signIn(srv, 'lilei')).token;
    const r = await srv.del(`/api/v1/me/identities/${li.body.identities[0].id}`, { token });
    assertStatus(r, 409);
    assert.equal(r.body.error.code, 'last_sign_in_method');
    const nf = await srv.del('/api/v1/me/identities/idn_00000000000000000000000000', { token });
    assertStatus(nf, 404);
  });

  it('a disabled account cannot sign in through a provider', async () => {
    const al = await signIn(srv, 'alice');
    const admin = await srv.admin();
    const d = await srv.patch(`/api/v1/admin/users/${al.user.id}`, { disabled: true }, { token: admin.token });
    assertStatus(d, 200);
    const flow = await startFlow(srv);
    const cb = await approve(srv, flow, 'alice');
    const r = await callback(srv, flow, cb);
    assertStatus(r, 403);
    assert.equal(r.body.error.code, 'account_disabled');
    await srv.patch(`/api/v1/admin/users/${al.user.id}`, { disabled: false }, { token: admin.token });
  });

  it('unknown providers are 404', async () => {
    for (const p of ['nope', 'email']) {
      const r = await srv.get(`/api/v1/auth/oauth/${p}/start`);
      assertStatus(r, 404);
    }
  });

  invariantTest(() => srv);
});

describe('linking and unlinking sign-ins', () => {
  let srv;
  before(async () => {
    srv = await startServer({ env: { TG_SANDBOX: 'on' } });
  });
  after(() => srv?.cleanup());

  async function linkFlow(token, who) {
    const link = await srv.req('POST', '/api/v1/auth/oauth/sandbox/link?return_to=/settings', { token });
    assertStatus(link, 200);
    const jar = new CookieJar();
    jar.take(link);
    const page = new URL(link.body.url);
    const flow = { jar, state: page.searchParams.get('state'), challenge: page.searchParams.get('code_challenge') };
    const cb = await approve(srv, flow, who);
    return callback(srv, flow, cb);
  }

  it('a signed-in account links a provider identity, which then signs it in', async () => {
    const u = await srv.register();
    const r = await linkFlow(u.token, 'bob');
    assertStatus(r, 302);
    assert.equal(r.headers.get('location'), '/settings#linked=sandbox');
    const me = await srv.get('/api/v1/me', { token: u.token });
    assert.deepEqual(me.body.identities.map((i) => [i.provider, i.email, i.email_verified]), [['sandbox', 'bob@sandbox.tollgate.test', false]]);
    const viaBob = await signIn(srv, 'bob');
    assert.equal(viaBob.user.id, u.id);

    // Another account cannot take bob.
    const v = await srv.register();
    const taken = await linkFlow(v.token, 'bob');
    assertStatus(taken, 409);
    assert.equal(taken.body.error.code, 'identity_linked_elsewhere');

    // u has an email and a password, so bob can go; then v can link it.
    const del = await srv.del(`/api/v1/me/identities/${me.body.identities[0].id}`, { token: u.token });
    assertStatus(del, 204);
    assertStatus(await linkFlow(v.token, 'bob'), 302);
    const admin = await srv.admin();
    const log = await srv.get('/api/v1/admin/audit-log?limit=100', { token: admin.token });
    assert.ok(log.body.data.some((e) => e.action === 'auth.identity_linked' && e.target_id === u.id));
    assert.ok(log.body.data.some((e) => e.action === 'auth.identity_unlinked' && e.target_id === u.id));
  });

  it('linking needs a signed-in session, not an API key', async () => {
    const u = await srv.register();
    const key = await srv.post('/api/v1/api-keys', { name: 'k' }, { token: u.token });
    assertStatus(await srv.req('POST', '/api/v1/auth/oauth/sandbox/link', { token: key.body.key }), 403);
    assertStatus(await srv.req('POST', '/api/v1/auth/oauth/sandbox/link'), 401);
  });

  invariantTest(() => srv);
});

describe('sandbox off', () => {
  let srv;
  before(async () => {
    srv = await startServer({ env: { TG_SANDBOX: 'off' } });
  });
  after(() => srv?.cleanup());

  it('the sandbox provider and its pages are gone', async () => {
    assertStatus(await srv.get('/api/v1/auth/oauth/sandbox/start'), 404);
    assertStatus(await srv.get(`/sandbox/sign-in?state=${'0'.repeat(64)}&code_challenge=${'A'.repeat(43)}`), 404);
  });

  invariantTest(() => srv);
});

