// What the fakes of the generation providers (dashscope.mjs, kie.mjs, gemini.mjs) share:
// the sample media Tollgate's sandbox also uses, request bookkeeping per API key, the
// fault-injection table, the task clock, and the HTTP plumbing (JSON answers, bodies,
// hanging answers that end when the client gives up or the fake closes).
//
// Faults (the same control on every fake):
//   fail(kind, {key, times, endpoint, retryAfter, status})
//     kind: 'error500' (HTTP 500 in the provider's error shape), 'hang' (no answer until the
//           client times out), 'rate_limit' (429 with Retry-After: retryAfter seconds, 7 by
//           default), 'unauthorized' (the provider's 401 for the key), 'malformed' (200 with
//           a truncated JSON body), 'insufficient' (kie.ai only: code 402 Insufficient
//           credits), 'status' (HTTP `status` with the provider's error shape);
//     key: only requests made with this API key (default: any key);
//     times: how many matching requests it hits (default 1; Infinity or null: until cleared);
//     endpoint: 'submit', 'poll' or 'any' (default 'any').
//   clearFaults()
// Faults are checked in the order they were added; the first that matches is used (and
// counted down). A request that hits a fault creates nothing and changes no task.
import { readFileSync } from 'node:fs';

export const SAMPLE_MP4 = readFileSync(new URL('../../../src/providers/gen/samples/sample.mp4', import.meta.url));
export const SAMPLE_PNG = readFileSync(new URL('../../../src/providers/gen/samples/sample.png', import.meta.url));
/** Length of SAMPLE_MP4 in seconds (src/providers/gen/samples/README.md). */
export const SAMPLE_MP4_SECONDS = 2;

export const FAULT_KINDS = ['error500', 'hang', 'rate_limit', 'unauthorized', 'malformed', 'insufficient', 'status'];

export function createFaults(allowed = FAULT_KINDS) {
  let list = [];
  return {
    add(kind, { key = null, times = 1, endpoint = 'any', retryAfter = 7, status = 500 } = {}) {
      if (!allowed.includes(kind)) throw new Error(`fault kind must be one of ${allowed.join(', ')}`);
      if (!['submit', 'poll', 'any'].includes(endpoint)) throw new Error('endpoint: submit | poll | any');
      const n = times === null || times === undefined ? Infinity : Number(times);
      if (!(n > 0)) throw new Error('times must be > 0');
      list.push({ kind, key, times: n, endpoint, retryAfter, status });
      return list.length;
    },
    /** The fault for this request (counted down), or null. */
    take(key, endpoint) {
      for (const f of list) {
        if (f.times <= 0) continue;
        if (f.key !== null && f.key !== key) continue;
        if (f.endpoint !== 'any' && f.endpoint !== endpoint) continue;
        f.times -= 1;
        list = list.filter((x) => x.times > 0);
        return f;
      }
      return null;
    },
    clear() { list = []; },
    get pending() { return list.map((f) => ({ ...f, times: f.times === Infinity ? null : f.times })); },
  };
}

/** Counts requests per key and endpoint: {key: {submit, poll, total}}. */
export function createCounter() {
  let by = {};
  return {
    hit(key, endpoint) {
      const k = key ?? '(none)';
      by[k] ??= { submit: 0, poll: 0, total: 0 };
      if (endpoint === 'submit' || endpoint === 'poll') by[k][endpoint] += 1;
      by[k].total += 1;
    },
    get byKey() { return JSON.parse(JSON.stringify(by)); },
    reset() { by = {}; },
  };
}

/**
 * The outcome of the next tasks: a queue set by setOutcome(outcome, {times, ...details});
 * when empty, the default ('succeed'; times null sets the default). outcome: 'succeed' |
 * 'fail' | 'never'; details (code, message, ...) go with it to the fake.
 */
export function createOutcomes() {
  let queue = [];
  let def = 'succeed';
  return {
    set(outcome, { times = 1, ...extra } = {}) {
      if (!['succeed', 'fail', 'never'].includes(outcome)) throw new Error('outcome: succeed | fail | never');
      if (times === null || times === Infinity) {
        def = outcome;
        queue = [];
      } else {
        for (let i = 0; i < times; i++) queue.push({ outcome, ...extra });
      }
    },
    next() { return queue.length ? queue.shift() : { outcome: def }; },
    reset() { queue = []; def = 'succeed'; },
  };
}

export function readBody(req, limit = 64 * 1024 * 1024) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let n = 0;
    req.on('data', (c) => {
      n += c.length;
      if (n > limit) {
        reject(new Error('body too large'));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export function sendJson(res, status, obj, headers = {}) {
  const text = typeof obj === 'string' ? obj : JSON.stringify(obj);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/**
 * The control endpoint every fake serves: POST /__control/<method> with a JSON array of
 * arguments answers {"result": ...} (400 {"error"} when the control throws); GET
 * /__control/state answers ctl.state().
 */
export async function control(req, res, ctl, method, allowed) {
  if (method === 'state' && req.method === 'GET') return sendJson(res, 200, { result: ctl.state() });
  if (req.method !== 'POST' || !allowed.includes(method)) return sendJson(res, 404, { error: 'unknown control' });
  let args;
  try {
    args = JSON.parse((await readBody(req)) || '[]');
  } catch {
    args = null;
  }
  if (!Array.isArray(args)) return sendJson(res, 400, { error: 'arguments must be a JSON array' });
  try {
    return sendJson(res, 200, { result: (await ctl[method](...args)) ?? null });
  } catch (e) {
    return sendJson(res, 400, { error: String(e.message) });
  }
}

/** Starts an HTTP server on host:port running route(req, res); resolves {server, url, port, close}. */
export async function listen(route, { host = '127.0.0.1', port = 0 } = {}, onError) {
  const server = (await import('node:http')).createServer((req, res) => {
    Promise.resolve(route(req, res)).catch((e) => {
      if (!res.headersSent) onError(res, e);
      else res.destroy();
    });
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const p = server.address().port;
  return {
    server,
    port: p,
    url: `http://${host}:${p}`,
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(() => r()));
    },
  };
}

/** A hanging answer: nothing is sent; the socket ends when the client gives up or the fake closes. */
export function hang(req, res) {
  req.resume();
  res.on('close', () => {});
}
