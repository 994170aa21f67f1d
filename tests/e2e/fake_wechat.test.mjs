// The fake WeChat (tests/fakes/wechat.mjs) checked on its own: the sign-in tests trust it to
// answer as WeChat does, so it gets tests like any other code.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startFakeWechat, DEFAULT_APPS, openidFor, unionidFor } from '../fakes/wechat.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const WEB = DEFAULT_APPS.web;
const MP = DEFAULT_APPS.mp;
const CALLBACK = 'https://pay.example.com/api/v1/auth/oauth/wechat/callback';

let wx;

/** GET without following redirects: {status, headers, text, json}. */
function get(url, { timeout = 5000 } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, timeout }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode, headers: res.headers, text, json });
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

function post(url, body) {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(body ?? {});
    const req = http.request(url, { method: 'POST', agent: false, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, json: JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null') }));
    });
    req.on('error', reject);
    req.end(data);
  });
}

const qrconnect = (q = {}) =>
  `${wx.url}/connect/qrconnect?appid=${q.appid ?? WEB.appid}&redirect_uri=${encodeURIComponent(q.redirect ?? CALLBACK)}` +
  `&response_type=code&scope=${q.scope ?? 'snsapi_login'}&state=${q.state ?? 'st4te'}`;
const mpAuthorize = (q = {}) =>
  `${wx.url}/connect/oauth2/authorize?appid=${q.appid ?? MP.appid}&redirect_uri=${encodeURIComponent(q.redirect ?? CALLBACK)}` +
  `&response_type=code&scope=${q.scope ?? 'snsapi_userinfo'}&state=${q.state ?? 'st4te'}`;
const tokenUrl = (app, code, extra = '') =>
  `${wx.url}/sns/oauth2/access_token?appid=${app.appid}&secret=${encodeURIComponent(app.secret)}&code=${code}&grant_type=authorization_code${extra}`;
const userinfoUrl = (token, openid) => `${wx.url}/sns/userinfo?access_token=${encodeURIComponent(token)}&openid=${openid}&lang=zh_CN`;

/** Consents on the page and returns the code from the redirect. */
async function codeFrom(pageUrl) {
  const r = await get(pageUrl);
  assert.equal(r.status, 302, r.text);
  return new URL(r.headers.location).searchParams.get('code');
}

before(async () => {
  wx = await startFakeWechat();
});
after(async () => {
  await wx.close();
});

test('qrconnect consents at once: 302 to redirect_uri with code and state', async () => {
  wx.reset();
  const r = await get(qrconnect({ redirect: `${CALLBACK}?keep=1` }));
  assert.equal(r.status, 302);
  const loc = new URL(r.headers.location);
  assert.equal(`${loc.origin}${loc.pathname}`, CALLBACK);
  assert.equal(loc.searchParams.get('keep'), '1', 'the redirect_uri query is kept');
  assert.match(loc.searchParams.get('code'), /^[0-9a-f]{32}$/);
  assert.equal(loc.searchParams.get('state'), 'st4te');
  assert.equal(wx.counters.qrconnect, 1);
  assert.equal(wx.counters.codesIssued, 1);
});

test('oauth2/authorize consents for the Official Account (snsapi_userinfo and snsapi_base)', async () => {
  wx.reset();
  assert.ok(await codeFrom(mpAuthorize()));
  assert.ok(await codeFrom(mpAuthorize({ scope: 'snsapi_base' })));
  assert.equal(wx.counters.authorize, 2);
});

test('authorize pages refuse what WeChat refuses', async () => {
  wx.reset();
  const swapped = `${wx.url}/connect/qrconnect?redirect_uri=${encodeURIComponent(CALLBACK)}&appid=${WEB.appid}&response_type=code&scope=snsapi_login&state=s`;
  const cases = [
    [swapped, 'parameters out of order'],
    [qrconnect({ appid: MP.appid }), 'the Official Account appid on the QR page'],
    [mpAuthorize({ appid: WEB.appid }), 'the website appid on the H5 page'],
    [qrconnect({ appid: 'wx0000000000000000' }), 'an unknown appid'],
    [qrconnect({ scope: 'snsapi_userinfo' }), 'an H5 scope on the QR page'],
    [mpAuthorize({ scope: 'snsapi_login' }), 'the QR scope on the H5 page'],
    [qrconnect({ redirect: 'not a url' }), 'a redirect_uri that is not a URL'],
    [qrconnect({ redirect: 'javascript:alert(1)' }), 'a redirect_uri that is not http(s)'],
    [qrconnect({ state: 'x'.repeat(129) }), 'a state over 128 bytes'],
    [qrconnect({ state: 'a%2Bb' }), 'a state with characters WeChat refuses'],
    [qrconnect().replace('response_type=code', 'response_type=token'), 'response_type other than code'],
  ];
  for (const [url, what] of cases) {
    const r = await get(url);
    assert.equal(r.status, 400, what);
    assert.equal(r.headers.location, undefined, what);
  }
  assert.equal(wx.counters.codesIssued, 0);
  assert.equal(wx.counters.pageErrors, cases.length);
});

test('callback domain: only redirect_uri on the registered host', async () => {
  const strict = await startFakeWechat({ callbackDomain: 'pay.example.com' });
  try {
    const ok = await get(`${strict.url}/connect/qrconnect?appid=${WEB.appid}&redirect_uri=${encodeURIComponent(CALLBACK)}&response_type=code&scope=snsapi_login&state=s`);
    assert.equal(ok.status, 302);
    const bad = await get(`${strict.url}/connect/qrconnect?appid=${WEB.appid}&redirect_uri=${encodeURIComponent('https://evil.example/cb')}&response_type=code&scope=snsapi_login&state=s`);
    assert.equal(bad.status, 400);
  } finally {
    await strict.close();
  }
});

test('denied mode: redirect with state and no code', async () => {
  wx.reset();
  wx.setDenied(true);
  const r = await get(qrconnect());
  assert.equal(r.status, 302);
  const loc = new URL(r.headers.location);
  assert.equal(loc.searchParams.get('code'), null);
  assert.equal(loc.searchParams.get('state'), 'st4te');
  assert.equal(wx.counters.denied, 1);
  assert.equal(wx.counters.codesIssued, 0);
});

test('code exchange and userinfo: the real shapes, text/plain', async () => {
  wx.reset();
  wx.setUser({ person: 'alice', nickname: '小明' });
  const code = await codeFrom(qrconnect());
  const t = await get(tokenUrl(WEB, code));
  assert.equal(t.status, 200);
  assert.equal(t.headers['content-type'], 'text/plain');
  assert.deepEqual(Object.keys(t.json).sort(), ['access_token', 'expires_in', 'openid', 'refresh_token', 'scope', 'unionid']);
  assert.equal(t.json.expires_in, 7200);
  assert.equal(t.json.scope, 'snsapi_login');
  assert.equal(t.json.openid, openidFor('alice', WEB.appid));
  assert.match(t.json.openid, /^[A-Za-z0-9_-]{28}$/);
  assert.equal(t.json.unionid, unionidFor('alice'));
  const u = await get(userinfoUrl(t.json.access_token, t.json.openid));
  assert.equal(u.status, 200);
  assert.equal(u.headers['content-type'], 'text/plain');
  assert.equal(u.json.openid, t.json.openid);
  assert.equal(u.json.nickname, '小明');
  assert.equal(u.json.unionid, unionidFor('alice'));
  assert.deepEqual(u.json.privilege, []);
  assert.equal(wx.counters.token, 1);
  assert.equal(wx.counters.userinfo, 1);
});

test('the same person: one unionid across both apps, a different openid in each', async () => {
  wx.reset();
  wx.setUser({ person: 'carol', nickname: 'Carol' });
  const web = (await get(tokenUrl(WEB, await codeFrom(qrconnect())))).json;
  const mp = (await get(tokenUrl(MP, await codeFrom(mpAuthorize())))).json;
  assert.equal(web.unionid, mp.unionid);
  assert.notEqual(web.openid, mp.openid);
  assert.equal(mp.scope, 'snsapi_userinfo');
});

test('a person without unionid: neither answer has one', async () => {
  wx.reset();
  wx.setUser({ person: 'dave', unionid: null, nickname: 'Dave' });
  const t = (await get(tokenUrl(MP, await codeFrom(mpAuthorize())))).json;
  assert.equal('unionid' in t, false);
  const u = (await get(userinfoUrl(t.access_token, t.openid))).json;
  assert.equal('unionid' in u, false);
  assert.equal(u.nickname, 'Dave');
});

test('errcodes: 40029 unknown code, 40163 reuse, 40125 wrong secret, 41008 missing code, other app 40029', async () => {
  wx.reset();
  const code = wx.issueCode('web');
  const first = await get(tokenUrl(WEB, code));
  assert.ok(first.json.access_token);
  const again = await get(tokenUrl(WEB, code));
  assert.equal(again.status, 200, 'errors are HTTP 200');
  assert.equal(again.headers['content-type'], 'text/plain');
  assert.equal(again.json.errcode, 40163);
  assert.match(again.json.errmsg, /^code been used, rid: /);
  assert.equal((await get(tokenUrl(WEB, 'ffffffffffffffffffffffffffffffff'))).json.errcode, 40029);
  assert.equal((await get(tokenUrl({ ...WEB, secret: 'wrong' }, wx.issueCode('web')))).json.errcode, 40125);
  assert.equal((await get(tokenUrl(WEB, ''))).json.errcode, 41008);
  assert.equal((await get(tokenUrl({ appid: 'wx0000000000000000', secret: 'x' }, 'c'))).json.errcode, 40013);
  assert.equal((await get(tokenUrl(MP, wx.issueCode('web')))).json.errcode, 40029, "the website app's code at the Official Account");
  const grant = await get(tokenUrl(WEB, wx.issueCode('web')).replace('authorization_code', 'client_credentials'));
  assert.equal(grant.json.errcode, 40002);
  assert.deepEqual(wx.counters.errcodes, { 40163: 1, 40029: 2, 40125: 1, 41008: 1, 40013: 1, 40002: 1 });
});

test('userinfo checks the access token and the openid', async () => {
  wx.reset();
  const t = (await get(tokenUrl(WEB, wx.issueCode('web')))).json;
  assert.equal((await get(userinfoUrl('nope', t.openid))).json.errcode, 40001);
  assert.equal((await get(userinfoUrl(t.access_token, openidFor('someone-else', WEB.appid)))).json.errcode, 40003);
  assert.equal((await get(`${wx.url}/sns/userinfo?openid=${t.openid}`)).json.errcode, 41001);
  assert.equal((await get(userinfoUrl(t.access_token, t.openid))).json.openid, t.openid);
});

test('forced errcode, HTTP status and raw body, with a count', async () => {
  wx.reset();
  wx.forceErrcode(-1, 'token', { times: 1 });
  const busy = await get(tokenUrl(WEB, wx.issueCode('web')));
  assert.equal(busy.status, 200);
  assert.equal(busy.json.errcode, -1);
  assert.match(busy.json.errmsg, /^system error/);
  assert.ok((await get(tokenUrl(WEB, wx.issueCode('web')))).json.access_token, 'times: 1 forces one answer');
  wx.forceHttp(503, 'userinfo');
  const t = (await get(tokenUrl(WEB, wx.issueCode('web')))).json;
  assert.equal((await get(userinfoUrl(t.access_token, t.openid))).status, 503);
  assert.equal((await get(userinfoUrl(t.access_token, t.openid))).status, 503, 'without times: every answer');
  wx.clearForced();
  wx.forceBody('<html>not json</html>', 'token', { times: 1 });
  const raw = await get(tokenUrl(WEB, wx.issueCode('web')));
  assert.equal(raw.status, 200);
  assert.equal(raw.text, '<html>not json</html>');
  wx.forceErrcode(40029, 'userinfo', { times: 1 });
  assert.equal((await get(userinfoUrl(t.access_token, t.openid))).json.errcode, 40029);
});

test('slow mode delays answers; a client that gives up does not hurt the fake', async () => {
  wx.reset();
  wx.setDelay(400, 'token');
  const t0 = Date.now();
  const r = await get(tokenUrl(WEB, wx.issueCode('web')));
  assert.ok(Date.now() - t0 >= 380, `answered after ${Date.now() - t0} ms`);
  assert.ok(r.json.access_token);
  await assert.rejects(get(tokenUrl(WEB, wx.issueCode('web')), { timeout: 100 }), /timeout|socket hang up|ECONNRESET/);
  await new Promise((res) => setTimeout(res, 400));
  assert.equal(wx.counters.token, 2, 'a request is counted when it arrives, answered or not');
  wx.setDelay(0, 'all');
  const quick = Date.now();
  assert.ok((await get(tokenUrl(WEB, wx.issueCode('web')))).json.access_token);
  assert.ok(Date.now() - quick < 300);
});

test('close() does not wait for answers still delayed', async () => {
  const slow = await startFakeWechat();
  slow.setDelay(60000, 'all');
  const pending = get(`${slow.url}/sns/userinfo?access_token=x&openid=y`, { timeout: 70000 }).catch((e) => e);
  await new Promise((res) => setTimeout(res, 100));
  const t0 = Date.now();
  await slow.close();
  assert.ok(Date.now() - t0 < 2000);
  assert.ok((await pending) instanceof Error);
});

test('as a child process: one JSON line, then controls over HTTP', async () => {
  const child = spawn(process.execPath, [path.join(here, '../fakes/wechat.mjs'), '--exit-on-stdin-close', '--web-appid', 'wxchild0000000001', '--web-secret', 'childsecret'], { stdio: ['pipe', 'pipe', 'inherit'] });
  try {
    const line = await new Promise((resolve, reject) => {
      let buf = '';
      child.stdout.on('data', (c) => {
        buf += c;
        const nl = buf.indexOf('\n');
        if (nl >= 0) resolve(buf.slice(0, nl));
      });
      child.on('exit', (c) => reject(new Error(`exited ${c}`)));
    });
    const info = JSON.parse(line);
    assert.match(info.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(info.apps.web.appid, 'wxchild0000000001');
    assert.equal((await post(`${info.url}/__control/setUser`, [{ person: 'erin', unionid: null, nickname: 'Erin' }])).status, 200);
    const { result: code } = (await post(`${info.url}/__control/issueCode`, ['web'])).json;
    const t = (await get(`${info.url}/sns/oauth2/access_token?appid=wxchild0000000001&secret=childsecret&code=${code}&grant_type=authorization_code`)).json;
    assert.equal(t.openid, openidFor('erin', 'wxchild0000000001'));
    const who = (await post(`${info.url}/__control/identity`, [{ person: 'erin' }, 'web'])).json.result;
    assert.equal(who.openid, t.openid);
    assert.equal(who.unionid, unionidFor('erin'));
    assert.equal('unionid' in t, false);
    assert.equal((await post(`${info.url}/__control/forceErrcode`, [40029, 'token', { times: 1 }])).status, 200);
    assert.equal((await get(`${info.url}/sns/oauth2/access_token?appid=x`)).json.errcode, 40029);
    const counters = (await get(`${info.url}/__control/counters`)).json.result;
    assert.equal(counters.token, 2);
    assert.equal((await post(`${info.url}/__control/setUser`, [{}])).status, 400, 'a control with bad input is refused');
    assert.equal((await post(`${info.url}/__control/setUser`, { person: 'x' })).status, 400, 'arguments must be an array');
    assert.equal((await post(`${info.url}/__control/close`, [])).status, 404, 'only the listed controls');
  } finally {
    const exited = new Promise((r) => child.on('exit', r));
    child.stdin.end();
    assert.equal(await exited, 0, 'exits 0 when its stdin closes');
  }
});
