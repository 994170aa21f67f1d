// Browser sessions: "X-Tollgate-Session: cookie" moves the refresh token out of the body into
// an HttpOnly, SameSite=Strict cookie scoped to /api/v1/auth; refresh and logout read it from
// there only with this site's Origin; sign-out everywhere ends every session of the account at
// once. Written as an attacker would probe it: exact cookie flags, foreign and missing
// origins, replays, races, planted duplicates, oversized values.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startServer, invariantTest, assertError, assertStatus, uniqueEmail, strongPassword } from './lib/server.mjs';
import { assertDocumented } from './lib/openapi.mjs';
import { CookieJar, fragment } from './lib/browser.mjs';
import { rawRequest } from './lib/raw.mjs';

const REG = '/api/v1/auth/register';
const LOGIN = '/api/v1/auth/login';
const REFRESH = '/api/v1/auth/refresh';
const LOGOUT = '/api/v1/auth/logout';
const ME = '/api/v1/me';
const AUDIT = '/api/v1/admin/audit-log';
const SESSION = { 'x-tollgate-session': 'cookie' };
const TTL = 604800; // TG_REFRESH_TOKEN_TTL default
const RT = '(rt_[A-Za-z0-9_-]{43})';

/** The Set-Cookie lines of a response. */
function setCookies(r) {
  return r.headers.getSetCookie();
}

/** The one Set-Cookie of r, which must store a refresh token in cookie `name`; the token. */
function storedToken(r, name = 'tg_refresh', secure = false) {
  const sc = setCookies(r);
  assert.equal(sc.length, 1, `exactly one Set-Cookie: ${JSON.stringify(sc)}`);
  const re = new RegExp(`^${name}=${RT}; Path=/api/v1/auth; HttpOnly; SameSite=Strict; Max-Age=${TTL}${secure ? '; Secure' : ''}$`);
  const m = sc[0].match(re);
  assert.ok(m, `Set-Cookie has exactly the expected flags: ${sc[0].replace(/rt_[A-Za-z0-9_-]+/, 'rt_...')}`);
  return m[1];
}

/** Asserts that r deletes the session cookie, with the same path and flags. */
function assertCleared(r, name = 'tg_refresh', secure = false) {
  assert.deepEqual(setCookies(r), [`${name}=; Path=/api/v1/auth; HttpOnly; SameSite=Strict; Max-Age=0${secure ? '; Secure' : ''}`]);
}

/** POST with exactly these headers (Host included, which fetch will not let a caller set). */
function postWithHost(port, path, headers, body = '{}') {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: 'POST', agent: false,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: text ? JSON.parse(text) : null }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('browser sessions (http public URL)', () => {
  let srv;
  let origin;
  let admin;
  before(async () => {
    srv = await startServer();
    origin = srv.url; // TG_PUBLIC_URL defaults to http://127.0.0.1:<port>
    admin = await srv.admin();
  });
  after(() => srv?.cleanup());

  /** Registers in cookie mode; returns {id, email, password, access, rt}. */
  async function cookieUser() {
    const email = uniqueEmail('cookie');
    const password = strongPassword();
    const r = await srv.post(REG, { email, password }, { headers: SESSION });
    assertStatus(r, 201);
    const rt = storedToken(r);
    srv.secrets.add(rt);
    return { id: r.body.user.id, email, password, access: r.body.access_token, rt };
  }

  /** A second session of the same account, in body mode (another device, an API client). */
  async function bodyLogin(u) {
    const r = await srv.post(LOGIN, { email: u.email, password: u.password });
    assertStatus(r, 200);
    return { access: r.body.access_token, rt: r.body.refresh_token };
  }

  /** Refresh with cookie rt and Origin o; o null sends no Origin at all (fetch would add one). */
  async function refreshCookie(rt, { origin: o = origin, json = {}, headers = {} } = {}) {
    if (o === null) {
      const r = await rawRequest(srv.port, 'POST', REFRESH, [`Cookie: tg_refresh=${rt}`], JSON.stringify(json));
      return { ...r, body: r.json, method: 'POST', path: REFRESH, headers: { get: (k) => (r.headers[k] ?? [null])[0], getSetCookie: () => r.headers['set-cookie'] ?? [] } };
    }
    return srv.post(REFRESH, json, { headers: { cookie: `tg_refresh=${rt}`, origin: o, ...headers } });
  }

  async function auditOf(userId, action) {
    const r = await srv.get(`${AUDIT}?limit=100`, { token: admin.token });
    assertStatus(r, 200);
    return r.body.data.filter((e) => e.action === action && e.target_id === userId);
  }

  it('register, login and exchange-style answers in cookie mode: no refresh_token in the body, one cookie with exact flags', async () => {
    const email = uniqueEmail('flags');
    const password = strongPassword();
    const reg = await srv.post(REG, { email, password }, { headers: SESSION });
    assertStatus(reg, 201);
    assertDocumented(reg, 'POST', REG);
    assert.equal('refresh_token' in reg.body, false, 'no refresh_token in a cookie-mode body');
    assert.equal(typeof reg.body.access_token, 'string');
    assert.equal(reg.body.token_type, 'Bearer');
    assert.equal(reg.body.expires_in, 900);
    assert.equal(reg.headers.get('cache-control'), 'no-store');
    const rt = storedToken(reg);
    srv.secrets.add(rt);
    assert.equal(reg.text.includes(rt), false, 'the token appears nowhere in the body');

    const login = await srv.post(LOGIN, { email, password }, { headers: SESSION });
    assertStatus(login, 200);
    assert.equal('refresh_token' in login.body, false);
    const rt2 = storedToken(login);
    srv.secrets.add(rt2);
    assert.notEqual(rt2, rt, 'each sign-in gets its own token');

    // Without the header nothing changes for API clients.
    const plain = await srv.post(LOGIN, { email, password });
    assertStatus(plain, 200);
    assert.match(plain.body.refresh_token, new RegExp(`^${RT}$`));
    assert.deepEqual(setCookies(plain), [], 'no cookie without the header');
    const other = await srv.post(LOGIN, { email, password }, { headers: { 'x-tollgate-session': 'body' } });
    assertStatus(other, 200);
    assert.equal(typeof other.body.refresh_token, 'string', 'any other header value is body mode');
    assert.deepEqual(setCookies(other), []);
  });

  it('the login code exchange (browser sign-in) and a password change answer in cookie mode too', async () => {
    const jar = new CookieJar();
    const start = await fetch(`${srv.url}/api/v1/auth/oauth/sandbox/start?return_to=%2Fwelcome`, { redirect: 'manual' });
    srv.requests += 1;
    assert.equal(start.status, 302);
    jar.take(start);
    const page = new URL(start.headers.get('location'));
    const state = page.searchParams.get('state');
    const approve = await srv.get(`/sandbox/sign-in/approve?state=${state}&code_challenge=${page.searchParams.get('code_challenge')}&who=lilei`);
    assertStatus(approve, 302);
    const cb = new URL(approve.headers.get('location'));
    const back = await srv.req('GET', cb.pathname + cb.search, { headers: { cookie: jar.header(cb.pathname) } });
    assertStatus(back, 302);
    const { login_code: code } = fragment(new URL(back.headers.get('location'), srv.url).href);
    srv.secrets.add(code);
    const ex = await srv.post('/api/v1/auth/exchange', { code }, { headers: SESSION });
    assertStatus(ex, 200);
    assertDocumented(ex, 'POST', '/api/v1/auth/exchange');
    assert.equal('refresh_token' in ex.body, false);
    const rt = storedToken(ex);
    srv.secrets.add(rt);
    const r = await refreshCookie(rt);
    assertStatus(r, 200);
    srv.secrets.add(storedToken(r));

    const u = await cookieUser();
    const pw = await srv.post('/api/v1/me/password', { current_password: u.password, new_password: strongPassword() }, { token: u.access, headers: SESSION });
    assertStatus(pw, 200);
    assertDocumented(pw, 'POST', '/api/v1/me/password');
    assert.equal('refresh_token' in pw.body, false);
    const fresh = storedToken(pw);
    srv.secrets.add(fresh);
    assertError(await refreshCookie(u.rt), 401, 'invalid_refresh_token', 'the password change ended the old session');
    const ok = await refreshCookie(fresh);
    assertStatus(ok, 200, 'the session the change handed out lives in the cookie');
    srv.secrets.add(storedToken(ok));
  });

  it('refresh with the cookie and this site\'s Origin rotates: a new cookie, no token in the body, the old one is spent', async () => {
    const u = await cookieUser();
    const r = await refreshCookie(u.rt);
    assertStatus(r, 200);
    assertDocumented(r, 'POST', REFRESH);
    assert.equal('refresh_token' in r.body, false);
    const next = storedToken(r);
    srv.secrets.add(next);
    assert.notEqual(next, u.rt);
    assertStatus(await srv.get(ME, { token: r.body.access_token }), 200);

    // An empty body (no JSON at all) reads the cookie too; the answer is cookie mode even
    // without X-Tollgate-Session, because the token came from the cookie.
    const again = await srv.req('POST', REFRESH, { headers: { cookie: `tg_refresh=${next}`, origin } });
    assertStatus(again, 200);
    assert.equal('refresh_token' in again.body, false);
    const third = storedToken(again);
    srv.secrets.add(third);
    assert.notEqual(third, next);
  });

  it('a foreign, missing, "null" or differently spelled Origin is 403 origin_mismatch and the token is not consumed', async () => {
    const u = await cookieUser();
    const port = new URL(origin).port;
    const bad = [
      ['https://evil.example', 'mismatch'],
      ['null', 'mismatch'],
      [`${origin}/`, 'mismatch'],
      [`http://localhost:${port}`, 'mismatch'],
      [`https://127.0.0.1:${port}`, 'mismatch'],
      [`http://127.0.0.1:${Number(port) + 1}`, 'mismatch'],
      [origin.toUpperCase(), 'mismatch'],
      [`${origin}.evil.example`, 'mismatch'],
      ['', 'mismatch'],
      [null, 'missing'],
    ];
    for (const [o, reason] of bad) {
      const r = await refreshCookie(u.rt, { origin: o });
      assertError(r, 403, 'origin_mismatch', `Origin ${JSON.stringify(o)}`);
      assert.equal(r.body.error.details.reason, reason, `Origin ${JSON.stringify(o)}`);
      assert.equal(r.body.error.details.expected, origin);
      assert.deepEqual(setCookies(r), [], 'a refused request neither sets nor deletes the cookie');
      if (o === null) {
        const out = await rawRequest(srv.port, 'POST', LOGOUT, [`Cookie: tg_refresh=${u.rt}`], '{}');
        assert.equal(out.status, 403);
        assert.equal(out.json.error.code, 'origin_mismatch');
        assert.equal(out.headers['set-cookie'], undefined);
      } else {
        const out = await srv.post(LOGOUT, {}, { headers: { cookie: `tg_refresh=${u.rt}`, origin: o } });
        assertError(out, 403, 'origin_mismatch', `logout, Origin ${JSON.stringify(o)}`);
        assert.deepEqual(setCookies(out), []);
      }
    }
    // Two Origin lines (which one was checked would be a guess): refused.
    const two = await rawRequest(srv.port, 'POST', REFRESH, [`Origin: ${origin}`, `Origin: ${origin}`, `Cookie: tg_refresh=${u.rt}`], '{}');
    assert.equal(two.status, 403);
    assert.equal(two.json.error.code, 'origin_mismatch');
    // Nothing above spent the token.
    const ok = await refreshCookie(u.rt);
    assertStatus(ok, 200, 'the token still works with the right Origin');
    srv.secrets.add(storedToken(ok));
  });

  it('with the default public URL, a page opened under another name of this host (localhost) keeps its session: Origin must be http:// + the Host it addressed', async () => {
    const u = await cookieUser();
    const port = srv.port;
    const send = (host, o) => postWithHost(port, REFRESH, { host, origin: o, cookie: `tg_refresh=${u.rt}`, 'x-tollgate-session': 'cookie' });
    for (const [host, o] of [
      [`localhost:${port}`, `http://127.0.0.1:${port + 1}`],
      [`localhost:${port}`, `https://localhost:${port}`],
      [`localhost:${port}`, `http://localhost:${port + 1}`],
      [`localhost:${port}`, `http://localhost`],
      [`localhost:${port}`, 'null'],
      [`localhost:${port}`, `http://LOCALHOST:${port}`],
    ]) {
      const r = await send(host, o);
      assert.equal(r.status, 403, `Host ${host}, Origin ${o}`);
      assert.equal(r.body.error.code, 'origin_mismatch');
    }
    const r = await send(`localhost:${port}`, `http://localhost:${port}`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal('refresh_token' in r.body, false);
    const next = /^tg_refresh=([^;]+);/.exec(r.headers['set-cookie'][0])[1];
    srv.secrets.add(next);
  });

  it('a refresh_token in the body wins over the cookie and needs no Origin (API clients)', async () => {
    const u = await cookieUser();
    const b = await bodyLogin(u);
    const r = await srv.post(REFRESH, { refresh_token: b.rt }, { headers: { cookie: `tg_refresh=${u.rt}`, origin: 'https://evil.example' } });
    assertStatus(r, 200);
    assert.match(r.body.refresh_token, new RegExp(`^${RT}$`), 'body mode answer');
    assert.deepEqual(setCookies(r), []);
    assertStatus(await refreshCookie(u.rt), 200, 'the cookie token was not touched');
  });

  it('reusing a rotated cookie token is theft: 401, the cookie is deleted, the whole family is revoked and audited', async () => {
    const u = await cookieUser();
    const r1 = await refreshCookie(u.rt);
    assertStatus(r1, 200);
    const next = storedToken(r1);
    srv.secrets.add(next);
    const replay = await refreshCookie(u.rt);
    assertError(replay, 401, 'invalid_refresh_token');
    assertCleared(replay);
    const victim = await refreshCookie(next);
    assertError(victim, 401, 'invalid_refresh_token', 'the legitimate newest token died with its family');
    const rows = await auditOf(u.id, 'auth.refresh_reuse');
    assert.equal(rows.length, 1);
    assert.equal(rows[0].details.via, 'cookie');
    assert.equal(JSON.stringify(rows).includes(u.rt), false, 'no token in the audit log');
  });

  it('8 concurrent refreshes with the same cookie: exactly one 200, seven 401, and the family is revoked', async () => {
    const u = await cookieUser();
    const all = await Promise.all(Array.from({ length: 8 }, () => refreshCookie(u.rt)));
    const ok = all.filter((r) => r.status === 200);
    const refused = all.filter((r) => r.status === 401);
    assert.equal(ok.length, 1, `statuses ${all.map((r) => r.status).join(',')}`);
    assert.equal(refused.length, 7);
    for (const r of refused) {
      assertError(r, 401, 'invalid_refresh_token');
      assertCleared(r);
    }
    const winner = storedToken(ok[0]);
    srv.secrets.add(winner);
    // The seven losers presented a rotated token: reuse, which revokes the family.
    assertError(await refreshCookie(winner), 401, 'invalid_refresh_token');
  });

  it('logout with the cookie: 204, the cookie deleted with the same path and flags, the refresh and access tokens dead', async () => {
    const u = await cookieUser();
    assertStatus(await srv.get(ME, { token: u.access }), 200);
    const out = await srv.post(LOGOUT, {}, { headers: { cookie: `tg_refresh=${u.rt}`, origin } });
    assertStatus(out, 204);
    assertDocumented(out, 'POST', LOGOUT);
    assertCleared(out);
    assertError(await refreshCookie(u.rt), 401, 'invalid_refresh_token');
    assertError(await srv.get(ME, { token: u.access }), 401, 'invalid_token');
    // Logout is idempotent and always deletes the cookie, even for a dead or garbage token.
    const again = await srv.post(LOGOUT, {}, { headers: { cookie: `tg_refresh=${u.rt}`, origin } });
    assertStatus(again, 204);
    assertCleared(again);
    const body = await srv.post(LOGOUT, { refresh_token: 'rt_nonsense' });
    assertStatus(body, 204);
    assertCleared(body);
  });

  it('no token anywhere: a browser gets 401 invalid_refresh_token (reason missing), an API client the 400 it always had', async () => {
    for (const p of [REFRESH, LOGOUT]) {
      for (const send of [
        () => srv.post(p, {}, { headers: SESSION }),
        () => srv.req('POST', p, { headers: SESSION }),
        () => srv.post(p, {}, { headers: { ...SESSION, cookie: 'other=1; tg_refreshx=rt_x', origin } }),
      ]) {
        const r = await send();
        assertError(r, 401, 'invalid_refresh_token', p);
        assert.equal(r.body.error.details.reason, 'missing');
        if (p === LOGOUT) assertCleared(r);
        else assert.deepEqual(setCookies(r), []);
      }
    }
    // Without the header (an API client) and without the cookie: the field is missing.
    for (const p of [REFRESH, LOGOUT]) {
      const r = await srv.post(p, {});
      assertError(r, 400, 'validation_failed', p);
      assert.equal(r.body.error.details.field, 'refresh_token');
    }
    // A malformed body is still a 400, as before.
    assertError(await srv.post(REFRESH, { refresh_token: ['x'] }), 400, 'validation_failed');
    assertError(await srv.post(LOGOUT, { everywhere: 'yes' }), 400, 'validation_failed');
    assertError(await srv.post(REFRESH, { everywhere: true }), 400, 'validation_failed', 'everywhere is a logout field');
  });

  it('sign out everywhere with the cookie: every refresh token and every access token of the account stop at once; audited', async () => {
    const u = await cookieUser();
    const b = await bodyLogin(u);
    const c = await bodyLogin(u);
    const stranger = await cookieUser();
    for (const t of [u.access, b.access, c.access]) assertStatus(await srv.get(ME, { token: t }), 200);

    const out = await srv.post(LOGOUT, { everywhere: true }, { headers: { cookie: `tg_refresh=${u.rt}`, origin } });
    assertStatus(out, 204);
    assertCleared(out);
    for (const t of [u.access, b.access, c.access]) assertError(await srv.get(ME, { token: t }), 401, 'invalid_token', 'old access token');
    assertError(await refreshCookie(u.rt), 401, 'invalid_refresh_token');
    assertError(await srv.post(REFRESH, { refresh_token: b.rt }), 401, 'invalid_refresh_token');
    assertError(await srv.post(REFRESH, { refresh_token: c.rt }), 401, 'invalid_refresh_token');
    // Another account is untouched.
    assertStatus(await srv.get(ME, { token: stranger.access }), 200);
    const s2 = await refreshCookie(stranger.rt);
    assertStatus(s2, 200);
    srv.secrets.add(storedToken(s2));
    // A new sign-in works afterwards.
    assertStatus(await srv.get(ME, { token: (await bodyLogin(u)).access }), 200);

    const rows = await auditOf(u.id, 'auth.logout_everywhere');
    assert.equal(rows.length, 1);
    assert.equal(rows[0].actor_id, u.id);
    assert.equal(rows[0].details.via, 'cookie');
  });

  it('sign out everywhere with only an access token, with an API key, or with a body token', async () => {
    const u = await cookieUser();
    const b = await bodyLogin(u);
    const out = await srv.post(LOGOUT, { everywhere: true }, { token: b.access });
    assertStatus(out, 204);
    assertError(await srv.get(ME, { token: b.access }), 401, 'invalid_token');
    assertError(await srv.get(ME, { token: u.access }), 401, 'invalid_token');
    assertError(await refreshCookie(u.rt), 401, 'invalid_refresh_token');
    assertError(await srv.post(REFRESH, { refresh_token: b.rt }), 401, 'invalid_refresh_token');
    assert.equal((await auditOf(u.id, 'auth.logout_everywhere'))[0].details.via, 'bearer');

    const s = await bodyLogin(u);
    const key = await srv.post('/api/v1/api-keys', { name: 'everywhere' }, { token: s.access });
    assertStatus(key, 201);
    srv.secrets.add(key.body.key);
    const viaKey = await srv.post(LOGOUT, { everywhere: true }, { token: key.body.key });
    assertStatus(viaKey, 204);
    assertError(await srv.get(ME, { token: s.access }), 401, 'invalid_token');
    assertError(await srv.post(REFRESH, { refresh_token: s.rt }), 401, 'invalid_refresh_token');
    assertStatus(await srv.get(ME, { token: key.body.key }), 200, 'API keys are not sessions: the key itself keeps working');

    const t = await bodyLogin(u);
    const t2 = await bodyLogin(u);
    assertStatus(await srv.post(LOGOUT, { refresh_token: t.rt, everywhere: true }), 204);
    assertError(await srv.post(REFRESH, { refresh_token: t2.rt }), 401, 'invalid_refresh_token');
    assertError(await srv.get(ME, { token: t2.access }), 401, 'invalid_token');
  });

  it('sign out everywhere needs proof: a spent token, a forged bearer or nothing is 401 and ends nothing', async () => {
    const u = await cookieUser();
    const live = await bodyLogin(u);
    const r1 = await refreshCookie(u.rt);
    assertStatus(r1, 200);
    const next = storedToken(r1);
    srv.secrets.add(next);
    // u.rt is spent (rotated): it names the account but proves nothing.
    const spent = await srv.post(LOGOUT, { refresh_token: u.rt, everywhere: true });
    assertError(spent, 401, 'invalid_refresh_token');
    assertCleared(spent);
    const forged = await srv.post(LOGOUT, { everywhere: true }, { token: 'eyJhbGciOiJIUzI1NiJ9.e30.AAAA' });
    assertError(forged, 401, 'invalid_token');
    const nothing = await srv.post(LOGOUT, { everywhere: true });
    assertError(nothing, 401, 'invalid_refresh_token');
    assert.equal(nothing.body.error.details.reason, 'missing');
    // Nothing ended: the live sessions still refresh.
    assertStatus(await srv.get(ME, { token: live.access }), 200);
    const ok = await refreshCookie(next);
    assertStatus(ok, 200);
    srv.secrets.add(storedToken(ok));
    assertEqualAudit(await auditOf(u.id, 'auth.logout_everywhere'), 0);
    // A spent token with a valid bearer: the bearer says who is asking.
    const both = await srv.post(LOGOUT, { refresh_token: u.rt, everywhere: true }, { token: live.access });
    assertStatus(both, 204);
    assertError(await srv.post(REFRESH, { refresh_token: live.rt }), 401, 'invalid_refresh_token');
  });

  function assertEqualAudit(rows, n) {
    assert.equal(rows.length, n, `audit rows: ${JSON.stringify(rows)}`);
  }

  it('two session cookies (one planted by another path or a sibling domain): 401 ambiguous_cookie, neither is spent', async () => {
    const u = await cookieUser();
    const v = await cookieUser();
    const r = await srv.post(REFRESH, {}, { headers: { cookie: `tg_refresh=${u.rt}; tg_refresh=${v.rt}`, origin } });
    assertError(r, 401, 'invalid_refresh_token');
    assert.equal(r.body.error.details.reason, 'ambiguous_cookie');
    assert.deepEqual(setCookies(r), [], 'the cookie is not deleted: which one would be a guess');
    // The same over two Cookie header lines, and with the same token twice.
    for (const lines of [[`Cookie: tg_refresh=${u.rt}`, `Cookie: tg_refresh=${v.rt}`], [`Cookie: tg_refresh=${u.rt}`, `Cookie: a=1; tg_refresh=${u.rt}`]]) {
      const raw = await rawRequest(srv.port, 'POST', REFRESH, [`Origin: ${origin}`, ...lines], '{}');
      assert.equal(raw.status, 401);
      assert.equal(raw.json.error.code, 'invalid_refresh_token');
      assert.equal(raw.json.error.details.reason, 'ambiguous_cookie');
    }
    const out = await srv.post(LOGOUT, {}, { headers: { cookie: `tg_refresh=${u.rt}; tg_refresh=${v.rt}`, origin } });
    assertError(out, 401, 'invalid_refresh_token');
    // Neither token was consumed.
    for (const t of [u.rt, v.rt]) {
      const ok = await refreshCookie(t);
      assertStatus(ok, 200);
      srv.secrets.add(storedToken(ok));
    }
  });

  it('many Cookie header lines with other cookies and one session cookie: the session cookie is found', async () => {
    const u = await cookieUser();
    const lines = Array.from({ length: 40 }, (_, i) => `Cookie: c${i}=${'v'.repeat(20)}; tg_oauth_${i}=x`);
    lines.splice(17, 0, `Cookie: theme=dark; tg_refresh=${u.rt}; lang=en`);
    const r = await rawRequest(srv.port, 'POST', REFRESH, [`Origin: ${origin}`, ...lines], '{}');
    assert.equal(r.status, 200);
    assert.equal('refresh_token' in r.json, false);
    assert.equal(r.headers['set-cookie'].length, 1);
    const m = r.headers['set-cookie'][0].match(new RegExp(`^tg_refresh=${RT};`));
    assert.ok(m);
    srv.secrets.add(m[1]);
  });

  it('an oversized, malformed or foreign session cookie is 401 invalid_refresh_token and is deleted', async () => {
    for (const value of ['rt_' + 'A'.repeat(5000), 'rt_' + 'A'.repeat(43), 'x', '"rt_quoted"', 'rt_\\bad']) {
      const r = await srv.post(REFRESH, {}, { headers: { cookie: `tg_refresh=${value}`, origin } });
      assertError(r, 401, 'invalid_refresh_token', value.slice(0, 20));
      assertCleared(r);
    }
    // An empty value.
    const empty = await srv.post(REFRESH, {}, { headers: { cookie: 'tg_refresh=', origin } });
    assertError(empty, 401, 'invalid_refresh_token');
  });

  invariantTest(() => srv);
});

describe('browser sessions (https public URL)', () => {
  let srv;
  const ORIGIN = 'https://example.test';
  const NAME = '__Secure-tg_refresh';
  before(async () => {
    srv = await startServer({ env: { TG_PUBLIC_URL: 'https://example.test/tollgate' } });
  });
  after(() => srv?.cleanup());

  it('the cookie is __Secure-tg_refresh with Secure; refresh needs Origin https://example.test; logout deletes it with Secure', async () => {
    const email = uniqueEmail('secure');
    const password = strongPassword();
    const reg = await srv.post(REG, { email, password }, { headers: SESSION });
    assertStatus(reg, 201);
    assert.equal('refresh_token' in reg.body, false);
    const rt = storedToken(reg, NAME, true);
    srv.secrets.add(rt);

    assertError(await srv.post(REFRESH, {}, { headers: { cookie: `${NAME}=${rt}`, origin: 'http://example.test' } }), 403, 'origin_mismatch');
    assertError(await srv.post(REFRESH, {}, { headers: { cookie: `${NAME}=${rt}`, origin: 'https://example.test:443' } }), 403, 'origin_mismatch', 'browsers never send the default port');
    assertError(await srv.post(REFRESH, {}, { headers: { cookie: `${NAME}=${rt}`, origin: srv.url } }), 403, 'origin_mismatch');
    // A configured TG_PUBLIC_URL is the only origin: the Host a request names is not enough.
    const byHost = await postWithHost(srv.port, REFRESH, { host: 'tollgate.internal:8080', origin: 'http://tollgate.internal:8080', cookie: `${NAME}=${rt}` });
    assert.equal(byHost.status, 403);
    assert.equal(byHost.body.error.code, 'origin_mismatch');
    // The unprefixed name (what a plain-http page could set) is not the session cookie here.
    const plain = await srv.post(REFRESH, {}, { headers: { ...SESSION, cookie: `tg_refresh=${rt}`, origin: ORIGIN } });
    assertError(plain, 401, 'invalid_refresh_token');
    assert.equal(plain.body.error.details.reason, 'missing');

    const r = await srv.post(REFRESH, {}, { headers: { cookie: `${NAME}=${rt}`, origin: ORIGIN } });
    assertStatus(r, 200);
    const next = storedToken(r, NAME, true);
    srv.secrets.add(next);

    const out = await srv.post(LOGOUT, {}, { headers: { cookie: `${NAME}=${next}`, origin: ORIGIN } });
    assertStatus(out, 204);
    assertCleared(out, NAME, true);
    assertError(await srv.post(REFRESH, {}, { headers: { cookie: `${NAME}=${next}`, origin: ORIGIN } }), 401, 'invalid_refresh_token');
  });

  invariantTest(() => srv);
});
