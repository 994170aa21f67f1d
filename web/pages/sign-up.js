// sign-up.js - a new account with email + password (the verification mail goes out at once),
// or a browser sign-in the region offers; then on to ?next= or the dashboard.
import { html, useState } from '../lib.js';
import { api, startSession } from '../api.js';
import { currentLang, t } from '../i18n.js';
import { Async, ErrorBox, Field, useLoad } from '../components/ui.js';
import { OAuthButtons, afterSignIn, fieldError } from '../components/auth.js';

const MIN_PASSWORD = 8;

export default function SignUp({ query }) {
  const methods = useLoad(() => api('/auth/providers', { auth: false }), []);
  const [form, setForm] = useState({ display_name: '', email: '', password: '' });
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const next = query.next;
  const set = (k) => (e) => setForm({ ...form, [k]: e.target.value });

  const submit = async (e) => {
    e.preventDefault();
    setError(null);
    if (form.password.length < MIN_PASSWORD) {
      setError({ code: 'weak_password', details: { field: 'password' } });
      return;
    }
    setBusy(true);
    try {
      const body = { email: form.email.trim(), password: form.password, locale: currentLang() };
      if (form.display_name.trim()) body.display_name = form.display_name.trim();
      await startSession('/auth/register', body);
      await afterSignIn(next);
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };
  const fe = fieldError(error, { weak_password: 'password', email_taken: 'email' });
  const signIn = '/sign-in' + (next ? '?next=' + encodeURIComponent(next) : '');

  return html`<section class="narrow auth-page">
    <h1>${t('auth.sign_up.title')}</h1>
    <p class="muted">${t('auth.sign_up.lead')}</p>
    <${Async} load=${methods}>${(m) => html`<${OAuthButtons} methods=${m.sign_in} next=${next} />`}</${Async}>
    <form class="card" onSubmit=${submit}>
      <${Field} id="signup-name" label=${t('auth.display_name')} autocomplete="nickname" maxlength="100"
        value=${form.display_name} onInput=${set('display_name')} hint=${t('auth.display_name_hint')}
        error=${fe.field === 'display_name' ? fe.text : null} />
      <${Field} id="signup-email" label=${t('auth.email')} type="email" autocomplete="email" required maxlength="254"
        value=${form.email} onInput=${set('email')} error=${fe.field === 'email' ? fe.text : null} />
      <${Field} id="signup-password" label=${t('auth.password')} type="password" autocomplete="new-password" required
        minlength=${MIN_PASSWORD} maxlength="1024" value=${form.password} onInput=${set('password')}
        hint=${t('auth.password_hint', { n: MIN_PASSWORD })} error=${fe.field === 'password' ? fe.text : null} />
      ${error && !fe.field ? html`<${ErrorBox} error=${error} />` : null}
      ${error && error.code === 'email_taken' ? html`<p class="small"><a href=${signIn}>${t('auth.sign_up.to_sign_in')}</a> · <a href="/reset-password">${t('auth.forgot')}</a></p>` : null}
      <button type="submit" class="btn primary block" disabled=${busy}>${busy ? t('auth.sign_up.busy') : t('auth.sign_up.submit')}</button>
      <p class="small muted">${t('auth.sign_up.terms')}</p>
    </form>
    <p>${t('auth.sign_up.have_account')} <a href=${signIn}>${t('auth.sign_up.to_sign_in')}</a></p>
  </section>`;
}
