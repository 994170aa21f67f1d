// bench/webhooks-gen.mjs - the notifications bench/webhooks.sh sends, and the checks after a run.
//
//   node bench/webhooks-gen.mjs keys DIR
//       writes a WeChat Pay merchant key (apiclient_key.pem) and a platform key pair
//       (platform_key.pem, platform_pub.pem) into DIR: RSA 2048, as WeChat Pay issues them.
//
//   node bench/webhooks-gen.mjs prepare --provider P --db FILE --user ID --count N
//                                       --threads T --mode unique|dup [--gap G] --out DIR
//       inserts N pending orders of P for user ID into the SQLite database FILE (as
//       POST /api/v1/orders leaves them once the checkout exists), then writes one signed
//       notification per order, exactly as the provider sends it, into DIR/thread-<t>.req
//       (t = 1..T; order i goes to thread 1 + i % T). In `dup` mode every notification is
//       written twice: each run of G notifications is followed by the same G again, so a
//       duplicate arrives while its first delivery may still be in flight.
//
//   node bench/webhooks-gen.mjs settle --provider P --db FILE --dir DIR --sent FILE
//                                      --url URL --max M
//       after a wrk run: the notifications wrk sent (FILE: "<thread> <sent>" lines written by
//       bench/webhooks.lua) whose order is still pending were in flight when wrk stopped and
//       never read by the server. They are delivered again (each must be answered 200); more
//       than M of them fails. Then prints the counts the script checks, as JSON.
//
// Signatures are the providers' real schemes, made with the providers' npm SDKs where they
// sign (tests/e2e/node_modules: run `npm ci` there):
//   stripe     Stripe-Signature from stripe.webhooks.generateTestHeaderString over the event
//              as Stripe sends it (pretty-printed JSON), keyed with TG_STRIPE_WEBHOOK_SECRET
//              (BENCH_STRIPE_WEBHOOK_SECRET here);
//   wechatpay  TRANSACTION.SUCCESS, its resource AES-256-GCM encrypted with the APIv3 key
//              (wechatpay-axios-plugin's Aes.AesGcm), Wechatpay-Timestamp/-Nonce/-Signature/
//              -Serial signed with the platform private key over "ts\nnonce\nbody\n"
//              (its Rsa.sign and Formatter.response), serial = the public key's id;
//   sandbox    Tollgate-Sandbox-Signature (providers/pay/sandbox.h).
// Every timestamp is the time of signing: a run must start within the providers' 300 s
// tolerance of it (the script prepares each run just before it).

import { spawnSync } from 'node:child_process';
import { createHmac, generateKeyPairSync, createPrivateKey, randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, openSync, readFileSync, writeSync, closeSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

const requireE2e = createRequire(new URL('../tests/e2e/package.json', import.meta.url));
function sdk(name) {
  try {
    return requireE2e(name);
  } catch (e) {
    throw new Error(`bench/webhooks-gen.mjs needs ${name} from tests/e2e: run "npm ci" in tests/e2e (${e.message})`);
  }
}

// The provider settings bench/webhooks.sh gives the server (never real credentials).
const env = (k, d) => process.env[k] ?? d;
const STRIPE_SECRET = () => env('BENCH_STRIPE_WEBHOOK_SECRET', 'whsec_bench_0123456789abcdefABCDEF');
const SANDBOX_SECRET = () => env('BENCH_SANDBOX_WEBHOOK_SECRET', 'bench-sandbox-secret-0123456789abcdef');
const WXP = () => ({
  mchid: env('BENCH_WECHATPAY_MCHID', '1900009191'),
  appid: env('BENCH_WECHATPAY_APPID', 'wxd678efh567hg6787'),
  apiv3Key: env('BENCH_WECHATPAY_APIV3_KEY', 'bench0apiv3key0123456789abcdefAB'),
  keyId: env('BENCH_WECHATPAY_PLATFORM_KEY_ID', 'PUB_KEY_ID_0119000000000000000000000001'),
  keyFile: env('BENCH_WECHATPAY_PLATFORM_PRIVATE_KEY_FILE', ''),
});

const PRODUCTS = {
  stripe: { amount: 990, currency: 'USD', region: 'GLOBAL' },
  sandbox: { amount: 990, currency: 'USD', region: 'GLOBAL' },
  wechatpay: { amount: 6800, currency: 'CNY', region: 'CN' },
};
const CREDITS = 115;

// ---- ids -------------------------------------------------------------------------------------

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
/** A Tollgate id ("ord_" + 26 Crockford base32 characters, time first, as core/ids.c makes). */
function tgId(prefix, ms, seq) {
  let t = '';
  for (let v = BigInt(ms), i = 0; i < 10; i++, v >>= 5n) t = CROCKFORD[Number(v & 31n)] + t;
  const r = randomBytes(16);
  let tail = '';
  for (let i = 0; i < 16; i++) tail += CROCKFORD[r[i] & 31];
  // The sequence number keeps ids made within one millisecond in order and distinct.
  const s = seq.toString(32).toUpperCase().padStart(6, '0').split('').map((c) => CROCKFORD[parseInt(c, 32)]).join('');
  return `${prefix}_${t}${s}${tail.slice(6)}`;
}
const alnum = (n) => {
  const r = randomBytes(n);
  const a = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  let s = '';
  for (let i = 0; i < n; i++) s += a[r[i] % 62];
  return s;
};
const digits = (n) => Array.from(randomBytes(n), (b) => String(b % 10)).join('');
/** RFC 3339 in China's time, as WeChat Pay writes times. */
function cnTime(ms) {
  const d = new Date(ms + 8 * 3600 * 1000);
  return d.toISOString().replace(/\.\d{3}Z$/, '+08:00');
}

// ---- arguments -------------------------------------------------------------------------------

function args(argv) {
  const o = {};
  for (let i = 0; i < argv.length; i++) {
    if (!argv[i].startsWith('--')) throw new Error(`unexpected argument ${argv[i]}`);
    o[argv[i].slice(2)] = argv[++i];
  }
  return o;
}
function need(o, ...keys) {
  for (const k of keys) if (o[k] === undefined) throw new Error(`--${k} is required`);
}

// ---- sqlite ----------------------------------------------------------------------------------

function sqlite(db, sql, { json = false } = {}) {
  const r = spawnSync('sqlite3', [...(json ? ['-json'] : []), '-bail', db], {
    input: `.timeout 30000\n${sql}`,
    encoding: 'utf8',
    maxBuffer: 1 << 30,
  });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`sqlite3 failed (${r.status}): ${r.stderr.slice(0, 500)}`);
  if (!json) return r.stdout;
  return r.stdout.trim() === '' ? [] : JSON.parse(r.stdout);
}
const q = (s) => (s === null || s === undefined ? 'NULL' : `'${String(s).replace(/'/g, "''")}'`);

// ---- notifications ---------------------------------------------------------------------------

function stripeEvent(o, now) {
  const created = Math.floor(now / 1000);
  const session = {
    id: o.ref,
    object: 'checkout.session',
    after_expiration: null,
    allow_promotion_codes: null,
    amount_subtotal: o.amount,
    amount_total: o.amount,
    automatic_tax: { enabled: false, liability: null, status: null },
    billing_address_collection: null,
    cancel_url: 'https://tollgate.example.com/pay/cancel',
    client_reference_id: o.id,
    client_secret: null,
    consent: null,
    consent_collection: null,
    created: created - 60,
    currency: o.currency.toLowerCase(),
    currency_conversion: null,
    custom_fields: [],
    custom_text: { after_submit: null, shipping_address: null, submit: null, terms_of_service_acceptance: null },
    customer: null,
    customer_creation: 'if_required',
    customer_details: {
      address: { city: null, country: 'US', line1: null, line2: null, postal_code: '94107', state: null },
      email: 'buyer@example.com',
      name: 'Jenny Rosen',
      phone: null,
      tax_exempt: 'none',
      tax_ids: [],
    },
    customer_email: 'buyer@example.com',
    expires_at: created + 3600,
    invoice: null,
    invoice_creation: { enabled: false, invoice_data: { account_tax_ids: null, custom_fields: null, description: null, footer: null, issuer: null, metadata: {}, rendering_options: null } },
    livemode: false,
    locale: null,
    metadata: { order_id: o.id },
    mode: 'payment',
    payment_intent: `pi_${alnum(24)}`,
    payment_link: null,
    payment_method_collection: 'if_required',
    payment_method_configuration_details: null,
    payment_method_options: { card: { request_three_d_secure: 'automatic' } },
    payment_method_types: ['card'],
    payment_status: 'paid',
    phone_number_collection: { enabled: false },
    recovered_from: null,
    saved_payment_method_options: null,
    setup_intent: null,
    shipping_address_collection: null,
    shipping_cost: null,
    shipping_details: null,
    shipping_options: [],
    status: 'complete',
    submit_type: null,
    subscription: null,
    success_url: `https://tollgate.example.com/api/v1/orders/${o.id}/return`,
    total_details: { amount_discount: 0, amount_shipping: 0, amount_tax: 0 },
    ui_mode: 'hosted',
    url: null,
  };
  const ev = {
    id: `evt_${alnum(24)}`,
    object: 'event',
    api_version: '2024-06-20',
    created,
    data: { object: session },
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type: 'checkout.session.completed',
  };
  // Stripe sends events pretty-printed with two spaces (as stripe-node's test helpers do).
  return JSON.stringify(ev, null, 2);
}

function wechatpayPlain(o, w, now) {
  return JSON.stringify({
    mchid: w.mchid,
    appid: w.appid,
    out_trade_no: o.id,
    transaction_id: `4200002${digits(21)}`,
    trade_type: 'NATIVE',
    trade_state: 'SUCCESS',
    trade_state_desc: '支付成功',
    bank_type: 'OTHERS',
    attach: '',
    success_time: cnTime(now),
    payer: { openid: `oUpF8u${alnum(22)}` },
    amount: { total: o.amount, payer_total: o.amount, currency: o.currency, payer_currency: o.currency },
  });
}

/** Signs a slice of orders; returns [{id, headers: [[name, value]...], body}]. */
function signSlice(provider, orders, w) {
  const out = [];
  if (provider === 'stripe') {
    const Stripe = sdk('stripe');
    const stripe = new Stripe('sk_test_bench_signer');
    const secret = STRIPE_SECRET();
    for (const o of orders) {
      const now = Date.now();
      const payload = stripeEvent(o, now);
      const sig = stripe.webhooks.generateTestHeaderString({ payload, secret, timestamp: Math.floor(now / 1000) });
      out.push({
        id: o.id,
        headers: [
          ['Content-Type', 'application/json; charset=utf-8'],
          ['User-Agent', 'Stripe/1.0 (+https://stripe.com/docs/webhooks)'],
          ['Stripe-Signature', sig],
        ],
        body: payload,
      });
    }
  } else if (provider === 'wechatpay') {
    const { Rsa, Aes, Formatter } = sdk('wechatpay-axios-plugin');
    const key = createPrivateKey(readFileSync(w.keyFile));
    for (const o of orders) {
      const now = Date.now();
      const iv = alnum(12);
      const body = JSON.stringify({
        id: randomUUID(),
        create_time: cnTime(now),
        resource_type: 'encrypt-resource',
        event_type: 'TRANSACTION.SUCCESS',
        summary: '支付成功',
        resource: {
          original_type: 'transaction',
          algorithm: 'AEAD_AES_256_GCM',
          ciphertext: Aes.AesGcm.encrypt(wechatpayPlain(o, w, now), w.apiv3Key, iv, 'transaction'),
          associated_data: 'transaction',
          nonce: iv,
        },
      });
      const ts = String(Math.floor(now / 1000));
      const nonce = Formatter.nonce(32);
      out.push({
        id: o.id,
        headers: [
          ['Content-Type', 'application/json'],
          ['User-Agent', 'Mozilla/4.0'],
          ['Wechatpay-Nonce', nonce],
          ['Wechatpay-Serial', w.keyId],
          ['Wechatpay-Signature', Rsa.sign(Formatter.response(ts, nonce, body), key)],
          ['Wechatpay-Signature-Type', 'WECHATPAY2-SHA256-RSA2048'],
          ['Wechatpay-Timestamp', ts],
        ],
        body,
      });
    }
  } else if (provider === 'sandbox') {
    const key = createHmac('sha256', SANDBOX_SECRET()).update('tollgate sandbox payments v1').digest();
    for (const o of orders) {
      const t = Math.floor(Date.now() / 1000);
      const body = JSON.stringify({
        amount: o.amount,
        created: t,
        currency: o.currency,
        id: `sbx_evt_${alnum(26)}`,
        order_id: o.id,
        type: 'payment.succeeded',
      });
      const mac = createHmac('sha256', key).update(`${t}.${body}`).digest('hex');
      out.push({ id: o.id, headers: [['Content-Type', 'application/json'], ['Tollgate-Sandbox-Signature', `t=${t},v1=${mac}`]], body });
    }
  } else {
    throw new Error(`unknown provider ${provider}`);
  }
  return out;
}

/** Signs all orders, on as many worker threads as there are cores (RSA signing is the cost). */
async function signAll(provider, orders) {
  const w = WXP();
  const n = provider === 'wechatpay' ? Math.max(1, Math.min(os.availableParallelism(), 4)) : 1;
  if (n === 1) return signSlice(provider, orders, w);
  const per = Math.ceil(orders.length / n);
  const parts = await Promise.all(
    Array.from({ length: n }, (_, k) => new Promise((resolve, reject) => {
      const wk = new Worker(new URL(import.meta.url), { workerData: { provider, orders: orders.slice(k * per, (k + 1) * per), w } });
      wk.once('message', resolve);
      wk.once('error', reject);
      wk.once('exit', (c) => c !== 0 && reject(new Error(`signing worker exited ${c}`)));
    })),
  );
  return parts.flat();
}

// Record format (bench/webhooks.lua reads it): a line "<index> <order id> <headers> <body bytes>",
// then one "Name: value" line per header, then the body's bytes and a newline.
function writeThreadFiles(dir, threads, signed, mode, gap) {
  mkdirSync(dir, { recursive: true });
  const per = Array.from({ length: threads }, () => []);
  signed.forEach((n, i) => per[i % threads].push([i, n]));
  let requests = 0;
  for (let t = 0; t < threads; t++) {
    const fd = openSync(path.join(dir, `thread-${t + 1}.req`), 'w');
    const emit = ([i, n]) => {
      const body = Buffer.from(n.body, 'utf8');
      const head = `${i} ${n.id} ${n.headers.length} ${body.length}\n` + n.headers.map(([k, v]) => `${k}: ${v}\n`).join('');
      writeSync(fd, head);
      writeSync(fd, body);
      writeSync(fd, '\n');
      requests++;
    };
    const list = per[t];
    if (mode === 'dup') {
      for (let s = 0; s < list.length; s += gap) {
        const block = list.slice(s, s + gap);
        block.forEach(emit);
        block.forEach(emit);
      }
    } else {
      list.forEach(emit);
    }
    closeSync(fd);
  }
  return requests;
}

function readThreadFile(file, limit) {
  const buf = readFileSync(file);
  const recs = [];
  let p = 0;
  while (p < buf.length && recs.length < limit) {
    let nl = buf.indexOf(10, p);
    const [idx, id, nh, blen] = buf.toString('utf8', p, nl).split(' ');
    p = nl + 1;
    const headers = {};
    for (let h = 0; h < Number(nh); h++) {
      nl = buf.indexOf(10, p);
      const line = buf.toString('utf8', p, nl);
      const c = line.indexOf(': ');
      headers[line.slice(0, c)] = line.slice(c + 2);
      p = nl + 1;
    }
    const body = buf.subarray(p, p + Number(blen));
    p += Number(blen) + 1;
    recs.push({ idx: Number(idx), id, headers, body });
  }
  return recs;
}

function post(url, headers, body) {
  return new Promise((resolve) => {
    const req = http.request(url, { method: 'POST', agent: false, timeout: 15000, headers: { ...headers, 'Content-Length': body.length } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve({ status: 0, body: String(e.message) }));
    req.end(body);
  });
}

// ---- commands --------------------------------------------------------------------------------

function cmdKeys(dir) {
  mkdirSync(dir, { recursive: true });
  const merchant = generateKeyPairSync('rsa', { modulusLength: 2048 });
  writeFileSync(path.join(dir, 'apiclient_key.pem'), merchant.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  const platform = generateKeyPairSync('rsa', { modulusLength: 2048 });
  writeFileSync(path.join(dir, 'platform_key.pem'), platform.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  writeFileSync(path.join(dir, 'platform_pub.pem'), platform.publicKey.export({ type: 'spki', format: 'pem' }));
}

async function cmdPrepare(o) {
  need(o, 'provider', 'db', 'user', 'count', 'threads', 'mode', 'out');
  const provider = o.provider;
  const prod = PRODUCTS[provider];
  if (!prod) throw new Error(`unknown provider ${provider}`);
  const count = Number(o.count);
  const threads = Number(o.threads);
  const gap = Number(o.gap ?? 16);
  if (!(count > 0 && threads > 0 && gap > 0)) throw new Error('--count, --threads and --gap must be positive');
  if (o.mode !== 'unique' && o.mode !== 'dup') throw new Error('--mode is unique or dup');

  // 1. the orders, pending, as the orders API leaves them once the checkout was created
  const t0 = Date.now();
  const orders = [];
  const rows = [];
  for (let i = 0; i < count; i++) {
    const id = tgId('ord', t0, i);
    const ref = provider === 'stripe' ? `cs_test_${alnum(58)}` : null;
    const checkout = provider === 'wechatpay' ? { code_url: `weixin://wxpay/bizpayurl?pr=${alnum(7)}` } : { url: provider === 'stripe' ? `https://checkout.stripe.com/c/pay/${ref}` : `http://127.0.0.1/sandbox/checkout/${id}` };
    orders.push({ id, ref, amount: prod.amount, currency: prod.currency });
    rows.push(`(${q(id)},${q(o.user)},'credits_115','pack',${CREDITS},${prod.amount},${q(prod.currency)},${q(provider)},${q(ref)},'pending',${q(prod.region)},${q(JSON.stringify(checkout))},${t0},${t0},${t0 + 2 * 3600 * 1000},${provider === 'wechatpay' ? "'native'" : 'NULL'})`);
  }
  const cols = 'id,user_id,product,kind,credits,amount,currency,provider,provider_ref,status,region,checkout,created_at,updated_at,expires_at,channel';
  let sql = 'BEGIN;\n';
  for (let i = 0; i < rows.length; i += 500) sql += `INSERT INTO orders (${cols}) VALUES\n${rows.slice(i, i + 500).join(',\n')};\n`;
  sql += 'COMMIT;\n';
  // The orders' pages go from the WAL into the database now, while the server idles, rather
  // than in a checkpoint during the run.
  sql += 'PRAGMA wal_checkpoint(TRUNCATE);\n';
  sqlite(o.db, sql);
  const seeded = Date.now();

  // 2. one signed notification per order
  const signed = await signAll(provider, orders);
  const signedAt = Date.now();
  const requests = writeThreadFiles(o.out, threads, signed, o.mode, gap);
  process.stdout.write(JSON.stringify({
    provider, mode: o.mode, orders: count, requests,
    seed_s: (seeded - t0) / 1000, sign_s: (signedAt - seeded) / 1000, write_s: (Date.now() - signedAt) / 1000,
    first_signed_ms: seeded,
  }) + '\n');
}

async function cmdSettle(o) {
  need(o, 'provider', 'db', 'dir', 'sent', 'url', 'max');
  const sent = readFileSync(o.sent, 'utf8').trim().split('\n').filter(Boolean).map((l) => l.split(' ').map(Number));
  const delivered = new Map(); // order id -> a record to deliver again
  let sentRequests = 0;
  for (const [t, n] of sent) {
    sentRequests += n;
    for (const r of readThreadFile(path.join(o.dir, `thread-${t}.req`), n)) if (!delivered.has(r.id)) delivered.set(r.id, r);
  }
  const pending = new Set(sqlite(o.db, `SELECT id FROM orders WHERE provider = ${q(o.provider)} AND status = 'pending';`, { json: true }).map((r) => r.id));
  const lost = [...delivered.values()].filter((r) => pending.has(r.id));
  const bad = [];
  if (lost.length <= Number(o.max)) {
    for (const r of lost) {
      const a = await post(o.url, r.headers, r.body);
      if (a.status !== 200) bad.push(`${r.id}: ${a.status} ${a.body.slice(0, 200)}`);
    }
  }
  const ids = [...delivered.keys()];
  const inList = (col) => {
    // The delivered ids go through a temporary table: far too many for one IN (...) list.
    let s = 'CREATE TEMP TABLE d (id TEXT PRIMARY KEY) WITHOUT ROWID;\n';
    for (let i = 0; i < ids.length; i += 500) s += `INSERT INTO d VALUES ${ids.slice(i, i + 500).map((x) => `(${q(x)})`).join(',')};\n`;
    return s + col;
  };
  const [counts] = sqlite(o.db, inList(`SELECT
      (SELECT count(*) FROM orders o JOIN d ON d.id = o.id WHERE o.status = 'paid') AS paid_delivered,
      (SELECT count(*) FROM orders o JOIN d ON d.id = o.id WHERE o.status <> 'paid') AS unpaid_delivered,
      (SELECT count(*) FROM orders WHERE provider = ${q(o.provider)} AND status = 'paid') AS paid_all,
      (SELECT count(*) FROM ledger l JOIN d ON d.id = l.ref_id WHERE l.kind = 'purchase' AND l.ref_type = 'order') AS purchases_delivered,
      (SELECT count(*) FROM ledger l JOIN orders o ON o.id = l.ref_id WHERE l.kind = 'purchase' AND l.ref_type = 'order' AND o.provider = ${q(o.provider)}) AS purchases_all,
      (SELECT count(*) FROM (SELECT ref_id FROM ledger WHERE kind = 'purchase' AND ref_type = 'order' GROUP BY ref_id HAVING count(*) > 1)) AS double_purchases,
      (SELECT count(*) FROM d WHERE (SELECT count(*) FROM ledger l WHERE l.kind = 'purchase' AND l.ref_type = 'order' AND l.ref_id = d.id) <> 1) AS orders_without_one_purchase,
      (SELECT count(*) FROM payment_events e JOIN d ON d.id = e.order_id WHERE e.provider = ${q(o.provider)} AND e.outcome = 'fulfilled') AS inbox_fulfilled,
      (SELECT coalesce(sum(l.delta), 0) FROM ledger l JOIN d ON d.id = l.ref_id WHERE l.kind = 'purchase' AND l.ref_type = 'order') AS credits_granted;`), { json: true });
  process.stdout.write(JSON.stringify({
    sent_requests: sentRequests,
    delivered_events: delivered.size,
    redelivered: lost.length <= Number(o.max) ? lost.length : 0,
    lost_in_flight: lost.length,
    redeliver_failures: bad,
    ...counts,
  }) + '\n');
}

// ---- main ------------------------------------------------------------------------------------

if (!isMainThread) {
  parentPort.postMessage(signSlice(workerData.provider, workerData.orders, workerData.w));
} else {
  const [cmd, ...rest] = process.argv.slice(2);
  try {
    if (cmd === 'keys' && rest.length === 1) cmdKeys(rest[0]);
    else if (cmd === 'prepare') await cmdPrepare(args(rest));
    else if (cmd === 'settle') await cmdSettle(args(rest));
    else throw new Error('usage: webhooks-gen.mjs keys DIR | prepare --provider ... | settle --provider ...');
  } catch (e) {
    process.stderr.write(`webhooks-gen: ${e.message}\n`);
    process.exit(1);
  }
}
