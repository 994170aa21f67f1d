// A crash in the middle of generation: tollgate is killed with SIGKILL while tasks are queued,
// at the provider and being collected, then started again on the same data. Every task must
// end (resumed when its lease runs out, or refunded), no user is charged twice or left with a
// reservation, and `tollgate audit` holds.
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';

import { Server, invariantTest, assertStatus, LOOSE_LIMITS, sleep } from './lib/server.mjs';
import { eventually, assertAuditClean } from './lib/pay.mjs';

let srv, admin;
const TERMINAL = ['succeeded', 'failed', 'timed_out', 'canceled'];

before(async () => {
  srv = new Server({
    env: {
      TG_SIGNUP_CREDITS: '0',
      TG_GEN_SANDBOX_DELAY_MS: '3000',
      TG_TASKS_MAX_LIVE: '100',
      TG_RATE_LIMITS: `${LOOSE_LIMITS},video=1000/1h`,
    },
  });
  await srv.start();
  admin = await srv.admin();
});

describe('kill -9 with tasks in flight', () => {
  it('every task ends after a restart, charged at most once', async () => {
    const users = [];
    for (let i = 0; i < 4; i++) {
      const u = await srv.register();
      assertStatus(await srv.adjust(admin.token, u.id, 100), 200);
      users.push(u);
    }
    const tasks = [];
    for (const u of users) {
      for (let i = 0; i < 6; i++) {
        const body = i % 2 === 0 ? { kind: 'image', prompt: `crash ${i}` } : { kind: 'text_to_video', prompt: `crash ${i}` };
        if (i === 5) body.sandbox = { outcome: 'fail' };
        const r = await srv.post('/api/v1/tasks', body, { token: u.token });
        assertStatus(r, 202);
        tasks.push({ u, id: r.body.id });
      }
    }
    // Let the dispatcher take some of them to the provider, then crash.
    await sleep(1200);
    await srv.kill9();
    await srv.start();
    // Sign in again is not needed (tokens survive); wait for every task to end.
    const ended = await eventually(async () => {
      const out = [];
      for (const t of tasks) {
        const r = await srv.get(`/api/v1/tasks/${t.id}`, { token: t.u.token });
        assertStatus(r, 200);
        if (!TERMINAL.includes(r.body.status)) return null;
        out.push({ ...t, task: r.body });
      }
      return out;
    }, 90000, 'every task to end after the restart');
    for (const u of users) {
      const mine = ended.filter((t) => t.u === u);
      for (const t of mine) {
        assert.equal(t.task.cost.settled + t.task.cost.refunded, t.task.cost.reserved, `${t.id}: settled + refunded = reserved`);
        if (t.task.status === 'succeeded') assert.equal(t.task.cost.refunded, 0);
        else assert.equal(t.task.cost.settled, 0);
      }
      const spent = mine.reduce((a, t) => a + t.task.cost.settled, 0);
      const r = await srv.get('/api/v1/credits', { token: u.token });
      assert.equal(r.body.available, 100 - spent, 'the balance is what the finished tasks cost, no more');
    }
    assert.ok(ended.some((t) => t.task.status === 'succeeded'), 'tasks were resumed to success');
    assert.ok(ended.filter((t) => t.task.status === 'failed').length >= users.length, 'the failing ones failed');
    assertAuditClean(srv);
  });
});

invariantTest(() => srv);
