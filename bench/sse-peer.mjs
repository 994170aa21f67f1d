// bench/sse-peer.mjs - the peer of the event-stream benchmark (bench/events.mjs): a minimal
// Server-Sent Events server on node:http, the way SSE is commonly served. It keeps every
// open response in a Set, sends `: ping` every 15 s, and on POST /bump writes one event
// to every open stream (push: no store to look at, so it is the lower bound of delivery).
//
//   node bench/sse-peer.mjs PORT
import http from 'node:http';

const port = Number(process.argv[2] ?? 18091);
const streams = new Set();
let version = 0;

const server = http.createServer((req, res) => {
  if (req.method === 'POST' && req.url === '/bump') {
    version++;
    const ev = `id: ${version}\nevent: task\ndata: ${JSON.stringify({ id: 'tsk_peer', status: 'running', progress: version })}\n\n`;
    for (const s of streams) s.write(ev);
    res.end('ok');
    return;
  }
  if (req.method !== 'GET' || !req.url.startsWith('/events')) {
    res.statusCode = 404;
    res.end();
    return;
  }
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', 'x-accel-buffering': 'no' });
  res.write(`retry: 3000\n\nid: ${version}\nevent: task\ndata: ${JSON.stringify({ id: 'tsk_peer', status: 'running', progress: version })}\n\n`);
  streams.add(res);
  req.on('close', () => streams.delete(res));
});
server.keepAliveTimeout = 0;
server.requestTimeout = 0;
server.headersTimeout = 10000;
setInterval(() => {
  for (const s of streams) s.write(': ping\n\n');
}, 15000).unref();
server.listen(port, '127.0.0.1', () => process.stdout.write('ready\n'));
process.on('SIGTERM', () => process.exit(0));
