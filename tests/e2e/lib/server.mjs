// Starts the real tollgate binary for end-to-end tests and talks to it over HTTP.
//
// Every test file starts its own server (fresh TG_DATA_DIR, free port, known JWT secret)
// and ends with `invariantTest(...)`, which stops it with SIGTERM and checks what must hold
// for every request of the file: exit code 0, no 5xx, security headers everywhere, the error
// envelope on every 4xx, JSON log lines, and no password, token or API key in the logs.
// The only 5xx allowed are 503 from GET /ready and 503 from a request sent with
// {expect503: true} (tests that make the server unavailable on purpose).

import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import net from 'node:net';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { it } from 'node:test';
import { SignJWT } from 'jose';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '../../..');
export const BIN = process.env.TOLLGATE_BIN
  ? path.resolve(process.env.TOLLGATE_BIN)
  : path.join(repoRoot, 'build', 'tollgate');

/** The JWT secret every test server gets, so tests can forge tokens with jose. */
export const JWT_SECRET = 'e2e-secret-0123456789abcdef-0123456789abcdef';
export const JWT_KEY = new TextEncoder().encode(JWT_SECRET);

/** Generous limits for servers that do not test rate limiting (headers still present). */
export const LOOSE_LIMITS = 'api_query=100000/60s,auth_ip=100000/60s,auth_account=100000/15m,register_ip=100000/1h,register_global=100000/1m,auth_fail=100000/1m,mail_address=100000/1h';

export const SECURITY_HEADERS = [
  'content-security-policy',
  'strict-transport-security',
  'x-frame-options',
  'x-content-type-options',
  'referrer-policy',
];

const ID_RE = (p) => new RegExp(`^${p}_[0-9A-HJKMNP-TV-Z]{26}$`);
export const USER_ID_RE = ID_RE('usr');

/** A free TCP port on 127.0.0.1 (bind port 0, read it, close). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** process.env without any TG_ variable (an unknown one is a start-up error). */
function baseEnv() {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('TG_')) env[k] = v;
  return env;
}

/** GET /health on a fresh connection that is closed afterwards; the status or null. */
function probeHealth(port) {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/health', agent: false, timeout: 1000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
      res.on('error', () => resolve(null));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(null));
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let uniq = 0;
/** A unique, valid email address. */
export function uniqueEmail(tag = 'user') {
  uniq += 1;
  return `${tag}.${process.pid}.${uniq}.${randomBytes(3).toString('hex')}@example.test`;
}
export function strongPassword() {
  return `Pw-${randomBytes(9).toString('base64url')}!`;
}

/** Runs the binary synchronously (CLI subcommands). */
export function runCli(args, { env = {}, timeout = 30000, input } = {}) {
  const full = Object.fromEntries(Object.entries({ ...baseEnv(), ...env }).filter(([, v]) => v !== undefined));
  const r = spawnSync(BIN, args, { env: full, timeout, input, encoding: 'utf8' });
  return { code: r.status, signal: r.signal, stdout: r.stdout ?? '', stderr: r.stderr ?? '', error: r.error };
}

/** Runs the binary and waits for it to exit by itself (start-up errors). */
export function runUntilExit(args, env, timeoutMs = 10000) {
  return new Promise((resolve, reject) => {
    const full = Object.fromEntries(Object.entries({ ...baseEnv(), ...env }).filter(([, v]) => v !== undefined));
    const p = spawn(BIN, args, { env: full, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    const t = setTimeout(() => {
      p.kill('SIGKILL');
      reject(new Error(`tollgate ${args.join(' ')} did not exit within ${timeoutMs} ms; stderr:\n${stderr}`));
    }, timeoutMs);
    p.on('exit', (code, signal) => {
      clearTimeout(t);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

export class Server {
  constructor(opts = {}) {
    this.opts = opts;
    this.dataDir = opts.dataDir ?? mkdtempSync(path.join(tmpdir(), 'tollgate-e2e-'));
    this.ownsDataDir = !opts.dataDir;
    this.stderr = '';
    this.stdout = '';
    /** Strings that must never appear in the logs (passwords, tokens, keys). */
    this.secrets = new Set();
    /** Problems seen on responses, checked by invariantTest(). */
    this.violations = [];
    this.requests = 0;
    this.exit = null;
  }

  /** Environment for the server and for CLI subcommands against the same data. */
  env() {
    return {
      TG_DATA_DIR: this.dataDir,
      TG_LISTEN: `127.0.0.1:${this.port}`,
      TG_WORKERS: '2',
      TG_JWT_SECRET: JWT_SECRET,
      TG_RATE_LIMITS: LOOSE_LIMITS,
      ...(this.opts.env ?? {}),
    };
  }

  async start() {
    this.port = this.port ?? (await freePort());
    this.url = `http://127.0.0.1:${this.port}`;
    this.stderr = '';
    this.exit = null;
    const env = Object.fromEntries(Object.entries({ ...baseEnv(), ...this.env() }).filter(([, v]) => v !== undefined));
    this.proc = spawn(BIN, ['serve', ...(this.opts.args ?? [])], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc.stdout.on('data', (d) => (this.stdout += d));
    this.proc.stderr.on('data', (d) => (this.stderr += d));
    this.exited = new Promise((resolve) => {
      this.proc.on('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
      this.proc.on('error', (err) => {
        this.exit = { code: null, signal: null, error: err };
        resolve(this.exit);
      });
    });
    const deadline = Date.now() + 15000;
    for (;;) {
      if (this.exit) {
        throw new Error(`tollgate serve exited during start-up (${JSON.stringify(this.exit)}); bin=${BIN}\nstderr:\n${this.stderr}`);
      }
      // node:http without an agent (Connection: close): no pooled socket is left behind.
      if ((await probeHealth(this.port)) === 200) break;
      if (Date.now() > deadline) {
        this.proc.kill('SIGKILL');
        throw new Error(`tollgate serve did not answer /health within 15 s; bin=${BIN}\nstderr:\n${this.stderr}`);
      }
      await sleep(50);
    }
    return this;
  }

  /** SIGTERM, wait for the exit (SIGKILL after timeoutMs). Returns {code, signal}. */
  async stop(timeoutMs = 20000) {
    if (!this.proc || this.exit) return this.exit;
    this.proc.kill('SIGTERM');
    const t = setTimeout(() => this.proc.kill('SIGKILL'), timeoutMs);
    const r = await this.exited;
    clearTimeout(t);
    return r;
  }

  /**
   * SIGKILL (a crash: no graceful shutdown, nothing flushed by the process) and waits until
   * the process is gone and its output pipes are drained. Returns {code, signal}. The killed
   * process's stderr moves to killedStderr (still scanned for leaked secrets by
   * invariantTest; not parsed as JSON: its last line may be cut), and the request count
   * starts again at 0, because a killed process cannot be held to one access-log line per
   * request; start() may then run the server again on the same data folder and port.
   */
  async kill9() {
    assert.ok(this.proc && !this.exit, 'kill9: the server is not running');
    const proc = this.proc;
    const closed = new Promise((resolve) => proc.once('close', resolve));
    proc.kill('SIGKILL');
    const ex = await this.exited;
    await closed;
    this.killedStderr = (this.killedStderr ?? '') + this.stderr;
    this.stderr = '';
    this.requests = 0;
    return ex;
  }

  cleanup() {
    if (this.proc && !this.exit) this.proc.kill('SIGKILL');
    if (this.ownsDataDir && !process.env.TOLLGATE_E2E_KEEP) rmSync(this.dataDir, { recursive: true, force: true });
  }

  /** Runs a CLI subcommand against this server's data folder. */
  cli(args, opts = {}) {
    return runCli(args, { ...opts, env: { ...this.env(), ...(opts.env ?? {}) } });
  }

  /**
   * One HTTP request. opts: json (serialized, content-type set), body (raw), token,
   * headers, expectError (skip nothing; just documentation), expect503 (this request may
   * answer 503 without breaking the no-5xx invariant: for tests that make the server
   * unavailable on purpose; the 503 must still carry the error envelope, and any other 5xx
   * is still a violation). Returns {status, headers, text, body (parsed JSON or null)}.
   */
  async req(method, urlPath, opts = {}) {
    const headers = { ...(opts.headers ?? {}) };
    if (opts.token !== undefined) headers.authorization = `Bearer ${opts.token}`;
    let body = opts.body;
    if (opts.json !== undefined) {
      body = JSON.stringify(opts.json);
      if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json';
      this.scanSecrets(opts.json);
    }
    this.requests += 1;
    const res = await fetch(this.url + urlPath, { method, headers, body, redirect: 'manual' });
    const text = await res.text();
    let parsed = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      parsed = null;
    }
    const r = { status: res.status, headers: res.headers, text, body: parsed, method, path: urlPath, expect503: opts.expect503 === true };
    this.observe(r);
    if (parsed && typeof parsed === 'object') this.scanSecrets(parsed);
    return r;
  }

  get(p, o) { return this.req('GET', p, o); }
  post(p, json, o = {}) { return this.req('POST', p, { ...o, json }); }
  patch(p, json, o = {}) { return this.req('PATCH', p, { ...o, json }); }
  del(p, o) { return this.req('DELETE', p, o); }

  /** Records invariant violations of one response (checked at the end of each file). */
  observe(r) {
    const where = `${r.method} ${r.path} -> ${r.status}`;
    if (r.status >= 500 && !(r.status === 503 && (r.path === '/ready' || r.expect503))) this.violations.push(`${where}: 5xx answer ${r.text.slice(0, 300)}`);
    for (const h of SECURITY_HEADERS) if (!r.headers.get(h)) this.violations.push(`${where}: security header ${h} missing`);
    if (!r.headers.get('x-request-id')) this.violations.push(`${where}: X-Request-Id missing`);
    if (r.status >= 400) {
      const problem = errorShapeProblem(r);
      if (problem) this.violations.push(`${where}: ${problem}`);
    }
  }

  /** Adds passwords, tokens and keys found in a request/response body to the secret set. */
  scanSecrets(obj) {
    if (!obj || typeof obj !== 'object') return;
    for (const [k, v] of Object.entries(obj)) {
      if (typeof v === 'string' && /password|token|^key$|secret/i.test(k) && k !== 'token_type' && v.length >= 8) this.secrets.add(v);
      else if (v && typeof v === 'object') this.scanSecrets(v);
    }
  }

  /** Parsed stderr lines (every line must be JSON); throws listing the first bad line. */
  logLines() {
    const out = [];
    let text = this.stderr;
    // LeakSanitizer's "Suppressions used" summary (sanitizer builds) is information, not a
    // finding; any real sanitizer report still fails below.
    text = text.replace(/^-{20,}\nSuppressions used:\n(?: +count +bytes +template\n)?(?: +\d+ +\d+ +\S+\n)+-{20,}\n/m, '');
    const lines = text.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i];
      if (!line.trim()) continue;
      try {
        out.push(JSON.parse(line));
      } catch {
        // Show what follows too: sanitizer reports and assertion messages span many lines.
        const rest = lines.slice(i).filter((l) => !l.startsWith('{"ts"')).join('\n');
        throw new Error(`stderr line is not JSON: ${line.slice(0, 300)}\n${rest.slice(0, 4000)}`);
      }
    }
    return out;
  }

  // ---- accounts ----

  /** Registers a user; returns the 201 body plus email and password. */
  async register(opts = {}) {
    const email = opts.email ?? uniqueEmail(opts.tag);
    const password = opts.password ?? strongPassword();
    const json = { email, password };
    if (opts.display_name !== undefined) json.display_name = opts.display_name;
    const r = await this.post('/api/v1/auth/register', json);
    assert.equal(r.status, 201, `register ${email}: ${r.status} ${r.text}`);
    return { ...r.body, email: r.body.user.email, password, token: r.body.access_token, id: r.body.user.id };
  }

  async login(email, password) {
    const r = await this.post('/api/v1/auth/login', { email, password });
    assert.equal(r.status, 200, `login ${email}: ${r.status} ${r.text}`);
    return { ...r.body, token: r.body.access_token, id: r.body.user.id, email, password };
  }

  /**
   * Creates an admin with the CLI (`tollgate admin create`) and signs it in. With
   * {login: false} no HTTP sign-in happens (rate-limit tests): the token is forged with jose.
   */
  async admin({ login = true } = {}) {
    const email = uniqueEmail('admin');
    const password = strongPassword();
    this.secrets.add(password);
    const pwFile = path.join(this.dataDir, `admin-pw-${randomBytes(4).toString('hex')}`);
    writeFileSync(pwFile, `${password}\n`, { mode: 0o600 });
    const r = this.cli(['admin', 'create', '--email', email, '--password-file', pwFile, '--role', 'admin']);
    rmSync(pwFile, { force: true });
    assert.equal(r.code, 0, `tollgate admin create failed (${r.code}): ${r.stderr}`);
    const m = r.stdout.match(/usr_[0-9A-Z]{26}/);
    assert.ok(m, `tollgate admin create printed no user id: ${JSON.stringify(r.stdout)}`);
    if (!login) {
      const token = await forgeAccessToken(m[0], 'admin');
      this.secrets.add(token);
      return { id: m[0], email, password, token, user: { id: m[0], email, role: 'admin' } };
    }
    const s = await this.login(email, password);
    assert.equal(s.id, m[0], 'admin create printed the id of the user that signs in');
    assert.equal(s.user.role, 'admin');
    return s;
  }

  /** Admin credit adjustment (opts: bucket, reason, idempotencyKey, expect503); returns the response. */
  adjust(adminToken, userId, delta, opts = {}) {
    const json = { delta, bucket: opts.bucket ?? 'paid', reason: opts.reason ?? 'e2e adjustment' };
    const headers = {};
    if (opts.idempotencyKey) headers['idempotency-key'] = opts.idempotencyKey;
    return this.post(`/api/v1/admin/users/${userId}/credits`, json, { token: adminToken, headers, expect503: opts.expect503 });
  }
}

/** An access token as the server would issue it, signed with jose and the test secret. */
export function forgeAccessToken(sub, role = 'user', ttl = 900, ep = 0) {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ sub, role, typ: 'access', ep, iat: now, exp: now + ttl, jti: randomBytes(12).toString('hex') })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .sign(JWT_KEY);
}

/** What is wrong with an error response's envelope, or null. */
export function errorShapeProblem(r) {
  const b = r.body;
  if (!b || typeof b !== 'object' || Array.isArray(b)) return `error body is not a JSON object: ${r.text.slice(0, 200)}`;
  const ct = r.headers.get('content-type') ?? '';
  if (!ct.startsWith('application/json')) return `error content-type is ${ct}`;
  const keys = Object.keys(b).sort().join(',');
  if (keys !== 'error,request_id') return `error body keys are ${keys}`;
  const e = b.error;
  if (!e || typeof e !== 'object') return 'error is not an object';
  if (typeof e.code !== 'string' || typeof e.message !== 'string') return 'error.code/message not strings';
  if (!e.details || typeof e.details !== 'object' || Array.isArray(e.details)) return 'error.details is not an object';
  if (Object.keys(e).sort().join(',') !== 'code,details,message') return `error keys are ${Object.keys(e)}`;
  if (STATUS_OF_CODE[e.code] === undefined) return `error code ${e.code} is not in the catalogue`;
  if (STATUS_OF_CODE[e.code] !== r.status) return `error code ${e.code} belongs to ${STATUS_OF_CODE[e.code]}, not ${r.status}`;
  if (typeof b.request_id !== 'string' || !b.request_id) return 'request_id missing';
  if (r.headers.get('x-request-id') !== b.request_id) return `X-Request-Id ${r.headers.get('x-request-id')} != request_id ${b.request_id}`;
  return null;
}

/**
 * The error catalogue, read from src/core/errors.def (the one list the server is built
 * from): code -> HTTP status.
 */
export const STATUS_OF_CODE = Object.fromEntries(
  [...readFileSync(new URL('../../../src/core/errors.def', import.meta.url), 'utf8').matchAll(/^X\(\s*\w+,\s*"([a-z_]+)",\s*(\d{3}),/gm)]
    .map((m) => [m[1], Number(m[2])]),
);

/** Asserts r is the catalogue error `code` with the envelope. */
export function assertError(r, status, code, msg = '') {
  const ctx = `${msg ? msg + ': ' : ''}${r.method} ${r.path}: got ${r.status} ${r.text.slice(0, 300)}`;
  assert.equal(r.status, status, ctx);
  const problem = errorShapeProblem(r);
  assert.equal(problem, null, ctx);
  if (code) assert.equal(r.body.error.code, code, ctx);
}

/** Asserts a status with the response text in the message. */
export function assertStatus(r, status, msg = '') {
  assert.equal(r.status, status, `${msg ? msg + ': ' : ''}${r.method} ${r.path}: got ${r.status} ${r.text.slice(0, 400)}`);
}

/**
 * Defines the last test of a file: stops the server with SIGTERM and checks the invariants
 * collected over every request (exit 0, no 5xx, security headers, error envelopes, logs).
 */
export function invariantTest(getServer, opts = {}) {
  it('server invariants: exit 0 on SIGTERM, no 5xx, security headers, error envelopes, clean JSON logs', async () => {
    const srv = getServer();
    assert.ok(srv, 'server was started');
    const ex = await srv.stop();
    assert.deepEqual({ code: ex.code, signal: ex.signal }, { code: 0, signal: null }, `exit status; stderr tail:\n${srv.stderr.slice(-2000)}`);
    assert.deepEqual(srv.violations, [], 'invariant violations');
    const lines = srv.logLines();
    const http = lines.filter((l) => l.event === 'http');
    if (!opts.allowFewAccessLines) {
      assert.ok(http.length >= srv.requests, `one access-log line (event "http") per request: ${http.length} lines for ${srv.requests} requests`);
    }
    const leaks = [];
    const allStderr = (srv.killedStderr ?? '') + srv.stderr;
    for (const s of srv.secrets) if (allStderr.includes(s)) leaks.push(s.slice(0, 12) + '...');
    assert.deepEqual(leaks, [], 'passwords, tokens or API keys found in the logs');
    srv.cleanup();
  });
}

/** Starts a server for a test file; returns a getter. Use with before(). */
export async function startServer(opts = {}) {
  const srv = new Server(opts);
  await srv.start();
  return srv;
}

export { existsSync };
