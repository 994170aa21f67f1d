// Cleartext HTTP/2 (h2c) is off unless TG_HTTP2_CLEARTEXT=on. libh2o 2.2.5 reaches HTTP/2
// from a plain connection in two ways: an HTTP/1.1 "Upgrade: h2c" request and the
// prior-knowledge preface "PRI * HTTP/2.0". By default the upgrade request gets an ordinary
// HTTP/1.1 answer and the preface gets no HTTP/2 frame; with the key on, both work.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import http2 from 'node:http2';
import { startServer, invariantTest, SECURITY_HEADERS } from './lib/server.mjs';

/** Sends raw bytes on a new connection; resolves with the bytes received (a Buffer) and how it ended. */
function raw(port, payload, timeoutMs = 2000) {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    const chunks = [];
    let done = false;
    const finish = (how) => {
      if (done) return;
      done = true;
      clearTimeout(t);
      sock.destroy();
      resolve({ data: Buffer.concat(chunks), how });
    };
    const t = setTimeout(() => finish('timeout'), timeoutMs);
    sock.on('data', (d) => chunks.push(d));
    sock.on('end', () => finish('end'));
    sock.on('close', () => finish('close'));
    sock.on('error', () => finish('error'));
    sock.on('connect', () => sock.write(payload));
  });
}

// An HTTP/1.1 request asking to switch to h2c (RFC 7540 section 3.2); the settings are
// SETTINGS_MAX_CONCURRENT_STREAMS=100 and SETTINGS_INITIAL_WINDOW_SIZE=1 GiB, base64url.
const UPGRADE = Buffer.from(
  'GET /health HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n' +
    'HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n',
  'latin1',
);
// The client connection preface (RFC 9113 section 3.4) followed by an empty SETTINGS frame.
const PREFACE = Buffer.concat([
  Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1'),
  Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]),
]);

/** 1 when buf starts with an HTTP/2 frame header of type SETTINGS on stream 0. */
const startsWithSettings = (buf) => buf.length >= 9 && buf[3] === 0x04 && buf.readUInt32BE(5) === 0;

/** GET /health over HTTP/2 with prior knowledge; {status, headers, body} or {error}. */
function h2Get(port, urlPath) {
  return new Promise((resolve) => {
    const client = http2.connect(`http://127.0.0.1:${port}`);
    const t = setTimeout(() => {
      client.destroy();
      resolve({ error: 'timeout' });
    }, 3000);
    client.on('error', (e) => {
      clearTimeout(t);
      client.destroy();
      resolve({ error: e.code ?? String(e) });
    });
    const req = client.request({ ':path': urlPath });
    let body = '';
    let headers = null;
    req.setEncoding('utf8');
    req.on('response', (h) => (headers = h));
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      clearTimeout(t);
      client.close();
      resolve({ status: headers?.[':status'], headers, body });
    });
    req.on('error', (e) => {
      clearTimeout(t);
      client.destroy();
      resolve({ error: e.code ?? String(e) });
    });
  });
}

describe('h2c off by default', () => {
  let srv;
  before(async () => {
    srv = await startServer();
  });
  after(() => srv?.cleanup());

  it('Upgrade: h2c gets an ordinary HTTP/1.1 answer, not 101', async () => {
    const r = await raw(srv.port, UPGRADE);
    const text = r.data.toString('latin1');
    assert.match(text, /^HTTP\/1\.1 200 OK\r\n/, `got ${JSON.stringify(text.slice(0, 200))}`);
    assert.doesNotMatch(text, /\r\nupgrade:/i, 'no Upgrade header in the answer');
    assert.equal(JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)).status, 'ok');
  });

  it('the prior-knowledge preface gets no HTTP/2 SETTINGS frame: HTTP/1 400 and close', async () => {
    const r = await raw(srv.port, PREFACE);
    assert.ok(!startsWithSettings(r.data), `no SETTINGS frame: ${r.data.subarray(0, 16).toString('hex')}`);
    assert.match(r.data.toString('latin1'), /^HTTP\/1\.1 400 Bad Request\r\n/);
    assert.equal(r.how, 'end', 'connection closed');
    const h2 = await h2Get(srv.port, '/health');
    assert.ok(h2.error, `an HTTP/2 client gets no answer: ${JSON.stringify(h2)}`);
  });

  invariantTest(() => srv);
});

describe('h2c with TG_HTTP2_CLEARTEXT=on', () => {
  let srv;
  before(async () => {
    srv = await startServer({ env: { TG_HTTP2_CLEARTEXT: 'on' } });
  });
  after(() => srv?.cleanup());

  it('Upgrade: h2c switches protocols and continues with HTTP/2 frames', async () => {
    const r = await raw(srv.port, UPGRADE, 1000);
    const text = r.data.toString('latin1');
    assert.match(text, /^HTTP\/1\.1 101 Switching Protocols\r\n/, `got ${JSON.stringify(text.slice(0, 200))}`);
    assert.match(text, /\r\nupgrade: h2c\r\n/i);
    const rest = r.data.subarray(text.indexOf('\r\n\r\n') + 4);
    assert.ok(startsWithSettings(rest), `the server's SETTINGS follow the 101: ${rest.subarray(0, 16).toString('hex')}`);
  });

  it('prior knowledge: GET /health over HTTP/2 with our headers', async () => {
    const r = await h2Get(srv.port, '/health');
    assert.equal(r.status, 200, JSON.stringify(r));
    assert.equal(JSON.parse(r.body).status, 'ok');
    for (const h of [...SECURITY_HEADERS, 'x-request-id']) assert.ok(r.headers[h], `${h} over HTTP/2`);
  });

  invariantTest(() => srv);
});
