// A minimal browser for sign-in flows: follows redirects by hand, keeps cookies per path,
// and records every hop, so tests can assert each step (Location, Set-Cookie, fragments).
import assert from 'node:assert/strict';

export class CookieJar {
  constructor() {
    this.cookies = new Map(); // name -> {value, path}
  }

  /** Stores the Set-Cookie headers of a response (Max-Age=0 deletes). */
  take(res) {
    const list = typeof res.headers.getSetCookie === 'function' ? res.headers.getSetCookie() : [];
    for (const line of list) {
      const [pair, ...attrs] = line.split(';').map((s) => s.trim());
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      const a = Object.fromEntries(attrs.map((x) => {
        const i = x.indexOf('=');
        return i < 0 ? [x.toLowerCase(), true] : [x.slice(0, i).toLowerCase(), x.slice(i + 1)];
      }));
      if (a['max-age'] === '0') this.cookies.delete(name);
      else this.cookies.set(name, { value, path: a.path ?? '/', attrs: a, raw: line });
    }
  }

  /** The Cookie header for a request path. */
  header(pathname) {
    const out = [];
    for (const [name, c] of this.cookies) if (pathname.startsWith(c.path)) out.push(`${name}=${c.value}`);
    return out.join('; ');
  }
}

/**
 * Follows a sign-in flow from `startUrl` (relative to srv.url, or absolute) through
 * redirects on our own origin (and `extraOrigins`, e.g. a fake provider), at most `max`
 * hops. Returns {hops, final} where final is the last response (its Location may point to
 * our page with a fragment).
 */
export async function follow(srv, startUrl, { jar = new CookieJar(), max = 10, headers = {}, stopAt } = {}) {
  let url = new URL(startUrl, srv.url);
  const hops = [];
  for (let i = 0; i < max; i++) {
    const cookie = url.origin === new URL(srv.url).origin ? jar.header(url.pathname) : '';
    const res = await fetch(url, { redirect: 'manual', headers: { ...headers, ...(cookie ? { cookie } : {}) } });
    const text = await res.text();
    if (url.origin === new URL(srv.url).origin) jar.take(res);
    let body = null;
    try { body = JSON.parse(text); } catch { body = null; }
    const hop = { url, status: res.status, headers: res.headers, text, body, location: res.headers.get('location') };
    hops.push(hop);
    if (res.status < 300 || res.status >= 400 || !hop.location) return { hops, final: hop, jar };
    const next = new URL(hop.location, url);
    if (stopAt && stopAt(next)) return { hops, final: hop, jar, next };
    // A fragment-bearing Location on our own page is where the flow ends.
    if (next.hash && next.origin === new URL(srv.url).origin && !next.pathname.startsWith('/api/') && !next.pathname.startsWith('/sandbox/')) {
      return { hops, final: hop, jar, next };
    }
    url = next;
  }
  assert.fail(`more than ${max} redirects from ${startUrl}`);
}

/** The parameters of a fragment ("#a=1&b=2"). */
export function fragment(u) {
  return Object.fromEntries(new URLSearchParams(new URL(u).hash.slice(1)));
}
