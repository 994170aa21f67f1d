// Generation through the real provider protocols, against the fakes of DashScope, kie.ai and
// Gemini (tests/fakes/): each kind succeeds with its output copied into our storage; a failed
// generation is refunded; the key pool moves away from a key the provider refuses (disabled,
// with the reason), from one that keeps failing (cooled down for five minutes, then one probe
// brings it back) and from one that is rate limited; a malformed answer is retried; a kie.ai
// callback wakes its task at once and a forged one is refused; a task that never finishes
// times out and is refunded. Every retry on another key charges the user once.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { deflateSync } from 'node:zlib';

import { Server, freePort, invariantTest, assertStatus, assertError, LOOSE_LIMITS } from './lib/server.mjs';
import { eventually, assertAuditClean } from './lib/pay.mjs';
import { startFakeDashscope, DEFAULT_KEYS as DS_KEYS } from '../fakes/dashscope.mjs';
import { startFakeKie, DEFAULT_KEYS as KIE_KEYS, DEFAULT_WEBHOOK_KEY, kieSignature } from '../fakes/kie.mjs';
import { startFakeGemini, DEFAULT_KEYS as GEM_KEYS } from '../fakes/gemini.mjs';
import { SAMPLE_MP4 } from '../fakes/lib/genfake.mjs';

let srv, admin, ds, kie, gem;
const TERMINAL = ['succeeded', 'failed', 'timed_out', 'canceled'];
const [DS1, DS2] = DS_KEYS;

before(async () => {
  ds = await startFakeDashscope();
  kie = await startFakeKie({ taskMs: 1500 });
  gem = await startFakeGemini();
  srv = new Server();
  srv.port = await freePort();
  srv.opts.env = {
    TG_PUBLIC_URL: `http://127.0.0.1:${srv.port}`,
    TG_SIGNUP_CREDITS: '0',
    TG_SANDBOX: 'on',
    TG_TEST_CLOCK: '1',
    TG_TASKS_MAX_LIVE: '20',
    TG_RATE_LIMITS: `${LOOSE_LIMITS},video=1000/1h`,
    TG_DASHSCOPE_API_KEYS: DS_KEYS.join(','),
    TG_DASHSCOPE_API_BASE: ds.url,
    TG_KIE_API_KEYS: KIE_KEYS.join(','),
    TG_KIE_API_BASE: kie.url,
    TG_KIE_WEBHOOK_HMAC_KEY: DEFAULT_WEBHOOK_KEY,
    TG_GEMINI_API_KEYS: GEM_KEYS.join(','),
    TG_GEMINI_API_BASE: gem.url,
  };
  await srv.start();
  admin = await srv.admin();
  for (const k of [...DS_KEYS, ...KIE_KEYS, ...GEM_KEYS]) srv.secrets.add(k);
});

after(async () => {
  await ds?.close();
  await kie?.close();
  await gem?.close();
});

async function userWith(credits) {
  const u = await srv.register();
  assertStatus(await srv.adjust(admin.token, u.id, credits), 200);
  return u;
}

async function balance(u) {
  return (await srv.get('/api/v1/credits', { token: u.token })).body.available;
}

async function waitTask(u, id, ms = 40000) {
  return eventually(async () => {
    const r = await srv.get(`/api/v1/tasks/${id}`, { token: u.token });
    assertStatus(r, 200);
    return TERMINAL.includes(r.body.status) ? r.body : null;
  }, ms, `task ${id} to end`);
}

async function keyStatus(id) {
  const r = await srv.get('/api/v1/admin/provider-keys', { token: admin.token });
  assertStatus(r, 200);
  return r.body.data.find((k) => k.id === id);
}

async function keysOf(provider) {
  const r = await srv.get('/api/v1/admin/provider-keys', { token: admin.token });
  return r.body.data.filter((k) => k.provider === provider);
}

// ---- media the animate models take: a 256x256 PNG and an MP4 header of 3 s at 256x256 ----

function crc32(buf) {
  let c, crc = 0xffffffff;
  for (const b of buf) {
    c = (crc ^ b) & 0xff;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    crc = (crc >>> 8) ^ c;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

function png(w, h) {
  const chunk = (type, data) => {
    const len = Buffer.alloc(4); len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const crc = Buffer.alloc(4); crc.writeUInt32BE(crc32(td));
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0); ihdr.writeUInt32BE(h, 4); ihdr[8] = 8; ihdr[9] = 2;
  const raw = Buffer.alloc((w * 3 + 1) * h, 0x80);
  for (let y = 0; y < h; y++) raw[y * (w * 3 + 1)] = 0;
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

function box(type, ...parts) {
  const body = Buffer.concat(parts);
  const head = Buffer.alloc(8); head.writeUInt32BE(body.length + 8); head.write(type, 4, 'latin1');
  return Buffer.concat([head, body]);
}

function mp4(w, h, ms) {
  const ftyp = box('ftyp', Buffer.from('isom', 'latin1'), Buffer.from([0, 0, 2, 0]), Buffer.from('isommp41', 'latin1'));
  const mvhd = Buffer.alloc(100);
  mvhd.writeUInt32BE(1000, 12); mvhd.writeUInt32BE(ms, 16); mvhd.writeUInt32BE(0x10000, 20); mvhd.writeUInt16BE(0x100, 24);
  mvhd.writeUInt32BE(0x10000, 36); mvhd.writeUInt32BE(0x10000, 52); mvhd.writeUInt32BE(0x40000000, 68); mvhd.writeUInt32BE(2, 96);
  const tkhd = Buffer.alloc(84);
  tkhd.writeUInt32BE(3, 0); tkhd.writeUInt32BE(1, 12); tkhd.writeUInt32BE(ms, 20);
  tkhd.writeUInt32BE(0x10000, 40); tkhd.writeUInt32BE(0x10000, 56); tkhd.writeUInt32BE(0x40000000, 72);
  tkhd.writeUInt32BE(w << 16, 76); tkhd.writeUInt32BE(h << 16, 80);
  return Buffer.concat([ftyp, box('moov', box('mvhd', mvhd), box('trak', box('tkhd', tkhd)))]);
}

async function upload(u, bytes, contentType) {
  const up = await srv.post('/api/v1/uploads', { content_type: contentType, size: bytes.length }, { token: u.token });
  assertStatus(up, 201);
  const put = await fetch(up.body.upload_url, { method: 'PUT', body: bytes, headers: { 'content-type': contentType } });
  assert.equal(put.status, 200, await put.text());
  return up.body.id;
}

describe('generation through the providers', () => {
  it('animate_move on DashScope: uploaded inputs, priced on the video length, settled on the output', async () => {
    const u = await userWith(50);
    const image = await upload(u, png(256, 256), 'image/png');
    const video = await upload(u, mp4(256, 256, 3000), 'video/mp4');
    const r = await srv.post('/api/v1/tasks', { kind: 'animate_move', image, video }, { token: u.token });
    assertStatus(r, 202);
    assert.equal(r.body.provider, 'dashscope');
    assert.equal(r.body.model, 'wan2.2-animate-move');
    assert.deepEqual(r.body.cost, { reserved: 3, settled: null, refunded: 0, unit: 'second', unit_credits: 1 });
    const t = await waitTask(u, r.body.id);
    assert.equal(t.status, 'succeeded', JSON.stringify(t.error));
    assert.deepEqual(t.cost, { reserved: 3, settled: 2, refunded: 1, unit: 'second', unit_credits: 1 }, 'the fake made 2 s');
    assert.equal(await balance(u), 48);
    // The provider got our signed, absolute URLs and the async header.
    const sub = ds.requests.find((q) => q.method === 'POST' && JSON.parse(q.body).input?.image_url?.includes(image));
    assert.ok(sub, 'the submission named our file');
    const body = JSON.parse(sub.body);
    assert.equal(body.model, 'wan2.2-animate-move');
    assert.equal(body.parameters.mode, 'wan-std');
    assert.ok(body.input.image_url.startsWith(`http://127.0.0.1:${srv.port}/files/in/`));
    assert.equal((await fetch(body.input.image_url)).status, 200, 'the provider can fetch the input');
    // The output is ours now: same bytes as the provider's, served by our signed URL.
    const out = await fetch(t.outputs[0].url);
    assert.equal(out.status, 200);
    assert.deepEqual(Buffer.from(await out.arrayBuffer()), SAMPLE_MP4);
    assert.ok(t.outputs[0].url.startsWith(`http://127.0.0.1:${srv.port}/files/out/`));
  });

  it('uploads outside the model limits are refused before any charge', async () => {
    const u = await userWith(50);
    const small = await upload(u, png(100, 100), 'image/png');
    const video = await upload(u, mp4(256, 256, 3000), 'video/mp4');
    const r = await srv.post('/api/v1/tasks', { kind: 'animate_mix', image: small, video }, { token: u.token });
    assertError(r, 422, 'invalid_input');
    assert.equal(r.body.error.details.field, 'image');
    const long = await upload(u, mp4(256, 256, 45000), 'video/mp4');
    const image = await upload(u, png(256, 256), 'image/png');
    const l = await srv.post('/api/v1/tasks', { kind: 'animate_mix', image, video: long }, { token: u.token });
    assertError(l, 422, 'invalid_input');
    assert.equal(l.body.error.details.field, 'video');
    const swapped = await srv.post('/api/v1/tasks', { kind: 'animate_mix', image: video, video: image }, { token: u.token });
    assertError(swapped, 422, 'invalid_input');
    const other = await userWith(10);
    const theirs = await srv.post('/api/v1/tasks', { kind: 'animate_mix', image, video }, { token: other.token });
    assertError(theirs, 422, 'invalid_input');
    assert.equal(await balance(u), 50);
    assert.equal(await balance(other), 10);
  });

  it('a generation the provider fails is refunded with its reason', async () => {
    const u = await userWith(100);
    ds.setOutcome('fail', { message: 'The image or video failed the inspection of content moderation.' });
    const r = await srv.post('/api/v1/tasks', { kind: 'animate_mix', image: 'https://example.com/p.png', video: 'https://example.com/v.mp4', mode: 'wan-pro' }, { token: u.token });
    assertStatus(r, 202);
    assert.equal(r.body.cost.reserved, 60);
    const t = await waitTask(u, r.body.id);
    assert.equal(t.status, 'failed');
    assert.match(t.error.message, /inspection/);
    assert.equal(t.cost.refunded, 60);
    assert.equal(await balance(u), 100);
  });

  it('a key the provider refuses is disabled with its reason; the task runs on the other key, charged once', async () => {
    ds.clearFaults();
    ds.fail('unauthorized', { key: DS1, times: null });
    const u = await userWith(100);
    const ids = [];
    for (let i = 0; i < 3; i++) {
      const r = await srv.post('/api/v1/tasks', { kind: 'animate_move', image: 'https://example.com/p.png', video: 'https://example.com/v.mp4' }, { token: u.token });
      assertStatus(r, 202);
      ids.push(r.body.id);
    }
    for (const id of ids) assert.equal((await waitTask(u, id)).status, 'succeeded');
    assert.equal(await balance(u), 100 - 3 * 2, 'each task charged once, on the output');
    const counts = ds.counts();
    assert.ok((counts[DS1]?.submit ?? 0) >= 1, 'the refused key was tried');
    const k1 = (await keysOf('dashscope')).find((k) => k.prefix === DS1.slice(0, 6) + '...' && k.status === 'disabled');
    assert.ok(k1, 'the refused key is disabled');
    assert.match(k1.disabled_reason, /Invalid API-key/);
    const after = ds.counts()[DS1].submit;
    const r = await srv.post('/api/v1/tasks', { kind: 'animate_move', image: 'https://example.com/p.png', video: 'https://example.com/v.mp4' }, { token: u.token });
    assert.equal((await waitTask(u, r.body.id)).status, 'succeeded');
    assert.equal(ds.counts()[DS1].submit, after, 'a disabled key is not used again');
    // An admin enables it once the account is fixed.
    ds.clearFaults();
    assertStatus(await srv.post(`/api/v1/admin/provider-keys/${k1.id}/enable`, {}, { token: admin.token }), 200);
    assert.equal((await keyStatus(k1.id)).status, 'healthy');
  });

  it('a rate-limited key waits for its Retry-After while the other key works', async () => {
    ds.clearFaults();
    ds.fail('rate_limit', { key: DS1, times: 1, retryAfter: 2, endpoint: 'submit' });
    ds.fail('rate_limit', { key: DS2, times: 1, retryAfter: 2, endpoint: 'submit' });
    const u = await userWith(100);
    const r = await srv.post('/api/v1/tasks', { kind: 'animate_move', image: 'https://example.com/p.png', video: 'https://example.com/v.mp4' }, { token: u.token });
    const t = await waitTask(u, r.body.id);
    assert.equal(t.status, 'succeeded');
    assert.equal(await balance(u), 98);
    const metrics = (await srv.get('/metrics')).text;
    assert.match(metrics, /tollgate_provider_key_calls_total\{provider="dashscope",key="pk_[0-9A-Z]+",outcome="rate_limited"\} [1-9]/);
  });

  it('malformed answers and 500s on polls are retried', async () => {
    ds.clearFaults();
    ds.fail('malformed', { endpoint: 'poll', times: 2 });
    ds.fail('error500', { endpoint: 'poll', times: 1 });
    const u = await userWith(100);
    const r = await srv.post('/api/v1/tasks', { kind: 'animate_move', image: 'https://example.com/p.png', video: 'https://example.com/v.mp4' }, { token: u.token });
    const t = await waitTask(u, r.body.id, 90000);
    assert.equal(t.status, 'succeeded');
  });

  it('text_to_video on kie.ai: the signed callback wakes the task at once; a forged one is refused', async () => {
    const u = await userWith(100);
    const started = Date.now();
    const r = await srv.post('/api/v1/tasks', { kind: 'text_to_video', prompt: 'a lighthouse in a storm', aspect_ratio: '16:9' }, { token: u.token });
    assertStatus(r, 202);
    assert.equal(r.body.provider, 'kie');
    const t = await waitTask(u, r.body.id);
    assert.equal(t.status, 'succeeded', JSON.stringify(t.error));
    assert.ok(Date.now() - started < 9000, 'done before the first poll would have come (10 s): the callback woke it');
    assert.ok(kie.deliveries.some((d) => d.status === 200), 'the callback was accepted');
    assert.equal(t.cost.settled, 10);
    const sent = JSON.parse(kie.requests.find((q) => q.method === 'POST' && q.path.startsWith('/api/v1/veo/generate')).body);
    assert.equal(sent.model, 'veo3_fast');
    assert.equal(sent.aspectRatio, '16:9');
    assert.equal(sent.callBackUrl, `http://127.0.0.1:${srv.port}/api/v1/callbacks/kie`);
    // Forged: a valid-looking body with a wrong signature, and one with an old timestamp.
    const ptid = kie.tasks()[0].id;
    const ts = Math.floor(Date.now() / 1000);
    const forged = await srv.post('/api/v1/callbacks/kie', { code: 200, data: { taskId: ptid } },
      { headers: { 'x-webhook-timestamp': String(ts), 'x-webhook-signature': kieSignature('not-the-key', ptid, ts) } });
    assertError(forged, 400, 'webhook_rejected');
    const old = ts - 3600;
    const stale = await srv.post('/api/v1/callbacks/kie', { code: 200, data: { taskId: ptid } },
      { headers: { 'x-webhook-timestamp': String(old), 'x-webhook-signature': kieSignature(DEFAULT_WEBHOOK_KEY, ptid, old) } });
    assertError(stale, 400, 'webhook_rejected');
  });

  it('a kie.ai account out of credit takes its key out; the other key runs the task', async () => {
    kie.fail('insufficient', { key: KIE_KEYS[0], times: null });
    const u = await userWith(100);
    const ids = [];
    for (let i = 0; i < 2; i++) ids.push((await srv.post('/api/v1/tasks', { kind: 'text_to_video', prompt: `credit ${i}` }, { token: u.token })).body.id);
    for (const id of ids) assert.equal((await waitTask(u, id)).status, 'succeeded');
    assert.equal(await balance(u), 80);
    const keys = await keysOf('kie');
    assert.ok(keys.some((k) => k.status === 'disabled' && /credit/i.test(k.disabled_reason)), JSON.stringify(keys));
    kie.clearFaults();
  });

  it('image on Gemini with an uploaded input image', async () => {
    const u = await userWith(10);
    const input = await upload(u, png(64, 64), 'image/png');
    const r = await srv.post('/api/v1/tasks', { kind: 'image', prompt: 'make it blue', images: [input], aspect_ratio: '1:1' }, { token: u.token });
    assertStatus(r, 202);
    assert.equal(r.body.provider, 'gemini');
    const t = await waitTask(u, r.body.id);
    assert.equal(t.status, 'succeeded', JSON.stringify(t.error));
    assert.equal(t.outputs[0].content_type, 'image/png');
    const out = Buffer.from(await (await fetch(t.outputs[0].url)).arrayBuffer());
    assert.equal(out.subarray(1, 4).toString('latin1'), 'PNG');
    const sent = JSON.parse(gem.requests.find((q) => q.method === 'POST').body);
    const parts = sent.contents[0].parts;
    assert.ok(parts.some((p) => (p.inline_data ?? p.inlineData)?.data), 'the input image went inline');
    assert.equal(await balance(u), 8);
  });

  it('three errors in a row cool a key down; after five minutes one probe brings it back', async () => {
    ds.clearFaults();
    const keys = await keysOf('dashscope');
    ds.fail('error500', { key: DS1, times: null, endpoint: 'submit' });
    const u = await userWith(200); // four tasks by URL reserve 30 each until they settle
    const ids = [];
    for (let i = 0; i < 4; i++) {
      const r = await srv.post('/api/v1/tasks', { kind: 'animate_move', image: 'https://example.com/p.png', video: 'https://example.com/v.mp4' }, { token: u.token });
      assertStatus(r, 202);
      ids.push(r.body.id);
    }
    for (const id of ids) assert.equal((await waitTask(u, id, 90000)).status, 'succeeded');
    assert.equal(await balance(u), 200 - 4 * 2);
    const k1 = (await keysOf('dashscope')).find((k) => k.status === 'cooling_down');
    assert.ok(k1, `a key is cooling down: ${JSON.stringify(await keysOf('dashscope'))}`);
    assert.equal(k1.consecutive_errors, 3);
    const submitsBefore = ds.counts()[DS1].submit;
    ds.clearFaults();
    // Five minutes later (the server's clock), the key gets one probe and is healthy again.
    const clock = await srv.post('/api/v1/admin/clock', { advance_ms: 5 * 60 * 1000 + 1000 }, { token: admin.token });
    assertStatus(clock, 200);
    const a2 = await srv.login(admin.email, admin.password);
    admin.token = a2.token;
    const u2 = await srv.login(u.email, u.password);
    const r = await srv.post('/api/v1/tasks', { kind: 'animate_move', image: 'https://example.com/p.png', video: 'https://example.com/v.mp4' }, { token: u2.token });
    assertStatus(r, 202);
    await waitTask(u2, r.body.id);
    await eventually(async () => (await keyStatus(k1.id)).status === 'healthy', 20000, 'the probed key to be healthy');
    assert.ok(ds.counts()[DS1].submit > submitsBefore, 'the probe went to the cooled key');
    assert.equal(keys.length, 2);
  });

  it('a task the provider never finishes times out and is refunded', async () => {
    ds.setOutcome('never');
    const u = await srv.register();
    const a = await srv.login(admin.email, admin.password);
    admin.token = a.token;
    assertStatus(await srv.adjust(admin.token, u.id, 100), 200);
    const r = await srv.post('/api/v1/tasks', { kind: 'animate_move', image: 'https://example.com/p.png', video: 'https://example.com/v.mp4' }, { token: u.token });
    assertStatus(r, 202);
    await eventually(async () => (await srv.get(`/api/v1/tasks/${r.body.id}`, { token: u.token })).body.status === 'running', 30000, 'running');
    const clock = await srv.post('/api/v1/admin/clock', { advance_ms: 3601 * 1000 }, { token: admin.token });
    assertStatus(clock, 200);
    const u2 = await srv.login(u.email, u.password);
    const t = await waitTask(u2, r.body.id, 60000);
    assert.equal(t.status, 'timed_out');
    assert.equal(t.cost.refunded, 30);
    assert.equal(await balance(u2), 100);
    assertAuditClean(srv, { now: clock.body.now_ms + 1000 });
  });
});

invariantTest(() => srv);
