// Access-token attacks: tokens forged with jose (and by hand where jose refuses) must all be
// refused with a 401 JSON error; a correctly signed token is accepted.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { SignJWT, base64url } from 'jose';
import { randomUUID } from 'node:crypto';
import { startServer, invariantTest, assertError, assertStatus, JWT_KEY } from './lib/server.mjs';
import { assertDocumented } from './lib/openapi.mjs';

const now = () => Math.floor(Date.now() / 1000);
const enc = (o) => base64url.encode(JSON.stringify(o));

function sign(claims, { key = JWT_KEY, alg = 'HS256', header = {} } = {}) {
  return new SignJWT(claims).setProtectedHeader({ alg, typ: 'JWT', ...header }).sign(key);
}

describe('JWT attacks', () => {
  let srv;
  let user;
  let admin;
  // New accounts start at auth epoch 0; the server's own tokens carry it as "ep".
  const claimsFor = (u, extra = {}) => ({ sub: u.id, role: u.user.role, typ: 'access', ep: 0, iat: now(), exp: now() + 300, jti: randomUUID(), ...extra });

  before(async () => {
    srv = await startServer();
    user = await srv.register({ tag: 'jwt' });
    admin = await srv.admin();
  });
  after(() => srv?.cleanup());

  /** GET /api/v1/me with this bearer credential must be refused: 401 invalid_token. */
  async function refused(token, what) {
    const r = await srv.get('/api/v1/me', { headers: { authorization: `Bearer ${token}` } });
    assertError(r, 401, 'invalid_token', what);
    assertDocumented(r, 'GET', '/api/v1/me');
    return r;
  }

  it('a token signed by jose with the right secret is accepted', async () => {
    const t = await sign(claimsFor(user));
    const r = await srv.get('/api/v1/me', { token: t });
    assertStatus(r, 200);
    assert.equal(r.body.id, user.id);
    const a = await sign(claimsFor(admin));
    assertStatus(await srv.get(`/api/v1/admin/users/${user.id}`, { token: a }), 200);
  });

  it('wrong secret -> 401', async () => {
    await refused(await sign(claimsFor(user), { key: new TextEncoder().encode('another-secret-0123456789abcdef-xyz') }), 'wrong secret');
    await refused(await sign(claimsFor(user), { key: new Uint8Array(32) }), 'zero key');
  });

  it('alg none (hand-built, jose refuses to make it) -> 401', async () => {
    const body = enc(claimsFor(user));
    for (const alg of ['none', 'None', 'NONE', 'nOnE']) {
      const h = enc({ alg, typ: 'JWT' });
      await refused(`${h}.${body}.`, `alg ${alg}, empty signature`);
      await refused(`${h}.${body}`, `alg ${alg}, two segments`);
    }
    // alg none with a real signature attached.
    const good = await sign(claimsFor(user));
    const [, p, s] = good.split('.');
    await refused(`${enc({ alg: 'none', typ: 'JWT' })}.${p}.${s}`, 'alg none + valid HS256 signature');
  });

  it('HS512 / HS384 with the right secret -> 401 (only HS256 is accepted)', async () => {
    await refused(await sign(claimsFor(user), { alg: 'HS512' }), 'HS512');
    await refused(await sign(claimsFor(user), { alg: 'HS384' }), 'HS384');
    // Header says HS512 but the signature is HS256 over it.
    const good = await sign(claimsFor(user));
    const [, p] = good.split('.');
    const forgedHeader = enc({ alg: 'HS512', typ: 'JWT' });
    const { createHmac } = await import('node:crypto');
    const sig = createHmac('sha256', Buffer.from(JWT_KEY)).update(`${forgedHeader}.${p}`).digest('base64url');
    await refused(`${forgedHeader}.${p}.${sig}`, 'HS512 header with HS256 signature');
  });

  it('expired, missing exp, exp of the wrong type -> 401', async () => {
    await refused(await sign(claimsFor(user, { iat: now() - 7200, exp: now() - 3600 })), 'expired an hour ago');
    const noExp = claimsFor(user);
    delete noExp.exp;
    await refused(await sign(noExp), 'missing exp');
    await refused(await sign(claimsFor(user, { exp: String(now() + 300) })), 'exp as string');
    await refused(await sign(claimsFor(user, { exp: null })), 'exp null');
  });

  it('typ other than "access" (or missing) -> 401', async () => {
    for (const typ of ['refresh', 'Access', 'id', '', 1]) await refused(await sign(claimsFor(user, { typ })), `typ ${JSON.stringify(typ)}`);
    const noTyp = claimsFor(user);
    delete noTyp.typ;
    await refused(await sign(noTyp), 'missing typ');
  });

  it('missing or foreign sub -> 401 (never someone else, never 500)', async () => {
    const noSub = claimsFor(user);
    delete noSub.sub;
    await refused(await sign(noSub), 'missing sub');
    await refused(await sign(claimsFor(user, { sub: 42 })), 'numeric sub');
    // A valid signature for an account that does not exist: the token is invalid.
    await refused(await sign(claimsFor(user, { sub: 'usr_00000000000000000000000000' })), 'unknown user');
  });

  it('the auth epoch: a token without one, or from another epoch, -> 401', async () => {
    const noEp = claimsFor(user);
    delete noEp.ep;
    await refused(await sign(noEp), 'missing ep (a token from before epochs existed)');
    await refused(await sign(claimsFor(user, { ep: 1 })), 'ep from the future');
    await refused(await sign(claimsFor(user, { ep: -1 })), 'negative ep');
    await refused(await sign(claimsFor(user, { ep: '0' })), 'ep as a string');
  });

  it('the role claim grants nothing: rights come from the account', async () => {
    const t = await sign(claimsFor(user, { role: 'admin' }));
    const r = await srv.get('/api/v1/admin/audit-log', { token: t });
    assertError(r, 403, 'forbidden', 'a user signed with role "admin" is still a user');
  });

  it('tampered payload (role or sub changed, signature kept) -> 401', async () => {
    const good = await sign(claimsFor(user));
    const [h, , s] = good.split('.');
    const asAdmin = `${h}.${enc(claimsFor(user, { role: 'admin' }))}.${s}`;
    await refused(asAdmin, 'role changed');
    const r = await srv.get('/api/v1/admin/audit-log', { token: asAdmin });
    assertError(r, 401, 'invalid_token', 'tampered admin token on an admin route is a 401, not 403/200');
    await refused(`${h}.${enc(claimsFor(admin))}.${s}`, 'sub changed to the admin');
    // Flip one bit of the signature.
    const sig = Buffer.from(s, 'base64url');
    sig[0] ^= 1;
    await refused(`${h}.${good.split('.')[1]}.${sig.toString('base64url')}`, 'signature bit flipped');
    // Signature with padding / standard base64 characters.
    await refused(`${good}=`, 'trailing padding');
    await refused(good.replace(/\./g, '..'), 'doubled dots');
  });

  it('a correctly signed user token on an admin route -> 403 forbidden', async () => {
    const t = await sign(claimsFor(user));
    const r = await srv.get('/api/v1/admin/audit-log', { token: t });
    assertError(r, 403, 'forbidden');
  });

  it('garbage tokens and malformed Authorization headers -> 401', async () => {
    for (const t of ['abc', 'a.b.c', '..', '.', 'e30.e30.', 'e30.e30.e30', '!!!.@@@.###', 'eyJhbGciOiJIUzI1NiJ9', 'tg_live_', 'tg_live_notarealkey', 'tg_', 'Bearer x']) {
      await refused(t, `garbage ${t}`);
    }
    // The Bearer scheme (any case) with no credential, or a bad one: invalid_token.
    for (const auth of ['Bearer', 'Bearer ', 'bearer', `Bearer  ${await sign(claimsFor(user))}x`]) {
      const r = await srv.get('/api/v1/me', { headers: { authorization: auth } });
      assertError(r, 401, 'invalid_token', `Authorization: ${auth.slice(0, 30)}`);
    }
    // Another scheme is no credential at all: unauthorized, as with no header.
    for (const auth of ['Basic dXNlcjpwYXNz', 'Token abc']) {
      const r = await srv.get('/api/v1/me', { headers: { authorization: auth } });
      assertError(r, 401, 'unauthorized', `Authorization: ${auth.slice(0, 30)}`);
    }
    // Header with non-JSON / JSON array.
    await refused(`${base64url.encode('not json')}.${enc(claimsFor(user))}.AAAA`, 'header not JSON');
    await refused(`${base64url.encode('[1,2]')}.${enc(claimsFor(user))}.AAAA`, 'header array');
    await refused(`${enc({ alg: 'HS256' })}.${base64url.encode('[1]')}.AAAA`, 'payload array');
  });

  it('a 5 KB token -> 401 JSON', async () => {
    const big = await sign(claimsFor(user, { pad: 'x'.repeat(5000) }));
    assert.ok(big.length > 5000);
    await refused(`${big}x`, '5 KB token, bad signature');
    // Even correctly signed: a bearer credential over 4096 bytes is refused unread (the server
    // never issues one that long).
    const r = await srv.get('/api/v1/me', { token: big });
    assertError(r, 401, 'invalid_token', '5 KB correctly signed token');
    await refused('A'.repeat(5120), '5 KB of A');
  });

  invariantTest(() => srv);
});
