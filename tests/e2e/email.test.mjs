// Email verification and password reset (DESIGN section 5): mails over real SMTP to a sink
// (tests/fakes/smtp.mjs) and into the outbox folder, in the user's language; signup credits
// only for verified addresses; reset requests that do not tell whether an account exists;
// a reset that ends every session; refused mail counted, never failing a request.
//
// Token expiry is tested in tests/unit/domain/test_email.c, where time is an argument: the
// server's clock cannot be moved from here and the shortest lifetime is a minute.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { start as startSink } from '../fakes/smtp.mjs';
import { parseMail, tokenOf, lineProblems, readOutbox } from './lib/mail.mjs';
import {
  startServer, invariantTest, assertError, assertStatus, uniqueEmail, strongPassword, runUntilExit, sleep, LOOSE_LIMITS,
} from './lib/server.mjs';
import { assertDocumented } from './lib/openapi.mjs';

const REG = '/api/v1/auth/register';
const VERIFY = '/api/v1/auth/verify-email';
const RESEND = '/api/v1/auth/verify-email/resend';
const RESET = '/api/v1/auth/password-reset';
const CONFIRM = '/api/v1/auth/password-reset/confirm';
const FROM = 'no-reply@tollgate.test';
const PUBLIC = 'https://app.tollgate.test';

/** A random string of our token's form that was never issued. */
const madeUpToken = () => randomBytes(32).toString('base64url');

/** tollgate_mail_sent_total{transport,outcome} from /metrics. */
async function mailMetric(srv, transport, outcome) {
  const r = await srv.get('/metrics');
  assertStatus(r, 200);
  const m = new RegExp(`^tollgate_mail_sent_total\\{transport="${transport}",outcome="${outcome}"\\} (\\d+)$`, 'm').exec(r.text);
  assert.ok(m, `tollgate_mail_sent_total{transport="${transport}",outcome="${outcome}"} in /metrics`);
  return Number(m[1]);
}

async function waitMetric(srv, transport, outcome, want, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await mailMetric(srv, transport, outcome);
    if (v === want || Date.now() > deadline) return v;
    await sleep(50);
  }
}

async function registerWith(srv, { tag, headers = {}, locale, password = strongPassword() } = {}) {
  const email = uniqueEmail(tag);
  const json = { email, password };
  if (locale !== undefined) json.locale = locale;
  const r = await srv.post(REG, json, { headers });
  assertStatus(r, 201);
  return { email, password, token: r.body.access_token, refresh: r.body.refresh_token, id: r.body.user.id, user: r.body.user, res: r };
}

const credits = async (srv, token) => (await srv.get('/api/v1/credits', { token })).body;
const ledger = async (srv, token) => (await srv.get('/api/v1/credits/ledger', { token })).body.data;

describe('mail over SMTP', () => {
  let srv;
  let sink;
  /** The next mail to `email` whose subject passes `subject` (a string or RegExp), parsed. */
  const mailTo = async (email, subject) => {
    const m = await sink.waitFor((x) => x.to.includes(email) && (!subject || new RegExp(subject).test(parseMail(x.data).subject)), 10000);
    const mail = parseMail(m.data);
    return { envelope: m, mail };
  };

  before(async () => {
    sink = await startSink({ rejectRcpt: (addr) => addr.startsWith('refused.') });
    srv = await startServer({
      env: {
        TG_SMTP_URL: `smtp://127.0.0.1:${sink.port}`,
        TG_SMTP_FROM: FROM,
        TG_PUBLIC_URL: PUBLIC,
        TG_RATE_LIMITS: LOOSE_LIMITS.replace('mail_address=100000/1h', 'mail_address=3/1h'),
      },
    });
  });
  after(async () => {
    srv?.cleanup();
    await sink?.close();
  });

  it('register (en): the verification mail arrives with From, To, Subject, Date, Message-ID, the link and the token', async () => {
    const u = await registerWith(srv, { tag: 'en', headers: { 'accept-language': 'en-GB,en;q=0.9' } });
    assertDocumented(u.res, 'POST', REG);
    assert.equal(u.user.locale, 'en-US');
    assert.equal(u.user.email_verified, false);
    const { envelope, mail } = await mailTo(u.email);
    assert.equal(envelope.from, FROM, 'envelope sender');
    assert.deepEqual(envelope.to, [u.email], 'one envelope recipient: the new address');
    assert.equal(mail.header('from'), FROM);
    assert.equal(mail.header('to'), u.email);
    assert.equal(mail.subject, 'Verify your email address');
    assert.equal(mail.header('mime-version'), '1.0');
    assert.equal(mail.header('content-type'), 'text/plain; charset=UTF-8');
    assert.equal(mail.header('content-transfer-encoding'), 'base64');
    assert.equal(mail.header('auto-submitted'), 'auto-generated');
    assert.match(mail.header('message-id'), /^<[0-9a-f]{32}@tollgate\.test>$/);
    assert.ok(Math.abs(Date.parse(mail.header('date')) - Date.now()) < 120000, `Date is now: ${mail.header('date')}`);
    assert.match(mail.header('date'), /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} \+0000$/);
    assert.deepEqual(lineProblems(envelope.data), [], 'CRLF line endings, no overlong line');
    const token = tokenOf(mail, 'verify-email');
    srv.secrets.add(token);
    assert.match(token, /^[A-Za-z0-9_-]{43}$/);
    assert.ok(mail.body.includes(`${PUBLIC}/verify-email#token=${token}\r\n`), 'the link: TG_PUBLIC_URL, the page, the token in the fragment');
    assert.ok(mail.body.includes('expires in 1 day'), 'the lifetime (TG_EMAIL_VERIFY_TTL)');
    assert.ok(!u.res.text.includes(token), 'the token is in the mail only, never in the answer');
  });

  it('register with Accept-Language zh: the mail is in Chinese; "locale" in the body wins over the header', async () => {
    const zh = await registerWith(srv, { tag: 'zh', headers: { 'accept-language': 'zh-CN,zh;q=0.9,en;q=0.8' } });
    assert.equal(zh.user.locale, 'zh-CN');
    const { mail } = await mailTo(zh.email);
    assert.equal(mail.subject, '请验证您的邮箱地址');
    assert.match(mail.header('subject'), /^=\?UTF-8\?B\?/, 'the subject travels as an RFC 2047 encoded-word');
    assert.ok(mail.body.includes('链接只能使用一次，1 天内有效'), 'the text is Chinese too');
    tokenOf(mail, 'verify-email');

    const en = await registerWith(srv, { tag: 'pick-en', locale: 'en-US', headers: { 'accept-language': 'zh-CN' } });
    assert.equal(en.user.locale, 'en-US');
    assert.equal((await mailTo(en.email)).mail.subject, 'Verify your email address');
    const zh2 = await registerWith(srv, { tag: 'pick-zh', locale: 'zh-CN', headers: { 'accept-language': 'en' } });
    assert.equal((await mailTo(zh2.email)).mail.subject, '请验证您的邮箱地址');

    for (const locale of ['fr-FR', 'zh-cn', '', 7]) {
      const r = await srv.post(REG, { email: uniqueEmail('bad-locale'), password: strongPassword(), locale });
      assertError(r, 400, 'validation_failed', `locale ${JSON.stringify(locale)}`);
      assert.equal(r.body.error.details.field, 'locale');
    }
  });

  it('signup credits wait for verification; verifying grants TG_SIGNUP_CREDITS once, with one signup_grant entry', async () => {
    const u = await registerWith(srv, { tag: 'credits' });
    assert.deepEqual(await credits(srv, u.token), { available: 0, plan_credits: 0, paid_credits: 0, plan_expires_at: null });
    assert.deepEqual(await ledger(srv, u.token), [], 'no ledger entry before verification');
    const token = tokenOf((await mailTo(u.email)).mail, 'verify-email');
    srv.secrets.add(token);

    const v = await srv.post(VERIFY, { token });
    assertStatus(v, 200);
    assertDocumented(v, 'POST', VERIFY);
    assert.equal(v.body.user.id, u.id);
    assert.equal(v.body.user.email_verified, true);
    assert.equal((await credits(srv, u.token)).paid_credits, 8);
    let entries = await ledger(srv, u.token);
    assert.equal(entries.length, 1);
    assert.equal(entries[0].kind, 'signup_grant');
    assert.equal(entries[0].delta, 8);

    const again = await srv.post(VERIFY, { token });
    assertStatus(again, 200, 'the same link again (a second click)');
    assert.equal(again.body.user.email_verified, true);
    assert.equal((await credits(srv, u.token)).paid_credits, 8, 'not granted twice');
    entries = await ledger(srv, u.token);
    assert.equal(entries.length, 1, 'still one signup_grant entry');
    assert.equal((await srv.get('/api/v1/me', { token: u.token })).body.email_verified, true);
  });

  it('a made-up or malformed token is 400 invalid_email_token; a missing one is a validation error', async () => {
    for (const token of [madeUpToken(), 'abc', `${madeUpToken()}A`, madeUpToken().replace(/./, '+'), 'x'.repeat(512)]) {
      const r = await srv.post(VERIFY, { token });
      assertError(r, 400, 'invalid_email_token', `token ${token.slice(0, 20)}...`);
      assertDocumented(r, 'POST', VERIFY);
      assert.equal(r.body.error.details.reason, 'invalid');
    }
    assertError(await srv.post(VERIFY, {}), 400, 'validation_failed');
    assertError(await srv.post(VERIFY, { token: 42 }), 400, 'validation_failed');
    assertError(await srv.post(VERIFY, { token: 'x'.repeat(513) }), 400, 'validation_failed');
    assertError(await srv.post(VERIFY, { token: madeUpToken(), email: 'a@b.test' }), 400, 'validation_failed');
  });

  it('resend: 202 and a new mail, at most 3 mails an hour (registration included), 409 once verified, 401 signed out', async () => {
    const u = await registerWith(srv, { tag: 'resend' });
    await mailTo(u.email);
    const r1 = await srv.post(RESEND, undefined, { token: u.token });
    assertStatus(r1, 202);
    assertDocumented(r1, 'POST', RESEND);
    assert.deepEqual(r1.body, { email: u.email, expires_in: 86400 });
    const r2 = await srv.post(RESEND, undefined, { token: u.token });
    assertStatus(r2, 202);
    const r3 = await srv.post(RESEND, undefined, { token: u.token });
    assertError(r3, 429, 'rate_limited', 'a fourth mail within the hour');
    assertDocumented(r3, 'POST', RESEND);
    assert.equal(r3.headers.get('retry-after'), '3600');

    await sleep(300);
    const mails = sink.messages.filter((m) => m.to.includes(u.email)).map((m) => parseMail(m.data));
    assert.equal(mails.length, 3, 'three mails: registration and two resends');
    const tokens = mails.map((m) => tokenOf(m, 'verify-email'));
    for (const t of tokens) srv.secrets.add(t);
    assert.equal(new Set(tokens).size, 3, 'each with a token of its own');

    assertError(await srv.post(RESEND), 401, 'unauthorized');
    assertStatus(await srv.post(VERIFY, { token: tokens[1] }), 200, 'a resent token verifies');
    const r4 = await srv.post(RESEND, undefined, { token: u.token });
    assertError(r4, 409, 'conflict', 'already verified');
    assertDocumented(r4, 'POST', RESEND);
  });

  it('password reset: unknown and known addresses get byte-identical 202 answers; only the known one gets a mail', async () => {
    const known = await registerWith(srv, { tag: 'reset-known' });
    const unknown = uniqueEmail('reset-nobody');
    const rk = await srv.post(RESET, { email: known.email });
    const ru = await srv.post(RESET, { email: unknown });
    assertStatus(rk, 202);
    assertStatus(ru, 202);
    assertDocumented(rk, 'POST', RESET);
    assert.equal(rk.text, ru.text, 'the same bytes');
    assert.equal(rk.headers.get('content-type'), ru.headers.get('content-type'));
    assert.equal(rk.headers.get('content-length'), ru.headers.get('content-length'));
    const { mail } = await mailTo(known.email, '^Reset your password$');
    assert.equal(mail.header('to'), known.email);
    const token = tokenOf(mail, 'reset-password');
    srv.secrets.add(token);
    assert.ok(mail.body.includes(`${PUBLIC}/reset-password#token=${token}\r\n`));
    assert.ok(mail.body.includes('expires in 1 hour'), 'TG_PASSWORD_RESET_TTL');
    await sleep(500); // the mail thread sends in order: the unknown address's turn has passed
    assert.equal(sink.messages.filter((m) => m.to.includes(unknown)).length, 0, 'no mail for an address without an account');

    // A malformed address cannot belong to an account: a 400 says nothing.
    assertError(await srv.post(RESET, { email: 'not an address' }), 400, 'validation_failed');
    assertError(await srv.post(RESET, {}), 400, 'validation_failed');

    const zh = await registerWith(srv, { tag: 'reset-zh', headers: { 'accept-language': 'zh' } });
    assertStatus(await srv.post(RESET, { email: zh.email }), 202);
    const zmail = (await mailTo(zh.email, '^重置您的密码$')).mail;
    assert.ok(zmail.body.includes('1 小时内有效'));
    srv.secrets.add(tokenOf(zmail, 'reset-password'));
  });

  it('confirm: a weak password is refused; then 204 ends every session, the old password fails, the new one works, the token works once', async () => {
    const u = await registerWith(srv, { tag: 'confirm' });
    const verifyToken = tokenOf((await mailTo(u.email)).mail, 'verify-email');
    srv.secrets.add(verifyToken);
    assertStatus(await srv.post(RESET, { email: u.email }), 202);
    const token = tokenOf((await mailTo(u.email, '^Reset your password$')).mail, 'reset-password');
    srv.secrets.add(token);

    const weak = await srv.post(CONFIRM, { token, password: 'short' });
    assertError(weak, 422, 'weak_password', 'the password policy of registration');
    assertDocumented(weak, 'POST', CONFIRM);
    assert.equal(weak.body.error.details.field, 'password');

    const fresh = strongPassword();
    const ok = await srv.post(CONFIRM, { token, password: fresh });
    assertStatus(ok, 204, 'the weak attempt did not use the token up');
    assertDocumented(ok, 'POST', CONFIRM);

    assertError(await srv.post('/api/v1/auth/refresh', { refresh_token: u.refresh }), 401, 'invalid_refresh_token', 'the old refresh token');
    assertError(await srv.get('/api/v1/me', { token: u.token }), 401, 'invalid_token', 'the old access token, at once');
    assertError(await srv.post('/api/v1/auth/login', { email: u.email, password: u.password }), 401, 'invalid_credentials', 'the old password');
    const login = await srv.post('/api/v1/auth/login', { email: u.email, password: fresh });
    assertStatus(login, 200, 'the new password');
    // The person proved the mailbox: verified, and the signup credits granted.
    assert.equal(login.body.user.email_verified, true);
    assert.equal((await credits(srv, login.body.access_token)).paid_credits, 8);

    const twice = await srv.post(CONFIRM, { token, password: strongPassword() });
    assertError(twice, 400, 'invalid_email_token', 'the token cannot be used twice');
    assert.equal(twice.body.error.details.reason, 'used');
    assert.match(twice.body.error.message, /already used/);
    assertError(await srv.post(CONFIRM, { token: madeUpToken(), password: strongPassword() }), 400, 'invalid_email_token');
    assertError(await srv.post(CONFIRM, { token: verifyToken, password: strongPassword() }), 400, 'invalid_email_token', 'a verification token is no reset token');
    assertError(await srv.post(CONFIRM, { token }), 400, 'validation_failed');
    assertStatus(await srv.post('/api/v1/auth/login', { email: u.email, password: fresh }), 200, 'nothing changed since');
  });

  it('four reset requests for one address within the hour: the fourth is 429, whether or not an account has it', async () => {
    for (const email of [uniqueEmail('limit-nobody'), (await registerWith(srv, { tag: 'limit-known' })).email]) {
      const spelled = [email, email.toUpperCase(), ` ${email} `];
      for (let i = 0; i < 3; i++) assertStatus(await srv.post(RESET, { email: spelled[i] }), 202, `request ${i + 1}`);
      const r = await srv.post(RESET, { email });
      assertError(r, 429, 'rate_limited', 'the fourth (every spelling of the address counts)');
      assertDocumented(r, 'POST', RESET);
      assert.ok(Number(r.headers.get('retry-after')) > 0);
    }
    // Another address is not affected.
    assertStatus(await srv.post(RESET, { email: uniqueEmail('limit-other') }), 202);
  });

  it('concurrent confirms with one token: exactly one 204, the others 400 used; its password is the one set', async () => {
    const u = await registerWith(srv, { tag: 'race' });
    assertStatus(await srv.post(RESET, { email: u.email }), 202);
    const token = tokenOf((await mailTo(u.email, '^Reset your password$')).mail, 'reset-password');
    srv.secrets.add(token);
    const passwords = Array.from({ length: 8 }, () => strongPassword());
    const rs = await Promise.all(passwords.map((password) => srv.post(CONFIRM, { token, password })));
    const winners = rs.map((r, i) => [r, i]).filter(([r]) => r.status === 204);
    assert.equal(winners.length, 1, `statuses: ${rs.map((r) => r.status).join(',')}`);
    for (const r of rs) if (r.status !== 204) {
      assertError(r, 400, 'invalid_email_token');
      assert.equal(r.body.error.details.reason, 'used');
    }
    const win = winners[0][1];
    for (let i = 0; i < passwords.length; i++) {
      const r = await srv.post('/api/v1/auth/login', { email: u.email, password: passwords[i] });
      assertStatus(r, i === win ? 200 : 401, `password ${i}`);
    }
  });

  it('a refused recipient: register still 201, reset still 202; the failure is counted in /metrics and logged without the address', async () => {
    const failed0 = await mailMetric(srv, 'smtp', 'failed');
    const sent0 = await mailMetric(srv, 'smtp', 'sent');
    assert.ok(sent0 > 0, 'the mails so far were counted as sent');
    assert.equal(await mailMetric(srv, 'outbox', 'sent'), 0, 'nothing went to the outbox');
    const u = await registerWith(srv, { tag: 'refused' });
    assert.equal(await waitMetric(srv, 'smtp', 'failed', failed0 + 1), failed0 + 1, 'the refused verification mail is counted');
    assertStatus(await srv.post(RESET, { email: u.email }), 202);
    assert.equal(await waitMetric(srv, 'smtp', 'failed', failed0 + 2), failed0 + 2, 'and the refused reset mail');
    assert.ok(sink.stats.refused >= 2, 'the sink refused them');
    const local = u.email.split('@')[0];
    const lines = srv.logLines().filter((l) => l.event === 'mail_failed');
    assert.ok(lines.length >= 2);
    for (const l of lines) {
      assert.equal(l.transport, 'smtp');
      assert.equal(l.domain, 'example.test');
      assert.equal(l.reason, 'refused');
      assert.equal(l.smtp_code, '550');
    }
    assert.ok(!srv.stderr.includes(local), 'the logs name the recipient domain only');
    // The account works regardless, and can ask again.
    assertStatus(await srv.post(RESEND, undefined, { token: u.token }), 202);
  });

  it('the audit log records verification, reset requests and resets', async () => {
    const admin = await srv.admin();
    const r = await srv.get('/api/v1/admin/audit-log?limit=100', { token: admin.token });
    assertStatus(r, 200);
    const actions = new Set(r.body.data.map((e) => e.action));
    for (const a of ['auth.email_verified', 'auth.password_reset_requested', 'auth.password_reset']) assert.ok(actions.has(a), a);
    const anon = r.body.data.find((e) => e.action === 'auth.password_reset_requested' && e.target_id === null);
    assert.ok(anon, 'a request for an unknown address is recorded without a target');
    assert.ok(!JSON.stringify(r.body).includes('reset-nobody'), 'and without the address');
  });

  invariantTest(() => srv);
});

describe('without SMTP: the outbox folder', () => {
  let srv;
  before(async () => {
    srv = await startServer();
  });
  after(() => srv?.cleanup());

  it('each mail is a file <ms>-<id>.eml, mode 0600, no temporary file left; its token verifies', async () => {
    const u = await registerWith(srv, { tag: 'outbox' });
    let files = [];
    for (let i = 0; i < 100 && files.length === 0; i++) {
      files = readOutbox(srv.dataDir).filter((f) => f.mail && f.mail.header('to') === u.email);
      if (files.length === 0) await sleep(50);
    }
    assert.equal(files.length, 1, 'one file for the registration');
    const f = files[0];
    assert.match(f.file, /^\d{13}-[0-9a-f]{32}\.eml$/);
    assert.equal(f.mode, 0o600);
    assert.deepEqual(lineProblems(f.raw), []);
    assert.equal(f.mail.header('from'), 'no-reply@localhost', 'the default sender');
    assert.equal(f.mail.subject, 'Verify your email address');
    assert.equal(Math.abs(Number(f.file.slice(0, 13)) - Date.now()) < 120000, true, 'named by the time it was made');
    assert.deepEqual(readdirSync(path.join(srv.dataDir, 'outbox')).filter((n) => !n.endsWith('.eml')), [], 'no temporary file');
    const token = tokenOf(f.mail, 'verify-email');
    srv.secrets.add(token);
    assert.ok(f.mail.body.includes(`${srv.url}/verify-email#token=${token}`), 'the link uses TG_PUBLIC_URL (its default here)');
    const v = await srv.post(VERIFY, { token });
    assertStatus(v, 200);
    assert.equal(v.body.user.email_verified, true);
    assert.equal((await credits(srv, u.token)).paid_credits, 8);

    assertStatus(await srv.post(RESET, { email: u.email }), 202);
    for (let i = 0; i < 100 && files.length < 2; i++) {
      files = readOutbox(srv.dataDir).filter((x) => x.mail && x.mail.header('to') === u.email);
      if (files.length < 2) await sleep(50);
    }
    assert.equal(files.length, 2);
    assert.equal(files[1].mail.subject, 'Reset your password');
    srv.secrets.add(tokenOf(files[1].mail, 'reset-password'));
    assert.equal(await waitMetric(srv, 'outbox', 'sent', 2), 2);
    assert.equal(await mailMetric(srv, 'outbox', 'failed'), 0);
    const logged = srv.logLines().filter((l) => l.event === 'mail_sent');
    assert.equal(logged.length, 2);
    for (const l of logged) {
      assert.equal(l.transport, 'outbox');
      assert.equal(l.domain, 'example.test');
      assert.match(l.file, /^\d{13}-[0-9a-f]{32}\.eml$/);
    }
    assert.ok(!srv.stderr.includes(u.email.split('@')[0]), 'the log names the domain only');
  });

  invariantTest(() => srv);
});

describe('TG_SIGNUP_CREDITS_REQUIRE_VERIFIED=off', () => {
  let srv;
  before(async () => {
    srv = await startServer({ env: { TG_SIGNUP_CREDITS_REQUIRE_VERIFIED: 'off', TG_SIGNUP_CREDITS: '5' } });
  });
  after(() => srv?.cleanup());

  it('credits at registration; verifying later grants nothing more', async () => {
    const u = await registerWith(srv, { tag: 'open' });
    assert.equal((await credits(srv, u.token)).paid_credits, 5);
    assert.equal((await ledger(srv, u.token)).filter((e) => e.kind === 'signup_grant').length, 1);
    let files = [];
    for (let i = 0; i < 100 && files.length === 0; i++) {
      files = readOutbox(srv.dataDir).filter((f) => f.mail && f.mail.header('to') === u.email);
      if (files.length === 0) await sleep(50);
    }
    const token = tokenOf(files[0].mail, 'verify-email');
    srv.secrets.add(token);
    assertStatus(await srv.post(VERIFY, { token }), 200);
    assert.equal((await credits(srv, u.token)).paid_credits, 5);
    assert.equal((await ledger(srv, u.token)).length, 1);
  });

  invariantTest(() => srv);
});

describe('mail configuration errors stop start-up', () => {
  let dir;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'tollgate-e2e-mailcfg-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const [what, env, needle] of [
    ['an SMTP URL without a sender', { TG_SMTP_URL: 'smtp://user:hunter2-secret@127.0.0.1:2525' }, /TG_SMTP_FROM/],
    ['an SMTP URL that is not smtp(s)://', { TG_SMTP_URL: 'http://user:hunter2-secret@127.0.0.1', TG_SMTP_FROM: FROM }, /TG_SMTP_URL/],
    ['a sender with a display name', { TG_SMTP_FROM: 'Tollgate <no-reply@tollgate.test>' }, /TG_SMTP_FROM/],
    ['a verification lifetime under a minute', { TG_EMAIL_VERIFY_TTL: '59' }, /TG_EMAIL_VERIFY_TTL/],
    ['a reset lifetime over a day', { TG_PASSWORD_RESET_TTL: '86401' }, /TG_PASSWORD_RESET_TTL/],
    ['a rule that is not on/off', { TG_SIGNUP_CREDITS_REQUIRE_VERIFIED: 'sometimes' }, /TG_SIGNUP_CREDITS_REQUIRE_VERIFIED/],
    ['an unknown policy in TG_RATE_LIMITS next to mail_address', { TG_RATE_LIMITS: 'mail_adress=3/1h' }, /mail_address/],
  ]) {
    it(`${what}: exit 2, the value of a secret not shown`, async () => {
      const r = await runUntilExit(['serve'], { TG_DATA_DIR: path.join(dir, 'data'), TG_LISTEN: '127.0.0.1:1', ...env });
      assert.equal(r.code, 2, `exit ${r.code}; ${r.stderr.slice(0, 300)}`);
      assert.match(r.stderr, needle);
      assert.ok(!r.stderr.includes('hunter2'), 'the password in TG_SMTP_URL is never printed');
    });
  }
});
