// bench/task-peer.mjs - the peer of bench/tasks.mjs: the least a task submission endpoint can
// do over HTTP. POST /api/v1/tasks parses the JSON body, keeps the task in memory and answers
// 202 with it; nothing is authenticated, priced, reserved or made durable, no provider is
// called. It shows what the HTTP and JSON part costs on this machine, so that Tollgate's
// figure can be read as a ratio.
//   node bench/task-peer.mjs PORT
import http from 'node:http';
import { randomBytes } from 'node:crypto';

const port = Number(process.argv[2] ?? 18093);
const tasks = [];
http.createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/health') return res.end('{"status":"ok"}');
  let body = '';
  req.on('data', (d) => (body += d));
  req.on('end', () => {
    let j;
    try { j = JSON.parse(body); } catch { res.writeHead(400); return res.end('{}'); }
    const t = { id: `tsk_${randomBytes(13).toString('hex')}`, kind: j.kind, status: 'queued', inputs: j, created_at: new Date().toISOString() };
    tasks.push(t);
    res.writeHead(202, { 'content-type': 'application/json' });
    res.end(JSON.stringify(t));
  });
}).listen(port, '127.0.0.1');
