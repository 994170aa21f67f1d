// Client addresses behind a trusted proxy (TG_TRUSTED_PROXIES=127.0.0.1/32): X-Forwarded-For
// is walked from the last line's last entry, over every line the request carries, so a client
// cannot push the line its proxy appended out of view by sending many lines of its own.
// The address the server uses is read from the access log's "ip" field and from the per-IP
// rate limit (auth_ip).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, invariantTest, sleep } from './lib/server.mjs';
import { rawRequest } from './lib/raw.mjs';

/** 19 lines a client might send before its proxy's line: forged, trusted-looking, garbage. */
function spoofedLines() {
  const lines = [];
  for (let i = 0; i < 19; i++) {
    const v = ['6.6.6.6', '127.0.0.1', `10.9.8.${i}`, 'garbage', '1.1.1.1, 2.2.2.2'][i % 5];
    lines.push(`X-Forwarded-For: ${v}`);
  }
  return lines;
}

describe('client address behind a trusted proxy', () => {
  let srv;
  before(async () => {
    srv = await startServer({
      env: {
        TG_TRUSTED_PROXIES: '127.0.0.1/32',
        TG_RATE_LIMITS: 'auth_ip=2/60s,api_query=100000/60s,auth_account=100000/15m',
      },
    });
  });
  after(() => srv?.cleanup());

  /** The access-log line of a request id (the log is flushed every 100 ms). */
  async function accessLine(requestId) {
    const deadline = Date.now() + 5000;
    for (;;) {
      const line = srv.logLines().find((l) => l.event === 'http' && l.request_id === requestId);
      if (line) return line;
      assert.ok(Date.now() < deadline, `no access-log line for ${requestId} within 5 s`);
      await sleep(50);
    }
  }

  async function ipOf(lastLine) {
    const lines = [...spoofedLines(), `X-Forwarded-For: ${lastLine}`];
    assert.equal(lines.length, 20);
    const r = await rawRequest(srv.port, 'GET', '/health', lines);
    assert.equal(r.status, 200, r.text.slice(0, 300));
    const id = (r.headers['x-request-id'] ?? [])[0];
    assert.match(id ?? '', /^req_/);
    return (await accessLine(id)).ip;
  }

  it('20 X-Forwarded-For lines: the address is the one the proxy appended in the last line', async () => {
    assert.equal(await ipOf('203.0.113.7'), '203.0.113.7');
  });

  it('last line with a trusted second hop: the entry left of it', async () => {
    assert.equal(await ipOf('198.51.100.23, 127.0.0.1'), '198.51.100.23');
  });

  it('IPv6 client in the last line, bracketed with a port: normalized', async () => {
    assert.equal(await ipOf('[2001:DB8:0::5]:443'), '2001:db8::5');
  });

  it('a malformed last line stops the walk at the trusted peer', async () => {
    assert.equal(await ipOf('not-an-address'), '127.0.0.1');
  });

  it('the per-IP rate limit follows the proxy line, not the 19 lines before it', async () => {
    const refresh = (client) =>
      rawRequest(srv.port, 'POST', '/api/v1/auth/refresh', [...spoofedLines(), `X-Forwarded-For: ${client}`],
        JSON.stringify({ refresh_token: 'not-a-real-refresh-token' }));
    // auth_ip=2/60s: two answers for client A, then 429; client B, with the same 19 forged
    // lines, has its own allowance.
    assert.equal((await refresh('192.0.2.10')).status, 401);
    assert.equal((await refresh('192.0.2.10')).status, 401);
    const limited = await refresh('192.0.2.10');
    assert.equal(limited.status, 429, limited.text.slice(0, 300));
    assert.equal((await refresh('192.0.2.11')).status, 401, 'another client behind the same proxy is not limited');
  });

  invariantTest(() => srv);
});
