// Writes the Alipay vectors that tests/unit/providers/test_pay_alipay.c reads, made and
// checked with the official Node SDK (npm alipay-sdk, from tests/e2e/node_modules), into
// tests/unit/providers/data/alipay/:
//   app_private.pem, app_public.pem        a TEST-ONLY app key pair (PKCS#1, as Alipay's key
//                                          tool writes it for non-Java languages)
//   alipay_private.pem, alipay_public.pem  a TEST-ONLY key pair playing Alipay's
//   vectors.json                           {
//     "app_id", "now_ms",
//     "requests": [ {channel, method, order:{id, amount, expires_at}, subject, notify_url,
//                    return_url, cancel_url?, params:{... as AlipaySdk.sdkExecute signed them,
//                    sign included}} ],
//     "notifications": [ {name, body (form-encoded, as Alipay POSTs it), sdk_ok (what
//                    AlipaySdk.checkNotifySignV2 says), expect:{rc, kind?, ...}} ],
//     "answers": [ {name, method, body, sdk_ok (AlipaySdk.checkResponseSign), expect:{rc, signed}} ] }
// Nothing here is a real credential: every private key is made fresh by this script.
// Run from anywhere:  node tests/fakes/gen_alipay_vectors.mjs
// Keys are new on every run, so re-running rewrites every file; commit them together.
import { createSign, generateKeyPairSync } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const requireFromE2e = createRequire(new URL('../e2e/package.json', import.meta.url));
const { AlipaySdk } = requireFromE2e('alipay-sdk');

const dir = fileURLToPath(new URL('../unit/providers/data/alipay', import.meta.url));
mkdirSync(dir, { recursive: true });
const put = (name, text) => writeFileSync(`${dir}/${name}`, text);

const APP_ID = '2021000000000001';
const app = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ali = generateKeyPairSync('rsa', { modulusLength: 2048 });
const appPriv = app.privateKey.export({ type: 'pkcs1', format: 'pem' });
const appPub = app.publicKey.export({ type: 'spki', format: 'pem' });
const aliPriv = ali.privateKey.export({ type: 'pkcs8', format: 'pem' });
const aliPub = ali.publicKey.export({ type: 'spki', format: 'pem' });
put('app_private.pem', appPriv);
put('app_public.pem', appPub);
put('alipay_private.pem', aliPriv);
put('alipay_public.pem', aliPub);

// The merchant's SDK (signs with the app key, checks with Alipay's) and one in Alipay's shoes
// (its "app" key is Alipay's: used to check that notifications verify as the SDK says).
const merchant = new AlipaySdk({ appId: APP_ID, privateKey: appPriv, alipayPublicKey: aliPub });

// 2026-11-29 16:30:00 in Beijing.
const NOW_MS = Date.UTC(2026, 10, 29, 8, 30, 0);
const beijing = (ms) => new Date(ms + 8 * 3600e3).toISOString().slice(0, 19).replace('T', ' ');

// ---- requests: what our checkout must produce, signed by the SDK ----------------------------
const requests = [];
for (const [channel, method, productCode] of [
  ['page', 'alipay.trade.page.pay', 'FAST_INSTANT_TRADE_PAY'],
  ['wap', 'alipay.trade.wap.pay', 'QUICK_WAP_WAY'],
]) {
  const order = { id: `ord_01J${channel.toUpperCase()}VECTOR000000000`, amount: 6800, expires_at: NOW_MS + 15 * 60e3 };
  const subject = '115 积分 credits & more = 100%+';
  const notifyUrl = 'https://tollgate.example/api/v1/webhooks/alipay';
  const returnUrl = `https://tollgate.example/api/v1/orders/${order.id}/return`;
  const cancelUrl = channel === 'wap' ? 'https://app.example/cancel?from=alipay' : undefined;
  const biz = {
    out_trade_no: order.id,
    total_amount: '68.00',
    subject,
    product_code: productCode,
    time_expire: beijing(order.expires_at),
  };
  if (cancelUrl) biz.quit_url = cancelUrl;
  const query = merchant.sdkExecute(method, {
    timestamp: beijing(NOW_MS),
    format: 'JSON',
    notifyUrl,
    returnUrl,
    bizContent: biz,
  });
  const params = Object.fromEntries(new URLSearchParams(query));
  requests.push({ channel, method, order, subject, notify_url: notifyUrl, return_url: returnUrl,
    ...(cancelUrl ? { cancel_url: cancelUrl } : {}), params });
}

// ---- notifications ----------------------------------------------------------------------------
// Alipay's rule (rsaCheckV1): everything but sign and sign_type, empty values out, sorted,
// raw decoded values, RSA-SHA256 with Alipay's key.
export function notifyContent(params, withSignType = false) {
  return Object.keys(params)
    .filter((k) => k !== 'sign' && (withSignType || k !== 'sign_type') && params[k] !== '' && params[k] != null)
    .sort()
    .map((k) => `${k}=${params[k]}`)
    .join('&');
}
const signWith = (key, text) => createSign('RSA-SHA256').update(text, 'utf8').sign(key, 'base64');
const formBody = (params) => new URLSearchParams(params).toString();

function notification(over = {}, { key = aliPriv, withSignType = false, drop = [] } = {}) {
  const p = {
    gmt_create: '2026-11-29 16:30:05',
    charset: 'utf-8',
    seller_email: 'merchant@example.com',
    subject: '115 积分 credits & more = 100%+',
    sign_type: 'RSA2',
    buyer_id: '2088102177846880',
    invoice_amount: '68.00',
    notify_id: '2026112900222163005067460509318650',
    fund_bill_list: '[{"amount":"68.00","fundChannel":"ALIPAYACCOUNT"}]',
    notify_type: 'trade_status_sync',
    trade_status: 'TRADE_SUCCESS',
    receipt_amount: '68.00',
    app_id: APP_ID,
    buyer_pay_amount: '68.00',
    seller_id: '2088102177649450',
    gmt_payment: '2026-11-29 16:30:06',
    notify_time: '2026-11-29 16:30:07',
    version: '1.0',
    out_trade_no: 'ord_01JNOTIFYVECTOR00000000000',
    total_amount: '68.00',
    trade_no: '2026112922001446880500123456',
    auth_app_id: APP_ID,
    buyer_logon_id: 'abc***@example.com',
    point_amount: '0.00',
    ...over,
  };
  for (const k of drop) delete p[k];
  for (const k of Object.keys(p)) if (p[k] === undefined) delete p[k];
  p.sign = signWith(key, notifyContent(p, withSignType));
  return p;
}

const paid = { rc: 'ok', kind: 'paid', event_id: '2026112900222163005067460509318650', type: 'TRADE_SUCCESS',
  order_id: 'ord_01JNOTIFYVECTOR00000000000', provider_ref: '2026112922001446880500123456', amount: 6800, currency: 'CNY' };
const notifications = [];
const addN = (name, params, expect, body) => {
  const decoded = Object.fromEntries(new URLSearchParams(body ?? formBody(params)));
  notifications.push({ name, body: body ?? formBody(params), sdk_ok: merchant.checkNotifySignV2(decoded), expect });
};
addN('paid', notification(), paid);
addN('finished', notification({ trade_status: 'TRADE_FINISHED', notify_id: 'nfin_0001' }),
  { ...paid, event_id: 'nfin_0001', type: 'TRADE_FINISHED' });
addN('paid_0_01', notification({ total_amount: '0.01', receipt_amount: '0.01', invoice_amount: '0.01', buyer_pay_amount: '0.01' }),
  { ...paid, amount: 1 });
addN('closed', notification({ trade_status: 'TRADE_CLOSED', notify_id: 'nclosed_1', gmt_close: '2026-11-29 16:45:00' }),
  { rc: 'ok', kind: 'failed', event_id: 'nclosed_1', type: 'TRADE_CLOSED', order_id: paid.order_id, amount: 6800, currency: 'CNY' });
addN('wait_buyer_pay', notification({ trade_status: 'WAIT_BUYER_PAY', gmt_payment: undefined }), { rc: 'ignored' });
addN('unknown_status', notification({ trade_status: 'TRADE_PENDING_SOMETHING' }), { rc: 'ignored' });
addN('refund_ours', notification({ notify_id: 'nrefund_1', refund_fee: '20.00', gmt_refund: '2026-11-30 10:00:00.123',
  out_biz_no: 'rfd_01JREFUNDVECTOR000000000' }),
{ rc: 'ok', kind: 'refund', event_id: 'nrefund_1', order_id: paid.order_id, provider_ref: paid.provider_ref,
  refund_id: 'rfd_01JREFUNDVECTOR000000000', provider_refund_id: '2026112922001446880500123456:rfd_01JREFUNDVECTOR000000000',
  amount: 0, currency: 'CNY' });
addN('refund_full_closed', notification({ trade_status: 'TRADE_CLOSED', notify_id: 'nrefund_2', refund_fee: '68.00',
  gmt_refund: '2026-11-30 10:00:00.123', out_biz_no: 'rfd_01JREFUNDVECTOR000000001' }),
{ rc: 'ok', kind: 'refund', event_id: 'nrefund_2', order_id: paid.order_id, refund_id: 'rfd_01JREFUNDVECTOR000000001', amount: 0 });
addN('refund_dashboard', notification({ notify_id: 'nrefund_3', refund_fee: '1.00', gmt_refund: '2026-11-30 10:00:00.123',
  out_biz_no: 'HZ01RF001' }), { rc: 'ok', kind: 'refund', event_id: 'nrefund_3', refund_id: '', amount: 0,
  provider_refund_id: '2026112922001446880500123456:HZ01RF001' });
addN('refund_without_out_biz_no', notification({ notify_id: 'nrefund_4', refund_fee: '1.00', gmt_refund: '2026-11-30 10:00:00.123' }),
  { rc: 'ignored', reason: 'refund_not_identifiable' });
// Signed as rsaCheckV2 (sign_type included): the SDK accepts it (it tries both), Alipay never
// sends it, and we verify V1 only.
addN('signed_with_sign_type', notification({}, { withSignType: true }), { rc: 'invalid', reason: 'signature_mismatch' });
addN('signed_with_app_key', notification({}, { key: appPriv }), { rc: 'invalid', reason: 'signature_mismatch' });
addN('other_app', notification({ app_id: '2021000000009999' }), { rc: 'invalid', reason: 'app_id_mismatch' });
{
  const p = notification();
  addN('tampered_amount', p, { rc: 'invalid', reason: 'signature_mismatch' }, formBody(p).replace('total_amount=68.00', 'total_amount=0.01'));
  addN('duplicate_amount', p, { rc: 'invalid', reason: 'body_malformed' }, `${formBody(p)}&total_amount=0.01`);
  addN('no_sign', p, { rc: 'invalid', reason: 'signature_missing' }, formBody({ ...p, sign: '' }));
  const body = formBody(p);
  // A '+' in the signature sent raw is a space to a form decoder: not base64, not a signature.
  let q = p;
  for (let i = 0; !q.sign.includes('+'); i++) q = notification({ notify_id: `nplus_${i}` });
  addN('sign_plus_unencoded', q, { rc: 'invalid', reason: 'signature_mismatch' },
    formBody(q).replace(/sign=[^&]*/, `sign=${q.sign.replaceAll('/', '%2F').replaceAll('=', '%3D')}`));
  addN('sign_type_rsa', p, { rc: 'invalid', reason: 'sign_type_not_rsa2' }, body.replace('sign_type=RSA2', 'sign_type=RSA'));
}
addN('charset_gbk', notification({ charset: 'gbk' }), { rc: 'invalid', reason: 'charset_not_utf8' });
addN('currency_usd', notification({ trans_currency: 'USD' }), { rc: 'invalid', reason: 'currency_not_cny' });
addN('amount_three_decimals', notification({ total_amount: '68.001' }), { rc: 'invalid', reason: 'body_malformed' });
addN('amount_negative', notification({ total_amount: '-68.00' }), { rc: 'invalid', reason: 'body_malformed' });
addN('amount_zero', notification({ total_amount: '0.00' }), { rc: 'invalid', reason: 'body_malformed' });
addN('amount_exponent', notification({ total_amount: '6.8e1' }), { rc: 'invalid', reason: 'body_malformed' });
addN('no_notify_id', notification({}, { drop: ['notify_id'] }), { rc: 'invalid', reason: 'body_malformed' });
addN('order_id_oversized', notification({ out_trade_no: `ord_${'A'.repeat(60)}` }), { rc: 'invalid', reason: 'body_malformed' });
addN('order_id_with_quote', notification({ out_trade_no: 'ord_1"x' }), { rc: 'invalid', reason: 'body_malformed' });

// ---- gateway answers ------------------------------------------------------------------------
// Alipay signs the exact text of the response object and appends "sign" beside it.
function answer(method, inner, { key = aliPriv, escapeSlashes = false, unsigned = false, errorResponse = false } = {}) {
  let text = JSON.stringify(inner);
  if (escapeSlashes) text = text.replaceAll('/', '\\/');
  const responseKey = errorResponse ? 'error_response' : `${method.replaceAll('.', '_')}_response`;
  if (unsigned) return `{"${responseKey}":${text}}`;
  return `{"${responseKey}":${text},"sign":"${signWith(key, text)}"}`;
}
const answers = [];
const addA = (name, method, body, expect) => {
  let sdkOk = true;
  try {
    const responseKey = `${method.replaceAll('.', '_')}_response`;
    const parsed = JSON.parse(body);
    merchant.checkResponseSign(body, responseKey, parsed.sign);
  } catch {
    sdkOk = false;
  }
  answers.push({ name, method, body, sdk_ok: sdkOk, expect });
};
const pre = { code: '10000', msg: 'Success', out_trade_no: 'ord_01JQRVECTOR0000000000000', qr_code: 'https://qr.alipay.com/bax03206ug0kulveltqc80a8' };
addA('precreate', 'alipay.trade.precreate', answer('alipay.trade.precreate', pre), { rc: 'ok', signed: 1 });
addA('precreate_escaped_slashes', 'alipay.trade.precreate', answer('alipay.trade.precreate', pre, { escapeSlashes: true }), { rc: 'ok', signed: 1 });
addA('precreate_pretty', 'alipay.trade.precreate',
  answer('alipay.trade.precreate', pre).replace('{"alipay', '{\n  "alipay').replace(',"sign":', ',\n  "sign" : '),
  { rc: 'ok', signed: 1 });
addA('precreate_app_key', 'alipay.trade.precreate', answer('alipay.trade.precreate', pre, { key: appPriv }),
  { rc: 'misconfigured', reason: 'response_signature_invalid' });
addA('precreate_tampered', 'alipay.trade.precreate',
  answer('alipay.trade.precreate', pre).replace('bax03206', 'evil0000'), { rc: 'misconfigured', reason: 'response_signature_invalid' });
addA('precreate_unsigned', 'alipay.trade.precreate', answer('alipay.trade.precreate', pre, { unsigned: true }), { rc: 'ok', signed: 0 });
addA('query_paid', 'alipay.trade.query', answer('alipay.trade.query', { code: '10000', msg: 'Success',
  trade_no: '2026112922001446880500123456', out_trade_no: 'ord_01JQUERYVECTOR00000000000', buyer_logon_id: 'abc***@example.com',
  trade_status: 'TRADE_SUCCESS', total_amount: '68.00', send_pay_date: '2026-11-29 16:30:06' }), { rc: 'ok', signed: 1 });
addA('query_not_exist', 'alipay.trade.query', answer('alipay.trade.query', { code: '40004', msg: 'Business Failed',
  sub_code: 'ACQ.TRADE_NOT_EXIST', sub_msg: '交易不存在' }), { rc: 'ok', signed: 1 });
addA('gateway_error', 'alipay.trade.query', answer('alipay.trade.query', { code: '40002', msg: 'Invalid Arguments',
  sub_code: 'isv.invalid-app-id', sub_msg: '无效的AppID参数' }, { unsigned: true, errorResponse: true }), { rc: 'ok', signed: 0 });
addA('refund_y', 'alipay.trade.refund', answer('alipay.trade.refund', { code: '10000', msg: 'Success',
  trade_no: '2026112922001446880500123456', out_trade_no: 'ord_01JQUERYVECTOR00000000000', buyer_logon_id: 'abc***@example.com',
  fund_change: 'Y', refund_fee: '20.00', gmt_refund_pay: '2026-11-30 10:00:00' }), { rc: 'ok', signed: 1 });
addA('duplicate_member', 'alipay.trade.query',
  answer('alipay.trade.query', { code: '10000', trade_status: 'WAIT_BUYER_PAY', out_trade_no: 'ord_1' }).replace('"code":"10000"', '"code":"10000","code":"40004"'),
  { rc: 'unavailable', reason: 'bad_answer' });
addA('not_json', 'alipay.trade.query', '<html>502 Bad Gateway</html>', { rc: 'unavailable', reason: 'bad_answer' });
addA('wrong_method', 'alipay.trade.query', answer('alipay.trade.refund', { code: '10000' }), { rc: 'unavailable', reason: 'bad_answer' });
addA('escaped_key', 'alipay.trade.query',
  answer('alipay.trade.query', { code: '10000' }).replace('"alipay_trade_query_response"', '"alipay\\u005ftrade_query_response"'),
  { rc: 'unavailable', reason: 'bad_answer' });

put('vectors.json', `${JSON.stringify({ app_id: APP_ID, now_ms: NOW_MS, requests, notifications, answers }, null, 1)}\n`);
console.log(`wrote ${dir}: ${requests.length} requests, ${notifications.length} notifications, ${answers.length} answers`);
