// A fake Stripe for payment tests: the API calls Tollgate makes and the webhooks Stripe sends,
// on one local port, in the real wire formats (PROVIDERS.md section 1):
//
//   POST /v1/checkout/sessions        form-encoded (nested keys as Stripe reads them:
//                                     line_items[0][price_data][currency]=usd), payment mode,
//                                     or subscription mode (a recurring price; paying it
//                                     creates a subscription, its first invoice and events)
//   GET  /v1/checkout/sessions/{id}
//   GET  /v1/subscriptions/{id}       the Subscription object (API 2025-03-31 shape: the period
//                                     on items.data[0]; setApiShape('legacy') for the older one)
//   POST /v1/subscriptions/{id}       cancel_at_period_end, items[0][id|price|price_data],
//                                     proration_behavior (always_invoice makes and pays a
//                                     proration invoice), payment_behavior, metadata
//   DELETE /v1/subscriptions/{id}     cancels now (customer.subscription.deleted)
//   GET  /v1/invoices/{id}            an invoice; expand[]=payments lists the PaymentIntent that
//                                     paid it (which POST /v1/refunds takes like a session's)
//   POST /v1/refunds                  payment_intent (or charge), amount, metadata[...]
//   GET  /v1/refunds/{id}
//   GET  /c/pay/{session id}          the hosted page's address (answers a small HTML page)
//
// Requests are authenticated as Stripe does: `Authorization: Bearer sk_...` or HTTP Basic with
// the key as the user name; anything else is 401 with Stripe's error object. Unknown
// parameters are 400 parameter_unknown, missing ones parameter_missing. POSTs honour
// Idempotency-Key: the same key with the same body answers the first answer again (header
// Idempotent-Replayed: true), with another body 400 idempotency_error.
//
// Webhooks are signed with the npm stripe package's webhooks.generateTestHeaderString and
// POSTed to the webhook URL (Content-Type application/json; charset=utf-8, Stripe-Signature);
// each delivery's answer is kept in `deliveries`.
//
// Controls (in-process methods; as a process: POST /__control/<method> with a JSON array of
// arguments, answering {"result": ...}; GET /__control/state answers counters and deliveries):
//   setWebhook(url, secret?)          where events go
//   pay(orderOrRef, {async})          the buyer pays: session complete + paid (or, async:
//                                     complete + unpaid, then asyncSucceed/asyncFail), a
//                                     PaymentIntent and a charge; checkout.session.completed
//                                     is delivered
//   asyncSucceed(ref), asyncFail(ref), expire(ref)   the other session events
//   refundAt(ref, amount, {refundId}) a refund made in the dashboard (charge.refunded,
//                                     refund.created delivered)
//   deliver(eventOrId, {times, parallel, timestamp, secret, header})  (re)sends an event
//   loseNext(n)                       the next n events are created but not delivered
//   failCheckout(status|'timeout', {times})  checkout creation answers 5xx or never answers
//   failRefund(status|'timeout', {times}), failQuery(status|'timeout', {times})
//   refundStatus('succeeded'|'pending'|'failed')  what new refunds are
//   setPrice(id, {unit_amount, currency, interval})  a catalog price (line_items[0][price]);
//                                     with interval a recurring one (subscription mode)
//   sessionFor(orderOrRef), events, deliveries, counters, reset()
// Subscriptions (plans). Tollgate's clock may be moved by a test (TG_TEST_CLOCK), and a
// Stripe-Signature t= must be within 300 s of it, so the fake keeps a clock of its own that
// signs events, stamps objects and bounds periods: setNow(unixSeconds) moves it (every
// control below also takes {now}); months are calendar months as Stripe bills them.
//   pay(order, {now, both})           a subscription-mode session: creates sub_..., its first
//                                     invoice (subscription_create), delivers
//                                     checkout.session.completed then invoice.paid (and
//                                     invoice.payment_succeeded too with both)
//   renew(subOrOrder, {now, times, both, updated, lose})  the next period is billed and paid:
//                                     new in_... for [old end, old end + 1 month],
//                                     invoice.paid (times deliveries; both: also
//                                     invoice.payment_succeeded); updated: the
//                                     customer.subscription.updated Stripe sends when the period
//                                     moves, first, as Stripe does
//   failRenewal(subOrOrder, {now})    the renewal's payment fails: invoice.payment_failed, then
//                                     customer.subscription.updated (status past_due)
//   giveUp(subOrOrder, {now, status}) retries exhausted: canceled (customer.subscription.deleted,
//                                     the default) or unpaid (customer.subscription.updated)
//   endPeriod(subOrOrder, {now})      a subscription set to cancel reaches its period end:
//                                     canceled, customer.subscription.deleted
//   sendSubscription(subOrOrder, type, {now})  delivers customer.subscription.<type> as it stands
//   subscriptionFor(subOrOrder), invoicesFor(subOrOrder), setApiShape('basil'|'legacy')
//
// Use in-process:
//   import { startFakeStripe } from '../fakes/stripe.mjs';
//   const st = await startFakeStripe();   // st.url, st.secretKey, st.webhookSecret
// or as a child process: `node tests/fakes/stripe.mjs [--port N]` prints one line
// {"url","port","secretKey","webhookSecret"}; it exits on SIGTERM, SIGINT, or (with
// --exit-on-stdin-close) when its stdin closes.

import http from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { runAsProcess } from './lib/process.mjs';

const require = createRequire(new URL('../e2e/package.json', import.meta.url));
const Stripe = require('stripe');
const sdk = new Stripe('sk_test_fake_signer');

export const DEFAULT_SECRET_KEY = 'sk_test_51FakeStripeKey0000000000000000000000';
export const DEFAULT_WEBHOOK_SECRET = 'whsec_fake_0123456789abcdefABCDEF';

const rid = (n = 14) => randomBytes(n).toString('base64url').replace(/[-_]/g, 'x');
const realNow = () => Math.floor(Date.now() / 1000);

/** t (unix seconds) plus n calendar months, the day clamped to the month's last (Jan 31 + 1 = Feb 28/29). */
export function addMonths(t, n) {
  const d = new Date(t * 1000);
  const day = d.getUTCDate();
  const r = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + n, 1, d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds()));
  const last = new Date(Date.UTC(r.getUTCFullYear(), r.getUTCMonth() + 1, 0)).getUTCDate();
  r.setUTCDate(Math.min(day, last));
  return Math.floor(r.getTime() / 1000);
}

/**
 * Parses an application/x-www-form-urlencoded body the way Stripe reads it: `a[b][c]=v` nests
 * objects, an integer index (`line_items[0][quantity]`) makes an array, `a[]=v` appends; '+'
 * is a space. Returns an object, or throws on a malformed key.
 */
export function parseStripeForm(text) {
  const root = {};
  if (text === '') return root;
  for (const pair of text.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const rawKey = eq < 0 ? pair : pair.slice(0, eq);
    const rawVal = eq < 0 ? '' : pair.slice(eq + 1);
    const dec = (s) => decodeURIComponent(s.replace(/\+/g, ' '));
    const key = dec(rawKey);
    const value = dec(rawVal);
    const m = /^([^[\]]+)((?:\[[^[\]]*\])*)$/.exec(key);
    if (!m) throw new Error(`malformed key ${key}`);
    const path = [m[1], ...[...m[2].matchAll(/\[([^[\]]*)\]/g)].map((x) => x[1])];
    let node = root;
    for (let i = 0; i < path.length; i++) {
      const k = path[i];
      const last = i === path.length - 1;
      const nextIsIndex = !last && /^\d*$/.test(path[i + 1]);
      if (Array.isArray(node)) {
        const idx = k === '' ? node.length : Number(k);
        if (!/^\d*$/.test(k) || idx > 1000) throw new Error(`malformed index in ${key}`);
        if (last) node[idx] = value;
        else node = node[idx] ??= nextIsIndex ? [] : {};
      } else {
        if (k === '' ) throw new Error(`empty key in ${key}`);
        if (last) node[k] = value;
        else {
          if (typeof node[k] === 'string') throw new Error(`${key} conflicts with a value`);
          node = node[k] ??= nextIsIndex ? [] : {};
        }
      }
    }
  }
  return root;
}

class ApiError extends Error {
  constructor(status, code, message, param, type = 'invalid_request_error') {
    super(message);
    Object.assign(this, { status, code, param, type });
  }
}
const missing = (param) => new ApiError(400, 'parameter_missing', `Missing required param: ${param}.`, param);
const unknown = (param) => new ApiError(400, 'parameter_unknown', `Received unknown parameter: ${param}`, param);

function checkKeys(obj, allowed, prefix = '') {
  for (const k of Object.keys(obj)) if (!allowed.includes(k)) throw unknown(prefix ? `${prefix}[${k}]` : k);
}
function intParam(v, param, min = 0) {
  if (typeof v !== 'string' || !/^-?\d+$/.test(v)) throw new ApiError(400, 'parameter_invalid_integer', `Invalid integer: ${v}`, param);
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < min) throw new ApiError(400, 'parameter_invalid_integer', `Invalid integer: ${v}`, param);
  return n;
}
function metadataParam(m, param) {
  if (m === undefined) return {};
  if (typeof m !== 'object' || Array.isArray(m)) throw new ApiError(400, 'parameter_invalid_empty', 'Invalid metadata', param);
  for (const [k, v] of Object.entries(m)) {
    if (k.length > 40) throw new ApiError(400, 'metadata_key_too_long', 'Metadata keys can be at most 40 characters', `${param}[${k}]`);
    if (typeof v !== 'string' || [...v].length > 500)
      throw new ApiError(400, 'metadata_value_too_long', 'Metadata values can be at most 500 characters', `${param}[${k}]`);
  }
  return { ...m };
}
function currencyParam(c, param) {
  if (typeof c !== 'string' || !/^[a-zA-Z]{3}$/.test(c)) throw new ApiError(400, 'parameter_invalid', `Invalid currency: ${c}`, param);
  return c.toLowerCase();
}

export async function startFakeStripe(opts = {}) {
  const host = opts.host ?? '127.0.0.1';
  const timers = new Set();
  let state;
  let clockOffset = 0; // the fake's clock minus the real one, seconds (setNow)
  const now = () => realNow() + clockOffset;
  /** Applies a control's {now} (unix seconds) to the fake's clock. */
  const at = (t) => {
    if (t !== undefined && t !== null) {
      if (!Number.isSafeInteger(t) || t < 1e9 || t > 1e11) throw new Error(`now must be unix seconds, got ${t}`);
      clockOffset = t - realNow();
    }
  };

  function reset() {
    state = {
      secretKey: opts.secretKey ?? DEFAULT_SECRET_KEY,
      webhookSecret: opts.webhookSecret ?? DEFAULT_WEBHOOK_SECRET,
      webhookUrl: opts.webhookUrl ?? null,
      sessions: new Map(), // id -> session
      intents: new Map(), // pi id -> {id, amount, currency, metadata, charge, session}
      refunds: new Map(), // re id -> refund
      prices: new Map(),
      subscriptions: new Map(), // sub id -> subscription (internal form)
      invoices: new Map(), // in id -> invoice
      apiShape: 'basil',
      idem: new Map(), // `${path} ${key}` -> {hash, status, body}
      lose: 0,
      forced: { checkout: null, refund: null, query: null, subscription: null },
      refundStatus: 'succeeded',
    };
    ctl.events.length = 0;
    ctl.deliveries.length = 0;
    ctl.requests.length = 0;
    for (const k of Object.keys(ctl.counters)) ctl.counters[k] = 0;
  }

  // ---- objects --------------------------------------------------------------------------
  function newSession(p, testKey) {
    const id = `cs_test_${rid(24)}`;
    const created = now();
    const li = p.line_items[0];
    let amount, currency, name, priceId, interval;
    if (li.price !== undefined) {
      const price = state.prices.get(li.price);
      if (!price) throw new ApiError(400, 'resource_missing', `No such price: '${li.price}'`, 'line_items[0][price]');
      ({ unit_amount: amount, currency } = price);
      name = price.name ?? li.price;
      priceId = li.price;
      interval = price.interval;
    } else {
      amount = li.price_data.unit_amount;
      currency = li.price_data.currency;
      name = li.price_data.product_data.name;
      interval = li.price_data.recurring?.interval;
    }
    if (p.mode === 'subscription' && !interval)
      throw new ApiError(400, 'parameter_invalid', 'You must provide at least one recurring price in `subscription` mode when using prices.', 'line_items[0]');
    if (p.mode === 'payment' && interval)
      throw new ApiError(400, 'parameter_invalid', 'You specified `payment` mode but passed a recurring price.', 'line_items[0]');
    const total = amount * li.quantity;
    return {
      id, object: 'checkout.session', after_expiration: null, allow_promotion_codes: null,
      amount_subtotal: total, amount_total: total, automatic_tax: { enabled: false, liability: null, status: null },
      billing_address_collection: null, cancel_url: p.cancel_url ?? null, client_reference_id: p.client_reference_id ?? null,
      client_secret: null, consent: null, consent_collection: null, created, currency, custom_fields: [],
      customer: null, customer_creation: 'if_required', customer_details: null, customer_email: p.customer_email ?? null,
      expires_at: p.expires_at ?? created + 86400, invoice: null, invoice_creation: null, livemode: !testKey,
      locale: null, metadata: p.metadata, mode: p.mode, payment_intent: null, payment_link: null,
      payment_method_collection: 'if_required', payment_method_types: ['card'], payment_status: 'unpaid',
      phone_number_collection: { enabled: false }, recovered_from: null, setup_intent: null,
      shipping_address_collection: null, shipping_cost: null, shipping_details: null, shipping_options: [],
      status: 'open', submit_type: null, subscription: null, success_url: p.success_url,
      total_details: { amount_discount: 0, amount_shipping: 0, amount_tax: 0 }, ui_mode: 'hosted',
      url: `${ctl.url}/c/pay/${id}#${rid(40)}`,
      // not Stripe's: what the fake keeps to build the PaymentIntent and the line item
      _pi_metadata: p.payment_intent_data?.metadata ?? {}, _name: name,
      _sub_metadata: p.subscription_data?.metadata ?? {}, _price: priceId, _interval: interval,
    };
  }
  const pub = (o) => Object.fromEntries(Object.entries(o).filter(([k]) => !k.startsWith('_')));

  function chargeOf(pi) {
    const refunded = [...state.refunds.values()].filter((r) => r.payment_intent === pi.id && r.status !== 'failed' && r.status !== 'canceled');
    const amountRefunded = refunded.reduce((s, r) => s + r.amount, 0);
    return {
      id: pi.charge, object: 'charge', amount: pi.amount, amount_captured: pi.amount, amount_refunded: amountRefunded,
      captured: true, created: pi.created, currency: pi.currency, customer: null, description: null, livemode: false,
      metadata: pi.metadata, paid: true, payment_intent: pi.id, refunded: amountRefunded === pi.amount, status: 'succeeded',
      refunds: { object: 'list', data: refunded.slice().reverse(), has_more: false, total_count: refunded.length, url: `/v1/charges/${pi.charge}/refunds` },
    };
  }

  function findSession(orderOrRef) {
    if (state.sessions.has(orderOrRef)) return state.sessions.get(orderOrRef);
    const all = [...state.sessions.values()].filter((s) => s.client_reference_id === orderOrRef || s.metadata.order_id === orderOrRef);
    if (all.length === 0) throw new Error(`no session for ${orderOrRef}`);
    return all[all.length - 1];
  }

  function newEvent(type, object) {
    const ev = {
      id: `evt_${rid(18)}`, object: 'event', api_version: '2024-06-20', created: now(), data: { object },
      livemode: false, pending_webhooks: 1, request: { id: null, idempotency_key: null }, type,
    };
    ctl.events.push(ev);
    return ev;
  }

  /** Signs and posts the event; resolves {status, body} (status 0: no answer). */
  function post(ev, { timestamp, secret, header } = {}) {
    const payload = typeof ev === 'string' ? ev : JSON.stringify(ev, null, 2);
    const sig = header ?? sdk.webhooks.generateTestHeaderString({ payload, secret: secret ?? state.webhookSecret, timestamp: timestamp ?? now() });
    const url = new URL(state.webhookUrl);
    return new Promise((resolve) => {
      const req = http.request(url, {
        method: 'POST', agent: false, timeout: 15000,
        headers: { 'Content-Type': 'application/json; charset=utf-8', 'Stripe-Signature': sig, 'User-Agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)', 'Content-Length': Buffer.byteLength(payload) },
      }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const d = { event: typeof ev === 'string' ? null : ev.id, type: typeof ev === 'string' ? null : ev.type, status: res.statusCode, body: Buffer.concat(chunks).toString('utf8'), contentType: res.headers['content-type'] };
          ctl.deliveries.push(d);
          resolve(d);
        });
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', (e) => {
        const d = { event: ev.id, type: ev.type, status: 0, body: String(e.message) };
        ctl.deliveries.push(d);
        resolve(d);
      });
      req.end(payload);
    });
  }

  /** Sends a new event unless it is to be lost; resolves the delivery or null. */
  async function emit(type, object) {
    const ev = newEvent(type, object);
    if (!state.webhookUrl) return null;
    if (state.lose > 0) {
      state.lose--;
      ctl.counters.lost++;
      return null;
    }
    return post(ev);
  }

  // ---- API --------------------------------------------------------------------------------
  function createSession(p) {
    checkKeys(p, ['mode', 'success_url', 'cancel_url', 'client_reference_id', 'metadata', 'payment_intent_data', 'line_items',
      'customer_email', 'expires_at', 'locale', 'payment_method_types', 'submit_type', 'allow_promotion_codes', 'subscription_data']);
    if (p.mode === undefined) throw missing('mode');
    if (p.mode !== 'payment' && p.mode !== 'subscription') throw new ApiError(400, 'parameter_invalid', 'The fake supports payment and subscription modes', 'mode');
    if (p.mode === 'subscription' && p.payment_intent_data !== undefined)
      throw new ApiError(400, 'parameter_invalid', 'You can not pass `payment_intent_data` in `subscription` mode.', 'payment_intent_data');
    if (p.mode === 'payment' && p.subscription_data !== undefined)
      throw new ApiError(400, 'parameter_invalid', 'You can only pass `subscription_data` in `subscription` mode.', 'subscription_data');
    if (p.subscription_data !== undefined) {
      checkKeys(p.subscription_data, ['metadata', 'description', 'trial_period_days'], 'subscription_data');
      p.subscription_data.metadata = metadataParam(p.subscription_data.metadata, 'subscription_data[metadata]');
    }
    if (!p.success_url) throw missing('success_url');
    if (!/^https?:\/\//.test(p.success_url)) throw new ApiError(400, 'url_invalid', 'Not a valid URL', 'success_url');
    if (p.cancel_url !== undefined && !/^https?:\/\//.test(p.cancel_url)) throw new ApiError(400, 'url_invalid', 'Not a valid URL', 'cancel_url');
    if (p.client_reference_id !== undefined && (p.client_reference_id.length > 200 || p.client_reference_id === ''))
      throw new ApiError(400, 'parameter_invalid', 'client_reference_id', 'client_reference_id');
    p.metadata = metadataParam(p.metadata, 'metadata');
    if (p.payment_intent_data !== undefined) {
      checkKeys(p.payment_intent_data, ['metadata', 'description', 'receipt_email'], 'payment_intent_data');
      p.payment_intent_data.metadata = metadataParam(p.payment_intent_data.metadata, 'payment_intent_data[metadata]');
    }
    if (!Array.isArray(p.line_items) || p.line_items.length !== 1) throw missing('line_items');
    const li = p.line_items[0];
    checkKeys(li, ['price', 'price_data', 'quantity'], 'line_items[0]');
    if (li.quantity === undefined) throw missing('line_items[0][quantity]');
    li.quantity = intParam(li.quantity, 'line_items[0][quantity]', 1);
    if ((li.price === undefined) === (li.price_data === undefined))
      throw new ApiError(400, 'parameter_invalid', 'Exactly one of price or price_data', 'line_items[0]');
    if (li.price_data !== undefined) {
      const pd = li.price_data;
      checkKeys(pd, ['currency', 'unit_amount', 'product_data', 'product', 'recurring'], 'line_items[0][price_data]');
      if (pd.recurring !== undefined) {
        checkKeys(pd.recurring, ['interval', 'interval_count'], 'line_items[0][price_data][recurring]');
        if (!['day', 'week', 'month', 'year'].includes(pd.recurring.interval))
          throw new ApiError(400, 'parameter_invalid', 'Invalid interval', 'line_items[0][price_data][recurring][interval]');
      }
      if (pd.currency === undefined) throw missing('line_items[0][price_data][currency]');
      pd.currency = currencyParam(pd.currency, 'line_items[0][price_data][currency]');
      if (pd.unit_amount === undefined) throw missing('line_items[0][price_data][unit_amount]');
      pd.unit_amount = intParam(pd.unit_amount, 'line_items[0][price_data][unit_amount]');
      if (!pd.product_data?.name) throw missing('line_items[0][price_data][product_data][name]');
      checkKeys(pd.product_data, ['name', 'description'], 'line_items[0][price_data][product_data]');
    }
    if (p.customer_email !== undefined && !/^[^@\s]+@[^@\s]+$/.test(p.customer_email))
      throw new ApiError(400, 'email_invalid', 'Invalid email address', 'customer_email');
    if (p.expires_at !== undefined) {
      p.expires_at = intParam(p.expires_at, 'expires_at');
      const t = now();
      if (p.expires_at < t + 1800 || p.expires_at > t + 86400)
        throw new ApiError(400, 'parameter_invalid', 'The `expires_at` timestamp must be between 30 minutes and 24 hours from Checkout Session creation.', 'expires_at');
    }
    const s = newSession(p, state.secretKey.startsWith('sk_test_'));
    state.sessions.set(s.id, s);
    ctl.counters.sessions++;
    return pub(s);
  }

  function createRefund(p) {
    checkKeys(p, ['payment_intent', 'charge', 'amount', 'metadata', 'reason', 'refund_application_fee', 'reverse_transfer', 'instructions_email']);
    let pi;
    if (p.payment_intent !== undefined) pi = state.intents.get(p.payment_intent);
    else if (p.charge !== undefined) pi = [...state.intents.values()].find((x) => x.charge === p.charge);
    else throw missing('payment_intent');
    if (!pi) throw new ApiError(400, 'resource_missing', `No such payment_intent: '${p.payment_intent ?? p.charge}'`, 'payment_intent');
    if (p.reason !== undefined && !['duplicate', 'fraudulent', 'requested_by_customer'].includes(p.reason))
      throw new ApiError(400, 'parameter_invalid', 'Invalid reason', 'reason');
    const refunded = [...state.refunds.values()].filter((r) => r.payment_intent === pi.id && r.status !== 'failed' && r.status !== 'canceled').reduce((s, r) => s + r.amount, 0);
    if (refunded >= pi.amount) throw new ApiError(400, 'charge_already_refunded', `Charge ${pi.charge} has already been refunded.`, null);
    const amount = p.amount === undefined ? pi.amount - refunded : intParam(p.amount, 'amount', 1);
    if (amount > pi.amount - refunded)
      throw new ApiError(400, 'amount_too_large', `Refund amount (${amount}) is greater than unrefunded amount on charge (${pi.amount - refunded})`, 'amount');
    const r = {
      id: `re_${rid(18)}`, object: 'refund', amount, balance_transaction: `txn_${rid(14)}`, charge: pi.charge, created: now(),
      currency: pi.currency, metadata: metadataParam(p.metadata, 'metadata'), payment_intent: pi.id, reason: p.reason ?? null,
      receipt_number: null, source_transfer_reversal: null, status: state.refundStatus, transfer_reversal: null,
    };
    state.refunds.set(r.id, r);
    ctl.counters.refunds++;
    // Stripe then sends refund.created and (when it succeeded) charge.refunded.
    setImmediate(async () => {
      await emit('refund.created', { ...r });
      if (r.status === 'succeeded') await emit('charge.refunded', chargeOf(pi));
    });
    return r;
  }

  // ---- subscriptions -----------------------------------------------------------------------
  function priceObject(sub) {
    return {
      id: sub.price, object: 'price', active: true, billing_scheme: 'per_unit', created: sub.created, currency: sub.currency,
      livemode: false, lookup_key: null, metadata: {}, product: sub.product,
      recurring: { interval: sub.interval, interval_count: 1, usage_type: 'licensed' }, type: 'recurring', unit_amount: sub.amount,
    };
  }

  /** The Subscription object as the API shows it (state.apiShape). */
  function subPublic(sub) {
    const item = {
      id: sub.item, object: 'subscription_item', created: sub.created, discounts: [], metadata: {}, price: priceObject(sub),
      quantity: 1, subscription: sub.id, tax_rates: [],
    };
    const o = {
      id: sub.id, object: 'subscription', billing_cycle_anchor: sub.anchor, cancel_at: null, cancel_at_period_end: sub.cancel_at_period_end,
      canceled_at: sub.canceled_at, collection_method: 'charge_automatically', created: sub.created, currency: sub.currency,
      customer: sub.customer, default_payment_method: sub.payment_method, ended_at: sub.ended_at,
      items: { object: 'list', data: [item], has_more: false, total_count: 1, url: `/v1/subscription_items?subscription=${sub.id}` },
      latest_invoice: sub.latest_invoice, livemode: false, metadata: { ...sub.metadata }, start_date: sub.created, status: sub.status,
    };
    if (state.apiShape === 'legacy') {
      o.current_period_start = sub.start;
      o.current_period_end = sub.end;
      o.plan = { id: sub.price, object: 'plan', amount: sub.amount, currency: sub.currency, interval: sub.interval, product: sub.product };
    } else {
      item.current_period_start = sub.start;
      item.current_period_end = sub.end;
    }
    return o;
  }

  function invoiceLine(sub, inv, { start, end, amount, proration = false, price = sub.price }) {
    const line = {
      id: `il_${rid(18)}`, object: 'line_item', amount, currency: sub.currency,
      description: proration ? `Remaining time on ${price} after ${new Date(start * 1000).toISOString().slice(0, 10)}` : `1 × ${sub.name} (at ${sub.amount} / ${sub.interval})`,
      discount_amounts: [], discountable: !proration, discounts: [], invoice: inv, livemode: false, metadata: {},
      period: { start, end }, quantity: 1, taxes: [],
    };
    if (state.apiShape === 'legacy')
      return {
        ...line, amount_excluding_tax: amount, invoice_item: proration ? `ii_${rid(14)}` : null,
        plan: { id: price, object: 'plan', amount: sub.amount, currency: sub.currency, interval: sub.interval, product: sub.product },
        price: { ...priceObject(sub), id: price }, proration, proration_details: { credited_items: null },
        subscription: sub.id, subscription_item: sub.item, type: proration ? 'invoiceitem' : 'subscription',
      };
    return {
      ...line,
      parent: {
        type: 'subscription_item_details', invoice_item_details: null,
        subscription_item_details: { invoice_item: null, proration, proration_details: { credited_items: null }, subscription: sub.id, subscription_item: sub.item },
      },
      pretax_credit_amounts: [], pricing: { type: 'price_details', price_details: { price, product: sub.product }, unit_amount_decimal: String(amount) },
    };
  }

  /** A new invoice of sub (paid or open), kept in state.invoices; returns it. */
  function newInvoice(sub, reason, lineSpecs, { paid = true } = {}) {
    const id = `in_${rid(18)}`;
    const lines = lineSpecs.map((l) => invoiceLine(sub, id, l));
    const total = lines.reduce((a, l) => a + l.amount, 0);
    const t = now();
    const inv = {
      id, object: 'invoice', account_country: 'US', account_name: 'Fake Stripe', amount_due: total, amount_paid: paid ? total : 0,
      amount_remaining: paid ? 0 : total, attempt_count: 1, attempted: true, auto_advance: !paid, billing_reason: reason,
      collection_method: 'charge_automatically', created: t, currency: sub.currency, customer: sub.customer,
      customer_email: sub.email, hosted_invoice_url: `${ctl.url}/i/${id}`,
      lines: { object: 'list', data: lines, has_more: false, total_count: lines.length, url: `/v1/invoices/${id}/lines` },
      livemode: false, metadata: {}, number: `FAKE-${String(state.invoices.size + 1).padStart(4, '0')}`,
      period_end: lineSpecs[0].start, period_start: reason === 'subscription_create' ? lineSpecs[0].start : sub.start,
      status: paid ? 'paid' : 'open', status_transitions: { finalized_at: t, paid_at: paid ? t : null, voided_at: null },
      subtotal: total, total,
    };
    // A paid invoice was paid by a PaymentIntent (refundable like a session's).
    const pi = paid && total > 0
      ? { id: `pi_${rid(18)}`, charge: `ch_${rid(18)}`, amount: total, currency: sub.currency, metadata: {}, created: t, session: null, invoice: id }
      : null;
    if (pi) state.intents.set(pi.id, pi);
    inv._pi = pi?.id ?? null;
    if (state.apiShape === 'legacy') {
      Object.assign(inv, { charge: pi?.charge ?? null, paid, payment_intent: pi?.id ?? null, subscription: sub.id,
        subscription_details: { metadata: { ...sub.metadata } } });
    } else {
      inv.parent = { type: 'subscription_details', quote_details: null, subscription_details: { metadata: { ...sub.metadata }, subscription: sub.id } };
    }
    state.invoices.set(id, inv);
    sub.latest_invoice = id;
    return inv;
  }

  function findSubscription(ref) {
    if (state.subscriptions.has(ref)) return state.subscriptions.get(ref);
    const all = [...state.subscriptions.values()].filter((x) => x.metadata.order_id === ref || x.session === ref);
    if (all.length === 0) throw new Error(`no subscription for ${ref}`);
    return all[all.length - 1];
  }

  /** The buyer pays a subscription-mode session: the subscription and its first invoice. */
  function startSubscription(s) {
    const t = now();
    const sub = {
      id: `sub_${rid(18)}`, item: `si_${rid(14)}`, price: s._price ?? `price_${rid(18)}`, product: `prod_${rid(14)}`,
      name: s._name, amount: s.amount_total, currency: s.currency, interval: s._interval, created: t, anchor: t,
      start: t, end: addMonths(t, s._interval === 'year' ? 12 : 1), status: 'active', cancel_at_period_end: false,
      canceled_at: null, ended_at: null, customer: `cus_${rid(14)}`, payment_method: `pm_${rid(14)}`,
      email: s.customer_email ?? 'buyer@example.com', metadata: { ...s._sub_metadata }, session: s.id, latest_invoice: null,
    };
    state.subscriptions.set(sub.id, sub);
    const inv = newInvoice(sub, 'subscription_create', [{ start: sub.start, end: sub.end, amount: sub.amount }]);
    return { sub, inv };
  }

  /** POST /v1/subscriptions/{id}. */
  function updateSubscription(id, p) {
    const sub = state.subscriptions.get(id);
    if (!sub) throw new ApiError(404, 'resource_missing', `No such subscription: '${id}'`, 'id');
    checkKeys(p, ['cancel_at_period_end', 'items', 'proration_behavior', 'payment_behavior', 'metadata', 'description']);
    if (sub.status === 'canceled' || sub.status === 'incomplete_expired')
      throw new ApiError(400, null, 'A canceled subscription can only update its cancellation_details and metadata.', null);
    const bool = (v, param) => {
      if (v !== 'true' && v !== 'false') throw new ApiError(400, 'parameter_invalid', `Invalid boolean: ${v}`, param);
      return v === 'true';
    };
    if (p.proration_behavior !== undefined && !['create_prorations', 'none', 'always_invoice'].includes(p.proration_behavior))
      throw new ApiError(400, 'parameter_invalid', 'Invalid proration_behavior', 'proration_behavior');
    if (p.payment_behavior !== undefined && !['allow_incomplete', 'error_if_incomplete', 'pending_if_incomplete', 'default_incomplete'].includes(p.payment_behavior))
      throw new ApiError(400, 'parameter_invalid', 'Invalid payment_behavior', 'payment_behavior');
    const metadata = p.metadata === undefined ? undefined : metadataParam(p.metadata, 'metadata');
    let change = null;
    if (p.items !== undefined) {
      if (!Array.isArray(p.items) || p.items.length !== 1) throw new ApiError(400, 'parameter_invalid', 'The fake takes one item', 'items');
      const it = p.items[0];
      checkKeys(it, ['id', 'price', 'price_data', 'quantity'], 'items[0]');
      if (it.id !== sub.item) throw new ApiError(400, 'resource_missing', `No such subscription item: '${it.id}'`, 'items[0][id]');
      if ((it.price === undefined) === (it.price_data === undefined))
        throw new ApiError(400, 'parameter_invalid', 'Exactly one of price or price_data', 'items[0]');
      if (it.price !== undefined) {
        const pr = state.prices.get(it.price);
        if (!pr) throw new ApiError(400, 'resource_missing', `No such price: '${it.price}'`, 'items[0][price]');
        if (!pr.interval) throw new ApiError(400, 'parameter_invalid', 'The price must be recurring', 'items[0][price]');
        change = { price: it.price, amount: pr.unit_amount, currency: pr.currency, interval: pr.interval, product: pr.product ?? sub.product };
      } else {
        const pd = it.price_data;
        checkKeys(pd, ['currency', 'product', 'unit_amount', 'recurring'], 'items[0][price_data]');
        if (pd.product === undefined) throw missing('items[0][price_data][product]');
        if (pd.product !== sub.product) throw new ApiError(400, 'resource_missing', `No such product: '${pd.product}'`, 'items[0][price_data][product]');
        if (!pd.recurring?.interval) throw missing('items[0][price_data][recurring][interval]');
        change = { price: `price_${rid(18)}`, amount: intParam(pd.unit_amount, 'items[0][price_data][unit_amount]', 1),
          currency: currencyParam(pd.currency, 'items[0][price_data][currency]'), interval: pd.recurring.interval, product: pd.product };
      }
      if (change.currency !== sub.currency) throw new ApiError(400, 'parameter_invalid', 'Currency must match the subscription', 'items[0]');
    }
    // all checked: apply
    if (p.cancel_at_period_end !== undefined) {
      sub.cancel_at_period_end = bool(p.cancel_at_period_end, 'cancel_at_period_end');
      sub.canceled_at = sub.cancel_at_period_end ? now() : null;
    }
    if (metadata) sub.metadata = { ...sub.metadata, ...metadata };
    let proration = null;
    if (change) {
      const t = now();
      const behavior = p.proration_behavior ?? 'create_prorations';
      const left = Math.max(0, sub.end - t) / (sub.end - sub.start);
      const old = { price: sub.price, amount: sub.amount };
      Object.assign(sub, { price: change.price, amount: change.amount, interval: change.interval, product: change.product });
      if (behavior === 'always_invoice') {
        const credit = -Math.round(old.amount * left), debit = Math.round(change.amount * left);
        proration = newInvoice(sub, 'subscription_update', [
          { start: t, end: sub.end, amount: credit, proration: true, price: old.price },
          { start: t, end: sub.end, amount: debit, proration: true },
        ]);
      }
    }
    ctl.counters.subscription_updates++;
    setImmediate(async () => {
      await emit('customer.subscription.updated', subPublic(sub));
      if (proration) await emit('invoice.paid', pub(proration));
    });
    return subPublic(sub);
  }

  /** DELETE /v1/subscriptions/{id}. */
  function cancelSubscription(id) {
    const sub = state.subscriptions.get(id);
    if (!sub) throw new ApiError(404, 'resource_missing', `No such subscription: '${id}'`, 'id');
    if (sub.status === 'canceled') throw new ApiError(400, null, `This subscription has already been canceled: '${id}'`, null);
    endSubscription(sub, 'canceled');
    ctl.counters.subscription_cancels++;
    setImmediate(() => emit('customer.subscription.deleted', subPublic(sub)));
    return subPublic(sub);
  }

  function endSubscription(sub, status) {
    sub.status = status;
    if (status === 'canceled') {
      sub.ended_at = now();
      sub.canceled_at ??= sub.ended_at;
    }
  }

  // ---- HTTP -------------------------------------------------------------------------------
  function send(res, status, obj, extra = {}) {
    const text = typeof obj === 'string' ? obj : JSON.stringify(obj, null, 2);
    res.writeHead(status, { 'Content-Type': 'application/json', 'Request-Id': `req_${rid(10)}`, ...extra });
    res.end(text);
  }
  function sendError(res, e) {
    const error = { type: e.type ?? 'api_error', message: e.message };
    if (e.code) error.code = e.code;
    if (e.param) error.param = e.param;
    if (e.code) error.doc_url = `https://stripe.com/docs/error-codes/${e.code.replace(/_/g, '-')}`;
    send(res, e.status ?? 500, { error });
  }

  function authorized(req) {
    const h = req.headers.authorization ?? '';
    if (h.startsWith('Bearer ')) return h.slice(7) === state.secretKey;
    if (h.startsWith('Basic ')) {
      const [user, pass] = Buffer.from(h.slice(6), 'base64').toString('utf8').split(':');
      return user === state.secretKey && (pass ?? '') === '';
    }
    return false;
  }

  /** Answers a forced failure; true when one was used. */
  function forced(which, req, res) {
    const f = state.forced[which];
    if (!f || f.times <= 0) return false;
    f.times--;
    ctl.counters[`forced_${which}`]++;
    if (f.status === 'timeout') return true; // never answered: the client gives up
    send(res, f.status, { error: { type: 'api_error', message: 'An unknown error occurred (fake).' } });
    return true;
  }

  async function readBody(req, limit = 256 * 1024) {
    const chunks = [];
    let n = 0;
    for await (const c of req) {
      n += c.length;
      if (n > limit) throw new ApiError(413, 'request_too_large', 'Request too large');
      chunks.push(c);
    }
    return Buffer.concat(chunks).toString('utf8');
  }

  async function api(req, res, url) {
    const body = await readBody(req);
    const idemKey = req.headers['idempotency-key'];
    ctl.requests.push({ method: req.method, path: url.pathname, body, idempotencyKey: idemKey ?? null, contentType: req.headers['content-type'] ?? null });
    if (!authorized(req)) {
      ctl.counters.unauthorized++;
      return sendError(res, new ApiError(401, null, 'Invalid API Key provided.', null));
    }
    let m;
    if (req.method === 'POST') {
      if (!(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded'))
        return sendError(res, new ApiError(400, 'parameter_invalid', 'Content-Type must be application/x-www-form-urlencoded', null));
      let params;
      try {
        params = parseStripeForm(body);
      } catch (e) {
        return sendError(res, new ApiError(400, 'parameter_invalid', String(e.message), null));
      }
      const subPath = /^\/v1\/subscriptions\/([^/]+)$/.exec(url.pathname);
      const which = url.pathname === '/v1/checkout/sessions' ? 'checkout' : url.pathname === '/v1/refunds' ? 'refund' : subPath ? 'subscription' : null;
      if (!which) return sendError(res, new ApiError(404, 'resource_missing', 'Unrecognized request URL', null));
      if (forced(which, req, res)) return undefined;
      const slot = idemKey ? `${url.pathname} ${idemKey}` : null;
      const hash = createHash('sha256').update(body).digest('hex');
      if (slot && state.idem.has(slot)) {
        const prior = state.idem.get(slot);
        if (prior.hash !== hash)
          return sendError(res, new ApiError(400, null, 'Keys for idempotent requests can only be used with the same parameters they were first used with.', null, 'idempotency_error'));
        ctl.counters.replayed++;
        return send(res, prior.status, prior.body, { 'Idempotent-Replayed': 'true' });
      }
      let status = 200, out;
      try {
        out = which === 'checkout' ? createSession(params) : which === 'refund' ? createRefund(params)
          : updateSubscription(decodeURIComponent(subPath[1]), params);
      } catch (e) {
        if (!(e instanceof ApiError)) throw e;
        status = e.status;
        out = { error: { type: e.type, code: e.code, message: e.message, param: e.param } };
      }
      const text = JSON.stringify(out, null, 2);
      // Stripe keeps the answer for the key, errors from validation excepted (4xx are kept too
      // when the request reached the API: the fake keeps every non-5xx answer).
      if (slot && status < 500) state.idem.set(slot, { hash, status, body: text });
      return send(res, status, text);
    }
    if (req.method === 'GET' && (m = /^\/v1\/checkout\/sessions\/([^/]+)$/.exec(url.pathname))) {
      ctl.counters.queries++;
      if (forced('query', req, res)) return undefined;
      const s = state.sessions.get(decodeURIComponent(m[1]));
      if (!s) return sendError(res, new ApiError(404, 'resource_missing', `No such checkout.session: '${m[1]}'`, 'id'));
      return send(res, 200, pub(s));
    }
    if ((req.method === 'GET' || req.method === 'DELETE') && (m = /^\/v1\/subscriptions\/([^/]+)$/.exec(url.pathname))) {
      if (forced('subscription', req, res)) return undefined;
      const id = decodeURIComponent(m[1]);
      if (req.method === 'GET') {
        const sub = state.subscriptions.get(id);
        if (!sub) return sendError(res, new ApiError(404, 'resource_missing', `No such subscription: '${id}'`, 'id'));
        return send(res, 200, subPublic(sub));
      }
      try {
        return send(res, 200, cancelSubscription(id));
      } catch (e) {
        if (!(e instanceof ApiError)) throw e;
        return sendError(res, e);
      }
    }
    if (req.method === 'GET' && (m = /^\/v1\/invoices\/([^/]+)$/.exec(url.pathname))) {
      const inv = state.invoices.get(decodeURIComponent(m[1]));
      if (!inv) return sendError(res, new ApiError(404, 'resource_missing', `No such invoice: '${m[1]}'`, 'id'));
      const out = pub(inv);
      const expand = url.searchParams.getAll('expand[]');
      if (expand.some((e) => e !== 'payments')) return sendError(res, new ApiError(400, 'parameter_invalid', 'This property cannot be expanded', 'expand'));
      // `payments` is an includable list since 2025-03-31, present only when expanded
      if (state.apiShape !== 'legacy' && expand.includes('payments')) {
        const data = inv._pi ? [{
          id: `inpay_${rid(18)}`, object: 'invoice_payment', amount_paid: inv.amount_paid, amount_requested: inv.amount_due, created: inv.created,
          currency: inv.currency, invoice: inv.id, is_default: true, livemode: false,
          payment: { type: 'payment_intent', payment_intent: inv._pi }, status: 'paid',
          status_transitions: { canceled_at: null, paid_at: inv.created },
        }] : [];
        out.payments = { object: 'list', data, has_more: false, total_count: data.length, url: `/v1/invoice_payments?invoice=${inv.id}` };
      }
      return send(res, 200, out);
    }
    if (req.method === 'GET' && (m = /^\/v1\/refunds\/([^/]+)$/.exec(url.pathname))) {
      const r = state.refunds.get(decodeURIComponent(m[1]));
      if (!r) return sendError(res, new ApiError(404, 'resource_missing', `No such refund: '${m[1]}'`, 'id'));
      return send(res, 200, r);
    }
    return sendError(res, new ApiError(404, 'resource_missing', `Unrecognized request URL (${req.method}: ${url.pathname})`, null));
  }

  async function control(req, res, method) {
    const json = (status, obj) => send(res, status, obj);
    if (method === 'state' && req.method === 'GET')
      return json(200, { result: { counters: ctl.counters, deliveries: ctl.deliveries, events: ctl.events.map((e) => ({ id: e.id, type: e.type })) } });
    const CONTROLS = ['setWebhook', 'pay', 'asyncSucceed', 'asyncFail', 'expire', 'refundAt', 'deliver', 'loseNext', 'failCheckout',
      'failRefund', 'failQuery', 'refundStatus', 'setPrice', 'sessionFor', 'reset', 'setNow', 'renew', 'failRenewal', 'giveUp',
      'endPeriod', 'sendSubscription', 'subscriptionFor', 'invoicesFor', 'setApiShape', 'failSubscription', 'clearFailures', 'requestsTo'];
    if (req.method !== 'POST' || !CONTROLS.includes(method)) return json(404, { error: 'unknown control' });
    let args;
    try {
      args = JSON.parse((await readBody(req)) || '[]');
    } catch {
      args = null;
    }
    if (!Array.isArray(args)) return json(400, { error: 'arguments must be a JSON array' });
    try {
      return json(200, { result: (await ctl[method](...args)) ?? null });
    } catch (e) {
      return json(400, { error: String(e.message) });
    }
  }

  function route(req, res) {
    const url = new URL(req.url, 'http://fake');
    if (url.pathname.startsWith('/__control/')) return control(req, res, url.pathname.slice(11));
    if (req.method === 'GET' && url.pathname.startsWith('/c/pay/')) {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
      return res.end('<!doctype html><title>Fake Stripe Checkout</title><p>Pay with the fake\'s pay() control.</p>');
    }
    if (url.pathname.startsWith('/v1/')) return api(req, res, url);
    return sendError(res, new ApiError(404, 'resource_missing', 'Unrecognized request URL', null));
  }

  const ctl = {
    url: '',
    port: 0,
    get secretKey() { return state.secretKey; },
    get webhookSecret() { return state.webhookSecret; },
    events: [],
    deliveries: [],
    requests: [],
    counters: { sessions: 0, queries: 0, refunds: 0, replayed: 0, unauthorized: 0, lost: 0, forced_checkout: 0, forced_refund: 0, forced_query: 0,
      forced_subscription: 0, subscription_updates: 0, subscription_cancels: 0, renewals: 0 },
    setWebhook(url, secret) {
      state.webhookUrl = url;
      if (secret) state.webhookSecret = secret;
    },
    /** The session (public fields) of an order id or session id. */
    sessionFor(orderOrRef) { return pub(findSession(orderOrRef)); },
    /** The buyer pays. async: a delayed method (completed arrives unpaid first). */
    async pay(orderOrRef, { async = false, now: t, both = false } = {}) {
      at(t);
      const s = findSession(orderOrRef);
      if (s.status !== 'open') throw new Error(`session ${s.id} is ${s.status}`);
      if (s.mode === 'subscription') {
        if (async) throw new Error('the fake pays subscriptions by card only');
        const { sub, inv } = startSubscription(s);
        Object.assign(s, { status: 'complete', payment_status: 'paid', subscription: sub.id, invoice: inv.id, customer: sub.customer, url: null,
          customer_details: { address: null, email: sub.email, name: 'Jenny Rosen', phone: null, tax_exempt: 'none', tax_ids: [] } });
        const d = await emit('checkout.session.completed', pub(s));
        const di = await emit('invoice.paid', pub(inv));
        const ds = both ? await emit('invoice.payment_succeeded', pub(inv)) : null;
        return { session: s.id, subscription: sub.id, invoice: inv.id, delivery: d, invoiceDeliveries: [di, ds].filter(Boolean) };
      }
      const pi = { id: `pi_${rid(18)}`, charge: `ch_${rid(18)}`, amount: s.amount_total, currency: s.currency, metadata: s._pi_metadata, created: now(), session: s.id };
      state.intents.set(pi.id, pi);
      s.status = 'complete';
      s.payment_intent = pi.id;
      s.payment_status = async ? 'unpaid' : 'paid';
      s.customer_details = { address: null, email: s.customer_email ?? 'buyer@example.com', name: 'Jenny Rosen', phone: null, tax_exempt: 'none', tax_ids: [] };
      s.url = null;
      const d = await emit('checkout.session.completed', pub(s));
      return { session: s.id, event: ctl.events[ctl.events.length - 1].id, delivery: d };
    },
    async asyncSucceed(orderOrRef) {
      const s = findSession(orderOrRef);
      s.payment_status = 'paid';
      return emit('checkout.session.async_payment_succeeded', pub(s));
    },
    async asyncFail(orderOrRef) {
      const s = findSession(orderOrRef);
      return emit('checkout.session.async_payment_failed', pub(s));
    },
    async expire(orderOrRef) {
      const s = findSession(orderOrRef);
      if (s.status !== 'open') throw new Error(`session ${s.id} is ${s.status}`);
      s.status = 'expired';
      s.url = null;
      return emit('checkout.session.expired', pub(s));
    },
    /** A refund made in Stripe's dashboard (no metadata of ours). */
    async refundAt(orderOrRef, amount, { refundId } = {}) {
      const s = findSession(orderOrRef);
      const metadata = refundId ? { refund_id: refundId } : undefined;
      return createRefund({ payment_intent: s.payment_intent, amount: String(amount), ...(metadata ? { metadata } : {}) });
    },
    /**
     * (Re)sends an event (an event object, an event id, or a raw string body): `times`
     * deliveries, all at once when parallel. timestamp/secret/header override the signature.
     * Resolves the deliveries.
     */
    async deliver(eventOrId, { times = 1, parallel = false, ...sig } = {}) {
      const ev = typeof eventOrId === 'string' && eventOrId.startsWith('evt_') ? ctl.events.find((e) => e.id === eventOrId) : eventOrId;
      if (!ev) throw new Error(`no event ${eventOrId}`);
      if (parallel) return Promise.all(Array.from({ length: times }, () => post(ev, sig)));
      const out = [];
      for (let i = 0; i < times; i++) out.push(await post(ev, sig));
      return out;
    },
    /** Builds an event without sending it (to tamper with it before deliver()). */
    event(type, object) { return newEvent(type, object); },
    loseNext(n = 1) { state.lose = n; },
    failCheckout(status = 500, { times = Infinity } = {}) { state.forced.checkout = { status, times }; },
    failRefund(status = 500, { times = Infinity } = {}) { state.forced.refund = { status, times }; },
    failQuery(status = 500, { times = Infinity } = {}) { state.forced.query = { status, times }; },
    clearFailures() { state.forced = { checkout: null, refund: null, query: null, subscription: null }; },
    failSubscription(status = 500, { times = Infinity } = {}) { state.forced.subscription = { status, times }; },
    refundStatus(s) {
      if (!['succeeded', 'pending', 'failed'].includes(s)) throw new Error('succeeded | pending | failed');
      state.refundStatus = s;
    },
    setPrice(id, { unit_amount, currency, name, interval, product }) {
      state.prices.set(id, { unit_amount, currency: currency.toLowerCase(), name, interval, product });
    },
    /** Moves the fake's clock (unix seconds): what it signs with and stamps objects with. */
    setNow(t) { at(t); return now(); },
    now() { return now(); },
    setApiShape(shape) {
      if (shape !== 'basil' && shape !== 'legacy') throw new Error('basil | legacy');
      state.apiShape = shape;
    },
    subscriptionFor(ref) { return subPublic(findSubscription(ref)); },
    invoicesFor(ref) {
      const sub = findSubscription(ref);
      return [...state.invoices.values()].filter((i) => (i.parent?.subscription_details?.subscription ?? i.subscription) === sub.id).map(pub);
    },
    /** The API requests made to path (a string prefix), with their parsed forms. */
    requestsTo(prefix) {
      return ctl.requests.filter((r) => r.path.startsWith(prefix)).map((r) => ({ ...r, form: r.body ? parseStripeForm(r.body) : null }));
    },
    /**
     * The next period is billed and paid. times: deliveries of invoice.paid; both: also
     * invoice.payment_succeeded (Stripe sends both for one invoice); updated: first the
     * customer.subscription.updated Stripe sends when the period moves; lose: the invoice
     * events are made but not sent. Resolves {invoice, period: {start, end}, deliveries}.
     */
    async renew(ref, { now: t, times = 1, both = false, updated = false, lose = false } = {}) {
      at(t);
      const sub = findSubscription(ref);
      if (sub.status === 'canceled') throw new Error(`subscription ${sub.id} is canceled`);
      if (sub.cancel_at_period_end) throw new Error(`subscription ${sub.id} is set to cancel: endPeriod() it`);
      const start = sub.end, end = addMonths(sub.end, sub.interval === 'year' ? 12 : 1);
      const inv = newInvoice(sub, 'subscription_cycle', [{ start, end, amount: sub.amount }]);
      Object.assign(sub, { start, end, status: 'active' });
      ctl.counters.renewals++;
      const deliveries = [];
      if (updated) deliveries.push(await emit('customer.subscription.updated', subPublic(sub)));
      const paid = newEvent('invoice.paid', pub(inv));
      const succeeded = both ? newEvent('invoice.payment_succeeded', pub(inv)) : null;
      if (!lose && state.webhookUrl) {
        for (let i = 0; i < times; i++) deliveries.push(await post(paid));
        if (succeeded) for (let i = 0; i < times; i++) deliveries.push(await post(succeeded));
      }
      return { invoice: inv.id, events: [paid.id, succeeded?.id].filter(Boolean), period: { start, end }, deliveries };
    },
    /** The renewal's payment fails: invoice.payment_failed, then the subscription goes past_due. */
    async failRenewal(ref, { now: t } = {}) {
      at(t);
      const sub = findSubscription(ref);
      const start = sub.end, end = addMonths(sub.end, sub.interval === 'year' ? 12 : 1);
      const inv = newInvoice(sub, 'subscription_cycle', [{ start, end, amount: sub.amount }], { paid: false });
      Object.assign(sub, { start, end, status: 'past_due' });
      const d1 = await emit('invoice.payment_failed', pub(inv));
      const d2 = await emit('customer.subscription.updated', subPublic(sub));
      return { invoice: inv.id, period: { start, end }, deliveries: [d1, d2] };
    },
    /** Stripe stops retrying: the subscription is canceled (default) or left unpaid. */
    async giveUp(ref, { now: t, status = 'canceled' } = {}) {
      at(t);
      const sub = findSubscription(ref);
      if (status !== 'canceled' && status !== 'unpaid') throw new Error('canceled | unpaid');
      endSubscription(sub, status);
      return emit(status === 'canceled' ? 'customer.subscription.deleted' : 'customer.subscription.updated', subPublic(sub));
    },
    /** A subscription set to cancel at period end reaches it. */
    async endPeriod(ref, { now: t } = {}) {
      at(t);
      const sub = findSubscription(ref);
      if (!sub.cancel_at_period_end) throw new Error(`subscription ${sub.id} is not set to cancel`);
      endSubscription(sub, 'canceled');
      return emit('customer.subscription.deleted', subPublic(sub));
    },
    /** Delivers customer.subscription.<type> ('updated' | 'deleted') with the subscription as it stands. */
    async sendSubscription(ref, type = 'updated', { now: t } = {}) {
      at(t);
      if (type !== 'updated' && type !== 'deleted') throw new Error('updated | deleted');
      return emit(`customer.subscription.${type}`, subPublic(findSubscription(ref)));
    },
    sign(payload, { timestamp, secret } = {}) {
      return sdk.webhooks.generateTestHeaderString({ payload, secret: secret ?? state.webhookSecret, timestamp: timestamp ?? now() });
    },
    reset,
    async close() {
      for (const t of timers) clearTimeout(t);
      server.closeAllConnections();
      await new Promise((r) => server.close(() => r()));
    },
  };
  reset();

  const server = http.createServer((req, res) => {
    Promise.resolve(route(req, res)).catch((e) => {
      if (!res.headersSent) sendError(res, e instanceof ApiError ? e : new ApiError(500, null, String(e), null, 'api_error'));
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
  const st = await startFakeStripe({ port: Number(opt('--port') ?? 0), webhookUrl: opt('--webhook-url') });
  return { fake: st, line: { url: st.url, port: st.port, secretKey: st.secretKey, webhookSecret: st.webhookSecret } };
});
