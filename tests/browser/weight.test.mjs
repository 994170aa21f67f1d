// The first visit's weight: what a browser with an empty cache transfers for the landing page's
// HTML, JavaScript and CSS (compressed, as the network events count it: bodies as sent plus
// headers) stays under 100 KB, and the text assets come compressed.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startApp, launchBrowser, newContext, watch, serverTest, policyProblem } from './lib/app.mjs';

const BUDGET = 100 * 1024;

describe('first page weight', () => {
  let app;
  let browser;
  const loads = []; // {url, type, body, headers, encoding, status}
  let watcher;
  let page;

  before(async () => {
    app = await startApp();
    browser = await launchBrowser();
    const ctx = await newContext(browser, app);
    page = await ctx.newPage();
    watcher = await watch(page);
    page.on('requestfinished', async (req) => {
      const res = await req.response();
      const sizes = await req.sizes();
      loads.push({
        url: req.url(),
        type: req.resourceType(),
        body: sizes.responseBodySize,
        headers: sizes.responseHeadersSize,
        encoding: res ? (await res.allHeaders())['content-encoding'] || 'identity' : 'none',
        status: res ? res.status() : 0,
      });
    });
    await page.goto(app.base + '/', { waitUntil: 'networkidle' });
    await page.locator('main h1').waitFor();
    await page.waitForTimeout(300);
  });
  after(async () => {
    await browser?.close();
    await app?.stop();
  });

  const counted = () => loads.filter((l) => ['document', 'script', 'stylesheet'].includes(l.type));
  const table = (xs) => xs.map((l) => `  ${l.type.padEnd(10)} ${String(l.body + l.headers).padStart(7)} B (${l.encoding}) ${l.url}`).join('\n');

  it('the landing page comes with a strict CSP and loads without violation, uncaught error or 5xx', () => {
    assert.equal(policyProblem(watcher.currentPolicy()), null);
    assert.deepEqual(watcher.since(), { csp: [], errors: [], server: [] });
    assert.ok(counted().some((l) => l.type === 'script'), `scripts were loaded:\n${table(loads)}`);
  });

  it('HTML + JS + CSS transferred for the landing page < 100 KB', () => {
    const total = counted().reduce((s, l) => s + l.body + l.headers, 0);
    assert.ok(total < BUDGET, `landing page transferred ${total} B of HTML, JS and CSS (budget ${BUDGET} B):\n${table(counted())}\nother requests:\n${table(loads.filter((l) => !counted().includes(l)))}`);
  });

  it('every HTML, JS and CSS response over 1 KB comes compressed', () => {
    const plain = counted().filter((l) => l.status === 200 && l.body > 1024 && l.encoding === 'identity');
    assert.deepEqual(plain.map((l) => `${l.url} (${l.body} B)`), []);
  });

  it('a reload (pages revalidated: 304) still runs the page under its policy', async () => {
    const mark = watcher.mark();
    const seen = app.srv.logLines().length;
    await page.reload({ waitUntil: 'networkidle' });
    await page.locator('main h1').waitFor();
    const revalidated = app.srv.logLines().slice(seen).filter((l) => l.event === 'http' && l.status === 304);
    assert.ok(revalidated.some((l) => l.path === '/'), `the document was revalidated (304): ${revalidated.map((l) => l.path)}`);
    assert.deepEqual(watcher.since(mark), { csp: [], errors: [], server: [] });
    assert.equal(policyProblem(watcher.currentPolicy()), null);
  });

  serverTest(() => app);
});
