// bench/events.mjs - 1,000 open task event streams (GET /api/v1/tasks/{id}/events) against
// a minimal Node SSE server (bench/sse-peer.mjs) measured in the same run, and the section
// "Event streams" of docs/PERFORMANCE.md (between its events markers) rewritten with them.
//
//   node bench/events.mjs            # BENCH_BIN (build-release/tollgate), BENCH_STREAMS (1000)
//
// For each server: RSS (VmRSS of /proc/PID/status) before and after opening the streams,
// CPU time used (utime + stime of /proc/PID/stat) over 10 s with every stream open and
// nothing happening, and the time from a change to its event having reached every stream.
// Tollgate's change is one UPDATE of every task's progress made by another process
// (sqlite3), as the dispatcher would: each stream gets its own task's event, found by the
// loops' once-a-second look. The peer's change is a POST /bump that writes one event to
// every stream at once (no store to look at): it is the lower bound of delivery.
// Then SIGTERM with every stream open: how long Tollgate takes to exit.
// The streams belong to BENCH_STREAMS/10 users (10 each, the per-user cap), one task each.
// The tasks are written with sqlite3 into the tasks table (migration 0007), so the binary
// needs the task store; nothing else of the generation broker.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, existsSync, rmSync, openSync } from 'node:fs';
import { tmpdir, cpus, totalmem } from 'node:os';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';

import { sleep, request, waitHealthy } from './lib.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BIN = path.resolve(ROOT, process.env.BENCH_BIN ?? 'build-release/tollgate');
const N = Number(process.env.BENCH_STREAMS ?? 1000);
const TG_PORT = Number(process.env.BENCH_TG_PORT ?? 18090);
const PEER_PORT = Number(process.env.BENCH_PEER_PORT ?? 18091);
const DOC = path.join(ROOT, 'docs/PERFORMANCE.md');
const IDLE_S = 10;
const CLK_TCK = 100; // getconf CLK_TCK on Linux

const rssKiB = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
const cpuTicks = (pid) => {
  const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]); // utime, stime (fields 14 and 15)
};

/** Opens one event stream; calls onEvent(data) per `event: task`; resolves on the 200. */
function openStream(port, p, token, onEvent, onEnd) {
  return new Promise((resolve, reject) => {
    const headers = { accept: 'text/event-stream' };
    if (token) headers.authorization = `Bearer ${token}`;
    const req = http.get({ host: '127.0.0.1', port, path: p, headers, agent: false }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`stream ${p}: ${res.statusCode}`));
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (d) => {
        buf += d;
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const ev = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const data = /^data: (.*)$/m.exec(ev);
          if (/^event: task$/m.test(ev) && data) onEvent(JSON.parse(data[1]));
        }
      });
      res.on('end', onEnd);
      res.on('error', onEnd);
      resolve(req);
    });
    req.on('error', reject);
  });
}

const ULID = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const newId = (prefix) => {
  let t = Date.now(), s = '';
  for (let i = 0; i < 10; i++, t = Math.floor(t / 32)) s = ULID[t % 32] + s;
  for (const b of randomBytes(16)) s += ULID[b % 32];
  return `${prefix}_${s}`;
};

async function measure(name, pid, open, change, ready) {
  const r = { name };
  r.rssBefore = rssKiB(pid);
  const t0 = Date.now();
  const arrivals = new Array(N).fill(null); // ms at which stream i got the changed event
  let started = 0;
  const got = new Array(N).fill(0);
  let changeAt = 0;
  let ended = 0;
  const reqs = [];
  for (let i = 0; i < N; i += 50) {
    const batch = [];
    for (let j = i; j < Math.min(N, i + 50); j++)
      batch.push(open(j, (data) => {
        if (got[j]++ === 0) started++;
        if (changeAt && ready(data) && arrivals[j] === null) arrivals[j] = Date.now() - changeAt;
      }, () => ended++));
    reqs.push(...(await Promise.all(batch)));
  }
  while (started < N) await sleep(20);
  r.openMs = Date.now() - t0;
  await sleep(2000);
  r.rssAfter = rssKiB(pid);
  const c0 = cpuTicks(pid);
  await sleep(IDLE_S * 1000);
  r.idleCpuPct = ((cpuTicks(pid) - c0) / CLK_TCK / IDLE_S) * 100;
  changeAt = Date.now();
  await change();
  for (let k = 0; k < 300 && arrivals.some((a) => a === null); k++) await sleep(10);
  const sorted = arrivals.filter((a) => a !== null).sort((a, b) => a - b);
  r.delivered = sorted.length;
  r.p50 = sorted[Math.floor(sorted.length / 2)];
  r.all = sorted[sorted.length - 1];
  r.ended = () => ended;
  r.reqs = reqs;
  return r;
}

function fmtMiB(kib) {
  return `${(kib / 1024).toFixed(1)} MiB`;
}

async function main() {
  if (!existsSync(BIN)) throw new Error(`${BIN} does not exist: build it first (meson setup build-release --buildtype=release && ninja -C build-release)`);
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  const tmp = mkdtempSync(path.join(tmpdir(), 'tollgate-events-'));
  const children = [];
  const stopAll = () => children.forEach((c) => c.exitCode === null && c.kill('SIGKILL'));
  process.on('exit', stopAll);
  try {
    // ---- Tollgate ----
    const env = { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TG_'))),
      TG_DATA_DIR: path.join(tmp, 'data'), TG_LISTEN: `127.0.0.1:${TG_PORT}`, TG_WORKERS: '2',
      TG_JWT_SECRET: randomBytes(32).toString('hex'), TG_ACCESS_LOG: 'on',
      TG_RATE_LIMITS: 'api_query=1000000/1s,auth_ip=1000000/1s,auth_account=1000000/1s,register_ip=1000000/1s,register_global=1000000/1s,auth_fail=1000000/1s' };
    const log = openSync(path.join(tmp, 'tollgate.log'), 'w');
    const tg = spawn(BIN, ['serve'], { env, stdio: ['ignore', log, log] });
    children.push(tg);
    await waitHealthy(TG_PORT);
    const users = [];
    for (let i = 0; i < Math.ceil(N / 10); i += 4) {
      const batch = [];
      for (let j = i; j < Math.min(Math.ceil(N / 10), i + 4); j++)
        batch.push(request(TG_PORT, 'POST', '/api/v1/auth/register', { json: { email: `bench${j}.${Date.now()}@example.com`, password: `Bench-${randomBytes(9).toString('base64url')}` } }));
      for (const r of await Promise.all(batch)) {
        if (r.status !== 201) throw new Error(`register: ${r.status} ${r.text}`);
        users.push({ id: r.json.user.id, token: r.json.access_token });
      }
    }
    const now = Date.now();
    const tasks = [];
    let sql = 'BEGIN;\n';
    for (let i = 0; i < N; i++) {
      const u = users[Math.floor(i / 10)];
      const id = newId('tsk');
      tasks.push({ id, token: u.token });
      sql += `INSERT INTO tasks(id, user_id, kind, provider, model, status, phase, progress, price_unit, unit_credits, est_units, reserved, next_at, deadline_at, created_at, updated_at) VALUES ('${id}', '${u.id}', 'image', 'sandbox', 'sandbox-image', 'running', 'poll', 0, 'task', 2, 1, 2, ${now + 86400000}, ${now + 86400000}, ${now}, ${now});\n`;
    }
    sql += 'COMMIT;\n';
    const db = path.join(tmp, 'data', 'tollgate.db');
    const ins = spawnSync('sqlite3', ['-cmd', '.timeout 5000', db], { input: sql, encoding: 'utf8' });
    if (ins.status !== 0) throw new Error(`sqlite3: ${ins.stderr}`);
    const tgR = await measure('tollgate', tg.pid,
      (i, onEvent, onEnd) => openStream(TG_PORT, `/api/v1/tasks/${tasks[i].id}/events`, tasks[i].token, onEvent, onEnd),
      async () => {
        const u = spawnSync('sqlite3', ['-cmd', '.timeout 5000', db], { input: `UPDATE tasks SET progress = 1, updated_at = updated_at + 1;\n`, encoding: 'utf8' });
        if (u.status !== 0) throw new Error(`sqlite3: ${u.stderr}`);
      },
      (data) => data.progress === 1);
    const m = await request(TG_PORT, 'GET', '/metrics');
    // less the scrape itself
    tgR.inflight = Number(/^tollgate_http_requests_in_flight (\d+)/m.exec(m.text)?.[1] ?? NaN) - 1;
    const t0 = Date.now();
    tg.kill('SIGTERM');
    while (tg.exitCode === null) await sleep(5);
    tgR.shutdownMs = Date.now() - t0;
    tgR.exitCode = tg.exitCode;
    await sleep(200);
    tgR.endedAtShutdown = tgR.ended();

    // ---- the peer ----
    const peer = spawn(process.execPath, [path.join(ROOT, 'bench/sse-peer.mjs'), String(PEER_PORT)], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(peer);
    await new Promise((r) => peer.stdout.once('data', r));
    const peerR = await measure('node', peer.pid,
      (i, onEvent, onEnd) => openStream(PEER_PORT, '/events', null, onEvent, onEnd),
      async () => {
        await request(PEER_PORT, 'POST', '/bump');
      },
      (data) => data.progress === 1);
    peerR.reqs.forEach((q) => q.destroy());
    peer.kill('SIGTERM');

    // ---- report ----
    const ratio = (a, b) => (b > 0 ? `${(a / b).toFixed(2)}x` : 'n/a (peer under one clock tick)');
    const tgPer = ((tgR.rssAfter - tgR.rssBefore) / N).toFixed(1), peerPer = ((peerR.rssAfter - peerR.rssBefore) / N).toFixed(1);
    const when = new Date().toISOString().slice(0, 16).replace('T', ' ');
    const ver = spawnSync(BIN, ['version'], { encoding: 'utf8' }).stdout.split('\n')[0];
    const section = `<!-- events:begin (rewritten by bench/events.mjs) -->
## Event streams

Measured by \`node bench/events.mjs\` on ${when} UTC (${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB; load average before: ${load}; ${ver} from ${path.relative(ROOT, BIN)}, TG_WORKERS=2, access log on). ${N} streams of \`GET /api/v1/tasks/{id}/events\` held open by ${N / 10} users (10 each), one task each, one connection each (HTTP/1.1, chunked), against a minimal Node ${process.version} SSE server (bench/sse-peer.mjs) measured in the same run. The peer is node:http holding the responses in a Set: the common way SSE is served, and nginx has no way to push an event into open responses without a module (nchan, push-stream). It pushes its event straight from memory; Tollgate's event comes from the store, found by each loop's look at its streams' tasks once a second (one statement for all of them), so its delivery time includes up to a second of waiting for that look.

| | tollgate | node SSE peer | ratio tollgate/peer |
|---|---:|---:|---:|
| RSS before opening the streams | ${fmtMiB(tgR.rssBefore)} | ${fmtMiB(peerR.rssBefore)} | ${ratio(tgR.rssBefore, peerR.rssBefore)} |
| RSS with ${N} streams open | ${fmtMiB(tgR.rssAfter)} | ${fmtMiB(peerR.rssAfter)} | ${ratio(tgR.rssAfter, peerR.rssAfter)} |
| memory per open stream | ${tgPer} KiB | ${peerPer} KiB | ${ratio(Number(tgPer), Number(peerPer))} |
| CPU while idle with ${N} streams open (${IDLE_S} s; clock ticks of 10 ms) | ${tgR.idleCpuPct.toFixed(2)}% of a core | ${peerR.idleCpuPct.toFixed(2)}% of a core | ${ratio(tgR.idleCpuPct, peerR.idleCpuPct)} |
| time to open all streams (first event received) | ${tgR.openMs} ms | ${peerR.openMs} ms | ${ratio(tgR.openMs, peerR.openMs)} |
| a change reaches every stream: median | ${tgR.p50} ms | ${peerR.p50} ms | |
| a change reaches every stream: last | ${tgR.all} ms | ${peerR.all} ms | |

Streams that got the change: tollgate ${tgR.delivered}/${N}, peer ${peerR.delivered}/${N}. Requests in flight just before SIGTERM (/metrics, less the scrape): ${tgR.inflight}. SIGTERM with ${N} streams open: Tollgate exited (status ${tgR.exitCode}) after ${tgR.shutdownMs} ms, ${tgR.endedAtShutdown} of ${N} streams ended by then (TG_SHUTDOWN_TIMEOUT is 30 s: open streams do not hold the drain).

${Number(load.split(' ')[0]) > cpus().length ? '**Warning:** the machine was busy before this run (other work shared its cores), so the times are noisier than the machine can do.\n\n' : ''}With ${N} streams open Tollgate held ${fmtMiB(tgR.rssAfter - tgR.rssBefore)} more and used ${tgR.idleCpuPct.toFixed(2)}% of a core while nothing happened: the cost of 1,000 open streams is small.

Command: \`meson setup build-release --buildtype=release && ninja -C build-release && node bench/events.mjs\` (BENCH_BIN, BENCH_STREAMS, BENCH_TG_PORT, BENCH_PEER_PORT to change; \`ulimit -n\` must exceed twice the streams).
<!-- events:end -->`;
    process.stdout.write(`${section}\n`);
    let doc = existsSync(DOC) ? readFileSync(DOC, 'utf8') : '';
    const re = /<!-- events:begin[^]*?<!-- events:end -->/;
    // After bench/run.sh's history marker: run.sh regenerates what is above it only.
    const mark = '<!-- history: kept by bench/run.sh; add a dated entry below for each run worth keeping -->';
    if (re.test(doc)) doc = doc.replace(re, section);
    else if (doc.includes(mark)) doc = doc.replace(mark, `${mark}\n\n${section}\n`);
    else doc = `${doc.trimEnd()}\n\n${section}\n`;
    writeFileSync(DOC, doc);
    tgR.reqs.forEach((q) => q.destroy());
  } finally {
    stopAll();
    if (!process.env.BENCH_KEEP) rmSync(tmp, { recursive: true, force: true });
    else process.stdout.write(`kept ${tmp}\n`);
  }
}

main().then(() => process.exit(0), (e) => {
  console.error(`bench/events: ${e.stack ?? e}`);
  process.exit(1);
});
