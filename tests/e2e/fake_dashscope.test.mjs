// The fake DashScope (tests/fakes/dashscope.mjs) checked on its own: the wire shapes of
// PROVIDERS.md section 8 (X-DashScope-Async required, Bearer keys, PENDING -> RUNNING ->
// SUCCEEDED with output.results.video_url and usage.video_duration, FAILED, UNKNOWN for
// another account's task), the result video is a real MP4, and every fault and control the
// generation tests rely on.

import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startFakeDashscope, DEFAULT_KEYS } from '../fakes/dashscope.mjs';
import { SAMPLE_MP4 } from '../fakes/lib/genfake.mjs';

const [K1, K2] = DEFAULT_KEYS;
const PATH = '/api/v1/services/aigc/image2video/video-synthesis';
const BODY = {
  model: 'wan2.2-animate-move',
  input: { image_url: 'https://example.com/p.jpg', video_url: 'https://example.com/m.mp4' },
  parameters: { mode: 'wan-std' },
};
let ds;

before(async () => { ds = await startFakeDashscope(); });
after(async () => { await ds.close(); });
beforeEach(() => ds.reset());

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function create(key = K1, body = BODY, headers = { 'X-DashScope-Async': 'enable' }) {
  const r = await fetch(ds.url + PATH, {
    method: 'POST',
    headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* malformed on purpose */ }
  return { status: r.status, json, text, headers: r.headers };
}

async function query(id, key = K1) {
  const r = await fetch(`${ds.url}/api/v1/tasks/${id}`, { headers: { Authorization: `Bearer ${key}` } });
  return { status: r.status, json: await r.json() };
}

test('a task goes PENDING, RUNNING, SUCCEEDED with the nested video_url and usage', async () => {
  ds.setTaskTime(1000, { pendingMs: 500 });
  ds.setVideoDuration(5.2);
  const c = await create();
  assert.equal(c.status, 200);
  assert.equal(c.json.output.task_status, 'PENDING');
  assert.match(c.json.output.task_id, /^[0-9a-f-]{36}$/);
  assert.equal(typeof c.json.request_id, 'string');
  const id = c.json.output.task_id;
  assert.equal((await query(id)).json.output.task_status, 'PENDING');
  await sleep(600);
  assert.equal((await query(id)).json.output.task_status, 'RUNNING');
  await sleep(500);
  const q = await query(id);
  assert.equal(q.status, 200);
  assert.equal(q.json.output.task_status, 'SUCCEEDED');
  assert.deepEqual(q.json.usage, { video_duration: 5.2, video_ratio: 'standard' });
  assert.equal(q.json.output.video_url, undefined, 'animate models nest the URL under results');
  const v = await fetch(q.json.output.results.video_url);
  assert.equal(v.status, 200);
  assert.equal(v.headers.get('content-type'), 'video/mp4');
  const bytes = Buffer.from(await v.arrayBuffer());
  assert.ok(bytes.equals(SAMPLE_MP4));
  assert.equal(bytes.subarray(4, 8).toString(), 'ftyp');
});

test('without X-DashScope-Async the call is refused as DashScope refuses it', async () => {
  const c = await create(K1, BODY, {});
  assert.equal(c.status, 403);
  assert.equal(c.json.code, 'AccessDenied');
  assert.equal(c.json.message, 'current user api does not support synchronous calls');
  assert.equal(ds.tasks().length, 0);
});

test('keys are checked: none, unknown, and tasks belong to the key that made them', async () => {
  const none = await fetch(ds.url + PATH, { method: 'POST', headers: { 'X-DashScope-Async': 'enable' }, body: JSON.stringify(BODY) });
  assert.equal(none.status, 401);
  assert.equal((await none.json()).code, 'InvalidApiKey');
  const bad = await create('sk-not-a-key');
  assert.equal(bad.status, 401);
  assert.deepEqual([bad.json.code, bad.json.message], ['InvalidApiKey', 'Invalid API-key provided.']);
  const c = await create(K1);
  const other = await query(c.json.output.task_id, K2);
  assert.equal(other.json.output.task_status, 'UNKNOWN');
  assert.equal((await query('00000000-0000-0000-0000-000000000000')).json.output.task_status, 'UNKNOWN');
  ds.setKeys([K2]);
  assert.equal((await create(K1)).status, 401);
});

test('bad requests are 400 InvalidParameter', async () => {
  for (const body of [{ ...BODY, model: 'wan2.5-nope' }, { ...BODY, input: { image_url: 'https://x/p.jpg' } },
    { ...BODY, parameters: { mode: 'wan-turbo' } }, '{"model":']) {
    const c = await create(K1, body);
    assert.equal(c.status, 400, JSON.stringify(body));
    assert.equal(c.json.code, 'InvalidParameter');
  }
});

test('outcomes: a task that fails, one that never ends, and finish()', async () => {
  ds.setTaskTime(0, { pendingMs: 0 });
  ds.setOutcome('fail', { code: 'InvalidParameter.DataInspection', message: 'The image failed the inspection' });
  ds.setOutcome('never');
  const a = (await create()).json.output.task_id;
  const b = (await create()).json.output.task_id;
  const c = (await create()).json.output.task_id;
  const qa = await query(a);
  assert.equal(qa.json.output.task_status, 'FAILED');
  assert.equal(qa.json.output.code, 'InvalidParameter.DataInspection');
  assert.equal(qa.json.output.message, 'The image failed the inspection');
  assert.equal((await query(b)).json.output.task_status, 'RUNNING');
  await sleep(50);
  assert.equal((await query(b)).json.output.task_status, 'RUNNING', 'never finishes');
  assert.equal((await query(c)).json.output.task_status, 'SUCCEEDED', 'the queue is used up: the default again');
  ds.finish(b, 'succeed');
  assert.equal((await query(b)).json.output.task_status, 'SUCCEEDED');
  ds.setOutcome('never', { times: null });
  ds.setTaskTime(0);
  const d = (await create()).json.output.task_id;
  const e = (await create()).json.output.task_id;
  assert.deepEqual([(await query(d)).json.output.task_status, (await query(e)).json.output.task_status], ['RUNNING', 'RUNNING']);
});

test('faults: 500, 429 with Retry-After, 401 for one key, malformed, by endpoint and times', async () => {
  ds.fail('error500', { times: 2 });
  assert.equal((await create()).status, 500);
  assert.equal((await create()).status, 500);
  assert.equal((await create()).status, 200, 'two times only');

  ds.fail('rate_limit', { retryAfter: 3 });
  const rl = await create();
  assert.equal(rl.status, 429);
  assert.equal(rl.headers.get('retry-after'), '3');
  assert.equal(rl.json.code, 'Throttling.RateQuota');

  ds.fail('unauthorized', { key: K1, times: null });
  assert.equal((await create(K1)).status, 401);
  assert.equal((await create(K1)).status, 401);
  assert.equal((await create(K2)).status, 200, 'the other key works');
  ds.clearFaults();
  assert.equal((await create(K1)).status, 200);

  ds.fail('malformed', { endpoint: 'poll' });
  const ok = await create();
  assert.equal(ok.status, 200, 'a poll-only fault leaves creates alone');
  const m = await fetch(`${ds.url}/api/v1/tasks/${ok.json.output.task_id}`, { headers: { Authorization: `Bearer ${K1}` } });
  assert.equal(m.status, 200);
  assert.equal(await m.text(), '{"request_id":"x","output":{"task_id":');

  ds.fail('status', { status: 503 });
  assert.equal((await create()).status, 503);
  assert.equal(ds.tasks().length, 4, 'no faulted request made a task');
});

test('a hang answers nothing until the client gives up', async () => {
  ds.fail('hang');
  const t0 = Date.now();
  await assert.rejects(fetch(ds.url + PATH, {
    method: 'POST', headers: { Authorization: `Bearer ${K1}`, 'X-DashScope-Async': 'enable' }, body: JSON.stringify(BODY),
    signal: AbortSignal.timeout(300),
  }), /aborted|timeout/i);
  assert.ok(Date.now() - t0 >= 280);
  assert.equal((await create()).status, 200, 'the next request is answered');
});

test('requests are counted per key and endpoint', async () => {
  const c = await create(K1);
  await create(K2);
  await query(c.json.output.task_id, K1);
  await query(c.json.output.task_id, K1);
  await create('sk-not-a-key');
  assert.deepEqual(ds.counts(), {
    [K1]: { submit: 1, poll: 2, total: 3 },
    [K2]: { submit: 1, poll: 0, total: 1 },
    'sk-not-a-key': { submit: 1, poll: 0, total: 1 },
  });
  assert.equal(ds.requests[0].headers['x-dashscope-async'], 'enable');
  assert.deepEqual(JSON.parse(ds.requests[0].body), BODY);
});

test('as a process: start-up line and the control API over HTTP', async () => {
  const script = fileURLToPath(new URL('../fakes/dashscope.mjs', import.meta.url));
  const child = spawn(process.execPath, [script, '--keys', 'sk-proc-key-000000001', '--exit-on-stdin-close'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const line = await new Promise((resolve) => child.stdout.once('data', (d) => resolve(JSON.parse(String(d)))));
  try {
    assert.deepEqual(line.keys, ['sk-proc-key-000000001']);
    const ctl = async (m, args) => (await fetch(`${line.url}/__control/${m}`, { method: 'POST', body: JSON.stringify(args) })).json();
    assert.deepEqual(await ctl('setTaskTime', [0]), { result: null });
    assert.deepEqual(await ctl('fail', ['error500', { times: 1 }]), { result: 1 });
    const r = await fetch(line.url + PATH, { method: 'POST', headers: { Authorization: 'Bearer sk-proc-key-000000001', 'X-DashScope-Async': 'enable' }, body: JSON.stringify(BODY) });
    assert.equal(r.status, 500);
    assert.deepEqual((await ctl('counts', [])).result, { 'sk-proc-key-000000001': { submit: 1, poll: 0, total: 1 } });
    assert.equal((await ctl('nope', [])).error, 'unknown control');
    const st = await (await fetch(`${line.url}/__control/state`)).json();
    assert.deepEqual(st.result.keys, ['sk-proc-key-000000001']);
  } finally {
    child.stdin.end();
    await new Promise((r) => child.once('exit', r));
  }
});
