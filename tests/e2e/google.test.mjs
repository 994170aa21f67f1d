// Google sign-in end to end against the fake Google (tests/fakes/google.mjs, tokens signed
// with jose): One Tap credentials and the browser code flow with PKCE, the attacks a
// forger would try, key rotation, linking rules and outages.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, invariantTest, assertStatus, uniqueEmail } from './lib/server.mjs';
import { follow, fragment } from './lib/browser.mjs';
import { startFakeGoogle } from '../fakes/google.mjs';
import { readOutbox, tokenOf } from './lib/mail.mjs';

/** The verification token mailed to `email` (the outbox: no SMTP configured), waiting up to 5 s. */
async function verificationToken(srv, email) {
  for (let i = 0; i < 100; i++) {
    const m = readOutbox(srv.dataDir).find((x) => x.mail && x.mail.header('to').includes(email));
    if (m) return tokenOf(m.mail, 'verify-email');
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no verification mail to ${email}`);
}

describe('Google sign-in', () => {
  let srv;
  let g;
  before(async () => {
    g = await startFakeGoogle();
    srv = await startServer({
      env: {
        TG_GOOGLE_CLIENT_ID: g.clientId,
        TG_GOOGLE_CLIENT_SECRET: g.clientSecret,
        TG_GOOGLE_JWKS_URL: g.jwksUrl,
        TG_GOOGLE_TOKEN_URL: g.tokenUrl,
        TG_GOOGLE_AUTH_URL: g.authUrl,
        TG_SANDBOX: 'off',
        TG_SIGNUP_CREDITS: '8',
      },
    });
    srv.secrets.add(g.clientSecret);
  });
  after(async () => {
    srv?.cleanup();
    await g?.close();
  });

  const now = () => Math.floor(Date.now() / 1000);
  const oneTap = async (credential) => {
    srv.secrets.add(credential);
    return srv.post('/api/v1/auth/google/id-token', { credential });
  };

  it('One Tap: a genuine credential signs in and creates a verified account', async () => {
    const sub = `sub-${Date.now()}`;
    const email = uniqueEmail('onetap');
    const r = await oneTap(await g.mint(g.claims({ sub, email })));
    assertStatus(r, 200);
    assert.equal(r.body.user.email, email);
    assert.equal(r.body.user.email_verified, true);
    assert.equal(r.body.user.display_name, 'Alice Example');
    const credits = await srv.get('/api/v1/credits', { token: r.body.access_token });
    assert.equal(credits.body.available, 8, 'Google verified the address: signup credits');
    const again = await oneTap(await g.mint(g.claims({ sub, email })));
    assertStatus(again, 200);
    assert.equal(again.body.user.id, r.body.user.id, 'the same Google account, the same user');
  });

  it('One Tap: forged and foreign credentials are refused with the reason', async () => {
    const base = () => g.claims({ sub: `x-${Date.now()}`, email: uniqueEmail('forge') });
    const cases = [
      ['wrong audience', g.mint({ ...base(), aud: 'someone-else.apps.googleusercontent.com', azp: 'someone-else' }), 'wrong_audience'],
      ['wrong issuer', g.mint({ ...base(), iss: 'https://evil.example' }), 'wrong_issuer'],
      ['expired', g.mint({ ...base(), iat: now() - 7200, exp: now() - 3600 }), 'expired'],
      ['alg none', g.mint(base(), { alg: 'none' }), 'alg_not_allowed'],
      ['HS256 signed with the public key', g.mint(base(), { alg: 'HS256-public' }), 'alg_not_allowed'],
      ['RS384', g.mint(base(), { alg: 'RS384' }), 'alg_not_allowed'],
      ['signed by a key Google never published', (async () => {
        const { newKey } = await import('../fakes/google.mjs');
        const k = await newKey();
        return g.mint(base(), { key: k, kid: g.currentKids()[0] });
      })(), 'bad_signature'],
      ['lifetime over a day', g.mint({ ...base(), exp: now() + 3 * 86400 }), 'lifetime_too_long'],
    ];
    for (const [name, tokenP, reason] of cases) {
      const r = await oneTap(await tokenP);
      assertStatus(r, 401, name);
      assert.equal(r.body.error.code, 'invalid_credential', name);
      assert.equal(r.body.error.details.reason, reason, name);
    }
    const admin = await srv.admin();
    const log = await srv.get('/api/v1/admin/audit-log?limit=100', { token: admin.token });
    assert.ok(log.body.data.filter((e) => e.action === 'auth.oauth_rejected').length >= cases.length);
  });

  it('an unverified Google email signs in but neither links nor takes the address', async () => {
    const email = uniqueEmail('unverified');
    const owner = await srv.register({ email });
    const r = await oneTap(await g.mint(g.claims({ sub: `u-${Date.now()}`, email, email_verified: false })));
    assertStatus(r, 200);
    assert.notEqual(r.body.user.id, owner.id);
    assert.equal(r.body.user.email, null);
    const credits = await srv.get('/api/v1/credits', { token: r.body.access_token });
    assert.equal(credits.body.available, 0, 'no verified address and Google does not vouch otherwise: no credits');
  });

  it('a verified Google email does not link to an account that never verified the address', async () => {
    const email = uniqueEmail('squatted');
    const squatter = await srv.register({ email }); // registered someone else's address, never verified
    const r = await oneTap(await g.mint(g.claims({ sub: `v-${Date.now()}`, email })));
    assertStatus(r, 200);
    assert.notEqual(r.body.user.id, squatter.id, 'the squatter does not get the Google identity');
  });

  it('a verified Google email links to the account that verified the same address', async () => {
    const email = uniqueEmail('linked');
    const owner = await srv.register({ email });
    const token = await verificationToken(srv, email);
    srv.secrets.add(token);
    assertStatus(await srv.post('/api/v1/auth/verify-email', { token }), 200);
    const r = await oneTap(await g.mint(g.claims({ sub: `l-${Date.now()}`, email })));
    assertStatus(r, 200);
    assert.equal(r.body.user.id, owner.id, 'both sides verified the address: the same account');
    const me = await srv.get('/api/v1/me', { token: r.body.access_token });
    assert.deepEqual(me.body.identities.map((i) => i.provider), ['google']);
    assert.equal(me.body.has_password, true);
    const credits = await srv.get('/api/v1/credits', { token: r.body.access_token });
    assert.equal(credits.body.available, 8, 'the signup credits were granted once, at verification');
  });

  it('key rotation: a token under a new kid is verified after one refetch', async () => {
    const before = g.stats.jwksFetches;
    const kid = await g.rotateKeys();
    const k = g.key(1);
    assert.equal(k.kid, kid);
    const r = await oneTap(await g.mint(g.claims({ sub: `rot-${Date.now()}`, email: uniqueEmail('rot') }), { key: k }));
    assertStatus(r, 200);
    assert.equal(g.stats.jwksFetches, before + 1, 'exactly one refetch');
    // Forged kids do not make us hammer Google: refetches for unknown kids are throttled.
    for (let i = 0; i < 5; i++) {
      const f = await oneTap(await g.mint(g.claims({ sub: 'f' }), { kid: `forged${i}` }));
      assertStatus(f, 401);
    }
    assert.ok(g.stats.jwksFetches <= before + 2, `at most one more fetch for forged kids (${g.stats.jwksFetches - before})`);
  });

  it('the browser code flow with PKCE: start -> Google -> callback -> #login_code -> session', async () => {
    const sub = `flow-${Date.now()}`;
    const email = uniqueEmail('flow');
    g.setNextIdentity({ sub, email });
    const { final, next } = await follow(srv, '/api/v1/auth/oauth/google/start?return_to=/app');
    assertStatus({ ...final, method: 'GET', path: final.url.pathname }, 302);
    assert.equal(next.pathname, '/app');
    const { login_code: code } = fragment(next.href);
    srv.secrets.add(code);
    const ex = await srv.post('/api/v1/auth/exchange', { code });
    assertStatus(ex, 200);
    assert.equal(ex.body.user.email, email);
    assert.equal(g.stats.tokenRequests > 0, true);
  });

  it('the authorize URL carries PKCE S256, a nonce and the exact redirect URI', async () => {
    const r = await srv.get('/api/v1/auth/oauth/google/start');
    assertStatus(r, 302);
    const u = new URL(r.headers.get('location'));
    assert.equal(u.origin + u.pathname, g.authUrl);
    assert.equal(u.searchParams.get('client_id'), g.clientId);
    assert.equal(u.searchParams.get('redirect_uri'), `${srv.url}/api/v1/auth/oauth/google/callback`);
    assert.equal(u.searchParams.get('response_type'), 'code');
    assert.equal(u.searchParams.get('code_challenge_method'), 'S256');
    assert.match(u.searchParams.get('code_challenge'), /^[A-Za-z0-9_-]{43}$/);
    assert.match(u.searchParams.get('nonce'), /^[A-Za-z0-9_-]{43}$/);
    assert.match(u.searchParams.get('scope'), /openid/);
  });

  it('an ID token for another flow (wrong nonce) is refused at the callback', async () => {
    g.setClaimOverrides({ nonce: 'not-the-flows-nonce' });
    try {
      const { final } = await follow(srv, '/api/v1/auth/oauth/google/start?return_to=/app');
      assert.equal(final.status, 400);
      assert.equal(final.body.error.code, 'provider_rejected');
      assert.equal(final.body.error.details.reason, 'nonce_mismatch');
    } finally {
      g.setClaimOverrides({});
    }
  });

  it('the person refusing at Google comes back as #login_error=access_denied', async () => {
    g.setAuthError('access_denied');
    try {
      const { next } = await follow(srv, '/api/v1/auth/oauth/google/start?return_to=/signin');
      assert.equal(next.pathname + next.hash, '/signin#login_error=access_denied');
    } finally {
      g.setAuthError(null);
    }
  });

  it('Google failing or hanging gives 503 provider_unavailable within the timeout, and never blocks other requests', async () => {
    g.setFault({ path: 'token', status: 503, count: 1 });
    const { final } = await follow(srv, '/api/v1/auth/oauth/google/start?return_to=/app');
    assert.equal(final.status, 503);
    assert.equal(final.body.error.code, 'provider_unavailable');

    g.setFault({ path: 'token', delayMs: 15000, count: 1 });
    const t0 = Date.now();
    const slow = follow(srv, '/api/v1/auth/oauth/google/start?return_to=/app');
    // While the call hangs, the server keeps answering.
    await new Promise((r) => setTimeout(r, 500));
    const h0 = Date.now();
    assertStatus(await srv.get('/health'), 200);
    assert.ok(Date.now() - h0 < 1000, 'health answered while a provider call hangs');
    const { final: f2 } = await slow;
    const took = Date.now() - t0;
    assert.equal(f2.status, 503);
    assert.equal(f2.body.error.code, 'provider_unavailable');
    assert.ok(took < 13000, `answered within the provider timeout (${took} ms)`);
    g.setFault(null);
  });

  invariantTest(() => srv);
});

describe('Google not configured', () => {
  let srv;
  before(async () => {
    srv = await startServer({ env: { TG_SANDBOX: 'off' } });
  });
  after(() => srv?.cleanup());

  it('One Tap and the browser flow are 404', async () => {
    const r = await srv.post('/api/v1/auth/google/id-token', { credential: 'x.y.z' });
    assertStatus(r, 404);
    assertStatus(await srv.get('/api/v1/auth/oauth/google/start'), 404);
  });

  invariantTest(() => srv);
});

describe('SIGTERM while a provider call is in flight', () => {
  let srv;
  let g;
  before(async () => {
    g = await startFakeGoogle();
    srv = await startServer({
      env: {
        TG_GOOGLE_CLIENT_ID: g.clientId,
        TG_GOOGLE_CLIENT_SECRET: g.clientSecret,
        TG_GOOGLE_JWKS_URL: g.jwksUrl,
        TG_GOOGLE_TOKEN_URL: g.tokenUrl,
        TG_GOOGLE_AUTH_URL: g.authUrl,
        TG_SANDBOX: 'off',
        TG_SHUTDOWN_TIMEOUT: '20',
      },
    });
    srv.secrets.add(g.clientSecret);
  });
  after(async () => {
    srv?.cleanup();
    await g?.close();
  });

  it('the worker waits for the call, answers the request, then exits 0', async () => {
    g.setNextIdentity({ sub: `term-${Date.now()}`, email: uniqueEmail('term') });
    g.setFault({ path: 'token', delayMs: 2000, count: 1 });
    const flow = follow(srv, '/api/v1/auth/oauth/google/start?return_to=/app');
    // The callback is waiting for Google's token endpoint when the stop signal arrives.
    while (g.stats.tokenRequests === 0) await new Promise((r) => setTimeout(r, 20));
    const stopped = srv.stop();
    const { final, next } = await flow;
    assert.equal(final.status, 302, final.text);
    assert.ok(next && fragment(next.href).login_code, 'the in-flight sign-in finished with a login code');
    const ex = await stopped;
    assert.deepEqual({ code: ex.code, signal: ex.signal }, { code: 0, signal: null }, srv.stderr.slice(-2000));
  });
});
