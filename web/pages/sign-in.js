// sign-in.js - email + password, or a browser sign-in the region offers (Google, WeChat, the
// sandbox); then on to ?next= (a local path) or the dashboard.
import { html, useState } from '../lib.js';
import { api, startSession } from '../api.js';
import { t } from '../i18n.js';
import { useShared } from '../state.js';
import { Async, ErrorBox, Field, useLoad } from '../components/ui.js';
import { OAuthButtons, afterSignIn, fieldError } from '../components/auth.js';

export default function SignIn({ query }) {
  const { user } = useShared();
  const methods = useLoad(() => api('/auth/providers', { auth: false }), []);
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const next = query.next;

  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await startSession('/auth/login', { email: email.trim(), password });
      await afterSignIn(next);
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };
  const fe = fieldError(error, {});
  const signUp = '/sign-up' + (next ? '?next=' + encodeURIComponent(next) : '');

  return html`<section class="narrow auth-page">
    <h1>${t('auth.sign_in.title')}</h1>
    ${user ? html`<p class="notice ok">${t('auth.already', { name: user.display_name || user.email || '' })}
      <a href="/dashboard">${t('auth.to_dashboard')}</a></p>` : null}
    <${Async} load=${methods}>${(m) => html`<${OAuthButtons} methods=${m.sign_in} next=${next} />`}</${Async}>
    <form class="card" onSubmit=${submit}>
      <${Field} id="signin-email" label=${t('auth.email')} type="email" autocomplete="email" required
        value=${email} onInput=${(e) => setEmail(e.target.value)} maxlength="254"
        error=${fe.field === 'email' ? fe.text : null} />
      <${Field} id="signin-password" label=${t('auth.password')} type="password" autocomplete="current-password" required
        value=${password} onInput=${(e) => setPassword(e.target.value)} maxlength="1024"
        error=${fe.field === 'password' ? fe.text : null} />
      ${error && !fe.field ? html`<${ErrorBox} error=${error} />` : null}
      <button type="submit" class="btn primary block" disabled=${busy}>${busy ? t('auth.sign_in.busy') : t('auth.sign_in.submit')}</button>
      <p class="small"><a href="/reset-password">${t('auth.forgot')}</a></p>
    </form>
    <p>${t('auth.sign_in.no_account')} <a href=${signUp}>${t('auth.sign_in.to_sign_up')}</a></p>
  </section>`;
}
