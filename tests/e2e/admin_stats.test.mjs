// GET /api/v1/admin/stats and GET /api/v1/admin/users against the real binary.
//
// The test clock (TG_TEST_CLOCK) places events on two known UTC days: users signing up in
// CN and GLOBAL (X-User-Region from the trusted proxy; one saves another region later),
// sandbox orders paid in CNY and USD, sandbox tasks that succeed and fail, a refund - and
// the report must say exactly what happened, day by day, by region and by provider, with
// latency percentiles computed here from the tasks' own timestamps. Tokens are forged with a
// long lifetime so that moving the clock does not end them, and so that no session is
// started behind the test's back (a session counts as activity).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';

import {
  startServer, invariantTest, assertStatus, assertError, forgeAccessToken, uniqueEmail, strongPassword, LOOSE_LIMITS,
} from './lib/server.mjs';
import { createOrder, eventually } from './lib/pay.mjs';
import { assertDocumented } from './lib/openapi.mjs';
import { CookieJar, fragment } from './lib/browser.mjs';

const DAY = 86400000;
const TTL = 60 * 86400; // seconds: outlives every clock move here
const date = (ms) => new Date(ms).toISOString().slice(0, 10);

describe('GET /api/v1/admin/stats', () => {
  let srv, admin, adminToken;
  let d0, d1, d2; // UTC midnights (ms): the admin's day, then the two days of events
  const tasks = []; // {id, owner} of every task submitted
  const users = {};

  const tok = (u) => u.ftoken;
  const stats = (query) => srv.get(`/api/v1/admin/stats${query}`, { token: adminToken });

  async function now() {
    const r = await srv.get('/api/v1/admin/clock', { token: adminToken });
    assertStatus(r, 200);
    return r.body.now_ms;
  }
  async function advanceTo(ms) {
    const step = ms - (await now());
    assert.ok(step > 0, 'the clock moves forward');
    assertStatus(await srv.post('/api/v1/admin/clock', { advance_ms: step }, { token: adminToken }), 200);
  }

  /** Registers with X-User-Region (or none); the session it starts is an activity. */
  async function signUp(name, region) {
    const email = uniqueEmail(name);
    const password = strongPassword();
    const headers = region ? { 'x-user-region': region } : {};
    const r = await srv.post('/api/v1/auth/register', { email, password, display_name: `Stats ${name}` }, { headers });
    assertStatus(r, 201, `register ${name}`);
    const u = { id: r.body.user.id, email, name, ftoken: await forgeAccessToken(r.body.user.id, 'user', TTL) };
    srv.secrets.add(u.ftoken);
    users[name] = u;
    return u;
  }

  async function buyAndPay(u, region) {
    const o = await createOrder(srv, tok(u), 'credits_115', { return_url: '/credits', headers: region ? { 'x-user-region': region } : {} });
    assertStatus(o, 201);
    const pay = await srv.req('POST', `/sandbox/checkout/${o.body.id}/pay`);
    assert.equal(pay.status, 303, pay.text);
    return o.body;
  }

  async function task(u, outcome) {
    const body = { kind: 'image', prompt: `stats ${tasks.length}` };
    if (outcome) body.sandbox = { outcome };
    const r = await srv.post('/api/v1/tasks', body, { token: tok(u) });
    assertStatus(r, 202);
    tasks.push({ id: r.body.id, owner: u });
    return r.body.id;
  }

  async function settle() {
    const done = [];
    for (const t of tasks) {
      done.push(await eventually(async () => {
        const r = await srv.get(`/api/v1/tasks/${t.id}`, { token: tok(t.owner) });
        assertStatus(r, 200);
        return ['succeeded', 'failed', 'timed_out', 'canceled'].includes(r.body.status) ? { ...r.body, owner: t.owner } : null;
      }, 20000, `task ${t.id} ends`));
    }
    return done;
  }

  /** Nearest-rank percentile, as the API documents. */
  function pct(sorted, p) {
    const rank = Math.max(1, Math.ceil((p * sorted.length) / 100));
    return sorted[rank - 1];
  }

  let finished;

  before(async () => {
    srv = await startServer({
      env: {
        TG_TEST_CLOCK: '1',
        TG_TRUSTED_PROXIES: '127.0.0.1/32',
        TG_GEN_SANDBOX_DELAY_MS: '200',
        TG_SIGNUP_CREDITS: '0',
        TG_RATE_LIMITS: `${LOOSE_LIMITS},payment=100000/1h`,
      },
    });
    admin = await srv.admin({ login: false }); // made by the CLI: no session, no signup region
    adminToken = await forgeAccessToken(admin.id, 'admin', TTL);
    srv.secrets.add(adminToken);
    const t0 = await now();
    d0 = Math.floor(t0 / DAY) * DAY;
    d1 = d0 + DAY;
    d2 = d1 + DAY;

    // Day 1, 01:00 UTC: three CN sign-ups (one by header then a saved choice), one GLOBAL
    // (no header: the default region); two orders paid; four tasks, one failing.
    await advanceTo(d1 + 3600000);
    const cn1 = await signUp('cn1', 'CN');
    const cn2 = await signUp('cn2', 'CN');
    const g1 = await signUp('g1', null);
    const sw = await signUp('sw', 'GLOBAL');
    assertStatus(await srv.req('PUT', '/api/v1/region', { token: tok(sw), json: { region: 'CN' } }), 200);
    const o1 = await buyAndPay(cn1, 'CN');
    assert.deepEqual(o1.amount, { amount: 6800, currency: 'CNY' });
    const o2 = await buyAndPay(g1, null);
    assert.deepEqual(o2.amount, { amount: 990, currency: 'USD' });
    users.o2 = o2;
    await task(g1);
    await task(g1);
    await task(g1, 'fail');
    await task(cn1);
    await settle();

    // Day 2, 01:00 UTC: one GLOBAL sign-up; cn2 buys and runs a task; g1's order is partly
    // refunded.
    await advanceTo(d2 + 3600000);
    await signUp('g3', 'GLOBAL');
    const o3 = await buyAndPay(cn2, 'CN');
    assert.equal(o3.amount.currency, 'CNY');
    await task(cn2);
    const refund = await srv.post(`/api/v1/admin/orders/${o2.id}/refund`, { amount: 100, reason: 'stats' }, { token: adminToken });
    assertStatus(refund, 200);
    assert.equal(refund.body.refund.status, 'succeeded');
    finished = await settle();
  });
  after(() => srv?.cleanup());

  function latencies(filter = () => true) {
    const ms = finished.filter((t) => t.status === 'succeeded' && filter(t))
      .map((t) => Date.parse(t.finished_at) - Date.parse(t.submitted_at)).sort((a, b) => a - b);
    return { p50: pct(ms, 50), p90: pct(ms, 90), max: ms[ms.length - 1] };
  }

  const zeroDay = (ms) => ({ date: date(ms), new_users: 0, active_users: 0, orders_paid: 0, revenue: [], tasks: 0, tasks_succeeded: 0 });

  it('reports exactly what happened on the two days, in every region', async () => {
    const r = await stats(`?from=${date(d1)}&to=${date(d2)}`);
    assertStatus(r, 200);
    assertDocumented(r, 'GET', '/api/v1/admin/stats');
    assert.equal(r.headers.get('cache-control'), 'no-store');
    assert.deepEqual(r.body, {
      from: date(d1),
      to: date(d2),
      region: null,
      totals: {
        users: 6, // the admin (day 0) and five sign-ups
        new_users: 5,
        active_users: 5, // every sign-up started a session; the admin never did
        orders_paid: 3,
        revenue: [{ currency: 'CNY', amount: 13600 }, { currency: 'USD', amount: 990 }],
        refunds: [{ currency: 'USD', amount: 100 }],
        tasks: 5,
        tasks_succeeded: 4,
        tasks_failed: 1,
      },
      days: [
        { date: date(d1), new_users: 4, active_users: 4, orders_paid: 2, revenue: [{ currency: 'CNY', amount: 6800 }, { currency: 'USD', amount: 990 }], tasks: 4, tasks_succeeded: 3 },
        // g3 signed up; cn2 ordered and ran a task (active on both days, once a day)
        { date: date(d2), new_users: 1, active_users: 2, orders_paid: 1, revenue: [{ currency: 'CNY', amount: 6800 }], tasks: 1, tasks_succeeded: 1 },
      ],
      regions: [
        // sw signed up in GLOBAL but saved CN: the saved choice wins
        { region: 'CN', users: 3, new_users: 3, active_users: 3, orders_paid: 2, revenue: [{ currency: 'CNY', amount: 13600 }] },
        // the admin has neither a saved nor a signup region: GLOBAL
        { region: 'GLOBAL', users: 3, new_users: 2, active_users: 2, orders_paid: 1, revenue: [{ currency: 'USD', amount: 990 }] },
      ],
      providers: [
        { provider: 'sandbox', tasks: 5, succeeded: 4, failed: 1, timed_out: 0, canceled: 0, success_rate: 0.8, latency_ms: latencies() },
      ],
    });
  });

  it('a region filter keeps only that region, everywhere', async () => {
    const r = await stats(`?from=${date(d1)}&to=${date(d2)}&region=CN`);
    assertStatus(r, 200);
    assertDocumented(r, 'GET', '/api/v1/admin/stats');
    const cn = new Set([users.cn1.id, users.cn2.id, users.sw.id]);
    assert.deepEqual(r.body, {
      from: date(d1),
      to: date(d2),
      region: 'CN',
      totals: {
        users: 3, new_users: 3, active_users: 3, orders_paid: 2,
        revenue: [{ currency: 'CNY', amount: 13600 }], refunds: [], tasks: 2, tasks_succeeded: 2, tasks_failed: 0,
      },
      days: [
        { date: date(d1), new_users: 3, active_users: 3, orders_paid: 1, revenue: [{ currency: 'CNY', amount: 6800 }], tasks: 1, tasks_succeeded: 1 },
        { date: date(d2), new_users: 0, active_users: 1, orders_paid: 1, revenue: [{ currency: 'CNY', amount: 6800 }], tasks: 1, tasks_succeeded: 1 },
      ],
      regions: [{ region: 'CN', users: 3, new_users: 3, active_users: 3, orders_paid: 2, revenue: [{ currency: 'CNY', amount: 13600 }] }],
      providers: [
        { provider: 'sandbox', tasks: 2, succeeded: 2, failed: 0, timed_out: 0, canceled: 0, success_rate: 1, latency_ms: latencies((t) => cn.has(t.owner.id)) },
      ],
    });
    const g = await stats(`?from=${date(d1)}&to=${date(d2)}&region=GLOBAL`);
    assertStatus(g, 200);
    assert.deepEqual(g.body.totals, {
      users: 3, new_users: 2, active_users: 2, orders_paid: 1,
      revenue: [{ currency: 'USD', amount: 990 }], refunds: [{ currency: 'USD', amount: 100 }], tasks: 3, tasks_succeeded: 2, tasks_failed: 1,
    });
    assert.deepEqual(g.body.providers.map((p) => [p.provider, p.tasks, p.succeeded, p.failed]), [['sandbox', 3, 2, 1]]);
    assert.equal(g.body.providers[0].success_rate, 2 / 3);
  });

  it('one day alone; a day without events has zeros and empty lists, no null', async () => {
    const r = await stats(`?from=${date(d2)}&to=${date(d2)}`);
    assertStatus(r, 200);
    assert.deepEqual(r.body.totals, {
      users: 6, new_users: 1, active_users: 2, orders_paid: 1,
      revenue: [{ currency: 'CNY', amount: 6800 }], refunds: [{ currency: 'USD', amount: 100 }], tasks: 1, tasks_succeeded: 1, tasks_failed: 0,
    });
    const later = await stats(`?from=${date(d2 + DAY)}&to=${date(d2 + 3 * DAY)}`);
    assertStatus(later, 200);
    assertDocumented(later, 'GET', '/api/v1/admin/stats');
    assert.deepEqual(later.body.days, [zeroDay(d2 + DAY), zeroDay(d2 + 2 * DAY), zeroDay(d2 + 3 * DAY)]);
    assert.deepEqual(later.body.totals, {
      users: 6, new_users: 0, active_users: 0, orders_paid: 0, revenue: [], refunds: [], tasks: 0, tasks_succeeded: 0, tasks_failed: 0,
    });
    assert.deepEqual(later.body.providers, []);
    // Before anything: nobody yet.
    const before = await stats(`?from=${date(d0 - 10 * DAY)}&to=${date(d0 - DAY)}`);
    assertStatus(before, 200);
    assert.equal(before.body.totals.users, 0);
  });

  it('by default: the last 30 days, today (the server\'s clock) included', async () => {
    const r = await stats('');
    assertStatus(r, 200);
    assertDocumented(r, 'GET', '/api/v1/admin/stats');
    assert.equal(r.body.to, date(d2));
    assert.equal(r.body.from, date(d2 - 29 * DAY));
    assert.equal(r.body.days.length, 30);
    assert.deepEqual(r.body.days.map((d) => d.date), Array.from({ length: 30 }, (_, i) => date(d2 - (29 - i) * DAY)));
    assert.equal(r.body.totals.new_users, 6, 'the admin of day 0 is new in these 30 days');
    assert.equal(r.body.totals.users, 6);
    const onlyTo = await stats(`?to=${date(d1)}`);
    assertStatus(onlyTo, 200);
    assert.equal(onlyTo.body.from, date(d1 - 29 * DAY));
    assert.equal(onlyTo.body.totals.users, 5, 'users registered by the end of `to`');
  });

  it('the range is at most 366 days, inclusive; bad input names its field', async () => {
    const ok = await stats('?from=2024-01-01&to=2024-12-31'); // a leap year: 366 days
    assertStatus(ok, 200);
    assert.equal(ok.body.days.length, 366);
    assert.equal(ok.body.days[59].date, '2024-02-29');
    const cases = [
      ['?from=2024-01-01&to=2025-01-01', 'to'], // 367 days
      ['?from=2026-11-02&to=2026-11-01', 'to'],
      ['?from=2026-13-01&to=2026-12-01', 'from'],
      ['?from=2026-02-30&to=2026-03-01', 'from'],
      ['?from=2026-1-01', 'from'],
      ['?from=2026-01-01T00:00:00Z', 'from'],
      ['?to=yesterday', 'to'],
      ['?to=', 'to'],
      ['?region=cn', 'region'],
      ['?region=EU', 'region'],
      ['?region=', 'region'],
    ];
    for (const [q, field] of cases) {
      const r = await stats(q);
      assertError(r, 400, 'validation_failed', q);
      assert.equal(r.body.error.details.field, field, q);
      assertDocumented(r, 'GET', '/api/v1/admin/stats');
    }
  });

  it('only admins: no token 401, a user 403, a user forging an admin role claim 403', async () => {
    assertError(await srv.get('/api/v1/admin/stats'), 401, 'unauthorized');
    const u = users.cn1;
    assertError(await srv.get('/api/v1/admin/stats', { token: tok(u) }), 403, 'forbidden');
    const forged = await forgeAccessToken(u.id, 'admin', TTL);
    srv.secrets.add(forged);
    assertError(await srv.get('/api/v1/admin/stats', { token: forged }), 403, 'forbidden');
    assertError(await srv.get('/api/v1/admin/users', { token: forged }), 403, 'forbidden');
  });

  it('GET /api/v1/admin/users lists users newest first with their credits; q, role, disabled; pages', async () => {
    const all = await srv.get('/api/v1/admin/users?limit=100', { token: adminToken });
    assertStatus(all, 200);
    assertDocumented(all, 'GET', '/api/v1/admin/users');
    assert.equal(all.headers.get('cache-control'), 'no-store');
    const ids = all.body.data.map((x) => x.user.id);
    assert.deepEqual(ids, [users.g3.id, users.sw.id, users.g1.id, users.cn2.id, users.cn1.id, admin.id]);
    assert.equal(all.body.next_cursor, null);
    // The same object GET /api/v1/admin/users/{id} answers.
    const one = await srv.get(`/api/v1/admin/users/${users.cn1.id}`, { token: adminToken });
    assertStatus(one, 200);
    assert.deepEqual(all.body.data[4], one.body);
    assert.equal(one.body.user.signup_region, 'CN');
    assert.equal(all.body.data[1].user.signup_region, 'GLOBAL');
    assert.equal(all.body.data[1].user.region, 'CN');
    assert.equal(all.body.data[5].user.signup_region, null, 'made by the CLI');
    assert.equal(one.body.credits.paid_credits, 113, '115 bought, 2 spent on an image');

    // Pages of 2 walk the same list.
    const walked = [];
    let cursor = null;
    for (let i = 0; i < 5; i++) {
      const p = await srv.get(`/api/v1/admin/users?limit=2${cursor ? `&cursor=${cursor}` : ''}`, { token: adminToken });
      assertStatus(p, 200);
      walked.push(...p.body.data.map((x) => x.user.id));
      cursor = p.body.next_cursor;
      if (!cursor) break;
    }
    assert.deepEqual(walked, ids);

    const q = async (query) => {
      const r = await srv.get(`/api/v1/admin/users?${query}`, { token: adminToken });
      assertStatus(r, 200, query);
      assertDocumented(r, 'GET', '/api/v1/admin/users');
      return r.body.data.map((x) => x.user.id);
    };
    assert.deepEqual(await q(`q=${users.cn2.id}`), [users.cn2.id], 'an id, exactly');
    assert.deepEqual(await q(`q=${users.cn2.id.slice(0, 20)}`), [], 'part of an id is not an id (and ids are not in emails)');
    assert.deepEqual(await q(`q=${encodeURIComponent(users.g1.email.toUpperCase())}`), [users.g1.id], 'an email, any case');
    assert.deepEqual(await q('q=STATS%20G'), [users.g3.id, users.g1.id], 'part of a display name, any case');
    assert.deepEqual(await q('q=%25'), [], 'a % matches a %, not anything');
    assert.deepEqual(await q('q=_'), [], 'an _ matches an _, not any character');
    assert.deepEqual(await q('role=admin'), [admin.id]);
    assert.deepEqual(await q('q=stats&role=admin'), []);
    assertStatus(await srv.patch(`/api/v1/admin/users/${users.g3.id}`, { disabled: true }, { token: adminToken }), 200);
    assert.deepEqual(await q('disabled=true'), [users.g3.id]);
    assert.equal((await q('disabled=false')).length, 5);
    assertStatus(await srv.patch(`/api/v1/admin/users/${users.g3.id}`, { disabled: false }, { token: adminToken }), 200);

    for (const [query, field] of [
      ['role=owner', 'role'], ['disabled=1', 'disabled'], ['limit=0', 'limit'], ['limit=101', 'limit'],
      ['cursor=ord_01J00000000000000000000000', 'cursor'], [`q=${'a'.repeat(257)}`, 'q'], ['q=%FF', 'q'], ['q=a%0Ab', 'q'],
    ]) {
      const r = await srv.get(`/api/v1/admin/users?${query}`, { token: adminToken });
      assertError(r, 400, 'validation_failed', query);
      assert.equal(r.body.error.details.field, field, query);
      assertDocumented(r, 'GET', '/api/v1/admin/users');
    }
    assertStatus(await srv.get(`/api/v1/admin/users?q=${'a'.repeat(256)}`, { token: adminToken }), 200);
    assertError(await srv.get('/api/v1/admin/users'), 401, 'unauthorized');
    assertError(await srv.get('/api/v1/admin/users', { token: tok(users.g1) }), 403, 'forbidden');
  });

  invariantTest(() => srv);
});

describe('a demoted admin; the signup region of a first sign-in with a provider', () => {
  let srv, root;
  before(async () => {
    srv = await startServer({ env: { TG_SANDBOX: 'on', TG_TRUSTED_PROXIES: '127.0.0.1/32' } });
    root = await srv.admin();
  });
  after(() => srv?.cleanup());

  /** The browser flow at the sandbox sign-in provider, the callback sent with `headers`. */
  async function providerSignIn(who, headers) {
    const jar = new CookieJar();
    const start = await fetch(`${srv.url}/api/v1/auth/oauth/sandbox/start?return_to=%2Fwelcome`, { redirect: 'manual' });
    srv.requests += 1;
    assert.equal(start.status, 302);
    jar.take(start);
    const page = new URL(start.headers.get('location'));
    const ok = await srv.get(`/sandbox/sign-in/approve?state=${page.searchParams.get('state')}&code_challenge=${page.searchParams.get('code_challenge')}&who=${who}`);
    assertStatus(ok, 302);
    const cb = new URL(ok.headers.get('location'));
    const r = await srv.req('GET', cb.pathname + cb.search, { headers: { cookie: jar.header(cb.pathname), ...headers } });
    assertStatus(r, 302);
    const { login_code: code } = fragment(new URL(r.headers.get('location'), srv.url).href);
    srv.secrets.add(code);
    const ex = await srv.post('/api/v1/auth/exchange', { code });
    assertStatus(ex, 200);
    return ex.body.user;
  }

  it('an account made by a first sign-in keeps the region of that request', async () => {
    const cn = await providerSignIn('alice', { 'x-user-region': 'CN' });
    const g = await providerSignIn('bob', {});
    const a = await srv.get(`/api/v1/admin/users/${cn.id}`, { token: root.token });
    assertStatus(a, 200);
    assert.equal(a.body.user.signup_region, 'CN');
    assert.equal(a.body.user.region, null, 'the signup region is not a saved choice');
    const b = await srv.get(`/api/v1/admin/users/${g.id}`, { token: root.token });
    assert.equal(b.body.user.signup_region, 'GLOBAL', 'no header, no GeoIP: the default region');
    // Signing in again from elsewhere changes nothing.
    assert.equal((await providerSignIn('alice', { 'x-user-region': 'GLOBAL' })).id, cn.id);
    assert.equal((await srv.get(`/api/v1/admin/users/${cn.id}`, { token: root.token })).body.user.signup_region, 'CN');
    const s = await srv.get('/api/v1/admin/stats?region=CN', { token: root.token });
    assertStatus(s, 200);
    assert.equal(s.body.totals.users, 1);
    assert.equal(s.body.totals.active_users, 1, 'its sessions are activity');
  });

  it('loses /api/v1/admin/users and /api/v1/admin/stats on the next request', async () => {
    const other = await srv.admin();
    assertStatus(await srv.get('/api/v1/admin/users', { token: other.token }), 200);
    assertStatus(await srv.get('/api/v1/admin/stats', { token: other.token }), 200);
    assertStatus(await srv.patch(`/api/v1/admin/users/${other.id}`, { role: 'user' }, { token: root.token }), 200);
    // The role change bumps the account's epoch: the old token is refused altogether.
    assertError(await srv.get('/api/v1/admin/users', { token: other.token }), 401, 'invalid_token');
    assertError(await srv.get('/api/v1/admin/stats', { token: other.token }), 401, 'invalid_token');
    // Signed in again, as the user they now are: forbidden.
    const again = await srv.login(other.email, other.password);
    assertError(await srv.get('/api/v1/admin/users', { token: again.token }), 403, 'forbidden');
    assertError(await srv.get('/api/v1/admin/stats', { token: again.token }), 403, 'forbidden');
  });

  invariantTest(() => srv);
});
