// not-found.js - a path that is no page of the app.
import { html } from '../lib.js';
import { t } from '../i18n.js';

export default function NotFound() {
  return html`<section class="narrow">
    <h1>${t('not_found.title')}</h1>
    <p>${t('not_found.text')}</p>
    <p><a class="btn" href="/">${t('not_found.home')}</a></p>
  </section>`;
}
