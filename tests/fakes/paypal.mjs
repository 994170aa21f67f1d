// A fake PayPal for payment tests: the REST API (api-m.paypal.com) and the buyer's approval
// page (www.paypal.com/checkoutnow) on one local port, speaking the wire formats of
// PROVIDERS.md section 4:
//
//   POST /v1/oauth2/token                        Basic client_id:secret, grant_type=client_credentials
//   POST /v2/checkout/orders                     Bearer; intent CAPTURE, one purchase unit,
//                                                amount as a decimal string of the currency's
//                                                exponent; PayPal-Request-Id replays the first
//                                                answer; invoice_id unique per account
//   GET  /v2/checkout/orders/{id}                the order, captures under purchase_units[0].payments
//   POST /v2/checkout/orders/{id}/capture        APPROVED -> COMPLETED (201; a replayed
//                                                PayPal-Request-Id -> the same answer, 200);
//                                                422 ORDER_NOT_APPROVED / ORDER_ALREADY_CAPTURED
//   POST /v2/payments/captures/{id}/refund       partial or full; 422 REFUND_AMOUNT_EXCEEDED,
//                                                CAPTURE_FULLY_REFUNDED, CURRENCY_MISMATCH
//   POST /v1/notifications/verify-webhook-signature
//                                                checks the transmission it signed itself:
//                                                CRC32 of the raw webhook_event text as it
//                                                appears in the request (a re-serialised event
//                                                fails, as it does at PayPal), the webhook id,
//                                                the certificate URL, RSA-SHA256 -> SUCCESS|FAILURE
//   GET  /v1/notifications/certs/{CERT-...}      the signing certificate (PEM)
//   GET  /checkoutnow?token={id}                 the buyer approves: APPROVED, then 302 to
//                                                return_url?token={id}&PayerID=...
//
// Notifications go to the webhook URL (opts.webhookUrl or setWebhookUrl) with PayPal's
// headers: PAYPAL-TRANSMISSION-ID, -TIME, -SIG (base64 RSA-SHA256 over
// "<transmission id>|<time>|<webhook id>|<CRC32 of the body, unsigned decimal>"),
// PAYPAL-CERT-URL (an api.sandbox.paypal.com URL, as PayPal sends; the fake knows it as its
// own certificate) and PAYPAL-AUTH-ALGO SHA256withRSA. Events: CHECKOUT.ORDER.APPROVED on
// approval, PAYMENT.CAPTURE.COMPLETED (or .PENDING/.DENIED) on capture,
// PAYMENT.CAPTURE.REFUNDED on a refund.
//
// Use in-process:
//   import { startFakePaypal } from '../fakes/paypal.mjs';
//   const pp = await startFakePaypal({ webhookUrl });   // TG_PAYPAL_API_BASE = pp.url,
//   pp.clientId, pp.clientSecret, pp.webhookId           // TG_PAYPAL_CLIENT_ID, ... 
//   pp.approve(orderId) -> the return URL the browser is sent to (with token and PayerID)
//   await pp.pay(orderId)          approve + capture at PayPal + PAYMENT.CAPTURE.COMPLETED
//   await pp.deliver(event, { times, parallel, headers, sign })   -> [{status, body}]
//   pp.loseNext(n)                 the next n notifications are dropped (recorded as lost)
//   pp.forceHttp(status, endpoint, { times })   endpoint: token|create|get|capture|refund|verify
//   pp.setDelay(ms, endpoint)      answers late (a timeout for the client)
//   pp.revokeTokens()              every issued token answers 401 from now on
//   pp.event(type, orderId)        an event body as PayPal would send it
//   pp.sign(rawBody, { time, transmissionId, webhookId, key }) -> headers
//   pp.orders, pp.counters, pp.deliveries
// or as a child process (for C tests): `node tests/fakes/paypal.mjs [--port N]
// [--webhook-url URL]` prints one line {"url","port","clientId","clientSecret","webhookId"};
// the methods are then POST /__control/<method> with a JSON array of arguments, answering
// {"result": ...}; GET /__control/counters answers the counters. It exits on SIGTERM,
// SIGINT, or (with --exit-on-stdin-close) when its stdin closes.

import http from 'node:http';
import { createSign, createVerify, generateKeyPairSync, randomBytes, randomUUID, X509Certificate } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runAsProcess } from './lib/process.mjs';

export const DEFAULT_CLIENT = Object.freeze({
  clientId: 'AYfake-client-id-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGH',
  clientSecret: 'EFfake-client-secret-0123456789abcdefghijklmnopqrstuvwxyzABCD',
  webhookId: '1JE4291016473214C',
});

const TOKEN_TTL_S = 32400; // PROVIDERS.md 4.1's example
const ENDPOINTS = ['token', 'create', 'get', 'capture', 'refund', 'verify'];
// "Currencies that do not support decimals" in PayPal's currency code reference.
const ZERO_DECIMAL = new Set(['HUF', 'JPY', 'TWD']);

/** PayPal-style ids: 17 upper-case alphanumerics. */
const ppId = () => {
  const abc = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
  const b = randomBytes(17);
  return Array.from(b, (x) => abc[x % abc.length]).join('');
};
const nowIso = () => new Date().toISOString();
/** PAYPAL-TRANSMISSION-TIME as PayPal writes it: seconds, "Z". */
const transmissionTime = (ms = Date.now()) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

export function exponent(currency) {
  return ZERO_DECIMAL.has(currency) ? 0 : 2;
}

/** "9.90" -> 990 for USD; null when the value is not the currency's exact decimal form. */
export function parseValue(value, currency) {
  if (typeof value !== 'string') return null;
  const e = exponent(currency);
  const re = e === 0 ? /^(0|[1-9]\d{0,14})$/ : new RegExp(`^(0|[1-9]\\d{0,14})(\\.\\d{1,${e}})?$`);
  if (!re.test(value)) return null;
  const [i, f = ''] = value.split('.');
  return Number(i) * 10 ** e + Number((f + '0'.repeat(e)).slice(0, e) || 0);
}

export function formatValue(minor, currency) {
  const e = exponent(currency);
  if (e === 0) return String(minor);
  return `${Math.floor(minor / 100)}.${String(minor % 100).padStart(2, '0')}`;
}

/** The raw text of the top-level member `key` of a JSON object text, or null. */
export function rawMember(text, key) {
  let i = 0;
  const ws = () => {
    while (i < text.length && ' \t\r\n'.includes(text[i])) i++;
  };
  const skipString = () => {
    i++; // opening quote
    while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    i++;
  };
  const skipValue = () => {
    ws();
    const c = text[i];
    if (c === '"') return skipString();
    if (c === '{' || c === '[') {
      let depth = 0;
      for (; i < text.length; i++) {
        const d = text[i];
        if (d === '"') {
          skipString();
          i--;
        } else if (d === '{' || d === '[') depth++;
        else if (d === '}' || d === ']') {
          depth--;
          if (depth === 0) {
            i++;
            return;
          }
        }
      }
      return;
    }
    while (i < text.length && !',}] \t\r\n'.includes(text[i])) i++;
  };
  ws();
  if (text[i] !== '{') return null;
  i++;
  for (;;) {
    ws();
    if (text[i] !== '"') return null;
    const ks = i;
    skipString();
    const k = JSON.parse(text.slice(ks, i));
    ws();
    if (text[i] !== ':') return null;
    i++;
    ws();
    const vs = i;
    skipValue();
    if (k === key) return text.slice(vs, i);
    ws();
    if (text[i] === ',') {
      i++;
      continue;
    }
    return null;
  }
}

/** A self-signed certificate for key (PEM), made with the openssl command. */
function makeCert(privatePem) {
  const dir = mkdtempSync(path.join(tmpdir(), 'fake-paypal-'));
  try {
    const keyFile = path.join(dir, 'key.pem');
    writeFileSync(keyFile, privatePem, { mode: 0o600 });
    execFileSync('openssl', ['req', '-new', '-x509', '-key', keyFile, '-out', path.join(dir, 'cert.pem'), '-days', '30',
      '-subj', '/C=US/ST=California/L=San Jose/O=PayPal, Inc./CN=messageverificationcerts.sandbox.paypal.com'],
    { stdio: 'ignore' });
    return readFileSync(path.join(dir, 'cert.pem'), 'utf8');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function freshCounters() {
  return { token: 0, tokensIssued: 0, create: 0, get: 0, capture: 0, refund: 0, verify: 0, verifySuccess: 0,
    verifyFailure: 0, unauthorized: 0, approvals: 0, delivered: 0, lost: 0 };
}

export async function startFakePaypal(opts = {}) {
  const host = opts.host ?? '127.0.0.1';
  const client = { ...DEFAULT_CLIENT, ...(opts.client ?? {}) };
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const privatePem = privateKey.export({ type: 'pkcs8', format: 'pem' });
  const certPem = makeCert(privatePem);
  const certId = `CERT-360caa42-fca2a594-${randomBytes(4).toString('hex')}`;
  const certUrl = `https://api.sandbox.paypal.com/v1/notifications/certs/${certId}`;
  const timers = new Set();
  let state;

  const orders = new Map(); // id -> order
  const captures = new Map(); // capture id -> {orderId, capture}
  const idem = new Map(); // "<endpoint>|<PayPal-Request-Id>" -> {status, body, hash}
  const tokens = new Map(); // token -> expires (ms)
  const invoices = new Set();

  function reset() {
    state = {
      webhookUrl: opts.webhookUrl ?? null,
      delay: Object.fromEntries(ENDPOINTS.map((e) => [e, 0])),
      forced: Object.fromEntries(ENDPOINTS.map((e) => [e, null])),
      lose: 0,
      captureOutcome: 'COMPLETED', // what the next captures end as: COMPLETED | PENDING | DECLINED
      tokenTtl: opts.tokenTtl ?? TOKEN_TTL_S,
      autoNotify: true,
    };
    ctl.counters = freshCounters();
    ctl.deliveries = [];
    ctl.requests = [];
  }

  // ---- wire helpers ----
  function send(res, status, obj, headers = {}) {
    const body = obj === undefined ? '' : typeof obj === 'string' ? obj : JSON.stringify(obj);
    res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body),
      'Paypal-Debug-Id': randomBytes(6).toString('hex'), ...headers });
    res.end(body);
  }
  function restError(res, status, name, message, issue, description) {
    const body = { name, message, debug_id: randomBytes(6).toString('hex') };
    if (issue) {
      body.details = [{ issue, description: description ?? issue }];
      body.links = [{ href: `https://developer.paypal.com/docs/api/orders/v2/#error-${issue}`, rel: 'information_link', method: 'GET' }];
    }
    send(res, status, body);
  }
  const unprocessable = (res, issue, description) => restError(res, 422, 'UNPROCESSABLE_ENTITY',
    'The requested action could not be performed, semantically incorrect, or failed business validation.', issue, description);
  const invalidRequest = (res, issue, description) => restError(res, 400, 'INVALID_REQUEST',
    'Request is not well-formed, syntactically incorrect, or violates schema.', issue, description);
  const notFound = (res) => restError(res, 404, 'RESOURCE_NOT_FOUND', 'The specified resource does not exist.',
    'INVALID_RESOURCE_ID', 'Specified resource ID does not exist. Please check the resource ID and try again.');

  async function readBody(req) {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    return Buffer.concat(chunks).toString('utf8');
  }

  function bearerOk(req, res) {
    const m = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '');
    const exp = m ? tokens.get(m[1]) : undefined;
    if (exp === undefined || exp < Date.now()) {
      ctl.counters.unauthorized++;
      send(res, 401, { error: 'invalid_token', error_description: 'Token signature verification failed' });
      return false;
    }
    return true;
  }

  const links = (o) => {
    const self = `${ctl.url}/v2/checkout/orders/${o.id}`;
    if (o.status === 'COMPLETED') return [{ href: self, rel: 'self', method: 'GET' }];
    const approve = `${ctl.url}/checkoutnow?token=${o.id}`;
    const l = [{ href: self, rel: 'self', method: 'GET' }];
    if (o.legacy) {
      l.push({ href: approve, rel: 'approve', method: 'GET' }, { href: self, rel: 'update', method: 'PATCH' },
        { href: `${self}/capture`, rel: 'capture', method: 'POST' });
    } else if (o.status !== 'APPROVED') {
      l.push({ href: approve, rel: 'payer-action', method: 'GET' });
    }
    return l;
  };

  function captureView(c) {
    return {
      id: c.id, status: c.status, amount: { currency_code: c.currency, value: formatValue(c.amount, c.currency) },
      final_capture: true, custom_id: c.customId, invoice_id: c.invoiceId,
      seller_protection: { status: 'ELIGIBLE', dispute_categories: ['ITEM_NOT_RECEIVED', 'UNAUTHORIZED_TRANSACTION'] },
      seller_receivable_breakdown: {
        gross_amount: { currency_code: c.currency, value: formatValue(c.amount, c.currency) },
        paypal_fee: { currency_code: c.currency, value: formatValue(Math.round(c.amount * 0.0349) + 49, c.currency) },
        net_amount: { currency_code: c.currency, value: formatValue(c.amount - Math.round(c.amount * 0.0349) - 49, c.currency) },
      },
      links: [
        { href: `${ctl.url}/v2/payments/captures/${c.id}`, rel: 'self', method: 'GET' },
        { href: `${ctl.url}/v2/payments/captures/${c.id}/refund`, rel: 'refund', method: 'POST' },
        { href: `${ctl.url}/v2/checkout/orders/${c.orderId}`, rel: 'up', method: 'GET' },
      ],
      create_time: c.createTime, update_time: c.updateTime,
    };
  }

  function orderView(o) {
    const pu = o.unit;
    const unit = {
      reference_id: pu.reference_id ?? 'default',
      amount: { currency_code: o.currency, value: formatValue(o.amount, o.currency) },
      payee: { email_address: 'merchant@example.com', merchant_id: 'FAKEMERCHANT01' },
    };
    if (pu.custom_id !== undefined) unit.custom_id = pu.custom_id;
    if (pu.invoice_id !== undefined) unit.invoice_id = pu.invoice_id;
    if (pu.description !== undefined) unit.description = pu.description;
    if (o.captures.length) unit.payments = { captures: o.captures.map(captureView) };
    const v = { id: o.id, intent: 'CAPTURE', status: o.status, purchase_units: [unit], create_time: o.createTime, links: links(o) };
    if (o.status === 'APPROVED' || o.status === 'COMPLETED') {
      v.payer = { name: { given_name: 'John', surname: 'Doe' }, email_address: 'buyer@example.com', payer_id: o.payerId };
      v.payment_source = { paypal: { email_address: 'buyer@example.com', account_id: o.payerId, name: { given_name: 'John', surname: 'Doe' } } };
    } else {
      v.payment_source = { paypal: {} };
    }
    return v;
  }

  // ---- notifications ----
  function sign(raw, o = {}) {
    const id = o.transmissionId ?? randomUUID();
    const time = o.time ?? transmissionTime();
    const webhookId = o.webhookId ?? client.webhookId;
    const crc = crc32(Buffer.from(raw, 'utf8')) >>> 0;
    const msg = `${id}|${time}|${webhookId}|${crc}`;
    const sig = createSign('sha256').update(msg).sign(o.key ?? privateKey, 'base64');
    return {
      'paypal-transmission-id': id,
      'paypal-transmission-time': time,
      'paypal-transmission-sig': sig,
      'paypal-cert-url': o.certUrl ?? certUrl,
      'paypal-auth-algo': 'SHA256withRSA',
    };
  }

  function envelope(type, resourceType, resource, summary) {
    const id = `WH-${ppId().slice(0, 17)}-${ppId().slice(0, 17)}`;
    return {
      id, event_version: '1.0', create_time: nowIso(), resource_type: resourceType,
      resource_version: '2.0', event_type: type, summary, resource,
      links: [
        { href: `https://api.sandbox.paypal.com/v1/notifications/webhooks-events/${id}`, rel: 'self', method: 'GET' },
        { href: `https://api.sandbox.paypal.com/v1/notifications/webhooks-events/${id}/resend`, rel: 'resend', method: 'POST' },
      ],
    };
  }

  /** The event PayPal would send about an order: CHECKOUT.ORDER.APPROVED, PAYMENT.CAPTURE.* */
  function event(type, orderId, extra = {}) {
    const o = orders.get(orderId);
    if (!o) throw new Error(`unknown order ${orderId}`);
    if (type === 'CHECKOUT.ORDER.APPROVED') {
      return envelope(type, 'checkout-order', orderView(o), 'An order has been approved by buyer');
    }
    if (type === 'PAYMENT.CAPTURE.REFUNDED') {
      const r = extra.refund ?? o.refunds[o.refunds.length - 1];
      if (!r) throw new Error('no refund');
      return envelope(type, 'refund', refundView(r), `A $ ${r.value} ${r.currency} capture payment was refunded`);
    }
    const c = o.captures[o.captures.length - 1] ?? {
      id: ppId(), orderId, status: 'COMPLETED', amount: o.amount, currency: o.currency,
      customId: o.unit.custom_id, invoiceId: o.unit.invoice_id, createTime: nowIso(), updateTime: nowIso(),
    };
    const res = captureView({ ...c, status: type === 'PAYMENT.CAPTURE.DENIED' ? 'DECLINED'
      : type === 'PAYMENT.CAPTURE.PENDING' ? 'PENDING' : 'COMPLETED' });
    res.supplementary_data = { related_ids: { order_id: orderId } };
    return envelope(type, 'capture', res, `Payment ${type.split('.').pop().toLowerCase()} for $ ${res.amount.value} ${res.amount.currency_code}`);
  }

  function refundView(r) {
    const v = {
      id: r.id, status: r.status, amount: { currency_code: r.currency, value: r.value },
      seller_payable_breakdown: {
        gross_amount: { currency_code: r.currency, value: r.value },
        paypal_fee: { currency_code: r.currency, value: formatValue(0, r.currency) },
        net_amount: { currency_code: r.currency, value: r.value },
        total_refunded_amount: { currency_code: r.currency, value: formatValue(r.totalRefunded, r.currency) },
      },
      create_time: r.createTime, update_time: r.createTime,
      links: [
        { href: `${ctl.url}/v2/payments/refunds/${r.id}`, rel: 'self', method: 'GET' },
        { href: `${ctl.url}/v2/payments/captures/${r.captureId}`, rel: 'up', method: 'GET' },
      ],
    };
    if (r.customId !== undefined) v.custom_id = r.customId;
    if (r.invoiceId !== undefined) v.invoice_id = r.invoiceId;
    if (r.note !== undefined) v.note_to_payer = r.note;
    return v;
  }

  async function postOnce(url, raw, headers) {
    try {
      const r = await fetch(url, { method: 'POST', body: raw, headers: {
        'content-type': 'application/json', 'user-agent': 'PayPal/AUHD-214.0-58070203', ...headers } });
      return { status: r.status, body: await r.text() };
    } catch (e) {
      return { status: 0, body: String(e.message) };
    }
  }

  /**
   * Delivers an event (object or raw string) to the webhook URL. opts: times (1), parallel
   * (false), headers (override or add; a value null removes a header), sign (options for
   * sign(): time, transmissionId, webhookId, key), resign (true: a new transmission for
   * every delivery, as PayPal's retries). Resolves to [{status, body}].
   */
  async function deliver(ev, o = {}) {
    const raw = typeof ev === 'string' ? ev : JSON.stringify(ev);
    const url = o.url ?? state.webhookUrl;
    if (!url) throw new Error('no webhook URL: setWebhookUrl first');
    const times = o.times ?? 1;
    const one = () => {
      const h = { ...sign(raw, o.sign ?? {}), ...(o.headers ?? {}) };
      for (const k of Object.keys(h)) if (h[k] === null) delete h[k];
      return h;
    };
    const fixed = o.resign === false ? one() : null;
    const run = async () => {
      const r = await postOnce(url, raw, fixed ?? one());
      ctl.deliveries.push({ type: typeof ev === 'string' ? null : ev.event_type, status: r.status, body: r.body });
      ctl.counters.delivered++;
      return r;
    };
    if (o.parallel) return Promise.all(Array.from({ length: times }, run));
    const out = [];
    for (let i = 0; i < times; i++) out.push(await run());
    return out;
  }

  /** What PayPal sends by itself (approval, capture, refund), unless lost or off. */
  async function notify(ev) {
    if (!state.autoNotify || !state.webhookUrl) return null;
    if (state.lose > 0) {
      state.lose--;
      ctl.counters.lost++;
      ctl.deliveries.push({ type: ev.event_type, status: null, lost: true });
      return null;
    }
    return (await deliver(ev))[0];
  }

  // ---- the API ----
  function takeForced(endpoint) {
    const f = state.forced[endpoint];
    if (!f) return null;
    if (f.times !== Infinity && --f.times <= 0) state.forced[endpoint] = null;
    return f;
  }

  function token(req, res, raw) {
    const m = /^Basic ([A-Za-z0-9+/=]+)$/.exec(req.headers.authorization ?? '');
    const cred = m ? Buffer.from(m[1], 'base64').toString('utf8') : '';
    if (cred !== `${client.clientId}:${client.clientSecret}`) {
      return send(res, 401, { error: 'invalid_client', error_description: 'Client Authentication failed' });
    }
    if (!/^application\/x-www-form-urlencoded/.test(req.headers['content-type'] ?? '')
      || new URLSearchParams(raw).get('grant_type') !== 'client_credentials') {
      return send(res, 400, { error: 'unsupported_grant_type', error_description: 'Grant Type is NULL' });
    }
    const t = `A21AA${randomBytes(60).toString('base64url')}`;
    tokens.set(t, Date.now() + state.tokenTtl * 1000);
    ctl.issued.add(t);
    ctl.counters.tokensIssued++;
    send(res, 200, {
      scope: 'https://uri.paypal.com/services/invoicing https://uri.paypal.com/services/payments/refund https://uri.paypal.com/services/applications/webhooks https://uri.paypal.com/services/payments/payment/authcapture',
      access_token: t, token_type: 'Bearer', app_id: 'APP-80W284485P519543T', expires_in: state.tokenTtl,
      nonce: `${nowIso()}${randomBytes(16).toString('base64url')}`,
    });
  }

  /** Replays the first answer for a PayPal-Request-Id, or returns false. */
  function replay(req, res, endpoint) {
    const rid = req.headers['paypal-request-id'];
    if (!rid) return false;
    const hit = idem.get(`${endpoint}|${rid}`);
    if (!hit) return false;
    ctl.counters.replays = (ctl.counters.replays ?? 0) + 1;
    send(res, hit.status === 201 ? 200 : hit.status, hit.body);
    return true;
  }
  function remember(req, endpoint, status, body) {
    const rid = req.headers['paypal-request-id'];
    if (rid) idem.set(`${endpoint}|${rid}`, { status, body });
  }

  function createOrder(req, res, raw) {
    let b;
    try {
      b = JSON.parse(raw);
    } catch {
      return invalidRequest(res, 'MALFORMED_REQUEST_JSON', 'The request JSON is not well formed.');
    }
    if (replay(req, res, 'create')) return;
    if (b.intent !== 'CAPTURE' && b.intent !== 'AUTHORIZE') return invalidRequest(res, 'INVALID_PARAMETER_VALUE', 'intent');
    if (!Array.isArray(b.purchase_units) || b.purchase_units.length !== 1) {
      return invalidRequest(res, 'MISSING_REQUIRED_PARAMETER', 'purchase_units');
    }
    const pu = b.purchase_units[0];
    const cur = pu.amount?.currency_code;
    if (typeof cur !== 'string' || !/^[A-Z]{3}$/.test(cur)) return invalidRequest(res, 'INVALID_CURRENCY_CODE', 'currency_code');
    const amount = parseValue(pu.amount?.value, cur);
    if (amount === null) return invalidRequest(res, 'DECIMAL_PRECISION', 'value');
    for (const f of ['custom_id', 'invoice_id']) {
      if (pu[f] !== undefined && (typeof pu[f] !== 'string' || pu[f].length > 127)) {
        return invalidRequest(res, 'INVALID_STRING_MAX_LENGTH', f);
      }
    }
    if (pu.description !== undefined && [...pu.description].length > 127) return invalidRequest(res, 'INVALID_STRING_MAX_LENGTH', 'description');
    const ctx = b.payment_source?.paypal?.experience_context;
    const legacy = b.application_context;
    const returnUrl = ctx?.return_url ?? legacy?.return_url;
    const cancelUrl = ctx?.cancel_url ?? legacy?.cancel_url;
    for (const u of [returnUrl, cancelUrl]) {
      try {
        if (!/^https?:$/.test(new URL(u).protocol)) throw new Error();
      } catch {
        return invalidRequest(res, 'INVALID_PARAMETER_SYNTAX', 'return_url / cancel_url');
      }
    }
    if (pu.invoice_id !== undefined && invoices.has(pu.invoice_id)) {
      return unprocessable(res, 'DUPLICATE_INVOICE_ID', 'Duplicate Invoice ID detected.');
    }
    if (pu.invoice_id !== undefined) invoices.add(pu.invoice_id);
    const o = {
      id: ppId(), status: ctx ? 'PAYER_ACTION_REQUIRED' : 'CREATED', legacy: !ctx, unit: pu, amount, currency: cur,
      returnUrl, cancelUrl, captures: [], refunds: [], createTime: nowIso(), payerId: ppId().slice(0, 13),
      requestBody: b, requestId: req.headers['paypal-request-id'] ?? null,
    };
    orders.set(o.id, o);
    const body = { id: o.id, status: o.status, payment_source: { paypal: {} }, links: links(o) };
    remember(req, 'create', 201, body);
    send(res, 201, body);
  }

  function approve(orderId) {
    const o = orders.get(orderId);
    if (!o) throw new Error(`unknown order ${orderId}`);
    if (o.status === 'CREATED' || o.status === 'PAYER_ACTION_REQUIRED') {
      o.status = 'APPROVED';
      ctl.counters.approvals++;
      notify(event('CHECKOUT.ORDER.APPROVED', orderId));
    }
    const u = new URL(o.returnUrl);
    u.searchParams.set('token', o.id);
    u.searchParams.set('PayerID', o.payerId);
    return u.toString();
  }

  /** Captures an APPROVED order; returns the capture (its status: captureOutcome). */
  function doCapture(o) {
    const c = {
      id: ppId(), orderId: o.id, status: state.captureOutcome, amount: o.amount, currency: o.currency,
      customId: o.unit.custom_id, invoiceId: o.unit.invoice_id, createTime: nowIso(), updateTime: nowIso(), refunded: 0,
    };
    o.captures.push(c);
    captures.set(c.id, c);
    o.status = 'COMPLETED';
    const type = c.status === 'COMPLETED' ? 'PAYMENT.CAPTURE.COMPLETED' : c.status === 'PENDING' ? 'PAYMENT.CAPTURE.PENDING'
      : 'PAYMENT.CAPTURE.DENIED';
    return { c, ev: event(type, o.id) };
  }

  function captureOrder(req, res, id) {
    if (replay(req, res, 'capture')) return;
    const o = orders.get(id);
    if (!o) return notFound(res);
    if (o.status === 'COMPLETED') return unprocessable(res, 'ORDER_ALREADY_CAPTURED', 'Order already captured.');
    if (o.status !== 'APPROVED') {
      return unprocessable(res, 'ORDER_NOT_APPROVED', 'Payer has not yet approved the Order for payment.');
    }
    const { ev } = doCapture(o);
    const body = orderView(o);
    remember(req, 'capture', 201, body);
    send(res, 201, body);
    notify(ev);
  }

  function refundCapture(req, res, id, raw) {
    let b = {};
    if (raw.trim() !== '') {
      try {
        b = JSON.parse(raw);
      } catch {
        return invalidRequest(res, 'MALFORMED_REQUEST_JSON', 'The request JSON is not well formed.');
      }
    }
    if (replay(req, res, 'refund')) return;
    const c = captures.get(id);
    if (!c) return notFound(res);
    if (c.status === 'REFUNDED') return unprocessable(res, 'CAPTURE_FULLY_REFUNDED', 'The capture has already been fully refunded');
    if (c.status !== 'COMPLETED' && c.status !== 'PARTIALLY_REFUNDED') {
      return unprocessable(res, 'CANNOT_BE_REFUNDED', 'The capture cannot be refunded.');
    }
    let amount = c.amount - c.refunded;
    if (b.amount !== undefined) {
      if (b.amount.currency_code !== c.currency) return unprocessable(res, 'CURRENCY_MISMATCH', 'Currency of capture must be the same as currency of refund.');
      amount = parseValue(b.amount.value, c.currency);
      if (amount === null || amount <= 0) return invalidRequest(res, 'INVALID_PARAMETER_VALUE', 'amount');
    }
    if (c.refunded + amount > c.amount) {
      return unprocessable(res, 'REFUND_AMOUNT_EXCEEDED', 'The refund amount must be less than or equal to the capture amount that has not yet been refunded.');
    }
    if (b.note_to_payer !== undefined && [...String(b.note_to_payer)].length > 255) return invalidRequest(res, 'INVALID_STRING_MAX_LENGTH', 'note_to_payer');
    c.refunded += amount;
    c.status = c.refunded === c.amount ? 'REFUNDED' : 'PARTIALLY_REFUNDED';
    c.updateTime = nowIso();
    const r = {
      id: ppId(), status: state.refundOutcome ?? 'COMPLETED', captureId: c.id, currency: c.currency,
      value: formatValue(amount, c.currency), amount, totalRefunded: c.refunded, createTime: nowIso(),
      customId: b.custom_id, invoiceId: b.invoice_id, note: b.note_to_payer, requestId: req.headers['paypal-request-id'] ?? null,
    };
    const o = orders.get(c.orderId);
    o.refunds.push(r);
    const body = { id: r.id, status: r.status, links: refundView(r).links };
    remember(req, 'refund', 201, body);
    send(res, 201, body);
    if (r.status === 'COMPLETED') notify(event('PAYMENT.CAPTURE.REFUNDED', o.id, { refund: r }));
  }

  function verify(req, res, raw) {
    let b;
    try {
      b = JSON.parse(raw);
    } catch {
      return invalidRequest(res, 'MALFORMED_REQUEST_JSON', 'The request JSON is not well formed.');
    }
    const need = ['auth_algo', 'cert_url', 'transmission_id', 'transmission_sig', 'transmission_time', 'webhook_id'];
    for (const f of need) {
      if (typeof b[f] !== 'string' || b[f] === '') return invalidRequest(res, 'MISSING_REQUIRED_PARAMETER', f);
    }
    if (typeof b.webhook_event !== 'object' || b.webhook_event === null) {
      return invalidRequest(res, 'MISSING_REQUIRED_PARAMETER', 'webhook_event');
    }
    ctl.lastVerify = b;
    let ok = false;
    // The event as it appears in the request: PayPal's CRC32 is over the bytes it sent.
    const rawEvent = rawMember(raw, 'webhook_event');
    if (b.webhook_id === client.webhookId && b.cert_url === certUrl && b.auth_algo === 'SHA256withRSA' && rawEvent !== null) {
      const crc = crc32(Buffer.from(rawEvent, 'utf8')) >>> 0;
      const msg = `${b.transmission_id}|${b.transmission_time}|${b.webhook_id}|${crc}`;
      try {
        const key = new X509Certificate(certPem).publicKey;
        ok = createVerify('sha256').update(msg).verify(key, Buffer.from(b.transmission_sig, 'base64'));
      } catch {
        ok = false;
      }
    }
    ctl.counters[ok ? 'verifySuccess' : 'verifyFailure']++;
    send(res, 200, { verification_status: ok ? 'SUCCESS' : 'FAILURE' });
  }

  async function route(req, res) {
    const url = new URL(req.url, 'http://fake');
    const p = url.pathname;
    if (p.startsWith('/__control/')) return control(req, res, p.slice(11));
    const raw = await readBody(req);
    ctl.requests.push({ method: req.method, path: p, headers: { ...req.headers }, body: raw });
    let endpoint = null;
    let fn = null;
    let m;
    if (req.method === 'POST' && p === '/v1/oauth2/token') {
      endpoint = 'token';
      fn = () => token(req, res, raw);
    } else if (req.method === 'POST' && p === '/v2/checkout/orders') {
      endpoint = 'create';
      fn = () => bearerOk(req, res) && createOrder(req, res, raw);
    } else if (req.method === 'GET' && (m = /^\/v2\/checkout\/orders\/([A-Za-z0-9]+)$/.exec(p))) {
      endpoint = 'get';
      fn = () => {
        if (!bearerOk(req, res)) return;
        const o = orders.get(m[1]);
        if (!o) return notFound(res);
        send(res, 200, orderView(o));
      };
    } else if (req.method === 'POST' && (m = /^\/v2\/checkout\/orders\/([A-Za-z0-9]+)\/capture$/.exec(p))) {
      endpoint = 'capture';
      fn = () => bearerOk(req, res) && captureOrder(req, res, m[1]);
    } else if (req.method === 'POST' && (m = /^\/v2\/payments\/captures\/([A-Za-z0-9]+)\/refund$/.exec(p))) {
      endpoint = 'refund';
      fn = () => bearerOk(req, res) && refundCapture(req, res, m[1], raw);
    } else if (req.method === 'POST' && p === '/v1/notifications/verify-webhook-signature') {
      endpoint = 'verify';
      fn = () => bearerOk(req, res) && verify(req, res, raw);
    } else if (req.method === 'GET' && p === `/v1/notifications/certs/${certId}`) {
      res.writeHead(200, { 'Content-Type': 'application/x-pem-file' });
      return res.end(certPem);
    } else if (req.method === 'GET' && p === '/checkoutnow') {
      const id = url.searchParams.get('token');
      if (!orders.has(id)) return send(res, 404, '<html><body>Things don\'t appear to be working at the moment.</body></html>');
      const loc = approve(id);
      res.writeHead(302, { Location: loc, 'Content-Length': 0 });
      return res.end();
    } else {
      return notFound(res);
    }
    ctl.counters[endpoint]++;
    const forced = takeForced(endpoint);
    const run = () => {
      if (forced) {
        if (forced.status === 401) return send(res, 401, { error: 'invalid_token', error_description: 'forced' });
        return restError(res, forced.status, forced.status >= 500 ? 'INTERNAL_SERVER_ERROR' : 'UNPROCESSABLE_ENTITY',
          'forced answer', forced.issue ?? (forced.status >= 500 ? 'INTERNAL_SERVICE_ERROR' : 'FORCED'));
      }
      return fn();
    };
    const delay = state.delay[endpoint];
    if (!delay) return run();
    const t = setTimeout(() => {
      timers.delete(t);
      if (!res.destroyed && !req.socket.destroyed) run();
    }, delay);
    timers.add(t);
  }

  // ---- controls over HTTP (the same convention as the other fakes) ----
  const CONTROLS = ['setWebhookUrl', 'approve', 'pay', 'capture', 'deliver', 'deliverEvent', 'loseNext', 'forceHttp',
    'clearForced', 'setDelay', 'revokeTokens', 'setCaptureOutcome', 'setRefundOutcome', 'setAutoNotify', 'setTokenTtl',
    'event', 'sign', 'order', 'reset', 'deliveriesList'];
  async function control(req, res, method) {
    const json = (status, obj) => send(res, status, obj);
    if (method === 'counters' && req.method === 'GET') return json(200, { result: ctl.counters });
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

  const ctl = {
    clientId: client.clientId,
    clientSecret: client.clientSecret,
    webhookId: client.webhookId,
    certUrl,
    certPem,
    publicKey,
    orders,
    counters: freshCounters(),
    deliveries: [],
    requests: [],
    lastVerify: null,
    /** Every access token handed out: what must never appear in the logs under test. */
    issued: new Set(),
    setWebhookUrl(u) { state.webhookUrl = u; },
    /** The buyer approves at PayPal (as visiting the payer-action link does); returns the
     * URL PayPal sends the browser back to. Delivers CHECKOUT.ORDER.APPROVED. */
    approve,
    /** PayPal captures an APPROVED order by itself (as another client of the merchant's
     * account would); delivers PAYMENT.CAPTURE.*. Returns the capture id. */
    async capture(orderId) {
      const o = orders.get(orderId);
      if (!o) throw new Error(`unknown order ${orderId}`);
      if (o.status !== 'APPROVED') throw new Error(`order ${orderId} is ${o.status}`);
      const { c, ev } = doCapture(o);
      await notify(ev);
      return c.id;
    },
    /** The order is approved and captured at PayPal, and PAYMENT.CAPTURE.COMPLETED is
     * delivered (unless lost). Returns the capture id. */
    async pay(orderId) {
      approve(orderId);
      return ctl.capture(orderId);
    },
    deliver,
    /** Over HTTP: builds the event and delivers it (type, orderId, deliver options). */
    async deliverEvent(type, orderId, o = {}) {
      return deliver(event(type, orderId), o);
    },
    /** The next n notifications PayPal would send are lost. */
    loseNext(n = 1) { state.lose = n; },
    /** The next `times` (default every) answers of endpoint are this HTTP status with
     * PayPal's error shape (issue: details[0].issue). */
    forceHttp(status, endpoint = 'create', { times = Infinity, issue } = {}) {
      if (!ENDPOINTS.includes(endpoint)) throw new Error(`unknown endpoint ${endpoint}`);
      state.forced[endpoint] = { status, times, issue };
    },
    clearForced() { state.forced = Object.fromEntries(ENDPOINTS.map((e) => [e, null])); },
    setDelay(ms, endpoint = 'all') {
      for (const e of endpoint === 'all' ? ENDPOINTS : [endpoint]) {
        if (!ENDPOINTS.includes(e)) throw new Error(`unknown endpoint ${e}`);
        state.delay[e] = ms;
      }
    },
    revokeTokens() { tokens.clear(); },
    setCaptureOutcome(s) { state.captureOutcome = s; },
    setRefundOutcome(s) { state.refundOutcome = s; },
    setAutoNotify(on) { state.autoNotify = !!on; },
    setTokenTtl(s) { state.tokenTtl = s; },
    event,
    sign,
    /** The order as GET /v2/checkout/orders/{id} shows it, plus what was asked. */
    order(id) {
      const o = orders.get(id);
      return o ? { ...orderView(o), request: o.requestBody, requestId: o.requestId,
        refunds: o.refunds.map((r) => ({ ...refundView(r), requestId: r.requestId })) } : null;
    },
    deliveriesList() { return ctl.deliveries; },
    reset() {
      reset();
    },
    url: '',
    port: 0,
    async close() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      server.closeAllConnections();
      await new Promise((r) => server.close(() => r()));
    },
  };
  reset();

  const server = http.createServer((req, res) => {
    Promise.resolve(route(req, res)).catch((e) => {
      if (!res.headersSent) send(res, 500, { name: 'INTERNAL_SERVER_ERROR', message: String(e) });
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
  const pp = await startFakePaypal({ port: Number(opt('--port') ?? 0), webhookUrl: opt('--webhook-url') });
  return { fake: pp, line: { url: pp.url, port: pp.port, clientId: pp.clientId, clientSecret: pp.clientSecret,
    webhookId: pp.webhookId, certUrl: pp.certUrl } };
});
