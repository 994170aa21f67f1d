// main.js - boots the app: the catalog of routes, the language, the session (from the refresh
// cookie), then the layout around the page module the route names (pages/<page>.js, loaded on
// first visit).
import { html, render, useEffect, useState } from './lib.js';
import { maybeSignedIn, refresh, sessionUser } from './api.js';
import { initialLang, setLang, t } from './i18n.js';
import { location, match, navigate, onNavigate } from './router.js';
import { loadBalance, loadRegion, useShared } from './state.js';
import { Layout } from './components/layout.js';
import { ErrorBox, Loading } from './components/ui.js';

const pages = new Map(); // page name -> module promise

function loadPage(name) {
  if (!pages.has(name)) pages.set(name, import(`./pages/${name}.js`));
  return pages.get(name);
}

function Page({ routes }) {
  const shared = useShared();
  const [loc, setLoc] = useState(location());
  const [mod, setMod] = useState(null);
  const [failed, setFailed] = useState(null);
  useEffect(() => onNavigate(setLoc), []);

  const m = match(routes, loc.path);
  const name = m ? m.route.page : 'not-found';
  const need = m && m.route.auth;
  const allowed = !need || (shared.user && (need !== 'admin' || shared.user.role === 'admin'));

  useEffect(() => {
    if (need && !shared.user) {
      navigate('/sign-in?next=' + encodeURIComponent(loc.path + window.location.search), true);
      return;
    }
    setFailed(null);
    let live = true;
    loadPage(allowed ? name : 'forbidden').then(
      (x) => live && setMod({ name: allowed ? name : 'forbidden', Page: x.default }),
      (e) => live && setFailed(e),
    );
    return () => {
      live = false;
    };
  }, [name, allowed, !!shared.user]);

  useEffect(() => {
    document.title = m ? t('title.' + name.replace('/', '_')) + ' · Tollgate' : 'Tollgate';
  }, [name, shared.lang]);

  let body;
  if (failed) body = html`<${ErrorBox} error=${failed} />`;
  // Until the module of *this* route has loaded, the previous page is not shown with the new
  // route's params (it would fetch /tasks/undefined and the like).
  else if (!mod || mod.name !== (allowed ? name : 'forbidden') || (need && !shared.user)) body = html`<${Loading} />`;
  else body = html`<${mod.Page} params=${m ? m.params : {}} query=${loc.query} key=${loc.path} />`;
  return html`<${Layout} admin=${name.startsWith('admin/')}>${body}</${Layout}>`;
}

async function boot() {
  const routes = await (await fetch(new URL('./routes.json', import.meta.url))).json();
  // A session from the refresh cookie, if there is one (a 401 just means signed out).
  if (maybeSignedIn()) await refresh().catch(() => {});
  const region = await loadRegion().catch(() => null);
  await setLang(initialLang((sessionUser() && sessionUser().locale) || (region && region.profile.locale)));
  if (sessionUser()) loadBalance().catch(() => {});
  const root = document.getElementById('app');
  root.replaceChildren();
  render(html`<${Page} routes=${routes} />`, root);
}

boot().catch((e) => {
  const p = document.createElement('p');
  p.className = 'boot';
  p.textContent = 'Tollgate could not start: ' + (e && e.message);
  document.getElementById('app').replaceChildren(p);
});
