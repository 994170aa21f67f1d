// auth.js - what the sign-in, sign-up and callback pages share: the region's browser sign-ins,
// what happens after a session starts, and mapping an API error onto a form field.
import { html } from '../lib.js';
import { sessionUser } from '../api.js';
import { has, initialLang, setLang, t } from '../i18n.js';
import { navigate } from '../router.js';
import { loadBalance, loadRegion } from '../state.js';
import { safeNext } from './account.js';

/**
 * The path a browser sign-in comes back to: the callback page, carrying where to go next (the
 * server checks it is a plain local path: no "#", printable ASCII).
 */
export function callbackPath(next) {
  const n = safeNext(next, '');
  return '/auth/callback' + (n ? '?next=' + encodeURIComponent(n) : '');
}

/** Where a sign-in with a provider starts (GET .../start?return_to=...). */
export function oauthStartUrl(method, next) {
  const base = method.start_url || '/api/v1/auth/oauth/' + encodeURIComponent(method.id) + '/start';
  return base + '?return_to=' + encodeURIComponent(callbackPath(next));
}

/** The browser sign-ins of the region (Google, WeChat, the sandbox), as links that start them. */
export function OAuthButtons({ methods, next, verb }) {
  const oauth = (methods || []).filter((m) => m.kind === 'oauth');
  if (!oauth.length) return null;
  return html`<div class="oauth">
    ${oauth.map(
      (m) => html`<a class=${'btn oauth-btn oauth-' + m.id} href=${oauthStartUrl(m, next)}>
        ${t('auth.' + (verb || 'continue_with'), { provider: t('auth.provider.' + m.id) })}</a>`,
    )}
    <p class="or"><span>${t('auth.or')}</span></p>
  </div>`;
}

/** After a session started: the user's region and language, the balance, then on to next. */
export async function afterSignIn(next) {
  const user = sessionUser();
  await loadRegion().catch(() => null);
  if (user) await setLang(initialLang(user.locale)).catch(() => {});
  loadBalance().catch(() => {});
  navigate(safeNext(next), true);
}

/**
 * Splits an API error between form fields and the form: {field: message} for a
 * validation_failed naming a field (or an error that belongs to one), and the rest.
 */
export function fieldError(error, fieldOf = {}) {
  if (!error) return { field: null, text: null };
  const field = fieldOf[error.code] || (error.details && error.details.field) || null;
  const text = has('errors.' + error.code) && error.code !== 'validation_failed'
    ? t('errors.' + error.code, error.details)
    : field && has('auth.invalid.' + field)
      ? t('auth.invalid.' + field)
      : error.message;
  return { field, text };
}
