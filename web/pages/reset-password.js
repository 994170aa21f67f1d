// reset-password.js - without a token: ask for the mail (POST /auth/password-reset, the same
// answer whether or not the address has an account); with `#token=` from the mail: a new
// password (POST /auth/password-reset/confirm, which ends every session).
import { html, useEffect, useState } from '../lib.js';
import { api, sessionUser, signOut } from '../api.js';
import { t } from '../i18n.js';
import { ErrorBox, Field } from '../components/ui.js';
import { fieldError } from '../components/auth.js';

const MIN_PASSWORD = 8;

function RequestForm() {
  const [email, setEmail] = useState('');
  const [st, setSt] = useState({ busy: false, sent: false, error: null });
  const submit = async (e) => {
    e.preventDefault();
    setSt({ busy: true, sent: false, error: null });
    try {
      await api('/auth/password-reset', { method: 'POST', body: { email: email.trim() }, auth: false });
      setSt({ busy: false, sent: true, error: null });
    } catch (error) {
      setSt({ busy: false, sent: false, error });
    }
  };
  if (st.sent)
    return html`<div class="notice ok" role="status"><p>${t('auth.reset.sent', { email: email.trim() })}</p></div>
      <p><a href="/sign-in">${t('auth.reset.back')}</a></p>`;
  return html`<p class="muted">${t('auth.reset.lead')}</p>
    <form class="card" onSubmit=${submit}>
      <${Field} id="reset-email" label=${t('auth.email')} type="email" autocomplete="email" required maxlength="254"
        value=${email} onInput=${(e) => setEmail(e.target.value)} />
      <${ErrorBox} error=${st.error} />
      <button type="submit" class="btn primary block" disabled=${st.busy}>${t('auth.reset.send')}</button>
    </form>
    <p><a href="/sign-in">${t('auth.reset.back')}</a></p>`;
}

function NewPasswordForm({ token }) {
  const [pw, setPw] = useState('');
  const [pw2, setPw2] = useState('');
  const [st, setSt] = useState({ busy: false, done: false, error: null });
  const submit = async (e) => {
    e.preventDefault();
    if (pw.length < MIN_PASSWORD) return setSt({ busy: false, done: false, error: { code: 'weak_password', details: {} } });
    if (pw !== pw2) return setSt({ busy: false, done: false, error: { code: 'mismatch', details: { field: 'password2' } } });
    setSt({ busy: true, done: false, error: null });
    try {
      await api('/auth/password-reset/confirm', { method: 'POST', body: { token, password: pw }, auth: false });
      // Every session of the account has ended, this one too.
      if (sessionUser()) await signOut(false).catch(() => {});
      setSt({ busy: false, done: true, error: null });
    } catch (error) {
      setSt({ busy: false, done: false, error });
    }
  };
  if (st.done)
    return html`<div class="notice ok" role="status"><p>${t('auth.reset.done')}</p></div>
      <p><a class="btn primary" href="/sign-in">${t('auth.sign_in.title')}</a></p>`;
  const fe = fieldError(st.error, { weak_password: 'password', mismatch: 'password2' });
  const mismatch = st.error && st.error.code === 'mismatch';
  return html`<form class="card" onSubmit=${submit}>
      <${Field} id="reset-password" label=${t('auth.new_password')} type="password" autocomplete="new-password" required
        minlength=${MIN_PASSWORD} maxlength="1024" value=${pw} onInput=${(e) => setPw(e.target.value)}
        hint=${t('auth.password_hint', { n: MIN_PASSWORD })} error=${fe.field === 'password' ? fe.text : null} />
      <${Field} id="reset-password2" label=${t('auth.repeat_password')} type="password" autocomplete="new-password" required
        maxlength="1024" value=${pw2} onInput=${(e) => setPw2(e.target.value)}
        error=${mismatch ? t('auth.mismatch') : null} />
      ${st.error && !fe.field ? html`<${ErrorBox} error=${st.error} />` : null}
      ${st.error && st.error.code === 'invalid_email_token' ? html`<p><a href="/reset-password">${t('auth.reset.again')}</a></p>` : null}
      <button type="submit" class="btn primary block" disabled=${st.busy}>${t('auth.reset.submit')}</button>
    </form>`;
}

export default function ResetPassword() {
  const [token, setToken] = useState(undefined);
  useEffect(() => {
    // A link from the mail opened on this very page changes only the fragment.
    const read = () => {
      const tok = new URLSearchParams(window.location.hash.replace(/^#/, '')).get('token');
      if (tok) history.replaceState(null, '', window.location.pathname + window.location.search);
      setToken((old) => tok || (old === undefined ? null : old));
    };
    read();
    window.addEventListener('hashchange', read);
    return () => window.removeEventListener('hashchange', read);
  }, []);
  return html`<section class="narrow">
    <h1>${t('auth.reset.title')}</h1>
    ${token === undefined ? null : token ? html`<${NewPasswordForm} token=${token} />` : html`<${RequestForm} />`}
  </section>`;
}
