// sse.js - a Server-Sent Events reader over fetch(), for streams that need the Authorization
// header (an EventSource cannot send one). It parses `id:`, `event:`, `data:` and `retry:`
// lines, reconnects after a drop with Last-Event-ID and a growing delay, stops when the
// caller says the stream is done (or the server answers 204), and aborts on stop().
import { accessToken, refresh, ApiError } from './api.js';

const MAX_DELAY = 30000;

/** Milliseconds until a JWT's `exp` (0 when there is no token or it cannot be read). */
function expiresIn(token) {
  if (!token) return 0;
  try {
    const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const exp = JSON.parse(atob(part + '='.repeat((4 - (part.length % 4)) % 4))).exp;
    return typeof exp === 'number' ? exp * 1000 - Date.now() : Infinity;
  } catch {
    return Infinity; // not a JWT we can read: let the server judge it
  }
}

/**
 * Opens url (absolute path, e.g. /api/v1/tasks/tsk_1/events) and calls
 *   onEvent({id, event, data})   for each event (data is the raw text; the caller parses it),
 *   onState(state)               'open' | 'reconnecting' | 'closed',
 *   onError(ApiError)            for an answer that will not get better by retrying (4xx).
 * done(event) returning true ends the stream after that event (say, a final status).
 * Returns {stop()}.
 */
export function openStream(url, { onEvent, onState = () => {}, onError = () => {}, done = () => false }) {
  const ctl = new AbortController();
  let lastId = null;
  let delay = 1000; // the server's `retry:` replaces it
  let stopped = false;
  let failures = 0;
  let renewed = false; // one session renewal per 401 in a row

  const stop = () => {
    if (stopped) return;
    stopped = true;
    ctl.abort();
    onState('closed');
  };

  // Parses one event block (lines up to a blank line).
  function dispatch(block) {
    let id = null;
    let event = 'message';
    const data = [];
    for (const line of block.split('\n')) {
      if (line === '' || line.startsWith(':')) continue; // comment (": ping")
      const i = line.indexOf(':');
      const field = i < 0 ? line : line.slice(0, i);
      let value = i < 0 ? '' : line.slice(i + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'id') id = value;
      else if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
      else if (field === 'retry' && /^\d+$/.test(value)) delay = Number(value);
    }
    if (id !== null) lastId = id;
    if (data.length === 0) return false;
    const ev = { id: lastId, event, data: data.join('\n') };
    onEvent(ev);
    return !!done(ev);
  }

  async function connect() {
    // A token missing or about to expire is renewed first (a reconnect may come much later).
    if (expiresIn(accessToken()) < 30000) await refresh().catch(() => {});
    const headers = { Accept: 'text/event-stream' };
    const token = accessToken();
    if (token) headers.Authorization = 'Bearer ' + token;
    if (lastId) headers['Last-Event-ID'] = lastId;
    const res = await fetch(url, { headers, signal: ctl.signal, cache: 'no-store', credentials: 'same-origin' });
    if (res.status === 204) return 'end';
    if (res.status === 401 && !renewed) {
      renewed = true;
      await refresh();
      return 'retry-now';
    }
    if (!res.ok) {
      let body = null;
      try {
        body = await res.json();
      } catch {
        body = null;
      }
      const err = new ApiError(res.status, body, Number(res.headers.get('Retry-After')) || undefined);
      // 429 and 5xx may pass; any other 4xx will not.
      if (res.status !== 429 && res.status < 500) {
        onError(err);
        return 'end';
      }
      if (err.retryAfter) delay = Math.max(delay, err.retryAfter * 1000);
      return 'drop';
    }
    onState('open');
    failures = 0;
    renewed = false;
    const reader = res.body.getReader();
    const dec = new TextDecoder();
    let buf = '';
    for (;;) {
      const { value, done: eof } = await reader.read();
      if (eof) break;
      buf += dec.decode(value, { stream: true }).replace(/\r\n?/g, '\n');
      let cut;
      while ((cut = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, cut);
        buf = buf.slice(cut + 2);
        if (dispatch(block)) {
          ctl.abort();
          return 'end';
        }
      }
    }
    return 'drop'; // the server closed without a final event: reconnect from lastId
  }

  (async () => {
    while (!stopped) {
      let outcome;
      try {
        outcome = await connect();
      } catch (e) {
        if (stopped || (e && e.name === 'AbortError')) break;
        outcome = 'drop';
      }
      if (outcome === 'end') break;
      if (outcome === 'retry-now') continue;
      failures++;
      onState('reconnecting');
      // Backoff: the server's retry, doubling with each failure in a row, with jitter.
      const wait = Math.min(MAX_DELAY, delay * 2 ** Math.min(failures - 1, 5)) * (0.75 + Math.random() * 0.5);
      await new Promise((ok) => setTimeout(ok, wait));
    }
    if (!stopped) {
      stopped = true;
      onState('closed');
    }
  })();

  return { stop };
}
