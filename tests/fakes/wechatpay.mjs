// A fake WeChat Pay APIv3 (direct merchant) for payment tests, speaking the real wire formats
// (PROVIDERS.md section 2) on one local port:
//
//   POST /v3/pay/transactions/native | jsapi | h5   -> {"code_url"} | {"prepay_id"} | {"h5_url"}
//   GET  /v3/pay/transactions/out-trade-no/{id}?mchid=...  -> a Transaction, or 404 ORDER_NOT_EXIST
//   POST /v3/pay/transactions/out-trade-no/{id}/close      -> 204
//   POST /v3/refund/domestic/refunds                      -> a Refund (PROCESSING by default)
//   GET  /v3/refund/domestic/refunds/{out_refund_no}       -> the Refund
//   GET  /v3/certificates                                  -> platform certificates, each
//        AES-256-GCM encrypted with the APIv3 key (associated_data "certificate")
//
// Every request must carry a valid `Authorization: WECHATPAY2-SHA256-RSA2048 mchid=..,
// nonce_str=..,signature=..,timestamp=..,serial_no=..` (parameters in any order) signed with
// the merchant key over "METHOD\nPATH?QUERY\nTS\nNONCE\nBODY\n"; the fake verifies it with the
// merchant PUBLIC key using wechatpay-axios-plugin's Rsa and Formatter (code we did not write)
// and answers 401 SIGN_ERROR otherwise. Every answer is signed with the platform key
// (Wechatpay-Timestamp/-Nonce/-Signature/-Serial), and so is every notification, whose
// `resource` is encrypted with the APIv3 key (the plugin's Aes.AesGcm).
//
// Modes: 'pubkey' (default): the platform signs as "PUB_KEY_ID_..." and Tollgate is given the
// public key file; 'cert': the platform signs with a certificate serial that Tollgate learns
// from GET /v3/certificates (or from TG_WECHATPAY_PLATFORM_CERT_FILE with preloadCert).
//
// Use in-process:
//   import { startFakeWechatpay } from '../fakes/wechatpay.mjs';
//   const wp = await startFakeWechatpay({ mode: 'pubkey' });
//   env = { ...wp.env }              // TG_WECHATPAY_* for tollgate (keys written to a temp folder)
//   await wp.pay(orderId)            // marks it paid and delivers TRANSACTION.SUCCESS
//   wp.notification('TRANSACTION.SUCCESS', { order: orderId, ... })  // {url, headers, body}
//   await wp.deliver(n, { times: 10, parallel: true })
//   wp.loseNext(1); wp.fail('checkout', { status: 500 }); wp.setRefundStatus('SUCCESS');
//   await wp.completeRefund(outRefundNo); wp.rotateCertificate(); await wp.close();
// or as a child process (for C tests): `node tests/fakes/wechatpay.mjs [--port N] [--mode cert]
// [--exit-on-stdin-close]` prints one line {"url","port","env"}; the methods above are then
// POST /__control/<method> with a JSON array of arguments, answering {"result": ...}.

import http from 'node:http';
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runAsProcess } from './lib/process.mjs';

const requireFromE2e = createRequire(new URL('../e2e/package.json', import.meta.url));
let sdk;
try {
  sdk = requireFromE2e('wechatpay-axios-plugin');
} catch (e) {
  throw new Error(`tests/fakes needs wechatpay-axios-plugin from tests/e2e: run "npm ci" in tests/e2e (${e.message})`);
}
export const { Rsa, Aes, Formatter } = sdk;

export const TOLERANCE_S = 300;
const ENDPOINTS = ['checkout', 'query', 'close', 'refund', 'refund_query', 'certificates'];

const digits = (n) => Array.from(randomBytes(n), (b) => String(b % 10)).join('');
const hexUpper = (n) => randomBytes(n).toString('hex').toUpperCase();
const alnum = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const text = (n) => Array.from(randomBytes(n), (b) => alnum[b % alnum.length]).join('');
/** RFC 3339 in China's time, as WeChat Pay writes times. */
export function cnTime(ms = Date.now()) {
  return new Date(ms + 8 * 3600 * 1000).toISOString().replace(/\.\d{3}Z$/, '+08:00');
}

/** A platform key and its certificate (made by the openssl command, as gen_paycrypto does). */
export function makePlatformKey(dir, name) {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const serial = `5${hexUpper(20).slice(1)}`; // 40 hex digits, no leading zero
  const keyPath = join(dir, `${name}_key.pem`);
  const certPath = join(dir, `${name}_cert.pem`);
  const pubPath = join(dir, `${name}_pub.pem`);
  writeFileSync(keyPath, privateKey.export({ type: 'pkcs8', format: 'pem' }));
  writeFileSync(pubPath, publicKey.export({ type: 'spki', format: 'pem' }));
  execFileSync('openssl', ['req', '-new', '-x509', '-key', keyPath, '-subj', '/CN=Tenpay.com Root CA fake platform',
    '-days', '1825', '-sha256', '-set_serial', `0x${serial}`, '-out', certPath], { stdio: 'ignore' });
  return { publicKey, privateKey, serial, keyPath, certPath, pubPath, certPem: readFileSync(certPath, 'utf8') };
}

/** Parses `WECHATPAY2-SHA256-RSA2048 k="v",...` (any order, no duplicates) or returns null. */
export function parseAuthorization(h) {
  const scheme = 'WECHATPAY2-SHA256-RSA2048 ';
  if (typeof h !== 'string' || !h.startsWith(scheme)) return null;
  const out = {};
  const re = /^([a-z_]+)="([^"]*)"(,|$)/;
  let rest = h.slice(scheme.length);
  while (rest.length) {
    const m = re.exec(rest);
    if (!m || Object.hasOwn(out, m[1])) return null;
    out[m[1]] = m[2];
    rest = rest.slice(m[0].length);
  }
  for (const k of ['mchid', 'nonce_str', 'signature', 'timestamp', 'serial_no']) if (!out[k]) return null;
  return out;
}

/** Headers and signature of a signed answer or notification (wechatpay-axios-plugin). */
export function signedHeaders(body, key, serial, { timestamp, nonce } = {}) {
  const ts = String(timestamp ?? Formatter.timestamp());
  const n = nonce ?? Formatter.nonce(32);
  return {
    'Wechatpay-Timestamp': ts,
    'Wechatpay-Nonce': n,
    'Wechatpay-Signature': Rsa.sign(Formatter.response(ts, n, body), key),
    'Wechatpay-Serial': serial,
    'Wechatpay-Signature-Type': 'WECHATPAY2-SHA256-RSA2048',
    'Request-ID': `08${hexUpper(12)}`,
  };
}

/** A notification envelope with `plain` encrypted under apiv3Key (Aes.AesGcm). */
export function envelope(eventType, plain, apiv3Key, { id, nonce, associatedData, summary } = {}) {
  const original = eventType.startsWith('REFUND.') ? 'refund' : 'transaction';
  const ad = associatedData ?? original;
  const n = nonce ?? text(12);
  return JSON.stringify({
    id: id ?? `EV-${digits(20)}`,
    create_time: cnTime(),
    resource_type: 'encrypt-resource',
    event_type: eventType,
    summary: summary ?? (eventType === 'TRANSACTION.SUCCESS' ? '支付成功' : '退款成功'),
    resource: {
      original_type: original,
      algorithm: 'AEAD_AES_256_GCM',
      ciphertext: Aes.AesGcm.encrypt(typeof plain === 'string' ? plain : JSON.stringify(plain), apiv3Key, n, ad),
      associated_data: ad,
      nonce: n,
    },
  });
}

/**
 * Starts the fake. opts: port (0), host ('127.0.0.1'), mode ('pubkey' | 'cert'), preloadCert
 * (cert mode: also give Tollgate TG_WECHATPAY_PLATFORM_CERT_FILE), mchid, appid, apiv3Key.
 * Resolves to the controller described at the top of this file.
 */
export async function startFakeWechatpay(opts = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'tg-fake-wechatpay-'));
  const mode = opts.mode ?? 'pubkey';
  const mchid = opts.mchid ?? '1900009191';
  const appid = opts.appid ?? 'wxd678efh567hg6787';
  const apiv3Key = opts.apiv3Key ?? text(32);
  const merchant = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const merchantSerial = hexUpper(20);
  const merchantKeyPath = join(dir, 'apiclient_key.pem');
  writeFileSync(merchantKeyPath, merchant.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  const platforms = [makePlatformKey(dir, 'platform1')]; // the last one signs
  const pubKeyId = `PUB_KEY_ID_0119${digits(24)}`;
  const attacker = makePlatformKey(dir, 'attacker');

  const state = {
    orders: new Map(),   // out_trade_no -> {channel, request, trade_state, transaction_id, success_time, ...}
    refunds: new Map(),  // out_refund_no -> refund
    fail: {},            // endpoint -> {status, code, times, delayMs, hang}
    lose: 0,
    refundStatus: 'PROCESSING',
    refundDecline: null,
    tamperAnswers: false,
  };
  const counters = Object.fromEntries([...ENDPOINTS, 'rejected', 'delivered'].map((k) => [k, 0]));
  const requests = []; // {method, url, authorization, body} of every API request (last 200)
  const timers = new Set();

  const signer = () => (mode === 'pubkey'
    ? { key: platforms.at(-1).privateKey, serial: pubKeyId }
    : { key: platforms.at(-1).privateKey, serial: platforms.at(-1).serial });

  const env = {
    TG_WECHATPAY_MCHID: mchid,
    TG_WECHATPAY_APPID: appid,
    TG_WECHATPAY_SERIAL_NO: merchantSerial,
    TG_WECHATPAY_PRIVATE_KEY_FILE: merchantKeyPath,
    TG_WECHATPAY_APIV3_KEY: apiv3Key,
  };
  if (mode === 'pubkey') {
    env.TG_WECHATPAY_PLATFORM_PUBLIC_KEY_FILE = platforms[0].pubPath;
    env.TG_WECHATPAY_PLATFORM_KEY_ID = pubKeyId;
  } else if (opts.preloadCert) {
    env.TG_WECHATPAY_PLATFORM_CERT_FILE = platforms[0].certPath;
  }

  function send(res, status, body, { sign = true } = {}) {
    const headers = { 'Content-Type': 'application/json; charset=utf-8' };
    if (sign) {
      const s = signer();
      Object.assign(headers, signedHeaders(body, s.key, s.serial));
      if (state.tamperAnswers) headers['Wechatpay-Signature'] = Rsa.sign('tampered', s.key);
    }
    res.writeHead(status, headers);
    res.end(body);
  }
  const error = (res, status, code, message) => send(res, status, JSON.stringify({ code, message }));

  /** Checks the request's Authorization with the merchant public key; answers 401 if bad. */
  function authorized(req, res, uri, body) {
    const a = parseAuthorization(req.headers.authorization);
    const now = Math.floor(Date.now() / 1000);
    let why = null;
    if (!a) why = 'Authorization 格式错误';
    else if (a.mchid !== mchid) why = 'mchid 不匹配';
    else if (a.serial_no.toUpperCase() !== merchantSerial) why = '商户证书序列号不匹配';
    else if (!/^\d+$/.test(a.timestamp) || Math.abs(now - Number(a.timestamp)) > TOLERANCE_S) why = '时间戳过期';
    else if (!Rsa.verify(Formatter.request(req.method, uri, a.timestamp, a.nonce_str, body), a.signature, merchant.publicKey)) why = '签名错误';
    if (!req.headers['user-agent']) why = why ?? 'User-Agent 为空';
    if (why) {
      counters.rejected++;
      error(res, 401, 'SIGN_ERROR', why);
      return false;
    }
    return true;
  }

  /** Applies a forced failure for endpoint; true when it answered (or hangs). */
  function forced(endpoint, res) {
    const f = state.fail[endpoint];
    if (!f || f.times <= 0) return false;
    f.times--;
    if (f.hang) return true; // never answers: the client's timeout ends it
    const go = () => error(res, f.status, f.code ?? (f.status >= 500 ? 'SYSTEM_ERROR' : 'INVALID_REQUEST'), f.message ?? '系统错误');
    if (f.delayMs) {
      const t = setTimeout(() => { timers.delete(t); if (!res.destroyed) go(); }, f.delayMs);
      timers.add(t);
    } else go();
    return true;
  }

  function transaction(o) {
    const t = {
      appid, mchid, out_trade_no: o.out_trade_no, trade_type: o.trade_type, trade_state: o.trade_state,
      trade_state_desc: { SUCCESS: '支付成功', NOTPAY: '未支付', CLOSED: '已关闭', REFUND: '转入退款', USERPAYING: '用户支付中', PAYERROR: '支付失败' }[o.trade_state] ?? '',
      attach: '',
      amount: { total: o.total, currency: o.currency },
    };
    if (o.transaction_id) {
      Object.assign(t, { transaction_id: o.transaction_id, bank_type: 'OTHERS', success_time: o.success_time, payer: { openid: o.openid } });
      t.amount = { total: o.total, payer_total: o.total, currency: o.currency, payer_currency: 'CNY' };
    }
    return t;
  }

  async function readBody(req) {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    return Buffer.concat(chunks).toString('utf8');
  }

  function createOrder(channel, req, res, body) {
    counters.checkout++;
    if (forced('checkout', res)) return;
    let b;
    try { b = JSON.parse(body); } catch { return error(res, 400, 'PARAM_ERROR', '请求体格式错误'); }
    const need = (cond, msg) => { if (!cond) throw new Error(msg); };
    try {
      need(b.appid === appid, 'appid 与 mchid 不匹配');
      need(b.mchid === mchid, 'mchid 错误');
      need(typeof b.description === 'string' && b.description.length >= 1 && Buffer.byteLength(b.description) <= 127, 'description 错误');
      need(typeof b.out_trade_no === 'string' && /^[0-9A-Za-z_\-|*]{6,32}$/.test(b.out_trade_no), 'out_trade_no 错误');
      need(typeof b.notify_url === 'string' && /^https?:\/\/[^?]+$/.test(b.notify_url), 'notify_url 错误');
      need(b.amount && Number.isInteger(b.amount.total) && b.amount.total > 0, 'amount.total 错误');
      need(b.amount.currency === undefined || b.amount.currency === 'CNY', 'amount.currency 错误');
      need(b.time_expire === undefined || /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00$/.test(b.time_expire), 'time_expire 格式错误');
      if (channel === 'jsapi') need(b.payer && typeof b.payer.openid === 'string' && b.payer.openid, 'payer.openid 必填');
      if (channel === 'h5') need(b.scene_info && b.scene_info.payer_client_ip && b.scene_info.h5_info && b.scene_info.h5_info.type, 'scene_info 必填');
    } catch (e) {
      return error(res, 400, 'PARAM_ERROR', e.message);
    }
    const existing = state.orders.get(b.out_trade_no);
    if (existing) {
      if (existing.trade_state === 'SUCCESS' || existing.trade_state === 'REFUND') return error(res, 400, 'ORDERPAID', '该订单已支付');
      if (existing.channel !== channel || existing.total !== b.amount.total) return error(res, 400, 'INVALID_REQUEST', '201 商户订单号重复');
      return send(res, 200, JSON.stringify(existing.answer));
    }
    const prepay = `wx${digits(8)}${hexUpper(8).toLowerCase()}${digits(10)}`;
    const answer = channel === 'native' ? { code_url: `weixin://wxpay/bizpayurl?pr=${text(9)}` }
      : channel === 'jsapi' ? { prepay_id: prepay }
        : { h5_url: `https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=${prepay}&package=${digits(10)}` };
    state.orders.set(b.out_trade_no, {
      channel, request: b, answer, out_trade_no: b.out_trade_no, total: b.amount.total, currency: b.amount.currency ?? 'CNY',
      trade_type: { native: 'NATIVE', jsapi: 'JSAPI', h5: 'MWEB' }[channel], trade_state: 'NOTPAY',
      notify_url: b.notify_url, openid: b.payer?.openid ?? `o${text(27)}`, refunded: 0,
    });
    send(res, 200, JSON.stringify(answer));
  }

  function queryOrder(id, url, res) {
    counters.query++;
    if (forced('query', res)) return;
    if (url.searchParams.get('mchid') !== mchid) return error(res, 400, 'PARAM_ERROR', 'mchid 错误');
    const o = state.orders.get(id);
    if (!o) return error(res, 404, 'ORDER_NOT_EXIST', '订单不存在');
    send(res, 200, JSON.stringify(transaction(o)));
  }

  function closeOrder(id, res, body) {
    counters.close++;
    if (forced('close', res)) return;
    const o = state.orders.get(id);
    let b = {};
    try { b = JSON.parse(body); } catch { /* checked below */ }
    if (b.mchid !== mchid) return error(res, 400, 'PARAM_ERROR', 'mchid 错误');
    if (!o) return error(res, 404, 'ORDER_NOT_EXIST', '订单不存在');
    if (o.trade_state === 'SUCCESS') return error(res, 400, 'ORDERPAID', '该订单已支付');
    o.trade_state = 'CLOSED';
    res.writeHead(204, signedHeaders('', signer().key, signer().serial));
    res.end();
  }

  function refundAnswer(r) {
    return {
      refund_id: r.refund_id, out_refund_no: r.out_refund_no, transaction_id: r.transaction_id, out_trade_no: r.out_trade_no,
      channel: 'ORIGINAL', user_received_account: '支付用户零钱', success_time: r.success_time, create_time: r.create_time,
      status: r.status, funds_account: 'AVAILABLE',
      amount: { total: r.total, refund: r.refund, payer_total: r.total, payer_refund: r.refund, settlement_refund: r.refund,
        settlement_total: r.total, discount_refund: 0, currency: 'CNY' },
      promotion_detail: [],
    };
  }

  function createRefund(res, body) {
    counters.refund++;
    if (forced('refund', res)) return;
    let b;
    try { b = JSON.parse(body); } catch { return error(res, 400, 'PARAM_ERROR', '请求体格式错误'); }
    if (typeof b.out_refund_no !== 'string' || !/^[0-9A-Za-z_\-|*@]{1,64}$/.test(b.out_refund_no)) return error(res, 400, 'PARAM_ERROR', 'out_refund_no 错误');
    if (!b.amount || !Number.isInteger(b.amount.refund) || b.amount.refund <= 0 || !Number.isInteger(b.amount.total) || b.amount.currency !== 'CNY') return error(res, 400, 'PARAM_ERROR', 'amount 错误');
    if (b.reason !== undefined && (typeof b.reason !== 'string' || [...b.reason].length > 80)) return error(res, 400, 'PARAM_ERROR', 'reason 错误');
    const o = state.orders.get(b.out_trade_no ?? '') ?? [...state.orders.values()].find((x) => x.transaction_id && x.transaction_id === b.transaction_id);
    if (!o) return error(res, 404, 'RESOURCE_NOT_EXISTS', '订单不存在');
    const prior = state.refunds.get(b.out_refund_no);
    if (prior) return send(res, 200, JSON.stringify(refundAnswer(prior))); // out_refund_no is the idempotency key
    if (o.trade_state !== 'SUCCESS' && o.trade_state !== 'REFUND') return error(res, 400, 'INVALID_REQUEST', '订单未支付');
    if (b.amount.total !== o.total) return error(res, 400, 'INVALID_REQUEST', '订单金额不一致');
    if (state.refundDecline) return error(res, 403, state.refundDecline, state.refundDecline === 'NOT_ENOUGH' ? '基本账户余额不足' : '退款被拒绝');
    if (o.refunded + b.amount.refund > o.total) return error(res, 400, 'INVALID_REQUEST', '申请退款金额超过订单可退金额');
    o.refunded += b.amount.refund;
    o.trade_state = 'REFUND';
    const r = {
      refund_id: `50${digits(30)}`, out_refund_no: b.out_refund_no, transaction_id: o.transaction_id, out_trade_no: o.out_trade_no,
      total: o.total, refund: b.amount.refund, status: state.refundStatus, create_time: cnTime(),
      success_time: state.refundStatus === 'SUCCESS' ? cnTime() : undefined, notify_url: b.notify_url, reason: b.reason,
    };
    state.refunds.set(r.out_refund_no, r);
    send(res, 200, JSON.stringify(refundAnswer(r)));
  }

  function certificates(res) {
    counters.certificates++;
    if (forced('certificates', res)) return;
    const data = platforms.map((p) => {
      const nonce = text(12);
      return {
        serial_no: p.serial,
        effective_time: cnTime(Date.now() - 86400000),
        expire_time: cnTime(Date.now() + 5 * 365 * 86400000),
        encrypt_certificate: { algorithm: 'AEAD_AES_256_GCM', nonce, associated_data: 'certificate',
          ciphertext: Aes.AesGcm.encrypt(p.certPem, apiv3Key, nonce, 'certificate') },
      };
    });
    send(res, 200, JSON.stringify({ data }));
  }

  // ---- notifications ---------------------------------------------------------------------
  /**
   * A notification ready to deliver: {url, headers, body}. kind 'TRANSACTION.SUCCESS' (the
   * order's transaction; `plain` overrides fields of it, `amount` of its amount) or
   * 'REFUND.SUCCESS' | 'REFUND.ABNORMAL' | 'REFUND.CLOSED' (refund: an out_refund_no).
   * Attack options: key 'attacker' (signed by another key), serial, timestamp (unix s),
   * apiv3Key (encrypted under another key), tamper (a function body -> body applied after
   * signing), raw (plaintext string as is), eventType.
   */
  function notification(kind, o = {}) {
    let plain;
    let url = o.url;
    if (kind === 'TRANSACTION.SUCCESS' || kind === 'TRANSACTION.OTHER') {
      const ord = state.orders.get(o.order);
      const base = ord ? transaction({ ...ord, trade_state: ord.trade_state === 'NOTPAY' ? 'SUCCESS' : ord.trade_state,
        transaction_id: ord.transaction_id ?? `4200${digits(24)}`, success_time: ord.success_time ?? cnTime() })
        : transaction({ out_trade_no: o.order, trade_type: 'NATIVE', trade_state: 'SUCCESS', total: o.total ?? 6800,
          currency: 'CNY', transaction_id: `4200${digits(24)}`, success_time: cnTime(), openid: `o${text(27)}` });
      plain = { ...base, ...(o.plain ?? {}) };
      if (o.amount) plain.amount = { ...plain.amount, ...o.amount };
      url = url ?? ord?.notify_url;
    } else {
      const r = state.refunds.get(o.refund);
      const status = kind.slice('REFUND.'.length);
      plain = {
        mchid, transaction_id: r?.transaction_id ?? `4200${digits(24)}`, out_trade_no: r?.out_trade_no ?? o.order,
        refund_id: r?.refund_id ?? `50${digits(30)}`, out_refund_no: r?.out_refund_no ?? o.refund, refund_status: status,
        success_time: cnTime(), user_received_account: '支付用户零钱',
        amount: { total: r?.total ?? o.total ?? 6800, refund: r?.refund ?? o.refundAmount ?? 6800, payer_total: r?.total ?? 6800, payer_refund: r?.refund ?? 6800 },
        ...(o.plain ?? {}),
      };
      if (o.amount) plain.amount = { ...plain.amount, ...o.amount };
      url = url ?? r?.notify_url ?? state.orders.get(plain.out_trade_no)?.notify_url;
    }
    const body0 = envelope(o.eventType ?? kind, o.raw ?? plain, o.apiv3Key ?? apiv3Key, o);
    const s = signer();
    const key = o.key === 'attacker' ? attacker.privateKey : s.key;
    const headers = signedHeaders(body0, key, o.serial ?? s.serial, { timestamp: o.timestamp });
    const body = o.tamper ? o.tamper(body0) : body0;
    return { url, headers, body, plain };
  }

  /** Delivers n (times, in parallel or one after the other); resolves to [{status, body}]. */
  async function deliver(n, { times = 1, parallel = false, url } = {}) {
    const one = async () => {
      counters.delivered++;
      const r = await fetch(url ?? n.url, { method: 'POST', headers: { ...n.headers, 'Content-Type': 'application/json', 'User-Agent': 'Mozilla/4.0' }, body: n.body });
      return { status: r.status, body: await r.text(), contentType: r.headers.get('content-type') };
    };
    if (parallel) return Promise.all(Array.from({ length: times }, one));
    const out = [];
    for (let i = 0; i < times; i++) out.push(await one());
    return out;
  }

  // ---- controls ----------------------------------------------------------------------------
  const ctl = {
    mode, mchid, appid, apiv3Key, merchantSerial, pubKeyId, env, dir, counters, requests,
    get platformSerial() { return signer().serial; },
    get merchantPublicKey() { return merchant.publicKey; },
    get platformKey() { return platforms.at(-1); },
    attacker,
    order(id) { return state.orders.get(id) ?? null; },
    refund(id) { return state.refunds.get(id) ?? null; },
    /** Marks the order paid (SUCCESS) and delivers TRANSACTION.SUCCESS unless lost. */
    async pay(id, { deliver: doDeliver = true, payer_total: payerTotal } = {}) {
      const o = state.orders.get(id);
      if (!o) throw new Error(`no order ${id} at the fake`);
      if (o.trade_state === 'NOTPAY' || o.trade_state === 'USERPAYING') {
        o.trade_state = 'SUCCESS';
        o.transaction_id = `4200${digits(24)}`;
        o.success_time = cnTime();
      }
      const n = notification('TRANSACTION.SUCCESS', { order: id, amount: payerTotal ? { payer_total: payerTotal } : undefined });
      if (!doDeliver) return { notification: n, deliveries: [] };
      if (state.lose > 0) {
        state.lose--;
        return { notification: n, deliveries: [], lost: true };
      }
      return { notification: n, deliveries: await deliver(n) };
    },
    setTradeState(id, s) {
      const o = state.orders.get(id);
      if (!o) throw new Error(`no order ${id} at the fake`);
      o.trade_state = s;
      if (s === 'SUCCESS' && !o.transaction_id) { o.transaction_id = `4200${digits(24)}`; o.success_time = cnTime(); }
    },
    notification,
    deliver,
    loseNext(n = 1) { state.lose += n; },
    /** The next `times` (default: every) requests to endpoint fail: HTTP status with code,
     * after delayMs, or never answered (hang). */
    fail(endpoint, { status = 500, code, message, times = Infinity, delayMs = 0, hang = false } = {}) {
      if (!ENDPOINTS.includes(endpoint)) throw new Error(`unknown endpoint ${endpoint}`);
      state.fail[endpoint] = { status, code, message, times, delayMs, hang };
    },
    clearFailures() { state.fail = {}; },
    setRefundStatus(s) { state.refundStatus = s; },
    declineRefunds(code = 'NOT_ENOUGH') { state.refundDecline = code; },
    tamperAnswers(on = true) { state.tamperAnswers = !!on; },
    /** Finishes a refund and delivers REFUND.<status> to its notify_url. */
    async completeRefund(outRefundNo, { status = 'SUCCESS' } = {}) {
      const r = state.refunds.get(outRefundNo);
      if (!r) throw new Error(`no refund ${outRefundNo} at the fake`);
      r.status = status;
      if (status === 'SUCCESS') r.success_time = cnTime();
      const n = notification(`REFUND.${status}`, { refund: outRefundNo });
      return { notification: n, deliveries: await deliver(n) };
    },
    /** A new platform certificate signs from now on (cert mode: Tollgate must download it). */
    rotateCertificate() {
      platforms.push(makePlatformKey(dir, `platform${platforms.length + 1}`));
      return platforms.at(-1).serial;
    },
    reset() {
      state.orders.clear();
      state.refunds.clear();
      state.fail = {};
      state.lose = 0;
      state.refundStatus = 'PROCESSING';
      state.refundDecline = null;
      state.tamperAnswers = false;
      for (const k of Object.keys(counters)) counters[k] = 0;
      requests.length = 0;
    },
  };

  const CONTROLS = ['pay', 'setTradeState', 'loseNext', 'fail', 'clearFailures', 'setRefundStatus', 'declineRefunds',
    'tamperAnswers', 'completeRefund', 'rotateCertificate', 'reset', 'order', 'refund', 'notification'];
  async function control(req, res, method) {
    const json = (status, obj) => { res.writeHead(status, { 'Content-Type': 'application/json' }); res.end(JSON.stringify(obj)); };
    if (method === 'counters' && req.method === 'GET') return json(200, { result: counters });
    if (req.method !== 'POST' || !CONTROLS.includes(method)) return json(404, { error: 'unknown control' });
    let args;
    try { args = JSON.parse((await readBody(req)) || '[]'); } catch { args = null; }
    if (!Array.isArray(args)) return json(400, { error: 'arguments must be a JSON array' });
    try {
      return json(200, { result: (await ctl[method](...args)) ?? null });
    } catch (e) {
      return json(400, { error: String(e.message) });
    }
  }

  async function route(req, res) {
    const url = new URL(req.url, 'http://fake');
    if (url.pathname.startsWith('/__control/')) return control(req, res, url.pathname.slice(11));
    const body = await readBody(req);
    const uri = url.pathname + url.search;
    requests.push({ method: req.method, uri, authorization: req.headers.authorization ?? null, body });
    if (requests.length > 200) requests.shift();
    if (!authorized(req, res, uri, req.method === 'GET' ? '' : body)) return undefined;
    let m;
    if (req.method === 'POST' && (m = /^\/v3\/pay\/transactions\/(native|jsapi|h5)$/.exec(url.pathname))) return createOrder(m[1], req, res, body);
    if (req.method === 'GET' && (m = /^\/v3\/pay\/transactions\/out-trade-no\/([^/]+)$/.exec(url.pathname))) return queryOrder(decodeURIComponent(m[1]), url, res);
    if (req.method === 'POST' && (m = /^\/v3\/pay\/transactions\/out-trade-no\/([^/]+)\/close$/.exec(url.pathname))) return closeOrder(decodeURIComponent(m[1]), res, body);
    if (req.method === 'POST' && url.pathname === '/v3/refund/domestic/refunds') return createRefund(res, body);
    if (req.method === 'GET' && (m = /^\/v3\/refund\/domestic\/refunds\/([^/]+)$/.exec(url.pathname))) {
      counters.refund_query++;
      if (forced('refund_query', res)) return undefined;
      const r = state.refunds.get(decodeURIComponent(m[1]));
      return r ? send(res, 200, JSON.stringify(refundAnswer(r))) : error(res, 404, 'RESOURCE_NOT_EXISTS', '退款单不存在');
    }
    if (req.method === 'GET' && url.pathname === '/v3/certificates') return certificates(res);
    return error(res, 404, 'NOT_FOUND', '资源不存在');
  }

  const server = http.createServer((req, res) => {
    route(req, res).catch((e) => { if (!res.headersSent) { res.writeHead(500); res.end(String(e)); } });
  });
  await new Promise((resolve) => server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', resolve));
  const { port } = server.address();
  ctl.port = port;
  ctl.url = `http://${opts.host ?? '127.0.0.1'}:${port}`;
  env.TG_WECHATPAY_API_BASE = ctl.url;
  ctl.close = async () => {
    for (const t of timers) clearTimeout(t);
    server.closeAllConnections?.();
    await new Promise((resolve) => server.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  };
  return ctl;
}

// ---- as a process ----------------------------------------------------------------------------
// ---- as a child process (lib/process.mjs) ----------------------------------------------
runAsProcess(import.meta.url, async (opt, args) => {
  const wp = await startFakeWechatpay({ port: Number(opt('--port') ?? 0), mode: opt('--mode') ?? 'pubkey',
    preloadCert: args.includes('--preload-cert') });
  return { fake: wp, line: { url: wp.url, port: wp.port, env: wp.env } };
});
