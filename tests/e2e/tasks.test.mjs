// Generation tasks end to end on the sandbox provider (in-process, no network): the money
// rules (reserve on submit, settle on success, refund on failure, timeout and cancel -
// exactly once), the limits (insufficient credits, live tasks, the video rate limit), the
// Idempotency-Key, validation, listing, outputs copied into our storage and served by signed
// URL, and `tollgate audit` holding at the end.
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';

import { startServer, invariantTest, assertStatus, assertError, LOOSE_LIMITS } from './lib/server.mjs';
import { eventually, assertAuditClean, ledgerEntries } from './lib/pay.mjs';
import { assertSchema } from './lib/openapi.mjs';

let srv, admin;

before(async () => {
  srv = await startServer({
    env: {
      TG_SIGNUP_CREDITS: '0',
      TG_GEN_SANDBOX_DELAY_MS: '1500',
      TG_TASK_TIMEOUT: '10',
      TG_TASKS_MAX_LIVE: '4',
      TG_RATE_LIMITS: `${LOOSE_LIMITS},video=6/1h`,
    },
  });
  admin = await srv.admin();
});

async function userWith(credits) {
  const u = await srv.register();
  if (credits > 0) assertStatus(await srv.adjust(admin.token, u.id, credits), 200, 'credits granted');
  return u;
}

async function balance(u) {
  const r = await srv.get('/api/v1/credits', { token: u.token });
  assertStatus(r, 200);
  return r.body.available;
}

function submit(u, body, headers = {}) {
  return srv.post('/api/v1/tasks', body, { token: u.token, headers });
}

async function waitTask(u, id, statuses = ['succeeded', 'failed', 'timed_out', 'canceled'], ms = 20000) {
  return eventually(async () => {
    const r = await srv.get(`/api/v1/tasks/${id}`, { token: u.token });
    assertStatus(r, 200);
    return statuses.includes(r.body.status) ? r.body : null;
  }, ms, `task ${id} to reach ${statuses.join('|')}`);
}

describe('tasks on the sandbox provider', () => {
  it('text_to_video: reserved on submit, settled on success, output served by a signed URL', async () => {
    const u = await userWith(100);
    const r = await submit(u, { kind: 'text_to_video', prompt: 'a red fox running through snow', aspect_ratio: '9:16' });
    assertStatus(r, 202);
    assertSchema(r.body, 'Task');
    assert.match(r.headers.get('location'), new RegExp(`/api/v1/tasks/${r.body.id}$`));
    assert.equal(r.body.status, 'queued');
    assert.equal(r.body.provider, 'sandbox');
    assert.deepEqual(r.body.cost, { reserved: 10, settled: null, refunded: 0, unit: 'task', unit_credits: 10 });
    assert.deepEqual(r.body.inputs, { aspect_ratio: '9:16', prompt: 'a red fox running through snow' });
    assert.equal(await balance(u), 90, 'the price is reserved at once');
    const t = await waitTask(u, r.body.id);
    assertSchema(t, 'Task');
    assert.equal(t.status, 'succeeded', JSON.stringify(t.error));
    assert.equal(t.progress, 100);
    assert.deepEqual(t.cost, { reserved: 10, settled: 10, refunded: 0, unit: 'task', unit_credits: 10 });
    assert.equal(t.outputs.length, 1);
    assert.equal(t.outputs[0].content_type, 'video/mp4');
    assert.ok(t.submitted_at && t.finished_at);
    const f = await fetch(t.outputs[0].url);
    assert.equal(f.status, 200);
    const bytes = Buffer.from(await f.arrayBuffer());
    assert.equal(bytes.length, t.outputs[0].size);
    assert.equal(bytes.subarray(4, 8).toString('latin1'), 'ftyp', 'an MP4 a browser plays');
    assert.equal(await balance(u), 90);
    const spends = await ledgerEntries(srv, u.token, 'spend', t.id);
    assert.equal(spends.reduce((a, e) => a + e.delta, 0), -10, 'one debit of the price');
  });

  it('image: 2 credits, a PNG output', async () => {
    const u = await userWith(5);
    const r = await submit(u, { kind: 'image', prompt: 'a lighthouse at dusk', aspect_ratio: '1:1' });
    assertStatus(r, 202);
    const t = await waitTask(u, r.body.id);
    assert.equal(t.status, 'succeeded');
    assert.equal(t.cost.settled, 2);
    assert.equal(t.outputs[0].content_type, 'image/png');
    const f = await fetch(t.outputs[0].url);
    const bytes = Buffer.from(await f.arrayBuffer());
    assert.equal(bytes.subarray(1, 4).toString('latin1'), 'PNG');
    assert.equal(await balance(u), 3);
  });

  it('a failure at the provider gives everything back, once', async () => {
    const u = await userWith(10);
    const r = await submit(u, { kind: 'text_to_video', prompt: 'fail please', sandbox: { outcome: 'fail' } });
    assertStatus(r, 202);
    assert.equal(await balance(u), 0);
    const t = await waitTask(u, r.body.id);
    assert.equal(t.status, 'failed');
    assert.ok(t.error && t.error.code && t.error.message, 'the error is shown');
    assert.deepEqual(t.cost, { reserved: 10, settled: 0, refunded: 10, unit: 'task', unit_credits: 10 });
    assert.equal(await balance(u), 10);
    const refunds = await ledgerEntries(srv, u.token, 'refund', t.id);
    assert.equal(refunds.reduce((a, e) => a + e.delta, 0), 10, 'one refund of the whole reservation');
    assertError(await srv.post(`/api/v1/tasks/${t.id}/cancel`, {}, { token: u.token }), 409, 'task_finished');
    assert.equal(await balance(u), 10, 'cancelling a finished task gives nothing more');
  });

  it('cancel refunds a live task; a second cancel is 409', async () => {
    const u = await userWith(10);
    const r = await submit(u, { kind: 'text_to_video', prompt: 'never ends', sandbox: { outcome: 'never' } });
    assertStatus(r, 202);
    await waitTask(u, r.body.id, ['submitted', 'running']);
    const c = await srv.post(`/api/v1/tasks/${r.body.id}/cancel`, {}, { token: u.token });
    assertStatus(c, 200);
    assert.equal(c.body.status, 'canceled');
    assert.equal(c.body.cost.refunded, 10);
    assert.equal(await balance(u), 10);
    const again = await srv.post(`/api/v1/tasks/${r.body.id}/cancel`, {}, { token: u.token });
    assertError(again, 409, 'task_finished');
    assert.equal(again.body.error.details.status, 'canceled');
    // The dispatcher's next poll loses to the cancel: the task stays canceled.
    await new Promise((res) => setTimeout(res, 2500));
    const t = await srv.get(`/api/v1/tasks/${r.body.id}`, { token: u.token });
    assert.equal(t.body.status, 'canceled');
    assert.equal(await balance(u), 10);
  });

  it('a task that never finishes times out and is refunded', async () => {
    const u = await userWith(2);
    const r = await submit(u, { kind: 'image', prompt: 'stuck', sandbox: { outcome: 'never' } });
    assertStatus(r, 202);
    assert.equal(await balance(u), 0);
    const t = await waitTask(u, r.body.id, ['timed_out', 'failed', 'succeeded', 'canceled'], 30000);
    assert.equal(t.status, 'timed_out');
    assert.equal(t.error.code, 'timeout');
    assert.equal(t.cost.refunded, 2);
    assert.equal(await balance(u), 2);
  });

  it('insufficient credits: 402 before anything is stored', async () => {
    const u = await userWith(9);
    const r = await submit(u, { kind: 'text_to_video', prompt: 'too expensive' });
    assertError(r, 402, 'insufficient_credits');
    assert.equal(r.body.error.details.required, 10);
    assert.equal(await balance(u), 9);
    const l = await srv.get('/api/v1/tasks', { token: u.token });
    assert.deepEqual(l.body.data, []);
  });

  it('live-task cap and the video rate limit answer 429 with Retry-After', async () => {
    const u = await userWith(100);
    const ids = [];
    for (let i = 0; i < 4; i++) {
      const r = await submit(u, { kind: 'text_to_video', prompt: `hold ${i}`, sandbox: { outcome: 'never' } });
      assertStatus(r, 202);
      ids.push(r.body.id);
    }
    const over = await submit(u, { kind: 'text_to_video', prompt: 'one too many', sandbox: { outcome: 'never' } });
    assertError(over, 429, 'too_many_tasks');
    assert.ok(Number(over.headers.get('retry-after')) >= 1);
    assert.equal(over.body.error.details.limit, 4);
    for (const id of ids) assertStatus(await srv.post(`/api/v1/tasks/${id}/cancel`, {}, { token: u.token }), 200);
    const sixth = await submit(u, { kind: 'text_to_video', prompt: 'sixth video this hour' });
    assertStatus(sixth, 202);
    const seventh = await submit(u, { kind: 'text_to_video', prompt: 'seventh video this hour' });
    assertError(seventh, 429, 'rate_limited');
    assert.ok(Number(seventh.headers.get('retry-after')) >= 1);
    // Images do not count against the video policy.
    assertStatus(await submit(u, { kind: 'image', prompt: 'still fine' }), 202);
    await waitTask(u, sixth.body.id);
    assert.equal(await balance(u), 100 - 10 - 2);
  });

  it('Idempotency-Key: a retry returns the first task and charges once', async () => {
    const u = await userWith(20);
    const body = { kind: 'text_to_video', prompt: 'once only' };
    const a = await submit(u, body, { 'idempotency-key': 'task-key-1' });
    assertStatus(a, 202);
    const b = await submit(u, body, { 'idempotency-key': 'task-key-1' });
    assertStatus(b, 202);
    assert.equal(b.headers.get('idempotent-replayed'), 'true');
    assert.equal(b.body.id, a.body.id);
    assert.equal(await balance(u), 10);
    const c = await submit(u, { ...body, prompt: 'something else' }, { 'idempotency-key': 'task-key-1' });
    assertError(c, 409, 'idempotency_key_reused');
    // Concurrent retries of one request: one task.
    const rs = await Promise.all(Array.from({ length: 8 }, () => submit(u, { kind: 'image', prompt: 'racing' }, { 'idempotency-key': 'task-key-2' })));
    for (const r of rs) assertStatus(r, 202);
    assert.equal(new Set(rs.map((r) => r.body.id)).size, 1);
    assert.equal(await balance(u), 8);
    await waitTask(u, a.body.id);
  });

  it('refuses bad input with the field named', async () => {
    const u = await userWith(100);
    assertError(await submit(u, { kind: 'video' }), 400, 'validation_failed');
    const p = await submit(u, { kind: 'animate_move', image: 'https://example.com/a.png', video: 'https://example.com/a.mp4', prompt: 'x' });
    assertError(p, 400, 'validation_failed');
    assert.equal(p.body.error.details.field, 'prompt');
    const h = await submit(u, { kind: 'animate_move', image: 'http://example.com/a.png', video: 'https://example.com/a.mp4' });
    assertError(h, 400, 'validation_failed');
    assert.equal(h.body.error.details.field, 'image');
    const m = await submit(u, { kind: 'animate_mix', image: 'https://example.com/a.png', video: 'https://example.com/a.mp4', mode: 'wan-max' });
    assertError(m, 400, 'validation_failed');
    assert.equal(m.body.error.details.field, 'mode');
    const a = await submit(u, { kind: 'text_to_video', prompt: 'x', aspect_ratio: '1:1' });
    assertError(a, 400, 'validation_failed');
    assert.equal(a.body.error.details.field, 'aspect_ratio');
    const f = await submit(u, { kind: 'animate_move', image: 'fil_01JZZZZZZZZZZZZZZZZZZZZZZZ', video: 'https://example.com/a.mp4' });
    assertError(f, 422, 'invalid_input');
    assert.equal(f.body.error.details.field, 'image');
    assertError(await submit(u, { kind: 'image', prompt: 'x', provider: 'dashscope' }), 400, 'validation_failed');
    const g = await srv.post('/api/v1/tasks', { kind: 'image', prompt: 'x', provider: 'gemini' }, { token: u.token, expect503: true });
    assertError(g, 503, 'generation_unavailable');
    assertError(await submit(u, { kind: 'image', prompt: 'a\u0001b' }), 400, 'validation_failed');
    assert.equal(await balance(u), 100, 'nothing was charged');
  });

  it('animate by URL reserves the longest video and settles on the real length', async () => {
    const u = await userWith(100);
    const r = await submit(u, { kind: 'animate_move', image: 'https://example.com/person.png', video: 'https://example.com/dance.mp4', mode: 'wan-pro' });
    assertStatus(r, 202);
    assert.deepEqual(r.body.cost, { reserved: 60, settled: null, refunded: 0, unit: 'second', unit_credits: 2 });
    assert.equal(await balance(u), 40);
    const t = await waitTask(u, r.body.id);
    assert.equal(t.status, 'succeeded', JSON.stringify(t.error));
    assert.ok(t.cost.settled > 0 && t.cost.settled < 60, `settled on the output's length: ${t.cost.settled}`);
    assert.equal(t.cost.settled + t.cost.refunded, 60);
    assert.equal(await balance(u), 100 - t.cost.settled);
  });

  it('lists tasks newest first, with filters and a cursor; another user sees none', async () => {
    const u = await userWith(20);
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push((await submit(u, { kind: 'image', prompt: `list ${i}` })).body.id);
    const p1 = await srv.get('/api/v1/tasks?limit=2', { token: u.token });
    assertStatus(p1, 200);
    assertSchema(p1.body, 'TaskPage');
    assert.deepEqual(p1.body.data.map((t) => t.id), [ids[2], ids[1]]);
    const p2 = await srv.get(`/api/v1/tasks?limit=2&cursor=${p1.body.next_cursor}`, { token: u.token });
    assert.deepEqual(p2.body.data.map((t) => t.id), [ids[0]]);
    assert.equal(p2.body.next_cursor, null);
    const k = await srv.get('/api/v1/tasks?kind=text_to_video', { token: u.token });
    assert.deepEqual(k.body.data, []);
    assertError(await srv.get('/api/v1/tasks?status=done', { token: u.token }), 400, 'validation_failed');
    for (const id of ids) await waitTask(u, id);
    const s = await srv.get('/api/v1/tasks?status=succeeded', { token: u.token });
    assert.equal(s.body.data.length, 3);
    const other = await userWith(0);
    assertError(await srv.get(`/api/v1/tasks/${ids[0]}`, { token: other.token }), 404, 'not_found');
    assertError(await srv.post(`/api/v1/tasks/${ids[0]}/cancel`, {}, { token: other.token }), 404, 'not_found');
    assert.deepEqual((await srv.get('/api/v1/tasks', { token: other.token })).body.data, []);
    assertError(await srv.get('/api/v1/tasks/not-a-task', { token: u.token }), 404, 'not_found');
  });

  it('tollgate audit holds', async () => {
    assertAuditClean(srv);
    const r = srv.cli(['audit']);
    assert.match(r.stdout, /task audit: 0 violations/);
  });
});

invariantTest(() => srv);
