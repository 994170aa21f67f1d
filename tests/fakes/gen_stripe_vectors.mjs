// Writes the Stripe webhook vectors that tests/unit/providers/test_pay_stripe.c reads into
// tests/unit/providers/data/stripe/vectors.json: event bodies shaped like Stripe's (pretty
// JSON, the objects' real field sets) signed with the npm `stripe` package's own
// webhooks.generateTestHeaderString, each one checked with webhooks.constructEvent before it
// is written, and what Tollgate must make of it ("expect").
// Nothing here is a real credential. The output is deterministic (fixed times and ids):
// re-running rewrites the same file.
// Run from anywhere:  node tests/fakes/gen_stripe_vectors.mjs   (after `npm ci` in tests/e2e)
import { createHmac } from 'node:crypto';
import { createRequire } from 'node:module';
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const require = createRequire(new URL('../e2e/package.json', import.meta.url));
const Stripe = require('stripe');
const stripe = new Stripe('sk_test_vectors');

const dir = fileURLToPath(new URL('../unit/providers/data/stripe', import.meta.url));
mkdirSync(dir, { recursive: true });

export const SECRET = 'whsec_test_secret';
const OTHER_SECRET = 'whsec_rotated_out_0123456789';
const T = 1700000000;
const ORDER = 'ord_01JDZ8K6Q3V5X7Y9A1B2C3D4E5';
const REFUND = 'rfd_01JDZ9M0N1P2Q3R4S5T6V7W8X9';
const CS = 'cs_test_a1B2c3D4e5F6g7H8i9J0kLmNoPqRsTuVwXyZ0123456789abcdefGHIJ';
const PI = 'pi_3OdFakeVector0001abcd';

function session(over = {}) {
  return {
    id: CS, object: 'checkout.session', after_expiration: null, allow_promotion_codes: null,
    amount_subtotal: 990, amount_total: 990, automatic_tax: { enabled: false, liability: null, status: null },
    billing_address_collection: null, cancel_url: 'https://pay.example.com/cancel', client_reference_id: ORDER,
    client_secret: null, consent: null, consent_collection: null, created: T - 600, currency: 'usd',
    custom_fields: [], custom_text: { after_submit: null, shipping_address: null, submit: null, terms_of_service_acceptance: null },
    customer: null, customer_creation: 'if_required',
    customer_details: { address: null, email: 'buyer@example.com', name: 'Jenny Rosen', phone: null, tax_exempt: 'none', tax_ids: [] },
    customer_email: 'buyer@example.com', expires_at: T + 85800, invoice: null, invoice_creation: null, livemode: false,
    locale: null, metadata: { order_id: ORDER }, mode: 'payment', payment_intent: PI, payment_link: null,
    payment_method_collection: 'if_required', payment_method_options: { card: { request_three_d_secure: 'automatic' } },
    payment_method_types: ['card'], payment_status: 'paid', phone_number_collection: { enabled: false },
    recovered_from: null, setup_intent: null, shipping_address_collection: null, shipping_cost: null,
    shipping_details: null, shipping_options: [], status: 'complete', submit_type: null, subscription: null,
    success_url: `https://pay.example.com/api/v1/orders/${ORDER}/return`,
    total_details: { amount_discount: 0, amount_shipping: 0, amount_tax: 0 }, ui_mode: 'hosted', url: null,
    ...over,
  };
}

function refund(over = {}) {
  return {
    id: 're_3OdFakeVector0001rfnd', object: 'refund', amount: 500, balance_transaction: 'txn_3OdFakeVector0001',
    charge: 'ch_3OdFakeVector0001chrg', created: T - 5, currency: 'usd', destination_details: { card: { reference_status: 'pending', reference_type: 'acquirer_reference_number', type: 'refund' }, type: 'card' },
    metadata: { order_id: ORDER, refund_id: REFUND, reason: 'asked by the buyer' }, payment_intent: PI, reason: null,
    receipt_number: null, source_transfer_reversal: null, status: 'succeeded', transfer_reversal: null,
    ...over,
  };
}

function charge(over = {}) {
  return {
    id: 'ch_3OdFakeVector0001chrg', object: 'charge', amount: 990, amount_captured: 990, amount_refunded: 500,
    captured: true, created: T - 600, currency: 'usd', customer: null, description: null, livemode: false,
    metadata: { order_id: ORDER }, paid: true, payment_intent: PI, refunded: false, status: 'succeeded',
    ...over,
  };
}

function event(id, type, object, over = {}) {
  return {
    id, object: 'event', api_version: '2024-06-20', created: T, data: { object }, livemode: false,
    pending_webhooks: 1, request: { id: null, idempotency_key: null }, type, ...over,
  };
}

const sign = (payload, secret = SECRET, timestamp = T) =>
  stripe.webhooks.generateTestHeaderString({ payload, secret, timestamp });

const vectors = [];
function add(name, obj, expect, { header, body, secret = SECRET, sdkAccepts = true } = {}) {
  const payload = body ?? (typeof obj === 'string' ? obj : JSON.stringify(obj, null, 2));
  const hdr = header ?? sign(payload, secret);
  // The SDK must agree with the expectation on the signature (a huge tolerance: fixed times).
  let ok = true;
  try {
    stripe.webhooks.constructEvent(payload, hdr, SECRET, 1e10);
  } catch {
    ok = false;
  }
  if (ok !== sdkAccepts) throw new Error(`${name}: stripe-node ${ok ? 'accepts' : 'refuses'} it`);
  vectors.push({ name, secret: SECRET, now: T, header: hdr, body: payload, expect });
}

// PROVIDERS.md section 11, vector 1: the exact header stripe@23.1.0 computes.
{
  const payload = '{"id":"evt_test_webhook","object":"event"}';
  const h = sign(payload);
  if (h !== 't=1700000000,v1=d95c6b7477fbd7e9f90b1b0ef5f9c7ac25abca5382460e0d988c2b2a5b71b990')
    throw new Error(`vector 1 changed: ${h}`);
  // Authentic, but not an event we can read (no type, no data): refused after the signature.
  add('providers_vector_1', null, { rc: 'invalid', reason: 'event_malformed' }, { body: payload });
}

const paid = event('evt_1OdPaid0000000000000001', 'checkout.session.completed', session());
add('completed_paid', paid, { rc: 'ok', kind: 'paid', event_id: paid.id, type: paid.type, order_id: ORDER, provider_ref: CS, amount: 990, currency: 'USD' });
add('completed_unpaid', event('evt_1OdUnpaid00000000000001', 'checkout.session.completed',
  session({ payment_status: 'unpaid', payment_intent: null, payment_method_types: ['us_bank_account'] })),
  { rc: 'ignored', reason: 'payment_processing' });
add('completed_no_payment_required', event('evt_1OdNoPay0000000000000001', 'checkout.session.completed',
  session({ payment_status: 'no_payment_required', amount_total: 0 })),
  { rc: 'ok', kind: 'paid', order_id: ORDER, provider_ref: CS, amount: 0, currency: 'USD' });
add('async_succeeded', event('evt_1OdAsyncOk000000000001', 'checkout.session.async_payment_succeeded', session({ payment_method_types: ['us_bank_account'] })),
  { rc: 'ok', kind: 'paid', event_id: 'evt_1OdAsyncOk000000000001', order_id: ORDER, provider_ref: CS, amount: 990, currency: 'USD' });
add('async_failed', event('evt_1OdAsyncFail0000000001', 'checkout.session.async_payment_failed', session({ payment_status: 'unpaid' })),
  { rc: 'ok', kind: 'failed', order_id: ORDER, provider_ref: CS, amount: 990, currency: 'USD' });
add('expired', event('evt_1OdExpired000000000001', 'checkout.session.expired', session({ status: 'expired', payment_status: 'unpaid', payment_intent: null })),
  { rc: 'ok', kind: 'failed', type: 'checkout.session.expired', order_id: ORDER, provider_ref: CS, amount: 990, currency: 'USD' });
add('cny_paid', event('evt_1OdCny000000000000000001', 'checkout.session.completed', session({ currency: 'cny', amount_total: 6800, amount_subtotal: 6800 })),
  { rc: 'ok', kind: 'paid', amount: 6800, currency: 'CNY' });
add('only_metadata_order', event('evt_1OdMetaOnly000000000001', 'checkout.session.completed', session({ client_reference_id: null })),
  { rc: 'ok', kind: 'paid', order_id: ORDER });
add('foreign_session', event('evt_1OdForeign0000000000001', 'checkout.session.completed', session({ client_reference_id: 'user_42', metadata: {} })),
  { rc: 'ignored', reason: 'not_our_session' });
add('orders_disagree', event('evt_1OdDisagree000000000001', 'checkout.session.completed',
  session({ metadata: { order_id: 'ord_01JDZ8K6Q3V5X7Y9A1B2C3D4E6' } })), { rc: 'invalid', reason: 'session_malformed' });
add('currency_upper', event('evt_1OdUpper00000000000001', 'checkout.session.completed', session({ currency: 'USD' })),
  { rc: 'invalid', reason: 'session_malformed' });
add('currency_long', event('evt_1OdLong000000000000001', 'checkout.session.completed', session({ currency: 'usdt' })),
  { rc: 'invalid', reason: 'session_malformed' });
add('amount_string', event('evt_1OdAmtStr0000000000001', 'checkout.session.completed', session({ amount_total: '990' })),
  { rc: 'invalid', reason: 'session_malformed' });
add('amount_negative', event('evt_1OdAmtNeg0000000000001', 'checkout.session.completed', session({ amount_total: -990 })),
  { rc: 'invalid', reason: 'session_malformed' });
add('amount_float', event('evt_1OdAmtFlt0000000000001', 'checkout.session.completed', session({ amount_total: 9.9 })),
  { rc: 'invalid', reason: 'session_malformed' });
add('session_id_bad', event('evt_1OdBadId00000000000001', 'checkout.session.completed', session({ id: 'cs_test_../../v1/x' })),
  { rc: 'invalid', reason: 'session_malformed' });
add('session_id_long', event('evt_1OdLongId0000000000001', 'checkout.session.completed', session({ id: 'cs_' + 'a'.repeat(200) })),
  { rc: 'invalid', reason: 'session_malformed' });
add('unknown_type', event('evt_1OdPiOk000000000000001', 'payment_intent.succeeded', { id: PI, object: 'payment_intent', amount: 990 }),
  { rc: 'ignored', reason: 'event_type_not_handled' });
add('not_an_event', { ...paid, object: 'checkout.session' }, { rc: 'invalid', reason: 'event_malformed' });
add('event_id_missing', { ...paid, id: undefined }, { rc: 'invalid', reason: 'event_malformed' });
add('duplicate_keys', null, { rc: 'invalid', reason: 'body_not_json' },
  { body: JSON.stringify(paid, null, 2).replace('"amount_total": 990,', '"amount_total": 1,\n      "amount_total": 990,') });

const rOk = event('evt_1OdRefundUpd000000000001', 'refund.updated', refund());
add('refund_updated', rOk, { rc: 'ok', kind: 'refund', event_id: 're_3OdFakeVector0001rfnd', type: 'refund.updated', order_id: ORDER, amount: 500, currency: 'USD', refund_id: REFUND, provider_refund_id: 're_3OdFakeVector0001rfnd' });
add('refund_created_succeeded', event('evt_1OdRefundCre000000000001', 'refund.created', refund()),
  { rc: 'ok', kind: 'refund', order_id: ORDER, amount: 500, refund_id: REFUND });
add('refund_created_pending', event('evt_1OdRefundPen000000000001', 'refund.created', refund({ status: 'pending' })),
  { rc: 'ignored', reason: 'refund_not_succeeded' });
add('refund_failed', event('evt_1OdRefundFai000000000001', 'refund.updated', refund({ status: 'failed' })),
  { rc: 'ignored', reason: 'refund_not_succeeded' });
add('refund_dashboard', event('evt_1OdRefundDsh000000000001', 'refund.created', refund({ metadata: {} })),
  { rc: 'ignored', reason: 'refund_without_order' });
add('refund_pyr', event('evt_1OdRefundPyr000000000001', 'refund.updated', refund({ id: 'pyr_1OdFakeVector0001' })),
  { rc: 'ok', kind: 'refund', provider_refund_id: 'pyr_1OdFakeVector0001' });
add('refund_zero', event('evt_1OdRefundZer000000000001', 'refund.updated', refund({ amount: 0 })),
  { rc: 'invalid', reason: 'refund_malformed' });
add('charge_refunded_list', event('evt_1OdChargeRef00000000001', 'charge.refunded', charge({
  refunds: { object: 'list', data: [refund({ metadata: { refund_id: REFUND } }), refund({ id: 're_3OdOlder', amount: 100, metadata: {} })], has_more: false, total_count: 2, url: '/v1/charges/ch_3OdFakeVector0001chrg/refunds' },
})), { rc: 'ok', kind: 'refund', event_id: 're_3OdFakeVector0001rfnd', order_id: ORDER, amount: 500, refund_id: REFUND, provider_refund_id: 're_3OdFakeVector0001rfnd' });
add('charge_refunded_dashboard', event('evt_1OdChargeDsh00000000001', 'charge.refunded', charge({
  refunds: { object: 'list', data: [refund({ id: 're_3OdDashboard01', amount: 990, metadata: {} })], has_more: false, total_count: 1, url: '/v1/charges/x/refunds' },
})), { rc: 'ok', kind: 'refund', order_id: ORDER, amount: 990, refund_id: '', provider_refund_id: 're_3OdDashboard01' });
add('charge_refunded_no_list', event('evt_1OdChargeNoL00000000001', 'charge.refunded', charge()),
  { rc: 'ignored', reason: 'charge_without_refunds' });

// ---- the signature itself ----
const body = JSON.stringify(paid, null, 2);
const good = sign(body);
const v1 = good.split(',v1=')[1];
const other = createHmac('sha256', OTHER_SECRET).update(`${T}.${body}`).digest('hex');
add('rotation_second_v1', null, { rc: 'ok', kind: 'paid' }, { body, header: `t=${T},v1=${other},v1=${v1}` });
add('rotation_first_v1', null, { rc: 'ok', kind: 'paid' }, { body, header: `t=${T},v1=${v1},v1=${other}` });
add('with_v0', null, { rc: 'ok', kind: 'paid' }, { body, header: `t=${T},v1=${v1},v0=${'0'.repeat(64)}` });
add('wrong_secret', null, { rc: 'invalid', reason: 'signature_mismatch' }, { body, secret: OTHER_SECRET, sdkAccepts: false });
add('tampered_amount', null, { rc: 'invalid', reason: 'signature_mismatch' },
  { body: body.replace('"amount_total": 990', '"amount_total": 9900'), header: good, sdkAccepts: false });
add('trailing_space', null, { rc: 'invalid', reason: 'signature_mismatch' }, { body: body + ' ', header: good, sdkAccepts: false });
add('other_timestamp', null, { rc: 'invalid', reason: 'signature_mismatch' }, { body, header: `t=${T + 1},v1=${v1}`, sdkAccepts: false });
add('only_v0', null, { rc: 'invalid', reason: 'signature_malformed' }, { body, header: `t=${T},v0=${v1}`, sdkAccepts: false });
add('upper_hex', null, { rc: 'invalid', reason: 'signature_malformed' }, { body, header: `t=${T},v1=${v1.toUpperCase()}`, sdkAccepts: false });
// stripe-node takes the last t of two; Tollgate calls the header ambiguous.
add('two_t', null, { rc: 'invalid', reason: 'signature_malformed' }, { body, header: `t=${T - 400},t=${T},v1=${v1}` });
add('space_after_comma', null, { rc: 'invalid', reason: 'signature_malformed' }, { body, header: `t=${T}, v1=${v1}`, sdkAccepts: false });
add('no_t', null, { rc: 'invalid', reason: 'signature_malformed' }, { body, header: `v1=${v1}`, sdkAccepts: false });
add('empty_item', null, { rc: 'invalid', reason: 'signature_malformed' }, { body, header: `t=${T},,v1=${v1}` });
add('short_v1', null, { rc: 'invalid', reason: 'signature_malformed' }, { body, header: `t=${T},v1=${v1.slice(0, 63)}`, sdkAccepts: false });
add('t_not_digits', null, { rc: 'invalid', reason: 'signature_malformed' }, { body, header: `t=0x${T.toString(16)},v1=${v1}`, sdkAccepts: false });

writeFileSync(`${dir}/vectors.json`, JSON.stringify({
  note: 'written by tests/fakes/gen_stripe_vectors.mjs with stripe@' + Stripe.PACKAGE_VERSION + '; do not edit',
  vectors,
}, null, 1) + '\n');
console.log(`${vectors.length} vectors in ${dir}/vectors.json`);
