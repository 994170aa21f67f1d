// Helpers for the payment tests: orders, the sandbox provider's signed notifications, and
// checks that a user's credits and ledger say what a payment should have done.
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import http from 'node:http';
import jsQR from 'jsqr';

/** POST /api/v1/orders; opts: provider, channel, return_url, openid, key (Idempotency-Key), headers, extra. */
export function createOrder(srv, token, product, opts = {}) {
  const json = { product, ...(opts.extra ?? {}) };
  for (const k of ['provider', 'channel', 'return_url', 'openid']) if (opts[k] !== undefined) json[k] = opts[k];
  const headers = { ...(opts.headers ?? {}) };
  if (opts.key) headers['idempotency-key'] = opts.key;
  return srv.post('/api/v1/orders', json, { token, headers, expect503: opts.expect503 });
}

/** The sandbox provider's signature header for body at unix time t (providers/pay/sandbox.h). */
export function sandboxSignature(secret, body, t = Math.floor(Date.now() / 1000)) {
  const key = createHmac('sha256', secret).update('tollgate sandbox payments v1').digest();
  const mac = createHmac('sha256', key).update(`${t}.${body}`).digest('hex');
  return `t=${t},v1=${mac}`;
}

/** A sandbox notification body (compact JSON, as the server writes it). */
export function sandboxEvent(order, fields = {}) {
  return JSON.stringify({
    amount: order.amount.amount,
    created: Math.floor(Date.now() / 1000),
    currency: order.amount.currency,
    id: `sbx_evt_test_${randomBytes(8).toString('hex')}`,
    order_id: order.id,
    type: 'payment.succeeded',
    ...fields,
  });
}

/** POSTs a raw notification to /api/v1/webhooks/{provider}. */
export function deliver(srv, provider, body, headers = {}, opts = {}) {
  return srv.req('POST', `/api/v1/webhooks/${provider}`, {
    body,
    headers: { 'content-type': 'application/json', ...headers },
    expect503: opts.expect503,
  });
}

/** The user's paid credits. */
export async function paidCredits(srv, token) {
  const r = await srv.get('/api/v1/credits', { token });
  assert.equal(r.status, 200, r.text);
  return r.body.paid_credits;
}

/** The user's ledger entries of one kind for one reference. */
export async function ledgerEntries(srv, token, kind, refId) {
  const r = await srv.get('/api/v1/credits/ledger?limit=100', { token });
  assert.equal(r.status, 200, r.text);
  return r.body.data.filter((e) => e.kind === kind && (refId === undefined || e.ref_id === refId));
}

/** Buys a plan with the sandbox provider (its checkout page's Pay button); returns the order. */
export async function subscribeSandbox(srv, token, product = 'pro_monthly') {
  const o = await createOrder(srv, token, product, { provider: 'sandbox' });
  assert.equal(o.status, 201, o.text);
  const pay = await srv.req('POST', `/sandbox/checkout/${o.body.id}/pay`);
  assert.equal(pay.status, 303, pay.text);
  return o.body;
}

/**
 * Runs `tollgate audit` against the server's data and asserts it is clean: exit 0, and every
 * audit's line reports 0 violations. opts.now (ms): audit as of the server's time (a test that
 * moved the server's clock passes GET /api/v1/admin/clock's now_ms).
 */
export function assertAuditClean(srv, opts = {}) {
  const args = opts.now === undefined ? ['audit'] : ['audit', '--now', String(opts.now)];
  const r = srv.cli(args);
  assert.equal(r.code, 0, `tollgate ${args.join(' ')}: ${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /order audit: 0 violations/);
  assert.match(r.stdout, /^task audit: 0 violations$/m);
  for (const line of r.stdout.split('\n').filter((l) => /violations?\b/.test(l)))
    assert.match(line, /\b0 violations\b/, `tollgate ${args.join(' ')}: ${line}`);
}

/** Polls fn until it returns a truthy value (or throws after ms). */
export async function eventually(fn, ms = 10000, what = 'condition') {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * POSTs body with headers whose array values go out as separate header lines (fetch would
 * join them into one); resolves to the status. For attacks with a repeated signature header.
 */
export function postWithHeaderLines(url, body, headers) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', agent: false,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * Reads the QR code Tollgate drew as SVG (api/qr.c: a white square of viewBox size and one
 * path of "M<x> <y>h<n>v1h-<n>z" runs of dark modules), rasterizes it at 4 px a module and
 * decodes it with jsQR, a decoder we did not write. Returns the text, or null.
 */
export function decodeQrSvg(svg) {
  const vb = /viewBox="0 0 (\d+) (\d+)"/.exec(svg);
  const d = /<path[^>]* d="([^"]*)"/.exec(svg);
  if (!vb || !d || vb[1] !== vb[2]) return null;
  const size = Number(vb[1]);
  const px = 4;
  const w = size * px;
  const rgba = new Uint8ClampedArray(w * w * 4).fill(255);
  const runs = /M(\d+) (\d+)h(\d+)v1h-(\d+)z/g;
  let m;
  let seen = 0;
  while ((m = runs.exec(d[1])) !== null) {
    const [x, y, n] = [Number(m[1]), Number(m[2]), Number(m[3])];
    seen += m[0].length;
    for (let yy = y * px; yy < (y + 1) * px; yy++) {
      for (let xx = x * px; xx < (x + n) * px; xx++) {
        const i = (yy * w + xx) * 4;
        rgba[i] = rgba[i + 1] = rgba[i + 2] = 0;
      }
    }
  }
  if (seen !== d[1].length) return null; // something in the path this reader does not know
  const code = jsQR(rgba, w, w);
  return code ? code.data : null;
}
