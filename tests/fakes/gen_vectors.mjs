// Writes the RSA and Google ID token test vectors the C unit tests read, made with code we
// did not write (node:crypto, jose), so that our verifier is checked against it:
//   tests/unit/crypto/data/      keys (JWK and PEM), a message and its RS256 signatures
//   tests/unit/providers/data/   a Google-shaped JWKS and ID tokens for a fixed "now"
// Run from anywhere after `npm ci` in tests/e2e:  node tests/fakes/gen_vectors.mjs
// Keys are new on every run, so re-running rewrites every file; commit them together.
import { generateKeyPairSync, sign } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import jose from './jose.mjs';
import { mintWith, newKey, googleClaims } from './google.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const cryptoDir = `${root}unit/crypto/data`;
const provDir = `${root}unit/providers/data`;
mkdirSync(cryptoDir, { recursive: true });
mkdirSync(provDir, { recursive: true });

// ---- RSA --------------------------------------------------------------------------------
const message = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjM0NSJ9'; // raw bytes signed, any text
writeFileSync(`${cryptoDir}/message.txt`, message);

function rsaKey(name, modulusLength, publicExponent = 65537) {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength, publicExponent });
  const jwk = publicKey.export({ format: 'jwk' });
  writeFileSync(`${cryptoDir}/${name}.jwk.json`, `${JSON.stringify({ kty: jwk.kty, n: jwk.n, e: jwk.e })}\n`);
  writeFileSync(`${cryptoDir}/${name}.pem`, publicKey.export({ type: 'spki', format: 'pem' }));
  // RSASSA-PKCS1-v1_5 with SHA-256 (node's default padding for RSA keys).
  writeFileSync(`${cryptoDir}/${name}.sig.hex`, `${sign('sha256', Buffer.from(message), privateKey).toString('hex')}\n`);
}
rsaKey('rsa2048', 2048);
rsaKey('rsa4096', 4096);
rsaKey('rsa2048_e3', 2048, 3);
rsaKey('rsa1024', 1024);
rsaKey('rsa2040', 2040);
{
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  writeFileSync(`${cryptoDir}/ec256.pem`, publicKey.export({ type: 'spki', format: 'pem' }));
  const pss = generateKeyPairSync('rsa-pss', { modulusLength: 2048 });
  writeFileSync(`${cryptoDir}/rsa_pss.pem`, pss.publicKey.export({ type: 'spki', format: 'pem' }));
  // A PKCS#1 "RSA PUBLIC KEY" block (not SubjectPublicKeyInfo, but the same key): accepted.
  const k = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey;
  writeFileSync(`${cryptoDir}/rsa2048_pkcs1.pem`, k.export({ type: 'pkcs1', format: 'pem' }));
  // A certificate-less private key must never load as a public key.
  const priv = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  writeFileSync(`${cryptoDir}/rsa2048_private.pem`, priv.export({ type: 'pkcs8', format: 'pem' }));
}

// ---- Google -----------------------------------------------------------------------------
const NOW = 1700000000;
const CLIENT = 'test-client.apps.googleusercontent.com';
const k1 = await newKey();
const k2 = await newKey();
const k3 = await newKey(); // published only in the rotated set
const foreign = await newKey(); // never published
const ec = await jose.generateKeyPair('ES256', { extractable: true });
const ecJwk = { ...(await jose.exportJWK(ec.publicKey)), kid: 'ec-key', alg: 'ES256', use: 'sig' };
const encJwk = { ...(await newKey()).jwk, kid: 'enc-key', use: 'enc', alg: 'RSA-OAEP' };
const rs384Jwk = { ...(await newKey()).jwk, kid: 'rs384-key', alg: 'RS384' };

writeFileSync(`${provDir}/google_jwks.json`, `${JSON.stringify({ keys: [k1.jwk, ecJwk, encJwk, rs384Jwk, k2.jwk] }, null, 2)}\n`);
writeFileSync(`${provDir}/google_jwks_rotated.json`, `${JSON.stringify({ keys: [k2.jwk, k3.jwk] }, null, 2)}\n`);

const base = (over = {}) => {
  const c = googleClaims(CLIENT, NOW - 60, {
    sub: '110169484474386276334',
    email: 'Alice.Example@Gmail.com',
    name: 'Alice Example',
    locale: 'en',
  });
  for (const [k, v] of Object.entries(over)) {
    if (v === undefined) delete c[k];
    else c[k] = v;
  }
  return c;
};
const m = (claims, opts = {}) => mintWith(k1, claims, opts);

const tokens = {
  good: await m(base()),
  good_kid2: await m(base(), { key: k2 }),
  good_kid3: await m(base(), { key: k3 }),
  good_nonce: await m(base({ nonce: 'n-0S6_WzA2Mj' })),
  iss_bare: await m(base({ iss: 'accounts.google.com' })),
  unverified_email: await m(base({ email_verified: false })),
  email_verified_string: await m(base({ email_verified: 'true' })),
  no_email: await m(base({ email: undefined, email_verified: undefined })),
  wrong_aud: await m(base({ aud: 'other.apps.googleusercontent.com' })),
  wrong_iss: await m(base({ iss: 'https://accounts.google.com.evil.example' })),
  http_iss: await m(base({ iss: 'http://accounts.google.com' })),
  exp_edge_ok: await m(base({ iat: NOW - 3900, exp: NOW - 300 })),
  expired: await m(base({ iat: NOW - 3901, exp: NOW - 301 })),
  iat_edge_ok: await m(base({ iat: NOW + 300, exp: NOW + 3900 })),
  future_iat: await m(base({ iat: NOW + 301, exp: NOW + 3901 })),
  lifetime_edge_ok: await m(base({ iat: NOW - 60, exp: NOW - 60 + 86400 })),
  long_lifetime: await m(base({ iat: NOW - 60, exp: NOW - 60 + 86401 })),
  exp_float: await m(base({ exp: NOW + 3540.5 })),
  exp_string: await m(base({ exp: String(NOW + 3540) })),
  no_exp: await m(base({ exp: undefined })),
  no_iat: await m(base({ iat: undefined })),
  no_sub: await m(base({ sub: undefined })),
  empty_sub: await m(base({ sub: '' })),
  sub_255: await m(base({ sub: '7'.repeat(255) })),
  sub_256: await m(base({ sub: '8'.repeat(256) })),
  aud_array_ok: await m(base({ aud: ['other.apps.googleusercontent.com', CLIENT], azp: CLIENT })),
  aud_array_bad_azp: await m(base({ aud: ['other.apps.googleusercontent.com', CLIENT], azp: 'other.apps.googleusercontent.com' })),
  aud_array_without: await m(base({ aud: ['a.apps.googleusercontent.com', 'b.apps.googleusercontent.com'], azp: CLIENT })),
  locale_zh: await m(base({ locale: 'zh-TW' })),
  locale_fr: await m(base({ locale: 'fr' })),
  name_long: await m(base({ name: '张'.repeat(50) })),
  name_control: await m(base({ name: 'Eve\u0007Bell' })),
  alg_none: await m(base(), { alg: 'none' }),
  hs256_public: await m(base(), { alg: 'HS256-public' }),
  rs384: await m(base(), { alg: 'RS384' }),
  ps256: await m(base(), { alg: 'PS256' }),
  es256: await m(base(), { alg: 'ES256' }),
  no_kid: await m(base(), { kid: null }),
  crit: await m(base(), { header: { crit: ['x-ext'], 'x-ext': 1 }, crit: { 'x-ext': true } }),
  unknown_kid: await m(base(), { key: foreign }),
  bad_sig: await m(base(), { key: foreign, kid: k1.kid }),
  too_large: await m(base({ padding: 'x'.repeat(6500) })),
};
// A payload changed after signing: the signature no longer matches.
{
  const [h, p, s] = tokens.good.split('.');
  const claims = JSON.parse(Buffer.from(p, 'base64url'));
  claims.email = 'mallory@example.com';
  tokens.tampered = `${h}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${s}`;
}
const lines = [`# ID tokens for client ${CLIENT} at now = ${NOW}; kid1 = ${k1.kid}, kid2 = ${k2.kid}, kid3 = ${k3.kid}`];
for (const [name, t] of Object.entries(tokens)) lines.push(`${name} ${t}`);
writeFileSync(`${provDir}/google_tokens.txt`, `${lines.join('\n')}\n`);
console.log(`wrote ${Object.keys(tokens).length} tokens and the keys`);
