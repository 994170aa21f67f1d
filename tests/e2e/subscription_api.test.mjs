// The subscription routes end to end (src/api/subscription.c, api/clock.c): authentication,
// validation, a user without a subscription, the admin's views; a prepaid plan bought with the
// sandbox provider (GET shows it with its 300 plan credits, cancel at period end, resume, a
// plan change refused as prepaid, the admin's list, get and cancel with their audit rows); a
// plan never sold by a provider that renews subscriptions (Creem) next to a live prepaid one,
// whether asked for or reached by the fallback; and the test clock (TG_TEST_CLOCK): moving it forward moves `now`, the Date
// header and token expiry, `tollgate audit --now`, and 404 when the key is off.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, invariantTest, assertError, assertStatus, LOOSE_LIMITS } from './lib/server.mjs';
import { createOrder, ledgerEntries, eventually } from './lib/pay.mjs';
import { assertSchema } from './lib/openapi.mjs';

const DAY = 24 * 3600 * 1000;
const SUB_ID_RE = /^sub_[0-9A-HJKMNP-TV-Z]{26}$/;
const NO_SUCH_SUB = 'sub_01ARZ3NDEKTSV4RRFFQ69G5FAV';

/** ms plus n calendar months in UTC, the day clamped to the target month's last. */
function addMonths(ms, n) {
  const d = new Date(ms);
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth() + n;
  const last = new Date(Date.UTC(y, m + 1, 0)).getUTCDate();
  return Date.UTC(y, m, Math.min(d.getUTCDate(), last), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), d.getUTCMilliseconds());
}

describe('subscriptions over HTTP (test clock on, sandbox payments)', () => {
  let srv;
  let admin;
  before(async () => {
    srv = await startServer({
      env: {
        TG_TEST_CLOCK: 'on',
        TG_SIGNUP_CREDITS_REQUIRE_VERIFIED: 'off',
        // Creem (it renews subscriptions) is offered first but its API is unreachable: a
        // checkout there fails and the order falls back to the sandbox, unless the subscription
        // check already left Creem out.
        TG_CREEM_API_KEY: 'creem_test_key_subscriptions_e2e',
        TG_CREEM_WEBHOOK_SECRET: 'whsec_subscriptions_e2e_0123456789',
        TG_CREEM_API_BASE: 'http://127.0.0.1:9',
        TG_REGION_GLOBAL_PAYMENT: 'creem,sandbox',
        TG_SANDBOX: 'on',
        TG_RATE_LIMITS: `${LOOSE_LIMITS},payment=100000/1h`,
      },
    });
    srv.secrets.add('creem_test_key_subscriptions_e2e');
    srv.secrets.add('whsec_subscriptions_e2e_0123456789');
    admin = await srv.admin();
  });
  after(() => srv?.cleanup());

  /** Buys plan product at the sandbox (asked for by name) and pays it; returns the order. */
  async function buyPlan(user, product = 'pro_monthly') {
    const o = await createOrder(srv, user.token, product, { provider: 'sandbox' });
    assertStatus(o, 201);
    assert.equal(o.body.kind, 'plan');
    const pay = await srv.req('POST', `/sandbox/checkout/${o.body.id}/pay`);
    assert.equal(pay.status, 303, pay.text);
    return o.body;
  }
  const mine = async (token) => {
    const r = await srv.get('/api/v1/subscription', { token });
    assertStatus(r, 200);
    assertSchema(r.body, 'SubscriptionEnvelope');
    return r.body.subscription;
  };
  async function auditRows(action, targetId) {
    const a = await srv.get('/api/v1/admin/audit-log?limit=100', { token: admin.token });
    assertStatus(a, 200);
    return a.body.data.filter((e) => e.action === action && e.target_id === targetId);
  }

  it('every route needs a token (401), and the admin routes an admin (403)', async () => {
    const u = await srv.register({ tag: 'nosub-auth' });
    assertError(await srv.get('/api/v1/subscription'), 401, 'unauthorized');
    assertError(await srv.post('/api/v1/subscription/cancel', {}), 401, 'unauthorized');
    assertError(await srv.post('/api/v1/subscription/resume', {}), 401, 'unauthorized');
    assertError(await srv.post('/api/v1/subscription/change', { product: 'max_monthly' }), 401, 'unauthorized');
    assertError(await srv.get('/api/v1/subscription', { token: 'not-a-token' }), 401, 'invalid_token');
    assertError(await srv.get('/api/v1/admin/subscriptions'), 401, 'unauthorized');
    assertError(await srv.get('/api/v1/admin/clock'), 401, 'unauthorized');
    assertError(await srv.get('/api/v1/admin/subscriptions', { token: u.token }), 403, 'forbidden');
    assertError(await srv.get(`/api/v1/admin/subscriptions/${NO_SUCH_SUB}`, { token: u.token }), 403, 'forbidden');
    assertError(await srv.post(`/api/v1/admin/subscriptions/${NO_SUCH_SUB}/cancel`, {}, { token: u.token }), 403, 'forbidden');
    assertError(await srv.get('/api/v1/admin/clock', { token: u.token }), 403, 'forbidden');
    assertError(await srv.post('/api/v1/admin/clock', { advance_ms: DAY }, { token: u.token }), 403, 'forbidden');
  });

  it('an API key reads the subscription but cannot change it (403): an upgrade charges the card, a leaked key must not', async () => {
    const u = await srv.register({ tag: 'apikey' });
    const k = await srv.post('/api/v1/api-keys', { name: 'script' }, { token: u.token });
    assertStatus(k, 201);
    const key = k.body.key;
    const got = await srv.get('/api/v1/subscription', { token: key });
    assertStatus(got, 200);
    assert.deepEqual(got.body, { subscription: null });
    assertError(await srv.post('/api/v1/subscription/cancel', undefined, { token: key }), 403, 'forbidden');
    assertError(await srv.post('/api/v1/subscription/resume', undefined, { token: key }), 403, 'forbidden');
    assertError(await srv.post('/api/v1/subscription/change', { product: 'max_monthly' }, { token: key }), 403, 'forbidden');
  });

  it('a user without a subscription: GET is null, cancel, resume and change are 404 no_subscription; the admin list is empty', async () => {
    const u = await srv.register({ tag: 'nosub' });
    assert.equal(await mine(u.token), null);
    // No body, an empty object: both are a cancel.
    assertError(await srv.post('/api/v1/subscription/cancel', undefined, { token: u.token }), 404, 'no_subscription');
    assertError(await srv.post('/api/v1/subscription/cancel', {}, { token: u.token }), 404, 'no_subscription');
    assertError(await srv.post('/api/v1/subscription/resume', undefined, { token: u.token }), 404, 'no_subscription');
    assertError(await srv.post('/api/v1/subscription/change', { product: 'max_monthly' }, { token: u.token }), 404, 'no_subscription');
    const list = await srv.get(`/api/v1/admin/subscriptions?user_id=${u.id}`, { token: admin.token });
    assertStatus(list, 200);
    assert.deepEqual(list.body, { data: [], next_cursor: null });
    assertError(await srv.get(`/api/v1/admin/subscriptions/${NO_SUCH_SUB}`, { token: admin.token }), 404, 'not_found');
    assertError(await srv.post(`/api/v1/admin/subscriptions/${NO_SUCH_SUB}/cancel`, {}, { token: admin.token }), 404, 'not_found');
  });

  it('bad input is 400 (unknown fields, a missing or non-plan product, bad filters and cursors) and odd ids 404', async () => {
    const u = await srv.register({ tag: 'badinput' });
    const t = { token: u.token };
    assertError(await srv.post('/api/v1/subscription/cancel', { now: true }, t), 400, 'validation_failed');
    assertError(await srv.post('/api/v1/subscription/resume', { x: 1 }, t), 400, 'validation_failed');
    assertError(await srv.req('POST', '/api/v1/subscription/cancel', { ...t, body: '{}', headers: { 'content-type': 'text/plain' } }), 415, 'unsupported_media_type');
    assertError(await srv.req('POST', '/api/v1/subscription/cancel', { ...t, body: '{', headers: { 'content-type': 'application/json' } }), 400, 'invalid_json');
    assertError(await srv.post('/api/v1/subscription/change', {}, t), 400, 'validation_failed');
    assertError(await srv.post('/api/v1/subscription/change', { product: 5 }, t), 400, 'validation_failed');
    assertError(await srv.post('/api/v1/subscription/change', { product: '' }, t), 400, 'validation_failed');
    assertError(await srv.post('/api/v1/subscription/change', { product: 'x'.repeat(65) }, t), 400, 'validation_failed');
    assertError(await srv.post('/api/v1/subscription/change', { product: 'max_monthly', prorate: true }, t), 400, 'validation_failed');
    assertError(await srv.post('/api/v1/subscription/change', { product: 'platinum_monthly' }, t), 400, 'unknown_product');
    assertError(await srv.post('/api/v1/subscription/change', { product: 'credits_115' }, t), 400, 'product_unavailable');
    assertError(await srv.req('POST', '/api/v1/subscription/change', t), 415, 'unsupported_media_type');

    const a = { token: admin.token };
    assertError(await srv.get('/api/v1/admin/subscriptions?status=paused', a), 400, 'validation_failed');
    assertError(await srv.get('/api/v1/admin/subscriptions?provider=bitcoin', a), 400, 'validation_failed');
    assertError(await srv.get('/api/v1/admin/subscriptions?limit=0', a), 400, 'validation_failed');
    assertError(await srv.get('/api/v1/admin/subscriptions?limit=101', a), 400, 'validation_failed');
    assertError(await srv.get('/api/v1/admin/subscriptions?cursor=ord_01ARZ3NDEKTSV4RRFFQ69G5FAV', a), 400, 'validation_failed');
    assertError(await srv.get(`/api/v1/admin/subscriptions?user_id=${'u'.repeat(64)}`, a), 400, 'validation_failed');
    assertError(await srv.post(`/api/v1/admin/subscriptions/${NO_SUCH_SUB}/cancel`, { at_period_end: 'yes' }, a), 400, 'validation_failed');
    assertError(await srv.post(`/api/v1/admin/subscriptions/${NO_SUCH_SUB}/cancel`, { reason: 'x' }, a), 400, 'validation_failed');
    for (const id of ['sub_x', 'ord_01ARZ3NDEKTSV4RRFFQ69G5FAV', `sub_${'A'.repeat(80)}`]) {
      assertError(await srv.get(`/api/v1/admin/subscriptions/${id}`, a), 404, 'not_found');
      assertError(await srv.post(`/api/v1/admin/subscriptions/${id}/cancel`, {}, a), 404, 'not_found');
    }
  });

  it('a prepaid plan with the sandbox: shown with its 300 plan credits, cancelled at period end, resumed; a plan change is 409 subscription_prepaid', async () => {
    const u = await srv.register({ tag: 'prepaid' });
    const o = await buyPlan(u);
    const paid = await srv.get(`/api/v1/orders/${o.id}`, { token: u.token });
    assert.equal(paid.body.status, 'paid');
    const s = await mine(u.token);
    assert.match(s.id, SUB_ID_RE);
    const start = Date.parse(s.current_period.start);
    assert.equal(start, Date.parse(paid.body.paid_at), 'the paid period starts when the order was paid');
    assert.deepEqual(s, {
      id: s.id,
      plan: 'pro',
      product: 'pro_monthly',
      period: 'month',
      status: 'active',
      provider: 'sandbox',
      auto_renew: false,
      cancel_at_period_end: false,
      current_period: { start: s.current_period.start, end: new Date(addMonths(start, 1)).toISOString() },
      credit_period: { start: s.current_period.start, end: new Date(addMonths(start, 1)).toISOString() },
      credits: { per_month: 300, granted: 300, used: 0, remaining: 300 },
      renews_at: null,
      ends_at: new Date(addMonths(start, 1)).toISOString(),
      next_product: null,
      amount: { amount: 1990, currency: 'USD' },
      created_at: s.created_at,
      updated_at: s.updated_at,
      ended_at: null,
    });
    const wallet = await srv.get('/api/v1/credits', { token: u.token });
    assert.equal(wallet.body.plan_credits, 300);
    assert.equal(wallet.body.plan_expires_at, s.credit_period.end);
    const grants = await ledgerEntries(srv, u.token, 'plan_grant');
    assert.deepEqual(grants.map((e) => [e.bucket, e.delta, e.ref_type, e.ref_id]), [['plan', 300, 'subscription', `${s.id}:1`]]);

    // Spent plan credits show as used.
    assertStatus(await srv.adjust(admin.token, u.id, -40, { bucket: 'plan' }), 200);
    assert.deepEqual((await mine(u.token)).credits, { per_month: 300, granted: 300, used: 40, remaining: 260 });

    const c1 = await srv.post('/api/v1/subscription/cancel', undefined, { token: u.token });
    assertStatus(c1, 200);
    assertSchema(c1.body, 'SubscriptionResult');
    assert.equal(c1.body.subscription.id, s.id);
    assert.equal(c1.body.subscription.status, 'active');
    assert.equal(c1.body.subscription.cancel_at_period_end, true);
    assert.equal(c1.body.subscription.auto_renew, false);
    assert.equal(c1.body.subscription.ends_at, s.current_period.end);
    assert.deepEqual(c1.body.subscription.credits, { per_month: 300, granted: 300, used: 40, remaining: 260 });
    // Again: nothing more to do, the same answer.
    const c2 = await srv.post('/api/v1/subscription/cancel', {}, { token: u.token });
    assertStatus(c2, 200);
    assert.equal(c2.body.subscription.cancel_at_period_end, true);
    assert.deepEqual((await mine(u.token)).cancel_at_period_end, true);

    const r1 = await srv.post('/api/v1/subscription/resume', undefined, { token: u.token });
    assertStatus(r1, 200);
    assert.equal(r1.body.subscription.cancel_at_period_end, false);
    assert.equal(r1.body.subscription.status, 'active');
    assert.equal(r1.body.subscription.ends_at, s.current_period.end, 'a prepaid plan still ends unless the next period is bought');
    assertError(await srv.post('/api/v1/subscription/resume', undefined, { token: u.token }), 409, 'subscription_not_resumable');

    assertError(await srv.post('/api/v1/subscription/change', { product: 'max_monthly' }, { token: u.token }), 409, 'subscription_prepaid');
    const after = await mine(u.token);
    assert.equal(after.product, 'pro_monthly');
    assert.equal(after.cancel_at_period_end, false);
  });

  it('the admin lists, reads and cancels any subscription (at period end, then now), each cancel with a subscription.cancel audit row', async () => {
    const u = await srv.register({ tag: 'admincancel' });
    const o = await buyPlan(u);
    const s = await mine(u.token);
    const expected = { ...s, user_id: u.id, order_id: o.id, provider_ref: null };

    const list = await srv.get(`/api/v1/admin/subscriptions?user_id=${u.id}`, { token: admin.token });
    assertStatus(list, 200);
    assertSchema(list.body, 'AdminSubscriptionPage');
    assert.deepEqual(list.body, { data: [expected], next_cursor: null });
    const filtered = await srv.get(`/api/v1/admin/subscriptions?user_id=${u.id}&status=active&provider=sandbox`, { token: admin.token });
    assert.deepEqual(filtered.body.data.map((x) => x.id), [s.id]);
    for (const q of ['status=expired', 'status=canceled', 'provider=creem']) {
      const none = await srv.get(`/api/v1/admin/subscriptions?user_id=${u.id}&${q}`, { token: admin.token });
      assert.deepEqual(none.body, { data: [], next_cursor: null }, q);
    }
    // Pages: newest first, the cursor continues after the last one shown.
    const all = await srv.get('/api/v1/admin/subscriptions?limit=100', { token: admin.token });
    assert.ok(all.body.data.length >= 2);
    assert.equal(all.body.data[0].id, s.id);
    const p1 = await srv.get('/api/v1/admin/subscriptions?limit=1', { token: admin.token });
    assert.deepEqual(p1.body.data.map((x) => x.id), [s.id]);
    assert.equal(p1.body.next_cursor, s.id);
    const p2 = await srv.get(`/api/v1/admin/subscriptions?limit=100&cursor=${p1.body.next_cursor}`, { token: admin.token });
    assert.deepEqual(p2.body.data.map((x) => x.id), all.body.data.slice(1).map((x) => x.id));

    const one = await srv.get(`/api/v1/admin/subscriptions/${s.id}`, { token: admin.token });
    assertStatus(one, 200);
    assertSchema(one.body, 'AdminSubscription');
    assert.deepEqual(one.body, expected);

    const atEnd = await srv.post(`/api/v1/admin/subscriptions/${s.id}/cancel`, undefined, { token: admin.token });
    assertStatus(atEnd, 200);
    assertSchema(atEnd.body, 'AdminSubscriptionResult');
    assert.equal(atEnd.body.subscription.status, 'active');
    assert.equal(atEnd.body.subscription.cancel_at_period_end, true);
    assert.equal(atEnd.body.subscription.user_id, u.id);
    let rows = await auditRows('subscription.cancel', s.id);
    assert.equal(rows.length, 1);
    assert.equal(rows[0].actor_id, admin.id);
    assert.equal(rows[0].target_type, 'subscription');

    const now = await srv.post(`/api/v1/admin/subscriptions/${s.id}/cancel`, { at_period_end: false }, { token: admin.token });
    assertStatus(now, 200);
    assert.equal(now.body.subscription.status, 'canceled');
    assert.notEqual(now.body.subscription.ended_at, null);
    assert.equal(now.body.subscription.ends_at, null);
    assert.equal(now.body.subscription.auto_renew, false);
    assert.equal(now.body.subscription.credits.remaining, 0);
    rows = await auditRows('subscription.cancel', s.id);
    assert.equal(rows.length, 2);
    // Its plan credits were written off, in the ledger.
    assert.equal((await srv.get('/api/v1/credits', { token: u.token })).body.plan_credits, 0);
    const expiries = await ledgerEntries(srv, u.token, 'plan_expire');
    assert.deepEqual(expiries.map((e) => [e.bucket, e.delta, e.ref_id]), [['plan', -300, `${s.id}:1`]]);

    // The user sees the ended one; there is nothing left to cancel.
    const ended = await mine(u.token);
    assert.equal(ended.id, s.id);
    assert.equal(ended.status, 'canceled');
    assertError(await srv.post('/api/v1/subscription/cancel', undefined, { token: u.token }), 404, 'no_subscription');
    assertError(await srv.post(`/api/v1/admin/subscriptions/${s.id}/cancel`, { at_period_end: false }, { token: admin.token }), 409, 'conflict');
    assert.deepEqual((await srv.get(`/api/v1/admin/subscriptions?user_id=${u.id}&status=canceled`, { token: admin.token })).body.data.map((x) => x.id), [s.id]);
  });

  it('next to a live prepaid plan, a provider that renews (Creem) never sells another: asked for, 409 subscription_exists; not asked for, the fallback skips it', async () => {
    const u = await srv.register({ tag: 'second' });
    // No subscription: Creem, offered first, is tried and cannot be reached; the sandbox sells it.
    const first = await createOrder(srv, u.token, 'pro_monthly');
    assertStatus(first, 201);
    assert.equal(first.body.provider, 'sandbox');
    const tried = (id) => srv.logLines().filter((l) => l.event === 'checkout_failed' && l.order_id === id).map((l) => l.provider);
    assert.deepEqual(tried(first.body.id), ['creem']);
    assert.equal((await srv.req('POST', `/sandbox/checkout/${first.body.id}/pay`)).status, 303);
    const s = await mine(u.token);
    assert.equal(s.provider, 'sandbox');

    assertError(await createOrder(srv, u.token, 'pro_monthly', { provider: 'creem' }), 409, 'subscription_exists');
    assertError(await createOrder(srv, u.token, 'max_yearly', { provider: 'creem', key: 'second-plan-1' }), 409, 'subscription_exists');
    // The refusal stored nothing, not even the key: the same key may buy something else.
    const pack = await createOrder(srv, u.token, 'credits_115', { provider: 'sandbox', key: 'second-plan-1' });
    assertStatus(pack, 201);
    // Not asked for: the sandbox extends the prepaid subscription, and Creem (a second,
    // renewing subscription) is not even tried.
    const next = await createOrder(srv, u.token, 'pro_monthly');
    assertStatus(next, 201);
    assert.equal(next.body.provider, 'sandbox');
    assert.deepEqual(tried(next.body.id), []);
    const orders = await srv.get('/api/v1/orders?limit=10', { token: u.token });
    assert.deepEqual(orders.body.data.map((x) => x.id), [next.body.id, pack.body.id, first.body.id]);
  });

  it('the test clock: GET says now; POST moves it forward, the Date header follows and old tokens expire; bad steps are 400; audit --now', async () => {
    const c0 = await srv.get('/api/v1/admin/clock', { token: admin.token });
    assertStatus(c0, 200);
    assertSchema(c0.body, 'Clock');
    assert.ok(Math.abs(c0.body.now_ms - Date.now()) < 60000, 'unmoved: the real time');
    assert.equal(Date.parse(c0.body.now), c0.body.now_ms);
    for (const bad of [{}, { advance_ms: 0 }, { advance_ms: -1 }, { advance_ms: 1.5 }, { advance_ms: '1000' }, { advance_ms: 316224000001 }, { advance_ms: 1, back: true }]) {
      assertError(await srv.post('/api/v1/admin/clock', bad, { token: admin.token }), 400, 'validation_failed', JSON.stringify(bad));
    }
    const u = await srv.register({ tag: 'clock' });
    assertStatus(await srv.get('/api/v1/me', { token: u.token }), 200);

    const adv = await srv.post('/api/v1/admin/clock', { advance_ms: 40 * DAY }, { token: admin.token });
    assertStatus(adv, 200);
    assertSchema(adv.body, 'Clock');
    const moved = adv.body.now_ms - c0.body.now_ms;
    assert.ok(moved >= 40 * DAY && moved < 40 * DAY + 60000, `moved ${moved} ms`);
    assert.ok(Math.abs(Date.parse(adv.headers.get('date')) - adv.body.now_ms) < 2000, `Date ${adv.headers.get('date')} is the moved clock`);
    const health = await srv.get('/health');
    assert.ok(Date.parse(health.headers.get('date')) - Date.now() > 39 * DAY, 'every answer carries the moved Date');

    // Access tokens live 15 minutes of the server's clock: the old ones ended.
    assertError(await srv.get('/api/v1/me', { token: u.token }), 401, 'invalid_token');
    assertError(await srv.get('/api/v1/admin/clock', { token: admin.token }), 401, 'invalid_token');
    const again = await srv.login(u.email, u.password);
    assertStatus(await srv.get('/api/v1/me', { token: again.token }), 200);
    admin = await srv.login(admin.email, admin.password);
    const c1 = await srv.get('/api/v1/admin/clock', { token: admin.token });
    assert.ok(c1.body.now_ms >= adv.body.now_ms);

    // The prepaid months bought above ended 40 days ago on the server's clock: the
    // subscription job (every second) ends them and writes their plan credits off. Then
    // `tollgate audit --now` as of the server's instant is clean.
    await eventually(async () => {
      const live = await srv.get('/api/v1/admin/subscriptions?status=active&limit=100', { token: admin.token });
      return live.status === 200 && live.body.data.length === 0;
    }, 15000, 'the subscription job to end the prepaid subscriptions');
    const ended = await srv.get('/api/v1/admin/subscriptions?status=expired&limit=100', { token: admin.token });
    assert.ok(ended.body.data.length >= 2, 'the prepaid subscriptions expired');
    for (const x of ended.body.data) assert.deepEqual([x.credits.remaining, x.ends_at, x.auto_renew], [0, null, false]);
    const r = srv.cli(['audit', '--now', String((await srv.get('/api/v1/admin/clock', { token: admin.token })).body.now_ms)]);
    assert.equal(r.code, 0, `tollgate audit --now: ${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /^order audit: 0 violations$/m);
    assert.match(r.stdout, /^subscription audit: 0 violations$/m);
    assertError(await srv.post('/api/v1/admin/clock', { advance_ms: 100 * 366 * DAY }, { token: admin.token }), 400, 'validation_failed');
    const bad = srv.cli(['audit', '--now', 'yesterday']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--now must be a time in milliseconds/);
  });

  invariantTest(() => srv);
});

describe('the test clock off (the default)', () => {
  let srv;
  before(async () => {
    srv = await startServer();
  });
  after(() => srv?.cleanup());

  it('GET and POST /api/v1/admin/clock are 404 for an admin, and nothing moves', async () => {
    const admin = await srv.admin();
    assertError(await srv.get('/api/v1/admin/clock', { token: admin.token }), 404, 'not_found');
    assertError(await srv.post('/api/v1/admin/clock', { advance_ms: 86400000 }, { token: admin.token }), 404, 'not_found');
    const h = await srv.get('/health');
    assert.ok(Math.abs(Date.parse(h.headers.get('date')) - Date.now()) < 60000);
    assertStatus(await srv.get('/api/v1/me', { token: admin.token }), 200);
  });

  invariantTest(() => srv);
});
