// The fake Creem (tests/fakes/creem.mjs) checked on its own against the `creem` npm SDK
// (its API client, and its webhook verification and event parsing) and `standardwebhooks`:
// the payment tests trust the fake to speak as Creem does, so it gets tests like any other code.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Creem } from 'creem';
import { verifyWebhookSignature, constructWebhookEventEntity } from 'creem/webhooks.js';
import { Webhook } from 'standardwebhooks';
import { startFakeCreem, addMonths } from '../fakes/creem.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));

let cr, sdk, sink;
const received = [];

/** A notification receiver that answers `sink.status` (200 unless changed). */
async function startSink() {
  const s = { status: 200, url: '' };
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(s.status);
      res.end();
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  s.url = `http://127.0.0.1:${server.address().port}/api/v1/webhooks/creem`;
  s.close = () => new Promise((r) => server.close(r));
  return s;
}

before(async () => {
  sink = await startSink();
  cr = await startFakeCreem({ notifyUrl: sink.url });
  sdk = new Creem({ apiKey: cr.apiKey, serverURL: cr.url });
});

after(async () => {
  await cr.close();
  await sink.close();
});

async function waitFor(pred, ms = 5000) {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
}

const newCheckout = (requestId, extra = {}) =>
  sdk.checkouts.create({ productId: 'prod_credits_115', requestId, successUrl: 'http://127.0.0.1:9/return',
    metadata: { order_id: requestId }, customer: { email: 'buyer@example.com' }, ...extra });

test('the SDK creates and reads a checkout at the fake', async () => {
  const c = await newCheckout('ord_fake_1');
  assert.match(c.id, /^ch_[A-Za-z0-9]{22}$/);
  assert.equal(c.status, 'pending');
  assert.equal(c.requestId, 'ord_fake_1');
  assert.equal(c.checkoutUrl, `${cr.url}/checkout/${c.id}`);
  assert.deepEqual(c.metadata, { order_id: 'ord_fake_1' });
  const r = await sdk.checkouts.retrieve(c.id);
  assert.equal(r.id, c.id);
  assert.equal(r.status, 'pending');
  assert.equal(r.order, undefined);
  const pageRes = await fetch(c.checkoutUrl);
  assert.equal(pageRes.status, 200);
  assert.match(await pageRes.text(), /115 credits: 9\.90 USD/);
});

test('a wrong API key is 401, an unknown product 404, id and email together 400', async () => {
  const bad = new Creem({ apiKey: 'creem_test_wrong', serverURL: cr.url });
  await assert.rejects(bad.checkouts.create({ productId: 'prod_credits_115' }), (e) => e.statusCode === 401);
  await assert.rejects(sdk.checkouts.create({ productId: 'prod_nope' }), (e) => e.statusCode === 404);
  await assert.rejects(sdk.checkouts.create({ productId: 'prod_credits_115', customer: { id: 'cust_1', email: 'a@b.c' } }),
    (e) => e.statusCode === 400);
  await assert.rejects(sdk.checkouts.retrieve('ch_unknown'), (e) => e.statusCode === 404);
});

test('pay: checkout.completed reaches the notify URL, verified and parsed by the creem SDK and standardwebhooks', async () => {
  const c = await newCheckout('ord_fake_2');
  received.length = 0;
  const r = await cr.pay('ord_fake_2');
  assert.equal(r.status, 200);
  assert.equal(received.length, 1);
  const { headers, body } = received[0];
  assert.match(headers['webhook-signature'], /^v1,[A-Za-z0-9+/]{43}=$/);
  assert.match(headers['creem-signature'], /^[0-9a-f]{64}$/);
  await verifyWebhookSignature(body, headers, cr.webhookSecret);
  await verifyWebhookSignature(body, { 'creem-signature': headers['creem-signature'] }, cr.webhookSecret);
  new Webhook(cr.webhookSecret).verify(body, headers);
  const ev = await constructWebhookEventEntity(body, headers, cr.webhookSecret);
  assert.equal(ev.eventType, 'checkout.completed');
  assert.equal(ev.object.id, c.id);
  assert.equal(ev.object.requestId, 'ord_fake_2');
  assert.equal(ev.object.order.status, 'paid');
  assert.equal(ev.object.order.amount, 990);
  assert.equal(ev.object.order.currency, 'USD');
  const read = await sdk.checkouts.retrieve(c.id);
  assert.equal(read.status, 'completed');
  assert.equal(read.order.transaction, ev.object.order.transaction);
  await assert.rejects(verifyWebhookSignature(body.replace('990', '991'), headers, cr.webhookSecret));
});

test('refunds: the SDK refunds the whole payment once; refund.created follows; the dashboard refunds parts', async () => {
  const c = await newCheckout('ord_fake_3');
  await cr.pay(c.id);
  const txn = (await sdk.checkouts.retrieve(c.id)).order.transaction;
  received.length = 0;
  const r = await sdk.transactions.refund({ transactionId: txn });
  assert.equal(r.status, 'succeeded');
  await waitFor(() => received.length === 1); // Creem answers first, then notifies
  const ev = await constructWebhookEventEntity(received[0].body, received[0].headers, cr.webhookSecret);
  assert.equal(ev.eventType, 'refund.created');
  assert.equal(ev.object.refundAmount, 990);
  assert.equal(ev.object.transaction.status, 'refunded');
  assert.equal(ev.object.checkout.requestId, 'ord_fake_3');
  await assert.rejects(sdk.transactions.refund({ transactionId: txn }), (e) => e.statusCode === 400);
  await assert.rejects(sdk.transactions.refund({ transactionId: 'tran_unknown' }), (e) => e.statusCode === 404);

  const d = await newCheckout('ord_fake_4');
  await cr.pay(d.id);
  received.length = 0;
  await cr.refund('ord_fake_4', { amount: 400 });
  await cr.refund('ord_fake_4');
  const parts = await Promise.all(received.map((x) => constructWebhookEventEntity(x.body, x.headers, cr.webhookSecret)));
  assert.deepEqual(parts.map((p) => [p.object.refundAmount, p.object.transaction.status]), [[400, 'partialRefund'], [590, 'refunded']]);
  assert.notEqual(parts[0].object.id, parts[1].object.id);
});

test('controls: lost notifications, repeated and parallel deliveries, failures, signing schemes', async () => {
  await newCheckout('ord_fake_5');
  received.length = 0;
  cr.loseNext();
  const lost = await cr.pay('ord_fake_5');
  assert.equal(lost.lost, true);
  assert.equal(received.length, 0);
  const again = await cr.redeliverLost();
  assert.deepEqual(again.map((a) => a.status), [200]);
  assert.equal(received.length, 1);

  const ev = cr.event('checkout.completed', 'ord_fake_5');
  const answers = await cr.deliver(ev, { times: 5, parallel: true });
  assert.deepEqual(answers.map((a) => a.status), [200, 200, 200, 200, 200]);
  assert.equal(new Set(received.slice(1).map((x) => x.headers['webhook-id'])).size, 5, 'each delivery signed afresh');
  assert.equal(new Set(received.slice(1).map((x) => JSON.parse(x.body).id)).size, 1, 'one event id');

  sink.status = 400;
  assert.deepEqual((await cr.deliver(ev)).map((a) => a.status), [400]);
  sink.status = 200;

  cr.fail('checkout', { status: 503, times: 1 });
  await assert.rejects(newCheckout('ord_fake_6'), (e) => e.statusCode === 503);
  assert.equal((await newCheckout('ord_fake_6')).status, 'pending');

  cr.setSigning('legacy');
  received.length = 0;
  await cr.pay('ord_fake_6');
  assert.equal(received[0].headers['webhook-signature'], undefined);
  await verifyWebhookSignature(received[0].body, received[0].headers, cr.webhookSecret);
  cr.setSigning('standard');
  received.length = 0;
  await cr.deliver(ev);
  assert.equal(received[0].headers['creem-signature'], undefined);
  await verifyWebhookSignature(received[0].body, received[0].headers, cr.webhookSecret);
  cr.setSigning('both');

  const stale = cr.sign(ev, { timestamp: Math.floor(Date.now() / 1000) - 301, scheme: 'standard' });
  await assert.rejects(verifyWebhookSignature(stale.body, stale.headers, cr.webhookSecret), /too old/);
  cr.expire((await newCheckout('ord_fake_7')).id);
  assert.equal((await sdk.checkouts.retrieve(cr.checkout('ord_fake_7').id)).status, 'expired');
});

test('as a child process: prints its URL and credentials, takes controls over HTTP, exits when stdin closes', async () => {
  const child = spawn(process.execPath, [path.join(here, '../fakes/creem.mjs'), '--exit-on-stdin-close', '--notify-url', sink.url],
    { stdio: ['pipe', 'pipe', 'inherit'] });
  const line = await new Promise((resolve, reject) => {
    let buf = '';
    child.stdout.on('data', (c) => {
      buf += c;
      const nl = buf.indexOf('\n');
      if (nl >= 0) resolve(buf.slice(0, nl));
    });
    child.on('exit', (c) => reject(new Error(`exited ${c}`)));
  });
  const info = JSON.parse(line);
  assert.match(info.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.match(info.apiKey, /^creem_test_/);
  assert.match(info.webhookSecret, /^whsec_/);
  const s = new Creem({ apiKey: info.apiKey, serverURL: info.url });
  const c = await s.checkouts.create({ productId: 'prod_credits_355', requestId: 'ord_child' });
  received.length = 0;
  const ctl = (m, args) => fetch(`${info.url}/__control/${m}`, { method: 'POST', body: JSON.stringify(args) }).then((r) => r.json());
  const paid = await ctl('pay', [c.id]);
  assert.equal(paid.result.status, 200);
  assert.equal(JSON.parse(received[0].body).object.order.amount, 3000);
  assert.deepEqual(await ctl('nope', []), { error: 'unknown control' });
  const counters = await (await fetch(`${info.url}/__control/counters`)).json();
  assert.equal(counters.result.checkout, 1);
  const exited = new Promise((r) => child.on('exit', (code) => r(code)));
  child.stdin.end();
  assert.equal(await exited, 0);
});

// ---- subscriptions -------------------------------------------------------------------------

/** The events received since `from`, each verified and parsed by the creem SDK (its event
 * models are strict: a field of the wrong shape fails here). Both signatures are checked: the
 * Standard Webhooks one at the fake's clock (the SDK reads Date.now(), moved for the call),
 * then the SDK parses the body as verified by its creem-signature. */
async function parsed(from = 0) {
  const out = [];
  for (const x of received.slice(from)) {
    const realNow = Date.now;
    const fake = cr.now() - Date.now();
    Date.now = () => realNow() + fake;
    try {
      await verifyWebhookSignature(x.body, x.headers, cr.webhookSecret);
    } finally {
      Date.now = realNow;
    }
    out.push(await constructWebhookEventEntity(x.body, { 'creem-signature': x.headers['creem-signature'] }, cr.webhookSecret));
  }
  return out;
}

const lastEvent = async () => (await parsed(received.length - 1))[0];

test('a recurring product: paying starts a subscription; checkout.completed, subscription.active, subscription.paid follow in order', async () => {
  const c = await newCheckout('ord_sub_1', { productId: 'prod_pro_monthly', metadata: { order_id: 'ord_sub_1', product: 'pro_monthly' } });
  const t0 = Date.parse('2031-01-31T10:00:00.000Z');
  cr.setNow(t0);
  received.length = 0;
  const r = await cr.pay(c.id);
  assert.equal(r.status, 200);
  assert.match(r.subscription, /^sub_[A-Za-z0-9]{22}$/);
  const evs = await parsed();
  assert.deepEqual(evs.map((e) => e.eventType), ['checkout.completed', 'subscription.active', 'subscription.paid']);
  const [done, , paid] = evs;
  assert.equal(done.object.order.type, 'recurring');
  assert.equal(done.object.order.amount, 1990);
  assert.equal(done.object.subscription.id, r.subscription);
  assert.equal(paid.object.id, r.subscription);
  assert.equal(paid.object.status, 'active');
  assert.equal(paid.object.product.id, 'prod_pro_monthly');
  assert.equal(paid.object.product.billingType, 'recurring');
  const start = paid.object.currentPeriodStartDate.getTime();
  assert.ok(start >= t0 && start < t0 + 1000, 'the period starts when paid (fake clock)');
  assert.equal(paid.object.currentPeriodEndDate.getTime(), addMonths(start, 1));
  assert.match(paid.object.currentPeriodEndDate.toISOString(), /^2031-02-28T10:00:00/, 'a calendar month, clamped');
  assert.equal(paid.object.lastTransactionId, done.object.order.transaction);
  assert.equal(paid.object.lastTransaction.amount, 1990);
  assert.deepEqual(paid.object.metadata, { order_id: 'ord_sub_1', product: 'pro_monthly' }, 'the checkout metadata, inherited');
  assert.ok(done.createdAt >= t0 && done.createdAt < t0 + 1000, 'event time on the fake clock');
  assert.ok(Math.abs(Number(received[0].headers['webhook-timestamp']) - t0 / 1000) < 5, 'signed on the fake clock');
  const got = await sdk.subscriptions.get(r.subscription);
  assert.equal(got.id, r.subscription);
  assert.equal(got.status, 'active');
  assert.equal((await sdk.checkouts.retrieve(c.id)).subscription.id, r.subscription);
  await assert.rejects(sdk.subscriptions.get('sub_unknown'), (e) => e.statusCode === 404);
});

test('renew, fail, give up: periods follow on, duplicates share one event id, each signed on the fake clock', async () => {
  const c = await newCheckout('ord_sub_2', { productId: 'prod_pro_monthly' });
  cr.setNow(Date.parse('2031-03-01T00:00:00.000Z'));
  const { subscription: sub } = await cr.pay(c.id);
  const end1 = Date.parse(cr.subscription(sub).current_period_end_date);
  cr.setNow(Date.parse('2031-04-01T00:00:10.000Z'));
  received.length = 0;
  const r = await cr.renew(sub, { times: 3, parallel: true });
  assert.deepEqual(r.answers.map((a) => a.status), [200, 200, 200]);
  const evs = await parsed();
  assert.equal(new Set(evs.map((e) => e.id)).size, 1, 'one event, delivered three times');
  assert.equal(evs[0].eventType, 'subscription.paid');
  assert.equal(evs[0].object.currentPeriodStartDate.getTime(), end1, 'the next period starts where the last ended');
  assert.equal(evs[0].object.currentPeriodEndDate.getTime(), addMonths(end1, 1));
  assert.equal(evs[0].object.lastTransactionId, r.transaction);
  assert.notEqual(r.transaction, cr.checkout(c.id).order.transaction);
  for (const x of received) assert.ok(Math.abs(Number(x.headers['webhook-timestamp']) - Date.parse('2031-04-01T00:00:10Z') / 1000) < 5);

  received.length = 0;
  await cr.failRenewal(sub);
  await cr.giveUp(sub, { type: 'expired' });
  const [pd, ex] = await parsed();
  assert.equal(pd.eventType, 'subscription.past_due');
  assert.equal(pd.object.status, 'past_due');
  assert.equal(ex.eventType, 'subscription.expired');
  assert.equal(ex.object.status, 'canceled');
  await assert.rejects(cr.renew(sub), /is canceled/);
  cr.setNow(Date.now());
});

test('the SDK cancels (scheduled, then immediate), resumes and upgrades; each change is notified after the answer', async () => {
  const c = await newCheckout('ord_sub_3', { productId: 'prod_pro_monthly' });
  const t0 = Date.parse('2031-06-01T00:00:00.000Z');
  cr.setNow(t0);
  const { subscription: sub } = await cr.pay(c.id);
  received.length = 0;

  const sc = await sdk.subscriptions.cancel(sub, { mode: 'scheduled', onExecute: 'cancel' });
  assert.equal(sc.status, 'scheduled_cancel');
  const end = sc.currentPeriodEndDate.getTime();
  assert.equal(end, addMonths(sc.currentPeriodStartDate.getTime(), 1));
  await cr.settle();
  assert.equal((await lastEvent()).eventType, 'subscription.scheduled_cancel');
  assert.equal((await sdk.subscriptions.cancel(sub, { mode: 'scheduled' })).status, 'scheduled_cancel', 'a repeat is a no-op');
  await cr.settle();
  assert.equal(received.length, 1, 'and sends nothing');

  const rs = await sdk.subscriptions.resume(sub);
  assert.equal(rs.status, 'active');
  assert.equal(rs.canceledAt, null);
  await cr.settle();
  const up1 = (await lastEvent());
  assert.equal(up1.eventType, 'subscription.update');
  assert.equal(up1.object.status, 'active');
  await assert.rejects(sdk.subscriptions.resume(sub), (e) => e.statusCode === 400);

  cr.setNow(t0 + 15 * 86400000); // half of June
  const ug = await sdk.subscriptions.upgrade(sub, { productId: 'prod_max_monthly', updateBehavior: 'proration-charge-immediately' });
  assert.equal(ug.product.id, 'prod_max_monthly');
  assert.equal(ug.currentPeriodEndDate.getTime(), end, 'same period');
  const prorated = cr.transaction(ug.lastTransactionId);
  assert.equal(prorated.amount, 1500, '(4990 - 1990) x 15/30 days, charged now');
  await cr.settle();
  const up2 = (await lastEvent());
  assert.equal(up2.eventType, 'subscription.update');
  assert.equal(up2.object.product.id, 'prod_max_monthly');
  await assert.rejects(sdk.subscriptions.upgrade(sub, { productId: 'prod_max_monthly' }), (e) => e.statusCode === 400);
  await assert.rejects(sdk.subscriptions.upgrade(sub, { productId: 'prod_credits_115' }), (e) => e.statusCode === 400);
  await assert.rejects(sdk.subscriptions.upgrade(sub, { productId: 'prod_nope' }), (e) => e.statusCode === 404);
  const down = await sdk.subscriptions.upgrade(sub, { productId: 'prod_pro_monthly', updateBehavior: 'proration-none' });
  assert.equal(down.product.id, 'prod_pro_monthly');
  assert.equal(down.lastTransactionId, ug.lastTransactionId, 'nothing charged');
  const renewed = await cr.renew(sub, { deliver: false });
  assert.equal(cr.transaction(renewed.transaction).amount, 1990, 'the next period at the new price');

  const now = await sdk.subscriptions.cancel(sub, { mode: 'immediate' });
  assert.equal(now.status, 'canceled');
  await cr.settle();
  assert.equal((await lastEvent()).eventType, 'subscription.canceled');
  await assert.rejects(sdk.subscriptions.cancel(sub, { mode: 'scheduled' }), (e) => e.statusCode === 400);
  await assert.rejects(sdk.subscriptions.cancel('sub_unknown', { mode: 'scheduled' }), (e) => e.statusCode === 404);
  const bad = new Creem({ apiKey: 'creem_test_wrong', serverURL: cr.url });
  await assert.rejects(bad.subscriptions.cancel(sub, { mode: 'scheduled' }), (e) => e.statusCode === 401);

  // A scheduled cancel that runs to its end.
  const d = await newCheckout('ord_sub_4', { productId: 'prod_pro_yearly' });
  const { subscription: sub2 } = await cr.pay(d.id);
  const y = cr.subscription(sub2);
  assert.equal(Date.parse(y.current_period_end_date), addMonths(Date.parse(y.current_period_start_date), 12), 'a yearly product: +12 months');
  await sdk.subscriptions.cancel(sub2, { mode: 'scheduled' });
  await cr.settle();
  received.length = 0;
  await cr.runToPeriodEnd(sub2);
  const [ended] = await parsed();
  assert.equal(ended.eventType, 'subscription.canceled');
  assert.equal(ended.object.status, 'canceled');
  cr.fail('subscription', { status: 503, times: 1 });
  await assert.rejects(sdk.subscriptions.get(sub2), (e) => e.statusCode === 503);
  cr.setNow(Date.now());
});

test('event timing: an API call\'s event after a delay, or delivered before the call is answered', async () => {
  const c = await newCheckout('ord_sub_5', { productId: 'prod_pro_monthly' });
  const { subscription: sub } = await cr.pay(c.id);
  received.length = 0;
  cr.setEventTiming({ before: true });
  await sdk.subscriptions.cancel(sub, { mode: 'scheduled' });
  assert.equal(received.length, 1, 'delivered before the answer came back');
  assert.equal(JSON.parse(received[0].body).eventType, 'subscription.scheduled_cancel');
  cr.setEventTiming({ delayMs: 150 });
  const t = Date.now();
  await sdk.subscriptions.resume(sub);
  assert.equal(received.length, 1, 'not yet');
  await cr.settle();
  assert.equal(received.length, 2);
  assert.ok(Date.now() - t >= 150);
  cr.setEventTiming();
});
