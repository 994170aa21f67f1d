// Concurrent debits: 200 parallel -1 adjustments against a balance of exactly 100 give exactly
// 100 successes and 100 refusals, the balance ends at 0, the ledger agrees, and
// `tollgate audit` finds no violation.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, invariantTest, assertError, assertStatus } from './lib/server.mjs';

describe('concurrent debits', () => {
  let srv;
  let admin;
  let u;
  before(async () => {
    srv = await startServer({ env: { TG_RATE_LIMITS: 'off' } });
    admin = await srv.admin();
    u = await srv.register({ tag: 'race' });
  });
  after(() => srv?.cleanup());

  it('200 parallel -1 on a balance of 100: exactly 100 x 200 and 100 x 402', async () => {
    const c0 = await srv.get('/api/v1/credits', { token: u.token });
    const top = await srv.adjust(admin.token, u.id, 100 - c0.body.paid_credits, { reason: 'set to 100' });
    assertStatus(top, 200);
    assert.equal(top.body.new, 100);

    const rs = await Promise.all(
      Array.from({ length: 200 }, (_, i) => srv.adjust(admin.token, u.id, -1, { reason: `race ${i}`, idempotencyKey: i % 2 ? `race-${i}` : undefined })),
    );
    const ok = rs.filter((r) => r.status === 200);
    const refused = rs.filter((r) => r.status === 402);
    const other = rs.filter((r) => r.status !== 200 && r.status !== 402);
    assert.deepEqual(other.map((r) => `${r.status} ${r.text.slice(0, 120)}`), [], 'only 200 and 402');
    assert.equal(ok.length, 100);
    assert.equal(refused.length, 100);
    for (const r of refused) assertError(r, 402, 'insufficient_credits');
    // Every success saw a distinct old balance: 100..1 each exactly once.
    assert.deepEqual(ok.map((r) => r.body.old).sort((a, b) => a - b), Array.from({ length: 100 }, (_, i) => i + 1));
    for (const r of ok) assert.equal(r.body.new, r.body.old - 1);

    const c = await srv.get('/api/v1/credits', { token: u.token });
    assert.deepEqual(c.body, { available: 0, plan_credits: 0, paid_credits: 0, plan_expires_at: null });
  });

  it('the ledger agrees: 100 entries of -1, deltas sum to the balance', async () => {
    const all = [];
    let cursor = null;
    do {
      const r = await srv.get(`/api/v1/credits/ledger?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, { token: u.token });
      assertStatus(r, 200);
      all.push(...r.body.data);
      cursor = r.body.next_cursor;
    } while (cursor);
    assert.equal(new Set(all.map((e) => e.id)).size, all.length);
    assert.equal(all.reduce((s, e) => s + e.delta, 0), 0);
    assert.equal(all.filter((e) => e.kind === 'admin_adjust' && e.delta === -1).length, 100);
    const balances = all.filter((e) => e.delta === -1).map((e) => e.balance_after).sort((a, b) => a - b);
    assert.deepEqual(balances, Array.from({ length: 100 }, (_, i) => i));
  });

  it('the audit log has one credits.adjust per applied adjustment', async () => {
    let n = 0;
    let cursor = null;
    do {
      const r = await srv.get(`/api/v1/admin/audit-log?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, { token: admin.token });
      assertStatus(r, 200);
      n += r.body.data.filter((e) => e.action === 'credits.adjust' && e.target_id === u.id).length;
      cursor = r.body.next_cursor;
    } while (cursor);
    assert.equal(n, 101, '100 debits + the top-up');
  });

  it('`tollgate audit` while running and after shutdown exits 0', async () => {
    const live = srv.cli(['audit']);
    assert.equal(live.code, 0, `audit while running: ${live.stdout}\n${live.stderr}`);
    const ex = await srv.stop();
    assert.equal(ex.code, 0, `serve exit: ${srv.stderr.slice(-1000)}`);
    const r = srv.cli(['audit']);
    assert.equal(r.code, 0, `audit after shutdown: ${r.stdout}\n${r.stderr}`);
  });

  invariantTest(() => srv);
});
