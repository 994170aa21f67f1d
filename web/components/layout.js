// layout.js - header (brand, navigation, balance, language and region switch, account menu),
// skip link, main landmark and footer around every page.
import { html } from '../lib.js';
import { signOut } from '../api.js';
import { LANGS, setLang, t, number } from '../i18n.js';
import { navigate } from '../router.js';
import { useShared } from '../state.js';
import { api } from '../api.js';

function LangSwitch({ lang, user }) {
  const change = async (e) => {
    const next = e.target.value;
    await setLang(next, true);
    // A signed-in person's choice follows them to other devices (their mails too).
    if (user) api('/me', { method: 'PATCH', body: { locale: next } }).catch(() => {});
  };
  return html`<label class="switch"><span class="sr-only">${t('nav.language')}</span>
    <select onChange=${change} value=${lang} aria-label=${t('nav.language')}>
      ${LANGS.map((l) => html`<option value=${l}>${t('lang.' + l)}</option>`)}
    </select></label>`;
}

export function Layout({ children, admin }) {
  const { user, balance, lang } = useShared();
  const out = async () => {
    await signOut(false);
    navigate('/', true);
  };
  const nav = user
    ? [
        ['/dashboard', 'nav.dashboard'],
        ['/generate', 'nav.generate'],
        ['/tasks', 'nav.tasks'],
        ['/pricing', 'nav.pricing'],
      ]
    : [['/pricing', 'nav.pricing']];
  const here = window.location.pathname;
  return html`
    <a class="skip" href="#main">${t('nav.skip')}</a>
    <header class="top">
      <a class="brand" href="/" aria-label=${t('nav.home')}><img src=${new URL('../img/icon.svg', import.meta.url)} alt="" width="28" height="28" /><span>Tollgate</span></a>
      <nav aria-label=${t('nav.main')}>
        <ul>
          ${nav.map(([href, key]) => html`<li><a href=${href} aria-current=${here === href ? 'page' : undefined}>${t(key)}</a></li>`)}
          ${user && user.role === 'admin' ? html`<li><a href="/admin" aria-current=${admin ? 'page' : undefined}>${t('nav.admin')}</a></li>` : null}
        </ul>
      </nav>
      <div class="top-end">
        ${user && balance ? html`<a class="balance" href="/ledger" title=${t('nav.balance')}>${t('nav.credits', { n: number(balance.available) })}</a>` : null}
        <${LangSwitch} lang=${lang} user=${user} />
        ${user
          ? html`<a href="/settings">${t('nav.settings')}</a><button type="button" class="link" onClick=${out}>${t('nav.sign_out')}</button>`
          : html`<a href="/sign-in">${t('nav.sign_in')}</a><a class="btn primary small" href="/sign-up">${t('nav.sign_up')}</a>`}
      </div>
    </header>
    ${admin ? html`<${AdminNav} />` : null}
    <main id="main" tabindex="-1">${children}</main>
    <footer class="foot"><p>${t('footer.text')}</p></footer>`;
}

function AdminNav() {
  const here = window.location.pathname;
  const items = [
    ['/admin', 'admin.nav.stats'],
    ['/admin/users', 'admin.nav.users'],
    ['/admin/orders', 'admin.nav.orders'],
    ['/admin/subscriptions', 'admin.nav.subscriptions'],
    ['/admin/provider-keys', 'admin.nav.provider_keys'],
    ['/admin/audit-log', 'admin.nav.audit_log'],
  ];
  return html`<nav class="subnav" aria-label=${t('admin.nav.label')}><ul>
    ${items.map(([href, key]) => {
      // A user's own page (/admin/users/usr_...) belongs to Users.
      const current = here === href || (href !== '/admin' && here.startsWith(href + '/'));
      return html`<li><a href=${href} aria-current=${current ? 'page' : undefined}>${t(key)}</a></li>`;
    })}
  </ul></nav>`;
}

