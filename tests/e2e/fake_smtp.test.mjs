// The SMTP sink (tests/fakes/smtp.mjs) itself, over a raw socket: the replies a client relies
// on (RFC 5321), dot-unstuffing, RSET, refused recipients and sequence errors. The mail tests
// are only as good as this fake.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { start } from '../fakes/smtp.mjs';

/** A line-oriented SMTP client: send(line) and read the next complete reply (multi-line joined). */
async function connect(port) {
  const sock = net.connect(port, '127.0.0.1');
  let buf = '';
  const waiting = [];
  const replies = [];
  sock.on('data', (d) => {
    buf += d.toString('utf8');
    for (;;) {
      // A reply ends with a line "NNN text" (a space after the code, not "NNN-").
      const m = /^((?:\d{3}-[^\r\n]*\r\n)*\d{3}(?: [^\r\n]*)?\r\n)/.exec(buf);
      if (!m) break;
      buf = buf.slice(m[1].length);
      if (waiting.length) waiting.shift()(m[1]);
      else replies.push(m[1]);
    }
  });
  await new Promise((resolve, reject) => {
    sock.once('connect', resolve);
    sock.once('error', reject);
  });
  const reply = () => (replies.length ? Promise.resolve(replies.shift()) : new Promise((r) => waiting.push(r)));
  return {
    reply,
    async cmd(line) {
      sock.write(`${line}\r\n`);
      return reply();
    },
    raw(text) {
      sock.write(text);
    },
    close: () => sock.destroy(),
  };
}

describe('the SMTP sink', () => {
  let sink;
  before(async () => {
    sink = await start({ rejectRcpt: (a) => a.startsWith('nobody@') });
  });
  after(() => sink.close());

  it('greets, answers EHLO with a multi-line 250, takes a message with dot-unstuffing', async () => {
    const c = await connect(sink.port);
    assert.match(await c.reply(), /^220 /);
    const ehlo = await c.cmd('EHLO client.test');
    assert.match(ehlo, /^250-.*\r\n250-8BITMIME\r\n250-SIZE \d+\r\n250 PIPELINING\r\n$/);
    assert.match(await c.cmd('MAIL FROM:<a@x.test> SIZE=100'), /^250 /);
    assert.match(await c.cmd('RCPT TO:<b@y.test>'), /^250 /);
    assert.match(await c.cmd('RCPT TO:<c@y.test>'), /^250 /);
    assert.match(await c.cmd('DATA'), /^354 /);
    c.raw('Subject: t\r\n\r\n..leading dot\r\n.\r\n');
    assert.match(await c.reply(), /^250 /);
    const m = await sink.waitFor((x) => x.to.includes('c@y.test'), 2000);
    assert.deepEqual({ from: m.from, to: m.to }, { from: 'a@x.test', to: ['b@y.test', 'c@y.test'] });
    assert.equal(m.data, 'Subject: t\r\n\r\n.leading dot\r\n', 'one leading dot removed, CRLF kept');
    assert.match(await c.cmd('NOOP'), /^250 /);
    assert.match(await c.cmd('QUIT'), /^221 /);
    c.close();
  });

  it('refuses a recipient with 550 when told to; sequence errors are 503; unknown commands 502; RSET clears', async () => {
    const c = await connect(sink.port);
    await c.reply();
    assert.match(await c.cmd('HELO client.test'), /^250 /);
    assert.match(await c.cmd('RCPT TO:<b@y.test>'), /^503 /, 'RCPT before MAIL');
    assert.match(await c.cmd('DATA'), /^503 /, 'DATA before MAIL');
    assert.match(await c.cmd('MAIL FROM:<a@x.test>'), /^250 /);
    assert.match(await c.cmd('MAIL FROM:<a@x.test>'), /^503 /, 'a second MAIL');
    assert.match(await c.cmd('RCPT TO:<nobody@y.test>'), /^550 /);
    assert.match(await c.cmd('DATA'), /^503 /, 'no accepted recipient');
    assert.match(await c.cmd('RSET'), /^250 /);
    assert.match(await c.cmd('RCPT TO:<b@y.test>'), /^503 /, 'RSET forgot the sender');
    assert.match(await c.cmd('VRFY b'), /^502 /);
    assert.match(await c.cmd('MAIL FROM a@x.test'), /^501 /, 'syntax');
    c.close();
    assert.equal(sink.messages.filter((x) => x.to.includes('nobody@y.test')).length, 0);
    assert.ok(sink.stats.refused >= 1);
  });

  it('waitFor rejects after its timeout when nothing matches', async () => {
    await assert.rejects(sink.waitFor((x) => x.to.includes('never@y.test'), 100), /no matching mail within 100 ms/);
  });
});
