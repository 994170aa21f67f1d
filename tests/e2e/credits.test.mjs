// Credits, the ledger and its cursor pagination, admin adjustments (402, 404, 403,
// validation, Idempotency-Key) and the audit log.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, invariantTest, assertError, assertStatus, USER_ID_RE } from './lib/server.mjs';
import { assertDocumented } from './lib/openapi.mjs';
import { subscribeSandbox } from './lib/pay.mjs';

const LEDGER = '/api/v1/credits/ledger';
const ADJ = '/api/v1/admin/users/{id}/credits';
const AUDIT = '/api/v1/admin/audit-log';

/** Walks a cursor-paginated list; returns all items and the pages. */
async function walk(srv, basePath, token, limit) {
  const items = [];
  const pages = [];
  let cursor = null;
  for (let i = 0; i < 1000; i++) {
    const sep = basePath.includes('?') ? '&' : '?';
    const q = `${basePath}${sep}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const r = await srv.get(q, { token });
    assertStatus(r, 200, q);
    pages.push(r);
    assert.ok(r.body.data.length <= limit, `page of at most ${limit}`);
    items.push(...r.body.data);
    cursor = r.body.next_cursor;
    if (cursor === null) break;
    assert.equal(typeof cursor, 'string');
    assert.equal(r.body.data.length, limit, 'only the last page is short');
  }
  return { items, pages };
}

describe('credits, ledger, admin adjustments, audit log', () => {
  let srv;
  let admin;
  let u;
  let other;
  // Credits at registration (TG_SIGNUP_CREDITS_REQUIRE_VERIFIED off): these tests are about
  // the ledger, not the signup rule (email.test.mjs covers that).
  before(async () => {
    srv = await startServer({ env: { TG_SIGNUP_CREDITS_REQUIRE_VERIFIED: 'off' } });
    admin = await srv.admin();
    u = await srv.register({ tag: 'credits' });
    other = await srv.register({ tag: 'credits-other' });
  });
  after(() => srv?.cleanup());

  const credits = async (who = u) => {
    const r = await srv.get('/api/v1/credits', { token: who.token });
    assertStatus(r, 200);
    assertDocumented(r, 'GET', '/api/v1/credits');
    return r.body;
  };

  it('a new user: 8 paid credits and one signup_grant ledger entry', async () => {
    assert.deepEqual(await credits(), { available: 8, plan_credits: 0, paid_credits: 8, plan_expires_at: null });
    const r = await srv.get(LEDGER, { token: u.token });
    assertStatus(r, 200);
    assertDocumented(r, 'GET', LEDGER);
    assert.equal(r.body.next_cursor, null);
    assert.equal(r.body.data.length, 1);
    const e = r.body.data[0];
    assert.equal(e.kind, 'signup_grant');
    assert.equal(e.bucket, 'paid');
    assert.equal(e.delta, 8);
    assert.equal(e.balance_after, 8);
  });

  it('admin adjust +5 paid -> 200 with old/new and the wallet', async () => {
    const r = await srv.adjust(admin.token, u.id, 5, { reason: 'goodwill #1' });
    assertStatus(r, 200);
    assertDocumented(r, 'POST', ADJ);
    assert.match(r.body.ref_id, /^adj_[0-9A-HJKMNP-TV-Z]{26}$/);
    assert.deepEqual(r.body, {
      user_id: u.id, ref_id: r.body.ref_id, bucket: 'paid', delta: 5, old: 8, new: 13,
      credits: { available: 13, plan_credits: 0, paid_credits: 13, plan_expires_at: null },
    });
    assert.equal((await credits()).available, 13);
  });

  it('admin adjust of the plan bucket: only while a plan month runs (plan credits expire with it)', async () => {
    const none = await srv.adjust(admin.token, u.id, 3, { bucket: 'plan', reason: 'plan top-up' });
    assertError(none, 409, 'no_plan_period', 'no plan: the credits would never expire');
    assertDocumented(none, 'POST', ADJ);
    assert.deepEqual(await credits(), { available: 13, plan_credits: 0, paid_credits: 13, plan_expires_at: null });

    const p = await srv.register({ tag: 'plan-adjust' });
    await subscribeSandbox(srv, p.token, 'pro_monthly');
    const expires = (await srv.get('/api/v1/credits', { token: p.token })).body.plan_expires_at;
    assert.ok(Date.parse(expires) > Date.now() + 27 * 86400000, 'a month of plan');
    const r = await srv.adjust(admin.token, p.id, 3, { bucket: 'plan', reason: 'plan top-up' });
    assertStatus(r, 200);
    assert.equal(r.body.bucket, 'plan');
    assert.equal(r.body.old, 300);
    assert.equal(r.body.new, 303);
    assert.equal(r.body.credits.plan_credits, 303);
    assert.equal(r.body.credits.plan_expires_at, expires, 'they expire with the month');
    assert.equal(r.body.credits.available, 8 + 303);
    const back = await srv.adjust(admin.token, p.id, -3, { bucket: 'plan', reason: 'plan top-up reverted' });
    assertStatus(back, 200);
    assert.equal(back.body.credits.plan_credits, 300);
  });

  it('below zero -> 402 insufficient_credits and nothing changes', async () => {
    const before_ = await credits();
    const ledgerBefore = (await srv.get(`${LEDGER}?limit=100`, { token: u.token })).body.data;
    for (const [delta, bucket] of [[-14, 'paid'], [-1000000, 'paid'], [-1, 'plan']]) {
      const r = await srv.adjust(admin.token, u.id, delta, { bucket });
      assertError(r, 402, 'insufficient_credits', `${delta} ${bucket}`);
      assertDocumented(r, 'POST', ADJ);
    }
    assert.deepEqual(await credits(), before_);
    const ledgerAfter = (await srv.get(`${LEDGER}?limit=100`, { token: u.token })).body.data;
    assert.deepEqual(ledgerAfter, ledgerBefore);
    // Exactly to zero is allowed, and back.
    const z = await srv.adjust(admin.token, u.id, -before_.paid_credits);
    assertStatus(z, 200);
    assert.equal(z.body.new, 0);
    assertStatus(await srv.adjust(admin.token, u.id, before_.paid_credits), 200);
  });

  it('unknown user -> 404; non-admin -> 403; anonymous -> 401', async () => {
    // Well-formed ids of no user, and strings that are no user id at all: the same 404.
    for (const id of ['usr_00000000000000000000000000', 'usr_7ZZZZZZZZZZZZZZZZZZZZZZZZZ', 'nope', "usr_'or'1'='1", 'x'.repeat(300)]) {
      const r = await srv.adjust(admin.token, id, 1);
      assertError(r, 404, 'not_found', id.slice(0, 20));
      assertDocumented(r, 'POST', ADJ);
    }
    const f = await srv.adjust(u.token, u.id, 1000);
    assertError(f, 403, 'forbidden');
    assertDocumented(f, 'POST', ADJ);
    const f2 = await srv.adjust(u.token, other.id, -8);
    assertError(f2, 403, 'forbidden');
    const a = await srv.post(`/api/v1/admin/users/${u.id}/credits`, { delta: 1, bucket: 'paid', reason: 'x' });
    assertError(a, 401, 'unauthorized');
    assertError(await srv.get(`/api/v1/admin/users/${u.id}`, { token: u.token }), 403, 'forbidden');
    assertError(await srv.get(AUDIT, { token: u.token }), 403, 'forbidden');
    assert.equal((await credits()).available, 13);
    assert.equal((await credits(other)).available, 8);
  });

  it('validation: delta 0 / float / string / huge / missing, bucket, reason, unknown fields', async () => {
    const url = `/api/v1/admin/users/${u.id}/credits`;
    const bodies = [
      { delta: 0, bucket: 'paid', reason: 'zero' },
      { delta: 1.5, bucket: 'paid', reason: 'float' },
      { delta: '5', bucket: 'paid', reason: 'string' },
      { delta: true, bucket: 'paid', reason: 'bool' },
      { delta: null, bucket: 'paid', reason: 'null' },
      { delta: 1e30, bucket: 'paid', reason: 'huge' },
      { delta: -1e30, bucket: 'paid', reason: 'huge negative' },
      { bucket: 'paid', reason: 'missing delta' },
      { delta: 1, bucket: 'gold', reason: 'bad bucket' },
      { delta: 1, bucket: 'PAID', reason: 'case' },
      { delta: 1, bucket: 'paid' },
      { delta: 1, bucket: 'paid', reason: '' },
      { delta: 1, bucket: 'paid', reason: 7 },
      { delta: 1, bucket: 'paid', reason: 'x'.repeat(501) },
      { delta: 1, bucket: 'paid', reason: 'unknown field', user_id: other.id },
      { delta: 1, bucket: 'paid', reason: 'unknown field', force: true },
    ];
    for (const json of bodies) {
      const r = await srv.post(url, json, { token: admin.token });
      assertError(r, 400, 'validation_failed', JSON.stringify(json).slice(0, 80));
      assertDocumented(r, 'POST', ADJ);
    }
    // An integer written in exponent form is a number, not an integer.
    const exp = await srv.req('POST', url, { body: '{"delta":1e3,"bucket":"paid","reason":"exp"}', token: admin.token, headers: { 'content-type': 'application/json' } });
    assertError(exp, 400, 'validation_failed', 'delta 1e3');
    assert.equal(exp.body.error.details.field, 'delta', 'delta 1e3: details name the field');
    // int64 max would overflow the balance: refused, never wrapped.
    const big = await srv.req('POST', url, { body: '{"delta":9223372036854775807,"bucket":"paid","reason":"int64 max"}', token: admin.token, headers: { 'content-type': 'application/json' } });
    assertError(big, 400, 'validation_failed', 'int64 max delta');
    assert.equal((await credits()).available, 13, 'nothing changed');
  });

  it('a delta beyond int64 written literally -> 400 validation_failed naming delta', async () => {
    // Valid JSON (RFC 8259 sets no range for numbers): like delta 1e30, a delta out of range,
    // not a body that cannot be read.
    const url = `/api/v1/admin/users/${u.id}/credits`;
    for (const raw of ['{"delta":9223372036854775808,"bucket":"paid","reason":"int64+1"}', '{"delta":-9223372036854775809,"bucket":"paid","reason":"int64-1"}']) {
      const r = await srv.req('POST', url, { body: raw, token: admin.token, headers: { 'content-type': 'application/json' } });
      assertError(r, 400, 'validation_failed', raw);
      assert.equal(r.body.error.details.field, 'delta', `${raw}: details name the field`);
      assertDocumented(r, 'POST', ADJ);
    }
    assert.equal((await credits()).available, 13, 'nothing changed');
  });

  it('Idempotency-Key: a retry replays the first answer and applies once; another body -> 409', async () => {
    const key = `idem-${Date.now()}`;
    const r1 = await srv.adjust(admin.token, u.id, 2, { idempotencyKey: key, reason: 'idem' });
    assertStatus(r1, 200);
    assert.equal(r1.headers.get('idempotent-replayed'), null, 'the first answer is not a replay');
    const r2 = await srv.adjust(admin.token, u.id, 2, { idempotencyKey: key, reason: 'idem' });
    assertStatus(r2, 200);
    assertDocumented(r2, 'POST', ADJ);
    assert.equal(r2.headers.get('idempotent-replayed'), 'true');
    assert.deepEqual(r2.body, r1.body);
    assert.equal((await credits()).available, 15, 'applied once');

    const r3 = await srv.adjust(admin.token, u.id, 3, { idempotencyKey: key, reason: 'idem' });
    assertError(r3, 409, 'idempotency_key_reused');
    assertDocumented(r3, 'POST', ADJ);
    const r4 = await srv.adjust(admin.token, u.id, 2, { idempotencyKey: key, bucket: 'plan', reason: 'idem' });
    assertError(r4, 409, 'idempotency_key_reused', 'same key, other bucket');
    const r5 = await srv.adjust(admin.token, other.id, 2, { idempotencyKey: key, reason: 'idem' });
    // The request includes its target: the same key for another user is another request.
    assertError(r5, 409, 'idempotency_key_reused', 'same key, other user');
    assert.equal((await credits()).available, 15);

    // A failed (402) attempt does not burn the key into a success.
    const k2 = `idem-402-${Date.now()}`;
    assertError(await srv.adjust(admin.token, u.id, -1000, { idempotencyKey: k2 }), 402, 'insufficient_credits');
    const again = await srv.adjust(admin.token, u.id, -1000, { idempotencyKey: k2 });
    assertError(again, 402, 'insufficient_credits');
    assert.equal((await credits()).available, 15);

    // An oversized key is refused, not truncated into someone else's.
    const long = await srv.adjust(admin.token, u.id, 1, { idempotencyKey: 'x'.repeat(300) });
    assertError(long, 400, 'validation_failed', 'Idempotency-Key of 300 characters');
    assert.equal(long.body.error.details.field, 'Idempotency-Key');
    assert.equal((await credits()).available, 15);
  });

  it('parallel retries with one Idempotency-Key apply exactly once', async () => {
    const key = `idem-par-${Date.now()}`;
    const before_ = (await credits()).available;
    const rs = await Promise.all(Array.from({ length: 20 }, () => srv.adjust(admin.token, u.id, 1, { idempotencyKey: key, reason: 'parallel idem' })));
    for (const r of rs) assertStatus(r, 200);
    const fresh = rs.filter((r) => r.headers.get('idempotent-replayed') !== 'true');
    assert.equal(fresh.length, 1, 'exactly one answer is not a replay');
    for (const r of rs) assert.equal(r.text, fresh[0].text, 'the replays are the first answer');
    assert.equal((await credits()).available, before_ + 1);
  });

  it('ledger pagination: >25 entries, newest first, no duplicates, no gaps, running balances', async () => {
    for (let i = 0; i < 28; i++) {
      const delta = i % 3 === 2 ? -1 : 2;
      assertStatus(await srv.adjust(admin.token, u.id, delta, { reason: `walk ${i}` }), 200);
    }
    const bal = await credits();
    const all = (await walk(srv, LEDGER, u.token, 100)).items;
    assert.ok(all.length > 25 + 8, `${all.length} entries`);
    for (const limit of [1, 7, 10, 25]) {
      const { items, pages } = await walk(srv, LEDGER, u.token, limit);
      for (const p of pages) assertDocumented(p, 'GET', LEDGER);
      assert.deepEqual(items.map((e) => e.id), all.map((e) => e.id), `limit ${limit}: same entries in the same order`);
      assert.equal(new Set(items.map((e) => e.id)).size, items.length, 'no duplicates');
    }
    // Newest first in commit order (ids are unique, not the order: two rows in one
    // millisecond may carry ids in either order).
    for (let i = 1; i < all.length; i++) {
      assert.ok(Date.parse(all[i - 1].created_at) >= Date.parse(all[i].created_at), 'created_at descends');
    }
    assert.equal(all[all.length - 1].kind, 'signup_grant');
    // Running balances per bucket, oldest first.
    const running = { paid: 0, plan: 0 };
    for (const e of [...all].reverse()) {
      running[e.bucket] += e.delta;
      assert.equal(e.balance_after, running[e.bucket], `balance_after of ${e.id}`);
      assert.notEqual(e.delta, 0);
    }
    assert.equal(running.paid, bal.paid_credits);
    assert.equal(running.plan, bal.plan_credits);
    const adj = all.filter((e) => e.kind === 'admin_adjust');
    assert.ok(adj.some((e) => e.note === 'walk 27'), 'the reason is the ledger note');
    // Another user's ledger is separate.
    const o = await srv.get(LEDGER, { token: other.token });
    assert.ok(o.body.data.every((e) => !all.some((a) => a.id === e.id)));
  });

  it('ledger parameters: limit bounds and invalid cursors -> 400', async () => {
    for (const q of ['limit=0', 'limit=101', 'limit=-1', 'limit=abc', 'limit=1.5', 'limit=', 'limit=99999999999999999999', 'cursor=garbage', 'cursor=' + 'z'.repeat(300), "cursor=led_'%20OR%201=1", 'cursor=usr_00000000000000000000000000']) {
      const r = await srv.get(`${LEDGER}?${q}`, { token: u.token });
      assertError(r, 400, 'validation_failed', q);
      assert.equal(r.body.error.details.field, q.slice(0, q.indexOf('=')), `${q}: details name the parameter`);
      assertDocumented(r, 'GET', LEDGER);
    }
    for (const q of ['limit=1', 'limit=100']) assertStatus(await srv.get(`${LEDGER}?${q}`, { token: u.token }), 200, q);
    const d = await srv.get(LEDGER, { token: u.token });
    assert.ok(d.body.data.length >= 1 && d.body.data.length <= 100);
    // A syntactically valid cursor older than everything -> empty last page.
    const e = await srv.get(`${LEDGER}?cursor=led_00000000000000000000000000`, { token: u.token });
    assertStatus(e, 200, 'a valid cursor older than every entry');
    assert.deepEqual(e.body, { data: [], next_cursor: null });
  });

  it('malformed percent-encoding in a query parameter -> 400 bad_request, not silently ignored', async () => {
    for (const q of ['limit=%zz', 'limit=1%', 'cursor=%', 'cursor=led_%G0']) {
      const r = await srv.get(`${LEDGER}?${q}`, { token: u.token });
      assertError(r, 400, 'bad_request', q);
      assertDocumented(r, 'GET', LEDGER);
    }
  });

  it('GET /admin/users/{id}', async () => {
    const r = await srv.get(`/api/v1/admin/users/${u.id}`, { token: admin.token });
    assertStatus(r, 200);
    assertDocumented(r, 'GET', '/api/v1/admin/users/{id}');
    assert.equal(r.body.user.id, u.id);
    assert.match(r.body.user.id, USER_ID_RE);
    assert.equal(r.body.user.email, u.email);
    assert.equal(r.body.user.role, 'user');
    assert.deepEqual(r.body.credits, (await credits()));
    assert.equal(r.body.user.password_hash, undefined);
    assert.ok(!/argon2/.test(r.text), 'no password hash in the answer');
    const nf = await srv.get('/api/v1/admin/users/usr_00000000000000000000000000', { token: admin.token });
    assertError(nf, 404, 'not_found');
    assertDocumented(nf, 'GET', '/api/v1/admin/users/{id}');
  });

  it('audit log: credits.adjust with reason/old/new, login failures and refresh reuse', async () => {
    assertStatus(await srv.adjust(admin.token, u.id, 4, { reason: 'audit me please' }), 200);
    const wrongPassword = `wrong-${Date.now()}-secret`;
    assertError(await srv.post('/api/v1/auth/login', { email: u.email, password: wrongPassword }), 401, 'invalid_credentials');
    const s = await srv.login(u.email, u.password);
    assertStatus(await srv.post('/api/v1/auth/refresh', { refresh_token: s.refresh_token }), 200);
    assertError(await srv.post('/api/v1/auth/refresh', { refresh_token: s.refresh_token }), 401, 'invalid_refresh_token');

    const { items, pages } = await walk(srv, AUDIT, admin.token, 10);
    for (const p of pages) assertDocumented(p, 'GET', AUDIT);
    assert.equal(new Set(items.map((e) => e.id)).size, items.length, 'no duplicates');
    // Newest first in commit order: every page size walks the same sequence.
    const one = (await walk(srv, AUDIT, admin.token, 100)).items;
    assert.deepEqual(items.map((e) => e.id), one.map((e) => e.id), 'pages of 10 and of 100 agree');

    const adj = items.find((e) => e.action === 'credits.adjust' && e.details?.reason === 'audit me please');
    assert.ok(adj, 'credits.adjust entry');
    assert.equal(adj.actor_id, admin.id);
    assert.equal(adj.target_id, u.id);
    assert.equal(adj.details.new - adj.details.old, 4);
    const adjCount = items.filter((e) => e.action === 'credits.adjust').length;
    assert.ok(adjCount >= 30, `one credits.adjust per applied adjustment (${adjCount})`);

    const lf = items.find((e) => e.action === 'auth.login_failed');
    assert.ok(lf, 'auth.login_failed entry');
    assert.ok(!JSON.stringify(lf).includes(wrongPassword), 'the attempted password is not in the audit log');
    const reuse = items.find((e) => e.action === 'auth.refresh_reuse');
    assert.ok(reuse, 'auth.refresh_reuse entry');
    assert.ok(!JSON.stringify(items).includes(s.refresh_token), 'no refresh token in the audit log');

    for (const q of ['limit=0', 'limit=101', 'cursor=garbage']) {
      const r = await srv.get(`${AUDIT}?${q}`, { token: admin.token });
      assertError(r, 400, 'validation_failed', q);
      assert.equal(r.body.error.details.field, q.slice(0, q.indexOf('=')), `${q}: details name the parameter`);
    }
  });

  invariantTest(() => srv);
});
