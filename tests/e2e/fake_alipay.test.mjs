// The fake Alipay (tests/fakes/alipay.mjs) checked against the official Node SDK (npm
// alipay-sdk) as the merchant: the SDK's signed requests are accepted and its answers'
// signatures verify with the SDK's own checks; the notifications verify with
// checkNotifySignV2 and with Alipay's V1 rule (no sign_type); trades, refunds and their
// idempotency, faults, lost notifications and the child-process mode. Starts no tollgate.
// The SDK stamps requests with the local clock's wall time; a merchant in China runs it in
// Beijing time, which is what the gateway expects.
process.env.TZ = 'Asia/Shanghai';

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

import { startFakeAlipay, signContent, rsa2Verify, beijing } from '../fakes/alipay.mjs';

const require = createRequire(import.meta.url);
const { AlipaySdk } = require('alipay-sdk');

let ali, sdk, sink, sinkUrl;
const received = [];

before(async () => {
  ali = await startFakeAlipay();
  sdk = new AlipaySdk({ appId: ali.appId, privateKey: ali.keys.appPrivatePem, alipayPublicKey: ali.keys.alipayPublicPem,
    gateway: ali.gateway, camelcase: false });
  sink = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      received.push({ body, type: req.headers['content-type'], params: Object.fromEntries(new URLSearchParams(body)) });
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('success');
    });
  });
  await new Promise((r) => sink.listen(0, '127.0.0.1', r));
  sinkUrl = `http://127.0.0.1:${sink.address().port}/notify`;
});

after(async () => {
  await ali.close();
  await new Promise((r) => sink.close(r));
});

const precreate = (outTradeNo, amount = '68.00', subject = '115 积分') =>
  sdk.exec('alipay.trade.precreate', { notifyUrl: sinkUrl, bizContent: { out_trade_no: outTradeNo, total_amount: amount, subject } },
    { validateSign: true });

test('precreate: the SDK signs, the fake verifies; the fake signs, the SDK verifies', async () => {
  const r = await precreate('ord_fake_pre_1');
  assert.equal(r.code, '10000');
  assert.equal(r.out_trade_no, 'ord_fake_pre_1');
  assert.match(r.qr_code, /^https:\/\/qr\.alipay\.com\/bax[0-9a-f]{20}$/);
  const last = ali.requests.at(-1);
  assert.equal(last.ok, true);
  assert.equal(last.sdkOk, true, 'the SDK verifier agrees');
  // The same out_trade_no again: the same QR code (idempotent); another amount: refused.
  assert.equal((await precreate('ord_fake_pre_1')).qr_code, r.qr_code);
  const bad = await precreate('ord_fake_pre_1', '1.00');
  assert.equal(bad.code, '40004');
  assert.equal(bad.sub_code, 'ACQ.CONTEXT_INCONSISTENT');
});

test('a request signed with another key is refused with isv.invalid-signature (a signed answer)', async () => {
  const { AlipaySdk: S } = require('alipay-sdk');
  const other = new S({ appId: ali.appId, privateKey: ali.keys.alipayPrivatePem, keyType: 'PKCS8',
    alipayPublicKey: ali.keys.alipayPublicPem, gateway: ali.gateway, camelcase: false });
  const r = await other.exec('alipay.trade.query', { bizContent: { out_trade_no: 'x' } }, { validateSign: true });
  assert.equal(r.code, '40002');
  assert.equal(r.sub_code, 'isv.invalid-signature');
  assert.equal(ali.requests.at(-1).ok, false);
});

test('an unknown app id gets an unsigned error_response', async () => {
  const other = new AlipaySdk({ appId: '2021000000009999', privateKey: ali.keys.appPrivatePem,
    alipayPublicKey: ali.keys.alipayPublicPem, gateway: ali.gateway, camelcase: false });
  const r = await other.exec('alipay.trade.query', { bizContent: { out_trade_no: 'x' } });
  assert.equal(r.code, '40002');
  assert.equal(r.sub_code, 'isv.invalid-app-id');
  const raw = await (await fetch(ali.gateway, { method: 'POST', body: 'app_id=1&method=alipay.trade.query' })).text();
  assert.ok(raw.startsWith('{"error_response":') && !raw.includes('"sign"'));
});

test('page pay: the SDK\'s GET URL opens the cashier and creates the trade; query says WAIT_BUYER_PAY', async () => {
  const url = sdk.pageExec('alipay.trade.page.pay', 'GET', {
    notifyUrl: sinkUrl, returnUrl: 'https://app.example/return',
    bizContent: { out_trade_no: 'ord_fake_page_1', total_amount: '9.90', subject: 'credits', product_code: 'FAST_INSTANT_TRADE_PAY' },
  });
  const page = await fetch(url);
  assert.equal(page.status, 200);
  assert.match(await page.text(), /ord_fake_page_1/);
  assert.equal(ali.trades.get('ord_fake_page_1').status, 'WAIT_BUYER_PAY');
  const q = await sdk.exec('alipay.trade.query', { bizContent: { out_trade_no: 'ord_fake_page_1' } }, { validateSign: true });
  assert.equal(q.trade_status, 'WAIT_BUYER_PAY');
  assert.equal(q.total_amount, '9.90');
  // A wrong product code is an error page, and no trade.
  const bad = sdk.pageExec('alipay.trade.page.pay', 'GET', {
    bizContent: { out_trade_no: 'ord_fake_page_2', total_amount: '9.90', subject: 'credits', product_code: 'QUICK_WAP_WAY' },
  });
  assert.match(await (await fetch(bad)).text(), /isv\.invalid-product-code/);
  assert.equal(ali.trades.has('ord_fake_page_2'), false);
});

test('pay: the notification verifies with the SDK and with the V1 rule (sign_type left out)', async () => {
  await precreate('ord_fake_pay_1', '68.00', '115 积分 & 100%+');
  received.length = 0;
  const r = await ali.pay('ord_fake_pay_1');
  assert.equal(r.status, 200);
  assert.equal(r.body, 'success');
  assert.equal(received.length, 1);
  const n = received[0];
  assert.match(n.type, /^application\/x-www-form-urlencoded/);
  assert.equal(n.params.trade_status, 'TRADE_SUCCESS');
  assert.equal(n.params.total_amount, '68.00');
  assert.equal(n.params.subject, '115 积分 & 100%+');
  assert.equal(n.params.sign_type, 'RSA2');
  assert.equal(sdk.checkNotifySignV2({ ...n.params }), true);
  assert.equal(rsa2Verify(ali.keys.alipayPublicPem, signContent(n.params, { notify: true }), n.params.sign), true);
  assert.equal(rsa2Verify(ali.keys.alipayPublicPem, signContent(n.params), n.params.sign), false, 'not signed with sign_type');
  const q = await sdk.exec('alipay.trade.query', { bizContent: { out_trade_no: 'ord_fake_pay_1' } }, { validateSign: true });
  assert.equal(q.trade_status, 'TRADE_SUCCESS');
  assert.equal(q.trade_no, n.params.trade_no);
});

test('deliver: the same notification 5 times in parallel, same notify_id; lost ones are not sent', async () => {
  await precreate('ord_fake_pay_2');
  ali.loseNext(1);
  received.length = 0;
  const lost = await ali.pay('ord_fake_pay_2');
  assert.equal(lost.lost, true);
  assert.equal(received.length, 0);
  const again = await ali.deliver(lost.notification, { times: 5, parallel: true });
  assert.equal(again.all.length, 5);
  assert.ok(again.all.every((d) => d.status === 200 && d.body === 'success'));
  assert.equal(new Set(received.map((x) => x.params.notify_id)).size, 1);
});

test('refunds: partial, the same out_request_no again (fund_change N), over the payment, the refund query and notification', async () => {
  await precreate('ord_fake_ref_1', '68.00');
  await ali.pay('ord_fake_ref_1');
  received.length = 0;
  const refund = (no, amount) => sdk.exec('alipay.trade.refund',
    { bizContent: { out_trade_no: 'ord_fake_ref_1', refund_amount: amount, out_request_no: no } }, { validateSign: true });
  const r1 = await refund('rfd_fake_1', '20.00');
  assert.equal(r1.code, '10000');
  assert.equal(r1.fund_change, 'Y');
  assert.equal(r1.refund_fee, '20.00');
  const r2 = await refund('rfd_fake_1', '20.00');
  assert.equal(r2.fund_change, 'N');
  assert.equal(r2.refund_fee, '20.00');
  const over = await refund('rfd_fake_2', '48.01');
  assert.equal(over.sub_code, 'ACQ.REFUND_AMT_NOT_EQUAL_TOTAL');
  const q = await sdk.exec('alipay.trade.fastpay.refund.query',
    { bizContent: { out_trade_no: 'ord_fake_ref_1', out_request_no: 'rfd_fake_1' } }, { validateSign: true });
  assert.equal(q.refund_amount, '20.00');
  assert.equal(q.refund_status, 'REFUND_SUCCESS');
  const none = await sdk.exec('alipay.trade.fastpay.refund.query',
    { bizContent: { out_trade_no: 'ord_fake_ref_1', out_request_no: 'rfd_fake_9' } }, { validateSign: true });
  assert.equal(none.code, '10000');
  assert.equal(none.refund_amount, undefined);
  for (let i = 0; i < 50 && received.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(received.length, 1, 'one refund notification');
  assert.equal(received[0].params.out_biz_no, 'rfd_fake_1');
  assert.equal(received[0].params.refund_fee, '20.00');
  assert.equal(sdk.checkNotifySignV2({ ...received[0].params }), true);
  const rest = await refund('rfd_fake_3', '48.00');
  assert.equal(rest.fund_change, 'Y');
  assert.equal(ali.trades.get('ord_fake_ref_1').status, 'TRADE_CLOSED', 'fully refunded: closed');
});

test('faults: an HTML 502, a reset connection, and a delay', async () => {
  ali.failNext('alipay.trade.query', { status: 502 });
  await assert.rejects(sdk.exec('alipay.trade.query', { bizContent: { out_trade_no: 'x' } }), /502/);
  // (urllib retries a reset keep-alive socket by itself, so this one is checked with fetch.)
  ali.failNext('alipay.trade.query', { reset: true });
  await assert.rejects(fetch(ali.gateway, { method: 'POST', body: 'method=alipay.trade.query' }));
  assert.equal(ali.state.fail['alipay.trade.query'].times, 0);
  ali.setDelay('alipay.trade.query', 300);
  const t0 = Date.now();
  const r = await sdk.exec('alipay.trade.query', { bizContent: { out_trade_no: 'ord_none' } }, { validateSign: true });
  assert.ok(Date.now() - t0 >= 280);
  assert.equal(r.sub_code, 'ACQ.TRADE_NOT_EXIST');
  ali.clearFaults();
});

test('a stale timestamp is refused', async () => {
  const old = beijing(Date.now() - 60 * 60e3);
  const r = await sdk.exec('alipay.trade.query', { timestamp: old, bizContent: { out_trade_no: 'x' } });
  assert.equal(r.sub_code, 'isv.invalid-timestamp');
});

test('as a child process: keys written, controls over HTTP', async () => {
  const dir = mkdtempSync(`${tmpdir()}/fake-alipay-`);
  const child = spawn(process.execPath, [fileURLToPath(new URL('../fakes/alipay.mjs', import.meta.url)), '--keys-dir', dir,
    '--exit-on-stdin-close'], { stdio: ['pipe', 'pipe', 'inherit'] });
  try {
    const line = await new Promise((resolve, reject) => {
      let buf = '';
      child.stdout.on('data', (c) => {
        buf += c;
        if (buf.includes('\n')) resolve(buf.slice(0, buf.indexOf('\n')));
      });
      child.once('exit', () => reject(new Error('exited')));
    });
    const info = JSON.parse(line);
    assert.match(readFileSync(info.keys.appPrivateKeyFile, 'utf8'), /BEGIN RSA PRIVATE KEY/);
    assert.match(readFileSync(info.keys.alipayPublicKeyFile, 'utf8'), /BEGIN PUBLIC KEY/);
    const c = await fetch(`${info.url}/__control/createTrade`, { method: 'POST', body: JSON.stringify(['ord_child_1', { fen: 100, subject: 's' }]) });
    assert.equal((await c.json()).result.status, 'WAIT_BUYER_PAY');
    const counters = await (await fetch(`${info.url}/__control/counters`)).json();
    assert.equal(counters.result['alipay.trade.query'], 0);
  } finally {
    child.stdin.end();
    await new Promise((r) => child.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
});
