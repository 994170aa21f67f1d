// Plans end to end with Creem: the real binary (TG_TEST_CLOCK=1, so a month passes in one
// request) against the fake Creem (tests/fakes/creem.mjs), whose clock follows the server's
// so that its Standard Webhooks timestamps stay within Tollgate's 5-minute tolerance.
// Covers: subscribing (the recurring product Creem is asked for, the first period granted
// once although checkout.completed and subscription.paid both report it), three renewals
// (exactly three more grants, repeated deliveries ignored, the previous remainder written
// off as plan_expire), cancel then resume, cancel and run to period end (the credits expire
// in the ledger), an upgrade mid-period (the difference granted now, Creem charging the
// prorated difference), a failed renewal (past_due, nothing granted, then Creem gives up and
// the subscription ends), an event for a subscription nobody knows, and `tollgate audit`
// at the server's clock.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startServer, invariantTest, assertError, assertStatus, LOOSE_LIMITS } from './lib/server.mjs';
import { createOrder, ledgerEntries, eventually } from './lib/pay.mjs';
import { readOutbox } from './lib/mail.mjs';
import { startFakeCreem } from '../fakes/creem.mjs';

const DAY = 86400000;

describe('plans with Creem', () => {
  let srv, cr, admin, adminCreds, catalogDir;

  before(async () => {
    cr = await startFakeCreem();
    catalogDir = mkdtempSync(path.join(tmpdir(), 'tollgate-subs-creem-catalog-'));
    const catalog = path.join(catalogDir, 'catalog.json');
    writeFileSync(catalog, JSON.stringify({
      packs: [{ id: 'credits_115', credits: 115, prices: { USD: 990, CNY: 6800 }, creem_product_id: 'prod_credits_115' }],
      plans: [
        { id: 'pro', credits_per_month: 300, periods: [
          { id: 'pro_monthly', period: 'month', prices: { USD: 1990, CNY: 12800 }, creem_product_id: 'prod_pro_monthly' },
          { id: 'pro_yearly', period: 'year', prices: { USD: 19900, CNY: 128000 }, creem_product_id: 'prod_pro_yearly' }] },
        { id: 'max', credits_per_month: 900, periods: [
          { id: 'max_monthly', period: 'month', prices: { USD: 4990, CNY: 32800 }, creem_product_id: 'prod_max_monthly' },
          { id: 'max_yearly', period: 'year', prices: { USD: 49900, CNY: 328000 }, creem_product_id: 'prod_max_yearly' }] },
      ],
    }));
    srv = await startServer({
      env: {
        TG_CREEM_API_KEY: cr.apiKey,
        TG_CREEM_WEBHOOK_SECRET: cr.webhookSecret,
        TG_CREEM_API_BASE: cr.url,
        TG_CATALOG: catalog,
        TG_REGION_GLOBAL_PAYMENT: 'creem',
        TG_SIGNUP_CREDITS_REQUIRE_VERIFIED: 'off',
        TG_TRUSTED_PROXIES: '127.0.0.1/32',
        TG_ORDER_TTL: '3600',
        TG_TEST_CLOCK: '1',
        TG_RATE_LIMITS: `${LOOSE_LIMITS},payment=100000/1h`,
      },
    });
    for (const s of [cr.apiKey, cr.webhookSecret, cr.webhookSecret.slice(6)]) srv.secrets.add(s);
    cr.setNotifyUrl(`${srv.url}/api/v1/webhooks/creem`);
    // The event a subscription call causes reaches Tollgate a moment after Creem's answer, as
    // it usually does; the test at the end has it overtake the answer.
    cr.setEventTiming({ delayMs: 200 });
    admin = await srv.admin();
    adminCreds = { email: admin.email, password: admin.password };
    await syncClock();
  });
  after(async () => {
    await cr?.close();
    srv?.cleanup();
    if (catalogDir) rmSync(catalogDir, { recursive: true, force: true });
  });

  // ---- the clock -----------------------------------------------------------------------------

  /** The server's clock (ms); the fake's is set to it. */
  async function syncClock() {
    const r = await srv.get('/api/v1/admin/clock', { token: admin.token });
    assertStatus(r, 200);
    assert.equal(typeof r.body.now_ms, 'number');
    assert.equal(r.body.now, new Date(r.body.now_ms).toISOString());
    cr.setNow(r.body.now_ms);
    return r.body.now_ms;
  }

  /** Moves the server's clock (and the fake's) by ms; signs the admin and the users in again
   * (their access tokens expire with the clock). Returns the server's new now_ms. */
  async function advance(ms, ...users) {
    const r = await srv.post('/api/v1/admin/clock', { advance_ms: ms }, { token: admin.token });
    assertStatus(r, 200);
    admin = await srv.login(adminCreds.email, adminCreds.password);
    for (const u of users) u.token = (await srv.login(u.email, u.password)).token;
    return syncClock();
  }

  /** Moves the clock to just after `to` (ms). */
  async function advanceTo(to, ...users) {
    const now = await syncClock();
    assert.ok(to > now, `advanceTo: ${new Date(to).toISOString()} is not in the future`);
    return advance(to - now + 1000, ...users);
  }

  // ---- helpers -------------------------------------------------------------------------------

  const subscription = async (u) => {
    const r = await srv.get('/api/v1/subscription', { token: u.token });
    assertStatus(r, 200);
    return r.body.subscription;
  };
  const credits = async (u) => {
    const r = await srv.get('/api/v1/credits', { token: u.token });
    assertStatus(r, 200);
    return r.body;
  };

  /** A user who bought pro_monthly through Creem: {u, order, sub (ours), ref (Creem's), period}. */
  async function subscribe(tag, product = 'pro_monthly') {
    const u = await srv.register({ tag });
    const o = await createOrder(srv, u.token, product, { return_url: '/plans' });
    assertStatus(o, 201);
    assert.equal(o.body.provider, 'creem');
    const paid = await cr.pay(o.body.id);
    assert.deepEqual(paid.answers.map((a) => a.status), [200, 200, 200], 'checkout.completed, subscription.active, subscription.paid');
    const s = await subscription(u);
    assert.equal(s.status, 'active');
    return { u, order: o.body, sub: s.id, ref: paid.subscription, creem: cr.subscription(paid.subscription) };
  }

  // ---- subscribing ---------------------------------------------------------------------------

  it('subscribing: the recurring product at Creem, the first period granted once, 300 plan credits until its end', async () => {
    const u = await srv.register({ tag: 'creem-sub' });
    const before = cr.requests.length;
    const o = await createOrder(srv, u.token, 'pro_monthly', { return_url: '/plans' });
    assertStatus(o, 201);
    assert.equal(o.body.provider, 'creem');
    assert.equal(o.body.product, 'pro_monthly');
    assert.deepEqual(o.body.amount, { amount: 1990, currency: 'USD' });
    const calls = cr.requests.slice(before).filter((r) => r.endpoint === 'checkout');
    assert.equal(calls.length, 1);
    assert.deepEqual(JSON.parse(calls[0].body), {
      product_id: 'prod_pro_monthly',
      request_id: o.body.id,
      success_url: `${srv.url}/api/v1/orders/${o.body.id}/return`,
      metadata: { order_id: o.body.id, product: 'pro_monthly' },
    });
    assert.deepEqual(o.body.checkout, { url: `${cr.url}/checkout/${cr.checkout(o.body.id).id}` });

    const paid = await cr.pay(o.body.id);
    assert.deepEqual(paid.answers.map((a) => a.status), [200, 200, 200]);
    const c = cr.subscription(paid.subscription);
    const s = await subscription(u);
    assert.match(s.id, /^sub_[0-9A-HJKMNP-TV-Z]{26}$/);
    assert.equal(s.plan, 'pro');
    assert.equal(s.product, 'pro_monthly');
    assert.equal(s.period, 'month');
    assert.equal(s.status, 'active');
    assert.equal(s.provider, 'creem');
    assert.equal(s.auto_renew, true);
    assert.equal(s.cancel_at_period_end, false);
    assert.deepEqual(s.current_period, { start: c.current_period_start_date, end: c.current_period_end_date });
    assert.deepEqual(s.credit_period, s.current_period, 'a monthly plan: the credit period is the paid one');
    assert.deepEqual(s.credits, { per_month: 300, granted: 300, used: 0, remaining: 300 });
    assert.equal(s.renews_at, c.current_period_end_date);
    assert.equal(s.ends_at, null);
    assert.deepEqual(s.amount, { amount: 1990, currency: 'USD' });
    assert.equal(s.ended_at, null);

    const grants = await ledgerEntries(srv, u.token, 'plan_grant');
    assert.equal(grants.length, 1, 'checkout.completed and the first subscription.paid grant one period');
    assert.equal(grants[0].delta, 300);
    assert.equal(grants[0].ref_id, `${s.id}:1`);
    const w = await credits(u);
    assert.equal(w.plan_credits, 300);
    assert.equal(w.plan_expires_at, c.current_period_end_date);
    const order = (await srv.get(`/api/v1/orders/${o.body.id}`, { token: u.token })).body;
    assert.equal(order.status, 'paid');

    // The same first period reported again (Creem's retry) changes nothing.
    const again = cr.subEvent('subscription.paid', paid.subscription);
    assert.deepEqual((await cr.deliver(again, { times: 3, parallel: true })).map((a) => a.status), [200, 200, 200]);
    assert.equal((await ledgerEntries(srv, u.token, 'plan_grant')).length, 1);

    // A second plan while this one renews at Creem.
    assertError(await createOrder(srv, u.token, 'max_monthly'), 409, 'subscription_exists');
  });

  it('three renewals: exactly three more grants, duplicates ignored, each remainder written off as plan_expire', async () => {
    const { u, sub, ref, creem } = await subscribe('creem-renew');
    const transactions = [creem.last_transaction_id];
    for (let n = 1; n <= 3; n++) {
      const held = cr.subscription(ref);
      await advanceTo(Date.parse(held.current_period_end_date), u);
      const r = await cr.renew(ref, { times: 3, parallel: true });
      transactions.push(r.transaction);
      assert.deepEqual(r.answers.map((a) => a.status), [200, 200, 200], `renewal ${n}: every delivery acknowledged`);
      // Creem's retry of the same renewal, later and one at a time: still nothing new.
      assert.deepEqual((await cr.deliver(r.event)).map((a) => a.status), [200]);
      const c = cr.subscription(ref);
      const s = await subscription(u);
      assert.equal(s.status, 'active');
      assert.deepEqual(s.current_period, { start: c.current_period_start_date, end: c.current_period_end_date }, `renewal ${n}: the new period`);
      assert.deepEqual(s.credits, { per_month: 300, granted: 300, used: 0, remaining: 300 });
      const grants = await ledgerEntries(srv, u.token, 'plan_grant');
      assert.deepEqual(grants.map((g) => g.ref_id).sort(), Array.from({ length: n + 1 }, (_, i) => `${sub}:${i + 1}`).sort());
      const expired = await ledgerEntries(srv, u.token, 'plan_expire');
      assert.deepEqual(expired.map((e) => [e.ref_id, e.delta]).sort(),
        Array.from({ length: n }, (_, i) => [`${sub}:${i + 1}`, -300]).sort(), `renewal ${n}: the previous period's 300 written off once`);
      assert.equal((await credits(u)).plan_credits, 300);
    }
    // Each renewal is a paid plan order of its own, known by Creem's transaction.
    const orders = await srv.get(`/api/v1/admin/orders?user_id=${u.id}&limit=100`, { token: admin.token });
    assertStatus(orders, 200);
    const plan = orders.body.data.filter((o) => o.product === 'pro_monthly');
    assert.deepEqual(plan.map((o) => o.status), ['paid', 'paid', 'paid', 'paid']);
    const refs = await Promise.all(plan.map(async (o) => (await srv.get(`/api/v1/admin/orders/${o.id}`, { token: admin.token })).body.provider_ref));
    assert.deepEqual(refs.slice().sort(), [cr.checkout(plan.at(-1).id).id, ...transactions.slice(1)].sort(),
      'the first order is the checkout, each renewal is known by its Creem transaction');
  });

  it('cancel then resume: Creem is asked to cancel at period end, then to resume', async () => {
    const { u, ref } = await subscribe('creem-cancel-resume');
    const before = cr.requests.length;
    const c1 = await srv.post('/api/v1/subscription/cancel', {}, { token: u.token });
    assertStatus(c1, 200);
    assert.equal(c1.body.subscription.cancel_at_period_end, true);
    assert.equal(c1.body.subscription.auto_renew, false);
    assert.equal(c1.body.subscription.status, 'active');
    assert.equal(c1.body.subscription.renews_at, null);
    assert.equal(c1.body.subscription.ends_at, c1.body.subscription.current_period.end);
    const calls = cr.requests.slice(before).filter((r) => r.endpoint === 'subscription');
    assert.equal(calls.length, 1);
    assert.equal(calls[0].url, `/v1/subscriptions/${ref}/cancel`);
    assert.deepEqual(JSON.parse(calls[0].body), { mode: 'scheduled', onExecute: 'cancel' });
    assert.equal(cr.subscription(ref).status, 'scheduled_cancel');
    await cr.settle(); // subscription.scheduled_cancel, after Creem's answer
    assert.equal(cr.deliveries.at(-1).status, 200);
    assert.equal((await subscription(u)).cancel_at_period_end, true);

    const r1 = await srv.post('/api/v1/subscription/resume', {}, { token: u.token });
    assertStatus(r1, 200);
    assert.equal(r1.body.subscription.cancel_at_period_end, false);
    assert.equal(r1.body.subscription.auto_renew, true);
    const resumed = cr.requests.slice(before).filter((r) => r.endpoint === 'subscription');
    assert.equal(resumed.length, 2);
    assert.equal(resumed[1].url, `/v1/subscriptions/${ref}/resume`);
    assert.equal(resumed[1].body, '');
    assert.equal(cr.subscription(ref).status, 'active');
    await cr.settle(); // subscription.update (active)
    assert.equal(cr.deliveries.at(-1).status, 200);
    const s = await subscription(u);
    assert.equal(s.cancel_at_period_end, false);
    assert.equal(s.auto_renew, true);
    assertError(await srv.post('/api/v1/subscription/resume', {}, { token: u.token }), 409, 'subscription_not_resumable');
    assert.equal(cr.requests.slice(before).filter((r) => r.endpoint === 'subscription').length, 2, 'nothing asked of Creem for a refused resume');
  });

  it('cancel and run to period end: the subscription ends and its credits expire in the ledger', async () => {
    const { u, sub, ref, creem } = await subscribe('creem-cancel-end');
    assertStatus(await srv.post('/api/v1/subscription/cancel', {}, { token: u.token }), 200);
    await cr.settle();
    await advanceTo(Date.parse(creem.current_period_end_date), u);
    const s = await eventually(async () => {
      const x = await subscription(u);
      return x.status !== 'active' && x;
    }, 10000, 'the subscription job to end the canceled subscription at its period end');
    assert.equal(s.status, 'canceled');
    assert.equal(s.cancel_at_period_end, true);
    assert.equal(s.auto_renew, false);
    assert.equal(s.ended_at, creem.current_period_end_date, 'ended at its period end');
    const expired = await ledgerEntries(srv, u.token, 'plan_expire');
    assert.deepEqual(expired.map((e) => [e.ref_id, e.delta]), [[`${sub}:1`, -300]]);
    assert.equal((await ledgerEntries(srv, u.token, 'plan_grant')).length, 1, 'no period granted after the end');
    assert.equal((await credits(u)).plan_credits, 0);
    // Creem executes the scheduled cancel: subscription.canceled, acknowledged, nothing more.
    const end = await cr.runToPeriodEnd(ref);
    assert.equal(end.status, 200);
    assert.deepEqual((await ledgerEntries(srv, u.token, 'plan_expire')).map((e) => e.ref_id), [`${sub}:1`]);
    assert.equal((await credits(u)).plan_credits, 0);
  });

  it('upgrade mid-period: Creem charges the prorated difference now, the difference of this month is granted now', async () => {
    const { u, sub, ref, creem } = await subscribe('creem-upgrade');
    await advance(15 * DAY, u);
    const before = cr.requests.length;
    const r = await srv.post('/api/v1/subscription/change', { product: 'max_monthly' }, { token: u.token });
    assertStatus(r, 200);
    assert.equal(r.body.subscription.product, 'max_monthly');
    assert.equal(r.body.subscription.plan, 'max');
    assert.equal(r.body.subscription.credits.per_month, 900);
    assert.equal(r.body.subscription.credits.granted, 900);
    assert.equal(r.body.subscription.credits.remaining, 900);
    assert.equal(r.body.subscription.next_product, null);
    assert.deepEqual(r.body.subscription.current_period, { start: creem.current_period_start_date, end: creem.current_period_end_date },
      'the period does not move');
    const calls = cr.requests.slice(before).filter((x) => x.endpoint === 'subscription');
    assert.equal(calls.length, 1);
    assert.equal(calls[0].url, `/v1/subscriptions/${ref}/upgrade`);
    assert.deepEqual(JSON.parse(calls[0].body), { product_id: 'prod_max_monthly', update_behavior: 'proration-charge-immediately' });
    const c = cr.subscription(ref);
    assert.equal(c.product.id, 'prod_max_monthly');
    assert.ok(c.last_transaction.amount > 0 && c.last_transaction.amount < 4990 - 1990, 'a prorated charge at Creem');
    const grants = await ledgerEntries(srv, u.token, 'plan_grant');
    assert.deepEqual(grants.map((g) => [g.ref_id, g.delta]).sort(), [[`${sub}:1`, 300], [`${sub}:1:max_monthly`, 600]].sort());
    assert.equal((await credits(u)).plan_credits, 900);
    await cr.settle(); // subscription.update with the new product: in line already
    assert.equal(cr.deliveries.at(-1).status, 200);
    assert.equal((await ledgerEntries(srv, u.token, 'plan_grant')).length, 2);
    assertError(await srv.post('/api/v1/subscription/change', { product: 'max_monthly' }, { token: u.token }), 409, 'subscription_same_plan');

    // The next period is max's: 900 granted, the 900 left written off.
    await advanceTo(Date.parse(c.current_period_end_date), u);
    const rn = await cr.renew(ref);
    assert.deepEqual(rn.answers.map((a) => a.status), [200]);
    const after2 = await ledgerEntries(srv, u.token, 'plan_grant');
    assert.deepEqual(after2.filter((g) => g.ref_id === `${sub}:2`).map((g) => g.delta), [900]);
    assert.deepEqual((await ledgerEntries(srv, u.token, 'plan_expire')).map((e) => [e.ref_id, e.delta]), [[`${sub}:1`, -900]]);
  });

  it('a failed renewal: past_due and nothing granted; when Creem gives up the subscription ends', async () => {
    const { u, sub, ref, creem } = await subscribe('creem-past-due');
    await advanceTo(Date.parse(creem.current_period_end_date), u);
    const f = await cr.failRenewal(ref);
    assert.equal(f.status, 200);
    const s = await subscription(u);
    assert.equal(s.status, 'past_due');
    assert.equal(s.auto_renew, true, 'Creem keeps trying');
    assert.equal((await ledgerEntries(srv, u.token, 'plan_grant')).length, 1, 'no credits for an unpaid period');
    await eventually(async () => (await credits(u)).plan_credits === 0, 10000, 'the job to write the ended month off');
    assert.deepEqual((await ledgerEntries(srv, u.token, 'plan_expire')).map((e) => [e.ref_id, e.delta]), [[`${sub}:1`, -300]]);
    // The user is told (the job mails it after its commit).
    const told = await eventually(() => {
      const m = readOutbox(srv.dataDir).filter((f) => f.mail && f.mail.header('to') === u.email &&
        f.mail.subject === "Your plan's renewal payment failed");
      return m.length > 0 && m;
    }, 10000, 'the past-due mail');
    assert.equal(told.length, 1);
    // The same failure reported again changes nothing.
    assert.deepEqual((await cr.deliver(f.event)).map((a) => a.status), [200]);
    const g = await cr.giveUp(ref, { type: 'expired' });
    assert.equal(g.status, 200);
    const ended = await subscription(u);
    assert.equal(ended.status, 'canceled');
    assert.equal(ended.auto_renew, false);
    assert.notEqual(ended.ended_at, null);
    assert.equal((await ledgerEntries(srv, u.token, 'plan_grant')).length, 1);
    assert.deepEqual((await ledgerEntries(srv, u.token, 'plan_expire')).map((e) => [e.ref_id, e.delta]), [[`${sub}:1`, -300]]);
    assert.equal((await credits(u)).plan_credits, 0);
    // A new plan may be bought once it ended.
    assertStatus(await createOrder(srv, u.token, 'pro_monthly'), 201);
  });

  // Creem's webhook can reach Tollgate before Creem's answer to the call that caused it does
  // (setEventTiming({before: true}): the fake delivers the event, then answers). The call must
  // still succeed, and nothing be granted twice.
  async function overtaken(fn) {
    cr.setEventTiming({ before: true });
    try {
      return await fn();
    } finally {
      cr.setEventTiming({ delayMs: 200 });
    }
  }

  it('subscription.scheduled_cancel overtakes the answer to cancel: still 200', async () => {
    const { u } = await subscribe('creem-overtaken-cancel');
    const c = await overtaken(() => srv.post('/api/v1/subscription/cancel', {}, { token: u.token }));
    assertStatus(c, 200);
    assert.equal(c.body.subscription.cancel_at_period_end, true);
    assert.equal(c.body.subscription.auto_renew, false);
  });

  it('subscription.update (active) overtakes the answer to resume: still 200', async () => {
    const { u } = await subscribe('creem-overtaken-resume');
    assertStatus(await srv.post('/api/v1/subscription/cancel', {}, { token: u.token }), 200);
    await cr.settle();
    const r = await overtaken(() => srv.post('/api/v1/subscription/resume', {}, { token: u.token }));
    assertStatus(r, 200);
    assert.equal(r.body.subscription.cancel_at_period_end, false);
    assert.equal(r.body.subscription.auto_renew, true);
  });

  it('subscription.update (the new product) overtakes the answer to an upgrade: still 200, the difference granted once', async () => {
    const { u, sub } = await subscribe('creem-overtaken-upgrade');
    const g = await overtaken(() => srv.post('/api/v1/subscription/change', { product: 'max_monthly' }, { token: u.token }));
    assert.deepEqual((await ledgerEntries(srv, u.token, 'plan_grant')).map((e) => [e.ref_id, e.delta]).sort(),
      [[`${sub}:1`, 300], [`${sub}:1:max_monthly`, 600]].sort(), 'granted once whatever the call answers');
    assertStatus(g, 200);
    assert.equal(g.body.subscription.product, 'max_monthly');
    assert.equal(g.body.subscription.credits.granted, 900);
  });

  it('an event for a subscription Tollgate does not know is refused (400) so that Creem delivers it again', async () => {
    const { ref } = await subscribe('creem-unknown');
    const ev = cr.subEvent('subscription.paid', ref);
    ev.object.id = 'sub_nobodyKnowsThisOne0000';
    assert.deepEqual((await cr.deliver(ev)).map((a) => a.status), [400]);
  });

  it('tollgate audit at the server\'s clock is clean (plan credits never outlive their period)', async () => {
    // Creem charges every subscription it still runs up to now (the clock moved months past
    // some of them): each renewal is granted, and what is over the job writes off.
    const now = await syncClock();
    for (const x of cr.subscriptions().filter((y) => y.status === 'active')) {
      while (Date.parse(cr.subscription(x.id).current_period_end_date) <= now) {
        const r = await cr.renew(x.id);
        assert.deepEqual(r.answers.map((a) => a.status), [200]);
      }
    }
    // The job (every second) rolls them; the audit looks as of the server's instant.
    let last;
    const r = await eventually(async () => {
      last = srv.cli(['audit', '--now', String(await syncClock())]);
      return last.code === 0 && last;
    }, 15000, 'a clean audit').catch((e) => assert.fail(`${e.message}: ${last.stdout}\n${last.stderr}`));
    assert.match(r.stdout, /^order audit: 0 violations$/m);
    assert.match(r.stdout, /^subscription audit: 0 violations$/m);
  });

  invariantTest(() => srv);
});
