// Buying credits with Stripe, end to end: the real binary against the fake Stripe
// (tests/fakes/stripe.mjs), whose webhooks are signed by the npm stripe package. Covers the
// happy path (order -> Checkout Session -> paid at Stripe -> signed checkout.session.completed
// -> {"received":true} -> order paid, credits and one purchase entry), duplicate deliveries in
// parallel, out-of-order and delayed-method events, forged, stale and tampered notifications
// (400, nothing changes, an audit row), amounts and currencies that do not match the order,
// unknown orders, a lost notification recovered by the return page and by the pending-order
// job, refunds (full, partial adding up, refused by Tollgate and declined by Stripe, a refund
// made in Stripe's dashboard), and Stripe down at checkout (the next provider).

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Server, freePort, invariantTest, assertError, assertStatus, errorShapeProblem, LOOSE_LIMITS, sleep } from './lib/server.mjs';
import { startFakeStripe } from '../fakes/stripe.mjs';

const ORDERS = '/api/v1/orders';
const GLOBAL = { 'x-user-region': 'GLOBAL' };

describe('Stripe payments', () => {
  let srv, st, admin, seq = 0;

  before(async () => {
    st = await startFakeStripe();
    srv = new Server({
      env: {
        TG_STRIPE_SECRET_KEY: st.secretKey,
        TG_STRIPE_WEBHOOK_SECRET: st.webhookSecret,
        TG_STRIPE_API_BASE: st.url,
        TG_SANDBOX: 'on',
        TG_REGION_GLOBAL_PAYMENT: 'stripe,sandbox',
        TG_TRUSTED_PROXIES: '127.0.0.1/32',
        TG_ORDER_QUERY_AFTER: '1',
        TG_SIGNUP_CREDITS_REQUIRE_VERIFIED: 'off',
        TG_RATE_LIMITS: `${LOOSE_LIMITS},payment=100000/1h`,
      },
    });
    srv.port = await freePort();
    srv.opts.env.TG_PUBLIC_URL = `http://127.0.0.1:${srv.port}`;
    srv.secrets.add(st.secretKey);
    srv.secrets.add(st.webhookSecret);
    await srv.start();
    st.setWebhook(`${srv.url}/api/v1/webhooks/stripe`);
    admin = await srv.admin();
  });
  after(async () => {
    await st?.close();
    srv?.cleanup();
  });

  const buyer = () => srv.register({ tag: `stripe${++seq}` });
  const credits = async (u) => (await srv.get('/api/v1/credits', { token: u.token })).body.paid_credits;
  const order = async (u, id) => {
    const r = await srv.get(`${ORDERS}/${id}`, { token: u.token });
    assertStatus(r, 200);
    return r.body;
  };
  const purchases = async (u, orderId) =>
    (await srv.get('/api/v1/credits/ledger?limit=100', { token: u.token })).body.data.filter((e) => e.kind === 'purchase' && e.ref_id === orderId);
  const audit = async (action) =>
    (await srv.get('/api/v1/admin/audit-log?limit=100', { token: admin.token })).body.data.filter((e) => e.action === action);

  /** A Stripe order for u: 201, pending, the session's URL. */
  async function buy(u, product = 'credits_115') {
    const r = await srv.post(ORDERS, { product, provider: 'stripe' }, { token: u.token, headers: GLOBAL });
    assertStatus(r, 201, 'order created');
    assert.equal(r.body.provider, 'stripe');
    assert.equal(r.body.status, 'pending');
    assert.ok(r.body.checkout.url.startsWith(`${st.url}/c/pay/cs_test_`), r.body.checkout.url);
    return r.body;
  }

  /** The session of an order, paid at Stripe with its notification lost; returns {event, session}. */
  async function paidSilently(o) {
    st.loseNext(1);
    const p = await st.pay(o.id);
    assert.equal(p.delivery, null);
    return { event: st.events.find((e) => e.id === p.event), session: st.sessionFor(o.id) };
  }

  it('happy path: order -> Checkout Session -> paid -> {"received":true} -> paid, +115 credits, one purchase entry', async () => {
    const u = await buyer();
    assert.equal(await credits(u), 8);
    const before = st.requests.length;
    const o = await buy(u);
    assert.deepEqual(o.amount, { amount: 990, currency: 'USD' });

    // What Tollgate sent to Stripe.
    const sent = st.requests.slice(before).filter((q) => q.method === 'POST' && q.path === '/v1/checkout/sessions');
    assert.equal(sent.length, 1, 'one create call');
    assert.equal(sent[0].idempotencyKey, o.id, 'Idempotency-Key is the order id');
    const s = st.sessionFor(o.id);
    assert.equal(s.client_reference_id, o.id);
    assert.deepEqual(s.metadata, { order_id: o.id });
    assert.equal(s.amount_total, 990);
    assert.equal(s.currency, 'usd');
    assert.equal(s.mode, 'payment');
    assert.equal(s.success_url, `${srv.url}/api/v1/orders/${o.id}/return`);
    assert.ok(o.checkout.url.startsWith(`${st.url}/c/pay/${s.id}`));

    const p = await st.pay(o.id);
    assert.equal(p.delivery.status, 200);
    assert.equal(p.delivery.body, '{"received":true}');
    assert.match(p.delivery.contentType, /^application\/json/);
    const after = await order(u, o.id);
    assert.equal(after.status, 'paid');
    assert.ok(after.paid_at);
    assert.equal(await credits(u), 8 + 115);
    const led = await purchases(u, o.id);
    assert.equal(led.length, 1);
    assert.equal(led[0].delta, 115);
  });

  it('the same notification 10 times in parallel: 200 each, credits once', async () => {
    const u = await buyer();
    const o = await buy(u);
    const { event } = await paidSilently(o);
    const ds = await st.deliver(event, { times: 10, parallel: true });
    assert.deepEqual(ds.map((d) => d.status), Array(10).fill(200));
    assert.ok(ds.every((d) => d.body === '{"received":true}'));
    assert.equal((await order(u, o.id)).status, 'paid');
    assert.equal(await credits(u), 8 + 115);
    assert.equal((await purchases(u, o.id)).length, 1);
    // ... and again later, one by one
    const again = await st.deliver(event, { times: 3 });
    assert.deepEqual(again.map((d) => d.status), [200, 200, 200]);
    assert.equal(await credits(u), 8 + 115);
  });

  it('out of order: a delayed method (completed unpaid, then async success), a late expiry, a late duplicate', async () => {
    const u = await buyer();
    const o = await buy(u);
    const p = await st.pay(o.id, { async: true });
    assert.equal(p.delivery.status, 200, 'completed but unpaid: acknowledged');
    assert.equal((await order(u, o.id)).status, 'pending');
    assert.equal(await credits(u), 8);
    const ok = await st.asyncSucceed(o.id);
    assert.equal(ok.status, 200);
    assert.equal((await order(u, o.id)).status, 'paid');
    assert.equal(await credits(u), 8 + 115);
    // An expiry notice arriving after the payment changes nothing.
    const session = st.sessionFor(o.id);
    const late = st.event('checkout.session.expired', { ...session, status: 'expired', payment_status: 'unpaid' });
    assert.equal((await st.deliver(late))[0].status, 200);
    assert.equal((await order(u, o.id)).status, 'paid');
    // The first (unpaid) completion delivered again after the payment: still nothing.
    const first = st.events.find((e) => e.id === p.event);
    assert.equal((await st.deliver(first))[0].status, 200);
    assert.equal(await credits(u), 8 + 115);
    assert.equal((await purchases(u, o.id)).length, 1);
  });

  it('an expired session marks its pending order failed', async () => {
    const u = await buyer();
    const o = await buy(u);
    const d = await st.expire(o.id);
    assert.equal(d.status, 200);
    assert.equal((await order(u, o.id)).status, 'failed');
    assert.equal(await credits(u), 8);
  });

  it('forged signature: 400, nothing changes, payment.webhook_rejected audited; the real one then pays', async () => {
    const u = await buyer();
    const o = await buy(u);
    const { event } = await paidSilently(o);
    const before = (await audit('payment.webhook_rejected')).length;
    const forged = await st.deliver(event, { secret: 'whsec_attacker_guess_0123456789' });
    assert.equal(forged[0].status, 400);
    assert.equal(forged[0].body.includes('"received"'), false);
    // a signature header copied from another event
    const other = st.event('checkout.session.completed', { ...st.sessionFor(o.id), amount_total: 1 });
    const copied = await st.deliver(other, { header: st.sign(JSON.stringify(event, null, 2)) });
    assert.equal(copied[0].status, 400);
    // no signature at all
    const bare = await fetch(`${srv.url}/api/v1/webhooks/stripe`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(event) });
    assert.equal(bare.status, 400);
    assert.equal(errorShapeProblem({ ...bare, body: await bare.json(), headers: bare.headers, status: 400 }), null);
    assert.equal((await order(u, o.id)).status, 'pending');
    assert.equal(await credits(u), 8);
    const rows = await audit('payment.webhook_rejected');
    assert.equal(rows.length, before + 3);
    assert.equal(rows[0].details.provider, 'stripe');
    assert.equal(rows[0].details.reason, 'signature_missing');
    assert.ok(rows.slice(0, 3).some((r) => r.details.reason === 'signature_mismatch'));
    assert.equal((await st.deliver(event))[0].status, 200);
    assert.equal(await credits(u), 8 + 115);
  });

  it('stale timestamp (301 s old): 400 and audited; a duplicated Stripe-Signature header: 400', async () => {
    const u = await buyer();
    const o = await buy(u);
    const { event } = await paidSilently(o);
    const stale = await st.deliver(event, { timestamp: Math.floor(Date.now() / 1000) - 301 });
    assert.equal(stale[0].status, 400);
    const rows = await audit('payment.webhook_rejected');
    assert.equal(rows[0].details.reason, 'timestamp_out_of_tolerance');
    // Two Stripe-Signature headers, both valid: ambiguous, refused.
    const body = JSON.stringify(event, null, 2);
    const sig = st.sign(body);
    const r = await new Promise((resolve, reject) => {
      import('node:http').then(({ default: http }) => {
        const req = http.request(`${srv.url}/api/v1/webhooks/stripe`, { method: 'POST', headers: [['content-type', 'application/json'], ['stripe-signature', sig], ['stripe-signature', sig], ['content-length', String(Buffer.byteLength(body))]] }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode));
        });
        req.on('error', reject);
        req.end(body);
      });
    });
    assert.equal(r, 400);
    assert.equal((await order(u, o.id)).status, 'pending');
    assert.equal(await credits(u), 8);
  });

  it('a signed notification for another amount or currency: 400, the order stays pending, audited as a mismatch', async () => {
    const u = await buyer();
    const o = await buy(u);
    const { session } = await paidSilently(o);
    const cheap = await st.deliver(st.event('checkout.session.completed', { ...session, amount_total: 99, amount_subtotal: 99 }));
    assert.equal(cheap[0].status, 400);
    const euro = await st.deliver(st.event('checkout.session.completed', { ...session, currency: 'eur' }));
    assert.equal(euro[0].status, 400);
    const upper = await st.deliver(st.event('checkout.session.completed', { ...session, currency: 'USD' }));
    assert.equal(upper[0].status, 400, 'Stripe spells currencies lower-case: anything else is malformed');
    assert.equal((await order(u, o.id)).status, 'pending');
    assert.equal(await credits(u), 8);
    const mism = await audit('payment.webhook_mismatch');
    assert.ok(mism.filter((e) => e.target_id === o.id).length >= 2);
  });

  it('unknown order: 400; a session that is not ours (another integration): 200 and ignored', async () => {
    const u = await buyer();
    const o = await buy(u);
    const { session } = await paidSilently(o);
    const ghost = 'ord_01JDZ8K6Q3V5X7Y9A1B2C3D4Z9';
    const d = await st.deliver(st.event('checkout.session.completed', { ...session, client_reference_id: ghost, metadata: { order_id: ghost } }));
    assert.equal(d[0].status, 400);
    const foreign = await st.deliver(st.event('checkout.session.completed', { ...session, client_reference_id: 'user_42', metadata: {} }));
    assert.equal(foreign[0].status, 200);
    assert.equal(foreign[0].body, '{"received":true}');
    const other = await st.deliver(st.event('customer.created', { id: 'cus_1', object: 'customer' }));
    assert.equal(other[0].status, 200);
    assert.equal(await credits(u), 8);
  });

  it('notification lost, the buyer comes back: the return page asks Stripe and fulfils, then redirects', async () => {
    const u = await buyer();
    const o = await buy(u);
    await paidSilently(o);
    const r = await fetch(`${srv.url}${ORDERS}/${o.id}/return`, { redirect: 'manual' });
    assert.equal(r.status, 302);
    assert.ok(r.headers.get('location').includes(`order_id=${o.id}`));
    assert.equal((await order(u, o.id)).status, 'paid');
    assert.equal(await credits(u), 8 + 115);
    assert.equal((await st.deliver(st.events.at(-1)))[0].status, 200, 'the lost notification arriving late');
    assert.equal(await credits(u), 8 + 115);
    assert.equal((await purchases(u, o.id)).length, 1);
  });

  it('notification lost, the buyer never comes back: the pending-order job asks Stripe and fulfils', async () => {
    const u = await buyer();
    const o = await buy(u);
    await paidSilently(o);
    const deadline = Date.now() + 20000;
    while ((await order(u, o.id)).status !== 'paid' && Date.now() < deadline) await sleep(250);
    assert.equal((await order(u, o.id)).status, 'paid', 'fulfilled by the pending-order job (TG_ORDER_QUERY_AFTER=1)');
    assert.equal(await credits(u), 8 + 115);
    assert.ok(st.counters.queries >= 1);
  });

  const refund = (o, amount, extra = {}) =>
    srv.post(`/api/v1/admin/orders/${o.id}/refund`, { amount, reason: 'e2e refund', ...extra }, { token: admin.token });

  it('full refund: Stripe refunds under our refund id, credits taken back, its webhooks change nothing more', async () => {
    const u = await buyer();
    const o = await buy(u);
    await st.pay(o.id);
    assert.equal(await credits(u), 8 + 115);
    const before = st.requests.length;
    const r = await refund(o, 990);
    assertStatus(r, 200);
    assert.equal(r.body.refund.status, 'succeeded');
    assert.match(r.body.refund.provider_refund_id, /^re_/);
    assert.deepEqual(r.body.refund.amount, { amount: 990, currency: 'USD' });
    assert.equal(r.body.order.status, 'refunded');
    const call = st.requests.slice(before).find((q) => q.path === '/v1/refunds');
    assert.equal(call.idempotencyKey, r.body.refund.id);
    assert.match(call.body, new RegExp(`metadata\\[refund_id\\]=${r.body.refund.id}`));
    assert.match(call.body, /&amount=990&/);
    assert.equal(await credits(u), 8);
    // Stripe's refund.created and charge.refunded arrive: acknowledged, nothing taken twice.
    const deadline = Date.now() + 5000;
    while (st.deliveries.filter((d) => d.type === 'charge.refunded').length < 1 && Date.now() < deadline) await sleep(50);
    const mine = st.deliveries.slice(-2);
    assert.deepEqual(mine.map((d) => d.status), [200, 200]);
    assert.equal(await credits(u), 8);
    const led = (await srv.get('/api/v1/credits/ledger?limit=100', { token: u.token })).body.data.filter((e) => e.kind === 'payment_refund');
    assert.equal(led.length, 1);
    assert.equal(led[0].delta, -115);
  });

  it('partial refunds add up to the payment and never past it', async () => {
    const u = await buyer();
    const o = await buy(u);
    await st.pay(o.id);
    assertStatus(await refund(o, 300), 200);
    assertStatus(await refund(o, 400), 200);
    assertError(await refund(o, 300), 409, 'refund_exceeds_payment');
    const last = await refund(o, 290);
    assertStatus(last, 200);
    assert.equal(last.body.order.status, 'refunded');
    assertError(await refund(o, 1), 409, 'refund_exceeds_payment');
    const pi = st.sessionFor(o.id).payment_intent;
    const atStripe = st.requests.filter((q) => q.path === '/v1/refunds' && q.body.includes(`payment_intent=${pi}`));
    assert.equal(atStripe.length, 3, 'only the accepted refunds reached Stripe');
    await sleep(300);
    assert.equal(await credits(u), 8, 'every credit taken back, none twice');
  });

  it('refused: an unpaid order (409), credits already spent (402 unless allow_negative), declined by Stripe (502, nothing changes)', async () => {
    const u = await buyer();
    const pending = await buy(u);
    assertError(await refund(pending, 100), 409, 'order_not_refundable');

    const o = await buy(u);
    await st.pay(o.id);
    assertStatus(await srv.adjust(admin.token, u.id, -(8 + 115 - 10)), 200); // 10 credits left
    assertError(await refund(o, 990), 402, 'insufficient_credits');
    assert.equal(await credits(u), 10);

    // A refund made in Stripe's dashboard whose notifications are lost: Stripe then declines ours.
    st.loseNext(2);
    await st.refundAt(o.id, 990);
    await sleep(200);
    const r = await fetch(`${srv.url}/api/v1/admin/orders/${o.id}/refund`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ amount: 500, reason: 'e2e refund', allow_negative: true }),
    });
    const body = await r.json();
    assert.equal(r.status, 502);
    assert.equal(body.error.code, 'refund_declined');
    assert.equal(errorShapeProblem({ status: 502, body, headers: r.headers }), null);
    assert.equal(await credits(u), 10, 'the reservation was undone');
    assert.equal((await order(u, o.id)).status, 'paid');
    // The dashboard refund's notifications arrive after all: recorded, credits taken as far as left.
    const lost = st.events.filter((e) => e.type === 'refund.created' || e.type === 'charge.refunded').slice(-2);
    for (const ev of lost) assert.equal((await st.deliver(ev))[0].status, 200);
    assert.equal((await order(u, o.id)).status, 'refunded');
    assert.equal(await credits(u), 0);
  });

  it('Stripe down at checkout: the region\'s next provider (sandbox) takes the order; the attempt is recorded', async () => {
    const u = await buyer();
    st.failCheckout(503);
    try {
      const r = await srv.post(ORDERS, { product: 'credits_115' }, { token: u.token, headers: GLOBAL });
      assertStatus(r, 201);
      assert.equal(r.body.provider, 'sandbox');
      assert.ok(r.body.checkout.url.includes(`/sandbox/checkout/${r.body.id}`));
      assert.ok(st.counters.forced_checkout >= 3, 'Stripe was tried (and retried under the key) first');
      const a = await srv.get(`/api/v1/admin/orders/${r.body.id}`, { token: admin.token });
      assertStatus(a, 200);
    } finally {
      st.clearFailures();
    }
    const ok = await buy(u);
    assert.equal(ok.provider, 'stripe');
  });

  invariantTest(() => srv);
});
