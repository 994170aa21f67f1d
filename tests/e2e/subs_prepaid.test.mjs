// Prepaid plans end to end: WeChat Pay and Alipay sell plans as prepaid periods (no automatic
// charge). The real binary runs with the test clock (TG_TEST_CLOCK) against the fake WeChat Pay
// and Alipay gateways; this process's Date.now moves with the server's clock so that the fakes
// sign and check times as the moved server expects. A China buyer buys pro_monthly with WeChat
// Pay (300 plan credits), is reminded three days before the end (once), extends by buying the
// next month with Alipay, sees the month roll (the remainder written off as plan_expire, the next
// month granted), is reminded again and, extending no more, sees the plan expire with its
// credits written off and a mail. A second buyer upgrades by buying max during a pro month (the
// difference granted at once) and downgrades by buying pro (at the end of the paid period).
// `tollgate audit --now` holds at the end.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { Server, freePort, assertStatus, assertError, LOOSE_LIMITS } from './lib/server.mjs';
import { startFakeWechatpay } from '../fakes/wechatpay.mjs';
import { startFakeAlipay } from '../fakes/alipay.mjs';
import { eventually } from './lib/pay.mjs';
import { readOutbox } from './lib/mail.mjs';

const CN = { 'x-user-region': 'CN' };
const DAY = 86400000;
const ACK = '{"code":"SUCCESS","message":"成功"}';

let srv, wp, ali, adminCreds;

// This process's clock follows the server's: the fakes sign notifications and answers with
// Date.now, and the server checks those times against its own (moved) clock.
const realNow = Date.now;
let shift = 0;
Date.now = () => realNow() + shift;

before(async () => {
  wp = await startFakeWechatpay();
  ali = await startFakeAlipay();
  srv = new Server();
  srv.port = await freePort();
  const keys = ali.writeKeys(`${srv.dataDir}/keys`);
  srv.opts.env = {
    ...wp.env,
    TG_PUBLIC_URL: `http://127.0.0.1:${srv.port}`,
    TG_TRUSTED_PROXIES: '127.0.0.1/32',
    TG_ALIPAY_APP_ID: ali.appId,
    TG_ALIPAY_PRIVATE_KEY_FILE: keys.appPrivateKeyFile,
    TG_ALIPAY_PUBLIC_KEY_FILE: keys.alipayPublicKeyFile,
    TG_ALIPAY_GATEWAY: ali.gateway,
    TG_REGION_CN_PAYMENT: 'wechatpay,alipay',
    TG_SIGNUP_CREDITS: '0',
    TG_TEST_CLOCK: '1',
    TG_RATE_LIMITS: `${LOOSE_LIMITS},payment=100000/1h`,
  };
  await srv.start();
  adminCreds = await srv.admin();
});

after(async () => {
  Date.now = realNow;
  await wp?.close();
  await ali?.close();
  srv?.cleanup();
});

/** Moves the server's clock (and this process's) forward by ms; returns the server's now. */
async function advance(ms) {
  const a = await srv.login(adminCreds.email, adminCreds.password);
  const r = await srv.post('/api/v1/admin/clock', { advance_ms: ms }, { token: a.token });
  assertStatus(r, 200, 'clock moved');
  shift += ms;
  assert.ok(Math.abs(r.body.now_ms - Date.now()) < 5000, 'the test and the server agree on the time');
  return r.body.now_ms;
}

/** Moves the clock to just past t (server ms). */
async function advanceTo(t) {
  const now = Date.now();
  if (t > now) await advance(t - now + 1000);
}

/** A fresh access token for u (tokens expire when the clock moves). */
async function relogin(u) {
  const s = await srv.login(u.email, u.password);
  u.token = s.token;
  return u;
}

async function subscription(u) {
  const r = await srv.get('/api/v1/subscription', { token: u.token });
  assertStatus(r, 200);
  return r.body.subscription;
}

const credits = async (u) => (await srv.get('/api/v1/credits', { token: u.token })).body;

async function ledger(u, kind) {
  const r = await srv.get('/api/v1/credits/ledger?limit=100', { token: u.token });
  assertStatus(r, 200);
  return r.body.data.filter((e) => e.kind === kind);
}

async function order(u, product, provider) {
  const r = await srv.post('/api/v1/orders', { product, provider }, { token: u.token, headers: CN });
  assertStatus(r, 201, `order ${product} at ${provider}`);
  assert.equal(r.body.provider, provider);
  return r.body;
}

async function payWechat(u, product) {
  const o = await order(u, product, 'wechatpay');
  const { deliveries } = await wp.pay(o.id);
  assert.equal(deliveries[0].status, 200);
  assert.equal(deliveries[0].body, ACK);
  return o;
}

async function payAlipay(u, product) {
  const o = await order(u, product, 'alipay');
  const cashier = await fetch(o.checkout.url);
  assert.equal(cashier.status, 200, 'the cashier opens: the trade exists at Alipay');
  await cashier.text();
  const r = await ali.pay(o.id);
  assert.equal(r.status, 200);
  assert.equal(r.body, 'success');
  return o;
}

/** The plan mails sent to u so far: [{subject, body}]. */
function planMails(u) {
  return readOutbox(srv.dataDir)
    .filter((f) => f.mail && f.mail.header('to') === u.email && /plan/i.test(f.mail.subject))
    .map((f) => ({ subject: f.mail.subject, body: f.mail.body }));
}

const day = (iso) => iso.slice(0, 10);
const addMonthsIso = (iso, n) => {
  const d = new Date(iso);
  const t = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + n, 1, d.getUTCHours(), d.getUTCMinutes(),
    d.getUTCSeconds(), d.getUTCMilliseconds()));
  const last = new Date(Date.UTC(t.getUTCFullYear(), t.getUTCMonth() + 1, 0)).getUTCDate();
  t.setUTCDate(Math.min(d.getUTCDate(), last));
  return t.toISOString();
};

test('WeChat Pay buys a month, a reminder 3 days before the end (once), Alipay extends it, the month rolls, the plan expires', async () => {
  const u = await srv.register({ tag: 'prepaid' });
  const o = await payWechat(u, 'pro_monthly');
  assert.deepEqual(o.amount, { amount: 12800, currency: 'CNY' });

  let s = await subscription(u);
  assert.equal(s.status, 'active');
  assert.equal(s.plan, 'pro');
  assert.equal(s.product, 'pro_monthly');
  assert.equal(s.period, 'month');
  assert.equal(s.provider, 'wechatpay');
  assert.equal(s.auto_renew, false, 'WeChat Pay does not renew: prepaid');
  assert.equal(s.cancel_at_period_end, false);
  assert.deepEqual(s.amount, { amount: 12800, currency: 'CNY' });
  assert.deepEqual(s.credits, { per_month: 300, granted: 300, used: 0, remaining: 300 });
  assert.equal(s.current_period.end, addMonthsIso(s.current_period.start, 1), 'a calendar month');
  assert.equal(s.ends_at, s.current_period.end, 'it ends unless extended');
  assert.equal(s.renews_at, null);
  const end1 = s.current_period.end;
  let c = await credits(u);
  assert.equal(c.plan_credits, 300);
  assert.equal(c.paid_credits, 0);
  assert.equal(c.plan_expires_at, end1);
  const grants = await ledger(u, 'plan_grant');
  assert.equal(grants.length, 1);
  assert.equal(grants[0].delta, 300);
  assert.equal(grants[0].ref_id, `${s.id}:1`);

  // The change endpoint is for plans a provider renews; a prepaid plan changes by buying.
  assertError(await srv.post('/api/v1/subscription/change', { product: 'max_monthly' }, { token: u.token }), 409,
    'subscription_prepaid');

  // Three days before the end: one reminder, naming the day.
  assert.deepEqual(planMails(u), []);
  await advanceTo(Date.parse(end1) - 3 * DAY);
  const reminders = await eventually(() => { const m = planMails(u); return m.length ? m : null; }, 10000, 'the reminder');
  assert.equal(reminders.length, 1);
  assert.equal(reminders[0].subject, 'Your plan ends soon');
  assert.ok(reminders[0].body.includes(`ends on ${day(end1)} (UTC)`), reminders[0].body);
  assert.ok(reminders[0].body.includes(`${srv.url}/pricing`));
  await advance(3600000);
  await new Promise((r) => setTimeout(r, 2500)); // two job runs
  assert.equal(planMails(u).length, 1, 'reminded once per period');

  // Buying the next month (with Alipay this time) extends the plan from its end.
  await relogin(u);
  await payAlipay(u, 'pro_monthly');
  s = await subscription(u);
  const end2 = addMonthsIso(s.current_period.start, 2);
  assert.equal(s.current_period.end, end2, 'extended by a month from the old end');
  assert.equal(s.credit_period.end, end1, 'this month still ends where it did');
  assert.equal((await credits(u)).plan_credits, 300, 'no credits before the next month starts');

  // 100 plan credits used; the month ends: 200 written off, then next month's 300 granted.
  const adm = await srv.login(adminCreds.email, adminCreds.password);
  assertStatus(await srv.adjust(adm.token, u.id, -100, { bucket: 'plan', reason: 'used on generation' }), 200);
  await advanceTo(Date.parse(end1));
  await relogin(u);
  const expired1 = await eventually(async () => { const e = await ledger(u, 'plan_expire'); return e.length ? e : null; },
    10000, 'the month to roll');
  assert.equal(expired1.length, 1);
  assert.equal(expired1[0].delta, -200);
  assert.equal(expired1[0].ref_id, `${s.id}:1`);
  assert.equal(expired1[0].balance_after, 0, 'the write-off comes first');
  const grants2 = await ledger(u, 'plan_grant');
  assert.equal(grants2.length, 2);
  assert.equal(grants2[0].ref_id, `${s.id}:2`);
  assert.equal(grants2[0].balance_after, 300, 'the new month starts from zero');
  c = await credits(u);
  assert.equal(c.plan_credits, 300);
  assert.equal(c.plan_expires_at, end2);
  s = await subscription(u);
  assert.deepEqual(s.credits, { per_month: 300, granted: 300, used: 0, remaining: 300 });
  assert.deepEqual(s.credit_period, { start: end1, end: end2 });

  // The second reminder, for the new end.
  await advanceTo(Date.parse(end2) - 3 * DAY);
  const two = await eventually(() => { const m = planMails(u); return m.length === 2 ? m : null; }, 10000, 'reminder 2');
  assert.ok(two[1].body.includes(`ends on ${day(end2)} (UTC)`));

  // Not extended: at the end the plan expires, its credits written off, and the buyer is told.
  await advanceTo(Date.parse(end2));
  await relogin(u);
  s = await eventually(async () => { const x = await subscription(u); return x.status === 'expired' ? x : null; },
    10000, 'the plan to expire');
  assert.equal(s.ended_at, end2);
  assert.equal(s.auto_renew, false);
  assert.deepEqual(s.credits, { per_month: 300, granted: 300, used: 300, remaining: 0 });
  const expired = await ledger(u, 'plan_expire');
  assert.equal(expired.length, 2);
  assert.equal(expired[0].delta, -300);
  assert.equal(expired[0].ref_id, `${s.id}:2`);
  c = await credits(u);
  assert.equal(c.plan_credits, 0);
  const mails = await eventually(() => { const m = planMails(u); return m.length === 3 ? m : null; }, 10000, 'the end mail');
  assert.equal(mails[2].subject, 'Your plan has ended');
  assert.ok(mails[2].body.includes(`ended on ${day(end2)} (UTC)`));

  // Two paid plan orders: the first and the extension.
  const orders = (await srv.get('/api/v1/orders', { token: u.token })).body.data;
  assert.deepEqual(orders.map((x) => [x.product, x.provider, x.status]),
    [['pro_monthly', 'alipay', 'paid'], ['pro_monthly', 'wechatpay', 'paid']]);
});

test('buying max during a pro month upgrades at once (+600); buying pro during max switches back at the end of the paid period', async () => {
  const u = await srv.register({ tag: 'upgrade' });
  await payAlipay(u, 'pro_monthly');
  let s = await subscription(u);
  const start = s.current_period.start;
  const adm = await srv.login(adminCreds.email, adminCreds.password);
  assertStatus(await srv.adjust(adm.token, u.id, -50, { bucket: 'plan', reason: 'used' }), 200);

  await advance(10 * DAY);
  await relogin(u);
  await payWechat(u, 'max_monthly');
  s = await subscription(u);
  assert.equal(s.product, 'max_monthly');
  assert.equal(s.plan, 'max');
  assert.equal(s.current_period.end, addMonthsIso(start, 2), 'a month added');
  assert.deepEqual(s.credits, { per_month: 900, granted: 900, used: 50, remaining: 850 });
  const grants = await ledger(u, 'plan_grant');
  assert.deepEqual(grants.map((g) => [g.delta, g.ref_id]), [[600, `${s.id}:1:max_monthly`], [300, `${s.id}:1`]]);
  assert.equal((await credits(u)).plan_credits, 850);

  // Buying pro now: a month more, and pro from the end of the paid period (not before).
  await payWechat(u, 'pro_monthly');
  s = await subscription(u);
  assert.equal(s.product, 'max_monthly');
  assert.equal(s.next_product, 'pro_monthly');
  assert.equal(s.current_period.end, addMonthsIso(start, 3));

  // The first month ends: max's second month (900); the second ends: pro (300).
  await advanceTo(Date.parse(addMonthsIso(start, 1)));
  await relogin(u);
  await eventually(async () => (await ledger(u, 'plan_grant')).length === 3, 10000, 'month 2');
  assert.equal((await credits(u)).plan_credits, 900);
  assert.equal((await subscription(u)).product, 'max_monthly');
  await advanceTo(Date.parse(addMonthsIso(start, 2)));
  await relogin(u);
  await eventually(async () => (await ledger(u, 'plan_grant')).length === 4, 10000, 'month 3');
  s = await subscription(u);
  assert.equal(s.product, 'pro_monthly');
  assert.equal(s.next_product, null);
  assert.equal((await credits(u)).plan_credits, 300);
  const expires = await ledger(u, 'plan_expire');
  assert.deepEqual(expires.map((e) => e.delta), [-900, -850]);

  // A plan at a provider that renews is refused while this one runs (it would charge twice).
  // (Stripe is not configured here: the region's providers are prepaid, so buying goes on.)
  await payAlipay(u, 'pro_monthly');
  assert.equal((await subscription(u)).current_period.end, addMonthsIso(start, 4));
});

test('tollgate audit --now holds at the server\'s time: plan credits never outlive their month', async () => {
  const r = srv.cli(['audit', '--now', String(Date.now())]);
  assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /ledger audit: \d+ wallets? checked, 0 violations/);
  assert.match(r.stdout, /order audit: 0 violations/);
  assert.match(r.stdout, /subscription audit: 0 violations/);
});
