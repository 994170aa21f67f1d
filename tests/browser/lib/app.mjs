// The browser suite's harness: the real tollgate binary (through tests/e2e/lib/server.mjs:
// its own data folder, port and sandbox providers) serving the web UI at /, and Debian's
// chromium driven by playwright-core.
//
// The one place the UI's address comes from is `app.base`: by default the binary itself
// (what ships). TOLLGATE_WEB_DEV=1 puts web/dev.mjs in front of the binary instead (the UI
// straight from web/, for working on pages); the binary's own answers are still checked.
//
// Environment: TOLLGATE_BIN (the binary, as for tests/e2e), CHROMIUM_BIN (/usr/bin/chromium),
// TOLLGATE_BROWSER_ARTIFACTS (screenshots; default <TOLLGATE_BIN's folder>/browser-artifacts),
// TOLLGATE_WEB_DEV=1 (see above).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { it } from 'node:test';
import { chromium } from 'playwright-core';
import { Server, BIN, LOOSE_LIMITS, freePort, repoRoot, sleep } from '../../e2e/lib/server.mjs';

export { repoRoot, sleep, BIN };
export const HERE = path.dirname(fileURLToPath(import.meta.url));
export const WEB = path.join(repoRoot, 'web');
export const DEV = process.env.TOLLGATE_WEB_DEV === '1';
export const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
export const ARTIFACTS = path.resolve(process.env.TOLLGATE_BROWSER_ARTIFACTS || path.join(path.dirname(BIN), 'browser-artifacts'));

/** Limits loose enough for a browser walking through every page (payments and videos too). */
export const LIMITS = `${LOOSE_LIMITS},payment=100000/1h,video=100000/1h`;

/** GET url on a fresh connection: {status, type} or null when nothing answers. */
async function probe(url) {
  try {
    const r = await fetch(url, { headers: { connection: 'close' } });
    await r.arrayBuffer();
    return { status: r.status, type: r.headers.get('content-type') || '' };
  } catch {
    return null;
  }
}

/**
 * Starts tollgate with opts.env on top of the suite's defaults (sandbox providers, loose limits,
 * TG_PUBLIC_URL = the UI's address, so mail links, checkouts and returns come back to it).
 * Returns {srv, base, stop()}; srv is the e2e Server (srv.req, srv.register, srv.admin, srv.cli).
 */
export async function startApp({ env = {} } = {}) {
  const srv = new Server({ env: {} });
  srv.port = await freePort();
  const devPort = DEV ? await freePort() : null;
  const base = `http://127.0.0.1:${DEV ? devPort : srv.port}`;
  srv.opts.env = {
    TG_PUBLIC_URL: base,
    TG_SANDBOX: 'on',
    TG_RATE_LIMITS: LIMITS,
    TG_SIGNUP_CREDITS_REQUIRE_VERIFIED: 'off',
    ...env,
  };
  await srv.start();
  const app = { srv, base, dev: null };
  // Stops both (again: a no-op); resolves to tollgate's exit {code, signal}.
  app.stop = async () => {
    if (app.dev && app.dev.exitCode === null && app.dev.signalCode === null) {
      const gone = new Promise((r) => app.dev.once('exit', r));
      app.dev.kill('SIGTERM');
      await gone;
    }
    const ex = await srv.stop();
    srv.cleanup();
    return ex;
  };
  try {
    if (DEV) {
      app.dev = spawn(process.execPath, [path.join(WEB, 'dev.mjs'), String(devPort)], {
        env: { ...process.env, TOLLGATE_URL: srv.url },
        stdio: ['ignore', 'ignore', 'inherit'],
      });
      const deadline = Date.now() + 10000;
      while (!(await probe(base + '/'))) {
        if (Date.now() > deadline || app.dev.exitCode !== null) throw new Error('web/dev.mjs did not start');
        await sleep(50);
      }
    }
    const home = await probe(base + '/');
    if (!home || home.status !== 200 || !home.type.startsWith('text/html')) {
      throw new Error(`the web UI is not served at ${base}/ (GET / answered ${home ? `${home.status} ${home.type}` : 'nothing'}); ` +
        `bin=${BIN}`);
    }
  } catch (e) {
    await app.stop();
    throw e;
  }
  return app;
}

/** Launches Debian's chromium, headless (--no-sandbox only when running as root). */
export async function launchBrowser() {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: scripts/deps.sh test installs Debian's chromium (or set CHROMIUM_BIN)`);
  }
  const args = [];
  if (typeof process.getuid === 'function' && process.getuid() === 0) args.push('--no-sandbox');
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args });
}

export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 375, height: 812 };

/**
 * A browser context on the app: opts.viewport, opts.region ('CN' sends X-User-Region: CN on
 * every request, as a trusted proxy would), opts.locale (navigator.language, default en-US).
 */
export async function newContext(browser, app, { viewport = DESKTOP, region, locale = 'en-US' } = {}) {
  const ctx = await browser.newContext({
    baseURL: app.base,
    viewport,
    locale,
    extraHTTPHeaders: region ? { 'X-User-Region': region } : undefined,
  });
  // Every step here takes well under a second; a missing control fails in 10 s, not 30.
  ctx.setDefaultTimeout(10000);
  return ctx;
}

/**
 * Watches a page for what must never happen on any page: a CSP violation (the
 * securitypolicyviolation event and the console's report of one), an uncaught exception, a
 * 5xx answer. watcher.problems() lists them; watcher.assertClean(label) throws with the list.
 */
export async function watch(page) {
  const csp = [];
  const errors = [];
  const server = [];
  const documents = []; // {url, csp}: the policy each document of the main frame came with
  await page.exposeBinding('__tgCspViolation', (_src, v) => csp.push(`securitypolicyviolation: ${v}`));
  await page.addInitScript(() => {
    document.addEventListener(
      'securitypolicyviolation',
      (e) => window.__tgCspViolation(`${e.violatedDirective} blocked ${e.blockedURI || '(inline)'} at ${e.sourceFile || ''}:${e.lineNumber || 0} ${e.sample || ''}`),
      true,
    );
  });
  page.on('console', (m) => {
    if (/Content[ -]Security[ -]Policy/i.test(m.text())) csp.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => errors.push(`uncaught: ${e.message}`));
  page.on('response', (r) => {
    if (r.status() >= 500) server.push(`${r.request().method()} ${r.url()} -> ${r.status()}`);
    // A redirect is not rendered: its policy does not matter.
    if (r.request().resourceType() === 'document' && r.frame() === page.mainFrame() && (r.status() < 300 || r.status() >= 400)) {
      documents.push({ url: r.url(), csp: r.headers()['content-security-policy'] ?? null });
    }
  });
  return {
    csp,
    errors,
    server,
    documents,
    /** policyProblem() of every document loaded from base (none: every one had a strict CSP). */
    policyProblems(base) {
      return documents.filter((d) => d.url.startsWith(base + '/')).map((d) => [d.url, policyProblem(d.csp)]).filter((x) => x[1]);
    },
    /** The policy of the document now shown (null: it came without one). */
    currentPolicy() {
      return documents.length ? documents.at(-1).csp : null;
    },
    mark() {
      return { csp: csp.length, errors: errors.length, server: server.length };
    },
    /** What went wrong since mark m (or ever). */
    since(m = { csp: 0, errors: 0, server: 0 }) {
      return { csp: csp.slice(m.csp), errors: errors.slice(m.errors), server: server.slice(m.server) };
    },
  };
}

/** A PNG of the whole page under the artifacts folder; returns its path. */
export async function shot(page, name) {
  mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, `${name.replace(/[^A-Za-z0-9._-]+/g, '_')}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/**
 * Runs fn(); when it throws, saves a screenshot of page named after the test and adds its path
 * (and the page's URL) to the error message.
 */
export async function onFailureShot(page, name, fn) {
  try {
    return await fn();
  } catch (e) {
    let where = '';
    try {
      where = `\n  page: ${page.url()}\n  screenshot: ${await shot(page, `FAILED-${name}`)}`;
    } catch (s) {
      where = `\n  (no screenshot: ${s.message})`;
    }
    e.message += where;
    throw e;
  }
}

/**
 * Goes to an app path inside the running app (History API + popstate, as a click on a link
 * does), so the session held in memory stays; a page not yet on the app is loaded.
 */
export async function go(page, app, to) {
  const url = page.url();
  if (!url.startsWith(app.base + '/')) {
    await page.goto(app.base + to);
    return;
  }
  await page.evaluate((p) => {
    history.pushState(null, '', p);
    window.dispatchEvent(new PopStateEvent('popstate'));
  }, to);
}

/**
 * The last test of a file: stops tollgate and checks what the browser's requests did to it -
 * exit 0 on SIGTERM, every stderr line JSON, and no 5xx in its access log (every request the
 * pages made, not only the ones a test looked at).
 */
export function serverTest(getApp) {
  it('tollgate: no 5xx in its access log, JSON logs, exit 0 on SIGTERM', async () => {
    const app = getApp();
    assert.ok(app, 'the server was started');
    const ex = await app.stop();
    assert.deepEqual({ code: ex.code, signal: ex.signal }, { code: 0, signal: null }, `exit status; stderr tail:\n${app.srv.stderr.slice(-2000)}`);
    const lines = app.srv.logLines();
    const bad = lines.filter((l) => l.event === 'http' && l.status >= 500).map((l) => `${l.method} ${l.path} -> ${l.status}`);
    assert.deepEqual(bad, []);
    assert.ok(lines.some((l) => l.event === 'http'), 'the access log has lines');
  });
}

/**
 * What is wrong with a document's CSP for the app: missing, or letting in inline script,
 * eval or another origin's script. Null when it holds.
 */
export function policyProblem(csp) {
  if (!csp) return 'the document came without a Content-Security-Policy header';
  const dirs = Object.fromEntries(csp.split(';').map((d) => d.trim().split(/\s+/)).filter((d) => d[0]).map((d) => [d[0].toLowerCase(), d.slice(1)]));
  const script = dirs['script-src'] ?? dirs['default-src'];
  if (!script) return `no script-src or default-src in "${csp}"`;
  const bad = script.filter((v) => v !== "'self'" && v !== "'none'");
  if (bad.length) return `script-src allows ${bad.join(' ')} in "${csp}"`;
  const object = dirs['object-src'] ?? dirs['default-src'];
  if (!object || object.join(' ') !== "'none'") return `object-src is not 'none' in "${csp}"`;
  return null;
}
