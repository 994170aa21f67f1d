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
ok('subscription_paid_bare', event('subscription.paid', { id: 'sub_1', object: 'subscription' }), invalid('period_missing'));
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

// ---- subscriptions (the SDK's WebhookSubscriptionEntity; every body below that the SDK's
// own inbound schema for its event type accepts says so with "sdk_shape": true) ----------
// The unit test loads a catalog selling pro_monthly as prod_pro_monthly and max_monthly as
// prod_max_monthly (and credits_115 as prod_115, a pack: never a plan's product).
const P_START = '2026-11-29T08:00:00.000Z';
const P_END = '2026-12-29T08:00:00.000Z';
const ms = (d) => Date.parse(d);
const product = (id = 'prod_pro_monthly', o = {}) => ({ id, mode: 'test', object: 'product', name: 'Pro monthly',
  description: 'Pro, 300 credits a month', price: 1990, currency: 'USD', billing_type: 'recurring',
  billing_period: 'every-month', status: 'active', tax_mode: 'inclusive', tax_category: 'saas',
  created_at: '2026-11-01T00:00:00.000Z', updated_at: '2026-11-01T00:00:00.000Z', ...o });
const customer = { id: 'cust_1', mode: 'test', object: 'customer', email: 'buyer@example.com', name: 'Buyer', country: 'NL',
  created_at: '2026-11-01T00:00:00.000Z', updated_at: '2026-11-01T00:00:00.000Z' };
const transaction = (o = {}) => ({ id: 'tran_R2', mode: 'test', object: 'transaction', amount: 1990, amount_paid: 1990,
  currency: 'USD', type: 'invoice', status: 'paid', subscription: 'sub_6pC2lNB6joCRQIZ1aMrTpi', customer: 'cust_1',
  period_start: ms(P_START), period_end: ms(P_END), created_at: ms(P_START) + 1000, ...o });
const subscription = (o = {}) => ({ id: 'sub_6pC2lNB6joCRQIZ1aMrTpi', mode: 'test', object: 'subscription',
  product: product(), customer, collection_method: 'charge_automatically', status: 'active',
  last_transaction_id: 'tran_R2', last_transaction: transaction(), last_transaction_date: P_START,
  next_transaction_date: P_END, current_period_start_date: P_START, current_period_end_date: P_END, canceled_at: null,
  created_at: '2026-10-29T08:00:00.000Z', updated_at: P_START, metadata: { order_id: ORDER, product: 'pro_monthly' }, ...o });
const SUB = 'sub_6pC2lNB6joCRQIZ1aMrTpi';
const subEv = (type, o, id = 'evt_S1') => event(type, subscription(o), id);
const sub = (kind, o = {}) => ({ rc: 'ok', kind, event_id: 'evt_S1', order_id: '', provider_ref: '', amount: 0, currency: '',
  subscription_ref: SUB, invoice_ref: '', period_start: ms(P_START), period_end: ms(P_END), product: 'pro_monthly',
  cancel_at_period_end: 0, ...o });
const period = sub('sub_period', { provider_ref: 'tran_R2', invoice_ref: 'tran_R2', amount: 1990, currency: 'USD' });
const sdkShape = { sdk_shape: true };
ok('subscription_paid', subEv('subscription.paid'), period, sdkShape);
ok('subscription_paid_no_last_transaction', subEv('subscription.paid', { last_transaction: undefined }), period, sdkShape);
ok('subscription_paid_transaction_only', subEv('subscription.paid', { last_transaction_id: undefined }), period, sdkShape);
ok('subscription_paid_no_transaction_at_all', subEv('subscription.paid', { last_transaction_id: undefined, last_transaction: undefined }),
  { ...period, provider_ref: 'evt_S1', invoice_ref: 'evt_S1' }, sdkShape);
ok('subscription_paid_product_price', subEv('subscription.paid', { last_transaction: undefined, product: product('prod_pro_monthly', { price: 2490, currency: 'EUR' }) }),
  { ...period, amount: 2490, currency: 'EUR' }, sdkShape);
ok('subscription_paid_transaction_amount_wins', subEv('subscription.paid', { last_transaction: transaction({ amount: 1500 }) }),
  { ...period, amount: 1500 }, sdkShape);
ok('subscription_paid_period_from_transaction', subEv('subscription.paid', { current_period_start_date: undefined, current_period_end_date: undefined }),
  period, sdkShape);
ok('subscription_paid_offset_dates', subEv('subscription.paid', { current_period_start_date: '2026-11-29T16:00:00.000+08:00',
  current_period_end_date: '2026-12-29T16:00:00+08:00' }), period, sdkShape);
ok('subscription_paid_max', subEv('subscription.paid', { product: product('prod_max_monthly', { price: 4990 }), last_transaction: transaction({ amount: 4990 }) }),
  { ...period, amount: 4990, product: 'max_monthly' }, sdkShape);
ok('subscription_paid_product_unknown', subEv('subscription.paid', { product: product('prod_someone_elses') }), { ...period, product: '' }, sdkShape);
ok('subscription_paid_product_a_pack', subEv('subscription.paid', { product: product('prod_115') }), { ...period, product: '' }, sdkShape);
ok('subscription_paid_product_id_only', subEv('subscription.paid', { product: 'prod_pro_monthly' }), period);
ok('subscription_paid_metadata_not_believed', subEv('subscription.paid', { metadata: { order_id: ORDER, product: 'max_monthly' } }), period, sdkShape);
ok('subscription_paid_transaction_conflict', subEv('subscription.paid', { last_transaction_id: 'tran_other' }), invalid('transaction_id_conflict'), sdkShape);
ok('subscription_paid_transaction_id_oversized', subEv('subscription.paid', { last_transaction_id: `tran_${'x'.repeat(200)}`, last_transaction: undefined }),
  invalid('transaction_id_malformed'), sdkShape);
ok('subscription_paid_transaction_not_object', subEv('subscription.paid', { last_transaction: 'tran_R2' }), invalid('transaction_malformed'));
ok('subscription_paid_amount_real', subEv('subscription.paid', { last_transaction: transaction({ amount: 19.9 }) }), invalid('amount_malformed'));
ok('subscription_paid_amount_zero', subEv('subscription.paid', { last_transaction: transaction({ amount: 0 }) }), invalid('amount_malformed'), sdkShape);
ok('subscription_paid_currency_bad', subEv('subscription.paid', { last_transaction: transaction({ currency: 'US$' }) }), invalid('currency_malformed'), sdkShape);
ok('subscription_paid_no_amount', subEv('subscription.paid', { last_transaction: undefined, product: 'prod_pro_monthly' }), invalid('amount_missing'));
ok('subscription_paid_period_missing_end', subEv('subscription.paid', { current_period_end_date: undefined, last_transaction: undefined }),
  invalid('period_missing'), sdkShape);
ok('subscription_paid_period_reversed', subEv('subscription.paid', { current_period_start_date: P_END, current_period_end_date: P_START }),
  invalid('period_malformed'), sdkShape);
ok('subscription_paid_period_empty', subEv('subscription.paid', { current_period_end_date: P_START }), invalid('period_malformed'), sdkShape);
ok('subscription_paid_date_not_rfc3339', subEv('subscription.paid', { current_period_end_date: 'December 29, 2026' }), invalid('period_malformed'));
ok('subscription_paid_date_number', subEv('subscription.paid', { current_period_end_date: ms(P_END) }), invalid('period_malformed'));
ok('subscription_paid_period_in_seconds', subEv('subscription.paid', { current_period_start_date: undefined, current_period_end_date: undefined,
  last_transaction: transaction({ period_start: ms(P_START) / 1000, period_end: ms(P_END) / 1000 }) }), invalid('period_malformed'), sdkShape);
ok('subscription_paid_id_missing', subEv('subscription.paid', { id: undefined }), invalid('subscription_id_malformed'));
ok('subscription_paid_id_oversized', subEv('subscription.paid', { id: `sub_${'x'.repeat(200)}` }), invalid('subscription_id_malformed'), sdkShape);
ok('subscription_paid_status_not_string', subEv('subscription.paid', { status: 1 }), invalid('subscription_status_malformed'));
ok('subscription_paid_product_malformed', subEv('subscription.paid', { product: 7 }), invalid('product_malformed'));
ok('subscription_paid_event_id_missing', JSON.stringify({ eventType: 'subscription.paid', object: subscription() }), invalid('event_id_malformed'));
ok('subscription_past_due', subEv('subscription.past_due', { status: 'past_due' }), sub('sub_past_due'), sdkShape);
ok('subscription_unpaid', subEv('subscription.unpaid', { status: 'unpaid' }), sub('sub_past_due'), sdkShape);
ok('subscription_scheduled_cancel', subEv('subscription.scheduled_cancel', { status: 'scheduled_cancel', canceled_at: P_START }),
  sub('sub_state', { cancel_at_period_end: 1 }), sdkShape);
ok('subscription_canceled_scheduled', subEv('subscription.canceled', { status: 'scheduled_cancel', canceled_at: P_START }),
  sub('sub_state', { cancel_at_period_end: 1 }), sdkShape);
ok('subscription_canceled', subEv('subscription.canceled', { status: 'canceled', canceled_at: P_START }), sub('sub_ended'), sdkShape);
ok('subscription_canceled_no_status', subEv('subscription.canceled', { status: undefined }), sub('sub_ended'));
ok('subscription_expired', subEv('subscription.expired', { status: 'canceled' }), sub('sub_ended'), sdkShape);
ok('subscription_update', subEv('subscription.update', { product: product('prod_max_monthly') }), sub('sub_state', { product: 'max_monthly' }), sdkShape);
ok('subscription_update_scheduled', subEv('subscription.update', { status: 'scheduled_cancel' }), sub('sub_state', { cancel_at_period_end: 1 }), sdkShape);
ok('subscription_update_end_only', subEv('subscription.update', { current_period_start_date: undefined, last_transaction: undefined }),
  sub('sub_state', { period_start: 0 }), sdkShape);
ok('subscription_update_no_period', subEv('subscription.update', { current_period_start_date: undefined, current_period_end_date: undefined,
  last_transaction: undefined }), sub('sub_state', { period_start: 0, period_end: 0 }), sdkShape);
ok('subscription_active', subEv('subscription.active'), ignored('event_type_not_handled'), sdkShape);
ok('subscription_trialing', subEv('subscription.trialing', { status: 'trialing' }), ignored('event_type_not_handled'), sdkShape);
ok('subscription_paused', subEv('subscription.paused', { status: 'paused' }), ignored('event_type_not_handled'), sdkShape);
// The first payment of a recurring product: checkout.completed carries the subscription.
const subCheckout = (s, o = {}) => checkout({ order: order({ product: 'prod_pro_monthly', amount: 1990, type: 'recurring' }),
  product: product(), customer, subscription: s, metadata: { order_id: ORDER, product: 'pro_monthly' }, ...o });
const subPaid = { ...paid, amount: 1990, subscription_ref: SUB, period_start: ms(P_START), period_end: ms(P_END), product: 'pro_monthly' };
ok('checkout_subscription', event('checkout.completed', subCheckout(subscription())), subPaid, sdkShape);
ok('checkout_subscription_id_only', event('checkout.completed', subCheckout(SUB)), { ...subPaid, period_start: 0, period_end: 0 });
// Creem's documented example: a subscription without period dates.
ok('checkout_subscription_docs_example', event('checkout.completed', subCheckout({ id: SUB, object: 'subscription', product: 'prod_pro_monthly',
  customer: 'cust_1', collection_method: 'charge_automatically', status: 'active', canceled_at: null, created_at: P_START, updated_at: P_START,
  metadata: { order_id: ORDER }, mode: 'test' })), { ...subPaid, period_start: 0, period_end: 0 });
ok('checkout_subscription_half_period', event('checkout.completed', subCheckout(subscription({ current_period_end_date: undefined,
  last_transaction: undefined }))), { ...subPaid, period_start: 0, period_end: 0 }, sdkShape);
ok('checkout_subscription_period_malformed', event('checkout.completed', subCheckout(subscription({ current_period_end_date: 'soon' }))),
  invalid('period_malformed'));
ok('checkout_subscription_id_malformed', event('checkout.completed', subCheckout({ id: 'sub 1' })), invalid('subscription_id_malformed'));
ok('checkout_subscription_not_object', event('checkout.completed', subCheckout(12)), invalid('subscription_id_malformed'));
ok('checkout_subscription_unpaid', event('checkout.completed', subCheckout(subscription(), { order: order({ status: 'pending' }) })),
  ignored('order_not_paid'));
ok('checkout_pack_has_no_product', PAID, paid);

// Every body marked sdk_shape is one the creem SDK's own model of its event type reads.
const { components } = await (async () => ({ components: await import(pathToFileURL(`${e2e}node_modules/creem/dist/esm/models/components/index.js`).href) }))();
const schemaOf = (type) => {
  const name = { 'checkout.completed': 'CheckoutCompleted', 'subscription.scheduled_cancel': 'SubscriptionScheduledCancel',
    'subscription.past_due': 'SubscriptionPastDue' }[type] ?? type.split('.').map((w) => w[0].toUpperCase() + w.slice(1)).join('');
  return components[`Webhook${name}EventEntity$inboundSchema`];
};
for (const c of cases.filter((x) => x.sdk_shape)) {
  const body = JSON.parse(c.body);
  const r = schemaOf(body.eventType).safeParse(body);
  if (!r.success) throw new Error(`${c.name}: the creem SDK's model refuses the body: ${JSON.stringify(r.error.issues.flatMap((i) => i.unionErrors ? i.unionErrors.flatMap((u) => u.issues) : [i]).map((i) => `${i.path.join(".")}: ${i.message}`))}`);
}

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
