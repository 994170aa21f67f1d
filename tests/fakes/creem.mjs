// A fake Creem (creem.io, PROVIDERS.md section 5) for payment tests: the API calls Tollgate
// makes, on one local port, and the notifications Creem sends, signed with the
// `standardwebhooks` npm package (and node:crypto for the legacy creem-signature).
//
//   POST /v1/checkouts                 x-api-key; {"product_id", "request_id"?, "success_url"?,
//                                      "metadata"?, "customer"? ({"id"} or {"email"}, not
//                                      both), "units"?} -> 200 the checkout entity with its
//                                      checkout_url (a page of this fake)
//   GET  /v1/checkouts?checkout_id=    x-api-key -> the checkout entity (with its order once
//                                      paid), 404 when unknown
//   POST /v1/refunds                   x-api-key; {"transaction_id"} -> {"status"}: the full
//                                      remaining amount, as Creem refunds; 400 when nothing
//                                      is left; then refund.created is delivered
//   GET  /v1/subscriptions?subscription_id=   x-api-key -> the subscription entity, 404 unknown
//   POST /v1/subscriptions/<id>/cancel  x-api-key; {"mode": "scheduled" | "immediate" (the
//                                      default here, a store setting at Creem), "onExecute"?:
//                                      "cancel" | "pause"} -> the subscription (scheduled:
//                                      status scheduled_cancel, subscription.scheduled_cancel
//                                      follows; immediate: canceled, subscription.canceled);
//                                      400 for one already canceled, 404 unknown
//   POST /v1/subscriptions/<id>/resume  x-api-key -> active again (only from scheduled_cancel
//                                      or paused, else 400); subscription.update follows
//   POST /v1/subscriptions/<id>/upgrade x-api-key; {"product_id", "update_behavior"?:
//                                      "proration-charge-immediately" (default) |
//                                      "proration-charge" | "proration-none"} -> the product
//                                      changes now (same period); charged now: a transaction of
//                                      the prorated difference; subscription.update follows
//   GET  /checkout/<id>                the hosted checkout page (HTML)
// Errors have Creem's (NestJS) shape {"statusCode","message","error"}; a missing or wrong
// x-api-key is 401.
//
// Notifications go to the notify URL (Creem has one per webhook endpoint, set in its
// dashboard: setNotifyUrl) as POST application/json with webhook-id, webhook-timestamp,
// webhook-signature (Standard Webhooks) and/or creem-signature (setSigning: 'standard',
// 'legacy' or 'both', the default).
//
// Subscriptions: paying a checkout of a recurring product (prod_pro_monthly 1990 USD,
// prod_max_monthly 4990, prod_pro_yearly, prod_max_yearly) starts a subscription (sub_...)
// whose first period is [paid time, +1 month or +12 months), and delivers checkout.completed
// (with the subscription), subscription.active and subscription.paid, in that order. Every
// notification goes out one after another (a queue), events caused by an API call after its
// answer (`setEventTiming({delayMs})` later, `{before: true}` before it); `settle()` waits until
// the queue is empty. The fake has a clock of its own, Date.now()
// unless `setNow(ms)` moved it (it then runs on from there): event times, periods and the
// Standard Webhooks timestamps all read it, so a test that moves Tollgate's clock moves the
// fake's with it (a timestamp must be within 5 minutes of Tollgate's clock).
//   await cr.renew('sub_...', { times: 2 });  // the next period paid: subscription.paid (twice)
//   await cr.failRenewal('sub_...');          // past_due, subscription.past_due
//   await cr.giveUp('sub_...', { type: 'expired' | 'canceled' });  // Creem stops retrying
//   await cr.runToPeriodEnd('sub_...');       // a scheduled cancel executes: subscription.canceled
//   await cr.sendUpdate('sub_...');           // subscription.update with the state as it is
//
// Use in-process:
//   import { startFakeCreem } from '../fakes/creem.mjs';
//   const cr = await startFakeCreem({ notifyUrl });    // port 0: a free port
//   TG_CREEM_API_BASE = cr.url, TG_CREEM_API_KEY = cr.apiKey, TG_CREEM_WEBHOOK_SECRET = cr.webhookSecret
//   await cr.pay('ord_...' or 'ch_...');      // paid at Creem and checkout.completed delivered
//   cr.loseNext();                            // the next notification is never delivered
//   await cr.deliver(event, { times: 10, parallel: true });
//   cr.fail('checkout', { status: 503 });     // or { timeout: true }; 'query', 'refund' too
//   await cr.refund('ord_...', { amount: 400 });  // a refund made in Creem's dashboard
// or as a child process: `node tests/fakes/creem.mjs [--port N] [--notify-url U]` prints one
// line {"url","port","apiKey","webhookSecret"}; the methods are then POST
// /__control/<method> with a JSON array of arguments, answering {"result": ...};
// GET /__control/counters answers the counters. It exits on SIGTERM, SIGINT, or (with
// --exit-on-stdin-close) when its stdin closes.

import http from 'node:http';
import { createHmac, randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { runAsProcess } from './lib/process.mjs';

const require = createRequire(fileURLToPath(new URL('../e2e/package.json', import.meta.url)));
const { Webhook } = require('standardwebhooks');

const host = '127.0.0.1';
const b62 = (n) => randomBytes(n * 2).toString('base64').replace(/[^A-Za-z0-9]/g, '').slice(0, n);
const newId = (prefix) => `${prefix}_${b62(22)}`;
const ENDPOINTS = ['checkout', 'query', 'refund', 'subscription'];

/** ms plus n calendar months in UTC, the day clamped to the month's last (Jan 31 + 1 = Feb 28/29). */
export function addMonths(ms, n) {
  const d = new Date(ms);
  const m = d.getUTCMonth() + n;
  const y = d.getUTCFullYear() + Math.floor(m / 12);
  const mm = ((m % 12) + 12) % 12;
  const last = new Date(Date.UTC(y, mm + 1, 0)).getUTCDate();
  return Date.UTC(y, mm, Math.min(d.getUTCDate(), last), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(),
    d.getUTCMilliseconds());
}

/** Catalog products at the fake Creem: prices are set on the product, as at Creem. */
export const DEFAULT_PRODUCTS = Object.freeze({
  prod_credits_115: { name: '115 credits', price: 990, currency: 'USD' },
  prod_credits_355: { name: '355 credits', price: 3000, currency: 'USD' },
  prod_credits_1450: { name: '1450 credits', price: 9900, currency: 'USD' },
  // Recurring products (billing_period): paying one starts a subscription.
  prod_pro_monthly: { name: 'Pro monthly', price: 1990, currency: 'USD', billing: 'every-month' },
  prod_pro_yearly: { name: 'Pro yearly', price: 19900, currency: 'USD', billing: 'every-year' },
  prod_max_monthly: { name: 'Max monthly', price: 4990, currency: 'USD', billing: 'every-month' },
  prod_max_yearly: { name: 'Max yearly', price: 49900, currency: 'USD', billing: 'every-year' },
});
const MONTHS = { 'every-month': 1, 'every-three-months': 3, 'every-six-months': 6, 'every-year': 12 };

/** Signs body as Creem does: Standard Webhooks headers and/or the legacy creem-signature. */
export function signCreem(secret, body, { scheme = 'both', msgId = newId('msg'), timestamp = Math.floor(Date.now() / 1000) } = {}) {
  const h = {};
  if (scheme === 'standard' || scheme === 'both') {
    h['webhook-id'] = msgId;
    h['webhook-timestamp'] = String(timestamp);
    h['webhook-signature'] = new Webhook(secret).sign(msgId, new Date(timestamp * 1000), body);
  }
  if (scheme === 'legacy' || scheme === 'both') h['creem-signature'] = createHmac('sha256', secret).update(body).digest('hex');
  return h;
}

export async function startFakeCreem(opts = {}) {
  const apiKey = opts.apiKey ?? `creem_test_${b62(24)}`;
  const webhookSecret = opts.webhookSecret ?? `whsec_${randomBytes(32).toString('base64')}`;
  const products = { ...DEFAULT_PRODUCTS, ...(opts.products ?? {}) };
  const timers = new Set();
  const hung = new Set();
  let state;

  function reset() {
    state = {
      checkouts: new Map(), // id -> checkout
      byRequest: new Map(), // request_id -> checkout id (the latest)
      transactions: new Map(), // id -> {id, checkout, amount, currency, refunded, subscription?, periodStart?, periodEnd?}
      subscriptions: new Map(), // id -> the subscription (see startSubscription)
      queue: Promise.resolve(), // notifications go out one after another
      clockOffset: 0, // the fake's clock: Date.now() + clockOffset
      eventTiming: { delayMs: 0, before: false }, // when an API call's event goes out
      failing: {}, // endpoint -> {status | timeout, times}
      lose: 0,
      signing: 'both',
      refundStatus: 'succeeded',
      notifyUrl: opts.notifyUrl ?? null,
    };
    ctl.counters = { checkout: 0, query: 0, refund: 0, subscription: 0, unauthorized: 0, delivered: 0, lost: 0 };
    ctl.deliveries = [];
    ctl.requests = [];
  }

  const sendJson = (res, status, obj) => {
    const body = JSON.stringify(obj);
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  };
  const error = (res, status, message) =>
    sendJson(res, status, { statusCode: status, message, error: http.STATUS_CODES[status] ?? 'Error' });

  const now = () => Date.now() + state.clockOffset;
  const iso = (ms) => new Date(ms).toISOString();
  const find = (ref) => state.checkouts.get(ref) ?? state.checkouts.get(state.byRequest.get(ref));
  const must = (ref) => {
    const c = find(ref);
    if (!c) throw new Error(`no checkout ${ref}`);
    return c;
  };

  // ---- entities, shaped like the creem SDK's models -------------------------------------
  const created = new Date().toISOString();
  const productEntity = (id) => ({ id, mode: 'test', object: 'product', name: products[id].name,
    description: `${products[id].name} for Tollgate`, price: products[id].price, currency: products[id].currency,
    billing_type: products[id].billing ? 'recurring' : 'onetime', billing_period: products[id].billing ?? 'once',
    status: 'active', tax_mode: 'inclusive', tax_category: products[id].billing ? 'saas' : 'digital-goods-service',
    created_at: created, updated_at: created });
  const customerEntity = (c) => ({ id: c.customer.id, mode: 'test', object: 'customer', email: c.customer.email,
    name: 'Test Buyer', country: 'NL', created_at: created, updated_at: created });
  const transactionEntity = (t) => {
    const e = { id: t.id, mode: 'test', object: 'transaction', amount: t.amount, amount_paid: t.amount, currency: t.currency,
      type: t.subscription ? 'invoice' : 'payment', status: t.refunded >= t.amount ? 'refunded' : t.refunded > 0 ? 'partialRefund' : 'paid',
      refunded_amount: t.refunded, customer: t.customer, created_at: t.created };
    if (t.subscription) Object.assign(e, { subscription: t.subscription, period_start: t.periodStart, period_end: t.periodEnd });
    return e;
  };
  /** The subscription entity (SubscriptionEntity, with its product and customer expanded). */
  function subscriptionEntity(s) {
    const t = state.transactions.get(s.lastTransactionId);
    const e = { id: s.id, mode: 'test', object: 'subscription', product: productEntity(s.product),
      customer: customerEntity({ customer: s.customer }), items: [{ id: s.itemId, mode: 'test', object: 'subscription_item',
        product_id: s.product, units: 1 }], collection_method: 'charge_automatically', status: s.status,
      last_transaction_id: s.lastTransactionId, last_transaction: transactionEntity(t), last_transaction_date: iso(t.created),
      current_period_start_date: iso(s.periodStart), current_period_end_date: iso(s.periodEnd),
      canceled_at: s.canceledAt ? iso(s.canceledAt) : null, created_at: iso(s.created), updated_at: iso(s.updated),
      metadata: s.metadata ?? {} };
    if (s.status === 'active' || s.status === 'past_due') e.next_transaction_date = iso(s.periodEnd);
    return e;
  }
  const orderEntity = (c) => c.order && { ...c.order };
  function checkoutEntity(c, { expand = false } = {}) {
    const e = { id: c.id, mode: 'test', object: 'checkout', status: c.status, product: expand ? productEntity(c.product) : c.product,
      units: c.units, checkout_url: `${ctl.url}/checkout/${c.id}`, success_url: c.success_url ?? null };
    if (c.request_id !== undefined) e.request_id = c.request_id;
    if (c.metadata !== undefined) e.metadata = c.metadata;
    if (c.order) e.order = orderEntity(c);
    if (c.customer) e.customer = expand ? customerEntity(c) : c.customer.id;
    if (c.subscription) e.subscription = expand ? subscriptionEntity(state.subscriptions.get(c.subscription)) : c.subscription;
    if (expand) e.custom_fields = [];
    return e;
  }
  const event = (eventType, object) => ({ id: newId('evt'), eventType, created_at: now(), object });

  // ---- failures ---------------------------------------------------------------------------
  // Returns true when the request was answered (or left hanging) by a forced failure.
  function failed(endpoint, req, res) {
    const f = state.failing[endpoint];
    if (!f || f.times <= 0) return false;
    f.times--;
    if (f.timeout) {
      hung.add(res); // never answered; the client gives up
      res.on('close', () => hung.delete(res));
      return true;
    }
    error(res, f.status, 'Internal server error');
    return true;
  }

  async function readJson(req) {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const text = Buffer.concat(chunks).toString('utf8');
    try {
      return { text, json: JSON.parse(text) };
    } catch {
      return { text, json: undefined };
    }
  }

  // ---- the API ------------------------------------------------------------------------------
  async function createCheckout(req, res) {
    const { text, json: b } = await readJson(req);
    ctl.requests.push({ endpoint: 'checkout', body: text, headers: { ...req.headers } });
    if (failed('checkout', req, res)) return;
    if (!b || typeof b !== 'object' || Array.isArray(b)) return error(res, 400, ['body must be a JSON object']);
    if (typeof b.product_id !== 'string') return error(res, 400, ['product_id must be a string']);
    if (!products[b.product_id]) return error(res, 404, 'Product not found');
    if (b.customer && b.customer.id && b.customer.email) return error(res, 400, ['customer: specify only one of id or email']);
    if (b.request_id !== undefined && typeof b.request_id !== 'string') return error(res, 400, ['request_id must be a string']);
    if (b.metadata !== undefined && (typeof b.metadata !== 'object' || Array.isArray(b.metadata))) return error(res, 400, ['metadata must be an object']);
    const c = { id: newId('ch'), product: b.product_id, units: b.units ?? 1, request_id: b.request_id, metadata: b.metadata,
      success_url: b.success_url, status: 'pending', order: null,
      customer: { id: newId('cust'), email: b.customer?.email ?? 'buyer@example.com' } };
    state.checkouts.set(c.id, c);
    if (c.request_id) state.byRequest.set(c.request_id, c.id);
    sendJson(res, 200, checkoutEntity(c));
  }

  function getCheckout(req, res, url) {
    ctl.requests.push({ endpoint: 'query', url: req.url, headers: { ...req.headers } });
    if (failed('query', req, res)) return;
    const id = url.searchParams.get('checkout_id');
    if (!id) return error(res, 400, ['checkout_id must be a string']);
    const c = state.checkouts.get(id);
    if (!c) return error(res, 404, 'Checkout not found');
    sendJson(res, 200, checkoutEntity(c, { expand: true }));
  }

  async function postRefund(req, res) {
    const { text, json: b } = await readJson(req);
    ctl.requests.push({ endpoint: 'refund', body: text, headers: { ...req.headers } });
    if (failed('refund', req, res)) return;
    if (!b || typeof b.transaction_id !== 'string') return error(res, 400, ['transaction_id must be a string']);
    const t = state.transactions.get(b.transaction_id);
    if (!t) return error(res, 404, 'Transaction not found');
    const left = t.amount - t.refunded;
    if (left <= 0) return error(res, 400, 'Transaction already refunded');
    const status = state.refundStatus;
    sendJson(res, 200, { status });
    if (status === 'succeeded' || status === 'pending')
      await refundAndNotify(t, left, status === 'pending' ? ctl.refundDelayMs : 0);
  }

  // ---- payments and notifications ----------------------------------------------------------
  function markPaid(c, { amount, currency } = {}) {
    const p = products[c.product];
    const at = now();
    const t = { id: newId('tran'), checkout: c.id, amount: amount ?? p.price * (c.units ?? 1), currency: currency ?? p.currency, refunded: 0,
      customer: c.customer.id, created: at };
    state.transactions.set(t.id, t);
    c.status = 'completed';
    c.order = { id: newId('ord'), object: 'order', customer: c.customer.id, product: c.product, transaction: t.id,
      amount: t.amount, sub_total: t.amount, tax_amount: 0, amount_due: t.amount, amount_paid: t.amount,
      currency: t.currency, status: 'paid', type: p.billing ? 'recurring' : 'onetime', created_at: iso(at),
      updated_at: iso(at), mode: 'test' };
    if (p.billing) startSubscription(c, t, at);
    return t;
  }

  /** A paid checkout of a recurring product starts a subscription: its first period from now,
   * its metadata the checkout's (as Creem copies it). */
  function startSubscription(c, t, at) {
    const s = { id: newId('sub'), itemId: newId('sitem'), product: c.product, customer: c.customer, status: 'active',
      periodStart: at, periodEnd: addMonths(at, MONTHS[products[c.product].billing]), lastTransactionId: t.id,
      canceledAt: null, created: at, updated: at, metadata: c.metadata ?? {}, checkout: c.id };
    Object.assign(t, { subscription: s.id, periodStart: s.periodStart, periodEnd: s.periodEnd });
    state.subscriptions.set(s.id, s);
    c.subscription = s.id;
    return s;
  }

  const subEvent = (type, s) => event(type, subscriptionEntity(s));
  const mustSub = (ref) => {
    const s = state.subscriptions.get(ref) ?? state.subscriptions.get(find(ref)?.subscription);
    if (!s) throw new Error(`no subscription ${ref}`);
    return s;
  };
  const touch = (s) => { s.updated = now(); };

  function refundEvent(t, amount) {
    const c = state.checkouts.get(t.checkout) ?? state.checkouts.get(state.subscriptions.get(t.subscription)?.checkout);
    t.refunded += amount;
    return event('refund.created', { id: newId('ref'), object: 'refund', status: 'succeeded', refund_amount: amount,
      refund_currency: t.currency, reason: 'requested_by_customer',
      transaction: { id: t.id, object: 'transaction', amount: t.amount, currency: t.currency, type: 'payment',
        status: t.refunded >= t.amount ? 'refunded' : 'partialRefund', refunded_amount: t.refunded, mode: 'test',
        order: c.order.id, customer: c.customer.id, created_at: t.created },
      checkout: checkoutEntity(c), order: orderEntity(c), customer: c.customer.id, created_at: Date.now(), mode: 'test' });
  }

  async function refundAndNotify(t, amount, delayMs = 0) {
    const ev = refundEvent(t, amount);
    if (delayMs > 0) {
      const timer = setTimeout(() => {
        timers.delete(timer);
        notify(ev).catch(() => {});
      }, delayMs);
      timers.add(timer);
      return { event: ev };
    }
    return { event: ev, ...(await notify(ev)) };
  }

  /** Signs an event (object or raw string) as Creem would now; headers may be overridden. */
  function sign(ev, { scheme = state.signing, timestamp = Math.floor(now() / 1000), msgId } = {}) {
    const body = typeof ev === 'string' ? ev : JSON.stringify(ev);
    return { body, headers: signCreem(webhookSecret, body, { scheme, timestamp, msgId }) };
  }

  /** Runs fn after every notification queued before it (one delivery at a time, in order). */
  function queued(fn) {
    const p = state.queue.then(fn);
    state.queue = p.catch(() => {});
    return p;
  }

  async function post(body, headers) {
    if (!state.notifyUrl) throw new Error('no notify URL: setNotifyUrl first');
    try {
      const r = await fetch(state.notifyUrl, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body,
        signal: AbortSignal.timeout(15000) });
      const text = await r.text();
      ctl.counters.delivered++;
      ctl.deliveries.push({ status: r.status, body: text, sent: body });
      return { status: r.status, body: text };
    } catch (e) {
      ctl.deliveries.push({ status: 0, error: String(e), sent: body });
      return { status: 0, error: String(e) };
    }
  }

  /** Delivers ev once (after those queued before it), unless a loss is pending. */
  function notify(ev) {
    return queued(() => notifyNow(ev));
  }
  async function notifyNow(ev) {
    const { body, headers } = sign(ev);
    if (state.lose > 0) {
      state.lose--;
      ctl.counters.lost++;
      ctl.lost.push({ body, headers });
      return { status: null, lost: true, body, headers };
    }
    const r = await post(body, headers);
    return { ...r, sent: body, headers };
  }

  // ---- subscriptions --------------------------------------------------------------------
  function getSubscription(req, res, url) {
    ctl.requests.push({ endpoint: 'subscription', url: req.url, headers: { ...req.headers } });
    if (failed('subscription', req, res)) return;
    const id = url.searchParams.get('subscription_id');
    if (!id) return error(res, 400, ['subscription_id must be a string']);
    const s = state.subscriptions.get(id);
    if (!s) return error(res, 404, 'Subscription not found');
    sendJson(res, 200, subscriptionEntity(s));
  }

  // POST /v1/subscriptions/<id>/<verb>: answers, then notifies (queued).
  async function postSubscription(req, res, url) {
    const [, , , id, verb] = url.pathname.split('/');
    const { text, json: b } = await readJson(req);
    ctl.requests.push({ endpoint: 'subscription', verb, url: req.url, body: text, headers: { ...req.headers } });
    if (failed('subscription', req, res)) return;
    const s = state.subscriptions.get(decodeURIComponent(id));
    if (!s) return error(res, 404, 'Subscription not found');
    if (text !== '' && (!b || typeof b !== 'object' || Array.isArray(b))) return error(res, 400, ['body must be a JSON object']);
    const body = b ?? {};
    let type;
    if (verb === 'cancel') {
      const mode = body.mode ?? 'immediate';
      if (!['immediate', 'scheduled'].includes(mode)) return error(res, 400, ['mode must be one of: immediate, scheduled']);
      if (body.onExecute !== undefined && !['cancel', 'pause'].includes(body.onExecute))
        return error(res, 400, ['onExecute must be one of: cancel, pause']);
      if (s.status === 'canceled') return error(res, 400, 'Subscription is already canceled');
      if (mode === 'scheduled') {
        if (s.status !== 'scheduled_cancel') {
          Object.assign(s, { status: 'scheduled_cancel', canceledAt: now(), onExecute: body.onExecute ?? 'cancel' });
          type = 'subscription.scheduled_cancel';
        }
      } else {
        Object.assign(s, { status: 'canceled', canceledAt: now() });
        type = 'subscription.canceled';
      }
    } else if (verb === 'resume') {
      if (s.status !== 'scheduled_cancel' && s.status !== 'paused')
        return error(res, 400, 'Subscription must be in paused or scheduled_cancel status');
      Object.assign(s, { status: 'active', canceledAt: null });
      type = 'subscription.update';
    } else if (verb === 'upgrade') {
      const behavior = body.update_behavior ?? 'proration-charge-immediately';
      if (typeof body.product_id !== 'string') return error(res, 400, ['product_id must be a string']);
      if (!['proration-charge-immediately', 'proration-charge', 'proration-none'].includes(behavior))
        return error(res, 400, ['update_behavior must be one of: proration-charge-immediately, proration-charge, proration-none']);
      const np = products[body.product_id];
      if (!np) return error(res, 404, 'Product not found');
      if (!np.billing) return error(res, 400, 'Product is not a subscription product');
      if (body.product_id === s.product) return error(res, 400, 'Subscription is already on this product');
      if (s.status !== 'active') return error(res, 400, `Subscription is ${s.status}`);
      const op = products[s.product];
      if (behavior === 'proration-charge-immediately') {
        const at = now();
        const left = Math.max(0, s.periodEnd - at) / (s.periodEnd - s.periodStart);
        const amount = Math.round((np.price - op.price) * left);
        if (amount > 0) {
          const t = { id: newId('tran'), checkout: null, amount, currency: np.currency, refunded: 0, customer: s.customer.id,
            created: at, subscription: s.id, periodStart: at, periodEnd: s.periodEnd, proration: true };
          state.transactions.set(t.id, t);
          s.lastTransactionId = t.id;
        }
      } else if (behavior === 'proration-charge') {
        s.pendingProration = (s.pendingProration ?? 0) + Math.round((np.price - op.price) * Math.max(0, s.periodEnd - now()) /
          (s.periodEnd - s.periodStart));
      }
      s.product = body.product_id;
      type = 'subscription.update';
    } else {
      return error(res, 404, `Cannot POST ${url.pathname}`);
    }
    touch(s);
    const answer = subscriptionEntity(s);
    if (type) {
      const ev = subEvent(type, s);
      const { delayMs, before } = state.eventTiming;
      const sent = queued(async () => {
        if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
        return notifyNow(ev);
      });
      // 'before': the event is delivered (and answered) before the API call is: a webhook
      // that overtakes the answer, as it can at Creem.
      if (before) await sent.catch(() => {});
      else sent.catch(() => {});
    }
    sendJson(res, 200, answer);
  }

  // ---- the hosted checkout page -----------------------------------------------------------
  function page(res, id) {
    const c = state.checkouts.get(id);
    if (!c) return error(res, 404, 'Checkout not found');
    const p = products[c.product];
    const html = `<!doctype html><title>Creem checkout</title><p>${p.name}: ${(p.price / 100).toFixed(2)} ${p.currency}</p><p>${c.status}</p>`;
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(html);
  }

  // ---- controls -------------------------------------------------------------------------------
  const CONTROLS = ['pay', 'event', 'deliver', 'loseNext', 'fail', 'clearFailures', 'refund', 'expire', 'setSigning',
    'setNotifyUrl', 'setRefundStatus', 'checkout', 'sign', 'reset', 'redeliverLost', 'setNow', 'now', 'settle',
    'setEventTiming', 'subscription', 'subscriptions', 'renew', 'failRenewal', 'giveUp', 'runToPeriodEnd', 'sendUpdate', 'subEvent'];
  async function control(req, res, method) {
    if (method === 'counters' && req.method === 'GET') return sendJson(res, 200, { result: ctl.counters });
    if (req.method !== 'POST' || !CONTROLS.includes(method)) return sendJson(res, 404, { error: 'unknown control' });
    const { json: args } = await readJson(req);
    if (!Array.isArray(args)) return sendJson(res, 400, { error: 'arguments must be a JSON array' });
    try {
      return sendJson(res, 200, { result: (await ctl[method](...args)) ?? null });
    } catch (e) {
      return sendJson(res, 400, { error: String(e.message) });
    }
  }

  async function route(req, res) {
    const url = new URL(req.url, 'http://fake');
    if (url.pathname.startsWith('/__control/')) return control(req, res, url.pathname.slice(11));
    if (req.method === 'GET' && url.pathname.startsWith('/checkout/')) return page(res, url.pathname.slice(10));
    const subPath = /^\/v1\/subscriptions\/[^/]+\/(cancel|resume|upgrade)$/.test(url.pathname) ? '/v1/subscriptions/*' : url.pathname;
    const api = {
      'POST /v1/checkouts': ['checkout', createCheckout],
      'GET /v1/checkouts': ['query', getCheckout],
      'POST /v1/refunds': ['refund', postRefund],
      'GET /v1/subscriptions': ['subscription', getSubscription],
      'POST /v1/subscriptions/*': ['subscription', postSubscription],
    }[`${req.method} ${subPath}`];
    if (!api) return error(res, 404, `Cannot ${req.method} ${url.pathname}`);
    ctl.counters[api[0]]++;
    if (req.headers['x-api-key'] !== apiKey) {
      ctl.counters.unauthorized++;
      req.resume();
      return error(res, 401, 'Unauthorized');
    }
    return api[1](req, res, url);
  }

  const ctl = {
    apiKey,
    webhookSecret,
    products,
    counters: {},
    deliveries: [],
    requests: [],
    lost: [],
    refundDelayMs: 200,
    url: '',
    port: 0,
    /** The checkout entity for a checkout id or our order id (request_id). */
    checkout(ref) { return checkoutEntity(must(ref), { expand: true }); },
    /** The buyer pays: the checkout completes with a paid order (the product's price unless
     * amount/currency say otherwise) and checkout.completed is delivered (deliver: false
     * only builds it). Returns {event, status, body, lost?}. */
    async pay(ref, { amount, currency, deliver = true } = {}) {
      const c = must(ref);
      if (c.status === 'completed') throw new Error(`checkout ${c.id} is already paid`);
      markPaid(c, { amount, currency });
      const ev = event('checkout.completed', checkoutEntity(c, { expand: true }));
      if (!c.subscription) {
        if (!deliver) return { event: ev };
        return { event: ev, ...(await notify(ev)) };
      }
      // A recurring product: the subscription's own events follow the checkout's.
      const s = state.subscriptions.get(c.subscription);
      const events = [ev, subEvent('subscription.active', s), subEvent('subscription.paid', s)];
      if (!deliver) return { event: ev, events, subscription: s.id };
      const answers = [];
      for (const e of events) answers.push(await notify(e));
      return { event: ev, ...answers[0], events, answers, subscription: s.id };
    },
    /** The fake's clock (ms): Date.now() unless setNow moved it. */
    now() { return now(); },
    /** Moves the fake's clock to ms (it runs on from there). */
    setNow(ms) {
      if (!Number.isFinite(ms)) throw new Error('setNow(ms): a number');
      state.clockOffset = ms - Date.now();
    },
    /** Waits until every queued notification was delivered (or lost). */
    async settle() {
      let q;
      do {
        q = state.queue;
        await q;
      } while (q !== state.queue);
    },
    /** The subscription entity, by its id or by the checkout (or our order id) that started it. */
    subscription(ref) { return subscriptionEntity(mustSub(ref)); },
    /** When the event an API call causes goes out: delayMs after its answer (default 0), or
     * (before: true) delivered before the call is answered. */
    setEventTiming({ delayMs = 0, before = false } = {}) {
      state.eventTiming = { delayMs, before };
    },
    /** Every subscription: [{id, status, product, current_period_end_date}]. */
    subscriptions() {
      return [...state.subscriptions.values()].map((x) => ({ id: x.id, status: x.status, product: x.product,
        current_period_end_date: iso(x.periodEnd) }));
    },
    /** A subscription event of the subscription as it is now, not delivered. */
    subEvent(type, ref) { return subEvent(type, mustSub(ref)); },
    /** The next period is paid (as Creem charges at period end): a new transaction, the period
     * [old end, +1 period), status active, and subscription.paid delivered `times` times (the
     * same event: Creem's retries), one after another or in parallel. */
    async renew(ref, { times = 1, parallel = false, deliver = true } = {}) {
      const s = mustSub(ref);
      if (s.status !== 'active' && s.status !== 'past_due') throw new Error(`subscription ${s.id} is ${s.status}`);
      const p = products[s.product];
      const start = s.periodEnd;
      const end = addMonths(start, MONTHS[p.billing]);
      const t = { id: newId('tran'), checkout: null, amount: p.price + (s.pendingProration ?? 0), currency: p.currency, refunded: 0,
        customer: s.customer.id, created: now(), subscription: s.id, periodStart: start, periodEnd: end };
      state.transactions.set(t.id, t);
      Object.assign(s, { periodStart: start, periodEnd: end, lastTransactionId: t.id, status: 'active', pendingProration: 0 });
      touch(s);
      const ev = subEvent('subscription.paid', s);
      if (!deliver) return { event: ev, transaction: t.id };
      const answers = await queued(() => ctl.deliver(ev, { times, parallel }));
      return { event: ev, transaction: t.id, answers };
    },
    /** A renewal payment fails: past_due, subscription.past_due delivered (Creem retries). */
    async failRenewal(ref) {
      const s = mustSub(ref);
      s.status = 'past_due';
      touch(s);
      const ev = subEvent('subscription.past_due', s);
      return { event: ev, ...(await notify(ev)) };
    },
    /** Creem gives up: the subscription ends, subscription.expired (or .canceled) delivered. */
    async giveUp(ref, { type = 'expired' } = {}) {
      if (!['expired', 'canceled'].includes(type)) throw new Error(`giveUp type ${type}`);
      const s = mustSub(ref);
      Object.assign(s, { status: 'canceled', canceledAt: now() });
      touch(s);
      const ev = subEvent(`subscription.${type}`, s);
      return { event: ev, ...(await notify(ev)) };
    },
    /** A scheduled cancel reaches the end of its period: canceled, subscription.canceled. */
    async runToPeriodEnd(ref) {
      const s = mustSub(ref);
      if (s.status !== 'scheduled_cancel') throw new Error(`subscription ${s.id} is ${s.status}, not scheduled_cancel`);
      Object.assign(s, { status: s.onExecute === 'pause' ? 'paused' : 'canceled' });
      touch(s);
      const ev = subEvent(s.status === 'paused' ? 'subscription.paused' : 'subscription.canceled', s);
      return { event: ev, ...(await notify(ev)) };
    },
    /** subscription.update with the subscription as it is. */
    async sendUpdate(ref) {
      const ev = subEvent('subscription.update', mustSub(ref));
      return { event: ev, ...(await notify(ev)) };
    },
    /** An event as Creem would send it now: 'checkout.completed' or 'refund.created' (of the
     * whole transaction unless amount says otherwise), or any other type with an empty object. */
    event(type, ref, { amount } = {}) {
      if (type === 'checkout.completed') return event(type, checkoutEntity(must(ref), { expand: true }));
      if (type === 'refund.created') {
        const c = must(ref);
        const t = state.transactions.get(c.order?.transaction);
        if (!t) throw new Error(`checkout ${c.id} is not paid`);
        const before = t.refunded;
        const ev = refundEvent(t, amount ?? t.amount - t.refunded);
        t.refunded = before; // only built, not made
        return ev;
      }
      return event(type, { id: newId('obj'), object: type.split('.')[0] });
    },
    /** Delivers an event (object or raw body) `times` times, at once in parallel or one after
     * another; each delivery is signed afresh unless headers are given. Returns the answers. */
    async deliver(ev, { times = 1, parallel = false, headers, scheme } = {}) {
      const one = () => {
        const s = sign(ev, { scheme });
        return post(s.body, headers ?? s.headers);
      };
      if (parallel) return Promise.all(Array.from({ length: times }, one));
      const out = [];
      for (let i = 0; i < times; i++) out.push(await one());
      return out;
    },
    /** The next n notifications are lost on the way (never delivered). */
    loseNext(n = 1) { state.lose += n; },
    /** Delivers the notifications that were lost, in order (a late retry). */
    async redeliverLost() {
      const out = [];
      for (const l of ctl.lost.splice(0)) out.push(await post(l.body, l.headers));
      return out;
    },
    /** The next `times` calls of endpoint ('checkout' | 'query' | 'refund' | 'subscription') answer status
     * (default 500) or never answer (timeout: true). */
    fail(endpoint, { status = 500, timeout = false, times = Infinity } = {}) {
      if (!ENDPOINTS.includes(endpoint)) throw new Error(`unknown endpoint ${endpoint}`);
      state.failing[endpoint] = { status, timeout, times };
    },
    clearFailures() { state.failing = {}; },
    /** A refund made in Creem's dashboard: amount (default what is left) of the payment, and
     * refund.created delivered. */
    async refund(ref, { amount } = {}) {
      const c = must(ref);
      const t = state.transactions.get(c.order?.transaction);
      if (!t) throw new Error(`checkout ${c.id} is not paid`);
      const a = amount ?? t.amount - t.refunded;
      if (a <= 0 || a > t.amount - t.refunded) throw new Error('nothing left to refund');
      return refundAndNotify(t, a);
    },
    /** The checkout expires unpaid. */
    expire(ref) { must(ref).status = 'expired'; },
    /** 'standard', 'legacy' or 'both' (default). */
    setSigning(scheme) {
      if (!['standard', 'legacy', 'both'].includes(scheme)) throw new Error(`unknown scheme ${scheme}`);
      state.signing = scheme;
    },
    setNotifyUrl(u) { state.notifyUrl = u; },
    /** What POST /v1/refunds answers: 'succeeded' (default), 'pending' (refund.created follows
     * after refundDelayMs), 'failed' or 'canceled' (nothing follows). */
    setRefundStatus(s) { state.refundStatus = s; },
    sign(ev, o) { return sign(ev, o); },
    reset() {
      ctl.lost = [];
      reset();
    },
    transaction(id) {
      const t = state.transactions.get(id);
      return t && transactionEntity(t);
    },
    async close() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      for (const r of hung) r.destroy();
      server.closeAllConnections();
      await new Promise((r) => server.close(() => r()));
    },
  };
  reset();

  const server = http.createServer((req, res) => {
    Promise.resolve(route(req, res)).catch((e) => {
      if (!res.headersSent) error(res, 500, String(e));
    });
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, resolve);
  });
  ctl.port = server.address().port;
  ctl.url = `http://${host}:${ctl.port}`;
  return ctl;
}

// ---- as a child process (lib/process.mjs) ----------------------------------------------
runAsProcess(import.meta.url, async (opt) => {
  const cr = await startFakeCreem({ port: Number(opt('--port') ?? 0), notifyUrl: opt('--notify-url'),
    apiKey: opt('--api-key'), webhookSecret: opt('--webhook-secret') });
  return { fake: cr, line: { url: cr.url, port: cr.port, apiKey: cr.apiKey, webhookSecret: cr.webhookSecret } };
});
