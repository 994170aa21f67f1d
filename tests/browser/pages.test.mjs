// Every page of web/routes.json, in both languages, with data behind it (lib/seed.mjs) and
// signed in as an administrator where the route needs it:
//   - the page renders: its title (title.<page>) in the chosen language, html lang, one h1;
//   - no CSP violation (securitypolicyviolation events and the console's reports), no uncaught
//     error, no 5xx;
//   - axe-core finds no serious or critical violation;
//   - full-page screenshots at 1280x800 and 375x812 are saved (artifacts), and at 375 px the
//     page does not scroll sideways.
// Signed-out pages are loaded; signed-in ones are reached inside the app (History API), as a
// click on a link would, so the session held in memory is used.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import AxeBuilder from '@axe-core/playwright';
import { startApp, launchBrowser, newContext, watch, shot, go, serverTest, policyProblem, DESKTOP, PHONE, WEB } from './lib/app.mjs';
import { LANGS, T } from './lib/i18n.mjs';
import { signIn } from './lib/flows.mjs';
import { seed, SEED_ENV } from './lib/seed.mjs';

const routes = JSON.parse(readFileSync(path.join(WEB, 'routes.json'), 'utf8'));
// Signed-out pages first, then the user's, then the admin's (routes.json's order within each).
const ordered = [...routes.filter((r) => !r.auth), ...routes.filter((r) => r.auth === 'user'), ...routes.filter((r) => r.auth === 'admin')];

let app;
let data;
let browser;

before(async () => {
  app = await startApp({ env: SEED_ENV });
  data = await seed(app);
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await app?.stop();
});

/** The concrete path of a route (its :params from the seeded data). */
function pathOf(route) {
  return route.path
    .replace(':id', route.page === 'task' ? data.ids.task : route.page === 'order' ? data.ids.order : data.ids.user);
}

/** Waits until the page has its h1 and no loading state left in main. */
async function settled(page) {
  await page.waitForFunction(() => {
    const main = document.querySelector('main');
    return !!main && !!main.querySelector('h1') && !main.querySelector('.state.loading');
  }, null, { timeout: 15000 });
  await page.evaluate(() => document.fonts.ready);
  await page.waitForTimeout(150);
}

const SERIOUS = new Set(['serious', 'critical']);

function describeViolations(vs) {
  return vs.map((v) => `${v.impact} ${v.id}: ${v.help} (${v.helpUrl})\n` +
    v.nodes.slice(0, 5).map((n) => `    ${n.target.join(' ')}\n      ${n.failureSummary.replace(/\n/g, '\n      ')}`).join('\n')).join('\n');
}

for (const lang of LANGS) {
  describe(`every page in ${lang}`, () => {
    const t = T(lang);
    let ctx;
    let page;
    let watcher;
    const results = new Map(); // path -> {error, title, lang, h1s, problems, violations, shots, scroll}

    before(async () => {
      ctx = await newContext(browser, app, { viewport: DESKTOP });
      page = await ctx.newPage();
      watcher = await watch(page);
    });
    after(async () => {
      await ctx?.close();
    });

    async function visit(route) {
      const p = pathOf(route);
      const r = { shots: [] };
      results.set(route.path, r);
      const mark = watcher.mark();
      try {
        if (route.auth && !results.signedIn) {
          await signIn(page, app, lang, data.admin);
          results.signedIn = true;
        }
        if (route.auth) await go(page, app, p);
        else await page.goto(app.base + p);
        if (!results.langChosen) {
          // The language switch in the header (remembered for the next loads).
          await page.getByLabel(T('en-US')('nav.language'), { exact: true }).selectOption(lang);
          await page.waitForFunction((l) => document.documentElement.lang === l, lang);
          results.langChosen = true;
        }
        await page.waitForURL((u) => u.pathname === p.split('?')[0], { timeout: 15000 });
        await settled(page);
        r.title = await page.title();
        r.lang = await page.getAttribute('html', 'lang');
        r.h1s = await page.locator('h1').count();
        const name = `${lang}-${route.page.replace('/', '-')}`;
        r.shots.push(await shot(page, `${name}-1280`));
        await page.setViewportSize(PHONE);
        await page.waitForTimeout(150);
        r.scroll = await page.evaluate(() => {
          const client = document.documentElement.clientWidth;
          // The innermost elements that stick out on the right (what makes the page scroll).
          const sticks = (el) => el.getBoundingClientRect().right > client + 0.5;
          const out = [...document.body.querySelectorAll('*')].filter((el) => sticks(el) && ![...el.children].some(sticks));
          const name = (el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + [...el.classList].map((c) => '.' + c).join('');
          const path = (el) => { const p = []; for (let e = el; e && e !== document.body; e = e.parentElement) p.unshift(name(e)); return p.join(' > '); };
          return { scroll: document.documentElement.scrollWidth, client, wide: out.slice(0, 5).map((el) => `${path(el)} (right ${Math.round(el.getBoundingClientRect().right)} px)`) };
        });
        r.shots.push(await shot(page, `${name}-375`));
        await page.setViewportSize(DESKTOP);
        await page.waitForTimeout(100);
        r.problems = watcher.since(mark);
        r.policy = watcher.currentPolicy();
        // Legacy mode: axe.run in the page itself (no iframes here), not runPartial plus a second
        // page for finishRun - the same rules and results at half the time.
        const axe = await new AxeBuilder({ page }).setLegacyMode(true).options({ resultTypes: ['violations'] }).analyze();
        r.violations = axe.violations.filter((v) => SERIOUS.has(v.impact));
      } catch (e) {
        r.error = e;
        r.problems = r.problems || watcher.since(mark);
        try {
          r.shots.push(await shot(page, `FAILED-${lang}-${route.page.replace('/', '-')}`));
        } catch {
          /* the page is gone */
        }
      }
      return r;
    }

    const got = (route) => {
      const r = results.get(route.path);
      assert.ok(r, 'the page was visited');
      if (r.error) {
        r.error.message += `\n  screenshots: ${r.shots.join(', ')}\n  problems: ${JSON.stringify(r.problems)}`;
        throw r.error;
      }
      return r;
    };

    for (const route of ordered) {
      const label = `${route.path} [${lang}]`;
      it(`${label}: renders its title in ${lang}, one h1`, async () => {
        const r = await visit(route);
        if (r.error) got(route);
        assert.equal(r.lang, lang, 'html lang');
        assert.equal(r.title, `${t('title.' + route.page.replace('/', '_'))} · Tollgate`, `document title (screenshot ${r.shots[0]})`);
        assert.equal(r.h1s, 1, `one h1 on the page (screenshot ${r.shots[0]})`);
      });
      it(`${label}: the page's strict CSP holds: no violation, uncaught error or 5xx`, () => {
        const r = got(route);
        assert.equal(policyProblem(r.policy), null);
        assert.deepEqual(r.problems, { csp: [], errors: [], server: [] }, `screenshot ${r.shots[0]}`);
      });
      it(`${label}: axe-core finds no serious or critical violation`, () => {
        const r = got(route);
        assert.ok(r.violations.length === 0, `${r.violations.length} serious/critical axe violations on ${label} (screenshot ${r.shots[0]}):\n${describeViolations(r.violations)}`);
      });
      it(`${label}: screenshots at 1280x800 and 375x812, no sideways scroll at 375 px`, () => {
        const r = got(route);
        assert.equal(r.shots.length, 2);
        assert.ok(r.scroll.scroll <= r.scroll.client,
          `the page is ${r.scroll.scroll} px wide at ${r.scroll.client} px (screenshot ${r.shots[1]}); sticking out:\n  ${r.scroll.wide.join('\n  ')}`);
      });
    }
  });
}

serverTest(() => app);
