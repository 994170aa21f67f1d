// router.js - History API routing over routes.json (the same list Tollgate serves index.html
// for, so a reload on any app page works and nothing else falls back to the app).

const listeners = new Set();

/** Matches a path against "/tasks/:id" patterns; returns {route, params} or null. */
export function match(routes, path) {
  const segs = path.replace(/\/+$/, '').split('/').filter(Boolean);
  for (const route of routes) {
    const ps = route.path.split('/').filter(Boolean);
    if (ps.length !== segs.length) continue;
    const params = {};
    let ok = true;
    for (let i = 0; i < ps.length && ok; i++) {
      if (ps[i].startsWith(':')) params[ps[i].slice(1)] = decodeURIComponent(segs[i]);
      else ok = ps[i] === segs[i];
    }
    if (ok) return { route, params };
  }
  return null;
}

export function location() {
  return {
    path: window.location.pathname,
    query: Object.fromEntries(new URLSearchParams(window.location.search)),
    hash: window.location.hash,
  };
}

/** Goes to an app path ("/tasks/tsk_1?x=1"); replace=true does not add a history entry. */
export function navigate(to, replace = false) {
  if (replace) history.replaceState(null, '', to);
  else history.pushState(null, '', to);
  window.scrollTo(0, 0);
  for (const fn of listeners) fn(location());
}

export function onNavigate(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

window.addEventListener('popstate', () => {
  for (const fn of listeners) fn(location());
});

// Same-origin <a href="/..."> clicks stay in the app (links to /api/, /files/, /sandbox/ and
// downloads load normally).
document.addEventListener('click', (e) => {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const a = e.target.closest && e.target.closest('a[href]');
  if (!a || a.target || a.hasAttribute('download') || a.origin !== window.location.origin) return;
  if (/^\/(api|files|sandbox|assets)\//.test(a.pathname)) return;
  e.preventDefault();
  navigate(a.pathname + a.search + a.hash);
});
