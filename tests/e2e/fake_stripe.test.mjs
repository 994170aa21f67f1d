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
import { startFakeStripe, parseStripeForm } from '../fakes/stripe.mjs';

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
        const ev = client.webhooks.constructEvent(raw, req.headers['stripe-signature'], st.webhookSecret);
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
