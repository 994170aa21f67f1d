// The fake Google (tests/fakes/google.mjs) checked against jose's own verification and the
// OAuth rules it must enforce, so that tests of Tollgate against it test the real thing.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import * as jose from 'jose';
import { startFakeGoogle, ISSUER } from '../fakes/google.mjs';

const b64u = (b) => Buffer.from(b).toString('base64url');

async function form(url, fields) {
  const r = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
  });
  return { status: r.status, headers: r.headers, body: await r.json() };
}

describe('fake Google', () => {
  let g;
  const redirectUri = 'http://127.0.0.1:9/api/v1/auth/oauth/google/callback';

  before(async () => {
    g = await startFakeGoogle({ maxAge: 1234 });
  });
  after(async () => {
    await g.close();
  });

  /** Runs the authorize step; returns the redirect URL. */
  async function authorize(extra = {}) {
    const q = new URLSearchParams({
      client_id: g.clientId,
      redirect_uri: redirectUri,
      response_type: 'code',
      scope: 'openid email profile',
      state: 'st-123',
      ...extra,
    });
    const r = await fetch(`${g.authUrl}?${q}`, { redirect: 'manual' });
    assert.equal(r.status, 302);
    return new URL(r.headers.get('location'));
  }

  /** A full code flow with PKCE; returns the token endpoint's answer. */
  async function codeFlow({ nonce = 'n-0S6_WzA2Mj', verifier = b64u(randomBytes(32)), tamper = {} } = {}) {
    const challenge = b64u(createHash('sha256').update(verifier).digest());
    const back = await authorize({ nonce, code_challenge: challenge, code_challenge_method: 'S256' });
    const code = back.searchParams.get('code');
    return {
      code,
      answer: await form(g.tokenUrl, {
        code,
        client_id: g.clientId,
        client_secret: g.clientSecret,
        redirect_uri: redirectUri,
        grant_type: 'authorization_code',
        code_verifier: verifier,
        ...tamper,
      }),
    };
  }

  it('publishes two RS256 keys with Cache-Control max-age', async () => {
    const before = g.stats.jwksFetches;
    const r = await fetch(g.jwksUrl);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('cache-control'), /^public, max-age=1234, must-revalidate, no-transform$/);
    const { keys } = await r.json();
    assert.equal(keys.length, 2);
    for (const k of keys) {
      assert.equal(k.kty, 'RSA');
      assert.equal(k.alg, 'RS256');
      assert.equal(k.use, 'sig');
      assert.equal(k.e, 'AQAB');
      assert.match(k.kid, /^[0-9a-f]{40}$/);
      assert.equal(Buffer.from(k.n, 'base64url').length, 256);
      assert.equal(k.d, undefined, 'no private parts');
    }
    assert.equal(g.stats.jwksFetches, before + 1);
  });

  it('runs the code flow with PKCE; jose verifies the ID token against the JWKS', async () => {
    g.setNextIdentity({ sub: '1234567890', email: 'Bob@Example.com', name: 'Bob' });
    const back = await authorize({ nonce: 'x' });
    assert.equal(back.origin + back.pathname, redirectUri);
    assert.equal(back.searchParams.get('state'), 'st-123');
    assert.match(back.searchParams.get('code'), /^4\/0A/);

    const { answer } = await codeFlow({ nonce: 'n-abc' });
    assert.equal(answer.status, 200);
    assert.equal(answer.headers.get('cache-control'), 'no-cache, no-store, max-age=0, must-revalidate');
    assert.equal(answer.body.token_type, 'Bearer');
    assert.equal(answer.body.expires_in, 3599);
    assert.match(answer.body.access_token, /^ya29\./);
    const jwks = jose.createRemoteJWKSet(new URL(g.jwksUrl));
    const { payload, protectedHeader } = await jose.jwtVerify(answer.body.id_token, jwks, {
      issuer: ISSUER,
      audience: g.clientId,
      algorithms: ['RS256'],
    });
    assert.equal(protectedHeader.alg, 'RS256');
    assert.ok(g.currentKids().includes(protectedHeader.kid));
    assert.equal(payload.nonce, 'n-abc');
    assert.equal(payload.sub, '1234567890');
    assert.equal(payload.email, 'Bob@Example.com');
    assert.equal(payload.email_verified, true);
    assert.equal(payload.azp, g.clientId);
    assert.equal(payload.exp - payload.iat, 3600);
    const atHash = b64u(createHash('sha256').update(answer.body.access_token).digest().subarray(0, 16));
    assert.equal(payload.at_hash, atHash);
    g.setNextIdentity({});
  });

  it('codes are single-use', async () => {
    const verifier = b64u(randomBytes(32));
    const { code, answer } = await codeFlow({ verifier });
    assert.equal(answer.status, 200);
    const again = await form(g.tokenUrl, {
      code,
      client_id: g.clientId,
      client_secret: g.clientSecret,
      redirect_uri: redirectUri,
      grant_type: 'authorization_code',
      code_verifier: verifier,
    });
    assert.equal(again.status, 400);
    assert.deepEqual(again.body, { error: 'invalid_grant', error_description: 'Bad Request' });
  });

  it('answers the RFC 6749 errors', async () => {
    let r = (await codeFlow({ tamper: { code_verifier: b64u(randomBytes(32)) } })).answer;
    assert.equal(r.status, 400);
    assert.equal(r.body.error, 'invalid_grant');
    r = (await codeFlow({ tamper: { code_verifier: '' } })).answer;
    assert.equal(r.status, 400);
    assert.equal(r.body.error, 'invalid_grant');
    r = (await codeFlow({ tamper: { redirect_uri: 'http://127.0.0.1:9/other' } })).answer;
    assert.equal(r.status, 400);
    assert.equal(r.body.error, 'redirect_uri_mismatch');
    r = (await codeFlow({ tamper: { client_secret: 'wrong' } })).answer;
    assert.equal(r.status, 401);
    assert.equal(r.body.error, 'invalid_client');
    r = (await codeFlow({ tamper: { client_id: 'other.apps.googleusercontent.com' } })).answer;
    assert.equal(r.status, 401);
    assert.equal(r.body.error, 'invalid_client');
    r = (await codeFlow({ tamper: { grant_type: 'refresh_token' } })).answer;
    assert.equal(r.status, 400);
    assert.equal(r.body.error, 'unsupported_grant_type');
    r = await form(g.tokenUrl, { code: 'made-up', client_id: g.clientId, client_secret: g.clientSecret, redirect_uri: redirectUri, grant_type: 'authorization_code' });
    assert.equal(r.status, 400);
    assert.equal(r.body.error, 'invalid_grant');
  });

  it('refuses consent when told to', async () => {
    g.setAuthError('access_denied');
    const back = await authorize();
    g.setAuthError(null);
    assert.equal(back.searchParams.get('error'), 'access_denied');
    assert.equal(back.searchParams.get('state'), 'st-123');
    assert.equal(back.searchParams.get('code'), null);
  });

  it('claim overrides produce tokens jose refuses for the right reason', async () => {
    const jwks = jose.createLocalJWKSet(g.jwks());
    const opts = { issuer: ISSUER, audience: g.clientId, algorithms: ['RS256'] };
    const cases = [
      [{ aud: 'someone-else.apps.googleusercontent.com' }, 'ERR_JWT_CLAIM_VALIDATION_FAILED', 'aud'],
      [{ iss: 'https://evil.example' }, 'ERR_JWT_CLAIM_VALIDATION_FAILED', 'iss'],
      [{ exp: Math.floor(Date.now() / 1000) - 3600 }, 'ERR_JWT_EXPIRED', 'exp'],
      [{ foreignKey: true, kid: g.currentKids()[0] }, 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED', null],
      [{ kid: 'f'.repeat(40) }, 'ERR_JWKS_NO_MATCHING_KEY', null],
    ];
    for (const [o, code, claim] of cases) {
      g.setClaimOverrides(o);
      const { answer } = await codeFlow();
      assert.equal(answer.status, 200);
      await assert.rejects(jose.jwtVerify(answer.body.id_token, jwks, opts), (e) => {
        assert.equal(e.code, code, JSON.stringify(o));
        if (claim) assert.equal(e.claim, claim);
        return true;
      });
    }
    g.setClaimOverrides({ email_verified: false, locale: undefined });
    const { answer } = await codeFlow();
    const { payload } = await jose.jwtVerify(answer.body.id_token, jwks, opts);
    assert.equal(payload.email_verified, false);
    assert.equal('locale' in payload, false);
    g.setClaimOverrides({});
  });

  it('mint makes the attack tokens', async () => {
    const jwks = jose.createLocalJWKSet(g.jwks());
    const claims = g.claims();
    const good = await g.mint(claims);
    await jose.jwtVerify(good, jwks, { issuer: ISSUER, audience: g.clientId });

    const none = await g.mint(claims, { alg: 'none' });
    assert.equal(jose.decodeProtectedHeader(none).alg, 'none');
    assert.ok(none.endsWith('.'));
    await assert.rejects(jose.jwtVerify(none, jwks));

    // HS256 keyed with the public key's PEM: valid HMAC under that "secret", refused by a
    // verifier that only takes RS256 keys.
    const hs = await g.mint(claims, { alg: 'HS256-public' });
    assert.equal(jose.decodeProtectedHeader(hs).alg, 'HS256');
    await jose.jwtVerify(hs, new TextEncoder().encode(g.key(0).spki));
    await assert.rejects(jose.jwtVerify(hs, jwks));

    for (const alg of ['RS384', 'PS256', 'ES256']) {
      const t = await g.mint(claims, { alg });
      assert.equal(jose.decodeProtectedHeader(t).alg, alg);
      await assert.rejects(jose.jwtVerify(t, jwks, { algorithms: ['RS256'] }));
    }
    const noKid = await g.mint(claims, { kid: null });
    assert.equal(jose.decodeProtectedHeader(noKid).kid, undefined);
  });

  it('rotates keys: a new kid replaces the oldest', async () => {
    const [old0, old1] = g.currentKids();
    const oldToken = await g.mint(g.claims());
    const kid = await g.rotateKeys();
    assert.deepEqual(g.currentKids(), [old1, kid]);
    const { keys } = await (await fetch(g.jwksUrl)).json();
    assert.deepEqual(keys.map((k) => k.kid), [old1, kid]);
    assert.equal(jose.decodeProtectedHeader(oldToken).kid, old0);
    await assert.rejects(jose.jwtVerify(oldToken, jose.createLocalJWKSet({ keys })), { code: 'ERR_JWKS_NO_MATCHING_KEY' });
    // New tokens are signed with a published key.
    const { answer } = await codeFlow();
    await jose.jwtVerify(answer.body.id_token, jose.createLocalJWKSet({ keys }));
  });

  it('fails and slows down on demand, and counts', async () => {
    g.setFault({ path: 'jwks', status: 503, count: 2 });
    assert.equal((await fetch(g.jwksUrl)).status, 503);
    assert.equal((await fetch(g.jwksUrl)).status, 503);
    assert.equal((await fetch(g.jwksUrl)).status, 200);
    g.setFault({ path: 'token', status: 500 });
    const r = await fetch(g.tokenUrl, { method: 'POST' });
    assert.equal(r.status, 500);
    g.setFault(null);
    g.setFault({ path: 'jwks', delayMs: 300, count: 1 });
    const t0 = Date.now();
    assert.equal((await fetch(g.jwksUrl)).status, 200);
    assert.ok(Date.now() - t0 >= 280);
    const n = g.stats.jwksFetches;
    await fetch(g.jwksUrl);
    assert.equal(g.stats.jwksFetches, n + 1);
  });

  it('runs as a process with an HTTP control API', async () => {
    const script = fileURLToPath(new URL('../fakes/google.mjs', import.meta.url));
    const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const line = await new Promise((resolve, reject) => {
        let buf = '';
        child.stdout.on('data', (d) => {
          buf += d;
          if (buf.includes('\n')) resolve(buf.split('\n')[0]);
        });
        child.on('exit', (c) => reject(new Error(`exited ${c}`)));
      });
      const info = JSON.parse(line);
      assert.ok(info.port > 0);
      const kids = (await (await fetch(`${info.url}/__control/currentKids`, { method: 'POST', body: '[]' })).json()).result;
      assert.equal(kids.length, 2);
      const rotated = (await (await fetch(`${info.url}/__control/rotateKeys`, { method: 'POST', body: '[]' })).json()).result;
      const { keys } = await (await fetch(`${info.url}/oauth2/v3/certs`)).json();
      assert.deepEqual(keys.map((k) => k.kid), [kids[1], rotated]);
      const stats = (await (await fetch(`${info.url}/__control/stats`)).json()).result;
      assert.equal(stats.jwksFetches, 1);
    } finally {
      child.kill('SIGTERM');
    }
  });
});
