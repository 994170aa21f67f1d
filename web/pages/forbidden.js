// forbidden.js - an admin page opened by someone who is not an admin.
import { html } from '../lib.js';
import { t } from '../i18n.js';

export default function Forbidden() {
  return html`<section class="narrow">
    <h1>${t('forbidden.title')}</h1>
    <p>${t('forbidden.text')}</p>
  </section>`;
}
