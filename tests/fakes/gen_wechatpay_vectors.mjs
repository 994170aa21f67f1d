// Writes the WeChat Pay APIv3 vectors that tests/unit/providers/test_pay_wechatpay.c reads,
// made with wechatpay-axios-plugin's Rsa, Aes.AesGcm and Formatter (code we did not write)
// and the openssl command (the platform certificate), into tests/unit/providers/data/wechatpay/:
//   merchant_key.pem, merchant_pub.pem   a TEST-ONLY merchant API key (apiclient_key.pem)
//   platform_key.pem, platform_pub.pem   a TEST-ONLY platform key ("微信支付公钥")
//   platform_cert.pem                    a certificate for the same key (certificate mode)
//   vectors.json                         notifications (headers, raw body, what Tollgate must
//                                        conclude), a request signature, JSAPI paySign, a
//                                        GET /v3/certificates answer, query and refund answers
// Nothing here is a real credential: every key is made fresh by this script.
// Run from anywhere:  node tests/fakes/gen_wechatpay_vectors.mjs   (needs `openssl` on PATH)
// Keys are new on every run, so re-running rewrites every file; commit them together.
import { generateKeyPairSync } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Aes, Formatter, Rsa, envelope, makePlatformKey, signedHeaders } from './wechatpay.mjs';

const dir = fileURLToPath(new URL('../unit/providers/data/wechatpay', import.meta.url));
mkdirSync(dir, { recursive: true });
const put = (name, t) => writeFileSync(`${dir}/${name}`, t);
const tmp = mkdtempSync(join(tmpdir(), 'tg-gen-wechatpay-'));

const NOW = 1764400000; // the "now" of every vector (2025-11-29T07:06:40Z)
const MCHID = '1230000109';
const APPID = 'wxd678efh567hg6787';
const APIV3 = 'a7Yk3Qz9Lm2Np8Rt5Vw1Xb4Cd6Ef0GhJ'; // 32 bytes, TEST-ONLY
const OTHER_APIV3 = 'Zz9Yy8Xx7Ww6Vv5Uu4Tt3Ss2Rr1Qq0Pp';
const PUB_KEY_ID = 'PUB_KEY_ID_0112300001092025112900000000000001';

const merchant = generateKeyPairSync('rsa', { modulusLength: 2048 });
put('merchant_key.pem', merchant.privateKey.export({ type: 'pkcs8', format: 'pem' }));
put('merchant_pub.pem', merchant.publicKey.export({ type: 'spki', format: 'pem' }));
const platform = makePlatformKey(tmp, 'platform');
copyFileSync(platform.keyPath, `${dir}/platform_key.pem`);
copyFileSync(platform.pubPath, `${dir}/platform_pub.pem`);
copyFileSync(platform.certPath, `${dir}/platform_cert.pem`);
const attacker = makePlatformKey(tmp, 'attacker');

const lower = (h) => Object.fromEntries(Object.entries(h).map(([k, v]) => [k.toLowerCase(), v]));
const sign = (body, o = {}) => lower(signedHeaders(body, o.key ?? platform.privateKey, o.serial ?? PUB_KEY_ID,
  { timestamp: o.timestamp ?? NOW, nonce: o.nonce }));

const transaction = (o = {}) => ({
  mchid: MCHID, appid: APPID, out_trade_no: 'ord_01KB5Q3VJ4ZQ8E2W6T9YH3N7MA', transaction_id: '4200002741202511290000000001',
  trade_type: 'NATIVE', trade_state: 'SUCCESS', trade_state_desc: '支付成功', bank_type: 'OTHERS', attach: '',
  success_time: '2025-11-29T15:06:00+08:00', payer: { openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o' },
  amount: { total: 6800, payer_total: 6800, currency: 'CNY', payer_currency: 'CNY' }, ...o,
});
const refund = (o = {}) => ({
  mchid: MCHID, transaction_id: '4200002741202511290000000001', out_trade_no: 'ord_01KB5Q3VJ4ZQ8E2W6T9YH3N7MA',
  refund_id: '50000000382019052709732678859', out_refund_no: 'rfd_01KB5Q9M0R7C2X4V6B8N1M3K5J', refund_status: 'SUCCESS',
  success_time: '2025-11-29T15:30:00+08:00', user_received_account: '支付用户零钱',
  amount: { total: 6800, refund: 1700, payer_total: 6800, payer_refund: 1700 }, ...o,
});
const paidExpect = (t = transaction()) => ({ rc: 'ok', kind: 'paid', event_id: t.transaction_id, type: 'TRANSACTION.SUCCESS',
  order_id: t.out_trade_no, provider_ref: t.transaction_id, amount: t.amount.total, currency: t.amount.currency });

const cases = [];
const add = (name, headers, body, expect) => cases.push({ name, headers, body, expect });
const note = (eventType, plain, o = {}) => envelope(eventType, plain, o.apiv3 ?? APIV3,
  { id: o.id ?? 'EV-2018022511223320873', nonce: o.nonce ?? 'fdasflkja484', associatedData: o.ad });

{ const b = note('TRANSACTION.SUCCESS', transaction()); add('paid', sign(b), b, paidExpect()); }
{
  const b = note('TRANSACTION.SUCCESS', transaction());
  add('paid_certificate_serial', sign(b, { serial: platform.serial }), b, { ...paidExpect(), mode: 'cert' });
}
{
  const b = note('TRANSACTION.SUCCESS', transaction(), { ad: '' });
  add('paid_empty_associated_data', sign(b), b, paidExpect());
}
{
  const r = refund();
  const b = note('REFUND.SUCCESS', r);
  add('refund', sign(b), b, { rc: 'ok', kind: 'refund', event_id: r.refund_id, type: 'REFUND.SUCCESS', order_id: r.out_trade_no,
    provider_ref: r.transaction_id, amount: 1700, currency: 'CNY', refund_id: r.out_refund_no, provider_refund_id: r.refund_id });
}
{ const b = note('REFUND.ABNORMAL', refund({ refund_status: 'ABNORMAL' })); add('refund_abnormal', sign(b), b, { rc: 'ignored', reason: 'refund_abnormal' }); }
{ const b = note('REFUND.CLOSED', refund({ refund_status: 'CLOSED' })); add('refund_closed', sign(b), b, { rc: 'ignored', reason: 'refund_closed' }); }
{ const b = note('TRANSACTION.SUCCESS', transaction({ trade_state: 'NOTPAY' })); add('trade_state_notpay', sign(b), b, { rc: 'ignored', reason: 'trade_state_not_success' }); }
{ const b = note('MCHTRANSFER.BILL.FINISHED', { mchid: MCHID }); add('event_type_other', sign(b), b, { rc: 'ignored', reason: 'event_type_not_handled' }); }
{
  const b = note('TRANSACTION.SUCCESS', transaction());
  add('forged_other_key', sign(b, { key: attacker.privateKey }), b, { rc: 'invalid', reason: 'signature_mismatch' });
  add('forged_other_key_cert_serial', sign(b, { key: attacker.privateKey, serial: platform.serial }), b,
    { rc: 'invalid', reason: 'signature_mismatch', mode: 'cert' });
  const h = sign(b);
  add('tampered_body', h, b.replace('EV-2018022511223320873', 'EV-2018022511223320874'), { rc: 'invalid', reason: 'signature_mismatch' });
  add('tampered_trailing_newline', h, `${b}\n`, { rc: 'invalid', reason: 'signature_mismatch' });
  add('stale', sign(b, { timestamp: NOW - 301 }), b, { rc: 'invalid', reason: 'timestamp_out_of_tolerance' });
  add('stale_exactly_300', sign(b, { timestamp: NOW - 300 }), b, { rc: 'invalid', reason: 'timestamp_out_of_tolerance' });
  add('fresh_299', sign(b, { timestamp: NOW - 299 }), b, paidExpect());
  add('future', sign(b, { timestamp: NOW + 301 }), b, { rc: 'invalid', reason: 'timestamp_out_of_tolerance' });
  add('unknown_public_key_id', sign(b, { serial: 'PUB_KEY_ID_0112300001092025112900000000000002' }), b, { rc: 'invalid', reason: 'unknown_serial' });
  add('signtest_probe', { ...h, 'wechatpay-signature': `WECHATPAY/SIGNTEST/${h['wechatpay-signature'].slice(19)}` }, b,
    { rc: 'invalid', reason: 'signature_mismatch' });
  add('signature_not_base64', { ...h, 'wechatpay-signature': '!!!!' }, b, { rc: 'invalid', reason: 'signature_mismatch' });
  const { 'wechatpay-nonce': _n, ...noNonce } = h;
  add('nonce_missing', noNonce, b, { rc: 'invalid', reason: 'signature_header_missing' });
  const { 'wechatpay-serial': _s, ...noSerial } = h;
  add('serial_missing', noSerial, b, { rc: 'invalid', reason: 'signature_header_missing' });
  add('signature_type_other', { ...h, 'wechatpay-signature-type': 'WECHATPAY2-SM2-WITH-SM3' }, b, { rc: 'invalid', reason: 'signature_type_unknown' });
  add('timestamp_not_digits', { ...h, 'wechatpay-timestamp': `${NOW}.0` }, b, { rc: 'invalid', reason: 'timestamp_malformed' });
  add('serial_too_long', { ...h, 'wechatpay-serial': 'A'.repeat(65) }, b, { rc: 'invalid', reason: 'serial_malformed' });
  add('signature_too_long', { ...h, 'wechatpay-signature': 'A'.repeat(1404) }, b, { rc: 'invalid', reason: 'signature_malformed' });
  add('nonce_with_newline', sign(b, { nonce: 'abc\ndef' }), b, { rc: 'invalid', reason: 'nonce_malformed' });
}
{ const b = note('TRANSACTION.SUCCESS', transaction(), { apiv3: OTHER_APIV3 }); add('other_apiv3_key', sign(b), b, { rc: 'invalid', reason: 'resource_not_decrypted' }); }
{ const b = note('TRANSACTION.SUCCESS', transaction({ mchid: '1900000001' })); add('other_merchant', sign(b), b, { rc: 'invalid', reason: 'mchid_mismatch' }); }
{ const t = transaction({ amount: { total: 6800, payer_total: 6800, currency: 'cny', payer_currency: 'CNY' } }); const b = note('TRANSACTION.SUCCESS', t); add('currency_lower_case', sign(b), b, { rc: 'invalid', reason: 'currency_malformed' }); }
{ const t = transaction({ amount: { total: 6800, payer_total: 6800, currency: 'USD', payer_currency: 'CNY' } }); const b = note('TRANSACTION.SUCCESS', t); add('currency_usd', sign(b), b, paidExpect(t)); }
{ const t = transaction({ amount: { total: 990, payer_total: 990, currency: 'CNY', payer_currency: 'CNY' } }); const b = note('TRANSACTION.SUCCESS', t); add('amount_other', sign(b), b, paidExpect(t)); }
{ const t = transaction({ amount: { total: '6800', currency: 'CNY' } }); const b = note('TRANSACTION.SUCCESS', t); add('amount_string', sign(b), b, { rc: 'invalid', reason: 'resource_malformed' }); }
{ const t = transaction({ amount: { total: 0, currency: 'CNY' } }); const b = note('TRANSACTION.SUCCESS', t); add('amount_zero', sign(b), b, { rc: 'invalid', reason: 'resource_malformed' }); }
{ const t = transaction({ amount: { total: 68.5, currency: 'CNY' } }); const b = note('TRANSACTION.SUCCESS', t); add('amount_fraction', sign(b), b, { rc: 'invalid', reason: 'resource_malformed' }); }
{ const t = transaction({ out_trade_no: `ord_${'A'.repeat(200)}` }); const b = note('TRANSACTION.SUCCESS', t); add('out_trade_no_too_long', sign(b), b, { rc: 'invalid', reason: 'resource_malformed' }); }
{ const t = transaction({ transaction_id: '4200"injected' }); const b = note('TRANSACTION.SUCCESS', t); add('transaction_id_bad_chars', sign(b), b, { rc: 'invalid', reason: 'resource_malformed' }); }
{ const b = note('TRANSACTION.SUCCESS', transaction(), { nonce: 'fdasflkja484w' }); add('resource_nonce_13', sign(b), b, { rc: 'invalid', reason: 'resource_malformed' }); }
{
  const plain = JSON.stringify(transaction()).replace('"trade_state":"SUCCESS"', '"trade_state":"SUCCESS","trade_state":"SUCCESS"');
  const b = note('TRANSACTION.SUCCESS', plain); add('resource_duplicate_key', sign(b), b, { rc: 'invalid', reason: 'resource_not_json' });
}
{
  const b = note('TRANSACTION.SUCCESS', transaction()).replace('"event_type"', '"event_type":"REFUND.SUCCESS","event_type"');
  add('envelope_duplicate_key', sign(b), b, { rc: 'invalid', reason: 'body_malformed' });
}
{ const b = 'not json'; add('body_not_json', sign(b), b, { rc: 'invalid', reason: 'body_malformed' }); }
{ const b = ''; add('body_empty', sign(b), b, { rc: 'invalid', reason: 'body_size' }); }

// A request signature, and JSAPI's paySign (both deterministic, RSA PKCS#1 v1.5).
const reqBody = JSON.stringify({ appid: APPID, mchid: MCHID, description: '115 credits', out_trade_no: 'ord_01KB5Q3VJ4ZQ8E2W6T9YH3N7MA',
  notify_url: 'https://pay.example.com/api/v1/webhooks/wechatpay', amount: { total: 6800, currency: 'CNY' } });
const request = { method: 'POST', uri: '/v3/pay/transactions/native', timestamp: 1554208460, nonce: '593BEC0C930BF1AFEB40B4A08C8FB242', body: reqBody };
request.signature = Rsa.sign(Formatter.request(request.method, request.uri, request.timestamp, request.nonce, request.body), merchant.privateKey);
request.authorization = Formatter.authorization(MCHID, request.nonce, request.signature, request.timestamp, 'MERCHANTSERIAL');
const get = { method: 'GET', uri: `/v3/pay/transactions/out-trade-no/ord_01KB5Q3VJ4ZQ8E2W6T9YH3N7MA?mchid=${MCHID}`, timestamp: 1554208460, nonce: '593BEC0C930BF1AFEB40B4A08C8FB242', body: '' };
get.signature = Rsa.sign(Formatter.request(get.method, get.uri, get.timestamp, get.nonce, ''), merchant.privateKey);
const jsapi = { appId: APPID, timeStamp: '1554208460', nonceStr: '593BEC0C930BF1AFEB40B4A08C8FB242', prepay_id: 'wx201410272009395522657a690389285100' };
jsapi.paySign = Rsa.sign(Formatter.joinedByLineFeed(jsapi.appId, jsapi.timeStamp, jsapi.nonceStr, `prepay_id=${jsapi.prepay_id}`), merchant.privateKey);

// GET /v3/certificates answers.
const certItem = (p, o = {}) => {
  const nonce = o.nonce ?? '43061e3f2b4d';
  return { serial_no: o.serial ?? p.serial, effective_time: '2025-01-01T00:00:00+08:00', expire_time: '2030-01-01T00:00:00+08:00',
    encrypt_certificate: { algorithm: 'AEAD_AES_256_GCM', nonce, associated_data: 'certificate', ciphertext: Aes.AesGcm.encrypt(p.certPem, o.apiv3 ?? APIV3, nonce, 'certificate') } };
};
const certAnswer = (items, o = {}) => { const body = JSON.stringify({ data: items }); return { headers: sign(body, { serial: o.serial ?? platform.serial, key: o.key }), body }; };
const certificates = {
  ok: certAnswer([certItem(platform)]),
  two: certAnswer([certItem(attacker), certItem(platform)]),
  serial_mismatch: certAnswer([certItem(platform, { serial: attacker.serial })]),
  other_apiv3_key: certAnswer([certItem(platform, { apiv3: OTHER_APIV3 })]),
  signed_by_stranger: certAnswer([certItem(attacker)], { key: platform.privateKey, serial: attacker.serial }),
  empty: certAnswer([]),
};

const answer = (obj) => { const body = JSON.stringify(obj); return { headers: sign(body), body }; };
const queries = {
  success: answer(transaction()),
  refund_state: answer(transaction({ trade_state: 'REFUND' })),
  notpay: answer({ ...transaction({ trade_state: 'NOTPAY', trade_state_desc: '未支付' }), transaction_id: undefined, payer: undefined }),
  userpaying: answer(transaction({ trade_state: 'USERPAYING' })),
  closed: answer(transaction({ trade_state: 'CLOSED' })),
  payerror: answer(transaction({ trade_state: 'PAYERROR' })),
  revoked: answer(transaction({ trade_state: 'REVOKED' })),
  other_order: answer(transaction({ out_trade_no: 'ord_01KB5Q3VJ4ZQ8E2W6T9YH3N7MB' })),
  other_merchant: answer(transaction({ mchid: '1900000001' })),
  unknown_state: answer(transaction({ trade_state: 'SOMETHING' })),
};
const refundAnswer = (status) => answer({ refund_id: '50000000382019052709732678859', out_refund_no: 'rfd_01KB5Q9M0R7C2X4V6B8N1M3K5J',
  transaction_id: '4200002741202511290000000001', out_trade_no: 'ord_01KB5Q3VJ4ZQ8E2W6T9YH3N7MA', channel: 'ORIGINAL',
  user_received_account: '支付用户零钱', create_time: '2025-11-29T15:20:00+08:00', status, funds_account: 'AVAILABLE',
  amount: { total: 6800, refund: 1700, payer_total: 6800, payer_refund: 1700, settlement_refund: 1700, settlement_total: 6800, discount_refund: 0, currency: 'CNY' } });
const refunds = { processing: refundAnswer('PROCESSING'), success: refundAnswer('SUCCESS'), abnormal: refundAnswer('ABNORMAL'), closed: refundAnswer('CLOSED') };

put('vectors.json', `${JSON.stringify({
  generator: 'tests/fakes/gen_wechatpay_vectors.mjs (wechatpay-axios-plugin Rsa, Aes.AesGcm, Formatter)',
  now: NOW, mchid: MCHID, appid: APPID, apiv3_key: APIV3, pub_key_id: PUB_KEY_ID, platform_serial: platform.serial,
  attacker_serial: attacker.serial, cases, request, get, jsapi, certificates, queries, refunds,
}, null, 1)}\n`);
rmSync(tmp, { recursive: true, force: true });
console.log(`wrote ${dir} (${cases.length} notification cases)`);
