// A small SMTP sink (RFC 5321) for the end-to-end tests: it accepts what a real relay
// accepts and keeps every message in memory, so a test can read the mail Tollgate sent.
//
//   const sink = await start({ rejectRcpt: (addr) => addr.startsWith('refused') });
//   ... TG_SMTP_URL=smtp://127.0.0.1:${sink.port} ...
//   const m = await sink.waitFor((m) => m.to.includes(email), 5000);
//   await sink.close();
//
// Commands: EHLO (a multi-line 250 naming 8BITMIME and SIZE), HELO, MAIL FROM, RCPT TO,
// DATA (dot-unstuffing, ended by CRLF.CRLF), RSET, NOOP, QUIT; anything else is 502. It
// offers no STARTTLS and no AUTH: Tollgate talks to a loopback relay without TLS (net.h),
// and a test of either would need a real server. Sequence errors answer 503, as relays do.
import net from 'node:net';

const MAX_LINE = 4096;               // a command line; RFC 5321 4.5.3.1.4 says 512, we are lenient
const MAX_MESSAGE = 10 * 1024 * 1024; // the SIZE we announce

/**
 * Starts the sink on 127.0.0.1 and a free port.
 * opts.rejectRcpt(address) -> true answers that RCPT with 550 (a refused recipient).
 * Returns {port, messages, sessions, waitFor(pred, timeoutMs), close()}; messages holds
 * {from, to: [addresses], data (the message text, CRLF line endings, unstuffed)}.
 */
export async function start(opts = {}) {
  const messages = [];
  const waiters = [];
  const sockets = new Set();
  const stats = { sessions: 0, refused: 0 };

  const notify = () => {
    for (const w of [...waiters]) {
      const m = messages.find(w.pred);
      if (m) {
        waiters.splice(waiters.indexOf(w), 1);
        clearTimeout(w.timer);
        w.resolve(m);
      }
    }
  };

  const server = net.createServer((sock) => {
    stats.sessions += 1;
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => {});
    let buf = Buffer.alloc(0);
    let state = { from: null, to: [] };
    let inData = false;
    let dataLines = [];
    let dataSize = 0;
    const reply = (s) => sock.write(`${s}\r\n`);
    const reset = () => {
      state = { from: null, to: [] };
    };

    const onCommand = (line) => {
      const verb = line.split(' ', 1)[0].toUpperCase();
      const arg = line.slice(verb.length).trim();
      switch (verb) {
        case 'EHLO':
          reset();
          reply('250-sink.test greets you');
          reply('250-8BITMIME');
          reply(`250-SIZE ${MAX_MESSAGE}`);
          reply('250 PIPELINING');
          return;
        case 'HELO':
          reset();
          reply('250 sink.test');
          return;
        case 'MAIL': {
          const m = /^FROM:\s*<([^>]*)>/i.exec(arg);
          if (!m) return reply('501 Syntax: MAIL FROM:<address>');
          if (state.from !== null) return reply('503 Sender already given');
          state.from = m[1];
          return reply('250 OK');
        }
        case 'RCPT': {
          const m = /^TO:\s*<([^>]+)>/i.exec(arg);
          if (!m) return reply('501 Syntax: RCPT TO:<address>');
          if (state.from === null) return reply('503 Need MAIL first');
          if (opts.rejectRcpt && opts.rejectRcpt(m[1])) {
            stats.refused += 1;
            return reply('550 5.1.1 No such user here');
          }
          state.to.push(m[1]);
          return reply('250 OK');
        }
        case 'DATA':
          if (state.from === null || state.to.length === 0) return reply('503 Need MAIL and RCPT first');
          inData = true;
          dataLines = [];
          dataSize = 0;
          return reply('354 End data with <CR><LF>.<CR><LF>');
        case 'RSET':
          reset();
          return reply('250 OK');
        case 'NOOP':
          return reply('250 OK');
        case 'QUIT':
          reply('221 Bye');
          sock.end();
          return;
        default:
          return reply('502 Command not implemented');
      }
    };

    const onDataLine = (line) => {
      if (line === '.') {
        inData = false;
        if (dataSize > MAX_MESSAGE) {
          reset();
          return reply('552 Message too big');
        }
        messages.push({ from: state.from, to: [...state.to], data: dataLines.map((l) => `${l}\r\n`).join('') });
        reset();
        reply('250 OK queued');
        notify();
        return;
      }
      // RFC 5321 4.5.2: a line starting with a dot had one more added by the sender.
      const l = line.startsWith('.') ? line.slice(1) : line;
      dataSize += l.length + 2;
      if (dataSize <= MAX_MESSAGE) dataLines.push(l);
    };

    reply('220 sink.test ESMTP ready');
    sock.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        const i = buf.indexOf('\r\n');
        if (i < 0) {
          if (!inData && buf.length > MAX_LINE) {
            reply('500 Line too long');
            sock.destroy();
          }
          return;
        }
        const line = buf.subarray(0, i).toString('utf8');
        buf = buf.subarray(i + 2);
        if (inData) onDataLine(line);
        else onCommand(line);
      }
    });
  });

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });

  return {
    port: server.address().port,
    messages,
    stats,
    /** Resolves with the first message (already here or still to come) for which pred is true. */
    waitFor(pred, timeoutMs = 5000) {
      const m = messages.find(pred);
      if (m) return Promise.resolve(m);
      return new Promise((resolve, reject) => {
        const w = { pred, resolve };
        w.timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(w), 1);
          reject(new Error(`no matching mail within ${timeoutMs} ms (${messages.length} received)`));
        }, timeoutMs);
        waiters.push(w);
      });
    },
    close() {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}
