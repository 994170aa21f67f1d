// The fake Gemini (tests/fakes/gemini.mjs) checked on its own, with Google's own npm SDK
// (@google/genai) as its client where it can be: the SDK writes the generateContent
// requests and reads the answers, so the fake speaks what Google's client speaks (PROVIDERS.md
// section 10): the key in x-goog-api-key, inlineData images in base64, refusals without an
// image, Google's error shape; then the faults and controls the generation tests rely on.

import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { startFakeGemini, DEFAULT_KEYS } from '../fakes/gemini.mjs';
import { SAMPLE_PNG } from '../fakes/lib/genfake.mjs';

const require = createRequire(import.meta.url);
const { GoogleGenAI } = require('@google/genai');

const [K1, K2] = DEFAULT_KEYS;
const MODEL = 'gemini-2.5-flash-image';
let gm;

before(async () => { gm = await startFakeGemini(); });
after(async () => { await gm.close(); });
beforeEach(() => gm.reset());

const sdk = (key) => new GoogleGenAI({ apiKey: key, httpOptions: { baseUrl: gm.url, apiVersion: 'v1beta', retryOptions: { attempts: 1 } } });
const ask = (key, extra = {}) => sdk(key).models.generateContent({
  model: MODEL,
  contents: [{ role: 'user', parts: [{ text: 'Put this cat in a tuxedo' }, { inlineData: { mimeType: 'image/png', data: SAMPLE_PNG.toString('base64') } }] }],
  config: { responseModalities: ['IMAGE'], imageConfig: { aspectRatio: '16:9' } },
  ...extra,
});

async function raw(body, { key = K1, query = false, model = MODEL } = {}) {
  const url = `${gm.url}/v1beta/models/${model}:generateContent${query ? `?key=${key}` : ''}`;
  const r = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json', ...(query || key === null ? {} : { 'x-goog-api-key': key }) }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* malformed on purpose */ }
  return { status: r.status, json, text, headers: r.headers };
}
const BODY = { contents: [{ role: 'user', parts: [{ text: 'a banana' }] }], generationConfig: { responseModalities: ['IMAGE'] } };

test('the SDK generates an image: inlineData PNG, key in the header', async () => {
  const r = await ask(K1);
  const parts = r.candidates[0].content.parts;
  const img = parts.find((p) => p.inlineData);
  assert.equal(img.inlineData.mimeType, 'image/png');
  assert.ok(Buffer.from(img.inlineData.data, 'base64').equals(SAMPLE_PNG));
  assert.equal(r.candidates[0].finishReason, 'STOP');
  assert.equal(r.modelVersion, MODEL);
  const req = gm.requests[0];
  assert.equal(req.keyIn, 'header');
  assert.equal(req.path, `/v1beta/models/${MODEL}:generateContent`, 'no key in the URL');
  assert.deepEqual(req.json.generationConfig, { responseModalities: ['IMAGE'], imageConfig: { aspectRatio: '16:9' } });
  const sent = req.json.contents[0].parts[1];
  assert.ok(Buffer.from((sent.inlineData ?? sent.inline_data).data, 'base64').equals(SAMPLE_PNG), 'the input image arrived');
});

test('snake_case requests (as Tollgate writes them) and answers, several images', async () => {
  const body = { contents: [{ role: 'user', parts: [{ text: 'x' }, { inline_data: { mime_type: 'image/png', data: SAMPLE_PNG.toString('base64') } }] }],
    generationConfig: { responseModalities: ['IMAGE'] } };
  gm.setResponseCase('snake');
  gm.setImages(2);
  const r = await raw(body);
  assert.equal(r.status, 200);
  const imgs = r.json.candidates[0].content.parts.filter((p) => p.inline_data);
  assert.equal(imgs.length, 2);
  assert.equal(imgs[0].inline_data.mime_type, 'image/png');
  assert.equal((await raw(body, { query: true })).status, 200, '?key= works too');
  assert.equal(gm.requests[1].keyIn, 'query');
});

test('keys: a wrong key is 400 API_KEY_INVALID, none is 403', async () => {
  await assert.rejects(ask('AIzaWrongKey'), (e) => e.status === 400 && /API key not valid/.test(e.message));
  const r = await raw(BODY, { key: 'AIzaWrongKey' });
  assert.equal(r.json.error.status, 'INVALID_ARGUMENT');
  assert.equal(r.json.error.details[0].reason, 'API_KEY_INVALID');
  const none = await raw(BODY, { key: null });
  assert.equal(none.status, 403);
  assert.equal(none.json.error.status, 'PERMISSION_DENIED');
});

test('bad requests: 400 INVALID_ARGUMENT, unknown model 404', async () => {
  for (const b of ['{"contents":', {}, { contents: [{ parts: [] }] },
    { contents: [{ parts: [{ text: 'x' }, { inline_data: { mime_type: 'image/png', data: 'not base64!' } }] }] },
    { contents: [{ parts: [{ text: 'x' }] }], generationConfig: { responseModalities: ['TEXT'] } },
    { contents: [{ parts: [{ text: 'x' }] }], generationConfig: { imageConfig: { aspectRatio: '7:5' } } }]) {
    const r = await raw(b);
    assert.equal(r.status, 400, JSON.stringify(b));
    assert.equal(r.json.error.status, 'INVALID_ARGUMENT');
  }
  const m = await raw(BODY, { model: 'gemini-9' });
  assert.equal(m.status, 404);
  assert.equal(m.json.error.status, 'NOT_FOUND');
});

test('refusals: no image with a finishReason, or a blocked prompt', async () => {
  gm.setOutcome('fail');
  const r = await ask(K1);
  assert.equal(r.candidates[0].finishReason, 'IMAGE_SAFETY');
  assert.equal((r.candidates[0].content?.parts ?? []).filter((p) => p.inlineData).length, 0);
  gm.setOutcome('fail', { block: true });
  const b = await raw(BODY);
  assert.equal(b.json.promptFeedback.blockReason, 'PROHIBITED_CONTENT');
  assert.equal(b.json.candidates, undefined);
  gm.setOutcome('fail', { code: 'NO_IMAGE', message: 'I cannot draw that.' });
  const n = await raw(BODY);
  assert.deepEqual(n.json.candidates[0].content.parts, [{ text: 'I cannot draw that.' }]);
  assert.equal((await raw(BODY)).json.candidates[0].finishReason, 'STOP', 'back to images');
});

test('faults: 429 with Retry-After and RetryInfo, 500, 401 for one key, malformed, hang, never, latency', async () => {
  gm.fail('rate_limit', { retryAfter: 31 });
  const rl = await raw(BODY);
  assert.equal(rl.status, 429);
  assert.equal(rl.json.error.status, 'RESOURCE_EXHAUSTED');
  assert.equal(rl.headers.get('retry-after'), '31');
  assert.equal(rl.json.error.details[0].retryDelay, '31s');
  gm.fail('error500');
  await assert.rejects(ask(K1), (e) => e.status === 500);
  gm.fail('unauthorized', { key: K2, times: null });
  assert.equal((await raw(BODY, { key: K2 })).json.error.details[0].reason, 'API_KEY_INVALID');
  assert.equal((await raw(BODY, { key: K1 })).status, 200);
  gm.clearFaults();
  gm.fail('malformed');
  const m = await raw(BODY);
  assert.equal(m.status, 200);
  assert.equal(m.json, null);
  gm.fail('hang');
  await assert.rejects(fetch(`${gm.url}/v1beta/models/${MODEL}:generateContent`, { method: 'POST', headers: { 'x-goog-api-key': K1 }, body: JSON.stringify(BODY), signal: AbortSignal.timeout(200) }));
  gm.setOutcome('never');
  await assert.rejects(fetch(`${gm.url}/v1beta/models/${MODEL}:generateContent`, { method: 'POST', headers: { 'x-goog-api-key': K1 }, body: JSON.stringify(BODY), signal: AbortSignal.timeout(200) }));
  gm.setLatency(300);
  const t0 = Date.now();
  assert.equal((await raw(BODY)).status, 200);
  assert.ok(Date.now() - t0 >= 290);
  assert.deepEqual(gm.counts(), { [K1]: { submit: 7, poll: 0, total: 7 }, [K2]: { submit: 1, poll: 0, total: 1 } });
});
