// The fake Stripe (tests/fakes/stripe.mjs) checked on its own, against the npm stripe package:
// the SDK is the client of the fake's API (so the fake reads form bodies exactly as Stripe's
// own client writes them), and a receiver verifies the fake's webhooks with
// stripe.webhooks.constructEvent. The payment tests trust the fake to behave as Stripe does.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { startFakeStripe, parseStripeForm, addMonths } from '../fakes/stripe.mjs';

const require = createRequire(import.meta.url);
const Stripe = require('stripe');
const here = path.dirname(fileURLToPath(import.meta.url));

let st, client, receiver, received;

function sdkFor(fake, key) {
  return new Stripe(key, { host: '127.0.0.1', port: fake.port, protocol: 'http', maxNetworkRetries: 0, telemetry: false });
}

before(async () => {
  st = await startFakeStripe();
  client = sdkFor(st, st.secretKey);
  received = [];
  receiver = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      try {
        // the fake's clock may be moved (setNow): the signature is checked as of that time
        const ev = client.webhooks.constructEvent(raw, req.headers['stripe-signature'], st.webhookSecret, undefined, undefined, st.now() * 1000);
        received.push({ ev, contentType: req.headers['content-type'] });
        res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"received":true}');
      } catch (e) {
        received.push({ error: e.message });
        res.writeHead(400).end(e.message);
      }
    });
  });
  await new Promise((r) => receiver.listen(0, '127.0.0.1', r));
  st.setWebhook(`http://127.0.0.1:${receiver.address().port}/hook`);
});

after(async () => {
  await st.close();
  await new Promise((r) => receiver.close(r));
});

async function waitFor(pred, ms = 3000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const v = pred();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('timed out waiting');
}

const ORDER = 'ord_01JDZ8K6Q3V5X7Y9A1B2C3D4E5';

function sessionParams(over = {}) {
  return {
    mode: 'payment',
    success_url: `https://pay.example.com/api/v1/orders/${ORDER}/return`,
    cancel_url: 'https://app.example.com/buy',
    client_reference_id: ORDER,
    metadata: { order_id: ORDER },
    payment_intent_data: { metadata: { order_id: ORDER } },
    line_items: [{ price_data: { currency: 'usd', unit_amount: 990, product_data: { name: '115 credits' } }, quantity: 1 }],
    ...over,
  };
}

const paramsFor = (oid) => sessionParams({ client_reference_id: oid, metadata: { order_id: oid }, payment_intent_data: { metadata: { order_id: oid } } });

test('parseStripeForm reads nested keys, arrays and encodings as Stripe does', () => {
  assert.deepEqual(parseStripeForm('line_items[0][price_data][currency]=usd&line_items[0][quantity]=1&metadata[order_id]=ord_1&a=x+y%20z&b[]=1&b[]=2'), {
    line_items: [{ price_data: { currency: 'usd' }, quantity: '1' }],
    metadata: { order_id: 'ord_1' },
    a: 'x y z',
    b: ['1', '2'],
  });
  assert.deepEqual(parseStripeForm('line_items%5B0%5D%5Bprice%5D=price_1'), { line_items: [{ price: 'price_1' }] }, 'percent-encoded brackets');
  assert.throws(() => parseStripeForm('a=1&a[b]=2'), /conflicts/);
  assert.throws(() => parseStripeForm('a]b=1'), /malformed/);
});

test('the SDK creates and retrieves a Checkout Session with an inline price', async () => {
  const s = await client.checkout.sessions.create(sessionParams(), { idempotencyKey: 'idem-create-1' });
  assert.match(s.id, /^cs_test_[A-Za-z0-9]+$/);
  assert.equal(s.object, 'checkout.session');
  assert.equal(s.amount_total, 990);
  assert.equal(s.currency, 'usd');
  assert.equal(s.client_reference_id, ORDER);
  assert.deepEqual(s.metadata, { order_id: ORDER });
  assert.equal(s.status, 'open');
  assert.equal(s.payment_status, 'unpaid');
  assert.equal(s.payment_intent, null);
  assert.ok(s.url.startsWith(`${st.url}/c/pay/${s.id}#`));
  const got = await client.checkout.sessions.retrieve(s.id);
  assert.deepEqual(got, s);
  const last = st.requests.at(-2);
  assert.equal(last.contentType, 'application/x-www-form-urlencoded');
  assert.equal(last.idempotencyKey, 'idem-create-1');
});

test('Idempotency-Key: the same body replays the first session, another body is an idempotency_error', async () => {
  const a = await client.checkout.sessions.create(sessionParams(), { idempotencyKey: 'idem-2' });
  const b = await client.checkout.sessions.create(sessionParams(), { idempotencyKey: 'idem-2' });
  assert.equal(b.id, a.id);
  await assert.rejects(
    client.checkout.sessions.create(sessionParams({ customer_email: 'x@example.com' }), { idempotencyKey: 'idem-2' }),
    (e) => e.type === 'StripeIdempotencyError' && e.statusCode === 400,
  );
});

test('a wrong key is 401, Basic auth with the key works, unknown and missing parameters are 400', async () => {
  await assert.rejects(sdkFor(st, 'sk_test_wrong').checkout.sessions.create(sessionParams()), (e) => e.statusCode === 401 && e.type === 'StripeAuthenticationError');
  const basic = await fetch(`${st.url}/v1/checkout/sessions`, {
    method: 'POST',
    headers: { Authorization: `Basic ${Buffer.from(`${st.secretKey}:`).toString('base64')}`, 'Content-Type': 'application/x-www-form-urlencoded' },
    body: `mode=payment&success_url=https%3A%2F%2Fa.example%2F&line_items[0][price_data][currency]=USD&line_items[0][price_data][unit_amount]=100&line_items[0][price_data][product_data][name]=x&line_items[0][quantity]=1`,
  });
  assert.equal(basic.status, 200);
  assert.equal((await basic.json()).currency, 'usd', 'currency read case-insensitively, answered lower-case');
  await assert.rejects(client.checkout.sessions.create(sessionParams({ colour: 'red' })), (e) => e.statusCode === 400 && e.code === 'parameter_unknown' && e.param === 'colour');
  await assert.rejects(client.checkout.sessions.create(sessionParams({ success_url: undefined })), (e) => e.code === 'parameter_missing');
  await assert.rejects(client.checkout.sessions.create(sessionParams({ expires_at: Math.floor(Date.now() / 1000) + 600 })), (e) => e.param === 'expires_at');
  await assert.rejects(client.checkout.sessions.retrieve('cs_test_nope'), (e) => e.statusCode === 404 && e.code === 'resource_missing');
});

test('a catalog price id prices the session', async () => {
  st.setPrice('price_1Credits115', { unit_amount: 990, currency: 'USD', name: '115 credits' });
  const s = await client.checkout.sessions.create(sessionParams({ line_items: [{ price: 'price_1Credits115', quantity: 1 }] }));
  assert.equal(s.amount_total, 990);
  await assert.rejects(client.checkout.sessions.create(sessionParams({ line_items: [{ price: 'price_nope', quantity: 1 }] })), (e) => e.code === 'resource_missing');
});

test('pay() completes the session and delivers checkout.session.completed, verified by constructEvent', async () => {
  received.length = 0;
  const s = await client.checkout.sessions.create(sessionParams());
  const r = await st.pay(ORDER);
  assert.equal(r.session, s.id);
  assert.equal(r.delivery.status, 200);
  assert.equal(received.length, 1);
  const { ev, contentType } = received[0];
  assert.equal(contentType, 'application/json; charset=utf-8');
  assert.equal(ev.type, 'checkout.session.completed');
  assert.equal(ev.data.object.id, s.id);
  assert.equal(ev.data.object.payment_status, 'paid');
  assert.equal(ev.data.object.status, 'complete');
  assert.match(ev.data.object.payment_intent, /^pi_/);
  const again = await client.checkout.sessions.retrieve(s.id);
  assert.equal(again.payment_status, 'paid');
});

test('refunds: partial, too large, the rest, then already refunded; refund.created and charge.refunded follow', async () => {
  received.length = 0;
  await client.checkout.sessions.create(paramsFor('ord_01JDZ8K6Q3V5X7Y9A1B2C3D4R1'));
  const paid = await st.pay('ord_01JDZ8K6Q3V5X7Y9A1B2C3D4R1');
  const pi = st.sessionFor(paid.session).payment_intent;
  const r1 = await client.refunds.create({ payment_intent: pi, amount: 300, metadata: { refund_id: 'rfd_1' } }, { idempotencyKey: 'rfd_1' });
  assert.equal(r1.status, 'succeeded');
  assert.equal(r1.amount, 300);
  assert.deepEqual(r1.metadata, { refund_id: 'rfd_1' });
  const r1again = await client.refunds.create({ payment_intent: pi, amount: 300, metadata: { refund_id: 'rfd_1' } }, { idempotencyKey: 'rfd_1' });
  assert.equal(r1again.id, r1.id, 'a retried refund under its key is the same refund');
  await assert.rejects(client.refunds.create({ payment_intent: pi, amount: 700 }), (e) => e.code === 'amount_too_large');
  const r2 = await client.refunds.create({ payment_intent: pi });
  assert.equal(r2.amount, 690);
  await assert.rejects(client.refunds.create({ payment_intent: pi, amount: 1 }), (e) => e.code === 'charge_already_refunded');
  await waitFor(() => received.filter((x) => x.ev?.type === 'charge.refunded').length === 2);
  const types = received.map((x) => x.ev.type);
  assert.deepEqual(types.filter((t) => t === 'refund.created').length, 2);
  const lastCharge = received.filter((x) => x.ev.type === 'charge.refunded').at(-1).ev.data.object;
  assert.equal(lastCharge.amount_refunded, 990);
  assert.equal(lastCharge.refunded, true);
  assert.equal(lastCharge.refunds.data[0].id, r2.id, 'newest refund first');
  assert.deepEqual(lastCharge.metadata, { order_id: 'ord_01JDZ8K6Q3V5X7Y9A1B2C3D4R1' });
});

test('controls: lose the next event, deliver one many times in parallel, forced API failures, stale signatures', async () => {
  received.length = 0;
  const oid = 'ord_01JDZ8K6Q3V5X7Y9A1B2C3D4C1';
  await client.checkout.sessions.create(paramsFor(oid));
  st.loseNext(1);
  const paid = await st.pay(oid);
  assert.equal(paid.delivery, null);
  assert.equal(received.length, 0);
  const ds = await st.deliver(paid.event, { times: 5, parallel: true });
  assert.deepEqual(ds.map((d) => d.status), [200, 200, 200, 200, 200]);
  assert.equal(received.length, 5);
  assert.ok(received.every((x) => x.ev.id === paid.event));
  const stale = await st.deliver(paid.event, { timestamp: Math.floor(Date.now() / 1000) - 600 });
  assert.equal(stale[0].status, 400, 'constructEvent refuses a stale signature');
  const forged = await st.deliver(paid.event, { secret: 'whsec_someone_else' });
  assert.equal(forged[0].status, 400);

  st.failCheckout(503, { times: 1 });
  await assert.rejects(client.checkout.sessions.create(sessionParams()), (e) => e.statusCode === 503);
  const ok = await client.checkout.sessions.create(sessionParams());
  assert.match(ok.id, /^cs_test_/);
  st.failQuery(500, { times: 1 });
  await assert.rejects(client.checkout.sessions.retrieve(ok.id), (e) => e.statusCode === 500);
  st.failCheckout('timeout', { times: 1 });
  await assert.rejects(new Stripe(st.secretKey, { host: '127.0.0.1', port: st.port, protocol: 'http', maxNetworkRetries: 0, timeout: 500 }).checkout.sessions.create(sessionParams()), (e) => e.type === 'StripeConnectionError');
  st.clearFailures();
  const exp = await client.checkout.sessions.create(sessionParams({ client_reference_id: 'ord_01JDZ8K6Q3V5X7Y9A1B2C3D4X1' }));
  await st.expire(exp.id);
  assert.equal((await client.checkout.sessions.retrieve(exp.id)).status, 'expired');
  assert.equal(received.at(-1).ev.type, 'checkout.session.expired');
});

// ---- subscriptions ----------------------------------------------------------------------------

const SUB_ORDER = 'ord_01JDZ8K6Q3V5X7Y9A1B2C3D4S1';
function subParams(oid = SUB_ORDER, over = {}) {
  return {
    mode: 'subscription',
    success_url: `https://pay.example.com/api/v1/orders/${oid}/return`,
    cancel_url: 'https://app.example.com/buy',
    client_reference_id: oid,
    metadata: { order_id: oid },
    subscription_data: { metadata: { order_id: oid, product: 'pro_monthly' } },
    line_items: [{ price_data: { currency: 'usd', unit_amount: 1990, product_data: { name: 'Pro' }, recurring: { interval: 'month' } }, quantity: 1 }],
    ...over,
  };
}
const byType = (type) => received.filter((x) => x.ev?.type === type).map((x) => x.ev.data.object);

test('addMonths: calendar months, the day clamped to the month', () => {
  const t = (s) => Date.parse(s) / 1000;
  assert.equal(addMonths(t('2026-01-31T05:00:00Z'), 1), t('2026-02-28T05:00:00Z'));
  assert.equal(addMonths(t('2028-01-31T05:00:00Z'), 1), t('2028-02-29T05:00:00Z'));
  assert.equal(addMonths(t('2026-11-15T12:34:56Z'), 2), t('2027-01-15T12:34:56Z'));
  assert.equal(addMonths(t('2026-03-31T00:00:00Z'), 12), t('2027-03-31T00:00:00Z'));
});

test('subscription mode: the SDK\'s session needs a recurring price and refuses payment_intent_data; payment mode refuses a recurring one', async () => {
  const s = await client.checkout.sessions.create(subParams('ord_01JDZ8K6Q3V5X7Y9A1B2C3D4S0'));
  assert.equal(s.mode, 'subscription');
  assert.equal(s.subscription, null);
  assert.equal(s.amount_total, 1990);
  const noRecurring = subParams('ord_01JDZ8K6Q3V5X7Y9A1B2C3D4S0');
  delete noRecurring.line_items[0].price_data.recurring;
  await assert.rejects(client.checkout.sessions.create(noRecurring), (e) => e.statusCode === 400 && e.param === 'line_items[0]');
  await assert.rejects(client.checkout.sessions.create(subParams(undefined, { payment_intent_data: { metadata: { order_id: SUB_ORDER } } })),
    (e) => e.statusCode === 400 && e.param === 'payment_intent_data');
  await assert.rejects(client.checkout.sessions.create(sessionParams({ line_items: subParams().line_items })), (e) => e.statusCode === 400);
  await assert.rejects(client.checkout.sessions.create(sessionParams({ subscription_data: { metadata: { order_id: ORDER } } })), (e) => e.param === 'subscription_data');
  st.setPrice('price_fake_pro_monthly', { unit_amount: 1990, currency: 'usd', interval: 'month' });
  const byPrice = await client.checkout.sessions.create(subParams('ord_01JDZ8K6Q3V5X7Y9A1B2C3D4S0', { line_items: [{ price: 'price_fake_pro_monthly', quantity: 1 }] }));
  assert.equal(byPrice.amount_total, 1990);
});

test('paying a subscription session at a moved clock: subscription, first invoice, events signed at that time', async () => {
  received.length = 0;
  const t0 = Math.floor(Date.now() / 1000) + 40 * 86400; // Tollgate's clock moved 40 days ahead
  const s = await client.checkout.sessions.create(subParams());
  const r = await st.pay(SUB_ORDER, { now: t0, both: true });
  assert.equal(st.now() - t0 <= 2, true);
  assert.match(r.subscription, /^sub_/);
  assert.match(r.invoice, /^in_/);
  assert.deepEqual(received.map((x) => x.ev?.type), ['checkout.session.completed', 'invoice.paid', 'invoice.payment_succeeded']);
  for (const { ev } of received) assert.ok(Math.abs(ev.created - t0) <= 2, 'stamped with the fake clock');
  const cs = byType('checkout.session.completed')[0];
  assert.equal(cs.id, s.id);
  assert.equal(cs.mode, 'subscription');
  assert.equal(cs.subscription, r.subscription);
  assert.equal(cs.payment_status, 'paid');
  assert.equal(cs.payment_intent, null);
  const inv = byType('invoice.paid')[0];
  assert.equal(inv.id, r.invoice);
  assert.equal(inv.billing_reason, 'subscription_create');
  assert.equal(inv.amount_paid, 1990);
  assert.deepEqual(inv.parent.subscription_details, { metadata: { order_id: SUB_ORDER, product: 'pro_monthly' }, subscription: r.subscription });
  const line = inv.lines.data[0];
  assert.equal(line.parent.subscription_item_details.proration, false);
  const sub = await client.subscriptions.retrieve(r.subscription);
  assert.deepEqual(line.period, { start: sub.items.data[0].current_period_start, end: sub.items.data[0].current_period_end });
  assert.equal(sub.items.data[0].current_period_end, addMonths(sub.items.data[0].current_period_start, 1));
  assert.equal(sub.status, 'active');
  assert.deepEqual(sub.metadata, { order_id: SUB_ORDER, product: 'pro_monthly' });
  assert.equal(byType('invoice.payment_succeeded')[0].id, r.invoice, 'the same invoice in both events');
  assert.equal((await client.checkout.sessions.retrieve(s.id)).subscription, r.subscription);
});

test('the SDK cancels at period end, resumes, changes the price with an invoiced proration, and cancels now', async () => {
  const sub0 = st.subscriptionFor(SUB_ORDER);
  received.length = 0;
  const c = await client.subscriptions.update(sub0.id, { cancel_at_period_end: true }, { idempotencyKey: 'k-cancel-1' });
  assert.equal(c.cancel_at_period_end, true);
  const r = await client.subscriptions.update(sub0.id, { cancel_at_period_end: false });
  assert.equal(r.cancel_at_period_end, false);
  const item = r.items.data[0];
  const up = await client.subscriptions.update(sub0.id, {
    items: [{ id: item.id, price_data: { currency: 'usd', product: item.price.product, unit_amount: 4990, recurring: { interval: 'month' } } }],
    proration_behavior: 'always_invoice', payment_behavior: 'error_if_incomplete', metadata: { product: 'max_monthly' },
  }, { idempotencyKey: 'k-up-1' });
  assert.equal(up.items.data[0].price.unit_amount, 4990);
  assert.equal(up.items.data[0].id, item.id);
  assert.equal(up.metadata.product, 'max_monthly');
  assert.equal(up.metadata.order_id, SUB_ORDER);
  const replay = await client.subscriptions.update(sub0.id, {
    items: [{ id: item.id, price_data: { currency: 'usd', product: item.price.product, unit_amount: 4990, recurring: { interval: 'month' } } }],
    proration_behavior: 'always_invoice', payment_behavior: 'error_if_incomplete', metadata: { product: 'max_monthly' },
  }, { idempotencyKey: 'k-up-1' });
  assert.equal(replay.lastResponse.headers['idempotent-replayed'], 'true');
  await waitFor(() => byType('invoice.paid').length === 1);
  const pr = byType('invoice.paid')[0];
  assert.equal(pr.billing_reason, 'subscription_update');
  assert.equal(pr.lines.data.length, 2);
  assert.ok(pr.lines.data.every((l) => l.parent.subscription_item_details.proration === true));
  assert.equal(pr.amount_paid, pr.lines.data[0].amount + pr.lines.data[1].amount);
  assert.equal(st.invoicesFor(sub0.id).filter((i) => i.billing_reason === 'subscription_update').length, 1, 'the replay made no second proration');
  await waitFor(() => byType('customer.subscription.updated').length === 3);
  assert.deepEqual(byType('customer.subscription.updated').map((x) => x.cancel_at_period_end), [true, false, false]);
  assert.equal(byType('customer.subscription.updated')[2].items.data[0].price.unit_amount, 4990);
  await assert.rejects(client.subscriptions.update(sub0.id, { items: [{ id: 'si_nope', price: 'price_fake_pro_monthly' }] }), (e) => e.statusCode === 400);
  await assert.rejects(client.subscriptions.update('sub_nope', { cancel_at_period_end: true }), (e) => e.statusCode === 404 && e.code === 'resource_missing');
  const forms = st.requestsTo(`/v1/subscriptions/${sub0.id}`).filter((x) => x.method === 'POST');
  assert.deepEqual(forms[0].form, { cancel_at_period_end: 'true' });
  assert.equal(forms[0].idempotencyKey, 'k-cancel-1');
  const gone = await client.subscriptions.cancel(sub0.id);
  assert.equal(gone.status, 'canceled');
  await waitFor(() => byType('customer.subscription.deleted').length === 1);
  await assert.rejects(client.subscriptions.cancel(sub0.id), (e) => e.statusCode === 400);
  await assert.rejects(client.subscriptions.update(sub0.id, { cancel_at_period_end: false }), (e) => e.statusCode === 400);
});

test('renewals: the next calendar month, invoice.paid and invoice.payment_succeeded, repeated; a failed one, then Stripe gives up', async () => {
  const oid = 'ord_01JDZ8K6Q3V5X7Y9A1B2C3D4S2';
  await client.checkout.sessions.create(subParams(oid));
  const t0 = Math.floor(Date.now() / 1000);
  const p = await st.pay(oid, { now: t0 });
  const sub = await client.subscriptions.retrieve(p.subscription);
  const end0 = sub.items.data[0].current_period_end;
  received.length = 0;
  const r1 = await st.renew(oid, { now: end0 + 60, times: 2, both: true, updated: true });
  assert.deepEqual(r1.period, { start: end0, end: addMonths(end0, 1) });
  assert.deepEqual(received.map((x) => x.ev.type), ['customer.subscription.updated', 'invoice.paid', 'invoice.paid', 'invoice.payment_succeeded', 'invoice.payment_succeeded']);
  assert.equal(new Set(received.slice(1).map((x) => x.ev.id)).size, 2, 'a repeat is the same event');
  const inv = byType('invoice.paid')[0];
  assert.equal(inv.id, r1.invoice);
  assert.equal(inv.billing_reason, 'subscription_cycle');
  assert.deepEqual(inv.lines.data[0].period, r1.period);
  assert.equal(byType('customer.subscription.updated')[0].items.data[0].current_period_end, r1.period.end);
  received.length = 0;
  const f = await st.failRenewal(oid, { now: r1.period.end + 60 });
  assert.deepEqual(received.map((x) => x.ev.type), ['invoice.payment_failed', 'customer.subscription.updated']);
  assert.equal(byType('invoice.payment_failed')[0].amount_paid, 0);
  assert.equal(byType('invoice.payment_failed')[0].id, f.invoice);
  assert.equal(byType('customer.subscription.updated')[0].status, 'past_due');
  await st.giveUp(oid, { now: r1.period.end + 86400 * 14 });
  assert.equal(received.at(-1).ev.type, 'customer.subscription.deleted');
  assert.equal(received.at(-1).ev.data.object.status, 'canceled');
  assert.equal(received.at(-1).ev.created, st.now());
});

test('the legacy API shape: invoice.subscription, subscription_details, period on the subscription', async () => {
  const oid = 'ord_01JDZ8K6Q3V5X7Y9A1B2C3D4S3';
  st.setApiShape('legacy');
  try {
    await client.checkout.sessions.create(subParams(oid));
    received.length = 0;
    const p = await st.pay(oid, { now: Math.floor(Date.now() / 1000) });
    const inv = byType('invoice.paid')[0];
    assert.equal(inv.subscription, p.subscription);
    assert.equal(inv.parent, undefined);
    assert.deepEqual(inv.subscription_details.metadata, { order_id: oid, product: 'pro_monthly' });
    assert.equal(inv.lines.data[0].type, 'subscription');
    const sub = await client.subscriptions.retrieve(p.subscription);
    assert.equal(sub.current_period_end, inv.lines.data[0].period.end);
    assert.equal(sub.items.data[0].current_period_end, undefined);
  } finally {
    st.setApiShape('basil');
  }
});

test('as a child process: prints its address and obeys POST /__control/<method>', async () => {
  const child = spawn(process.execPath, [path.join(here, '..', 'fakes', 'stripe.mjs'), '--exit-on-stdin-close'], { stdio: ['pipe', 'pipe', 'inherit'] });
  try {
    const line = await new Promise((resolve, reject) => {
      let buf = '';
      child.stdout.on('data', (c) => {
        buf += c;
        if (buf.includes('\n')) resolve(buf.split('\n')[0]);
      });
      child.on('exit', () => reject(new Error('exited')));
    });
    const info = JSON.parse(line);
    assert.match(info.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.match(info.secretKey, /^sk_test_/);
    assert.match(info.webhookSecret, /^whsec_/);
    const c = new Stripe(info.secretKey, { host: '127.0.0.1', port: info.port, protocol: 'http', maxNetworkRetries: 0 });
    const s = await c.checkout.sessions.create(sessionParams());
    const r = await fetch(`${info.url}/__control/pay`, { method: 'POST', body: JSON.stringify([s.id]) });
    assert.equal(r.status, 200);
    assert.equal((await c.checkout.sessions.retrieve(s.id)).payment_status, 'paid');
    const stateR = await (await fetch(`${info.url}/__control/state`)).json();
    assert.equal(stateR.result.events[0].type, 'checkout.session.completed');
  } finally {
    child.stdin.end();
    await new Promise((r) => child.on('exit', r));
  }
});
