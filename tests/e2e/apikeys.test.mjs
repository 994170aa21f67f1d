// API keys: shown once, listed by prefix, usable as bearer credentials, revocable, and unable
// to manage keys or change the password.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, invariantTest, assertError, assertStatus, strongPassword } from './lib/server.mjs';
import { assertDocumented } from './lib/openapi.mjs';

const KEYS = '/api/v1/api-keys';

describe('API keys', () => {
  let srv;
  let u;
  let other;
  let created;
  before(async () => {
    srv = await startServer();
    u = await srv.register({ tag: 'keys' });
    other = await srv.register({ tag: 'keys-other' });
  });
  after(() => srv?.cleanup());

  it('a new user has no keys', async () => {
    const r = await srv.get(KEYS, { token: u.token });
    assertStatus(r, 200);
    assertDocumented(r, 'GET', KEYS);
    assert.deepEqual(r.body, { data: [] });
  });

  it('create -> 201 with the key, shown only once', async () => {
    const r = await srv.post(KEYS, { name: 'ci runner' }, { token: u.token });
    assertStatus(r, 201);
    assertDocumented(r, 'POST', KEYS);
    created = r.body;
    assert.equal(created.name, 'ci runner');
    assert.match(created.key, /^tg_live_[0-9A-Za-z]{43}$/);
    assert.ok(created.key.startsWith(created.prefix), 'the prefix is the start of the key');
    assert.ok(created.prefix.length > 'tg_live_'.length && created.prefix.length <= 20, `prefix ${created.prefix}`);
    assert.ok(Math.abs(Date.parse(created.created_at) - Date.now()) < 120000);

    const list = await srv.get(KEYS, { token: u.token });
    assertStatus(list, 200);
    assertDocumented(list, 'GET', KEYS);
    assert.equal(list.body.data.length, 1);
    const item = list.body.data[0];
    assert.equal(item.id, created.id);
    assert.equal(item.prefix, created.prefix);
    assert.equal(item.name, 'ci runner');
    assert.equal(item.key, undefined, 'lists never show the key');
    assert.ok(!list.text.includes(created.key), 'the key text appears nowhere in the list');
    assert.equal(item.last_used_at, null);

    const two = await srv.post(KEYS, { name: 'second' }, { token: u.token });
    assertStatus(two, 201);
    assert.notEqual(two.body.key, created.key);
    assert.notEqual(two.body.id, created.id);
    const list2 = await srv.get(KEYS, { token: u.token });
    assert.deepEqual(list2.body.data.map((k) => k.id), [two.body.id, created.id], 'newest first');
    assertStatus(await srv.del(`${KEYS}/${two.body.id}`, { token: u.token }), 204);
  });

  it('the key authenticates as its user', async () => {
    const me = await srv.get('/api/v1/me', { token: created.key });
    assertStatus(me, 200);
    assert.equal(me.body.id, u.id);
    const c = await srv.get('/api/v1/credits', { token: created.key });
    assertStatus(c, 200);
    assert.equal(c.body.available, 0, 'the signup credits wait for a verified address');
    const list = await srv.get(KEYS, { token: u.token });
    const item = list.body.data.find((k) => k.id === created.id);
    assert.ok(item.last_used_at === null || Math.abs(Date.parse(item.last_used_at) - Date.now()) < 120000);
  });

  it('a near-miss key -> 401', async () => {
    const k = created.key;
    const flipped = k.slice(0, -1) + (k.endsWith('A') ? 'B' : 'A');
    for (const t of [flipped, k.slice(0, -1), `${k}A`, k.toUpperCase(), created.prefix, k.replace('tg_live_', 'tg_test_')]) {
      const r = await srv.get('/api/v1/me', { token: t });
      assertError(r, 401, 'invalid_token', `key variant ${t.slice(0, 14)}...`);
    }
  });

  it('an API key cannot manage API keys or change the password (403)', async () => {
    const a = await srv.get(KEYS, { token: created.key });
    assertError(a, 403, 'forbidden');
    assertDocumented(a, 'GET', KEYS);
    const b = await srv.post(KEYS, { name: 'escalate' }, { token: created.key });
    assertError(b, 403, 'forbidden');
    assertDocumented(b, 'POST', KEYS);
    const c = await srv.del(`${KEYS}/${created.id}`, { token: created.key });
    assertError(c, 403, 'forbidden');
    assertDocumented(c, 'DELETE', `${KEYS}/{id}`);
    const d = await srv.post('/api/v1/me/password', { current_password: u.password, new_password: strongPassword() }, { token: created.key });
    assertError(d, 403, 'forbidden');
    assertDocumented(d, 'POST', '/api/v1/me/password');
    // Nothing changed.
    const list = await srv.get(KEYS, { token: u.token });
    assert.deepEqual(list.body.data.map((k) => k.id), [created.id]);
  });

  it('validation of the name', async () => {
    for (const json of [{}, { name: '' }, { name: 'x'.repeat(101) }, { name: 12 }, { name: 'ok', scopes: ['all'] }]) {
      const r = await srv.post(KEYS, json, { token: u.token });
      assertError(r, 400, 'validation_failed', JSON.stringify(json));
      assertDocumented(r, 'POST', KEYS);
    }
  });

  it("another user's key id -> 404 and the key keeps working", async () => {
    const r = await srv.del(`${KEYS}/${created.id}`, { token: other.token });
    assertError(r, 404, 'not_found');
    assertStatus(await srv.get('/api/v1/me', { token: created.key }), 200);
    const theirs = await srv.get(KEYS, { token: other.token });
    assert.deepEqual(theirs.body.data, []);
  });

  it('unknown and malformed ids -> 404 not_found', async () => {
    // Well-formed ids of no key, and strings that are no key id at all: the same 404.
    for (const id of ['key_00000000000000000000000000', 'key_7ZZZZZZZZZZZZZZZZZZZZZZZZZ', 'nope', 'usr_00000000000000000000000000', 'key_' + 'A'.repeat(500), "key_'%20OR%201=1"]) {
      const r = await srv.del(`${KEYS}/${id}`, { token: u.token });
      assertError(r, 404, 'not_found', `DELETE ${id.slice(0, 30)}`);
      assertDocumented(r, 'DELETE', `${KEYS}/{id}`);
    }
  });

  it('revoke -> 204; the key then gets 401; revoking again -> 404', async () => {
    const r = await srv.del(`${KEYS}/${created.id}`, { token: u.token });
    assertStatus(r, 204);
    assert.equal(r.text, '');
    assertDocumented(r, 'DELETE', `${KEYS}/{id}`);
    const me = await srv.get('/api/v1/me', { token: created.key });
    assertError(me, 401, 'invalid_token');
    const again = await srv.del(`${KEYS}/${created.id}`, { token: u.token });
    assertError(again, 404, 'not_found');
    assertDocumented(again, 'DELETE', `${KEYS}/{id}`);
    const list = await srv.get(KEYS, { token: u.token });
    assert.deepEqual(list.body.data, []);
  });

  invariantTest(() => srv);
});
