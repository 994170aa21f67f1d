// A fake S3 (and Aliyun OSS's S3-compatible API): PUT, GET and HEAD of objects in memory,
// every request authenticated with AWS Signature Version 4 - presigned (X-Amz-* query
// parameters) or an Authorization header - checked here with node:crypto, independently of
// Tollgate's C and of the AWS SDK (tests/e2e/fake_s3.test.mjs checks it accepts what the SDK
// signs and refuses what it should).
//
// What it checks, as S3 does: the credential's access key, date and scope (region, "s3"),
// the signature over the canonical request (path as sent, query sorted and re-encoded,
// the signed headers with trimmed values, the payload hash or UNSIGNED-PAYLOAD), that host is
// signed, that a presigned URL has not expired (X-Amz-Date + X-Amz-Expires, at most 7 days),
// that a header-signed request is within 15 minutes of the fake's clock, and that a body's
// SHA-256 matches a hex x-amz-content-sha256. Errors are S3's XML (<Error><Code>...).
// Buckets are addressed path-style (/bucket/key) or virtual-hosted (Host: bucket.host).
//
// In-process: startFakeS3({accessKeyId, secretAccessKey, region, buckets}) ->
//   {url, port, host, objects (Map "bucket/key" -> {body, contentType}), requests, setNow(ms),
//    stop()}. As a process: `node tests/fakes/s3.mjs [--port N] [--exit-on-stdin-close]` prints
//    {"url","port",...}.
import http from 'node:http';
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { fileURLToPath } from 'node:url';

export const DEFAULTS = {
  accessKeyId: 'AKIDFAKES3EXAMPLE',
  secretAccessKey: 'fake/s3/secret/key/for/tests/only/0123456',
  region: 'us-east-1',
  buckets: ['tollgate-test', 'tollgate-oss'],
};

const sha256hex = (b) => createHash('sha256').update(b).digest('hex');
const hmac = (k, s) => createHmac('sha256', k).update(s).digest();
// RFC 3986 unreserved characters stay, everything else is %XX upper-case (SigV4's UriEncode).
const uriEncode = (s) => Buffer.from(s, 'utf8').toString('latin1').replace(/[^A-Za-z0-9\-._~]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0'));

function xmlError(res, status, code, message) {
  const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message></Error>`;
  res.writeHead(status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

// "20130524T000000Z" -> ms, or NaN.
function parseAmzDate(s) {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s ?? '');
  return m ? Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]) : NaN;
}

function decodeQueryPart(s) {
  return decodeURIComponent(s.replace(/\+/g, '%20'));
}

/** Parses a raw query string into [name, value] pairs (decoded), order kept. */
function queryPairs(raw) {
  if (!raw) return [];
  return raw.split('&').filter(Boolean).map((kv) => {
    const i = kv.indexOf('=');
    return i < 0 ? [decodeQueryPart(kv), ''] : [decodeQueryPart(kv.slice(0, i)), decodeQueryPart(kv.slice(i + 1))];
  });
}

/** The SigV4 signature of a request, from its parts. */
export function sigv4Signature({ method, path, query, headers, signedHeaders, payloadHash, amzDate, secretAccessKey, scope }) {
  const cq = query
    .map(([k, v]) => [uriEncode(k), uriEncode(v)])
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const ch = signedHeaders.map((h) => `${h}:${String(headers[h] ?? '').trim().replace(/\s+/g, ' ')}\n`).join('');
  const creq = [method, path, cq, ch, signedHeaders.join(';'), payloadHash].join('\n');
  const sts = ['AWS4-HMAC-SHA256', amzDate, scope, sha256hex(creq)].join('\n');
  const [date, region, service] = scope.split('/');
  let k = hmac('AWS4' + secretAccessKey, date);
  k = hmac(k, region);
  k = hmac(k, service);
  k = hmac(k, 'aws4_request');
  return hmac(k, sts).toString('hex');
}

export async function startFakeS3(opts = {}) {
  const cfg = { ...DEFAULTS, ...opts };
  const objects = new Map();
  const requests = [];
  let nowMs = null;
  const now = () => nowMs ?? Date.now();

  // Returns null when authentic, else [status, code, message].
  function authenticate(req, path, rawQuery, body) {
    const q = queryPairs(rawQuery);
    const qget = (n) => q.find(([k]) => k === n)?.[1];
    const headers = req.headers;
    let credential, signedHeaders, signature, amzDate, payloadHash, query;
    if (qget('X-Amz-Signature') !== undefined) {
      if (qget('X-Amz-Algorithm') !== 'AWS4-HMAC-SHA256') return [400, 'AuthorizationQueryParametersError', 'X-Amz-Algorithm must be AWS4-HMAC-SHA256'];
      credential = qget('X-Amz-Credential');
      signedHeaders = (qget('X-Amz-SignedHeaders') ?? '').split(';');
      signature = qget('X-Amz-Signature');
      amzDate = qget('X-Amz-Date');
      const expires = Number(qget('X-Amz-Expires'));
      if (!Number.isInteger(expires) || expires < 1 || expires > 604800) return [400, 'AuthorizationQueryParametersError', 'X-Amz-Expires must be 1..604800'];
      const t = parseAmzDate(amzDate);
      if (Number.isNaN(t)) return [400, 'AuthorizationQueryParametersError', 'bad X-Amz-Date'];
      if (now() > t + expires * 1000) return [403, 'AccessDenied', 'Request has expired'];
      if (now() < t - 15 * 60 * 1000) return [403, 'AccessDenied', 'Request is not valid yet'];
      payloadHash = qget('X-Amz-Content-Sha256') ?? 'UNSIGNED-PAYLOAD';
      query = q.filter(([k]) => k !== 'X-Amz-Signature');
    } else if (headers.authorization) {
      const m = /^AWS4-HMAC-SHA256 Credential=([^,\s]+),\s*SignedHeaders=([^,\s]+),\s*Signature=([0-9a-f]{64})$/.exec(headers.authorization);
      if (!m) return [400, 'AuthorizationHeaderMalformed', 'The authorization header is malformed'];
      [, credential, , signature] = m;
      signedHeaders = m[2].split(';');
      amzDate = headers['x-amz-date'];
      const t = parseAmzDate(amzDate);
      if (Number.isNaN(t)) return [403, 'AccessDenied', 'missing or bad x-amz-date'];
      if (Math.abs(now() - t) > 15 * 60 * 1000) return [403, 'RequestTimeTooSkewed', 'The difference between the request time and the current time is too large'];
      payloadHash = headers['x-amz-content-sha256'];
      if (!payloadHash) return [400, 'InvalidRequest', 'Missing required header for this request: x-amz-content-sha256'];
      if (/^[0-9a-f]{64}$/.test(payloadHash) && sha256hex(body) !== payloadHash) return [400, 'XAmzContentSHA256Mismatch', 'The provided x-amz-content-sha256 header does not match what was computed'];
      query = q;
    } else {
      return [403, 'AccessDenied', 'Anonymous access is not allowed'];
    }
    const parts = (credential ?? '').split('/');
    if (parts.length !== 5 || parts[4] !== 'aws4_request' || parts[3] !== 's3') return [400, 'AuthorizationHeaderMalformed', 'bad credential scope'];
    if (parts[0] !== cfg.accessKeyId) return [403, 'InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.'];
    if (parts[2] !== cfg.region) return [400, 'AuthorizationHeaderMalformed', `the region '${parts[2]}' is wrong; expecting '${cfg.region}'`];
    if (parts[1] !== String(amzDate).slice(0, 8)) return [403, 'SignatureDoesNotMatch', 'credential date is not the request date'];
    if (!signedHeaders.includes('host')) return [403, 'AccessDenied', 'host must be signed'];
    for (const h of signedHeaders) if (headers[h] === undefined) return [403, 'SignatureDoesNotMatch', `signed header ${h} is missing`];
    const want = sigv4Signature({ method: req.method, path, query, headers, signedHeaders, payloadHash, amzDate, secretAccessKey: cfg.secretAccessKey, scope: parts.slice(1).join('/') });
    if (!/^[0-9a-f]{64}$/.test(signature ?? '') || !timingSafeEqual(Buffer.from(want), Buffer.from(signature))) {
      return [403, 'SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided.'];
    }
    return null;
  }

  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const qi = req.url.indexOf('?');
      const path = qi < 0 ? req.url : req.url.slice(0, qi);
      const rawQuery = qi < 0 ? '' : req.url.slice(qi + 1);
      requests.push({ method: req.method, url: req.url, headers: req.headers, length: body.length });
      // Virtual-hosted: the bucket is the Host's first label; else path-style.
      const hostname = String(req.headers.host ?? '').replace(/:\d+$/, '');
      let bucket, key;
      const vb = cfg.buckets.find((b) => hostname.startsWith(b + '.'));
      if (vb) {
        bucket = vb;
        key = decodeURIComponent(path.slice(1));
      } else {
        const seg = path.split('/');
        bucket = decodeURIComponent(seg[1] ?? '');
        key = decodeURIComponent(seg.slice(2).join('/'));
      }
      if (!cfg.buckets.includes(bucket)) return xmlError(res, 404, 'NoSuchBucket', 'The specified bucket does not exist');
      const denied = authenticate(req, path, rawQuery, body);
      if (denied) return xmlError(res, ...denied);
      if (!key) return xmlError(res, 400, 'InvalidRequest', 'no key');
      const id = `${bucket}/${key}`;
      if (req.method === 'PUT') {
        const len = req.headers['content-length'];
        if (len === undefined) return xmlError(res, 411, 'MissingContentLength', 'You must provide the Content-Length HTTP header.');
        objects.set(id, { body, contentType: req.headers['content-type'] ?? 'binary/octet-stream' });
        res.writeHead(200, { etag: `"${createHash('md5').update(body).digest('hex')}"`, 'content-length': 0 });
        return res.end();
      }
      if (req.method === 'GET' || req.method === 'HEAD') {
        const o = objects.get(id);
        if (!o) return xmlError(res, 404, 'NoSuchKey', 'The specified key does not exist.');
        res.writeHead(200, { 'content-type': o.contentType, 'content-length': o.body.length });
        return res.end(req.method === 'GET' ? o.body : undefined);
      }
      return xmlError(res, 405, 'MethodNotAllowed', 'The specified method is not allowed against this resource.');
    });
  });
  await new Promise((resolve) => server.listen(cfg.port ?? 0, cfg.host ?? '127.0.0.1', resolve));
  const port = server.address().port;
  return {
    ...cfg,
    port,
    host: `127.0.0.1:${port}`,
    url: `http://127.0.0.1:${port}`,
    objects,
    requests,
    setNow(ms) {
      nowMs = ms;
    },
    stop: () => new Promise((resolve) => server.close(resolve)),
  };
}

// As a process: print where it listens, serve until SIGTERM/SIGINT.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const i = process.argv.indexOf('--port');
  const s = await startFakeS3({ port: i > 0 ? Number(process.argv[i + 1]) : 0 });
  const { objects, requests, setNow, stop, ...shown } = s;
  process.stdout.write(JSON.stringify(shown) + '\n');
  const end = async () => {
    await stop();
    process.exit(0);
  };
  process.on('SIGTERM', end);
  process.on('SIGINT', end);
  // For the C tests (tests/unit/providers/fakeproc.h): gone when the test's end closes.
  if (process.argv.includes('--exit-on-stdin-close')) {
    process.stdin.on('end', end);
    process.stdin.on('error', end);
    process.stdin.resume();
  }
}
