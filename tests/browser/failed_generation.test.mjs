// A generation that fails (submitted through the API with the sandbox's failure outcome,
// docs/GENERATION.md) gives its credits back: the task page says so, and the ledger page shows
// the refund next to the spend, both pointing at the task.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startApp, launchBrowser, newContext, watch, onFailureShot, shot, go, serverTest } from './lib/app.mjs';
import { T } from './lib/i18n.mjs';
import { signIn, eventually, num } from './lib/flows.mjs';

const LANG = 'en-US';
const t = T(LANG);

describe('a failed generation is refunded, and the ledger page shows it', () => {
  let app;
  let browser;
  let page;
  let watcher;
  let user;
  let task;

  before(async () => {
    app = await startApp({ env: { TG_GEN_SANDBOX_DELAY_MS: '200', TG_SIGNUP_CREDITS: '20' } });
    user = await app.srv.register({ tag: 'failgen' });
    const r = await app.srv.post('/api/v1/tasks',
      { kind: 'image', prompt: 'a red bicycle', provider: 'sandbox', sandbox: { outcome: 'fail' } }, { token: user.token });
    assert.equal(r.status, 202, r.text);
    task = await eventually(async () => {
      const x = (await app.srv.get(`/api/v1/tasks/${r.body.id}`, { token: user.token })).body;
      return x.status === 'failed' ? x : null;
    }, 'the sandbox task failed');
    assert.ok(task.cost.refunded > 0, `the failed task was refunded: ${JSON.stringify(task.cost)}`);
    browser = await launchBrowser();
    page = await (await newContext(browser, app)).newPage();
    watcher = await watch(page);
  });
  after(async () => {
    await browser?.close();
    await app?.stop();
  });

  it('the task page shows the failure and the credits given back', () => onFailureShot(page, 'failed-task', async () => {
    await signIn(page, app, LANG, user);
    await go(page, app, `/tasks/${task.id}`);
    const main = page.locator('main');
    await main.getByText(t('task.why.failed'), { exact: true }).waitFor({ timeout: 15000 });
    await main.getByText(t('task.refunded', { n: num(LANG, task.cost.refunded) }), { exact: true }).waitFor();
    await shot(page, 'flow-failed-task');
  }));

  it('the ledger page lists the refund of the task', () => onFailureShot(page, 'failed-ledger', async () => {
    const ledger = (await app.srv.get('/api/v1/credits/ledger', { token: user.token })).body.data;
    const refund = ledger.find((e) => e.kind === 'refund' && e.ref_id === task.id);
    assert.ok(refund, `the API's ledger has the refund: ${JSON.stringify(ledger)}`);
    await go(page, app, '/ledger');
    const rows = page.locator('main').getByRole('row')
      .filter({ has: page.locator(`a[href="/tasks/${task.id}"]`) });
    const refundRow = rows.filter({ has: page.getByRole('cell', { name: t('ledger.kind.refund'), exact: true }) });
    await refundRow.waitFor({ timeout: 15000 });
    await refundRow.getByRole('cell', { name: `+${num(LANG, refund.delta)}`, exact: true }).waitFor();
    await refundRow.getByRole('cell', { name: num(LANG, refund.balance_after), exact: true }).waitFor();
    // The spend it gives back is listed too.
    assert.equal(await rows.count(), ledger.filter((e) => e.ref_id === task.id).length, 'one row per ledger entry of the task');
    await shot(page, 'flow-failed-ledger');
  }));

  it('a strict CSP on every document, and no violation, uncaught error or 5xx on the way', () => {
    assert.deepEqual({ ...watcher.since(), policies: watcher.policyProblems(app.base) }, { csp: [], errors: [], server: [], policies: [] });
  });

  serverTest(() => app);
});
