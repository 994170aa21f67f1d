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
//   GET  /checkout/<id>                the hosted checkout page (HTML)
// Errors have Creem's (NestJS) shape {"statusCode","message","error"}; a missing or wrong
// x-api-key is 401.
//
// Notifications go to the notify URL (Creem has one per webhook endpoint, set in its
// dashboard: setNotifyUrl) as POST application/json with webhook-id, webhook-timestamp,
// webhook-signature (Standard Webhooks) and/or creem-signature (setSigning: 'standard',
// 'legacy' or 'both', the default).
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
const ENDPOINTS = ['checkout', 'query', 'refund'];

/** Catalog products at the fake Creem: prices are set on the product, as at Creem. */
export const DEFAULT_PRODUCTS = Object.freeze({
  prod_credits_115: { name: '115 credits', price: 990, currency: 'USD' },
  prod_credits_355: { name: '355 credits', price: 3000, currency: 'USD' },
  prod_credits_1450: { name: '1450 credits', price: 9900, currency: 'USD' },
});

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
      transactions: new Map(), // id -> {id, checkout, amount, currency, refunded}
      failing: {}, // endpoint -> {status | timeout, times}
      lose: 0,
      signing: 'both',
      refundStatus: 'succeeded',
      notifyUrl: opts.notifyUrl ?? null,
    };
    ctl.counters = { checkout: 0, query: 0, refund: 0, unauthorized: 0, delivered: 0, lost: 0 };
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
    billing_type: 'onetime', billing_period: 'once', status: 'active', tax_mode: 'inclusive',
    tax_category: 'digital-goods-service', created_at: created, updated_at: created });
  const customerEntity = (c) => ({ id: c.customer.id, mode: 'test', object: 'customer', email: c.customer.email,
    name: 'Test Buyer', country: 'NL', created_at: created, updated_at: created });
  const orderEntity = (c) => c.order && { ...c.order };
  function checkoutEntity(c, { expand = false } = {}) {
    const e = { id: c.id, mode: 'test', object: 'checkout', status: c.status, product: expand ? productEntity(c.product) : c.product,
      units: c.units, checkout_url: `${ctl.url}/checkout/${c.id}`, success_url: c.success_url ?? null };
    if (c.request_id !== undefined) e.request_id = c.request_id;
    if (c.metadata !== undefined) e.metadata = c.metadata;
    if (c.order) e.order = orderEntity(c);
    if (c.customer) e.customer = expand ? customerEntity(c) : c.customer.id;
    if (expand) e.custom_fields = [];
    return e;
  }
  const event = (eventType, object) => ({ id: newId('evt'), eventType, created_at: Date.now(), object });

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
    const t = { id: newId('tran'), checkout: c.id, amount: amount ?? p.price * (c.units ?? 1), currency: currency ?? p.currency, refunded: 0,
    created: Date.now() };
    state.transactions.set(t.id, t);
    c.status = 'completed';
    c.order = { id: newId('ord'), object: 'order', customer: c.customer.id, product: c.product, transaction: t.id,
      amount: t.amount, sub_total: t.amount, tax_amount: 0, amount_due: t.amount, amount_paid: t.amount,
      currency: t.currency, status: 'paid', type: 'onetime', created_at: new Date().toISOString(),
      updated_at: new Date().toISOString(), mode: 'test' };
    return t;
  }

  function refundEvent(t, amount) {
    const c = state.checkouts.get(t.checkout);
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
  function sign(ev, { scheme = state.signing, timestamp, msgId } = {}) {
    const body = typeof ev === 'string' ? ev : JSON.stringify(ev);
    return { body, headers: signCreem(webhookSecret, body, { scheme, timestamp, msgId }) };
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

  /** Delivers ev once, unless a loss is pending. */
  async function notify(ev) {
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
    'setNotifyUrl', 'setRefundStatus', 'checkout', 'sign', 'reset', 'redeliverLost'];
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
    const api = {
      'POST /v1/checkouts': ['checkout', createCheckout],
      'GET /v1/checkouts': ['query', getCheckout],
      'POST /v1/refunds': ['refund', postRefund],
    }[`${req.method} ${url.pathname}`];
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
      if (!deliver) return { event: ev };
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
    /** The next `times` calls of endpoint ('checkout' | 'query' | 'refund') answer status
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
