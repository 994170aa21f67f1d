// The fake kie.ai (tests/fakes/kie.mjs) checked on its own: generate and record-info in the
// shapes of PROVIDERS.md 9.1 (successFlag 0/1/3, data.response.resultUrls), errors in the
// body's code (and mirrored into the HTTP status on request), callbacks signed as kie.ai
// documents - the signature checked here with node:crypto against PROVIDERS.md vector 11 -
// and every fault and control the generation tests rely on.

import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { startFakeKie, DEFAULT_KEYS, DEFAULT_WEBHOOK_KEY, kieSignature } from '../fakes/kie.mjs';
import { SAMPLE_MP4 } from '../fakes/lib/genfake.mjs';

const [K1, K2] = DEFAULT_KEYS;
let kie, receiver, received;

before(async () => {
  kie = await startFakeKie();
  received = [];
  receiver = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString() });
      res.writeHead(200).end('ok');
    });
  });
  await new Promise((r) => receiver.listen(0, '127.0.0.1', r));
});
after(async () => {
  await kie.close();
  await new Promise((r) => receiver.close(r));
});
beforeEach(() => {
  kie.reset();
  received.length = 0;
});

const hook = () => `http://127.0.0.1:${receiver.address().port}/api/v1/callbacks/kie`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function waitFor(pred, ms = 3000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const v = pred();
    if (v) return v;
    await sleep(20);
  }
  throw new Error('timed out waiting');
}

async function generate(body, key = K1) {
  const r = await fetch(`${kie.url}/api/v1/veo/generate`, {
    method: 'POST', headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' }, body: JSON.stringify(body),
  });
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* malformed on purpose */ }
  return { status: r.status, json, text, headers: r.headers };
}
async function record(id, key = K1) {
  const r = await fetch(`${kie.url}/api/v1/veo/record-info?taskId=${encodeURIComponent(id)}`, { headers: { Authorization: `Bearer ${key}` } });
  return { status: r.status, json: await r.json() };
}
/** The receiver's check, written from kie.ai's documentation, independent of the fake's signer. */
function verify(headers, taskId, key) {
  const want = createHmac('sha256', key).update(`${taskId}.${headers['x-webhook-timestamp']}`).digest();
  const got = Buffer.from(headers['x-webhook-signature'] ?? '', 'base64');
  return got.length === want.length && timingSafeEqual(got, want);
}

test('the signature is PROVIDERS.md vector 11', () => {
  assert.equal(kieSignature('kie_test_key', 'veo_task_abcdef123456', '1700000000'), 'UYFcq6jg4IzoH0KdBi0wXgnFBhdsh5C2QJ9yKHhKtfU=');
});

test('generate, record-info running then success, and a signed callback', async () => {
  kie.setTaskTime(300);
  const g = await generate({ prompt: 'A dog playing in a park', model: 'veo3_fast', aspectRatio: '9:16', callBackUrl: hook() });
  assert.equal(g.status, 200);
  assert.equal(g.json.code, 200);
  assert.equal(g.json.msg, 'success');
  const id = g.json.data.taskId;
  assert.match(id, /^veo_task_[0-9a-f]+$/);
  const r0 = await record(id);
  assert.equal(r0.json.code, 200);
  assert.equal(r0.json.data.successFlag, 0);
  assert.equal(r0.json.data.response, null);
  assert.equal(r0.json.data.taskId, id);
  assert.deepEqual(JSON.parse(r0.json.data.paramJson), { aspectRatio: '9:16', model: 'veo3_fast', prompt: 'A dog playing in a park', callBackUrl: hook() });
  const cb = await waitFor(() => received[0]);
  const body = JSON.parse(cb.body);
  assert.equal(body.code, 200);
  assert.equal(body.msg, 'Veo3 video generated successfully.');
  assert.equal(body.data.taskId, id);
  assert.equal(body.data.info.resultUrls.length, 1);
  assert.equal(body.data.info.originUrls.length, 1, 'origin URLs when the ratio is not 16:9');
  assert.equal(typeof body.data.promptJson, 'string');
  assert.match(cb.headers['x-webhook-timestamp'], /^\d{10}$/);
  assert.ok(Math.abs(Number(cb.headers['x-webhook-timestamp']) - Date.now() / 1000) < 5);
  assert.ok(verify(cb.headers, id, DEFAULT_WEBHOOK_KEY), 'signed with the webhook key');
  assert.ok(!verify(cb.headers, `${id}x`, DEFAULT_WEBHOOK_KEY));
  const r1 = await record(id);
  assert.equal(r1.json.data.successFlag, 1);
  assert.deepEqual(r1.json.data.response.resultUrls, body.data.info.resultUrls, 'polling: data.response.resultUrls; callback: data.info.resultUrls');
  const v = await fetch(r1.json.data.response.resultUrls[0]);
  assert.equal(v.headers.get('content-type'), 'video/mp4');
  assert.ok(Buffer.from(await v.arrayBuffer()).equals(SAMPLE_MP4));
  assert.deepEqual(kie.deliveries.map((d) => [d.taskId, d.status]), [[id, 200]]);
});

test('frames, defaults and validation (code 422 in a 200 answer)', async () => {
  const g = await generate({ prompt: 'x', imageUrls: ['https://e.com/a.jpg', 'https://e.com/b.jpg'], generationType: 'FIRST_AND_LAST_FRAMES_2_VIDEO' });
  assert.equal(g.json.code, 200);
  assert.deepEqual(kie.task(g.json.data.taskId).params, { aspectRatio: '16:9', model: 'veo3_fast', prompt: 'x', imageUrls: ['https://e.com/a.jpg', 'https://e.com/b.jpg'] });
  for (const b of [{}, { prompt: '' }, { prompt: 'x', aspectRatio: '4:3' }, { prompt: 'x', model: 'veo9' },
    { prompt: 'x', imageUrls: ['a', 'b', 'c'] }, { prompt: 'x', callBackUrl: 'not a url' }]) {
    const r = await generate(b);
    assert.equal(r.status, 200, JSON.stringify(b));
    assert.equal(r.json.code, 422, JSON.stringify(b));
    assert.equal(r.json.data, null);
  }
  kie.setHttpMirror(true);
  assert.equal((await generate({})).status, 422, 'mirrored into the HTTP status');
});

test('keys: unknown key 401, another key cannot read a task', async () => {
  const bad = await generate({ prompt: 'x' }, 'kie_wrong');
  assert.equal(bad.json.code, 401);
  const g = await generate({ prompt: 'x' }, K1);
  assert.equal((await record(g.json.data.taskId, K2)).json.code, 404);
  assert.equal((await record('veo_task_nope', K1)).json.code, 404);
});

test('a failing task: successFlag 3 and a failure callback; a task that never ends', async () => {
  kie.setTaskTime(50);
  kie.setOutcome('fail', { message: 'Your prompt was flagged by the content policy' });
  kie.setOutcome('never');
  const a = (await generate({ prompt: 'x', callBackUrl: hook() })).json.data.taskId;
  const b = (await generate({ prompt: 'y', callBackUrl: hook() })).json.data.taskId;
  const cb = await waitFor(() => received[0]);
  const body = JSON.parse(cb.body);
  assert.equal(body.code, 501);
  assert.equal(body.msg, 'Your prompt was flagged by the content policy');
  assert.equal(body.data.taskId, a);
  assert.equal(body.data.info, undefined);
  const ra = await record(a);
  assert.equal(ra.json.data.successFlag, 3);
  assert.equal(ra.json.data.errorMessage, 'Your prompt was flagged by the content policy');
  await sleep(150);
  assert.equal((await record(b)).json.data.successFlag, 0);
  assert.equal(received.length, 1, 'no callback for the task that never ends');
  await kie.finish(b, 'succeed');
  assert.equal((await record(b)).json.data.successFlag, 1);
  assert.equal(received.length, 2);
});

test('callbacks: lost, re-sent, forged, unsigned', async () => {
  kie.setTaskTime(0);
  kie.loseCallbacks(1);
  const id = (await generate({ prompt: 'x', callBackUrl: hook() })).json.data.taskId;
  await waitFor(() => kie.deliveries[0]);
  assert.equal(kie.deliveries[0].error, 'lost');
  assert.equal(received.length, 0);
  const [d] = await kie.deliverCallback(id, { timestamp: 1700000000 });
  assert.equal(d.status, 200);
  assert.equal(received[0].headers['x-webhook-timestamp'], '1700000000');
  assert.equal(received[0].headers['x-webhook-signature'], kie.signature(id, 1700000000));
  await kie.deliverCallback(id, { signature: 'AAAA' });
  assert.equal(received[1].headers['x-webhook-signature'], 'AAAA');
  kie.setWebhookKey(null);
  await kie.deliverCallback(id, { body: { code: 200, data: { taskId: id } } });
  assert.equal(received[2].headers['x-webhook-signature'], undefined);
  assert.deepEqual(JSON.parse(received[2].body), { code: 200, data: { taskId: id } });
});

test('faults: 402, 401 for one key, 429 Retry-After, 500, malformed, hang', async () => {
  kie.fail('insufficient', { key: K1 });
  const p = await generate({ prompt: 'x' }, K1);
  assert.deepEqual([p.status, p.json.code, p.json.data], [200, 402, null]);
  assert.match(p.json.msg, /Insufficient Credits/);
  kie.setHttpMirror(true);
  kie.fail('insufficient');
  assert.equal((await generate({ prompt: 'x' })).status, 402);
  kie.setHttpMirror(false);

  kie.fail('unauthorized', { key: K2, times: null });
  assert.equal((await generate({ prompt: 'x' }, K2)).json.code, 401);
  assert.equal((await generate({ prompt: 'x' }, K1)).json.code, 200);
  kie.clearFaults();

  kie.fail('rate_limit', { retryAfter: 11 });
  const rl = await generate({ prompt: 'x' });
  assert.equal(rl.json.code, 429);
  assert.equal(rl.headers.get('retry-after'), '11');
  kie.fail('error500', { endpoint: 'poll' });
  const ok = (await generate({ prompt: 'x' })).json.data.taskId;
  assert.equal((await record(ok)).json.code, 500);
  assert.equal((await record(ok)).json.code, 200);
  kie.fail('malformed');
  assert.equal((await generate({ prompt: 'x' })).json, null);
  kie.fail('hang');
  await assert.rejects(fetch(`${kie.url}/api/v1/veo/generate`, { method: 'POST', headers: { Authorization: `Bearer ${K1}` }, body: '{"prompt":"x"}', signal: AbortSignal.timeout(200) }));
  assert.equal(kie.tasks().length, 2);
  assert.deepEqual(kie.counts()[K1], { submit: 7, poll: 2, total: 9 });
});
