// Our SigV4 presigned URLs (`tollgate storage-presign`, src/providers/storage) against the AWS
// SDK's presigner (@aws-sdk/s3-request-presigner's S3RequestPresigner, the signer behind its
// getSignedUrl) for the same credentials, bucket, key, time and lifetime: byte for byte, for GET
// and PUT, on AWS S3 (virtual-hosted), an Aliyun OSS endpoint and a path-style local endpoint.
// S3RequestPresigner is called on the request S3 would receive (getSignedUrl adds the SDK's
// own x-id=GetObject marker, which is no part of SigV4); a PUT signs Content-Type and
// Content-Length as Tollgate's do (signableHeaders content-type; content-length is signed as
// any header the request carries).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { S3RequestPresigner } from '@aws-sdk/s3-request-presigner';
import { Sha256 } from '@smithy/core/checksum';
import { HttpRequest } from '@smithy/core/protocols';
import { formatUrl } from '@aws-sdk/core/util';
import { runCli } from './lib/server.mjs';

const backends = [
  { name: 's3', prefix: 'S3', endpoint: 'https://s3.us-west-2.amazonaws.com', region: 'us-west-2', bucket: 'tollgate-media', pathStyle: false,
    id: 'AKIAIOSFODNN7EXAMPLE', secret: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' },
  { name: 'oss', prefix: 'OSS', endpoint: 'https://oss-cn-hangzhou.aliyuncs.com', region: 'oss-cn-hangzhou', bucket: 'tg-cn-uploads', pathStyle: false,
    id: 'LTAI5tExampleKeyId0000', secret: 'ExampleSecretKeyForOss0000000000' },
  { name: 's3', prefix: 'S3', endpoint: 'http://127.0.0.1:9000', region: 'eu-central-1', bucket: 'local-bucket', pathStyle: true,
    id: 'minioadmin', secret: 'minio+secret/with=specials' },
];

const cases = [
  { method: 'GET', key: 'test.txt', at: 1369353600, ttl: 86400 },
  { method: 'GET', key: 'in/usr_01J9ZQ4S2N8G3H5K7M9P1R3T5V/fil_01J9ZQ4S2N8G3H5K7M9P1R3T5W', at: 1764400000, ttl: 3600 },
  { method: 'GET', key: 'out/usr_x/tsk_y/0', at: 1700000000, ttl: 604800 },
  { method: 'PUT', key: 'in/usr_a/fil_b', at: 1764400000, ttl: 3600, type: 'image/png', size: 1234 },
  { method: 'PUT', key: 'in/usr_a/fil_c', at: 1764401234, ttl: 60, type: 'video/mp4', size: 209715200 },
  { method: 'PUT', key: 'a-b_c.d/e', at: 1, ttl: 1, type: 'video/x-msvideo', size: 1 },
];

async function sdkUrl(b, c) {
  const u = new URL(b.endpoint);
  const hostname = b.pathStyle ? u.hostname : `${b.bucket}.${u.hostname}`;
  const host = u.port ? `${hostname}:${u.port}` : hostname;
  const headers = { host };
  if (c.method === 'PUT') Object.assign(headers, { 'content-type': c.type, 'content-length': String(c.size) });
  const req = new HttpRequest({
    method: c.method, protocol: u.protocol, hostname, port: u.port ? Number(u.port) : undefined,
    path: b.pathStyle ? `/${b.bucket}/${c.key}` : `/${c.key}`, headers, query: {},
  });
  const presigner = new S3RequestPresigner({ credentials: { accessKeyId: b.id, secretAccessKey: b.secret }, region: b.region, sha256: Sha256 });
  const signed = await presigner.presign(req, {
    signingDate: new Date(c.at * 1000), expiresIn: c.ttl,
    ...(c.method === 'PUT' ? { signableHeaders: new Set(['content-type']) } : {}),
  });
  return formatUrl(signed);
}

function ourUrl(b, c, dataDir) {
  const env = { TG_DATA_DIR: dataDir };
  if (b.prefix === 'S3') env.TG_STORAGE = 's3';
  for (const [k, v] of Object.entries({ ENDPOINT: b.endpoint, REGION: b.region, BUCKET: b.bucket, ACCESS_KEY_ID: b.id, SECRET_ACCESS_KEY: b.secret })) env[`TG_${b.prefix}_${k}`] = v;
  const args = ['storage-presign', b.name, c.method, c.key, String(c.at), String(c.ttl)];
  if (c.method === 'PUT') args.push(c.type, String(c.size));
  const r = runCli(args, { env });
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim();
}

describe('SigV4 presigned URLs are byte for byte the AWS SDK\'s', () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'tollgate-presign-'));
  for (const b of backends) {
    for (const c of cases) {
      it(`${b.endpoint} ${c.method} ${c.key} at ${c.at} for ${c.ttl} s`, async () => {
        assert.equal(ourUrl(b, c, dataDir), await sdkUrl(b, c));
      });
    }
  }
  it('a URL past seven days or with a key that could leave its folder is refused', () => {
    const b = backends[0];
    const env = { TG_DATA_DIR: dataDir, TG_STORAGE: 's3', TG_S3_ENDPOINT: b.endpoint, TG_S3_REGION: b.region, TG_S3_BUCKET: b.bucket, TG_S3_ACCESS_KEY_ID: b.id, TG_S3_SECRET_ACCESS_KEY: b.secret };
    assert.equal(runCli(['storage-presign', 's3', 'GET', 'a', '1', '604801'], { env }).code, 1);
    assert.equal(runCli(['storage-presign', 's3', 'GET', 'in/../x', '1', '60'], { env }).code, 1);
    rmSync(dataDir, { recursive: true, force: true });
  });
});
