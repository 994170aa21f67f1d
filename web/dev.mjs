#!/usr/bin/env node
// dev.mjs - serves web/ straight from the source tree (no rebuild of tollgate between edits)
// and passes everything else to a running Tollgate.
//
//   TOLLGATE_URL=http://127.0.0.1:8080 node web/dev.mjs [port, default 5173]
//
// It serves what Tollgate serves (index.html for the paths in routes.json, files under
// /assets/<build>/, vendor/ from node_modules as vendor.json says), with /assets/dev/ as the
// build, so pages can be edited and reloaded. Not for production: no caching, no compression.
import http from 'node:http';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const TARGET = new URL(process.env.TOLLGATE_URL || 'http://127.0.0.1:8080');
const PORT = Number(process.argv[2] || 5173);
const TYPES = { '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.json': 'application/json',
  '.svg': 'image/svg+xml', '.png': 'image/png', '.mp4': 'video/mp4', '.webp': 'image/webp', '.html': 'text/html; charset=utf-8' };

const vendor = JSON.parse(await fs.readFile(path.join(HERE, 'vendor.json'), 'utf8'));
const routes = JSON.parse(await fs.readFile(path.join(HERE, 'routes.json'), 'utf8'));

function isAppRoute(p) {
  const segs = p.replace(/\/+$/, '').split('/').filter(Boolean);
  return routes.some((r) => {
    const ps = r.path.split('/').filter(Boolean);
    return ps.length === segs.length && ps.every((s, i) => s.startsWith(':') || s === segs[i]);
  });
}

async function asset(rel) {
  const v = vendor[rel];
  if (v) {
    let text = await fs.readFile(path.join(HERE, 'node_modules', v.from), 'utf8');
    for (const [bare, to] of Object.entries(v.imports || {})) text = text.split(`from"${bare}"`).join(`from"${to}"`);
    return text;
  }
  const file = path.resolve(HERE, rel);
  if (!file.startsWith(HERE + path.sep) || rel.includes('node_modules')) throw new Error('outside web/');
  return fs.readFile(file);
}

http.createServer(async (req, res) => {
  const url = new URL(req.url, 'http://x');
  try {
    if (req.method === 'GET' && url.pathname.startsWith('/assets/dev/')) {
      const rel = decodeURIComponent(url.pathname.slice('/assets/dev/'.length));
      const body = await asset(rel);
      res.writeHead(200, { 'content-type': TYPES[path.extname(rel)] || 'application/octet-stream', 'cache-control': 'no-store' });
      return res.end(body);
    }
    if (req.method === 'GET' && isAppRoute(url.pathname)) {
      const page = (await fs.readFile(path.join(HERE, 'index.html'), 'utf8')).replaceAll('/assets/', '/assets/dev/');
      res.writeHead(200, { 'content-type': TYPES['.html'], 'cache-control': 'no-store' });
      return res.end(page);
    }
  } catch (e) {
    res.writeHead(404, { 'content-type': 'text/plain' });
    return res.end(String(e.message));
  }
  // Everything else is Tollgate's (API, files, sandbox pages). Origin is rewritten to
  // Tollgate's own, as if the page had been served by it (the refresh cookie checks it).
  const headers = { ...req.headers, host: TARGET.host };
  if (headers.origin) headers.origin = TARGET.origin;
  const up = http.request({ hostname: TARGET.hostname, port: TARGET.port, path: req.url, method: req.method, headers }, (r) => {
    res.writeHead(r.statusCode, r.headers);
    r.pipe(res);
  });
  up.on('error', (e) => {
    res.writeHead(502, { 'content-type': 'text/plain' });
    res.end('Tollgate is not reachable at ' + TARGET.origin + ': ' + e.message);
  });
  req.pipe(up);
}).listen(PORT, '127.0.0.1', () => console.log(`web/dev.mjs on http://127.0.0.1:${PORT}/ -> ${TARGET.origin}`));
