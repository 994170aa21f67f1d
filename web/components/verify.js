// verify.js - "send the verification mail again" (POST /auth/verify-email/resend) and the
// banner shown while the signed-in account's address is not verified.
import { html, useState } from '../lib.js';
import { api } from '../api.js';
import { t } from '../i18n.js';
import { errorText } from './ui.js';

export function ResendVerification({ email, small }) {
  const [st, setSt] = useState({ busy: false, sent: null, error: null });
  const send = async () => {
    setSt({ busy: true, sent: null, error: null });
    try {
      const r = await api('/auth/verify-email/resend', { method: 'POST' });
      setSt({ busy: false, sent: r.email, error: null });
    } catch (error) {
      setSt({ busy: false, sent: null, error });
    }
  };
  return html`<div class="resend">
    <button type="button" class=${'btn' + (small ? ' small' : '')} onClick=${send} disabled=${st.busy}>${t('auth.verify.resend')}</button>
    <span role="status" aria-live="polite" class="small">
      ${st.sent ? t('auth.verify.sent', { email: st.sent }) : null}
      ${st.error ? html`<span class="field-error">${errorText(st.error)}</span>` : null}
    </span>
  </div>`;
}

/** Shown on account pages while the address is unverified (no signup credits until then). */
export function VerifyBanner({ user }) {
  if (!user || !user.email || user.email_verified) return null;
  return html`<div class="notice verify-banner">
    <p>${t('auth.verify.banner', { email: user.email })}</p>
    <${ResendVerification} email=${user.email} small=${true} />
  </div>`;
}
