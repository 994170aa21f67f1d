// bench/lib.mjs - what the Node benchmarks share: one HTTP request, waiting for a server to
// answer, and a process's memory from /proc.
import http from 'node:http';
import { readFileSync } from 'node:fs';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** VmRSS and VmHWM of pid, in KiB. */
export function memKiB(pid) {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  return { rss: Number(/VmRSS:\s+(\d+)/.exec(s)[1]), hwm: Number(/VmHWM:\s+(\d+)/.exec(s)[1]) };
}

/**
 * One request to 127.0.0.1:port; json is sent as the body; agent (an http.Agent, e.g. with
 * keep-alive) or none (a connection of its own). Resolves {status, text, json}.
 */
export function request(port, method, p, { token, json, agent } = {}) {
  return new Promise((resolve, reject) => {
    const body = json ? JSON.stringify(json) : undefined;
    const headers = {};
    if (token) headers.authorization = `Bearer ${token}`;
    if (body) headers['content-type'] = 'application/json';
    const req = http.request({ host: '127.0.0.1', port, method, path: p, headers, agent: agent ?? false }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode, text, json: text.startsWith('{') ? JSON.parse(text) : null }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Resolves once GET /health answers 200 (10 s at most). */
export async function waitHealthy(port) {
  for (let i = 0; i < 200; i++) {
    try {
      if ((await request(port, 'GET', '/health')).status === 200) return;
    } catch {}
    await sleep(50);
  }
  throw new Error(`nothing answers on port ${port}`);
}
