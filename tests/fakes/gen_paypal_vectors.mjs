// Writes the PayPal vectors that tests/unit/providers/test_pay_paypal.c reads
// (tests/unit/providers/data/paypal/): the API answers and notifications of the fake PayPal
// (tests/fakes/paypal.mjs) for one order of ours, driven through its real endpoints, and the
// verify-webhook-signature request PayPal documents for one notification, spliced by hand here.
//
// PayPal publishes no npm SDK that verifies webhooks (its server SDK only calls the API), so
// the notifications are signed as PROVIDERS.md 4.4 documents with node:crypto, and the fake's
// own verify endpoint checks them; test_pay_paypal_fake.c runs our module against it.
//
//   node tests/fakes/gen_paypal_vectors.mjs      (new ids on every run: commit all files together)
import { writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startFakePaypal } from './paypal.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const out = path.resolve(here, '../unit/providers/data/paypal');
mkdirSync(out, { recursive: true });
const ORDER = 'ord_01JDZ8Q6X2M4N7P9R0S3T5V6W8';
const REFUND = 'rfd_01JDZ9A1B2C3D4E5F6G7H8J9K0';

const pp = await startFakePaypal();
const files = {};
const api = async (method, p, body, headers = {}) => {
  const r = await fetch(pp.url + p, { method, body, headers });
  return { status: r.status, text: await r.text() };
};

const tok = await api('POST', '/v1/oauth2/token', 'grant_type=client_credentials', {
  authorization: 'Basic ' + Buffer.from(`${pp.clientId}:${pp.clientSecret}`).toString('base64'),
  'content-type': 'application/x-www-form-urlencoded',
});
files['token.json'] = tok.text;
const token = JSON.parse(tok.text).access_token;
const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };

const create = await api('POST', '/v2/checkout/orders', JSON.stringify({
  intent: 'CAPTURE',
  purchase_units: [{ reference_id: ORDER, custom_id: ORDER, invoice_id: ORDER, description: '115 credits',
    amount: { currency_code: 'USD', value: '9.90' } }],
  payment_source: { paypal: { experience_context: { return_url: 'https://tg.example.com/api/v1/orders/' + ORDER + '/return',
    cancel_url: 'https://tg.example.com/cancel', user_action: 'PAY_NOW', shipping_preference: 'NO_SHIPPING' } } },
}), { ...auth, 'paypal-request-id': ORDER });
files['order_created.json'] = create.text;
const id = JSON.parse(create.text).id;
files['order_get_pending.json'] = (await api('GET', `/v2/checkout/orders/${id}`, undefined, auth)).text;
files['capture_not_approved.json'] = (await api('POST', `/v2/checkout/orders/${id}/capture`, '{}', auth)).text;
pp.approve(id);
files['order_get_approved.json'] = (await api('GET', `/v2/checkout/orders/${id}`, undefined, auth)).text;
files['order_captured.json'] = (await api('POST', `/v2/checkout/orders/${id}/capture`, '{}', { ...auth, 'paypal-request-id': `cap-${ORDER}` })).text;
files['capture_already.json'] = (await api('POST', `/v2/checkout/orders/${id}/capture`, '{}', auth)).text;
files['order_get_completed.json'] = (await api('GET', `/v2/checkout/orders/${id}`, undefined, auth)).text;
const capId = JSON.parse(files['order_captured.json']).purchase_units[0].payments.captures[0].id;
const refund = await api('POST', `/v2/payments/captures/${capId}/refund`, JSON.stringify({
  amount: { value: '4.00', currency_code: 'USD' }, custom_id: REFUND, invoice_id: ORDER, note_to_payer: 'goodwill',
}), { ...auth, 'paypal-request-id': REFUND });
files['refund_created.json'] = refund.text;
files['refund_exceeded.json'] = (await api('POST', `/v2/payments/captures/${capId}/refund`, JSON.stringify({
  amount: { value: '9.90', currency_code: 'USD' } }), auth)).text;

// Notifications, pretty-printed with escapes: what we splice must be these bytes, not a
// re-serialisation (which would differ in spacing and escapes).
const pretty = (ev) => JSON.stringify(ev, null, 2).replace(/\$/g, '\\u0024') + '\n';
files['event_capture_completed.json'] = pretty(pp.event('PAYMENT.CAPTURE.COMPLETED', id));
files['event_capture_denied.json'] = pretty(pp.event('PAYMENT.CAPTURE.DENIED', id));
files['event_capture_pending.json'] = pretty(pp.event('PAYMENT.CAPTURE.PENDING', id));
files['event_order_approved.json'] = pretty(pp.event('CHECKOUT.ORDER.APPROVED', id));
files['event_refunded.json'] = pretty(pp.event('PAYMENT.CAPTURE.REFUNDED', id));

// The verify-webhook-signature request for event_capture_completed.json: the transmission
// headers as the fake sends them, at a fixed time, and the body PayPal's reference describes.
const raw = files['event_capture_completed.json'];
const h = pp.sign(raw, { time: '2026-11-29T08:00:00Z', transmissionId: 'b2384410-f8d2-11e8-9a6c-5d3f6a4b2e1c' });
files['transmission.json'] = JSON.stringify(h, null, 2) + '\n';
files['verify_request.txt'] = '{"auth_algo":"SHA256withRSA","cert_url":' + JSON.stringify(h['paypal-cert-url']) +
  ',"transmission_id":' + JSON.stringify(h['paypal-transmission-id']) +
  ',"transmission_sig":' + JSON.stringify(h['paypal-transmission-sig']) +
  ',"transmission_time":' + JSON.stringify(h['paypal-transmission-time']) +
  ',"webhook_id":' + JSON.stringify(pp.webhookId) + ',"webhook_event":' + raw + '}';
files['ids.json'] = JSON.stringify({ order: ORDER, refund: REFUND, paypal_order: id, capture: capId,
  refund_id: JSON.parse(refund.text).id, webhook_id: pp.webhookId }, null, 2) + '\n';

for (const [name, text] of Object.entries(files)) writeFileSync(path.join(out, name), text);
await pp.close();
console.log(`wrote ${Object.keys(files).length} files to ${out}`);
