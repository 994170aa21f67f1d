// A fake WeChat for sign-in tests: open.weixin.qq.com's authorize pages and
// api.weixin.qq.com's /sns endpoints on one local port, speaking the real wire formats
// (PROVIDERS.md section 7):
//
//   GET /connect/qrconnect          website app (scope snsapi_login): the QR page
//   GET /connect/oauth2/authorize   Official Account H5 (scope snsapi_userinfo/snsapi_base)
//       Both check WeChat's strict parameter order, the app of the page and the scope, then
//       consent at once: 302 to redirect_uri?code=CODE&state=STATE (denied mode: 302 to
//       redirect_uri?state=STATE, no code). The real pages show an error page on bad input;
//       the fake answers 400 so a test cannot take a refusal for consent. The browser never
//       sends the #wechat_redirect fragment, so the fake cannot check it (unit tests do).
//   GET /sns/oauth2/access_token    appid, secret, code, grant_type=authorization_code
//   GET /sns/userinfo               access_token, openid, lang
//       Answers are HTTP 200 and Content-Type text/plain, errors included
//       ({"errcode":40029,"errmsg":"invalid code, rid: ..."}), as WeChat sends them.
//
// People: the "current user" (setUser) is who consents on the next authorize page or
// issueCode(). Each person has one unionid (shared by both apps, as for apps bound to one
// Open Platform account) or none, and one openid per app (derived from the appid, so the
// two apps see different openids).
//
// Use in-process:
//   import { startFakeWechat } from '../fakes/wechat.mjs';
//   const wx = await startFakeWechat();          // port 0: a free port
//   TG_WECHAT_OPEN_BASE = TG_WECHAT_API_BASE = wx.url
//   wx.setUser({ person: 'alice', nickname: '小明' }); wx.setUser({ person: 'bob', unionid: null });
//   wx.setDelay(8000, 'token'); wx.forceErrcode(-1, 'userinfo'); wx.setDenied(true);
//   wx.counters.token; await wx.close();
// or as a child process (for C tests): `node tests/fakes/wechat.mjs [--port N]` prints one
// line {"url":...,"port":...,"apps":{...}}; the methods above are then POST
// /__control/<method> with a JSON array of arguments (/__control/setUser with
// [{"person":"bob","unionid":null}], /__control/issueCode with ["mp"]), answering
// {"result": ...}; GET /__control/counters answers the counters.
// It exits on SIGTERM, SIGINT, or (with --exit-on-stdin-close) when its stdin closes.

import http from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';

export const DEFAULT_APPS = Object.freeze({
  web: Object.freeze({ appid: 'wxd477edab60670232', secret: 'fake-web-secret-0123456789abcdef' }),
  mp: Object.freeze({ appid: 'wx5f0a3c1b2d4e6f78', secret: 'fake-mp-secret-0123456789abcdef0' }),
});

const CODE_TTL_MS = 10 * 60 * 1000; // "code 10 分钟内有效"
const TOKEN_TTL_S = 7200;
const ENDPOINTS = ['authorize', 'token', 'userinfo'];

const b64url = (buf) => buf.toString('base64url');
const digest = (s) => createHash('sha256').update(s).digest();
const rid = () => `${randomBytes(4).toString('hex')}-${randomBytes(4).toString('hex')}-${randomBytes(4).toString('hex')}`;

/** The openid a person has in an app: 28 characters of [A-Za-z0-9_-], like WeChat's. */
export function openidFor(person, appid) {
  return 'o' + b64url(digest(`openid/${appid}/${person}`)).slice(0, 27);
}

/** The unionid a person has under the Open Platform account: 29 characters. */
export function unionidFor(person) {
  return 'o' + b64url(digest(`unionid/${person}`)).slice(0, 28);
}

/** WeChat's wording for the errcodes the fake produces. */
const ERRMSG = {
  '-1': 'system error',
  40001: 'invalid credential, access_token is invalid or not latest',
  40002: 'invalid grant_type',
  40003: 'invalid openid',
  40013: 'invalid appid',
  40029: 'invalid code',
  40125: 'invalid appsecret',
  40163: 'code been used',
  41001: 'access_token missing',
  41002: 'appid missing',
  41004: 'appsecret missing',
  41008: 'missing code',
  41009: 'missing openid',
  45011: 'api minute-quota reach limit  mustslower  retry next minute',
};

function errBody(errcode, errmsg) {
  return JSON.stringify({ errcode, errmsg: `${errmsg ?? ERRMSG[errcode] ?? 'error'}, rid: ${rid()}` });
}

function freshCounters() {
  return {
    qrconnect: 0,
    authorize: 0,
    token: 0,
    userinfo: 0,
    codesIssued: 0,
    tokensIssued: 0,
    denied: 0,
    pageErrors: 0,
    errcodes: {}, // errcode -> times answered
  };
}

/**
 * Starts the fake. opts: { host ('127.0.0.1'), port (0), apps ({web:{appid,secret}, mp:{...}}),
 * callbackDomain (when set, redirect_uri's host must be it, as WeChat's "授权回调域" check) }.
 * Resolves to the controller described at the top of this file.
 */
export async function startFakeWechat(opts = {}) {
  const host = opts.host ?? '127.0.0.1';
  const apps = {
    web: { ...DEFAULT_APPS.web, ...(opts.apps?.web ?? {}) },
    mp: { ...DEFAULT_APPS.mp, ...(opts.apps?.mp ?? {}) },
  };
  const appByAppid = new Map(Object.entries(apps).map(([name, a]) => [a.appid, { name, ...a }]));
  const codes = new Map(); // code -> { appid, user, expires, used }
  const tokens = new Map(); // access_token -> { appid, openid, user, expires }
  const timers = new Set();
  let state;

  function reset() {
    state = {
      user: { person: 'person-1', nickname: '微信用户' },
      denied: false,
      delay: { authorize: 0, token: 0, userinfo: 0 },
      forced: { authorize: null, token: null, userinfo: null }, // {kind, value, times}
      callbackDomain: opts.callbackDomain ?? null,
    };
    codes.clear();
    tokens.clear();
    ctl.counters = freshCounters();
    ctl.lastAuthorize = null;
  }

  /** The identity a user descriptor has in an app. */
  function identity(user, appid) {
    const openid = user.openid ?? openidFor(user.person, appid);
    const unionid = user.unionid === null ? null : (user.unionid ?? unionidFor(user.person));
    return { openid, unionid, nickname: user.nickname ?? '' };
  }

  function issueCode(appName = 'web') {
    const app = apps[appName];
    if (!app) throw new Error(`unknown app ${appName}`);
    const code = randomBytes(16).toString('hex');
    codes.set(code, { appid: app.appid, user: { ...state.user }, expires: Date.now() + CODE_TTL_MS, used: false });
    ctl.issued.add(code);
    ctl.counters.codesIssued++;
    return code;
  }

  /** Consumes one forced answer for endpoint, or null. */
  function takeForced(endpoint) {
    const f = state.forced[endpoint];
    if (!f) return null;
    if (f.times !== Infinity && --f.times <= 0) state.forced[endpoint] = null;
    return f;
  }

  function sendText(res, status, body, type = 'text/plain') {
    res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  }

  function answer(res, body) {
    sendText(res, 200, body);
  }

  function answerErr(res, errcode, errmsg) {
    ctl.counters.errcodes[errcode] = (ctl.counters.errcodes[errcode] ?? 0) + 1;
    answer(res, errBody(errcode, errmsg));
  }

  /** Sends what a forced mode says; true when it did. */
  function sendForced(res, endpoint) {
    const f = takeForced(endpoint);
    if (!f) return false;
    if (f.kind === 'errcode') answerErr(res, f.value, f.errmsg);
    else if (f.kind === 'http') sendText(res, f.value, `<html><body>${f.value}</body></html>`, 'text/html');
    else answer(res, f.value);
    return true;
  }

  function pageError(res, msg) {
    ctl.counters.pageErrors++;
    sendText(res, 400, `<html><body><p>${msg}</p></body></html>`, 'text/html; charset=utf-8');
  }

  // ---- open.weixin.qq.com -----------------------------------------------------------------
  function authorizePage(req, res, url, which) {
    const raw = url.search.slice(1);
    ctl.lastAuthorize = { path: url.pathname, query: raw };
    if (sendForced(res, 'authorize')) return;
    // WeChat matches the query strictly: these names, in this order (state may be left out).
    const names = raw.split('&').map((kv) => kv.split('=')[0]);
    const want = ['appid', 'redirect_uri', 'response_type', 'scope', 'state'];
    if (!(names.length === 5 || names.length === 4) || names.some((n, i) => n !== want[i])) {
      return pageError(res, `参数错误: parameters must be ${want.join(', ')} in this order, got ${names.join(', ')}`);
    }
    const q = url.searchParams;
    const app = apps[which];
    if (q.get('appid') !== app.appid) {
      return pageError(res, appByAppid.has(q.get('appid')) ? '该链接无法访问 (appid of another kind of app)' : '参数错误: appid');
    }
    if (q.get('response_type') !== 'code') return pageError(res, '参数错误: response_type');
    const scopes = which === 'web' ? ['snsapi_login'] : ['snsapi_userinfo', 'snsapi_base'];
    if (!scopes.includes(q.get('scope'))) return pageError(res, 'Scope 参数错误或没有 Scope 权限');
    let redirect;
    try {
      redirect = new URL(q.get('redirect_uri') ?? '');
    } catch {
      return pageError(res, 'redirect_uri 参数错误');
    }
    if (!/^https?:$/.test(redirect.protocol)) return pageError(res, 'redirect_uri 参数错误');
    if (state.callbackDomain && redirect.hostname !== state.callbackDomain) {
      return pageError(res, 'redirect_uri 参数错误 (not the authorization callback domain)');
    }
    const st = q.get('state');
    if (st !== null && (st.length > 128 || !/^[A-Za-z0-9_-]*$/.test(st))) {
      return pageError(res, 'state 参数错误');
    }
    if (state.denied) {
      ctl.counters.denied++;
      if (st !== null) redirect.searchParams.append('state', st);
    } else {
      redirect.searchParams.append('code', issueCode(which));
      if (st !== null) redirect.searchParams.append('state', st);
    }
    res.writeHead(302, { Location: redirect.toString(), 'Content-Length': 0 });
    res.end();
  }

  // ---- api.weixin.qq.com ------------------------------------------------------------------
  function accessToken(req, res, url) {
    if (sendForced(res, 'token')) return;
    const q = url.searchParams;
    const appid = q.get('appid');
    if (!appid) return answerErr(res, 41002);
    const app = appByAppid.get(appid);
    if (!app) return answerErr(res, 40013);
    if (!q.get('secret')) return answerErr(res, 41004);
    if (q.get('secret') !== app.secret) return answerErr(res, 40125);
    const code = q.get('code');
    if (!code) return answerErr(res, 41008);
    if (q.get('grant_type') !== 'authorization_code') return answerErr(res, 40002);
    const c = codes.get(code);
    if (!c || c.appid !== appid || c.expires < Date.now()) return answerErr(res, 40029);
    if (c.used) return answerErr(res, 40163);
    c.used = true;
    const who = identity(c.user, appid);
    const token = b64url(randomBytes(60));
    const refresh = b64url(randomBytes(60));
    tokens.set(token, { appid, ...who, expires: Date.now() + TOKEN_TTL_S * 1000 });
    ctl.counters.tokensIssued++;
    ctl.issued.add(token).add(refresh);
    const body = {
      access_token: token,
      expires_in: TOKEN_TTL_S,
      refresh_token: refresh,
      openid: who.openid,
      scope: app.name === 'web' ? 'snsapi_login' : 'snsapi_userinfo',
    };
    if (who.unionid) body.unionid = who.unionid;
    answer(res, JSON.stringify(body));
  }

  function userinfo(req, res, url) {
    if (sendForced(res, 'userinfo')) return;
    const q = url.searchParams;
    const token = q.get('access_token');
    if (!token) return answerErr(res, 41001);
    const t = tokens.get(token);
    if (!t || t.expires < Date.now()) return answerErr(res, 40001);
    if (!q.get('openid')) return answerErr(res, 41009);
    if (q.get('openid') !== t.openid) return answerErr(res, 40003);
    // Since late 2021 WeChat leaves sex and the place fields empty.
    const body = {
      openid: t.openid,
      nickname: t.nickname,
      sex: 0,
      language: '',
      city: '',
      province: '',
      country: '',
      headimgurl: 'https://thirdwx.qlogo.cn/mmopen/vi_32/fake/132',
      privilege: [],
    };
    if (t.unionid) body.unionid = t.unionid;
    answer(res, JSON.stringify(body));
  }

  // ---- controls over HTTP (the same convention as the fake Google) -----------------------
  // POST /__control/<method> with a JSON array of arguments -> {"result": ...};
  // GET /__control/counters -> {"result": counters}.
  const CONTROLS = ['setUser', 'setDenied', 'setDelay', 'forceErrcode', 'forceHttp', 'forceBody', 'clearForced',
    'issueCode', 'identity', 'reset'];
  async function control(req, res, method) {
    const json = (status, obj) => sendText(res, status, JSON.stringify(obj), 'application/json');
    if (method === 'counters' && req.method === 'GET') return json(200, { result: ctl.counters });
    if (req.method !== 'POST' || !CONTROLS.includes(method)) return json(404, { error: 'unknown control' });
    const chunks = [];
    for await (const c of req) chunks.push(c);
    let args;
    try {
      args = JSON.parse(Buffer.concat(chunks).toString('utf8') || '[]');
    } catch {
      args = null;
    }
    if (!Array.isArray(args)) return json(400, { error: 'arguments must be a JSON array' });
    try {
      return json(200, { result: ctl[method](...args) ?? null });
    } catch (e) {
      return json(400, { error: String(e.message) });
    }
  }

  function route(req, res) {
    const url = new URL(req.url, 'http://fake');
    if (url.pathname.startsWith('/__control/')) return control(req, res, url.pathname.slice(11));
    // [endpoint for delays and forced answers, counter, handler]
    const handlers = {
      '/connect/qrconnect': ['authorize', 'qrconnect', (q, s) => authorizePage(q, s, url, 'web')],
      '/connect/oauth2/authorize': ['authorize', 'authorize', (q, s) => authorizePage(q, s, url, 'mp')],
      '/sns/oauth2/access_token': ['token', 'token', (q, s) => accessToken(q, s, url)],
      '/sns/userinfo': ['userinfo', 'userinfo', (q, s) => userinfo(q, s, url)],
    };
    const h = handlers[url.pathname];
    if (!h || req.method !== 'GET') return sendText(res, 404, '<html><body>404</body></html>', 'text/html');
    const [endpoint, counter, fn] = h;
    ctl.counters[counter]++; // requests received, answered or not
    const delay = state.delay[endpoint];
    if (!delay) return fn(req, res);
    // Slow mode: answer late (or never, if the client gave up first).
    const t = setTimeout(() => {
      timers.delete(t);
      if (!res.destroyed && !req.socket.destroyed) fn(req, res);
    }, delay);
    timers.add(t);
  }

  const ctl = {
    apps,
    counters: freshCounters(),
    lastAuthorize: null,
    /** Every code, access token and refresh token handed out (reset keeps them): what must
     * never appear in the logs of the code under test. */
    issued: new Set(),
    /** Who consents next: {person, unionid (undefined: derived, null: none), openid?, nickname}. */
    setUser(user) {
      if (!user || typeof user.person !== 'string' || !user.person) throw new Error('setUser needs a person');
      state.user = { ...user };
    },
    setDenied(on) { state.denied = !!on; },
    /** Answers of endpoint ('authorize' | 'token' | 'userinfo' | 'all') wait ms first. */
    setDelay(ms, on = 'all') {
      for (const e of on === 'all' ? ENDPOINTS : [on]) {
        if (!ENDPOINTS.includes(e)) throw new Error(`unknown endpoint ${e}`);
        state.delay[e] = ms;
      }
    },
    /** The next `times` (default: every) answers of endpoint are {"errcode":errcode,...}. */
    forceErrcode(errcode, on = 'token', { times = Infinity, errmsg } = {}) {
      if (!Number.isInteger(errcode)) throw new Error('errcode must be an integer');
      state.forced[on] = { kind: 'errcode', value: errcode, errmsg, times };
    },
    /** The next answers of endpoint are this HTTP status with an HTML page (a failing front end). */
    forceHttp(status, on = 'token', { times = Infinity } = {}) {
      state.forced[on] = { kind: 'http', value: status, times };
    },
    /** The next answers of endpoint are this raw body (HTTP 200, text/plain). */
    forceBody(body, on = 'token', { times = Infinity } = {}) {
      state.forced[on] = { kind: 'body', value: String(body), times };
    },
    clearForced() { state.forced = { authorize: null, token: null, userinfo: null }; },
    issueCode,
    /** The {openid, unionid, nickname} a user descriptor has in app 'web' or 'mp'. */
    identity(user, appName = 'web') {
      if (!user || typeof user.person !== 'string' || !apps[appName]) throw new Error('identity needs a person and an app');
      return identity(user, apps[appName].appid);
    },
    reset,
    url: '',
    port: 0,
    async close() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      server.closeAllConnections();
      await new Promise((r) => server.close(() => r()));
    },
  };
  reset();

  const server = http.createServer((req, res) => {
    Promise.resolve(route(req, res)).catch((e) => {
      if (!res.headersSent) sendText(res, 500, String(e));
    });
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, resolve);
  });
  ctl.port = server.address().port;
  ctl.url = `http://${host}:${ctl.port}`;
  return ctl;
}

// ---- as a child process -----------------------------------------------------------------
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = process.argv.slice(2);
  const opt = (name) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const apps = { web: {}, mp: {} };
  if (opt('--web-appid')) apps.web.appid = opt('--web-appid');
  if (opt('--web-secret')) apps.web.secret = opt('--web-secret');
  if (opt('--mp-appid')) apps.mp.appid = opt('--mp-appid');
  if (opt('--mp-secret')) apps.mp.secret = opt('--mp-secret');
  const wx = await startFakeWechat({ port: Number(opt('--port') ?? 0), apps, callbackDomain: opt('--callback-domain') });
  process.stdout.write(JSON.stringify({ url: wx.url, port: wx.port, apps: wx.apps }) + '\n');
  const stop = async () => {
    await wx.close();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  if (args.includes('--exit-on-stdin-close')) {
    process.stdin.on('end', stop);
    process.stdin.on('error', stop);
    process.stdin.resume();
  }
}
