// verify-email.js - the link in the "verify your email" mail (`#token=`): POST
// /auth/verify-email, then the result; without a token, what to do (and a new mail when signed in).
import { html, useEffect, useState } from '../lib.js';
import { api, sessionUser, updateUser } from '../api.js';
import { t } from '../i18n.js';
import { loadBalance, useShared } from '../state.js';
import { ErrorBox, Loading } from '../components/ui.js';
import { ResendVerification } from '../components/verify.js';

const tried = new Set();

export default function VerifyEmail() {
  const { user } = useShared();
  const [state, setState] = useState({ phase: 'start', error: null });
  useEffect(() => {
    const onHash = () => check(false);
    check(true);
    // A link from the mail opened on this very page changes only the fragment.
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);

  function check(first) {
    const token = new URLSearchParams(window.location.hash.replace(/^#/, '')).get('token');
    if (token) history.replaceState(null, '', window.location.pathname + window.location.search);
    if (!token) {
      if (first) setState({ phase: 'no_token' });
      return;
    }
    if (tried.has(token)) return;
    tried.add(token);
    setState({ phase: 'working' });
    api('/auth/verify-email', { method: 'POST', body: { token } }).then(
      (answer) => {
        // The signed-in account is the one verified: its banner goes, its signup credits come.
        const u = sessionUser();
        if (u && answer.user && answer.user.id === u.id) {
          updateUser({ ...u, ...answer.user });
          loadBalance().catch(() => {});
        }
        setState({ phase: 'done' });
      },
      (error) => setState({ phase: 'failed', error }),
    );
  }

  return html`<section class="narrow">
    <h1>${t('auth.verify.title')}</h1>
    ${state.phase === 'working' || state.phase === 'start' ? html`<${Loading} label=${t('auth.verify.working')} />` : null}
    ${state.phase === 'done'
      ? html`<div class="notice ok" role="status"><p>${t('auth.verify.done')}</p></div>
          <p>${user ? html`<a class="btn primary" href="/dashboard">${t('auth.to_dashboard')}</a>`
            : html`<a class="btn primary" href="/sign-in">${t('auth.sign_in.title')}</a>`}</p>` : null}
    ${state.phase === 'failed' ? html`<${ErrorBox} error=${state.error} />` : null}
    ${state.phase === 'no_token' && user && user.email_verified
      ? html`<p class="notice ok">${t('auth.verify.already')}</p>` : null}
    ${state.phase === 'no_token' && !(user && user.email_verified) ? html`<p>${t('auth.verify.check_inbox')}</p>` : null}
    ${(state.phase === 'failed' || state.phase === 'no_token') && user && user.email && !user.email_verified
      ? html`<${ResendVerification} email=${user.email} />` : null}
    ${(state.phase === 'failed' || state.phase === 'no_token') && !user
      ? html`<p class="muted">${t('auth.verify.sign_in_to_resend')} <a href="/sign-in?next=%2Fverify-email">${t('auth.sign_in.title')}</a></p>` : null}
  </section>`;
}
