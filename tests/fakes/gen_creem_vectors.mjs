// Writes the Creem notification vectors that tests/unit/providers/test_pay_creem.c reads
// (tests/unit/providers/data/creem/webhooks.json), signed and checked with code we did not
// write: `standardwebhooks` (Webhook.sign / verify) for the Standard Webhooks headers,
// node:crypto for the legacy `creem-signature`, and the `creem` SDK's verifyWebhookSignature
// for the verdict every case records as "sdk" (true: the SDK accepts the signature).
// A case where Tollgate deliberately refuses what the SDK accepts says why in
// "differs_from_sdk". The clock is frozen at NOW so that the file is the same on every run.
// Run from anywhere:  node tests/fakes/gen_creem_vectors.mjs   (after `npm ci` in tests/e2e)
import { createHmac } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

const e2e = fileURLToPath(new URL('../e2e/', import.meta.url));
const require = createRequire(e2e);
const { Webhook } = require('standardwebhooks');
const { verifyWebhookSignature } = await import(pathToFileURL(`${e2e}node_modules/creem/dist/esm/webhooks.js`).href);

const NOW = 1764400000; // seconds; the test runs the verifier at NOW * 1000 ms
Date.now = () => NOW * 1000;

// TEST-ONLY secrets. Standard Webhooks secrets are "whsec_" + base64 of the key.
const SECRET = `whsec_${Buffer.from('tollgate creem test key, 32 bytes').toString('base64')}`;
const OTHER = `whsec_${Buffer.from('somebody else entirely, 32 bytes').toString('base64')}`;
const UNPADDED = `whsec_${Buffer.from('tollgate creem test key 2').toString('base64').replace(/=+$/, '')}`;
const NOT_BASE64 = 'whsec_not*base64!';

const stdSign = (secret, id, ts, body) => new Webhook(secret).sign(id, new Date(ts * 1000), body);
const legacySign = (secret, body) => createHmac('sha256', secret).update(body).digest('hex');
const stdHeaders = (secret, id, ts, body) => ({ 'webhook-id': id, 'webhook-timestamp': String(ts), 'webhook-signature': stdSign(secret, id, ts, body) });

// ---- bodies, shaped like Creem's (PROVIDERS.md 5.3, the SDK's webhook entities) ------------
const ORDER = 'ord_01JDCREEM0000000000000001';
const order = (o = {}) => ({ id: 'ord_4aDwWXjMLpes4Kj4XqNnUA', object: 'order', customer: 'cust_1', product: 'prod_115',
  transaction: 'tran_3JQq2rj4Xz', amount: 990, currency: 'USD', status: 'paid', type: 'onetime', mode: 'test',
  created_at: '2026-11-29T08:00:00.000Z', updated_at: '2026-11-29T08:00:01.000Z', ...o });
const checkout = (o = {}) => ({ id: 'ch_4l0N34kxo16AhRKUHFUuXr', object: 'checkout', request_id: ORDER,
  order: order(), product: { id: 'prod_115', name: '115 credits', price: 990, currency: 'USD', billing_type: 'onetime' },
  customer: { id: 'cust_1', object: 'customer', email: 'buyer@example.com', name: 'Buyer', country: 'NL' },
  custom_fields: [], status: 'completed', metadata: { order_id: ORDER }, mode: 'test', ...o });
const event = (eventType, object, id = 'evt_5veN2cn5N9Grz8u7w3yJuL') =>
  JSON.stringify({ id, eventType, created_at: NOW * 1000 - 500, object });
const refund = (o = {}) => ({ id: 'ref_1aBcD2eFg3', object: 'refund', status: 'succeeded', refund_amount: 990,
  refund_currency: 'USD', reason: 'requested_by_customer',
  transaction: { id: 'tran_3JQq2rj4Xz', object: 'transaction', amount: 990, currency: 'USD', status: 'refunded' },
  checkout: { id: 'ch_4l0N34kxo16AhRKUHFUuXr', request_id: ORDER, metadata: { order_id: ORDER } },
  order: order({ status: 'paid' }), customer: { id: 'cust_1' }, created_at: NOW * 1000 - 400, mode: 'test', ...o });

const PAID = event('checkout.completed', checkout());
const paid = { rc: 'ok', kind: 'paid', event_id: 'evt_5veN2cn5N9Grz8u7w3yJuL', order_id: ORDER,
  provider_ref: 'ch_4l0N34kxo16AhRKUHFUuXr', amount: 990, currency: 'USD' };
const invalid = (reason) => ({ rc: 'invalid', reason });
const ignored = (reason) => ({ rc: 'ignored', reason });
const MSG = 'msg_2KWPBgLlAfxdpx2AI54pPJ85f4W';

const cases = [];
const add = (name, body, headers, expect, extra = {}) => cases.push({ name, body, headers, expect, ...extra });
const std = (body, o = {}) => stdHeaders(o.secret ?? SECRET, o.id ?? MSG, o.ts ?? NOW - 2, body);
const legacy = (body, secret = SECRET) => ({ 'creem-signature': legacySign(secret, body) });

// Signatures: both schemes, and which one decides.
add('standard_checkout_paid', PAID, std(PAID), paid);
add('standard_rotation_second_matches', PAID, { ...std(PAID), 'webhook-signature': `${stdSign(OTHER, MSG, NOW - 2, PAID)} ${std(PAID)['webhook-signature']}` }, paid);
add('standard_only_v1a', PAID, { ...std(PAID), 'webhook-signature': std(PAID)['webhook-signature'].replace('v1,', 'v1a,') }, invalid('signature_mismatch'));
add('standard_forged_other_secret', PAID, std(PAID, { secret: OTHER }), invalid('signature_mismatch'));
add('standard_tampered_body', PAID.replace('990', '99'), std(PAID), invalid('signature_mismatch'));
add('standard_tampered_webhook_id', PAID, { ...std(PAID), 'webhook-id': 'msg_other' }, invalid('signature_mismatch'));
add('standard_tampered_timestamp', PAID, { ...std(PAID), 'webhook-timestamp': String(NOW - 1) }, invalid('signature_mismatch'));
add('standard_stale_301s', PAID, std(PAID, { ts: NOW - 301 }), invalid('timestamp_out_of_tolerance'));
add('standard_future_301s', PAID, std(PAID, { ts: NOW + 301 }), invalid('timestamp_out_of_tolerance'));
add('standard_edge_300s_old', PAID, std(PAID, { ts: NOW - 300 }), paid);
add('standard_edge_300s_ahead', PAID, std(PAID, { ts: NOW + 300 }), paid);
add('standard_timestamp_leading_zero', PAID, { ...std(PAID), 'webhook-timestamp': `0${NOW - 2}` }, invalid('timestamp_malformed'),
  { differs_from_sdk: 'the SDK reads 0<digits> as a number; one spelling of a signed timestamp is accepted here' });
add('standard_timestamp_not_digits', PAID, { ...std(PAID), 'webhook-timestamp': `${NOW - 2}x` }, invalid('timestamp_malformed'),
  { differs_from_sdk: 'the SDK parseInt()s a prefix; trailing garbage is refused here' });
add('standard_signature_garbage', PAID, { ...std(PAID), 'webhook-signature': 'v1,@@@@' }, invalid('signature_mismatch'));
add('standard_unpadded_secret', PAID, std(PAID, { secret: UNPADDED }), paid, { secret: UNPADDED });
add('standard_secret_not_base64', PAID, std(PAID), { rc: 'misconfigured', reason: 'webhook_secret_not_base64' }, { secret: NOT_BASE64 });
add('legacy_checkout_paid', PAID, legacy(PAID), paid);
add('legacy_upper_case_hex', PAID, { 'creem-signature': legacySign(SECRET, PAID).toUpperCase() }, paid);
add('legacy_sha256_prefix', PAID, { 'creem-signature': `sha256=${legacySign(SECRET, PAID)}` }, paid);
add('legacy_secret_not_base64', PAID, legacy(PAID, NOT_BASE64), paid, { secret: NOT_BASE64 });
add('legacy_forged_other_secret', PAID, legacy(PAID, OTHER), invalid('signature_mismatch'));
add('legacy_tampered_body', PAID.replace('"USD"', '"EUR"'), legacy(PAID), invalid('signature_mismatch'));
add('legacy_short_hex', PAID, { 'creem-signature': legacySign(SECRET, PAID).slice(0, 62) }, invalid('signature_malformed'));
add('legacy_not_hex', PAID, { 'creem-signature': 'zz'.repeat(32) }, invalid('signature_malformed'));
add('legacy_base64_not_hex', PAID, { 'creem-signature': createHmac('sha256', SECRET).update(PAID).digest('base64') }, invalid('signature_malformed'));
add('both_valid', PAID, { ...std(PAID), ...legacy(PAID) }, paid);
add('both_standard_forged_legacy_valid', PAID, { ...std(PAID, { secret: OTHER }), ...legacy(PAID) }, invalid('signature_mismatch'));
add('both_standard_stale_legacy_valid', PAID, { ...std(PAID, { ts: NOW - 3600 }), ...legacy(PAID) }, invalid('timestamp_out_of_tolerance'));
add('both_standard_valid_legacy_forged', PAID, { ...std(PAID), ...legacy(PAID, OTHER) }, paid);
add('partial_standard_with_legacy', PAID, { 'webhook-id': MSG, 'webhook-timestamp': String(NOW - 2), ...legacy(PAID) },
  invalid('signature_headers_incomplete'),
  { differs_from_sdk: 'the SDK falls back to creem-signature; a partial (or duplicated, so absent) Standard Webhooks set is ambiguous here' });
add('partial_standard_alone', PAID, { 'webhook-signature': std(PAID)['webhook-signature'] }, invalid('signature_headers_incomplete'));
add('no_signature', PAID, {}, invalid('signature_missing'));
add('x_creem_signature_not_read', PAID, { 'x-creem-signature': legacySign(SECRET, PAID) }, invalid('signature_missing'),
  { differs_from_sdk: 'Creem sends creem-signature; the SDK also reads x-creem-signature, this build does not' });

// Bodies (all correctly signed with the Standard Webhooks headers).
const ok = (name, body, expect, extra) => add(name, body, std(body), expect, extra);
ok('pretty_printed_body', JSON.stringify(JSON.parse(PAID), null, 2), paid);
ok('request_id_only', event('checkout.completed', checkout({ metadata: {} })), paid);
ok('metadata_only', event('checkout.completed', checkout({ request_id: undefined })), paid);
ok('no_order_reference', event('checkout.completed', checkout({ request_id: undefined, metadata: undefined })), { ...paid, order_id: '' });
ok('order_id_conflict', event('checkout.completed', checkout({ metadata: { order_id: 'ord_someone_else' } })), invalid('order_id_conflict'));
ok('order_id_not_string', event('checkout.completed', checkout({ metadata: { order_id: 12 } })), invalid('order_id_malformed'));
ok('order_id_oversized', event('checkout.completed', checkout({ request_id: `ord_${'x'.repeat(60)}`, metadata: {} })), invalid('order_id_malformed'));
ok('order_id_with_space', event('checkout.completed', checkout({ request_id: 'ord_1 2', metadata: {} })), invalid('order_id_malformed'));
ok('checkout_id_oversized', event('checkout.completed', checkout({ id: `ch_${'x'.repeat(200)}` })), invalid('checkout_id_malformed'));
ok('event_id_oversized', event('checkout.completed', checkout(), `evt_${'x'.repeat(200)}`), invalid('event_id_malformed'));
ok('event_id_missing', JSON.stringify({ eventType: 'checkout.completed', object: checkout() }), invalid('event_id_malformed'));
ok('currency_lower_case', event('checkout.completed', checkout({ order: order({ currency: 'usd' }) })), paid);
ok('currency_eur', event('checkout.completed', checkout({ order: order({ currency: 'EUR' }) })), { ...paid, currency: 'EUR' });
ok('currency_symbol', event('checkout.completed', checkout({ order: order({ currency: 'US$' }) })), invalid('currency_malformed'));
ok('currency_four_letters', event('checkout.completed', checkout({ order: order({ currency: 'USDT' }) })), invalid('currency_malformed'));
ok('currency_missing', event('checkout.completed', checkout({ order: order({ currency: undefined }) })), invalid('currency_malformed'));
ok('amount_string', event('checkout.completed', checkout({ order: order({ amount: '990' }) })), invalid('amount_malformed'));
ok('amount_real', event('checkout.completed', checkout({ order: order({ amount: 9.9 }) })), invalid('amount_malformed'));
ok('amount_zero', event('checkout.completed', checkout({ order: order({ amount: 0 }) })), invalid('amount_malformed'));
ok('amount_negative', event('checkout.completed', checkout({ order: order({ amount: -990 }) })), invalid('amount_malformed'));
ok('amount_other', event('checkout.completed', checkout({ order: order({ amount: 1 }) })), { ...paid, amount: 1 });
ok('order_pending', event('checkout.completed', checkout({ order: order({ status: 'pending' }) })), ignored('order_not_paid'));
ok('order_missing', event('checkout.completed', checkout({ order: undefined })), ignored('order_not_paid'));
ok('order_not_object', event('checkout.completed', checkout({ order: 'ord_4aDwWXjMLpes4Kj4XqNnUA' })), invalid('order_malformed'));
ok('object_missing', JSON.stringify({ id: 'evt_1', eventType: 'checkout.completed' }), invalid('body_malformed'));
ok('event_type_missing', JSON.stringify({ id: 'evt_1', type: 'checkout.completed', object: checkout() }), invalid('body_malformed'));
ok('duplicate_key', PAID.replace('"eventType":"checkout.completed"', '"eventType":"subscription.paid","eventType":"checkout.completed"'), invalid('body_not_json'));
ok('not_json', 'checkout.completed', invalid('body_not_json'));
ok('json_array', '[]', invalid('body_not_json'));
ok('trailing_garbage', `${PAID}x`, invalid('body_not_json'));
ok('subscription_paid', event('subscription.paid', { id: 'sub_1', object: 'subscription' }), ignored('event_type_not_handled'));
ok('dispute_created', event('dispute.created', { id: 'dis_1', object: 'dispute' }), ignored('event_type_not_handled'));
const refunded = { rc: 'ok', kind: 'refund', event_id: 'evt_R1', order_id: ORDER, provider_ref: 'ch_4l0N34kxo16AhRKUHFUuXr',
  amount: 990, currency: 'USD', provider_refund_id: 'tran_3JQq2rj4Xz' };
// A refund that leaves its transaction partly refunded is known by its own id; the one that
// refunds it in full by the transaction's (what a refund made through the API learns).
const partly = (amount) => ({ id: 'tran_3JQq2rj4Xz', object: 'transaction', amount: 990, currency: 'USD', status: 'partialRefund', refunded_amount: amount });
ok('refund_created', event('refund.created', refund(), 'evt_R1'), refunded);
ok('refund_created_partial', event('refund.created', refund({ refund_amount: 400, transaction: partly(400) }), 'evt_R1'),
  { ...refunded, amount: 400, provider_refund_id: 'ref_1aBcD2eFg3' });
ok('refund_created_transaction_id_only', event('refund.created', refund({ transaction: 'tran_3JQq2rj4Xz' }), 'evt_R1'),
  { ...refunded, provider_refund_id: 'ref_1aBcD2eFg3' });
ok('refund_created_checkout_id_only', event('refund.created', refund({ checkout: 'ch_4l0N34kxo16AhRKUHFUuXr' }), 'evt_R1'), { ...refunded, order_id: '' });
ok('refund_created_pending', event('refund.created', refund({ status: 'pending' }), 'evt_R1'), ignored('refund_not_succeeded'));
ok('refund_created_no_checkout', event('refund.created', refund({ checkout: undefined }), 'evt_R1'), ignored('no_checkout'));
ok('refund_created_amount_missing', event('refund.created', refund({ refund_amount: undefined }), 'evt_R1'), invalid('amount_malformed'));
ok('refund_created_currency_bad', event('refund.created', refund({ refund_currency: 'dollars' }), 'evt_R1'), invalid('currency_malformed'));
ok('refund_created_id_missing', event('refund.created', refund({ id: undefined }), 'evt_R1'), invalid('refund_id_malformed'));

// The creem SDK's verdict on each signature, at NOW.
for (const c of cases) {
  try {
    await verifyWebhookSignature(c.body, c.headers, c.secret ?? SECRET);
    c.sdk = true;
  } catch {
    c.sdk = false;
  }
  // Signature-level reasons are the SDK's business; everything after it is ours.
  const sigLevel = /^(signature_|timestamp_|webhook_)/.test(c.expect.reason ?? '');
  if (!c.differs_from_sdk && c.sdk === sigLevel)
    throw new Error(`${c.name}: the creem SDK says ${c.sdk}, the expectation disagrees`);
  if (c.headers['webhook-signature'] && c.headers['webhook-id'] && c.headers['webhook-timestamp'] && !c.differs_from_sdk) {
    let ok = true;
    try {
      new Webhook(c.secret ?? SECRET).verify(c.body, c.headers, { jsonParse: false });
    } catch {
      ok = false;
    }
    c.standardwebhooks = ok;
    if (ok !== c.sdk)
      throw new Error(`${c.name}: standardwebhooks says ${ok}, the creem SDK ${c.sdk}`);
  }
}

const dir = fileURLToPath(new URL('../unit/providers/data/creem', import.meta.url));
mkdirSync(dir, { recursive: true });
writeFileSync(`${dir}/webhooks.json`, `${JSON.stringify({ now_ms: NOW * 1000, secret: SECRET, cases }, null, 1)}\n`);
console.log(`${cases.length} cases -> ${dir}/webhooks.json`);
