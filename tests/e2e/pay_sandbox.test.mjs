// Payments end to end with the sandbox provider (on by default): a newcomer buys a pack on
// the sandbox checkout page; orders (Idempotency-Key, prices from the catalog only, region
// currency, owner-only reads, admin list); the notification path (forged, stale, duplicated
// headers, 10 parallel deliveries, wrong amount or currency, unknown order, failure then a
// late payment); refunds (partial, full, over, spent, allow_negative); expiry by the
// pending-order job; the payment rate limit; and a clean `tollgate audit` at the end.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startServer, invariantTest, assertError, assertStatus, runUntilExit, LOOSE_LIMITS } from './lib/server.mjs';
import {
  createOrder, sandboxSignature, sandboxEvent, deliver, paidCredits, ledgerEntries, assertAuditClean, eventually,
  postWithHeaderLines,
} from './lib/pay.mjs';

const SECRET = 'sandbox-e2e-secret-0123456789';
const ORDER_ID_RE = /^ord_[0-9A-HJKMNP-TV-Z]{26}$/;

describe('payments with the sandbox provider', () => {
  let srv;
  let admin;
  before(async () => {
    srv = await startServer({
      env: {
        TG_SIGNUP_CREDITS_REQUIRE_VERIFIED: 'off',
        TG_SANDBOX_WEBHOOK_SECRET: SECRET,
        TG_TRUSTED_PROXIES: '127.0.0.1/32',
        TG_ORDER_TTL: '6',
        TG_ORDER_QUERY_AFTER: '1',
        TG_RATE_LIMITS: `${LOOSE_LIMITS},payment=100000/1h`,
      },
    });
    srv.secrets.add(SECRET);
    admin = await srv.admin();
  });
  after(() => srv?.cleanup());

  /** Creates a sandbox order and pays it on the checkout page; returns the order. */
  async function buy(user, product = 'credits_115') {
    const o = await createOrder(srv, user.token, product, { return_url: '/credits' });
    assertStatus(o, 201);
    const pay = await srv.req('POST', `/sandbox/checkout/${o.body.id}/pay`);
    assert.equal(pay.status, 303, pay.text);
    return o.body;
  }

  it('a newcomer buys credits_115 on the sandbox checkout page and sees 115 more credits and the purchase in the ledger', async () => {
    const u = await srv.register({ tag: 'newcomer' });
    assert.equal(await paidCredits(srv, u.token), 8);
    const cat = await srv.get('/api/v1/catalog');
    assert.deepEqual(cat.body.packs.find((p) => p.id === 'credits_115'),
      { id: 'credits_115', credits: 115, price: { amount: 990, currency: 'USD' } });

    const o = await createOrder(srv, u.token, 'credits_115', { return_url: '/credits?tab=history' });
    assertStatus(o, 201);
    assert.match(o.body.id, ORDER_ID_RE);
    assert.equal(o.body.product, 'credits_115');
    assert.equal(o.body.credits, 115);
    assert.deepEqual(o.body.amount, { amount: 990, currency: 'USD' });
    assert.equal(o.body.provider, 'sandbox');
    assert.equal(o.body.status, 'pending');
    assert.equal(o.body.paid_at, null);
    assert.equal(o.body.checkout.url, `${srv.url}/sandbox/checkout/${o.body.id}`);

    const page = await srv.get(`/sandbox/checkout/${o.body.id}`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type'), /^text\/html/);
    assert.match(page.text, /<dd id="amount">9\.90 USD<\/dd>/);
    assert.match(page.text, /<dd id="status">pending<\/dd>/);
    assert.match(page.text, new RegExp(`action="/sandbox/checkout/${o.body.id}/pay"`));

    const pay = await srv.req('POST', `/sandbox/checkout/${o.body.id}/pay`);
    assert.equal(pay.status, 303);
    assert.equal(pay.headers.get('location'), `${srv.url}/credits?tab=history&order_id=${o.body.id}`);

    assert.equal(await paidCredits(srv, u.token), 8 + 115);
    const purchases = await ledgerEntries(srv, u.token, 'purchase', o.body.id);
    assert.equal(purchases.length, 1);
    assert.equal(purchases[0].delta, 115);
    assert.equal(purchases[0].ref_type, 'order');

    const got = await srv.get(`/api/v1/orders/${o.body.id}`, { token: u.token });
    assertStatus(got, 200);
    assert.equal(got.body.status, 'paid');
    assert.notEqual(got.body.paid_at, null);
    const list = await srv.get('/api/v1/orders', { token: u.token });
    assertStatus(list, 200);
    assert.deepEqual(list.body.data.map((x) => x.id), [o.body.id]);
    assert.equal(list.body.next_cursor, null);

    // Paying again on the page changes nothing.
    const again = await srv.req('POST', `/sandbox/checkout/${o.body.id}/pay`);
    assertError(again, 409, 'conflict');
    assert.equal(await paidCredits(srv, u.token), 8 + 115);
  });

  it('Idempotency-Key: the same request replays the first answer, another body with the key is 409, and only one order exists', async () => {
    const u = await srv.register({ tag: 'idem' });
    const a = await createOrder(srv, u.token, 'credits_355', { key: 'buy-1' });
    assertStatus(a, 201);
    const b = await createOrder(srv, u.token, 'credits_355', { key: 'buy-1' });
    assertStatus(b, 201);
    assert.equal(b.headers.get('idempotent-replayed'), 'true');
    assert.deepEqual(b.body, a.body);
    const c = await createOrder(srv, u.token, 'credits_1450', { key: 'buy-1' });
    assertError(c, 409, 'idempotency_key_reused');
    const list = await srv.get('/api/v1/orders', { token: u.token });
    assert.deepEqual(list.body.data.map((x) => x.id), [a.body.id]);
    // The key is the caller's own: another user's identical key makes another order.
    const v = await srv.register({ tag: 'idem-other' });
    const d = await createOrder(srv, v.token, 'credits_355', { key: 'buy-1' });
    assertStatus(d, 201);
    assert.notEqual(d.body.id, a.body.id);
  });

  it('prices come only from the catalog, in the region currency; unknown products and unoffered providers are 400', async () => {
    const u = await srv.register({ tag: 'price' });
    const o = await createOrder(srv, u.token, 'credits_115', { extra: { amount: 1, currency: 'CNY' } });
    assertStatus(o, 201);
    assert.deepEqual(o.body.amount, { amount: 990, currency: 'USD' });
    assert.equal(o.body.credits, 115);
    const cn = await createOrder(srv, u.token, 'credits_115', { headers: { 'x-user-region': 'CN' } });
    assertStatus(cn, 201);
    assert.deepEqual(cn.body.amount, { amount: 6800, currency: 'CNY' });
    assert.equal(cn.body.region, 'CN');
    assertError(await createOrder(srv, u.token, 'credits_115', { extra: { credits: 99999 } }), 400, 'validation_failed');
    assertError(await createOrder(srv, u.token, 'credits_9999'), 400, 'unknown_product');
    // A plan is an order too (subscription_api.test.mjs follows it further), priced the same way.
    const plan = await createOrder(srv, u.token, 'pro_monthly', { extra: { amount: 1 } });
    assertStatus(plan, 201);
    assert.equal(plan.body.kind, 'plan');
    assert.equal(plan.body.credits, 300);
    assert.deepEqual(plan.body.amount, { amount: 1990, currency: 'USD' });
    // Stripe is known but not configured here, so the region does not offer it.
    assertError(await createOrder(srv, u.token, 'credits_115', { provider: 'stripe' }), 400, 'payment_method_unavailable');
    assertError(await createOrder(srv, u.token, 'credits_115', { provider: 'bitcoin' }), 400, 'payment_method_unavailable');
    assertError(await createOrder(srv, u.token, 'credits_115', { return_url: 'https://evil.example/' }), 400, 'validation_failed');
    assertError(await createOrder(srv, u.token, 'credits_115', { return_url: '//evil.example/' }), 400, 'validation_failed');
    assertError(await srv.post('/api/v1/orders', { product: 'credits_115' }), 401, 'unauthorized');
  });

  it('orders are their owner\'s: another user gets 404; the admin lists and filters all of them', async () => {
    const u = await srv.register({ tag: 'owner' });
    const v = await srv.register({ tag: 'snoop' });
    const o = await buy(u);
    assertError(await srv.get(`/api/v1/orders/${o.id}`, { token: v.token }), 404, 'not_found');
    assertError(await srv.get(`/api/v1/admin/orders/${o.id}`, { token: u.token }), 403, 'forbidden');
    const one = await srv.get(`/api/v1/admin/orders/${o.id}`, { token: admin.token });
    assertStatus(one, 200);
    assert.equal(one.body.user_id, u.id);
    assert.deepEqual(one.body.refunds, []);
    const mine = await srv.get(`/api/v1/admin/orders?user_id=${u.id}&status=paid&provider=sandbox`, { token: admin.token });
    assertStatus(mine, 200);
    assert.deepEqual(mine.body.data.map((x) => x.id), [o.id]);
    const none = await srv.get(`/api/v1/admin/orders?user_id=${u.id}&status=pending`, { token: admin.token });
    assert.deepEqual(none.body.data, []);
    const future = await srv.get(`/api/v1/admin/orders?user_id=${u.id}&from=2100-01-01T00:00:00Z`, { token: admin.token });
    assert.deepEqual(future.body.data, []);
    const past = await srv.get(`/api/v1/admin/orders?user_id=${u.id}&to=2100-01-01T00:00:00Z&from=2000-01-01T00:00:00Z`, { token: admin.token });
    assert.deepEqual(past.body.data.map((x) => x.id), [o.id]);
    assertError(await srv.get('/api/v1/admin/orders?status=bogus', { token: admin.token }), 400, 'validation_failed');
    assertError(await srv.get('/api/v1/admin/orders?from=yesterday', { token: admin.token }), 400, 'validation_failed');
  });

  describe('notifications', () => {
    let u;
    before(async () => {
      u = await srv.register({ tag: 'webhooks' });
    });

    async function pending(product = 'credits_115') {
      const o = await createOrder(srv, u.token, product);
      assertStatus(o, 201);
      return o.body;
    }

    it('a correctly signed notification fulfils; the same one 10 times in parallel credits once', async () => {
      const o = await pending();
      const before = await paidCredits(srv, u.token);
      const body = sandboxEvent(o);
      const sig = sandboxSignature(SECRET, body);
      const rs = await Promise.all(Array.from({ length: 10 }, () => deliver(srv, 'sandbox', body, { 'tollgate-sandbox-signature': sig })));
      for (const r of rs) {
        assert.equal(r.status, 200, r.text);
        assert.deepEqual(r.body, { received: true });
      }
      assert.equal(await paidCredits(srv, u.token), before + 115);
      assert.equal((await ledgerEntries(srv, u.token, 'purchase', o.id)).length, 1);
      // A second, different notification for the paid order is recorded and changes nothing.
      const other = sandboxEvent(o);
      const r2 = await deliver(srv, 'sandbox', other, { 'tollgate-sandbox-signature': sandboxSignature(SECRET, other) });
      assert.equal(r2.status, 200);
      assert.equal(await paidCredits(srv, u.token), before + 115);
    });

    it('forged, stale, future, malformed and duplicated signatures are 400 with an audit row, and change nothing', async () => {
      const o = await pending();
      const before = await paidCredits(srv, u.token);
      const body = sandboxEvent(o);
      const now = Math.floor(Date.now() / 1000);
      const cases = [
        ['forged with another secret', { 'tollgate-sandbox-signature': sandboxSignature('not-the-secret', body) }],
        ['stale (400 s old)', { 'tollgate-sandbox-signature': sandboxSignature(SECRET, body, now - 400) }],
        ['from the future', { 'tollgate-sandbox-signature': sandboxSignature(SECRET, body, now + 400) }],
        ['missing', {}],
        ['malformed', { 'tollgate-sandbox-signature': 't=abc,v1=00' }],
        ['upper-case hex', { 'tollgate-sandbox-signature': sandboxSignature(SECRET, body).toUpperCase().replace('T=', 't=').replace('V1=', 'v1=') }],
      ];
      for (const [what, headers] of cases) {
        const r = await deliver(srv, 'sandbox', body, headers);
        assertError(r, 400, 'webhook_rejected', what);
      }
      // Body changed after signing: the amount in the signed body was 990.
      const tampered = body.replace('"amount":990', '"amount":1');
      assertError(await deliver(srv, 'sandbox', tampered, { 'tollgate-sandbox-signature': sandboxSignature(SECRET, body) }), 400, 'webhook_rejected');
      // Two signature header lines, one of them valid: ambiguous, refused.
      // (The valid line first: a server that took the first line would accept it.)
      const two = await postWithHeaderLines(`${srv.url}/api/v1/webhooks/sandbox`, body,
        { 'tollgate-sandbox-signature': [sandboxSignature(SECRET, body), 't=1,v1=' + '0'.repeat(64)] });
      srv.requests += 1;
      assert.equal(two, 400);
      assert.equal(await paidCredits(srv, u.token), before);
      const st = await srv.get(`/api/v1/orders/${o.id}`, { token: u.token });
      assert.equal(st.body.status, 'pending');
      const audit = await srv.get('/api/v1/admin/audit-log?limit=100', { token: admin.token });
      const rejected = audit.body.data.filter((e) => e.action === 'payment.webhook_rejected');
      assert.ok(rejected.length >= 8, `audit rows for the rejected notifications: ${rejected.length}`);
      assert.equal(rejected[0].target_type, 'order');
    });

    it('a notification with another amount, another currency or an unknown order is 400 and changes nothing', async () => {
      const o = await pending();
      const before = await paidCredits(srv, u.token);
      for (const [what, fields] of [
        ['amount', { amount: 989 }],
        ['currency', { currency: 'CNY' }],
        ['unknown order', { order_id: 'ord_00000000000000000000000000' }],
      ]) {
        const body = sandboxEvent(o, fields);
        const r = await deliver(srv, 'sandbox', body, { 'tollgate-sandbox-signature': sandboxSignature(SECRET, body) });
        assertError(r, 400, 'webhook_rejected', what);
      }
      assert.equal(await paidCredits(srv, u.token), before);
      assert.equal((await srv.get(`/api/v1/orders/${o.id}`, { token: u.token })).body.status, 'pending');
      const audit = await srv.get('/api/v1/admin/audit-log?limit=100', { token: admin.token });
      assert.ok(audit.body.data.some((e) => e.action === 'payment.webhook_mismatch' && e.target_id === o.id));
    });

    it('out of order: a failure then the payment - the order ends paid, credited once', async () => {
      const o = await pending();
      const before = await paidCredits(srv, u.token);
      const paid = sandboxEvent(o);
      const failed = sandboxEvent(o, { type: 'payment.failed' });
      const r1 = await deliver(srv, 'sandbox', failed, { 'tollgate-sandbox-signature': sandboxSignature(SECRET, failed) });
      assert.equal(r1.status, 200);
      assert.equal((await srv.get(`/api/v1/orders/${o.id}`, { token: u.token })).body.status, 'failed');
      const r2 = await deliver(srv, 'sandbox', paid, { 'tollgate-sandbox-signature': sandboxSignature(SECRET, paid) });
      assert.equal(r2.status, 200);
      assert.equal((await srv.get(`/api/v1/orders/${o.id}`, { token: u.token })).body.status, 'paid');
      // The failure again, late: a paid order stays paid.
      const r3 = await deliver(srv, 'sandbox', failed, { 'tollgate-sandbox-signature': sandboxSignature(SECRET, failed) });
      assert.equal(r3.status, 200);
      assert.equal((await srv.get(`/api/v1/orders/${o.id}`, { token: u.token })).body.status, 'paid');
      assert.equal(await paidCredits(srv, u.token), before + 115);
    });

    it('the Fail button marks the order failed; no credits', async () => {
      const o = await pending();
      const before = await paidCredits(srv, u.token);
      const r = await srv.req('POST', `/sandbox/checkout/${o.id}/fail`);
      assert.equal(r.status, 303);
      assert.equal((await srv.get(`/api/v1/orders/${o.id}`, { token: u.token })).body.status, 'failed');
      assert.equal(await paidCredits(srv, u.token), before);
    });

    it('a provider that is unknown or not configured has no webhook', async () => {
      assertError(await deliver(srv, 'stripe', '{}'), 404, 'not_found');
      assertError(await deliver(srv, 'nosuch', '{}'), 404, 'not_found');
    });
  });

  describe('refunds', () => {
    it('partial refunds take back credits in proportion, add up to the payment and never past it', async () => {
      const u = await srv.register({ tag: 'refund' });
      const o = await buy(u, 'credits_1450'); // USD 9900 for 1450 credits
      const base = 8 + 1450;
      assert.equal(await paidCredits(srv, u.token), base);
      const url = `/api/v1/admin/orders/${o.id}/refund`;
      const r1 = await srv.post(url, { amount: 990, reason: 'partial goodwill' }, { token: admin.token });
      assertStatus(r1, 200);
      assert.equal(r1.body.refund.status, 'succeeded');
      assert.deepEqual(r1.body.refund.amount, { amount: 990, currency: 'USD' });
      assert.equal(r1.body.refund.credits, 145); // floor(1450 * 990 / 9900)
      assert.equal(r1.body.order.status, 'partially_refunded');
      assert.deepEqual(r1.body.order.refunded, { amount: 990, currency: 'USD' });
      assert.equal(await paidCredits(srv, u.token), base - 145);

      assertError(await srv.post(url, { amount: 9000, reason: 'too much' }, { token: admin.token }), 409, 'refund_exceeds_payment');
      const r2 = await srv.post(url, { amount: 8910, reason: 'the rest' }, { token: admin.token });
      assertStatus(r2, 200);
      assert.equal(r2.body.refund.credits, 1450 - 145); // the last refund takes back what is left
      assert.equal(r2.body.order.status, 'refunded');
      assert.equal(await paidCredits(srv, u.token), 8);
      assertError(await srv.post(url, { amount: 1, reason: 'more' }, { token: admin.token }), 409, 'refund_exceeds_payment');

      const entries = await ledgerEntries(srv, u.token, 'payment_refund');
      assert.deepEqual(entries.map((e) => e.delta).sort((a, b) => a - b), [-1305, -145]);
      const one = await srv.get(`/api/v1/admin/orders/${o.id}`, { token: admin.token });
      assert.deepEqual(one.body.refunds.map((r) => [r.amount.amount, r.status]), [[990, 'succeeded'], [8910, 'succeeded']]);
      const audit = await srv.get('/api/v1/admin/audit-log?limit=100', { token: admin.token });
      assert.equal(audit.body.data.filter((e) => e.action === 'order.refund' && e.target_id === o.id).length, 2);
    });

    it('concurrent refunds never add up past the payment', async () => {
      const u = await srv.register({ tag: 'refund-race' });
      const o = await buy(u, 'credits_355'); // USD 3000
      const rs = await Promise.all(Array.from({ length: 8 }, (_, i) =>
        srv.post(`/api/v1/admin/orders/${o.id}/refund`, { amount: 1000, reason: `race ${i}` }, { token: admin.token })));
      assert.deepEqual(rs.map((r) => r.status).sort(), [200, 200, 200, 409, 409, 409, 409, 409]);
      const one = await srv.get(`/api/v1/admin/orders/${o.id}`, { token: admin.token });
      assert.deepEqual(one.body.refunded, { amount: 3000, currency: 'USD' });
      assert.equal(one.body.status, 'refunded');
    });

    it('credits already spent: refused with 402, unless allow_negative takes what is left and records the shortfall', async () => {
      const u = await srv.register({ tag: 'refund-spent' });
      const o = await buy(u, 'credits_115');
      // Spend: the admin takes 120 of the 123 credits away.
      assertStatus(await srv.adjust(admin.token, u.id, -120), 200);
      const url = `/api/v1/admin/orders/${o.id}/refund`;
      const no = await srv.post(url, { amount: 990, reason: 'spent' }, { token: admin.token });
      assertError(no, 402, 'insufficient_credits');
      assert.equal(await paidCredits(srv, u.token), 3);
      assertError(await srv.post(url, { amount: 990, reason: 'x', allow_negative: 'yes' }, { token: admin.token }), 400, 'validation_failed');
      const yes = await srv.post(url, { amount: 990, reason: 'spent, refund anyway', allow_negative: true }, { token: admin.token });
      assertStatus(yes, 200);
      assert.equal(yes.body.refund.credits, 3);
      assert.equal(yes.body.refund.shortfall, 112);
      assert.equal(await paidCredits(srv, u.token), 0);
    });

    it('refund requests are checked: unpaid orders, bad amounts, missing reason, unknown orders; Idempotency-Key replays', async () => {
      const u = await srv.register({ tag: 'refund-checks' });
      const p = await createOrder(srv, u.token, 'credits_115');
      assertError(await srv.post(`/api/v1/admin/orders/${p.body.id}/refund`, { amount: 10, reason: 'x' }, { token: admin.token }), 409, 'order_not_refundable');
      const o = await buy(u, 'credits_115');
      const url = `/api/v1/admin/orders/${o.id}/refund`;
      for (const bad of [{ amount: 0, reason: 'x' }, { amount: -5, reason: 'x' }, { amount: 1.5, reason: 'x' }, { amount: '10', reason: 'x' }, { amount: 10 }, { amount: 10, reason: '' }]) {
        assertError(await srv.post(url, bad, { token: admin.token }), 400, 'validation_failed', JSON.stringify(bad));
      }
      assertError(await srv.post('/api/v1/admin/orders/ord_00000000000000000000000000/refund', { amount: 10, reason: 'x' }, { token: admin.token }), 404, 'not_found');
      assertError(await srv.post(url, { amount: 10, reason: 'x' }, { token: u.token }), 403, 'forbidden');
      const h = { 'idempotency-key': 'refund-once' };
      const a = await srv.post(url, { amount: 100, reason: 'once' }, { token: admin.token, headers: h });
      assertStatus(a, 200);
      const b = await srv.post(url, { amount: 100, reason: 'once' }, { token: admin.token, headers: h });
      assertStatus(b, 200);
      assert.equal(b.headers.get('idempotent-replayed'), 'true');
      assert.equal(b.body.refund.id, a.body.refund.id);
      assertError(await srv.post(url, { amount: 200, reason: 'once' }, { token: admin.token, headers: h }), 409, 'idempotency_key_reused');
      const one = await srv.get(`/api/v1/admin/orders/${o.id}`, { token: admin.token });
      assert.equal(one.body.refunds.length, 1);
    });

    it('a refund notification from the provider for a refund we started completes it once; one we did not start is recorded', async () => {
      const u = await srv.register({ tag: 'refund-notice' });
      const o = await buy(u, 'credits_115');
      const body = sandboxEvent(o, { type: 'refund.succeeded', amount: 495, refund_id: 'rfd_dashboard_1' });
      const r = await deliver(srv, 'sandbox', body, { 'tollgate-sandbox-signature': sandboxSignature(SECRET, body) });
      assert.equal(r.status, 200, r.text);
      const again = await deliver(srv, 'sandbox', body, { 'tollgate-sandbox-signature': sandboxSignature(SECRET, body) });
      assert.equal(again.status, 200);
      const one = await srv.get(`/api/v1/admin/orders/${o.id}`, { token: admin.token });
      assert.equal(one.body.status, 'partially_refunded');
      assert.deepEqual(one.body.refunds.map((x) => [x.amount.amount, x.credits, x.status]), [[495, 57, 'succeeded']]);
      assert.equal(await paidCredits(srv, u.token), 8 + 115 - 57);
      // A refund notice past what is left is refused.
      const over = sandboxEvent(o, { type: 'refund.succeeded', amount: 600, refund_id: 'rfd_dashboard_2' });
      assertError(await deliver(srv, 'sandbox', over, { 'tollgate-sandbox-signature': sandboxSignature(SECRET, over) }), 400, 'webhook_rejected');
    });
  });

  it('an unpaid order expires after TG_ORDER_TTL (the pending-order job) and a payment after that is still credited', async () => {
    const u = await srv.register({ tag: 'expiry' });
    const o = await createOrder(srv, u.token, 'credits_115');
    assertStatus(o, 201);
    await eventually(async () => (await srv.get(`/api/v1/orders/${o.body.id}`, { token: u.token })).body.status === 'expired', 15000, 'the order to expire');
    assertError(await srv.req('POST', `/sandbox/checkout/${o.body.id}/pay`), 409, 'conflict');
    // A provider's late notification: money taken is never lost.
    const body = sandboxEvent(o.body);
    const r = await deliver(srv, 'sandbox', body, { 'tollgate-sandbox-signature': sandboxSignature(SECRET, body) });
    assert.equal(r.status, 200);
    assert.equal((await srv.get(`/api/v1/orders/${o.body.id}`, { token: u.token })).body.status, 'paid');
    assert.equal(await paidCredits(srv, u.token), 8 + 115);
  });

  it('metrics count notifications by provider and outcome', async () => {
    const m = await srv.get('/metrics');
    assert.match(m.text, /tollgate_payment_notifications_total\{provider="sandbox",outcome="fulfilled"\} [1-9]\d*/);
    assert.match(m.text, /tollgate_payment_notifications_total\{provider="sandbox",outcome="rejected"\} [1-9]\d*/);
    assert.match(m.text, /tollgate_payment_notifications_total\{provider="sandbox",outcome="duplicate"\} [1-9]\d*/);
  });

  it('tollgate audit is clean after all of the above', () => {
    assertAuditClean(srv);
  });

  invariantTest(() => srv);
});

describe('the payment rate limit', () => {
  let srv;
  before(async () => {
    srv = await startServer({ env: { TG_RATE_LIMITS: `${LOOSE_LIMITS},payment=5/1h` } });
  });
  after(() => srv?.cleanup());

  it('a user creates at most 5 orders an hour (seeds: PAYMENT_REQUEST); another user is not affected', async () => {
    const u = await srv.register({ tag: 'rl' });
    for (let i = 0; i < 5; i++) assertStatus(await createOrder(srv, u.token, 'credits_115'), 201);
    const r = await createOrder(srv, u.token, 'credits_115');
    assertError(r, 429, 'rate_limited');
    assert.ok(Number(r.headers.get('retry-after')) >= 1);
    const v = await srv.register({ tag: 'rl-other' });
    assertStatus(await createOrder(srv, v.token, 'credits_115'), 201);
  });

  invariantTest(() => srv);
});

describe('payment provider keys are read at start-up', () => {
  it('an unreadable WeChat Pay or Alipay key file stops the start with exit 2 and says which key', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'tollgate-badkeys-'));
    try {
      const bad = path.join(dir, 'bad.pem');
      writeFileSync(bad, '-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n');
      const base = { TG_DATA_DIR: dir, TG_LISTEN: '127.0.0.1:1', TG_JWT_SECRET: 'x'.repeat(40) };
      const wx = await runUntilExit(['serve'], {
        ...base, TG_WECHATPAY_MCHID: '1900000001', TG_WECHATPAY_APPID: 'wx0000000000000001',
        TG_WECHATPAY_SERIAL_NO: 'ABC', TG_WECHATPAY_PRIVATE_KEY_FILE: bad, TG_WECHATPAY_APIV3_KEY: 'k'.repeat(32),
      });
      assert.equal(wx.code, 2, wx.stderr);
      assert.match(wx.stderr, /payment provider wechatpay: TG_WECHATPAY_PRIVATE_KEY_FILE/);
      const ali = await runUntilExit(['serve'], {
        ...base, TG_ALIPAY_APP_ID: '2021000000000001', TG_ALIPAY_PRIVATE_KEY_FILE: bad,
        TG_ALIPAY_PUBLIC_KEY_FILE: path.join(dir, 'missing.pem'),
      });
      assert.equal(ali.code, 2, ali.stderr);
      assert.match(ali.stderr, /payment provider alipay: TG_ALIPAY_PRIVATE_KEY_FILE/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
