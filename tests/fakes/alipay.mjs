// A fake Alipay OpenAPI gateway (PROVIDERS.md section 3) for the payment tests, on one local
// port, speaking the real wire formats:
//
//   GET  /gateway.do?<signed params>   alipay.trade.page.pay / alipay.trade.wap.pay: the
//        browser's visit to the cashier. Creates the trade (WAIT_BUYER_PAY) and answers an
//        HTML cashier page (as Alipay does; a bad request is an HTML error page, status 200).
//   POST /gateway.do                   server calls, parameters form-encoded in the body and/or
//        the query string (the Node SDK puts the common ones in the URL):
//        alipay.trade.precreate, alipay.trade.query, alipay.trade.refund,
//        alipay.trade.fastpay.refund.query. Answers are HTTP 200 JSON
//        {"<method>_response":{...},"sign":"..."}: the signature (RSA2, the fake's Alipay key)
//        covers the exact text of the response object, which is serialized once.
//
// Every request's signature is verified with the app's public key exactly as Alipay's rule
// says (every parameter but sign, sign_type included, empty ones out, sorted, raw values),
// and cross-checked with the official SDK's verifier (npm alipay-sdk, checkNotifySignV2
// with the app public key, which implements the same rule): a request that fails either
// gets 40002 isv.invalid-signature. An unknown app_id gets an unsigned error_response
// isv.invalid-app-id. timestamp must be "yyyy-MM-dd HH:mm:ss" in Beijing time within 15
// minutes of the fake's clock.
//
// Notifications (异步通知) are form-encoded POSTs to the trade's notify_url, signed with the
// fake's Alipay key WITHOUT sign_type (rsaCheckV1, what Alipay does); the answer counts as
// received only when its body is exactly "success". There is no automatic redelivery: tests
// redeliver with deliver().
//
// Use in-process:
//   import { startFakeAlipay } from '../fakes/alipay.mjs';
//   const ali = await startFakeAlipay();       // fresh TEST-ONLY keys, port 0
//   ali.writeKeys(dir) -> {appPrivateKeyFile, alipayPublicKeyFile}   (TG_ALIPAY_*_KEY_FILE)
//   TG_ALIPAY_APP_ID = ali.appId, TG_ALIPAY_GATEWAY = ali.gateway
//   await fetch(checkoutUrl)                  // the buyer opens the cashier (page/wap)
//   const n = await ali.pay('ord_...')        // paid + notification delivered: {status, body, notification}
//   await ali.deliver(n.notification, { times: 10, parallel: true })
//   ali.loseNext(1); ali.failNext('alipay.trade.precreate', { status: 502 } | { timeout: true })
//   ali.setTradeStatus('ord_...', 'TRADE_SUCCESS'); ali.closeTrade('ord_...'); ali.refundNotify('ord_...', 'rfd_...'); ali.trades.get('ord_...')
// or as a child process: `node tests/fakes/alipay.mjs [--port N] [--keys-dir DIR]` prints one
// line {"url","gateway","app_id","keys":{...files}}; the methods are then POST
// /__control/<method> with a JSON array of arguments, answering {"result": ...};
// GET /__control/counters answers the counters. It exits on SIGTERM, SIGINT, or (with
// --exit-on-stdin-close) when its stdin closes.

import http from 'node:http';
import { createSign, createVerify, generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { runAsProcess } from './lib/process.mjs';

const requireFromE2e = createRequire(new URL('../e2e/package.json', import.meta.url));
let AlipaySdk;
try {
  ({ AlipaySdk } = requireFromE2e('alipay-sdk'));
} catch (e) {
  throw new Error(`tests/fakes/alipay.mjs needs alipay-sdk from tests/e2e: run "npm ci" in tests/e2e (${e.message})`);
}

export const DEFAULT_APP_ID = '2021000000000001';
const METHODS = ['alipay.trade.page.pay', 'alipay.trade.wap.pay', 'alipay.trade.precreate', 'alipay.trade.query',
  'alipay.trade.refund', 'alipay.trade.fastpay.refund.query'];

/** "yyyy-MM-dd HH:mm:ss" in Beijing time. */
export const beijing = (ms = Date.now()) => new Date(ms + 8 * 3600e3).toISOString().slice(0, 19).replace('T', ' ');
const parseBeijing = (s) => {
  const m = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/.exec(s ?? '');
  return m ? Date.UTC(+m[1], m[2] - 1, +m[3], +m[4], +m[5], +m[6]) - 8 * 3600e3 : NaN;
};
/** Yuan text -> fen, strictly ("68.00", "0.01", "9.9"); NaN otherwise. */
export const toFen = (s) => {
  const m = /^(\d{1,10})(?:\.(\d{1,2}))?$/.exec(s ?? '');
  return m ? Number(m[1]) * 100 + Number((m[2] ?? '').padEnd(2, '0')) : NaN;
};
export const toYuan = (fen) => `${Math.floor(fen / 100)}.${String(fen % 100).padStart(2, '0')}`;

/** Alipay's signing content: every param but sign (and sign_type when notify), empty out, sorted. */
export function signContent(params, { notify = false } = {}) {
  return Object.keys(params)
    .filter((k) => k !== 'sign' && !(notify && k === 'sign_type') && params[k] !== '' && params[k] != null)
    .sort()
    .map((k) => `${k}=${params[k]}`)
    .join('&');
}
export const rsa2Sign = (keyPem, text) => createSign('RSA-SHA256').update(text, 'utf8').sign(keyPem, 'base64');
export const rsa2Verify = (keyPem, text, sig) => {
  try {
    return createVerify('RSA-SHA256').update(text, 'utf8').verify(keyPem, sig, 'base64');
  } catch {
    return false;
  }
};
export const formBody = (params) => new URLSearchParams(params).toString();

function newKeys() {
  const app = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const ali = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    appPrivatePem: app.privateKey.export({ type: 'pkcs1', format: 'pem' }),
    appPublicPem: app.publicKey.export({ type: 'spki', format: 'pem' }),
    alipayPrivatePem: ali.privateKey.export({ type: 'pkcs8', format: 'pem' }),
    alipayPublicPem: ali.publicKey.export({ type: 'spki', format: 'pem' }),
  };
}

export async function startFakeAlipay(opts = {}) {
  const host = opts.host ?? '127.0.0.1';
  const appId = opts.appId ?? DEFAULT_APP_ID;
  const keys = opts.keys ?? newKeys();
  // The official SDK, used as Alipay's verifier of our requests: its "Alipay public key" is
  // the app's public key, and checkNotifySignV2 implements the same sorted raw-value rule.
  const sdkVerifier = new AlipaySdk({ appId, privateKey: keys.alipayPrivatePem, keyType: 'PKCS8',
    alipayPublicKey: keys.appPublicPem });
  const timers = new Set();
  let seq = 0;

  const ctl = {
    appId,
    keys,
    url: '',
    gateway: '',
    port: 0,
    /** out_trade_no -> {outTradeNo, tradeNo, fen, subject, status, method, notifyUrl, returnUrl,
     *  refunds: Map(outRequestNo -> {fen, gmt}), refundedFen, timeExpire} */
    trades: new Map(),
    /** Every notification made: {params, body, deliveries: [{status, body}], lost}. */
    notifications: [],
    /** Every request seen: {method, params, ok, sdkOk}. */
    requests: [],
    counters: Object.fromEntries(METHODS.map((m) => [m, 0])),
    state: { lose: 0, fail: {}, delay: {}, refundNotify: true },

    /** Writes the keys Tollgate needs as files into dir: {appPrivateKeyFile, alipayPublicKeyFile}. */
    writeKeys(dir) {
      mkdirSync(dir, { recursive: true });
      const appPrivateKeyFile = `${dir}/alipay_app_private.pem`;
      const alipayPublicKeyFile = `${dir}/alipay_public.pem`;
      writeFileSync(appPrivateKeyFile, keys.appPrivatePem, { mode: 0o600 });
      writeFileSync(alipayPublicKeyFile, keys.alipayPublicPem);
      return { appPrivateKeyFile, alipayPublicKeyFile };
    },
    /** The next n notifications are made but not delivered (a lost notification). */
    loseNext(n = 1) { ctl.state.lose += n; },
    /** The next `times` calls of method fail: {status} (an HTML error page), {timeout: true}
     * (no answer, the socket is held), or {reset: true} (the connection is destroyed). */
    failNext(method, how = { status: 502 }, times = 1) { ctl.state.fail[method] = { ...how, times }; },
    /** Answers of method wait ms first. */
    setDelay(method, ms) { ctl.state.delay[method] = ms; },
    /** Whether a refund sends its notification (Alipay does when the app subscribes; default on). */
    setRefundNotify(on) { ctl.state.refundNotify = !!on; },
    clearFaults() { ctl.state.fail = {}; ctl.state.delay = {}; ctl.state.lose = 0; },

    /** Creates a trade as if the buyer opened the cashier (tests that skip the browser). */
    createTrade(outTradeNo, { fen, subject = 'test', notifyUrl, returnUrl, method = 'alipay.trade.page.pay' } = {}) {
      if (!ctl.trades.has(outTradeNo)) {
        ctl.trades.set(outTradeNo, { outTradeNo, tradeNo: tradeNo(), fen, subject, status: 'WAIT_BUYER_PAY', method,
          notifyUrl, returnUrl, refunds: new Map(), refundedFen: 0, createdAt: Date.now() });
      }
      return ctl.trades.get(outTradeNo);
    },
    /** Sets a trade's status without any notification (a paid one gets its payment time). */
    setTradeStatus(outTradeNo, status) {
      const t = ctl.trades.get(outTradeNo);
      if (!t) throw new Error(`no trade ${outTradeNo}`);
      t.status = status;
      if (status === 'TRADE_SUCCESS' || status === 'TRADE_FINISHED') t.paidAt = t.paidAt ?? Date.now();
      return t;
    },
    /**
     * The buyer pays: the trade becomes TRADE_SUCCESS (or `status`) and its notification is
     * delivered. over: parameters to change in the notification (total_amount, app_id,...:
     * still signed by Alipay); sign: {key} to sign with another key. Returns
     * {status, body, notification, returnUrl}.
     */
    async pay(outTradeNo, { status = 'TRADE_SUCCESS', over = {}, key } = {}) {
      const t = ctl.trades.get(outTradeNo);
      if (!t) throw new Error(`no trade ${outTradeNo}: open the checkout URL first (or createTrade)`);
      t.status = status;
      t.paidAt = t.paidAt ?? Date.now();
      const n = ctl.notify(t, over, { key });
      const d = await ctl.deliver(n);
      return { ...d, notification: n, returnUrl: returnUrlFor(t) };
    },
    /** The trade closes unpaid (timeout or the buyer cancels): TRADE_CLOSED is notified. */
    async closeTrade(outTradeNo, over = {}) {
      const t = ctl.trades.get(outTradeNo);
      if (!t) throw new Error(`no trade ${outTradeNo}`);
      t.status = 'TRADE_CLOSED';
      const n = ctl.notify(t, { gmt_close: beijing(), ...over });
      return { ...(await ctl.deliver(n)), notification: n };
    },
    /** A refund notification for refund outRequestNo of a trade (made at refund time, or again). */
    async refundNotify(outTradeNo, outRequestNo, over = {}) {
      const t = ctl.trades.get(outTradeNo);
      const r = t?.refunds.get(outRequestNo);
      if (!r) throw new Error(`no refund ${outRequestNo} of ${outTradeNo}`);
      const n = ctl.notify(t, { refund_fee: toYuan(t.refundedFen), gmt_refund: `${r.gmt}.000`, out_biz_no: outRequestNo, ...over });
      return { ...(await ctl.deliver(n)), notification: n };
    },
    /** Makes (without sending) a signed notification of trade t's current state. */
    notify(t, over = {}, { key } = {}) {
      const params = {
        gmt_create: beijing(t.createdAt), charset: 'utf-8', seller_email: 'merchant@example.com', subject: t.subject,
        sign_type: 'RSA2', buyer_id: '2088102177846880', invoice_amount: toYuan(t.fen),
        notify_id: `${Date.now().toString(36)}${randomBytes(12).toString('hex')}`, fund_bill_list:
          JSON.stringify([{ amount: toYuan(t.fen), fundChannel: 'ALIPAYACCOUNT' }]), notify_type: 'trade_status_sync',
        trade_status: t.status, receipt_amount: toYuan(t.fen), app_id: appId, buyer_pay_amount: toYuan(t.fen),
        seller_id: '2088102177649450', gmt_payment: t.paidAt ? beijing(t.paidAt) : '', notify_time: beijing(),
        version: '1.0', out_trade_no: t.outTradeNo, total_amount: toYuan(t.fen), trade_no: t.tradeNo,
        auth_app_id: appId, buyer_logon_id: 'abc***@example.com', point_amount: '0.00', ...over,
      };
      for (const k of Object.keys(params)) if (params[k] === undefined || params[k] === '') delete params[k];
      params.sign = rsa2Sign(key ?? keys.alipayPrivatePem, signContent(params, { notify: true }));
      const n = { params, body: formBody(params), url: t.notifyUrl, deliveries: [], lost: false };
      ctl.notifications.push(n);
      return n;
    },
    /**
     * Delivers notification n (again) to its notify_url, `times` times, one after the other
     * or all at once (parallel). A lost one (loseNext) is not sent. Returns the last answer
     * {status, body} ({lost: true} when lost), and all of them in `all`.
     */
    async deliver(n, { times = 1, parallel = false, body } = {}) {
      if (ctl.state.lose > 0) {
        ctl.state.lose--;
        n.lost = true;
        return { lost: true, status: 0, body: '', all: [] };
      }
      const once = async () => {
        const r = await fetch(n.url, { method: 'POST', body: body ?? n.body,
          headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' } });
        const d = { status: r.status, body: await r.text(), type: r.headers.get('content-type') };
        n.deliveries.push(d);
        return d;
      };
      const all = [];
      if (parallel) all.push(...(await Promise.all(Array.from({ length: times }, once))));
      else for (let i = 0; i < times; i++) all.push(await once());
      return { ...all[all.length - 1], all };
    },
    reset() {
      ctl.trades.clear();
      ctl.notifications.length = 0;
      ctl.requests.length = 0;
      for (const m of METHODS) ctl.counters[m] = 0;
      ctl.state = { lose: 0, fail: {}, delay: {}, refundNotify: true };
    },
    async close() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      server.closeAllConnections();
      await new Promise((r) => server.close(() => r()));
    },
  };

  function tradeNo() {
    seq++;
    return `2026${String(Date.now()).slice(-10)}${String(seq).padStart(6, '0')}${randomBytes(2).toString('hex')}`;
  }

  function returnUrlFor(t) {
    if (!t.returnUrl) return null;
    const p = { charset: 'utf-8', out_trade_no: t.outTradeNo, method: `${t.method}.return`, total_amount: toYuan(t.fen),
      trade_no: t.tradeNo, auth_app_id: appId, version: '1.0', app_id: appId, sign_type: 'RSA2',
      seller_id: '2088102177649450', timestamp: beijing() };
    p.sign = rsa2Sign(keys.alipayPrivatePem, signContent(p, { notify: true }));
    return `${t.returnUrl}${t.returnUrl.includes('?') ? '&' : '?'}${formBody(p)}`;
  }

  // ---- answers ------------------------------------------------------------------------------
  function sendJson(res, text) {
    res.writeHead(200, { 'content-type': 'application/json;charset=utf-8' });
    res.end(text);
  }
  /** {"<method>_response":<inner>,"sign":"..."}: the inner text is serialized once and signed as is. */
  function answer(res, method, inner) {
    const text = JSON.stringify(inner);
    sendJson(res, `{"${method.replaceAll('.', '_')}_response":${text},"sign":"${rsa2Sign(keys.alipayPrivatePem, text)}"}`);
  }
  const bizFail = (res, method, subCode, subMsg) =>
    answer(res, method, { code: '40004', msg: 'Business Failed', sub_code: subCode, sub_msg: subMsg });
  function html(res, status, title, text) {
    res.writeHead(status, { 'content-type': 'text/html;charset=utf-8' });
    res.end(`<!doctype html><html><head><meta charset="utf-8"><title>${title}</title></head><body>${text}</body></html>`);
  }

  async function readBody(req) {
    const chunks = [];
    let n = 0;
    for await (const c of req) {
      n += c.length;
      if (n > 1 << 20) throw new Error('body too large');
      chunks.push(c);
    }
    return Buffer.concat(chunks).toString('utf8');
  }

  /** The request's parameters (query + form body); null when a name is given twice. */
  function params(url, body) {
    const out = {};
    for (const src of [url.searchParams, new URLSearchParams(body)]) {
      for (const [k, v] of src) {
        if (Object.hasOwn(out, k)) return null;
        out[k] = v;
      }
    }
    return out;
  }

  /** Checks the common parameters and the signature; returns an error inner object or null. */
  function checkRequest(p) {
    const record = { method: p.method, params: p, ok: false, sdkOk: false };
    ctl.requests.push(record);
    if (p.app_id !== appId) return { unsigned: true, code: '40002', msg: 'Invalid Arguments', sub_code: 'isv.invalid-app-id', sub_msg: '无效的AppID参数' };
    if (!METHODS.includes(p.method)) return { code: '40002', msg: 'Invalid Arguments', sub_code: 'isv.invalid-method', sub_msg: '不存在的方法名' };
    for (const k of ['charset', 'sign_type', 'sign', 'timestamp', 'version', 'biz_content']) {
      if (!p[k]) return { code: '40001', msg: 'Missing Required Arguments', sub_code: `isv.missing-${k.replace('_', '-')}`, sub_msg: `缺少${k}参数` };
    }
    if (p.sign_type !== 'RSA2') return { code: '40002', msg: 'Invalid Arguments', sub_code: 'isv.invalid-signature-type', sub_msg: '无效的签名类型' };
    if (p.charset.toLowerCase() !== 'utf-8') return { code: '40002', msg: 'Invalid Arguments', sub_code: 'isv.invalid-charset', sub_msg: '字符集错误' };
    if (p.version !== '1.0') return { code: '40002', msg: 'Invalid Arguments', sub_code: 'isv.invalid-version', sub_msg: '版本号错误' };
    if (p.format !== undefined && p.format !== 'JSON') return { code: '40002', msg: 'Invalid Arguments', sub_code: 'isv.invalid-format', sub_msg: '无效的数据格式' };
    const t = parseBeijing(p.timestamp);
    if (!Number.isFinite(t) || Math.abs(t - Date.now()) > 15 * 60e3) return { code: '40002', msg: 'Invalid Arguments', sub_code: 'isv.invalid-timestamp', sub_msg: '非法的时间戳参数' };
    const strict = rsa2Verify(keys.appPublicPem, signContent(p), p.sign);
    record.sdkOk = sdkVerifier.checkNotifySignV2({ ...p });
    if (!strict || !record.sdkOk) {
      return { code: '40002', msg: 'Invalid Arguments', sub_code: 'isv.invalid-signature',
        sub_msg: `验签出错，建议检查签名字符串或签名私钥与应用公钥是否匹配，网关生成的验签字符串为：${signContent(p)}` };
    }
    record.ok = true;
    return null;
  }

  function bizOf(p) {
    try {
      const b = JSON.parse(p.biz_content);
      return b && typeof b === 'object' && !Array.isArray(b) ? b : null;
    } catch {
      return null;
    }
  }

  const invalid = (res, method, sub, msg) =>
    answer(res, method, { code: '40002', msg: 'Invalid Arguments', sub_code: sub, sub_msg: msg });

  function tradeFields(b, method) {
    const fen = toFen(b.total_amount);
    if (typeof b.out_trade_no !== 'string' || !/^[A-Za-z0-9_]{1,64}$/.test(b.out_trade_no)) return 'out_trade_no';
    if (!Number.isFinite(fen) || fen <= 0 || fen > 100000000 * 100) return 'total_amount';
    if (typeof b.subject !== 'string' || !b.subject || b.subject.length > 256) return 'subject';
    const want = { 'alipay.trade.page.pay': 'FAST_INSTANT_TRADE_PAY', 'alipay.trade.wap.pay': 'QUICK_WAP_WAY' }[method];
    if (want && b.product_code !== want) return 'product_code';
    if (b.time_expire !== undefined && !Number.isFinite(parseBeijing(b.time_expire))) return 'time_expire';
    return null;
  }

  /** Opens or finds the trade of a checkout; an error string when it conflicts. */
  function openTrade(p, b, method) {
    const fen = toFen(b.total_amount);
    const t = ctl.trades.get(b.out_trade_no);
    if (t) {
      if (t.fen !== fen || t.subject !== b.subject) return ['ACQ.CONTEXT_INCONSISTENT', '交易信息被篡改'];
      if (t.status === 'TRADE_SUCCESS' || t.status === 'TRADE_FINISHED') return ['ACQ.TRADE_HAS_SUCCESS', '交易已被支付'];
      if (t.status === 'TRADE_CLOSED') return ['ACQ.TRADE_HAS_CLOSE', '交易已经关闭'];
      return [null, t];
    }
    return [null, ctl.createTrade(b.out_trade_no, { fen, subject: b.subject, notifyUrl: p.notify_url,
      returnUrl: p.return_url, method })];
  }

  async function gateway(req, res, url) {
    const body = req.method === 'POST' ? await readBody(req) : '';
    const p = params(url, body);
    if (p === null) return sendJson(res, '{"error_response":{"code":"40002","msg":"Invalid Arguments","sub_code":"isv.duplicate-param","sub_msg":"参数重复"}}');
    const method = p.method ?? '';
    if (METHODS.includes(method)) ctl.counters[method]++;
    const fail = ctl.state.fail[method];
    if (fail && fail.times > 0) {
      fail.times--;
      if (fail.timeout) return; // never answered: the caller's timeout decides
      if (fail.reset) return req.socket.destroy();
      return html(res, fail.status ?? 502, 'Bad Gateway', 'upstream failed');
    }
    const delay = ctl.state.delay[method];
    if (delay) await new Promise((r) => { const t = setTimeout(() => { timers.delete(t); r(); }, delay); timers.add(t); });

    const err = checkRequest(p);
    const isPage = method === 'alipay.trade.page.pay' || method === 'alipay.trade.wap.pay';
    if (err) {
      if (isPage && req.method === 'GET') return html(res, 200, '支付宝 - 错误', `错误代码 ${err.sub_code}`);
      if (err.unsigned) {
        const { unsigned, ...inner } = err;
        return sendJson(res, `{"error_response":${JSON.stringify(inner)}}`);
      }
      return answer(res, method, err);
    }
    const b = bizOf(p);
    if (b === null) return invalid(res, method, 'isv.invalid-biz-content', 'biz_content 不是 JSON');

    if (isPage) {
      if (req.method !== 'GET' && req.method !== 'POST') return html(res, 405, 'Method Not Allowed', '');
      const bad = tradeFields(b, method);
      if (bad) return html(res, 200, '支付宝 - 错误', `错误代码 isv.invalid-${bad.replace('_', '-')}`);
      const [code, t] = openTrade(p, b, method);
      if (code) return html(res, 200, '支付宝 - 错误', `错误代码 ${code}`);
      return html(res, 200, '支付宝 - 网上支付 安全快速！', `<h1>${t.subject}</h1><p>${toYuan(t.fen)} 元</p><p id="trade">${t.outTradeNo}</p>`);
    }
    if (req.method !== 'POST') return invalid(res, method, 'isv.invalid-http-method', '请使用 POST');

    switch (method) {
    case 'alipay.trade.precreate': {
      const bad = tradeFields(b, method);
      if (bad) return invalid(res, method, `isv.invalid-${bad.replace('_', '-')}`, `${bad} 无效`);
      const [code, t] = openTrade(p, b, method);
      if (code) return bizFail(res, method, code, t);
      t.qrCode = t.qrCode ?? `https://qr.alipay.com/bax${randomBytes(10).toString('hex')}`;
      return answer(res, method, { code: '10000', msg: 'Success', out_trade_no: t.outTradeNo, qr_code: t.qrCode });
    }
    case 'alipay.trade.query': {
      const t = ctl.trades.get(b.out_trade_no) ?? [...ctl.trades.values()].find((x) => x.tradeNo === b.trade_no);
      if (!t) return bizFail(res, method, 'ACQ.TRADE_NOT_EXIST', '交易不存在');
      return answer(res, method, { code: '10000', msg: 'Success', trade_no: t.tradeNo, out_trade_no: t.outTradeNo,
        buyer_logon_id: 'abc***@example.com', trade_status: t.status, total_amount: toYuan(t.fen),
        buyer_pay_amount: t.paidAt ? toYuan(t.fen) : '0.00', ...(t.paidAt ? { send_pay_date: beijing(t.paidAt) } : {}) });
    }
    case 'alipay.trade.refund': {
      const t = ctl.trades.get(b.out_trade_no);
      const fen = toFen(b.refund_amount);
      const reqNo = b.out_request_no ?? b.out_trade_no;
      if (!t) return bizFail(res, method, 'ACQ.TRADE_NOT_EXIST', '交易不存在');
      if (!Number.isFinite(fen) || fen <= 0) return invalid(res, method, 'isv.invalid-refund-amount', '退款金额无效');
      if (typeof reqNo !== 'string' || reqNo.length > 64) return invalid(res, method, 'isv.invalid-out-request-no', '退款请求号无效');
      const done = t.refunds.get(reqNo);
      const base = { code: '10000', msg: 'Success', trade_no: t.tradeNo, out_trade_no: t.outTradeNo, buyer_logon_id: 'abc***@example.com' };
      if (done) { // the same out_request_no again: nothing moves
        if (done.fen !== fen) return bizFail(res, method, 'ACQ.REFUND_AMT_NOT_EQUAL_TOTAL', '退款金额与原请求不一致');
        return answer(res, method, { ...base, fund_change: 'N', refund_fee: toYuan(t.refundedFen), gmt_refund_pay: done.gmt });
      }
      if (t.status === 'TRADE_FINISHED') return bizFail(res, method, 'ACQ.TRADE_HAS_FINISHED', '交易已完结');
      if (t.status !== 'TRADE_SUCCESS') return bizFail(res, method, 'ACQ.TRADE_STATUS_ERROR', '交易状态不合法');
      if (t.refundedFen + fen > t.fen) return bizFail(res, method, 'ACQ.REFUND_AMT_NOT_EQUAL_TOTAL', '退款金额超限');
      const gmt = beijing();
      t.refunds.set(reqNo, { fen, gmt, reason: b.refund_reason });
      t.refundedFen += fen;
      if (t.refundedFen === t.fen) t.status = 'TRADE_CLOSED';
      answer(res, method, { ...base, fund_change: 'Y', refund_fee: toYuan(t.refundedFen), gmt_refund_pay: gmt });
      if (ctl.state.refundNotify && t.notifyUrl) {
        const n = ctl.notify(t, { refund_fee: toYuan(t.refundedFen), gmt_refund: `${gmt}.000`, out_biz_no: reqNo });
        setImmediate(() => ctl.deliver(n).catch(() => {}));
      }
      return undefined;
    }
    case 'alipay.trade.fastpay.refund.query': {
      const t = ctl.trades.get(b.out_trade_no);
      if (!t) return bizFail(res, method, 'ACQ.TRADE_NOT_EXIST', '交易不存在');
      const r = t.refunds.get(b.out_request_no ?? t.outTradeNo);
      // An unknown refund is a success with no refund fields, as Alipay answers it.
      const base = { code: '10000', msg: 'Success', trade_no: t.tradeNo, out_trade_no: t.outTradeNo };
      if (!r) return answer(res, method, base);
      return answer(res, method, { ...base, out_request_no: b.out_request_no, total_amount: toYuan(t.fen),
        refund_amount: toYuan(r.fen), refund_status: 'REFUND_SUCCESS', gmt_refund_pay: r.gmt });
    }
    default:
      return invalid(res, method, 'isv.invalid-method', '不存在的方法名');
    }
  }

  // ---- controls over HTTP -------------------------------------------------------------------
  const CONTROLS = ['loseNext', 'failNext', 'setDelay', 'setRefundNotify', 'clearFaults', 'createTrade', 'setTradeStatus', 'reset'];
  async function control(req, res, name) {
    const json = (status, obj) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(obj));
    };
    if (name === 'counters' && req.method === 'GET') return json(200, { result: ctl.counters });
    let args;
    try {
      args = JSON.parse((await readBody(req)) || '[]');
    } catch {
      args = null;
    }
    if (!Array.isArray(args)) return json(400, { error: 'arguments must be a JSON array' });
    try {
      if (name === 'pay' || name === 'closeTrade' || name === 'refundNotify') {
        const r = await ctl[name](...args);
        return json(200, { result: { status: r.status, body: r.body, lost: !!r.lost, params: r.notification?.params } });
      }
      if (!CONTROLS.includes(name)) return json(404, { error: 'unknown control' });
      const r = ctl[name](...args);
      return json(200, { result: r && typeof r === 'object' && 'refunds' in r ? { outTradeNo: r.outTradeNo, tradeNo: r.tradeNo, status: r.status } : (r ?? null) });
    } catch (e) {
      return json(400, { error: String(e.message ?? e) });
    }
  }

  async function route(req, res) {
    const url = new URL(req.url, 'http://fake');
    if (url.pathname.startsWith('/__control/')) return control(req, res, url.pathname.slice(11));
    if (url.pathname === '/gateway.do') return gateway(req, res, url);
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found');
    return undefined;
  }

  const server = http.createServer((req, res) => {
    Promise.resolve(route(req, res)).catch((e) => {
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(String(e));
      }
    });
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, resolve);
  });
  ctl.port = server.address().port;
  ctl.url = `http://${host}:${ctl.port}`;
  ctl.gateway = `${ctl.url}/gateway.do`;
  return ctl;
}

// ---- as a child process (lib/process.mjs) ----------------------------------------------
runAsProcess(import.meta.url, async (opt) => {
  const ali = await startFakeAlipay({ port: Number(opt('--port') ?? 0), appId: opt('--app-id') });
  const keysDir = opt('--keys-dir');
  const files = keysDir ? ali.writeKeys(keysDir) : {};
  return { fake: ali, line: { url: ali.url, gateway: ali.gateway, port: ali.port, app_id: ali.appId, keys: files } };
});
