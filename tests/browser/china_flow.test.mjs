// A user in China: the server trusts its proxy on 127.0.0.1 (TG_TRUSTED_PROXIES) and the
// browser's requests carry X-User-Region: CN, as that proxy would add. With WeChat sign-in
// (the fake WeChat, tests/fakes/wechat.mjs) and WeChat Pay (the fake WeChat Pay,
// tests/fakes/wechatpay.mjs) configured, the person sees Chinese (from the region profile,
// although the browser asks for English), signs in with WeChat, sees prices in yuan, buys
// credits_115 with WeChat Pay through the QR code the page shows, and sees the order paid
// when WeChat Pay reports the payment.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startApp, launchBrowser, newContext, watch, onFailureShot, shot, serverTest } from './lib/app.mjs';
import { T } from './lib/i18n.mjs';
import { button, link, waitForPath, assertSignedIn, num, money } from './lib/flows.mjs';
import { startFakeWechat, DEFAULT_APPS } from '../fakes/wechat.mjs';
import { startFakeWechatpay } from '../fakes/wechatpay.mjs';
import { decodeQrSvg } from '../e2e/lib/pay.mjs';

const LANG = 'zh-CN';
const t = T(LANG);
const CN = { 'x-user-region': 'CN' };
const SIGNUP_CREDITS = 8;

describe('China user: Chinese, WeChat sign-in, CNY prices, WeChat Pay by QR code', () => {
  let app;
  let wx;
  let wp;
  let browser;
  let page;
  let watcher;
  let pack;
  let orderId;

  before(async () => {
    wx = await startFakeWechat({ callbackDomain: '127.0.0.1' });
    wx.setUser({ person: 'browser-cn', nickname: '小李' });
    wp = await startFakeWechatpay();
    app = await startApp({
      env: {
        ...wp.env,
        TG_WECHAT_APPID: DEFAULT_APPS.web.appid,
        TG_WECHAT_SECRET: DEFAULT_APPS.web.secret,
        TG_WECHAT_OPEN_BASE: wx.url,
        TG_WECHAT_API_BASE: wx.url,
        TG_TRUSTED_PROXIES: '127.0.0.1/32',
        TG_REGION_CN_PAYMENT: 'wechatpay',
        TG_SIGNUP_CREDITS: String(SIGNUP_CREDITS),
      },
    });
    browser = await launchBrowser();
    // The browser asks for English: the region's profile must win.
    const ctx = await newContext(browser, app, { region: 'CN', locale: 'en-US' });
    page = await ctx.newPage();
    watcher = await watch(page);
  });
  after(async () => {
    await browser?.close();
    await app?.stop();
    await wx?.close();
    await wp?.close();
  });

  const step = (name, fn) => it(name, () => onFailureShot(page, `china-${name.split(':')[0]}`, fn));

  step('region: the server sees CN with WeChat sign-in and WeChat Pay (and the sandbox) offered', async () => {
    const r = await app.srv.get('/api/v1/region', { headers: CN });
    assert.equal(r.body.region, 'CN');
    assert.deepEqual(r.body.profile, { currency: 'CNY', locale: 'zh-CN', sign_in: ['wechat', 'email', 'sandbox'], payment: ['wechatpay', 'sandbox'] });
    const cat = await app.srv.get('/api/v1/catalog', { headers: CN });
    pack = cat.body.packs.find((p) => p.id === 'credits_115');
    assert.deepEqual(pack.price, { amount: 6800, currency: 'CNY' });
  });

  step('language: the landing page is Chinese', async () => {
    await page.goto(app.base + '/');
    // The document says lang="en" until the app has booted (the catalog it loads sets the
    // real one), so the check waits for the page's heading, which is rendered after that.
    await page.locator('main h1').waitFor({ timeout: 15000 });
    assert.equal(await page.getAttribute('html', 'lang'), 'zh-CN');
    await page.waitForFunction((want) => document.title === want, `${t('title.landing')} · Tollgate`);
    await link(page.locator('header'), t('nav.pricing')).waitFor();
    await shot(page, 'flow-china-landing');
  });

  step('sign-in: WeChat is offered and signs the person in', async () => {
    await link(page.locator('header'), t('nav.sign_in')).click();
    await waitForPath(page, '/sign-in');
    const wechat = link(page.locator('main'), t('auth.continue_with', { provider: t('auth.provider.wechat') }));
    await wechat.waitFor();
    assert.match(await wechat.getAttribute('href'), /^\/api\/v1\/auth\/oauth\/wechat\/start\?/);
    await shot(page, 'flow-china-sign-in');
    await wechat.click();
    // The fake's QR page consents at once; the callback page finishes the sign-in.
    await page.waitForURL((u) => u.origin === app.base && !['/sign-in', '/auth/callback'].includes(u.pathname), { timeout: 20000 });
    await assertSignedIn(page, LANG);
    assert.equal(wx.counters.codesIssued, 1, 'the fake WeChat issued one code');
  });

  step('pricing: prices in yuan', async () => {
    await link(page.locator('header'), t('nav.pricing')).click();
    await waitForPath(page, '/pricing');
    const price = money(LANG, pack.price.amount, 'CNY');
    assert.match(price, /^¥/);
    await page.locator('main').getByText(price, { exact: true }).first().waitFor();
    await shot(page, 'flow-china-pricing');
  });

  step('buy: WeChat Pay shows the order QR code, and the order is paid once WeChat Pay says so', async () => {
    await button(page.locator('main'), t('pricing.buy_pack', { n: num(LANG, 115) })).click();
    const dialog = page.getByRole('dialog');
    // Two ways to pay here (WeChat Pay and the sandbox): choose WeChat Pay.
    await dialog.getByRole('radio', { name: t('pricing.provider.wechatpay'), exact: true }).check();
    await button(dialog, t('pricing.method.continue')).click();
    const qr = dialog.locator('img[src^="data:image/svg+xml;base64,"]');
    await qr.waitFor({ timeout: 15000 });
    assert.ok((await qr.getAttribute('alt')).length > 0, 'the QR code has a text alternative');
    const svg = Buffer.from((await qr.getAttribute('src')).slice('data:image/svg+xml;base64,'.length), 'base64').toString('utf8');
    await shot(page, 'flow-china-wechatpay-qr');
    orderId = (await link(dialog, t('pricing.checkout.order_link')).getAttribute('href')).split('/').at(-1);
    assert.match(orderId, /^ord_[0-9A-Z]{26}$/);
    const at = wp.order(orderId);
    assert.ok(at, 'WeChat Pay received the order');
    assert.equal(at.channel, 'native');
    assert.equal(decodeQrSvg(svg), at.answer.code_url, "the QR code shown is WeChat Pay's code_url");
    await dialog.getByText(money(LANG, 6800, 'CNY'), { exact: true }).first().waitFor();

    await wp.pay(orderId);
    await dialog.getByText(t('pricing.outcome.paid_title'), { exact: true }).waitFor({ timeout: 15000 });
    await shot(page, 'flow-china-wechatpay-paid');
    await link(page.locator('header'), t('nav.credits', { n: num(LANG, SIGNUP_CREDITS + 115) })).waitFor({ timeout: 10000 });
  });

  it('a strict CSP on every document, and no violation, uncaught error or 5xx on the way', () => {
    assert.deepEqual({ ...watcher.since(), policies: watcher.policyProblems(app.base) }, { csp: [], errors: [], server: [], policies: [] });
  });

  serverTest(() => app);
});
