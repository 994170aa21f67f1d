// bench/tasks.mjs - the generation broker under load, and the section "Generation tasks" of
// docs/PERFORMANCE.md (between its tasks markers) rewritten with the figures.
//
//   node bench/tasks.mjs        # BENCH_BIN (build-release/tollgate), BENCH_TASKS (10000), BENCH_CONC (64)
//
// 1. Submissions: BENCH_TASKS animate_move tasks (by URL: 30 credits reserved each, one
//    conditional debit and one task row per request, group-committed with synchronous=FULL)
//    POSTed by BENCH_CONC keep-alive connections for 100 users, against Tollgate and, in the
//    same run, against bench/task-peer.mjs (a Node server that only parses the JSON and keeps
//    it in memory): submissions per second and latency.
// 2. In flight: the fake DashScope (tests/fakes/dashscope.mjs, in this process) takes every
//    task and never finishes it, so all BENCH_TASKS stay in flight while the dispatcher polls
//    them (first after 5 s, backing off to every 15 s). Tollgate's RSS (VmRSS) is sampled every
//    second for 30 s once every task is at the provider; the goal is under 100 MB.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, existsSync, rmSync, openSync } from 'node:fs';
import { tmpdir, cpus, totalmem } from 'node:os';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';

import { startFakeDashscope, DEFAULT_KEYS } from '../tests/fakes/dashscope.mjs';
import { sleep, memKiB, request, waitHealthy } from './lib.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BIN = path.resolve(ROOT, process.env.BENCH_BIN ?? 'build-release/tollgate');
const N = Number(process.env.BENCH_TASKS ?? 10000);
const CONC = Number(process.env.BENCH_CONC ?? 64);
const USERS = 100;
const TG_PORT = Number(process.env.BENCH_TG_PORT ?? 18092);
const PEER_PORT = Number(process.env.BENCH_PEER_PORT ?? 18093);
const DOC = path.join(ROOT, 'docs/PERFORMANCE.md');
const agent = new http.Agent({ keepAlive: true, maxSockets: CONC });
const rss = memKiB;

/** POSTs n tasks with conc connections; returns {rps, p50, p99, non202}. */
async function submitAll(port, users, n, conc) {
  const lat = [];
  let next = 0, non202 = 0;
  const body = { kind: 'animate_move', image: 'https://example.com/person.png', video: 'https://example.com/dance.mp4' };
  const t0 = process.hrtime.bigint();
  await Promise.all(Array.from({ length: conc }, async () => {
    for (;;) {
      const i = next++;
      if (i >= n) return;
      const s = process.hrtime.bigint();
      const r = await request(port, 'POST', '/api/v1/tasks', { token: users[i % users.length].token, json: body, agent });
      lat.push(Number(process.hrtime.bigint() - s) / 1e6);
      if (r.status !== 202) {
        non202++;
        if (non202 < 3) process.stderr.write(`submit: ${r.status} ${r.text}\n`);
      }
    }
  }));
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  lat.sort((a, b) => a - b);
  return { rps: n / secs, p50: lat[Math.floor(lat.length * 0.5)], p99: lat[Math.floor(lat.length * 0.99)], non202, secs };
}

async function main() {
  if (!existsSync(BIN)) throw new Error(`${BIN} does not exist: build it first (meson setup build-release --buildtype=release && ninja -C build-release)`);
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  const tmp = mkdtempSync(path.join(tmpdir(), 'tollgate-tasks-'));
  const children = [];
  const stopAll = () => children.forEach((c) => c.exitCode === null && c.kill('SIGKILL'));
  process.on('exit', stopAll);
  const ds = await startFakeDashscope({ taskMs: 3600000 });
  ds.setOutcome('never', { times: null });
  try {
    // ---- Tollgate ----
    const env = { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TG_'))),
      TG_DATA_DIR: path.join(tmp, 'data'), TG_LISTEN: `127.0.0.1:${TG_PORT}`, TG_PUBLIC_URL: `http://127.0.0.1:${TG_PORT}`,
      TG_WORKERS: '2', TG_JWT_SECRET: randomBytes(32).toString('hex'), TG_ACCESS_LOG: 'on', TG_SIGNUP_CREDITS: '0',
      TG_TASKS_MAX_LIVE: '10000', TG_TASK_TIMEOUT: '86400', TG_SANDBOX: 'on',
      TG_DASHSCOPE_API_KEYS: DEFAULT_KEYS.join(','), TG_DASHSCOPE_API_BASE: ds.url,
      TG_RATE_LIMITS: 'api_query=1000000/1s,auth_ip=1000000/1s,auth_account=1000000/1s,register_ip=1000000/1s,register_global=1000000/1s,auth_fail=1000000/1s,video=1000000/1s' };
    const log = openSync(path.join(tmp, 'tollgate.log'), 'w');
    const tg = spawn(BIN, ['serve'], { env, stdio: ['ignore', log, log] });
    children.push(tg);
    await waitHealthy(TG_PORT);
    const rssIdle = rss(tg.pid).rss;
    // An administrator to grant credits, then the users.
    const pw = `Bench-${randomBytes(9).toString('base64url')}`;
    const pwFile = path.join(tmp, 'admin-pw');
    writeFileSync(pwFile, `${pw}\n`, { mode: 0o600 });
    const mk = spawnSync(BIN, ['admin', 'create', '--email', 'bench-admin@example.com', '--password-file', pwFile, '--role', 'admin'], { env, encoding: 'utf8' });
    if (mk.status !== 0) throw new Error(`admin create: ${mk.stderr}`);
    const admin = (await request(TG_PORT, 'POST', '/api/v1/auth/login', { json: { email: 'bench-admin@example.com', password: pw } })).json.access_token;
    const users = [];
    for (let i = 0; i < USERS; i++) {
      const r = await request(TG_PORT, 'POST', '/api/v1/auth/register', { json: { email: `bench${i}.${Date.now()}@example.com`, password: `Bench-${randomBytes(9).toString('base64url')}` } });
      if (r.status !== 201) throw new Error(`register: ${r.status} ${r.text}`);
      const a = await request(TG_PORT, 'POST', `/api/v1/admin/users/${r.json.user.id}/credits`, { token: admin, json: { delta: Math.ceil(N / USERS) * 30, bucket: 'paid', reason: 'bench' } });
      if (a.status !== 200) throw new Error(`credits: ${a.status} ${a.text}`);
      users.push({ id: r.json.user.id, token: r.json.access_token });
    }
    // ---- the peer first (so Tollgate's dispatcher is not working while the peer is measured) ----
    const peer = spawn(process.execPath, [path.join(ROOT, 'bench/task-peer.mjs'), String(PEER_PORT)], { stdio: 'ignore' });
    children.push(peer);
    await waitHealthy(PEER_PORT);
    const peerR = await submitAll(PEER_PORT, users, N, CONC);
    const peerRss = rss(peer.pid).rss;
    peer.kill('SIGTERM');
    // ---- Tollgate ----
    const tgR = await submitAll(TG_PORT, users, N, CONC);
    const rssAfterSubmit = rss(tg.pid).rss;
    // Wait until every task is at the provider.
    const t0 = Date.now();
    while (ds.tasks().length < N && Date.now() - t0 < 300000) await sleep(500);
    const atProvider = ds.tasks().length;
    const dispatchS = (Date.now() - t0) / 1000;
    // Then 30 s of polling with everything in flight.
    const samples = [];
    const polls0 = Object.values(ds.counts()).reduce((a, c) => a + c.poll, 0);
    for (let i = 0; i < 30; i++) {
      await sleep(1000);
      samples.push(rss(tg.pid).rss);
    }
    const polls = Object.values(ds.counts()).reduce((a, c) => a + c.poll, 0) - polls0;
    const { hwm } = rss(tg.pid);
    const maxRss = Math.max(...samples);
    const m = await request(TG_PORT, 'GET', '/metrics');
    const live = spawnSync('sqlite3', [path.join(tmp, 'data', 'tollgate.db'), "SELECT count(*) FROM tasks WHERE status IN ('submitted','running')"], { encoding: 'utf8' }).stdout.trim();
    tg.kill('SIGTERM');
    while (tg.exitCode === null) await sleep(10);
    const audit = spawnSync(BIN, ['audit'], { env, encoding: 'utf8' });

    // ---- report ----
    const mib = (k) => `${(k / 1024).toFixed(1)} MiB`;
    const when = new Date().toISOString().slice(0, 16).replace('T', ' ');
    const ver = spawnSync(BIN, ['version'], { encoding: 'utf8' }).stdout.split('\n')[0];
    const goal = maxRss < 100 * 1024 && atProvider >= N ? 'goal met' : 'goal missed';
    const section = `<!-- tasks:begin (rewritten by bench/tasks.mjs) -->
## Generation tasks

Measured by \`node bench/tasks.mjs\` on ${when} UTC (${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB; load average before: ${load}; ${ver} from ${path.relative(ROOT, BIN)}, TG_WORKERS=2, access log on). The provider is the fake DashScope (tests/fakes/dashscope.mjs) in the benchmark's own process, which takes every task and never finishes it.

**Submissions.** ${N} \`POST /api/v1/tasks\` (animate_move by URL: the request checked, priced, 30 credits reserved with one conditional debit, the task stored, all committed with synchronous=FULL before the 202) from ${CONC} keep-alive connections for ${USERS} users, against a Node ${process.version} server that only parses the JSON and keeps it in memory (bench/task-peer.mjs), measured in the same run with the same client:

| | tollgate | node peer (no auth, no money, no durability) | ratio tollgate/peer |
|---|---:|---:|---:|
| submissions per second | ${tgR.rps.toFixed(0)} | ${peerR.rps.toFixed(0)} | ${(tgR.rps / peerR.rps).toFixed(2)}x |
| latency p50 | ${tgR.p50.toFixed(2)} ms | ${peerR.p50.toFixed(2)} ms | |
| latency p99 | ${tgR.p99.toFixed(2)} ms | ${peerR.p99.toFixed(2)} ms | |
| answers other than 202 | ${tgR.non202} | ${peerR.non202} | |
| RSS after the submissions | ${mib(rssAfterSubmit)} | ${mib(peerRss)} | ${(rssAfterSubmit / peerRss).toFixed(2)}x |

**In flight.** The dispatcher had all ${atProvider} tasks at the provider ${dispatchS.toFixed(1)} s after the last submission, then kept polling them (${polls} polls in the next 30 s, ${(polls / 30).toFixed(0)}/s). With ${live} tasks in flight:

| | tollgate |
|---|---:|
| RSS idle, before anything | ${mib(rssIdle)} |
| RSS with ${N} tasks in flight (the highest of 30 samples, one a second) | ${mib(maxRss)} |
| peak RSS of the whole run (VmHWM) | ${mib(hwm)} |

Goal: ${N.toLocaleString('en-US')} tasks in flight under 100 MB: ${mib(maxRss)}, ${goal}. Memory does not grow with the backlog: the dispatcher works at most 256 tasks at a time and the rest wait in the database. \`tollgate audit\` after the run: exit ${audit.status} (${audit.stdout.split('\n').filter((l) => /task audit/.test(l)).join('')}).

${Number(load.split(' ')[0]) > cpus().length ? '**Warning:** the machine was busy before this run (other work shared its cores), so the rates are lower and noisier than the machine can do.\n\n' : ''}Command: \`meson setup build-release --buildtype=release && ninja -C build-release && node bench/tasks.mjs\` (BENCH_BIN, BENCH_TASKS, BENCH_CONC, BENCH_TG_PORT, BENCH_PEER_PORT to change).
<!-- tasks:end -->`;
    process.stdout.write(`${section}\n`);
    let doc = existsSync(DOC) ? readFileSync(DOC, 'utf8') : '';
    const re = /<!-- tasks:begin[^]*?<!-- tasks:end -->/;
    const mark = '<!-- history: kept by bench/run.sh; add a dated entry below for each run worth keeping -->';
    if (re.test(doc)) doc = doc.replace(re, section);
    else if (doc.includes(mark)) doc = doc.replace(mark, `${mark}\n\n${section}\n`);
    else doc = `${doc.trimEnd()}\n\n${section}\n`;
    writeFileSync(DOC, doc);
  } finally {
    stopAll();
    await ds.close();
    if (!process.env.BENCH_KEEP) rmSync(tmp, { recursive: true, force: true });
    else process.stdout.write(`kept ${tmp}\n`);
  }
}

main().then(() => process.exit(0), (e) => {
  process.stderr.write(`${e.stack ?? e}\n`);
  process.exit(1);
});
