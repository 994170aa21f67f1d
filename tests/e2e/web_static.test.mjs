// The web UI as Tollgate serves it from the binary (src/http/static.c, tools/embed.py):
// index.html for exactly the paths of web/routes.json, fingerprinted assets under
// /assets/<build id>/ cached for a year, ETags and 304s, gzip by Accept-Encoding, the page's
// Content-Security-Policy (with the storage buckets' origins when S3/OSS is configured), and
// nothing else: unknown paths, the API's and old builds' assets stay JSON 404s.
//
// Requests go through node:http, not fetch: fetch would decompress bodies and normalise
// paths ("/a/../b"), which are exactly what is under test here.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { gunzipSync } from 'node:zlib';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { startServer, invariantTest, repoRoot, assertError } from './lib/server.mjs';

const WEB = path.join(repoRoot, 'web');
const routes = JSON.parse(readFileSync(path.join(WEB, 'routes.json'), 'utf8'));
const vendor = JSON.parse(readFileSync(path.join(WEB, 'vendor.json'), 'utf8'));

const PAGE_CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
const API_CSP = "default-src 'none'; frame-ancestors 'none'";
const IMMUTABLE = 'public, max-age=31536000, immutable';
const TYPES = { '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.json': 'application/json', '.svg': 'image/svg+xml', '.png': 'image/png' };

/** One raw request: {status, headers, body (Buffer, as sent: not decompressed)}. */
function raw(srv, method, urlPath, headers = {}) {
  srv.requests += 1;
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: srv.port, method, path: urlPath, headers, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        const r = { status: res.statusCode, headers: new Headers(res.headers), body, text: body.toString('utf8'), method, path: urlPath };
        try {
          r.body = body;
          r.json = JSON.parse(r.text);
        } catch {
          r.json = null;
        }
        // the file's invariants (security headers, error envelope) hold for these too
        srv.observe({ ...r, body: r.json });
        resolve(r);
      });
    });
    req.on('error', reject);
    req.end();
  });
}

/** A path of routes.json with every :param filled. */
const concrete = (p) => p.replace(/:[A-Za-z_]\w*/g, 'x_1');

/** Relative module URLs a JS file imports statically or dynamically with a literal. */
function imports(text) {
  const out = new Set();
  for (const m of text.matchAll(/(?:\bfrom\s*|\bimport\s*\(?\s*)["'](\.{1,2}\/[^"']+)["']/g)) out.add(m[1]);
  return [...out];
}

function assertJson404(r) {
  assertError({ ...r, body: r.json }, 404, 'not_found', `${r.method} ${r.path}`);
  assert.match(r.headers.get('content-type'), /^application\/json/, `${r.path}: JSON`);
  assert.equal(r.headers.get('content-security-policy'), API_CSP, `${r.path}: the API's policy`);
  assert.ok(!/<html/i.test(r.text), `${r.path}: never index.html`);
}

describe('web UI served by tollgate', () => {
  let srv;
  let index; // GET / identity
  let build;
  before(async () => {
    srv = await startServer();
    index = await raw(srv, 'GET', '/');
    const m = index.text.match(/\/assets\/([0-9a-f]{12})\//);
    assert.ok(m, 'index.html names its assets under /assets/<build id>/');
    build = m[1];
  });
  after(() => srv?.cleanup());

  it('index.html: the page headers, its exact CSP, no-cache and an ETag', () => {
    assert.equal(index.status, 200);
    assert.equal(index.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.equal(index.headers.get('content-security-policy'), PAGE_CSP);
    assert.equal(index.headers.get('cache-control'), 'no-cache');
    assert.equal(index.headers.get('x-frame-options'), 'DENY');
    assert.equal(index.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(index.headers.get('cross-origin-opener-policy'), 'same-origin');
    assert.match(index.headers.get('etag'), /^"[0-9a-f]{20}"$/);
    assert.equal(index.headers.get('content-encoding'), null, 'identity without Accept-Encoding');
    assert.ok(!index.text.includes('"/assets/') || !/"\/assets\/(?![0-9a-f]{12}\/)/.test(index.text), 'every /assets/ URL carries the build id');
    const source = readFileSync(path.join(WEB, 'index.html'), 'utf8');
    assert.equal(index.text, source.replaceAll('/assets/', `/assets/${build}/`), 'index.html as in web/, rewritten');
    assert.ok(!/<script(?![^>]*\bsrc=)/i.test(index.text) && !/\sstyle=/i.test(index.text), 'no inline script or style');
  });

  it('index.html for every path of web/routes.json, one trailing slash included; GET and HEAD', async () => {
    assert.ok(routes.length >= 10, 'routes.json was read');
    for (const { path: p } of routes) {
      for (const u of p === '/' ? ['/', '/?x=1'] : [concrete(p), concrete(p) + '/', concrete(p) + '?next=%2Fx']) {
        const r = await raw(srv, 'GET', u);
        assert.equal(r.status, 200, u);
        assert.equal(r.headers.get('content-type'), 'text/html; charset=utf-8', u);
        assert.equal(r.headers.get('content-security-policy'), PAGE_CSP, u);
        assert.equal(r.text, index.text, `${u}: index.html`);
      }
      const h = await raw(srv, 'HEAD', concrete(p));
      assert.equal(h.status, 200, `HEAD ${p}`);
      assert.equal(h.body.length, 0, `HEAD ${p}: no body`);
      assert.equal(Number(h.headers.get('content-length')), index.body.length, `HEAD ${p}: the GET's length`);
      assert.equal(h.headers.get('etag'), index.headers.get('etag'));
    }
  });

  it('no index.html anywhere else: JSON 404 for unknown, API, file, sandbox and asset paths', async () => {
    const params = routes.filter((r) => r.path.includes(':')).map((r) => r.path);
    assert.ok(params.length > 0, 'routes.json has parameter paths');
    const paths = [
      '/nope', '/index.html', '/pricing/x', '/pricing//', '//', '/admin/nope', '/Pricing', '/dashboard.html',
      ...params.map((p) => concrete(p) + '/more'), ...params.map((p) => p.replace(/\/:[A-Za-z_]\w*/g, '//')),
      '/api', '/api/', '/api/unknown', '/api/v1/nope', '/api/v1/tasks/x/y/z', '/files/nope', '/files/in/x', '/sandbox/nope',
      '/assets', '/assets/', `/assets/${build}`, `/assets/${build}/`, `/assets/${build}/nope.js`, `/assets/${build}/index.html`,
      `/assets/${build}/dev.mjs`, `/assets/${build}/package.json`, `/assets/${build}/package-lock.json`, `/assets/${build}/vendor.json`,
      `/assets/${build}/README.md`, `/assets/${build}/.gitignore`, `/assets/${build}/node_modules/preact/dist/preact.mjs`,
      `/assets/${build}/MAIN.JS`, `/assets/${build}/main.js/`, `/assets/${build}//main.js`, `/assets/main.js`, '/assets/dev/main.js',
    ];
    for (const p of paths) assertJson404(await raw(srv, 'GET', p));
    // other methods on app paths are not pages
    for (const m of ['POST', 'PUT', 'DELETE']) assertJson404(await raw(srv, m, '/pricing'));
    // the API's own answers are untouched
    const health = await raw(srv, 'GET', '/health');
    assert.equal(health.status, 200);
    assert.equal(health.headers.get('content-security-policy'), API_CSP);
  });

  it('another build id is a 404: an old page never gets the new files under old names', async () => {
    const other = build.replace(/^./, (c) => (c === '0' ? '1' : '0'));
    for (const id of [other, '000000000000', build.toUpperCase() === build ? 'ffffffffffff' : build.toUpperCase(), build.slice(0, 11), build + '0', 'dev']) {
      assertJson404(await raw(srv, 'GET', `/assets/${id}/main.js`));
    }
    assert.equal((await raw(srv, 'GET', `/assets/${build}/main.js`)).status, 200);
  });

  it('path traversal and encoded tricks never reach a file', async () => {
    // dot segments, plain or encoded, are refused before routing (400, as on every path)
    for (const p of [`/assets/${build}/../${build}/main.js`, `/assets/${build}/vendor/../main.js`, `/assets/${build}/%2e%2e/main.js`,
      `/assets/${build}/%2E%2E/%2E%2E/etc/passwd`, `/assets/${build}/./main.js`, `/assets/${build}/.%2e/main.js`, `/assets/${build}/main.js%00`]) {
      const r = await raw(srv, 'GET', p);
      assertError({ ...r, body: r.json }, 400, 'bad_request', p);
    }
    // encoded slashes and other escapes are not decoded: no asset has that name
    for (const p of [`/assets/${build}/vendor%2Fpreact.js`, `/assets/${build}/vendor%2fpreact.js`, `/assets/${build}/%6dain.js`,
      `/assets/${build}/main%2ejs`, `/assets/${build}%2Fmain.js`, `/assets/${build}/vendor%5Cpreact.js`, `/assets/${build}/..%2F..%2Fetc%2Fpasswd`,
      `/assets/${build}/%252e%252e/main.js`, `/pricing%2F`, `/tasks/a%2Fb/c`]) {
      assertJson404(await raw(srv, 'GET', p));
    }
  });

  it('every asset index.html names, and every module they import, is served with its type, an ETag and immutable caching', async () => {
    const queue = [...index.text.matchAll(/"\/assets\/[0-9a-f]{12}\/([^"]+)"/g)].map((m) => m[1]);
    // what main.js fetches at start (routes, a catalog) and loads as the landing page
    queue.push('routes.json', 'i18n/en-US.json', 'i18n/zh-CN.json', 'pages/landing.js', ...Object.keys(vendor).filter((k) => !k.startsWith('_')));
    const seen = new Set();
    while (queue.length) {
      const rel = queue.shift();
      if (seen.has(rel)) continue;
      seen.add(rel);
      const r = await raw(srv, 'GET', `/assets/${build}/${rel}`);
      assert.equal(r.status, 200, rel);
      assert.equal(r.headers.get('content-type'), TYPES[path.extname(rel)], `${rel}: type`);
      assert.equal(r.headers.get('cache-control'), IMMUTABLE, rel);
      assert.match(r.headers.get('etag'), /^"[0-9a-f]{20}"$/, rel);
      assert.equal(r.headers.get('content-encoding'), null, `${rel}: identity when not asked for gzip`);
      if (rel.endsWith('.js')) {
        for (const dep of imports(r.text)) {
          if (dep.includes('${')) continue;
          queue.push(path.posix.normalize(path.posix.join(path.posix.dirname(rel), dep)));
        }
        const bare = r.text.match(/\bfrom\s*["']([^"'./][^"']*)["']\s*(?:;|$)/m);
        assert.equal(bare, null, `${rel}: no bare import left (vendor.json rewrites them)`);
      }
    }
    assert.ok(seen.has('vendor/preact.js') && seen.has('vendor/hooks.js') && seen.has('lib.js'), [...seen].join(' '));
    // vendor files are npm's, with exactly dev.mjs's rewrite of the bare imports
    for (const [rel, spec] of Object.entries(vendor)) {
      if (rel.startsWith('_')) continue;
      let want = readFileSync(path.join(WEB, 'node_modules', spec.from), 'utf8');
      for (const [bare, to] of Object.entries(spec.imports ?? {})) want = want.split(`from"${bare}"`).join(`from"${to}"`);
      assert.equal((await raw(srv, 'GET', `/assets/${build}/${rel}`)).text, want, rel);
    }
    // a web/ file as it is
    assert.equal((await raw(srv, 'GET', `/assets/${build}/main.js`)).text, readFileSync(path.join(WEB, 'main.js'), 'utf8'));
  });

  it('ETag and If-None-Match: 304 without a body, for assets and index.html', async () => {
    for (const u of [`/assets/${build}/main.js`, `/assets/${build}/styles.css`, '/', '/pricing']) {
      const first = await raw(srv, 'GET', u);
      const tag = first.headers.get('etag');
      for (const inm of [tag, `W/${tag}`, `"nope", ${tag}`, `"a",${tag} , "b"`, '*']) {
        const r = await raw(srv, 'GET', u, { 'if-none-match': inm });
        assert.equal(r.status, 304, `${u} If-None-Match: ${inm}`);
        assert.equal(r.body.length, 0);
        assert.equal(r.headers.get('etag'), tag);
        assert.equal(r.headers.get('cache-control'), first.headers.get('cache-control'));
        // a cache refreshes the stored headers from a 304: the same policy as the 200
        assert.equal(r.headers.get('content-security-policy'), first.headers.get('content-security-policy'));
        assert.equal(r.headers.get('x-frame-options'), 'DENY');
      }
      for (const inm of ['"nope"', tag.slice(0, -2) + '"', tag.replace(/"/g, ''), `${tag}x`, '']) {
        const r = await raw(srv, 'GET', u, { 'if-none-match': inm });
        assert.equal(r.status, 200, `${u} If-None-Match: ${inm}`);
        assert.deepEqual(r.body, first.body);
      }
      const head = await raw(srv, 'HEAD', u, { 'if-none-match': tag });
      assert.equal(head.status, 304, `HEAD ${u}`);
    }
    // the gzipped body has its own tag, and either one says "you have it"
    const gz = await raw(srv, 'GET', `/assets/${build}/main.js`, { 'accept-encoding': 'gzip' });
    const id = await raw(srv, 'GET', `/assets/${build}/main.js`);
    assert.equal(gz.headers.get('etag'), id.headers.get('etag').replace(/"$/, '-gz"'));
    assert.equal((await raw(srv, 'GET', `/assets/${build}/main.js`, { 'if-none-match': gz.headers.get('etag') })).status, 304);
    assert.equal((await raw(srv, 'GET', `/assets/${build}/main.js`, { 'accept-encoding': 'gzip', 'if-none-match': id.headers.get('etag') })).status, 304);
  });

  it('gzip when Accept-Encoding allows it (q=0 refuses it), identity otherwise; Vary: Accept-Encoding', async () => {
    const u = `/assets/${build}/vendor/preact.js`;
    const id = await raw(srv, 'GET', u);
    assert.equal(id.headers.get('vary'), 'Accept-Encoding');
    const cases = {
      'gzip': true, 'gzip, deflate, br': true, 'br;q=1.0, gzip;q=0.8, *;q=0.1': true, 'GZIP': true, 'x-gzip': true, '*': true,
      'gzip;q=0.001': true, ' gzip ; q=1 ': true, 'identity, *;q=0.5': true, 'gzip;Q=0.5': true,
      'gzip;q=0': false, 'gzip;q=0.0': false, 'gzip;q=0.000': false, 'gzip;q=0, *': false, '*;q=0': false, 'br': false,
      'deflate, br': false, 'identity': false, '': false, '*;q=0, gzip;q=0': false, 'gzipx': false, 'gzip;q=2': false, 'gzip;q=abc': false,
    };
    for (const [ae, want] of Object.entries(cases)) {
      const r = await raw(srv, 'GET', u, { 'accept-encoding': ae });
      assert.equal(r.status, 200, ae);
      assert.equal(r.headers.get('vary'), 'Accept-Encoding', ae);
      if (want) {
        assert.equal(r.headers.get('content-encoding'), 'gzip', `Accept-Encoding: ${ae}`);
        assert.ok(r.body.length < id.body.length * 0.9, 'gzip saves more than 10%');
        assert.deepEqual(gunzipSync(r.body), id.body, 'the same bytes once gunzipped');
        assert.equal(Number(r.headers.get('content-length')), r.body.length);
      } else {
        assert.equal(r.headers.get('content-encoding'), null, `Accept-Encoding: ${ae}`);
        assert.deepEqual(r.body, id.body);
      }
    }
    // index.html too
    const page = await raw(srv, 'GET', '/sign-in', { 'accept-encoding': 'gzip' });
    if (index.body.length >= 512) {
      assert.equal(page.headers.get('content-encoding'), 'gzip');
      assert.equal(gunzipSync(page.body).toString('utf8'), index.text);
    }
    // small files are sent as they are, and say no Vary since nothing varies: the smallest
    // file of web/ (img/icon.svg today) is one
    const files = readdirSync(WEB, { recursive: true, withFileTypes: true })
      .filter((d) => d.isFile() && /\.(js|css|json|svg)$/.test(d.name) && !path.join(d.parentPath ?? d.path, d.name).includes('node_modules'))
      .map((d) => path.relative(WEB, path.join(d.parentPath ?? d.path, d.name)).split(path.sep).join('/'))
      .filter((f) => !['package.json', 'package-lock.json', 'vendor.json'].includes(f));
    const smallest = files.map((f) => [f, statSync(path.join(WEB, f)).size]).sort((a, b) => a[1] - b[1])[0];
    assert.ok(smallest && smallest[1] < 512, `a file of web/ under 512 bytes: ${smallest}`);
    const s = await raw(srv, 'GET', `/assets/${build}/${smallest[0]}`, { 'accept-encoding': 'gzip' });
    assert.equal(s.status, 200, smallest[0]);
    assert.equal(s.headers.get('content-encoding'), null);
    assert.equal(s.headers.get('vary'), null);
    // HEAD of a gzipped asset: the gzipped length, no body
    const h = await raw(srv, 'HEAD', u, { 'accept-encoding': 'gzip' });
    assert.equal(h.status, 200);
    assert.equal(h.body.length, 0);
    assert.equal(h.headers.get('content-encoding'), 'gzip');
    assert.ok(Number(h.headers.get('content-length')) < id.body.length);
  });

  it('the first page (landing) weighs under 100 KB compressed: index, CSS, the modules it loads and its data', async () => {
    const need = new Set(['styles.css', 'routes.json', 'i18n/en-US.json', 'pages/landing.js', 'main.js']);
    for (const m of index.text.matchAll(/"\/assets\/[0-9a-f]{12}\/([^"]+)"/g)) need.add(m[1]);
    const queue = [...need].filter((x) => x.endsWith('.js'));
    while (queue.length) {
      const rel = queue.shift();
      const text = readFileSync(rel.startsWith('vendor/') ? path.join(WEB, 'node_modules', vendor[rel].from) : path.join(WEB, rel), 'utf8');
      const staticImports = [...text.matchAll(/(?:\bfrom\s*|\bimport\s*)["'](\.{1,2}\/[^"']+)["']/g)].map((x) => x[1]);
      for (const dep of staticImports) {
        const d = path.posix.normalize(path.posix.join(path.posix.dirname(rel), dep));
        if (!need.has(d)) {
          need.add(d);
          queue.push(d);
        }
      }
    }
    let total = (await raw(srv, 'GET', '/', { 'accept-encoding': 'gzip' })).body.length;
    const rows = [['index.html', total]];
    for (const rel of [...need].sort()) {
      const r = await raw(srv, 'GET', `/assets/${build}/${rel}`, { 'accept-encoding': 'gzip' });
      assert.equal(r.status, 200, rel);
      rows.push([rel, r.body.length]);
      total += r.body.length;
    }
    console.log(`first page (landing), as sent with gzip: ${total} bytes (${(total / 1024).toFixed(1)} KiB) in ${rows.length} files\n` +
      rows.map(([f, n]) => `  ${String(n).padStart(7)}  ${f}`).join('\n'));
    assert.ok(total < 100 * 1024, `first page ${total} bytes >= 100 KiB`);
  });

  it('page loads are not rate limited by the API policies', async () => {
    // ~40 requests at once, many times over what the API's policies would give a minute;
    // none is limited or carries X-RateLimit-* (this server's limits are loose, so the
    // absence of the headers is what shows no policy was applied)
    const rs = await Promise.all(Array.from({ length: 40 }, (_, i) => raw(srv, 'GET', i % 2 ? `/assets/${build}/main.js` : '/dashboard')));
    for (const r of rs) {
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('x-ratelimit-limit'), null);
    }
  });

  it('the sandbox pages still answer 200 under the page policy, with no inline script or style', async () => {
    const start = await raw(srv, 'GET', '/api/v1/auth/oauth/sandbox/start?return_to=/dashboard');
    assert.equal(start.status, 302);
    const loc = new URL(start.headers.get('location'));
    const page = await raw(srv, 'GET', loc.pathname + loc.search);
    assert.equal(page.status, 200);
    assert.equal(page.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.equal(page.headers.get('content-security-policy'), PAGE_CSP);
    assert.ok(!/<script|<style|\sstyle=|\son[a-z]+=/i.test(page.text), 'nothing the policy would block');
    for (const m of page.text.matchAll(/action="([^"]+)"/g)) assert.ok(m[1].startsWith('/'), 'forms post to this origin');

    const buyer = await srv.register({ tag: 'static' });
    const order = await srv.post('/api/v1/orders', { product: 'credits_115' }, { token: buyer.token });
    assert.equal(order.status, 201, order.text);
    const checkout = await raw(srv, 'GET', new URL(order.body.checkout.url).pathname);
    assert.equal(checkout.status, 200);
    assert.equal(checkout.headers.get('content-security-policy'), PAGE_CSP);
    assert.ok(!/<script|<style|\sstyle=|\son[a-z]+=/i.test(checkout.text), 'nothing the policy would block');
  });

  it('metrics count page paths and assets by their pattern, not as unmatched', async () => {
    const m = (await raw(srv, 'GET', '/metrics')).text;
    assert.match(m, /tollgate_http_requests_total\{route="GET \/assets\/\{build\}\/\{path\}",status="200"\} \d+/);
    assert.match(m, /tollgate_http_requests_total\{route="GET \/assets\/\{build\}\/\{path\}",status="304"\} \d+/);
    assert.match(m, /tollgate_http_requests_total\{route="GET \/tasks\/\{id\}",status="200"\} \d+/);
    assert.match(m, /tollgate_http_requests_total\{route="GET \/",status="200"\} \d+/);
    assert.ok(!m.includes('x_1') && !m.includes(build), 'raw paths never become label values');
  });

  invariantTest(() => srv);
});

describe('web UI with S3 and OSS storage', () => {
  let srv;
  before(async () => {
    const env = { TG_STORAGE: 's3', TG_S3_BUCKET: 'tg-assets', TG_OSS_BUCKET: 'tg-oss', TG_RATE_LIMITS: 'api_query=2/60s,auth_ip=2/60s' };
    for (const [k, v] of Object.entries({ ENDPOINT: 'https://s3.eu-west-1.amazonaws.com', REGION: 'eu-west-1', ACCESS_KEY_ID: 'AKIDEXAMPLE', SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' })) env[`TG_S3_${k}`] = v;
    for (const [k, v] of Object.entries({ ENDPOINT: 'https://oss-cn-hangzhou.aliyuncs.com', REGION: 'cn-hangzhou', ACCESS_KEY_ID: 'LTAIEXAMPLE', SECRET_ACCESS_KEY: 'oss-secret-example-0123456789' })) env[`TG_OSS_${k}`] = v;
    srv = await startServer({ env });
  });
  after(() => srv?.cleanup());

  it('the page policy adds the buckets the browser uploads to and plays from, nowhere else', async () => {
    const origins = ' https://tg-assets.s3.eu-west-1.amazonaws.com https://tg-oss.oss-cn-hangzhou.aliyuncs.com';
    const want = "default-src 'self'; script-src 'self'; style-src 'self'; " +
      `img-src 'self' data: blob:${origins}; media-src 'self' blob:${origins}; connect-src 'self'${origins}; ` +
      "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
    for (const p of ['/', '/generate', '/tasks/t_1']) assert.equal((await raw(srv, 'GET', p)).headers.get('content-security-policy'), want, p);
    assert.equal((await raw(srv, 'GET', '/api/v1/nope')).headers.get('content-security-policy'), API_CSP);
  });

  it('a whole page load passes under tight API limits (2 a minute)', async () => {
    const index = await raw(srv, 'GET', '/');
    const assets = [...index.text.matchAll(/"(\/assets\/[0-9a-f]{12}\/[^"]+)"/g)].map((m) => m[1]);
    const rs = await Promise.all([...assets, ...assets, ...assets, '/', '/pricing', '/sign-in'].map((u) => raw(srv, 'GET', u)));
    for (const r of rs) assert.equal(r.status, 200, r.path);
    // the API's limit still applies to the API
    const api = [];
    for (let i = 0; i < 3; i++) api.push(await raw(srv, 'GET', '/api/v1/catalog'));
    assert.deepEqual(api.map((r) => r.status), [200, 200, 429]);
  });

  invariantTest(() => srv);
});
