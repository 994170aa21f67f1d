// A global (GLOBAL region, en-US) newcomer in a real browser: signs up with email and password,
// verifies the address from the mail's link, buys credits_115 on the sandbox checkout, sees the
// order paid and the credits in the balance, generates a text_to_video with its price shown
// before submitting, watches its progress bar move on the task page and plays the result.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startApp, launchBrowser, newContext, watch, onFailureShot, shot, serverTest } from './lib/app.mjs';
import { T } from './lib/i18n.mjs';
import {
  field, button, link, waitForPath, assertSignedIn, verificationToken, eventually, num,
} from './lib/flows.mjs';
import { strongPassword, uniqueEmail } from '../e2e/lib/server.mjs';

const LANG = 'en-US';
const t = T(LANG);
const SIGNUP_CREDITS = 8;

describe('global user: sign up, verify, buy on the sandbox checkout, generate, watch, play', () => {
  let app;
  let browser;
  let ctx;
  let page;
  let watcher;
  const email = uniqueEmail('global');
  const password = strongPassword();
  let orderId;
  let taskId;

  before(async () => {
    app = await startApp({ env: { TG_GEN_SANDBOX_DELAY_MS: '4000', TG_SIGNUP_CREDITS: String(SIGNUP_CREDITS) } });
    browser = await launchBrowser();
    ctx = await newContext(browser, app);
    page = await ctx.newPage();
    watcher = await watch(page);
  });
  after(async () => {
    await browser?.close();
    await app?.stop();
  });

  const step = (name, fn) => it(name, () => onFailureShot(page, `global-${name.split(':')[0]}`, fn));

  step('sign-up: from the landing page, with email and password', async () => {
    await page.goto(app.base + '/');
    // The document says lang="en" until the app has booted (the catalog it loads sets the
    // real one), so the check waits for the page's heading, which is rendered after that.
    await page.locator('main h1').waitFor({ timeout: 15000 });
    assert.equal(await page.getAttribute('html', 'lang'), LANG);
    await link(page.locator('header'), t('nav.sign_up')).click();
    await waitForPath(page, '/sign-up');
    await field(page, t('auth.email')).fill(email);
    await field(page, t('auth.password')).fill(password);
    await button(page.locator('main'), t('auth.sign_up.submit')).click();
    await page.waitForURL((u) => u.pathname !== '/sign-up', { timeout: 15000 });
    await assertSignedIn(page, LANG);
  });

  step('verify-email: the link of the mail verifies the address', async () => {
    const token = await verificationToken(app.srv, email);
    await page.goto(`${app.base}/verify-email#token=${token}`);
    await page.getByText(t('auth.verify.done'), { exact: true }).waitFor({ timeout: 15000 });
    const me = await app.srv.login(email, password);
    assert.equal(me.user.email_verified, true, 'the API says the address is verified');
    // The session came back from the refresh cookie after the page load.
    await assertSignedIn(page, LANG);
  });

  step('pricing: buy credits_115 on the sandbox checkout, back to the paid order', async () => {
    await link(page.locator('header'), t('nav.pricing')).click();
    await waitForPath(page, '/pricing');
    await button(page.locator('main'), t('pricing.buy_pack', { n: num(LANG, 115) })).click();
    // The only payment method of this region is the sandbox: straight to its checkout page.
    await page.waitForURL(/\/sandbox\/checkout\/ord_[0-9A-Z]{26}$/, { timeout: 15000 });
    orderId = page.url().split('/').at(-1);
    await shot(page, 'flow-global-sandbox-checkout');
    await page.getByRole('button', { name: /^Pay \d/ }).click();
    // Back on the app, with the order: it is paid.
    await page.waitForURL((u) => u.origin === app.base && !u.pathname.startsWith('/sandbox/'), { timeout: 15000 });
    assert.ok(page.url().includes(orderId), `back on the app with the order in the address: ${page.url()}`);
    await page.getByText(t('pricing.outcome.paid_title'), { exact: true }).waitFor({ timeout: 15000 });
    await shot(page, 'flow-global-paid');
    if (new URL(page.url()).pathname !== `/orders/${orderId}`) {
      await link(page.locator('main'), t('pricing.checkout.order_link')).click();
    }
    await waitForPath(page, `/orders/${orderId}`);
    await page.getByText(t('pricing.outcome.paid_title'), { exact: true }).waitFor({ timeout: 15000 });
    await page.getByText(orderId, { exact: true }).waitFor();
  });

  step('balance: the header shows the credits bought', async () => {
    const want = t('nav.credits', { n: num(LANG, SIGNUP_CREDITS + 115) });
    await link(page.locator('header'), want).waitFor({ timeout: 15000 });
  });

  step('generate: text_to_video with its price shown before submitting', async () => {
    await link(page.locator('header'), t('nav.generate')).click();
    await waitForPath(page, '/generate');
    await page.getByRole('radio', { name: t('generate.kind.text_to_video'), exact: true }).check();
    await field(page, t('generate.prompt')).fill('A lighthouse at dawn, waves rolling in');
    const cat = (await app.srv.get('/api/v1/catalog')).body;
    const price = cat.tasks.text_to_video.credits;
    assert.equal(typeof price, 'number');
    const box = page.locator('#price');
    await box.getByText(t('generate.credits', { n: num(LANG, price) }), { exact: true }).waitFor();
    await shot(page, 'flow-global-generate');
    await button(page.locator('main'), t('generate.submit')).click();
    await page.waitForURL(/\/tasks\/tsk_[0-9A-Z]{26}$/, { timeout: 15000 });
    taskId = page.url().split('/').at(-1);
  });

  step('task: the progress bar moves, then the video plays', async () => {
    const bar = page.getByRole('progressbar', { name: t('task.progress_label'), exact: true });
    const seen = [];
    const video = page.getByLabel(t('task.output_n', { n: 1 }), { exact: true });
    await eventually(async () => {
      if (await bar.count()) {
        const v = Number(await bar.getAttribute('value'));
        if (seen.at(-1) !== v) seen.push(v);
      }
      return (await video.count()) > 0;
    }, 'the task finished and its video is shown', 30000, 100);
    const moving = seen.filter((v, i) => i > 0 && v > seen[i - 1]);
    assert.ok(seen.length >= 2 && moving.length >= 1, `the progress bar's values went up while the task ran: ${JSON.stringify(seen)}`);
    const media = await eventually(async () => {
      const s = await video.evaluate((v) => ({ readyState: v.readyState, duration: v.duration, error: v.error && v.error.code, src: v.currentSrc }));
      return s.readyState >= 1 ? s : null;
    }, 'the video loaded its metadata', 15000);
    assert.equal(media.error, null, `the video has no error (${media.src})`);
    assert.ok(Number.isFinite(media.duration) && media.duration > 0, `the video has a duration: ${media.duration}`);
    await shot(page, 'flow-global-task-done');
    const task = (await app.srv.get(`/api/v1/tasks/${taskId}`, { token: (await app.srv.login(email, password)).token })).body;
    assert.equal(task.status, 'succeeded');
  });

  it('a strict CSP on every document, and no violation, uncaught error or 5xx on the way', () => {
    assert.deepEqual({ ...watcher.since(), policies: watcher.policyProblems(app.base) }, { csp: [], errors: [], server: [], policies: [] });
  });

  serverTest(() => app);
});
