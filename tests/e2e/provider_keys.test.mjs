// The generation providers' key pools, for admins: env keys listed under derived ids, adding
// (the secret goes in and never comes out: not in an answer, an error, the audit log, /metrics
// or a log line), disabling and enabling (audited, kept across a restart), and who may do it
// (users 403, a demoted admin's old token 401).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, invariantTest, assertError, assertStatus } from './lib/server.mjs';
import { assertDocumented } from './lib/openapi.mjs';

const ENV_DASHSCOPE = 'sk-e2eEnvDashscope0001';
const ENV_KIE = 'kieE2eEnvKey0000000002';
const GEMINI_KEY = 'AIzaSyE2E-gemini-admin-key-0003';
const DASHSCOPE_KEY = 'sk-e2eAdminDashscope0004';
const PK_RE = /^pk_[0-9A-HJKMNP-TV-Z]{26}$/;
const SECRETS = [ENV_DASHSCOPE, ENV_KIE, GEMINI_KEY, DASHSCOPE_KEY];

describe('provider keys (admin)', () => {
  let srv;
  let root;
  const answers = [];
  // Every answer of this file is kept, to look for secrets in all of them at the end.
  const call = async (p) => {
    const r = await p;
    answers.push(`${r.method} ${r.path} ${r.status} ${[...r.headers].map(([k, v]) => `${k}: ${v}`).join('\n')}\n${r.text}`);
    return r;
  };
  const list = async (token = root.token) => {
    const r = await call(srv.get('/api/v1/admin/provider-keys', { token }));
    assertStatus(r, 200);
    assertDocumented(r, 'GET', '/api/v1/admin/provider-keys');
    return r.body.data;
  };
  const add = (json, token = root.token) => call(srv.post('/api/v1/admin/provider-keys', json, { token }));
  const disable = (id, json, token = root.token) => call(srv.post(`/api/v1/admin/provider-keys/${id}/disable`, json, { token }));
  const enable = (id, token = root.token) => call(srv.req('POST', `/api/v1/admin/provider-keys/${id}/enable`, { token }));

  before(async () => {
    // Real provider keys switch the sandbox off by default; sign-in tests here need none, but
    // the sandbox is kept as in the other files.
    srv = await startServer({ env: { TG_DASHSCOPE_API_KEYS: ` ${ENV_DASHSCOPE} `, TG_KIE_API_KEYS: ENV_KIE, TG_SANDBOX: 'on' } });
    for (const s of SECRETS) srv.secrets.add(s);
    root = await srv.admin();
  });
  after(() => srv?.cleanup());

  it('lists the env keys under ids derived from them, without their secrets', async () => {
    const keys = await list();
    assert.equal(keys.length, 2, JSON.stringify(keys));
    const ds = keys.find((k) => k.provider === 'dashscope');
    const kie = keys.find((k) => k.provider === 'kie');
    assert.ok(ds && kie, 'one key per configured provider');
    for (const k of [ds, kie]) {
      assert.match(k.id, PK_RE);
      assert.equal(k.source, 'env');
      assert.equal(k.label, 'env #1');
      assert.equal(k.status, 'healthy');
      assert.equal(k.disabled_reason, null);
      assert.equal(k.consecutive_errors, 0);
      assert.equal(k.available_at, null);
      assert.equal(k.uses, 0);
      assert.equal(k.failures, 0);
      assert.equal(k.last_used_at, null);
      assert.equal(k.last_error, null);
    }
    assert.equal(ds.prefix, 'sk-e2e...');
    assert.equal(kie.prefix, 'kieE2e...');
  });

  it('adds a key: 201 with the listed shape, the secret never returned, audited', async () => {
    const r = await add({ provider: 'gemini', key: GEMINI_KEY, label: '  Team A  ' });
    assertStatus(r, 201);
    assertDocumented(r, 'POST', '/api/v1/admin/provider-keys');
    assert.equal(r.headers.get('cache-control'), 'no-store');
    assert.match(r.body.id, PK_RE);
    assert.deepEqual(
      { provider: r.body.provider, label: r.body.label, prefix: r.body.prefix, source: r.body.source, status: r.body.status, uses: r.body.uses },
      { provider: 'gemini', label: 'Team A', prefix: 'AIzaSy...', source: 'admin', status: 'healthy', uses: 0 },
    );
    assert.ok(!r.text.includes(GEMINI_KEY.slice(0, 8)), 'nothing of the key past its 6-character prefix');
    const keys = await list();
    assert.equal(keys.length, 3);
    assert.deepEqual(keys.find((k) => k.id === r.body.id), r.body);

    const log = await call(srv.get('/api/v1/admin/audit-log?limit=10', { token: root.token }));
    const row = log.body.data.find((e) => e.action === 'provider_key.add' && e.target_id === r.body.id);
    assert.ok(row, 'provider_key.add audit row');
    assert.equal(row.actor_id, root.id);
    assert.equal(row.target_type, 'provider_key');
    assert.deepEqual(row.details, { provider: 'gemini', label: 'Team A', prefix: 'AIzaSy...' });
  });

  it('refuses bad input without quoting the key back', async () => {
    const bad = [
      [{ provider: 'openai', key: DASHSCOPE_KEY }, 'provider'],
      [{ provider: 'sandbox', key: DASHSCOPE_KEY }, 'provider'],
      [{ key: DASHSCOPE_KEY }, 'provider'],
      [{ provider: 'dashscope' }, 'key'],
      [{ provider: 'dashscope', key: 'sk-short' .slice(0, 7) }, 'key'],
      [{ provider: 'dashscope', key: `${DASHSCOPE_KEY}\r\nX-Injected: 1` }, 'key'],
      [{ provider: 'dashscope', key: `${DASHSCOPE_KEY} tail` }, 'key'],
      [{ provider: 'dashscope', key: `${DASHSCOPE_KEY},second` }, 'key'],
      [{ provider: 'dashscope', key: 'x'.repeat(513) }, 'key'],
      [{ provider: 'dashscope', key: 12345678 }, 'key'],
      [{ provider: 'dashscope', key: DASHSCOPE_KEY, label: 'x'.repeat(101) }, 'label'],
      [{ provider: 'dashscope', key: DASHSCOPE_KEY, secret: 'no' }, null],
    ];
    for (const [json, field] of bad) {
      const r = await add(json);
      assertError(r, 400, 'validation_failed', JSON.stringify(json).slice(0, 80));
      assertDocumented(r, 'POST', '/api/v1/admin/provider-keys');
      if (field) assert.equal(r.body.error.details.field, field, JSON.stringify(r.body));
      assert.ok(!r.text.includes(DASHSCOPE_KEY), 'the key is not quoted in the error');
    }
    assertError(await call(srv.req('POST', '/api/v1/admin/provider-keys', { body: '{', headers: { 'content-type': 'application/json' }, token: root.token })), 400, 'invalid_json');
    assertError(await call(srv.req('POST', '/api/v1/admin/provider-keys', { body: 'provider=kie', headers: { 'content-type': 'application/x-www-form-urlencoded' }, token: root.token })), 415, 'unsupported_media_type');
    assert.equal((await list()).length, 3, 'nothing was added');
  });

  it('disables and enables a key: audited, shown at once, 404 for unknown ids', async () => {
    const added = await add({ provider: 'dashscope', key: DASHSCOPE_KEY });
    assertStatus(added, 201);
    assert.equal(added.body.label, '');
    const id = added.body.id;

    const d = await disable(id, { reason: 'rotating to a new account' });
    assertStatus(d, 200);
    assertDocumented(d, 'POST', '/api/v1/admin/provider-keys/{id}/disable');
    assert.equal(d.body.status, 'disabled');
    assert.equal(d.body.disabled_reason, 'rotating to a new account');
    assert.equal((await list()).find((k) => k.id === id).status, 'disabled');
    // Again: the reason is replaced.
    const d2 = await disable(id, { reason: 'still rotating' });
    assertStatus(d2, 200);
    assert.equal(d2.body.disabled_reason, 'still rotating');

    const e = await enable(id);
    assertStatus(e, 200);
    assertDocumented(e, 'POST', '/api/v1/admin/provider-keys/{id}/enable');
    assert.equal(e.body.status, 'healthy');
    assert.equal(e.body.disabled_reason, null);
    const e2 = await call(srv.post(`/api/v1/admin/provider-keys/${id}/enable`, {}, { token: root.token }));
    assertStatus(e2, 200, 'an empty JSON object is fine too');
    assertError(await call(srv.post(`/api/v1/admin/provider-keys/${id}/enable`, { reason: 'x' }, { token: root.token })), 400, 'validation_failed');

    const log = await call(srv.get('/api/v1/admin/audit-log?limit=20', { token: root.token }));
    const rows = log.body.data.filter((x) => x.target_id === id).map((x) => [x.action, x.details]);
    assert.deepEqual(rows.reverse(), [
      ['provider_key.add', { provider: 'dashscope', label: '', prefix: 'sk-e2e...' }],
      ['provider_key.disable', { provider: 'dashscope', reason: 'rotating to a new account' }],
      ['provider_key.disable', { provider: 'dashscope', reason: 'still rotating' }],
      ['provider_key.enable', { provider: 'dashscope' }],
      ['provider_key.enable', { provider: 'dashscope' }],
    ]);

    for (const json of [{}, { reason: '' }, { reason: 'x'.repeat(121) }, { reason: 'line\nbreak' }, { reason: 5 }, { reason: 'ok', extra: 1 }]) {
      const r = await disable(id, json);
      assertError(r, 400, 'validation_failed', JSON.stringify(json));
      assertDocumented(r, 'POST', '/api/v1/admin/provider-keys/{id}/disable');
    }
    const unknown = 'pk_01ARZ3NDEKTSV4RRFFQ69G5FAV';
    const nf = await disable(unknown, { reason: 'x' });
    assertError(nf, 404, 'not_found');
    assertDocumented(nf, 'POST', '/api/v1/admin/provider-keys/{id}/disable');
    const nf2 = await enable(unknown);
    assertError(nf2, 404, 'not_found');
    assertDocumented(nf2, 'POST', '/api/v1/admin/provider-keys/{id}/enable');
    assertError(await enable('key_01ARZ3NDEKTSV4RRFFQ69G5FAV'), 404, 'not_found');
    assertError(await disable('garbage', { reason: 'x' }), 404, 'not_found');
  });

  it('users get 403, anonymous callers 401, and nothing changes', async () => {
    const u = await srv.register({ tag: 'pk-user' });
    const before = await list();
    const target = before.find((k) => k.source === 'admin');
    const attempts = [
      srv.get('/api/v1/admin/provider-keys', { token: u.token }),
      srv.post('/api/v1/admin/provider-keys', { provider: 'kie', key: 'kieUserTriesToAdd0005' }, { token: u.token }),
      srv.post(`/api/v1/admin/provider-keys/${target.id}/disable`, { reason: 'mine now' }, { token: u.token }),
      srv.req('POST', `/api/v1/admin/provider-keys/${target.id}/enable`, { token: u.token }),
    ];
    for (const p of attempts) {
      const r = await call(p);
      assertError(r, 403, 'forbidden');
    }
    assertDocumented(await call(srv.get('/api/v1/admin/provider-keys', { token: u.token })), 'GET', '/api/v1/admin/provider-keys');
    const anon = await call(srv.get('/api/v1/admin/provider-keys'));
    assertError(anon, 401);
    assertDocumented(anon, 'GET', '/api/v1/admin/provider-keys');
    assert.deepEqual(await list(), before);
  });

  it("a demoted admin's old token is refused at once", async () => {
    const other = await srv.admin();
    assertStatus(await call(srv.get('/api/v1/admin/provider-keys', { token: other.token })), 200);
    assertStatus(await call(srv.patch(`/api/v1/admin/users/${other.id}`, { role: 'user' }, { token: root.token })), 200);
    assertError(await call(srv.post('/api/v1/admin/provider-keys', { provider: 'kie', key: 'kieDemotedAdmin000006' }, { token: other.token })), 401, 'invalid_token');
    assertError(await call(srv.get('/api/v1/admin/provider-keys', { token: other.token })), 401, 'invalid_token');
    const again = await srv.login(other.email, other.password);
    assertError(await call(srv.get('/api/v1/admin/provider-keys', { token: again.token })), 403, 'forbidden');
    assert.ok(!(await list()).some((k) => k.prefix === 'kieDem...'), 'the demoted admin added nothing');
  });

  it('/metrics has the key pool families and nothing of a secret', async () => {
    const m = await call(srv.get('/metrics'));
    assertStatus(m, 200);
    assert.match(m.text, /^# TYPE tollgate_provider_key_calls_total counter$/m);
    assert.match(m.text, /^# TYPE tollgate_provider_key_up gauge$/m);
  });

  it('after a restart: the same env ids, admin keys readable, disabled keys still disabled', async () => {
    const before = await list();
    const gem = before.find((k) => k.provider === 'gemini');
    assertStatus(await disable(gem.id, { reason: 'kept across restarts' }), 200);
    const ex = await srv.stop();
    assert.deepEqual({ code: ex.code, signal: ex.signal }, { code: 0, signal: null });
    // The first run's log is still checked for secrets (invariantTest reads killedStderr);
    // the access-log count starts again with the new process.
    srv.killedStderr = (srv.killedStderr ?? '') + srv.stderr;
    srv.requests = 0;
    await srv.start();
    const after = await list();
    assert.deepEqual(after.map((k) => k.id).sort(), before.map((k) => k.id).sort(), 'no new rows: env ids are stable');
    const g = after.find((k) => k.id === gem.id);
    assert.deepEqual([g.status, g.disabled_reason], ['disabled', 'kept across restarts']);
  });

  it('no answer of this file carried any secret', () => {
    assert.ok(answers.length > 40, `answers seen: ${answers.length}`);
    for (const s of SECRETS) {
      const hit = answers.find((a) => a.includes(s));
      assert.equal(hit, undefined, `a secret (${s.slice(0, 6)}...) appeared in an answer`);
    }
  });

  invariantTest(() => srv);
});
