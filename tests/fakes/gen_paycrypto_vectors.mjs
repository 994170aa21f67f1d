// Writes the payment cryptography vectors the C unit test tests/unit/crypto/test_paycrypto.c
// reads, made with code we did not write (node:crypto, and the openssl command for the
// certificate), into tests/unit/crypto/data/pay/:
//   rsa2048_pkcs8.pem, rsa2048_pkcs1.pem   one TEST-ONLY private key in both PEM forms
//   rsa2048_pub.pem                        its public key (SubjectPublicKeyInfo)
//   rsa2048_cert.pem, rsa2048_cert.serial  a self-signed certificate for it and its serial
//   rsa2048_cert_short.pem                 the same with a serial starting 0x0F
//   rsa1024_pkcs8.pem, rsa1024_pkcs1.pem   TEST-ONLY weak keys that must be refused
//   ec256_pkcs8.pem                        a TEST-ONLY EC key (not RSA: refused)
//   rsa2048_enc.pem                        the key encrypted with a passphrase (refused)
//   wechat_message.txt, wechat_message.sig.b64   a WeChat Pay v3 signing message and
//                                          node's RSA-SHA256 PKCS#1 v1.5 signature of it
//   gcm_vectors.txt                        AES-256-GCM vectors (createCipheriv), one a line
// Nothing here is a real credential: every private key is made fresh by this script.
// Run from anywhere:  node tests/fakes/gen_paycrypto_vectors.mjs   (needs `openssl` on PATH)
// Keys are new on every run, so re-running rewrites every file; commit them together.
import { createCipheriv, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const dir = fileURLToPath(new URL('../unit/crypto/data/pay', import.meta.url));
mkdirSync(dir, { recursive: true });
const put = (name, text) => writeFileSync(`${dir}/${name}`, text);

// ---- RSA --------------------------------------------------------------------------------
const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
put('rsa2048_pkcs8.pem', privateKey.export({ type: 'pkcs8', format: 'pem' }));
put('rsa2048_pkcs1.pem', privateKey.export({ type: 'pkcs1', format: 'pem' }));
put('rsa2048_pub.pem', publicKey.export({ type: 'spki', format: 'pem' }));
put('rsa2048_enc.pem', privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'test-only' }));
{
  const weak = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey;
  put('rsa1024_pkcs8.pem', weak.export({ type: 'pkcs8', format: 'pem' }));
  put('rsa1024_pkcs1.pem', weak.export({ type: 'pkcs1', format: 'pem' }));
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  put('ec256_pkcs8.pem', ec.export({ type: 'pkcs8', format: 'pem' }));
}

// A self-signed certificate for the key, with a serial shaped like WeChat Pay's (20 octets,
// printed as 40 upper-case hex digits), like a platform certificate.
const serial = '1DDE55AD98ED71D6EDD4A4A16996DE7B47773A8C';
execFileSync('openssl', ['req', '-new', '-x509', '-key', `${dir}/rsa2048_pkcs8.pem`, '-subj', '/CN=Tollgate test platform certificate',
  '-days', '3650', '-sha256', '-set_serial', `0x${serial}`, '-out', `${dir}/rsa2048_cert.pem`]);
put('rsa2048_cert.serial', `${serial}\n`);
// A serial whose first octet is below 0x10: printed without a leading zero, as WeChat Pay's
// SDKs do (Java BigInteger.toString(16), Go %X).
execFileSync('openssl', ['req', '-new', '-x509', '-key', `${dir}/rsa2048_pkcs8.pem`, '-subj', '/CN=Tollgate test short serial',
  '-days', '3650', '-sha256', '-set_serial', '0x0F00000000000000000000000000000000000001', '-out', `${dir}/rsa2048_cert_short.pem`]);

// The WeChat Pay v3 request signing message (PROVIDERS.md 2.1), signed by node.
const body = JSON.stringify({ appid: 'wxd678efh567hg6787', mchid: '1230000109', description: 'Image credits',
  out_trade_no: 'ord_123', notify_url: 'https://example.com/notify', amount: { total: 100, currency: 'CNY' } });
const message = `POST\n/v3/pay/transactions/native\n1700000000\n593BEC0C930BF1AFEB40B4A08C8FB242\n${body}\n`;
put('wechat_message.txt', message);
put('wechat_message.sig.b64', `${sign('sha256', Buffer.from(message), privateKey).toString('base64')}\n`);

// ---- AES-256-GCM ------------------------------------------------------------------------
// Line format: key(utf8) nonce(utf8) aad(hex, "-" when empty) plaintext(hex) ciphertext||tag(base64)
// Key and nonce are printable like WeChat Pay's APIv3 key and resource.nonce.
const alnum = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const text = (n) => Array.from(randomBytes(n), (b) => alnum[b % alnum.length]).join('');
const lines = ['# key nonce aad_hex plaintext_hex ciphertext_and_tag_base64 (node:crypto aes-256-gcm)'];
const gcm = (key, nonce, aad, plain) => {
  const c = createCipheriv('aes-256-gcm', Buffer.from(key), Buffer.from(nonce));
  if (aad.length) c.setAAD(aad);
  const ct = Buffer.concat([c.update(plain), c.final(), c.getAuthTag()]);
  lines.push(`${key} ${nonce} ${aad.length ? aad.toString('hex') : '-'} ${plain.length ? plain.toString('hex') : '-'} ${ct.toString('base64')}`);
};
const notify = JSON.stringify({ mchid: '1230000109', appid: 'wxd678efh567hg6787', out_trade_no: 'ord_456',
  transaction_id: '4200000000202401010000000002', trade_type: 'NATIVE', trade_state: 'SUCCESS', trade_state_desc: '支付成功',
  success_time: '2024-01-01T10:00:00+08:00', payer: { openid: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o' },
  amount: { total: 100, payer_total: 100, currency: 'CNY', payer_currency: 'CNY' } });
gcm(text(32), text(12), Buffer.from('transaction'), Buffer.from(notify));
gcm(text(32), text(12), Buffer.from('refund'), Buffer.from('{"refund_status":"SUCCESS"}'));
gcm(text(32), text(12), Buffer.alloc(0), Buffer.from('no associated data'));
gcm(text(32), text(12), Buffer.from('certificate'), Buffer.alloc(0));
gcm(text(32), text(12), randomBytes(40), randomBytes(1000));
put('gcm_vectors.txt', `${lines.join('\n')}\n`);
console.log(`wrote ${dir}`);
