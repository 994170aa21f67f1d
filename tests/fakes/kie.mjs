// A fake kie.ai for Veo 3 generation tests, in the real wire format (PROVIDERS.md 9.1):
//
//   POST /api/v1/veo/generate        Authorization: Bearer <key>; JSON {"prompt","model"
//        ("veo3" | "veo3_fast"),"aspectRatio" ("16:9" | "9:16" | "Auto"),"imageUrls"? (1 or 2
//        URLs),"generationType"?,"callBackUrl"?} -> {"code":200,"msg":"success","data":{"taskId"}}
//   GET  /api/v1/veo/record-info?taskId=   with the key that created it -> data.successFlag 0
//        (generating, response null), 1 (data.response.resultUrls), or 3 (errorCode,
//        errorMessage); a task of another key, or an unknown id: code 404
//   GET  /results/{taskId}.mp4       the result video (the sandbox's sample MP4)
// When a task with a callBackUrl ends, the fake POSTs kie.ai's callback to it: success
// {"code":200,"msg":"Veo3 video generated successfully.","data":{"taskId","promptJson","info":
// {"resultUrls","originUrls","resolution"},"fallbackFlag":false}}, failure {"code":501,"msg":
// reason,"data":{"taskId",...}}, signed as kie.ai documents when a webhook HMAC key is set:
// X-Webhook-Timestamp (unix seconds) and X-Webhook-Signature = base64(HMAC-SHA256(key,
// taskId + "." + timestamp)) - the body is not signed.
//
// Errors are answered like kie.ai's: HTTP 200 with the error in the body's code
// ({"code":401|402|422|429|455|500|501,"msg","data":null}); setHttpMirror(true) makes the
// HTTP status equal the code as well (kie.ai does not document which it does).
//
// Controls (in-process methods; as a process: POST /__control/<method> with a JSON array of
// arguments, answering {"result": ...}; GET /__control/state answers state()):
//   setKeys([key...]), setTaskTime(ms), setOutcome(outcome, {times, code, message})  as the fake
//                                     DashScope ('succeed' | 'fail' | 'never')
//   setWebhookKey(key | null)         the HMAC key callbacks are signed with (default
//                                     DEFAULT_WEBHOOK_KEY; null: unsigned callbacks)
//   setHttpMirror(on)
//   finish(taskId, outcome)           ends a task now ('succeed' | 'fail'), with its callback
//   deliverCallback(taskId, {url, timestamp, signature, body, times})  (re)sends a task's
//                                     callback, optionally forged; resolves the deliveries
//   loseCallbacks(n)                  the next n callbacks are not sent
//   signature(taskId, timestamp)      what the fake would sign
//   fail(kind, {key, times, endpoint, retryAfter, status}), clearFaults()   (lib/genfake.mjs:
//                                     error500, hang, rate_limit, unauthorized, malformed,
//                                     insufficient (code 402), status)
//   counts(), tasks(), task(id), requests, deliveries ({taskId, url, status, error, body,
//   headers}), reset()
//
// In-process: `const kie = await startFakeKie()` (kie.url, kie.keys, kie.webhookKey); as a
// process: `node tests/fakes/kie.mjs [--port N] [--keys k1,k2] [--webhook-key K]` prints
// {"url","port","keys","webhookKey"}.

import { createHmac, randomBytes } from 'node:crypto';
import { runAsProcess } from './lib/process.mjs';
import {
  SAMPLE_MP4, createFaults, createCounter, createOutcomes, readBody, sendJson, control, listen, hang,
} from './lib/genfake.mjs';

export const DEFAULT_KEYS = ['kie_fake_key_0000000000000001', 'kie_fake_key_0000000000000002'];
export const DEFAULT_WEBHOOK_KEY = 'kie_fake_webhook_hmac_key';

/** base64(HMAC-SHA256(key, taskId + "." + timestamp)), kie.ai's callback signature. */
export function kieSignature(key, taskId, timestamp) {
  return createHmac('sha256', key).update(`${taskId}.${timestamp}`).digest('base64');
}

export async function startFakeKie(opts = {}) {
  const faults = createFaults(['error500', 'hang', 'rate_limit', 'unauthorized', 'malformed', 'insufficient', 'status']);
  const counter = createCounter();
  const outcomes = createOutcomes();
  const timers = new Set();
  let keys, tasks, taskMs, webhookKey, mirror, lose;

  function reset() {
    for (const t of timers) clearTimeout(t);
    timers.clear();
    keys = [...(opts.keys ?? DEFAULT_KEYS)];
    tasks = new Map();
    taskMs = opts.taskMs ?? 1500;
    webhookKey = opts.webhookKey === undefined ? DEFAULT_WEBHOOK_KEY : opts.webhookKey;
    mirror = false;
    lose = 0;
    faults.clear();
    counter.reset();
    outcomes.reset();
    ctl.requests.length = 0;
    ctl.deliveries.length = 0;
  }

  /** kie.ai's answer with the error in the body's code (and the HTTP status with mirror). */
  const answer = (res, code, msg, data = null, headers = {}) =>
    sendJson(res, mirror && code !== 200 ? code : 200, { code, msg, data }, headers);

  function applyFault(f, req, res) {
    switch (f.kind) {
      case 'hang': return hang(req, res);
      case 'error500': return answer(res, 500, 'Server Error - An unexpected error occurred while processing the request');
      case 'rate_limit': return answer(res, 429, 'Rate Limited - Request limit has been exceeded for this resource', null, { 'Retry-After': String(f.retryAfter) });
      case 'unauthorized': return answer(res, 401, 'Unauthorized - Authentication credentials are missing or invalid');
      case 'insufficient': return answer(res, 402, 'Insufficient Credits - Account does not have enough credits to perform the operation');
      case 'malformed': res.writeHead(200, { 'Content-Type': 'application/json' }); return res.end('{"code":200,"msg":"success","data":{"taskId"');
      case 'status': return sendJson(res, f.status, { code: f.status, msg: `forced status ${f.status}`, data: null });
    }
  }

  const resultUrl = (t) => `${ctl.url}/results/${t.id}.mp4`;
  const info = (t) => ({
    resultUrls: [resultUrl(t)],
    ...(t.params.aspectRatio !== '16:9' ? { originUrls: [`${ctl.url}/results/${t.id}.mp4?origin=1`] } : {}),
    resolution: '720p',
  });

  function ended(t) {
    if (t.forced) return t.forced;
    if (t.outcome === 'never' || Date.now() - t.created < taskMs) return null;
    return t.outcome;
  }

  function record(t) {
    const end = ended(t);
    const data = {
      taskId: t.id, paramJson: JSON.stringify(t.params), completeTime: null,
      createTime: new Date(t.created).toISOString().replace('T', ' ').slice(0, 19),
      response: null, successFlag: 0, errorCode: null, errorMessage: '', fallbackFlag: false,
    };
    if (end === 'succeed') Object.assign(data, { successFlag: 1, response: { taskId: t.id, ...info(t) }, completeTime: new Date().toISOString().replace('T', ' ').slice(0, 19) });
    if (end === 'fail') Object.assign(data, { successFlag: 3, errorCode: t.code ?? 501, errorMessage: t.message ?? 'Generation failed: the prompt was flagged by the content policy' });
    return data;
  }

  function callbackBody(t) {
    const end = ended(t);
    const promptJson = JSON.stringify(t.params);
    if (end === 'fail') return { code: 501, msg: t.message ?? 'Generation failed: the prompt was flagged by the content policy', data: { taskId: t.id, promptJson, fallbackFlag: false } };
    return { code: 200, msg: 'Veo3 video generated successfully.', data: { taskId: t.id, promptJson, info: info(t), fallbackFlag: false } };
  }

  async function post(t, { url, timestamp, signature, body } = {}) {
    const target = url ?? t.params.callBackUrl;
    const text = typeof body === 'string' ? body : JSON.stringify(body ?? callbackBody(t));
    const ts = String(timestamp ?? Math.floor(Date.now() / 1000));
    const headers = { 'Content-Type': 'application/json' };
    if (webhookKey !== null || signature !== undefined) {
      headers['X-Webhook-Timestamp'] = ts;
      headers['X-Webhook-Signature'] = signature ?? kieSignature(webhookKey, t.id, ts);
    }
    const d = { taskId: t.id, url: target, status: 0, error: null, body: text, headers };
    try {
      const r = await fetch(target, { method: 'POST', headers, body: text, signal: AbortSignal.timeout(15000) });
      d.status = r.status;
      await r.arrayBuffer();
    } catch (e) {
      d.error = String(e.message);
    }
    ctl.deliveries.push(d);
    return d;
  }

  function scheduleEnd(t, ms) {
    const tm = setTimeout(() => {
      timers.delete(tm);
      if (!ended(t) || t.calledBack) return;
      t.calledBack = true;
      if (!t.params.callBackUrl) return;
      if (lose > 0) {
        lose -= 1;
        ctl.deliveries.push({ taskId: t.id, url: t.params.callBackUrl, status: 0, error: 'lost', body: '', headers: {} });
        return;
      }
      post(t);
    }, ms);
    timers.add(tm);
  }

  async function generate(req, res, key) {
    const raw = await readBody(req);
    ctl.requests.push({ method: req.method, path: req.url, key, headers: req.headers, body: raw });
    let b;
    try {
      b = JSON.parse(raw);
    } catch {
      return answer(res, 422, 'Validation Error - The request body is not valid JSON');
    }
    if (!b || typeof b !== 'object' || Array.isArray(b)) return answer(res, 422, 'Validation Error - The request body is not an object');
    if (typeof b.prompt !== 'string' || b.prompt.trim() === '') return answer(res, 422, 'Validation Error - prompt is required');
    if (b.model !== undefined && !['veo3', 'veo3_fast'].includes(b.model)) return answer(res, 422, 'Validation Error - model must be veo3 or veo3_fast');
    if (b.aspectRatio !== undefined && !['16:9', '9:16', 'Auto'].includes(b.aspectRatio)) return answer(res, 422, 'Validation Error - aspectRatio must be 16:9, 9:16 or Auto');
    if (b.imageUrls !== undefined && (!Array.isArray(b.imageUrls) || b.imageUrls.length < 1 || b.imageUrls.length > 2 ||
        !b.imageUrls.every((u) => typeof u === 'string' && /^https?:\/\/\S+$/.test(u))))
      return answer(res, 422, 'Validation Error - imageUrls must hold 1 or 2 image URLs');
    if (b.generationType !== undefined && !['TEXT_2_VIDEO', 'FIRST_AND_LAST_FRAMES_2_VIDEO', 'REFERENCE_2_VIDEO'].includes(b.generationType))
      return answer(res, 422, 'Validation Error - unknown generationType');
    if (b.callBackUrl !== undefined && (typeof b.callBackUrl !== 'string' || !/^https?:\/\/\S+$/.test(b.callBackUrl)))
      return answer(res, 422, 'Validation Error - callBackUrl must be a URL');
    const o = outcomes.next();
    const t = { id: `veo_task_${randomBytes(10).toString('hex')}`, key, created: Date.now(), outcome: o.outcome, code: o.code, message: o.message,
      params: { aspectRatio: b.aspectRatio ?? '16:9', model: b.model ?? 'veo3_fast', prompt: b.prompt,
        ...(b.imageUrls ? { imageUrls: b.imageUrls } : {}), ...(b.callBackUrl ? { callBackUrl: b.callBackUrl } : {}) } };
    tasks.set(t.id, t);
    if (t.outcome !== 'never') scheduleEnd(t, taskMs);
    return answer(res, 200, 'success', { taskId: t.id });
  }

  async function route(req, res) {
    const url = new URL(req.url, 'http://fake');
    if (url.pathname.startsWith('/__control/')) return control(req, res, ctl, url.pathname.slice(11), CONTROLS);
    const m = /^\/results\/(veo_task_[0-9a-f]+)\.mp4$/.exec(url.pathname);
    if (m && (req.method === 'GET' || req.method === 'HEAD')) {
      if (!tasks.has(m[1])) return sendJson(res, 404, { code: 404, msg: 'Not Found', data: null });
      res.writeHead(200, { 'Content-Type': 'video/mp4', 'Content-Length': SAMPLE_MP4.length });
      return res.end(req.method === 'HEAD' ? undefined : SAMPLE_MP4);
    }
    const endpoint = req.method === 'POST' && url.pathname === '/api/v1/veo/generate' ? 'submit'
      : req.method === 'GET' && url.pathname === '/api/v1/veo/record-info' ? 'poll' : null;
    if (!endpoint) return sendJson(res, 404, { code: 404, msg: 'Not Found', data: null });
    const auth = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '');
    const key = auth ? auth[1] : null;
    counter.hit(key, endpoint);
    const f = faults.take(key, endpoint);
    if (f) {
      ctl.requests.push({ method: req.method, path: req.url, key, headers: req.headers, body: endpoint === 'submit' ? await readBody(req) : '' });
      return applyFault(f, req, res);
    }
    if (key === null || !keys.includes(key)) return answer(res, 401, 'Unauthorized - Authentication credentials are missing or invalid');
    if (endpoint === 'submit') return generate(req, res, key);
    ctl.requests.push({ method: req.method, path: req.url, key, headers: req.headers, body: '' });
    const id = url.searchParams.get('taskId');
    const t = id ? tasks.get(id) : undefined;
    if (!t || t.key !== key) return answer(res, 404, 'Task not found');
    return answer(res, 200, 'success', record(t));
  }

  const CONTROLS = ['setKeys', 'setTaskTime', 'setOutcome', 'setWebhookKey', 'setHttpMirror', 'finish', 'deliverCallback', 'loseCallbacks',
    'signature', 'fail', 'clearFaults', 'counts', 'tasks', 'task', 'reset'];
  const pubTask = (t) => ({ id: t.id, key: t.key, params: t.params, outcome: t.outcome, created: t.created, ended: ended(t), successFlag: record(t).successFlag });
  const ctl = {
    url: '',
    port: 0,
    requests: [],
    deliveries: [],
    get keys() { return [...keys]; },
    get webhookKey() { return webhookKey; },
    setKeys(k) {
      if (!Array.isArray(k) || !k.every((x) => typeof x === 'string' && x)) throw new Error('keys: an array of strings');
      keys = [...k];
    },
    setTaskTime(ms) {
      if (!(ms >= 0)) throw new Error('ms >= 0');
      taskMs = ms;
    },
    setOutcome(outcome, o = {}) { outcomes.set(outcome, o); },
    setWebhookKey(k) { webhookKey = k; },
    setHttpMirror(on) { mirror = !!on; },
    async finish(id, outcome = 'succeed') {
      const t = tasks.get(id);
      if (!t) throw new Error(`no task ${id}`);
      if (outcome !== 'succeed' && outcome !== 'fail') throw new Error('succeed | fail');
      t.forced = outcome;
      if (!t.calledBack && t.params.callBackUrl) {
        t.calledBack = true;
        return post(t);
      }
      return null;
    },
    async deliverCallback(id, { times = 1, ...o } = {}) {
      const t = tasks.get(id);
      if (!t) throw new Error(`no task ${id}`);
      const out = [];
      for (let i = 0; i < times; i++) out.push(await post(t, o));
      return out;
    },
    loseCallbacks(n = 1) { lose = n; },
    signature(id, ts) { return kieSignature(webhookKey, id, String(ts)); },
    fail(kind, o = {}) { return faults.add(kind, o); },
    clearFaults() { faults.clear(); },
    counts() { return counter.byKey; },
    tasks() { return [...tasks.values()].map(pubTask); },
    task(id) { return tasks.has(id) ? pubTask(tasks.get(id)) : null; },
    state() { return { counts: counter.byKey, tasks: ctl.tasks(), faults: faults.pending, keys, deliveries: ctl.deliveries }; },
    reset,
    close: null,
  };
  reset();
  const srv = await listen(route, { host: opts.host, port: opts.port }, (res, e) => sendJson(res, 500, { code: 500, msg: String(e.message), data: null }));
  ctl.url = srv.url;
  ctl.port = srv.port;
  ctl.close = async () => {
    for (const t of timers) clearTimeout(t);
    timers.clear();
    await srv.close();
  };
  return ctl;
}

// ---- as a child process (lib/process.mjs) ----------------------------------------------
runAsProcess(import.meta.url, async (opt) => {
  const keys = opt('--keys') ? opt('--keys').split(',') : undefined;
  const kie = await startFakeKie({ port: Number(opt('--port') ?? 0), keys, webhookKey: opt('--webhook-key') });
  return { fake: kie, line: { url: kie.url, port: kie.port, keys: kie.keys, webhookKey: kie.webhookKey } };
});
