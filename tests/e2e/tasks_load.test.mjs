// 500 tasks submitted concurrently by 50 users end with exact balances: every reservation is
// one conditional debit, every ending one conditional status change, so however the
// submissions, the dispatcher and the refunds interleave, each user pays exactly for what
// succeeded. A user with too little for all of their concurrent submissions gets exactly as
// many as they can pay for.
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';

import { startServer, invariantTest, assertStatus, assertError, LOOSE_LIMITS } from './lib/server.mjs';
import { eventually, assertAuditClean } from './lib/pay.mjs';

let srv, admin;
const TERMINAL = ['succeeded', 'failed', 'timed_out', 'canceled'];

before(async () => {
  srv = await startServer({
    env: {
      TG_SIGNUP_CREDITS: '0',
      TG_GEN_SANDBOX_DELAY_MS: '1000',
      TG_TASKS_MAX_LIVE: '10',
      TG_RATE_LIMITS: `${LOOSE_LIMITS},video=1000/1h`,
    },
  });
  admin = await srv.admin();
});

describe('500 tasks from 50 users at once', () => {
  it('end with exact balances', async () => {
    const users = await Promise.all(Array.from({ length: 50 }, async () => {
      const u = await srv.register();
      assertStatus(await srv.adjust(admin.token, u.id, 30), 200);
      return u;
    }));
    const subs = users.flatMap((u) => Array.from({ length: 10 }, (_, i) => ({ u, i })));
    const rs = await Promise.all(subs.map(({ u, i }) => {
      const body = { kind: 'image', prompt: `load ${i}` };
      if (i % 3 === 0) body.sandbox = { outcome: 'fail' };
      return srv.post('/api/v1/tasks', body, { token: u.token });
    }));
    for (const r of rs) assertStatus(r, 202);
    const ids = rs.map((r, k) => ({ u: subs[k].u, id: r.body.id }));
    const ended = await eventually(async () => {
      const page = await Promise.all(ids.map(({ u, id }) => srv.get(`/api/v1/tasks/${id}`, { token: u.token })));
      return page.every((r) => TERMINAL.includes(r.body?.status)) ? page.map((r) => r.body) : null;
    }, 120000, 'all 500 tasks to end');
    const byUser = new Map();
    ended.forEach((t, k) => {
      const u = ids[k].u;
      byUser.set(u, (byUser.get(u) ?? 0) + t.cost.settled);
      assert.equal(t.status, k % 10 % 3 === 0 ? 'failed' : 'succeeded', `${t.id}`);
    });
    for (const u of users) {
      const r = await srv.get('/api/v1/credits', { token: u.token });
      assert.equal(r.body.available, 30 - byUser.get(u), `${u.id}: pays exactly for what succeeded`);
      assert.equal(byUser.get(u), 12, 'six successes at 2 credits');
    }
  });

  it('concurrent submissions beyond the balance: exactly as many as paid for', async () => {
    const u = await srv.register();
    assertStatus(await srv.adjust(admin.token, u.id, 5), 200);
    const rs = await Promise.all(Array.from({ length: 10 }, (_, i) =>
      srv.post('/api/v1/tasks', { kind: 'image', prompt: `race ${i}`, sandbox: { outcome: 'never' } }, { token: u.token })));
    const ok = rs.filter((r) => r.status === 202);
    const poor = rs.filter((r) => r.status === 402);
    assert.equal(ok.length, 2);
    assert.equal(poor.length, 8);
    for (const r of poor) assertError(r, 402, 'insufficient_credits');
    let r = await srv.get('/api/v1/credits', { token: u.token });
    assert.equal(r.body.available, 1);
    for (const t of ok) assertStatus(await srv.post(`/api/v1/tasks/${t.body.id}/cancel`, {}, { token: u.token }), 200);
    r = await srv.get('/api/v1/credits', { token: u.token });
    assert.equal(r.body.available, 5);
    assertAuditClean(srv);
  });
});

invariantTest(() => srv);
