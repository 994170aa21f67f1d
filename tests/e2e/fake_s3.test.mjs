// The fake S3 (tests/fakes/s3.mjs) against the AWS SDK: it accepts what @aws-sdk/client-s3
// sends and what @aws-sdk/s3-request-presigner presigns, and refuses what S3 refuses.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { S3Client, PutObjectCommand, GetObjectCommand } from '@aws-sdk/client-s3';
import { getSignedUrl, S3RequestPresigner } from '@aws-sdk/s3-request-presigner';
import { Sha256 } from '@smithy/core/checksum';
import { HttpRequest } from '@smithy/core/protocols';
import { formatUrl } from '@aws-sdk/core/util';
import { startFakeS3 } from '../fakes/s3.mjs';

const BUCKET = 'tollgate-test';

describe('fake S3', () => {
  let s3, client, creds;
  before(async () => {
    s3 = await startFakeS3();
    creds = { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey };
    client = new S3Client({
      endpoint: s3.url,
      region: s3.region,
      forcePathStyle: true,
      credentials: creds,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  });
  after(async () => {
    client?.destroy();
    await s3?.stop();
  });

  it('stores and returns objects the SDK client sends (header-signed SigV4)', async () => {
    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'in/a/b', Body: 'hello fake', ContentType: 'text/plain' }));
    assert.equal(s3.objects.get(`${BUCKET}/in/a/b`).body.toString(), 'hello fake');
    const got = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'in/a/b' }));
    assert.equal(await got.Body.transformToString(), 'hello fake');
    assert.equal(got.ContentType, 'text/plain');
  });

  it('refuses a client with the wrong secret', async () => {
    const bad = new S3Client({ endpoint: s3.url, region: s3.region, forcePathStyle: true, credentials: { ...creds, secretAccessKey: 'wrong' }, requestChecksumCalculation: 'WHEN_REQUIRED' });
    await assert.rejects(bad.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'x', Body: 'y' })), (e) => e.name === 'SignatureDoesNotMatch' && e.$metadata.httpStatusCode === 403);
    bad.destroy();
  });

  it('accepts presigned URLs of the SDK and refuses altered or expired ones', async () => {
    const url = await getSignedUrl(client, new GetObjectCommand({ Bucket: BUCKET, Key: 'in/a/b' }), { expiresIn: 60 });
    const ok = await fetch(url);
    assert.equal(ok.status, 200);
    assert.equal(await ok.text(), 'hello fake');
    const tampered = url.replace(/X-Amz-Signature=([0-9a-f])/, (m, c) => `X-Amz-Signature=${c === 'a' ? 'b' : 'a'}`);
    const t = await fetch(tampered);
    assert.equal(t.status, 403);
    assert.match(await t.text(), /<Code>SignatureDoesNotMatch<\/Code>/);
    const otherKey = await fetch(url.replace('/in/a/b?', '/in/a/c?'));
    assert.equal(otherKey.status, 403);
    const longer = await fetch(url.replace('X-Amz-Expires=60', 'X-Amz-Expires=600'));
    assert.equal(longer.status, 403);
    s3.setNow(Date.now() + 61000);
    const expired = await fetch(url);
    assert.equal(expired.status, 403);
    assert.match(await expired.text(), /<Code>AccessDenied<\/Code><Message>Request has expired/);
    s3.setNow(null);
  });

  it('a presigned PUT that signs Content-Type and Content-Length takes only those', async () => {
    const presigner = new S3RequestPresigner({ credentials: creds, region: s3.region, sha256: Sha256 });
    const req = new HttpRequest({ method: 'PUT', protocol: 'http:', hostname: '127.0.0.1', port: s3.port, path: `/${BUCKET}/in/u/f`, headers: { host: s3.host, 'content-type': 'image/png', 'content-length': '5' }, query: {} });
    const url = formatUrl(await presigner.presign(req, { expiresIn: 60, signableHeaders: new Set(['content-type']) }));
    assert.match(url, /X-Amz-SignedHeaders=content-length%3Bcontent-type%3Bhost/);
    const wrongType = await fetch(url, { method: 'PUT', body: 'abcde', headers: { 'content-type': 'image/jpeg' } });
    assert.equal(wrongType.status, 403);
    const wrongSize = await fetch(url, { method: 'PUT', body: 'abcdef', headers: { 'content-type': 'image/png' } });
    assert.equal(wrongSize.status, 403);
    const ok = await fetch(url, { method: 'PUT', body: 'abcde', headers: { 'content-type': 'image/png' } });
    assert.equal(ok.status, 200);
    assert.equal(s3.objects.get(`${BUCKET}/in/u/f`).contentType, 'image/png');
  });

  it('addresses a bucket virtual-hosted (Host: bucket.endpoint)', async () => {
    const host = `${BUCKET}.s3.test:${s3.port}`;
    const presigner = new S3RequestPresigner({ credentials: creds, region: s3.region, sha256: Sha256 });
    const req = new HttpRequest({ method: 'GET', protocol: 'http:', hostname: `${BUCKET}.s3.test`, port: s3.port, path: '/in/a/b', headers: { host }, query: {} });
    const u = new URL(formatUrl(await presigner.presign(req, { expiresIn: 60 })));
    const body = await new Promise((resolve, reject) => {
      http.get({ host: '127.0.0.1', port: s3.port, path: u.pathname + u.search, headers: { host } }, (res) => {
        let b = '';
        res.on('data', (c) => (b += c));
        res.on('end', () => resolve({ status: res.statusCode, b }));
      }).on('error', reject);
    });
    assert.deepEqual(body, { status: 200, b: 'hello fake' });
  });

  it('refuses anonymous requests and unknown buckets', async () => {
    assert.equal((await fetch(`${s3.url}/${BUCKET}/in/a/b`)).status, 403);
    assert.equal((await fetch(`${s3.url}/nobucket/x`)).status, 404);
  });
});
