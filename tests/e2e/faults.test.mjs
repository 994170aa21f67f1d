// Faults: a crash (SIGKILL) in the middle of concurrent admin adjustments, and a full disk.
//
// A. kill -9 during writes. Each round fires 200 concurrent POST /api/v1/admin/users/{id}/credits
//    (+1 and -1 on "paid", each with its own Idempotency-Key and reason), SIGKILLs the server
//    after a random number of answers, restarts it on the same data folder and checks that
//    every answered adjustment is in the ledger exactly once, that retrying all 200 with the
//    same key and body applies each exactly once (a retry of a committed one replays), that the
//    balance is the starting balance plus the applied deltas, and that `tollgate audit` exits 0.
//    TG_FAULT_ROUNDS sets the number of rounds (20).
// B. disk full. The data folder is a small tmpfs (needs root: mount -t tmpfs); with the file
//    system filled up, writes answer 503 "unavailable", /health stays 200, /ready answers 503,
//    failed logins still answer 401 and count their lost audit rows in
//    tollgate_audit_dropped_total; once space returns /ready is 200 again within seconds and the
//    same Idempotency-Keys apply exactly once.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmdirSync, openSync, writeSync, closeSync, unlinkSync, statfsSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Server, invariantTest, assertError, assertStatus, sleep } from './lib/server.mjs';

const LEDGER = '/api/v1/credits/ledger';
const ROUNDS = Number(process.env.TG_FAULT_ROUNDS ?? 20);
const BURST = 200;

/**
 * Ledger entries (newest first) of the user, walking pages of 100 while `keep(entry)` holds;
 * with keep omitted, the whole ledger.
 */
async function ledger(srv, token, keep = () => true) {
  const out = [];
  let cursor = null;
  for (let page = 0; page < 10000; page++) {
    const q = `${LEDGER}?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const r = await srv.get(q, { token });
    assertStatus(r, 200, q);
    for (const e of r.body.data) {
      if (!keep(e)) return out;
      out.push(e);
    }
    cursor = r.body.next_cursor;
    if (cursor === null) return out;
  }
  throw new Error('ledger walk did not end');
}

/** note -> entries with that note. */
function byNote(entries) {
  const m = new Map();
  for (const e of entries) {
    if (!m.has(e.note)) m.set(e.note, []);
    m.get(e.note).push(e);
  }
  return m;
}

async function paidCredits(srv, token) {
  const r = await srv.get('/api/v1/credits', { token });
  assertStatus(r, 200, 'GET /api/v1/credits');
  return r.body.paid_credits;
}

/** The sample value of a metric without labels in Prometheus text, or null when absent. */
function metricValue(text, name) {
  const m = text.match(new RegExp(`^${name} (\\S+)$`, 'm'));
  return m ? Number(m[1]) : null;
}

describe('kill -9 during concurrent admin adjustments', () => {
  let srv;
  let admin;
  let u;
  const tag = randomBytes(4).toString('hex');
  const allReqs = [];
  /** Replays of answers seen before a kill whose status or body differ from that answer. */
  const replayMismatches = [];
  let replaysChecked = 0;

  before(async () => {
    // Rate limits off: thousands of adjustments and ledger pages, and a restart resets them.
    srv = new Server({ env: { TG_RATE_LIMITS: 'off' } });
    await srv.start();
    admin = await srv.admin();
    u = await srv.register({ tag: 'crash' });
    // Each round moves the balance by at most 200, so 20 rounds of -1 cannot reach 0.
    assertStatus(await srv.adjust(admin.token, u.id, 100000, { reason: `crash start ${tag}` }), 200, 'top-up');
  });
  after(() => srv?.cleanup());

  it(`${ROUNDS} rounds: SIGKILL during ${BURST} adjustments; answered ones are durable, retries apply each exactly once, audit exits 0`, async (t) => {
    assert.ok(Number.isInteger(ROUNDS) && ROUNDS >= 1, `TG_FAULT_ROUNDS must be a positive integer, not ${process.env.TG_FAULT_ROUNDS}`);
    for (let round = 1; round <= ROUNDS; round++) {
      const prefix = `crash ${tag} r${round} `;
      const startPaid = await paidCredits(srv, u.token);
      const reqs = Array.from({ length: BURST }, (_, i) => ({
        key: `crash-${tag}-r${round}-${i}`,
        reason: `${prefix}#${i}`,
        delta: Math.random() < 0.5 ? 1 : -1,
      }));
      allReqs.push(...reqs);
      const send = (q) => srv.adjust(admin.token, u.id, q.delta, { reason: q.reason, idempotencyKey: q.key });

      // Kill after a random number of answers (1..BURST-1): some requests are always still
      // in flight, at a different point every round.
      const killAfter = 1 + Math.floor(Math.random() * (BURST - 1));
      const seen = new Map(); // key -> the answer received before the kill
      let answered = 0;
      let failed = 0;
      let killing = null;
      await Promise.all(
        reqs.map((q) =>
          send(q).then(
            (r) => {
              seen.set(q.key, r);
              answered += 1;
              if (answered >= killAfter && !killing) killing = srv.kill9();
            },
            () => {
              failed += 1;
            },
          ),
        ),
      );
      assert.ok(killing, `round ${round}: the kill was not triggered (${answered} answers, ${failed} failures)`);
      const ex = await killing;
      assert.equal(ex.signal, 'SIGKILL', `round ${round}: server exit ${JSON.stringify(ex)}`);
      for (const r of seen.values()) assertStatus(r, 200, `round ${round}: answer before the kill`);

      // The data as the crash left it already satisfies the ledger invariants.
      const crashed = srv.cli(['audit']);
      assert.equal(crashed.code, 0, `round ${round}: tollgate audit after the kill:\n${crashed.stdout}\n${crashed.stderr}`);

      await srv.start();
      const mine = (e) => typeof e.note === 'string' && e.note.startsWith(prefix);
      const committed = byNote(await ledger(srv, u.token, mine));
      const byReason = new Map(reqs.map((q) => [q.reason, q]));
      for (const [note, es] of committed) {
        assert.ok(byReason.has(note), `round ${round}: unexpected ledger note ${note}`);
        assert.equal(es.length, 1, `round ${round}: ${note} is in the ledger ${es.length} times after the restart`);
        assert.equal(es[0].delta, byReason.get(note).delta, `round ${round}: delta of ${note}`);
      }
      for (const q of reqs) {
        const r = seen.get(q.key);
        if (!r) continue;
        const es = committed.get(q.reason);
        assert.ok(es, `round ${round}: ${q.reason} was answered 200 before the kill but is not in the ledger after the restart`);
        assert.equal(es[0].balance_after, r.body.new, `round ${round}: balance_after of ${q.reason} is what its answer said`);
      }

      // Retry all of them, concurrently, with the same key and body.
      const retries = await Promise.all(reqs.map(send));
      for (let i = 0; i < BURST; i++) {
        const q = reqs[i];
        const r = retries[i];
        assertStatus(r, 200, `round ${round}: retry of ${q.reason}`);
        const wasCommitted = committed.has(q.reason);
        assert.equal(
          r.headers.get('idempotent-replayed'),
          wasCommitted ? 'true' : null,
          `round ${round}: retry of ${q.reason} (${wasCommitted ? 'in' : 'not in'} the ledger after the restart): idempotent-replayed header`,
        );
        const first = seen.get(q.key);
        if (first) {
          replaysChecked += 1;
          if (r.status !== first.status || JSON.stringify(r.body) !== JSON.stringify(first.body)) {
            replayMismatches.push(`round ${round} ${q.key}: first ${first.status} ${first.text} / replay ${r.status} ${r.text}`);
          }
        }
      }

      const after = byNote(await ledger(srv, u.token, mine));
      for (const q of reqs) {
        const es = after.get(q.reason) ?? [];
        assert.equal(es.length, 1, `round ${round}: ${q.reason} is in the ledger ${es.length} times after the retries`);
        assert.equal(es[0].delta, q.delta, `round ${round}: delta of ${q.reason}`);
      }
      assert.equal(after.size, BURST, `round ${round}: ledger entries of this round`);
      const sum = reqs.reduce((s, q) => s + q.delta, 0);
      assert.equal(await paidCredits(srv, u.token), startPaid + sum, `round ${round}: balance = start ${startPaid} + applied deltas ${sum}`);
      const audit = srv.cli(['audit']);
      assert.equal(audit.code, 0, `round ${round}: tollgate audit:\n${audit.stdout}\n${audit.stderr}`);
      t.diagnostic(
        `round ${round}: killed after ${killAfter} answers; ${seen.size} answered, ${failed} cut off, ` +
          `${committed.size} committed before the kill, ${BURST - committed.size} applied by the retry`,
      );
    }
  });

  it('a retry of an answered adjustment replays the first answer: same status, same body', () => {
    assert.ok(replaysChecked > 0, 'no adjustment was answered before a kill: nothing was checked');
    assert.deepEqual(replayMismatches.slice(0, 5), [], `${replayMismatches.length} of ${replaysChecked} replays differ from the first answer`);
  });

  it('the whole ledger: every adjustment of every round exactly once, deltas sum to the balance', async () => {
    const all = await ledger(srv, u.token);
    const notes = byNote(all);
    for (const q of allReqs) assert.equal(notes.get(q.reason)?.length ?? 0, 1, `${q.reason} in the ledger`);
    const paid = all.filter((e) => e.bucket === 'paid').reduce((s, e) => s + e.delta, 0);
    assert.equal(paid, await paidCredits(srv, u.token), 'sum of paid deltas = paid balance');
  });

  invariantTest(() => srv);
});

/** Mounts a tmpfs of `size` on a new folder; returns the folder. Throws when mount fails. */
function mountTmpfs(size) {
  const dir = mkdtempSync(path.join(tmpdir(), 'tollgate-e2e-full-'));
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', dir], { encoding: 'utf8' });
  if (r.status !== 0) {
    rmdirSync(dir);
    throw new Error(
      `the disk-full tests need a small tmpfs and could not mount one (run them as root): ` +
        `mount -t tmpfs -o size=${size} tmpfs ${dir} -> ${r.error ?? `exit ${r.status}`} ${r.stderr}`,
    );
  }
  return dir;
}

async function unmount(dir) {
  let r;
  for (let i = 0; i < 50; i++) {
    r = spawnSync('umount', [dir], { encoding: 'utf8' });
    if (r.status === 0) {
      rmdirSync(dir);
      return;
    }
    await sleep(100);
  }
  throw new Error(`umount ${dir} failed: ${r.stderr}`);
}

/**
 * The data folder's files and sizes, for failure messages: SQLite appends to the -wal file, so
 * a write only needs new blocks once it goes past the blocks that file already holds.
 */
function folderSizes(dir) {
  return readdirSync(dir)
    .map((f) => `${f}=${statSync(path.join(dir, f)).size}`)
    .join(', ');
}

/** Writes `file` until the file system answers ENOSPC, down to the last byte; returns its size. */
function fillUp(file) {
  const fd = openSync(file, 'w');
  let total = 0;
  try {
    for (const size of [1 << 20, 64 << 10, 4096, 512, 1]) {
      const buf = Buffer.alloc(size, 0x5a);
      for (;;) {
        let n;
        try {
          n = writeSync(fd, buf);
        } catch (e) {
          if (e.code === 'ENOSPC') break;
          throw e;
        }
        total += n;
        if (n < size) break;
      }
    }
  } finally {
    closeSync(fd);
  }
  return total;
}

describe('disk full: 503 on writes, /ready 503, dropped audit rows counted, recovery', () => {
  let dir;
  let srv;
  let admin;
  let u;
  let filler;
  const tag = randomBytes(4).toString('hex');
  // Deltas of the adjustments attempted while the disk is full, each with its own key.
  const attempts = [5, -3, 7, -2, 11, -4].map((delta, i) => ({ key: `full-${tag}-${i}`, reason: `full ${tag} #${i}`, delta }));
  let paidBefore;

  before(async () => {
    dir = mountTmpfs('8m');
    filler = path.join(dir, 'filler');
    srv = new Server({ dataDir: dir });
    await srv.start();
    admin = await srv.admin();
    u = await srv.register({ tag: 'full' });
    assertStatus(await srv.adjust(admin.token, u.id, 1000, { reason: `full top-up ${tag}` }), 200, 'top-up');
    paidBefore = await paidCredits(srv, u.token);
  });
  after(async () => {
    if (srv?.proc && !srv.exit) {
      srv.proc.kill('SIGKILL');
      await srv.exited;
    }
    if (dir) await unmount(dir);
  });

  it('the data folder fills up (a filler file up to ENOSPC)', () => {
    const n = fillUp(filler);
    const st = statfsSync(dir);
    assert.ok(n > 0, 'the filler file got some bytes');
    assert.equal(st.bavail, 0, `no block left on the tmpfs after a ${n}-byte filler`);
  });

  it('admin adjustments answer 503 "unavailable" with the error envelope (sequential and concurrent)', async () => {
    const [a0, a1, ...rest] = attempts;
    for (const q of [a0, a1]) {
      const r = await srv.adjust(admin.token, u.id, q.delta, { reason: q.reason, idempotencyKey: q.key, expect503: true });
      assertError(r, 503, 'unavailable', `disk full (${folderSizes(dir)}): ${q.reason}`);
    }
    const rs = await Promise.all(
      rest.map((q) => srv.adjust(admin.token, u.id, q.delta, { reason: q.reason, idempotencyKey: q.key, expect503: true })),
    );
    for (const r of rs) assertError(r, 503, 'unavailable', `disk full (${folderSizes(dir)}), concurrent`);
  });

  it('failed logins keep answering 401; their lost audit rows count in tollgate_audit_dropped_total', async () => {
    const m0 = await srv.get('/metrics');
    assertStatus(m0, 200);
    for (let i = 0; i < 3; i++) {
      const r = await srv.post('/api/v1/auth/login', { email: u.email, password: `${u.password}-wrong` });
      assertError(r, 401, 'invalid_credentials', `disk full: failed login ${i}`);
    }
    assert.equal(srv.exit, null, 'the server is still running');
    assert.ok(/^# TYPE tollgate_audit_dropped_total counter$/m.test(m0.text), 'GET /metrics has a counter tollgate_audit_dropped_total');
    const before0 = metricValue(m0.text, 'tollgate_audit_dropped_total');
    assert.ok(Number.isInteger(before0) && before0 >= 0, `tollgate_audit_dropped_total has a value: ${before0}`);
    // The audit row may be given up after the answer: wait for the counter to settle.
    let dropped = null;
    for (let i = 0; i < 50; i++) {
      const m = await srv.get('/metrics');
      assertStatus(m, 200);
      dropped = metricValue(m.text, 'tollgate_audit_dropped_total');
      if (dropped >= before0 + 3) break;
      await sleep(100);
    }
    assert.equal(dropped - before0, 3, 'one dropped audit row per failed login');
    assertStatus(await srv.get('/health'), 200);
  });

  it('signing in (which stores a refresh token) answers 503 "unavailable"', async () => {
    const r = await srv.req('POST', '/api/v1/auth/login', { json: { email: u.email, password: u.password }, expect503: true });
    assertError(r, 503, 'unavailable', 'disk full: login with the right password');
  });

  it('GET /health answers 200 and GET /ready 503 while the database cannot write', async () => {
    assertStatus(await srv.get('/health'), 200, 'disk full');
    assertError(await srv.get('/ready'), 503, 'unavailable', 'disk full');
  });

  it('space returns: /ready 200 within 5 s, the same keys apply exactly once, audit exits 0', async () => {
    unlinkSync(filler);
    const t0 = Date.now();
    let ready;
    do {
      ready = await srv.get('/ready');
      if (ready.status === 200) break;
      await sleep(100);
    } while (Date.now() - t0 < 5000);
    assertStatus(ready, 200, `/ready ${Date.now() - t0} ms after the filler was deleted`);

    // A 503 applied nothing.
    const mine = (e) => e.note.startsWith(`full ${tag} #`);
    assert.deepEqual((await ledger(srv, u.token)).filter(mine), [], 'no adjustment answered 503 is in the ledger');
    assert.equal(await paidCredits(srv, u.token), paidBefore, 'balance unchanged by the 503s');

    const firsts = await Promise.all(attempts.map((q) => srv.adjust(admin.token, u.id, q.delta, { reason: q.reason, idempotencyKey: q.key })));
    for (const [i, r] of firsts.entries()) {
      assertStatus(r, 200, `retry of ${attempts[i].reason} after recovery`);
      assert.equal(r.headers.get('idempotent-replayed'), null, `${attempts[i].reason}: a first application, not a replay`);
    }
    const replays = await Promise.all(attempts.map((q) => srv.adjust(admin.token, u.id, q.delta, { reason: q.reason, idempotencyKey: q.key })));
    for (const [i, r] of replays.entries()) {
      assertStatus(r, 200, `second retry of ${attempts[i].reason}`);
      assert.equal(r.headers.get('idempotent-replayed'), 'true', `${attempts[i].reason}: replayed`);
    }
    const notes = byNote((await ledger(srv, u.token)).filter(mine));
    for (const q of attempts) assert.equal(notes.get(q.reason)?.length ?? 0, 1, `${q.reason} in the ledger exactly once`);
    const sum = attempts.reduce((s, q) => s + q.delta, 0);
    assert.equal(await paidCredits(srv, u.token), paidBefore + sum, 'balance = before + the deltas, once each');

    await srv.login(u.email, u.password);
    assertStatus(await srv.get('/health'), 200);
    const audit = srv.cli(['audit']);
    assert.equal(audit.code, 0, `tollgate audit:\n${audit.stdout}\n${audit.stderr}`);
  });

  invariantTest(() => srv);
});
