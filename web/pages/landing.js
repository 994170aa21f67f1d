// landing.js - placeholder until the landing page is built.
import { html } from '../lib.js';
import { t } from '../i18n.js';

export default function Landing() {
  return html`<section><h1>${t('title.landing')}</h1></section>`;
}
