// Fake Google Sign-In: the OIDC endpoints a relying party talks to, speaking Google's wire
// formats (PROVIDERS.md section 6), with ID tokens signed by `jose`.
//
//   GET  /oauth2/v3/certs      JWKS: two RS256 keys, Cache-Control: public, max-age=N, ...
//   GET  /o/oauth2/v2/auth     auto-consent: 302 to redirect_uri?state=...&code=...&scope=...
//                              (or ?error=access_denied&state=... when told to refuse)
//   POST /token                application/x-www-form-urlencoded authorization_code grant
//                              with PKCE (S256); RFC 6749 section 5 answers and errors
//
// Use it in-process:
//   import { startFakeGoogle } from '../fakes/google.mjs';
//   const g = await startFakeGoogle({ clientId, clientSecret });   // port 0: any free port
//   ... TG_GOOGLE_JWKS_URL=g.jwksUrl, TG_GOOGLE_TOKEN_URL=g.tokenUrl, TG_GOOGLE_AUTH_URL=g.authUrl
//   await g.close();
// or as a process (other languages' tests): `node tests/fakes/google.mjs [--port N]` prints
// one JSON line {"port", "url", "clientId", "clientSecret"} and serves until killed; the
// control API is then POST /__control/<method> with a JSON array of arguments (e.g.
// /__control/rotateKeys with [], /__control/setFault with [{"path":"jwks","status":503}]),
// answering {"result": ...}; GET /__control/stats answers the counters.
//
// Control (methods of the returned object):
//   setNextIdentity(claims)   claims for the next codes (sub, email, email_verified, name...)
//   setClaimOverrides(o)      merged into every ID token issued by /token (aud, iss, exp, iat,
//                             email_verified, ...; a value undefined deletes the claim);
//                             o.kid picks the signing kid; o.foreignKey signs with a key
//                             that is not published
//   rotateKeys()              a new key pair with a new kid replaces the oldest (the old kid
//                             is no longer published); returns the new kid
//   setMaxAge(n)              Cache-Control max-age of the JWKS
//   setFault({path, status, delayMs, count})  'jwks' | 'token' | 'auth' | 'all': answer with
//                             status (500, 503...) and/or wait delayMs first, for the next
//                             count requests (default: until cleared with setFault(null))
//   setAuthError(error)       the authorize endpoint redirects with ?error=<error> ('access_denied')
//   stats                     { jwksFetches, tokenRequests, authRequests }
//   mint(claims, options)     signs any token, for attack tests (see mint below)
//   currentKids()             the published kids
import http from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import jose from './jose.mjs';

export const ISSUER = 'https://accounts.google.com';
const b64u = (buf) => Buffer.from(buf).toString('base64url');
const hex = (n) => randomBytes(n).toString('hex');

/** A new RS256 key pair with a Google-like kid (40 hex digits). */
export async function newKey(modulusLength = 2048) {
  const { publicKey, privateKey } = await jose.generateKeyPair('RS256', { modulusLength, extractable: true });
  const kid = hex(20);
  const jwk = await jose.exportJWK(publicKey);
  return { kid, publicKey, privateKey, jwk: { ...jwk, alg: 'RS256', kid, use: 'sig' }, spki: await jose.exportSPKI(publicKey) };
}

/**
 * Signs a token for tests, with any header and algorithm:
 *   options.key      a key from newKey() (default: the first published one)
 *   options.kid      the header's kid (default key.kid; null leaves it out)
 *   options.alg      'RS256' (default), 'RS384', 'PS256', 'ES256' (a fresh EC key),
 *                    'none' (unsigned, empty signature), or 'HS256-public' (HS256 whose
 *                    secret is the RSA public key's PEM text: the algorithm-confusion attack)
 *   options.header   extra header members (typ, crit, jku...)
 *   options.crit     jose's sign option for the extensions named in header.crit
 */
export async function mintWith(defaultKey, claims, options = {}) {
  const key = options.key ?? defaultKey;
  const alg = options.alg ?? 'RS256';
  const header = { alg, typ: 'JWT', ...(options.header ?? {}) };
  const kid = options.kid === undefined ? key.kid : options.kid;
  if (kid !== null) header.kid = kid;
  if (alg === 'none') {
    return `${b64u(JSON.stringify(header))}.${b64u(JSON.stringify(claims))}.`;
  }
  if (alg === 'HS256-public') {
    header.alg = 'HS256';
    return new jose.SignJWT(claims).setProtectedHeader(header).sign(new TextEncoder().encode(key.spki));
  }
  if (alg === 'ES256') {
    const ec = await jose.generateKeyPair('ES256');
    return new jose.SignJWT(claims).setProtectedHeader(header).sign(ec.privateKey);
  }
  if (alg === 'RS384' || alg === 'PS256') {
    const k = await jose.importPKCS8(await jose.exportPKCS8(key.privateKey), alg);
    return new jose.SignJWT(claims).setProtectedHeader(header).sign(k);
  }
  return new jose.SignJWT(claims).setProtectedHeader(header).sign(key.privateKey, options.crit ? { crit: options.crit } : undefined);
}

/** Standard Google ID token claims for a client at time now (seconds). */
export function googleClaims(clientId, now, identity = {}) {
  return {
    iss: ISSUER,
    azp: clientId,
    aud: clientId,
    sub: '110169484474386276334',
    email: 'alice.example@gmail.com',
    email_verified: true,
    name: 'Alice Example',
    picture: 'https://lh3.googleusercontent.com/a/default-user=s96-c',
    given_name: 'Alice',
    family_name: 'Example',
    locale: 'en',
    iat: now,
    exp: now + 3600,
    ...identity,
  };
}

function readBody(req, limit = 64 * 1024) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let n = 0;
    req.on('data', (c) => {
      n += c.length;
      if (n > limit) {
        reject(new Error('body too large'));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function sendJson(res, status, obj, headers = {}) {
  const body = JSON.stringify(obj);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
    ...headers,
  });
  res.end(body);
}

// Google's token endpoint answers are never cacheable.
const NO_STORE = { 'Cache-Control': 'no-cache, no-store, max-age=0, must-revalidate', Pragma: 'no-cache' };

export async function startFakeGoogle({
  port = 0,
  host = '127.0.0.1',
  clientId = 'test-client.apps.googleusercontent.com',
  clientSecret = 'GOCSPX-test-secret',
  maxAge = 21600,
} = {}) {
  const keys = [await newKey(), await newKey()];
  const codes = new Map(); // code -> grant
  const stats = { jwksFetches: 0, tokenRequests: 0, authRequests: 0 };
  let nextIdentity = {};
  let overrides = {};
  let fault = null;
  let authError = null;
  let cacheMaxAge = maxAge;

  const faultFor = (path) => {
    if (!fault || (fault.path !== 'all' && fault.path !== path)) return null;
    const f = fault;
    if (f.count !== undefined && --f.count <= 0) fault = null;
    return f;
  };

  async function issueIdToken(grant, accessToken) {
    const now = Math.floor(Date.now() / 1000);
    const { kid, foreignKey, ...claimOverrides } = overrides;
    const claims = googleClaims(clientId, now, grant.identity);
    // at_hash: base64url of the left half of SHA-256 of the access token (OIDC Core 3.1.3.6).
    claims.at_hash = b64u(createHash('sha256').update(accessToken).digest().subarray(0, 16));
    if (grant.nonce !== undefined) claims.nonce = grant.nonce;
    for (const [k, v] of Object.entries(claimOverrides)) {
      if (v === undefined) delete claims[k];
      else claims[k] = v;
    }
    const key = foreignKey ? await newKey() : keys[0];
    return mintWith(key, claims, { kid: kid ?? key.kid, key });
  }

  async function handle(req, res) {
    const url = new URL(req.url, `http://${req.headers.host ?? 'localhost'}`);
    const route =
      url.pathname === '/oauth2/v3/certs' ? 'jwks' :
      url.pathname === '/o/oauth2/v2/auth' ? 'auth' :
      url.pathname === '/token' ? 'token' : null;

    if (url.pathname.startsWith('/__control/')) return control(req, res, url.pathname.slice(11));
    if (route === null) return sendJson(res, 404, { error: 'not_found' });
    if (route === 'jwks') stats.jwksFetches++;
    if (route === 'token') stats.tokenRequests++;
    if (route === 'auth') stats.authRequests++;

    const f = faultFor(route);
    if (f?.delayMs) await new Promise((r) => setTimeout(r, f.delayMs));
    if (f?.status) {
      // Google's front ends answer outages with an HTML page.
      res.writeHead(f.status, { 'Content-Type': 'text/html; charset=UTF-8', 'Retry-After': '0' });
      return res.end(`<!DOCTYPE html><title>Error ${f.status}</title>`);
    }

    if (route === 'jwks') {
      if (req.method !== 'GET') return sendJson(res, 405, { error: 'method_not_allowed' });
      return sendJson(res, 200, { keys: keys.map((k) => k.jwk) }, {
        'Cache-Control': `public, max-age=${cacheMaxAge}, must-revalidate, no-transform`,
        Expires: new Date(Date.now() + cacheMaxAge * 1000).toUTCString(),
      });
    }

    if (route === 'auth') {
      const q = url.searchParams;
      const redirect = q.get('redirect_uri');
      if (q.get('client_id') !== clientId) {
        res.writeHead(401, { 'Content-Type': 'text/html; charset=utf-8' });
        return res.end('Error 401: invalid_client. The OAuth client was not found.');
      }
      if (!redirect || q.get('response_type') !== 'code') {
        res.writeHead(400, { 'Content-Type': 'text/html; charset=utf-8' });
        return res.end('Error 400: invalid_request');
      }
      const back = new URL(redirect);
      if (authError) {
        back.searchParams.set('error', authError);
        if (q.has('state')) back.searchParams.set('state', q.get('state'));
      } else {
        const code = `4/0A${b64u(randomBytes(48))}`;
        codes.set(code, {
          redirectUri: redirect,
          nonce: q.get('nonce') ?? undefined,
          challenge: q.get('code_challenge') ?? undefined,
          method: q.get('code_challenge_method') ?? (q.get('code_challenge') ? 'plain' : undefined),
          identity: nextIdentity,
          used: false,
          expires: Date.now() + 600_000,
        });
        if (q.has('state')) back.searchParams.set('state', q.get('state'));
        back.searchParams.set('code', code);
        back.searchParams.set('scope', 'email profile openid https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/userinfo.profile');
        back.searchParams.set('authuser', '0');
        back.searchParams.set('prompt', 'consent');
      }
      res.writeHead(302, { Location: back.toString(), 'Content-Length': 0 });
      return res.end();
    }

    // route === 'token'
    if (req.method !== 'POST') return sendJson(res, 405, { error: 'invalid_request', error_description: 'Method not allowed' });
    if (!/^application\/x-www-form-urlencoded\b/i.test(req.headers['content-type'] ?? '')) {
      return sendJson(res, 400, { error: 'invalid_request', error_description: 'Bad Request' }, NO_STORE);
    }
    const form = new URLSearchParams(await readBody(req));
    const err = (status, error, description) => sendJson(res, status, { error, error_description: description }, NO_STORE);
    if (form.get('grant_type') !== 'authorization_code') return err(400, 'unsupported_grant_type', `Invalid grant_type: ${form.get('grant_type') ?? ''}`);
    if (form.get('client_id') !== clientId) return err(401, 'invalid_client', 'The OAuth client was not found.');
    if (form.get('client_secret') !== clientSecret) return err(401, 'invalid_client', 'Unauthorized');
    const grant = codes.get(form.get('code') ?? '');
    if (!grant || grant.used || grant.expires < Date.now()) {
      if (grant) codes.delete(form.get('code'));
      return err(400, 'invalid_grant', 'Bad Request');
    }
    grant.used = true; // single use, whatever happens next
    if (form.get('redirect_uri') !== grant.redirectUri) return err(400, 'redirect_uri_mismatch', 'Bad Request');
    if (grant.challenge !== undefined) {
      const verifier = form.get('code_verifier');
      if (!verifier) return err(400, 'invalid_grant', 'Missing code verifier.');
      const expect = grant.method === 'S256' ? b64u(createHash('sha256').update(verifier).digest()) : verifier;
      if (expect !== grant.challenge) return err(400, 'invalid_grant', 'Invalid code verifier.');
    }
    const accessToken = `ya29.${b64u(randomBytes(96))}`;
    return sendJson(res, 200, {
      access_token: accessToken,
      expires_in: 3599,
      scope: 'openid https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/userinfo.profile',
      token_type: 'Bearer',
      id_token: await issueIdToken(grant, accessToken),
    }, NO_STORE);
  }

  const api = {
    clientId,
    clientSecret,
    stats,
    setNextIdentity(claims) { nextIdentity = { ...(claims ?? {}) }; },
    setClaimOverrides(o) { overrides = { ...(o ?? {}) }; },
    async rotateKeys() {
      const k = await newKey();
      keys.shift();
      keys.push(k);
      return k.kid;
    },
    setMaxAge(n) { cacheMaxAge = n; },
    setFault(f) { fault = f ? { ...f } : null; },
    setAuthError(e) { authError = e ?? null; },
    currentKids() { return keys.map((k) => k.kid); },
    jwks() { return { keys: keys.map((k) => k.jwk) }; },
    key(i = 0) { return keys[i]; },
    claims(identity = {}) { return googleClaims(clientId, Math.floor(Date.now() / 1000), identity); },
    mint(claims, options = {}) { return mintWith(keys[0], claims, options); },
  };

  async function control(req, res, method) {
    if (method === 'stats') return sendJson(res, 200, { result: { ...stats } });
    const allowed = ['setNextIdentity', 'setClaimOverrides', 'rotateKeys', 'setMaxAge', 'setFault', 'setAuthError',
      'currentKids', 'jwks', 'claims', 'mint'];
    if (req.method !== 'POST' || !allowed.includes(method)) return sendJson(res, 404, { error: 'unknown control' });
    let args;
    try {
      args = JSON.parse((await readBody(req)) || '[]');
    } catch {
      return sendJson(res, 400, { error: 'arguments must be a JSON array' });
    }
    if (!Array.isArray(args)) return sendJson(res, 400, { error: 'arguments must be a JSON array' });
    const result = await api[method](...args);
    return sendJson(res, 200, { result: result ?? null });
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch((e) => {
      if (!res.headersSent) sendJson(res, 500, { error: 'fake_google_bug', message: String(e?.message ?? e) });
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 1000;
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const actual = server.address().port;
  const url = `http://${host}:${actual}`;
  return Object.assign(api, {
    port: actual,
    url,
    jwksUrl: `${url}/oauth2/v3/certs`,
    authUrl: `${url}/o/oauth2/v2/auth`,
    tokenUrl: `${url}/token`,
    close() {
      server.closeAllConnections?.();
      return new Promise((r) => server.close(() => r()));
    },
  });
}

// As a process: print where it listens, serve until SIGTERM/SIGINT.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const i = process.argv.indexOf('--port');
  const g = await startFakeGoogle({ port: i > 0 ? Number(process.argv[i + 1]) : 0 });
  process.stdout.write(`${JSON.stringify({ port: g.port, url: g.url, clientId: g.clientId, clientSecret: g.clientSecret })}\n`);
  const stop = () => g.close().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
