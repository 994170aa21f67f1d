// api.js - the one owner of fetch, tokens, silent refresh and JSON errors.
//
// The access token lives in this module's memory only (a reload loses it; the refresh cookie
// brings it back). The refresh token never reaches script: requests that start or renew a
// session send `X-Tollgate-Session: cookie`, and Tollgate answers with an HttpOnly,
// SameSite=Strict cookie scoped to /api/v1/auth instead of a refresh_token in the body.

const BASE = '/api/v1';
const SESSION_HEADER = { 'X-Tollgate-Session': 'cookie' };

let access = null; // { token, expiresAt (ms) }
// Whether this browser holds a refresh cookie (the cookie itself is HttpOnly, so script keeps a
// hint): anonymous visitors then make no refresh call that can only fail.
const HINT_KEY = 'tollgate.session';
function hint(on) {
  try {
    if (on) localStorage.setItem(HINT_KEY, '1');
    else localStorage.removeItem(HINT_KEY);
  } catch {
    /* private mode: no hint, so every page load tries the cookie */
  }
}
/** Whether a session may be restored from the refresh cookie on this browser. */
export function maybeSignedIn() {
  try {
    return localStorage.getItem(HINT_KEY) !== null;
  } catch {
    return true;
  }
}
let refreshTimer = null;
let refreshing = null; // the one refresh in flight, shared by every caller
const listeners = new Set();

/** An error answer from the API: `{error:{code,message,details}, request_id}`. */
export class ApiError extends Error {
  constructor(status, body, retryAfter) {
    const e = (body && body.error) || {};
    super(e.message || `HTTP ${status}`);
    this.status = status;
    this.code = e.code || (status === 0 ? 'network' : 'http_' + status);
    this.details = e.details || {};
    this.requestId = body && body.request_id;
    this.retryAfter = retryAfter;
  }
}

/** Calls fn(user|null) whenever the session starts, changes or ends. Returns an unsubscribe. */
export function onSession(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

let currentUser = null;
export function sessionUser() {
  return currentUser;
}

function setSession(answer) {
  if (answer && answer.access_token) {
    access = { token: answer.access_token, expiresAt: Date.now() + (answer.expires_in || 900) * 1000 };
    currentUser = answer.user || currentUser;
    hint(true);
    clearTimeout(refreshTimer);
    // Renew a minute before expiry (never sooner than 10 s from now).
    const wait = Math.max(10000, access.expiresAt - Date.now() - 60000);
    refreshTimer = setTimeout(() => refresh().catch(() => {}), wait);
  } else {
    access = null;
    currentUser = null;
    hint(false);
    clearTimeout(refreshTimer);
  }
  for (const fn of listeners) fn(currentUser);
}

/** Replaces the signed-in user's profile (after PATCH /me, say) and tells the listeners. */
export function updateUser(user) {
  currentUser = user;
  for (const fn of listeners) fn(currentUser);
}

async function send(path, { method = 'GET', body, query, headers = {}, auth = true, idem } = {}) {
  let url = path.startsWith('/api/') ? path : BASE + path;
  if (query) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== '') q.set(k, v);
    const s = q.toString();
    if (s) url += (url.includes('?') ? '&' : '?') + s;
  }
  const h = { Accept: 'application/json', ...headers };
  if (body !== undefined) h['Content-Type'] = 'application/json';
  if (auth && access) h.Authorization = 'Bearer ' + access.token;
  if (idem) h['Idempotency-Key'] = idem;
  let res;
  try {
    res = await fetch(url, {
      method,
      headers: h,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
    });
  } catch (e) {
    throw new ApiError(0, { error: { code: 'network', message: String(e && e.message) } });
  }
  if (res.status === 204) return null;
  let data = null;
  const text = await res.text();
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!res.ok) throw new ApiError(res.status, data, Number(res.headers.get('Retry-After')) || undefined);
  return data;
}

/**
 * Calls the API. path is relative to /api/v1 ("/credits") or absolute ("/api/v1/..."). Options:
 * method, body (JSON), query (object), idem (Idempotency-Key), auth (default true). A 401 on a
 * signed-in call renews the session once and retries; resolves to the parsed JSON (null for 204).
 */
export async function api(path, opts = {}) {
  if (opts.auth !== false && access && access.expiresAt - Date.now() < 5000) await refresh().catch(() => {});
  try {
    return await send(path, opts);
  } catch (e) {
    if (e.status === 401 && opts.auth !== false && access) {
      await refresh();
      return send(path, opts);
    }
    throw e;
  }
}

/**
 * Starts a session from an auth endpoint (login, register, exchange, google id-token), or
 * replaces it from one that answers a fresh session to a signed-in caller (POST /me/password:
 * opts.auth = true sends the current access token).
 */
export async function startSession(path, body, opts = {}) {
  const answer = await send(path, { method: 'POST', body, headers: SESSION_HEADER, auth: !!opts.auth });
  setSession(answer);
  return answer;
}

/** Renews the session from the refresh cookie; resolves to the user or rejects (signed out). */
export function refresh() {
  if (!refreshing) {
    refreshing = send('/auth/refresh', { method: 'POST', body: {}, headers: SESSION_HEADER, auth: false })
      .then((answer) => {
        setSession(answer);
        return answer.user;
      })
      .catch((e) => {
        if (e.status === 401 || e.status === 400 || e.status === 403) setSession(null);
        throw e;
      })
      .finally(() => {
        refreshing = null;
      });
  }
  return refreshing;
}

/** Ends this session (everywhere: every session of the account, on every device). */
export async function signOut(everywhere = false) {
  try {
    await send('/auth/logout', {
      method: 'POST',
      body: everywhere ? { everywhere: true } : {},
      headers: SESSION_HEADER,
    });
  } finally {
    setSession(null);
  }
}

/** The bearer token for URLs that cannot carry a header (EventSource is not used: see tasks). */
export function accessToken() {
  return access && access.token;
}

/** A fresh Idempotency-Key for one user action (reuse it when the same action is retried). */
export function newIdempotencyKey() {
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}
