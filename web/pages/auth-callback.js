// auth-callback.js - where a browser sign-in comes back: `#login_code=` is traded for a session
// (POST /auth/exchange), `#linked=PROVIDER` confirms a link made from the settings, and
// `#login_error=` says the person (or the provider) refused. The fragment is cleared at once.
import { html, useEffect, useState } from '../lib.js';
import { startSession } from '../api.js';
import { has, t } from '../i18n.js';
import { navigate } from '../router.js';
import { ErrorBox, Loading } from '../components/ui.js';
import { afterSignIn } from '../components/auth.js';
import { safeNext } from '../components/account.js';

// A login code works once: one exchange per code, even if the page renders again.
const exchanged = new Set();

function readHash() {
  const h = new URLSearchParams(window.location.hash.replace(/^#/, ''));
  return { code: h.get('login_code'), error: h.get('login_error'), linked: h.get('linked') };
}

export default function AuthCallback({ query }) {
  const [state, setState] = useState({ phase: 'working', error: null, refusal: null });
  useEffect(() => {
    const { code, error, linked } = readHash();
    // The code must not stay in the address bar or the history.
    history.replaceState(null, '', window.location.pathname + window.location.search);
    if (linked) {
      navigate(safeNext(query.next, '/settings') + '#linked=' + encodeURIComponent(linked), true);
      return;
    }
    if (error) {
      setState({ phase: 'refused', refusal: error });
      return;
    }
    if (!code) {
      setState({ phase: 'nothing' });
      return;
    }
    if (exchanged.has(code)) return;
    exchanged.add(code);
    startSession('/auth/exchange', { code })
      .then(() => afterSignIn(query.next))
      .catch((e) => setState({ phase: 'failed', error: e }));
  }, []);

  const again = '/sign-in' + (query.next ? '?next=' + encodeURIComponent(query.next) : '');
  return html`<section class="narrow">
    <h1>${t('auth.callback.title')}</h1>
    ${state.phase === 'working' ? html`<${Loading} label=${t('auth.callback.working')} />` : null}
    ${state.phase === 'refused'
      ? html`<p class="notice bad" role="alert">${has('auth.callback.refused_' + state.refusal)
          ? t('auth.callback.refused_' + state.refusal) : t('auth.callback.refused')}</p>` : null}
    ${state.phase === 'failed' ? html`<${ErrorBox} error=${state.error} />` : null}
    ${state.phase === 'nothing' ? html`<p class="notice">${t('auth.callback.nothing')}</p>` : null}
    ${state.phase !== 'working' ? html`<p><a class="btn primary" href=${again}>${t('auth.callback.again')}</a></p>` : null}
  </section>`;
}
