// The web UI's Server-Sent Events reader (web/sse.js) against a small stream server: the
// fields it parses, resuming with Last-Event-ID after a drop, the end (done, 204, a 4xx) and
// stop() closing the connection.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { once } from 'node:events';
import { openStream } from '../../web/sse.js';

/** A server whose handler(req, res, n) answers connection n (from 1); resolves {url, close, seen}. */
async function server(handler) {
  const seen = [];
  const s = http.createServer((req, res) => {
    seen.push({ lastId: req.headers['last-event-id'] || null, accept: req.headers.accept });
    handler(req, res, seen.length);
  });
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  return {
    url: `http://127.0.0.1:${s.address().port}/api/v1/tasks/tsk_x/events`,
    seen,
    close: () => {
      s.closeAllConnections();
      return new Promise((ok) => s.close(ok));
    },
  };
}

function sse(res) {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
}

/** Opens a stream and resolves when it closes: {events, states, errors}. */
function run(url, done) {
  return new Promise((resolve) => {
    const out = { events: [], states: [], errors: [] };
    out.handle = openStream(url, {
      onEvent: (ev) => out.events.push(ev),
      onError: (e) => out.errors.push(e),
      onState: (s) => {
        out.states.push(s);
        if (s === 'closed') resolve(out);
      },
      done: done || (() => false),
    });
  });
}

test('fields: id, event, data on several lines, comments, CRLF; done() ends it', async () => {
  const srv = await server((req, res) => {
    sse(res);
    res.write('retry: 50\n\n: ping\n\n');
    res.write('id: 17\nevent: task\ndata: {"status":"running",\ndata: "progress":40}\n\n');
    // One event split across writes, with CRLF line ends.
    res.write('id: 18\r\nevent: task\r\nda');
    setTimeout(() => res.write('ta: {"status":"succeeded"}\r\n\r\n'), 20);
  });
  const out = await run(srv.url, (ev) => JSON.parse(ev.data).status === 'succeeded');
  await srv.close();
  assert.deepEqual(
    out.events.map((e) => [e.id, e.event, e.data]),
    [
      ['17', 'task', '{"status":"running",\n"progress":40}'],
      ['18', 'task', '{"status":"succeeded"}'],
    ],
  );
  assert.equal(srv.seen.length, 1, 'no reconnection after the final event');
  assert.equal(srv.seen[0].accept, 'text/event-stream');
  assert.deepEqual(out.states, ['open', 'closed']);
  assert.deepEqual(out.errors, []);
});

test('a dropped stream resumes with Last-Event-ID; a 204 then ends it', async () => {
  const srv = await server((req, res, n) => {
    if (n === 1) {
      sse(res);
      res.end('retry: 30\n\nid: 100\nevent: task\ndata: {"status":"queued"}\n\n');
    } else if (n === 2) {
      sse(res);
      res.end('id: 200\nevent: task\ndata: {"status":"running"}\n\n');
    } else {
      res.writeHead(204);
      res.end();
    }
  });
  const out = await run(srv.url);
  await srv.close();
  assert.deepEqual(
    srv.seen.map((s) => s.lastId),
    [null, '100', '200'],
  );
  assert.deepEqual(
    out.events.map((e) => e.id),
    ['100', '200'],
  );
  assert.deepEqual(out.states, ['open', 'reconnecting', 'open', 'reconnecting', 'closed']);
});

test('a 404 is reported once and not retried; a 503 is retried', async () => {
  const srv = await server((req, res, n) => {
    if (n === 1) {
      res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '0' });
      res.end('{"error":{"code":"unavailable","message":"busy"}}');
    } else {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"error":{"code":"not_found","message":"no such task"},"request_id":"req_1"}');
    }
  });
  const out = await run(srv.url);
  await srv.close();
  assert.equal(srv.seen.length, 2);
  assert.equal(out.errors.length, 1);
  assert.equal(out.errors[0].status, 404);
  assert.equal(out.errors[0].code, 'not_found');
  assert.equal(out.errors[0].requestId, 'req_1');
  assert.deepEqual(out.events, []);
});

test('stop() closes the connection and nothing reconnects', async () => {
  let closed;
  const gone = new Promise((ok) => (closed = ok));
  const srv = await server((req, res) => {
    sse(res);
    res.write('id: 1\nevent: task\ndata: {}\n\n');
    req.on('close', closed);
  });
  const out = { events: [] };
  const h = openStream(srv.url, { onEvent: (ev) => out.events.push(ev) });
  while (out.events.length === 0) await new Promise((ok) => setTimeout(ok, 10));
  h.stop();
  await gone;
  await new Promise((ok) => setTimeout(ok, 200));
  assert.equal(srv.seen.length, 1);
  await srv.close();
});
