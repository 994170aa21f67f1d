// A fake Alibaba Cloud DashScope for generation tests: wan2.2-animate-move / -mix tasks in the
// real wire format (PROVIDERS.md section 8):
//
//   POST /api/v1/services/aigc/image2video/video-synthesis
//        Authorization: Bearer <key> (checked against the configured keys: 401 InvalidApiKey),
//        X-DashScope-Async: enable (required: without it 403 AccessDenied "current user api
//        does not support synchronous calls", as DashScope answers), a JSON body
//        {"model","input":{"image_url","video_url"},"parameters":{"mode"}} (400
//        InvalidParameter otherwise) -> {"request_id","output":{"task_id","task_status":"PENDING"}}
//   GET  /api/v1/tasks/{task_id}   with the key that created the task (another key, or an
//        unknown id: task_status UNKNOWN, as for an expired task) -> PENDING, then RUNNING,
//        then SUCCEEDED with output.results.video_url and usage.video_duration (or FAILED with
//        output.code / output.message)
//   GET  /results/{task_id}.mp4?Expires=...   the result video (the real sample MP4 that
//        Tollgate's sandbox uses), unauthenticated like DashScope's OSS links
//
// Errors use DashScope's shape {"request_id","code","message"}.
//
// Controls (in-process methods; as a process: POST /__control/<method> with a JSON array of
// arguments, answering {"result": ...}; GET /__control/state answers state()):
//   setKeys([key...])                 the accepted API keys (default DEFAULT_KEYS)
//   setTaskTime(ms, {pendingMs})      a task is PENDING for pendingMs (default ms/4), RUNNING
//                                     until ms after creation (default 1500), then finished
//   setOutcome(outcome, {times, code, message})  the next `times` tasks (default 1; null:
//                                     every later task) 'succeed', 'fail' (FAILED with code and
//                                     message) or 'never' (RUNNING forever)
//   setVideoDuration(seconds)         usage.video_duration of successes (default 2, the sample's)
//   finish(taskId, outcome)           moves a task to its end now ('succeed' or 'fail')
//   fail(kind, {key, times, endpoint, retryAfter, status}), clearFaults()   (lib/genfake.mjs:
//                                     error500, hang, rate_limit, unauthorized, malformed, status)
//   counts()                          requests per key: {key: {submit, poll, total}}
//   tasks(), task(id)                 tasks as the fake holds them
//   requests                          every API request: {method, path, key, headers, body}
//   reset()
//
// Use in-process:
//   import { startFakeDashscope } from '../fakes/dashscope.mjs';
//   const ds = await startFakeDashscope();   // ds.url, ds.keys
// or as a child process: `node tests/fakes/dashscope.mjs [--port N] [--keys k1,k2]` prints one
// line {"url","port","keys"}; it exits on SIGTERM, SIGINT, or (with --exit-on-stdin-close)
// when its stdin closes.

import { randomUUID } from 'node:crypto';
import { runAsProcess } from './lib/process.mjs';
import {
  SAMPLE_MP4, SAMPLE_MP4_SECONDS, createFaults, createCounter, createOutcomes, readBody, sendJson, control, listen, hang,
} from './lib/genfake.mjs';

export const DEFAULT_KEYS = ['sk-fakedashscope0000000000000001', 'sk-fakedashscope0000000000000002'];
const MODELS = ['wan2.2-animate-move', 'wan2.2-animate-mix'];
const SUBMIT_PATH = '/api/v1/services/aigc/image2video/video-synthesis';

const fmtTime = (ms) => new Date(ms + 8 * 3600 * 1000).toISOString().replace('T', ' ').replace('Z', ''); // Beijing time, as DashScope

export async function startFakeDashscope(opts = {}) {
  const faults = createFaults(['error500', 'hang', 'rate_limit', 'unauthorized', 'malformed', 'status']);
  const counter = createCounter();
  const outcomes = createOutcomes();
  let keys, tasks, taskMs, pendingMs, videoDuration;

  function reset() {
    keys = [...(opts.keys ?? DEFAULT_KEYS)];
    tasks = new Map();
    taskMs = opts.taskMs ?? 1500;
    pendingMs = opts.pendingMs ?? Math.floor(taskMs / 4);
    videoDuration = SAMPLE_MP4_SECONDS;
    faults.clear();
    counter.reset();
    outcomes.reset();
    ctl.requests.length = 0;
  }

  const rid = () => randomUUID();
  const error = (res, status, code, message, headers) => sendJson(res, status, { request_id: rid(), code, message }, headers);

  function bearer(req) {
    const h = req.headers.authorization ?? '';
    const m = /^Bearer (\S+)$/.exec(h);
    return m ? m[1] : null;
  }

  /** Answers a fault; true when one was answered. */
  function applyFault(f, req, res) {
    switch (f.kind) {
      case 'hang': hang(req, res); return true;
      case 'error500': error(res, 500, 'InternalError', 'An internal error has occured, please try again later or contact service support.'); return true;
      case 'rate_limit': error(res, 429, 'Throttling.RateQuota', 'Requests rate limit exceeded, please try again later.', { 'Retry-After': String(f.retryAfter) }); return true;
      case 'unauthorized': error(res, 401, 'InvalidApiKey', 'Invalid API-key provided.'); return true;
      case 'malformed': res.writeHead(200, { 'Content-Type': 'application/json' }); res.end('{"request_id":"x","output":{"task_id":'); return true;
      case 'status': error(res, f.status, f.status >= 500 ? 'InternalError' : 'InvalidParameter', `forced status ${f.status}`); return true;
      default: return false;
    }
  }

  function view(t) {
    const now = Date.now();
    const el = now - t.created;
    const output = { task_id: t.id, task_status: 'PENDING', submit_time: fmtTime(t.created) };
    if (t.forced === undefined && (el < pendingMs)) return { output };
    output.scheduled_time = fmtTime(t.created + Math.min(el, pendingMs));
    const done = t.forced ?? (el >= taskMs && t.outcome !== 'never' ? t.outcome : null);
    if (!done) return { output: { ...output, task_status: 'RUNNING' } };
    output.end_time = fmtTime(t.created + taskMs);
    if (done === 'fail') {
      return { output: { ...output, task_status: 'FAILED', code: t.code ?? 'InvalidParameter.DataInspection',
        message: t.message ?? 'The image or video failed the inspection of content moderation.' } };
    }
    return {
      output: { ...output, task_status: 'SUCCEEDED', results: { video_url: `${ctl.url}/results/${t.id}.mp4?Expires=${Math.floor(now / 1000) + 86400}` } },
      usage: { video_duration: t.duration, video_ratio: t.mode === 'wan-pro' ? 'professional' : 'standard' },
    };
  }

  async function submit(req, res, key) {
    const raw = await readBody(req);
    ctl.requests.push({ method: req.method, path: req.url, key, headers: req.headers, body: raw });
    if (req.headers['x-dashscope-async'] !== 'enable')
      return error(res, 403, 'AccessDenied', 'current user api does not support synchronous calls');
    let body;
    try {
      body = JSON.parse(raw);
    } catch {
      return error(res, 400, 'InvalidParameter', 'The request body is not a valid JSON.');
    }
    if (!body || typeof body !== 'object') return error(res, 400, 'InvalidParameter', 'The request body is not a valid JSON object.');
    if (!MODELS.includes(body.model)) return error(res, 400, 'InvalidParameter', 'Model not exist.');
    const inp = body.input ?? {};
    for (const f of ['image_url', 'video_url'])
      if (typeof inp[f] !== 'string' || !/^(https?|oss):\/\/\S+$/.test(inp[f])) return error(res, 400, 'InvalidParameter', `Field required: input.${f}`);
    const mode = body.parameters?.mode;
    if (mode !== 'wan-std' && mode !== 'wan-pro') return error(res, 400, 'InvalidParameter', 'parameters.mode must be wan-std or wan-pro');
    const o = outcomes.next();
    const t = { id: randomUUID(), key, model: body.model, mode, input: inp, created: Date.now(), outcome: o.outcome, code: o.code,
      message: o.message, duration: videoDuration };
    tasks.set(t.id, t);
    return sendJson(res, 200, { request_id: rid(), output: { task_id: t.id, task_status: 'PENDING' } });
  }

  async function route(req, res) {
    const url = new URL(req.url, 'http://fake');
    if (url.pathname.startsWith('/__control/')) return control(req, res, ctl, url.pathname.slice(11), CONTROLS);
    const m = /^\/results\/([0-9a-f-]+)\.mp4$/.exec(url.pathname);
    if (m && (req.method === 'GET' || req.method === 'HEAD')) {
      if (!tasks.has(m[1])) return error(res, 404, 'NoSuchKey', 'The specified key does not exist.');
      res.writeHead(200, { 'Content-Type': 'video/mp4', 'Content-Length': SAMPLE_MP4.length });
      return res.end(req.method === 'HEAD' ? undefined : SAMPLE_MP4);
    }
    const endpoint = req.method === 'POST' && url.pathname === SUBMIT_PATH ? 'submit'
      : req.method === 'GET' && url.pathname.startsWith('/api/v1/tasks/') ? 'poll' : null;
    if (!endpoint) return error(res, 404, 'NotFound', 'Not found.');
    const key = bearer(req);
    counter.hit(key, endpoint);
    const f = faults.take(key, endpoint);
    if (f) {
      if (endpoint === 'poll') ctl.requests.push({ method: req.method, path: req.url, key, headers: req.headers, body: '' });
      else ctl.requests.push({ method: req.method, path: req.url, key, headers: req.headers, body: await readBody(req) });
      return applyFault(f, req, res);
    }
    if (key === null) return error(res, 401, 'InvalidApiKey', 'No API-key provided.');
    if (!keys.includes(key)) return error(res, 401, 'InvalidApiKey', 'Invalid API-key provided.');
    if (endpoint === 'submit') return submit(req, res, key);
    ctl.requests.push({ method: req.method, path: req.url, key, headers: req.headers, body: '' });
    const id = decodeURIComponent(url.pathname.slice('/api/v1/tasks/'.length));
    const t = tasks.get(id);
    if (!t || t.key !== key) return sendJson(res, 200, { request_id: rid(), output: { task_id: id, task_status: 'UNKNOWN' } });
    return sendJson(res, 200, { request_id: rid(), ...view(t) });
  }

  const CONTROLS = ['setKeys', 'setTaskTime', 'setOutcome', 'setVideoDuration', 'finish', 'fail', 'clearFaults', 'counts', 'tasks', 'task',
    'reset'];
  const ctl = {
    url: '',
    port: 0,
    requests: [],
    get keys() { return [...keys]; },
    setKeys(k) {
      if (!Array.isArray(k) || !k.every((x) => typeof x === 'string' && x)) throw new Error('keys: an array of strings');
      keys = [...k];
    },
    setTaskTime(ms, { pendingMs: p } = {}) {
      if (!(ms >= 0)) throw new Error('ms >= 0');
      taskMs = ms;
      pendingMs = p ?? Math.floor(ms / 4);
    },
    setOutcome(outcome, o = {}) { outcomes.set(outcome, o); },
    setVideoDuration(s) {
      if (typeof s !== 'number' || !(s > 0)) throw new Error('seconds > 0');
      videoDuration = s;
    },
    finish(id, outcome = 'succeed') {
      const t = tasks.get(id);
      if (!t) throw new Error(`no task ${id}`);
      if (outcome !== 'succeed' && outcome !== 'fail') throw new Error('succeed | fail');
      t.forced = outcome;
      return view(t);
    },
    fail(kind, o = {}) { return faults.add(kind, o); },
    clearFaults() { faults.clear(); },
    counts() { return counter.byKey; },
    tasks() { return [...tasks.values()].map((t) => ({ ...t, status: view(t).output.task_status })); },
    task(id) {
      const t = tasks.get(id);
      return t ? { ...t, status: view(t).output.task_status } : null;
    },
    state() { return { counts: counter.byKey, tasks: ctl.tasks(), faults: faults.pending, keys }; },
    reset,
    close: null,
  };
  reset();
  const srv = await listen(route, { host: opts.host, port: opts.port }, (res, e) => error(res, 500, 'InternalError', String(e.message)));
  ctl.url = srv.url;
  ctl.port = srv.port;
  ctl.close = srv.close;
  return ctl;
}

// ---- as a child process (lib/process.mjs) ----------------------------------------------
runAsProcess(import.meta.url, async (opt) => {
  const keys = opt('--keys') ? opt('--keys').split(',') : undefined;
  const ds = await startFakeDashscope({ port: Number(opt('--port') ?? 0), keys });
  return { fake: ds, line: { url: ds.url, port: ds.port, keys: ds.keys } };
});
