// docs/openapi.yaml is the contract: it lists exactly the routes of `tollgate routes`, it is
// internally consistent, and every documented operation answers as documented.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { startServer, invariantTest, runCli, repoRoot, assertStatus, assertError, strongPassword, sleep, STATUS_OF_CODE, LOOSE_LIMITS } from './lib/server.mjs';
import { readOutbox, tokenOf } from './lib/mail.mjs';
import { doc, deref, documentedRoutes, assertDocumented } from './lib/openapi.mjs';

const norm = (route) => route.replace(/\{[^}]+\}/g, '{}');
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
const operations = () =>
  Object.entries(doc.paths).flatMap(([p, item]) => Object.entries(item).filter(([m]) => METHODS.includes(m)).map(([m, op]) => ({ path: p, method: m, op, item })));

describe('docs/openapi.yaml', () => {
  it('lists exactly the routes that `tollgate routes` prints', () => {
    const r = runCli(['routes']);
    assert.equal(r.code, 0, r.stderr);
    const served = r.stdout.split('\n').map((l) => l.trim()).filter(Boolean);
    for (const l of served) assert.match(l, /^[A-Z]+ \/\S*$/, `"METHOD PATTERN" line: ${l}`);
    const servedSet = new Set(served.map(norm));
    const docSet = new Set(documentedRoutes().map(norm));
    assert.equal(servedSet.size, served.length, 'no duplicate routes');
    const undocumented = [...servedSet].filter((x) => !docSet.has(x)).sort();
    const notServed = [...docSet].filter((x) => !servedSet.has(x)).sort();
    assert.deepEqual({ undocumented, notServed }, { undocumented: [], notServed: [] });
  });

  it('is OpenAPI 3.0 and internally consistent', () => {
    assert.match(doc.openapi, /^3\.0\.\d+$/);
    assert.ok(doc.info?.title && doc.info?.version);
    const ids = new Set();
    for (const { path: p, method, op, item } of operations()) {
      const where = `${method.toUpperCase()} ${p}`;
      assert.ok(op.operationId, `${where}: operationId`);
      assert.ok(!ids.has(op.operationId), `${where}: unique operationId`);
      ids.add(op.operationId);
      assert.ok(op.responses && Object.keys(op.responses).length, `${where}: responses`);
      // Path parameters are declared.
      const params = [...(item.parameters ?? []), ...(op.parameters ?? [])].map(deref);
      for (const m of p.matchAll(/\{([^}]+)\}/g)) {
        assert.ok(params.some((x) => x.in === 'path' && x.name === m[1] && x.required), `${where}: path parameter ${m[1]} declared`);
      }
      // Authenticated operations document 401; JSON bodies document 400/413/415.
      const security = op.security ?? doc.security ?? [];
      const authenticated = security.some((s) => Object.keys(s).length > 0);
      if (authenticated) assert.ok(op.responses['401'], `${where}: documents 401`);
      if (p.includes('/admin/')) assert.ok(op.responses['403'], `${where}: documents 403`);
      if (op.requestBody?.content?.['application/json']) {
        for (const s of ['400', '413', '415']) assert.ok(op.responses[s], `${where}: documents ${s}`);
        assert.ok(op.requestBody.content['application/json'].schema, `${where}: JSON request schema`);
      } else if (op.requestBody) {
        // Raw bytes (an upload): their size limit and a schema per media type.
        assert.ok(op.responses['413'], `${where}: documents 413`);
        const media = Object.values(op.requestBody.content ?? {});
        assert.ok(media.length > 0 && media.every((m) => m.schema), `${where}: request schema`);
      }
      // Every error response uses the Error schema.
      for (const [status, resp0] of Object.entries(op.responses)) {
        const resp = deref(resp0);
        assert.ok(resp, `${where} ${status}: resolves`);
        if (Number(status) >= 400) assert.equal(resp.content?.['application/json']?.schema?.$ref, '#/components/schemas/Error', `${where} ${status}: Error schema`);
      }
    }
    // Every $ref in the document resolves.
    const walk = (x, at) => {
      if (Array.isArray(x)) x.forEach((v, i) => walk(v, `${at}/${i}`));
      else if (x && typeof x === 'object') {
        if (typeof x.$ref === 'string') assert.ok(deref({ $ref: x.$ref }), `${at}: $ref ${x.$ref} resolves`);
        for (const [k, v] of Object.entries(x)) walk(v, `${at}/${k}`);
      }
    };
    walk(doc, '#');
    // The Error schema's codes are the catalogue.
    const codes = doc.components.schemas.Error.properties.error.properties.code.enum;
    assert.deepEqual([...codes].sort(), Object.keys(STATUS_OF_CODE).sort());
    assert.ok(codes.length >= 21, 'the catalogue was read');
  });
});

describe('every documented operation answers as documented', () => {
  let srv;
  const seen = new Set();
  const check = (r, method, pattern) => {
    assertDocumented(r, method, pattern);
    seen.add(`${method} ${pattern}`);
  };
  // Signs the sandbox checkout's notifications, so the tour can send a correctly signed one.
  const SANDBOX_WEBHOOK_SECRET = 'tour-sandbox-webhook-secret-0123456789';
  before(async () => {
    // The payment policy (5 orders per hour per user) is loosened: the tour creates several.
    srv = await startServer({ env: { TG_SANDBOX_WEBHOOK_SECRET: SANDBOX_WEBHOOK_SECRET, TG_RATE_LIMITS: `${LOOSE_LIMITS},payment=1000/1h` } });
    srv.secrets.add(SANDBOX_WEBHOOK_SECRET);
  });
  after(() => srv?.cleanup());

  it('a tour of the API validates against the schemas', async () => {
    check(await srv.get('/health'), 'GET', '/health');
    check(await srv.get('/ready'), 'GET', '/ready');
    check(await srv.get('/metrics'), 'GET', '/metrics');

    const password = strongPassword();
    const reg = await srv.post('/api/v1/auth/register', { email: `Tour.${Date.now()}@Example.com`, password, display_name: 'Tour' });
    assertStatus(reg, 201);
    check(reg, 'POST', '/api/v1/auth/register');
    const login = await srv.post('/api/v1/auth/login', { email: reg.body.user.email, password });
    assertStatus(login, 200);
    check(login, 'POST', '/api/v1/auth/login');
    const ref = await srv.post('/api/v1/auth/refresh', { refresh_token: login.body.refresh_token });
    assertStatus(ref, 200);
    check(ref, 'POST', '/api/v1/auth/refresh');
    const out = await srv.post('/api/v1/auth/logout', { refresh_token: ref.body.refresh_token });
    assertStatus(out, 204);
    check(out, 'POST', '/api/v1/auth/logout');

    // The logout ended the account's access tokens: sign in again.
    const again = await srv.post('/api/v1/auth/login', { email: reg.body.user.email, password });
    assertStatus(again, 200);
    let token = again.body.access_token;
    check(await srv.get('/api/v1/me', { token }), 'GET', '/api/v1/me');
    check(await srv.patch('/api/v1/me', { display_name: 'Tour Guide' }, { token }), 'PATCH', '/api/v1/me');
    check(await srv.get('/api/v1/region'), 'GET', '/api/v1/region');
    check(await srv.get('/api/v1/catalog'), 'GET', '/api/v1/catalog');
    check(await srv.get('/api/v1/catalog', { token }), 'GET', '/api/v1/catalog');
    check(await srv.get('/api/v1/auth/providers'), 'GET', '/api/v1/auth/providers');
    const put = await srv.req('PUT', '/api/v1/region', { json: { region: 'CN' }, token });
    assertStatus(put, 200);
    check(put, 'PUT', '/api/v1/region');
    check(await srv.get('/api/v1/region', { token }), 'GET', '/api/v1/region');
    check(await srv.req('PUT', '/api/v1/region', { json: { region: 'EU' }, token }), 'PUT', '/api/v1/region');
    const pw = await srv.post('/api/v1/me/password', { current_password: password, new_password: strongPassword() }, { token });
    assertStatus(pw, 200);
    check(pw, 'POST', '/api/v1/me/password');
    token = pw.body.access_token; // the change ended every other session

    const mk = await srv.post('/api/v1/api-keys', { name: 'tour' }, { token });
    assertStatus(mk, 201);
    check(mk, 'POST', '/api/v1/api-keys');
    const list = await srv.get('/api/v1/api-keys', { token });
    check(list, 'GET', '/api/v1/api-keys');
    // Credits through the API key (both security schemes work on these routes).
    check(await srv.get('/api/v1/credits', { token: mk.body.key }), 'GET', '/api/v1/credits');
    check(await srv.get('/api/v1/credits/ledger?limit=5', { token: mk.body.key }), 'GET', '/api/v1/credits/ledger');
    // A task's event stream (the stream itself: task_events.test.mjs): no such task, 404.
    check(await srv.get('/api/v1/tasks/tsk_0/events', { token: mk.body.key }), 'GET', '/api/v1/tasks/{id}/events');
    const del = await srv.del(`/api/v1/api-keys/${mk.body.id}`, { token });
    assertStatus(del, 204);
    check(del, 'DELETE', '/api/v1/api-keys/{id}');

    const admin = await srv.admin();
    const adj = await srv.adjust(admin.token, reg.body.user.id, 10, { idempotencyKey: 'tour-1' });
    assertStatus(adj, 200);
    check(adj, 'POST', '/api/v1/admin/users/{id}/credits');
    check(await srv.get(`/api/v1/admin/users/${reg.body.user.id}`, { token: admin.token }), 'GET', '/api/v1/admin/users/{id}');
    const promote = await srv.patch(`/api/v1/admin/users/${reg.body.user.id}`, { role: 'user', disabled: false }, { token: admin.token });
    assertStatus(promote, 200);
    check(promote, 'PATCH', '/api/v1/admin/users/{id}');
    check(await srv.patch(`/api/v1/admin/users/${admin.id}`, { disabled: true }, { token: admin.token }), 'PATCH', '/api/v1/admin/users/{id}');
    check(await srv.get('/api/v1/admin/audit-log?limit=50', { token: admin.token }), 'GET', '/api/v1/admin/audit-log');
    const users = await srv.get(`/api/v1/admin/users?q=${encodeURIComponent(reg.body.user.email)}`, { token: admin.token });
    assertStatus(users, 200);
    assert.deepEqual(users.body.data.map((x) => x.user.id), [reg.body.user.id]);
    check(users, 'GET', '/api/v1/admin/users');
    check(await srv.get('/api/v1/admin/users?role=owner', { token: admin.token }), 'GET', '/api/v1/admin/users');
    check(await srv.get('/api/v1/admin/users', { token }), 'GET', '/api/v1/admin/users');
    const stats = await srv.get('/api/v1/admin/stats', { token: admin.token });
    assertStatus(stats, 200);
    check(stats, 'GET', '/api/v1/admin/stats');
    check(await srv.get('/api/v1/admin/stats?from=2026-01-02&to=2026-01-01', { token: admin.token }), 'GET', '/api/v1/admin/stats');
    check(await srv.get('/api/v1/admin/stats', { token }), 'GET', '/api/v1/admin/stats');

    // Browser sign-in through the sandbox provider, and linking it to the account.
    const start = await srv.get('/api/v1/auth/oauth/sandbox/start?return_to=/tour');
    assertStatus(start, 302);
    check(start, 'GET', '/api/v1/auth/oauth/{provider}/start');
    const cookie = start.headers.getSetCookie()[0].split(';')[0];
    const pageUrl = new URL(start.headers.get('location'));
    const page = await srv.get(pageUrl.pathname + pageUrl.search);
    check(page, 'GET', '/sandbox/sign-in');
    const approve = await srv.get(`/sandbox/sign-in/approve${pageUrl.search}&who=lilei`);
    check(approve, 'GET', '/sandbox/sign-in/approve');
    const cbUrl = new URL(approve.headers.get('location'));
    const cb = await srv.get(cbUrl.pathname + cbUrl.search, { headers: { cookie } });
    assertStatus(cb, 302);
    check(cb, 'GET', '/api/v1/auth/oauth/{provider}/callback');
    const code = new URLSearchParams(new URL(cb.headers.get('location'), srv.url).hash.slice(1)).get('login_code');
    srv.secrets.add(code);
    const exch = await srv.post('/api/v1/auth/exchange', { code });
    assertStatus(exch, 200);
    check(exch, 'POST', '/api/v1/auth/exchange');
    check(await srv.post('/api/v1/auth/exchange', { code }), 'POST', '/api/v1/auth/exchange');
    const link = await srv.req('POST', '/api/v1/auth/oauth/sandbox/link?return_to=/tour', { token });
    assertStatus(link, 200);
    check(link, 'POST', '/api/v1/auth/oauth/{provider}/link');
    const liMe = await srv.get('/api/v1/me', { token: exch.body.access_token });
    const unlink = await srv.del(`/api/v1/me/identities/${liMe.body.identities[0].id}`, { token: exch.body.access_token });
    assertStatus(unlink, 409);
    check(unlink, 'DELETE', '/api/v1/me/identities/{id}');

    // Google is not configured on this server: One Tap is 404.
    check(await srv.post('/api/v1/auth/google/id-token', { credential: 'a.b.c' }), 'POST', '/api/v1/auth/google/id-token');

    // Typical errors of the same operations.
    check(await srv.get('/api/v1/me'), 'GET', '/api/v1/me');
    check(await srv.adjust(admin.token, reg.body.user.id, -1000), 'POST', '/api/v1/admin/users/{id}/credits');
    check(await srv.adjust(token, reg.body.user.id, 1), 'POST', '/api/v1/admin/users/{id}/credits');
    check(await srv.req('POST', '/api/v1/auth/login', { body: '{', headers: { 'content-type': 'application/json' } }), 'POST', '/api/v1/auth/login');

    // Buying credits with the sandbox provider (on by default), and refunding as the admin.
    const buyer = await srv.register({ tag: 'buyer' });
    const buy = (json, headers = {}) => srv.post('/api/v1/orders', json, { token: buyer.token, headers });
    const noSuchProduct = await buy({ product: 'credits_0' });
    assertError(noSuchProduct, 400, 'unknown_product');
    check(noSuchProduct, 'POST', '/api/v1/orders');
    const priced = await buy({ product: 'credits_115', amount: 1, currency: 'CNY' });
    assertStatus(priced, 201, 'a client-sent amount is ignored');
    assert.deepEqual(priced.body.amount, { amount: 990, currency: 'USD' });
    check(priced, 'POST', '/api/v1/orders');
    const unknownField = await buy({ product: 'credits_115', credits: 99999 });
    assertError(unknownField, 400, 'validation_failed');
    check(unknownField, 'POST', '/api/v1/orders');
    const created = await buy({ product: 'credits_115', return_url: '/credits' }, { 'idempotency-key': 'tour-order-1' });
    assertStatus(created, 201);
    check(created, 'POST', '/api/v1/orders');
    const order = created.body;
    assert.equal(order.status, 'pending');
    assert.equal(order.provider, 'sandbox');
    assert.equal(order.checkout.url, `${srv.url}/sandbox/checkout/${order.id}`);
    const replayed = await buy({ product: 'credits_115', return_url: '/credits' }, { 'idempotency-key': 'tour-order-1' });
    assertStatus(replayed, 201);
    check(replayed, 'POST', '/api/v1/orders');
    assert.equal(replayed.headers.get('idempotent-replayed'), 'true');
    assert.equal(replayed.text, created.text);
    check(await srv.get('/api/v1/orders?limit=10', { token: buyer.token }), 'GET', '/api/v1/orders');
    check(await srv.get(`/api/v1/orders/${order.id}`, { token: buyer.token }), 'GET', '/api/v1/orders/{id}');
    // Someone else's order does not exist for the caller.
    const othersOrder = await srv.get(`/api/v1/orders/${order.id}`, { token });
    assertError(othersOrder, 404, 'not_found');
    check(othersOrder, 'GET', '/api/v1/orders/{id}');

    const checkoutPath = new URL(order.checkout.url).pathname;
    const checkoutPage = await srv.get(checkoutPath);
    assertStatus(checkoutPage, 200);
    check(checkoutPage, 'GET', '/sandbox/checkout/{order}');
    const back = await srv.get(`/api/v1/orders/${order.id}/return`);
    assertStatus(back, 302);
    check(back, 'GET', '/api/v1/orders/{id}/return');
    assert.equal(back.headers.get('location'), `${srv.url}/credits?order_id=${order.id}`);

    // A notification claiming the payment with a made-up signature changes nothing.
    const now = Math.floor(Date.now() / 1000);
    const notification = (o, id) =>
      JSON.stringify({ amount: o.amount.amount, created: now, currency: o.amount.currency, id, order_id: o.id, type: 'payment.succeeded' });
    const webhook = (body, signature) =>
      srv.req('POST', '/api/v1/webhooks/sandbox', { body, headers: { 'content-type': 'application/json', 'tollgate-sandbox-signature': signature } });
    const forged = await webhook(notification(order, 'sbx_evt_forged'), `t=${now},v1=${'0'.repeat(64)}`);
    assertError(forged, 400, 'webhook_rejected');
    check(forged, 'POST', '/api/v1/webhooks/{provider}');
    assert.equal((await srv.get(`/api/v1/orders/${order.id}`, { token: buyer.token })).body.status, 'pending');

    const pay = await srv.req('POST', `${checkoutPath}/pay`);
    assertStatus(pay, 303);
    check(pay, 'POST', '/sandbox/checkout/{order}/pay');
    assert.equal(pay.headers.get('location'), `${srv.url}/credits?order_id=${order.id}`);
    const paid = await srv.get(`/api/v1/orders/${order.id}`, { token: buyer.token });
    check(paid, 'GET', '/api/v1/orders/{id}');
    assert.equal(paid.body.status, 'paid');
    const payAgain = await srv.req('POST', `${checkoutPath}/pay`);
    assertError(payAgain, 409, 'conflict');
    check(payAgain, 'POST', '/sandbox/checkout/{order}/pay');

    // A second order, paid by a notification signed as providers/pay/sandbox.h describes:
    // HMAC-SHA256 over "<t>.<raw body>" keyed by HMAC-SHA256(secret, "tollgate sandbox payments v1").
    const second = await buy({ product: 'credits_115' });
    assertStatus(second, 201);
    const signedBody = notification(second.body, `sbx_evt_tour_${now}`);
    const key = createHmac('sha256', SANDBOX_WEBHOOK_SECRET).update('tollgate sandbox payments v1').digest();
    const signed = await webhook(signedBody, `t=${now},v1=${createHmac('sha256', key).update(`${now}.${signedBody}`).digest('hex')}`);
    assertStatus(signed, 200);
    check(signed, 'POST', '/api/v1/webhooks/{provider}');
    assert.deepEqual(signed.body, { received: true });
    assert.equal((await srv.get(`/api/v1/orders/${second.body.id}`, { token: buyer.token })).body.status, 'paid');

    // A third order, failed on the checkout page (no return_url: back to the page).
    const third = await buy({ product: 'credits_115' });
    assertStatus(third, 201);
    const fail = await srv.req('POST', `/sandbox/checkout/${third.body.id}/fail`);
    assertStatus(fail, 303);
    check(fail, 'POST', '/sandbox/checkout/{order}/fail');
    assert.equal(fail.headers.get('location'), `${srv.url}/sandbox/checkout/${third.body.id}`);
    assert.equal((await srv.get(`/api/v1/orders/${third.body.id}`, { token: buyer.token })).body.status, 'failed');

    const adminOrders = await srv.get(`/api/v1/admin/orders?user_id=${buyer.id}&status=paid&provider=sandbox&from=2020-01-01T00:00:00Z&limit=10`, { token: admin.token });
    assertStatus(adminOrders, 200);
    check(adminOrders, 'GET', '/api/v1/admin/orders');
    assert.deepEqual(adminOrders.body.data.map((o) => o.id), [second.body.id, order.id]);
    const badFilter = await srv.get('/api/v1/admin/orders?status=shipped', { token: admin.token });
    assertError(badFilter, 400, 'validation_failed');
    check(badFilter, 'GET', '/api/v1/admin/orders');
    const notAdminList = await srv.get('/api/v1/admin/orders', { token });
    assertError(notAdminList, 403, 'forbidden');
    check(notAdminList, 'GET', '/api/v1/admin/orders');
    check(await srv.get(`/api/v1/admin/orders/${order.id}`, { token: admin.token }), 'GET', '/api/v1/admin/orders/{id}');

    const refundOf = (id, json, headers = {}) => srv.post(`/api/v1/admin/orders/${id}/refund`, json, { token: admin.token, headers });
    const refund = await refundOf(order.id, { amount: 100, reason: 'tour' }, { 'idempotency-key': 'tour-refund-1' });
    assertStatus(refund, 200);
    check(refund, 'POST', '/api/v1/admin/orders/{id}/refund');
    assert.equal(refund.body.refund.status, 'succeeded');
    assert.equal(refund.body.order.status, 'partially_refunded');
    assert.deepEqual(refund.body.order.refunded, { amount: 100, currency: order.amount.currency });
    const refundReplay = await refundOf(order.id, { amount: 100, reason: 'tour' }, { 'idempotency-key': 'tour-refund-1' });
    assertStatus(refundReplay, 200);
    check(refundReplay, 'POST', '/api/v1/admin/orders/{id}/refund');
    assert.equal(refundReplay.headers.get('idempotent-replayed'), 'true');
    assert.equal(refundReplay.text, refund.text);
    const tooMuch = await refundOf(order.id, { amount: order.amount.amount, reason: 'tour' });
    assertError(tooMuch, 409, 'refund_exceeds_payment');
    check(tooMuch, 'POST', '/api/v1/admin/orders/{id}/refund');
    const unpaid = await refundOf(third.body.id, { amount: 1, reason: 'tour' });
    assertError(unpaid, 409, 'order_not_refundable');
    check(unpaid, 'POST', '/api/v1/admin/orders/{id}/refund');
    // The buyer spends the credits; refunding the second order then needs allow_negative.
    const wallet = await srv.get('/api/v1/credits', { token: buyer.token });
    assertStatus(await srv.adjust(admin.token, buyer.id, -wallet.body.paid_credits), 200);
    const spent = await refundOf(second.body.id, { amount: second.body.amount.amount, reason: 'tour' });
    assertError(spent, 402, 'insufficient_credits');
    check(spent, 'POST', '/api/v1/admin/orders/{id}/refund');
    const negative = await refundOf(second.body.id, { amount: second.body.amount.amount, reason: 'tour', allow_negative: true });
    assertStatus(negative, 200);
    check(negative, 'POST', '/api/v1/admin/orders/{id}/refund');
    assert.equal(negative.body.refund.shortfall, second.body.credits);
    assert.equal(negative.body.order.status, 'refunded');
    const refunded = await srv.get(`/api/v1/admin/orders/${order.id}`, { token: admin.token });
    check(refunded, 'GET', '/api/v1/admin/orders/{id}');
    assert.deepEqual(refunded.body.refunds.map((x) => x.id), [refund.body.refund.id]);
    const notAdmin = await srv.post(`/api/v1/admin/orders/${order.id}/refund`, { amount: 1, reason: 'tour' }, { token: buyer.token });
    assertError(notAdmin, 403, 'forbidden');
    check(notAdmin, 'POST', '/api/v1/admin/orders/{id}/refund');

    // Plans: the buyer has no subscription yet, so there is nothing to cancel, resume or
    // change; the admin's views; the test clock is off on this server (404).
    const noSub = await srv.get('/api/v1/subscription', { token: buyer.token });
    assertStatus(noSub, 200);
    assert.deepEqual(noSub.body, { subscription: null });
    check(noSub, 'GET', '/api/v1/subscription');
    const cancelNone = await srv.post('/api/v1/subscription/cancel', undefined, { token: buyer.token });
    assertError(cancelNone, 404, 'no_subscription');
    check(cancelNone, 'POST', '/api/v1/subscription/cancel');
    const resumeNone = await srv.post('/api/v1/subscription/resume', {}, { token: buyer.token });
    assertError(resumeNone, 404, 'no_subscription');
    check(resumeNone, 'POST', '/api/v1/subscription/resume');
    const changePack = await srv.post('/api/v1/subscription/change', { product: 'credits_115' }, { token: buyer.token });
    assertError(changePack, 400, 'product_unavailable');
    check(changePack, 'POST', '/api/v1/subscription/change');
    const changeNone = await srv.post('/api/v1/subscription/change', { product: 'max_monthly' }, { token: buyer.token });
    assertError(changeNone, 404, 'no_subscription');
    check(changeNone, 'POST', '/api/v1/subscription/change');
    const subs = await srv.get(`/api/v1/admin/subscriptions?user_id=${buyer.id}&status=active&provider=sandbox&limit=10`, { token: admin.token });
    assertStatus(subs, 200);
    assert.deepEqual(subs.body, { data: [], next_cursor: null });
    check(subs, 'GET', '/api/v1/admin/subscriptions');
    const noSuchSub = 'sub_01ARZ3NDEKTSV4RRFFQ69G5FAV';
    const subGet = await srv.get(`/api/v1/admin/subscriptions/${noSuchSub}`, { token: admin.token });
    assertError(subGet, 404, 'not_found');
    check(subGet, 'GET', '/api/v1/admin/subscriptions/{id}');
    const subCancel = await srv.post(`/api/v1/admin/subscriptions/${noSuchSub}/cancel`, { at_period_end: false }, { token: admin.token });
    assertError(subCancel, 404, 'not_found');
    check(subCancel, 'POST', '/api/v1/admin/subscriptions/{id}/cancel');
    const clockOff = await srv.get('/api/v1/admin/clock', { token: admin.token });
    assertError(clockOff, 404, 'not_found');
    check(clockOff, 'GET', '/api/v1/admin/clock');
    const advanceOff = await srv.post('/api/v1/admin/clock', { advance_ms: 1000 }, { token: admin.token });
    assertError(advanceOff, 404, 'not_found');
    check(advanceOff, 'POST', '/api/v1/admin/clock');

    // The generation providers' key pools (admin): add, list, disable, enable.
    const pkAdd = await srv.post('/api/v1/admin/provider-keys', { provider: 'kie', key: 'kieTourKey0123456789', label: 'tour' }, { token: admin.token });
    assertStatus(pkAdd, 201);
    check(pkAdd, 'POST', '/api/v1/admin/provider-keys');
    check(await srv.post('/api/v1/admin/provider-keys', { provider: 'openai', key: 'sk-0123456789' }, { token: admin.token }), 'POST', '/api/v1/admin/provider-keys');
    check(await srv.get('/api/v1/admin/provider-keys', { token: admin.token }), 'GET', '/api/v1/admin/provider-keys');
    check(await srv.get('/api/v1/admin/provider-keys', { token }), 'GET', '/api/v1/admin/provider-keys');
    const pkOff = await srv.post(`/api/v1/admin/provider-keys/${pkAdd.body.id}/disable`, { reason: 'tour' }, { token: admin.token });
    assertStatus(pkOff, 200);
    check(pkOff, 'POST', '/api/v1/admin/provider-keys/{id}/disable');
    const pkOn = await srv.req('POST', `/api/v1/admin/provider-keys/${pkAdd.body.id}/enable`, { token: admin.token });
    assertStatus(pkOn, 200);
    check(pkOn, 'POST', '/api/v1/admin/provider-keys/{id}/enable');
    check(await srv.req('POST', '/api/v1/admin/provider-keys/pk_01ARZ3NDEKTSV4RRFFQ69G5FAV/enable', { token: admin.token }), 'POST', '/api/v1/admin/provider-keys/{id}/enable');

    // The mail flows, with the tokens from the outbox folder (no SMTP server configured).
    const email = reg.body.user.email;
    const mailsTo = async (n) => {
      for (let i = 0; i < 200; i++) {
        const got = readOutbox(srv.dataDir).filter((f) => f.mail && f.mail.header('to') === email);
        if (got.length >= n) return got.map((f) => f.mail);
        await sleep(25);
      }
      throw new Error(`fewer than ${n} mails to ${email} in the outbox`);
    };
    const verifyToken = tokenOf((await mailsTo(1))[0], 'verify-email');
    srv.secrets.add(verifyToken);
    const resend = await srv.post('/api/v1/auth/verify-email/resend', undefined, { token });
    assertStatus(resend, 202);
    check(resend, 'POST', '/api/v1/auth/verify-email/resend');
    const verified = await srv.post('/api/v1/auth/verify-email', { token: verifyToken });
    assertStatus(verified, 200);
    check(verified, 'POST', '/api/v1/auth/verify-email');
    check(await srv.post('/api/v1/auth/verify-email', { token: 'not-a-token' }), 'POST', '/api/v1/auth/verify-email');
    const reset = await srv.post('/api/v1/auth/password-reset', { email });
    assertStatus(reset, 202);
    check(reset, 'POST', '/api/v1/auth/password-reset');
    const resetMail = (await mailsTo(3)).find((m) => m.subject === 'Reset your password');
    const resetToken = tokenOf(resetMail, 'reset-password');
    srv.secrets.add(resetToken);
    check(await srv.post('/api/v1/auth/password-reset/confirm', { token: resetToken, password: 'short' }), 'POST', '/api/v1/auth/password-reset/confirm');
    const confirmed = await srv.post('/api/v1/auth/password-reset/confirm', { token: resetToken, password: strongPassword() });
    assertStatus(confirmed, 204);
    check(confirmed, 'POST', '/api/v1/auth/password-reset/confirm');

    // Uploads: a PNG through the local storage's signed URL, read back with a range.
    const png = readFileSync(path.join(repoRoot, 'tests', 'data', 'media', 'img.png'));
    token = (await srv.register({ tag: 'uploader' })).token; // the password reset above ended the old sessions
    const up = await srv.post('/api/v1/uploads', { content_type: 'image/png', size: png.length }, { token });
    assertStatus(up, 201);
    check(up, 'POST', '/api/v1/uploads');
    const badType = await srv.post('/api/v1/uploads', { content_type: 'image/gif', size: 10 }, { token });
    assertError(badType, 422, 'invalid_input');
    check(badType, 'POST', '/api/v1/uploads');
    const local = (u) => { const x = new URL(u); return x.pathname + x.search; };
    const pending = await srv.get(`/api/v1/uploads/${up.body.id}`, { token });
    assertStatus(pending, 200);
    check(pending, 'GET', '/api/v1/uploads/{id}');
    const early = await srv.post(`/api/v1/uploads/${up.body.id}/complete`, undefined, { token });
    assertError(early, 409, 'file_not_ready');
    check(early, 'POST', '/api/v1/uploads/{id}/complete');
    const putFile = await srv.req('PUT', local(up.body.upload_url), { body: png, headers: { 'content-type': 'image/png' } });
    assertStatus(putFile, 200);
    check(putFile, 'PUT', '/files/in/{user}/{file}');
    const ready = await srv.get(`/api/v1/uploads/${up.body.id}`, { token });
    assertStatus(ready, 200);
    check(ready, 'GET', '/api/v1/uploads/{id}');
    const done = await srv.post(`/api/v1/uploads/${up.body.id}/complete`, undefined, { token });
    assertStatus(done, 200);
    check(done, 'POST', '/api/v1/uploads/{id}/complete');
    const part = await srv.get(local(ready.body.url), { headers: { range: 'bytes=0-7' } });
    assertStatus(part, 206);
    check(part, 'GET', '/files/in/{user}/{file}');
    const noOutput = await srv.get(`/files/out/${reg.body.user.id}/tsk_01J00000000000000000000000/0?expires=1&sig=${'0'.repeat(64)}`);
    assertError(noOutput, 403, 'forbidden');
    check(noOutput, 'GET', '/files/out/{user}/{task}/{n}');

    // Generation on the sandbox: the uploaded image as an input, a task to the end, its
    // output served by the signed URL, a cancel, a provider callback.
    const me = await srv.get('/api/v1/me', { token });
    assertStatus(await srv.adjust(admin.token, me.body.id, 20), 200);
    const task = await srv.post('/api/v1/tasks', { kind: 'image', prompt: 'a tour', images: [up.body.id] }, { token, headers: { 'idempotency-key': 'tour-task' } });
    assertStatus(task, 202);
    check(task, 'POST', '/api/v1/tasks');
    check(await srv.post('/api/v1/tasks', { kind: 'image' }, { token }), 'POST', '/api/v1/tasks');
    const held = await srv.post('/api/v1/tasks', { kind: 'image', prompt: 'held', sandbox: { outcome: 'never' } }, { token });
    assertStatus(held, 202);
    const cancel = await srv.post(`/api/v1/tasks/${held.body.id}/cancel`, {}, { token });
    assertStatus(cancel, 200);
    check(cancel, 'POST', '/api/v1/tasks/{id}/cancel');
    check(await srv.post(`/api/v1/tasks/${held.body.id}/cancel`, {}, { token }), 'POST', '/api/v1/tasks/{id}/cancel');
    let finished;
    for (let i = 0; i < 200; i++) {
      finished = await srv.get(`/api/v1/tasks/${task.body.id}`, { token });
      if (finished.body.status === 'succeeded') break;
      await new Promise((res) => setTimeout(res, 100));
    }
    assert.equal(finished.body.status, 'succeeded');
    check(finished, 'GET', '/api/v1/tasks/{id}');
    check(await srv.get('/api/v1/tasks/tsk_01J00000000000000000000000', { token }), 'GET', '/api/v1/tasks/{id}');
    check(await srv.get('/api/v1/tasks?limit=1', { token }), 'GET', '/api/v1/tasks');
    check(await srv.get('/api/v1/tasks?status=nope', { token }), 'GET', '/api/v1/tasks');
    const output = await srv.get(local(finished.body.outputs[0].url));
    assertStatus(output, 200);
    check(output, 'GET', '/files/out/{user}/{task}/{n}');
    const kieCb = await srv.post('/api/v1/callbacks/kie', { code: 200, msg: 'ok', data: { taskId: 'veo_tour_unknown' } });
    assertStatus(kieCb, 200);
    check(kieCb, 'POST', '/api/v1/callbacks/{provider}');
    check(await srv.post('/api/v1/callbacks/kie', { code: 200 }), 'POST', '/api/v1/callbacks/{provider}');

    const missing = documentedRoutes().filter((r) => !seen.has(r));
    assert.deepEqual(missing, [], 'every documented operation was exercised');
  });

  invariantTest(() => srv);
});
