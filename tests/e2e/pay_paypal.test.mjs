// PayPal through the real binary against the fake PayPal (tests/fakes/paypal.mjs): orders,
// the buyer's approval and return (we capture), notifications verified by PayPal's
// verify-webhook-signature, every attack on them we can think of, refunds, and failover.
import { describe, it, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { generateKeyPairSync } from 'node:crypto';
import { Server, freePort, invariantTest, assertStatus, assertError, sleep } from './lib/server.mjs';
import { startFakePaypal } from '../fakes/paypal.mjs';

const GLOBAL = { 'x-user-region': 'GLOBAL' };
let srv;
let pp;
let admin;

async function buyer() {
  const u = await srv.register({ tag: 'paypal' });
  return u;
}

async function order(u, product = 'credits_115', extra = {}) {
  const r = await srv.post('/api/v1/orders', { product, provider: 'paypal', return_url: '/credits', ...extra },
    { token: u.token, headers: GLOBAL });
  assertStatus(r, 201, 'order created');
  return r.body;
}

const ppOrderOf = (o) => new URL(o.checkout.url).searchParams.get('token');

async function getOrder(u, id) {
  const r = await srv.get(`/api/v1/orders/${id}`, { token: u.token });
  assertStatus(r, 200);
  return r.body;
}

async function credits(u) {
  const r = await srv.get('/api/v1/credits', { token: u.token });
  assertStatus(r, 200);
  return r.body;
}

async function ledger(u) {
  const r = await srv.get('/api/v1/credits/ledger?limit=100', { token: u.token });
  assertStatus(r, 200);
  return r.body.data;
}

async function waitFor(pred, ms = 10000, what = 'condition') {
  const end = Date.now() + ms;
  for (;;) {
    const v = await pred();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

async function audit(action) {
  const r = await srv.get('/api/v1/admin/audit-log?limit=100', { token: admin.token });
  assertStatus(r, 200);
  return r.body.data.filter((a) => a.action === action);
}

/** POSTs a raw notification with exactly these header lines (arrays send a header twice). */
function rawPost(body, headers) {
  return new Promise((resolve, reject) => {
    const req = http.request(`${srv.url}/api/v1/webhooks/paypal`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** The fake's event for our order, with resource changes applied (then signed as sent). */
function eventFor(o, type = 'PAYMENT.CAPTURE.COMPLETED', change = null) {
  const ev = pp.event(type, ppOrderOf(o));
  if (change) change(ev.resource);
  return ev;
}

describe('PayPal payments through tollgate', () => {
  before(async () => {
    pp = await startFakePaypal();
    const port = await freePort();
    srv = new Server({
      env: {
        TG_PUBLIC_URL: `http://127.0.0.1:${port}`,
        TG_PAYPAL_CLIENT_ID: pp.clientId,
        TG_PAYPAL_CLIENT_SECRET: pp.clientSecret,
        TG_PAYPAL_WEBHOOK_ID: pp.webhookId,
        TG_PAYPAL_API_BASE: pp.url,
        TG_REGION_GLOBAL_PAYMENT: 'paypal,sandbox',
        TG_SANDBOX: 'on',
        TG_TRUSTED_PROXIES: '127.0.0.1/32',
        TG_SIGNUP_CREDITS: '0',
        TG_ORDER_QUERY_AFTER: '1',
      },
    });
    srv.port = port;
    await srv.start();
    pp.setWebhookUrl(`${srv.url}/api/v1/webhooks/paypal`);
    for (const s of [pp.clientSecret]) srv.secrets.add(s);
    admin = await srv.admin();
  });
  beforeEach(() => {
    // Each test starts with a PayPal that loses nothing and fails nowhere.
    pp.loseNext(0);
    pp.clearForced();
    pp.setAutoNotify(true);
  });
  after(async () => {
    for (const t of pp.issued) srv.secrets.add(t);
    await pp.close();
  });

  it('happy path: order -> the buyer approves and returns -> we capture -> paid, 115 credits, one purchase entry', async () => {
    const u = await buyer();
    const o = await order(u);
    assert.equal(o.provider, 'paypal');
    assert.equal(o.status, 'pending');
    assert.deepEqual(o.amount, { amount: 990, currency: 'USD' });
    assert.match(o.checkout.url, new RegExp(`^${pp.url}/checkoutnow\\?token=[A-Z0-9]{17}$`));
    const sent = pp.order(ppOrderOf(o));
    assert.equal(sent.request.purchase_units[0].custom_id, o.id);
    assert.equal(sent.request.purchase_units[0].invoice_id, o.id);
    assert.deepEqual(sent.request.purchase_units[0].amount, { currency_code: 'USD', value: '9.90' });
    assert.equal(sent.request.payment_source.paypal.experience_context.return_url, `${srv.url}/api/v1/orders/${o.id}/return`);
    assert.equal(sent.requestId, o.id, 'PayPal-Request-Id is our order id');

    // The browser at PayPal's page, then back at our return URL.
    const page = await fetch(o.checkout.url, { redirect: 'manual' });
    assert.equal(page.status, 302);
    const back = new URL(page.headers.get('location'));
    assert.equal(back.pathname, `/api/v1/orders/${o.id}/return`);
    const before = pp.counters.capture;
    const ret = await srv.get(back.pathname + back.search);
    assertStatus(ret, 302, 'return redirects');
    assert.equal(ret.headers.get('location'), `${srv.url}/credits?order_id=${o.id}`);
    assert.equal(pp.counters.capture, before + 1, 'captured once, by the return');
    const got = await getOrder(u, o.id);
    assert.equal(got.status, 'paid');
    assert.ok(got.paid_at);
    assert.equal((await credits(u)).paid_credits, 115);
    const purchases = (await ledger(u)).filter((e) => e.kind === 'purchase');
    assert.equal(purchases.length, 1);
    assert.deepEqual([purchases[0].delta, purchases[0].ref_type, purchases[0].ref_id], [115, 'order', o.id]);
    // PayPal's own PAYMENT.CAPTURE.COMPLETED follows and is answered with an empty 200.
    await waitFor(() => pp.deliveries.find((d) => d.type === 'PAYMENT.CAPTURE.COMPLETED' && d.status !== null), 10000, 'the capture notification');
    const d = pp.deliveries.filter((x) => x.type === 'PAYMENT.CAPTURE.COMPLETED').at(-1);
    assert.deepEqual([d.status, d.body], [200, ''], 'an empty 200, as PayPal documents');
    assert.equal((await credits(u)).paid_credits, 115, 'still once');
    // The browser comes back again: nothing more happens.
    assertStatus(await srv.get(back.pathname + back.search), 302);
    assert.equal(pp.counters.capture, before + 1);
  });

  it('paid at PayPal: the notification alone fulfils; the same one 10 times in parallel credits once', async () => {
    const u = await buyer();
    const o = await order(u);
    pp.setAutoNotify(false);
    await pp.pay(ppOrderOf(o));
    pp.setAutoNotify(true);
    const ev = eventFor(o);
    const rs = await pp.deliver(ev, { times: 10, parallel: true });
    assert.deepEqual(rs.map((r) => r.status), Array(10).fill(200));
    assert.deepEqual(rs.map((r) => r.body), Array(10).fill(''));
    assert.equal((await getOrder(u, o.id)).status, 'paid');
    assert.equal((await credits(u)).paid_credits, 115);
    assert.equal((await ledger(u)).filter((e) => e.kind === 'purchase').length, 1);
  });

  it('out of order: approval after payment is ignored, a denial after payment changes nothing', async () => {
    const u = await buyer();
    const o = await order(u);
    pp.setAutoNotify(false);
    await pp.pay(ppOrderOf(o));
    const denied = eventFor(o, 'PAYMENT.CAPTURE.DENIED');
    const completed = eventFor(o);
    const approved = eventFor(o, 'CHECKOUT.ORDER.APPROVED');
    pp.setAutoNotify(true);
    assert.equal((await pp.deliver(completed))[0].status, 200);
    assert.equal((await pp.deliver(approved))[0].status, 200);
    assert.equal((await pp.deliver(denied))[0].status, 200);
    assert.equal((await getOrder(u, o.id)).status, 'paid');
    assert.equal((await credits(u)).paid_credits, 115);

    // A denial first (the buyer's funding failed), then the order can no longer be paid.
    const u2 = await buyer();
    const o2 = await order(u2);
    assert.equal((await pp.deliver(eventFor(o2, 'PAYMENT.CAPTURE.DENIED')))[0].status, 200);
    assert.equal((await getOrder(u2, o2.id)).status, 'failed');
  });

  it('forged notifications: another key, a tampered body, a duplicated or missing header: 400, audited, nothing changes', async () => {
    const u = await buyer();
    const o = await order(u);
    const ev = eventFor(o);
    const rejectedBefore = (await audit('payment.webhook_rejected')).length;
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const r1 = await pp.deliver(ev, { sign: { key: privateKey } });
    assert.equal(r1[0].status, 400, 'signed with another key');
    const raw = JSON.stringify(ev);
    const h = pp.sign(raw);
    const r2 = await rawPost(raw.replace('"9.90"', '"0.99"'), h);
    assert.equal(r2.status, 400, 'tampered after signing');
    const r3 = await rawPost(raw, { ...h, 'paypal-transmission-sig': [h['paypal-transmission-sig'], h['paypal-transmission-sig']] });
    assert.equal(r3.status, 400, 'the signature header twice');
    const { 'paypal-cert-url': _omit, ...noCert } = h;
    assert.equal((await rawPost(raw, noCert)).status, 400, 'no certificate URL');
    assert.equal((await rawPost(raw, { ...h, 'paypal-cert-url': 'https://evil.example/certs/CERT-1' })).status, 400, 'a certificate off paypal.com');
    assert.equal((await rawPost(raw + ', "webhook_id": "x"', h)).status, 400, 'JSON smuggled after the event');
    assert.equal(JSON.parse(r2.text).error.code, 'webhook_rejected');
    assert.equal((await getOrder(u, o.id)).status, 'pending');
    assert.equal((await credits(u)).paid_credits, 0);
    const rejected = await audit('payment.webhook_rejected');
    assert.equal(rejected.length, rejectedBefore + 6, 'one audit row per refused notification');
    assert.equal(rejected[0].details.provider, 'paypal');
  });

  it('stale transmission: refused before PayPal is asked', async () => {
    const u = await buyer();
    const o = await order(u);
    const verifies = pp.counters.verify;
    const old = new Date(Date.now() - 10 * 60 * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    const r = await pp.deliver(eventFor(o), { sign: { time: old } });
    assert.equal(r[0].status, 400);
    assert.equal(pp.counters.verify, verifies, 'verify-webhook-signature not called');
    const rejected = await audit('payment.webhook_rejected');
    assert.equal(rejected[0].details.reason, 'timestamp_out_of_tolerance');
    assert.equal((await getOrder(u, o.id)).status, 'pending');
  });

  it('wrong amount, wrong currency, unknown order: verified, but 400 and nothing credited', async () => {
    const u = await buyer();
    const o = await order(u);
    const before = (await audit('payment.webhook_mismatch')).length;
    const amount = await pp.deliver(eventFor(o, 'PAYMENT.CAPTURE.COMPLETED', (r) => { r.amount.value = '1.00'; }));
    assert.equal(amount[0].status, 400, 'amount 1.00 for a 9.90 order');
    const currency = await pp.deliver(eventFor(o, 'PAYMENT.CAPTURE.COMPLETED', (r) => { r.amount.currency_code = 'EUR'; }));
    assert.equal(currency[0].status, 400, '9.90 EUR for a 9.90 USD order');
    const unknown = await pp.deliver(eventFor(o, 'PAYMENT.CAPTURE.COMPLETED', (r) => {
      r.custom_id = 'ord_01JE0000000000000000000000';
      r.supplementary_data.related_ids.order_id = 'NOSUCHORDER000000';
    }));
    assert.equal(unknown[0].status, 400, 'an order we never made');
    assert.equal((await getOrder(u, o.id)).status, 'pending');
    assert.equal((await credits(u)).paid_credits, 0);
    const rows = await audit('payment.webhook_mismatch');
    assert.equal(rows.length, before + 3);
    assert.deepEqual(rows.slice(0, 3).map((a) => a.details.outcome).sort(), ['amount_mismatch', 'amount_mismatch', 'unknown_order']);
  });

  it('verification unavailable: 503 so that PayPal delivers again; the retry then fulfils', async () => {
    const u = await buyer();
    const o = await order(u);
    pp.setAutoNotify(false);
    await pp.pay(ppOrderOf(o));
    pp.setAutoNotify(true);
    pp.forceHttp(503, 'verify');
    const r = await pp.deliver(eventFor(o));
    assert.equal(r[0].status, 503);
    assert.equal((await getOrder(u, o.id)).status, 'pending');
    pp.clearForced();
    assert.equal((await pp.deliver(eventFor(o)))[0].status, 200);
    assert.equal((await getOrder(u, o.id)).status, 'paid');
  });

  it('notifications lost: the buyer\'s return still captures and fulfils', async () => {
    const u = await buyer();
    const o = await order(u);
    pp.loseNext(5);
    const back = new URL(pp.approve(ppOrderOf(o)));
    assertStatus(await srv.get(back.pathname + back.search), 302);
    assert.equal((await getOrder(u, o.id)).status, 'paid');
    assert.equal((await credits(u)).paid_credits, 115);
    pp.loseNext(0);
  });

  it('notifications lost and the buyer never returns: the pending-order job captures and fulfils', async () => {
    const u = await buyer();
    const o = await order(u);
    pp.loseNext(5);
    const captures = pp.counters.capture;
    pp.approve(ppOrderOf(o));
    await waitFor(async () => (await getOrder(u, o.id)).status === 'paid', 20000, 'the job to capture (TG_ORDER_QUERY_AFTER=1)');
    assert.equal(pp.counters.capture, captures + 1, 'captured once, by the job');
    assert.equal((await credits(u)).paid_credits, 115);
    assert.equal((await ledger(u)).filter((e) => e.kind === 'purchase').length, 1);
  });

  it('refunds: partial, the rest, one cent more refused, and PayPal declining', async () => {
    const u = await buyer();
    const o = await order(u);
    await pp.pay(ppOrderOf(o));
    await waitFor(async () => (await getOrder(u, o.id)).status === 'paid', 10000, 'paid');
    const r1 = await srv.post(`/api/v1/admin/orders/${o.id}/refund`, { amount: 400, reason: 'partial' }, { token: admin.token });
    assertStatus(r1, 200, 'partial refund');
    assert.equal(r1.body.refund.status, 'succeeded');
    assert.deepEqual(r1.body.refund.amount, { amount: 400, currency: 'USD' });
    assert.match(r1.body.refund.provider_refund_id, /^[A-Z0-9]{17}$/);
    assert.equal(r1.body.order.status, 'partially_refunded');
    assert.equal((await credits(u)).paid_credits, 115 - 46, 'floor(115 * 400 / 990) taken back');
    const sent = pp.order(ppOrderOf(o)).refunds[0];
    assert.deepEqual(sent.amount, { currency_code: 'USD', value: '4.00' });
    assert.equal(sent.custom_id, r1.body.refund.id);
    assert.equal(sent.invoice_id, o.id);
    assert.equal(sent.requestId, r1.body.refund.id, 'PayPal-Request-Id is our refund id');

    const over = await srv.post(`/api/v1/admin/orders/${o.id}/refund`, { amount: 591, reason: 'too much' }, { token: admin.token });
    assertError(over, 409, 'refund_exceeds_payment');

    pp.forceHttp(422, 'refund', { times: 1, issue: 'REFUND_TIME_LIMIT_EXCEEDED' });
    const declined = await srv.post(`/api/v1/admin/orders/${o.id}/refund`, { amount: 100, reason: 'declined' }, { token: admin.token });
    // The 502 is the documented answer for a provider's refusal, not a server failure.
    srv.violations = srv.violations.filter((v) => !v.startsWith(`POST /api/v1/admin/orders/${o.id}/refund -> 502`));
    assertError(declined, 502, 'refund_declined');
    assert.equal(declined.body.error.details.reason, 'REFUND_TIME_LIMIT_EXCEEDED', 'PayPal\'s issue reaches the admin');
    assert.equal((await credits(u)).paid_credits, 69, 'the declined refund gave the credits back');

    const r2 = await srv.post(`/api/v1/admin/orders/${o.id}/refund`, { amount: 590, reason: 'the rest' }, { token: admin.token });
    assertStatus(r2, 200, 'the rest');
    assert.equal(r2.body.order.status, 'refunded');
    assert.equal((await credits(u)).paid_credits, 0);
    assertError(await srv.post(`/api/v1/admin/orders/${o.id}/refund`, { amount: 1, reason: 'more' }, { token: admin.token }), 409, 'refund_exceeds_payment');
    // PayPal's PAYMENT.CAPTURE.REFUNDED for each refund: acknowledged, nothing taken twice.
    await waitFor(() => pp.deliveries.filter((d) => d.type === 'PAYMENT.CAPTURE.REFUNDED' && d.status !== null).length >= 2, 10000, 'refund notifications');
    assert.deepEqual(pp.deliveries.filter((d) => d.type === 'PAYMENT.CAPTURE.REFUNDED').map((d) => d.status), [200, 200]);
    assert.equal((await credits(u)).paid_credits, 0);
    const refunds = (await ledger(u)).filter((e) => e.kind === 'payment_refund');
    assert.equal(refunds.reduce((s, e) => s + e.delta, 0), -115);
  });

  it('PayPal down at checkout: the region\'s next provider takes the order', async () => {
    const u = await buyer();
    pp.forceHttp(500, 'create');
    const r = await srv.post('/api/v1/orders', { product: 'credits_115', provider: 'paypal' }, { token: u.token, headers: GLOBAL });
    pp.clearForced();
    assertStatus(r, 201);
    assert.equal(r.body.provider, 'sandbox');
    assert.match(r.body.checkout.url, /\/sandbox\/checkout\//);
    const a = await srv.get(`/api/v1/admin/orders/${r.body.id}`, { token: admin.token });
    assertStatus(a, 200);
  });

  invariantTest(() => srv);
});
