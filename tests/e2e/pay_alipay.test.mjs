// Alipay through the real binary against the fake Alipay gateway (tests/fakes/alipay.mjs),
// whose request checks and signatures agree with the official SDK (fake_alipay.test.mjs):
// page, wap and QR checkouts signed as Alipay verifies them; a payment notification answered
// "success" and paid once (credits and one purchase entry), even delivered 10 times at once;
// late and out-of-order statuses; forged, tampered, other-app, wrong-amount, wrong-currency and
// unknown-order notifications refused with 400 "fail" and an audit row, changing nothing; a
// lost notification recovered by the browser's return (the trade query); refunds full and
// partial (never past the payment), their notifications, and a refund Alipay declines;
// Alipay down at checkout -> the region's next provider.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { Server, freePort, invariantTest, sleep } from './lib/server.mjs';
import { startFakeAlipay, signContent, rsa2Sign, formBody } from '../fakes/alipay.mjs';
import { assertAuditClean, decodeQrSvg } from './lib/pay.mjs';

let srv, ali, admin;
const CN = { 'x-user-region': 'CN' };

before(async () => {
  ali = await startFakeAlipay();
  srv = new Server();
  srv.port = await freePort();
  const keys = ali.writeKeys(`${srv.dataDir}/keys`);
  srv.opts.env = {
    TG_PUBLIC_URL: `http://127.0.0.1:${srv.port}`,
    TG_TRUSTED_PROXIES: '127.0.0.1/32',
    TG_ALIPAY_APP_ID: ali.appId,
    TG_ALIPAY_PRIVATE_KEY_FILE: keys.appPrivateKeyFile,
    TG_ALIPAY_PUBLIC_KEY_FILE: keys.alipayPublicKeyFile,
    TG_ALIPAY_GATEWAY: ali.gateway,
    TG_REGION_CN_PAYMENT: 'alipay,sandbox',
    TG_SANDBOX: 'on',
    TG_SIGNUP_CREDITS: '0',
    TG_ORDER_TTL: '600',
    TG_ORDER_QUERY_AFTER: '1',
  };
  await srv.start();
  admin = await srv.admin();
});

after(async () => {
  await ali.close();
  srv?.cleanup();
});

async function buyer() {
  return srv.register();
}

async function order(user, body = {}) {
  const r = await srv.post('/api/v1/orders', { product: 'credits_115', ...body }, { token: user.token, headers: CN });
  assert.equal(r.status, 201, r.text);
  return r.body;
}

/** The buyer's browser opens the cashier (page/wap): the trade exists at Alipay from then on. */
async function openCashier(o) {
  const r = await fetch(o.checkout.url);
  assert.equal(r.status, 200);
  assert.match(await r.text(), new RegExp(o.id));
}

const credits = async (user) => (await srv.get('/api/v1/credits', { token: user.token })).body;
const getOrder = async (user, id) => (await srv.get(`/api/v1/orders/${id}`, { token: user.token })).body;

async function ledger(user) {
  const r = await srv.get('/api/v1/credits/ledger?limit=100', { token: user.token });
  assert.equal(r.status, 200);
  return r.body.data;
}

async function auditRows(action) {
  const r = await srv.get('/api/v1/admin/audit-log?limit=100', { token: admin.token });
  assert.equal(r.status, 200);
  return r.body.data.filter((a) => a.action === action);
}

/** A paid order (cashier opened, paid, notification acknowledged). */
async function paidOrder(user) {
  const o = await order(user);
  await openCashier(o);
  const r = await ali.pay(o.id);
  assert.equal(r.status, 200);
  assert.equal(r.body, 'success');
  return o;
}

/** Posts a raw body to our webhook (as Alipay would): {status, body, type}. */
async function postNotify(body) {
  const r = await fetch(`${srv.url}/api/v1/webhooks/alipay`, { method: 'POST', body,
    headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' } });
  return { status: r.status, body: await r.text(), type: r.headers.get('content-type') };
}

test('page pay: a checkout URL Alipay verifies, "success" for the notification, credits once with a purchase entry', async () => {
  const u = await buyer();
  const o = await order(u);
  assert.equal(o.provider, 'alipay');
  assert.deepEqual(o.amount, { amount: 6800, currency: 'CNY' });
  assert.equal(o.status, 'pending');
  assert.ok(o.checkout.url.startsWith(`${ali.gateway}?`), o.checkout.url);
  const p = Object.fromEntries(new URL(o.checkout.url).searchParams);
  assert.equal(p.method, 'alipay.trade.page.pay');
  assert.equal(p.app_id, ali.appId);
  assert.equal(p.sign_type, 'RSA2');
  assert.equal(p.charset, 'utf-8');
  assert.equal(p.notify_url, `${srv.url}/api/v1/webhooks/alipay`);
  assert.equal(p.return_url, `${srv.url}/api/v1/orders/${o.id}/return`);
  const biz = JSON.parse(p.biz_content);
  assert.equal(biz.out_trade_no, o.id);
  assert.equal(biz.total_amount, '68.00');
  assert.equal(biz.subject, '115 credits');
  assert.equal(biz.product_code, 'FAST_INSTANT_TRADE_PAY');
  assert.match(biz.time_expire, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);

  await openCashier(o);
  const seen = ali.requests.at(-1);
  assert.equal(seen.ok, true, 'the fake verified our RSA2 signature');
  assert.equal(seen.sdkOk, true, 'and so did the alipay-sdk verifier');

  const r = await ali.pay(o.id);
  assert.equal(r.status, 200);
  assert.equal(r.body, 'success');
  assert.match(r.type, /^text\/plain/);
  const after = await getOrder(u, o.id);
  assert.equal(after.status, 'paid');
  assert.ok(after.paid_at);
  assert.equal((await credits(u)).paid_credits, 115);
  const purchases = (await ledger(u)).filter((e) => e.kind === 'purchase');
  assert.equal(purchases.length, 1);
  assert.equal(purchases[0].ref_id, o.id);
  assert.equal(purchases[0].delta, 115);

  // The browser comes back: a redirect to the client's page, the order stays paid once.
  const back = await srv.get(`/api/v1/orders/${o.id}/return`);
  assert.equal(back.status, 302);
  assert.equal(back.headers.get('location'), `${srv.url}/?order_id=${o.id}`);
  assert.equal((await credits(u)).paid_credits, 115);
});

test('wap pay: alipay.trade.wap.pay with QUICK_WAP_WAY and the quit_url', async () => {
  const u = await buyer();
  const o = await order(u, { channel: 'wap', return_url: '/credits' });
  const p = Object.fromEntries(new URL(o.checkout.url).searchParams);
  assert.equal(p.method, 'alipay.trade.wap.pay');
  const biz = JSON.parse(p.biz_content);
  assert.equal(biz.product_code, 'QUICK_WAP_WAY');
  assert.equal(biz.quit_url, `${srv.url}/credits`);
  await openCashier(o);
  assert.equal(ali.requests.at(-1).ok, true);
  await ali.pay(o.id);
  assert.equal((await getOrder(u, o.id)).status, 'paid');
});

test('QR: alipay.trade.precreate from the server, the code_url and its SVG; paid by scanning', async () => {
  const u = await buyer();
  const before = ali.counters['alipay.trade.precreate'];
  const o = await order(u, { channel: 'qr' });
  assert.equal(ali.counters['alipay.trade.precreate'], before + 1);
  assert.equal(ali.requests.at(-1).ok, true);
  assert.match(o.checkout.code_url, /^https:\/\/qr\.alipay\.com\/bax[0-9a-f]{20}$/);
  assert.equal(o.checkout.code_url, ali.trades.get(o.id).qrCode);
  assert.match(o.checkout.qr_svg, /^<svg/);
  assert.equal(decodeQrSvg(o.checkout.qr_svg), o.checkout.code_url, 'the QR code we drew says the code_url');
  const r = await ali.pay(o.id);
  assert.equal(r.body, 'success');
  assert.equal((await credits(u)).paid_credits, 115);
});

test('the same notification 10 times in parallel: all answered "success", credits once', async () => {
  const u = await buyer();
  const o = await order(u);
  await openCashier(o);
  ali.loseNext(1);
  const lost = await ali.pay(o.id);
  assert.equal(lost.lost, true);
  const r = await ali.deliver(lost.notification, { times: 10, parallel: true });
  assert.deepEqual(r.all.map((d) => [d.status, d.body]), Array(10).fill([200, 'success']));
  assert.equal((await credits(u)).paid_credits, 115);
  assert.equal((await ledger(u)).filter((e) => e.kind === 'purchase').length, 1);
});

test('out of order: WAIT_BUYER_PAY and TRADE_CLOSED after payment change nothing; TRADE_FINISHED is acknowledged', async () => {
  const u = await buyer();
  const o = await order(u);
  await openCashier(o);
  const t = ali.trades.get(o.id);
  const waiting = ali.notify(t, { trade_status: 'WAIT_BUYER_PAY' });
  await ali.pay(o.id);
  const w = await ali.deliver(waiting);
  assert.deepEqual([w.status, w.body], [200, 'success'], 'an old waiting status is acknowledged');
  const closed = await ali.deliver(ali.notify(t, { trade_status: 'TRADE_CLOSED' }));
  assert.deepEqual([closed.status, closed.body], [200, 'success']);
  const finished = await ali.deliver(ali.notify(t, { trade_status: 'TRADE_FINISHED' }));
  assert.deepEqual([finished.status, finished.body], [200, 'success']);
  assert.equal((await getOrder(u, o.id)).status, 'paid');
  assert.equal((await credits(u)).paid_credits, 115);
});

test('TRADE_CLOSED for a pending order: failed; a payment arriving afterwards still counts', async () => {
  const u = await buyer();
  const o = await order(u);
  await openCashier(o);
  const c = await ali.closeTrade(o.id);
  assert.deepEqual([c.status, c.body], [200, 'success']);
  assert.equal((await getOrder(u, o.id)).status, 'failed');
  await ali.pay(o.id);
  assert.equal((await getOrder(u, o.id)).status, 'paid');
  assert.equal((await credits(u)).paid_credits, 115);
});

test('forged notifications: 400 "fail", an audit row, nothing changes', async () => {
  const u = await buyer();
  const o = await order(u);
  await openCashier(o);
  const t = ali.trades.get(o.id);
  t.status = 'TRADE_SUCCESS';
  const before = (await auditRows('payment.webhook_rejected')).length;

  // Signed with the app's own key (an attacker who has it, or a confused proxy).
  const forged = await ali.deliver(ali.notify(t, {}, { key: ali.keys.appPrivatePem }));
  assert.deepEqual([forged.status, forged.body], [400, 'fail']);
  assert.match(forged.type, /^text\/plain/);
  // A real notification with its amount changed after signing.
  const real = ali.notify(t);
  const tampered = await postNotify(real.body.replace('total_amount=68.00', 'total_amount=0.01'));
  assert.deepEqual([tampered.status, tampered.body], [400, 'fail']);
  // The same parameter twice: which one was signed is ambiguous.
  const dup = await postNotify(`${real.body}&total_amount=0.01`);
  assert.deepEqual([dup.status, dup.body], [400, 'fail']);
  // Signed as rsaCheckV2 (sign_type included): Alipay never does; refused.
  const p = { ...real.params };
  delete p.sign;
  p.sign = rsa2Sign(ali.keys.alipayPrivatePem, signContent(p));
  const v2 = await postNotify(formBody(p));
  assert.deepEqual([v2.status, v2.body], [400, 'fail']);
  // No signature at all.
  const none = { ...real.params };
  delete none.sign;
  assert.equal((await postNotify(formBody(none))).status, 400);
  // Another app's notification (signed by Alipay, for another app id).
  const other = await ali.deliver(ali.notify(t, { app_id: '2021000000009999' }));
  assert.deepEqual([other.status, other.body], [400, 'fail']);

  assert.equal((await getOrder(u, o.id)).status, 'pending');
  assert.equal((await credits(u)).paid_credits, 0);
  const rows = await auditRows('payment.webhook_rejected');
  assert.equal(rows.length - before, 6);
  assert.ok(rows.slice(0, 6).every((a) => a.details.provider === 'alipay' && a.details.outcome === 'rejected'));
  assert.deepEqual(rows.slice(0, 6).map((a) => a.details.reason).sort(),
    ['app_id_mismatch', 'body_malformed', 'signature_mismatch', 'signature_mismatch', 'signature_mismatch', 'signature_missing']);
  // The real one still pays.
  assert.equal((await ali.deliver(real)).body, 'success');
  assert.equal((await credits(u)).paid_credits, 115);
});

test('wrong amount, wrong currency, unknown order: 400 "fail", audited, nothing paid', async () => {
  const u = await buyer();
  const o = await order(u);
  await openCashier(o);
  const t = ali.trades.get(o.id);
  t.status = 'TRADE_SUCCESS';
  const mismatchBefore = (await auditRows('payment.webhook_mismatch')).length;
  const cheap = await ali.deliver(ali.notify(t, { total_amount: '0.01', receipt_amount: '0.01' }));
  assert.deepEqual([cheap.status, cheap.body], [400, 'fail']);
  const more = await ali.deliver(ali.notify(t, { total_amount: '68.01' }));
  assert.deepEqual([more.status, more.body], [400, 'fail']);
  const usd = await ali.deliver(ali.notify(t, { trans_currency: 'USD' }));
  assert.deepEqual([usd.status, usd.body], [400, 'fail']);
  const unknown = await ali.deliver(ali.notify({ ...t, outTradeNo: 'ord_01JZZZZZZZZZZZZZZZZZZZZZZZ' }));
  assert.deepEqual([unknown.status, unknown.body], [400, 'fail']);
  assert.equal((await getOrder(u, o.id)).status, 'pending');
  assert.equal((await credits(u)).paid_credits, 0);
  const rows = (await auditRows('payment.webhook_mismatch')).slice(0, 3);
  assert.equal((await auditRows('payment.webhook_mismatch')).length - mismatchBefore, 3);
  assert.deepEqual(rows.map((a) => a.details.outcome).sort(), ['amount_mismatch', 'amount_mismatch', 'unknown_order']);
  const rejected = (await auditRows('payment.webhook_rejected')).find((a) => a.details.reason === 'currency_not_cny');
  assert.ok(rejected, 'the USD one is audited as rejected (currency_not_cny)');
});

test('a lost notification: the browser\'s return asks alipay.trade.query and fulfils once', async () => {
  const u = await buyer();
  const o = await order(u);
  await openCashier(o);
  ali.loseNext(1);
  assert.equal((await ali.pay(o.id)).lost, true);
  assert.equal((await getOrder(u, o.id)).status, 'pending');
  const queries = ali.counters['alipay.trade.query'];
  const back = await srv.get(`/api/v1/orders/${o.id}/return`);
  assert.equal(back.status, 302);
  assert.ok(ali.counters['alipay.trade.query'] > queries);
  assert.equal(ali.requests.filter((x) => x.method === 'alipay.trade.query').every((x) => x.ok), true);
  assert.equal((await getOrder(u, o.id)).status, 'paid');
  assert.equal((await credits(u)).paid_credits, 115);
  // The notification delivered late afterwards: acknowledged, nothing more.
  const late = await ali.deliver(ali.notifications.at(-1));
  assert.deepEqual([late.status, late.body], [200, 'success']);
  assert.equal((await credits(u)).paid_credits, 115);
});

test('a lost notification: the pending-order job queries Alipay and fulfils', async () => {
  const u = await buyer();
  const o = await order(u);
  await openCashier(o);
  ali.loseNext(1);
  await ali.pay(o.id);
  let status = 'pending';
  for (let i = 0; i < 40 && status === 'pending'; i++) {
    await sleep(250);
    status = (await getOrder(u, o.id)).status;
  }
  assert.equal(status, 'paid', srv.stderr.split('\n').filter((l) => /pending|alipay|query/.test(l)).slice(-10).join('\n'));
});

test('refunds: partial then the rest (never past the payment), Alipay\'s refund notifications acknowledged once', async () => {
  const u = await buyer();
  const o = await paidOrder(u);
  const r1 = await srv.post(`/api/v1/admin/orders/${o.id}/refund`, { amount: 2000, reason: 'partial' }, { token: admin.token });
  assert.equal(r1.status, 200, r1.text);
  assert.equal(r1.body.refund.status, 'succeeded');
  assert.deepEqual(r1.body.refund.amount, { amount: 2000, currency: 'CNY' });
  assert.equal(r1.body.refund.provider_refund_id, `${ali.trades.get(o.id).tradeNo}:${r1.body.refund.id}`);
  assert.equal(r1.body.order.status, 'partially_refunded');
  const t = ali.trades.get(o.id);
  assert.equal(t.refunds.get(r1.body.refund.id).fen, 2000, 'Alipay refunded 20.00 under our refund id');
  assert.equal(t.refunds.get(r1.body.refund.id).reason, 'partial');

  // Past what is left: refused by us, Alipay never asked.
  const refundsAsked = ali.counters['alipay.trade.refund'];
  const over = await srv.post(`/api/v1/admin/orders/${o.id}/refund`, { amount: 4801, reason: 'too much' }, { token: admin.token });
  assert.equal(over.status, 409);
  assert.equal(over.body.error.code, 'refund_exceeds_payment');
  assert.equal(ali.counters['alipay.trade.refund'], refundsAsked);

  const r2 = await srv.post(`/api/v1/admin/orders/${o.id}/refund`, { amount: 4800, reason: 'rest' }, { token: admin.token });
  assert.equal(r2.status, 200, r2.text);
  assert.equal(r2.body.order.status, 'refunded');
  assert.equal(t.refundedFen, 6800);
  assert.equal((await credits(u)).paid_credits, 0, 'credits taken back in full');

  // Alipay's refund notifications (sent by the fake at refund time) and a redelivery: each
  // sized by alipay.trade.fastpay.refund.query, known already, acknowledged.
  for (let i = 0; i < 50 && ali.notifications.filter((n) => n.params.out_biz_no && n.deliveries.length).length < 2; i++) await sleep(50);
  const refundNotes = ali.notifications.filter((n) => n.params.out_trade_no === o.id && n.params.out_biz_no);
  assert.equal(refundNotes.length, 2);
  for (const n of refundNotes) assert.deepEqual([n.deliveries[0].status, n.deliveries[0].body], [200, 'success']);
  const again = await ali.deliver(refundNotes[0]);
  assert.deepEqual([again.status, again.body], [200, 'success']);
  assert.ok(ali.requests.some((x) => x.method === 'alipay.trade.fastpay.refund.query' && x.ok));
  const full = await srv.get(`/api/v1/admin/orders/${o.id}`, { token: admin.token });
  assert.equal(full.body.refunds.length, 2);
  assert.equal(full.body.refunds.reduce((s, x) => s + x.amount.amount, 0), 6800);
});

test('a refund made in Alipay\'s dashboard is recorded from its notification, sized by the refund query', async () => {
  const u = await buyer();
  const o = await paidOrder(u);
  const t = ali.trades.get(o.id);
  // The merchant refunds 10.00 in the dashboard: Alipay's own request number.
  t.refunds.set('2026DASHBOARD0001', { fen: 1000, gmt: '2026-11-30 10:00:00' });
  t.refundedFen += 1000;
  const r = await ali.refundNotify(o.id, '2026DASHBOARD0001');
  assert.deepEqual([r.status, r.body], [200, 'success']);
  const full = await srv.get(`/api/v1/admin/orders/${o.id}`, { token: admin.token });
  assert.equal(full.body.status, 'partially_refunded');
  assert.equal(full.body.refunds.length, 1);
  assert.deepEqual(full.body.refunds[0].amount, { amount: 1000, currency: 'CNY' });
  assert.equal(full.body.refunds[0].provider_refund_id, `${t.tradeNo}:2026DASHBOARD0001`);
  assert.equal((await credits(u)).paid_credits, 115 - Math.floor(115 * 1000 / 6800));
  // Delivered again: known, nothing more taken.
  assert.equal((await ali.refundNotify(o.id, '2026DASHBOARD0001')).body, 'success');
  assert.equal((await credits(u)).paid_credits, 115 - Math.floor(115 * 1000 / 6800));
});

test('a refund Alipay declines: refund_declined, the credits given back, the amount free again', async () => {
  const u = await buyer();
  const o = await paidOrder(u);
  ali.trades.get(o.id).status = 'TRADE_FINISHED'; // past Alipay's refund period
  // 502 is the documented answer for a provider's refusal; sent outside srv.req so that the
  // no-5xx invariant (meant for our own failures) does not count it.
  const r = await fetch(`${srv.url}/api/v1/admin/orders/${o.id}/refund`, { method: 'POST',
    headers: { authorization: `Bearer ${admin.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ amount: 1000, reason: "too late" }) });
  const body = await r.json();
  assert.equal(r.status, 502);
  assert.equal(body.error.code, 'refund_declined');
  const logged = srv.logLines().find((l) => l.event === 'refund_failed' && l.order_id === o.id);
  assert.equal(logged?.reason, 'ACQ.TRADE_HAS_FINISHED', 'Alipay\'s sub_code is the logged reason');
  assert.equal(logged?.outcome, 'declined');
  assert.equal((await credits(u)).paid_credits, 115);
  const full = await srv.get(`/api/v1/admin/orders/${o.id}`, { token: admin.token });
  assert.equal(full.body.status, 'paid');
  assert.equal(full.body.refunds[0].status, 'failed');
});

test('Alipay down at checkout (502, then a timeout): the order goes to the next provider, attempts recorded', async () => {
  const u = await buyer();
  ali.failNext('alipay.trade.precreate', { status: 502 }, 3);
  const o = await order(u, { channel: 'qr' });
  assert.equal(o.provider, 'sandbox');
  assert.match(o.checkout.url, /\/sandbox\/checkout\//);
  const full = await srv.get(`/api/v1/admin/orders/${o.id}`, { token: admin.token });
  assert.equal(full.body.provider, 'sandbox');
  ali.clearFaults();
  ali.failNext('alipay.trade.precreate', { timeout: true }, 3);
  const t0 = Date.now();
  const o2 = await order(u, { channel: 'qr' });
  assert.equal(o2.provider, 'sandbox');
  assert.ok(Date.now() - t0 < 15000, "at most two 5 s attempts");
  ali.clearFaults();
});

test('a refused checkout (an unknown channel) goes to the next provider too', async () => {
  const u = await buyer();
  const o = await order(u, { channel: 'alipay_app' });
  assert.equal(o.provider, 'sandbox');
});

test('no secret in the logs: neither key file content nor a signature', async () => {
  const log = srv.stderr;
  const keyBody = ali.keys.appPrivatePem.split('\n')[1];
  assert.ok(!log.includes(keyBody), 'the app private key');
  const sig = ali.notifications[0].params.sign.slice(0, 40);
  assert.ok(!log.includes(sig), 'a notification signature');
  assert.ok(!log.includes('biz_content'), 'request parameters');
});

test('tollgate audit: every paid order has its purchase entry, refunds add up', () => {
  assertAuditClean(srv);
});

invariantTest(() => srv);
