// An administrator (made with `tollgate admin create`) in the admin pages: refunds a buyer's
// paid order, adjusts the buyer's credits with a reason, and finds both on the audit log page.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { startApp, launchBrowser, newContext, watch, onFailureShot, shot, serverTest } from './lib/app.mjs';
import { T } from './lib/i18n.mjs';
import { signIn, field, button, link, waitForPath, eventually, num, money } from './lib/flows.mjs';
import { createOrder } from '../e2e/lib/pay.mjs';

const LANG = 'en-US';
const t = T(LANG);
const BUYER_NAME = 'Chen Jing';

describe('admin: refund an order, adjust credits, both on the audit log', () => {
  let app;
  let browser;
  let page;
  let watcher;
  let admin;
  let buyer;
  let order;
  const refundReason = `Buyer asked for a refund ${randomBytes(3).toString('hex')}`;
  const adjustReason = `Goodwill for a slow task ${randomBytes(3).toString('hex')}`;

  before(async () => {
    app = await startApp({ env: { TG_SIGNUP_CREDITS: '8' } });
    admin = await app.srv.admin();
    buyer = await app.srv.register({ tag: 'buyer', display_name: BUYER_NAME });
    const o = await createOrder(app.srv, buyer.token, 'credits_115');
    assert.equal(o.status, 201, o.text);
    const pay = await app.srv.req('POST', `/sandbox/checkout/${o.body.id}/pay`);
    assert.equal(pay.status, 303, pay.text);
    order = (await app.srv.get(`/api/v1/orders/${o.body.id}`, { token: buyer.token })).body;
    assert.equal(order.status, 'paid');
    browser = await launchBrowser();
    page = await (await newContext(browser, app)).newPage();
    watcher = await watch(page);
  });
  after(async () => {
    await browser?.close();
    await app?.stop();
  });

  const adminNav = () => page.getByRole('navigation', { name: t('admin.nav.label'), exact: true });
  const step = (name, fn) => it(name, () => onFailureShot(page, `admin-${name.split(':')[0]}`, fn));

  step('orders: the admin refunds the whole order with a reason', async () => {
    await signIn(page, app, LANG, admin);
    await link(page.locator('header'), t('nav.admin')).click();
    await waitForPath(page, '/admin');
    await link(adminNav(), t('admin.nav.orders')).click();
    await waitForPath(page, '/admin/orders');
    const row = page.locator('main').getByRole('row').filter({ hasText: order.id });
    await link(row, order.id).click();
    await page.getByRole('heading', { level: 1 }).getByText(order.id).waitFor();
    const cur = order.amount.currency;
    await field(page, t('admin.orders.refund_amount', { currency: cur })).fill((order.amount.amount / 100).toFixed(2));
    await field(page, t('admin.orders.reason')).fill(refundReason);
    await button(page.locator('main'), t('admin.orders.refund_submit')).click();
    const dialog = page.getByRole('dialog');
    await shot(page, 'flow-admin-refund-confirm');
    await button(dialog, t('admin.orders.refund_confirm')).click();
    await page.getByRole('status').getByText(t('admin.orders.refund_succeeded', { amount: money(LANG, order.amount.amount, cur) }), { exact: false })
      .waitFor({ timeout: 15000 });
    await page.locator('main').getByText(t('admin.status.order.refunded'), { exact: true }).first().waitFor();
    const after0 = (await app.srv.get(`/api/v1/orders/${order.id}`, { token: buyer.token })).body;
    assert.equal(after0.status, 'refunded');
    assert.deepEqual(after0.refunded, order.amount);
    await shot(page, 'flow-admin-refunded');
  });

  step('user: the admin adds credits to the buyer with a reason', async () => {
    const before0 = (await app.srv.get('/api/v1/credits', { token: buyer.token })).body;
    await link(adminNav(), t('admin.nav.users')).click();
    await waitForPath(page, '/admin/users');
    const row = page.locator('main').getByRole('row').filter({ hasText: buyer.email });
    await link(row, BUYER_NAME).click();
    await waitForPath(page, `/admin/users/${buyer.id}`);
    await field(page, t('admin.user.delta')).fill('25');
    await field(page, t('admin.user.reason')).fill(adjustReason);
    await button(page.locator('main'), t('admin.user.adjust_submit')).click();
    await page.getByRole('status').getByText(t('admin.user.adjusted', {
      bucket: t('admin.bucket.paid'), old: num(LANG, before0.paid_credits), new: num(LANG, before0.paid_credits + 25),
    }), { exact: true }).waitFor({ timeout: 15000 });
    await eventually(async () => (await app.srv.get('/api/v1/credits', { token: buyer.token })).body.available === before0.available + 25,
      'the buyer has 25 more credits');
    await shot(page, 'flow-admin-user');
  });

  step('audit log: the refund and the adjustment, with their reasons', async () => {
    await link(adminNav(), t('admin.nav.audit_log')).click();
    await waitForPath(page, '/admin/audit-log');
    const main = page.locator('main');
    const refundRow = main.getByRole('row').filter({ hasText: order.id }).filter({ hasText: refundReason });
    const adjustRow = main.getByRole('row').filter({ hasText: buyer.id }).filter({ hasText: adjustReason });
    await refundRow.waitFor({ timeout: 15000 });
    await adjustRow.waitFor();
    await shot(page, 'flow-admin-audit-log');
    const audit = (await app.srv.get('/api/v1/admin/audit-log?limit=50', { token: admin.token })).body.data;
    assert.ok(audit.some((a) => a.action === 'order.refund' && a.target_id === order.id), 'the API has the order.refund entry');
    assert.ok(audit.some((a) => a.action === 'credits.adjust' && a.target_id === buyer.id), 'the API has the credits.adjust entry');
  });

  it('a strict CSP on every document, and no violation, uncaught error or 5xx on the way', () => {
    assert.deepEqual({ ...watcher.since(), policies: watcher.policyProblems(app.base) }, { csp: [], errors: [], server: [], policies: [] });
  });

  serverTest(() => app);
});
