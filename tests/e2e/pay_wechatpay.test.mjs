// WeChat Pay end to end: the real tollgate against the fake WeChat Pay (tests/fakes/wechatpay.mjs),
// which checks every request's merchant signature and signs every answer and notification
// with wechatpay-axios-plugin. A CN buyer orders credits_115 (CNY 68.00), pays at the fake,
// and the notification credits the account exactly once; forged, stale, tampered and
// mismatching notifications change nothing and leave an audit row; a lost notification is
// recovered by asking WeChat Pay; refunds go to WeChat Pay and come back by notification.

import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, invariantTest, assertStatus, assertError, LOOSE_LIMITS, sleep } from './lib/server.mjs';
import { startFakeWechatpay } from '../fakes/wechatpay.mjs';
import { decodeQrSvg } from './lib/pay.mjs';

const ACK = '{"code":"SUCCESS","message":"成功"}';
const CN = { 'x-user-region': 'CN' };

let srv;
let wp;
let admin;

/** A new CN buyer with a Native order for credits_115 at WeChat Pay: {user, order}. */
async function buyer(extra = {}, tag = 'wxbuyer') {
  const user = await srv.register({ tag });
  const r = await srv.post('/api/v1/orders', { product: 'credits_115', provider: 'wechatpay', ...extra }, { token: user.token, headers: CN });
  assertStatus(r, 201, 'order created');
  return { user, order: r.body };
}

const credits = async (user) => (await srv.get('/api/v1/credits', { token: user.token })).body;
const order = async (user, id) => (await srv.get(`/api/v1/orders/${id}`, { token: user.token })).body;
const purchases = async (user) => (await srv.get('/api/v1/credits/ledger', { token: user.token })).body.data.filter((e) => e.kind === 'purchase');
async function audits(action, orderId) {
  const r = await srv.get('/api/v1/admin/audit-log?limit=100', { token: admin.token });
  assertStatus(r, 200);
  return r.body.data.filter((a) => a.action === action && (orderId === undefined || a.target_id === orderId));
}

before(async () => {
  wp = await startFakeWechatpay();
  srv = await startServer({
    env: {
      ...wp.env,
      TG_SANDBOX: 'on',
      TG_TRUSTED_PROXIES: '127.0.0.1/32',
      TG_REGION_CN_PAYMENT: 'wechatpay,sandbox',
      TG_ORDER_QUERY_AFTER: '1',
      TG_RATE_LIMITS: `${LOOSE_LIMITS},payment=100000/1h`,
    },
  });
  admin = await srv.admin();
});

after(async () => {
  await wp.close();
});

describe('WeChat Pay', () => {
  test('happy path: Native order -> pay at WeChat Pay -> ack {"code":"SUCCESS"} -> paid, 115 credits, one purchase entry', async () => {
    const { user, order: o } = await buyer();
    assert.equal(o.provider, 'wechatpay');
    assert.equal(o.status, 'pending');
    assert.deepEqual(o.amount, { amount: 6800, currency: 'CNY' });
    assert.match(o.checkout.code_url, /^weixin:\/\/wxpay\/bizpayurl\?pr=/);
    assert.match(o.checkout.qr_svg, /^<svg/);
    assert.equal(decodeQrSvg(o.checkout.qr_svg), o.checkout.code_url, 'the QR code we drew says the code_url');
    // What WeChat Pay received: our order id as out_trade_no, fen, CNY, our notify URL.
    const at = wp.order(o.id);
    assert.equal(at.request.out_trade_no, o.id);
    assert.deepEqual(at.request.amount, { total: 6800, currency: 'CNY' });
    assert.equal(at.request.notify_url, `${srv.url}/api/v1/webhooks/wechatpay`);
    assert.equal(at.request.mchid, wp.mchid);
    assert.equal(at.request.appid, wp.appid);
    assert.equal(at.request.description, '115 credits');
    assert.match(at.request.time_expire, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00$/);
    const before0 = await credits(user);

    const { deliveries } = await wp.pay(o.id);
    assert.equal(deliveries[0].status, 200);
    assert.equal(deliveries[0].body, ACK);
    assert.match(deliveries[0].contentType, /^application\/json/);
    const after0 = await order(user, o.id);
    assert.equal(after0.status, 'paid');
    assert.ok(after0.paid_at);
    const c = await credits(user);
    assert.equal(c.paid_credits, before0.paid_credits + 115);
    const p = await purchases(user);
    assert.equal(p.length, 1);
    assert.equal(p[0].delta, 115);
    assert.equal(p[0].ref_id, o.id);
  });

  test('JSAPI (openid) and H5 (the buyer address) checkouts', async () => {
    const { order: j } = await buyer({ channel: 'jsapi', openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o' });
    assert.equal(j.provider, 'wechatpay');
    const p = j.checkout.jsapi;
    assert.deepEqual(Object.keys(p).sort(), ['appId', 'nonceStr', 'package', 'paySign', 'signType', 'timeStamp']);
    assert.equal(p.appId, wp.appid);
    assert.match(p.package, /^prepay_id=wx/);
    assert.equal(p.signType, 'RSA');
    assert.equal(wp.order(j.id).request.payer.openid, 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o');
    // paySign verifies with the merchant key over appId\ntimeStamp\nnonceStr\npackage\n.
    const { Rsa, Formatter } = await import('../fakes/wechatpay.mjs');
    assert.ok(Rsa.verify(Formatter.joinedByLineFeed(p.appId, p.timeStamp, p.nonceStr, p.package), p.paySign, wp.merchantPublicKey));

    const { order: h } = await buyer({ channel: 'h5' });
    assert.match(h.checkout.url, /^https:\/\/wx\.tenpay\.com\/cgi-bin\/mmpayweb-bin\/checkmweb\?prepay_id=.*&redirect_url=/);
    assert.ok(h.checkout.url.endsWith(encodeURIComponent(`${srv.url}/api/v1/orders/${h.id}/return`)));
    assert.equal(wp.order(h.id).request.scene_info.payer_client_ip, '127.0.0.1');
    assert.equal(wp.order(h.id).request.scene_info.h5_info.type, 'Wap');
  });

  test('the same notification 10 times in parallel: credits once, every delivery acknowledged', async () => {
    const { user, order: o } = await buyer();
    const { notification } = await wp.pay(o.id, { deliver: false });
    const before0 = await credits(user);
    const res = await wp.deliver(notification, { times: 10, parallel: true });
    assert.deepEqual(res.map((r) => r.status), Array(10).fill(200));
    assert.deepEqual([...new Set(res.map((r) => r.body))], [ACK]);
    assert.equal((await credits(user)).paid_credits, before0.paid_credits + 115);
    assert.equal((await purchases(user)).length, 1);
    assert.equal((await order(user, o.id)).status, 'paid');
  });

  test('out of order: paid found by the browser return first, the notification after it changes nothing', async () => {
    const { user, order: o } = await buyer({ return_url: '/credits' });
    const { notification } = await wp.pay(o.id, { deliver: false });
    const r = await srv.get(`/api/v1/orders/${o.id}/return`);
    assertStatus(r, 302);
    assert.equal(r.headers.get('location'), `${srv.url}/credits?order_id=${o.id}`);
    assert.equal((await order(user, o.id)).status, 'paid');
    const c = await credits(user);
    const [late] = await wp.deliver(notification);
    assert.equal(late.status, 200);
    assert.equal(late.body, ACK);
    assert.equal((await credits(user)).paid_credits, c.paid_credits);
    assert.equal((await purchases(user)).length, 1);
  });

  test('forged (another key), stale, tampered and unknown-key notifications: 400 FAIL, nothing changes, audited', async () => {
    const { user, order: o } = await buyer();
    const before0 = await credits(user);
    const attempts = {
      forged: wp.notification('TRANSACTION.SUCCESS', { order: o.id, key: 'attacker' }),
      stale: wp.notification('TRANSACTION.SUCCESS', { order: o.id, timestamp: Math.floor(Date.now() / 1000) - 301 }),
      tampered: wp.notification('TRANSACTION.SUCCESS', { order: o.id, tamper: (b) => b.replace('"summary":"支付成功"', '"summary":"支付成功 "') }),
      unknown_key: wp.notification('TRANSACTION.SUCCESS', { order: o.id, serial: 'PUB_KEY_ID_0000000000000000000000000000000000' }),
      other_apiv3_key: wp.notification('TRANSACTION.SUCCESS', { order: o.id, apiv3Key: 'Zz9Yy8Xx7Ww6Vv5Uu4Tt3Ss2Rr1Qq0Pp' }),
      signtest: (() => {
        const n = wp.notification('TRANSACTION.SUCCESS', { order: o.id });
        return { ...n, headers: { ...n.headers, 'Wechatpay-Signature': `WECHATPAY/SIGNTEST/${n.headers['Wechatpay-Signature'].slice(19)}` } };
      })(),
    };
    for (const [name, n] of Object.entries(attempts)) {
      const [r] = await wp.deliver(n);
      assert.equal(r.status, 400, `${name}: ${r.body}`);
      assert.deepEqual(JSON.parse(r.body), { code: 'FAIL', message: '失败' }, name);
    }
    assert.equal((await order(user, o.id)).status, 'pending');
    assert.equal((await credits(user)).paid_credits, before0.paid_credits);
    const rejected = await audits('payment.webhook_rejected');
    const reasons = rejected.map((a) => a.details.reason);
    for (const why of ['signature_mismatch', 'timestamp_out_of_tolerance', 'unknown_serial', 'resource_not_decrypted']) {
      assert.ok(reasons.includes(why), `an audit row with reason ${why}: ${reasons}`);
    }
    assert.ok(rejected.every((a) => a.details.provider === 'wechatpay'));
  });

  test('a signature header sent twice is ambiguous: 400, nothing changes', async () => {
    const { user, order: o } = await buyer();
    const n = wp.notification('TRANSACTION.SUCCESS', { order: o.id });
    const http = await import('node:http');
    for (const dup of ['Wechatpay-Signature', 'Wechatpay-Serial', 'Wechatpay-Timestamp']) {
      const headers = { ...n.headers, 'Content-Type': 'application/json', [dup]: [n.headers[dup], n.headers[dup]] };
      const status = await new Promise((resolve, reject) => {
        const rq = http.request(`${srv.url}/api/v1/webhooks/wechatpay`, { method: 'POST', headers, agent: false }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode));
        });
        rq.on('error', reject);
        rq.end(n.body);
      });
      assert.equal(status, 400, `${dup} twice`);
    }
    assert.equal((await order(user, o.id)).status, 'pending');
    const [once] = await wp.deliver(n);
    assert.equal(once.status, 200, 'the same notification with each header once is accepted');
    assert.equal((await order(user, o.id)).status, 'paid');
  });

  test('wrong amount, wrong currency, unknown order: 400, nothing credited, audited as mismatch', async () => {
    const { user, order: o } = await buyer();
    const before0 = await credits(user);
    const cases = [
      ['amount', wp.notification('TRANSACTION.SUCCESS', { order: o.id, amount: { total: 1, payer_total: 1 } }), 'amount_mismatch'],
      ['currency', wp.notification('TRANSACTION.SUCCESS', { order: o.id, amount: { currency: 'USD' } }), 'amount_mismatch'],
      ['unknown order', wp.notification('TRANSACTION.SUCCESS', { order: 'ord_01KB5Q3VJ4ZQ8E2W6T9YH3N7ZZ', url: `${srv.url}/api/v1/webhooks/wechatpay` }), 'unknown_order'],
    ];
    for (const [name, n, outcome] of cases) {
      const [r] = await wp.deliver(n);
      assert.equal(r.status, 400, `${name}: ${r.body}`);
      assert.equal(JSON.parse(r.body).code, 'FAIL');
      const rows = (await audits('payment.webhook_mismatch')).filter((a) => a.details.outcome === outcome);
      assert.ok(rows.length >= 1, `${name}: audited as ${outcome}`);
    }
    // A currency spelled in lower case is not CNY: refused before the order is looked at.
    const [lc] = await wp.deliver(wp.notification('TRANSACTION.SUCCESS', { order: o.id, amount: { currency: 'cny' } }));
    assert.equal(lc.status, 400);
    assert.ok((await audits('payment.webhook_rejected')).some((a) => a.details.reason === 'currency_malformed'));
    assert.equal((await order(user, o.id)).status, 'pending');
    assert.equal((await credits(user)).paid_credits, before0.paid_credits);
    assert.equal((await purchases(user)).length, 0);
  });

  test('a lost notification: the pending-order job asks WeChat Pay (query) and fulfils once', async () => {
    const { user, order: o } = await buyer();
    const q0 = wp.counters.query;
    wp.loseNext(1);
    const paid = await wp.pay(o.id);
    assert.equal(paid.lost, true);
    let status;
    for (let i = 0; i < 100 && (status = (await order(user, o.id)).status) !== 'paid'; i++) await sleep(100);
    assert.equal(status, 'paid', 'the job found the payment within 10 s (TG_ORDER_QUERY_AFTER=1)');
    assert.ok(wp.counters.query > q0);
    assert.ok(wp.requests.some((r) => r.uri === `/v3/pay/transactions/out-trade-no/${o.id}?mchid=${wp.mchid}`));
    assert.equal((await purchases(user)).length, 1);
    // The browser coming back afterwards changes nothing.
    assertStatus(await srv.get(`/api/v1/orders/${o.id}/return`), 302);
    assert.equal((await purchases(user)).length, 1);
  });

  test('an unpaid order stays pending while WeChat Pay says NOTPAY, and an answer with a bad signature pays nothing', async () => {
    const { user, order: o } = await buyer();
    assertStatus(await srv.get(`/api/v1/orders/${o.id}/return`), 302);
    assert.equal((await order(user, o.id)).status, 'pending');
    wp.tamperAnswers(true);
    try {
      wp.setTradeState(o.id, 'SUCCESS');
      assertStatus(await srv.get(`/api/v1/orders/${o.id}/return`), 302);
      await sleep(1500); // the pending-order job asks too, and is not believed either
      assert.equal((await order(user, o.id)).status, 'pending', 'an answer whose signature does not verify pays nothing');
      assert.ok(srv.logLines().some((l) => l.event === 'wechatpay_query_failed' && l.order_id === o.id && l.reason === 'signature_mismatch'));
    } finally {
      wp.tamperAnswers(false);
    }
    assertStatus(await srv.get(`/api/v1/orders/${o.id}/return`), 302);
    assert.equal((await order(user, o.id)).status, 'paid');
    assert.equal((await purchases(user)).length, 1);
  });

  test('an order WeChat Pay closed is marked failed by the pending-order job', async () => {
    const { user, order: o } = await buyer();
    wp.setTradeState(o.id, 'CLOSED');
    let status;
    for (let i = 0; i < 100 && (status = (await order(user, o.id)).status) === 'pending'; i++) await sleep(100);
    assert.equal(status, 'failed');
    assert.equal((await purchases(user)).length, 0);
  });

  test('refunds: partial then the rest (never over the payment), credits taken back, REFUND.SUCCESS completes them', async () => {
    const { user, order: o } = await buyer();
    await wp.pay(o.id);
    const paidCredits = (await credits(user)).paid_credits;
    const r1 = await srv.post(`/api/v1/admin/orders/${o.id}/refund`, { amount: 1700, reason: '部分退款' }, { token: admin.token });
    assertStatus(r1, 200);
    assert.equal(r1.body.refund.status, 'pending');
    assert.match(r1.body.refund.provider_refund_id, /^50\d{30}$/);
    const at = wp.refund(r1.body.refund.id);
    assert.equal(at.out_trade_no, o.id);
    assert.equal(at.refund, 1700);
    assert.equal(at.total, 6800);
    assert.equal(at.reason, '部分退款');
    assert.equal(at.notify_url, `${srv.url}/api/v1/webhooks/wechatpay`);
    const over = await srv.post(`/api/v1/admin/orders/${o.id}/refund`, { amount: 5101, reason: 'too much' }, { token: admin.token });
    assertError(over, 409, 'refund_exceeds_payment');
    const r2 = await srv.post(`/api/v1/admin/orders/${o.id}/refund`, { amount: 5100, reason: 'the rest' }, { token: admin.token });
    assertStatus(r2, 200);
    assert.equal((await credits(user)).paid_credits, paidCredits - 115);
    const ledger = (await srv.get('/api/v1/credits/ledger', { token: user.token })).body.data;
    assert.equal(ledger.filter((e) => e.kind === 'payment_refund').reduce((s, e) => s + e.delta, 0), -115);

    const [d1] = (await wp.completeRefund(r1.body.refund.id)).deliveries;
    assert.equal(d1.status, 200);
    assert.equal(d1.body, ACK);
    const [d2] = (await wp.completeRefund(r2.body.refund.id)).deliveries;
    assert.equal(d2.status, 200);
    const adm = (await srv.get(`/api/v1/admin/orders/${o.id}`, { token: admin.token })).body;
    assert.equal(adm.status, 'refunded');
    assert.deepEqual(adm.refunds.map((x) => x.status).sort(), ['succeeded', 'succeeded']);
    assert.equal(adm.refunded.amount, 6800);
    // The same REFUND.SUCCESS again: acknowledged, nothing more taken.
    const again = await wp.deliver(wp.notification('REFUND.SUCCESS', { refund: r1.body.refund.id }));
    assert.equal(again[0].status, 200);
    assert.equal((await srv.get('/api/v1/credits/ledger', { token: user.token })).body.data.filter((e) => e.kind === 'payment_refund').reduce((s, e) => s + e.delta, 0), -115);
  });

  test('a refund WeChat Pay refuses (NOT_ENOUGH): 502 refund_declined, credits given back', async () => {
    const { user, order: o } = await buyer();
    await wp.pay(o.id);
    const c0 = await credits(user);
    wp.declineRefunds('NOT_ENOUGH');
    // Sent with fetch: a 502 here is the documented answer, not a server fault.
    const res = await fetch(`${srv.url}/api/v1/admin/orders/${o.id}/refund`, {
      method: 'POST', headers: { authorization: `Bearer ${admin.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ amount: 6800, reason: 'declined' }),
    });
    wp.declineRefunds(null);
    assert.equal(res.status, 502);
    const body = await res.json();
    assert.equal(body.error.code, 'refund_declined');
    // 5xx answers carry no details; the reason is in the log.
    assert.ok(srv.logLines().some((l) => l.event === 'refund_failed' && l.order_id === o.id && l.reason === 'http_403_NOT_ENOUGH'));
    assert.equal((await credits(user)).paid_credits, c0.paid_credits);
    const adm = (await srv.get(`/api/v1/admin/orders/${o.id}`, { token: admin.token })).body;
    assert.equal(adm.status, 'paid');
    assert.equal(adm.refunded.amount, 0);
    assert.deepEqual(adm.refunds.map((x) => x.status), ['failed']);
  });

  test('REFUND.ABNORMAL is acknowledged and changes nothing', async () => {
    const { user, order: o } = await buyer();
    await wp.pay(o.id);
    const r1 = await srv.post(`/api/v1/admin/orders/${o.id}/refund`, { amount: 6800, reason: 'abnormal' }, { token: admin.token });
    assertStatus(r1, 200);
    const c = await credits(user);
    const [d] = (await wp.completeRefund(r1.body.refund.id, { status: 'ABNORMAL' })).deliveries;
    assert.equal(d.status, 200);
    assert.equal(d.body, ACK);
    const adm = (await srv.get(`/api/v1/admin/orders/${o.id}`, { token: admin.token })).body;
    assert.deepEqual(adm.refunds.map((x) => x.status), ['pending']);
    assert.equal((await credits(user)).paid_credits, c.paid_credits);
  });

  test('WeChat Pay down at checkout (500, or an answer with a bad signature): the order goes to the next provider', async () => {
    wp.fail('checkout', { status: 500, times: 2 }); // net retries once: both attempts fail
    const { order: o } = await buyer({ provider: undefined });
    assert.equal(o.provider, 'sandbox');
    assert.match(o.checkout.url, /\/sandbox\/checkout\//);
    const adm = (await srv.get(`/api/v1/admin/orders/${o.id}`, { token: admin.token })).body;
    assert.equal(adm.provider, 'sandbox');
    wp.clearFailures();

    wp.tamperAnswers(true);
    const { order: o2 } = await buyer({ provider: undefined });
    wp.tamperAnswers(false);
    assert.equal(o2.provider, 'sandbox');
    const logs = srv.logLines().filter((l) => l.event === 'checkout_failed' && l.provider === 'wechatpay').map((l) => l.reason);
    assert.ok(logs.includes('http_500_SYSTEM_ERROR'), logs.join());
    assert.ok(logs.includes('signature_mismatch'), logs.join());
  });

  test('WeChat Pay not answering at checkout: each attempt times out (8 s, retried once), then the next provider', async () => {
    wp.fail('checkout', { hang: true, times: 2 });
    const t0 = Date.now();
    const { order: o } = await buyer({ provider: undefined });
    const took = Date.now() - t0;
    wp.clearFailures();
    assert.equal(o.provider, 'sandbox');
    assert.ok(took >= 16000 && took < 30000, `took ${took} ms`);
    assert.ok(srv.logLines().some((l) => l.event === 'checkout_failed' && l.order_id === o.id && l.reason === 'timeout'));
  });

  test('the logs never hold the APIv3 key, the merchant key or a signature', async () => {
    await sleep(50);
    const text = srv.stderr;
    assert.ok(!text.includes(wp.apiv3Key), 'APIv3 key in the logs');
    assert.ok(!text.includes('PRIVATE KEY'), 'a private key in the logs');
    assert.ok(!/WECHATPAY2-SHA256-RSA2048 mchid=/.test(text), 'an Authorization header in the logs');
  });
});

invariantTest(() => srv);
