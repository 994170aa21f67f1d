// Connection limits: with more idle connections than TG_MAX_CONNECTIONS, or than the process
// has file descriptors for, the server keeps its CPU low (it must not spin on a listener it
// cannot accept from), still answers GET /health on a new connection within a bound (idle
// connections are closed to make room), logs the episode once, and recovers when the idle
// clients go away.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import http from 'node:http';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { startServer, invariantTest, sleep } from './lib/server.mjs';

/** User + system CPU time of a process so far, in seconds (/proc/<pid>/stat, clock ticks). */
function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100; // utime, stime; USER_HZ is 100 on Linux
}

/** Open sockets of a process (listeners, client connections, internal socket pairs). */
function socketCount(pid) {
  let n = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith('socket:')) n++;
    } catch {
      // closed meanwhile
    }
  }
  return n;
}

/** Opens n TCP connections that never send a byte; resolves when all are connected. */
async function openIdle(port, n) {
  const socks = await Promise.all(
    Array.from({ length: n }, () => new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.on('error', () => {});
      s.once('connect', () => resolve(s));
      s.once('error', () => resolve(s));
    })),
  );
  return socks;
}

/** GET /health on a new connection: {status, ms}; status is null after timeoutMs. */
function health(port, timeoutMs) {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/health', agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode, ms: Date.now() - t0 }));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve({ status: null, ms: Date.now() - t0 }));
  });
}

/** CPU used by pid over ms milliseconds, as a fraction of one core. */
async function cpuOver(pid, ms) {
  const c0 = cpuSeconds(pid);
  await sleep(ms);
  return (cpuSeconds(pid) - c0) / (ms / 1000);
}

// One core spinning is 1.0; an idle server with 10 back-off wake-ups a second is ~0. The bound
// leaves room for the sanitizer build and a noisy machine, and is far below a spinning loop.
const MAX_CPU = 0.25;
// A health check must be answered while idle clients hold every slot.
const HEALTH_MS = 3000;

/** Asserts the server answers 20 parallel requests on new connections. */
async function assertRecovered(port) {
  const all = await Promise.all(Array.from({ length: 20 }, () => health(port, HEALTH_MS)));
  assert.deepEqual(all.map((r) => r.status), Array(20).fill(200), 'every new connection is served again');
}

describe('TG_MAX_CONNECTIONS', () => {
  const CAP = 16;
  let srv;
  before(async () => {
    srv = await startServer({ env: { TG_MAX_CONNECTIONS: String(CAP) } });
  });
  after(() => srv?.cleanup());

  it('idle connections past the cap: capped, CPU low, /health answered, one log line, recovery', async () => {
    const pid = srv.proc.pid;
    await sleep(300); // the start-up probes' connections are gone
    const base = socketCount(pid);
    const idle = await openIdle(srv.port, 3 * CAP);
    await sleep(200);
    const open = socketCount(pid) - base;
    assert.ok(open <= CAP, `at most TG_MAX_CONNECTIONS (${CAP}) connections are open: ${open}`);
    const cpu = await cpuOver(pid, 1500);
    assert.ok(cpu < MAX_CPU, `CPU while at the cap: ${cpu.toFixed(2)} of a core`);
    const h = await health(srv.port, HEALTH_MS);
    assert.equal(h.status, 200, `/health answered at the cap (after ${h.ms} ms)`);
    assert.ok(socketCount(pid) - base <= CAP, 'still capped after making room');
    const lines = srv.logLines().filter((l) => l.event === 'accept_limited');
    assert.equal(lines.length, 1, `one log line for the episode: ${JSON.stringify(lines)}`);
    assert.equal(lines[0].reason, 'max_connections');
    assert.equal(lines[0].connections, String(CAP));
    assert.equal(lines[0].max_connections, String(CAP));
    for (const s of idle) s.destroy();
    await sleep(300);
    await assertRecovered(srv.port);
    assert.ok((await cpuOver(pid, 500)) < MAX_CPU, 'CPU low after recovery');
  });

  invariantTest(() => srv);
});

describe('out of file descriptors (RLIMIT_NOFILE)', () => {
  let srv;
  before(async () => {
    srv = await startServer();
  });
  after(() => srv?.cleanup());

  it('EMFILE: CPU low, /health answered, one log line, recovery', async () => {
    const pid = srv.proc.pid;
    // Lower the running server's descriptor limit; what it has open stays open.
    const p = spawnSync('prlimit', ['--pid', String(pid), '--nofile=64:64'], { encoding: 'utf8' });
    assert.equal(p.status, 0, `prlimit (util-linux) must work here: ${p.error ?? p.stderr}`);
    const idle = await openIdle(srv.port, 100);
    await sleep(300);
    const cpu = await cpuOver(pid, 1500);
    assert.ok(cpu < MAX_CPU, `CPU while out of descriptors: ${cpu.toFixed(2)} of a core`);
    const h = await health(srv.port, HEALTH_MS);
    assert.equal(h.status, 200, `/health answered while out of descriptors (after ${h.ms} ms)`);
    const lines = srv.logLines().filter((l) => l.event === 'accept_limited');
    assert.equal(lines.length, 1, `one log line for the episode: ${JSON.stringify(lines)}`);
    assert.equal(lines[0].reason, 'descriptors');
    assert.equal(lines[0].errno, 'EMFILE');
    assert.match(lines[0].connections, /^\d+$/);
    for (const s of idle) s.destroy();
    await sleep(300);
    await assertRecovered(srv.port);
  });

  invariantTest(() => srv);
});
