// GET /api/v1/tasks/{id}/events (Server-Sent Events) against the real binary with the
// sandbox provider: a task's events arrive in lifecycle order and the stream ends after
// the terminal one; Last-Event-ID; another user's task is 404; the per-user cap; a client
// that goes away frees its stream (the in-flight gauge comes back); SIGTERM with streams
// open shuts down at once instead of waiting for TG_SHUTDOWN_TIMEOUT.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';

import { startServer, invariantTest, assertStatus, assertError, LOOSE_LIMITS, SECURITY_HEADERS } from './lib/server.mjs';
import { eventually } from './lib/pay.mjs';

const LIFECYCLE = ['queued', 'submitted', 'running', 'succeeded'];
const ENV = { TG_SIGNUP_CREDITS: '0', TG_GEN_SANDBOX_DELAY_MS: '1500', TG_RATE_LIMITS: LOOSE_LIMITS, TG_HTTP2_CLEARTEXT: 'on' };

let srv, admin;

before(async () => {
  srv = await startServer({ env: ENV });
  admin = await srv.admin();
});

async function userWith(s, adm, credits) {
  const u = await s.register();
  assertStatus(await s.adjust(adm.token, u.id, credits), 200, 'credits granted');
  return u;
}

async function submit(s, u, body) {
  const r = await s.post('/api/v1/tasks', body, { token: u.token });
  assertStatus(r, 202);
  return r.body;
}

/**
 * Opens an event stream on a connection of its own. Resolves once the head arrived with
 * {status, headers, raw (text so far), events [{id, event, data}], comments, ended (a
 * promise of the end), close()}.
 */
function openEvents(s, id, token, headers = {}) {
  return new Promise((resolve, reject) => {
    const h = { accept: 'text/event-stream', ...headers };
    if (token) h.authorization = `Bearer ${token}`;
    const req = http.get({ host: '127.0.0.1', port: s.port, path: `/api/v1/tasks/${id}/events`, headers: h, agent: false }, (res) => {
      const st = { status: res.statusCode, headers: res.headers, raw: '', events: [], comments: 0, retry: null };
      let buf = '';
      res.setEncoding('utf8');
      st.ended = new Promise((done) => {
        res.on('end', () => done('end'));
        res.on('error', () => done('error'));
        res.on('close', () => done('close'));
      });
      res.on('data', (d) => {
        st.raw += d;
        buf += d;
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const ev = {};
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) st.comments++;
            else if (line.startsWith('retry: ')) st.retry = Number(line.slice(7));
            else if (line.startsWith('id: ')) ev.id = line.slice(4);
            else if (line.startsWith('event: ')) ev.event = line.slice(7);
            else if (line.startsWith('data: ')) ev.data = JSON.parse(line.slice(6));
          }
          if (ev.event) st.events.push(ev);
        }
      });
      st.close = () => req.destroy();
      resolve(st);
    });
    req.on('error', reject);
  });
}

async function inFlight(s) {
  const r = await s.get('/metrics');
  assertStatus(r, 200);
  // the scrape itself is one of them
  return Number(/^tollgate_http_requests_in_flight (\d+)$/m.exec(r.text)[1]) - 1;
}

describe('task events', () => {
  it('a sandbox task: events in lifecycle order, queued..succeeded, then the stream ends', async () => {
    const u = await userWith(srv, admin, 10);
    const t = await submit(srv, u, { kind: 'image', prompt: 'a lighthouse at dusk', aspect_ratio: '1:1' });
    const st = await openEvents(srv, t.id, u.token);
    assert.equal(st.status, 200);
    assert.equal(st.headers['content-type'], 'text/event-stream');
    assert.equal(st.headers['cache-control'], 'no-store');
    assert.equal(st.headers['x-accel-buffering'], 'no');
    for (const h of SECURITY_HEADERS) assert.ok(st.headers[h], `security header ${h}`);
    assert.match(st.headers['x-request-id'], /^req_/);
    const how = await Promise.race([st.ended, new Promise((r) => setTimeout(() => r('timeout'), 20000))]);
    assert.equal(how, 'end', 'the server ended the stream after the terminal event');
    assert.ok(st.raw.startsWith('retry: 3000\n\n'), 'retry first');
    assert.ok(st.events.length >= 2, `at least the first state and the end: ${st.raw}`);
    const statuses = st.events.map((e) => e.data.status);
    let prev = -1;
    for (const s of statuses) {
      const i = LIFECYCLE.indexOf(s);
      assert.ok(i >= prev, `statuses in lifecycle order: ${statuses.join(' ')}`);
      prev = i;
    }
    assert.equal(statuses.at(-1), 'succeeded');
    const last = st.events.at(-1).data;
    assert.equal(last.progress, 100);
    for (let i = 0; i < st.events.length; i++) {
      const e = st.events[i];
      assert.equal(e.event, 'task');
      assert.equal(e.data.id, t.id);
      assert.equal(Number(e.id), Date.parse(e.data.updated_at), 'the event id is the task\'s updated_at');
      if (i > 0) {
        assert.ok(Number(e.id) > Number(st.events[i - 1].id), 'ids increase');
        const p = st.events[i - 1].data;
        assert.ok(p.status !== e.data.status || p.progress !== e.data.progress, 'an event only when status or progress changed');
        assert.ok(e.data.progress >= p.progress, 'progress never goes back');
      }
    }
    const g = await srv.get(`/api/v1/tasks/${t.id}`, { token: u.token });
    assertStatus(g, 200);
    for (const k of ['id', 'kind', 'status', 'progress', 'cost', 'created_at', 'updated_at'])
      assert.deepEqual(last[k], g.body[k], `the event's ${k} is what GET /api/v1/tasks/{id} answers`);

    // Reconnecting after the end, with the last event's id: 204, which stops an EventSource.
    const again = await openEvents(srv, t.id, u.token, { 'last-event-id': st.events.at(-1).id });
    assert.equal(again.status, 204);
    // With an older id: the final state at once, then the end.
    const older = await openEvents(srv, t.id, u.token, { 'last-event-id': st.events[0].id === st.events.at(-1).id ? '1' : st.events[0].id });
    assert.equal(older.status, 200);
    assert.equal(await older.ended, 'end');
    assert.deepEqual(older.events.map((e) => e.data.status), ['succeeded']);
  });

  it('over cleartext HTTP/2 (prior knowledge): the same events, and the stream ends', async () => {
    const u = await userWith(srv, admin, 10);
    const t = await submit(srv, u, { kind: 'image', prompt: 'over h2c', aspect_ratio: '1:1' });
    const session = http2.connect(`http://127.0.0.1:${srv.port}`);
    try {
      const req = session.request({ ':path': `/api/v1/tasks/${t.id}/events`, authorization: `Bearer ${u.token}`, accept: 'text/event-stream' });
      const head = await new Promise((resolve, reject) => {
        req.on('response', resolve);
        req.on('error', reject);
      });
      assert.equal(head[':status'], 200);
      assert.equal(head['content-type'], 'text/event-stream');
      assert.equal(head['cache-control'], 'no-store');
      let raw = '';
      req.setEncoding('utf8');
      req.on('data', (d) => (raw += d));
      const how = await Promise.race([new Promise((r) => req.on('end', () => r('end'))), new Promise((r) => setTimeout(() => r('timeout'), 20000))]);
      assert.equal(how, 'end', 'the stream ended after the terminal event');
      assert.ok(raw.startsWith('retry: 3000\n\n'));
      const statuses = [...raw.matchAll(/^data: (.*)$/gm)].map((m) => JSON.parse(m[1]).status);
      assert.equal(statuses.at(-1), 'succeeded', raw);
    } finally {
      session.close();
    }
  });

  it('another user\'s task, an unknown one and a malformed id are 404; no token is 401', async () => {
    const owner = await userWith(srv, admin, 10);
    const other = await srv.register();
    const t = await submit(srv, owner, { kind: 'image', prompt: 'mine', sandbox: { outcome: 'never' } });
    assertError(await srv.get(`/api/v1/tasks/${t.id}/events`, { token: other.token }), 404, 'not_found');
    assertError(await srv.get('/api/v1/tasks/tsk_01ARZ3NDEKTSV4RRFFQ69G5FAV/events', { token: owner.token }), 404, 'not_found');
    assertError(await srv.get('/api/v1/tasks/nope/events', { token: owner.token }), 404, 'not_found');
    assertError(await srv.get(`/api/v1/tasks/${t.id}/events`), 401, 'unauthorized');
    assertStatus(await srv.post(`/api/v1/tasks/${t.id}/cancel`, {}, { token: owner.token }), 200);
  });

  it('a client that goes away frees its stream: requests in flight come back to 0', async () => {
    const u = await userWith(srv, admin, 10);
    const t = await submit(srv, u, { kind: 'image', prompt: 'never', sandbox: { outcome: 'never' } });
    assert.equal(await inFlight(srv), 0, 'nothing in flight before');
    const st = await openEvents(srv, t.id, u.token);
    assert.equal(st.status, 200);
    await eventually(async () => st.events.length >= 1, 5000, 'the first event');
    assert.equal(await inFlight(srv), 1, 'the stream is a request in flight');
    st.close();
    await eventually(async () => (await inFlight(srv)) === 0, 5000, 'the stream to be freed');
    const line = await eventually(async () => srv.logLines().find((l) => l.event === 'http' && l.path === `/api/v1/tasks/${t.id}/events`), 5000, 'the access-log line of the stream');
    assert.equal(line.status, 200);
    assertStatus(await srv.post(`/api/v1/tasks/${t.id}/cancel`, {}, { token: u.token }), 200);
  });

  it('at most 10 streams per user: the 11th is 429 with Retry-After', async () => {
    const u = await userWith(srv, admin, 10);
    const t = await submit(srv, u, { kind: 'image', prompt: 'watched a lot', sandbox: { outcome: 'never' } });
    const open = [];
    for (let i = 0; i < 10; i++) {
      const st = await openEvents(srv, t.id, u.token);
      assert.equal(st.status, 200, `stream ${i + 1}`);
      open.push(st);
    }
    const over = await srv.get(`/api/v1/tasks/${t.id}/events`, { token: u.token });
    assertError(over, 429, 'rate_limited');
    assert.ok(Number(over.headers.get('retry-after')) > 0);
    open.forEach((st) => st.close());
    await eventually(async () => (await inFlight(srv)) === 0, 5000, 'the streams to be freed');
    const st = await openEvents(srv, t.id, u.token);
    assert.equal(st.status, 200, 'a slot is free again');
    // A cancel ends the stream with the terminal event.
    assertStatus(await srv.post(`/api/v1/tasks/${t.id}/cancel`, {}, { token: u.token }), 200);
    assert.equal(await st.ended, 'end');
    assert.equal(st.events.at(-1).data.status, 'canceled');
  });

  it('SIGTERM with streams open: the server ends them and exits at once', async () => {
    const s2 = await startServer({ env: ENV });
    try {
      const adm = await s2.admin();
      const u = await userWith(s2, adm, 10);
      const streams = [];
      for (let i = 0; i < 3; i++) {
        const t = await submit(s2, u, { kind: 'image', prompt: `held ${i}`, sandbox: { outcome: 'never' } });
        const st = await openEvents(s2, t.id, u.token);
        assert.equal(st.status, 200);
        streams.push(st);
      }
      await eventually(async () => streams.every((st) => st.events.length >= 1), 5000, 'first events');
      const t0 = Date.now();
      const ex = await s2.stop();
      const took = Date.now() - t0;
      assert.deepEqual({ code: ex.code, signal: ex.signal }, { code: 0, signal: null });
      assert.ok(took < 5000, `exited in ${took} ms (TG_SHUTDOWN_TIMEOUT is 30 s)`);
      for (const st of streams) assert.equal(await st.ended, 'end', 'each stream ended cleanly');
    } finally {
      s2.cleanup();
    }
  });
});

after(() => srv?.cleanup());
invariantTest(() => srv);
