// The fake WeChat Pay (tests/fakes/wechatpay.mjs) checked against wechatpay-axios-plugin's own
// client: the plugin signs every request (the fake must accept it) and verifies every answer
// with the platform key (it throws on a bad signature), so the payment tests can trust the
// fake to speak WeChat Pay APIv3.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { startFakeWechatpay, Rsa, Aes, Formatter } from '../fakes/wechatpay.mjs';

const require = createRequire(import.meta.url);
const { Wechatpay } = require('wechatpay-axios-plugin');

let wp;      // public key mode
let wpc;     // certificate mode
let sink;    // a notify_url that records what it receives
const received = [];
let notifyUrl;

function client(fake, certs) {
  return new Wechatpay({
    mchid: fake.mchid,
    serial: fake.merchantSerial,
    privateKey: readFileSync(fake.env.TG_WECHATPAY_PRIVATE_KEY_FILE),
    certs,
    baseURL: `${fake.url}/`,
  });
}
const sdkPub = () => client(wp, { [wp.pubKeyId]: readFileSync(wp.env.TG_WECHATPAY_PLATFORM_PUBLIC_KEY_FILE) });

const order = (id, extra = {}) => ({
  appid: wp.appid, mchid: wp.mchid, description: '115 credits', out_trade_no: id, notify_url: notifyUrl,
  amount: { total: 6800, currency: 'CNY' }, ...extra,
});

before(async () => {
  wp = await startFakeWechatpay();
  wpc = await startFakeWechatpay({ mode: 'cert' });
  sink = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end('{"code":"SUCCESS","message":"成功"}');
    });
  });
  await new Promise((r) => sink.listen(0, '127.0.0.1', r));
  notifyUrl = `http://127.0.0.1:${sink.address().port}/api/v1/webhooks/wechatpay`;
});

after(async () => {
  await wp.close();
  await wpc.close();
  await new Promise((r) => sink.close(r));
});

test('the plugin creates Native, JSAPI and H5 orders; answers verify with the platform key', async () => {
  const sdk = sdkPub();
  const native = await sdk.v3.pay.transactions.native.post(order('ord_fake_native_0001'));
  assert.equal(native.status, 200);
  assert.match(native.data.code_url, /^weixin:\/\/wxpay\/bizpayurl\?pr=/);
  const jsapi = await sdk.v3.pay.transactions.jsapi.post(order('ord_fake_jsapi_0001', { payer: { openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o' } }));
  assert.match(jsapi.data.prepay_id, /^wx/);
  const h5 = await sdk.v3.pay.transactions.h5.post(order('ord_fake_h5_0001', { scene_info: { payer_client_ip: '14.23.150.211', h5_info: { type: 'Wap' } } }));
  assert.match(h5.data.h5_url, /^https:\/\/wx\.tenpay\.com\/.*prepay_id=/);
  // The same order again: the same answer (out_trade_no makes creation idempotent).
  const again = await sdk.v3.pay.transactions.native.post(order('ord_fake_native_0001'));
  assert.equal(again.data.code_url, native.data.code_url);
  // JSAPI without an openid: PARAM_ERROR.
  await assert.rejects(sdk.v3.pay.transactions.jsapi.post(order('ord_fake_jsapi_0002')), (e) => e.response?.status === 400 && e.response.data.code === 'PARAM_ERROR');
});

test('a request signed with another key, or with a stale timestamp, is 401 SIGN_ERROR', async () => {
  const body = JSON.stringify(order('ord_fake_forged_001'));
  const ts = Formatter.timestamp();
  const nonce = Formatter.nonce();
  const uri = '/v3/pay/transactions/native';
  const post = (auth) => fetch(`${wp.url}${uri}`, { method: 'POST', headers: { Authorization: auth, 'Content-Type': 'application/json', 'User-Agent': 't' }, body });
  const mine = readFileSync(wp.env.TG_WECHATPAY_PRIVATE_KEY_FILE);
  let r = await post(Formatter.authorization(wp.mchid, nonce, Rsa.sign(Formatter.request('POST', uri, ts, nonce, body), wp.attacker.privateKey), ts, wp.merchantSerial));
  assert.equal(r.status, 401);
  assert.equal((await r.json()).code, 'SIGN_ERROR');
  const old = ts - 301;
  r = await post(Formatter.authorization(wp.mchid, nonce, Rsa.sign(Formatter.request('POST', uri, old, nonce, body), mine), old, wp.merchantSerial));
  assert.equal(r.status, 401);
  r = await post(Formatter.authorization(wp.mchid, nonce, Rsa.sign(Formatter.request('POST', uri, ts, nonce, body), mine), ts, wp.merchantSerial));
  assert.equal(r.status, 200);
  assert.equal(wp.counters.rejected, 2);
});

test('query: 404 ORDER_NOT_EXIST, NOTPAY, then SUCCESS after pay(); the notification decrypts with the plugin', async () => {
  const sdk = sdkPub();
  const q = (id) => sdk.v3.pay.transactions.outTradeNo._out_trade_no_.get({ params: { mchid: wp.mchid }, out_trade_no: id });
  await assert.rejects(q('ord_fake_nobody_001'), (e) => e.response?.status === 404 && e.response.data.code === 'ORDER_NOT_EXIST');
  await sdk.v3.pay.transactions.native.post(order('ord_fake_query_0001'));
  assert.equal((await q('ord_fake_query_0001')).data.trade_state, 'NOTPAY');
  received.length = 0;
  const { deliveries } = await wp.pay('ord_fake_query_0001');
  assert.equal(deliveries[0].status, 200);
  const paid = (await q('ord_fake_query_0001')).data;
  assert.equal(paid.trade_state, 'SUCCESS');
  assert.equal(paid.amount.total, 6800);
  assert.match(paid.transaction_id, /^4200\d{24}$/);

  assert.equal(received.length, 1);
  const { headers, body } = received[0];
  assert.ok(Rsa.verify(Formatter.response(headers['wechatpay-timestamp'], headers['wechatpay-nonce'], body), headers['wechatpay-signature'],
    readFileSync(wp.env.TG_WECHATPAY_PLATFORM_PUBLIC_KEY_FILE)));
  assert.equal(headers['wechatpay-serial'], wp.pubKeyId);
  const n = JSON.parse(body);
  assert.equal(n.event_type, 'TRANSACTION.SUCCESS');
  const plain = JSON.parse(Aes.AesGcm.decrypt(n.resource.ciphertext, wp.apiv3Key, n.resource.nonce, n.resource.associated_data));
  assert.equal(plain.out_trade_no, 'ord_fake_query_0001');
  assert.equal(plain.transaction_id, paid.transaction_id);
  assert.equal(plain.trade_state, 'SUCCESS');
  assert.deepEqual(plain.amount, { total: 6800, payer_total: 6800, currency: 'CNY', payer_currency: 'CNY' });
});

test('refunds: PROCESSING, idempotent by out_refund_no, never over the payment, REFUND.SUCCESS delivered', async () => {
  const sdk = sdkPub();
  await sdk.v3.pay.transactions.native.post(order('ord_fake_refund_001'));
  await wp.pay('ord_fake_refund_001');
  const refund = (no, amount) => sdk.v3.refund.domestic.refunds.post({ out_trade_no: 'ord_fake_refund_001', out_refund_no: no, notify_url: notifyUrl,
    amount: { refund: amount, total: 6800, currency: 'CNY' } });
  const r1 = await refund('rfd_fake_0001', 5000);
  assert.equal(r1.data.status, 'PROCESSING');
  assert.equal((await refund('rfd_fake_0001', 5000)).data.refund_id, r1.data.refund_id);
  await assert.rejects(refund('rfd_fake_0002', 1801), (e) => e.response?.status === 400 && e.response.data.code === 'INVALID_REQUEST');
  wp.declineRefunds('NOT_ENOUGH');
  await assert.rejects(refund('rfd_fake_0003', 100), (e) => e.response?.status === 403 && e.response.data.code === 'NOT_ENOUGH');
  wp.declineRefunds(null);
  received.length = 0;
  await wp.completeRefund('rfd_fake_0001');
  const n = JSON.parse(received[0].body);
  assert.equal(n.event_type, 'REFUND.SUCCESS');
  const plain = JSON.parse(Aes.AesGcm.decrypt(n.resource.ciphertext, wp.apiv3Key, n.resource.nonce, 'refund'));
  assert.equal(plain.out_refund_no, 'rfd_fake_0001');
  assert.equal(plain.refund_status, 'SUCCESS');
  assert.equal(plain.amount.refund, 5000);
});

test('faults: a forced 500 once, then normal; a lost notification is not delivered', async () => {
  const sdk = sdkPub();
  wp.fail('checkout', { status: 500, times: 1 });
  await assert.rejects(sdk.v3.pay.transactions.native.post(order('ord_fake_fault_001')), (e) => e.response?.status === 500 && e.response.data.code === 'SYSTEM_ERROR');
  assert.equal((await sdk.v3.pay.transactions.native.post(order('ord_fake_fault_001'))).status, 200);
  wp.loseNext(1);
  received.length = 0;
  const r = await wp.pay('ord_fake_fault_001');
  assert.equal(r.lost, true);
  assert.equal(received.length, 0);
  assert.equal(wp.order('ord_fake_fault_001').trade_state, 'SUCCESS');
});

test('certificate mode: /v3/certificates decrypts with the APIv3 key; answers verify with the certificate', async () => {
  // The plugin refuses answers it cannot verify, so the list is fetched by hand first.
  const r = await fetch(`${wpc.url}/v3/certificates`, { headers: {
    'User-Agent': 't',
    Authorization: (() => {
      const ts = Formatter.timestamp();
      const nonce = Formatter.nonce();
      const sig = Rsa.sign(Formatter.request('GET', '/v3/certificates', ts, nonce, ''), readFileSync(wpc.env.TG_WECHATPAY_PRIVATE_KEY_FILE));
      return Formatter.authorization(wpc.mchid, nonce, sig, ts, wpc.merchantSerial);
    })(),
  } });
  assert.equal(r.status, 200);
  const { data } = await r.json();
  assert.equal(data.length, 1);
  const pem = Aes.AesGcm.decrypt(data[0].encrypt_certificate.ciphertext, wpc.apiv3Key, data[0].encrypt_certificate.nonce, 'certificate');
  assert.match(pem, /^-----BEGIN CERTIFICATE-----/);
  assert.equal(r.headers.get('wechatpay-serial'), data[0].serial_no);
  assert.equal(data[0].serial_no.length, 40);
  const sdk = client(wpc, { [data[0].serial_no]: pem });
  const native = await sdk.v3.pay.transactions.native.post({ ...order('ord_fake_cert_0001'), appid: wpc.appid, mchid: wpc.mchid });
  assert.equal(native.status, 200);
  const serial2 = wpc.rotateCertificate();
  await assert.rejects(sdk.v3.pay.transactions.native.post({ ...order('ord_fake_cert_0002'), appid: wpc.appid, mchid: wpc.mchid }));
  assert.equal(wpc.platformSerial, serial2);
});
