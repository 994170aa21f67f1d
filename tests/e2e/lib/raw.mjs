// raw.mjs - one HTTP/1.1 request with exactly the header lines a test names (repeated lines,
// forged ones, none at all where fetch would add its own), on a new connection.
import net from 'node:net';

/**
 * Sends METHOD PATH with Host and Connection: close, then headerLines as they are, and a JSON
 * body when given. Resolves with {status, headers: {name: [values in order]}, text, json}
 * (json null when the body is not JSON).
 */
export function rawRequest(port, method, path, headerLines, body = '') {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let data = Buffer.alloc(0);
    const t = setTimeout(() => {
      sock.destroy();
      reject(new Error(`no complete response within 5 s: ${data.toString('latin1').slice(0, 300)}`));
    }, 5000);
    sock.on('data', (d) => (data = Buffer.concat([data, d])));
    sock.on('error', (e) => {
      clearTimeout(t);
      reject(e);
    });
    sock.on('close', () => {
      clearTimeout(t);
      const raw = data.toString('latin1');
      const end = raw.indexOf('\r\n\r\n');
      if (end < 0) return reject(new Error(`no response head: ${raw.slice(0, 300)}`));
      const [statusLine, ...lines] = raw.slice(0, end).split('\r\n');
      const headers = {};
      for (const l of lines) {
        const i = l.indexOf(':');
        (headers[l.slice(0, i).trim().toLowerCase()] ??= []).push(l.slice(i + 1).trim());
      }
      const text = raw.slice(end + 4);
      let json = null;
      try {
        json = JSON.parse(text);
      } catch {
        json = null;
      }
      resolve({ status: Number(statusLine.split(' ')[1]), headers, text, json });
    });
    sock.on('connect', () => {
      const head = [`${method} ${path} HTTP/1.1`, 'Host: 127.0.0.1', 'Connection: close', ...headerLines];
      if (body) head.push('Content-Type: application/json', `Content-Length: ${Buffer.byteLength(body)}`);
      sock.end(`${head.join('\r\n')}\r\n\r\n${body}`);
    });
  });
}
