// docs/openapi.yaml is the contract: it lists exactly the routes of `tollgate routes`, it is
// internally consistent, and every documented operation answers as documented.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, invariantTest, runCli, assertStatus, strongPassword, sleep, STATUS_OF_CODE } from './lib/server.mjs';
import { readOutbox, tokenOf } from './lib/mail.mjs';
import { doc, deref, documentedRoutes, assertDocumented } from './lib/openapi.mjs';

const norm = (route) => route.replace(/\{[^}]+\}/g, '{}');
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
const operations = () =>
  Object.entries(doc.paths).flatMap(([p, item]) => Object.entries(item).filter(([m]) => METHODS.includes(m)).map(([m, op]) => ({ path: p, method: m, op, item })));

describe('docs/openapi.yaml', () => {
  it('lists exactly the routes that `tollgate routes` prints', () => {
    const r = runCli(['routes']);
    assert.equal(r.code, 0, r.stderr);
    const served = r.stdout.split('\n').map((l) => l.trim()).filter(Boolean);
    for (const l of served) assert.match(l, /^[A-Z]+ \/\S*$/, `"METHOD PATTERN" line: ${l}`);
    const servedSet = new Set(served.map(norm));
    const docSet = new Set(documentedRoutes().map(norm));
    assert.equal(servedSet.size, served.length, 'no duplicate routes');
    const undocumented = [...servedSet].filter((x) => !docSet.has(x)).sort();
    const notServed = [...docSet].filter((x) => !servedSet.has(x)).sort();
    assert.deepEqual({ undocumented, notServed }, { undocumented: [], notServed: [] });
  });

  it('is OpenAPI 3.0 and internally consistent', () => {
    assert.match(doc.openapi, /^3\.0\.\d+$/);
    assert.ok(doc.info?.title && doc.info?.version);
    const ids = new Set();
    for (const { path: p, method, op, item } of operations()) {
      const where = `${method.toUpperCase()} ${p}`;
      assert.ok(op.operationId, `${where}: operationId`);
      assert.ok(!ids.has(op.operationId), `${where}: unique operationId`);
      ids.add(op.operationId);
      assert.ok(op.responses && Object.keys(op.responses).length, `${where}: responses`);
      // Path parameters are declared.
      const params = [...(item.parameters ?? []), ...(op.parameters ?? [])].map(deref);
      for (const m of p.matchAll(/\{([^}]+)\}/g)) {
        assert.ok(params.some((x) => x.in === 'path' && x.name === m[1] && x.required), `${where}: path parameter ${m[1]} declared`);
      }
      // Authenticated operations document 401; JSON bodies document 400/413/415.
      const security = op.security ?? doc.security ?? [];
      const authenticated = security.some((s) => Object.keys(s).length > 0);
      if (authenticated) assert.ok(op.responses['401'], `${where}: documents 401`);
      if (p.includes('/admin/')) assert.ok(op.responses['403'], `${where}: documents 403`);
      if (op.requestBody) {
        for (const s of ['400', '413', '415']) assert.ok(op.responses[s], `${where}: documents ${s}`);
        assert.ok(op.requestBody.content?.['application/json']?.schema, `${where}: JSON request schema`);
      }
      // Every error response uses the Error schema.
      for (const [status, resp0] of Object.entries(op.responses)) {
        const resp = deref(resp0);
        assert.ok(resp, `${where} ${status}: resolves`);
        if (Number(status) >= 400) assert.equal(resp.content?.['application/json']?.schema?.$ref, '#/components/schemas/Error', `${where} ${status}: Error schema`);
      }
    }
    // Every $ref in the document resolves.
    const walk = (x, at) => {
      if (Array.isArray(x)) x.forEach((v, i) => walk(v, `${at}/${i}`));
      else if (x && typeof x === 'object') {
        if (typeof x.$ref === 'string') assert.ok(deref({ $ref: x.$ref }), `${at}: $ref ${x.$ref} resolves`);
        for (const [k, v] of Object.entries(x)) walk(v, `${at}/${k}`);
      }
    };
    walk(doc, '#');
    // The Error schema's codes are the catalogue.
    const codes = doc.components.schemas.Error.properties.error.properties.code.enum;
    assert.deepEqual([...codes].sort(), Object.keys(STATUS_OF_CODE).sort());
    assert.ok(codes.length >= 21, 'the catalogue was read');
  });
});

describe('every documented operation answers as documented', () => {
  let srv;
  const seen = new Set();
  const check = (r, method, pattern) => {
    assertDocumented(r, method, pattern);
    seen.add(`${method} ${pattern}`);
  };
  before(async () => {
    srv = await startServer();
  });
  after(() => srv?.cleanup());

  it('a tour of the API validates against the schemas', async () => {
    check(await srv.get('/health'), 'GET', '/health');
    check(await srv.get('/ready'), 'GET', '/ready');
    check(await srv.get('/metrics'), 'GET', '/metrics');

    const password = strongPassword();
    const reg = await srv.post('/api/v1/auth/register', { email: `Tour.${Date.now()}@Example.com`, password, display_name: 'Tour' });
    assertStatus(reg, 201);
    check(reg, 'POST', '/api/v1/auth/register');
    const login = await srv.post('/api/v1/auth/login', { email: reg.body.user.email, password });
    assertStatus(login, 200);
    check(login, 'POST', '/api/v1/auth/login');
    const ref = await srv.post('/api/v1/auth/refresh', { refresh_token: login.body.refresh_token });
    assertStatus(ref, 200);
    check(ref, 'POST', '/api/v1/auth/refresh');
    const out = await srv.post('/api/v1/auth/logout', { refresh_token: ref.body.refresh_token });
    assertStatus(out, 204);
    check(out, 'POST', '/api/v1/auth/logout');

    // The logout ended the account's access tokens: sign in again.
    const again = await srv.post('/api/v1/auth/login', { email: reg.body.user.email, password });
    assertStatus(again, 200);
    let token = again.body.access_token;
    check(await srv.get('/api/v1/me', { token }), 'GET', '/api/v1/me');
    check(await srv.patch('/api/v1/me', { display_name: 'Tour Guide' }, { token }), 'PATCH', '/api/v1/me');
    check(await srv.get('/api/v1/region'), 'GET', '/api/v1/region');
    check(await srv.get('/api/v1/catalog'), 'GET', '/api/v1/catalog');
    check(await srv.get('/api/v1/catalog', { token }), 'GET', '/api/v1/catalog');
    check(await srv.get('/api/v1/auth/providers'), 'GET', '/api/v1/auth/providers');
    const put = await srv.req('PUT', '/api/v1/region', { json: { region: 'CN' }, token });
    assertStatus(put, 200);
    check(put, 'PUT', '/api/v1/region');
    check(await srv.get('/api/v1/region', { token }), 'GET', '/api/v1/region');
    check(await srv.req('PUT', '/api/v1/region', { json: { region: 'EU' }, token }), 'PUT', '/api/v1/region');
    const pw = await srv.post('/api/v1/me/password', { current_password: password, new_password: strongPassword() }, { token });
    assertStatus(pw, 200);
    check(pw, 'POST', '/api/v1/me/password');
    token = pw.body.access_token; // the change ended every other session

    const mk = await srv.post('/api/v1/api-keys', { name: 'tour' }, { token });
    assertStatus(mk, 201);
    check(mk, 'POST', '/api/v1/api-keys');
    const list = await srv.get('/api/v1/api-keys', { token });
    check(list, 'GET', '/api/v1/api-keys');
    // Credits through the API key (both security schemes work on these routes).
    check(await srv.get('/api/v1/credits', { token: mk.body.key }), 'GET', '/api/v1/credits');
    check(await srv.get('/api/v1/credits/ledger?limit=5', { token: mk.body.key }), 'GET', '/api/v1/credits/ledger');
    const del = await srv.del(`/api/v1/api-keys/${mk.body.id}`, { token });
    assertStatus(del, 204);
    check(del, 'DELETE', '/api/v1/api-keys/{id}');

    const admin = await srv.admin();
    const adj = await srv.adjust(admin.token, reg.body.user.id, 10, { idempotencyKey: 'tour-1' });
    assertStatus(adj, 200);
    check(adj, 'POST', '/api/v1/admin/users/{id}/credits');
    check(await srv.get(`/api/v1/admin/users/${reg.body.user.id}`, { token: admin.token }), 'GET', '/api/v1/admin/users/{id}');
    const promote = await srv.patch(`/api/v1/admin/users/${reg.body.user.id}`, { role: 'user', disabled: false }, { token: admin.token });
    assertStatus(promote, 200);
    check(promote, 'PATCH', '/api/v1/admin/users/{id}');
    check(await srv.patch(`/api/v1/admin/users/${admin.id}`, { disabled: true }, { token: admin.token }), 'PATCH', '/api/v1/admin/users/{id}');
    check(await srv.get('/api/v1/admin/audit-log?limit=50', { token: admin.token }), 'GET', '/api/v1/admin/audit-log');

    // Browser sign-in through the sandbox provider, and linking it to the account.
    const start = await srv.get('/api/v1/auth/oauth/sandbox/start?return_to=/tour');
    assertStatus(start, 302);
    check(start, 'GET', '/api/v1/auth/oauth/{provider}/start');
    const cookie = start.headers.getSetCookie()[0].split(';')[0];
    const pageUrl = new URL(start.headers.get('location'));
    const page = await srv.get(pageUrl.pathname + pageUrl.search);
    check(page, 'GET', '/sandbox/sign-in');
    const approve = await srv.get(`/sandbox/sign-in/approve${pageUrl.search}&who=lilei`);
    check(approve, 'GET', '/sandbox/sign-in/approve');
    const cbUrl = new URL(approve.headers.get('location'));
    const cb = await srv.get(cbUrl.pathname + cbUrl.search, { headers: { cookie } });
    assertStatus(cb, 302);
    check(cb, 'GET', '/api/v1/auth/oauth/{provider}/callback');
    const code = new URLSearchParams(new URL(cb.headers.get('location'), srv.url).hash.slice(1)).get('login_code');
    srv.secrets.add(code);
    const exch = await srv.post('/api/v1/auth/exchange', { code });
    assertStatus(exch, 200);
    check(exch, 'POST', '/api/v1/auth/exchange');
    check(await srv.post('/api/v1/auth/exchange', { code }), 'POST', '/api/v1/auth/exchange');
    const link = await srv.req('POST', '/api/v1/auth/oauth/sandbox/link?return_to=/tour', { token });
    assertStatus(link, 200);
    check(link, 'POST', '/api/v1/auth/oauth/{provider}/link');
    const liMe = await srv.get('/api/v1/me', { token: exch.body.access_token });
    const unlink = await srv.del(`/api/v1/me/identities/${liMe.body.identities[0].id}`, { token: exch.body.access_token });
    assertStatus(unlink, 409);
    check(unlink, 'DELETE', '/api/v1/me/identities/{id}');

    // Google is not configured on this server: One Tap is 404.
    check(await srv.post('/api/v1/auth/google/id-token', { credential: 'a.b.c' }), 'POST', '/api/v1/auth/google/id-token');

    // Typical errors of the same operations.
    check(await srv.get('/api/v1/me'), 'GET', '/api/v1/me');
    check(await srv.adjust(admin.token, reg.body.user.id, -1000), 'POST', '/api/v1/admin/users/{id}/credits');
    check(await srv.adjust(token, reg.body.user.id, 1), 'POST', '/api/v1/admin/users/{id}/credits');
    check(await srv.req('POST', '/api/v1/auth/login', { body: '{', headers: { 'content-type': 'application/json' } }), 'POST', '/api/v1/auth/login');

    // The mail flows, with the tokens from the outbox folder (no SMTP server configured).
    const email = reg.body.user.email;
    const mailsTo = async (n) => {
      for (let i = 0; i < 200; i++) {
        const got = readOutbox(srv.dataDir).filter((f) => f.mail && f.mail.header('to') === email);
        if (got.length >= n) return got.map((f) => f.mail);
        await sleep(25);
      }
      throw new Error(`fewer than ${n} mails to ${email} in the outbox`);
    };
    const verifyToken = tokenOf((await mailsTo(1))[0], 'verify-email');
    srv.secrets.add(verifyToken);
    const resend = await srv.post('/api/v1/auth/verify-email/resend', undefined, { token });
    assertStatus(resend, 202);
    check(resend, 'POST', '/api/v1/auth/verify-email/resend');
    const verified = await srv.post('/api/v1/auth/verify-email', { token: verifyToken });
    assertStatus(verified, 200);
    check(verified, 'POST', '/api/v1/auth/verify-email');
    check(await srv.post('/api/v1/auth/verify-email', { token: 'not-a-token' }), 'POST', '/api/v1/auth/verify-email');
    const reset = await srv.post('/api/v1/auth/password-reset', { email });
    assertStatus(reset, 202);
    check(reset, 'POST', '/api/v1/auth/password-reset');
    const resetMail = (await mailsTo(3)).find((m) => m.subject === 'Reset your password');
    const resetToken = tokenOf(resetMail, 'reset-password');
    srv.secrets.add(resetToken);
    check(await srv.post('/api/v1/auth/password-reset/confirm', { token: resetToken, password: 'short' }), 'POST', '/api/v1/auth/password-reset/confirm');
    const confirmed = await srv.post('/api/v1/auth/password-reset/confirm', { token: resetToken, password: strongPassword() });
    assertStatus(confirmed, 204);
    check(confirmed, 'POST', '/api/v1/auth/password-reset/confirm');

    const missing = documentedRoutes().filter((r) => !seen.has(r));
    assert.deepEqual(missing, [], 'every documented operation was exercised');
  });

  invariantTest(() => srv);
});
