// Plans with Stripe, end to end: the real binary (TG_TEST_CLOCK=1, so a test can move its clock
// a month at a time) against the fake Stripe (tests/fakes/stripe.mjs), whose webhooks are signed
// by the npm stripe package at the fake's own clock, kept at the server's. Covers: subscribing
// to pro_monthly (a subscription-mode Checkout Session, 300 credits in the plan bucket, one
// plan_grant entry); three renewals a month apart (exactly three more grants, each previous
// credit period's remainder written off as plan_expire; a renewal delivered several times, and
// as both invoice.paid and invoice.payment_succeeded, changes nothing more); cancel and resume
// (Stripe's cancel_at_period_end follows); cancel and run to the period's end (the credits
// expire in the ledger, the subscription ends); an upgrade mid-period (the difference granted
// at once, Stripe asked to invoice the proration now); a failed renewal (past_due, no grant,
// then Stripe gives up and it ends); and `tollgate audit` clean at the server's time.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Server, freePort, assertStatus, assertError, invariantTest, LOOSE_LIMITS } from './lib/server.mjs';
import { startFakeStripe, addMonths } from '../fakes/stripe.mjs';
import { assertAuditClean, eventually } from './lib/pay.mjs';

const GLOBAL = { 'x-user-region': 'GLOBAL' };
const MINUTE = 60 * 1000;
const DAY = 24 * 60 * MINUTE;
const iso = (sec) => new Date(sec * 1000).toISOString();
const sec = (ms) => Math.floor(ms / 1000);

describe('Stripe plans', () => {
  let srv, st, admin, seq = 0;

  before(async () => {
    st = await startFakeStripe();
    srv = new Server({
      env: {
        TG_TEST_CLOCK: '1',
        TG_STRIPE_SECRET_KEY: st.secretKey,
        TG_STRIPE_WEBHOOK_SECRET: st.webhookSecret,
        TG_STRIPE_API_BASE: st.url,
        TG_REGION_GLOBAL_PAYMENT: 'stripe',
        TG_TRUSTED_PROXIES: '127.0.0.1/32',
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

  // ---- the clock ----

  /** The server's time (ms). */
  async function serverNow() {
    const r = await srv.get('/api/v1/admin/clock', { token: admin.token });
    assertStatus(r, 200, 'GET clock');
    assert.equal(r.body.now, new Date(r.body.now_ms).toISOString());
    return r.body.now_ms;
  }

  /** Moves the server's clock to `to` ms (forward only), the fake's with it, and signs in again. */
  async function advanceTo(to) {
    const before = await serverNow();
    assert.ok(to > before, `the clock only moves forward (${before} -> ${to})`);
    const r = await srv.post('/api/v1/admin/clock', { advance_ms: to - before }, { token: admin.token });
    assertStatus(r, 200, 'POST clock');
    assert.ok(r.body.now_ms >= to && r.body.now_ms < to + 5000, `clock moved to ${r.body.now_ms}, wanted ${to}`);
    st.setNow(sec(r.body.now_ms));
    admin = await srv.login(admin.email, admin.password); // the old token expired with the move
    for (const u of users) Object.assign(u, { token: (await srv.login(u.email, u.password)).token });
    return r.body.now_ms;
  }

  /**
   * Waits until the subscription job has rolled every live subscription up to `now`: each
   * credit period either still runs or was written off (start = end). Read through the admin
   * API rather than by running the audit repeatedly against the live database.
   */
  async function waitRolled(now) {
    await eventually(async () => {
      for (const status of ['active', 'past_due']) {
        const r = await srv.get(`/api/v1/admin/subscriptions?status=${status}&limit=100`, { token: admin.token });
        assertStatus(r, 200);
        for (const x of r.body.data)
          if (x.credit_period.start !== x.credit_period.end && Date.parse(x.credit_period.end) <= now) return false;
      }
      return true;
    }, 15000, 'the subscription job');
  }

  // ---- buyers ----

  const users = [];
  async function buyer() {
    const u = await srv.register({ tag: `plan${++seq}` });
    users.push(u);
    return u;
  }
  const wallet = async (u) => {
    const r = await srv.get('/api/v1/credits', { token: u.token });
    assertStatus(r, 200);
    return r.body;
  };
  const ledger = async (u) => {
    const r = await srv.get('/api/v1/credits/ledger?limit=100', { token: u.token });
    assertStatus(r, 200);
    return r.body.data;
  };
  /** The plan entries of u's ledger, oldest first, as [kind, delta, ref_id] (all in the plan bucket). */
  async function planEntries(u) {
    const es = (await ledger(u)).filter((e) => e.kind === 'plan_grant' || e.kind === 'plan_expire').reverse();
    for (const e of es) {
      assert.equal(e.bucket, 'plan', `${e.kind} ${e.ref_id} is in the plan bucket`);
      assert.equal(e.ref_type, 'subscription');
    }
    return es.map((e) => [e.kind, e.delta, e.ref_id]);
  }
  async function subscription(u) {
    const r = await srv.get('/api/v1/subscription', { token: u.token });
    assertStatus(r, 200, 'GET subscription');
    return r.body.subscription;
  }
  const fakeSub = (ref) => {
    const s = st.subscriptionFor(ref);
    const item = s.items.data[0];
    return { ...s, start: item.current_period_start, end: item.current_period_end, price: item.price };
  };

  /** u buys product with Stripe and pays at the fake: returns {order, sub (ours), ref (Stripe's)}. */
  async function subscribe(u, product = 'pro_monthly', amount = 1990) {
    const before = st.requests.length;
    const r = await srv.post('/api/v1/orders', { product, provider: 'stripe' }, { token: u.token, headers: GLOBAL });
    assertStatus(r, 201, 'plan order created');
    const o = r.body;
    assert.equal(o.product, product);
    assert.deepEqual(o.amount, { amount, currency: 'USD' });
    assert.equal(o.provider, 'stripe');
    assert.equal(o.status, 'pending');
    assert.ok(o.checkout.url.startsWith(`${st.url}/c/pay/cs_test_`), o.checkout.url);

    // What Tollgate asked of Stripe: a subscription-mode session naming our order and product.
    const sent = st.requests.slice(before).filter((q) => q.method === 'POST' && q.path === '/v1/checkout/sessions');
    assert.equal(sent.length, 1, 'one create call');
    assert.equal(sent[0].idempotencyKey, o.id);
    const s = st.sessionFor(o.id);
    assert.equal(s.mode, 'subscription');
    assert.equal(s.amount_total, amount);
    assert.equal(s.currency, 'usd');
    assert.equal(s.client_reference_id, o.id);
    assert.deepEqual(s.metadata, { order_id: o.id });

    const p = await st.pay(o.id, { now: sec(await serverNow()) });
    assert.equal(p.delivery.status, 200, p.delivery.body);
    assert.equal(p.delivery.body, '{"received":true}');
    assert.deepEqual(p.invoiceDeliveries.map((d) => d.status), [200], 'invoice.paid (subscription_create) acknowledged');
    const fs = fakeSub(p.subscription);
    assert.deepEqual(fs.metadata, { order_id: o.id, product });
    assert.deepEqual(fs.price.recurring, { interval: 'month', interval_count: 1, usage_type: 'licensed' });
    assert.equal(fs.price.unit_amount, amount);

    const paid = await srv.get(`/api/v1/orders/${o.id}`, { token: u.token });
    assertStatus(paid, 200);
    assert.equal(paid.body.status, 'paid');
    const sub = await subscription(u);
    assert.ok(sub, 'a subscription');
    return { order: paid.body, sub, ref: p.subscription, paidAt: paid.body.paid_at };
  }

  /** What GET /api/v1/subscription must say of a live monthly plan at Stripe in period fs. */
  // The first credit period starts when Tollgate learnt of the payment (the order's paid_at:
  // checkout.session.completed, which carries no period); the paid period and the later credit
  // periods are Stripe's.
  function expectLive(sub, fs, { creditStart = iso(fs.start), product = 'pro_monthly', plan = 'pro', perMonth = 300, granted = 300, canceling = false, amount = 1990 } = {}) {
    assert.equal(sub.plan, plan);
    assert.equal(sub.product, product);
    assert.equal(sub.period, 'month');
    assert.equal(sub.status, 'active');
    assert.equal(sub.provider, 'stripe');
    assert.equal(sub.cancel_at_period_end, canceling);
    assert.equal(sub.auto_renew, !canceling);
    assert.deepEqual(sub.current_period, { start: iso(fs.start), end: iso(fs.end) });
    assert.deepEqual(sub.credit_period, { start: creditStart, end: iso(fs.end) });
    assert.deepEqual(sub.credits, { per_month: perMonth, granted, used: 0, remaining: granted });
    assert.deepEqual(sub.amount, { amount, currency: 'USD' });
    assert.equal(sub.renews_at, canceling ? null : iso(fs.end));
    assert.equal(sub.ends_at, canceling ? iso(fs.end) : null);
    assert.equal(sub.next_product, null);
    assert.equal(sub.ended_at, null);
  }

  let renewer; // the subscriber of the renewal tests: {u, order, sub, ref}

  it('subscribe to pro_monthly: a subscription-mode session, 300 plan credits until the period ends, one plan_grant', async () => {
    const u = await buyer();
    const w0 = await wallet(u);
    assert.equal(w0.plan_credits, 0);
    const { order, sub, ref, paidAt } = await subscribe(u);
    const fs = fakeSub(ref);
    assert.equal(fs.end, addMonths(fs.start, 1));
    assert.match(sub.id, /^sub_[0-9A-Z]{26}$/);
    assert.ok(Date.parse(paidAt) >= fs.start * 1000 && Date.parse(paidAt) < fs.start * 1000 + 5000, `paid at ${paidAt}, Stripe's period from ${iso(fs.start)}`);
    expectLive(sub, fs, { creditStart: paidAt });
    const w = await wallet(u);
    assert.equal(w.plan_credits, 300);
    assert.equal(w.paid_credits, w0.paid_credits);
    assert.equal(w.available, w0.available + 300);
    assert.deepEqual(await planEntries(u), [['plan_grant', 300, `${sub.id}:1`]]);
    renewer = { u, order, sub, ref };
  });

  it("the first month's plan credits expire when Stripe's period ends (the wallet's plan_expires_at is the credit period's end)", async () => {
    // checkout.session.completed (no period) starts the subscription at Tollgate's time;
    // invoice.paid then brings Stripe's period, and the credit period's end with it.
    const { u, ref } = renewer;
    const fs = fakeSub(ref);
    assert.equal((await subscription(u)).credit_period.end, iso(fs.end));
    assert.equal((await wallet(u)).plan_expires_at, iso(fs.end));
  });

  it('three renewals a month apart: exactly three more grants, each remainder written off; repeats and both invoice events change nothing', async () => {
    const { u, sub, ref } = renewer;
    const deliveries = [
      { updated: true },                 // customer.subscription.updated first, as Stripe sends it
      { times: 3 },                      // the same invoice.paid three times
      { both: true, times: 2 },          // invoice.paid and invoice.payment_succeeded, twice each
    ];
    for (let i = 1; i <= 3; i++) {
      const before = fakeSub(ref);
      const now = await advanceTo(before.end * 1000 + MINUTE);
      const r = await st.renew(ref, { now: sec(now), ...deliveries[i - 1] });
      assert.deepEqual(r.period, { start: before.end, end: addMonths(before.end, 1) });
      assert.ok(r.deliveries.length >= 1 && r.deliveries.every((d) => d.status === 200), JSON.stringify(r.deliveries));
      const fs = fakeSub(ref);
      const s = await eventually(async () => {
        const x = await subscription(u);
        return x.current_period.start === iso(fs.start) ? x : null;
      }, 10000, `renewal ${i}`);
      expectLive(s, fs);
      const want = [['plan_grant', 300, `${sub.id}:1`]];
      for (let k = 1; k <= i; k++) want.push(['plan_expire', -300, `${sub.id}:${k}`], ['plan_grant', 300, `${sub.id}:${k + 1}`]);
      assert.deepEqual(await planEntries(u), want, `after renewal ${i}`);
      const w = await wallet(u);
      assert.equal(w.plan_credits, 300);
      assert.equal(w.plan_expires_at, iso(fs.end));
    }
    // every renewal is one paid plan order, keyed by its invoice
    const orders = await srv.get('/api/v1/orders?limit=100', { token: u.token });
    assertStatus(orders, 200);
    const plan = orders.body.data.filter((o) => o.product === 'pro_monthly');
    assert.equal(plan.length, 4, 'the first order and three renewals');
    assert.ok(plan.every((o) => o.status === 'paid' && o.amount.amount === 1990 && o.provider === 'stripe'));
    // a renewal delivered again long after: nothing changes
    const last = st.invoicesFor(ref).at(-1);
    const ev = st.events.find((e) => e.type === 'invoice.paid' && e.data.object.id === last.id);
    const again = await st.deliver(ev.id);
    assert.equal(again[0].status, 200);
    assert.equal((await planEntries(u)).length, 7);
  });

  it("cancel, then resume: Stripe's cancel_at_period_end follows; resume of a live one is 409", async () => {
    const u = await buyer();
    const { sub, ref, paidAt } = await subscribe(u);
    const fs = fakeSub(ref);
    const r0 = await srv.post('/api/v1/subscription/resume', {}, { token: u.token });
    assertError(r0, 409, 'subscription_not_resumable');

    const c = await srv.post('/api/v1/subscription/cancel', {}, { token: u.token });
    assertStatus(c, 200, 'cancel');
    expectLive(c.body.subscription, fs, { creditStart: paidAt, canceling: true });
    assert.equal(fakeSub(ref).cancel_at_period_end, true, 'Stripe was told');
    const res = await srv.post('/api/v1/subscription/resume', {}, { token: u.token });
    assertStatus(res, 200, 'resume');
    expectLive(res.body.subscription, fs, { creditStart: paidAt });
    assert.equal(fakeSub(ref).cancel_at_period_end, false, 'Stripe was told');
    const calls = st.requestsTo(`/v1/subscriptions/${ref}`).filter((q) => q.method === 'POST');
    assert.deepEqual(calls.map((q) => q.form), [{ cancel_at_period_end: 'true' }, { cancel_at_period_end: 'false' }]);
    // Stripe's own customer.subscription.updated events for both changes come back: nothing moves
    await eventually(() => st.deliveries.filter((d) => d.type === 'customer.subscription.updated').length >= 2, 5000, 'the updates');
    expectLive(await subscription(u), fs, { creditStart: paidAt });
    assert.deepEqual(await planEntries(u), [['plan_grant', 300, `${sub.id}:1`]]);
  });

  it('cancel and run to the period end: the remaining credits expire in the ledger and the subscription ends', async () => {
    const u = await buyer();
    const { sub, ref } = await subscribe(u);
    const fs = fakeSub(ref);
    const c = await srv.post('/api/v1/subscription/cancel', {}, { token: u.token });
    assertStatus(c, 200);
    assert.equal(c.body.subscription.cancel_at_period_end, true);
    assert.equal(fakeSub(ref).cancel_at_period_end, true);
    const now = await advanceTo(fs.end * 1000 + MINUTE);
    // The subscription job ends it at its period's end (every second), and Stripe says so too
    // (customer.subscription.deleted), which then changes nothing.
    const s = await eventually(async () => {
      const x = await subscription(u);
      return x.status === 'canceled' ? x : null;
    }, 10000, 'the end');
    const d = await st.endPeriod(ref, { now: sec(now) });
    assert.equal(d.status, 200);
    assert.deepEqual(await subscription(u), s);
    assert.equal(s.id, sub.id);
    assert.equal(s.auto_renew, false);
    assert.equal(s.renews_at, null);
    assert.equal(s.ended_at, iso(fs.end));
    assert.deepEqual(await planEntries(u), [['plan_grant', 300, `${sub.id}:1`], ['plan_expire', -300, `${sub.id}:1`]]);
    const w = await wallet(u);
    assert.equal(w.plan_credits, 0);
    const again = await srv.post('/api/v1/subscription/cancel', {}, { token: u.token });
    assertError(again, 404, 'no_subscription');
  });

  it('upgrade mid-period to max_monthly: 600 more credits now, Stripe invoices the proration at once', async () => {
    const u = await buyer();
    const { sub, ref, paidAt } = await subscribe(u);
    const fs = fakeSub(ref);
    await advanceTo((fs.start + 10 * 86400) * 1000);
    const r = await srv.post('/api/v1/subscription/change', { product: 'max_monthly' }, { token: u.token });
    assertStatus(r, 200, 'change');
    const up = fakeSub(ref);
    assert.equal(up.price.unit_amount, 4990);
    assert.equal(up.metadata.product, 'max_monthly');
    const call = st.requestsTo(`/v1/subscriptions/${ref}`).filter((q) => q.method === 'POST').at(-1);
    assert.deepEqual(call.form, {
      items: [{ id: fs.items.data[0].id, price_data: { currency: 'usd', product: fs.price.product, unit_amount: '4990', recurring: { interval: 'month' } } }],
      proration_behavior: 'always_invoice', payment_behavior: 'error_if_incomplete', metadata: { product: 'max_monthly' },
    });
    assert.ok(call.idempotencyKey, 'the change carries an Idempotency-Key');
    const proration = st.invoicesFor(ref).filter((i) => i.billing_reason === 'subscription_update');
    assert.equal(proration.length, 1, 'one proration invoice');
    // Stripe's events about the change (customer.subscription.updated, the proration's invoice.paid)
    await eventually(() => st.deliveries.some((d) => d.type === 'invoice.paid' && d.event &&
      st.events.find((e) => e.id === d.event)?.data.object.id === proration[0].id), 5000, 'the proration event');
    assert.ok(st.deliveries.filter((d) => d.type !== null).every((d) => d.status === 200));
    const s = await subscription(u);
    expectLive(s, fs, { creditStart: paidAt, product: 'max_monthly', plan: 'max', perMonth: 900, granted: 900, amount: 4990 });
    assert.deepEqual(await planEntries(u), [['plan_grant', 300, `${sub.id}:1`], ['plan_grant', 600, `${sub.id}:1:max_monthly`]]);
    assert.equal((await wallet(u)).plan_credits, 900);
  });

  it('a failed renewal: past_due and no grant; when Stripe gives up, the subscription ends', async () => {
    const u = await buyer();
    const { sub, ref } = await subscribe(u);
    const fs = fakeSub(ref);
    const now = await advanceTo(fs.end * 1000 + MINUTE);
    const f = await st.failRenewal(ref, { now: sec(now) });
    assert.deepEqual(f.deliveries.map((d) => d.status), [200, 200]);
    const s = await eventually(async () => {
      const x = await subscription(u);
      return x.status === 'past_due' ? x : null;
    }, 10000, 'past_due');
    assert.equal(s.id, sub.id);
    assert.equal((await planEntries(u)).filter((e) => e[0] === 'plan_grant').length, 1, 'no grant for an unpaid period');
    const later = await advanceTo(now + 14 * DAY);
    // Two weeks of Stripe's retries: still past_due, its month written off, and that is no
    // violation for the audit (the other renewing subscriptions are likewise waiting).
    assert.equal((await subscription(u)).status, 'past_due');
    await waitRolled(later);
    assertAuditClean(srv, { now: later });
    const g = await st.giveUp(ref, { now: sec(later) });
    assert.equal(g.status, 200);
    const e = await eventually(async () => {
      const x = await subscription(u);
      return x.status === 'canceled' ? x : null;
    }, 10000, 'the end');
    assert.ok(e.ended_at);
    assert.deepEqual(await planEntries(u), [['plan_grant', 300, `${sub.id}:1`], ['plan_expire', -300, `${sub.id}:1`]]);
    assert.equal((await wallet(u)).plan_credits, 0);
  });

  it('tollgate audit is clean at the server\'s time', async () => {
    // The last move put the renewing subscriptions past their periods' ends: the subscription
    // job (every second) writes their credit periods off, then the audit as of the server's
    // instant is clean.
    const now = await serverNow();
    await waitRolled(now);
    assertAuditClean(srv, { now });
  });

  invariantTest(() => srv);
});
