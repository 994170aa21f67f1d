// Uploads: POST /api/v1/uploads, the local storage's signed PUT and GET /files/..., and the
// S3/OSS storage against the fake S3. Attacks on the signed URLs: forged, altered, expired,
// another user's key, path traversal in every spelling.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { startServer, invariantTest, repoRoot, assertStatus, assertError } from './lib/server.mjs';
import { startFakeS3 } from '../fakes/s3.mjs';

const media = (f) => readFileSync(path.join(repoRoot, 'tests', 'data', 'media', f));
const PNG = media('img.png');
const JPG = media('img.jpg');
const MP4 = media('vid.mp4');
const AVI = media('vid.avi');
const local = (u) => {
  const x = new URL(u);
  return x.pathname + x.search;
};

/** A request with its path sent exactly as given (fetch would normalise dot segments). */
function raw(srv, method, p, { headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: srv.port, method, path: p, headers: { ...headers, ...(body ? { 'content-length': body.length } : {}) } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        let json = null;
        try {
          json = JSON.parse(text);
        } catch {}
        resolve({ status: res.statusCode, headers: res.headers, text, body: json });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function upload(srv, token, contentType, size) {
  const r = await srv.post('/api/v1/uploads', { content_type: contentType, size }, { token });
  assertStatus(r, 201);
  return r.body;
}

describe('uploads on local storage', () => {
  let srv, alice, bob, admin;
  before(async () => {
    // The upload limit at its minimum (1 MiB) and the API's at 64 KiB, to test both.
    srv = await startServer({ env: { TG_MAX_UPLOAD_BYTES: '1048576', TG_MAX_BODY_BYTES: '65536', TG_TEST_CLOCK: 'on' } });
    alice = await srv.register({ tag: 'alice' });
    bob = await srv.register({ tag: 'bob' });
    admin = await srv.admin();
  });
  after(() => srv?.cleanup());

  it('an image: signed URL, PUT, probed, read back', async () => {
    const up = await upload(srv, alice.token, 'image/png', PNG.length);
    assert.match(up.id, /^fil_[0-9A-Z]{26}$/);
    assert.equal(up.method, 'PUT');
    assert.deepEqual(up.headers, { 'Content-Type': 'image/png' });
    assert.ok(up.upload_url.startsWith(`${srv.url}/files/in/${alice.id}/${up.id}?expires=`), up.upload_url);
    const exp = Date.parse(up.expires_at);
    assert.ok(exp > Date.now() + 3500e3 && exp < Date.now() + 3700e3, 'an hour');
    const pending = await srv.get(`/api/v1/uploads/${up.id}`, { token: alice.token });
    assertStatus(pending, 200);
    assert.equal(pending.body.status, 'pending');
    assert.equal(pending.body.url, null);

    const put = await srv.req('PUT', local(up.upload_url), { body: PNG, headers: { 'content-type': 'image/png' } });
    assertStatus(put, 200);
    assert.deepEqual(put.body, { id: up.id, size: PNG.length, content_type: 'image/png', width: 33, height: 17, duration_ms: 0 });

    const again = await srv.req('PUT', local(up.upload_url), { body: PNG, headers: { 'content-type': 'image/png' } });
    assertError(again, 409, 'conflict');

    const ready = await srv.get(`/api/v1/uploads/${up.id}`, { token: alice.token });
    assertStatus(ready, 200);
    assert.equal(ready.body.status, 'ready');
    assert.equal(ready.body.width, 33);
    assert.ok(ready.body.url.startsWith(`${srv.url}/files/in/${alice.id}/${up.id}?expires=`));
    const got = await fetch(ready.body.url);
    assert.equal(got.status, 200);
    assert.equal(got.headers.get('content-type'), 'image/png');
    assert.equal(got.headers.get('accept-ranges'), 'bytes');
    assert.ok(Buffer.from(await got.arrayBuffer()).equals(PNG), 'the same bytes');
    alice.png = ready.body;
  });

  it('videos: MP4 with moov at the end, AVI - dimensions and duration', async () => {
    for (const [type, bytes] of [['video/mp4', MP4], ['video/x-msvideo', AVI]]) {
      const up = await upload(srv, alice.token, type, bytes.length);
      const put = await srv.req('PUT', local(up.upload_url), { body: bytes, headers: { 'content-type': type } });
      assertStatus(put, 200);
      assert.deepEqual(put.body, { id: up.id, size: bytes.length, content_type: type, width: 64, height: 48, duration_ms: 2000 });
    }
  });

  it('a video near the upload limit goes through; the same body on a JSON route is 413', async () => {
    // vid.mp4 with a 'free' box padding it to 1000000 bytes (over TG_MAX_BODY_BYTES, under the upload limit)
    const pad = Buffer.alloc(1000000 - MP4.length);
    pad.writeUInt32BE(pad.length, 0);
    pad.write('free', 4);
    const big = Buffer.concat([MP4, pad]);
    const up = await upload(srv, alice.token, 'video/mp4', big.length);
    const put = await srv.req('PUT', local(up.upload_url), { body: big, headers: { 'content-type': 'video/mp4' } });
    assertStatus(put, 200);
    assert.equal(put.body.duration_ms, 2000);
    const json = await srv.req('POST', '/api/v1/auth/login', { body: big, headers: { 'content-type': 'application/json' } });
    assertError(json, 413, 'payload_too_large');
    const nowhere = await srv.req('POST', '/no/such/route', { body: big, headers: { 'content-type': 'application/json' } });
    assertError(nowhere, 413, 'payload_too_large');
  });

  it('the trade-off of one body limit: over TG_MAX_UPLOAD_BYTES refused from the head, between the two limits only once read', async () => {
    const head = (len) => `POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${len}\r\n\r\n`;
    const talk = (chunks, ms) => new Promise((resolve) => {
      const sock = net.connect(srv.port, '127.0.0.1');
      let data = '';
      const timer = setTimeout(() => {
        sock.destroy();
        resolve({ how: 'timeout', data });
      }, ms);
      sock.on('data', (d) => (data += d));
      sock.on('close', () => {
        clearTimeout(timer);
        resolve({ how: 'end', data });
      });
      sock.on('error', () => {});
      sock.on('connect', () => chunks.forEach((c, i) => setTimeout(() => sock.write(c), i * 300)));
    });
    const over = await talk([head(1048577)], 3000);
    assert.equal(over.how, 'end', 'answered without one body byte');
    assert.match(over.data, /^HTTP\/1\.1 413 /);
    assert.match(over.data, /"payload_too_large"/);
    // 100000 bytes: over TG_MAX_BODY_BYTES (64 KiB), under the upload limit. Nothing is
    // answered while the body is missing; the 413 comes once it has arrived.
    const waits = await talk([head(100000)], 1000);
    assert.equal(waits.how, 'timeout');
    assert.equal(waits.data, '', 'no answer before the body');
    const read = await talk([head(100000), Buffer.alloc(100000, 0x20)], 3000);
    assert.match(read.data, /^HTTP\/1\.1 413 /);
    assert.match(read.data, /"payload_too_large"/);
    assert.match(read.data, /\r\nconnection: close\r\n/i);
  });

  it('over TG_MAX_UPLOAD_BYTES the upload route is 413 too', async () => {
    const up = await upload(srv, alice.token, 'video/mp4', 1000);
    const r = await srv.req('PUT', local(up.upload_url), { body: Buffer.alloc(1048577), headers: { 'content-type': 'video/mp4' } });
    assertError(r, 413, 'payload_too_large');
  });

  it('declared types and sizes are bounded', async () => {
    const gif = await srv.post('/api/v1/uploads', { content_type: 'image/gif', size: 10 }, { token: alice.token });
    assertError(gif, 422, 'invalid_input');
    assert.equal(gif.body.error.details.field, 'content_type');
    assert.ok(gif.body.error.details.allowed.includes('video/quicktime'));
    const bigImage = await srv.post('/api/v1/uploads', { content_type: 'image/jpeg', size: 10 * 1024 * 1024 + 1 }, { token: alice.token });
    assertError(bigImage, 422, 'invalid_input');
    assert.deepEqual(bigImage.body.error.details, { field: 'size', max: 10485760 });
    assertStatus(await srv.post('/api/v1/uploads', { content_type: 'image/jpeg', size: 10 * 1024 * 1024 }, { token: alice.token }), 201);
    const bigVideo = await srv.post('/api/v1/uploads', { content_type: 'video/mp4', size: 1048577 }, { token: alice.token });
    assertError(bigVideo, 422, 'invalid_input');
    assert.deepEqual(bigVideo.body.error.details, { field: 'size', max: 1048576 });
    assertError(await srv.post('/api/v1/uploads', { content_type: 'image/png', size: 0 }, { token: alice.token }), 400, 'validation_failed');
    assertError(await srv.post('/api/v1/uploads', { content_type: 'image/png', size: 5, extra: 1 }, { token: alice.token }), 400, 'validation_failed');
    assertError(await srv.post('/api/v1/uploads', { content_type: 'image/png', size: 5 }), 401, 'unauthorized');
  });

  it('the bytes must be the declared type, size and Content-Type', async () => {
    const up = await upload(srv, alice.token, 'image/png', JPG.length);
    const wrong = await srv.req('PUT', local(up.upload_url), { body: JPG, headers: { 'content-type': 'image/png' } });
    assertError(wrong, 422, 'invalid_input');
    assert.deepEqual(wrong.body.error.details, { field: 'content_type', declared: 'image/png', detected: 'image/jpeg' });
    const junk = await srv.req('PUT', local(up.upload_url), { body: Buffer.alloc(JPG.length, 7), headers: { 'content-type': 'image/png' } });
    assertError(junk, 422, 'invalid_input');
    assert.equal(junk.body.error.details.detected, null);
    const ctype = await srv.req('PUT', local(up.upload_url), { body: JPG, headers: { 'content-type': 'image/jpeg' } });
    assertError(ctype, 415, 'unsupported_media_type');
    const short = await srv.req('PUT', local(up.upload_url), { body: JPG.subarray(1), headers: { 'content-type': 'image/png' } });
    assertError(short, 400, 'bad_request');
    const still = await srv.get(`/api/v1/uploads/${up.id}`, { token: alice.token });
    assert.equal(still.body.status, 'pending', 'refused bytes leave the file pending');
  });

  it('forged, altered and borrowed signatures are refused', async () => {
    const up = await upload(srv, alice.token, 'image/png', PNG.length);
    const u = new URL(up.upload_url);
    const sig = u.searchParams.get('sig');
    const exp = u.searchParams.get('expires');
    const put = (p) => srv.req('PUT', p, { body: PNG, headers: { 'content-type': 'image/png' } });
    const flipped = sig.slice(0, 10) + (sig[10] === 'a' ? 'b' : 'a') + sig.slice(11);
    for (const [what, p] of [
      ['a changed signature digit', `${u.pathname}?expires=${exp}&sig=${flipped}`],
      ['an upper-case signature', `${u.pathname}?expires=${exp}&sig=${sig.toUpperCase()}`],
      ['no signature', `${u.pathname}?expires=${exp}`],
      ['no expiry', `${u.pathname}?sig=${sig}`],
      ['a later expiry', `${u.pathname}?expires=${Number(exp) + 3600}&sig=${sig}`],
      ['the expiry spelled with a leading zero', `${u.pathname}?expires=0${exp}&sig=${sig}`],
      ["Bob's key with Alice's signature", `/files/in/${bob.id}/${up.id}?expires=${exp}&sig=${sig}`],
      ['another file id', `/files/in/${alice.id}/fil_01J00000000000000000000000?expires=${exp}&sig=${sig}`],
    ]) {
      assertError(await put(p), 403, 'forbidden', what);
    }
    // A GET signature never authorises a PUT, nor the reverse.
    const ready = alice.png;
    const g = new URL(ready.url);
    assertError(await put(`/files/in/${alice.id}/${ready.id}${g.search}`), 403, 'forbidden');
    assertError(await srv.get(`${u.pathname}${u.search}`), 403, 'forbidden');
    // The URL still works after all that.
    assertStatus(await put(local(up.upload_url)), 200);
  });

  it('path traversal in the key is refused in every spelling', async () => {
    const g = new URL(alice.png.url);
    const q = g.search;
    // Dot segments and NUL never reach a route (400 from the HTTP layer, for every path);
    // what does reach /files/ is not a storage key, so no signature can match (403).
    for (const [p, status] of [
      [`/files/in/../${alice.id}/${alice.png.id}${q}`, 400],
      [`/files/in/${alice.id}/..${q}`, 400],
      [`/files/in/%2e%2e/${alice.png.id}${q}`, 400],
      [`/files/in/${alice.id}/%2E%2E${q}`, 400],
      [`/files/in/${alice.id}/.${q}`, 400],
      [`/files/in/${alice.id}/${alice.png.id}%00${q}`, 400],
      [`/files/in/${alice.id}/..%2f..%2fjwt_secret${q}`, 403],
      [`/files/in/${alice.id}/..%5c..%5cjwt_secret${q}`, 403],
      [`/files/in/${alice.id}/a\\b${q}`, 403],
      [`/files/in/${alice.id}/.jwt_secret${q}`, 403],
    ]) {
      const r = await raw(srv, 'GET', p);
      assert.equal(r.status, status, `${p}: ${r.text}`);
      assert.equal(r.body?.error?.code, status === 400 ? 'bad_request' : 'forbidden', `${p}: ${r.text}`);
    }
    const up = await upload(srv, alice.token, 'image/png', PNG.length);
    const u = new URL(up.upload_url);
    const r = await raw(srv, 'PUT', `/files/in/${alice.id}/..%2f${up.id}${u.search}`, { body: PNG, headers: { 'content-type': 'image/png' } });
    assert.equal(r.status, 403, r.text);
  });

  it('Range: one range 206, suffix, open-ended, past the end 416, several ranges 200', async () => {
    const url = local(alice.png.url);
    const r1 = await srv.get(url, { headers: { range: 'bytes=0-9' } });
    assertStatus(r1, 206);
    assert.equal(r1.headers.get('content-range'), `bytes 0-9/${PNG.length}`);
    assert.equal(r1.headers.get('content-length'), '10');
    const b1 = Buffer.from(await (await fetch(alice.png.url, { headers: { range: 'bytes=0-9' } })).arrayBuffer());
    assert.ok(b1.equals(PNG.subarray(0, 10)));
    const suffix = await fetch(alice.png.url, { headers: { range: 'bytes=-4' } });
    assert.equal(suffix.status, 206);
    assert.ok(Buffer.from(await suffix.arrayBuffer()).equals(PNG.subarray(PNG.length - 4)), 'IEND chunk CRC');
    const open = await fetch(alice.png.url, { headers: { range: `bytes=${PNG.length - 3}-` } });
    assert.equal(open.status, 206);
    assert.equal(open.headers.get('content-range'), `bytes ${PNG.length - 3}-${PNG.length - 1}/${PNG.length}`);
    const past = await srv.get(url, { headers: { range: `bytes=${PNG.length}-` } });
    assertError(past, 416, 'range_not_satisfiable');
    assert.equal(past.headers.get('content-range'), `bytes */${PNG.length}`);
    const several = await srv.get(url, { headers: { range: 'bytes=0-1,4-5' } });
    assertStatus(several, 200);
    assert.equal(several.headers.get('content-length'), String(PNG.length));
    const head = await fetch(alice.png.url, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), String(PNG.length));
  });

  it("another user's file does not exist for them", async () => {
    assertError(await srv.get(`/api/v1/uploads/${alice.png.id}`, { token: bob.token }), 404, 'not_found');
    assertError(await srv.get('/api/v1/uploads/fil_garbage', { token: bob.token }), 404, 'not_found');
    const g = new URL(alice.png.url);
    assertError(await srv.get(`/files/in/${bob.id}/${alice.png.id}${g.search}`), 403, 'forbidden');
    const mine = await upload(srv, bob.token, 'image/png', PNG.length);
    assert.ok(mine.upload_url.includes(`/files/in/${bob.id}/`), 'upload URLs name the caller only');
  });

  it('expired URLs are refused (the clock moved past their hour)', async () => {
    const up = await upload(srv, alice.token, 'image/png', PNG.length);
    const fresh = await srv.get(`/api/v1/uploads/${alice.png.id}`, { token: alice.token });
    const adv = await srv.post('/api/v1/admin/clock', { advance_ms: 3601 * 1000 }, { token: admin.token });
    assertStatus(adv, 200);
    const put = await srv.req('PUT', local(up.upload_url), { body: PNG, headers: { 'content-type': 'image/png' } });
    assertError(put, 403, 'forbidden');
    assert.match(put.body.error.message, /expired/);
    const get = await srv.get(local(fresh.body.url));
    assertError(get, 403, 'forbidden');
    assert.match(get.body.error.message, /expired/);
  });

  invariantTest(() => srv);
});

describe('uploads on S3 (GLOBAL) and OSS (CN), against the fake S3', () => {
  let srv, s3, user;
  before(async () => {
    s3 = await startFakeS3();
    const common = { ENDPOINT: s3.url, REGION: s3.region, ACCESS_KEY_ID: s3.accessKeyId, SECRET_ACCESS_KEY: s3.secretAccessKey };
    const env = { TG_STORAGE: 's3', TG_S3_BUCKET: 'tollgate-test', TG_OSS_BUCKET: 'tollgate-oss' };
    for (const [k, v] of Object.entries(common)) {
      env[`TG_S3_${k}`] = v;
      env[`TG_OSS_${k}`] = v;
    }
    srv = await startServer({ env });
    srv.secrets.add(s3.secretAccessKey);
    user = await srv.register({ tag: 's3' });
  });
  after(async () => {
    srv?.cleanup();
    await s3?.stop();
  });

  it('GLOBAL: a presigned S3 PUT that the bucket accepts only for the declared type and size', async () => {
    const up = await upload(srv, user.token, 'image/png', PNG.length);
    assert.ok(up.upload_url.startsWith(`${s3.url}/tollgate-test/in/${user.id}/${up.id}?`), up.upload_url);
    assert.match(up.upload_url, /X-Amz-SignedHeaders=content-length%3Bcontent-type%3Bhost/);
    assert.equal((await fetch(up.upload_url, { method: 'PUT', body: PNG, headers: { 'content-type': 'image/jpeg' } })).status, 403);
    assert.equal((await fetch(up.upload_url, { method: 'PUT', body: Buffer.concat([PNG, Buffer.from('x')]), headers: { 'content-type': 'image/png' } })).status, 403);
    const tampered = up.upload_url.replace(`/in/${user.id}/`, '/in/usr_01J00000000000000000000000/');
    assert.equal((await fetch(tampered, { method: 'PUT', body: PNG, headers: { 'content-type': 'image/png' } })).status, 403);
    const ok = await fetch(up.upload_url, { method: 'PUT', body: PNG, headers: { 'content-type': 'image/png' } });
    assert.equal(ok.status, 200);
    const o = s3.objects.get(`tollgate-test/in/${user.id}/${up.id}`);
    assert.ok(o.body.equals(PNG));
    assert.equal(o.contentType, 'image/png');
  });

  it('complete: read back from the bucket, probed, marked ready; early, wrong bytes and other users refused', async () => {
    const up = await upload(srv, user.token, 'video/mp4', MP4.length);
    const early = await srv.post(`/api/v1/uploads/${up.id}/complete`, undefined, { token: user.token });
    assertError(early, 409, 'file_not_ready');
    assert.equal((await fetch(up.upload_url, { method: 'PUT', body: MP4, headers: { 'content-type': 'video/mp4' } })).status, 200);
    const other = await srv.register({ tag: 'other' });
    assertError(await srv.post(`/api/v1/uploads/${up.id}/complete`, undefined, { token: other.token }), 404, 'not_found');
    const done = await srv.post(`/api/v1/uploads/${up.id}/complete`, undefined, { token: user.token });
    assertStatus(done, 200);
    assert.equal(done.body.status, 'ready');
    assert.deepEqual([done.body.width, done.body.height, done.body.duration_ms], [64, 48, 2000]);
    assert.ok(done.body.url.startsWith(`${s3.url}/tollgate-test/in/${user.id}/${up.id}?`), done.body.url);
    const back = await fetch(done.body.url);
    assert.equal(back.status, 200);
    assert.ok(Buffer.from(await back.arrayBuffer()).equals(MP4), 'the signed GET reads the object');
    const again = await srv.post(`/api/v1/uploads/${up.id}/complete`, undefined, { token: user.token });
    assertStatus(again, 200);
    // A JPEG's bytes sent as the declared PNG (the bucket checks type and size, not content).
    const fake = await upload(srv, user.token, 'image/png', JPG.length);
    assert.equal((await fetch(fake.upload_url, { method: 'PUT', body: JPG, headers: { 'content-type': 'image/png' } })).status, 200);
    const bad = await srv.post(`/api/v1/uploads/${fake.id}/complete`, undefined, { token: user.token });
    assertError(bad, 422, 'invalid_input');
    assert.deepEqual(bad.body.error.details, { field: 'content_type', declared: 'image/png', detected: 'image/jpeg' });
    assert.equal((await srv.get(`/api/v1/uploads/${fake.id}`, { token: user.token })).body.status, 'pending');
  });

  it('CN: the upload goes to the OSS bucket', async () => {
    assertStatus(await srv.req('PUT', '/api/v1/region', { json: { region: 'CN' }, token: user.token }), 200);
    const up = await upload(srv, user.token, 'video/mp4', MP4.length);
    assert.ok(up.upload_url.startsWith(`${s3.url}/tollgate-oss/in/${user.id}/${up.id}?`), up.upload_url);
    const ok = await fetch(up.upload_url, { method: 'PUT', body: MP4, headers: { 'content-type': 'video/mp4' } });
    assert.equal(ok.status, 200);
    assert.ok(s3.objects.get(`tollgate-oss/in/${user.id}/${up.id}`).body.equals(MP4));
  });

  invariantTest(() => srv);
});
