// Steps several browser tests share, done as a person does them: through the pages, finding
// controls by the names the catalogs give them.
import assert from 'node:assert/strict';
import { readOutbox, tokenOf } from '../../e2e/lib/mail.mjs';
import { sleep } from '../../e2e/lib/server.mjs';
import { T } from './i18n.mjs';

/** The field labelled `label` (exact accessible name). */
export function field(page, label) {
  return page.getByLabel(label, { exact: true });
}

/** The button named `name` (exact). */
export function button(scope, name) {
  return scope.getByRole('button', { name, exact: true });
}

/** The link named `name` (exact). */
export function link(scope, name) {
  return scope.getByRole('link', { name, exact: true });
}

/** Waits until the page's path (and query, when `to` has one) is `to` or matches the RegExp. */
export async function waitForPath(page, to, timeout = 15000) {
  await page.waitForURL((u) => {
    const here = u.pathname + (typeof to === 'string' && to.includes('?') ? u.search : '');
    return typeof to === 'string' ? here === to : to.test(u.pathname + u.search);
  }, { timeout });
}

/** The signed-in header: the sign-out button is there. */
export async function assertSignedIn(page, lang) {
  const t = T(lang);
  await button(page.locator('header'), t('nav.sign_out')).waitFor({ timeout: 15000 });
}

/**
 * Signs in on /sign-in with email and password (loading the page when the app is not open yet,
 * or going there inside the app) and waits until the app has left the sign-in page.
 */
export async function signIn(page, app, lang, { email, password }) {
  const t = T(lang);
  if (page.url().startsWith(app.base + '/')) {
    await page.evaluate(() => {
      history.pushState(null, '', '/sign-in');
      window.dispatchEvent(new PopStateEvent('popstate'));
    });
  } else {
    await page.goto(app.base + '/sign-in');
  }
  await field(page, t('auth.email')).fill(email);
  await field(page, t('auth.password')).fill(password);
  await button(page.locator('main'), t('auth.sign_in.submit')).click();
  await page.waitForURL((u) => u.pathname !== '/sign-in', { timeout: 15000 });
  await assertSignedIn(page, lang);
}

/** The newest mail to `to` in the server's outbox (waits up to ms for it). */
export async function mailTo(srv, to, ms = 10000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const found = readOutbox(srv.dataDir).filter((m) => m.mail && m.mail.header('to').includes(to));
    if (found.length) return found.at(-1).mail;
    if (Date.now() > deadline) assert.fail(`no mail to ${to} in ${srv.dataDir}/outbox within ${ms} ms`);
    await sleep(100);
  }
}

/** The #token= of the verification mail sent to `to`. */
export async function verificationToken(srv, to) {
  return tokenOf(await mailTo(srv, to), 'verify-email');
}

/** Polls fn until it returns a truthy value (returned), failing with `what` after ms. */
export async function eventually(fn, what, ms = 15000, every = 100) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) assert.fail(`${what} (not within ${ms} ms)${last ? `: ${last.message}` : ''}`);
    await sleep(every);
  }
}

/** Number formatting as the UI does it (web/i18n.js number()). */
export function num(lang, n) {
  return new Intl.NumberFormat(lang).format(n);
}

/** Money from minor units as the UI does it (web/i18n.js money()). */
export function money(lang, minor, currency) {
  const d = { JPY: 0 }[currency] ?? 2;
  return new Intl.NumberFormat(lang, { style: 'currency', currency, currencyDisplay: 'narrowSymbol' }).format(minor / 10 ** d);
}
