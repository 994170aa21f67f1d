// Process lifecycle: graceful shutdown with requests in flight, start-up configuration
// errors, restart with the same data folder, and the CLI subcommands.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtempSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { Server, startServer, invariantTest, assertError, assertStatus, runCli, runUntilExit, freePort, JWT_SECRET, uniqueEmail, strongPassword, sleep } from './lib/server.mjs';
import { readOutbox, tokenOf } from './lib/mail.mjs';

const tmp = () => mkdtempSync(path.join(tmpdir(), 'tollgate-e2e-'));

/** POST with node:http on a given agent; resolves {status, body, at}. */
function postJson(port, agent, urlPath, json) {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify(json);
    const req = http.request({ host: '127.0.0.1', port, path: urlPath, method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode, text, at: Date.now() }));
    });
    req.on('error', reject);
    req.end(body);
  });
}
function getVia(port, agent, urlPath) {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: urlPath, agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    }).on('error', reject);
  });
}

describe('graceful shutdown', () => {
  it('SIGTERM while sign-ins are hashing: every one completes with 200, exit code 0', async () => {
    const srv = await startServer();
    try {
      const users = [];
      for (let i = 0; i < 2; i++) users.push(await srv.register({ tag: 'sigterm' }));
      // Open the connections first so that the requests below are on accepted sockets.
      const agents = Array.from({ length: 4 }, () => new http.Agent({ keepAlive: true, maxSockets: 1 }));
      for (const a of agents) assert.equal(await getVia(srv.port, a, '/health'), 200);
      const inflight = agents.map((a, i) => postJson(srv.port, a, '/api/v1/auth/login', { email: users[i % 2].email, password: users[i % 2].password }));
      await sleep(25); // requests read by the server; argon2id running on the blocking pool
      const termAt = Date.now();
      srv.proc.kill('SIGTERM');
      const results = await Promise.all(inflight);
      for (const r of results) assert.equal(r.status, 200, `in-flight login: ${r.status} ${r.text.slice(0, 200)}`);
      assert.ok(results.some((r) => r.at >= termAt), 'at least one sign-in finished after SIGTERM (the test really had work in flight)');
      const ex = await srv.exited;
      assert.deepEqual({ code: ex.code, signal: ex.signal }, { code: 0, signal: null }, srv.stderr.slice(-2000));
      for (const a of agents) a.destroy();
      // New connections are refused once it is gone.
      await assert.rejects(fetch(`${srv.url}/health`));
    } finally {
      srv.cleanup();
    }
  });

  it('SIGTERM closes idle keep-alive connections instead of waiting for them (exit within 2 s)', async () => {
    const srv = await startServer();
    try {
      const { default: net } = await import('node:net');
      const sock = net.connect(srv.port, '127.0.0.1');
      await new Promise((resolve) => sock.on('connect', resolve));
      sock.on('error', () => {});
      sock.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
      await new Promise((resolve) => sock.once('data', resolve));
      const closed = new Promise((resolve) => sock.on('close', resolve));
      const t0 = Date.now();
      srv.proc.kill('SIGTERM');
      const ex = await Promise.race([srv.exited, sleep(15000).then(() => null)]);
      const took = Date.now() - t0;
      assert.ok(ex, 'exited');
      assert.deepEqual({ code: ex.code, signal: ex.signal }, { code: 0, signal: null });
      await closed;
      assert.ok(took < 2000, `exit took ${took} ms with one idle keep-alive connection open`);
    } finally {
      srv.cleanup();
    }
  });

  it('SIGTERM on an idle server exits 0 promptly; SIGINT too', async () => {
    for (const sig of ['SIGTERM', 'SIGINT']) {
      const srv = await startServer();
      const t0 = Date.now();
      srv.proc.kill(sig);
      const ex = await srv.exited;
      assert.deepEqual({ code: ex.code, signal: ex.signal }, { code: 0, signal: null }, `${sig}: ${srv.stderr.slice(-1000)}`);
      assert.ok(Date.now() - t0 < 5000, `${sig}: exited in ${Date.now() - t0} ms`);
      srv.cleanup();
    }
  });
});

describe('start-up configuration errors', () => {
  const base = async (dir) => ({ TG_DATA_DIR: dir, TG_JWT_SECRET: JWT_SECRET, TG_LISTEN: `127.0.0.1:${await freePort()}` });

  it('a second tollgate on a port already served refuses to start (SO_REUSEPORT would let it share the port silently)', async () => {
    const srv = await startServer();
    const dir = tmp();
    try {
      const r = await runUntilExit(['serve'], { ...(await base(dir)), TG_LISTEN: `127.0.0.1:${srv.port}` });
      assert.equal(r.code, 1, `exit ${r.code} ${r.signal}; stderr: ${r.stderr.slice(0, 500)}`);
      assert.match(r.stderr, new RegExp(`127\\.0\\.0\\.1:${srv.port} is already in use`));
      // The first one still answers every request (none went to a half-started second one).
      for (let i = 0; i < 20; i++) assertStatus(await srv.get('/health'), 200);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await srv.stop();
    }
  });

  it('an unknown TG_ variable -> exit 2 with a message naming it', async () => {
    const dir = tmp();
    try {
      const r = await runUntilExit(['serve'], { ...(await base(dir)), TG_NO_SUCH_SETTING: '1' });
      assert.equal(r.code, 2, `exit ${r.code} ${r.signal}; stderr: ${r.stderr.slice(0, 500)}`);
      assert.match(r.stderr, /TG_NO_SUCH_SETTING/);
      // A typo of a real key.
      const t = await runUntilExit(['serve'], { ...(await base(dir)), TG_WORKER: '2' });
      assert.equal(t.code, 2);
      assert.match(t.stderr, /TG_WORKER\b/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('an unknown key in --config FILE -> exit 2 naming it; known keys from the file are used', async () => {
    const dir = tmp();
    try {
      const cfg = path.join(dir, 'bad.env');
      writeFileSync(cfg, '# comment\nTG_WORKERS=2\nTG_BOGUS_FROM_FILE=yes\n');
      const r = await runUntilExit(['serve', '--config', cfg], await base(dir));
      assert.equal(r.code, 2, `exit ${r.code}; ${r.stderr.slice(0, 300)}`);
      assert.match(r.stderr, /TG_BOGUS_FROM_FILE/);

      const port = await freePort();
      const good = path.join(dir, 'good.env');
      writeFileSync(good, `TG_LISTEN=127.0.0.1:${port}\nTG_SIGNUP_CREDITS=3\nTG_SIGNUP_CREDITS_REQUIRE_VERIFIED=off\n`);
      const srv = new Server({ dataDir: dir, args: ['--config', good], env: { TG_LISTEN: undefined } });
      srv.port = port;
      await srv.start();
      const u = await srv.register({ tag: 'cfg' });
      const c = await srv.get('/api/v1/credits', { token: u.token });
      assert.equal(c.body.available, 3, 'TG_SIGNUP_CREDITS (granted at registration: the rule is off in the file)');
      const ex = await srv.stop();
      assert.equal(ex.code, 0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('invalid values -> exit 2 naming the variable', async () => {
    const dir = tmp();
    try {
      for (const [k, v] of [['TG_JWT_SECRET', 'too-short'], ['TG_WORKERS', 'many'], ['TG_WORKERS', '0'], ['TG_LISTEN', 'not-an-address'], ['TG_MAX_BODY_BYTES', '-1'], ['TG_SIGNUP_CREDITS', 'eight'], ['TG_ACCESS_TOKEN_TTL', '0']]) {
        const r = await runUntilExit(['serve'], { ...(await base(dir)), [k]: v });
        assert.equal(r.code, 2, `${k}=${v}: exit ${r.code}; ${r.stderr.slice(0, 300)}`);
        assert.match(r.stderr, new RegExp(k), `${k}=${v}: message names it`);
        assert.ok(!r.stderr.includes(JWT_SECRET), 'the secret is not echoed');
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('restart with the same data folder (generated JWT secret)', () => {
  let dir;
  before(() => {
    dir = tmp();
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('accounts, credits and sessions survive a restart', async () => {
    const srv = new Server({ dataDir: dir, env: { TG_JWT_SECRET: undefined } });
    await srv.start();
    const u = await srv.register({ tag: 'restart' });
    assert.equal((await srv.stop()).code, 0);
    const files = readdirSync(dir);
    assert.ok(files.length >= 1, `data folder has files: ${files}`);

    const again = new Server({ dataDir: dir, env: { TG_JWT_SECRET: undefined } });
    again.port = srv.port;
    await again.start();
    const me = await again.get('/api/v1/me', { token: u.token });
    assertStatus(me, 200, 'access token signed before the restart (generated secret persisted)');
    assertStatus(await again.post('/api/v1/auth/refresh', { refresh_token: u.refresh_token }), 200);
    // The verification link mailed (to the outbox) before the restart still works after it.
    const mail = readOutbox(dir).find((f) => f.mail && f.mail.header('to') === u.email);
    assert.ok(mail, 'the verification mail is in the outbox');
    const token = tokenOf(mail.mail, 'verify-email');
    again.secrets.add(token);
    assertStatus(await again.post('/api/v1/auth/verify-email', { token }), 200);
    const c = await again.get('/api/v1/credits', { token: u.token });
    assert.equal(c.body.available, 8);
    assert.equal((await again.stop()).code, 0);
    assert.ok(!again.stderr.includes(u.password) && !srv.stderr.includes(u.password));
  });
});

describe('CLI', () => {
  it('version, routes, migrate (idempotent), audit on a fresh folder', () => {
    const v = runCli(['version']);
    assert.equal(v.code, 0);
    assert.match(v.stdout, /\d+\.\d+\.\d+/);
    const routes = runCli(['routes']);
    assert.equal(routes.code, 0, routes.stderr);
    assert.match(routes.stdout, /^GET \/health$/m);
    const dir = tmp();
    try {
      const env = { TG_DATA_DIR: dir, TG_JWT_SECRET: JWT_SECRET };
      const m1 = runCli(['migrate'], { env });
      assert.equal(m1.code, 0, m1.stderr);
      const m2 = runCli(['migrate'], { env });
      assert.equal(m2.code, 0, m2.stderr);
      const a = runCli(['audit'], { env });
      assert.equal(a.code, 0, `${a.stdout}\n${a.stderr}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    // Usage and input errors exit 2 (1 is for failures at run time).
    const bad = runCli(['no-such-command']);
    assert.equal(bad.code, 2, 'an unknown command is a usage error');
  });

  it('admin create: re-running it resets the password (same id); weak or missing passwords are refused', async () => {
    const dir = tmp();
    const srv = new Server({ dataDir: dir });
    try {
      const env = { TG_DATA_DIR: dir, TG_JWT_SECRET: JWT_SECRET };
      const pw = path.join(dir, 'pw');
      const first = strongPassword();
      writeFileSync(pw, `${first}\n`);
      const email = uniqueEmail('cli');
      const ok = runCli(['admin', 'create', '--email', email, '--password-file', pw, '--role', 'admin'], { env });
      assert.equal(ok.code, 0, ok.stderr);
      const id = ok.stdout.match(/usr_[0-9A-Z]{26}/)?.[0];
      assert.ok(id, ok.stdout);
      const second = strongPassword();
      writeFileSync(pw, `${second}\n`);
      const again = runCli(['admin', 'create', '--email', ` ${email.toUpperCase()}`, '--password-file', pw, '--role', 'admin'], { env });
      assert.equal(again.code, 0, again.stderr);
      assert.equal(again.stdout.match(/usr_[0-9A-Z]{26}/)?.[0], id, 'the same (normalized) account');
      writeFileSync(pw, 'short\n');
      const weak = runCli(['admin', 'create', '--email', uniqueEmail('cli'), '--password-file', pw, '--role', 'admin'], { env });
      assert.equal(weak.code, 2, 'weak password refused');
      const missing = runCli(['admin', 'create', '--email', uniqueEmail('cli'), '--password-file', path.join(dir, 'nope'), '--role', 'admin'], { env });
      assert.equal(missing.code, 2, 'missing password file refused');
      const badRole = runCli(['admin', 'create', '--email', uniqueEmail('cli'), '--password-file', path.join(dir, 'nope'), '--role', 'root'], { env });
      assert.equal(badRole.code, 2, 'unknown role refused');
      for (const s of [ok, again, weak, missing]) assert.ok(!s.stdout.includes(first) && !s.stderr.includes(first) && !s.stderr.includes(second), 'passwords are not printed');
      await srv.start();
      assertError(await srv.post('/api/v1/auth/login', { email, password: first }), 401, 'invalid_credentials', 'the old password no longer works');
      const s2 = await srv.login(email, second);
      assert.equal(s2.id, id);
      assert.equal(s2.user.role, 'admin');
      await srv.stop();
    } finally {
      srv.cleanup();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('audit exits 1 when a wallet disagrees with its ledger (needs the sqlite3 tool)', (t) => {
    const has = spawnSync('sqlite3', ['-version'], { encoding: 'utf8' });
    if (has.error || has.status !== 0) {
      t.skip('sqlite3 command-line tool not installed: cannot tamper with the database');
      return;
    }
    const dir = tmp();
    try {
      const env = { TG_DATA_DIR: dir, TG_JWT_SECRET: JWT_SECRET };
      const pw = path.join(dir, 'pw');
      writeFileSync(pw, `${strongPassword()}\n`);
      assert.equal(runCli(['admin', 'create', '--email', uniqueEmail('cli'), '--password-file', pw, '--role', 'admin'], { env }).code, 0);
      assert.equal(runCli(['audit'], { env }).code, 0);
      const db = readdirSync(dir).find((f) => f.endsWith('.db'));
      assert.ok(db, `a .db file in ${readdirSync(dir)}`);
      const s = spawnSync('sqlite3', [path.join(dir, db), 'UPDATE wallets SET paid_credits = paid_credits + 5;'], { encoding: 'utf8' });
      assert.equal(s.status, 0, s.stderr);
      const a = runCli(['audit'], { env });
      assert.equal(a.code, 1, `audit after tampering: ${a.code}\n${a.stdout}\n${a.stderr}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('audit exits 1 when a generation task holds credits it never reserved (needs the sqlite3 tool)', (t) => {
    const has = spawnSync('sqlite3', ['-version'], { encoding: 'utf8' });
    if (has.error || has.status !== 0) {
      t.skip('sqlite3 command-line tool not installed: cannot tamper with the database');
      return;
    }
    const dir = tmp();
    try {
      const env = { TG_DATA_DIR: dir, TG_JWT_SECRET: JWT_SECRET };
      const pw = path.join(dir, 'pw');
      writeFileSync(pw, `${strongPassword()}\n`);
      const made = runCli(['admin', 'create', '--email', uniqueEmail('cli'), '--password-file', pw], { env });
      assert.equal(made.code, 0, made.stderr);
      const userId = made.stdout.trim();
      const clean = runCli(['audit'], { env });
      assert.equal(clean.code, 0, `${clean.stdout}\n${clean.stderr}`);
      assert.match(clean.stdout, /^task audit: 0 violations$/m);
      const db = readdirSync(dir).find((f) => f.endsWith('.db'));
      assert.ok(db, `a .db file in ${readdirSync(dir)}`);
      // A finished task that says it refunded 10 credits the ledger never gave back.
      const sql = `INSERT INTO tasks (id, user_id, kind, provider, model, status, phase, price_unit, unit_credits,
        est_units, reserved, settled, refunded, next_at, deadline_at, created_at, updated_at, finished_at)
        VALUES ('tsk_tampered', '${userId}', 'image', 'sandbox', 'sandbox', 'failed', '', 'task', 10, 1, 10, 0, 10,
        0, 1, 1, 1, 1);`;
      const s = spawnSync('sqlite3', [path.join(dir, db), sql], { encoding: 'utf8' });
      assert.equal(s.status, 0, s.stderr);
      const a = runCli(['audit'], { env });
      assert.equal(a.code, 1, `audit after tampering: ${a.code}\n${a.stdout}\n${a.stderr}`);
      assert.match(a.stdout, /^task audit: 2 violations$/m);
      assert.match(a.stdout, /violation: user \S+: a task whose spend is not its reservation: tsk_tampered/);
      assert.match(a.stdout, /^ledger audit: \d+ wallets? checked, 0 violations$/m);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
