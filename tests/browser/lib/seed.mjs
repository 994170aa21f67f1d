// Data for the page tour, made through the API so that no page is only empty: an admin who
// has bought a pack and a plan, has a pending order, a finished and a failed task and an API
// key; a buyer with a partly refunded order and an adjustment; provider keys (one disabled).
import assert from 'node:assert/strict';
import { createOrder, subscribeSandbox } from '../../e2e/lib/pay.mjs';
import { eventually } from './flows.mjs';

/** The env a seeded server needs on top of startApp's: fast sandbox tasks, no real provider reachable. */
export const SEED_ENV = {
  TG_GEN_SANDBOX_DELAY_MS: '300',
  TG_SIGNUP_CREDITS: '8',
  // Provider keys are added below only to be listed: their provider points nowhere.
  TG_KIE_API_BASE: 'http://127.0.0.1:9',
};

async function paidOrder(srv, token, product) {
  const o = await createOrder(srv, token, product, { provider: 'sandbox' });
  assert.equal(o.status, 201, o.text);
  const pay = await srv.req('POST', `/sandbox/checkout/${o.body.id}/pay`);
  assert.equal(pay.status, 303, pay.text);
  return o.body;
}

async function task(srv, token, json) {
  const r = await srv.post('/api/v1/tasks', { provider: 'sandbox', ...json }, { token });
  assert.equal(r.status, 202, r.text);
  return r.body.id;
}

/** Seeds app's server; returns {admin, buyer, ids: {order, task, user}}. */
export async function seed(app) {
  const srv = app.srv;
  const admin = await srv.admin();
  const buyer = await srv.register({ tag: 'buyer', display_name: 'Li Wei' });
  await srv.register({ tag: 'newcomer' });

  const order = await paidOrder(srv, admin.token, 'credits_115');
  await subscribeSandbox(srv, admin.token, 'pro_monthly');
  const pending = await createOrder(srv, admin.token, 'credits_355', { provider: 'sandbox' });
  assert.equal(pending.status, 201, pending.text);
  const done = await task(srv, admin.token, { kind: 'text_to_video', prompt: 'A paper boat drifting down a rainy street', aspect_ratio: '16:9' });
  await task(srv, admin.token, { kind: 'image', prompt: 'A teapot in the style of a woodcut', sandbox: { outcome: 'fail' } });
  await task(srv, admin.token, { kind: 'image', prompt: 'A fox reading a newspaper' });
  const key = await srv.post('/api/v1/api-keys', { name: 'Build server' }, { token: admin.token });
  assert.equal(key.status, 201, key.text);

  const bought = await paidOrder(srv, buyer.token, 'credits_115');
  const refund = await srv.post(`/api/v1/admin/orders/${bought.id}/refund`,
    { amount: Math.floor(bought.amount.amount / 2), reason: 'Half of the pack was not used' }, { token: admin.token });
  assert.equal(refund.status, 200, refund.text);
  const adj = await srv.adjust(admin.token, buyer.id, 12, { reason: 'Goodwill for a slow task' });
  assert.equal(adj.status, 200, adj.text);

  for (const k of ['kie-main-pool-0001', 'kie-spare-pool-0002']) {
    const r = await srv.post('/api/v1/admin/provider-keys', { provider: 'kie', key: k, label: k.slice(4, 13) }, { token: admin.token });
    assert.equal(r.status, 201, r.text);
    if (k.includes('spare')) {
      const d = await srv.post(`/api/v1/admin/provider-keys/${r.body.id}/disable`, { reason: 'Rotated out' }, { token: admin.token });
      assert.equal(d.status, 200, d.text);
    }
  }

  await eventually(async () => {
    const r = await srv.get('/api/v1/tasks?limit=10', { token: admin.token });
    return r.body.data.every((x) => ['succeeded', 'failed'].includes(x.status));
  }, 'the seeded tasks finished', 20000);
  return { admin, buyer, ids: { order: order.id, task: done, user: buyer.id } };
}
