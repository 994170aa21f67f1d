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

// ---- subscriptions (plans): Checkout in subscription mode, invoices, subscriptions ----
// Two API shapes: 2025-03-31.basil and later (invoice.parent.subscription_details, line
// parent.subscription_item_details and pricing.price_details, the period on the subscription
// item) and earlier ones (invoice.subscription, subscription_details, line type/price,
// current_period_* on the subscription). The unit test's catalog maps PRICE_PRO to
// pro_monthly and PRICE_MAX to max_monthly.
const SUB = 'sub_1QFakeVectorSub00000001';
const SI = 'si_QFakeVectorItem001';
const PRICE_PRO = 'price_1QFakeProMonthly0001';
const PRICE_MAX = 'price_1QFakeMaxMonthly0001';
const PROD = 'prod_QFakeProPlan001';
const INV1 = 'in_1QFakeVectorInv00000001';
const INV2 = 'in_1QFakeVectorInv00000002';
const DAY = 86400;
const P0 = T - 600, P1 = P0 + 30 * DAY, P2 = P1 + 31 * DAY;
const META = { order_id: ORDER, product: 'pro_monthly' };

function line({ start, end, price = PRICE_PRO, proration = false, legacy = false, amount = 1990, over = {} }) {
  const common = {
    id: `il_1QFakeLine${start}`, object: 'line_item', amount, currency: 'usd',
    description: proration ? 'Remaining time on Max after upgrade' : '1 × Pro (at $19.90 / month)', discount_amounts: [],
    discountable: !proration, discounts: [], invoice: INV2, livemode: false, metadata: {},
    period: { start, end }, quantity: 1, taxes: [],
  };
  if (legacy)
    return {
      ...common, amount_excluding_tax: amount, invoice_item: proration ? 'ii_1QFake' : null,
      plan: { id: price, object: 'plan', active: true, amount, currency: 'usd', interval: 'month', interval_count: 1, product: PROD },
      price: { id: price, object: 'price', active: true, currency: 'usd', product: PROD, recurring: { interval: 'month', interval_count: 1 }, type: 'recurring', unit_amount: amount },
      proration, proration_details: { credited_items: null }, subscription: SUB, subscription_item: SI,
      type: proration ? 'invoiceitem' : 'subscription', ...over,
    };
  return {
    ...common,
    parent: {
      type: 'subscription_item_details', invoice_item_details: null,
      subscription_item_details: { invoice_item: null, proration, proration_details: { credited_items: null }, subscription: SUB, subscription_item: SI },
    },
    pretax_credit_amounts: [], pricing: { type: 'price_details', price_details: { price, product: PROD }, unit_amount_decimal: String(amount) },
    ...over,
  };
}

function invoice({ id = INV2, reason = 'subscription_cycle', lines, meta = META, legacy = false, paid = true, over = {} } = {}) {
  const data = lines ?? [line({ start: P1, end: P2, legacy })];
  const base = {
    id, object: 'invoice', account_country: 'US', account_name: 'Tollgate Test', amount_due: 1990,
    amount_paid: paid ? 1990 : 0, amount_remaining: paid ? 0 : 1990, attempt_count: 1, attempted: true,
    auto_advance: !paid, billing_reason: reason, collection_method: 'charge_automatically', created: T - 10,
    currency: 'usd', customer: 'cus_QFakeBuyer001', customer_email: 'buyer@example.com',
    hosted_invoice_url: `https://invoice.stripe.com/i/acct_fake/${id}`, lines: { object: 'list', data, has_more: false, total_count: data.length, url: `/v1/invoices/${id}/lines` },
    livemode: false, metadata: {}, number: 'FAKE-0002', period_end: P1, period_start: P0,
    status: paid ? 'paid' : 'open', status_transitions: { finalized_at: T - 10, paid_at: paid ? T - 5 : null, voided_at: null },
    subtotal: 1990, total: 1990,
  };
  if (legacy)
    return { ...base, charge: 'ch_3QFake', paid, payment_intent: 'pi_3QFake', subscription: SUB, subscription_details: { metadata: meta }, ...over };
  return {
    ...base, parent: { type: 'subscription_details', quote_details: null, subscription_details: { metadata: meta, subscription: SUB } },
    ...over,
  };
}

function subscription({ status = 'active', cancel = false, cancelAt = null, meta = META, price = PRICE_PRO, legacy = false, over = {} } = {}) {
  const item = {
    id: SI, object: 'subscription_item', created: P0, discounts: [], metadata: {},
    price: { id: price, object: 'price', active: true, billing_scheme: 'per_unit', currency: 'usd', livemode: false, product: PROD, recurring: { interval: 'month', interval_count: 1, usage_type: 'licensed' }, type: 'recurring', unit_amount: 1990 },
    quantity: 1, subscription: SUB, tax_rates: [],
  };
  const base = {
    id: SUB, object: 'subscription', billing_cycle_anchor: P0, cancel_at: cancelAt, cancel_at_period_end: cancel,
    canceled_at: cancel || cancelAt ? T - 60 : null, collection_method: 'charge_automatically', created: P0, currency: 'usd',
    customer: 'cus_QFakeBuyer001', default_payment_method: 'pm_1QFake', ended_at: status === 'canceled' ? T - 5 : null,
    items: { object: 'list', data: [legacy ? item : { ...item, current_period_end: P1, current_period_start: P0 }], has_more: false, total_count: 1, url: `/v1/subscription_items?subscription=${SUB}` },
    latest_invoice: INV1, livemode: false, metadata: meta, start_date: P0, status,
  };
  return legacy ? { ...base, current_period_end: P1, current_period_start: P0, plan: { id: price, object: 'plan' }, ...over } : { ...base, ...over };
}

const basil = { api_version: '2025-03-31.basil' };
const SUBX = { subscription_ref: SUB, product: 'pro_monthly' };
const subSession = session({ mode: 'subscription', subscription: SUB, invoice: INV1, payment_intent: null, amount_total: 1990, amount_subtotal: 1990 });
add('sub_session_completed', event('evt_1QSubSession00000000001', 'checkout.session.completed', subSession, basil),
  { rc: 'ok', kind: 'paid', event_id: 'evt_1QSubSession00000000001', order_id: ORDER, provider_ref: CS, amount: 1990, currency: 'USD', subscription_ref: SUB, invoice_ref: '', period_end: 0 });
add('sub_session_without_subscription', event('evt_1QSubSessNoSub000000001', 'checkout.session.completed', { ...subSession, subscription: null }, basil),
  { rc: 'invalid', reason: 'session_malformed' });
add('sub_session_expired', event('evt_1QSubSessExp0000000001', 'checkout.session.expired', { ...subSession, status: 'expired', payment_status: 'unpaid', subscription: null }, basil),
  { rc: 'ok', kind: 'failed', order_id: ORDER, provider_ref: CS, amount: 1990, subscription_ref: '' });

const first = invoice({ id: INV1, reason: 'subscription_create', lines: [line({ start: P0, end: P1 })] });
const FIRST = { rc: 'ok', kind: 'paid', order_id: ORDER, provider_ref: '', amount: 1990, currency: 'USD', invoice_ref: INV1, period_start: P0 * 1000, period_end: P1 * 1000, ...SUBX };
add('invoice_paid_create', event('evt_1QInvPaidCreate00000001', 'invoice.paid', first, basil), { ...FIRST, event_id: 'evt_1QInvPaidCreate00000001', type: 'invoice.paid' });
add('invoice_succeeded_create', event('evt_1QInvSuccCreate00000001', 'invoice.payment_succeeded', first, basil), { ...FIRST, event_id: 'evt_1QInvSuccCreate00000001', type: 'invoice.payment_succeeded' });
add('invoice_paid_create_legacy', event('evt_1QInvPaidCreateLeg00001', 'invoice.paid', invoice({ id: INV1, reason: 'subscription_create', legacy: true, lines: [line({ start: P0, end: P1, legacy: true })] })), FIRST);

const CYCLE = { rc: 'ok', kind: 'sub_period', order_id: '', provider_ref: '', amount: 1990, currency: 'USD', invoice_ref: INV2, period_start: P1 * 1000, period_end: P2 * 1000, cancel_at_period_end: 0, ...SUBX };
add('invoice_paid_cycle', event('evt_1QInvPaidCycle000000001', 'invoice.paid', invoice(), basil), { ...CYCLE, event_id: 'evt_1QInvPaidCycle000000001', type: 'invoice.paid' });
add('invoice_succeeded_cycle', event('evt_1QInvSuccCycle000000001', 'invoice.payment_succeeded', invoice(), basil), { ...CYCLE, event_id: 'evt_1QInvSuccCycle000000001' });
add('invoice_paid_cycle_legacy', event('evt_1QInvPaidCycleLeg000001', 'invoice.paid', invoice({ legacy: true })), CYCLE);
add('invoice_cycle_price_mapped', event('evt_1QInvCyclePrice00000001', 'invoice.paid', invoice({ meta: { order_id: ORDER }, lines: [line({ start: P1, end: P2, price: PRICE_MAX })] }), basil),
  { ...CYCLE, product: 'max_monthly' });
add('invoice_cycle_price_mapped_legacy', event('evt_1QInvCyclePriceL0000001', 'invoice.paid', invoice({ legacy: true, meta: { order_id: ORDER }, lines: [line({ start: P1, end: P2, price: PRICE_MAX, legacy: true })] })),
  { ...CYCLE, product: 'max_monthly' });
add('invoice_cycle_price_unknown', event('evt_1QInvCyclePriceU0000001', 'invoice.paid', invoice({ meta: { order_id: ORDER }, lines: [line({ start: P1, end: P2, price: 'price_1QSomeoneElses' })] }), basil),
  { ...CYCLE, product: '' });
// A renewal right after an upgrade: the proration lines come first, the period's line last.
add('invoice_cycle_after_proration', event('evt_1QInvCyclePror00000001', 'invoice.paid', invoice({
  lines: [line({ start: P1 - DAY, end: P1, proration: true, amount: 100 }), line({ start: P1, end: P2 })] }), basil), CYCLE);
add('invoice_cycle_after_proration_legacy', event('evt_1QInvCycleProrL0000001', 'invoice.paid', invoice({
  legacy: true, lines: [line({ start: P1 - DAY, end: P1, proration: true, amount: 100, legacy: true }), line({ start: P1, end: P2, legacy: true })] })), CYCLE);
add('invoice_update_proration', event('evt_1QInvUpdate000000000001', 'invoice.paid', invoice({
  reason: 'subscription_update', lines: [line({ start: T, end: P1, proration: true, amount: 2000, price: PRICE_MAX }), line({ start: T, end: P1, proration: true, amount: 1300 })] }), basil),
  { rc: 'ignored', reason: 'proration_invoice' });
add('invoice_manual', event('evt_1QInvManual000000000001', 'invoice.paid', invoice({ reason: 'manual', over: { parent: null } }), basil),
  { rc: 'ignored', reason: 'not_a_subscription_invoice' });
add('invoice_threshold', event('evt_1QInvThreshold0000000001', 'invoice.paid', invoice({ reason: 'subscription_threshold' }), basil),
  { rc: 'ignored', reason: 'billing_reason_not_handled' });
add('invoice_foreign', event('evt_1QInvForeign00000000001', 'invoice.paid', invoice({ meta: { customer_ref: 'acme-42' } }), basil),
  { rc: 'ignored', reason: 'not_our_subscription' });
add('invoice_failed_cycle', event('evt_1QInvFailed000000000001', 'invoice.payment_failed', invoice({ paid: false }), basil),
  { rc: 'ok', kind: 'sub_past_due', event_id: 'evt_1QInvFailed000000000001', order_id: '', amount: 1990, currency: 'USD', invoice_ref: INV2, ...SUBX });
add('invoice_failed_cycle_legacy', event('evt_1QInvFailedLeg000000001', 'invoice.payment_failed', invoice({ paid: false, legacy: true })),
  { rc: 'ok', kind: 'sub_past_due', amount: 1990, invoice_ref: INV2, subscription_ref: SUB });
add('invoice_failed_create', event('evt_1QInvFailedCreate000001', 'invoice.payment_failed', invoice({ id: INV1, reason: 'subscription_create', paid: false }), basil),
  { rc: 'ignored', reason: 'first_payment_failed' });
add('invoice_two_subscriptions', event('evt_1QInvTwoSubs0000000001', 'invoice.paid', invoice({ over: { subscription: 'sub_1QSomeoneElses' } }), basil),
  { rc: 'invalid', reason: 'invoice_malformed' });
add('invoice_cycle_no_lines', event('evt_1QInvNoLines0000000001', 'invoice.paid', invoice({ lines: [] }), basil),
  { rc: 'invalid', reason: 'invoice_malformed' });
add('invoice_period_backwards', event('evt_1QInvBackwards00000001', 'invoice.paid', invoice({ lines: [line({ start: P2, end: P1 })] }), basil),
  { rc: 'invalid', reason: 'invoice_malformed' });
add('invoice_period_ms', event('evt_1QInvPeriodMs000000001', 'invoice.paid', invoice({ lines: [line({ start: P1 * 1000, end: P2 * 1000 })] }), basil),
  { rc: 'invalid', reason: 'invoice_malformed' });
add('invoice_currency_upper', event('evt_1QInvCurUpper000000001', 'invoice.paid', invoice({ over: { currency: 'USD' } }), basil),
  { rc: 'invalid', reason: 'invoice_malformed' });
add('invoice_id_bad', event('evt_1QInvIdBad00000000001', 'invoice.paid', invoice({ id: 'in_../../x' }), basil),
  { rc: 'invalid', reason: 'invoice_malformed' });
add('invoice_amount_missing', event('evt_1QInvAmtMissing0000001', 'invoice.paid', invoice({ over: { amount_paid: undefined } }), basil),
  { rc: 'invalid', reason: 'invoice_malformed' });
add('invoice_amount_negative', event('evt_1QInvAmtNeg0000000001', 'invoice.paid', invoice({ over: { amount_paid: -1990 } }), basil),
  { rc: 'invalid', reason: 'invoice_malformed' });

const STATE = { rc: 'ok', kind: 'sub_state', order_id: '', provider_ref: '', invoice_ref: '', period_start: P0 * 1000, period_end: P1 * 1000, currency: 'USD', ...SUBX };
add('sub_updated_cancel', event('evt_1QSubUpdCancel00000001', 'customer.subscription.updated', subscription({ cancel: true }), basil),
  { ...STATE, event_id: 'evt_1QSubUpdCancel00000001', type: 'customer.subscription.updated', cancel_at_period_end: 1 });
add('sub_updated_resume', event('evt_1QSubUpdResume00000001', 'customer.subscription.updated', subscription(), basil), { ...STATE, cancel_at_period_end: 0 });
add('sub_updated_cancel_legacy', event('evt_1QSubUpdCancelLeg00001', 'customer.subscription.updated', subscription({ cancel: true, legacy: true })), { ...STATE, cancel_at_period_end: 1 });
add('sub_updated_cancel_at_end', event('evt_1QSubUpdCancelAt000001', 'customer.subscription.updated', subscription({ cancelAt: P1 }), basil), { ...STATE, cancel_at_period_end: 1 });
add('sub_updated_cancel_at_other', event('evt_1QSubUpdCancelAtX00001', 'customer.subscription.updated', subscription({ cancelAt: P1 + DAY }), basil), { ...STATE, cancel_at_period_end: 0 });
add('sub_updated_price_mapped', event('evt_1QSubUpdPrice000000001', 'customer.subscription.updated', subscription({ meta: { order_id: ORDER }, price: PRICE_MAX }), basil),
  { ...STATE, product: 'max_monthly' });
add('sub_updated_meta_product_spelled_badly', event('evt_1QSubUpdBadProd00000001', 'customer.subscription.updated', subscription({ meta: { order_id: ORDER, product: 'Max Monthly!' }, price: PRICE_MAX }), basil),
  { ...STATE, product: 'max_monthly' });
add('sub_updated_past_due', event('evt_1QSubUpdPastDue0000001', 'customer.subscription.updated', subscription({ status: 'past_due' }), basil),
  { ...STATE, kind: 'sub_past_due' });
add('sub_updated_unpaid', event('evt_1QSubUpdUnpaid00000001', 'customer.subscription.updated', subscription({ status: 'unpaid' }), basil), { ...STATE, kind: 'sub_ended' });
add('sub_updated_canceled', event('evt_1QSubUpdCanceled000001', 'customer.subscription.updated', subscription({ status: 'canceled' }), basil), { ...STATE, kind: 'sub_ended' });
add('sub_updated_incomplete_expired', event('evt_1QSubUpdIncExp0000001', 'customer.subscription.updated', subscription({ status: 'incomplete_expired' }), basil), { ...STATE, kind: 'sub_ended' });
add('sub_updated_incomplete', event('evt_1QSubUpdIncomplete0001', 'customer.subscription.updated', subscription({ status: 'incomplete' }), basil),
  { rc: 'ignored', reason: 'subscription_status_not_handled' });
add('sub_updated_trialing', event('evt_1QSubUpdTrial000000001', 'customer.subscription.updated', subscription({ status: 'trialing' }), basil), { ...STATE, kind: 'sub_state' });
add('sub_deleted', event('evt_1QSubDeleted0000000001', 'customer.subscription.deleted', subscription({ status: 'canceled' }), basil),
  { ...STATE, kind: 'sub_ended', event_id: 'evt_1QSubDeleted0000000001', type: 'customer.subscription.deleted' });
add('sub_deleted_legacy', event('evt_1QSubDeletedLeg000001', 'customer.subscription.deleted', subscription({ status: 'canceled', legacy: true })), { ...STATE, kind: 'sub_ended' });
add('sub_foreign', event('evt_1QSubForeign0000000001', 'customer.subscription.updated', subscription({ meta: {} }), basil),
  { rc: 'ignored', reason: 'not_our_subscription' });
add('sub_id_bad', event('evt_1QSubIdBad00000000001', 'customer.subscription.updated', subscription({ over: { id: 'sub_../../v1/x' } }), basil),
  { rc: 'invalid', reason: 'subscription_malformed' });
add('sub_period_backwards', event('evt_1QSubBackwards0000001', 'customer.subscription.updated', subscription({ legacy: true, over: { current_period_start: P1, current_period_end: P0 } })),
  { rc: 'invalid', reason: 'subscription_malformed' });
add('sub_cancel_flag_string', event('evt_1QSubCancelStr00000001', 'customer.subscription.updated', subscription({ over: { cancel_at_period_end: 'true' } }), basil),
  { rc: 'invalid', reason: 'subscription_malformed' });

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
