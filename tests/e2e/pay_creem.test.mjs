// Payments end to end with Creem: the real binary against the fake Creem (tests/fakes/creem.mjs),
// whose notifications are signed with the `standardwebhooks` npm package and node:crypto.
// Covers the purchase (the checkout Creem is asked for, the notification, credits and the
// ledger), 10 parallel deliveries, both signature schemes, out-of-order events, forged, stale,
// partial and duplicated signatures, wrong amount, currency and order, a lost notification
// recovered by the pending-order job, the return URL, refunds (full through the API,
// partial refused, pending, made in Creem's dashboard, declined), and failover to the next
// provider when Creem cannot create the checkout.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Creem } from 'creem';
import { startServer, invariantTest, assertError, assertStatus, LOOSE_LIMITS } from './lib/server.mjs';
import { createOrder, deliver, paidCredits, ledgerEntries, assertAuditClean, eventually, postWithHeaderLines } from './lib/pay.mjs';
import { startFakeCreem, signCreem } from '../fakes/creem.mjs';

const SANDBOX_SECRET = 'sandbox-e2e-secret-for-creem-0123';

describe('payments with Creem', () => {
  let srv, cr, admin, catalogDir;

  before(async () => {
    cr = await startFakeCreem();
    catalogDir = mkdtempSync(path.join(tmpdir(), 'tollgate-creem-catalog-'));
    const catalog = path.join(catalogDir, 'catalog.json');
    // credits_1450 has no Creem product: Creem cannot sell it, the next provider does.
    writeFileSync(catalog, JSON.stringify({ packs: [
      { id: 'credits_115', credits: 115, prices: { USD: 990, CNY: 6800 }, creem_product_id: 'prod_credits_115' },
      { id: 'credits_355', credits: 355, prices: { USD: 3000, CNY: 19800 }, creem_product_id: 'prod_credits_355' },
      { id: 'credits_1450', credits: 1450, prices: { USD: 9900, CNY: 69800 } },
    ] }));
    srv = await startServer({
      env: {
        TG_CREEM_API_KEY: cr.apiKey,
        TG_CREEM_WEBHOOK_SECRET: cr.webhookSecret,
        TG_CREEM_API_BASE: cr.url,
        TG_CATALOG: catalog,
        TG_REGION_GLOBAL_PAYMENT: 'creem,sandbox',
        TG_SANDBOX: 'on',
        TG_SANDBOX_WEBHOOK_SECRET: SANDBOX_SECRET,
        TG_SIGNUP_CREDITS_REQUIRE_VERIFIED: 'off',
        TG_TRUSTED_PROXIES: '127.0.0.1/32',
        TG_ORDER_TTL: '3600',
        TG_ORDER_QUERY_AFTER: '1',
        TG_RATE_LIMITS: `${LOOSE_LIMITS},payment=100000/1h`,
      },
    });
    for (const s of [cr.apiKey, cr.webhookSecret, cr.webhookSecret.slice(6), SANDBOX_SECRET]) srv.secrets.add(s);
    cr.setNotifyUrl(`${srv.url}/api/v1/webhooks/creem`);
    admin = await srv.admin();
  });
  after(async () => {
    await cr?.close();
    srv?.cleanup();
    if (catalogDir) rmSync(catalogDir, { recursive: true, force: true });
  });

  /**
   * A declined refund is answered 502 refund_declined (core/errors.def), which the
   * invariants test counts as a 5xx: this asserts that answer and takes exactly its entry off
   * the violations. A 5xx answer carries no details, so the provider's reason is read from
   * the server's log line "refund_failed" for the order.
   */
  function assertDeclined(r, orderId, reason) {
    assertError(r, 502, 'refund_declined');
    const i = srv.violations.findIndex((v) => v.startsWith(`POST /api/v1/admin/orders/${orderId}/refund -> 502`));
    assert.ok(i >= 0);
    srv.violations.splice(i, 1);
    const lines = srv.logLines().filter((l) => l.event === 'refund_failed' && l.order_id === orderId);
    assert.equal(lines.at(-1)?.reason, reason, 'the refusal reason in the log');
  }
  const order = async (token, id) => (await srv.get(`/api/v1/orders/${id}`, { token })).body;
  const adminOrder = async (id) => (await srv.get(`/api/v1/admin/orders/${id}`, { token: admin.token })).body;
  async function auditRows(action, orderId) {
    const a = await srv.get('/api/v1/admin/audit-log?limit=100', { token: admin.token });
    return a.body.data.filter((e) => e.action === action && (orderId === undefined || e.target_id === orderId));
  }
  /** A Creem order for user u (201 asserted). */
  async function creemOrder(u, product = 'credits_115') {
    const o = await createOrder(srv, u.token, product, { return_url: '/credits' });
    assertStatus(o, 201);
    assert.equal(o.body.provider, 'creem');
    return o.body;
  }

  it('a purchase: the checkout Creem is asked for, checkout.completed acknowledged with 200, credits and one purchase entry', async () => {
    const u = await srv.register({ tag: 'creem-buyer' });
    assert.equal(await paidCredits(srv, u.token), 8);
    const before = cr.requests.length;
    const o = await createOrder(srv, u.token, 'credits_115', { return_url: '/credits?tab=history' });
    assertStatus(o, 201);
    assert.equal(o.body.provider, 'creem');
    assert.equal(o.body.status, 'pending');
    assert.deepEqual(o.body.amount, { amount: 990, currency: 'USD' });
    const c = cr.checkout(o.body.id);
    assert.deepEqual(o.body.checkout, { url: `${cr.url}/checkout/${c.id}` });

    const calls = cr.requests.slice(before).filter((r) => r.endpoint === 'checkout');
    assert.equal(calls.length, 1, 'one checkout call');
    assert.equal(calls[0].headers['x-api-key'], cr.apiKey);
    assert.match(calls[0].headers['content-type'], /^application\/json/);
    assert.deepEqual(JSON.parse(calls[0].body), {
      product_id: 'prod_credits_115',
      request_id: o.body.id,
      success_url: `${srv.url}/api/v1/orders/${o.body.id}/return`,
      metadata: { order_id: o.body.id },
    });

    const paid = await cr.pay(o.body.id);
    assert.equal(paid.status, 200, paid.body);
    assert.equal(paid.body, '', 'Creem reads no body: the acknowledgement is an empty 200');
    const got = await order(u.token, o.body.id);
    assert.equal(got.status, 'paid');
    assert.notEqual(got.paid_at, null);
    assert.equal(await paidCredits(srv, u.token), 8 + 115);
    const purchases = await ledgerEntries(srv, u.token, 'purchase', o.body.id);
    assert.equal(purchases.length, 1);
    assert.equal(purchases[0].delta, 115);
    const one = await adminOrder(o.body.id);
    assert.equal(one.provider_ref, c.id);
  });

  it('the same notification 10 times in parallel credits once; a second event for the paid order changes nothing', async () => {
    const u = await srv.register({ tag: 'creem-parallel' });
    const o = await creemOrder(u);
    const { event } = await cr.pay(o.id, { deliver: false });
    const rs = await cr.deliver(event, { times: 10, parallel: true });
    assert.deepEqual(rs.map((r) => r.status), Array(10).fill(200));
    assert.equal(await paidCredits(srv, u.token), 8 + 115);
    assert.equal((await ledgerEntries(srv, u.token, 'purchase', o.id)).length, 1);
    const other = { ...event, id: 'evt_another_delivery_of_it' };
    assert.deepEqual((await cr.deliver(other)).map((r) => r.status), [200]);
    assert.equal(await paidCredits(srv, u.token), 8 + 115);
  });

  it('either signature scheme alone fulfils: Standard Webhooks headers, or the legacy creem-signature', async () => {
    for (const scheme of ['standard', 'legacy']) {
      const u = await srv.register({ tag: `creem-${scheme}` });
      const o = await creemOrder(u);
      cr.setSigning(scheme);
      try {
        assert.equal((await cr.pay(o.id)).status, 200, scheme);
      } finally {
        cr.setSigning('both');
      }
      assert.equal((await order(u.token, o.id)).status, 'paid', scheme);
      assert.equal(await paidCredits(srv, u.token), 8 + 115, scheme);
    }
  });

  it('out of order: refund.created before checkout.completed is refused, then both apply once in the right order', async () => {
    cr.fail('query'); // keep the pending-order job from learning of the payment meanwhile
    try {
      const u = await srv.register({ tag: 'creem-order' });
      const o = await creemOrder(u);
      const { event: paid } = await cr.pay(o.id, { deliver: false });
      const refund = cr.event('refund.created', o.id);
      assertError(await deliver(srv, 'creem', JSON.stringify(refund), signCreem(cr.webhookSecret, JSON.stringify(refund))),
        400, 'webhook_rejected', 'a refund of an unpaid order');
      assert.equal((await order(u.token, o.id)).status, 'pending');
      assert.deepEqual((await cr.deliver(paid)).map((r) => r.status), [200]);
      assert.equal(await paidCredits(srv, u.token), 8 + 115);
      assert.deepEqual((await cr.deliver(refund)).map((r) => r.status), [200], 'Creem delivers the refund again');
      assert.deepEqual((await cr.deliver(refund)).map((r) => r.status), [200], 'and once more: a duplicate');
      const one = await adminOrder(o.id);
      assert.equal(one.status, 'refunded');
      assert.deepEqual(one.refunds.map((r) => [r.amount.amount, r.status]), [[990, 'succeeded']]);
      assert.equal(await paidCredits(srv, u.token), 8);
      assert.deepEqual((await cr.deliver(paid)).map((r) => r.status), [200], 'the payment again, late');
      assert.equal(await paidCredits(srv, u.token), 8);
    } finally {
      cr.clearFailures();
    }
  });

  it('forged, stale, partial, duplicated or missing signatures are 400 with an audit row and change nothing', async () => {
    cr.fail('query'); // the pending-order job must not learn of the payment meanwhile
    try {
      await forged();
    } finally {
      cr.clearFailures();
    }
  });
  async function forged() {
    const u = await srv.register({ tag: 'creem-forged' });
    const o = await creemOrder(u);
    const { event } = await cr.pay(o.id, { deliver: false });
    const body = JSON.stringify(event);
    const now = Math.floor(Date.now() / 1000);
    const other = `whsec_${Buffer.from('not the secret, not the secret!!').toString('base64')}`;
    const good = signCreem(cr.webhookSecret, body);
    const cases = [
      ['both schemes, another secret', signCreem(other, body)],
      ['standard, another secret', signCreem(other, body, { scheme: 'standard' })],
      ['legacy, another secret', signCreem(other, body, { scheme: 'legacy' })],
      ['stale by 400 s', signCreem(cr.webhookSecret, body, { scheme: 'standard', timestamp: now - 400 })],
      ['400 s in the future', signCreem(cr.webhookSecret, body, { scheme: 'standard', timestamp: now + 400 })],
      ['stale standard headers with a good legacy signature', { ...signCreem(cr.webhookSecret, body, { scheme: 'standard', timestamp: now - 400 }), 'creem-signature': good['creem-signature'] }],
      ['forged standard headers with a good legacy signature', { ...signCreem(other, body, { scheme: 'standard' }), 'creem-signature': good['creem-signature'] }],
      ['a partial standard set with a good legacy signature', { 'webhook-id': good['webhook-id'], 'webhook-timestamp': good['webhook-timestamp'], 'creem-signature': good['creem-signature'] }],
      ['no signature', {}],
      ['a malformed legacy signature', { 'creem-signature': 'sha256=xyz' }],
    ];
    for (const [what, headers] of cases) assertError(await deliver(srv, 'creem', body, headers), 400, 'webhook_rejected', what);
    const tampered = body.replace('"amount":990', '"amount":99');
    assertError(await deliver(srv, 'creem', tampered, good), 400, 'webhook_rejected', 'body changed after signing');
    // Two webhook-signature lines, one of them valid: ambiguous, refused. (node:http sends an
    // array as separate lines; fetch would join them into one line with a comma.)
    for (const dup of ['webhook-signature', 'webhook-id', 'creem-signature']) {
      const headers = dup === 'creem-signature'
        ? { 'creem-signature': ['0'.repeat(64), good['creem-signature']] }
        : { ...good, [dup]: [dup === 'webhook-id' ? 'msg_other' : 'v1,' + 'A'.repeat(43) + '=', good[dup]] };
      if (dup !== 'creem-signature') delete headers['creem-signature'];
      const st = await postWithHeaderLines(`${srv.url}/api/v1/webhooks/creem`, body, headers);
      srv.requests += 1;
      assert.equal(st, 400, `two ${dup} lines`);
    }
    assert.equal((await order(u.token, o.id)).status, 'pending');
    assert.equal(await paidCredits(srv, u.token), 8);
    const rows = await auditRows('payment.webhook_rejected');
    assert.ok(rows.length >= cases.length + 2, `audit rows for the rejected notifications: ${rows.length}`);
    // The genuine article still works afterwards.
    assert.equal((await deliver(srv, 'creem', body, good)).status, 200);
    assert.equal(await paidCredits(srv, u.token), 8 + 115);
  }

  it('a payment of another amount or currency, or for an order Tollgate does not know, is 400 and changes nothing', async () => {
    cr.fail('query'); // the pending-order job must not see these payments either
    try {
      const u = await srv.register({ tag: 'creem-mismatch' });
      for (const [what, opts] of [['amount', { amount: 989 }], ['currency', { currency: 'EUR' }]]) {
        const o = await creemOrder(u);
        const r = await cr.pay(o.id, opts);
        assert.equal(r.status, 400, `${what}: ${r.body}`);
        assert.equal(JSON.parse(r.body).error.code, 'webhook_rejected');
        assert.equal((await order(u.token, o.id)).status, 'pending', what);
        assert.equal((await auditRows('payment.webhook_mismatch', o.id)).length, 1, what);
      }
      // A checkout made at Creem by someone else, naming an order id that does not exist.
      const sdk = new Creem({ apiKey: cr.apiKey, serverURL: cr.url });
      const stray = await sdk.checkouts.create({ productId: 'prod_credits_115', requestId: 'ord_00000000000000000000000000' });
      assert.equal((await cr.pay(stray.id)).status, 400);
      assert.equal(await paidCredits(srv, u.token), 8);
    } finally {
      cr.clearFailures();
    }
  });

  it('events Tollgate does not act on are acknowledged and change nothing', async () => {
    for (const type of ['subscription.active', 'subscription.trialing', 'dispute.created']) {
      const ev = cr.event(type);
      assert.deepEqual((await cr.deliver(ev)).map((r) => [r.status, r.body]), [[200, '']], type);
    }
  });

  it('a lost notification: the pending-order job asks Creem and fulfils; the late delivery changes nothing', async () => {
    const u = await srv.register({ tag: 'creem-lost' });
    const o = await creemOrder(u);
    cr.loseNext();
    const r = await cr.pay(o.id);
    assert.equal(r.lost, true);
    await eventually(async () => (await order(u.token, o.id)).status === 'paid', 15000, 'the job to fulfil the order');
    assert.ok(cr.counters.query >= 1);
    assert.equal(await paidCredits(srv, u.token), 8 + 115);
    assert.deepEqual((await cr.redeliverLost()).map((x) => x.status), [200]);
    assert.equal(await paidCredits(srv, u.token), 8 + 115);
    assert.equal((await ledgerEntries(srv, u.token, 'purchase', o.id)).length, 1);
  });

  it('the return URL asks Creem, fulfils a paid order and redirects to the client page', async () => {
    const u = await srv.register({ tag: 'creem-return' });
    const o = await creemOrder(u);
    await cr.pay(o.id, { deliver: false });
    const r = await srv.req('GET', `/api/v1/orders/${o.id}/return`);
    assert.equal(r.status, 302, r.text);
    assert.equal(r.headers.get('location'), `${srv.url}/credits?order_id=${o.id}`);
    assert.equal((await order(u.token, o.id)).status, 'paid');
    assert.equal(await paidCredits(srv, u.token), 8 + 115);
  });

  describe('refunds', () => {
    const refundUrl = (id) => `/api/v1/admin/orders/${id}/refund`;
    async function paidOrder(tag, product = 'credits_115') {
      const u = await srv.register({ tag });
      const o = await creemOrder(u, product);
      assert.equal((await cr.pay(o.id)).status, 200);
      return { u, o };
    }
    const lastDelivery = () => cr.deliveries[cr.deliveries.length - 1];

    it('a full refund through Creem\'s API: succeeded, credits back, and the refund.created that follows settles nothing twice', async () => {
      const { u, o } = await paidOrder('creem-refund-full');
      const n = cr.deliveries.length;
      const r = await srv.post(refundUrl(o.id), { amount: 990, reason: 'asked for it' }, { token: admin.token });
      assertStatus(r, 200);
      assert.equal(r.body.refund.status, 'succeeded');
      assert.deepEqual(r.body.refund.amount, { amount: 990, currency: 'USD' });
      const txn = cr.checkout(o.id).order.transaction;
      assert.equal(r.body.refund.provider_refund_id, txn);
      assert.equal(r.body.order.status, 'refunded');
      assert.equal(await paidCredits(srv, u.token), 8);
      const call = cr.requests.filter((x) => x.endpoint === 'refund').at(-1);
      assert.deepEqual(JSON.parse(call.body), { transaction_id: txn });
      await eventually(() => cr.deliveries.length > n, 5000, 'refund.created');
      assert.equal(lastDelivery().status, 200);
      const one = await adminOrder(o.id);
      assert.deepEqual(one.refunds.map((x) => [x.amount.amount, x.status]), [[990, 'succeeded']]);
      assert.equal(await paidCredits(srv, u.token), 8);
      assertError(await srv.post(refundUrl(o.id), { amount: 1, reason: 'more' }, { token: admin.token }), 409, 'refund_exceeds_payment');
    });

    it('a partial refund is declined (Creem refunds whole payments only) and changes nothing', async () => {
      const { u, o } = await paidOrder('creem-refund-partial');
      const before = cr.counters.refund;
      const r = await srv.post(refundUrl(o.id), { amount: 500, reason: 'half' }, { token: admin.token });
      assertDeclined(r, o.id, 'partial_refund_unsupported');
      assert.equal(cr.counters.refund, before, 'Creem was not asked');
      const one = await adminOrder(o.id);
      assert.equal(one.status, 'paid');
      assert.deepEqual(one.refunded, { amount: 0, currency: 'USD' });
      assert.deepEqual(one.refunds.map((x) => x.status), ['failed']);
      assert.equal(await paidCredits(srv, u.token), 8 + 115);
    });

    it('a refund Creem confirms later stays pending until refund.created completes it', async () => {
      const { u, o } = await paidOrder('creem-refund-pending');
      cr.setRefundStatus('pending');
      try {
        const r = await srv.post(refundUrl(o.id), { amount: 990, reason: 'later' }, { token: admin.token });
        assertStatus(r, 200);
        assert.equal(r.body.refund.status, 'pending');
        await eventually(async () => (await adminOrder(o.id)).refunds[0].status === 'succeeded', 5000, 'the refund to complete');
      } finally {
        cr.setRefundStatus('succeeded');
      }
      assert.equal((await adminOrder(o.id)).refunds.length, 1);
      assert.equal(await paidCredits(srv, u.token), 8);
    });

    it('refunds made in Creem\'s dashboard are recorded; the API then refunds the rest, never past the payment', async () => {
      const { u, o } = await paidOrder('creem-refund-dashboard');
      const part = await cr.refund(o.id, { amount: 400 });
      assert.equal(part.status, 200, part.body);
      let one = await adminOrder(o.id);
      assert.equal(one.status, 'partially_refunded');
      assert.deepEqual(one.refunds.map((x) => [x.amount.amount, x.credits, x.status]), [[400, 46, 'succeeded']]); // floor(115 * 400 / 990)
      assert.equal(await paidCredits(srv, u.token), 8 + 115 - 46);
      assert.equal((await cr.deliver(part.event)).at(0).status, 200, 'its redelivery is a duplicate');
      const r = await srv.post(refundUrl(o.id), { amount: 590, reason: 'the rest' }, { token: admin.token });
      assertStatus(r, 200);
      await eventually(() => cr.deliveries.some((d) => d.sent.includes('"refund_amount":590') && d.status === 200), 5000,
        'refund.created of the rest, acknowledged');
      one = await adminOrder(o.id);
      assert.equal(one.status, 'refunded');
      assert.deepEqual(one.refunds.map((x) => [x.amount.amount, x.status]), [[400, 'succeeded'], [590, 'succeeded']]);
      assert.equal(await paidCredits(srv, u.token), 8);
    });

    it('a refund Creem refuses is declined; the reservation is undone', async () => {
      const { u, o } = await paidOrder('creem-refund-refused');
      cr.setRefundStatus('failed');
      try {
        const r = await srv.post(refundUrl(o.id), { amount: 990, reason: 'no' }, { token: admin.token });
        assertDeclined(r, o.id, 'refund_failed');
      } finally {
        cr.setRefundStatus('succeeded');
      }
      const one = await adminOrder(o.id);
      assert.equal(one.status, 'paid');
      assert.equal(await paidCredits(srv, u.token), 8 + 115);
      // Nothing left to refund at Creem (refunded there by other means): 400 -> declined.
      const txn = cr.checkout(o.id).order.transaction;
      const sdk = new Creem({ apiKey: cr.apiKey, serverURL: cr.url });
      cr.loseNext(); // the dashboard's notification is lost
      await sdk.transactions.refund({ transactionId: txn });
      const again = await srv.post(refundUrl(o.id), { amount: 990, reason: 'again' }, { token: admin.token });
      assertDeclined(again, o.id, 'http_400');
      // The lost notification arrives after all: the money moved, credits are taken back once.
      assert.deepEqual((await cr.redeliverLost()).map((x) => x.status), [200]);
      assert.equal((await adminOrder(o.id)).status, 'refunded');
      assert.equal(await paidCredits(srv, u.token), 8);
    });
  });

  describe('when Creem cannot make the checkout', () => {
    it('Creem answering 503 -> the next provider of the region (the sandbox) makes it', async () => {
      const u = await srv.register({ tag: 'creem-down' });
      cr.fail('checkout', { status: 503, times: 1 });
      const o = await createOrder(srv, u.token, 'credits_115');
      assertStatus(o, 201);
      assert.equal(o.body.provider, 'sandbox');
      assert.equal(o.body.checkout.url, `${srv.url}/sandbox/checkout/${o.body.id}`);
      // The next order goes to Creem again.
      assert.equal((await creemOrder(u)).provider, 'creem');
    });

    it('a product without creem_product_id, or a refused API key, goes to the next provider without a checkout at Creem', async () => {
      const u = await srv.register({ tag: 'creem-noproduct' });
      const n = cr.counters.checkout;
      const o = await createOrder(srv, u.token, 'credits_1450');
      assertStatus(o, 201);
      assert.equal(o.body.provider, 'sandbox');
      assert.equal(cr.counters.checkout, n, 'Creem was not asked');
      cr.fail('checkout', { status: 401, times: 1 });
      const p = await createOrder(srv, u.token, 'credits_115');
      assertStatus(p, 201);
      assert.equal(p.body.provider, 'sandbox');
    });

    it('asking for Creem while it is down: Creem is tried first, then the rest of the region\'s list', async () => {
      const u = await srv.register({ tag: 'creem-asked' });
      cr.fail('checkout', { status: 500 });
      const n = cr.counters.checkout;
      try {
        const o = await createOrder(srv, u.token, 'credits_115', { provider: 'creem' });
        assertStatus(o, 201);
        assert.equal(o.body.provider, 'sandbox');
        assert.equal(cr.counters.checkout, n + 1);
      } finally {
        cr.clearFailures();
      }
    });
  });

  it('metrics count Creem notifications by outcome', async () => {
    const m = (await srv.get('/metrics')).text;
    for (const outcome of ['fulfilled', 'duplicate', 'rejected', 'mismatch', 'ignored', 'refunded'])
      assert.match(m, new RegExp(`tollgate_payment_notifications_total\\{provider="creem",outcome="${outcome}"\\} [1-9]\\d*`), outcome);
  });

  it('tollgate audit is clean after all of the above', () => {
    assertAuditClean(srv);
  });

  invariantTest(() => srv);
});
