// The fake PayPal (tests/fakes/paypal.mjs) itself, against PROVIDERS.md section 4 and an
// independent check of its notification signatures: PayPal's "verify it yourself" recipe
// (CRC32 of the raw body, "<id>|<time>|<webhook id>|<crc>", RSA-SHA256 with the certificate
// from PAYPAL-CERT-URL) written here with node:crypto, since PayPal publishes no npm SDK
// that verifies webhooks. Starts no tollgate, so it has no invariants test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { spawn } from 'node:child_process';
import { createVerify, X509Certificate } from 'node:crypto';
import { crc32 } from 'node:zlib';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startFakePaypal, rawMember } from '../fakes/paypal.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));

/** A webhook receiver that keeps every request (raw body and headers). */
async function receiver(status = 200) {
  const got = [];
  const srv = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      got.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(status, { 'content-length': 0 });
      res.end();
    });
  });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${srv.address().port}/api/v1/webhooks/paypal`, got, close: () => new Promise((r) => srv.close(r)) };
}

async function waitFor(pred, ms = 5000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (pred()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return false;
}

function setup(pp) {
  let token = null;
  const call = async (method, p, body, headers = {}) => {
    const r = await fetch(pp.url + p, { method, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers }, redirect: 'manual' });
    const text = await r.text();
    return { status: r.status, headers: r.headers, text, json: text ? JSON.parse(text) : null };
  };
  const auth = async () => {
    const r = await fetch(pp.url + '/v1/oauth2/token', { method: 'POST', body: 'grant_type=client_credentials', headers: {
      authorization: 'Basic ' + Buffer.from(`${pp.clientId}:${pp.clientSecret}`).toString('base64'),
      'content-type': 'application/x-www-form-urlencoded' } });
    token = (await r.json()).access_token;
  };
  return { call, auth, setToken: (t) => { token = t; } };
}

const orderBody = (id, value = '9.90', currency = 'USD', legacy = false) => ({
  intent: 'CAPTURE',
  purchase_units: [{ reference_id: id, custom_id: id, invoice_id: id, amount: { currency_code: currency, value } }],
  ...(legacy ? { application_context: { return_url: 'https://shop.example/return', cancel_url: 'https://shop.example/cancel' } }
    : { payment_source: { paypal: { experience_context: { return_url: 'https://shop.example/return', cancel_url: 'https://shop.example/cancel' } } } }),
});

/** PayPal's documented local verification, independent of the fake's code. */
async function verifyLocally(pp, headers, raw) {
  const certUrl = new URL(headers['paypal-cert-url']);
  assert.match(certUrl.hostname, /(^|\.)paypal\.com$/);
  const pem = await (await fetch(pp.url + certUrl.pathname)).text();
  const crc = crc32(Buffer.from(raw, 'utf8')) >>> 0;
  const msg = `${headers['paypal-transmission-id']}|${headers['paypal-transmission-time']}|${pp.webhookId}|${crc}`;
  return createVerify('RSA-SHA256').update(msg).verify(new X509Certificate(pem).publicKey, Buffer.from(headers['paypal-transmission-sig'], 'base64'));
}

test('CRC32 as PayPal signs it (PROVIDERS.md section 11, vector 12)', () => {
  assert.equal(crc32(Buffer.from('{"id":"WH-1","event_type":"PAYMENT.CAPTURE.COMPLETED"}')) >>> 0, 2325436976);
});

test('OAuth2 client credentials: Basic auth checked, the documented token shape', async () => {
  const pp = await startFakePaypal();
  try {
    const bad = await fetch(pp.url + '/v1/oauth2/token', { method: 'POST', body: 'grant_type=client_credentials', headers: {
      authorization: 'Basic ' + Buffer.from(`${pp.clientId}:wrong`).toString('base64'), 'content-type': 'application/x-www-form-urlencoded' } });
    assert.equal(bad.status, 401);
    assert.deepEqual(await bad.json(), { error: 'invalid_client', error_description: 'Client Authentication failed' });
    const noGrant = await fetch(pp.url + '/v1/oauth2/token', { method: 'POST', body: '', headers: {
      authorization: 'Basic ' + Buffer.from(`${pp.clientId}:${pp.clientSecret}`).toString('base64'), 'content-type': 'application/x-www-form-urlencoded' } });
    assert.equal(noGrant.status, 400);
    const ok = await fetch(pp.url + '/v1/oauth2/token', { method: 'POST', body: 'grant_type=client_credentials', headers: {
      authorization: 'Basic ' + Buffer.from(`${pp.clientId}:${pp.clientSecret}`).toString('base64'), 'content-type': 'application/x-www-form-urlencoded' } });
    const t = await ok.json();
    assert.deepEqual(Object.keys(t).sort(), ['access_token', 'app_id', 'expires_in', 'nonce', 'scope', 'token_type']);
    assert.equal(t.token_type, 'Bearer');
    assert.equal(t.expires_in, 32400);
    const { call, setToken } = setup(pp);
    assert.equal((await call('GET', '/v2/checkout/orders/NOPE')).status, 401, 'no token: 401');
    setToken(t.access_token);
    assert.equal((await call('GET', '/v2/checkout/orders/NOPE')).status, 404);
    pp.revokeTokens();
    assert.equal((await call('GET', '/v2/checkout/orders/NOPE')).status, 401, 'a revoked token: 401');
  } finally {
    await pp.close();
  }
});

test('orders: create, idempotent PayPal-Request-Id, approval, capture once, and PayPal errors', async () => {
  const rx = await receiver();
  const pp = await startFakePaypal({ webhookUrl: rx.url });
  try {
    const { call, auth } = setup(pp);
    await auth();
    const c = await call('POST', '/v2/checkout/orders', orderBody('ord_A'), { 'paypal-request-id': 'ord_A' });
    assert.equal(c.status, 201);
    assert.equal(c.json.status, 'PAYER_ACTION_REQUIRED');
    assert.deepEqual(c.json.links.map((l) => l.rel), ['self', 'payer-action']);
    assert.match(c.json.id, /^[A-Z0-9]{17}$/);
    const again = await call('POST', '/v2/checkout/orders', orderBody('ord_A'), { 'paypal-request-id': 'ord_A' });
    assert.equal(again.status, 200);
    assert.equal(again.json.id, c.json.id, 'the same PayPal-Request-Id: the same order');
    const dup = await call('POST', '/v2/checkout/orders', orderBody('ord_A'), { 'paypal-request-id': 'other' });
    assert.equal(dup.status, 422);
    assert.equal(dup.json.details[0].issue, 'DUPLICATE_INVOICE_ID');
    const legacy = await call('POST', '/v2/checkout/orders', orderBody('ord_L', '9.90', 'USD', true));
    assert.equal(legacy.json.status, 'CREATED');
    assert.deepEqual(legacy.json.links.map((l) => l.rel), ['self', 'approve', 'update', 'capture']);
    assert.equal((await call('POST', '/v2/checkout/orders', orderBody('ord_B', '9.901'))).json.details[0].issue, 'DECIMAL_PRECISION');
    assert.equal((await call('POST', '/v2/checkout/orders', orderBody('ord_C', '500.00', 'JPY'))).status, 400, 'JPY has no decimals');
    assert.equal((await call('POST', '/v2/checkout/orders', orderBody('ord_D', '500', 'JPY'))).status, 201);

    const id = c.json.id;
    const early = await call('POST', `/v2/checkout/orders/${id}/capture`, '{}');
    assert.equal(early.status, 422);
    assert.deepEqual(Object.keys(early.json), ['name', 'message', 'debug_id', 'details', 'links']);
    assert.equal(early.json.details[0].issue, 'ORDER_NOT_APPROVED');

    const page = await fetch(c.json.links[1].href, { redirect: 'manual' });
    assert.equal(page.status, 302);
    const back = new URL(page.headers.get('location'));
    assert.equal(back.origin + back.pathname, 'https://shop.example/return');
    assert.equal(back.searchParams.get('token'), id);
    assert.match(back.searchParams.get('PayerID'), /^[A-Z0-9]{13}$/);
    assert.equal((await call('GET', `/v2/checkout/orders/${id}`)).json.status, 'APPROVED');

    const cap = await call('POST', `/v2/checkout/orders/${id}/capture`, '{}', { 'paypal-request-id': 'cap-ord_A' });
    assert.equal(cap.status, 201);
    assert.equal(cap.json.status, 'COMPLETED');
    const capture = cap.json.purchase_units[0].payments.captures[0];
    assert.equal(capture.status, 'COMPLETED');
    assert.deepEqual(capture.amount, { currency_code: 'USD', value: '9.90' });
    assert.equal(capture.custom_id, 'ord_A');
    assert.equal(capture.final_capture, true);
    assert.ok(capture.seller_receivable_breakdown.gross_amount);
    const replay = await call('POST', `/v2/checkout/orders/${id}/capture`, '{}', { 'paypal-request-id': 'cap-ord_A' });
    assert.equal(replay.status, 200);
    assert.equal(replay.json.purchase_units[0].payments.captures[0].id, capture.id, 'replayed, not captured again');
    const twice = await call('POST', `/v2/checkout/orders/${id}/capture`, '{}', { 'paypal-request-id': 'another' });
    assert.equal(twice.json.details[0].issue, 'ORDER_ALREADY_CAPTURED');

    // What PayPal sent: CHECKOUT.ORDER.APPROVED, then PAYMENT.CAPTURE.COMPLETED.
    assert.ok(await waitFor(() => rx.got.length >= 2));
    const types = rx.got.map((g) => JSON.parse(g.body).event_type);
    assert.deepEqual(types, ['CHECKOUT.ORDER.APPROVED', 'PAYMENT.CAPTURE.COMPLETED']);
    const done = rx.got[1];
    for (const h of ['paypal-transmission-id', 'paypal-transmission-time', 'paypal-transmission-sig', 'paypal-cert-url', 'paypal-auth-algo']) {
      assert.ok(done.headers[h], `${h} present`);
    }
    assert.equal(done.headers['paypal-auth-algo'], 'SHA256withRSA');
    assert.match(done.headers['paypal-transmission-time'], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.ok(await verifyLocally(pp, done.headers, done.body), 'the signature verifies by PayPal\'s recipe');
    assert.equal(await verifyLocally(pp, done.headers, done.body.replace('9.90', '0.99')), false, 'and not over another body');
    const ev = JSON.parse(done.body);
    assert.equal(ev.resource.custom_id, 'ord_A');
    assert.equal(ev.resource.supplementary_data.related_ids.order_id, id);
    assert.deepEqual(ev.resource.amount, { currency_code: 'USD', value: '9.90' });
    assert.match(ev.id, /^WH-/);
  } finally {
    await pp.close();
    await rx.close();
  }
});

test('verify-webhook-signature: SUCCESS only for the raw event as signed', async () => {
  const pp = await startFakePaypal();
  try {
    const { call, auth } = setup(pp);
    await auth();
    await call('POST', '/v2/checkout/orders', orderBody('ord_V'));
    const id = [...pp.orders.keys()][0];
    const raw = JSON.stringify(pp.event('PAYMENT.CAPTURE.COMPLETED', id), null, 2);
    const h = pp.sign(raw);
    const body = (event, over = {}) => '{"auth_algo":"SHA256withRSA","cert_url":' + JSON.stringify(h['paypal-cert-url']) +
      ',"transmission_id":' + JSON.stringify(h['paypal-transmission-id']) + ',"transmission_sig":' + JSON.stringify(h['paypal-transmission-sig']) +
      ',"transmission_time":' + JSON.stringify(over.time ?? h['paypal-transmission-time']) + ',"webhook_id":' + JSON.stringify(over.webhookId ?? pp.webhookId) +
      ',"webhook_event":' + event + '}';
    assert.equal(rawMember(body(raw), 'webhook_event'), raw);
    const v = async (b) => (await call('POST', '/v1/notifications/verify-webhook-signature', b)).json.verification_status;
    assert.equal(await v(body(raw)), 'SUCCESS');
    assert.equal(await v(body(JSON.stringify(JSON.parse(raw)))), 'FAILURE', 're-serialised: FAILURE, as at PayPal');
    assert.equal(await v(body(raw, { webhookId: 'OTHER' })), 'FAILURE');
    assert.equal(await v(body(raw, { time: '2016-02-18T20:01:35Z' })), 'FAILURE');
    assert.equal(await v(body(raw.replace('9.90', '9.91'))), 'FAILURE');
    const missing = await call('POST', '/v1/notifications/verify-webhook-signature', '{"webhook_id":"x"}');
    assert.equal(missing.status, 400);
    assert.equal(pp.counters.verifySuccess, 1);
  } finally {
    await pp.close();
  }
});

test('refunds: partial, over the rest, the rest, fully refunded; PAYMENT.CAPTURE.REFUNDED; lost notifications', async () => {
  const rx = await receiver();
  const pp = await startFakePaypal({ webhookUrl: rx.url });
  try {
    const { call, auth } = setup(pp);
    await auth();
    const c = await call('POST', '/v2/checkout/orders', orderBody('ord_R'));
    pp.loseNext(2); // the approval and the capture notifications are lost
    const capId = await pp.pay(c.json.id);
    assert.equal(pp.counters.lost, 2);
    assert.deepEqual(pp.deliveries.map((d) => d.lost), [true, true]);
    const r1 = await call('POST', `/v2/payments/captures/${capId}/refund`, { amount: { value: '4.00', currency_code: 'USD' }, custom_id: 'rfd_1', invoice_id: 'ord_R' }, { 'paypal-request-id': 'rfd_1' });
    assert.equal(r1.status, 201);
    assert.equal(r1.json.status, 'COMPLETED');
    assert.equal((await call('POST', `/v2/payments/captures/${capId}/refund`, { amount: { value: '4.00', currency_code: 'USD' } }, { 'paypal-request-id': 'rfd_1' })).json.id, r1.json.id);
    const over = await call('POST', `/v2/payments/captures/${capId}/refund`, { amount: { value: '6.00', currency_code: 'USD' } });
    assert.equal(over.json.details[0].issue, 'REFUND_AMOUNT_EXCEEDED');
    assert.equal((await call('POST', `/v2/payments/captures/${capId}/refund`, { amount: { value: '1.00', currency_code: 'EUR' } })).json.details[0].issue, 'CURRENCY_MISMATCH');
    assert.equal((await call('POST', `/v2/payments/captures/${capId}/refund`, {})).status, 201, 'no amount: the rest');
    assert.equal((await call('POST', `/v2/payments/captures/${capId}/refund`, {})).json.details[0].issue, 'CAPTURE_FULLY_REFUNDED');
    const o = await call('GET', `/v2/checkout/orders/${c.json.id}`);
    assert.equal(o.json.purchase_units[0].payments.captures[0].status, 'REFUNDED');
    assert.ok(await waitFor(() => rx.got.length === 2));
    const ev = JSON.parse(rx.got[0].body);
    assert.equal(ev.event_type, 'PAYMENT.CAPTURE.REFUNDED');
    assert.equal(ev.resource.custom_id, 'rfd_1');
    assert.equal(ev.resource.invoice_id, 'ord_R');
    assert.deepEqual(ev.resource.amount, { currency_code: 'USD', value: '4.00' });
  } finally {
    await pp.close();
    await rx.close();
  }
});

test('deliver: times, parallel, header overrides; forced answers and delays', async () => {
  const rx = await receiver();
  const pp = await startFakePaypal({ webhookUrl: rx.url });
  try {
    const { call, auth } = setup(pp);
    await auth();
    const c = await call('POST', '/v2/checkout/orders', orderBody('ord_X'));
    const ev = pp.event('PAYMENT.CAPTURE.COMPLETED', c.json.id);
    const rs = await pp.deliver(ev, { times: 5, parallel: true });
    assert.deepEqual(rs.map((r) => r.status), [200, 200, 200, 200, 200]);
    assert.equal(new Set(rx.got.map((g) => g.headers['paypal-transmission-id'])).size, 5, 'each delivery a new transmission');
    assert.equal(new Set(rx.got.map((g) => JSON.parse(g.body).id)).size, 1, 'one event id');
    await pp.deliver(ev, { headers: { 'paypal-transmission-sig': null } });
    assert.equal(rx.got.at(-1).headers['paypal-transmission-sig'], undefined);
    pp.forceHttp(503, 'create', { times: 1 });
    assert.equal((await call('POST', '/v2/checkout/orders', orderBody('ord_Y'))).status, 503);
    assert.equal((await call('POST', '/v2/checkout/orders', orderBody('ord_Y'))).status, 201);
    pp.setDelay(300, 'get');
    const t0 = Date.now();
    await call('GET', `/v2/checkout/orders/${c.json.id}`);
    assert.ok(Date.now() - t0 >= 290);
  } finally {
    await pp.close();
    await rx.close();
  }
});

test('as a child process: one line of JSON, then the control API', async () => {
  const child = spawn(process.execPath, [path.join(here, '../fakes/paypal.mjs')], { stdio: ['pipe', 'pipe', 'inherit'] });
  try {
    const line = await new Promise((resolve) => {
      let buf = '';
      child.stdout.on('data', (d) => {
        buf += d;
        if (buf.includes('\n')) resolve(buf.split('\n')[0]);
      });
    });
    const info = JSON.parse(line);
    assert.deepEqual(Object.keys(info).sort(), ['certUrl', 'clientId', 'clientSecret', 'port', 'url', 'webhookId']);
    const ctl = async (m, args) => (await (await fetch(`${info.url}/__control/${m}`, { method: 'POST', body: JSON.stringify(args) })).json());
    const tok = await (await fetch(info.url + '/v1/oauth2/token', { method: 'POST', body: 'grant_type=client_credentials', headers: {
      authorization: 'Basic ' + Buffer.from(`${info.clientId}:${info.clientSecret}`).toString('base64'), 'content-type': 'application/x-www-form-urlencoded' } })).json();
    const c = await (await fetch(info.url + '/v2/checkout/orders', { method: 'POST', body: JSON.stringify(orderBody('ord_P')),
      headers: { authorization: `Bearer ${tok.access_token}`, 'content-type': 'application/json' } })).json();
    const back = await ctl('approve', [c.id]);
    assert.match(back.result, /token=/);
    assert.equal((await ctl('order', [c.id])).result.status, 'APPROVED');
    assert.equal((await ctl('nope', [])).error, 'unknown control');
    const counters = await (await fetch(`${info.url}/__control/counters`)).json();
    assert.equal(counters.result.create, 1);
  } finally {
    child.kill('SIGTERM');
  }
});
