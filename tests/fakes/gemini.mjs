// A fake Gemini Developer API for image generation tests, in the real wire format
// (PROVIDERS.md section 10):
//
//   POST /v1beta/models/{model}:generateContent   the key in x-goog-api-key (or ?key=);
//        JSON {"contents":[{"role","parts":[{"text"} | {"inline_data"|"inlineData":
//        {"mime_type"|"mimeType","data"}}]}],"generationConfig":{"responseModalities",
//        "imageConfig":{"aspectRatio"}}} -> {"candidates":[{"content":{"role":"model","parts":
//        [{"text"},{"inlineData":{"mimeType":"image/png","data":<base64 PNG>}}]},
//        "finishReason":"STOP","index":0}],"usageMetadata",...,"modelVersion","responseId"}
//        (the PNG is the sandbox's sample image). Models: gemini-2.5-flash-image (and
//        gemini-2.5-flash-image-preview); others 404 NOT_FOUND.
// Errors in Google's shape {"error":{"code","message","status","details"?}}: no key 403
// PERMISSION_DENIED, a wrong key 400 INVALID_ARGUMENT with reason API_KEY_INVALID (as Google
// answers), a malformed request 400 INVALID_ARGUMENT.
//
// Controls (in-process methods; as a process: POST /__control/<method> with a JSON array of
// arguments, answering {"result": ...}; GET /__control/state answers state()):
//   setKeys([key...])
//   setOutcome(outcome, {times, code})  the next requests 'succeed', 'fail' (no image:
//                                     finishReason `code`, IMAGE_SAFETY by default; a code
//                                     of PROHIBITED_CONTENT, BLOCKLIST, SAFETY or OTHER given
//                                     as {block: true} is a promptFeedback.blockReason
//                                     instead) or 'never' (no answer: the call times out)
//   setLatency(ms)                    answers after ms (an image takes seconds at Google)
//   setImages(n)                      images per answer (default 1)
//   setResponseCase('camel'|'snake')  inlineData/mimeType (Google) or inline_data/mime_type
//   fail(kind, {key, times, retryAfter, status}), clearFaults()   (lib/genfake.mjs: error500,
//                                     hang, rate_limit (429 RESOURCE_EXHAUSTED, Retry-After and
//                                     RetryInfo), unauthorized (400 API_KEY_INVALID),
//                                     malformed, status)
//   counts(), requests ({method, path, key, keyIn: 'header'|'query', headers, body, json}), reset()
//
// In-process: `const gm = await startFakeGemini()` (gm.url, gm.keys); as a process:
// `node tests/fakes/gemini.mjs [--port N] [--keys k1,k2]` prints {"url","port","keys"}.

import { randomBytes } from 'node:crypto';
import { runAsProcess } from './lib/process.mjs';
import { SAMPLE_PNG, createFaults, createCounter, createOutcomes, readBody, sendJson, control, listen, hang } from './lib/genfake.mjs';

export const DEFAULT_KEYS = ['AIzaFakeGeminiKey000000000000000000001', 'AIzaFakeGeminiKey000000000000000000002'];
const MODELS = ['gemini-2.5-flash-image', 'gemini-2.5-flash-image-preview'];
const ASPECTS = ['1:1', '2:3', '3:2', '3:4', '4:3', '4:5', '5:4', '9:16', '16:9', '21:9'];
const BLOCKS = ['PROHIBITED_CONTENT', 'BLOCKLIST', 'SAFETY', 'OTHER'];

const gerr = (res, code, status, message, details, headers) =>
  sendJson(res, code, { error: { code, message, status, ...(details ? { details } : {}) } }, headers);

/** A strict base64 check: decodes and re-encodes to the same text. */
const isBase64 = (s) => typeof s === 'string' && s.length > 0 && Buffer.from(s, 'base64').toString('base64') === s;

export async function startFakeGemini(opts = {}) {
  const faults = createFaults(['error500', 'hang', 'rate_limit', 'unauthorized', 'malformed', 'status']);
  const counter = createCounter();
  const outcomes = createOutcomes();
  const timers = new Set();
  let keys, latency, images, snake;

  function reset() {
    keys = [...(opts.keys ?? DEFAULT_KEYS)];
    latency = opts.latencyMs ?? 0;
    images = 1;
    snake = false;
    faults.clear();
    counter.reset();
    outcomes.reset();
    ctl.requests.length = 0;
  }

  const keyInvalid = (res) => gerr(res, 400, 'INVALID_ARGUMENT', 'API key not valid. Please pass a valid API key.', [
    { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_INVALID', domain: 'googleapis.com',
      metadata: { service: 'generativelanguage.googleapis.com' } },
    { '@type': 'type.googleapis.com/google.rpc.LocalizedMessage', locale: 'en-US', message: 'API key not valid. Please pass a valid API key.' }]);

  function applyFault(f, req, res) {
    switch (f.kind) {
      case 'hang': return hang(req, res);
      case 'error500': return gerr(res, 500, 'INTERNAL', 'An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting');
      case 'rate_limit': return gerr(res, 429, 'RESOURCE_EXHAUSTED', 'You exceeded your current quota, please check your plan and billing details.', [
        { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: `${f.retryAfter}s` }], { 'Retry-After': String(f.retryAfter) });
      case 'unauthorized': return keyInvalid(res);
      case 'malformed': res.writeHead(200, { 'Content-Type': 'application/json; charset=UTF-8' }); return res.end('{"candidates":[{"content":{"parts":[{"inlineData":{"mimeType":"image/png","data":"iVBOR');
      case 'status': return gerr(res, f.status, f.status >= 500 ? 'UNAVAILABLE' : 'FAILED_PRECONDITION', `forced status ${f.status}`);
    }
  }

  /** Checks a request body; an error message or null. */
  function check(b) {
    if (!b || typeof b !== 'object' || Array.isArray(b)) return 'Invalid JSON payload received.';
    if (!Array.isArray(b.contents) || b.contents.length === 0) return '* GenerateContentRequest.contents: contents is not specified';
    let text = 0;
    for (const c of b.contents) {
      if (!c || !Array.isArray(c.parts) || c.parts.length === 0) return '* GenerateContentRequest.contents.parts: contents.parts must not be empty.';
      if (c.role !== undefined && c.role !== 'user' && c.role !== 'model') return `Please use a valid role: user, model.`;
      for (const p of c.parts) {
        const d = p.inline_data ?? p.inlineData;
        if (typeof p.text === 'string') text++;
        else if (d) {
          const mime = d.mime_type ?? d.mimeType;
          if (typeof mime !== 'string' || !mime.startsWith('image/')) return `Unsupported MIME type: ${mime}`;
          if (!isBase64(d.data)) return "Invalid value at 'contents[0].parts[1].inline_data.data' (TYPE_BYTES), Base64 decoding failed";
        } else return 'Invalid JSON payload received. Unknown name in parts.';
      }
    }
    if (text === 0) return 'The request has no text prompt.';
    const gc = b.generationConfig ?? {};
    if (gc.responseModalities !== undefined && (!Array.isArray(gc.responseModalities) || !gc.responseModalities.includes('IMAGE')))
      return 'responseModalities must include IMAGE for this model.';
    const ar = gc.imageConfig?.aspectRatio;
    if (ar !== undefined && !ASPECTS.includes(ar)) return `Invalid aspect ratio: ${ar}`;
    return null;
  }

  function success(res, text) {
    const b64 = SAMPLE_PNG.toString('base64');
    const img = snake ? { inline_data: { mime_type: 'image/png', data: b64 } } : { inlineData: { mimeType: 'image/png', data: b64 } };
    const parts = [{ text: `Here is your image: ${text.slice(0, 40)}` }];
    for (let i = 0; i < images; i++) parts.push(img);
    sendJson(res, 200, {
      candidates: [{ content: { role: 'model', parts }, finishReason: 'STOP', index: 0 }],
      usageMetadata: { promptTokenCount: 17, candidatesTokenCount: 1290 * images + 16, totalTokenCount: 1290 * images + 33,
        promptTokensDetails: [{ modality: 'TEXT', tokenCount: 17 }], candidatesTokensDetails: [{ modality: 'IMAGE', tokenCount: 1290 * images }] },
      modelVersion: 'gemini-2.5-flash-image',
      responseId: randomBytes(16).toString('base64url'),
    });
  }

  async function route(req, res) {
    const url = new URL(req.url, 'http://fake');
    if (url.pathname.startsWith('/__control/')) return control(req, res, ctl, url.pathname.slice(11), CONTROLS);
    const m = /^\/v1beta\/models\/([^/:]+):generateContent$/.exec(url.pathname);
    if (!m || req.method !== 'POST') return gerr(res, 404, 'NOT_FOUND', 'Requested entity was not found.');
    const hk = req.headers['x-goog-api-key'];
    const key = hk ?? url.searchParams.get('key');
    const raw = await readBody(req);
    let json = null;
    try {
      json = JSON.parse(raw);
    } catch { /* checked below */ }
    ctl.requests.push({ method: req.method, path: req.url, key, keyIn: hk ? 'header' : key ? 'query' : null, headers: req.headers, body: raw, json });
    counter.hit(key, 'submit');
    const f = faults.take(key, 'submit');
    if (f) return applyFault(f, req, res);
    if (!key) return gerr(res, 403, 'PERMISSION_DENIED', "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.");
    if (!keys.includes(key)) return keyInvalid(res);
    if (!MODELS.includes(m[1])) return gerr(res, 404, 'NOT_FOUND', `models/${m[1]} is not found for API version v1beta, or is not supported for generateContent.`);
    if (json === null) return gerr(res, 400, 'INVALID_ARGUMENT', 'Invalid JSON payload received.');
    const bad = check(json);
    if (bad) return gerr(res, 400, 'INVALID_ARGUMENT', bad);
    const o = outcomes.next();
    if (o.outcome === 'never') return hang(req, res);
    const reply = () => {
      if (o.outcome === 'fail') {
        const code = o.code ?? 'IMAGE_SAFETY';
        if (o.block)
          return sendJson(res, 200, { promptFeedback: { blockReason: code }, usageMetadata: { promptTokenCount: 17, totalTokenCount: 17 }, modelVersion: 'gemini-2.5-flash-image' });
        return sendJson(res, 200, { candidates: [{ content: { role: 'model', parts: o.message ? [{ text: o.message }] : [] }, finishReason: code, index: 0 }],
          usageMetadata: { promptTokenCount: 17, totalTokenCount: 17 }, modelVersion: 'gemini-2.5-flash-image' });
      }
      const text = json.contents.flatMap((c) => c.parts).find((p) => typeof p.text === 'string').text;
      return success(res, text);
    };
    if (latency > 0) {
      const t = setTimeout(() => { timers.delete(t); if (!res.destroyed) reply(); }, latency);
      timers.add(t);
    } else reply();
  }

  const CONTROLS = ['setKeys', 'setOutcome', 'setLatency', 'setImages', 'setResponseCase', 'fail', 'clearFaults', 'counts', 'reset'];
  const ctl = {
    url: '',
    port: 0,
    requests: [],
    get keys() { return [...keys]; },
    setKeys(k) {
      if (!Array.isArray(k) || !k.every((x) => typeof x === 'string' && x)) throw new Error('keys: an array of strings');
      keys = [...k];
    },
    setOutcome(outcome, o = {}) {
      if (o.block && !BLOCKS.includes(o.code ?? 'PROHIBITED_CONTENT')) throw new Error(`a block reason is one of ${BLOCKS.join(', ')}`);
      if (o.block && !o.code) o.code = 'PROHIBITED_CONTENT';
      outcomes.set(outcome, o);
    },
    setLatency(ms) { latency = ms; },
    setImages(n) {
      if (!(n >= 1 && n <= 4)) throw new Error('1..4 images');
      images = n;
    },
    setResponseCase(c) {
      if (c !== 'camel' && c !== 'snake') throw new Error('camel | snake');
      snake = c === 'snake';
    },
    fail(kind, o = {}) { return faults.add(kind, o); },
    clearFaults() { faults.clear(); },
    counts() { return counter.byKey; },
    state() { return { counts: counter.byKey, faults: faults.pending, keys, requests: ctl.requests.length }; },
    reset,
    close: null,
  };
  reset();
  const srv = await listen(route, { host: opts.host, port: opts.port }, (res, e) => gerr(res, 500, 'INTERNAL', String(e.message)));
  ctl.url = srv.url;
  ctl.port = srv.port;
  ctl.close = async () => {
    for (const t of timers) clearTimeout(t);
    await srv.close();
  };
  return ctl;
}

// ---- as a child process (lib/process.mjs) ----------------------------------------------
runAsProcess(import.meta.url, async (opt) => {
  const keys = opt('--keys') ? opt('--keys').split(',') : undefined;
  const gm = await startFakeGemini({ port: Number(opt('--port') ?? 0), keys });
  return { fake: gm, line: { url: gm.url, port: gm.port, keys: gm.keys } };
});
