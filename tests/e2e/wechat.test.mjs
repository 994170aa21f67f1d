// WeChat sign-in through the real binary against the fake WeChat (tests/fakes/wechat.mjs):
// the QR login in a desktop browser and the Official Account inside WeChat, one account per
// unionid across both, WeChat's errcodes as clear JSON errors, and a slow WeChat answered
// with 503 within the per-call timeout, never a hang.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, invariantTest, assertStatus, errorShapeProblem } from './lib/server.mjs';
import { CookieJar, fragment } from './lib/browser.mjs';
import { startFakeWechat, DEFAULT_APPS } from '../fakes/wechat.mjs';

const DESKTOP = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36';
const IN_WECHAT = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.44(0x18002c2a) NetType/WIFI Language/zh_CN';
const CALL_TIMEOUT_MS = 5000; // WECHAT_CALL_TIMEOUT_MS in src/providers/auth/wechat.h

describe('WeChat sign-in against the fake WeChat', () => {
  let srv;
  let wx;

  before(async () => {
    wx = await startFakeWechat({ callbackDomain: '127.0.0.1' });
    srv = await startServer({
      env: {
        TG_WECHAT_APPID: DEFAULT_APPS.web.appid,
        TG_WECHAT_SECRET: DEFAULT_APPS.web.secret,
        TG_WECHAT_MP_APPID: DEFAULT_APPS.mp.appid,
        TG_WECHAT_MP_SECRET: DEFAULT_APPS.mp.secret,
        TG_WECHAT_OPEN_BASE: wx.url,
        TG_WECHAT_API_BASE: wx.url,
        TG_SIGNUP_CREDITS: '8',
      },
    });
    srv.secrets.add(DEFAULT_APPS.web.secret);
    srv.secrets.add(DEFAULT_APPS.mp.secret);
  });
  after(async () => {
    srv?.cleanup();
    await wx?.close();
  });

  /** /start with a User-Agent: returns {jar, authorize (URL at the fake)}. */
  async function start(ua) {
    const jar = new CookieJar();
    const r = await srv.get('/api/v1/auth/oauth/wechat/start?return_to=%2Fwelcome', { headers: { 'user-agent': ua } });
    assertStatus(r, 302);
    jar.take(r);
    return { jar, authorize: r.headers.get('location') };
  }

  /** The browser at the fake's page (never sending the fragment), then back at our callback. */
  async function atWechat(flow) {
    const page = flow.authorize.split('#')[0];
    const res = await fetch(page, { redirect: 'manual' });
    assert.equal(res.status, 302, await res.text());
    return new URL(res.headers.get('location'));
  }

  async function callback(flow, cbUrl, opts = {}) {
    const r = await srv.get(cbUrl.pathname + cbUrl.search, { ...opts, headers: { cookie: flow.jar.header(cbUrl.pathname) } });
    flow.jar.take(r);
    return r;
  }

  /** A whole sign-in; returns the session answer of /exchange. */
  async function signIn(ua) {
    const flow = await start(ua);
    const r = await callback(flow, await atWechat(flow));
    assertStatus(r, 302);
    const loc = new URL(r.headers.get('location'), srv.url);
    assert.equal(loc.pathname, '/welcome');
    const { login_code: code } = fragment(loc.href);
    assert.ok(code, r.headers.get('location'));
    srv.secrets.add(code);
    const ex = await srv.post('/api/v1/auth/exchange', { code });
    assertStatus(ex, 200);
    return ex.body;
  }

  /** Log lines of failed WeChat sign-ins with this reason. */
  function reasonsLogged(reason) {
    return srv.logLines().filter((l) => l.event === 'wechat_signin_failed' && l.reason === reason).length;
  }

  /** A callback that ends in an error: the answer of the callback. */
  async function failingCallback(ua = DESKTOP, opts = {}) {
    const flow = await start(ua);
    return callback(flow, await atWechat(flow), opts);
  }

  it('a desktop browser goes to the QR page of the website app, in WeChat\'s exact form', async () => {
    const { authorize } = await start(DESKTOP);
    const m = authorize.match(/^(.*)\/connect\/qrconnect\?appid=([^&]+)&redirect_uri=([^&]+)&response_type=code&scope=snsapi_login&state=([0-9a-f]{64})#wechat_redirect$/);
    assert.ok(m, authorize);
    assert.equal(m[1], wx.url);
    assert.equal(m[2], DEFAULT_APPS.web.appid);
    assert.equal(m[3], encodeURIComponent(`${srv.url}/api/v1/auth/oauth/wechat/callback`));
  });

  it('inside WeChat it goes to the Official Account\'s consent page', async () => {
    const { authorize } = await start(IN_WECHAT);
    assert.match(authorize, new RegExp(`^${wx.url}/connect/oauth2/authorize\\?appid=${DEFAULT_APPS.mp.appid}&redirect_uri=[^&]+&response_type=code&scope=snsapi_userinfo&state=[0-9a-f]{64}#wechat_redirect$`));
  });

  it('QR login makes an account with the nickname, no email, and the signup credits; WeChat inside finds the same account', async () => {
    wx.setUser({ person: 'alice', nickname: '小明' });
    const first = await signIn(DESKTOP);
    assert.equal(first.user.email, null);
    assert.equal(first.user.display_name, '小明');
    const me = await srv.get('/api/v1/me', { token: first.access_token });
    assertStatus(me, 200);
    assert.equal(me.body.has_password, false);
    assert.deepEqual(me.body.identities.map((i) => [i.provider, i.email, i.display_name]), [['wechat', null, '小明']]);
    const credits = await srv.get('/api/v1/credits', { token: first.access_token });
    assert.equal(credits.body.available, 8, 'WeChat vouches for its people: signup credits granted');

    const inside = await signIn(IN_WECHAT);
    assert.equal(inside.user.id, first.user.id, 'the same unionid is the same account');
    const again = await signIn(DESKTOP);
    assert.equal(again.user.id, first.user.id);
  });

  it('without a unionid the two apps are two accounts (appid:openid)', async () => {
    wx.setUser({ person: 'bob', unionid: null, nickname: 'Bob' });
    const web = await signIn(DESKTOP);
    const mp = await signIn(IN_WECHAT);
    assert.notEqual(web.user.id, mp.user.id);
    assert.equal((await signIn(DESKTOP)).user.id, web.user.id, 'each app still finds its own account again');
  });

  it('refusing at WeChat comes back to the page with login_error=access_denied', async () => {
    wx.setDenied(true);
    try {
      const r = await failingCallback();
      assertStatus(r, 302);
      const loc = new URL(r.headers.get('location'), srv.url);
      assert.equal(loc.pathname, '/welcome');
      assert.deepEqual(fragment(loc.href), { login_error: 'access_denied' });
    } finally {
      wx.setDenied(false);
    }
  });

  it('40029 and 40163 are 400 provider_rejected with the errcode as the reason', async () => {
    for (const errcode of [40029, 40163]) {
      wx.forceErrcode(errcode, 'token', { times: 1 });
      const r = await failingCallback();
      assertStatus(r, 400);
      assert.equal(r.body.error.code, 'provider_rejected');
      assert.equal(r.body.error.details.reason, `wechat_${errcode}`);
    }
  });

  it('system busy (-1) and a malformed answer are 503 provider_unavailable with Retry-After', async () => {
    wx.forceErrcode(-1, 'token', { times: 1 });
    let r = await failingCallback(DESKTOP, { expect503: true });
    assertStatus(r, 503);
    assert.equal(r.body.error.code, 'provider_unavailable');
    assert.deepEqual(r.body.error.details, { provider: 'wechat' }, '5xx answers name the provider only; the reason is logged');
    assert.equal(r.headers.get('retry-after'), '5');
    assert.equal(reasonsLogged('wechat_-1'), 1);
    wx.forceBody('<html><body>502 Bad Gateway</body></html>', 'userinfo', { times: 1 });
    r = await failingCallback(DESKTOP, { expect503: true });
    assertStatus(r, 503);
    assert.equal(r.body.error.code, 'provider_unavailable');
    assert.equal(reasonsLogged('bad_answer'), 1);
  });

  it('a refused app secret (40125) is 502 provider_error, with nothing about our keys in the answer', async () => {
    wx.forceErrcode(40125, 'token', { times: 1 });
    const flow = await start(DESKTOP);
    const cb = await atWechat(flow);
    // Sent outside srv.req: a deliberate 502 must not count against the no-5xx invariant.
    const res = await fetch(srv.url + cb.pathname + cb.search, { redirect: 'manual', headers: { cookie: flow.jar.header(cb.pathname) } });
    const text = await res.text();
    srv.requests += 1;
    assert.equal(res.status, 502);
    const body = JSON.parse(text);
    assert.equal(errorShapeProblem({ status: 502, headers: res.headers, text, body }), null);
    assert.equal(body.error.code, 'provider_error');
    assert.ok(!text.includes(DEFAULT_APPS.web.secret) && !text.includes(DEFAULT_APPS.web.appid) && !text.includes('40125'));
    const logged = srv.logLines().filter((l) => l.event === 'wechat_signin_failed' && l.reason === 'wechat_40125');
    assert.equal(logged.length, 1);
    assert.equal(logged[0].level, 'error', 'the operator is told');
    assert.equal(logged[0].variant, 'web', 'and which app to fix');
  });

  it('a slow WeChat is 503 within the per-call timeout, and the code is not sent twice', async () => {
    wx.setDelay(30000, 'token');
    try {
      const before = wx.counters.token;
      const t0 = Date.now();
      const r = await failingCallback(DESKTOP, { expect503: true });
      const took = Date.now() - t0;
      assertStatus(r, 503);
      assert.equal(r.body.error.code, 'provider_unavailable');
      assert.equal(reasonsLogged('timeout'), 1);
      assert.ok(took >= CALL_TIMEOUT_MS - 200 && took < CALL_TIMEOUT_MS + 2500, `answered after ${took} ms`);
      assert.equal(wx.counters.token - before, 1, 'the single-use code is not retried');
    } finally {
      wx.setDelay(0, 'all');
    }
  });

  it('neither the app secrets nor WeChat\'s codes and tokens reach the logs', () => {
    assert.ok(wx.issued.size > 10);
    for (const s of wx.issued) srv.secrets.add(s);
    // invariantTest below scans the whole log for every one of them.
  });

  invariantTest(() => srv);
});
