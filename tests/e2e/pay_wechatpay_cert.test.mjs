// WeChat Pay in certificate mode (no platform public key configured): tollgate downloads the
// platform certificates from GET /v3/certificates (decrypting them with the APIv3 key) when an
// answer carries a serial it does not know, keeps them, and verifies notifications with them.
// A serial nobody knows makes at most one download a minute.

import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, invariantTest, assertStatus, LOOSE_LIMITS } from './lib/server.mjs';
import { startFakeWechatpay } from '../fakes/wechatpay.mjs';

const CN = { 'x-user-region': 'CN' };
let srv;
let wp;

async function buyer() {
  const user = await srv.register({ tag: 'wxcert' });
  const r = await srv.post('/api/v1/orders', { product: 'credits_115', provider: 'wechatpay' }, { token: user.token, headers: CN });
  assertStatus(r, 201, 'order created');
  return { user, order: r.body };
}

before(async () => {
  wp = await startFakeWechatpay({ mode: 'cert' });
  assert.equal(wp.env.TG_WECHATPAY_PLATFORM_PUBLIC_KEY_FILE, undefined);
  srv = await startServer({
    env: {
      ...wp.env,
      TG_TRUSTED_PROXIES: '127.0.0.1/32',
      TG_REGION_CN_PAYMENT: 'wechatpay',
      TG_RATE_LIMITS: `${LOOSE_LIMITS},payment=100000/1h`,
    },
  });
});

after(async () => {
  await wp.close();
});

describe('WeChat Pay, certificate mode', () => {
  test('the first answer downloads the certificates once; notifications verify with them', async () => {
    assert.equal(wp.counters.certificates, 0);
    const { user, order: o } = await buyer();
    assert.equal(o.provider, 'wechatpay');
    assert.match(o.checkout.code_url, /^weixin:\/\//);
    assert.equal(wp.counters.certificates, 1);
    const { deliveries } = await wp.pay(o.id);
    assert.equal(deliveries[0].status, 200);
    assert.equal((await srv.get(`/api/v1/orders/${o.id}`, { token: user.token })).body.status, 'paid');
    await buyer();
    assert.equal(wp.counters.certificates, 1, 'kept: no second download');
    assert.ok(srv.logLines().some((l) => l.event === 'wechatpay_certificates'));
  });

  test('a notification with a serial nobody knows: 400, and no second download within a minute', async () => {
    const { user, order: o } = await buyer();
    const n = wp.notification('TRANSACTION.SUCCESS', { order: o.id, key: 'attacker', serial: wp.attacker.serial });
    const [r] = await wp.deliver(n);
    assert.equal(r.status, 400);
    assert.deepEqual(JSON.parse(r.body), { code: 'FAIL', message: '失败' });
    assert.equal(wp.counters.certificates, 1);
    assert.equal((await srv.get(`/api/v1/orders/${o.id}`, { token: user.token })).body.status, 'pending');
  });
});

invariantTest(() => srv);
